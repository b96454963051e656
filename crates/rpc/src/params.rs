//! Positional parameters: typed access with geth-style `invalid argument N: ...` errors.

use alloy_eips::BlockNumberOrTag;
use balnode_primitives::B256;
use jsonrpsee::types::Params;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{RpcError, RpcResult};

/// The positional parameters of one request.
#[derive(Debug)]
pub(crate) struct Args(Vec<Value>);

impl Args {
    /// Reads the request's parameters: an array, or none; at most `max` of them.
    pub(crate) fn parse(params: &Params<'_>, max: usize) -> RpcResult<Self> {
        let values = if params.is_object() {
            return Err(RpcError::InvalidParams("parameters must be an array".to_owned()));
        } else {
            match params.as_str() {
                None => Vec::new(),
                Some(_) => params
                    .parse::<Option<Vec<Value>>>()
                    .map_err(|error| RpcError::InvalidParams(error.message().to_owned()))?
                    .unwrap_or_default(),
            }
        };
        if values.len() > max {
            return Err(RpcError::InvalidParams(format!("too many arguments, want at most {max}")));
        }
        Ok(Self(values))
    }

    /// Parameter `index`, required.
    pub(crate) fn required<T: DeserializeOwned>(&self, index: usize) -> RpcResult<T> {
        match self.0.get(index) {
            None => {
                Err(RpcError::InvalidParams(format!("missing value for required argument {index}")))
            }
            Some(value) => decode(index, value.clone()),
        }
    }

    /// Parameter `index`, `None` when absent or null.
    pub(crate) fn optional<T: DeserializeOwned>(&self, index: usize) -> RpcResult<Option<T>> {
        match self.0.get(index) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => decode(index, value.clone()).map(Some),
        }
    }

    /// Parameter `index` as a 32-byte hash written with its `0x` prefix, as geth requires.
    pub(crate) fn hash(&self, index: usize) -> RpcResult<B256> {
        let text: String = self.required(index)?;
        let Some(digits) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) else {
            return Err(RpcError::InvalidParams(format!(
                "invalid argument {index}: hex string without 0x prefix"
            )));
        };
        if digits.len() != 64 {
            return Err(RpcError::InvalidParams(format!(
                "invalid argument {index}: hex string has length {}, want 64 for a hash",
                digits.len()
            )));
        }
        digits
            .parse::<B256>()
            .map_err(|error| RpcError::InvalidParams(format!("invalid argument {index}: {error}")))
    }

    /// Parameter `index` as a block tag or a `0x`-prefixed number (geth refuses bare decimals).
    pub(crate) fn block_tag(&self, index: usize) -> RpcResult<BlockNumberOrTag> {
        let text: String = self.required(index)?;
        if !text.starts_with("0x") && text.parse::<u64>().is_ok() {
            return Err(RpcError::InvalidParams(format!(
                "invalid argument {index}: hex string without 0x prefix"
            )));
        }
        text.parse()
            .map_err(|error| RpcError::InvalidParams(format!("invalid argument {index}: {error}")))
    }

    /// Parameter `index` as a storage slot: a quantity or up to 32 bytes of hex, left-padded.
    pub(crate) fn slot(&self, index: usize) -> RpcResult<B256> {
        let text: String = self.required(index)?;
        parse_slot(&text).map_err(|message| {
            RpcError::InvalidParams(format!("invalid argument {index}: {message}"))
        })
    }
}

/// A storage slot from hex, left-padded to 32 bytes.
pub(crate) fn parse_slot(text: &str) -> Result<B256, String> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    if digits.len() > 64 {
        return Err(format!("storage key too long (want at most 32 bytes): {text:?}"));
    }
    let padded = format!("{digits:0>64}");
    padded.parse::<B256>().map_err(|error| format!("invalid storage key {text:?}: {error}"))
}

