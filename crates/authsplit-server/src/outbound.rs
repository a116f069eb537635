//! Outbound HTTP to providers: one shared reqwest client (rustls, connection pool), redirects
//! never followed, connect and total timeouts, a response size cap, bounded concurrency per
//! provider, and a tracing span per call with no secrets. Nothing here retries: a request that
//! may have reached the provider is never re-sent (RFC 6749 §4.1.2; docs/SECURITY.md S8, S15).
//! A failed call is a
//! [`CallError`] whose variant says whether the request can have left this process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use authsplit_core::error::ResponseInfo;
use authsplit_core::{Error, ErrorClass, ErrorCode};
use tokio::sync::Semaphore;

use crate::config::{ConfigError, ServerConfig};

/// Which endpoint a call goes to (for logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndpointKind {
    Discovery,
    Jwks,
    Token,
    Refresh,
    Userinfo,
    Revocation,
    /// A provider API call through `/proxy/<id>/`.
    Api,
    /// The application's own API (`[upstream]`).
    Upstream,
}

impl EndpointKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Jwks => "jwks",
            Self::Token => "token",
            Self::Refresh => "refresh",
            Self::Userinfo => "userinfo",
            Self::Revocation => "revocation",
            Self::Api => "api",
            Self::Upstream => "upstream",
        }
    }
}

/// A fully read, size-capped response.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: bytes::Bytes,
    /// `Retry-After` in seconds, when sent as seconds (an HTTP date is converted; garbage is
    /// ignored).
    pub retry_after: Option<u64>,
}

impl Fetched {
    /// Log-safe information about this response.
    pub fn info(&self) -> ResponseInfo {
        ResponseInfo {
            status: self.status,
            content_type: self.content_type.clone(),
            snippet: authsplit_core::token::redact_snippet(&self.body),
        }
    }
}

/// The shared client.
#[derive(Clone, Debug)]
pub(crate) struct Outbound {
    client: reqwest::Client,
    max_bytes: usize,
    total: Duration,
}

/// Seconds an idle pooled connection to a provider is kept before it is closed by us.
const POOL_IDLE_SECS: u64 = 4;

impl Outbound {
    /// The client uses `crypto` for TLS (certificates checked by the platform verifier);
    /// no process-wide default is installed.
    pub fn new(
        server: &ServerConfig,
        crypto: std::sync::Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Self, ConfigError> {
        use rustls_platform_verifier::BuilderVerifierExt as _;
        let tls = rustls::ClientConfig::builder_with_provider(crypto)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_platform_verifier())
            .map_err(|e| crate::config::cfg_err(format!("could not set up TLS: {e}")))?
            .with_no_client_auth();
        let total = Duration::from_millis(server.request_timeout_ms.max(1));
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(server.connect_timeout_ms.max(1)))
            // No client-wide `timeout`: every request goes through `send`, whose deadline
            // (`total`, from before the slot is taken) covers sending and reading the body; a
            // second timer per request would only fire later.
            .user_agent(concat!("authsplit-server/", env!("CARGO_PKG_VERSION")))
            // Shorter than common servers' keep-alive timeouts (Node and Apache: 5 s): a pooled
            // connection the provider is closing at the same moment makes the request fail
            // after it may have been sent, and a code exchange is never retried. Under load
            // connections never idle that long, so this costs a handshake only when quiet.
            .pool_idle_timeout(Duration::from_secs(POOL_IDLE_SECS))
            .build()
            .map_err(|e| crate::config::cfg_err(format!("could not build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            max_bytes: server.max_response_bytes,
            total,
        })
    }

