//! The import pipeline: one block at a time through every check, then one write transaction.
//!
//! decode (the caller) → known? → header against the parent → body and ommers → senders (in parallel) →
//! execute on the parent state → gas, receipts root, bloom, requests hash → state root → BAL hash → commit.
//! Nothing of a block that fails a step is written.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_consensus::{AncestorHeaders, ConsensusError};
use balnode_executor::{
    BlockExecutionOutput, BlockShape, ChangesSoFar, ExecMode, ExecutionError, Strategy,
    execute_block_optimistic, execute_block_parallel_bal, execute_block_parallel_bal_with,
    execute_block_with_bal, first_output_difference, supports_optimistic, supports_parallel_bal,
    worker_pool,
};
use balnode_primitives::{
    Address, B256, Block, BlockHash, BlockNumber, Bytes, Header, TxEnvelope,
    consensus::transaction::SignerRecoverable, keccak256,
};
use balnode_storage_api::{
    BlockHashReader, BlockReader, BlockToCommit, BlockWriter, ChainInfoReader, HeaderProvider,
    ProviderError, StateProviderFactory,
};
use balnode_storage_mdbx::DatabaseEnv;
use balnode_trie::{HashedPostState, Parallelism, parallel_state_root};
use rayon::prelude::*;
use tracing::{debug, warn};

use crate::metrics;

use crate::bal_check::{self, BalCheckError};

/// The store's canonical chain as the ommer rules read it. A read that fails counts as an unknown block: the
/// ommer rules then reject the block rather than accept it unchecked.
struct StoreAncestors<'a>(&'a DatabaseEnv);

impl AncestorHeaders for StoreAncestors<'_> {
    fn header_by_hash(&self, hash: B256) -> Option<Header> {
        self.0.header(hash).ok().flatten()
    }

    fn ommers_by_hash(&self, hash: B256) -> Option<Vec<Header>> {
        let number = self.0.block_number(hash).ok().flatten()?;
        self.0.body(number).ok().flatten().map(|body| body.ommers)
    }
}

/// Why a block was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The block's parent is not the head of the store.
    #[error(
        "block {number} ({hash}) does not extend the head: its parent {parent} is not block {head_number} ({head_hash})"
    )]
    NotOnHead {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: BlockHash,
        /// Its parent hash.
        parent: BlockHash,
        /// The head's number.
        head_number: BlockNumber,
        /// The head's hash.
        head_hash: BlockHash,
    },
    /// The header, body or ommers break a consensus rule, or execution's results differ from the header.
    #[error("block {number} ({hash}) is invalid: {source}")]
    Consensus {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: BlockHash,
        /// The rule.
        #[source]
        source: ConsensusError,
    },
    /// A transaction's signature does not recover a sender.
    #[error("block {number} ({hash}): transaction {index} has an invalid signature: {reason}")]
    InvalidSignature {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: BlockHash,
        /// The transaction's index.
        index: usize,
        /// What was wrong.
        reason: String,
    },
    /// Execution failed: an invalid transaction, a failing system call.
    #[error("block {number} ({hash}) failed to execute: {source}")]
    Execution {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: BlockHash,
        /// What failed (boxed: execution errors are large, and this is the cold path).
        #[source]
        source: Box<ExecutionError>,
    },
    /// The state root after execution differs from the header's.
    #[error(
        "block {number} ({hash}): state root mismatch: header says {expected}, execution gives {got}"
    )]
    StateRoot {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: BlockHash,
        /// The header's root.
        expected: B256,
        /// The computed root.
        got: B256,
    },
    /// The block access list carried with the block does not hash to the header's `blockAccessListHash`.
    #[error(
        "block {number} ({hash}): the block access list hashes to {got}, the header says {expected:?}"
    )]
    BlockAccessListHash {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: BlockHash,
        /// The header's hash, `None` when the header has none (before Amsterdam).
        expected: Option<B256>,
        /// The hash of the list carried.
        got: B256,
    },
    /// The block access list is malformed, or differs from the one execution built.
    #[error("block {number} ({hash}): {source}")]
    BlockAccessList {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: BlockHash,
        /// What is wrong with it (boxed: a structure error names slots and values, and this is the cold
        /// path).
        #[source]
        source: Box<BalCheckError>,
    },
    /// The store failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl ImportError {
    /// Whether the error says the block is invalid (as opposed to a storage failure or a block that does not
    /// fit the store's head).
    pub const fn is_invalid_block(&self) -> bool {
        !matches!(self, Self::Provider(_) | Self::NotOnHead { .. })
    }
}

