//! The block builder: a header on top of a parent, the pool's best transactions executed into it, and the
//! roots, bloom, requests hash and access list the execution commits to.

use std::sync::Arc;

use alloy_rlp::Encodable;
use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_consensus::{MAX_RLP_BLOCK_SIZE, expected_base_fee, expected_excess_blob_gas};
use balnode_executor::{Candidate, ExecutionError, Skipped, build_block};
use balnode_primitives::{
    Address, B256, Block, Bloom, Bytes, Header, TxEnvelope, U256,
    consensus::{
        EMPTY_OMMER_ROOT_HASH, Transaction as _,
        proofs::{calculate_receipt_root, calculate_transaction_root, calculate_withdrawals_root},
    },
    eips::{
        eip4895::{Withdrawal, Withdrawals},
        eip7594::BlobTransactionSidecarVariant,
        eip7685::Requests,
    },
    keccak256,
};
use balnode_storage_api::{ProviderError, StateProviderFactory, StateRootProvider};
use tracing::info;

/// Room the builder leaves in EIP-7934's block size for the header, the withdrawals and the RLP framing.
const SIZE_MARGIN: usize = 256 * 1024;

/// The extra data of the blocks balnode builds.
pub const EXTRA_DATA: &[u8] = b"balnode";

/// What a block is built with: the Engine API's payload attributes (or the dev producer's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockAttributes {
    /// The block's timestamp; after the parent's.
    pub timestamp: u64,
    /// The beacon chain's randomness (the header's `mixHash`).
    pub prev_randao: B256,
    /// Who receives the priority fees (the header's `beneficiary`).
    pub fee_recipient: Address,
    /// The withdrawals to apply (from Shanghai; `None` before).
    pub withdrawals: Option<Vec<Withdrawal>>,
    /// The parent beacon block root (from Cancun; `None` before).
    pub parent_beacon_block_root: Option<B256>,
    /// The slot number (from Amsterdam; `None` before).
    pub slot_number: Option<u64>,
    /// The gas limit to move towards (by at most the parent's limit / 1024 per block); `None` keeps the
    /// parent's.
    pub target_gas_limit: Option<u64>,
    /// The header's extra data; `None`: [`EXTRA_DATA`].
    pub extra_data: Option<Bytes>,
}

impl TransactionSource for crate::TxPool {
    fn best_transactions(&self, base_fee: u64, blob_base_fee: Option<u128>) -> Vec<PoolCandidate> {
        Self::best_transactions(self, base_fee, blob_base_fee)
            .into_iter()
            .map(|pooled| PoolCandidate {
                transaction: pooled.tx.clone(),
                sender: pooled.sender,
                sidecar: pooled.sidecar.clone(),
            })
            .collect()
    }

    fn on_canonical_state_change(&self) {
        Self::on_canonical_state_change(self);
    }

    fn reinject(&self, transactions: Vec<(TxEnvelope, Address)>) {
        Self::reinject(self, transactions);
    }
}

/// A transaction the pool offers the builder.
#[derive(Debug, Clone)]
pub struct PoolCandidate {
    /// The transaction (for EIP-4844, without its sidecar).
    pub transaction: TxEnvelope,
    /// Its sender.
    pub sender: Address,
    /// Its blobs, commitments and proofs (EIP-4844), for `engine_getPayload`'s blobs bundle.
    pub sidecar: Option<BlobTransactionSidecarVariant>,
}

/// Where the builder takes transactions from and tells about head changes: the transaction pool.
pub trait TransactionSource: Send + Sync {
    /// Executable transactions for a block with this base fee and blob base fee, best first, each sender's in
    /// nonce order.
    fn best_transactions(&self, base_fee: u64, blob_base_fee: Option<u128>) -> Vec<PoolCandidate>;
    /// The canonical head changed: drop what is mined or no longer valid.
    fn on_canonical_state_change(&self);
    /// The transactions of blocks a reorg took off the canonical chain, with their senders.
    fn reinject(&self, transactions: Vec<(TxEnvelope, Address)>);
}

