//! [`DatabaseEnv`]: the MDBX environment of a datadir, its tables and the checks made when opening it.

use crate::{
    SCHEMA_VERSION,
    error::{StoreError, database_error},
    metadata,
    provider::ProviderRo,
    tables::TABLES,
    tx::{DbTx, Tables},
};
use balnode_primitives::B256;
use balnode_storage_api::{ProviderError, ProviderResult};
use signet_libmdbx::{Environment, Geometry, RoSync, Rw};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};
use tracing::debug;

/// The largest the data file may grow to. MDBX reserves this much address space, not disk.
const MAX_SIZE: usize = 4 << 40;
/// How much the data file grows by when full: large enough that a long import does not grow it on every
/// commit, small enough that a fresh test database stays small.
const GROWTH_STEP: isize = 256 << 20;
/// Reader slots: one per live read transaction (RPC calls, prefetch workers, state views).
const MAX_READERS: u64 = 4096;

/// The store of one datadir: an MDBX environment in `<datadir>/db` with the tables of [`crate::tables`].
///
/// Cheap to clone and shareable across threads: any number of read views ([`DatabaseEnv::provider`], the
/// [`StateProviderFactory`](balnode_storage_api::StateProviderFactory) methods) may be open while one writer
/// commits; each view keeps seeing the snapshot it was opened on. Writers queue on MDBX's writer lock.
#[derive(Debug, Clone)]
pub struct DatabaseEnv {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    env: Environment,
    tables: Tables,
    path: PathBuf,
}

impl DatabaseEnv {
    /// Opens the store in `datadir`, creating the directory, the environment and the tables as needed.
    ///
    /// Fails with [`StoreError::SchemaMismatch`] when the datadir was written with another
    /// [`SCHEMA_VERSION`]; nothing is written to it then.
    pub fn open(datadir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = datadir.as_ref().join("db");
        std::fs::create_dir_all(&path)
            .map_err(|source| StoreError::CreateDir { path: path.clone(), source })?;
        let open_error = |source| StoreError::Open { path: path.clone(), source };
        let env = Environment::builder()
            .set_max_dbs(TABLES.len())
            .set_max_readers(MAX_READERS)
            .set_geometry(Geometry {
                size: Some(0..MAX_SIZE),
                growth_step: Some(GROWTH_STEP),
                ..Default::default()
            })
            .open(&path)
            .map_err(open_error)?;

        // Create the tables and check the schema in one write transaction, committed only if the schema
        // matches, so a datadir of another version is left as it was.
        let tx = env.begin_rw_unsync().map_err(open_error)?;
        let tables = Tables::create(&tx).map_err(open_error)?;
        let tx = DbTx::new(tx, tables);
        if let Some(found) = metadata::schema_version(&tx)?
            && found != SCHEMA_VERSION
        {
            return Err(StoreError::SchemaMismatch { found, expected: SCHEMA_VERSION, path });
        }
        tx.commit()?;

        debug!(target: "storage::mdbx", path = %path.display(), "Opened database");
        Ok(Self { inner: Arc::new(Inner { env, tables, path }) })
    }

    /// The directory holding the MDBX files, `<datadir>/db`.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A read-only view of the current snapshot.
    pub fn provider(&self) -> ProviderResult<ProviderRo> {
        Ok(ProviderRo::new(self.tx_ro()?))
    }

    /// The chain id and genesis hash the store was initialised with, `None` for an empty store.
    pub fn chain_identity(&self) -> ProviderResult<Option<(u64, B256)>> {
        metadata::chain_identity(&self.tx_ro()?)
    }

    /// Checks that the store holds the chain `chain_id` with genesis `genesis_hash`.
    ///
    /// Fails with [`StoreError::GenesisMismatch`] naming both when it holds another, and with
    /// [`ProviderError::NotInitialized`] when it is empty. Writes nothing.
    pub fn check_genesis(&self, chain_id: u64, genesis_hash: B256) -> Result<(), StoreError> {
        let (stored_chain_id, stored_genesis_hash) =
            self.chain_identity()?.ok_or(ProviderError::NotInitialized)?;
        if (stored_chain_id, stored_genesis_hash) != (chain_id, genesis_hash) {
            return Err(StoreError::GenesisMismatch {
                stored_chain_id,
                stored_genesis_hash,
                expected_chain_id: chain_id,
                expected_genesis_hash: genesis_hash,
                path: self.inner.path.clone(),
            });
        }
        Ok(())
    }

    /// The MDBX environment, for statistics.
    pub(crate) fn environment(&self) -> &Environment {
        &self.inner.env
    }

    /// A read transaction on the current snapshot.
    pub(crate) fn tx_ro(&self) -> ProviderResult<DbTx<RoSync>> {
        let tx = self.inner.env.begin_ro_sync().map_err(database_error)?;
        Ok(DbTx::new(tx, self.inner.tables))
    }

    /// A write transaction. It waits while another one is open.
    pub(crate) fn tx_rw(&self) -> ProviderResult<DbTx<Rw>> {
        let tx = self.inner.env.begin_rw_unsync().map_err(database_error)?;
        Ok(DbTx::new(tx, self.inner.tables))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{models::MetadataKey, tables::Metadata};
    use balnode_primitives::Bytes;

    /// Overwrites the stored schema version, as a datadir of another build would have it.
    fn set_schema_version(env: &DatabaseEnv, version: u32) {
        let tx = env.tx_rw().unwrap();
        tx.put::<Metadata>(
            &MetadataKey::SchemaVersion,
            &Bytes::copy_from_slice(&version.to_be_bytes()),
        )
        .unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn another_schema_version_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let env = DatabaseEnv::open(dir.path()).unwrap();
        set_schema_version(&env, SCHEMA_VERSION);
        drop(env);
        DatabaseEnv::open(dir.path()).expect("the same version opens");

        let env = DatabaseEnv::open(dir.path()).unwrap();
        set_schema_version(&env, SCHEMA_VERSION + 1);
        drop(env);
        let data_file = dir.path().join("db").join("mdbx.dat");
        let before = std::fs::read(&data_file).unwrap();

        let err = DatabaseEnv::open(dir.path()).unwrap_err();
        let StoreError::SchemaMismatch { found, expected, ref path } = err else {
            panic!("expected a schema mismatch, got {err}")
        };
        assert_eq!((found, expected), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        assert_eq!(*path, dir.path().join("db"));
        let message = err.to_string();
        assert!(message.contains(&format!("schema version {}", SCHEMA_VERSION + 1)), "{message}");
        assert!(message.contains(&format!("schema version {SCHEMA_VERSION}")), "{message}");
        assert!(message.contains("re-create the datadir"), "{message}");
        assert_eq!(std::fs::read(&data_file).unwrap(), before, "a refused datadir was written to");
    }
}
