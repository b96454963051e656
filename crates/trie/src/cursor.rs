//! The cursor traits the trie reads through: hashed leaves and stored branch nodes.
//!
//! No database handle lives in this crate. `balnode-storage-mdbx` implements these traits over its tables,
//! `test_utils` (feature `test-utils`) over maps, and [`crate::HashedPostStateCursorFactory`] lays a block's changes over
//! another implementation without writing them anywhere.

use balnode_primitives::{
    Account, B256, U256,
    trie::{BranchNodeCompact, Nibbles},
};
use balnode_storage_api::ProviderResult;

/// A cursor over hashed leaves in key order: the accounts by hashed address, or one account's slots by hashed
/// slot.
pub trait HashedCursor {
    /// The leaf value: [`Account`] or a storage word.
    type Value;

    /// Moves to the first entry whose key is at or after `key`.
    fn seek(&mut self, key: B256) -> ProviderResult<Option<(B256, Self::Value)>>;

    /// Moves to the entry after the current one.
    fn next(&mut self) -> ProviderResult<Option<(B256, Self::Value)>>;
}

/// Opens cursors over the hashed state.
pub trait HashedCursorFactory {
    /// The cursor over hashed accounts.
    type AccountCursor<'a>: HashedCursor<Value = Account>
    where
        Self: 'a;
    /// The cursor over one account's hashed storage (non-zero slots only).
    type StorageCursor<'a>: HashedCursor<Value = U256>
    where
        Self: 'a;

    /// A cursor over every account, by hashed address.
    fn hashed_account_cursor(&self) -> ProviderResult<Self::AccountCursor<'_>>;

    /// A cursor over the storage of the account whose hashed address is `hashed_address`.
    fn hashed_storage_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageCursor<'_>>;
}

/// A cursor over stored branch nodes in path order (a path sorts before its extensions).
pub trait TrieCursor {
    /// Moves to the first node whose path is at or after `path`.
    fn seek(&mut self, path: Nibbles) -> ProviderResult<Option<(Nibbles, BranchNodeCompact)>>;
}

/// Opens cursors over the stored trie nodes.
pub trait TrieCursorFactory {
    /// The cursor over the account trie.
    type AccountTrieCursor<'a>: TrieCursor
    where
        Self: 'a;
    /// The cursor over one storage trie.
    type StorageTrieCursor<'a>: TrieCursor
    where
        Self: 'a;

    /// A cursor over the account trie's nodes.
    fn account_trie_cursor(&self) -> ProviderResult<Self::AccountTrieCursor<'_>>;

    /// A cursor over the nodes of the storage trie of the account whose hashed address is `hashed_address`.
    fn storage_trie_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageTrieCursor<'_>>;
}

/// Everything the state root reads: hashed state and stored nodes.
pub trait StateCursors: HashedCursorFactory + TrieCursorFactory {}

impl<T: HashedCursorFactory + TrieCursorFactory> StateCursors for T {}

impl<T: HashedCursorFactory> HashedCursorFactory for &T {
    type AccountCursor<'a>
        = T::AccountCursor<'a>
    where
        Self: 'a;
    type StorageCursor<'a>
        = T::StorageCursor<'a>
    where
        Self: 'a;

    fn hashed_account_cursor(&self) -> ProviderResult<Self::AccountCursor<'_>> {
        (**self).hashed_account_cursor()
    }

    fn hashed_storage_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageCursor<'_>> {
        (**self).hashed_storage_cursor(hashed_address)
    }
}

impl<T: TrieCursorFactory> TrieCursorFactory for &T {
    type AccountTrieCursor<'a>
        = T::AccountTrieCursor<'a>
    where
        Self: 'a;
    type StorageTrieCursor<'a>
        = T::StorageTrieCursor<'a>
    where
        Self: 'a;

    fn account_trie_cursor(&self) -> ProviderResult<Self::AccountTrieCursor<'_>> {
        (**self).account_trie_cursor()
    }

    fn storage_trie_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageTrieCursor<'_>> {
        (**self).storage_trie_cursor(hashed_address)
    }
}

/// A trie cursor over no nodes: a trie computed with it is computed from its leaves alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTrieCursor;

impl TrieCursor for NoTrieCursor {
    fn seek(&mut self, _path: Nibbles) -> ProviderResult<Option<(Nibbles, BranchNodeCompact)>> {
        Ok(None)
    }
}

/// Either of two trie cursors: a stored trie, or none when it is being rebuilt from its leaves.
#[derive(Debug)]
pub enum MaybeTrieCursor<C> {
    /// The stored nodes.
    Stored(C),
    /// No nodes.
    None,
}

impl<C: TrieCursor> TrieCursor for MaybeTrieCursor<C> {
    fn seek(&mut self, path: Nibbles) -> ProviderResult<Option<(Nibbles, BranchNodeCompact)>> {
        match self {
            Self::Stored(cursor) => cursor.seek(path),
            Self::None => Ok(None),
        }
    }
}

/// A factory whose hashed state is `F`'s and whose stored trie is empty: every root computed over it is a
/// full recompute from the leaves. `db verify-root`, the benchmarks' baseline and the tests use it.
#[derive(Debug, Clone, Copy)]
pub struct FromScratch<F>(pub F);

impl<F: HashedCursorFactory> HashedCursorFactory for FromScratch<F> {
    type AccountCursor<'a>
        = F::AccountCursor<'a>
    where
        Self: 'a;
    type StorageCursor<'a>
        = F::StorageCursor<'a>
    where
        Self: 'a;

    fn hashed_account_cursor(&self) -> ProviderResult<Self::AccountCursor<'_>> {
        self.0.hashed_account_cursor()
    }

    fn hashed_storage_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageCursor<'_>> {
        self.0.hashed_storage_cursor(hashed_address)
    }
}

impl<F> TrieCursorFactory for FromScratch<F> {
    type AccountTrieCursor<'a>
        = NoTrieCursor
    where
        Self: 'a;
    type StorageTrieCursor<'a>
        = NoTrieCursor
    where
        Self: 'a;

    fn account_trie_cursor(&self) -> ProviderResult<NoTrieCursor> {
        Ok(NoTrieCursor)
    }

    fn storage_trie_cursor(&self, _hashed_address: B256) -> ProviderResult<NoTrieCursor> {
        Ok(NoTrieCursor)
    }
}
