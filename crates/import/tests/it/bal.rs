//! Block access lists through the import path: the Amsterdam samples (a valid list stored, an invalid one
//! refused), and `bal generate` on the rpc-compat chain: its export imports again with every list checked,
//! and a changed list is refused naming the first difference.

use std::{path::Path, sync::Arc};

use balnode_chainspec::{ChainSpec, read_genesis};
use balnode_import::{
    BalCheckError, FileImportError, ImportError, Importer,
    file::{BlockFileReader, BlockFileWriter},
    fixture::load_file,
    generate_bals, import_files, init_genesis, inspect_file,
    runner::{KnownFailures, Tally, run_file},
};
use balnode_primitives::{Bytes, U256, rlp::Encodable};
use balnode_storage_api::{BlockReader, ChainInfoReader};
use balnode_storage_mdbx::DatabaseEnv;

use crate::testdata;

#[test]
fn amsterdam_samples_pass() {
    let mut total = Tally::default();
    for name in [
        "eest-amsterdam-bal-code-changes.json",
        "eest-amsterdam-bal-invalid-missing-withdrawal-account.json",
    ] {
        let path = testdata().join("fixtures").join(name);
        total += run_file(&path, None, &KnownFailures::default(), |test, report| {
            panic!("{test}: {report:?}")
        })
        .unwrap();
    }
    assert!(total.passed >= 2 && total.failed == 0, "{total}");
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

    // One balance changed in the list of the first block with a transaction.
    let victim = records.iter().position(|r| !r.block.body.transactions.is_empty()).unwrap();
    let mut list = record_list(&records[victim]);
    let account = list.iter_mut().find(|a| !a.balance_changes.is_empty()).unwrap();
    account.balance_changes[0].post_balance += U256::from(1);
    let changed = tmp.path().join("changed.rlp");
    let mut writer = BlockFileWriter::create(&changed).unwrap();
    for (index, record) in records.iter().enumerate() {
        let rlp = if index == victim {
            balnode_bal::encode(&list)
        } else {
            record.block_access_list.clone().unwrap()
        };
        writer.write(&record.block, Some(&rlp)).unwrap();
    }
    writer.finish().unwrap();
    let store = fresh_store(&spec, &tmp.path().join("c"));
    let error =
        import_files(&Importer::new(spec, store.clone()), &[changed], |_, _| {}).unwrap_err();
    let FileImportError::Block { source, .. } = error else { panic!("{error}") };
    let ImportError::BlockAccessList { source, .. } = *source else { panic!("{source}") };
    let BalCheckError::Mismatch { difference } = *source else { panic!("{source}") };
    assert!(difference.contains("balance_changes"), "{difference}");
    assert_eq!(store.chain_info().unwrap().head_number, victim as u64);
}

fn record_list(record: &balnode_import::file::BlockRecord) -> balnode_bal::BlockAccessList {
    balnode_bal::decode(record.block_access_list.as_ref().unwrap()).unwrap()
}
