//! The genesis of every blockchain test in the fixture bundles, and of every fixture chain.
//!
//! These read the unpacked suites from `$BALNODE_FIXTURES` (`make conformance` unpacks them from
//! `../shared/fixtures` and runs these tests); `make test` stays self-contained with the samples in `testdata/`.

use std::path::{Path, PathBuf};

use crate::fixture::cases_of;

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

#[test]
#[ignore = "needs the unpacked fixture suites: `make conformance` runs it"]
fn every_blockchain_test_genesis() {
    let root = fixtures_dir().join("blockchain-tests");
    let mut files = Vec::new();
    json_files(&root, &mut files);
    assert!(!files.is_empty(), "no blockchain tests under {}", root.display());
    let (mut passed, mut failed) = (0usize, Vec::new());
    for file in &files {
        let json = std::fs::read_to_string(file).unwrap();
        let cases = cases_of(&json).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        for (name, case) in cases {
            let got = case.chain_spec().genesis_hash();
            if got == case.expected_hash() {
                passed += 1;
            } else {
                failed.push(format!(
                    "{} :: {name}: got {got}, want {}",
                    file.display(),
                    case.expected_hash()
                ));
            }
        }
    }
    for failure in &failed {
        eprintln!("FAIL {failure}");
    }
    println!("genesis: {passed} passed, {} failed", failed.len());
    assert!(
        failed.is_empty(),
        "{} of {} genesis headers differ",
        failed.len(),
        passed + failed.len()
    );
}

#[test]
#[ignore = "needs the unpacked fixture suites: `make conformance` runs it"]
fn every_fixture_chain_starts_from_its_genesis() {
    let root = fixtures_dir().join("chains");
    let mut chains: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|error| panic!("{}: {error}", root.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("genesis.json").is_file())
        .collect();
    chains.sort();
    assert!(!chains.is_empty(), "no chains under {}", root.display());
    for chain in chains {
        let genesis = balnode_chainspec::read_genesis(&chain.join("genesis.json")).unwrap();
        let spec = balnode_chainspec::ChainSpec::from_genesis(genesis).unwrap();
        let rlp = std::fs::read(chain.join("chain.rlp")).unwrap();
        assert_eq!(
            spec.genesis_hash(),
            crate::genesis::parent_of_first_block(&rlp),
            "{}",
            chain.display()
        );
    }
}
