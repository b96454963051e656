//! [`DatabaseEnv::stats`]: what each table holds and how big the environment is (`balnode db stats`).

use crate::{env::DatabaseEnv, error::database_error, tables::TABLES};
use balnode_storage_api::{ProviderError, ProviderResult};

/// The size of one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableStats {
    /// The table's name.
    pub name: &'static str,
    /// Entries, every duplicate of a `DUP_SORT` table counted.
    pub entries: u64,
    /// Height of its B-tree.
    pub depth: u32,
    /// Internal pages.
    pub branch_pages: u64,
    /// Leaf pages.
    pub leaf_pages: u64,
    /// Overflow pages: values too large for a leaf page, stored in runs of pages of their own.
    pub overflow_pages: u64,
    /// The bytes of all its pages.
    pub bytes: u64,
}

impl TableStats {
    /// Every page of the table.
    pub const fn pages(&self) -> u64 {
        self.branch_pages + self.leaf_pages + self.overflow_pages
    }
}

/// What [`DatabaseEnv::stats`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbStats {
    /// The page size in bytes.
    pub page_size: u32,
    /// Every table, in the order of [`TABLES`].
    pub tables: Vec<TableStats>,
    /// The size of the data file on disk.
    pub file_size: u64,
    /// Pages the data file has handed out so far (the last used page number + 1), free ones included.
    pub allocated_pages: u64,
    /// Pages on the freelist: allocated, no longer used, reused by later commits.
    pub free_pages: u64,
    /// The id of the last committed transaction.
    pub last_txn_id: u64,
    /// Reader slots in use.
    pub readers: u64,
}

impl DbStats {
    /// The bytes of every table's pages together.
    pub fn table_bytes(&self) -> u64 {
        self.tables.iter().map(|table| table.bytes).sum()
    }

    /// The bytes of the freelist's pages.
    pub fn free_bytes(&self) -> u64 {
        self.free_pages * u64::from(self.page_size)
    }
}

impl DatabaseEnv {
    /// Per-table entries and pages, the data file's size and its freelist, read in one snapshot.
    pub fn stats(&self) -> ProviderResult<DbStats> {
        let tx = self.tx_ro()?;
        let env = self.environment();
        let page_size = env.stat().map_err(database_error)?.page_size();
        let tables = TABLES
            .iter()
            .zip(tx.table_stats()?)
            .map(|(info, stat)| {
                let mut table = TableStats {
                    name: info.name,
                    entries: stat.entries() as u64,
                    depth: stat.depth(),
                    branch_pages: stat.branch_pages() as u64,
                    leaf_pages: stat.leaf_pages() as u64,
                    overflow_pages: stat.overflow_pages() as u64,
                    bytes: 0,
                };
                table.bytes = table.pages() * u64::from(page_size);
                table
            })
            .collect();
        drop(tx);
        let info = env.info().map_err(database_error)?;
        let free_pages = env.freelist().map_err(|err| ProviderError::Database(Box::new(err)))?;
        let file = self.path().join("mdbx.dat");
        let file_size =
            std::fs::metadata(&file).map_err(|err| ProviderError::Database(Box::new(err)))?.len();
        Ok(DbStats {
            page_size,
            tables,
            file_size,
            allocated_pages: info.last_pgno() as u64 + 1,
            free_pages: free_pages as u64,
            last_txn_id: info.last_txnid() as u64,
            readers: info.num_readers() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{models::StorageEntry, tables::PlainStorage};
    use balnode_primitives::{Address, B256, U256};

    #[test]
    fn entries_count_every_duplicate_and_pages_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let env = DatabaseEnv::open(dir.path()).unwrap();
        let tx = env.tx_rw().unwrap();
        for account in 0..3u8 {
            for slot in 0..50u8 {
                let entry = StorageEntry { slot: B256::with_last_byte(slot), value: U256::from(1) };
                tx.put::<PlainStorage>(&Address::repeat_byte(account), &entry).unwrap();
            }
        }
        tx.commit().unwrap();

        let stats = env.stats().unwrap();
        assert_eq!(stats.tables.len(), TABLES.len());
        let storage = stats.tables.iter().find(|table| table.name == "PlainStorage").unwrap();
        assert_eq!(storage.entries, 150);
        assert!(storage.leaf_pages >= 1, "{storage:?}");
        assert_eq!(storage.bytes, storage.pages() * u64::from(stats.page_size));
        let headers = stats.tables.iter().find(|table| table.name == "Headers").unwrap();
        assert_eq!((headers.entries, headers.pages()), (0, 0));
        assert!(stats.file_size >= stats.allocated_pages * u64::from(stats.page_size));
        assert!(stats.allocated_pages > storage.pages());
        assert!(stats.table_bytes() < stats.file_size);
    }
}
