//! Sequential block execution: the reference every other mode is checked against.

use std::{borrow::Cow, sync::Arc};

use alloy_evm::{
    Evm, EvmEnv, EvmFactory,
    block::{
        BalIndexedDatabase, BlockExecutionError, BlockExecutionResult, BlockExecutor,
        BlockValidationError, ExecutableTxParts, GasOutput, StateDB,
    },
    eth::{
        EthBlockExecutionCtx, EthBlockExecutor, EthEvmFactory, EthTxResult,
        receipt_builder::AlloyReceiptBuilder, spec::EthExecutorSpec,
    },
};
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use balnode_chainspec::{AmsterdamProfile, ChainSpec, Hardfork};
use balnode_primitives::{
    Address, B256, Block, Header, KECCAK256_EMPTY, ReceiptEnvelope, StateChanges, TxEnvelope,
    consensus::{Eip658Value, Transaction as _, TxType, transaction::Recovered},
    eips::{
        eip6110::MAINNET_DEPOSIT_CONTRACT_ADDRESS, eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
        eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS, eip7685::Requests,
        eip7928::BlockAccessList,
    },
};
use balnode_storage_api::{ProviderResult, StateProvider};
use revm::{
    Database,
    context::{TxEnv, result::HaltReason},
    database::{State, TransitionState, states::bundle_state::BundleRetention},
    database_interface::bal::EvmDatabaseError,
};
use tracing::trace;

use crate::{
    ExecutionError, amsterdam,
    bal::finish_block_access_list,
    changes::{changes_from_bundle, changes_from_transitions},
    database::{DatabaseError, StateProviderDatabase},
    deposits::check_deposit_layouts,
    evm::BalnodeEvm,
    prefetch::PrefetchStats,
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
    /// The EIP-7928 block access list execution built: always for an Amsterdam block, and for an earlier
    /// block when asked ([`execute_block_with_bal`]).
    pub block_access_list: Option<BlockAccessList>,
    /// What the prefetch read and how it served execution (the BAL-parallel and optimistic modes).
    pub prefetch: Option<PrefetchStats>,
}

/// Computes the state root of the parent state with the block's changes so far laid over it. Before
/// Byzantium, every receipt carries the state root after its transaction, so execution needs one.
pub type IntermediateRoot<'a> = &'a dyn Fn(&ChangesSoFar<'_>) -> ProviderResult<B256>;

/// The block's changes up to the transaction just executed, as an [`IntermediateRoot`] is given them: built
/// only when asked ([`ChangesSoFar::changes`]), since each costs a pass over everything the block changed so
/// far, once per transaction.
#[derive(Debug, Clone, Copy)]
pub struct ChangesSoFar<'a>(&'a TransitionState);

impl ChangesSoFar<'_> {
    /// Every account and slot the block changed so far, with its current value.
    pub fn changes(&self) -> StateChanges {
        changes_from_transitions(self.0)
    }
}

/// The chain spec as alloy-evm's block executor wants it.
#[derive(Debug, Clone)]
pub(crate) struct ExecutorSpec(pub(crate) Arc<ChainSpec>);

impl EthereumHardforks for ExecutorSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        // alloy-evm's block executor asks about Amsterdam only for the EIP-8282 builder-request system calls,
        // which came after `bal@v5.7.0`: under that profile they do not run. (The EVM's rules come from the
        // `EvmEnv`, built from the unmodified spec.)
        if fork == EthereumHardfork::Amsterdam
            && self.0.amsterdam_profile() == AmsterdamProfile::BalDevnetV5_7
        {
            return ForkCondition::Never;
        }
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
///
/// The block access list is built for Amsterdam blocks only; see [`execute_block_with_bal`].
pub fn execute_block<P: StateProvider>(
    spec: &Arc<ChainSpec>,
    block: &Block,
    senders: &[Address],
    state: P,
    intermediate_root: Option<IntermediateRoot<'_>>,
) -> Result<BlockExecutionOutput, ExecutionError> {
    let amsterdam =
        spec.is_active_at(Hardfork::Amsterdam, block.header.number, block.header.timestamp);
    execute_block_with_bal(spec, block, senders, state, intermediate_root, amsterdam)
}

