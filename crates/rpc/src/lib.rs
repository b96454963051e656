//! The JSON-RPC server of balnode: `eth`, `net`, `web3`, `debug` and `txpool` methods on jsonrpsee, HTTP and WebSocket on
//! one port.
//!
//! Every method reads the store through the storage-api traits ([`RpcProvider`]) and runs on tokio's blocking
//! pool (jsonrpsee's blocking methods), so that a slow read or call never stalls the async workers. Shapes are
//! alloy-rpc-types-eth's; errors are mapped to codes in one place ([`RpcError`]). Limits (body sizes, batch
//! length, `eth_getLogs` range and result count, call gas cap, connections, subscriptions) are in
//! [`RpcConfig`].
//!
//! Good starting points:
//! - [`start_server`]: builds the modules the config enables and serves them.
//! - [`api`]: one function per namespace registering its methods.
//! - [`txpool`]: the [`TransactionPoolApi`] seam a pool implements, `eth_sendRawTransaction` and `txpool_*`.
//! - `pubsub`: `eth_subscribe` (`newHeads`, `logs`) fed by a poller of the store's head.
//! - [`compat`]: the rpc-compat runner (execution-apis `.io` cases compared as hive does).
//! - [`engine`]: the Engine API on its own port behind JWT ([`engine::start_engine_server`]), driving an
//!   [`engine::EngineHandle`].
//!
//! ## Feature Flags
//! None.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

// alloy-rpc-types-engine's JWT checks need a jsonwebtoken backend chosen by its user: this crate names the
// pure-Rust one (`rust_crypto`) in its Cargo.toml.
use jsonwebtoken as _;

pub mod api;
pub mod bench;
pub mod compat;
mod config;
mod convert;
pub mod engine;
pub mod error;
mod filters;
mod metrics;
mod params;
mod pubsub;
pub mod txpool;

use std::{net::SocketAddr, sync::Arc};

use balnode_chainspec::ChainSpec;
use balnode_primitives::BlockNumber;
use balnode_storage_api::{
    BlockReader, ChainInfoReader, ForkchoiceStore, StateProofProvider, StateProviderFactory,
    StateRootProvider,
};
pub use error::{RpcError, RpcResult};
use jsonrpsee::{
    RpcModule,
    server::{
        BatchRequestConfig, Server, ServerConfig, ServerHandle, middleware::rpc::RpcServiceBuilder,
    },
};
pub use params::parse_params;
pub use txpool::{
    PoolContent, PoolRejection, PoolTransaction, TransactionPoolApi, send_raw_transaction_module,
};

/// Everything RPC reads: state, blocks, chain info, proofs, the safe and finalized markers.
pub trait RpcProvider:
    StateProviderFactory
    + BlockReader
    + ChainInfoReader
    + StateProofProvider
    + StateRootProvider
    + ForkchoiceStore
    + Send
    + Sync
    + 'static
{
}

impl<T> RpcProvider for T where
    T: StateProviderFactory
        + BlockReader
        + ChainInfoReader
        + StateProofProvider
        + StateRootProvider
        + ForkchoiceStore
        + Send
        + Sync
        + 'static
{
}

/// A JSON-RPC namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// `eth_*`.
    Eth,
    /// `net_*`.
    Net,
    /// `web3_*`.
    Web3,
    /// `debug_*`.
    Debug,
    /// `txpool_*` (answering with an error when the node has no pool).
    Txpool,
    /// `testing_*` (`testing_buildBlockV1`): off by default, for test networks only; served by the node
    /// with [`engine::testing_module`] over its chain driver.
    Testing,
}

impl std::str::FromStr for Namespace {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.trim().to_ascii_lowercase().as_str() {
            "eth" => Ok(Self::Eth),
            "net" => Ok(Self::Net),
            "web3" => Ok(Self::Web3),
            "debug" => Ok(Self::Debug),
            "txpool" => Ok(Self::Txpool),
            "testing" => Ok(Self::Testing),
            other => Err(format!(
                "unknown API namespace `{other}` (known: eth, net, web3, debug, txpool, testing)"
            )),
        }
    }
}

/// Limits and switches of the server.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// The address to listen on (HTTP and WebSocket).
    pub addr: SocketAddr,
    /// The namespaces served.
    pub namespaces: Vec<Namespace>,
    /// Allowed CORS origins (`*` for any); empty for no CORS headers.
    pub cors_domains: Vec<String>,
    /// Largest request body, in bytes.
    pub max_request_body_size: u32,
    /// Largest response body, in bytes.
    pub max_response_body_size: u32,
    /// Most requests in one batch.
    pub max_batch_len: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
    /// Most subscriptions per WebSocket connection.
    pub max_subscriptions_per_connection: u32,
    /// Most blocks one `eth_getLogs` (or log filter poll) may span.
    pub max_logs_block_range: u64,
    /// Most logs one `eth_getLogs` may return.
    pub max_logs: usize,
    /// Most gas an `eth_call` or `eth_estimateGas` may use.
    pub call_gas_cap: u64,
    /// Most installed filters.
    pub max_filters: usize,
    /// Longest an `eth_call`, `eth_estimateGas`, `eth_createAccessList`, `eth_simulateV1` or `debug_trace*`
    /// may take before the client gets an error.
    pub evm_timeout: std::time::Duration,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8545)),
            namespaces: vec![Namespace::Eth, Namespace::Net, Namespace::Web3, Namespace::Debug],
            cors_domains: Vec::new(),
            max_request_body_size: 10 * 1024 * 1024,
            max_response_body_size: 100 * 1024 * 1024,
            max_batch_len: 1_000,
            max_connections: 500,
            max_subscriptions_per_connection: 1_024,
            max_logs_block_range: 100_000,
            max_logs: 20_000,
            call_gas_cap: 50_000_000,
            max_filters: 10_000,
            evm_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// What every method shares.
