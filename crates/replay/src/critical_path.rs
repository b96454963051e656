//! The critical path of a block: the largest total gas along a chain of transactions where each reads what an
//! earlier one wrote. `total gas / critical path` is the speedup a perfect parallel executor would reach on
//! unlimited cores (ideal scheduling, no overhead).
//!
//! Read and write sets are exact at the granularity of keys — an account's balance; its nonce, code and
//! existence; a storage slot: transaction `i` runs on raw revm over the post-state of `i - 1`
//! ([`crate::revm_floor`]'s in-memory database) through a recording database, so every account (both keys) and
//! slot it loads is in its read set; its write set is what its state diff changes, compared with the values it
//! loaded. Code is read by hash and hashes are immutable, so code is covered by the account that holds it.
//!
//! **The block's beneficiary.** Every transaction credits its fee to the beneficiary, so with plain read/write
//! sets every transaction would depend on every earlier one. Fee credits commute (their order does not change
//! the sum), so the beneficiary's account counts as read by a transaction only when the transaction's outcome
//! depends on the beneficiary's balance: it is run a second time with that balance reset to its value before
//! the block, and if the result (status, gas, output, logs) and every other change are the same, the read is
//! dropped. A transaction that pays the beneficiary directly (a value transfer) writes it like a fee does; one
//! that reads its balance (`BALANCE(COINBASE)`, or is sent by it) depends on all earlier writers of it.
//!
//! **With the block's access list** there are no such chains: every transaction reads the list's writes of
//! the indices before it instead of waiting for them, so the critical path is the block's largest
//! transaction ([`CriticalPath::longest_gas`]).

use std::{
    collections::{HashMap, HashSet},
    convert::Infallible,
    sync::Arc,
};

use balnode_chainspec::ChainSpec;
use balnode_primitives::{Address, B256, KECCAK256_EMPTY, U256};
use revm::{
    Context, Database, DatabaseCommit, ExecuteEvm, MainBuilder, MainContext,
    context_interface::ContextTr,
    primitives::AddressMap,
    state::{Account, AccountInfo, Bytecode, EvmState},
};
use serde::Serialize;

use crate::{
    bundle::Bundle,
    revm_floor::{MemoryDb, evm_env, memory_db, tx_envs},
};

/// A piece of state a transaction reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// An account's balance.
    Balance(Address),
    /// An account's nonce and code, and whether it exists.
    Account(Address),
    /// A storage slot.
    Slot(Address, U256),
}

/// What one transaction read and wrote.
#[derive(Debug, Clone, Default)]
pub struct TxAccess {
    /// Gas it used.
    pub gas: u64,
    /// Accounts and slots it read.
    pub reads: HashSet<Key>,
    /// Accounts and slots it changed.
    pub writes: HashSet<Key>,
}

/// A block's critical path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CriticalPath {
    /// Gas of all the block's transactions.
    pub total_gas: u64,
    /// Gas along the heaviest dependency chain.
    pub critical_gas: u64,
    /// Transactions on that chain.
    pub chain_length: usize,
    /// Gas of the block's largest transaction: the critical path when the block comes with its access list,
    /// which every transaction reads instead of waiting for the ones before it.
    pub longest_gas: u64,
    /// `total_gas / critical_gas` (1 for a block without gas).
    pub ideal_speedup: f64,
}

/// revm's database over the in-memory pre-state, recording every account and slot loaded, and each account as
/// it was when the transaction first loaded it (revm's own `original_info` is kept only for BAL building).
#[derive(Debug)]
struct Recording {
    db: MemoryDb,
    reads: HashSet<Key>,
    originals: HashMap<Address, (U256, u64, B256)>,
}

