//! Configuration beyond the command line: every long flag also reads a `BALNODE_*` environment variable and a
//! key of a TOML file (`--config FILE`, or `BALNODE_CONFIG`), with the precedence command line > environment >
//! file > built-in default.
//!
//! The file's keys are the flags' long names (`datadir`, `exec-threads`, `http.port`, `dev.block-time`);
//! dotted names may also be written as tables (`[http]` then `port = 8545`). A key applies to whichever command
//! has that flag; a key no command has is an error naming it. The variable of a flag is its long name upper-cased
//! with `.` and `-` turned into `_`, after `BALNODE_` (`--http.port` → `BALNODE_HTTP_PORT`). See
//! `configs/balnode.toml`.

use std::{
    collections::{BTreeMap, BTreeSet},
    ffi::OsString,
    path::{Path, PathBuf},
};

use clap::{Arg, ArgAction, Command};
use eyre::WrapErr;

/// The environment variable naming the configuration file.
const CONFIG_ENV: &str = "BALNODE_CONFIG";

/// The environment variable of the flag `--long`.
pub(crate) fn env_name(long: &str) -> String {
    format!("BALNODE_{}", long.to_uppercase().replace(['.', '-'], "_"))
}

/// `command` with an environment variable on every long flag (except `--config`, `--help`, `--version`), and
/// the values of `file` as the flags' defaults, recursively through the subcommands.
fn configure(command: Command, file: &BTreeMap<String, Vec<String>>) -> Command {
    let command = command.mut_args(|arg| {
        let Some(long) = arg.get_long().map(str::to_owned) else { return arg };
        if matches!(long.as_str(), "config" | "help" | "version") {
            return arg;
        }
        let mut arg = arg.env(env_name(&long));
        if let Some(values) = file.get(&long) {
            // The file gives the value: a required flag is no longer missing.
            arg = arg.required(false);
            arg = match arg.get_action() {
                ArgAction::Append => arg.default_values(values.clone()),
                _ => arg.default_value(values.join(",")),
            };
        }
        arg
    });
    command.mut_subcommands(|subcommand| configure(subcommand, file))
}

/// Every long flag of `command` and its subcommands.
fn long_flags(command: &Command, into: &mut BTreeSet<String>) {
    into.extend(command.get_arguments().filter_map(Arg::get_long).map(str::to_owned));
    for subcommand in command.get_subcommands() {
        long_flags(subcommand, into);
    }
}

/// The configuration file named on the command line (`--config FILE` / `--config=FILE`) or by
/// `BALNODE_CONFIG`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy();
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os(CONFIG_ENV).map(PathBuf::from)
}

/// The keys of a configuration file, flattened (`[http] port = 1` is `http.port`), each with its values as
/// the command line would give them.
pub(crate) fn read_config(path: &Path) -> eyre::Result<BTreeMap<String, Vec<String>>> {
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("cannot read the configuration file {}", path.display()))?;
    let table: toml::Table =
        text.parse().wrap_err_with(|| format!("{} is not valid TOML", path.display()))?;
    let mut flat = BTreeMap::new();
    flatten("", &table, &mut flat)
        .wrap_err_with(|| format!("in the configuration file {}", path.display()))?;
    Ok(flat)
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    into: &mut BTreeMap<String, Vec<String>>,
) -> eyre::Result<()> {
    for (key, value) in table {
        let key = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let scalar = |value: &toml::Value| -> eyre::Result<String> {
            Ok(match value {
                toml::Value::String(text) => text.clone(),
                toml::Value::Integer(number) => number.to_string(),
                toml::Value::Float(number) => number.to_string(),
                toml::Value::Boolean(flag) => flag.to_string(),
                other => eyre::bail!("`{key}`: {} is not a value a flag takes", other.type_str()),
            })
        };
        match value {
            toml::Value::Table(inner) => flatten(&key, inner, into)?,
            toml::Value::Array(items) => {
                let values = items.iter().map(scalar).collect::<eyre::Result<Vec<_>>>()?;
                into.insert(key, values);
            }
            value => {
                let value = scalar(value)?;
                into.insert(key, vec![value]);
            }
        }
    }
    Ok(())
}

