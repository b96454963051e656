//! Block access lists through the import path: the Amsterdam samples (a valid list stored, an invalid one
//! refused), and `bal generate` on the rpc-compat chain: its export imports again with every list checked,
//! and wrong lists (a wrong post-value, a missing write, an extra account, an extra read slot, an extra write,
//! a misordered list) are refused in `bal` mode naming the first difference, with nothing of the block
//! committed, and the BAL-parallel executor's own check names what execution did differently. Every mode and thread count
//! runs the Amsterdam samples.

use std::{
    path::Path,
    sync::{Arc, atomic::Ordering},
};

use balnode_chainspec::{ChainSpec, read_genesis};
use balnode_executor::{
    ExecutionError, ListMismatch, execute_block_parallel_bal, supports_parallel_bal,
};
use balnode_import::{
    BalCheckError, ExecMode, Execution, FileImportError, ImportError, Importer,
    file::{BlockFileReader, BlockFileWriter},
    fixture::load_file,
    generate_bals, import_files, init_genesis, inspect_file,
    runner::{KnownFailures, Tally, run_file},
};
use balnode_primitives::{
    Address, Bytes, U256,
    consensus::transaction::SignerRecoverable,
    eips::eip7928::{AccountChanges, BlockAccessIndex, CodeChange, NonceChange},
    rlp::Encodable,
};
use balnode_storage_api::{BlockReader, ChainInfoReader};
use balnode_storage_mdbx::DatabaseEnv;

use crate::testdata;

#[test]
fn amsterdam_samples_pass_in_every_mode_and_thread_count() {
    for mode in ExecMode::ALL {
        for threads in [1, 2, 4] {
            let execution = Execution::new(mode, Some(threads)).unwrap();
            let mut total = Tally::default();
            for name in [
                "eest-amsterdam-bal-code-changes.json",
                "eest-amsterdam-bal-invalid-missing-withdrawal-account.json",
            ] {
                let path = testdata().join("fixtures").join(name);
                total +=
                    run_file(&path, None, &KnownFailures::default(), &execution, |test, report| {
                        panic!("{mode} x{threads}: {test}: {report:?}")
                    })
                    .unwrap();
            }
            assert!(total.passed >= 2 && total.failed == 0, "{mode} x{threads}: {total}");
            // The invalid list falls back to sequential execution for its verdict; the valid blocks verify.
            let (sequential, parallel, fallbacks, disagreements) = execution.counters.snapshot();
            assert_eq!(disagreements, 0, "{mode} x{threads}");
            match mode {
                ExecMode::Sequential => assert_eq!((parallel, fallbacks), (0, 0)),
                _ => assert!(
                    parallel + sequential > 0 && fallbacks <= 1,
                    "{mode}: {fallbacks} fallbacks"
                ),
            }
            if mode == ExecMode::Bal {
                assert!(parallel > 0, "bal mode ran no block in parallel");
            }
        }
    }
}

