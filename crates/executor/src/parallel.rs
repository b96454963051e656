//! BAL-parallel execution: every transaction on its own worker, against the parent state plus the block
//! access list's writes of the indices before it, with no waiting between transactions, and nothing
//! committed: the list is checked index by index, and the post-state is read off it.
//!
//! How it goes. On the same threads, woken once per block (`run_two_rounds`), the prefetch reads everything
//! the list names ([`PrefetchedState`]) and works out, account by account, what the list leaves of it
//! (`account_post`), then the workers take the transactions as they free up, largest gas limit first
//! ([`longest_first_order`]); transaction `i` reads the parent state overlaid with the list's writes at
//! indices `< i + 1` (revm's `State::with_bal`; a read the list does not cover is an error), and its own part
//! of the list — the accounts it holds, the slots it loaded, the fields it changed — is compared with the
//! list's entries at `i + 1` on the worker (`ListCheck`). The coordinator then runs the pre-execution system
//! calls (index 0; the transactions read its writes from the list) with revm's list builder, adds up gas and
//! receipts in order, runs withdrawals, rewards and the post-execution system calls (index `n + 1`, reading the
//! transactions' writes through the list) with the builder, checks those two indices the same way, and that
//! every account and read slot of the list was touched.
//!
//! Why the result is exactly the sequential one. By induction over the indices: if the list's writes before
//! index `k` are exactly those sequential execution makes, index `k` reads exactly the state sequential
//! execution gives it, so it executes the same, and its part of the list is what revm's builder records for
//! it; the check makes the list's writes at `k` equal to it. So a list that passes is the list sequential
//! execution builds (every write, every access), and the post-state — each field's and slot's last write
//! against the parent value (`changes_from_list`) — is sequential execution's. Where revm's state
//! bookkeeping does more than set values (a self-destruct, an account deleted as empty), the transactions'
//! changes are committed in order instead, as sequential execution does: the workers keep them when the list
//! removes some code, the sign of a self-destruct ([`may_destroy`]), and free each as soon as it is checked
//! otherwise; a block that needs them without that sign (an existing empty account deleted) is executed again
//! sequentially. A wrong list makes a worker fail or the check name the first difference; the caller runs
//! the block sequentially for its verdict.
//!
//! Not handled here (the caller runs such blocks sequentially): blocks before Byzantium, whose receipts
//! carry a state root after every transaction.

