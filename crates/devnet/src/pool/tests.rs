//! The pool over an in-memory chain (the dev chain's genesis and funded accounts, with nonces and balances
//! the tests move as blocks would), and once over MDBX.

use std::collections::HashMap;

use alloy_consensus::{
    SignableTransaction, TxEip1559, TxEip2930, TxEip4844, TxEip4844Variant, TxEip4844WithSidecar,
    TxEip7702, TxLegacy,
};
use alloy_eips::{
    eip2930::{AccessList, AccessListItem},
    eip4844::{Blob, BlobTransactionSidecar, env_settings::EnvKzgSettings},
    eip7594::BlobTransactionSidecarEip7594,
    eip7702::Authorization,
};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use balnode_chainspec::{DEV_ACCOUNT_BALANCE, dev, dev_accounts};
use balnode_primitives::{
    Account, B256, BlockHash, BlockNumber, Bytes, StorageKey, StorageValue, primitives::TxKind,
};
use balnode_storage_api::{
    AccountReader, BlockHashReader, BytecodeReader, ChainInfo, ProviderResult, StateProvider,
};

use super::*;

/// A chain of one head whose accounts the tests set.
#[derive(Debug)]
struct MemoryChain {
    accounts: RwLock<HashMap<Address, Account>>,
    head: RwLock<Header>,
}

impl MemoryChain {
    fn dev() -> Arc<Self> {
        Self::with_head(dev().genesis_header())
    }

    fn with_head(head: Header) -> Arc<Self> {
        let accounts = dev_accounts()
            .iter()
            .map(|account| {
                (account.address, Account { balance: DEV_ACCOUNT_BALANCE, ..Account::default() })
            })
            .collect();
        Arc::new(Self { accounts: RwLock::new(accounts), head: RwLock::new(head) })
    }

    fn set_nonce(&self, address: Address, nonce: u64) {
        self.accounts.write().entry(address).or_default().nonce = nonce;
    }

    fn set_balance(&self, address: Address, balance: U256) {
        self.accounts.write().entry(address).or_default().balance = balance;
    }
}

#[derive(Debug)]
struct Snapshot(HashMap<Address, Account>);

impl AccountReader for Snapshot {
    fn basic_account(&self, address: Address) -> ProviderResult<Option<Account>> {
        Ok(self.0.get(&address).cloned())
    }
}

impl BytecodeReader for Snapshot {
    fn bytecode_by_hash(&self, _: B256) -> ProviderResult<Option<Bytes>> {
        Ok(None)
    }
}

impl BlockHashReader for Snapshot {
    fn block_hash(&self, _: BlockNumber) -> ProviderResult<Option<BlockHash>> {
        Ok(None)
    }
}

impl StateProvider for Snapshot {
    fn storage(&self, _: Address, _: StorageKey) -> ProviderResult<Option<StorageValue>> {
        Ok(None)
    }
}

impl StateProviderFactory for MemoryChain {
    fn latest(&self) -> ProviderResult<Box<dyn StateProvider>> {
        Ok(Box::new(Snapshot(self.accounts.read().clone())))
    }

    fn state_at(&self, _: BlockNumber) -> ProviderResult<Box<dyn StateProvider>> {
        self.latest()
    }
}

impl BlockHashReader for MemoryChain {
    fn block_hash(&self, number: BlockNumber) -> ProviderResult<Option<BlockHash>> {
        let head = self.head.read();
        Ok((head.number == number).then(|| head.hash_slow()))
    }
}

impl HeaderProvider for MemoryChain {
    fn header_by_number(&self, number: BlockNumber) -> ProviderResult<Option<Header>> {
        let head = self.head.read();
        Ok((head.number == number).then(|| head.clone()))
    }

    fn header(&self, hash: BlockHash) -> ProviderResult<Option<Header>> {
        let head = self.head.read();
        Ok((head.hash_slow() == hash).then(|| head.clone()))
    }

    fn block_number(&self, hash: BlockHash) -> ProviderResult<Option<BlockNumber>> {
        let head = self.head.read();
        Ok((head.hash_slow() == hash).then_some(head.number))
    }
}

