//! Proof-of-work block rewards, for reference: the executor (alloy-evm) applies them.

use balnode_chainspec::{ChainSpec, ForkCondition, Hardfork};
use balnode_primitives::U256;

use crate::constants::{
    BYZANTIUM_BLOCK_REWARD, CONSTANTINOPLE_BLOCK_REWARD, FRONTIER_BLOCK_REWARD,
};

/// The reward of the miner of block `number`: 5 ETH from Frontier, 3 ETH from Byzantium (EIP-649), 2 ETH from
/// Constantinople (EIP-1234), and none once the merge is active (EIP-3675).
///
/// The merge is judged by number alone: on a chain that merges by total difficulty without a known fork block,
/// only the import pipeline knows which blocks are past it, and this answers as if none were.
pub fn block_reward(spec: &ChainSpec, number: u64) -> Option<U256> {
    let active = |fork| spec.fork(fork).is_active_at(number, 0);
    let merged = match spec.fork(Hardfork::Paris) {
        ForkCondition::TotalDifficulty { fork_block: None, total_difficulty } => {
            total_difficulty.is_zero()
        }
        condition => condition.is_active_at(number, 0),
    };
    if merged {
        None
    } else if active(Hardfork::Constantinople) || active(Hardfork::Petersburg) {
        Some(CONSTANTINOPLE_BLOCK_REWARD)
    } else if active(Hardfork::Byzantium) {
        Some(BYZANTIUM_BLOCK_REWARD)
    } else {
        Some(FRONTIER_BLOCK_REWARD)
    }
}

/// The reward of the miner of an ommer at `ommer_number` included by block `number` whose reward is
/// `block_reward`: `(8 + ommer_number - number) / 8` of it, so 7/8 for an ommer one generation back down to 2/8
/// for six.
pub fn ommer_reward(block_reward: U256, number: u64, ommer_number: u64) -> U256 {
    let eighths = (8 + ommer_number).saturating_sub(number);
    block_reward * U256::from(eighths) / U256::from(8)
}

/// What the miner of a block earns on top of its reward for each ommer it includes: 1/32 of the block reward.
pub fn ommer_inclusion_reward(block_reward: U256) -> U256 {
    block_reward / U256::from(32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::spec;

    #[test]
    fn rewards_by_fork() {
        let eth = |n: u64| U256::from(n) * U256::from(1_000_000_000_000_000_000u64);
        assert_eq!(block_reward(&spec("Frontier"), 1), Some(eth(5)));
        assert_eq!(block_reward(&spec("Homestead"), 1), Some(eth(5)));
        assert_eq!(block_reward(&spec("Byzantium"), 1), Some(eth(3)));
        assert_eq!(block_reward(&spec("ConstantinopleFix"), 1), Some(eth(2)));
        assert_eq!(block_reward(&spec("London"), 1), Some(eth(2)));
        assert_eq!(block_reward(&spec("Paris"), 1), None);
        assert_eq!(block_reward(&spec("Cancun"), 1), None);
        // At a transition: the fork block is the first with the new reward.
        let transition = spec("ByzantiumToConstantinopleFixAt5");
        assert_eq!(block_reward(&transition, 4), Some(eth(3)));
        assert_eq!(block_reward(&transition, 5), Some(eth(2)));
        let mainnet = balnode_chainspec::mainnet();
        assert_eq!(block_reward(&mainnet, 4_369_999), Some(eth(5)));
        assert_eq!(block_reward(&mainnet, 4_370_000), Some(eth(3)));
        assert_eq!(block_reward(&mainnet, 15_537_393), Some(eth(2)));
        assert_eq!(block_reward(&mainnet, 15_537_394), None);
    }

    #[test]
    fn ommer_rewards_by_generation() {
        let reward = U256::from(2_000_000_000_000_000_000u64);
        assert_eq!(ommer_reward(reward, 10, 9), reward * U256::from(7) / U256::from(8));
        assert_eq!(ommer_reward(reward, 10, 4), reward * U256::from(2) / U256::from(8));
        assert_eq!(ommer_inclusion_reward(reward), U256::from(62_500_000_000_000_000u64));
    }
}
