//! docs/SECURITY.md S14: no secret in any log line. Its own test binary (one test, a global
//! subscriber) so log capture is not disturbed by tests running in parallel threads.

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use authsplit_test_support::oidc::*;
use authsplit_test_support::*;
use axum::http::StatusCode;
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// docs/SECURITY.md S14: no code, verifier, token, secret or Authorization header in any log line —
// captured at TRACE level through a full sign-in, refresh, failed exchange and logout.
#[tokio::test]
async fn no_secret_in_logs() {
    let cap = Capture::default();
    let writer = cap.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let stub = oidc_stub().await;
    let app = app_with(oidc_config(&stub), None);
    let cookie = register(&app, "op").await;
    let idt = id_token(&good_claims(&stub));
    stub.push_token(token_reply_with(idt.clone()));
    let r = send(
        &app,
        post("/auth/token", &op_token_body(&stub), Some(&cookie)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let session = r.cookie_header();
    let r = send(&app, post("/auth/refresh", &json!({}), Some(&session))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A provider error that echoes the code back in its body.
    let cookie = register(&app, "op").await;
    stub.push_token(Reply::json(
        400,
        json!({"error": "invalid_grant",
        "error_description": "bad", "refresh_token": REFRESH_TOKEN, "access_token": ACCESS_TOKEN}),
    ));
    let r = send(
        &app,
        post("/auth/token", &op_token_body(&stub), Some(&cookie)),
    )
    .await;
    assert_eq!(r.error(), "invalid_grant");
    let _ = send(&app, post("/auth/logout", &json!({}), Some(&session))).await;

    let logs = String::from_utf8_lossy(&cap.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("code exchanged"),
        "logs were captured: {logs}"
    );
    let basic = b64("my+client:a%2Bb%3Ac%25d%2Fe+f");
    for secret in [
        CODE,
        VERIFIER,
        SECRET,
        "a%2Bb%3Ac%25d%2Fe+f",
        &basic,
        ACCESS_TOKEN,
        REFRESH_TOKEN,
        &idt,
        STATE,
    ] {
        assert!(!logs.contains(secret), "a secret leaked into the logs");
    }
}
