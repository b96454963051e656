//! The chain driver: what the Engine API and the dev producer move the chain with.
//!
//! The store holds the canonical chain only. Blocks that do not extend the head (a side branch, or a branch
//! whose ancestors have not arrived) wait here, in memory, until a forkchoice names them; then the canonical
//! chain is unwound to the fork point through the store's change sets and the branch is imported block by
//! block, each through the importer's full validation. The blocks taken off the canonical chain stay here as
//! a side branch, so a later forkchoice can switch back, and so can a branch that turns out invalid.
//!
//! A payload that extends the head is imported (and becomes the head) at once: a consensus client names it in
//! its next forkchoice, and one that names an ancestor instead moves the head back.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_import::{ImportError, Importer};
use balnode_primitives::{
    Address, B64, B256, Block, Bytes, Header, TxEnvelope,
    consensus::transaction::SignerRecoverable, keccak256,
};
use balnode_storage_api::{
    BlockHashReader, BlockReader, BlockWriter, ChainInfoReader, ForkchoiceMarkers, ForkchoiceStore,
    HeaderProvider, ProviderError,
};
use balnode_storage_mdbx::DatabaseEnv;
use parking_lot::Mutex;
use tracing::{debug, info, warn};

use crate::builder::{
    BlockAttributes, BuildError, Payload, PoolCandidate, TransactionSource, build_payload,
};

/// Built payloads kept for `engine_getPayload`.
const MAX_PAYLOADS: usize = 16;

/// Side blocks kept in memory, at most; the oldest go first.
const MAX_SIDE_BLOCKS: usize = 1_024;

/// The verdict on a payload or a forkchoice head (the Engine API's `PayloadStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadStatus {
    /// Valid, and the canonical chain contains it.
    Valid {
        /// The block's hash.
        latest_valid_hash: B256,
    },
    /// Invalid, or a descendant of an invalid block.
    Invalid {
        /// The latest valid ancestor, when known.
        latest_valid_hash: Option<B256>,
        /// Why.
        error: String,
    },
    /// Its ancestors are missing.
    Syncing,
    /// It is on a side branch and was not executed yet.
    Accepted,
}

/// What a forkchoice update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkchoiceOutcome {
    /// The head's status.
    pub status: PayloadStatus,
    /// The payload being built on the head, when attributes came with the update.
    pub payload_id: Option<B64>,
}