#[test]
fn the_built_list_is_stored_as_the_fixture_gives_it() {
    let path = testdata().join("fixtures/eest-amsterdam-bal-code-changes.json");
    let (_, test) = load_file(&path).unwrap().into_iter().next().unwrap();
    let spec = Arc::new(test.chain_spec().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store = DatabaseEnv::open(dir.path()).unwrap();
    init_genesis(&spec, &store).unwrap();
    let importer = Importer::new(spec, store.clone());
    let block = &test.blocks[0];
    let record = block.decode().unwrap();
    // Imported without the list: execution builds it, and the header's hash checks it.
    importer.import(&record.block, None).unwrap();
    let stored = store.provider().unwrap().block_access_list(1).unwrap().expect("a stored list");
    let mut expected = Vec::new();
    block.block_access_list.as_ref().unwrap().encode(&mut expected);
    assert_eq!(stored, Bytes::from(expected));
}

fn rpc_compat() -> (Arc<ChainSpec>, std::path::PathBuf) {
    let dir = testdata().join("chains/rpc-compat");
    let spec = ChainSpec::from_genesis(read_genesis(&dir.join("genesis.json")).unwrap()).unwrap();
    (Arc::new(spec), dir.join("chain.rlp"))
}

fn fresh_store(spec: &ChainSpec, dir: &Path) -> DatabaseEnv {
    let store = DatabaseEnv::open(dir).unwrap();
    init_genesis(spec, &store).unwrap();
    store
}

#[test]
fn generated_lists_import_again_and_a_changed_one_is_refused() {
    let (spec, chain) = rpc_compat();
    let tmp = tempfile::tempdir().unwrap();
    let generating =
        Importer::new(spec.clone(), fresh_store(&spec, &tmp.path().join("a"))).generating_bals();
    let out = tmp.path().join("bal.rlp");
    let summary = generate_bals(&generating, &[chain], &out, |_, _| {}).unwrap();
    assert_eq!((summary.from, summary.to, summary.import.imported), (1, 54, 54));

    let records: Vec<_> = BlockFileReader::open(&out).unwrap().map(Result::unwrap).collect();
    assert!(records.iter().all(|record| record.block_access_list.is_some()));
    let stats = inspect_file(&out, 2).unwrap();
    assert_eq!(stats.len(), 54);
    assert!(stats.iter().all(|block| block.stats.accounts > 0 && block.stats.largest.len() <= 2));

    // Every list is checked against the one execution builds, and the same blocks import.
    let again = fresh_store(&spec, &tmp.path().join("b"));
    let imported =
        import_files(&Importer::new(spec.clone(), again.clone()), &[out], |_, _| {}).unwrap();
    assert_eq!(imported.imported, 54);
    assert_eq!(
        again.chain_info().unwrap().head_hash,
        generating.store().chain_info().unwrap().head_hash
    );

    // Wrong lists, each in the first block it can be made in, imported in `bal` mode: refused naming the
    // first difference, with nothing of the block committed.
    // (Blocks before Byzantium run sequentially in every mode: their receipts carry intermediate roots.)
    let with_tx = |record: &&balnode_import::file::BlockRecord| {
        !record.block.body.transactions.is_empty() && supports_parallel_bal(&spec, &record.block)
    };
    let victim = records.iter().position(|r| with_tx(&r)).unwrap();
    // A wrong post-value.
    let mut list = record_list(&records[victim]);
    let account = list.iter_mut().find(|a| !a.balance_changes.is_empty()).unwrap();
    account.balance_changes[0].post_balance += U256::from(1);
    let (difference, direct) =
        refused_in_bal_mode(&spec, &records, victim, &list, tmp.path(), true);
    assert!(difference.contains("balance_changes"), "{difference}");
    assert!(matches!(direct, Some(ListMismatch::WrongWrite { .. })), "{direct:?}");
    // A missing write.
    let victim = records
        .iter()
        .position(|r| with_tx(&r) && record_list(r).iter().any(|a| !a.storage_changes.is_empty()))
        .unwrap();
    let mut list = record_list(&records[victim]);
    let account = list.iter_mut().find(|a| !a.storage_changes.is_empty()).unwrap();
    let slot = account.storage_changes.remove(0).slot;
    let (difference, direct) =
        refused_in_bal_mode(&spec, &records, victim, &list, tmp.path(), true);
    assert!(
        difference.contains(&format!("{slot}")) || difference.contains("storage"),
        "{difference}"
    );
    // The write is named (a slot of a contract the transaction creates is not read from the state first),
    // or the transaction failed reading the slot, which the list no longer names.
    assert!(
        matches!(&direct, None | Some(ListMismatch::WrongWrite { expected: None, .. })),
        "{direct:?}"
    );
    // An extra account (only read, in address order).
    let mut list = record_list(&records[victim]);
    let extra = Address::repeat_byte(0xee);
    let position = list.partition_point(|a| a.address < extra);
    list.insert(position, AccountChanges { address: extra, ..Default::default() });
    let (difference, direct) =
        refused_in_bal_mode(&spec, &records, victim, &list, tmp.path(), true);
    assert!(difference.to_lowercase().contains(&format!("{extra:x}")), "{difference}");
    assert_eq!(direct, Some(ListMismatch::UnusedAccount { address: extra }));
    // An extra read slot of an account the block writes.
    let mut list = record_list(&records[victim]);
    let account = list.iter_mut().find(|a| !a.storage_changes.is_empty()).unwrap();
    let (address, slot) = (account.address, U256::from(0xdead_beef_u64));
    let position = account.storage_reads.partition_point(|read| *read < slot);
    account.storage_reads.insert(position, slot);
    let (difference, direct) =
        refused_in_bal_mode(&spec, &records, victim, &list, tmp.path(), true);
    assert!(difference.contains("storage_reads"), "{difference}");
    assert_eq!(direct, Some(ListMismatch::UnusedRead { address, slot }));
    // An extra write: a nonce set after the last transaction, where the block sets none.
    let mut list = record_list(&records[victim]);
    let last = records[victim].block.body.transactions.len() as u64 + 1;
    let account = list
        .iter_mut()
        .find(|a| a.nonce_changes.last().is_none_or(|c| c.block_access_index.0 < last))
        .unwrap();
    let address = account.address;
    account.nonce_changes.push(NonceChange::new(BlockAccessIndex(last), 1_000));
    let (difference, direct) =
        refused_in_bal_mode(&spec, &records, victim, &list, tmp.path(), true);
    assert!(difference.contains("nonce_changes"), "{difference}");
    assert!(
        matches!(direct, Some(ListMismatch::MissingWrite { index, address: a, .. }) if index == last && a == address),
        "{direct:?}"
    );
    // Code revm cannot take (a malformed EIP-7702 delegation): the BAL-parallel run refuses the list before
    // executing anything (the copy for revm's view is made with the prefetch), and the import, which then
    // executes the block sequentially, names the code change the block does not make.
    let mut list = record_list(&records[victim]);
    let account = list.iter_mut().find(|a| a.code_changes.is_empty()).unwrap();
    account.code_changes.push(CodeChange::new(
        BlockAccessIndex(1),
        Bytes::from_static(&[0xef, 0x01, 0x00, 0x01, 0x02, 0x03]),
    ));
    let (difference, direct) =
        refused_in_bal_mode(&spec, &records, victim, &list, tmp.path(), true);
    assert!(difference.contains("code_changes"), "{difference}");
    assert_eq!(direct, None);
    let block = &records[victim].block;
    let senders: Vec<Address> =
        block.body.transactions.iter().map(|tx| tx.recover_signer().unwrap()).collect();
    let store = fresh_store(&spec, &tmp.path().join("code"));
    let latest = store.provider().unwrap().into_latest().unwrap();
    let direct = execute_block_parallel_bal(&spec, block, &senders, &latest, &list, None);
    assert!(
        matches!(&direct, Err(ExecutionError::Bal(message)) if message.contains("code in the list")),
        "{:?}",
        direct.err()
    );
    // A misordered list: refused by the structural check before any state is read.
    let mut list = record_list(&records[victim]);
    list.swap(0, 1);
    let (difference, _) = refused_in_bal_mode(&spec, &records, victim, &list, tmp.path(), false);
    assert!(difference.contains("sorted") || difference.contains("order"), "{difference}");
}

/// Imports `records` with `list` in place of block `victim`'s, in `bal` mode on two workers; returns the
/// error's text after checking that it is a block-access-list error and that the store stopped before it.
/// `executed`: the list is well formed, so the block ran in parallel, failed to verify and was re-run; then
/// also returns how the BAL-parallel executor itself refused the list when run on the block directly (`None`
/// when it failed otherwise: a transaction read what the list does not name).
fn refused_in_bal_mode(
    spec: &Arc<ChainSpec>,
    records: &[balnode_import::file::BlockRecord],
    victim: usize,
    list: &balnode_bal::BlockAccessList,
    tmp: &Path,
    executed: bool,
) -> (String, Option<ListMismatch>) {
    let dir = tempfile::tempdir_in(tmp).unwrap();
    let changed = dir.path().join("changed.rlp");
    let mut writer = BlockFileWriter::create(&changed).unwrap();
    for (index, record) in records.iter().enumerate().take(victim + 1) {
        let rlp = if index == victim {
            balnode_bal::encode(list)
        } else {
            record.block_access_list.clone().unwrap()
        };
        writer.write(&record.block, Some(&rlp)).unwrap();
    }
    writer.finish().unwrap();
    let store = fresh_store(spec, &dir.path().join("db"));
    let execution = Execution::new(ExecMode::Bal, Some(2)).unwrap();
    let importer = Importer::new(spec.clone(), store.clone()).with_execution(execution.clone());
    let error = import_files(&importer, &[changed], |_, _| {}).unwrap_err();
    let FileImportError::Block { source, .. } = error else { panic!("{error}") };
    let ImportError::BlockAccessList { source, .. } = *source else { panic!("{source}") };
    assert!(
        matches!(*source, BalCheckError::Mismatch { .. } | BalCheckError::Structure(_)),
        "{source}"
    );
    assert_eq!(store.chain_info().unwrap().head_number, victim as u64, "{source}");
    assert!(store.provider().unwrap().block_access_list(victim as u64 + 1).unwrap().is_none());
    let (_, parallel, fallbacks, disagreements) = execution.counters.snapshot();
    assert_eq!((fallbacks, disagreements), (u64::from(executed), 0), "{source}");
    let earlier =
        records[..victim].iter().filter(|r| supports_parallel_bal(spec, &r.block)).count();
    assert_eq!(parallel, earlier as u64, "the earlier blocks from Byzantium on ran in parallel");
    if !executed {
        return (source.to_string(), None);
    }
    let block = &records[victim].block;
    let senders: Vec<Address> =
        block.body.transactions.iter().map(|tx| tx.recover_signer().unwrap()).collect();
    let latest = store.provider().unwrap().into_latest().unwrap();
    let direct = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| execute_block_parallel_bal(spec, block, &senders, &latest, list, None));
    let direct = match direct {
        Ok(_) => panic!("the parallel run accepted a wrong list"),
        Err(ExecutionError::ListMismatch(mismatch)) => Some(mismatch),
        Err(_) => None,
    };
    (source.to_string(), direct)
}

