//! The `engine_*` methods: parameter and fork checks here, the chain work behind [`EngineHandle`], the payload
//! bodies read from the store.

use std::sync::Arc;

use alloy_eips::eip2718::Decodable2718;
use alloy_eips::eip7594::BlobTransactionSidecarVariant;
use alloy_rpc_types_engine::{
    BlobsBundleV1, BlobsBundleV2, ExecutionPayloadBodyV1, ExecutionPayloadBodyV2,
    ExecutionPayloadEnvelopeV3, ExecutionPayloadEnvelopeV4, ExecutionPayloadEnvelopeV5,
    ExecutionPayloadEnvelopeV6, ExecutionPayloadV3, ExecutionPayloadV4, ForkchoiceState,
    PayloadAttributes, PayloadId, PayloadStatus, PayloadStatusEnum,
};
use balnode_chainspec::ChainSpec;
use balnode_primitives::{B256, BlockNumber, Bytes, TxEnvelope, primitives::U64};
use jsonrpsee::{RpcModule, types::Params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    BlobAndProofV2, BuiltPayload, EngineError, EngineHandle, PooledBlob,
    payload::{
        EngineFork, block_to_payload_v3, block_to_payload_v4, check_requests,
        check_versioned_hashes, engine_fork, parse_attributes, payload_v3_to_block,
        payload_v4_to_block, require_fork, unexpected_fields,
    },
};
use crate::{RpcProvider, params::Args};

/// The methods this server answers, as `engine_exchangeCapabilities` reports them (without itself).
pub const CAPABILITIES: [&str; 17] = [
    "engine_newPayloadV3",
    "engine_newPayloadV4",
    "engine_newPayloadV5",
    "engine_forkchoiceUpdatedV3",
    "engine_forkchoiceUpdatedV4",
    "engine_getPayloadV3",
    "engine_getPayloadV4",
    "engine_getPayloadV5",
    "engine_getPayloadV6",
    "engine_getPayloadBodiesByHashV1",
    "engine_getPayloadBodiesByHashV2",
    "engine_getPayloadBodiesByRangeV1",
    "engine_getPayloadBodiesByRangeV2",
    "engine_getClientVersionV1",
    "engine_getBlobsV1",
    "engine_getBlobsV2",
    "engine_getBlobsV3",
];

/// The most bodies one `getPayloadBodies` request may ask for (the spec requires at least 32; geth allows
/// 1024).
pub(crate) const MAX_PAYLOAD_BODIES: usize = 1024;

/// The most blobs one `getBlobs` request may ask for (the spec requires at least 128).
pub(crate) const MAX_BLOBS: usize = 128;

/// `ClientVersionV1` (`identification.md`). alloy's type only accepts the client codes it knows; the spec says
/// any two letters must be accepted, so the code is a string here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientVersionV1 {
    /// Two letters naming the client (`BN` for balnode, not taken in the spec's list).
    pub code: String,
    /// The client's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The first four bytes of its commit, `0x`-prefixed hex (`BALNODE_GIT_COMMIT` at build time, zeros
    /// without it).
    pub commit: String,
}

/// balnode's `ClientVersionV1`.
pub fn client_version() -> ClientVersionV1 {
    let commit = option_env!("BALNODE_GIT_COMMIT")
        .map(|commit| commit.trim_start_matches("0x").chars().take(8).collect::<String>())
        .filter(|commit| commit.len() == 8 && commit.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| "00000000".to_owned());
    ClientVersionV1 {
        code: "BN".to_owned(),
        name: "balnode".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        commit: format!("0x{}", commit.to_ascii_lowercase()),
    }
}

/// What the methods share.
pub(crate) struct EngineContext {
    handle: Arc<dyn EngineHandle>,
    provider: Arc<dyn RpcProvider>,
    spec: Arc<ChainSpec>,
    /// Held across each `newPayload` and `forkchoiceUpdated`: tokio's mutex is fair, so they run one at a time
    /// in the order they arrived (`common.md`'s message ordering). `getPayload` does not wait for them: a
    /// payload being executed must not delay the proposer's block.
    order: tokio::sync::Mutex<()>,
}

