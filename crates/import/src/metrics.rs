//! What the import pipeline reports through the [`metrics`] facade: nothing is recorded unless the process
//! installs a recorder (`balnode import --metrics ADDR` installs the Prometheus exporter).
//!
//! | metric | kind | what |
//! |---|---|---|
//! | `balnode_head_number` | gauge | the last block committed |
//! | `balnode_import_blocks_total`, `_transactions_total`, `_gas_total` | counter | what was committed |
//! | `balnode_import_phase_seconds{phase}` | histogram | `prefetch`, `execute` (prefetch excluded), `root`, `commit` per block |
//! | `balnode_import_rejected_blocks_total` | counter | blocks refused (any step) |
//! | `balnode_bal_rejections_total` | counter | carried access lists refused (malformed, wrong hash, or not the one execution builds) |
//! | `balnode_exec_blocks_total{path}` | counter | blocks executed `sequential`, `parallel` (BAL) or `optimistic` |
//! | `balnode_exec_reexecuted_transactions_total` | counter | optimistic transactions executed again |
//! | `balnode_exec_fallbacks_total` | counter | parallel runs that did not verify and ran sequentially |
//! | `balnode_exec_disagreements_total` | counter | fallbacks on a valid list (a parallel-mode bug: always 0) |
//! | `balnode_prefetch_hits_total`, `_misses_total` | counter | reads served by the prefetch cache (BAL or optimistic mode), or not |

use std::{sync::atomic::Ordering, time::Duration};

use balnode_executor::PrefetchStats;
use metrics::{counter, gauge, histogram};

use crate::{ExecCounters, ImportError};

/// Records one pipeline phase of a block.
pub(crate) fn phase(name: &'static str, elapsed: Duration) {
    histogram!("balnode_import_phase_seconds", "phase" => name).record(elapsed.as_secs_f64());
}

/// Records what a prefetch read ahead served.
pub(crate) fn prefetched(prefetch: &PrefetchStats) {
    // The optimistic mode's reads ahead overlap its execution: no phase of their own.
    if !prefetch.elapsed.is_zero() {
        phase("prefetch", prefetch.elapsed);
    }
    counter!("balnode_prefetch_hits_total").increment(prefetch.hits);
    counter!("balnode_prefetch_misses_total").increment(prefetch.misses);
}

/// Records a committed block and the execution counters after it.
pub(crate) fn committed(number: u64, transactions: usize, gas_used: u64, counters: &ExecCounters) {
    gauge!("balnode_head_number").set(number as f64);
    counter!("balnode_import_blocks_total").increment(1);
    counter!("balnode_import_transactions_total").increment(transactions as u64);
    counter!("balnode_import_gas_total").increment(gas_used);
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    for (path, value) in [
        ("sequential", load(&counters.sequential)),
        ("parallel", load(&counters.parallel)),
        ("optimistic", load(&counters.optimistic)),
    ] {
        counter!("balnode_exec_blocks_total", "path" => path).absolute(value);
    }
    counter!("balnode_exec_reexecuted_transactions_total").absolute(load(&counters.reexecuted));
    counter!("balnode_exec_fallbacks_total").absolute(load(&counters.fallbacks));
    counter!("balnode_exec_disagreements_total").absolute(load(&counters.disagreements));
}

/// Records a refused block.
pub(crate) fn rejected(error: &ImportError) {
    counter!("balnode_import_rejected_blocks_total").increment(1);
    if matches!(
        error,
        ImportError::BlockAccessList { .. } | ImportError::BlockAccessListHash { .. }
    ) {
        counter!("balnode_bal_rejections_total").increment(1);
    }
}
