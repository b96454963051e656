//! Byte encodings of table keys and values: the [`Encode`] and [`Decode`] traits and their impls for scalars and
//! block data.
//!
//! Keys are fixed-width and big-endian, so that MDBX's byte-wise key order is numeric order: a cursor seek on
//! `address ++ block` lands on the first block at or after the one asked for. Block data (headers, bodies) is
//! stored as RLP because that is how it travels and what it is hashed over; state values use compact encodings
//! that strip leading zero bytes (the `Encode` impl of `Account` below, and [`crate::models`]).

use balnode_primitives::{
    Address, B256, BlockBody, Bytes, Header, ReceiptEnvelope, TxEnvelope,
    eips::eip2718::{Decodable2718, Eip2718Error, Encodable2718},
    rlp,
};
use balnode_storage_api::TxLocation;

/// Why stored bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The value has a fixed width and the stored bytes have another.
    #[error("expected {expected} bytes, found {found}")]
    Length {
        /// The width the encoding has.
        expected: usize,
        /// The number of bytes stored.
        found: usize,
    },
    /// The bytes end before the value does.
    #[error("expected at least {expected} bytes, found {found}")]
    TooShort {
        /// The number of bytes needed.
        expected: usize,
        /// The number of bytes stored.
        found: usize,
    },
    /// The bytes break a rule of the encoding.
    #[error("{0}")]
    Invalid(&'static str),
    /// RLP that does not decode, or has bytes left over.
    #[error("invalid RLP: {0}")]
    Rlp(rlp::Error),
}

impl From<rlp::Error> for DecodeError {
    fn from(err: rlp::Error) -> Self {
        Self::Rlp(err)
    }
}

impl From<Eip2718Error> for DecodeError {
    fn from(err: Eip2718Error) -> Self {
        match err {
            Eip2718Error::RlpError(err) => Self::Rlp(err),
            _ => Self::Invalid("unknown EIP-2718 type"),
        }
    }
}

/// Turns a key or value into the bytes stored in a table.
pub trait Encode {
    /// The encoded bytes: an array for fixed-width keys, so that a lookup does not allocate.
    type Encoded: AsRef<[u8]>;

    /// Encodes `self`.
    fn encode(&self) -> Self::Encoded;
}

/// Reads a key or value back from the bytes stored in a table.
///
/// Decoding is strict: every input that [`Encode`] cannot produce is an error, so that corruption is noticed
/// where it is read rather than propagated.
pub trait Decode: Sized {
    /// Decodes `bytes`, all of which must belong to the value.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}

/// Checks that `bytes` is exactly `N` long and returns it as an array.
pub(crate) fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], DecodeError> {
    bytes.try_into().map_err(|_| DecodeError::Length { expected: N, found: bytes.len() })
}

/// Splits the first `n` bytes off `bytes`.
pub(crate) fn split(bytes: &[u8], n: usize) -> Result<(&[u8], &[u8]), DecodeError> {
    bytes.split_at_checked(n).ok_or(DecodeError::TooShort { expected: n, found: bytes.len() })
}

impl Encode for u64 {
    type Encoded = [u8; 8];

    fn encode(&self) -> Self::Encoded {
        self.to_be_bytes()
    }
}

impl Decode for u64 {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        fixed(bytes).map(Self::from_be_bytes)
    }
}

impl Encode for Address {
    type Encoded = [u8; 20];

    fn encode(&self) -> Self::Encoded {
        self.0.0
    }
}

impl Decode for Address {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        fixed(bytes).map(Self::new)
    }
}

impl Encode for B256 {
    type Encoded = [u8; 32];

    fn encode(&self) -> Self::Encoded {
        self.0
    }
}

impl Decode for B256 {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        fixed(bytes).map(Self::new)
    }
}

/// The empty value of the history tables, whose keys carry everything.
impl Encode for () {
    type Encoded = [u8; 0];

    fn encode(&self) -> Self::Encoded {
        []
    }
}

impl Decode for () {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        fixed::<0>(bytes).map(drop)
    }
}

