//! The seam between the server and a transaction pool ([`TransactionPoolApi`]), and the methods that need
//! one: `eth_sendRawTransaction` and `txpool_status`, `txpool_content`, `txpool_contentFrom`,
//! `txpool_inspect` in geth's shapes.
//!
//! The pool itself lives in `balnode-devnet`; the server only knows this trait, so that RPC never depends
//! on the pool's internals (nor the pool on the server's).

use std::{collections::BTreeMap, sync::Arc};

use alloy_consensus::{Transaction as _, transaction::Recovered};
use alloy_rpc_types_eth::Transaction as RpcTransaction;
use balnode_primitives::{Address, Bytes, TxEnvelope, TxHash, U256};
use jsonrpsee::RpcModule;
use serde_json::{Map, Value, json};

use crate::{
    RpcContext,
    api::{blocking, to_json},
    error::{RpcError, RpcResult},
    params::Args,
};

/// Why a pool refused a transaction: geth's message (`nonce too low: next nonce 3, tx nonce 1`, ...), which
/// JSON-RPC returns with code -32000.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PoolRejection(pub String);

/// A transaction in the pool, with its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolTransaction {
    /// The transaction (a blob transaction without its sidecar).
    pub tx: TxEnvelope,
    /// Its recovered sender.
    pub sender: Address,
}

/// The transactions of a pool: executable ones (`pending`) and those waiting for a nonce gap to fill
/// (`queued`), by sender and nonce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolContent {
    /// Transactions that can run in nonce order from the sender's current nonce.
    pub pending: BTreeMap<Address, BTreeMap<u64, PoolTransaction>>,
    /// Transactions behind a nonce gap.
    pub queued: BTreeMap<Address, BTreeMap<u64, PoolTransaction>>,
}

/// What the JSON-RPC server asks of a transaction pool.
pub trait TransactionPoolApi: Send + Sync + 'static {
    /// Validates and inserts an EIP-2718 transaction in its network form (a blob transaction with its
    /// sidecar); returns its hash.
    fn send_raw_transaction(&self, raw: &[u8]) -> Result<TxHash, PoolRejection>;
    /// The numbers of pending and queued transactions.
    fn status(&self) -> (usize, usize);
    /// Every transaction, pending and queued.
    fn content(&self) -> PoolContent;
    /// The transactions of one sender.
    fn content_from(&self, sender: Address) -> PoolContent;
    /// A pooled transaction by hash.
    fn transaction_by_hash(&self, hash: TxHash) -> Option<PoolTransaction>;
    /// The nonce after the sender's pending transactions, `None` when it has none.
    fn pending_nonce(&self, sender: Address) -> Option<u64>;
}

/// A pooled transaction in the shape of `eth_getTransactionByHash`: no block, and (as geth) the fee cap as
/// `gasPrice`.
pub(crate) fn rpc_transaction(entry: &PoolTransaction) -> RpcTransaction {
    RpcTransaction {
        inner: Recovered::new_unchecked(entry.tx.clone(), entry.sender),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: Some(entry.tx.max_fee_per_gas()),
        block_timestamp: None,
    }
}

/// [`rpc_transaction`] as JSON, with the block fields geth writes as `null`.
fn pending_json(entry: &PoolTransaction) -> RpcResult<Value> {
    let mut value = serde_json::to_value(rpc_transaction(entry))?;
    if let Some(object) = value.as_object_mut() {
        for field in ["blockHash", "blockNumber", "blockTimestamp", "transactionIndex"] {
            object.entry(field).or_insert(Value::Null);
        }
    }
    Ok(value)
}

/// geth's one-line summary of a transaction (`txpool_inspect`).
fn summary(tx: &TxEnvelope) -> String {
    let price = tx.max_fee_per_gas();
    match tx.to() {
        Some(to) => format!("{to}: {} wei + {} gas × {price} wei", tx.value(), tx.gas_limit()),
        None => {
            format!("contract creation: {} wei + {} gas × {price} wei", tx.value(), tx.gas_limit())
        }
    }
}

/// `{nonce: f(tx)}` for one sender.
fn by_nonce(
    txs: &BTreeMap<u64, PoolTransaction>,
    f: impl Fn(&PoolTransaction) -> RpcResult<Value>,
) -> RpcResult<Value> {
    let mut map = Map::new();
    for (nonce, entry) in txs {
        map.insert(nonce.to_string(), f(entry)?);
    }
    Ok(Value::Object(map))
}

