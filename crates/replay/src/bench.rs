//! The performance report: each execution mode on each block, warm and cold, against raw revm, with each
//! block's access-list size and critical path (the chains of reads after writes; with the access list, the
//! largest transaction), and what those allow on 2, 8 and 32 cores.
//!
//! Per block and configuration (mode × threads × cache) the median of `runs` measured runs is kept:
//! - *warm*: one store per block, loaded once; raw revm, the in-memory diagnostic and every configuration run
//!   interleaved, one of each per round, so that outside load hits them alike; round 0 warms up, unkept.
//! - *cold*: a fresh store per run whose files are flushed and dropped from the OS page cache
//!   (`posix_fadvise(DONTNEED)` on closed files; `/proc/sys/vm/drop_caches` is not writable in a container),
//!   so execution reads from disk.
//!
//! The time is split into *prefetch* (reading ahead what the BAL names: the `bal` mode; 0 for the others,
//! the `optimistic` mode's reading ahead of what the block names overlapping its execution), *execute*
//! (the mode's execution of the block, receipts and state changes included), *root* (the incremental state
//! root of the changes over the store's trie, on the mode's thread count — over a partial pre-state, so
//! smaller tries than mainnet's) and *commit* (the block's changes written to the store: cold runs only, each
//! on its own fresh store; the block is written as block 1 over the pre-state's block 0). Mgas/s is gas over
//! the execute time. Raw revm ([`crate::revm_floor`]) is measured in the same process, block by block, the
//! same way.
//!
//! Summary ratios are ratios of total times over the corpus (lower is faster): `ratio_to_sequential` =
//! time of the mode / time of sequential execution (same cache), `ratio_to_revm` = time of the mode / time of
//! raw revm.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use balnode_chainspec::ChainSpec;
use balnode_executor::{
    BlockExecutionOutput, BlockShape, ExecutionError, OpenReader, PrefetchStats, Strategy,
    execute_block_optimistic, execute_block_parallel_bal, execute_block_parallel_bal_with,
    execute_block_with_bal, supports_optimistic, supports_parallel_bal, worker_pool,
};
use balnode_primitives::eips::eip7928::BlockAccessList;
use balnode_storage_api::{BlockToCommit, BlockWriter, ProviderResult, StateProvider};
use balnode_trie::{HashedPostState, Parallelism, parallel_state_root};
use serde::Serialize;
use tracing::info;

use crate::{
    ReplayError,
    bundle::{Bundle, load_bundle},
    critical_path::{CriticalPath, critical_path, transaction_accesses},
    replay::execute_bundle,
    revm_floor::{evm_env, execute_raw, memory_db, tx_envs},
    store::{BundleStateView, MemoryState, PreStateStore},
};

/// An execution strategy the bench measures. **To add one**, add a variant, list it in [`ExecMode::ALL`], name
/// it in [`ExecMode::name`], and call it in [`ExecMode::execute`]: the bench, the table and the JSON pick it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecMode {
    /// One transaction after the other (`balnode_executor::execute_block`).
    Sequential,
    /// Sequential, also building the block's access list, as a node must to check an Amsterdam header's
    /// list hash: the fair reference for the `bal` mode, which builds the list too (to verify it).
    SequentialWithList,
    /// Every transaction at once, driven by the block's access list
    /// (`balnode_executor::execute_block_parallel_bal`, with its prefetch). Blocks before Byzantium run
    /// sequentially, as in the importer.
    Bal,
    /// `bal`, with the state root computed on the list's post-state while the transactions execute
    /// (`balnode_executor::execute_block_parallel_bal_with`), as the importer does: its time includes the
    /// root, which the other modes compute after execution. Compare them on the time to the state root.
    BalWithRoot,
    /// Speculatively in parallel without the list, validated in order, stale transactions executed again
    /// (`balnode_executor::execute_block_optimistic`). Blocks before Byzantium run sequentially.
    Optimistic,
}

impl ExecMode {
    /// Every mode the bench runs, the reference (sequential) first.
    pub const ALL: &[Self] = &[
        Self::Sequential,
        Self::SequentialWithList,
        Self::Bal,
        Self::BalWithRoot,
        Self::Optimistic,
    ];

    /// The mode's name in the report.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sequential => "sequential",
            Self::SequentialWithList => "sequential+list",
            Self::Bal => "bal",
            Self::BalWithRoot => "bal+root",
            Self::Optimistic => "optimistic",
        }
    }

    /// The thread counts the mode is measured at. Sequential execution uses one thread whatever the count:
    /// at 2 threads only the state root runs on two.
    pub const fn thread_counts(self) -> &'static [usize] {
        match self {
            Self::SequentialWithList => &[1],
            Self::Sequential | Self::Bal | Self::BalWithRoot | Self::Optimistic => &[1, 2],
        }
    }

    /// Executes `bundle`'s block on `state` with `threads` threads. `bal` is the block's access list (built
    /// once before measuring), for the modes that use one. Runs inside a rayon pool of `threads` threads.
    pub fn execute<P: StateProvider>(
        self,
        spec: &Arc<ChainSpec>,
        bundle: &Bundle,
        state: P,
        bal: Option<&BlockAccessList>,
        threads: usize,
        open_reader: Option<OpenReader<'_>>,
    ) -> Result<BlockExecutionOutput, ExecutionError> {
        let _ = threads;
        match (self, bal) {
            (Self::Bal | Self::BalWithRoot, Some(bal))
                if supports_parallel_bal(spec, &bundle.block) =>
            {
                execute_block_parallel_bal(
                    spec,
                    &bundle.block,
                    &bundle.senders,
                    state,
                    bal,
                    open_reader,
                )
            }
            (Self::Optimistic, _) if supports_optimistic(spec, &bundle.block) => {
                execute_block_optimistic(
                    spec,
                    &bundle.block,
                    &bundle.senders,
                    state,
                    false,
                    open_reader,
                )
                .map(|(output, _)| output)
            }
            _ => execute_block_with_bal(
                spec,
                &bundle.block,
                &bundle.senders,
                state,
                Some(&crate::replay::placeholder_root),
                self == Self::SequentialWithList,
            ),
        }
    }
}

/// Bench settings.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Measured runs per block and configuration; the median is reported.
    pub runs: usize,
    /// Whether to measure with a cold cache too.
    pub cold: bool,
    /// Where temporary stores go (default: the system's temporary directory).
    pub tmp: Option<PathBuf>,
}

