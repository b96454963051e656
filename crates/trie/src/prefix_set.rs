//! [`PrefixSet`]: the hashed keys that changed, asked "does anything under this path change?".

use balnode_primitives::{B256, trie::Nibbles};

/// A sorted set of changed keys (full 64-nibble paths), queried by prefix.
///
/// A trie walk skips every stored subtree whose path is not a prefix of a key here, reusing its hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefixSet {
    keys: Vec<Nibbles>,
}

impl PrefixSet {
    /// The set of `keys`.
    pub fn from_keys(keys: impl IntoIterator<Item = B256>) -> Self {
        let mut keys: Vec<Nibbles> = keys.into_iter().map(Nibbles::unpack).collect();
        keys.sort_unstable();
        keys.dedup();
        Self { keys }
    }

    /// The number of keys.
    pub const fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub const fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The positions of the keys that start with `prefix`: keys with a common prefix are contiguous.
    fn range(&self, prefix: &Nibbles) -> (usize, usize) {
        let start = self.keys.partition_point(|key| key < prefix);
        let end = match prefix.increment() {
            Some(next) => self.keys.partition_point(|key| *key < next),
            None if prefix.is_empty() => self.keys.len(),
            // All nibbles are `f`: nothing sorts after the prefix's range but the range itself.
            None => start + self.keys[start..].partition_point(|key| key.starts_with(prefix)),
        };
        (start, end)
    }

    /// Whether some key starts with `prefix`.
    pub fn contains(&self, prefix: &Nibbles) -> bool {
        let start = self.keys.partition_point(|key| key < prefix);
        self.keys.get(start).is_some_and(|key| key.starts_with(prefix))
    }

    /// Whether some key starts with `outer` but not with `inner` (which extends `outer`).
    pub(crate) fn contains_outside(&self, outer: &Nibbles, inner: &Nibbles) -> bool {
        self.range(outer) != self.range(inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nibbles(n: &[u8]) -> Nibbles {
        Nibbles::from_nibbles(n)
    }

    #[test]
    fn prefixes() {
        let mut a = [0u8; 32];
        a[0] = 0x12;
        let mut b = [0xffu8; 32];
        b[0] = 0x13;
        let set = PrefixSet::from_keys([B256::new(a), B256::new(b), B256::new(a)]);
        assert_eq!(set.len(), 2);
        assert!(set.contains(&nibbles(&[])));
        assert!(set.contains(&nibbles(&[1])));
        assert!(set.contains(&nibbles(&[1, 2, 0, 0])));
        assert!(set.contains(&nibbles(&[1, 3, 0xf])));
        assert!(!set.contains(&nibbles(&[1, 3, 0xe])));
        assert!(!set.contains(&nibbles(&[2])));
        assert!(set.contains_outside(&nibbles(&[1]), &nibbles(&[1, 2])));
        assert!(!set.contains_outside(&nibbles(&[1, 2]), &nibbles(&[1, 2, 0])));
        assert!(!set.contains_outside(&nibbles(&[0xf]), &nibbles(&[0xf, 0xf])));
        let all_f = PrefixSet::from_keys([B256::repeat_byte(0xff)]);
        assert!(!all_f.contains_outside(&nibbles(&[0xf]), &nibbles(&[0xf, 0xf])));
        assert!(all_f.contains_outside(&nibbles(&[0xf]), &nibbles(&[0xf, 0xe])));
    }
}
