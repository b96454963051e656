//! The trie's cursors over the hashed and trie tables, and what the store does with them: keeping the
//! tables in step with plain state, the state before an unwound block, proofs and `verify-root`.

use std::collections::{BTreeMap, btree_map::Entry};

use crate::{
    check::Inconsistency,
    env::DatabaseEnv,
    metadata,
    models::{BlockAddress, StorageEntry},
    state::LatestStateProvider,
    tables::{
        AccountChangeSets, AccountsTrie, HashedAccounts, HashedStorages, Headers, PlainAccounts,
        PlainStorage, StorageChangeSets, StoragesTrie, Table,
    },
    trie_models::StorageTrieEntry,
    tx::{DbTx, TableCursor},
};
use balnode_primitives::{
    Account, Address, B256, BlockNumber, StateChanges, StorageKey, U256, keccak256,
    trie::{BranchNodeCompact, Nibbles},
};
use balnode_storage_api::{
    AccountProof, ProviderError, ProviderResult, StateProofProvider, StateRootProvider, TrieUpdates,
};
use balnode_trie::{
    HashedCursor, HashedCursorFactory, HashedPostState, TrieCheck, TrieCursor, TrieCursorFactory,
};
use signet_libmdbx::{Rw, TransactionKind};

/// The cursor over `HashedAccounts`.
#[derive(Debug)]
pub struct HashedAccountCursor<'tx, K: TransactionKind>(TableCursor<'tx, K, HashedAccounts>);

impl<K: TransactionKind> HashedCursor for HashedAccountCursor<'_, K> {
    type Value = Account;

    fn seek(&mut self, key: B256) -> ProviderResult<Option<(B256, Account)>> {
        self.0.seek(&key)
    }

    fn next(&mut self) -> ProviderResult<Option<(B256, Account)>> {
        self.0.next()
    }
}

/// The cursor over one account's `HashedStorages` duplicates.
#[derive(Debug)]
pub struct HashedStorageCursor<'tx, K: TransactionKind> {
    cursor: TableCursor<'tx, K, HashedStorages>,
    hashed_address: B256,
}

impl<K: TransactionKind> HashedCursor for HashedStorageCursor<'_, K> {
    type Value = U256;

    fn seek(&mut self, key: B256) -> ProviderResult<Option<(B256, U256)>> {
        let entry = self.cursor.seek_dup(&self.hashed_address, &key)?;
        Ok(entry.map(|entry| (entry.slot, entry.value)))
    }

    fn next(&mut self) -> ProviderResult<Option<(B256, U256)>> {
        Ok(self.cursor.next_dup()?.map(|entry| (entry.slot, entry.value)))
    }
}

/// The cursor over `AccountsTrie`.
#[derive(Debug)]
pub struct AccountTrieCursor<'tx, K: TransactionKind>(TableCursor<'tx, K, AccountsTrie>);

impl<K: TransactionKind> TrieCursor for AccountTrieCursor<'_, K> {
    fn seek(&mut self, path: Nibbles) -> ProviderResult<Option<(Nibbles, BranchNodeCompact)>> {
        self.0.seek(&path)
    }
}

/// The cursor over one account's `StoragesTrie` duplicates.
#[derive(Debug)]
pub struct StorageTrieCursor<'tx, K: TransactionKind> {
    cursor: TableCursor<'tx, K, StoragesTrie>,
    hashed_address: B256,
}

impl<K: TransactionKind> TrieCursor for StorageTrieCursor<'_, K> {
    fn seek(&mut self, path: Nibbles) -> ProviderResult<Option<(Nibbles, BranchNodeCompact)>> {
        let entry = self.cursor.seek_dup(&self.hashed_address, &path)?;
        Ok(entry.map(|entry| (entry.path, entry.node)))
    }
}

impl<K: TransactionKind> HashedCursorFactory for DbTx<K> {
    type AccountCursor<'a>
        = HashedAccountCursor<'a, K>
    where
        Self: 'a;
    type StorageCursor<'a>
        = HashedStorageCursor<'a, K>
    where
        Self: 'a;

