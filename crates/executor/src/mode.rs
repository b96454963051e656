//! Which execution strategy runs a block.

use std::{fmt, str::FromStr};

use balnode_primitives::{Address, primitives::map::AddressSet};

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
    /// [`ExecMode::Bal`] when the block has a list and more than one transaction; without a list,
    /// [`ExecMode::Optimistic`] unless the block is too small to repay its fixed costs (fewer than
    /// [`BlockShape::MIN_OPTIMISTIC`] transactions) or too contended (most of its transactions follow an
    /// earlier one from the same sender: they would be executed one after the other anyway, with the
    /// optimistic mode's costs on top: 1.2–1.6 times sequential's time on the four such blocks of the
    /// mainnet corpus); else, and on a single worker, sequentially.
    #[default]
    Auto,
}

/// What [`ExecMode::strategy`] knows of a block before executing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockShape {
    /// Its transactions.
    pub transactions: usize,
    /// Whether it came with a block access list.
    pub has_list: bool,
    /// Its transactions whose sender has an earlier transaction in the block.
    pub chained: usize,
}

impl BlockShape {
    /// The fewest transactions [`ExecMode::Auto`] runs optimistically.
    pub const MIN_OPTIMISTIC: usize = 4;

    /// The shape of a block with these transactions' `senders`.
    pub fn new(senders: &[Address], has_list: bool) -> Self {
        let mut seen = AddressSet::with_capacity_and_hasher(senders.len(), Default::default());
        let chained = senders.iter().filter(|sender| !seen.insert(**sender)).count();
        Self { transactions: senders.len(), has_list, chained }
    }

    /// Whether most of the transactions follow an earlier one from the same sender.
    pub const fn sender_chained(&self) -> bool {
        self.chained * 2 > self.transactions
    }
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

    /// How a block of this `shape` runs in this mode on `threads` workers (the caller runs blocks a strategy
    /// does not support sequentially).
    pub const fn strategy(self, shape: BlockShape, threads: usize) -> Strategy {
        let BlockShape { transactions, has_list, .. } = shape;
        match self {
            Self::Sequential => Strategy::Sequential,
            Self::Bal | Self::Optimistic if has_list => Strategy::Bal,
            Self::Bal => Strategy::Sequential,
            Self::Optimistic => Strategy::Optimistic,
            Self::Auto if threads < 2 || transactions < 2 => Strategy::Sequential,
            Self::Auto if has_list => Strategy::Bal,
            Self::Auto if transactions >= BlockShape::MIN_OPTIMISTIC && !shape.sender_chained() => {
                Strategy::Optimistic
            }
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

    fn shape(transactions: usize, has_list: bool, chained: usize) -> BlockShape {
        BlockShape { transactions, has_list, chained }
    }

    #[test]
    fn auto_runs_small_and_chained_blocks_sequentially() {
        use Strategy::*;
        assert_eq!(ExecMode::Auto.strategy(shape(1, true, 0), 2), Sequential);
        assert_eq!(ExecMode::Auto.strategy(shape(2, true, 0), 2), Bal);
        assert_eq!(ExecMode::Auto.strategy(shape(2, true, 1), 2), Bal);
        assert_eq!(ExecMode::Auto.strategy(shape(2, true, 0), 1), Sequential);
        assert_eq!(ExecMode::Auto.strategy(shape(100, false, 0), 2), Optimistic);
        assert_eq!(ExecMode::Auto.strategy(shape(100, false, 50), 2), Optimistic);
        assert_eq!(ExecMode::Auto.strategy(shape(100, false, 51), 2), Sequential);
        assert_eq!(ExecMode::Auto.strategy(shape(100, false, 0), 1), Sequential);
        assert_eq!(ExecMode::Auto.strategy(shape(3, false, 0), 2), Sequential);
        assert_eq!(ExecMode::Auto.strategy(shape(4, false, 0), 2), Optimistic);
        assert_eq!(ExecMode::Bal.strategy(shape(1, true, 0), 1), Bal);
        assert_eq!(ExecMode::Bal.strategy(shape(100, false, 0), 2), Sequential);
        assert_eq!(ExecMode::Optimistic.strategy(shape(1, false, 0), 1), Optimistic);
        assert_eq!(ExecMode::Optimistic.strategy(shape(100, false, 99), 2), Optimistic);
        assert_eq!(ExecMode::Optimistic.strategy(shape(100, true, 0), 2), Bal);
        assert_eq!(ExecMode::Sequential.strategy(shape(100, true, 0), 2), Sequential);
    }

    #[test]
    fn chained_counts_transactions_after_a_senders_first() {
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let shape = BlockShape::new(&[a, b, a, a, b], false);
        assert_eq!(shape, BlockShape { transactions: 5, has_list: false, chained: 3 });
        assert!(shape.sender_chained());
        assert!(!BlockShape::new(&[a, b, a, b], false).sender_chained());
        assert_eq!(BlockShape::new(&[], true).chained, 0);
    }
}
