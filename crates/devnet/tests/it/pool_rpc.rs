//! The pool behind the real JSON-RPC server: raw transactions in over HTTP, `txpool_*`, the `pending` nonce
//! and pooled transactions by hash back out, over an MDBX store of the dev chain.

use std::{net::SocketAddr, sync::Arc};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_eips::Encodable2718;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use balnode_chainspec::{DEV_CHAIN_ID, dev, dev_accounts};
use balnode_devnet::{PoolConfig, TxPool};
use balnode_primitives::{Address, Bytes, U256, hex, primitives::TxKind};
use balnode_rpc::{Namespace, RpcConfig, RpcContext, RpcProvider, compat::http_post, start_server};
use balnode_storage_mdbx::DatabaseEnv;
use serde_json::{Value, json};

const GWEI: u128 = 1_000_000_000;

/// A dev-chain store, a server on a free port (with or without a pool), and the runtime serving it.
struct Node {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
    _datadir: tempfile::TempDir,
}

impl Node {
    fn start(with_pool: bool) -> Self {
        let datadir = tempfile::tempdir().unwrap();
        let store = DatabaseEnv::open(datadir.path()).unwrap();
        balnode_import::init_genesis(&dev(), &store).unwrap();
        let store = Arc::new(store);
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let config = RpcConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            namespaces: vec![Namespace::Eth, Namespace::Txpool],
            ..RpcConfig::default()
        };
        let provider: Arc<dyn RpcProvider> = store.clone();
        let mut context = RpcContext::new(provider, dev(), config);
        if with_pool {
            context = context.with_pool(Arc::new(TxPool::new(dev(), store, PoolConfig::default())));
        }
        let server = runtime.block_on(start_server(Arc::new(context))).unwrap();
        Self { addr: server.local_addr, _runtime: runtime, _datadir: datadir }
    }

    /// The whole response of `method(params)`.
    fn call(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        serde_json::from_str(&http_post(self.addr, &body.to_string()).unwrap()).unwrap()
    }

    fn result(&self, method: &str, params: Value) -> Value {
        let response = self.call(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    fn send(&self, raw: &Bytes) -> Value {
        self.call("eth_sendRawTransaction", json!([hex::encode_prefixed(raw)]))
    }
}

fn sign<T: SignableTransaction<balnode_primitives::primitives::Signature>>(
    index: usize,
    tx: T,
) -> Bytes
where
    TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    let signer = PrivateKeySigner::from_bytes(&dev_accounts()[index].private_key).unwrap();
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let envelope: TxEnvelope = tx.into_signed(signature).into();
    envelope.encoded_2718().into()
}

fn transfer(nonce: u64, max_fee: u128, tip: u128) -> TxEip1559 {
    TxEip1559 {
        chain_id: DEV_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1_000),
        ..TxEip1559::default()
    }
}

fn checksummed(index: usize) -> String {
    dev_accounts()[index].address.to_checksum(None)
}

