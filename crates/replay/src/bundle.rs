//! Replay bundles: a block as `eth_getBlockByNumber(n, true)` returns it (`block.json`), the pre-state it reads
//! (`pre_state.json`), and optionally the block's EIP-7928 access list as RLP (`block_access_list.rlp`, written
//! by `balnode replay --emit-bal`).
//!
//! Everything is checked on load, so that a malformed bundle fails with an error naming the block and the
//! entry: the header must hash to the block's `hash`, the transactions must hash to its `transactionsRoot`, each
//! sender must recover from its signature and equal the `from` field, and each code must hash to its
//! `code_hash`.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use alloy_rpc_types_eth::{Block as RpcBlock, Transaction as RpcTransaction};
use balnode_primitives::{
    Account, Address, B256, Block, Bytes, KECCAK256_EMPTY, TxEnvelope, U256,
    consensus::{proofs::calculate_transaction_root, transaction::SignerRecoverable},
    eips::eip7928::BlockAccessList,
    keccak256,
};
use rayon::prelude::*;
use serde::Deserialize;

/// The file of a bundle holding the block.
pub const BLOCK_FILE: &str = "block.json";
/// The file of a bundle holding the pre-state.
pub const PRE_STATE_FILE: &str = "pre_state.json";
/// The file of a bundle holding the hashes of earlier blocks its `BLOCKHASH` reads (optional: number → hash).
pub const BLOCK_HASHES_FILE: &str = "block_hashes.json";
/// The file of a bundle holding the block's access list (RLP, as `balnode-bal` encodes it), when generated.
pub const BAL_FILE: &str = "block_access_list.rlp";

/// Why a bundle could not be loaded. Every variant names the bundle's directory (and the block where known)
/// and the entry at fault.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file could not be read.
    #[error("bundle {dir}: cannot read {file}: {source}")]
    Io {
        /// The bundle's directory.
        dir: PathBuf,
        /// The file.
        file: &'static str,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// A file is not the JSON expected; `entry` is the path of the value at fault.
    #[error("bundle {dir}: {file}: entry `{entry}`: {source}")]
    Json {
        /// The bundle's directory.
        dir: PathBuf,
        /// The file.
        file: &'static str,
        /// The JSON path of the value at fault (`transactions[3].v`, `0xab…​.storage`).
        entry: String,
        /// The parse error, with its line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The block JSON does not describe the block it says it is.
    #[error("block {number}: {file}: {reason}")]
    Block {
        /// The block's number.
        number: u64,
        /// The file.
        file: &'static str,
        /// What does not match.
        reason: String,
    },
    /// A transaction's signature does not recover its `from`.
    #[error("block {number}: {BLOCK_FILE}: transaction {index} ({hash}): {reason}")]
    Sender {
        /// The block's number.
        number: u64,
        /// The transaction's index.
        index: usize,
        /// Its hash.
        hash: B256,
        /// What was wrong.
        reason: String,
    },
    /// An account's code does not hash to its `code_hash`, or a code hash has no code.
    #[error("block {number}: {PRE_STATE_FILE}: account {address}: {reason}")]
    Account {
        /// The block's number.
        number: u64,
        /// The account.
        address: Address,
        /// What was wrong.
        reason: String,
    },
    /// A compact bundle (`balnode replay convert`) could not be read.
    #[error(transparent)]
    Compact(#[from] crate::compact::CompactError),
    /// The access list file does not decode.
    #[error("block {number}: {BAL_FILE}: {source}")]
    Bal {
        /// The block's number.
        number: u64,
        /// The decoding failure.
        #[source]
        source: balnode_bal::DecodeError,
    },
}

/// One account of a pre-state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreAccount {
    /// Nonce, balance and code hash.
    pub account: Account,
    /// The account's code, when it has some.
    pub code: Option<Bytes>,
    /// The slots the block touches, with their values before the block (zero values included).
    pub storage: BTreeMap<B256, U256>,
}

/// A loaded, checked bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The directory it came from (the file, for a compact bundle).
    pub dir: PathBuf,
    /// The block.
    pub block: Block,
    /// The header's hash.
    pub hash: B256,
    /// The hashes of the block's ommers (the bundle has only their hashes, not their headers).
    pub ommer_hashes: Vec<B256>,
    /// The recovered sender of each transaction.
    pub senders: Vec<Address>,
    /// The accounts the block touches, as they were before it.
    pub pre_state: BTreeMap<Address, PreAccount>,
    /// The hashes of earlier blocks that `BLOCKHASH` reads ([`BLOCK_HASHES_FILE`]; the parent's, from the
    /// header, is always there).
    pub block_hashes: BTreeMap<u64, B256>,
    /// The block's access list, when the bundle has one ([`BAL_FILE`]): its RLP and its decoding.
    pub block_access_list: Option<(Bytes, BlockAccessList)>,
}

