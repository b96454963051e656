//! Checking a block access list against execution, one index at a time, without rebuilding the list.
//!
//! revm's list builder (`State::with_bal_builder`) records, at each commit, every account the committed
//! state holds and every slot it loaded, and a write of a field (balance, nonce, code hash, slot) when its
//! value differs from the last one recorded for it; a self-destructed account's fields and loaded slots are
//! recorded as zeroed. A transaction commits once, at its own index, and the last value recorded before it
//! is the value it loaded (when it ran on the right state). So what a transaction adds to the list is, read
//! off its own state changes: the accounts it holds, the slots it loaded, and a write at its index of each
//! field whose value differs from the one it loaded ([`unit_writes`]). A slot ends up in `storage_reads`
//! when no index wrote it.
//!
//! [`ListCheck`] compares each index's part with the list: each write execution made is in the list at that
//! index with that value, the list has no other write at that index (the counts per index agree), every
//! account and slot execution touched is named, and at the end every account and every `storage_reads` slot
//! of the list was touched by some index. A list passes exactly when it equals the one revm's builder would
//! have built from the same executions.
//!
//! The list must be structurally valid (sorted, no index twice in one field's changes, no slot both read
//! and written): `balnode_bal::validate`, which the import pipeline runs first.

use std::sync::atomic::{AtomicBool, Ordering};

use balnode_primitives::{
    Address, B256, KECCAK256_EMPTY, U256,
    eips::eip7928::{
        AccountChanges, BalanceChange, BlockAccessIndex, BlockAccessList, CodeChange, NonceChange,
        StorageChange,
    },
    keccak256,
};
use revm::state::{Account, AccountId, EvmState, bal::Bal};

/// A field of an account that a list records writes of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Its balance.
    Balance(U256),
    /// Its nonce.
    Nonce(u64),
    /// Its code, by hash.
    Code(B256),
    /// A storage slot and its new value.
    Slot(U256, U256),
}

impl Written {
    fn field(&self) -> String {
        match self {
            Self::Balance(_) => "balance".to_owned(),
            Self::Nonce(_) => "nonce".to_owned(),
            Self::Code(_) => "code".to_owned(),
            Self::Slot(slot, _) => format!("storage slot {slot:#x}"),
        }
    }

    fn value(&self) -> String {
        match self {
            Self::Balance(value) | Self::Slot(_, value) => value.to_string(),
            Self::Nonce(nonce) => nonce.to_string(),
            Self::Code(hash) => format!("code hash {hash}"),
        }
    }
}

/// Where execution and the list first part, at one index (0: the pre-execution system calls, `i + 1`:
/// transaction `i`, `n + 1`: withdrawals, rewards and the post-execution system calls).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListMismatch {
    /// Execution accessed an account the list does not name.
    #[error("index {index}: execution accessed {address}, which the list does not name")]
    UnlistedAccount {
        /// The index (0, transaction + 1, or the last).
        index: u64,
        /// The account.
        address: Address,
    },
    /// Execution read a slot the list names neither as read nor as written.
    #[error("index {index}: execution read {address} slot {slot:#x}, which the list does not name")]
    UnlistedSlot {
        /// The index.
        index: u64,
        /// The account.
        address: Address,
        /// The slot.
        slot: U256,
    },
    /// Execution wrote a value the list does not have at that index.
    #[error("index {index}: execution set {address} {field} to {got}, the list says {}", expected.as_deref().unwrap_or("nothing at this index"))]
    WrongWrite {
        /// The index.
        index: u64,
        /// The account.
        address: Address,
        /// What was written (`balance`, `nonce`, `code`, `storage slot 0x…`).
        field: String,
        /// The value execution wrote.
        got: String,
        /// The list's value at this index, if it has one.
        expected: Option<String>,
    },
    /// The list has a write at an index that execution did not make.
    #[error("index {index}: the list sets {address} {field} to {value}, execution did not")]
    MissingWrite {
        /// The index.
        index: u64,
        /// The account.
        address: Address,
        /// The field.
        field: String,
        /// The list's value.
        value: String,
    },
    /// The list names an account that no index accessed.
    #[error("the list names {address}, which no transaction or system call accessed")]
    UnusedAccount {
        /// The account.
        address: Address,
    },
    /// The list names a slot as read that no index loaded.
    #[error("the list names {address} slot {slot:#x} as read, which nothing read")]
    UnusedRead {
        /// The account.
        address: Address,
        /// The slot.
        slot: U256,
    },
}

