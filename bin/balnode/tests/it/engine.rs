//! `balnode node` behind a consensus client: a chain imported block by block through `engine_newPayloadV3` and
//! `engine_forkchoiceUpdatedV3` over JWT-authenticated HTTP, a block built with payload attributes and fetched
//! with `engine_getPayloadV3`, and a reorg onto a sibling branch that leaves the node exactly as a node that
//! only saw the winning branch.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use balnode_import::file::BlockFileReader;
use balnode_primitives::{B256, Block, consensus::Transaction as _};
use balnode_rpc::engine::{Claims, JwtSecret, block_to_payload_v3};
use serde_json::{Value, json};

use crate::balnode;

const SECRET: &str = "0x2c4a1f8b9d3e7f60a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2";

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

/// A node process with its JSON-RPC and Engine API addresses, killed when dropped.
pub(crate) struct Node {
    pub(crate) child: Child,
    pub(crate) rpc: SocketAddr,
    pub(crate) engine: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// A fresh datadir of the chain `genesis` (with `import` imported by `balnode import` first, when
    /// given), and `balnode node` on free ports with a known JWT secret.
    pub(crate) fn start(genesis: &str, import: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let datadir = dir.path().join("node").display().to_string();
        let (ok, _, stderr) = balnode(&["init", "--chain", genesis, "--datadir", &datadir]);
        assert!(ok, "{stderr}");
        if let Some(file) = import {
            let (ok, _, stderr) =
                balnode(&["import", "--chain", genesis, "--datadir", &datadir, file]);
            assert!(ok, "{stderr}");
        }
        let secret = dir.path().join("jwt.hex");
        std::fs::write(&secret, SECRET).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_balnode"))
            .args(["node", "--datadir", &datadir, "--chain", genesis, "--http.port", "0"])
            .args(["--authrpc.port", "0", "--authrpc.jwtsecret", secret.to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("balnode starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut address = |prefix: &str| loop {
            let line = lines.next().expect("the node prints its addresses").unwrap();
            if let Some(rest) = line.strip_prefix(prefix) {
                break rest.split_whitespace().next().unwrap().parse::<SocketAddr>().unwrap();
            }
        };
        let engine = address("Engine API on http://");
        let rpc = address("JSON-RPC on http://");
        Self { child, rpc, engine, _dir: dir }
    }

    /// An Engine API call with a fresh token; its result (an error fails the test).
    pub(crate) fn engine(&self, method: &str, params: Value) -> Value {
        let secret = JwtSecret::from_hex(SECRET).unwrap();
        let token = secret.encode(&Claims { iat: now(), exp: None }).unwrap();
        let (status, response) = call(self.engine, Some(&token), method, &params);
        assert_eq!(status, 200, "{method}: {response}");
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    /// A JSON-RPC call; its result.
    pub(crate) fn rpc(&self, method: &str, params: Value) -> Value {
        let (status, response) = call(self.rpc, None, method, &params);
        assert_eq!(status, 200, "{method}: {response}");
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    /// `newPayloadV3` for `block`; its status.
    pub(crate) fn new_payload(&self, block: &Block) -> Value {
        let hash = block.header.hash_slow();
        let versioned_hashes: Vec<B256> = block
            .body
            .transactions
            .iter()
            .flat_map(|tx| tx.blob_versioned_hashes().unwrap_or_default().to_vec())
            .collect();
        self.engine(
            "engine_newPayloadV3",
            json!([
                block_to_payload_v3(hash, block),
                versioned_hashes,
                block.header.parent_beacon_block_root.unwrap()
            ]),
        )
    }

    /// `forkchoiceUpdatedV3` to `head` (safe and finalized unchanged), with `attributes`; the result.
    pub(crate) fn forkchoice(&self, head: B256, attributes: Value) -> Value {
        let state = json!({"headBlockHash": head, "safeBlockHash": B256::ZERO, "finalizedBlockHash": B256::ZERO});
        self.engine("engine_forkchoiceUpdatedV3", json!([state, attributes]))
    }

    /// The latest block as JSON-RPC gives it.
    fn head(&self) -> Value {
        self.rpc("eth_getBlockByNumber", json!(["latest", false]))
    }

    /// Builds `count` blocks on the head through payload attributes (the consensus client's way), each one
    /// fetched with `getPayloadV3`, sent back with `newPayloadV3` and made the head; `salt` makes the blocks
    /// differ from another node's. Returns the payloads.
    fn build(&self, count: usize, salt: u8) -> Vec<Value> {
        let mut built = Vec::new();
        for _ in 0..count {
            let head = self.head();
            let head_hash: B256 = serde_json::from_value(head["hash"].clone()).unwrap();
            let timestamp = u64::from_str_radix(
                head["timestamp"].as_str().unwrap().trim_start_matches("0x"),
                16,
            )
            .unwrap();
            let attributes = json!({
                "timestamp": format!("{:#x}", timestamp + 12),
                "prevRandao": B256::repeat_byte(salt),
                "suggestedFeeRecipient": format!("0x{}", format!("{salt:02x}").repeat(20)),
                "withdrawals": [],
                "parentBeaconBlockRoot": B256::with_last_byte(salt),
            });
            let updated = self.forkchoice(head_hash, attributes);
            assert_eq!(updated["payloadStatus"]["status"], "VALID", "{updated}");
            let id = updated["payloadId"].clone();
            assert!(id.is_string(), "a payload id: {updated}");
            let envelope = self.engine("engine_getPayloadV3", json!([id]));
            let payload = envelope["executionPayload"].clone();
            assert_eq!(payload["parentHash"], json!(head_hash));
            assert_eq!(payload["feeRecipient"], attributes_recipient(salt));
            let status = self
                .engine("engine_newPayloadV3", json!([payload, [], B256::with_last_byte(salt)]));
            assert_eq!(status["status"], "VALID", "{status}");
            let updated = self.forkchoice(
                serde_json::from_value(payload["blockHash"].clone()).unwrap(),
                Value::Null,
            );
            assert_eq!(updated["payloadStatus"]["status"], "VALID", "{updated}");
            built.push(payload);
        }
        built
    }
}

fn attributes_recipient(salt: u8) -> Value {
    json!(format!("0x{}", format!("{salt:02x}").repeat(20)))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A JSON-RPC call over HTTP, with a bearer token when given; the HTTP status and the response object.
fn call(addr: SocketAddr, token: Option<&str>, method: &str, params: &Value) -> (u16, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let auth = token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The consensus client's run over the chain `dir` (genesis.json and `chain`): see the module's doc.
fn drive_like_a_consensus_client(genesis: &str, chain: &str) {
    let blocks: Vec<Block> =
        BlockFileReader::open(chain).unwrap().map(|record| record.unwrap().block).collect();
    let node = Node::start(genesis, None);

    // Without a valid token, nothing: 401, and the head stays at genesis.
    let (status, _) = call(node.engine, None, "engine_newPayloadV3", &json!([]));
    assert_eq!(status, 401);
    let stale = JwtSecret::from_hex(SECRET)
        .unwrap()
        .encode(&Claims { iat: now() - 120, exp: None })
        .unwrap();
    assert_eq!(call(node.engine, Some(&stale), "engine_newPayloadV3", &json!([])).0, 401);

    // The chain, block by block.
    assert!(blocks.len() >= 64, "{} blocks", blocks.len());
    for block in &blocks {
        let hash = block.header.hash_slow();
        let status = node.new_payload(block);
        assert_eq!(status["status"], "VALID", "block {}: {status}", block.header.number);
        assert_eq!(status["latestValidHash"], json!(hash));
        let updated = node.forkchoice(hash, Value::Null);
        assert_eq!(updated["payloadStatus"]["status"], "VALID", "{updated}");
    }
    let last = blocks.last().unwrap();
    assert_eq!(node.head()["hash"], json!(last.header.hash_slow()));

    // A payload whose parent is unknown: SYNCING. A sibling of the head with a wrong state root: kept aside,
    // then INVALID when a forkchoice names it (its parent the latest valid hash), and the head restored.
    let mut orphan = last.clone();
    orphan.header.parent_hash = B256::repeat_byte(7);
    assert_eq!(node.new_payload(&orphan)["status"], "SYNCING");
    let mut wrong = last.clone();
    wrong.header.parent_hash = blocks[blocks.len() - 2].header.hash_slow();
    wrong.header.number = last.header.number;
    wrong.header.state_root = B256::repeat_byte(3);
    let status = node.new_payload(&wrong);
    assert_eq!(status["status"], "ACCEPTED", "a sibling of the head is kept aside: {status}");
    let updated = node.forkchoice(wrong.header.hash_slow(), Value::Null);
    assert_eq!(updated["payloadStatus"]["status"], "INVALID", "{updated}");
    assert_eq!(updated["payloadStatus"]["latestValidHash"], json!(wrong.header.parent_hash));
    assert_eq!(node.head()["hash"], json!(last.header.hash_slow()), "the head is back");

    // A second node imports the same chain from the file and builds its own branch of 4 blocks; this node
    // builds 3 of its own on the same head.
    let other = Node::start(genesis, Some(chain));
    assert_eq!(other.head()["hash"], json!(last.header.hash_slow()));
    let ours = node.build(3, 0xaa);
    let theirs = other.build(4, 0xbb);
    assert_ne!(ours[0]["blockHash"], theirs[0]["blockHash"]);
    let our_head = node.head();
    assert_eq!(our_head["hash"], ours[2]["blockHash"]);

    // Their branch reaches this node: kept aside (ACCEPTED) until the forkchoice names it.
    for payload in &theirs {
        let status = node.engine(
            "engine_newPayloadV3",
            json!([payload, [], payload_beacon_root(payload, &other)]),
        );
        assert_eq!(status["status"], "ACCEPTED", "{status}");
    }
    assert_eq!(node.head()["hash"], ours[2]["blockHash"]);
    let their_head: B256 = serde_json::from_value(theirs[3]["blockHash"].clone()).unwrap();
    let updated = node.forkchoice(their_head, Value::Null);
    assert_eq!(updated["payloadStatus"]["status"], "VALID", "{updated}");
    assert_eq!(updated["payloadStatus"]["latestValidHash"], json!(their_head));

    // The reorg unwound 3 blocks and applied 4: the same head, blocks, receipts and state as the other node.
    assert_eq!(node.head(), other.head());
    let head_number = last.header.number;
    for number in head_number - 2..=head_number + 4 {
        let tag = json!(format!("{number:#x}"));
        assert_eq!(
            node.rpc("eth_getBlockByNumber", json!([tag, true])),
            other.rpc("eth_getBlockByNumber", json!([tag, true])),
            "block {number}"
        );
        assert_eq!(
            node.rpc("eth_getBlockReceipts", json!([tag])),
            other.rpc("eth_getBlockReceipts", json!([tag])),
            "receipts of block {number}"
        );
    }
    for account in [attributes_recipient(0xaa), attributes_recipient(0xbb)] {
        assert_eq!(
            node.rpc("eth_getBalance", json!([account, "latest"])),
            other.rpc("eth_getBalance", json!([account, "latest"]))
        );
    }
    // The EIP-4788 contract holds the winning branch's beacon roots, not ours.
    let beacon_roots = json!("0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02");
    let slot = json!(format!(
        "{:#x}",
        (u64::from_str_radix(
            theirs[3]["timestamp"].as_str().unwrap().trim_start_matches("0x"),
            16
        )
        .unwrap()
            % 8191)
            + 8191
    ));
    assert_eq!(
        node.rpc("eth_getStorageAt", json!([beacon_roots, slot, "latest"])),
        json!(B256::with_last_byte(0xbb))
    );
    // Our old head is no longer canonical.
    assert_eq!(node.rpc("eth_getBlockByHash", json!([ours[2]["blockHash"], false])), Value::Null);
}

/// The beacon root `node` built `payload` with: the one its salt gave (see [`Node::build`]).
fn payload_beacon_root(payload: &Value, _node: &Node) -> B256 {
    let recipient = payload["feeRecipient"].as_str().unwrap();
    B256::with_last_byte(u8::from_str_radix(&recipient[2..4], 16).unwrap())
}

#[test]
fn a_consensus_client_drives_the_node_through_the_engine_api() {
    drive_like_a_consensus_client(
        &repo("bin/balnode/testdata/hive-sync/genesis.json"),
        &repo("bin/balnode/testdata/hive-sync/chain-128.rlp"),
    );
}

#[test]
#[ignore = "needs the unpacked fixture suites: BALNODE_FIXTURES=DIR (make conformance)"]
fn a_consensus_client_drives_the_node_through_the_engine_api_over_all_of_hive_sync() {
    let fixtures = std::env::var("BALNODE_FIXTURES").expect("BALNODE_FIXTURES");
    let dir = Path::new(&fixtures).join("chains/hive-sync");
    drive_like_a_consensus_client(
        dir.join("genesis.json").to_str().unwrap(),
        dir.join("chain.rlp").to_str().unwrap(),
    );
}

/// A signed EIP-1559 transfer from dev account `from` (nonce `nonce`) to dev account `to`, as raw bytes.
fn dev_transfer(from: usize, to: usize, nonce: u64) -> balnode_primitives::Bytes {
    use alloy_signer::SignerSync;
    use balnode_chainspec::{dev, dev_accounts};
    use balnode_primitives::{
        TxEnvelope, U256,
        consensus::{SignableTransaction, TxEip1559},
        eips::eip2718::Encodable2718,
        primitives::TxKind,
    };
    let key = &dev_accounts()[from];
    let signer = alloy_signer_local::PrivateKeySigner::from_bytes(&key.private_key).unwrap();
    let tx = TxEip1559 {
        chain_id: dev().chain_id(),
        nonce,
        gas_limit: 300_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(dev_accounts()[to].address),
        value: U256::from(12_345),
        ..Default::default()
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718().into()
}

/// Amsterdam payloads through the Engine API on the dev chain (no `--dev`: the consensus client drives):
/// built with `forkchoiceUpdatedV4` attributes from the pool, fetched with `getPayloadV6` with their access list,
/// and `newPayloadV5` refusing a missing list (-32602), a list that does not match the header (INVALID) and a list
/// the header commits to but execution does not build (INVALID, the parent the latest valid hash), then accepting
/// the right one; the list is served back by `eth_getBlockAccessList` and `getPayloadBodiesByRangeV2`.
#[test]
fn amsterdam_payloads_carry_and_check_their_access_lists() {
    use alloy_rpc_types_engine::ExecutionPayloadV4;
    use balnode_primitives::{Bytes, keccak256};
    use balnode_rpc::engine::{block_to_payload_v4, payload_v4_to_block};

    let node = Node::start("dev", None);
    // Sent on the Engine API port, which serves the pool's `eth_sendRawTransaction` too.
    let hash = node.engine("eth_sendRawTransaction", json!([dev_transfer(0, 1, 0)]));
    assert!(hash.is_string(), "{hash}");
    let genesis = node.head();
    let timestamp =
        u64::from_str_radix(genesis["timestamp"].as_str().unwrap().trim_start_matches("0x"), 16)
            .unwrap();
    let beacon_root = B256::repeat_byte(0x42);
    let attributes = json!({
        "timestamp": format!("{:#x}", timestamp + 12),
        "prevRandao": B256::repeat_byte(1),
        "suggestedFeeRecipient": format!("0x{}", "11".repeat(20)),
        "withdrawals": [],
        "parentBeaconBlockRoot": beacon_root,
        "slotNumber": "0x1",
        "targetGasLimit": genesis["gasLimit"],
    });
    let state = json!({"headBlockHash": genesis["hash"], "safeBlockHash": B256::ZERO, "finalizedBlockHash": B256::ZERO});
    let updated = node.engine("engine_forkchoiceUpdatedV4", json!([state, attributes]));
    assert_eq!(updated["payloadStatus"]["status"], "VALID", "{updated}");
    let envelope = node.engine("engine_getPayloadV6", json!([updated["payloadId"]]));
    let payload = envelope["executionPayload"].clone();
    let requests = envelope["executionRequests"].clone();
    assert_eq!(payload["transactions"].as_array().unwrap().len(), 1, "{payload}");
    let list: Bytes = serde_json::from_value(payload["blockAccessList"].clone()).unwrap();
    assert!(list.len() > 1, "the list names the transfer's accounts");

    // Without its list: invalid params.
    let secret = JwtSecret::from_hex(SECRET).unwrap();
    let token = secret.encode(&Claims { iat: now(), exp: None }).unwrap();
    let mut without = payload.clone();
    without.as_object_mut().unwrap().remove("blockAccessList");
    let (_, response) = call(
        node.engine,
        Some(&token),
        "engine_newPayloadV5",
        &json!([without, [], beacon_root, requests]),
    );
    assert_eq!(response["error"]["code"], -32602, "{response}");

    // A list that is not the one the header commits to: INVALID.
    let mut tampered = payload.clone();
    tampered["blockAccessList"] = json!(Bytes::from_static(&[0xc0]));
    let status = node.engine("engine_newPayloadV5", json!([tampered, [], beacon_root, requests]));
    assert_eq!(status["status"], "INVALID", "{status}");

    // A list the header commits to (hash and block hash recomputed) that execution does not build: INVALID,
    // the parent being the latest valid block.
    let decoded: ExecutionPayloadV4 = serde_json::from_value(payload.clone()).unwrap();
    let (mut block, _) =
        payload_v4_to_block(decoded, beacon_root, Some(&Default::default())).unwrap();
    let empty = Bytes::from_static(&[0xc0]);
    block.header.block_access_list_hash = Some(keccak256(&empty));
    let forged = block_to_payload_v4(block.header.hash_slow(), &block, empty);
    let status = node.engine("engine_newPayloadV5", json!([forged, [], beacon_root, requests]));
    assert_eq!(status["status"], "INVALID", "{status}");
    assert_eq!(status["latestValidHash"], genesis["hash"], "{status}");
    assert_eq!(node.head()["hash"], genesis["hash"], "nothing committed");

    // The right one.
    let status = node.engine("engine_newPayloadV5", json!([payload, [], beacon_root, requests]));
    assert_eq!(status["status"], "VALID", "{status}");
    let state = json!({"headBlockHash": payload["blockHash"], "safeBlockHash": B256::ZERO, "finalizedBlockHash": B256::ZERO});
    let updated = node.engine("engine_forkchoiceUpdatedV4", json!([state, Value::Null]));
    assert_eq!(updated["payloadStatus"]["status"], "VALID", "{updated}");
    assert_eq!(node.rpc("debug_getRawBlockAccessList", json!(["0x1"])), json!(list));
    let bodies = node.engine("engine_getPayloadBodiesByRangeV2", json!(["0x1", "0x1"]));
    assert_eq!(bodies[0]["blockAccessList"], json!(list), "{bodies}");
    // The pool saw the block: its transaction is mined.
    assert_eq!(node.rpc("txpool_status", json!([]))["pending"], "0x0");
    assert_eq!(node.rpc("eth_getTransactionReceipt", json!([hash]))["status"], "0x1");
}
