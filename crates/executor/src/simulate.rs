//! `eth_simulateV1`: calls run as the transactions of hypothetical blocks on top of a stored block, each block
//! executed as a real one (system calls, transactions, post-execution requests) through alloy-evm's block
//! executor, with state and block overrides, its header completed with real roots.
//!
//! The EVM is revm's mainnet EVM with an inspector for `traceTransfers`: under the `bal@v5.7.0` Amsterdam
//! profile its gas may differ from block execution's.

use std::{borrow::Cow, collections::BTreeMap, sync::Arc};

use alloy_evm::{
    Evm, EvmFactory,
    block::{BlockExecutionError, BlockExecutor, BlockValidationError},
    eth::{
        EthBlockExecutionCtx, EthBlockExecutor, EthEvmFactory, receipt_builder::AlloyReceiptBuilder,
    },
    overrides::{OverrideBlockHashes, apply_state_overrides},
};
use alloy_rpc_types_eth::{TransactionRequest, simulate::SimBlock};
use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_primitives::{
    Address, B256, Block, BlockBody, Bytes, EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header,
    ReceiptEnvelope, StateChanges, TxEnvelope, U256,
    consensus::{
        Signed, TxEip1559, TxEip2930, TxEip4844, TxEip4844Variant, TxEip7702, TxLegacy, TxReceipt,
        proofs::{calculate_receipt_root, calculate_transaction_root},
        transaction::Recovered,
    },
    eips::eip1559::BaseFeeParams,
    primitives::{Signature, TxKind},
};
use balnode_storage_api::{ProviderError, ProviderResult, StateProvider};
use revm::{
    Database,
    context::result::{ExecutionResult, InvalidTransaction},
    database::{State, states::bundle_state::BundleRetention},
    database_interface::bal::EvmDatabaseError,
};

use crate::{
    changes::changes_from_bundle,
    database::{DatabaseError, StateProviderDatabase},
    execute::{ExecutorSpec, block_evm_env},
};

/// The most blocks one simulation may span (gaps filled included), as geth.
pub const MAX_SIMULATED_BLOCKS: u64 = 256;

/// Seconds between simulated blocks whose time is not overridden.
const BLOCK_TIME: u64 = 12;

/// A simulation error with its EIP code (`-380xx`, `-32000`, ...).
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// An error the spec gives a code to.
    #[error("{message}")]
    Coded {
        /// The JSON-RPC error code.
        code: i32,
        /// The message.
        message: String,
    },
    /// Reading state failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Execution failed in a way no code describes.
    #[error("{0}")]
    Execution(String),
}

impl SimulateError {
    fn coded(code: i32, message: impl Into<String>) -> Self {
        Self::Coded { code, message: message.into() }
    }
}

/// The error of one call that ran but failed.
#[derive(Debug, Clone)]
pub struct SimCallFailure {
    /// 3 for a revert, -32015 for an exceptional halt.
    pub code: i32,
    /// `execution reverted` or the halt reason.
    pub message: String,
    /// The revert data, for a revert.
    pub data: Option<Bytes>,
}

/// The outcome of one simulated call.
#[derive(Debug, Clone)]
pub struct SimCall {
    /// Return (or revert) data.
    pub output: Bytes,
    /// Gas used (after refunds), as the receipt says.
    pub gas_used: u64,
    /// Gas used before refunds.
    pub max_used_gas: u64,
    /// Why it failed, if it did.
    pub failure: Option<SimCallFailure>,
    /// Its logs in order with their index in the block, with ERC-7528 transfer logs when
    /// `traceTransfers` asked for them (the receipt has the contract logs only).
    pub logs: Vec<(u64, balnode_primitives::primitives::Log)>,
}

/// One simulated block.
#[derive(Debug, Clone)]
pub struct SimulatedBlock {
    /// The block, its transactions unsigned (zero signatures).
    pub block: Block,
    /// Its hash.
    pub hash: B256,
    /// The sender of each transaction.
    pub senders: Vec<Address>,
    /// The receipt of each transaction.
    pub receipts: Vec<ReceiptEnvelope>,
    /// The outcome of each call.
    pub calls: Vec<SimCall>,
}

