//! Shared primitive types of balnode.
//!
//! This crate re-exports the alloy types every other crate speaks in (addresses, hashes, headers, transactions)
//! and adds the few types of the node's own: the state [`Account`] as the store keeps it, and the
//! [`StateChanges`] a block makes to it.
//!
//! Good starting points:
//! - [`Account`]: an account without its storage, as kept in plain state.
//! - [`StateChanges`]: the post-values a block writes, consumed by the store's writer.
//!
//! ## Feature Flags
//! None.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use std::collections::BTreeMap;

pub use alloy_consensus::{
    self as consensus, BlockBody, EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header, ReceiptEnvelope,
    TxEnvelope,
};
pub use alloy_eips::{self as eips, eip4895::Withdrawal};
pub use alloy_primitives::{
    self as primitives, Address, B64, B256, BlockHash, BlockNumber, Bloom, Bytes, KECCAK256_EMPTY,
    StorageKey, StorageValue, TxHash, U256, address, b256, bytes, hex, keccak256,
};
pub use alloy_rlp as rlp;
/// alloy-trie, for the trie's node types (`BranchNodeCompact`, `Nibbles`, `TrieMask`) that the store keeps.
pub use alloy_trie::{self as trie, TrieAccount};

/// The block type the node stores: a consensus header with a body of signed transactions.
pub type Block = alloy_consensus::Block<TxEnvelope>;

/// An account in plain state: everything the account trie commits to except the storage root.
///
/// `bytecode_hash` is `None` for an account without code, so that an externally owned account never
/// carries a hash of empty code around (the store encodes it in fewer bytes, and equality stays exact).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Account {
    /// The number of transactions sent (or contracts created) by this account.
    pub nonce: u64,
    /// The account's balance in wei.
    pub balance: U256,
    /// The keccak-256 hash of the account's code, `None` when it has none.
    pub bytecode_hash: Option<B256>,
}

impl Account {
    /// Whether the account is empty in the sense of EIP-161: zero nonce, zero balance, no code.
    pub fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && !self.has_code()
    }

    /// Whether the account has code.
    pub fn has_code(&self) -> bool {
        self.bytecode_hash.is_some_and(|hash| hash != KECCAK256_EMPTY)
    }

    /// The code hash as the trie sees it: the hash of empty code when the account has none.
    pub fn code_hash(&self) -> B256 {
        self.bytecode_hash.unwrap_or(KECCAK256_EMPTY)
    }

    /// The account as a leaf of the account trie, given its storage root.
    pub fn to_trie_account(&self, storage_root: B256) -> TrieAccount {
        TrieAccount {
            nonce: self.nonce,
            balance: self.balance,
            storage_root,
            code_hash: self.code_hash(),
        }
    }
}

/// The storage writes a block makes to one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageChanges {
    /// Whether every slot the account had before the block is cleared first (self-destruct, or re-creation
    /// over an account that had storage).
    pub wiped: bool,
    /// Post-block values of the slots written; a zero value deletes the slot.
    pub slots: BTreeMap<B256, U256>,
}

/// Everything a block changes in state, as post-values.
///
/// The writer derives the pre-values (the change sets used for history and unwinds) from the state it holds,
/// so a producer of `StateChanges` only says where state ends up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// Accounts whose fields changed: `None` means the account no longer exists.
    pub accounts: BTreeMap<Address, Option<Account>>,
    /// Storage writes per account.
    pub storage: BTreeMap<Address, StorageChanges>,
    /// Code introduced by the block, by hash.
    pub bytecodes: BTreeMap<B256, Bytes>,
}

impl StateChanges {
    /// Whether the changes are empty.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.storage.is_empty() && self.bytecodes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_account_rules() {
        assert!(Account::default().is_empty());
        let with_empty_code =
            Account { bytecode_hash: Some(KECCAK256_EMPTY), ..Default::default() };
        assert!(with_empty_code.is_empty());
        assert_eq!(with_empty_code.code_hash(), Account::default().code_hash());
        let with_code = Account { bytecode_hash: Some(B256::repeat_byte(1)), ..Default::default() };
        assert!(!with_code.is_empty());
        assert!(!Account { nonce: 1, ..Default::default() }.is_empty());
    }

    #[test]
    fn trie_account_of_an_eoa_has_empty_code_hash() {
        let account = Account { nonce: 3, balance: U256::from(7), bytecode_hash: None };
        let leaf = account.to_trie_account(EMPTY_ROOT_HASH);
        assert_eq!(leaf.code_hash, KECCAK256_EMPTY);
        assert_eq!(leaf.storage_root, EMPTY_ROOT_HASH);
    }
}
