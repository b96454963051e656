//! Replaying one bundle: its pre-state into a temporary store, the block executed on it, and the results
//! checked against the header.

use std::{path::Path, sync::Arc};

use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_executor::{
    BlockExecutionOutput, ChangesSoFar, IntermediateRoot, execute_block_optimistic,
    execute_block_parallel_bal, execute_block_with_bal, first_output_difference,
    supports_optimistic, supports_parallel_bal, worker_pool,
};
use balnode_primitives::{B256, Bloom, Bytes, consensus::proofs::calculate_receipt_root};
use balnode_storage_api::{ProviderResult, StateProvider};
use tracing::debug;

use crate::{
    ReplayError,
    bundle::Bundle,
    store::{BundleStateView, MissedReads, PreStateStore},
};

/// Why the state root is never checked on a bundle.
pub const STATE_ROOT_UNCHECKED: &str = "state root: the pre-state holds only what the block touches, so the root of the whole state cannot be computed";

/// Why the receipts root of a block before Byzantium is not checked.
pub const PRE_BYZANTIUM_RECEIPTS_UNCHECKED: &str = "receipts root: before Byzantium each receipt carries the \
     state root after its transaction, which needs the whole state; gas used and logs bloom are checked";

/// How many absent accounts a failure names at most.
const ABSENT_ACCOUNTS_NAMED: usize = 8;

/// The outcome of replaying one block.
#[derive(Debug, Clone)]
pub struct BlockReport {
    /// The block's number.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Its transaction count.
    pub transactions: usize,
    /// The gas its header says it used.
    pub gas_used: u64,
    /// Why the block is not verified: empty when it passed.
    pub failures: Vec<String>,
    /// What could not be checked on this block, and why (the state root always; more for some blocks).
    pub unchecked: Vec<String>,
    /// What execution read that the bundle could not answer.
    pub missed: MissedReads,
    /// The access list execution built, as RLP, when asked for.
    pub block_access_list: Option<Bytes>,
}

impl BlockReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The intermediate state root a replayed pre-Byzantium receipt carries: zero, as the partial pre-state
/// cannot give the real one ([`PRE_BYZANTIUM_RECEIPTS_UNCHECKED`]). The block's changes so far are not built.
pub(crate) fn placeholder_root(_: &ChangesSoFar<'_>) -> ProviderResult<B256> {
    Ok(B256::ZERO)
}

/// Executes `bundle`'s block on `store` (which holds its pre-state), building the access list when `build_bal`
/// is set. Before Byzantium the intermediate state roots the receipts carry are zero placeholders: the partial
/// pre-state cannot give the real ones ([`PRE_BYZANTIUM_RECEIPTS_UNCHECKED`]).
pub fn execute_bundle(
    spec: &Arc<ChainSpec>,
    bundle: &Bundle,
    store: &PreStateStore,
    build_bal: bool,
) -> Result<
    (Result<BlockExecutionOutput, balnode_executor::ExecutionError>, MissedReads),
    ReplayError,
> {
    let view = store.view(bundle)?;
    let intermediate_root: IntermediateRoot<'_> = &placeholder_root;
    let output = execute_block_with_bal(
        spec,
        &bundle.block,
        &bundle.senders,
        &view,
        Some(intermediate_root),
        build_bal,
    );
    Ok((output, view.missed()))
}

/// The differential check of a bundle: executed sequentially (building its access list), then BAL-parallel
/// with that list and optimistically, `threads`-wide, on the same store; returns the differences (empty when
/// every mode agrees, or when the block is before Byzantium, where only sequential execution runs).
pub fn differential_check(
    spec: &Arc<ChainSpec>,
    bundle: &Bundle,
    tmp: Option<&Path>,
    threads: usize,
) -> Result<Vec<String>, ReplayError> {
    if !supports_parallel_bal(spec, &bundle.block) {
        return Ok(Vec::new());
    }
    let store = PreStateStore::create(bundle, tmp)?;
    let (reference, _) = execute_bundle(spec, bundle, &store, true)?;
    let Ok(reference) = reference else {
        return Ok(Vec::new());
    };
    let Some(list) = reference.block_access_list.clone() else { return Ok(Vec::new()) };
    let pool = worker_pool(threads).expect("a thread pool can be built");
    let number = bundle.number();
    let view = store.view(bundle)?;
    // More readers of the same store (one MDBX transaction serialises its readers).
    let open_reader = || -> ProviderResult<Box<dyn StateProvider>> {
        let latest = store.env().provider()?.into_latest()?;
        Ok(Box::new(BundleStateView::new(latest, bundle.block_hashes.clone())))
    };
    let (parallel, optimistic) = pool.install(|| {
        let parallel = execute_block_parallel_bal(
            spec,
            &bundle.block,
            &bundle.senders,
            &view,
            &list,
            Some(&open_reader),
        );
        let optimistic = supports_optimistic(spec, &bundle.block).then(|| {
            execute_block_optimistic(
                spec,
                &bundle.block,
                &bundle.senders,
                &view,
                true,
                Some(&open_reader),
            )
        });
        (parallel, optimistic)
    });
    let mut differences = Vec::new();
    let mut compare = |mode: &str, output: Result<BlockExecutionOutput, _>| match output {
        Ok(output) => {
            if let Some(difference) = first_output_difference(&reference, &output) {
                differences
                    .push(format!("block {number}: {mode} differs from sequential: {difference}"));
            }
        }
        Err(error) => differences.push(format!("block {number}: {mode} failed: {error}")),
    };
    compare("BAL-parallel", parallel);
    if let Some(optimistic) = optimistic {
        compare("optimistic", optimistic.map(|(output, _)| output));
    }
    Ok(differences)
}

