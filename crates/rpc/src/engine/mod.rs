//! The Engine API (`engine_*`) that a consensus client drives balnode with, on its own port behind JWT.
//!
//! This module is the wire layer only: it authenticates requests (`jwt`), parses and checks the versioned
//! structures and the fork rules of each method version (`payload`), converts payloads into blocks and built
//! blocks back into payloads, and serves the payload bodies straight from the store. Everything that needs the
//! chain itself — executing a payload, keeping side branches, moving the head, building a payload — is behind
//! [`EngineHandle`], which balnode-devnet's chain driver implements.
//!
//! Spec: `execution-apis/src/engine/` (common, authentication, identification, paris … amsterdam). Supported:
//! `engine_newPayloadV3/V4/V5`, `engine_forkchoiceUpdatedV3/V4`, `engine_getPayloadV3/V4/V5/V6`,
//! `engine_getPayloadBodiesByHashV1/V2`, `engine_getPayloadBodiesByRangeV1/V2`, `engine_exchangeCapabilities`,
//! `engine_getClientVersionV1`, `engine_getBlobsV1/V2/V3` (over [`EngineHandle::get_blobs`]), plus the `eth_*`
//! subset the spec requires on the same port.

mod jwt;
mod methods;
mod payload;

use std::{net::SocketAddr, sync::Arc};

pub use alloy_eips::{
    eip4844::{BlobAndProofV1, BlobAndProofV2},
    eip7594::BlobTransactionSidecarVariant,
    eip7685::Requests,
};
pub use alloy_rpc_types_engine::{
    Claims, ForkchoiceState, ForkchoiceUpdated, JwtSecret, PayloadAttributes, PayloadId,
    PayloadStatus, PayloadStatusEnum,
};
use balnode_chainspec::ChainSpec;
use balnode_primitives::{Address, B256, Block, Bytes, U256, Withdrawal};
use jsonrpsee::{
    RpcModule,
    server::{BatchRequestConfig, Server, ServerConfig},
};
pub use jwt::{JwtAuthLayer, JwtError, load_or_create_jwt_secret};
pub use methods::{CAPABILITIES, ClientVersionV1, client_version, testing_module};
pub use payload::{
    EngineFork, block_to_payload_v3, block_to_payload_v4, engine_fork, payload_v3_to_block,
    payload_v4_to_block,
};

use crate::{RpcConfig, RpcContext, RpcProvider, RunningServer, ServerError};

