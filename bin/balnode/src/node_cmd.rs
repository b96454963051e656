//! `balnode node` (the store and the JSON-RPC server until SIGINT/SIGTERM) and `balnode rpc-compat` (the
//! execution-apis cases against a freshly imported chain).

use std::{
    io::Write as _,
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use balnode_chainspec::{ChainSpec, chain_by_name_or_path, dev, mainnet};
use balnode_devnet::{Chain, DevTrigger, PoolConfig, TxPool, run_dev_producer};
use balnode_import::{Execution, Importer};
use balnode_primitives::B256;
use balnode_rpc::{
    Namespace, RpcConfig, RpcContext, RpcProvider,
    compat::{KnownFailures, load_cases, run_all},
    engine::{EngineConfig, EngineHandle, start_engine_server_with, testing_module},
    send_raw_transaction_module, start_server, start_server_with,
};
use balnode_storage_api::{ChainInfoReader, ForkchoiceMarkers, ForkchoiceStore, HeaderProvider};
use balnode_storage_mdbx::DatabaseEnv;
use clap::Args;
use eyre::WrapErr;
use tracing::info;

/// The JSON-RPC server's flags, shared by `node` and `rpc-compat`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RpcArgs {
    /// The address the HTTP and WebSocket server listens on.
    #[arg(long = "http.addr", value_name = "IP", default_value = "127.0.0.1")]
    http_addr: IpAddr,
    /// The port of the HTTP and WebSocket server (0 for any free port).
    #[arg(long = "http.port", value_name = "PORT", default_value_t = 8545)]
    http_port: u16,
    /// The API namespaces served, comma separated.
    #[arg(
        long = "http.api",
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "eth,net,web3,debug,txpool"
    )]
    http_api: Vec<Namespace>,
    /// Origins allowed by CORS, comma separated (`*` for any).
    #[arg(long = "http.corsdomain", value_name = "LIST", value_delimiter = ',')]
    http_corsdomain: Vec<String>,
    /// Largest request body, in bytes.
    #[arg(long = "rpc.max-request-size", value_name = "BYTES", default_value_t = 10 * 1024 * 1024)]
    max_request_size: u32,
    /// Largest response body, in bytes.
    #[arg(long = "rpc.max-response-size", value_name = "BYTES", default_value_t = 100 * 1024 * 1024)]
    max_response_size: u32,
    /// Most requests in one batch.
    #[arg(long = "rpc.batch-limit", value_name = "N", default_value_t = 1_000)]
    batch_limit: u32,
    /// Most simultaneous connections (HTTP and WebSocket).
    #[arg(long = "rpc.max-connections", value_name = "N", default_value_t = 500)]
    max_connections: u32,
    /// Most subscriptions per WebSocket connection.
    #[arg(long = "rpc.max-subscriptions", value_name = "N", default_value_t = 1_024)]
    max_subscriptions: u32,
    /// Most blocks one `eth_getLogs` may span.
    #[arg(long = "rpc.logs-block-range", value_name = "N", default_value_t = 100_000)]
    logs_block_range: u64,
    /// Most logs one `eth_getLogs` may return.
    #[arg(long = "rpc.max-logs", value_name = "N", default_value_t = 20_000)]
    max_logs: usize,
    /// Most gas an `eth_call` or `eth_estimateGas` may use.
    #[arg(long = "rpc.gascap", value_name = "GAS", default_value_t = 50_000_000)]
    gas_cap: u64,
    /// Longest an `eth_call`, `eth_estimateGas`, `eth_createAccessList`, `eth_simulateV1` or `debug_trace*`
    /// may run before the client gets an error, in milliseconds.
    #[arg(long = "rpc.evm-timeout", value_name = "MS", default_value_t = 5_000)]
    evm_timeout_ms: u64,
}

impl RpcArgs {
    pub(crate) fn config(&self) -> RpcConfig {
        RpcConfig {
            addr: SocketAddr::new(self.http_addr, self.http_port),
            namespaces: self.http_api.clone(),
            cors_domains: self.http_corsdomain.clone(),
            max_request_body_size: self.max_request_size,
            max_response_body_size: self.max_response_size,
            max_batch_len: self.batch_limit,
            max_connections: self.max_connections,
            max_subscriptions_per_connection: self.max_subscriptions,
            max_logs_block_range: self.logs_block_range,
            max_logs: self.max_logs,
            call_gas_cap: self.gas_cap,
            evm_timeout: std::time::Duration::from_millis(self.evm_timeout_ms),
            ..RpcConfig::default()
        }
    }
}

