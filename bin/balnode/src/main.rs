//! `balnode`: an Ethereum execution-layer node built to measure what block-level access lists (EIP-7928) buy.
//!
//! This binary stays thin: it parses the command line, sets up tracing and calls into the crates. Commands:
//! - `init`: write a chain's genesis into a datadir (idempotent for the same genesis).
//! - `db`: inspect, check and unwind a datadir (`db_cmd`).
//! - `node`: run a node: the store and the JSON-RPC server (`--dev` prepares the built-in dev datadir first).
//! - `rpc-compat`: the execution-apis JSON-RPC cases against a freshly imported chain.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering as AtomicOrdering},
    },
    time::{Duration, Instant},
};

/// jemalloc, as reth runs on: execution allocates and frees many small maps per transaction, on several
/// threads at once (the parallel modes free one thread's allocations on another). Three interleaved bench
/// runs against glibc's allocator: the BAL mode at two threads 0.621 → 0.609 of sequential's time, the
/// optimistic mode 0.733 → 0.713, sequential itself unchanged.
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod bal_cmd;
mod config;
mod db_cmd;
mod engine_args;
mod metrics;
mod node_cmd;
mod replay_cmd;

use balnode_chainspec::{ChainSpec, chain_by_name_or_path, dev, dev_accounts};
use balnode_import::{
    ExecMode, Execution, GenesisOutcome, Imported, Importer, export_blocks,
    file::BlockRecord,
    fixture::fixture_files,
    import_files, init_genesis,
    runner::{KnownFailures, Report, Tally, run_file},
};
use balnode_primitives::B256;
use balnode_storage_api::ChainInfoReader;
use balnode_storage_mdbx::DatabaseEnv;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use eyre::WrapErr;
use indicatif::{ProgressBar, ProgressStyle};
use tracing::info;
use tracing_subscriber::EnvFilter;

