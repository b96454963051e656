//! The checks a transaction must pass before the pool looks at its sender's account: decoding, type by
//! fork, size, gas limits, fees, signature and chain id, intrinsic gas, and the blob sidecar with its KZG
//! proofs. Their order and messages follow geth's `ValidateTransaction`.

use std::sync::Arc;

use alloy_consensus::{
    Transaction as _, TxEip4844Variant, crypto::RecoveryError, transaction::SignerRecoverable,
};
use alloy_eips::{
    Decodable2718, Encodable2718, Typed2718,
    eip4844::{BLOB_TX_MIN_BLOB_GASPRICE, env_settings::EnvKzgSettings, kzg_to_versioned_hash},
    eip7594::{BlobTransactionSidecarVariant, CELLS_PER_EXT_BLOB},
};
use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_primitives::{Address, Header, TxEnvelope};

use super::{PoolConfig, PoolError};

/// A transaction that passed the stateless checks.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The transaction as a block carries it (a blob transaction without its sidecar).
    pub(crate) tx: TxEnvelope,
    /// The recovered sender.
    pub(crate) sender: Address,
    /// The blob sidecar, verified.
    pub(crate) sidecar: Option<BlobTransactionSidecarVariant>,
}

/// Decodes an EIP-2718 transaction as `eth_sendRawTransaction` carries it: a blob transaction with its
/// sidecar.
pub(crate) fn decode(raw: &[u8]) -> Result<TxEnvelope, PoolError> {
    if raw.is_empty() {
        return Err(PoolError::Decode("typed transaction too short".to_owned()));
    }
    TxEnvelope::decode_2718_exact(raw).map_err(|error| PoolError::Decode(error.to_string()))
}

/// Splits the sidecar off a blob transaction, so that the transaction is in its block form.
pub(crate) fn strip_sidecar(tx: TxEnvelope) -> (TxEnvelope, Option<BlobTransactionSidecarVariant>) {
    match tx {
        TxEnvelope::Eip4844(signed) => {
            let (variant, signature, hash) = signed.into_parts();
            let (variant, sidecar) = match variant {
                TxEip4844Variant::TxEip4844WithSidecar(with) => {
                    let (tx, sidecar) = with.into_parts();
                    (TxEip4844Variant::TxEip4844(tx), Some(sidecar))
                }
                plain => (plain, None),
            };
            (
                TxEnvelope::Eip4844(alloy_consensus::Signed::new_unchecked(
                    variant, signature, hash,
                )),
                sidecar,
            )
        }
        other => (other, None),
    }
}

/// The rules of the block after `head`: its number and a timestamp one second later, the same gas limit.
pub(crate) fn next_block_header(head: &Header) -> Header {
    Header { number: head.number + 1, timestamp: head.timestamp + 1, ..head.clone() }
}

/// The stateless checks of `tx` (in network form, with any sidecar) against the rules of the block after
/// `head`. `sender` skips signature recovery (transactions of unwound blocks, whose senders are known).
pub(crate) fn check(
    spec: &Arc<ChainSpec>,
    config: &PoolConfig,
    head: &Header,
    tx: TxEnvelope,
    sender: Option<Address>,
) -> Result<Checked, PoolError> {
    let next = next_block_header(head);
    let active = |fork: Hardfork| spec.is_active_at(fork, next.number, next.timestamp);
    let tx_type = tx.ty();
    let (fork_needed, name) = match tx_type {
        0 => (None, ""),
        1 => (Some(Hardfork::Berlin), "Berlin"),
        2 => (Some(Hardfork::London), "London"),
        3 => (Some(Hardfork::Cancun), "Cancun"),
        4 => (Some(Hardfork::Prague), "Prague"),
        _ => (Some(Hardfork::Amsterdam), "a fork that knows it"),
    };
    if let Some(fork) = fork_needed
        && !active(fork)
    {
        return Err(PoolError::TxTypeNotSupported { tx_type, fork: name });
    }
    let blob_params = spec.blob_params_at(next.timestamp);
    if let Some(hashes) = tx.blob_versioned_hashes() {
        let permitted = blob_params.map_or(0, |params| params.max_blobs_per_tx);
        if hashes.len() as u64 > permitted {
            return Err(PoolError::TooManyBlobs { have: hashes.len(), permitted });
        }
    }
    let (tx, sidecar) = strip_sidecar(tx);
    let size = tx.encode_2718_len();
    if size > config.max_tx_size {
        return Err(PoolError::OversizedData { size, limit: config.max_tx_size });
    }
    let limits = balnode_executor::tx_limits(spec, &next);
    if tx.kind().is_create()
        && let Some(limit) = limits.max_initcode_size
        && tx.input().len() > limit
    {
        return Err(PoolError::MaxInitCodeSize { size: tx.input().len(), limit });
    }
    if let Some(cap) = limits.gas_limit_cap
        && tx.gas_limit() > cap
    {
        return Err(PoolError::GasLimitTooHigh { cap, gas: tx.gas_limit() });
    }
    if tx.gas_limit() > head.gas_limit {
        return Err(PoolError::ExceedsBlockGasLimit);
    }
    if tx.max_priority_fee_per_gas().is_some_and(|tip| tip > tx.max_fee_per_gas()) {
        return Err(PoolError::TipAboveFeeCap);
    }
    let sender = match sender {
        Some(sender) => sender,
        None => recover(spec, config, &tx)?,
    };
    if tx.nonce() == u64::MAX {
        return Err(PoolError::NonceMax);
    }
    balnode_executor::check_intrinsic_gas(spec, &next, &tx, sender)?;
    let tip = tx.priority_fee_or_price();
    if tip < config.min_tip {
        return Err(PoolError::Underpriced { tip, min: config.min_tip });
    }
    let sidecar = match tx.blob_versioned_hashes() {
        Some(hashes) => {
            let osaka = active(Hardfork::Osaka);
            Some(check_sidecar(&tx, hashes, sidecar, osaka)?)
        }
        None => None,
    };
    if tx.authorization_list().is_some_and(|list| list.is_empty()) {
        return Err(PoolError::EmptyAuthorizationList);
    }
    Ok(Checked { tx, sender, sidecar })
}

