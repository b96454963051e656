//! `balnode replay`: real blocks with their pre-state, checked against their headers, with `--bench` for the
//! performance report and `--emit-bal` for their access lists.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use balnode_chainspec::{ChainSpec, chain_by_name_or_path, mainnet};
use balnode_import::runner::KnownFailures;
use balnode_import::{Imported, Importer, import_files};
use balnode_replay::{
    bench::{BenchConfig, run_bench},
    bundle::{find_bundles, load_bundle},
    compact::write_compact,
    replay::{differential_check, replay_bundle},
    write_block_access_list,
};
use balnode_storage_mdbx::DatabaseEnv;
use clap::{Args, Subcommand};
use eyre::WrapErr;
use rayon::prelude::*;
use tracing::info;

/// `balnode replay` arguments.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct ReplayArgs {
    #[command(subcommand)]
    command: Option<ReplayCommand>,
    /// Bundles: a bundle directory (`block.json` + `pre_state.json`) or compact bundle (`.balbundle`), or a
    /// directory of them (such as the corpus's `blocks/`, or the folder holding it). With `--datadir`: block
    /// files (RLP, plain or .gz, with or without access lists).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Replay block files on top of this initialised datadir instead of bundles: every block goes through the
    /// import pipeline (all checks, state root included) on a temporary copy of the datadir, which is left as
    /// it was.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["bench", "emit_bal", "known_failures"])]
    datadir: Option<PathBuf>,
    /// With `--datadir`: the chain it holds (`mainnet`, `dev`, or a genesis.json).
    #[arg(long, value_name = "CHAIN", default_value = "mainnet", requires = "datadir")]
    chain: String,
    /// Measure instead of only checking: every execution mode, warm and cold, against raw revm, with each
    /// block's critical path; prints a Markdown table.
    #[arg(long)]
    bench: bool,
    /// With `--bench`: print the report as one JSON object instead of Markdown.
    #[arg(long, requires = "bench")]
    json: bool,
    /// With `--bench`: also write the JSON report to FILE.
    #[arg(long, value_name = "FILE", requires = "bench")]
    json_out: Option<PathBuf>,
    /// With `--bench`: measured runs per block and configuration (the median is reported).
    #[arg(long, default_value_t = 5, requires = "bench")]
    runs: usize,
    /// With `--bench`: skip the cold-cache runs.
    #[arg(long, requires = "bench")]
    warm_only: bool,
    /// Write each block's access list (RLP) as `DIR/<number>/block_access_list.rlp`; with DIR the corpus's
    /// `blocks/` folder, beside the bundles, where replay picks them up and checks them.
    #[arg(long, value_name = "DIR", conflicts_with = "bench")]
    emit_bal: Option<PathBuf>,
    /// A list of blocks known to fail, each with its reason (`block NUMBER` lines under `#` comments): they
    /// are reported but do not fail the command while they fail, and fail it once they pass.
    #[arg(long, value_name = "FILE")]
    known_failures: Option<PathBuf>,
    /// Where the temporary stores go (default: the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    tmp: Option<PathBuf>,
    /// Also run every block (from Byzantium on) BAL-parallel, with the list sequential execution built, and
    /// optimistically, at each of these thread counts (comma-separated), and compare receipts, gas, requests,
    /// state changes and list with the sequential run; a difference fails the block.
    #[arg(long, value_name = "THREADS", value_delimiter = ',', conflicts_with = "bench")]
    exec_differential: Vec<usize>,
}

