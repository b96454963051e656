//! `balnode import --metrics ADDR`: the Prometheus endpoint answers during an import, and its counters move.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::import::{chain, datadir};

/// The body of `GET /metrics` on `port`, `None` while nothing answers.
fn scrape(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request =
        format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// The value of the sample `name` (with its labels, as rendered) in a scrape.
fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn import_metrics_move_while_blocks_are_committed() {
    let (_dir, datadir) = datadir();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let genesis = crate::import::genesis();
    let mut child = Command::new(env!("CARGO_BIN_EXE_balnode"))
        .args(["import", "--chain", &genesis, "--datadir", &datadir, "--metrics"])
        .arg(format!("127.0.0.1:{port}"))
        .arg(chain())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut blocks_seen = Vec::new();
    let mut last_body = String::new();
    while child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(120) {
        if let Some(body) = scrape(port)
            && let Some(blocks) = sample(&body, "balnode_import_blocks_total")
        {
            if blocks_seen.last() != Some(&blocks) {
                blocks_seen.push(blocks);
            }
            last_body = body;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(
        blocks_seen.len() >= 2,
        "the block counter did not move across scrapes: {blocks_seen:?}"
    );
    assert!(blocks_seen.windows(2).all(|pair| pair[0] < pair[1]), "{blocks_seen:?}");
    let body = last_body;
    let head = sample(&body, "balnode_head_number").expect("head gauge");
    assert!(head >= *blocks_seen.last().unwrap(), "{body}");
    assert!(sample(&body, "balnode_import_gas_total").unwrap() > 0.0, "{body}");
    for phase in ["execute", "root", "commit"] {
        let count = format!("balnode_import_phase_seconds_count{{phase=\"{phase}\"}}");
        assert!(sample(&body, &count).unwrap() > 0.0, "{count} in:\n{body}");
    }
    let sequential = "balnode_exec_blocks_total{path=\"sequential\"}";
    assert!(sample(&body, sequential).unwrap() > 0.0, "{body}");
    assert!(body.contains("# HELP balnode_import_blocks_total"), "{body}");
    assert!(sample(&body, "balnode_db_file_bytes").unwrap() > 0.0, "{body}");
}
