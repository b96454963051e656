//! The block access list checks of the import pipeline.
//!
//! Before execution, a list that came with the block is decoded and its structure checked (EIP-7928's
//! ordering, uniqueness, index and size rules), so that a malformed list is refused before any state is read.
//! After execution, the list execution built is the truth: an Amsterdam header must commit to its hash, and
//! a list that came with the block (any fork: `balnode bal generate` writes them for older blocks) must be
//! byte for byte the same, else the first difference is named.

use balnode_bal::{BlockAccessList, Limits, first_difference, item_count, validate};
use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_primitives::{Block, Bytes};

/// Why a block's access list is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BalCheckError {
    /// The list carried with the block does not decode.
    #[error("the block access list does not decode: {0}")]
    Decode(#[from] balnode_bal::DecodeError),
    /// The list breaks a structural rule.
    #[error("the block access list is malformed: {0}")]
    Structure(#[from] balnode_bal::StructureError),
    /// The list execution built has more items than the gas limit allows.
    #[error("the block access list has {items} items, more than the gas limit allows ({limit})")]
    GasLimitExceeded {
        /// Addresses plus storage keys.
        items: u64,
        /// `gas_limit / 2000`.
        limit: u64,
    },
    /// The header's hash is not the hash of the list execution built.
    #[error("block access list hash mismatch: the header says {expected:?}, execution gives {got}{}", difference_text(difference.as_deref()))]
    Hash {
        /// The header's hash.
        expected: Option<balnode_primitives::B256>,
        /// The built list's hash.
        got: balnode_primitives::B256,
        /// The first difference against the list that came with the block, if one did.
        difference: Option<String>,
    },
    /// The carried list differs from the built one.
    #[error("the block access list differs from execution's: {difference}")]
    Mismatch {
        /// The first difference (expected: what the block carried; got: what execution built).
        difference: String,
    },
}

impl BalCheckError {
    /// The execution-spec-tests exception names this error stands for (`BlockException.…`), as
    /// `ConsensusError::exception_names` gives them for the consensus rules.
    pub const fn exception_names(&self) -> &'static [&'static str] {
        match self {
            Self::GasLimitExceeded { .. } => {
                &["BlockException.BLOCK_ACCESS_LIST_GAS_LIMIT_EXCEEDED"]
            }
            Self::Hash { .. } => {
                &["BlockException.INVALID_BLOCK_ACCESS_LIST", "BlockException.INVALID_BAL_HASH"]
            }
            Self::Decode(_) | Self::Structure(_) | Self::Mismatch { .. } => {
                &["BlockException.INVALID_BLOCK_ACCESS_LIST"]
            }
        }
    }
}

fn difference_text(difference: Option<&str>) -> String {
    difference.map(|d| format!(" (first difference: {d})")).unwrap_or_default()
}

/// The limits a block puts on its access list.
pub(crate) fn limits_of(spec: &ChainSpec, block: &Block) -> Limits {
    let header = &block.header;
    Limits {
        transactions: block.body.transactions.len() as u64,
        gas_limit: header.gas_limit,
        max_code_size: balnode_executor::max_code_size(spec, header.number, header.timestamp),
    }
}

/// Decodes and checks the structure of a list carried with `block`.
pub(crate) fn check_carried(
    spec: &ChainSpec,
    block: &Block,
    rlp: &Bytes,
) -> Result<BlockAccessList, BalCheckError> {
    let list = balnode_bal::decode(rlp)?;
    validate(&list, &limits_of(spec, block))?;
    Ok(list)
}

/// Checks the list execution `built` against the header and against the `carried` list; returns the RLP to
/// store with the block.
pub(crate) fn check_built(
    spec: &ChainSpec,
    block: &Block,
    built: &BlockAccessList,
    carried: Option<(&Bytes, &BlockAccessList)>,
) -> Result<Bytes, BalCheckError> {
    let header = &block.header;
    let rlp = balnode_bal::encode(built);
    let difference = || {
        carried.map(|(_, list)| {
            first_difference(list, built).map_or_else(
                || "same entries in another order or encoding".to_owned(),
                |difference| difference.to_string(),
            )
        })
    };
    if let Some((carried_rlp, _)) = carried
        && *carried_rlp != rlp
    {
        let difference = difference().unwrap_or_default();
        return Err(BalCheckError::Mismatch { difference });
    }
    if spec.is_active_at(Hardfork::Amsterdam, header.number, header.timestamp) {
        let got = balnode_primitives::keccak256(&rlp);
        if header.block_access_list_hash != Some(got) {
            return Err(BalCheckError::Hash {
                expected: header.block_access_list_hash,
                got,
                difference: difference(),
            });
        }
        let limits = limits_of(spec, block);
        let (items, limit) = (item_count(built), limits.gas_limit / balnode_bal::ITEM_COST);
        if items > limit {
            return Err(BalCheckError::GasLimitExceeded { items, limit });
        }
    }
    Ok(rlp)
}
