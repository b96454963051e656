//! Optimistic execution of a block without an access list: every transaction speculatively at once, then
//! validated and committed in block order, re-executing the ones whose reads went stale.
//!
//! Workers take the transactions in block order and run each through a [`Recorder`], which keeps every
//! account and slot the transaction read (a fresh, cacheless view per transaction, [`Speculation`], so each
//! first read reaches it; revm's journal keeps the transaction's own), over [`SharedState`]: the parent state
//! in one cache all threads share, with the values committed so far laid over it, and over those what the
//! worker's own results not yet committed wrote ([`Pending`]: while the committer executes a chain of
//! conflicting calls again, the other worker runs the next chain ahead, each call reading the one before it).
//! The beneficiary's fee is deferred ([`DeferredRewardHandler`](crate::evm)): fee payments would otherwise
//! make every transaction depend on the one before. A worker done with a transaction leaves its result in a
//! waiting list and, if no other worker is committing, commits every result that is next in block order
//! (there is no coordinator thread): it compares the recorded reads with the state after the transactions
//! before it; if every value is the same, the transaction would have run exactly the same way there, so its
//! result is committed, with the fee added to the beneficiary as the mainnet handler adds it, and its values
//! published to the workers (while some transaction is still to be taken by one: the values serve only
//! speculation, so the backlog a committer drains at the end of a block is not published). The one kind of
//! value allowed to differ is an account's balance that the transaction only moved (Block-STM's lazy updates
//! of value transfers, for any account other than the sender): a plain transfer's recipient without code, or
//! an account whose balance the transaction's code never observed and whose outgoing transfers pass or fail
//! their checks alike on the balance now ([`BalanceWatch`], noted by the speculative EVM's `BALANCE`,
//! `SELFBALANCE`, `SELFDESTRUCT`, `CALL`, `CALLCODE` and `CREATE`s); the commit moves it by the difference.
//! WETH's balance, which every wrap and unwrap changes, is the common case. Otherwise (or when speculation
//! failed) the committer executes the transaction again on its state. A transaction whose sender's earlier
//! transaction is not committed yet (nor pending on this worker) is not speculated at all (it would read a
//! stale nonce): the committer executes it. Neither is a call to a contract whose speculative results in this
//! block have mostly gone stale ([`Contention`]). The block access list, when asked for, is built from the
//! commits, as in every mode.
//!
//! This is the speculate-and-repair core of Block-STM with a single version (the latest committed, and each
//! worker's own pending values) instead of its multi-version memory and estimates: re-executions run in the
//! committer, one at a time, so a contended block (a chain of transactions from one sender) degrades towards
//! sequential speed rather than below it (plus the wasted speculation and the committer's per-transaction
//! costs). On blocks of many cheap transactions those costs (a fresh view per transaction loading everything
//! again from the shared cache, the recorded reads, validation, the commit) make one thread 1.2–1.5 times
//! sequential's time, and they, not the order of the commits, bound the mode (`docs/REPLAY.md`). The largest
//! is the commit itself (`State::commit`, which sequential execution does too: 1.9–2.9 ms of block 14396881's
//! 5.4–7.3): the BAL mode gained most by not committing, and this mode could build its post-state from the
//! published values the same way.

