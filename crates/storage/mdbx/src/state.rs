//! State views: at the head from plain state, and after an earlier block through the history indexes.

use crate::{
    codec::Encode,
    error::corrupt_entry,
    models::{AccountHistoryKey, BlockAddress, StorageHistoryKey},
    tables::{
        AccountChangeSets, AccountHistory, Bytecodes, CanonicalHashes, PlainAccounts, PlainStorage,
        StorageChangeSets, StorageHistory,
    },
    tx::DbTx,
};
use balnode_primitives::{Account, Address, B256, BlockNumber, Bytes, StorageKey, StorageValue};
use balnode_storage_api::{
    AccountReader, BlockHashReader, BytecodeReader, PlainStateReader, ProviderResult, StateProvider,
};
use signet_libmdbx::RoSync;

/// The account at the head.
fn plain_account(tx: &DbTx<RoSync>, address: Address) -> ProviderResult<Option<Account>> {
    tx.get::<PlainAccounts>(&address)
}

/// The slot's value at the head.
fn plain_storage(
    tx: &DbTx<RoSync>,
    address: Address,
    slot: StorageKey,
) -> ProviderResult<Option<StorageValue>> {
    let entry = tx.cursor::<PlainStorage>()?.get_dup(&address, &slot)?;
    Ok(entry.map(|entry| entry.value).filter(|value| !value.is_zero()))
}

/// State after the head block, read from plain state in one read transaction.
#[derive(Debug)]
pub struct LatestStateProvider {
    tx: DbTx<RoSync>,
}

impl LatestStateProvider {
    pub(crate) const fn new(tx: DbTx<RoSync>) -> Self {
        Self { tx }
    }

    /// The read transaction.
    pub(crate) const fn tx(&self) -> &DbTx<RoSync> {
        &self.tx
    }
}

impl AccountReader for LatestStateProvider {
    fn basic_account(&self, address: Address) -> ProviderResult<Option<Account>> {
        plain_account(&self.tx, address)
    }
}

impl BytecodeReader for LatestStateProvider {
    fn bytecode_by_hash(&self, code_hash: B256) -> ProviderResult<Option<Bytes>> {
        self.tx.get::<Bytecodes>(&code_hash)
    }
}

impl BlockHashReader for LatestStateProvider {
    fn block_hash(&self, number: BlockNumber) -> ProviderResult<Option<B256>> {
        self.tx.get::<CanonicalHashes>(&number)
    }
}

impl PlainStateReader for LatestStateProvider {
    fn plain_accounts(&self) -> ProviderResult<Vec<(Address, Account)>> {
        let mut cursor = self.tx.cursor::<PlainAccounts>()?;
        let mut accounts = Vec::new();
        let mut next = cursor.seek(&Address::ZERO)?;
        while let Some(entry) = next {
            accounts.push(entry);
            next = cursor.next()?;
        }
        Ok(accounts)
    }

    fn plain_storage(&self, address: Address) -> ProviderResult<Vec<(StorageKey, StorageValue)>> {
        let entries = self.tx.cursor::<PlainStorage>()?.dups(&address)?;
        Ok(entries.into_iter().map(|entry| (entry.slot, entry.value)).collect())
    }
}

impl StateProvider for LatestStateProvider {
    fn storage(&self, address: Address, key: StorageKey) -> ProviderResult<Option<StorageValue>> {
        plain_storage(&self.tx, address, key)
    }
}

/// State as it was after block `block`, below the head, in one read transaction.
///
/// A value is its pre-value in the first block after `block` that changed it, found with one seek in the
/// history index and one lookup in the change sets; a value no later block changed is the plain-state value.
#[derive(Debug)]
pub struct HistoricalStateProvider {
    tx: DbTx<RoSync>,
    block: BlockNumber,
}

impl HistoricalStateProvider {
    pub(crate) const fn new(tx: DbTx<RoSync>, block: BlockNumber) -> Self {
        Self { tx, block }
    }

    /// The block after which this view sees state.
    pub const fn block(&self) -> BlockNumber {
        self.block
    }

    /// The first block after this view's block that changed the account, if any.
    fn account_changed_at(&self, address: Address) -> ProviderResult<Option<BlockNumber>> {
        let from = AccountHistoryKey { address, block_number: self.block + 1 };
        let entry = self.tx.cursor::<AccountHistory>()?.seek(&from)?;
        Ok(entry.filter(|(key, ())| key.address == address).map(|(key, ())| key.block_number))
    }

    /// The first block after this view's block that changed the slot, if any.
    fn slot_changed_at(&self, address: Address, slot: B256) -> ProviderResult<Option<BlockNumber>> {
        let from = StorageHistoryKey { address, slot, block_number: self.block + 1 };
        let entry = self.tx.cursor::<StorageHistory>()?.seek(&from)?;
        Ok(entry
            .filter(|(key, ())| key.address == address && key.slot == slot)
            .map(|(key, ())| key.block_number))
    }
}

impl AccountReader for HistoricalStateProvider {
    fn basic_account(&self, address: Address) -> ProviderResult<Option<Account>> {
        let Some(block_number) = self.account_changed_at(address)? else {
            return plain_account(&self.tx, address);
        };
        let change = self.tx.cursor::<AccountChangeSets>()?.get_dup(&block_number, &address)?;
        let change = change.ok_or_else(|| {
            corrupt_entry::<AccountChangeSets>(
                &block_number.encode(),
                format!("no entry for {address}, which the account history says block {block_number} changed"),
            )
        })?;
        Ok(change.account)
    }
}

impl BytecodeReader for HistoricalStateProvider {
    fn bytecode_by_hash(&self, code_hash: B256) -> ProviderResult<Option<Bytes>> {
        // Code is never deleted, so the head's table serves every block.
        self.tx.get::<Bytecodes>(&code_hash)
    }
}

impl BlockHashReader for HistoricalStateProvider {
    /// The canonical hash at `number`, for the blocks up to this view's; `None` above it, as those did not
    /// exist when this state was current.
    fn block_hash(&self, number: BlockNumber) -> ProviderResult<Option<B256>> {
        if number > self.block {
            return Ok(None);
        }
        self.tx.get::<CanonicalHashes>(&number)
    }
}

impl StateProvider for HistoricalStateProvider {
    fn storage(&self, address: Address, key: StorageKey) -> ProviderResult<Option<StorageValue>> {
        let Some(block_number) = self.slot_changed_at(address, key)? else {
            return plain_storage(&self.tx, address, key);
        };
        let change_key = BlockAddress { block_number, address };
        let change = self.tx.cursor::<StorageChangeSets>()?.get_dup(&change_key, &key)?;
        let change = change.ok_or_else(|| {
            corrupt_entry::<StorageChangeSets>(
                &change_key.encode(),
                format!("no entry for slot {key}, which the storage history says block {block_number} changed"),
            )
        })?;
        Ok(Some(change.value).filter(|value| !value.is_zero()))
    }
}