/// Opaque bytes (code, access lists, metadata) are stored as they are.
impl Encode for Bytes {
    type Encoded = Self;

    fn encode(&self) -> Self::Encoded {
        self.clone()
    }
}

impl Decode for Bytes {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self::copy_from_slice(bytes))
    }
}

/// Decodes one RLP item that must fill `bytes`.
fn rlp_decode_exact<T: rlp::Decodable>(mut bytes: &[u8]) -> Result<T, DecodeError> {
    let value = T::decode(&mut bytes)?;
    if !bytes.is_empty() {
        return Err(DecodeError::Rlp(rlp::Error::UnexpectedLength));
    }
    Ok(value)
}

impl Encode for Header {
    type Encoded = Vec<u8>;

    fn encode(&self) -> Self::Encoded {
        rlp::encode(self)
    }
}

impl Decode for Header {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        rlp_decode_exact(bytes)
    }
}

/// A body is the RLP list `[transactions, ommers, withdrawals?]`, transactions in their network form.
impl Encode for BlockBody<TxEnvelope> {
    type Encoded = Vec<u8>;

    fn encode(&self) -> Self::Encoded {
        rlp::encode(self)
    }
}

impl Decode for BlockBody<TxEnvelope> {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        rlp_decode_exact(bytes)
    }
}

/// Senders are their 20-byte addresses back to back: the count is the length divided by 20.
impl Encode for Vec<Address> {
    type Encoded = Vec<u8>;

    fn encode(&self) -> Self::Encoded {
        self.iter().flat_map(|address| address.0.0).collect()
    }
}

impl Decode for Vec<Address> {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (chunks, rest) = bytes.as_chunks::<20>();
        if !rest.is_empty() {
            return Err(DecodeError::Invalid("senders length is not a multiple of 20"));
        }
        Ok(chunks.iter().map(|chunk| Address::new(*chunk)).collect())
    }
}

/// Receipts are an RLP list of byte strings, each the EIP-2718 encoding of one receipt (the same bytes the
/// receipts trie commits to), so that a receipt's type survives the round trip.
impl Encode for Vec<ReceiptEnvelope> {
    type Encoded = Vec<u8>;

    fn encode(&self) -> Self::Encoded {
        let items: Vec<Bytes> = self.iter().map(|receipt| receipt.encoded_2718().into()).collect();
        rlp::encode(items)
    }
}

impl Decode for Vec<ReceiptEnvelope> {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let items: Vec<Bytes> = rlp_decode_exact(bytes)?;
        items.iter().map(|item| Ok(ReceiptEnvelope::decode_2718_exact(item)?)).collect()
    }
}

/// A transaction's location is the block number (8 bytes, big-endian) followed by its index in the block
/// with leading zero bytes stripped (no bytes for index 0).
impl Encode for TxLocation {
    type Encoded = Vec<u8>;

    fn encode(&self) -> Self::Encoded {
        let mut out = self.block_number.to_be_bytes().to_vec();
        let index = self.index.to_be_bytes();
        out.extend_from_slice(&index[self.index.leading_zeros() as usize / 8..]);
        out
    }
}

impl Decode for TxLocation {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (block_number, index) = split(bytes, 8)?;
        Ok(Self { block_number: u64::decode(block_number)?, index: decode_stripped_u64(index)? })
    }
}

