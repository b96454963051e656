//! The chains balnode knows by name: `mainnet` and `dev`.

use std::{
    collections::BTreeMap,
    sync::{Arc, LazyLock},
};

use alloy_eips::{eip2935, eip4788, eip7002, eip7251};
use alloy_genesis::{ChainConfig, Genesis, GenesisAccount};
use alloy_primitives::{Address, B256, U256};
use alloy_signer_local::{MnemonicBuilder, coins_bip39::English};

use crate::{ChainSpec, ChainSpecError, genesis::parse_genesis};

/// The mnemonic of the dev chain's funded accounts: the one anvil and hardhat use, so wallets and scripts
/// written against those work unchanged.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// The dev chain's id, as `geth --dev` and `reth node --dev` use.
pub const DEV_CHAIN_ID: u64 = 1337;

/// How many dev accounts are funded.
pub const DEV_ACCOUNT_COUNT: u32 = 10;

/// Each dev account's starting balance: 10,000 ether.
pub const DEV_ACCOUNT_BALANCE: U256 = U256::from_limbs([0x19e0_c9ba_b240_0000, 0x21e, 0, 0]);

/// The dev chain's block gas limit.
pub const DEV_GAS_LIMIT: u64 = 60_000_000;

/// A funded account of the dev chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevAccount {
    /// Its address.
    pub address: Address,
    /// Its secp256k1 private key. Public knowledge: never use it on a real network.
    pub private_key: B256,
}

static MAINNET: LazyLock<Arc<ChainSpec>> = LazyLock::new(|| {
    let genesis = parse_genesis(include_str!("../res/mainnet.json"))
        .expect("the built-in mainnet genesis is valid JSON");
    Arc::new(ChainSpec::from_genesis(genesis).expect("the built-in mainnet schedule is coherent"))
});

static DEV_ACCOUNTS: LazyLock<Vec<DevAccount>> = LazyLock::new(|| {
    (0..DEV_ACCOUNT_COUNT)
        .map(|index| {
            let signer = MnemonicBuilder::<English>::default()
                .phrase(DEV_MNEMONIC)
                .index(index)
                .and_then(|builder| builder.build())
                .expect("the dev mnemonic and its derivation paths are valid");
            DevAccount { address: signer.address(), private_key: signer.to_bytes() }
        })
        .collect()
});

static DEV: LazyLock<Arc<ChainSpec>> = LazyLock::new(|| {
    Arc::new(ChainSpec::from_genesis(dev_genesis()).expect("the built-in dev schedule is coherent"))
});

/// Ethereum mainnet: the real genesis allocation (8,893 accounts) and fork schedule through BPO2.
pub fn mainnet() -> Arc<ChainSpec> {
    MAINNET.clone()
}

/// The dev chain: every fork through Amsterdam active at genesis, the system contracts of EIP-4788, EIP-2935,
/// EIP-7002 and EIP-7251 deployed, and [`DEV_ACCOUNT_COUNT`] accounts of [`DEV_MNEMONIC`] funded.
pub fn dev() -> Arc<ChainSpec> {
    DEV.clone()
}

/// The funded accounts of the dev chain, derived from [`DEV_MNEMONIC`] at `m/44'/60'/0'/0/{index}`.
pub fn dev_accounts() -> &'static [DevAccount] {
    &DEV_ACCOUNTS
}

/// A built-in chain by name, or a geth-format genesis file by path.
pub fn chain_by_name_or_path(name: &str) -> Result<Arc<ChainSpec>, ChainSpecError> {
    match name {
        "mainnet" => Ok(mainnet()),
        "dev" => Ok(dev()),
        path => {
            let genesis = crate::read_genesis(std::path::Path::new(path))?;
            Ok(Arc::new(ChainSpec::from_genesis(genesis)?))
        }
    }
}

