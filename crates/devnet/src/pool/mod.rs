//! The transaction pool: transactions sent over `eth_sendRawTransaction` (or given back by a reorg) wait
//! here, per sender and nonce, until a block includes them.
//!
//! Admission follows geth: the stateless checks of `validate` (type by fork, size, gas, fees, signature and
//! chain id, intrinsic gas, blob sidecar and KZG proofs), then the sender's account (nonce, balance for the
//! maximum cost of all its pooled transactions), replacement (fee cap and tip each bumped by
//! [`PoolConfig::price_bump`] percent), and the limits, evicting the cheapest transaction by effective tip
//! when the pool is full. A sender's transactions from its account nonce on without a gap are *pending*
//! (executable); those behind a gap are *queued*, and become pending when the gap fills.
//!
//! Pre-EIP-155 legacy transactions (no chain id) are refused as geth's `eth_sendRawTransaction` refuses
//! them by default ("only replay-protected (EIP-155) transactions allowed over RPC"), unless
//! [`PoolConfig::allow_unprotected`] is set (geth's `--rpc.allow-unprotected-txs`); transactions of unwound
//! blocks given to [`TxPool::reinject`] are taken back whatever their kind.
//!
//! The pool reads the chain only through storage-api traits ([`PoolProvider`]); it never writes.

mod error;
mod validate;

#[cfg(test)]
mod tests;

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap, HashMap},
    sync::Arc,
};

use alloy_consensus::Transaction as _;
use alloy_eips::{Encodable2718, eip1559::BaseFeeParams, eip7594::BlobTransactionSidecarVariant};
use balnode_chainspec::ChainSpec;
use balnode_primitives::{Address, Header, TxEnvelope, TxHash, U256};
use balnode_rpc::{PoolContent, PoolRejection, PoolTransaction, TransactionPoolApi};
use balnode_storage_api::{ChainInfoReader, HeaderProvider, ProviderError, StateProviderFactory};
use parking_lot::RwLock;
use tokio::sync::broadcast;

pub use error::{PoolError, Shortfall};

/// What the pool reads of the chain: the latest state and the head's header.
pub trait PoolProvider:
    StateProviderFactory + HeaderProvider + ChainInfoReader + Send + Sync
{
}

impl<T> PoolProvider for T where
    T: StateProviderFactory + HeaderProvider + ChainInfoReader + Send + Sync
{
}

/// The pool's limits and prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most pending (executable) transactions, all senders together (geth's `GlobalSlots`).
    pub pending_limit: usize,
    /// Most queued (gapped) transactions, all senders together (geth's `GlobalQueue`).
    pub queued_limit: usize,
    /// Most transactions one sender may have in the pool, pending and queued.
    pub account_slots: usize,
    /// Most queued transactions one sender may have (geth's `AccountQueue`).
    pub account_queue: usize,
    /// The fee bump, in percent, a replacement needs on both the fee cap and the tip (geth: 10).
    pub price_bump: u64,
    /// The bump a blob transaction's replacement needs, on its blob fee cap too (geth's blob pool: 100).
    pub blob_price_bump: u64,
    /// The least priority fee (gas price for legacy transactions) the pool takes, in wei (geth: 1).
    pub min_tip: u128,
    /// The largest transaction, without a blob sidecar, in bytes (geth: 128 KiB).
    pub max_tx_size: usize,
    /// Whether legacy transactions without EIP-155 replay protection are taken from RPC.
    pub allow_unprotected: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            pending_limit: 5_120,
            queued_limit: 1_024,
            account_slots: 1_024,
            account_queue: 64,
            price_bump: 10,
            blob_price_bump: 100,
            min_tip: 1,
            max_tx_size: 128 * 1024,
            allow_unprotected: false,
        }
    }
}

/// A transaction in the pool.
#[derive(Debug, Clone)]
pub struct PooledTx {
    /// The transaction as a block carries it (a blob transaction without its sidecar).
    pub tx: TxEnvelope,
    /// Its recovered sender.
    pub sender: Address,
    /// Its hash.
    pub hash: TxHash,
    /// The length of its EIP-2718 encoding in a block (without the sidecar).
    pub encoded_len: usize,
    /// A blob transaction's sidecar (blobs, commitments and proofs), verified; EIP-7594 cell proofs from
    /// Osaka.
    pub sidecar: Option<BlobTransactionSidecarVariant>,
}