impl Database for Recording {
    type Error = Infallible;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        self.reads.insert(Key::Balance(address));
        self.reads.insert(Key::Account(address));
        let info = self.db.basic(address)?;
        self.originals.entry(address).or_insert_with(|| {
            info.as_ref().map_or((U256::ZERO, 0, KECCAK256_EMPTY), |info| {
                (info.balance, info.nonce, info.code_hash)
            })
        });
        Ok(info)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.db.code_by_hash(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.reads.insert(Key::Slot(address, index));
        self.db.storage(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.db.block_hash(number)
    }
}

impl DatabaseCommit for Recording {
    fn commit(&mut self, changes: AddressMap<Account>) {
        self.db.commit(changes);
    }
}

/// The read and write set of each of the block's transactions (see the module's documentation).
pub fn transaction_accesses(
    spec: &Arc<ChainSpec>,
    bundle: &Bundle,
) -> Result<Vec<TxAccess>, String> {
    let env = evm_env(spec, bundle);
    let beneficiary = env.block_env.beneficiary;
    let balance_before_block =
        bundle.pre_state.get(&beneficiary).map_or(U256::ZERO, |pre| pre.account.balance);
    let mut evm = Context::mainnet()
        .with_db(Recording {
            db: memory_db(bundle),
            reads: HashSet::new(),
            originals: HashMap::new(),
        })
        .with_block(env.block_env)
        .with_cfg(env.cfg_env)
        .build_mainnet();
    let mut accesses = Vec::with_capacity(bundle.transaction_count());
    for (index, tx) in tx_envs(bundle).into_iter().enumerate() {
        evm.ctx.db_mut().reads.clear();
        evm.ctx.db_mut().originals.clear();
        let real =
            evm.transact(tx.clone()).map_err(|error| format!("transaction {index}: {error}"))?;
        let mut reads = std::mem::take(&mut evm.ctx.db_mut().reads);
        if reads.contains(&Key::Balance(beneficiary)) {
            let current = beneficiary_balance(&mut evm.ctx.db_mut().db, beneficiary);
            let observed = current != balance_before_block && {
                set_beneficiary_balance(
                    &mut evm.ctx.db_mut().db,
                    beneficiary,
                    balance_before_block,
                );
                let alternative = evm.transact(tx);
                set_beneficiary_balance(&mut evm.ctx.db_mut().db, beneficiary, current);
                match alternative {
                    Ok(alternative) => {
                        alternative.result != real.result
                            || outcome(&alternative.state, beneficiary)
                                != outcome(&real.state, beneficiary)
                    }
                    Err(_) => true,
                }
            };
            if !observed {
                reads.remove(&Key::Balance(beneficiary));
            }
        }
        let writes = writes(&real.state, &evm.ctx.db_mut().originals);
        accesses.push(TxAccess { gas: real.result.tx_gas_used(), reads, writes });
        evm.ctx.db_mut().commit(real.state);
    }
    Ok(accesses)
}

fn beneficiary_balance(db: &mut MemoryDb, beneficiary: Address) -> U256 {
    let Ok(account) = db.load_account(beneficiary);
    account.info.balance
}

fn set_beneficiary_balance(db: &mut MemoryDb, beneficiary: Address, balance: U256) {
    let Ok(account) = db.load_account(beneficiary);
    account.info.balance = balance;
}

/// An account a transaction changed: address, balance (the beneficiary's as a difference), nonce, code hash and
/// the slots written.
type ChangedAccount = (Address, U256, u64, B256, Vec<(U256, U256)>);

/// What a transaction changed, with the beneficiary's balance as a difference: the part of its outcome that
/// must not depend on the beneficiary's balance for fee credits to commute.
fn outcome(state: &EvmState, beneficiary: Address) -> Vec<ChangedAccount> {
    let mut changed: Vec<_> = state
        .iter()
        .filter(|(_, account)| account.is_touched())
        .map(|(&address, account)| {
            let balance = if address == beneficiary {
                account.info.balance.wrapping_sub(account.original_info().balance)
            } else {
                account.info.balance
            };
            let mut slots: Vec<_> = account
                .changed_storage_slots()
                .map(|(slot, value)| (*slot, value.present_value))
                .collect();
            slots.sort_unstable();
            (address, balance, account.info.nonce, account.info.code_hash, slots)
        })
        .collect();
    changed.sort_unstable_by_key(|entry| entry.0);
    changed
}

/// The balances, accounts and slots a transaction's state diff changes (`originals`: each account as the
/// transaction loaded it).
fn writes(state: &EvmState, originals: &HashMap<Address, (U256, u64, B256)>) -> HashSet<Key> {
    let mut writes = HashSet::new();
    for (&address, account) in state {
        if !account.is_touched() {
            continue;
        }
        let (balance, nonce, code_hash) = originals.get(&address).copied().unwrap_or_default();
        if account.is_created()
            || account.is_selfdestructed()
            || account.info.nonce != nonce
            || account.info.code_hash != code_hash
        {
            writes.insert(Key::Account(address));
            writes.insert(Key::Balance(address));
        } else if account.info.balance != balance {
            writes.insert(Key::Balance(address));
        }
        for (slot, _) in account.changed_storage_slots() {
            writes.insert(Key::Slot(address, *slot));
        }
    }
    writes
}

/// The heaviest chain of `accesses` where each transaction reads a key an earlier one on the chain wrote.
pub fn critical_path(accesses: &[TxAccess]) -> CriticalPath {
    // For each key, the heaviest chain ending in a transaction that wrote it, and that chain's length.
    let mut heaviest_writer: HashMap<Key, (u64, usize)> = HashMap::new();
    let (mut best, mut total, mut longest) = ((0u64, 0usize), 0u64, 0u64);
    for access in accesses {
        total += access.gas;
        longest = longest.max(access.gas);
        let before = access
            .reads
            .iter()
            .filter_map(|key| heaviest_writer.get(key))
            .max()
            .copied()
            .unwrap_or((0, 0));
        let chain = (before.0 + access.gas, before.1 + 1);
        for key in &access.writes {
            let entry = heaviest_writer.entry(*key).or_insert((0, 0));
            *entry = (*entry).max(chain);
        }
        best = best.max(chain);
    }
    CriticalPath {
        total_gas: total,
        critical_gas: best.0,
        chain_length: best.1,
        longest_gas: longest,
        ideal_speedup: if best.0 == 0 { 1.0 } else { total as f64 / best.0 as f64 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(gas: u64, reads: &[Key], writes: &[Key]) -> TxAccess {
        TxAccess {
            gas,
            reads: reads.iter().copied().collect(),
            writes: writes.iter().copied().collect(),
        }
    }

    #[test]
    fn independent_transactions_run_side_by_side() {
        let (a, b) = (Key::Account(Address::repeat_byte(1)), Key::Account(Address::repeat_byte(2)));
        let path = critical_path(&[access(100, &[a], &[a]), access(300, &[b], &[b])]);
        assert_eq!(path.critical_gas, 300);
        assert_eq!(path.chain_length, 1);
        assert!((path.ideal_speedup - 400.0 / 300.0).abs() < 1e-9);
    }

    #[test]
    fn a_read_after_a_write_chains() {
        let slot = Key::Slot(Address::repeat_byte(1), U256::from(7));
        let other = Key::Account(Address::repeat_byte(9));
        // 0 writes the slot, 1 is independent, 2 reads the slot: 0 → 2.
        let path = critical_path(&[
            access(100, &[], &[slot]),
            access(500, &[other], &[other]),
            access(200, &[slot], &[]),
        ]);
        assert_eq!((path.critical_gas, path.chain_length), (500, 1));
        // With a heavier reader the chain wins.
        let path = critical_path(&[
            access(100, &[], &[slot]),
            access(250, &[other], &[other]),
            access(200, &[slot], &[]),
        ]);
        assert_eq!((path.critical_gas, path.chain_length), (300, 2));
        // With the list, the largest transaction is the whole path.
        assert_eq!(path.longest_gas, 250);
    }

    #[test]
    fn writes_without_reads_do_not_chain() {
        let slot = Key::Slot(Address::repeat_byte(1), U256::from(7));
        let path = critical_path(&[access(100, &[], &[slot]), access(100, &[], &[slot])]);
        assert_eq!(path.critical_gas, 100);
    }
}
