//! Integration tests of balnode-rpc.

mod engine;