/// [`execute_block`], building the EIP-7928 block access list when `build_bal` is set (or the block is an
/// Amsterdam block): index 0 for the pre-execution system calls, `i + 1` for transaction `i`, `n + 1` for
/// withdrawals, rewards and the post-execution system calls. Before Amsterdam this is the list the block
/// would have had (`balnode bal generate`).
pub fn execute_block_with_bal<P: StateProvider>(
    spec: &Arc<ChainSpec>,
    block: &Block,
    senders: &[Address],
    state: P,
    intermediate_root: Option<IntermediateRoot<'_>>,
    build_bal: bool,
) -> Result<BlockExecutionOutput, ExecutionError> {
    let header = &block.header;
    let build_bal =
        build_bal || spec.is_active_at(Hardfork::Amsterdam, header.number, header.timestamp);
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
        .with_bal_builder_if(build_bal)
        .build();
    let mut executor = block_executor(spec, block, db);
    let receipts_carry_roots =
        !spec.is_active_at(Hardfork::Byzantium, header.number, header.timestamp);

    executor
        .apply_pre_execution_changes()
        .map_err(|error| ExecutionError::PreExecution(Box::new(error)))?;
    for (index, (transaction, sender)) in body.transactions.iter().zip(senders).enumerate() {
        let recovered = Recovered::new_unchecked(transaction, *sender);
        let traced = |result: &EthTxResult<_, _>| {
            let gas = result.result.result.gas();
            trace!(target: "exec::sequential", index, ?gas, success = result.result.result.is_success(), "Transaction result");
        };
        let executed = if executor.evm().runs_bal_v5_7() {
            execute_with_bal_v5_7_inclusion(&mut executor, recovered, index, traced)
        } else {
            executor.execute_transaction_with_index_and_result_closure(recovered, index, traced)
        };
        executed.map_err(|error| ExecutionError::Transaction {
            index,
            hash: *transaction.tx_hash(),
            source: Box::new(error),
        })?;
        if receipts_carry_roots {
            let root_of = intermediate_root.ok_or(ExecutionError::NoIntermediateRoot)?;
            let transitions = executor.evm().db().transition_state.as_ref();
            let transitions =
                transitions.expect("the state keeps transitions: built with bundle updates");
            let root = root_of(&ChangesSoFar(transitions))?;
            let receipt = executor.receipts.last_mut().expect("a receipt per executed transaction");
            set_post_state(receipt, root);
        }
        trace!(target: "exec::sequential", index, "Executed transaction");
    }
    finish_block(spec, block, executor)
}

/// The steps after the last transaction, shared by every mode: the EIP-6110 deposit layout check,
/// withdrawals, rewards and the post-execution system calls at the index after the last transaction, the
/// EIP-7002/7251 empty-contract check, and the block's outputs.
pub(crate) fn finish_block<DB>(
    spec: &Arc<ChainSpec>,
    block: &Block,
    executor: BlockExec<'_, State<DB>>,
) -> Result<BlockExecutionOutput, ExecutionError>
where
    DB: Database<Error = DatabaseError> + std::fmt::Debug,
{
    let (mut db, result) = finish_execution(spec, block, executor)?;
    let block_access_list = db
        .take_built_alloy_bal()
        .map(|built| finish_block_access_list(built, block, spec.amsterdam_profile()));
    db.merge_transitions(BundleRetention::PlainState);
    Ok(BlockExecutionOutput {
        receipts: result.receipts,
        gas_used: result.gas_used,
        blob_gas_used: result.blob_gas_used,
        requests: result.requests,
        state: changes_from_bundle(db.take_bundle()),
        block_access_list,
        prefetch: None,
    })
}

/// [`finish_block`] up to the block's outputs: the state with everything committed (and its list builder
/// holding what was recorded), and the executor's result.
pub(crate) fn finish_execution<DB>(
    spec: &Arc<ChainSpec>,
    block: &Block,
    mut executor: BlockExec<'_, State<DB>>,
) -> Result<(State<DB>, BlockExecutionResult<ReceiptEnvelope>), ExecutionError>
where
    DB: Database<Error = DatabaseError> + std::fmt::Debug,
{
    let header = &block.header;
    if spec.is_active_at(Hardfork::Prague, header.number, header.timestamp) {
        // The same fallback as alloy-evm's deposit collection.
        let contract = spec.deposit_contract().unwrap_or(MAINNET_DEPOSIT_CONTRACT_ADDRESS);
        check_deposit_layouts(contract, &executor.receipts)?;
    }
    // Withdrawals, rewards and the post-execution system calls share the index after the last transaction.
    let post_index = block.body.transactions.len() as u64 + 1;
    BalIndexedDatabase::set_bal_index(executor.evm_mut().db_mut(), post_index);
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
    Ok((db, result))
}