    /// The total timeout of one call; also the deadline of a whole code exchange.
    pub fn total_timeout(&self) -> Duration {
        self.total
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends one request (never retried), reads at most `max_bytes` of the body.
    pub async fn send(
        &self,
        provider: &str,
        kind: EndpointKind,
        permits: &Arc<Semaphore>,
        req: reqwest::RequestBuilder,
    ) -> Result<Fetched, CallError> {
        let span = tracing::info_span!("outbound", provider, endpoint = kind.as_str());
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.total;
        // A request that only gets a slot when (almost) no time is left is not sent at all:
        // it could only be abandoned after reaching the provider (and burn a code).
        let min_send = (self.total / 4)
            .max(Duration::from_millis(250))
            .min(self.total / 2);
        // A free slot is taken without a timer; only a wait for one is bounded by a timer.
        let permit = match permits.try_acquire() {
            Ok(p) => Ok(p),
            Err(_) => match tokio::time::timeout_at(deadline - min_send, permits.acquire()).await {
                Err(_) => Err(CallError::NotSent(Error::new(
                    ErrorCode::ProviderTimeout,
                    "too many requests to this provider in flight; the request was not sent",
                ))),
                Ok(Err(_)) => Err(CallError::NotSent(Error::new(
                    ErrorCode::Internal,
                    "outbound limiter closed",
                ))),
                Ok(Ok(p)) => Ok(p),
            },
        };
        let res = match permit {
            Err(e) => Err(e),
            Ok(_permit) => tokio::time::timeout_at(deadline, async {
                let resp = req.send().await.map_err(map_reqwest_error)?;
                read_capped(resp, self.max_bytes).await
            })
            .await
            .unwrap_or_else(|_| Err(CallError::Failed(timeout_error()))),
        };
        let latency_ms = started.elapsed().as_millis() as u64;
        let _g = span.enter();
        match &res {
            Ok(f) => tracing::info!(
                status = f.status,
                latency_ms,
                outcome = "response",
                "outbound call"
            ),
            Err(e) => tracing::warn!(
                latency_ms,
                outcome = e.inner().code().as_str(),
                sent = e.may_have_arrived(),
                "outbound call failed"
            ),
        }
        res
    }
}

/// A failed call toward a provider, typed by how far the request got. Callers decide by the
/// variant alone whether the attempt counts as made (a code exchange that never left keeps its
/// transaction usable — RFC 6749 §4.1.2, docs/SECURITY.md S8: a code is used once, so only a
/// request that provably never reached the provider may be tried again); the wrapped error is
/// what the browser sees.
#[derive(Clone, Debug)]
pub(crate) enum CallError<E = Error> {
    /// No slot toward the provider in time (or the limiter is gone): nothing was sent.
    NotSent(E),
    /// The connection could not be established (refused, DNS, TLS handshake): no byte of the
    /// request was written.
    NotConnected(E),
    /// The request may have reached the provider: a timeout or reset after sending, or an
    /// answer that is an error or unreadable.
    Failed(E),
}

impl<E> CallError<E> {
    /// Whether the request may have reached the provider.
    pub fn may_have_arrived(&self) -> bool {
        matches!(self, Self::Failed(_))
    }

    /// The error, whatever the variant.
    pub fn into_inner(self) -> E {
        match self {
            Self::NotSent(e) | Self::NotConnected(e) | Self::Failed(e) => e,
        }
    }

    /// The error, whatever the variant.
    pub fn inner(&self) -> &E {
        match self {
            Self::NotSent(e) | Self::NotConnected(e) | Self::Failed(e) => e,
        }
    }

    /// The same variant around `f(error)`.
    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> CallError<F> {
        match self {
            Self::NotSent(e) => CallError::NotSent(f(e)),
            Self::NotConnected(e) => CallError::NotConnected(f(e)),
            Self::Failed(e) => CallError::Failed(f(e)),
        }
    }
}

impl CallError<Error> {
    /// The error of a call made after the authorization code went out (JWKS, QQ's openid step,
    /// userinfo): the sign-in is over whatever the variant, so the message no longer says
    /// that a request "was not sent".
    pub fn after_code_sent(self) -> Error {
        match self {
            Self::NotSent(_) => timeout_error(),
            Self::NotConnected(_) => Error::new(
                ErrorCode::ProviderUnreachable,
                "could not connect to the provider (after the code was redeemed)",
            ),
            Self::Failed(e) => e,
        }
    }
}

impl From<CallError<Error>> for Error {
    fn from(e: CallError<Error>) -> Self {
        e.into_inner()
    }
}

impl From<CallError<Error>> for crate::error::ApiError {
    fn from(e: CallError<Error>) -> Self {
        e.into_inner().into()
    }
}

fn timeout_error() -> Error {
    Error::new(
        ErrorCode::ProviderTimeout,
        "the provider did not answer in time",
    )
}

/// Maps a transport error: timeout → `provider_timeout`; connect refused / DNS / TLS →
/// `provider_unreachable`, [`CallError::NotConnected`]; reset or a cut-off body →
/// `provider_unreachable`, [`CallError::Failed`]. The reqwest message is not included (it can
/// hold a URL).
pub(crate) fn map_reqwest_error(e: reqwest::Error) -> CallError {
    if e.is_timeout() {
        CallError::Failed(timeout_error())
    } else if e.is_connect() {
        // Connecting (TCP, TLS) failed before any byte of the request was written.
        CallError::NotConnected(Error::new(
            ErrorCode::ProviderUnreachable,
            "could not connect to the provider",
        ))
    } else if e.is_body() || e.is_decode() {
        CallError::Failed(
            Error::new(
                ErrorCode::ProviderUnreachable,
                "the provider's response was cut off",
            )
            .with_class(ErrorClass::Retryable),
        )
    } else {
        CallError::Failed(Error::new(
            ErrorCode::ProviderUnreachable,
            "the connection to the provider failed",
        ))
    }
}

async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Fetched, CallError> {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let too_big = || {
        Error::new(
            ErrorCode::ProviderBadResponse,
            "the provider's response is too large",
        )
        .with_response(ResponseInfo {
            status,
            content_type: content_type.clone(),
            snippet: String::new(),
        })
    };
    if resp.content_length().is_some_and(|l| l > max as u64) {
        return Err(CallError::Failed(too_big()));
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(map_reqwest_error)? {
        if buf.len() + chunk.len() > max {
            return Err(CallError::Failed(too_big()));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        status,
        content_type,
        body: buf.freeze(),
        retry_after,
    })
}

/// `Retry-After`: delay-seconds or an HTTP date; anything else is ignored (capped at 1 h).
pub(crate) fn parse_retry_after(v: &str) -> Option<u64> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(s.min(3600));
    }
    let when =
        time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let now = time::OffsetDateTime::now_utc();
    let secs = (when - now).whole_seconds();
    Some(secs.clamp(0, 3600) as u64)
}

