//! `balnode bal generate` and `balnode bal inspect` on the rpc-compat chain.

use std::path::{Path, PathBuf};

use crate::balnode;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn genesis() -> String {
    repo("crates/import/testdata/chains/rpc-compat/genesis.json").display().to_string()
}

fn init(dir: &Path, name: &str) -> String {
    let datadir = dir.join(name).display().to_string();
    let (ok, _, stderr) = balnode(&["init", "--chain", &genesis(), "--datadir", &datadir]);
    assert!(ok, "{stderr}");
    datadir
}

#[test]
fn generate_then_inspect_then_import_again() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bal.rlp").display().to_string();
    let chain = repo("crates/import/testdata/chains/rpc-compat/chain.rlp").display().to_string();
    let first = init(dir.path(), "a");
    let (ok, stdout, stderr) = balnode(&[
        "bal",
        "generate",
        "--datadir",
        &first,
        "--chain",
        &genesis(),
        &chain,
        "--out",
        &out,
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("blocks 1..=54"), "{stdout}");

    let (ok, stdout, stderr) = balnode(&["bal", "inspect", &out, "--json", "--top", "1"]);
    assert!(ok, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["summary"]["blocks"], 54);
    assert!(json["summary"]["max_rlp_kib"].as_f64().unwrap() > 0.0);
    assert_eq!(json["blocks"][0]["largest"].as_array().unwrap().len(), 1);
    let (ok, stdout, _) = balnode(&["bal", "inspect", &out]);
    assert!(ok && stdout.contains("54 blocks: RLP mean"), "{stdout}");

    // The export imports again, every list checked against execution's; the store keeps them.
    let second = init(dir.path(), "b");
    let (ok, stdout, stderr) =
        balnode(&["import", "--chain", &genesis(), "--datadir", &second, &out]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("head 54 "), "{stdout}");
    let (ok, stdout, stderr) = balnode(&["bal", "inspect", "--datadir", &second, "--block", "54"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("1 blocks"), "{stdout}");

    // A datadir that already holds the blocks has nothing to generate.
    let (ok, _, stderr) = balnode(&[
        "bal",
        "generate",
        "--datadir",
        &second,
        "--chain",
        &genesis(),
        &chain,
        "--out",
        &out,
    ]);
    assert!(!ok && stderr.contains("no block was imported"), "{stderr}");
}
