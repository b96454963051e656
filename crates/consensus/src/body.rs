//! Body rules: the body against its header, and the transactions each fork allows.

use balnode_chainspec::{BlobParams, ChainSpec, Hardfork};
use balnode_primitives::{
    BlockBody, EMPTY_OMMER_ROOT_HASH, Header, TxEnvelope,
    consensus::{
        Block, Transaction, TxEip4844Variant,
        proofs::{calculate_ommers_root, calculate_transaction_root, calculate_withdrawals_root},
    },
    eips::eip4844::{DATA_GAS_PER_BLOB, VERSIONED_HASH_VERSION_KZG},
};

use crate::{
    ConsensusError,
    constants::{MAX_OMMERS, MAX_RLP_BLOCK_SIZE},
    header::is_proof_of_stake,
};

/// Checks a body against its header and the transaction rules of the forks active at the header.
///
/// In order:
/// - from Osaka, the RLP-encoded block is at most [`MAX_RLP_BLOCK_SIZE`] bytes (EIP-7934);
/// - ommers: none after the merge, at most [`MAX_OMMERS`], and their hash is the header's ommers hash (their
///   ancestry is [`validate_ommers`](crate::validate_ommers)'s);
/// - the transactions root is the root of the transactions;
/// - withdrawals are present exactly from Shanghai, and their root is the header's;
/// - each transaction's type is active: EIP-2930 from Berlin, EIP-1559 from London, EIP-4844 from Cancun,
///   EIP-7702 from Prague; a blob transaction has at least one blob, at most the per-transaction maximum of the
///   blob parameters in force, KZG versioned hashes and no sidecar; a set-code transaction has authorizations;
/// - from Cancun, the blob gas of the transactions is the header's blob gas used.
///
/// Call [`validate_header_standalone`](crate::validate_header_standalone) first. The transaction rules that need
/// state, signatures or the EVM's gas schedule (sender recovery, nonces, balances, fee caps against the base fees,
/// intrinsic gas, EIP-7825's gas limit cap) are the executor's.
pub fn validate_body(
    spec: &ChainSpec,
    header: &Header,
    body: &BlockBody<TxEnvelope>,
) -> Result<(), ConsensusError> {
    let active = |fork| spec.is_active_at(fork, header.number, header.timestamp);

    // First, as the execution specs do: a length is cheap, hashing an oversized body is not.
    if active(Hardfork::Osaka) {
        let size = Block::<TxEnvelope>::rlp_length_for(header, body);
        if size > MAX_RLP_BLOCK_SIZE {
            return Err(ConsensusError::BlockTooLarge { max: MAX_RLP_BLOCK_SIZE, got: size });
        }
    }

    if !body.ommers.is_empty() && is_proof_of_stake(spec, header) {
        return Err(ConsensusError::OmmersAfterMerge { ommers_hash: header.ommers_hash });
    }
    if body.ommers.len() > MAX_OMMERS {
        return Err(ConsensusError::TooManyOmmers { max: MAX_OMMERS, got: body.ommers.len() });
    }
    let ommers_hash = calculate_ommers_root(&body.ommers);
    if ommers_hash != header.ommers_hash {
        return Err(ConsensusError::OmmersHashMismatch {
            expected: ommers_hash,
            got: header.ommers_hash,
        });
    }

    let transactions_root = calculate_transaction_root(&body.transactions);
    if transactions_root != header.transactions_root {
        return Err(ConsensusError::TransactionsRootMismatch {
            expected: transactions_root,
            got: header.transactions_root,
        });
    }

    match (&body.withdrawals, active(Hardfork::Shanghai)) {
        (Some(withdrawals), true) => {
            let expected = calculate_withdrawals_root(withdrawals);
            let got = header
                .withdrawals_root
                .ok_or(ConsensusError::MissingField { field: "withdrawalsRoot" })?;
            if expected != got {
                return Err(ConsensusError::WithdrawalsRootMismatch { expected, got });
            }
        }
        (None, true) => return Err(ConsensusError::MissingWithdrawals),
        (Some(_), false) => return Err(ConsensusError::UnexpectedWithdrawals),
        (None, false) => {}
    }

    let cancun = active(Hardfork::Cancun);
    let blob_params = spec.blob_params_at(header.timestamp).filter(|_| cancun);
    let mut blob_gas_used: u64 = 0;
    for (index, tx) in body.transactions.iter().enumerate() {
        let tx_type = tx.tx_type() as u8;
        let fork = match tx {
            TxEnvelope::Legacy(_) => Hardfork::Frontier,
            TxEnvelope::Eip2930(_) => Hardfork::Berlin,
            TxEnvelope::Eip1559(_) => Hardfork::London,
            TxEnvelope::Eip4844(_) => Hardfork::Cancun,
            TxEnvelope::Eip7702(_) => Hardfork::Prague,
        };
        if !active(fork) {
            return Err(ConsensusError::TransactionTypeNotActive { index, tx_type });
        }
        match tx {
            TxEnvelope::Eip4844(signed) => {
                let params = blob_params.unwrap_or_else(BlobParams::cancun);
                blob_gas_used = blob_gas_used.saturating_add(validate_blob_transaction(
                    index,
                    signed.tx(),
                    &params,
                )?);
            }
            TxEnvelope::Eip7702(signed) if signed.tx().authorization_list.is_empty() => {
                return Err(ConsensusError::EmptyAuthorizationList { index });
            }
            _ => {}
        }
    }
    if cancun {
        let got =
            header.blob_gas_used.ok_or(ConsensusError::MissingField { field: "blobGasUsed" })?;
        if got != blob_gas_used {
            return Err(ConsensusError::IncorrectBlobGasUsed { expected: blob_gas_used, got });
        }
    }

    Ok(())
}