impl ChainInfoReader for MemoryChain {
    fn chain_info(&self) -> ProviderResult<ChainInfo> {
        let head = self.head.read();
        Ok(ChainInfo {
            chain_id: dev().chain_id(),
            genesis_hash: dev().genesis_hash(),
            head_number: head.number,
            head_hash: head.hash_slow(),
        })
    }
}

fn signer(index: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&dev_accounts()[index].private_key).unwrap()
}

fn address(index: usize) -> Address {
    dev_accounts()[index].address
}

/// `tx` signed by dev account `index`, in its EIP-2718 encoding.
fn sign<T: SignableTransaction<balnode_primitives::primitives::Signature>>(
    index: usize,
    tx: T,
) -> Bytes
where
    TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    let signature = signer(index).sign_hash_sync(&tx.signature_hash()).unwrap();
    let envelope: TxEnvelope = tx.into_signed(signature).into();
    envelope.encoded_2718().into()
}

const GWEI: u128 = 1_000_000_000;
const CHAIN_ID: u64 = balnode_chainspec::DEV_CHAIN_ID;

/// A 1559 transfer of 1 wei from dev account `from`.
fn transfer(nonce: u64, max_fee: u128, tip: u128) -> TxEip1559 {
    TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        ..TxEip1559::default()
    }
}

fn pool_with(config: PoolConfig) -> (TxPool, Arc<MemoryChain>) {
    let chain = MemoryChain::dev();
    (TxPool::new(dev(), chain.clone(), config), chain)
}

fn pool() -> (TxPool, Arc<MemoryChain>) {
    pool_with(PoolConfig::default())
}

/// The message of the error adding `raw` gives.
fn refused(pool: &TxPool, raw: &[u8]) -> String {
    let before = pool.content_of(None);
    let error = pool.add_raw(raw).expect_err("the transaction must be refused").to_string();
    assert_eq!(pool.content_of(None), before, "a refused transaction changed the pool");
    error
}

#[test]
fn accepts_every_transaction_type() {
    let (pool, _) = pool();
    let legacy = TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce: 0,
        gas_price: 2 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(1)),
        value: U256::from(1),
        input: Bytes::new(),
    };
    let access_list = AccessList(vec![AccessListItem {
        address: Address::repeat_byte(1),
        storage_keys: vec![B256::ZERO],
    }]);
    let eip2930 = TxEip2930 {
        chain_id: CHAIN_ID,
        nonce: 1,
        gas_price: 2 * GWEI,
        gas_limit: 30_000,
        to: TxKind::Call(Address::repeat_byte(1)),
        value: U256::ZERO,
        access_list,
        input: Bytes::new(),
    };
    let hashes = [
        pool.add_raw(&sign(0, legacy)).unwrap(),
        pool.add_raw(&sign(0, eip2930)).unwrap(),
        pool.add_raw(&sign(0, transfer(2, 2 * GWEI, GWEI))).unwrap(),
    ];
    assert_eq!(pool.counts(), (3, 0));
    assert_eq!(pool.pending_nonce(address(0)), Some(3));
    for hash in hashes {
        assert_eq!(pool.get(&hash).unwrap().sender, address(0));
    }
}

#[test]
fn accepts_a_set_code_transaction() {
    let (pool, _) = pool();
    let authorization = Authorization {
        chain_id: U256::from(CHAIN_ID),
        address: Address::repeat_byte(7),
        nonce: 0,
    };
    let signature = signer(1).sign_hash_sync(&authorization.signature_hash()).unwrap();
    let tx = TxEip7702 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: 100_000,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: Address::repeat_byte(9),
        authorization_list: vec![authorization.into_signed(signature)],
        ..TxEip7702::default()
    };
    let hash = pool.add_raw(&sign(0, tx.clone())).unwrap();
    assert!(pool.get(&hash).unwrap().tx.is_eip7702());
    let empty = TxEip7702 { nonce: 1, authorization_list: Vec::new(), ..tx };
    assert_eq!(
        refused(&pool, &sign(0, empty)),
        "set code tx must have at least one authorization tuple"
    );
}