#[test]
fn sent_transactions_come_back_through_txpool_methods() {
    let node = Node::start(true);
    let legacy = TxLegacy {
        chain_id: Some(DEV_CHAIN_ID),
        nonce: 0,
        gas_price: 2 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(0xaa)),
        value: U256::from(10),
        input: Bytes::new(),
    };
    let first = node.send(&sign(0, legacy))["result"].clone();
    let second = node.send(&sign(0, transfer(1, 3 * GWEI, GWEI)))["result"].clone();
    // A nonce gap: queued.
    let gapped = node.send(&sign(1, transfer(3, 3 * GWEI, GWEI)))["result"].clone();
    for hash in [&first, &second, &gapped] {
        assert!(hash.as_str().is_some_and(|hash| hash.len() == 66), "{hash}");
    }

    assert_eq!(node.result("txpool_status", json!([])), json!({"pending": "0x2", "queued": "0x1"}));

    let content = node.result("txpool_content", json!([]));
    let mine = &content["pending"][checksummed(0)];
    assert_eq!(mine["0"]["hash"], first);
    assert_eq!(mine["1"]["hash"], second);
    assert_eq!(mine["1"]["blockHash"], Value::Null);
    assert_eq!(mine["1"]["blockNumber"], Value::Null);
    assert_eq!(mine["1"]["transactionIndex"], Value::Null);
    assert_eq!(mine["1"]["gasPrice"], json!(format!("{:#x}", 3 * GWEI)));
    assert_eq!(mine["0"]["from"], json!(dev_accounts()[0].address));
    assert_eq!(content["queued"][checksummed(1)]["3"]["hash"], gapped);
    assert_eq!(content["pending"].as_object().unwrap().len(), 1);

    let from = node.result("txpool_contentFrom", json!([dev_accounts()[1].address]));
    assert_eq!(from["pending"], json!({}));
    assert_eq!(from["queued"]["3"]["hash"], gapped);

    let inspect = node.result("txpool_inspect", json!([]));
    let to = Address::repeat_byte(0xaa).to_checksum(None);
    assert_eq!(
        inspect["pending"][checksummed(0)]["0"],
        json!(format!("{to}: 10 wei + 21000 gas × 2000000000 wei"))
    );

    let address = dev_accounts()[0].address;
    assert_eq!(node.result("eth_getTransactionCount", json!([address, "pending"])), json!("0x2"));
    assert_eq!(node.result("eth_getTransactionCount", json!([address, "latest"])), json!("0x0"));
    // Only pending transactions count: the gapped sender's pending nonce is its account's.
    let gapped_sender = dev_accounts()[1].address;
    assert_eq!(
        node.result("eth_getTransactionCount", json!([gapped_sender, "pending"])),
        json!("0x0")
    );

    let pooled = node.result("eth_getTransactionByHash", json!([second]));
    assert_eq!(pooled["hash"], second);
    assert_eq!(pooled["blockHash"], Value::Null);
    assert_eq!(pooled["nonce"], json!("0x1"));
}

#[test]
fn refused_transactions_get_geths_errors_and_change_nothing() {
    let node = Node::start(true);
    node.send(&sign(0, transfer(0, 100 * GWEI, 10 * GWEI)));
    let before = node.result("txpool_content", json!([]));
    let cases = [
        (sign(0, transfer(0, 109 * GWEI, 11 * GWEI)), "replacement transaction underpriced"),
        (sign(0, transfer(0, 100 * GWEI, 10 * GWEI)), "already known"),
        (
            sign(1, TxEip1559 { chain_id: 1, ..transfer(0, 2 * GWEI, GWEI) }),
            "invalid sender: invalid chain id for signer: have 1 want 1337",
        ),
        (sign(1, transfer(0, 2 * GWEI, 0)), "transaction underpriced"),
        (
            sign(1, TxEip1559 { gas_limit: 20_000, ..transfer(0, 2 * GWEI, GWEI) }),
            "intrinsic gas too low",
        ),
        (
            sign(
                1,
                TxEip1559 {
                    input: Bytes::from(vec![1; 129 * 1024]),
                    gas_limit: 16_000_000,
                    ..transfer(0, 2 * GWEI, GWEI)
                },
            ),
            "oversized data",
        ),
        (
            sign(1, TxEip1559 { value: U256::MAX / U256::from(2), ..transfer(0, 2 * GWEI, GWEI) }),
            "insufficient funds for gas * price + value",
        ),
    ];
    for (raw, expected) in cases {
        let response = node.send(&raw);
        let error = &response["error"];
        assert_eq!(error["code"], json!(-32000), "{response}");
        let message = error["message"].as_str().unwrap();
        assert!(message.starts_with(expected), "got {message:?}, expected {expected:?}");
    }
    assert_eq!(node.result("txpool_content", json!([])), before);
    assert_eq!(node.result("txpool_status", json!([])), json!({"pending": "0x1", "queued": "0x0"}));
}

#[test]
fn without_a_pool_the_methods_say_so() {
    let node = Node::start(false);
    let response = node.send(&sign(0, transfer(0, 2 * GWEI, GWEI)));
    assert_eq!(response["error"]["code"], json!(-32000));
    assert!(response["error"]["message"].as_str().unwrap().contains("no transaction pool"));
    let response = node.call("txpool_status", json!([]));
    assert!(response["error"]["message"].as_str().unwrap().contains("no transaction pool"));
    // The pending nonce falls back to the state's.
    let address = dev_accounts()[0].address;
    assert_eq!(node.result("eth_getTransactionCount", json!([address, "pending"])), json!("0x0"));
}
