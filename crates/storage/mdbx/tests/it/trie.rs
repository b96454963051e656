//! The hashed and trie tables through the real store: the incremental root after every block equals
//! alloy-trie's from-scratch root, unwinds restore the trie, and proofs verify at the head and earlier blocks.

use crate::{CHAIN_ID, block, temp_store};
use alloy_trie::proof::verify_proof;
use balnode_primitives::{
    Account, Address, B256, EMPTY_ROOT_HASH, StateChanges, StorageChanges, U256, keccak256, rlp,
    trie::Nibbles,
};
use balnode_storage_api::{BlockToCommit, BlockWriter, StateProofProvider};
use balnode_storage_mdbx::DatabaseEnv;
use balnode_trie::{HashedPostState, Parallelism, parallel_state_root, test_utils::PlainState};
use proptest::prelude::*;

fn account() -> impl Strategy<Value = Account> {
    (0u64..3, 0u64..1000, prop::option::weighted(0.2, (1u8..3).prop_map(B256::repeat_byte)))
        .prop_map(|(nonce, balance, bytecode_hash)| Account {
            nonce,
            balance: U256::from(balance),
            bytecode_hash,
        })
}

/// A block's changes: creations, updates, removals (with their storage wiped, as execution reports a
/// destroyed account), emptied accounts, slot writes and deletions, and wipes followed by writes.
fn changes(accounts: u8, slots: u8, max: usize) -> impl Strategy<Value = StateChanges> {
    let address = (0..accounts).prop_map(Address::with_last_byte);
    let change = prop_oneof![6 => account().prop_map(Some), 1 => Just(Some(Account::default())), 2 => Just(None)];
    let storage = (
        prop::bool::weighted(0.1),
        prop::collection::btree_map(
            (0..slots).prop_map(B256::with_last_byte),
            prop_oneof![3 => (1u64..500).prop_map(U256::from), 1 => Just(U256::ZERO)],
            0..slots as usize,
        ),
    );
    (
        prop::collection::btree_map(address.clone(), change, 0..max),
        prop::collection::btree_map(address, storage, 0..max),
    )
        .prop_map(|(accounts, storage)| {
            let mut changes = StateChanges { accounts, ..Default::default() };
            for (address, (wiped, slots)) in storage {
                if changes.accounts.get(&address).is_none_or(Option::is_some) {
                    changes.storage.insert(address, StorageChanges { wiped, slots });
                }
            }
            for (address, account) in &changes.accounts {
                if account.is_none() {
                    changes
                        .storage
                        .insert(*address, StorageChanges { wiped: true, ..Default::default() });
                }
            }
            changes
        })
}

/// The chain of `changes`, each block's header carrying the model's root; with the states after each block.
fn chain(changes: &[StateChanges]) -> (Vec<BlockToCommit>, Vec<PlainState>) {
    let mut model = PlainState::default();
    let mut blocks: Vec<BlockToCommit> = Vec::new();
    let mut models = Vec::new();
    for state in changes {
        model.apply(state);
        let mut next = block(blocks.last(), state.clone());
        next.header.state_root = model.root();
        next.hash = next.header.hash_slow();
        blocks.push(next);
        models.push(model.clone());
    }
    (blocks, models)
}

/// Commits `blocks` one at a time: odd ones with the trie updates computed as the import path does (in
/// parallel over the latest snapshot), even ones leaving the writer to compute them.
fn commit(env: &DatabaseEnv, blocks: &[BlockToCommit]) {
    for mut block in blocks.iter().cloned() {
        if block.header.number % 2 == 1 {
            let latest = env.provider().unwrap().into_latest().unwrap();
            let hashed = HashedPostState::from_changes(&block.state);
            let output = parallel_state_root(&latest, &hashed, Parallelism::CurrentPool).unwrap();
            assert_eq!(output.root, block.header.state_root, "block {}", block.header.number);
            block.trie_updates = Some(output.updates);
        }
        if block.header.number == 0 {
            env.init_genesis(CHAIN_ID, block).unwrap();
        } else {
            env.commit_blocks(vec![block]).unwrap();
        }
    }
}

