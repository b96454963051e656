//! Header rules: those a header must meet on its own, and those against its parent.

use balnode_chainspec::{BlobParams, ChainSpec, ForkCondition, Hardfork};
use balnode_primitives::{
    B256, EMPTY_OMMER_ROOT_HASH, Header,
    eips::{
        eip1559::{
            BaseFeeParams, DEFAULT_ELASTICITY_MULTIPLIER, INITIAL_BASE_FEE,
            calc_next_block_base_fee,
        },
        eip4844::DATA_GAS_PER_BLOB,
    },
};

use crate::{
    ConsensusError,
    constants::{
        DAO_FORK_EXTRA_DATA, DAO_FORK_EXTRA_DATA_RANGE, GAS_LIMIT_BOUND_DIVISOR,
        MAXIMUM_EXTRA_DATA_SIZE, MAXIMUM_GAS_LIMIT, MINIMUM_GAS_LIMIT,
    },
    difficulty::calc_difficulty,
};

/// Checks the rules a header must meet on its own, whatever its parent.
///
/// In order:
/// - the optional fields are present exactly as [`ChainSpec::header_fields_at`] says for the header's number and
///   timestamp ([`ConsensusError::UnexpectedField`], [`ConsensusError::MissingField`]);
/// - the extra data is at most [`MAXIMUM_EXTRA_DATA_SIZE`] bytes;
/// - the gas limit is at most [`MAXIMUM_GAS_LIMIT`] and at least [`MINIMUM_GAS_LIMIT`], and the gas used at
///   most the gas limit;
/// - after the merge (see [`is_proof_of_stake`]): difficulty 0, nonce 0 and no ommers;
/// - from Cancun: the blob gas used is a whole number of blobs and at most the block maximum of the blob
///   parameters in force ([`ChainSpec::blob_params_at`]);
/// - on a chain that schedules the DAO fork, the ten blocks from the fork block carry [`DAO_FORK_EXTRA_DATA`].
///
/// The proof-of-work seal (mix hash and nonce against ethash) is **not** checked: the test suites seal their
/// blocks with a fake ethash, and balnode only imports pre-merge history that the chain already agreed on. A
/// timestamp too far in the future is not checked either: that needs a clock, and this crate is pure.
pub fn validate_header_standalone(spec: &ChainSpec, header: &Header) -> Result<(), ConsensusError> {
    validate_header_fields(spec, header)?;
    if header.extra_data.len() > MAXIMUM_EXTRA_DATA_SIZE {
        return Err(ConsensusError::ExtraDataTooLong {
            max: MAXIMUM_EXTRA_DATA_SIZE,
            got: header.extra_data.len(),
        });
    }
    if header.gas_limit > MAXIMUM_GAS_LIMIT {
        return Err(ConsensusError::GasLimitTooBig {
            max: MAXIMUM_GAS_LIMIT,
            got: header.gas_limit,
        });
    }
    if header.gas_limit < MINIMUM_GAS_LIMIT {
        return Err(ConsensusError::GasLimitBelowMinimum {
            min: MINIMUM_GAS_LIMIT,
            got: header.gas_limit,
        });
    }
    if header.gas_used > header.gas_limit {
        return Err(ConsensusError::GasUsedExceedsGasLimit {
            gas_limit: header.gas_limit,
            gas_used: header.gas_used,
        });
    }
    if is_proof_of_stake(spec, header) {
        if !header.difficulty.is_zero() {
            return Err(ConsensusError::DifficultyAfterMerge { got: header.difficulty });
        }
        if !header.nonce.is_zero() {
            return Err(ConsensusError::NonceAfterMerge { got: header.nonce });
        }
        if header.ommers_hash != EMPTY_OMMER_ROOT_HASH {
            return Err(ConsensusError::OmmersAfterMerge { ommers_hash: header.ommers_hash });
        }
    }
    if let Some(blob_gas_used) = header.blob_gas_used {
        if !blob_gas_used.is_multiple_of(DATA_GAS_PER_BLOB) {
            return Err(ConsensusError::BlobGasUsedNotMultipleOfBlob {
                per_blob: DATA_GAS_PER_BLOB,
                got: blob_gas_used,
            });
        }
        let max = blob_params(spec, header.timestamp).max_blob_gas_per_block();
        if blob_gas_used > max {
            return Err(ConsensusError::BlobGasUsedAboveLimit { max, got: blob_gas_used });
        }
    }
    if let ForkCondition::Block(dao) = spec.fork(Hardfork::Dao)
        && header.number >= dao
        && header.number - dao < DAO_FORK_EXTRA_DATA_RANGE
        && header.extra_data != DAO_FORK_EXTRA_DATA
    {
        return Err(ConsensusError::InvalidDaoExtraData { got: header.extra_data.clone() });
    }
    Ok(())
}

