//! Consensus rules of balnode: header and body validation per fork, from Frontier to Amsterdam.
//!
//! Every check here is a pure function of a [`ChainSpec`](balnode_chainspec::ChainSpec) and the headers,
//! bodies or execution outcome it is given: no state, no store, no clock, no I/O. The import pipeline calls them
//! in the order a block is imported (header on its own, header against its parent, body, ommers against the
//! chain, then execution and the post-execution checks), and the blockchain-test runner maps their errors to the
//! test suites' exception names with [`ConsensusError::exception_names`].
//!
//! What is deliberately not here: the proof-of-work seal (the suites seal with a fake ethash, and pre-merge
//! history is imported, not mined), a timestamp's distance from the wall clock, the terminal total difficulty
//! (it needs the chain's total difficulty), the state root, and the transaction rules that need state or the
//! EVM's gas accounting (the executor's). Block rewards are applied by the executor; [`block_reward`] documents
//! them.
//!
//! Good starting points:
//! - [`validate_header_standalone`] and [`validate_header_against_parent`]: the header rules, with
//!   [`calc_difficulty`], [`expected_base_fee`] and [`expected_excess_blob_gas`] for the derived fields.
//! - [`validate_body`]: roots, ommers count, withdrawals, transaction types and blobs, block size.
//! - [`validate_ommers`] and [`AncestorHeaders`]: ommer ancestry against the chain.
//! - [`validate_post_execution`]: gas used, receipts root, logs bloom, requests hash.
//! - [`ConsensusError`]: every rule as a variant, and its exception names.
//!
//! ## Feature Flags
//! None.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod body;
mod constants;
mod difficulty;
mod error;
mod header;
mod ommers;
mod post_execution;
mod reward;
#[cfg(test)]
mod test_utils;

pub use body::validate_body;
pub use constants::*;
pub use difficulty::{bomb_delay, calc_difficulty};
pub use error::ConsensusError;
pub use header::{
    expected_base_fee, expected_excess_blob_gas, is_proof_of_stake, validate_header_against_parent,
    validate_header_standalone,
};
pub use ommers::{AncestorHeaders, validate_ommers};
pub use post_execution::validate_post_execution;
pub use reward::{block_reward, ommer_inclusion_reward, ommer_reward};
