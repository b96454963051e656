//! The storage seams of balnode: traits for reading state and blocks and for committing blocks.
//!
//! Nothing here knows how data is stored. The executor reads state through [`StateProvider`] (wrapped in a
//! revm `DatabaseRef` adapter), RPC reads blocks through [`BlockReader`], and every path that produces a block
//! (import, Engine API, dev builder) commits it through [`BlockWriter`]. `balnode-storage-mdbx` implements
//! them over MDBX; tests may implement them over maps.
//!
//! Good starting points:
//! - [`StateProviderFactory`]: a state view at the head or after any stored block.
//! - [`BlockWriter::commit_blocks`]: the one place where blocks become durable.
//! - [`StateProofProvider`]: EIP-1186 account and storage proofs at the head or an earlier block.
//!
//! ## Feature Flags
//! None.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use std::collections::BTreeMap;

use balnode_primitives::{
    Account, Address, B256, BlockBody, BlockHash, BlockNumber, Bytes, EMPTY_ROOT_HASH, Header,
    KECCAK256_EMPTY, ReceiptEnvelope, StateChanges, StorageKey, StorageValue, TxEnvelope, TxHash,
    U256,
    trie::{BranchNodeCompact, Nibbles},
};

/// Provider result type.
pub type ProviderResult<T> = Result<T, ProviderError>;

/// What can go wrong when reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The database itself failed (I/O, full map, a closed environment).
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value could not be decoded: the datadir is corrupt or of another format.
    #[error("corrupt entry in table {table} at key {key}: {reason}")]
    Corrupt {
        /// The table holding the entry.
        table: &'static str,
        /// The key, hex encoded.
        key: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The requested block is not in the store.
    #[error("block {0} is not in the store")]
    BlockNotFound(BlockNumber),
    /// State is requested after a block the store does not have.
    #[error("state after block {requested} is not available: the head is block {head}")]
    StateNotAvailable {
        /// The block whose post-state was asked for.
        requested: BlockNumber,
        /// The current head.
        head: BlockNumber,
    },
    /// A block handed to the writer does not extend the current head.
    #[error(
        "block {number} ({hash}) does not extend the head: expected number {expected_number} with parent {expected_parent}, got parent {parent}"
    )]
    NotNextBlock {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: BlockHash,
        /// Its parent hash.
        parent: BlockHash,
        /// The number the next block must have.
        expected_number: BlockNumber,
        /// The hash the next block's parent must have (the head's).
        expected_parent: BlockHash,
    },
    /// The store has no genesis yet.
    #[error("the store is not initialised: run `balnode init` first")]
    NotInitialized,
    /// An unwind target is not below the head or is below what the store can restore.
    #[error("cannot unwind to block {target}: the head is block {head}")]
    InvalidUnwind {
        /// The block to unwind to.
        target: BlockNumber,
        /// The current head.
        head: BlockNumber,
    },
}

/// Reads accounts.
#[auto_impl::auto_impl(&, Arc, Box)]
pub trait AccountReader {
    /// The account at `address`, `None` when it does not exist.
    fn basic_account(&self, address: Address) -> ProviderResult<Option<Account>>;
}

/// Reads contract code.
#[auto_impl::auto_impl(&, Arc, Box)]
pub trait BytecodeReader {
    /// The code whose keccak-256 hash is `code_hash`, `None` when the store has none.
    fn bytecode_by_hash(&self, code_hash: B256) -> ProviderResult<Option<Bytes>>;
}

/// Reads the hashes of canonical blocks: for headers, and for the `BLOCKHASH` opcode of a state view.
#[auto_impl::auto_impl(&, Arc, Box)]
pub trait BlockHashReader {
    /// The hash of the canonical block at `number`.
    fn block_hash(&self, number: BlockNumber) -> ProviderResult<Option<BlockHash>>;
}

/// A consistent view of state: at the head, or as it was after some block.
///
/// Its [`BlockHashReader`] answers for the blocks up to the view's own (what `BLOCKHASH` may ask for).
#[auto_impl::auto_impl(&, Arc, Box)]
pub trait StateProvider: AccountReader + BytecodeReader + BlockHashReader + Send + Sync {
    /// The value of `key` in `address`'s storage, `None` when the slot is empty.
    fn storage(&self, address: Address, key: StorageKey) -> ProviderResult<Option<StorageValue>>;
}

/// Reads the whole plain state at the head, in address order.
///
/// Only for recomputing a state root from scratch (the import path until the incremental trie exists, and
/// `db verify-root`): it reads every account.
pub trait PlainStateReader {
    /// Every account, sorted by address.
    fn plain_accounts(&self) -> ProviderResult<Vec<(Address, Account)>>;

    /// Every non-zero slot of `address`, sorted by slot.
    fn plain_storage(&self, address: Address) -> ProviderResult<Vec<(StorageKey, StorageValue)>>;
}