/// Checks the header's rules against its parent. `parent_hash` is the parent's hash, which the caller usually
/// has at hand; it must equal `parent.hash_slow()`.
///
/// In order:
/// - the parent hash and number follow the parent, and the timestamp is after the parent's;
/// - the gas limit moves by less than `parent_limit / 1024` (and is at least [`MINIMUM_GAS_LIMIT`]); at the London
///   block the parent's limit is first doubled (the elasticity multiplier), so that the gas target stays put;
/// - from London, the base fee is the one EIP-1559 derives ([`expected_base_fee`]);
/// - from Cancun, the excess blob gas is the one EIP-4844 and EIP-7918 derive ([`expected_excess_blob_gas`]);
/// - before the merge, the difficulty is the one the proof-of-work formula derives ([`calc_difficulty`]).
///
/// Call [`validate_header_standalone`] first: this assumes the fields the forks require are present.
pub fn validate_header_against_parent(
    spec: &ChainSpec,
    header: &Header,
    parent: &Header,
    parent_hash: B256,
) -> Result<(), ConsensusError> {
    if header.parent_hash != parent_hash {
        return Err(ConsensusError::ParentHashMismatch {
            expected: parent_hash,
            got: header.parent_hash,
        });
    }
    let expected_number = parent.number.saturating_add(1);
    if header.number != expected_number {
        return Err(ConsensusError::BlockNumberMismatch {
            expected: expected_number,
            got: header.number,
        });
    }
    if header.timestamp <= parent.timestamp {
        return Err(ConsensusError::TimestampNotAfterParent {
            parent: parent.timestamp,
            got: header.timestamp,
        });
    }
    validate_gas_limit(spec, header, parent)?;
    if spec.is_active_at(Hardfork::London, header.number, header.timestamp) {
        let got = header
            .base_fee_per_gas
            .ok_or(ConsensusError::MissingField { field: "baseFeePerGas" })?;
        let expected = expected_base_fee(spec, parent)?;
        if got != expected {
            return Err(ConsensusError::BaseFeeMismatch { expected, got });
        }
    }
    if spec.is_active_at(Hardfork::Cancun, header.number, header.timestamp) {
        let got = header
            .excess_blob_gas
            .ok_or(ConsensusError::MissingField { field: "excessBlobGas" })?;
        let expected = expected_excess_blob_gas(spec, parent, header.timestamp)?;
        if got != expected {
            return Err(ConsensusError::ExcessBlobGasMismatch { expected, got });
        }
    }
    if !is_proof_of_stake(spec, header) {
        let expected = calc_difficulty(spec, parent, header.timestamp, header.number);
        if header.difficulty != expected {
            return Err(ConsensusError::DifficultyMismatch { expected, got: header.difficulty });
        }
    }
    Ok(())
}

/// Whether the header is under proof-of-stake rules.
///
/// That is when the merge is active by the spec's schedule ([`ChainSpec::is_active_at`]). A chain that merges
/// by terminal total difficulty without a known fork block cannot tell from a header's number: there a header
/// with difficulty 0 is taken to be proof-of-stake, as geth's beacon engine does. Checking that its parent
/// reached the terminal total difficulty needs the chain's total difficulty, and is left to the import
/// pipeline.
pub fn is_proof_of_stake(spec: &ChainSpec, header: &Header) -> bool {
    if spec.is_active_at(Hardfork::Paris, header.number, header.timestamp) {
        return true;
    }
    matches!(spec.fork(Hardfork::Paris), ForkCondition::TotalDifficulty { fork_block: None, .. })
        && header.difficulty.is_zero()
}

/// The base fee of a child of `parent` under London's rules (EIP-1559): [`INITIAL_BASE_FEE`] when the parent is
/// before London (the child is the London block), else the parent's base fee moved by at most 1/8 towards the
/// parent's gas use relative to its target (half its limit).
pub fn expected_base_fee(spec: &ChainSpec, parent: &Header) -> Result<u64, ConsensusError> {
    if !spec.is_active_at(Hardfork::London, parent.number, parent.timestamp) {
        return Ok(INITIAL_BASE_FEE);
    }
    let base_fee = parent
        .base_fee_per_gas
        .ok_or(ConsensusError::ParentFieldMissing { field: "baseFeePerGas" })?;
    // With gas used within the limit, the fee rises by at most a quarter plus one; a parent beyond these would
    // overflow alloy's u64 arithmetic.
    if parent.gas_used > parent.gas_limit {
        return Err(ConsensusError::ParentFieldOutOfRange { field: "gasUsed" });
    }
    if base_fee.checked_add(base_fee / 4 + 1).is_none() {
        return Err(ConsensusError::ParentFieldOutOfRange { field: "baseFeePerGas" });
    }
    Ok(calc_next_block_base_fee(
        parent.gas_used,
        parent.gas_limit,
        base_fee,
        BaseFeeParams::ethereum(),
    ))
}