impl PooledTx {
    /// The most the transaction can cost its sender: gas limit × fee cap + value + blob gas × blob fee cap.
    pub fn max_cost(&self) -> U256 {
        let tx = &self.tx;
        let blob = U256::from(tx.blob_gas_used().unwrap_or_default())
            * U256::from(tx.max_fee_per_blob_gas().unwrap_or_default());
        U256::from(tx.gas_limit()) * U256::from(tx.max_fee_per_gas()) + tx.value() + blob
    }

    /// The tip per gas the transaction pays at `base_fee`, `None` when its fee cap is below it.
    pub fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        self.tx.effective_tip_per_gas(base_fee)
    }
}

/// A pooled transaction with the order it arrived in (ties in price go to the earlier).
#[derive(Debug, Clone)]
struct Entry {
    tx: Arc<PooledTx>,
    arrival: u64,
    /// Whether subscribers were told it became pending.
    announced: bool,
}

/// One sender's transactions and the account they run against.
#[derive(Debug, Default)]
struct SenderTxs {
    /// The account's nonce in the latest state.
    nonce: u64,
    /// Its balance in the latest state.
    balance: U256,
    txs: BTreeMap<u64, Entry>,
}

impl SenderTxs {
    /// The nonce after the pending run (the transactions from the account nonce on, without a gap).
    fn pending_end(&self) -> u64 {
        let mut next = self.nonce;
        for nonce in self.txs.range(self.nonce..).map(|(nonce, _)| *nonce) {
            if nonce != next {
                break;
            }
            next += 1;
        }
        next
    }

    fn pending_count(&self) -> usize {
        (self.pending_end() - self.nonce) as usize
    }

    fn queued_count(&self) -> usize {
        self.txs.len() - self.pending_count()
    }

    /// The summed maximum cost of the transactions, leaving out nonce `except`.
    fn spent(&self, except: u64) -> U256 {
        self.txs
            .iter()
            .filter(|(nonce, _)| **nonce != except)
            .map(|(_, entry)| entry.tx.max_cost())
            .fold(U256::ZERO, |sum, cost| sum.saturating_add(cost))
    }
}

#[derive(Debug, Default)]
struct Inner {
    by_hash: HashMap<TxHash, Arc<PooledTx>>,
    senders: HashMap<Address, SenderTxs>,
    /// The base fee of the block after the head, by which transactions are priced for eviction.
    base_fee: u64,
    arrivals: u64,
}

impl Inner {
    fn pending_count(&self) -> usize {
        self.senders.values().map(SenderTxs::pending_count).sum()
    }

    fn queued_count(&self) -> usize {
        self.senders.values().map(SenderTxs::queued_count).sum()
    }

    fn remove(&mut self, sender: Address, nonce: u64) -> Option<Entry> {
        let txs = self.senders.get_mut(&sender)?;
        let entry = txs.txs.remove(&nonce)?;
        self.by_hash.remove(&entry.tx.hash);
        if txs.txs.is_empty() {
            self.senders.remove(&sender);
        }
        Some(entry)
    }

    /// The cheapest transaction by effective tip the pool may evict to take a newcomer from `newcomer`:
    /// among pending transactions each sender's last pending one (so that no gap opens in a pending run),
    /// among queued ones any.
    fn cheapest(&self, pending: bool, newcomer: Address) -> Option<(Address, u64, u128, u64)> {
        let base_fee = self.base_fee;
        let price = |entry: &Entry| entry.tx.effective_tip(base_fee).unwrap_or(0);
        let mut best: Option<(Address, u64, u128, u64)> = None;
        let mut consider = |sender: Address, nonce: u64, entry: &Entry| {
            let candidate = (sender, nonce, price(entry), entry.arrival);
            // Cheapest first; of equal price, the latest to arrive.
            let better = best.is_none_or(|(_, _, best_price, best_arrival)| {
                (candidate.2, Reverse(candidate.3)) < (best_price, Reverse(best_arrival))
            });
            if better {
                best = Some(candidate);
            }
        };
        for (sender, txs) in &self.senders {
            let end = txs.pending_end();
            if pending {
                if *sender == newcomer || end == txs.nonce {
                    continue;
                }
                if let Some(entry) = txs.txs.get(&(end - 1)) {
                    consider(*sender, end - 1, entry);
                }
            } else {
                for (nonce, entry) in txs.txs.range(end..) {
                    consider(*sender, *nonce, entry);
                }
            }
        }
        best
    }
}

