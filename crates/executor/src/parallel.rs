//! BAL-parallel execution: every transaction on its own worker, against the parent state plus the block
//! access list's writes of the indices before it, with no waiting between transactions.
//!
//! Why the result is exactly the sequential one. A coordinator runs the pre-execution system calls
//! (index 0), then commits the workers' results in block order into one `State` that builds the block's
//! access list from what was committed — the same builder, fed the same per-transaction state changes, as
//! sequential execution. Worker `i` reads the parent state overlaid with the given list's writes at indices
//! `< i + 1` (revm's `State::with_bal`); a read the list does not cover is an error. If the built list
//! equals the given one (the import pipeline checks it, naming the first difference), then by induction
//! over the indices every worker read exactly what sequential execution would have: index 0's writes were
//! computed on the parent state, and each later index read only writes that execution itself confirmed.
//! So a wrong list can make a worker fail or produce a different list, never a wrong accepted block.
//!
//! Not handled here (the caller runs such blocks sequentially): blocks before Byzantium, whose receipts
//! carry a state root after every transaction.

use std::{cmp::min, sync::Arc};

use alloy_evm::{
    Evm, FromRecoveredTx,
    block::{BalIndexedDatabase, BlockExecutionError, BlockExecutor, BlockValidationError},
    eth::{
        EthTxResult,
        receipt_builder::{ReceiptBuilder, ReceiptBuilderCtx},
    },
};
use alloy_hardforks::EthereumHardforks;
use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_primitives::{
    Address, Block, ReceiptEnvelope,
    consensus::{Receipt, Transaction, TxEnvelope, TxType, transaction::Recovered},
    eips::eip7928::BlockAccessList,
    primitives::Log,
};
use balnode_storage_api::StateProvider;
use rayon::prelude::*;
use revm::{
    DatabaseCommit,
    context::{Block as _, Cfg, TxEnv},
    context_interface::result::{HaltReason, ResultAndState, ResultGas},
    database::{State, WrapDatabaseRef},
    state::{
        EvmState,
        bal::{Bal, BlockAccessIndex},
    },
};
use tracing::{debug, trace};

use crate::{
    ExecutionError,
    execute::{
        BlockExec, BlockExecutionOutput, block_executor, check_worst_case_fits, finish_block,
        transact_bal_v5_7,
    },
    prefetch::{OpenReader, PrefetchedState},
};

/// One transaction's result, executed but not committed.
pub(crate) type TxOutput = EthTxResult<HaltReason, TxType>;

/// The state view of a worker or of the coordinator: the prefetched parent state, through revm's `State`.
type ParentState<'p, P> = State<WrapDatabaseRef<&'p PrefetchedState<P>>>;

/// Whether [`execute_block_parallel_bal`] can run `block`: from Byzantium on (earlier receipts carry a state
/// root after every transaction, which only sequential execution produces).
pub fn supports_parallel_bal(spec: &ChainSpec, block: &Block) -> bool {
    spec.is_active_at(Hardfork::Byzantium, block.header.number, block.header.timestamp)
}

