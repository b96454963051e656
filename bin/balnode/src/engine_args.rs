//! The Engine API's flags (`--authrpc.*`), for `balnode node`.

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
};

use balnode_rpc::{
    RpcConfig,
    engine::{EngineConfig, load_or_create_jwt_secret},
};
use clap::Args;
use eyre::WrapErr;

/// Where the Engine API listens and the JWT secret it checks.
#[derive(Debug, Clone, Args)]
pub(crate) struct EngineArgs {
    /// The address the Engine API (HTTP and WebSocket, JWT-authenticated) listens on.
    #[arg(long = "authrpc.addr", value_name = "IP", default_value = "127.0.0.1")]
    pub(crate) authrpc_addr: IpAddr,
    /// The port of the Engine API (0 for any free port).
    #[arg(long = "authrpc.port", value_name = "PORT", default_value_t = 8551)]
    pub(crate) authrpc_port: u16,
    /// The file of the hex-encoded 32-byte JWT secret; created with a random secret (mode 0600) when it does
    /// not exist. Default: `<datadir>/jwt.hex`.
    #[arg(long = "authrpc.jwtsecret", value_name = "FILE")]
    pub(crate) authrpc_jwtsecret: Option<PathBuf>,
}

impl EngineArgs {
    /// The Engine API's configuration: the secret loaded (or created) now, so that a bad file stops the node
    /// before it serves anything; `limits` are the JSON-RPC server's.
    pub(crate) fn config(&self, datadir: &Path, limits: RpcConfig) -> eyre::Result<EngineConfig> {
        let path = self.authrpc_jwtsecret.clone().unwrap_or_else(|| datadir.join("jwt.hex"));
        let jwt_secret = load_or_create_jwt_secret(&path)
            .wrap_err("the Engine API needs a JWT secret (--authrpc.jwtsecret)")?;
        Ok(EngineConfig {
            addr: SocketAddr::new(self.authrpc_addr, self.authrpc_port),
            jwt_secret,
            limits,
        })
    }
}