/// Median times of one configuration on one block, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct ModeTimes {
    /// The mode's name.
    pub mode: &'static str,
    /// Threads.
    pub threads: usize,
    /// `warm` or `cold`.
    pub cache: &'static str,
    /// Reading ahead what the access list names, before execution (0 for the other modes).
    pub prefetch_ms: f64,
    /// What the prefetch read and how its cache served execution, in the last run (modes with a prefetch).
    pub prefetch: Option<PrefetchCounts>,
    /// Execution.
    pub execute_ms: f64,
    /// The fastest prefetch plus execution of the runs (less disturbed by other load on the machine than the
    /// median).
    pub execute_best_ms: f64,
    /// The incremental state root of the changes, after execution (0 for `bal+root`, which computes it during
    /// execution).
    pub root_ms: f64,
    /// Prefetch, execution and state root: the time to a checked block (median of the runs' sums).
    pub to_root_ms: f64,
    /// The fastest run's prefetch, execution and state root.
    pub to_root_best_ms: f64,
    /// Writing the block (cold runs only).
    pub commit_ms: Option<f64>,
    /// Gas over the execute time.
    pub mgas_per_s: f64,
}

/// What a mode's prefetch read and how its cache served the reads of the parent state.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PrefetchCounts {
    /// Accounts read ahead.
    pub accounts: usize,
    /// Slots read ahead.
    pub slots: usize,
    /// Reads served from the cache.
    pub hits: u64,
    /// Reads that went to the store.
    pub misses: u64,
}

impl From<PrefetchStats> for PrefetchCounts {
    fn from(stats: PrefetchStats) -> Self {
        Self {
            accounts: stats.accounts,
            slots: stats.slots,
            hits: stats.hits,
            misses: stats.misses,
        }
    }
}

impl std::ops::AddAssign for PrefetchCounts {
    fn add_assign(&mut self, other: Self) {
        self.accounts += other.accounts;
        self.slots += other.slots;
        self.hits += other.hits;
        self.misses += other.misses;
    }
}

/// One block of the report.
#[derive(Debug, Clone, Serialize)]
pub struct BlockBench {
    /// Its number.
    pub number: u64,
    /// Transactions.
    pub txs: usize,
    /// Gas used.
    pub gas: u64,
    /// Its access list's RLP size, in bytes.
    pub bal_bytes: usize,
    /// The critical path.
    pub critical_path: CriticalPath,
    /// Whether the `bal` mode runs the block in parallel (from Byzantium on: earlier receipts carry a state
    /// root after every transaction, and the mode runs those blocks sequentially).
    pub bal_parallel: bool,
    /// Raw revm's median time.
    pub revm_ms: f64,
    /// Raw revm's fastest run.
    pub revm_best_ms: f64,
    /// Raw revm's Mgas/s.
    pub revm_mgas_per_s: f64,
    /// Diagnostic: two copies of raw revm's run at once, one on each thread of the two-thread pool, each on
    /// its own `CacheDB`: the median time until both are done. Nothing is shared, so `2 × revm_ms /
    /// revm_pair_ms` is what two threads of this machine can gain on the block's work at best. Timed from
    /// the bench's thread, so it includes waking both pool threads (tens of microseconds, pinned), where a
    /// mode's time starts on a pool thread.
    pub revm_pair_ms: f64,
    /// Diagnostic: analysing the code of every contract in the pre-state (jump tables), median time. Raw revm's
    /// `CacheDB` holds analysed code, built before the clock starts; the executor analyses code as it loads it.
    pub code_analysis_ms: f64,
    /// Diagnostic: sequential execution (warm, 1 thread) on the pre-state in hash maps instead of MDBX: the
    /// same executor without the store, median time.
    pub sequential_in_memory_ms: f64,
    /// Each configuration's times.
    pub modes: Vec<ModeTimes>,
    /// The mode `--exec auto` runs the block in on two workers, with its access list and without one (a
    /// block a strategy does not support runs sequentially, as in the importer).
    pub auto: AutoChoice,
    /// Anything odd: gas that differs between revm and the executor, a failed execution.
    pub notes: Vec<String>,
}

/// What `--exec auto` picks for a block on two workers.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AutoChoice {
    /// With the block's access list.
    pub with_list: &'static str,
    /// Without it.
    pub without_list: &'static str,
}

impl AutoChoice {
    fn of(spec: &ChainSpec, bundle: &Bundle) -> Self {
        let block = &bundle.block;
        let pick = |has_list: bool| match balnode_executor::ExecMode::Auto
            .strategy(BlockShape::new(&bundle.senders, has_list), 2)
        {
            Strategy::Bal if supports_parallel_bal(spec, block) => ExecMode::Bal.name(),
            Strategy::Optimistic if supports_optimistic(spec, block) => ExecMode::Optimistic.name(),
            _ => ExecMode::Sequential.name(),
        };
        Self { with_list: pick(true), without_list: pick(false) }
    }
}

/// `--exec auto` on two workers over the corpus: each block's time in the mode auto picks for it (the
/// sequential reference itself for the blocks it runs sequentially).
#[derive(Debug, Clone, Serialize)]
pub struct AutoRow {
    /// Whether the blocks come with their access lists.
    pub with_lists: bool,
    /// `warm` or `cold`.
    pub cache: &'static str,
    /// Total gas over total time (prefetch and execution).
    pub mgas_per_s: f64,
    /// Total time over sequential's at 1 thread with the same cache.
    pub ratio_to_sequential: f64,
    /// Blocks auto runs in parallel.
    pub parallel_blocks: usize,
    /// The slowest of them against sequential: `(block, speedup)`.
    pub slowest: Option<(u64, f64)>,
    /// Those whose speedup is below 0.9.
    pub below_0_9: Vec<u64>,
}

/// A mode's prefetch over the whole corpus.
#[derive(Debug, Clone, Serialize)]
pub struct PrefetchRow {
    /// The mode's name.
    pub mode: &'static str,
    /// Threads.
    pub threads: usize,
    /// `warm` or `cold`.
    pub cache: &'static str,
    /// Summed over the blocks (each block's last run).
    pub counts: PrefetchCounts,
    /// Total prefetch time, from the median runs.
    pub prefetch_ms: f64,
}

/// One summary row: a configuration over the whole corpus.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryRow {
    /// The mode's name.
    pub mode: &'static str,
    /// Threads.
    pub threads: usize,
    /// `warm` or `cold`.
    pub cache: &'static str,
    /// Total gas over total execute time.
    pub mgas_per_s: f64,
    /// Total execute time over sequential's at 1 thread with the same cache.
    pub ratio_to_sequential: f64,
    /// Total execute time over raw revm's.
    pub ratio_to_revm: f64,
}

/// The ideal speedups of the blocks' critical paths.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IdealSpeedup {
    /// Median over the blocks with transactions.
    pub median: f64,
    /// Best block.
    pub best: f64,
    /// Worst block.
    pub worst: f64,
    /// Total gas of the corpus over the sum of the critical paths.
    pub corpus: f64,
    /// Over the corpus, what `cores` workers can at least reach by Brent's bound, `total / (total / cores +
    /// critical path)` summed over blocks, for 2, 8 and 32 cores: `(cores, speedup)`.
    pub projected: Vec<(usize, f64)>,
    /// With the blocks' access lists, where a block's critical path is its largest transaction.
    pub with_lists: ListSpeedup,
}