#[test]
fn refuses_with_geths_messages() {
    let (pool, chain) = pool();
    chain.set_nonce(address(0), 5);
    let check = |raw: Bytes, expected: &str| {
        let message = refused(&pool, &raw);
        assert!(message.starts_with(expected), "got {message:?}, expected {expected:?}");
    };
    check(sign(0, transfer(4, 2 * GWEI, GWEI)), "nonce too low: next nonce 5, tx nonce 4");
    check(
        sign(0, transfer(5, GWEI, 2 * GWEI)),
        "max priority fee per gas higher than max fee per gas",
    );
    check(
        sign(0, transfer(5, 2 * GWEI, 0)),
        "transaction underpriced: gas tip cap 0, minimum needed 1",
    );
    check(
        sign(0, TxEip1559 { gas_limit: 20_000, ..transfer(5, 2 * GWEI, GWEI) }),
        "intrinsic gas too low: gas 20000",
    );
    // EIP-7623: 4 KiB of non-zero calldata costs more as a floor than as data.
    let data = TxEip1559 {
        gas_limit: 100_000,
        input: Bytes::from(vec![0xff; 4096]),
        ..transfer(5, 2 * GWEI, GWEI)
    };
    check(sign(0, data), "insufficient gas for floor data gas cost: gas 100000");
    // Over the block gas limit (lowered below EIP-7825's cap for the test), and over the cap where the
    // rules enforce one.
    chain.head.write().gas_limit = 1_000_000;
    check(
        sign(0, TxEip1559 { gas_limit: 1_000_001, ..transfer(5, 2 * GWEI, GWEI) }),
        "exceeds block gas limit",
    );
    chain.head.write().gas_limit = balnode_chainspec::DEV_GAS_LIMIT;
    if let Some(cap) = balnode_executor::tx_limits(&dev(), &dev().genesis_header()).gas_limit_cap {
        check(
            sign(0, TxEip1559 { gas_limit: cap + 1, ..transfer(5, 2 * GWEI, GWEI) }),
            &format!("transaction gas limit too high (cap: {cap}, tx: {})", cap + 1),
        );
    }
    check(
        sign(
            0,
            TxEip1559 {
                input: Bytes::from(vec![1; 130 * 1024]),
                gas_limit: 59_000_000,
                ..transfer(5, 2 * GWEI, GWEI)
            },
        ),
        "oversized data: transaction size",
    );
    let rich = U256::from(21_000u64) * U256::from(2 * GWEI);
    chain.set_balance(address(0), rich);
    check(
        sign(0, transfer(5, 2 * GWEI, GWEI)),
        &format!(
            "insufficient funds for gas * price + value: balance {rich}, tx cost {}, overshot 1",
            rich + U256::from(1)
        ),
    );
    chain.set_balance(address(0), DEV_ACCOUNT_BALANCE);
    check(
        sign(0, TxEip1559 { chain_id: 1, ..transfer(5, 2 * GWEI, GWEI) }),
        "invalid sender: invalid chain id for signer: have 1 want 1337",
    );
    let unprotected = TxLegacy {
        chain_id: None,
        nonce: 5,
        gas_price: 2 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(1)),
        value: U256::ZERO,
        input: Bytes::new(),
    };
    check(sign(0, unprotected), "only replay-protected (EIP-155) transactions allowed over RPC");
    check(Bytes::from_static(&[0x02, 0xc0]), "");
    // A high-s signature (EIP-2): the same transaction with s' = n - s and the other parity.
    let tx = transfer(5, 2 * GWEI, GWEI);
    let signature = signer(0).sign_hash_sync(&tx.signature_hash()).unwrap();
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let high = balnode_primitives::primitives::Signature::new(
        signature.r(),
        n - signature.s(),
        !signature.v(),
    );
    let envelope: TxEnvelope = tx.into_signed(high).into();
    check(envelope.encoded_2718().into(), "invalid sender: invalid transaction v, r, s values");
    // Known.
    let raw = sign(0, transfer(5, 2 * GWEI, GWEI));
    pool.add_raw(&raw).unwrap();
    check(raw, "already known");
    // Creation with init code over the EIP-3860/EIP-7954 limit (128 KiB at Amsterdam, so in a pool that
    // takes larger transactions).
    let (pool, _) = pool_with(PoolConfig { max_tx_size: 1 << 20, ..PoolConfig::default() });
    let limit =
        balnode_executor::tx_limits(&dev(), &dev().genesis_header()).max_initcode_size.unwrap();
    let create = TxEip1559 {
        to: TxKind::Create,
        input: Bytes::from(vec![0; limit + 1]),
        gas_limit: 16_000_000,
        ..transfer(0, 2 * GWEI, GWEI)
    };
    let message = refused(&pool, &sign(0, create));
    assert!(message.starts_with("max initcode size exceeded"), "{message}");
}