impl Bundle {
    /// The block's number.
    pub const fn number(&self) -> u64 {
        self.block.header.number
    }

    /// The gas the block used, as its header says.
    pub const fn gas_used(&self) -> u64 {
        self.block.header.gas_used
    }

    /// The number of transactions.
    pub fn transaction_count(&self) -> usize {
        self.block.body.transactions.len()
    }

    /// The number of storage slots in the pre-state.
    pub fn pre_state_slots(&self) -> usize {
        self.pre_state.values().map(|account| account.storage.len()).sum()
    }
}

/// `pre_state.json`: address → account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreAccountJson {
    basic: BasicJson,
    code: Option<CodeJson>,
    code_hash: Option<B256>,
    storage: BTreeMap<U256, U256>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicJson {
    balance: U256,
    nonce: u64,
}

/// revm's serialization of analysed legacy code: the code padded, with its original length.
#[derive(Debug, Deserialize)]
struct CodeJson {
    bytecode: Bytes,
    original_len: Option<usize>,
}

/// Parses `bytes` (the content of `file` in `dir`) as `T`, naming the entry at fault on failure.
fn parse_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    file: &'static str,
    bytes: &[u8],
) -> Result<T, BundleError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| BundleError::Json {
        dir: dir.to_owned(),
        file,
        entry: error.path().to_string(),
        source: error.into_inner(),
    })
}

fn read(dir: &Path, file: &'static str) -> Result<Vec<u8>, BundleError> {
    fs::read(dir.join(file)).map_err(|source| BundleError::Io { dir: dir.to_owned(), file, source })
}