/// geth's default `--miner.gaslimit`: the gas limit its built blocks move towards.
const GETH_GAS_LIMIT_TARGET: u64 = 60_000_000;

/// The chain a datadir holds: `chain` when given, else the built-in chain with the stored chain id.
pub(crate) fn chain_of(store: &DatabaseEnv, chain: Option<&str>) -> eyre::Result<Arc<ChainSpec>> {
    if let Some(chain) = chain {
        let spec = chain_by_name_or_path(chain).wrap_err("cannot load the chain")?;
        store.check_genesis(spec.chain_id(), spec.genesis_hash())?;
        return Ok(spec);
    }
    let (chain_id, genesis_hash) = store
        .chain_identity()?
        .ok_or_else(|| eyre::eyre!("the datadir is not initialised: run `balnode init` first"))?;
    for spec in [dev(), mainnet()] {
        if spec.chain_id() == chain_id && spec.genesis_hash() == genesis_hash {
            return Ok(spec);
        }
    }
    eyre::bail!(
        "the datadir holds chain {chain_id}, not a built-in chain: pass --chain with its genesis.json"
    )
}

/// What `balnode node` runs besides the JSON-RPC server.
#[derive(Debug)]
pub(crate) struct NodeOptions {
    /// How blocks execute (those the node imports and those it builds).
    pub(crate) execution: Execution,
    /// Produce blocks (`--dev`).
    pub(crate) dev: bool,
    /// `--dev.block-time`: a block at this interval; `None`: one per transaction.
    pub(crate) dev_block_time: Option<Duration>,
    /// The Engine API's address and JWT secret.
    pub(crate) engine: EngineConfig,
    /// `--builder.gaslimit`: the gas limit built blocks move towards (`None`: the parent's).
    pub(crate) gas_limit_target: Option<u64>,
}

/// Serves JSON-RPC over `store` (and, with `--dev`, produces blocks) until SIGINT or SIGTERM; a block in
/// progress is finished and committed before the node exits.
pub(crate) fn serve(
    store: DatabaseEnv,
    spec: Arc<ChainSpec>,
    args: &RpcArgs,
    options: NodeOptions,
) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("balnode-rpc")
        .build()
        .wrap_err("cannot start the async runtime")?;
    runtime.block_on(async {
        let importer = Importer::new(spec.clone(), store.clone()).with_execution(options.execution);
        let pool = TxPool::new(spec.clone(), Arc::new(store.clone()), PoolConfig::default());
        let chain = Arc::new(
            Chain::new(importer, Some(Arc::new(pool.clone())))
                .with_gas_limit_target(options.gas_limit_target),
        );
        let provider: Arc<dyn RpcProvider> = Arc::new(store);
        let chain_id = spec.chain_id();
        let context = RpcContext::new(provider.clone(), spec.clone(), args.config())
            .with_pool(Arc::new(pool.clone()));
        let mut shutdown = ShutdownSignal::new().wrap_err("cannot listen for SIGINT/SIGTERM")?;
        let context = Arc::new(context);
        let server = if args.http_api.contains(&Namespace::Testing) {
            let testing = testing_module(chain.clone(), provider.clone(), spec.clone());
            start_server_with(context.clone(), testing).await?
        } else {
            start_server(context.clone()).await?
        };
        // The Engine API port serves the pool's `eth_sendRawTransaction` too (`common.md`).
        let send = send_raw_transaction_module(context);
        let engine =
            start_engine_server_with(options.engine, chain.clone(), provider, spec, send).await?;
        // The JSON-RPC line last: tools wait for it (and may stop reading there). A closed stdout is no reason
        // to stop the node.
        let _ = writeln!(std::io::stdout(), "Engine API on http://{} (JWT)", engine.local_addr);
        let _ = writeln!(
            std::io::stdout(),
            "JSON-RPC on http://{0} and ws://{0} (chain id {chain_id})",
            server.local_addr
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let gauged = pool.clone();
        let pool_gauges = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                let (pending, queued) = gauged.counts();
                ::metrics::gauge!("balnode_txpool_pending").set(pending as f64);
                ::metrics::gauge!("balnode_txpool_queued").set(queued as f64);
            }
        });
        let producer = options.dev.then(|| {
            let trigger = match options.dev_block_time {
                Some(period) => DevTrigger::Interval(period),
                None => DevTrigger::OnTransaction(pool.subscribe_pending()),
            };
            tokio::spawn(run_dev_producer(chain.clone(), trigger, stopped))
        });
        shutdown.recv().await;
        info!(target: "balnode::node", "Shutting down");
        let _ = stop.send(true);
        if let Some(producer) = producer {
            producer.await.wrap_err("the block producer failed")?;
        }
        pool_gauges.abort();
        let _ = server.handle.stop();
        let _ = engine.handle.stop();
        server.handle.stopped().await;
        engine.handle.stopped().await;
        Ok(())
    })
}

