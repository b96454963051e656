//! The networks of the Ethereum test suites (`Cancun`, `ShanghaiToCancunAtTime15k`, `BerlinToLondonAt5`, …).

use std::collections::BTreeMap;

use alloy_genesis::Genesis;
use alloy_primitives::U256;

use crate::{
    AmsterdamProfile, ChainSpec, ChainSpecError, ForkCondition, Hardfork, HardforkExt,
    parse_fork_name,
};

impl ChainSpec {
    /// The spec of a test-suite network over `genesis` (its alloc and header fields; its `config.chainId` and
    /// `config.blobSchedule` are used, its fork keys ignored).
    ///
    /// A network `X` has every fork up to `X` at genesis, as geth's test configs do: the DAO fork is left out
    /// (it is scheduled only by `HomesteadToDaoAt5`), and the bomb-only forks come with the fork after them
    /// (`Berlin` includes Muir Glacier, `London` does not include Arrow Glacier). A transition `AToBAtN` has
    /// the forks after `A` up to `B` at block `N`; `AToBAtTime15k` at timestamp 15,000.
    ///
    /// Amsterdam follows [`AmsterdamProfile::BalDevnetV5_7`], the rules of the Amsterdam tests we have.
    pub fn for_test_network(network: &str, genesis: Genesis) -> Result<Self, ChainSpecError> {
        let unknown = || ChainSpecError::UnknownNetwork(network.to_owned());
        let (from, transition) = match network.split_once("To") {
            Some((from, rest)) => {
                let (to, at) = rest.split_once("At").ok_or_else(unknown)?;
                let to = parse_fork_name(to).map_err(|_| unknown())?;
                let condition = match at.strip_prefix("Time") {
                    Some(time) => ForkCondition::Timestamp(parse_count(time).ok_or_else(unknown)?),
                    None => ForkCondition::Block(parse_count(at).ok_or_else(unknown)?),
                };
                (from, Some((to, condition)))
            }
            None => (network, None),
        };
        let from = parse_fork_name(from).map_err(|_| unknown())?;
        let mut forks = BTreeMap::new();
        for fork in Hardfork::VARIANTS.iter().copied() {
            // Only a transition to the DAO fork schedules it; no other network passes through it.
            if fork == Hardfork::Dao && transition.map(|(to, _)| to) != Some(Hardfork::Dao) {
                continue;
            }
            let condition = match transition {
                _ if fork <= from => at_genesis(fork),
                Some((to, at)) if fork <= to => at,
                _ => continue,
            };
            forks.insert(fork, condition);
        }
        // The only Amsterdam tests there are come from execution-spec-tests `bal@v5.7.0`.
        Ok(Self::from_schedule(genesis, forks)?
            .with_amsterdam_profile(AmsterdamProfile::BalDevnetV5_7))
    }
}

/// The condition of a fork active from genesis.
fn at_genesis(fork: Hardfork) -> ForkCondition {
    match fork {
        Hardfork::Paris => {
            ForkCondition::TotalDifficulty { total_difficulty: U256::ZERO, fork_block: Some(0) }
        }
        fork if fork.is_timestamp_based() => ForkCondition::Timestamp(0),
        _ => ForkCondition::Block(0),
    }
}

/// `5` → 5, `15k` → 15,000.
fn parse_count(text: &str) -> Option<u64> {
    match text.strip_suffix('k') {
        Some(thousands) => thousands.parse::<u64>().ok()?.checked_mul(1000),
        None => text.parse().ok(),
    }
}