/// How to simulate.
#[derive(Debug, Clone, Copy)]
pub struct SimulateOptions {
    /// Check nonces, balances and fee caps as for real transactions (`validation`).
    pub validation: bool,
    /// The most gas one call may use when it does not say.
    pub gas_cap: u64,
    /// Add an ERC-7528 log for each value transfer to the calls' logs (`traceTransfers`).
    pub trace_transfers: bool,
}

/// geth's code for a transaction that a block would refuse.
fn invalid_tx_code(error: &InvalidTransaction) -> i32 {
    match error {
        InvalidTransaction::NonceTooLow { .. } => -38010,
        InvalidTransaction::NonceTooHigh { .. }
        | InvalidTransaction::NonceOverflowInTransaction => -38011,
        InvalidTransaction::GasPriceLessThanBasefee
        | InvalidTransaction::BlobGasPriceGreaterThanMax { .. } => -38012,
        InvalidTransaction::CallGasCostMoreThanGasLimit { .. }
        | InvalidTransaction::GasFloorMoreThanGasLimit { .. } => -38013,
        InvalidTransaction::LackOfFundForMaxFee { .. }
        | InvalidTransaction::OverflowPaymentInTransaction => -38014,
        InvalidTransaction::CallerGasLimitMoreThanBlock
        | InvalidTransaction::TxGasLimitGreaterThanCap { .. } => -38015,
        _ => -32000,
    }
}

fn db_error(error: EvmDatabaseError<DatabaseError>) -> SimulateError {
    match error {
        EvmDatabaseError::Database(DatabaseError(error)) => SimulateError::Provider(error),
        EvmDatabaseError::Bal(error) => SimulateError::Execution(error.to_string()),
    }
}

fn block_error(error: BlockExecutionError) -> SimulateError {
    match &error {
        BlockExecutionError::Validation(BlockValidationError::InvalidTx {
            error: invalid, ..
        }) => {
            let code = invalid.as_invalid_tx_err().map_or(-32000, invalid_tx_code);
            SimulateError::coded(code, format!("err: {invalid}"))
        }
        BlockExecutionError::Validation(
            BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas { .. },
        ) => SimulateError::coded(-38015, error.to_string()),
        _ => SimulateError::Execution(error.to_string()),
    }
}

/// The transaction a call becomes, as geth builds it (`ToTransaction(DynamicFeeTxType)`): legacy when a gas
/// price is given, else by the fields present, 1559 by default; unsigned (zero signature).
fn call_transaction(
    request: &TransactionRequest,
    chain_id: u64,
    nonce: u64,
    gas: u64,
) -> TxEnvelope {
    let to = request.to.unwrap_or(TxKind::Create);
    let value = request.value.unwrap_or_default();
    let input = request.input.input().cloned().unwrap_or_default();
    let access_list = request.access_list.clone().unwrap_or_default();
    let signature = Signature::new(U256::ZERO, U256::ZERO, false);
    let max_fee = request.max_fee_per_gas.unwrap_or_default();
    let tip = request.max_priority_fee_per_gas.unwrap_or_default();
    if let Some(gas_price) = request.gas_price {
        let tx = TxLegacy {
            chain_id: Some(chain_id),
            nonce,
            gas_price,
            gas_limit: gas,
            to,
            value,
            input,
        };
        return TxEnvelope::Legacy(Signed::new_unhashed(tx, signature));
    }
    if let Some(authorization_list) = request.authorization_list.clone() {
        let tx = TxEip7702 {
            chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: to.to().copied().unwrap_or_default(),
            value,
            access_list,
            authorization_list,
            input,
        };
        return TxEnvelope::Eip7702(Signed::new_unhashed(tx, signature));
    }
    if let Some(blob_versioned_hashes) = request.blob_versioned_hashes.clone() {
        let tx = TxEip4844 {
            chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: to.to().copied().unwrap_or_default(),
            value,
            access_list,
            blob_versioned_hashes,
            max_fee_per_blob_gas: request.max_fee_per_blob_gas.unwrap_or_default(),
            input,
        };
        return TxEnvelope::Eip4844(Signed::new_unhashed(
            TxEip4844Variant::TxEip4844(tx),
            signature,
        ));
    }
    if request.max_fee_per_gas.is_none()
        && request.max_priority_fee_per_gas.is_none()
        && request.access_list.is_some()
        && request.transaction_type == Some(1)
    {
        let tx = TxEip2930 {
            chain_id,
            nonce,
            gas_price: 0,
            gas_limit: gas,
            to,
            value,
            access_list,
            input,
        };
        return TxEnvelope::Eip2930(Signed::new_unhashed(tx, signature));
    }
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to,
        value,
        access_list,
        input,
    };
    TxEnvelope::Eip1559(Signed::new_unhashed(tx, signature))
}

