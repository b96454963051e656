//! The chain driver end to end on the dev chain: blocks produced from transactions, payloads built with
//! attributes, and a reorg onto a longer sibling branch that leaves the store as a node that only saw it.

#![allow(missing_docs)]

use std::sync::Arc;

use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use balnode_chainspec::{dev, dev_accounts};
use balnode_devnet::{
    BlockAttributes, Chain, PayloadStatus, PoolCandidate, TransactionSource, dev_attributes,
};
use balnode_import::{Importer, init_genesis};
use balnode_primitives::{
    Address, B256, TxEnvelope, U256,
    consensus::{SignableTransaction, TxEip1559},
    eips::eip2930::AccessList,
    primitives::TxKind,
};
use balnode_storage_api::{
    AccountReader, BlockReader, ChainInfoReader, HeaderProvider, PlainStateReader,
    StateProviderFactory,
};
use balnode_storage_mdbx::DatabaseEnv;
use parking_lot::Mutex;

/// A pool stand-in: offers every transaction it holds, forgets those whose nonce is used.
#[derive(Default)]
struct Transactions {
    store: Mutex<Option<DatabaseEnv>>,
    held: Mutex<Vec<PoolCandidate>>,
}

impl TransactionSource for Transactions {
    fn best_transactions(
        &self,
        _base_fee: u64,
        _blob_base_fee: Option<u128>,
    ) -> Vec<PoolCandidate> {
        self.held.lock().clone()
    }

    fn on_canonical_state_change(&self) {
        let store = self.store.lock();
        let Some(store) = store.as_ref() else { return };
        let state = store.latest().unwrap();
        self.held.lock().retain(|candidate| {
            let nonce =
                state.basic_account(candidate.sender).unwrap().map_or(0, |account| account.nonce);
            balnode_primitives::consensus::Transaction::nonce(&candidate.transaction) >= nonce
        });
    }

    fn reinject(&self, transactions: Vec<(TxEnvelope, Address)>) {
        self.held.lock().extend(
            transactions.into_iter().map(|(transaction, sender)| PoolCandidate {
                transaction,
                sender,
                sidecar: None,
            }),
        );
    }
}

fn transfer(account: usize, nonce: u64, to: Address, value: u64) -> PoolCandidate {
    let key = &dev_accounts()[account];
    let signer = PrivateKeySigner::from_bytes(&key.private_key).unwrap();
    let tx = TxEip1559 {
        chain_id: dev().chain_id(),
        nonce,
        gas_limit: 300_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        access_list: AccessList::default(),
        input: Default::default(),
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    PoolCandidate {
        transaction: TxEnvelope::from(tx.into_signed(signature)),
        sender: key.address,
        sidecar: None,
    }
}

fn node(dir: &tempfile::TempDir) -> (Chain, Arc<Transactions>) {
    let spec = dev();
    let store = DatabaseEnv::open(dir.path()).unwrap();
    init_genesis(&spec, &store).unwrap();
    let source = Arc::new(Transactions::default());
    *source.store.lock() = Some(store.clone());
    let chain = Chain::new(Importer::new(spec, store), Some(source.clone()));
    (chain, source)
}

#[test]
fn produced_blocks_carry_their_transactions_and_a_verified_access_list() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, source) = node(&dir);
    let to = Address::repeat_byte(0x42);
    source.held.lock().extend([
        transfer(0, 0, to, 5),
        transfer(0, 1, to, 6),
        transfer(1, 0, to, 7),
    ]);
    let produced = chain.produce_block(None, false).unwrap().unwrap();
    let block = &produced.payload.block;
    assert_eq!(block.header.number, 1);
    assert_eq!(block.body.transactions.len(), 3);
    assert!(produced.payload.skipped.is_empty(), "{:?}", produced.payload.skipped);
    let store = chain.store();
    assert_eq!(store.chain_info().unwrap().head_hash, produced.payload.hash);
    let receipts = store.receipts(1).unwrap().unwrap();
    assert!(receipts.iter().all(|receipt| receipt.status()), "{receipts:?}");
    let account = store.latest().unwrap().basic_account(to).unwrap();
    assert_eq!(account.map(|account| account.balance), Some(U256::from(18)));
    // The access list is stored, and its hash is in the header.
    let list = store.block_access_list(1).unwrap().expect("an Amsterdam block keeps its list");
    assert_eq!(Some(balnode_primitives::keccak256(&list)), block.header.block_access_list_hash);
    // The pool's transactions are mined: the next block is empty.
    assert!(source.held.lock().is_empty());
    let empty = chain.produce_block(None, false).unwrap().unwrap();
    assert!(empty.payload.block.body.transactions.is_empty());
    assert!(
        chain.produce_block(None, true).unwrap().is_none(),
        "nothing to include, nothing produced"
    );
    assert_eq!(store.chain_info().unwrap().head_number, 2);
}