use std::{
    cell::RefCell,
    cmp::min,
    ops::Range,
    rc::Rc,
    sync::{
        Mutex, PoisonError, RwLock,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use alloy_evm::{Evm, block::BlockExecutor};
use balnode_chainspec::ChainSpec;
use balnode_primitives::{
    Address, B256, Block, KECCAK256_EMPTY, U256,
    consensus::{Transaction, TxEnvelope, transaction::Recovered},
    primitives::map::{AddressMap, AddressSet, HashMap},
};
use balnode_storage_api::StateProvider;
use revm::{
    Database, DatabaseCommit,
    database::{State, WrapDatabaseRef},
    database_interface::DatabaseRef,
    state::{Account, AccountInfo, Bytecode, EvmState},
};
use tracing::{debug, trace};

use crate::{
    ExecutionError,
    balance_watch::BalanceWatch,
    database::DatabaseError,
    execute::{BlockExec, BlockExecutionOutput, block_executor, finish_block, worker_executor},
    parallel::{Committer, Executed, supports_parallel_bal},
    prefetch::{OpenReader, PrefetchStats, block_hints},
    schedule::{lock, run_dynamic},
    shared_state::{Changed, LatestView, ParentView, SharedState, changed_keys},
};

/// An account's balance, nonce and code hash; `None`: it does not exist.
type AccountFields = Option<(U256, u64, B256)>;

/// What a transaction read from the parent state: account fields and slot values, and what its code
/// learnt of balances.
#[derive(Debug, Default)]
struct ReadSet {
    accounts: Vec<(Address, AccountFields)>,
    storage: Vec<(Address, U256, U256)>,
    balances: BalanceWatch,
}

/// What one worker's own speculative results wrote that may not be committed yet, each value with the
/// index of the transaction that wrote it: a worker's next transaction reads these over the committed
/// values. When the committer falls behind (executing a chain of conflicting calls again, say), the
/// other worker takes the following transactions one after another, and a call that depends on the one
/// before it then reads that one's result instead of the value before it, and validates once that one
/// commits as it was speculated (Block-STM reads the same from its multi-version memory). A value is
/// read only while its transaction is not committed (its index at least the committer's `next`): from
/// then on the committed values hold it, or what the transactions after it made of it. What these give
/// is as speculative as the rest: validation compares every value read with the committed state.
#[derive(Debug, Default)]
struct Pending {
    /// The highest index written here: once the committer is past it, all of it is committed.
    last: Option<usize>,
    /// Accounts (`None`: deleted as empty).
    accounts: AddressMap<(usize, Option<AccountInfo>)>,
    storage: HashMap<(Address, U256), (usize, U256)>,
}

impl Pending {
    /// Whether anything here is not committed yet, `next` being the next transaction to commit.
    fn any(&self, next: usize) -> bool {
        self.last.is_some_and(|last| last >= next)
    }

    /// The account as transaction `index`'s speculation left it, unless committed.
    fn account(&self, address: Address, next: usize) -> Option<Option<AccountInfo>> {
        self.accounts
            .get(&address)
            .filter(|(index, _)| *index >= next)
            .map(|(_, info)| info.clone())
    }

    /// The slot as a speculation left it, unless committed.
    fn slot(&self, address: Address, slot: U256, next: usize) -> Option<U256> {
        self.storage
            .get(&(address, slot))
            .filter(|(index, _)| *index >= next)
            .map(|(_, value)| *value)
    }

    /// Whether transaction `index`'s speculation, not committed, wrote `address`'s account.
    fn wrote(&self, address: Address, index: usize, next: usize) -> bool {
        index >= next && self.accounts.get(&address).is_some_and(|(written, _)| *written == index)
    }

    /// Keeps what transaction `index`'s speculative `changes` wrote, `next` being the next transaction to
    /// commit (what is all committed is dropped first). The beneficiary's account is left out (its
    /// balance lacks the fees, which are deferred); so are accounts created or self-destructed, whose
    /// other slots the committed values would not give either, and the values kept of them before.
    fn record(&mut self, index: usize, changes: &EvmState, beneficiary: Address, next: usize) {
        if !self.any(next) {
            self.accounts.clear();
            self.storage.clear();
        }
        self.last = Some(index);
        for (address, account) in changes {
            if !account.is_touched() || *address == beneficiary {
                continue;
            }
            if account.is_created() || account.is_selfdestructed() {
                self.accounts.remove(address);
                self.storage.retain(|(written, _), _| written != address);
                continue;
            }
            let info = (!account.is_empty()).then(|| account.info.clone());
            self.accounts.insert(*address, (index, info));
            for (slot, value) in account.storage.iter().filter(|(_, value)| value.is_changed()) {
                self.storage.insert((*address, *slot), (index, value.present_value));
            }
        }
    }
}

/// The state as a worker's transaction sees it (the parent state with the values committed so far over
/// it, and the worker's own [`Pending`] values over those), keeping what it read.
struct Recorder<'s, 'r> {
    inner: LatestView<'s, 'r>,
    pending: Rc<RefCell<Pending>>,
    /// The next transaction to commit.
    next: &'s AtomicUsize,
    reads: RefCell<ReadSet>,
}

impl Recorder<'_, '_> {
    /// The worker's pending values, if any is not committed, with the next transaction to commit.
    fn pending(&self) -> Option<(std::cell::Ref<'_, Pending>, usize)> {
        let pending = self.pending.borrow();
        let next = self.next.load(Ordering::Acquire);
        pending.any(next).then_some((pending, next))
    }
}

impl std::fmt::Debug for Recorder<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("reads", &self.reads).finish_non_exhaustive()
    }
}

impl DatabaseRef for Recorder<'_, '_> {
    type Error = DatabaseError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let pending = self.pending().and_then(|(pending, next)| pending.account(address, next));
        let info = match pending {
            Some(info) => info,
            None => self.inner.basic_ref(address)?,
        };
        let fields = info.as_ref().map(|info| (info.balance, info.nonce, info.code_hash));
        self.reads.borrow_mut().accounts.push((address, fields));
        Ok(info)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        // Code is immutable under its hash: not a dependency.
        self.inner.code_by_hash_ref(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        let pending = self.pending().and_then(|(pending, next)| pending.slot(address, index, next));
        let value = match pending {
            Some(value) => value,
            None => self.inner.storage_ref(address, index)?,
        };
        self.reads.borrow_mut().storage.push((address, index, value));
        Ok(value)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.inner.block_hash_ref(number)
    }
}

/// The database a speculative transaction runs on: the shared state through a [`Recorder`], with no cache
/// of its own. revm's journal keeps what one transaction loads; a `State` (what sequential execution
/// runs on) would add a cache that each transaction fills again and throws away, as each gets a fresh
/// view. Nothing is committed to it: workers execute without committing.
#[derive(Debug)]
struct Speculation<'s, 'r>(Recorder<'s, 'r>);