/// Opens state views.
pub trait StateProviderFactory: Send + Sync {
    /// State after the head block.
    fn latest(&self) -> ProviderResult<Box<dyn StateProvider>>;

    /// State as it was after block `number` (the parent state of block `number + 1`).
    fn state_at(&self, number: BlockNumber) -> ProviderResult<Box<dyn StateProvider>>;
}

/// Reads headers and the canonical chain.
#[auto_impl::auto_impl(&, Arc, Box)]
pub trait HeaderProvider: BlockHashReader {
    /// The canonical header at `number`.
    fn header_by_number(&self, number: BlockNumber) -> ProviderResult<Option<Header>>;

    /// The header with hash `hash`.
    fn header(&self, hash: BlockHash) -> ProviderResult<Option<Header>>;

    /// The number of the block with hash `hash`.
    fn block_number(&self, hash: BlockHash) -> ProviderResult<Option<BlockNumber>>;
}

/// Where a transaction sits in the canonical chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// The block holding it.
    pub block_number: BlockNumber,
    /// Its index in the block's body.
    pub index: u64,
}

/// Reads block contents.
#[auto_impl::auto_impl(&, Arc, Box)]
pub trait BlockReader: HeaderProvider {
    /// The body (transactions, ommers, withdrawals) of the canonical block at `number`.
    fn body(&self, number: BlockNumber) -> ProviderResult<Option<BlockBody<TxEnvelope>>>;

    /// The recovered senders of the block's transactions, in order.
    fn senders(&self, number: BlockNumber) -> ProviderResult<Option<Vec<Address>>>;

    /// The block's receipts, in transaction order.
    fn receipts(&self, number: BlockNumber) -> ProviderResult<Option<Vec<ReceiptEnvelope>>>;

    /// The block's access list (EIP-7928) as RLP, where the block has one.
    fn block_access_list(&self, number: BlockNumber) -> ProviderResult<Option<Bytes>>;

    /// Where the transaction with hash `hash` was included.
    fn transaction_location(&self, hash: TxHash) -> ProviderResult<Option<TxLocation>>;
}

/// Which chain a store holds and how far it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainInfo {
    /// The chain id (EIP-155).
    pub chain_id: u64,
    /// The hash of block 0.
    pub genesis_hash: BlockHash,
    /// The number of the head block.
    pub head_number: BlockNumber,
    /// The hash of the head block.
    pub head_hash: BlockHash,
}

/// Reads the store's chain identity and head.
#[auto_impl::auto_impl(&, Arc, Box)]
pub trait ChainInfoReader {
    /// The chain id, genesis and head.
    fn chain_info(&self) -> ProviderResult<ChainInfo>;
}

/// The safe and finalized blocks a consensus client (or the dev node) last named, by number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForkchoiceMarkers {
    /// The latest safe block, `None` before any forkchoice named one.
    pub safe: Option<BlockNumber>,
    /// The latest finalized block, `None` before any forkchoice named one.
    pub finalized: Option<BlockNumber>,
}

/// Reads and records the safe and finalized markers (the `safe` and `finalized` block tags of JSON-RPC).
///
/// The head itself is moved only by [`BlockWriter`]; these markers are written by whoever follows a forkchoice.
#[auto_impl::auto_impl(&, Arc, Box)]
pub trait ForkchoiceStore {
    /// The markers as last recorded.
    fn forkchoice_markers(&self) -> ProviderResult<ForkchoiceMarkers>;

    /// Records the markers. A marker above the head is refused with [`ProviderError::StateNotAvailable`].
    fn set_forkchoice_markers(&self, markers: ForkchoiceMarkers) -> ProviderResult<()>;
}

/// A validated block with everything the store keeps about it.
#[derive(Debug, Clone)]
pub struct BlockToCommit {
    /// The header.
    pub header: Header,
    /// The header's hash.
    pub hash: BlockHash,
    /// Transactions, ommers and withdrawals.
    pub body: BlockBody<TxEnvelope>,
    /// The recovered sender of each transaction.
    pub senders: Vec<Address>,
    /// The receipt of each transaction.
    pub receipts: Vec<ReceiptEnvelope>,
    /// The block's access list as RLP, where it has one.
    pub block_access_list: Option<Bytes>,
    /// The block's state changes as post-values.
    pub state: StateChanges,
    /// The trie nodes the block changes, computed with its state root (`balnode-trie`).
    ///
    /// With `Some`, the writer stores them as they are, trusting that they are the updates of exactly this
    /// block on top of the store's head (or the previous block of the batch): the import path computes them
    /// anyway to check the header's state root, so they are not computed twice. With `None` (genesis, tests,
    /// any caller that did not compute the root) the writer computes them itself from the hashed state it
    /// holds, on one thread.
    pub trie_updates: Option<TrieUpdates>,
}

