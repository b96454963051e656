//! Reading blockchain tests (the `ethereum/tests` and execution-spec-tests JSON format): the network, the
//! genesis header and the blocks, each with its header as JSON and its RLP.

use std::collections::{BTreeMap, HashMap};

use balnode_chainspec::{BlobParams, ChainConfig, ChainSpec, Genesis};
use balnode_consensus::{
    ConsensusError, validate_body, validate_header_against_parent, validate_header_standalone,
    validate_ommers,
};
use balnode_primitives::{
    Address, B256, Block, Bloom, Bytes, EMPTY_ROOT_HASH, Header, TxEnvelope, U256,
    consensus::proofs::calculate_transaction_root, primitives::B64, rlp::Decodable,
};
use serde::Deserialize;

/// One blockchain test, without its pre- and post-state (the consensus rules need neither).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestCase {
    pub(crate) network: String,
    #[serde(default)]
    config: Option<TestConfig>,
    pub(crate) genesis_block_header: TestHeader,
    pub(crate) blocks: Vec<TestBlock>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestConfig {
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

/// A block of a test: a valid one has its header as JSON, an invalid one the exception it must be refused with.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestBlock {
    #[serde(default)]
    pub(crate) block_header: Option<TestHeader>,
    #[serde(default)]
    pub(crate) expect_exception: Option<String>,
    pub(crate) rlp: Bytes,
}

/// A header as the tests write it (`uncleHash`, `coinbase`, `bloom`, `transactionsTrie`, …), with its hash.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestHeader {
    parent_hash: B256,
    uncle_hash: B256,
    coinbase: Address,
    state_root: B256,
    transactions_trie: B256,
    receipt_trie: B256,
    bloom: Bloom,
    difficulty: U256,
    number: U256,
    gas_limit: U256,
    gas_used: U256,
    timestamp: U256,
    extra_data: Bytes,
    mix_hash: B256,
    nonce: B64,
    #[serde(default)]
    base_fee_per_gas: Option<U256>,
    #[serde(default)]
    withdrawals_root: Option<B256>,
    #[serde(default)]
    blob_gas_used: Option<U256>,
    #[serde(default)]
    excess_blob_gas: Option<U256>,
    #[serde(default)]
    parent_beacon_block_root: Option<B256>,
    #[serde(default)]
    requests_hash: Option<B256>,
    #[serde(default)]
    block_access_list_hash: Option<B256>,
    #[serde(default)]
    slot_number: Option<U256>,
    pub(crate) hash: B256,
}

impl TestHeader {
    /// The consensus header.
    pub(crate) fn header(&self) -> Header {
        Header {
            parent_hash: self.parent_hash,
            ommers_hash: self.uncle_hash,
            beneficiary: self.coinbase,
            state_root: self.state_root,
            transactions_root: self.transactions_trie,
            receipts_root: self.receipt_trie,
            logs_bloom: self.bloom,
            difficulty: self.difficulty,
            number: self.number.to(),
            gas_limit: self.gas_limit.to(),
            gas_used: self.gas_used.to(),
            timestamp: self.timestamp.to(),
            extra_data: self.extra_data.clone(),
            mix_hash: self.mix_hash,
            nonce: self.nonce,
            base_fee_per_gas: self.base_fee_per_gas.map(|v| v.to()),
            withdrawals_root: self.withdrawals_root,
            blob_gas_used: self.blob_gas_used.map(|v| v.to()),
            excess_blob_gas: self.excess_blob_gas.map(|v| v.to()),
            parent_beacon_block_root: self.parent_beacon_block_root,
            requests_hash: self.requests_hash,
            block_access_list_hash: self.block_access_list_hash,
            slot_number: self.slot_number.map(|v| v.to()),
        }
    }
}

impl TestBlock {
    /// The block decoded from its RLP.
    pub(crate) fn decode(&self) -> Result<Block, String> {
        let mut buf = self.rlp.as_ref();
        let block = Block::decode(&mut buf).map_err(|error| format!("block RLP: {error}"))?;
        if !buf.is_empty() {
            return Err(format!("block RLP: {} trailing bytes", buf.len()));
        }
        Ok(block)
    }
}

