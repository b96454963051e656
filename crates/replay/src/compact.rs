//! The project's compact bundle format (`balnode replay convert`): one file `<number>.balbundle` per block, the
//! snappy-compressed (raw snappy, no framing) RLP of
//!
//! ```text
//! [version = 1, hash, block, senders, ommer_hashes,
//!  [[address, nonce, balance, code, [[slot, value], ...]], ...],   # the pre-state, sorted by address and slot
//!  [[number, hash], ...],                                          # block hashes BLOCKHASH may read
//!  block_access_list]                                              # EIP-7928 RLP, empty when none
//! ```
//!
//! `block` is the block's consensus RLP. A compact bundle is written from a bundle that passed every load check,
//! so loading one skips signature recovery (the senders are stored) but still checks the header hash, the
//! transactions root and the code hashes (codes are stored, hashes recomputed).

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use balnode_primitives::{
    Account, Address, B256, Block, Bytes, KECCAK256_EMPTY, U256,
    consensus::proofs::calculate_transaction_root, keccak256,
};

use crate::bundle::{Bundle, PreAccount};

/// The extension of compact bundle files.
pub const COMPACT_EXTENSION: &str = "balbundle";

/// The format version written.
const VERSION: u8 = 1;

/// Why a compact bundle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// The file is not snappy, or not the RLP expected, or of another version.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Debug, RlpEncodable, RlpDecodable)]
struct CompactSlot {
    slot: B256,
    value: U256,
}

#[derive(Debug, RlpEncodable, RlpDecodable)]
struct CompactAccount {
    address: Address,
    nonce: u64,
    balance: U256,
    code: Bytes,
    storage: Vec<CompactSlot>,
}

#[derive(Debug, RlpEncodable, RlpDecodable)]
struct CompactHash {
    number: u64,
    hash: B256,
}

#[derive(Debug, RlpEncodable, RlpDecodable)]
struct CompactBundle {
    version: u8,
    hash: B256,
    block: Block,
    senders: Vec<Address>,
    ommer_hashes: Vec<B256>,
    accounts: Vec<CompactAccount>,
    block_hashes: Vec<CompactHash>,
    block_access_list: Bytes,
}

/// Writes `bundle` as `<dir>/<number>.balbundle`; returns the path.
pub fn write_compact(bundle: &Bundle, dir: &Path) -> Result<PathBuf, CompactError> {
    let compact = CompactBundle {
        version: VERSION,
        hash: bundle.hash,
        block: bundle.block.clone(),
        senders: bundle.senders.clone(),
        ommer_hashes: bundle.ommer_hashes.clone(),
        accounts: bundle
            .pre_state
            .iter()
            .map(|(&address, pre)| CompactAccount {
                address,
                nonce: pre.account.nonce,
                balance: pre.account.balance,
                code: pre.code.clone().unwrap_or_default(),
                storage: pre
                    .storage
                    .iter()
                    .map(|(&slot, &value)| CompactSlot { slot, value })
                    .collect(),
            })
            .collect(),
        block_hashes: bundle
            .block_hashes
            .iter()
            .map(|(&number, &hash)| CompactHash { number, hash })
            .collect(),
        block_access_list: bundle
            .block_access_list
            .as_ref()
            .map(|(rlp, _)| rlp.clone())
            .unwrap_or_default(),
    };
    let mut rlp = Vec::with_capacity(compact.length());
    compact.encode(&mut rlp);
    let path = dir.join(format!("{}.{COMPACT_EXTENSION}", bundle.number()));
    let io = |source| CompactError::Io { path: path.clone(), source };
    let compressed = snap::raw::Encoder::new().compress_vec(&rlp).map_err(|error| {
        CompactError::Format { path: path.clone(), reason: format!("snappy: {error}") }
    })?;
    fs::create_dir_all(dir).map_err(io)?;
    fs::write(&path, compressed).map_err(io)?;
    Ok(path)
}

/// Reads the compact bundle at `path`.
pub fn read_compact(path: &Path) -> Result<Bundle, CompactError> {
    let format = |reason: String| CompactError::Format { path: path.to_owned(), reason };
    let bytes =
        fs::read(path).map_err(|source| CompactError::Io { path: path.to_owned(), source })?;
    let rlp = snap::raw::Decoder::new()
        .decompress_vec(&bytes)
        .map_err(|error| format(format!("not snappy-compressed: {error}")))?;
    let mut slice = rlp.as_slice();
    let compact =
        CompactBundle::decode(&mut slice).map_err(|error| format(format!("RLP: {error}")))?;
    if !slice.is_empty() {
        return Err(format(format!("{} bytes after the bundle", slice.len())));
    }
    if compact.version != VERSION {
        return Err(format(format!("format version {}, expected {VERSION}", compact.version)));
    }
    let number = compact.block.header.number;
    let hash = compact.block.header.hash_slow();
    if hash != compact.hash {
        return Err(format(format!(
            "block {number}: the header hashes to {hash}, the bundle says {}",
            compact.hash
        )));
    }
    let root = calculate_transaction_root(&compact.block.body.transactions);
    if root != compact.block.header.transactions_root {
        return Err(format(format!(
            "block {number}: the transactions hash to {root}, not the header's root"
        )));
    }
    if compact.senders.len() != compact.block.body.transactions.len() {
        return Err(format(format!(
            "block {number}: {} senders for {} transactions",
            compact.senders.len(),
            compact.block.body.transactions.len()
        )));
    }
    let pre_state: BTreeMap<Address, PreAccount> = compact
        .accounts
        .into_iter()
        .map(|account| {
            let code_hash = keccak256(&account.code);
            let pre = PreAccount {
                account: Account {
                    nonce: account.nonce,
                    balance: account.balance,
                    bytecode_hash: (code_hash != KECCAK256_EMPTY).then_some(code_hash),
                },
                code: (!account.code.is_empty()).then_some(account.code),
                storage: account.storage.into_iter().map(|slot| (slot.slot, slot.value)).collect(),
            };
            (account.address, pre)
        })
        .collect();
    let block_access_list = if compact.block_access_list.is_empty() {
        None
    } else {
        let list = balnode_bal::decode(&compact.block_access_list)
            .map_err(|error| format(format!("block {number}: block access list: {error}")))?;
        Some((compact.block_access_list, list))
    };
    Ok(Bundle {
        dir: path.to_owned(),
        block: compact.block,
        hash,
        ommer_hashes: compact.ommer_hashes,
        senders: compact.senders,
        pre_state,
        block_hashes: compact
            .block_hashes
            .into_iter()
            .map(|entry| (entry.number, entry.hash))
            .collect(),
        block_access_list,
    })
}
