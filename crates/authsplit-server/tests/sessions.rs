//! The server-side session model through `oneshot`: the session cookie carries an opaque id,
//! the record lives in the store (docs/SECURITY.md S8, S10). One browser has one session (a
//! second sign-in ends the first); an ended session stays ended across restarts; a store that
//! cannot answer is a typed 503 before any upstream call.

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use authsplit_server::Authsplit;
use authsplit_store::{
    Backend, Claim, Join, Lease, Lookup, SessionRecord, SessionState, Store, StoreError,
};
use authsplit_test_support::*;
use axum::http::StatusCode;
use serde_json::json;

/// A store that can be switched off: while down, every operation fails as an unreachable
/// backing service would.
struct Switch {
    inner: Arc<dyn Store>,
    down: AtomicBool,
}

impl Switch {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable {
                backend: "memory",
                reason: "switched off by the test".to_owned(),
            })
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl Store for Switch {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.check()?;
        self.inner.ping().await
    }
    async fn claim_transaction(&self, id: &str, ttl: Duration) -> Result<Claim, StoreError> {
        self.check()?;
        self.inner.claim_transaction(id, ttl).await
    }
    async fn transaction_spent(&self, id: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.transaction_spent(id).await
    }
    async fn release_transaction(&self, id: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.release_transaction(id).await
    }
    async fn refuse_transaction(&self, id: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.refuse_transaction(id).await
    }
    async fn claim_jti(&self, jti: &str, ttl: Duration) -> Result<Claim, StoreError> {
        self.check()?;
        self.inner.claim_jti(jti, ttl).await
    }
    async fn create_session(
        &self,
        id: &str,
        record: &SessionRecord,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.create_session(id, record, ttl).await
    }
    async fn session(&self, id: &str) -> Result<SessionState, StoreError> {
        self.check()?;
        self.inner.session(id).await
    }
    async fn update_session(
        &self,
        id: &str,
        record: &SessionRecord,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.update_session(id, record, ttl).await
    }
    async fn end_session(
        &self,
        id: &str,
        keep: Duration,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.check()?;
        self.inner.end_session(id, keep).await
    }
    async fn find_sessions(
        &self,
        provider: &str,
        by: Lookup<'_>,
    ) -> Result<Vec<String>, StoreError> {
        self.check()?;
        self.inner.find_sessions(provider, by).await
    }
    async fn join_flight(&self, key: &str, lock_ttl: Duration) -> Result<Join, StoreError> {
        self.check()?;
        self.inner.join_flight(key, lock_ttl).await
    }
    async fn land_flight(
        &self,
        key: &str,
        lease: &Lease,
        result: Option<&[u8]>,
        keep: Duration,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.land_flight(key, lease, result, keep).await
    }
}

/// The app on `store`, mounted as the binary mounts it.
fn app_on(stub: &Stub, store: Arc<dyn Store>) -> axum::Router {
    app_at(stub, store, None)
}

/// [`app_on`] with a settable clock.
fn app_at(stub: &Stub, store: Arc<dyn Store>, clock: Option<&TestClock>) -> axum::Router {
    let mut b = Authsplit::builder(base_config(stub)).store(store);
    if let Some(c) = clock {
        let c = c.0.clone();
        b = b.clock(Arc::new(move || c.load(Ordering::SeqCst)));
    }
    axum::Router::new().nest("/auth", b.build().unwrap().router())
}

/// `GET /auth/session` as a page load sends it: no CSRF header, no `Origin`.
async fn get_session(app: &axum::Router, cookie: Option<&str>) -> Resp {
    let mut b = axum::http::Request::builder().uri("/auth/session");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    send(app, b.body(axum::body::Body::empty()).unwrap()).await
}

fn switch() -> Arc<Switch> {
    Arc::new(Switch {
        inner: Arc::new(authsplit_server::MemoryStore::new(1000)),
        down: AtomicBool::new(false),
    })
}

