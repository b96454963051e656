//! Block access lists of block files and stores: `balnode bal generate` and `balnode bal inspect`.

use std::path::{Path, PathBuf};

use balnode_bal::BalStats;
use balnode_primitives::BlockNumber;
use balnode_storage_api::{BlockReader, ChainInfoReader, ProviderError};
use balnode_storage_mdbx::DatabaseEnv;
use serde::Serialize;

use crate::{
    ExportError, FileImportError, ImportSummary, Importer, export_blocks,
    file::{BlockFileError, BlockFileReader},
    import_files,
};

/// Why `bal generate` or `bal inspect` stopped.
#[derive(Debug, thiserror::Error)]
pub enum BalFileError {
    /// Importing the input failed.
    #[error(transparent)]
    Import(#[from] FileImportError),
    /// Writing the output failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// Reading a block file failed.
    #[error(transparent)]
    File(#[from] BlockFileError),
    /// The store failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A stored or carried list does not decode.
    #[error("block {number}: {source}")]
    Decode {
        /// The block.
        number: BlockNumber,
        /// Why.
        #[source]
        source: balnode_bal::DecodeError,
    },
    /// The store has no list for the block.
    #[error("the store has no block access list for block {0}")]
    Missing(BlockNumber),
    /// Nothing was imported, so there is nothing to export.
    #[error(
        "no block was imported: the datadir already holds every input block (generate into a fresh datadir)"
    )]
    NothingImported,
}

/// What `bal generate` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateSummary {
    /// The import's counts.
    pub import: ImportSummary,
    /// First block written.
    pub from: BlockNumber,
    /// Last block written.
    pub to: BlockNumber,
}

/// Imports `inputs` into `importer`'s store, building the access list of every block (whatever its fork),
/// and exports the imported blocks to `out` with their lists: real blocks in BAL form.
///
/// The importer should be [`Importer::generating_bals`]; a block that already came with a list has it
/// checked against the one execution builds.
pub fn generate_bals(
    importer: &Importer,
    inputs: &[PathBuf],
    out: &Path,
    on_block: impl FnMut(&crate::file::BlockRecord, crate::Imported),
) -> Result<GenerateSummary, BalFileError> {
    let before = importer.store().chain_info()?.head_number;
    let import = import_files(importer, inputs, on_block)?;
    let head = importer.store().chain_info()?.head_number;
    if head == before {
        return Err(BalFileError::NothingImported);
    }
    let from = before + 1;
    export_blocks(importer.store(), from, head, out)?;
    Ok(GenerateSummary { import, from, to: head })
}

/// The statistics of one block's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockBalStats {
    /// The block.
    pub number: BlockNumber,
    /// Its transactions.
    pub transactions: usize,
    /// The list's statistics.
    #[serde(flatten)]
    pub stats: BalStats,
}

/// Statistics of every list in a block file, in file order (blocks without a list are skipped).
pub fn inspect_file(path: &Path, top: usize) -> Result<Vec<BlockBalStats>, BalFileError> {
    let mut out = Vec::new();
    for record in BlockFileReader::open(path)? {
        let record = record?;
        let Some(rlp) = &record.block_access_list else { continue };
        let number = record.number();
        let list =
            balnode_bal::decode(rlp).map_err(|source| BalFileError::Decode { number, source })?;
        out.push(BlockBalStats {
            number,
            transactions: record.block.body.transactions.len(),
            stats: BalStats::of(&list, top),
        });
    }
    Ok(out)
}

/// Statistics of the list the store keeps for block `number`.
pub fn inspect_stored(
    store: &DatabaseEnv,
    number: BlockNumber,
    top: usize,
) -> Result<BlockBalStats, BalFileError> {
    let provider = store.provider()?;
    let rlp = provider.block_access_list(number)?.ok_or(BalFileError::Missing(number))?;
    let body = provider.body(number)?.ok_or(ProviderError::BlockNotFound(number))?;
    let list =
        balnode_bal::decode(&rlp).map_err(|source| BalFileError::Decode { number, source })?;
    Ok(BlockBalStats {
        number,
        transactions: body.transactions.len(),
        stats: BalStats::of(&list, top),
    })
}
