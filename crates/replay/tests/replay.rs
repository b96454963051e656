//! Replay of small corpus bundles (copied into `testdata/bundles`) and of malformed variants of them.

use std::{
    fs,
    path::{Path, PathBuf},
};

use balnode_chainspec::mainnet;
use balnode_replay::{
    ReplayError,
    bundle::{BAL_FILE, BLOCK_HASHES_FILE, BundleError, PRE_STATE_FILE, find_bundles, load_bundle},
    compact::{COMPACT_EXTENSION, write_compact},
    critical_path::{critical_path, transaction_accesses},
    replay::{PRE_BYZANTIUM_RECEIPTS_UNCHECKED, replay_bundle},
    write_block_access_list,
};
use serde_json::Value;

fn bundles() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/bundles")
}

/// A copy of bundle `number` in a temporary directory, `edit` applied to its pre-state JSON.
fn edited_copy(number: u64, edit: impl FnOnce(&mut Value)) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(number.to_string());
    fs::create_dir_all(&dir).unwrap();
    let source = bundles().join(number.to_string());
    fs::copy(source.join("block.json"), dir.join("block.json")).unwrap();
    let mut pre: Value =
        serde_json::from_slice(&fs::read(source.join(PRE_STATE_FILE)).unwrap()).unwrap();
    edit(&mut pre);
    fs::write(dir.join(PRE_STATE_FILE), serde_json::to_vec(&pre).unwrap()).unwrap();
    (tmp, dir)
}

#[test]
fn byzantium_block_checks_gas_receipts_root_and_bloom() {
    let bundle = load_bundle(&bundles().join("9068998")).unwrap();
    let report = replay_bundle(&mainnet(), &bundle, false, None).unwrap();
    assert!(report.passed(), "{:?}", report.failures);
    assert_eq!(report.gas_used, 3_575_534);
    assert!(!report.unchecked.iter().any(|reason| reason == PRE_BYZANTIUM_RECEIPTS_UNCHECKED));
    assert!(report.missed.block_hashes.is_empty());
}

#[test]
fn frontier_block_passes_with_its_receipts_root_listed_as_unchecked() {
    let bundle = load_bundle(&bundles().join("46147")).unwrap();
    let report = replay_bundle(&mainnet(), &bundle, false, None).unwrap();
    assert!(report.passed(), "{:?}", report.failures);
    assert!(report.unchecked.iter().any(|reason| reason == PRE_BYZANTIUM_RECEIPTS_UNCHECKED));
}

#[test]
fn finds_bundles_in_a_corpus_folder_sorted_by_number() {
    let found = find_bundles(&bundles()).unwrap();
    let names: Vec<_> = found.iter().map(|dir| dir.file_name().unwrap().to_owned()).collect();
    assert_eq!(names, ["46147", "9068998"]);
}

#[test]
fn a_missing_account_fails_the_block_naming_it() {
    let sender = "0xa1e4380a3b1f749673e270229993ee55f35663b4";
    let (_tmp, dir) = edited_copy(46147, |pre| {
        pre.as_object_mut().unwrap().remove(sender).unwrap();
    });
    let bundle = load_bundle(&dir).unwrap();
    let report = replay_bundle(&mainnet(), &bundle, false, None).unwrap();
    assert!(!report.passed());
    let text = report.failures.join("; ").to_lowercase();
    assert!(text.contains("transaction 0"), "{text}");
    assert!(text.contains(sender), "the failure names the absent account: {text}");
}

#[test]
fn a_code_hash_that_does_not_match_its_code_names_the_account() {
    let miner = "0xe6a7a1d47ff21b6321162aea7c6cb457d5476bca";
    let (_tmp, dir) = edited_copy(46147, |pre| {
        let account = &mut pre[miner];
        account["code"] =
            serde_json::json!({ "bytecode": "0x6000", "original_len": 2, "jump_table": null });
        account["code_hash"] = Value::String(format!("0x{}", "11".repeat(32)));
    });
    let error = load_bundle(&dir).unwrap_err();
    assert!(matches!(error, BundleError::Account { number: 46147, .. }), "{error}");
    let text = error.to_string().to_lowercase();
    assert!(text.contains(miner) && text.contains("code_hash"), "{text}");
}

#[test]
fn bad_json_names_the_file_and_the_entry() {
    let miner = "0xe6a7a1d47ff21b6321162aea7c6cb457d5476bca";
    let (_tmp, dir) = edited_copy(46147, |pre| {
        pre[miner]["basic"]["balance"] = Value::String("lots".to_owned());
    });
    let error = load_bundle(&dir).unwrap_err();
    let BundleError::Json { file, entry, .. } = &error else { panic!("{error}") };
    assert_eq!(*file, PRE_STATE_FILE);
    assert_eq!(entry, &format!("{miner}.basic.balance"));
    assert!(error.to_string().contains(&dir.display().to_string()));
}