    fn hashed_account_cursor(&self) -> ProviderResult<Self::AccountCursor<'_>> {
        Ok(HashedAccountCursor(self.cursor()?))
    }

    fn hashed_storage_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageCursor<'_>> {
        Ok(HashedStorageCursor { cursor: self.cursor()?, hashed_address })
    }
}

impl<K: TransactionKind> TrieCursorFactory for DbTx<K> {
    type AccountTrieCursor<'a>
        = AccountTrieCursor<'a, K>
    where
        Self: 'a;
    type StorageTrieCursor<'a>
        = StorageTrieCursor<'a, K>
    where
        Self: 'a;

    fn account_trie_cursor(&self) -> ProviderResult<Self::AccountTrieCursor<'_>> {
        Ok(AccountTrieCursor(self.cursor()?))
    }

    fn storage_trie_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageTrieCursor<'_>> {
        Ok(StorageTrieCursor { cursor: self.cursor()?, hashed_address })
    }
}

/// The latest state view is also the parent's hashed state and trie for the next block's root, read from the
/// same snapshot that execution reads. It is `Sync`: storage roots may be computed from several threads.
impl HashedCursorFactory for LatestStateProvider {
    type AccountCursor<'a> = HashedAccountCursor<'a, signet_libmdbx::RoSync>;
    type StorageCursor<'a> = HashedStorageCursor<'a, signet_libmdbx::RoSync>;

    fn hashed_account_cursor(&self) -> ProviderResult<Self::AccountCursor<'_>> {
        self.tx().hashed_account_cursor()
    }

    fn hashed_storage_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageCursor<'_>> {
        self.tx().hashed_storage_cursor(hashed_address)
    }
}

impl TrieCursorFactory for LatestStateProvider {
    type AccountTrieCursor<'a> = AccountTrieCursor<'a, signet_libmdbx::RoSync>;
    type StorageTrieCursor<'a> = StorageTrieCursor<'a, signet_libmdbx::RoSync>;

    fn account_trie_cursor(&self) -> ProviderResult<Self::AccountTrieCursor<'_>> {
        self.tx().account_trie_cursor()
    }

    fn storage_trie_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageTrieCursor<'_>> {
        self.tx().storage_trie_cursor(hashed_address)
    }
}

/// Applies `state` to the hashed tables, as `write_state` applies the same changes to plain state: a removed
/// account keeps its slots unless they are wiped too.
pub(crate) fn write_hashed_state(tx: &DbTx<Rw>, state: &HashedPostState) -> ProviderResult<()> {
    for (hashed_address, account) in &state.accounts {
        match account {
            Some(account) => tx.put::<HashedAccounts>(hashed_address, account)?,
            None => tx.delete::<HashedAccounts>(hashed_address)?,
        }
    }
    for (hashed_address, storage) in &state.storages {
        if storage.wiped {
            tx.delete::<HashedStorages>(hashed_address)?;
        }
        let mut cursor = tx.cursor::<HashedStorages>()?;
        for (&slot, &value) in &storage.slots {
            cursor.take_dup(hashed_address, &slot)?;
            if !value.is_zero() {
                tx.put::<HashedStorages>(hashed_address, &StorageEntry { slot, value })?;
            }
        }
    }
    Ok(())
}

/// Stores trie node changes.
pub(crate) fn write_trie_updates(tx: &DbTx<Rw>, updates: &TrieUpdates) -> ProviderResult<()> {
    for (path, node) in &updates.account_nodes {
        match node {
            Some(node) => tx.put::<AccountsTrie>(path, node)?,
            None => tx.delete::<AccountsTrie>(path)?,
        }
    }
    for (hashed_address, storage) in &updates.storage_tries {
        if storage.wiped {
            tx.delete::<StoragesTrie>(hashed_address)?;
        }
        let mut cursor = tx.cursor::<StoragesTrie>()?;
        for (path, node) in &storage.nodes {
            cursor.take_dup(hashed_address, path)?;
            if let Some(node) = node {
                tx.put::<StoragesTrie>(
                    hashed_address,
                    &StorageTrieEntry { path: *path, node: node.clone() },
                )?;
            }
        }
    }
    Ok(())
}