/// What the Engine API drives; balnode-devnet's chain driver implements it.
///
/// Calls may block: the server runs them on tokio's blocking pool. `new_payload` and `forkchoice_updated` are
/// called one at a time, in the order the requests arrived (the spec's message ordering); `get_payload` may run
/// concurrently with either.
pub trait EngineHandle: Send + Sync + 'static {
    /// Validates (when its parent state is known) and stores a payload.
    ///
    /// The server has already converted the payload into `block`, checked that its transactions are non-empty
    /// and decode, checked its hash (the `requestsHash` computed from `executionRequests` and the
    /// `parentBeaconBlockRoot` included), checked the blob versioned hashes, and checked that the method
    /// version matches the block's fork. `block_access_list` is the payload's RLP access list (V5, Amsterdam),
    /// `None` before Amsterdam; its hash is already the header's `block_access_list_hash`, so a *wrong* list
    /// shows up as a list that does not match execution: the answer is then `INVALID`.
    ///
    /// Answers `VALID` (with `latestValidHash` = the block's hash), `INVALID` (with the latest valid
    /// ancestor's hash and a `validationError`), `SYNCING` (the parent is unknown) or `ACCEPTED` (a side
    /// branch stored without full validation), as `paris.md`'s `engine_newPayloadV1` says.
    fn new_payload(
        &self,
        block: Block,
        block_access_list: Option<Bytes>,
    ) -> Result<PayloadStatus, EngineError>;

    /// Applies a forkchoice state and, with `attributes`, starts building a payload on its head.
    ///
    /// The server has already checked the attributes' structure for the method version (withdrawals, beacon
    /// root, slot number, target gas limit present as the version requires) and that their timestamp falls in
    /// the method version's fork (`-38003` / `-38005` before any state changes, as geth does). What is left
    /// here: the head/safe/finalized consistency (`EngineError::InvalidForkchoiceState`), the reorg, and the
    /// attribute checks that need the chain — a timestamp not above the head's is
    /// `EngineError::InvalidPayloadAttributes`, returned *after* the forkchoice state was applied (the
    /// spec: the update is not rolled back).
    fn forkchoice_updated(
        &self,
        state: ForkchoiceState,
        attributes: Option<BuildAttributes>,
    ) -> Result<ForkchoiceUpdated, EngineError>;

    /// The latest version of the payload being built under `id`, `None` when there is no such build.
    fn get_payload(&self, id: PayloadId) -> Result<Option<BuiltPayload>, EngineError>;

    /// `testing_buildBlockV1`: a payload built on the canonical block `parent` with `attributes`, from exactly
    /// `transactions` in order (`None`: from the pool), with `extra_data`; the chain is not changed.
    /// Default: not supported.
    fn build_block(
        &self,
        parent: B256,
        attributes: BuildAttributes,
        transactions: Option<Vec<balnode_primitives::TxEnvelope>>,
        extra_data: Option<Bytes>,
    ) -> Result<BuiltPayload, EngineError> {
        let _ = (parent, attributes, transactions, extra_data);
        Err(EngineError::Internal("this node does not build blocks".to_owned()))
    }

    /// The blobs of pooled blob transactions, one entry per versioned hash (`None` for a blob the pool does
    /// not have), for `engine_getBlobsV1/V2/V3`. The default has no pool: every entry is `None`, which the
    /// spec allows ("unable to serve blob pool data").
    fn get_blobs(&self, versioned_hashes: &[B256]) -> Result<Vec<Option<PooledBlob>>, EngineError> {
        Ok(vec![None; versioned_hashes.len()])
    }
}

/// A pooled blob with its proofs, as its transaction's sidecar carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PooledBlob {
    /// An EIP-4844 sidecar's blob with its blob proof (served by `engine_getBlobsV1`).
    Eip4844(BlobAndProofV1),
    /// An EIP-7594 sidecar's blob with its cell proofs (served by `engine_getBlobsV2/V3`).
    Eip7594(BlobAndProofV2),
}

/// The payload attributes of a `forkchoiceUpdated`, checked for the method version (V3: Cancun to Osaka, the
/// Amsterdam fields absent; V4: Amsterdam, every field present).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildAttributes {
    /// The new payload's timestamp.
    pub timestamp: u64,
    /// The new payload's `prevRandao` (the header's `mix_hash`).
    pub prev_randao: B256,
    /// The suggested fee recipient (beneficiary).
    pub suggested_fee_recipient: Address,
    /// The withdrawals to include (always `Some` from V3 on).
    pub withdrawals: Option<Vec<Withdrawal>>,
    /// The parent beacon block root (always `Some` from V3 on).
    pub parent_beacon_block_root: Option<B256>,
    /// The slot number (EIP-7843), `Some` from V4 (Amsterdam) on.
    pub slot_number: Option<u64>,
    /// The gas limit the payload must target, `Some` from V4 (Amsterdam) on.
    pub target_gas_limit: Option<u64>,
}

impl From<PayloadAttributes> for BuildAttributes {
    fn from(attributes: PayloadAttributes) -> Self {
        Self {
            timestamp: attributes.timestamp,
            prev_randao: attributes.prev_randao,
            suggested_fee_recipient: attributes.suggested_fee_recipient,
            withdrawals: attributes.withdrawals,
            parent_beacon_block_root: attributes.parent_beacon_block_root,
            slot_number: attributes.slot_number,
            target_gas_limit: attributes.target_gas_limit,
        }
    }
}