/// An Ethereum execution-layer node that measures what block-level access lists (EIP-7928) buy.
#[derive(Debug, Parser)]
#[command(name = "balnode", version, about, propagate_version = true)]
struct Cli {
    /// A TOML file of flag values (keys: the long flag names; see configs/balnode.toml). The command line
    /// and the `BALNODE_*` variables override it.
    #[arg(long, global = true, value_name = "FILE", env = "BALNODE_CONFIG")]
    config: Option<PathBuf>,
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
    /// Import RLP block files (geth/reth export format, plain or .gz) into a datadir, validating and
    /// executing every block; blocks already in the store are skipped, so a re-run resumes.
    Import {
        /// The datadir, initialised with `balnode init`.
        #[arg(long, value_name = "DIR")]
        datadir: PathBuf,
        /// The chain the datadir holds: `mainnet`, `dev`, or a genesis.json (default: the one it was
        /// initialised with, found among the built-in chains).
        #[arg(long, value_name = "CHAIN")]
        chain: String,
        /// Block files, imported in order.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        exec: ExecArgs,
        /// Print `committed <number> <hash>` on stderr once each block is committed (durable: a crash after
        /// the line cannot lose the block), for tools and tests that check what survives a crash.
        #[arg(long)]
        log_commits: bool,
        /// Serve Prometheus metrics on this address (`GET /metrics`): head, blocks, gas, Mgas/s, per-phase
        /// times, execution counters, prefetch hits, database size.
        #[arg(long, value_name = "ADDR")]
        metrics: Option<std::net::SocketAddr>,
    },
    /// Export canonical blocks to an RLP block file (gzip when FILE ends in .gz), with each block's access
    /// list when the store has one.
    Export {
        /// The datadir.
        #[arg(long, value_name = "DIR")]
        datadir: PathBuf,
        /// First block to export.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Last block to export (default: the head).
        #[arg(long)]
        to: Option<u64>,
        /// The file to write.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Run blockchain tests (execution-spec-tests / ethereum/tests JSON): each test in a fresh store, every
    /// block through the import path, then the head and post-state compared.
    TestFixtures {
        /// Test files, or directories searched for `.json` files.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Only run the tests whose name contains this.
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
        /// A list of tests known to fail, each with its reason: they count as skipped while they fail, and as
        /// failed once they pass.
        #[arg(long, value_name = "FILE")]
        known_failures: Option<PathBuf>,
        #[command(flatten)]
        exec: ExecArgs,
    },
    /// Inspect and check a datadir.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Block access lists (EIP-7928): generate them for a chain's blocks, inspect them.
    Bal {
        #[command(subcommand)]
        command: bal_cmd::BalCommand,
    },
    /// Replay real blocks with the pre-state they read (replay bundles, such as the mainnet corpus of the
    /// shared fixtures): each is executed on a temporary MDBX store and its gas used, receipts root and logs
    /// bloom checked against its header. `--bench` measures the execution modes instead.
    Replay(replay_cmd::ReplayArgs),
    /// Run the node: the store and the JSON-RPC server (HTTP and WebSocket on one port) until SIGINT/SIGTERM.
    Node {
        /// Run a single-node development chain (the built-in `dev` chain, its funded accounts printed).
        #[arg(long)]
        dev: bool,
        /// The directory of the node's data.
        #[arg(long, value_name = "DIR", default_value = "datadir/dev")]
        datadir: PathBuf,
        /// The chain the datadir holds: `mainnet`, `dev` or a genesis.json (default: the built-in chain with
        /// the stored chain id).
        #[arg(long, value_name = "CHAIN")]
        chain: Option<String>,
        /// With `--dev`: produce a block every SECS seconds (empty ones too); without it, each transaction
        /// is mined in a block of its own as soon as it is pending.
        #[arg(long = "dev.block-time", value_name = "SECS", requires = "dev")]
        dev_block_time: Option<f64>,
        /// The gas limit the blocks this node builds move towards, by at most 1/1024 of the parent's per
        /// block, when the payload attributes name none (geth's `--miner.gaslimit`; default: keep the
        /// parent's).
        #[arg(long = "builder.gaslimit", value_name = "GAS")]
        builder_gaslimit: Option<u64>,
        #[command(flatten)]
        exec: ExecArgs,
        #[command(flatten)]
        rpc: node_cmd::RpcArgs,
        #[command(flatten)]
        engine: engine_args::EngineArgs,
        /// Serve Prometheus metrics on this address (`GET /metrics`): head, blocks, gas, Mgas/s, per-phase
        /// times, execution counters, prefetch hits, pool sizes, RPC requests and latencies, database size.
        #[arg(long, value_name = "ADDR")]
        metrics: Option<std::net::SocketAddr>,
    },
    /// Replay the execution-apis JSON-RPC cases (hive's rpc-compat) against a chain imported into a temporary
    /// datadir; prints `N passed, N failed` with the differences.
    RpcCompat {
        /// The chain directory: genesis.json, chain.rlp and headfcu.json.
        #[arg(long, value_name = "DIR")]
        chain_dir: PathBuf,
        /// The cases: DIR/METHOD/NAME.io.
        #[arg(long, value_name = "DIR")]
        cases: PathBuf,
        /// Cases known to fail, each with its reason.
        #[arg(long, value_name = "FILE")]
        known_failures: Option<PathBuf>,
    },
    /// Load-test the JSON-RPC server on loopback: a chain imported into a temporary datadir, then
    /// `eth_blockNumber`, `eth_getBalance` and `eth_call` from many keep-alive connections; prints requests per
    /// second and p50/p99 latency.
    BenchRpc {
        /// The chain directory: genesis.json, chain.rlp and headfcu.json.
        #[arg(long, value_name = "DIR")]
        chain_dir: PathBuf,
        /// Concurrent connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Seconds per method.
        #[arg(long, default_value_t = 30)]
        duration: u64,
    },
}

fn main() -> ExitCode {
    let cli = match config::matches(Cli::command(), std::env::args_os().collect())
        .and_then(|matches| Ok(Cli::from_arg_matches(&matches)?))
    {
        Ok(cli) => cli,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
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

/// How blocks execute, wherever they do.
#[derive(Debug, Clone, clap::Args)]
struct ExecArgs {
    /// Execution mode: `sequential`; `bal` (transactions in parallel, driven by the block's access list;
    /// blocks without one run sequentially); `optimistic` (speculatively in parallel, validated in order,
    /// stale ones re-executed; blocks with a list run as `bal`); `auto` (on two workers or more: `bal` for
    /// blocks with a list and more than one transaction, `optimistic` for blocks without one that have at
    /// least 4 transactions and are not mostly chains of one sender's transactions; else sequential). Every
    /// mode gives the sequential result.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    exec: ExecMode,
    /// Worker threads of the parallel modes (default: one per core).
    #[arg(long, value_name = "N")]
    exec_threads: Option<usize>,
    /// Differential check: also run every block executed sequentially (from Byzantium on) in the `bal` mode
    /// (with the list the sequential run built) and in the `optimistic` mode, and compare receipts, gas,
    /// requests, state changes and list.
    #[arg(long)]
    exec_differential: bool,
}

impl ExecArgs {
    fn execution(&self) -> eyre::Result<Execution> {
        let mut execution = Execution::new(self.exec, self.exec_threads)
            .wrap_err("cannot start the execution workers")?;
        execution.differential = self.exec_differential;
        Ok(execution)
    }
}

/// Logs how the blocks ran.
fn log_execution(execution: &Execution) {
    let counters = &execution.counters;
    let load =
        |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
    info!(
        target: "balnode::exec",
        mode = %execution.mode,
        threads = execution.threads(),
        sequential = load(&counters.sequential),
        parallel = load(&counters.parallel),
        early_roots = load(&counters.early_roots),
        optimistic = load(&counters.optimistic),
        reexecuted = load(&counters.reexecuted),
        fallbacks = load(&counters.fallbacks),
        disagreements = load(&counters.disagreements),
        differential_checks = load(&counters.differential_checks),
        "Blocks executed"
    );
}

fn run(cli: Cli) -> eyre::Result<()> {
    match cli.command {
        Command::Init { chain, datadir } => {
            let spec = chain_by_name_or_path(&chain).wrap_err("cannot load the chain")?;
            let hash = init(&spec, &datadir)?;
            println!("{hash}");
        }
        Command::Import { datadir, chain, files, exec, log_commits, metrics } => {
            let spec = chain_by_name_or_path(&chain).wrap_err("cannot load the chain")?;
            let options = ImportOptions { log_commits, metrics };
            let (number, hash) = import(spec, &datadir, &files, exec.execution()?, options)?;
            println!("head {number} {hash}");
        }
        Command::Export { datadir, from, to, file } => {
            let store = open_existing(&datadir)?;
            let to = match to {
                Some(to) => to,
                None => store.chain_info()?.head_number,
            };
            let count = export_blocks(&store, from, to, &file)?;
            info!(target: "balnode::export", count, from, to, file = %file.display(), "Exported blocks");
        }
        Command::TestFixtures { paths, filter, known_failures, exec } => {
            let execution = exec.execution()?;
            let passed =
                test_fixtures(&paths, filter.as_deref(), known_failures.as_deref(), &execution)?;
            log_execution(&execution);
            let disagreements = execution.counters.snapshot().3;
            eyre::ensure!(
                disagreements == 0,
                "the {} mode disagreed with sequential execution on {disagreements} valid blocks",
                execution.mode
            );
            if !passed {
                eyre::bail!("some blockchain tests failed");
            }
        }
        Command::Db { command: DbCommand::VerifyRoot { datadir } } => verify_root(&datadir)?,
        Command::Db { command: DbCommand::Stats { datadir, json } } => {
            db_cmd::stats(&open_existing(&datadir)?, json)?;
        }
        Command::Db { command: DbCommand::Check { datadir } } => {
            db_cmd::check(&open_existing(&datadir)?, &datadir)?;
        }
        Command::Db { command: DbCommand::Unwind { datadir, to } } => {
            db_cmd::unwind(&open_existing(&datadir)?, to)?;
        }
        Command::Db { command: DbCommand::Forkchoice { datadir, file } } => {
            node_cmd::apply_forkchoice_file(&open_existing(&datadir)?, &file)?;
        }
        Command::Bal { command } => bal_cmd::run(command)?,
        Command::Replay(args) => replay_cmd::run(args)?,
        Command::Node {
            dev: is_dev,
            datadir,
            chain,
            dev_block_time,
            builder_gaslimit,
            exec,
            rpc,
            engine,
            metrics,
        } => {
            if is_dev {
                node_dev(&datadir)?;
            }
            let store = open_existing(&datadir)?;
            let spec =
                node_cmd::chain_of(&store, chain.as_deref().or_else(|| is_dev.then_some("dev")))?;
            if let Some(addr) = metrics {
                metrics::install(addr, &store)?;
                println!("Metrics on http://{addr}/metrics");
            }
            let dev_block_time = dev_block_time
                .map(|secs| {
                    Duration::try_from_secs_f64(secs)
                        .ok()
                        .filter(|period| !period.is_zero())
                        .ok_or_else(|| {
                            eyre::eyre!("--dev.block-time {secs}: not a positive duration")
                        })
                })
                .transpose()?;
            let options = node_cmd::NodeOptions {
                execution: exec.execution()?,
                dev: is_dev,
                dev_block_time,
                engine: engine.config(&datadir, rpc.config())?,
                gas_limit_target: builder_gaslimit,
            };
            node_cmd::serve(store, spec, &rpc, options)?;
        }
        Command::BenchRpc { chain_dir, connections, duration } => {
            node_cmd::bench_rpc(
                &chain_dir,
                connections,
                Duration::from_secs(duration),
                import_default,
                init,
            )?;
        }
        Command::RpcCompat { chain_dir, cases, known_failures } => {
            if !node_cmd::rpc_compat(
                &chain_dir,
                &cases,
                known_failures.as_deref(),
                import_default,
                init,
            )? {
                eyre::bail!("some rpc-compat cases failed");
            }
        }
    }
    Ok(())
}

/// Opens `datadir` and writes the genesis of `spec` into it, or checks that it already holds that genesis.
fn init(spec: &ChainSpec, datadir: &Path) -> eyre::Result<B256> {
    let store = DatabaseEnv::open(datadir)
        .wrap_err_with(|| format!("cannot open the datadir {}", datadir.display()))?;
    let outcome = init_genesis(spec, &store)?;
    match outcome {
        GenesisOutcome::Written(hash) => {
            info!(target: "balnode::init", %hash, datadir = %datadir.display(), "Initialised datadir");
        }
        GenesisOutcome::AlreadyThere(hash) => {
            info!(target: "balnode::init", %hash, datadir = %datadir.display(), "Datadir already holds this genesis");
        }
    }
    Ok(outcome.hash())
}

/// Opens a datadir that must already be initialised.
fn open_existing(datadir: &Path) -> eyre::Result<DatabaseEnv> {
    eyre::ensure!(
        datadir.join("db").is_dir(),
        "{} is not a datadir: create it with `balnode init --chain CHAIN --datadir {}`",
        datadir.display(),
        datadir.display()
    );
    let store = DatabaseEnv::open(datadir)
        .wrap_err_with(|| format!("cannot open the datadir {}", datadir.display()))?;
    Ok(store)
}

/// [`import`] in the default execution mode.
fn import_default(
    spec: Arc<ChainSpec>,
    datadir: &Path,
    files: &[PathBuf],
) -> eyre::Result<(u64, B256)> {
    import(spec, datadir, files, Execution::default(), ImportOptions::default())
}

/// What `balnode import` does besides importing.
#[derive(Debug, Clone, Copy, Default)]
struct ImportOptions {
    /// Print `committed <number> <hash>` after each commit.
    log_commits: bool,
    /// Serve metrics there.
    metrics: Option<std::net::SocketAddr>,
}

/// Imports block files into an initialised datadir of `spec`, with progress on a terminal and periodic log
/// lines otherwise; returns the head.
fn import(
    spec: Arc<ChainSpec>,
    datadir: &Path,
    files: &[PathBuf],
    execution: Execution,
    options: ImportOptions,
) -> eyre::Result<(u64, B256)> {
    let store = open_existing(datadir)?;
    if let Some(addr) = options.metrics {
        metrics::install(addr, &store)?;
    }
    store.check_genesis(spec.chain_id(), spec.genesis_hash())?;
    let importer = Importer::new(spec, store.clone()).with_execution(execution.clone());
    let mut progress = Progress::new(files, options.log_commits);
    let started = Instant::now();
    let result =
        import_files(&importer, files, |record, imported| progress.block(record, imported));
    let elapsed = started.elapsed();
    progress.finish();
    log_execution(&execution);
    let summary = result?;
    let head = store.chain_info()?;
    info!(
        target: "balnode::import",
        imported = summary.imported,
        known = summary.known,
        transactions = summary.transactions,
        gas = summary.gas,
        elapsed_ms = elapsed.as_millis() as u64,
        mgas_per_second = format!("{:.2}", summary.gas as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)),
        head = head.head_number,
        "Import finished"
    );
    Ok((head.head_number, head.head_hash))
}

/// Import progress: an indicatif bar on a terminal, a tracing line every few seconds otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    last_log: Instant,
    blocks: u64,
    transactions: u64,
    gas: u64,
    log_commits: bool,
}

impl Progress {
    fn new(files: &[PathBuf], log_commits: bool) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            // Plain files give a byte total, hence an ETA; a gzip file's decompressed size is unknown.
            let total: u64 = files.iter().filter_map(|path| std::fs::metadata(path).ok()).map(|m| m.len()).sum();
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ETA {eta} {msg}",
                )
                .expect("the template is valid"),
            );
            bar
        });
        let now = Instant::now();
        Self { bar, started: now, last_log: now, blocks: 0, transactions: 0, gas: 0, log_commits }
    }

    fn block(&mut self, record: &BlockRecord, imported: Imported) {
        if let Imported::Committed { gas_used, transactions } = imported {
            self.blocks += 1;
            self.transactions += transactions as u64;
            self.gas += gas_used;
            if self.log_commits {
                // `Importer::import` returned after the block's write transaction committed.
                eprintln!("committed {} {}", record.number(), record.block.header.hash_slow());
            }
        }
        let mgas_per_second =
            self.gas as f64 / 1e6 / self.started.elapsed().as_secs_f64().max(1e-9);
        ::metrics::gauge!("balnode_import_mgas_per_second").set(mgas_per_second);
        if let Some(bar) = &self.bar {
            bar.set_position(record.offset + record.size as u64);
            bar.set_message(format!(
                "block {} | {} blocks {} txs | {mgas_per_second:.1} Mgas/s",
                record.number(),
                self.blocks,
                self.transactions
            ));
        } else if self.last_log.elapsed() >= Duration::from_secs(5) {
            self.last_log = Instant::now();
            info!(
                target: "balnode::import",
                block = record.number(),
                blocks = self.blocks,
                transactions = self.transactions,
                mgas_per_second = format!("{mgas_per_second:.1}"),
                "Importing"
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A known-failures list (`# reason` lines over patterns), empty without a path.
fn read_known_failures(path: Option<&Path>) -> eyre::Result<KnownFailures> {
    let Some(path) = path else { return Ok(KnownFailures::default()) };
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("cannot read {}", path.display()))?;
    KnownFailures::parse(&text).map_err(|error| eyre::eyre!("{}: {error}", path.display()))
}

/// Runs blockchain-test files (or every `.json` under a directory), printing per-file and total counts.
fn test_fixtures(
    paths: &[PathBuf],
    filter: Option<&str>,
    known_failures: Option<&Path>,
    execution: &Execution,
) -> eyre::Result<bool> {
    let known = read_known_failures(known_failures)?;
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(fixture_files(path)?);
        } else {
            files.push(path.clone());
        }
    }
    // As many files at a time as there are workers, each from a plain thread that hands its blocks to the
    // workers and waits. (Running the files on the workers too nests them: a worker waiting for a block's
    // transactions takes on another file, which opens another store, and so on.)
    let on_workers = execution.on_current_pool();
    let next = AtomicUsize::new(0);
    let finished = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..execution.threads().min(files.len()) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, AtomicOrdering::Relaxed);
                let Some(file) = files.get(index) else { break };
                let mut failures = Vec::new();
                let tally = execution.install(|| {
                    run_file(file, filter, &known, &on_workers, |name, report| {
                        failures.push(match report {
                            Report::Failed(difference) => format!("FAIL {} :: {name}: {difference}", file.display()),
                            Report::KnownFailure(difference, reason) => {
                                format!("SKIP {} :: {name}: {difference} (listed: {reason})", file.display())
                            }
                            Report::UnexpectedPass(reason) => format!(
                                "FAIL {} :: {name}: passes, but is listed as a known failure ({reason}): remove it from the list",
                                file.display()
                            ),
                        });
                    })
                });
                finished.lock().unwrap_or_else(PoisonError::into_inner).push((index, file, tally, failures));
            });
        }
    });
    let mut results = finished.into_inner().unwrap_or_else(PoisonError::into_inner);
    results.sort_unstable_by_key(|(index, ..)| *index);
    let mut total = Tally::default();
    for (_, file, tally, failures) in results {
        for failure in failures {
            println!("{failure}");
        }
        match tally {
            Ok(tally) => {
                println!("{}: {tally}", file.display());
                total += tally;
            }
            Err(error) => {
                println!("FAIL {}: {error}", file.display());
                total.failed += 1;
            }
        }
    }
    println!("{total}");
    Ok(total.failed == 0)
}

