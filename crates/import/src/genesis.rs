//! Writing a chain's genesis into a store, the first block through the same writer as every other.

use balnode_chainspec::ChainSpec;
use balnode_primitives::{B256, Bytes, rlp::EMPTY_LIST_CODE};
use balnode_storage_api::{BlockToCommit, BlockWriter};
use balnode_storage_mdbx::{DatabaseEnv, StoreError};
use tracing::info;

/// What [`init_genesis`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenesisOutcome {
    /// The store was empty; the genesis is now written.
    Written(B256),
    /// The store already held this genesis; nothing was written.
    AlreadyThere(B256),
}

impl GenesisOutcome {
    /// The genesis hash.
    pub const fn hash(&self) -> B256 {
        match self {
            Self::Written(hash) | Self::AlreadyThere(hash) => *hash,
        }
    }
}

/// The genesis block of `spec` as the store's writer takes it.
pub fn genesis_to_commit(spec: &ChainSpec) -> BlockToCommit {
    let block = spec.genesis_block();
    // An Amsterdam genesis commits to the empty access list; keep it like any other block's.
    let block_access_list =
        block.header.block_access_list_hash.map(|_| Bytes::from_static(&[EMPTY_LIST_CODE]));
    BlockToCommit {
        hash: block.header.hash_slow(),
        header: block.header,
        body: block.body,
        senders: Vec::new(),
        receipts: Vec::new(),
        block_access_list,
        state: spec.genesis_state(),
        // The writer builds the genesis trie from the state.
        trie_updates: None,
    }
}

/// Writes the genesis of `spec` into `store`, or checks that the store already holds it.
///
/// A store that holds another chain is refused with [`StoreError::GenesisMismatch`] and left as it was.
pub fn init_genesis(spec: &ChainSpec, store: &DatabaseEnv) -> Result<GenesisOutcome, StoreError> {
    let genesis = genesis_to_commit(spec);
    let hash = genesis.hash;
    if store.chain_identity()?.is_some() {
        store.check_genesis(spec.chain_id(), hash)?;
        return Ok(GenesisOutcome::AlreadyThere(hash));
    }
    info!(
        target: "import::genesis",
        chain_id = spec.chain_id(),
        accounts = genesis.state.accounts.len(),
        state_root = %genesis.header.state_root,
        "Writing genesis"
    );
    store.init_genesis(spec.chain_id(), genesis)?;
    Ok(GenesisOutcome::Written(hash))
}
