//! End-to-end tests of the `balnode` command line, run as a user would run it.

mod bal;
mod crash;
mod crash_dev;
mod db;
mod engine;
mod import;
mod metrics;
mod replay;
mod rpc;
mod rpc_ws;
mod soak;
mod soak_writers;

use std::{path::Path, process::Command};

const MAINNET_GENESIS: &str = "0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3";

/// Runs `balnode` with `args`; returns (success, stdout, stderr).
pub(crate) fn balnode(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_balnode"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("balnode runs");
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn datadir_arg(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

#[test]
fn init_mainnet_prints_the_genesis_hash_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("mainnet");
    for _ in 0..2 {
        let (ok, stdout, stderr) =
            balnode(&["init", "--chain", "mainnet", "--datadir", datadir_arg(&datadir)]);
        assert!(ok, "{stderr}");
        assert_eq!(stdout.trim(), MAINNET_GENESIS);
    }
}

#[test]
fn a_datadir_of_another_chain_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("node");
    let (ok, _, stderr) = balnode(&["init", "--chain", "dev", "--datadir", datadir_arg(&datadir)]);
    assert!(ok, "{stderr}");
    let data_file = datadir.join("db").join("mdbx.dat");
    let before = std::fs::read(&data_file).unwrap();

    let (ok, stdout, stderr) =
        balnode(&["init", "--chain", "mainnet", "--datadir", datadir_arg(&datadir)]);
    assert!(!ok);
    assert!(stdout.is_empty());
    assert!(stderr.contains("was initialised for chain id 1337"), "{stderr}");
    assert!(stderr.contains("not chain id 1 with genesis"), "{stderr}");
    assert!(stderr.contains("use another --datadir or remove it"), "{stderr}");
    assert!(std::fs::read(&data_file).unwrap() == before, "the refused init changed the data file");
}

#[test]
fn a_malformed_genesis_names_the_field_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = dir.path().join("genesis.json");
    std::fs::write(&genesis, r#"{"config":{"chainId":5,"londonBlock":"soon"},"alloc":{}}"#)
        .unwrap();
    let datadir = dir.path().join("node");
    let (ok, _, stderr) = balnode(&[
        "init",
        "--chain",
        genesis.to_str().unwrap(),
        "--datadir",
        datadir_arg(&datadir),
    ]);
    assert!(!ok);
    assert!(stderr.contains("field `config.londonBlock`"), "{stderr}");
    assert!(!datadir.exists());
}

#[test]
fn a_genesis_file_initialises_like_a_built_in_chain() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/chainspec/testdata/chains/rpc-compat/genesis.json");
    let datadir = dir.path().join("node");
    let (ok, stdout, stderr) = balnode(&[
        "init",
        "--chain",
        genesis.to_str().unwrap(),
        "--datadir",
        datadir_arg(&datadir),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.trim().starts_with("0x") && stdout.trim().len() == 66, "{stdout}");
}

#[test]
fn node_dev_prepares_the_datadir_and_prints_the_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("dev");
    // Twice: the second start reuses the datadir. Each run serves until SIGTERM and then exits cleanly.
    for _ in 0..2 {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_balnode"))
            .args(["node", "--dev", "--datadir", datadir_arg(&datadir), "--http.port", "0"])
            .args(["--authrpc.port", "0"])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut printed = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let line = line.unwrap();
            printed.push_str(&line);
            printed.push('\n');
            if line.starts_with("JSON-RPC on http://") {
                break;
            }
        }
        assert!(printed.contains("chain id:  1337"), "{printed}");
        assert!(printed.contains("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"), "{printed}");
        assert!(printed.contains("(chain id 1337)"), "{printed}");
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert!(status.success(), "SIGTERM ends the node cleanly: {status}");
    }
}
