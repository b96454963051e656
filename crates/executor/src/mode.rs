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
    /// [`ExecMode::Bal`] when the block has a list and more than one transaction, else sequential.
    #[default]
    Auto,
}

impl ExecMode {
    /// Every mode, for help texts and differential tests.
    pub const ALL: [Self; 3] = [Self::Sequential, Self::Bal, Self::Auto];

    /// Its name on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sequential => "sequential",
            Self::Bal => "bal",
            Self::Auto => "auto",
        }
    }

    /// Whether a block with `transactions` transactions and, or not, a block access list runs in parallel.
    pub const fn runs_parallel(self, transactions: usize, has_list: bool) -> bool {
        match self {
            Self::Sequential => false,
            Self::Bal => has_list,
            Self::Auto => has_list && transactions > 1,
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
#[error("unknown execution mode {0:?} (expected sequential, bal or auto)")]
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
        assert_eq!("optimistic".parse::<ExecMode>(), Err(UnknownExecMode("optimistic".into())));
    }

    #[test]
    fn auto_runs_small_blocks_sequentially() {
        assert!(!ExecMode::Auto.runs_parallel(1, true));
        assert!(ExecMode::Auto.runs_parallel(2, true));
        assert!(!ExecMode::Auto.runs_parallel(100, false));
        assert!(ExecMode::Bal.runs_parallel(1, true));
        assert!(!ExecMode::Sequential.runs_parallel(100, true));
    }
}