/// What one index did besides its writes and reads, for the post-state read off the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Checked {
    /// Existing accounts it self-destructed (their storage is wiped, which the list does not say).
    pub(crate) destroyed: Vec<Address>,
    /// Whether its changes need revm's own bookkeeping to become post-state (an existing account deleted as
    /// empty), which the post-state read off the list does not cover.
    pub(crate) unusual: bool,
}

/// A block's list, checked index by index as execution goes (from any thread), then for completeness.
#[derive(Debug)]
pub(crate) struct ListCheck<'a> {
    list: &'a BlockAccessList,
    /// How many writes the list has at each index.
    writes_at: Vec<u32>,
    /// Per account of the list, whether some index accessed it.
    accounts_seen: Vec<AtomicBool>,
    /// Where each account's `storage_reads` start in `reads_seen`.
    read_base: Vec<usize>,
    /// Per `storage_reads` entry, whether some index loaded it.
    reads_seen: Vec<AtomicBool>,
}

impl<'a> ListCheck<'a> {
    /// Ready to check `list` for a block of `transactions` transactions.
    pub(crate) fn new(list: &'a BlockAccessList, transactions: usize) -> Self {
        let mut writes_at = vec![0u32; transactions + 2];
        let mut count = |index: u64| {
            if let Some(slot) = writes_at.get_mut(index as usize) {
                *slot += 1;
            }
        };
        let mut read_base = Vec::with_capacity(list.len());
        let mut reads = 0;
        for account in list {
            account.balance_changes.iter().for_each(|c| count(c.block_access_index.0));
            account.nonce_changes.iter().for_each(|c| count(c.block_access_index.0));
            account.code_changes.iter().for_each(|c| count(c.block_access_index.0));
            for slot in &account.storage_changes {
                slot.changes.iter().for_each(|c| count(c.block_access_index.0));
            }
            read_base.push(reads);
            reads += account.storage_reads.len();
        }
        Self {
            list,
            writes_at,
            accounts_seen: std::iter::repeat_with(AtomicBool::default).take(list.len()).collect(),
            read_base,
            reads_seen: std::iter::repeat_with(AtomicBool::default).take(reads).collect(),
        }
    }

    /// Checks what the transaction at `index` (its position + 1) changed and read, `state` as it came out
    /// of the EVM, against the list.
    pub(crate) fn check_transaction(
        &self,
        index: u64,
        state: &EvmState,
    ) -> Result<Checked, ListMismatch> {
        let mut checked = Checked::default();
        let mut writes = 0u32;
        for (address, account) in state {
            let position = self.account_at(index, *address, account.info.account_id)?;
            if is_destroyed(account) {
                checked.destroyed.push(*address);
            } else if is_unusual(account) {
                tracing::debug!(target: "exec::bal", index, %address, "An existing account left empty");
                checked.unusual = true;
            }
            for written in unit_writes(account) {
                self.check_write(index, *address, position, written)?;
                writes += 1;
            }
            for (slot, value) in &account.storage {
                if !is_slot_write(account, value.original_value, value.present_value) {
                    self.read(index, *address, position, *slot)?;
                }
            }
        }
        self.check_count(index, writes, |address, written| {
            state.get(&address).is_some_and(|account| unit_writes(account).any(|w| w == written))
        })?;
        Ok(checked)
    }

