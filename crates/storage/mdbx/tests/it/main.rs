//! Integration tests of the MDBX store: history, reopening, concurrent readers, unwinds, identity checks and
//! blocks with transactions. Each test works in its own temporary datadir.

mod blocks;
mod concurrency;
mod history;
mod identity;
mod trie;
mod unwind;

use balnode_primitives::{
    Account, Address, B256, BlockBody, Header, StateChanges, StorageChanges, U256,
};
use balnode_storage_api::{BlockToCommit, BlockWriter, StateProvider, StateProviderFactory};
use balnode_storage_mdbx::DatabaseEnv;
use std::collections::{BTreeMap, BTreeSet};
use tempfile::TempDir;

/// The chain id every test initialises its store with.
const CHAIN_ID: u64 = 1337;

/// A store in a fresh temporary datadir, removed when dropped.
fn temp_store() -> (TempDir, DatabaseEnv) {
    let dir = tempfile::tempdir().unwrap();
    let env = DatabaseEnv::open(dir.path()).unwrap();
    (dir, env)
}

/// A block without transactions on top of `parent` (`None` for genesis), making `state`.
fn block(parent: Option<&BlockToCommit>, state: StateChanges) -> BlockToCommit {
    let header = Header {
        number: parent.map_or(0, |parent| parent.header.number + 1),
        parent_hash: parent.map_or(B256::ZERO, |parent| parent.hash),
        gas_limit: 30_000_000,
        timestamp: parent.map_or(0, |parent| parent.header.timestamp + 12),
        ..Default::default()
    };
    BlockToCommit {
        hash: header.hash_slow(),
        header,
        body: BlockBody { transactions: vec![], ommers: vec![], withdrawals: None },
        senders: vec![],
        receipts: vec![],
        block_access_list: None,
        state,
        trie_updates: None,
    }
}

/// An account with `nonce` and `balance` and no code.
fn eoa(nonce: u64, balance: u64) -> Account {
    Account { nonce, balance: U256::from(balance), bytecode_hash: None }
}

/// A slot numbered `n`.
fn slot(n: u8) -> B256 {
    B256::with_last_byte(n)
}

/// Builds [`StateChanges`] one change at a time.
#[derive(Default)]
struct Changes(StateChanges);

impl Changes {
    fn account(mut self, address: Address, account: Option<Account>) -> Self {
        self.0.accounts.insert(address, account);
        self
    }

    fn storage(mut self, address: Address, slot: B256, value: u64) -> Self {
        self.0.storage.entry(address).or_default().slots.insert(slot, U256::from(value));
        self
    }

    fn wipe(mut self, address: Address) -> Self {
        self.0.storage.entry(address).or_default().wiped = true;
        self
    }

    fn code(mut self, hash: B256, code: &'static [u8]) -> Self {
        self.0.bytecodes.insert(hash, code.into());
        self
    }

    fn build(self) -> StateChanges {
        self.0
    }
}

/// What state should be, computed independently of the store by applying [`StateChanges`] to maps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Model {
    accounts: BTreeMap<Address, Account>,
    storage: BTreeMap<Address, BTreeMap<B256, U256>>,
}

impl Model {
    fn apply(&mut self, changes: &StateChanges) {
        for (address, account) in &changes.accounts {
            match account {
                Some(account) => self.accounts.insert(*address, *account),
                None => self.accounts.remove(address),
            };
        }
        for (address, StorageChanges { wiped, slots }) in &changes.storage {
            let storage = self.storage.entry(*address).or_default();
            if *wiped {
                storage.clear();
            }
            for (slot, value) in slots {
                if value.is_zero() {
                    storage.remove(slot);
                } else {
                    storage.insert(*slot, *value);
                }
            }
        }
    }

    /// Checks every account and slot of `universe` against `state`.
    fn check(&self, state: &dyn StateProvider, universe: &Universe, context: &str) {
        for address in &universe.addresses {
            let account = state.basic_account(*address).unwrap();
            assert_eq!(
                account,
                self.accounts.get(address).copied(),
                "{context}: account {address}"
            );
        }
        for (address, slot) in &universe.slots {
            let expected = self.storage.get(address).and_then(|storage| storage.get(slot)).copied();
            let value = state.storage(*address, *slot).unwrap();
            assert_eq!(value, expected, "{context}: slot {slot} of {address}");
        }
    }
}

/// Every account and slot a set of blocks touches: what a comparison of two states has to look at.
#[derive(Debug, Default)]
struct Universe {
    addresses: BTreeSet<Address>,
    slots: BTreeSet<(Address, B256)>,
}