/// `balnode db` subcommands.
#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Each table's entries and pages (branch, leaf, overflow) and size, and the data file's size and
    /// freelist.
    Stats {
        /// The datadir.
        #[arg(long, value_name = "DIR")]
        datadir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check that the store agrees with itself: the head marker, the canonical chain from genesis (hashes,
    /// headers linked by parent hash, bodies, senders, receipts, lookups), change sets against the history
    /// indexes, plain against hashed state, the trie, and the head's state root. Exits non-zero naming the
    /// first inconsistency (table, key, block).
    Check {
        /// The datadir.
        #[arg(long, value_name = "DIR")]
        datadir: PathBuf,
    },
    /// Unwind the store to block N: the blocks above it are removed and the state after N restored from the
    /// change sets (in one write transaction).
    Unwind {
        /// The datadir.
        #[arg(long, value_name = "DIR")]
        datadir: PathBuf,
        /// The block to become the head; at most the current head.
        #[arg(long, value_name = "N")]
        to: u64,
    },
    /// Recompute the head's state root from scratch (over the plain state and over the hashed state) and
    /// compare it with the head's header and the stored trie, node by node; report the first entry or trie
    /// path that differs.
    VerifyRoot {
        /// The datadir.
        #[arg(long, value_name = "DIR")]
        datadir: PathBuf,
    },
    /// Set the safe and finalized blocks (the `safe`/`finalized` JSON-RPC tags) from an
    /// `engine_forkchoiceUpdated` request file such as hive's `headfcu.json`; its head must be the store's.
    Forkchoice {
        /// The datadir.
        #[arg(long, value_name = "DIR")]
        datadir: PathBuf,
        /// The request file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Checks the head's state root four ways and prints what agrees; fails naming the first difference.
fn verify_root(datadir: &Path) -> eyre::Result<()> {
    let store = open_existing(datadir)?;
    let started = Instant::now();
    let report = store.verify_root()?;
    println!("head block:                 {}", report.head_number);
    println!("header state root:          {}", report.header_root);
    println!("root of the plain state:    {}", report.plain_root);
    println!("root of the hashed state:   {}", report.trie.root);
    println!("root of the stored trie:    {}", report.trie.stored_root);
    println!(
        "accounts: {}, stored trie nodes compared: {}",
        report.trie.accounts, report.trie.nodes
    );
    info!(target: "balnode::db", elapsed = ?started.elapsed(), "Verified the state root");
    if let Some(mismatch) = &report.hashed_mismatch {
        println!("first difference of the hashed tables: {mismatch}");
    }
    if let Some(mismatch) = &report.trie.first_mismatch {
        println!("first differing trie path: {mismatch}");
    }
    eyre::ensure!(
        report.is_consistent(),
        "the stored state of {} is inconsistent (see above): re-import the chain into a fresh datadir",
        datadir.display()
    );
    println!("ok: every root agrees");
    Ok(())
}

/// Prepares the dev datadir and prints what a developer needs to use it.
fn node_dev(datadir: &Path) -> eyre::Result<()> {
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
    Ok(())
}
