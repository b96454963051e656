//! Rejected batches, unwinds, and committing again after an unwind.

use crate::{
    ALICE, BOB, CAROL, Changes, DAVE, Universe, Written, block, check_tables, eoa, scenario, slot,
    temp_store,
};
use balnode_primitives::{B256, Bytes};
use balnode_storage_api::{
    BlockHashReader, BlockReader, BlockWriter, ChainInfoReader, HeaderProvider, ProviderError,
    StateProviderFactory,
};
use balnode_storage_mdbx::DatabaseEnv;

/// Checks that the store's head is `head` and that nothing of `blocks` above it is readable.
fn check_head(env: &DatabaseEnv, head: &crate::BlockToCommit, blocks: &[crate::BlockToCommit]) {
    let info = env.chain_info().unwrap();
    assert_eq!((info.head_number, info.head_hash), (head.header.number, head.hash));
    for block in blocks.iter().filter(|block| block.header.number > head.header.number) {
        let number = block.header.number;
        assert_eq!(env.header_by_number(number).unwrap(), None);
        assert_eq!(env.header(block.hash).unwrap(), None);
        assert_eq!(env.block_hash(number).unwrap(), None);
        assert_eq!(env.block_number(block.hash).unwrap(), None);
        assert_eq!(env.body(number).unwrap(), None);
        assert_eq!(env.senders(number).unwrap(), None);
        assert_eq!(env.receipts(number).unwrap(), None);
        assert!(matches!(
            env.state_at(number),
            Err(ProviderError::StateNotAvailable { requested, head }) if requested == number && head == info.head_number
        ));
    }
}

#[test]
fn a_batch_with_a_bad_block_writes_nothing() {
    let (_dir, env) = temp_store();
    let written = Written::commit(&env, scenario(), 1);
    let head = written.blocks.last().unwrap();
    let good = block(
        Some(head),
        Changes::default().account(ALICE, Some(eoa(9, 9))).storage(BOB, slot(2), 99).build(),
    );
    let mut wrong_parent = block(Some(&good), Changes::default().account(CAROL, None).build());
    wrong_parent.header.parent_hash = B256::repeat_byte(1);
    wrong_parent.hash = wrong_parent.header.hash_slow();

    let err = env.commit_blocks(vec![good.clone(), wrong_parent]).unwrap_err();
    assert!(
        matches!(err, ProviderError::NotNextBlock { number: 8, expected_number: 8, expected_parent, parent, .. }
            if expected_parent == good.hash && parent == B256::repeat_byte(1)),
        "{err}"
    );
    let skipping = block(Some(&good), Default::default());
    let err = env.commit_blocks(vec![skipping]).unwrap_err();
    assert!(
        matches!(err, ProviderError::NotNextBlock { number: 8, expected_number: 7, .. }),
        "{err}"
    );

    check_head(&env, head, std::slice::from_ref(&good));
    written.check_states(&env);

    env.commit_blocks(vec![good.clone()]).unwrap();
    check_head(&env, &good, &[]);
}

#[test]
fn an_unwind_must_go_below_the_head() {
    let (_dir, env) = temp_store();
    let written = Written::commit(&env, scenario(), 1);
    let head = written.blocks.last().unwrap();
    for target in [head.header.number, head.header.number + 1] {
        assert!(matches!(
            env.unwind_to(target),
            Err(ProviderError::InvalidUnwind { target: t, head: h }) if t == target && h == head.header.number
        ));
    }
    check_head(&env, head, &[]);
    written.check_states(&env);
}

#[test]
fn unwind_restores_every_earlier_state_and_the_chain_commits_again() {
    let blocks = scenario();
    for target in 0..blocks.len() - 1 {
        let (_dir, env) = temp_store();
        let written = Written::commit(&env, blocks.clone(), 1);
        env.unwind_to(target as u64).unwrap();

        check_head(&env, &blocks[target], &blocks);
        let kept = Written::new(blocks[..=target].to_vec(), Universe::of(&blocks));
        kept.check_states(&env);
        check_tables(&env, &format!("unwound to {target}"));

        env.commit_blocks(blocks[target + 1..].to_vec()).unwrap();
        check_head(&env, blocks.last().unwrap(), &[]);
        written.check_states(&env);
        check_tables(&env, &format!("committed again after unwinding to {target}"));
    }
}

#[test]
fn a_fork_commits_on_top_of_an_unwind() {
    let (_dir, env) = temp_store();
    let blocks = scenario();
    Written::commit(&env, blocks.clone(), 2);
    env.unwind_to(2).unwrap();

    let mut fork3 = block(
        Some(&blocks[2]),
        Changes::default()
            .account(DAVE, Some(eoa(5, 5)))
            .storage(BOB, slot(1), 1000)
            .wipe(DAVE)
            .storage(DAVE, slot(9), 9)
            .build(),
    );
    // Headers do not commit to the state changes here, so make the fork's hashes differ explicitly.
    fork3.header.extra_data = Bytes::from_static(b"fork");
    fork3.hash = fork3.header.hash_slow();
    let fork4 = block(Some(&fork3), Changes::default().account(ALICE, None).wipe(BOB).build());
    env.commit_blocks(vec![fork3.clone(), fork4.clone()]).unwrap();

    let mut chain = blocks[..=2].to_vec();
    chain.extend([fork3, fork4.clone()]);
    // Compare over what both branches touched, so state left over from the unwound branch would show.
    let universe = Universe::of(blocks.iter().chain(&chain));
    Written::new(chain.clone(), universe).check_states(&env);
    check_head(&env, &fork4, &blocks);
    assert_eq!(env.header(blocks[3].hash).unwrap(), None);
    check_tables(&env, "fork");
}
