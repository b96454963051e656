//! The Engine API server over real stores (the rpc-compat chain, Cancun to BPO2; one Amsterdam block from the
//! BAL fixtures) with a mock [`EngineHandle`]: JWT, every method's shape, the error codes, and conversions that
//! keep block hashes.

use std::{
    collections::HashMap,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy_eips::{
    eip4844::{Blob, BlobTransactionSidecar, Bytes48},
    eip7594::BlobTransactionSidecarEip7594,
};
use alloy_rpc_types_engine::{Claims, ExecutionPayloadV3, ExecutionPayloadV4, PayloadAttributes};
use balnode_chainspec::ChainSpec;
use balnode_import::{Importer, fixture::load_file, import_files, init_genesis};
use balnode_primitives::{B256, Block, Bytes, U256};
use balnode_rpc::{
    RpcProvider,
    engine::{
        BlobAndProofV1, BlobAndProofV2, BlobTransactionSidecarVariant, BuildAttributes,
        BuiltPayload, EngineConfig, EngineError, EngineFork, EngineHandle, ForkchoiceState,
        ForkchoiceUpdated, JwtSecret, PayloadId, PayloadStatus, PayloadStatusEnum, PooledBlob,
        Requests, block_to_payload_v3, block_to_payload_v4, engine_fork, payload_v3_to_block,
        payload_v4_to_block, start_engine_server,
    },
};
use balnode_storage_api::{
    BlockHashReader, BlockReader, ChainInfoReader, HeaderProvider, StateProviderFactory,
};
use balnode_storage_mdbx::DatabaseEnv;
use parking_lot::Mutex;
use serde_json::{Value, json};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// An [`EngineHandle`] that records what it is given: payloads are `VALID`, a forkchoice with attributes
/// starts build `0x0101…`, and `get_payload` serves what the test put in `built`.
#[derive(Default)]
struct MockHandle {
    /// How long `forkchoice_updated` takes, in milliseconds.
    delay_ms: AtomicU64,
    /// Calls of `forkchoice_updated` running now, and the most there ever were.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    payloads: Mutex<Vec<(Block, Option<Bytes>)>>,
    forkchoices: Mutex<Vec<(ForkchoiceState, Option<BuildAttributes>)>>,
    built: Mutex<HashMap<PayloadId, BuiltPayload>>,
    blobs: Mutex<HashMap<B256, PooledBlob>>,
}

const BUILD_ID: [u8; 8] = [1; 8];

impl EngineHandle for MockHandle {
    fn new_payload(
        &self,
        block: Block,
        block_access_list: Option<Bytes>,
    ) -> Result<PayloadStatus, EngineError> {
        let hash = block.header.hash_slow();
        self.payloads.lock().push((block, block_access_list));
        Ok(PayloadStatus::new(PayloadStatusEnum::Valid, Some(hash)))
    }

    fn forkchoice_updated(
        &self,
        state: ForkchoiceState,
        attributes: Option<BuildAttributes>,
    ) -> Result<ForkchoiceUpdated, EngineError> {
        let running = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(running, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(self.delay_ms.load(Ordering::SeqCst)));
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let building = attributes.is_some();
        let head = state.head_block_hash;
        self.forkchoices.lock().push((state, attributes));
        let updated =
            ForkchoiceUpdated::from_status(PayloadStatusEnum::Valid).with_latest_valid_hash(head);
        Ok(if building { updated.with_payload_id(PayloadId::new(BUILD_ID)) } else { updated })
    }

    fn get_payload(&self, id: PayloadId) -> Result<Option<BuiltPayload>, EngineError> {
        Ok(self.built.lock().get(&id).cloned())
    }

    fn get_blobs(&self, versioned_hashes: &[B256]) -> Result<Vec<Option<PooledBlob>>, EngineError> {
        let blobs = self.blobs.lock();
        Ok(versioned_hashes.iter().map(|hash| blobs.get(hash).cloned()).collect())
    }
}

/// A store in a temp dir with blocks imported.
struct Store {
    _dir: tempfile::TempDir,
    env: DatabaseEnv,
    spec: Arc<ChainSpec>,
}

impl Store {
    /// The rpc-compat chain (forks by time: Shanghai 390, Cancun 420, Prague 450, Osaka 480, BPO1 510, BPO2
    /// 540).
    fn rpc_compat() -> Self {
        let dir = repo("crates/import/testdata/chains/rpc-compat");
        let genesis = balnode_chainspec::read_genesis(&dir.join("genesis.json")).unwrap();
        let spec = Arc::new(ChainSpec::from_genesis(genesis).unwrap());
        let store = Self::empty(spec);
        let importer = Importer::new(store.spec.clone(), store.env.clone());
        import_files(&importer, &[dir.join("chain.rlp")], |_, _| {}).unwrap();
        store
    }

    /// The one-block Amsterdam test of `testdata/amsterdam-bal.json`, its block imported with its access list.
    fn amsterdam() -> Self {
        let (_, test) =
            load_file(repo("crates/rpc/testdata/amsterdam-bal.json")).unwrap().remove(0);
        let store = Self::empty(Arc::new(test.chain_spec().unwrap()));
        let importer = Importer::new(store.spec.clone(), store.env.clone());
        for block in &test.blocks {
            let record = block.decode().unwrap();
            importer.import(&record.block, record.block_access_list.as_ref()).unwrap();
        }
        store
    }

    fn empty(spec: Arc<ChainSpec>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env = DatabaseEnv::open(dir.path().join("db")).unwrap();
        init_genesis(&spec, &env).unwrap();
        Self { _dir: dir, env, spec }
    }

    fn head(&self) -> u64 {
        self.env.chain_info().unwrap().head_number
    }

    /// Canonical block `number` with its hash.
    fn block(&self, number: u64) -> (Block, B256) {
        let header = self.env.header_by_number(number).unwrap().unwrap();
        let body = self.env.body(number).unwrap().unwrap();
        let hash = self.env.block_hash(number).unwrap().unwrap();
        (Block { header, body }, hash)
    }

    /// The EIP-7685 requests of canonical block `number`, from executing it again on its parent state (the
    /// store keeps only their hash, in the header).
    fn requests(&self, number: u64) -> Requests {
        let (block, _) = self.block(number);
        let senders = self.env.senders(number).unwrap().unwrap();
        let state = self.env.state_at(number - 1).unwrap();
        balnode_executor::execute_block(&self.spec, &block, &senders, state, None).unwrap().requests
    }

    /// The first block of `fork`, preferring one with transactions.
    fn first_of(&self, fork: EngineFork) -> (Block, B256) {
        let numbers: Vec<u64> = (1..=self.head())
            .filter(|number| {
                let header = self.env.header_by_number(*number).unwrap().unwrap();
                engine_fork(&self.spec, header.timestamp) == fork
            })
            .collect();
        assert!(!numbers.is_empty(), "the chain has no {fork:?} block");
        let number = numbers
            .iter()
            .copied()
            .find(|number| !self.env.body(*number).unwrap().unwrap().transactions.is_empty())
            .unwrap_or(numbers[0]);
        self.block(number)
    }
}

/// A running Engine API over a store, with a mock handle, and a client.
struct Harness {
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    server: jsonrpsee::server::ServerHandle,
    secret: JwtSecret,
    handle: Arc<MockHandle>,
    store: Store,
}

impl Harness {
    fn new(store: Store) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let secret = JwtSecret::random();
        let mut config = EngineConfig::new(secret);
        config.addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let handle = Arc::new(MockHandle::default());
        let provider: Arc<dyn RpcProvider> = Arc::new(store.env.clone());
        let running = runtime
            .block_on(start_engine_server(config, handle.clone(), provider, store.spec.clone()))
            .unwrap();
        Self { runtime, addr: running.local_addr, server: running.handle, secret, handle, store }
    }

    fn token(&self, iat: u64) -> String {
        self.secret.encode(&Claims { iat, exp: None }).unwrap()
    }

    /// A JSON-RPC call with a fresh token: the whole response object.
    fn call(&self, method: &str, params: Value) -> Value {
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let (status, text) = post(self.addr, Some(&self.token(now())), &body);
        assert_eq!(status, 200, "{method}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{method}: {error}: {text}"))
    }

    fn result(&self, method: &str, params: Value) -> Value {
        let response = self.call(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    fn error_code(&self, method: &str, params: Value) -> i64 {
        let response = self.call(method, params);
        response["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("{method}: no error: {response}"))
    }

    fn build(&self, built: BuiltPayload) -> Value {
        self.handle.built.lock().insert(PayloadId::new(BUILD_ID), built);
        json!(PayloadId::new(BUILD_ID))
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.server.stop();
        let server = self.server.clone();
        self.runtime.block_on(server.stopped());
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// One HTTP/1.1 request; the status and body of the answer.
fn raw_http(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let mut buffer = [0u8; 65536];
    // Read until the response is complete: a WebSocket upgrade (and a refused one) keeps the connection open.
    while !response_complete(&response) {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buffer[..n]),
            Err(error) => panic!("{error}"),
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

/// Whether `response` holds a whole HTTP response: a `101`, or headers and `Content-Length` bytes of body.
fn response_complete(response: &[u8]) -> bool {
    let text = String::from_utf8_lossy(response);
    let Some((head, body)) = text.split_once("\r\n\r\n") else { return false };
    if head.starts_with("HTTP/1.1 101") {
        return true;
    }
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .is_some_and(|length| body.len() >= length)
}

fn post(addr: SocketAddr, token: Option<&str>, body: &str) -> (u16, String) {
    let auth = token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    raw_http(
        addr,
        &format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn payload_json_v3(block: &Block, hash: B256) -> Value {
    serde_json::to_value(block_to_payload_v3(hash, block)).unwrap()
}

fn beacon_root(block: &Block) -> Value {
    json!(block.header.parent_beacon_block_root.unwrap())
}

fn status_of(result: &Value) -> &str {
    result["status"].as_str().unwrap()
}

#[test]
fn requests_without_a_valid_token_get_401() {
    let harness = Harness::new(Store::rpc_compat());
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "engine_exchangeCapabilities", "params": [[]]})
            .to_string();
    let now = now();

    let (status, text) = post(harness.addr, None, &body);
    assert_eq!(status, 401, "no token: {text}");

    let other = JwtSecret::random().encode(&Claims { iat: now, exp: None }).unwrap();
    assert_eq!(post(harness.addr, Some(&other), &body).0, 401, "signed with another secret");

    assert_eq!(post(harness.addr, Some(&harness.token(now - 61)), &body).0, 401, "iat 61 s old");
    assert_eq!(post(harness.addr, Some(&harness.token(now + 61)), &body).0, 401, "iat 61 s ahead");
    assert_eq!(post(harness.addr, Some("not.a.jwt"), &body).0, 401, "garbage");

    // `alg: none` with a valid `iat` and no signature.
    let b64 = |text: &str| {
        use base64_url_free::encode;
        encode(text.as_bytes())
    };
    let unsigned = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&format!(r#"{{"iat":{now}}}"#))
    );
    assert_eq!(post(harness.addr, Some(&unsigned), &body).0, 401, "alg none");

    // Within the window, either side, and with unknown claims: accepted.
    for iat in [now, now - 55, now + 55] {
        let (status, text) = post(harness.addr, Some(&harness.token(iat)), &body);
        assert_eq!(status, 200, "iat {iat} (now {now}): {text}");
        assert!(text.contains("engine_newPayloadV5"), "{text}");
    }
    let with_claims = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"iat": now, "id": "cl-1", "clv": "lighthouse/v7"}),
        &jsonwebtoken::EncodingKey::from_secret(harness.secret.as_bytes()),
    )
    .unwrap();
    assert_eq!(post(harness.addr, Some(&with_claims), &body).0, 200, "unknown claims are ignored");

    // The WebSocket handshake is authenticated too.
    let upgrade = |auth: String| {
        format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{auth}\r\n",
            harness.addr
        )
    };
    assert_eq!(raw_http(harness.addr, &upgrade(String::new())).0, 401, "WebSocket without a token");
    let auth = format!("Authorization: Bearer {}\r\n", harness.token(now));
    assert_eq!(raw_http(harness.addr, &upgrade(auth)).0, 101, "WebSocket with a token");
}

/// Base64url without padding, enough for a test token (no crate needed).
mod base64_url_free {
    pub(super) fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, byte| (acc << 8) | u32::from(*byte))
                << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

#[test]
fn capabilities_client_version_and_the_eth_subset() {
    let harness = Harness::new(Store::rpc_compat());
    let capabilities =
        harness.result("engine_exchangeCapabilities", json!([["engine_newPayloadV1"]]));
    let names: Vec<&str> =
        capabilities.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for name in [
        "engine_newPayloadV3",
        "engine_newPayloadV4",
        "engine_newPayloadV5",
        "engine_forkchoiceUpdatedV3",
        "engine_forkchoiceUpdatedV4",
        "engine_getPayloadV4",
        "engine_getPayloadV5",
        "engine_getPayloadV6",
        "engine_getPayloadBodiesByHashV1",
        "engine_getPayloadBodiesByHashV2",
        "engine_getPayloadBodiesByRangeV1",
        "engine_getPayloadBodiesByRangeV2",
        "engine_getClientVersionV1",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(!names.contains(&"engine_exchangeCapabilities"));
    // Every capability is served: none answers `method not found`.
    for name in &names {
        let code = harness.call(name, json!([]))["error"]["code"].as_i64();
        assert_ne!(code, Some(-32601), "{name}");
    }

    // Any two-letter code is accepted.
    let versions = harness.result(
        "engine_getClientVersionV1",
        json!([{"code": "XY", "name": "unlisted", "version": "v0.0.1", "commit": "0x01020304"}]),
    );
    let versions = versions.as_array().unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["code"], "BN");
    assert_eq!(versions[0]["name"], "balnode");
    assert_eq!(versions[0]["version"], env!("CARGO_PKG_VERSION"));
    let commit = versions[0]["commit"].as_str().unwrap();
    assert!(commit.starts_with("0x") && commit.len() == 10, "{commit}");

    // The `eth` subset the spec requires, and nothing more of `eth`.
    let chain_id = harness.result("eth_chainId", json!([]));
    assert_eq!(chain_id, json!(format!("{:#x}", harness.store.spec.chain_id())));
    let head = harness.result("eth_blockNumber", json!([]));
    assert_eq!(head, json!(format!("{:#x}", harness.store.head())));
    for name in balnode_rpc::engine::ENGINE_ETH_METHODS {
        assert_ne!(harness.call(name, json!([]))["error"]["code"].as_i64(), Some(-32601), "{name}");
    }
    assert_eq!(harness.error_code("eth_getBalance", json!([B256::ZERO, "latest"])), -32601);
}

#[test]
fn new_payload_converts_checks_and_hands_over_the_block() {
    let harness = Harness::new(Store::rpc_compat());
    let store = &harness.store;
    let (cancun, cancun_hash) = store.first_of(EngineFork::Cancun);
    let (prague, prague_hash) = store.first_of(EngineFork::Prague);
    let (osaka, osaka_hash) = store.first_of(EngineFork::Osaka);
    let blob_hashes = |block: &Block| -> Vec<B256> {
        use alloy_consensus::Transaction as _;
        block
            .body
            .transactions
            .iter()
            .filter_map(|tx| tx.blob_versioned_hashes())
            .flatten()
            .copied()
            .collect()
    };

    // V3, a Cancun block: VALID, and the handle got exactly the stored block.
    let params =
        json!([payload_json_v3(&cancun, cancun_hash), blob_hashes(&cancun), beacon_root(&cancun)]);
    let status = harness.result("engine_newPayloadV3", params);
    assert_eq!(status_of(&status), "VALID", "{status}");
    assert_eq!(status["latestValidHash"], json!(cancun_hash));
    {
        let payloads = harness.handle.payloads.lock();
        let (block, access_list) = payloads.last().unwrap();
        assert_eq!(block, &cancun);
        assert_eq!(access_list, &None);
    }

    // V4, Prague and Osaka blocks with their requests.
    for (block, hash) in [(&prague, prague_hash), (&osaka, osaka_hash)] {
        let requests = store.requests(block.header.number);
        assert_eq!(block.header.requests_hash, Some(requests.requests_hash()));
        let params =
            json!([payload_json_v3(block, hash), blob_hashes(block), beacon_root(block), requests]);
        let status = harness.result("engine_newPayloadV4", params);
        assert_eq!(status_of(&status), "VALID", "{status}");
        assert_eq!(harness.handle.payloads.lock().last().unwrap().0.header.hash_slow(), hash);
    }
    let handed_over = harness.handle.payloads.lock().len();

    // The wrong version for the fork: -38005.
    let v3_prague =
        json!([payload_json_v3(&prague, prague_hash), blob_hashes(&prague), beacon_root(&prague)]);
    assert_eq!(harness.error_code("engine_newPayloadV3", v3_prague), -38005);
    let v4_cancun = json!([
        payload_json_v3(&cancun, cancun_hash),
        blob_hashes(&cancun),
        beacon_root(&cancun),
        []
    ]);
    assert_eq!(harness.error_code("engine_newPayloadV4", v4_cancun), -38005);
    let mut v4_payload = payload_json_v3(&osaka, osaka_hash);
    v4_payload["blockAccessList"] = json!("0xc0");
    v4_payload["slotNumber"] = json!("0x1");
    let v5_osaka = json!([v4_payload, blob_hashes(&osaka), beacon_root(&osaka), []]);
    assert_eq!(harness.error_code("engine_newPayloadV5", v5_osaka), -38005);

    // Structures that do not match: -32602.
    let good = || payload_json_v3(&cancun, cancun_hash);
    let mut without_blob_gas = good();
    without_blob_gas.as_object_mut().unwrap().remove("blobGasUsed");
    let mut null_excess = good();
    null_excess["excessBlobGas"] = Value::Null;
    let mut with_bal = good();
    with_bal["blockAccessList"] = json!("0xc0");
    let root = beacon_root(&cancun);
    for (what, method, params) in [
        ("no blobGasUsed", "engine_newPayloadV3", json!([without_blob_gas, [], root])),
        ("null excessBlobGas", "engine_newPayloadV3", json!([null_excess, [], root])),
        ("a blockAccessList in V3", "engine_newPayloadV3", json!([with_bal, [], root])),
        ("no beacon root", "engine_newPayloadV3", json!([good(), []])),
        ("a fourth parameter to V3", "engine_newPayloadV3", json!([good(), [], root, []])),
        ("null versioned hashes", "engine_newPayloadV3", json!([good(), null, root])),
        (
            "null requests",
            "engine_newPayloadV4",
            json!([payload_json_v3(&prague, prague_hash), [], beacon_root(&prague), null]),
        ),
        (
            "no requests",
            "engine_newPayloadV4",
            json!([payload_json_v3(&prague, prague_hash), [], beacon_root(&prague)]),
        ),
        (
            "a 1-byte request",
            "engine_newPayloadV4",
            json!([payload_json_v3(&prague, prague_hash), [], beacon_root(&prague), ["0x01"]]),
        ),
        (
            "requests out of order",
            "engine_newPayloadV4",
            json!([
                payload_json_v3(&prague, prague_hash),
                [],
                beacon_root(&prague),
                ["0x0101", "0x0001"]
            ]),
        ),
        (
            "no blockAccessList in V5",
            "engine_newPayloadV5",
            json!([payload_json_v3(&osaka, osaka_hash), [], beacon_root(&osaka), []]),
        ),
    ] {
        assert_eq!(harness.error_code(method, params), -32602, "{what}");
    }

    // Payloads that convert but are wrong: INVALID with `latestValidHash: null`, never handed over.
    let mut wrong_root = good();
    wrong_root["stateRoot"] = json!(B256::repeat_byte(7));
    let mut empty_tx = good();
    empty_tx["transactions"].as_array_mut().unwrap().push(json!("0x"));
    let mut bad_tx = good();
    bad_tx["transactions"].as_array_mut().unwrap().push(json!("0x02c0"));
    let other_hashes = [B256::repeat_byte(1)];
    for (what, method, params) in [
        (
            "a wrong state root (hash mismatch)",
            "engine_newPayloadV3",
            json!([wrong_root, blob_hashes(&cancun), root]),
        ),
        (
            "a wrong beacon root",
            "engine_newPayloadV3",
            json!([good(), blob_hashes(&cancun), B256::repeat_byte(9)]),
        ),
        (
            "an empty transaction",
            "engine_newPayloadV3",
            json!([empty_tx, blob_hashes(&cancun), root]),
        ),
        (
            "a transaction that does not decode",
            "engine_newPayloadV3",
            json!([bad_tx, blob_hashes(&cancun), root]),
        ),
        ("other versioned hashes", "engine_newPayloadV3", json!([good(), other_hashes, root])),
        (
            "requests the header does not commit to",
            "engine_newPayloadV4",
            json!([
                payload_json_v3(&prague, prague_hash),
                blob_hashes(&prague),
                beacon_root(&prague),
                ["0x0001"]
            ]),
        ),
        (
            "no requests where the header commits to some",
            "engine_newPayloadV4",
            json!([
                payload_json_v3(&prague, prague_hash),
                blob_hashes(&prague),
                beacon_root(&prague),
                []
            ]),
        ),
    ] {
        let status = harness.result(method, params);
        assert_eq!(status_of(&status), "INVALID", "{what}: {status}");
        assert_eq!(status.get("latestValidHash"), Some(&Value::Null), "{what}");
        assert!(
            status["validationError"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {status}"
        );
    }
    assert_eq!(
        harness.handle.payloads.lock().len(),
        handed_over,
        "no rejected payload reaches the handle"
    );
}

#[test]
fn forkchoice_updates_reach_the_handle_one_at_a_time() {
    let harness = Harness::new(Store::amsterdam());
    harness.handle.delay_ms.store(200, Ordering::SeqCst);
    let (_, hash) = harness.store.block(1);
    let state = json!({"headBlockHash": hash, "safeBlockHash": hash, "finalizedBlockHash": hash});
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope
                .spawn(|| harness.result("engine_forkchoiceUpdatedV4", json!([state, null, null])));
        }
    });
    assert_eq!(harness.handle.forkchoices.lock().len(), 4);
    assert_eq!(harness.handle.max_in_flight.load(Ordering::SeqCst), 1);
}

