//! The blockchain-test runner: each test in a fresh store, its blocks through the import path, then the head
//! and the post-state compared with what the test expects.

use std::{collections::BTreeMap, path::Path, sync::Arc};

use balnode_chainspec::GenesisAccount;
use balnode_consensus::ConsensusError;
use balnode_primitives::{Account, Address, B256, Bytes, U256, keccak256, rlp::Encodable};
use balnode_storage_api::{BytecodeReader, ChainInfoReader, HeaderProvider, PlainStateReader};
use balnode_storage_mdbx::DatabaseEnv;

use crate::{
    Execution, ImportError, Importer,
    fixture::{FixtureTest, load_file},
    init_genesis,
};

/// The result of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    /// Every check held.
    Passed,
    /// The first difference found.
    Failed(String),
}

/// Runs one blockchain test in a fresh temporary store.
pub fn run_test(test: &FixtureTest, execution: &Execution) -> TestOutcome {
    match try_run_test(test, execution) {
        Ok(()) => TestOutcome::Passed,
        Err(difference) => TestOutcome::Failed(difference),
    }
}

fn try_run_test(test: &FixtureTest, execution: &Execution) -> Result<(), String> {
    let spec = Arc::new(test.chain_spec().map_err(|error| format!("chain spec: {error}"))?);
    let dir = tempfile::tempdir().map_err(|error| format!("temp dir: {error}"))?;
    let store = DatabaseEnv::open(dir.path()).map_err(|error| {
        let cause = std::error::Error::source(&error).map(|cause| format!(": {cause}"));
        format!("store: {error}{}", cause.unwrap_or_default())
    })?;
    let genesis = init_genesis(&spec, &store).map_err(|error| format!("genesis: {error}"))?;
    if genesis.hash() != test.genesis_hash() {
        return Err(format!(
            "genesis hash: expected {}, got {}",
            test.genesis_hash(),
            genesis.hash()
        ));
    }

    let importer = Importer::new(spec, store.clone()).with_execution(execution.clone());
    for (index, block) in test.blocks.iter().enumerate() {
        let expected = block.expect_exception.as_deref();
        let record = match block.decode() {
            Ok(record) => record,
            Err(_) if expected.is_some() => continue,
            Err(error) => return Err(format!("block {index}: does not decode: {error}")),
        };
        // Amsterdam tests carry the access list as JSON beside the block, never in its RLP.
        let block_access_list = record.block_access_list.clone().or_else(|| {
            block.block_access_list.as_ref().map(|list| {
                let mut out = Vec::new();
                list.encode(&mut out);
                Bytes::from(out)
            })
        });
        match (importer.import(&record.block, block_access_list.as_ref()), expected) {
            (Ok(_), None) => {}
            // A valid block on a side chain: the store keeps only the canonical chain, so it is not followed.
            // Should the test's chain switch to it, the head comparison below fails.
            (Err(ImportError::NotOnHead { .. }), None) => {}
            // A block with a wrong number or parent is rejected for not extending the chain.
            (Err(ImportError::NotOnHead { .. }), Some(_)) => {}
            (Ok(_), Some(exception)) => {
                return Err(format!(
                    "block {index} (number {}): imported, but must be rejected with {exception}",
                    record.block.header.number
                ));
            }
            (Err(error), Some(exception)) if error.is_invalid_block() => {
                if let Some(ours) = different_reason(&error, exception) {
                    return Err(format!(
                        "block {index}: rejected for another reason than the test's {exception}: {ours}"
                    ));
                }
            }
            (Err(error), _) => return Err(format!("block {index}: {error}")),
        }
    }

    let head = store.chain_info().map_err(|error| error.to_string())?;
    if head.head_hash != test.lastblockhash {
        return Err(format!(
            "head: expected lastblockhash {}, got block {} ({})",
            test.lastblockhash, head.head_number, head.head_hash
        ));
    }
    if let Some(expected) = &test.post_state {
        compare_state(&store, expected)?;
    } else if let Some(expected_root) = test.post_state_hash {
        let header = store
            .header_by_number(head.head_number)
            .map_err(|error| error.to_string())?
            .ok_or("the head header is missing")?;
        if header.state_root != expected_root {
            return Err(format!(
                "postStateHash: expected {expected_root}, got {}",
                header.state_root
            ));
        }
    }
    Ok(())
}

