//! `balnode bal`: block access lists of block files and datadirs.

use std::path::PathBuf;

use balnode_chainspec::chain_by_name_or_path;
use balnode_import::{BlockBalStats, Importer, generate_bals, inspect_file, inspect_stored};
use clap::Subcommand;
use eyre::WrapErr;
use tracing::info;

/// `balnode bal` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BalCommand {
    /// Import block files into a datadir, building every block's access list (whatever its fork), and write
    /// the imported blocks to OUT with their lists as 5th record elements: real blocks in BAL form.
    Generate {
        /// The datadir, initialised with `balnode init` (use a fresh one: blocks it already has are not
        /// re-executed, so they get no list).
        #[arg(long, value_name = "DIR")]
        datadir: PathBuf,
        /// The chain the datadir holds: `mainnet`, `dev`, or a genesis.json.
        #[arg(long, value_name = "CHAIN")]
        chain: String,
        /// Block files to import, in order.
        #[arg(required = true, value_name = "IN")]
        inputs: Vec<PathBuf>,
        /// The block file to write (gzip when it ends in .gz).
        #[arg(long, value_name = "OUT")]
        out: PathBuf,
    },
    /// Per block: accounts, storage writes and reads, balance/nonce/code changes, RLP and snappy sizes and
    /// the largest accounts, of the lists in a block file or of one block of a datadir; then the totals.
    Inspect {
        /// A block file whose records carry access lists.
        #[arg(
            value_name = "FILE",
            required_unless_present = "datadir",
            conflicts_with = "datadir"
        )]
        file: Option<PathBuf>,
        /// A datadir, with `--block`.
        #[arg(long, value_name = "DIR", requires = "block")]
        datadir: Option<PathBuf>,
        /// The block to inspect in the datadir.
        #[arg(long, value_name = "N")]
        block: Option<u64>,
        /// How many of the largest accounts to list per block.
        #[arg(long, default_value_t = 3)]
        top: usize,
        /// Print JSON (one object with `blocks` and `summary`).
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(command: BalCommand) -> eyre::Result<()> {
    match command {
        BalCommand::Generate { datadir, chain, inputs, out } => {
            let spec = chain_by_name_or_path(&chain).wrap_err("cannot load the chain")?;
            let store = crate::open_existing(&datadir)?;
            store.check_genesis(spec.chain_id(), spec.genesis_hash())?;
            let importer = Importer::new(spec, store).generating_bals();
            let summary = generate_bals(&importer, &inputs, &out, |_, _| {})?;
            info!(
                target: "balnode::bal",
                imported = summary.import.imported,
                from = summary.from,
                to = summary.to,
                out = %out.display(),
                "Wrote blocks with their access lists"
            );
            println!("blocks {}..={} written to {}", summary.from, summary.to, out.display());
        }
        BalCommand::Inspect { file, datadir, block, top, json } => {
            let blocks = match (file, datadir, block) {
                (Some(file), _, _) => inspect_file(&file, top)?,
                (None, Some(datadir), Some(number)) => {
                    vec![inspect_stored(&crate::open_existing(&datadir)?, number, top)?]
                }
                _ => eyre::bail!("give a FILE, or --datadir DIR with --block N"),
            };
            print_inspection(&blocks, json)?;
        }
    }
    Ok(())
}

/// Totals over the inspected blocks.
#[derive(Debug, Default, serde::Serialize)]
struct Summary {
    blocks: usize,
    mean_rlp_kib: f64,
    max_rlp_kib: f64,
    mean_snappy_kib: f64,
    max_snappy_kib: f64,
    total: balnode_bal::BalStats,
}

fn summarise(blocks: &[BlockBalStats]) -> Summary {
    let mut summary = Summary { blocks: blocks.len(), ..Summary::default() };
    let kib = |bytes: usize| bytes as f64 / 1024.0;
    for block in blocks {
        summary.total.add(&block.stats);
        summary.max_rlp_kib = summary.max_rlp_kib.max(kib(block.stats.rlp_size));
        summary.max_snappy_kib = summary.max_snappy_kib.max(kib(block.stats.snappy_size));
    }
    if !blocks.is_empty() {
        summary.mean_rlp_kib = kib(summary.total.rlp_size) / blocks.len() as f64;
        summary.mean_snappy_kib = kib(summary.total.snappy_size) / blocks.len() as f64;
    }
    summary
}

fn print_inspection(blocks: &[BlockBalStats], json: bool) -> eyre::Result<()> {
    let summary = summarise(blocks);
    if json {
        let out = serde_json::json!({ "blocks": blocks, "summary": summary });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{:>8} {:>4} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}  largest accounts (RLP bytes)",
        "block",
        "txs",
        "accounts",
        "s.writes",
        "s.reads",
        "balance",
        "nonce",
        "code",
        "rlp",
        "snappy"
    );
    for block in blocks {
        let s = &block.stats;
        let largest: Vec<String> =
            s.largest.iter().map(|a| format!("{} {}", a.address, a.rlp_size)).collect();
        println!(
            "{:>8} {:>4} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}  {}",
            block.number,
            block.transactions,
            s.accounts,
            s.storage_writes,
            s.storage_reads,
            s.balance_changes,
            s.nonce_changes,
            s.code_changes,
            s.rlp_size,
            s.snappy_size,
            largest.join(", ")
        );
    }
    println!(
        "{} blocks: RLP mean {:.2} KiB, max {:.2} KiB; snappy mean {:.2} KiB, max {:.2} KiB",
        summary.blocks,
        summary.mean_rlp_kib,
        summary.max_rlp_kib,
        summary.mean_snappy_kib,
        summary.max_snappy_kib
    );
    Ok(())
}
