//! Property tests of the incremental root, its trie updates and proofs, over the in-memory cursors.

use std::collections::BTreeMap;

use alloy_trie::proof::verify_proof;
use balnode_primitives::{
    Account, Address, B256, EMPTY_ROOT_HASH, StateChanges, StorageChanges, U256, keccak256, rlp,
    trie::Nibbles,
};
use proptest::prelude::*;

use crate::{
    HashedPostState, Parallelism, account_proof, check_trie, full_state_root, parallel_state_root,
    state_root,
    test_utils::{MemoryState, PlainState},
};

fn account() -> impl Strategy<Value = Account> {
    (0u64..3, 0u64..1000, prop::option::weighted(0.2, (1u8..3).prop_map(B256::repeat_byte)))
        .prop_map(|(nonce, balance, bytecode_hash)| Account {
            nonce,
            balance: U256::from(balance),
            bytecode_hash,
        })
}

/// One block's changes over `accounts` addresses and `slots` slots per account: creations, updates,
/// removals (always with their storage wiped, as execution reports a destroyed account), emptied accounts,
/// slot writes and deletions, and wipes followed by writes.
fn block(accounts: u8, slots: u8, max_accounts: usize) -> impl Strategy<Value = StateChanges> {
    let address = (0..accounts).prop_map(Address::with_last_byte);
    let change = prop_oneof![
        6 => account().prop_map(Some),
        1 => Just(Some(Account::default())),
        2 => Just(None),
    ];
    let storage = (
        prop::bool::weighted(0.1),
        prop::collection::btree_map(
            (0..slots).prop_map(B256::with_last_byte),
            prop_oneof![3 => (1u64..500).prop_map(U256::from), 1 => Just(U256::ZERO)],
            0..slots as usize,
        ),
    );
    (
        prop::collection::btree_map(address.clone(), change, 0..max_accounts),
        prop::collection::btree_map(address, storage, 0..max_accounts),
    )
        .prop_map(|(accounts, storage)| {
            let mut changes = StateChanges { accounts, ..Default::default() };
            for (address, (wiped, slots)) in storage {
                if changes.accounts.get(&address).is_some_and(Option::is_none) {
                    continue;
                }
                changes.storage.insert(address, StorageChanges { wiped, slots });
            }
            for (address, account) in &changes.accounts {
                if account.is_none() {
                    changes
                        .storage
                        .insert(*address, StorageChanges { wiped: true, ..Default::default() });
                }
            }
            changes
        })
}

/// Commits `blocks` one by one to an in-memory store, checking after each that the incremental root equals
/// alloy-trie's from-scratch root and `full_state_root`, that the parallel root agrees, and that the stored
/// nodes equal those of a full recompute.
fn check_blocks(blocks: &[StateChanges]) -> Result<(MemoryState, PlainState), TestCaseError> {
    let mut store = MemoryState::default();
    let mut plain = PlainState::default();
    for (number, changes) in blocks.iter().enumerate() {
        let hashed = HashedPostState::from_changes(changes);
        let output = state_root(&store, &hashed).unwrap();
        let parallel = parallel_state_root(&store, &hashed, Parallelism::CurrentPool).unwrap();
        prop_assert_eq!(&parallel, &output);
        let full = full_state_root(&plain, changes).unwrap();
        plain.apply(changes);
        prop_assert_eq!(output.root, plain.root(), "block {}", number);
        prop_assert_eq!(output.root, full, "block {}", number);

        store.apply_state(&hashed);
        store.apply_updates(&output.updates);
        let check = check_trie(&store).unwrap();
        prop_assert_eq!(check.first_mismatch, None, "block {}", number);
        prop_assert_eq!(check.root, output.root);
        prop_assert_eq!(check.stored_root, output.root);
    }
    Ok((store, plain))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Few keys: tries of one leaf, of one branch, emptied and refilled.
    #[test]
    fn incremental_root_small(blocks in prop::collection::vec(block(6, 5, 5), 1..8)) {
        check_blocks(&blocks)?;
    }

}

proptest! {
    // Each case recomputes every trie from scratch after every block: keep the count modest in debug builds.
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Enough keys that branch nodes are stored and reused, and blocks touch a part of them.
    #[test]
    fn incremental_root_large(
        genesis in block(200, 40, 200),
        blocks in prop::collection::vec(block(200, 40, 12), 1..6),
    ) {
        let blocks: Vec<_> = std::iter::once(genesis).chain(blocks).collect();
        check_blocks(&blocks)?;
    }

    /// Proofs at the head verify against the root with alloy-trie, for present and absent accounts and slots.
    #[test]
    fn proofs_verify(blocks in prop::collection::vec(block(120, 30, 120), 1..3), probes in prop::collection::vec((0u8..130, 0u8..35), 1..6)) {
        let (store, plain) = check_blocks(&blocks)?;
        let root = plain.root();
        for (address, slot) in probes {
            let address = Address::with_last_byte(address);
            let slots = [B256::with_last_byte(slot), B256::with_last_byte(slot.wrapping_add(1))];
            let proof = account_proof(&store, &HashedPostState::default(), address, &slots).unwrap();
            check_proof(&proof, root, plain.accounts.get(&address), plain.storage.get(&address))?;
        }
    }
}