#[test]
fn queued_transactions_are_promoted_when_the_gap_fills() {
    let (pool, _) = pool();
    let mut pending = pool.subscribe_pending();
    let third = pool.add_raw(&sign(0, transfer(2, 2 * GWEI, GWEI))).unwrap();
    let second = pool.add_raw(&sign(0, transfer(1, 2 * GWEI, GWEI))).unwrap();
    assert_eq!(pool.counts(), (0, 2));
    assert_eq!(pool.pending_nonce(address(0)), None);
    assert!(pending.try_recv().is_err());
    let first = pool.add_raw(&sign(0, transfer(0, 2 * GWEI, GWEI))).unwrap();
    assert_eq!(pool.counts(), (3, 0));
    assert_eq!(pool.pending_nonce(address(0)), Some(3));
    let mut announced =
        vec![pending.try_recv().unwrap(), pending.try_recv().unwrap(), pending.try_recv().unwrap()];
    announced.sort();
    let mut expected = vec![first, second, third];
    expected.sort();
    assert_eq!(announced, expected);
    let content = pool.content_of(None);
    assert_eq!(content.pending[&address(0)].keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn replacement_needs_a_ten_percent_bump_on_both_fees() {
    let (pool, _) = pool();
    let original = pool.add_raw(&sign(0, transfer(0, 100 * GWEI, 10 * GWEI))).unwrap();
    // +9% on both: refused.
    assert_eq!(
        refused(&pool, &sign(0, transfer(0, 109 * GWEI, 109 * GWEI / 10))),
        "replacement transaction underpriced"
    );
    // +10% on the fee cap only: refused.
    assert_eq!(
        refused(&pool, &sign(0, transfer(0, 110 * GWEI, 10 * GWEI))),
        "replacement transaction underpriced"
    );
    // +10% on both: taken, the original gone.
    let replacement = pool.add_raw(&sign(0, transfer(0, 110 * GWEI, 11 * GWEI))).unwrap();
    assert!(pool.get(&original).is_none());
    assert!(pool.get(&replacement).is_some());
    assert_eq!(pool.counts(), (1, 0));
}

#[test]
fn a_full_pool_evicts_the_cheapest() {
    let config = PoolConfig { pending_limit: 3, ..PoolConfig::default() };
    let (pool, _) = pool_with(config);
    let cheap = pool.add_raw(&sign(0, transfer(0, 10 * GWEI, GWEI))).unwrap();
    pool.add_raw(&sign(1, transfer(0, 10 * GWEI, 3 * GWEI))).unwrap();
    pool.add_raw(&sign(2, transfer(0, 10 * GWEI, 4 * GWEI))).unwrap();
    // Cheaper than everything in the pool: refused.
    assert_eq!(refused(&pool, &sign(3, transfer(0, 10 * GWEI, GWEI / 2))), "txpool is full");
    // Pays more than the cheapest: the cheapest goes.
    let richer = pool.add_raw(&sign(3, transfer(0, 10 * GWEI, 2 * GWEI))).unwrap();
    assert!(pool.get(&cheap).is_none());
    assert!(pool.get(&richer).is_some());
    assert_eq!(pool.counts(), (3, 0));
}

#[test]
fn account_limits_hold() {
    let config = PoolConfig { account_queue: 2, ..PoolConfig::default() };
    let (pool, _) = pool_with(config);
    pool.add_raw(&sign(0, transfer(5, 2 * GWEI, GWEI))).unwrap();
    pool.add_raw(&sign(0, transfer(6, 2 * GWEI, GWEI))).unwrap();
    assert_eq!(
        refused(&pool, &sign(0, transfer(7, 2 * GWEI, GWEI))),
        "account limit exceeded: pooled 2 txs"
    );
}

#[test]
fn best_transactions_order_by_effective_tip() {
    let (pool, _) = pool();
    let base_fee = 10 * GWEI as u64;
    // Sender 0: a high tip, then a low one; sender 1: a middle tip; sender 2: fee cap below the base fee.
    let a0 = pool.add_raw(&sign(0, transfer(0, 20 * GWEI, 5 * GWEI))).unwrap();
    let a1 = pool.add_raw(&sign(0, transfer(1, 20 * GWEI, GWEI))).unwrap();
    let b0 = pool.add_raw(&sign(1, transfer(0, 20 * GWEI, 3 * GWEI))).unwrap();
    pool.add_raw(&sign(2, transfer(0, 9 * GWEI, 5 * GWEI))).unwrap();
    // Sender 3: a legacy price whose effective tip at this base fee is 4 gwei.
    let legacy = TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce: 0,
        gas_price: 14 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(1)),
        value: U256::ZERO,
        input: Bytes::new(),
    };
    let c0 = pool.add_raw(&sign(3, legacy)).unwrap();
    // Sender 4: queued only.
    pool.add_raw(&sign(4, transfer(1, 20 * GWEI, 9 * GWEI))).unwrap();
    let best: Vec<TxHash> =
        pool.best_transactions(base_fee, None).iter().map(|tx| tx.hash).collect();
    assert_eq!(best, [a0, c0, b0, a1]);
    // At a lower base fee sender 2's transaction becomes executable, and first (tip 5, fee cap 9).
    let best = pool.best_transactions(GWEI as u64, None);
    assert_eq!(best.len(), 5);
}

