//! `balnode`: an Ethereum execution-layer node built to measure what block-level access lists (EIP-7928) buy.
//!
//! This binary stays thin: it parses the command line, sets up tracing and calls into the crates. Commands:
//! - `init`: write a chain's genesis into a datadir (idempotent for the same genesis).
//! - `node`: run a node; for now it prepares a `--dev` datadir and says what is not served yet.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, sync::Arc};

use balnode_chainspec::{ChainSpec, chain_by_name_or_path, dev, dev_accounts};
use balnode_primitives::{B256, Bytes, rlp::EMPTY_LIST_CODE};
use balnode_storage_api::{BlockToCommit, BlockWriter};
use balnode_storage_mdbx::DatabaseEnv;
use clap::{Parser, Subcommand};
use eyre::WrapErr;
use tracing::info;
use tracing_subscriber::EnvFilter;

/// An Ethereum execution-layer node that measures what block-level access lists (EIP-7928) buy.
#[derive(Debug, Parser)]
#[command(name = "balnode", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a chain's genesis state and header into a datadir and print the genesis hash.
    ///
    /// Running it again with the same genesis changes nothing and prints the same hash; a datadir that holds
    /// another chain is refused and left as it was.
    Init {
        /// `mainnet`, `dev`, or the path of a geth-format genesis.json.
        #[arg(long, value_name = "CHAIN")]
        chain: String,
        /// The directory of the node's data (the MDBX files go in DATADIR/db).
        #[arg(long, value_name = "DIR")]
        datadir: PathBuf,
    },
    /// Run the node.
    Node {
        /// Run a single-node development chain (the built-in `dev` chain, its funded accounts printed).
        #[arg(long)]
        dev: bool,
        /// The directory of the node's data.
        #[arg(long, value_name = "DIR", default_value = "datadir/dev")]
        datadir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The chain of causes on one line, without eyre's location and backtrace: the messages say what
            // was wrong and what to do.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> eyre::Result<()> {
    match cli.command {
        Command::Init { chain, datadir } => {
            let spec = chain_by_name_or_path(&chain).wrap_err("cannot load the chain")?;
            let hash = init(&spec, &datadir)?;
            println!("{hash}");
        }
        Command::Node { dev: is_dev, datadir } => {
            eyre::ensure!(is_dev, "only `balnode node --dev` exists so far: pass --dev");
            node_dev(&datadir)?;
        }
    }
    Ok(())
}

/// Opens `datadir` and writes the genesis of `spec` into it, or checks that it already holds that genesis.
fn init(spec: &ChainSpec, datadir: &std::path::Path) -> eyre::Result<B256> {
    let block = spec.genesis_block();
    let hash = block.header.hash_slow();
    let env = DatabaseEnv::open(datadir)
        .wrap_err_with(|| format!("cannot open the datadir {}", datadir.display()))?;
    if env.chain_identity()?.is_some() {
        env.check_genesis(spec.chain_id(), hash)?;
        info!(target: "balnode::init", %hash, datadir = %datadir.display(), "Datadir already holds this genesis");
        return Ok(hash);
    }
    let state = spec.genesis_state();
    info!(
        target: "balnode::init",
        chain_id = spec.chain_id(),
        accounts = state.accounts.len(),
        state_root = %block.header.state_root,
        "Writing genesis"
    );
    // An Amsterdam genesis commits to the empty access list; keep it like any other block's.
    let block_access_list =
        block.header.block_access_list_hash.map(|_| Bytes::from_static(&[EMPTY_LIST_CODE]));
    env.init_genesis(
        spec.chain_id(),
        BlockToCommit {
            hash,
            header: block.header,
            body: block.body,
            senders: Vec::new(),
            receipts: Vec::new(),
            block_access_list,
            state,
        },
    )
    .wrap_err("cannot write the genesis")?;
    info!(target: "balnode::init", %hash, datadir = %datadir.display(), "Initialised datadir");
    Ok(hash)
}

/// Prepares the dev datadir and prints what a developer needs to use it.
fn node_dev(datadir: &std::path::Path) -> eyre::Result<()> {
    let spec: Arc<ChainSpec> = dev();
    let hash = init(&spec, datadir)?;
    println!("balnode dev chain");
    println!("  chain id:  {}", spec.chain_id());
    println!("  genesis:   {hash}");
    println!("  datadir:   {}", datadir.display());
    println!("  accounts (10,000 ETH each; keys are public, never use them on a real network):");
    for (index, account) in dev_accounts().iter().enumerate() {
        println!("    ({index}) {} {}", account.address, account.private_key);
    }
    println!();
    println!(
        "The datadir is ready. JSON-RPC on http://127.0.0.1:8545 and dev block production are not served"
    );
    println!(
        "yet: they arrive with the RPC and devnet issues. Until then `make run` only prepares the datadir."
    );
    Ok(())
}
