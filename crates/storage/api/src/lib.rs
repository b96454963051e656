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
//!
//! ## Feature Flags
//! None.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use balnode_primitives::{
    Account, Address, B256, BlockBody, BlockHash, BlockNumber, Bytes, Header, ReceiptEnvelope,
    StateChanges, StorageKey, StorageValue, TxEnvelope, TxHash,
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
