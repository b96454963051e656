//! Block execution of balnode on revm.
//!
//! Today: sequential execution ([`execute_block`]) through alloy-evm's Ethereum block executor, reading state
//! only through [`StateProviderDatabase`], revm's `DatabaseRef` over a storage-api
//! [`StateProvider`](balnode_storage_api::StateProvider). The BAL-parallel and optimistic modes will be more
//! implementations of the same steps.
//!
//! Good starting points:
//! - [`execute_block`]: a block on its parent state → receipts, gas, requests and [`StateChanges`].
//! - [`StateProviderDatabase`]: the only seam between revm and storage.
//! - [`call()`], [`estimate_gas`], [`create_access_list`]: single calls on a block's state, for JSON-RPC.
//!
//! ## Feature Flags
//! None.
//!
//! [`StateChanges`]: balnode_primitives::StateChanges

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod admission;
mod amsterdam;
mod bal;
mod balance_watch;
mod build;
mod call;
mod changes;
mod compare;
mod database;
mod deposits;
mod evm;
mod execute;
mod list_check;
mod mode;
mod optimistic;
mod parallel;
mod prefetch;
mod schedule;
mod shared_state;
mod simulate;
mod state_gas;
mod trace;

pub use admission::{IntrinsicGasError, TxLimits, check_intrinsic_gas, tx_limits};
pub use build::{BuiltBlock, Candidate, Skipped, build_block};
pub use call::{
    AccessListOutcome, CallEnv, CallError, CallOutcome, call, create_access_list, estimate_gas,
    revert_reason,
};
pub use compare::first_output_difference;
pub use database::{DatabaseError, StateProviderDatabase};
pub use deposits::DepositLayoutError;
pub use execute::{
    BlockExecutionOutput, ChangesSoFar, IntermediateRoot, execute_block, execute_block_with_bal,
};
pub use list_check::{ListMismatch, Written};
pub use mode::{BlockShape, ExecMode, Strategy, UnknownExecMode};
pub use optimistic::{OptimisticStats, execute_block_optimistic, supports_optimistic};
pub use parallel::{
    PostStateWork, execute_block_parallel_bal, execute_block_parallel_bal_with,
    supports_parallel_bal,
};
pub use prefetch::{OpenReader, PrefetchStats, PrefetchedState};
pub use schedule::worker_pool;
pub use simulate::{
    MAX_SIMULATED_BLOCKS, SimCall, SimCallFailure, SimulateError, SimulateOptions, SimulatedBlock,
    simulate,
};
pub use trace::{TraceError, trace_block};

use alloy_evm::block::BlockExecutionError;
use balnode_chainspec::{ChainSpec, Hardfork};
use balnode_primitives::TxHash;
use balnode_storage_api::ProviderError;

/// Why a block could not be executed. Any of these makes the block invalid, except a storage failure.
///
/// alloy-evm's errors are boxed: they are large, and this is the cold path.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// The block-level system calls before the first transaction failed.
    #[error("pre-execution system calls failed: {0}")]
    PreExecution(#[source] Box<BlockExecutionError>),
    /// A transaction could not be included (invalid nonce, balance, gas, signature...).
    #[error("transaction {index} ({hash}) is invalid: {source}")]
    Transaction {
        /// Its index in the block.
        index: usize,
        /// Its hash.
        hash: TxHash,
        /// What revm or the block executor said.
        #[source]
        source: Box<BlockExecutionError>,
    },
    /// Withdrawals, rewards or the post-execution system calls failed.
    #[error("post-execution changes failed: {0}")]
    PostExecution(#[source] Box<BlockExecutionError>),
    /// A deposit event of the deposit contract does not have the layout EIP-6110 fixes.
    #[error("invalid deposit event layout: {0}")]
    DepositLayout(#[from] DepositLayoutError),
    /// A request contract of EIP-7002 or EIP-7251 has no code when the block's system call reaches it.
    #[error("the system contract at {address} has no code")]
    SystemContractEmpty {
        /// The contract's address.
        address: balnode_primitives::Address,
    },
    /// revm's access-list-driven state view refused a read.
    #[error("block access list: {0}")]
    Bal(String),
    /// Execution and the block access list that drove it part (BAL-parallel mode).
    #[error("the block access list does not match execution: {0}")]
    ListMismatch(#[from] ListMismatch),
    /// The block has a different number of senders than transactions.
    #[error("{senders} senders for {transactions} transactions")]
    SenderCount {
        /// Senders given.
        senders: usize,
        /// Transactions in the block.
        transactions: usize,
    },
    /// A pre-Byzantium block was executed without a way to compute intermediate state roots.
    #[error("receipts before Byzantium need intermediate state roots, and none was provided")]
    NoIntermediateRoot,
    /// Reading state failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl ExecutionError {
    /// Wraps a block executor's error about transaction `index`.
    pub(crate) fn from_block(
        index: usize,
        transaction: &balnode_primitives::TxEnvelope,
    ) -> impl FnOnce(BlockExecutionError) -> Self + '_ {
        move |source| Self::Transaction {
            index,
            hash: *transaction.tx_hash(),
            source: Box::new(source),
        }
    }
}

/// The largest contract code a block may deploy: EIP-170's 24 KiB, raised by EIP-7954 in Amsterdam (to
/// 64 KiB; 32 KiB under the `bal-v5.7` profile). A block access list's code changes are bounded by it too.
/// The addresses of the precompiles active under `spec`.
pub fn precompile_addresses(
    spec: revm::primitives::hardfork::SpecId,
) -> Vec<balnode_primitives::Address> {
    revm::precompile::Precompiles::new(revm::precompile::PrecompileSpecId::from_spec_id(spec))
        .addresses()
        .copied()
        .collect()
}

/// The largest contract code a block may deploy: EIP-170's 24 KiB, raised to 64 KiB by EIP-7954 in
/// Amsterdam. A block access list's code changes are bounded by it too.
pub fn max_code_size(spec: &ChainSpec, number: u64, timestamp: u64) -> usize {
    if spec.is_active_at(Hardfork::Amsterdam, number, timestamp) {
        amsterdam::max_code_size(spec.amsterdam_profile())
    } else {
        revm::primitives::eip170::MAX_CODE_SIZE
    }
}
