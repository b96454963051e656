//! The rpc-compat runner: execution-apis `.io` cases replayed against a server and compared as hive's
//! rpc-compat simulator does.
//!
//! A case file holds `//` comments, `>> request` and `<< response` lines. The response must equal the
//! expected JSON exactly (numbers by value), except that `error.message` is ignored where both have an
//! `error`; a case whose comments say `speconly` needs only a successful result (or, when the expected
//! response is an error, an error).

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    time::Duration,
};

use serde_json::Value;

/// One request/response exchange of a case.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request line, as sent.
    pub request: String,
    /// The expected response.
    pub expected: Value,
}

/// A `.io` case.
#[derive(Debug, Clone)]
pub struct Case {
    /// `METHOD/NAME`.
    pub name: String,
    /// Whether only the shape of the result is checked.
    pub spec_only: bool,
    /// The exchanges, in order.
    pub exchanges: Vec<Exchange>,
}

/// Why a case file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// Reading the file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The file does not follow the `.io` format.
    #[error("{path}:{line}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What was wrong.
        reason: String,
    },
}

/// Parses the text of a case file.
pub fn parse_case(name: &str, path: &Path, text: &str) -> Result<Case, CaseError> {
    let mut spec_only = false;
    let mut exchanges = Vec::new();
    let mut pending: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let format_error =
            |reason: String| CaseError::Format { path: path.to_owned(), line: index + 1, reason };
        let line = line.trim();
        if let Some(comment) = line.strip_prefix("//") {
            if comment.trim_start().starts_with("speconly") {
                spec_only = true;
            }
        } else if let Some(request) = line.strip_prefix(">>") {
            if pending.is_some() {
                return Err(format_error("two requests without a response".to_owned()));
            }
            pending = Some(request.trim().to_owned());
        } else if let Some(response) = line.strip_prefix("<<") {
            let request = pending
                .take()
                .ok_or_else(|| format_error("a response without a request".to_owned()))?;
            let expected = serde_json::from_str(response.trim())
                .map_err(|error| format_error(format!("response is not JSON: {error}")))?;
            exchanges.push(Exchange { request, expected });
        } else if !line.is_empty() {
            return Err(format_error(format!("unexpected line {line:?}")));
        }
    }
    Ok(Case { name: name.to_owned(), spec_only, exchanges })
}

/// Every case under `root` (`root/METHOD/NAME.io`), sorted by name.
pub fn load_cases(root: &Path) -> Result<Vec<Case>, CaseError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| CaseError::Io { path, source }
    };
    let mut cases = Vec::new();
    for method in std::fs::read_dir(root).map_err(io(root))? {
        let method = method.map_err(io(root))?.path();
        if !method.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&method).map_err(io(&method))? {
            let file = file.map_err(io(&method))?.path();
            if file.extension().is_none_or(|extension| extension != "io") {
                continue;
            }
            let text = std::fs::read_to_string(&file).map_err(io(&file))?;
            let name = format!(
                "{}/{}",
                method.file_name().unwrap_or_default().to_string_lossy(),
                file.file_stem().unwrap_or_default().to_string_lossy()
            );
            cases.push(parse_case(&name, &file, &text)?);
        }
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

/// Compares a response with the expected one as hive does; `None` when they match, else the difference.
pub fn compare(expected: &Value, got: &Value, spec_only: bool) -> Option<String> {
    let (Some(expected_object), Some(got_object)) = (expected.as_object(), got.as_object()) else {
        return Some(format!("response is not an object: {got}"));
    };
    let expected_error = expected_object.get("error");
    let got_error = got_object.get("error");
    match (expected_error, got_error) {
        (Some(expected_error), Some(got_error)) => {
            if spec_only {
                return None;
            }
            let mut expected_error = expected_error.clone();
            let mut got_error = got_error.clone();
            for error in [&mut expected_error, &mut got_error] {
                if let Some(object) = error.as_object_mut() {
                    object.remove("message");
                }
            }
            let mut expected = expected.clone();
            let mut got = got.clone();
            expected["error"] = expected_error;
            got["error"] = got_error;
            first_difference("", &expected, &got)
        }
        (Some(_), None) => Some(format!("expected an error, got {}", truncate(got))),
        (None, Some(error)) => Some(format!("expected a result, got error {error}")),
        (None, None) => {
            if spec_only {
                return match got_object.get("result") {
                    Some(_) => None,
                    None => Some("no result".to_owned()),
                };
            }
            first_difference("", expected, got)
        }
    }
}

