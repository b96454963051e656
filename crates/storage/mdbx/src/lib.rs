//! The MDBX store of balnode: typed tables with compact, versioned encodings, block commits with per-block
//! change sets, state views at the head or after any stored block, and unwinds.
//!
//! State is kept "plain" (by address) for the head. Each committed block records the values it overwrote in
//! change sets and adds an entry per changed account and slot to history indexes, so the state after block `n`
//! is one history seek plus one change-set lookup away, and an unwind puts the recorded values back.
//!
//! The head's state is also kept by hash (`HashedAccounts`, `HashedStorages`) beside the branch nodes of the
//! Merkle tries (`AccountsTrie`, `StoragesTrie`), so that `balnode-trie` computes the next block's root by
//! walking only the paths it changes ([`LatestStateProvider`] implements its cursor traits). The writer keeps
//! these tables in step with plain state on every commit and unwind, and stores each block's trie updates in
//! the block's write transaction. [`DatabaseEnv::verify_root`] checks them all against a full recompute, and
//! the store answers EIP-1186 proofs at any block it has change sets for
//! ([`StateProofProvider`](balnode_storage_api::StateProofProvider)).
//!
//! Good starting points:
//! - [`DatabaseEnv::open`]: open (or create) the store of a datadir; then [`DatabaseEnv::chain_identity`] and
//!   [`DatabaseEnv::check_genesis`] before writing, and the storage-api traits it implements.
//! - [`ProviderRo`]: blocks, chain info and state read from one snapshot.
//! - [`tables`]: every table with its key and value, and the byte layouts in [`models`], [`trie_models`]
//!   and [`Account`]'s `Encode` impl.
//! - [`trie`]: the trie cursors over the tables, proofs and [`RootReport`].
//! - [`DatabaseEnv::stats`] and [`DatabaseEnv::check`]: sizes per table, and whether the tables agree with
//!   each other (`balnode db stats`, `balnode db check`).
//!
//! ## Feature Flags
//! None.
//!
//! [`Account`]: balnode_primitives::Account

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod check;
pub mod codec;
mod compact;
mod env;
mod error;
mod metadata;
pub mod models;
mod provider;
mod state;
mod stats;
pub mod tables;
pub mod trie;
pub mod trie_models;
mod tx;
mod writer;

pub use check::{CheckReport, Inconsistency};
pub use env::DatabaseEnv;
pub use error::StoreError;
pub use provider::ProviderRo;
pub use state::{HistoricalStateProvider, LatestStateProvider};
pub use stats::{DbStats, TableStats};
pub use trie::RootReport;

/// The version of the table layout and encodings, stored in the `Metadata` table by `init_genesis`.
///
/// Raise it with any change to a table, key or value encoding: a datadir of another version is refused at
/// open ([`StoreError::SchemaMismatch`]) instead of being misread.
pub const SCHEMA_VERSION: u32 = 2;
