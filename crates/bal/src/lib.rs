//! EIP-7928 block access lists (BALs) for balnode: the types, their RLP and hash, the structural rules a list
//! must keep before any state is read, the first difference between two lists, and statistics.
//!
//! The types are alloy's ([`BlockAccessList`] is a `Vec<AccountChanges>`); this crate adds what the node does
//! with them. A BAL travels as RLP (the 5th element of a block-file record, the Engine API payload's
//! `blockAccessList`); the header commits to it through `block_access_list_hash = keccak256(rlp)`. An empty list
//! is `0xc0`, whose hash is [`EMPTY_BLOCK_ACCESS_LIST_HASH`].
//!
//! Index convention: `0` for the pre-execution system calls, `1..=n` for the block's `n` transactions,
//! `n + 1` for withdrawals and the post-execution system calls.
//!
//! Good starting points:
//! - [`decode`], [`encode`], [`hash`]: RLP in and out, strictly (no trailing bytes).
//! - [`validate()`] with [`Limits`]: the ordering, uniqueness, index and size rules, each as a
//!   [`StructureError`] naming where it broke.
//! - [`first_difference`]: expected vs got, as a [`Difference`] naming account, slot, field and index.
//! - [`BalStats::of`]: counts, RLP and snappy sizes, and the largest accounts, for `balnode bal inspect`.
//!
//! ## Feature Flags
//! None.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod codec;
mod diff;
mod stats;
mod validate;

pub use balnode_primitives::eips::eip7928::{
    AccountChanges, BalanceChange, BlockAccessIndex, BlockAccessList, CodeChange, NonceChange,
    SlotChanges, StorageChange,
};
pub use codec::{
    DecodeError, EMPTY_BLOCK_ACCESS_LIST_HASH, EMPTY_BLOCK_ACCESS_LIST_RLP, decode, encode, hash,
};
pub use diff::{Difference, Field, first_difference};
pub use stats::{AccountStats, BalStats};
pub use validate::{ITEM_COST, Limits, StructureError, item_count, validate};
