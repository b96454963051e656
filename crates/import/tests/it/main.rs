//! Integration tests of balnode-import: block files and blockchain-test fixtures.

mod bal;
mod chains;
mod file;
mod fixture;
mod runner;
mod suites;

use std::path::PathBuf;

/// The crate's `testdata/` directory.
pub(crate) fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}