/// Where the node can tell, whether `error` is a different reason than the test's `expected` exception(s):
/// `Some(our reason)` when it is.
///
/// Only the consensus rules carry exception names; transaction errors from execution are accepted as they
/// are. A block refused for its transactions root where the test names a transaction error is the same
/// rejection seen earlier: those tests' headers commit to the transactions that could be applied, so a
/// client that checks the root before executing refuses the block there.
fn different_reason(error: &ImportError, expected: &str) -> Option<String> {
    let ImportError::Consensus { source, .. } = error else { return None };
    if source.exception_names().is_empty() || source.matches_exception(expected) {
        return None;
    }
    let transaction_error_expected =
        expected.split('|').all(|name| name.trim().starts_with("TransactionException."));
    if matches!(source, ConsensusError::TransactionsRootMismatch { .. })
        && transaction_error_expected
    {
        return None;
    }
    Some(source.to_string())
}

/// Compares the store's state at the head with a test's `postState`, account by account; the first
/// difference is the error.
pub fn compare_state(
    store: &DatabaseEnv,
    expected: &BTreeMap<Address, GenesisAccount>,
) -> Result<(), String> {
    let latest =
        store.provider().and_then(|p| p.into_latest()).map_err(|error| error.to_string())?;
    let accounts: BTreeMap<Address, Account> =
        latest.plain_accounts().map_err(|error| error.to_string())?.into_iter().collect();
    for (address, want) in expected {
        let Some(got) = accounts.get(address) else {
            return Err(format!("account {address}: expected to exist, missing"));
        };
        let want_nonce = want.nonce.unwrap_or_default();
        if got.nonce != want_nonce {
            return Err(format!(
                "account {address}: nonce: expected {want_nonce}, got {}",
                got.nonce
            ));
        }
        if got.balance != want.balance {
            return Err(format!(
                "account {address}: balance: expected {}, got {}",
                want.balance, got.balance
            ));
        }
        let want_code = want.code.clone().unwrap_or_default();
        let got_code = match got.bytecode_hash {
            Some(hash) => latest
                .bytecode_by_hash(hash)
                .map_err(|error| error.to_string())?
                .unwrap_or_default(),
            None => Bytes::new(),
        };
        if got_code != want_code {
            return Err(format!(
                "account {address}: code: expected {} bytes (hash {}), got {} bytes (hash {})",
                want_code.len(),
                keccak256(&want_code),
                got_code.len(),
                keccak256(&got_code)
            ));
        }
        let want_storage: BTreeMap<B256, U256> = want
            .storage
            .iter()
            .flatten()
            .map(|(slot, value)| (*slot, U256::from_be_bytes(value.0)))
            .filter(|(_, value)| !value.is_zero())
            .collect();
        let got_storage: BTreeMap<B256, U256> = latest
            .plain_storage(*address)
            .map_err(|error| error.to_string())?
            .into_iter()
            .collect();
        if let Some(difference) = first_storage_difference(&want_storage, &got_storage) {
            return Err(format!("account {address}: {difference}"));
        }
    }
    if let Some(extra) = accounts.keys().find(|address| !expected.contains_key(*address)) {
        return Err(format!(
            "account {extra}: exists, but the expected post-state does not have it"
        ));
    }
    Ok(())
}

fn first_storage_difference(
    want: &BTreeMap<B256, U256>,
    got: &BTreeMap<B256, U256>,
) -> Option<String> {
    let slots = want.keys().chain(got.keys()).collect::<std::collections::BTreeSet<_>>();
    slots.into_iter().find_map(|slot| {
        let (w, g) = (
            want.get(slot).copied().unwrap_or_default(),
            got.get(slot).copied().unwrap_or_default(),
        );
        (w != g).then(|| format!("storage slot {slot}: expected {w:#x}, got {g:#x}"))
    })
}

