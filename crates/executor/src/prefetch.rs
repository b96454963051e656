//! Access-list-driven prefetching: before a block runs, every account, slot and contract code its block
//! access list names is read from the parent state, in parallel, into one read-only cache that all workers
//! share. Code is decoded (and analysed) once per block instead of once per transaction, and once per
//! contract, however many accounts hold it ([`CodeClaims`]).
//!
//! A block without a list says less about what it reads, but not nothing ([`block_hints`]): its beneficiary,
//! each transaction's sender and recipient (with the recipient's code), the accounts and slots of its EIP-2930
//! access list, the accounts its EIP-7702 authorizations delegate to, the withdrawals' recipients. The
//! optimistic mode reads those ahead into its shared cache.

use std::{
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use balnode_primitives::{
    Address, B256, Block, KECCAK256_EMPTY, U256,
    consensus::Transaction,
    eips::eip7928::{AccountChanges, BlockAccessList},
    primitives::map::{AddressMap, B256Map, B256Set, HashMap},
};
use balnode_storage_api::{ProviderResult, StateProvider};
use revm::{
    database_interface::DatabaseRef,
    state::{AccountInfo, Bytecode},
};

use crate::{
    database::{DatabaseError, StateProviderDatabase},
    schedule::{lock, run_dynamic},
};

/// One account as prefetched: its info (with its code) and the slots the list names.
#[derive(Debug, Default)]
pub(crate) struct PrefetchedAccount {
    info: Option<AccountInfo>,
    storage: HashMap<U256, U256>,
}

/// What a prefetch read and how the cache served execution: the BAL mode's, of everything the list names,
/// or the optimistic mode's, of what the block names without a list (its senders, recipients, EIP-2930
/// lists...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefetchStats {
    /// Accounts read ahead.
    pub accounts: usize,
    /// Storage slots read ahead.
    pub slots: usize,
    /// Time spent reading ahead before execution, from the start of the block's call (the BAL mode's
    /// first round); zero in the optimistic mode, whose reads ahead overlap its execution.
    pub elapsed: Duration,
    /// Reads of the parent state served from the cache.
    pub hits: u64,
    /// Reads of the parent state that went to the store, as nothing had read them ahead (in the BAL mode:
    /// not named by the list; in the optimistic mode: not named by the block, or not yet read by anyone).
    pub misses: u64,
}

impl PrefetchedAccount {
    /// The account as read: `None` if it did not exist.
    pub(crate) fn info(&self) -> Option<&AccountInfo> {
        self.info.as_ref()
    }

    /// A slot read ahead, if it was.
    pub(crate) fn slot(&self, slot: U256) -> Option<U256> {
        self.storage.get(&slot).copied()
    }
}

/// A parent-state view with a read cache filled from a block access list; reads the list does not name go
/// to the store.
pub struct PrefetchedState<P> {
    inner: StateProviderDatabase<P>,
    accounts: AddressMap<PrefetchedAccount>,
    code: B256Map<Bytecode>,
    slots: usize,
    elapsed: Duration,
    /// One counter per worker thread: a single one shared by the workers costs a cache-line transfer per
    /// read.
    hits: Vec<Counter>,
    misses: AtomicU64,
}

/// A counter on a cache line of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counter(pub(crate) AtomicU64);

/// What a block without an access list names of its reads before it is executed, in
/// `1 + transactions` parts: part 0 the beneficiary and the withdrawals' recipients, part `i + 1`
/// transaction `i`'s sender, recipient, EIP-2930 access list (accounts and slots) and EIP-7702 delegates.
/// Execution reads nearly all of them: a sender is charged, a recipient is called or paid, a delegate's
/// code runs when its authority is called (unless the authorization fails), and an EIP-2930 entry is
/// there because the transaction means to read it (warming alone reads nothing). Code comes with its
/// account. Parts repeat accounts: the reader skips what is already read.
pub(crate) fn block_hints<'a>(
    block: &'a Block,
    senders: &'a [Address],
    part: usize,
) -> impl Iterator<Item = (Address, Vec<U256>)> + 'a {
    let block_wide = (part == 0).then(|| {
        let withdrawals = block.body.withdrawals.iter().flatten();
        std::iter::once(block.header.beneficiary)
            .chain(withdrawals.map(|withdrawal| withdrawal.address))
            .map(|address| (address, Vec::new()))
    });
    let transaction = part.checked_sub(1).and_then(|index| {
        let transaction = block.body.transactions.get(index)?;
        let listed =
            transaction.access_list().into_iter().flat_map(|list| list.iter()).map(|item| {
                let slots =
                    item.storage_keys.iter().map(|key| U256::from_be_bytes(key.0)).collect();
                (item.address, slots)
            });
        let delegates = transaction.authorization_list().unwrap_or_default().iter();
        Some(
            [senders.get(index).copied(), transaction.to()]
                .into_iter()
                .flatten()
                .map(|address| (address, Vec::new()))
                .chain(listed)
                .chain(delegates.map(|authorization| (authorization.address, Vec::new()))),
        )
    });
    block_wide.into_iter().flatten().chain(transaction.into_iter().flatten())
}

