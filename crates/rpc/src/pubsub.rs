//! `eth_subscribe` / `eth_unsubscribe` over WebSocket: `newHeads` and `logs`.
//!
//! A poller ([`watch_head`]) reads the store's head every [`HEAD_POLL_INTERVAL`] and broadcasts each new
//! canonical block number, whoever committed it (import, the dev builder, the Engine API): the store stays the
//! only source of truth, and RPC needs no hook in the write path.

use std::{sync::Arc, time::Duration};

use alloy_rpc_types_eth::Filter;
use balnode_primitives::BlockNumber;
use jsonrpsee::{
    PendingSubscriptionSink, RpcModule, SubscriptionMessage,
    core::SubscriptionResult,
    types::{ErrorObjectOwned, Params},
};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::{RpcContext, error::RpcError};

/// Subscription ids as geth writes them: `0x` and 32 hex digits, unpredictable (keccak of a counter, the time
/// and a per-process address).
#[derive(Debug, Default)]
pub(crate) struct HexIdProvider {
    counter: std::sync::atomic::AtomicU64,
}

impl jsonrpsee::core::traits::IdProvider for HexIdProvider {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let count = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        let seed = [
            count.to_be_bytes().as_slice(),
            &nanos.to_be_bytes(),
            &(std::ptr::from_ref(self) as usize).to_be_bytes(),
        ]
        .concat();
        let hash = balnode_primitives::keccak256(seed);
        jsonrpsee::types::SubscriptionId::Str(
            balnode_primitives::hex::encode_prefixed(&hash[..16]).into(),
        )
    }
}

/// How often the head is polled.
pub(crate) const HEAD_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Polls the head and broadcasts each new block number until every receiver is gone.
pub(crate) async fn watch_head(context: Arc<RpcContext>, sender: broadcast::Sender<BlockNumber>) {
    let read_head = |context: Arc<RpcContext>| async move {
        tokio::task::spawn_blocking(move || context.provider.chain_info().ok())
            .await
            .ok()
            .flatten()
            .map(|info| info.head_number)
    };
    let mut last = read_head(context.clone()).await.unwrap_or_default();
    let mut interval = tokio::time::interval(HEAD_POLL_INTERVAL);
    loop {
        interval.tick().await;
        let Some(head) = read_head(context.clone()).await else { continue };
        if head == last {
            continue;
        }
        // A lower head is an unwind: announce the new head itself.
        let first = if head > last { last + 1 } else { head };
        for number in first..=head {
            if sender.send(number).is_err() && sender.receiver_count() == 0 {
                // Nobody listens now; keep polling for later subscribers.
            }
        }
        last = head;
    }
}

/// What a subscription watches.
enum Kind {
    NewHeads,
    Logs(Box<Filter>),
}

fn parse_kind(params: &Params<'_>) -> Result<Kind, RpcError> {
    let values: Vec<Value> =
        params.parse().map_err(|error| RpcError::InvalidParams(error.message().to_owned()))?;
    match values.first().and_then(Value::as_str) {
        Some("newHeads") if values.len() == 1 => Ok(Kind::NewHeads),
        Some("logs") if values.len() <= 2 => {
            let filter = match values.get(1) {
                Some(value) => serde_json::from_value(value.clone()).map_err(|error| {
                    RpcError::InvalidParams(format!("invalid argument 1: {error}"))
                })?,
                None => Filter::default(),
            };
            Ok(Kind::Logs(Box::new(filter)))
        }
        Some(other) => Err(RpcError::InvalidParams(format!(
            "unsupported subscription kind `{other}` (newHeads, logs)"
        ))),
        None => Err(RpcError::InvalidParams("missing the subscription kind".to_owned())),
    }
}

/// The notifications of block `number` for `kind`.
fn notifications(
    context: &RpcContext,
    kind: &Kind,
    number: BlockNumber,
) -> Result<Vec<Value>, RpcError> {
    match kind {
        Kind::NewHeads => {
            let Some(block) = context.block(number)? else { return Ok(Vec::new()) };
            let header = block.to_rpc(false).header;
            Ok(vec![serde_json::to_value(header)?])
        }
        Kind::Logs(filter) => {
            let logs = context.logs_in_range(filter, number, number)?;
            logs.into_iter().map(|log| Ok(serde_json::to_value(log)?)).collect()
        }
    }
}

/// Registers `eth_subscribe` and `eth_unsubscribe` on `module`.
pub(crate) fn register(module: &mut RpcModule<Arc<RpcContext>>) {
    module
        .register_subscription(
            "eth_subscribe",
            "eth_subscription",
            "eth_unsubscribe",
            |params, pending: PendingSubscriptionSink, context, _| async move {
                let kind = match parse_kind(&params) {
                    Ok(kind) => kind,
                    Err(error) => {
                        pending.reject(ErrorObjectOwned::from(error)).await;
                        return Ok(());
                    }
                };
                let mut heads = context.heads.subscribe();
                let sink = pending.accept().await?;
                let kind = Arc::new(kind);
                loop {
                    tokio::select! {
                        () = sink.closed() => break,
                        received = heads.recv() => {
                            let number = match received {
                                Ok(number) => number,
                                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                                Err(broadcast::error::RecvError::Closed) => break,
                            };
                            let (context, kind) = (context.clone(), kind.clone());
                            let values = tokio::task::spawn_blocking(move || notifications(&context, &kind, number))
                                .await??;
                            for value in values {
                                let message = SubscriptionMessage::new(
                                    "eth_subscription",
                                    sink.subscription_id(),
                                    &value,
                                )?;
                                sink.send(message).await?;
                            }
                        }
                    }
                }
                SubscriptionResult::Ok(())
            },
        )
        .expect("eth_subscribe is registered once");
}
