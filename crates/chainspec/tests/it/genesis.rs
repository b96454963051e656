//! Genesis hashes of the built-in chains, the fixture chains and one blockchain test per network.

use std::path::PathBuf;

use alloy_consensus::Header;
use alloy_rlp::Decodable;
use balnode_chainspec::{ChainSpec, Hardfork, mainnet, read_genesis};

use crate::fixture::GenesisCase;

fn testdata(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(path)
}

/// The parent hash of the first block of an RLP block file.
fn parent_of_first_block(rlp: &[u8]) -> alloy_primitives::B256 {
    let mut buf = rlp;
    let list = alloy_rlp::Header::decode(&mut buf).expect("a block is an RLP list");
    assert!(list.list);
    Header::decode(&mut buf).expect("a block starts with its header").parent_hash
}

#[test]
fn mainnet_genesis_hash() {
    let spec = mainnet();
    assert_eq!(
        spec.genesis_hash().to_string(),
        "0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"
    );
    assert_eq!(spec.genesis().alloc.len(), 8893);
}

#[test]
fn fixture_chains_start_from_their_genesis() {
    for chain in ["rpc-compat", "hive-sync", "geth-ethtest"] {
        let genesis = read_genesis(&testdata(&format!("chains/{chain}/genesis.json"))).unwrap();
        let spec = ChainSpec::from_genesis(genesis).unwrap();
        let block1 = std::fs::read(testdata(&format!("chains/{chain}/block1.rlp"))).unwrap();
        assert_eq!(spec.genesis_hash(), parent_of_first_block(&block1), "chain {chain}");
    }
}

#[test]
fn rpc_compat_schedule_matches_its_forkenv() {
    let genesis = read_genesis(&testdata("chains/rpc-compat/genesis.json")).unwrap();
    let spec = ChainSpec::from_genesis(genesis).unwrap();
    assert_eq!(spec.fork_at(2, 20), Hardfork::Homestead);
    assert_eq!(spec.fork_at(3, 30), Hardfork::Tangerine);
    assert_eq!(spec.fork_at(35, 350), Hardfork::GrayGlacier);
    // The merge block is known from `mergeNetsplitBlock`.
    assert_eq!(spec.fork_at(36, 360), Hardfork::Paris);
    assert_eq!(spec.fork_at(40, 390), Hardfork::Shanghai);
    assert_eq!(spec.fork_at(44, 509), Hardfork::Osaka);
    assert_eq!(spec.fork_at(45, 540), Hardfork::Bpo2);
    assert_eq!(spec.blob_params_at(539).unwrap().max_blob_count, 15);
    assert_eq!(spec.blob_params_at(540).unwrap().max_blob_count, 21);
}

#[test]
fn one_blockchain_test_per_network_reproduces_its_genesis() {
    let json = std::fs::read_to_string(testdata("genesis-by-network.json")).unwrap();
    let cases: std::collections::BTreeMap<String, GenesisCase> =
        serde_json::from_str(&json).unwrap();
    assert_eq!(cases.len(), 20, "one case for each network in the fixture bundles");
    for (network, case) in cases {
        let spec = case.chain_spec();
        assert_eq!(spec.genesis_hash(), case.expected_hash(), "network {network}");
    }
}