#[test]
fn emitted_access_lists_are_read_back_and_checked() {
    let (tmp, dir) = edited_copy(9068998, |_| {});
    let spec = mainnet();
    let bundle = load_bundle(&dir).unwrap();
    let report = replay_bundle(&spec, &bundle, true, None).unwrap();
    let rlp = report.block_access_list.expect("asked for");
    let written = write_block_access_list(tmp.path(), 9068998, &rlp).unwrap();
    assert_eq!(written, dir.join(BAL_FILE));

    let with_bal = load_bundle(&dir).unwrap();
    assert_eq!(with_bal.block_access_list.as_ref().map(|(bytes, _)| bytes), Some(&rlp));
    assert!(replay_bundle(&spec, &with_bal, false, None).unwrap().passed());

    // Another (valid) list than the one execution builds: the replay names the difference.
    let (_, mut list) = with_bal.block_access_list.unwrap();
    list.pop();
    fs::write(dir.join(BAL_FILE), balnode_bal::encode(&list)).unwrap();
    let wrong = load_bundle(&dir).unwrap();
    let report = replay_bundle(&spec, &wrong, false, None).unwrap();
    assert!(
        report.failures.iter().any(|failure| failure.starts_with("block access list")),
        "{:?}",
        report.failures
    );
}

#[test]
fn an_undecodable_access_list_is_a_bundle_error() {
    let (_tmp, dir) = edited_copy(46147, |_| {});
    fs::write(dir.join(BAL_FILE), [0xff, 0x00]).unwrap();
    let error = load_bundle(&dir).unwrap_err();
    assert!(matches!(error, BundleError::Bal { number: 46147, .. }), "{error}");
    let _: ReplayError = error.into();
}

#[test]
fn critical_path_of_a_real_block_is_within_its_gas() {
    let bundle = load_bundle(&bundles().join("9068998")).unwrap();
    let accesses = transaction_accesses(&mainnet(), &bundle).unwrap();
    assert_eq!(accesses.len(), 3);
    let path = critical_path(&accesses);
    assert_eq!(path.total_gas, bundle.gas_used());
    assert!(path.critical_gas > 0 && path.critical_gas <= path.total_gas);
    assert!(path.ideal_speedup >= 1.0);
}

/// A corpus bundle from `$BALNODE_FIXTURES/mainnet/pevm-blocks` (`make conformance` unpacks it).
fn corpus_bundle(number: u64) -> PathBuf {
    let dir = std::env::var_os("BALNODE_FIXTURES")
        .expect("BALNODE_FIXTURES must name the unpacked fixtures (make conformance sets it)");
    PathBuf::from(dir).join("mainnet/pevm-blocks/blocks").join(number.to_string())
}

/// Block 5891667: 380 transfers, 379 of them sent by the block's own beneficiary (a pool's payouts). Its fee
/// credits commute, but its nonce chains the payouts: the critical path is the whole block.
#[test]
#[ignore = "needs the unpacked fixture suites: `make conformance` runs it"]
fn a_beneficiary_sending_transactions_chains_them_through_its_nonce() {
    let bundle = load_bundle(&corpus_bundle(5_891_667)).unwrap();
    let beneficiary = bundle.block.header.beneficiary;
    assert_eq!(bundle.senders.iter().filter(|sender| **sender == beneficiary).count(), 379);
    let accesses = transaction_accesses(&mainnet(), &bundle).unwrap();
    let path = critical_path(&accesses);
    assert_eq!(path.chain_length, 380);
    assert_eq!(path.critical_gas, bundle.gas_used());
}

/// Block 14029313: 724 transactions whose fee credits alone would chain them all; with them commuting the
/// critical path is a fraction of the block.
#[test]
#[ignore = "needs the unpacked fixture suites: `make conformance` runs it"]
fn fee_credits_do_not_chain_transactions() {
    let bundle = load_bundle(&corpus_bundle(14_029_313)).unwrap();
    let path = critical_path(&transaction_accesses(&mainnet(), &bundle).unwrap());
    assert_eq!(path.total_gas, bundle.gas_used());
    assert!(path.chain_length < bundle.transaction_count() / 2, "{path:?}");
    assert!(path.ideal_speedup > 2.0, "{path:?}");
}