/// Why the driver could not do what it was asked (as opposed to a block being invalid).
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The safe or finalized block is not on the canonical chain of the head.
    #[error("invalid forkchoice state: {0}")]
    InvalidForkchoiceState(String),
    /// The payload attributes do not fit the head.
    #[error(transparent)]
    Build(#[from] Box<BuildError>),
    /// A payload was to be built on a block that is not canonical.
    #[error("block {0} is not on the canonical chain")]
    NotCanonical(B256),
    /// A transaction given to build with cannot be included.
    #[error("cannot include {0}")]
    NotIncluded(String),
    /// A block that was canonical and valid failed to import again after an invalid branch.
    #[error("cannot restore the canonical chain: {0}")]
    Restore(#[source] Box<ImportError>),
    /// The block the dev producer built failed its own validation: a bug.
    #[error("the built block failed validation: {0}")]
    BuiltInvalid(#[source] Box<ImportError>),
    /// Importing failed for a reason other than the block (the store).
    #[error(transparent)]
    Import(Box<ImportError>),
    /// Reading or writing the store failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl From<ImportError> for ChainError {
    fn from(error: ImportError) -> Self {
        Self::Import(Box::new(error))
    }
}

/// A known block that is not canonical.
#[derive(Debug, Clone)]
struct SideBlock {
    block: Arc<Block>,
    block_access_list: Option<Bytes>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Blocks known but not canonical, by hash.
    side: HashMap<B256, SideBlock>,
    /// Side blocks in arrival order, to forget the oldest.
    side_order: VecDeque<B256>,
    /// Blocks found invalid, with their latest valid ancestor and the reason.
    invalid: HashMap<B256, (Option<B256>, String)>,
    /// Payloads built for `engine_getPayload`, newest last.
    payloads: VecDeque<(B64, Arc<Payload>)>,
}

impl Inner {
    fn add_side(&mut self, hash: B256, block: SideBlock) {
        if self.side.insert(hash, block).is_none() {
            self.side_order.push_back(hash);
        }
        while self.side_order.len() > MAX_SIDE_BLOCKS {
            if let Some(oldest) = self.side_order.pop_front() {
                self.side.remove(&oldest);
            }
        }
    }

    fn remove_side(&mut self, hash: &B256) {
        if self.side.remove(hash).is_some() {
            self.side_order.retain(|known| known != hash);
        }
    }
}

/// What a block produced by [`Chain::produce_block`] was.
#[derive(Debug, Clone)]
pub struct Produced {
    /// The block, as built and imported.
    pub payload: Arc<Payload>,
}

/// The chain driver: one per node, shared by the Engine API, the dev producer and the RPC's pool.
pub struct Chain {
    spec: Arc<ChainSpec>,
    importer: Importer,
    source: Option<Arc<dyn TransactionSource>>,
    /// The gas limit built blocks move towards when the attributes name none (geth's `--miner.gaslimit`).
    gas_limit_target: Option<u64>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("spec", &self.spec.chain_id()).finish_non_exhaustive()
    }
}

impl Chain {
    /// A driver importing with `importer`, building from `source` (no transactions without one).
    pub fn new(importer: Importer, source: Option<Arc<dyn TransactionSource>>) -> Self {
        Self {
            spec: importer.spec().clone(),
            importer,
            source,
            gas_limit_target: None,
            inner: Mutex::default(),
        }
    }

    /// Built blocks move their gas limit towards `target` (by at most 1/1024 of the parent's per block) when
    /// the payload attributes do not name one; by default they keep the parent's.
    #[must_use]
    pub const fn with_gas_limit_target(mut self, target: Option<u64>) -> Self {
        self.gas_limit_target = target;
        self
    }

    /// The store.
    pub const fn store(&self) -> &DatabaseEnv {
        self.importer.store()
    }

    /// The chain.
    pub const fn spec(&self) -> &Arc<ChainSpec> {
        &self.spec
    }

    /// The canonical number of `hash`, `None` when the block is not canonical.
    fn canonical_number(&self, hash: B256) -> Result<Option<u64>, ProviderError> {
        let store = self.store();
        let Some(number) = store.block_number(hash)? else { return Ok(None) };
        Ok((store.block_hash(number)? == Some(hash)).then_some(number))
    }

    /// `engine_newPayload`: imports a block that extends the head; keeps one that does not, for a later
    /// forkchoice.
    ///
    /// # Errors
    /// Only when the store fails; an invalid block is a [`PayloadStatus::Invalid`].
    pub fn new_payload(
        &self,
        block: Block,
        block_access_list: Option<Bytes>,
    ) -> Result<PayloadStatus, ChainError> {
        let hash = block.header.hash_slow();
        let parent = block.header.parent_hash;
        let mut inner = self.inner.lock();
        if self.canonical_number(hash)?.is_some() {
            return Ok(PayloadStatus::Valid { latest_valid_hash: hash });
        }
        if let Some((latest_valid_hash, error)) = inner.invalid.get(&hash).cloned() {
            return Ok(PayloadStatus::Invalid { latest_valid_hash, error });
        }
        if let Some((latest_valid_hash, _)) = inner.invalid.get(&parent).cloned() {
            let error = format!("block {hash}: its parent {parent} is invalid");
            inner.invalid.insert(hash, (latest_valid_hash, error.clone()));
            return Ok(PayloadStatus::Invalid { latest_valid_hash, error });
        }
        let head = self.store().chain_info()?;
        if parent == head.head_hash {
            let status = self.import(&mut inner, hash, &block, block_access_list.as_ref())?;
            if matches!(status, PayloadStatus::Valid { .. }) {
                self.head_changed(Vec::new());
            }
            return Ok(status);
        }
        let parent_known =
            inner.side.contains_key(&parent) || self.canonical_number(parent)?.is_some();
        debug!(target: "devnet::chain", number = block.header.number, %hash, parent_known, "Kept a block off the head");
        inner.add_side(hash, SideBlock { block: Arc::new(block), block_access_list });
        Ok(if parent_known { PayloadStatus::Accepted } else { PayloadStatus::Syncing })
    }

    /// Imports `block` on the head; an invalid block is remembered as such.
    fn import(
        &self,
        inner: &mut Inner,
        hash: B256,
        block: &Block,
        block_access_list: Option<&Bytes>,
    ) -> Result<PayloadStatus, ChainError> {
        match self.importer.import(block, block_access_list) {
            Ok(_) => {
                inner.remove_side(&hash);
                Ok(PayloadStatus::Valid { latest_valid_hash: hash })
            }
            Err(error) if error.is_invalid_block() => {
                let latest_valid_hash = Some(block.header.parent_hash);
                let error = error.to_string();
                warn!(target: "devnet::chain", number = block.header.number, %hash, %error, "Invalid block");
                inner.invalid.insert(hash, (latest_valid_hash, error.clone()));
                inner.remove_side(&hash);
                Ok(PayloadStatus::Invalid { latest_valid_hash, error })
            }
            Err(error) => Err(error.into()),
        }
    }

    /// `engine_forkchoiceUpdated`: makes `head` the canonical head (reorganising through the store's change
    /// sets when it is on a side branch), records `safe` and `finalized` (zero: unchanged), and starts building
    /// on the head when `attributes` come with it.
    ///
    /// # Errors
    /// [`ChainError::InvalidForkchoiceState`] when `safe` or `finalized` is not on the head's chain;
    /// [`ChainError::Build`] when the attributes do not fit; a store failure.
    pub fn forkchoice_updated(
        &self,
        head: B256,
        safe: B256,
        finalized: B256,
        attributes: Option<&BlockAttributes>,
    ) -> Result<ForkchoiceOutcome, ChainError> {
        let mut inner = self.inner.lock();
        let status = self.make_canonical(&mut inner, head)?;
        if !matches!(status, PayloadStatus::Valid { .. }) {
            return Ok(ForkchoiceOutcome { status, payload_id: None });
        }
        let mut markers = self.store().forkchoice_markers()?;
        for (hash, marker, name) in
            [(safe, &mut markers.safe, "safe"), (finalized, &mut markers.finalized, "finalized")]
        {
            if hash.is_zero() {
                continue;
            }
            let number = self.canonical_number(hash)?.ok_or_else(|| {
                ChainError::InvalidForkchoiceState(format!(
                    "the {name} block {hash} is not on the chain of the head {head}"
                ))
            })?;
            *marker = Some(number);
        }
        if markers.finalized > markers.safe && markers.safe.is_some() {
            return Err(ChainError::InvalidForkchoiceState(
                "the finalized block is after the safe block".to_owned(),
            ));
        }
        self.store().set_forkchoice_markers(markers)?;
        if let Some(finalized) = markers.finalized {
            self.forget_side_blocks_at_or_below(&mut inner, finalized);
        }
        let payload_id = match attributes {
            Some(attributes) => {
                let payload = self.build(head, attributes, None, None)?;
                let id = payload_id(head, attributes);
                inner.payloads.retain(|(known, _)| *known != id);
                inner.payloads.push_back((id, Arc::new(payload)));
                while inner.payloads.len() > MAX_PAYLOADS {
                    inner.payloads.pop_front();
                }
                Some(id)
            }
            None => None,
        };
        Ok(ForkchoiceOutcome { status, payload_id })
    }

    /// `testing_buildBlockV1`: builds a block on `parent_hash` (canonical) with `attributes`, from exactly
    /// `transactions` in their order (each must be includable) or, with `None`, from the pool; the chain is
    /// not changed.
    ///
    /// # Errors
    /// A transaction that cannot be included (named, with why), attributes that do not fit, a store failure.
    pub fn build_on(
        &self,
        parent_hash: B256,
        attributes: &BlockAttributes,
        transactions: Option<Vec<TxEnvelope>>,
    ) -> Result<Payload, ChainError> {
        let _chain = self.inner.lock();
        let Some(transactions) = transactions else {
            return self.build(parent_hash, attributes, None, None);
        };
        let candidates = transactions
            .into_iter()
            .enumerate()
            .map(|(index, transaction)| {
                let sender = transaction.recover_signer().map_err(|error| {
                    ChainError::NotIncluded(format!(
                        "transaction {index}: invalid signature: {error}"
                    ))
                })?;
                Ok(PoolCandidate { transaction, sender, sidecar: None })
            })
            .collect::<Result<Vec<_>, ChainError>>()?;
        let payload = self.build(parent_hash, attributes, None, Some(candidates))?;
        if let Some(skipped) = payload.skipped.first() {
            return Err(ChainError::NotIncluded(format!(
                "transaction {}: {}",
                skipped.hash, skipped.reason
            )));
        }
        Ok(payload)
    }

    /// `engine_getPayload`: a payload built by [`Chain::forkchoice_updated`].
    pub fn payload(&self, id: B64) -> Option<Arc<Payload>> {
        let inner = self.inner.lock();
        inner.payloads.iter().find(|(known, _)| *known == id).map(|(_, payload)| payload.clone())
    }

    /// Builds a block on `parent_hash` (canonical) from `given` transactions, or from the pool.
    fn build(
        &self,
        parent_hash: B256,
        attributes: &BlockAttributes,
        max_transactions: Option<usize>,
        given: Option<Vec<PoolCandidate>>,
    ) -> Result<Payload, ChainError> {
        let store = self.store();
        let number =
            self.canonical_number(parent_hash)?.ok_or(ChainError::NotCanonical(parent_hash))?;
        let parent = store.header_by_number(number)?.ok_or(ProviderError::BlockNotFound(number))?;
        let attributes = &BlockAttributes {
            target_gas_limit: attributes.target_gas_limit.or(self.gas_limit_target),
            ..attributes.clone()
        };
        let candidates = |base_fee, blob_base_fee| {
            given.unwrap_or_else(|| {
                self.source
                    .as_ref()
                    .map(|source| source.best_transactions(base_fee, blob_base_fee))
                    .unwrap_or_default()
            })
        };
        build_payload(
            &self.spec,
            store,
            &parent,
            parent_hash,
            attributes,
            candidates,
            max_transactions,
        )
        .map_err(|error| ChainError::Build(Box::new(error)))
    }

    /// The `--dev` producer's step: builds a block on the head from the pool (at most `max_transactions` of
    /// its transactions) and imports it through the importer's full validation, then marks it safe and
    /// finalized (a dev chain has no other fork to follow). With `skip_empty`, a block without transactions
    /// is not imported, and `None` is returned.
    ///
    /// # Errors
    /// A failing build or store; [`ChainError::BuiltInvalid`] when the built block fails its own validation.
    pub fn produce_block(
        &self,
        max_transactions: Option<usize>,
        skip_empty: bool,
    ) -> Result<Option<Produced>, ChainError> {
        let mut inner = self.inner.lock();
        let head = self.store().chain_info()?;
        let parent = self
            .store()
            .header_by_number(head.head_number)?
            .ok_or(ProviderError::BlockNotFound(head.head_number))?;
        let attributes = dev_attributes(&self.spec, &parent, head.head_hash);
        let payload = self.build(head.head_hash, &attributes, max_transactions, None)?;
        if skip_empty && payload.block.body.transactions.is_empty() {
            return Ok(None);
        }
        self.importer
            .import(&payload.block, payload.block_access_list.as_ref())
            .map_err(|error| ChainError::BuiltInvalid(Box::new(error)))?;
        inner.remove_side(&payload.hash);
        let number = payload.block.header.number;
        self.store().set_forkchoice_markers(ForkchoiceMarkers {
            safe: Some(number),
            finalized: Some(number),
        })?;
        self.head_changed(Vec::new());
        info!(
            target: "devnet::chain",
            number,
            hash = %payload.hash,
            transactions = payload.block.body.transactions.len(),
            gas_used = payload.block.header.gas_used,
            "Produced block"
        );
        Ok(Some(Produced { payload: Arc::new(payload) }))
    }

    /// Tells the pool the head moved; `unwound` are the transactions of blocks taken off the chain.
    fn head_changed(&self, unwound: Vec<(TxEnvelope, Address)>) {
        if let Some(source) = &self.source {
            if !unwound.is_empty() {
                source.reinject(unwound);
            }
            source.on_canonical_state_change();
        }
    }

    /// Makes `head` canonical: nothing when it is the head; the chain unwound to it when it is a canonical
    /// ancestor; the side branch ending in it imported when it is a side block whose branch reaches the
    /// canonical chain.
    fn make_canonical(&self, inner: &mut Inner, head: B256) -> Result<PayloadStatus, ChainError> {
        if let Some((latest_valid_hash, error)) = inner.invalid.get(&head).cloned() {
            return Ok(PayloadStatus::Invalid { latest_valid_hash, error });
        }
        let info = self.store().chain_info()?;
        if head == info.head_hash {
            return Ok(PayloadStatus::Valid { latest_valid_hash: head });
        }
        if let Some(number) = self.canonical_number(head)? {
            let unwound = self.unwind(inner, number, info.head_number)?;
            info!(target: "devnet::chain", number, %head, unwound = info.head_number - number, "Moved the head back");
            self.head_changed(unwound);
            return Ok(PayloadStatus::Valid { latest_valid_hash: head });
        }
        // The branch from the canonical chain to `head`, oldest first.
        let mut branch = Vec::new();
        let mut cursor = head;
        let fork_number = loop {
            if let Some((latest_valid_hash, error)) = inner.invalid.get(&cursor).cloned() {
                return Ok(PayloadStatus::Invalid { latest_valid_hash, error });
            }
            match inner.side.get(&cursor) {
                Some(side) => {
                    branch.push((cursor, side.clone()));
                    cursor = side.block.header.parent_hash;
                }
                None => match self.canonical_number(cursor)? {
                    Some(number) => break number,
                    None => return Ok(PayloadStatus::Syncing),
                },
            }
        };
        branch.reverse();
        let unwound = self.unwind(inner, fork_number, info.head_number)?;
        info!(
            target: "devnet::chain",
            fork_number,
            unwound = info.head_number - fork_number,
            applied = branch.len(),
            %head,
            "Reorganising"
        );
        for (hash, side) in &branch {
            let status = self.import(inner, *hash, &side.block, side.block_access_list.as_ref())?;
            if let PayloadStatus::Invalid { latest_valid_hash, error } = status {
                // The rest of the branch descends from an invalid block; the old chain comes back.
                for (later, _) in branch.iter().skip_while(|(known, _)| known != hash).skip(1) {
                    inner.invalid.insert(*later, (latest_valid_hash, error.clone()));
                    inner.remove_side(later);
                }
                self.restore(inner, fork_number, info.head_hash)?;
                return Ok(PayloadStatus::Invalid { latest_valid_hash, error });
            }
        }
        self.head_changed(unwound);
        Ok(PayloadStatus::Valid { latest_valid_hash: head })
    }

    /// Unwinds the canonical chain from `head_number` to `target`, keeping the unwound blocks as side
    /// blocks; returns their transactions with their senders.
    fn unwind(
        &self,
        inner: &mut Inner,
        target: u64,
        head_number: u64,
    ) -> Result<Vec<(TxEnvelope, Address)>, ChainError> {
        let store = self.store();
        let mut unwound = Vec::new();
        if target >= head_number {
            return Ok(unwound);
        }
        for number in target + 1..=head_number {
            let missing = || ProviderError::BlockNotFound(number);
            let header = store.header_by_number(number)?.ok_or_else(missing)?;
            let body = store.body(number)?.ok_or_else(missing)?;
            let senders = store.senders(number)?.ok_or_else(missing)?;
            let block_access_list = store.block_access_list(number)?;
            let hash = store.block_hash(number)?.ok_or_else(missing)?;
            unwound.extend(body.transactions.iter().cloned().zip(senders));
            inner.add_side(
                hash,
                SideBlock { block: Arc::new(Block { header, body }), block_access_list },
            );
        }
        store.unwind_to(target)?;
        Ok(unwound)
    }

    /// After an invalid branch: unwinds what of it was imported and imports the old chain (side blocks from
    /// `fork_number` up to `old_head`) again.
    fn restore(
        &self,
        inner: &mut Inner,
        fork_number: u64,
        old_head: B256,
    ) -> Result<(), ChainError> {
        let info = self.store().chain_info()?;
        let _ = self.unwind(inner, fork_number, info.head_number)?;
        let mut old = Vec::new();
        let mut cursor = old_head;
        while let Some(side) = inner.side.get(&cursor) {
            if side.block.header.number <= fork_number {
                break;
            }
            old.push((cursor, side.clone()));
            cursor = side.block.header.parent_hash;
        }
        for (hash, side) in old.into_iter().rev() {
            self.importer
                .import(&side.block, side.block_access_list.as_ref())
                .map_err(|error| ChainError::Restore(Box::new(error)))?;
            inner.remove_side(&hash);
        }
        Ok(())
    }

    /// Forgets side blocks that can no longer become canonical (at or below the finalized block).
    fn forget_side_blocks_at_or_below(&self, inner: &mut Inner, finalized: u64) {
        let stale = inner
            .side
            .iter()
            .filter(|(_, side)| side.block.header.number <= finalized)
            .map(|(hash, _)| *hash)
            .collect::<Vec<_>>();
        for hash in stale {
            inner.remove_side(&hash);
        }
    }
}

/// The id of the payload built on `head` with `attributes`: the first 8 bytes of a hash of both, so the same
/// request gets the same id.
fn payload_id(head: B256, attributes: &BlockAttributes) -> B64 {
    let description = format!("{head}{attributes:?}");
    B64::from_slice(&keccak256(description.as_bytes())[..8])
}

/// The attributes the dev producer builds with: the wall clock (at least a second after the parent), a
/// prev-randao derived from the parent's hash, no fee recipient (the zero address), no withdrawals, and the
/// fields the fork requires.
pub fn dev_attributes(spec: &ChainSpec, parent: &Header, parent_hash: B256) -> BlockAttributes {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
    let number = parent.number + 1;
    let timestamp = now.max(parent.timestamp + 1);
    let active = |fork| spec.is_active_at(fork, number, timestamp);
    BlockAttributes {
        timestamp,
        prev_randao: keccak256(parent_hash),
        fee_recipient: Address::ZERO,
        withdrawals: active(Hardfork::Shanghai).then(Vec::new),
        parent_beacon_block_root: active(Hardfork::Cancun)
            .then(|| keccak256([parent_hash.as_slice(), b"beacon"].concat())),
        slot_number: active(Hardfork::Amsterdam)
            .then(|| parent.slot_number.map_or(number, |slot| slot + 1)),
        target_gas_limit: None,
        extra_data: None,
    }
}