/// Replaces every occurrence of a known secret (and its form-urlencoded and percent-encoded
/// forms) in the provider-supplied parts of an error (`error_description`, `error_uri`, the
/// response snippet) with `[redacted]` — for providers that echo the request back.
pub(crate) fn scrub(mut e: Error, secrets: &[String]) -> Error {
    let mut needles: Vec<String> = Vec::new();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        needles.push(s.clone());
        needles.push(url::form_urlencoded::byte_serialize(s.as_bytes()).collect());
        needles.push(s.replace(' ', "%20"));
        // As it appears inside a JSON string: escaped quotes/backslashes, and the optional
        // escapes of "/" (`\/`, PHP style) and `\u002f`.
        let json = serde_json::to_string(s).unwrap_or_default();
        let json = json.trim_matches('"').to_owned();
        needles.push(json.replace('/', "\\/"));
        needles.push(json.replace('/', "\\u002f"));
        needles.push(json.replace('/', "\\u002F"));
        needles.push(json);
    }
    // Longest first, so a secret is not partly replaced through one of its substrings.
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    needles.dedup();
    let clean = |text: &mut String| {
        for n in &needles {
            if text.contains(n.as_str()) {
                *text = text.replace(n.as_str(), "[redacted]");
            }
        }
    };
    if let Some(pe) = e.provider_error.as_mut() {
        if let Some(d) = pe.error_description.as_mut() {
            clean(d);
        }
        if let Some(u) = pe.error_uri.as_mut() {
            clean(u);
        }
    }
    if let Some(r) = e.response.as_mut() {
        clean(&mut r.snippet);
    }
    let mut m = e.message.to_string();
    let before = m.clone();
    clean(&mut m);
    if m != before {
        e.message = m.into();
    }
    e
}

/// Turns a non-2xx/unexpected response from a non-token endpoint into a typed error.
pub(crate) fn unexpected(what: &'static str, f: &Fetched) -> Error {
    let code = match f.status {
        429 | 503 => ErrorCode::ProviderUnavailable,
        _ => ErrorCode::ProviderBadResponse,
    };
    let mut e = Error::new(code, what).with_response(f.info());
    if let Some(pe) = authsplit_core::token::parse_error_body(&f.body) {
        e = e.with_provider_error(pe);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    // docs/SECURITY.md S14: echoed secrets are removed in every encoding a provider may use.
    #[test]
    fn scrub_covers_plain_form_and_json_escaped_forms() {
        let secret = "a+b:c%d/e f".to_owned();
        for text in [
            "echo a+b:c%d/e f",
            "echo a%2Bb%3Ac%25d%2Fe+f",
            "echo a+b:c%d\\/e f",
            "echo a+b:c%d\\u002fe f",
        ] {
            let mut e = Error::new(ErrorCode::ProviderError, "x").with_response(ResponseInfo {
                status: 400,
                content_type: None,
                snippet: text.to_owned(),
            });
            e = scrub(e, std::slice::from_ref(&secret));
            let snippet = &e.response().map(|r| r.snippet.clone()).unwrap_or_default();
            assert_eq!(snippet, "echo [redacted]", "{text}");
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(120));
        assert_eq!(parse_retry_after("999999"), Some(3600));
        assert_eq!(parse_retry_after("garbage"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(0));
    }
}
