//! The methods, one registration function per namespace. Each method parses its positional parameters (`params.rs`),
//! reads through [`RpcProvider`](crate::RpcProvider) on the blocking pool and returns JSON.

use std::sync::Arc;

use alloy_consensus::Transaction as _;
use alloy_eips::{BlockId, BlockNumberOrTag, Encodable2718, eip1559::BaseFeeParams};
use alloy_rlp::Encodable;
use alloy_rpc_types_eth::{
    BlockOverrides, EIP1186AccountProofResponse, EIP1186StorageProof, FeeHistory, Filter,
    FilterBlockOption, Log as RpcLog, TransactionRequest, simulate::SimulatePayload,
    state::StateOverride,
};
use alloy_rpc_types_trace::geth::{GethDebugTracingOptions, GethTrace, TraceResult};
use balnode_executor::{CallEnv, TraceError};
use balnode_primitives::{Address, B256, Block, BlockNumber, Bytes, Header, U256, keccak256};
use balnode_storage_api::{ProviderError, StateProvider};
use jsonrpsee::{RpcModule, types::Params};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    RpcContext,
    convert::{StoredBlock, receipt_logs},
    error::{RpcError, RpcResult},
    filters::FilterKind,
    params::{Args, parse_slot},
};

/// Registers `name` on the blocking pool: `handler` gets the context and the parameters.
pub(crate) fn blocking<F>(module: &mut RpcModule<Arc<RpcContext>>, name: &'static str, handler: F)
where
    F: Fn(&RpcContext, Params<'_>) -> RpcResult<Value> + Clone + Send + Sync + 'static,
{
    module
        .register_blocking_method(name, move |params, context, _| {
            let result = handler(&context, params);
            if let Err(error) = &result {
                tracing::debug!(target: "rpc", method = name, %error, "Request failed");
            }
            result
        })
        .expect("each method is registered once");
}

/// Registers `name` like [`blocking`], answering with an error when the EVM work takes longer than the
/// configured `evm_timeout`. revm cannot be interrupted: the work finishes on its blocking thread (bounded by
/// the gas cap), but the client is answered on time.
fn timed<F>(module: &mut RpcModule<Arc<RpcContext>>, name: &'static str, handler: F)
where
    F: Fn(&RpcContext, Params<'_>) -> RpcResult<Value> + Clone + Send + Sync + 'static,
{
    module
        .register_async_method(name, move |params, context, _| {
            let handler = handler.clone();
            async move {
                let timeout = context.config.evm_timeout;
                let work = tokio::task::spawn_blocking(move || handler(&context, params));
                let result = match tokio::time::timeout(timeout, work).await {
                    Ok(Ok(result)) => result,
                    Ok(Err(join)) => Err(RpcError::Internal(format!("{name} failed: {join}"))),
                    Err(_) => Err(RpcError::Execution(format!(
                        "execution aborted (timeout = {}ms)",
                        timeout.as_millis()
                    ))),
                };
                if let Err(error) = &result {
                    tracing::debug!(target: "rpc", method = name, %error, "Request failed");
                }
                result
            }
        })
        .expect("each method is registered once");
}

pub(crate) fn to_json<T: Serialize>(value: T) -> RpcResult<Value> {
    Ok(serde_json::to_value(value)?)
}

// ---------------------------------------------------------------------------------------------------------
// Block resolution.

impl RpcContext {
    pub(crate) fn head(&self) -> RpcResult<BlockNumber> {
        Ok(self.provider.chain_info()?.head_number)
    }

    /// The number a tag or number names, `None` for a block the store does not have.
    pub(crate) fn number_of_tag(&self, tag: BlockNumberOrTag) -> RpcResult<Option<BlockNumber>> {
        let head = self.head()?;
        Ok(match tag {
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => Some(head),
            BlockNumberOrTag::Earliest => Some(0),
            BlockNumberOrTag::Safe => self.provider.forkchoice_markers()?.safe,
            BlockNumberOrTag::Finalized => self.provider.forkchoice_markers()?.finalized,
            BlockNumberOrTag::Number(number) => (number <= head).then_some(number),
        })
    }

    /// The canonical number a block id names, `None` for a block the store does not have.
    pub(crate) fn number_of(&self, id: BlockId) -> RpcResult<Option<BlockNumber>> {
        match id {
            BlockId::Number(tag) => self.number_of_tag(tag),
            BlockId::Hash(hash) => Ok(self.provider.block_number(hash.block_hash)?),
        }
    }

    /// Like [`Self::number_of`], failing with `header not found` for an unknown block.
    pub(crate) fn require_number(&self, id: Option<BlockId>) -> RpcResult<BlockNumber> {
        self.number_of(id.unwrap_or_default())?.ok_or(RpcError::HeaderNotFound)
    }

    pub(crate) fn header(&self, number: BlockNumber) -> RpcResult<Header> {
        self.provider.header_by_number(number)?.ok_or(RpcError::HeaderNotFound)
    }

    /// The stored block at `number`, `None` when there is none.
    pub(crate) fn block(&self, number: BlockNumber) -> RpcResult<Option<StoredBlock>> {
        let Some(header) = self.provider.header_by_number(number)? else { return Ok(None) };
        let Some(hash) = self.provider.block_hash(number)? else { return Ok(None) };
        let Some(body) = self.provider.body(number)? else { return Ok(None) };
        let senders = self.provider.senders(number)?.unwrap_or_default();
        Ok(Some(StoredBlock { hash, header, body, senders }))
    }

    pub(crate) fn state(&self, number: BlockNumber) -> RpcResult<Box<dyn StateProvider>> {
        Ok(self.provider.state_at(number)?)
    }

    /// The state after the block `id` names (default `latest`). The name is resolved and the state opened in
    /// two reads of the store: when a reorg unwinds the resolved block in between, the name is resolved again
    /// (so `latest` during a reorg is the new head, not `header not found`).
    pub(crate) fn state_for(&self, id: Option<BlockId>) -> RpcResult<Box<dyn StateProvider>> {
        let mut attempts = 0;
        loop {
            let number = self.require_number(id)?;
            match self.provider.state_at(number) {
                Err(ProviderError::StateNotAvailable { .. } | ProviderError::BlockNotFound(_))
                    if attempts < 3 =>
                {
                    attempts += 1;
                }
                state => return Ok(state?),
            }
        }
    }

    pub(crate) fn receipts(
        &self,
        block: &StoredBlock,
    ) -> RpcResult<Vec<alloy_rpc_types_eth::TransactionReceipt>> {
        let number = block.header.number;
        let receipts = self.provider.receipts(number)?.unwrap_or_default();
        Ok(block.rpc_receipts(&self.spec, &receipts))
    }

    /// Logs of blocks `from..=to` matching `filter`, within the configured limits.
    pub(crate) fn logs_in_range(
        &self,
        filter: &Filter,
        from: BlockNumber,
        to: BlockNumber,
    ) -> RpcResult<Vec<RpcLog>> {
        if to.saturating_sub(from) >= self.config.max_logs_block_range {
            return Err(RpcError::LimitExceeded(format!(
                "block range too large: {} blocks, the limit is {}",
                to - from + 1,
                self.config.max_logs_block_range
            )));
        }
        let mut logs = Vec::new();
        for number in from..=to {
            let Some(header) = self.provider.header_by_number(number)? else { break };
            if !filter.matches_bloom(header.logs_bloom) {
                continue;
            }
            let Some(block) = self.block(number)? else { break };
            let receipts = self.receipts(&block)?;
            for log in receipt_logs(&receipts) {
                if filter.matches(&log.inner) {
                    logs.push(log.clone());
                    if logs.len() > self.config.max_logs {
                        return Err(RpcError::LimitExceeded(format!(
                            "query returned more than {} results",
                            self.config.max_logs
                        )));
                    }
                }
            }
        }
        Ok(logs)
    }

    /// `eth_getLogs` over a filter: a block hash, or a range checked against the head.
    pub(crate) fn logs(&self, filter: &Filter) -> RpcResult<Vec<RpcLog>> {
        match filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let number = self
                    .provider
                    .block_number(hash)?
                    .ok_or_else(|| RpcError::InvalidParams("unknown block".to_owned()))?;
                self.logs_in_range(filter, number, number)
            }
            FilterBlockOption::Range { from_block, to_block } => {
                let head = self.head()?;
                let resolve = |tag: Option<BlockNumberOrTag>| -> RpcResult<BlockNumber> {
                    match tag.unwrap_or(BlockNumberOrTag::Latest) {
                        BlockNumberOrTag::Number(number) => Ok(number),
                        tag => self.number_of_tag(tag)?.ok_or_else(|| {
                            RpcError::InvalidParams(format!("{tag} block not found"))
                        }),
                    }
                };
                let from = resolve(from_block)?;
                let to = resolve(to_block)?;
                if from > to {
                    return Err(RpcError::InvalidParams("invalid block range params".to_owned()));
                }
                if to > head {
                    return Err(RpcError::InvalidParams(
                        "block range extends beyond current head block".to_owned(),
                    ));
                }
                self.logs_in_range(filter, from, to)
            }
        }
    }

    pub(crate) fn call_env<'a>(&'a self, header: &'a Header) -> CallEnv<'a> {
        CallEnv { spec: &self.spec, header, gas_cap: self.config.call_gas_cap }
    }

    /// The suggested priority fee: the median effective tip of the last 20 blocks' transactions, at least
    /// 1 wei.
    pub(crate) fn suggested_tip(&self) -> RpcResult<u128> {
        let head = self.head()?;
        let mut tips = Vec::new();
        for number in head.saturating_sub(19)..=head {
            let Some(block) = self.block(number)? else { continue };
            let base_fee = block.header.base_fee_per_gas;
            tips.extend(
                block
                    .body
                    .transactions
                    .iter()
                    .filter_map(|tx| tx.effective_tip_per_gas(base_fee.unwrap_or_default())),
            );
        }
        tips.sort_unstable();
        Ok(tips.get(tips.len() / 2).copied().unwrap_or(1).max(1))
    }

    /// The base fee of the block after the head.
    pub(crate) fn next_base_fee(&self) -> RpcResult<u128> {
        let header = self.header(self.head()?)?;
        Ok(u128::from(header.next_block_base_fee(BaseFeeParams::ethereum()).unwrap_or_default()))
    }
}

/// The block-and-overrides parameters of `eth_call`-like methods: request, block, state overrides, block
/// overrides.
fn call_args(
    context: &RpcContext,
    args: &Args,
) -> RpcResult<(TransactionRequest, Header, Option<StateOverride>, Option<BlockOverrides>)> {
    let request: TransactionRequest = args.required(0)?;
    let number = context.require_number(args.optional(1)?)?;
    let header = context.header(number)?;
    let state_overrides: Option<StateOverride> = args.optional(2)?;
    let block_overrides: Option<BlockOverrides> = args.optional(3)?;
    Ok((request, header, state_overrides, block_overrides))
}

// ---------------------------------------------------------------------------------------------------------
// eth.

/// The `eth_*` methods.
pub fn eth_module(context: Arc<RpcContext>) -> RpcModule<Arc<RpcContext>> {
    let mut module = RpcModule::new(context);

    blocking(&mut module, "eth_chainId", |ctx, params| {
        Args::parse(&params, 0)?;
        to_json(U256::from(ctx.spec.chain_id()))
    });
    blocking(&mut module, "eth_blockNumber", |ctx, params| {
        Args::parse(&params, 0)?;
        to_json(U256::from(ctx.head()?))
    });
    blocking(&mut module, "eth_syncing", |_, params| {
        Args::parse(&params, 0)?;
        Ok(Value::Bool(false))
    });
    blocking(&mut module, "eth_getBlockByNumber", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let tag: BlockNumberOrTag = args.required(0)?;
        let full: bool = args.optional(1)?.unwrap_or(false);
        let Some(number) = ctx.number_of_tag(tag)? else { return Ok(Value::Null) };
        to_json(ctx.block(number)?.map(|block| block.to_rpc(full)))
    });
    blocking(&mut module, "eth_getBlockByHash", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let hash = args.hash(0)?;
        let full: bool = args.optional(1)?.unwrap_or(false);
        let Some(number) = ctx.provider.block_number(hash)? else { return Ok(Value::Null) };
        to_json(ctx.block(number)?.map(|block| block.to_rpc(full)))
    });
    blocking(&mut module, "eth_getBlockTransactionCountByNumber", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        body_count(ctx, ctx.number_of_tag(args.required(0)?)?, |body| body.transactions.len())
    });
    blocking(&mut module, "eth_getBlockTransactionCountByHash", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        body_count(ctx, ctx.provider.block_number(args.hash(0)?)?, |body| body.transactions.len())
    });
    blocking(&mut module, "eth_getUncleCountByBlockNumber", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        body_count(ctx, ctx.number_of_tag(args.required(0)?)?, |body| body.ommers.len())
    });
    blocking(&mut module, "eth_getUncleCountByBlockHash", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        body_count(ctx, ctx.provider.block_number(args.hash(0)?)?, |body| body.ommers.len())
    });
    blocking(&mut module, "eth_getUncleByBlockNumberAndIndex", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let Some(number) = ctx.number_of_tag(args.required(0)?)? else { return Ok(Value::Null) };
        let index: U256 = args.required(1)?;
        uncle(ctx, number, index)
    });
    blocking(&mut module, "eth_getUncleByBlockHashAndIndex", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let Some(number) = ctx.provider.block_number(args.hash(0)?)? else {
            return Ok(Value::Null);
        };
        let index: U256 = args.required(1)?;
        uncle(ctx, number, index)
    });
    blocking(&mut module, "eth_getTransactionByHash", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let hash = args.hash(0)?;
        let Some(location) = ctx.provider.transaction_location(hash)? else {
            // Not in a block: a pooled transaction, as geth answers it (no block fields).
            let pooled = ctx.pool.as_ref().and_then(|pool| pool.transaction_by_hash(hash));
            return to_json(pooled.as_ref().map(crate::txpool::rpc_transaction));
        };
        let Some(block) = ctx.block(location.block_number)? else { return Ok(Value::Null) };
        to_json(block.transaction(location.index as usize))
    });
    blocking(&mut module, "eth_getTransactionByBlockHashAndIndex", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let Some(number) = ctx.provider.block_number(args.hash(0)?)? else {
            return Ok(Value::Null);
        };
        let index: U256 = args.required(1)?;
        let Some(block) = ctx.block(number)? else { return Ok(Value::Null) };
        to_json(usize::try_from(index).ok().and_then(|index| block.transaction(index)))
    });
    blocking(&mut module, "eth_getTransactionByBlockNumberAndIndex", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let Some(number) = ctx.number_of_tag(args.required(0)?)? else { return Ok(Value::Null) };
        let index: U256 = args.required(1)?;
        let Some(block) = ctx.block(number)? else { return Ok(Value::Null) };
        to_json(usize::try_from(index).ok().and_then(|index| block.transaction(index)))
    });
    blocking(&mut module, "eth_getTransactionReceipt", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let Some(location) = ctx.provider.transaction_location(args.hash(0)?)? else {
            return Ok(Value::Null);
        };
        let Some(block) = ctx.block(location.block_number)? else { return Ok(Value::Null) };
        let receipts = ctx.receipts(&block)?;
        to_json(receipts.into_iter().nth(location.index as usize))
    });
    blocking(&mut module, "eth_getBlockReceipts", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let id: BlockId = args.required(0)?;
        let Some(number) = ctx.number_of(id)? else { return Ok(Value::Null) };
        let Some(block) = ctx.block(number)? else { return Ok(Value::Null) };
        to_json(ctx.receipts(&block)?)
    });
    blocking(&mut module, "eth_getBalance", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let address: Address = args.required(0)?;
        let state = ctx.state_for(args.optional(1)?)?;
        let account = state.basic_account(address)?;
        to_json(account.map(|account| account.balance).unwrap_or_default())
    });
    blocking(&mut module, "eth_getTransactionCount", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let address: Address = args.required(0)?;
        let id: Option<BlockId> = args.optional(1)?;
        let state = ctx.state_for(id)?;
        let nonce = state.basic_account(address)?.map(|account| account.nonce).unwrap_or_default();
        // `pending` counts the sender's executable pool transactions too (geth's pool nonce).
        let pooled = match (id, &ctx.pool) {
            (Some(BlockId::Number(BlockNumberOrTag::Pending)), Some(pool)) => {
                pool.pending_nonce(address)
            }
            _ => None,
        };
        to_json(U256::from(pooled.map_or(nonce, |pooled| pooled.max(nonce))))
    });
    crate::txpool::register_send_raw_transaction(&mut module);
    blocking(&mut module, "eth_getCode", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let address: Address = args.required(0)?;
        let state = ctx.state_for(args.optional(1)?)?;
        let code = match state.basic_account(address)?.and_then(|account| account.bytecode_hash) {
            Some(hash) => state.bytecode_by_hash(hash)?.unwrap_or_default(),
            None => Bytes::new(),
        };
        to_json(code)
    });
    blocking(&mut module, "eth_getStorageAt", |ctx, params| {
        let args = Args::parse(&params, 3)?;
        let address: Address = args.required(0)?;
        let slot = args.slot(1)?;
        let state = ctx.state_for(args.optional(2)?)?;
        to_json(B256::from(state.storage(address, slot)?.unwrap_or_default()))
    });
    blocking(&mut module, "eth_getStorageValues", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let request: std::collections::BTreeMap<Address, Vec<String>> = args.required(0)?;
        if request.is_empty() {
            return Err(RpcError::InvalidParams("empty request".to_owned()));
        }
        let total: usize = request.values().map(Vec::len).sum();
        if total > 1024 {
            return Err(RpcError::LimitExceeded(format!(
                "too many slots: {total}, the limit is 1024"
            )));
        }
        let state = ctx.state_for(args.optional(1)?)?;
        let mut out = serde_json::Map::new();
        for (address, slots) in request {
            let mut values = Vec::with_capacity(slots.len());
            for slot in slots {
                let slot = parse_slot(&slot).map_err(RpcError::InvalidParams)?;
                values.push(B256::from(state.storage(address, slot)?.unwrap_or_default()));
            }
            out.insert(address.to_string().to_lowercase(), serde_json::to_value(values)?);
        }
        Ok(Value::Object(out))
    });
    blocking(&mut module, "eth_getProof", |ctx, params| {
        let args = Args::parse(&params, 3)?;
        let address: Address = args.required(0)?;
        let keys: Vec<alloy_serde::storage::JsonStorageKey> = args.required(1)?;
        let number = ctx.require_number(args.optional(2)?)?;
        let slots: Vec<B256> = keys.iter().map(|key| key.as_b256()).collect();
        let proof = ctx.provider.proof(number, address, &slots)?;
        let response = EIP1186AccountProofResponse {
            address,
            balance: proof.balance(),
            code_hash: proof.code_hash(),
            nonce: proof.nonce(),
            storage_hash: proof.storage_hash(),
            account_proof: proof.account_proof.clone(),
            storage_proof: proof
                .storage_proofs
                .iter()
                .zip(keys)
                .map(|(slot, key)| EIP1186StorageProof {
                    key,
                    value: slot.value,
                    proof: slot.proof.clone(),
                })
                .collect(),
        };
        to_json(response)
    });
    blocking(&mut module, "eth_gasPrice", |ctx, params| {
        Args::parse(&params, 0)?;
        to_json(U256::from(ctx.next_base_fee()? + ctx.suggested_tip()?))
    });
    blocking(&mut module, "eth_maxPriorityFeePerGas", |ctx, params| {
        Args::parse(&params, 0)?;
        to_json(U256::from(ctx.suggested_tip()?))
    });
    blocking(&mut module, "eth_baseFee", |ctx, params| {
        Args::parse(&params, 0)?;
        to_json(U256::from(ctx.next_base_fee()?))
    });
    blocking(&mut module, "eth_blobBaseFee", |ctx, params| {
        Args::parse(&params, 0)?;
        let header = ctx.header(ctx.head()?)?;
        let fee = ctx
            .spec
            .blob_params_at(header.timestamp)
            .and_then(|params| header.next_block_blob_fee(params))
            .ok_or_else(|| RpcError::Execution("blobs are not active on this chain".to_owned()))?;
        to_json(U256::from(fee))
    });
    blocking(&mut module, "eth_feeHistory", |ctx, params| {
        let args = Args::parse(&params, 3)?;
        let count: U256 = args.required(0)?;
        let newest: BlockNumberOrTag = args.required(1)?;
        let percentiles: Option<Vec<f64>> = args.optional(2)?;
        fee_history(ctx, count, newest, percentiles)
    });
    blocking(&mut module, "eth_getLogs", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let filter: Filter = args.required(0)?;
        to_json(ctx.logs(&filter)?)
    });
    blocking(&mut module, "eth_newFilter", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let filter: Filter = args.required(0)?;
        let head = ctx.head()?;
        let id = ctx
            .filters
            .install(FilterKind::Logs(Box::new(filter)), head)
            .ok_or_else(|| RpcError::LimitExceeded("too many filters installed".to_owned()))?;
        to_json(id)
    });
    blocking(&mut module, "eth_newBlockFilter", |ctx, params| {
        Args::parse(&params, 0)?;
        let head = ctx.head()?;
        let id = ctx
            .filters
            .install(FilterKind::Blocks, head)
            .ok_or_else(|| RpcError::LimitExceeded("too many filters installed".to_owned()))?;
        to_json(id)
    });
    blocking(&mut module, "eth_newPendingTransactionFilter", |_, _| {
        Err(RpcError::Unsupported("eth_newPendingTransactionFilter"))
    });
    blocking(&mut module, "eth_uninstallFilter", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let id: U256 = args.required(0)?;
        Ok(Value::Bool(ctx.filters.remove(id)))
    });
    blocking(&mut module, "eth_getFilterChanges", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let id: U256 = args.required(0)?;
        let filter = ctx
            .filters
            .get(id)
            .ok_or_else(|| RpcError::InvalidParams("filter not found".to_owned()))?;
        let head = ctx.head()?;
        let from = filter.last_block + 1;
        let result = match &filter.kind {
            FilterKind::Blocks => {
                let mut hashes = Vec::new();
                for number in from..=head {
                    hashes.extend(ctx.provider.block_hash(number)?);
                }
                to_json(hashes)?
            }
            FilterKind::Logs(log_filter) => {
                let to = match log_filter.block_option.get_to_block() {
                    Some(BlockNumberOrTag::Number(to)) => (*to).min(head),
                    _ => head,
                };
                let from = match log_filter.block_option.get_from_block() {
                    Some(BlockNumberOrTag::Number(start)) => from.max(*start),
                    _ => from,
                };
                if from > to {
                    to_json(Vec::<RpcLog>::new())?
                } else {
                    to_json(ctx.logs_in_range(log_filter, from, to)?)?
                }
            }
        };
        ctx.filters.advance(id, head.max(filter.last_block));
        Ok(result)
    });
    blocking(&mut module, "eth_getFilterLogs", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let id: U256 = args.required(0)?;
        let filter = ctx
            .filters
            .get(id)
            .ok_or_else(|| RpcError::InvalidParams("filter not found".to_owned()))?;
        match &filter.kind {
            FilterKind::Logs(log_filter) => to_json(ctx.logs(log_filter)?),
            FilterKind::Blocks => {
                Err(RpcError::InvalidParams("filter is not a log filter".to_owned()))
            }
        }
    });
    timed(&mut module, "eth_call", |ctx, params| {
        let args = Args::parse(&params, 4)?;
        let (request, header, state_overrides, block_overrides) = call_args(ctx, &args)?;
        let state = ctx.state(header.number)?;
        let outcome = balnode_executor::call(
            &ctx.call_env(&header),
            state,
            request,
            state_overrides,
            block_overrides,
        )?;
        match outcome.error() {
            None => to_json(outcome.output),
            Some(error) => Err(error.into()),
        }
    });
    timed(&mut module, "eth_estimateGas", |ctx, params| {
        let args = Args::parse(&params, 4)?;
        let (request, header, state_overrides, block_overrides) = call_args(ctx, &args)?;
        let state = ctx.state(header.number)?;
        let gas = balnode_executor::estimate_gas(
            &ctx.call_env(&header),
            state,
            request,
            state_overrides,
            block_overrides,
        )?;
        to_json(U256::from(gas))
    });
    timed(&mut module, "eth_createAccessList", |ctx, params| {
        let args = Args::parse(&params, 4)?;
        let (request, header, state_overrides, block_overrides) = call_args(ctx, &args)?;
        let state = ctx.state(header.number)?;
        let outcome = balnode_executor::create_access_list(
            &ctx.call_env(&header),
            state,
            request,
            state_overrides,
            block_overrides,
        )?;
        let mut result = json!({
            "accessList": outcome.access_list,
            "gasUsed": U256::from(outcome.gas_used),
        });
        if let Some(error) = outcome.error {
            result["error"] = Value::String(error);
        }
        Ok(result)
    });
    crate::pubsub::register(&mut module);
    timed(&mut module, "eth_simulateV1", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let payload: SimulatePayload = args.required(0)?;
        let number = ctx.require_number(args.optional(1)?)?;
        simulate(ctx, payload, number)
    });
    blocking(&mut module, "eth_getBlockAccessList", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let id: BlockId = args.required(0)?;
        let Some(number) = ctx.number_of(id)? else { return Ok(Value::Null) };
        let Some(rlp) = ctx.provider.block_access_list(number)? else { return Ok(Value::Null) };
        let list = balnode_bal::decode(&rlp).map_err(|error| {
            RpcError::Internal(format!("stored access list of block {number}: {error}"))
        })?;
        to_json(list)
    });
    blocking(&mut module, "eth_capabilities", |ctx, params| {
        Args::parse(&params, 0)?;
        let info = ctx.provider.chain_info()?;
        let available = json!({"disabled": false, "oldestBlock": "0x0"});
        Ok(json!({
            "head": {"number": U256::from(info.head_number), "hash": info.head_hash},
            "state": available,
            "tx": available,
            "logs": available,
            "receipts": available,
            "blocks": available,
            "stateproofs": available,
        }))
    });
    blocking(&mut module, "eth_config", |ctx, params| {
        Args::parse(&params, 0)?;
        let head = ctx.header(ctx.head()?)?;
        Ok(crate::config::eth_config(&ctx.spec, head.timestamp))
    });
    blocking(&mut module, "eth_accounts", |_, params| {
        Args::parse(&params, 0)?;
        Ok(json!([]))
    });
    module
}