/// Checks one blob transaction and returns its blob gas.
fn validate_blob_transaction(
    index: usize,
    tx: &TxEip4844Variant,
    params: &BlobParams,
) -> Result<u64, ConsensusError> {
    if matches!(tx, TxEip4844Variant::TxEip4844WithSidecar(_)) {
        return Err(ConsensusError::BlobTransactionWithSidecar { index });
    }
    let hashes = tx.blob_versioned_hashes().unwrap_or_default();
    let count = hashes.len() as u64;
    if count == 0 {
        return Err(ConsensusError::BlobTransactionWithoutBlobs { index });
    }
    if count > params.max_blobs_per_tx {
        return Err(ConsensusError::TooManyBlobsInTransaction {
            index,
            max: params.max_blobs_per_tx,
            got: count,
        });
    }
    if let Some(hash) = hashes.iter().find(|hash| hash[0] != VERSIONED_HASH_VERSION_KZG) {
        return Err(ConsensusError::InvalidBlobVersionedHash { index, hash: *hash });
    }
    Ok(count.saturating_mul(DATA_GAS_PER_BLOB))
}

/// Whether a header says its block has no ommers.
pub(crate) fn has_no_ommers(header: &Header) -> bool {
    header.ommers_hash == EMPTY_OMMER_ROOT_HASH
}

#[cfg(test)]
mod tests {
    use balnode_primitives::{
        Address, B256, Bytes, U256, Withdrawal,
        consensus::{Signed, TxEip1559, TxEip2930, TxEip4844, TxEip7702, TxLegacy},
        eips::{eip4895::Withdrawals, eip7702::SignedAuthorization},
        primitives::Signature,
    };

    use super::*;
    use crate::test_utils::{child, genesis, spec};

    fn signature() -> Signature {
        Signature::new(U256::from(1), U256::from(1), false)
    }

    fn legacy() -> TxEnvelope {
        TxEnvelope::Legacy(Signed::new_unhashed(TxLegacy::default(), signature()))
    }