impl TestCase {
    /// The chain spec of the test: its network's forks, its chain id and blob schedule.
    pub(crate) fn chain_spec(&self) -> ChainSpec {
        let config = self.config.as_ref();
        let blob_schedule = config
            .map(|config| {
                config
                    .blob_schedule
                    .iter()
                    .map(|(fork, params)| {
                        let params = BlobParams {
                            target_blob_count: params.target.to(),
                            max_blob_count: params.max.to(),
                            max_blobs_per_tx: params.max.to(),
                            update_fraction: params.base_fee_update_fraction.to(),
                            ..BlobParams::cancun()
                        };
                        (fork.clone(), params)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let genesis = Genesis {
            config: ChainConfig {
                chain_id: config.and_then(|config| config.chainid).map_or(1, |id| id.to()),
                blob_schedule,
                ..Default::default()
            },
            ..Default::default()
        };
        ChainSpec::for_test_network(&self.network, genesis)
            .unwrap_or_else(|error| panic!("network {}: {error}", self.network))
    }
}

/// Every test case of a blockchain-test JSON file.
pub(crate) fn cases_of(json: &str) -> Result<BTreeMap<String, TestCase>, serde_json::Error> {
    serde_json::from_str(json)
}

/// What checking the blocks of one test found.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Valid blocks every rule accepted.
    pub(crate) passed: usize,
    /// Valid blocks a rule refused (or that could not be checked), one line each.
    pub(crate) failed: Vec<String>,
    /// Invalid blocks refused with an error whose exception names include the expected one.
    pub(crate) refused_as_expected: usize,
    /// Invalid blocks refused with an error of another name, one line each.
    pub(crate) refused_otherwise: Vec<String>,
    /// Invalid blocks whose transaction the test expects refused, refused here for their transactions root:
    /// the legacy `ethereum/tests` fillers commit the header to the transactions they could apply (none, or all
    /// but the invalid one), so every client finds the root mismatch before executing anything.
    pub(crate) refused_by_filler_transactions_root: usize,
    /// Invalid blocks the consensus rules accept: their fault is the executor's to find (state, gas, requests).
    pub(crate) left_to_execution: usize,
    /// Invalid blocks whose RLP does not decode, or whose parent is not among the test's blocks.
    pub(crate) not_checkable: usize,
}

impl Outcome {
    /// Adds another outcome to this one.
    pub(crate) fn merge(&mut self, other: Self) {
        self.passed += other.passed;
        self.failed.extend(other.failed);
        self.refused_as_expected += other.refused_as_expected;
        self.refused_otherwise.extend(other.refused_otherwise);
        self.refused_by_filler_transactions_root += other.refused_by_filler_transactions_root;
        self.left_to_execution += other.left_to_execution;
        self.not_checkable += other.not_checkable;
    }
}

/// Every consensus rule on one block: the header on its own and against its parent, the body, and the ommers
/// against the blocks seen so far.
fn check_block(
    spec: &ChainSpec,
    block: &Block,
    known: &HashMap<B256, Block>,
) -> Result<Result<(), ConsensusError>, String> {
    let header = &block.header;
    let parent = known
        .get(&header.parent_hash)
        .ok_or_else(|| format!("parent {} is not among the test's blocks", header.parent_hash))?;
    Ok(validate_header_standalone(spec, header)
        .and_then(|()| {
            validate_header_against_parent(spec, header, &parent.header, header.parent_hash)
        })
        .and_then(|()| validate_body(spec, header, &block.body))
        .and_then(|()| validate_ommers(spec, header, &block.body.ommers, known)))
}

/// Checks every block of a test against the consensus rules, in order, each on the block its header names as
/// parent (multi-chain tests import side chains).
pub(crate) fn check_case(source: &str, name: &str, case: &TestCase) -> Outcome {
    let mut outcome = Outcome::default();
    let spec = case.chain_spec();
    let genesis = case.genesis_block_header.header();
    if genesis.hash_slow() != case.genesis_block_header.hash {
        outcome
            .failed
            .push(format!("{source} :: {name}: the genesis header does not hash to its `hash`"));
        return outcome;
    }
    let mut known = HashMap::new();
    known.insert(genesis.hash_slow(), Block { header: genesis, body: Default::default() });
    for (index, test_block) in case.blocks.iter().enumerate() {
        let at = |message: String| format!("{source} :: {name} block {index}: {message}");
        if let Some(expected) = &test_block.expect_exception {
            let Ok(block) = test_block.decode() else {
                outcome.not_checkable += 1;
                continue;
            };
            match check_block(&spec, &block, &known) {
                Err(_) => outcome.not_checkable += 1,
                Ok(Ok(())) => outcome.left_to_execution += 1,
                Ok(Err(error)) if error.matches_exception(expected) => {
                    outcome.refused_as_expected += 1
                }
                Ok(Err(ConsensusError::TransactionsRootMismatch { got, .. }))
                    if expected.starts_with("TransactionException.")
                        && is_root_of_applied_transactions(got, &block.body.transactions) =>
                {
                    outcome.refused_by_filler_transactions_root += 1;
                }
                Ok(Err(error)) => outcome.refused_otherwise.push(at(format!(
                    "expected {expected}, refused with {error} ({})",
                    error.exception_names().join("|")
                ))),
            }
            continue;
        }
        let Some(json_header) = &test_block.block_header else {
            outcome.failed.push(at("a valid block without `blockHeader`".to_owned()));
            continue;
        };
        let block = match test_block.decode() {
            Ok(block) => block,
            Err(error) => {
                outcome.failed.push(at(error));
                continue;
            }
        };
        let hash = block.header.hash_slow();
        if block.header != json_header.header() || hash != json_header.hash {
            outcome.failed.push(at("the RLP header differs from `blockHeader`".to_owned()));
            continue;
        }
        match check_block(&spec, &block, &known) {
            Ok(Ok(())) => outcome.passed += 1,
            Ok(Err(error)) => outcome.failed.push(at(format!("{error} ({error:?})"))),
            Err(message) => outcome.failed.push(at(message)),
        }
        known.insert(hash, block);
    }
    outcome
}

/// Whether `root` is the transactions root of `transactions` with some left out: none of them, or all but one.
fn is_root_of_applied_transactions(root: B256, transactions: &[TxEnvelope]) -> bool {
    root == EMPTY_ROOT_HASH
        || (0..transactions.len()).any(|skipped| {
            let applied: Vec<_> = transactions
                .iter()
                .enumerate()
                .filter(|(index, _)| *index != skipped)
                .map(|(_, tx)| tx.clone())
                .collect();
            calculate_transaction_root(&applied) == root
        })
}
