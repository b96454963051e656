//! The JSON-RPC server's metrics, recorded through the [`metrics`] facade by an RPC middleware (nothing is
//! recorded unless the process installs a recorder):
//!
//! | metric | kind | what |
//! |---|---|---|
//! | `balnode_rpc_requests_total{method, outcome}` | counter | calls per method, `ok` or `error` |
//! | `balnode_rpc_request_duration_seconds{method}` | histogram | the time to answer each call |
//!
//! A method the server does not have is counted as `method="unknown"`, so that clients cannot grow the label
//! set without bound. A batch is counted once, as `method="batch"`.

use std::time::Instant;

use jsonrpsee::{
    server::{
        MethodResponse,
        middleware::rpc::{Batch, Notification, RpcServiceT},
    },
    types::{ErrorCode, Request},
};
use metrics::{counter, histogram};

/// The middleware: wraps the server's RPC service and records every call.
#[derive(Debug, Clone)]
pub(crate) struct RpcMetrics<S> {
    service: S,
}

impl<S> RpcMetrics<S> {
    /// Wraps `service`.
    pub(crate) const fn new(service: S) -> Self {
        Self { service }
    }
}

/// Records one answered call of `method`.
fn record(method: &str, started: Instant, error_code: Option<i32>) {
    let method = if error_code == Some(ErrorCode::MethodNotFound.code()) {
        "unknown".to_owned()
    } else {
        method.to_owned()
    };
    let outcome = if error_code.is_some() { "error" } else { "ok" };
    histogram!("balnode_rpc_request_duration_seconds", "method" => method.clone())
        .record(started.elapsed().as_secs_f64());
    counter!("balnode_rpc_requests_total", "method" => method, "outcome" => outcome).increment(1);
}

impl<S> RpcServiceT for RpcMetrics<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let method = request.method_name().to_owned();
        let started = Instant::now();
        let response = self.service.call(request);
        async move {
            let response = response.await;
            record(&method, started, response.as_error_code());
            response
        }
    }

    fn batch<'a>(
        &self,
        requests: Batch<'a>,
    ) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let started = Instant::now();
        let response = self.service.batch(requests);
        async move {
            let response = response.await;
            record("batch", started, response.as_error_code());
            response
        }
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.service.notification(notification)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io::{Read, Write},
        net::{SocketAddr, TcpStream},
        sync::Arc,
    };

    use crate::{RpcConfig, RpcContext, start_server};

    /// POSTs `body` to `addr` and returns the response's body.
    fn post(addr: SocketAddr, body: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response.split_once("\r\n\r\n").unwrap().1.to_owned()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn calls_are_counted_per_method_and_unknown_methods_share_a_label() {
        let recorder =
            metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = balnode_storage_mdbx::DatabaseEnv::open(dir.path()).unwrap();
        let config =
            RpcConfig { addr: SocketAddr::from(([127, 0, 0, 1], 0)), ..Default::default() };
        let context = Arc::new(RpcContext::new(Arc::new(store), balnode_chainspec::dev(), config));
        let server = start_server(context).await.unwrap();
        let addr = server.local_addr;
        tokio::task::spawn_blocking(move || {
            let call = |method: &str| {
                post(
                    addr,
                    &format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":[]}}"#),
                )
            };
            for _ in 0..2 {
                assert!(call("web3_clientVersion").contains("balnode"));
            }
            assert!(call("no_suchMethod1").contains("-32601"));
            assert!(call("no_suchMethod2").contains("-32601"));
        })
        .await
        .unwrap();
        server.handle.stop().unwrap();

        let rendered = recorder.render();
        let counted = |labels: &str| {
            rendered
                .lines()
                .find_map(|line| {
                    line.strip_prefix(&format!("balnode_rpc_requests_total{{{labels}}} "))
                })
                .map(|value| value.trim().to_owned())
        };
        assert_eq!(
            counted(r#"method="web3_clientVersion",outcome="ok""#).as_deref(),
            Some("2"),
            "{rendered}"
        );
        assert_eq!(
            counted(r#"method="unknown",outcome="error""#).as_deref(),
            Some("2"),
            "{rendered}"
        );
        assert!(!rendered.contains("no_suchMethod"), "{rendered}");
        let latency =
            r#"balnode_rpc_request_duration_seconds_count{method="web3_clientVersion"} 2"#;
        assert!(rendered.contains(latency), "{rendered}");
    }
}
