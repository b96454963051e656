//! The state the optimistic mode's threads read: the parent state through one cache they all share, and the
//! values the committer has committed so far laid over it for the workers.
//!
//! Without a shared cache every speculative transaction (each on a fresh view, so that its reads can be
//! recorded) read every account and slot from the store again and analysed every contract's code again.
//! Here each is read once per block, by whichever thread first needs it or reads it ahead (`prefetch`: what
//! the block names of its reads), on that thread's own store reader, and code is analysed once; the reads it
//! served and those that went to the store are counted. The committed values let a transaction speculate on
//! the state after the transactions already committed rather than on the parent state: a transaction that
//! reads what an earlier one wrote then usually validates instead of executing again in the committer.
//!
//! What a worker reads may mix values committed at different times; that costs nothing in correctness: the
//! committer validates every value a transaction read against its own state before the transaction.

use std::sync::atomic::Ordering;

use balnode_primitives::{Address, B256, KECCAK256_EMPTY, U256};
use balnode_storage_api::StateProvider;
use revm::{
    database_interface::DatabaseRef,
    primitives::map::DefaultHashBuilder,
    state::{AccountInfo, Bytecode, EvmState},
};

use crate::{
    database::{DatabaseError, StateProviderDatabase},
    prefetch::Counter,
};

/// A map the block's threads share, with alloy's fast hasher (dashmap's default, SipHash, showed in the
/// optimistic mode's profile: every read of a worker's transaction looks up one or two of these).
type DashMap<K, V> = dashmap::DashMap<K, V, DefaultHashBuilder>;

/// The parent state shared by a block's threads, with the committed values over it (see the module docs).
pub(crate) struct SharedState<'r> {
    /// The reader of threads without one of their own (and of the committer).
    shared: StateProviderDatabase<&'r dyn StateProvider>,
    /// One reader per pool thread: a store reader shared by threads may serialise them.
    readers: Vec<StateProviderDatabase<Box<dyn StateProvider>>>,
    /// Parent accounts, with their code attached.
    accounts: DashMap<Address, Option<AccountInfo>>,
    /// Parent code by hash, analysed.
    code: DashMap<B256, Bytecode>,
    /// Parent slots.
    storage: DashMap<(Address, U256), U256>,
    /// Accounts as committed so far (`None`: deleted).
    committed_accounts: DashMap<Address, Option<AccountInfo>>,
    /// Slots as committed so far.
    committed_storage: DashMap<(Address, U256), U256>,
    /// Reads of the parent state served from the cache, one counter per pool thread (and one for the others).
    hits: Vec<Counter>,
    /// Reads of the parent state that went to the store (not counting [`SharedState::prefetch`]'s).
    misses: Vec<Counter>,
    /// Accounts and slots [`SharedState::prefetch`] read from the store.
    read_ahead: [Counter; 2],
}

impl std::fmt::Debug for SharedState<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedState")
            .field("accounts", &self.accounts.len())
            .field("storage", &self.storage.len())
            .field("committed_accounts", &self.committed_accounts.len())
            .finish_non_exhaustive()
    }
}

impl<'r> SharedState<'r> {
    /// Over `shared`, with `readers` (one per thread of the current pool, or none) of the same state.
    pub(crate) fn new(shared: &'r dyn StateProvider, readers: Vec<Box<dyn StateProvider>>) -> Self {
        Self {
            shared: StateProviderDatabase(shared),
            readers: readers.into_iter().map(StateProviderDatabase).collect(),
            accounts: DashMap::default(),
            code: DashMap::default(),
            storage: DashMap::default(),
            committed_accounts: DashMap::default(),
            committed_storage: DashMap::default(),
            hits: counters(),
            misses: counters(),
            read_ahead: Default::default(),
        }
    }

