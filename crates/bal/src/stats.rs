//! Statistics of a block access list, for `balnode bal inspect`.

use balnode_primitives::{Address, rlp::Encodable};
use serde::Serialize;

use crate::{AccountChanges, encode};

/// How much one account contributes to a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountStats {
    /// The account.
    pub address: Address,
    /// Bytes of its entry's RLP.
    pub rlp_size: usize,
    /// Slots written.
    pub storage_writes: usize,
    /// Slots only read.
    pub storage_reads: usize,
}

/// Counts and sizes of one list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BalStats {
    /// Accounts listed.
    pub accounts: usize,
    /// Accounts listed with no change at all (accessed only).
    pub accessed_only: usize,
    /// Slots written (one per slot, whatever its number of changes).
    pub storage_writes: usize,
    /// Storage changes, counting each index of each written slot.
    pub storage_changes: usize,
    /// Slots only read.
    pub storage_reads: usize,
    /// Balance changes.
    pub balance_changes: usize,
    /// Nonce changes.
    pub nonce_changes: usize,
    /// Code changes.
    pub code_changes: usize,
    /// Bytes of the RLP.
    pub rlp_size: usize,
    /// Bytes of the RLP compressed with snappy (raw format, as devp2p compresses messages).
    pub snappy_size: usize,
    /// The largest accounts by RLP size, largest first.
    pub largest: Vec<AccountStats>,
}

impl BalStats {
    /// The statistics of `list`, with its `top` largest accounts.
    pub fn of(list: &[AccountChanges], top: usize) -> Self {
        let rlp = encode(list);
        let snappy_size = snap::raw::Encoder::new()
            .compress_vec(&rlp)
            .map_or(rlp.len(), |compressed| compressed.len());
        let mut stats = Self { rlp_size: rlp.len(), snappy_size, ..Self::default() };
        let mut accounts: Vec<AccountStats> = Vec::with_capacity(list.len());
        for account in list {
            stats.accounts += 1;
            stats.accessed_only += usize::from(account.is_empty());
            stats.storage_writes += account.storage_changes.len();
            stats.storage_changes +=
                account.storage_changes.iter().map(|slot| slot.changes.len()).sum::<usize>();
            stats.storage_reads += account.storage_reads.len();
            stats.balance_changes += account.balance_changes.len();
            stats.nonce_changes += account.nonce_changes.len();
            stats.code_changes += account.code_changes.len();
            accounts.push(AccountStats {
                address: account.address,
                rlp_size: account.length(),
                storage_writes: account.storage_changes.len(),
                storage_reads: account.storage_reads.len(),
            });
        }
        accounts.sort_by(|a, b| b.rlp_size.cmp(&a.rlp_size).then(a.address.cmp(&b.address)));
        accounts.truncate(top);
        stats.largest = accounts;
        stats
    }

    /// Adds another list's counts and sizes (the largest accounts are not merged).
    pub fn add(&mut self, other: &Self) {
        self.accounts += other.accounts;
        self.accessed_only += other.accessed_only;
        self.storage_writes += other.storage_writes;
        self.storage_changes += other.storage_changes;
        self.storage_reads += other.storage_reads;
        self.balance_changes += other.balance_changes;
        self.nonce_changes += other.nonce_changes;
        self.code_changes += other.code_changes;
        self.rlp_size += other.rlp_size;
        self.snappy_size += other.snappy_size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BalanceChange, BlockAccessIndex, SlotChanges, StorageChange};
    use balnode_primitives::U256;

    #[test]
    fn counts_and_sizes() {
        let mut big = AccountChanges::new(Address::repeat_byte(2));
        big.storage_changes = vec![SlotChanges::new(
            U256::from(1),
            vec![
                StorageChange::new(BlockAccessIndex::new(1), U256::from(5)),
                StorageChange::new(BlockAccessIndex::new(2), U256::from(6)),
            ],
        )];
        big.storage_reads = vec![U256::from(2)];
        big.balance_changes = vec![BalanceChange::new(BlockAccessIndex::new(1), U256::from(1))];
        let list = vec![AccountChanges::new(Address::repeat_byte(1)), big];
        let stats = BalStats::of(&list, 1);
        assert_eq!((stats.accounts, stats.accessed_only), (2, 1));
        assert_eq!((stats.storage_writes, stats.storage_changes, stats.storage_reads), (1, 2, 1));
        assert_eq!((stats.balance_changes, stats.nonce_changes, stats.code_changes), (1, 0, 0));
        assert_eq!(stats.rlp_size, encode(&list).len());
        assert!(stats.snappy_size > 0);
        assert_eq!(stats.largest.len(), 1);
        assert_eq!(stats.largest[0].address, Address::repeat_byte(2));
    }
}