impl Database for Speculation<'_, '_> {
    type Error = DatabaseError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        self.0.basic_ref(address)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.0.code_by_hash_ref(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.0.storage_ref(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.0.block_hash_ref(number)
    }
}

impl DatabaseCommit for Speculation<'_, '_> {
    fn commit(&mut self, _changes: EvmState) {
        unreachable!("a speculative transaction is executed without being committed");
    }
}

/// A fresh view of the state for one transaction, over the worker's `pending` values, recording its reads.
fn worker_state<'s, 'r>(
    state: &'s SharedState<'r>,
    pending: &Rc<RefCell<Pending>>,
    next: &'s AtomicUsize,
) -> Speculation<'s, 'r> {
    Speculation(Recorder {
        inner: state.latest(),
        pending: Rc::clone(pending),
        next,
        reads: RefCell::default(),
    })
}

/// An account whose balance changed between the speculative read and the commit, which the transaction
/// only moved: its result stands with the balance moved by the difference.
#[derive(Debug, Clone, Copy)]
struct Credit {
    address: Address,
    read: U256,
    now: U256,
}

impl Credit {
    /// The balance the transaction leaves, `written` on the balance it read, on the balance now; `None` if
    /// out of range (the transaction is then executed again).
    fn rebase(self, written: U256) -> Option<U256> {
        if self.now >= self.read {
            written.checked_add(self.now - self.read)
        } else {
            written.checked_sub(self.read - self.now)
        }
    }
}

/// The recipient of a transaction that can only add value to it, whatever its balance: a call with value
/// to an account other than the sender and the beneficiary, without an EIP-7702 authorization list (which
/// could give it code). Whether it has code is checked on the values read ([`balance_may_differ`]):
/// without code nothing runs that could read its balance. Block-STM's lazy balance update for value
/// transfers: the transfers to one deposit address would otherwise make each depend on the one before.
fn plain_transfer_recipient(
    transaction: &TxEnvelope,
    sender: Address,
    beneficiary: Address,
) -> Option<Address> {
    let to = transaction.to()?;
    (!transaction.value().is_zero()
        && to != sender
        && to != beneficiary
        && transaction.authorization_list().is_none())
    .then_some(to)
}

/// A speculative result: the executed transaction, what it read, and the fee it owes the beneficiary;
/// `None` when speculation failed or was not tried (the committer executes the transaction).
struct Speculated {
    outcome: Option<(Executed, ReadSet, U256)>,
}

/// The contracts whose calls keep conflicting in this block (a counter every call increments, say): a call
/// to one of them is not speculated, as its speculative result would most likely be thrown away; the
/// committer executes it, in order, while the workers speculate the other transactions. Block-STM gets the
/// same from its estimates (a transaction that read an aborted one's write waits for it); here it is learnt
/// from the block's own conflicts.
#[derive(Debug, Default)]
struct Contention {
    /// Whether `hot` holds any address: most blocks have none, and every transaction asks.
    any: AtomicBool,
    hot: RwLock<AddressSet>,
}

impl Contention {
    /// Whether calls to `to` are not worth speculating.
    fn is_hot(&self, to: Option<Address>) -> bool {
        to.is_some_and(|to| {
            self.any.load(Ordering::Acquire)
                && self.hot.read().unwrap_or_else(PoisonError::into_inner).contains(&to)
        })
    }
}

/// Per called address, how many speculative results were committed and how many went stale (kept by the
/// committer, under the commit lock).
#[derive(Debug, Default)]
struct ContentionCounts(AddressMap<(u32, u32)>);

impl ContentionCounts {
    /// Conflicts before an address can be hot: one stale result is no pattern.
    const MIN_STALE: u32 = 2;

    /// Counts a speculative result of a call to `to`; makes `to` hot in `contention` once its results went
    /// stale at least [`Self::MIN_STALE`] times and more often than not.
    fn count(&mut self, to: Option<Address>, valid: bool, contention: &Contention) {
        let Some(to) = to else { return };
        let (committed, stale) = self.0.entry(to).or_default();
        if valid {
            *committed += 1;
            return;
        }
        *stale += 1;
        if *stale >= Self::MIN_STALE && *stale > *committed {
            let mut hot = contention.hot.write().unwrap_or_else(PoisonError::into_inner);
            if hot.insert(to) {
                contention.any.store(true, Ordering::Release);
                debug!(target: "exec::optimistic", %to, committed = *committed, stale = *stale, "Calls no longer speculated");
            }
        }
    }
}

/// How a block went in the optimistic mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptimisticStats {
    /// Transactions whose speculative result was committed.
    pub committed: u64,
    /// Transactions executed by the committer, in order: their reads went stale, their speculation failed,
    /// or it was not tried (a sender's transaction while its earlier one was not committed).
    pub reexecuted: u64,
}

/// Whether [`execute_block_optimistic`] can run `block`: from Byzantium on (receipts without intermediate
/// roots), and under revm's own Amsterdam rules (the `bal@v5.7.0` profile's handler does not defer fees;
/// its blocks carry access lists anyway).
pub fn supports_optimistic(spec: &ChainSpec, block: &Block) -> bool {
    supports_parallel_bal(spec, block)
        && !(spec.amsterdam_profile() == balnode_chainspec::AmsterdamProfile::BalDevnetV5_7
            && spec.is_active_at(
                balnode_chainspec::Hardfork::Amsterdam,
                block.header.number,
                block.header.timestamp,
            ))
}