/// The ommer at `index` of block `number`, as a block without transactions.
/// A count of block `number`'s body (`null` for an unknown block): its transactions or its uncles.
fn body_count(
    ctx: &RpcContext,
    number: Option<BlockNumber>,
    count: impl FnOnce(&balnode_primitives::BlockBody<balnode_primitives::TxEnvelope>) -> usize,
) -> RpcResult<Value> {
    let Some(number) = number else { return Ok(Value::Null) };
    to_json(ctx.provider.body(number)?.map(|body| U256::from(count(&body))))
}

fn uncle(ctx: &RpcContext, number: BlockNumber, index: U256) -> RpcResult<Value> {
    let Some(body) = ctx.provider.body(number)? else { return Ok(Value::Null) };
    let Some(ommer) = usize::try_from(index).ok().and_then(|index| body.ommers.get(index)) else {
        return Ok(Value::Null);
    };
    let block = StoredBlock {
        hash: ommer.hash_slow(),
        header: ommer.clone(),
        body: Default::default(),
        senders: Vec::new(),
    };
    to_json(block.to_rpc(false))
}

/// `eth_feeHistory`: base fees (one more than blocks, the last the next block's), gas used ratios and, when
/// asked, the tip at each percentile weighted by gas used.
fn fee_history(
    ctx: &RpcContext,
    count: U256,
    newest: BlockNumberOrTag,
    percentiles: Option<Vec<f64>>,
) -> RpcResult<Value> {
    const MAX_BLOCKS: u64 = 1024;
    let count = u64::try_from(count).unwrap_or(u64::MAX).min(MAX_BLOCKS);
    if let Some(percentiles) = &percentiles {
        let ordered = percentiles.windows(2).all(|pair| pair[0] <= pair[1]);
        if !ordered || percentiles.iter().any(|p| !(0.0..=100.0).contains(p)) {
            return Err(RpcError::InvalidParams("invalid reward percentiles".to_owned()));
        }
    }
    let newest = ctx.number_of_tag(newest)?.ok_or(RpcError::HeaderNotFound)?;
    if count == 0 {
        return to_json(FeeHistory::default());
    }
    let oldest = newest.saturating_sub(count - 1);
    let mut history = FeeHistory { oldest_block: oldest, ..Default::default() };
    let mut rewards = Vec::new();
    let mut last_header = None;
    for number in oldest..=newest {
        let block = ctx.block(number)?.ok_or(RpcError::HeaderNotFound)?;
        let header = &block.header;
        let blob_params = ctx.spec.blob_params_at(header.timestamp);
        history.base_fee_per_gas.push(u128::from(header.base_fee_per_gas.unwrap_or_default()));
        history.gas_used_ratio.push(header.gas_used as f64 / header.gas_limit.max(1) as f64);
        history
            .base_fee_per_blob_gas
            .push(blob_params.and_then(|params| header.blob_fee(params)).unwrap_or_default());
        let max_blob_gas =
            blob_params.map(|params| params.max_blob_gas_per_block()).unwrap_or_default();
        history.blob_gas_used_ratio.push(if max_blob_gas == 0 {
            0.0
        } else {
            header.blob_gas_used.unwrap_or_default() as f64 / max_blob_gas as f64
        });
        if let Some(percentiles) = &percentiles {
            let receipts = ctx.provider.receipts(number)?.unwrap_or_default();
            let base_fee = header.base_fee_per_gas.unwrap_or_default();
            let mut previous = 0;
            let mut tips: Vec<(u128, u64)> = block
                .body
                .transactions
                .iter()
                .zip(&receipts)
                .map(|(tx, receipt)| {
                    let cumulative = receipt.cumulative_gas_used();
                    let used = cumulative - previous;
                    previous = cumulative;
                    (tx.effective_tip_per_gas(base_fee).unwrap_or_default(), used)
                })
                .collect();
            tips.sort_unstable();
            let mut row = Vec::with_capacity(percentiles.len());
            for percentile in percentiles {
                if tips.is_empty() {
                    row.push(0);
                    continue;
                }
                let threshold = (header.gas_used as f64 * percentile / 100.0) as u64;
                let mut sum = 0u64;
                let mut chosen = tips[tips.len() - 1].0;
                for (tip, used) in &tips {
                    sum += used;
                    if sum >= threshold {
                        chosen = *tip;
                        break;
                    }
                }
                row.push(chosen);
            }
            rewards.push(row);
        }
        last_header = Some(block.header);
    }
    let last = last_header.expect("at least one block");
    history
        .base_fee_per_gas
        .push(u128::from(last.next_block_base_fee(BaseFeeParams::ethereum()).unwrap_or_default()));
    let next_blob_params = ctx.spec.blob_params_at(last.timestamp);
    history.base_fee_per_blob_gas.push(
        next_blob_params.and_then(|params| last.next_block_blob_fee(params)).unwrap_or_default(),
    );
    if percentiles.is_some() {
        history.reward = Some(rewards);
    }
    to_json(history)
}

