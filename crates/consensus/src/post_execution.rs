//! The rules checked once a block has been executed: what the header commits to about the execution.

use balnode_primitives::{
    B256, Bloom, Header, ReceiptEnvelope, consensus::proofs::calculate_receipt_root,
};

use crate::ConsensusError;

/// Checks the header against the outcome of executing its block.
///
/// - `gas_used`, the gas the execution used, is the header's;
/// - the receipts root is the root of `receipts` (the EIP-2718 encodings, keyed by index; pre-Byzantium receipts
///   carry their intermediate state root in place of a status, and are taken as the executor built them);
/// - the logs bloom is the union of the receipts' blooms;
/// - `requests_hash`, the EIP-7685 hash of the requests the execution collected (`None` before Prague), is the
///   header's.
///
/// The state root is not here: computing it is the trie's business, and the import pipeline compares it.
pub fn validate_post_execution(
    header: &Header,
    receipts: &[ReceiptEnvelope],
    gas_used: u64,
    requests_hash: Option<B256>,
) -> Result<(), ConsensusError> {
    if gas_used != header.gas_used {
        return Err(ConsensusError::GasUsedMismatch { expected: gas_used, got: header.gas_used });
    }
    let receipts_root = calculate_receipt_root(receipts);
    if receipts_root != header.receipts_root {
        return Err(ConsensusError::ReceiptsRootMismatch {
            expected: receipts_root,
            got: header.receipts_root,
        });
    }
    let bloom = receipts.iter().fold(Bloom::ZERO, |mut bloom, receipt| {
        bloom |= *receipt.logs_bloom();
        bloom
    });
    if bloom != header.logs_bloom {
        return Err(ConsensusError::LogsBloomMismatch);
    }
    if requests_hash != header.requests_hash {
        return Err(ConsensusError::RequestsHashMismatch {
            expected: requests_hash,
            got: header.requests_hash,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use balnode_primitives::{
        Address, Bytes,
        consensus::{Eip658Value, Receipt},
        primitives::{Log, LogData},
    };

    use super::*;
    use crate::test_utils::header;

    fn receipt(cumulative_gas_used: u64, logs: usize) -> ReceiptEnvelope {
        let log = Log {
            address: Address::repeat_byte(logs as u8),
            data: LogData::new_unchecked(vec![B256::repeat_byte(9)], Bytes::new()),
        };
        let receipt = Receipt {
            status: Eip658Value::Eip658(true),
            cumulative_gas_used,
            logs: vec![log; logs],
        };
        ReceiptEnvelope::Eip1559(receipt.with_bloom())
    }

    /// The header committing to `receipts`, their gas and no requests.
    fn committed(receipts: &[ReceiptEnvelope]) -> Header {
        let mut bloom = Bloom::ZERO;
        for receipt in receipts {
            bloom.accrue_bloom(receipt.logs_bloom());
        }
        Header {
            gas_used: receipts.last().map_or(0, ReceiptEnvelope::cumulative_gas_used),
            receipts_root: calculate_receipt_root(receipts),
            logs_bloom: bloom,
            ..header()
        }
    }

    #[test]
    fn execution_outcome_must_match_the_header() {
        let receipts = [receipt(21_000, 1), receipt(50_000, 2)];
        let header = committed(&receipts);
        assert_ne!(header.logs_bloom, Bloom::ZERO);
        assert_eq!(validate_post_execution(&header, &receipts, 50_000, None), Ok(()));
        assert_eq!(
            validate_post_execution(&header, &receipts, 49_999, None),
            Err(ConsensusError::GasUsedMismatch { expected: 49_999, got: 50_000 })
        );
        assert_eq!(
            validate_post_execution(&header, &receipts[..1], 50_000, None),
            Err(ConsensusError::ReceiptsRootMismatch {
                expected: calculate_receipt_root(&receipts[..1]),
                got: header.receipts_root
            })
        );
        let wrong_bloom = Header { logs_bloom: Bloom::ZERO, ..header };
        assert_eq!(
            validate_post_execution(&wrong_bloom, &receipts, 50_000, None),
            Err(ConsensusError::LogsBloomMismatch)
        );
    }

    #[test]
    fn pre_byzantium_receipts_with_state_roots() {
        let receipt = Receipt {
            status: Eip658Value::PostState(B256::repeat_byte(3)),
            cumulative_gas_used: 21_000,
            logs: Vec::<Log>::new(),
        };
        let receipts = [ReceiptEnvelope::Legacy(receipt.with_bloom())];
        let header = committed(&receipts);
        assert_eq!(validate_post_execution(&header, &receipts, 21_000, None), Ok(()));
    }

    #[test]
    fn requests_hash_from_prague() {
        let receipts = [receipt(21_000, 0)];
        let prague = Header { requests_hash: Some(B256::repeat_byte(1)), ..committed(&receipts) };
        assert_eq!(
            validate_post_execution(&prague, &receipts, 21_000, Some(B256::repeat_byte(1))),
            Ok(())
        );
        assert_eq!(
            validate_post_execution(&prague, &receipts, 21_000, Some(B256::ZERO)),
            Err(ConsensusError::RequestsHashMismatch {
                expected: Some(B256::ZERO),
                got: Some(B256::repeat_byte(1))
            })
        );
        assert_eq!(
            validate_post_execution(&prague, &receipts, 21_000, None),
            Err(ConsensusError::RequestsHashMismatch {
                expected: None,
                got: Some(B256::repeat_byte(1))
            })
        );
        let cancun = committed(&receipts);
        assert_eq!(
            validate_post_execution(&cancun, &receipts, 21_000, Some(B256::ZERO)),
            Err(ConsensusError::RequestsHashMismatch { expected: Some(B256::ZERO), got: None })
        );
    }
}
