//! [`DatabaseEnv::check`]: does the store agree with itself (`balnode db check`)?
//!
//! In one read snapshot, in this order, stopping at the first inconsistency:
//! 1. the head marker names the last canonical block, and block 0 is the stored genesis;
//! 2. from genesis to the head, each canonical hash has its header (which hashes to it, has its number and
//!    names the previous block as its parent) and its `HeaderNumbers` entry; each block has its body, its
//!    senders and receipts (one per transaction) and a `TxLookup` entry per transaction; a block with
//!    transactions has an account change set (its senders' nonces changed);
//! 3. nothing of a block lies above the head, and no `HeaderNumbers` or `TxLookup` entry is left over;
//! 4. every change-set entry has its history entry and every history entry its change-set entry, all for
//!    blocks `1..=head` (the history the store claims);
//! 5. the hashed tables equal the plain state hashed afresh, the stored trie nodes are those of that state,
//!    and its root is the head header's state root.
//!
//! An entry that does not decode is an inconsistency too (its table and key are named), not a failure of the
//! check.

use crate::{
    env::DatabaseEnv,
    metadata,
    models::{AccountHistoryKey, BlockAddress, MetadataKey, StorageHistoryKey},
    tables::{
        AccountChangeSets, AccountHistory, BlockAccessLists, BlockBodies, CanonicalHashes,
        HeaderNumbers, Headers, Metadata, Receipts, Senders, StorageChangeSets, StorageHistory,
        Table, TxLookup,
    },
    trie::first_hashed_difference,
    tx::DbTx,
};
use balnode_primitives::{Address, B256, BlockNumber, hex};
use balnode_storage_api::{ProviderError, ProviderResult, TxLocation};
use balnode_trie::TrieId;
use signet_libmdbx::TransactionKind;

/// The first thing [`DatabaseEnv::check`] found wrong: which table, at which key, for which block, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inconsistency {
    /// The table holding the wrong (or missing, or left-over) entry.
    pub table: &'static str,
    /// The entry's key, as it would be looked up (a block number in decimal, hashes and addresses in hex).
    pub key: String,
    /// The block the entry belongs to, when it belongs to one.
    pub block: Option<BlockNumber>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at key {}", self.table, self.key)?;
        if let Some(block) = self.block {
            write!(f, " (block {block})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// What [`DatabaseEnv::check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// The head marker's block number.
    pub head_number: BlockNumber,
    /// The head marker's hash.
    pub head_hash: B256,
    /// Blocks whose header, body, senders, receipts and lookups were checked.
    pub blocks: u64,
    /// Transactions whose lookup entry was checked.
    pub transactions: u64,
    /// Account change-set entries matched with their history entries.
    pub account_changes: u64,
    /// Storage change-set entries matched with their history entries.
    pub storage_changes: u64,
    /// Accounts of the state whose hashed entries and trie were checked.
    pub accounts: u64,
    /// Stored trie nodes compared with a full recompute.
    pub trie_nodes: u64,
    /// The state root the stored state hashes to, when the check got that far.
    pub state_root: Option<B256>,
    /// The first inconsistency, `None` when the store is consistent.
    pub first_inconsistency: Option<Inconsistency>,
}

impl CheckReport {
    /// Whether nothing was found wrong.
    pub const fn is_consistent(&self) -> bool {
        self.first_inconsistency.is_none()
    }
}

/// Stops the check with an inconsistency.
type Found = Result<(), Inconsistency>;

fn found(
    table: &'static str,
    key: impl std::fmt::Display,
    block: Option<BlockNumber>,
    reason: impl Into<String>,
) -> Found {
    Err(Inconsistency { table, key: key.to_string(), block, reason: reason.into() })
}

/// An entry that does not decode is an inconsistency; other read errors stop the check.
fn corrupt_as_found<T>(result: ProviderResult<T>) -> ProviderResult<Result<T, Inconsistency>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(ProviderError::Corrupt { table, key, reason }) => {
            // Keys of block-number tables are 8 big-endian bytes: name them as block numbers.
            let block = u64::from_str_radix(key.trim_start_matches("0x"), 16)
                .ok()
                .filter(|_| key.len() == 18);
            let key = block.map_or(key, |number| number.to_string());
            Ok(Err(Inconsistency {
                table,
                key,
                block,
                reason: format!("does not decode: {reason}"),
            }))
        }
        Err(other) => Err(other),
    }
}

