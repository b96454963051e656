//! Which execution strategy runs a block.

use std::{fmt, str::FromStr};

/// How blocks are executed. Every mode gives the same result as [`ExecMode::Sequential`], the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecMode {
    /// One transaction after another.
    Sequential,
    /// Transactions in parallel, driven by the block access list that came with the block
    /// ([`execute_block_parallel_bal`](crate::execute_block_parallel_bal)); a block without one runs
    /// sequentially.
    Bal,
    /// Transactions speculatively in parallel on the parent state, validated and committed in order, the
    /// stale ones executed again ([`execute_block_optimistic`](crate::execute_block_optimistic)), for
    /// blocks without a list; a block with one runs in [`ExecMode::Bal`].
    Optimistic,
    /// [`ExecMode::Bal`] when the block has a list and more than one transaction and there are at least two
    /// workers, else sequential. (Not [`ExecMode::Optimistic`]: on the mainnet corpus it is faster than
    /// sequential execution at two threads overall, 0.88–0.96 of its time, but 1.8–3 times slower on blocks that
    /// chain transactions from one sender, which it commits serially; see `docs/REPLAY.md`.)
    #[default]
    Auto,
}

/// How one block runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Sequentially.
    Sequential,
    /// BAL-parallel.
    Bal,
    /// Optimistically.
    Optimistic,
}

impl ExecMode {
    /// Every mode, for help texts and differential tests.
    pub const ALL: [Self; 4] = [Self::Sequential, Self::Bal, Self::Optimistic, Self::Auto];

    /// Its name on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sequential => "sequential",
            Self::Bal => "bal",
            Self::Optimistic => "optimistic",
            Self::Auto => "auto",
        }
    }

    /// How a block with `transactions` transactions and, or not, a block access list runs in this mode on
    /// `threads` workers (the caller runs blocks a strategy does not support sequentially).
    pub const fn strategy(self, transactions: usize, has_list: bool, threads: usize) -> Strategy {
        match self {
            Self::Sequential => Strategy::Sequential,
            Self::Bal | Self::Optimistic if has_list => Strategy::Bal,
            Self::Bal => Strategy::Sequential,
            Self::Optimistic => Strategy::Optimistic,
            Self::Auto if has_list && transactions > 1 && threads > 1 => Strategy::Bal,
            Self::Auto => Strategy::Sequential,
        }
    }
}

impl fmt::Display for ExecMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An execution mode name that is not one of [`ExecMode::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown execution mode {0:?} (expected sequential, bal, optimistic or auto)")]
pub struct UnknownExecMode(pub String);

impl FromStr for ExecMode {
    type Err = UnknownExecMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.name() == s)
            .ok_or_else(|| UnknownExecMode(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for mode in ExecMode::ALL {
            assert_eq!(mode.name().parse::<ExecMode>(), Ok(mode));
        }
        assert_eq!("stm".parse::<ExecMode>(), Err(UnknownExecMode("stm".into())));
    }

    #[test]
    fn auto_runs_small_blocks_sequentially() {
        use Strategy::*;
        assert_eq!(ExecMode::Auto.strategy(1, true, 2), Sequential);
        assert_eq!(ExecMode::Auto.strategy(2, true, 2), Bal);
        assert_eq!(ExecMode::Auto.strategy(2, true, 1), Sequential);
        assert_eq!(ExecMode::Auto.strategy(100, false, 2), Sequential);
        assert_eq!(ExecMode::Bal.strategy(1, true, 1), Bal);
        assert_eq!(ExecMode::Bal.strategy(100, false, 2), Sequential);
        assert_eq!(ExecMode::Optimistic.strategy(1, false, 1), Optimistic);
        assert_eq!(ExecMode::Optimistic.strategy(100, true, 2), Bal);
        assert_eq!(ExecMode::Sequential.strategy(100, true, 2), Sequential);
    }
}
