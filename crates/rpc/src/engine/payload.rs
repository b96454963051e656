//! Payloads and blocks: the fork a timestamp falls in (which method versions serve it), a payload into a block
//! with the checks `engine_newPayload` makes before anything executes, a built block back into the payload
//! structures, and the checks of payload attributes and execution requests.

use alloy_consensus::Transaction as _;
use alloy_eips::{Decodable2718, eip7685::Requests};
use alloy_rpc_types_engine::{ExecutionPayloadV3, ExecutionPayloadV4, PayloadAttributes};
use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_primitives::{B256, Block, Bytes, TxEnvelope};
use serde_json::Value;

use super::EngineError;

/// The forks as the Engine API versions them (the blob-parameter-only forks belong to Osaka's time frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EngineFork {
    /// Before Cancun (Paris, Shanghai): served by method versions balnode does not offer.
    PreCancun,
    /// Cancun: `newPayloadV3`, `forkchoiceUpdatedV3`.
    Cancun,
    /// Prague: `newPayloadV4`, `forkchoiceUpdatedV3`, `getPayloadV4`.
    Prague,
    /// Osaka and BPO1–5: `newPayloadV4`, `forkchoiceUpdatedV3`, `getPayloadV5`.
    Osaka,
    /// Amsterdam: `newPayloadV5`, `forkchoiceUpdatedV4`, `getPayloadV6`.
    Amsterdam,
}

/// The fork of a block or payload with this timestamp (all of them are scheduled by time).
pub fn engine_fork(spec: &ChainSpec, timestamp: u64) -> EngineFork {
    let active = |fork| spec.is_active_at(fork, u64::MAX, timestamp);
    if active(Hardfork::Amsterdam) {
        EngineFork::Amsterdam
    } else if active(Hardfork::Osaka) {
        EngineFork::Osaka
    } else if active(Hardfork::Prague) {
        EngineFork::Prague
    } else if active(Hardfork::Cancun) {
        EngineFork::Cancun
    } else {
        EngineFork::PreCancun
    }
}

/// `-38005` unless the fork of `timestamp` is one of `forks`.
pub(crate) fn require_fork(
    spec: &ChainSpec,
    method: &str,
    timestamp: u64,
    forks: &[EngineFork],
) -> Result<EngineFork, EngineError> {
    let fork = engine_fork(spec, timestamp);
    if forks.contains(&fork) {
        Ok(fork)
    } else {
        Err(EngineError::UnsupportedFork(format!(
            "{method} does not serve timestamp {timestamp} ({fork:?}); it serves {forks:?}"
        )))
    }
}

/// A payload (its header fields and transactions) into a block: non-empty transactions that decode, the
/// beacon root and requests hash set from the method's other parameters, and the hash equal to the payload's
/// `blockHash`. `Err` is the `validationError` of an `INVALID` status (with `latestValidHash: null`).
pub fn payload_v3_to_block(
    payload: ExecutionPayloadV3,
    parent_beacon_block_root: B256,
    requests: Option<&Requests>,
) -> Result<Block, String> {
    let expected = payload.payload_inner.payload_inner.block_hash;
    check_transactions(&payload.payload_inner.payload_inner.transactions)?;
    let raw = payload.into_block_raw().map_err(|error| error.to_string())?;
    finish_block(raw, expected, parent_beacon_block_root, requests)
}

/// [`payload_v3_to_block`] for an Amsterdam payload (`blockAccessList` and `slotNumber`): the block (its
/// `block_access_list_hash` the hash of the list) and the list.
pub fn payload_v4_to_block(
    payload: ExecutionPayloadV4,
    parent_beacon_block_root: B256,
    requests: Option<&Requests>,
) -> Result<(Block, Bytes), String> {
    let expected = payload.payload_inner.payload_inner.payload_inner.block_hash;
    check_transactions(&payload.payload_inner.payload_inner.payload_inner.transactions)?;
    let access_list = payload.block_access_list.clone();
    let raw = payload.into_block_raw().map_err(|error| error.to_string())?;
    let block = finish_block(raw, expected, parent_beacon_block_root, requests)?;
    Ok((block, access_list))
}

fn check_transactions(transactions: &[Bytes]) -> Result<(), String> {
    match transactions.iter().position(|tx| tx.is_empty()) {
        Some(index) => Err(format!("transaction {index} is empty")),
        None => Ok(()),
    }
}

fn finish_block(
    mut raw: alloy_consensus::Block<Bytes>,
    expected: B256,
    parent_beacon_block_root: B256,
    requests: Option<&Requests>,
) -> Result<Block, String> {
    raw.header.parent_beacon_block_root = Some(parent_beacon_block_root);
    raw.header.requests_hash = requests.map(Requests::requests_hash);
    let mut index = 0;
    let block = raw.try_map_transactions(|tx| {
        let decoded = TxEnvelope::decode_2718_exact(&tx)
            .map_err(|error| format!("transaction {index} does not decode: {error}"));
        index += 1;
        decoded
    })?;
    let computed = block.header.hash_slow();
    if computed != expected {
        return Err(format!(
            "block hash mismatch: the payload says {expected}, its header hashes to {computed}"
        ));
    }
    Ok(block)
}