/// The sender of `tx`, with its chain id checked as geth's signer checks it.
fn recover(spec: &ChainSpec, config: &PoolConfig, tx: &TxEnvelope) -> Result<Address, PoolError> {
    let want = spec.chain_id();
    match tx.chain_id() {
        Some(have) if have != want => {
            return Err(PoolError::InvalidSender(format!(
                "invalid chain id for signer: have {have} want {want}"
            )));
        }
        None if !config.allow_unprotected => return Err(PoolError::Unprotected),
        _ => {}
    }
    tx.recover_signer().map_err(|_: RecoveryError| {
        PoolError::InvalidSender("invalid transaction v, r, s values".to_owned())
    })
}

/// geth's `validateBlobTx`: a sidecar of the fork's version (an EIP-4844 one is converted to cell proofs
/// after Osaka, as geth's `eth_sendRawTransaction` does), a minimum blob fee cap, blob counts matching the
/// hashes, commitments matching the versioned hashes, and proofs that verify.
fn check_sidecar(
    tx: &TxEnvelope,
    hashes: &[balnode_primitives::B256],
    sidecar: Option<BlobTransactionSidecarVariant>,
    osaka: bool,
) -> Result<BlobTransactionSidecarVariant, PoolError> {
    let mut sidecar = sidecar.ok_or(PoolError::MissingSidecar)?;
    let want = u8::from(osaka);
    let got = u8::from(sidecar.is_eip7594());
    if got != want {
        if osaka {
            let settings = EnvKzgSettings::Default;
            sidecar = sidecar
                .try_convert_into_eip7594_with_settings(settings.get())
                .map_err(|error| PoolError::SidecarConversion(error.to_string()))?;
        } else {
            return Err(PoolError::SidecarVersion { want, got });
        }
    }
    let cap = tx.max_fee_per_blob_gas().unwrap_or_default();
    if cap < BLOB_TX_MIN_BLOB_GASPRICE {
        return Err(PoolError::BlobFeeCapTooLow { cap, min: BLOB_TX_MIN_BLOB_GASPRICE });
    }
    if hashes.is_empty() {
        return Err(PoolError::Blobless);
    }
    let blobs = sidecar.blobs().len();
    let commitments = sidecar.commitments();
    if blobs != hashes.len() || commitments.len() != hashes.len() {
        return Err(PoolError::BlobCount {
            blobs: blobs.min(commitments.len()),
            hashes: hashes.len(),
        });
    }
    for (index, (commitment, have)) in commitments.iter().zip(hashes).enumerate() {
        let computed = kzg_to_versioned_hash(commitment.as_slice());
        if computed != *have {
            return Err(PoolError::VersionedHash { index, computed, have: *have });
        }
    }
    let (proofs, expected) = match &sidecar {
        BlobTransactionSidecarVariant::Eip4844(legacy) => (legacy.proofs.len(), hashes.len()),
        BlobTransactionSidecarVariant::Eip7594(cells) => {
            (cells.cell_proofs.len(), hashes.len() * CELLS_PER_EXT_BLOB)
        }
    };
    if proofs != expected {
        return Err(PoolError::ProofCount { proofs, expected });
    }
    sidecar
        .validate(hashes, EnvKzgSettings::Default.get())
        .map_err(|error| PoolError::Kzg(error.to_string()))?;
    Ok(sidecar)
}
