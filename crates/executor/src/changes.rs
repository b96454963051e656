//! From revm's record of what execution changed to the node's [`StateChanges`].

use std::collections::BTreeMap;

use balnode_primitives::{
    Account, Address, B256, Bytes, KECCAK256_EMPTY, StateChanges, StorageChanges, U256,
    eips::eip7928::{AccountChanges, BlockAccessList},
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

/// What a block access list leaves of one account, against the parent state: the part of
/// [`changes_from_list`]'s post-state that depends on that account alone, so that it can be worked out
/// while the account is read ahead, on any thread ([`account_post`]).
#[derive(Debug, Default)]
pub(crate) struct AccountPost {
    /// Whether the account existed before the block.
    existed: bool,
    /// Its fields after the block, if they differ from the parent's.
    fields: Fields,
    /// The code it ends with, by hash, if the list changes its code to some.
    code: Option<(B256, Bytes)>,
    /// The slots whose last write differs from the parent's value.
    slots: BTreeMap<B256, U256>,
}

/// An account's fields after the block, as [`AccountPost`] holds them.
#[derive(Debug, Default)]
enum Fields {
    /// As before the block (or absent before and after).
    #[default]
    Unchanged,
    /// Changed to these.
    Changed(Account),
    /// An existing account left empty: deleted under EIP-161, which the list does not say.
    LeftEmpty,
}

/// What `changes` (one account of a block's list) leaves of the account whose parent fields are `before`,
/// `parent_slot` giving the parent value of each slot the list writes.
pub(crate) fn account_post<E>(
    changes: &AccountChanges,
    before: Option<&AccountInfo>,
    mut parent_slot: impl FnMut(U256) -> Result<U256, E>,
) -> Result<AccountPost, E> {
    let mut post = AccountPost { existed: before.is_some(), ..Default::default() };
    if !(changes.balance_changes.is_empty()
        && changes.nonce_changes.is_empty()
        && changes.code_changes.is_empty())
    {
        let (balance, nonce, code) = before.map_or_else(
            || (Default::default(), 0, KECCAK256_EMPTY),
            |info| (info.balance, info.nonce, info.code_hash),
        );
        let last_code = changes.code_changes.last().map(|change| &change.new_code);
        let after = (
            changes.balance_changes.last().map_or(balance, |change| change.post_balance),
            changes.nonce_changes.last().map_or(nonce, |change| change.new_nonce),
            last_code.map_or(code, |code| code_hash(code)),
        );
        let empty = after.0.is_zero() && after.1 == 0 && after.2 == KECCAK256_EMPTY;
        post.fields = match before {
            Some(_) if empty => Fields::LeftEmpty,
            None if empty => Fields::Unchanged,
            _ if after == (balance, nonce, code) => Fields::Unchanged,
            _ => Fields::Changed(Account {
                balance: after.0,
                nonce: after.1,
                bytecode_hash: (after.2 != KECCAK256_EMPTY).then_some(after.2),
            }),
        };
        // The code the account ends with (an EIP-7702 delegation set and then changed in the block leaves
        // only its last code, as revm's bundle does).
        if let Some(code) = last_code.filter(|code| !code.is_empty()) {
            post.code = Some((after.2, code.clone()));
        }
    }
    for slot in &changes.storage_changes {
        let Some(last) = slot.changes.last() else { continue };
        if last.new_value != parent_slot(slot.slot)? {
            post.slots.insert(B256::from(slot.slot), last.new_value);
        }
    }
    Ok(post)
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
    let posts = list
        .iter()
        .map(|account| {
            let address = account.address;
            let before = parent.parent_account(address)?;
            account_post(account, before.as_ref(), |slot| parent.parent_slot(address, slot))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(changes_from_posts(list, posts, destroyed))
}

/// [`changes_from_list`], from what the list leaves of each of its accounts (`posts`, in the list's order,
/// made by [`account_post`]).
pub(crate) fn changes_from_posts(
    list: &BlockAccessList,
    posts: Vec<AccountPost>,
    destroyed: &[(u64, Address)],
) -> Option<StateChanges> {
    debug_assert_eq!(list.len(), posts.len());
    let mut changes = StateChanges::default();
    for &(index, address) in destroyed {
        let position = list.binary_search_by_key(&address, |account| account.address).ok()?;
        if written_after(&list[position], index) || !posts[position].existed {
            return None;
        }
        changes.accounts.insert(address, None);
        changes.storage.insert(address, StorageChanges { wiped: true, slots: Default::default() });
    }
    let mut accounts = Vec::new();
    let mut storage = Vec::new();
    for (account, post) in list.iter().zip(posts) {
        let address = account.address;
        if !destroyed.is_empty() && changes.accounts.contains_key(&address) {
            continue;
        }
        match post.fields {
            Fields::Unchanged => {}
            Fields::Changed(fields) => accounts.push((address, Some(fields))),
            Fields::LeftEmpty => return None,
        }
        if let Some((hash, code)) = post.code {
            changes.bytecodes.insert(hash, code);
        }
        if !post.slots.is_empty() {
            storage.push((address, StorageChanges { wiped: false, slots: post.slots }));
        }
    }
    // In address order, as the list is: built in bulk.
    if changes.accounts.is_empty() {
        changes.accounts = accounts.into_iter().collect();
        changes.storage = storage.into_iter().collect();
    } else {
        changes.accounts.extend(accounts);
        changes.storage.extend(storage);
    }
    Some(changes)
}

/// Whether the list writes any field or slot of `account` at an index after `index`.
fn written_after(account: &AccountChanges, index: u64) -> bool {
    account
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
        .any(|written| written > index)
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

    /// What the list leaves of each account, against its parent values, and the post-state made of it.
    #[test]
    fn the_post_state_is_each_last_write_that_differs_from_the_parent() {
        use balnode_primitives::{
            Bytes,
            eips::eip7928::{
                AccountChanges, BalanceChange, BlockAccessIndex, CodeChange, NonceChange,
                SlotChanges, StorageChange,
            },
            keccak256,
        };
        let at = BlockAccessIndex;
        let (back, changed, emptied, created) = (
            Address::repeat_byte(1),
            Address::repeat_byte(2),
            Address::repeat_byte(3),
            Address::repeat_byte(4),
        );
        let parent = |address: Address| {
            (address != created)
                .then(|| AccountInfo { balance: U256::from(10), ..Default::default() })
        };
        let slot = |slot: u64, changes: &[(u64, u64)]| SlotChanges {
            slot: U256::from(slot),
            changes: changes
                .iter()
                .map(|&(i, v)| StorageChange::new(at(i), U256::from(v)))
                .collect(),
        };
        let list = vec![
            // Balance back to its parent value; slot 1 back to its parent value (1), slot 2 changed.
            AccountChanges {
                address: back,
                balance_changes: vec![
                    BalanceChange::new(at(1), U256::from(3)),
                    BalanceChange::new(at(2), U256::from(10)),
                ],
                storage_changes: vec![slot(1, &[(1, 5), (2, 1)]), slot(2, &[(1, 7)])],
                ..Default::default()
            },
            AccountChanges {
                address: changed,
                nonce_changes: vec![NonceChange::new(at(1), 1)],
                ..Default::default()
            },
            AccountChanges {
                address: emptied,
                balance_changes: vec![BalanceChange::new(at(2), U256::ZERO)],
                ..Default::default()
            },
            AccountChanges {
                address: created,
                code_changes: vec![CodeChange::new(at(1), Bytes::from_static(&[0x00]))],
                ..Default::default()
            },
        ];
        // Each slot's parent value is its number.
        let posts = || {
            list.iter()
                .map(|account| {
                    let before = parent(account.address);
                    account_post(account, before.as_ref(), Ok::<_, ()>)
                })
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
        };
        // An existing account left empty: the list cannot say it is deleted.
        assert!(changes_from_posts(&list, posts(), &[]).is_none());
        // Destroyed at its last write, it is deleted with its storage wiped.
        let changes = changes_from_posts(&list, posts(), &[(2, emptied)]).unwrap();
        assert!(!changes.accounts.contains_key(&back));
        let slots = &changes.storage[&back];
        assert!(!slots.wiped);
        assert_eq!(
            slots.slots.clone().into_iter().collect::<Vec<_>>(),
            vec![(B256::from(U256::from(2)), U256::from(7))]
        );
        assert_eq!(changes.accounts[&changed].unwrap().nonce, 1);
        assert_eq!(changes.accounts[&emptied], None);
        assert!(changes.storage[&emptied].wiped);
        let code = keccak256([0x00]);
        assert_eq!(changes.accounts[&created].unwrap().bytecode_hash, Some(code));
        assert_eq!(changes.bytecodes[&code], Bytes::from_static(&[0x00]));
        // Destroyed before a later write, or where there was no account: not the list's to say.
        assert!(changes_from_posts(&list, posts(), &[(1, emptied)]).is_none());
        assert!(changes_from_posts(&list, posts(), &[(1, created)]).is_none());
    }

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