/// What happened to a block handed to [`Importer::import`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// The store already had it as a canonical block; nothing was done.
    Known,
    /// It was validated, executed and committed.
    Committed {
        /// Gas the block used.
        gas_used: u64,
        /// Transactions in the block.
        transactions: usize,
    },
}

/// Imports blocks into a store, each through the full validation path.
#[derive(Debug, Clone)]
pub struct Importer {
    spec: Arc<ChainSpec>,
    store: DatabaseEnv,
    /// Build (and store) a block access list for every block, not only Amsterdam ones.
    generate_bals: bool,
    /// How blocks execute.
    execution: Execution,
}

/// How an importer executes blocks: the mode, and the workers of the parallel modes (which also recover
/// senders and compute state roots).
#[derive(Debug, Clone, Default)]
pub struct Execution {
    /// The mode.
    pub mode: ExecMode,
    /// The workers; `None`: the current rayon pool (the global one, or the one the caller runs in).
    pub pool: Option<Arc<rayon::ThreadPool>>,
    /// What the blocks executed with it ran as (shared by the clones).
    pub counters: Arc<ExecCounters>,
    /// Differential checking: every block runs sequentially, and (from Byzantium on) again in the
    /// BAL-parallel mode with the list the sequential run built and in the optimistic mode; the outputs are
    /// compared (receipts, gas, requests, state changes, list). A difference counts in
    /// [`ExecCounters::disagreements`] and is logged. The mode is then only the one being checked against.
    pub differential: bool,
}

/// How many blocks ran in each way.
#[derive(Debug, Default)]
pub struct ExecCounters {
    /// Blocks executed sequentially (by mode, or having no list to drive the parallel mode).
    pub sequential: AtomicU64,
    /// Blocks executed in BAL-parallel mode whose result verified.
    pub parallel: AtomicU64,
    /// Of the `parallel` blocks, those whose state root was computed while their transactions executed, on
    /// the list's post-state (all but the blocks whose post-state takes an ordered commit).
    pub early_roots: AtomicU64,
    /// Blocks executed in the optimistic mode.
    pub optimistic: AtomicU64,
    /// Transactions the optimistic mode executed again (stale reads or failed speculation).
    pub reexecuted: AtomicU64,
    /// Blocks whose BAL-parallel run failed or built a different list, re-executed sequentially: each one is
    /// a block with a wrong list (or a bug in the parallel mode).
    pub fallbacks: AtomicU64,
    /// Fallbacks whose sequential run then built exactly the list the block carried: the parallel mode
    /// failed a valid list. Always zero unless the parallel mode has a bug.
    pub disagreements: AtomicU64,
    /// Blocks run twice for [`Execution::differential`].
    pub differential_checks: AtomicU64,
}

impl ExecCounters {
    /// `(sequential, parallel, fallbacks, disagreements)` now.
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.sequential.load(Ordering::Relaxed),
            self.parallel.load(Ordering::Relaxed),
            self.fallbacks.load(Ordering::Relaxed),
            self.disagreements.load(Ordering::Relaxed),
        )
    }
}

impl Execution {
    /// `mode` on a pool of `threads` workers (`None`: the current rayon pool).
    ///
    /// # Errors
    /// When the thread pool cannot be created.
    pub fn new(
        mode: ExecMode,
        threads: Option<usize>,
    ) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pool = match threads {
            Some(threads) => Some(Arc::new(worker_pool(threads)?)),
            None => None,
        };
        Ok(Self { mode, pool, counters: Arc::default(), differential: false })
    }

    /// The number of workers.
    pub fn threads(&self) -> usize {
        self.pool
            .as_ref()
            .map_or_else(rayon::current_num_threads, |pool| pool.current_num_threads())
    }

    /// Runs `op` on the workers. (Never call it from a thread of another rayon pool that also runs work of
    /// this kind: that thread would take on more of its own pool's work while it waits.)
    pub fn install<R: Send>(&self, op: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(op),
            None => op(),
        }
    }

    /// The same mode and counters, on the current pool: for the work [`Execution::install`] runs.
    #[must_use]
    pub fn on_current_pool(&self) -> Self {
        Self { pool: None, ..self.clone() }
    }
}

