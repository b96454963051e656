//! The blockchain-test JSON format of execution-spec-tests and ethereum/tests.
//!
//! A test file maps test names to [`FixtureTest`]s: a network (fork schedule) name, a genesis (header fields and
//! `pre` state), blocks as RLP (valid ones with their expected header, invalid ones with the exception they must
//! raise), and the expected head hash and post-state. Amsterdam tests also give each valid block's EIP-7928 block
//! access list as JSON; it is not inside the block RLP.
//!
//! The headers use the tests' own field names (`uncleHash`, `coinbase`, `transactionsTrie`, `receiptTrie`,
//! `bloom`), not the JSON-RPC names alloy's `Header` reads, so they go through [`FixtureHeader`]. The block access
//! list JSON (`slot`/`slotChanges`, `blockAccessIndex`, `postValue`/`postBalance`/`postNonce`, `newCode`) is read
//! by alloy's [`BlockAccessList`] serde as is: its field aliases are these names (it writes different ones: `key`,
//! `index`, `value`, `code`).
//!
//! Unknown fields (`_info`, `transactions`, `uncleHeaders`, `withdrawals`, `receipts`, `blocknumber`, ...) are
//! ignored.

use std::{
    collections::BTreeMap,
    fs, io,
    path::{Path, PathBuf},
};

use balnode_chainspec::{
    BlobParams, ChainConfig, ChainSpec, ChainSpecError, Genesis, GenesisAccount,
};
use balnode_primitives::{
    Address, B256, Bytes, Header, U256,
    eips::eip7928::BlockAccessList,
    primitives::{B64, Bloom, U64, U128},
};
use serde::{Deserialize, Deserializer};

use crate::file::{BlockRecord, RecordError, decode_record};

/// What can go wrong loading blockchain-test files.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file is not valid blockchain-test JSON.
    #[error("{}: field `{field}`: {message} (line {line}, column {column})", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The JSON path of the offending field (`test_name.blocks[3].blockHeader.number`).
        field: String,
        /// What serde said.
        message: String,
        /// The line of the error, 1-based.
        line: usize,
        /// The column of the error, 1-based.
        column: usize,
    },
}

/// One blockchain test.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureTest {
    /// The network: a fork name (`Cancun`) or a transition (`PragueToOsakaAtTime15k`).
    pub network: String,
    /// The genesis header, with its expected hash.
    pub genesis_block_header: FixtureHeader,
    /// The RLP of the genesis block (not needed to run a test: the genesis is rebuilt from `pre` and the
    /// header, and its hash compared).
    #[serde(rename = "genesisRLP", default)]
    pub genesis_rlp: Bytes,
    /// The genesis state. Test excerpts that only exercise header and body rules leave it out; a test that
    /// needs it and lacks it fails on its genesis hash.
    #[serde(default)]
    pub pre: BTreeMap<Address, GenesisAccount>,
    /// The blocks to import, in order.
    pub blocks: Vec<FixtureBlock>,
    /// The expected state after the last valid block (absent when the test gives only its hash).
    #[serde(default)]
    pub post_state: Option<BTreeMap<Address, GenesisAccount>>,
    /// The expected state root after the last valid block, for tests without a `postState`.
    #[serde(default)]
    pub post_state_hash: Option<B256>,
    /// The expected head after the import (zero when an excerpt leaves it out: running such a test fails on
    /// its head).
    #[serde(default)]
    pub lastblockhash: B256,
    /// The chain id and blob schedule (ethereum/tests files have none: chain id 1, no blob schedule).
    #[serde(default)]
    pub config: Option<FixtureConfig>,
    /// `NoProof` in every current fixture: proof-of-work seals are not to be checked.
    #[serde(default)]
    pub seal_engine: Option<String>,
}

impl FixtureTest {
    /// The genesis of the test: `pre` as the alloc, the genesis header's fields, and the chain id and blob
    /// schedule from `config`.
    pub fn genesis(&self) -> Genesis {
        let header = &self.genesis_block_header.header;
        let config = self.config.as_ref();
        Genesis {
            config: ChainConfig {
                chain_id: config.map_or(1, |config| config.chainid),
                blob_schedule: config
                    .map(|config| {
                        config
                            .blob_schedule
                            .iter()
                            .map(|(fork, params)| (fork.clone(), params.to_blob_params()))
                            .collect()
                    })
                    .unwrap_or_default(),
                ..Default::default()
            },
            nonce: u64::from_be_bytes(header.nonce.0),
            timestamp: header.timestamp,
            extra_data: header.extra_data.clone(),
            gas_limit: header.gas_limit,
            difficulty: header.difficulty,
            mix_hash: header.mix_hash,
            coinbase: header.beneficiary,
            alloc: self.pre.clone(),
            base_fee_per_gas: header.base_fee_per_gas.map(u128::from),
            excess_blob_gas: header.excess_blob_gas,
            blob_gas_used: header.blob_gas_used,
            slot_number: header.slot_number,
            number: Some(header.number),
            parent_hash: Some(header.parent_hash),
        }
    }

