//! The block-file reader of `balnode import` (RLP records of 3 to 5 elements, plain or gzip) on any bytes:
//! every record it yields, or the error that stops it, and never a panic.

#![no_main]

use balnode_import::file::{BlockFileReader, decode_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // One record on its own, then the stream reader over the same bytes.
    if let Ok(record) = decode_record(data) {
        // A record that decodes encodes back to a record that decodes to the same block.
        let again = decode_record(&record.encode()).expect("a re-encoded record decodes");
        assert_eq!(again.block, record.block);
        assert_eq!(again.block_access_list, record.block_access_list);
    }
    let Ok(reader) = BlockFileReader::new(std::io::Cursor::new(data.to_vec())) else { return };
    for record in reader {
        if record.is_err() {
            break;
        }
    }
});