use std::{
    cmp::min,
    convert::Infallible,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use alloy_evm::{
    Evm, FromRecoveredTx,
    block::{BalIndexedDatabase, BlockExecutionError, BlockExecutor, BlockValidationError},
    eth::{
        EthTxResult,
        receipt_builder::{ReceiptBuilder, ReceiptBuilderCtx},
    },
};
use alloy_hardforks::EthereumHardforks;
use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_primitives::{
    Address, Block, ReceiptEnvelope, StateChanges,
    consensus::{Receipt, Transaction, TxEnvelope, TxType, transaction::Recovered},
    eips::eip7928::BlockAccessList,
    primitives::Log,
};
use balnode_storage_api::StateProvider;
use rayon::iter::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
use revm::{
    DatabaseCommit,
    context::{Block as _, Cfg, TxEnv},
    context_interface::result::{HaltReason, ResultAndState, ResultGas},
    database::{State, WrapDatabaseRef, states::bundle_state::BundleRetention},
    state::{
        EvmState,
        bal::{Bal, BlockAccessIndex},
    },
};
use tracing::{debug, trace};

use crate::{
    ExecutionError,
    changes::{
        AccountPost, account_post, changes_from_bundle, changes_from_list, changes_from_posts,
    },
    database::{DatabaseError, StateProviderDatabase},
    execute::{
        BlockExec, BlockExecutionOutput, block_executor, check_worst_case_fits,
        execute_block_with_bal, finish_execution, transact_bal_v5_7, worker_executor,
    },
    list_check::{Checked, ListCheck, ListMismatch},
    prefetch::{CodeClaims, OpenReader, PrefetchCache, PrefetchedState, read_account},
    schedule::{lock, run_two_rounds},
};

/// One transaction's result, executed but not committed.
pub(crate) type TxOutput = EthTxResult<HaltReason, TxType>;

/// The state view of a worker or of the coordinator: the prefetched parent state, through revm's `State`.
type ParentState<'p, P> = State<WrapDatabaseRef<&'p PrefetchedState<P>>>;

/// Whether [`execute_block_parallel_bal`] can run `block`: from Byzantium on (earlier receipts carry a state
/// root after every transaction, which only sequential execution produces).
pub fn supports_parallel_bal(spec: &ChainSpec, block: &Block) -> bool {
    spec.is_active_at(Hardfork::Byzantium, block.header.number, block.header.timestamp)
}

/// Executes `block` on `state` (the parent's post-state) with its transactions in parallel on the current
/// rayon pool (`ThreadPool::install` one to choose the workers),
/// driven by `block_access_list`, the list that came with the block (already structurally validated).
/// `open_reader` gives the prefetch more readers of the same state (see [`OpenReader`]).
///
/// Returns what [`execute_block`](crate::execute_block) returns, with `block_access_list` as the block's list:
/// an output exists only when execution confirmed every entry of it (see the module docs; the import pipeline
/// still compares the two, a cheap guard of that contract). An error may come from a wrong list (a read
/// outside it, a value that made a transaction invalid, a [`ListMismatch`]): run the block sequentially to
/// learn the block's true verdict.
pub fn execute_block_parallel_bal<P: StateProvider>(
    spec: &Arc<ChainSpec>,
    block: &Block,
    senders: &[Address],
    state: P,
    block_access_list: &BlockAccessList,
    open_reader: Option<OpenReader<'_>>,
) -> Result<BlockExecutionOutput, ExecutionError> {
    execute_block_parallel_bal_with(
        spec,
        block,
        senders,
        state,
        block_access_list,
        open_reader,
        None::<PostStateWork<'_, ()>>,
    )
    .map(|(output, _)| output)
}

/// Work on the post-state the block access list gives, run while the block's transactions execute: the
/// state root (see [`execute_block_parallel_bal_with`]).
pub type PostStateWork<'a, R> = &'a (dyn Fn(&StateChanges) -> R + Sync);

/// [`execute_block_parallel_bal`], with `post_state` run on the post-state the list gives while the
/// transactions still execute: the list states every final value, so the state root need not wait for
/// execution to end. It runs on the first worker left without a transaction (filling the time it would
/// wait for the others' last ones), on the list's post-state assuming no existing account is self-destructed.
///
/// Its result comes back only when it was computed on exactly the output's `state`: the block verified and
/// its post-state is the list's as assumed. Otherwise (an error, a self-destruct of an existing account, a
/// post-state that takes an ordered commit) it is dropped, and the caller computes the root on the output.
pub fn execute_block_parallel_bal_with<P: StateProvider, R: Send>(
    spec: &Arc<ChainSpec>,
    block: &Block,
    senders: &[Address],
    state: P,
    block_access_list: &BlockAccessList,
    open_reader: Option<OpenReader<'_>>,
    post_state: Option<PostStateWork<'_, R>>,
) -> Result<(BlockExecutionOutput, Option<R>), ExecutionError> {
    let transactions = &block.body.transactions;
    if senders.len() != transactions.len() {
        return Err(ExecutionError::SenderCount {
            senders: senders.len(),
            transactions: transactions.len(),
        });
    }
    if !supports_parallel_bal(spec, block) {
        return Err(ExecutionError::NoIntermediateRoot);
    }
    let started = std::time::Instant::now();

    // Two rounds on the same threads (woken once per block): everything the list names is read ahead into
    // one cache the workers share, then every transaction runs at once. Each worker keeps one EVM over one
    // `State`: nothing is ever committed to it, so its cache holds only parent values, and the list's writes
    // before the transaction's index are laid over them on every read (revm's `State::with_bal`).
    let prefetched = OnceLock::new();
    // The list as revm's view takes it, the output's copy, the check's counts and the order the transactions
    // are taken in: made by the first round's first items.
    let converted: OnceLock<Result<Arc<Bal>, String>> = OnceLock::new();
    let copied = OnceLock::new();
    let check = OnceLock::new();
    let longest_first = OnceLock::new();
    let read_error: Mutex<Option<DatabaseError>> = Mutex::new(None);
    let code = CodeClaims::default();
    let early = Mutex::new(None);
    // The accounts of the list as read ahead, added to the cache by the items that read them, and their parts
    // of the post-state, put in place by the same items: nothing is left to gather between the rounds
    // (results handed back from the items would be moved several times, hundreds of bytes each).
    let cache = PrefetchCache::with_capacity(block_access_list.len());
    let parts: Vec<Mutex<Option<AccountPost>>> =
        std::iter::repeat_with(|| Mutex::new(None)).take(block_access_list.len()).collect();
    let take_parts = || -> Vec<AccountPost> {
        parts.iter().map(|part| lock(part).take().expect("every account read")).collect()
    };
    let shared_reader = StateProviderDatabase(&state);
    let worker_state = || -> ParentState<'_, &P> {
        let prefetched = prefetched.get().expect("the transactions run after the prefetch");
        let bal = converted.get().and_then(|bal| bal.as_ref().ok()).expect("converted before");
        State::builder().with_database_ref(prefetched).with_bal(bal.clone()).build()
    };
    let keep_changes = may_destroy(block_access_list);
    // Handed out one at a time, largest gas limit first, to whichever worker is free.
    let run = |worker: &mut BlockExec<'_, ParentState<'_, &P>>, index: usize| {
        let check: &ListCheck<'_> = check.get().expect("made before the prefetch ended");
        let (transaction, sender) = (&transactions[index], &senders[index]);
        let list_index = index as u64 + 1;
        BalIndexedDatabase::set_bal_index(worker.evm_mut().db_mut(), list_index);
        // Under `bal@v5.7.0` the coordinator makes that release's inclusion check instead of alloy-evm's
        // (from the worst case the worker works out), and needs the state-gas credits failed frames gave up.
        let (worst_case, output) = if worker.evm.runs_bal_v5_7() {
            let tx_env = TxEnv::from_recovered_tx(transaction, *sender);
            let worst_case = worker.evm.bal_v5_7_worst_case_gas(&tx_env);
            (Some(worst_case), transact_bal_v5_7(worker, tx_env, transaction))
        } else {
            let recovered = Recovered::new_unchecked(transaction, *sender);
            (None, worker.execute_transaction_without_commit(recovered).map(|o| (o, 0)))
        };
        // The transaction's part of the list, checked here, on the worker.
        let output = output.map_err(Failure::Execution).and_then(|(output, discarded)| {
            let checked =
                check.check_transaction(list_index, &output.result.state).map_err(Failure::List)?;
            let mut executed = Executed::new(worker, output, discarded);
            if !keep_changes {
                // Checked, the changes are not needed (the post-state comes from the list): freed here, on
                // the thread that allocated them, while its allocator's caches are warm.
                drop(std::mem::take(&mut executed.state));
            }
            Ok((executed, checked))
        });
        trace!(target: "exec::bal", index, ok = output.is_ok(), "Executed transaction");
        Arrival { index, worst_case, output }
    };
    let list = block_access_list;
    // The first round's items before the accounts: the two copies of the list, the check and the order, the
    // longest items, first.
    const SETUP: usize = 4;
    let arrivals = run_two_rounds(
        &prefetched,
        (
            SETUP + list.len(),
            // A reader that cannot be opened leaves its thread's share to the shared one (the same state).
            || open_reader.and_then(|open| open().ok()).map(StateProviderDatabase),
            |reader, index| match index {
                0 => {
                    let bal = Bal::clone_from_alloy(list).map(Arc::new).map_err(|e| e.to_string());
                    let _ = converted.set(bal);
                    Ok(())
                }
                1 => {
                    let _ = copied.set(list.clone());
                    Ok(())
                }
                2 => {
                    let _ = check.set(ListCheck::new(list, transactions.len()));
                    Ok(())
                }
                3 => {
                    let _ = longest_first.set(longest_first_order(transactions));
                    Ok(())
                }
                index => {
                    let changes = &list[index - SETUP];
                    let (address, account) = match reader {
                        Some(reader) => read_account(reader, changes, &code),
                        None => read_account(&shared_reader, changes, &code),
                    }?;
                    // What the list leaves of the account, worked out here while its values are at hand.
                    let post = account_post(changes, account.info(), |slot| {
                        Ok::<_, Infallible>(account.slot(slot).expect("the list's slots are read"))
                    });
                    let Ok(post) = post;
                    *lock(&parts[index - SETUP]) = Some(post);
                    cache.add(address, account);
                    Ok(())
                }
            },
        ),
        |results| {
            if converted.get().is_some_and(Result::is_err) {
                return None;
            }
            if let Some(error) = results.into_iter().find_map(Result::err) {
                *lock(&read_error) = Some(error);
                return None;
            }
            Some(cache.finish(&state, started.elapsed()))
        },
        (
            transactions.len(),
            |turn| longest_first.get().map_or(turn, |order: &Vec<usize>| order[turn]),
            || worker_executor(spec, block, worker_state()),
            run,
        ),
        // The post-state as the list gives it, and the caller's work on it, while the last transactions run.
        || {
            // With a sign of a self-destruct, left to the end, when the destroyed accounts are known.
            if keep_changes {
                return;
            }
            let changes = changes_from_posts(list, take_parts(), &[]);
            let result = changes.as_ref().zip(post_state).map(|(changes, work)| work(changes));
            *early.lock().unwrap_or_else(PoisonError::into_inner) = Some((changes, result));
        },
    );
    let parent = &state;
    let Some(state) = prefetched.get() else {
        if let Some(Err(error)) = converted.get() {
            return Err(ExecutionError::Bal(format!("code in the list: {error}")));
        }
        let error = read_error.into_inner().unwrap_or_else(PoisonError::into_inner);
        return Err(error.expect("the prefetch stopped on a read error").0.into());
    };
    let bal = converted
        .get()
        .and_then(|bal| bal.as_ref().ok())
        .expect("converted before the prefetch ended");
    let check = check.get().expect("made before the prefetch ended");

    // Index 0: the pre-execution system calls, on the coordinator, recorded by revm's list builder. (The
    // transactions did not wait for it: they read its writes from the list.)
    let mut executor = coordinator_after_index_0(spec, block, state, bal.clone(), true)?;
    let built = executor.evm_mut().db_mut().bal_state.take_built_bal().unwrap_or_default();
    check.check_system(0, &built)?;
    let parallel_phase = started.elapsed();

    // In block order: the block's gas and the receipts' cumulative gas. Nothing is committed.
    let mut committer = Committer::new(&executor, worker_state());
    let mut states = Vec::with_capacity(if keep_changes { transactions.len() } else { 0 });
    let mut unusual = false;
    let mut destroyed = Vec::new();
    for Arrival { index, worst_case, output } in arrivals {
        let transaction = &transactions[index];
        let failed = |error| ExecutionError::from_block(index, transaction)(error);
        committer.check_block_gas(transaction, worst_case).map_err(failed)?;
        let (executed, checked) = match output {
            Ok(executed) => executed,
            Err(Failure::Execution(error)) => return Err(failed(error)),
            Err(Failure::List(mismatch)) => return Err(mismatch.into()),
        };
        unusual |= checked.unusual;
        destroyed.extend(checked.destroyed.into_iter().map(|address| (index as u64 + 1, address)));
        let changes = committer.account(executed);
        if keep_changes {
            states.push(changes);
        }
    }
    committer.copy_counts_into(&mut executor);

    // Index n + 1: withdrawals, rewards and the post-execution system calls, on the coordinator, which reads
    // the transactions' writes through the list.
    executor.evm_mut().db_mut().bal_state.bal_builder = Some(Bal::new());
    let (mut db, block_result) = finish_execution(spec, block, executor)?;
    let built = db.bal_state.take_built_bal().unwrap_or_default();
    check.check_system(transactions.len() as u64 + 1, &built)?;
    check.check_complete()?;

    // The list is the block's: the post-state is its final values, unless something needs revm's own
    // bookkeeping (a self-destruct, an account deleted as empty), which committing the transactions gives.
    db.merge_transitions(BundleRetention::PlainState);
    let system = changes_from_bundle(db.take_bundle());
    unusual |= system.accounts.values().any(Option::is_none)
        || system.storage.values().any(|storage| storage.wiped);
    if !destroyed.is_empty() {
        debug!(target: "exec::bal", number = block.header.number, destroyed = destroyed.len(), unusual, "Self-destructed accounts");
    }
    // Made while the last transactions ran, assuming no existing account was destroyed.
    let (early_changes, early_result) = early
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .map_or((None, None), |(c, r)| (Some(c), r));
    // The parts of the post-state are still in place unless the early post-state took them.
    let parts_in_place = early_changes.is_none();
    let (from_list, result) = if unusual {
        (None, None)
    } else if destroyed.is_empty()
        && let Some(changes) = early_changes
    {
        (changes, early_result)
    } else if parts_in_place {
        (changes_from_posts(block_access_list, take_parts(), &destroyed), None)
    } else {
        (changes_from_list(block_access_list, state, &destroyed).map_err(|error| error.0)?, None)
    };
    let (changes, result) = match from_list {
        Some(changes) => (changes, result),
        None => {
            let changes = if keep_changes {
                debug!(target: "exec::bal", number = block.header.number, "Post-state by committing every transaction");
                post_state_by_commit(spec, block, state, bal, std::mem::take(&mut states))?
            } else {
                debug!(target: "exec::bal", number = block.header.number, "Post-state by executing the block again");
                post_state_by_executing(spec, block, senders, parent)?
            };
            (changes, None)
        }
    };
    // A hash map or more per transaction: freeing them is worth a few transactions' time, on every thread.
    states.into_par_iter().with_min_len(64).for_each(drop);
    let committed = started.elapsed();
    let prefetch = state.stats();
    debug!(target: "exec::bal", number = block.header.number, transactions = transactions.len(), threads = rayon::current_num_threads(), ?prefetch, ?parallel_phase, finish_phase = ?(committed - parallel_phase), "Executed block in parallel");
    let output = BlockExecutionOutput {
        receipts: block_result.receipts,
        gas_used: block_result.gas_used,
        blob_gas_used: block_result.blob_gas_used,
        requests: block_result.requests,
        state: changes,
        block_access_list: Some(copied.into_inner().unwrap_or_else(|| block_access_list.clone())),
        prefetch: Some(prefetch),
    };
    Ok((output, result))
}