/// The state after block `target` relative to the head, as an overlay: for every account and slot that blocks
/// `target + 1 ..= head` changed, its value after `target` (the pre-value recorded by the first of them).
///
/// Laid over the head's hashed tables, it shows the state after `target`; it is what an unwind writes back
/// and what a proof at an earlier block is computed over. Its cost is that of the change sets read.
pub(crate) fn revert_state<K: TransactionKind>(
    tx: &DbTx<K>,
    target: BlockNumber,
    head: BlockNumber,
) -> ProviderResult<HashedPostState> {
    let mut accounts: BTreeMap<Address, Option<Account>> = BTreeMap::new();
    let mut storage: BTreeMap<Address, BTreeMap<B256, U256>> = BTreeMap::new();
    for number in target + 1..=head {
        for change in tx.cursor::<AccountChangeSets>()?.dups(&number)? {
            accounts.entry(change.address).or_insert(change.account);
        }
        let mut cursor = tx.cursor::<StorageChangeSets>()?;
        let mut entry =
            cursor.seek(&BlockAddress { block_number: number, address: Address::ZERO })?;
        while let Some((key, value)) = entry.filter(|(key, _)| key.block_number == number) {
            if let Entry::Vacant(vacant) = storage.entry(key.address).or_default().entry(value.slot)
            {
                vacant.insert(value.value);
            }
            entry = cursor.next()?;
        }
    }
    let mut state = HashedPostState::default();
    for (address, account) in accounts {
        state.accounts.insert(keccak256(address), account);
    }
    for (address, slots) in storage {
        let hashed = state.storages.entry(keccak256(address)).or_default();
        hashed.slots.extend(slots.into_iter().map(|(slot, value)| (keccak256(slot), value)));
    }
    Ok(state)
}

impl StateRootProvider for DatabaseEnv {
    fn state_root_with(&self, number: BlockNumber, changes: &StateChanges) -> ProviderResult<B256> {
        let tx = self.tx_ro()?;
        let (head, _) = metadata::require_head(&tx)?;
        if number > head {
            return Err(ProviderError::StateNotAvailable { requested: number, head });
        }
        let mut overlay = if number == head {
            HashedPostState::default()
        } else {
            revert_state(&tx, number, head)?
        };
        let changes = HashedPostState::from_changes(changes);
        overlay.accounts.extend(changes.accounts);
        for (hashed_address, storage) in changes.storages {
            let merged = overlay.storages.entry(hashed_address).or_default();
            if storage.wiped {
                *merged = storage;
            } else {
                merged.slots.extend(storage.slots);
            }
        }
        Ok(balnode_trie::state_root(&tx, &overlay)?.root)
    }
}

impl StateProofProvider for DatabaseEnv {
    fn proof(
        &self,
        number: BlockNumber,
        address: Address,
        slots: &[StorageKey],
    ) -> ProviderResult<AccountProof> {
        let tx = self.tx_ro()?;
        let (head, _) = metadata::require_head(&tx)?;
        if number > head {
            return Err(ProviderError::StateNotAvailable { requested: number, head });
        }
        let overlay = if number == head {
            HashedPostState::default()
        } else {
            revert_state(&tx, number, head)?
        };
        balnode_trie::account_proof(&tx, &overlay, address, slots)
    }
}

/// What `balnode db verify-root` found: the head's root four ways, and where the tables disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootReport {
    /// The head block.
    pub head_number: BlockNumber,
    /// The state root in the head's header.
    pub header_root: B256,
    /// The root recomputed from scratch over the plain state.
    pub plain_root: B256,
    /// The stored trie checked against the hashed state.
    pub trie: TrieCheck,
    /// The first entry of the hashed tables that differs from the plain state, if any.
    pub hashed_mismatch: Option<String>,
}

impl RootReport {
    /// Whether every root agrees and no table differs.
    pub fn is_consistent(&self) -> bool {
        self.header_root == self.plain_root
            && self.plain_root == self.trie.root
            && self.trie.root == self.trie.stored_root
            && self.trie.first_mismatch.is_none()
            && self.hashed_mismatch.is_none()
    }
}

