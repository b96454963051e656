//! Reading and writing the `Metadata` table: schema version, chain identity and head.

use crate::{
    SCHEMA_VERSION,
    codec::{Decode, DecodeError, Encode, fixed},
    error::corrupt,
    models::MetadataKey,
    tables::Metadata,
    tx::DbTx,
};
use balnode_primitives::{B256, BlockHash, BlockNumber, Bytes};
use balnode_storage_api::{ChainInfo, ForkchoiceMarkers, ProviderError, ProviderResult};
use signet_libmdbx::{Rw, TransactionKind};

/// Reads the value at `key` and decodes it with `decode`.
fn read<K: TransactionKind, T>(
    tx: &DbTx<K>,
    key: MetadataKey,
    decode: impl FnOnce(&[u8]) -> Result<T, DecodeError>,
) -> ProviderResult<Option<T>> {
    let Some(bytes) = tx.get::<Metadata>(&key)? else { return Ok(None) };
    decode(&bytes).map(Some).map_err(|err| corrupt::<Metadata>(key.encode(), err))
}

/// Writes `value` at `key`.
fn write(tx: &DbTx<Rw>, key: MetadataKey, value: &[u8]) -> ProviderResult<()> {
    tx.put::<Metadata>(&key, &Bytes::copy_from_slice(value))
}

/// The schema version the datadir was written with, `None` before `init_genesis`.
pub(crate) fn schema_version<K: TransactionKind>(tx: &DbTx<K>) -> ProviderResult<Option<u32>> {
    read(tx, MetadataKey::SchemaVersion, |bytes| fixed(bytes).map(u32::from_be_bytes))
}

/// The chain id and genesis hash, `None` before `init_genesis`.
pub(crate) fn chain_identity<K: TransactionKind>(
    tx: &DbTx<K>,
) -> ProviderResult<Option<(u64, B256)>> {
    let chain_id = read(tx, MetadataKey::ChainId, u64::decode)?;
    let genesis_hash = read(tx, MetadataKey::GenesisHash, B256::decode)?;
    Ok(chain_id.zip(genesis_hash))
}

/// The head's number and hash, `None` before `init_genesis`.
pub(crate) fn head<K: TransactionKind>(
    tx: &DbTx<K>,
) -> ProviderResult<Option<(BlockNumber, BlockHash)>> {
    read(tx, MetadataKey::Head, |bytes| {
        let bytes = fixed::<40>(bytes)?;
        Ok((u64::decode(&bytes[..8])?, B256::decode(&bytes[8..])?))
    })
}

/// The head's number and hash, failing with [`ProviderError::NotInitialized`] before `init_genesis`.
pub(crate) fn require_head<K: TransactionKind>(
    tx: &DbTx<K>,
) -> ProviderResult<(BlockNumber, BlockHash)> {
    head(tx)?.ok_or(ProviderError::NotInitialized)
}

/// The chain identity and head.
pub(crate) fn chain_info<K: TransactionKind>(tx: &DbTx<K>) -> ProviderResult<ChainInfo> {
    let (chain_id, genesis_hash) = chain_identity(tx)?.ok_or(ProviderError::NotInitialized)?;
    let (head_number, head_hash) = require_head(tx)?;
    Ok(ChainInfo { chain_id, genesis_hash, head_number, head_hash })
}

/// Records the schema version of this build and the chain identity; done once, by `init_genesis`.
pub(crate) fn write_identity(
    tx: &DbTx<Rw>,
    chain_id: u64,
    genesis_hash: B256,
) -> ProviderResult<()> {
    write(tx, MetadataKey::SchemaVersion, &SCHEMA_VERSION.to_be_bytes())?;
    write(tx, MetadataKey::ChainId, &chain_id.to_be_bytes())?;
    write(tx, MetadataKey::GenesisHash, genesis_hash.as_slice())
}

/// Records the head.
pub(crate) fn write_head(
    tx: &DbTx<Rw>,
    number: BlockNumber,
    hash: BlockHash,
) -> ProviderResult<()> {
    write(tx, MetadataKey::Head, &[number.to_be_bytes().as_slice(), hash.as_slice()].concat())
}

/// The safe and finalized markers.
pub(crate) fn forkchoice_markers<K: TransactionKind>(
    tx: &DbTx<K>,
) -> ProviderResult<ForkchoiceMarkers> {
    let safe = read(tx, MetadataKey::Safe, u64::decode)?;
    let finalized = read(tx, MetadataKey::Finalized, u64::decode)?;
    Ok(ForkchoiceMarkers { safe, finalized })
}

/// Records the safe and finalized markers; a marker that is `None` is removed.
pub(crate) fn write_forkchoice_markers(
    tx: &DbTx<Rw>,
    markers: ForkchoiceMarkers,
) -> ProviderResult<()> {
    for (key, value) in
        [(MetadataKey::Safe, markers.safe), (MetadataKey::Finalized, markers.finalized)]
    {
        match value {
            Some(number) => write(tx, key, &number.to_be_bytes())?,
            None => {
                tx.delete::<Metadata>(&key)?;
            }
        }
    }
    Ok(())
}