/// alloy-evm's Ethereum block executor with balnode's EVM, as every execution mode drives it.
pub(crate) type BlockExec<'a, DB> =
    EthBlockExecutor<'a, BalnodeEvm<DB>, ExecutorSpec, AlloyReceiptBuilder>;

/// The EVM environment of a block: alloy-evm's for the header, with the chain spec's Amsterdam profile applied.
pub(crate) fn block_evm_env(spec: &Arc<ChainSpec>, header: &Header) -> EvmEnv {
    let mut env = EvmEnv::for_eth_block(
        header,
        &**spec,
        spec.chain_id(),
        spec.blob_params_at(header.timestamp),
    );
    amsterdam::configure(&mut env.cfg_env, spec.amsterdam_profile(), header.gas_limit);
    env
}

/// Our EVM over `db` in `env` (see [`block_evm_env`]): the profile's gas table, handler and instructions.
pub(crate) fn build_evm<DB: alloy_evm::Database>(
    spec: &ChainSpec,
    env: EvmEnv,
    db: DB,
) -> BalnodeEvm<DB> {
    let spec_id = env.cfg_env.spec;
    let mut evm = EthEvmFactory::default().create_evm(db, env).into_inner();
    for (opcode, gas) in amsterdam::static_gas_overrides(spec.amsterdam_profile(), spec_id) {
        evm.instruction.gas_table_mut()[usize::from(*opcode)] = *gas;
    }
    let intrinsic_state_gas = spec.amsterdam_profile() == AmsterdamProfile::BalDevnetV5_7
        && spec_id.is_enabled_in(revm::primitives::hardfork::SpecId::AMSTERDAM);
    BalnodeEvm::new(evm, intrinsic_state_gas)
}

/// The block executor for `block` over `db`: the block's EVM environment and EVM ([`build_evm`]) and the
/// context of the block-level system calls.
pub(crate) fn block_executor<'a, DB: alloy_evm::Database>(
    spec: &Arc<ChainSpec>,
    block: &'a Block,
    db: DB,
) -> BlockExec<'a, DB> {
    executor_with_ctx(spec, block, db, block_ctx(block))
}

/// [`block_executor`] for a worker, which executes transactions without committing them: it keeps no
/// receipts, so room for the block's receipts is not reserved (alloy-evm reserves it from the context's
/// hint: a transaction's worth of memory for each of the block's transactions, freed again with the
/// executor, which showed when one was built per transaction).
pub(crate) fn worker_executor<'a, DB: alloy_evm::Database>(
    spec: &Arc<ChainSpec>,
    block: &'a Block,
    db: DB,
) -> BlockExec<'a, DB> {
    executor_with_ctx(
        spec,
        block,
        db,
        EthBlockExecutionCtx { tx_count_hint: None, ..block_ctx(block) },
    )
}

fn executor_with_ctx<'a, DB: alloy_evm::Database>(
    spec: &Arc<ChainSpec>,
    block: &'a Block,
    db: DB,
    ctx: EthBlockExecutionCtx<'a>,
) -> BlockExec<'a, DB> {
    let evm = build_evm(spec, block_evm_env(spec, &block.header), db);
    EthBlockExecutor::new(evm, ctx, ExecutorSpec(spec.clone()), AlloyReceiptBuilder::default())
}

/// What alloy-evm's block executor needs of `block` for its system calls, withdrawals and rewards.
pub(crate) fn block_ctx(block: &Block) -> EthBlockExecutionCtx<'_> {
    let header = &block.header;
    let body = &block.body;
    EthBlockExecutionCtx {
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
    }
}

