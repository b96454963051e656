//! `balnode node` serving JSON-RPC over the imported rpc-compat chain: bad input of every kind gets the right
//! JSON-RPC error, and the server keeps answering.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

use crate::balnode;

const GENESIS: &str = "crates/import/testdata/chains/rpc-compat/genesis.json";
const CHAIN: &str = "crates/import/testdata/chains/rpc-compat/chain.rlp";
const HEAD_HASH: &str = "0xd226371d0b1551adb03fb52b71f08e3e11247fe9b1af994768af8cdaa8e7dcd7";
const CONTRACT: &str = "0x7dcd17433742f4c0ca53122ab541d0ba67fc27df";

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

/// A node process, killed when dropped.
struct Node {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Imports the rpc-compat chain into a temp datadir and starts `balnode node` on a free port with small
/// limits.
fn start_node() -> Node {
    start_node_with(false)
}

/// [`start_node`]; with `with_bals`, the chain goes in through `balnode bal generate`, which stores the access
/// list each block would have had.
fn start_node_with(with_bals: bool) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("node").display().to_string();
    let genesis = repo(GENESIS);
    let (ok, _, stderr) = balnode(&["init", "--chain", &genesis, "--datadir", &datadir]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = if with_bals {
        let out = dir.path().join("bal.rlp").display().to_string();
        balnode(&[
            "bal",
            "generate",
            "--chain",
            &genesis,
            "--datadir",
            &datadir,
            &repo(CHAIN),
            "--out",
            &out,
        ])
    } else {
        balnode(&["import", "--chain", &genesis, "--datadir", &datadir, &repo(CHAIN)])
    };
    assert!(ok, "{stderr}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_balnode"))
        .args(["node", "--datadir", &datadir, "--chain", &genesis, "--http.port", "0"])
        .args(["--authrpc.port", "0"])
        .args(["--rpc.max-request-size", "100000", "--rpc.batch-limit", "20"])
        .args(["--rpc.logs-block-range", "10", "--rpc.max-logs", "5", "--rpc.evm-timeout", "200"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("balnode starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("the node prints its RPC URL").unwrap();
        if let Some(rest) = line.strip_prefix("JSON-RPC on http://") {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    Node { child, addr, _dir: dir }
}

/// POSTs `body`; returns the HTTP status and the body.
fn post(addr: SocketAddr, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before reading all of an oversized body.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

fn call(addr: SocketAddr, method: &str, params: Value) -> Value {
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (status, body) = post(addr, request.to_string().as_bytes());
    assert_eq!(status, 200, "{method}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|error| panic!("{method}: {error}: {body}"))
}

fn error_code(response: &Value) -> Option<i64> {
    response["error"]["code"].as_i64()
}

#[test]
fn the_node_serves_the_imported_chain() {
    let node = start_node();
    let head = call(node.addr, "eth_getBlockByNumber", json!(["latest", false]));
    assert_eq!(head["result"]["number"], "0x36");
    assert_eq!(head["result"]["hash"], HEAD_HASH);
    let by_hash = call(node.addr, "eth_getBlockByHash", json!([HEAD_HASH, true]));
    assert_eq!(by_hash["result"]["number"], "0x36");
    let code = call(node.addr, "eth_getCode", json!([CONTRACT, "latest"]));
    assert!(code["result"].as_str().unwrap().len() > 2);
    // Historical state differs from the head's: the contract's balance grows over the chain.
    let now = call(node.addr, "eth_getBalance", json!([CONTRACT, "latest"]));
    let before = call(node.addr, "eth_getBalance", json!([CONTRACT, "0x5"]));
    assert_ne!(now["result"], before["result"]);
    let logs = call(node.addr, "eth_getLogs", json!([{"fromBlock": "0x1", "toBlock": "0x1"}]));
    assert!(logs["result"].is_array(), "{logs}");
}

#[test]
fn block_access_lists_are_served_as_json_and_rlp() {
    let node = start_node_with(true);
    for number in ["0x1", "0x3", "0x2a", "latest"] {
        let json_list = call(node.addr, "eth_getBlockAccessList", json!([number]));
        let list: Vec<balnode_primitives::eips::eip7928::AccountChanges> =
            serde_json::from_value(json_list["result"].clone())
                .unwrap_or_else(|error| panic!("{error}: {json_list}"));
        assert!(!list.is_empty(), "block {number} touches accounts");
        let raw = call(node.addr, "debug_getRawBlockAccessList", json!([number]));
        let raw: balnode_primitives::Bytes = serde_json::from_value(raw["result"].clone()).unwrap();
        assert_eq!(
            balnode_bal::encode(&list),
            raw,
            "block {number}: the JSON and the RLP are one list"
        );
    }
    let unknown = call(node.addr, "eth_getBlockAccessList", json!(["0x99"]));
    assert_eq!(unknown["result"], Value::Null);
}

#[test]
fn bad_input_gets_json_rpc_errors_and_the_server_keeps_answering() {
    let node = start_node();
    let addr = node.addr;
    let mut checked = 0;

    // Malformed JSON: parse errors.
    let malformed: &[&str] = &[
        "{",
        "[",
        "}",
        "garbage",
        "{\"jsonrpc\":\"2.0\"",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\",}",
        "{'jsonrpc':'2.0'}",
        "\u{0}\u{1}\u{2}",
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\"",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\",\"params\":[}",
        "nul",
        "{\"a\":1}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\"}garbage",
        "\"unterminated",
    ];
    for body in malformed {
        let (status, response) = post(addr, body.as_bytes());
        let response: Value = serde_json::from_str(&response)
            .unwrap_or_else(|error| panic!("{body:?}: {status} {error}: {response}"));
        let code = error_code(&response);
        assert!(matches!(code, Some(-32700 | -32600)), "{body:?}: {response}");
        checked += 1;
    }

    // Valid JSON that is not a request: invalid request.
    let not_requests: &[&str] = &[
        "null",
        "1",
        "\"eth_chainId\"",
        "{}",
        "{\"jsonrpc\":\"2.0\",\"id\":1}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":1}",
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"eth_chainId\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\",\"params\":1}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\",\"params\":\"x\"}",
    ];
    for body in not_requests {
        let (_, response) = post(addr, body.as_bytes());
        let response: Value = serde_json::from_str(&response)
            .unwrap_or_else(|error| panic!("{body:?}: {error}: {response}"));
        assert!(response["error"].is_object(), "{body:?}: {response}");
        assert!(response.get("result").is_none(), "{body:?}: {response}");
        checked += 1;
    }

    // An id of the wrong type: jsonrpsee answers with a bare `null` (there is no id to answer to), not with
    // an error object; what matters here is that it answers and stays up.
    for body in [
        "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"eth_chainId\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"eth_chainId\"}",
    ] {
        let (status, response) = post(addr, body.as_bytes());
        assert_eq!(status, 200, "{body}");
        let response: Value = serde_json::from_str(&response).unwrap();
        assert!(response.is_null() || response["error"].is_object(), "{body}: {response}");
        checked += 1;
    }

    // Unknown methods.
    for index in 0..20 {
        let response = call(addr, &format!("eth_noSuchMethod{index}"), json!([]));
        assert_eq!(error_code(&response), Some(-32601), "{response}");
        checked += 1;
    }
    for method in ["engine_newPayloadV4", "admin_peers", "personal_sign", "miner_start", ""] {
        let response = call(addr, method, json!([]));
        assert_eq!(error_code(&response), Some(-32601), "{method}: {response}");
        checked += 1;
    }

    // Wrong types and values: invalid params.
    let invalid_params: Vec<(&str, Value)> = vec![
        ("eth_getBalance", json!([])),
        ("eth_getBalance", json!([123])),
        ("eth_getBalance", json!(["0xzz"])),
        ("eth_getBalance", json!([true, "latest"])),
        ("eth_getBalance", json!([{}, "latest"])),
        ("eth_getBalance", json!([CONTRACT, "notatag"])),
        ("eth_getBalance", json!([CONTRACT, 1.5])),
        ("eth_getBalance", json!([CONTRACT, "latest", "extra"])),
        ("eth_getBalance", json!(["0x1234", "latest"])),
        ("eth_getBlockByNumber", json!([])),
        ("eth_getBlockByNumber", json!(["nope", false])),
        ("eth_getBlockByNumber", json!(["0x1", "yes"])),
        ("eth_getBlockByNumber", json!([[], false])),
        ("eth_getBlockByHash", json!(["0x1234", false])),
        ("eth_getBlockByHash", json!([HEAD_HASH.trim_start_matches("0x"), false])),
        ("eth_getTransactionByHash", json!([42])),
        ("eth_getTransactionByHash", json!(["0x00"])),
        ("eth_getTransactionReceipt", json!([null])),
        ("eth_getStorageAt", json!([CONTRACT, format!("0x{}", "0".repeat(65)), "latest"])),
        ("eth_getStorageAt", json!([CONTRACT])),
        ("eth_getStorageAt", json!([CONTRACT, "0xnothex", "latest"])),
        ("eth_getStorageValues", json!([{}, "latest"])),
        ("eth_getStorageValues", json!([[], "latest"])),
        ("eth_getProof", json!([CONTRACT, "notalist", "latest"])),
        ("eth_getProof", json!([CONTRACT])),
        ("eth_call", json!(["x", "latest"])),
        ("eth_call", json!([{"to": "0x12"}, "latest"])),
        ("eth_call", json!([{"to": CONTRACT, "gasPrice": "0x1", "maxFeePerGas": "0x1"}, "latest"])),
        ("eth_estimateGas", json!([17])),
        ("eth_getLogs", json!(["filter"])),
        ("eth_getLogs", json!([{"fromBlock": "0x5", "toBlock": "0x1"}])),
        ("eth_getLogs", json!([{"fromBlock": "0x30", "toBlock": "0x99"}])),
        ("eth_getLogs", json!([{"address": "0x12"}])),
        ("eth_getLogs", json!([{"blockHash": format!("0x{}", "ab".repeat(32))}])),
        ("eth_feeHistory", json!(["0x2", "latest", [90, 10]])),
        ("eth_feeHistory", json!(["0x2", "latest", [101]])),
        ("eth_newFilter", json!([7])),
        ("eth_getFilterChanges", json!(["0x99999"])),
        ("eth_getFilterLogs", json!(["0x99999"])),
        ("eth_uninstallFilter", json!(["notanid"])),
        ("web3_sha3", json!(["0xzz"])),
        ("web3_sha3", json!([])),
        (
            "debug_getRawTransaction",
            json!(["1000000000000000000000000000000000000000000000000000000000000001"]),
        ),
        ("debug_getRawHeader", json!(["oops"])),
        ("eth_chainId", json!(["unexpected"])),
        ("eth_subscribe", json!(["newHeads"])),
    ];
    for (method, params) in &invalid_params {
        let response = call(addr, method, params.clone());
        let code = error_code(&response);
        // eth_subscribe over HTTP is refused by the server (no connection to notify on).
        assert!(
            code == Some(-32602) || (*method == "eth_subscribe" && code.is_some()),
            "{method} {params}: {response}"
        );
        checked += 1;
    }

    // Unknown blocks: state methods fail with "header not found", block getters return null.
    for tag in ["0x37", "0xffff", "0xffffffffffffffff"] {
        for method in ["eth_getBalance", "eth_getCode", "eth_getTransactionCount"] {
            let response = call(addr, method, json!([CONTRACT, tag]));
            assert_eq!(error_code(&response), Some(-32000), "{method} {tag}: {response}");
            checked += 1;
        }
        let response = call(addr, "eth_call", json!([{"to": CONTRACT}, tag]));
        assert_eq!(error_code(&response), Some(-32000), "eth_call {tag}: {response}");
        let response = call(addr, "eth_getBlockByNumber", json!([tag, false]));
        assert_eq!(response["result"], Value::Null, "{tag}: {response}");
        checked += 2;
    }
    let unknown_hash = format!("0x{}", "11".repeat(32));
    for method in ["eth_getBalance", "eth_getStorageAt"] {
        let params = if method == "eth_getStorageAt" {
            json!([CONTRACT, "0x0", {"blockHash": unknown_hash}])
        } else {
            json!([CONTRACT, unknown_hash])
        };
        let response = call(addr, method, params);
        assert_eq!(error_code(&response), Some(-32000), "{method}: {response}");
        checked += 1;
    }

    // Limits: a log range beyond the limit, too many logs, an oversized batch and body.
    let response = call(addr, "eth_getLogs", json!([{"fromBlock": "0x0", "toBlock": "0x36"}]));
    assert_eq!(error_code(&response), Some(-32005), "{response}");
    let response = call(addr, "eth_getLogs", json!([{"fromBlock": "0x1", "toBlock": "0x5"}]));
    assert_eq!(error_code(&response), Some(-32005), "{response}");
    checked += 2;
    let batch: Vec<Value> = (0..21)
        .map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "eth_chainId", "params": []}))
        .collect();
    let (_, body) = post(addr, Value::Array(batch).to_string().as_bytes());
    let response: Value = serde_json::from_str(&body).unwrap();
    assert!(response["error"].is_object(), "an oversized batch is refused: {body}");
    let (_, body) = post(addr, b"[]");
    let response: Value = serde_json::from_str(&body).unwrap();
    assert!(response["error"].is_object(), "an empty batch is refused: {body}");
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"web3_sha3\",\"params\":[\"0x{}\"]}}",
        "ab".repeat(100_000)
    );
    let (status, _) = post(addr, huge.as_bytes());
    assert_eq!(status, 413, "an oversized body is refused");
    checked += 3;

    // A call that loops until its 50M gas are spent takes longer than the 200 ms allowed.
    let looping = json!({CONTRACT: {"code": "0x5b600056"}});
    let started = std::time::Instant::now();
    let response =
        call(addr, "eth_call", json!([{"to": CONTRACT, "gas": "0x2faf080"}, "latest", looping]));
    assert_eq!(error_code(&response), Some(-32000), "{response}");
    assert!(response["error"]["message"].as_str().unwrap().contains("timeout"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(5), "answered on time");
    checked += 1;

    assert!(checked >= 100, "only {checked} bad requests");
    // The server still answers, and correctly.
    let response = call(addr, "eth_blockNumber", json!([]));
    assert_eq!(response["result"], "0x36");
    let response = call(addr, "eth_getBlockByHash", json!([HEAD_HASH, false]));
    assert_eq!(response["result"]["hash"], HEAD_HASH);
}