/// Executes `block` on `state` (the parent's post-state) with its transactions in parallel on the current
/// rayon pool (`ThreadPool::install` one to choose the workers),
/// driven by `block_access_list`, the list that came with the block (already structurally validated).
/// `open_reader` gives the prefetch more readers of the same state (see [`OpenReader`]).
///
/// Returns what [`execute_block`](crate::execute_block) returns, with the block access list built from the
/// committed results: the caller must check that it equals `block_access_list` before trusting the output
/// (the import pipeline does). An error may come from a wrong list (a read outside it, or a value that made
/// a transaction invalid): run the block sequentially to learn the block's true verdict.
pub fn execute_block_parallel_bal<P: StateProvider>(
    spec: &Arc<ChainSpec>,
    block: &Block,
    senders: &[Address],
    state: P,
    block_access_list: &BlockAccessList,
    open_reader: Option<OpenReader<'_>>,
) -> Result<BlockExecutionOutput, ExecutionError> {
    let transactions = &block.body.transactions;
    if senders.len() != transactions.len() {
        return Err(ExecutionError::SenderCount {
            senders: senders.len(),
            transactions: transactions.len(),
        });
    }
    if !supports_parallel_bal(spec, block) {
        return Err(ExecutionError::NoIntermediateRoot);
    }
    let bal = Arc::new(
        Bal::try_from(block_access_list.clone())
            .map_err(|error| ExecutionError::Bal(format!("code in the list: {error}")))?,
    );
    // Everything the list names, read ahead in parallel into one cache the workers share.
    let prefetched =
        PrefetchedState::new(state, block_access_list, open_reader).map_err(|error| error.0)?;
    let state = &prefetched;

    let coordinator = State::builder()
        .with_database_ref(state)
        .with_bundle_update()
        .with_bal(bal.clone())
        .with_bal_builder()
        .build();
    let mut executor = block_executor(spec, block, coordinator);
    BalIndexedDatabase::set_bal_index(executor.evm_mut().db_mut(), 0);
    executor
        .apply_pre_execution_changes()
        .map_err(|error| ExecutionError::PreExecution(Box::new(error)))?;

    let started = std::time::Instant::now();
    // Every transaction at once: each worker keeps one EVM and gives it a fresh state view per transaction.
    let worker_state = |index: u64| -> ParentState<'_, P> {
        let mut db = State::builder().with_database_ref(state).with_bal(bal.clone()).build();
        BalIndexedDatabase::set_bal_index(&mut db, index);
        db
    };
    // Then, in block order, the coordinator commits them. (Committing on a thread of its own while the workers
    // go on, as the optimistic mode does, measured no faster here: a hand-off and a wake-up per transaction.)
    // It owns only the `State`; the workers build the receipts.
    let mut committer = Committer::new(&executor, worker_state(0));
    std::mem::swap(executor.evm_mut().db_mut(), &mut committer.state);
    let arrivals: Vec<Arrival> = transactions
        .par_iter()
        .zip(senders.par_iter())
        .enumerate()
        .map_init(
            || block_executor(spec, block, worker_state(0)),
            |worker, (index, (transaction, sender))| {
                *worker.evm_mut().db_mut() = worker_state(index as u64 + 1);
                // Under `bal@v5.7.0` the coordinator makes that release's inclusion check instead of
                // alloy-evm's (from the worst case the worker works out), and needs the state-gas credits
                // failed frames gave up.
                let (worst_case, output) = if worker.evm.runs_bal_v5_7() {
                    let tx_env = TxEnv::from_recovered_tx(transaction, *sender);
                    let worst_case = worker.evm.bal_v5_7_worst_case_gas(&tx_env);
                    (Some(worst_case), transact_bal_v5_7(worker, tx_env, transaction))
                } else {
                    let recovered = Recovered::new_unchecked(transaction, *sender);
                    (None, worker.execute_transaction_without_commit(recovered).map(|o| (o, 0)))
                };
                let output =
                    output.map(|(output, discarded)| Executed::new(worker, output, discarded));
                trace!(target: "exec::bal", index, ok = output.is_ok(), "Executed transaction");
                Arrival { index, worst_case, output }
            },
        )
        .collect();
    let parallel_phase = started.elapsed();
    committer.commit_in_order(transactions, arrivals)?;
    let committed = started.elapsed();
    let commit_phase = committed - parallel_phase;
    committer.hand_back(&mut executor);
    let mut output = finish_block(spec, block, executor)?;
    let prefetch = prefetched.stats();
    debug!(target: "exec::bal", number = block.header.number, transactions = transactions.len(), threads = rayon::current_num_threads(), ?prefetch, ?parallel_phase, ?commit_phase, "Executed block in parallel");
    output.prefetch = Some(prefetch);
    Ok(output)
}

/// What a worker sends the coordinator for transaction `index`.
struct Arrival {
    index: usize,
    /// The most regular and state gas the transaction can use, for `bal@v5.7.0`'s inclusion check.
    worst_case: Option<(u64, u64)>,
    output: Result<Executed, BlockExecutionError>,
}