/// The transaction pool. Cheap to clone: clones share one pool behind a lock.
#[derive(Clone)]
pub struct TxPool {
    spec: Arc<ChainSpec>,
    state: Arc<dyn PoolProvider>,
    config: PoolConfig,
    inner: Arc<RwLock<Inner>>,
    pending_tx: broadcast::Sender<TxHash>,
}

impl std::fmt::Debug for TxPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.read();
        f.debug_struct("TxPool")
            .field("config", &self.config)
            .field("transactions", &inner.by_hash.len())
            .finish_non_exhaustive()
    }
}

impl TxPool {
    /// An empty pool over the chain `state` of `spec`.
    pub fn new(spec: Arc<ChainSpec>, state: Arc<dyn PoolProvider>, config: PoolConfig) -> Self {
        let (pending_tx, _) = broadcast::channel(4_096);
        let pool = Self {
            spec,
            state,
            config,
            inner: Arc::new(RwLock::new(Inner::default())),
            pending_tx,
        };
        if let Ok(head) = pool.head() {
            pool.inner.write().base_fee = next_base_fee(&head);
        }
        pool
    }

    /// The pool's configuration.
    pub const fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// The head block's header.
    fn head(&self) -> Result<Header, PoolError> {
        let number = self.state.chain_info()?.head_number;
        Ok(self.state.header_by_number(number)?.ok_or(ProviderError::BlockNotFound(number))?)
    }

    /// Validates and inserts an EIP-2718 transaction in the form `eth_sendRawTransaction` carries (a blob
    /// transaction with its sidecar); returns its hash.
    pub fn add_raw(&self, raw: &[u8]) -> Result<TxHash, PoolError> {
        let tx = validate::decode(raw)?;
        self.add(tx, None)
    }

    /// Validates and inserts a decoded transaction (a blob transaction with its sidecar). `sender` skips
    /// signature recovery and the replay-protection rule (transactions of unwound blocks).
    pub fn add_transaction(
        &self,
        tx: TxEnvelope,
        sender: Option<Address>,
    ) -> Result<TxHash, PoolError> {
        self.add(tx, sender)
    }

    fn add(&self, tx: TxEnvelope, sender: Option<Address>) -> Result<TxHash, PoolError> {
        let hash = *tx.tx_hash();
        if self.inner.read().by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let head = self.head()?;
        let checked = validate::check(&self.spec, &self.config, &head, tx, sender)?;
        let pooled = Arc::new(PooledTx {
            encoded_len: checked.tx.encode_2718_len(),
            hash,
            sender: checked.sender,
            sidecar: checked.sidecar,
            tx: checked.tx,
        });
        let mut inner = self.inner.write();
        if inner.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        // The account is read under the lock, so that a concurrent head change cannot leave an older
        // nonce behind.
        let account = self.state.latest()?.basic_account(pooled.sender)?.unwrap_or_default();
        inner.base_fee = next_base_fee(&head);
        self.insert(&mut inner, pooled, account.nonce, account.balance)?;
        self.announce(&mut inner);
        tracing::debug!(target: "devnet::pool", %hash, "Transaction added");
        Ok(hash)
    }

