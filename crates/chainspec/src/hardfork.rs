//! Ethereum hard forks and the conditions that activate them.

use std::{fmt, str::FromStr};

use alloy_primitives::U256;
use revm_primitives::hardfork::SpecId;

/// The hard forks of Ethereum mainnet, in activation order, including the blob-parameter-only forks.
///
/// Forks that change nothing but the difficulty bomb (Muir, Arrow and Gray Glacier) are listed because the
/// consensus rules need them; they map to the same [`SpecId`] as the fork before them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hardfork {
    /// The launch rules.
    Frontier,
    /// EIP-2, EIP-7, EIP-8.
    Homestead,
    /// The DAO irregular state change.
    Dao,
    /// EIP-150 gas cost changes ("EIP150" in tests).
    Tangerine,
    /// EIP-155 replay protection and EIP-158 state clearing ("EIP158" in tests).
    SpuriousDragon,
    /// Metropolis part one.
    Byzantium,
    /// Metropolis part two with EIP-1283.
    Constantinople,
    /// Constantinople without EIP-1283 ("ConstantinopleFix" in tests).
    Petersburg,
    /// EIP-1344, EIP-1884, EIP-2028, EIP-2200.
    Istanbul,
    /// Difficulty bomb delay (EIP-2384).
    MuirGlacier,
    /// EIP-2565, EIP-2718, EIP-2929, EIP-2930.
    Berlin,
    /// EIP-1559, EIP-3198, EIP-3529, EIP-3541.
    London,
    /// Difficulty bomb delay (EIP-4345).
    ArrowGlacier,
    /// Difficulty bomb delay (EIP-5133).
    GrayGlacier,
    /// The merge: proof of stake (EIP-3675, EIP-4399). Activated by total difficulty.
    Paris,
    /// Withdrawals (EIP-4895), PUSH0, warm coinbase.
    Shanghai,
    /// Blobs (EIP-4844), beacon roots (EIP-4788), transient storage.
    Cancun,
    /// EIP-7702, execution requests (EIP-7685), historical block hashes (EIP-2935).
    Prague,
    /// PeerDAS era: EIP-7825, EIP-7918, EIP-7934, EIP-7939, EIP-7951 and friends.
    Osaka,
    /// Blob-parameter-only fork 1 (EIP-7892).
    Bpo1,
    /// Blob-parameter-only fork 2.
    Bpo2,
    /// Blob-parameter-only fork 3.
    Bpo3,
    /// Blob-parameter-only fork 4.
    Bpo4,
    /// Blob-parameter-only fork 5.
    Bpo5,
    /// Glamsterdam's execution layer: block-level access lists (EIP-7928) and friends.
    Amsterdam,
}

impl Hardfork {
    /// Every fork, in activation order.
    pub const ALL: [Self; 25] = [
        Self::Frontier,
        Self::Homestead,
        Self::Dao,
        Self::Tangerine,
        Self::SpuriousDragon,
        Self::Byzantium,
        Self::Constantinople,
        Self::Petersburg,
        Self::Istanbul,
        Self::MuirGlacier,
        Self::Berlin,
        Self::London,
        Self::ArrowGlacier,
        Self::GrayGlacier,
        Self::Paris,
        Self::Shanghai,
        Self::Cancun,
        Self::Prague,
        Self::Osaka,
        Self::Bpo1,
        Self::Bpo2,
        Self::Bpo3,
        Self::Bpo4,
        Self::Bpo5,
        Self::Amsterdam,
    ];

    /// The forks that can carry a blob schedule entry, in activation order.
    pub const BLOB_FORKS: [Self; 9] = [
        Self::Cancun,
        Self::Prague,
        Self::Osaka,
        Self::Bpo1,
        Self::Bpo2,
        Self::Bpo3,
        Self::Bpo4,
        Self::Bpo5,
        Self::Amsterdam,
    ];

    /// The canonical name, as the execution-spec tests spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Frontier => "Frontier",
            Self::Homestead => "Homestead",
            Self::Dao => "Dao",
            Self::Tangerine => "Tangerine",
            Self::SpuriousDragon => "SpuriousDragon",
            Self::Byzantium => "Byzantium",
            Self::Constantinople => "Constantinople",
            Self::Petersburg => "Petersburg",
            Self::Istanbul => "Istanbul",
            Self::MuirGlacier => "MuirGlacier",
            Self::Berlin => "Berlin",
            Self::London => "London",
            Self::ArrowGlacier => "ArrowGlacier",
            Self::GrayGlacier => "GrayGlacier",
            Self::Paris => "Paris",
            Self::Shanghai => "Shanghai",
            Self::Cancun => "Cancun",
            Self::Prague => "Prague",
            Self::Osaka => "Osaka",
            Self::Bpo1 => "BPO1",
            Self::Bpo2 => "BPO2",
            Self::Bpo3 => "BPO3",
            Self::Bpo4 => "BPO4",
            Self::Bpo5 => "BPO5",
            Self::Amsterdam => "Amsterdam",
        }
    }

    /// Whether the fork is scheduled by timestamp (Shanghai and later) rather than by block number.
    pub fn is_timestamp_based(self) -> bool {
        self >= Self::Shanghai
    }

    /// The revm rules of this fork.
    ///
    /// revm has no rules of its own for Constantinople (EIP-1283 was withdrawn before mainnet), nor for the
    /// bomb-only and blob-parameter-only forks: they run under the rules of the fork before them. A chain that
    /// schedules Constantinople before Petersburg runs those blocks with Byzantium's SSTORE costs.
    pub const fn spec_id(self) -> SpecId {
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
            Self::Amsterdam => SpecId::AMSTERDAM,
        }
    }
}

impl fmt::Display for Hardfork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Hardfork {
    type Err = String;

    /// Parses a fork name case-insensitively, accepting the aliases used by the test suites and geth
    /// (`EIP150`, `EIP158`, `ConstantinopleFix`, `Merge`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let fork = match lower.as_str() {
            "eip150" | "tangerinewhistle" => Self::Tangerine,
            "eip158" | "spurious" => Self::SpuriousDragon,
            "constantinoplefix" => Self::Petersburg,
            "merge" => Self::Paris,
            _ => {
                return Self::ALL
                    .into_iter()
                    .find(|fork| fork.name().eq_ignore_ascii_case(&lower))
                    .ok_or_else(|| format!("unknown fork name `{s}`"));
            }
        };
        Ok(fork)
    }
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
        for fork in Hardfork::ALL {
            assert_eq!(fork.name().parse::<Hardfork>(), Ok(fork));
            assert_eq!(fork.name().to_uppercase().parse::<Hardfork>(), Ok(fork));
        }
        assert_eq!("EIP150".parse(), Ok(Hardfork::Tangerine));
        assert_eq!("EIP158".parse(), Ok(Hardfork::SpuriousDragon));
        assert_eq!("ConstantinopleFix".parse(), Ok(Hardfork::Petersburg));
        assert_eq!("Merge".parse(), Ok(Hardfork::Paris));
        assert_eq!("bpo3".parse(), Ok(Hardfork::Bpo3));
        assert!("Glamsterdam".parse::<Hardfork>().is_err());
    }

    #[test]
    fn all_is_sorted_and_spec_ids_never_go_back() {
        for pair in Hardfork::ALL.windows(2) {
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
