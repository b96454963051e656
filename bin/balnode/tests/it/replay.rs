//! `balnode replay`: bundles (two corpus blocks copied into the replay crate's testdata) and block files on a
//! datadir.

use std::path::{Path, PathBuf};

use crate::balnode;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

#[test]
fn replays_bundles_and_ends_with_the_counts() {
    let bundles = repo("crates/replay/testdata/bundles");
    let (ok, stdout, stderr) = balnode(&["replay", bundles.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("ok   block 46147 "), "{stdout}");
    assert!(stdout.contains("ok   block 9068998 (3 txs, 3575534 gas)"), "{stdout}");
    assert!(
        stdout.lines().last().unwrap().starts_with("2 passed (1 with a field not checkable"),
        "{stdout}"
    );
}

#[test]
fn a_listed_block_that_passes_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("known.txt");
    std::fs::write(&list, "# a reason\nblock 46147\n").unwrap();
    let bundle = repo("crates/replay/testdata/bundles/46147");
    let (ok, stdout, _) =
        balnode(&["replay", "--known-failures", list.to_str().unwrap(), bundle.to_str().unwrap()]);
    assert!(!ok);
    assert!(stdout.contains("passes, but is listed as a known failure (a reason)"), "{stdout}");
}

#[test]
fn bench_prints_the_summary_as_json() {
    let bundle = repo("crates/replay/testdata/bundles/9068998");
    let (ok, stdout, stderr) =
        balnode(&["replay", "--bench", "--json", "--runs", "1", bundle.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let summary = report["summary"].as_array().unwrap();
    // Every mode at its thread counts, warm and cold.
    let rows: Vec<(&str, u64, &str)> = summary
        .iter()
        .map(|row| {
            (
                row["mode"].as_str().unwrap(),
                row["threads"].as_u64().unwrap(),
                row["cache"].as_str().unwrap(),
            )
        })
        .collect();
    for cache in ["warm", "cold"] {
        assert!(rows.contains(&("sequential+list", 1, cache)), "{rows:?}");
        for mode in ["sequential", "bal", "bal+root", "optimistic"] {
            for threads in [1, 2] {
                assert!(
                    rows.contains(&(mode, threads, cache)),
                    "{mode} {threads} {cache}: {rows:?}"
                );
            }
        }
    }
    assert_eq!(summary.len(), 18, "{rows:?}");
    // The same rows on the time to the state root.
    for key in ["summary_best", "summary_to_root", "summary_to_root_best"] {
        assert_eq!(report[key].as_array().unwrap().len(), 18, "{key}");
    }
    for times in report["blocks"][0]["modes"].as_array().unwrap() {
        let to_root = times["to_root_ms"].as_f64().unwrap();
        assert!(to_root >= times["execute_ms"].as_f64().unwrap(), "{times}");
    }
    for row in summary {
        for field in
            ["mode", "threads", "cache", "mgas_per_s", "ratio_to_sequential", "ratio_to_revm"]
        {
            assert!(!row[field].is_null(), "{field} missing in {row}");
        }
    }
    assert_eq!(report["blocks"][0]["gas"], 3_575_534);
    assert!(report["blocks"][0]["critical_path"]["ideal_speedup"].as_f64().unwrap() >= 1.0);
}

#[test]
fn replays_a_block_file_on_a_copy_of_a_datadir() {
    let genesis = repo("crates/import/testdata/chains/rpc-compat/genesis.json");
    let chain = repo("crates/import/testdata/chains/rpc-compat/chain.rlp");
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("node");
    let (ok, _, stderr) = balnode(&[
        "init",
        "--chain",
        genesis.to_str().unwrap(),
        "--datadir",
        datadir.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let before = std::fs::read(datadir.join("db/mdbx.dat")).unwrap();
    let (ok, stdout, stderr) = balnode(&[
        "replay",
        "--datadir",
        datadir.to_str().unwrap(),
        "--chain",
        genesis.to_str().unwrap(),
        chain.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.ends_with("54 passed, 0 failed\n"), "{stdout}");
    assert!(std::fs::read(datadir.join("db/mdbx.dat")).unwrap() == before, "the datadir changed");
}