/// Block 4864590 executes `BLOCKHASH(4864586)`: answered from its `block_hashes.json` it passes; without that
/// file the block fails, naming the block number it could not answer.
#[test]
#[ignore = "needs the unpacked fixture suites: `make conformance` runs it"]
fn blockhash_is_answered_from_the_bundle_or_reported() {
    let source = corpus_bundle(4_864_590);
    let bundle = load_bundle(&source).unwrap();
    assert!(bundle.block_hashes.contains_key(&4_864_586));
    let report = replay_bundle(&mainnet(), &bundle, false, None).unwrap();
    assert!(report.passed(), "{:?}", report.failures);

    let tmp = tempfile::tempdir().unwrap();
    for file in ["block.json", PRE_STATE_FILE] {
        fs::copy(source.join(file), tmp.path().join(file)).unwrap();
    }
    let without = load_bundle(tmp.path()).unwrap();
    let report = replay_bundle(&mainnet(), &without, false, None).unwrap();
    assert_eq!(report.missed.block_hashes.iter().copied().collect::<Vec<_>>(), [4_864_586]);
    assert!(
        report.failures[0].starts_with("BLOCKHASH(4864586) was executed"),
        "{:?}",
        report.failures
    );
}

#[test]
fn a_block_hash_list_that_contradicts_the_header_is_refused() {
    let (_tmp, dir) = edited_copy(46147, |_| {});
    fs::write(dir.join(BLOCK_HASHES_FILE), format!(r#"{{"46146": "0x{}"}}"#, "22".repeat(32)))
        .unwrap();
    let error = load_bundle(&dir).unwrap_err();
    assert!(
        matches!(error, BundleError::Block { number: 46147, file: BLOCK_HASHES_FILE, .. }),
        "{error}"
    );
}

#[test]
fn compact_bundles_round_trip_and_replay() {
    let tmp = tempfile::tempdir().unwrap();
    for number in [46147u64, 9068998] {
        let bundle = load_bundle(&bundles().join(number.to_string())).unwrap();
        let path = write_compact(&bundle, tmp.path()).unwrap();
        assert_eq!(path, tmp.path().join(format!("{number}.{COMPACT_EXTENSION}")));
        let back = load_bundle(&path).unwrap();
        assert_eq!(back.block, bundle.block);
        assert_eq!(back.hash, bundle.hash);
        assert_eq!(back.senders, bundle.senders);
        assert_eq!(back.pre_state, bundle.pre_state);
        assert_eq!(back.block_hashes, bundle.block_hashes);
        assert!(replay_bundle(&mainnet(), &back, false, None).unwrap().passed());
    }
    let found = find_bundles(tmp.path()).unwrap();
    assert_eq!(found.len(), 2);

    // A damaged file names itself.
    let path = tmp.path().join(format!("46147.{COMPACT_EXTENSION}"));
    let mut bytes = fs::read(&path).unwrap();
    bytes.truncate(bytes.len() / 2);
    fs::write(&path, bytes).unwrap();
    let error = load_bundle(&path).unwrap_err();
    assert!(matches!(error, BundleError::Compact(_)), "{error}");
    assert!(error.to_string().contains("46147.balbundle"), "{error}");
}

/// Block 17666333: 961 transactions, most of them transfers to two deposit addresses. Speculated on the
/// parent state, each transfer read a recipient balance an earlier one had changed, and 887 of them ran again
/// on the coordinator; with the recipient's balance credited lazily (as the beneficiary's fee is) they
/// validate. The result is still exactly sequential execution's.
#[test]
#[ignore = "needs the unpacked fixture suites: `make conformance` runs it"]
fn transfers_to_one_recipient_do_not_chain_in_the_optimistic_mode() {
    use balnode_executor::{execute_block_optimistic, first_output_difference};
    use balnode_replay::{
        bench::ExecMode,
        store::{BundleStateView, MemoryState},
    };
    let spec = std::sync::Arc::new(mainnet());
    let bundle = load_bundle(&corpus_bundle(17_666_333)).unwrap();
    let memory = MemoryState::of(&bundle);
    let view = BundleStateView::new(&memory, bundle.block_hashes.clone());
    let sequential = ExecMode::Sequential.execute(&spec, &bundle, &view, None, 1, None).unwrap();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let (optimistic, stats) = pool
            .install(|| {
                execute_block_optimistic(&spec, &bundle.block, &bundle.senders, &view, false, None)
            })
            .unwrap();
        assert_eq!(first_output_difference(&sequential, &optimistic), None, "{threads} threads");
        assert_eq!(stats.committed + stats.reexecuted, 961);
        assert!(stats.reexecuted < 150, "{threads} threads: {stats:?}");
    }
}