    /// Checks what the system calls, withdrawals and rewards at `index` (0, or the index after the last
    /// transaction) recorded in revm's builder, `built` holding only that index, against the list.
    pub(crate) fn check_system(&self, index: u64, built: &Bal) -> Result<(), ListMismatch> {
        let mut writes = 0u32;
        for (address, account) in &built.accounts {
            let position = self.account(index, *address)?;
            for written in bal_writes(account) {
                self.check_write(index, *address, position, written)?;
                writes += 1;
            }
            for (slot, slot_writes) in &account.storage.storage {
                if slot_writes.is_empty() {
                    self.read(index, *address, position, *slot)?;
                }
            }
        }
        self.check_count(index, writes, |address, written| {
            built
                .accounts
                .get(&address)
                .is_some_and(|account| bal_writes(account).any(|w| w == written))
        })
    }

    /// After every index was checked: every account and every read slot of the list was touched.
    pub(crate) fn check_complete(&self) -> Result<(), ListMismatch> {
        if let Some(position) =
            self.accounts_seen.iter().position(|seen| !seen.load(Ordering::Relaxed))
        {
            return Err(ListMismatch::UnusedAccount { address: self.list[position].address });
        }
        if let Some(read) = self.reads_seen.iter().position(|seen| !seen.load(Ordering::Relaxed)) {
            let position = self.read_base.partition_point(|&base| base <= read) - 1;
            let account = &self.list[position];
            return Err(ListMismatch::UnusedRead {
                address: account.address,
                slot: account.storage_reads[read - self.read_base[position]],
            });
        }
        Ok(())
    }

    /// [`ListCheck::account`], with the position revm's list view gave the account when it loaded it
    /// (`AccountInfo::account_id`: its place in revm's `Bal`, made from the list in its order), checked
    /// against the address, so that the hot path skips the search.
    fn account_at(
        &self,
        index: u64,
        address: Address,
        hint: Option<AccountId>,
    ) -> Result<usize, ListMismatch> {
        if let Some(position) = hint.map(AccountId::get)
            && self.list.get(position).is_some_and(|account| account.address == address)
        {
            mark(&self.accounts_seen[position]);
            return Ok(position);
        }
        self.account(index, address)
    }

    /// The list's position of `address`, marked as accessed.
    fn account(&self, index: u64, address: Address) -> Result<usize, ListMismatch> {
        let position = self
            .list
            .binary_search_by_key(&address, |account| account.address)
            .map_err(|_| ListMismatch::UnlistedAccount { index, address })?;
        mark(&self.accounts_seen[position]);
        Ok(position)
    }

    /// A slot loaded and not written at `index`: named by the list as read (marked) or as written.
    fn read(
        &self,
        index: u64,
        address: Address,
        position: usize,
        slot: U256,
    ) -> Result<(), ListMismatch> {
        let account = &self.list[position];
        if let Ok(read) = account.storage_reads.binary_search(&slot) {
            mark(&self.reads_seen[self.read_base[position] + read]);
            return Ok(());
        }
        if account.storage_changes.binary_search_by_key(&slot, |changes| changes.slot).is_ok() {
            return Ok(());
        }
        Err(ListMismatch::UnlistedSlot { index, address, slot })
    }

    /// One write execution made at `index`: the list must have it, at that index, with that value.
    fn check_write(
        &self,
        index: u64,
        address: Address,
        position: usize,
        written: Written,
    ) -> Result<(), ListMismatch> {
        let expected = listed_write(&self.list[position], index, written);
        if expected == Some(written) {
            return Ok(());
        }
        Err(ListMismatch::WrongWrite {
            index,
            address,
            field: written.field(),
            got: written.value(),
            expected: expected.map(|expected| expected.value()),
        })
    }

