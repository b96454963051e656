//! [`BlockWriter`] for [`DatabaseEnv`]: committing blocks with their change sets, and unwinding them.
//!
//! A block's state changes arrive as post-values. The writer reads each value it is about to overwrite from
//! plain state and records it in the block's change set, with a history entry pointing at the block; an unwind
//! puts those pre-values back. Everything a call does happens in one write transaction, so a failure (or a
//! block that does not extend the head) leaves the store as it was.
//!
//! The hashed tables get the same changes, keyed by hash, and the trie tables the node updates of the block:
//! those the caller computed with the state root ([`BlockToCommit::trie_updates`]), or else computed here from
//! the parent's tables before they change. An unwind first computes, over the head's tables, the trie of the
//! state it returns to (the values the change sets hold laid over them), then puts the values back.

use crate::{
    codec::Encode,
    env::DatabaseEnv,
    error::corrupt_entry,
    metadata,
    models::{AccountChange, AccountHistoryKey, BlockAddress, StorageEntry, StorageHistoryKey},
    tables::{
        AccountChangeSets, AccountHistory, BlockAccessLists, BlockBodies, Bytecodes,
        CanonicalHashes, HashedStorages, HeaderNumbers, Headers, PlainAccounts, PlainStorage,
        Receipts, Senders, StorageChangeSets, StorageHistory, TxLookup,
    },
    trie::{revert_state, write_hashed_state, write_trie_updates},
    tx::DbTx,
};
use balnode_primitives::{
    Address, B256, BlockHash, BlockNumber, StateChanges, StorageChanges, U256,
};
use balnode_storage_api::{BlockToCommit, BlockWriter, ProviderError, ProviderResult, TxLocation};
use balnode_trie::HashedPostState;
use signet_libmdbx::Rw;
use std::collections::HashSet;
use tracing::debug;

impl BlockWriter for DatabaseEnv {
    /// Writes block 0 and the store's identity.
    ///
    /// A store that already has a head rejects it with [`ProviderError::NotNextBlock`], since genesis does not
    /// extend that head. Block 0 gets no change sets: nothing can be unwound below it.
    fn init_genesis(&self, chain_id: u64, genesis: BlockToCommit) -> ProviderResult<()> {
        let tx = self.tx_rw()?;
        if let Some((head_number, head_hash)) = metadata::head(&tx)? {
            return Err(not_next_block(&genesis, head_number + 1, head_hash));
        }
        if genesis.header.number != 0 {
            return Err(not_next_block(&genesis, 0, genesis.header.parent_hash));
        }
        write_block(&tx, &genesis, false)?;
        metadata::write_identity(&tx, chain_id, genesis.hash)?;
        metadata::write_head(&tx, 0, genesis.hash)?;
        tx.commit()?;
        debug!(target: "storage::mdbx", chain_id, genesis = %genesis.hash, "Initialised genesis");
        Ok(())
    }

    fn commit_blocks(&self, blocks: Vec<BlockToCommit>) -> ProviderResult<()> {
        let tx = self.tx_rw()?;
        let (mut head_number, mut head_hash) = metadata::require_head(&tx)?;
        for block in &blocks {
            if block.header.number != head_number + 1 || block.header.parent_hash != head_hash {
                // Dropping `tx` aborts it: nothing of the batch is written.
                return Err(not_next_block(block, head_number + 1, head_hash));
            }
            write_block(&tx, block, true)?;
            (head_number, head_hash) = (block.header.number, block.hash);
        }
        metadata::write_head(&tx, head_number, head_hash)?;
        tx.commit()?;
        debug!(target: "storage::mdbx", count = blocks.len(), head = head_number, %head_hash, "Committed blocks");
        Ok(())
    }

