//! Account and storage proofs (EIP-1186) from the same walk as the root: the targets join the changed keys so
//! that the walk rebuilds every node on their paths, and alloy-trie's `ProofRetainer` keeps those nodes.

use std::collections::HashMap;

use alloy_trie::proof::ProofNodes;
use balnode_primitives::{Address, B256, Bytes, EMPTY_ROOT_HASH, U256, keccak256, trie::Nibbles};
use balnode_storage_api::{AccountProof, ProviderResult, StorageProof};

use crate::{
    cursor::{HashedCursor, HashedCursorFactory, StateCursors},
    hashed_state::{HashedPostState, HashedPostStateCursorFactory},
    prefix_set::PrefixSet,
    state_root::{account_trie, storage_root},
};

/// The proof of `address` and its `slots` in the state of `cursors` with `overlay` laid over it.
///
/// At the head `overlay` is empty and the walk only descends along the targets' paths. For an earlier block
/// it holds the values as they were then (from the change sets): the stored trie of the head is reused
/// wherever nothing changed since.
pub fn account_proof<F: StateCursors>(
    cursors: &F,
    overlay: &HashedPostState,
    address: Address,
    slots: &[B256],
) -> ProviderResult<AccountProof> {
    let view = HashedPostStateCursorFactory::new(cursors, overlay);
    let hashed_address = keccak256(address);
    let account = view
        .hashed_account_cursor()?
        .seek(hashed_address)?
        .filter(|(key, _)| *key == hashed_address)
        .map(|(_, account)| account);

    let mut storage_roots = HashMap::new();
    for (other, storage) in &overlay.storages {
        if *other != hashed_address {
            storage_roots.insert(*other, storage_root(&view, *other, Some(storage), &[])?.root);
        }
    }
    let (storage_root_hash, storage_proofs) = if account.is_some() {
        let hashed_slots: Vec<B256> = slots.iter().map(keccak256).collect();
        let output = storage_root(
            &view,
            hashed_address,
            overlay.storages.get(&hashed_address),
            &hashed_slots,
        )?;
        let mut cursor = view.hashed_storage_cursor(hashed_address)?;
        let mut proofs = Vec::with_capacity(slots.len());
        for (slot, hashed_slot) in slots.iter().zip(&hashed_slots) {
            let value = cursor
                .seek(*hashed_slot)?
                .filter(|(key, _)| key == hashed_slot)
                .map_or(U256::ZERO, |(_, value)| value);
            proofs.push(StorageProof {
                key: *slot,
                value,
                proof: nodes_for(&output.proof, *hashed_slot),
            });
        }
        (output.root, proofs)
    } else {
        // No account, no storage: the storage proofs are proofs of absence in the empty trie.
        let proofs = slots
            .iter()
            .map(|slot| StorageProof { key: *slot, value: U256::ZERO, proof: Vec::new() })
            .collect();
        (EMPTY_ROOT_HASH, proofs)
    };
    storage_roots.insert(hashed_address, storage_root_hash);

    let changes =
        PrefixSet::from_keys(overlay.changed_accounts().chain(std::iter::once(hashed_address)));
    let (_, _, proof) = account_trie(&view, &changes, &storage_roots, &[hashed_address])?;
    Ok(AccountProof {
        address,
        account,
        storage_root: storage_root_hash,
        account_proof: nodes_for(&proof, hashed_address),
        storage_proofs,
    })
}

/// The retained nodes on the path of `key`, from the root down.
fn nodes_for(proof: &ProofNodes, key: B256) -> Vec<Bytes> {
    proof.matching_nodes_sorted(&Nibbles::unpack(key)).into_iter().map(|(_, node)| node).collect()
}