// ---------------------------------------------------------------------------------------------------------
// net, web3.

/// The `net_*` methods.
pub fn net_module(context: Arc<RpcContext>) -> RpcModule<Arc<RpcContext>> {
    let mut module = RpcModule::new(context);
    blocking(&mut module, "net_version", |ctx, params| {
        Args::parse(&params, 0)?;
        Ok(Value::String(ctx.spec.chain_id().to_string()))
    });
    blocking(&mut module, "net_listening", |_, params| {
        Args::parse(&params, 0)?;
        Ok(Value::Bool(true))
    });
    blocking(&mut module, "net_peerCount", |_, params| {
        Args::parse(&params, 0)?;
        to_json(U256::ZERO)
    });
    module
}

/// The client version `web3_clientVersion` reports.
pub fn client_version() -> String {
    format!(
        "balnode/v{}/{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The `web3_*` methods.
pub fn web3_module(context: Arc<RpcContext>) -> RpcModule<Arc<RpcContext>> {
    let mut module = RpcModule::new(context);
    blocking(&mut module, "web3_clientVersion", |_, params| {
        Args::parse(&params, 0)?;
        Ok(Value::String(client_version()))
    });
    blocking(&mut module, "web3_sha3", |_, params| {
        let args = Args::parse(&params, 1)?;
        let data: Bytes = args.required(0)?;
        to_json(keccak256(&data))
    });
    module
}

// ---------------------------------------------------------------------------------------------------------
// debug.

/// The `debug_*` methods.
pub fn debug_module(context: Arc<RpcContext>) -> RpcModule<Arc<RpcContext>> {
    let mut module = RpcModule::new(context);
    blocking(&mut module, "debug_getRawHeader", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let Some(number) = ctx.number_of(args.required(0)?)? else { return Ok(Value::Null) };
        let header = ctx.header(number)?;
        let mut out = Vec::new();
        header.encode(&mut out);
        to_json(Bytes::from(out))
    });
    blocking(&mut module, "debug_getRawBlock", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let Some(number) = ctx.number_of(args.required(0)?)? else { return Ok(Value::Null) };
        let Some(block) = ctx.block(number)? else { return Ok(Value::Null) };
        let block = Block { header: block.header, body: block.body };
        let mut out = Vec::new();
        block.encode(&mut out);
        to_json(Bytes::from(out))
    });
    blocking(&mut module, "debug_getRawReceipts", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let Some(number) = ctx.number_of(args.required(0)?)? else { return Ok(Value::Null) };
        let receipts = ctx.provider.receipts(number)?.ok_or(RpcError::HeaderNotFound)?;
        to_json(
            receipts.iter().map(|receipt| Bytes::from(receipt.encoded_2718())).collect::<Vec<_>>(),
        )
    });
    blocking(&mut module, "debug_getRawTransaction", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let Some(location) = ctx.provider.transaction_location(args.hash(0)?)? else {
            return Ok(Value::Null);
        };
        let body = ctx.provider.body(location.block_number)?.ok_or(RpcError::HeaderNotFound)?;
        to_json(
            body.transactions.get(location.index as usize).map(|tx| Bytes::from(tx.encoded_2718())),
        )
    });
    timed(&mut module, "debug_traceTransaction", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let hash = args.hash(0)?;
        let options: GethDebugTracingOptions = args.optional(1)?.unwrap_or_default();
        let location = ctx
            .provider
            .transaction_location(hash)?
            .ok_or_else(|| RpcError::Execution(format!("transaction {hash} not found")))?;
        let index = location.index as usize;
        let mut traces = trace_block(ctx, location.block_number, Some(index), &options)?;
        let mut trace = to_json(traces.pop().map(|(_, trace)| trace))?;
        geth_struct_log_shape(&mut trace);
        Ok(trace)
    });
    timed(&mut module, "debug_traceBlockByNumber", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let tag = args.block_tag(0)?;
        let options: GethDebugTracingOptions = args.optional(1)?.unwrap_or_default();
        let number = ctx
            .number_of_tag(tag)?
            .ok_or_else(|| RpcError::Execution(format!("block {tag} not found")))?;
        block_traces(ctx, number, &options)
    });
    timed(&mut module, "debug_traceBlockByHash", |ctx, params| {
        let args = Args::parse(&params, 2)?;
        let hash = args.hash(0)?;
        let options: GethDebugTracingOptions = args.optional(1)?.unwrap_or_default();
        let number = ctx
            .provider
            .block_number(hash)?
            .ok_or_else(|| RpcError::Execution(format!("block {hash} not found")))?;
        block_traces(ctx, number, &options)
    });
    blocking(&mut module, "debug_getRawBlockAccessList", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let Some(number) = ctx.number_of(args.required(0)?)? else { return Ok(Value::Null) };
        to_json(ctx.provider.block_access_list(number)?)
    });
    module
}

