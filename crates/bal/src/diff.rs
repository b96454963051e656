//! The first difference between two block access lists.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use balnode_primitives::{Address, U256};

use crate::AccountChanges;

/// A part of an account's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The account itself: present in one list and not the other.
    Account,
    /// `storage_changes`.
    StorageChanges,
    /// `storage_reads`.
    StorageReads,
    /// `balance_changes`.
    Balance,
    /// `nonce_changes`.
    Nonce,
    /// `code_changes`.
    Code,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Account => "account",
            Self::StorageChanges => "storage_changes",
            Self::StorageReads => "storage_reads",
            Self::Balance => "balance_changes",
            Self::Nonce => "nonce_changes",
            Self::Code => "code_changes",
        })
    }
}

/// Where two lists first differ, and how. `expected` and `got` are `absent` where one side has nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The account.
    pub address: Address,
    /// The part of its entry.
    pub field: Field,
    /// The storage slot, for a storage field.
    pub slot: Option<U256>,
    /// The block access index, for a change list.
    pub index: Option<u64>,
    /// The value in the expected list.
    pub expected: String,
    /// The value in the other list.
    pub got: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "account {}", self.address)?;
        if self.field != Field::Account {
            write!(f, " {}", self.field)?;
        }
        if let Some(slot) = self.slot {
            write!(f, " slot {slot:#x}")?;
        }
        if let Some(index) = self.index {
            write!(f, " index {index}")?;
        }
        write!(f, ": expected {}, got {}", self.expected, self.got)
    }
}

const ABSENT: &str = "absent";

/// The first difference between `expected` and `got`, walking accounts by address and, within an account,
/// storage changes (by slot, then index), storage reads, balance, nonce and code changes (by index).
///
/// `None` when the lists hold the same entries. Ordering is not compared: that is
/// [`validate`](crate::validate())'s job, and two lists with the same entries in different orders encode
/// differently.
pub fn first_difference(expected: &[AccountChanges], got: &[AccountChanges]) -> Option<Difference> {
    let (want, have) = (by_address(expected), by_address(got));
    let addresses: BTreeSet<Address> = want.keys().chain(have.keys()).copied().collect();
    addresses.into_iter().find_map(|address| {
        let (w, h) = (want.get(&address), have.get(&address));
        let (wn, hn) = (w.map_or(0, Vec::len), h.map_or(0, Vec::len));
        if wn != hn {
            let count = |n: usize| match n {
                0 => ABSENT.to_owned(),
                1 => "present".to_owned(),
                n => format!("listed {n} times"),
            };
            return Some(Difference {
                address,
                field: Field::Account,
                slot: None,
                index: None,
                expected: count(wn),
                got: count(hn),
            });
        }
        let (w, h) = (w?, h?);
        w.iter().zip(h.iter()).find_map(|(w, h)| account_difference(w, h))
    })
}

fn account_difference(want: &AccountChanges, have: &AccountChanges) -> Option<Difference> {
    let address = want.address;
    let at = |field, slot, index: Option<u64>, expected: String, got: String| Difference {
        address,
        field,
        slot,
        index,
        expected,
        got,
    };
    // Storage changes: by slot, then by index.
    let slots = |account: &AccountChanges| -> BTreeMap<U256, BTreeMap<u64, U256>> {
        account
            .storage_changes
            .iter()
            .map(|slot| {
                let changes = slot
                    .changes
                    .iter()
                    .map(|change| (change.block_access_index.get(), change.new_value))
                    .collect();
                (slot.slot, changes)
            })
            .collect()
    };
    let (ws, hs) = (slots(want), slots(have));
    let keys: BTreeSet<U256> = ws.keys().chain(hs.keys()).copied().collect();
    for slot in keys {
        let empty = BTreeMap::new();
        let (wc, hc) = (ws.get(&slot), hs.get(&slot));
        if wc.is_none() || hc.is_none() {
            let describe = |c: Option<&BTreeMap<u64, U256>>| {
                c.map_or_else(|| ABSENT.to_owned(), |c| format!("{} change(s)", c.len()))
            };
            return Some(at(Field::StorageChanges, Some(slot), None, describe(wc), describe(hc)));
        }
        if let Some((index, e, g)) =
            first_in(wc.unwrap_or(&empty), hc.unwrap_or(&empty), |v| format!("{v:#x}"))
        {
            return Some(at(Field::StorageChanges, Some(slot), Some(index), e, g));
        }
    }
    // Storage reads.
    let (wr, hr): (BTreeSet<U256>, BTreeSet<U256>) = (
        want.storage_reads.iter().copied().collect(),
        have.storage_reads.iter().copied().collect(),
    );
    if let Some(slot) = wr.symmetric_difference(&hr).next() {
        let state = |set: &BTreeSet<U256>| if set.contains(slot) { "read" } else { ABSENT };
        return Some(at(
            Field::StorageReads,
            Some(*slot),
            None,
            state(&wr).to_owned(),
            state(&hr).to_owned(),
        ));
    }
    let balances = |a: &AccountChanges| -> BTreeMap<u64, U256> {
        a.balance_changes.iter().map(|c| (c.block_access_index.get(), c.post_balance)).collect()
    };
    if let Some((index, e, g)) = first_in(&balances(want), &balances(have), |v| v.to_string()) {
        return Some(at(Field::Balance, None, Some(index), e, g));
    }
    let nonces = |a: &AccountChanges| -> BTreeMap<u64, u64> {
        a.nonce_changes.iter().map(|c| (c.block_access_index.get(), c.new_nonce)).collect()
    };
    if let Some((index, e, g)) = first_in(&nonces(want), &nonces(have), |v| v.to_string()) {
        return Some(at(Field::Nonce, None, Some(index), e, g));
    }
    let codes = |a: &AccountChanges| -> BTreeMap<u64, _> {
        a.code_changes.iter().map(|c| (c.block_access_index.get(), c.new_code.clone())).collect()
    };
    if let Some((index, e, g)) = first_in(&codes(want), &codes(have), |code| {
        format!("{} bytes ({})", code.len(), balnode_primitives::keccak256(code))
    }) {
        return Some(at(Field::Code, None, Some(index), e, g));
    }
    // Same entries, but a list held a duplicate index the maps folded: compare lengths last.
    let lengths = |a: &AccountChanges| {
        (
            a.balance_changes.len(),
            a.nonce_changes.len(),
            a.code_changes.len(),
            a.storage_reads.len(),
        )
    };
    (lengths(want) != lengths(have)).then(|| {
        at(
            Field::Account,
            None,
            None,
            format!("{:?} entries", lengths(want)),
            format!("{:?} entries", lengths(have)),
        )
    })
}

