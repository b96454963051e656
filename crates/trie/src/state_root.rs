//! The state root of a block: its changed storage tries (in parallel), then the account trie.

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock, PoisonError},
};

use alloy_trie::{HashBuilder, proof::ProofNodes};
use balnode_primitives::{
    Account, B256, EMPTY_ROOT_HASH, U256, rlp,
    trie::{BranchNodeCompact, Nibbles, TrieMask},
};
use balnode_storage_api::{ProviderError, ProviderResult, StorageTrieUpdates, TrieUpdates};
use rayon::prelude::*;
use tracing::{debug, trace};

use crate::{
    cursor::{HashedCursor, StateCursors, TrieCursor},
    hashed_state::{HashedPostState, HashedPostStateCursorFactory, HashedStorage},
    prefix_set::PrefixSet,
    walk::Walk,
};

/// The root of one storage trie, the node changes that lead to it and the proof nodes asked for.
#[derive(Debug)]
pub(crate) struct StorageRootOutput {
    pub(crate) root: B256,
    pub(crate) updates: StorageTrieUpdates,
    pub(crate) proof: ProofNodes,
}

/// Computes the storage root of `hashed_address` over `cursors` (which already show the post-state), where
/// `storage` says what changed, retaining the proofs of `targets`.
pub(crate) fn storage_root<F: StateCursors>(
    cursors: &F,
    hashed_address: B256,
    storage: Option<&HashedStorage>,
    targets: &[B256],
) -> ProviderResult<StorageRootOutput> {
    let changes = PrefixSet::from_keys(
        storage
            .into_iter()
            .flat_map(|storage| storage.slots.keys().copied())
            .chain(targets.iter().copied()),
    );
    let retain = (!targets.is_empty()).then(|| targets.iter().map(Nibbles::unpack).collect());
    let walk = Walk::new(
        cursors.storage_trie_cursor(hashed_address)?,
        cursors.hashed_storage_cursor(hashed_address)?,
        &changes,
        retain,
        |_, value: &U256, buf: &mut Vec<u8>| {
            rlp::Encodable::encode(value, buf);
            Ok(())
        },
    );
    let mut output = walk.run()?;
    // Keep the root node of every storage trie whose root is a branch, even one the hash builder would not
    // keep (a branch of leaves), for its `root_hash`: the account walk then finds the storage root of each
    // unchanged account it passes with one seek instead of hashing the account's slots again. The node has
    // no hashes, so a walk through it reads its leaves as for any unkept branch.
    let root_kept = matches!(output.updates.get(&Nibbles::default()), Some(Some(_)));
    if !root_kept && output.leaf_nibbles.count_ones() >= 2 {
        let root_node = BranchNodeCompact::new(
            output.leaf_nibbles,
            TrieMask::default(),
            TrieMask::default(),
            Vec::new(),
            Some(output.root),
        );
        output.updates.insert(Nibbles::default(), Some(root_node));
    }
    let wiped = storage.is_some_and(|storage| storage.wiped);
    trace!(target: "trie::storage", %hashed_address, root = %output.root, updated = output.updates.len(), wiped, "Storage root");
    Ok(StorageRootOutput {
        root: output.root,
        updates: StorageTrieUpdates { wiped, nodes: output.updates },
        proof: output.proof,
    })
}