#[test]
fn forkchoice_updated_checks_attributes_per_version() {
    let harness = Harness::new(Store::rpc_compat());
    let (head, head_hash) = harness.store.block(harness.store.head());
    let state = json!({"headBlockHash": head_hash, "safeBlockHash": head_hash, "finalizedBlockHash": B256::ZERO});
    // The head is in BPO2 (Osaka's time frame): V3 serves attributes after it.
    let attributes = json!({
        "timestamp": format!("{:#x}", head.header.timestamp + 12),
        "prevRandao": B256::repeat_byte(2),
        "suggestedFeeRecipient": "0x00000000000000000000000000000000000000fe",
        "withdrawals": [{"index": "0x0", "validatorIndex": "0x1", "address": "0x00000000000000000000000000000000000000aa", "amount": "0x2"}],
        "parentBeaconBlockRoot": B256::repeat_byte(3),
    });

    let updated = harness.result("engine_forkchoiceUpdatedV3", json!([state, null]));
    assert_eq!(updated["payloadStatus"]["status"], "VALID");
    assert_eq!(updated["payloadId"], Value::Null);
    let updated = harness.result("engine_forkchoiceUpdatedV3", json!([state, attributes]));
    assert_eq!(updated["payloadId"], json!(PayloadId::new(BUILD_ID)));
    {
        let forkchoices = harness.handle.forkchoices.lock();
        let (got_state, got_attributes) = forkchoices.last().unwrap();
        assert_eq!(got_state.head_block_hash, head_hash);
        let got = got_attributes.as_ref().unwrap();
        assert_eq!(got.timestamp, head.header.timestamp + 12);
        assert_eq!(got.parent_beacon_block_root, Some(B256::repeat_byte(3)));
        assert_eq!(got.withdrawals.as_ref().unwrap().len(), 1);
        assert_eq!((got.slot_number, got.target_gas_limit), (None, None));
    }
    let calls = harness.handle.forkchoices.lock().len();

    let without = |field: &str| {
        let mut value = attributes.clone();
        value.as_object_mut().unwrap().remove(field);
        value
    };
    let with = |field: &str, v: Value| {
        let mut value = attributes.clone();
        value[field] = v;
        value
    };
    for (what, attributes) in [
        ("no parentBeaconBlockRoot", without("parentBeaconBlockRoot")),
        ("no withdrawals", without("withdrawals")),
        ("a slotNumber", with("slotNumber", json!("0x1"))),
        ("a targetGasLimit", with("targetGasLimit", json!("0x1c9c380"))),
        ("no timestamp", without("timestamp")),
    ] {
        assert_eq!(
            harness.error_code("engine_forkchoiceUpdatedV3", json!([state, attributes])),
            -38003,
            "{what}"
        );
    }
    // A Shanghai timestamp: not Cancun to Osaka.
    let shanghai = with("timestamp", json!("0x186"));
    assert_eq!(harness.error_code("engine_forkchoiceUpdatedV3", json!([state, shanghai])), -38005);
    // V4 is Amsterdam's; this chain has none.
    let v4 = with("slotNumber", json!("0x1"));
    let v4 = {
        let mut v4 = v4;
        v4["targetGasLimit"] = json!("0x1c9c380");
        v4
    };
    assert_eq!(harness.error_code("engine_forkchoiceUpdatedV4", json!([state, v4, null])), -38005);
    // A malformed forkchoice state: -32602.
    let bad_state = json!({"headBlockHash": head_hash, "safeBlockHash": head_hash});
    assert_eq!(harness.error_code("engine_forkchoiceUpdatedV3", json!([bad_state, null])), -32602);
    assert_eq!(harness.handle.forkchoices.lock().len(), calls, "refused attributes change nothing");
}