/// What the blocks' access lists allow: each transaction reads the list's writes of the indices before it
/// instead of waiting for the transactions that make them, so a block's dependency graph has no edges and its
/// critical path is its largest transaction (gas as the measure of time, as for the chains).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListSpeedup {
    /// Total gas over the sum of the blocks' largest transactions: the speedup on unlimited cores.
    pub corpus: f64,
    /// For 2, 8 and 32 cores.
    pub projected: Vec<ListProjection>,
}

/// [`ListSpeedup`] on a number of cores.
#[derive(Debug, Clone, Serialize)]
pub struct ListProjection {
    /// Cores.
    pub cores: usize,
    /// No schedule does better: `Σ total / Σ max(total / cores, largest)` over the blocks.
    pub at_most: f64,
    /// Any schedule that hands each transaction to the next free core does at least this well (Graham's
    /// bound for independent tasks): `Σ total / Σ (total / cores + largest × (1 - 1 / cores))`.
    pub at_least: f64,
    /// The `bal` mode at `cores` threads if the machine scaled perfectly and every transaction cost what it
    /// costs on one thread: per block, its measured one-thread time (warm, median) over the block's
    /// `at_most` speedup (undivided for the blocks it runs sequentially, before Byzantium), summed, over
    /// sequential's one-thread time. At 2 cores, read it against the measured `bal` row: the difference is
    /// what two threads cost the mode beyond its one-thread work. `None` without both measurements.
    pub bal_ratio_to_sequential: Option<f64>,
    /// The same projection of sequential's own one-thread times: what an executor that costs no more than
    /// sequential execution on one thread reaches at best, running the same blocks in parallel.
    pub floor_ratio_to_sequential: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Measured runs per configuration.
    pub runs: usize,
    /// How the cold cache was made.
    pub cold_cache: &'static str,
    /// Per block.
    pub blocks: Vec<BlockBench>,
    /// Raw revm over the corpus.
    pub revm_mgas_per_s: f64,
    /// Diagnostic: sequential execution on the pre-state in hash maps (no MDBX), over the corpus.
    pub sequential_in_memory_mgas_per_s: f64,
    /// Diagnostic: raw revm with the analysis of the pre-state's code added to its time, over the corpus.
    pub revm_with_code_analysis_mgas_per_s: f64,
    /// Diagnostic: the work two threads of this machine get done against one, over the corpus: two copies of
    /// raw revm's run at once (nothing shared) against one, `2 × Σ revm_ms / Σ revm_pair_ms`. The ceiling of
    /// any mode's speedup at two threads, which the modes' ratios can be read against.
    pub two_thread_ceiling: f64,
    /// Per configuration over the corpus, from the median runs.
    pub summary: Vec<SummaryRow>,
    /// The same from the fastest run of each block and configuration: on a machine shared with other work,
    /// the better estimate of what the code costs.
    pub summary_best: Vec<SummaryRow>,
    /// Per configuration over the corpus, on the time to the state root (prefetch, execution and root), from
    /// the median runs; raw revm computes no root, its ratio is to its execution.
    pub summary_to_root: Vec<SummaryRow>,
    /// The same from the fastest runs.
    pub summary_to_root_best: Vec<SummaryRow>,
    /// `--exec auto` on two workers, with and without the access lists, from the median runs.
    pub auto: Vec<AutoRow>,
    /// Per configuration with a prefetch, over the corpus.
    pub prefetch: Vec<PrefetchRow>,
    /// From the critical paths.
    pub ideal_speedup: IdealSpeedup,
}

const COLD_CACHE: &str =
    "fresh store per run, its files' pages dropped with posix_fadvise(DONTNEED)";

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn mgas(gas: u64, duration: Duration) -> f64 {
    if duration.is_zero() { 0.0 } else { gas as f64 / 1e6 / duration.as_secs_f64() }
}

/// The times of one run.
#[derive(Debug, Clone, Copy, Default)]
struct RunTimes {
    /// The prefetch, inside the mode's call (zero for modes without one).
    prefetch: Duration,
    /// What it read, and how its cache served execution.
    read: Option<PrefetchStats>,
    /// The rest of the mode's call.
    execute: Duration,
    root: Duration,
    commit: Option<Duration>,
}

/// A configuration to run: a mode at a thread count, with the pool of that many threads and the block's BAL.
#[derive(Debug, Clone, Copy)]
struct Run<'a> {
    mode: ExecMode,
    threads: usize,
    pool: &'a rayon::ThreadPool,
    bal: Option<&'a BlockAccessList>,
}

/// One measured run on `store`; with `commit`, the block is then written (the store is then spent).
fn run_once(
    spec: &Arc<ChainSpec>,
    bundle: &Bundle,
    store: &PreStateStore,
    Run { mode, threads, pool, bal }: Run<'_>,
    commit: bool,
) -> Result<Result<RunTimes, String>, ReplayError> {
    let number = bundle.number();
    let view = store.view(bundle)?;
    // More readers of the same store for the prefetch: one MDBX transaction serialises its readers.
    let open_reader = || -> ProviderResult<Box<dyn StateProvider>> {
        let latest = store.env().provider()?.into_latest()?;
        Ok(Box::new(BundleStateView::new(latest, bundle.block_hashes.clone())))
    };
    let provider_error = |source| ReplayError::Provider { number, source: Box::new(source) };
    // The state the root is computed over: the store's, opened before the clock starts.
    let latest = store
        .env()
        .provider()
        .and_then(|provider| provider.into_latest())
        .map_err(provider_error)?;
    let root_on_list = |changes: &_| {
        parallel_state_root(
            &latest,
            &HashedPostState::from_changes(changes),
            Parallelism::CurrentPool,
        )
    };
    // Timed on the pool's thread: handing the job to a sleeping pool thread takes a wake-up, which on a loaded
    // machine costs more than executing a small block, and more with one pool thread than with two.
    let (output, early_root, elapsed) = pool.install(|| {
        let started = Instant::now();
        let (output, early_root) = match bal {
            Some(bal)
                if mode == ExecMode::BalWithRoot && supports_parallel_bal(spec, &bundle.block) =>
            {
                match execute_block_parallel_bal_with(
                    spec,
                    &bundle.block,
                    &bundle.senders,
                    &view,
                    bal,
                    Some(&open_reader),
                    Some(&root_on_list),
                ) {
                    Ok((output, root)) => (Ok(output), root),
                    Err(error) => (Err(error), None),
                }
            }
            _ => (mode.execute(spec, bundle, &view, bal, threads, Some(&open_reader)), None),
        };
        (output, early_root, started.elapsed())
    });
    let output = match output {
        Ok(output) => output,
        Err(error) => return Ok(Err(format!("{} failed: {error}", mode.name()))),
    };
    let read = output.prefetch;
    let prefetch = read.map_or(Duration::ZERO, |stats| stats.elapsed);
    let execute = elapsed.saturating_sub(prefetch);
    let started = Instant::now();
    let root = match early_root {
        // Computed during execution (`bal+root`): nothing left to do.
        Some(root) => root.map_err(provider_error)?,
        None => {
            let hashed = HashedPostState::from_changes(&output.state);
            let parallelism =
                if threads > 1 { Parallelism::Pool(pool) } else { Parallelism::Sequential };
            parallel_state_root(&latest, &hashed, parallelism).map_err(provider_error)?
        }
    };
    let root_time = started.elapsed();
    drop(latest);
    let commit_time = if commit {
        let mut header = bundle.block.header.clone();
        header.number = 1;
        header.parent_hash = store.genesis_hash();
        header.state_root = root.root;
        let to_commit = BlockToCommit {
            hash: header.hash_slow(),
            header,
            body: bundle.block.body.clone(),
            senders: bundle.senders.clone(),
            receipts: output.receipts,
            block_access_list: None,
            state: output.state,
            trie_updates: Some(root.updates),
        };
        let started = Instant::now();
        store.env().commit_blocks(vec![to_commit]).map_err(provider_error)?;
        Some(started.elapsed())
    } else {
        None
    };
    Ok(Ok(RunTimes { prefetch, read, execute, root: root_time, commit: commit_time }))
}