fn record_list(record: &balnode_import::file::BlockRecord) -> balnode_bal::BlockAccessList {
    balnode_bal::decode(record.block_access_list.as_ref().unwrap()).unwrap()
}

#[test]
fn the_rpc_compat_chain_imports_optimistically_and_every_mode_agrees() {
    let (spec, chain) = rpc_compat();
    let tmp = tempfile::tempdir().unwrap();
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    for differential in [false, true] {
        let store = fresh_store(&spec, &tmp.path().join(differential.to_string()));
        let mut execution = Execution::new(ExecMode::Optimistic, Some(2)).unwrap();
        // Every block also runs sequentially, BAL-parallel and optimistically, and the outputs are compared.
        execution.differential = differential;
        let importer = Importer::new(spec.clone(), store).with_execution(execution.clone());
        let summary = import_files(&importer, std::slice::from_ref(&chain), |_, _| {}).unwrap();
        assert_eq!(summary.imported, 54);
        let counters = &execution.counters;
        assert_eq!((load(&counters.disagreements), load(&counters.fallbacks)), (0, 0));
        if differential {
            assert!(
                load(&counters.differential_checks) > 15,
                "blocks from Byzantium on are checked"
            );
        } else {
            assert!(load(&counters.optimistic) > 0, "no block ran optimistically");
        }
    }
}
