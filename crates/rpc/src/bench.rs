//! A bounded load generator for `make bench-rpc`: N keep-alive HTTP/1.1 connections, each sending one request
//! after another for a fixed time; requests per second and latency percentiles.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests answered with HTTP 200 and a JSON-RPC `result`.
    pub ok: u64,
    /// Requests that failed (transport error, HTTP error or JSON-RPC error).
    pub errors: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Median latency.
    pub p50: Duration,
    /// 99th-percentile latency.
    pub p99: Duration,
}

impl LoadReport {
    /// Answered requests per second.
    pub fn requests_per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  ({} ok, {} errors in {:.1} s)",
            self.requests_per_second(),
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.ok,
            self.errors,
            self.elapsed.as_secs_f64()
        )
    }
}

/// One request over a keep-alive connection; whether the answer was a JSON-RPC result.
async fn round_trip(
    reader: &mut BufReader<TcpStream>,
    request: &[u8],
    body: &mut Vec<u8>,
) -> std::io::Result<bool> {
    reader.get_mut().write_all(request).await?;
    let mut status_ok = false;
    let mut length = 0usize;
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        if first {
            status_ok = line.split_whitespace().nth(1) == Some("200");
            first = false;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(std::io::Error::other)?;
        }
    }
    body.resize(length, 0);
    reader.read_exact(body).await?;
    Ok(status_ok && body.windows(9).any(|window| window == b"\"result\":"))
}

/// Runs `connections` connections for `duration`, connection `i` sending `bodies[i % len]` in a loop.
pub async fn run_load(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    bodies: &[String],
) -> std::io::Result<LoadReport> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(connections);
    for index in 0..connections {
        let body = &bodies[index % bodies.len()];
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let mut reader = BufReader::new(stream);
            let mut latencies = Vec::new();
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut response = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                match round_trip(&mut reader, &request, &mut response).await {
                    Ok(true) => {
                        ok += 1;
                        latencies.push(sent.elapsed());
                    }
                    Ok(false) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        let stream = TcpStream::connect(addr).await?;
                        reader = BufReader::new(stream);
                    }
                }
            }
            std::io::Result::Ok((ok, errors, latencies))
        }));
    }
    let (mut ok, mut errors, mut latencies) = (0, 0, Vec::new());
    for task in tasks {
        let (task_ok, task_errors, task_latencies) =
            task.await.map_err(std::io::Error::other)??;
        ok += task_ok;
        errors += task_errors;
        latencies.extend(task_latencies);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(LoadReport { ok, errors, elapsed, p50: percentile(0.50), p99: percentile(0.99) })
}