/// A built block, ready for `engine_getPayload` and for import.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The sealed block.
    pub block: Block,
    /// Its hash.
    pub hash: B256,
    /// Its EIP-7928 access list, RLP-encoded (Amsterdam blocks).
    pub block_access_list: Option<Bytes>,
    /// The priority fees the fee recipient earns (the payload's `blockValue`).
    pub fees: U256,
    /// The EIP-7685 requests (from Prague).
    pub requests: Option<Requests>,
    /// The sidecars of its blob transactions, in block order.
    pub sidecars: Vec<BlobTransactionSidecarVariant>,
    /// The pool transactions left out, and why.
    pub skipped: Vec<Skipped>,
}

/// Why a block could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The attributes do not fit the parent or the fork.
    #[error("invalid payload attributes: {0}")]
    Attributes(String),
    /// The parent's header does not allow a child (a field missing or out of range).
    #[error("cannot build on block {number}: {source}")]
    Parent {
        /// The parent's number.
        number: u64,
        /// What is wrong with it.
        #[source]
        source: balnode_consensus::ConsensusError,
    },
    /// Executing the block failed.
    #[error("cannot build block {number}: {source}")]
    Execution {
        /// The block's number.
        number: u64,
        /// What failed.
        #[source]
        source: Box<ExecutionError>,
    },
    /// Reading the store failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// The gas limit of a child of a block with `parent` limit, moved towards `target` by less than
/// `parent / 1024` (the most the header rules allow).
pub fn next_gas_limit(parent: u64, target: Option<u64>) -> u64 {
    let Some(target) = target else { return parent };
    let step = (parent / 1024).saturating_sub(1);
    if target > parent {
        parent + step.min(target - parent)
    } else {
        parent - step.min(parent - target).min(parent.saturating_sub(5_000))
    }
}