    /// The stateful checks and the insertion, under the lock.
    fn insert(
        &self,
        inner: &mut Inner,
        tx: Arc<PooledTx>,
        nonce: u64,
        balance: U256,
    ) -> Result<(), PoolError> {
        let sender = tx.sender;
        let tx_nonce = tx.tx.nonce();
        // The account as the latest state has it: what it has mined leaves the pool.
        let stale: Vec<u64> = match inner.senders.get_mut(&sender) {
            Some(txs) => {
                txs.nonce = nonce;
                txs.balance = balance;
                txs.txs.range(..nonce).map(|(nonce, _)| *nonce).collect()
            }
            None => Vec::new(),
        };
        for old in stale {
            inner.remove(sender, old);
        }
        if tx_nonce < nonce {
            return Err(PoolError::NonceTooLow { next: nonce, nonce: tx_nonce });
        }
        let cost = tx.max_cost();
        if balance < cost {
            return Err(PoolError::InsufficientFunds(Box::new(Shortfall {
                balance,
                queued: U256::ZERO,
                cost,
                overshot: cost - balance,
            })));
        }
        let existing = inner.senders.get(&sender);
        let replaced =
            existing.and_then(|txs| txs.txs.get(&tx_nonce)).map(|entry| entry.tx.clone());
        if let Some(old) = &replaced
            && !self.bumps(old, &tx)
        {
            return Err(PoolError::ReplacementUnderpriced);
        }
        let queued = existing.map_or(U256::ZERO, |txs| txs.spent(tx_nonce));
        if balance < queued.saturating_add(cost) {
            return Err(PoolError::InsufficientFundsWithPooled(Box::new(Shortfall {
                balance,
                queued,
                cost,
                overshot: queued.saturating_add(cost) - balance,
            })));
        }
        let pending_end = existing.map_or(nonce, SenderTxs::pending_end);
        let is_pending = tx_nonce <= pending_end;
        if replaced.is_none() {
            let pooled = existing.map_or(0, |txs| txs.txs.len());
            if pooled >= self.config.account_slots {
                return Err(PoolError::AccountLimit(pooled));
            }
            let queued_here = existing.map_or(0, SenderTxs::queued_count);
            if !is_pending && queued_here >= self.config.account_queue {
                return Err(PoolError::AccountLimit(pooled));
            }
            let (count, limit) = if is_pending {
                (inner.pending_count(), self.config.pending_limit)
            } else {
                (inner.queued_count(), self.config.queued_limit)
            };
            if count >= limit {
                let price = tx.effective_tip(inner.base_fee).unwrap_or(0);
                match inner.cheapest(is_pending, sender) {
                    Some((victim, victim_nonce, victim_price, _)) if victim_price < price => {
                        if let Some(entry) = inner.remove(victim, victim_nonce) {
                            tracing::debug!(
                                target: "devnet::pool",
                                hash = %entry.tx.hash,
                                "Transaction evicted: the pool is full"
                            );
                        }
                    }
                    _ => return Err(PoolError::PoolFull),
                }
            }
        }
        let arrival = inner.arrivals;
        inner.arrivals += 1;
        let txs = inner.senders.entry(sender).or_default();
        txs.nonce = nonce;
        txs.balance = balance;
        if let Some(old) =
            txs.txs.insert(tx_nonce, Entry { tx: tx.clone(), arrival, announced: false })
        {
            inner.by_hash.remove(&old.tx.hash);
        }
        inner.by_hash.insert(tx.hash, tx);
        Ok(())
    }

    /// Whether `new` pays enough more than `old` to replace it: fee cap and tip (and blob fee cap) each at
    /// least the configured bump higher.
    fn bumps(&self, old: &PooledTx, new: &PooledTx) -> bool {
        let bump =
            if old.tx.is_eip4844() { self.config.blob_price_bump } else { self.config.price_bump };
        let raised = |old: u128, new: u128| {
            let threshold = old.saturating_mul(100 + u128::from(bump)) / 100;
            new > old && new >= threshold
        };
        let (old_tx, new_tx) = (&old.tx, &new.tx);
        let blob = match (old_tx.max_fee_per_blob_gas(), new_tx.max_fee_per_blob_gas()) {
            (Some(old), Some(new)) => raised(old, new),
            _ => true,
        };
        raised(old_tx.max_fee_per_gas(), new_tx.max_fee_per_gas())
            && raised(old_tx.priority_fee_or_price(), new_tx.priority_fee_or_price())
            && blob
    }