/// Executes `block` on `state` (the parent's post-state) optimistically on the current rayon pool; see the
/// module docs. `build_bal` builds the block's access list as a by-product; `open_reader` gives each worker
/// its own reader of the same state ([`OpenReader`]). The output's `prefetch` says what the workers read
/// ahead of the block's hints (`block_hints`) and how the shared cache served the parent state's reads.
pub fn execute_block_optimistic<P: StateProvider>(
    spec: &std::sync::Arc<ChainSpec>,
    block: &Block,
    senders: &[Address],
    state: P,
    build_bal: bool,
    open_reader: Option<OpenReader<'_>>,
) -> Result<(BlockExecutionOutput, OptimisticStats), ExecutionError> {
    let transactions = &block.body.transactions;
    if senders.len() != transactions.len() {
        return Err(ExecutionError::SenderCount {
            senders: senders.len(),
            transactions: transactions.len(),
        });
    }
    if !supports_optimistic(spec, block) {
        return Err(ExecutionError::NoIntermediateRoot);
    }
    // One reader per worker thread: a store reader shared by threads may serialise them. (All of them,
    // or none: the shared state finds a thread's reader by its index in the pool.)
    let readers: Vec<Box<dyn StateProvider>> = open_reader
        .and_then(|open| (0..rayon::current_num_threads()).map(|_| open().ok()).collect())
        .unwrap_or_default();
    let shared = SharedState::new(&state, readers);

    let coordinator = State::builder()
        .with_database_ref(shared.parent())
        .with_bundle_update()
        .with_bal_builder_if(build_bal)
        .build();
    let mut executor = block_executor(spec, block, coordinator);
    executor
        .apply_pre_execution_changes()
        .map_err(|error| ExecutionError::PreExecution(Box::new(error)))?;
    alloy_evm::block::BalIndexedDatabase::set_bal_index(executor.evm_mut().db_mut(), 0);

    let placeholder = State::builder().with_database_ref(shared.parent()).build();
    let mut committer = Committer::new(&executor, placeholder);
    std::mem::swap(executor.evm_mut().db_mut(), &mut committer.state);
    let failed = AtomicBool::new(false);
    let reexecuted = AtomicU64::new(0);
    // Speculative results wait here for their turn; whichever worker finds the commit lock free commits
    // every result that is next in block order (no coordinator thread: on two cores a third thread only
    // takes turns with the workers, and each result would wake it).
    let waiting: Mutex<Vec<Option<Speculated>>> =
        Mutex::new(std::iter::repeat_with(|| None).take(transactions.len()).collect());
    let next = AtomicUsize::new(0);
    // Transactions a worker has taken: once all are, no speculation starts that could read a value published
    // from then on.
    let started = AtomicUsize::new(0);
    // For each transaction, the block's transaction before it from the same sender.
    let mut last_from = std::collections::HashMap::with_capacity(senders.len());
    let earlier_from_sender: Vec<Option<usize>> = senders
        .iter()
        .enumerate()
        .map(|(index, sender)| last_from.insert(*sender, index))
        .collect();
    let contention = Contention::default();
    let commits = Mutex::new((committer, Ok(()), ContentionCounts::default()));
    let commit_ready = || {
        loop {
            let Ok(mut guard) = commits.try_lock() else { return };
            let (committer, outcome, counts) = &mut *guard;
            if outcome.is_ok() {
                *outcome = committer.commit_ready(
                    (spec, block, senders),
                    (&waiting, &next, &started),
                    (&failed, &reexecuted),
                    (&shared, counts, &contention),
                );
            }
            drop(guard);
            // A result that arrived while the lock was held, by a worker that then found it taken.
            let next = next.load(Ordering::Acquire);
            if failed.load(Ordering::Relaxed)
                || !lock(&waiting).get(next).is_some_and(Option::is_some)
            {
                return;
            }
        }
    };
    // The transactions, in block order, to whichever worker is free: a transaction then runs after most of
    // those before it are committed, and reads their values. On more than one thread (on one, the reads
    // would overlap nothing), what the block names of its reads (no list: its senders, recipients, EIP-2930
    // lists...) is read ahead, a chunk of transactions' worth at a time (one item per transaction costs
    // more in handing out than in reading), one chunk ahead of the transactions taken.
    let items = work_order(rayon::current_num_threads() > 1, transactions.len());
    run_dynamic(
        items.len(),
        || {
            let pending = Rc::default();
            let mut worker = worker_executor(spec, block, worker_state(&shared, &pending, &next));
            worker.evm.defer_rewards();
            worker.evm.watch_balances();
            (worker, pending)
        },
        |(worker, pending), item| {
            let index = match &items[item] {
                Item::Transaction(index) => *index,
                Item::Hints(parts) => {
                    let hints = parts.clone().flat_map(|part| block_hints(block, senders, part));
                    for (address, slots) in hints {
                        shared.prefetch(address, &slots);
                    }
                    return;
                }
            };
            let (transaction, sender) = (&transactions[index], &senders[index]);
            started.fetch_add(1, Ordering::AcqRel);
            if failed.load(Ordering::Relaxed) {
                return;
            }
            // A sender's transaction before its earlier one is committed would read a stale nonce (and
            // balance): a chain of them is left to the committer, in order, instead of each being executed
            // twice (Block-STM makes such a transaction wait on the earlier one's estimate).
            // (Unless this worker speculated that one and it is pending: then it reads its nonce.)
            let outcome = if earlier_from_sender[index].is_some_and(|earlier| {
                let next = next.load(Ordering::Acquire);
                next <= earlier && !pending.borrow().wrote(*sender, earlier, next)
            }) || contention.is_hot(transaction.to())
            {
                None
            } else {
                *worker.evm_mut().db_mut() = worker_state(&shared, pending, &next);
                BalanceWatch::start();
                let output = worker.execute_transaction_without_commit(Recovered::new_unchecked(
                    transaction,
                    *sender,
                ));
                let balances = BalanceWatch::finish();
                output.ok().map(|output| {
                    let executed = Executed::new(worker, output, 0);
                    // A result next in line is usually committed before this worker's next transaction
                    // reads (by this worker, or by one committing now): not kept (on one thread, none is).
                    let committed = next.load(Ordering::Acquire);
                    if committed < index {
                        let beneficiary = block.header.beneficiary;
                        pending.borrow_mut().record(index, &executed.state, beneficiary, committed);
                    }
                    let mut reads = std::mem::take(&mut *worker.evm.db().0.reads.borrow_mut());
                    reads.balances = balances;
                    let fee = worker.evm.deferred_reward().unwrap_or_default();
                    (executed, reads, fee)
                })
            };
            trace!(target: "exec::optimistic", index, speculated = outcome.is_some(), "Speculated transaction");
            lock(&waiting)[index] = Some(Speculated { outcome });
            commit_ready();
        },
    );
    // Every result is in: what is left to commit (a worker may have left the lock just before the last).
    commit_ready();
    let (committer, outcome, _) = commits.into_inner().unwrap_or_else(PoisonError::into_inner);
    outcome?;
    debug_assert_eq!(
        next.load(Ordering::Acquire),
        transactions.len(),
        "every result was committed"
    );
    let committer_stats = reexecuted.load(Ordering::Relaxed);
    committer.hand_back(&mut executor);
    let mut output = finish_block(spec, block, executor)?;
    let ((accounts, slots), (hits, misses)) = shared.counts();
    output.prefetch = Some(PrefetchStats {
        accounts,
        slots,
        // The reads overlap execution: not a phase of their own.
        elapsed: Duration::ZERO,
        hits,
        misses,
    });
    let stats = OptimisticStats {
        committed: transactions.len() as u64 - committer_stats,
        reexecuted: committer_stats,
    };
    debug!(target: "exec::optimistic", number = block.header.number, transactions = transactions.len(), ?stats, prefetch = ?output.prefetch, "Executed block optimistically");
    Ok((output, stats))
}

