//! The structural rules of EIP-7928, checked before any state is read.

use balnode_primitives::{Address, U256};

use crate::{AccountChanges, BlockAccessIndex, diff::Field};

/// The gas one BAL item (an address or a storage key) stands for: `items <= gas_limit / ITEM_COST`.
pub const ITEM_COST: u64 = 2000;

/// What a block allows its access list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Transactions in the block: indices run from 0 to `transactions + 1`.
    pub transactions: u64,
    /// The block's gas limit, which bounds the number of items.
    pub gas_limit: u64,
    /// The fork's largest contract code, in bytes (EIP-170, raised by EIP-7954).
    pub max_code_size: usize,
}

/// A rule of EIP-7928's "Ordering, Uniqueness and Determinism" or size constraint that a list breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StructureError {
    /// Accounts are not in strictly increasing address order (a duplicate is out of order too).
    #[error("account {address} is listed after {previous}: accounts must be sorted and unique")]
    AccountOrder {
        /// The account out of place.
        address: Address,
        /// The account before it.
        previous: Address,
    },
    /// Storage keys of `storage_changes` or `storage_reads` are not strictly increasing.
    #[error(
        "account {address}: {field} slot {slot:#x} follows {previous:#x}: slots must be sorted and unique"
    )]
    SlotOrder {
        /// The account.
        address: Address,
        /// `storage_changes` or `storage_reads`.
        field: Field,
        /// The slot out of place.
        slot: U256,
        /// The slot before it.
        previous: U256,
    },
    /// A slot is both read and written.
    #[error("account {address}: slot {slot:#x} is in both storage_changes and storage_reads")]
    ReadAndWrite {
        /// The account.
        address: Address,
        /// The slot.
        slot: U256,
    },
    /// A slot of `storage_changes` has no change.
    #[error("account {address}: slot {slot:#x} has an empty change list")]
    EmptySlotChanges {
        /// The account.
        address: Address,
        /// The slot.
        slot: U256,
    },
    /// A change list is not in strictly increasing index order (two changes at one index are out of order).
    #[error("account {address}: {field}{} index {index} follows index {previous}: changes must be sorted, one per index", slot_text(*slot))]
    IndexOrder {
        /// The account.
        address: Address,
        /// The change list.
        field: Field,
        /// The slot, for a storage change.
        slot: Option<U256>,
        /// The index out of place.
        index: u64,
        /// The index before it.
        previous: u64,
    },
    /// An index is past the post-execution index `transactions + 1`.
    #[error("account {address}: {field}{} index {index} is past the last index {max} of a block of {} transactions", slot_text(*slot), max - 1)]
    IndexTooHigh {
        /// The account.
        address: Address,
        /// The change list.
        field: Field,
        /// The slot, for a storage change.
        slot: Option<U256>,
        /// The index.
        index: u64,
        /// The highest index allowed.
        max: u64,
    },
    /// A code change is larger than the fork allows a contract.
    #[error(
        "account {address}: code change at index {index} is {size} bytes, more than the limit of {limit}"
    )]
    CodeTooLarge {
        /// The account.
        address: Address,
        /// The index of the change.
        index: u64,
        /// The code's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// More addresses and storage keys than the gas limit pays for.
    #[error(
        "{items} items (addresses + storage keys) exceed the limit of {limit} (gas limit / {ITEM_COST})"
    )]
    TooManyItems {
        /// Addresses plus storage keys.
        items: u64,
        /// `gas_limit / ITEM_COST`.
        limit: u64,
    },
}

fn slot_text(slot: Option<U256>) -> String {
    slot.map(|slot| format!(" of slot {slot:#x}")).unwrap_or_default()
}

/// Addresses plus storage keys (written or read) of a list: what [`ITEM_COST`] is charged for.
pub fn item_count(list: &[AccountChanges]) -> u64 {
    list.iter()
        .map(|account| {
            1 + account.storage_changes.len() as u64 + account.storage_reads.len() as u64
        })
        .sum()
}

/// Checks every structural rule of EIP-7928 on `list`, in order, and returns the first one broken.
pub fn validate(list: &[AccountChanges], limits: &Limits) -> Result<(), StructureError> {
    let max_index = limits.transactions + 1;
    let mut previous: Option<Address> = None;
    for account in list {
        let address = account.address;
        if let Some(previous) = previous
            && address <= previous
        {
            return Err(StructureError::AccountOrder { address, previous });
        }
        previous = Some(address);
        validate_account(account, max_index, limits.max_code_size)?;
    }
    let items = item_count(list);
    let limit = limits.gas_limit / ITEM_COST;
    if items > limit {
        return Err(StructureError::TooManyItems { items, limit });
    }
    Ok(())
}

fn validate_account(
    account: &AccountChanges,
    max_index: u64,
    max_code_size: usize,
) -> Result<(), StructureError> {
    let address = account.address;
    check_slots(address, Field::StorageChanges, account.storage_changes.iter().map(|s| s.slot))?;
    check_slots(address, Field::StorageReads, account.storage_reads.iter().copied())?;
    for slot in &account.storage_changes {
        if slot.changes.is_empty() {
            return Err(StructureError::EmptySlotChanges { address, slot: slot.slot });
        }
        if account.storage_reads.binary_search(&slot.slot).is_ok() {
            return Err(StructureError::ReadAndWrite { address, slot: slot.slot });
        }
        check_indices(
            address,
            Field::StorageChanges,
            Some(slot.slot),
            &mut slot.changes.iter().map(|c| c.block_access_index),
            max_index,
        )?;
    }
    let balances = &mut account.balance_changes.iter().map(|c| c.block_access_index);
    check_indices(address, Field::Balance, None, balances, max_index)?;
    let nonces = &mut account.nonce_changes.iter().map(|c| c.block_access_index);
    check_indices(address, Field::Nonce, None, nonces, max_index)?;
    let codes = &mut account.code_changes.iter().map(|c| c.block_access_index);
    check_indices(address, Field::Code, None, codes, max_index)?;
    for change in &account.code_changes {
        if change.new_code.len() > max_code_size {
            return Err(StructureError::CodeTooLarge {
                address,
                index: change.block_access_index.get(),
                size: change.new_code.len(),
                limit: max_code_size,
            });
        }
    }
    Ok(())
}