    /// Tells subscribers of every transaction that became pending since the last call.
    fn announce(&self, inner: &mut Inner) {
        for txs in inner.senders.values_mut() {
            let end = txs.pending_end();
            for (nonce, entry) in &mut txs.txs {
                let pending = *nonce >= txs.nonce && *nonce < end;
                if pending && !entry.announced {
                    entry.announced = true;
                    // Nobody listening is fine.
                    let _ = self.pending_tx.send(entry.tx.hash);
                } else if !pending {
                    entry.announced = false;
                }
            }
        }
    }

    /// Executable transactions for a block on top of the head: ordered by effective tip at `base_fee`
    /// (highest first; of equal tips the earlier arrival), each sender's in nonce order, none whose fee cap
    /// is below `base_fee` (or whose blob fee cap is below `blob_base_fee`), nor any of the same sender's
    /// after such a one. The builder may skip a sender's later ones when one fails.
    pub fn best_transactions(
        &self,
        base_fee: u64,
        blob_base_fee: Option<u128>,
    ) -> Vec<Arc<PooledTx>> {
        let inner = self.inner.read();
        let affordable = |entry: &Entry| {
            let tx = &entry.tx.tx;
            let blob_ok = match (tx.max_fee_per_blob_gas(), blob_base_fee) {
                (Some(cap), Some(fee)) => cap >= fee,
                (Some(_), None) => false,
                (None, _) => true,
            };
            entry.tx.effective_tip(base_fee).is_some() && blob_ok
        };
        // Each sender's executable run, in nonce order.
        let mut runs: Vec<Vec<&Entry>> = Vec::new();
        for txs in inner.senders.values() {
            let run: Vec<&Entry> = txs
                .txs
                .range(txs.nonce..txs.pending_end())
                .map(|(_, entry)| entry)
                .take_while(|entry| affordable(entry))
                .collect();
            if !run.is_empty() {
                runs.push(run);
            }
        }
        // Merge: the best head of every run, then that run's next.
        let key =
            |entry: &Entry| (entry.tx.effective_tip(base_fee).unwrap_or(0), Reverse(entry.arrival));
        let mut heap: BinaryHeap<(u128, Reverse<u64>, usize, usize)> = runs
            .iter()
            .enumerate()
            .map(|(run, txs)| {
                let (tip, arrival) = key(txs[0]);
                (tip, arrival, run, 0)
            })
            .collect();
        let mut best = Vec::with_capacity(runs.iter().map(Vec::len).sum());
        while let Some((_, _, run, index)) = heap.pop() {
            best.push(runs[run][index].tx.clone());
            if let Some(next) = runs[run].get(index + 1) {
                let (tip, arrival) = key(next);
                heap.push((tip, arrival, run, index + 1));
            }
        }
        best
    }

    /// The head changed (block(s) committed, or a reorg): re-reads the nonces and balances of the pool's
    /// senders from the latest state, drops what is mined or no longer valid (nonce below the account's,
    /// a cost above its balance, a gas limit above the new block gas limit), and promotes queued
    /// transactions whose gap closed.
    pub fn on_canonical_state_change(&self) {
        if let Err(error) = self.refresh() {
            tracing::warn!(target: "devnet::pool", %error, "Cannot re-read the state for the pool");
        }
    }

    fn refresh(&self) -> Result<(), PoolError> {
        let head = self.head()?;
        let state = self.state.latest()?;
        let mut inner = self.inner.write();
        inner.base_fee = next_base_fee(&head);
        let senders: Vec<Address> = inner.senders.keys().copied().collect();
        let mut dropped = 0usize;
        for sender in senders {
            let account = state.basic_account(sender)?.unwrap_or_default();
            let Some(txs) = inner.senders.get_mut(&sender) else { continue };
            txs.nonce = account.nonce;
            txs.balance = account.balance;
            // Mined (or replaced by a mined one), unaffordable, or too large for the new blocks.
            let mut spent = U256::ZERO;
            let mut gone = Vec::new();
            for (nonce, entry) in &txs.txs {
                if *nonce < account.nonce {
                    gone.push(*nonce);
                    continue;
                }
                spent = spent.saturating_add(entry.tx.max_cost());
                if spent > account.balance || entry.tx.tx.gas_limit() > head.gas_limit {
                    gone.push(*nonce);
                }
            }
            dropped += gone.len();
            for nonce in gone {
                inner.remove(sender, nonce);
            }
        }
        self.announce(&mut inner);
        tracing::debug!(
            target: "devnet::pool",
            head = head.number,
            dropped,
            pending = inner.pending_count(),
            queued = inner.queued_count(),
            "Pool updated to the new head"
        );
        Ok(())
    }