/// Re-executes block `number` on its parent state, tracing transactions up to `last` (all when `None`).
fn trace_block(
    ctx: &RpcContext,
    number: BlockNumber,
    last: Option<usize>,
    options: &GethDebugTracingOptions,
) -> RpcResult<Vec<(B256, GethTrace)>> {
    if number == 0 {
        return Err(RpcError::Execution("genesis is not traceable".to_owned()));
    }
    let block = ctx.block(number)?.ok_or(RpcError::HeaderNotFound)?;
    let state = ctx.state(number - 1)?;
    let senders = block.senders.clone();
    let block = Block { header: block.header, body: block.body };
    balnode_executor::trace_block(&ctx.spec, &block, &senders, state, last, options).map_err(
        |error| match error {
            TraceError::UnsupportedTracer(_) | TraceError::InvalidConfig(_) => {
                RpcError::InvalidParams(error.to_string())
            }
            TraceError::Execution(error) => {
                RpcError::Internal(format!("re-executing block {number}: {error}"))
            }
        },
    )
}

/// `debug_traceBlockBy*`: one `{txHash, result}` per transaction.
fn block_traces(
    ctx: &RpcContext,
    number: BlockNumber,
    options: &GethDebugTracingOptions,
) -> RpcResult<Value> {
    let traces = trace_block(ctx, number, None, options)?;
    let mut traces = to_json(
        traces
            .into_iter()
            .map(|(tx_hash, result)| TraceResult::Success { result, tx_hash: Some(tx_hash) })
            .collect::<Vec<_>>(),
    )?;
    if let Value::Array(entries) = &mut traces {
        entries.iter_mut().for_each(|entry| geth_struct_log_shape(&mut entry["result"]));
    }
    Ok(traces)
}

