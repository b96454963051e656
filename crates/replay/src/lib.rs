//! Replay of real blocks with the pre-state they read, and the performance report of the execution modes.
//!
//! A *bundle* is a block (as `eth_getBlockByNumber(n, true)` returns it) with the accounts and slots it touches
//! as they were before it ([`bundle`]). Replay writes the pre-state into a temporary MDBX store ([`store`]), so
//! execution reads real storage, executes the block there and checks gas used, receipts root and logs bloom
//! against the header ([`replay`]). The state root is never checked: the pre-state is partial. Reads the bundle
//! cannot answer (`BLOCKHASH` of any block but the parent, accounts it lacks) are recorded, never guessed
//! silently.
//!
//! [`bench`](mod@bench) measures each execution mode ([`bench::ExecMode`]) against raw revm on an in-memory `CacheDB`
//! ([`revm_floor`]) and computes each block's critical path ([`critical_path`]).
//!
//! Good starting points:
//! - [`bundle::load_bundle`] and [`replay::replay_bundle`]: one block, checked.
//! - [`bench::ExecMode`]: the list of execution modes the bench measures; a new mode is added there.
//!
//! ## Feature Flags
//! None.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod bench;
pub mod bundle;
pub mod compact;
pub mod critical_path;
pub mod replay;
pub mod revm_floor;
pub mod store;

use std::path::{Path, PathBuf};

use balnode_primitives::Bytes;
use balnode_storage_api::ProviderError;

/// Why a replay could not run (as opposed to a block that ran and failed a check).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The bundle is malformed.
    #[error(transparent)]
    Bundle(#[from] bundle::BundleError),
    /// The temporary store could not be opened.
    #[error("block {number}: temporary store: {source}")]
    Store {
        /// The block replayed.
        number: u64,
        /// The store's error.
        #[source]
        source: Box<balnode_storage_mdbx::StoreError>,
    },
    /// The temporary store failed.
    #[error("block {number}: temporary store: {source}")]
    Provider {
        /// The block replayed.
        number: u64,
        /// The store's error (boxed: it is large, and this is the cold path).
        #[source]
        source: Box<ProviderError>,
    },
    /// A file operation failed.
    #[error("block {number}: cannot {what}: {source}")]
    Io {
        /// The block replayed.
        number: u64,
        /// What was being done.
        what: &'static str,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

/// Writes a block's access list (RLP, as `balnode-bal` encodes it) as `<dir>/<number>/block_access_list.rlp`:
/// with `dir` the corpus's `blocks/` folder, beside the block's bundle, where [`bundle::load_bundle`] reads it.
pub fn write_block_access_list(dir: &Path, number: u64, rlp: &Bytes) -> std::io::Result<PathBuf> {
    let folder = dir.join(number.to_string());
    std::fs::create_dir_all(&folder)?;
    let path = folder.join(bundle::BAL_FILE);
    std::fs::write(&path, rlp)?;
    Ok(path)
}
