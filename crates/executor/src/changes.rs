//! From revm's record of what execution changed to the node's [`StateChanges`].

use balnode_primitives::{Account, B256, KECCAK256_EMPTY, StateChanges, StorageChanges};
use revm::{
    database::{BundleState, CacheState},
    state::AccountInfo,
};

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

/// The state so far in a block, from revm's cache: every account execution loaded or changed, with its
/// current value. Used for the intermediate state roots of pre-Byzantium receipts.
pub(crate) fn changes_from_cache(cache: &CacheState) -> StateChanges {
    let mut changes = StateChanges::default();
    for (address, cached) in &cache.accounts {
        let account = cached.account.as_ref();
        changes.accounts.insert(*address, account.map(|plain| account_of(&plain.info)));
        let slots = account
            .into_iter()
            .flat_map(|plain| &plain.storage)
            .map(|(key, value)| (B256::from(*key), *value))
            .collect();
        changes
            .storage
            .insert(*address, StorageChanges { wiped: cached.status.was_destroyed(), slots });
    }
    changes
}
