//! EIP-6110: the layout of the deposit contract's `DepositEvent` logs.
//!
//! alloy-evm collects deposit requests with a lenient ABI decoder; the execution specs also fix the event's
//! exact layout (length, offsets, field sizes) and make a block with any other layout invalid. This checks it.

use balnode_primitives::{Address, B256, ReceiptEnvelope, U256, b256, primitives::Log};

/// `keccak256("DepositEvent(bytes,bytes,bytes,bytes,bytes)")`.
const DEPOSIT_EVENT_TOPIC: B256 =
    b256!("0x649bbc62d0e31342afea4e5cd82d4049e7e1ee912fc0889aa790803be39038c5");

/// The length of a well-formed event's data.
const DEPOSIT_EVENT_LENGTH: usize = 576;

/// (offset, size) of each field: pubkey, withdrawal credentials, amount, signature, index.
const FIELDS: [(usize, usize); 5] = [(160, 48), (256, 32), (320, 8), (384, 96), (512, 8)];

/// Why a deposit event's layout is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deposit event in transaction {transaction}, log {log}: {reason}")]
pub struct DepositLayoutError {
    /// Index of the transaction in the block.
    pub transaction: usize,
    /// Index of the log in the transaction's receipt.
    pub log: usize,
    /// What is wrong.
    pub reason: String,
}

/// Checks every `DepositEvent` the deposit contract emitted in the block's receipts.
pub(crate) fn check_deposit_layouts(
    deposit_contract: Address,
    receipts: &[ReceiptEnvelope],
) -> Result<(), DepositLayoutError> {
    for (transaction, receipt) in receipts.iter().enumerate() {
        for (log, entry) in receipt.logs().iter().enumerate() {
            if entry.address == deposit_contract
                && entry.topics().first() == Some(&DEPOSIT_EVENT_TOPIC)
            {
                check_layout(entry).map_err(|reason| DepositLayoutError {
                    transaction,
                    log,
                    reason,
                })?;
            }
        }
    }
    Ok(())
}

fn check_layout(log: &Log) -> Result<(), String> {
    let data = log.data.data.as_ref();
    if data.len() != DEPOSIT_EVENT_LENGTH {
        return Err(format!("data is {} bytes, not {DEPOSIT_EVENT_LENGTH}", data.len()));
    }
    let word = |at: usize| U256::from_be_slice(&data[at..at + 32]);
    for (index, (offset, size)) in FIELDS.into_iter().enumerate() {
        let got_offset = word(index * 32);
        if got_offset != U256::from(offset) {
            return Err(format!("field {index} starts at {got_offset}, not {offset}"));
        }
        let got_size = word(offset);
        if got_size != U256::from(size) {
            return Err(format!("field {index} is {got_size} bytes, not {size}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use balnode_primitives::{Bytes, primitives::LogData};

    use super::*;

    fn event() -> Vec<u8> {
        let mut data = vec![0u8; DEPOSIT_EVENT_LENGTH];
        for (index, (offset, size)) in FIELDS.into_iter().enumerate() {
            data[index * 32 + 31] = offset as u8;
            data[index * 32 + 30] = (offset >> 8) as u8;
            data[offset + 31] = size as u8;
        }
        data
    }

    fn log(data: Vec<u8>) -> Log {
        Log {
            address: Address::ZERO,
            data: LogData::new_unchecked(vec![DEPOSIT_EVENT_TOPIC], Bytes::from(data)),
        }
    }

    #[test]
    fn the_specified_layout_passes_and_each_deviation_is_named() {
        assert_eq!(check_layout(&log(event())), Ok(()));
        let mut short = event();
        short.pop();
        assert!(check_layout(&log(short)).unwrap_err().contains("575 bytes"));
        let mut moved = event();
        moved[31] = 161;
        assert!(check_layout(&log(moved)).unwrap_err().contains("field 0 starts at 161"));
        let mut resized = event();
        resized[320 + 31] = 9;
        assert!(check_layout(&log(resized)).unwrap_err().contains("field 2 is 9 bytes"));
    }
}
