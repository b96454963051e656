//! The pre-state of a bundle in a temporary MDBX store, and the state view execution reads it through.
//!
//! The pre-state becomes block 0 of a fresh store (written with `BlockWriter::init_genesis`, so its hashed
//! state and trie are built as for any chain), and execution reads it through the store's
//! `LatestStateProvider`, wrapped in [`BundleStateView`]: that is what answers `BLOCKHASH` (the bundle knows
//! only the parent's hash) and records every read the bundle cannot answer.

use std::{collections::BTreeSet, path::Path};

use balnode_primitives::{
    Account, Address, B256, BlockBody, BlockHash, BlockNumber, Bytes, Header, StateChanges,
    StorageChanges, StorageKey, StorageValue,
};
use balnode_storage_api::{
    AccountReader, BlockHashReader, BlockToCommit, BlockWriter, BytecodeReader, ProviderResult,
    StateProvider,
};
use balnode_storage_mdbx::{DatabaseEnv, LatestStateProvider};
use parking_lot::Mutex;
use tempfile::TempDir;
use tracing::debug;

use crate::{ReplayError, bundle::Bundle};

/// The chain id the temporary stores are written with (mainnet's; the store only records it).
const CHAIN_ID: u64 = 1;

/// A temporary MDBX store holding a bundle's pre-state as its block 0. Removed on drop.
#[derive(Debug)]
pub struct PreStateStore {
    env: Option<DatabaseEnv>,
    dir: TempDir,
    /// The hash of the stored block 0 (a placeholder header, not the block's parent).
    genesis_hash: B256,
}

impl PreStateStore {
    /// Writes `bundle`'s pre-state into a fresh store in a new temporary directory under `parent` (the
    /// system's temporary directory when `None`).
    pub fn create(bundle: &Bundle, parent: Option<&Path>) -> Result<Self, ReplayError> {
        let number = bundle.number();
        let io = |source| ReplayError::Io { number, what: "create a temporary store", source };
        let dir = match parent {
            Some(parent) => tempfile::Builder::new().prefix("balnode-replay-").tempdir_in(parent),
            None => tempfile::Builder::new().prefix("balnode-replay-").tempdir(),
        }
        .map_err(io)?;
        let env = DatabaseEnv::open(dir.path())
            .map_err(|source| ReplayError::Store { number, source: Box::new(source) })?;
        let header = Header { number: 0, ..Default::default() };
        let genesis_hash = header.hash_slow();
        let genesis = BlockToCommit {
            header,
            hash: genesis_hash,
            body: BlockBody::default(),
            senders: Vec::new(),
            receipts: Vec::new(),
            block_access_list: None,
            state: pre_state_changes(bundle),
            trie_updates: None,
        };
        env.init_genesis(CHAIN_ID, genesis)
            .map_err(|source| ReplayError::Provider { number, source: Box::new(source) })?;
        debug!(target: "replay::store", number, accounts = bundle.pre_state.len(), path = %dir.path().display(), "Wrote the pre-state");
        Ok(Self { env: Some(env), dir, genesis_hash })
    }

    /// The store.
    pub fn env(&self) -> &DatabaseEnv {
        self.env.as_ref().expect("the store is open except inside `evict_from_page_cache`")
    }

    /// The hash of the stored block 0.
    pub const fn genesis_hash(&self) -> B256 {
        self.genesis_hash
    }

    /// A view of the pre-state at `bundle`'s parent.
    pub fn view(
        &self,
        bundle: &Bundle,
    ) -> Result<BundleStateView<LatestStateProvider>, ReplayError> {
        let number = bundle.number();
        let latest = self
            .env()
            .provider()
            .and_then(|provider| provider.into_latest())
            .map_err(|source| ReplayError::Provider { number, source: Box::new(source) })?;
        Ok(BundleStateView::new(latest, bundle.block_hashes.clone()))
    }

    /// Closes the store, asks the kernel to drop its files' pages from the page cache
    /// (`posix_fadvise(POSIX_FADV_DONTNEED)`, which needs no privilege, unlike `/proc/sys/vm/drop_caches`),
    /// and opens it again: the next reads come from disk.
    pub fn evict_from_page_cache(&mut self, number: BlockNumber) -> Result<(), ReplayError> {
        let env = self.env.take().expect("the store is open");
        let path = env.path().to_owned();
        drop(env);
        for entry in std::fs::read_dir(&path).map_err(|source| ReplayError::Io {
            number,
            what: "list the store's files",
            source,
        })? {
            let file = entry
                .map_err(|source| ReplayError::Io {
                    number,
                    what: "list the store's files",
                    source,
                })?
                .path();
            drop_file_pages(&file).map_err(|source| ReplayError::Io {
                number,
                what: "drop cached pages",
                source,
            })?;
        }
        self.env = Some(
            DatabaseEnv::open(self.dir.path())
                .map_err(|source| ReplayError::Store { number, source: Box::new(source) })?,
        );
        Ok(())
    }
}