/// `{sender: {nonce: f(tx)}}`, senders checksummed as geth writes them.
fn by_sender(
    senders: &BTreeMap<Address, BTreeMap<u64, PoolTransaction>>,
    f: impl Fn(&PoolTransaction) -> RpcResult<Value> + Copy,
) -> RpcResult<Value> {
    let mut map = Map::new();
    for (sender, txs) in senders {
        map.insert(sender.to_checksum(None), by_nonce(txs, f)?);
    }
    Ok(Value::Object(map))
}

impl RpcContext {
    /// The pool, or the error every pool method answers without one.
    pub(crate) fn pool(&self) -> RpcResult<&Arc<dyn TransactionPoolApi>> {
        self.pool.as_ref().ok_or_else(|| {
            RpcError::Execution(
                "this node has no transaction pool (start it with --dev)".to_owned(),
            )
        })
    }
}

/// `eth_sendRawTransaction`, registered with the `eth` methods.
pub(crate) fn register_send_raw_transaction(module: &mut RpcModule<Arc<RpcContext>>) {
    blocking(module, "eth_sendRawTransaction", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let raw: Bytes = args.required(0)?;
        let pool = ctx.pool()?;
        let hash = pool
            .send_raw_transaction(&raw)
            .map_err(|rejection| RpcError::Execution(rejection.0))?;
        tracing::debug!(target: "rpc::eth", %hash, "Transaction added to the pool");
        to_json(hash)
    });
}

/// `eth_sendRawTransaction` alone, over `context`'s pool: what the Engine API port serves of the pool
/// (`engine::start_engine_server_with`).
pub fn send_raw_transaction_module(context: Arc<RpcContext>) -> RpcModule<()> {
    let mut module = RpcModule::new(context);
    register_send_raw_transaction(&mut module);
    let mut methods = RpcModule::new(());
    methods.merge(module).expect("one method");
    methods
}

/// The `txpool_*` methods.
pub fn txpool_module(context: Arc<RpcContext>) -> RpcModule<Arc<RpcContext>> {
    let mut module = RpcModule::new(context);
    blocking(&mut module, "txpool_status", |ctx, params| {
        Args::parse(&params, 0)?;
        let (pending, queued) = ctx.pool()?.status();
        Ok(json!({ "pending": U256::from(pending), "queued": U256::from(queued) }))
    });
    blocking(&mut module, "txpool_content", |ctx, params| {
        Args::parse(&params, 0)?;
        let content = ctx.pool()?.content();
        Ok(json!({
            "pending": by_sender(&content.pending, pending_json)?,
            "queued": by_sender(&content.queued, pending_json)?,
        }))
    });
    blocking(&mut module, "txpool_contentFrom", |ctx, params| {
        let args = Args::parse(&params, 1)?;
        let sender: Address = args.required(0)?;
        let content = ctx.pool()?.content_from(sender);
        let empty = BTreeMap::new();
        Ok(json!({
            "pending": by_nonce(content.pending.get(&sender).unwrap_or(&empty), pending_json)?,
            "queued": by_nonce(content.queued.get(&sender).unwrap_or(&empty), pending_json)?,
        }))
    });
    blocking(&mut module, "txpool_inspect", |ctx, params| {
        Args::parse(&params, 0)?;
        let content = ctx.pool()?.content();
        let summarise = |entry: &PoolTransaction| Ok(Value::String(summary(&entry.tx)));
        Ok(json!({
            "pending": by_sender(&content.pending, summarise)?,
            "queued": by_sender(&content.queued, summarise)?,
        }))
    });
    module
}

#[cfg(test)]
mod tests {
    use super::*;
    use balnode_primitives::{
        consensus::{Signed, TxLegacy},
        primitives::{Signature, TxKind},
    };

    #[test]
    fn inspect_summaries_are_geths() {
        let call = TxLegacy {
            to: TxKind::Call(Address::repeat_byte(0xaa)),
            value: U256::from(10),
            gas_limit: 21_000,
            gas_price: 7,
            ..Default::default()
        };
        let tx: TxEnvelope = Signed::new_unhashed(call, Signature::test_signature()).into();
        let to = Address::repeat_byte(0xaa).to_checksum(None);
        assert_eq!(summary(&tx), format!("{to}: 10 wei + 21000 gas × 7 wei"));
        let create = TxLegacy { gas_limit: 53_000, gas_price: 1, ..Default::default() };
        let tx: TxEnvelope = Signed::new_unhashed(create, Signature::test_signature()).into();
        assert_eq!(summary(&tx), "contract creation: 0 wei + 53000 gas × 1 wei");
    }
}
