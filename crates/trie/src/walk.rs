//! The incremental walk: one trie's root from its stored branch nodes, its leaves and the set of changed keys.
//!
//! The walk descends the stored nodes only where a changed key lies below. Everywhere else it hands the
//! hash builder the stored hash of a whole subtree. Between and below the stored nodes it reads the leaves
//! from the hashed cursor (which already shows the post-state). What it feeds the hash builder is therefore a
//! sorted stream of subtree hashes and leaves whose trie is the post-state trie, and the hash builder
//! rebuilds exactly the branch nodes along the changed paths.
//!
//! Why a stored hash can stand for its subtree: a child hash is kept (its bit in `hash_mask`) only for a
//! child that is itself a branch node. The node of a set of keys that first diverge at path `p` is a branch
//! at `p` whatever surrounds it, so when nothing below `p` changes, the branch and its hash are the same in
//! the new trie. Leaves are never passed as hashes: a leaf's node depends on where its parent ends.
//!
//! Which stored nodes go away: every stored node the walk enters is either rebuilt by the hash builder (and
//! comes back in its updates) or no longer exists, so the walk records the paths it enters and the caller
//! deletes those that the hash builder did not produce again.

use std::collections::BTreeMap;

use alloy_trie::{HashBuilder, proof::ProofRetainer};
use balnode_primitives::{
    B256,
    trie::{BranchNodeCompact, Nibbles, TrieMask},
};
use balnode_storage_api::ProviderResult;

use crate::{
    cursor::{HashedCursor, TrieCursor},
    prefix_set::PrefixSet,
};

/// The nodes of one trie a computation changes: `None` removes the node.
pub(crate) type NodeUpdates = BTreeMap<Nibbles, Option<BranchNodeCompact>>;

/// What a walk produces.
#[derive(Debug)]
pub(crate) struct WalkOutput {
    /// The trie's root.
    pub(crate) root: B256,
    /// Node changes to store.
    pub(crate) updates: NodeUpdates,
    /// The retained proof nodes, by path, when targets were given.
    pub(crate) proof: alloy_trie::proof::ProofNodes,
    /// The first nibbles of the leaves fed to the hash builder: the root's children when every leaf was
    /// (which is the case whenever the hash builder did not keep a root node).
    pub(crate) leaf_nibbles: TrieMask,
}

/// Where the leaf cursor stands after the last read.
enum Position<K, V> {
    /// Unknown: the next read seeks.
    Unknown,
    /// On this entry, the first after everything read so far.
    At(K, V),
    /// Past the last entry.
    End,
}

/// One trie's walk. `E` encodes a leaf value into the bytes the trie commits to.
pub(crate) struct Walk<'p, T, C: HashedCursor, E> {
    trie: T,
    leaves: C,
    /// Leaves are read in increasing key order, each read starting at or after where the last one did, so
    /// the entry a read stopped on answers the next read without a seek when it lies in its range.
    position: Position<B256, C::Value>,
    encode: E,
    changes: &'p PrefixSet,
    builder: HashBuilder,
    entered: Vec<Nibbles>,
    leaf_nibbles: TrieMask,
    buf: Vec<u8>,
}