#[test]
fn a_nonce_gap_and_an_unfunded_sender_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, source) = node(&dir);
    let to = Address::repeat_byte(0x42);
    // Nonce 1 before nonce 0 has been mined: left out, with the sender's later transactions.
    source.held.lock().extend([
        transfer(2, 1, to, 1),
        transfer(2, 2, to, 1),
        transfer(3, 0, to, 1),
    ]);
    let produced = chain.produce_block(None, false).unwrap().unwrap();
    assert_eq!(produced.payload.block.body.transactions.len(), 1);
    assert_eq!(produced.payload.skipped.len(), 2);
    assert!(produced.payload.skipped[0].reason.contains("nonce"), "{:?}", produced.payload.skipped);
}

/// Builds `count` blocks on the head through `forkchoiceUpdated` with attributes and `newPayload`, as a
/// consensus client does; `salt` makes the branch differ from another node's.
fn build_branch(
    chain: &Chain,
    source: &Transactions,
    count: u64,
    salt: u8,
) -> Vec<balnode_devnet::Payload> {
    let mut payloads = Vec::new();
    for i in 0..count {
        let store = chain.store();
        let info = store.chain_info().unwrap();
        let parent = store.header_by_number(info.head_number).unwrap().unwrap();
        let nonce = info.head_number;
        source.held.lock().push(transfer(
            usize::from(salt),
            nonce,
            Address::repeat_byte(salt),
            1 + i,
        ));
        let attributes = BlockAttributes {
            fee_recipient: Address::repeat_byte(salt),
            ..dev_attributes(chain.spec(), &parent, info.head_hash)
        };
        let outcome = chain
            .forkchoice_updated(info.head_hash, B256::ZERO, B256::ZERO, Some(&attributes))
            .unwrap();
        assert_eq!(outcome.status, PayloadStatus::Valid { latest_valid_hash: info.head_hash });
        let payload = chain.payload(outcome.payload_id.unwrap()).unwrap();
        assert_eq!(payload.block.body.transactions.len(), 1, "{:?}", payload.skipped);
        let status =
            chain.new_payload(payload.block.clone(), payload.block_access_list.clone()).unwrap();
        assert_eq!(status, PayloadStatus::Valid { latest_valid_hash: payload.hash });
        let outcome = chain.forkchoice_updated(payload.hash, B256::ZERO, B256::ZERO, None).unwrap();
        assert_eq!(outcome.status, PayloadStatus::Valid { latest_valid_hash: payload.hash });
        payloads.push((*payload).clone());
    }
    payloads
}