/// Reads a request's parameters (`params`, the JSON of its `params` member) as the method `method` reads them
/// before touching the store, and nothing more: the entry point of the `rpc_params` fuzz target. A method
/// without parameters of its own, or unknown, only has the array read.
pub fn parse_params(method: &str, params: &str) -> RpcResult<()> {
    use alloy_eips::BlockId;
    use alloy_rpc_types_eth::{
        BlockOverrides, Filter, TransactionRequest, simulate::SimulatePayload, state::StateOverride,
    };
    use alloy_rpc_types_trace::geth::GethDebugTracingOptions;
    use balnode_primitives::{Address, Bytes, U256};

    let params = Params::new(Some(params));
    let args = Args::parse(&params, 4)?;
    match method {
        "eth_getBlockByNumber" => {
            args.required::<BlockNumberOrTag>(0)?;
            args.optional::<bool>(1)?;
        }
        "eth_getBlockByHash" | "eth_getTransactionByHash" | "eth_getTransactionReceipt" => {
            args.hash(0)?;
            args.optional::<bool>(1)?;
        }
        "eth_getTransactionByBlockNumberAndIndex" | "eth_getUncleByBlockNumberAndIndex" => {
            args.required::<BlockNumberOrTag>(0)?;
            args.required::<U256>(1)?;
        }
        "eth_getTransactionByBlockHashAndIndex" | "eth_getUncleByBlockHashAndIndex" => {
            args.hash(0)?;
            args.required::<U256>(1)?;
        }
        "eth_getBlockReceipts" | "eth_getBlockAccessList" | "debug_getRawHeader" => {
            args.required::<BlockId>(0)?;
        }
        "eth_getBalance" | "eth_getTransactionCount" | "eth_getCode" => {
            args.required::<Address>(0)?;
            args.optional::<BlockId>(1)?;
        }
        "eth_getStorageAt" => {
            args.required::<Address>(0)?;
            args.slot(1)?;
            args.optional::<BlockId>(2)?;
        }
        "eth_getProof" => {
            args.required::<Address>(0)?;
            args.required::<Vec<alloy_serde::storage::JsonStorageKey>>(1)?;
            args.optional::<BlockId>(2)?;
        }
        "eth_feeHistory" => {
            args.required::<U256>(0)?;
            args.required::<BlockNumberOrTag>(1)?;
            args.optional::<Vec<f64>>(2)?;
        }
        "eth_getLogs" | "eth_newFilter" => {
            args.required::<Filter>(0)?;
        }
        "eth_call" | "eth_estimateGas" | "eth_createAccessList" => {
            args.required::<TransactionRequest>(0)?;
            args.optional::<BlockId>(1)?;
            args.optional::<StateOverride>(2)?;
            args.optional::<BlockOverrides>(3)?;
        }
        "eth_simulateV1" => {
            args.required::<SimulatePayload>(0)?;
            args.optional::<BlockId>(1)?;
        }
        "web3_sha3" | "eth_sendRawTransaction" => {
            args.required::<Bytes>(0)?;
        }
        "debug_traceTransaction" => {
            args.hash(0)?;
            args.optional::<GethDebugTracingOptions>(1)?;
        }
        "debug_traceBlockByNumber" => {
            args.block_tag(0)?;
            args.optional::<GethDebugTracingOptions>(1)?;
        }
        "debug_traceBlockByHash" => {
            args.hash(0)?;
            args.optional::<GethDebugTracingOptions>(1)?;
        }
        _ => {}
    }
    Ok(())
}

fn decode<T: DeserializeOwned>(index: usize, value: Value) -> RpcResult<T> {
    serde_json::from_value(value)
        .map_err(|error| RpcError::InvalidParams(format!("invalid argument {index}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_read_as_the_method_reads_them() {
        assert!(
            parse_params("eth_getBalance", r#"["0x0000000000000000000000000000000000000001"]"#)
                .is_ok()
        );
        let err = parse_params("eth_getBalance", r#"["0x01", "latest"]"#).unwrap_err();
        assert!(err.to_string().contains("invalid argument 0"), "{err}");
        let err = parse_params("eth_getBlockByNumber", r#"["1"]"#).unwrap_err();
        assert!(err.to_string().contains("invalid argument 0"), "{err}");
        assert!(
            parse_params(
                "eth_call",
                r#"[{"to":"0x0000000000000000000000000000000000000001"}, "latest"]"#
            )
            .is_ok()
        );
        assert!(parse_params("eth_getLogs", r#"[{"fromBlock":"0x1","topics":[null]}]"#).is_ok());
        assert!(parse_params("eth_getLogs", r#"{"fromBlock":"0x1"}"#).is_err());
        assert!(parse_params("eth_blockNumber", "[1, 2, 3, 4, 5]").is_err());
    }

    #[test]
    fn slots_are_left_padded_and_bounded() {
        assert_eq!(parse_slot("0x0").unwrap(), B256::ZERO);
        assert_eq!(parse_slot("0x01").unwrap(), B256::with_last_byte(1));
        assert_eq!(parse_slot("2").unwrap(), B256::with_last_byte(2));
        let too_long = format!("0x{}", "0".repeat(65));
        assert!(parse_slot(&too_long).unwrap_err().contains("too long"));
        assert!(parse_slot("0xzz").is_err());
    }
}