/// The order the workers take a block's transactions in: by gas limit, largest first (in block order
/// among equals).
///
/// A transaction reads the state the list gives it, not what the ones before it leave, so any order gives
/// the same results; what the order decides is how the threads end. Taken in block order, a long
/// transaction near the end of a block runs alone while the other threads idle. Longest first (LPT
/// scheduling) leaves the short ones to even out the end. The gas limit is what is known before
/// executing, and it orders well enough: the measured times of the mainnet corpus's transactions, replayed
/// on two threads, give 1.84× one thread in block order, 1.97× in gas-limit order and 1.97× in the order of
/// the true times (block 19932703, where one transaction is 48% of the block: 1.35× in block order, 1.94×
/// in gas-limit order).
fn longest_first_order(transactions: &[TxEnvelope]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..transactions.len()).collect();
    order.sort_by_key(|&index| std::cmp::Reverse(transactions[index].gas_limit()));
    order
}

/// Whether `list` removes some account's code: a self-destruct of a contract that existed before the
/// transaction (before Cancun), or a delegation cleared. Only then can the post-state need the transactions'
/// changes committed in order ([`post_state_by_commit`]), so only then are they kept; otherwise each worker
/// frees them as soon as they are checked, which saves about 2% of the BAL mode's time on the mainnet
/// corpus at two threads (the freeing pass after the block, and the memory of a block's worth of changes).
fn may_destroy(list: &BlockAccessList) -> bool {
    list.iter().any(|account| account.code_changes.iter().any(|change| change.new_code.is_empty()))
}

