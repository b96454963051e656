//! Reading the genesis of a blockchain test (the `ethereum/tests` / execution-spec-tests JSON format).

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256};
use balnode_chainspec::{BlobParams, ChainConfig, ChainSpec, Genesis, GenesisAccount};
use serde::Deserialize;

/// The parts of a blockchain test that define its genesis.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenesisCase {
    pub(crate) network: String,
    #[serde(default)]
    pub(crate) config: Option<TestConfig>,
    pub(crate) genesis_block_header: TestHeader,
    pub(crate) pre: BTreeMap<Address, GenesisAccount>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestConfig {
    #[serde(default)]
    chainid: Option<U256>,
    #[serde(default)]
    blob_schedule: BTreeMap<String, TestBlobParams>,
}

/// A blob schedule entry as the tests write it: hex quantities, where geth's genesis files use numbers.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestBlobParams {
    target: U256,
    max: U256,
    base_fee_update_fraction: U256,
}

impl From<&TestBlobParams> for BlobParams {
    fn from(params: &TestBlobParams) -> Self {
        Self {
            target_blob_count: params.target.to(),
            max_blob_count: params.max.to(),
            max_blobs_per_tx: params.max.to(),
            update_fraction: params.base_fee_update_fraction.to(),
            ..Self::cancun()
        }
    }
}

/// The genesis header as the tests write it, with its expected hash.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestHeader {
    parent_hash: B256,
    coinbase: Address,
    difficulty: U256,
    number: U256,
    gas_limit: U256,
    timestamp: U256,
    extra_data: Bytes,
    mix_hash: B256,
    nonce: alloy_primitives::B64,
    #[serde(default)]
    base_fee_per_gas: Option<U256>,
    #[serde(default)]
    blob_gas_used: Option<U256>,
    #[serde(default)]
    excess_blob_gas: Option<U256>,
    #[serde(default)]
    slot_number: Option<U256>,
    pub(crate) hash: B256,
}

impl GenesisCase {
    /// The chain spec of the test: its network's forks over a genesis made of `pre` and the header fields.
    pub(crate) fn chain_spec(&self) -> ChainSpec {
        let header = &self.genesis_block_header;
        let config = self.config.as_ref();
        let genesis = Genesis {
            config: ChainConfig {
                chain_id: config.and_then(|c| c.chainid).map_or(1, |id| id.to()),
                blob_schedule: config
                    .map(|c| {
                        c.blob_schedule.iter().map(|(fork, p)| (fork.clone(), p.into())).collect()
                    })
                    .unwrap_or_default(),
                ..Default::default()
            },
            nonce: u64::from_be_bytes(header.nonce.0),
            timestamp: header.timestamp.to(),
            extra_data: header.extra_data.clone(),
            gas_limit: header.gas_limit.to(),
            difficulty: header.difficulty,
            mix_hash: header.mix_hash,
            coinbase: header.coinbase,
            alloc: self.pre.clone(),
            base_fee_per_gas: header.base_fee_per_gas.map(|fee| fee.to()),
            excess_blob_gas: header.excess_blob_gas.map(|gas| gas.to()),
            blob_gas_used: header.blob_gas_used.map(|gas| gas.to()),
            slot_number: header.slot_number.map(|slot| slot.to()),
            number: Some(header.number.to()),
            parent_hash: Some(header.parent_hash),
        };
        ChainSpec::for_test_network(&self.network, genesis)
            .unwrap_or_else(|error| panic!("network {}: {error}", self.network))
    }

    /// The hash the test expects of its genesis header.
    pub(crate) fn expected_hash(&self) -> B256 {
        self.genesis_block_header.hash
    }
}
