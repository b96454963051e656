//! The fixture chains and every blockchain test of the three bundles.
//!
//! These read the unpacked suites from `$BALNODE_FIXTURES` (`make conformance` unpacks them from
//! `../shared/fixtures` and runs these tests); `make test` stays self-contained with the samples in `testdata/`.

use std::{fs, path::PathBuf};

use balnode_import::{
    file::BlockFileReader,
    fixture::{fixture_files, load_file},
};

use crate::{file::check_chain, fixture::check_test};

fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("BALNODE_FIXTURES")
        .expect("BALNODE_FIXTURES must name the unpacked fixtures (make conformance sets it)");
    PathBuf::from(dir)
}

#[test]
#[ignore = "needs the unpacked fixture suites: `make conformance` runs it"]
fn fixture_chains_decode_and_reencode() {
    let root = fixtures_dir().join("chains");
    for (chain, count) in [("rpc-compat", 54), ("hive-sync", 3000), ("geth-ethtest", 600)] {
        let path = root.join(chain).join("chain.rlp");
        let raw = fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let records = BlockFileReader::open(&path)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|error| panic!("{error}"));
        check_chain(&records, &raw, count);
        let transactions: usize = records.iter().map(|r| r.block.body.transactions.len()).sum();
        println!(
            "{chain}: {} blocks, {transactions} transactions, {} bytes",
            records.len(),
            raw.len()
        );
    }
}

#[test]
#[ignore = "needs the unpacked fixture suites: `make conformance` runs it"]
fn every_blockchain_test_loads_and_its_blocks_decode() {
    let root = fixtures_dir().join("blockchain-tests");
    let mut bundles: Vec<_> = fs::read_dir(&root)
        .unwrap_or_else(|error| panic!("{}: {error}", root.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    bundles.sort();
    assert_eq!(bundles.len(), 3, "expected three bundles under {}", root.display());

    let (mut passed, mut failed) = (0usize, Vec::new());
    let (mut valid, mut invalid, mut undecodable, mut bals, mut amsterdam_valid) = (0, 0, 0, 0, 0);
    for bundle in &bundles {
        let files = fixture_files(bundle).unwrap();
        let mut tests_in_bundle = 0;
        for file in &files {
            let tests = load_file(file).unwrap_or_else(|error| panic!("{error}"));
            for (name, test) in tests {
                tests_in_bundle += 1;
                match check_test(&test) {
                    Ok(checked) => {
                        passed += 1;
                        valid += checked.valid_blocks;
                        invalid += checked.invalid_blocks;
                        undecodable += checked.invalid_undecodable;
                        bals += checked.bal_matched;
                        if test.network == "Amsterdam" {
                            amsterdam_valid += checked.valid_blocks;
                        }
                    }
                    Err(error) => failed.push(format!("{} :: {name}: {error}", file.display())),
                }
            }
        }
        println!("{}: {} files, {tests_in_bundle} tests", bundle.display(), files.len());
    }
    for failure in &failed {
        eprintln!("FAIL {failure}");
    }
    println!(
        "valid blocks decoded to their headers: {valid}; invalid blocks: {invalid} ({undecodable} of them \
         not a block record)"
    );
    println!(
        "block access lists: {bals} of {amsterdam_valid} valid Amsterdam blocks hash to their header"
    );
    println!("{passed} passed, {} failed", failed.len());
    assert!(failed.is_empty(), "{} of {} tests failed", failed.len(), passed + failed.len());
    assert_eq!(bals, amsterdam_valid);
}

#[test]
#[ignore = "needs the unpacked fixture suites: `make conformance` runs it"]
fn fixture_chains_import_to_their_head_and_state() {
    let root = fixtures_dir().join("chains");
    for chain in ["rpc-compat", "hive-sync", "geth-ethtest"] {
        crate::chains::check_chain_folder(&root.join(chain));
    }
}