/// The post-state the slow way, for the blocks [`changes_from_list`] does not cover, when the
/// transactions' changes were kept ([`may_destroy`]): the system calls run again on a fresh state, the
/// changes committed in order, revm's bundle read off.
fn post_state_by_commit<P: StateProvider>(
    spec: &Arc<ChainSpec>,
    block: &Block,
    state: &PrefetchedState<P>,
    bal: &Arc<Bal>,
    states: Vec<EvmState>,
) -> Result<StateChanges, ExecutionError> {
    let mut executor = coordinator_after_index_0(spec, block, state, bal.clone(), false)?;
    for (index, changes) in states.into_iter().enumerate() {
        let db = executor.evm_mut().db_mut();
        db.set_bal_index(BlockAccessIndex::new(index as u64 + 1));
        db.commit(changes);
    }
    let (mut db, _) = finish_execution(spec, block, executor)?;
    db.merge_transitions(BundleRetention::PlainState);
    Ok(changes_from_bundle(db.take_bundle()))
}

/// The post-state the slowest way, for a block [`changes_from_list`] does not cover whose list gave no sign
/// of it ([`may_destroy`]; an existing empty account touched and deleted under EIP-161, say): the block
/// executed again, sequentially, on the parent state. The list passed its check, so this execution is the
/// one the workers made.
fn post_state_by_executing<P: StateProvider>(
    spec: &Arc<ChainSpec>,
    block: &Block,
    senders: &[Address],
    parent: &P,
) -> Result<StateChanges, ExecutionError> {
    Ok(execute_block_with_bal(spec, block, senders, parent, None, false)?.state)
}