pub struct RpcContext {
    pub(crate) provider: Arc<dyn RpcProvider>,
    pub(crate) spec: Arc<ChainSpec>,
    pub(crate) config: RpcConfig,
    pub(crate) filters: filters::Filters,
    /// New canonical block numbers, for subscriptions.
    pub(crate) heads: tokio::sync::broadcast::Sender<BlockNumber>,
    /// The transaction pool, when the node has one (`eth_sendRawTransaction`, `txpool_*`, the `pending`
    /// nonce).
    pub(crate) pool: Option<Arc<dyn TransactionPoolApi>>,
}

impl std::fmt::Debug for RpcContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcContext").field("config", &self.config).finish_non_exhaustive()
    }
}

impl RpcContext {
    /// A context over `provider` for the chain `spec`.
    pub fn new(provider: Arc<dyn RpcProvider>, spec: Arc<ChainSpec>, config: RpcConfig) -> Self {
        let filters = filters::Filters::new(config.max_filters);
        let (heads, _) = tokio::sync::broadcast::channel(256);
        Self { provider, spec, config, filters, heads, pool: None }
    }

    /// The context with a transaction pool behind `eth_sendRawTransaction`, `txpool_*` and the `pending`
    /// nonce of `eth_getTransactionCount`.
    pub fn with_pool(mut self, pool: Arc<dyn TransactionPoolApi>) -> Self {
        self.pool = Some(pool);
        self
    }
}

/// The methods of the configured namespaces, in one module.
pub fn build_module(context: Arc<RpcContext>) -> RpcModule<()> {
    let mut module = RpcModule::new(());
    for namespace in &context.config.namespaces {
        let methods = match namespace {
            Namespace::Eth => api::eth_module(context.clone()),
            Namespace::Net => api::net_module(context.clone()),
            Namespace::Web3 => api::web3_module(context.clone()),
            Namespace::Debug => api::debug_module(context.clone()),
            Namespace::Txpool => txpool::txpool_module(context.clone()),
            // Needs the chain driver: the node passes `engine::testing_module` to `start_server_with`.
            Namespace::Testing => continue,
        };
        module.merge(methods).expect("method names are unique across namespaces");
    }
    module
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Extra methods clash with the configured ones.
    #[error("cannot add the extra methods: {0}")]
    Methods(String),
    /// Binding or configuring the listener failed.
    #[error("cannot serve JSON-RPC on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on (with the actual port when port 0 was asked for).
    pub local_addr: SocketAddr,
    /// Stops it.
    pub handle: ServerHandle,
}

/// Starts serving `context`'s namespaces on its configured address, HTTP and WebSocket on one port.
pub async fn start_server(context: Arc<RpcContext>) -> Result<RunningServer, ServerError> {
    start_server_with(context, RpcModule::new(())).await
}

/// [`start_server`] with more methods (the devnet's `eth_sendRawTransaction` and `txpool_*`, for example):
/// `extra` is merged into the configured namespaces; a method name both define is refused.
pub async fn start_server_with(
    context: Arc<RpcContext>,
    extra: RpcModule<()>,
) -> Result<RunningServer, ServerError> {
    let config = &context.config;
    let addr = config.addr;
    let cors = cors_layer(&config.cors_domains);
    let middleware = tower::ServiceBuilder::new().option_layer(cors);
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.max_request_body_size)
        .max_response_body_size(config.max_response_body_size)
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_len))
        .set_id_provider(pubsub::HexIdProvider::default())
        .build();
    let server = Server::builder()
        .set_config(server_config)
        .set_http_middleware(middleware)
        .set_rpc_middleware(RpcServiceBuilder::new().layer_fn(metrics::RpcMetrics::new))
        .build(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local_addr = server.local_addr().map_err(|source| ServerError::Bind { addr, source })?;
    let mut module = build_module(context.clone());
    module.merge(extra).map_err(|error| ServerError::Methods(error.to_string()))?;
    let handle = server.start(module);
    let watcher = tokio::spawn(pubsub::watch_head(context.clone(), context.heads.clone()));
    let stopped = handle.clone();
    tokio::spawn(async move {
        stopped.stopped().await;
        watcher.abort();
    });
    tracing::info!(target: "rpc", %local_addr, "JSON-RPC server started");
    Ok(RunningServer { local_addr, handle })
}

/// The CORS layer for `domains`, `None` when none is configured.
fn cors_layer(domains: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, Any, CorsLayer};
    if domains.is_empty() {
        return None;
    }
    let layer = CorsLayer::new().allow_methods(Any).allow_headers(Any);
    Some(if domains.iter().any(|domain| domain == "*") {
        layer.allow_origin(Any)
    } else {
        let origins = domains.iter().filter_map(|domain| domain.parse().ok()).collect::<Vec<_>>();
        layer.allow_origin(AllowOrigin::list(origins))
    })
}