/// SIGINT and SIGTERM, listened to from creation on (so that a signal sent right after the node says it is
/// up is not lost).
struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Resolves on the first SIGINT or SIGTERM.
    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Sets the safe and finalized markers from an `engine_forkchoiceUpdated` request file (hive's
/// `headfcu.json`); its head must be the store's head.
pub(crate) fn apply_forkchoice_file(store: &DatabaseEnv, path: &Path) -> eyre::Result<()> {
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("cannot read {}", path.display()))?;
    let request: serde_json::Value =
        serde_json::from_str(&text).wrap_err_with(|| format!("{} is not JSON", path.display()))?;
    let state = &request["params"][0];
    let hash = |field: &str| -> eyre::Result<B256> {
        state[field]
            .as_str()
            .ok_or_else(|| eyre::eyre!("{}: no params[0].{field}", path.display()))?
            .parse()
            .wrap_err_with(|| format!("{}: params[0].{field} is not a hash", path.display()))
    };
    let number = |field: &str| -> eyre::Result<u64> {
        let hash = hash(field)?;
        store.block_number(hash)?.ok_or_else(|| eyre::eyre!("{field} {hash} is not in the store"))
    };
    let head = store.chain_info()?;
    eyre::ensure!(
        hash("headBlockHash")? == head.head_hash,
        "the forkchoice head {} is not the store's head {}",
        hash("headBlockHash")?,
        head.head_hash
    );
    store.set_forkchoice_markers(ForkchoiceMarkers {
        safe: Some(number("safeBlockHash")?),
        finalized: Some(number("finalizedBlockHash")?),
    })?;
    Ok(())
}

/// A temporary datadir with the chain of `chain_dir` (genesis.json, chain.rlp, headfcu.json) imported and
/// its forkchoice applied.
fn imported_chain(
    chain_dir: &Path,
    import: impl FnOnce(Arc<ChainSpec>, &Path, &[PathBuf]) -> eyre::Result<(u64, B256)>,
    init: impl FnOnce(&ChainSpec, &Path) -> eyre::Result<B256>,
) -> eyre::Result<(tempfile::TempDir, DatabaseEnv, Arc<ChainSpec>)> {
    let datadir = tempfile::tempdir().wrap_err("cannot create a temporary datadir")?;
    let genesis = chain_dir.join("genesis.json");
    let spec =
        chain_by_name_or_path(&genesis.to_string_lossy()).wrap_err("cannot load the chain")?;
    init(&spec, datadir.path())?;
    let (head, _) = import(spec.clone(), datadir.path(), &[chain_dir.join("chain.rlp")])?;
    let store = DatabaseEnv::open(datadir.path())?;
    apply_forkchoice_file(&store, &chain_dir.join("headfcu.json"))?;
    info!(target: "balnode::rpc_compat", head, "Chain ready");
    Ok((datadir, store, spec))
}

