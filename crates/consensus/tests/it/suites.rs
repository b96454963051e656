//! Every block of every blockchain test in the fixture suites.
//!
//! Reads the unpacked suites from `$BALNODE_FIXTURES/blockchain-tests` (`make conformance` unpacks them from
//! `../shared/fixtures` and runs this); `make test` stays self-contained with the samples in `testdata/`.

use std::path::PathBuf;

use balnode_import::fixture::{fixture_files, load_file};

use crate::fixture::{Outcome, check_case};

fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("BALNODE_FIXTURES")
        .expect("BALNODE_FIXTURES must name the unpacked fixtures (make conformance sets it)");
    PathBuf::from(dir)
}

/// Every valid block passes every consensus rule; every invalid block the rules refuse is refused for a reason
/// the test names.
#[test]
#[ignore = "needs the unpacked fixture suites: `make conformance` runs it"]
fn every_blockchain_test_block() {
    let root = fixtures_dir().join("blockchain-tests");
    let files = fixture_files(&root).unwrap_or_else(|error| panic!("{error}"));
    assert!(!files.is_empty(), "no blockchain tests under {}", root.display());
    let mut outcome = Outcome::default();
    for file in &files {
        let cases = load_file(file).unwrap_or_else(|error| panic!("{error}"));
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
