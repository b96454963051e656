//! Stored blocks, transactions and receipts in their JSON-RPC shapes (alloy-rpc-types-eth).

use alloy_consensus::{Transaction as _, transaction::Recovered};
use alloy_rlp::Encodable;
use alloy_rpc_types_eth::{
    Block as RpcBlock, BlockTransactions, Header as RpcHeader, Log as RpcLog,
    Transaction as RpcTransaction, TransactionReceipt,
};
use balnode_chainspec::ChainSpec;
use balnode_primitives::{
    Address, B256, Block, BlockBody, Header, ReceiptEnvelope, TxEnvelope, U256,
    eips::eip4895::Withdrawals, primitives::TxKind,
};

/// A stored block with what RPC needs to describe it.
#[derive(Debug, Clone)]
pub(crate) struct StoredBlock {
    pub(crate) hash: B256,
    pub(crate) header: Header,
    pub(crate) body: BlockBody<TxEnvelope>,
    pub(crate) senders: Vec<Address>,
}

impl StoredBlock {
    /// The RLP size of the whole block.
    fn size(&self) -> usize {
        let block = Block { header: self.header.clone(), body: self.body.clone() };
        block.length()
    }

    /// The RPC transaction at `index`.
    pub(crate) fn transaction(&self, index: usize) -> Option<RpcTransaction> {
        let tx = self.body.transactions.get(index)?;
        let sender = *self.senders.get(index)?;
        Some(RpcTransaction {
            inner: Recovered::new_unchecked(tx.clone(), sender),
            block_hash: Some(self.hash),
            block_number: Some(self.header.number),
            transaction_index: Some(index as u64),
            effective_gas_price: Some(tx.effective_gas_price(self.header.base_fee_per_gas)),
            block_timestamp: Some(self.header.timestamp),
        })
    }

    /// The block as `eth_getBlockBy*` returns it, with full transactions or their hashes.
    pub(crate) fn to_rpc(&self, full: bool) -> RpcBlock {
        let transactions = if full {
            BlockTransactions::Full(
                (0..self.body.transactions.len())
                    .filter_map(|index| self.transaction(index))
                    .collect(),
            )
        } else {
            BlockTransactions::Hashes(
                self.body.transactions.iter().map(|tx| *tx.tx_hash()).collect(),
            )
        };
        RpcBlock {
            header: RpcHeader {
                hash: self.hash,
                inner: self.header.clone(),
                total_difficulty: None,
                size: Some(U256::from(self.size())),
            },
            uncles: self.body.ommers.iter().map(Header::hash_slow).collect(),
            transactions,
            withdrawals: self.body.withdrawals.clone().map(|list| Withdrawals::new(list.to_vec())),
        }
    }

    /// The receipts of the block in RPC shape, logs numbered across the block.
    pub(crate) fn rpc_receipts(
        &self,
        spec: &ChainSpec,
        receipts: &[ReceiptEnvelope],
    ) -> Vec<TransactionReceipt> {
        let blob_gas_price = spec
            .blob_params_at(self.header.timestamp)
            .and_then(|params| self.header.blob_fee(params));
        let mut log_index = 0u64;
        let mut previous_cumulative = 0u64;
        let mut out = Vec::with_capacity(receipts.len());
        for (index, (receipt, tx)) in receipts.iter().zip(&self.body.transactions).enumerate() {
            let sender = self.senders.get(index).copied().unwrap_or_default();
            let cumulative = receipt.cumulative_gas_used();
            let gas_used = cumulative.saturating_sub(previous_cumulative);
            previous_cumulative = cumulative;
            let tx_hash = *tx.tx_hash();
            let inner = receipt.clone().map_logs(|log| {
                let rpc_log = RpcLog {
                    inner: log,
                    block_hash: Some(self.hash),
                    block_number: Some(self.header.number),
                    block_timestamp: Some(self.header.timestamp),
                    transaction_hash: Some(tx_hash),
                    transaction_index: Some(index as u64),
                    log_index: Some(log_index),
                    removed: false,
                };
                log_index += 1;
                rpc_log
            });
            let (to, contract_address) = match tx.kind() {
                TxKind::Call(to) => (Some(to), None),
                TxKind::Create => (None, Some(sender.create(tx.nonce()))),
            };
            let blob_gas_used = tx.blob_gas_used();
            out.push(TransactionReceipt {
                inner,
                transaction_hash: tx_hash,
                transaction_index: Some(index as u64),
                block_hash: Some(self.hash),
                block_number: Some(self.header.number),
                gas_used,
                effective_gas_price: tx.effective_gas_price(self.header.base_fee_per_gas),
                blob_gas_used,
                blob_gas_price: blob_gas_used.and(blob_gas_price),
                from: sender,
                to,
                contract_address,
            });
        }
        out
    }
}

/// The logs of a block's receipts (already in RPC shape).
pub(crate) fn receipt_logs(receipts: &[TransactionReceipt]) -> impl Iterator<Item = &RpcLog> {
    receipts.iter().flat_map(|receipt| receipt.inner.logs())
}
