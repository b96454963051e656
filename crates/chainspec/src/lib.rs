//! Chain specifications for balnode: which rules apply to a block, and what the chain starts from.
//!
//! A [`ChainSpec`] is built from a geth-format `genesis.json` (every `*Block` and `*Time` key through
//! `amsterdamTime` and `bpo1Time`..`bpo5Time`, `terminalTotalDifficulty`, `depositContractAddress`,
//! `blobSchedule`, and `alloc` with code and storage), from a built-in name (`mainnet`, `dev`), or from the
//! network name of a test suite. It answers which fork is active at a (number, timestamp), maps that to revm's
//! [`SpecId`] and to the header fields the fork requires, and builds the
//! genesis header with its state root (computed with alloy-trie).
//!
//! Good starting points:
//! - [`ChainSpec::from_genesis`] and [`parse_genesis`]: from a file to a spec, with errors naming the field.
//! - [`ChainSpec::fork_at`], [`ChainSpec::spec_id_at`], [`ChainSpec::header_fields_at`]: the rules of a block.
//! - [`ChainSpec::genesis_header`] and [`ChainSpec::genesis_state`]: what `balnode init` writes.
//! - [`mainnet`], [`dev`], [`dev_accounts`]: the built-in chains.
//!
//! ## Feature Flags
//! None.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod amsterdam;
mod builtin;
mod error;
mod genesis;
mod hardfork;
mod spec;
mod test_network;

pub use alloy_eips::eip7840::BlobParams;
pub use alloy_genesis::{ChainConfig, Genesis, GenesisAccount};
pub use amsterdam::AmsterdamProfile;
pub use builtin::{
    DEV_ACCOUNT_BALANCE, DEV_ACCOUNT_COUNT, DEV_CHAIN_ID, DEV_GAS_LIMIT, DEV_MNEMONIC, DevAccount,
    chain_by_name_or_path, dev, dev_accounts, mainnet,
};
pub use error::ChainSpecError;
pub use genesis::{parse_genesis, read_genesis};
pub use hardfork::{BLOB_FORKS, ForkCondition, Hardfork, HardforkExt, parse_fork_name};
pub use revm_primitives::hardfork::SpecId;
pub use spec::{ChainSpec, EMPTY_BLOCK_ACCESS_LIST_HASH, HeaderFields, genesis_state_root};
