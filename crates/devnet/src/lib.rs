//! The devnet side of balnode: what makes it a node that produces and follows blocks rather than one that
//! only imports files.
//!
//! - the transaction pool behind `eth_sendRawTransaction` and `txpool_*`;
//! - the block builder: picks pool transactions by effective tip, executes them and produces the header,
//!   receipts and the block's access list (EIP-7928);
//! - the chain driver behind the Engine API (`newPayload`, `forkchoiceUpdated` with payload attributes,
//!   reorgs through the store's change sets) and the `--dev` block producer.
//!
//! Every block, built here or received, is committed through [`balnode_import::Importer`]: the one
//! validation path (the builder's own list is re-verified like an imported one).

pub mod builder;
pub mod chain;
mod engine;
pub mod pool;
pub mod producer;

pub use builder::{
    BlockAttributes, BuildError, Payload, PoolCandidate, TransactionSource, build_payload,
};
pub use chain::{Chain, ChainError, ForkchoiceOutcome, PayloadStatus, Produced, dev_attributes};
pub use pool::{PoolConfig, PoolError, PoolProvider, PooledTx, TxPool};
pub use producer::{DevTrigger, run_dev_producer};
