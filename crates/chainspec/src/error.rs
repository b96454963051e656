//! Errors of the chain specification crate.

use std::path::PathBuf;

/// What can be wrong with a chain specification.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    /// The genesis file could not be read.
    #[error("cannot read genesis file {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The genesis JSON is malformed: `path` names the field (`config.cancunTime`, `alloc.0x….balance`).
    #[error("invalid genesis{}: field `{path}`: {message}", location_suffix(.line, .column))]
    Json {
        /// The JSON path of the offending field, `.` for the document itself.
        path: String,
        /// What serde said was wrong.
        message: String,
        /// The line of the error in the file, 1-based (0 when unknown).
        line: usize,
        /// The column of the error, 1-based (0 when unknown).
        column: usize,
    },
    /// A field parses but its value is not acceptable.
    #[error("invalid genesis: field `{path}`: {message}")]
    Field {
        /// The JSON path of the field.
        path: String,
        /// What is wrong with its value.
        message: String,
    },
    /// The fork schedule is not coherent.
    #[error("invalid fork schedule: {0}")]
    Schedule(String),
    /// A test-suite network name that this crate cannot map to a schedule.
    #[error("unknown test network `{0}`")]
    UnknownNetwork(String),
}

fn location_suffix(line: &usize, column: &usize) -> String {
    if *line == 0 { String::new() } else { format!(" (line {line}, column {column})") }
}
