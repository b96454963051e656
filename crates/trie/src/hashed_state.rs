//! [`HashedPostState`]: a block's changes keyed by hashed address and slot, and the cursors that lay it over
//! a stored hashed state.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    ops::Bound,
};

use balnode_primitives::{Account, Address, B256, StateChanges, U256, keccak256};
use balnode_storage_api::ProviderResult;
use rayon::prelude::*;

use crate::cursor::{
    HashedCursor, HashedCursorFactory, MaybeTrieCursor, TrieCursor, TrieCursorFactory,
};

/// The storage changes of one account, by hashed slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashedStorage {
    /// Whether every slot stored before is dropped first (self-destruct, re-creation).
    pub wiped: bool,
    /// Post-values by hashed slot; zero deletes the slot.
    pub slots: BTreeMap<B256, U256>,
}

/// State changes keyed the way the trie is: accounts by `keccak(address)`, slots by `keccak(slot)`.
///
/// It is both the overlay the root of a not-yet-committed block is computed over (through
/// [`HashedPostStateCursorFactory`]) and what the store writes into its hashed tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashedPostState {
    /// Post-values of accounts; `None` removes the account.
    pub accounts: BTreeMap<B256, Option<Account>>,
    /// Storage changes, by hashed address.
    pub storages: BTreeMap<B256, HashedStorage>,
}

impl HashedPostState {
    /// Hashes the keys of `changes` (in parallel on the current rayon pool).
    pub fn from_changes(changes: &StateChanges) -> Self {
        Self::from_changes_prepared(changes, &PreparedKeys::default())
    }

    /// Like [`Self::from_changes`], taking the hashes [`prepare`] computed ahead of time and hashing only the
    /// keys it did not know about.
    pub fn from_changes_prepared(changes: &StateChanges, prepared: &PreparedKeys) -> Self {
        let hash_address = |address: &Address| {
            prepared.addresses.get(address).copied().unwrap_or_else(|| keccak256(address))
        };
        let hash_slot =
            |slot: &B256| prepared.slots.get(slot).copied().unwrap_or_else(|| keccak256(slot));
        let accounts = changes
            .accounts
            .par_iter()
            .map(|(address, account)| (hash_address(address), *account))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        let storages = changes
            .storage
            .par_iter()
            .map(|(address, storage)| {
                let slots =
                    storage.slots.iter().map(|(slot, value)| (hash_slot(slot), *value)).collect();
                (hash_address(address), HashedStorage { wiped: storage.wiped, slots })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        Self { accounts, storages }
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.storages.is_empty()
    }

    /// The hashed addresses whose leaf in the account trie may change: changed accounts and accounts whose
    /// storage (hence storage root) changed.
    pub(crate) fn changed_accounts(&self) -> impl Iterator<Item = B256> + '_ {
        self.accounts.keys().chain(self.storages.keys()).copied()
    }
}

/// The keys a block is known to change before its execution ends, from its access list (EIP-7928).
///
/// This is the hook of the BAL-parallel executor: with the list in hand it calls [`prepare`] on a worker while
/// transactions execute, then [`HashedPostState::from_changes_prepared`] with the execution's changes, so
/// that the keccak of every address and slot is already done when the root starts. A BAL also carries every
/// post-value, so an executor that trusts it can go further and run the whole
/// [`crate::parallel_state_root`] on the changes the BAL implies, concurrently with execution, and compare the
/// result with the execution's changes at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangedKeys {
    /// Accounts written.
    pub accounts: BTreeSet<Address>,
    /// Slots written, by account.
    pub storage: BTreeMap<Address, BTreeSet<B256>>,
}

/// Hashes of addresses and slots computed by [`prepare`].
#[derive(Debug, Clone, Default)]
pub struct PreparedKeys {
    addresses: HashMap<Address, B256>,
    slots: HashMap<B256, B256>,
}

impl PreparedKeys {
    /// The number of hashes computed.
    pub fn len(&self) -> usize {
        self.addresses.len() + self.slots.len()
    }

    /// Whether nothing was hashed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Hashes every address and slot of `keys`, in parallel on the current rayon pool.
pub fn prepare(keys: &ChangedKeys) -> PreparedKeys {
    let addresses = keys
        .accounts
        .iter()
        .chain(keys.storage.keys())
        .collect::<BTreeSet<_>>()
        .into_par_iter()
        .map(|address| (*address, keccak256(address)))
        .collect();
    let slots = keys
        .storage
        .values()
        .flatten()
        .collect::<BTreeSet<_>>()
        .into_par_iter()
        .map(|slot| (*slot, keccak256(slot)))
        .collect();
    PreparedKeys { addresses, slots }
}

/// Hashed cursors of `F` with a [`HashedPostState`] laid over them, and `F`'s stored trie unchanged.
///
/// The root of a block that is not committed yet is computed over this: the parent's tables plus the block's
/// changes, nothing written.
#[derive(Debug, Clone, Copy)]
pub struct HashedPostStateCursorFactory<'a, F> {
    base: F,
    overlay: &'a HashedPostState,
}

impl<'a, F> HashedPostStateCursorFactory<'a, F> {
    /// `overlay` over `base`.
    pub const fn new(base: F, overlay: &'a HashedPostState) -> Self {
        Self { base, overlay }
    }
}

