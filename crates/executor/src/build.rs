//! Block building: executing candidate transactions on a parent state, keeping those that are valid.
//!
//! The builder of the devnet picks candidates from its pool and assembles the header; this is the part that
//! executes. It runs the same block executor as [`execute_block`](crate::execute_block) (system calls,
//! transactions, withdrawals, post-execution requests, the access list), so a block built here re-executes
//! to the same outputs when it is imported.

use std::{collections::HashSet, sync::Arc};

use alloy_evm::block::BlockExecutor;
use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_primitives::{
    Address, Block, BlockBody, Header, TxEnvelope, TxHash,
    consensus::{Transaction as _, transaction::Recovered},
    eips::{eip2718::Encodable2718, eip4895::Withdrawals},
};
use balnode_storage_api::StateProvider;
use revm::database::State;
use tracing::{debug, trace};

use crate::{
    ExecutionError,
    database::StateProviderDatabase,
    execute::{
        BlockExecutionOutput, block_executor, execute_with_bal_v5_7_inclusion, finish_block,
    },
};

/// A transaction the builder may include, with its recovered sender.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The transaction.
    pub transaction: TxEnvelope,
    /// Its sender.
    pub sender: Address,
}

/// Why a candidate was left out of a built block.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The transaction.
    pub hash: TxHash,
    /// Its sender (whose later transactions were left out too).
    pub sender: Address,
    /// Why, as the block executor or the builder said it.
    pub reason: String,
}

/// What [`build_block`] produced: the block (its header as drafted: the roots, gas, bloom, requests hash and
/// access-list hash are for the caller to fill from `output`), its senders and execution output, and what it
/// left out.
#[derive(Debug)]
pub struct BuiltBlock {
    /// The block with the included transactions; the header is the draft.
    pub block: Block,
    /// The senders of the included transactions.
    pub senders: Vec<Address>,
    /// Receipts, gas, requests, state changes and (from Amsterdam) the access list.
    pub output: BlockExecutionOutput,
    /// Candidates left out, in the order they were tried.
    pub skipped: Vec<Skipped>,
}

/// Builds a block on `state` (the parent's post-state) from `draft` (a header with everything the EVM needs:
/// number, timestamp, beneficiary, gas limit, base fee, prev-randao, excess blob gas, parent beacon block
/// root, slot number) and `withdrawals`, trying `candidates` in order, with at most `max_size` bytes of
/// transactions (their EIP-2718 encodings) and at most `max_transactions` of them (the candidates after the
/// last one included are not tried).
///
/// A candidate that fails the block executor's checks (nonce, balance, fee caps, the block's remaining gas)
/// is left out, and so is every later candidate of its sender (their nonces would no longer follow); so is one
/// whose blobs or size would not fit the block. Blocks before the merge are not built (their receipts would
/// need intermediate state roots and their headers a proof of work).
///
/// # Errors
/// A storage failure, or a failing system call (the block cannot be built on this parent).
pub fn build_block<P: StateProvider>(
    spec: &Arc<ChainSpec>,
    draft: Header,
    withdrawals: Option<Withdrawals>,
    max_size: usize,
    max_transactions: Option<usize>,
    candidates: impl IntoIterator<Item = Candidate>,
    state: P,
) -> Result<BuiltBlock, ExecutionError> {
    let (number, timestamp) = (draft.number, draft.timestamp);
    if !spec.is_active_at(Hardfork::Paris, number, timestamp) {
        return Err(ExecutionError::Bal(format!(
            "cannot build block {number}: only blocks after the merge are built"
        )));
    }
    let amsterdam = spec.is_active_at(Hardfork::Amsterdam, number, timestamp);
    let max_blob_gas = spec.blob_params_at(timestamp).map(|params| params.max_blob_gas_per_block());
    let template = Block {
        header: draft,
        body: BlockBody { transactions: Vec::new(), ommers: Vec::new(), withdrawals },
    };
    let db = State::builder()
        .with_database_ref(StateProviderDatabase(state))
        .with_bundle_update()
        .with_bal_builder_if(amsterdam)
        .build();
    let mut executor = block_executor(spec, &template, db);
    executor
        .apply_pre_execution_changes()
        .map_err(|error| ExecutionError::PreExecution(Box::new(error)))?;

    let mut transactions = Vec::new();
    let mut senders = Vec::new();
    let mut skipped = Vec::new();
    let mut failed_senders = HashSet::new();
    let (mut blob_gas, mut size) = (0u64, 0usize);
    for Candidate { transaction, sender } in candidates {
        if max_transactions.is_some_and(|max| transactions.len() >= max) {
            break;
        }
        let hash = *transaction.tx_hash();
        let tx_blob_gas = transaction.blob_gas_used().unwrap_or_default();
        let tx_size = transaction.encode_2718_len();
        let left_out = if failed_senders.contains(&sender) {
            Some("an earlier transaction of its sender was left out".to_owned())
        } else if tx_blob_gas > 0
            && max_blob_gas.is_none_or(|max| blob_gas.saturating_add(tx_blob_gas) > max)
        {
            Some("its blobs do not fit in the block".to_owned())
        } else if size + tx_size > max_size {
            Some("it does not fit in the block's size limit".to_owned())
        } else {
            let index = transactions.len();
            let recovered = Recovered::new_unchecked(&transaction, sender);
            let executed = if executor.evm().runs_bal_v5_7() {
                execute_with_bal_v5_7_inclusion(&mut executor, recovered, index, |_| {})
            } else {
                executor.execute_transaction_with_index_and_result_closure(recovered, index, |_| {})
            };
            match executed {
                Ok(_) => None,
                Err(error) if error.as_validation().is_some() => Some(error.to_string()),
                Err(error) => {
                    return Err(ExecutionError::Transaction {
                        index,
                        hash,
                        source: Box::new(error),
                    });
                }
            }
        };
        if let Some(reason) = left_out {
            trace!(target: "exec::build", %hash, %sender, reason, "Left out a transaction");
            failed_senders.insert(sender);
            skipped.push(Skipped { hash, sender, reason });
        } else {
            blob_gas += tx_blob_gas;
            size += tx_size;
            transactions.push(transaction);
            senders.push(sender);
        }
    }
    let block = Block {
        header: template.header.clone(),
        body: BlockBody { transactions, ..template.body.clone() },
    };
    let output = finish_block(spec, &block, executor)?;
    debug!(
        target: "exec::build",
        number,
        transactions = block.body.transactions.len(),
        skipped = skipped.len(),
        gas_used = output.gas_used,
        "Built block"
    );
    Ok(BuiltBlock { block, senders, output, skipped })
}