/// `balnode rpc-compat`: a temp datadir with the chain imported and the forkchoice applied, a server on a
/// free port, every case replayed. Returns whether every case passed or is a listed known failure.
pub(crate) fn rpc_compat(
    chain_dir: &Path,
    cases_dir: &Path,
    known_failures: Option<&Path>,
    import: impl FnOnce(Arc<ChainSpec>, &Path, &[PathBuf]) -> eyre::Result<(u64, B256)>,
    init: impl FnOnce(&ChainSpec, &Path) -> eyre::Result<B256>,
) -> eyre::Result<bool> {
    let known = match known_failures {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .wrap_err_with(|| format!("cannot read {}", path.display()))?;
            KnownFailures::parse(&text)
                .map_err(|error| eyre::eyre!("{}: {error}", path.display()))?
        }
        None => KnownFailures::default(),
    };
    let cases = load_cases(cases_dir)?;
    let (_datadir, store, spec) = imported_chain(chain_dir, import, init)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    let summary = runtime.block_on(async {
        let store = Arc::new(store);
        let provider: Arc<dyn RpcProvider> = store.clone();
        // A pool over the imported chain (no block producer): the `eth_sendRawTransaction` cases fill it,
        // the `txpool_*` cases (which sort after them) read it back.
        let pool = TxPool::new(spec.clone(), store.clone(), PoolConfig::default());
        // And the chain driver for `testing_buildBlockV1` (which builds without changing the chain).
        let importer = Importer::new(spec.clone(), (*store).clone());
        // Built blocks move towards geth's default gas limit (`--miner.gaslimit`, 60M), as hive's geth did.
        let chain: Arc<dyn EngineHandle> = Arc::new(
            Chain::new(importer, Some(Arc::new(pool.clone())))
                .with_gas_limit_target(Some(GETH_GAS_LIMIT_TARGET)),
        );
        let testing = testing_module(chain, provider.clone(), spec.clone());
        let config =
            RpcConfig { addr: SocketAddr::from(([127, 0, 0, 1], 0)), ..RpcConfig::default() };
        let config = RpcConfig {
            namespaces: vec![
                Namespace::Eth,
                Namespace::Net,
                Namespace::Web3,
                Namespace::Debug,
                Namespace::Txpool,
                Namespace::Testing,
            ],
            ..config
        };
        let context = RpcContext::new(provider, spec, config).with_pool(Arc::new(pool));
        let server = start_server_with(Arc::new(context), testing).await?;
        let addr = server.local_addr;
        let summary = tokio::task::spawn_blocking(move || run_all(addr, &cases, &known)).await?;
        let _ = server.handle.stop();
        eyre::Ok(summary)
    })?;
    for failure in &summary.failures {
        println!("{failure}");
    }
    println!();
    for (method, (passed, failed, known)) in &summary.per_method {
        println!("{method:<45} {passed:>3} passed {failed:>3} failed {known:>3} known failures");
    }
    println!(
        "{} passed, {} failed, {} known failures (listed with reasons)",
        summary.passed, summary.failed, summary.known
    );
    Ok(summary.failed == 0)
}

/// `balnode bench-rpc`: the chain imported into a temp datadir, a server on a free port, then
/// `connections` keep-alive connections for `duration` on each of `eth_blockNumber`, `eth_getBalance` and
/// `eth_call`; prints requests per second and p50/p99 latency of each.
pub(crate) fn bench_rpc(
    chain_dir: &Path,
    connections: usize,
    duration: std::time::Duration,
    import: impl FnOnce(Arc<ChainSpec>, &Path, &[PathBuf]) -> eyre::Result<(u64, B256)>,
    init: impl FnOnce(&ChainSpec, &Path) -> eyre::Result<B256>,
) -> eyre::Result<()> {
    let (_datadir, store, spec) = imported_chain(chain_dir, import, init)?;
    // The head's most active contract and the fixtures' environment-echoing contract (`callenv`).
    let head = store.chain_info()?;
    let contract = "0x7dcd17433742f4c0ca53122ab541d0ba67fc27df";
    let callenv = "0x9344b07175800259691961298ca11c824e65032d";
    let workloads = [
        (
            "eth_blockNumber",
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#.to_owned(),
        ),
        (
            "eth_getBalance",
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["{contract}","latest"]}}"#
            ),
        ),
        (
            "eth_call",
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{{"to":"{callenv}"}},"latest"]}}"#
            ),
        ),
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    runtime.block_on(async {
        let provider: Arc<dyn RpcProvider> = Arc::new(store);
        let config = RpcConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_connections: u32::try_from(connections).unwrap_or(u32::MAX).saturating_add(16),
            ..RpcConfig::default()
        };
        let server = start_server(Arc::new(RpcContext::new(provider, spec, config))).await?;
        println!(
            "bench-rpc: {connections} connections, {} s per method, chain head {} ({} cores)",
            duration.as_secs(),
            head.head_number,
            std::thread::available_parallelism().map_or(1, usize::from)
        );
        for (method, body) in &workloads {
            let report = balnode_rpc::bench::run_load(
                server.local_addr,
                connections,
                duration,
                std::slice::from_ref(body),
            )
            .await?;
            println!("{method:<16} {report}");
            eyre::ensure!(report.errors == 0, "{method}: {} requests failed", report.errors);
        }
        let _ = server.handle.stop();
        eyre::Ok(())
    })
}