/// Loads and checks the bundle in `dir`. `homestead` says whether the block is from Homestead on, where
/// signatures must have a low `s` (EIP-2); the chain spec answers it with [`Bundle::number`] known, so it is
/// asked for through a callback on the block's number.
pub fn load_bundle_with(
    dir: &Path,
    homestead: impl Fn(u64) -> bool,
) -> Result<Bundle, BundleError> {
    let rpc: RpcBlock<RpcTransaction<TxEnvelope>> =
        parse_json(dir, BLOCK_FILE, &read(dir, BLOCK_FILE)?)?;
    let declared_hash = rpc.header.hash;
    let ommer_hashes = rpc.uncles.clone();
    let froms: Vec<Address> = rpc.transactions.txns().map(|tx| tx.inner.signer()).collect();
    let block: Block = rpc.into_consensus().map_transactions(|tx| tx.inner.into_inner());
    let number = block.header.number;
    let block_error = |reason: String| BundleError::Block { number, file: BLOCK_FILE, reason };

    let hash = block.header.hash_slow();
    if hash != declared_hash {
        return Err(block_error(format!(
            "the header hashes to {hash}, the block says {declared_hash}: a header field was lost or misread"
        )));
    }
    let transactions_root = calculate_transaction_root(&block.body.transactions);
    if transactions_root != block.header.transactions_root {
        return Err(block_error(format!(
            "the transactions hash to {transactions_root}, the header says {}",
            block.header.transactions_root
        )));
    }
    if !ommer_hashes.is_empty()
        && block.header.ommers_hash == balnode_primitives::EMPTY_OMMER_ROOT_HASH
    {
        return Err(block_error("uncles listed, but the header's ommers hash is empty".to_owned()));
    }
    let low_s = homestead(number);
    let senders = block
        .body
        .transactions
        .par_iter()
        .zip(&froms)
        .enumerate()
        .map(|(index, (transaction, from))| {
            let sender_error = |reason: String| BundleError::Sender {
                number,
                index,
                hash: *transaction.tx_hash(),
                reason,
            };
            let recovered = if low_s {
                transaction.recover_signer()
            } else {
                transaction.recover_signer_unchecked()
            };
            let sender = recovered.map_err(|error| {
                sender_error(format!("the signature recovers no sender: {error}"))
            })?;
            if sender != *from {
                return Err(sender_error(format!(
                    "the signature recovers {sender}, the `from` field says {from}"
                )));
            }
            Ok(sender)
        })
        .collect::<Result<Vec<_>, _>>()?;

    let raw: BTreeMap<Address, PreAccountJson> =
        parse_json(dir, PRE_STATE_FILE, &read(dir, PRE_STATE_FILE)?)?;
    let pre_state = raw
        .into_iter()
        .map(|(address, json)| Ok((address, pre_account(number, address, json)?)))
        .collect::<Result<_, BundleError>>()?;

    let mut block_hashes: BTreeMap<u64, B256> = match fs::read(dir.join(BLOCK_HASHES_FILE)) {
        Ok(bytes) => {
            let raw: BTreeMap<String, B256> = parse_json(dir, BLOCK_HASHES_FILE, &bytes)?;
            raw.into_iter()
                .map(|(key, hash)| match key.parse::<u64>() {
                    Ok(earlier) if earlier < number => Ok((earlier, hash)),
                    _ => Err(BundleError::Block {
                        number,
                        file: BLOCK_HASHES_FILE,
                        reason: format!("entry `{key}` is not the number of an earlier block"),
                    }),
                })
                .collect::<Result<_, _>>()?
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(source) => {
            return Err(BundleError::Io { dir: dir.to_owned(), file: BLOCK_HASHES_FILE, source });
        }
    };
    if let Some(parent) = number.checked_sub(1) {
        let parent_hash = block.header.parent_hash;
        if let Some(listed) = block_hashes.insert(parent, parent_hash)
            && listed != parent_hash
        {
            return Err(BundleError::Block {
                number,
                file: BLOCK_HASHES_FILE,
                reason: format!(
                    "block {parent} is listed as {listed}, the header's parent hash is {parent_hash}"
                ),
            });
        }
    }

    let block_access_list = match fs::read(dir.join(BAL_FILE)) {
        Ok(rlp) => {
            let list =
                balnode_bal::decode(&rlp).map_err(|source| BundleError::Bal { number, source })?;
            Some((Bytes::from(rlp), list))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(BundleError::Io { dir: dir.to_owned(), file: BAL_FILE, source }),
    };

    Ok(Bundle {
        dir: dir.to_owned(),
        block,
        hash,
        ommer_hashes,
        senders,
        pre_state,
        block_hashes,
        block_access_list,
    })
}

/// Loads and checks the bundle in `dir`, a mainnet block (EIP-2's low `s` from mainnet's Homestead block), or
/// the compact bundle file `dir` ([`crate::compact`]).
pub fn load_bundle(dir: &Path) -> Result<Bundle, BundleError> {
    if is_compact(dir) {
        return Ok(crate::compact::read_compact(dir)?);
    }
    let spec = balnode_chainspec::mainnet();
    load_bundle_with(dir, |number| {
        spec.is_active_at(balnode_chainspec::Hardfork::Homestead, number, 0)
    })
}

/// One checked pre-state account.
fn pre_account(
    number: u64,
    address: Address,
    json: PreAccountJson,
) -> Result<PreAccount, BundleError> {
    let account_error = |reason: String| BundleError::Account { number, address, reason };
    let code = match json.code {
        Some(CodeJson { bytecode, original_len }) => {
            let len = original_len.unwrap_or(bytecode.len());
            if len > bytecode.len() {
                return Err(account_error(format!(
                    "code.original_len {len} is longer than the code ({} bytes)",
                    bytecode.len()
                )));
            }
            Some(bytecode.slice(..len))
        }
        None => None,
    };
    let bytecode_hash = match (&code, json.code_hash) {
        (Some(code), declared) => {
            let computed = keccak256(code);
            if let Some(declared) = declared
                && declared != computed
            {
                return Err(account_error(format!(
                    "code_hash {declared} does not match its code, which hashes to {computed}"
                )));
            }
            (computed != KECCAK256_EMPTY).then_some(computed)
        }
        (None, Some(declared)) if declared != KECCAK256_EMPTY => {
            return Err(account_error(format!("code_hash {declared} without code")));
        }
        (None, _) => None,
    };
    let storage = json.storage.into_iter().map(|(slot, value)| (B256::from(slot), value)).collect();
    Ok(PreAccount {
        account: Account { nonce: json.basic.nonce, balance: json.basic.balance, bytecode_hash },
        code: code.filter(|code| !code.is_empty()),
        storage,
    })
}

/// Whether `path` is a compact bundle file (`<number>.balbundle`).
fn is_compact(path: &Path) -> bool {
    path.is_file()
        && path.extension().is_some_and(|extension| extension == crate::compact::COMPACT_EXTENSION)
}

/// The bundles under `path`: `path` itself when it holds a [`BLOCK_FILE`] or is a compact bundle file, else its
/// subdirectories that hold one and its compact bundle files (one level, or two for a corpus whose bundles sit
/// under `blocks/`), sorted by block number where the name is one.
pub fn find_bundles(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.join(BLOCK_FILE).is_file() || is_compact(path) {
        return Ok(vec![path.to_owned()]);
    }
    let mut found = Vec::new();
    for entry in fs::read_dir(path)? {
        let dir = entry?.path();
        if dir.join(BLOCK_FILE).is_file() || is_compact(&dir) {
            found.push(dir);
        } else if dir.is_dir() && dir.file_name().is_some_and(|name| name == "blocks") {
            found.extend(find_bundles(&dir)?);
        }
    }
    found.sort_by_key(|dir| {
        let number = dir.file_stem().and_then(|name| name.to_str()?.parse::<u64>().ok());
        (number.unwrap_or(u64::MAX), dir.clone())
    });
    Ok(found)
}
