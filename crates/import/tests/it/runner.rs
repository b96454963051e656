//! The blockchain-test runner on the sample fixtures in `testdata/fixtures/`, and the rpc-compat chain with
//! its state dump (both self-contained, for `make test`).

use balnode_import::{
    Execution,
    runner::{KnownFailures, Report, Tally, run_file},
};

use crate::testdata;

#[test]
fn sample_fixtures_pass_except_the_amsterdam_ones() {
    let mut total = Tally::default();
    let mut failures = Vec::new();
    for name in
        ["eest-cancun-blobbasefee-before-fork.json", "ethereum-tests-withdrawals-amount-is-0.json"]
    {
        let path = testdata().join("fixtures").join(name);
        total += run_file(
            &path,
            None,
            &KnownFailures::default(),
            &Execution::default(),
            |test, report| {
                failures.push(format!("{test}: {report:?}"));
            },
        )
        .unwrap();
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(total.passed > 0 && total.failed == 0, "{total}");
}

#[test]
fn the_rpc_compat_chain_imports_to_its_head_and_state_dump() {
    crate::chains::check_chain_folder(&testdata().join("chains/rpc-compat"));
}

#[test]
fn a_listed_failure_that_passes_is_reported() {
    let path = testdata().join("fixtures/eest-cancun-blobbasefee-before-fork.json");
    let known = KnownFailures::parse("# Pretend it fails.\nblobbasefee\n").unwrap();
    let mut unexpected = 0;
    let tally = run_file(&path, None, &known, &Execution::default(), |_, report| {
        assert!(matches!(report, Report::UnexpectedPass("Pretend it fails.")));
        unexpected += 1;
    })
    .unwrap();
    assert_eq!((tally.passed, tally.failed), (0, unexpected));
}
