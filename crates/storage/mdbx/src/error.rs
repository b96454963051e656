//! Errors of opening a datadir, and the mapping of MDBX and decoding failures onto [`ProviderError`].

use crate::{codec::DecodeError, tables::Table};
use balnode_primitives::{B256, hex};
use balnode_storage_api::ProviderError;
use signet_libmdbx::{MdbxError, ReadError};
use std::path::PathBuf;

/// What can go wrong when opening a datadir or checking what it holds.
///
/// Reads and writes report [`ProviderError`]; this covers what only the CLI meets, with messages that say
/// what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database directory could not be created.
    #[error("cannot create the database directory {}", .path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// MDBX could not open the environment (permissions, another process holding it, not an MDBX file).
    #[error("cannot open the database at {}", .path.display())]
    Open {
        /// The database directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: MdbxError,
    },
    /// The datadir was written by a build with another table layout.
    #[error(
        "the database at {} has schema version {found}, but this balnode uses schema version {expected}; \
         re-create the datadir (remove it and run `balnode init` again)",
        .path.display()
    )]
    SchemaMismatch {
        /// The version stored in the datadir.
        found: u32,
        /// [`crate::SCHEMA_VERSION`].
        expected: u32,
        /// The database directory.
        path: PathBuf,
    },
    /// The datadir holds another chain than the one asked for.
    #[error(
        "this datadir ({}) was initialised for chain id {stored_chain_id} with genesis {stored_genesis_hash}, \
         not chain id {expected_chain_id} with genesis {expected_genesis_hash}; use another --datadir or remove it",
        .path.display()
    )]
    GenesisMismatch {
        /// The chain id stored in the datadir.
        stored_chain_id: u64,
        /// The genesis hash stored in the datadir.
        stored_genesis_hash: B256,
        /// The chain id asked for.
        expected_chain_id: u64,
        /// The genesis hash asked for.
        expected_genesis_hash: B256,
        /// The database directory.
        path: PathBuf,
    },
    /// Reading the datadir failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// Wraps an MDBX failure as [`ProviderError::Database`].
pub(crate) fn database_error(err: MdbxError) -> ProviderError {
    ProviderError::Database(Box::new(err))
}

/// Wraps a failed MDBX read as [`ProviderError::Database`]. Reads decode into raw bytes, which cannot fail, so
/// the error is MDBX's own.
pub(crate) fn read_error(err: ReadError) -> ProviderError {
    match err {
        ReadError::Mdbx(err) => database_error(err),
        ReadError::Decoding(err) => ProviderError::Database(err),
    }
}

/// Reports bytes of table `T` at `key` that do not decode.
pub(crate) fn corrupt<T: Table>(key: &[u8], err: DecodeError) -> ProviderError {
    corrupt_entry::<T>(key, err.to_string())
}

/// Reports an entry of table `T` at `key` that decodes but contradicts another table.
pub(crate) fn corrupt_entry<T: Table>(key: &[u8], reason: String) -> ProviderError {
    ProviderError::Corrupt { table: T::NAME, key: hex::encode_prefixed(key), reason }
}
