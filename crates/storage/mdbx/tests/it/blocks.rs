//! Blocks with transactions, receipts, withdrawals and an access list.

use crate::{CHAIN_ID, block, temp_store};
use balnode_primitives::{
    Address, B256, Bloom, Bytes, ReceiptEnvelope, TxEnvelope, U256, Withdrawal, address,
    consensus::{
        Eip658Value, Receipt, ReceiptWithBloom, SignableTransaction, TxEip1559,
        transaction::SignerRecoverable,
    },
    eips::{eip2718::Decodable2718, eip4895::Withdrawals},
    hex, keccak256,
    primitives::{Log, Signature, TxKind},
};
use balnode_storage_api::{BlockReader, BlockWriter, TxLocation};

/// The signed transaction of the EIP-155 example: nonce 9, 1 ether to 0x3535…35, signed with the key 0x4646…46.
const EIP155_EXAMPLE: &str = "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83";

fn receipt(ty: fn(ReceiptWithBloom) -> ReceiptEnvelope, gas: u64) -> ReceiptEnvelope {
    ty(ReceiptWithBloom {
        receipt: Receipt {
            status: Eip658Value::Eip658(true),
            cumulative_gas_used: gas,
            logs: vec![Log::new_unchecked(
                Address::repeat_byte(0x10),
                vec![B256::repeat_byte(0x20)],
                Bytes::from_static(b"event"),
            )],
        },
        logs_bloom: Bloom::repeat_byte(0x01),
    })
}

#[test]
fn transactions_are_found_by_hash_until_unwound() {
    let raw = hex::decode(EIP155_EXAMPLE).unwrap();
    let legacy = TxEnvelope::decode_2718_exact(&raw).unwrap();
    assert_eq!(*legacy.tx_hash(), keccak256(&raw));
    let legacy_sender = legacy.recover_signer().unwrap();
    assert_eq!(legacy_sender, address!("9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"));

    let dynamic_fee = TxEnvelope::from(
        TxEip1559 {
            chain_id: CHAIN_ID,
            nonce: 0,
            gas_limit: 21_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::repeat_byte(0x35)),
            value: U256::from(1),
            ..Default::default()
        }
        .into_signed(Signature::new(U256::from(1), U256::from(2), false)),
    );
    assert_ne!(dynamic_fee.tx_hash(), legacy.tx_hash());

    let (_dir, env) = temp_store();
    let genesis = block(None, Default::default());
    env.init_genesis(CHAIN_ID, genesis.clone()).unwrap();

    let mut b1 = block(Some(&genesis), Default::default());
    b1.body.transactions = vec![legacy.clone(), dynamic_fee.clone()];
    b1.body.withdrawals = Some(Withdrawals::new(vec![Withdrawal {
        index: 0,
        validator_index: 1,
        address: Address::repeat_byte(0x77),
        amount: 32,
    }]));
    b1.senders = vec![legacy_sender, Address::repeat_byte(0x99)];
    b1.receipts =
        vec![receipt(ReceiptEnvelope::Legacy, 21_000), receipt(ReceiptEnvelope::Eip1559, 42_000)];
    b1.block_access_list = Some(Bytes::from_static(&[0xc0]));
    env.commit_blocks(vec![b1.clone()]).unwrap();

    assert_eq!(env.body(1).unwrap(), Some(b1.body.clone()));
    assert_eq!(env.senders(1).unwrap(), Some(b1.senders.clone()));
    assert_eq!(env.receipts(1).unwrap(), Some(b1.receipts.clone()));
    assert_eq!(env.block_access_list(1).unwrap(), b1.block_access_list);
    assert_eq!(env.block_access_list(0).unwrap(), None);
    for (index, transaction) in [&legacy, &dynamic_fee].into_iter().enumerate() {
        assert_eq!(
            env.transaction_location(*transaction.tx_hash()).unwrap(),
            Some(TxLocation { block_number: 1, index: index as u64 })
        );
    }
    assert_eq!(env.transaction_location(B256::repeat_byte(0x42)).unwrap(), None);

    env.unwind_to(0).unwrap();
    assert_eq!(env.transaction_location(*legacy.tx_hash()).unwrap(), None);
    assert_eq!(env.transaction_location(*dynamic_fee.tx_hash()).unwrap(), None);
    assert_eq!(env.block_access_list(1).unwrap(), None);
    assert_eq!(env.body(1).unwrap(), None);
}
