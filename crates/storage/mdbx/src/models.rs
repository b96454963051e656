//! The composite keys and values of the state, change-set, history and metadata tables.

use crate::{
    codec::{Decode, DecodeError, Encode, fixed, split},
    compact::{decode_u256, encode_u256},
};
use balnode_primitives::{Account, Address, B256, BlockNumber, U256};

/// A storage slot and its value.
///
/// In `PlainStorage` it is the slot's current value (never zero: zero slots are deleted); in
/// `StorageChangeSets` it is the value before the block (zero when the slot did not exist).
///
/// Layout: the 32-byte slot, then the value big-endian without leading zero bytes (nothing for zero). The slot
/// comes first so that MDBX sorts an account's duplicates by slot and `get_both_range` finds one by prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageEntry {
    /// The slot.
    pub slot: B256,
    /// Its value.
    pub value: U256,
}

impl Encode for StorageEntry {
    type Encoded = Vec<u8>;

    fn encode(&self) -> Self::Encoded {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(self.slot.as_slice());
        encode_u256(self.value, &mut out);
        out
    }
}

impl Decode for StorageEntry {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (slot, value) = split(bytes, 32)?;
        Ok(Self { slot: B256::decode(slot)?, value: decode_u256(value)? })
    }
}

/// An account as it was before a block changed it: an entry of `AccountChangeSets`.
///
/// Layout: the 20-byte address, then the compact [`Account`] or nothing when the account did not exist. A
/// compact account is never empty, so the two cases cannot be confused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountChange {
    /// The account's address.
    pub address: Address,
    /// The account before the block, `None` when it did not exist.
    pub account: Option<Account>,
}

impl Encode for AccountChange {
    type Encoded = Vec<u8>;

    fn encode(&self) -> Self::Encoded {
        let mut out = self.address.to_vec();
        if let Some(account) = &self.account {
            out.extend_from_slice(&account.encode());
        }
        out
    }
}

impl Decode for AccountChange {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (address, account) = split(bytes, 20)?;
        let account = if account.is_empty() { None } else { Some(Account::decode(account)?) };
        Ok(Self { address: Address::decode(address)?, account })
    }
}

/// The key of `StorageChangeSets`: the block number (8 bytes, big-endian), then the address.
///
/// Block first, so that an unwind finds a block's storage changes for every account with one seek.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BlockAddress {
    /// The block that changed the storage.
    pub block_number: BlockNumber,
    /// The account whose storage changed.
    pub address: Address,
}

impl Encode for BlockAddress {
    type Encoded = [u8; 28];

    fn encode(&self) -> Self::Encoded {
        let mut out = [0; 28];
        out[..8].copy_from_slice(&self.block_number.to_be_bytes());
        out[8..].copy_from_slice(self.address.as_slice());
        out
    }
}

impl Decode for BlockAddress {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let bytes = fixed::<28>(bytes)?;
        let (block_number, address) = bytes.split_at(8);
        Ok(Self { block_number: u64::decode(block_number)?, address: Address::decode(address)? })
    }
}

/// The key of `AccountHistory`: the address, then the number (8 bytes, big-endian) of a block that changed the
/// account.
///
/// Address first, so that a seek to `(address, n)` finds the first change at or after block `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AccountHistoryKey {
    /// The account.
    pub address: Address,
    /// A block that changed it.
    pub block_number: BlockNumber,
}

impl Encode for AccountHistoryKey {
    type Encoded = [u8; 28];

    fn encode(&self) -> Self::Encoded {
        let mut out = [0; 28];
        out[..20].copy_from_slice(self.address.as_slice());
        out[20..].copy_from_slice(&self.block_number.to_be_bytes());
        out
    }
}

impl Decode for AccountHistoryKey {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let bytes = fixed::<28>(bytes)?;
        let (address, block_number) = bytes.split_at(20);
        Ok(Self { address: Address::decode(address)?, block_number: u64::decode(block_number)? })
    }
}

/// The key of `StorageHistory`: the address, the slot, then the number (8 bytes, big-endian) of a block that
/// changed the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StorageHistoryKey {
    /// The account.
    pub address: Address,
    /// The slot.
    pub slot: B256,
    /// A block that changed it.
    pub block_number: BlockNumber,
}

impl Encode for StorageHistoryKey {
    type Encoded = [u8; 60];

    fn encode(&self) -> Self::Encoded {
        let mut out = [0; 60];
        out[..20].copy_from_slice(self.address.as_slice());
        out[20..52].copy_from_slice(self.slot.as_slice());
        out[52..].copy_from_slice(&self.block_number.to_be_bytes());
        out
    }
}

impl Decode for StorageHistoryKey {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let bytes = fixed::<60>(bytes)?;
        Ok(Self {
            address: Address::decode(&bytes[..20])?,
            slot: B256::decode(&bytes[20..52])?,
            block_number: u64::decode(&bytes[52..])?,
        })
    }
}