#[test]
fn mined_transactions_leave_on_a_new_head() {
    let (pool, chain) = pool();
    for nonce in 0..3 {
        pool.add_raw(&sign(0, transfer(nonce, 2 * GWEI, GWEI))).unwrap();
    }
    pool.add_raw(&sign(1, transfer(1, 2 * GWEI, GWEI))).unwrap();
    assert_eq!(pool.counts(), (3, 1));
    // A block mines sender 0's first two and a transaction of sender 1 from elsewhere.
    chain.set_nonce(address(0), 2);
    chain.set_nonce(address(1), 1);
    let mut pending = pool.subscribe_pending();
    pool.on_canonical_state_change();
    assert_eq!(pool.counts(), (2, 0));
    assert_eq!(pool.pending_nonce(address(0)), Some(3));
    assert_eq!(pool.pending_nonce(address(1)), Some(2));
    // Sender 1's queued transaction became pending.
    assert!(pending.try_recv().is_ok());
    // A sender whose balance no longer covers its transaction loses it.
    chain.set_balance(address(0), U256::from(1));
    pool.on_canonical_state_change();
    assert_eq!(pool.counts(), (1, 0));
    // Reinjected transactions are validated again: one now below the nonce is refused, a valid one taken.
    let (old, _) =
        validate::strip_sidecar(validate::decode(&sign(1, transfer(0, 2 * GWEI, GWEI))).unwrap());
    let (new, _) =
        validate::strip_sidecar(validate::decode(&sign(2, transfer(0, 2 * GWEI, GWEI))).unwrap());
    pool.reinject(vec![(old, address(1)), (new, address(2))]);
    assert_eq!(pool.counts(), (2, 0));
}

/// A blob with some non-zero field elements (each below the BLS modulus).
fn blob() -> Blob {
    let mut blob = Blob::default();
    for (index, chunk) in blob.0.chunks_mut(32).enumerate().take(64) {
        chunk[31] = index as u8;
        chunk[30] = 0x5a;
    }
    blob
}