impl RunTimes {
    /// Prefetch, execution and state root.
    fn until_root(self) -> Duration {
        self.prefetch + self.execute + self.root
    }
}

/// Measures every bundle in `dirs` (see the module's documentation).
pub fn run_bench(
    spec: &Arc<ChainSpec>,
    dirs: &[PathBuf],
    config: &BenchConfig,
) -> Result<BenchReport, ReplayError> {
    let pools: Vec<(usize, rayon::ThreadPool)> = [1usize, 2]
        .into_iter()
        .map(|threads| (threads, worker_pool(threads).expect("a thread pool can be built")))
        .collect();
    let pool_of = |threads: usize| {
        &pools.iter().find(|(count, _)| *count == threads).expect("a pool per thread count").1
    };
    let tmp = config.tmp.as_deref();
    let mut blocks = Vec::new();
    for dir in dirs {
        let bundle = load_bundle(dir)?;
        let number = bundle.number();
        let gas = bundle.gas_used();
        let mut notes = Vec::new();

        // Once, unmeasured: the access list (for its size and the BAL modes) and the critical path.
        let store = PreStateStore::create(&bundle, tmp)?;
        let (output, missed) = execute_bundle(spec, &bundle, &store, true)?;
        let bal = match output {
            Ok(output) => {
                if output.gas_used != gas {
                    notes.push(format!(
                        "executes to {} gas, the header says {gas}",
                        output.gas_used
                    ));
                }
                output.block_access_list
            }
            Err(error) => {
                notes.push(format!("execution failed: {error}"));
                None
            }
        };
        if !missed.block_hashes.is_empty() {
            notes.push(format!(
                "BLOCKHASH of {:?} answered with zero (not in the bundle), in every mode alike",
                missed.block_hashes
            ));
        }
        let bal_bytes = bal.as_ref().map_or(0, |bal| balnode_bal::encode(bal).len());
        let path = match transaction_accesses(spec, &bundle) {
            Ok(accesses) => critical_path(&accesses),
            Err(error) => {
                notes.push(format!("no critical path: raw revm failed: {error}"));
                CriticalPath::default()
            }
        };

        // Warm, interleaved: each round runs raw revm, the in-memory diagnostic and every mode once, so that
        // load from elsewhere on the machine hits them alike; round 0 warms up and is not kept.
        let env = evm_env(spec, &bundle);
        let db = memory_db(&bundle);
        let memory = MemoryState::of(&bundle);
        let memory_view = BundleStateView::new(&memory, bundle.block_hashes.clone());
        let configurations: Vec<(ExecMode, usize)> = ExecMode::ALL
            .iter()
            .flat_map(|&mode| mode.thread_counts().iter().map(move |&threads| (mode, threads)))
            .collect();
        let (mut revm_times, mut pair_times, mut memory_times, mut analysis_times) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let codes: Vec<_> = bundle.pre_state.values().filter_map(|pre| pre.code.clone()).collect();
        let mut warm_runs: Vec<Vec<RunTimes>> = vec![Vec::new(); configurations.len()];
        let (mut revm_failed, mut memory_failed) = (false, false);
        let mut failed = vec![false; configurations.len()];
        for round in 0..=config.runs {
            if !revm_failed {
                let (db, txs) = (db.clone(), tx_envs(&bundle));
                let started = Instant::now();
                let result = execute_raw(&env, db, txs);
                let elapsed = started.elapsed();
                match result {
                    Ok(revm_gas) if round == 0 && revm_gas != gas => {
                        notes.push(format!("raw revm used {revm_gas} gas, the header says {gas}"));
                    }
                    Ok(_) => {}
                    Err(error) => {
                        notes.push(format!("raw revm failed: {error}"));
                        revm_failed = true;
                    }
                }
                if round > 0 {
                    revm_times.push(elapsed);
                }
            }
            if !revm_failed {
                let copies = [(db.clone(), tx_envs(&bundle)), (db.clone(), tx_envs(&bundle))];
                let env = &env;
                let started = Instant::now();
                pool_of(2).scope(|scope| {
                    for (db, txs) in copies {
                        scope.spawn(move |_| {
                            let _ = std::hint::black_box(execute_raw(env, db, txs));
                        });
                    }
                });
                if round > 0 {
                    pair_times.push(started.elapsed());
                }
            }
            let started = Instant::now();
            for code in &codes {
                std::hint::black_box(revm::state::Bytecode::new_raw(code.clone()));
            }
            if round > 0 {
                analysis_times.push(started.elapsed());
            }
            if !memory_failed {
                let started = Instant::now();
                let result =
                    ExecMode::Sequential.execute(spec, &bundle, &memory_view, None, 1, None);
                let elapsed = started.elapsed();
                if let Err(error) = result {
                    notes.push(format!("sequential on the in-memory state failed: {error}"));
                    memory_failed = true;
                }
                if round > 0 {
                    memory_times.push(elapsed);
                }
            }
            for (index, &(mode, threads)) in configurations.iter().enumerate() {
                if failed[index] {
                    continue;
                }
                let run = Run { mode, threads, pool: pool_of(threads), bal: bal.as_ref() };
                match run_once(spec, &bundle, &store, run, false)? {
                    Ok(times) if round > 0 => warm_runs[index].push(times),
                    Ok(_) => {}
                    Err(error) => {
                        notes.push(error);
                        failed[index] = true;
                    }
                }
            }
        }
        let revm_best = revm_times.iter().min().copied().unwrap_or_default();
        let revm = median(revm_times);
        let in_memory = median(memory_times);
        let mut modes: Vec<ModeTimes> = configurations
            .iter()
            .zip(&warm_runs)
            .map(|(&(mode, threads), runs)| summarise(mode, threads, "warm", gas, runs))
            .collect();
        drop(store);
        // Cold: a fresh store per run, out of the page cache.
        if config.cold {
            for &mode in ExecMode::ALL {
                for &threads in mode.thread_counts() {
                    let mut runs = Vec::new();
                    for _ in 0..config.runs {
                        let mut store = PreStateStore::create(&bundle, tmp)?;
                        store.evict_from_page_cache(number)?;
                        match run_once(
                            spec,
                            &bundle,
                            &store,
                            Run { mode, threads, pool: pool_of(threads), bal: bal.as_ref() },
                            true,
                        )? {
                            Ok(times) => runs.push(times),
                            Err(error) => {
                                notes.push(error);
                                break;
                            }
                        }
                    }
                    modes.push(summarise(mode, threads, "cold", gas, &runs));
                }
            }
        }
        info!(target: "replay::bench", number, gas, revm_ms = ms(revm), ideal_speedup = path.ideal_speedup, "Measured block");
        blocks.push(BlockBench {
            number,
            txs: bundle.transaction_count(),
            gas,
            bal_bytes,
            critical_path: path,
            bal_parallel: supports_parallel_bal(spec, &bundle.block),
            revm_ms: ms(revm),
            revm_best_ms: ms(revm_best),
            revm_mgas_per_s: mgas(gas, revm),
            revm_pair_ms: ms(median(pair_times)),
            sequential_in_memory_ms: ms(in_memory),
            code_analysis_ms: ms(median(analysis_times)),
            modes,
            auto: AutoChoice::of(spec, &bundle),
            notes,
        });
    }
    Ok(report(config, blocks))
}