fn by_address(list: &[AccountChanges]) -> BTreeMap<Address, Vec<&AccountChanges>> {
    let mut map: BTreeMap<Address, Vec<&AccountChanges>> = BTreeMap::new();
    for account in list {
        map.entry(account.address).or_default().push(account);
    }
    map
}

/// The first index at which two index → value maps differ.
fn first_in<V: PartialEq>(
    want: &BTreeMap<u64, V>,
    have: &BTreeMap<u64, V>,
    show: impl Fn(&V) -> String,
) -> Option<(u64, String, String)> {
    let indices: BTreeSet<u64> = want.keys().chain(have.keys()).copied().collect();
    indices.into_iter().find_map(|index| {
        let (w, h) = (want.get(&index), have.get(&index));
        (w != h).then(|| {
            let text = |v: Option<&V>| v.map_or_else(|| ABSENT.to_owned(), &show);
            (index, text(w), text(h))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BalanceChange, BlockAccessIndex, SlotChanges, StorageChange};

    fn list() -> Vec<AccountChanges> {
        let mut a = AccountChanges::new(Address::repeat_byte(1));
        a.storage_changes = vec![SlotChanges::new(
            U256::from(5),
            vec![StorageChange::new(BlockAccessIndex::new(1), U256::from(9))],
        )];
        a.balance_changes = vec![BalanceChange::new(BlockAccessIndex::new(2), U256::from(100))];
        vec![a, AccountChanges::new(Address::repeat_byte(2))]
    }

    #[test]
    fn equal_lists_have_no_difference() {
        assert_eq!(first_difference(&list(), &list()), None);
    }

    #[test]
    fn names_account_slot_field_and_index() {
        let mut got = list();
        got[0].storage_changes[0].changes[0].new_value = U256::from(8);
        let d = first_difference(&list(), &got).unwrap();
        assert_eq!(
            (d.field, d.slot, d.index),
            (Field::StorageChanges, Some(U256::from(5)), Some(1))
        );
        assert_eq!(
            d.to_string(),
            format!(
                "account {} storage_changes slot 0x5 index 1: expected 0x9, got 0x8",
                got[0].address
            )
        );

        let mut got = list();
        got[0].balance_changes[0].block_access_index = BlockAccessIndex::new(1);
        let d = first_difference(&list(), &got).unwrap();
        assert_eq!((d.field, d.index), (Field::Balance, Some(1)));
        assert_eq!((d.expected.as_str(), d.got.as_str()), ("absent", "100"));

        let mut got = list();
        got.pop();
        let d = first_difference(&list(), &got).unwrap();
        assert_eq!((d.address, d.field), (Address::repeat_byte(2), Field::Account));

        let mut got = list();
        got[1].storage_reads.push(U256::from(3));
        let d = first_difference(&list(), &got).unwrap();
        assert_eq!(
            (d.field, d.expected.as_str(), d.got.as_str()),
            (Field::StorageReads, "absent", "read")
        );
    }
}