/// geth's struct logs leave out a zero `refund`, an empty `memory` and empty `returnData`.
fn geth_struct_log_shape(trace: &mut Value) {
    let Some(Value::Array(logs)) = trace.get_mut("structLogs") else { return };
    for log in logs.iter_mut().filter_map(Value::as_object_mut) {
        if log.get("refund").and_then(Value::as_u64) == Some(0) {
            log.remove("refund");
        }
        if log.get("memory").and_then(Value::as_array).is_some_and(Vec::is_empty) {
            log.remove("memory");
        }
        if log.get("returnData").and_then(Value::as_str) == Some("0x") {
            log.remove("returnData");
        }
    }
}

/// `eth_simulateV1` on top of block `number`.
fn simulate(ctx: &RpcContext, payload: SimulatePayload, number: BlockNumber) -> RpcResult<Value> {
    let base = ctx.header(number)?;
    let base_hash = ctx.provider.block_hash(number)?.ok_or(RpcError::HeaderNotFound)?;
    let state = ctx.state(number)?;
    let options = balnode_executor::SimulateOptions {
        validation: payload.validation,
        gas_cap: ctx.config.call_gas_cap,
        trace_transfers: payload.trace_transfers,
    };
    let root_of =
        |changes: &balnode_primitives::StateChanges| ctx.provider.state_root_with(number, changes);
    let blocks = balnode_executor::simulate(
        &ctx.spec,
        &base,
        base_hash,
        state,
        payload.block_state_calls,
        options,
        &root_of,
    )
    .map_err(|error| match error {
        balnode_executor::SimulateError::Coded { code, message } => {
            RpcError::Coded { code, message }
        }
        balnode_executor::SimulateError::Provider(error) => error.into(),
        balnode_executor::SimulateError::Execution(message) => RpcError::Execution(message),
    })?;
    let mut out = Vec::with_capacity(blocks.len());
    for simulated in blocks {
        let stored = StoredBlock {
            hash: simulated.hash,
            header: simulated.block.header,
            body: simulated.block.body,
            senders: simulated.senders,
        };
        let receipts = stored.rpc_receipts(&ctx.spec, &simulated.receipts);
        let block_json = to_json(stored.to_rpc(payload.return_full_transactions))?;
        let calls = simulated
            .calls
            .iter()
            .zip(&receipts)
            .map(|(call, receipt)| {
                let logs: Vec<RpcLog> = call
                    .logs
                    .iter()
                    .map(|(index, log)| RpcLog {
                        inner: log.clone(),
                        block_hash: receipt.block_hash,
                        block_number: receipt.block_number,
                        block_timestamp: Some(stored.header.timestamp),
                        transaction_hash: Some(receipt.transaction_hash),
                        transaction_index: receipt.transaction_index,
                        log_index: Some(*index),
                        removed: false,
                    })
                    .collect();
                let mut result = json!({
                    "returnData": call.output,
                    "logs": logs,
                    "gasUsed": U256::from(call.gas_used),
                    "maxUsedGas": U256::from(call.max_used_gas),
                    "status": if call.failure.is_none() { "0x1" } else { "0x0" },
                });
                if let Some(failure) = &call.failure {
                    let mut error = json!({"code": failure.code, "message": failure.message});
                    if let Some(data) = &failure.data {
                        error["data"] = json!(data);
                    }
                    result["error"] = error;
                }
                result
            })
            .collect::<Vec<_>>();
        let mut block = block_json;
        block["calls"] = Value::Array(calls);
        out.push(block);
    }
    Ok(Value::Array(out))
}