fn summarise(
    mode: ExecMode,
    threads: usize,
    cache: &'static str,
    gas: u64,
    runs: &[RunTimes],
) -> ModeTimes {
    // Mgas/s over prefetch and execution: a mode without a prefetch reads during execution.
    let total = median(runs.iter().map(|run| run.prefetch + run.execute).collect());
    let prefetch = median(runs.iter().map(|run| run.prefetch).collect());
    let execute = total.saturating_sub(prefetch);
    let root = median(runs.iter().map(|run| run.root).collect());
    let commits: Vec<Duration> = runs.iter().filter_map(|run| run.commit).collect();
    ModeTimes {
        mode: mode.name(),
        threads,
        cache,
        prefetch_ms: ms(prefetch),
        prefetch: runs.last().and_then(|run| run.read).map(PrefetchCounts::from),
        execute_ms: ms(execute),
        execute_best_ms: ms(runs
            .iter()
            .map(|run| run.prefetch + run.execute)
            .min()
            .unwrap_or_default()),
        root_ms: ms(root),
        to_root_ms: ms(median(runs.iter().copied().map(RunTimes::until_root).collect())),
        to_root_best_ms: ms(runs
            .iter()
            .copied()
            .map(RunTimes::until_root)
            .min()
            .unwrap_or_default()),
        commit_ms: (!commits.is_empty()).then(|| ms(median(commits))),
        mgas_per_s: mgas(gas, total),
    }
}

/// One summary row per configuration, from the per-block times `time` picks; `revm_ms` is raw revm's total.
fn summary_rows(
    blocks: &[BlockBench],
    total_gas: u64,
    time: impl Fn(&ModeTimes) -> f64,
    revm_ms: f64,
) -> Vec<SummaryRow> {
    let total_ms = |mode: &str, threads: usize, cache: &str| -> f64 {
        blocks
            .iter()
            .flat_map(|block| &block.modes)
            .filter(|times| times.mode == mode && times.threads == threads && times.cache == cache)
            .map(&time)
            .sum()
    };
    let mut summary = Vec::new();
    for cache in ["warm", "cold"] {
        let sequential = total_ms(ExecMode::Sequential.name(), 1, cache);
        for &mode in ExecMode::ALL {
            for &threads in mode.thread_counts() {
                let time = total_ms(mode.name(), threads, cache);
                if time == 0.0 {
                    continue;
                }
                summary.push(SummaryRow {
                    mode: mode.name(),
                    threads,
                    cache,
                    mgas_per_s: total_gas as f64 / 1e3 / time,
                    ratio_to_sequential: time / sequential,
                    ratio_to_revm: time / revm_ms,
                });
            }
        }
    }
    summary
}

/// The summary and the ideal speedups over the measured blocks.
fn report(config: &BenchConfig, blocks: Vec<BlockBench>) -> BenchReport {
    let total_gas: u64 = blocks.iter().map(|block| block.gas).sum();
    let revm_ms: f64 = blocks.iter().map(|block| block.revm_ms).sum();
    let mgas_of =
        |total_ms: f64| if total_ms > 0.0 { total_gas as f64 / 1e3 / total_ms } else { 0.0 };
    let summary =
        summary_rows(&blocks, total_gas, |times| times.prefetch_ms + times.execute_ms, revm_ms);
    let revm_best_ms: f64 = blocks.iter().map(|block| block.revm_best_ms).sum();
    let summary_best =
        summary_rows(&blocks, total_gas, |times| times.execute_best_ms, revm_best_ms);
    let summary_to_root = summary_rows(&blocks, total_gas, |times| times.to_root_ms, revm_ms);
    let summary_to_root_best =
        summary_rows(&blocks, total_gas, |times| times.to_root_best_ms, revm_best_ms);
    let mut speedups: Vec<f64> = blocks
        .iter()
        .filter(|block| block.critical_path.critical_gas > 0)
        .map(|block| block.critical_path.ideal_speedup)
        .collect();
    speedups.sort_by(f64::total_cmp);
    let critical: u64 = blocks.iter().map(|block| block.critical_path.critical_gas).sum();
    let path_gas: u64 = blocks.iter().map(|block| block.critical_path.total_gas).sum();
    let ideal_speedup = IdealSpeedup {
        median: speedups.get(speedups.len() / 2).copied().unwrap_or(1.0),
        best: speedups.last().copied().unwrap_or(1.0),
        worst: speedups.first().copied().unwrap_or(1.0),
        corpus: if critical == 0 { 1.0 } else { path_gas as f64 / critical as f64 },
        projected: [2usize, 8, 32]
            .into_iter()
            .map(|cores| {
                // Time on `cores` workers (in gas), block by block: at most total/cores + critical path.
                let time: f64 = blocks
                    .iter()
                    .map(|block| {
                        let path = &block.critical_path;
                        path.total_gas as f64 / cores as f64 + path.critical_gas as f64
                    })
                    .sum();
                (cores, if time > 0.0 { path_gas as f64 / time } else { 1.0 })
            })
            .collect(),
        with_lists: list_speedup(&blocks),
    };
    let in_memory_ms: f64 = blocks.iter().map(|block| block.sequential_in_memory_ms).sum();
    let pair_ms: f64 = blocks.iter().map(|block| block.revm_pair_ms).sum();
    let analysis_ms: f64 = blocks.iter().map(|block| block.code_analysis_ms).sum();
    let auto = auto_rows(&blocks, total_gas);
    let prefetch = prefetch_rows(&blocks);
    BenchReport {
        revm_with_code_analysis_mgas_per_s: mgas_of(revm_ms + analysis_ms),
        sequential_in_memory_mgas_per_s: mgas_of(in_memory_ms),
        runs: config.runs,
        cold_cache: if config.cold { COLD_CACHE } else { "not measured (--warm-only)" },
        blocks,
        revm_mgas_per_s: mgas_of(revm_ms),
        two_thread_ceiling: if pair_ms > 0.0 { 2.0 * revm_ms / pair_ms } else { 0.0 },
        summary,
        summary_best,
        summary_to_root,
        summary_to_root_best,
        auto,
        prefetch,
        ideal_speedup,
    }
}

