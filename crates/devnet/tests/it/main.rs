//! Integration tests of balnode-devnet.

mod pool_rpc;