    /// The chain spec of the test: its network's fork schedule over [`genesis`](Self::genesis).
    pub fn chain_spec(&self) -> Result<ChainSpec, ChainSpecError> {
        ChainSpec::for_test_network(&self.network, self.genesis())
    }

    /// The genesis hash the test expects.
    pub const fn genesis_hash(&self) -> B256 {
        self.genesis_block_header.hash
    }
}

/// The `config` of a test.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureConfig {
    /// The chain id.
    #[serde(default = "mainnet_chain_id", deserialize_with = "quantity_u64")]
    pub chainid: u64,
    /// The blob parameters by fork name (`Cancun`, `Prague`, `BPO1`, ...).
    #[serde(default)]
    pub blob_schedule: BTreeMap<String, FixtureBlobParams>,
}

/// The chain id of a test that does not say.
const fn mainnet_chain_id() -> u64 {
    1
}

/// A blob schedule entry as the tests write it: hex quantities, where geth's genesis files use numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureBlobParams {
    /// The target number of blobs per block.
    #[serde(deserialize_with = "quantity_u64")]
    pub target: u64,
    /// The maximum number of blobs per block (and per transaction).
    #[serde(deserialize_with = "quantity_u64")]
    pub max: u64,
    /// The blob base fee update fraction.
    #[serde(deserialize_with = "quantity_u128")]
    pub base_fee_update_fraction: u128,
}

impl FixtureBlobParams {
    /// The parameters as alloy's [`BlobParams`]: `max` also bounds a single transaction, and the rest (the
    /// minimum blob fee, the EIP-7918 reserve price) are Cancun's.
    pub fn to_blob_params(&self) -> BlobParams {
        BlobParams {
            target_blob_count: self.target,
            max_blob_count: self.max,
            max_blobs_per_tx: self.max,
            update_fraction: self.base_fee_update_fraction,
            ..BlobParams::cancun()
        }
    }
}

/// One block of a test.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureBlock {
    /// The block's RLP (a 3- or 4-element block record; the BAL is never in it).
    pub rlp: Bytes,
    /// The expected header of a valid block, with its hash.
    #[serde(default)]
    pub block_header: Option<FixtureHeader>,
    /// For a block that must be rejected: the exception(s) it must raise (`A|B` when either will do).
    #[serde(default)]
    pub expect_exception: Option<String>,
    /// The block's access list, for Amsterdam blocks.
    #[serde(default)]
    pub block_access_list: Option<BlockAccessList>,
    /// For a block that must be rejected: what the filler meant the RLP to hold, kept as JSON (its values need
    /// not fit the types of a valid block).
    #[serde(default, rename = "rlp_decoded")]
    pub rlp_decoded: Option<serde_json::Value>,
}

impl FixtureBlock {
    /// Whether the block must be imported (it has no expected exception).
    pub const fn is_valid(&self) -> bool {
        self.expect_exception.is_none()
    }

    /// Decodes the block's RLP with the block file's record decoder.
    pub fn decode(&self) -> Result<BlockRecord, RecordError> {
        decode_record(&self.rlp)
    }
}

/// A header as the tests write it, converted to alloy's [`Header`], with the hash the test gives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "RawFixtureHeader")]
pub struct FixtureHeader {
    /// The header.
    pub header: Header,
    /// Its hash as the test states it (compare with `header.hash_slow()`).
    pub hash: B256,
}

/// The header fields under the tests' names.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFixtureHeader {
    parent_hash: B256,
    uncle_hash: B256,
    coinbase: Address,
    state_root: B256,
    transactions_trie: B256,
    receipt_trie: B256,
    bloom: Bloom,
    difficulty: U256,
    number: U64,
    gas_limit: U64,
    gas_used: U64,
    timestamp: U64,
    extra_data: Bytes,
    mix_hash: B256,
    nonce: B64,
    #[serde(default)]
    base_fee_per_gas: Option<U64>,
    #[serde(default)]
    withdrawals_root: Option<B256>,
    #[serde(default)]
    blob_gas_used: Option<U64>,
    #[serde(default)]
    excess_blob_gas: Option<U64>,
    #[serde(default)]
    parent_beacon_block_root: Option<B256>,
    #[serde(default)]
    requests_hash: Option<B256>,
    #[serde(default)]
    block_access_list_hash: Option<B256>,
    #[serde(default)]
    slot_number: Option<U64>,
    hash: B256,
}