impl Universe {
    fn of<'a>(blocks: impl IntoIterator<Item = &'a BlockToCommit>) -> Self {
        let mut universe = Self::default();
        for block in blocks {
            universe.addresses.extend(block.state.accounts.keys());
            for (address, storage) in &block.state.storage {
                universe.addresses.insert(*address);
                universe.slots.extend(storage.slots.keys().map(|slot| (*address, *slot)));
            }
        }
        universe
    }
}

/// A chain written to a store, with the expected state after each of its blocks.
struct Written {
    blocks: Vec<BlockToCommit>,
    states: Vec<Model>,
    universe: Universe,
}

impl Written {
    /// Initialises `env` with `blocks[0]` and commits the rest one batch of `batch` blocks at a time.
    fn commit(env: &DatabaseEnv, blocks: Vec<BlockToCommit>, batch: usize) -> Self {
        env.init_genesis(CHAIN_ID, blocks[0].clone()).unwrap();
        for chunk in blocks[1..].chunks(batch) {
            env.commit_blocks(chunk.to_vec()).unwrap();
        }
        let universe = Universe::of(&blocks);
        Self::new(blocks, universe)
    }

    /// The expected states of `blocks`, compared over `universe`.
    fn new(blocks: Vec<BlockToCommit>, universe: Universe) -> Self {
        let mut model = Model::default();
        let states = blocks
            .iter()
            .map(|block| {
                model.apply(&block.state);
                model.clone()
            })
            .collect();
        Self { blocks, states, universe }
    }

    /// Checks the state after every block, and the latest state, against the model.
    fn check_states(&self, env: &DatabaseEnv) {
        for (number, expected) in self.states.iter().enumerate() {
            let state = env.state_at(number as u64).unwrap();
            expected.check(&*state, &self.universe, &format!("after block {number}"));
        }
        let latest = env.latest().unwrap();
        self.states.last().unwrap().check(&*latest, &self.universe, "latest");
    }
}

/// Checks that the hashed and trie tables agree with the plain state (the scenarios' headers carry no real
/// state roots, so the header's root is not compared).
fn check_tables(env: &DatabaseEnv, context: &str) {
    let report = env.verify_root().unwrap();
    assert_eq!(report.hashed_mismatch, None, "{context}");
    assert_eq!(report.trie.first_mismatch, None, "{context}");
    assert_eq!(report.trie.root, report.plain_root, "{context}");
    assert_eq!(report.trie.stored_root, report.plain_root, "{context}");
}

/// Addresses used by the scenarios.
const ALICE: Address = Address::repeat_byte(0xa1);
const BOB: Address = Address::repeat_byte(0xb0);
const CAROL: Address = Address::repeat_byte(0xca);
const DAVE: Address = Address::repeat_byte(0xda);

/// A chain of seven blocks whose state changes cover every case the writer distinguishes: accounts created,
/// modified, deleted and re-created; slots written, overwritten, zeroed, wiped, and wiped then re-written.
fn scenario() -> Vec<BlockToCommit> {
    let code_hash = B256::repeat_byte(0xc0);
    let contract = Account { nonce: 1, balance: U256::from(50), bytecode_hash: Some(code_hash) };
    let genesis = block(
        None,
        Changes::default()
            .account(ALICE, Some(eoa(0, 100)))
            .account(BOB, Some(contract))
            .storage(BOB, slot(1), 1)
            .storage(BOB, slot(2), 2)
            .code(code_hash, b"\x60\x00")
            .build(),
    );
    let b1 = block(
        Some(&genesis),
        Changes::default()
            .account(ALICE, Some(eoa(1, 90)))
            .account(CAROL, Some(eoa(0, 10)))
            .storage(BOB, slot(1), 11)
            .storage(BOB, slot(3), 3)
            .build(),
    );
    let b2 = block(
        Some(&b1),
        Changes::default()
            .account(ALICE, Some(eoa(2, 80)))
            .account(CAROL, None)
            .storage(BOB, slot(2), 0)
            .storage(BOB, slot(4), 0)
            .build(),
    );
    let b3 = block(
        Some(&b2),
        Changes::default()
            .account(BOB, Some(Account { nonce: 2, ..contract }))
            .wipe(BOB)
            .storage(BOB, slot(1), 111)
            .storage(BOB, slot(5), 5)
            .account(DAVE, Some(eoa(0, 0)))
            .storage(DAVE, slot(1), 7)
            .build(),
    );
    let b4 = block(
        Some(&b3),
        Changes::default()
            .account(BOB, None)
            .wipe(BOB)
            .account(CAROL, Some(eoa(0, 1)))
            .storage(DAVE, slot(1), 8)
            .storage(DAVE, slot(2), 9)
            .build(),
    );
    let b5 = block(
        Some(&b4),
        Changes::default().account(BOB, Some(contract)).storage(BOB, slot(2), 22).build(),
    );
    let b6 = block(Some(&b5), StateChanges::default());
    vec![genesis, b1, b2, b3, b4, b5, b6]
}
