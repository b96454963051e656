//! The Amsterdam rules of an [`AmsterdamProfile`] as revm configuration: `CfgEnv` switches and a gas table.
//!
//! revm 43 implements Glamsterdam devnet-8 (EIP-2780 intrinsic gas, EIP-8037 with a fixed cost per state byte,
//! EIP-8038 access costs): that is [`AmsterdamProfile::Latest`] and needs nothing here. The
//! execution-spec-tests release `bal@v5.7.0` predates EIP-2780 and EIP-8038, and prices state bytes by the
//! block gas limit; [`AmsterdamProfile::BalDevnetV5_7`] rebuilds that from Osaka's gas table, switches off
//! revm's EIP-8246 clearing of self-destructed accounts (`bal@v5.7.0` burns their balance) and sets the
//! earlier EIP-7954 limits (32 KiB code, 64 KiB initcode).

use balnode_chainspec::AmsterdamProfile;
use revm::{
    context::CfgEnv,
    context_interface::cfg::gas_params::{GasId, GasParams},
    primitives::hardfork::SpecId,
};

/// EIP-8037 as of `bal@v5.7.0`: state bytes of each kind of state creation.
mod bal_v5_7 {
    /// Bytes of a new account.
    pub(super) const NEW_ACCOUNT_BYTES: u64 = 112;
    /// Bytes of a storage slot set from zero.
    pub(super) const STORAGE_SET_BYTES: u64 = 32;
    /// Bytes of an EIP-7702 delegation indicator.
    pub(super) const AUTH_BASE_BYTES: u64 = 23;
    /// Regular gas of `CREATE`/`CREATE2` and of a creation transaction (32,000 less the account's state gas).
    pub(super) const CREATE: u64 = 9_000;
    /// Regular gas of an EIP-7702 authorization (25,000 less the state gas of the account and delegation).
    pub(super) const PER_AUTH_BASE: u64 = 7_500;
    /// EIP-7981: gas per byte of an access list (four floor tokens of 16 gas).
    pub(super) const ACCESS_LIST_BYTE: u64 = 64;
    /// EIP-7954 as of `bal@v5.7.0`: the largest deployed code, 32 KiB (the later text raised it to 64 KiB).
    pub(super) const MAX_CODE_SIZE: usize = 0x8000;
    /// EIP-7954 as of `bal@v5.7.0`: the largest initcode, 64 KiB (later 128 KiB).
    pub(super) const MAX_INITCODE_SIZE: usize = 0x10000;
    /// Target state growth a year of the cost-per-state-byte formula, in bytes.
    const TARGET_STATE_GROWTH_PER_YEAR: u128 = 100 * 1024 * 1024 * 1024;
    /// Blocks a year at 12 s slots.
    const BLOCKS_PER_YEAR: u128 = 2_628_000;
    /// Significant bits kept by the quantisation of the cost per state byte.
    const CPSB_SIGNIFICANT_BITS: u32 = 5;
    /// Offset of the quantisation.
    const CPSB_OFFSET: u128 = 9_578;

    /// The cost per state byte at a block gas limit: the gas-per-byte that keeps state growth at the target
    /// when every block is half full, rounded to 5 significant bits around an offset.
    pub(super) fn cost_per_state_byte(gas_limit: u64) -> u64 {
        let raw =
            (u128::from(gas_limit) * BLOCKS_PER_YEAR).div_ceil(2 * TARGET_STATE_GROWTH_PER_YEAR);
        let shifted = raw + CPSB_OFFSET;
        let bits = u128::BITS - shifted.leading_zeros();
        let shift = bits.saturating_sub(CPSB_SIGNIFICANT_BITS);
        let quantised = (shifted >> shift) << shift;
        // The offset keeps the quantised value above it, so this never goes below zero; saturate anyway.
        u64::try_from(quantised.saturating_sub(CPSB_OFFSET)).unwrap_or(u64::MAX).max(1)
    }
}