/// How many transactions' hints one item of [`execute_block_optimistic`] reads ahead.
const HINTED_TOGETHER: usize = 16;

/// One item the optimistic mode's workers take.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Reading ahead these parts of the block's hints (`block_hints`: 0 the block's own, `i + 1`
    /// transaction `i`'s).
    Hints(Range<usize>),
    /// Executing the transaction at this index.
    Transaction(usize),
}

/// The order the workers take a block's `transactions` in: in block order, and, when `read_ahead`, each
/// chunk of [`HINTED_TOGETHER`] after the hints of the next chunk, so that the reads stay one chunk ahead
/// of execution (the block's own hints and the first chunk's come first).
fn work_order(read_ahead: bool, transactions: usize) -> Vec<Item> {
    let chunks: Vec<Range<usize>> = (0..transactions)
        .step_by(HINTED_TOGETHER)
        .map(|first| first..min(first + HINTED_TOGETHER, transactions))
        .collect();
    let hints = |chunk: &Range<usize>| Item::Hints(chunk.start + 1..chunk.end + 1);
    let mut items = Vec::with_capacity(transactions + chunks.len() + 1);
    if read_ahead {
        items.push(Item::Hints(0..1));
        items.extend(chunks.first().map(hints));
    }
    for (index, chunk) in chunks.iter().enumerate() {
        if read_ahead && let Some(next) = chunks.get(index + 1) {
            items.push(hints(next));
        }
        items.extend(chunk.clone().map(Item::Transaction));
    }
    items
}

/// The committer's state: what it committed over the parent state.
type CommitterState<'s, 'r> = State<WrapDatabaseRef<ParentView<'s, 'r>>>;

