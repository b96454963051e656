//! A bounded soak on loopback: JSON-RPC load from many keep-alive connections while the node imports a chain
//! through the Engine API. No request may fail, and the node's memory must stay bounded.
//!
//! `make soak` runs it for 10 minutes over all of hive-sync (`BALNODE_SOAK_SECONDS`, `BALNODE_FIXTURES`);
//! `make conformance` runs a 30-second version.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use balnode_import::file::BlockFileReader;
use balnode_primitives::Block;
use balnode_rpc::bench::run_load;
use serde_json::{Value, json};

use crate::engine::Node;

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn soak(dir: &Path, seconds: u64, connections: usize) {
    let genesis = dir.join("genesis.json");
    let blocks: Vec<Block> = BlockFileReader::open(dir.join("chain.rlp"))
        .unwrap()
        .map(|record| record.unwrap().block)
        .collect();
    let node = Arc::new(Node::start(genesis.to_str().unwrap(), None));
    let duration = Duration::from_secs(seconds);
    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));

    // The import: the chain's blocks spread over the soak, each through newPayload and forkchoiceUpdated.
    let importer = {
        let node = node.clone();
        let spacing = duration.mul_f64(0.9) / blocks.len() as u32;
        thread::spawn(move || {
            for (index, block) in blocks.iter().enumerate() {
                if let Some(wait) = (spacing * index as u32).checked_sub(started.elapsed()) {
                    thread::sleep(wait);
                }
                let status = node.new_payload(block);
                assert_eq!(status["status"], "VALID", "block {}: {status}", block.header.number);
                let updated = node.forkchoice(block.header.hash_slow(), Value::Null);
                assert_eq!(updated["payloadStatus"]["status"], "VALID", "{updated}");
            }
            blocks.len() as u64
        })
    };

    // Memory: sampled every second; the peak, and the level after a quarter of the run.
    let peak = Arc::new(AtomicU64::new(0));
    let quarter = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, peak, quarter) = (done.clone(), peak.clone(), quarter.clone());
        let pid = node.child.id();
        thread::spawn(move || {
            let mut last = 0;
            while !done.load(Ordering::Relaxed) {
                last = rss_kib(pid);
                peak.fetch_max(last, Ordering::Relaxed);
                if started.elapsed() >= duration / 4 && quarter.load(Ordering::Relaxed) == 0 {
                    quarter.store(last, Ordering::Relaxed);
                }
                thread::sleep(Duration::from_secs(1));
            }
            last
        })
    };

    let account = "0x7435ed30a8b4aeb0877cef0c6e8cffe834eb865f";
    let bodies: Vec<String> = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": [account, "latest"]}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", true]}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount", "params": [account, "pending"]}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_feeHistory", "params": ["0x10", "latest", [50]]}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"to": account, "data": "0x"}, "latest"]}),
    ]
    .iter()
    .map(Value::to_string)
    .collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let report = runtime.block_on(run_load(node.rpc, connections, duration, &bodies)).unwrap();
    let imported = importer.join().expect("the import went through");
    done.store(true, Ordering::Relaxed);
    let end = sampler.join().unwrap();
    let (peak, quarter) = (peak.load(Ordering::Relaxed), quarter.load(Ordering::Relaxed));
    println!(
        "soak: {seconds} s, {connections} connections, {imported} blocks imported meanwhile: {report}; \
         RSS peak {} MiB, after a quarter {} MiB, at the end {} MiB",
        peak / 1024,
        quarter / 1024,
        end / 1024
    );
    assert_eq!(report.errors, 0, "{report}");
    assert!(report.ok > 0);
    assert_eq!(node.rpc("eth_blockNumber", json!([])), json!(format!("{imported:#x}")));
    // Bounded: what the node holds after a quarter of the run may grow with the chain's state, not double.
    assert!(end <= quarter.max(1) * 2, "RSS grew from {quarter} KiB to {end} KiB");
}

/// The fixture chain `name`.
fn fixture_chain(name: &str) -> std::path::PathBuf {
    let fixtures = std::env::var("BALNODE_FIXTURES").expect("BALNODE_FIXTURES");
    Path::new(&fixtures).join("chains").join(name)
}

#[test]
#[ignore = "needs the unpacked fixture suites: BALNODE_FIXTURES=DIR (make conformance, make soak)"]
fn soak_rpc_load_while_importing() {
    let seconds = std::env::var("BALNODE_SOAK_SECONDS").map_or(30, |text| text.parse().unwrap());
    soak(&fixture_chain("hive-sync"), seconds, 64);
}