/// A transaction executed by a worker: its receipt (with its own gas as the cumulative gas, until the
/// coordinator knows the block's), its gas and its state changes, not yet committed.
pub(crate) struct Executed {
    pub(crate) receipt: ReceiptEnvelope,
    pub(crate) gas: ResultGas,
    pub(crate) blob_gas_used: u64,
    pub(crate) state: EvmState,
    /// The state-gas credits its failed frames gave up (`bal@v5.7.0` only).
    pub(crate) discarded: u64,
}

impl Executed {
    pub(crate) fn new<DB: alloy_evm::Database>(
        worker: &BlockExec<'_, DB>,
        output: TxOutput,
        discarded: u64,
    ) -> Self {
        let EthTxResult { result: ResultAndState { result, state }, blob_gas_used, tx_type } =
            output;
        let gas = *result.gas();
        let receipt = worker.receipt_builder.build_receipt(ReceiptBuilderCtx {
            tx_type,
            evm: &worker.evm,
            result,
            state: &state,
            cumulative_gas_used: gas.tx_gas_used(),
        });
        Self { receipt, gas, blob_gas_used, state, discarded }
    }
}

/// The coordinator's side of a block: the `State` the results are committed into (whose builder rebuilds
/// the block access list), and what alloy-evm's block executor counts as it commits.
pub(crate) struct Committer<DB> {
    pub(crate) state: State<DB>,
    pub(crate) receipts: Vec<ReceiptEnvelope>,
    pub(crate) cumulative_tx_gas_used: u64,
    pub(crate) block_regular_gas_used: u64,
    pub(crate) block_state_gas_used: u64,
    pub(crate) blob_gas_used: u64,
    gas_limit: u64,
    tx_gas_limit_cap: u64,
    eip8037: bool,
    skip_state_gas_capacity_check: bool,
    cancun: bool,
    bal_v5_7: bool,
}

impl<DB: revm::Database> Committer<DB> {
    /// Takes the block's limits and rules from `executor`; `state` is a placeholder until the executor's
    /// own is swapped in.
    pub(crate) fn new<E: alloy_evm::Database>(
        executor: &BlockExec<'_, E>,
        state: State<DB>,
    ) -> Self {
        let evm = &executor.evm;
        let cfg = evm.cfg_env();
        Self {
            state,
            receipts: Vec::new(),
            cumulative_tx_gas_used: executor.cumulative_tx_gas_used,
            block_regular_gas_used: executor.block_regular_gas_used,
            block_state_gas_used: executor.block_state_gas_used,
            blob_gas_used: executor.blob_gas_used,
            gas_limit: evm.block().gas_limit(),
            tx_gas_limit_cap: cfg.tx_gas_limit_cap(),
            eip8037: cfg.enable_amsterdam_eip8037,
            skip_state_gas_capacity_check: executor.skip_state_gas_capacity_check,
            bal_v5_7: evm.runs_bal_v5_7(),
            cancun: executor
                .spec
                .is_cancun_active_at_timestamp(evm.block().timestamp().saturating_to()),
        }
    }

