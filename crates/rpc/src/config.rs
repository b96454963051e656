//! `eth_config` (EIP-7910): the fork configuration in force at the head, the next one and the last one
//! scheduled, each with its EIP-2124 fork id, blob schedule, precompiles and system contracts.

use std::collections::BTreeSet;

use alloy_eips::{
    eip2935::HISTORY_STORAGE_ADDRESS, eip4788::BEACON_ROOTS_ADDRESS,
    eip6110::MAINNET_DEPOSIT_CONTRACT_ADDRESS, eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
    eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
};
use balnode_chainspec::{ChainSpec, ForkCondition, Hardfork, SpecId};
use balnode_primitives::{Address, B256, U256};
use serde_json::{Map, Value, json};

/// The hash of mainnet's genesis block.
const MAINNET_GENESIS_HASH: B256 =
    balnode_primitives::b256!("0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3");

/// The EIP-7910 name of a precompile, by address.
fn precompile_name(address: Address) -> Option<&'static str> {
    let bytes = address.as_slice();
    if bytes[..18].iter().any(|byte| *byte != 0) {
        return None;
    }
    Some(match u16::from_be_bytes([bytes[18], bytes[19]]) {
        0x01 => "ECREC",
        0x02 => "SHA256",
        0x03 => "RIPEMD160",
        0x04 => "ID",
        0x05 => "MODEXP",
        0x06 => "BN254_ADD",
        0x07 => "BN254_MUL",
        0x08 => "BN254_PAIRING",
        0x09 => "BLAKE2F",
        0x0a => "KZG_POINT_EVALUATION",
        0x0b => "BLS12_G1ADD",
        0x0c => "BLS12_G1MSM",
        0x0d => "BLS12_G2ADD",
        0x0e => "BLS12_G2MSM",
        0x0f => "BLS12_PAIRING_CHECK",
        0x10 => "BLS12_MAP_FP_TO_G1",
        0x11 => "BLS12_MAP_FP2_TO_G2",
        0x100 => "P256VERIFY",
        _ => return None,
    })
}

/// The block numbers and timestamps of the chain's forks, as EIP-2124 counts them: sorted, deduplicated,
/// without those at genesis.
fn fork_points(spec: &ChainSpec) -> (Vec<u64>, Vec<u64>) {
    let genesis_time = spec.genesis().timestamp;
    let mut blocks = BTreeSet::new();
    let mut times = BTreeSet::new();
    for (_, condition) in spec.forks() {
        match condition {
            ForkCondition::Block(number) if number > 0 => {
                blocks.insert(number);
            }
            ForkCondition::Timestamp(time) if time > genesis_time => {
                times.insert(time);
            }
            _ => {}
        }
    }
    // The merge counts where the chain names its netsplit block (geth's `mergeNetsplitBlock`). The built-in
    // mainnet records its merge block there so that rules follow from block numbers, but geth's mainnet
    // config has none: mainnet's fork ids do not count it.
    let is_mainnet = spec.chain_id() == 1 && spec.genesis_hash() == MAINNET_GENESIS_HASH;
    if let Some(number) = spec.genesis().config.merge_netsplit_block.filter(|number| *number > 0)
        && !is_mainnet
    {
        blocks.insert(number);
    }
    (blocks.into_iter().collect(), times.into_iter().collect())
}

/// The EIP-2124 fork hash with every fork up to timestamp `time` applied.
fn fork_id(spec: &ChainSpec, time: u64) -> String {
    let (blocks, times) = fork_points(spec);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(spec.genesis_hash().as_slice());
    for point in blocks.into_iter().chain(times.into_iter().filter(|point| *point <= time)) {
        hasher.update(&point.to_be_bytes());
    }
    format!("0x{:08x}", hasher.finalize())
}

/// The configuration of the fork activated at `time`.
fn fork_config(spec: &ChainSpec, time: u64) -> Value {
    let spec_id = spec.spec_id_at(u64::MAX, time);
    let blob_schedule = spec.blob_params_at(time).map(|params| {
        json!({
            "target": params.target_blob_count,
            "max": params.max_blob_count,
            "baseFeeUpdateFraction": params.update_fraction,
        })
    });
    let mut precompiles = Map::new();
    let mut addresses = balnode_executor::precompile_addresses(spec_id);
    addresses.sort();
    for address in addresses {
        if let Some(name) = precompile_name(address) {
            precompiles.insert(name.to_owned(), json!(address.to_string().to_lowercase()));
        }
    }
    let mut contracts = Map::new();
    let mut put = |name: &str, address: Address| {
        contracts.insert(name.to_owned(), json!(address.to_string().to_lowercase()));
    };
    if spec_id.is_enabled_in(SpecId::CANCUN) {
        put("BEACON_ROOTS_ADDRESS", BEACON_ROOTS_ADDRESS);
    }
    if spec_id.is_enabled_in(SpecId::PRAGUE) {
        put("CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS", CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS);
        put(
            "DEPOSIT_CONTRACT_ADDRESS",
            spec.deposit_contract().unwrap_or(MAINNET_DEPOSIT_CONTRACT_ADDRESS),
        );
        put("HISTORY_STORAGE_ADDRESS", HISTORY_STORAGE_ADDRESS);
        put("WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS", WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS);
    }
    json!({
        "activationTime": time,
        "blobSchedule": blob_schedule,
        "chainId": U256::from(spec.chain_id()),
        "forkId": fork_id(spec, time),
        "precompiles": precompiles,
        "systemContracts": contracts,
    })
}

/// `eth_config` for a head at `head_time`: `current`, `next` and `last` (`null` where there is none).
pub(crate) fn eth_config(spec: &ChainSpec, head_time: u64) -> Value {
    let mut times: Vec<u64> = spec
        .forks()
        .filter(|(fork, _)| *fork >= Hardfork::Shanghai)
        .filter_map(|(_, condition)| match condition {
            ForkCondition::Timestamp(time) => Some(time),
            _ => None,
        })
        .collect();
    times.sort_unstable();
    times.dedup();
    let current = times.iter().rev().find(|time| **time <= head_time).copied().unwrap_or(0);
    let next = times.iter().find(|time| **time > head_time).copied();
    let last = times.last().copied().filter(|last| Some(*last) != next && *last > head_time);
    json!({
        "current": fork_config(spec, current),
        "next": next.map(|time| fork_config(spec, time)),
        "last": last.map(|time| fork_config(spec, time)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precompiles_are_named_by_address() {
        assert_eq!(precompile_name(Address::with_last_byte(1)), Some("ECREC"));
        assert_eq!(precompile_name(Address::with_last_byte(0x11)), Some("BLS12_MAP_FP2_TO_G2"));
        let p256 = Address::from_word(B256::from(U256::from(0x100)));
        assert_eq!(precompile_name(p256), Some("P256VERIFY"));
        assert_eq!(precompile_name(Address::repeat_byte(1)), None);
    }

    #[test]
    fn mainnet_fork_ids_are_the_published_ones() {
        // EIP-2124 and geth's forkid tests: after Gray Glacier, Shanghai, Cancun and Prague.
        let spec = balnode_chainspec::mainnet();
        assert_eq!(fork_id(&spec, 0), "0xf0afd0e3");
        assert_eq!(fork_id(&spec, 1_681_338_455), "0xdce96c2d");
        assert_eq!(fork_id(&spec, 1_710_338_135), "0x9f3d2254");
        assert_eq!(fork_id(&spec, 1_746_612_311), "0xc376cf8b");
    }
}