impl DatabaseEnv {
    /// Recomputes the head's state root from scratch and compares it with the header, the hashed tables
    /// and the stored trie, node by node. Reads one snapshot; writes nothing.
    pub fn verify_root(&self) -> ProviderResult<RootReport> {
        let tx = self.tx_ro()?;
        let (head_number, _) = metadata::require_head(&tx)?;
        let header =
            tx.get::<Headers>(&head_number)?.ok_or(ProviderError::BlockNotFound(head_number))?;
        let hashed_mismatch = first_hashed_difference(&tx)?.map(|found| found.to_string());
        let trie = balnode_trie::check_trie(&tx)?;
        let latest = LatestStateProvider::new(tx);
        let plain_root = balnode_trie::full_state_root(&latest, &Default::default())?;
        Ok(RootReport {
            head_number,
            header_root: header.state_root,
            plain_root,
            trie,
            hashed_mismatch,
        })
    }
}

/// The first hashed key at which the hashed tables differ from the plain state hashed afresh.
pub(crate) fn first_hashed_difference<K: TransactionKind>(
    tx: &DbTx<K>,
) -> ProviderResult<Option<Inconsistency>> {
    let mut expected_accounts = BTreeMap::new();
    let mut cursor = tx.cursor::<PlainAccounts>()?;
    let mut entry = cursor.seek(&Address::ZERO)?;
    while let Some((address, account)) = entry {
        expected_accounts.insert(keccak256(address), (address, account));
        entry = cursor.next()?;
    }
    let mut stored_accounts = BTreeMap::new();
    let mut cursor = tx.cursor::<HashedAccounts>()?;
    let mut entry = cursor.seek(&B256::ZERO)?;
    while let Some((hashed_address, account)) = entry {
        stored_accounts.insert(hashed_address, account);
        entry = cursor.next()?;
    }
    let keys: std::collections::BTreeSet<_> =
        expected_accounts.keys().chain(stored_accounts.keys()).copied().collect();
    for key in keys {
        let expected = expected_accounts.get(&key);
        let stored = stored_accounts.get(&key);
        if expected.map(|(_, account)| account) != stored {
            let address = expected
                .map_or_else(|| "no plain account".to_owned(), |(address, _)| address.to_string());
            return Ok(Some(Inconsistency {
                table: HashedAccounts::NAME,
                key: key.to_string(),
                block: None,
                reason: format!(
                    "({address}): plain state says {:?}, the hashed table says {stored:?}",
                    expected.map(|(_, account)| account)
                ),
            }));
        }
    }

    let mut expected_storage: BTreeMap<B256, (Address, BTreeMap<B256, U256>)> = BTreeMap::new();
    let mut cursor = tx.cursor::<PlainStorage>()?;
    let mut entry = cursor.seek(&Address::ZERO)?;
    while let Some((address, slot)) = entry {
        let (_, slots) = expected_storage
            .entry(keccak256(address))
            .or_insert_with(|| (address, BTreeMap::new()));
        slots.insert(keccak256(slot.slot), slot.value);
        entry = cursor.next()?;
    }
    let mut stored_storage: BTreeMap<B256, BTreeMap<B256, U256>> = BTreeMap::new();
    let mut cursor = tx.cursor::<HashedStorages>()?;
    let mut entry = cursor.seek(&B256::ZERO)?;
    while let Some((hashed_address, slot)) = entry {
        stored_storage.entry(hashed_address).or_default().insert(slot.slot, slot.value);
        entry = cursor.next()?;
    }
    let keys: std::collections::BTreeSet<_> =
        expected_storage.keys().chain(stored_storage.keys()).copied().collect();
    let empty = BTreeMap::new();
    for key in keys {
        let (address, expected) =
            expected_storage.get(&key).map_or((None, &empty), |(a, s)| (Some(*a), s));
        let stored = stored_storage.get(&key).unwrap_or(&empty);
        let slots: std::collections::BTreeSet<_> = expected.keys().chain(stored.keys()).collect();
        for slot in slots {
            if expected.get(slot) != stored.get(slot) {
                return Ok(Some(Inconsistency {
                    table: HashedStorages::NAME,
                    key: key.to_string(),
                    block: None,
                    reason: format!(
                        "({}) slot {slot}: plain state says {:?}, the hashed table says {:?}",
                        address.map_or_else(|| "no plain storage".to_owned(), |a| a.to_string()),
                        expected.get(slot),
                        stored.get(slot)
                    ),
                }));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use balnode_primitives::{BlockBody, Header, StateChanges};
    use balnode_storage_api::{BlockToCommit, BlockWriter};

    /// A store whose genesis has 300 accounts, enough for stored branch nodes, and the root it has.
    fn store() -> (tempfile::TempDir, DatabaseEnv) {
        let dir = tempfile::tempdir().unwrap();
        let env = DatabaseEnv::open(dir.path()).unwrap();
        let mut state = StateChanges::default();
        for n in 0..300u16 {
            let address = Address::left_padding_from(&n.to_be_bytes());
            state.accounts.insert(address, Some(Account { nonce: 1, ..Default::default() }));
            state.storage.entry(address).or_default().slots.insert(B256::ZERO, U256::from(n + 1));
        }
        let root = balnode_trie::state_root(
            &balnode_trie::test_utils::MemoryState::default(),
            &HashedPostState::from_changes(&state),
        )
        .unwrap()
        .root;
        let header = Header { state_root: root, ..Default::default() };
        let genesis = BlockToCommit {
            hash: header.hash_slow(),
            header,
            body: BlockBody { transactions: vec![], ommers: vec![], withdrawals: None },
            senders: vec![],
            receipts: vec![],
            block_access_list: None,
            state,
            trie_updates: None,
        };
        env.init_genesis(1, genesis).unwrap();
        (dir, env)
    }

    #[test]
    fn a_consistent_store_verifies() {
        let (_dir, env) = store();
        let report = env.verify_root().unwrap();
        assert!(report.is_consistent(), "{report:?}");
        assert!(report.trie.nodes > 1);
    }

    #[test]
    fn a_corrupt_trie_node_is_reported_with_its_path() {
        let (_dir, env) = store();
        let tx = env.tx_rw().unwrap();
        let mut cursor = tx.cursor::<AccountsTrie>().unwrap();
        let (root_path, _) = cursor.seek(&Nibbles::default()).unwrap().unwrap();
        let (path, node) = cursor.next().unwrap().expect("a node below the root");
        drop(cursor);
        assert!(root_path.is_empty());
        let mut hashes = (*node.hashes).clone();
        hashes[0] = B256::repeat_byte(0xee);
        let corrupt =
            BranchNodeCompact::new(node.state_mask, node.tree_mask, node.hash_mask, hashes, None);
        tx.put::<AccountsTrie>(&path, &corrupt).unwrap();
        tx.commit().unwrap();

        let report = env.verify_root().unwrap();
        assert!(!report.is_consistent());
        let mismatch = report.trie.first_mismatch.expect("the node is found");
        assert_eq!(mismatch.path, path);
        assert_eq!(mismatch.stored, Some(corrupt));
        assert_eq!(report.plain_root, report.header_root);
        assert_eq!(report.trie.root, report.header_root, "the hashed state is intact");
    }

    #[test]
    fn hashed_state_that_disagrees_with_plain_state_is_reported() {
        let (_dir, env) = store();
        let address = Address::left_padding_from(&7u16.to_be_bytes());
        let tx = env.tx_rw().unwrap();
        tx.put::<HashedAccounts>(&keccak256(address), &Account { nonce: 9, ..Default::default() })
            .unwrap();
        tx.commit().unwrap();

        let report = env.verify_root().unwrap();
        assert!(!report.is_consistent());
        let message = report.hashed_mismatch.expect("the entry is found");
        assert!(message.contains(&address.to_string()), "{message}");
        assert_ne!(report.trie.root, report.plain_root);
        assert_eq!(report.plain_root, report.header_root);
    }
}