    fn access_list_tx() -> TxEnvelope {
        TxEnvelope::Eip2930(Signed::new_unhashed(TxEip2930::default(), signature()))
    }

    fn dynamic_fee_tx() -> TxEnvelope {
        TxEnvelope::Eip1559(Signed::new_unhashed(TxEip1559::default(), signature()))
    }

    fn blob_tx(blobs: usize) -> TxEnvelope {
        let mut hash = B256::ZERO;
        hash[0] = VERSIONED_HASH_VERSION_KZG;
        let tx = TxEip4844 { blob_versioned_hashes: vec![hash; blobs], ..Default::default() };
        TxEnvelope::Eip4844(Signed::new_unhashed(tx, signature()).into())
    }

    fn set_code_tx(authorizations: usize) -> TxEnvelope {
        let authorization = SignedAuthorization::new_unchecked(
            balnode_primitives::eips::eip7702::Authorization {
                chain_id: U256::from(1),
                address: Address::ZERO,
                nonce: 0,
            },
            0,
            U256::from(1),
            U256::from(1),
        );
        let tx = TxEip7702 {
            authorization_list: vec![authorization; authorizations],
            ..Default::default()
        };
        TxEnvelope::Eip7702(Signed::new_unhashed(tx, signature()))
    }

    /// A block of `network` at `timestamp` holding `transactions`, with the header committing to them.
    fn block(
        network: &str,
        timestamp: u64,
        transactions: Vec<TxEnvelope>,
    ) -> (ChainSpec, Header, BlockBody<TxEnvelope>) {
        let spec = spec(network);
        let mut header = child(&spec, &genesis(&spec), timestamp);
        header.transactions_root = calculate_transaction_root(&transactions);
        let blobs: usize =
            transactions.iter().filter_map(|tx| tx.blob_versioned_hashes()).map(<[_]>::len).sum();
        if header.blob_gas_used.is_some() {
            header.blob_gas_used = Some(blobs as u64 * DATA_GAS_PER_BLOB);
        }
        let withdrawals = header.withdrawals_root.map(|_| Withdrawals::default());
        (spec, header, BlockBody { transactions, ommers: Vec::new(), withdrawals })
    }

    fn check(
        network: &str,
        timestamp: u64,
        transactions: Vec<TxEnvelope>,
    ) -> Result<(), ConsensusError> {
        let (spec, header, body) = block(network, timestamp, transactions);
        validate_body(&spec, &header, &body)
    }

    #[test]
    fn roots_must_match() {
        let (spec, header, body) = block("Cancun", 12, vec![legacy(), blob_tx(1)]);
        assert_eq!(validate_body(&spec, &header, &body), Ok(()));
        let wrong = Header { transactions_root: B256::ZERO, ..header.clone() };
        assert_eq!(
            validate_body(&spec, &wrong, &body),
            Err(ConsensusError::TransactionsRootMismatch {
                expected: header.transactions_root,
                got: B256::ZERO
            })
        );
        let wrong = Header { ommers_hash: B256::ZERO, ..header };
        assert_eq!(
            validate_body(&spec, &wrong, &body),
            Err(ConsensusError::OmmersHashMismatch {
                expected: EMPTY_OMMER_ROOT_HASH,
                got: B256::ZERO
            })
        );
    }

    #[test]
    fn ommers_count_hash_and_merge() {
        let (spec, mut header, mut body) = block("London", 12, vec![]);
        let ommer = genesis(&spec);
        body.ommers = vec![ommer.clone(), ommer.clone()];
        header.ommers_hash = calculate_ommers_root(&body.ommers);
        assert_eq!(validate_body(&spec, &header, &body), Ok(()));
        body.ommers.push(ommer.clone());
        header.ommers_hash = calculate_ommers_root(&body.ommers);
        assert_eq!(
            validate_body(&spec, &header, &body),
            Err(ConsensusError::TooManyOmmers { max: 2, got: 3 })
        );

        let (spec, mut header, mut body) = block("Paris", 12, vec![]);
        body.ommers = vec![ommer];
        header.ommers_hash = calculate_ommers_root(&body.ommers);
        assert_eq!(
            validate_body(&spec, &header, &body),
            Err(ConsensusError::OmmersAfterMerge { ommers_hash: header.ommers_hash })
        );
    }

