//! Requests the way the browser half sends them, driven in process through the backend's
//! router (`tower::ServiceExt::oneshot`), and what comes back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use authsplit_server::{Authsplit, ClientAuth, Config, ProviderConfig};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::stub::Stub;
use crate::{CHALLENGE, CLIENT_ID, CODE, NONCE, ORIGIN, SECRET, STATE, VERIFIER};

/// A plain OAuth 2.0 provider (explicit endpoints) pointing at the stub.
pub fn stub_provider(stub: &Stub, auth: ClientAuth) -> ProviderConfig {
    ProviderConfig::oauth2(
        &stub.url("/authorize"),
        &stub.url("/token"),
        CLIENT_ID,
        SECRET,
        "https://app.example/callback",
    )
    .name("Stub")
    .client_auth(auth)
    .scopes(&["profile"])
    .userinfo_endpoint(&stub.url("/userinfo"))
    .revocation_endpoint(&stub.url("/revoke"))
    .end_session_endpoint(&stub.url("/logout"))
}

/// Providers `stub` (`client_secret_basic`) and `stubpost` (`client_secret_post`) on the stub.
pub fn base_config(stub: &Stub) -> Config {
    Config::builder()
        .cookie_key_bytes(&[42u8; 64])
        .allowed_origin(ORIGIN)
        .provider("stub", stub_provider(stub, ClientAuth::Basic))
        .provider("stubpost", stub_provider(stub, ClientAuth::Post))
        .build()
}

/// A settable clock (unix seconds).
#[derive(Clone)]
pub struct TestClock(pub Arc<AtomicU64>);

impl Default for TestClock {
    fn default() -> Self {
        Self::new()
    }
}

impl TestClock {
    /// Starts at 1 800 000 000.
    pub fn new() -> Self {
        Self(Arc::new(AtomicU64::new(1_800_000_000)))
    }
    /// Moves the clock forward.
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    /// The current time.
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The app as the binary mounts it: router at `/auth`, demo API at `/api`.
pub fn app_with(config: Config, clock: Option<&TestClock>) -> Router {
    let mut b = Authsplit::builder(config);
    if let Some(c) = clock {
        let c = c.0.clone();
        b = b.clock(Arc::new(move || c.load(Ordering::SeqCst)));
    }
    let auth = b.build().unwrap();
    Router::new()
        .nest("/auth", auth.router())
        .nest("/api", auth.demo_api_router())
}

/// A POST with the CSRF header, the allowed Origin and JSON content type.
pub fn post(path: &str, body: &Value, cookie: Option<&str>) -> Request<Body> {
    post_raw(path, body.to_string(), cookie, &[])
}

/// [`post`] with any body and header changes: `(name, Some(value))` replaces or adds a header,
/// `(name, None)` removes it.
pub fn post_raw(
    path: &str,
    body: String,
    cookie: Option<&str>,
    overrides: &[(&str, Option<&str>)],
) -> Request<Body> {
    post_bytes(
        path,
        body.into_bytes(),
        cookie.map(str::as_bytes),
        overrides,
    )
}

/// The one request builder: a POST the way the browser half sends it, with any body bytes and
/// any cookie bytes (a cookie that is not a valid header value is left out).
pub fn post_bytes(
    path: &str,
    body: Vec<u8>,
    cookie: Option<&[u8]>,
    overrides: &[(&str, Option<&str>)],
) -> Request<Body> {
    let mut h: Vec<(String, HeaderValue)> = vec![
        (
            "content-type".into(),
            HeaderValue::from_static("application/json"),
        ),
        ("x-authsplit".into(), HeaderValue::from_static("1")),
        ("origin".into(), HeaderValue::from_static(ORIGIN)),
        ("host".into(), HeaderValue::from_static("api.example")),
    ];
    if let Some(c) = cookie
        && let Ok(v) = HeaderValue::from_bytes(c)
    {
        h.push(("cookie".into(), v));
    }
    for (k, v) in overrides {
        h.retain(|(n, _)| n != k);
        if let Some(v) = v {
            h.push(((*k).into(), HeaderValue::from_str(v).unwrap()));
        }
    }
    let mut b = Request::builder().method("POST").uri(path);
    for (k, v) in h {
        b = b.header(k, v);
    }
    b.body(Body::from(body)).unwrap()
}

/// A decoded response.
#[derive(Debug)]
pub struct Resp {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Vec<u8>,
    /// The body as text (lossy).
    pub text: String,
    /// The body as JSON (`null` if it is not JSON).
    pub json: Value,
}

impl Resp {
    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
    /// `name=value` pairs of the cookies set (not removed) by this response.
    pub fn cookie_header(&self) -> String {
        self.set_cookies()
            .iter()
            .filter(|c| !c.contains("Max-Age=0"))
            .map(|c| c.split(';').next().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ")
    }
    /// The `error` member of a JSON error body (empty if none).
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
    /// One header, if it is text.
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.to_str().ok())
    }
    /// Every header and the body as bytes, for leak searches.
    pub fn everything(&self) -> Vec<u8> {
        let mut all = self.body.clone();
        for (k, v) in &self.headers {
            all.extend_from_slice(k.as_str().as_bytes());
            all.push(b':');
            all.extend_from_slice(v.as_bytes());
            all.push(b'\n');
        }
        all
    }
}