/// Flushes `file` and asks the kernel to forget its cached pages.
fn drop_file_pages(file: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let handle = std::fs::File::open(file)?;
    handle.sync_all()?;
    // SAFETY: `handle` is an open file descriptor for the whole call; the advice only affects caching.
    let result =
        unsafe { libc::posix_fadvise(handle.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if result != 0 {
        return Err(std::io::Error::from_raw_os_error(result));
    }
    Ok(())
}

/// The pre-state as the state changes of block 0.
fn pre_state_changes(bundle: &Bundle) -> StateChanges {
    let mut changes = StateChanges::default();
    for (&address, pre) in &bundle.pre_state {
        changes.accounts.insert(address, Some(pre.account));
        let slots: std::collections::BTreeMap<_, _> = pre
            .storage
            .iter()
            .filter(|(_, value)| !value.is_zero())
            .map(|(k, v)| (*k, *v))
            .collect();
        if !slots.is_empty() {
            changes.storage.insert(address, StorageChanges { wiped: false, slots });
        }
        if let (Some(code), Some(hash)) = (&pre.code, pre.account.bytecode_hash) {
            changes.bytecodes.insert(hash, code.clone());
        }
    }
    changes
}

/// What a replay read that the bundle could not answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MissedReads {
    /// `BLOCKHASH` of these blocks was asked for and the bundle does not have their hashes. They were answered
    /// with zero, which is a guess: a block with any is not counted as verified.
    pub block_hashes: BTreeSet<BlockNumber>,
    /// Accounts read that the pre-state does not have: they were read as non-existent (right for accounts a
    /// block creates, wrong when the pre-state lacks an account that existed).
    pub absent_accounts: BTreeSet<Address>,
}

/// A storage-api [`StateProvider`] over a bundle's pre-state: reads go to `inner`, `BLOCKHASH` is answered
/// from the bundle's block hashes (the parent's from the header, earlier ones from `block_hashes.json`), and
/// every read the bundle cannot answer is recorded ([`MissedReads`]).
#[derive(Debug)]
pub struct BundleStateView<P> {
    inner: P,
    block_hashes: std::collections::BTreeMap<BlockNumber, BlockHash>,
    missed: Mutex<MissedReads>,
}

impl<P> BundleStateView<P> {
    /// A view of `inner` that knows the hashes `block_hashes` (see [`Bundle::block_hashes`]).
    pub fn new(inner: P, block_hashes: std::collections::BTreeMap<BlockNumber, BlockHash>) -> Self {
        Self { inner, block_hashes, missed: Mutex::default() }
    }

    /// The reads the bundle could not answer so far.
    pub fn missed(&self) -> MissedReads {
        self.missed.lock().clone()
    }
}

impl<P: AccountReader> AccountReader for BundleStateView<P> {
    fn basic_account(&self, address: Address) -> ProviderResult<Option<Account>> {
        let account = self.inner.basic_account(address)?;
        if account.is_none() {
            self.missed.lock().absent_accounts.insert(address);
        }
        Ok(account)
    }
}

impl<P: BytecodeReader> BytecodeReader for BundleStateView<P> {
    fn bytecode_by_hash(&self, code_hash: B256) -> ProviderResult<Option<Bytes>> {
        self.inner.bytecode_by_hash(code_hash)
    }
}

impl<P> BlockHashReader for BundleStateView<P> {
    fn block_hash(&self, number: BlockNumber) -> ProviderResult<Option<BlockHash>> {
        if let Some(hash) = self.block_hashes.get(&number) {
            return Ok(Some(*hash));
        }
        self.missed.lock().block_hashes.insert(number);
        Ok(None)
    }
}

impl<P: StateProvider> StateProvider for BundleStateView<P> {
    fn storage(&self, address: Address, key: StorageKey) -> ProviderResult<Option<StorageValue>> {
        self.inner.storage(address, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blockhash_answers_the_known_hashes_and_records_the_rest() {
        let (parent, earlier) = (B256::repeat_byte(7), B256::repeat_byte(8));
        let view = BundleStateView::new((), [(99, parent), (90, earlier)].into());
        assert_eq!(view.block_hash(99).unwrap(), Some(parent));
        assert_eq!(view.block_hash(90).unwrap(), Some(earlier));
        assert_eq!(view.block_hash(42).unwrap(), None);
        assert_eq!(view.block_hash(98).unwrap(), None);
        assert_eq!(view.missed().block_hashes.into_iter().collect::<Vec<_>>(), [42, 98]);
    }
}

/// A bundle's pre-state in hash maps, behind the storage-api traits: the bench's diagnostic of what the MDBX
/// store costs (the same executor on the same state, without the store).
#[derive(Debug, Default)]
pub struct MemoryState {
    accounts: std::collections::HashMap<Address, Account>,
    storage: std::collections::HashMap<(Address, StorageKey), StorageValue>,
    bytecodes: std::collections::HashMap<B256, Bytes>,
}

impl MemoryState {
    /// The pre-state of `bundle`.
    pub fn of(bundle: &Bundle) -> Self {
        let mut state = Self::default();
        for (&address, pre) in &bundle.pre_state {
            state.accounts.insert(address, pre.account);
            for (&slot, &value) in &pre.storage {
                state.storage.insert((address, slot), value);
            }
            if let (Some(code), Some(hash)) = (&pre.code, pre.account.bytecode_hash) {
                state.bytecodes.insert(hash, code.clone());
            }
        }
        state
    }
}

impl AccountReader for MemoryState {
    fn basic_account(&self, address: Address) -> ProviderResult<Option<Account>> {
        Ok(self.accounts.get(&address).copied())
    }
}

impl BytecodeReader for MemoryState {
    fn bytecode_by_hash(&self, code_hash: B256) -> ProviderResult<Option<Bytes>> {
        Ok(self.bytecodes.get(&code_hash).cloned())
    }
}

impl BlockHashReader for MemoryState {
    fn block_hash(&self, _number: BlockNumber) -> ProviderResult<Option<BlockHash>> {
        Ok(None)
    }
}

impl StateProvider for MemoryState {
    fn storage(&self, address: Address, key: StorageKey) -> ProviderResult<Option<StorageValue>> {
        Ok(self.storage.get(&(address, key)).copied().filter(|value| !value.is_zero()))
    }
}