    #[test]
    fn withdrawals_from_shanghai() {
        let (spec, header, body) = block("Paris", 12, vec![]);
        assert_eq!(validate_body(&spec, &header, &body), Ok(()));
        let with = BlockBody { withdrawals: Some(Withdrawals::default()), ..body };
        assert_eq!(
            validate_body(&spec, &header, &with),
            Err(ConsensusError::UnexpectedWithdrawals)
        );

        let (spec, header, body) = block("Shanghai", 12, vec![]);
        assert_eq!(validate_body(&spec, &header, &body), Ok(()));
        let without = BlockBody { withdrawals: None, ..body.clone() };
        assert_eq!(
            validate_body(&spec, &header, &without),
            Err(ConsensusError::MissingWithdrawals)
        );
        let withdrawal =
            Withdrawal { index: 1, validator_index: 2, address: Address::ZERO, amount: 3 };
        let other = BlockBody { withdrawals: Some(Withdrawals::new(vec![withdrawal])), ..body };
        assert_eq!(
            validate_body(&spec, &header, &other),
            Err(ConsensusError::WithdrawalsRootMismatch {
                expected: calculate_withdrawals_root(&[withdrawal]),
                got: balnode_primitives::EMPTY_ROOT_HASH
            })
        );
    }

    #[test]
    fn transaction_types_by_fork() {
        let not_active =
            |tx_type| Err(ConsensusError::TransactionTypeNotActive { index: 1, tx_type });
        assert_eq!(check("Istanbul", 12, vec![legacy(), access_list_tx()]), not_active(1));
        assert_eq!(check("Berlin", 12, vec![legacy(), access_list_tx()]), Ok(()));
        assert_eq!(check("Berlin", 12, vec![legacy(), dynamic_fee_tx()]), not_active(2));
        assert_eq!(check("London", 12, vec![legacy(), dynamic_fee_tx()]), Ok(()));
        assert_eq!(
            check("ShanghaiToCancunAtTime15k", 14_999, vec![legacy(), blob_tx(1)]),
            not_active(3)
        );
        assert_eq!(check("ShanghaiToCancunAtTime15k", 15_000, vec![legacy(), blob_tx(1)]), Ok(()));
        assert_eq!(
            check("CancunToPragueAtTime15k", 14_999, vec![legacy(), set_code_tx(1)]),
            not_active(4)
        );
        assert_eq!(
            check("CancunToPragueAtTime15k", 15_000, vec![legacy(), set_code_tx(1)]),
            Ok(())
        );
    }

    #[test]
    fn blob_and_authorization_contents() {
        assert_eq!(
            check("Cancun", 12, vec![blob_tx(0)]),
            Err(ConsensusError::BlobTransactionWithoutBlobs { index: 0 })
        );
        assert_eq!(check("Cancun", 12, vec![blob_tx(6)]), Ok(()));
        assert_eq!(
            check("Cancun", 12, vec![blob_tx(7)]),
            Err(ConsensusError::TooManyBlobsInTransaction { index: 0, max: 6, got: 7 })
        );
        assert_eq!(check("Prague", 12, vec![blob_tx(7)]), Ok(()));
        // Osaka caps a transaction at 6 blobs, under a block maximum of 9 (EIP-7594).
        assert_eq!(
            check("PragueToOsakaAtTime15k", 15_000, vec![blob_tx(7)]),
            Err(ConsensusError::TooManyBlobsInTransaction { index: 0, max: 6, got: 7 })
        );
        assert_eq!(check("PragueToOsakaAtTime15k", 14_999, vec![blob_tx(7)]), Ok(()));

        let mut tx = blob_tx(2);
        let TxEnvelope::Eip4844(signed) = &mut tx else { unreachable!() };
        let TxEip4844Variant::TxEip4844(inner) = signed.tx_mut() else { unreachable!() };
        inner.blob_versioned_hashes[1][0] = 0x02;
        let bad = inner.blob_versioned_hashes[1];
        assert_eq!(
            check("Cancun", 12, vec![legacy(), tx]),
            Err(ConsensusError::InvalidBlobVersionedHash { index: 1, hash: bad })
        );

        assert_eq!(
            check("Prague", 12, vec![set_code_tx(0)]),
            Err(ConsensusError::EmptyAuthorizationList { index: 0 })
        );
    }

