//! Raw revm: the floor the bench compares every mode with.
//!
//! The block's transactions run one after the other on revm's mainnet EVM (`Context::mainnet()…
//! build_mainnet()`, `transact_commit`) over an in-memory `CacheDB` that already holds the whole pre-state, with
//! the block's environment. No alloy-evm block executor, no system calls, rewards or withdrawals, no storage
//! engine, no receipts: what is left is the EVM's own work. alloy-evm is used only to fill revm's `BlockEnv`,
//! `CfgEnv` and `TxEnv` from the header and transactions, outside the measured time.

use std::{convert::Infallible, sync::Arc};

use alloy_evm::{EvmEnv, FromRecoveredTx};
use balnode_chainspec::ChainSpec;
use balnode_primitives::{Address, B256, U256};
use revm::{
    Context, DatabaseRef, ExecuteCommitEvm, MainBuilder, MainContext,
    context::TxEnv,
    database::CacheDB,
    primitives::hardfork::SpecId,
    state::{AccountInfo, Bytecode},
};

use crate::bundle::Bundle;

/// The database under the `CacheDB`: no account beyond the pre-state, and `BLOCKHASH` of a block the bundle does
/// not have (the `CacheDB` holds those it has) answered with zero, as the replay's state view answers it, so
/// that both run the same instructions.
#[derive(Debug, Clone, Copy, Default)]
pub struct NothingMore;

impl DatabaseRef for NothingMore {
    type Error = Infallible;

    fn basic_ref(&self, _address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(None)
    }

    fn code_by_hash_ref(&self, _code_hash: B256) -> Result<Bytecode, Self::Error> {
        Ok(Bytecode::default())
    }

    fn storage_ref(&self, _address: Address, _index: U256) -> Result<U256, Self::Error> {
        Ok(U256::ZERO)
    }

    fn block_hash_ref(&self, _number: u64) -> Result<B256, Self::Error> {
        Ok(B256::ZERO)
    }
}

/// The in-memory database of a bundle.
pub type MemoryDb = CacheDB<NothingMore>;

/// The bundle's pre-state in a `CacheDB`, code analysed, with the block hashes the bundle has.
pub fn memory_db(bundle: &Bundle) -> MemoryDb {
    let mut db = CacheDB::new(NothingMore);
    for (&address, pre) in &bundle.pre_state {
        let info = AccountInfo {
            balance: pre.account.balance,
            nonce: pre.account.nonce,
            code_hash: pre.account.code_hash(),
            account_id: None,
            code: pre.code.clone().map(Bytecode::new_raw),
        };
        db.insert_account_info(address, info);
        for (slot, value) in &pre.storage {
            db.insert_account_storage(address, U256::from_be_bytes(slot.0), *value)
                .expect("the CacheDB has the account");
        }
    }
    for (&number, &hash) in &bundle.block_hashes {
        db.cache.block_hashes.insert(U256::from(number), hash);
    }
    db
}

/// The block's EVM environment, as the executor builds it.
pub fn evm_env(spec: &Arc<ChainSpec>, bundle: &Bundle) -> EvmEnv<SpecId> {
    let header = &bundle.block.header;
    EvmEnv::for_eth_block(header, &**spec, spec.chain_id(), spec.blob_params_at(header.timestamp))
}

/// revm's transaction environments of the block.
pub fn tx_envs(bundle: &Bundle) -> Vec<TxEnv> {
    bundle
        .block
        .body
        .transactions
        .iter()
        .zip(&bundle.senders)
        .map(|(transaction, sender)| TxEnv::from_recovered_tx(transaction, *sender))
        .collect()
}

/// Runs `txs` on `db` with `env`, committing each; returns the gas they used. The caller times it.
pub fn execute_raw(env: &EvmEnv<SpecId>, db: MemoryDb, txs: Vec<TxEnv>) -> Result<u64, String> {
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_block(env.block_env.clone())
        .with_cfg(env.cfg_env.clone())
        .build_mainnet();
    let mut gas = 0;
    for (index, tx) in txs.into_iter().enumerate() {
        let result =
            evm.transact_commit(tx).map_err(|error| format!("transaction {index}: {error}"))?;
        gas += result.tx_gas_used();
    }
    Ok(gas)
}
