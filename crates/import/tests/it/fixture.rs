//! Blockchain-test fixtures: one small file of each bundle, from `testdata/fixtures/`.

use balnode_import::{
    file::{decode_record, encode_record},
    fixture::{FixtureError, FixtureTest, fixture_files, load_file},
};
use balnode_primitives::{eips::eip7928::compute_block_access_list_hash, keccak256, rlp};

use crate::testdata;

/// What checking one test found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checked {
    /// Valid blocks whose RLP decoded to their stated header.
    pub(crate) valid_blocks: usize,
    /// Blocks that must be rejected.
    pub(crate) invalid_blocks: usize,
    /// Of those, the ones whose RLP is not even a block record.
    pub(crate) invalid_undecodable: usize,
    /// Valid blocks whose JSON block access list hashes to the header's `block_access_list_hash`.
    pub(crate) bal_matched: usize,
}

/// Checks what can be checked of a test without executing it: the genesis hash of its chain spec, the genesis
/// RLP, that every valid block's RLP decodes (with the block file's record decoder) to the header the test
/// states and re-encodes to the same bytes, and that each JSON block access list, converted to alloy's type,
/// RLP-encoded and hashed, gives the header's `block_access_list_hash`.
pub(crate) fn check_test(test: &FixtureTest) -> Result<Checked, String> {
    let spec = test.chain_spec().map_err(|error| format!("chain spec: {error}"))?;
    let genesis = &test.genesis_block_header;
    if spec.genesis_hash() != test.genesis_hash() {
        return Err(format!("genesis hash {} != {}", spec.genesis_hash(), test.genesis_hash()));
    }
    let genesis_block =
        decode_record(&test.genesis_rlp).map_err(|error| format!("genesis RLP: {error}"))?;
    if genesis_block.block.header != genesis.header || genesis.header.hash_slow() != genesis.hash {
        return Err("the genesis RLP or header fields do not give the genesis hash".into());
    }

    let mut checked = Checked::default();
    for (i, block) in test.blocks.iter().enumerate() {
        let Some(expected) = &block.block_header else {
            if block.is_valid() {
                return Err(format!("block {i} has neither a header nor an exception"));
            }
            checked.invalid_blocks += 1;
            checked.invalid_undecodable += usize::from(block.decode().is_err());
            continue;
        };
        let record = block.decode().map_err(|error| format!("block {i}: {error}"))?;
        let hash = record.block.header.hash_slow();
        if hash != expected.hash {
            return Err(format!("block {i}: decoded header hash {hash} != {}", expected.hash));
        }
        if record.block.header != expected.header {
            return Err(format!("block {i}: the blockHeader fields differ from the RLP's header"));
        }
        if record.encode() != block.rlp[..] {
            return Err(format!("block {i}: re-encoding gives different bytes"));
        }
        checked.valid_blocks += 1;

        match (&block.block_access_list, expected.header.block_access_list_hash) {
            (Some(bal), Some(want)) => {
                let got = compute_block_access_list_hash(bal);
                if got != want {
                    return Err(format!(
                        "block {i}: JSON block access list hashes to {got}, header says {want}"
                    ));
                }
                // The same list as the fifth element of a block file record.
                let bal_rlp = rlp::encode(bal);
                assert_eq!(keccak256(&bal_rlp), want);
                let mut five = Vec::new();
                encode_record(&record.block, Some(&bal_rlp), &mut five);
                let decoded =
                    decode_record(&five).map_err(|error| format!("block {i} with BAL: {error}"))?;
                assert_eq!(decoded.decoded_block_access_list.as_ref(), Some(bal));
                assert_eq!(decoded.block, record.block);
                checked.bal_matched += 1;
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err(format!("block {i}: a block access list without a header hash"));
            }
            (None, Some(_)) => {
                return Err(format!("block {i}: a header BAL hash without a block access list"));
            }
        }
    }
    Ok(checked)
}