#[test]
fn amsterdam_new_payload_forkchoice_and_get_payload() {
    let harness = Harness::new(Store::amsterdam());
    let store = &harness.store;
    let (block, hash) = store.block(1);
    let access_list = store.env.block_access_list(1).unwrap().expect("the import stored the BAL");
    assert_eq!(engine_fork(&store.spec, block.header.timestamp), EngineFork::Amsterdam);

    // newPayloadV5: the block and its list reach the handle; V4 refuses the fork.
    let payload =
        serde_json::to_value(block_to_payload_v4(hash, &block, access_list.clone())).unwrap();
    assert_eq!(payload["blockAccessList"], json!(access_list));
    assert!(payload.get("slotNumber").is_some(), "{payload}");
    let status =
        harness.result("engine_newPayloadV5", json!([payload, [], beacon_root(&block), []]));
    assert_eq!(status_of(&status), "VALID", "{status}");
    {
        let payloads = harness.handle.payloads.lock();
        let (got, got_list) = payloads.last().unwrap();
        assert_eq!(got, &block);
        assert_eq!(got_list.as_ref(), Some(&access_list));
    }
    let mut v3 = payload.clone();
    v3.as_object_mut().unwrap().remove("blockAccessList");
    v3.as_object_mut().unwrap().remove("slotNumber");
    assert_eq!(
        harness.error_code("engine_newPayloadV4", json!([v3, [], beacon_root(&block), []])),
        -38005
    );
    // A wrong list (another list than the header's hash): INVALID before the handle.
    let mut wrong = payload.clone();
    wrong["blockAccessList"] = json!("0xc0");
    let status = harness.result("engine_newPayloadV5", json!([wrong, [], beacon_root(&block), []]));
    assert_eq!(status_of(&status), "INVALID", "{status}");
    let mut without = payload;
    without.as_object_mut().unwrap().remove("blockAccessList");
    assert_eq!(
        harness.error_code("engine_newPayloadV5", json!([without, [], beacon_root(&block), []])),
        -32602
    );

    // forkchoiceUpdatedV4 with full V4 attributes; V3 refuses the Amsterdam timestamp; missing fields -38003.
    let state = json!({"headBlockHash": hash, "safeBlockHash": hash, "finalizedBlockHash": hash});
    let attributes = json!({
        "timestamp": format!("{:#x}", block.header.timestamp + 12),
        "prevRandao": B256::repeat_byte(2),
        "suggestedFeeRecipient": "0x00000000000000000000000000000000000000fe",
        "withdrawals": [],
        "parentBeaconBlockRoot": B256::repeat_byte(3),
        "slotNumber": "0x7",
        "targetGasLimit": "0x2faf080",
    });
    let updated = harness.result("engine_forkchoiceUpdatedV4", json!([state, attributes, null]));
    assert_eq!(updated["payloadId"], json!(PayloadId::new(BUILD_ID)));
    let got = harness.handle.forkchoices.lock().last().unwrap().1.clone().unwrap();
    assert_eq!((got.slot_number, got.target_gas_limit), (Some(7), Some(50_000_000)));
    let custody = json!(format!("0x{}", "ff".repeat(16)));
    harness.result("engine_forkchoiceUpdatedV4", json!([state, attributes, custody]));
    let short_custody = json!(format!("0x{}", "ff".repeat(15)));
    assert_eq!(
        harness.error_code("engine_forkchoiceUpdatedV4", json!([state, attributes, short_custody])),
        -32602
    );
    let mut v3_attributes = attributes.clone();
    v3_attributes.as_object_mut().unwrap().remove("slotNumber");
    v3_attributes.as_object_mut().unwrap().remove("targetGasLimit");
    assert_eq!(
        harness.error_code("engine_forkchoiceUpdatedV3", json!([state, v3_attributes])),
        -38005
    );
    for field in ["slotNumber", "targetGasLimit", "withdrawals", "parentBeaconBlockRoot"] {
        let mut missing = attributes.clone();
        missing.as_object_mut().unwrap().remove(field);
        assert_eq!(
            harness.error_code("engine_forkchoiceUpdatedV4", json!([state, missing, null])),
            -38003,
            "{field}"
        );
    }

    // getPayloadV6: an ExecutionPayloadV4 with the list; V4 and V5 refuse the fork.
    let id = harness.build(BuiltPayload {
        block: block.clone(),
        hash,
        block_access_list: Some(access_list.clone()),
        fees: U256::from(1_000_000u64),
        requests: Some(Requests::default()),
        blob_sidecars: Vec::new(),
    });
    let envelope = harness.result("engine_getPayloadV6", json!([id]));
    assert_eq!(envelope["blockValue"], "0xf4240");
    assert_eq!(envelope["shouldOverrideBuilder"], false);
    assert_eq!(envelope["executionRequests"], json!([]));
    assert_eq!(envelope["blobsBundle"], json!({"commitments": [], "proofs": [], "blobs": []}));
    assert_eq!(envelope["executionPayload"]["blockAccessList"], json!(access_list));
    let payload: ExecutionPayloadV4 =
        serde_json::from_value(envelope["executionPayload"].clone()).unwrap();
    let (back, back_list) = payload_v4_to_block(
        payload,
        block.header.parent_beacon_block_root.unwrap(),
        Some(&Requests::default()),
    )
    .unwrap();
    assert_eq!((back.header.hash_slow(), back_list), (hash, access_list.clone()));
    assert_eq!(harness.error_code("engine_getPayloadV5", json!([id])), -38005);
    assert_eq!(harness.error_code("engine_getPayloadV4", json!([id])), -38005);
    assert_eq!(harness.error_code("engine_getPayloadV6", json!(["0x0000000000000009"])), -38001);

    // getPayloadBodiesV2 serves the stored list; V1 has no such field.
    let bodies = harness.result("engine_getPayloadBodiesByRangeV2", json!(["0x1", "0x1"]));
    assert_eq!(bodies[0]["blockAccessList"], json!(access_list));
    let bodies = harness.result("engine_getPayloadBodiesByHashV1", json!([[hash]]));
    assert!(bodies[0].get("blockAccessList").is_none(), "{bodies}");
}