impl<'s, 'r> Committer<WrapDatabaseRef<ParentView<'s, 'r>>> {
    /// Validates and commits, in block order, the speculative results waiting from `next` on, executing
    /// again those whose reads went stale, and publishes each commit's values to `shared` while a transaction
    /// is left that no worker has `started` (the values only serve speculation: validation and re-execution
    /// read this state); stops at the first result not yet in. The number executed again is counted in
    /// `reexecuted`.
    fn commit_ready(
        &mut self,
        (spec, block, senders): (&std::sync::Arc<ChainSpec>, &Block, &[Address]),
        (waiting, next, started): (&Mutex<Vec<Option<Speculated>>>, &AtomicUsize, &AtomicUsize),
        (failed, reexecuted): (&AtomicBool, &AtomicU64),
        (shared, counts, contention): (&'s SharedState<'r>, &mut ContentionCounts, &Contention),
    ) -> Result<(), ExecutionError> {
        let beneficiary = block.header.beneficiary;
        // The executor of this drain's re-executions, built on the first.
        let mut again = None;
        let transactions = &block.body.transactions;
        if self.receipts.capacity() < transactions.len() {
            self.receipts.reserve(transactions.len() - self.receipts.len());
        }
        loop {
            let index = next.load(Ordering::Relaxed);
            let Some(speculated) = lock(waiting).get_mut(index).and_then(Option::take) else {
                return Ok(());
            };
            let transaction = &transactions[index];
            let recipient = plain_transfer_recipient(transaction, senders[index], beneficiary);
            // Speculation still to start reads this commit's values; one running now may read them or
            // may not (a race either way: validation decides).
            let publish = started.load(Ordering::Acquire) < transactions.len();
            let committed = self
                .check_block_gas(transaction, None)
                .map_err(ExecutionError::from_block(index, transaction))
                .and_then(|()| {
                    let sender = senders[index];
                    let mut speculated = speculated.outcome;
                    let valid = match &mut speculated {
                        Some((executed, reads, _)) => {
                            still_valid(&mut self.state, reads, (sender, recipient))?
                                .filter(|credits| rebase(executed, credits))
                        }
                        None => None,
                    };
                    if speculated.is_some() {
                        counts.count(transaction.to(), valid.is_some(), contention);
                    }
                    match (speculated, valid) {
                        (Some((executed, _, fee)), Some(_)) => {
                            self.commit_with_fee(index, executed, (beneficiary, fee), publish)
                        }
                        _ => {
                            reexecuted.fetch_add(1, Ordering::Relaxed);
                            self.reexecute(
                                &mut again,
                                (spec, block, shared),
                                (index, transaction, sender),
                                publish,
                            )
                        }
                    }
                })
                .and_then(|keys| shared.publish(keys, &mut self.state).map_err(state_error));
            if let Err(error) = committed {
                failed.store(true, Ordering::Relaxed);
                return Err(error);
            }
            next.store(index + 1, Ordering::Release);
        }
    }

    /// Commits a validated speculative result (its balances rebased, [`rebase`]), paying the beneficiary the
    /// fee the mainnet handler would have paid at the end of the transaction; returns what it changed
    /// ([`changed_keys`]) if it is to `publish` them.
    fn commit_with_fee(
        &mut self,
        index: usize,
        mut executed: Executed,
        (beneficiary, fee): (Address, U256),
        publish: bool,
    ) -> Result<Vec<Changed>, ExecutionError> {
        let account = match executed.state.get_mut(&beneficiary) {
            Some(account) => account,
            None => {
                let account = match self.state.basic(beneficiary).map_err(state_error)? {
                    Some(info) => Account::from(info),
                    None => Account::new_not_existing(Default::default()),
                };
                executed.state.entry(beneficiary).or_insert(account)
            }
        };
        account.info.balance = account.info.balance.saturating_add(fee);
        account.mark_touch();
        let keys = if publish { changed_keys(&executed.state) } else { Vec::new() };
        self.commit(index, executed);
        Ok(keys)
    }

    /// Executes transaction `index` again, on this state, and commits it; returns what it changed if it is to
    /// `publish` them. `again`
    /// is the executor of the re-executions of one drain of the waiting list, built on the first: an
    /// executor is not `Send`, so it cannot be kept under the commit lock, which any worker may take, and
    /// building one per transaction made a chain of one sender's transfers (each executed here) three times
    /// slower than sequential execution.
    fn reexecute<'b>(
        &mut self,
        again: &mut Option<BlockExec<'b, CommitterState<'s, 'r>>>,
        (spec, block, shared): (&std::sync::Arc<ChainSpec>, &'b Block, &'s SharedState<'r>),
        (index, transaction, sender): (usize, &TxEnvelope, Address),
        publish: bool,
    ) -> Result<Vec<Changed>, ExecutionError> {
        let executor = again.get_or_insert_with(|| {
            worker_executor(
                spec,
                block,
                State::builder().with_database_ref(shared.parent()).build(),
            )
        });
        // The executor runs on this state, and hands it back whatever the outcome.
        std::mem::swap(executor.evm_mut().db_mut(), &mut self.state);
        let executed = executor
            .execute_transaction_without_commit(Recovered::new_unchecked(transaction, sender))
            .map(|output| Executed::new(executor, output, 0));
        std::mem::swap(executor.evm_mut().db_mut(), &mut self.state);
        let executed = executed.map_err(ExecutionError::from_block(index, transaction))?;
        let keys = if publish { changed_keys(&executed.state) } else { Vec::new() };
        self.commit(index, executed);
        Ok(keys)
    }
}