    /// Transactions of unwound blocks (a reorg) go back into the pool, validated again against the latest
    /// state (call it after the new head's state is in place; those the new branch mined are refused as
    /// "nonce too low"). Blob transactions come back only if the pool still has their sidecar: a block
    /// does not carry one.
    pub fn reinject(&self, txs: Vec<(TxEnvelope, Address)>) {
        for (tx, sender) in txs {
            let hash = *tx.tx_hash();
            if tx.is_eip4844() {
                tracing::debug!(target: "devnet::pool", %hash, "Blob transaction not reinjected: no sidecar");
                continue;
            }
            match self.add(tx, Some(sender)) {
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(target: "devnet::pool", %hash, %error, "Transaction not reinjected");
                }
            }
        }
    }

    /// Notified with the hash of every transaction that becomes pending (on insertion, or when a new head
    /// closes its sender's nonce gap). The channel keeps the last 4,096 hashes: a receiver that falls
    /// further behind gets `RecvError::Lagged` and should look at [`Self::best_transactions`].
    pub fn subscribe_pending(&self) -> broadcast::Receiver<TxHash> {
        self.pending_tx.subscribe()
    }

    /// The nonce after `sender`'s pending transactions, `None` when it has none.
    pub fn pending_nonce(&self, sender: Address) -> Option<u64> {
        let inner = self.inner.read();
        let txs = inner.senders.get(&sender)?;
        let end = txs.pending_end();
        (end > txs.nonce).then_some(end)
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &TxHash) -> Option<Arc<PooledTx>> {
        self.inner.read().by_hash.get(hash).cloned()
    }

    /// The numbers of pending and queued transactions.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.inner.read();
        (inner.pending_count(), inner.queued_count())
    }

    /// Every pooled transaction, pending and queued, of `sender` only when given.
    pub fn content_of(&self, sender: Option<Address>) -> PoolContent {
        let inner = self.inner.read();
        let mut content = PoolContent::default();
        for (address, txs) in &inner.senders {
            if sender.is_some_and(|sender| sender != *address) {
                continue;
            }
            let end = txs.pending_end();
            for (nonce, entry) in &txs.txs {
                let target = if *nonce < end { &mut content.pending } else { &mut content.queued };
                target
                    .entry(*address)
                    .or_default()
                    .insert(*nonce, PoolTransaction { tx: entry.tx.tx.clone(), sender: *address });
            }
        }
        content
    }

    /// Removes transactions by hash (a builder that found them invalid), with nothing else changed.
    pub fn remove_transactions(&self, hashes: &[TxHash]) {
        let mut inner = self.inner.write();
        for hash in hashes {
            let Some(tx) = inner.by_hash.get(hash).cloned() else { continue };
            inner.remove(tx.sender, tx.tx.nonce());
        }
    }
}

/// The base fee of the block after `head` (0 before London).
fn next_base_fee(head: &Header) -> u64 {
    head.next_block_base_fee(BaseFeeParams::ethereum()).unwrap_or_default()
}

impl TransactionPoolApi for TxPool {
    fn send_raw_transaction(&self, raw: &[u8]) -> Result<TxHash, PoolRejection> {
        self.add_raw(raw).map_err(|error| PoolRejection(error.to_string()))
    }

    fn status(&self) -> (usize, usize) {
        self.counts()
    }

    fn content(&self) -> PoolContent {
        self.content_of(None)
    }

    fn content_from(&self, sender: Address) -> PoolContent {
        self.content_of(Some(sender))
    }

    fn transaction_by_hash(&self, hash: TxHash) -> Option<PoolTransaction> {
        self.get(&hash).map(|tx| PoolTransaction { tx: tx.tx.clone(), sender: tx.sender })
    }

    fn pending_nonce(&self, sender: Address) -> Option<u64> {
        Self::pending_nonce(self, sender)
    }
}
