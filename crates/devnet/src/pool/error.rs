//! [`PoolError`]: why the pool refused a transaction, with geth's messages (its `core/txpool` and
//! `core/error.go`), so that users of geth's tooling see the errors they know.

use balnode_executor::IntrinsicGasError;
use balnode_primitives::{B256, U256};
use balnode_storage_api::ProviderError;

/// Why a transaction was not added to the pool.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The bytes are not an EIP-2718 transaction.
    #[error("{0}")]
    Decode(String),
    /// The pool already holds this transaction.
    #[error("already known")]
    AlreadyKnown,
    /// A legacy transaction without EIP-155 replay protection, refused over RPC as geth does unless
    /// `PoolConfig::allow_unprotected` is set.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    /// The signature does not recover (high `s`, bad `v`), or is for another chain.
    #[error("invalid sender: {0}")]
    InvalidSender(String),
    /// The transaction type is not enabled by the fork of the next block.
    #[error("transaction type not supported: type {tx_type} rejected, pool not yet in {fork}")]
    TxTypeNotSupported {
        /// The EIP-2718 type.
        tx_type: u8,
        /// The fork that enables it.
        fork: &'static str,
    },
    /// The encoded transaction (without a blob sidecar) is larger than the pool takes.
    #[error("oversized data: transaction size {size}, limit {limit}")]
    OversizedData {
        /// Its size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A creation whose init code is larger than EIP-3860 (EIP-7954) allows.
    #[error("max initcode size exceeded: code size {size} limit {limit}")]
    MaxInitCodeSize {
        /// The init code's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The gas limit is above EIP-7825's cap.
    #[error("transaction gas limit too high (cap: {cap}, tx: {gas})")]
    GasLimitTooHigh {
        /// The cap.
        cap: u64,
        /// The transaction's gas limit.
        gas: u64,
    },
    /// The gas limit is above the block gas limit.
    #[error("exceeds block gas limit")]
    ExceedsBlockGasLimit,
    /// The priority fee is above the fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// EIP-2681: the nonce is 2^64-1.
    #[error("nonce has max value")]
    NonceMax,
    /// The gas limit does not cover the intrinsic gas or the EIP-7623 floor.
    #[error(transparent)]
    IntrinsicGas(#[from] IntrinsicGasError),
    /// The priority fee is below the pool's minimum.
    #[error("transaction underpriced: gas tip cap {tip}, minimum needed {min}")]
    Underpriced {
        /// The transaction's priority fee (its gas price for legacy transactions).
        tip: u128,
        /// The minimum.
        min: u128,
    },
    /// The blob fee cap is below EIP-4844's minimum blob gas price.
    #[error("transaction underpriced: blob fee cap {cap}, minimum needed {min}")]
    BlobFeeCapTooLow {
        /// The blob fee cap.
        cap: u128,
        /// The minimum.
        min: u128,
    },
    /// A blob transaction sent without its sidecar (blobs, commitments, proofs).
    #[error("missing sidecar in blob transaction")]
    MissingSidecar,
    /// A sidecar of the wrong version for the fork (EIP-4844 blob proofs before Osaka, EIP-7594 cell
    /// proofs from Osaka).
    #[error("unexpected sidecar version, want: {want}, got: {got}")]
    SidecarVersion {
        /// The version the fork wants.
        want: u8,
        /// The version sent.
        got: u8,
    },
    /// An EIP-4844 sidecar could not be converted to cell proofs (as geth's RPC converts them after Osaka).
    #[error("blob sidecar conversion failed: {0}")]
    SidecarConversion(String),
    /// A blob transaction without blob hashes.
    #[error("blobless blob transaction")]
    Blobless,
    /// More blobs than one transaction may carry.
    #[error("too many blobs in transaction: have {have}, permitted {permitted}")]
    TooManyBlobs {
        /// Blobs in the transaction.
        have: usize,
        /// The limit of the blob schedule.
        permitted: u64,
    },
    /// The sidecar's blobs or commitments do not match the transaction's blob hashes in number.
    #[error("invalid number of {blobs} blobs compared to {hashes} blob hashes")]
    BlobCount {
        /// Blobs (or commitments) in the sidecar.
        blobs: usize,
        /// Blob hashes in the transaction.
        hashes: usize,
    },
    /// The sidecar has the wrong number of proofs.
    #[error("invalid number of {proofs} blob proofs expected {expected}")]
    ProofCount {
        /// Proofs in the sidecar.
        proofs: usize,
        /// Proofs expected.
        expected: usize,
    },
    /// A commitment does not hash to the transaction's versioned hash.
    #[error("blob {index}: computed hash {computed} mismatches transaction one {have}")]
    VersionedHash {
        /// The blob's index.
        index: usize,
        /// The versioned hash of the sidecar's commitment.
        computed: B256,
        /// The transaction's.
        have: B256,
    },
    /// A KZG proof does not verify.
    #[error("KZG verification error: {0}")]
    Kzg(String),
    /// An EIP-7702 transaction without authorizations.
    #[error("set code tx must have at least one authorization tuple")]
    EmptyAuthorizationList,
    /// The nonce is below the sender's account nonce.
    #[error("nonce too low: next nonce {next}, tx nonce {nonce}")]
    NonceTooLow {
        /// The account's nonce.
        next: u64,
        /// The transaction's.
        nonce: u64,
    },
    /// The balance does not cover the transaction's maximum cost.
    #[error(
        "insufficient funds for gas * price + value: balance {}, tx cost {}, overshot {}",
        .0.balance, .0.cost, .0.overshot
    )]
    InsufficientFunds(Box<Shortfall>),
    /// The balance covers the transaction, but not with the sender's other pooled transactions.
    #[error(
        "insufficient funds for gas * price + value: balance {}, queued cost {}, tx cost {}, overshot {}",
        .0.balance, .0.queued, .0.cost, .0.overshot
    )]
    InsufficientFundsWithPooled(Box<Shortfall>),
    /// A transaction with the nonce of a pooled one, without the fee bump replacement needs.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The sender has as many transactions in the pool as it may.
    #[error("account limit exceeded: pooled {0} txs")]
    AccountLimit(usize),
    /// The pool is full and the transaction pays no more than the cheapest it could evict.
    #[error("txpool is full")]
    PoolFull,
    /// Reading the chain's state failed.
    #[error("internal error: {0}")]
    Provider(#[from] ProviderError),
}

/// How far a sender's balance falls short (boxed in [`PoolError`]: four 256-bit numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    /// The sender's balance.
    pub balance: U256,
    /// The maximum cost of its other pooled transactions.
    pub queued: U256,
    /// This transaction's maximum cost: gas limit × fee cap + value (+ blob gas × blob fee cap).
    pub cost: U256,
    /// How much is missing.
    pub overshot: U256,
}
