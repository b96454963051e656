//! The proof-of-work difficulty formula of each fork, with the difficulty bomb and its delays.

use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_primitives::{EMPTY_OMMER_ROOT_HASH, Header, U256};

use crate::constants::{
    ARROW_GLACIER_BOMB_DELAY, BYZANTIUM_BOMB_DELAY, CONSTANTINOPLE_BOMB_DELAY,
    DIFFICULTY_BOUND_DIVISOR, EXP_DIFFICULTY_PERIOD, GRAY_GLACIER_BOMB_DELAY, LONDON_BOMB_DELAY,
    MINIMUM_DIFFICULTY, MUIR_GLACIER_BOMB_DELAY,
};

/// The difficulty a proof-of-work block with this `timestamp` and `number` must have on top of `parent`.
///
/// The step is `parent.difficulty / 2048`, scaled by a factor that depends on the time since the parent:
/// - Frontier: `+1` if the block came less than 13 seconds after its parent, else `-1`;
/// - Homestead (EIP-2): `max(1 - elapsed / 10, -99)`;
/// - Byzantium (EIP-100) and later: `max(u - elapsed / 9, -99)`, where `u` is 2 if the parent has ommers, else 1.
///
/// The result is raised to [`MINIMUM_DIFFICULTY`], then the bomb `2^(period - 2)` is added when the period
/// `fake_number / 100_000` is at least 2, as the yellow paper orders it. From Byzantium the bomb counts from a
/// `fake_number = number - delay`, with the delay of the latest bomb fork active (see [`bomb_delay`]); before,
/// from the block number itself.
///
/// The formula is total: a `timestamp` not after the parent's counts as no time elapsed, and a bomb too large for
/// 256 bits saturates. After the merge the difficulty is 0 and this formula no longer applies.
pub fn calc_difficulty(spec: &ChainSpec, parent: &Header, timestamp: u64, number: u64) -> U256 {
    let active = |fork| spec.is_active_at(fork, number, timestamp);
    let step = parent.difficulty / DIFFICULTY_BOUND_DIVISOR;
    // Seconds fit an i64 after division by 9 or 10, so the factors below cannot overflow.
    let elapsed = timestamp.saturating_sub(parent.timestamp);
    let delay = bomb_delay(spec, number, timestamp);
    let factor: i64 = if delay.is_some() {
        let ommers_term = if parent.ommers_hash == EMPTY_OMMER_ROOT_HASH { 1 } else { 2 };
        (ommers_term - (elapsed / 9) as i64).max(-99)
    } else if active(Hardfork::Homestead) {
        (1 - (elapsed / 10) as i64).max(-99)
    } else if elapsed < 13 {
        1
    } else {
        -1
    };
    let change = step.saturating_mul(U256::from(factor.unsigned_abs()));
    let adjusted = if factor >= 0 {
        parent.difficulty.saturating_add(change)
    } else {
        parent.difficulty.saturating_sub(change)
    };
    let difficulty = adjusted.max(MINIMUM_DIFFICULTY);

    let fake_number = number.saturating_sub(delay.unwrap_or_default());
    let period = fake_number / EXP_DIFFICULTY_PERIOD;
    if period > 1 {
        let bomb = usize::try_from(period - 2)
            .ok()
            .and_then(|exponent| U256::from(1).checked_shl(exponent))
            .unwrap_or(U256::MAX);
        difficulty.saturating_add(bomb)
    } else {
        difficulty
    }
}

