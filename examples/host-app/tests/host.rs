//! The host app through `oneshot`: the nested auth router answers under the host's state,
//! the host's routes get authsplit's CSRF/CORS rules, and configuration errors are matched
//! by kind.

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;

use authsplit_server::wire::ErrorBody;
use authsplit_server::{Config, ConfigError, ErrorCode, ProviderConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use host_app::{HostState, app};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

const ORIGIN: &str = "https://app.example";

fn config() -> Config {
    Config::builder()
        .cookie_key_bytes(&[7u8; 64])
        .allowed_origin(ORIGIN)
        .provider(
            "local",
            ProviderConfig::oauth2(
                "https://op.example/authorize",
                "https://op.example/token",
                "app",
                "secret",
                "https://app.example/callback",
            ),
        )
        .build()
}

fn ring() -> Arc<authsplit_server::CryptoProvider> {
    authsplit_server::default_crypto_provider()
}

async fn call(
    app: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn post(path: &str, csrf: bool, origin: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::post(path).header("content-type", "text/plain");
    if csrf {
        b = b.header(authsplit_server::wire::CSRF_HEADER, "1");
    }
    if let Some(o) = origin {
        b = b.header("origin", o);
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn auth_router_nests_under_the_host_state() {
    let app = app(config(), ring(), HostState::default()).unwrap();
    let (status, _, body) = call(
        &app,
        Request::get("/auth/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = call(
        &app,
        Request::get("/auth/config").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(v.to_string().contains("local"), "{v}");
}

#[tokio::test]
async fn host_routes_get_the_csrf_rules() {
    let host = HostState::default();
    let app = app(config(), ring(), host.clone()).unwrap();

    let (status, _, body) = call(&app, post("/api/notes", false, Some(ORIGIN), "hi")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let e: ErrorBody = serde_json::from_slice(&body).unwrap();
    assert_eq!(e.error, ErrorCode::CsrfHeaderMissing.as_str());

    let (status, _, body) = call(
        &app,
        post("/api/notes", true, Some("https://evil.example"), "hi"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let e: ErrorBody = serde_json::from_slice(&body).unwrap();
    assert_eq!(e.error, ErrorCode::OriginRejected.as_str());
    assert_eq!(host.notes.load(std::sync::atomic::Ordering::SeqCst), 0);

    let (status, headers, body) = call(&app, post("/api/notes", true, Some(ORIGIN), "hi")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(host.notes.load(std::sync::atomic::Ordering::SeqCst), 1);

    // An owned ApiError message from the host's handler.
    let (status, _, body) = call(&app, post("/api/notes", true, Some(ORIGIN), " ")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let e: ErrorBody = serde_json::from_slice(&body).unwrap();
    assert_eq!(e.error_description, "a note needs text (1 bytes given)");

    // GET needs no CSRF header; a foreign origin gets no CORS grant.
    let req = Request::get("/api/notes")
        .header("origin", "https://evil.example")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = call(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, br#"{"notes":1}"#);
    assert!(!headers.contains_key("access-control-allow-origin"));
}

#[test]
fn configuration_errors_have_kinds() {
    let empty = Config::builder()
        .cookie_key_bytes(&[7u8; 64])
        .allowed_origin(ORIGIN)
        .build();
    match app(empty, ring(), HostState::default()) {
        Err(ConfigError::NoProviders) => {}
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("zero providers must be refused"),
    }

    let mut bad = config();
    bad.providers.get_mut("local").unwrap().token_endpoint = Some("not a url".to_owned());
    match app(bad, ring(), HostState::default()) {
        Err(ConfigError::Provider { provider, .. }) => assert_eq!(provider, "local"),
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("a bad endpoint must be refused"),
    }

    let err = Config::from_toml_str(
        "[server]\nlisten = \"127.0.0.1:0\"\nallowed_origin = []\ncookie_kye = \"x\"\n",
    )
    .unwrap_err();
    let ConfigError::UnknownKeys(keys) = &err else {
        panic!("unexpected {err}")
    };
    let found: Vec<(&str, Option<&str>)> = keys
        .iter()
        .map(|k| (k.key.as_str(), k.suggestion.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            ("server.allowed_origin", Some("allowed_origins")),
            ("server.cookie_kye", Some("cookie_key")),
        ]
    );
}

/// Signs in through the nested auth router against a stub provider; returns the session cookie.
async fn signed_in_app() -> (authsplit_test_support::Stub, axum::Router, String) {
    use authsplit_test_support::*;
    let stub = Stub::start().await;
    let app = app(base_config(&stub), ring(), HostState::default()).unwrap();
    let r = exchange(&app, "stub").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (stub, app, r.cookie_header())
}

fn get_with(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    b.body(Body::empty()).unwrap()
}

// The host's handlers learn the user from the session store: no provider call per request.
#[tokio::test]
async fn host_routes_know_the_signed_in_user() {
    let (stub, app, cookie) = signed_in_app().await;
    let calls = stub.calls_to("/userinfo").len();
    let (status, _, body) = call(&app, get_with("/api/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let me: authsplit_server::User = serde_json::from_slice(&body).unwrap();
    assert_eq!(me.id, "stub:user-1");
    assert_eq!(me.provider, "stub");
    let (_, _, body) = call(&app, get_with("/api/hello", Some(&cookie))).await;
    let hello: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_ne!(hello["hello"], "stranger", "{hello}");
    let mut order = post("/api/orders", true, Some(ORIGIN), "tea");
    order
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let (status, _, body) = call(&app, order).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (_, _, body) = call(&app, get_with("/api/orders", Some(&cookie))).await;
    assert_eq!(body, br#"["tea"]"#);
    assert_eq!(
        stub.calls_to("/userinfo").len(),
        calls,
        "no provider call per request"
    );
}

// Without a live session: 401 not_authenticated (session_ended for a session that was ended)
// before the handler; Option<AuthUser> is None.
#[tokio::test]
async fn signed_out_requests_get_a_typed_401() {
    let (_stub, app, cookie) = signed_in_app().await;
    for c in [
        None,
        Some("authsplit-session=forged"),
        Some("__Host-authsplit-session=forged"),
    ] {
        let (status, _, body) = call(&app, get_with("/api/me", c)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{c:?}");
        let e: ErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(e.error, ErrorCode::NotAuthenticated.as_str());
    }
    let (status, _, body) = call(&app, get_with("/api/hello", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, br#"{"hello":"stranger"}"#);
    // After logout the same cookie is refused as naming an ended session (`session_ended`, not
    // `not_authenticated`), Option<AuthUser> sees no user, and an order placed with it never runs.
    let mut out = post("/auth/logout", true, Some(ORIGIN), "{}");
    out.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    out.headers_mut().insert("cookie", cookie.parse().unwrap());
    let (status, _, _) = call(&app, out).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = call(&app, get_with("/api/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let e: ErrorBody = serde_json::from_slice(&body).unwrap();
    assert_eq!(e.error, ErrorCode::SessionEnded.as_str());
    let (status, _, body) = call(&app, get_with("/api/hello", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, br#"{"hello":"stranger"}"#);
    let mut order = post("/api/orders", true, Some(ORIGIN), "tea");
    order
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let (status, _, _) = call(&app, order).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
