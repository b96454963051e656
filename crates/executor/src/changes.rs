//! From revm's record of what execution changed to the node's [`StateChanges`].

use balnode_primitives::{
    Account, Address, B256, KECCAK256_EMPTY, StateChanges, StorageChanges,
    eips::eip7928::BlockAccessList,
};
use balnode_storage_api::StateProvider;
use revm::{
    database::{BundleState, TransitionState},
    state::AccountInfo,
};

use crate::{database::DatabaseError, list_check::code_hash, prefetch::PrefetchedState};

/// The node's account for revm's account info.
pub(crate) fn account_of(info: &AccountInfo) -> Account {
    Account {
        nonce: info.nonce,
        balance: info.balance,
        bytecode_hash: (info.code_hash != KECCAK256_EMPTY).then_some(info.code_hash),
    }
}

/// The post-values of a block from the bundle revm built over it.
///
/// Only what changed is kept: an account whose info is unchanged and that was not destroyed contributes only
/// its changed slots. A destroyed account's storage is marked wiped, with the slots written after the
/// destruction.
pub(crate) fn changes_from_bundle(bundle: BundleState) -> StateChanges {
    let mut changes = StateChanges::default();
    for (address, account) in bundle.state {
        let wiped = account.was_destroyed();
        if wiped || account.is_info_changed() {
            changes.accounts.insert(address, account.info.as_ref().map(account_of));
        }
        let slots: std::collections::BTreeMap<_, _> = account
            .storage
            .iter()
            .filter(|(_, slot)| wiped || slot.is_changed())
            .map(|(key, slot)| (B256::from(*key), slot.present_value))
            .collect();
        if wiped || !slots.is_empty() {
            changes.storage.insert(address, StorageChanges { wiped, slots });
        }
    }
    for (hash, code) in bundle.contracts {
        if hash != KECCAK256_EMPTY {
            changes.bytecodes.insert(hash, code.original_bytes());
        }
    }
    changes
}

/// What a block changed so far, from revm's transitions (every commit since the block began): each changed
/// account's current value (`None`: deleted) and its written slots, a destroyed account's storage marked
/// wiped. Used for the intermediate state roots of pre-Byzantium receipts: accounts only read keep their
/// parent values, so they are left out.
pub(crate) fn changes_from_transitions(transitions: &TransitionState) -> StateChanges {
    let mut changes = StateChanges::default();
    for (address, transition) in &transitions.transitions {
        changes.accounts.insert(*address, transition.info.as_ref().map(account_of));
        let wiped = transition.storage_was_destroyed || transition.status.was_destroyed();
        let slots: std::collections::BTreeMap<_, _> = transition
            .storage
            .iter()
            .map(|(key, slot)| (B256::from(*key), slot.present_value))
            .collect();
        if wiped || !slots.is_empty() {
            changes.storage.insert(*address, StorageChanges { wiped, slots });
        }
    }
    changes
}

