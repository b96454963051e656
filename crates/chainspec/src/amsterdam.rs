//! Which version of the Amsterdam rules a chain follows.
//!
//! Amsterdam (Glamsterdam) is still moving: each devnet fixes a set of EIPs and their parameters, and the
//! test suites and revm each follow one of them. A chain names the one it follows; the executor turns the
//! name into revm's switches and gas table, and the BAL builder into its inclusion rules.

use std::{fmt, str::FromStr};

/// A named version of the Amsterdam rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AmsterdamProfile {
    /// What revm 43 implements (Glamsterdam devnet-8): EIP-2780 intrinsic gas, EIP-8037 state gas with a fixed
    /// cost per state byte of 1530, EIP-8038 access costs. The default for new chains.
    #[default]
    Latest,
    /// The execution-spec-tests release `bal@v5.7.0` (the `eest-bal-v5.7.0-alpha-amsterdam` bundle): no
    /// EIP-2780 and no EIP-8038, EIP-8037 with a cost per state byte derived from the block gas limit.
    BalDevnetV5_7,
}

impl AmsterdamProfile {
    /// Every profile, for help texts.
    pub const VARIANTS: &'static [Self] = &[Self::Latest, Self::BalDevnetV5_7];

    /// The profile's name as the command line and genesis files spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Latest => "latest",
            Self::BalDevnetV5_7 => "bal-v5.7",
        }
    }
}

impl fmt::Display for AmsterdamProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AmsterdamProfile {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::VARIANTS.iter().copied().find(|profile| profile.name() == name).ok_or_else(|| {
            let names: Vec<_> = Self::VARIANTS.iter().map(|p| p.name()).collect();
            format!("unknown Amsterdam profile `{name}`: expected one of {}", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for profile in AmsterdamProfile::VARIANTS {
            assert_eq!(profile.name().parse::<AmsterdamProfile>(), Ok(*profile));
        }
        assert!("devnet-9".parse::<AmsterdamProfile>().unwrap_err().contains("latest, bal-v5.7"));
    }
}
