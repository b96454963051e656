//! The gas rules a transaction must meet before it may enter a block, as revm will apply them: for the
//! transaction pool, which checks them on admission rather than discovering them while building.

use std::sync::Arc;

use alloy_evm::FromRecoveredTx;
use balnode_chainspec::ChainSpec;
use balnode_primitives::{Address, Header, TxEnvelope};
use revm::{
    context::{TxEnv, result::InvalidTransaction},
    context_interface::{Cfg, Transaction as _, cfg::gas_params::Eip2780TxInfo},
    handler::validation::validate_initial_tx_gas_with_gas_params,
};

use crate::execute::block_evm_env;

/// The per-transaction limits of a block's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLimits {
    /// EIP-7825's cap on a transaction's gas limit, `None` where revm does not enforce one (before Osaka,
    /// or where EIP-8037 moves state gas to its own reservoir).
    pub gas_limit_cap: Option<u64>,
    /// The largest init code a creation may carry (EIP-3860, raised by EIP-7954), `None` before Shanghai.
    pub max_initcode_size: Option<usize>,
}

/// Why a transaction's gas limit cannot cover what it must pay before executing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IntrinsicGasError {
    /// The gas limit is below the intrinsic gas (base, data, access list, authorizations, creation).
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    Intrinsic {
        /// The transaction's gas limit.
        gas: u64,
        /// The intrinsic gas.
        needed: u64,
    },
    /// The gas limit is below EIP-7623's calldata floor.
    #[error("insufficient gas for floor data gas cost: gas {gas}, minimum needed {needed}")]
    Floor {
        /// The transaction's gas limit (or the cap it is held to).
        gas: u64,
        /// The floor.
        needed: u64,
    },
}

/// The limits of the rules of a block with `header`'s number, timestamp and gas limit.
pub fn tx_limits(spec: &Arc<ChainSpec>, header: &Header) -> TxLimits {
    let env = block_evm_env(spec, header);
    let cfg = &env.cfg_env;
    let spec_id = cfg.spec;
    let gas_limit_cap = (spec_id.is_enabled_in(revm::primitives::hardfork::SpecId::OSAKA)
        && !cfg.is_amsterdam_eip8037_enabled())
    .then(|| cfg.tx_gas_limit_cap());
    let max_initcode_size = spec_id
        .is_enabled_in(revm::primitives::hardfork::SpecId::SHANGHAI)
        .then(|| cfg.max_initcode_size());
    TxLimits { gas_limit_cap, max_initcode_size }
}

/// Checks that `tx`'s gas limit covers its intrinsic gas (and the EIP-7623 floor) under the rules of a
/// block with `header`'s number, timestamp and gas limit, exactly as revm's handler checks it; returns the
/// intrinsic gas.
pub fn check_intrinsic_gas(
    spec: &Arc<ChainSpec>,
    header: &Header,
    tx: &TxEnvelope,
    sender: Address,
) -> Result<u64, IntrinsicGasError> {
    let env = block_evm_env(spec, header);
    let cfg = &env.cfg_env;
    let tx_env = TxEnv::from_recovered_tx(tx, sender);
    let eip2780 = cfg.enable_amsterdam_eip2780.then(|| Eip2780TxInfo {
        value: tx_env.value(),
        is_self_transfer: tx_env.kind().to() == Some(&sender),
    });
    let gas = tx_env.gas_limit();
    match validate_initial_tx_gas_with_gas_params(
        &tx_env,
        cfg.spec,
        cfg.gas_params(),
        cfg.is_eip7623_disabled(),
        cfg.is_amsterdam_eip8037_enabled(),
        cfg.tx_gas_limit_cap(),
        eip2780,
    ) {
        Ok(initial) => Ok(initial.initial_total_gas()),
        Err(InvalidTransaction::CallGasCostMoreThanGasLimit { initial_gas, .. }) => {
            Err(IntrinsicGasError::Intrinsic { gas, needed: initial_gas })
        }
        Err(InvalidTransaction::GasFloorMoreThanGasLimit { gas_floor, gas_limit }) => {
            Err(IntrinsicGasError::Floor { gas: gas_limit, needed: gas_floor })
        }
        // No other error comes out of the initial gas check; count anything else as intrinsic.
        Err(_) => Err(IntrinsicGasError::Intrinsic { gas, needed: gas.saturating_add(1) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use balnode_primitives::{
        Bytes, U256,
        consensus::{Signed, TxEip1559},
        primitives::{Signature, TxKind},
    };

    fn transfer(gas_limit: u64, input: Bytes) -> TxEnvelope {
        let tx = TxEip1559 {
            chain_id: 1337,
            gas_limit,
            to: TxKind::Call(Address::repeat_byte(7)),
            value: U256::from(1),
            input,
            max_fee_per_gas: 10,
            ..Default::default()
        };
        Signed::new_unhashed(tx, Signature::test_signature()).into()
    }

    #[test]
    fn a_plain_transfer_needs_its_intrinsic_gas() {
        let spec = balnode_chainspec::dev();
        let header = spec.genesis_header();
        let sender = Address::repeat_byte(1);
        let needed =
            check_intrinsic_gas(&spec, &header, &transfer(1_000_000, Bytes::new()), sender)
                .unwrap();
        assert!(needed > 0);
        let error =
            check_intrinsic_gas(&spec, &header, &transfer(needed - 1, Bytes::new()), sender)
                .unwrap_err();
        assert_eq!(error, IntrinsicGasError::Intrinsic { gas: needed - 1, needed });
        assert!(error.to_string().starts_with("intrinsic gas too low"));
    }

    #[test]
    fn calldata_is_held_to_its_floor() {
        let spec = balnode_chainspec::dev();
        let header = spec.genesis_header();
        let data = Bytes::from(vec![0xff; 2_000]);
        let sender = Address::repeat_byte(1);
        let ok = check_intrinsic_gas(&spec, &header, &transfer(1_000_000, data.clone()), sender);
        assert!(ok.is_ok());
        // Find the smallest gas limit accepted and check the one below fails on the floor or intrinsic.
        let (mut low, mut high) = (21_000, 1_000_000);
        while low < high {
            let mid = (low + high) / 2;
            if check_intrinsic_gas(&spec, &header, &transfer(mid, data.clone()), sender).is_ok() {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        let error =
            check_intrinsic_gas(&spec, &header, &transfer(low - 1, data), sender).unwrap_err();
        assert!(matches!(error, IntrinsicGasError::Floor { needed, .. } if needed == low));
    }

    #[test]
    fn limits_follow_the_forks() {
        let spec = balnode_chainspec::dev();
        let limits = tx_limits(&spec, &spec.genesis_header());
        assert!(limits.max_initcode_size.is_some());
        let mainnet = balnode_chainspec::mainnet();
        let genesis = mainnet.genesis_header();
        assert_eq!(
            tx_limits(&mainnet, &genesis),
            TxLimits { gas_limit_cap: None, max_initcode_size: None }
        );
    }
}
