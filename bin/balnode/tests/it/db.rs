//! `balnode db stats`, `db check` and `db unwind` on the rpc-compat chain (54 blocks) imported into a datadir;
//! `db check` against entries corrupted with low-level MDBX writes, below the store's own code.

use std::path::Path;

use balnode_primitives::{B256, keccak256};
use balnode_storage_mdbx::{codec::Encode, models::MetadataKey};
use signet_libmdbx::{Environment, WriteFlags};

use crate::{
    balnode,
    import::{chain, datadir, import},
};

/// `db check` on `datadir`: (success, stdout and stderr together).
fn check(datadir: &str) -> (bool, String) {
    let (ok, stdout, stderr) = balnode(&["db", "check", "--datadir", datadir]);
    (ok, format!("{stdout}{stderr}"))
}

/// The raw MDBX environment of a datadir, opened below the store's code.
fn raw_env(datadir: &str) -> Environment {
    Environment::builder().set_max_dbs(64).open(&Path::new(datadir).join("db")).unwrap()
}

/// The raw value of `key` in `table`; for a `DUP_SORT` table, its first duplicate.
fn raw_get(env: &Environment, table: &str, key: &[u8]) -> Option<Vec<u8>> {
    let tx = env.begin_ro_unsync().unwrap();
    let db = tx.open_db(Some(table)).unwrap();
    tx.get::<Vec<u8>>(db.dbi(), key).unwrap()
}

/// Puts `value` at `key` in `table`, replacing the value (or the duplicate `old` of a `DUP_SORT` table).
fn raw_put(env: &Environment, table: &str, key: &[u8], old: Option<&[u8]>, value: &[u8]) {
    let tx = env.begin_rw_unsync().unwrap();
    let db = tx.open_db(Some(table)).unwrap();
    if let Some(old) = old {
        tx.del(db, key, Some(old)).unwrap();
    }
    tx.put(db, key, value, WriteFlags::empty()).unwrap();
    tx.commit().unwrap();
}

/// Deletes `key` from `table` (only the duplicate `value` when given).
fn raw_del(env: &Environment, table: &str, key: &[u8], value: Option<&[u8]>) {
    let tx = env.begin_rw_unsync().unwrap();
    let db = tx.open_db(Some(table)).unwrap();
    assert!(tx.del(db, key, value).unwrap(), "{table}: nothing to delete");
    tx.commit().unwrap();
}

/// Each corruption: what it does, the message `db check` must print, and how it is undone.
struct Case {
    name: &'static str,
    expected: String,
    corrupt: Box<dyn Fn(&Environment)>,
    restore: Box<dyn Fn(&Environment)>,
}