#[test]
fn a_reorg_onto_a_longer_branch_leaves_the_state_of_a_node_that_only_saw_it() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (node_a, source_a) = node(&dir_a);
    let (node_b, source_b) = node(&dir_b);
    let branch_a = build_branch(&node_a, &source_a, 4, 1);
    let branch_b = build_branch(&node_b, &source_b, 5, 2);
    assert_ne!(branch_a[0].hash, branch_b[0].hash);

    // Node A hears of B's branch: side blocks, kept until a forkchoice names them.
    for (i, payload) in branch_b.iter().enumerate() {
        let status =
            node_a.new_payload(payload.block.clone(), payload.block_access_list.clone()).unwrap();
        assert_eq!(status, PayloadStatus::Accepted, "block {i}");
    }
    // A block whose parent nobody has: syncing.
    let mut orphan = branch_b[4].block.clone();
    orphan.header.parent_hash = B256::repeat_byte(9);
    assert_eq!(node_a.new_payload(orphan, None).unwrap(), PayloadStatus::Syncing);

    let head_b = branch_b.last().unwrap().hash;
    let finalized = branch_b[0].hash;
    let outcome = node_a.forkchoice_updated(head_b, B256::ZERO, B256::ZERO, None).unwrap();
    assert_eq!(outcome.status, PayloadStatus::Valid { latest_valid_hash: head_b });

    let (store_a, store_b) = (node_a.store(), node_b.store());
    assert_eq!(store_a.chain_info().unwrap(), store_b.chain_info().unwrap());
    let accounts = |store: &DatabaseEnv| {
        store.provider().unwrap().into_latest().unwrap().plain_accounts().unwrap()
    };
    assert_eq!(accounts(store_a), accounts(store_b));
    for number in 1..=5 {
        assert_eq!(
            store_a.header_by_number(number).unwrap(),
            store_b.header_by_number(number).unwrap()
        );
        assert_eq!(store_a.receipts(number).unwrap(), store_b.receipts(number).unwrap());
    }
    // A's own transactions went back to its pool.
    assert_eq!(source_a.held.lock().len(), 4);

    // And back: A's old branch is a side branch now; naming its head reorganises again.
    let head_a = branch_a.last().unwrap().hash;
    let outcome = node_a.forkchoice_updated(head_a, B256::ZERO, B256::ZERO, None).unwrap();
    assert_eq!(outcome.status, PayloadStatus::Valid { latest_valid_hash: head_a });
    assert_eq!(store_a.chain_info().unwrap().head_number, 4);
    // B's first block is not canonical now: naming it safe or finalized is refused.
    let error = node_a.forkchoice_updated(head_a, finalized, finalized, None).unwrap_err();
    assert!(error.to_string().contains("not on the chain"), "{error}");
    // Once A's first block is finalized, B's branch can never be canonical: it is forgotten.
    let outcome =
        node_a.forkchoice_updated(head_a, branch_a[0].hash, branch_a[0].hash, None).unwrap();
    assert_eq!(outcome.status, PayloadStatus::Valid { latest_valid_hash: head_a });
    let outcome = node_a.forkchoice_updated(head_b, B256::ZERO, B256::ZERO, None).unwrap();
    assert_eq!(outcome.status, PayloadStatus::Syncing);
}

#[test]
fn an_invalid_branch_is_refused_and_the_canonical_chain_kept() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (node_a, source_a) = node(&dir_a);
    let (node_b, source_b) = node(&dir_b);
    let branch_a = build_branch(&node_a, &source_a, 3, 1);
    let branch_b = build_branch(&node_b, &source_b, 4, 2);
    // B's third block with a wrong state root: its hash changes, and so must the fourth's parent.
    let mut bad = branch_b[2].block.clone();
    bad.header.state_root = B256::repeat_byte(1);
    let bad_hash = bad.header.hash_slow();
    let mut child = branch_b[3].block.clone();
    child.header.parent_hash = bad_hash;
    let child_hash = child.header.hash_slow();
    for (block, list) in [
        (branch_b[0].block.clone(), branch_b[0].block_access_list.clone()),
        (branch_b[1].block.clone(), branch_b[1].block_access_list.clone()),
        (bad, branch_b[2].block_access_list.clone()),
        (child, branch_b[3].block_access_list.clone()),
    ] {
        assert_eq!(node_a.new_payload(block, list).unwrap(), PayloadStatus::Accepted);
    }
    let outcome = node_a.forkchoice_updated(child_hash, B256::ZERO, B256::ZERO, None).unwrap();
    let PayloadStatus::Invalid { latest_valid_hash, error } = outcome.status else {
        panic!("{outcome:?}")
    };
    assert_eq!(latest_valid_hash, Some(branch_b[1].hash));
    assert!(error.contains("state root"), "{error}");
    // A's chain is back, whole.
    let info = node_a.store().chain_info().unwrap();
    assert_eq!((info.head_number, info.head_hash), (3, branch_a[2].hash));
    // The invalid block's descendant is invalid too, at once.
    let outcome = node_a.forkchoice_updated(child_hash, B256::ZERO, B256::ZERO, None).unwrap();
    assert!(matches!(outcome.status, PayloadStatus::Invalid { .. }));
}
