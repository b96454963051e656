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
    Evm,
    block::{BalIndexedDatabase, BlockExecutionError, BlockExecutor, BlockValidationError},
    eth::EthTxResult,
};
use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_primitives::{
    Address, Block,
    consensus::{Transaction, TxEnvelope, TxType, transaction::Recovered},
    eips::eip7928::BlockAccessList,
};
use balnode_storage_api::StateProvider;
use rayon::prelude::*;
use revm::{
    context::{Block as _, Cfg},
    context_interface::result::HaltReason,
    database::{State, WrapDatabaseRef},
    state::bal::Bal,
};
use tracing::{debug, trace};

use crate::{
    ExecutionError,
    execute::{BlockExec, BlockExecutionOutput, block_executor, finish_block},
    prefetch::PrefetchedState,
};

/// One transaction's result, executed but not committed.
type TxOutput = EthTxResult<HaltReason, TxType>;

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
    let prefetched = PrefetchedState::new(state, block_access_list).map_err(|error| error.0)?;
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

    // Every transaction at once: each worker keeps one EVM and gives it a fresh state view per transaction.
    let worker_state = |index: u64| -> ParentState<'_, P> {
        let mut db = State::builder().with_database_ref(state).with_bal(bal.clone()).build();
        BalIndexedDatabase::set_bal_index(&mut db, index);
        db
    };
    let outputs: Vec<Result<TxOutput, BlockExecutionError>> = transactions
        .par_iter()
        .zip(senders.par_iter())
        .enumerate()
        .map_init(
            || block_executor(spec, block, worker_state(0)),
            |worker, (index, (transaction, sender))| {
                *worker.evm_mut().db_mut() = worker_state(index as u64 + 1);
                let output = worker.execute_transaction_without_commit(Recovered::new_unchecked(
                    transaction,
                    *sender,
                ));
                trace!(target: "exec::bal", index, ok = output.is_ok(), "Executed transaction");
                output
            },
        )
        .collect();

    // In block order: the block gas check sequential execution makes before each transaction, then commit.
    for (index, (transaction, output)) in transactions.iter().zip(outputs).enumerate() {
        let invalid = |source| ExecutionError::Transaction {
            index,
            hash: *transaction.tx_hash(),
            source: Box::new(source),
        };
        check_block_gas(&executor, transaction).map_err(invalid)?;
        let output = output.map_err(invalid)?;
        BalIndexedDatabase::set_bal_index(executor.evm_mut().db_mut(), index as u64 + 1);
        executor.commit_transaction(output);
    }
    let mut output = finish_block(spec, block, executor)?;
    let prefetch = prefetched.stats();
    debug!(target: "exec::bal", number = block.header.number, transactions = transactions.len(), threads = rayon::current_num_threads(), ?prefetch, "Executed block in parallel");
    output.prefetch = Some(prefetch);
    Ok(output)
}

/// The check alloy-evm's block executor makes before a transaction, against the gas the block has used so
/// far: workers cannot make it, as they do not know what the transactions before theirs used.
fn check_block_gas<DB>(
    executor: &BlockExec<'_, DB>,
    transaction: &TxEnvelope,
) -> Result<(), BlockExecutionError>
where
    DB: alloy_evm::Database,
{
    let evm = &executor.evm;
    let cfg = evm.cfg_env();
    let gas_limit = evm.block().gas_limit();
    let used = if cfg.enable_amsterdam_eip8037 {
        executor.block_regular_gas_used
    } else {
        executor.cumulative_tx_gas_used
    };
    let available = gas_limit - used;
    if min(transaction.gas_limit(), cfg.tx_gas_limit_cap()) > available {
        return Err(BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas {
            transaction_gas_limit: transaction.gas_limit(),
            block_available_gas: available,
        }
        .into());
    }
    if cfg.enable_amsterdam_eip8037 && !executor.skip_state_gas_capacity_check {
        let state_available = gas_limit - executor.block_state_gas_used;
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
