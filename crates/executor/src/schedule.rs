//! Handing out work to the threads of the current rayon pool one item at a time.

use std::sync::{
    Mutex, PoisonError,
    atomic::{AtomicUsize, Ordering},
};

/// Runs `work(state, index)` for every `index < count` on the threads of the current rayon pool, each
/// thread taking the next index (in order) as it frees up, with a `state` of its own made by `init` when it
/// takes its first index; returns the results in index order.
///
/// Items of very different cost (transactions, accounts with or without code) balance better this way than
/// with rayon's splitting of a range, which can leave one thread a quarter of the range's heavy items while
/// the other idles.
pub(crate) fn run_dynamic<S, R: Send>(
    count: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let finished = Mutex::new(Vec::new());
    let take_turns = || {
        let mut state = None;
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= count {
                break;
            }
            let state = state.get_or_insert_with(&init);
            done.push((index, work(state, index)));
        }
        finished.lock().unwrap_or_else(PoisonError::into_inner).push(done);
    };
    // One turn-taker per other thread of the pool, spawned (not broadcast: a broadcast waits for every
    // thread, which in a pool also running other work lets the waiting thread start more of it), and one here.
    let helpers = rayon::current_num_threads().min(count).saturating_sub(1);
    rayon::scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|_| take_turns());
        }
        take_turns();
    });
    let mut results: Vec<(usize, R)> = finished
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect();
    results.sort_unstable_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_once_in_order() {
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let inits = AtomicUsize::new(0);
            let results = pool.install(|| {
                run_dynamic(1000, || inits.fetch_add(1, Ordering::Relaxed), |_, index| index * 2)
            });
            assert_eq!(results, (0..1000).map(|index| index * 2).collect::<Vec<_>>());
            assert!(inits.load(Ordering::Relaxed) <= threads);
        }
        assert!(run_dynamic(0, || (), |(), index| index).is_empty());
    }
}
