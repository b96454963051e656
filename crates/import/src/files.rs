//! Importing block files into a store, and exporting a store's blocks back into one.

use std::path::{Path, PathBuf};

use balnode_primitives::{Block, BlockNumber};
use balnode_storage_api::{BlockReader, ChainInfoReader, HeaderProvider, ProviderError};
use balnode_storage_mdbx::DatabaseEnv;

use crate::{
    ImportError, Imported, Importer,
    file::{BlockFileError, BlockFileReader, BlockFileWriter, BlockRecord},
};

/// Why importing block files stopped. Every block before the one named is committed.
#[derive(Debug, thiserror::Error)]
pub enum FileImportError {
    /// The file could not be read or holds a malformed record.
    #[error(transparent)]
    File(#[from] BlockFileError),
    /// A block was refused.
    #[error("{}: block record {index} (block {number}) at offset {offset}: {source}", path.display())]
    Block {
        /// The file.
        path: PathBuf,
        /// 0-based index of the record in the file.
        index: u64,
        /// The block's number.
        number: BlockNumber,
        /// Byte offset of the record in the (decompressed) file.
        offset: u64,
        /// Why the block was refused.
        #[source]
        source: Box<ImportError>,
    },
}

/// Counts of an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Blocks validated, executed and committed.
    pub imported: u64,
    /// Blocks the store already had (skipped, so that a re-run resumes).
    pub known: u64,
    /// Transactions in the imported blocks.
    pub transactions: u64,
    /// Gas used by the imported blocks.
    pub gas: u64,
}

/// Imports `paths` in order, each block through [`Importer::import`], calling `on_block` after each one.
///
/// Blocks the store already has are skipped, so a re-run after an interruption resumes where it stopped. The
/// first bad record or invalid block stops the import with an error naming it; the blocks before it stay
/// committed.
pub fn import_files(
    importer: &Importer,
    paths: &[PathBuf],
    mut on_block: impl FnMut(&BlockRecord, Imported),
) -> Result<ImportSummary, FileImportError> {
    let mut summary = ImportSummary::default();
    for path in paths {
        for record in BlockFileReader::open(path)? {
            let record = record?;
            let imported = importer
                .import(&record.block, record.block_access_list.as_ref())
                .map_err(|source| block_error(path, &record, source))?;
            match imported {
                Imported::Known => summary.known += 1,
                Imported::Committed { gas_used, transactions } => {
                    summary.imported += 1;
                    summary.transactions += transactions as u64;
                    summary.gas += gas_used;
                }
            }
            on_block(&record, imported);
        }
    }
    Ok(summary)
}

fn block_error(path: &Path, record: &BlockRecord, source: ImportError) -> FileImportError {
    FileImportError::Block {
        path: path.to_owned(),
        index: record.index,
        number: record.number(),
        offset: record.offset,
        source: Box::new(source),
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The range asks for blocks the store does not have.
    #[error("cannot export blocks {from}..={to}: the store's head is block {head}")]
    Range {
        /// First block asked for.
        from: BlockNumber,
        /// Last block asked for.
        to: BlockNumber,
        /// The store's head.
        head: BlockNumber,
    },
    /// Reading the store failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Writing the file failed.
    #[error(transparent)]
    File(#[from] BlockFileError),
}

/// Writes the canonical blocks `from..=to` of `store` to `path` in the block-file format (gzip when the path
/// ends in `.gz`), each with its block access list when the store has one. Returns the number of blocks.
pub fn export_blocks(
    store: &DatabaseEnv,
    from: BlockNumber,
    to: BlockNumber,
    path: &Path,
) -> Result<u64, ExportError> {
    let head = store.chain_info()?.head_number;
    if from > to || to > head {
        return Err(ExportError::Range { from, to, head });
    }
    // One snapshot for the whole range, so a concurrent import cannot tear it.
    let provider = store.provider()?;
    let mut writer = BlockFileWriter::create(path)?;
    for number in from..=to {
        let header =
            provider.header_by_number(number)?.ok_or(ProviderError::BlockNotFound(number))?;
        let body = provider.body(number)?.ok_or(ProviderError::BlockNotFound(number))?;
        let block_access_list = provider.block_access_list(number)?;
        writer.write(&Block { header, body }, block_access_list.as_ref())?;
    }
    writer.finish()?;
    Ok(to - from + 1)
}
