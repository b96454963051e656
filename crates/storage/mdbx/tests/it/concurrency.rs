//! Readers on many threads while one writer commits.

use crate::{CHAIN_ID, Changes, block, eoa, slot, temp_store};
use balnode_primitives::{Address, U256};
use balnode_storage_api::{
    BlockToCommit, BlockWriter, ChainInfoReader, HeaderProvider, StateProvider,
    StateProviderFactory,
};
use std::{
    sync::{
        Barrier,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

const COUNTER: Address = Address::repeat_byte(0xcc);

/// A block after which the counter account's nonce and its slot 0 are both the block number.
fn counting_block(parent: Option<&BlockToCommit>) -> BlockToCommit {
    let number = parent.map_or(0, |parent| parent.header.number + 1);
    let state = Changes::default()
        .account(COUNTER, Some(eoa(number, 1)))
        .storage(COUNTER, slot(0), number)
        .build();
    block(parent, state)
}

/// Checks that `state` is the state after block `number`.
fn check_counter(state: &dyn StateProvider, number: u64) {
    assert_eq!(state.basic_account(COUNTER).unwrap().map(|account| account.nonce), Some(number));
    let expected = (number > 0).then(|| U256::from(number));
    assert_eq!(state.storage(COUNTER, slot(0)).unwrap(), expected);
}

#[test]
fn readers_keep_their_snapshot_while_blocks_are_committed() {
    let (_dir, env) = temp_store();
    let mut head = counting_block(None);
    env.init_genesis(CHAIN_ID, head.clone()).unwrap();
    for _ in 0..3 {
        head = counting_block(Some(&head));
        env.commit_blocks(vec![head.clone()]).unwrap();
    }
    let snapshot_head = head.header.number;

    const HOLDERS: usize = 4;
    let opened = Barrier::new(HOLDERS + 1);
    let committed = Barrier::new(HOLDERS + 1);
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        // Readers that open their views before the commits and read them after.
        for _ in 0..HOLDERS {
            scope.spawn(|| {
                let provider = env.provider().unwrap();
                let latest = env.latest().unwrap();
                let historical = env.state_at(1).unwrap();
                opened.wait();
                committed.wait();
                assert_eq!(provider.chain_info().unwrap().head_number, snapshot_head);
                assert_eq!(provider.header_by_number(snapshot_head + 1).unwrap(), None);
                check_counter(&*latest, snapshot_head);
                check_counter(&*historical, 1);
                check_counter(&provider.into_latest().unwrap(), snapshot_head);
            });
        }
        // Readers that keep opening views during the commits: each must be consistent in itself.
        for _ in 0..2 {
            scope.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    let provider = env.provider().unwrap();
                    let head = provider.chain_info().unwrap().head_number;
                    assert!(provider.header_by_number(head).unwrap().is_some());
                    check_counter(&provider.into_latest().unwrap(), head);
                }
            });
        }
        opened.wait();
        let mut parent = head.clone();
        for _ in 0..20 {
            parent = counting_block(Some(&parent));
            env.commit_blocks(vec![parent.clone()]).unwrap();
        }
        committed.wait();
        done.store(true, Ordering::Relaxed);
    });

    let head = env.chain_info().unwrap().head_number;
    assert_eq!(head, snapshot_head + 20);
    for number in 0..=head {
        check_counter(&*env.state_at(number).unwrap(), number);
    }
}

#[test]
fn the_store_is_shareable() {
    fn assert_shareable<T: Send + Sync + Clone + 'static>() {}
    assert_shareable::<balnode_storage_mdbx::DatabaseEnv>();
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<balnode_storage_mdbx::ProviderRo>();
}
