//! The performance report: not measured yet (`--bench` prints nothing); the next commit fills it in.

use std::{path::PathBuf, sync::Arc};

use balnode_chainspec::ChainSpec;

use crate::ReplayError;

/// Bench settings.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Measured runs per configuration.
    pub runs: usize,
    /// Whether to measure with a cold cache too.
    pub cold: bool,
    /// Where temporary stores go.
    pub tmp: Option<PathBuf>,
}

/// The report.
#[derive(Debug, serde::Serialize)]
pub struct BenchReport {}

impl BenchReport {
    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        String::new()
    }
}

/// Runs the bench.
pub fn run_bench(
    _spec: &Arc<ChainSpec>,
    _dirs: &[PathBuf],
    _config: &BenchConfig,
) -> Result<BenchReport, ReplayError> {
    Ok(BenchReport {})
}
