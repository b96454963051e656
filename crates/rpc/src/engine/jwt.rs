//! JWT authentication of the Engine API (`authentication.md`): HS256 with a 32-byte shared secret, the `iat`
//! claim within ±60 s of now; every HTTP request, and the WebSocket upgrade request, carries
//! `Authorization: Bearer <token>`. Anything else gets HTTP 401 before jsonrpsee sees the request.
//!
//! Token checks are alloy-rpc-types-engine's [`JwtSecret::validate`] (jsonwebtoken underneath: the algorithm
//! must be HS256, so `none` is refused; unknown claims are ignored).

use std::{
    fs,
    future::Future,
    io::Write,
    path::{Path, PathBuf},
    pin::Pin,
    task::{Context, Poll},
};

use alloy_rpc_types_engine::JwtSecret;
use balnode_primitives::hex;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use tower::{Layer, Service};

/// Why the JWT secret could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// The file exists but cannot be read.
    #[error("cannot read the JWT secret {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold 32 bytes of hex.
    #[error(
        "the JWT secret {path} is not 32 bytes of hex (64 hex digits, optionally 0x-prefixed): {reason}"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The file does not exist and could not be created.
    #[error("cannot write a new JWT secret to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// The secret in `path` (64 hex digits, optionally `0x`-prefixed, surrounding whitespace ignored); when the
/// file does not exist, a random secret written there as hex, readable by its owner only (0600), with its
/// directory created.
pub fn load_or_create_jwt_secret(path: &Path) -> Result<JwtSecret, JwtError> {
    match fs::read_to_string(path) {
        Ok(text) => JwtSecret::from_hex(text.trim()).map_err(|error| JwtError::Malformed {
            path: path.to_owned(),
            reason: error.to_string(),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let secret = JwtSecret::random();
            write_secret(path, &secret)
                .map_err(|source| JwtError::Write { path: path.to_owned(), source })?;
            tracing::info!(target: "rpc::engine", path = %path.display(), "Wrote a new JWT secret");
            Ok(secret)
        }
        Err(source) => Err(JwtError::Read { path: path.to_owned(), source }),
    }
}

fn write_secret(path: &Path, secret: &JwtSecret) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(hex::encode(secret.as_bytes()).as_bytes())?;
    file.sync_all()
}

/// The tower layer that refuses, with HTTP 401, every request without a valid `Authorization: Bearer` JWT.
#[derive(Debug, Clone)]
pub struct JwtAuthLayer {
    secret: JwtSecret,
}

impl JwtAuthLayer {
    /// Checks tokens against `secret`.
    pub const fn new(secret: JwtSecret) -> Self {
        Self { secret }
    }
}

impl<S> Layer<S> for JwtAuthLayer {
    type Service = JwtAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth { inner, secret: self.secret }
    }
}

/// The service of [`JwtAuthLayer`].
#[derive(Debug, Clone)]
pub struct JwtAuth<S> {
    inner: S,
    secret: JwtSecret,
}

impl<S> JwtAuth<S> {
    /// `Ok` when the request's `Authorization` header carries a valid token, else why not.
    fn authenticate<B>(&self, request: &HttpRequest<B>) -> Result<(), String> {
        let header = request
            .headers()
            .get("authorization")
            .ok_or_else(|| "missing Authorization header".to_owned())?;
        let header = header.to_str().map_err(|_| "malformed Authorization header".to_owned())?;
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| "the Authorization header is not `Bearer <token>`".to_owned())?;
        self.secret.validate(token).map_err(|error| error.to_string())
    }
}

impl<S, B> Service<HttpRequest<B>> for JwtAuth<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse<HttpBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        match self.authenticate(&request) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(reason) => {
                tracing::debug!(target: "rpc::engine", %reason, "Refused an unauthenticated request");
                let response = HttpResponse::builder()
                    .status(401)
                    .header("content-type", "text/plain")
                    .body(HttpBody::from(format!("401 Unauthorized: {reason}\n")))
                    .expect("a static status and header make a valid response");
                Box::pin(std::future::ready(Ok(response)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_secret_is_created_private_and_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("jwt.hex");
        let created = load_or_create_jwt_secret(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 64, "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(load_or_create_jwt_secret(&path).unwrap(), created);
    }

    #[test]
    fn a_prefixed_secret_with_a_newline_is_read_and_a_short_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.hex");
        fs::write(&path, format!("0x{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(load_or_create_jwt_secret(&path).unwrap().as_bytes(), &[0xab; 32]);
        fs::write(&path, "abcd").unwrap();
        let error = load_or_create_jwt_secret(&path).unwrap_err();
        assert!(matches!(error, JwtError::Malformed { .. }), "{error}");
    }
}
