//! `eth_subscribe` over WebSocket: a node serving a datadir sees blocks that another `balnode import` process
//! commits, and notifies `newHeads` and `logs` subscribers of each.

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

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

/// A minimal WebSocket client (RFC 6455): text frames, masked as a client must.
struct WebSocket {
    stream: TcpStream,
    /// Notifications read while waiting for a response.
    pending: std::collections::VecDeque<Value>,
}

impl WebSocket {
    fn connect(addr: SocketAddr) -> Self {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            stream,
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        Self { stream, pending: Default::default() }
    }

    fn send(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut frame = vec![0x81];
        match payload.len() {
            len if len < 126 => frame.push(0x80 | len as u8),
            len if len < 65_536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(index, byte)| byte ^ mask[index % 4]));
        self.stream.write_all(&frame).unwrap();
    }

    /// The next message: a notification read earlier, or the next text frame.
    fn receive(&mut self) -> Value {
        self.pending.pop_front().unwrap_or_else(|| self.read_message())
    }

    /// The next text message from the socket (pings and other control frames are skipped).
    fn read_message(&mut self) -> Value {
        loop {
            let mut header = [0u8; 2];
            self.stream.read_exact(&mut header).unwrap();
            let opcode = header[0] & 0x0f;
            let mut len = u64::from(header[1] & 0x7f);
            if len == 126 {
                let mut bytes = [0u8; 2];
                self.stream.read_exact(&mut bytes).unwrap();
                len = u64::from(u16::from_be_bytes(bytes));
            } else if len == 127 {
                let mut bytes = [0u8; 8];
                self.stream.read_exact(&mut bytes).unwrap();
                len = u64::from_be_bytes(bytes);
            }
            let mut payload = vec![0u8; len as usize];
            self.stream.read_exact(&mut payload).unwrap();
            if opcode == 0x1 {
                return serde_json::from_slice(&payload).unwrap();
            }
            assert_ne!(opcode, 0x8, "the server closed the connection");
        }
    }

    fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        loop {
            let message = self.read_message();
            if message["id"] == json!(id) {
                return message;
            }
            self.pending.push_back(message);
        }
    }
}

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn subscriptions_see_blocks_committed_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = repo(GENESIS);
    // Split the chain in two files: blocks 1..=50 and 51..=54.
    let full = dir.path().join("full").display().to_string();
    let (ok, _, stderr) = balnode(&["init", "--chain", &genesis, "--datadir", &full]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) =
        balnode(&["import", "--chain", &genesis, "--datadir", &full, &repo(CHAIN)]);
    assert!(ok, "{stderr}");
    let first = dir.path().join("first.rlp").display().to_string();
    let second = dir.path().join("second.rlp").display().to_string();
    let (ok, _, stderr) = balnode(&["export", "--datadir", &full, "--to", "50", &first]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = balnode(&["export", "--datadir", &full, "--from", "51", &second]);
    assert!(ok, "{stderr}");

    let datadir = dir.path().join("node").display().to_string();
    let (ok, _, stderr) = balnode(&["init", "--chain", &genesis, "--datadir", &datadir]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = balnode(&["import", "--chain", &genesis, "--datadir", &datadir, &first]);
    assert!(ok, "{stderr}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_balnode"))
        .args(["node", "--datadir", &datadir, "--chain", &genesis, "--http.port", "0"])
        .args(["--authrpc.port", "0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("balnode starts");
    let stdout = child.stdout.take().unwrap();
    let node = Node(child);
    let mut lines = BufReader::new(stdout).lines();
    let addr: SocketAddr = loop {
        let line = lines.next().expect("the node prints its RPC URL").unwrap();
        if let Some(rest) = line.strip_prefix("JSON-RPC on http://") {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };

    let mut heads = WebSocket::connect(addr);
    let head = heads.request(1, "eth_blockNumber", json!([]));
    assert_eq!(head["result"], "0x32");
    let subscribed = heads.request(2, "eth_subscribe", json!(["newHeads"]));
    let heads_id = subscribed["result"].as_str().expect("a subscription id").to_owned();
    let mut logs = WebSocket::connect(addr);
    let subscribed = logs.request(1, "eth_subscribe", json!(["logs", {}]));
    let logs_id =
        subscribed["result"].as_str().unwrap_or_else(|| panic!("{subscribed}")).to_owned();
    let refused = logs.request(2, "eth_subscribe", json!(["newPendingThings"]));
    assert_eq!(refused["error"]["code"], -32602, "{refused}");

    // The filter API, polled over HTTP-like requests on a third connection.
    let mut polls = WebSocket::connect(addr);
    let block_filter = polls.request(1, "eth_newBlockFilter", json!([]))["result"].clone();
    let log_filter = polls.request(2, "eth_newFilter", json!([{}]))["result"].clone();
    let nothing_yet = polls.request(3, "eth_getFilterChanges", json!([block_filter]));
    assert_eq!(nothing_yet["result"], json!([]), "{nothing_yet}");

    let (ok, _, stderr) = balnode(&["import", "--chain", &genesis, "--datadir", &datadir, &second]);
    assert!(ok, "{stderr}");

    for number in 51u64..=54 {
        let notification = heads.receive();
        assert_eq!(notification["method"], "eth_subscription");
        assert_eq!(notification["params"]["subscription"], heads_id);
        let header = &notification["params"]["result"];
        assert_eq!(header["number"], format!("{number:#x}"), "{notification}");
        let expected = heads.request(
            10 + number,
            "eth_getBlockByNumber",
            json!([format!("{number:#x}"), false]),
        );
        assert_eq!(header["hash"], expected["result"]["hash"]);
    }
    let expected =
        logs.request(3, "eth_getLogs", json!([{"fromBlock": "0x33", "toBlock": "0x36"}]));
    let expected = expected["result"].as_array().unwrap().clone();
    assert!(!expected.is_empty(), "blocks 51..=54 have logs");
    let mut received = Vec::new();
    while received.len() < expected.len() {
        let notification = logs.receive();
        assert_eq!(notification["params"]["subscription"], logs_id);
        received.push(notification["params"]["result"].clone());
    }
    assert_eq!(received, expected);
    let hashes = polls.request(4, "eth_getFilterChanges", json!([block_filter]));
    let hashes = hashes["result"].as_array().unwrap().clone();
    assert_eq!(hashes.len(), 4, "blocks 51..=54");
    let last = polls.request(5, "eth_getBlockByNumber", json!(["0x36", false]));
    assert_eq!(hashes[3], last["result"]["hash"]);
    let again = polls.request(6, "eth_getFilterChanges", json!([block_filter]));
    assert_eq!(again["result"], json!([]), "a poll reports only what is new");
    let filtered = polls.request(7, "eth_getFilterChanges", json!([log_filter]));
    assert_eq!(
        filtered["result"].as_array().unwrap(),
        &expected,
        "the log filter sees the new blocks' logs"
    );
    let removed = polls.request(8, "eth_uninstallFilter", json!([log_filter]));
    assert_eq!(removed["result"], true);
    let gone = polls.request(9, "eth_getFilterChanges", json!([log_filter]));
    assert_eq!(gone["error"]["code"], -32602, "{gone}");

    let unsubscribed = heads.request(99, "eth_unsubscribe", json!([heads_id]));
    assert_eq!(unsubscribed["result"], true, "{unsubscribed}");
    drop(node);
}