#[test]
fn get_payload_answers_with_the_shape_of_its_fork() {
    let harness = Harness::new(Store::rpc_compat());
    let (prague, prague_hash) = harness.store.first_of(EngineFork::Prague);
    let (osaka, osaka_hash) = harness.store.first_of(EngineFork::Osaka);
    let built = |block: &Block, hash| BuiltPayload {
        block: block.clone(),
        hash,
        block_access_list: None,
        fees: U256::from(7),
        requests: Some(harness.store.requests(block.header.number)),
        blob_sidecars: Vec::new(),
    };
    assert_eq!(harness.error_code("engine_getPayloadV4", json!(["0x0101010101010101"])), -38001);
    assert_eq!(harness.error_code("engine_getPayloadV4", json!(["0x01"])), -32602, "not 8 bytes");

    let id = harness.build(built(&prague, prague_hash));
    let envelope = harness.result("engine_getPayloadV4", json!([id]));
    let mut keys: Vec<&String> = envelope.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "blobsBundle",
            "blockValue",
            "executionPayload",
            "executionRequests",
            "shouldOverrideBuilder"
        ]
    );
    assert_eq!(envelope["blockValue"], "0x7");
    assert!(envelope["executionPayload"].get("blockAccessList").is_none());
    let requests: Requests = serde_json::from_value(envelope["executionRequests"].clone()).unwrap();
    assert_eq!(requests, harness.store.requests(prague.header.number));
    // The payload converts back into the same block.
    let payload: ExecutionPayloadV3 =
        serde_json::from_value(envelope["executionPayload"].clone()).unwrap();
    let back = payload_v3_to_block(
        payload,
        prague.header.parent_beacon_block_root.unwrap(),
        Some(&requests),
    )
    .unwrap();
    assert_eq!(back, prague);
    assert_eq!(harness.error_code("engine_getPayloadV5", json!([id])), -38005);
    assert_eq!(harness.error_code("engine_getPayloadV6", json!([id])), -38005);

    let id = harness.build(built(&osaka, osaka_hash));
    let envelope = harness.result("engine_getPayloadV5", json!([id]));
    assert_eq!(envelope["executionPayload"]["blockHash"], json!(osaka_hash));
    assert_eq!(envelope["blobsBundle"], json!({"commitments": [], "proofs": [], "blobs": []}));
    assert_eq!(harness.error_code("engine_getPayloadV4", json!([id])), -38005);

    // Blob sidecars: blob proofs (BlobsBundleV1) in a Prague payload, cell proofs (V2) from Osaka on; the
    // other kind is the driver's mistake (-32000).
    let v1 = || {
        BlobTransactionSidecarVariant::Eip4844(BlobTransactionSidecar {
            blobs: vec![Blob::default()],
            commitments: vec![Bytes48::repeat_byte(1)],
            proofs: vec![Bytes48::repeat_byte(2)],
        })
    };
    let v2 = || {
        BlobTransactionSidecarVariant::Eip7594(BlobTransactionSidecarEip7594 {
            blobs: vec![Blob::default(), Blob::default()],
            commitments: vec![Bytes48::repeat_byte(1), Bytes48::repeat_byte(3)],
            cell_proofs: vec![Bytes48::repeat_byte(2); 2 * 128],
        })
    };
    let with_sidecars = |block: &Block, hash, sidecars| BuiltPayload {
        blob_sidecars: sidecars,
        ..built(block, hash)
    };
    let bundle_sizes = |envelope: &Value| {
        let bundle = &envelope["blobsBundle"];
        ["commitments", "proofs", "blobs"].map(|key| bundle[key].as_array().unwrap().len())
    };
    let id = harness.build(with_sidecars(&prague, prague_hash, vec![v1()]));
    let envelope = harness.result("engine_getPayloadV4", json!([id]));
    assert_eq!(bundle_sizes(&envelope), [1, 1, 1]);
    assert_eq!(envelope["blobsBundle"]["blobs"][0].as_str().unwrap().len(), 2 + 2 * 131_072);
    let id = harness.build(with_sidecars(&prague, prague_hash, vec![v2()]));
    assert_eq!(harness.error_code("engine_getPayloadV4", json!([id])), -32000);
    let id = harness.build(with_sidecars(&osaka, osaka_hash, vec![v2()]));
    let envelope = harness.result("engine_getPayloadV5", json!([id]));
    assert_eq!(bundle_sizes(&envelope), [2, 256, 2]);
    let id = harness.build(with_sidecars(&osaka, osaka_hash, vec![v1()]));
    assert_eq!(harness.error_code("engine_getPayloadV5", json!([id])), -32000);
}