/// `Err` (the `validationError`) unless the blob versioned hashes of the block's transactions, in order, are
/// `expected`.
pub(crate) fn check_versioned_hashes(block: &Block, expected: &[B256]) -> Result<(), String> {
    let actual: Vec<B256> = block
        .body
        .transactions
        .iter()
        .filter_map(|tx| tx.blob_versioned_hashes())
        .flatten()
        .copied()
        .collect();
    if actual == expected {
        Ok(())
    } else {
        Err(format!(
            "blob versioned hashes mismatch: the transactions carry {} ({actual:?}), expected {} ({expected:?})",
            actual.len(),
            expected.len()
        ))
    }
}

/// The `executionRequests` of `newPayloadV4`/`V5`: each at least 2 bytes (type and data), types strictly
/// ascending; else `-32602`.
pub(crate) fn check_requests(requests: &[Bytes]) -> Result<Requests, EngineError> {
    let mut last_type: Option<u8> = None;
    for (index, request) in requests.iter().enumerate() {
        if request.len() < 2 {
            return Err(EngineError::InvalidParams(format!(
                "execution request {index} has no data (length {})",
                request.len()
            )));
        }
        let request_type = request[0];
        if last_type.is_some_and(|last| request_type <= last) {
            return Err(EngineError::InvalidParams(format!(
                "execution request {index} (type {request_type}) is out of order or repeats a type"
            )));
        }
        last_type = Some(request_type);
    }
    Ok(Requests::new(requests.to_vec()))
}

/// A built block as an `ExecutionPayloadV3` (Cancun to Osaka).
pub fn block_to_payload_v3(hash: B256, block: &Block) -> ExecutionPayloadV3 {
    ExecutionPayloadV3::from_block_unchecked(hash, block)
}

/// A built block with its access list as an `ExecutionPayloadV4` (Amsterdam).
pub fn block_to_payload_v4(
    hash: B256,
    block: &Block,
    block_access_list: Bytes,
) -> ExecutionPayloadV4 {
    ExecutionPayloadV4::from_block_unchecked_with_bal(hash, block, block_access_list)
}

/// The fields a payload structure of a version must not have (the later versions' fields): their presence
/// makes the parameter not match the structure.
pub(crate) fn unexpected_fields<'a>(value: &Value, fields: &[&'a str]) -> Option<&'a str> {
    let object = value.as_object()?;
    fields.iter().copied().find(|field| object.get(*field).is_some_and(|value| !value.is_null()))
}

/// The payload attributes of `forkchoiceUpdatedV3` (`version` 3) or `V4` (`version` 4), checked against the
/// structure of that version (`-38003`) and the fork of their timestamp (`-38005`).
pub(crate) fn parse_attributes(
    spec: &ChainSpec,
    value: Value,
    version: u8,
) -> Result<PayloadAttributes, EngineError> {
    let method = format!("engine_forkchoiceUpdatedV{version}");
    let v4_fields = ["slotNumber", "targetGasLimit"];
    if version == 3
        && let Some(field) = unexpected_fields(&value, &v4_fields)
    {
        return Err(EngineError::InvalidPayloadAttributes(format!(
            "{field} is not a field of PayloadAttributesV3"
        )));
    }
    let attributes: PayloadAttributes = serde_json::from_value(value).map_err(|error| {
        EngineError::InvalidPayloadAttributes(format!("not a PayloadAttributesV{version}: {error}"))
    })?;
    let mut missing = Vec::new();
    if attributes.withdrawals.is_none() {
        missing.push("withdrawals");
    }
    if attributes.parent_beacon_block_root.is_none() {
        missing.push("parentBeaconBlockRoot");
    }
    if version >= 4 {
        if attributes.slot_number.is_none() {
            missing.push("slotNumber");
        }
        if attributes.target_gas_limit.is_none() {
            missing.push("targetGasLimit");
        }
    }
    if !missing.is_empty() {
        return Err(EngineError::InvalidPayloadAttributes(format!(
            "PayloadAttributesV{version} without {}",
            missing.join(", ")
        )));
    }
    let forks: &[EngineFork] = if version == 3 {
        &[EngineFork::Cancun, EngineFork::Prague, EngineFork::Osaka]
    } else {
        &[EngineFork::Amsterdam]
    };
    require_fork(spec, &method, attributes.timestamp, forks)?;
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_must_be_typed_non_empty_and_ascending() {
        let ok = [Bytes::from(vec![0, 1]), Bytes::from(vec![2, 3, 4])];
        assert_eq!(check_requests(&ok).unwrap().len(), 2);
        assert!(check_requests(&[]).unwrap().is_empty());
        for bad in [
            vec![Bytes::from(vec![0])],
            vec![Bytes::new()],
            vec![Bytes::from(vec![1, 1]), Bytes::from(vec![0, 1])],
            vec![Bytes::from(vec![1, 1]), Bytes::from(vec![1, 2])],
        ] {
            let error = check_requests(&bad).unwrap_err();
            assert_eq!(error.code(), -32602, "{bad:?}");
        }
    }

    #[test]
    fn later_fields_are_found() {
        let value = json!({"timestamp": "0x1", "slotNumber": "0x2", "targetGasLimit": null});
        assert_eq!(
            unexpected_fields(&value, &["targetGasLimit", "slotNumber"]),
            Some("slotNumber")
        );
        assert_eq!(unexpected_fields(&value, &["targetGasLimit"]), None);
    }
}
