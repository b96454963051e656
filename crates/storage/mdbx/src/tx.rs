//! Typed access to the tables inside one MDBX transaction.
//!
//! Everything above this module speaks in [`Table`] keys and values; everything below it in bytes. Values are
//! read as borrowed slices and decoded here, so that a decoding failure becomes
//! [`ProviderError::Corrupt`](balnode_storage_api::ProviderError::Corrupt) naming the table and key.

use crate::{
    codec::{Decode, Encode},
    error::{corrupt, database_error, read_error},
    tables::{DupSort, TABLES, Table},
};
use balnode_storage_api::ProviderResult;
use signet_libmdbx::{
    Cursor, Database, DatabaseFlags, MdbxResult, Rw, TransactionKind, WriteFlags, tx::Tx,
};
use std::{borrow::Cow, marker::PhantomData};

/// The handles of every table, opened once when the environment is.
///
/// MDBX handles stay valid for the environment's lifetime, so transactions use these instead of looking tables
/// up by name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tables([Database; TABLES.len()]);

impl Tables {
    /// Creates the tables that do not exist yet and returns the handles of all of them.
    pub(crate) fn create(tx: &Tx<Rw>) -> MdbxResult<Self> {
        let mut handles = [Database::freelist_db(); TABLES.len()];
        for (handle, table) in handles.iter_mut().zip(TABLES) {
            let flags =
                if table.dup_sort { DatabaseFlags::DUP_SORT } else { DatabaseFlags::empty() };
            *handle = tx.create_db(Some(table.name), flags)?;
        }
        Ok(Self(handles))
    }

    /// The handle of every table, in the order of [`TABLES`].
    pub(crate) const fn all(&self) -> &[Database; TABLES.len()] {
        &self.0
    }

    /// The handle of table `T`.
    fn get<T: Table>(&self) -> Database {
        self.0[T::INDEX]
    }
}

/// A read-only or read-write transaction with typed table access.
#[derive(Debug)]
pub(crate) struct DbTx<K: TransactionKind> {
    tx: Tx<K>,
    tables: Tables,
}

impl<K: TransactionKind> DbTx<K> {
    /// Wraps `tx`, whose environment holds `tables`.
    pub(crate) const fn new(tx: Tx<K>, tables: Tables) -> Self {
        Self { tx, tables }
    }

    /// The value at `key`.
    pub(crate) fn get<T: Table>(&self, key: &T::Key) -> ProviderResult<Option<T::Value>> {
        let key = key.encode();
        let value: Option<Cow<'_, [u8]>> =
            self.tx.get(self.tables.get::<T>().dbi(), key.as_ref()).map_err(read_error)?;
        value.map(|value| decode_value::<T>(key.as_ref(), &value)).transpose()
    }

    /// MDBX's statistics of every table, in the order of [`TABLES`].
    pub(crate) fn table_stats(&self) -> ProviderResult<Vec<signet_libmdbx::Stat>> {
        self.tables.all().iter().map(|db| self.tx.db_stat(db).map_err(database_error)).collect()
    }

    /// The number of entries (every duplicate counted) of table `T`.
    pub(crate) fn entries<T: Table>(&self) -> ProviderResult<u64> {
        let stat = self.tx.db_stat(&self.tables.get::<T>()).map_err(database_error)?;
        Ok(stat.entries() as u64)
    }

    /// A cursor over table `T`.
    pub(crate) fn cursor<T: Table>(&self) -> ProviderResult<TableCursor<'_, K, T>> {
        let cursor = self.tx.cursor(self.tables.get::<T>()).map_err(database_error)?;
        Ok(TableCursor { cursor, table: PhantomData })
    }
}

impl DbTx<Rw> {
    /// Writes `value` at `key`: replaces the value, or adds a duplicate in a `DUP_SORT` table.
    pub(crate) fn put<T: Table>(&self, key: &T::Key, value: &T::Value) -> ProviderResult<()> {
        self.tx
            .put(self.tables.get::<T>(), key.encode(), value.encode(), WriteFlags::empty())
            .map_err(database_error)
    }