/// The branch nodes a block adds, changes and removes in the account trie and the storage tries.
///
/// Paths are nibble paths from the trie's root; a node maps to `None` when it is removed. Only the nodes that
/// alloy-trie's `HashBuilder` keeps are stored (a branch with a hashed branch child, or a child stored
/// itself), so small subtries are rebuilt from their leaves instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrieUpdates {
    /// Nodes of the account trie.
    pub account_nodes: BTreeMap<Nibbles, Option<BranchNodeCompact>>,
    /// Nodes of the storage tries, by hashed address.
    pub storage_tries: BTreeMap<B256, StorageTrieUpdates>,
}

impl TrieUpdates {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.account_nodes.is_empty() && self.storage_tries.is_empty()
    }
}

/// The node changes of one storage trie.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageTrieUpdates {
    /// Whether every stored node of the trie is removed before `nodes` apply (the storage was wiped).
    pub wiped: bool,
    /// Nodes added or changed (`Some`) and removed (`None`).
    pub nodes: BTreeMap<Nibbles, Option<BranchNodeCompact>>,
}

/// The proof of one storage slot (EIP-1186 `storageProof` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProof {
    /// The slot, as asked for (not hashed).
    pub key: StorageKey,
    /// Its value, zero when the slot is empty.
    pub value: StorageValue,
    /// The storage-trie nodes from the root down to the slot's leaf, or to where its path ends when it has
    /// none (an exclusion proof), each RLP encoded.
    pub proof: Vec<Bytes>,
}

/// An account with its storage proofs, the shape of `eth_getProof` (EIP-1186).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProof {
    /// The account asked for.
    pub address: Address,
    /// The account, `None` when it does not exist (the proof then shows its absence).
    pub account: Option<Account>,
    /// The root of the account's storage trie (the empty root for an account without storage or that does
    /// not exist).
    pub storage_root: B256,
    /// The account-trie nodes from the state root down to the account's leaf, or to where its path ends.
    pub account_proof: Vec<Bytes>,
    /// One proof per slot asked for, in the order asked.
    pub storage_proofs: Vec<StorageProof>,
}

impl AccountProof {
    /// The balance as EIP-1186 reports it: zero for an account that does not exist.
    pub fn balance(&self) -> U256 {
        self.account.map_or(U256::ZERO, |account| account.balance)
    }

    /// The nonce as EIP-1186 reports it.
    pub fn nonce(&self) -> u64 {
        self.account.map_or(0, |account| account.nonce)
    }

    /// The code hash as EIP-1186 reports it: the hash of empty code for an account without code.
    pub fn code_hash(&self) -> B256 {
        self.account.map_or(KECCAK256_EMPTY, |account| account.code_hash())
    }

    /// The storage root as EIP-1186 reports it (`storageHash`).
    pub fn storage_hash(&self) -> B256 {
        if self.account.is_none() { EMPTY_ROOT_HASH } else { self.storage_root }
    }
}

/// Merkle proofs of accounts and storage, for `eth_getProof`.
///
/// Implemented by the store over its hashed state and stored trie nodes; RPC reaches it through this trait
/// only.
#[auto_impl::auto_impl(&, Arc, Box)]
pub trait StateProofProvider: Send + Sync {
    /// The proof of `address` and of each of `slots` in the state after block `number`: the head, or any
    /// earlier block the store still has change sets for.
    ///
    /// Fails with [`ProviderError::StateNotAvailable`] above the head.
    fn proof(
        &self,
        number: BlockNumber,
        address: Address,
        slots: &[StorageKey],
    ) -> ProviderResult<AccountProof>;
}

/// State roots of hypothetical states, for `eth_simulateV1`.
#[auto_impl::auto_impl(&, Arc, Box)]
pub trait StateRootProvider: Send + Sync {
    /// The state root of the state after block `number` with `changes` (post-values) laid over it; nothing is
    /// written. Fails with [`ProviderError::StateNotAvailable`] above the head.
    fn state_root_with(&self, number: BlockNumber, changes: &StateChanges) -> ProviderResult<B256>;
}

/// Commits blocks. Every path that produces blocks goes through here.
pub trait BlockWriter {
    /// Writes the genesis block (number 0) and its state into an empty store, recording `chain_id` and the
    /// genesis hash as the store's identity.
    fn init_genesis(&self, chain_id: u64, genesis: BlockToCommit) -> ProviderResult<()>;

    /// Commits `blocks` on top of the head, in order, in one write transaction: either all of them become
    /// durable, with their change sets and the new head, or none does.
    fn commit_blocks(&self, blocks: Vec<BlockToCommit>) -> ProviderResult<()>;

    /// Removes the blocks above `target` and restores state to what it was after `target`, in one write
    /// transaction.
    fn unwind_to(&self, target: BlockNumber) -> ProviderResult<()>;
}
