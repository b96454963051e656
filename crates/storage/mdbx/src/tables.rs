//! The tables of the store, each a named MDBX database with typed keys and values.
//!
//! Block data is keyed by block number; state is kept "plain" (by address, not hashed) for the current head,
//! with per-block change sets holding pre-values and history indexes pointing at them, so that state after any
//! stored block can be read and any block can be unwound.
//!
//! The same state is kept a second time keyed by hashes (`HashedAccounts`, `HashedStorages`), in the order
//! of the Merkle tries, beside the tries' branch nodes (`AccountsTrie`, `StoragesTrie`): the state root of the
//! next block is computed from them by walking only the paths the block changes.

use crate::{
    codec::{Decode, Encode},
    models::{
        AccountChange, AccountHistoryKey, BlockAddress, MetadataKey, StorageEntry,
        StorageHistoryKey,
    },
    trie_models::StorageTrieEntry,
};
use balnode_primitives::{
    Account, Address, B256, BlockBody, BlockNumber, Bytes, Header, ReceiptEnvelope, TxEnvelope,
    trie::{BranchNodeCompact, Nibbles},
};
use balnode_storage_api::TxLocation;

/// A table: its name in the environment, its key and value types and whether keys hold several values.
pub trait Table: 'static {
    /// The name of the MDBX database.
    const NAME: &'static str;
    /// The table's position in [`TABLES`], used to find its handle without a lookup by name.
    const INDEX: usize;
    /// Whether the table is `DUP_SORT`: several values per key, sorted by their bytes.
    const DUP_SORT: bool;
    /// The key.
    type Key: Encode + Decode;
    /// The value.
    type Value: Encode + Decode;
}

/// A `DUP_SORT` table whose values start with the encoding of a sub-key, so that a value can be found by key
/// and sub-key with one `get_both_range` and a prefix check.
pub trait DupSort: Table {
    /// The sub-key, the leading part of each value.
    type SubKey: Encode;
}

/// What the environment needs to know to create a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableInfo {
    /// The table's name.
    pub name: &'static str,
    /// Whether it is `DUP_SORT`.
    pub dup_sort: bool,
}

/// Declares the tables: a unit struct implementing [`Table`] (and [`DupSort`] where a sub-key is given) for
/// each, and the [`TABLES`] list they index into.
macro_rules! tables {
    ($($(#[$doc:meta])* $name:ident: $key:ty => $value:ty $(, dup $subkey:ty)?;)+) => {
        /// Positions of the tables in [`TABLES`].
        #[derive(Clone, Copy)]
        enum Index { $($name,)+ }

        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $name;

            impl Table for $name {
                const NAME: &'static str = stringify!($name);
                const INDEX: usize = Index::$name as usize;
                const DUP_SORT: bool = tables!(@dup $($subkey)?);
                type Key = $key;
                type Value = $value;
            }

            $(impl DupSort for $name { type SubKey = $subkey; })?
        )+

        /// Every table, in the order of [`Table::INDEX`].
        pub const TABLES: &[TableInfo] = &[
            $(TableInfo { name: <$name as Table>::NAME, dup_sort: <$name as Table>::DUP_SORT },)+
        ];
    };
    (@dup) => { false };
    (@dup $subkey:ty) => { true };
}

tables! {
    /// Block number → header (RLP).
    Headers: BlockNumber => Header;
    /// Block number → hash of the canonical block.
    CanonicalHashes: BlockNumber => B256;
    /// Block hash → block number.
    HeaderNumbers: B256 => BlockNumber;
    /// Block number → body: transactions, ommers, withdrawals (RLP).
    BlockBodies: BlockNumber => BlockBody<TxEnvelope>;
    /// Block number → the recovered sender of each transaction, 20 bytes each.
    Senders: BlockNumber => Vec<Address>;
    /// Block number → receipts, each in its EIP-2718 encoding, as an RLP list.
    Receipts: BlockNumber => Vec<ReceiptEnvelope>;
    /// Block number → the block's access list (EIP-7928) as RLP, only for blocks that have one.
    BlockAccessLists: BlockNumber => Bytes;
    /// Transaction hash → block number and index.
    TxLookup: B256 => TxLocation;
    /// Address → the account at the head (compact).
    PlainAccounts: Address => Account;
    /// Address → its non-zero slots at the head, one duplicate per slot, sorted by slot.
    PlainStorage: Address => StorageEntry, dup B256;
    /// Code hash → code. Never pruned: code is content-addressed and shared.
    Bytecodes: B256 => Bytes;
    /// Block number → each account the block changed, with its value before the block, sorted by address.
    AccountChangeSets: BlockNumber => AccountChange, dup Address;
    /// Block number and address → each slot the block changed, with its value before the block.
    StorageChangeSets: BlockAddress => StorageEntry, dup B256;
    /// Address and block number → nothing: one entry per block that changed the account.
    AccountHistory: AccountHistoryKey => ();
    /// Address, slot and block number → nothing: one entry per block that changed the slot.
    StorageHistory: StorageHistoryKey => ();
    /// Schema version, chain identity and head.
    Metadata: MetadataKey => Bytes;
    /// `keccak(address)` → the account at the head (compact): the account trie's leaves.
    HashedAccounts: B256 => Account;
    /// `keccak(address)` → its non-zero slots at the head as `keccak(slot)` and value, one duplicate per slot,
    /// sorted by hashed slot: the storage tries' leaves.
    HashedStorages: B256 => StorageEntry, dup B256;
    /// Nibble path → the account trie's branch node there (only the nodes the hash builder keeps).
    AccountsTrie: Nibbles => BranchNodeCompact;
    /// `keccak(address)` → the branch nodes of its storage trie, each with its path, sorted by path.
    StoragesTrie: B256 => StorageTrieEntry, dup Nibbles;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_match_the_list() {
        fn check<T: Table>() {
            assert_eq!(TABLES[T::INDEX], TableInfo { name: T::NAME, dup_sort: T::DUP_SORT });
        }
        check::<Headers>();
        check::<PlainStorage>();
        check::<Metadata>();
        const { assert!(PlainStorage::DUP_SORT && !PlainAccounts::DUP_SORT) };
        let mut names: Vec<_> = TABLES.iter().map(|table| table.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLES.len());
    }
}