/// The [`PrefetchRow`]s of the configurations that read ahead, in the summary's order.
fn prefetch_rows(blocks: &[BlockBench]) -> Vec<PrefetchRow> {
    let mut rows = Vec::new();
    for cache in ["warm", "cold"] {
        for &mode in ExecMode::ALL {
            for &threads in mode.thread_counts() {
                let modes = blocks.iter().flat_map(|block| &block.modes).filter(|times| {
                    times.mode == mode.name() && times.threads == threads && times.cache == cache
                });
                let (mut counts, mut prefetch_ms, mut any) =
                    (PrefetchCounts::default(), 0.0, false);
                for times in modes {
                    if let Some(read) = times.prefetch {
                        counts += read;
                        any = true;
                    }
                    prefetch_ms += times.prefetch_ms;
                }
                if any {
                    rows.push(PrefetchRow {
                        mode: mode.name(),
                        threads,
                        cache,
                        counts,
                        prefetch_ms,
                    });
                }
            }
        }
    }
    rows
}

/// What the blocks' access lists allow (see [`ListSpeedup`]), and the `bal` mode projected from its one-thread
/// times.
fn list_speedup(blocks: &[BlockBench]) -> ListSpeedup {
    let gas = |block: &BlockBench| {
        let path = &block.critical_path;
        (path.total_gas as f64, path.longest_gas as f64)
    };
    let total: f64 = blocks.iter().map(|block| gas(block).0).sum();
    let longest: f64 = blocks.iter().map(|block| gas(block).1).sum();
    let warm_ms = |block: &BlockBench, mode: ExecMode| {
        block
            .modes
            .iter()
            .find(|times| times.mode == mode.name() && times.threads == 1 && times.cache == "warm")
            .map(|times| times.prefetch_ms + times.execute_ms)
    };
    let projected = [2usize, 8, 32]
        .into_iter()
        .map(|cores| {
            let cores_f = cores as f64;
            // Per block, in gas: its time on `cores` cores at best, and at worst for a greedy schedule.
            let best = |(total, longest): (f64, f64)| (total / cores_f).max(longest);
            let greedy = |(total, longest): (f64, f64)| {
                longest.mul_add(1.0 - 1.0 / cores_f, total / cores_f)
            };
            let speedup = |time: f64| if time > 0.0 { total / time } else { 1.0 };
            let (mut bal, mut floor, mut sequential, mut measured) = (0.0, 0.0, 0.0, false);
            for block in blocks {
                let (Some(seq_ms), Some(bal_ms)) =
                    (warm_ms(block, ExecMode::Sequential), warm_ms(block, ExecMode::Bal))
                else {
                    continue;
                };
                let (block_total, largest) = gas(block);
                let fraction = if block.bal_parallel && block_total > 0.0 {
                    best((block_total, largest)) / block_total
                } else {
                    1.0
                };
                bal += bal_ms * fraction;
                floor += seq_ms * fraction;
                sequential += seq_ms;
                measured = true;
            }
            ListProjection {
                cores,
                at_most: speedup(blocks.iter().map(|block| best(gas(block))).sum()),
                at_least: speedup(blocks.iter().map(|block| greedy(gas(block))).sum()),
                bal_ratio_to_sequential: (measured && sequential > 0.0).then(|| bal / sequential),
                floor_ratio_to_sequential: (measured && sequential > 0.0)
                    .then(|| floor / sequential),
            }
        })
        .collect();
    ListSpeedup { corpus: if longest > 0.0 { total / longest } else { 1.0 }, projected }
}

/// The [`AutoRow`]s of the corpus, for each cache measured.
fn auto_rows(blocks: &[BlockBench], total_gas: u64) -> Vec<AutoRow> {
    let time = |block: &BlockBench, mode: &str, threads: usize, cache: &str| {
        block
            .modes
            .iter()
            .find(|times| times.mode == mode && times.threads == threads && times.cache == cache)
            .map(|times| times.prefetch_ms + times.execute_ms)
    };
    let mut rows = Vec::new();
    for cache in ["warm", "cold"] {
        for with_lists in [true, false] {
            let (mut total, mut sequential_total, mut parallel_blocks) = (0.0, 0.0, 0);
            let mut speedups = Vec::new();
            for block in blocks {
                let Some(sequential) = time(block, ExecMode::Sequential.name(), 1, cache) else {
                    continue;
                };
                let mode = if with_lists { block.auto.with_list } else { block.auto.without_list };
                let chosen = if mode == ExecMode::Sequential.name() {
                    sequential
                } else {
                    let Some(chosen) = time(block, mode, 2, cache) else { continue };
                    parallel_blocks += 1;
                    speedups.push((block.number, sequential / chosen));
                    chosen
                };
                total += chosen;
                sequential_total += sequential;
            }
            if sequential_total == 0.0 {
                continue;
            }
            rows.push(AutoRow {
                with_lists,
                cache,
                mgas_per_s: total_gas as f64 / 1e3 / total,
                ratio_to_sequential: total / sequential_total,
                parallel_blocks,
                slowest: speedups.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)),
                below_0_9: speedups
                    .iter()
                    .filter(|(_, speedup)| *speedup < 0.9)
                    .map(|(number, _)| *number)
                    .collect(),
            });
        }
    }
    rows
}

/// One Markdown row per summary row.
fn write_rows(out: &mut String, rows: &[SummaryRow]) {
    use std::fmt::Write as _;
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.2} | {:.2} |",
            row.mode,
            row.threads,
            row.cache,
            row.mgas_per_s,
            row.ratio_to_sequential,
            row.ratio_to_revm
        );
    }
}

