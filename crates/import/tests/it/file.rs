//! Block files: the rpc-compat chain from `testdata/`, round trips, and damaged files.

use std::{fs, io::Cursor};

use balnode_import::file::{
    BlockFileError, BlockFileReader, BlockFileWriter, BlockRecord, RecordError, decode_record,
};
use balnode_primitives::{Bytes, rlp::EMPTY_LIST_CODE};
use proptest::prelude::*;

use crate::testdata;

/// Reads every record of `bytes`, stopping at the first error.
fn read(bytes: &[u8]) -> (Vec<BlockRecord>, Option<BlockFileError>) {
    let mut records = Vec::new();
    for result in BlockFileReader::new(Cursor::new(bytes.to_vec())).unwrap() {
        match result {
            Ok(record) => records.push(record),
            Err(error) => return (records, Some(error)),
        }
    }
    (records, None)
}

/// Checks that `records` are the blocks `1..=count` of one chain, and that re-encoding them gives `raw` back.
pub(crate) fn check_chain(records: &[BlockRecord], raw: &[u8], count: usize) {
    assert_eq!(records.len(), count);
    let mut offset = 0u64;
    let mut reencoded = Vec::with_capacity(raw.len());
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.index, i as u64);
        assert_eq!(record.offset, offset, "record {i}");
        assert_eq!(record.number(), i as u64 + 1, "record {i}");
        if i > 0 {
            assert_eq!(
                record.block.header.parent_hash,
                records[i - 1].block.header.hash_slow(),
                "record {i}"
            );
        }
        let bytes = record.encode();
        assert_eq!(bytes.len(), record.size, "record {i}");
        assert_eq!(
            &raw[offset as usize..][..record.size],
            &bytes[..],
            "record {i} re-encodes differently"
        );
        reencoded.extend(bytes);
        offset += record.size as u64;
    }
    assert_eq!(reencoded, raw);
}