impl Importer {
    /// An importer for the chain `spec` into `store`, which must hold that chain's genesis.
    pub fn new(spec: Arc<ChainSpec>, store: DatabaseEnv) -> Self {
        Self { spec, store, generate_bals: false, execution: Execution::default() }
    }

    /// Executes blocks as `execution` says (default: [`ExecMode::Auto`] on one worker per core).
    #[must_use]
    pub fn with_execution(mut self, execution: Execution) -> Self {
        self.execution = execution;
        self
    }

    /// An importer that builds and stores the block access list of every block, whatever its fork: what
    /// `balnode bal generate` exports. (Amsterdam blocks always get theirs, and a list that came with a block
    /// is always checked against the one execution builds.)
    #[must_use]
    pub const fn generating_bals(mut self) -> Self {
        self.generate_bals = true;
        self
    }

    /// The store.
    pub const fn store(&self) -> &DatabaseEnv {
        &self.store
    }

    /// The chain.
    pub const fn spec(&self) -> &Arc<ChainSpec> {
        &self.spec
    }

    /// Validates, executes and commits `block` on top of the head; `block_access_list` is the block's
    /// EIP-7928 list as RLP, when it came with one.
    pub fn import(
        &self,
        block: &Block,
        block_access_list: Option<&Bytes>,
    ) -> Result<Imported, ImportError> {
        let imported = self.import_block(block, block_access_list);
        if let Err(error) = &imported {
            metrics::rejected(error);
        }
        imported
    }

    /// [`Importer::import`] without the rejection metric.
    fn import_block(
        &self,
        block: &Block,
        block_access_list: Option<&Bytes>,
    ) -> Result<Imported, ImportError> {
        let hash = block.header.hash_slow();
        let number = block.header.number;
        if self.store.block_hash(number)? == Some(hash) {
            return Ok(Imported::Known);
        }
        let info = self.store.chain_info()?;
        if block.header.parent_hash != info.head_hash || number != info.head_number + 1 {
            return Err(ImportError::NotOnHead {
                number,
                hash,
                parent: block.header.parent_hash,
                head_number: info.head_number,
                head_hash: info.head_hash,
            });
        }
        let parent = self
            .store
            .header_by_number(info.head_number)?
            .ok_or(ProviderError::BlockNotFound(info.head_number))?;
        let to_commit = self.execution.install(|| {
            self.validate_and_execute(block, hash, &parent, info.head_hash, block_access_list)
        })?;
        let (gas_used, transactions) =
            (to_commit.header.gas_used, to_commit.body.transactions.len());
        let started = Instant::now();
        self.store.commit_blocks(vec![to_commit])?;
        metrics::phase("commit", started.elapsed());
        metrics::committed(number, transactions, gas_used, &self.execution.counters);
        debug!(target: "import", number, %hash, gas_used, transactions, "Imported block");
        Ok(Imported::Committed { gas_used, transactions })
    }