/// Applies `profile` to `cfg` for a block with this gas limit. Before Amsterdam nothing changes.
pub(crate) fn configure(cfg: &mut CfgEnv, profile: AmsterdamProfile, gas_limit: u64) {
    if !cfg.spec.is_enabled_in(SpecId::AMSTERDAM) {
        return;
    }
    match profile {
        AmsterdamProfile::Latest => {}
        AmsterdamProfile::BalDevnetV5_7 => {
            cfg.enable_amsterdam_eip2780 = false;
            cfg.enable_amsterdam_eip8037 = true;
            // No EIP-8246: an account created and destroyed in the transaction stays marked for deletion
            // (and so loses its balance at commit) instead of being cleared into a balance-only account.
            // The burn logs and the burn at `SELFDESTRUCT` to self come from the executor's EVM (`evm.rs`).
            cfg.amsterdam_eip8246_delayed_clear_disabled = true;
            cfg.limit_contract_code_size = Some(bal_v5_7::MAX_CODE_SIZE);
            cfg.limit_contract_initcode_size = Some(bal_v5_7::MAX_INITCODE_SIZE);
            cfg.set_gas_params(bal_v5_7_gas_params(gas_limit));
        }
    }
}

/// The largest code an Amsterdam block may deploy under `profile` (EIP-7954).
pub(crate) const fn max_code_size(profile: AmsterdamProfile) -> usize {
    match profile {
        AmsterdamProfile::Latest => revm::primitives::eip7954::MAX_CODE_SIZE,
        AmsterdamProfile::BalDevnetV5_7 => bal_v5_7::MAX_CODE_SIZE,
    }
}

/// The static gas of opcodes that `profile` prices differently from revm's Amsterdam table.
///
/// `bal@v5.7.0` has no EIP-8038, whose second warm read makes `EXTCODESIZE` and `EXTCODECOPY` cost 200.
pub(crate) fn static_gas_overrides(
    profile: AmsterdamProfile,
    spec: SpecId,
) -> &'static [(u8, u16)] {
    use revm::bytecode::opcode::{EXTCODECOPY, EXTCODESIZE};
    match profile {
        AmsterdamProfile::BalDevnetV5_7 if spec.is_enabled_in(SpecId::AMSTERDAM) => {
            &[(EXTCODESIZE, 100), (EXTCODECOPY, 100)]
        }
        _ => &[],
    }
}

/// Osaka's gas table with the `bal@v5.7.0` Amsterdam changes: EIP-8037's state gas at the block's cost per
/// state byte and its smaller regular parts, EIP-7976's calldata floor and EIP-7981's access-list data cost.
fn bal_v5_7_gas_params(gas_limit: u64) -> GasParams {
    use bal_v5_7::*;
    let cpsb = cost_per_state_byte(gas_limit);
    let osaka = GasParams::new_spec(SpecId::OSAKA);
    let non_zero_multiplier = osaka.get(GasId::tx_token_non_zero_byte_multiplier());
    let reset = osaka.get(GasId::sstore_reset_without_cold_load_cost());
    let address_cost = osaka.get(GasId::tx_access_list_address_cost());
    let key_cost = osaka.get(GasId::tx_access_list_storage_key_cost());
    let mut params = osaka;
    params.override_gas([
        // EIP-8037: the state part of state creation moves to the state dimension.
        (GasId::code_deposit_cost(), 0),
        (GasId::create(), CREATE),
        (GasId::tx_create_cost(), CREATE),
        (GasId::new_account_cost(), 0),
        (GasId::new_account_cost_for_selfdestruct(), 0),
        (GasId::tx_eip7702_regular_gas(), PER_AUTH_BASE),
        (GasId::tx_eip7702_regular_refund(), 0),
        // A slot set from zero pays an update's regular gas (5,000 less the cold access) plus state gas.
        (GasId::sstore_set_without_load_cost(), reset),
        (GasId::sstore_set_refund(), reset),
        (GasId::sstore_set_state_gas(), STORAGE_SET_BYTES * cpsb),
        (GasId::new_account_state_gas(), NEW_ACCOUNT_BYTES * cpsb),
        (GasId::create_state_gas(), NEW_ACCOUNT_BYTES * cpsb),
        (GasId::code_deposit_state_gas(), cpsb),
        (GasId::tx_eip7702_state_gas_bytecode(), AUTH_BASE_BYTES * cpsb),
        // EIP-7976: every calldata byte is four floor tokens of 16 gas.
        (GasId::tx_floor_cost_per_token(), 16),
        (GasId::tx_floor_token_zero_byte_multiplier(), non_zero_multiplier),
        // EIP-7981: access-list bytes count as floor tokens too, and are charged as data (64 gas a byte).
        (GasId::tx_access_list_floor_byte_multiplier(), 4),
        (GasId::tx_access_list_address_cost(), address_cost + 20 * ACCESS_LIST_BYTE),
        (GasId::tx_access_list_storage_key_cost(), key_cost + 32 * ACCESS_LIST_BYTE),
    ]);
    params
}

