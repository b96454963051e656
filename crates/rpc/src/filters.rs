//! Installed filters of the filter API (`eth_newFilter`, `eth_newBlockFilter`, `eth_getFilterChanges`, ...).
//!
//! A filter remembers the last block it reported; a poll reports what came after. Filters not polled for
//! [`FILTER_TIMEOUT`] are removed, as geth does.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use alloy_rpc_types_eth::Filter;
use balnode_primitives::{BlockNumber, U256};
use parking_lot::Mutex;

/// How long an unpolled filter lives.
pub(crate) const FILTER_TIMEOUT: Duration = Duration::from_secs(300);

/// What a filter watches.
#[derive(Debug, Clone)]
pub(crate) enum FilterKind {
    /// New block hashes.
    Blocks,
    /// Logs matching the filter.
    Logs(Box<Filter>),
}

/// One installed filter.
#[derive(Debug, Clone)]
pub(crate) struct InstalledFilter {
    pub(crate) kind: FilterKind,
    /// The last block already reported (the head when installed).
    pub(crate) last_block: BlockNumber,
    last_poll: Instant,
}

/// The installed filters.
#[derive(Debug)]
pub(crate) struct Filters {
    inner: Mutex<Inner>,
    max: usize,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    filters: HashMap<U256, InstalledFilter>,
}

impl Filters {
    pub(crate) fn new(max: usize) -> Self {
        Self { inner: Mutex::new(Inner::default()), max }
    }

    /// Installs a filter, `None` when the limit is reached.
    pub(crate) fn install(&self, kind: FilterKind, head: BlockNumber) -> Option<U256> {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        inner.filters.retain(|_, filter| now.duration_since(filter.last_poll) < FILTER_TIMEOUT);
        if inner.filters.len() >= self.max {
            return None;
        }
        inner.next_id += 1;
        let id = U256::from(inner.next_id);
        inner.filters.insert(id, InstalledFilter { kind, last_block: head, last_poll: now });
        Some(id)
    }

    /// The filter `id`, refreshing its timeout.
    pub(crate) fn get(&self, id: U256) -> Option<InstalledFilter> {
        let mut inner = self.inner.lock();
        let filter = inner.filters.get_mut(&id)?;
        if filter.last_poll.elapsed() >= FILTER_TIMEOUT {
            inner.filters.remove(&id);
            return None;
        }
        filter.last_poll = Instant::now();
        Some(filter.clone())
    }

    /// Records that filter `id` has reported up to `block`.
    pub(crate) fn advance(&self, id: U256, block: BlockNumber) {
        if let Some(filter) = self.inner.lock().filters.get_mut(&id) {
            filter.last_block = block;
        }
    }

    /// Removes filter `id`; whether it existed.
    pub(crate) fn remove(&self, id: U256) -> bool {
        self.inner.lock().filters.remove(&id).is_some()
    }
}