/// The storage root of an account whose storage did not change: the stored root node's hash where there is
/// one; a walk reusing the stored child hashes where nodes are stored below an extension root; else (no node
/// stored: at most a branch of leaves) straight from the leaves, which for most accounts means finding none.
///
/// It runs for every unchanged account leaf the account walk passes, so it avoids the walk's set-up there.
pub(crate) fn unchanged_storage_root<F: StateCursors>(
    cursors: &F,
    hashed_address: B256,
) -> ProviderResult<B256> {
    match cursors.storage_trie_cursor(hashed_address)?.seek(Nibbles::default())? {
        Some((path, BranchNodeCompact { root_hash: Some(root), .. })) if path.is_empty() => {
            return Ok(root);
        }
        Some(_) => return Ok(storage_root(cursors, hashed_address, None, &[])?.root),
        None => {}
    }
    let mut leaves = cursors.hashed_storage_cursor(hashed_address)?;
    let mut entry = leaves.seek(B256::ZERO)?;
    if entry.is_none() {
        return Ok(EMPTY_ROOT_HASH);
    }
    let mut builder = HashBuilder::default();
    let mut buf = Vec::new();
    while let Some((slot, value)) = entry {
        buf.clear();
        rlp::Encodable::encode(&value, &mut buf);
        builder.add_leaf(Nibbles::unpack(slot), &buf);
        entry = leaves.next()?;
    }
    Ok(builder.root())
}

/// The account trie over `cursors`, given the new roots of the storage tries that changed.
pub(crate) fn account_trie<F: StateCursors>(
    cursors: &F,
    changes: &PrefixSet,
    storage_roots: &HashMap<B256, B256>,
    targets: &[B256],
) -> ProviderResult<(B256, BTreeNodes, ProofNodes)> {
    account_trie_with(
        cursors,
        changes,
        &|hashed_address| Ok(storage_roots.get(&hashed_address).copied()),
        targets,
    )
}

/// [`account_trie`] with the new storage roots given by `changed_root` (`None`: the storage did not change).
fn account_trie_with<F: StateCursors>(
    cursors: &F,
    changes: &PrefixSet,
    changed_root: &dyn Fn(B256) -> ProviderResult<Option<B256>>,
    targets: &[B256],
) -> ProviderResult<(B256, BTreeNodes, ProofNodes)> {
    let retain = (!targets.is_empty()).then(|| targets.iter().map(Nibbles::unpack).collect());
    let walk = Walk::new(
        cursors.account_trie_cursor()?,
        cursors.hashed_account_cursor()?,
        changes,
        retain,
        |hashed_address, account: &Account, buf: &mut Vec<u8>| {
            let storage_root = match changed_root(hashed_address)? {
                Some(root) => root,
                None => unchanged_storage_root(cursors, hashed_address)?,
            };
            rlp::Encodable::encode(&account.to_trie_account(storage_root), buf);
            Ok(())
        },
    );
    let output = walk.run()?;
    Ok((output.root, output.updates, output.proof))
}

type BTreeNodes = std::collections::BTreeMap<Nibbles, Option<BranchNodeCompact>>;

/// A state root and the trie changes that produce it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRootOutput {
    /// The state root.
    pub root: B256,
    /// The node changes to store with the block.
    pub updates: TrieUpdates,
}

/// How the storage roots of a block's changed accounts are computed.
#[derive(Debug, Clone, Copy, Default)]
pub enum Parallelism<'a> {
    /// One after the other, on the calling thread (a store's write transaction cannot be shared).
    #[default]
    Sequential,
    /// On the current rayon pool.
    CurrentPool,
    /// On the given pool; its thread count is the parallelism.
    Pool(&'a rayon::ThreadPool),
}

/// The state root of `cursors`' state with `state` laid over it, and the trie updates to store with it.
///
/// `cursors` holds the parent's hashed state and trie; nothing is written. Storage roots run sequentially;
/// see [`parallel_state_root`].
pub fn state_root<F: StateCursors>(
    cursors: &F,
    state: &HashedPostState,
) -> ProviderResult<StateRootOutput> {
    let overlay = HashedPostStateCursorFactory::new(cursors, state);
    let storage_outputs = state
        .storages
        .iter()
        .map(|(hashed_address, storage)| {
            storage_root(&overlay, *hashed_address, Some(storage), &[])
                .map(|output| (*hashed_address, output))
        })
        .collect::<ProviderResult<Vec<_>>>()?;
    finish(&overlay, state, storage_outputs)
}

