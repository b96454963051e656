//! State roots for balnode: incremental over stored branch nodes, parallel across storage tries, with
//! account and storage proofs.
//!
//! Everything here reads through the cursor traits of [`cursor`] (hashed accounts and storage, stored branch
//! nodes); no database handle lives in this crate. The store (`balnode-storage-mdbx`) implements the cursors
//! over its `HashedAccounts`, `HashedStorages`, `AccountsTrie` and `StoragesTrie` tables, and
//! `test_utils::MemoryState` over maps.
//!
//! A block's root is computed before the block is committed: its [`StateChanges`] are hashed into a
//! [`HashedPostState`], laid over the parent's tables ([`HashedPostStateCursorFactory`]), and the walk in
//! `walk.rs` descends only along the changed paths, reusing every stored hash elsewhere. The changed storage
//! tries go first, in parallel on a rayon pool ([`parallel_state_root`]), then the account trie. The result
//! carries the [`TrieUpdates`] that the store writes with the block, in the same write transaction.
//!
//! Good starting points:
//! - [`parallel_state_root`] / [`state_root()`]: a block's root and trie updates.
//! - [`HashedPostState::from_changes`], and [`prepare`] for hashing the keys a block access list names before
//!   execution ends.
//! - [`account_proof`]: EIP-1186 proofs at the head or, with an overlay of old values, at an earlier block.
//! - [`check_trie`]: a stored trie compared node by node with a full recompute (`balnode db verify-root`).
//! - [`full_state_root`]: the from-scratch reference over the plain state, for tests and `verify-root`.
//!
//! ## Feature Flags
//! - `test-utils`: `test_utils::MemoryState`, in-memory cursors for tests and benchmarks.
//!
//! [`TrieUpdates`]: balnode_storage_api::TrieUpdates

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod cursor;
mod hashed_state;
mod prefix_set;
mod proof;
#[cfg(test)]
mod proptests;
mod state_root;
#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;
mod verify;
mod walk;

pub use cursor::{
    FromScratch, HashedCursor, HashedCursorFactory, MaybeTrieCursor, NoTrieCursor, StateCursors,
    TrieCursor, TrieCursorFactory,
};
pub use hashed_state::{
    ChangedKeys, HashedPostState, HashedPostStateCursorFactory, HashedStorage, OverlayCursor,
    OverlayValue, PreparedKeys, prepare,
};
pub use prefix_set::PrefixSet;
pub use proof::account_proof;
pub use state_root::{Parallelism, StateRootOutput, parallel_state_root, state_root};
pub use verify::{NodeMismatch, TrieCheck, TrieId, check_trie};

use std::collections::BTreeMap;

use alloy_trie::root::{state_root_unhashed, storage_root_unhashed};
use balnode_primitives::{Account, Address, B256, StateChanges, U256};
use balnode_storage_api::{PlainStateReader, ProviderResult};

/// The state root of `base` with `changes` applied on top, computed from scratch.
///
/// `changes` holds post-values: an account mapped to `None` is gone (with its storage), a storage entry
/// with `wiped` drops every slot `base` had for the account before its own slots apply, and a zero slot
/// value deletes the slot.
pub fn full_state_root(
    base: &impl PlainStateReader,
    changes: &StateChanges,
) -> ProviderResult<B256> {
    let mut accounts: BTreeMap<Address, Account> = base.plain_accounts()?.into_iter().collect();
    for (address, account) in &changes.accounts {
        match account {
            Some(account) => accounts.insert(*address, *account),
            None => accounts.remove(address),
        };
    }
    let mut leaves = Vec::with_capacity(accounts.len());
    for (address, account) in accounts {
        let storage_root = storage_root_unhashed(storage_of(base, address, changes)?);
        leaves.push((address, account.to_trie_account(storage_root)));
    }
    Ok(state_root_unhashed(leaves))
}

/// The non-zero storage of `address` after `changes`.
fn storage_of(
    base: &impl PlainStateReader,
    address: Address,
    changes: &StateChanges,
) -> ProviderResult<Vec<(B256, U256)>> {
    let written = changes.storage.get(&address);
    let account_gone = changes.accounts.get(&address).is_some_and(Option::is_none);
    let mut slots: BTreeMap<B256, U256> = if account_gone || written.is_some_and(|s| s.wiped) {
        BTreeMap::new()
    } else {
        base.plain_storage(address)?.into_iter().collect()
    };
    for (slot, value) in written.into_iter().flat_map(|storage| &storage.slots) {
        slots.insert(*slot, *value);
    }
    Ok(slots.into_iter().filter(|(_, value)| !value.is_zero()).collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use balnode_primitives::{EMPTY_ROOT_HASH, StorageChanges};
    use proptest::prelude::*;

    use super::*;
    use crate::test_utils::PlainState;

    #[test]
    fn empty_state_has_the_empty_root() {
        assert_eq!(
            full_state_root(&PlainState::default(), &StateChanges::default()).unwrap(),
            EMPTY_ROOT_HASH
        );
    }

    fn account() -> impl Strategy<Value = Option<Account>> {
        prop::option::weighted(
            0.8,
            (0u64..3, 0u64..3, any::<bool>()).prop_map(|(nonce, balance, code)| Account {
                nonce,
                balance: U256::from(balance),
                bytecode_hash: code.then(|| B256::repeat_byte(7)),
            }),
        )
    }

    fn changes() -> impl Strategy<Value = StateChanges> {
        let address = (0u8..6).prop_map(Address::with_last_byte);
        let slots = prop::collection::btree_map(
            (0u8..5).prop_map(B256::with_last_byte),
            (0u64..3).prop_map(U256::from),
            0..4,
        );
        (
            prop::collection::btree_map(address.clone(), account(), 0..5),
            prop::collection::btree_map(
                address,
                (any::<bool>(), slots).prop_map(|(wiped, slots)| StorageChanges { wiped, slots }),
                0..4,
            ),
        )
            .prop_map(|(accounts, storage)| {
                // Storage only for accounts that exist afterwards, as execution produces it.
                let storage = storage
                    .into_iter()
                    .filter(|(address, _)| accounts.get(address).is_none_or(Option::is_some))
                    .collect();
                StateChanges { accounts, storage, bytecodes: BTreeMap::new() }
            })
    }

    proptest! {
        /// The overlay root equals the root of the state with the changes applied, block after block.
        #[test]
        fn overlay_root_matches_applied_state(blocks in prop::collection::vec(changes(), 1..6)) {
            let mut state = PlainState::default();
            for changes in &blocks {
                let overlay = full_state_root(&state, changes).unwrap();
                state.apply(changes);
                prop_assert_eq!(overlay, state.root());
            }
        }
    }
}