/// The tokens revoked at the stub so far (waits up to 2 s for `want` background revocations).
async fn revoked(stub: &Stub, want: usize) -> Vec<String> {
    for _ in 0..200 {
        if stub.calls_to("/revoke").len() >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stub.calls_to("/revoke")
        .iter()
        .filter_map(|c| c.form_get("token"))
        .collect()
}

// One browser, one session: a sign-in that finds a live session cookie ends that session
// (record deleted, refresh token revoked) before it sets the new one; a copy of the old cookie
// never refreshes again (zero upstream calls).
#[tokio::test]
async fn a_second_sign_in_ends_the_first_session() {
    let stub = Stub::start().await;
    let app = app_on(&stub, switch());
    let first = exchange(&app, "stub").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let old = first.cookie_header();
    stub.push_token(Reply::json(
        200,
        json!({"access_token": "at-second", "token_type": "bearer",
        "refresh_token": REFRESH_TOKEN_2}),
    ));
    let tx = register(&app, "stub").await;
    let second = send(
        &app,
        post(
            "/auth/token",
            &token_body("stub"),
            Some(&format!("{tx}; {old}")),
        ),
    )
    .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let new = second.cookie_header();
    assert!(new.starts_with("__Host-authsplit-session="), "{new}");
    assert_ne!(new, old);
    let gone = revoked(&stub, 1).await;
    assert!(gone.contains(&REFRESH_TOKEN.to_owned()), "{gone:?}");
    let calls = stub.token_calls();
    let r = send(&app, post("/auth/refresh", &json!({}), Some(&old))).await;
    assert_error(&r, 401, "session_ended");
    assert_eq!(
        stub.token_calls(),
        calls,
        "the ended session costs no upstream call"
    );
    let r = send(&app, post("/auth/refresh", &json!({}), Some(&new))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        stub.calls_to("/token")
            .pop()
            .unwrap()
            .form_get("refresh_token")
            .as_deref(),
        Some(REFRESH_TOKEN_2)
    );
}

// docs/SECURITY.md S10: a logout is final for every copy of the cookie, also for a new process
// on the same store file (a restart).
#[tokio::test]
async fn an_ended_session_stays_ended_after_a_restart() {
    let stub = Stub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let open =
        || -> Arc<dyn Store> { Arc::new(authsplit_store::SqliteStore::open(&path).unwrap()) };
    let app = app_on(&stub, open());
    let ended = exchange(&app, "stub").await.cookie_header();
    let live = exchange(&app, "stub").await.cookie_header();
    let lo = send(&app, post("/auth/logout", &json!({}), Some(&ended))).await;
    assert_eq!(lo.status, StatusCode::OK, "{}", lo.text);
    drop(app);
    let app = app_on(&stub, open());
    let calls = stub.token_calls();
    let r = send(&app, post("/auth/refresh", &json!({}), Some(&ended))).await;
    assert_error(&r, 401, "session_ended");
    assert_eq!(stub.token_calls(), calls);
    let r = send(&app, post("/auth/refresh", &json!({}), Some(&live))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(stub.token_calls(), calls + 1);
}

// docs/SECURITY.md S8: with the store down, /token, /refresh and /logout answer a typed 503
// `store_unavailable` and nothing reaches the provider; the session works again when it returns.
#[tokio::test]
async fn store_down_is_a_typed_503_before_any_upstream_call() {
    let stub = Stub::start().await;
    let store = switch();
    let app = app_on(&stub, store.clone());
    let session = exchange(&app, "stub").await.cookie_header();
    let tx = register(&app, "stub").await;
    let calls = stub.token_calls();
    store.down.store(true, Ordering::SeqCst);
    for (path, cookie) in [
        ("/auth/token", format!("{tx}; {session}")),
        ("/auth/refresh", session.clone()),
        ("/auth/logout", session.clone()),
    ] {
        let body = if path == "/auth/token" {
            token_body("stub")
        } else {
            json!({})
        };
        let r = send(&app, post(path, &body, Some(&cookie))).await;
        assert_error(&r, 503, "store_unavailable");
    }
    assert_eq!(stub.token_calls(), calls, "nothing reached the provider");
    assert!(stub.calls_to("/revoke").is_empty());
    store.down.store(false, Ordering::SeqCst);
    let r = send(&app, post("/auth/refresh", &json!({}), Some(&session))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

// GET /session answers 200 signed in and signed out (never a 401), needs no CSRF header, never
// calls the provider and sets no cookie — except to clear a session cookie that does not open.
#[tokio::test]
async fn session_endpoint_answers_without_side_effects() {
    let stub = Stub::start().await;
    let app = app_on(&stub, switch());
    let out = json!({"authenticated": false, "user": null, "expiresAt": null});
    let r = get_session(&app, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json, out);
    assert!(r.set_cookies().is_empty());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let signed = exchange(&app, "stub").await;
    let cookie = signed.cookie_header();
    let calls = (stub.token_calls(), stub.calls_to("/userinfo").len());
    let r = get_session(&app, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["authenticated"], true);
    assert_eq!(r.json["user"], signed.json["user"]);
    assert!(r.json["user"]["id"].is_string(), "{}", r.text);
    assert_eq!(
        r.json["expiresAt"].as_u64(),
        signed.json["expires_at"].as_u64().map(|s| s * 1000)
    );
    assert!(
        r.set_cookies().is_empty(),
        "no cookie set: {:?}",
        r.set_cookies()
    );
    assert!(!r.text.contains(ACCESS_TOKEN) && !r.text.contains(REFRESH_TOKEN));
    assert_eq!(
        (stub.token_calls(), stub.calls_to("/userinfo").len()),
        calls,
        "nothing reaches the provider"
    );
    // A cookie that does not open is cleared; the answer is still a signed-out 200.
    let r = get_session(&app, Some("__Host-authsplit-session=garbage")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json, out);
    assert!(
        r.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-authsplit-session=;") && c.contains("Max-Age=0")),
        "{:?}",
        r.set_cookies()
    );
    // Logged out: signed out, for every copy of the cookie, saying the session ended.
    let lo = send(&app, post("/auth/logout", &json!({}), Some(&cookie))).await;
    assert_eq!(lo.status, StatusCode::OK, "{}", lo.text);
    let r = get_session(&app, Some(&cookie)).await;
    let mut ended = out.clone();
    ended["ended"] = json!(true);
    assert_eq!((r.status, &r.json), (StatusCode::OK, &ended));
}

// A session without a refresh token (GitHub without expiring tokens): POST /refresh answers the
// access token the session holds while it is valid (a reload gets it back), with nothing sent
// upstream; once it has expired, the answer is not_authenticated.
#[tokio::test]
async fn refresh_without_refresh_token_answers_the_stored_access_token_while_valid() {
    let stub = Stub::start().await;
    let clock = TestClock::new();
    let app = app_at(&stub, switch(), Some(&clock));
    stub.push_token(Reply::json(
        200,
        json!({"access_token": "at-no-rt", "token_type": "bearer", "expires_in": 3600}),
    ));
    let signed = exchange(&app, "stub").await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text);
    let cookie = signed.cookie_header();
    let calls = stub.token_calls();
    let r = send(&app, post("/auth/refresh", &json!({}), Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["access_token"], "at-no-rt");
    assert_eq!(r.json["expires_at"], signed.json["expires_at"]);
    assert_eq!(stub.token_calls(), calls, "nothing sent upstream");
    clock.advance(3601);
    let r = send(&app, post("/auth/refresh", &json!({}), Some(&cookie))).await;
    assert_error(&r, 401, "not_authenticated");
    assert_eq!(stub.token_calls(), calls);
}

/// [`base_config`] with `cookie_keys` (current first) instead of its `cookie_key`.
fn keyed_config(stub: &Stub, keys: &[u8]) -> authsplit_server::Config {
    use base64::Engine as _;
    let mut config = base_config(stub);
    config.server.cookie_key = None;
    config.server.cookie_keys = keys
        .iter()
        .map(|k| {
            authsplit_server::Secret::new(
                base64::engine::general_purpose::STANDARD.encode([*k; 64]),
            )
        })
        .collect();
    config
}

fn keyed_app(stub: &Stub, store: Arc<dyn Store>, keys: &[u8]) -> axum::Router {
    let auth = Authsplit::builder(keyed_config(stub, keys))
        .store(store)
        .build()
        .unwrap();
    axum::Router::new().nest("/auth", auth.router())
}

// Key rotation: `cookie_key` and `cookie_keys` together are refused at start-up.
#[tokio::test]
async fn cookie_key_and_cookie_keys_together_is_a_configuration_error() {
    let stub = Stub::start().await;
    let mut config = keyed_config(&stub, &[1, 2]);
    config.server.cookie_key = base_config(&stub).server.cookie_key;
    let e = Authsplit::builder(config).build().unwrap_err();
    assert!(e.to_string().contains("cookie_keys"), "{e}");
}

// Key rotation: a session cookie sealed with a key that is still listed (not first) opens and
// is sealed again with the current key on its next refresh; once its key is gone the session
// reads as signed out (the unreadable cookie cleared), a typed 401 on /refresh, never a panic.
#[tokio::test]
async fn cookies_sealed_with_a_previous_key_open_until_it_is_dropped() {
    let stub = Stub::start().await;
    let store = switch();
    let under_a = keyed_app(&stub, store.clone(), &[0xA]);
    let old = exchange(&under_a, "stub").await.cookie_header();
    let rotated = keyed_app(&stub, store.clone(), &[0xB, 0xA]);
    let r = get_session(&rotated, Some(&old)).await;
    assert_eq!(r.json["authenticated"], true, "{}", r.text);
    let r = send(&rotated, post("/auth/refresh", &json!({}), Some(&old))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let resealed = r.cookie_header();
    assert!(
        resealed.starts_with("__Host-authsplit-session="),
        "{resealed}"
    );
    assert_ne!(resealed, old);
    // A cookie already sealed with the current key is not written again.
    let r = send(&rotated, post("/auth/refresh", &json!({}), Some(&resealed))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.set_cookies().is_empty(), "{:?}", r.set_cookies());
    let only_b = keyed_app(&stub, store, &[0xB]);
    let r = get_session(&only_b, Some(&resealed)).await;
    assert_eq!(r.json["authenticated"], true, "{}", r.text);
    let r = get_session(&only_b, Some(&old)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["authenticated"], false);
    assert!(
        r.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-authsplit-session=;") && c.contains("Max-Age=0"))
    );
    let calls = stub.token_calls();
    let r = send(&only_b, post("/auth/refresh", &json!({}), Some(&old))).await;
    assert_error(&r, 401, "not_authenticated");
    assert_eq!(stub.token_calls(), calls);
}