fn dev_genesis() -> Genesis {
    let config = ChainConfig {
        chain_id: DEV_CHAIN_ID,
        homestead_block: Some(0),
        eip150_block: Some(0),
        eip155_block: Some(0),
        eip158_block: Some(0),
        byzantium_block: Some(0),
        constantinople_block: Some(0),
        petersburg_block: Some(0),
        istanbul_block: Some(0),
        muir_glacier_block: Some(0),
        berlin_block: Some(0),
        london_block: Some(0),
        arrow_glacier_block: Some(0),
        gray_glacier_block: Some(0),
        merge_netsplit_block: Some(0),
        terminal_total_difficulty: Some(U256::ZERO),
        terminal_total_difficulty_passed: true,
        shanghai_time: Some(0),
        cancun_time: Some(0),
        prague_time: Some(0),
        osaka_time: Some(0),
        bpo1_time: Some(0),
        bpo2_time: Some(0),
        amsterdam_time: Some(0),
        ..Default::default()
    };
    let system_contract = |code: &alloy_primitives::Bytes| GenesisAccount {
        nonce: Some(1),
        code: Some(code.clone()),
        ..Default::default()
    };
    let mut alloc: BTreeMap<Address, GenesisAccount> = dev_accounts()
        .iter()
        .map(|account| {
            (account.address, GenesisAccount { balance: DEV_ACCOUNT_BALANCE, ..Default::default() })
        })
        .collect();
    alloc.insert(eip4788::BEACON_ROOTS_ADDRESS, system_contract(&eip4788::BEACON_ROOTS_CODE));
    alloc.insert(eip2935::HISTORY_STORAGE_ADDRESS, system_contract(&eip2935::HISTORY_STORAGE_CODE));
    alloc.insert(
        eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
        system_contract(&eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_CODE),
    );
    alloc.insert(
        eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
        system_contract(&eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_CODE),
    );
    Genesis {
        config,
        gas_limit: DEV_GAS_LIMIT,
        base_fee_per_gas: Some(alloy_eips::eip1559::INITIAL_BASE_FEE.into()),
        alloc,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, b256};

    use super::*;
    use crate::{Hardfork, SpecId};

    #[test]
    fn dev_accounts_are_the_well_known_ones() {
        let accounts = dev_accounts();
        assert_eq!(accounts.len(), 10);
        assert_eq!(accounts[0].address, address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
        assert_eq!(
            accounts[0].private_key,
            b256!("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
        );
        assert_eq!(accounts[9].address, address!("0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"));
    }

    #[test]
    fn dev_chain_starts_in_amsterdam_with_funded_accounts_and_system_contracts() {
        let spec = dev();
        assert_eq!(spec.chain_id(), DEV_CHAIN_ID);
        assert_eq!(spec.fork_at(0, 0), Hardfork::Amsterdam);
        assert_eq!(spec.spec_id_at(0, 0), SpecId::AMSTERDAM);
        assert_eq!(
            DEV_ACCOUNT_BALANCE,
            U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18))
        );
        let state = spec.genesis_state();
        for account in dev_accounts() {
            assert_eq!(state.accounts[&account.address].unwrap().balance, DEV_ACCOUNT_BALANCE);
        }
        for system in [
            eip4788::BEACON_ROOTS_ADDRESS,
            eip2935::HISTORY_STORAGE_ADDRESS,
            eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
            eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
        ] {
            let account = state.accounts[&system].unwrap();
            assert!(account.has_code() && account.nonce == 1, "{system}");
        }
        let header = spec.genesis_header();
        assert_eq!(header.block_access_list_hash, Some(crate::EMPTY_BLOCK_ACCESS_LIST_HASH));
        assert_eq!(header.slot_number, Some(0));
        assert_eq!(header.base_fee_per_gas, Some(alloy_eips::eip1559::INITIAL_BASE_FEE));
        assert_eq!(header.gas_limit, DEV_GAS_LIMIT);
    }

    #[test]
    fn chains_by_name() {
        assert_eq!(chain_by_name_or_path("mainnet").unwrap().chain_id(), 1);
        assert_eq!(chain_by_name_or_path("dev").unwrap().chain_id(), DEV_CHAIN_ID);
        assert!(matches!(chain_by_name_or_path("sepolia"), Err(ChainSpecError::Read { .. })));
    }
}