/// The headers' skeleton: number and time of each simulated block (gaps filled with empty blocks), checked
/// for order.
fn plan_blocks(
    base: &Header,
    blocks: Vec<SimBlock>,
) -> Result<Vec<(u64, u64, SimBlock)>, SimulateError> {
    let mut planned = Vec::new();
    let (mut number, mut time) = (base.number, base.timestamp);
    for block in blocks {
        let overrides = block.block_overrides.clone().unwrap_or_default();
        let next_number = match overrides.number {
            Some(requested) => {
                let requested = u64::try_from(requested).unwrap_or(u64::MAX);
                if requested <= number {
                    return Err(SimulateError::coded(
                        -38020,
                        format!("block numbers must be in order: {requested} <= {number}"),
                    ));
                }
                requested
            }
            None => number + 1,
        };
        if next_number - base.number > MAX_SIMULATED_BLOCKS {
            return Err(SimulateError::coded(
                -38026,
                format!("too many blocks: more than {MAX_SIMULATED_BLOCKS}"),
            ));
        }
        // Gaps become empty blocks, 12 seconds apart.
        while number + 1 < next_number {
            number += 1;
            time += BLOCK_TIME;
            planned.push((number, time, SimBlock::default()));
        }
        let next_time = match overrides.time {
            Some(requested) => {
                if requested <= time {
                    return Err(SimulateError::coded(
                        -38021,
                        format!("block timestamps must be in order: {requested} <= {time}"),
                    ));
                }
                requested
            }
            None => time + BLOCK_TIME,
        };
        number = next_number;
        time = next_time;
        planned.push((number, time, block));
    }
    Ok(planned)
}