/// Sends one request through the router and reads the whole response.
pub async fn send(app: &Router, req: Request<Body>) -> Resp {
    let resp: Response<Body> = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .unwrap()
        .to_vec();
    let text = String::from_utf8_lossy(&body).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        text,
        json,
    }
}

/// A `POST /transactions` body for `provider` with [`STATE`].
pub fn tx_body(provider: &str) -> Value {
    tx_body_with(provider, STATE)
}

/// A `POST /transactions` body for `provider` and `state` (S256 [`CHALLENGE`], [`NONCE`]).
pub fn tx_body_with(provider: &str, state: &str) -> Value {
    json!({"provider": provider, "state": state, "code_challenge": CHALLENGE,
           "code_challenge_method": "S256", "nonce": NONCE})
}

/// A `POST /token` body for `provider` with [`CODE`] and [`STATE`].
pub fn token_body(provider: &str) -> Value {
    token_body_with(provider, STATE, CODE)
}

/// A `POST /token` body for `provider`, `state` and `code` ([`VERIFIER`]).
pub fn token_body_with(provider: &str, state: &str, code: &str) -> Value {
    json!({"provider": provider, "code": code, "state": state, "code_verifier": VERIFIER})
}

/// Registers a transaction; returns the cookie header to send back.
pub async fn register(app: &Router, provider: &str) -> String {
    let r = send(app, post("/auth/transactions", &tx_body(provider), None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.cookie_header()
}

/// A whole sign-in against `provider`: registers a transaction, then redeems [`CODE`] with its
/// cookie; returns the `/token` response.
pub async fn exchange(app: &Router, provider: &str) -> Resp {
    let cookie = register(app, provider).await;
    send(
        app,
        post("/auth/token", &token_body(provider), Some(&cookie)),
    )
    .await
}

/// Asserts the JSON error body shape and code.
pub fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "status of {}", r.text);
    assert_eq!(r.error(), code, "{}", r.text);
    assert!(r.json["error_description"].is_string(), "{}", r.text);
    assert!(r.json["class"].is_string(), "{}", r.text);
}

/// Standard base64 of `s`.
pub fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The transaction cookie name of the sign-in with `state` (`__Host-authsplit-tx-` + the first
/// 16 hex digits of SHA-256(state)).
pub fn tx_cookie_name(state: &str) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(state.as_bytes());
    let hex: String = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("__Host-authsplit-tx-{hex}")
}

/// A minimal cookie jar (name → value) fed with `Set-Cookie` headers.
#[derive(Default, Debug, Clone)]
pub struct Jar(pub std::collections::BTreeMap<String, String>);

impl Jar {
    /// Takes the cookies a response sets and removes those it clears.
    pub fn apply(&mut self, r: &Resp) {
        for c in r.set_cookies() {
            let pair = c.split(';').next().unwrap();
            let (n, v) = pair.split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.0.remove(n);
            } else {
                self.0.insert(n.to_owned(), v.to_owned());
            }
        }
    }
    /// The `Cookie` header.
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    /// The names of the transaction cookies held.
    pub fn tx_names(&self) -> Vec<String> {
        self.0
            .keys()
            .filter(|k| k.starts_with("__Host-authsplit-tx-"))
            .cloned()
            .collect()
    }
}

/// The `authorization_url` of a `POST /transactions` reply, taken apart: the endpoint (up to
/// `?`), the form-decoded query parameters in order, and the fragment.
#[derive(Debug)]
pub struct AuthUrl {
    /// Everything before `?`.
    pub endpoint: String,
    /// The query parameters, decoded, in order.
    pub params: Vec<(String, String)>,
    /// The fragment, if any.
    pub fragment: Option<String>,
}

impl AuthUrl {
    /// Takes apart the `authorization_url` of a reply (panics when there is none).
    pub fn of(r: &Resp) -> Self {
        let url = r.json["authorization_url"]
            .as_str()
            .unwrap_or_else(|| panic!("no authorization_url: {}", r.text));
        let (rest, fragment) = match url.split_once('#') {
            Some((rest, f)) => (rest, Some(f.to_owned())),
            None => (url, None),
        };
        let (endpoint, query) = rest.split_once('?').unwrap_or((rest, ""));
        let params = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        Self {
            endpoint: endpoint.to_owned(),
            params,
            fragment,
        }
    }

    /// The one value of parameter `name` (panics when it appears more than once).
    pub fn get(&self, name: &str) -> Option<&str> {
        let mut values = self.params.iter().filter(|(n, _)| n == name);
        let first = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "{name} twice in {:?}", self.params);
        first
    }

    /// The parameter names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.params.iter().map(|(n, _)| n.as_str()).collect()
    }
}
