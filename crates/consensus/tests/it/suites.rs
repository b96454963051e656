//! Every block of every blockchain test in the fixture suites.
//!
//! Reads the unpacked suites from `$BALNODE_FIXTURES/blockchain-tests` (`make conformance` unpacks them from
//! `../shared/fixtures` and runs this); `make test` stays self-contained with the samples in `testdata/`.

use std::path::{Path, PathBuf};

use crate::fixture::{Outcome, cases_of, check_case};

fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("BALNODE_FIXTURES")
        .expect("BALNODE_FIXTURES must name the unpacked fixtures (make conformance sets it)");
    PathBuf::from(dir)
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
}

/// Every valid block passes every consensus rule; every invalid block the rules refuse is refused for a reason
/// the test names.
#[test]
#[ignore = "needs the unpacked fixture suites: `make conformance` runs it"]
fn every_blockchain_test_block() {
    let root = fixtures_dir().join("blockchain-tests");
    let mut files = Vec::new();
    json_files(&root, &mut files);
    assert!(!files.is_empty(), "no blockchain tests under {}", root.display());
    let mut outcome = Outcome::default();
    for file in &files {
        let json = std::fs::read_to_string(file).unwrap();
        let cases = cases_of(&json).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        let source = file.strip_prefix(&root).unwrap_or(file).display().to_string();
        for (name, case) in &cases {
            outcome.merge(check_case(&source, name, case));
        }
    }
    for failure in &outcome.failed {
        println!("FAILED {failure}");
    }
    for refusal in &outcome.refused_otherwise {
        println!("MISNAMED {refusal}");
    }
    println!(
        "invalid blocks: {} refused as the test expects, {} refused for another reason, {} refused for the \
         transactions root of a legacy filler, {} left to execution, {} not checkable (undecodable RLP or \
         unknown parent)",
        outcome.refused_as_expected,
        outcome.refused_otherwise.len(),
        outcome.refused_by_filler_transactions_root,
        outcome.left_to_execution,
        outcome.not_checkable
    );
    println!("consensus: {} passed, {} failed", outcome.passed, outcome.failed.len());
    assert!(outcome.failed.is_empty(), "{} valid blocks failed", outcome.failed.len());
    assert!(
        outcome.refused_otherwise.is_empty(),
        "{} invalid blocks refused for another reason",
        outcome.refused_otherwise.len()
    );
}
