//! Single calls on a block's state, for `eth_call`, `eth_estimateGas` and `eth_createAccessList`.
//!
//! A call runs in the environment of a stored block (its number, timestamp, base fee, ...) on the state
//! after that block, with the caller's state and block overrides laid over it in a `CacheDB`. Nothing is
//! committed. As geth does, the nonce is not checked, and a call that pays no gas price runs with a zero base
//! fee, so that `from`-less calls work.

use std::{collections::BTreeSet, sync::Arc};

use alloy_evm::{
    Evm,
    overrides::{OverrideBlockHashes, apply_block_overrides, apply_state_overrides},
    rpc::TryIntoTxEnv,
};
use alloy_rpc_types_eth::{BlockOverrides, TransactionRequest, state::StateOverride};
use balnode_chainspec::ChainSpec;
use balnode_primitives::{
    Address, B256, Bytes, Header, U256,
    eips::eip2930::{AccessList, AccessListItem},
    primitives::TxKind,
};
use balnode_storage_api::{ProviderError, StateProvider};
use revm::{
    context::{
        TxEnv,
        result::{EVMError, ExecutionResult, HaltReason},
    },
    context_interface::Cfg,
    database::CacheDB,
    primitives::hardfork::SpecId,
    state::EvmState,
};

use crate::{
    database::{DatabaseError, StateProviderDatabase},
    execute::{block_evm_env, build_evm},
};

/// Why a call could not give a result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The request itself is wrong (conflicting fee fields, bad overrides, ...).
    #[error("{0}")]
    InvalidRequest(String),
    /// The transaction the request describes is not valid on this state (funds, fee cap, gas limit, ...).
    #[error("{0}")]
    InvalidTransaction(String),
    /// The call reverted; `output` is its revert data.
    #[error("execution reverted{}", revert_reason(output).map(|reason| format!(": {reason}")).unwrap_or_default())]
    Reverted {
        /// The revert data.
        output: Bytes,
    },
    /// The call halted exceptionally (out of gas, invalid opcode, ...).
    #[error("{0}")]
    Halted(String),
    /// No gas limit up to the cap lets the call succeed.
    #[error("gas required exceeds allowance ({0})")]
    GasAllowance(u64),
    /// Reading state failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// The `Error(string)` reason of ABI-encoded revert data, where it is one.
pub fn revert_reason(output: &[u8]) -> Option<String> {
    const SELECTOR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];
    let data = output.strip_prefix(&SELECTOR)?;
    let offset = usize::try_from(U256::from_be_slice(data.get(..32)?)).ok()?;
    let length_word = data.get(offset..offset.checked_add(32)?)?;
    let length = usize::try_from(U256::from_be_slice(length_word)).ok()?;
    let start = offset + 32;
    let bytes = data.get(start..start.checked_add(length)?)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// How a call ended.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// Return or revert data.
    pub output: Bytes,
    /// Gas used.
    pub gas_used: u64,
    /// Whether it succeeded; a failure is a revert (with `output`) or a halt (`halt` set).
    pub success: bool,
    /// Why it halted, when it did.
    pub halt: Option<String>,
    /// The state it touched (accounts and slots read or written), for access lists.
    state: EvmState,
}

impl CallOutcome {
    /// The error a failed call maps to, `None` for success.
    pub fn error(&self) -> Option<CallError> {
        if self.success {
            None
        } else if let Some(halt) = &self.halt {
            Some(CallError::Halted(halt.clone()))
        } else {
            Some(CallError::Reverted { output: self.output.clone() })
        }
    }
}

/// Where and how calls run: a block's environment on the state after it, with limits.
#[derive(Debug)]
pub struct CallEnv<'a> {
    /// The chain.
    pub spec: &'a Arc<ChainSpec>,
    /// The block whose environment the call sees (its state is the state after it).
    pub header: &'a Header,
    /// The largest gas a call may use, whatever it asks for.
    pub gas_cap: u64,
}

/// The database a call runs on: the block's state under the overrides.
type CallDb<P> = CacheDB<StateProviderDatabase<P>>;

/// A prepared call: database, environment and transaction.
struct Prepared<P: StateProvider> {
    db: CallDb<P>,
    env: alloy_evm::EvmEnv,
    tx: TxEnv,
    /// Whether the request set a gas limit.
    gas_given: bool,
}

