//! The sample blockchain tests in `testdata/blockchain-tests/`: a few valid chains of each fork and transition,
//! copied from the fixture suites (see `testdata/README.md`), so that `make test` checks the rules on real
//! blocks without the unpacked suites.

use std::path::PathBuf;

use balnode_import::fixture::load_file;

use crate::fixture::{Outcome, check_case};

#[test]
fn sample_chains_pass_every_rule() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/blockchain-tests");
    let mut outcome = Outcome::default();
    let mut networks = Vec::new();
    let mut entries: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let cases = load_file(&path).unwrap_or_else(|error| panic!("{error}"));
        for (name, case) in &cases {
            networks.push(case.network.clone());
            outcome.merge(check_case(&path.display().to_string(), name, case));
        }
    }
    assert!(outcome.failed.is_empty(), "{}", outcome.failed.join("\n"));
    for network in [
        "Frontier",
        "Homestead",
        "Byzantium",
        "ConstantinopleFix",
        "Istanbul",
        "Berlin",
        "London",
        "Paris",
        "Shanghai",
        "ShanghaiToCancunAtTime15k",
        "Cancun",
        "CancunToPragueAtTime15k",
        "Prague",
        "PragueToOsakaAtTime15k",
        "Osaka",
        "OsakaToBPO1AtTime15k",
        "BPO1ToBPO2AtTime15k",
        "Amsterdam",
    ] {
        assert!(networks.iter().any(|n| n == network), "no sample of {network}");
    }
    assert!(outcome.passed >= 70, "only {} blocks checked", outcome.passed);
}