/// Simulates `blocks` on top of `base` (whose post-state `state` is). `state_root` computes the root of the
/// base state with the simulation's cumulative changes laid over it.
pub fn simulate<P: StateProvider>(
    spec: &Arc<ChainSpec>,
    base: &Header,
    base_hash: B256,
    state: P,
    blocks: Vec<SimBlock>,
    options: SimulateOptions,
    state_root: &dyn Fn(&StateChanges) -> ProviderResult<B256>,
) -> Result<Vec<SimulatedBlock>, SimulateError> {
    let planned = plan_blocks(base, blocks)?;
    let mut db = State::builder()
        .with_database_ref(StateProviderDatabase(state))
        .with_bundle_update()
        .build();
    let mut parent = base.clone();
    let mut parent_hash = base_hash;
    let mut out = Vec::with_capacity(planned.len());
    // The addresses of the fork's precompiles (moves start from them in every block).
    let precompile_addresses: std::collections::BTreeSet<Address> =
        crate::precompile_addresses(spec.spec_id_at(base.number + 1, base.timestamp))
            .into_iter()
            .collect();
    // The gas all calls of the simulation may use together, as geth's gas pool.
    let gas_pool = &mut options.gas_cap.clone();
    for (number, timestamp, sim_block) in planned {
        let overrides = sim_block.block_overrides.clone().unwrap_or_default();
        // Precompile moves apply to this block only: as geth, each block starts from the fork's precompiles.
        let mut moves: Vec<(Address, Address)> = Vec::new();
        if let Some(overrides) = &sim_block.state_overrides {
            // Precompile moves of this block, checked as geth does.
            let mut block_moves: Vec<(Address, Address)> = overrides
                .iter()
                .filter_map(|(source, account)| {
                    account.move_precompile_to.map(|dest| (*source, dest))
                })
                .collect();
            block_moves.sort();
            for (source, _) in &block_moves {
                if !precompile_addresses.contains(source) {
                    return Err(SimulateError::coded(
                        -32000,
                        format!("account {source} is not a precompile"),
                    ));
                }
            }
            moves.extend(block_moves);
        }
        if let Some(overrides) = sim_block.state_overrides.clone() {
            apply_state_overrides(overrides, &mut db).map_err(|error| match error {
                alloy_evm::overrides::StateOverrideError::Database(error) => db_error(error),
                other => SimulateError::coded(-32602, other.to_string()),
            })?;
        }
        if let Some(hashes) = overrides.block_hash.clone() {
            db.override_block_hashes(hashes);
        }
        let active = |fork: Hardfork| spec.is_active_at(fork, number, timestamp);
        let base_fee = match overrides.base_fee {
            Some(fee) => Some(u64::try_from(fee).unwrap_or(u64::MAX)),
            None if !active(Hardfork::London) => None,
            None if options.validation => {
                Some(parent.next_block_base_fee(BaseFeeParams::ethereum()).unwrap_or_default())
            }
            None => Some(0),
        };
        let blob_params = spec.blob_params_at(timestamp);
        let cancun = active(Hardfork::Cancun);
        let mut header = Header {
            parent_hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: overrides.coinbase.unwrap_or(parent.beneficiary),
            difficulty: overrides.difficulty.unwrap_or_else(|| {
                if active(Hardfork::Paris) { U256::ZERO } else { parent.difficulty }
            }),
            number,
            gas_limit: overrides.gas_limit.unwrap_or(parent.gas_limit),
            timestamp,
            mix_hash: overrides.random.unwrap_or_default(),
            base_fee_per_gas: base_fee,
            withdrawals_root: active(Hardfork::Shanghai).then_some(EMPTY_ROOT_HASH),
            blob_gas_used: cancun.then_some(0),
            excess_blob_gas: cancun.then(|| {
                blob_params
                    .and_then(|params| parent.next_block_excess_blob_gas(params))
                    .unwrap_or(0)
            }),
            parent_beacon_block_root: cancun.then(|| overrides.beacon_root.unwrap_or_default()),
            ..Default::default()
        };
        let mut env = block_evm_env(spec, &header);
        env.cfg_env.disable_nonce_check = !options.validation;
        // As geth: a simulated call may use up to the gas cap, above EIP-7825's per-transaction cap.
        env.cfg_env.tx_gas_limit_cap = Some(u64::MAX);
        // As geth: calls may come from accounts with code, and without validation fees are not checked.
        env.cfg_env.disable_eip3607 = true;
        env.cfg_env.disable_base_fee = !options.validation;
        if let Some(fee) = overrides.blob_base_fee
            && let Some(blob) = env.block_env.blob_excess_gas_and_price.as_mut()
        {
            blob.blob_gasprice = u128::try_from(fee).unwrap_or(u128::MAX);
        }

        // revm's mainnet EVM with the transfer inspector: the same rules as `build_evm` except under the
        // `bal@v5.7.0` Amsterdam profile, whose handler it lacks.
        let inspector =
            TransferInspector { enabled: options.trace_transfers, ..Default::default() };
        let mut evm = EthEvmFactory::default().create_evm_with_inspector(db, env, inspector);
        evm.precompiles_mut()
            .move_precompiles(moves.iter().copied())
            .map_err(|error| SimulateError::coded(-32000, error.to_string()))?;
        let withdrawals = Vec::new();
        let ctx = EthBlockExecutionCtx {
            parent_hash,
            parent_beacon_block_root: header.parent_beacon_block_root,
            ommers: &[],
            withdrawals: active(Hardfork::Shanghai)
                .then_some(Cow::Borrowed(withdrawals.as_slice())),
            extra_data: Bytes::new(),
            tx_count_hint: Some(sim_block.calls.len()),
            slot_number: None,
        };
        let mut executor = EthBlockExecutor::new(
            evm,
            ctx,
            ExecutorSpec(spec.clone()),
            AlloyReceiptBuilder::default(),
        );
        executor.apply_pre_execution_changes().map_err(block_error)?;
        // Logs are numbered from the first transaction.
        *executor.evm_mut().inspector_mut() =
            TransferInspector { enabled: options.trace_transfers, ..Default::default() };
        let mut calls = Vec::with_capacity(sim_block.calls.len());
        let mut transactions = Vec::with_capacity(sim_block.calls.len());
        let mut senders = Vec::with_capacity(sim_block.calls.len());
        for request in &sim_block.calls {
            // Defaults as geth fills them: the sender's nonce now, the gas left in the block, capped by what
            // is left of the simulation's gas pool.
            let from = request.from.unwrap_or_default();
            let nonce = match request.nonce {
                Some(nonce) => nonce,
                None => executor
                    .evm_mut()
                    .db_mut()
                    .basic(from)
                    .map_err(db_error)?
                    .map_or(0, |account| account.nonce),
            };
            let block_used =
                executor.receipts.last().map_or(0, |receipt| receipt.cumulative_gas_used());
            let remaining = header.gas_limit.saturating_sub(block_used);
            let gas = request.gas.unwrap_or(remaining);
            if block_used.saturating_add(gas) > header.gas_limit {
                return Err(SimulateError::coded(
                    -38015,
                    format!("block gas limit reached: {block_used} >= {}", header.gas_limit),
                ));
            }
            let gas = gas.min(*gas_pool);
            let transaction = call_transaction(request, spec.chain_id(), nonce, gas);
            executor.evm_mut().inspector_mut().take();
            let mut call = None;
            executor
                .execute_transaction_with_result_closure(
                    Recovered::new_unchecked(&transaction, from),
                    |result| {
                        let result = &result.result.result;
                        let gas = result.gas();
                        let (output, failure) = match result {
                            ExecutionResult::Success { output, .. } => {
                                (output.data().clone(), None)
                            }
                            ExecutionResult::Revert { output, .. } => (
                                // As geth: the revert data is in the error only.
                                Bytes::new(),
                                Some(SimCallFailure {
                                    code: 3,
                                    message: crate::CallError::Reverted { output: output.clone() }
                                        .to_string(),
                                    data: Some(output.clone()),
                                }),
                            ),
                            ExecutionResult::Halt { reason, .. } => (
                                Bytes::new(),
                                Some(SimCallFailure {
                                    code: -32015,
                                    message: crate::call::halt_message(reason),
                                    data: None,
                                }),
                            ),
                        };
                        call = Some(SimCall {
                            output,
                            gas_used: gas.tx_gas_used(),
                            max_used_gas: gas.total_gas_spent().max(gas.floor_gas()),
                            failure,
                            logs: Vec::new(),
                        });
                    },
                )
                .map_err(block_error)?;
            let logs = executor.evm_mut().inspector_mut().take();
            if let Some(mut call) = call {
                call.logs = logs;
                *gas_pool = gas_pool.saturating_sub(call.gas_used);
                calls.push(call);
            }
            transactions.push(transaction);
            senders.push(from);
        }
        let (evm, result) = executor.finish().map_err(block_error)?;
        let (mut state, _) = evm.finish();
        state.merge_transitions(BundleRetention::PlainState);
        let changes = changes_from_bundle(state.bundle_state.clone());
        db = state;

        let receipts = result.receipts;
        header.gas_used = result.gas_used;
        if cancun {
            header.blob_gas_used = Some(result.blob_gas_used);
        }
        if active(Hardfork::Prague) {
            header.requests_hash = Some(result.requests.requests_hash());
        }
        header.state_root = state_root(&changes)?;
        header.transactions_root = calculate_transaction_root(&transactions);
        header.receipts_root = calculate_receipt_root(&receipts);
        header.logs_bloom =
            receipts.iter().fold(Default::default(), |bloom, receipt| bloom | receipt.bloom());
        let hash = header.hash_slow();
        db.override_block_hashes(BTreeMap::from([(number, hash)]));
        let body = BlockBody {
            transactions,
            ommers: Vec::new(),
            withdrawals: active(Hardfork::Shanghai).then(|| withdrawals.into()),
        };
        parent = header.clone();
        parent_hash = hash;
        out.push(SimulatedBlock { block: Block { header, body }, hash, senders, receipts, calls });
    }
    Ok(out)
}