impl<F: HashedCursorFactory> HashedCursorFactory for HashedPostStateCursorFactory<'_, F> {
    type AccountCursor<'b>
        = OverlayCursor<'b, F::AccountCursor<'b>, Option<Account>>
    where
        Self: 'b;
    type StorageCursor<'b>
        = OverlayCursor<'b, F::StorageCursor<'b>, U256>
    where
        Self: 'b;

    fn hashed_account_cursor(&self) -> ProviderResult<Self::AccountCursor<'_>> {
        Ok(OverlayCursor::new(
            self.base.hashed_account_cursor()?,
            Some(&self.overlay.accounts),
            false,
        ))
    }

    fn hashed_storage_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageCursor<'_>> {
        let storage = self.overlay.storages.get(&hashed_address);
        let wiped = storage.is_some_and(|storage| storage.wiped);
        Ok(OverlayCursor::new(
            self.base.hashed_storage_cursor(hashed_address)?,
            storage.map(|storage| &storage.slots),
            wiped,
        ))
    }
}

impl<F: TrieCursorFactory> TrieCursorFactory for HashedPostStateCursorFactory<'_, F> {
    type AccountTrieCursor<'b>
        = F::AccountTrieCursor<'b>
    where
        Self: 'b;
    type StorageTrieCursor<'b>
        = MaybeTrieCursor<F::StorageTrieCursor<'b>>
    where
        Self: 'b;

    fn account_trie_cursor(&self) -> ProviderResult<Self::AccountTrieCursor<'_>> {
        self.base.account_trie_cursor()
    }

    /// A wiped storage trie has no stored nodes left to reuse.
    fn storage_trie_cursor(
        &self,
        hashed_address: B256,
    ) -> ProviderResult<Self::StorageTrieCursor<'_>> {
        if self.overlay.storages.get(&hashed_address).is_some_and(|storage| storage.wiped) {
            return Ok(MaybeTrieCursor::None);
        }
        Ok(MaybeTrieCursor::Stored(self.base.storage_trie_cursor(hashed_address)?))
    }
}

/// A value of an overlay: either a live value or a deletion.
pub trait OverlayValue: Copy {
    /// The leaf value.
    type Value;

    /// The live value, `None` for a deletion.
    fn live(&self) -> Option<Self::Value>;
}

impl OverlayValue for Option<Account> {
    type Value = Account;

    fn live(&self) -> Option<Account> {
        *self
    }
}

impl OverlayValue for U256 {
    type Value = Self;

    fn live(&self) -> Option<Self> {
        (!self.is_zero()).then_some(*self)
    }
}

/// A hashed cursor merged with a sorted overlay of changes, the overlay winning on equal keys.
#[derive(Debug)]
pub struct OverlayCursor<'a, C: HashedCursor, O> {
    base: C,
    /// Where the base cursor is: its first entry at or after the last seek.
    base_entry: Option<(B256, C::Value)>,
    overlay: Option<&'a BTreeMap<B256, O>>,
    /// Whether the base is ignored (wiped storage).
    wiped: bool,
    /// The key last returned.
    last: Option<B256>,
}

impl<'a, C, O> OverlayCursor<'a, C, O>
where
    C: HashedCursor,
    C::Value: Copy,
    O: OverlayValue<Value = C::Value>,
{
    const fn new(base: C, overlay: Option<&'a BTreeMap<B256, O>>, wiped: bool) -> Self {
        Self { base, base_entry: None, overlay, wiped, last: None }
    }

    /// The first live entry of the merge at or after `from`.
    fn find(&mut self, mut from: Bound<B256>) -> ProviderResult<Option<(B256, C::Value)>> {
        loop {
            let overlay_entry = self
                .overlay
                .and_then(|overlay| overlay.range((from, Bound::Unbounded)).next())
                .map(|(key, value)| (*key, *value));
            let base_key = self.base_entry.map(|(key, _)| key);
            match (overlay_entry, base_key) {
                (Some((key, value)), base) if base.is_none_or(|base| key <= base) => {
                    if let Some(value) = value.live() {
                        self.last = Some(key);
                        return Ok(Some((key, value)));
                    }
                    // A deletion hides the base's entry at that key, if it has one.
                    if base == Some(key) {
                        self.base_entry = self.base.next()?;
                    }
                    from = Bound::Excluded(key);
                }
                (_, Some(_)) => {
                    let entry = self.base_entry;
                    self.last = entry.map(|(key, _)| key);
                    return Ok(entry);
                }
                (_, None) => {
                    self.last = None;
                    return Ok(None);
                }
            }
        }
    }
}

impl<C, O> HashedCursor for OverlayCursor<'_, C, O>
where
    C: HashedCursor,
    C::Value: Copy,
    O: OverlayValue<Value = C::Value>,
{
    type Value = C::Value;

    fn seek(&mut self, key: B256) -> ProviderResult<Option<(B256, C::Value)>> {
        self.base_entry = if self.wiped { None } else { self.base.seek(key)? };
        self.find(Bound::Included(key))
    }

    fn next(&mut self) -> ProviderResult<Option<(B256, C::Value)>> {
        let Some(last) = self.last else { return Ok(None) };
        while let Some((key, _)) = self.base_entry
            && key <= last
        {
            self.base_entry = self.base.next()?;
        }
        self.find(Bound::Excluded(last))
    }
}

/// Reads the stored trie's nodes (for [`TrieCursor`] users that want them all, in order).
pub(crate) fn all_nodes(
    cursor: &mut impl TrieCursor,
) -> ProviderResult<
    Vec<(balnode_primitives::trie::Nibbles, balnode_primitives::trie::BranchNodeCompact)>,
> {
    let mut nodes = Vec::new();
    let mut next = cursor.seek(Default::default())?;
    while let Some((path, node)) = next {
        let mut after = path;
        after.push(0);
        nodes.push((path, node));
        next = if path.len() < 64 { cursor.seek(after)? } else { None };
    }
    Ok(nodes)
}
