//! The executor's thread pool, and handing out work to the threads of the current rayon pool one item at
//! a time.

use std::sync::{
    Mutex, OnceLock, PoisonError,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

/// The pool that executes blocks: `threads` threads named `exec-N`, each pinned to a CPU of its own when the
/// pool has more than one thread and the process may use at least as many CPUs as it has threads.
///
/// Why pinned: a block hands its work to the pool from outside it (the importer's or the bench's thread), and
/// the pool's other threads sleep between blocks. The kernel wakes a sleeping thread on the waker's CPU, which
/// is busy, and moves it to the idle one only at its next load balancing: on the 2-core VM this project is
/// measured on, the second thread of a pool started a 2 × 5 ms job 2.8 ms late (median of 40, after 20 ms of
/// work outside the pool; 25 µs pinned), which is a third of a typical block. Pinned, a thread is woken on its
/// own CPU. A one-thread pool is not pinned (it has no one to wake, and many of them would share one CPU).
///
/// # Errors
/// When rayon cannot start the threads.
pub fn worker_pool(threads: usize) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    let cpus = core_affinity::get_core_ids().unwrap_or_default();
    let pin = threads > 1 && cpus.len() >= threads;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|index| format!("exec-{index}"))
        .start_handler(move |index| {
            if pin && !core_affinity::set_for_current(cpus[index]) {
                tracing::debug!(target: "exec::pool", index, "could not pin a worker to its CPU");
            }
        })
        .build()
}

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
        let done = take_turns(&next, count, |turn| turn, &init, &work);
        lock(&finished).push(done);
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
    in_order(finished.into_inner().unwrap_or_else(PoisonError::into_inner))
}

/// Takes the next turn of `count` from `next` until none is left, doing item `item_at(turn)` of each with a
/// state `init` makes when the first is taken.
fn take_turns<S, R>(
    next: &AtomicUsize,
    count: usize,
    item_at: impl Fn(usize) -> usize,
    init: impl Fn() -> S,
    work: impl Fn(&mut S, usize) -> R,
) -> Vec<(usize, R)> {
    let mut state = None;
    // Room for every item: results can be large (a transaction's), and growing moves them.
    let mut done = Vec::with_capacity(count);
    loop {
        let turn = next.fetch_add(1, Ordering::Relaxed);
        if turn >= count {
            return done;
        }
        let index = item_at(turn);
        done.push((index, work(state.get_or_insert_with(&init), index)));
    }
}

/// Two rounds of [`run_dynamic`] on the same threads: the first round's `count1` items, then `between`
/// (on the calling thread, once every item of the first round is done) makes what the second round's
/// `count2` items share and puts it in `middle`, then the second round. The other threads of the pool are
/// woken once, not once per round, and spin while `between` runs: on a VM, waking a sleeping thread can
/// take milliseconds, as long as a round. `between` returning `None` ends the call after the first round
/// with no results (and `last` is not run).
///
/// The second round takes its items in the order `item_at` gives (turn `t` does item `item_at(t)`, a
/// permutation of `0..count2`; `|turn| turn` for index order), and returns their results in index order.
/// Items that do not depend on each other can go longest first, so that no thread is left with a long item
/// at the end while the others idle.
///
/// `last` runs once, on the first thread to find no item of the second round left: work that does not
/// depend on the second round fills the time that thread would otherwise wait for the others' last items.
pub(crate) fn run_two_rounds<M: Send + Sync, S1, R1: Send, S2, R2: Send>(
    middle: &OnceLock<M>,
    (count1, init1, work1): (usize, impl Fn() -> S1 + Sync, impl Fn(&mut S1, usize) -> R1 + Sync),
    between: impl FnOnce(Vec<R1>) -> Option<M> + Send,
    (count2, item_at, init2, work2): (
        usize,
        impl Fn(usize) -> usize + Sync,
        impl Fn() -> S2 + Sync,
        impl Fn(&mut S2, usize) -> R2 + Sync,
    ),
    last: impl FnOnce() + Send,
) -> Vec<R2> {
    let (next1, next2) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let done1 = AtomicUsize::new(0);
    let stopped = AtomicBool::new(false);
    let (finished1, finished2) = (Mutex::new(Vec::new()), Mutex::new(Vec::new()));
    let first = || {
        // A panicking turn stops everyone waiting for the first round to end.
        let guard = StopOnPanic(&stopped);
        let done = take_turns(&next1, count1, |turn| turn, &init1, &work1);
        let taken = done.len();
        lock(&finished1).push(done);
        done1.fetch_add(taken, Ordering::Release);
        std::mem::forget(guard);
    };
    let last = Mutex::new(Some(last));
    let second = || {
        let done = take_turns(&next2, count2, &item_at, &init2, &work2);
        lock(&finished2).push(done);
        let last = lock(&last).take();
        if let Some(last) = last {
            last();
        }
    };
    let helpers = rayon::current_num_threads().min(count1.max(count2)).saturating_sub(1);
    rayon::scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|_| {
                first();
                let mut spins = 0u32;
                while middle.get().is_none() {
                    if stopped.load(Ordering::Acquire) {
                        return;
                    }
                    spins += 1;
                    if spins < 1 << 10 { std::hint::spin_loop() } else { std::thread::yield_now() }
                }
                second();
            });
        }
        first();
        while done1.load(Ordering::Acquire) < count1 {
            if stopped.load(Ordering::Acquire) {
                return;
            }
            std::thread::yield_now();
        }
        // A panic in `between` also releases the threads waiting for it.
        let guard = StopOnPanic(&stopped);
        let value = between(in_order(std::mem::take(&mut *lock(&finished1))));
        std::mem::forget(guard);
        match value {
            Some(value) => {
                let _ = middle.set(value);
                second();
            }
            None => stopped.store(true, Ordering::Release),
        }
    });
    in_order(finished2.into_inner().unwrap_or_else(PoisonError::into_inner))
}