/// Checks that the store's tables are consistent and give `root`.
fn check_root(env: &DatabaseEnv, root: B256, context: &str) -> Result<(), TestCaseError> {
    let report = env.verify_root().unwrap();
    prop_assert!(report.is_consistent(), "{}: {:?}", context, report);
    prop_assert_eq!(report.trie.root, root, "{}", context);
    Ok(())
}

/// Checks proofs of every address in `0..accounts` and two slots each after block `number`.
fn check_proofs(
    env: &DatabaseEnv,
    number: u64,
    model: &PlainState,
    accounts: u8,
) -> Result<(), TestCaseError> {
    let root = model.root();
    for n in 0..accounts {
        let address = Address::with_last_byte(n);
        let slots = [B256::with_last_byte(n % 7), B256::with_last_byte(3)];
        let proof = env.proof(number, address, &slots).unwrap();
        let account = model.accounts.get(&address);
        prop_assert_eq!(proof.account.as_ref(), account, "block {} account {}", number, address);
        let key = Nibbles::unpack(keccak256(address));
        let leaf = account
            .map(|account| rlp::encode(account.to_trie_account(model.storage_root(&address))));
        prop_assert_eq!(
            verify_proof(root, key, leaf, &proof.account_proof),
            Ok(()),
            "block {} account {}",
            number,
            address
        );
        let storage_root =
            if account.is_some() { model.storage_root(&address) } else { EMPTY_ROOT_HASH };
        prop_assert_eq!(proof.storage_hash(), storage_root);
        for slot in &proof.storage_proofs {
            let value = model
                .storage
                .get(&address)
                .and_then(|s| s.get(&slot.key))
                .copied()
                .filter(|_| account.is_some());
            prop_assert_eq!(slot.value, value.unwrap_or_default());
            let expected = value.map(rlp::encode);
            let key = Nibbles::unpack(keccak256(slot.key));
            prop_assert_eq!(
                verify_proof(storage_root, key, expected, &slot.proof),
                Ok(()),
                "block {} slot {}",
                number,
                slot.key
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// After every block the stored trie gives alloy-trie's root and matches a full recompute node by node;
    /// an unwind restores the trie of the earlier block, and committing the blocks again gives the same roots.
    #[test]
    fn incremental_root_through_the_store(
        genesis in changes(120, 30, 120),
        rest in prop::collection::vec(changes(120, 30, 12), 1..5),
        target in any::<prop::sample::Index>(),
    ) {
        let all: Vec<_> = std::iter::once(genesis).chain(rest).collect();
        let (blocks, models) = chain(&all);
        let (_dir, env) = temp_store();
        for (index, block) in blocks.iter().enumerate() {
            commit(&env, std::slice::from_ref(block));
            check_root(&env, models[index].root(), &format!("after block {index}"))?;
        }
        let target = target.index(blocks.len() - 1);
        env.unwind_to(target as u64).unwrap();
        check_root(&env, models[target].root(), &format!("unwound to {target}"))?;
        commit(&env, &blocks[target + 1..]);
        check_root(&env, models.last().unwrap().root(), "committed again")?;
    }

    /// Proofs verify with alloy-trie at the head and at every earlier block.
    #[test]
    fn proofs_at_every_block(
        genesis in changes(40, 10, 40),
        rest in prop::collection::vec(changes(40, 10, 8), 1..4),
    ) {
        let all: Vec<_> = std::iter::once(genesis).chain(rest).collect();
        let (blocks, models) = chain(&all);
        let (_dir, env) = temp_store();
        commit(&env, &blocks);
        for (number, model) in models.iter().enumerate() {
            check_proofs(&env, number as u64, model, 42)?;
        }
        prop_assert!(env.proof(blocks.len() as u64, Address::ZERO, &[]).is_err());
    }
}