/// Executes and commits transaction `index` as [`EthBlockExecutor`] does, with `bal@v5.7.0`'s inclusion check
/// in place of alloy-evm's ([`check_bal_v5_7_inclusion`]).
pub(crate) fn execute_with_bal_v5_7_inclusion<DB: StateDB + BalIndexedDatabase>(
    executor: &mut BlockExec<'_, DB>,
    transaction: Recovered<&TxEnvelope>,
    index: usize,
    traced: impl FnOnce(&EthTxResult<HaltReason, TxType>),
) -> Result<GasOutput, BlockExecutionError> {
    let (tx_env, transaction): (TxEnv, _) =
        ExecutableTxParts::<TxEnv, TxEnvelope>::into_parts(transaction);
    check_bal_v5_7_inclusion(executor, &tx_env)?;
    BalIndexedDatabase::set_bal_index(executor.evm_mut().db_mut(), index as u64 + 1);
    let (output, discarded) = transact_bal_v5_7(executor, tx_env, transaction.inner())?;
    traced(&output);
    Ok(commit_bal_v5_7(executor, output, discarded))
}

/// `bal@v5.7.0`'s inclusion check, in place of alloy-evm's: the transaction's worst case in each gas
/// dimension ([`BalnodeEvm::bal_v5_7_worst_case_gas`]) must fit in what the block has left of it.
pub(crate) fn check_bal_v5_7_inclusion<DB: StateDB>(
    executor: &BlockExec<'_, DB>,
    tx_env: &TxEnv,
) -> Result<(), BlockExecutionError> {
    check_worst_case_fits(
        executor.evm.bal_v5_7_worst_case_gas(tx_env),
        executor.evm.block().gas_limit,
        (executor.block_regular_gas_used, executor.block_state_gas_used),
        tx_env.gas_limit,
    )
}

/// `bal@v5.7.0`'s inclusion rule: a transaction's worst case in each gas dimension (regular, state) must fit
/// in what the block's gas limit leaves of it after `used`.
pub(crate) fn check_worst_case_fits(
    (regular, state): (u64, u64),
    block_gas_limit: u64,
    (regular_used, state_used): (u64, u64),
    transaction_gas_limit: u64,
) -> Result<(), BlockExecutionError> {
    for (worst_case, used) in [(regular, regular_used), (state, state_used)] {
        let available = block_gas_limit.saturating_sub(used);
        if worst_case > available {
            return Err(BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas {
                transaction_gas_limit,
                block_available_gas: available,
            }
            .into());
        }
    }
    Ok(())
}

/// Runs a transaction on the executor's EVM without alloy-evm's inclusion check (the caller makes
/// [`check_bal_v5_7_inclusion`] against the block's gas so far), as a result to commit with
/// [`commit_bal_v5_7`], and the state-gas credits its failed frames gave up.
pub(crate) fn transact_bal_v5_7<DB: StateDB>(
    executor: &mut BlockExec<'_, DB>,
    tx_env: TxEnv,
    envelope: &TxEnvelope,
) -> Result<(EthTxResult<HaltReason, TxType>, u64), BlockExecutionError> {
    let result = executor
        .evm_mut()
        .transact(tx_env)
        .map_err(|error| BlockExecutionError::evm(error, *envelope.tx_hash()))?;
    let output = EthTxResult {
        result,
        blob_gas_used: envelope.blob_gas_used().unwrap_or_default(),
        tx_type: envelope.tx_type(),
    };
    Ok((output, executor.evm.discarded_state_gas()))
}

/// Commits a transaction's result, leaving the state-gas credits its failed frames gave up (`discarded`)
/// out of the block's regular gas: the sender paid for them, `bal@v5.7.0` counts
/// `max(spent - state gas - discarded, floor)`.
pub(crate) fn commit_bal_v5_7<DB: StateDB>(
    executor: &mut BlockExec<'_, DB>,
    output: EthTxResult<HaltReason, TxType>,
    discarded: u64,
) -> GasOutput {
    let gas = output.result.result.gas();
    let counted = gas.block_regular_gas_used();
    let regular = gas
        .total_gas_spent()
        .saturating_sub(gas.block_state_gas_used())
        .saturating_sub(discarded)
        .max(gas.floor_gas());
    let committed = executor.commit_transaction(output);
    executor.block_regular_gas_used -= counted.saturating_sub(regular);
    committed
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
