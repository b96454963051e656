//! State-root benchmarks over a synthetic state in in-memory cursors (so they measure the trie, not a disk).
//!
//! - `incremental_vs_full`: 1,000,000 accounts (100,000 with storage); a block changing 1,000 accounts and
//!   5,000 slots. The incremental root over the stored trie against a full recompute of every trie.
//! - `parallel_storage_roots`: a block changing 2,000 storage tries, its root on a pool of 1 and of 2
//!   threads.
//!
//! Run with `cargo bench -p balnode-trie --features test-utils`; it takes a few minutes on two cores, most
//! of it building the synthetic state and timing the full recompute.

#![allow(missing_docs, unreachable_pub)] // reason: a bench binary, not an API.

use std::{sync::LazyLock, time::Duration};

use balnode_primitives::{Account, B256, U256, keccak256};
use balnode_trie::{
    FromScratch, HashedPostState, HashedStorage, Parallelism, parallel_state_root, state_root,
    test_utils::MemoryState,
};
use criterion::{
    BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};

/// Accounts in the synthetic state.
const ACCOUNTS: u64 = 1_000_000;
/// Accounts with storage: every tenth.
const WITH_STORAGE: u64 = 100_000;
/// Slots of most accounts with storage.
const SMALL_STORAGE: u64 = 8;
/// Of the accounts with storage, every hundredth has this many slots instead.
const LARGE_STORAGE: u64 = 400;

/// A group with the settings every scenario shares.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_secs(1)).noise_threshold(0.02).sample_size(10);
    group
}

/// A deterministic key.
fn key(domain: u8, index: u64) -> B256 {
    let mut bytes = [0u8; 9];
    bytes[0] = domain;
    bytes[1..].copy_from_slice(&index.to_be_bytes());
    keccak256(bytes)
}

fn account(index: u64, version: u64) -> Account {
    Account {
        nonce: index % 100 + version,
        balance: U256::from(index * 1_000_000_007 + version),
        bytecode_hash: index.is_multiple_of(10).then(|| key(3, index)),
    }
}

/// The number of slots account `index` (one with storage) has.
const fn slots_of(index: u64) -> u64 {
    if (index / 10).is_multiple_of(100) { LARGE_STORAGE } else { SMALL_STORAGE }
}

/// The synthetic state with its trie stored, built once.
static STATE: LazyLock<MemoryState> = LazyLock::new(|| {
    let started = std::time::Instant::now();
    let mut genesis = HashedPostState::default();
    for index in 0..ACCOUNTS {
        genesis.accounts.insert(key(0, index), Some(account(index, 0)));
        if index % (ACCOUNTS / WITH_STORAGE) == 0 {
            let slots =
                (0..slots_of(index)).map(|slot| (key(1, slot), U256::from(slot + 1))).collect();
            genesis.storages.insert(key(0, index), HashedStorage { wiped: false, slots });
        }
    }
    let empty = MemoryState::default();
    let output = parallel_state_root(&empty, &genesis, Parallelism::CurrentPool).unwrap();
    let mut state = MemoryState::default();
    state.apply_state(&genesis);
    state.apply_updates(&output.updates);
    eprintln!(
        "synthetic state: {} accounts, {} with storage, {} account nodes, {} storage tries stored, built in {:?}",
        state.accounts.len(),
        state.storages.len(),
        state.account_nodes.len(),
        state.storage_nodes.len(),
        started.elapsed()
    );
    state
});

/// A block changing `accounts` accounts (spread over the state) and `slots_per_trie` slots in each of
/// `tries` storage tries (half of them updates of existing slots, half new ones).
fn block(accounts: u64, tries: u64, slots_per_trie: u64, large_only: bool) -> HashedPostState {
    let mut block = HashedPostState::default();
    for n in 0..accounts {
        // Indexes ending in 5: accounts without storage, none of the tries below.
        let index = (n * 79_190 + 5) % ACCOUNTS;
        block.accounts.insert(key(0, index), Some(account(index, 1)));
    }
    // Multiples of 1,000 have large tries; other multiples of 10 small ones.
    let (stride, offset) = if large_only { (1000, 0) } else { (1000, 10) };
    for n in 0..tries {
        let index = (n * stride + offset) % ACCOUNTS;
        let slots = (0..slots_per_trie)
            .map(|slot| {
                let key = if slot % 2 == 0 {
                    key(1, (slot / 2) % slots_of(index))
                } else {
                    key(2, n * 1000 + slot)
                };
                (key, U256::from(n + slot + 7))
            })
            .collect();
        block.storages.insert(key(0, index), HashedStorage { wiped: false, slots });
        block.accounts.insert(key(0, index), Some(account(index, 2)));
    }
    block
}

mod incremental_vs_full {
    use super::*;

    pub fn run(c: &mut Criterion) {
        let state = &*STATE;
        // 1,000 accounts, 500 of them with 10 slots each (small tries): 5,000 slots.
        let block = block(500, 500, 10, false);
        assert_eq!(block.accounts.len(), 1_000);
        assert_eq!(block.storages.values().map(|s| s.slots.len()).sum::<usize>(), 5_000);
        let incremental = state_root(state, &block).unwrap();
        let full = state_root(&FromScratch(state), &block).unwrap();
        assert_eq!(incremental.root, full.root);

        let mut group = group(c, "state_root/1m_accounts/block_1k_accounts_5k_slots");
        group.throughput(Throughput::Elements(1));
        group.bench_function("incremental", |b| b.iter(|| state_root(state, &block).unwrap()));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        group.bench_function("incremental_2_threads", |b| {
            b.iter(|| parallel_state_root(state, &block, Parallelism::Pool(&pool)).unwrap())
        });
        group.bench_function("full_recompute", |b| {
            b.iter(|| state_root(&FromScratch(state), &block).unwrap())
        });
        group.finish();
    }
}

mod parallel_storage_roots {
    use super::*;

    pub fn run(c: &mut Criterion) {
        let state = &*STATE;
        // 1,000 large tries (400 slots) with 20 changed slots each, and 1,000 small ones with 5.
        let mut block = block(0, 1_000, 20, true);
        let small = self::block(0, 1_000, 5, false);
        block.accounts.extend(small.accounts);
        block.storages.extend(small.storages);
        let mut group = group(c, "state_root/2k_storage_tries");
        group.throughput(Throughput::Elements(block.storages.len() as u64));
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            group.bench_function(format!("threads_{threads}"), |b| {
                b.iter(|| parallel_state_root(state, &block, Parallelism::Pool(&pool)).unwrap())
            });
        }
        group.finish();
    }
}

criterion_group!(benches, incremental_vs_full::run, parallel_storage_roots::run);
criterion_main!(benches);