/// A payload built by the chain driver, as `engine_getPayload` returns it.
#[derive(Debug, Clone)]
pub struct BuiltPayload {
    /// The block (header and body; ommers empty).
    pub block: Block,
    /// Its hash.
    pub hash: B256,
    /// Its RLP access list; required for an Amsterdam block.
    pub block_access_list: Option<Bytes>,
    /// What the fee recipient earns (the priority fees): `blockValue`.
    pub fees: U256,
    /// The EIP-7685 requests of the block (Prague on), each `type || data`, empty ones left out.
    pub requests: Option<Requests>,
    /// The sidecars of the block's blob transactions, in order: EIP-4844 style (blob proofs) for a Prague
    /// payload (`engine_getPayloadV4`), EIP-7594 style (cell proofs) from Osaka on.
    pub blob_sidecars: Vec<BlobTransactionSidecarVariant>,
}

/// An Engine API error, mapped to the spec's codes (`common.md`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// `-32602`: the parameters do not match the method's structures.
    #[error("Invalid params: {0}")]
    InvalidParams(String),
    /// `-38001`: no build process with this id.
    #[error("Unknown payload")]
    UnknownPayload,
    /// `-38002`: safe or finalized is not on the chain of head, or the state is otherwise inconsistent.
    #[error("Invalid forkchoice state")]
    InvalidForkchoiceState,
    /// `-38003`: the payload attributes are invalid or inconsistent.
    #[error("Invalid payload attributes: {0}")]
    InvalidPayloadAttributes(String),
    /// `-38004`: too many entities asked for.
    #[error("Too large request: {0}")]
    TooLargeRequest(String),
    /// `-38005`: the payload or attributes belong to a fork this method version does not serve.
    #[error("Unsupported fork: {0}")]
    UnsupportedFork(String),
    /// `-38006`: the reorg is deeper than the node can do.
    #[error("Too deep reorg")]
    TooDeepReorg,
    /// `-32000`: anything else that went wrong on the node's side (the store, the executor).
    #[error("Server error: {0}")]
    Internal(String),
}

impl EngineError {
    /// The JSON-RPC code.
    pub const fn code(&self) -> i32 {
        match self {
            Self::InvalidParams(_) => -32602,
            Self::UnknownPayload => -38001,
            Self::InvalidForkchoiceState => -38002,
            Self::InvalidPayloadAttributes(_) => -38003,
            Self::TooLargeRequest(_) => -38004,
            Self::UnsupportedFork(_) => -38005,
            Self::TooDeepReorg => -38006,
            Self::Internal(_) => -32000,
        }
    }

    /// The spec's message for the code (`common.md`'s table).
    pub const fn message(&self) -> &'static str {
        match self {
            Self::InvalidParams(_) => "Invalid params",
            Self::UnknownPayload => "Unknown payload",
            Self::InvalidForkchoiceState => "Invalid forkchoice state",
            Self::InvalidPayloadAttributes(_) => "Invalid payload attributes",
            Self::TooLargeRequest(_) => "Too large request",
            Self::UnsupportedFork(_) => "Unsupported fork",
            Self::TooDeepReorg => "Too deep reorg",
            Self::Internal(_) => "Server error",
        }
    }

    /// The detail, where the error has one.
    fn detail(&self) -> Option<&str> {
        match self {
            Self::InvalidParams(detail)
            | Self::InvalidPayloadAttributes(detail)
            | Self::TooLargeRequest(detail)
            | Self::UnsupportedFork(detail)
            | Self::Internal(detail) => Some(detail),
            _ => None,
        }
    }
}

impl From<EngineError> for jsonrpsee::types::ErrorObjectOwned {
    /// The spec's code and message; the detail, as geth gives it, in `data.err` (the spec shows `data.err`
    /// for `-32000` and `null` elsewhere: a client that reads only the code and message sees the spec's).
    fn from(error: EngineError) -> Self {
        let data = error.detail().map(|detail| serde_json::json!({ "err": detail }));
        Self::owned(error.code(), error.message(), data)
    }
}