/// Verifies an account proof and its storage proofs against `root` and the expected values.
pub(crate) fn check_proof(
    proof: &balnode_storage_api::AccountProof,
    root: B256,
    account: Option<&Account>,
    storage: Option<&BTreeMap<B256, U256>>,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(proof.account.as_ref(), account);
    let key = Nibbles::unpack(keccak256(proof.address));
    let expected = account.map(|account| rlp::encode(account.to_trie_account(proof.storage_root)));
    prop_assert_eq!(verify_proof(root, key, expected, &proof.account_proof), Ok(()));
    let storage_root = if account.is_some() { proof.storage_root } else { EMPTY_ROOT_HASH };
    for slot in &proof.storage_proofs {
        let value = storage
            .and_then(|storage| storage.get(&slot.key))
            .copied()
            .filter(|_| account.is_some());
        prop_assert_eq!(slot.value, value.unwrap_or_default());
        let key = Nibbles::unpack(keccak256(slot.key));
        let expected = value.map(rlp::encode);
        prop_assert_eq!(verify_proof(storage_root, key, expected, &slot.proof), Ok(()));
    }
    Ok(())
}

#[test]
fn the_root_of_nothing_changed_is_the_stored_root() {
    let mut store = MemoryState::default();
    let changes = StateChanges {
        accounts: (0..50u8)
            .map(|n| (Address::with_last_byte(n), Some(Account { nonce: 1, ..Default::default() })))
            .collect(),
        ..Default::default()
    };
    let hashed = HashedPostState::from_changes(&changes);
    let output = state_root(&store, &hashed).unwrap();
    store.apply_state(&hashed);
    store.apply_updates(&output.updates);
    let again = state_root(&store, &HashedPostState::default()).unwrap();
    assert_eq!(again.root, output.root);
    assert!(again.updates.storage_tries.is_empty());
    let empty = state_root(&MemoryState::default(), &HashedPostState::default()).unwrap();
    assert_eq!(empty.root, EMPTY_ROOT_HASH);
}

#[test]
fn a_corrupt_node_is_reported_with_its_path() {
    let mut store = MemoryState::default();
    let changes = StateChanges {
        accounts: (0..=255u8)
            .map(|n| (Address::with_last_byte(n), Some(Account { nonce: 1, ..Default::default() })))
            .collect(),
        ..Default::default()
    };
    let hashed = HashedPostState::from_changes(&changes);
    let output = state_root(&store, &hashed).unwrap();
    store.apply_state(&hashed);
    store.apply_updates(&output.updates);
    assert_eq!(check_trie(&store).unwrap().first_mismatch, None);

    // The root node: its hashes are what the stored root is computed from.
    let (path, node) = store.account_nodes.iter().next().map(|(p, n)| (*p, n.clone())).unwrap();
    assert!(path.is_empty());
    let mut hashes = (*node.hashes).clone();
    hashes[0] = B256::repeat_byte(0xee);
    let corrupt = balnode_primitives::trie::BranchNodeCompact::new(
        node.state_mask,
        node.tree_mask,
        node.hash_mask,
        hashes,
        node.root_hash,
    );
    store.account_nodes.insert(path, corrupt.clone());
    let check = check_trie(&store).unwrap();
    let mismatch = check.first_mismatch.expect("the corrupt node is found");
    assert_eq!(mismatch.path, path);
    assert_eq!(mismatch.stored, Some(corrupt));
    assert_eq!(check.root, output.root);
    assert_ne!(check.stored_root, output.root);
    assert!(mismatch.to_string().contains("account trie"), "{mismatch}");
}

#[test]
fn prepared_hashes_give_the_same_state() {
    let mut changes = StateChanges::default();
    for n in 0..20u8 {
        let address = Address::with_last_byte(n);
        changes
            .accounts
            .insert(address, Some(Account { nonce: u64::from(n), ..Default::default() }));
        changes
            .storage
            .entry(address)
            .or_default()
            .slots
            .insert(B256::with_last_byte(n), U256::from(n));
    }
    // The access list named only some of the keys; the rest are hashed at the end.
    let mut keys = crate::ChangedKeys::default();
    keys.accounts.extend((0..10u8).map(Address::with_last_byte));
    keys.storage.entry(Address::with_last_byte(3)).or_default().insert(B256::with_last_byte(3));
    let prepared = crate::prepare(&keys);
    assert_eq!(prepared.len(), 11);
    assert_eq!(
        HashedPostState::from_changes_prepared(&changes, &prepared),
        HashedPostState::from_changes(&changes)
    );
}