/// The post-values of a block from its access list, once execution has confirmed every entry of it
/// ([`ListCheck`](crate::list_check::ListCheck)): each account's and slot's last write, kept where it differs
/// from the parent state's value, and the code accounts end with. The same as [`changes_from_bundle`] over the
/// committed executions: an existing account `destroyed` (self-destructed at the index given, and not
/// written after it) is deleted with its storage wiped. `None` when the list alone cannot say what revm's
/// bookkeeping would (an account left empty, deleted under EIP-161; a destroyed account written again or that
/// did not exist before the block).
pub(crate) fn changes_from_list<P: StateProvider>(
    list: &BlockAccessList,
    parent: &PrefetchedState<P>,
    destroyed: &[(u64, Address)],
) -> Result<Option<StateChanges>, DatabaseError> {
    let mut changes = StateChanges::default();
    for &(index, address) in destroyed {
        let Ok(position) = list.binary_search_by_key(&address, |account| account.address) else {
            return Ok(None);
        };
        let account = &list[position];
        let written_after = account
            .balance_changes
            .iter()
            .map(|c| c.block_access_index.0)
            .chain(account.nonce_changes.iter().map(|c| c.block_access_index.0))
            .chain(account.code_changes.iter().map(|c| c.block_access_index.0))
            .chain(
                account
                    .storage_changes
                    .iter()
                    .flat_map(|s| s.changes.iter().map(|c| c.block_access_index.0)),
            )
            .any(|written| written > index);
        if written_after || parent.parent_account(address)?.is_none() {
            return Ok(None);
        }
        changes.accounts.insert(address, None);
        changes.storage.insert(address, StorageChanges { wiped: true, slots: Default::default() });
    }
    for account in list {
        let address = account.address;
        if changes.accounts.contains_key(&address) {
            continue;
        }
        if !(account.balance_changes.is_empty()
            && account.nonce_changes.is_empty()
            && account.code_changes.is_empty())
        {
            let before = parent.parent_account(address)?;
            let (balance, nonce, code) = before.as_ref().map_or_else(
                || (Default::default(), 0, KECCAK256_EMPTY),
                |info| (info.balance, info.nonce, info.code_hash),
            );
            let after = (
                account.balance_changes.last().map_or(balance, |change| change.post_balance),
                account.nonce_changes.last().map_or(nonce, |change| change.new_nonce),
                account.code_changes.last().map_or(code, |change| code_hash(&change.new_code)),
            );
            let empty = after.0.is_zero() && after.1 == 0 && after.2 == KECCAK256_EMPTY;
            match before {
                Some(_) if empty => return Ok(None),
                None if empty => {}
                _ if after == (balance, nonce, code) => {}
                _ => {
                    changes.accounts.insert(
                        address,
                        Some(Account {
                            balance: after.0,
                            nonce: after.1,
                            bytecode_hash: (after.2 != KECCAK256_EMPTY).then_some(after.2),
                        }),
                    );
                }
            }
            // The code the account ends with (an EIP-7702 delegation set and then changed in the block
            // leaves only its last code, as revm's bundle does).
            if let Some(change) = account.code_changes.last()
                && !change.new_code.is_empty()
            {
                changes.bytecodes.insert(code_hash(&change.new_code), change.new_code.clone());
            }
        }
        let mut slots = std::collections::BTreeMap::new();
        for slot in &account.storage_changes {
            let Some(last) = slot.changes.last() else { continue };
            if last.new_value != parent.parent_slot(address, slot.slot)? {
                slots.insert(B256::from(slot.slot), last.new_value);
            }
        }
        if !slots.is_empty() {
            changes.storage.insert(address, StorageChanges { wiped: false, slots });
        }
    }
    Ok(Some(changes))
}

#[cfg(test)]
mod tests {
    use balnode_primitives::U256;
    use revm::{
        Database, DatabaseCommit,
        database::{CacheDB, EmptyDB, State},
        state::{Account, AccountInfo, EvmState, EvmStorageSlot, TransactionId},
    };

    use super::*;

    #[test]
    fn the_changes_so_far_hold_what_was_written_not_what_was_read() {
        let (read, written, destroyed) =
            (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let mut parent = CacheDB::new(EmptyDB::default());
        let info =
            |balance: u64| AccountInfo { balance: U256::from(balance), ..Default::default() };
        parent.insert_account_info(read, info(1));
        parent.insert_account_info(written, info(2));
        parent.insert_account_info(destroyed, info(3));
        parent.insert_account_storage(destroyed, U256::from(9), U256::from(9)).unwrap();
        let mut state = State::builder().with_database(parent).with_bundle_update().build();
        state.basic(read).unwrap();
        let loaded = |state: &mut State<_>, address| {
            let mut account = Account::from(state.basic(address).unwrap().unwrap());
            account.mark_touch();
            account
        };
        // One commit per transaction, as execution makes them.
        let mut first = loaded(&mut state, written);
        first.info.balance = U256::from(20);
        first.storage.insert(
            U256::from(1),
            EvmStorageSlot::new_changed(U256::ZERO, U256::from(5), TransactionId::ZERO),
        );
        state.commit(EvmState::from_iter([(written, first)]));
        let mut second = loaded(&mut state, destroyed);
        second.mark_selfdestruct();
        state.commit(EvmState::from_iter([(destroyed, second)]));

        let changes = changes_from_transitions(state.transition_state.as_ref().unwrap());
        assert!(!changes.accounts.contains_key(&read), "an account only read is left out");
        assert_eq!(
            changes.accounts.get(&written),
            Some(&Some(balnode_primitives::Account {
                balance: U256::from(20),
                nonce: 0,
                bytecode_hash: None
            }))
        );
        let slots = &changes.storage[&written];
        assert!(!slots.wiped);
        assert_eq!(slots.slots.get(&B256::from(U256::from(1))), Some(&U256::from(5)));
        assert_eq!(changes.accounts.get(&destroyed), Some(&None));
        assert!(changes.storage[&destroyed].wiped && changes.storage[&destroyed].slots.is_empty());
    }
}