impl<'p, T, C, E> Walk<'p, T, C, E>
where
    T: TrieCursor,
    C: HashedCursor,
    E: FnMut(B256, &C::Value, &mut Vec<u8>) -> ProviderResult<()>,
{
    /// A walk over the stored nodes of `trie` and the leaves of `leaves`; `changes` must hold every key whose
    /// leaf differs between the state `trie` was built for and the state `leaves` shows, and every proof
    /// target. `retain` asks for the proof nodes of the given keys.
    pub(crate) fn new(
        trie: T,
        leaves: C,
        changes: &'p PrefixSet,
        retain: Option<Vec<Nibbles>>,
        encode: E,
    ) -> Self {
        let mut builder = HashBuilder::default().with_updates(true);
        if let Some(targets) = retain {
            builder = builder.with_proof_retainer(ProofRetainer::new(targets));
        }
        Self {
            trie,
            leaves,
            position: Position::Unknown,
            encode,
            changes,
            builder,
            entered: Vec::new(),
            leaf_nibbles: TrieMask::default(),
            buf: Vec::new(),
        }
    }

    /// Walks the whole trie and returns its root, node updates and proof nodes.
    pub(crate) fn run(mut self) -> ProviderResult<WalkOutput> {
        self.walk(Nibbles::default())?;
        let root = self.builder.root();
        let proof = self.builder.take_proof_nodes();
        let (_, built) = self.builder.split();
        let mut updates: NodeUpdates = self.entered.into_iter().map(|path| (path, None)).collect();
        updates.extend(built.into_iter().map(|(path, node)| (path, Some(node))));
        Ok(WalkOutput { root, updates, proof, leaf_nibbles: self.leaf_nibbles })
    }

    /// Feeds the hash builder everything below `prefix`.
    fn walk(&mut self, prefix: Nibbles) -> ProviderResult<()> {
        let found = self.trie.seek(prefix)?.filter(|(path, _)| path.starts_with(&prefix));
        let Some((path, node)) = found else {
            // Nothing stored below: the subtrie is rebuilt from its leaves.
            return self.leaves_under(prefix);
        };
        self.entered.push(path);
        // The stored node is the top of the old subtrie, so keys below `prefix` but not below `path` are new.
        let outside = path.len() > prefix.len() && self.changes.contains_outside(&prefix, &path);
        if outside {
            self.leaves_between(pad(&prefix), pad(&path))?;
        }
        for nibble in 0..16u8 {
            let mut child = path;
            child.push_unchecked(nibble);
            let exists = node.state_mask.is_bit_set(nibble);
            if exists && node.hash_mask.is_bit_set(nibble) && !self.changes.contains(&child) {
                let hash = node.hash_for_nibble(nibble);
                self.builder.add_branch(child, hash, node.tree_mask.is_bit_set(nibble));
            } else if exists && node.tree_mask.is_bit_set(nibble) {
                self.walk(child)?;
            } else if exists || self.changes.contains(&child) {
                self.leaves_under(child)?;
            }
        }
        if outside && let Some(after) = path.increment().filter(|after| after.starts_with(&prefix))
        {
            self.leaves_from(pad(&after), &prefix)?;
        }
        Ok(())
    }

    /// Adds the leaf `key` with `value`.
    fn add_leaf(&mut self, key: B256, value: &C::Value) -> ProviderResult<()> {
        self.buf.clear();
        (self.encode)(key, value, &mut self.buf)?;
        let key = Nibbles::unpack(key);
        self.leaf_nibbles |= TrieMask::from_nibble(key.get_unchecked(0));
        self.builder.add_leaf(key, &self.buf);
        Ok(())
    }

    /// Adds every leaf whose key starts with `prefix`.
    fn leaves_under(&mut self, prefix: Nibbles) -> ProviderResult<()> {
        self.leaves_from(pad(&prefix), &prefix)
    }

    /// The first leaf at or after `from`. Reads come in increasing order of `from`, so when the cursor
    /// already stands at or after `from` (or at the end), nothing lies between and no seek is needed.
    fn first_from(&mut self, from: B256) -> ProviderResult<Option<(B256, C::Value)>> {
        match std::mem::replace(&mut self.position, Position::Unknown) {
            Position::At(key, value) if key >= from => Ok(Some((key, value))),
            Position::End => {
                self.position = Position::End;
                Ok(None)
            }
            _ => self.leaves.seek(from),
        }
    }

    /// Records where the cursor stopped: on `entry`, or at the end.
    fn stop_at(&mut self, entry: Option<(B256, C::Value)>) {
        self.position = match entry {
            Some((key, value)) => Position::At(key, value),
            None => Position::End,
        };
    }

    /// Adds the leaves from `from` on while their keys start with `prefix`.
    fn leaves_from(&mut self, from: B256, prefix: &Nibbles) -> ProviderResult<()> {
        let mut entry = self.first_from(from)?;
        while let Some((key, value)) = entry {
            if !Nibbles::unpack(key).starts_with(prefix) {
                self.stop_at(Some((key, value)));
                return Ok(());
            }
            self.add_leaf(key, &value)?;
            entry = self.leaves.next()?;
        }
        self.stop_at(None);
        Ok(())
    }

    /// Adds the leaves in `[from, to)`.
    fn leaves_between(&mut self, from: B256, to: B256) -> ProviderResult<()> {
        let mut entry = self.first_from(from)?;
        while let Some((key, value)) = entry {
            if key >= to {
                self.stop_at(Some((key, value)));
                return Ok(());
            }
            self.add_leaf(key, &value)?;
            entry = self.leaves.next()?;
        }
        self.stop_at(None);
        Ok(())
    }
}

/// The smallest key that starts with `prefix`.
pub(crate) fn pad(prefix: &Nibbles) -> B256 {
    let mut out = B256::ZERO;
    prefix.pack_to(out.as_mut_slice());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding() {
        assert_eq!(pad(&Nibbles::default()), B256::ZERO);
        let mut expected = B256::ZERO;
        expected.0[0] = 0x12;
        expected.0[1] = 0x30;
        assert_eq!(pad(&Nibbles::from_nibbles([1, 2, 3])), expected);
    }
}
