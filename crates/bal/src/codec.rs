//! The RLP of a block access list and its hash.

use balnode_primitives::{
    B256, Bytes, b256, keccak256,
    rlp::{self, Decodable},
};

use crate::{AccountChanges, BlockAccessList};

/// The RLP of an empty block access list: an empty list.
pub const EMPTY_BLOCK_ACCESS_LIST_RLP: [u8; 1] = [rlp::EMPTY_LIST_CODE];

/// `keccak256(0xc0)`: the `block_access_list_hash` of a block that accessed nothing.
pub const EMPTY_BLOCK_ACCESS_LIST_HASH: B256 =
    b256!("0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347");

/// Why bytes are not a block access list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The RLP does not have the block access list's shape.
    #[error("malformed block access list RLP: {0}")]
    Rlp(rlp::Error),
    /// The list is followed by more bytes.
    #[error("{0} bytes after the block access list")]
    TrailingBytes(usize),
}

/// Decodes the RLP of a block access list. The whole input must be the list.
///
/// This checks the shape only (types and field counts); the ordering and uniqueness rules are
/// [`validate`](crate::validate())'s.
pub fn decode(mut rlp: &[u8]) -> Result<BlockAccessList, DecodeError> {
    let list = BlockAccessList::decode(&mut rlp).map_err(DecodeError::Rlp)?;
    if !rlp.is_empty() {
        return Err(DecodeError::TrailingBytes(rlp.len()));
    }
    Ok(list)
}

/// The RLP of a block access list.
pub fn encode(list: &[AccountChanges]) -> Bytes {
    let mut out = Vec::with_capacity(rlp::list_length(list));
    rlp::encode_list(list, &mut out);
    out.into()
}

/// The hash the header commits to: `keccak256(rlp(list))`.
pub fn hash(list: &[AccountChanges]) -> B256 {
    keccak256(encode(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_list() {
        assert_eq!(&encode(&[])[..], &EMPTY_BLOCK_ACCESS_LIST_RLP);
        assert_eq!(hash(&[]), EMPTY_BLOCK_ACCESS_LIST_HASH);
        assert_eq!(keccak256(EMPTY_BLOCK_ACCESS_LIST_RLP), EMPTY_BLOCK_ACCESS_LIST_HASH);
        assert_eq!(decode(&EMPTY_BLOCK_ACCESS_LIST_RLP).unwrap(), Vec::new());
    }

    #[test]
    fn trailing_bytes_are_refused() {
        assert_eq!(decode(&[0xc0, 0x00]), Err(DecodeError::TrailingBytes(1)));
        assert!(matches!(decode(&[]), Err(DecodeError::Rlp(_))));
        assert!(matches!(decode(&[0x80]), Err(DecodeError::Rlp(_))));
    }
}