    /// Reads `address` (with its code) and `slots` of the parent state into the cache, unless there already.
    /// A read that fails is left to execution, which will make it again and report it.
    pub(crate) fn prefetch(&self, address: Address, slots: &[U256]) {
        if !self.accounts.contains_key(&address) && self.load_basic(address).is_ok() {
            self.read_ahead[0].0.fetch_add(1, Ordering::Relaxed);
        }
        for slot in slots {
            if !self.storage.contains_key(&(address, *slot))
                && self.load_storage(address, *slot).is_ok()
            {
                self.read_ahead[1].0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The accounts and slots read ahead, and how many reads of the parent state the cache served and how
    /// many went to the store, so far.
    pub(crate) fn counts(&self) -> ((usize, usize), (u64, u64)) {
        let sum = |counters: &[Counter]| -> u64 {
            counters.iter().map(|counter| counter.0.load(Ordering::Relaxed)).sum()
        };
        let [accounts, slots] = &self.read_ahead;
        let read_ahead = |counter: &Counter| counter.0.load(Ordering::Relaxed) as usize;
        ((read_ahead(accounts), read_ahead(slots)), (sum(&self.hits), sum(&self.misses)))
    }

    fn count(counters: &[Counter]) {
        let thread = rayon::current_thread_index().map_or(0, |index| index + 1);
        counters[thread % counters.len()].0.fetch_add(1, Ordering::Relaxed);
    }

    /// The parent state only (the committer's view: its own `State` holds what it committed).
    pub(crate) const fn parent(&self) -> ParentView<'_, 'r> {
        ParentView(self)
    }

    /// The committed values over the parent state (the workers' view).
    pub(crate) const fn latest(&self) -> LatestView<'_, 'r> {
        LatestView(self)
    }

    /// Publishes what a committed transaction changed ([`changed_keys`]) for the workers to read: the values
    /// its changes hold, or those it left in `state`, the committer's state after the commit.
    pub(crate) fn publish<D: revm::Database>(
        &self,
        changes: Vec<Changed>,
        state: &mut D,
    ) -> Result<(), D::Error> {
        for Changed { address, values } in changes {
            match values {
                Values::Set(info, slots) => {
                    self.committed_accounts.insert(address, Some(info));
                    for (slot, value) in slots {
                        self.committed_storage.insert((address, slot), value);
                    }
                }
                Values::ReadBack(slots) => {
                    let info = revm::Database::basic(state, address)?;
                    self.committed_accounts.insert(address, info);
                    for slot in slots {
                        let value = revm::Database::storage(state, address, slot)?;
                        self.committed_storage.insert((address, slot), value);
                    }
                }
            }
        }
        Ok(())
    }

    fn reader(&self) -> &dyn DatabaseRef<Error = DatabaseError> {
        match rayon::current_thread_index().and_then(|index| self.readers.get(index)) {
            Some(reader) => reader,
            None => &self.shared,
        }
    }

    fn parent_code(&self, code_hash: B256) -> Result<Bytecode, DatabaseError> {
        if code_hash == KECCAK256_EMPTY {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.code.get(&code_hash) {
            return Ok(code.clone());
        }
        let code = self.reader().code_by_hash_ref(code_hash)?;
        self.code.insert(code_hash, code.clone());
        Ok(code)
    }

    fn parent_basic(&self, address: Address) -> Result<Option<AccountInfo>, DatabaseError> {
        if let Some(info) = self.accounts.get(&address) {
            Self::count(&self.hits);
            return Ok(info.clone());
        }
        Self::count(&self.misses);
        self.load_basic(address)
    }

    fn load_basic(&self, address: Address) -> Result<Option<AccountInfo>, DatabaseError> {
        let mut info = self.reader().basic_ref(address)?;
        if let Some(info) = info.as_mut() {
            info.code = Some(self.parent_code(info.code_hash)?);
        }
        self.accounts.insert(address, info.clone());
        Ok(info)
    }

    fn parent_storage(&self, address: Address, slot: U256) -> Result<U256, DatabaseError> {
        if let Some(value) = self.storage.get(&(address, slot)) {
            Self::count(&self.hits);
            return Ok(*value);
        }
        Self::count(&self.misses);
        self.load_storage(address, slot)
    }

    fn load_storage(&self, address: Address, slot: U256) -> Result<U256, DatabaseError> {
        let value = self.reader().storage_ref(address, slot)?;
        self.storage.insert((address, slot), value);
        Ok(value)
    }
}

/// One counter per thread of the current pool, and one for the threads outside it.
fn counters() -> Vec<Counter> {
    std::iter::repeat_with(Counter::default).take(rayon::current_num_threads() + 1).collect()
}

/// An account a committed transaction touched, as [`SharedState::publish`] publishes it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Changed {
    address: Address,
    values: Values,
}

/// An account's values after a commit.
#[derive(Debug, PartialEq, Eq)]
enum Values {
    /// As the transaction's changes hold them: the account, and the slots it changed with their values.
    Set(AccountInfo, Vec<(U256, U256)>),
    /// As the committer's state holds them after the commit, for the accounts whose fate its bookkeeping
    /// decides (a self-destructed account; an empty one, which EIP-161 deletes): the slots the
    /// transaction changed.
    ReadBack(Vec<U256>),
}

/// The accounts a transaction's changes touch and the slots they change, with their values: what
/// [`SharedState::publish`] publishes once they are committed.
pub(crate) fn changed_keys(changes: &EvmState) -> Vec<Changed> {
    changes
        .iter()
        .filter(|(_, account)| account.is_touched())
        .map(|(address, account)| {
            let changed = account.storage.iter().filter(|(_, slot)| slot.is_changed());
            let values = if account.is_selfdestructed() || account.is_empty() {
                Values::ReadBack(changed.map(|(slot, _)| *slot).collect())
            } else {
                Values::Set(
                    account.info.clone(),
                    changed.map(|(slot, value)| (*slot, value.present_value)).collect(),
                )
            };
            Changed { address: *address, values }
        })
        .collect()
}

/// The parent state through the shared cache.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParentView<'a, 'r>(&'a SharedState<'r>);

impl DatabaseRef for ParentView<'_, '_> {
    type Error = DatabaseError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        self.0.parent_basic(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.0.parent_code(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.0.parent_storage(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.0.shared.block_hash_ref(number)
    }
}

/// The committed values over the parent state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LatestView<'a, 'r>(&'a SharedState<'r>);

impl DatabaseRef for LatestView<'_, '_> {
    type Error = DatabaseError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        if let Some(info) = self.0.committed_accounts.get(&address) {
            return Ok(info.clone());
        }
        self.0.parent_basic(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        // Code is immutable under its hash; code created in the block comes attached to its account.
        self.0.parent_code(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if let Some(value) = self.0.committed_storage.get(&(address, index)) {
            return Ok(*value);
        }
        self.0.parent_storage(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.0.shared.block_hash_ref(number)
    }
}

#[cfg(test)]
mod tests {
    use balnode_primitives::{Account, BlockHash, BlockNumber, Bytes, StorageKey, StorageValue};
    use balnode_storage_api::{AccountReader, BlockHashReader, BytecodeReader, ProviderResult};

    use super::*;

    /// One account with a balance of 1 and every slot at 7.
    #[derive(Debug)]
    struct OneAccount;

    impl AccountReader for OneAccount {
        fn basic_account(&self, _: Address) -> ProviderResult<Option<Account>> {
            Ok(Some(Account { balance: U256::from(1), ..Default::default() }))
        }
    }

    impl BytecodeReader for OneAccount {
        fn bytecode_by_hash(&self, _: B256) -> ProviderResult<Option<Bytes>> {
            Ok(None)
        }
    }

    impl BlockHashReader for OneAccount {
        fn block_hash(&self, _: BlockNumber) -> ProviderResult<Option<BlockHash>> {
            Ok(None)
        }
    }

    impl StateProvider for OneAccount {
        fn storage(&self, _: Address, _: StorageKey) -> ProviderResult<Option<StorageValue>> {
            Ok(Some(U256::from(7)))
        }
    }

    #[test]
    fn what_was_read_ahead_is_a_hit_and_the_rest_a_miss() {
        let (read_ahead, not) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let state = SharedState::new(&OneAccount, Vec::new());
        state.prefetch(read_ahead, &[U256::from(1)]);
        state.prefetch(read_ahead, &[U256::from(1)]);
        assert_eq!(state.counts(), ((1, 1), (0, 0)), "read ahead once, neither a hit nor a miss");
        let parent = state.parent();
        assert_eq!(parent.basic_ref(read_ahead).unwrap().unwrap().balance, U256::from(1));
        assert_eq!(parent.storage_ref(read_ahead, U256::from(1)).unwrap(), U256::from(7));
        assert_eq!(state.counts().1, (2, 0));
        assert_eq!(parent.storage_ref(read_ahead, U256::from(2)).unwrap(), U256::from(7));
        assert_eq!(parent.basic_ref(not).unwrap().unwrap().balance, U256::from(1));
        assert_eq!(state.counts().1, (2, 2));
        // Once read, from the cache.
        parent.basic_ref(not).unwrap();
        assert_eq!(state.counts().1, (3, 2));
    }

    #[test]
    fn touched_accounts_and_changed_slots_are_published() {
        use revm::state::{Account, EvmStorageSlot, TransactionId};
        let (touched, read) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let mut changes = EvmState::default();
        let mut account = Account::default();
        account.storage.insert(
            U256::from(1),
            EvmStorageSlot::new_changed(U256::ZERO, U256::from(5), TransactionId::ZERO),
        );
        account
            .storage
            .insert(U256::from(2), EvmStorageSlot::new(U256::from(7), TransactionId::ZERO));
        account.info.nonce = 1;
        account.mark_touch();
        changes.insert(touched, account.clone());
        changes.insert(read, Account::default());
        let expected = Values::Set(account.info.clone(), vec![(U256::from(1), U256::from(5))]);
        assert_eq!(changed_keys(&changes), vec![Changed { address: touched, values: expected }]);
        // An account left empty or self-destructed: what the committer's state made of it.
        let (emptied, destroyed) = (Address::repeat_byte(3), Address::repeat_byte(4));
        let mut empty = Account::default();
        empty.mark_touch();
        let mut selfdestructed = account;
        selfdestructed.mark_selfdestruct();
        let changes = EvmState::from_iter([(emptied, empty), (destroyed, selfdestructed)]);
        let mut changed = changed_keys(&changes);
        changed.sort_by_key(|changed| changed.address);
        assert_eq!(
            changed,
            vec![
                Changed { address: emptied, values: Values::ReadBack(vec![]) },
                Changed { address: destroyed, values: Values::ReadBack(vec![U256::from(1)]) },
            ]
        );
    }
}
