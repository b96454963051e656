//! [`RpcError`]: every error a method returns, mapped to its JSON-RPC code in one place.

use balnode_executor::CallError;
use balnode_primitives::{Bytes, hex};
use balnode_storage_api::ProviderError;
use jsonrpsee::types::ErrorObjectOwned;

/// JSON-RPC 2.0: the method does not exist.
pub const METHOD_NOT_FOUND: i32 = -32601;
/// JSON-RPC 2.0: invalid method parameters.
pub const INVALID_PARAMS: i32 = -32602;
/// JSON-RPC 2.0: internal error.
pub const INTERNAL_ERROR: i32 = -32603;
/// geth's generic server error (unknown block, invalid transaction, ...).
pub const SERVER_ERROR: i32 = -32000;
/// EIP-1474: the request exceeds a limit.
pub const LIMIT_EXCEEDED: i32 = -32005;
/// geth: execution reverted, with the revert data in `data`.
pub const EXECUTION_REVERTED: i32 = 3;
/// EIP-4444: the data asked for has been pruned.
pub const PRUNED: i32 = 4444;

/// What a method can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The parameters are malformed or contradictory.
    #[error("{0}")]
    InvalidParams(String),
    /// The block named by a state or call method does not exist.
    #[error("header not found")]
    HeaderNotFound,
    /// A call reverted.
    #[error("{message}")]
    Reverted {
        /// `execution reverted` with the decoded reason, if any.
        message: String,
        /// The revert data.
        data: Bytes,
    },
    /// A call or transaction could not run (invalid transaction, halt, gas allowance).
    #[error("{0}")]
    Execution(String),
    /// The request goes beyond a configured limit.
    #[error("{0}")]
    LimitExceeded(String),
    /// The data was pruned (EIP-4444).
    #[error("pruned history unavailable")]
    Pruned,
    /// The method exists but this node does not serve it.
    #[error("the method {0} is not supported by balnode")]
    Unsupported(&'static str),
    /// An error with the code a method's spec gives it (`eth_simulateV1`'s `-380xx`).
    #[error("{message}")]
    Coded {
        /// The code.
        code: i32,
        /// The message.
        message: String,
    },
    /// Reading the store failed.
    #[error("internal error: {0}")]
    Provider(ProviderError),
    /// Anything else that is the node's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ProviderError> for RpcError {
    fn from(error: ProviderError) -> Self {
        match error {
            ProviderError::BlockNotFound(_) | ProviderError::StateNotAvailable { .. } => {
                Self::HeaderNotFound
            }
            other => Self::Provider(other),
        }
    }
}

impl From<CallError> for RpcError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Reverted { output } => Self::Reverted {
                message: CallError::Reverted { output: output.clone() }.to_string(),
                data: output,
            },
            CallError::InvalidRequest(message) => Self::InvalidParams(message),
            CallError::Provider(error) => error.into(),
            other => Self::Execution(other.to_string()),
        }
    }
}

impl From<serde_json::Error> for RpcError {
    fn from(error: serde_json::Error) -> Self {
        Self::Internal(format!("serialisation failed: {error}"))
    }
}

impl RpcError {
    /// The JSON-RPC error code.
    pub const fn code(&self) -> i32 {
        match self {
            Self::InvalidParams(_) => INVALID_PARAMS,
            Self::HeaderNotFound | Self::Execution(_) => SERVER_ERROR,
            Self::Reverted { .. } => EXECUTION_REVERTED,
            Self::LimitExceeded(_) => LIMIT_EXCEEDED,
            Self::Pruned => PRUNED,
            Self::Unsupported(_) => METHOD_NOT_FOUND,
            Self::Coded { code, .. } => *code,
            Self::Provider(_) | Self::Internal(_) => INTERNAL_ERROR,
        }
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(error: RpcError) -> Self {
        if let RpcError::Provider(inner) = &error {
            tracing::warn!(target: "rpc", %inner, "Store read failed");
        }
        let data = match &error {
            RpcError::Reverted { data, .. } => Some(hex::encode_prefixed(data)),
            _ => None,
        };
        Self::owned(error.code(), error.to_string(), data)
    }
}

/// Result of a method.
pub type RpcResult<T> = Result<T, RpcError>;
