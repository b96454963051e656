//! Opening, initialising and checking which chain a datadir holds.

use crate::{CHAIN_ID, block, scenario, temp_store};
use balnode_primitives::B256;
use balnode_storage_api::{
    BlockWriter, ChainInfoReader, HeaderProvider, ProviderError, StateProviderFactory,
};
use balnode_storage_mdbx::{DatabaseEnv, StoreError};

#[test]
fn an_empty_store_is_not_initialised() {
    let (dir, env) = temp_store();
    assert!(dir.path().join("db").is_dir());
    assert_eq!(env.path(), dir.path().join("db"));
    assert_eq!(env.chain_identity().unwrap(), None);
    assert!(matches!(env.chain_info(), Err(ProviderError::NotInitialized)));
    assert!(matches!(env.latest(), Err(ProviderError::NotInitialized)));
    assert!(matches!(env.state_at(0), Err(ProviderError::NotInitialized)));
    assert!(matches!(env.unwind_to(0), Err(ProviderError::NotInitialized)));
    let genesis = block(None, Default::default());
    assert!(matches!(
        env.commit_blocks(vec![block(Some(&genesis), Default::default())]),
        Err(ProviderError::NotInitialized)
    ));
    assert!(matches!(
        env.check_genesis(CHAIN_ID, genesis.hash),
        Err(StoreError::Provider(ProviderError::NotInitialized))
    ));
    assert_eq!(env.header_by_number(0).unwrap(), None);
}

#[test]
fn genesis_records_the_identity() {
    let (_dir, env) = temp_store();
    let genesis = scenario().remove(0);
    env.init_genesis(CHAIN_ID, genesis.clone()).unwrap();
    assert_eq!(env.chain_identity().unwrap(), Some((CHAIN_ID, genesis.hash)));
    env.check_genesis(CHAIN_ID, genesis.hash).unwrap();
    let info = env.chain_info().unwrap();
    assert_eq!((info.head_number, info.head_hash), (0, genesis.hash));
}

#[test]
fn genesis_is_written_once() {
    let (_dir, env) = temp_store();
    let genesis = scenario().remove(0);
    env.init_genesis(CHAIN_ID, genesis.clone()).unwrap();
    let other = block(None, Default::default());
    let err = env.init_genesis(CHAIN_ID + 1, other).unwrap_err();
    assert!(
        matches!(err, ProviderError::NotNextBlock { number: 0, expected_number: 1, expected_parent, .. }
            if expected_parent == genesis.hash),
        "{err}"
    );
    assert_eq!(env.chain_identity().unwrap(), Some((CHAIN_ID, genesis.hash)));
    assert_eq!(env.header_by_number(0).unwrap(), Some(genesis.header));
}

#[test]
fn genesis_must_be_block_zero() {
    let (_dir, env) = temp_store();
    let genesis = block(None, Default::default());
    let not_genesis = block(Some(&genesis), Default::default());
    assert!(matches!(
        env.init_genesis(CHAIN_ID, not_genesis),
        Err(ProviderError::NotNextBlock { number: 1, expected_number: 0, .. })
    ));
    assert_eq!(env.chain_identity().unwrap(), None);
}

#[test]
fn another_chain_is_refused() {
    let (dir, env) = temp_store();
    let genesis = scenario().remove(0);
    env.init_genesis(CHAIN_ID, genesis.clone()).unwrap();
    let other_hash = B256::repeat_byte(0xee);

    let err = env.check_genesis(1, other_hash).unwrap_err();
    assert!(matches!(
        err,
        StoreError::GenesisMismatch { stored_chain_id: CHAIN_ID, expected_chain_id: 1, .. }
    ));
    let message = err.to_string();
    for part in [
        dir.path().join("db").display().to_string(),
        format!("chain id {CHAIN_ID} with genesis {}", genesis.hash),
        format!("not chain id 1 with genesis {other_hash}"),
        "use another --datadir or remove it".to_owned(),
    ] {
        assert!(message.contains(&part), "{message:?} lacks {part:?}");
    }
    // The same genesis on another chain id is another chain too.
    assert!(env.check_genesis(CHAIN_ID + 1, genesis.hash).is_err());

    // Neither opening an initialised datadir nor a failed check writes anything.
    drop(env);
    let data_file = dir.path().join("db").join("mdbx.dat");
    let before = std::fs::read(&data_file).unwrap();
    let env = DatabaseEnv::open(dir.path()).unwrap();
    assert!(env.check_genesis(1, other_hash).is_err());
    drop(env);
    assert!(std::fs::read(&data_file).unwrap() == before, "the data file changed");

    let env = DatabaseEnv::open(dir.path()).unwrap();
    env.check_genesis(CHAIN_ID, genesis.hash).unwrap();
}
