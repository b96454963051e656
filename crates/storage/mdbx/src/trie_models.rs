//! Encodings of the trie tables: nibble paths and branch nodes.

use crate::codec::{Decode, DecodeError, Encode, fixed, split};
use balnode_primitives::{
    B256,
    trie::{BranchNodeCompact, Nibbles, TrieMask},
};

/// The width of an encoded path: 64 nibbles, one per byte, then the length.
const PATH_LEN: usize = 65;

/// A nibble path: the nibbles one per byte, zero-padded to 64 bytes, then the path's length (one byte).
///
/// Fixed width, so that it can lead a `DUP_SORT` value, and ordered as the trie walks: a path sorts before
/// its extensions (its padding is all zeros and its length smaller), and otherwise by its nibbles.
impl Encode for Nibbles {
    type Encoded = [u8; PATH_LEN];

    fn encode(&self) -> Self::Encoded {
        let mut out = [0; PATH_LEN];
        for (byte, nibble) in out.iter_mut().zip(self.iter()) {
            *byte = nibble;
        }
        // At most 64, so the cast cannot truncate.
        out[64] = self.len() as u8;
        out
    }
}

impl Decode for Nibbles {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let bytes = fixed::<PATH_LEN>(bytes)?;
        let len = usize::from(bytes[64]);
        if len > 64 {
            return Err(DecodeError::Invalid("path longer than 64 nibbles"));
        }
        if bytes[..len].iter().any(|nibble| *nibble > 0xf) {
            return Err(DecodeError::Invalid("path byte is not a nibble"));
        }
        if bytes[len..64].iter().any(|byte| *byte != 0) {
            return Err(DecodeError::Invalid("path padding is not zero"));
        }
        Ok(Self::from_nibbles_unchecked(&bytes[..len]))
    }
}

/// Bit of a node's flags byte that says a root hash follows the masks.
const HAS_ROOT_HASH: u8 = 1;

/// A branch node as the trie tables keep it.
///
/// Layout (schema version 2): `state_mask`, `tree_mask`, `hash_mask` (two bytes each, big-endian), a flags
/// byte (bit 0: a root hash follows; the others zero), the root hash when flagged, then one 32-byte hash per
/// bit of `hash_mask`, in nibble order. The masks are checked on decoding (tree and hash masks within the
/// state mask, one hash per hash-mask bit), so a corrupt node is an error rather than a panic.
impl Encode for BranchNodeCompact {
    type Encoded = Vec<u8>;

    fn encode(&self) -> Self::Encoded {
        let mut out = Vec::with_capacity(7 + 32 * (self.hashes.len() + 1));
        for mask in [self.state_mask, self.tree_mask, self.hash_mask] {
            out.extend_from_slice(&mask.get().to_be_bytes());
        }
        out.push(if self.root_hash.is_some() { HAS_ROOT_HASH } else { 0 });
        if let Some(root) = self.root_hash {
            out.extend_from_slice(root.as_slice());
        }
        for hash in self.hashes.iter() {
            out.extend_from_slice(hash.as_slice());
        }
        out
    }
}

impl Decode for BranchNodeCompact {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (header, mut rest) = split(bytes, 7)?;
        let mask = |i: usize| TrieMask::new(u16::from_be_bytes([header[i], header[i + 1]]));
        let (state_mask, tree_mask, hash_mask) = (mask(0), mask(2), mask(4));
        if !tree_mask.is_subset_of(state_mask) || !hash_mask.is_subset_of(state_mask) {
            return Err(DecodeError::Invalid("tree or hash mask outside the state mask"));
        }
        let root_hash = match header[6] {
            0 => None,
            HAS_ROOT_HASH => {
                let (root, after) = split(rest, 32)?;
                rest = after;
                Some(B256::decode(root)?)
            }
            _ => return Err(DecodeError::Invalid("reserved node flag bits are set")),
        };
        let (chunks, trailing) = rest.as_chunks::<32>();
        if !trailing.is_empty() || chunks.len() != hash_mask.count_ones() as usize {
            return Err(DecodeError::Invalid("node hashes do not match its hash mask"));
        }
        let hashes = chunks.iter().map(|chunk| B256::new(*chunk)).collect();
        Ok(Self::new(state_mask, tree_mask, hash_mask, hashes, root_hash))
    }
}