impl From<crate::RpcError> for EngineError {
    fn from(error: crate::RpcError) -> Self {
        match error {
            crate::RpcError::InvalidParams(message) => Self::InvalidParams(message),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<balnode_storage_api::ProviderError> for EngineError {
    fn from(error: balnode_storage_api::ProviderError) -> Self {
        Self::Internal(error.to_string())
    }
}

/// The smallest request and response body limit of the Engine API, whatever `EngineConfig::limits` says: a
/// payload of a full block (and a `getPayload` answer with its blobs) must fit. geth allows the same.
pub const ENGINE_MIN_BODY_SIZE: u32 = 128 * 1024 * 1024;

/// Where and how the Engine API is served.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The address to listen on (HTTP and WebSocket), `127.0.0.1:8551` by default.
    pub addr: SocketAddr,
    /// The shared secret of the JWT (HS256) every request must carry.
    pub jwt_secret: JwtSecret,
    /// Body sizes (at least [`ENGINE_MIN_BODY_SIZE`]), batch length and connection limits (its `addr`,
    /// `namespaces` and `cors_domains` are not used), and the limits of the `eth_*` subset served next to the
    /// `engine_*` methods.
    pub limits: RpcConfig,
}

impl EngineConfig {
    /// The default address with `jwt_secret` and the default limits.
    pub fn new(jwt_secret: JwtSecret) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8551)),
            jwt_secret,
            limits: RpcConfig::default(),
        }
    }
}

/// The `eth_*` methods the spec (`common.md`) requires on the Engine API port. `eth_sendRawTransaction` comes
/// from the pool: pass it in `extra` to [`start_engine_server_with`].
pub const ENGINE_ETH_METHODS: [&str; 8] = [
    "eth_blockNumber",
    "eth_call",
    "eth_chainId",
    "eth_getCode",
    "eth_getBlockByHash",
    "eth_getBlockByNumber",
    "eth_getLogs",
    "eth_syncing",
];

/// Starts the Engine API on `config.addr`: the `engine_*` methods over `handle` and `provider`, the `eth_*`
/// subset of [`ENGINE_ETH_METHODS`], HTTP and WebSocket on one port, every request (and WebSocket handshake)
/// authenticated with `config.jwt_secret`.
pub async fn start_engine_server(
    config: EngineConfig,
    handle: Arc<dyn EngineHandle>,
    provider: Arc<dyn RpcProvider>,
    spec: Arc<ChainSpec>,
) -> Result<RunningServer, ServerError> {
    start_engine_server_with(config, handle, provider, spec, RpcModule::new(())).await
}

/// [`start_engine_server`] with more methods (the pool's `eth_sendRawTransaction`); a name both define is
/// refused.
pub async fn start_engine_server_with(
    config: EngineConfig,
    handle: Arc<dyn EngineHandle>,
    provider: Arc<dyn RpcProvider>,
    spec: Arc<ChainSpec>,
    extra: RpcModule<()>,
) -> Result<RunningServer, ServerError> {
    let addr = config.addr;
    let limits = &config.limits;
    let server_config = ServerConfig::builder()
        .max_request_body_size(limits.max_request_body_size.max(ENGINE_MIN_BODY_SIZE))
        .max_response_body_size(limits.max_response_body_size.max(ENGINE_MIN_BODY_SIZE))
        .max_connections(limits.max_connections)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch_len))
        .build();
    let middleware = tower::ServiceBuilder::new().layer(JwtAuthLayer::new(config.jwt_secret));
    let server = Server::builder()
        .set_config(server_config)
        .set_http_middleware(middleware)
        .build(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local_addr = server.local_addr().map_err(|source| ServerError::Bind { addr, source })?;

    let mut module = methods::engine_module(handle, provider.clone(), spec.clone());
    let eth_context = Arc::new(RpcContext::new(provider, spec, config.limits.clone()));
    let mut eth = crate::api::eth_module(eth_context);
    let names: Vec<&'static str> = eth.method_names().collect();
    for name in names {
        if !ENGINE_ETH_METHODS.contains(&name) {
            eth.remove_method(name);
        }
    }
    module.merge(eth).map_err(|error| ServerError::Methods(error.to_string()))?;
    module.merge(extra).map_err(|error| ServerError::Methods(error.to_string()))?;
    let handle = server.start(module);
    tracing::info!(target: "rpc::engine", %local_addr, "Engine API started");
    Ok(RunningServer { local_addr, handle })
}