impl DatabaseEnv {
    /// Checks that the store agrees with itself, in this order: the head marker names the last canonical
    /// block; the canonical chain from genesis links up (hashes, headers, parent hashes, `HeaderNumbers`) with
    /// each block's body, senders, receipts and lookups, and nothing lies above the head; change sets and
    /// history indexes name each other; the hashed tables mirror plain state, the stored trie is that
    /// state's, and its root is the head header's. Reads one snapshot, writes nothing, and reports the first
    /// inconsistency it meets as an [`Inconsistency`] (an entry that does not decode is one).
    ///
    /// Fails only when the store cannot be read, or is not initialised.
    pub fn check(&self) -> ProviderResult<CheckReport> {
        let tx = self.tx_ro()?;
        let mut report = CheckReport::default();
        let mut outcome = corrupt_as_found(check_chain(&tx, &mut report))?.and_then(|found| found);
        if outcome.is_ok() {
            outcome = corrupt_as_found(check_history(&tx, &mut report))?.and_then(|found| found);
        }
        if outcome.is_ok() {
            outcome = corrupt_as_found(check_state(&tx, &mut report))?.and_then(|found| found);
        }
        report.first_inconsistency = outcome.err();
        Ok(report)
    }
}

/// Steps 1 to 3: the head, the canonical chain and the block data.
fn check_chain<K: TransactionKind>(
    tx: &DbTx<K>,
    report: &mut CheckReport,
) -> ProviderResult<Found> {
    let Some((_, genesis_hash)) = metadata::chain_identity(tx)? else {
        return Err(ProviderError::NotInitialized);
    };
    let (head, head_hash) = metadata::require_head(tx)?;
    report.head_number = head;
    report.head_hash = head_hash;

    let mut parent_hash = B256::ZERO;
    for number in 0..=head {
        let block = Some(number);
        let Some(hash) = tx.get::<CanonicalHashes>(&number)? else {
            return Ok(found(
                CanonicalHashes::NAME,
                number,
                block,
                format!("no canonical hash, but the head is block {head}"),
            ));
        };
        if number == 0 && hash != genesis_hash {
            return Ok(found(
                CanonicalHashes::NAME,
                number,
                block,
                format!("block 0 is {hash}, but the store's genesis is {genesis_hash}"),
            ));
        }
        if number == head && hash != head_hash {
            return Ok(found(
                Metadata::NAME,
                MetadataKey::Head.name(),
                block,
                format!(
                    "the head marker names {head_hash}, but the canonical block {head} is {hash}"
                ),
            ));
        }
        let Some(header) = tx.get::<Headers>(&number)? else {
            return Ok(found(Headers::NAME, number, block, "the canonical block has no header"));
        };
        let computed = header.hash_slow();
        if computed != hash || header.number != number {
            return Ok(found(
                Headers::NAME,
                number,
                block,
                format!(
                    "the header is block {} with hash {computed}, but CanonicalHashes says {hash}",
                    header.number
                ),
            ));
        }
        if number > 0 && header.parent_hash != parent_hash {
            return Ok(found(
                Headers::NAME,
                number,
                block,
                format!(
                    "the parent hash is {}, but block {} is {parent_hash}",
                    header.parent_hash,
                    number - 1
                ),
            ));
        }
        match tx.get::<HeaderNumbers>(&hash)? {
            Some(stored) if stored == number => {}
            stored => {
                return Ok(found(
                    HeaderNumbers::NAME,
                    hash,
                    block,
                    format!("the canonical block {number} is mapped to {stored:?}"),
                ));
            }
        }
        let Some(body) = tx.get::<BlockBodies>(&number)? else {
            return Ok(found(BlockBodies::NAME, number, block, "the canonical block has no body"));
        };
        let count = body.transactions.len();
        match tx.get::<Senders>(&number)? {
            Some(senders) if senders.len() == count => {}
            senders => {
                return Ok(found(
                    Senders::NAME,
                    number,
                    block,
                    format!(
                        "{} senders for {count} transactions",
                        senders.map_or_else(|| "no".to_owned(), |s| s.len().to_string())
                    ),
                ));
            }
        }
        match tx.get::<Receipts>(&number)? {
            Some(receipts) if receipts.len() == count => {}
            receipts => {
                return Ok(found(
                    Receipts::NAME,
                    number,
                    block,
                    format!(
                        "{} receipts for {count} transactions",
                        receipts.map_or_else(|| "no".to_owned(), |r| r.len().to_string())
                    ),
                ));
            }
        }
        for (index, transaction) in (0..).zip(&body.transactions) {
            let hash = transaction.tx_hash();
            let expected = TxLocation { block_number: number, index };
            let stored = tx.get::<TxLookup>(hash)?;
            if stored != Some(expected) {
                return Ok(found(
                    TxLookup::NAME,
                    hash,
                    block,
                    format!("transaction {index} of block {number} is looked up as {stored:?}"),
                ));
            }
        }
        if number > 0 && count > 0 && tx.cursor::<AccountChangeSets>()?.dups(&number)?.is_empty() {
            return Ok(found(
                AccountChangeSets::NAME,
                number,
                block,
                format!("no account change set for a block of {count} transactions"),
            ));
        }
        report.blocks += 1;
        report.transactions += count as u64;
        parent_hash = hash;
    }

    // Nothing of a block above the head.
    let above = head + 1;
    macro_rules! nothing_above {
        ($($table:ty),+) => {$(
            if let Some((number, _)) = tx.cursor::<$table>()?.seek(&above)? {
                return Ok(found(
                    <$table>::NAME,
                    number,
                    Some(number),
                    format!("an entry above the head (block {head})"),
                ));
            }
        )+};
    }
    nothing_above!(
        CanonicalHashes,
        Headers,
        BlockBodies,
        Senders,
        Receipts,
        BlockAccessLists,
        AccountChangeSets
    );
    let first_above = BlockAddress { block_number: above, address: Address::ZERO };
    if let Some((key, _)) = tx.cursor::<StorageChangeSets>()?.seek(&first_above)? {
        return Ok(found(
            StorageChangeSets::NAME,
            hex::encode_prefixed(crate::codec::Encode::encode(&key)),
            Some(key.block_number),
            format!("an entry above the head (block {head})"),
        ));
    }
    // Every block hash and transaction of the store was found above from its block: more entries are left
    // over from blocks that are not canonical.
    let header_numbers = tx.entries::<HeaderNumbers>()?;
    if header_numbers != head + 1 {
        return Ok(left_over::<HeaderNumbers, _>(
            tx,
            header_numbers,
            head + 1,
            |tx, hash, number| {
                Ok(number > head || tx.get::<CanonicalHashes>(&number)? != Some(hash))
            },
        ));
    }
    let lookups = tx.entries::<TxLookup>()?;
    if lookups != report.transactions {
        return Ok(left_over::<TxLookup, _>(
            tx,
            lookups,
            report.transactions,
            |tx, hash, location| {
                let TxLocation { block_number, index } = location;
                let body = tx.get::<BlockBodies>(&block_number)?;
                Ok(block_number > head
                    || body.is_none_or(|body| {
                        body.transactions.get(index as usize).is_none_or(|t| *t.tx_hash() != hash)
                    }))
            },
        ));
    }
    Ok(Ok(()))
}