impl BenchReport {
    /// The report as Markdown: the summary, the ideal speedups, then one row per block.
    pub fn to_markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "## Summary (median of {} runs per block; cold cache: {})\n",
            self.runs, self.cold_cache
        );
        let _ = writeln!(
            out,
            "| mode | threads | cache | Mgas/s | time / sequential | time / raw revm |"
        );
        let _ = writeln!(out, "|---|---:|---|---:|---:|---:|");
        let _ = writeln!(
            out,
            "| raw revm (CacheDB) | 1 | memory | {:.1} | | 1.00 |",
            self.revm_mgas_per_s
        );
        let _ = writeln!(
            out,
            "| raw revm + analysing the pre-state's code (diagnostic) | 1 | memory | {:.1} | | {:.2} |",
            self.revm_with_code_analysis_mgas_per_s,
            self.revm_mgas_per_s / self.revm_with_code_analysis_mgas_per_s.max(f64::MIN_POSITIVE)
        );
        let _ = writeln!(
            out,
            "| sequential on hash maps, no MDBX (diagnostic) | 1 | warm | {:.1} | | {:.2} |",
            self.sequential_in_memory_mgas_per_s,
            self.revm_mgas_per_s / self.sequential_in_memory_mgas_per_s.max(f64::MIN_POSITIVE)
        );
        write_rows(&mut out, &self.summary);
        let _ = writeln!(
            out,
            "\nTwo threads' ceiling on this machine (diagnostic): two copies of raw revm's run at once, one per \
             thread, nothing shared, do {:.2}× the work of one in the same time (2.00 would be perfect scaling); \
             a mode's speedup at two threads can be read against it.",
            self.two_thread_ceiling
        );
        let tables = [
            ("From the fastest run of each block (raw revm likewise):", &self.summary_best),
            (
                "To the state root (prefetch, execution and root; `bal+root` computes the root during execution), medians:",
                &self.summary_to_root,
            ),
            ("To the state root, fastest runs:", &self.summary_to_root_best),
        ];
        for (title, rows) in tables {
            let _ = writeln!(out, "\n{title}\n");
            let _ = writeln!(
                out,
                "| mode | threads | cache | Mgas/s | time / sequential | time / raw revm |"
            );
            let _ = writeln!(out, "|---|---:|---|---:|---:|---:|");
            write_rows(&mut out, rows);
        }
        let _ = writeln!(
            out,
            "\n`--exec auto` on 2 threads, each block in the mode auto picks (medians):\n\n\
             | blocks | cache | Mgas/s | time / sequential | parallel blocks | slowest (block: speedup) | below 0.9× |\n\
             |---|---|---:|---:|---:|---|---|"
        );
        for row in &self.auto {
            let slowest = row.slowest.map_or_else(
                || "-".to_owned(),
                |(number, speedup)| format!("{number}: {speedup:.2}"),
            );
            let below: Vec<String> = row.below_0_9.iter().map(u64::to_string).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {:.2} | {} | {slowest} | {} |",
                if row.with_lists { "with lists" } else { "without lists" },
                row.cache,
                row.mgas_per_s,
                row.ratio_to_sequential,
                row.parallel_blocks,
                if below.is_empty() { "none".to_owned() } else { below.join(", ") }
            );
        }
        if !self.prefetch.is_empty() {
            let _ = writeln!(
                out,
                "\nPrefetch over the corpus (counts from each block's last run; a read is one of the parent state \
                 that reached the mode's shared cache; what reading ahead saves on a cold cache is the summary's cold `time / sequential` \
                 against its warm one):\n\n\
                 | mode | threads | cache | accounts read ahead | slots read ahead | reads from the cache | reads from the store | hit rate | prefetch ms |\n\
                 |---|---:|---|---:|---:|---:|---:|---:|---:|"
            );
            for row in &self.prefetch {
                let PrefetchCounts { accounts, slots, hits, misses } = row.counts;
                let rate = hits as f64 / (hits + misses).max(1) as f64;
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {accounts} | {slots} | {hits} | {misses} | {:.1}% | {:.1} |",
                    row.mode,
                    row.threads,
                    row.cache,
                    rate * 100.0,
                    row.prefetch_ms
                );
            }
        }
        let ideal = &self.ideal_speedup;
        let _ = writeln!(
            out,
            "\nIdeal speedup from the critical paths (total gas / critical path): median {:.2}, best {:.2}, worst {:.2}, whole corpus {:.2}\n",
            ideal.median, ideal.best, ideal.worst, ideal.corpus
        );
        let projected: Vec<String> = ideal
            .projected
            .iter()
            .map(|(cores, speedup)| format!("{cores} cores {speedup:.2}"))
            .collect();
        let _ = writeln!(
            out,
            "Projected speedup over the corpus, at least (Brent's bound, total / (total / cores + critical path) per block): {}\n",
            projected.join(", ")
        );
        let lists = &ideal.with_lists;
        let _ = writeln!(
            out,
            "With the access lists, a transaction reads the list's writes instead of waiting for them: a block's critical path is its largest transaction (total gas / Σ largest: {:.2} over the corpus).\n",
            lists.corpus
        );
        let _ = writeln!(
            out,
            "| cores | speedup in gas, at most (Σ total / Σ max(total / cores, largest)) | at least (greedy, Graham's bound) | time / sequential at best, at sequential's one-thread cost | `bal` at its one-thread cost |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|");
        let ratio = |ratio: Option<f64>| {
            ratio.map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.3}"))
        };
        for row in &lists.projected {
            let _ = writeln!(
                out,
                "| {} | {:.2} | {:.2} | {} | {} |",
                row.cores,
                row.at_most,
                row.at_least,
                ratio(row.floor_ratio_to_sequential),
                ratio(row.bal_ratio_to_sequential)
            );
        }
        let _ = writeln!(
            out,
            "\nThe last two columns divide each block's measured one-thread time (warm, medians) by its speedup at best on that many cores (the blocks `bal` runs sequentially, before Byzantium, undivided): a perfectly scaling machine, every transaction costing what it costs on one thread. At 2 cores, read `bal`'s against its measured row above."
        );
        let _ = writeln!(out, "\n## Blocks (times in ms: prefetch / execute / root / commit)\n");
        let mut header = String::from(
            "| block | txs | Mgas | BAL bytes | critical path Mgas | ideal speedup | revm Mgas/s |",
        );
        let mut rule = String::from("|---:|---:|---:|---:|---:|---:|---:|");
        if let Some(first) = self.blocks.first() {
            for times in &first.modes {
                let _ = write!(
                    header,
                    " {} {}t {} Mgas/s | split |",
                    times.mode, times.threads, times.cache
                );
                rule.push_str("---:|---|");
            }
        }
        let _ = writeln!(out, "{header} notes |");
        let _ = writeln!(out, "{rule}---|");
        for block in &self.blocks {
            let _ = write!(
                out,
                "| {} | {} | {:.2} | {} | {:.2} | {:.2} | {:.1} |",
                block.number,
                block.txs,
                block.gas as f64 / 1e6,
                block.bal_bytes,
                block.critical_path.critical_gas as f64 / 1e6,
                block.critical_path.ideal_speedup,
                block.revm_mgas_per_s
            );
            for times in &block.modes {
                let commit =
                    times.commit_ms.map_or_else(|| "-".to_owned(), |commit| format!("{commit:.2}"));
                let _ = write!(
                    out,
                    " {:.1} | {:.2} / {:.2} / {:.2} / {commit} |",
                    times.mgas_per_s, times.prefetch_ms, times.execute_ms, times.root_ms
                );
            }
            let _ = writeln!(out, " {} |", block.notes.join("; "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(mode: &'static str, threads: usize, execute_ms: f64) -> ModeTimes {
        ModeTimes {
            mode,
            threads,
            cache: "warm",
            prefetch_ms: 0.0,
            prefetch: None,
            execute_ms,
            execute_best_ms: execute_ms,
            root_ms: 0.0,
            to_root_ms: execute_ms,
            to_root_best_ms: execute_ms,
            commit_ms: None,
            mgas_per_s: 0.0,
        }
    }

    fn block(number: u64, auto: AutoChoice, modes: Vec<ModeTimes>) -> BlockBench {
        BlockBench {
            number,
            txs: 10,
            gas: 1_000_000,
            bal_bytes: 0,
            critical_path: CriticalPath::default(),
            bal_parallel: true,
            revm_ms: 1.0,
            revm_best_ms: 1.0,
            revm_pair_ms: 1.0,
            revm_mgas_per_s: 0.0,
            code_analysis_ms: 0.0,
            sequential_in_memory_ms: 0.0,
            modes,
            auto,
            notes: Vec::new(),
        }
    }

    #[test]
    fn prefetch_rows_sum_the_blocks_of_each_configuration_that_reads_ahead() {
        let read = |accounts, hits, misses| {
            let mut times = times("optimistic", 2, 1.0);
            times.prefetch_ms = 0.5;
            times.prefetch = Some(PrefetchCounts { accounts, slots: 1, hits, misses });
            times
        };
        let choice = AutoChoice { with_list: "bal", without_list: "optimistic" };
        let blocks = [
            block(1, choice, vec![times("sequential", 1, 2.0), read(3, 10, 5)]),
            block(2, choice, vec![times("sequential", 1, 2.0), read(4, 20, 0)]),
        ];
        let rows = prefetch_rows(&blocks);
        assert_eq!(rows.len(), 1, "sequential execution reads nothing ahead: {rows:?}");
        let row = &rows[0];
        assert_eq!((row.mode, row.threads, row.cache), ("optimistic", 2, "warm"));
        let PrefetchCounts { accounts, slots, hits, misses } = row.counts;
        assert_eq!((accounts, slots, hits, misses), (7, 2, 30, 5));
        assert!((row.prefetch_ms - 1.0).abs() < 1e-9);
    }

    #[test]
    fn with_lists_a_blocks_largest_transaction_bounds_it_and_the_bal_mode_is_projected_from_one_thread()
     {
        let choice = AutoChoice { with_list: "bal", without_list: "optimistic" };
        let path = |total_gas, longest_gas| CriticalPath {
            total_gas,
            longest_gas,
            critical_gas: total_gas,
            ..CriticalPath::default()
        };
        let mut large = block(1, choice, vec![times("sequential", 1, 10.0), times("bal", 1, 11.0)]);
        large.critical_path = path(1_000, 600);
        // Run sequentially by the mode (before Byzantium): its one-thread time is not divided.
        let mut early = block(2, choice, vec![times("sequential", 1, 4.0), times("bal", 1, 4.0)]);
        early.critical_path = path(400, 100);
        early.bal_parallel = false;
        let lists = list_speedup(&[large, early]);
        assert!((lists.corpus - 1_400.0 / 700.0).abs() < 1e-9, "{lists:?}");
        let two = &lists.projected[0];
        assert_eq!(two.cores, 2);
        // At best max(500, 600) + max(200, 100); greedy at worst 500 + 300 and 200 + 50.
        assert!((two.at_most - 1_400.0 / 800.0).abs() < 1e-9, "{two:?}");
        assert!((two.at_least - 1_400.0 / 1_050.0).abs() < 1e-9, "{two:?}");
        // 11 ms × 600 / 1000 for the large block, 4 ms for the early one, over 14 ms.
        let bal = two.bal_ratio_to_sequential.unwrap();
        assert!((bal - (6.6 + 4.0) / 14.0).abs() < 1e-9, "{bal}");
        let floor = two.floor_ratio_to_sequential.unwrap();
        assert!((floor - (6.0 + 4.0) / 14.0).abs() < 1e-9, "{floor}");
        let at_32 = lists.projected.iter().find(|row| row.cores == 32).unwrap();
        assert!(
            (at_32.at_most - 1_400.0 / 700.0).abs() < 1e-9,
            "the largest transactions bound it"
        );
        // Without the `bal` mode's times, no projection of it.
        let unmeasured = block(3, choice, vec![times("sequential", 1, 1.0)]);
        assert_eq!(list_speedup(&[unmeasured]).projected[0].bal_ratio_to_sequential, None);
    }

    #[test]
    fn auto_rows_take_each_blocks_chosen_mode_and_name_the_slow_ones() {
        let (sequential, bal, optimistic) = ("sequential", "bal", "optimistic");
        let blocks = [
            block(
                1,
                AutoChoice { with_list: bal, without_list: optimistic },
                vec![times(sequential, 1, 4.0), times(bal, 2, 2.0), times(optimistic, 2, 5.0)],
            ),
            // Run sequentially without its list: sequential's own time, not counted as parallel.
            block(
                2,
                AutoChoice { with_list: bal, without_list: sequential },
                vec![times(sequential, 1, 6.0), times(bal, 2, 3.0), times(optimistic, 2, 9.0)],
            ),
        ];
        let rows = auto_rows(&blocks, 2_000_000);
        assert_eq!(rows.len(), 2, "the warm rows only: no block was measured cold");
        let (with, without) = (&rows[0], &rows[1]);
        assert!(with.with_lists && !without.with_lists);
        assert!((with.ratio_to_sequential - 0.5).abs() < 1e-9);
        assert_eq!((with.parallel_blocks, with.below_0_9.len()), (2, 0));
        assert!((without.ratio_to_sequential - 1.1).abs() < 1e-9);
        assert_eq!(without.parallel_blocks, 1);
        assert_eq!(without.below_0_9, vec![1]);
        assert_eq!(without.slowest.map(|(number, _)| number), Some(1));
        // 2 Mgas over 5 ms (block 1, optimistic) and 6 ms (block 2, sequential).
        let expected_mgas_per_s = 2.0 / 0.011;
        assert!((without.mgas_per_s - expected_mgas_per_s).abs() < 1e-6);
    }
}