fn check_slots(
    address: Address,
    field: Field,
    slots: impl Iterator<Item = U256>,
) -> Result<(), StructureError> {
    let mut previous: Option<U256> = None;
    for slot in slots {
        if let Some(previous) = previous
            && slot <= previous
        {
            return Err(StructureError::SlotOrder { address, field, slot, previous });
        }
        previous = Some(slot);
    }
    Ok(())
}

fn check_indices(
    address: Address,
    field: Field,
    slot: Option<U256>,
    indices: &mut dyn Iterator<Item = BlockAccessIndex>,
    max: u64,
) -> Result<(), StructureError> {
    let mut previous: Option<u64> = None;
    for index in indices {
        let index = index.get();
        if let Some(previous) = previous
            && index <= previous
        {
            return Err(StructureError::IndexOrder { address, field, slot, index, previous });
        }
        if index > max {
            return Err(StructureError::IndexTooHigh { address, field, slot, index, max });
        }
        previous = Some(index);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BalanceChange, CodeChange, SlotChanges, StorageChange};
    use balnode_primitives::Bytes;

    const LIMITS: Limits = Limits { transactions: 2, gas_limit: 30_000_000, max_code_size: 32 };

    fn account(byte: u8) -> AccountChanges {
        AccountChanges::new(Address::repeat_byte(byte))
    }

    fn index(i: u64) -> BlockAccessIndex {
        BlockAccessIndex::new(i)
    }

    fn slot(key: u64, changes: &[u64]) -> SlotChanges {
        SlotChanges::new(
            U256::from(key),
            changes.iter().map(|i| StorageChange::new(index(*i), U256::from(7))).collect(),
        )
    }

    fn check(list: Vec<AccountChanges>) -> Result<(), StructureError> {
        validate(&list, &LIMITS)
    }

    #[test]
    fn a_well_formed_list_passes() {
        let mut a = account(1);
        a.storage_changes = vec![slot(1, &[0, 3]), slot(5, &[1])];
        a.storage_reads = vec![U256::from(2), U256::from(9)];
        a.balance_changes = vec![BalanceChange::new(index(1), U256::ONE)];
        check(vec![a, account(2)]).unwrap();
        check(vec![]).unwrap();
    }

    #[test]
    fn each_rule_is_named() {
        assert!(matches!(
            check(vec![account(2), account(1)]),
            Err(StructureError::AccountOrder { .. })
        ));
        assert!(matches!(
            check(vec![account(1), account(1)]),
            Err(StructureError::AccountOrder { .. })
        ));

        let mut a = account(1);
        a.storage_reads = vec![U256::from(3), U256::from(3)];
        assert!(matches!(
            check(vec![a]),
            Err(StructureError::SlotOrder { field: Field::StorageReads, .. })
        ));

        let mut a = account(1);
        a.storage_changes = vec![slot(3, &[1]), slot(2, &[1])];
        assert!(matches!(
            check(vec![a]),
            Err(StructureError::SlotOrder { field: Field::StorageChanges, .. })
        ));

        let mut a = account(1);
        a.storage_changes = vec![slot(3, &[1])];
        a.storage_reads = vec![U256::from(3)];
        assert!(matches!(check(vec![a]), Err(StructureError::ReadAndWrite { .. })));

        let mut a = account(1);
        a.storage_changes = vec![slot(3, &[])];
        assert!(matches!(check(vec![a]), Err(StructureError::EmptySlotChanges { .. })));

        let mut a = account(1);
        a.storage_changes = vec![slot(3, &[1, 1])];
        assert!(matches!(check(vec![a]), Err(StructureError::IndexOrder { slot: Some(_), .. })));

        let mut a = account(1);
        a.balance_changes =
            vec![BalanceChange::new(index(2), U256::ONE), BalanceChange::new(index(1), U256::ONE)];
        assert!(matches!(
            check(vec![a]),
            Err(StructureError::IndexOrder { field: Field::Balance, .. })
        ));

        let mut a = account(1);
        a.balance_changes = vec![BalanceChange::new(index(4), U256::ONE)];
        assert!(matches!(check(vec![a]), Err(StructureError::IndexTooHigh { max: 3, .. })));

        let mut a = account(1);
        a.code_changes = vec![CodeChange::new(index(1), Bytes::from(vec![0; 33]))];
        assert!(matches!(check(vec![a]), Err(StructureError::CodeTooLarge { size: 33, .. })));

        let list = vec![account(1), account(2)];
        let limits = Limits { gas_limit: 3_999, ..LIMITS };
        assert_eq!(
            validate(&list, &limits),
            Err(StructureError::TooManyItems { items: 2, limit: 1 })
        );
    }

    #[test]
    fn messages_say_where() {
        let mut a = account(1);
        a.storage_changes = vec![slot(3, &[2, 1])];
        let message = check(vec![a]).unwrap_err().to_string();
        assert!(
            message.contains("storage_changes of slot 0x3 index 1 follows index 2"),
            "{message}"
        );
    }
}
