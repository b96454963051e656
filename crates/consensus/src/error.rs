//! The one error type of the consensus rules, and its mapping to the exception names of the test suites.

use balnode_primitives::{B256, Bytes, U256, primitives::B64};

/// A consensus rule a header or block breaks.
///
/// Each variant names the field or rule, and carries the value the rules expect (`expected`, computed from the
/// parent, the body or the execution) next to the value the block carries (`got`). Bounds are given as `max` or
/// `min`. Transaction rules carry the index of the offending transaction in the block.
///
/// [`ConsensusError::exception_names`] maps each variant to the execution-spec-tests exception names that
/// describe it, so that a blockchain-test runner can check a block was rejected for the reason the test names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusError {
    // Header, on its own.
    /// A header field of a later fork is present (e.g. `baseFeePerGas` before London).
    #[error("header field `{field}` is present before its fork")]
    UnexpectedField {
        /// The field, as the JSON-RPC and test formats spell it.
        field: &'static str,
    },
    /// A header field the active fork requires is missing.
    #[error("header field `{field}` is missing")]
    MissingField {
        /// The field, as the JSON-RPC and test formats spell it.
        field: &'static str,
    },
    /// The extra data is longer than [`MAXIMUM_EXTRA_DATA_SIZE`](crate::MAXIMUM_EXTRA_DATA_SIZE).
    #[error("extra data is {got} bytes, more than the {max} allowed")]
    ExtraDataTooLong {
        /// The limit.
        max: usize,
        /// The header's extra data length.
        got: usize,
    },
    /// The header says more gas was used than its own gas limit.
    #[error("gas used {gas_used} is above the gas limit {gas_limit}")]
    GasUsedExceedsGasLimit {
        /// The header's gas limit.
        gas_limit: u64,
        /// The header's gas used.
        gas_used: u64,
    },
    /// The gas limit is above [`MAXIMUM_GAS_LIMIT`](crate::MAXIMUM_GAS_LIMIT) (2^63 - 1).
    #[error("gas limit {got} is above the maximum {max}")]
    GasLimitTooBig {
        /// The limit.
        max: u64,
        /// The header's gas limit.
        got: u64,
    },
    /// A proof-of-stake header has a non-zero difficulty.
    #[error("difficulty is {got} after the merge, must be 0")]
    DifficultyAfterMerge {
        /// The header's difficulty.
        got: U256,
    },
    /// A proof-of-stake header has a non-zero nonce.
    #[error("nonce is {got} after the merge, must be 0")]
    NonceAfterMerge {
        /// The header's nonce.
        got: B64,
    },
    /// A proof-of-stake header commits to ommers, or a proof-of-stake body carries some.
    #[error("block has ommers after the merge (ommers hash {ommers_hash})")]
    OmmersAfterMerge {
        /// The header's ommers hash.
        ommers_hash: B256,
    },
    /// The header's blob gas used is not a multiple of the gas of one blob.
    #[error("blob gas used {got} is not a multiple of {per_blob}")]
    BlobGasUsedNotMultipleOfBlob {
        /// The gas of one blob (`DATA_GAS_PER_BLOB`).
        per_blob: u64,
        /// The header's blob gas used.
        got: u64,
    },
    /// The header's blob gas used is above the block maximum of the blob parameters in force.
    #[error("blob gas used {got} is above the block maximum {max}")]
    BlobGasUsedAboveLimit {
        /// The maximum blob gas of a block.
        max: u64,
        /// The header's blob gas used.
        got: u64,
    },
    /// A block in the DAO fork's window does not carry the DAO extra data.
    #[error("block in the DAO fork window must carry extra data `dao-hard-fork`, got {got}")]
    InvalidDaoExtraData {
        /// The header's extra data.
        got: Bytes,
    },

    // Header against its parent.
    /// The parent hash is not the hash of the parent given.
    #[error("parent hash is {got}, the parent's hash is {expected}")]
    ParentHashMismatch {
        /// The hash of the parent.
        expected: B256,
        /// The header's parent hash.
        got: B256,
    },
    /// The number is not the parent's plus one.
    #[error("block number is {got}, expected {expected}")]
    BlockNumberMismatch {
        /// The parent's number plus one.
        expected: u64,
        /// The header's number.
        got: u64,
    },
    /// The timestamp is not after the parent's.
    #[error("timestamp {got} is not after the parent's {parent}")]
    TimestampNotAfterParent {
        /// The parent's timestamp.
        parent: u64,
        /// The header's timestamp.
        got: u64,
    },
    /// The gas limit moved by the parent's limit / 1024 or more.
    #[error("gas limit {got} is out of bounds of the parent's {parent}")]
    GasLimitOutOfBounds {
        /// The parent's gas limit (doubled at the London block, by the elasticity multiplier).
        parent: u64,
        /// The header's gas limit.
        got: u64,
    },
    /// The gas limit is below [`MINIMUM_GAS_LIMIT`](crate::MINIMUM_GAS_LIMIT).
    #[error("gas limit {got} is below the minimum {min}")]
    GasLimitBelowMinimum {
        /// The limit.
        min: u64,
        /// The header's gas limit.
        got: u64,
    },
    /// The base fee is not the one EIP-1559 derives from the parent.
    #[error("base fee is {got}, expected {expected}")]
    BaseFeeMismatch {
        /// The base fee derived from the parent.
        expected: u64,
        /// The header's base fee.
        got: u64,
    },
    /// The excess blob gas is not the one EIP-4844 (and EIP-7918) derive from the parent.
    #[error("excess blob gas is {got}, expected {expected}")]
    ExcessBlobGasMismatch {
        /// The excess blob gas derived from the parent.
        expected: u64,
        /// The header's excess blob gas.
        got: u64,
    },
    /// The proof-of-work difficulty is not the one the difficulty formula derives from the parent.
    #[error("difficulty is {got}, expected {expected}")]
    DifficultyMismatch {
        /// The difficulty derived from the parent.
        expected: U256,
        /// The header's difficulty.
        got: U256,
    },
    /// A parent field that a rule of the child needs is missing (the parent itself was not valid).
    #[error("parent header field `{field}` is missing")]
    ParentFieldMissing {
        /// The field, as the JSON-RPC and test formats spell it.
        field: &'static str,
    },
    /// A parent field is so large that the child's value cannot be derived without overflow.
    #[error("parent header field `{field}` is out of range")]
    ParentFieldOutOfRange {
        /// The field, as the JSON-RPC and test formats spell it.
        field: &'static str,
    },

    // Body.
    /// The transactions root is not the root of the body's transactions.
    #[error("transactions root is {got}, the body's is {expected}")]
    TransactionsRootMismatch {
        /// The root of the body's transactions.
        expected: B256,
        /// The header's transactions root.
        got: B256,
    },
    /// The ommers hash is not the hash of the body's ommers.
    #[error("ommers hash is {got}, the body's is {expected}")]
    OmmersHashMismatch {
        /// The hash of the body's ommers.
        expected: B256,
        /// The header's ommers hash.
        got: B256,
    },
    /// The body has more ommers than [`MAX_OMMERS`](crate::MAX_OMMERS).
    #[error("block has {got} ommers, at most {max} allowed")]
    TooManyOmmers {
        /// The limit.
        max: usize,
        /// The number of ommers.
        got: usize,
    },
    /// A Shanghai body has no withdrawals list.
    #[error("block has no withdrawals list, required from Shanghai")]
    MissingWithdrawals,
    /// A pre-Shanghai body has a withdrawals list.
    #[error("block has a withdrawals list before Shanghai")]
    UnexpectedWithdrawals,
    /// The withdrawals root is not the root of the body's withdrawals.
    #[error("withdrawals root is {got}, the body's is {expected}")]
    WithdrawalsRootMismatch {
        /// The root of the body's withdrawals.
        expected: B256,
        /// The header's withdrawals root.
        got: B256,
    },
    /// A transaction's type is not active yet (EIP-2930 before Berlin, EIP-1559 before London, EIP-4844
    /// before Cancun, EIP-7702 before Prague).
    #[error("transaction {index} has type {tx_type}, not allowed before its fork")]
    TransactionTypeNotActive {
        /// The index of the transaction in the block.
        index: usize,
        /// The EIP-2718 type.
        tx_type: u8,
    },
    /// A blob transaction has no blobs.
    #[error("blob transaction {index} has no blobs")]
    BlobTransactionWithoutBlobs {
        /// The index of the transaction in the block.
        index: usize,
    },
    /// A blob transaction has more blobs than one transaction may carry.
    #[error("blob transaction {index} has {got} blobs, at most {max} allowed")]
    TooManyBlobsInTransaction {
        /// The index of the transaction in the block.
        index: usize,
        /// The per-transaction limit of the blob parameters in force.
        max: u64,
        /// The transaction's blob count.
        got: u64,
    },
    /// A blob versioned hash does not start with the KZG version byte.
    #[error("blob transaction {index} has versioned hash {hash} of an unknown version")]
    InvalidBlobVersionedHash {
        /// The index of the transaction in the block.
        index: usize,
        /// The offending versioned hash.
        hash: B256,
    },
    /// A blob transaction in a block carries its sidecar (the network form).
    #[error(
        "blob transaction {index} carries its blobs: a block holds the transaction without them"
    )]
    BlobTransactionWithSidecar {
        /// The index of the transaction in the block.
        index: usize,
    },
    /// The header's blob gas used is not the sum of the body's blob gas.
    #[error("blob gas used is {got}, the body's blobs use {expected}")]
    IncorrectBlobGasUsed {
        /// The blob gas of the body's transactions.
        expected: u64,
        /// The header's blob gas used.
        got: u64,
    },
    /// A set-code transaction has an empty authorization list.
    #[error("set-code transaction {index} has an empty authorization list")]
    EmptyAuthorizationList {
        /// The index of the transaction in the block.
        index: usize,
    },
    /// The RLP-encoded block is larger than [`MAX_RLP_BLOCK_SIZE`](crate::MAX_RLP_BLOCK_SIZE) (EIP-7934).
    #[error("block is {got} bytes of RLP, at most {max} allowed")]
    BlockTooLarge {
        /// The limit.
        max: usize,
        /// The block's RLP length.
        got: usize,
    },

    // Ommers, against the chain.
    /// An ommer is not a valid header against its own parent.
    #[error("ommer {index} ({hash}) is invalid: {source}")]
    InvalidOmmer {
        /// The index of the ommer in the block.
        index: usize,
        /// The ommer's hash.
        hash: B256,
        /// The rule the ommer breaks; boxed because the error nests itself.
        source: Box<ConsensusError>,
    },
    /// The same ommer is included twice in the block.
    #[error("ommer {hash} is included twice")]
    DuplicateOmmer {
        /// The ommer's hash.
        hash: B256,
    },
    /// An ommer was already included by one of the last blocks.
    #[error("ommer {hash} was already included by a recent block")]
    OmmerAlreadyIncluded {
        /// The ommer's hash.
        hash: B256,
    },
    /// An ommer is one of the block's own ancestors.
    #[error("ommer {hash} is an ancestor of the block")]
    OmmerIsAncestor {
        /// The ommer's hash.
        hash: B256,
    },
    /// An ommer's parent is the block's parent: it is the block's sibling, not an ommer.
    #[error("ommer {hash} is a sibling of the block")]
    OmmerIsSibling {
        /// The ommer's hash.
        hash: B256,
    },
    /// An ommer's parent is known but not among the block's recent ancestors (too old, or on another branch).
    #[error("ommer {hash} has parent {parent}, not among the last ancestors")]
    OmmerParentNotRecent {
        /// The ommer's hash.
        hash: B256,
        /// The ommer's parent hash.
        parent: B256,
    },
    /// An ommer's parent is not known at all.
    #[error("ommer {hash} has unknown parent {parent}")]
    OmmerUnknownParent {
        /// The ommer's hash.
        hash: B256,
        /// The ommer's parent hash.
        parent: B256,
    },
    /// An ancestor's header says it has ommers, but the ancestor source does not have them.
    #[error("ommers of ancestor {hash} are not available")]
    AncestorOmmersUnavailable {
        /// The ancestor's hash.
        hash: B256,
    },

    // After execution.
    /// The gas used by execution differs from the header's.
    #[error("gas used is {got}, execution used {expected}")]
    GasUsedMismatch {
        /// The gas execution used.
        expected: u64,
        /// The header's gas used.
        got: u64,
    },
    /// The receipts root differs from the root of the execution's receipts.
    #[error("receipts root is {got}, the receipts' is {expected}")]
    ReceiptsRootMismatch {
        /// The root of the receipts.
        expected: B256,
        /// The header's receipts root.
        got: B256,
    },
    /// The logs bloom differs from the union of the receipts' blooms.
    #[error("logs bloom differs from the receipts' logs bloom")]
    LogsBloomMismatch,
    /// The requests hash differs from the hash of the execution's requests (EIP-7685).
    #[error("requests hash is {got:?}, the requests' is {expected:?}")]
    RequestsHashMismatch {
        /// The hash of the requests, `None` when the execution made no requests hash (before Prague).
        expected: Option<B256>,
        /// The header's requests hash.
        got: Option<B256>,
    },
}