    fn unwind_to(&self, target: BlockNumber) -> ProviderResult<()> {
        let tx = self.tx_rw()?;
        let (head, _) = metadata::require_head(&tx)?;
        if target >= head {
            return Err(ProviderError::InvalidUnwind { target, head });
        }
        // The trie of the state after `target`, computed over the head's tables before they change.
        let mut reverts = revert_state(&tx, target, head)?;
        // Rebuild the storage tries the unwound blocks touched from scratch: each is marked wiped and given
        // its whole storage after `target`, so the walk cannot reuse a node of the head's storage trie that
        // the restored storage does not have (a self-destruct in between changes their shape).
        for (hashed_address, storage) in &mut reverts.storages {
            for entry in tx.cursor::<HashedStorages>()?.dups(hashed_address)? {
                storage.slots.entry(entry.slot).or_insert(entry.value);
            }
            storage.wiped = true;
        }
        let trie = balnode_trie::state_root(&tx, &reverts)?;
        for number in (target + 1..=head).rev() {
            unwind_block(&tx, number)?;
        }
        write_hashed_state(&tx, &reverts)?;
        write_trie_updates(&tx, &trie.updates)?;
        debug!(target: "storage::mdbx", target, root = %trie.root, "Restored the trie");
        let target_hash =
            tx.get::<CanonicalHashes>(&target)?.ok_or(ProviderError::BlockNotFound(target))?;
        metadata::write_head(&tx, target, target_hash)?;
        // Markers above the new head name blocks the store no longer has.
        let mut markers = metadata::forkchoice_markers(&tx)?;
        markers.safe = markers.safe.map(|number| number.min(target));
        markers.finalized = markers.finalized.map(|number| number.min(target));
        metadata::write_forkchoice_markers(&tx, markers)?;
        tx.commit()?;
        debug!(target: "storage::mdbx", from = head, to = target, "Unwound blocks");
        Ok(())
    }
}

/// The error for `block`, which is not block `expected_number` on top of `expected_parent`.
fn not_next_block(
    block: &BlockToCommit,
    expected_number: BlockNumber,
    expected_parent: BlockHash,
) -> ProviderError {
    ProviderError::NotNextBlock {
        number: block.header.number,
        hash: block.hash,
        parent: block.header.parent_hash,
        expected_number,
        expected_parent,
    }
}

/// Writes `block`'s data and state changes; with `record_changes`, also its change sets and history entries.
fn write_block(tx: &DbTx<Rw>, block: &BlockToCommit, record_changes: bool) -> ProviderResult<()> {
    let number = block.header.number;
    tx.put::<Headers>(&number, &block.header)?;
    tx.put::<CanonicalHashes>(&number, &block.hash)?;
    tx.put::<HeaderNumbers>(&block.hash, &number)?;
    tx.put::<BlockBodies>(&number, &block.body)?;
    tx.put::<Senders>(&number, &block.senders)?;
    tx.put::<Receipts>(&number, &block.receipts)?;
    if let Some(bal) = &block.block_access_list {
        tx.put::<BlockAccessLists>(&number, bal)?;
    }
    for (index, transaction) in (0..).zip(&block.body.transactions) {
        tx.put::<TxLookup>(transaction.tx_hash(), &TxLocation { block_number: number, index })?;
    }
    let changes = record_changes.then_some(number);
    let hashed = HashedPostState::from_changes(&block.state);
    // Computed before any table changes: the walk needs the parent's hashed state and trie.
    let computed;
    let trie_updates = match &block.trie_updates {
        Some(updates) => updates,
        None => {
            computed = balnode_trie::state_root(tx, &hashed)?.updates;
            &computed
        }
    };
    write_state(tx, &block.state, changes)?;
    write_hashed_state(tx, &hashed)?;
    write_trie_updates(tx, trie_updates)
}

/// Applies `state` to plain state, recording pre-values under block `changes` when given.
fn write_state(
    tx: &DbTx<Rw>,
    state: &StateChanges,
    changes: Option<BlockNumber>,
) -> ProviderResult<()> {
    for (&address, account) in &state.accounts {
        if let Some(block_number) = changes {
            let pre = tx.get::<PlainAccounts>(&address)?;
            tx.put::<AccountChangeSets>(&block_number, &AccountChange { address, account: pre })?;
            tx.put::<AccountHistory>(&AccountHistoryKey { address, block_number }, &())?;
        }
        match account {
            Some(account) => tx.put::<PlainAccounts>(&address, account)?,
            None => tx.delete::<PlainAccounts>(&address)?,
        }
    }
    for (&address, storage) in &state.storage {
        write_storage(tx, address, storage, changes)?;
    }
    for (hash, code) in &state.bytecodes {
        tx.put::<Bytecodes>(hash, code)?;
    }
    Ok(())
}