/// `balnode replay` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ReplayCommand {
    /// Convert bundles to the compact format: one `<number>.balbundle` per block (snappy RLP: the block, its
    /// senders, the pre-state, block hashes and access list; docs/REPLAY.md), checked as they are read.
    Convert {
        /// The directory to write them to.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Bundles, or directories of them.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

/// Runs `balnode replay`.
pub(crate) fn run(args: ReplayArgs) -> eyre::Result<()> {
    if let Some(ReplayCommand::Convert { out, paths }) = &args.command {
        return convert(paths, out);
    }
    if let Some(datadir) = &args.datadir {
        return replay_files(&args.chain, datadir, &args.paths, args.tmp.as_deref());
    }
    let spec = mainnet();
    let mut dirs = Vec::new();
    for path in &args.paths {
        let found =
            find_bundles(path).wrap_err_with(|| format!("cannot read {}", path.display()))?;
        eyre::ensure!(
            !found.is_empty(),
            "{}: no bundle (a folder with block.json) found",
            path.display()
        );
        dirs.extend(found);
    }
    if args.bench {
        let config =
            BenchConfig { runs: args.runs.max(1), cold: !args.warm_only, tmp: args.tmp.clone() };
        let report = run_bench(&spec, &dirs, &config)?;
        if let Some(path) = &args.json_out {
            std::fs::write(path, serde_json::to_string_pretty(&report)?)
                .wrap_err_with(|| format!("cannot write {}", path.display()))?;
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", report.to_markdown());
        }
        if let Some(dir) = &args.emit_bal {
            eyre::bail!(
                "--emit-bal with --bench is not supported: run it without --bench ({})",
                dir.display()
            );
        }
        return Ok(());
    }
    let known = crate::read_known_failures(args.known_failures.as_deref())?;
    check(
        &spec,
        &dirs,
        &known,
        args.emit_bal.as_deref(),
        args.tmp.as_deref(),
        &args.exec_differential,
    )
}

/// Replays every bundle, prints one line per block and `N passed, N failed`; fails when any failed.
fn check(
    spec: &Arc<ChainSpec>,
    dirs: &[PathBuf],
    known: &KnownFailures,
    emit_bal: Option<&Path>,
    tmp: Option<&Path>,
    differential_threads: &[usize],
) -> eyre::Result<()> {
    let results: Vec<_> = dirs
        .par_iter()
        .map(|dir| {
            let bundle = load_bundle(dir)?;
            let report = replay_bundle(spec, &bundle, emit_bal.is_some(), tmp)?;
            Ok::<_, balnode_replay::ReplayError>(report)
        })
        .collect();
    // One bundle at a time: each run has its own pool of the thread count checked.
    let mut results = results;
    for (dir, result) in dirs.iter().zip(&mut results) {
        if let (Ok(report), false) = (result, differential_threads.is_empty()) {
            let bundle = load_bundle(dir)?;
            for threads in differential_threads {
                report.failures.extend(differential_check(spec, &bundle, tmp, *threads)?);
            }
        }
    }
    let (mut passed, mut failed, mut partial, mut listed, mut unexpected) = (0usize, 0, 0, 0, 0);
    for (dir, result) in dirs.iter().zip(results) {
        match result {
            Ok(report) => {
                // The state root is never checked (the pre-state is partial): it is said once, below.
                let extra: Vec<&String> = report.unchecked.iter().skip(1).collect();
                let reason = known.reason(dir, &format!("block {}", report.number));
                if report.passed() {
                    passed += 1;
                    if let Some(reason) = reason {
                        unexpected += 1;
                        println!(
                            "FAIL block {}: passes, but is listed as a known failure ({reason}): remove it from the list",
                            report.number
                        );
                    }
                    if extra.is_empty() {
                        println!(
                            "ok   block {} ({} txs, {} gas)",
                            report.number, report.transactions, report.gas_used
                        );
                    } else {
                        partial += 1;
                        let reasons: Vec<&str> =
                            extra.iter().map(|reason| reason.as_str()).collect();
                        println!(
                            "ok   block {} ({} txs, {} gas); not checked: {}",
                            report.number,
                            report.transactions,
                            report.gas_used,
                            reasons.join("; ")
                        );
                    }
                } else {
                    failed += 1;
                    match reason {
                        Some(reason) => {
                            listed += 1;
                            println!(
                                "FAIL block {} (known: {reason}): {}",
                                report.number,
                                report.failures.join("; ")
                            );
                        }
                        None => {
                            println!("FAIL block {}: {}", report.number, report.failures.join("; "))
                        }
                    }
                }
                if let (Some(dir), Some(rlp)) = (emit_bal, &report.block_access_list) {
                    let path =
                        write_block_access_list(dir, report.number, rlp).wrap_err_with(|| {
                            format!("cannot write the access list of block {}", report.number)
                        })?;
                    info!(target: "balnode::replay", number = report.number, bytes = rlp.len(), path = %path.display(), "Wrote the block access list");
                }
            }
            Err(error) => {
                failed += 1;
                println!("FAIL {}: {error}", dir.display());
            }
        }
    }
    println!(
        "state root: not checked on any block: {}",
        balnode_replay::replay::STATE_ROOT_UNCHECKED
    );
    println!(
        "{passed} passed ({partial} with a field not checkable, listed above), {failed} failed ({listed} of them \
         listed as known failures, each with its reason)"
    );
    let unlisted = failed - listed + unexpected;
    eyre::ensure!(
        unlisted == 0,
        "{unlisted} block(s) failed to replay, not counting the listed ones"
    );
    Ok(())
}

/// Replays block files on a temporary copy of `datadir`, each block through the import pipeline; prints a line
/// per block and `N passed, N failed`. The first failing block stops the replay: the next ones build on it.
fn replay_files(
    chain: &str,
    datadir: &Path,
    files: &[PathBuf],
    tmp: Option<&Path>,
) -> eyre::Result<()> {
    let spec = chain_by_name_or_path(chain).wrap_err("cannot load the chain")?;
    let db = datadir.join("db");
    eyre::ensure!(
        db.join("mdbx.dat").is_file(),
        "{} is not a datadir: create it with `balnode init --chain CHAIN --datadir {}`",
        datadir.display(),
        datadir.display()
    );
    let copy = match tmp {
        Some(parent) => tempfile::Builder::new().prefix("balnode-replay-").tempdir_in(parent),
        None => tempfile::Builder::new().prefix("balnode-replay-").tempdir(),
    }
    .wrap_err("cannot create a temporary directory")?;
    std::fs::create_dir(copy.path().join("db"))?;
    std::fs::copy(db.join("mdbx.dat"), copy.path().join("db").join("mdbx.dat"))
        .wrap_err_with(|| format!("cannot copy {}", db.display()))?;
    let store = DatabaseEnv::open(copy.path())
        .wrap_err_with(|| format!("cannot open the copy of {}", datadir.display()))?;
    store.check_genesis(spec.chain_id(), spec.genesis_hash())?;
    let importer = Importer::new(spec, store);
    let (mut passed, mut known) = (0u64, 0u64);
    let result = import_files(&importer, files, |record, imported| match imported {
        Imported::Committed { gas_used, transactions } => {
            passed += 1;
            println!("ok   block {} ({transactions} txs, {gas_used} gas)", record.number());
        }
        Imported::Known => known += 1,
    });
    if known > 0 {
        println!("{known} block(s) already in the datadir, not replayed");
    }
    match result {
        Ok(_) => {
            println!("{passed} passed, 0 failed");
            Ok(())
        }
        Err(error) => {
            println!("FAIL {error}");
            println!(
                "{passed} passed, 1 failed (the replay stops there: later blocks build on it)"
            );
            eyre::bail!("a block failed to replay")
        }
    }
}

/// The bundles under `paths`.
fn bundle_paths(paths: &[PathBuf]) -> eyre::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for path in paths {
        let found =
            find_bundles(path).wrap_err_with(|| format!("cannot read {}", path.display()))?;
        eyre::ensure!(
            !found.is_empty(),
            "{}: no bundle (a folder with block.json, or a .balbundle file) found",
            path.display()
        );
        dirs.extend(found);
    }
    Ok(dirs)
}

/// `balnode replay convert`: every bundle under `paths` to `<out>/<number>.balbundle`.
fn convert(paths: &[PathBuf], out: &Path) -> eyre::Result<()> {
    let dirs = bundle_paths(paths)?;
    let (mut read, mut written) = (0u64, 0u64);
    for dir in &dirs {
        let bundle = load_bundle(dir)?;
        let path = write_compact(&bundle, out)?;
        read += std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .filter_map(|entry| entry.ok()?.metadata().ok())
                .map(|metadata| metadata.len())
                .sum()
        });
        written += std::fs::metadata(&path)?.len();
        println!("{}", path.display());
    }
    println!("{} bundles converted: {read} bytes of JSON to {written} bytes", dirs.len());
    Ok(())
}
