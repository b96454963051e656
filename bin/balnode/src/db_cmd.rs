//! `balnode db stats`, `db check` and `db unwind`: the operator's tools over a datadir's store.

use std::{path::Path, time::Instant};

use balnode_storage_api::{BlockWriter, ChainInfoReader, HeaderProvider};
use balnode_storage_mdbx::DatabaseEnv;
use serde_json::json;
use tracing::info;

/// Prints each table's entries and pages, and the data file's size and freelist; JSON with `json`.
pub(crate) fn stats(store: &DatabaseEnv, json: bool) -> eyre::Result<()> {
    let stats = store.stats()?;
    let page_size = u64::from(stats.page_size);
    if json {
        let tables: Vec<_> = stats
            .tables
            .iter()
            .map(|table| {
                json!({
                    "name": table.name,
                    "entries": table.entries,
                    "depth": table.depth,
                    "branch_pages": table.branch_pages,
                    "leaf_pages": table.leaf_pages,
                    "overflow_pages": table.overflow_pages,
                    "bytes": table.bytes,
                })
            })
            .collect();
        let out = json!({
            "path": store.path(),
            "page_size": stats.page_size,
            "file_size": stats.file_size,
            "allocated_pages": stats.allocated_pages,
            "allocated_bytes": stats.allocated_pages * page_size,
            "free_pages": stats.free_pages,
            "free_bytes": stats.free_bytes(),
            "table_bytes": stats.table_bytes(),
            "last_txn_id": stats.last_txn_id,
            "readers": stats.readers,
            "tables": tables,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{:<20} {:>12} {:>6} {:>10} {:>10} {:>10} {:>12}",
        "table", "entries", "depth", "branch", "leaf", "overflow", "size"
    );
    for table in &stats.tables {
        println!(
            "{:<20} {:>12} {:>6} {:>10} {:>10} {:>10} {:>12}",
            table.name,
            table.entries,
            table.depth,
            table.branch_pages,
            table.leaf_pages,
            table.overflow_pages,
            human(table.bytes)
        );
    }
    println!();
    println!("database:        {}", store.path().display());
    println!("page size:       {} bytes", stats.page_size);
    println!("tables:          {}", human(stats.table_bytes()));
    println!("freelist:        {} ({} pages)", human(stats.free_bytes()), stats.free_pages);
    println!(
        "allocated:       {} ({} pages)",
        human(stats.allocated_pages * page_size),
        stats.allocated_pages
    );
    println!("file size:       {}", human(stats.file_size));
    println!("last txn id:     {}", stats.last_txn_id);
    Ok(())
}

/// A byte count in binary units.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// Checks that the store agrees with itself; fails naming the first inconsistency.
pub(crate) fn check(store: &DatabaseEnv, datadir: &Path) -> eyre::Result<()> {
    let started = Instant::now();
    let report = store.check()?;
    println!("head:                 {} {}", report.head_number, report.head_hash);
    println!("blocks checked:       {}", report.blocks);
    println!("transactions:         {}", report.transactions);
    println!("account changes:      {}", report.account_changes);
    println!("storage changes:      {}", report.storage_changes);
    println!("accounts:             {}", report.accounts);
    println!("trie nodes compared:  {}", report.trie_nodes);
    if let Some(root) = report.state_root {
        println!("state root:           {root}");
    }
    info!(target: "balnode::db", elapsed = ?started.elapsed(), "Checked the store");
    if let Some(inconsistency) = &report.first_inconsistency {
        println!("first inconsistency:  {inconsistency}");
        eyre::bail!(
            "the store of {} is inconsistent: {inconsistency}; unwind below the block named \
             (`balnode db unwind --to N`) or re-import into a fresh datadir",
            datadir.display()
        );
    }
    println!("ok: the store is consistent");
    Ok(())
}

/// Unwinds the store to block `to` through [`BlockWriter::unwind_to`]; prints what it did.
pub(crate) fn unwind(store: &DatabaseEnv, to: u64) -> eyre::Result<()> {
    let head = store.chain_info()?;
    eyre::ensure!(
        to <= head.head_number,
        "cannot unwind to block {to}: the head is block {}",
        head.head_number
    );
    if to == head.head_number {
        println!("nothing to unwind: the head is block {to} {}", head.head_hash);
        return Ok(());
    }
    let started = Instant::now();
    store.unwind_to(to)?;
    let new_head = store.chain_info()?;
    let header = store
        .header_by_number(new_head.head_number)?
        .ok_or_else(|| eyre::eyre!("the new head {} has no header", new_head.head_number))?;
    println!(
        "unwound {} blocks ({}..={}) in {:.2?}",
        head.head_number - to,
        to + 1,
        head.head_number,
        started.elapsed()
    );
    println!("head {} {}", new_head.head_number, new_head.head_hash);
    println!("state root {}", header.state_root);
    Ok(())
}
