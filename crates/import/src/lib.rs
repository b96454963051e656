//! Block import of balnode: RLP block files, the import pipeline and the blockchain-test runner.
//!
//! Blocks come in two containers: block files as `geth export` writes them (concatenated RLP records, perhaps
//! gzip-compressed, perhaps with each block's EIP-7928 access list), and the blockchain-test JSON of
//! execution-spec-tests and ethereum/tests (a genesis, blocks as RLP, the expected post-state).
//!
//! Good starting points:
//! - [`file::BlockFileReader`]: streams the records of a block file, with errors naming the record and offset.
//! - [`file::BlockFileWriter`]: writes one, plain or gzip.
//! - [`file::decode_record`]: the record decoder, for a block held in memory.
//! - [`fixture::load_file`] and [`fixture::FixtureTest`]: a blockchain-test file, its genesis and chain spec.
//! - [`Importer::import`]: one block through every check and into the store, or nothing written.
//! - [`init_genesis`]: the first block, written through the same writer.
//! - [`import_files`] and [`export_blocks`]: block files in and out of a store.
//! - [`runner::run_test`]: a blockchain test in a fresh store, through the import path.
//! - [`generate_bals`] and [`inspect_file`]: block files in BAL form, and their statistics.
//!
//! ## Feature Flags
//! None.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod bal_check;
mod bal_files;
pub mod file;
mod files;
pub mod fixture;
mod genesis;
mod metrics;
mod pipeline;
pub mod runner;

pub use bal_check::BalCheckError;
pub use bal_files::{
    BalFileError, BlockBalStats, GenerateSummary, generate_bals, inspect_file, inspect_stored,
};
pub use balnode_executor::ExecMode;
pub use files::{ExportError, FileImportError, ImportSummary, export_blocks, import_files};
pub use genesis::{GenesisOutcome, genesis_to_commit, init_genesis};
pub use pipeline::{ExecCounters, Execution, ImportError, Imported, Importer};
