//! The `--dev` block producer: a block every `--dev.block-time`, or one per transaction.

use std::{sync::Arc, time::Duration};

use balnode_primitives::TxHash;
use tokio::sync::{broadcast, watch};
use tracing::{error, info};

use crate::chain::Chain;

/// When the dev producer makes a block.
#[derive(Debug)]
pub enum DevTrigger {
    /// A block at this interval, with or without transactions (as `geth --dev.period`).
    Interval(Duration),
    /// A block for each transaction that becomes pending, holding just that one (as anvil's automine).
    OnTransaction(broadcast::Receiver<TxHash>),
}

/// Produces blocks on `chain` as `trigger` says until `shutdown` turns true; a block in progress is finished
/// (built, imported and committed) before it returns.
pub async fn run_dev_producer(
    chain: Arc<Chain>,
    trigger: DevTrigger,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut trigger = trigger;
    let mut interval = match &trigger {
        DevTrigger::Interval(period) => {
            let mut interval = tokio::time::interval(*period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is immediate: skip it, the genesis (or the last block) was just made.
            interval.tick().await;
            Some(interval)
        }
        DevTrigger::OnTransaction(_) => None,
    };
    info!(target: "devnet::producer", ?trigger, "Dev block producer started");
    loop {
        let one_per_transaction = tokio::select! {
            _ = shutdown.changed() => break,
            () = async { interval.as_mut().expect("an interval trigger").tick().await; }, if interval.is_some() => false,
            received = async {
                match &mut trigger {
                    DevTrigger::OnTransaction(pending) => pending.recv().await,
                    DevTrigger::Interval(_) => std::future::pending().await,
                }
            }, if interval.is_none() => {
                if matches!(received, Err(broadcast::error::RecvError::Closed)) {
                    break;
                }
                true
            }
        };
        let producing = chain.clone();
        let produced = tokio::task::spawn_blocking(move || {
            if !one_per_transaction {
                return producing.produce_block(None, false).map(|_| ());
            }
            // Every pending transaction in a block of its own, until none is left.
            while producing.produce_block(Some(1), true)?.is_some() {}
            Ok(())
        })
        .await;
        match produced {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => {
                error!(target: "devnet::producer", %failure, "Cannot produce a block")
            }
            Err(panic) => error!(target: "devnet::producer", %panic, "The block producer panicked"),
        }
        if *shutdown.borrow() {
            break;
        }
    }
    info!(target: "devnet::producer", "Dev block producer stopped");
}