fn blob_tx(
    sidecar: BlobTransactionSidecarEip7594,
    nonce: u64,
) -> TxEip4844WithSidecar<alloy_eips::eip7594::BlobTransactionSidecarVariant> {
    let tx = TxEip4844 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: Address::repeat_byte(5),
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        max_fee_per_blob_gas: 10,
        ..TxEip4844::default()
    };
    TxEip4844WithSidecar::from_tx_and_sidecar(tx, sidecar.into())
}

fn sign_blob(
    index: usize,
    tx: TxEip4844WithSidecar<alloy_eips::eip7594::BlobTransactionSidecarVariant>,
) -> Bytes {
    let variant = TxEip4844Variant::TxEip4844WithSidecar(tx);
    let signature = signer(index).sign_hash_sync(&variant.signature_hash()).unwrap();
    let envelope: TxEnvelope = variant.into_signed(signature).into();
    envelope.encoded_2718().into()
}

#[test]
fn blob_transactions_need_valid_cell_proofs() {
    let (pool, _) = pool();
    let sidecar = BlobTransactionSidecarEip7594::try_from_blobs(vec![blob()]).unwrap();
    // One proof swapped for another cell's: the batch verification fails.
    let mut wrong = sidecar.clone();
    wrong.cell_proofs.swap(0, 1);
    let message = refused(&pool, &sign_blob(0, blob_tx(wrong, 0)));
    assert!(message.starts_with("KZG verification error"), "{message}");
    // A commitment that is not the hashed one.
    let mut other = sidecar.clone();
    other.commitments[0] = Default::default();
    let tx = blob_tx(sidecar, 0);
    let mismatched = TxEip4844WithSidecar::from_tx_and_sidecar(tx.tx.clone(), other.into());
    let message = refused(&pool, &sign_blob(0, mismatched));
    assert!(message.starts_with("blob 0: computed hash"), "{message}");
    // Without its sidecar.
    let bare = TxEip4844Variant::<alloy_eips::eip7594::BlobTransactionSidecarVariant>::TxEip4844(
        tx.tx.clone(),
    );
    let signature = signer(0).sign_hash_sync(&bare.signature_hash()).unwrap();
    let envelope: TxEnvelope = bare.into_signed(signature).into();
    assert_eq!(refused(&pool, &envelope.encoded_2718()), "missing sidecar in blob transaction");
    // The real thing.
    let hash = pool.add_raw(&sign_blob(0, tx)).unwrap();
    let pooled = pool.get(&hash).unwrap();
    assert!(pooled.sidecar.as_ref().is_some_and(|sidecar| sidecar.is_eip7594()));
    assert!(pooled.tx.blob_versioned_hashes().is_some());
    // In the block form the sidecar is gone.
    assert!(pooled.encoded_len < 1_000);
    // Blob base fee above its cap: not executable.
    assert!(pool.best_transactions(0, Some(11)).is_empty());
    assert_eq!(pool.best_transactions(0, Some(10)).len(), 1);
}

#[test]
fn works_over_mdbx() {
    let dir = tempfile::tempdir().unwrap();
    let store = balnode_storage_mdbx::DatabaseEnv::open(dir.path()).unwrap();
    balnode_import::init_genesis(&dev(), &store).unwrap();
    let pool = TxPool::new(dev(), Arc::new(store), PoolConfig::default());
    pool.add_raw(&sign(0, transfer(0, 2 * GWEI, GWEI))).unwrap();
    assert_eq!(refused(&pool, &sign(0, transfer(0, 2 * GWEI, GWEI))), "already known");
    pool.on_canonical_state_change();
    assert_eq!(pool.counts(), (1, 0));
}

fn sign_bare_blob(index: usize, tx: TxEip4844) -> Bytes {
    let bare =
        TxEip4844Variant::<alloy_eips::eip7594::BlobTransactionSidecarVariant>::TxEip4844(tx);
    let signature = signer(index).sign_hash_sync(&bare.signature_hash()).unwrap();
    let envelope: TxEnvelope = bare.into_signed(signature).into();
    envelope.encoded_2718().into()
}