/// The excess blob gas of a Cancun (or later) block with this timestamp on top of `parent`.
///
/// 0 when the parent is before Cancun. Otherwise EIP-4844's `parent_excess + parent_used - target`, floored at
/// 0, with EIP-7918's reserve price from Osaka: when the parent's blob base fee is below
/// `BLOB_BASE_COST * parent_base_fee / DATA_GAS_PER_BLOB`, the excess only grows, by
/// `parent_used * (max - target) / max`. The target, maximum, update fraction and base cost are those of the
/// blob parameters in force at the *child's* timestamp, as the execution specs have it: at a blob-parameter-only
/// fork the new parameters apply from its first block, to its parent's excess and use.
pub fn expected_excess_blob_gas(
    spec: &ChainSpec,
    parent: &Header,
    timestamp: u64,
) -> Result<u64, ConsensusError> {
    if !spec.is_active_at(Hardfork::Cancun, parent.number, parent.timestamp) {
        return Ok(0);
    }
    let excess = parent
        .excess_blob_gas
        .ok_or(ConsensusError::ParentFieldMissing { field: "excessBlobGas" })?;
    let used =
        parent.blob_gas_used.ok_or(ConsensusError::ParentFieldMissing { field: "blobGasUsed" })?;
    let base_fee = parent
        .base_fee_per_gas
        .ok_or(ConsensusError::ParentFieldMissing { field: "baseFeePerGas" })?;
    let params = blob_params(spec, timestamp);
    // alloy sums and scales in u64: refuse the parents that would overflow it.
    if excess.checked_add(used).is_none() {
        return Err(ConsensusError::ParentFieldOutOfRange { field: "excessBlobGas" });
    }
    if used.checked_mul(params.max_blob_count.saturating_sub(params.target_blob_count)).is_none() {
        return Err(ConsensusError::ParentFieldOutOfRange { field: "blobGasUsed" });
    }
    if params.max_blob_count == 0 {
        // No blobs at all: EIP-7918's scaling would divide by zero, and EIP-4844's formula is all there is.
        return Ok((excess + used).saturating_sub(params.target_blob_gas_per_block()));
    }
    // Before Osaka the parameters' base cost is 0, which turns EIP-7918's branch off: this is EIP-4844's formula.
    Ok(params.next_block_excess_blob_gas_osaka(excess, used, base_fee))
}

/// The blob parameters in force at `timestamp` on a chain where Cancun is active then.
///
/// [`ChainSpec`] refuses a schedule with a blob fork that has no parameters, so the fallback to Cancun's is never
/// taken; it keeps a hand-built spec from panicking here.
fn blob_params(spec: &ChainSpec, timestamp: u64) -> BlobParams {
    spec.blob_params_at(timestamp).unwrap_or_else(BlobParams::cancun)
}

/// Checks the optional header fields against those the forks active at the header require.
fn validate_header_fields(spec: &ChainSpec, header: &Header) -> Result<(), ConsensusError> {
    let required = spec.header_fields_at(header.number, header.timestamp);
    let fields = [
        ("baseFeePerGas", required.base_fee, header.base_fee_per_gas.is_some()),
        ("withdrawalsRoot", required.withdrawals_root, header.withdrawals_root.is_some()),
        ("blobGasUsed", required.blob_gas, header.blob_gas_used.is_some()),
        ("excessBlobGas", required.blob_gas, header.excess_blob_gas.is_some()),
        (
            "parentBeaconBlockRoot",
            required.parent_beacon_block_root,
            header.parent_beacon_block_root.is_some(),
        ),
        ("requestsHash", required.requests_hash, header.requests_hash.is_some()),
        (
            "blockAccessListHash",
            required.block_access_list_hash,
            header.block_access_list_hash.is_some(),
        ),
        ("slotNumber", required.slot_number, header.slot_number.is_some()),
    ];
    for (field, required, present) in fields {
        match (required, present) {
            (true, false) => return Err(ConsensusError::MissingField { field }),
            (false, true) => return Err(ConsensusError::UnexpectedField { field }),
            _ => {}
        }
    }
    Ok(())
}