/// Parses the command line of `command` with the environment and the configuration file applied.
///
/// # Errors
/// An unreadable or invalid configuration file, or one with a key no command has; the command line's own
/// errors exit the process as clap does.
pub(crate) fn matches(command: Command, args: Vec<OsString>) -> eyre::Result<clap::ArgMatches> {
    let file = match config_path(&args) {
        Some(path) => {
            let file = read_config(&path)?;
            let mut known = BTreeSet::new();
            long_flags(&command, &mut known);
            if let Some(unknown) = file.keys().find(|key| !known.contains(*key) || *key == "config")
            {
                eyre::bail!(
                    "the configuration file {} has the key `{unknown}`, which is no flag of balnode",
                    path.display()
                );
            }
            file
        }
        None => BTreeMap::new(),
    };
    Ok(configure(command, &file).get_matches_from(args))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        Node {
            #[arg(long = "http.port", default_value_t = 8545)]
            http_port: u16,
            #[arg(long = "http.api", value_delimiter = ',', default_value = "eth,net")]
            http_api: Vec<String>,
            #[arg(long)]
            dev: bool,
            #[arg(long = "exec-threads")]
            exec_threads: Option<usize>,
        },
    }

    fn parse(args: &[&str], file: &str) -> (u16, Vec<String>, bool, Option<usize>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("balnode.toml");
        std::fs::write(&path, file).unwrap();
        let mut argv: Vec<OsString> = vec!["balnode".into(), "--config".into(), path.into()];
        argv.extend(args.iter().map(OsString::from));
        let matches = matches(Cli::command(), argv).unwrap();
        let Sub::Node { http_port, http_api, dev, exec_threads } =
            Cli::from_arg_matches(&matches).unwrap().command;
        (http_port, http_api, dev, exec_threads)
    }

    #[test]
    fn the_file_overrides_defaults_and_the_command_line_overrides_the_file() {
        let file =
            "dev = true\nexec-threads = 3\n[http]\nport = 9000\napi = [\"eth\", \"debug\"]\n";
        assert_eq!(
            parse(&["node"], file),
            (9000, vec!["eth".into(), "debug".into()], true, Some(3))
        );
        assert_eq!(
            parse(&["node", "--http.port", "9100", "--http.api", "web3"], file),
            (9100, vec!["web3".into()], true, Some(3))
        );
        assert_eq!(parse(&["node"], ""), (8545, vec!["eth".into(), "net".into()], false, None));
        assert_eq!(parse(&["node"], "\"http.port\" = 1234\n").0, 1234);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("balnode.toml");
        std::fs::write(&path, "[http]\nprot = 1\n").unwrap();
        let argv = vec!["balnode".into(), "--config".into(), path.into(), "node".into()];
        let error = matches(Cli::command(), argv).unwrap_err();
        assert!(format!("{error:#}").contains("`http.prot`"), "{error:#}");
    }

    #[test]
    fn variables_are_named_after_the_flags() {
        assert_eq!(env_name("http.port"), "BALNODE_HTTP_PORT");
        assert_eq!(env_name("dev.block-time"), "BALNODE_DEV_BLOCK_TIME");
        assert_eq!(env_name("exec-threads"), "BALNODE_EXEC_THREADS");
    }
}

#[cfg(test)]
mod shipped {
    use std::collections::BTreeSet;

    use clap::CommandFactory;

    use super::*;

    fn configs(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs").join(name)
    }

    #[test]
    fn the_documented_file_names_every_flag() {
        let text = std::fs::read_to_string(configs("balnode.toml")).unwrap();
        // Uncomment every `# key = value` line: the result must parse, with only known keys.
        let uncommented: String = text
            .lines()
            .map(|line| {
                let bare = line.trim_start_matches("# ");
                if bare.split_once(" = ").is_some_and(|(key, _)| !key.contains(' ')) {
                    format!("{bare}\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all.toml");
        std::fs::write(&path, uncommented).unwrap();
        let keys: BTreeSet<String> = read_config(&path).unwrap().into_keys().collect();
        let mut flags = BTreeSet::new();
        long_flags(&crate::Cli::command(), &mut flags);
        for flag in ["config", "help", "version"] {
            flags.remove(flag);
        }
        let missing: Vec<_> = flags.difference(&keys).collect();
        assert!(missing.is_empty(), "configs/balnode.toml lacks {missing:?}");
        let unknown: Vec<_> = keys.difference(&flags).collect();
        assert!(unknown.is_empty(), "configs/balnode.toml has keys that are no flag: {unknown:?}");
    }

    #[test]
    fn the_example_files_configure_their_commands() {
        for (file, command) in [("dev.toml", "node"), ("import.toml", "import")] {
            let path = configs(file);
            let mut args: Vec<OsString> =
                vec!["balnode".into(), "--config".into(), path.into(), command.into()];
            if command == "import" {
                args.push("blocks.rlp".into());
            }
            let matches = matches(crate::Cli::command(), args).unwrap();
            let sub = matches.subcommand_matches(command).unwrap();
            assert_eq!(
                sub.get_one::<PathBuf>("datadir").unwrap(),
                &PathBuf::from(if command == "node" { "datadir/dev" } else { "datadir/import" })
            );
        }
    }
}