#[cfg(test)]
mod tests {
    use super::{bal_v5_7::cost_per_state_byte, *};
    use revm::context_interface::Cfg;

    #[test]
    fn profiles_configure_revm() {
        let amsterdam = || CfgEnv::new_with_spec(SpecId::AMSTERDAM);
        let mut latest = amsterdam();
        configure(&mut latest, AmsterdamProfile::Latest, 60_000_000);
        assert_eq!(latest.gas_params, amsterdam().gas_params);
        assert!(latest.enable_amsterdam_eip2780 && latest.enable_amsterdam_eip8037);
        assert!(!latest.amsterdam_eip8246_delayed_clear_disabled);

        let mut old = amsterdam();
        configure(&mut old, AmsterdamProfile::BalDevnetV5_7, 120_000_000);
        assert!(!old.enable_amsterdam_eip2780 && old.enable_amsterdam_eip8037);
        assert!(old.amsterdam_eip8246_delayed_clear_disabled);
        assert_eq!((old.max_code_size(), old.max_initcode_size()), (0x8000, 0x10000));
        assert_eq!((latest.max_code_size(), latest.max_initcode_size()), (0x10000, 0x20000));
        assert_eq!(max_code_size(AmsterdamProfile::BalDevnetV5_7), old.max_code_size());
        assert_eq!(max_code_size(AmsterdamProfile::Latest), latest.max_code_size());
        let params = &old.gas_params;
        assert_eq!(params.get(GasId::sstore_set_state_gas()), 32 * 1174);
        assert_eq!(params.get(GasId::create()), 9_000);
        assert_eq!(params.get(GasId::tx_access_list_address_cost()), 2_400 + 20 * 64);
        assert_eq!(params.get(GasId::warm_storage_read_cost()), 100);

        // Before Amsterdam nothing changes.
        let mut osaka = CfgEnv::new_with_spec(SpecId::OSAKA);
        configure(&mut osaka, AmsterdamProfile::BalDevnetV5_7, 60_000_000);
        assert_eq!(osaka.gas_params, CfgEnv::new_with_spec(SpecId::OSAKA).gas_params);
        assert!(static_gas_overrides(AmsterdamProfile::BalDevnetV5_7, SpecId::OSAKA).is_empty());
        assert!(static_gas_overrides(AmsterdamProfile::Latest, SpecId::AMSTERDAM).is_empty());
    }

    #[test]
    fn cost_per_state_byte_follows_the_gas_limit() {
        // The values the `bal@v5.7.0` fixtures imply (`pricing_at_various_gas_limits`).
        assert_eq!(cost_per_state_byte(60_000_000), 662);
        assert_eq!(cost_per_state_byte(100_000_000), 1174);
        assert_eq!(cost_per_state_byte(120_000_000), 1174);
        assert_eq!(cost_per_state_byte(1_000_000_000), 11_926);
    }
}