/// Checks the gas limit against the parent's: a move of less than 1/1024 of it, and no lower than the minimum.
fn validate_gas_limit(
    spec: &ChainSpec,
    header: &Header,
    parent: &Header,
) -> Result<(), ConsensusError> {
    let london = |number, timestamp| spec.is_active_at(Hardfork::London, number, timestamp);
    let parent_limit =
        if london(header.number, header.timestamp) && !london(parent.number, parent.timestamp) {
            parent.gas_limit.saturating_mul(DEFAULT_ELASTICITY_MULTIPLIER)
        } else {
            parent.gas_limit
        };
    let max_delta = parent_limit / GAS_LIMIT_BOUND_DIVISOR;
    if header.gas_limit.abs_diff(parent_limit) >= max_delta {
        return Err(ConsensusError::GasLimitOutOfBounds {
            parent: parent_limit,
            got: header.gas_limit,
        });
    }
    if header.gas_limit < MINIMUM_GAS_LIMIT {
        return Err(ConsensusError::GasLimitBelowMinimum {
            min: MINIMUM_GAS_LIMIT,
            got: header.gas_limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use balnode_primitives::{Bytes, U256, primitives::B64};

    use super::*;
    use crate::test_utils::{child, genesis, header, spec};

    /// A chain of `count` valid empty blocks after the genesis of `spec`, a block every 12 seconds from
    /// `start`.
    fn chain(spec: &ChainSpec, count: usize, start: u64) -> Vec<Header> {
        let mut headers = vec![genesis(spec)];
        for i in 0..count {
            let parent = headers.last().unwrap();
            headers.push(child(spec, parent, start + 12 * i as u64));
        }
        headers
    }

    fn check_pair(
        spec: &ChainSpec,
        header: &Header,
        parent: &Header,
    ) -> Result<(), ConsensusError> {
        validate_header_standalone(spec, header)?;
        validate_header_against_parent(spec, header, parent, parent.hash_slow())
    }

    #[test]
    fn valid_chains_across_fork_boundaries() {
        for network in [
            "Frontier",
            "Homestead",
            "HomesteadToDaoAt5",
            "Byzantium",
            "ConstantinopleFix",
            "Istanbul",
            "BerlinToLondonAt5",
            "London",
            "Paris",
            "ShanghaiToCancunAtTime15k",
            "CancunToPragueAtTime15k",
            "PragueToOsakaAtTime15k",
            "OsakaToBPO1AtTime15k",
            "BPO1ToBPO2AtTime15k",
            "Amsterdam",
        ] {
            let spec = spec(network);
            let mut headers = if network == "HomesteadToDaoAt5" || network == "BerlinToLondonAt5" {
                chain(&spec, 8, 100)
            } else {
                chain(&spec, 3, 14_990)
            };
            if network == "HomesteadToDaoAt5" {
                for header in &mut headers[5..] {
                    header.extra_data = DAO_FORK_EXTRA_DATA;
                }
                // Re-link after the edit.
                for i in 1..headers.len() {
                    headers[i].parent_hash = headers[i - 1].hash_slow();
                }
            }
            for pair in headers.windows(2) {
                check_pair(&spec, &pair[1], &pair[0])
                    .unwrap_or_else(|error| panic!("{network} block {}: {error}", pair[1].number));
            }
        }
    }

    #[test]
    fn optional_fields_follow_the_forks() {
        let spec = spec("BerlinToLondonAt5");
        let berlin = Header { number: 4, difficulty: U256::from(1), ..header() };
        assert_eq!(validate_header_standalone(&spec, &berlin), Ok(()));
        let early = Header { base_fee_per_gas: Some(7), ..berlin };
        assert_eq!(
            validate_header_standalone(&spec, &early),
            Err(ConsensusError::UnexpectedField { field: "baseFeePerGas" })
        );
        let london = Header { number: 5, ..early };
        assert_eq!(validate_header_standalone(&spec, &london), Ok(()));
        let missing = Header { base_fee_per_gas: None, ..london };
        assert_eq!(
            validate_header_standalone(&spec, &missing),
            Err(ConsensusError::MissingField { field: "baseFeePerGas" })
        );

        let spec = crate::test_utils::spec("ShanghaiToCancunAtTime15k");
        let shanghai = child(&spec, &genesis(&spec), 14_999);
        assert_eq!(validate_header_standalone(&spec, &shanghai), Ok(()));
        let with_blobs = Header { blob_gas_used: Some(0), ..shanghai.clone() };
        assert_eq!(
            validate_header_standalone(&spec, &with_blobs),
            Err(ConsensusError::UnexpectedField { field: "blobGasUsed" })
        );
        let cancun = Header { timestamp: 15_000, ..shanghai };
        assert_eq!(
            validate_header_standalone(&spec, &cancun),
            Err(ConsensusError::MissingField { field: "blobGasUsed" })
        );

        let spec = crate::test_utils::spec("CancunToPragueAtTime15k");
        let cancun = child(&spec, &genesis(&spec), 14_999);
        assert_eq!(validate_header_standalone(&spec, &cancun), Ok(()));
        let prague = Header { timestamp: 15_000, ..cancun.clone() };
        assert_eq!(
            validate_header_standalone(&spec, &prague),
            Err(ConsensusError::MissingField { field: "requestsHash" })
        );
        let early = Header { requests_hash: Some(B256::ZERO), ..cancun };
        assert_eq!(
            validate_header_standalone(&spec, &early),
            Err(ConsensusError::UnexpectedField { field: "requestsHash" })
        );

        let spec = crate::test_utils::spec("OsakaToAmsterdamAtTime15k");
        let osaka = child(&spec, &genesis(&spec), 14_999);
        assert_eq!(validate_header_standalone(&spec, &osaka), Ok(()));
        let amsterdam = Header { timestamp: 15_000, ..osaka.clone() };
        assert_eq!(
            validate_header_standalone(&spec, &amsterdam),
            Err(ConsensusError::MissingField { field: "blockAccessListHash" })
        );
        let amsterdam = Header { block_access_list_hash: Some(B256::ZERO), ..amsterdam };
        assert_eq!(
            validate_header_standalone(&spec, &amsterdam),
            Err(ConsensusError::MissingField { field: "slotNumber" })
        );
        assert_eq!(
            validate_header_standalone(&spec, &Header { slot_number: Some(1), ..amsterdam }),
            Ok(())
        );
        let early = Header { slot_number: Some(1), ..osaka };
        assert_eq!(
            validate_header_standalone(&spec, &early),
            Err(ConsensusError::UnexpectedField { field: "slotNumber" })
        );
    }

    #[test]
    fn the_merge_block_on_mainnet() {
        let mainnet = balnode_chainspec::mainnet();
        let last_pow = Header {
            number: 15_537_393,
            timestamp: 1_663_224_150,
            difficulty: U256::from(11_055_787_484_078_698u64),
            nonce: B64::with_last_byte(7),
            base_fee_per_gas: Some(7),
            ..header()
        };
        assert!(!is_proof_of_stake(&mainnet, &last_pow));
        assert_eq!(validate_header_standalone(&mainnet, &last_pow), Ok(()));
        let first_pos = Header { number: 15_537_394, timestamp: 1_663_224_162, ..last_pow };
        assert!(is_proof_of_stake(&mainnet, &first_pos));
        assert_eq!(
            validate_header_standalone(&mainnet, &first_pos),
            Err(ConsensusError::DifficultyAfterMerge { got: first_pos.difficulty })
        );
    }

    #[test]
    fn extra_data_and_gas_bounds() {
        let spec = spec("Cancun");
        let base = child(&spec, &genesis(&spec), 12);
        let with = |f: &dyn Fn(&mut Header)| {
            let mut header = base.clone();
            f(&mut header);
            validate_header_standalone(&spec, &header)
        };
        assert_eq!(with(&|h| h.extra_data = Bytes::from(vec![1; 32])), Ok(()));
        assert_eq!(
            with(&|h| h.extra_data = Bytes::from(vec![1; 33])),
            Err(ConsensusError::ExtraDataTooLong { max: 32, got: 33 })
        );
        assert_eq!(with(&|h| h.gas_used = h.gas_limit), Ok(()));
        assert_eq!(
            with(&|h| h.gas_used = h.gas_limit + 1),
            Err(ConsensusError::GasUsedExceedsGasLimit {
                gas_limit: 30_000_000,
                gas_used: 30_000_001
            })
        );
        assert_eq!(with(&|h| h.gas_limit = MINIMUM_GAS_LIMIT), Ok(()));
        assert_eq!(
            with(&|h| h.gas_limit = MINIMUM_GAS_LIMIT - 1),
            Err(ConsensusError::GasLimitBelowMinimum { min: MINIMUM_GAS_LIMIT, got: 4999 })
        );
        assert_eq!(with(&|h| h.gas_limit = MAXIMUM_GAS_LIMIT), Ok(()));
        assert_eq!(
            with(&|h| h.gas_limit = MAXIMUM_GAS_LIMIT + 1),
            Err(ConsensusError::GasLimitTooBig { max: MAXIMUM_GAS_LIMIT, got: 1 << 63 })
        );
    }

    #[test]
    fn proof_of_stake_fields() {
        let paris = spec("Paris");
        let base = child(&paris, &genesis(&paris), 12);
        assert_eq!(validate_header_standalone(&paris, &base), Ok(()));
        let difficulty = Header { difficulty: U256::from(1), ..base.clone() };
        assert_eq!(
            validate_header_standalone(&paris, &difficulty),
            Err(ConsensusError::DifficultyAfterMerge { got: U256::from(1) })
        );
        let nonce = Header { nonce: B64::with_last_byte(1), ..base.clone() };
        assert_eq!(
            validate_header_standalone(&paris, &nonce),
            Err(ConsensusError::NonceAfterMerge { got: B64::with_last_byte(1) })
        );
        let ommers = Header { ommers_hash: B256::repeat_byte(1), ..base };
        assert_eq!(
            validate_header_standalone(&paris, &ommers),
            Err(ConsensusError::OmmersAfterMerge { ommers_hash: B256::repeat_byte(1) })
        );
        // The same fields are fine under proof of work.
        let london = spec("London");
        let pow = child(&london, &genesis(&london), 12);
        let pow =
            Header { nonce: B64::with_last_byte(1), ommers_hash: B256::repeat_byte(1), ..pow };
        assert_eq!(validate_header_standalone(&london, &pow), Ok(()));
    }

    #[test]
    fn merge_by_total_difficulty_without_fork_block() {
        let json = r#"{"config":{"chainId":7,"homesteadBlock":0,"eip150Block":0,"eip155Block":0,"eip158Block":0,
            "byzantiumBlock":0,"constantinopleBlock":0,"petersburgBlock":0,"istanbulBlock":0,"berlinBlock":0,
            "londonBlock":0,"terminalTotalDifficulty":1000},"alloc":{}}"#;
        let spec =
            ChainSpec::from_genesis(balnode_chainspec::parse_genesis(json).unwrap()).unwrap();
        let pow = Header { number: 5, difficulty: U256::from(131_072), ..header() };
        assert!(!is_proof_of_stake(&spec, &pow));
        let pos = Header { difficulty: U256::ZERO, ..pow };
        assert!(is_proof_of_stake(&spec, &pos));
    }

    #[test]
    fn blob_gas_used_bounds_per_fork() {
        let per_blob = DATA_GAS_PER_BLOB;
        for (network, max_blobs) in
            [("Cancun", 6), ("Prague", 9), ("Osaka", 9), ("BPO1ToBPO2AtTime0", 21)]
        {
            let spec = spec(network);
            let base = child(&spec, &genesis(&spec), 12);
            let with = |gas| {
                validate_header_standalone(
                    &spec,
                    &Header { blob_gas_used: Some(gas), ..base.clone() },
                )
            };
            assert_eq!(with(max_blobs * per_blob), Ok(()), "{network}");
            assert_eq!(
                with((max_blobs + 1) * per_blob),
                Err(ConsensusError::BlobGasUsedAboveLimit {
                    max: max_blobs * per_blob,
                    got: (max_blobs + 1) * per_blob
                }),
                "{network}"
            );
            assert_eq!(
                with(per_blob + 1),
                Err(ConsensusError::BlobGasUsedNotMultipleOfBlob { per_blob, got: per_blob + 1 }),
                "{network}"
            );
        }
    }

    #[test]
    fn dao_extra_data_window() {
        let spec = spec("HomesteadToDaoAt5");
        let at = |number: u64, extra: Bytes| {
            let header =
                Header { number, extra_data: extra, difficulty: U256::from(1), ..header() };
            validate_header_standalone(&spec, &header)
        };
        assert_eq!(at(4, Bytes::new()), Ok(()));
        assert_eq!(at(5, DAO_FORK_EXTRA_DATA), Ok(()));
        assert_eq!(
            at(5, Bytes::new()),
            Err(ConsensusError::InvalidDaoExtraData { got: Bytes::new() })
        );
        assert_eq!(
            at(14, Bytes::from_static(b"x")),
            Err(ConsensusError::InvalidDaoExtraData { got: Bytes::from_static(b"x") })
        );
        assert_eq!(at(15, Bytes::new()), Ok(()));
        // A chain without the DAO fork has no such rule.
        let homestead = crate::test_utils::spec("Homestead");
        let header = Header { number: 5, difficulty: U256::from(1), ..header() };
        assert_eq!(validate_header_standalone(&homestead, &header), Ok(()));
    }

    #[test]
    fn parent_link_number_and_timestamp() {
        let spec = spec("Cancun");
        let parent = genesis(&spec);
        let block = child(&spec, &parent, 12);
        let hash = parent.hash_slow();
        assert_eq!(validate_header_against_parent(&spec, &block, &parent, hash), Ok(()));
        assert_eq!(
            validate_header_against_parent(&spec, &block, &parent, B256::ZERO),
            Err(ConsensusError::ParentHashMismatch { expected: B256::ZERO, got: hash })
        );
        let number = Header { number: 2, ..block.clone() };
        assert_eq!(
            validate_header_against_parent(&spec, &number, &parent, hash),
            Err(ConsensusError::BlockNumberMismatch { expected: 1, got: 2 })
        );
        let same_time = Header { timestamp: parent.timestamp, ..block };
        assert_eq!(
            validate_header_against_parent(&spec, &same_time, &parent, hash),
            Err(ConsensusError::TimestampNotAfterParent { parent: 0, got: 0 })
        );
    }

    #[test]
    fn gas_limit_moves_less_than_a_1024th() {
        let spec = spec("Cancun");
        let parent = genesis(&spec);
        let hash = parent.hash_slow();
        let block = child(&spec, &parent, 12);
        let with = |gas_limit| {
            let header = Header { gas_limit, ..block.clone() };
            validate_header_against_parent(&spec, &header, &parent, hash)
        };
        let delta = 30_000_000 / 1024;
        assert_eq!(with(30_000_000 + delta - 1), Ok(()));
        assert_eq!(with(30_000_000 - delta + 1), Ok(()));
        let out = |got| Err(ConsensusError::GasLimitOutOfBounds { parent: 30_000_000, got });
        assert_eq!(with(30_000_000 + delta), out(30_000_000 + delta));
        assert_eq!(with(30_000_000 - delta), out(30_000_000 - delta));

        let small = Header { gas_limit: 5000, ..parent.clone() };
        let hash = small.hash_slow();
        let below = Header { gas_limit: 4999, parent_hash: hash, ..child(&spec, &small, 12) };
        assert_eq!(
            validate_header_against_parent(&spec, &below, &small, hash),
            Err(ConsensusError::GasLimitBelowMinimum { min: 5000, got: 4999 })
        );
    }

    #[test]
    fn london_block_doubles_the_parent_limit_and_sets_the_initial_base_fee() {
        let spec = spec("BerlinToLondonAt5");
        let headers = chain(&spec, 5, 100);
        let berlin = &headers[4];
        let hash = berlin.hash_slow();
        let london = child(&spec, berlin, 200);
        assert_eq!(london.gas_limit, 60_000_000);
        assert_eq!(london.base_fee_per_gas, Some(INITIAL_BASE_FEE));
        assert_eq!(validate_header_against_parent(&spec, &london, berlin, hash), Ok(()));
        let same_limit = Header { gas_limit: 30_000_000, ..london.clone() };
        assert_eq!(
            validate_header_against_parent(&spec, &same_limit, berlin, hash),
            Err(ConsensusError::GasLimitOutOfBounds { parent: 60_000_000, got: 30_000_000 })
        );
        let fee = Header { base_fee_per_gas: Some(INITIAL_BASE_FEE + 1), ..london };
        assert_eq!(
            validate_header_against_parent(&spec, &fee, berlin, hash),
            Err(ConsensusError::BaseFeeMismatch {
                expected: INITIAL_BASE_FEE,
                got: INITIAL_BASE_FEE + 1
            })
        );
    }

    #[test]
    fn base_fee_follows_the_parent_gas_use() {
        let spec = spec("London");
        let parent =
            Header { base_fee_per_gas: Some(800), gas_limit: 30_000_000, ..genesis(&spec) };
        let fee =
            |gas_used| expected_base_fee(&spec, &Header { gas_used, ..parent.clone() }).unwrap();
        assert_eq!(fee(15_000_000), 800);
        assert_eq!(fee(30_000_000), 900);
        assert_eq!(fee(0), 700);
        assert_eq!(fee(15_000_001), 801, "an increase is at least 1");
        let block = Header { gas_used: 30_000_000, ..parent.clone() };
        let hash = block.hash_slow();
        let next = child(&spec, &block, 12);
        assert_eq!(next.base_fee_per_gas, Some(900));
        assert_eq!(validate_header_against_parent(&spec, &next, &block, hash), Ok(()));
        let wrong = Header { base_fee_per_gas: Some(800), ..next };
        assert_eq!(
            validate_header_against_parent(&spec, &wrong, &block, hash),
            Err(ConsensusError::BaseFeeMismatch { expected: 900, got: 800 })
        );
        let overflowing = Header { base_fee_per_gas: Some(u64::MAX - 1), ..parent };
        assert_eq!(
            expected_base_fee(&spec, &overflowing),
            Err(ConsensusError::ParentFieldOutOfRange { field: "baseFeePerGas" })
        );
    }

    #[test]
    fn excess_blob_gas_at_and_after_cancun() {
        let spec = spec("ShanghaiToCancunAtTime15k");
        let shanghai = child(&spec, &genesis(&spec), 14_999);
        assert_eq!(expected_excess_blob_gas(&spec, &shanghai, 15_000), Ok(0));
        let cancun_parent = Header {
            timestamp: 15_000,
            excess_blob_gas: Some(0),
            blob_gas_used: Some(6 * DATA_GAS_PER_BLOB),
            base_fee_per_gas: Some(7),
            ..shanghai
        };
        // 0 + 6 blobs - target of 3 blobs.
        assert_eq!(
            expected_excess_blob_gas(&spec, &cancun_parent, 15_012),
            Ok(3 * DATA_GAS_PER_BLOB)
        );
        let below_target =
            Header { blob_gas_used: Some(2 * DATA_GAS_PER_BLOB), ..cancun_parent.clone() };
        assert_eq!(expected_excess_blob_gas(&spec, &below_target, 15_012), Ok(0));

        let hash = cancun_parent.hash_slow();
        let block = child(&spec, &cancun_parent, 15_012);
        assert_eq!(validate_header_against_parent(&spec, &block, &cancun_parent, hash), Ok(()));
        let wrong = Header { excess_blob_gas: Some(0), ..block };
        assert_eq!(
            validate_header_against_parent(&spec, &wrong, &cancun_parent, hash),
            Err(ConsensusError::ExcessBlobGasMismatch { expected: 3 * DATA_GAS_PER_BLOB, got: 0 })
        );
    }

    #[test]
    fn excess_blob_gas_reserve_price_from_osaka() {
        // Parent: excess 10 blobs, 9 blobs used (target 6, max 9), blob base fee tiny against a base fee of 1 gwei.
        let parent = |network: &str| {
            let spec = spec(network);
            Header {
                number: 1,
                timestamp: 12,
                excess_blob_gas: Some(10 * DATA_GAS_PER_BLOB),
                blob_gas_used: Some(9 * DATA_GAS_PER_BLOB),
                base_fee_per_gas: Some(1_000_000_000),
                ..genesis(&spec)
            }
        };
        // Prague: EIP-4844's formula, 10 + 9 - 6.
        assert_eq!(
            expected_excess_blob_gas(&spec("Prague"), &parent("Prague"), 24),
            Ok(13 * DATA_GAS_PER_BLOB)
        );
        // Osaka: the reserve price binds, the excess grows by used * (max - target) / max = 9 * 3 / 9 = 3 blobs.
        assert_eq!(
            expected_excess_blob_gas(&spec("Osaka"), &parent("Osaka"), 24),
            Ok(13 * DATA_GAS_PER_BLOB)
        );
        let cheap = Header { blob_gas_used: Some(6 * DATA_GAS_PER_BLOB), ..parent("Osaka") };
        // 6 blobs used: 4844 would give 10 + 6 - 6 = 10, EIP-7918 gives 10 + 6 * 3 / 9 = 12.
        assert_eq!(
            expected_excess_blob_gas(&spec("Osaka"), &cheap, 24),
            Ok(12 * DATA_GAS_PER_BLOB)
        );
        assert_eq!(
            expected_excess_blob_gas(&spec("Prague"), &cheap, 24),
            Ok(10 * DATA_GAS_PER_BLOB)
        );
        // With a base fee of 7 wei, the blob fee is above the reserve: back to EIP-4844.
        let fee_floor = Header { base_fee_per_gas: Some(7), ..cheap };
        assert_eq!(
            expected_excess_blob_gas(&spec("Osaka"), &fee_floor, 24),
            Ok(10 * DATA_GAS_PER_BLOB)
        );
    }

    #[test]
    fn blob_parameter_fork_applies_the_childs_parameters() {
        let spec = spec("OsakaToBPO1AtTime15k");
        let parent = Header {
            number: 1,
            timestamp: 14_999,
            excess_blob_gas: Some(20 * DATA_GAS_PER_BLOB),
            blob_gas_used: Some(9 * DATA_GAS_PER_BLOB),
            base_fee_per_gas: Some(7),
            ..genesis(&spec)
        };
        // Still Osaka (target 6): 20 + 9 - 6.
        assert_eq!(expected_excess_blob_gas(&spec, &parent, 14_999), Ok(23 * DATA_GAS_PER_BLOB));
        // The first BPO1 block (target 10): 20 + 9 - 10.
        assert_eq!(expected_excess_blob_gas(&spec, &parent, 15_000), Ok(19 * DATA_GAS_PER_BLOB));
    }

    #[test]
    fn proof_of_work_difficulty_is_checked_before_the_merge_only() {
        let spec = spec("London");
        let parent = genesis(&spec);
        let hash = parent.hash_slow();
        let block = child(&spec, &parent, 12);
        assert_eq!(validate_header_against_parent(&spec, &block, &parent, hash), Ok(()));
        let wrong = Header { difficulty: block.difficulty + U256::from(1), ..block.clone() };
        assert_eq!(
            validate_header_against_parent(&spec, &wrong, &parent, hash),
            Err(ConsensusError::DifficultyMismatch {
                expected: block.difficulty,
                got: wrong.difficulty
            })
        );
        let paris = crate::test_utils::spec("Paris");
        let parent = genesis(&paris);
        let block = child(&paris, &parent, 12);
        assert!(block.difficulty.is_zero());
        assert_eq!(
            validate_header_against_parent(&paris, &block, &parent, parent.hash_slow()),
            Ok(())
        );
    }
}