impl From<RawFixtureHeader> for FixtureHeader {
    fn from(raw: RawFixtureHeader) -> Self {
        let header = Header {
            parent_hash: raw.parent_hash,
            ommers_hash: raw.uncle_hash,
            beneficiary: raw.coinbase,
            state_root: raw.state_root,
            transactions_root: raw.transactions_trie,
            receipts_root: raw.receipt_trie,
            logs_bloom: raw.bloom,
            difficulty: raw.difficulty,
            number: raw.number.to(),
            gas_limit: raw.gas_limit.to(),
            gas_used: raw.gas_used.to(),
            timestamp: raw.timestamp.to(),
            extra_data: raw.extra_data,
            mix_hash: raw.mix_hash,
            nonce: raw.nonce,
            base_fee_per_gas: raw.base_fee_per_gas.map(|fee| fee.to()),
            withdrawals_root: raw.withdrawals_root,
            blob_gas_used: raw.blob_gas_used.map(|gas| gas.to()),
            excess_blob_gas: raw.excess_blob_gas.map(|gas| gas.to()),
            parent_beacon_block_root: raw.parent_beacon_block_root,
            requests_hash: raw.requests_hash,
            block_access_list_hash: raw.block_access_list_hash,
            slot_number: raw.slot_number.map(|slot| slot.to()),
        };
        Self { header, hash: raw.hash }
    }
}

/// A hex quantity (leading zeros allowed, as the tests write them) that fits a `u64`.
fn quantity_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    U64::deserialize(deserializer).map(|value| value.to())
}

/// A hex quantity that fits a `u128`.
fn quantity_u128<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
    U128::deserialize(deserializer).map(|value| value.to())
}

/// Loads every test of the blockchain-test file at `path`, sorted by name.
pub fn load_file(path: impl AsRef<Path>) -> Result<Vec<(String, FixtureTest)>, FixtureError> {
    let path = path.as_ref();
    let json = fs::read_to_string(path)
        .map_err(|source| FixtureError::Read { path: path.to_owned(), source })?;
    let mut deserializer = serde_json::Deserializer::from_str(&json);
    let tests: BTreeMap<String, FixtureTest> = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| {
            let field = error.path().to_string();
            let inner = error.into_inner();
            FixtureError::Json {
                path: path.to_owned(),
                field,
                line: inner.line(),
                column: inner.column(),
                message: inner.to_string(),
            }
        })?;
    Ok(tests.into_iter().collect())
}

/// Every `.json` file under `dir`, recursively, sorted by path.
///
/// Hidden files and directories (a name starting with `.`, such as a release's `.meta/`) are skipped.
pub fn fixture_files(dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, FixtureError> {
    let mut files = Vec::new();
    collect_json_files(dir.as_ref(), &mut files)?;
    files.sort();
    Ok(files)
}

/// Appends the `.json` files under `dir` to `out`.
fn collect_json_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), FixtureError> {
    let read_error = |source| FixtureError::Read { path: dir.to_owned(), source };
    for entry in fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            collect_json_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_uses_the_test_field_names() {
        let json = r#"{
            "parentHash": "0x0000000000000000000000000000000000000000000000000000000000000000",
            "uncleHash": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
            "coinbase": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
            "stateRoot": "0x0101010101010101010101010101010101010101010101010101010101010101",
            "transactionsTrie": "0x0202020202020202020202020202020202020202020202020202020202020202",
            "receiptTrie": "0x0303030303030303030303030303030303030303030303030303030303030303",
            "bloom": "0x00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
            "difficulty": "0x020000",
            "number": "0x01",
            "gasLimit": "0x07270e00",
            "gasUsed": "0x00",
            "timestamp": "0x0c",
            "extraData": "0x42",
            "mixHash": "0x0000000000000000000000000000000000000000000000000000000000000000",
            "nonce": "0x0000000000000042",
            "baseFeePerGas": "0x07",
            "slotNumber": "0x0a",
            "hash": "0x0404040404040404040404040404040404040404040404040404040404040404"
        }"#;
        let header: FixtureHeader = serde_json::from_str(json).unwrap();
        let h = &header.header;
        assert_eq!(
            h.beneficiary,
            "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba".parse::<Address>().unwrap()
        );
        assert_eq!(h.transactions_root, B256::repeat_byte(2));
        assert_eq!(h.receipts_root, B256::repeat_byte(3));
        assert_eq!((h.number, h.gas_limit, h.timestamp), (1, 0x0727_0e00, 12));
        assert_eq!(h.difficulty, U256::from(0x20000));
        assert_eq!(h.nonce, B64::from(0x42u64));
        assert_eq!(
            (h.base_fee_per_gas, h.slot_number, h.withdrawals_root),
            (Some(7), Some(10), None)
        );
        assert_eq!(header.hash, B256::repeat_byte(4));
    }

    #[test]
    fn blob_params_from_hex() {
        let config: FixtureConfig = serde_json::from_str(
            r#"{"network": "Prague", "chainid": "0x01",
                "blobSchedule": {"Prague": {"target": "0x06", "max": "0x09", "baseFeeUpdateFraction": "0x4c6964"}}}"#,
        )
        .unwrap();
        assert_eq!(config.chainid, 1);
        let params = config.blob_schedule["Prague"].to_blob_params();
        assert_eq!(
            (params.target_blob_count, params.max_blob_count, params.max_blobs_per_tx),
            (6, 9, 9)
        );
        assert_eq!(params.update_fraction, 5_007_716);
        assert_eq!(params, BlobParams::prague());
    }
}