fn rpc_compat() -> (Vec<u8>, Vec<BlockRecord>) {
    let raw = fs::read(testdata().join("chains/rpc-compat/chain.rlp")).unwrap();
    let records = BlockFileReader::open(testdata().join("chains/rpc-compat/chain.rlp"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (raw, records)
}

/// A small file for exhaustive damage: two early proof-of-work records and the smallest record with withdrawals
/// and typed transactions.
fn small_file() -> (Vec<u8>, Vec<BlockRecord>) {
    let (_, records) = rpc_compat();
    let typed = records
        .iter()
        .filter(|r| r.block.body.withdrawals.is_some())
        .filter(|r| r.block.body.transactions.iter().any(|tx| !tx.is_legacy()))
        .min_by_key(|r| r.size)
        .unwrap()
        .clone();
    let picked = [records[2].clone(), records[3].clone(), typed];
    let mut bytes = Vec::new();
    for record in &picked {
        bytes.extend(record.encode());
    }
    let (records, error) = read(&bytes);
    assert!(error.is_none());
    (bytes, records)
}

#[test]
fn rpc_compat_chain_decodes_and_reencodes() {
    let (raw, records) = rpc_compat();
    check_chain(&records, &raw, 54);
    let transactions: usize = records.iter().map(|r| r.block.body.transactions.len()).sum();
    assert_eq!(transactions, 249);
    assert_eq!(records.iter().filter(|r| r.block.body.withdrawals.is_some()).count(), 16);
    assert!(records.iter().all(|r| r.block_access_list.is_none()));
    // The record decoder agrees with alloy's block decoder on every 3- and 4-element record.
    for record in &records {
        let alloy = <balnode_primitives::Block as balnode_primitives::rlp::Decodable>::decode(
            &mut &raw[record.offset as usize..][..record.size],
        )
        .unwrap();
        assert_eq!(alloy, record.block);
        assert_eq!(decode_record(&record.encode()).unwrap().block, record.block);
    }
}

#[test]
fn rpc_compat_chain_round_trips_through_files() {
    let (raw, records) = rpc_compat();
    let dir = tempfile::tempdir().unwrap();
    for name in ["chain.rlp", "chain.rlp.gz"] {
        let path = dir.path().join(name);
        let mut writer = BlockFileWriter::create(&path).unwrap();
        for record in &records {
            writer.write(&record.block, None).unwrap();
        }
        writer.finish().unwrap();
        let reader = BlockFileReader::open(&path).unwrap();
        assert_eq!(reader.is_gzip(), name.ends_with(".gz"));
        let read_back = reader.collect::<Result<Vec<_>, _>>().unwrap();
        check_chain(&read_back, &raw, 54);
    }
}

#[test]
fn records_with_block_access_lists_round_trip() {
    let (_, records) = rpc_compat();
    // Every block with a BAL, whatever its fork: an empty list, and one with an entry.
    let bal = |i: usize| -> Bytes {
        if i.is_multiple_of(2) {
            Bytes::from_static(&[EMPTY_LIST_CODE])
        } else {
            // [[address, [], [], [[index, balance]], [], []]]
            let mut account = balnode_primitives::eips::eip7928::AccountChanges::new(
                balnode_primitives::Address::with_last_byte(i as u8),
            );
            account.balance_changes.push(balnode_primitives::eips::eip7928::BalanceChange::new(
                balnode_primitives::eips::eip7928::BlockAccessIndex::new(1),
                balnode_primitives::U256::from(i),
            ));
            balnode_primitives::rlp::encode(vec![account]).into()
        }
    };
    let dir = tempfile::tempdir().unwrap();
    for name in ["bal.rlp", "bal.rlp.gz"] {
        let path = dir.path().join(name);
        let mut writer = BlockFileWriter::create(&path).unwrap();
        for (i, record) in records.iter().enumerate() {
            writer.write(&record.block, Some(&bal(i))).unwrap();
        }
        writer.finish().unwrap();
        let read_back =
            BlockFileReader::open(&path).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
        assert_eq!(read_back.len(), records.len());
        for (i, (got, want)) in read_back.iter().zip(&records).enumerate() {
            assert_eq!(got.block_access_list.as_ref(), Some(&bal(i)));
            assert_eq!(got.block.header, want.block.header);
            assert_eq!(got.block.body.transactions, want.block.body.transactions);
            // Pre-Shanghai blocks are written with an empty withdrawals element, as geth writes it, and read
            // back without withdrawals (their header has no withdrawals root): the block is the same.
            assert_eq!(got.block.body.withdrawals, want.block.body.withdrawals);
            assert_eq!(got.block, want.block);
            assert_eq!(decode_record(&got.encode()).unwrap().block_access_list, Some(bal(i)));
        }
    }
}

#[test]
fn gzip_is_told_by_its_magic_not_its_name() {
    let (raw, _) = rpc_compat();
    let dir = tempfile::tempdir().unwrap();
    let misnamed_plain = dir.path().join("plain.rlp.gz");
    fs::write(&misnamed_plain, &raw).unwrap();
    let reader = BlockFileReader::open(&misnamed_plain).unwrap();
    assert!(!reader.is_gzip());
    assert_eq!(reader.count(), 54);

    let misnamed_gzip = dir.path().join("compressed.rlp");
    let mut writer = BlockFileWriter::gzip(fs::File::create(&misnamed_gzip).unwrap());
    for record in BlockFileReader::new(Cursor::new(raw)).unwrap() {
        writer.write(&record.unwrap().block, None).unwrap();
    }
    writer.finish().unwrap();
    let reader = BlockFileReader::open(&misnamed_gzip).unwrap();
    assert!(reader.is_gzip());
    assert_eq!(reader.map(Result::unwrap).count(), 54);
}

#[test]
fn missing_file_is_named() {
    let error = BlockFileReader::open("/nonexistent/chain.rlp").unwrap_err();
    assert!(
        error.to_string().starts_with("cannot open block file /nonexistent/chain.rlp: "),
        "{error}"
    );
}

/// Checks what reading `bytes`, a prefix of `original` cut at `cut`, gives.
fn check_truncated(original: &[u8], records: &[BlockRecord], cut: usize) {
    let (read_back, error) = read(&original[..cut]);
    let whole = records.iter().take_while(|r| r.offset as usize + r.size <= cut).count();
    assert_eq!(&read_back[..], &records[..whole], "cut at {cut}");
    let at_boundary = whole == records.len() || records[whole].offset as usize == cut;
    if at_boundary {
        // A cut between records leaves a valid, shorter file: the format has no count or end marker.
        assert!(error.is_none(), "cut at {cut}: {error:?}");
        return;
    }
    let record = &records[whole];
    let read_into = (cut - record.offset as usize) as u64;
    match error {
        Some(BlockFileError::Truncated { location, read, expected }) => {
            assert_eq!(
                (location.index, location.offset),
                (whole as u64, record.offset),
                "cut at {cut}"
            );
            assert_eq!(read, read_into, "cut at {cut}");
            let prefix = match original[record.offset as usize] {
                first @ 0xf8.. => 1 + u64::from(first - 0xf7),
                _ => 1,
            };
            let want = if read_into < prefix { prefix } else { record.size as u64 };
            assert_eq!(expected, want, "cut at {cut}");
            let message = BlockFileError::Truncated { location, read, expected }.to_string();
            assert!(message.contains(&format!("block record {whole} at offset ")), "{message}");
        }
        other => panic!("cut at {cut}: expected a truncation error, got {other:?}"),
    }
}

#[test]
fn truncation_at_every_position_names_the_record() {
    let (bytes, records) = small_file();
    for cut in 0..bytes.len() {
        check_truncated(&bytes, &records, cut);
    }
}

/// Checks that damaging `bytes` is noticed: an error, or blocks that differ.
fn check_damaged(original: &[BlockRecord], damaged: &[u8], what: &str) {
    let (records, error) = read(damaged);
    if error.is_none() {
        let same = records.len() == original.len()
            && records.iter().zip(original).all(|(a, b)| a.block == b.block);
        assert!(!same, "{what}: the damage went unnoticed");
    }
}

#[test]
fn flipped_bytes_give_an_error_or_a_different_block() {
    let (bytes, records) = small_file();
    for position in 0..bytes.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut damaged = bytes.clone();
            damaged[position] ^= mask;
            check_damaged(&records, &damaged, &format!("byte {position} ^ {mask:#04x}"));
        }
    }
}