/// [`state_root`] with the storage roots of the changed accounts computed in parallel on a rayon pool.
///
/// The account trie does not wait for them all: it is walked on one of the pool's threads while the others
/// compute storage roots, and when it reaches a changed account whose root nobody has started, it computes
/// that root itself. Each root is computed once (a `OnceLock` per account). On a pool of one thread this is
/// the sequential order: the storage roots, then the account trie.
pub fn parallel_state_root<F: StateCursors + Sync>(
    cursors: &F,
    state: &HashedPostState,
    parallelism: Parallelism<'_>,
) -> ProviderResult<StateRootOutput> {
    let overlay = HashedPostStateCursorFactory::new(cursors, state);
    let cells: HashMap<B256, OnceLock<Option<StorageRootOutput>>> =
        state.storages.keys().map(|hashed_address| (*hashed_address, OnceLock::new())).collect();
    let failure: Mutex<Option<ProviderError>> = Mutex::new(None);
    let compute = |hashed_address: &B256, cell: &OnceLock<Option<StorageRootOutput>>| {
        cell.get_or_init(|| {
            let storage = state.storages.get(hashed_address);
            match storage_root(&overlay, *hashed_address, storage, &[]) {
                Ok(output) => Some(output),
                Err(error) => {
                    failure.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(error);
                    None
                }
            }
        })
        .as_ref()
        .map(|output| output.root)
    };
    let changed_root = |hashed_address: B256| -> ProviderResult<Option<B256>> {
        let Some(cell) = cells.get(&hashed_address) else { return Ok(None) };
        compute(&hashed_address, cell).map(Some).ok_or_else(|| {
            ProviderError::Database(std::io::Error::other("a storage root failed").into())
        })
    };
    let run = || {
        rayon::join(
            || {
                cells.par_iter().for_each(|(hashed_address, cell)| {
                    compute(hashed_address, cell);
                });
            },
            || {
                let changes = PrefixSet::from_keys(state.changed_accounts());
                account_trie_with(&overlay, &changes, &changed_root, &[])
            },
        )
    };
    let ((), account) = match parallelism {
        Parallelism::Sequential => return state_root(cursors, state),
        Parallelism::CurrentPool => run(),
        Parallelism::Pool(pool) => pool.install(run),
    };
    if let Some(error) = failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
        return Err(error);
    }
    let (root, account_nodes, _) = account?;
    let storage_outputs = cells
        .into_iter()
        .filter_map(|(hashed_address, cell)| Some((hashed_address, cell.into_inner()??)))
        .collect();
    Ok(assemble(state, root, account_nodes, storage_outputs))
}

/// The account trie once the storage roots are known, and the updates of both.
fn finish<F: StateCursors>(
    overlay: &F,
    state: &HashedPostState,
    storage_outputs: Vec<(B256, StorageRootOutput)>,
) -> ProviderResult<StateRootOutput> {
    let storage_roots: HashMap<B256, B256> = storage_outputs
        .iter()
        .map(|(hashed_address, output)| (*hashed_address, output.root))
        .collect();
    let changes = PrefixSet::from_keys(state.changed_accounts());
    let (root, account_nodes, _) = account_trie(overlay, &changes, &storage_roots, &[])?;
    Ok(assemble(state, root, account_nodes, storage_outputs))
}

/// The output of a state root from its parts.
fn assemble(
    state: &HashedPostState,
    root: B256,
    account_nodes: BTreeNodes,
    storage_outputs: Vec<(B256, StorageRootOutput)>,
) -> StateRootOutput {
    let mut updates = TrieUpdates { account_nodes, ..Default::default() };
    for (hashed_address, output) in storage_outputs {
        if output.updates.wiped || !output.updates.nodes.is_empty() {
            updates.storage_tries.insert(hashed_address, output.updates);
        }
    }
    debug!(
        target: "trie::root",
        %root,
        accounts = state.accounts.len(),
        storages = state.storages.len(),
        account_nodes = updates.account_nodes.len(),
        "Computed state root"
    );
    StateRootOutput { root, updates }
}
