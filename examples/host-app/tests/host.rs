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