/// Applies one account's storage changes, recording each slot's pre-value at most once per block: a slot
/// that is wiped and then written again keeps the value it had before the block.
fn write_storage(
    tx: &DbTx<Rw>,
    address: Address,
    storage: &StorageChanges,
    changes: Option<BlockNumber>,
) -> ProviderResult<()> {
    let mut recorded = HashSet::new();
    let mut record = |slot: B256, pre: U256| -> ProviderResult<()> {
        let Some(block_number) = changes else { return Ok(()) };
        if recorded.insert(slot) {
            let key = BlockAddress { block_number, address };
            tx.put::<StorageChangeSets>(&key, &StorageEntry { slot, value: pre })?;
            tx.put::<StorageHistory>(&StorageHistoryKey { address, slot, block_number }, &())?;
        }
        Ok(())
    };

    if storage.wiped {
        for entry in tx.cursor::<PlainStorage>()?.dups(&address)? {
            record(entry.slot, entry.value)?;
        }
        tx.delete::<PlainStorage>(&address)?;
    }
    let mut cursor = tx.cursor::<PlainStorage>()?;
    for (&slot, &value) in &storage.slots {
        let pre = cursor.take_dup(&address, &slot)?.map_or(U256::ZERO, |entry| entry.value);
        record(slot, pre)?;
        if !value.is_zero() {
            tx.put::<PlainStorage>(&address, &StorageEntry { slot, value })?;
        }
    }
    Ok(())
}

/// Removes block `number`, the head, restoring the state before it from its change sets.
fn unwind_block(tx: &DbTx<Rw>, number: BlockNumber) -> ProviderResult<()> {
    for change in tx.cursor::<AccountChangeSets>()?.dups(&number)? {
        let address = change.address;
        match change.account {
            Some(account) => tx.put::<PlainAccounts>(&address, &account)?,
            None => tx.delete::<PlainAccounts>(&address)?,
        }
        tx.delete::<AccountHistory>(&AccountHistoryKey { address, block_number: number })?;
    }
    tx.delete::<AccountChangeSets>(&number)?;

    for (key, entry) in storage_changes(tx, number)? {
        let BlockAddress { address, .. } = key;
        tx.cursor::<PlainStorage>()?.take_dup(&address, &entry.slot)?;
        if !entry.value.is_zero() {
            tx.put::<PlainStorage>(&address, &entry)?;
        }
        tx.delete::<StorageHistory>(&StorageHistoryKey {
            address,
            slot: entry.slot,
            block_number: number,
        })?;
        // Deleting a key removes all its duplicates; later entries of the same key find nothing to delete.
        tx.delete::<StorageChangeSets>(&key)?;
    }

    let hash = tx.get::<CanonicalHashes>(&number)?.ok_or(ProviderError::BlockNotFound(number))?;
    let body = tx.get::<BlockBodies>(&number)?.ok_or_else(|| {
        corrupt_entry::<BlockBodies>(
            &number.encode(),
            "the body of a canonical block is missing".into(),
        )
    })?;
    for transaction in &body.transactions {
        tx.delete::<TxLookup>(transaction.tx_hash())?;
    }
    tx.delete::<Headers>(&number)?;
    tx.delete::<CanonicalHashes>(&number)?;
    tx.delete::<HeaderNumbers>(&hash)?;
    tx.delete::<BlockBodies>(&number)?;
    tx.delete::<Senders>(&number)?;
    tx.delete::<Receipts>(&number)?;
    tx.delete::<BlockAccessLists>(&number)
}

/// Every storage change set entry of block `number`, over all accounts.
fn storage_changes(
    tx: &DbTx<Rw>,
    number: BlockNumber,
) -> ProviderResult<Vec<(BlockAddress, StorageEntry)>> {
    let mut cursor = tx.cursor::<StorageChangeSets>()?;
    let mut entries = Vec::new();
    let mut entry = cursor.seek(&BlockAddress { block_number: number, address: Address::ZERO })?;
    while let Some((key, value)) = entry.filter(|(key, _)| key.block_number == number) {
        entries.push((key, value));
        entry = cursor.next()?;
    }
    Ok(entries)
}