/// How many blocks the difficulty bomb is delayed by for a block with this number and timestamp: `None` before
/// Byzantium (the bomb counts from the block number), else the delay of the latest of Byzantium (EIP-649, 3M),
/// Constantinople (EIP-1234, 5M), Muir Glacier (EIP-2384, 9M), London (EIP-3554, 9.7M), Arrow Glacier (EIP-4345,
/// 10.7M) and Gray Glacier (EIP-5133, 11.4M) that is active.
pub fn bomb_delay(spec: &ChainSpec, number: u64, timestamp: u64) -> Option<u64> {
    let active = |fork| spec.is_active_at(fork, number, timestamp);
    let delay = if active(Hardfork::GrayGlacier) {
        GRAY_GLACIER_BOMB_DELAY
    } else if active(Hardfork::ArrowGlacier) {
        ARROW_GLACIER_BOMB_DELAY
    } else if active(Hardfork::London) {
        LONDON_BOMB_DELAY
    } else if active(Hardfork::MuirGlacier) {
        MUIR_GLACIER_BOMB_DELAY
    } else if active(Hardfork::Constantinople) || active(Hardfork::Petersburg) {
        CONSTANTINOPLE_BOMB_DELAY
    } else if active(Hardfork::Byzantium) {
        BYZANTIUM_BOMB_DELAY
    } else {
        return None;
    };
    Some(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::{header, spec};

    fn parent(difficulty: u64, timestamp: u64, number: u64) -> Header {
        Header { difficulty: U256::from(difficulty), timestamp, number, ..header() }
    }

    /// `calc_difficulty` on a parent of difficulty 0x20000 * 16 (so one step is 1024), block `number`.
    fn check(network: &str, elapsed: u64, number: u64, ommers: bool, expected: u64) {
        let mut parent = parent(2_097_152, 1000, number - 1);
        if ommers {
            parent.ommers_hash = balnode_primitives::B256::repeat_byte(1);
        }
        let got = calc_difficulty(&spec(network), &parent, 1000 + elapsed, number);
        assert_eq!(got, U256::from(expected), "{network}, {elapsed}s, block {number}");
    }

    #[test]
    fn frontier_steps_on_13_seconds() {
        check("Frontier", 12, 1, false, 2_097_152 + 1024);
        check("Frontier", 13, 1, false, 2_097_152 - 1024);
    }

    #[test]
    fn homestead_scales_by_10_seconds() {
        check("Homestead", 9, 1, false, 2_097_152 + 1024);
        check("Homestead", 10, 1, false, 2_097_152);
        check("Homestead", 25, 1, false, 2_097_152 - 1024);
        check("Homestead", 10_000, 1, false, 2_097_152 - 99 * 1024);
        // The same parent and time under Frontier's rule drops one step only.
        check("Frontier", 25, 1, false, 2_097_152 - 1024);
    }

    #[test]
    fn byzantium_counts_parent_ommers() {
        check("Byzantium", 8, 1, false, 2_097_152 + 1024);
        check("Byzantium", 9, 1, false, 2_097_152);
        check("Byzantium", 9, 1, true, 2_097_152 + 1024);
        check("Byzantium", 18, 1, true, 2_097_152);
        check("Byzantium", 10_000, 1, true, 2_097_152 - 99 * 1024);
    }

    #[test]
    fn never_below_the_minimum() {
        let parent = parent(131_072, 1000, 0);
        assert_eq!(calc_difficulty(&spec("Frontier"), &parent, 2000, 1), MINIMUM_DIFFICULTY);
        assert_eq!(calc_difficulty(&spec("Byzantium"), &parent, 2000, 1), MINIMUM_DIFFICULTY);
    }

    #[test]
    fn bomb_from_period_two_and_its_delays() {
        // Frontier: block 199_999 is in period 1 (no bomb), block 200_000 in period 2 (bomb 2^0 = 1).
        check("Frontier", 12, 199_999, false, 2_097_152 + 1024);
        check("Frontier", 12, 200_000, false, 2_097_152 + 1024 + 1);
        check("Homestead", 10, 300_000, false, 2_097_152 + 2);
        // Byzantium delays the bomb by 3M blocks; Constantinople by 5M; London by 9.7M; Gray Glacier by 11.4M.
        check("Byzantium", 9, 3_199_999, false, 2_097_152);
        check("Byzantium", 9, 3_200_000, false, 2_097_152 + 1);
        check("ConstantinopleFix", 9, 3_200_000, false, 2_097_152);
        check("ConstantinopleFix", 9, 5_200_000, false, 2_097_152 + 1);
        check("Berlin", 9, 9_200_000, false, 2_097_152 + 1);
        check("London", 9, 9_200_000, false, 2_097_152);
        check("London", 9, 9_900_000, false, 2_097_152 + 1);
        assert_eq!(bomb_delay(&spec("Byzantium"), 1, 0), Some(BYZANTIUM_BOMB_DELAY));
        assert_eq!(bomb_delay(&spec("ConstantinopleFix"), 1, 0), Some(CONSTANTINOPLE_BOMB_DELAY));
        assert_eq!(bomb_delay(&spec("Istanbul"), 1, 0), Some(CONSTANTINOPLE_BOMB_DELAY));
        assert_eq!(bomb_delay(&spec("Berlin"), 1, 0), Some(MUIR_GLACIER_BOMB_DELAY));
        assert_eq!(bomb_delay(&spec("London"), 1, 0), Some(LONDON_BOMB_DELAY));
        assert_eq!(bomb_delay(&spec("Homestead"), 1, 0), None);
        let mainnet = balnode_chainspec::mainnet();
        assert_eq!(bomb_delay(&mainnet, 13_773_000, 0), Some(ARROW_GLACIER_BOMB_DELAY));
        assert_eq!(bomb_delay(&mainnet, 15_050_000, 0), Some(GRAY_GLACIER_BOMB_DELAY));
    }

    #[test]
    fn gray_glacier_bomb_on_mainnet_schedule() {
        // A synthetic parent at mainnet's Gray Glacier block: 13 s elapsed without parent ommers gives the factor
        // 1 - 13 / 9 = 0, so only the bomb moves the difficulty: fake number 15_050_000 - 11_400_000 =
        // 3_650_000, period 36, bomb 2^34.
        let mainnet = balnode_chainspec::mainnet();
        let parent = parent(11_854_278_497_474_785, 1_655_726_582, 15_049_999);
        let got = calc_difficulty(&mainnet, &parent, 1_655_726_595, 15_050_000);
        assert_eq!(got, parent.difficulty + U256::from(1u64 << 34));
    }

    #[test]
    fn huge_bomb_saturates() {
        let parent = parent(131_072, 0, u64::MAX - 1);
        assert_eq!(calc_difficulty(&spec("Frontier"), &parent, 1, u64::MAX), U256::MAX);
    }
}