/// Names the first entry of `T` (a table keyed by hash) that `stale` says belongs to no canonical block, or
/// else the counts.
fn left_over<T, K: TransactionKind>(
    tx: &DbTx<K>,
    entries: u64,
    expected: u64,
    stale: impl Fn(&DbTx<K>, B256, T::Value) -> ProviderResult<bool>,
) -> Found
where
    T: Table<Key = B256>,
    T::Value: Clone + std::fmt::Debug,
{
    let fallback =
        || found(T::NAME, "*", None, format!("{entries} entries for {expected} canonical ones"));
    let Ok(mut cursor) = tx.cursor::<T>() else { return fallback() };
    let mut entry = cursor.seek(&B256::ZERO);
    while let Ok(Some((key, value))) = entry {
        if stale(tx, key, value.clone()).unwrap_or(false) {
            return found(
                T::NAME,
                key,
                None,
                format!(
                    "{value:?} belongs to no canonical block ({entries} entries for {expected})"
                ),
            );
        }
        entry = cursor.next();
    }
    fallback()
}

/// Step 4: change sets and history indexes name each other, for blocks `1..=head`.
fn check_history<K: TransactionKind>(
    tx: &DbTx<K>,
    report: &mut CheckReport,
) -> ProviderResult<Found> {
    let head = report.head_number;
    let out_of_range = |number: BlockNumber| number == 0 || number > head;

    let mut cursor = tx.cursor::<AccountChangeSets>()?;
    let mut entry = cursor.seek(&0)?;
    while let Some((number, change)) = entry {
        let key = AccountHistoryKey { address: change.address, block_number: number };
        if out_of_range(number) {
            return Ok(found(
                AccountChangeSets::NAME,
                number,
                Some(number),
                format!("a change of {} outside blocks 1..={head}", change.address),
            ));
        }
        if tx.get::<AccountHistory>(&key)?.is_none() {
            return Ok(found(
                AccountHistory::NAME,
                format!("{}/{number}", change.address),
                Some(number),
                "missing for an entry of the block's account change set",
            ));
        }
        report.account_changes += 1;
        entry = cursor.next()?;
    }
    let mut cursor = tx.cursor::<AccountHistory>()?;
    let mut changes = tx.cursor::<AccountChangeSets>()?;
    let mut entry = cursor.seek(&AccountHistoryKey { address: Address::ZERO, block_number: 0 })?;
    while let Some((AccountHistoryKey { address, block_number: number }, ())) = entry {
        if out_of_range(number) || changes.get_dup(&number, &address)?.is_none() {
            return Ok(found(
                AccountChangeSets::NAME,
                number,
                Some(number),
                format!("no entry for {address}, which AccountHistory says the block changed"),
            ));
        }
        entry = cursor.next()?;
    }

    let mut cursor = tx.cursor::<StorageChangeSets>()?;
    let mut entry = cursor.seek(&BlockAddress { block_number: 0, address: Address::ZERO })?;
    while let Some((BlockAddress { block_number: number, address }, change)) = entry {
        if out_of_range(number) {
            return Ok(found(
                StorageChangeSets::NAME,
                format!("{number}/{address}"),
                Some(number),
                format!("a change of slot {} outside blocks 1..={head}", change.slot),
            ));
        }
        let key = StorageHistoryKey { address, slot: change.slot, block_number: number };
        if tx.get::<StorageHistory>(&key)?.is_none() {
            return Ok(found(
                StorageHistory::NAME,
                format!("{address}/{}/{number}", change.slot),
                Some(number),
                "missing for an entry of the block's storage change set",
            ));
        }
        report.storage_changes += 1;
        entry = cursor.next()?;
    }
    let mut cursor = tx.cursor::<StorageHistory>()?;
    let mut changes = tx.cursor::<StorageChangeSets>()?;
    let first = StorageHistoryKey { address: Address::ZERO, slot: B256::ZERO, block_number: 0 };
    let mut entry = cursor.seek(&first)?;
    while let Some((StorageHistoryKey { address, slot, block_number: number }, ())) = entry {
        let key = BlockAddress { block_number: number, address };
        if out_of_range(number) || changes.get_dup(&key, &slot)?.is_none() {
            return Ok(found(
                StorageChangeSets::NAME,
                format!("{number}/{address}"),
                Some(number),
                format!("no entry for slot {slot}, which StorageHistory says the block changed"),
            ));
        }
        entry = cursor.next()?;
    }
    Ok(Ok(()))
}

