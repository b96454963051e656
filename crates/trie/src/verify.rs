//! Checking a stored trie against its hashed state, node by node: what `balnode db verify-root` runs.

use std::collections::HashMap;

use balnode_primitives::{
    B256,
    trie::{BranchNodeCompact, Nibbles},
};
use balnode_storage_api::ProviderResult;
use tracing::debug;

use crate::{
    cursor::{FromScratch, HashedCursor, StateCursors},
    hashed_state::all_nodes,
    prefix_set::PrefixSet,
    state_root::{account_trie, storage_root},
    walk::NodeUpdates,
};

/// Which trie a node belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrieId {
    /// The account trie.
    Accounts,
    /// The storage trie of the account with this hashed address.
    Storage(B256),
}

impl std::fmt::Display for TrieId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Accounts => write!(f, "account trie"),
            Self::Storage(hashed_address) => write!(f, "storage trie of {hashed_address}"),
        }
    }
}

/// A stored node that differs from the node a full recompute gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeMismatch {
    /// The trie.
    pub trie: TrieId,
    /// The node's path.
    pub path: Nibbles,
    /// What is stored (`None`: nothing is).
    pub stored: Option<BranchNodeCompact>,
    /// What a full recompute gives (`None`: there should be no node).
    pub expected: Option<BranchNodeCompact>,
}

impl std::fmt::Display for NodeMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = balnode_primitives::hex::encode(self.path.to_vec());
        let what = match (&self.stored, &self.expected) {
            (None, Some(_)) => "is missing",
            (Some(_), None) => "is stored but should not exist",
            _ => "differs",
        };
        write!(f, "{}: the node at path 0x{path} (nibbles) {what}", self.trie)?;
        if let Some(stored) = &self.stored {
            write!(f, "; stored {stored:?}")?;
        }
        if let Some(expected) = &self.expected {
            write!(f, "; expected {expected:?}")?;
        }
        Ok(())
    }
}

/// What [`check_trie`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrieCheck {
    /// The state root recomputed from the hashed state alone.
    pub root: B256,
    /// The root the stored trie gives (its stored hashes, nothing recomputed below them).
    pub stored_root: B256,
    /// The first stored node (account trie first, then storage tries by hashed address) that differs from
    /// the recompute, if any.
    pub first_mismatch: Option<NodeMismatch>,
    /// Accounts visited.
    pub accounts: u64,
    /// Nodes compared.
    pub nodes: u64,
}

/// Recomputes every trie of `cursors`' hashed state from scratch and compares each node with the stored one.
pub fn check_trie<F: StateCursors>(cursors: &F) -> ProviderResult<TrieCheck> {
    let scratch = FromScratch(cursors);
    let mut storage_roots = HashMap::new();
    let mut storage_mismatch = None;
    let mut nodes = 0;
    let mut accounts = 0;
    let mut cursor = cursors.hashed_account_cursor()?;
    let mut entry = cursor.seek(B256::ZERO)?;
    while let Some((hashed_address, _)) = entry {
        accounts += 1;
        let output = storage_root(&scratch, hashed_address, None, &[])?;
        storage_roots.insert(hashed_address, output.root);
        if storage_mismatch.is_none() {
            let stored = all_nodes(&mut cursors.storage_trie_cursor(hashed_address)?)?;
            nodes += stored.len() as u64;
            storage_mismatch =
                first_difference(TrieId::Storage(hashed_address), &stored, &output.updates.nodes);
        }
        entry = cursor.next()?;
    }
    let (root, expected, _) = account_trie(&scratch, &PrefixSet::default(), &storage_roots, &[])?;
    let stored = all_nodes(&mut cursors.account_trie_cursor()?)?;
    nodes += stored.len() as u64;
    let first_mismatch =
        first_difference(TrieId::Accounts, &stored, &expected).or(storage_mismatch);
    let (stored_root, _, _) = account_trie(cursors, &PrefixSet::default(), &HashMap::new(), &[])?;
    debug!(target: "trie::verify", %root, %stored_root, accounts, nodes, "Checked the stored trie");
    Ok(TrieCheck { root, stored_root, first_mismatch, accounts, nodes })
}

/// The first path where `stored` and `expected` (a full recompute's updates) differ.
fn first_difference(
    trie: TrieId,
    stored: &[(Nibbles, BranchNodeCompact)],
    expected: &NodeUpdates,
) -> Option<NodeMismatch> {
    let mut stored = stored.iter().peekable();
    let mut expected =
        expected.iter().filter_map(|(path, node)| Some((path, node.as_ref()?))).peekable();
    loop {
        let mismatch = match (stored.peek(), expected.peek()) {
            (None, None) => return None,
            (Some((path, node)), Some((expected_path, expected_node)))
                if path == *expected_path =>
            {
                if node != *expected_node {
                    Some((*path, Some(node.clone()), Some((*expected_node).clone())))
                } else {
                    stored.next();
                    expected.next();
                    None
                }
            }
            (Some((path, node)), next)
                if next.is_none_or(|(expected_path, _)| path < *expected_path) =>
            {
                Some((*path, Some(node.clone()), None))
            }
            (_, Some((expected_path, expected_node))) => {
                Some((**expected_path, None, Some((*expected_node).clone())))
            }
            (Some(_), None) => unreachable!("handled by the arm before"),
        };
        if let Some((path, stored, expected)) = mismatch {
            return Some(NodeMismatch { trie, path, stored, expected });
        }
    }
}
