//! The EIP-7928 block access list decoder and structural validator on any bytes: strict decoding means a list
//! that decodes re-encodes to the same bytes; validation never panics.

#![no_main]

use balnode_bal::{Limits, decode, encode, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(list) = decode(data) else { return };
    assert_eq!(encode(&list).as_ref(), data, "a strictly decoded list re-encodes to its bytes");
    // Limits from the input's first bytes, so both the accepting and refusing paths run.
    let transactions = u64::from(data.first().copied().unwrap_or(0));
    let gas_limit = u64::from(data.last().copied().unwrap_or(0)) * 1_000_000;
    let max_code_size = usize::from(data.get(1).copied().unwrap_or(0)) * 256;
    let _ = validate(&list, &Limits { transactions, gas_limit, max_code_size });
});