/// The coordinator's executor over the prefetched state (reading through the list, tracking the bundle, with
/// revm's list builder when `build_list`), after the pre-execution system calls at index 0.
fn coordinator_after_index_0<'a, 'p, P: StateProvider>(
    spec: &Arc<ChainSpec>,
    block: &'a Block,
    state: &'p PrefetchedState<P>,
    bal: Arc<Bal>,
    build_list: bool,
) -> Result<BlockExec<'a, ParentState<'p, P>>, ExecutionError> {
    let coordinator = State::builder()
        .with_database_ref(state)
        .with_bundle_update()
        .with_bal(bal)
        .with_bal_builder_if(build_list)
        .build();
    let mut executor = block_executor(spec, block, coordinator);
    BalIndexedDatabase::set_bal_index(executor.evm_mut().db_mut(), 0);
    executor
        .apply_pre_execution_changes()
        .map_err(|error| ExecutionError::PreExecution(Box::new(error)))?;
    Ok(executor)
}

/// Why a worker's transaction did not make it.
enum Failure {
    /// Execution failed (the transaction is invalid on the state the list gave it).
    Execution(BlockExecutionError),
    /// It executed, and its accesses are not the list's at its index.
    List(ListMismatch),
}

/// What a worker hands the coordinator for transaction `index`.
struct Arrival {
    index: usize,
    /// The most regular and state gas the transaction can use, for `bal@v5.7.0`'s inclusion check.
    worst_case: Option<(u64, u64)>,
    /// The transaction executed and checked against the list, with what the post-state needs to know
    /// ([`ListCheck::check_transaction`]).
    output: Result<(Executed, Checked), Failure>,
}