/// Each sample: the file, its network, and what `check_test` finds.
const SAMPLES: &[(&str, &str, Checked)] = &[
    (
        "eest-amsterdam-bal-code-changes.json",
        "Amsterdam",
        Checked { valid_blocks: 1, invalid_blocks: 0, invalid_undecodable: 0, bal_matched: 1 },
    ),
    (
        "eest-amsterdam-bal-invalid-missing-withdrawal-account.json",
        "Amsterdam",
        Checked { valid_blocks: 0, invalid_blocks: 1, invalid_undecodable: 0, bal_matched: 0 },
    ),
    (
        "eest-cancun-blobbasefee-before-fork.json",
        "ShanghaiToCancunAtTime15k",
        Checked { valid_blocks: 1, invalid_blocks: 0, invalid_undecodable: 0, bal_matched: 0 },
    ),
    (
        "ethereum-tests-withdrawals-amount-is-0.json",
        "Cancun",
        Checked { valid_blocks: 1, invalid_blocks: 0, invalid_undecodable: 0, bal_matched: 0 },
    ),
];

#[test]
fn each_sample_loads_and_checks() {
    for (file, network, want) in SAMPLES {
        let tests = load_file(testdata().join("fixtures").join(file)).unwrap();
        assert_eq!(tests.len(), 1, "{file}");
        let (name, test) = &tests[0];
        assert_eq!(&test.network, network, "{file}");
        assert_eq!(
            check_test(test).unwrap_or_else(|error| panic!("{name}: {error}")),
            *want,
            "{file}"
        );
        assert_eq!(test.seal_engine.as_deref(), Some("NoProof"));
    }
}

#[test]
fn sample_details() {
    let dir = testdata().join("fixtures");
    let (_, amsterdam) =
        load_file(dir.join("eest-amsterdam-bal-code-changes.json")).unwrap().remove(0);
    let config = amsterdam.config.as_ref().unwrap();
    assert_eq!(config.chainid, 1);
    assert_eq!(config.blob_schedule.len(), 6);
    assert_eq!(config.blob_schedule["Amsterdam"].max, 21);
    let bal = amsterdam.blocks[0].block_access_list.as_ref().unwrap();
    assert_eq!(bal.len(), 8);
    assert!(bal.iter().any(|account| !account.code_changes.is_empty()));
    assert!(bal.iter().any(|account| !account.storage_changes.is_empty()));
    assert!(bal.iter().any(|account| !account.storage_reads.is_empty()));
    assert!(bal.iter().any(|account| !account.nonce_changes.is_empty()));
    assert!(amsterdam.post_state.is_some());
    let genesis = amsterdam.genesis();
    assert_eq!(genesis.alloc, amsterdam.pre);
    assert_eq!(genesis.slot_number, Some(0));

    let (_, invalid) =
        load_file(dir.join("eest-amsterdam-bal-invalid-missing-withdrawal-account.json"))
            .unwrap()
            .remove(0);
    let block = &invalid.blocks[0];
    assert!(!block.is_valid());
    assert_eq!(block.expect_exception.as_deref(), Some("BlockException.INVALID_BLOCK_ACCESS_LIST"));
    assert!(block.rlp_decoded.is_some());

    // ethereum/tests files have no config: chain id 1 and no blob schedule.
    let (_, legacy) =
        load_file(dir.join("ethereum-tests-withdrawals-amount-is-0.json")).unwrap().remove(0);
    assert!(legacy.config.is_none());
    assert_eq!(legacy.genesis().config.chain_id, 1);
}

#[test]
fn fixture_files_are_sorted() {
    let files = fixture_files(testdata().join("fixtures")).unwrap();
    let names: Vec<_> =
        files.iter().map(|path| path.file_name().unwrap().to_str().unwrap()).collect();
    let mut want: Vec<_> = SAMPLES.iter().map(|(file, ..)| *file).collect();
    want.sort_unstable();
    assert_eq!(names, want);
}

#[test]
fn json_errors_name_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    let json = std::fs::read_to_string(
        testdata().join("fixtures/ethereum-tests-withdrawals-amount-is-0.json"),
    )
    .unwrap()
    .replacen("\"gasLimit\"", "\"gasLimit\": \"0xzz\", \"ignored\"", 1);
    std::fs::write(&path, json).unwrap();
    match load_file(&path).unwrap_err() {
        FixtureError::Json { path: got, field, .. } => {
            assert_eq!(got, path);
            assert!(field.ends_with(".gasLimit"), "{field}");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(matches!(load_file(dir.path().join("missing.json")), Err(FixtureError::Read { .. })));
}