    /// Execution made `writes` writes at `index`, each found in the list: the list must have no more there.
    /// `made` tells whether execution made a given write, to name one it did not.
    fn check_count(
        &self,
        index: u64,
        writes: u32,
        made: impl Fn(Address, Written) -> bool,
    ) -> Result<(), ListMismatch> {
        let listed = self.writes_at.get(index as usize).copied().unwrap_or_default();
        if writes == listed {
            return Ok(());
        }
        // Writes are unique per field and index in a valid list, and each one execution made was found:
        // some listed write at this index was not made.
        let missing = self.list.iter().find_map(|account| {
            writes_of(account, index)
                .find(|written| !made(account.address, *written))
                .map(|written| (account.address, written))
        });
        let (address, written) =
            missing.expect("a listed write at this index execution did not make");
        Err(ListMismatch::MissingWrite {
            index,
            address,
            field: written.field(),
            value: written.value(),
        })
    }
}

/// Marks `flag`, writing it only the first time: workers mark the same hot accounts (the beneficiary, a
/// token) over and over, and a write takes the cache line from the other worker.
fn mark(flag: &AtomicBool) {
    if !flag.load(Ordering::Relaxed) {
        flag.store(true, Ordering::Relaxed);
    }
}

/// Whether the builder records a write of a slot loaded with `original` and left at `present`.
fn is_slot_write(account: &Account, original: U256, present: U256) -> bool {
    let present = if account.is_selfdestructed_locally() { U256::ZERO } else { present };
    original != present
}

/// The writes revm's builder records for `account` when it is committed once at an index where nothing
/// was recorded for it yet (`AccountBal::update` on empty writes).
fn unit_writes(account: &Account) -> impl Iterator<Item = Written> + '_ {
    let original = account.original_info();
    let destroyed = account.is_selfdestructed_locally();
    let (nonce, balance, code_hash) = if destroyed {
        (0, U256::ZERO, KECCAK256_EMPTY)
    } else {
        (account.info.nonce, account.info.balance, account.info.code_hash)
    };
    let info = [
        (original.balance != balance).then_some(Written::Balance(balance)),
        (original.nonce != nonce).then_some(Written::Nonce(nonce)),
        (original.code_hash != code_hash).then_some(Written::Code(code_hash)),
    ];
    let slots = account
        .storage
        .iter()
        .filter(|(_, value)| is_slot_write(account, value.original_value, value.present_value))
        .map(move |(slot, value)| {
            Written::Slot(*slot, if destroyed { U256::ZERO } else { value.present_value })
        });
    info.into_iter().flatten().chain(slots)
}

/// The writes in a revm builder's record of one account (one index's worth).
fn bal_writes(account: &revm::state::bal::AccountBal) -> impl Iterator<Item = Written> + '_ {
    let info = &account.account_info;
    let balance = info.balance.writes.iter().map(|(_, value)| Written::Balance(*value));
    let nonce = info.nonce.writes.iter().map(|(_, value)| Written::Nonce(*value));
    let code = info.code.writes.iter().map(|(_, (hash, _))| Written::Code(*hash));
    let slots = account.storage.storage.iter().flat_map(|(slot, writes)| {
        writes.writes.iter().map(move |(_, value)| Written::Slot(*slot, *value))
    });
    balance.chain(nonce).chain(code).chain(slots)
}

/// The list's write of the same field as `written`, at `index`, if it has one.
fn listed_write(account: &AccountChanges, index: u64, written: Written) -> Option<Written> {
    macro_rules! at {
        ($changes:expr, $value:expr) => {
            $changes
                .binary_search_by_key(&index, |change| change.block_access_index.0)
                .ok()
                .map(|position| $value(&$changes[position]))
        };
    }
    match written {
        Written::Balance(_) => {
            at!(account.balance_changes, |c: &BalanceChange| Written::Balance(c.post_balance))
        }
        Written::Nonce(_) => {
            at!(account.nonce_changes, |c: &NonceChange| Written::Nonce(c.new_nonce))
        }
        Written::Code(_) => {
            at!(account.code_changes, |c: &CodeChange| { Written::Code(code_hash(&c.new_code)) })
        }
        Written::Slot(slot, _) => {
            let changes = account
                .storage_changes
                .binary_search_by_key(&slot, |changes| changes.slot)
                .ok()
                .map(|position| &account.storage_changes[position].changes)?;
            at!(changes, |c: &StorageChange| Written::Slot(slot, c.new_value))
        }
    }
}