#[test]
fn payload_bodies_come_from_the_store() {
    let harness = Harness::new(Store::rpc_compat());
    let store = &harness.store;
    let head = store.head();
    let expected = |number: u64| {
        use alloy_eips::Encodable2718 as _;
        let (block, _) = store.block(number);
        let transactions: Vec<Value> = block
            .body
            .transactions
            .iter()
            .map(|tx| json!(Bytes::from(tx.encoded_2718())))
            .collect();
        let withdrawals = block.body.withdrawals.map_or(Value::Null, |w| json!(w.into_inner()));
        json!({"transactions": transactions, "withdrawals": withdrawals})
    };

    // By range, V1: every block from 1 to the head, pre-Shanghai ones with `withdrawals: null`.
    let bodies =
        harness.result("engine_getPayloadBodiesByRangeV1", json!(["0x1", format!("{head:#x}")]));
    let bodies = bodies.as_array().unwrap();
    assert_eq!(bodies.len() as u64, head);
    for (index, body) in bodies.iter().enumerate() {
        assert_eq!(body, &expected(index as u64 + 1), "block {}", index + 1);
    }
    assert_eq!(bodies[0]["withdrawals"], Value::Null, "block 1 is before Shanghai");
    assert!(bodies.iter().any(|body| !body["transactions"].as_array().unwrap().is_empty()));
    assert!(bodies.last().unwrap()["withdrawals"].is_array());

    // V2 adds `blockAccessList`, null before Amsterdam.
    let bodies =
        harness.result("engine_getPayloadBodiesByRangeV2", json!([format!("{head:#x}"), "0x1"]));
    assert_eq!(bodies.as_array().unwrap().len(), 1);
    assert_eq!(bodies[0]["blockAccessList"], Value::Null);
    assert_eq!(bodies[0]["transactions"], expected(head)["transactions"]);

    // Past the head: trimmed, or empty.
    let bodies = harness
        .result("engine_getPayloadBodiesByRangeV1", json!([format!("{:#x}", head - 1), "0x20"]));
    assert_eq!(bodies.as_array().unwrap().len(), 2);
    let bodies = harness
        .result("engine_getPayloadBodiesByRangeV1", json!([format!("{:#x}", head + 1), "0x20"]));
    assert_eq!(bodies, json!([]));

    // By hash: in order, null for unknown hashes.
    let (_, hash_2) = store.block(2);
    let (_, hash_head) = store.block(head);
    let bodies = harness.result(
        "engine_getPayloadBodiesByHashV1",
        json!([[hash_head, B256::repeat_byte(0x42), hash_2]]),
    );
    assert_eq!(bodies, json!([expected(head), null, expected(2)]));
    let bodies = harness.result("engine_getPayloadBodiesByHashV2", json!([[hash_2]]));
    assert_eq!(bodies[0]["blockAccessList"], Value::Null);

    // Limits and parameters.
    for method in ["engine_getPayloadBodiesByRangeV1", "engine_getPayloadBodiesByRangeV2"] {
        assert_eq!(harness.error_code(method, json!(["0x0", "0x1"])), -32602, "{method} start 0");
        assert_eq!(harness.error_code(method, json!(["0x1", "0x0"])), -32602, "{method} count 0");
        assert_eq!(harness.error_code(method, json!(["0x1", "0x401"])), -38004, "{method} 1025");
        assert_eq!(
            harness.result(method, json!(["0x1", "0x400"])).as_array().unwrap().len() as u64,
            head
        );
    }
    let many = vec![B256::repeat_byte(1); 1025];
    for method in ["engine_getPayloadBodiesByHashV1", "engine_getPayloadBodiesByHashV2"] {
        assert_eq!(harness.error_code(method, json!([many])), -38004, "{method}");
        let bodies = harness.result(method, json!([many[..1024]]));
        assert_eq!(bodies.as_array().unwrap().len(), 1024);
    }
}