    /// Deletes `key` with all its values; a missing key is not an error.
    pub(crate) fn delete<T: Table>(&self, key: &T::Key) -> ProviderResult<()> {
        self.tx.del(self.tables.get::<T>(), key.encode(), None).map(drop).map_err(database_error)
    }

    /// Commits the transaction. Dropping a read-write transaction without committing aborts it.
    pub(crate) fn commit(self) -> ProviderResult<()> {
        self.tx.commit().map_err(database_error)
    }
}

/// A key and value as MDBX returns them: borrowed from the transaction's pages where it can.
type RawEntry<'tx> = (Cow<'tx, [u8]>, Cow<'tx, [u8]>);

/// A cursor over one table.
#[derive(Debug)]
pub(crate) struct TableCursor<'tx, K: TransactionKind, T: Table> {
    cursor: Cursor<'tx, K>,
    table: PhantomData<T>,
}

impl<'tx, K: TransactionKind, T: Table> TableCursor<'tx, K, T> {
    /// Moves to the first entry whose key is at or after `key`.
    pub(crate) fn seek(&mut self, key: &T::Key) -> ProviderResult<Option<(T::Key, T::Value)>> {
        let entry: Option<RawEntry<'tx>> =
            self.cursor.set_range(key.encode().as_ref()).map_err(read_error)?;
        entry.map(|(key, value)| decode_entry::<T>(&key, &value)).transpose()
    }

    /// Moves to the next entry: the next duplicate of the key, or the first of the next key.
    pub(crate) fn next(&mut self) -> ProviderResult<Option<(T::Key, T::Value)>> {
        let entry: Option<RawEntry<'tx>> = self.cursor.next().map_err(read_error)?;
        entry.map(|(key, value)| decode_entry::<T>(&key, &value)).transpose()
    }
}