fn prepare<P: StateProvider>(
    call_env: &CallEnv<'_>,
    state: P,
    request: TransactionRequest,
    state_overrides: Option<StateOverride>,
    block_overrides: Option<BlockOverrides>,
) -> Result<Prepared<P>, CallError> {
    let mut db = CacheDB::new(StateProviderDatabase(state));
    let mut env = block_evm_env(call_env.spec, call_env.header);
    env.cfg_env.disable_nonce_check = true;
    // As geth's eth_call: the sender may be an account with code.
    env.cfg_env.disable_eip3607 = true;
    if let Some(overrides) = block_overrides {
        db.override_block_hashes(overrides.block_hash.clone().unwrap_or_default());
        apply_block_overrides(overrides, &mut db, &mut env.block_env);
    }
    if let Some(overrides) = state_overrides {
        apply_state_overrides(overrides, &mut db).map_err(|error| match error {
            alloy_evm::overrides::StateOverrideError::Database(DatabaseError(error)) => {
                CallError::Provider(error)
            }
            other => CallError::InvalidRequest(other.to_string()),
        })?;
    }
    let pays_gas = request.gas_price.is_some_and(|price| price > 0)
        || request.max_fee_per_gas.is_some_and(|fee| fee > 0);
    if !pays_gas {
        // As geth: a call that pays nothing sees a zero base fee, so the fee checks pass.
        env.block_env.basefee = 0;
    }
    let gas_given = request.gas.is_some();
    let mut tx: TxEnv = request
        .try_into_tx_env(&env)
        .map_err(|error| CallError::InvalidRequest(error.to_string()))?;
    if !gas_given {
        tx.gas_limit = env.block_env.gas_limit;
    }
    tx.gas_limit = tx.gas_limit.min(call_env.gas_cap);
    if let Some(cap) = tx_gas_cap(&env) {
        tx.gas_limit = tx.gas_limit.min(cap);
    }
    Ok(Prepared { db, env, tx, gas_given })
}

/// The per-transaction gas cap of the fork (EIP-7825 from Osaka), if any.
fn tx_gas_cap(env: &alloy_evm::EvmEnv) -> Option<u64> {
    env.cfg_env.spec.is_enabled_in(SpecId::OSAKA).then(|| env.cfg_env.tx_gas_limit_cap())
}

/// Runs `tx` on `db` without committing.
fn run<P: StateProvider>(
    spec: &ChainSpec,
    db: &mut CallDb<P>,
    env: &alloy_evm::EvmEnv,
    tx: TxEnv,
) -> Result<CallOutcome, CallError> {
    let mut evm = build_evm(spec, env.clone(), &mut *db);
    let result = evm.transact_raw(tx).map_err(|error| match error {
        EVMError::Database(DatabaseError(error)) => CallError::Provider(error),
        EVMError::Transaction(invalid) => CallError::InvalidTransaction(invalid.to_string()),
        other => CallError::InvalidTransaction(other.to_string()),
    })?;
    let state = result.state;
    let gas_used = result.result.tx_gas_used();
    Ok(match result.result {
        ExecutionResult::Success { output, .. } => {
            CallOutcome { gas_used, output: output.into_data(), success: true, halt: None, state }
        }
        ExecutionResult::Revert { output, .. } => {
            CallOutcome { gas_used, output, success: false, halt: None, state }
        }
        ExecutionResult::Halt { reason, .. } => CallOutcome {
            gas_used,
            output: Bytes::new(),
            success: false,
            halt: Some(halt_message(&reason)),
            state,
        },
    })
}

/// geth's words for a halt.
pub(crate) fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(_) => "out of gas".to_owned(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".to_owned(),
        HaltReason::StackUnderflow => "stack underflow".to_owned(),
        HaltReason::StackOverflow => "stack overflow".to_owned(),
        HaltReason::InvalidJump => "invalid jump destination".to_owned(),
        HaltReason::StateChangeDuringStaticCall => "write protection".to_owned(),
        HaltReason::CreateCollision => "contract address collision".to_owned(),
        HaltReason::CreateContractSizeLimit => "max code size exceeded".to_owned(),
        other => format!("{other:?}"),
    }
}

/// `eth_call`: runs the request once and returns how it ended.
pub fn call<P: StateProvider>(
    call_env: &CallEnv<'_>,
    state: P,
    request: TransactionRequest,
    state_overrides: Option<StateOverride>,
    block_overrides: Option<BlockOverrides>,
) -> Result<CallOutcome, CallError> {
    let Prepared { mut db, env, tx, .. } =
        prepare(call_env, state, request, state_overrides, block_overrides)?;
    run(call_env.spec, &mut db, &env, tx)
}