/// The counts of a run over one file or many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed (including listed known failures that now pass: the list must be kept true).
    pub failed: usize,
    /// Tests that failed and are listed as known failures, with a reason.
    pub skipped: usize,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Self) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} passed, {} failed, {} skipped", self.passed, self.failed, self.skipped)
    }
}

/// Tests known to fail, each with the reason, read from a text file: every non-comment line is a pattern that
/// a test's name (or its file's path) contains, `*` standing for any text, and the `#` comment lines just
/// above it say why.
#[derive(Debug, Clone, Default)]
pub struct KnownFailures {
    entries: Vec<(String, String)>,
}

impl KnownFailures {
    /// Parses the list. A pattern without a reason above it is refused: every exception must say why.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        let mut reason = String::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(comment) = line.strip_prefix('#') {
                if !reason.is_empty() {
                    reason.push(' ');
                }
                reason.push_str(comment.trim());
            } else if line.is_empty() {
                reason.clear();
            } else if reason.is_empty() {
                return Err(format!(
                    "line {}: `{line}` has no reason: put a `#` comment above it",
                    number + 1
                ));
            } else {
                entries.push((line.to_owned(), reason.clone()));
            }
        }
        Ok(Self { entries })
    }

    /// The reason `name` (in `file`) is expected to fail, if it is listed.
    pub fn reason(&self, file: &Path, name: &str) -> Option<&str> {
        let file = file.to_string_lossy();
        self.entries
            .iter()
            .find(|(pattern, _)| {
                contains_pattern(name, pattern) || contains_pattern(&file, pattern)
            })
            .map(|(_, reason)| reason.as_str())
    }
}

/// Whether `text` contains `pattern`, where `*` in the pattern stands for any text.
fn contains_pattern(text: &str, pattern: &str) -> bool {
    let mut rest = text;
    for part in pattern.split('*') {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// How one test of a run ended, for reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report<'a> {
    /// It failed: the first difference.
    Failed(&'a str),
    /// It failed as listed: the difference and the listed reason.
    KnownFailure(&'a str, &'a str),
    /// It is listed as a known failure but passed.
    UnexpectedPass(&'a str),
}

/// Runs every test of a file (those whose name contains `filter`, when given), calling `report(name, ..)`
/// for each test that did not simply pass.
pub fn run_file(
    path: &Path,
    filter: Option<&str>,
    known: &KnownFailures,
    execution: &Execution,
    mut report: impl FnMut(&str, Report<'_>),
) -> Result<Tally, String> {
    let tests = load_file(path).map_err(|error| error.to_string())?;
    let mut tally = Tally::default();
    for (name, test) in
        tests.iter().filter(|(name, _)| filter.is_none_or(|text| name.contains(text)))
    {
        let listed = known.reason(path, name);
        match (run_test(test, execution), listed) {
            (TestOutcome::Passed, None) => tally.passed += 1,
            (TestOutcome::Passed, Some(reason)) => {
                tally.failed += 1;
                report(name, Report::UnexpectedPass(reason));
            }
            (TestOutcome::Failed(difference), None) => {
                tally.failed += 1;
                report(name, Report::Failed(&difference));
            }
            (TestOutcome::Failed(difference), Some(reason)) => {
                tally.skipped += 1;
                report(name, Report::KnownFailure(&difference, reason));
            }
        }
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_failures_need_a_reason() {
        let list = KnownFailures::parse(
            "# Needs a reorg.\nSideChain\n\n# EIP-7610.\n# Declined.\neip7610_*[b\n",
        )
        .unwrap();
        assert_eq!(list.reason(Path::new("a.json"), "eip7610_x[a"), None);
        assert_eq!(list.reason(Path::new("a.json"), "eip7610_x[b"), Some("EIP-7610. Declined."));
        assert_eq!(
            list.reason(Path::new("a.json"), "UncleFromSideChain_Cancun"),
            Some("Needs a reorg.")
        );
        assert_eq!(
            list.reason(Path::new("x/eip7610_create/t[b.json"), "t"),
            Some("EIP-7610. Declined.")
        );
        assert_eq!(list.reason(Path::new("a.json"), "other"), None);
        assert!(KnownFailures::parse("# reason\n\npattern\n").unwrap_err().contains("line 3"));
    }
}
