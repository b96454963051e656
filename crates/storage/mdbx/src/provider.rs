//! [`ProviderRo`]: blocks, chain info and state, all read from one snapshot; and the same reads on
//! [`DatabaseEnv`], each in a snapshot of its own.

use crate::{
    env::DatabaseEnv,
    metadata,
    state::{HistoricalStateProvider, LatestStateProvider},
    tables::{
        BlockAccessLists, BlockBodies, CanonicalHashes, HeaderNumbers, Headers, Receipts, Senders,
        TxLookup,
    },
    tx::DbTx,
};
use balnode_primitives::{
    Address, BlockBody, BlockHash, BlockNumber, Bytes, Header, ReceiptEnvelope, TxEnvelope, TxHash,
};
use balnode_storage_api::{
    BlockHashReader, BlockReader, ChainInfo, ChainInfoReader, ForkchoiceMarkers, ForkchoiceStore,
    HeaderProvider, ProviderError, ProviderResult, StateProvider, StateProviderFactory, TxLocation,
};
use signet_libmdbx::RoSync;

/// A read-only view of the store: one MDBX read transaction, so every read sees the same snapshot however many
/// blocks are committed meanwhile.
///
/// Hold it briefly: while it lives, MDBX cannot reuse the pages that later commits free.
#[derive(Debug)]
pub struct ProviderRo {
    tx: DbTx<RoSync>,
}

impl ProviderRo {
    pub(crate) const fn new(tx: DbTx<RoSync>) -> Self {
        Self { tx }
    }

    /// State after the head of this snapshot, sharing its transaction.
    pub fn into_latest(self) -> ProviderResult<LatestStateProvider> {
        metadata::require_head(&self.tx)?;
        Ok(LatestStateProvider::new(self.tx))
    }

    /// State after block `number` of this snapshot, sharing its transaction: the latest view when `number` is
    /// the head, a historical one below it.
    pub fn into_state_at(self, number: BlockNumber) -> ProviderResult<Box<dyn StateProvider>> {
        let (head, _) = metadata::require_head(&self.tx)?;
        if number > head {
            return Err(ProviderError::StateNotAvailable { requested: number, head });
        }
        Ok(if number == head {
            Box::new(LatestStateProvider::new(self.tx))
        } else {
            Box::new(HistoricalStateProvider::new(self.tx, number))
        })
    }
}

impl HeaderProvider for ProviderRo {
    fn header_by_number(&self, number: BlockNumber) -> ProviderResult<Option<Header>> {
        self.tx.get::<Headers>(&number)
    }

    fn header(&self, hash: BlockHash) -> ProviderResult<Option<Header>> {
        let Some(number) = self.block_number(hash)? else { return Ok(None) };
        self.header_by_number(number)
    }

    fn block_number(&self, hash: BlockHash) -> ProviderResult<Option<BlockNumber>> {
        self.tx.get::<HeaderNumbers>(&hash)
    }
}

impl BlockHashReader for ProviderRo {
    fn block_hash(&self, number: BlockNumber) -> ProviderResult<Option<BlockHash>> {
        self.tx.get::<CanonicalHashes>(&number)
    }
}

impl BlockReader for ProviderRo {
    fn body(&self, number: BlockNumber) -> ProviderResult<Option<BlockBody<TxEnvelope>>> {
        self.tx.get::<BlockBodies>(&number)
    }

    fn senders(&self, number: BlockNumber) -> ProviderResult<Option<Vec<Address>>> {
        self.tx.get::<Senders>(&number)
    }

    fn receipts(&self, number: BlockNumber) -> ProviderResult<Option<Vec<ReceiptEnvelope>>> {
        self.tx.get::<Receipts>(&number)
    }

    fn block_access_list(&self, number: BlockNumber) -> ProviderResult<Option<Bytes>> {
        self.tx.get::<BlockAccessLists>(&number)
    }

    fn transaction_location(&self, hash: TxHash) -> ProviderResult<Option<TxLocation>> {
        self.tx.get::<TxLookup>(&hash)
    }
}

impl ChainInfoReader for ProviderRo {
    fn chain_info(&self) -> ProviderResult<ChainInfo> {
        metadata::chain_info(&self.tx)
    }
}

/// Each call opens a read transaction of its own, for callers (RPC) that make one read at a time.
impl StateProviderFactory for DatabaseEnv {
    fn latest(&self) -> ProviderResult<Box<dyn StateProvider>> {
        Ok(Box::new(self.provider()?.into_latest()?))
    }

    fn state_at(&self, number: BlockNumber) -> ProviderResult<Box<dyn StateProvider>> {
        self.provider()?.into_state_at(number)
    }
}

impl HeaderProvider for DatabaseEnv {
    fn header_by_number(&self, number: BlockNumber) -> ProviderResult<Option<Header>> {
        self.provider()?.header_by_number(number)
    }

    fn header(&self, hash: BlockHash) -> ProviderResult<Option<Header>> {
        self.provider()?.header(hash)
    }

    fn block_number(&self, hash: BlockHash) -> ProviderResult<Option<BlockNumber>> {
        self.provider()?.block_number(hash)
    }
}

impl BlockHashReader for DatabaseEnv {
    fn block_hash(&self, number: BlockNumber) -> ProviderResult<Option<BlockHash>> {
        self.provider()?.block_hash(number)
    }
}

impl BlockReader for DatabaseEnv {
    fn body(&self, number: BlockNumber) -> ProviderResult<Option<BlockBody<TxEnvelope>>> {
        self.provider()?.body(number)
    }

    fn senders(&self, number: BlockNumber) -> ProviderResult<Option<Vec<Address>>> {
        self.provider()?.senders(number)
    }

    fn receipts(&self, number: BlockNumber) -> ProviderResult<Option<Vec<ReceiptEnvelope>>> {
        self.provider()?.receipts(number)
    }

    fn block_access_list(&self, number: BlockNumber) -> ProviderResult<Option<Bytes>> {
        self.provider()?.block_access_list(number)
    }

    fn transaction_location(&self, hash: TxHash) -> ProviderResult<Option<TxLocation>> {
        self.provider()?.transaction_location(hash)
    }
}

impl ChainInfoReader for DatabaseEnv {
    fn chain_info(&self) -> ProviderResult<ChainInfo> {
        self.provider()?.chain_info()
    }
}

impl ForkchoiceStore for DatabaseEnv {
    fn forkchoice_markers(&self) -> ProviderResult<ForkchoiceMarkers> {
        metadata::forkchoice_markers(&self.tx_ro()?)
    }

    fn set_forkchoice_markers(&self, markers: ForkchoiceMarkers) -> ProviderResult<()> {
        let tx = self.tx_rw()?;
        let (head, _) = metadata::require_head(&tx)?;
        for number in [markers.safe, markers.finalized].into_iter().flatten() {
            if number > head {
                return Err(ProviderError::StateNotAvailable { requested: number, head });
            }
        }
        metadata::write_forkchoice_markers(&tx, markers)?;
        tx.commit()
    }
}