#[test]
fn standalone_record_errors() {
    let (bytes, records) = small_file();
    let first = &bytes[..records[0].size];
    assert!(decode_record(first).is_ok());
    assert_eq!(decode_record(&[]).unwrap_err(), RecordError::Empty);
    assert_eq!(decode_record(&[0x80]).unwrap_err(), RecordError::NotAList { first: 0x80 });
    let mut trailing = first.to_vec();
    trailing.push(0);
    assert!(matches!(decode_record(&trailing), Err(RecordError::TrailingBytes { count: 1, .. })));
    assert!(matches!(
        decode_record(&first[..first.len() - 1]),
        Err(RecordError::Malformed { source: balnode_primitives::rlp::Error::InputTooShort, .. })
    ));
}

/// What `compressed` decodes to, if it is a valid gzip stream (CRC and size included).
fn gunzip(compressed: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(compressed), &mut out)
        .ok()?;
    Some(out)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let (records, _) = read(bytes);
    let mut writer = BlockFileWriter::gzip(Vec::new());
    for record in &records {
        writer.write(&record.block, record.block_access_list.as_ref()).unwrap();
    }
    writer.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_truncation_and_corruption(cut in any::<prop::sample::Index>(), flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..), 0..4)) {
        let (bytes, records) = small_file();
        check_truncated(&bytes, &records, cut.index(bytes.len()));
        let mut damaged = bytes.clone();
        for (position, mask) in &flips {
            damaged[position.index(bytes.len())] ^= mask;
        }
        if !flips.is_empty() {
            check_damaged(&records, &damaged, &format!("flips {flips:?}"));
        }
    }

    #[test]
    fn random_damage_to_a_gzip_file(cut in any::<prop::sample::Index>(), position in any::<prop::sample::Index>(), mask in 1u8..) {
        let (bytes, records) = small_file();
        let compressed = gzip(&bytes);
        // Cut anywhere short of the end: the gzip trailer is missing, so it is always an error. (A cut at 0
        // leaves an empty file, which is no longer gzip and holds no records: that is valid.)
        let cut = 1 + cut.index(compressed.len() - 1);
        let (read_back, error) = read(&compressed[..cut]);
        prop_assert!(error.is_some(), "gzip cut at {cut} went unnoticed");
        prop_assert_eq!(&read_back[..], &records[..read_back.len()]);
        // A flipped byte is noticed (the CRC covers the data), unless it is in the header's unchecked
        // metadata (MTIME, XFL and OS: bytes 4 to 9) or changes nothing the data decodes to (the unused
        // padding bits after the last deflate block).
        let position = position.index(compressed.len());
        let mut damaged = compressed;
        damaged[position] ^= mask;
        if !(4..10).contains(&position) && gunzip(&damaged).as_deref() != Some(&bytes[..]) {
            check_damaged(&records, &damaged, &format!("gzip byte {position} ^ {mask:#04x}"));
        }
    }
}
