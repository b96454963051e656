//! `balnode replay`: real blocks with their pre-state, checked against their headers, with `--bench` for the
//! performance report and `--emit-bal` for their access lists.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use balnode_chainspec::{ChainSpec, mainnet};
use balnode_import::runner::KnownFailures;
use balnode_replay::{
    bench::{BenchConfig, run_bench},
    bundle::{find_bundles, load_bundle},
    replay::replay_bundle,
    write_block_access_list,
};
use clap::Args;
use eyre::WrapErr;
use rayon::prelude::*;
use tracing::info;

/// `balnode replay` arguments.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// Bundles: a bundle directory (`block.json` + `pre_state.json`), or a directory of them (such as the
    /// corpus's `blocks/`, or the folder holding it).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
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
    /// Write each block's access list (RLP) as DIR/<number>/block_access_list.rlp; with DIR the corpus's
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
}

/// Runs `balnode replay`.
pub(crate) fn run(args: ReplayArgs) -> eyre::Result<()> {
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
    let known = match &args.known_failures {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .wrap_err_with(|| format!("cannot read {}", path.display()))?;
            KnownFailures::parse(&text)
                .map_err(|error| eyre::eyre!("{}: {error}", path.display()))?
        }
        None => KnownFailures::default(),
    };
    check(&spec, &dirs, &known, args.emit_bal.as_deref(), args.tmp.as_deref())
}

/// Replays every bundle, prints one line per block and `N passed, N failed`; fails when any failed.
fn check(
    spec: &Arc<ChainSpec>,
    dirs: &[PathBuf],
    known: &KnownFailures,
    emit_bal: Option<&Path>,
    tmp: Option<&Path>,
) -> eyre::Result<()> {
    let results: Vec<_> = dirs
        .par_iter()
        .map(|dir| {
            let bundle = load_bundle(dir)?;
            let report = replay_bundle(spec, &bundle, emit_bal.is_some(), tmp)?;
            Ok::<_, balnode_replay::ReplayError>(report)
        })
        .collect();
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