/// A node of a storage trie: its path, then the node. An entry of `StoragesTrie`, whose values are sorted
/// (and found) by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageTrieEntry {
    /// The node's path in the storage trie.
    pub path: Nibbles,
    /// The node.
    pub node: BranchNodeCompact,
}

impl Encode for StorageTrieEntry {
    type Encoded = Vec<u8>;

    fn encode(&self) -> Self::Encoded {
        let mut out = self.path.encode().to_vec();
        out.extend_from_slice(&self.node.encode());
        out
    }
}

impl Decode for StorageTrieEntry {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (path, node) = split(bytes, PATH_LEN)?;
        Ok(Self { path: Nibbles::decode(path)?, node: BranchNodeCompact::decode(node)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_path() -> impl Strategy<Value = Nibbles> {
        proptest::collection::vec(0u8..16, 0..=64).prop_map(Nibbles::from_nibbles_unchecked)
    }

    fn arb_node() -> impl Strategy<Value = BranchNodeCompact> {
        (any::<u16>(), any::<u16>(), any::<u16>(), proptest::option::of(any::<[u8; 32]>()))
            .prop_map(|(state, tree, hash, root)| {
                let (tree, hash) = (tree & state, hash & state);
                let hashes =
                    (0..hash.count_ones()).map(|i| B256::with_last_byte(i as u8)).collect();
                BranchNodeCompact::new(state, tree, hash, hashes, root.map(B256::new))
            })
    }

    #[test]
    fn layouts() {
        let path = Nibbles::from_nibbles([1, 0xf]);
        let encoded = path.encode();
        assert_eq!(&encoded[..3], [1, 0xf, 0]);
        assert_eq!(encoded[64], 2);
        let node = BranchNodeCompact::new(0b11, 0b01, 0b10, vec![B256::repeat_byte(9)], None);
        let encoded = node.encode();
        assert_eq!(&encoded[..7], [0, 3, 0, 1, 0, 2, 0]);
        assert_eq!(encoded.len(), 7 + 32);
        for bad in [
            &[0, 1, 0, 2, 0, 0, 0][..], // tree mask outside the state mask
            &[0, 1, 0, 0, 0, 1, 0],     // a hash bit without its hash
            &[0, 1, 0, 0, 0, 0, 2],     // reserved flag
            &[0, 1, 0, 0, 0, 0, 1, 7],  // truncated root hash
            &[0, 1, 0, 0, 0],           // truncated masks
        ] {
            assert!(BranchNodeCompact::decode(bad).is_err(), "{bad:?} decoded");
        }
        let mut bad_path = [0u8; 65];
        bad_path[64] = 65;
        assert!(Nibbles::decode(&bad_path).is_err());
        bad_path[64] = 1;
        bad_path[1] = 1;
        assert!(Nibbles::decode(&bad_path).is_err(), "non-zero padding");
        bad_path[1] = 0;
        bad_path[0] = 16;
        assert!(Nibbles::decode(&bad_path).is_err(), "not a nibble");
    }

    proptest! {
        #[test]
        fn paths_round_trip_and_sort_like_nibbles(a in arb_path(), b in arb_path()) {
            prop_assert_eq!(Nibbles::decode(&a.encode()).unwrap(), a);
            prop_assert_eq!(a.cmp(&b), a.encode().cmp(&b.encode()));
        }

        #[test]
        fn nodes_round_trip(node in arb_node(), path in arb_path()) {
            prop_assert_eq!(&BranchNodeCompact::decode(&node.encode()).unwrap(), &node);
            let entry = StorageTrieEntry { path, node };
            prop_assert_eq!(StorageTrieEntry::decode(&entry.encode()).unwrap(), entry);
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = BranchNodeCompact::decode(&bytes);
            let _ = StorageTrieEntry::decode(&bytes);
            let _ = Nibbles::decode(&bytes);
        }
    }
}
