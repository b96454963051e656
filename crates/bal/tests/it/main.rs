//! Property tests of the block access list codec and rules.

use balnode_bal::{
    AccountChanges, BalanceChange, BlockAccessIndex, CodeChange, Limits, NonceChange, SlotChanges,
    StorageChange, decode, encode, first_difference, hash, validate,
};
use balnode_primitives::{Address, Bytes, U256, keccak256};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn u256() -> impl Strategy<Value = U256> {
    prop_oneof![any::<u64>().prop_map(U256::from), any::<[u8; 32]>().prop_map(U256::from_be_bytes)]
}

/// Indices 0..=6, sorted and unique.
fn indices() -> impl Strategy<Value = Vec<BlockAccessIndex>> {
    proptest::collection::btree_set(0u64..=6, 0..4)
        .prop_map(|set| set.into_iter().map(BlockAccessIndex::new).collect())
}

/// One account entry that keeps every structural rule.
fn account() -> impl Strategy<Value = AccountChanges> {
    (
        any::<[u8; 20]>(),
        proptest::collection::btree_map(u256(), (indices(), u256()), 0..4),
        proptest::collection::btree_set(u256(), 0..4),
        indices(),
        indices(),
        indices(),
        u256(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(address, writes, reads, balances, nonces, codes, balance, nonce, code)| {
            let writes: BTreeMap<U256, _> = writes
                .into_iter()
                .map(|(slot, (mut idx, value))| {
                    if idx.is_empty() {
                        idx.push(BlockAccessIndex::new(1));
                    }
                    (slot, idx.into_iter().map(|i| StorageChange::new(i, value)).collect())
                })
                .collect();
            let reads: BTreeSet<U256> =
                reads.into_iter().filter(|r| !writes.contains_key(r)).collect();
            AccountChanges {
                address: Address::from(address),
                storage_changes: writes.into_iter().map(|(s, c)| SlotChanges::new(s, c)).collect(),
                storage_reads: reads.into_iter().collect(),
                balance_changes: balances
                    .into_iter()
                    .map(|i| BalanceChange::new(i, balance))
                    .collect(),
                nonce_changes: nonces.into_iter().map(|i| NonceChange::new(i, nonce)).collect(),
                code_changes: codes
                    .into_iter()
                    .map(|i| CodeChange::new(i, Bytes::from(code.clone())))
                    .collect(),
            }
        })
}

fn valid_list() -> impl Strategy<Value = Vec<AccountChanges>> {
    proptest::collection::vec(account(), 0..6).prop_map(|accounts| {
        let by_address: BTreeMap<Address, AccountChanges> =
            accounts.into_iter().map(|a| (a.address, a)).collect();
        by_address.into_values().collect()
    })
}

const LIMITS: Limits = Limits { transactions: 5, gas_limit: 60_000_000, max_code_size: 64 };

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(list) = decode(&bytes) {
            // RLP is canonical: whatever decodes encodes back to the same bytes.
            prop_assert_eq!(&encode(&list)[..], &bytes[..]);
            let _ = validate(&list, &LIMITS);
        }
    }

    #[test]
    fn decoding_mutated_lists_never_panics(list in valid_list(), at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = encode(&list).to_vec();
        let at = at % bytes.len();
        bytes[at] = byte;
        let _ = decode(&bytes);
        let _ = decode(&bytes[..at]);
    }

    #[test]
    fn valid_lists_round_trip(list in valid_list()) {
        prop_assert_eq!(validate(&list, &LIMITS), Ok(()));
        let rlp = encode(&list);
        let decoded = decode(&rlp).unwrap();
        prop_assert_eq!(&decoded, &list);
        prop_assert_eq!(&encode(&decoded), &rlp);
        prop_assert_eq!(hash(&list), keccak256(&rlp));
        prop_assert_eq!(first_difference(&list, &decoded), None);
    }

    #[test]
    fn a_changed_list_has_a_difference(list in valid_list().prop_filter("not empty", |l| !l.is_empty()), pick in any::<usize>()) {
        let mut other = list.clone();
        let i = pick % other.len();
        other.remove(i);
        prop_assert!(first_difference(&list, &other).is_some());
    }
}