#[test]
fn db_check_names_the_first_corrupt_entry() {
    let (_dir, datadir) = datadir();
    let (ok, _, stderr) = import(&datadir, &chain());
    assert!(ok, "{stderr}");
    let (ok, out) = check(&datadir);
    assert!(ok, "{out}");
    assert!(out.contains("blocks checked:       55"), "{out}");
    assert!(out.contains("transactions:         249"), "{out}");
    assert!(out.contains("ok: the store is consistent"), "{out}");

    let env = raw_env(&datadir);
    let hash_of = |number: u64| raw_get(&env, "CanonicalHashes", &number.encode()).unwrap();
    let header_20 = raw_get(&env, "CanonicalHashes", &20u64.encode()).unwrap();
    let receipts_30 = raw_get(&env, "Receipts", &30u64.encode()).unwrap();
    let change_10 =
        raw_get(&env, "AccountChangeSets", &10u64.encode()).expect("block 10 changed state");
    let header_40 = raw_get(&env, "Headers", &40u64.encode()).unwrap();
    let header_41 = raw_get(&env, "Headers", &41u64.encode()).unwrap();
    let head = raw_get(&env, "Metadata", MetadataKey::Head.encode()).unwrap();
    let head_53 = [53u64.to_be_bytes().as_slice(), &hash_of(53)].concat();
    let address = change_10[..20].to_vec();
    let account = raw_get(&env, "PlainAccounts", &address).expect("the account exists at the head");
    let stray_hash = B256::repeat_byte(0x42);
    drop(env);

    let change_10_address = format!("0x{}", balnode_primitives::hex::encode(&address));
    let hashed_address = keccak256(&address);
    let cases = vec![
        Case {
            name: "a canonical hash deleted",
            expected: "CanonicalHashes at key 20 (block 20): no canonical hash".into(),
            corrupt: Box::new(|env| raw_del(env, "CanonicalHashes", &20u64.encode(), None)),
            restore: Box::new(move |env| {
                raw_put(env, "CanonicalHashes", &20u64.encode(), None, &header_20)
            }),
        },
        Case {
            name: "receipts overwritten with bytes that do not decode",
            expected: "Receipts at key 30 (block 30): does not decode".into(),
            corrupt: Box::new(|env| raw_put(env, "Receipts", &30u64.encode(), None, &[0xff, 0x01])),
            restore: Box::new(move |env| {
                raw_put(env, "Receipts", &30u64.encode(), None, &receipts_30)
            }),
        },
        Case {
            name: "an account change-set entry deleted",
            expected: format!(
                "AccountChangeSets at key 10 (block 10): no entry for {change_10_address}"
            ),
            corrupt: Box::new({
                let change = change_10.clone();
                move |env| raw_del(env, "AccountChangeSets", &10u64.encode(), Some(&change))
            }),
            restore: Box::new(move |env| {
                raw_put(env, "AccountChangeSets", &10u64.encode(), None, &change_10)
            }),
        },
        Case {
            name: "a header replaced by the next one",
            expected: "Headers at key 40 (block 40): the header is block 41".into(),
            corrupt: Box::new(move |env| {
                raw_put(env, "Headers", &40u64.encode(), None, &header_41)
            }),
            restore: Box::new(move |env| {
                raw_put(env, "Headers", &40u64.encode(), None, &header_40)
            }),
        },
        Case {
            name: "the head marker moved one block down",
            expected: "CanonicalHashes at key 54 (block 54): an entry above the head (block 53)"
                .into(),
            corrupt: Box::new(move |env| {
                raw_put(env, "Metadata", MetadataKey::Head.encode(), None, &head_53)
            }),
            restore: Box::new(move |env| {
                raw_put(env, "Metadata", MetadataKey::Head.encode(), None, &head)
            }),
        },
        Case {
            name: "a plain account deleted",
            expected: format!(
                "HashedAccounts at key {hashed_address} (block 54): (no plain account): plain state \
                 says None"
            ),
            corrupt: Box::new({
                let address = address.clone();
                move |env| raw_del(env, "PlainAccounts", &address, None)
            }),
            restore: Box::new(move |env| raw_put(env, "PlainAccounts", &address, None, &account)),
        },
        Case {
            name: "a stray block-hash entry",
            expected: format!("HeaderNumbers at key {stray_hash}: 3 belongs to no canonical block"),
            corrupt: Box::new(move |env| {
                raw_put(env, "HeaderNumbers", stray_hash.as_slice(), None, &3u64.encode())
            }),
            restore: Box::new(move |env| {
                raw_del(env, "HeaderNumbers", stray_hash.as_slice(), None)
            }),
        },
    ];
    for case in cases {
        let env = raw_env(&datadir);
        (case.corrupt)(&env);
        drop(env);
        let (ok, out) = check(&datadir);
        assert!(!ok, "{}: db check passed:\n{out}", case.name);
        assert!(
            out.contains(&case.expected),
            "{}: expected `{}` in:\n{out}",
            case.name,
            case.expected
        );
        let env = raw_env(&datadir);
        (case.restore)(&env);
        drop(env);
        let (ok, out) = check(&datadir);
        assert!(ok, "{}: not consistent after the restore:\n{out}", case.name);
    }
}

#[test]
fn db_stats_counts_the_imported_chain() {
    let (_dir, datadir) = datadir();
    let (ok, _, stderr) = import(&datadir, &chain());
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = balnode(&["db", "stats", "--datadir", &datadir, "--json"]);
    assert!(ok, "{stderr}");
    let stats: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let table = |name: &str| {
        stats["tables"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap().clone()
    };
    assert_eq!(table("Headers")["entries"], 55);
    assert_eq!(table("TxLookup")["entries"], 249);
    assert!(table("Receipts")["overflow_pages"].as_u64().unwrap() > 0, "{stdout}");
    let page_size = stats["page_size"].as_u64().unwrap();
    let bytes = table("Headers")["bytes"].as_u64().unwrap();
    let pages = ["branch_pages", "leaf_pages", "overflow_pages"]
        .iter()
        .map(|field| table("Headers")[field].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(bytes, pages * page_size);
    assert!(stats["file_size"].as_u64().unwrap() >= stats["allocated_bytes"].as_u64().unwrap());

    let (ok, stdout, stderr) = balnode(&["db", "stats", "--datadir", &datadir]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.lines().any(|line| line.starts_with("Headers") && line.contains(" 55 ")),
        "{stdout}"
    );
    assert!(stdout.contains("freelist:"), "{stdout}");
}

#[test]
fn db_unwind_restores_an_earlier_head_that_a_reimport_extends() {
    let (_dir, datadir) = datadir();
    let (ok, _, stderr) = import(&datadir, &chain());
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = balnode(&["db", "unwind", "--datadir", &datadir, "--to", "60"]);
    assert!(!ok);
    assert!(stderr.contains("cannot unwind to block 60: the head is block 54"), "{stderr}");
    let (ok, stdout, stderr) = balnode(&["db", "unwind", "--datadir", &datadir, "--to", "54"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("nothing to unwind"), "{stdout}");

    let (ok, stdout, stderr) = balnode(&["db", "unwind", "--datadir", &datadir, "--to", "40"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("unwound 14 blocks (41..=54)"), "{stdout}");
    assert!(stdout.contains("head 40 0x"), "{stdout}");
    let (ok, out) = check(&datadir);
    assert!(ok, "{out}");
    assert!(out.contains("blocks checked:       41"), "{out}");
    let (ok, stdout, stderr) = import(&datadir, &chain());
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), crate::import::HEAD);
    let (ok, out) = check(&datadir);
    assert!(ok, "{out}");
}
