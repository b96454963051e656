//! In-memory implementations of the cursor traits, for tests and benchmarks.

use std::{collections::BTreeMap, ops::Bound};

use alloy_trie::root::{state_root_unhashed, storage_root_unhashed};
use balnode_primitives::{
    Account, Address, B256, StateChanges, U256,
    trie::{BranchNodeCompact, Nibbles},
};
use balnode_storage_api::{PlainStateReader, ProviderResult, TrieUpdates};

use crate::{
    cursor::{HashedCursor, HashedCursorFactory, TrieCursor, TrieCursorFactory},
    hashed_state::HashedPostState,
};

/// Hashed state and stored trie nodes in maps: what the store keeps in its hashed and trie tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryState {
    /// Accounts by hashed address.
    pub accounts: BTreeMap<B256, Account>,
    /// Non-zero slots by hashed address and hashed slot.
    pub storages: BTreeMap<B256, BTreeMap<B256, U256>>,
    /// Account trie nodes.
    pub account_nodes: BTreeMap<Nibbles, BranchNodeCompact>,
    /// Storage trie nodes by hashed address.
    pub storage_nodes: BTreeMap<B256, BTreeMap<Nibbles, BranchNodeCompact>>,
}

impl MemoryState {
    /// Applies `state` to the hashed maps the way the store's writer applies a block: a removed account
    /// keeps its storage unless the storage is wiped too.
    pub fn apply_state(&mut self, state: &HashedPostState) {
        for (hashed_address, account) in &state.accounts {
            match account {
                Some(account) => self.accounts.insert(*hashed_address, *account),
                None => self.accounts.remove(hashed_address),
            };
        }
        for (hashed_address, storage) in &state.storages {
            let slots = self.storages.entry(*hashed_address).or_default();
            if storage.wiped {
                slots.clear();
            }
            for (slot, value) in &storage.slots {
                if value.is_zero() {
                    slots.remove(slot);
                } else {
                    slots.insert(*slot, *value);
                }
            }
            if slots.is_empty() {
                self.storages.remove(hashed_address);
            }
        }
    }

    /// Applies trie node changes.
    pub fn apply_updates(&mut self, updates: &TrieUpdates) {
        apply_nodes(&mut self.account_nodes, &updates.account_nodes);
        for (hashed_address, storage) in &updates.storage_tries {
            let nodes = self.storage_nodes.entry(*hashed_address).or_default();
            if storage.wiped {
                nodes.clear();
            }
            apply_nodes(nodes, &storage.nodes);
            if nodes.is_empty() {
                self.storage_nodes.remove(hashed_address);
            }
        }
    }
}

fn apply_nodes(
    nodes: &mut BTreeMap<Nibbles, BranchNodeCompact>,
    updates: &BTreeMap<Nibbles, Option<BranchNodeCompact>>,
) {
    for (path, node) in updates {
        match node {
            Some(node) => nodes.insert(*path, node.clone()),
            None => nodes.remove(path),
        };
    }
}

/// A cursor over a map of hashed leaves.
#[derive(Debug)]
pub struct MemoryHashedCursor<'a, V> {
    map: Option<&'a BTreeMap<B256, V>>,
    last: Option<B256>,
}

impl<V: Copy> MemoryHashedCursor<'_, V> {
    fn first(&mut self, from: Bound<B256>) -> Option<(B256, V)> {
        let entry = self.map?.range((from, Bound::Unbounded)).next().map(|(k, v)| (*k, *v));
        self.last = entry.map(|(key, _)| key);
        entry
    }
}

impl<V: Copy> HashedCursor for MemoryHashedCursor<'_, V> {
    type Value = V;

    fn seek(&mut self, key: B256) -> ProviderResult<Option<(B256, V)>> {
        Ok(self.first(Bound::Included(key)))
    }

    fn next(&mut self) -> ProviderResult<Option<(B256, V)>> {
        let Some(last) = self.last else { return Ok(None) };
        Ok(self.first(Bound::Excluded(last)))
    }
}

/// A cursor over a map of trie nodes.
#[derive(Debug)]
pub struct MemoryTrieCursor<'a> {
    map: Option<&'a BTreeMap<Nibbles, BranchNodeCompact>>,
}

impl TrieCursor for MemoryTrieCursor<'_> {
    fn seek(&mut self, path: Nibbles) -> ProviderResult<Option<(Nibbles, BranchNodeCompact)>> {
        Ok(self.map.and_then(|map| map.range(path..).next()).map(|(p, n)| (*p, n.clone())))
    }
}

impl HashedCursorFactory for MemoryState {
    type AccountCursor<'a> = MemoryHashedCursor<'a, Account>;
    type StorageCursor<'a> = MemoryHashedCursor<'a, U256>;

    fn hashed_account_cursor(&self) -> ProviderResult<Self::AccountCursor<'_>> {
        Ok(MemoryHashedCursor { map: Some(&self.accounts), last: None })
    }

    fn hashed_storage_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageCursor<'_>> {
        Ok(MemoryHashedCursor { map: self.storages.get(&hashed_address), last: None })
    }
}

impl TrieCursorFactory for MemoryState {
    type AccountTrieCursor<'a> = MemoryTrieCursor<'a>;
    type StorageTrieCursor<'a> = MemoryTrieCursor<'a>;

    fn account_trie_cursor(&self) -> ProviderResult<Self::AccountTrieCursor<'_>> {
        Ok(MemoryTrieCursor { map: Some(&self.account_nodes) })
    }

    fn storage_trie_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageTrieCursor<'_>> {
        Ok(MemoryTrieCursor { map: self.storage_nodes.get(&hashed_address) })
    }
}

/// Plain state in maps, changed the way the store's writer changes it (a removed account keeps its slots
/// unless they are wiped), with alloy-trie's from-scratch root: the model the trie tests compare against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlainState {
    /// Accounts by address.
    pub accounts: BTreeMap<Address, Account>,
    /// Non-zero slots by address and slot.
    pub storage: BTreeMap<Address, BTreeMap<B256, U256>>,
}

impl PlainState {
    /// Applies a block's changes.
    pub fn apply(&mut self, changes: &StateChanges) {
        for (address, account) in &changes.accounts {
            match account {
                Some(account) => self.accounts.insert(*address, *account),
                None => self.accounts.remove(address),
            };
        }
        for (address, written) in &changes.storage {
            let slots = self.storage.entry(*address).or_default();
            if written.wiped {
                slots.clear();
            }
            for (slot, value) in &written.slots {
                if value.is_zero() {
                    slots.remove(slot);
                } else {
                    slots.insert(*slot, *value);
                }
            }
        }
    }

    /// alloy-trie's storage root of `address`, from scratch.
    pub fn storage_root(&self, address: &Address) -> B256 {
        storage_root_unhashed(self.storage.get(address).cloned().unwrap_or_default())
    }

    /// alloy-trie's state root, from scratch: the storage of accounts that do not exist is not in it.
    pub fn root(&self) -> B256 {
        state_root_unhashed(self.accounts.iter().map(|(address, account)| {
            (*address, account.to_trie_account(self.storage_root(address)))
        }))
    }
}

impl PlainStateReader for PlainState {
    fn plain_accounts(&self) -> ProviderResult<Vec<(Address, Account)>> {
        Ok(self.accounts.iter().map(|(address, account)| (*address, *account)).collect())
    }

    fn plain_storage(&self, address: Address) -> ProviderResult<Vec<(B256, U256)>> {
        Ok(self
            .storage
            .get(&address)
            .into_iter()
            .flatten()
            .map(|(slot, value)| (*slot, *value))
            .collect())
    }
}
