//! Transaction traces for `debug_traceTransaction` and `debug_traceBlockBy*`: geth's struct logger and its
//! `callTracer`, from revm-inspectors' `TracingInspector`.
//!
//! A block is re-executed on its parent state through alloy-evm's block executor (system calls first), with
//! an inspecting EVM; the inspector is reset before each transaction and read after it.
//!
//! Limitation: the inspecting EVM is revm's mainnet EVM, without our handler for the `bal@v5.7.0` Amsterdam
//! profile (`evm.rs`), so under that profile the gas of Amsterdam transactions may differ from the receipts'.

use std::sync::Arc;

use alloy_evm::{
    Evm, EvmFactory,
    block::BlockExecutor,
    eth::{EthBlockExecutor, EthEvmFactory, receipt_builder::AlloyReceiptBuilder},
};
use alloy_rpc_types_trace::geth::{
    GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions, GethTrace, NoopFrame,
};
use balnode_chainspec::ChainSpec;
use balnode_primitives::{Address, Block, Bytes, TxHash, consensus::transaction::Recovered};
use balnode_storage_api::StateProvider;
use revm::{context::result::ExecutionResult, database::State};
use revm_inspectors::tracing::{TracingInspector, TracingInspectorConfig};

use crate::{ExecutionError, database::StateProviderDatabase, execute::block_evm_env};

/// Why a trace could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The tracer asked for is not supported.
    #[error(
        "tracer {0} is not supported (supported: the default struct logger, callTracer, noopTracer)"
    )]
    UnsupportedTracer(String),
    /// The tracer configuration does not parse.
    #[error("invalid tracer config: {0}")]
    InvalidConfig(String),
    /// Re-executing the block failed.
    #[error(transparent)]
    Execution(#[from] ExecutionError),
}

/// The tracer a request asks for.
#[derive(Debug, Clone)]
enum Tracer {
    StructLogs(alloy_rpc_types_trace::geth::GethDefaultTracingOptions),
    Call(alloy_rpc_types_trace::geth::CallConfig),
    Noop,
}

impl Tracer {
    fn from_options(options: &GethDebugTracingOptions) -> Result<Self, TraceError> {
        match &options.tracer {
            None => Ok(Self::StructLogs(options.config)),
            Some(GethDebugTracerType::BuiltInTracer(GethDebugBuiltInTracerType::CallTracer)) => {
                let config = options
                    .tracer_config
                    .clone()
                    .into_call_config()
                    .map_err(|error| TraceError::InvalidConfig(error.to_string()))?;
                Ok(Self::Call(config))
            }
            Some(GethDebugTracerType::BuiltInTracer(GethDebugBuiltInTracerType::NoopTracer)) => {
                Ok(Self::Noop)
            }
            Some(other) => Err(TraceError::UnsupportedTracer(format!("{other:?}"))),
        }
    }

    fn inspector(&self) -> TracingInspector {
        let config = match self {
            Self::StructLogs(options) => TracingInspectorConfig::from_geth_config(options),
            Self::Call(config) => TracingInspectorConfig::from_geth_call_config(config),
            Self::Noop => TracingInspectorConfig::none(),
        };
        TracingInspector::new(config)
    }

    fn trace(&self, inspector: &TracingInspector, gas_used: u64, output: Bytes) -> GethTrace {
        match self {
            Self::StructLogs(options) => {
                inspector.geth_builder().geth_traces(gas_used, output, *options).into()
            }
            Self::Call(config) => {
                inspector.geth_builder().geth_call_traces(*config, gas_used).into()
            }
            Self::Noop => NoopFrame::default().into(),
        }
    }
}

/// Traces the transactions of `block` (on `state`, its parent's post-state) up to and including index
/// `last` (all when `None`); returns each transaction's hash and trace.
pub fn trace_block<P: StateProvider>(
    spec: &Arc<ChainSpec>,
    block: &Block,
    senders: &[Address],
    state: P,
    last: Option<usize>,
    options: &GethDebugTracingOptions,
) -> Result<Vec<(TxHash, GethTrace)>, TraceError> {
    let tracer = Tracer::from_options(options)?;
    let header = &block.header;
    let body = &block.body;
    let db = State::builder()
        .with_database_ref(StateProviderDatabase(state))
        .with_bundle_update()
        .build();
    let env = block_evm_env(spec, header);
    let evm = EthEvmFactory::default().create_evm_with_inspector(db, env, tracer.inspector());
    let mut executor = EthBlockExecutor::new(
        evm,
        crate::execute::block_ctx(block),
        crate::execute::ExecutorSpec(spec.clone()),
        AlloyReceiptBuilder::default(),
    );
    executor
        .apply_pre_execution_changes()
        .map_err(|error| ExecutionError::PreExecution(Box::new(error)))?;
    let mut traces = Vec::new();
    let end = last.map_or(body.transactions.len(), |last| (last + 1).min(body.transactions.len()));
    for (index, (transaction, sender)) in
        body.transactions.iter().zip(senders).enumerate().take(end)
    {
        *executor.evm_mut().inspector_mut() = tracer.inspector();
        let mut outcome = (0, Bytes::new());
        let recovered = Recovered::new_unchecked(transaction, *sender);
        executor
            .execute_transaction_with_result_closure(recovered, |result| {
                let result = &result.result.result;
                let output = match result {
                    ExecutionResult::Success { output, .. } => output.data().clone(),
                    ExecutionResult::Revert { output, .. } => output.clone(),
                    ExecutionResult::Halt { .. } => Bytes::new(),
                };
                outcome = (result.tx_gas_used(), output);
            })
            .map_err(|error| ExecutionError::Transaction {
                index,
                hash: *transaction.tx_hash(),
                source: Box::new(error),
            })?;
        let (gas_used, output) = outcome;
        let trace = tracer.trace(executor.evm_mut().inspector_mut(), gas_used, output);
        traces.push((*transaction.tx_hash(), trace));
    }
    Ok(traces)
}
