//! The fixture chains imported from genesis through the import path: the head they must reach, and where a
//! state dump is given, the state account by account.

use std::{collections::BTreeMap, path::Path, sync::Arc};

use balnode_chainspec::{ChainSpec, read_genesis};
use balnode_import::{Importer, import_files, init_genesis};
use balnode_primitives::{Address, B256, U256, keccak256};
use balnode_storage_api::{BytecodeReader, ChainInfoReader, PlainStateReader};
use balnode_storage_mdbx::DatabaseEnv;
use serde::Deserialize;

/// `headstate.json`: geth's state dump.
#[derive(Debug, Deserialize)]
struct Dump {
    accounts: BTreeMap<Address, DumpAccount>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DumpAccount {
    /// Decimal.
    balance: String,
    nonce: u64,
    code_hash: B256,
    /// Slot → value, the value in hex without `0x` and without leading zeros.
    #[serde(default)]
    storage: BTreeMap<B256, String>,
}

/// Imports the chain in `dir` into a fresh store and checks it against the folder's expectations.
pub(crate) fn check_chain_folder(dir: &Path) {
    let name = dir.display();
    let spec = Arc::new(
        ChainSpec::from_genesis(read_genesis(&dir.join("genesis.json")).unwrap()).unwrap(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let store = DatabaseEnv::open(tmp.path()).unwrap();
    init_genesis(&spec, &store).unwrap();
    let importer = Importer::new(spec, store.clone());
    let summary = import_files(&importer, &[dir.join("chain.rlp")], |_, _| {})
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    let head = store.chain_info().unwrap();
    println!(
        "{name}: {} blocks, {} transactions, head {}",
        summary.imported, summary.transactions, head.head_number
    );

    let fcu: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("headfcu.json")).unwrap()).unwrap();
    let fcu_head = fcu
        .pointer("/params/0/headBlockHash")
        .and_then(|v| v.as_str())
        .expect("headfcu has a head");
    assert_eq!(head.head_hash.to_string(), fcu_head, "{name}: head against headfcu.json");
    if let Ok(text) = std::fs::read_to_string(dir.join("headblock.json")) {
        let block: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            Some(head.head_hash.to_string().as_str()),
            block["hash"].as_str(),
            "{name}: headblock.json"
        );
    }
    if let Ok(text) = std::fs::read_to_string(dir.join("headstate.json")) {
        let dump: Dump = serde_json::from_str(&text).unwrap();
        compare_with_dump(&store, &dump, &name.to_string());
    }
}

fn compare_with_dump(store: &DatabaseEnv, dump: &Dump, name: &str) {
    let latest = store.provider().unwrap().into_latest().unwrap();
    let accounts: BTreeMap<Address, _> = latest.plain_accounts().unwrap().into_iter().collect();
    assert_eq!(
        accounts.keys().collect::<Vec<_>>(),
        dump.accounts.keys().collect::<Vec<_>>(),
        "{name}: the accounts differ from headstate.json"
    );
    for (address, want) in &dump.accounts {
        let got = accounts[address];
        assert_eq!(
            got.balance,
            want.balance.parse::<U256>().unwrap(),
            "{name}: balance of {address}"
        );
        assert_eq!(got.nonce, want.nonce, "{name}: nonce of {address}");
        assert_eq!(got.code_hash(), want.code_hash, "{name}: code hash of {address}");
        if let Some(hash) = got.bytecode_hash {
            let code = latest.bytecode_by_hash(hash).unwrap().expect("code is stored");
            assert_eq!(keccak256(&code), hash, "{name}: code of {address}");
        }
        let storage: BTreeMap<B256, U256> =
            latest.plain_storage(*address).unwrap().into_iter().collect();
        let want_storage: BTreeMap<B256, U256> = want
            .storage
            .iter()
            .map(|(slot, value)| (*slot, U256::from_str_radix(value, 16).expect("a hex value")))
            .filter(|(_, value)| !value.is_zero())
            .collect();
        assert_eq!(storage, want_storage, "{name}: storage of {address}");
    }
}
