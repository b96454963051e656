//! Sequential block execution: the reference every other mode is checked against.

use std::{borrow::Cow, sync::Arc};

use alloy_evm::{
    Evm, EvmEnv, EvmFactory,
    block::BlockExecutor,
    eth::{
        EthBlockExecutionCtx, EthBlockExecutor, EthEvmFactory,
        receipt_builder::AlloyReceiptBuilder, spec::EthExecutorSpec,
    },
};
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_primitives::{
    Address, B256, Block, KECCAK256_EMPTY, ReceiptEnvelope, StateChanges,
    consensus::{Eip658Value, transaction::Recovered},
    eips::{
        eip6110::MAINNET_DEPOSIT_CONTRACT_ADDRESS, eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
        eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS, eip7685::Requests,
    },
};
use balnode_storage_api::{ProviderResult, StateProvider};
use revm::{
    Database,
    database::{State, states::bundle_state::BundleRetention},
    database_interface::bal::EvmDatabaseError,
};
use tracing::trace;

use crate::{
    ExecutionError,
    changes::{changes_from_bundle, changes_from_cache},
    database::{DatabaseError, StateProviderDatabase},
    deposits::check_deposit_layouts,
};

/// What executing a block produced.
#[derive(Debug, Clone)]
pub struct BlockExecutionOutput {
    /// One receipt per transaction, in order.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Gas used by the block (what the header's `gasUsed` must say).
    pub gas_used: u64,
    /// Blob gas used by the block's transactions.
    pub blob_gas_used: u64,
    /// The EIP-7685 requests of the block (empty before Prague).
    pub requests: Requests,
    /// The post-values of everything the block changed.
    pub state: StateChanges,
}

/// Computes the state root of the parent state with some changes laid over it. Before Byzantium, every
/// receipt carries the state root after its transaction, so execution needs one.
pub type IntermediateRoot<'a> = &'a dyn Fn(&StateChanges) -> ProviderResult<B256>;

/// The chain spec as alloy-evm's block executor wants it.
#[derive(Debug, Clone)]
struct ExecutorSpec(Arc<ChainSpec>);

impl EthereumHardforks for ExecutorSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.0.ethereum_fork_activation(fork)
    }
}

impl EthExecutorSpec for ExecutorSpec {
    fn deposit_contract_address(&self) -> Option<Address> {
        self.0.deposit_contract()
    }
}

/// Executes `block` on top of `state` (the parent's post-state), one transaction after another.
///
/// `senders` are the recovered senders of the block's transactions. `intermediate_root` is needed only for
/// blocks before Byzantium; without it their receipts cannot be built and execution fails.
///
/// Runs alloy-evm's Ethereum block executor: the EIP-2935 and EIP-4788 system calls first, then each
/// transaction, then withdrawals, block and ommer rewards, the DAO drain and the EIP-7002/7251 system calls
/// and EIP-6110 deposits.
pub fn execute_block<P: StateProvider>(
    spec: &Arc<ChainSpec>,
    block: &Block,
    senders: &[Address],
    state: P,
    intermediate_root: Option<IntermediateRoot<'_>>,
) -> Result<BlockExecutionOutput, ExecutionError> {
    let header = &block.header;
    let body = &block.body;
    if senders.len() != body.transactions.len() {
        return Err(ExecutionError::SenderCount {
            senders: senders.len(),
            transactions: body.transactions.len(),
        });
    }
    let db = State::builder()
        .with_database_ref(StateProviderDatabase(state))
        .with_bundle_update()
        .build();
    let env = EvmEnv::for_eth_block(
        header,
        ExecutorSpec(spec.clone()),
        spec.chain_id(),
        spec.blob_params_at(header.timestamp),
    );
    let evm = EthEvmFactory::default().create_evm(db, env);
    let ctx = EthBlockExecutionCtx {
        parent_hash: header.parent_hash,
        parent_beacon_block_root: header.parent_beacon_block_root,
        ommers: &body.ommers,
        withdrawals: body
            .withdrawals
            .as_ref()
            .map(|withdrawals| Cow::Borrowed(withdrawals.as_slice())),
        extra_data: header.extra_data.clone(),
        tx_count_hint: Some(body.transactions.len()),
        slot_number: header.slot_number,
    };
    let mut executor =
        EthBlockExecutor::new(evm, ctx, ExecutorSpec(spec.clone()), AlloyReceiptBuilder::default());
    let receipts_carry_roots =
        !spec.is_active_at(Hardfork::Byzantium, header.number, header.timestamp);

    executor
        .apply_pre_execution_changes()
        .map_err(|error| ExecutionError::PreExecution(Box::new(error)))?;
    for (index, (transaction, sender)) in body.transactions.iter().zip(senders).enumerate() {
        let recovered = Recovered::new_unchecked(transaction, *sender);
        executor.execute_transaction(recovered).map_err(|error| ExecutionError::Transaction {
            index,
            hash: *transaction.tx_hash(),
            source: Box::new(error),
        })?;
        if receipts_carry_roots {
            let root_of = intermediate_root.ok_or(ExecutionError::NoIntermediateRoot)?;
            let root = root_of(&changes_from_cache(&executor.evm().db().cache))?;
            let receipt = executor.receipts.last_mut().expect("a receipt per executed transaction");
            set_post_state(receipt, root);
        }
        trace!(target: "exec::sequential", index, "Executed transaction");
    }
    if spec.is_active_at(Hardfork::Prague, header.number, header.timestamp) {
        // The same fallback as alloy-evm's deposit collection.
        let contract = spec.deposit_contract().unwrap_or(MAINNET_DEPOSIT_CONTRACT_ADDRESS);
        check_deposit_layouts(contract, &executor.receipts)?;
    }
    let (evm, result) =
        executor.finish().map_err(|error| ExecutionError::PostExecution(Box::new(error)))?;

    let mut db = evm.into_db();
    if spec.is_active_at(Hardfork::Prague, header.number, header.timestamp) {
        // EIP-7002 and EIP-7251: a block whose request contract has no code is invalid (alloy-evm's system
        // call treats the empty account as a call that returned nothing).
        for address in
            [WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS]
        {
            let account = db.basic(address).map_err(|error| match error {
                EvmDatabaseError::Database(DatabaseError(error)) => ExecutionError::Provider(error),
                EvmDatabaseError::Bal(error) => ExecutionError::Bal(error.to_string()),
            })?;
            let code_hash = account.map_or(KECCAK256_EMPTY, |info| info.code_hash);
            if code_hash == KECCAK256_EMPTY {
                return Err(ExecutionError::SystemContractEmpty { address });
            }
        }
    }
    db.merge_transitions(BundleRetention::PlainState);
    Ok(BlockExecutionOutput {
        receipts: result.receipts,
        gas_used: result.gas_used,
        blob_gas_used: result.blob_gas_used,
        requests: result.requests,
        state: changes_from_bundle(db.take_bundle()),
    })
}

/// Replaces a receipt's status with the state root after its transaction, as receipts before Byzantium
/// (EIP-658) carry.
fn set_post_state(receipt: &mut ReceiptEnvelope, root: B256) {
    let inner = match receipt {
        ReceiptEnvelope::Legacy(inner)
        | ReceiptEnvelope::Eip2930(inner)
        | ReceiptEnvelope::Eip1559(inner)
        | ReceiptEnvelope::Eip4844(inner)
        | ReceiptEnvelope::Eip7702(inner) => inner,
    };
    inner.receipt.status = Eip658Value::PostState(root);
}