impl<P> std::fmt::Debug for PrefetchedState<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefetchedState")
            .field("accounts", &self.accounts.len())
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

/// Opens another reader of the same state as the one execution runs on, for one prefetch worker: a store
/// whose readers serialise (one MDBX transaction shared by threads takes a lock per read) needs one per
/// thread to read in parallel. The caller guarantees that nothing is committed in between.
pub type OpenReader<'a> = &'a (dyn Fn() -> ProviderResult<Box<dyn StateProvider>> + Sync);

impl<P: StateProvider> PrefetchedState<P> {
    /// Reads everything `list` names from `state` (or from readers `open_reader` opens, one per thread),
    /// spread over the current rayon pool.
    pub fn new(
        state: P,
        list: &BlockAccessList,
        open_reader: Option<OpenReader<'_>>,
    ) -> Result<Self, DatabaseError> {
        let started = Instant::now();
        let inner = StateProviderDatabase(state);
        let code = CodeClaims::default();
        let cache = PrefetchCache::with_capacity(list.len());
        run_dynamic(
            list.len(),
            // A reader that cannot be opened leaves its thread's share to the shared one (the same state).
            || open_reader.and_then(|open| open().ok()).map(StateProviderDatabase),
            |reader, index| {
                let (address, account) = match reader {
                    Some(reader) => read_account(reader, &list[index], &code),
                    None => read_account(&inner, &list[index], &code),
                }?;
                cache.add(address, account);
                Ok(())
            },
        )
        .into_iter()
        .collect::<Result<(), DatabaseError>>()?;
        Ok(cache.finish(inner.0, started.elapsed()))
    }

    /// The prefetch's size and time, and the hits and misses so far.
    pub fn stats(&self) -> PrefetchStats {
        PrefetchStats {
            accounts: self.accounts.len(),
            slots: self.slots,
            elapsed: self.elapsed,
            hits: self.hits.iter().map(|counter| counter.0.load(Ordering::Relaxed)).sum(),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    #[inline]
    fn hit<T>(&self, value: T) -> T {
        let thread = rayon::current_thread_index().map_or(0, |index| index + 1);
        self.hits[thread % self.hits.len()].0.fetch_add(1, Ordering::Relaxed);
        value
    }

    /// The parent state's account at `address`, as read ahead (not counted as a hit), else from the store.
    pub(crate) fn parent_account(
        &self,
        address: Address,
    ) -> Result<Option<AccountInfo>, DatabaseError> {
        match self.accounts.get(&address) {
            Some(account) => Ok(account.info.clone()),
            None => self.inner.basic_ref(address),
        }
    }

    /// The parent state's value of a slot, as read ahead (not counted as a hit), else from the store.
    pub(crate) fn parent_slot(&self, address: Address, slot: U256) -> Result<U256, DatabaseError> {
        match self.accounts.get(&address).and_then(|account| account.storage.get(&slot)) {
            Some(value) => Ok(*value),
            None => self.inner.storage_ref(address, slot),
        }
    }

    fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }
}

/// A [`PrefetchedState`]'s cache as it is filled, from any thread: each account added as soon as it is read,
/// so that nothing is left to do between reading ahead and executing but [`PrefetchCache::finish`].
#[derive(Debug, Default)]
pub(crate) struct PrefetchCache {
    accounts: Mutex<AddressMap<PrefetchedAccount>>,
    code: Mutex<B256Map<Bytecode>>,
    /// Accounts read without their code, which another account's read brought (see [`CodeClaims`]).
    without_code: Mutex<Vec<Address>>,
    slots: AtomicU64,
}

impl PrefetchCache {
    /// Room for `accounts` accounts.
    pub(crate) fn with_capacity(accounts: usize) -> Self {
        Self {
            accounts: Mutex::new(AddressMap::with_capacity_and_hasher(
                accounts,
                Default::default(),
            )),
            ..Default::default()
        }
    }