/// Every write the list has for `account` at `index`.
fn writes_of(account: &AccountChanges, index: u64) -> impl Iterator<Item = Written> + '_ {
    let at = move |i: &BlockAccessIndex| i.0 == index;
    let balance = account
        .balance_changes
        .iter()
        .filter(move |c| at(&c.block_access_index))
        .map(|c| Written::Balance(c.post_balance));
    let nonce = account
        .nonce_changes
        .iter()
        .filter(move |c| at(&c.block_access_index))
        .map(|c| Written::Nonce(c.new_nonce));
    let code = account
        .code_changes
        .iter()
        .filter(move |c| at(&c.block_access_index))
        .map(|c| Written::Code(code_hash(&c.new_code)));
    let slots = account.storage_changes.iter().flat_map(move |slot| {
        slot.changes
            .iter()
            .filter(move |c| at(&c.block_access_index))
            .map(|c| Written::Slot(slot.slot, c.new_value))
    });
    balance.chain(nonce).chain(code).chain(slots)
}

/// The hash of code as a list carries it (empty code: the empty code hash).
pub(crate) fn code_hash(code: &[u8]) -> B256 {
    if code.is_empty() { KECCAK256_EMPTY } else { keccak256(code) }
}

/// Whether the transaction self-destructed `account`, an account it did not create where there was none.
fn is_destroyed(account: &Account) -> bool {
    (account.is_selfdestructed() || account.is_selfdestructed_locally())
        && !(account.is_created() && account.is_loaded_as_not_existing())
}

/// Whether revm's state bookkeeping does more with `account` (not destroyed) than set its fields and slots:
/// an existing account deleted as empty (EIP-161).
///
/// A contract created is not, whether there was an account or none: revm's cache moves an existing account
/// (one without code or nonce: EIP-684 makes the creation fail over those) to `InMemoryChange` without
/// wiping its storage, so the bundle holds its new fields and the slots written, which are its writes in the
/// list, over the slots it had, as the list's post-state does. (EIP-7610 would also make the creation fail
/// over storage; revm 43 does not, see `crates/import/testdata/known-failures.txt`, and in that case the two
/// post-states still agree.) Whatever it then does, self-destructing included, is in its writes too. The
/// differential suites compare the two post-states on every block.
fn is_unusual(account: &Account) -> bool {
    account.is_touched()
        && account.is_empty()
        && !account.is_loaded_as_not_existing()
        && !account.is_created()
}

#[cfg(test)]
mod tests {
    use balnode_primitives::eips::eip7928::SlotChanges;
    use revm::state::{AccountInfo, EvmStorageSlot, TransactionId};

    use super::*;

    const A: Address = Address::repeat_byte(0xaa);
    const B: Address = Address::repeat_byte(0xbb);

    /// `A` (balance 10 before the block): transaction 0 (index 1) sets its balance to 5, reads slot 1 and
    /// writes 7 to slot 2; `B` is only read by it.
    fn list() -> BlockAccessList {
        vec![
            AccountChanges {
                address: A,
                storage_changes: vec![SlotChanges {
                    slot: U256::from(2),
                    changes: vec![StorageChange::new(BlockAccessIndex(1), U256::from(7))],
                }],
                storage_reads: vec![U256::from(1)],
                balance_changes: vec![BalanceChange::new(BlockAccessIndex(1), U256::from(5))],
                ..Default::default()
            },
            AccountChanges { address: B, ..Default::default() },
        ]
    }