/// Whether every value the transaction read is still the value here: `None` if not. An account's balance
/// may differ where the transaction only moved it ([`balance_may_differ`]): its result stands with the
/// balance moved by the difference, returned as a [`Credit`] per such account.
fn still_valid<DB: Database<Error = DatabaseError>>(
    state: &mut State<DB>,
    reads: &ReadSet,
    (sender, recipient): (Address, Option<Address>),
) -> Result<Option<Vec<Credit>>, ExecutionError> {
    let mut credits = Vec::new();
    for (address, fields) in &reads.accounts {
        let current = state.basic(*address).map_err(state_error)?;
        let current = current.map(|info| (info.balance, info.nonce, info.code_hash));
        if current == *fields {
            continue;
        }
        if let (Some((read, nonce, code_hash)), Some((now, current_nonce, current_hash))) =
            (fields, current)
            && *nonce == current_nonce
            && *code_hash == current_hash
            && *address != sender
            && balance_may_differ(reads, (*address, *nonce, *code_hash), (*read, now), recipient)
        {
            if !credits.iter().any(|credit: &Credit| credit.address == *address) {
                credits.push(Credit { address: *address, read: *read, now });
            }
            continue;
        }
        trace!(target: "exec::optimistic", %address, ?current, read = ?fields, "Stale account read");
        return Ok(None);
    }
    for (address, slot, value) in &reads.storage {
        let current = state.storage(*address, *slot).map_err(state_error)?;
        if current != *value {
            trace!(target: "exec::optimistic", %address, %slot, %current, read = %value, "Stale slot read");
            return Ok(None);
        }
    }
    Ok(Some(credits))
}

/// Whether a transaction's result holds with the balance of an account other than its sender (whose
/// balance pays for it) at `now` rather than at the value it `read`, its nonce and code the same:
/// - a plain transfer's recipient without code ([`plain_transfer_recipient`]): no code runs that could see
///   the balance;
/// - any other account whose balance the transaction's code never observed and whose transfers' checks go
///   the same way ([`BalanceWatch::allows_shift`]), provided it is not empty either way (a value call to an
///   empty account costs more, `EXTCODEHASH` gives zero for one; an account without code or nonce can only
///   receive, so it stays non-empty throughout).
///
/// Both balances must be below 2^128, far above any real one, so that no addition in the transaction
/// overflows on one and not on the other.
fn balance_may_differ(
    reads: &ReadSet,
    (address, nonce, code_hash): (Address, u64, B256),
    (read, now): (U256, U256),
    recipient: Option<Address>,
) -> bool {
    const LIMIT: U256 = U256::from_limbs([0, 0, 1, 0]);
    if read >= LIMIT || now >= LIMIT {
        return false;
    }
    if Some(address) == recipient && code_hash == KECCAK256_EMPTY {
        return true;
    }
    let never_empty =
        code_hash != KECCAK256_EMPTY || nonce != 0 || (!read.is_zero() && !now.is_zero());
    never_empty && reads.balances.allows_shift(address, read, now)
}

/// Moves the balances `credits` name in `executed`'s changes by their difference ([`Credit::rebase`]);
/// `false` (changes partly moved: the transaction is executed again) if one is out of range.
fn rebase(executed: &mut Executed, credits: &[Credit]) -> bool {
    credits.iter().all(|credit| match executed.state.get_mut(&credit.address) {
        Some(account) => credit
            .rebase(account.info.balance)
            .map(|balance| account.info.balance = balance)
            .is_some(),
        None => true,
    })
}