    /// Adds an account as [`read_account`] read it.
    pub(crate) fn add(&self, address: Address, account: PrefetchedAccount) {
        self.slots.fetch_add(account.storage.len() as u64, Ordering::Relaxed);
        if let Some(info) = &account.info {
            match &info.code {
                Some(bytecode) => {
                    lock(&self.code).insert(info.code_hash, bytecode.clone());
                }
                None if info.code_hash != KECCAK256_EMPTY => lock(&self.without_code).push(address),
                None => {}
            }
        }
        lock(&self.accounts).insert(address, account);
    }

    /// The cache over `state`, read ahead in `elapsed`. An account whose code another account's read
    /// brought gets it here.
    /// (What it held is moved out.)
    pub(crate) fn finish<P>(&self, state: P, elapsed: Duration) -> PrefetchedState<P> {
        let mut accounts = std::mem::take(&mut *lock(&self.accounts));
        let code = std::mem::take(&mut *lock(&self.code));
        for address in std::mem::take(&mut *lock(&self.without_code)) {
            if let Some(info) = accounts.get_mut(&address).and_then(|account| account.info.as_mut())
            {
                // Read with another account (the reads' claims are disjoint and all made): without it,
                // execution would load it from the store through `code_by_hash_ref`, as for any code.
                info.code = code.get(&info.code_hash).cloned();
            }
        }
        PrefetchedState {
            inner: StateProviderDatabase(state),
            accounts,
            code,
            slots: self.slots.load(Ordering::Relaxed) as usize,
            elapsed,
            hits: std::iter::repeat_with(Counter::default)
                .take(rayon::current_num_threads() + 1)
                .collect(),
            misses: AtomicU64::new(0),
        }
    }
}

/// The code a prefetch's reads have taken to read, by hash: each contract's code is read and analysed once
/// per block, however many accounts hold it (clones, proxies, a factory's pairs: 11% of the mainnet corpus's
/// code bytes are such repeats). The first read of a hash claims it; the others leave their account's code
/// to [`PrefetchCache::finish`].
#[derive(Debug, Default)]
pub(crate) struct CodeClaims(Mutex<B256Set>);

impl CodeClaims {
    /// Whether the caller is the first to claim `code_hash`, and so reads it.
    fn claim(&self, code_hash: B256) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(code_hash)
    }
}

/// One account of the list, with the slots the list names and its code, unless another read of the same
/// prefetch claimed that code first (see [`CodeClaims`]).
pub(crate) fn read_account<D: DatabaseRef<Error = DatabaseError>>(
    state: &D,
    changes: &AccountChanges,
    code: &CodeClaims,
) -> Result<(Address, PrefetchedAccount), DatabaseError> {
    let address = changes.address;
    let mut info = state.basic_ref(address)?;
    if let Some(info) = info.as_mut()
        && info.code_hash != KECCAK256_EMPTY
        && code.claim(info.code_hash)
    {
        info.code = Some(state.code_by_hash_ref(info.code_hash)?);
    }
    let slots = changes
        .storage_reads
        .iter()
        .copied()
        .chain(changes.storage_changes.iter().map(|change| change.slot));
    let storage = slots
        .map(|slot| Ok((slot, state.storage_ref(address, slot)?)))
        .collect::<Result<_, DatabaseError>>()?;
    Ok((address, PrefetchedAccount { info, storage }))
}