    /// Every check of `block` against its parent, and its execution; returns what to commit.
    fn validate_and_execute(
        &self,
        block: &Block,
        hash: BlockHash,
        parent: &Header,
        parent_hash: BlockHash,
        block_access_list: Option<&Bytes>,
    ) -> Result<BlockToCommit, ImportError> {
        let spec = &self.spec;
        let header = &block.header;
        let number = header.number;
        let invalid = |source| ImportError::Consensus { number, hash, source };

        balnode_consensus::validate_header_standalone(spec, header).map_err(invalid)?;
        balnode_consensus::validate_header_against_parent(spec, header, parent, parent_hash)
            .map_err(invalid)?;
        balnode_consensus::validate_body(spec, header, &block.body).map_err(invalid)?;
        balnode_consensus::validate_ommers(
            spec,
            header,
            &block.body.ommers,
            &StoreAncestors(&self.store),
        )
        .map_err(invalid)?;
        let amsterdam = spec.is_active_at(Hardfork::Amsterdam, number, header.timestamp);
        let bal_error =
            |source| ImportError::BlockAccessList { number, hash, source: Box::new(source) };
        let carried = match block_access_list {
            Some(list) => {
                // Before Amsterdam the header has no hash: the list is checked against the built one.
                let got = keccak256(list);
                if amsterdam && header.block_access_list_hash != Some(got) {
                    return Err(ImportError::BlockAccessListHash {
                        number,
                        hash,
                        expected: header.block_access_list_hash,
                        got,
                    });
                }
                Some((list, bal_check::check_carried(spec, block, list).map_err(bal_error)?))
            }
            None => None,
        };

        let senders = self.recover_senders(block, hash)?;
        // One snapshot of the parent state serves execution and the state roots.
        let latest = self.store.provider()?.into_latest()?;
        // Pre-Byzantium receipts: the incremental root over the parent's trie, nothing persisted.
        let intermediate_root = |so_far: &ChangesSoFar<'_>| {
            let hashed = HashedPostState::from_changes(&so_far.changes());
            Ok(parallel_state_root(&latest, &hashed, Parallelism::CurrentPool)?.root)
        };
        let keep_list = self.generate_bals || carried.is_some() || amsterdam;
        let sequential_with = |build_bal: bool| {
            execute_block_with_bal(
                spec,
                block,
                &senders,
                &latest,
                Some(&intermediate_root),
                build_bal,
            )
            .map_err(|source| ImportError::Execution {
                number,
                hash,
                source: Box::new(source),
            })
        };
        let sequential = || sequential_with(keep_list);
        let open_reader = || self.store.latest();
        let counters = &self.execution.counters;
        // The differential check runs the block sequentially for the reference, then every parallel mode.
        let strategy = if self.execution.differential {
            Strategy::Sequential
        } else {
            self.execution
                .mode
                .strategy(BlockShape::new(&senders, carried.is_some()), self.execution.threads())
        };
        let started = Instant::now();
        // The incremental root of a post-state over the parent's; in BAL mode computed on the list's
        // post-state while the transactions run.
        let mut early_root = None;
        let root_on_list = |changes: &_| {
            let started = Instant::now();
            let hashed = HashedPostState::from_changes(changes);
            (parallel_state_root(&latest, &hashed, Parallelism::CurrentPool), started.elapsed())
        };
        let output: BlockExecutionOutput = match (strategy, &carried) {
            (Strategy::Bal, Some((_, list))) if supports_parallel_bal(spec, block) => {
                match execute_block_parallel_bal_with(
                    spec,
                    block,
                    &senders,
                    &latest,
                    list,
                    Some(&open_reader),
                    Some(&root_on_list),
                ) {
                    // An output exists only when execution confirmed every entry of the list, which it
                    // returns (see the executor); the comparison guards that contract.
                    Ok((output, root)) if output.block_access_list.as_ref() == Some(list) => {
                        self.execution.counters.parallel.fetch_add(1, Ordering::Relaxed);
                        if root.is_some() {
                            self.execution.counters.early_roots.fetch_add(1, Ordering::Relaxed);
                        }
                        early_root = root;
                        output
                    }
                    outcome => {
                        self.execution.counters.fallbacks.fetch_add(1, Ordering::Relaxed);
                        // A wrong list: the sequential run gives the block's verdict and the first difference.
                        debug!(target: "import", number, %hash, failed = outcome.is_err(), "BAL-parallel execution did not verify; executing sequentially");
                        let output = sequential()?;
                        if output.block_access_list.as_ref() == Some(list) {
                            // The list was right after all: the parallel mode is wrong. The sequential result
                            // stands; the counter makes the differential tests fail.
                            self.execution.counters.disagreements.fetch_add(1, Ordering::Relaxed);
                            warn!(target: "import", number, %hash, outcome = ?outcome.err(), "BAL-parallel execution disagrees with sequential execution on a valid list");
                        }
                        output
                    }
                }
            }
            (Strategy::Optimistic, None) if supports_optimistic(spec, block) => {
                match execute_block_optimistic(
                    spec,
                    block,
                    &senders,
                    &latest,
                    keep_list,
                    Some(&open_reader),
                ) {
                    Ok((output, stats)) => {
                        counters.optimistic.fetch_add(1, Ordering::Relaxed);
                        counters.reexecuted.fetch_add(stats.reexecuted, Ordering::Relaxed);
                        output
                    }
                    Err(error) => {
                        // An invalid block (or a bug): the sequential run gives the verdict.
                        counters.fallbacks.fetch_add(1, Ordering::Relaxed);
                        debug!(target: "import", number, %hash, %error, "Optimistic execution failed; executing sequentially");
                        let output = sequential()?;
                        counters.disagreements.fetch_add(1, Ordering::Relaxed);
                        warn!(target: "import", number, %hash, %error, "Optimistic execution failed on a valid block");
                        output
                    }
                }
            }
            _ => {
                self.execution.counters.sequential.fetch_add(1, Ordering::Relaxed);
                if self.execution.differential && supports_parallel_bal(spec, block) {
                    let mut output = sequential_with(true)?;
                    self.differential_check(block, hash, &senders, &latest, &output);
                    if !keep_list {
                        output.block_access_list = None;
                    }
                    output
                } else {
                    sequential()?
                }
            }
        };
        let mut execute = started.elapsed();
        if let Some(prefetch) = &output.prefetch {
            metrics::prefetched(prefetch);
            execute = execute.saturating_sub(prefetch.elapsed);
        }
        metrics::phase("execute", execute);
        let block_access_list = match &output.block_access_list {
            Some(built) => Some(
                bal_check::check_built(spec, block, built, carried.as_ref().map(|(r, l)| (*r, l)))
                    .map_err(bal_error)?,
            ),
            None => None,
        };

