//! Helpers of the unit tests: test-network specs and headers that are valid children of each other.

use balnode_chainspec::{ChainSpec, Genesis};
use balnode_primitives::{B256, EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header, U256};

use crate::{MINIMUM_DIFFICULTY, expected_base_fee, expected_excess_blob_gas, is_proof_of_stake};

/// The spec of a test-suite network (`Cancun`, `BerlinToLondonAt5`, `OsakaToBPO1AtTime15k`, …) with the EIPs'
/// blob parameters.
pub(crate) fn spec(network: &str) -> ChainSpec {
    ChainSpec::for_test_network(network, Genesis::default()).unwrap()
}

/// A header with empty roots and nothing else: the base the tests fill in.
pub(crate) fn header() -> Header {
    Header {
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        gas_limit: 30_000_000,
        ..Default::default()
    }
}

/// A genesis header for `spec`: the fields its forks require, a proof-of-work difficulty before the merge.
pub(crate) fn genesis(spec: &ChainSpec) -> Header {
    let fields = spec.header_fields_at(0, 0);
    let mut genesis = Header {
        base_fee_per_gas: fields.base_fee.then_some(1_000_000_000),
        withdrawals_root: fields.withdrawals_root.then_some(EMPTY_ROOT_HASH),
        blob_gas_used: fields.blob_gas.then_some(0),
        excess_blob_gas: fields.blob_gas.then_some(0),
        parent_beacon_block_root: fields.parent_beacon_block_root.then_some(B256::ZERO),
        requests_hash: fields.requests_hash.then_some(B256::ZERO),
        block_access_list_hash: fields.block_access_list_hash.then_some(EMPTY_OMMER_ROOT_HASH),
        slot_number: fields.slot_number.then_some(0),
        ..header()
    };
    if !is_proof_of_stake(spec, &Header { difficulty: U256::from(1), ..genesis.clone() }) {
        genesis.difficulty = MINIMUM_DIFFICULTY;
    }
    genesis
}

/// The valid child of `parent` at `timestamp` under `spec`, with no transactions: every derived field is the one
/// the rules expect.
pub(crate) fn child(spec: &ChainSpec, parent: &Header, timestamp: u64) -> Header {
    let number = parent.number + 1;
    let fields = spec.header_fields_at(number, timestamp);
    let mut child = Header {
        parent_hash: parent.hash_slow(),
        number,
        timestamp,
        gas_limit: parent.gas_limit,
        base_fee_per_gas: fields.base_fee.then(|| expected_base_fee(spec, parent).unwrap()),
        withdrawals_root: fields.withdrawals_root.then_some(EMPTY_ROOT_HASH),
        blob_gas_used: fields.blob_gas.then_some(0),
        excess_blob_gas: fields
            .blob_gas
            .then(|| expected_excess_blob_gas(spec, parent, timestamp).unwrap()),
        parent_beacon_block_root: fields.parent_beacon_block_root.then_some(B256::ZERO),
        requests_hash: fields.requests_hash.then_some(B256::ZERO),
        block_access_list_hash: fields.block_access_list_hash.then_some(EMPTY_OMMER_ROOT_HASH),
        slot_number: fields.slot_number.then_some(number),
        ..header()
    };
    if fields.base_fee && parent.base_fee_per_gas.is_none() {
        // The London block: the gas target stays where the limit was.
        child.gas_limit = parent.gas_limit * 2;
    }
    if !is_proof_of_stake(spec, &Header { difficulty: U256::from(1), ..child.clone() }) {
        child.difficulty = crate::calc_difficulty(spec, parent, timestamp, number);
    }
    child
}