/// Sets its flag when dropped during a panic (it is forgotten otherwise).
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The results of every thread's turns, in index order: each put in its place (a sort would move large
/// results many times).
fn in_order<R>(per_thread: Vec<Vec<(usize, R)>>) -> Vec<R> {
    let count = per_thread.iter().map(Vec::len).sum();
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(count).collect();
    for (index, result) in per_thread.into_iter().flatten() {
        slots[index] = Some(result);
    }
    slots.into_iter().map(|slot| slot.expect("every index once")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the `last` callbacks of a test saw.
    #[derive(Default)]
    struct Lasts(Mutex<Vec<usize>>);

    impl Lasts {
        fn push(&self, value: usize) {
            lock(&self.0).push(value);
        }

        fn take(&self) -> Vec<usize> {
            std::mem::take(&mut *lock(&self.0))
        }
    }

    #[test]
    fn worker_pools_pin_each_thread_to_a_cpu_of_its_own() {
        let cpus = core_affinity::get_core_ids().unwrap_or_default().len();
        let seen = |threads| {
            let pool = worker_pool(threads).unwrap();
            let mut seen = pool.broadcast(|_| core_affinity::get_core_ids().unwrap_or_default());
            seen.sort();
            seen
        };
        // One thread: free to run anywhere the process may.
        assert_eq!(seen(1)[0].len(), cpus);
        if cpus >= 2 {
            let seen = seen(2);
            assert!(seen.iter().all(|cpus| cpus.len() == 1), "{seen:?}");
            assert_ne!(seen[0], seen[1]);
        }
        // More threads than CPUs: none pinned.
        assert!(seen(cpus + 1).iter().all(|seen| seen.len() == cpus));
    }

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

    #[test]
    fn two_rounds_share_what_comes_between() {
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let middle = OnceLock::new();
            let lasts = Lasts::default();
            let results = pool.install(|| {
                run_two_rounds(
                    &middle,
                    (100, || (), |(), index| index),
                    |first: Vec<usize>| Some(first.iter().sum::<usize>()),
                    // Taken last item first, returned in index order.
                    (50, |turn| 49 - turn, || (), |(), index| index + middle.get().unwrap()),
                    || lasts.push(*middle.get().unwrap()),
                )
            });
            assert_eq!(results, (0..50).map(|index| index + 4950).collect::<Vec<_>>());
            let stopped = OnceLock::<usize>::new();
            let none = pool.install(|| {
                run_two_rounds(
                    &stopped,
                    (10, || (), |(), i| i),
                    |_| None,
                    (10, |turn| turn, || (), |(), i| i),
                    || lasts.push(0),
                )
            });
            assert!(none.is_empty() && stopped.get().is_none());
            // `last` ran once, after the middle was made, and not when the second round did not run.
            assert_eq!(lasts.take(), vec![4950]);
            // With no item in the second round, `last` still runs.
            let middle = OnceLock::new();
            pool.install(|| {
                run_two_rounds(
                    &middle,
                    (3, || (), |(), i| i),
                    |_| Some(7usize),
                    (0, |turn| turn, || (), |(), i| i),
                    || lasts.push(*middle.get().unwrap()),
                )
            });
            assert_eq!(lasts.take(), vec![7]);
            // A panic between the rounds reaches the caller; the other threads do not wait forever.
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.install(|| {
                    run_two_rounds(
                        &OnceLock::<usize>::new(),
                        (10, || (), |(), i| i),
                        |_| panic!("between"),
                        (10, |turn| turn, || (), |(), i| i),
                        || (),
                    )
                })
            }));
            assert!(panicked.is_err());
        }
    }
}