    /// What the transaction did: `balance` for `A`, slot 2 set to `slot_2`, `B` loaded when `with_b`.
    fn executed(balance: u64, slot_2: u64, with_b: bool) -> EvmState {
        let slot = |original: u64, present: u64| {
            EvmStorageSlot::new_changed(
                U256::from(original),
                U256::from(present),
                TransactionId::ZERO,
            )
        };
        let mut a = Account::from(AccountInfo { balance: U256::from(10), ..Default::default() })
            .with_storage(
                [(U256::from(1), slot(3, 3)), (U256::from(2), slot(0, slot_2))].into_iter(),
            );
        a.info.balance = U256::from(balance);
        let mut state: EvmState = [(A, a)].into_iter().collect();
        if with_b {
            state.insert(B, Account::from(AccountInfo { nonce: 1, ..Default::default() }));
        }
        state
    }

    #[test]
    fn the_transaction_s_part_of_the_list_passes() {
        let list = list();
        let check = ListCheck::new(&list, 1);
        assert_eq!(check.check_transaction(1, &executed(5, 7, true)), Ok(Checked::default()));
        assert_eq!(check.check_system(0, &Bal::new()), Ok(()));
        assert_eq!(check.check_system(2, &Bal::new()), Ok(()));
        assert_eq!(check.check_complete(), Ok(()));
    }

    #[test]
    fn each_difference_is_named() {
        let list = list();
        let check = ListCheck::new(&list, 1);
        // A different post-value.
        assert!(matches!(
            check.check_transaction(1, &executed(6, 7, true)),
            Err(ListMismatch::WrongWrite { index: 1, address: A, ref field, .. }) if field == "balance"
        ));
        // The same writes at another index.
        assert!(matches!(
            check.check_transaction(2, &executed(5, 7, true)),
            Err(ListMismatch::WrongWrite { index: 2, expected: None, .. })
        ));
        // A write the list has that execution did not make (slot 2 left at 0: a read).
        assert!(matches!(
            check.check_transaction(1, &executed(5, 0, true)),
            Err(ListMismatch::MissingWrite { index: 1, address: A, ref field, .. }) if field == "storage slot 0x2"
        ));
        // An account execution touched that the list does not name.
        let mut extra = executed(5, 7, true);
        extra.insert(Address::repeat_byte(0xcc), Account::default());
        assert!(matches!(
            check.check_transaction(1, &extra),
            Err(ListMismatch::UnlistedAccount { address, .. }) if address == Address::repeat_byte(0xcc)
        ));
        // An account of the list nothing touched.
        let fresh = ListCheck::new(&list, 1);
        fresh.check_transaction(1, &executed(5, 7, false)).unwrap();
        assert_eq!(fresh.check_complete(), Err(ListMismatch::UnusedAccount { address: B }));
        // A listed read nothing made.
        let mut unread = executed(5, 7, true);
        unread.get_mut(&A).unwrap().storage.remove(&U256::from(1));
        let fresh = ListCheck::new(&list, 1);
        fresh.check_transaction(1, &unread).unwrap();
        assert_eq!(
            fresh.check_complete(),
            Err(ListMismatch::UnusedRead { address: A, slot: U256::from(1) })
        );
    }

    #[test]
    fn a_self_destruct_zeroes_what_it_held() {
        let mut account =
            Account::from(AccountInfo { balance: U256::from(10), nonce: 1, ..Default::default() })
                .with_storage(
                    [(
                        U256::from(1),
                        EvmStorageSlot::new_changed(
                            U256::from(3),
                            U256::from(4),
                            TransactionId::ZERO,
                        ),
                    )]
                    .into_iter(),
                );
        account.mark_selfdestructed_locally();
        let writes: Vec<_> = unit_writes(&account).collect();
        assert_eq!(
            writes,
            [
                Written::Balance(U256::ZERO),
                Written::Nonce(0),
                Written::Slot(U256::from(1), U256::ZERO)
            ]
        );
        account.mark_selfdestruct();
        assert!(is_destroyed(&account));
        // Created where there was none and destroyed: all in its writes.
        account.mark_created();
        account.status |= revm::state::AccountStatus::LoadedAsNotExisting;
        assert!(!is_destroyed(&account) && !is_unusual(&account));
    }
}