/// ERC-7528's address for native-currency transfer logs.
const ETH_TRANSFER_ADDRESS: Address = Address::repeat_byte(0xee);

/// `Transfer(address,address,uint256)`.
const TRANSFER_TOPIC: B256 =
    balnode_primitives::b256!("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// An ERC-7528 transfer log.
fn transfer_log(from: Address, to: Address, value: U256) -> balnode_primitives::primitives::Log {
    let topics = vec![TRANSFER_TOPIC, from.into_word(), to.into_word()];
    let data = Bytes::from(value.to_be_bytes::<32>().to_vec());
    balnode_primitives::primitives::Log::new_unchecked(ETH_TRANSFER_ADDRESS, topics, data)
}

/// Records a transaction's logs in order with an ERC-7528 transfer log for each value transfer
/// (`traceTransfers`); a reverted frame drops the logs it and its children recorded.
#[derive(Debug, Default)]
pub(crate) struct TransferInspector {
    /// Whether transfers are logged at all.
    enabled: bool,
    /// The logs kept so far, each with its index: the number of logs recorded in the block before it,
    /// dropped ones included (geth's numbering).
    logs: Vec<(u64, balnode_primitives::primitives::Log)>,
    /// The number of logs when each open frame started.
    frames: Vec<usize>,
    /// Logs recorded in the block, dropped ones included.
    recorded: u64,
}

impl TransferInspector {
    fn record(&mut self, log: balnode_primitives::primitives::Log) {
        self.logs.push((self.recorded, log));
        self.recorded += 1;
    }

    fn transfer(&mut self, from: Address, to: Address, value: U256) {
        self.record(transfer_log(from, to, value));
    }

    /// The logs of the transaction just run, leaving the inspector ready for the next.
    fn take(&mut self) -> Vec<(u64, balnode_primitives::primitives::Log)> {
        self.frames.clear();
        std::mem::take(&mut self.logs)
    }
}

impl<CTX> revm::Inspector<CTX> for TransferInspector {
    fn log(&mut self, _context: &mut CTX, log: balnode_primitives::primitives::Log) {
        self.record(log);
    }

    fn call(
        &mut self,
        _context: &mut CTX,
        inputs: &mut revm::interpreter::CallInputs,
    ) -> Option<revm::interpreter::CallOutcome> {
        self.frames.push(self.logs.len());
        if self.enabled
            && let Some(value) = inputs.transfer_value()
            && !value.is_zero()
        {
            self.transfer(inputs.transfer_from(), inputs.transfer_to(), value);
        }
        None
    }

    fn call_end(
        &mut self,
        _context: &mut CTX,
        _inputs: &revm::interpreter::CallInputs,
        outcome: &mut revm::interpreter::CallOutcome,
    ) {
        let start = self.frames.pop().unwrap_or_default();
        if !outcome.result.is_ok() {
            self.logs.truncate(start);
        }
    }

    fn create(
        &mut self,
        _context: &mut CTX,
        _inputs: &mut revm::interpreter::CreateInputs,
    ) -> Option<revm::interpreter::CreateOutcome> {
        self.frames.push(self.logs.len());
        None
    }

    fn create_end(
        &mut self,
        _context: &mut CTX,
        inputs: &revm::interpreter::CreateInputs,
        outcome: &mut revm::interpreter::CreateOutcome,
    ) {
        let start = self.frames.pop().unwrap_or_default();
        if !outcome.result.is_ok() {
            self.logs.truncate(start);
        } else if self.enabled
            && !inputs.value().is_zero()
            && let Some(created) = outcome.address
        {
            // The transfer happened when the frame began: its log goes before the constructor's.
            let index = self.logs.get(start).map_or(self.recorded, |(index, _)| *index);
            self.logs
                .insert(start, (index, transfer_log(inputs.caller(), created, inputs.value())));
            for (later, _) in &mut self.logs[start + 1..] {
                *later += 1;
            }
            self.recorded += 1;
        }
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        if self.enabled && !value.is_zero() {
            self.transfer(contract, target, value);
        }
    }
}