#[test]
fn blob_limits_and_fee_caps_are_checked_before_the_proofs() {
    let (pool, _) = pool();
    let mut tx = blob_tx(BlobTransactionSidecarEip7594::default(), 0).tx;
    tx.blob_versioned_hashes = vec![B256::with_last_byte(1); 7];
    assert_eq!(
        refused(&pool, &sign_bare_blob(0, tx.clone())),
        "too many blobs in transaction: have 7, permitted 6"
    );
    tx.blob_versioned_hashes.clear();
    let empty = TxEip4844WithSidecar::from_tx_and_sidecar(
        tx.clone(),
        BlobTransactionSidecarEip7594::default().into(),
    );
    assert_eq!(refused(&pool, &sign_blob(0, empty)), "blobless blob transaction");
    let free = TxEip4844WithSidecar::from_tx_and_sidecar(
        TxEip4844 { max_fee_per_blob_gas: 0, ..tx },
        BlobTransactionSidecarEip7594::default().into(),
    );
    assert_eq!(
        refused(&pool, &sign_blob(0, free)),
        "transaction underpriced: blob fee cap 0, minimum needed 1"
    );
}

#[test]
fn an_eip4844_sidecar_is_converted_to_cell_proofs_after_osaka() {
    let (pool, _) = pool();
    let legacy = BlobTransactionSidecar::try_from_blobs_with_settings(
        vec![blob()],
        EnvKzgSettings::Default.get(),
    )
    .unwrap();
    let cells = blob_tx(BlobTransactionSidecarEip7594::default(), 0).tx;
    let tx = TxEip4844 { blob_versioned_hashes: legacy.versioned_hashes().collect(), ..cells };
    let hash = pool
        .add_raw(&sign_blob(0, TxEip4844WithSidecar::from_tx_and_sidecar(tx, legacy.into())))
        .unwrap();
    let sidecar = pool.get(&hash).unwrap().sidecar.clone().unwrap();
    assert!(sidecar.is_eip7594());
}

#[test]
fn earlier_forks_refuse_later_types_and_sidecars() {
    let cancun = Arc::new(ChainSpec::for_test_network("Cancun", dev().genesis().clone()).unwrap());
    let chain = MemoryChain::with_head(cancun.genesis_header());
    let pool = TxPool::new(cancun, chain, PoolConfig::default());
    let authorization = Authorization {
        chain_id: U256::from(CHAIN_ID),
        address: Address::repeat_byte(7),
        nonce: 0,
    };
    let signature = signer(1).sign_hash_sync(&authorization.signature_hash()).unwrap();
    let set_code = TxEip7702 {
        chain_id: CHAIN_ID,
        gas_limit: 100_000,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        authorization_list: vec![authorization.into_signed(signature)],
        ..TxEip7702::default()
    };
    assert_eq!(
        refused(&pool, &sign(0, set_code)),
        "transaction type not supported: type 4 rejected, pool not yet in Prague"
    );
    // Before Osaka a sidecar carries one proof per blob (version 0); cell proofs are refused.
    let cells = BlobTransactionSidecarEip7594::try_from_blobs(vec![blob()]).unwrap();
    assert_eq!(
        refused(&pool, &sign_blob(0, blob_tx(cells, 0))),
        "unexpected sidecar version, want: 0, got: 1"
    );
    let legacy = BlobTransactionSidecar::try_from_blobs_with_settings(
        vec![blob()],
        EnvKzgSettings::Default.get(),
    )
    .unwrap();
    let mut wrong = legacy.clone();
    wrong.proofs[0] = wrong.commitments[0];
    let tx = TxEip4844 {
        blob_versioned_hashes: legacy.versioned_hashes().collect(),
        ..blob_tx(BlobTransactionSidecarEip7594::default(), 0).tx
    };
    let message = refused(
        &pool,
        &sign_blob(0, TxEip4844WithSidecar::from_tx_and_sidecar(tx.clone(), wrong.into())),
    );
    assert!(message.starts_with("KZG verification error"), "{message}");
    let hash = pool
        .add_raw(&sign_blob(0, TxEip4844WithSidecar::from_tx_and_sidecar(tx, legacy.into())))
        .unwrap();
    assert!(!pool.get(&hash).unwrap().sidecar.as_ref().unwrap().is_eip7594());
}