/// A transaction executed by a worker: its receipt (with its own gas as the cumulative gas, until the
/// coordinator knows the block's), its gas and its state changes, not yet committed.
pub(crate) struct Executed {
    pub(crate) receipt: ReceiptEnvelope,
    pub(crate) gas: ResultGas,
    pub(crate) blob_gas_used: u64,
    pub(crate) state: EvmState,
    /// The state-gas credits its failed frames gave up (`bal@v5.7.0` only).
    pub(crate) discarded: u64,
}

impl Executed {
    pub(crate) fn new<DB: alloy_evm::Database>(
        worker: &BlockExec<'_, DB>,
        output: TxOutput,
        discarded: u64,
    ) -> Self {
        let EthTxResult { result: ResultAndState { result, state }, blob_gas_used, tx_type } =
            output;
        let gas = *result.gas();
        let receipt = worker.receipt_builder.build_receipt(ReceiptBuilderCtx {
            tx_type,
            evm: &worker.evm,
            result,
            state: &state,
            cumulative_gas_used: gas.tx_gas_used(),
        });
        Self { receipt, gas, blob_gas_used, state, discarded }
    }
}

/// The coordinator's side of a block: what alloy-evm's block executor counts as it commits (gas, receipts),
/// and the `State` results are committed into (the optimistic mode's; the BAL mode commits nothing and
/// leaves a placeholder).
pub(crate) struct Committer<DB> {
    pub(crate) state: State<DB>,
    pub(crate) receipts: Vec<ReceiptEnvelope>,
    pub(crate) cumulative_tx_gas_used: u64,
    pub(crate) block_regular_gas_used: u64,
    pub(crate) block_state_gas_used: u64,
    pub(crate) blob_gas_used: u64,
    gas_limit: u64,
    tx_gas_limit_cap: u64,
    eip8037: bool,
    skip_state_gas_capacity_check: bool,
    cancun: bool,
    bal_v5_7: bool,
}

impl<DB: revm::Database> Committer<DB> {
    /// Takes the block's limits and rules from `executor`; `state` is a placeholder until the executor's
    /// own is swapped in.
    pub(crate) fn new<E: alloy_evm::Database>(
        executor: &BlockExec<'_, E>,
        state: State<DB>,
    ) -> Self {
        let evm = &executor.evm;
        let cfg = evm.cfg_env();
        Self {
            state,
            receipts: Vec::new(),
            cumulative_tx_gas_used: executor.cumulative_tx_gas_used,
            block_regular_gas_used: executor.block_regular_gas_used,
            block_state_gas_used: executor.block_state_gas_used,
            blob_gas_used: executor.blob_gas_used,
            gas_limit: evm.block().gas_limit(),
            tx_gas_limit_cap: cfg.tx_gas_limit_cap(),
            eip8037: cfg.enable_amsterdam_eip8037,
            skip_state_gas_capacity_check: executor.skip_state_gas_capacity_check,
            bal_v5_7: evm.runs_bal_v5_7(),
            cancun: executor
                .spec
                .is_cancun_active_at_timestamp(evm.block().timestamp().saturating_to()),
        }
    }