/// Builds a block on `parent` (a canonical block of `store`, whose hash is `parent_hash`) with `attributes`,
/// trying in order the transactions `candidates` gives for the block's base fee and blob base fee, and
/// including at most `max_transactions` of them.
///
/// # Errors
/// Attributes the fork does not allow, a parent the rules cannot extend, a failing execution or store.
pub fn build_payload<S: StateProviderFactory + StateRootProvider>(
    spec: &Arc<ChainSpec>,
    store: &S,
    parent: &Header,
    parent_hash: B256,
    attributes: &BlockAttributes,
    candidates: impl FnOnce(u64, Option<u128>) -> Vec<PoolCandidate>,
    max_transactions: Option<usize>,
) -> Result<Payload, BuildError> {
    let number = parent.number + 1;
    let timestamp = attributes.timestamp;
    if timestamp <= parent.timestamp {
        return Err(BuildError::Attributes(format!(
            "timestamp {timestamp} is not after the parent's {}",
            parent.timestamp
        )));
    }
    let fields = spec.header_fields_at(number, timestamp);
    let check = |name: &str, required: bool, given: bool| {
        if required == given {
            Ok(())
        } else if required {
            Err(BuildError::Attributes(format!("{name} is required at block {number}")))
        } else {
            Err(BuildError::Attributes(format!("{name} is not allowed at block {number}")))
        }
    };
    check("withdrawals", fields.withdrawals_root, attributes.withdrawals.is_some())?;
    check(
        "parentBeaconBlockRoot",
        fields.parent_beacon_block_root,
        attributes.parent_beacon_block_root.is_some(),
    )?;
    check("slotNumber", fields.slot_number, attributes.slot_number.is_some())?;
    let parent_error = |source| BuildError::Parent { number: parent.number, source };
    let base_fee = fields
        .base_fee
        .then(|| expected_base_fee(spec, parent))
        .transpose()
        .map_err(parent_error)?;
    let excess_blob_gas = fields
        .blob_gas
        .then(|| expected_excess_blob_gas(spec, parent, timestamp))
        .transpose()
        .map_err(parent_error)?;
    let blob_base_fee = excess_blob_gas
        .zip(spec.blob_params_at(timestamp))
        .map(|(excess, params)| params.calc_blob_fee(excess));

    let draft = Header {
        parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: attributes.fee_recipient,
        difficulty: U256::ZERO,
        number,
        gas_limit: next_gas_limit(parent.gas_limit, attributes.target_gas_limit),
        timestamp,
        extra_data: attributes.extra_data.clone().unwrap_or_else(|| Bytes::from_static(EXTRA_DATA)),
        mix_hash: attributes.prev_randao,
        base_fee_per_gas: base_fee,
        excess_blob_gas,
        parent_beacon_block_root: attributes.parent_beacon_block_root,
        slot_number: attributes.slot_number,
        ..Header::default()
    };
    let mut sidecars: std::collections::HashMap<B256, BlobTransactionSidecarVariant> =
        Default::default();
    let candidates = candidates(base_fee.unwrap_or_default(), blob_base_fee)
        .into_iter()
        .map(|candidate| {
            if let Some(sidecar) = candidate.sidecar {
                sidecars.insert(*candidate.transaction.tx_hash(), sidecar);
            }
            Candidate { transaction: candidate.transaction, sender: candidate.sender }
        })
        .collect::<Vec<_>>();
    let state = store.state_at(parent.number)?;
    let max_size = if spec.is_active_at(Hardfork::Osaka, number, timestamp) {
        MAX_RLP_BLOCK_SIZE - SIZE_MARGIN
    } else {
        usize::MAX
    };
    let withdrawals = attributes.withdrawals.clone().map(Withdrawals::new);
    let built =
        build_block(spec, draft, withdrawals, max_size, max_transactions, candidates, state)
            .map_err(|source| BuildError::Execution { number, source: Box::new(source) })?;
    let balnode_executor::BuiltBlock { mut block, output, skipped, .. } = built;

    let state_root = store.state_root_with(parent.number, &output.state)?;
    let header = &mut block.header;
    header.state_root = state_root;
    header.transactions_root = calculate_transaction_root(&block.body.transactions);
    header.receipts_root = calculate_receipt_root(&output.receipts);
    header.logs_bloom = output.receipts.iter().fold(Bloom::ZERO, |mut bloom, receipt| {
        bloom.accrue_bloom(receipt.logs_bloom());
        bloom
    });
    header.gas_used = output.gas_used;
    header.withdrawals_root =
        block.body.withdrawals.as_ref().map(|withdrawals| calculate_withdrawals_root(withdrawals));
    if fields.blob_gas {
        header.blob_gas_used = Some(output.blob_gas_used);
    }
    let requests = fields.requests_hash.then(|| output.requests.clone());
    header.requests_hash = requests.as_ref().map(Requests::requests_hash);
    let block_access_list = output.block_access_list.as_ref().map(|list| {
        let mut encoded = Vec::new();
        list.encode(&mut encoded);
        Bytes::from(encoded)
    });
    if fields.block_access_list_hash {
        header.block_access_list_hash = block_access_list.as_ref().map(keccak256);
    }

    let mut fees = U256::ZERO;
    let mut cumulative = 0;
    for (transaction, receipt) in block.body.transactions.iter().zip(&output.receipts) {
        let gas = receipt.cumulative_gas_used() - cumulative;
        cumulative = receipt.cumulative_gas_used();
        let tip =
            transaction.effective_tip_per_gas(base_fee.unwrap_or_default()).unwrap_or_default();
        fees += U256::from(gas) * U256::from(tip);
    }
    let sidecars = block
        .body
        .transactions
        .iter()
        .filter_map(|transaction| sidecars.remove(transaction.tx_hash()))
        .collect();
    let hash = block.header.hash_slow();
    info!(
        target: "devnet::builder",
        number,
        %hash,
        transactions = block.body.transactions.len(),
        skipped = skipped.len(),
        gas_used = block.header.gas_used,
        "Built block"
    );
    Ok(Payload { block, hash, block_access_list, fees, requests, sidecars, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_limit_moves_towards_the_target_within_the_bound() {
        assert_eq!(next_gas_limit(30_000_000, None), 30_000_000);
        assert_eq!(next_gas_limit(30_000_000, Some(30_000_000)), 30_000_000);
        assert_eq!(next_gas_limit(30_000_000, Some(60_000_000)), 30_029_295);
        assert_eq!(next_gas_limit(30_000_000, Some(30_000_100)), 30_000_100);
        assert_eq!(next_gas_limit(30_000_000, Some(1)), 29_970_705);
    }
}