impl ConsensusError {
    /// The execution-spec-tests exception names (`BlockException.*`, `TransactionException.*`) that describe
    /// this error.
    ///
    /// A test names one or more exceptions (`A|B`); a rejection matches when any of them is in this list. Some
    /// errors list several names because the suites name the same failure by the rule that is broken or by the
    /// check that finds it first (a header claiming too much blob gas is `BLOB_GAS_USED_ABOVE_LIMIT` or
    /// `INCORRECT_BLOB_GAS_USED`). [`Self::InvalidOmmer`] answers with the names of its cause.
    pub fn exception_names(&self) -> &'static [&'static str] {
        match self {
            Self::UnexpectedField { .. } | Self::MissingField { .. } => {
                &["BlockException.INCORRECT_BLOCK_FORMAT", "BlockException.RLP_STRUCTURES_ENCODING"]
            }
            Self::ExtraDataTooLong { .. } => &["BlockException.EXTRA_DATA_TOO_BIG"],
            Self::GasUsedExceedsGasLimit { .. } => {
                &["BlockException.INVALID_GAS_USED_ABOVE_LIMIT", "BlockException.GAS_USED_OVERFLOW"]
            }
            Self::GasLimitTooBig { .. } => &["BlockException.GASLIMIT_TOO_BIG"],
            Self::DifficultyAfterMerge { .. } => {
                &["BlockException.IMPORT_IMPOSSIBLE_DIFFICULTY_OVER_PARIS"]
            }
            Self::NonceAfterMerge { .. } => &["BlockException.INCORRECT_BLOCK_FORMAT"],
            Self::OmmersAfterMerge { .. } => {
                &["BlockException.IMPORT_IMPOSSIBLE_UNCLES_OVER_PARIS"]
            }
            Self::BlobGasUsedNotMultipleOfBlob { .. } => {
                &["BlockException.INCORRECT_BLOB_GAS_USED"]
            }
            Self::BlobGasUsedAboveLimit { .. } => &[
                "BlockException.BLOB_GAS_USED_ABOVE_LIMIT",
                "BlockException.INCORRECT_BLOB_GAS_USED",
                "TransactionException.TYPE_3_TX_MAX_BLOB_GAS_ALLOWANCE_EXCEEDED",
            ],
            Self::InvalidDaoExtraData { .. } => &["BlockException.EXTRA_DATA_INVALID_DAO"],
            Self::ParentHashMismatch { .. } => &["BlockException.UNKNOWN_PARENT"],
            Self::BlockNumberMismatch { .. } => &["BlockException.INVALID_BLOCK_NUMBER"],
            Self::TimestampNotAfterParent { .. } => {
                &["BlockException.INVALID_BLOCK_TIMESTAMP_OLDER_THAN_PARENT"]
            }
            Self::GasLimitOutOfBounds { .. } | Self::GasLimitBelowMinimum { .. } => {
                &["BlockException.INVALID_GASLIMIT"]
            }
            Self::BaseFeeMismatch { .. } => &["BlockException.INVALID_BASEFEE_PER_GAS"],
            Self::ExcessBlobGasMismatch { .. } => &["BlockException.INCORRECT_EXCESS_BLOB_GAS"],
            Self::DifficultyMismatch { .. } => &["BlockException.INVALID_DIFFICULTY"],
            Self::ParentFieldMissing { .. } | Self::ParentFieldOutOfRange { .. } => {
                &["BlockException.INCORRECT_BLOCK_FORMAT"]
            }
            Self::TransactionsRootMismatch { .. } => &["BlockException.INVALID_TRANSACTIONS_ROOT"],
            Self::OmmersHashMismatch { .. } => &["BlockException.INVALID_UNCLES_HASH"],
            Self::TooManyOmmers { .. } => &["BlockException.TOO_MANY_UNCLES"],
            Self::MissingWithdrawals => &[
                "BlockException.INCORRECT_BLOCK_FORMAT",
                "BlockException.RLP_WITHDRAWALS_NOT_READ",
                "BlockException.RLP_STRUCTURES_ENCODING",
            ],
            Self::UnexpectedWithdrawals => {
                &["BlockException.INCORRECT_BLOCK_FORMAT", "BlockException.RLP_STRUCTURES_ENCODING"]
            }
            Self::WithdrawalsRootMismatch { .. } => &["BlockException.INVALID_WITHDRAWALS_ROOT"],
            Self::TransactionTypeNotActive { tx_type, .. } => match tx_type {
                1 => &[
                    "TransactionException.TYPE_1_TX_PRE_FORK",
                    "TransactionException.TYPE_NOT_SUPPORTED",
                ],
                2 => &[
                    "TransactionException.TYPE_2_TX_PRE_FORK",
                    "TransactionException.TYPE_NOT_SUPPORTED",
                ],
                3 => &[
                    "TransactionException.TYPE_3_TX_PRE_FORK",
                    "TransactionException.TYPE_3_TX_ZERO_BLOBS_PRE_FORK",
                    "TransactionException.TYPE_NOT_SUPPORTED",
                ],
                4 => &[
                    "TransactionException.TYPE_4_TX_PRE_FORK",
                    "TransactionException.TYPE_NOT_SUPPORTED",
                ],
                _ => &["TransactionException.TYPE_NOT_SUPPORTED"],
            },
            Self::BlobTransactionWithoutBlobs { .. } => {
                &["TransactionException.TYPE_3_TX_ZERO_BLOBS"]
            }
            Self::TooManyBlobsInTransaction { .. } => {
                &["TransactionException.TYPE_3_TX_BLOB_COUNT_EXCEEDED"]
            }
            Self::InvalidBlobVersionedHash { .. } => {
                &["TransactionException.TYPE_3_TX_INVALID_BLOB_VERSIONED_HASH"]
            }
            Self::BlobTransactionWithSidecar { .. } => {
                &["TransactionException.TYPE_3_TX_WITH_FULL_BLOBS"]
            }
            Self::IncorrectBlobGasUsed { .. } => &["BlockException.INCORRECT_BLOB_GAS_USED"],
            Self::EmptyAuthorizationList { .. } => {
                &["TransactionException.TYPE_4_EMPTY_AUTHORIZATION_LIST"]
            }
            Self::BlockTooLarge { .. } => &["BlockException.RLP_BLOCK_LIMIT_EXCEEDED"],
            Self::InvalidOmmer { source, .. } => source.exception_names(),
            Self::DuplicateOmmer { .. } => &["BlockException.UNCLE_IS_BROTHER"],
            Self::OmmerAlreadyIncluded { .. } => &["BlockException.UNCLE_IN_CHAIN"],
            Self::OmmerIsAncestor { .. } => {
                &["BlockException.UNCLE_IS_ANCESTOR", "BlockException.UNCLE_IN_CHAIN"]
            }
            Self::OmmerIsSibling { .. } => {
                &["BlockException.UNCLE_PARENT_INCORRECT", "BlockException.UNCLE_IS_BROTHER"]
            }
            Self::OmmerParentNotRecent { .. } => &["BlockException.UNCLE_PARENT_INCORRECT"],
            Self::OmmerUnknownParent { .. } => &["BlockException.UNCLE_UNKNOWN_PARENT"],
            Self::AncestorOmmersUnavailable { .. } => &[],
            Self::GasUsedMismatch { .. } => &["BlockException.INVALID_GAS_USED"],
            Self::ReceiptsRootMismatch { .. } => &["BlockException.INVALID_RECEIPTS_ROOT"],
            Self::LogsBloomMismatch => &["BlockException.INVALID_LOG_BLOOM"],
            Self::RequestsHashMismatch { .. } => &["BlockException.INVALID_REQUESTS"],
        }
    }

    /// Whether this error matches a test's expected exception: one name or several joined with `|`, as the
    /// fixtures' `expectException` field writes them.
    pub fn matches_exception(&self, expected: &str) -> bool {
        let names = self.exception_names();
        expected.split('|').map(str::trim).any(|name| names.contains(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_any_of_the_piped_names() {
        let error = ConsensusError::IncorrectBlobGasUsed { expected: 0, got: 1 };
        assert!(error.matches_exception("BlockException.INCORRECT_BLOB_GAS_USED"));
        assert!(error.matches_exception(
            "BlockException.INVALID_GASLIMIT|BlockException.INCORRECT_BLOB_GAS_USED"
        ));
        assert!(!error.matches_exception("BlockException.INVALID_GASLIMIT"));
    }

    #[test]
    fn an_invalid_ommer_answers_with_its_cause() {
        let error = ConsensusError::InvalidOmmer {
            index: 0,
            hash: B256::ZERO,
            source: Box::new(ConsensusError::DifficultyMismatch {
                expected: U256::from(1),
                got: U256::from(2),
            }),
        };
        assert_eq!(error.exception_names(), &["BlockException.INVALID_DIFFICULTY"]);
    }

    #[test]
    fn transaction_types_name_their_fork() {
        let name = |tx_type| {
            ConsensusError::TransactionTypeNotActive { index: 0, tx_type }.exception_names()[0]
        };
        assert_eq!(name(1), "TransactionException.TYPE_1_TX_PRE_FORK");
        assert_eq!(name(2), "TransactionException.TYPE_2_TX_PRE_FORK");
        assert_eq!(name(3), "TransactionException.TYPE_3_TX_PRE_FORK");
        assert_eq!(name(4), "TransactionException.TYPE_4_TX_PRE_FORK");
    }
}
