//! JSON-RPC parameter parsing: the input is a method name, a newline, and the request's `params` JSON; they
//! are read as the method reads them (block ids and tags, hashes, slots, call requests, overrides, filters,
//! simulation payloads, tracer options), never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (method, params) = text.split_once('\n').unwrap_or(("eth_call", text));
    let _ = balnode_rpc::parse_params(method, params);
});