        let requests_hash = spec
            .is_active_at(Hardfork::Prague, number, header.timestamp)
            .then(|| output.requests.requests_hash());
        balnode_consensus::validate_post_execution(
            header,
            &output.receipts,
            output.gas_used,
            requests_hash,
        )
        .map_err(invalid)?;
        // The incremental root over the parent's hashed state and trie; its node updates are committed with
        // the block, in the same write transaction.
        // In BAL mode usually computed during execution, on the list's post-state, which execution confirmed
        // is `output.state`.
        let (trie, elapsed) = early_root.unwrap_or_else(|| root_on_list(&output.state));
        metrics::phase("root", elapsed);
        let trie = trie?;
        let state_root = trie.root;
        if state_root != header.state_root {
            return Err(ImportError::StateRoot {
                number,
                hash,
                expected: header.state_root,
                got: state_root,
            });
        }

        Ok(BlockToCommit {
            header: block.header.clone(),
            hash,
            body: block.body.clone(),
            senders,
            receipts: output.receipts,
            block_access_list,
            state: output.state,
            trie_updates: Some(trie.updates),
        })
    }

    /// Runs `block` in BAL-parallel mode with the list the sequential run built, and compares the outputs.
    fn differential_check(
        &self,
        block: &Block,
        hash: BlockHash,
        senders: &[Address],
        state: &impl balnode_storage_api::StateProvider,
        reference: &BlockExecutionOutput,
    ) {
        let counters = &self.execution.counters;
        counters.differential_checks.fetch_add(1, Ordering::Relaxed);
        let Some(list) = &reference.block_access_list else { return };
        let open_reader = || self.store.latest();
        let parallel =
            execute_block_parallel_bal(&self.spec, block, senders, state, list, Some(&open_reader));
        let mut differences = vec![(
            "BAL-parallel",
            match parallel {
                Ok(output) => first_output_difference(reference, &output),
                Err(error) => Some(format!("the parallel run failed: {error}")),
            },
        )];
        if supports_optimistic(&self.spec, block) {
            let optimistic = execute_block_optimistic(
                &self.spec,
                block,
                senders,
                state,
                true,
                Some(&open_reader),
            );
            differences.push((
                "optimistic",
                match optimistic {
                    Ok((output, _)) => first_output_difference(reference, &output),
                    Err(error) => Some(format!("the optimistic run failed: {error}")),
                },
            ));
        }
        for (mode, difference) in differences {
            if let Some(difference) = difference {
                counters.disagreements.fetch_add(1, Ordering::Relaxed);
                warn!(target: "import", number = block.header.number, %hash, mode, difference, "A parallel mode differs from sequential execution");
            }
        }
    }

    /// The sender of every transaction, recovered in parallel. From Homestead on, signatures with a high `s`
    /// are invalid (EIP-2).
    fn recover_senders(&self, block: &Block, hash: BlockHash) -> Result<Vec<Address>, ImportError> {
        let header = &block.header;
        let homestead =
            self.spec.is_active_at(Hardfork::Homestead, header.number, header.timestamp);
        let recover = |transaction: &TxEnvelope| {
            if homestead {
                transaction.recover_signer()
            } else {
                transaction.recover_signer_unchecked()
            }
        };
        block
            .body
            .transactions
            .par_iter()
            .enumerate()
            .map(|(index, transaction)| {
                recover(transaction).map_err(|error| ImportError::InvalidSignature {
                    number: header.number,
                    hash,
                    index,
                    reason: error.to_string(),
                })
            })
            .collect()
    }
}