type EngineResult<T> = Result<T, EngineError>;

fn to_json<T: Serialize>(value: T) -> EngineResult<Value> {
    serde_json::to_value(value)
        .map_err(|error| EngineError::Internal(format!("serialisation failed: {error}")))
}

/// Registers `name` to run `handler` on the blocking pool, in arrival order with the other ordered methods.
fn ordered<F>(module: &mut RpcModule<EngineContext>, name: &'static str, handler: F)
where
    F: Fn(&EngineContext, Params<'static>) -> EngineResult<Value> + Clone + Send + Sync + 'static,
{
    module
        .register_async_method(name, move |params, context, _| {
            let handler = handler.clone();
            async move {
                let _turn = context.order.lock().await;
                let worker = context.clone();
                let result = tokio::task::spawn_blocking(move || handler(&worker, params))
                    .await
                    .unwrap_or_else(|join| {
                        Err(EngineError::Internal(format!("{name} failed: {join}")))
                    });
                log_failure(name, &result);
                result.map_err(jsonrpsee::types::ErrorObjectOwned::from)
            }
        })
        .expect("each method is registered once");
}

/// Registers `name` to run `handler` on the blocking pool, unordered (reads).
fn blocking<F>(module: &mut RpcModule<EngineContext>, name: &'static str, handler: F)
where
    F: Fn(&EngineContext, Params<'_>) -> EngineResult<Value> + Clone + Send + Sync + 'static,
{
    module
        .register_blocking_method(name, move |params, context, _| {
            let result = handler(&context, params);
            log_failure(name, &result);
            result.map_err(jsonrpsee::types::ErrorObjectOwned::from)
        })
        .expect("each method is registered once");
}

fn log_failure(name: &str, result: &EngineResult<Value>) {
    if let Err(error) = result {
        tracing::debug!(target: "rpc::engine", method = name, %error, "Request failed");
    }
}

/// The `engine_*` methods over `handle` and `provider`.
pub(crate) fn engine_module(
    handle: Arc<dyn EngineHandle>,
    provider: Arc<dyn RpcProvider>,
    spec: Arc<ChainSpec>,
) -> RpcModule<EngineContext> {
    let context = EngineContext { handle, provider, spec, order: tokio::sync::Mutex::new(()) };
    let mut module = RpcModule::new(context);
    blocking(&mut module, "engine_exchangeCapabilities", |_, params| {
        let args = Args::parse(&params, 1)?;
        let theirs: Vec<String> = args.required(0)?;
        tracing::trace!(target: "rpc::engine", ?theirs, "Serving engine_exchangeCapabilities");
        to_json(CAPABILITIES)
    });
    blocking(&mut module, "engine_getClientVersionV1", |_, params| {
        let args = Args::parse(&params, 1)?;
        let theirs: ClientVersionV1 = args.required(0)?;
        tracing::debug!(target: "rpc::engine", code = %theirs.code, name = %theirs.name, version = %theirs.version, "Consensus client");
        to_json([client_version()])
    });
    ordered(&mut module, "engine_newPayloadV3", |context, params| new_payload(context, &params, 3));
    ordered(&mut module, "engine_newPayloadV4", |context, params| new_payload(context, &params, 4));
    ordered(&mut module, "engine_newPayloadV5", |context, params| new_payload(context, &params, 5));
    ordered(&mut module, "engine_forkchoiceUpdatedV3", |context, params| {
        forkchoice_updated(context, &params, 3)
    });
    ordered(&mut module, "engine_forkchoiceUpdatedV4", |context, params| {
        forkchoice_updated(context, &params, 4)
    });
    blocking(&mut module, "engine_getPayloadV3", |context, params| {
        get_payload(context, &params, 3)
    });
    blocking(&mut module, "engine_getPayloadV4", |context, params| {
        get_payload(context, &params, 4)
    });
    blocking(&mut module, "engine_getPayloadV5", |context, params| {
        get_payload(context, &params, 5)
    });
    blocking(&mut module, "engine_getPayloadV6", |context, params| {
        get_payload(context, &params, 6)
    });
    blocking(&mut module, "engine_getPayloadBodiesByHashV1", |context, params| {
        let bodies = bodies_by_hash(context, &params)?;
        to_json(
            bodies
                .into_iter()
                .map(|body| body.map(ExecutionPayloadBodyV1::from))
                .collect::<Vec<_>>(),
        )
    });
    blocking(&mut module, "engine_getPayloadBodiesByHashV2", |context, params| {
        to_json(bodies_by_hash(context, &params)?)
    });
    blocking(&mut module, "engine_getPayloadBodiesByRangeV1", |context, params| {
        let bodies = bodies_by_range(context, &params)?;
        to_json(
            bodies
                .into_iter()
                .map(|body| body.map(ExecutionPayloadBodyV1::from))
                .collect::<Vec<_>>(),
        )
    });
    blocking(&mut module, "engine_getPayloadBodiesByRangeV2", |context, params| {
        to_json(bodies_by_range(context, &params)?)
    });
    blocking(&mut module, "engine_getBlobsV1", |context, params| get_blobs(context, &params, 1));
    blocking(&mut module, "engine_getBlobsV2", |context, params| get_blobs(context, &params, 2));
    blocking(&mut module, "engine_getBlobsV3", |context, params| get_blobs(context, &params, 3));
    module
}

fn invalid(validation_error: String) -> EngineResult<Value> {
    to_json(PayloadStatus::new(PayloadStatusEnum::Invalid { validation_error }, None))
}

/// `engine_newPayloadV3` (Cancun), `V4` (Prague, Osaka: with `executionRequests`), `V5` (Amsterdam: an
/// `ExecutionPayloadV4` with `blockAccessList` and `slotNumber`).
fn new_payload(context: &EngineContext, params: &Params<'_>, version: u8) -> EngineResult<Value> {
    let method = format!("engine_newPayloadV{version}");
    let args = Args::parse(params, if version == 3 { 3 } else { 4 })?;
    let raw: Value = args.required(0)?;
    let expected_hashes: Vec<B256> = args.required(1)?;
    let parent_beacon_block_root: B256 = args.required(2)?;
    let requests = if version >= 4 {
        let requests: Vec<Bytes> = args.required(3)?;
        Some(check_requests(&requests)?)
    } else {
        None
    };
    let amsterdam_fields = ["blockAccessList", "slotNumber"];
    let (block, access_list) = if version < 5 {
        if let Some(field) = unexpected_fields(&raw, &amsterdam_fields) {
            return Err(EngineError::InvalidParams(format!(
                "{method} takes an ExecutionPayloadV3, which has no {field}"
            )));
        }
        let payload: ExecutionPayloadV3 = serde_json::from_value(raw).map_err(|error| {
            EngineError::InvalidParams(format!("not an ExecutionPayloadV3: {error}"))
        })?;
        let forks: &[EngineFork] = if version == 3 {
            &[EngineFork::Cancun]
        } else {
            &[EngineFork::Prague, EngineFork::Osaka]
        };
        require_fork(&context.spec, &method, payload.timestamp(), forks)?;
        match payload_v3_to_block(payload, parent_beacon_block_root, requests.as_ref()) {
            Ok(block) => (block, None),
            Err(error) => return invalid(error),
        }
    } else {
        for field in amsterdam_fields {
            if raw.get(field).is_none_or(Value::is_null) {
                return Err(EngineError::InvalidParams(format!(
                    "{method} takes an ExecutionPayloadV4: {field} is missing"
                )));
            }
        }
        let payload: ExecutionPayloadV4 = serde_json::from_value(raw).map_err(|error| {
            EngineError::InvalidParams(format!("not an ExecutionPayloadV4: {error}"))
        })?;
        require_fork(&context.spec, &method, payload.timestamp(), &[EngineFork::Amsterdam])?;
        match payload_v4_to_block(payload, parent_beacon_block_root, requests.as_ref()) {
            Ok((block, access_list)) => (block, Some(access_list)),
            Err(error) => return invalid(error),
        }
    };
    if let Err(error) = check_versioned_hashes(&block, &expected_hashes) {
        return invalid(error);
    }
    tracing::debug!(target: "rpc::engine", number = block.header.number, %method, "Serving newPayload");
    to_json(context.handle.new_payload(block, access_list)?)
}

/// `engine_forkchoiceUpdatedV3` (attributes V3, Cancun to Osaka) and `V4` (attributes V4, Amsterdam; a third
/// parameter, `custodyColumns`, checked for its size and otherwise unused: balnode samples no blobs).
fn forkchoice_updated(
    context: &EngineContext,
    params: &Params<'_>,
    version: u8,
) -> EngineResult<Value> {
    let args = Args::parse(params, if version == 3 { 2 } else { 3 })?;
    let state: ForkchoiceState = args.required(0)?;
    let attributes: Option<Value> = args.optional(1)?;
    if version >= 4 {
        let custody: Option<Bytes> = args.optional(2)?;
        if let Some(custody) = custody
            && custody.len() != 16
        {
            return Err(EngineError::InvalidParams(format!(
                "custodyColumns must be 16 bytes, got {}",
                custody.len()
            )));
        }
    }
    let attributes =
        attributes.map(|value| parse_attributes(&context.spec, value, version)).transpose()?;
    tracing::debug!(target: "rpc::engine", head = %state.head_block_hash, build = attributes.is_some(), "Serving forkchoiceUpdated");
    to_json(context.handle.forkchoice_updated(state, attributes.map(Into::into))?)
}

/// `engine_getPayloadV3` (Cancun), `V4` (Prague: with the execution requests), `V5` (Osaka: blobs bundle with
/// cell proofs), `V6` (Amsterdam: an `ExecutionPayloadV4`).
fn get_payload(context: &EngineContext, params: &Params<'_>, version: u8) -> EngineResult<Value> {
    let method = format!("engine_getPayloadV{version}");
    let args = Args::parse(params, 1)?;
    let id: PayloadId = args.required(0)?;
    let built = context.handle.get_payload(id)?.ok_or(EngineError::UnknownPayload)?;
    let fork = match version {
        3 => EngineFork::Cancun,
        4 => EngineFork::Prague,
        5 => EngineFork::Osaka,
        _ => EngineFork::Amsterdam,
    };
    require_fork(&context.spec, &method, built.block.header.timestamp, &[fork])?;
    payload_envelope(fork, built)
}

/// `built` in the response shape of `fork`'s `getPayload`.
fn payload_envelope(fork: EngineFork, built: BuiltPayload) -> EngineResult<Value> {
    let BuiltPayload { block, hash, block_access_list, fees, requests, blob_sidecars } = built;
    let execution_requests = requests.unwrap_or_default();
    match fork {
        EngineFork::Cancun | EngineFork::Prague => {
            let sidecars = blob_sidecars
                .into_iter()
                .map(|sidecar| match sidecar {
                    BlobTransactionSidecarVariant::Eip4844(sidecar) => Ok(sidecar),
                    BlobTransactionSidecarVariant::Eip7594(_) => Err(EngineError::Internal(
                        "a Cancun or Prague payload carries a sidecar with cell proofs".to_owned(),
                    )),
                })
                .collect::<EngineResult<Vec<_>>>()?;
            let envelope = ExecutionPayloadEnvelopeV3 {
                execution_payload: block_to_payload_v3(hash, &block),
                block_value: fees,
                blobs_bundle: BlobsBundleV1::new(sidecars),
                should_override_builder: false,
            };
            if fork == EngineFork::Cancun {
                return to_json(envelope);
            }
            to_json(ExecutionPayloadEnvelopeV4 { envelope_inner: envelope, execution_requests })
        }
        _ => {
            let sidecars = blob_sidecars
                .into_iter()
                .map(|sidecar| match sidecar {
                    BlobTransactionSidecarVariant::Eip7594(sidecar) => Ok(sidecar),
                    BlobTransactionSidecarVariant::Eip4844(_) => Err(EngineError::Internal(
                        "an Osaka or later payload carries a sidecar with blob proofs".to_owned(),
                    )),
                })
                .collect::<EngineResult<Vec<_>>>()?;
            let blobs_bundle = BlobsBundleV2::new(sidecars);
            if fork == EngineFork::Osaka {
                to_json(ExecutionPayloadEnvelopeV5 {
                    execution_payload: block_to_payload_v3(hash, &block),
                    block_value: fees,
                    blobs_bundle,
                    should_override_builder: false,
                    execution_requests,
                })
            } else {
                let access_list = block_access_list.ok_or_else(|| {
                    EngineError::Internal(
                        "an Amsterdam payload without its block access list".to_owned(),
                    )
                })?;
                to_json(ExecutionPayloadEnvelopeV6 {
                    execution_payload: block_to_payload_v4(hash, &block, access_list),
                    block_value: fees,
                    blobs_bundle,
                    should_override_builder: false,
                    execution_requests,
                })
            }
        }
    }
}

/// The `testing` namespace: `testing_buildBlockV1` (a payload built on any canonical block from given
/// transactions, or from the pool, without changing the chain). Only for test networks: it is served when
/// `--http.api` names `testing`.
pub fn testing_module(
    handle: Arc<dyn EngineHandle>,
    provider: Arc<dyn RpcProvider>,
    spec: Arc<ChainSpec>,
) -> RpcModule<()> {
    let context = EngineContext { handle, provider, spec, order: tokio::sync::Mutex::new(()) };
    let mut module = RpcModule::new(context);
    blocking(&mut module, "testing_buildBlockV1", |context, params| {
        let args = Args::parse(&params, 4)?;
        let parent: B256 = args.required(0)?;
        let attributes: PayloadAttributes = args.required(1)?;
        let transactions: Option<Vec<Bytes>> = args.optional(2)?;
        let extra_data: Option<Bytes> = args.optional(3)?;
        let transactions = transactions
            .map(|raw| {
                raw.iter()
                    .enumerate()
                    .map(|(index, raw)| {
                        TxEnvelope::decode_2718_exact(raw).map_err(|error| {
                            EngineError::InvalidParams(format!("transaction {index}: {error}"))
                        })
                    })
                    .collect::<EngineResult<Vec<_>>>()
            })
            .transpose()?;
        let fork = engine_fork(&context.spec, attributes.timestamp);
        let built = context.handle.build_block(
            parent,
            attributes.into(),
            transactions,
            Some(extra_data.unwrap_or_default()),
        )?;
        payload_envelope(fork, built)
    });
    let mut merged = RpcModule::new(());
    merged.merge(module).expect("one method");
    merged
}

/// The body of the canonical block `number` (with its access list from Amsterdam on), `None` when the store
/// does not have it or, with `hash`, when the canonical block there is not `hash`.
fn body_at(
    provider: &dyn RpcProvider,
    number: BlockNumber,
    hash: Option<B256>,
) -> EngineResult<Option<ExecutionPayloadBodyV2>> {
    let (Some(header), Some(body)) = (provider.header_by_number(number)?, provider.body(number)?)
    else {
        return Ok(None);
    };
    // Stored access lists of earlier blocks (`balnode bal generate` writes them) are not part of those
    // blocks: V2 answers `null` before Amsterdam.
    let access_list = match header.block_access_list_hash {
        Some(_) => provider.block_access_list(number)?,
        None => None,
    };
    // The reads above are not one snapshot: a reorg between them would mix two blocks.
    if let Some(hash) = hash
        && provider.block_hash(number)? != Some(hash)
    {
        return Ok(None);
    }
    let transactions = body.transactions.iter().map(|tx| {
        use alloy_eips::Encodable2718 as _;
        Bytes::from(tx.encoded_2718())
    });
    Ok(Some(ExecutionPayloadBodyV2 {
        transactions: transactions.collect(),
        withdrawals: body.withdrawals.map(|withdrawals| withdrawals.into_inner()),
        block_access_list: access_list,
    }))
}

/// `engine_getPayloadBodiesByHashV1/V2`: one entry per hash, `null` for a block the store does not hold.
fn bodies_by_hash(
    context: &EngineContext,
    params: &Params<'_>,
) -> EngineResult<Vec<Option<ExecutionPayloadBodyV2>>> {
    let args = Args::parse(params, 1)?;
    let hashes: Vec<B256> = args.required(0)?;
    if hashes.len() > MAX_PAYLOAD_BODIES {
        return Err(EngineError::TooLargeRequest(format!(
            "{} hashes asked for, at most {MAX_PAYLOAD_BODIES} served",
            hashes.len()
        )));
    }
    let provider = context.provider.as_ref();
    hashes
        .into_iter()
        .map(|hash| match provider.block_number(hash)? {
            Some(number) => body_at(provider, number, Some(hash)),
            None => Ok(None),
        })
        .collect()
}

/// `engine_getPayloadBodiesByRangeV1/V2`: `count` blocks from `start`, `null` for unavailable ones, none past
/// the head.
fn bodies_by_range(
    context: &EngineContext,
    params: &Params<'_>,
) -> EngineResult<Vec<Option<ExecutionPayloadBodyV2>>> {
    let args = Args::parse(params, 2)?;
    let start: U64 = args.required(0)?;
    let count: U64 = args.required(1)?;
    let (start, count) = (start.to::<u64>(), count.to::<u64>());
    if start == 0 || count == 0 {
        return Err(EngineError::InvalidParams(format!(
            "start and count must be at least 1, got start {start} and count {count}"
        )));
    }
    if count > MAX_PAYLOAD_BODIES as u64 {
        return Err(EngineError::TooLargeRequest(format!(
            "{count} bodies asked for, at most {MAX_PAYLOAD_BODIES} served"
        )));
    }
    let provider = context.provider.as_ref();
    let head = provider.chain_info()?.head_number;
    let end = start.saturating_add(count - 1).min(head);
    (start..=end).map(|number| body_at(provider, number, None)).collect()
}

/// `engine_getBlobsV1` (blob proofs; `-38005` once the head is in Osaka), `V2` (cell proofs, all or `null`) and
/// `V3` (cell proofs, `null` where missing).
fn get_blobs(context: &EngineContext, params: &Params<'_>, version: u8) -> EngineResult<Value> {
    let args = Args::parse(params, 1)?;
    let hashes: Vec<B256> = args.required(0)?;
    if hashes.len() > MAX_BLOBS {
        return Err(EngineError::TooLargeRequest(format!(
            "{} blobs asked for, at most {MAX_BLOBS} served",
            hashes.len()
        )));
    }
    if version == 1 {
        let head = context.provider.chain_info()?.head_number;
        let timestamp = context
            .provider
            .header_by_number(head)?
            .ok_or_else(|| EngineError::Internal(format!("the head block {head} has no header")))?
            .timestamp;
        if engine_fork(&context.spec, timestamp) >= EngineFork::Osaka {
            return Err(EngineError::UnsupportedFork(
                "engine_getBlobsV1 is not served once Osaka is active: use engine_getBlobsV2"
                    .to_owned(),
            ));
        }
    }
    let blobs = context.handle.get_blobs(&hashes)?;
    if blobs.len() != hashes.len() {
        return Err(EngineError::Internal(format!(
            "the pool answered {} entries for {} hashes",
            blobs.len(),
            hashes.len()
        )));
    }
    match version {
        1 => to_json(
            blobs
                .into_iter()
                .map(|blob| match blob {
                    Some(PooledBlob::Eip4844(blob)) => Some(blob),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        _ => {
            let blobs: Vec<Option<BlobAndProofV2>> = blobs
                .into_iter()
                .map(|blob| match blob {
                    Some(PooledBlob::Eip7594(blob)) => Some(blob),
                    _ => None,
                })
                .collect();
            if version == 2 && blobs.iter().any(Option::is_none) {
                to_json(Value::Null)
            } else {
                to_json(blobs)
            }
        }
    }
}