/// Replays `bundle` in a fresh temporary store (under `tmp`, or the system's temporary directory) and checks
/// gas used, receipts root and logs bloom against the header, and the built access list against the bundle's
/// when it has one. `build_bal` also returns the built list (for `--emit-bal`).
pub fn replay_bundle(
    spec: &Arc<ChainSpec>,
    bundle: &Bundle,
    build_bal: bool,
    tmp: Option<&Path>,
) -> Result<BlockReport, ReplayError> {
    let store = PreStateStore::create(bundle, tmp)?;
    let build_bal = build_bal || bundle.block_access_list.is_some();
    let (output, missed) = execute_bundle(spec, bundle, &store, build_bal)?;
    let header = &bundle.block.header;
    let mut report = BlockReport {
        number: bundle.number(),
        hash: bundle.hash,
        transactions: bundle.transaction_count(),
        gas_used: header.gas_used,
        failures: Vec::new(),
        unchecked: vec![STATE_ROOT_UNCHECKED.to_owned()],
        missed,
        block_access_list: None,
    };
    let byzantium = spec.is_active_at(Hardfork::Byzantium, header.number, header.timestamp);
    if !byzantium {
        report.unchecked.push(PRE_BYZANTIUM_RECEIPTS_UNCHECKED.to_owned());
    }
    if !bundle.ommer_hashes.is_empty() {
        report.unchecked.push(format!(
            "ommer rewards: the bundle has the hashes of its {} uncle(s), not their headers, so their rewards \
             are not applied (they change state and the access list's last index, not gas, receipts or bloom)",
            bundle.ommer_hashes.len()
        ));
    }
    for number in &report.missed.block_hashes {
        report.failures.push(format!(
            "BLOCKHASH({number}) was executed and the bundle does not have that block's hash (neither the \
             parent's in the header nor {}): it was answered with zero, a guess",
            crate::bundle::BLOCK_HASHES_FILE
        ));
    }
    match output {
        Ok(output) => {
            check_output(&mut report, bundle, &output, byzantium);
            if let Some(built) = &output.block_access_list {
                let rlp = balnode_bal::encode(built);
                if let Some((carried_rlp, carried)) = &bundle.block_access_list
                    && carried_rlp != &rlp
                {
                    let difference = balnode_bal::first_difference(carried, built).map_or_else(
                        || "the encodings differ".to_owned(),
                        |difference| difference.to_string(),
                    );
                    report.failures.push(format!(
                        "block access list: the bundle's differs from the one execution built: {difference}"
                    ));
                }
                report.block_access_list = Some(rlp);
            }
        }
        Err(error) => report.failures.push(format!("execution failed: {error}")),
    }
    if !report.failures.is_empty() && !report.missed.absent_accounts.is_empty() {
        let absent = &report.missed.absent_accounts;
        let named: Vec<String> =
            absent.iter().take(ABSENT_ACCOUNTS_NAMED).map(ToString::to_string).collect();
        let more = absent.len().saturating_sub(ABSENT_ACCOUNTS_NAMED);
        report.failures.push(format!(
            "the block read {} account(s) the pre-state does not have (read as non-existent): {}{}",
            absent.len(),
            named.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ));
    }
    debug!(target: "replay", number = report.number, passed = report.passed(), "Replayed block");
    Ok(report)
}

/// Gas used, receipts root (from Byzantium) and logs bloom against the header.
fn check_output(
    report: &mut BlockReport,
    bundle: &Bundle,
    output: &BlockExecutionOutput,
    byzantium: bool,
) {
    let header = &bundle.block.header;
    if output.gas_used != header.gas_used {
        report.failures.push(format!(
            "gas used: the header says {}, execution used {}",
            header.gas_used, output.gas_used
        ));
    }
    if byzantium {
        let root = calculate_receipt_root(&output.receipts);
        if root != header.receipts_root {
            report.failures.push(format!(
                "receipts root: the header says {}, the receipts give {root}",
                header.receipts_root
            ));
        }
    }
    let bloom = output.receipts.iter().fold(Bloom::ZERO, |mut bloom, receipt| {
        bloom.accrue_bloom(receipt.logs_bloom());
        bloom
    });
    if bloom != header.logs_bloom {
        report
            .failures
            .push("logs bloom: the receipts' logs give another bloom than the header's".to_owned());
    }
}
