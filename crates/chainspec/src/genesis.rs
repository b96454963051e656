//! Reading geth-format `genesis.json` files.

use std::path::Path;

use alloy_genesis::Genesis;

use crate::ChainSpecError;

/// Parses a geth-format genesis document, naming the offending field when it is malformed.
///
/// Beyond what serde checks, `config.chainId` must be present: a chain without an id would silently become
/// chain 1 and sign replayable transactions.
pub fn parse_genesis(json: &str) -> Result<Genesis, ChainSpecError> {
    let deserializer = &mut serde_json::Deserializer::from_str(json);
    let genesis: Genesis = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        ChainSpecError::Json {
            path,
            message: strip_location(&inner.to_string()),
            line: inner.line(),
            column: inner.column(),
        }
    })?;
    let raw: serde_json::Value =
        serde_json::from_str(json).map_err(|error| ChainSpecError::Json {
            path: ".".to_owned(),
            message: strip_location(&error.to_string()),
            line: error.line(),
            column: error.column(),
        })?;
    if raw.pointer("/config/chainId").is_none() {
        return Err(ChainSpecError::Field {
            path: "config.chainId".to_owned(),
            message: "missing: every chain needs an id".to_owned(),
        });
    }
    Ok(genesis)
}

/// Reads and parses a genesis file.
pub fn read_genesis(path: &Path) -> Result<Genesis, ChainSpecError> {
    let json = std::fs::read_to_string(path)
        .map_err(|source| ChainSpecError::Read { path: path.to_owned(), source })?;
    parse_genesis(&json)
}

/// serde_json appends " at line L column C" to its messages; the error carries those separately.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(json: &str) -> String {
        parse_genesis(json).unwrap_err().to_string()
    }

    #[test]
    fn a_bad_field_is_named_with_its_location() {
        let error = error_of(
            "{\n\"config\": {\"chainId\": 1,\n  \"cancunTime\": \"soon\"}, \"alloc\": {}}",
        );
        assert!(error.contains("field `config.cancunTime`"), "{error}");
        assert!(error.contains("line 3"), "{error}");
        let error = error_of(
            r#"{"config":{"chainId":1},"alloc":{"0x0000000000000000000000000000000000000001":{"balance":"lots"}}}"#,
        );
        assert!(
            error.contains("alloc.0x0000000000000000000000000000000000000001.balance"),
            "{error}"
        );
        let error = error_of(r#"{"config":{"chainId":1},"alloc":{"0x12":{"balance":"0x1"}}}"#);
        assert!(error.contains("field `alloc.0x12`: invalid string length"), "{error}");
    }

    #[test]
    fn truncated_and_non_json_documents_are_refused() {
        assert!(error_of(r#"{"config":{"chainId":1"#).contains("EOF"));
        assert!(error_of("not json").contains("invalid genesis"));
    }

    #[test]
    fn a_missing_chain_id_is_refused() {
        let error = error_of(r#"{"config":{"londonBlock":0},"alloc":{}}"#);
        assert!(error.contains("field `config.chainId`: missing"), "{error}");
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let error = read_genesis(Path::new("/nonexistent/genesis.json")).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/genesis.json"), "{error}");
    }
}
