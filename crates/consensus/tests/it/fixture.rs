//! Checking the blocks of a blockchain test against the consensus rules. The tests are read with
//! balnode-import's fixture module, the one the blockchain-test runner uses.

use std::collections::HashMap;

use balnode_chainspec::ChainSpec;
use balnode_consensus::{
    ConsensusError, validate_body, validate_header_against_parent, validate_header_standalone,
    validate_ommers,
};
use balnode_import::fixture::FixtureTest;
use balnode_primitives::{
    B256, Block, EMPTY_ROOT_HASH, TxEnvelope, consensus::proofs::calculate_transaction_root,
};

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
pub(crate) fn check_case(source: &str, name: &str, case: &FixtureTest) -> Outcome {
    let mut outcome = Outcome::default();
    let spec = case
        .chain_spec()
        .unwrap_or_else(|error| panic!("{source} :: {name}: network {}: {error}", case.network));
    let genesis = case.genesis_block_header.header.clone();
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
            let Ok(block) = test_block.decode().map(|record| record.block) else {
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
            Ok(record) => record.block,
            Err(error) => {
                outcome.failed.push(at(error.to_string()));
                continue;
            }
        };
        let hash = block.header.hash_slow();
        if block.header != json_header.header || hash != json_header.hash {
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