/// The keys of the `Metadata` table, stored as their names.
///
/// The values, all fixed-width and big-endian: `schema_version` a u32, `chain_id` a u64, `genesis_hash` 32
/// bytes, `head` the head's number (u64) followed by its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataKey {
    /// The layout version of the tables, [`crate::SCHEMA_VERSION`] when written by this build.
    SchemaVersion,
    /// The chain id (EIP-155) the store was initialised for.
    ChainId,
    /// The hash of block 0.
    GenesisHash,
    /// The number and hash of the head block.
    Head,
    /// The number of the latest safe block.
    Safe,
    /// The number of the latest finalized block.
    Finalized,
}

impl MetadataKey {
    /// Every key, in no particular order.
    const ALL: [Self; 6] = [
        Self::SchemaVersion,
        Self::ChainId,
        Self::GenesisHash,
        Self::Head,
        Self::Safe,
        Self::Finalized,
    ];

    /// The key's name as stored.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SchemaVersion => "schema_version",
            Self::ChainId => "chain_id",
            Self::GenesisHash => "genesis_hash",
            Self::Head => "head",
            Self::Safe => "safe",
            Self::Finalized => "finalized",
        }
    }
}

impl Encode for MetadataKey {
    type Encoded = &'static [u8];

    fn encode(&self) -> Self::Encoded {
        self.name().as_bytes()
    }
}

impl Decode for MetadataKey {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::ALL
            .into_iter()
            .find(|key| key.name().as_bytes() == bytes)
            .ok_or(DecodeError::Invalid("unknown metadata key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compact::tests::arb_u256;
    use proptest::prelude::*;

    fn round_trip<T: Encode + Decode + PartialEq + std::fmt::Debug>(
        value: T,
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(T::decode(value.encode().as_ref()).unwrap(), value);
        Ok(())
    }

    fn arb_address() -> impl Strategy<Value = Address> {
        any::<[u8; 20]>().prop_map(Address::new)
    }

    fn arb_b256() -> impl Strategy<Value = B256> {
        any::<[u8; 32]>().prop_map(B256::new)
    }

    #[test]
    fn entry_layouts() {
        let entry = StorageEntry { slot: B256::repeat_byte(1), value: U256::ZERO };
        assert_eq!(entry.encode(), [1; 32]);
        let change = AccountChange { address: Address::repeat_byte(2), account: None };
        assert_eq!(change.encode(), [2; 20]);
        let existed = AccountChange { account: Some(Account::default()), ..change };
        assert_eq!(AccountChange::decode(&existed.encode()).unwrap(), existed);
        assert!(StorageEntry::decode(&[1; 31]).is_err());
        assert!(StorageEntry::decode(&[[1; 32].as_slice(), &[0, 1]].concat()).is_err());
    }

    #[test]
    fn metadata_keys() {
        for key in MetadataKey::ALL {
            assert_eq!(MetadataKey::decode(key.encode()).unwrap(), key);
        }
        assert!(MetadataKey::decode(b"tail").is_err());
    }

    proptest! {
        #[test]
        fn storage_entries_round_trip(slot in arb_b256(), value in arb_u256()) {
            round_trip(StorageEntry { slot, value })?;
        }

        #[test]
        fn account_changes_round_trip(address in arb_address(), nonce: u64, balance in arb_u256(), exists: bool) {
            let account = exists.then_some(Account { nonce, balance, bytecode_hash: None });
            round_trip(AccountChange { address, account })?;
        }

        #[test]
        fn keys_round_trip(address in arb_address(), slot in arb_b256(), block_number: u64) {
            round_trip(BlockAddress { block_number, address })?;
            round_trip(AccountHistoryKey { address, block_number })?;
            round_trip(StorageHistoryKey { address, slot, block_number })?;
        }

        #[test]
        fn history_keys_sort_like_their_fields(
            a in (arb_address(), arb_b256(), any::<u64>()),
            b in (arb_address(), arb_b256(), any::<u64>()),
        ) {
            // The history lookups rely on byte order being (address, slot, block) order.
            let (a, b) = (
                StorageHistoryKey { address: a.0, slot: a.1, block_number: a.2 },
                StorageHistoryKey { address: b.0, slot: b.1, block_number: b.2 },
            );
            prop_assert_eq!(a.cmp(&b), a.encode().cmp(&b.encode()));
            let (a, b) = (
                AccountHistoryKey { address: a.address, block_number: a.block_number },
                AccountHistoryKey { address: b.address, block_number: b.block_number },
            );
            prop_assert_eq!(a.cmp(&b), a.encode().cmp(&b.encode()));
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = StorageEntry::decode(&bytes);
            let _ = AccountChange::decode(&bytes);
            let _ = BlockAddress::decode(&bytes);
            let _ = AccountHistoryKey::decode(&bytes);
            let _ = StorageHistoryKey::decode(&bytes);
        }
    }
}