/// The first path where `expected` and `got` differ, with both values.
fn first_difference(path: &str, expected: &Value, got: &Value) -> Option<String> {
    match (expected, got) {
        (Value::Object(expected), Value::Object(got)) => {
            let keys: std::collections::BTreeSet<&String> =
                expected.keys().chain(got.keys()).collect();
            for key in keys {
                let path = format!("{path}.{key}");
                match (expected.get(key), got.get(key)) {
                    (Some(e), Some(g)) => {
                        if let Some(difference) = first_difference(&path, e, g) {
                            return Some(difference);
                        }
                    }
                    (Some(e), None) => {
                        return Some(format!("{path}: missing, expected {}", truncate(e)));
                    }
                    (None, Some(g)) => return Some(format!("{path}: unexpected {}", truncate(g))),
                    (None, None) => {}
                }
            }
            None
        }
        (Value::Array(expected), Value::Array(got)) => {
            if expected.len() != got.len() {
                return Some(format!(
                    "{path}: {} elements, expected {}",
                    got.len(),
                    expected.len()
                ));
            }
            expected
                .iter()
                .zip(got)
                .enumerate()
                .find_map(|(index, (e, g))| first_difference(&format!("{path}[{index}]"), e, g))
        }
        (Value::Number(e), Value::Number(g)) => {
            let same = e == g || e.as_f64().zip(g.as_f64()).is_some_and(|(e, g)| e == g);
            (!same).then(|| format!("{path}: got {g}, expected {e}"))
        }
        (e, g) => {
            (e != g).then(|| format!("{path}: got {}, expected {}", truncate(g), truncate(e)))
        }
    }
}

fn truncate(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 200 { format!("{}…", &text[..200]) } else { text }
}

/// Sends one JSON-RPC request over HTTP/1.1 and returns the response body.
pub fn http_post(addr: SocketAddr, body: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("HTTP response without a header end"))?;
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    Ok(if chunked { dechunk(body) } else { body.to_owned() })
}

/// Joins the chunks of a chunked HTTP body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        let tail = &rest[size..];
        body = tail.strip_prefix("\r\n").unwrap_or(tail);
    }
    out
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    /// The case's name.
    pub name: String,
    /// `None` when it passed, else the first difference.
    pub failure: Option<String>,
}

/// Runs `case` against the server at `addr`.
pub fn run_case(addr: SocketAddr, case: &Case) -> CaseOutcome {
    for exchange in &case.exchanges {
        let failure = match http_post(addr, &exchange.request) {
            Err(error) => Some(format!("request failed: {error}")),
            Ok(body) => match serde_json::from_str::<Value>(&body) {
                Err(error) => Some(format!("response is not JSON ({error}): {body}")),
                Ok(got) => compare(&exchange.expected, &got, case.spec_only),
            },
        };
        if failure.is_some() {
            return CaseOutcome { name: case.name.clone(), failure };
        }
    }
    CaseOutcome { name: case.name.clone(), failure: None }
}

/// Cases expected to fail, each with its reason: `NAME  reason` per line, `#` comments. A name ending in
/// `/*` covers a whole method directory.
#[derive(Debug, Clone, Default)]
pub struct KnownFailures(BTreeMap<String, String>);

impl KnownFailures {
    /// Parses the list; a line without a reason is refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, reason) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("line {}: `{line}` has no reason", index + 1))?;
            entries.insert(name.to_owned(), reason.trim().to_owned());
        }
        Ok(Self(entries))
    }

    /// The reason `name` is expected to fail, if it is.
    pub fn reason(&self, name: &str) -> Option<&str> {
        if let Some(reason) = self.0.get(name) {
            return Some(reason);
        }
        let method = name.split('/').next().unwrap_or(name);
        self.0.get(&format!("{method}/*")).map(String::as_str)
    }
}