/// Step 5: plain state, hashed state, trie and the head's state root.
fn check_state<K: TransactionKind>(
    tx: &DbTx<K>,
    report: &mut CheckReport,
) -> ProviderResult<Found> {
    let head = report.head_number;
    if let Some(mut inconsistency) = first_hashed_difference(tx)? {
        inconsistency.block = Some(head);
        return Ok(Err(inconsistency));
    }
    let trie = balnode_trie::check_trie(tx)?;
    report.accounts = trie.accounts;
    report.trie_nodes = trie.nodes;
    report.state_root = Some(trie.root);
    if let Some(mismatch) = trie.first_mismatch {
        let path = hex::encode_prefixed(mismatch.path.to_vec());
        let (table, key) = match mismatch.trie {
            TrieId::Accounts => ("AccountsTrie", path),
            TrieId::Storage(hashed_address) => ("StoragesTrie", format!("{hashed_address}/{path}")),
        };
        return Ok(found(table, key, Some(head), mismatch.to_string()));
    }
    if trie.stored_root != trie.root {
        return Ok(found(
            "AccountsTrie",
            "0x",
            Some(head),
            format!(
                "the stored trie gives root {}, the hashed state {}",
                trie.stored_root, trie.root
            ),
        ));
    }
    let header = tx.get::<Headers>(&head)?.ok_or(ProviderError::BlockNotFound(head))?;
    // The hashed state equals the plain state (checked above), so this root is the plain state's.
    if header.state_root != trie.root {
        return Ok(found(
            Headers::NAME,
            head,
            Some(head),
            format!(
                "the head's state root is {}, but the stored state (plain, hashed and trie agree) hashes to {}",
                header.state_root, trie.root
            ),
        ));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use balnode_primitives::{Account, BlockBody, Header, StateChanges, U256};
    use balnode_storage_api::{BlockToCommit, BlockWriter, StateRootProvider};

    /// A block on `parent` (or genesis) that gives `address` a balance, with its real state root.
    fn block(env: &DatabaseEnv, parent: Option<&BlockToCommit>, address: u8) -> BlockToCommit {
        let mut state = StateChanges::default();
        let account = Account { balance: U256::from(address), ..Default::default() };
        state.accounts.insert(Address::repeat_byte(address), Some(account));
        state
            .storage
            .entry(Address::repeat_byte(address))
            .or_default()
            .slots
            .insert(B256::ZERO, U256::from(7));
        let state_root = match parent {
            Some(parent) => env.state_root_with(parent.header.number, &state).unwrap(),
            None => {
                balnode_trie::state_root(
                    &balnode_trie::test_utils::MemoryState::default(),
                    &balnode_trie::HashedPostState::from_changes(&state),
                )
                .unwrap()
                .root
            }
        };
        let header = Header {
            number: parent.map_or(0, |parent| parent.header.number + 1),
            parent_hash: parent.map_or(B256::ZERO, |parent| parent.hash),
            state_root,
            ..Default::default()
        };
        BlockToCommit {
            hash: header.hash_slow(),
            header,
            body: BlockBody { transactions: vec![], ommers: vec![], withdrawals: None },
            senders: vec![],
            receipts: vec![],
            block_access_list: None,
            state,
            trie_updates: None,
        }
    }

    #[test]
    fn a_consistent_chain_passes_and_a_broken_link_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let env = DatabaseEnv::open(dir.path()).unwrap();
        let genesis = block(&env, None, 1);
        env.init_genesis(1, genesis.clone()).unwrap();
        let one = block(&env, Some(&genesis), 2);
        env.commit_blocks(vec![one.clone()]).unwrap();
        let two = block(&env, Some(&one), 3);
        env.commit_blocks(vec![two]).unwrap();

        let report = env.check().unwrap();
        assert!(report.is_consistent(), "{report:?}");
        assert_eq!((report.head_number, report.blocks), (2, 3));
        assert_eq!((report.account_changes, report.storage_changes), (2, 2));

        // Block 1's change of account 2 loses its history entry.
        let tx = env.tx_rw().unwrap();
        let key = AccountHistoryKey { address: Address::repeat_byte(2), block_number: 1 };
        tx.delete::<AccountHistory>(&key).unwrap();
        tx.commit().unwrap();
        let found = env.check().unwrap().first_inconsistency.expect("found");
        assert_eq!((found.table, found.block), ("AccountHistory", Some(1)), "{found}");
        assert_eq!(found.key, format!("{}/1", Address::repeat_byte(2)));

        // A broken parent link is found before the history.
        let tx = env.tx_rw().unwrap();
        let mut header = one.header;
        header.parent_hash = B256::repeat_byte(9);
        tx.put::<Headers>(&1, &header).unwrap();
        tx.commit().unwrap();
        let found = env.check().unwrap().first_inconsistency.expect("found");
        assert_eq!((found.table, found.key.as_str(), found.block), ("Headers", "1", Some(1)));
        assert!(found.reason.contains("hash"), "{found}");
    }
}
