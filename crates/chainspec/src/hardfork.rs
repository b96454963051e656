//! Ethereum hard forks and the conditions that activate them.

use alloy_primitives::U256;
use revm_primitives::hardfork::SpecId;

pub use alloy_hardforks::EthereumHardfork as Hardfork;

/// The forks that can carry a blob schedule entry, in activation order.
pub const BLOB_FORKS: [Hardfork; 9] = [
    Hardfork::Cancun,
    Hardfork::Prague,
    Hardfork::Osaka,
    Hardfork::Bpo1,
    Hardfork::Bpo2,
    Hardfork::Bpo3,
    Hardfork::Bpo4,
    Hardfork::Bpo5,
    Hardfork::Amsterdam,
];

/// What balnode needs to know of a fork beyond alloy's [`Hardfork`].
pub trait HardforkExt: Copy {
    /// Whether the fork is scheduled by timestamp (Shanghai and later) rather than by block number.
    fn is_timestamp_based(self) -> bool;

    /// The revm rules of this fork.
    ///
    /// revm has no rules of its own for Constantinople (EIP-1283 was withdrawn before mainnet), nor for the
    /// bomb-only and blob-parameter-only forks: they run under the rules of the fork before them. A chain that
    /// schedules Constantinople before Petersburg runs those blocks with Byzantium's SSTORE costs.
    fn spec_id(self) -> SpecId;
}

impl HardforkExt for Hardfork {
    fn is_timestamp_based(self) -> bool {
        self >= Self::Shanghai
    }

    fn spec_id(self) -> SpecId {
        match self {
            Self::Frontier => SpecId::FRONTIER,
            Self::Homestead | Self::Dao => SpecId::HOMESTEAD,
            Self::Tangerine => SpecId::TANGERINE,
            Self::SpuriousDragon => SpecId::SPURIOUS_DRAGON,
            Self::Byzantium | Self::Constantinople => SpecId::BYZANTIUM,
            Self::Petersburg => SpecId::PETERSBURG,
            Self::Istanbul | Self::MuirGlacier => SpecId::ISTANBUL,
            Self::Berlin => SpecId::BERLIN,
            Self::London | Self::ArrowGlacier | Self::GrayGlacier => SpecId::LONDON,
            Self::Paris => SpecId::MERGE,
            Self::Shanghai => SpecId::SHANGHAI,
            Self::Cancun => SpecId::CANCUN,
            Self::Prague => SpecId::PRAGUE,
            Self::Osaka | Self::Bpo1 | Self::Bpo2 | Self::Bpo3 | Self::Bpo4 | Self::Bpo5 => {
                SpecId::OSAKA
            }
            // Amsterdam and anything alloy adds after it: the newest rules revm has.
            _ => SpecId::AMSTERDAM,
        }
    }
}

/// Parses a fork name case-insensitively, also accepting the names the test suites and geth use
/// (`EIP150`, `EIP158`, `ConstantinopleFix`, `Merge`, `TangerineWhistle`, `Spurious`).
pub fn parse_fork_name(name: &str) -> Result<Hardfork, String> {
    let fork = match name.to_ascii_lowercase().as_str() {
        "eip150" | "tangerinewhistle" => Hardfork::Tangerine,
        "eip158" | "spurious" => Hardfork::SpuriousDragon,
        "constantinoplefix" => Hardfork::Petersburg,
        "merge" => Hardfork::Paris,
        _ => return name.parse().map_err(|_| format!("unknown fork name `{name}`")),
    };
    Ok(fork)
}

/// When a fork activates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkCondition {
    /// At this block number.
    Block(u64),
    /// At the first block with a timestamp at or after this one.
    Timestamp(u64),
    /// When the total difficulty reaches `total_difficulty` (the merge). `fork_block`, when known, is the first
    /// block under the new rules, so that the rules of a block can be told from its number alone.
    TotalDifficulty {
        /// The terminal total difficulty.
        total_difficulty: U256,
        /// The first proof-of-stake block, when known.
        fork_block: Option<u64>,
    },
    /// Not scheduled.
    Never,
}

impl ForkCondition {
    /// Whether the fork is active for a block with this number and timestamp.
    ///
    /// A merge condition is active when its fork block is known and reached, or when the terminal total
    /// difficulty is zero (a chain that starts merged). Otherwise it needs the total difficulty: see
    /// [`Self::is_active_at_total_difficulty`].
    pub fn is_active_at(&self, number: u64, timestamp: u64) -> bool {
        match *self {
            Self::Block(block) => number >= block,
            Self::Timestamp(time) => timestamp >= time,
            Self::TotalDifficulty { total_difficulty, fork_block } => {
                total_difficulty.is_zero() || fork_block.is_some_and(|block| number >= block)
            }
            Self::Never => false,
        }
    }

    /// Whether a merge condition is met by a chain whose parent block has this total difficulty.
    pub fn is_active_at_total_difficulty(&self, parent_total_difficulty: U256) -> bool {
        match *self {
            Self::TotalDifficulty { total_difficulty, .. } => {
                parent_total_difficulty >= total_difficulty
            }
            _ => false,
        }
    }

    /// Whether the condition can ever hold.
    pub const fn is_scheduled(&self) -> bool {
        !matches!(self, Self::Never)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for fork in Hardfork::VARIANTS {
            assert_eq!(parse_fork_name(fork.name()), Ok(*fork));
            assert_eq!(parse_fork_name(&fork.name().to_uppercase()), Ok(*fork));
        }
        assert_eq!(parse_fork_name("EIP150"), Ok(Hardfork::Tangerine));
        assert_eq!(parse_fork_name("EIP158"), Ok(Hardfork::SpuriousDragon));
        assert_eq!(parse_fork_name("ConstantinopleFix"), Ok(Hardfork::Petersburg));
        assert_eq!(parse_fork_name("Merge"), Ok(Hardfork::Paris));
        assert_eq!(parse_fork_name("BPO3"), Ok(Hardfork::Bpo3));
        assert!(parse_fork_name("Glamsterdam").is_err());
    }

    #[test]
    fn all_is_sorted_and_spec_ids_never_go_back() {
        for pair in Hardfork::VARIANTS.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].spec_id() <= pair[1].spec_id(), "{} → {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn conditions_at_their_boundaries() {
        let block = ForkCondition::Block(5);
        assert!(!block.is_active_at(4, u64::MAX));
        assert!(block.is_active_at(5, 0));
        let time = ForkCondition::Timestamp(15_000);
        assert!(!time.is_active_at(u64::MAX, 14_999));
        assert!(time.is_active_at(0, 15_000));
        let merge =
            ForkCondition::TotalDifficulty { total_difficulty: U256::from(100), fork_block: None };
        assert!(!merge.is_active_at(1_000, 1_000));
        assert!(!merge.is_active_at_total_difficulty(U256::from(99)));
        assert!(merge.is_active_at_total_difficulty(U256::from(100)));
        let known = ForkCondition::TotalDifficulty {
            total_difficulty: U256::from(100),
            fork_block: Some(36),
        };
        assert!(!known.is_active_at(35, 0));
        assert!(known.is_active_at(36, 0));
        let merged =
            ForkCondition::TotalDifficulty { total_difficulty: U256::ZERO, fork_block: None };
        assert!(merged.is_active_at(0, 0));
        assert!(!ForkCondition::Never.is_active_at(u64::MAX, u64::MAX));
    }
}
