//! Test support: a counting stub provider on 127.0.0.1:0 (real HTTP; only the provider is
//! faked, for fault injection and call counting) and request helpers for `oneshot`.

#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authsplit_server::{Authsplit, ClientAuth, Config, ProviderConfig};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use axum::response::IntoResponse;
use base64::Engine as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub mod oidc;

pub const ORIGIN: &str = "https://app.example";
pub const FOREIGN: &str = "https://evil.example";
/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const STATE: &str = "st-0123456789abcdefghijklmnopqrstuvwxyzABCDE";
pub const NONCE: &str = "nonce-0123456789abcdefghijklmnopqrstuvwxyzAB";
pub const CLIENT_ID: &str = "my client";
/// REFERENCE §3.4: a secret full of form-encoding specials.
pub const SECRET: &str = "a+b:c%d/e f";
pub const CODE: &str = "code-abc.DEF_123~xyz";
pub const REFRESH_TOKEN: &str = "rt-1-SECRET-REFRESH-TOKEN-zzzzzzzz";
pub const REFRESH_TOKEN_2: &str = "rt-2-SECRET-REFRESH-TOKEN-yyyyyyyy";
pub const ACCESS_TOKEN: &str = "at-1-ACCESS-TOKEN-xxxxxxxxxxxxxxx";

/// One request the stub received.
#[derive(Clone, Debug)]
pub struct Call {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Call {
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
    pub fn form_get(&self, k: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v)
    }
    pub fn header(&self, k: &str) -> Option<String> {
        self.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// A scripted reply.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub extra: Vec<(&'static str, String)>,
    pub delay_ms: u64,
}

impl Reply {
    pub fn json(status: u16, v: Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: v.to_string(),
            extra: Vec::new(),
            delay_ms: 0,
        }
    }
}

#[derive(Default)]
pub struct StubInner {
    pub calls: Mutex<Vec<Call>>,
    pub token_replies: Mutex<Vec<Reply>>,
    pub userinfo: Mutex<Option<Reply>>,
    pub revoke: Mutex<Option<Reply>>,
    pub discovery: Mutex<Option<Value>>,
    pub jwks: Mutex<Option<Value>>,
    pub token_count: AtomicU64,
}

/// The stub provider.
#[derive(Clone)]
pub struct Stub {
    pub base: String,
    pub inner: Arc<StubInner>,
}

impl Stub {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener).await
    }
    /// The stub on a given listener (e.g. a port that refused connections before).
    pub async fn start_on(listener: tokio::net::TcpListener) -> Self {
        let inner = Arc::new(StubInner::default());
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(handle).with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, inner }
    }
    pub fn url(&self, p: &str) -> String {
        format!("{}{}", self.base, p)
    }
    /// Queues the next token endpoint reply (default: a bearer token + refresh token).
    pub fn push_token(&self, r: Reply) {
        self.inner.token_replies.lock().unwrap().push(r);
    }
    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }
    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path == path)
            .collect()
    }
    pub fn token_calls(&self) -> usize {
        self.calls_to("/token").len()
    }
}

pub fn default_token_reply() -> Reply {
    Reply::json(
        200,
        json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600,
               "refresh_token": REFRESH_TOKEN, "scope": "profile"}),
    )
}

async fn handle(State(s): State<Arc<StubInner>>, req: Request<Body>) -> axum::response::Response {
    let path = req.uri().path().to_owned();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    s.calls.lock().unwrap().push(Call {
        path: path.clone(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let reply = match path.as_str() {
        "/token" => {
            s.token_count.fetch_add(1, Ordering::SeqCst);
            let mut q = s.token_replies.lock().unwrap();
            if q.is_empty() {
                default_token_reply()
            } else {
                q.remove(0)
            }
        }
        "/userinfo" => s.userinfo.lock().unwrap().clone().unwrap_or_else(|| {
            Reply::json(
                200,
                json!({"sub": "user-1", "name": "Ada", "email": "ada@example.com",
                "email_verified": true, "picture": "https://img.example/ada.png"}),
            )
        }),
        "/revoke" => s.revoke.lock().unwrap().clone().unwrap_or(Reply {
            status: 200,
            content_type: "text/plain",
            body: String::new(),
            extra: Vec::new(),
            delay_ms: 0,
        }),
        "/.well-known/openid-configuration" => match s.discovery.lock().unwrap().clone() {
            Some(v) => Reply::json(200, v),
            None => Reply::json(404, json!({})),
        },
        "/jwks" => match s.jwks.lock().unwrap().clone() {
            Some(v) => Reply::json(200, v),
            None => Reply::json(404, json!({})),
        },
        _ => Reply::json(404, json!({"error": "not_found"})),
    };
    if reply.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(reply.delay_ms)).await;
    }
    let mut resp = (
        StatusCode::from_u16(reply.status).unwrap(),
        [("content-type", reply.content_type)],
        reply.body,
    )
        .into_response();
    for (k, v) in reply.extra {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

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

pub fn base_config(stub: &Stub) -> Config {
    Config::builder()
        .cookie_key_bytes(&[42u8; 64])
        .allowed_origin(ORIGIN)
        .provider("stub", stub_provider(stub, ClientAuth::ClientSecretBasic))
        .provider(
            "stubpost",
            stub_provider(stub, ClientAuth::ClientSecretPost),
        )
        .build()
}

/// A settable clock (unix seconds).
#[derive(Clone)]
pub struct TestClock(pub Arc<AtomicU64>);

impl TestClock {
    pub fn new() -> Self {
        Self(Arc::new(AtomicU64::new(1_800_000_000)))
    }
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The app as the binary mounts it: router at `/auth`.
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

pub fn post_raw(
    path: &str,
    body: String,
    cookie: Option<&str>,
    overrides: &[(&str, Option<&str>)],
) -> Request<Body> {
    let mut h: Vec<(String, String)> = vec![
        ("content-type".into(), "application/json".into()),
        ("x-authsplit".into(), "1".into()),
        ("origin".into(), ORIGIN.into()),
        ("host".into(), "api.example".into()),
    ];
    if let Some(c) = cookie {
        h.push(("cookie".into(), c.into()));
    }
    for (k, v) in overrides {
        h.retain(|(n, _)| n != k);
        if let Some(v) = v {
            h.push(((*k).into(), (*v).into()));
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
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
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
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> Resp {
    let resp: Response<Body> = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        json,
    }
}

pub fn tx_body(provider: &str) -> Value {
    json!({"provider": provider, "state": STATE, "code_challenge": CHALLENGE,
           "code_challenge_method": "S256", "nonce": NONCE})
}

pub fn token_body(provider: &str) -> Value {
    json!({"provider": provider, "code": CODE, "state": STATE, "code_verifier": VERIFIER})
}

/// Registers a transaction; returns the cookie header to send back.
pub async fn register(app: &Router, provider: &str) -> String {
    let r = send(app, post("/auth/transactions", &tx_body(provider), None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.cookie_header()
}

/// Asserts the JSON error body shape and code.
pub fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "status of {}", r.text);
    assert_eq!(r.error(), code, "{}", r.text);
    assert!(r.json["error_description"].is_string(), "{}", r.text);
    assert!(r.json["class"].is_string(), "{}", r.text);
}

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
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
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
    pub endpoint: String,
    pub params: Vec<(String, String)>,
    pub fragment: Option<String>,
}

impl AuthUrl {
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
