//! State after every block, read through the history indexes, and what survives a reopen.

use crate::{Written, scenario, temp_store};
use balnode_storage_api::{
    BlockHashReader, BlockReader, ChainInfoReader, HeaderProvider, ProviderError,
    StateProviderFactory,
};
use balnode_storage_mdbx::DatabaseEnv;

#[test]
fn state_after_every_block_matches_the_model() {
    let (_dir, env) = temp_store();
    let written = Written::commit(&env, scenario(), 1);
    written.check_states(&env);

    let head = written.blocks.len() as u64 - 1;
    assert!(matches!(
        env.state_at(head + 1),
        Err(ProviderError::StateNotAvailable { requested, head: h }) if requested == head + 1 && h == head
    ));
}

#[test]
fn batches_write_the_same_history_as_single_blocks() {
    let (_dir, env) = temp_store();
    Written::commit(&env, scenario(), 4).check_states(&env);
}

#[test]
fn headers_and_chain_info_are_readable() {
    let (_dir, env) = temp_store();
    let written = Written::commit(&env, scenario(), 2);
    for block in &written.blocks {
        let number = block.header.number;
        assert_eq!(env.header_by_number(number).unwrap().as_ref(), Some(&block.header));
        assert_eq!(env.header(block.hash).unwrap().as_ref(), Some(&block.header));
        assert_eq!(env.block_hash(number).unwrap(), Some(block.hash));
        assert_eq!(env.block_number(block.hash).unwrap(), Some(number));
        assert_eq!(env.body(number).unwrap(), Some(block.body.clone()));
        assert_eq!(env.senders(number).unwrap(), Some(vec![]));
        assert_eq!(env.receipts(number).unwrap(), Some(vec![]));
        assert_eq!(env.block_access_list(number).unwrap(), None);
    }
    let head = written.blocks.last().unwrap();
    let info = env.chain_info().unwrap();
    assert_eq!((info.head_number, info.head_hash), (head.header.number, head.hash));
    assert_eq!((info.chain_id, info.genesis_hash), (crate::CHAIN_ID, written.blocks[0].hash));
    assert_eq!(env.header_by_number(head.header.number + 1).unwrap(), None);
}

#[test]
fn bytecode_is_readable_at_every_block() {
    let (_dir, env) = temp_store();
    let written = Written::commit(&env, scenario(), 1);
    let (hash, code) = written.blocks[0].state.bytecodes.first_key_value().unwrap();
    for number in 0..written.blocks.len() as u64 {
        assert_eq!(
            env.state_at(number).unwrap().bytecode_by_hash(*hash).unwrap().as_ref(),
            Some(code)
        );
    }
}

#[test]
fn everything_survives_a_reopen() {
    let (dir, env) = temp_store();
    let written = Written::commit(&env, scenario(), 3);
    let info = env.chain_info().unwrap();
    drop(env);

    let env = DatabaseEnv::open(dir.path()).unwrap();
    assert_eq!(env.chain_info().unwrap(), info);
    written.check_states(&env);
    for block in &written.blocks {
        assert_eq!(
            env.header_by_number(block.header.number).unwrap().as_ref(),
            Some(&block.header)
        );
    }
}

#[test]
fn the_plain_state_dump_is_the_model_at_the_head() {
    use balnode_storage_api::PlainStateReader;
    let (_dir, env) = temp_store();
    let written = Written::commit(&env, scenario(), 3);
    let head = written.states.last().unwrap();
    let latest = env.provider().unwrap().into_latest().unwrap();
    let accounts = latest.plain_accounts().unwrap();
    assert_eq!(accounts, head.accounts.iter().map(|(a, b)| (*a, *b)).collect::<Vec<_>>());
    for address in head.accounts.keys().chain(head.storage.keys()) {
        let expected: Vec<_> =
            head.storage.get(address).into_iter().flatten().map(|(s, v)| (*s, *v)).collect();
        assert_eq!(latest.plain_storage(*address).unwrap(), expected, "storage of {address}");
    }
}

#[test]
fn state_views_answer_block_hashes_up_to_their_block() {
    let (_dir, env) = temp_store();
    let written = Written::commit(&env, scenario(), 2);
    let head = written.blocks.len() as u64 - 1;
    for view_block in 0..=head {
        let state = env.state_at(view_block).unwrap();
        for block in &written.blocks {
            let number = block.header.number;
            let expected = (number <= view_block).then_some(block.hash);
            assert_eq!(
                state.block_hash(number).unwrap(),
                expected,
                "view at {view_block}, block {number}"
            );
        }
    }
}