    #[test]
    fn blob_gas_used_is_the_sum_of_the_blobs() {
        let (spec, header, body) = block("Cancun", 12, vec![blob_tx(2), legacy(), blob_tx(1)]);
        assert_eq!(header.blob_gas_used, Some(3 * DATA_GAS_PER_BLOB));
        assert_eq!(validate_body(&spec, &header, &body), Ok(()));
        let wrong = Header { blob_gas_used: Some(2 * DATA_GAS_PER_BLOB), ..header };
        assert_eq!(
            validate_body(&spec, &wrong, &body),
            Err(ConsensusError::IncorrectBlobGasUsed {
                expected: 3 * DATA_GAS_PER_BLOB,
                got: 2 * DATA_GAS_PER_BLOB
            })
        );
    }

    #[test]
    fn block_size_limit_from_osaka() {
        // Hashing megabytes is slow in debug builds: the oversized block is refused before any hashing, and the
        // block at the limit is hashed once to build its header.
        let big = |len: usize| {
            let tx = TxLegacy { input: Bytes::from(vec![0; len]), ..Default::default() };
            TxEnvelope::Legacy(Signed::new_unhashed(tx, signature()))
        };
        let spec = spec("PragueToOsakaAtTime15k");
        let osaka = child(&spec, &genesis(&spec), 15_000);
        let body = BlockBody {
            transactions: vec![big(MAX_RLP_BLOCK_SIZE)],
            withdrawals: Some(Withdrawals::default()),
            ..Default::default()
        };
        let size = Block::<TxEnvelope>::rlp_length_for(&osaka, &body);
        assert_eq!(
            validate_body(&spec, &osaka, &body),
            Err(ConsensusError::BlockTooLarge { max: MAX_RLP_BLOCK_SIZE, got: size })
        );

        let fits = BlockBody {
            transactions: vec![big(MAX_RLP_BLOCK_SIZE - (size - MAX_RLP_BLOCK_SIZE))],
            withdrawals: Some(Withdrawals::default()),
            ..Default::default()
        };
        let osaka =
            Header { transactions_root: calculate_transaction_root(&fits.transactions), ..osaka };
        assert_eq!(Block::<TxEnvelope>::rlp_length_for(&osaka, &fits), MAX_RLP_BLOCK_SIZE);
        assert_eq!(validate_body(&spec, &osaka, &fits), Ok(()));

        // Before Osaka there is no limit: one byte more passes.
        let prague = Header { timestamp: 14_999, ..osaka };
        let mut over = fits;
        let TxEnvelope::Legacy(signed) = &mut over.transactions[0] else { unreachable!() };
        signed.tx_mut().input =
            Bytes::from(vec![0; MAX_RLP_BLOCK_SIZE - (size - MAX_RLP_BLOCK_SIZE) + 1]);
        let prague = Header { transactions_root: B256::ZERO, ..prague };
        assert!(Block::<TxEnvelope>::rlp_length_for(&prague, &over) > MAX_RLP_BLOCK_SIZE);
        assert!(matches!(
            validate_body(&spec, &prague, &over),
            Err(ConsensusError::TransactionsRootMismatch { .. })
        ));
    }
}
