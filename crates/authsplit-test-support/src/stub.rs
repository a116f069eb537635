//! The stub provider: real HTTP on 127.0.0.1 (only the provider is faked), for fault injection
//! and call counting.
//!
//! Replies, in this order: a reply set for the exact path with [`Stub::on`]; then the plain
//! provider's endpoints — `/token` (queued replies, else [`default_token_reply`]),
//! `/userinfo`, `/revoke`, `/.well-known/openid-configuration`, `/jwks`; anything else 404.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::{ACCESS_TOKEN, REFRESH_TOKEN};

/// One request the stub received.
#[derive(Clone, Debug)]
pub struct Call {
    /// HTTP method.
    pub method: String,
    /// Path (no query).
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Request headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub body: String,
}

impl Call {
    /// The body as form parameters, decoded, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
    /// One form parameter of the body.
    pub fn form_get(&self, k: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v)
    }
    /// One query parameter.
    pub fn q(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
    /// One header, if it is text.
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.to_str().ok())
    }
}

/// A scripted reply.
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
    /// More headers.
    pub extra: Vec<(&'static str, String)>,
    /// Wait this long before answering.
    pub delay_ms: u64,
}

impl Reply {
    /// A reply with any content type.
    pub fn new(status: u16, content_type: &'static str, body: &str) -> Self {
        Self {
            status,
            content_type,
            body: body.to_owned(),
            extra: Vec::new(),
            delay_ms: 0,
        }
    }
    /// A JSON reply.
    pub fn json(status: u16, v: Value) -> Self {
        Self::new(status, "application/json", &v.to_string())
    }
}

/// What the stub shares with its handler.
#[derive(Default)]
pub struct StubInner {
    /// Every request, in order.
    pub calls: Mutex<Vec<Call>>,
    /// Replies for exact paths ([`Stub::on`]).
    pub replies: Mutex<HashMap<String, Reply>>,
    /// Queued `/token` replies.
    pub token_replies: Mutex<Vec<Reply>>,
    /// The `/userinfo` reply (default: a profile of `user-1`).
    pub userinfo: Mutex<Option<Reply>>,
    /// The `/revoke` reply (default: 200, empty).
    pub revoke: Mutex<Option<Reply>>,
    /// The discovery document (default: 404).
    pub discovery: Mutex<Option<Value>>,
    /// The JWKS (default: 404).
    pub jwks: Mutex<Option<Value>>,
    /// `/token` requests so far.
    pub token_count: AtomicU64,
}

/// The stub provider.
#[derive(Clone)]
pub struct Stub {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Shared state.
    pub inner: Arc<StubInner>,
}

impl Stub {
    /// Starts the stub on a free port.
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
    /// `base` + `p`.
    pub fn url(&self, p: &str) -> String {
        format!("{}{}", self.base, p)
    }
    /// Answers every request to `path` with this reply.
    pub fn on(&self, path: &str, status: u16, content_type: &'static str, body: &str) {
        self.inner
            .replies
            .lock()
            .unwrap()
            .insert(path.to_owned(), Reply::new(status, content_type, body));
    }
    /// Queues the next token endpoint reply (default: a bearer token + refresh token).
    pub fn push_token(&self, r: Reply) {
        self.inner.token_replies.lock().unwrap().push(r);
    }
    /// Every request so far.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }
    /// The requests to one path.
    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path == path)
            .collect()
    }
    /// How many requests reached `/token`.
    pub fn token_calls(&self) -> usize {
        self.calls_to("/token").len()
    }
}

/// The default token response: a bearer token, one hour, a refresh token, scope `profile`.
pub fn default_token_reply() -> Reply {
    Reply::json(
        200,
        json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600,
               "refresh_token": REFRESH_TOKEN, "scope": "profile"}),
    )
}

async fn handle(State(s): State<Arc<StubInner>>, req: Request<Body>) -> axum::response::Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    s.calls.lock().unwrap().push(Call {
        method,
        path: path.clone(),
        query,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let set = s.replies.lock().unwrap().get(&path).cloned();
    let reply = match (set, path.as_str()) {
        (Some(r), _) => r,
        (None, "/token") => {
            s.token_count.fetch_add(1, Ordering::SeqCst);
            let mut q = s.token_replies.lock().unwrap();
            if q.is_empty() {
                default_token_reply()
            } else {
                q.remove(0)
            }
        }
        (None, "/userinfo") => s.userinfo.lock().unwrap().clone().unwrap_or_else(|| {
            Reply::json(
                200,
                json!({"sub": "user-1", "name": "Ada", "email": "ada@example.com",
                "email_verified": true, "picture": "https://img.example/ada.png"}),
            )
        }),
        (None, "/revoke") => {
            s.revoke
                .lock()
                .unwrap()
                .clone()
                .unwrap_or(Reply::new(200, "text/plain", ""))
        }
        (None, "/.well-known/openid-configuration") => match s.discovery.lock().unwrap().clone() {
            Some(v) => Reply::json(200, v),
            None => Reply::json(404, json!({})),
        },
        (None, "/jwks") => match s.jwks.lock().unwrap().clone() {
            Some(v) => Reply::json(200, v),
            None => Reply::json(404, json!({})),
        },
        (None, _) => Reply::json(404, json!({"error": "not_found"})),
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