fn state_error(
    error: revm::database_interface::bal::EvmDatabaseError<DatabaseError>,
) -> ExecutionError {
    match error {
        revm::database_interface::bal::EvmDatabaseError::Database(DatabaseError(error)) => {
            ExecutionError::Provider(error)
        }
        revm::database_interface::bal::EvmDatabaseError::Bal(error) => {
            ExecutionError::Bal(error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_read_one_chunk_ahead_of_the_transactions() {
        use Item::{Hints, Transaction};
        assert_eq!(work_order(false, 3), vec![Transaction(0), Transaction(1), Transaction(2)]);
        assert_eq!(work_order(true, 0), vec![Hints(0..1)]);
        let order = work_order(true, 40);
        assert_eq!(&order[..3], &[Hints(0..1), Hints(1..17), Hints(17..33)]);
        assert_eq!(order[3..19], (0..16).map(Transaction).collect::<Vec<_>>());
        assert_eq!(order[19], Hints(33..41));
        assert_eq!(order[20..], (16..40).map(Transaction).collect::<Vec<_>>());
    }

    #[test]
    fn a_balance_may_differ_where_the_transaction_only_moved_it() {
        use crate::balance_watch::TransferCheck;
        let (weth, observed, eoa) =
            (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let code = B256::repeat_byte(0xc0);
        let reads = ReadSet {
            balances: BalanceWatch {
                observed: vec![observed],
                transfers: vec![TransferCheck {
                    from: weth,
                    balance: U256::from(1_000),
                    value: U256::from(400),
                }],
            },
            ..ReadSet::default()
        };
        let may = |account, (read, now): (u64, u64), recipient| {
            balance_may_differ(&reads, account, (U256::from(read), U256::from(now)), recipient)
        };
        // A contract that sent 400 of its 1,000: more, or as little as 400, would do the same.
        assert!(may((weth, 1, code), (1_000, 5_000), None));
        assert!(may((weth, 1, code), (1_000, 400), None));
        assert!(!may((weth, 1, code), (1_000, 399), None));
        // A balance the code read is exact.
        assert!(!may((observed, 1, code), (1_000, 5_000), None));
        // An account without code or nonce only receives, but must not be empty either way.
        assert!(may((eoa, 0, KECCAK256_EMPTY), (5, 9), None));
        assert!(!may((eoa, 0, KECCAK256_EMPTY), (0, 9), None));
        assert!(!may((eoa, 0, KECCAK256_EMPTY), (5, 0), None));
        // ... unless it is the recipient of a plain transfer, where no code runs.
        assert!(may((eoa, 0, KECCAK256_EMPTY), (0, 9), Some(eoa)));
        // Balances too large to be sure no addition overflows.
        let huge = U256::from(1) << 200;
        assert!(!balance_may_differ(
            &reads,
            (eoa, 0, KECCAK256_EMPTY),
            (huge, huge + U256::from(1)),
            Some(eoa)
        ));
        // The rebased balance keeps what the transaction moved.
        let credit = Credit { address: weth, read: U256::from(1_000), now: U256::from(1_500) };
        assert_eq!(credit.rebase(U256::from(600)), Some(U256::from(1_100)));
        let credit = Credit { address: weth, read: U256::from(1_000), now: U256::from(500) };
        assert_eq!(credit.rebase(U256::from(600)), Some(U256::from(100)));
        assert_eq!(credit.rebase(U256::from(400)), None);
    }

    #[test]
    fn a_workers_pending_values_are_read_until_committed() {
        use revm::state::{EvmStorageSlot, TransactionId};
        let (counter, beneficiary, created) =
            (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let written = |balance: u64, value: u64| {
            let mut account = Account::default();
            account.info.balance = U256::from(balance);
            account.info.nonce = 1;
            account.storage.insert(
                U256::from(7),
                EvmStorageSlot::new_changed(U256::ZERO, U256::from(value), TransactionId::ZERO),
            );
            account
                .storage
                .insert(U256::from(8), EvmStorageSlot::new(U256::from(1), TransactionId::ZERO));
            account.mark_touch();
            account
        };
        let mut creation = written(1, 1);
        creation.mark_created();
        let mut pending = Pending::default();
        // Transaction 4's writes, while transaction 2 is the next to commit.
        let changes = EvmState::from_iter([
            (counter, written(10, 100)),
            (beneficiary, written(5, 5)),
            (created, creation),
        ]);
        pending.record(4, &changes, beneficiary, 2);
        assert!(pending.any(4) && !pending.any(5));
        assert_eq!(
            pending.account(counter, 2).flatten().map(|info| info.balance),
            Some(U256::from(10))
        );
        assert_eq!(pending.slot(counter, U256::from(7), 4), Some(U256::from(100)));
        // Only changed slots, not the beneficiary (its fees are deferred), not a created account.
        assert_eq!(pending.slot(counter, U256::from(8), 2), None);
        assert_eq!(pending.account(beneficiary, 2), None);
        assert_eq!(pending.account(created, 2), None);
        assert_eq!(pending.slot(created, U256::from(7), 2), None);
        // Committed: the committed values hold it from then on.
        assert_eq!(pending.slot(counter, U256::from(7), 5), None);
        assert!(
            pending.wrote(counter, 4, 3)
                && !pending.wrote(counter, 3, 3)
                && !pending.wrote(counter, 4, 5)
        );
        // A later transaction's value replaces it; an account left empty reads as deleted.
        let mut emptied = Account::default();
        emptied.mark_touch();
        pending.record(
            6,
            &EvmState::from_iter([(counter, written(0, 101)), (created, emptied)]),
            beneficiary,
            3,
        );
        assert_eq!(pending.slot(counter, U256::from(7), 3), Some(U256::from(101)));
        assert_eq!(
            pending.account(counter, 3).flatten().map(|info| info.balance),
            Some(U256::ZERO)
        );
        assert_eq!(pending.account(created, 3), Some(None));
        // Once everything here is committed, the next record starts afresh.
        pending.record(9, &EvmState::default(), beneficiary, 7);
        assert!(pending.accounts.is_empty() && pending.storage.is_empty() && pending.any(9));
    }

    #[test]
    fn a_contract_is_hot_once_its_results_go_stale_twice_and_mostly() {
        let (counter, token) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let contention = Contention::default();
        let mut counts = ContentionCounts::default();
        // One stale result is no pattern.
        counts.count(Some(counter), false, &contention);
        assert!(!contention.is_hot(Some(counter)));
        counts.count(Some(counter), false, &contention);
        assert!(contention.is_hot(Some(counter)));
        // A contract whose results mostly commit stays speculated despite two conflicts.
        for _ in 0..3 {
            counts.count(Some(token), true, &contention);
        }
        counts.count(Some(token), false, &contention);
        counts.count(Some(token), false, &contention);
        assert!(!contention.is_hot(Some(token)));
        counts.count(Some(token), false, &contention);
        counts.count(Some(token), false, &contention);
        assert!(contention.is_hot(Some(token)));
        // Contract creations have no address to count.
        counts.count(None, false, &contention);
        assert!(!contention.is_hot(None));
    }
}
