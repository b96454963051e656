//! Compact encodings of state values: [`Account`] and storage words.
//!
//! Plain state and the change sets hold one value per account and slot per block, so these encodings are
//! what most of the database is made of. Both strip leading zero bytes: most nonces fit in one or two bytes and
//! most balances and storage words in far fewer than 32.
//!
//! The layouts are part of the on-disk format: changing them means raising [`crate::SCHEMA_VERSION`].

use crate::codec::{Decode, DecodeError, Encode, decode_stripped_u64, fixed, split};
use balnode_primitives::{Account, B256, U256};

/// Bit of an account's header byte that says a code hash follows.
const HAS_CODE_HASH: u8 = 0x10;
/// Bits of an account's header byte that hold the nonce length.
const NONCE_LEN_MASK: u8 = 0x0f;

/// Appends `value` big-endian without leading zero bytes (nothing at all for zero).
pub(crate) fn encode_u256(value: U256, out: &mut Vec<u8>) {
    let bytes = value.to_be_bytes::<32>();
    out.extend_from_slice(&bytes[32 - value.byte_len()..]);
}

/// Decodes a word written by [`encode_u256`], rejecting leading zero bytes so each value has one encoding.
pub(crate) fn decode_u256(bytes: &[u8]) -> Result<U256, DecodeError> {
    if bytes.first() == Some(&0) {
        return Err(DecodeError::Invalid("word with a leading zero byte"));
    }
    U256::try_from_be_slice(bytes).ok_or(DecodeError::Invalid("word longer than 32 bytes"))
}

/// An account in plain state and in the account change sets.
///
/// Layout (schema version 1):
///
/// | bytes     | content                                                                            |
/// |-----------|------------------------------------------------------------------------------------|
/// | 1         | header: bits 0–3 the nonce length `n` (0–8), bit 4 set when a code hash follows, bits 5–7 zero |
/// | 1         | the balance length `b` (0–32)                                                      |
/// | `n`       | the nonce, big-endian, without leading zero bytes                                  |
/// | `b`       | the balance, big-endian, without leading zero bytes                                |
/// | 0 or 32   | the code hash, when the header says so                                             |
///
/// An empty account is the two bytes `00 00`; an externally owned account with a small nonce and a balance of
/// a few ether takes about 13 bytes instead of the 72 of a fixed layout. The reserved header bits let a later
/// schema add fields without ambiguity; this version rejects them.
impl Encode for Account {
    type Encoded = Vec<u8>;

    fn encode(&self) -> Self::Encoded {
        let nonce_len = 8 - self.nonce.leading_zeros() as usize / 8;
        let mut out = Vec::with_capacity(2 + nonce_len + self.balance.byte_len() + 32);
        let code_flag = if self.bytecode_hash.is_some() { HAS_CODE_HASH } else { 0 };
        // The lengths are at most 8 and 32, so the casts cannot truncate.
        out.push(code_flag | nonce_len as u8);
        out.push(self.balance.byte_len() as u8);
        out.extend_from_slice(&self.nonce.to_be_bytes()[8 - nonce_len..]);
        encode_u256(self.balance, &mut out);
        if let Some(hash) = self.bytecode_hash {
            out.extend_from_slice(hash.as_slice());
        }
        out
    }
}

impl Decode for Account {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (header, rest) = split(bytes, 2)?;
        let (flags, balance_len) = (header[0], usize::from(header[1]));
        if flags & !(HAS_CODE_HASH | NONCE_LEN_MASK) != 0 {
            return Err(DecodeError::Invalid("reserved account header bits are set"));
        }
        let (nonce, rest) = split(rest, usize::from(flags & NONCE_LEN_MASK))?;
        let (balance, rest) = split(rest, balance_len)?;
        let bytecode_hash =
            if flags & HAS_CODE_HASH != 0 { Some(B256::new(fixed(rest)?)) } else { None };
        if bytecode_hash.is_none() && !rest.is_empty() {
            return Err(DecodeError::Invalid("trailing bytes after the account"));
        }
        Ok(Self {
            nonce: decode_stripped_u64(nonce)?,
            balance: decode_u256(balance)?,
            bytecode_hash,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use balnode_primitives::KECCAK256_EMPTY;
    use proptest::prelude::*;

    pub(crate) fn arb_u256() -> impl Strategy<Value = U256> {
        // Mix small values (the common case, short encodings) with full-width ones.
        prop_oneof![
            any::<u64>().prop_map(U256::from),
            any::<[u8; 32]>().prop_map(U256::from_be_bytes)
        ]
    }

    fn arb_account() -> impl Strategy<Value = Account> {
        (any::<u64>(), arb_u256(), proptest::option::of(any::<[u8; 32]>().prop_map(B256::new)))
            .prop_map(|(nonce, balance, bytecode_hash)| Account { nonce, balance, bytecode_hash })
    }

    #[test]
    fn account_layout() {
        assert_eq!(Account::default().encode(), [0, 0]);
        let account = Account { nonce: 0x0102, balance: U256::from(0xff), bytecode_hash: None };
        assert_eq!(account.encode(), [0x02, 0x01, 0x01, 0x02, 0xff]);
        let contract =
            Account { nonce: 1, balance: U256::ZERO, bytecode_hash: Some(KECCAK256_EMPTY) };
        let encoded = contract.encode();
        assert_eq!(&encoded[..3], [0x11, 0x00, 0x01]);
        assert_eq!(&encoded[3..], KECCAK256_EMPTY.as_slice());
        assert_eq!(Account::decode(&encoded).unwrap(), contract);
    }

    #[test]
    fn account_rejects_non_canonical_bytes() {
        for bytes in [
            &[][..],                                  // no header
            &[0x00],                                  // no balance length
            &[0x20, 0x00],                            // reserved bit
            &[0x09, 0x00, 1, 1, 1, 1, 1, 1, 1, 1, 1], // nonce longer than 8 bytes
            &[0x01, 0x00, 0x00],                      // nonce with a leading zero
            &[0x00, 0x01, 0x00],                      // balance with a leading zero
            &[0x00, 0x21],                            // balance longer than the input
            &[0x00, 0x00, 0x07],                      // trailing byte
            &[0x10, 0x00, 0x07],                      // truncated code hash
        ] {
            assert!(Account::decode(bytes).is_err(), "{bytes:?} decoded");
        }
    }

    #[test]
    fn words() {
        let mut out = Vec::new();
        encode_u256(U256::ZERO, &mut out);
        assert!(out.is_empty());
        encode_u256(U256::from(0x1234), &mut out);
        assert_eq!(out, [0x12, 0x34]);
        assert_eq!(decode_u256(&[]).unwrap(), U256::ZERO);
        assert!(decode_u256(&[0, 1]).is_err());
        assert!(decode_u256(&[1; 33]).is_err());
    }

    proptest! {
        #[test]
        fn account_round_trips(account in arb_account()) {
            let encoded = account.encode();
            prop_assert_eq!(Account::decode(&encoded).unwrap(), account);
        }

        #[test]
        fn account_decoding_is_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            // Whatever decodes must encode back to the same bytes: one value, one encoding.
            if let Ok(account) = Account::decode(&bytes) {
                prop_assert_eq!(account.encode(), bytes);
            }
        }

        #[test]
        fn word_round_trips(value in arb_u256()) {
            let mut out = Vec::new();
            encode_u256(value, &mut out);
            prop_assert_eq!(out.len(), value.byte_len());
            prop_assert_eq!(decode_u256(&out).unwrap(), value);
        }
    }
}