/// Counts of a run, per method group.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Passed cases.
    pub passed: usize,
    /// Failed cases that are not known failures (or known failures that passed).
    pub failed: usize,
    /// Known failures that failed.
    pub known: usize,
    /// Per method: (passed, failed, known).
    pub per_method: BTreeMap<String, (usize, usize, usize)>,
    /// A line per failure.
    pub failures: Vec<String>,
}

/// Runs every case, tallying them against the known failures.
pub fn run_all(addr: SocketAddr, cases: &[Case], known: &KnownFailures) -> Summary {
    let mut summary = Summary::default();
    for case in cases {
        let outcome = run_case(addr, case);
        let method = case.name.split('/').next().unwrap_or(&case.name).to_owned();
        let entry = summary.per_method.entry(method).or_default();
        match (outcome.failure, known.reason(&case.name)) {
            (None, None) => {
                summary.passed += 1;
                entry.0 += 1;
            }
            (None, Some(reason))
                if !case.name.ends_with("/*") && known.0.contains_key(&case.name) =>
            {
                summary.failed += 1;
                entry.1 += 1;
                summary.failures.push(format!(
                    "{}: passes but is listed as a known failure ({reason})",
                    case.name
                ));
            }
            (None, Some(_)) => {
                summary.passed += 1;
                entry.0 += 1;
            }
            (Some(failure), None) => {
                summary.failed += 1;
                entry.1 += 1;
                summary.failures.push(format!("{}: {failure}", case.name));
            }
            (Some(failure), Some(reason)) => {
                summary.known += 1;
                entry.2 += 1;
                summary.failures.push(format!("{} (known: {reason}): {failure}", case.name));
            }
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_messages_are_ignored_when_both_are_errors() {
        let expected = json!({"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"a"}});
        let got = json!({"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"b"}});
        assert_eq!(compare(&expected, &got, false), None);
        let other_code = json!({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"a"}});
        assert!(compare(&expected, &other_code, false).is_some());
    }

    #[test]
    fn results_must_match_exactly_unless_spec_only() {
        let expected = json!({"jsonrpc":"2.0","id":1,"result":{"a":"0x1","b":[1,2]}});
        let same = json!({"jsonrpc":"2.0","id":1,"result":{"b":[1.0,2],"a":"0x1"}});
        let different = json!({"jsonrpc":"2.0","id":1,"result":{"a":"0x2","b":[1,2]}});
        let extra = json!({"jsonrpc":"2.0","id":1,"result":{"a":"0x1","b":[1,2],"c":null}});
        assert_eq!(compare(&expected, &same, false), None);
        assert!(compare(&expected, &different, false).unwrap().contains(".result.a"));
        assert!(compare(&expected, &extra, false).unwrap().contains(".result.c"));
        assert_eq!(compare(&expected, &different, true), None);
        let error = json!({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}});
        assert!(compare(&expected, &error, true).is_some());
    }

    #[test]
    fn parses_cases_with_comments() {
        let text = "// a case\n// speconly: only the shape\n>> {\"id\":1}\n<< {\"id\":1,\"result\":true}\n";
        let case = parse_case("m/c", Path::new("m/c.io"), text).unwrap();
        assert!(case.spec_only);
        assert_eq!(case.exchanges.len(), 1);
        assert!(parse_case("m/c", Path::new("m/c.io"), "<< {}\n").is_err());
    }

    #[test]
    fn known_failures_need_reasons() {
        let known =
            KnownFailures::parse("# list\neth_simulateV1/*  not implemented\na/b  reason here\n")
                .unwrap();
        assert_eq!(known.reason("eth_simulateV1/x"), Some("not implemented"));
        assert_eq!(known.reason("a/b"), Some("reason here"));
        assert_eq!(known.reason("a/c"), None);
        assert!(KnownFailures::parse("a/b\n").is_err());
    }
}