/// Decodes a big-endian integer of up to 8 bytes without leading zero bytes.
pub(crate) fn decode_stripped_u64(bytes: &[u8]) -> Result<u64, DecodeError> {
    if bytes.len() > 8 {
        return Err(DecodeError::Invalid("integer longer than 8 bytes"));
    }
    if bytes.first() == Some(&0) {
        return Err(DecodeError::Invalid("integer with a leading zero byte"));
    }
    Ok(bytes.iter().fold(0, |acc, byte| (acc << 8) | u64::from(*byte)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use balnode_primitives::{
        Bloom, Withdrawal,
        consensus::{Eip658Value, Receipt, ReceiptWithBloom},
        eips::eip4895::Withdrawals,
        primitives::Log,
    };
    use proptest::prelude::*;

    /// Encodes `value`, checks the bytes against `expected` when given, and decodes them back.
    fn check<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: T, expected: Option<&[u8]>) {
        let encoded = value.encode();
        if let Some(expected) = expected {
            assert_eq!(encoded.as_ref(), expected);
        }
        assert_eq!(T::decode(encoded.as_ref()).unwrap(), value);
    }

    #[test]
    fn scalar_keys() {
        check(0x0102u64, Some(&[0, 0, 0, 0, 0, 0, 1, 2]));
        check(Address::repeat_byte(7), Some(&[7; 20]));
        check(B256::repeat_byte(9), Some(&[9; 32]));
        check((), Some(&[]));
        assert_eq!(u64::decode(&[1; 7]), Err(DecodeError::Length { expected: 8, found: 7 }));
        assert!(<()>::decode(&[0]).is_err());
    }

    #[test]
    fn tx_locations() {
        check(TxLocation { block_number: 5, index: 0 }, Some(&[0, 0, 0, 0, 0, 0, 0, 5]));
        check(TxLocation { block_number: 5, index: 0x100 }, Some(&[0, 0, 0, 0, 0, 0, 0, 5, 1, 0]));
        check(TxLocation { block_number: u64::MAX, index: u64::MAX }, None);
        assert!(TxLocation::decode(&[0, 0, 0, 0, 0, 0, 0, 5, 0]).is_err(), "leading zero");
        assert!(TxLocation::decode(&[0; 17]).is_err(), "index too long");
        assert!(TxLocation::decode(&[0; 7]).is_err(), "no block number");
    }

    #[test]
    fn senders() {
        check(Vec::<Address>::new(), Some(&[]));
        check(vec![Address::repeat_byte(1), Address::repeat_byte(2)], None);
        assert!(Vec::<Address>::decode(&[0; 21]).is_err());
    }

    #[test]
    fn headers_and_bodies() {
        check(Header { number: 7, gas_limit: 30_000_000, ..Default::default() }, None);
        let body = BlockBody::<TxEnvelope> {
            transactions: vec![],
            ommers: vec![Header { number: 6, ..Default::default() }],
            withdrawals: Some(Withdrawals::new(vec![Withdrawal {
                index: 1,
                validator_index: 2,
                address: Address::repeat_byte(3),
                amount: 4,
            }])),
        };
        check(body, None);
        let mut trailing = Header::default().encode();
        trailing.push(0);
        assert!(Header::decode(&trailing).is_err());
    }

    #[test]
    fn receipts_keep_their_type() {
        let receipt = ReceiptWithBloom {
            receipt: Receipt {
                status: Eip658Value::Eip658(true),
                cumulative_gas_used: 21_000,
                logs: vec![Log::new_unchecked(
                    Address::repeat_byte(1),
                    vec![B256::repeat_byte(2)],
                    Bytes::from_static(b"data"),
                )],
            },
            logs_bloom: Bloom::repeat_byte(5),
        };
        check(
            vec![
                ReceiptEnvelope::Legacy(receipt.clone()),
                ReceiptEnvelope::Eip1559(receipt.clone()),
                ReceiptEnvelope::Eip4844(receipt),
            ],
            None,
        );
        check(Vec::<ReceiptEnvelope>::new(), None);
    }

    proptest! {
        #[test]
        fn block_numbers_sort_like_their_keys(a: u64, b: u64) {
            prop_assert_eq!(a.cmp(&b), a.encode().cmp(&b.encode()));
            prop_assert_eq!(u64::decode(&a.encode()).unwrap(), a);
        }

        #[test]
        fn tx_locations_round_trip(block_number: u64, index: u64) {
            let location = TxLocation { block_number, index };
            prop_assert_eq!(TxLocation::decode(&location.encode()).unwrap(), location);
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = TxLocation::decode(&bytes);
            let _ = Header::decode(&bytes);
            let _ = BlockBody::<TxEnvelope>::decode(&bytes);
            let _ = Vec::<ReceiptEnvelope>::decode(&bytes);
            let _ = Vec::<Address>::decode(&bytes);
        }
    }
}