    /// Gives the executor its state back, with the receipts and the gas counted: it finishes the block.
    pub(crate) fn hand_back(mut self, executor: &mut BlockExec<'_, State<DB>>)
    where
        State<DB>: alloy_evm::Database,
    {
        std::mem::swap(executor.evm_mut().db_mut(), &mut self.state);
        executor.receipts = self.receipts;
        executor.cumulative_tx_gas_used = self.cumulative_tx_gas_used;
        executor.block_regular_gas_used = self.block_regular_gas_used;
        executor.block_state_gas_used = self.block_state_gas_used;
        executor.blob_gas_used = self.blob_gas_used;
    }

    /// Commits the workers' results in block order (they may come in any order). Stops at the first
    /// transaction that fails.
    fn commit_in_order(
        &mut self,
        transactions: &[TxEnvelope],
        arrivals: impl IntoIterator<Item = Arrival>,
    ) -> Result<(), ExecutionError> {
        let mut waiting: Vec<Option<Arrival>> =
            std::iter::repeat_with(|| None).take(transactions.len()).collect();
        self.receipts.reserve(transactions.len());
        let mut next = 0;
        for arrival in arrivals {
            let index = arrival.index;
            waiting[index] = Some(arrival);
            while let Some(arrival) = waiting.get_mut(next).and_then(Option::take) {
                let transaction = &transactions[next];
                let committed = self
                    .check_block_gas(transaction, arrival.worst_case)
                    .and(arrival.output)
                    .map(|executed| self.commit(next, executed))
                    .map_err(|source| ExecutionError::Transaction {
                        index: next,
                        hash: *transaction.tx_hash(),
                        source: Box::new(source),
                    });
                committed?;
                next += 1;
            }
        }
        debug_assert_eq!(next, transactions.len(), "every result was received");
        Ok(())
    }

    /// What alloy-evm's block executor does when it commits a transaction: count its gas, set its receipt's
    /// cumulative gas, commit its changes at its index of the access list.
    pub(crate) fn commit(&mut self, index: usize, executed: Executed) {
        let Executed { mut receipt, gas, blob_gas_used, state, discarded } = executed;
        let mut regular = gas.block_regular_gas_used();
        if self.bal_v5_7 {
            // `bal@v5.7.0` counts `max(spent - state gas - discarded, floor)`: the credits failed frames gave
            // up stay out of the block's regular gas.
            regular = regular.min(
                gas.total_gas_spent()
                    .saturating_sub(gas.block_state_gas_used())
                    .saturating_sub(discarded)
                    .max(gas.floor_gas()),
            );
        }
        self.block_regular_gas_used += regular;
        self.block_state_gas_used += gas.block_state_gas_used();
        self.cumulative_tx_gas_used += gas.tx_gas_used();
        if self.cancun {
            self.blob_gas_used = self.blob_gas_used.saturating_add(blob_gas_used);
        }
        receipt_mut(&mut receipt).cumulative_gas_used = self.cumulative_tx_gas_used;
        self.receipts.push(receipt);
        self.state.set_bal_index(BlockAccessIndex::new(index as u64 + 1));
        self.state.commit(state);
    }

    /// The check alloy-evm's block executor makes before a transaction, against the gas the block has used
    /// so far: workers cannot make it, as they do not know what the transactions before theirs used.
    pub(crate) fn check_block_gas(
        &self,
        transaction: &TxEnvelope,
        worst_case: Option<(u64, u64)>,
    ) -> Result<(), BlockExecutionError> {
        if let Some(worst_case) = worst_case {
            return check_worst_case_fits(
                worst_case,
                self.gas_limit,
                (self.block_regular_gas_used, self.block_state_gas_used),
                transaction.gas_limit(),
            );
        }
        let used =
            if self.eip8037 { self.block_regular_gas_used } else { self.cumulative_tx_gas_used };
        let available = self.gas_limit - used;
        if min(transaction.gas_limit(), self.tx_gas_limit_cap) > available {
            return Err(BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas {
                transaction_gas_limit: transaction.gas_limit(),
                block_available_gas: available,
            }
            .into());
        }
        if self.eip8037 && !self.skip_state_gas_capacity_check {
            let state_available = self.gas_limit - self.block_state_gas_used;
            if transaction.gas_limit() > state_available {
                return Err(BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas {
                    transaction_gas_limit: transaction.gas_limit(),
                    block_available_gas: state_available,
                }
                .into());
            }
        }
        Ok(())
    }
}

/// The receipt inside an envelope.
fn receipt_mut(receipt: &mut ReceiptEnvelope) -> &mut Receipt<Log> {
    match receipt {
        ReceiptEnvelope::Legacy(inner)
        | ReceiptEnvelope::Eip2930(inner)
        | ReceiptEnvelope::Eip1559(inner)
        | ReceiptEnvelope::Eip4844(inner)
        | ReceiptEnvelope::Eip7702(inner) => &mut inner.receipt,
    }
}
