//! The constants of the consensus rules, each with the EIP or yellow-paper rule that fixes it.

use balnode_primitives::{Bytes, U256};

/// The most bytes a header's extra data may hold (yellow paper, section 4.3.4).
pub const MAXIMUM_EXTRA_DATA_SIZE: usize = 32;

/// The gas limit may move by less than `parent_gas_limit / GAS_LIMIT_BOUND_DIVISOR` from one block to the next.
pub const GAS_LIMIT_BOUND_DIVISOR: u64 = 1024;

/// The lowest gas limit a block may have.
pub const MINIMUM_GAS_LIMIT: u64 = 5000;

/// The highest gas limit a block may have, 2^63 - 1 (geth's `MaxGasLimit`; the execution specs' `U64` headers
/// hold it as a signed 64-bit integer does).
pub const MAXIMUM_GAS_LIMIT: u64 = (1 << 63) - 1;

/// The lowest difficulty of a proof-of-work block before the bomb is added.
pub const MINIMUM_DIFFICULTY: U256 = U256::from_limbs([131_072, 0, 0, 0]);

/// The parent's difficulty is divided by this to get the step of one adjustment.
pub const DIFFICULTY_BOUND_DIVISOR: U256 = U256::from_limbs([2048, 0, 0, 0]);

/// Blocks per period of the difficulty bomb: it doubles every period.
pub const EXP_DIFFICULTY_PERIOD: u64 = 100_000;

/// The most ommers a block may include.
pub const MAX_OMMERS: usize = 2;

/// How many generations back an ommer may be: its parent is one of the block's last `MAX_OMMER_DEPTH + 1`
/// ancestors.
pub const MAX_OMMER_DEPTH: u64 = 6;

/// The block size EIP-7934 caps, before the margin for the beacon block: 10 MiB.
pub const MAX_BLOCK_SIZE: usize = 10_485_760;

/// The margin EIP-7934 leaves for the beacon block around the execution payload: 2 MiB.
pub const SAFETY_MARGIN: usize = 2_097_152;

/// The largest RLP-encoded block EIP-7934 allows from Osaka: `MAX_BLOCK_SIZE - SAFETY_MARGIN`, 8 MiB.
pub const MAX_RLP_BLOCK_SIZE: usize = MAX_BLOCK_SIZE - SAFETY_MARGIN;

/// The extra data the ten blocks from the DAO fork block must carry: `dao-hard-fork`.
pub const DAO_FORK_EXTRA_DATA: Bytes = Bytes::from_static(b"dao-hard-fork");

/// How many blocks from the DAO fork block on must carry [`DAO_FORK_EXTRA_DATA`].
pub const DAO_FORK_EXTRA_DATA_RANGE: u64 = 10;

/// The difficulty bomb delay of Byzantium (EIP-649), in blocks.
pub const BYZANTIUM_BOMB_DELAY: u64 = 3_000_000;

/// The difficulty bomb delay of Constantinople (EIP-1234), in blocks.
pub const CONSTANTINOPLE_BOMB_DELAY: u64 = 5_000_000;

/// The difficulty bomb delay of Muir Glacier (EIP-2384), in blocks.
pub const MUIR_GLACIER_BOMB_DELAY: u64 = 9_000_000;

/// The difficulty bomb delay of London (EIP-3554), in blocks.
pub const LONDON_BOMB_DELAY: u64 = 9_700_000;

/// The difficulty bomb delay of Arrow Glacier (EIP-4345), in blocks.
pub const ARROW_GLACIER_BOMB_DELAY: u64 = 10_700_000;

/// The difficulty bomb delay of Gray Glacier (EIP-5133), in blocks.
pub const GRAY_GLACIER_BOMB_DELAY: u64 = 11_400_000;

/// One ether in wei.
const ETHER: u64 = 1_000_000_000_000_000_000;

/// The block reward from Frontier: 5 ETH.
pub const FRONTIER_BLOCK_REWARD: U256 = U256::from_limbs([5 * ETHER, 0, 0, 0]);

/// The block reward from Byzantium (EIP-649): 3 ETH.
pub const BYZANTIUM_BLOCK_REWARD: U256 = U256::from_limbs([3 * ETHER, 0, 0, 0]);

/// The block reward from Constantinople (EIP-1234): 2 ETH.
pub const CONSTANTINOPLE_BLOCK_REWARD: U256 = U256::from_limbs([2 * ETHER, 0, 0, 0]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_constants() {
        assert_eq!(MAX_RLP_BLOCK_SIZE, 8 * 1024 * 1024);
        assert_eq!(MAXIMUM_GAS_LIMIT, 0x7fff_ffff_ffff_ffff);
        assert_eq!(
            DAO_FORK_EXTRA_DATA.as_ref(),
            &[0x64, 0x61, 0x6f, 0x2d, 0x68, 0x61, 0x72, 0x64, 0x2d, 0x66, 0x6f, 0x72, 0x6b]
        );
        assert_eq!(FRONTIER_BLOCK_REWARD, U256::from(5_000_000_000_000_000_000u128));
    }
}