impl<P: StateProvider> DatabaseRef for PrefetchedState<P> {
    type Error = DatabaseError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        if let Some(account) = self.accounts.get(&address) {
            return Ok(self.hit(account.info.clone()));
        }
        self.miss();
        self.inner.basic_ref(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if let Some(code) = self.code.get(&code_hash) {
            return Ok(self.hit(code.clone()));
        }
        self.miss();
        self.inner.code_by_hash_ref(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if let Some(value) =
            self.accounts.get(&address).and_then(|account| account.storage.get(&index))
        {
            return Ok(self.hit(*value));
        }
        self.miss();
        self.inner.storage_ref(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.inner.block_hash_ref(number)
    }
}

#[cfg(test)]
mod tests {
    use balnode_primitives::{
        BlockBody, Header,
        consensus::{Signed, TxEip2930, TxEnvelope, TxLegacy},
        eips::{eip2930::AccessListItem, eip4895::Withdrawal},
        primitives::{Signature, TxKind},
    };

    use super::*;

    /// Accounts `0x01..=0x04`, the first three holding one contract's code, the fourth another's; counts the
    /// code it is asked for.
    #[derive(Debug, Default)]
    struct Clones {
        code_reads: AtomicU64,
    }

    impl Clones {
        const SHARED: [u8; 2] = [0x60, 0x01];
        const OTHER: [u8; 2] = [0x60, 0x02];

        fn code_of(address: Address) -> &'static [u8] {
            if address == Address::repeat_byte(4) { &Self::OTHER } else { &Self::SHARED }
        }
    }

    impl balnode_storage_api::AccountReader for Clones {
        fn basic_account(
            &self,
            address: Address,
        ) -> ProviderResult<Option<balnode_primitives::Account>> {
            let code_hash = balnode_primitives::keccak256(Self::code_of(address));
            Ok(Some(balnode_primitives::Account {
                nonce: 1,
                balance: U256::ZERO,
                bytecode_hash: Some(code_hash),
            }))
        }
    }

    impl balnode_storage_api::BytecodeReader for Clones {
        fn bytecode_by_hash(
            &self,
            code_hash: B256,
        ) -> ProviderResult<Option<balnode_primitives::Bytes>> {
            self.code_reads.fetch_add(1, Ordering::Relaxed);
            let code = [Self::SHARED, Self::OTHER]
                .into_iter()
                .find(|code| balnode_primitives::keccak256(code) == code_hash);
            Ok(code.map(|code| balnode_primitives::Bytes::copy_from_slice(&code)))
        }
    }

    impl balnode_storage_api::BlockHashReader for Clones {
        fn block_hash(&self, _: u64) -> ProviderResult<Option<B256>> {
            Ok(None)
        }
    }

    impl StateProvider for Clones {
        fn storage(&self, _: Address, _: B256) -> ProviderResult<Option<U256>> {
            Ok(None)
        }
    }

    #[test]
    fn code_held_by_many_accounts_is_read_once_and_given_to_each() {
        let list: BlockAccessList = (1..=4)
            .map(|byte| AccountChanges {
                address: Address::repeat_byte(byte),
                ..Default::default()
            })
            .collect();
        for threads in [1, 2] {
            let store = Clones::default();
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let prefetched = pool.install(|| PrefetchedState::new(&store, &list, None)).unwrap();
            assert_eq!(store.code_reads.load(Ordering::Relaxed), 2, "one read per contract");
            for account in &list {
                let info = prefetched.parent_account(account.address).unwrap().unwrap();
                let code = info.code.expect("every account comes with its code");
                assert_eq!(code.original_byte_slice(), Clones::code_of(account.address));
            }
            assert_eq!(store.code_reads.load(Ordering::Relaxed), 2, "none from the store later");
        }
    }

    #[test]
    fn a_block_without_a_list_names_its_accounts_and_slots_part_by_part() {
        let [beneficiary, sender, called, listed, withdrawn] =
            [1, 2, 3, 4, 5].map(Address::repeat_byte);
        let call = TxLegacy { to: TxKind::Call(called), ..Default::default() };
        let create = TxLegacy { to: TxKind::Create, ..Default::default() };
        let slot = |n: u8| B256::repeat_byte(n);
        let listing = TxEip2930 {
            to: TxKind::Call(called),
            access_list: vec![AccessListItem {
                address: listed,
                storage_keys: vec![slot(2), slot(1)],
            }]
            .into(),
            ..Default::default()
        };
        let transactions: Vec<TxEnvelope> = vec![
            Signed::new_unhashed(call, Signature::test_signature()).into(),
            Signed::new_unhashed(create, Signature::test_signature()).into(),
            Signed::new_unhashed(listing, Signature::test_signature()).into(),
        ];
        let block = Block {
            header: Header { beneficiary, ..Default::default() },
            body: BlockBody {
                transactions,
                ommers: vec![],
                withdrawals: Some(
                    vec![Withdrawal { address: withdrawn, ..Default::default() }].into(),
                ),
            },
        };
        let senders = [sender; 3];
        let part = |part| block_hints(&block, &senders, part).collect::<Vec<_>>();
        let key = |n: u8| U256::from_be_bytes(slot(n).0);
        assert_eq!(part(0), vec![(beneficiary, vec![]), (withdrawn, vec![])]);
        assert_eq!(part(1), vec![(sender, vec![]), (called, vec![])]);
        assert_eq!(part(2), vec![(sender, vec![])], "a creation names no recipient");
        assert_eq!(
            part(3),
            vec![(sender, vec![]), (called, vec![]), (listed, vec![key(2), key(1)])]
        );
        assert_eq!(part(4), vec![]);
    }
}