    /// Gives the executor its state back, with the receipts and the gas counted: it finishes the block.
    pub(crate) fn hand_back(mut self, executor: &mut BlockExec<'_, State<DB>>)
    where
        State<DB>: alloy_evm::Database,
    {
        std::mem::swap(executor.evm_mut().db_mut(), &mut self.state);
        self.copy_counts_into(executor);
    }

    /// Gives the executor the receipts and the gas counted (it keeps its own state).
    pub(crate) fn copy_counts_into<E>(self, executor: &mut BlockExec<'_, E>)
    where
        E: alloy_evm::Database,
    {
        executor.receipts = self.receipts;
        executor.cumulative_tx_gas_used = self.cumulative_tx_gas_used;
        executor.block_regular_gas_used = self.block_regular_gas_used;
        executor.block_state_gas_used = self.block_state_gas_used;
        executor.blob_gas_used = self.blob_gas_used;
    }

    /// What alloy-evm's block executor does when it commits a transaction: count its gas, set its receipt's
    /// cumulative gas, commit its changes at its index of the access list.
    pub(crate) fn commit(&mut self, index: usize, executed: Executed) {
        let state = self.account(executed);
        self.state.set_bal_index(BlockAccessIndex::new(index as u64 + 1));
        self.state.commit(state);
    }

    /// [`Committer::commit`] without the commit: counts the transaction's gas and keeps its receipt, and
    /// returns its state changes.
    pub(crate) fn account(&mut self, executed: Executed) -> EvmState {
        let Executed { mut receipt, gas, blob_gas_used, state, discarded } = executed;
        let mut regular = gas.block_regular_gas_used();
        if self.bal_v5_7 {
            // `bal@v5.7.0` counts `max(spent - state gas - discarded, floor)`: the credits failed frames gave
            // up stay out of the block's regular gas.
            regular = regular.min(
                gas.total_gas_spent()
                    .saturating_sub(gas.block_state_gas_used())
                    .saturating_sub(discarded)
                    .max(gas.floor_gas()),
            );
        }
        self.block_regular_gas_used += regular;
        self.block_state_gas_used += gas.block_state_gas_used();
        self.cumulative_tx_gas_used += gas.tx_gas_used();
        if self.cancun {
            self.blob_gas_used = self.blob_gas_used.saturating_add(blob_gas_used);
        }
        receipt_mut(&mut receipt).cumulative_gas_used = self.cumulative_tx_gas_used;
        self.receipts.push(receipt);
        state
    }

    /// The check alloy-evm's block executor makes before a transaction, against the gas the block has used
    /// so far: workers cannot make it, as they do not know what the transactions before theirs used.
    pub(crate) fn check_block_gas(
        &self,
        transaction: &TxEnvelope,
        worst_case: Option<(u64, u64)>,
    ) -> Result<(), BlockExecutionError> {
        if let Some(worst_case) = worst_case {
            return check_worst_case_fits(
                worst_case,
                self.gas_limit,
                (self.block_regular_gas_used, self.block_state_gas_used),
                transaction.gas_limit(),
            );
        }
        let used =
            if self.eip8037 { self.block_regular_gas_used } else { self.cumulative_tx_gas_used };
        let available = self.gas_limit - used;
        if min(transaction.gas_limit(), self.tx_gas_limit_cap) > available {
            return Err(BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas {
                transaction_gas_limit: transaction.gas_limit(),
                block_available_gas: available,
            }
            .into());
        }
        if self.eip8037 && !self.skip_state_gas_capacity_check {
            let state_available = self.gas_limit - self.block_state_gas_used;
            if transaction.gas_limit() > state_available {
                return Err(BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas {
                    transaction_gas_limit: transaction.gas_limit(),
                    block_available_gas: state_available,
                }
                .into());
            }
        }
        Ok(())
    }
}

/// The receipt inside an envelope.
fn receipt_mut(receipt: &mut ReceiptEnvelope) -> &mut Receipt<Log> {
    match receipt {
        ReceiptEnvelope::Legacy(inner)
        | ReceiptEnvelope::Eip2930(inner)
        | ReceiptEnvelope::Eip1559(inner)
        | ReceiptEnvelope::Eip4844(inner)
        | ReceiptEnvelope::Eip7702(inner) => &mut inner.receipt,
    }
}

#[cfg(test)]
mod tests {
    use balnode_primitives::{
        B256, BlockBody, Header, U256,
        consensus::{Signed, TxLegacy},
        primitives::{Signature, TxKind, map::AddressMap},
    };
    use balnode_storage_api::ProviderResult;

    use super::*;

    /// Accounts in a map, no code, no storage.
    #[derive(Debug, Default)]
    struct Accounts(AddressMap<balnode_primitives::Account>);

    impl balnode_storage_api::AccountReader for Accounts {
        fn basic_account(
            &self,
            address: Address,
        ) -> ProviderResult<Option<balnode_primitives::Account>> {
            Ok(self.0.get(&address).copied())
        }
    }

    impl balnode_storage_api::BytecodeReader for Accounts {
        fn bytecode_by_hash(&self, _: B256) -> ProviderResult<Option<balnode_primitives::Bytes>> {
            Ok(None)
        }
    }

    impl balnode_storage_api::BlockHashReader for Accounts {
        fn block_hash(&self, _: u64) -> ProviderResult<Option<B256>> {
            Ok(None)
        }
    }

    impl StateProvider for Accounts {
        fn storage(&self, _: Address, _: B256) -> ProviderResult<Option<U256>> {
            Ok(None)
        }
    }

    /// A post-state the list cannot give, in a list that removes no code: an existing empty account
    /// touched by a transfer of nothing is deleted (EIP-161), which no write of the list says. The
    /// transactions' changes are not kept for such a list, so the block is executed again for the
    /// post-state; it must be sequential execution's, the account deleted.
    #[test]
    fn an_empty_account_deleted_without_a_sign_in_the_list_gets_the_sequential_post_state() {
        let spec = balnode_chainspec::mainnet();
        let [sender, empty, beneficiary] = [1, 2, 3].map(Address::repeat_byte);
        let mut accounts = Accounts::default();
        let funded = balnode_primitives::Account {
            balance: U256::from(10u64).pow(U256::from(18u64)),
            ..Default::default()
        };
        accounts.0.insert(sender, funded);
        accounts.0.insert(empty, balnode_primitives::Account::default());
        let transfer = TxLegacy {
            gas_limit: 21_000,
            gas_price: 1,
            to: TxKind::Call(empty),
            ..Default::default()
        };
        let block = Block {
            header: Header {
                // Byzantium, before Constantinople.
                number: 5_000_000,
                timestamp: 1_517_000_000,
                gas_limit: 8_000_000,
                gas_used: 21_000,
                beneficiary,
                ..Default::default()
            },
            body: BlockBody {
                transactions: vec![
                    Signed::new_unhashed(transfer, Signature::test_signature()).into(),
                ],
                ommers: vec![],
                withdrawals: None,
            },
        };
        let senders = [sender];
        let sequential =
            execute_block_with_bal(&spec, &block, &senders, &accounts, None, true).unwrap();
        assert_eq!(sequential.state.accounts.get(&empty), Some(&None), "deleted as empty");
        let list = sequential.block_access_list.clone().unwrap();
        assert!(!may_destroy(&list));
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let parallel = pool
                .install(|| {
                    execute_block_parallel_bal(&spec, &block, &senders, &accounts, &list, None)
                })
                .unwrap();
            assert_eq!(parallel.state, sequential.state, "{threads} threads");
            assert_eq!(parallel.receipts, sequential.receipts);
        }
    }

    #[test]
    fn transactions_are_taken_largest_gas_limit_first_in_block_order_among_equals() {
        let transactions: Vec<TxEnvelope> = [21_000, 500_000, 21_000, 3_000_000, 500_000]
            .into_iter()
            .map(|gas_limit| {
                let tx =
                    TxLegacy { gas_limit, to: TxKind::Call(Address::ZERO), ..Default::default() };
                Signed::new_unhashed(tx, Signature::test_signature()).into()
            })
            .collect();
        assert_eq!(longest_first_order(&transactions), vec![3, 1, 4, 0, 2]);
        assert!(longest_first_order(&[]).is_empty());
    }
}