#[test]
fn stored_blocks_round_trip_through_payloads() {
    let store = Store::rpc_compat();
    let mut checked = 0;
    for number in 1..=store.head() {
        let (block, hash) = store.block(number);
        let fork = engine_fork(&store.spec, block.header.timestamp);
        if fork < EngineFork::Cancun {
            continue;
        }
        let requests = (fork >= EngineFork::Prague).then(|| store.requests(number));
        let json = serde_json::to_string(&block_to_payload_v3(hash, &block)).unwrap();
        let payload: ExecutionPayloadV3 = serde_json::from_str(&json).unwrap();
        let back = payload_v3_to_block(
            payload,
            block.header.parent_beacon_block_root.unwrap(),
            requests.as_ref(),
        )
        .unwrap();
        assert_eq!(back.header.hash_slow(), hash, "block {number}");
        assert_eq!(back, block, "block {number}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} Cancun-or-later blocks");
}

/// The hive-sync chain (Cancun from genesis) from the unpacked fixtures: every block converts to a payload and
/// back with its hash.
#[test]
#[ignore = "needs the unpacked fixture suites (make conformance sets BALNODE_FIXTURES)"]
fn hive_sync_blocks_round_trip_through_payloads() {
    let dir = PathBuf::from(
        std::env::var_os("BALNODE_FIXTURES").expect("BALNODE_FIXTURES names the unpacked fixtures"),
    )
    .join("chains/hive-sync");
    let mut count = 0;
    for record in balnode_import::file::BlockFileReader::open(dir.join("chain.rlp")).unwrap() {
        let block = record.unwrap().block;
        let hash = block.header.hash_slow();
        let json = serde_json::to_string(&block_to_payload_v3(hash, &block)).unwrap();
        let payload: ExecutionPayloadV3 = serde_json::from_str(&json).unwrap();
        let back =
            payload_v3_to_block(payload, block.header.parent_beacon_block_root.unwrap(), None)
                .unwrap();
        assert_eq!(back.header.hash_slow(), hash, "block {}", block.header.number);
        count += 1;
    }
    assert!(count > 0);
}

#[test]
fn payload_attributes_become_build_attributes() {
    let attributes = PayloadAttributes {
        timestamp: 5,
        prev_randao: B256::repeat_byte(1),
        suggested_fee_recipient: balnode_primitives::Address::repeat_byte(2),
        withdrawals: Some(Vec::new()),
        parent_beacon_block_root: Some(B256::repeat_byte(3)),
        slot_number: Some(4),
        target_gas_limit: Some(6),
    };
    let build = BuildAttributes::from(attributes);
    assert_eq!((build.timestamp, build.slot_number, build.target_gas_limit), (5, Some(4), Some(6)));
    assert_eq!(build.suggested_fee_recipient, balnode_primitives::Address::repeat_byte(2));
}

#[test]
fn get_blobs_serves_the_pool_by_version() {
    let v1 = |byte| {
        PooledBlob::Eip4844(BlobAndProofV1 {
            blob: Box::default(),
            proof: Bytes48::repeat_byte(byte),
        })
    };
    let v2 = |byte| {
        PooledBlob::Eip7594(BlobAndProofV2 {
            blob: Box::default(),
            proofs: vec![Bytes48::repeat_byte(byte); 128],
        })
    };
    let (old, new, other) = (B256::repeat_byte(1), B256::repeat_byte(2), B256::repeat_byte(3));
    let fill = |harness: &Harness| {
        let mut blobs = harness.handle.blobs.lock();
        blobs.insert(old, v1(1));
        blobs.insert(new, v2(2));
        blobs.insert(other, v2(3));
    };

    // A head before Osaka (the rpc-compat genesis alone): V1 serves blob proofs, `null` for the rest.
    let dir = repo("crates/import/testdata/chains/rpc-compat");
    let genesis = balnode_chainspec::read_genesis(&dir.join("genesis.json")).unwrap();
    let harness = Harness::new(Store::empty(Arc::new(ChainSpec::from_genesis(genesis).unwrap())));
    fill(&harness);
    let blobs = harness.result("engine_getBlobsV1", json!([[old, new, B256::repeat_byte(9)]]));
    assert_eq!(blobs[0]["proof"], json!(Bytes48::repeat_byte(1)));
    assert_eq!(blobs[0]["blob"].as_str().unwrap().len(), 2 + 2 * 131_072);
    assert_eq!((&blobs[1], &blobs[2]), (&Value::Null, &Value::Null));
    assert_eq!(harness.error_code("engine_getBlobsV1", json!([vec![old; 129]])), -38004);
    drop(harness);

    // A head in Osaka's time frame: V1 is refused; V2 is all or nothing; V3 fills in what it has.
    let harness = Harness::new(Store::rpc_compat());
    fill(&harness);
    assert_eq!(harness.error_code("engine_getBlobsV1", json!([[old]])), -38005);
    let blobs = harness.result("engine_getBlobsV2", json!([[new, other]]));
    assert_eq!(blobs.as_array().unwrap().len(), 2);
    assert_eq!(blobs[1]["proofs"].as_array().unwrap().len(), 128);
    assert_eq!(blobs[1]["proofs"][0], json!(Bytes48::repeat_byte(3)));
    assert_eq!(
        harness.result("engine_getBlobsV2", json!([[new, B256::repeat_byte(9)]])),
        Value::Null
    );
    assert_eq!(
        harness.result("engine_getBlobsV2", json!([[new, old]])),
        Value::Null,
        "a blob-proof blob is an older version"
    );
    let blobs = harness.result("engine_getBlobsV3", json!([[new, B256::repeat_byte(9), old]]));
    assert_eq!(blobs[0]["proofs"].as_array().unwrap().len(), 128);
    assert_eq!((&blobs[1], &blobs[2]), (&Value::Null, &Value::Null));
    for method in ["engine_getBlobsV2", "engine_getBlobsV3"] {
        assert_eq!(harness.error_code(method, json!([vec![new; 129]])), -38004, "{method}");
    }
    // At least 128 are served (one version checked: 128 blobs are 32 MiB of JSON).
    assert_eq!(
        harness.result("engine_getBlobsV3", json!([vec![new; 128]])).as_array().unwrap().len(),
        128
    );
}
