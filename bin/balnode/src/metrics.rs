//! `--metrics ADDR`: the Prometheus endpoint (`GET /metrics`) over what the crates record through the
//! `metrics` facade (the import pipeline, the RPC server), plus the database's size.

use std::{net::SocketAddr, time::Duration};

use balnode_storage_mdbx::DatabaseEnv;
use eyre::WrapErr;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::PrometheusBuilder;

/// How often the database's size is read.
const DB_SIZE_INTERVAL: Duration = Duration::from_secs(5);

/// Serves the metrics on `addr` (on a thread of the exporter's own) and keeps the size gauges of `store`.
pub(crate) fn install(addr: SocketAddr, store: &DatabaseEnv) -> eyre::Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .wrap_err_with(|| format!("cannot serve metrics on {addr}"))?;
    describe();
    let store = store.clone();
    std::thread::Builder::new()
        .name("metrics-db-size".into())
        .spawn(move || {
            loop {
                if let Ok(stats) = store.stats() {
                    let page_size = u64::from(stats.page_size);
                    gauge!("balnode_db_file_bytes").set(stats.file_size as f64);
                    let used = stats.allocated_pages.saturating_sub(stats.free_pages) * page_size;
                    gauge!("balnode_db_used_bytes").set(used as f64);
                }
                std::thread::sleep(DB_SIZE_INTERVAL);
            }
        })
        .wrap_err("cannot start the metrics thread")?;
    tracing::info!(target: "balnode::metrics", %addr, "Serving metrics at /metrics");
    Ok(())
}

/// The help text of each metric.
fn describe() {
    describe_gauge!("balnode_head_number", "The last block committed");
    describe_counter!("balnode_import_blocks_total", "Blocks validated, executed and committed");
    describe_gauge!("balnode_txpool_pending", "Transactions in the pool that can be mined now");
    describe_gauge!(
        "balnode_txpool_queued",
        "Transactions in the pool waiting for a nonce gap to fill"
    );
    describe_counter!("balnode_import_transactions_total", "Transactions of the committed blocks");
    describe_counter!("balnode_import_gas_total", "Gas used by the committed blocks");
    describe_gauge!("balnode_import_mgas_per_second", "Import throughput since the import started");
    describe_histogram!(
        "balnode_import_phase_seconds",
        Unit::Seconds,
        "Time per block in each phase: prefetch, execute, root, commit"
    );
    describe_counter!("balnode_import_rejected_blocks_total", "Blocks refused by the import");
    describe_counter!("balnode_bal_rejections_total", "Carried block access lists refused");
    describe_counter!("balnode_exec_blocks_total", "Blocks executed, by path");
    describe_counter!(
        "balnode_exec_reexecuted_transactions_total",
        "Transactions the optimistic mode executed again"
    );
    describe_counter!(
        "balnode_exec_fallbacks_total",
        "Parallel executions that did not verify and ran sequentially"
    );
    describe_counter!(
        "balnode_exec_disagreements_total",
        "Fallbacks on a valid list: a parallel-mode bug, always 0"
    );
    describe_counter!(
        "balnode_prefetch_hits_total",
        "State reads served by the prefetch cache (the BAL mode's, or the optimistic mode's)"
    );
    describe_counter!("balnode_prefetch_misses_total", "State reads the prefetch did not cover");
    describe_counter!("balnode_rpc_requests_total", "JSON-RPC calls, by method and outcome");
    describe_histogram!(
        "balnode_rpc_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a JSON-RPC call, by method"
    );
    describe_gauge!("balnode_db_file_bytes", Unit::Bytes, "Size of the MDBX data file");
    describe_gauge!(
        "balnode_db_used_bytes",
        Unit::Bytes,
        "Pages of the data file in use, in bytes"
    );
}
