//! geth-format genesis files on any text: parsed, turned into a chain spec (the fork schedule checked), and the
//! genesis header built from it, never a panic.

#![no_main]

use balnode_chainspec::{ChainSpec, parse_genesis};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(genesis) = parse_genesis(text) else { return };
    // The state root hashes the whole alloc: keep the inputs the fuzzer grows cheap to run.
    if genesis.alloc.len() > 64 {
        return;
    }
    let Ok(spec) = ChainSpec::from_genesis(genesis) else { return };
    let _ = spec.genesis_header();
});
