//! Crash safety of the dev node: `balnode node --dev` producing blocks is killed with SIGKILL at random
//! moments; after each kill `balnode db check` passes and every block the node reported produced (its
//! `Produced block` log line comes after the block's commit) is still canonical, and the next start goes on
//! from there.
//!
//! `make test` kills it 3 times; `make soak` and `make conformance` 20 times (`BALNODE_CRASH_KILLS`).

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use balnode_primitives::B256;
use balnode_storage_api::{BlockHashReader, ChainInfoReader};
use balnode_storage_mdbx::DatabaseEnv;

use crate::balnode;

/// The number and hash of a `Produced block number=N hash=H ...` log line.
fn produced(line: &str) -> Option<(u64, B256)> {
    let rest = &line[line.find("Produced block")?..];
    let field = |name: &str| {
        rest.split_whitespace().find_map(|token| token.strip_prefix(name)).map(str::to_owned)
    };
    Some((field("number=")?.parse().ok()?, field("hash=")?.parse().ok()?))
}

/// Starts the dev node on `datadir`, waits for `blocks` produced blocks and `delay` more, kills it; what it
/// reported produced.
fn run_and_kill(datadir: &str, blocks: u64, delay: Duration) -> Vec<(u64, B256)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_balnode"))
        .args(["node", "--dev", "--datadir", datadir, "--http.port", "0", "--authrpc.port", "0"])
        .args(["--dev.block-time", "0.05"])
        .env("RUST_LOG", "warn,devnet::chain=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut reported = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(entry) = produced(&line) {
                reported.push(entry);
                let _ = sender.send(entry);
            }
        }
        reported
    });
    for _ in 0..blocks {
        receiver.recv_timeout(Duration::from_secs(60)).expect("the dev node produces blocks");
    }
    std::thread::sleep(delay);
    let _ = child.kill();
    child.wait().unwrap();
    reader.join().unwrap()
}

fn dev_node_survives_kills(kills: u64) {
    let mut seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            as u64
            | 1;
    let mut below = |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("dev").display().to_string();
    let mut head = 0;
    for kill in 0..kills {
        let delay = Duration::from_micros(below(60_000));
        let reported = run_and_kill(&datadir, 1 + below(4), delay);
        let (ok, stdout, stderr) = balnode(&["db", "check", "--datadir", &datadir]);
        assert!(ok, "kill {kill}: db check fails after the kill:\n{stdout}{stderr}");
        let store = DatabaseEnv::open(&datadir).unwrap();
        let info = store.chain_info().unwrap();
        let &(last, _) = reported.last().expect("blocks were reported");
        assert!(
            info.head_number >= last,
            "kill {kill}: block {last} was reported, the head is {}",
            info.head_number
        );
        for (number, hash) in &reported {
            assert_eq!(
                store.block_hash(*number).unwrap(),
                Some(*hash),
                "kill {kill}: block {number}"
            );
        }
        assert!(info.head_number > head, "kill {kill}: the chain did not grow from {head}");
        head = info.head_number;
        eprintln!("kill {kill}: {} blocks reported, head {head} (+{delay:?})", reported.len());
    }
}

#[test]
fn dev_node_survives_three_kills_with_no_reported_block_lost() {
    dev_node_survives_kills(3);
}

#[test]
#[ignore = "long: `make soak` and `make conformance` run it"]
fn dev_node_survives_twenty_kills() {
    let kills = std::env::var("BALNODE_CRASH_KILLS").map_or(20, |kills| kills.parse().unwrap());
    dev_node_survives_kills(kills);
}