/// `eth_estimateGas`: the least gas limit with which the request succeeds, by binary search between the
/// gas it used and the limit it may have.
pub fn estimate_gas<P: StateProvider>(
    call_env: &CallEnv<'_>,
    state: P,
    request: TransactionRequest,
    state_overrides: Option<StateOverride>,
    block_overrides: Option<BlockOverrides>,
) -> Result<u64, CallError> {
    let Prepared { mut db, env, mut tx, gas_given } =
        prepare(call_env, state, request, state_overrides, block_overrides)?;
    let mut high = tx.gas_limit;
    if !gas_given && tx.gas_price > 0 {
        // Not more than the sender can pay for.
        let balance = revm::Database::basic(&mut db, tx.caller)
            .map_err(|DatabaseError(error)| CallError::Provider(error))?
            .map(|account| account.balance)
            .unwrap_or_default();
        let available = balance.saturating_sub(tx.value);
        let allowance = available / U256::from(tx.gas_price);
        high = high.min(allowance.saturating_to());
    }
    // A plain transfer to an account without code costs exactly the intrinsic gas.
    tx.gas_limit = high;
    let first = run(call_env.spec, &mut db, &env, tx.clone())?;
    if let Some(error) = first.error() {
        return Err(match error {
            CallError::Halted(reason) if reason == "out of gas" => CallError::GasAllowance(high),
            other => other,
        });
    }
    let mut low = first.gas_used.saturating_sub(1);
    // Most calls succeed with what they used plus the 1/64 kept back by calls: try that first.
    let optimistic = first.gas_used.saturating_mul(64) / 63 + 2_300;
    if optimistic < high {
        tx.gas_limit = optimistic;
        match run(call_env.spec, &mut db, &env, tx.clone()) {
            Ok(outcome) if outcome.success => high = optimistic,
            Ok(_) | Err(CallError::InvalidTransaction(_)) => low = optimistic,
            Err(error) => return Err(error),
        }
    }
    while low + 1 < high {
        let middle = low + (high - low) / 2;
        tx.gas_limit = middle;
        match run(call_env.spec, &mut db, &env, tx.clone()) {
            Ok(outcome) if outcome.success => high = middle,
            // Too little gas shows as a halt, a revert, or an intrinsic-gas refusal.
            Ok(_) | Err(CallError::InvalidTransaction(_)) => low = middle,
            Err(error) => return Err(error),
        }
    }
    Ok(high)
}

/// What `eth_createAccessList` answers.
#[derive(Debug, Clone)]
pub struct AccessListOutcome {
    /// The accounts and slots the call touches, less the sender, the recipient's account entry, the
    /// coinbase and the precompiles.
    pub access_list: AccessList,
    /// Gas used with that list.
    pub gas_used: u64,
    /// Why the call failed, when it did.
    pub error: Option<String>,
}

/// `eth_createAccessList`: the accounts and slots the call touches, re-run with the list until it is stable.
pub fn create_access_list<P: StateProvider>(
    call_env: &CallEnv<'_>,
    state: P,
    request: TransactionRequest,
    state_overrides: Option<StateOverride>,
    block_overrides: Option<BlockOverrides>,
) -> Result<AccessListOutcome, CallError> {
    let Prepared { mut db, env, mut tx, .. } =
        prepare(call_env, state, request, state_overrides, block_overrides)?;
    let precompiles: BTreeSet<Address> = revm::precompile::Precompiles::new(
        revm::precompile::PrecompileSpecId::from_spec_id(env.cfg_env.spec),
    )
    .addresses()
    .copied()
    .collect();
    let to = match tx.kind {
        TxKind::Call(to) => Some(to),
        TxKind::Create => None,
    };
    let excluded = |address: &Address| {
        *address == tx.caller
            || precompiles.contains(address)
            || *address == env.block_env.beneficiary
    };
    let mut list = tx.access_list.clone();
    if tx.tx_type == 0 {
        // A legacy transaction carries no access list: price the call as the EIP-2930 one it would become.
        tx.tx_type = 1;
    }
    // A list changes the gas but not which slots are touched; a few rounds settle it. The answer is the run
    // with the final list (its gas includes the list's cost), failed or not.
    for _ in 0..4 {
        tx.access_list = list.clone();
        let outcome = run(call_env.spec, &mut db, &env, tx.clone())?;
        let mut items: Vec<AccessListItem> = Vec::new();
        let mut accounts: Vec<(&Address, &revm::state::Account)> = outcome.state.iter().collect();
        accounts.sort_by_key(|(address, _)| **address);
        for (address, account) in accounts {
            if excluded(address) {
                continue;
            }
            let mut keys: Vec<B256> =
                account.storage.keys().map(|slot| B256::from(*slot)).collect();
            keys.sort();
            if Some(*address) == to && keys.is_empty() {
                continue;
            }
            items.push(AccessListItem { address: *address, storage_keys: keys });
        }
        let new_list = AccessList(items);
        if new_list == list {
            return Ok(access_list_outcome(list, &outcome));
        }
        list = new_list;
    }
    tx.access_list = list.clone();
    let outcome = run(call_env.spec, &mut db, &env, tx)?;
    Ok(access_list_outcome(list, &outcome))
}

/// The answer of `eth_createAccessList` for a run with `list`.
fn access_list_outcome(list: AccessList, outcome: &CallOutcome) -> AccessListOutcome {
    AccessListOutcome {
        error: outcome.error().map(|error| match error {
            CallError::Reverted { .. } => "execution reverted".to_owned(),
            other => other.to_string(),
        }),
        access_list: list,
        gas_used: outcome.gas_used,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_reason_decodes_error_string() {
        let data = balnode_primitives::hex::decode("08c379a00000000000000000000000000000000000000000000000000000000000000020000000000000000000000000000000000000000000000000000000000000000a75736572206572726f72").unwrap();
        assert_eq!(revert_reason(&data).as_deref(), Some("user error"));
        assert_eq!(revert_reason(&data[..40]), None);
        assert_eq!(revert_reason(b"wrong-calldatasize"), None);
    }
}
