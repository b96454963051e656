//! Integration tests of the consensus rules against blockchain-test fixtures.

mod fixture;
mod samples;
mod suites;