impl<'tx, K: TransactionKind, T: DupSort> TableCursor<'tx, K, T> {
    /// Moves to the value of `key` whose leading bytes are `subkey`, if there is one.
    pub(crate) fn get_dup(
        &mut self,
        key: &T::Key,
        subkey: &T::SubKey,
    ) -> ProviderResult<Option<T::Value>> {
        let (key, subkey) = (key.encode(), subkey.encode());
        // The first duplicate at or after the sub-key; it is the one asked for only if it starts with it.
        let value: Option<Cow<'tx, [u8]>> =
            self.cursor.get_both_range(key.as_ref(), subkey.as_ref()).map_err(read_error)?;
        match value {
            Some(value) if value.starts_with(subkey.as_ref()) => {
                decode_value::<T>(key.as_ref(), &value).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Moves to the first value of `key` whose bytes are at or after `subkey`'s, if there is one.
    pub(crate) fn seek_dup(
        &mut self,
        key: &T::Key,
        subkey: &T::SubKey,
    ) -> ProviderResult<Option<T::Value>> {
        let (key, subkey) = (key.encode(), subkey.encode());
        let value: Option<Cow<'tx, [u8]>> =
            self.cursor.get_both_range(key.as_ref(), subkey.as_ref()).map_err(read_error)?;
        value.map(|value| decode_value::<T>(key.as_ref(), &value)).transpose()
    }

    /// Moves to the next value of the current key, if there is one.
    pub(crate) fn next_dup(&mut self) -> ProviderResult<Option<T::Value>> {
        let entry: Option<RawEntry<'tx>> = self.cursor.next_dup().map_err(read_error)?;
        entry.map(|(key, value)| decode_value::<T>(&key, &value)).transpose()
    }

    /// Every value of `key`, in order.
    pub(crate) fn dups(&mut self, key: &T::Key) -> ProviderResult<Vec<T::Value>> {
        let key = key.encode();
        let mut values = Vec::new();
        let mut value: Option<Cow<'tx, [u8]>> =
            self.cursor.set(key.as_ref()).map_err(read_error)?;
        while let Some(bytes) = value {
            values.push(decode_value::<T>(key.as_ref(), &bytes)?);
            value = self.cursor.next_dup::<(), _>().map_err(read_error)?.map(|((), bytes)| bytes);
        }
        Ok(values)
    }
}

impl<T: DupSort> TableCursor<'_, Rw, T> {
    /// Deletes the value of `key` whose leading bytes are `subkey` and returns it.
    pub(crate) fn take_dup(
        &mut self,
        key: &T::Key,
        subkey: &T::SubKey,
    ) -> ProviderResult<Option<T::Value>> {
        let value = self.get_dup(key, subkey)?;
        if value.is_some() {
            // `get_dup` left the cursor on that very value.
            self.cursor.del().map_err(database_error)?;
        }
        Ok(value)
    }
}

/// Decodes a value of table `T` stored at `key`.
fn decode_value<T: Table>(key: &[u8], value: &[u8]) -> ProviderResult<T::Value> {
    T::Value::decode(value).map_err(|err| corrupt::<T>(key, err))
}

/// Decodes an entry of table `T`.
fn decode_entry<T: Table>(key: &[u8], value: &[u8]) -> ProviderResult<(T::Key, T::Value)> {
    let decoded = T::Key::decode(key).map_err(|err| corrupt::<T>(key, err))?;
    Ok((decoded, decode_value::<T>(key, value)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        DatabaseEnv,
        models::StorageEntry,
        tables::{PlainAccounts, PlainStorage},
    };
    use balnode_primitives::{Address, B256, U256};
    use balnode_storage_api::ProviderError;

    #[test]
    fn undecodable_bytes_are_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let env = DatabaseEnv::open(dir.path()).unwrap();
        let address = Address::repeat_byte(0xab);
        let tx = env.tx_rw().unwrap();
        tx.tx.put(tx.tables.get::<PlainAccounts>(), address, [0xff], WriteFlags::empty()).unwrap();
        tx.tx.put(tx.tables.get::<PlainStorage>(), address, [7; 31], WriteFlags::empty()).unwrap();

        let err = tx.get::<PlainAccounts>(&address).unwrap_err();
        let ProviderError::Corrupt { table, key, .. } = err else { panic!("{err}") };
        assert_eq!((table, key), ("PlainAccounts", format!("{address:#x}")));
        let err = tx.cursor::<PlainAccounts>().unwrap().seek(&Address::ZERO).unwrap_err();
        assert!(matches!(err, ProviderError::Corrupt { table: "PlainAccounts", .. }), "{err}");
        let err = tx.cursor::<PlainStorage>().unwrap().dups(&address).unwrap_err();
        assert!(matches!(err, ProviderError::Corrupt { table: "PlainStorage", .. }), "{err}");
    }

    #[test]
    fn duplicates_are_found_by_sub_key() {
        let dir = tempfile::tempdir().unwrap();
        let env = DatabaseEnv::open(dir.path()).unwrap();
        let address = Address::repeat_byte(1);
        let entry = |slot: u8, value: u64| StorageEntry {
            slot: B256::with_last_byte(slot),
            value: U256::from(value),
        };
        let tx = env.tx_rw().unwrap();
        for (slot, value) in [(1, 0x100), (3, 3), (2, 0x20000)] {
            tx.put::<PlainStorage>(&address, &entry(slot, value)).unwrap();
        }
        let mut cursor = tx.cursor::<PlainStorage>().unwrap();
        assert_eq!(
            cursor.dups(&address).unwrap(),
            [entry(1, 0x100), entry(2, 0x20000), entry(3, 3)],
            "sorted by slot whatever the value's length"
        );
        assert_eq!(
            cursor.get_dup(&address, &B256::with_last_byte(2)).unwrap(),
            Some(entry(2, 0x20000))
        );
        assert_eq!(cursor.get_dup(&address, &B256::with_last_byte(4)).unwrap(), None);
        assert_eq!(cursor.get_dup(&Address::ZERO, &B256::with_last_byte(1)).unwrap(), None);
        assert_eq!(
            cursor.take_dup(&address, &B256::with_last_byte(2)).unwrap(),
            Some(entry(2, 0x20000))
        );
        assert_eq!(cursor.take_dup(&address, &B256::with_last_byte(2)).unwrap(), None);
        assert_eq!(cursor.dups(&address).unwrap(), [entry(1, 0x100), entry(3, 3)]);
        assert_eq!(cursor.dups(&Address::ZERO).unwrap(), []);
    }
}
