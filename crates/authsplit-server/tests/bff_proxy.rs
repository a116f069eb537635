//! The backend calls APIs for the browser (docs/SECURITY.md S19): the provider API proxy
//! (`/proxy/<provider>/<path>`, the session's access token added server-side) and the
//! `[upstream]` forwarder (the user's identity in request headers). Each refusal is checked to
//! reach nothing upstream.

#![allow(missing_docs, clippy::unwrap_used)]

use authsplit_server::{ApiProxyConfig, Authsplit, UpstreamConfig};
use authsplit_test_support::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

/// The stub as provider (its API under `/v1`) and a second stub as the application's upstream.
async fn setup() -> (Stub, Stub, Router, String) {
    let stub = Stub::start().await;
    let upstream = Stub::start().await;
    let mut api = ApiProxyConfig::new(&stub.url("/v1"));
    api.methods = vec!["GET".into(), "POST".into()];
    api.paths = vec!["/repos".into(), "/user".into()];
    let mut config = base_config(&stub);
    config.providers.get_mut("stub").unwrap().api = Some(api);
    config.upstream = Some(UpstreamConfig::new(&upstream.url("/base")));
    let auth = Authsplit::new(config).unwrap();
    let app = Router::new()
        .nest("/auth", auth.router())
        .nest("/app", auth.upstream_router());
    let r = exchange(&app, "stub").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let cookie = r.cookie_header();
    stub.inner
        .replies
        .lock()
        .unwrap()
        .insert("/v1/repos/a".into(), Reply::json(200, json!({"repo": "a"})));
    (stub, upstream, app, cookie)
}

fn req(method: &str, path: &str, cookie: Option<&str>, csrf: bool) -> axum::http::request::Builder {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    if csrf {
        b = b.header("x-authsplit", "1");
    }
    b
}

fn get(path: &str, cookie: Option<&str>, csrf: bool) -> Request<Body> {
    req("GET", path, cookie, csrf).body(Body::empty()).unwrap()
}

// The proxied call carries the session's access token, and nothing of the browser's request
// but the allow-listed headers.
#[tokio::test]
async fn the_provider_api_gets_the_sessions_token_and_nothing_else() {
    let (stub, _up, app, cookie) = setup().await;
    let r = req(
        "GET",
        "/auth/proxy/stub/repos/a?page=2",
        Some(&cookie),
        true,
    )
    .header("authorization", "Bearer from-the-browser")
    .header("accept", "application/json")
    .body(Body::empty())
    .unwrap();
    let r = send(&app, r).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["repo"], "a");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let call = stub.calls_to("/v1/repos/a").pop().unwrap();
    assert_eq!(call.method, "GET");
    assert_eq!(call.q("page"), Some("2"));
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
    assert_eq!(call.header("accept"), Some("application/json"));
    for h in ["cookie", "x-authsplit", "origin"] {
        assert_eq!(call.header(h), None, "{h} must not reach the provider");
    }
}

// Never an open proxy: each of these answers a typed error and sends nothing.
#[tokio::test]
async fn proxy_refusals_send_nothing() {
    let (stub, _up, app, cookie) = setup().await;
    let before = stub.calls().len();
    let c = Some(cookie.as_str());
    let cases: Vec<(&str, Request<Body>, u16, &str)> = vec![
        (
            "no CSRF header",
            get("/auth/proxy/stub/repos/a", c, false),
            401,
            "csrf_header_missing",
        ),
        (
            "no session",
            get("/auth/proxy/stub/repos/a", None, true),
            401,
            "not_authenticated",
        ),
        (
            "foreign Origin",
            req("GET", "/auth/proxy/stub/repos/a", c, true)
                .header("origin", FOREIGN)
                .body(Body::empty())
                .unwrap(),
            401,
            "origin_rejected",
        ),
        (
            "path not allow-listed",
            get("/auth/proxy/stub/admin", c, true),
            403,
            "invalid_request",
        ),
        (
            "prefix of a segment only",
            get("/auth/proxy/stub/repository", c, true),
            403,
            "invalid_request",
        ),
        (
            "dot-dot",
            get("/auth/proxy/stub/repos/../admin", c, true),
            400,
            "invalid_request",
        ),
        (
            "encoded slash",
            get("/auth/proxy/stub/repos%2F..%2Fadmin", c, true),
            400,
            "invalid_request",
        ),
        (
            "encoded dot-dot",
            get("/auth/proxy/stub/repos/%2e%2e/admin", c, true),
            400,
            "invalid_request",
        ),
        (
            "backslash",
            get("/auth/proxy/stub/repos/..%5Cadmin", c, true),
            400,
            "invalid_request",
        ),
        (
            "empty segment",
            get("/auth/proxy/stub//evil.example/repos", c, true),
            400,
            "invalid_request",
        ),
        (
            "absolute URL",
            get("/auth/proxy/stub/https://evil.example/repos", c, true),
            400,
            "invalid_request",
        ),
        (
            "method not allowed",
            req("DELETE", "/auth/proxy/stub/repos/a", c, true)
                .body(Body::empty())
                .unwrap(),
            405,
            "invalid_request",
        ),
        (
            "unknown provider",
            get("/auth/proxy/nope/repos/a", c, true),
            400,
            "unknown_provider",
        ),
        (
            "provider without an API",
            get("/auth/proxy/stubpost/repos/a", c, true),
            404,
            "invalid_request",
        ),
        (
            "body too large",
            req("POST", "/auth/proxy/stub/repos/a", c, true)
                .body(Body::from(vec![b'x'; 2 * 1024 * 1024]))
                .unwrap(),
            413,
            "body_too_large",
        ),
    ];
    for (name, r, status, code) in cases {
        let r = send(&app, r).await;
        assert_eq!(r.status.as_u16(), status, "{name}: {}", r.text);
        assert_eq!(r.error(), code, "{name}");
    }
    assert_eq!(
        stub.calls().len(),
        before,
        "no refused request reached the provider"
    );
}

// The upstream gets the user's identity from the session; what the client claims is dropped.
#[tokio::test]
async fn the_upstream_gets_the_users_identity_and_not_the_clients() {
    let (_stub, up, app, cookie) = setup().await;
    up.inner.replies.lock().unwrap().insert(
        "/base/orders".into(),
        Reply::json(200, json!({"orders": []})),
    );
    let r = req("GET", "/app/orders?x=1", Some(&cookie), false)
        .header("x-auth-request-user", "admin")
        .header("X-Auth-Request-Email", "admin@example.com")
        .header("authorization", "Bearer nope")
        .body(Body::empty())
        .unwrap();
    let r = send(&app, r).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let call = up.calls_to("/base/orders").pop().unwrap();
    assert_eq!(call.q("x"), Some("1"));
    assert_eq!(call.header("x-auth-request-user"), Some("stub:user-1"));
    assert_eq!(call.header("x-auth-request-email"), Some("ada@example.com"));
    assert_eq!(call.header("x-auth-request-provider"), Some("stub"));
    assert_eq!(
        call.headers.get_all("x-auth-request-user").iter().count(),
        1
    );
    for h in ["cookie", "authorization"] {
        assert_eq!(call.header(h), None, "{h} must not reach the upstream");
    }
    // A POST needs the CSRF header and an allowed Origin, like every browser write.
    let before = up.calls().len();
    let r = send(
        &app,
        req("POST", "/app/orders", Some(&cookie), false)
            .header("origin", ORIGIN)
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_error(&r, 401, "csrf_header_missing");
    for (name, path) in [
        ("no session", "/app/orders"),
        ("dot-dot", "/app/../auth/config"),
        ("encoded slash", "/app/a%2F..%2Fb"),
    ] {
        let cookie = (name != "no session").then_some(cookie.as_str());
        let r = send(&app, get(path, cookie, false)).await;
        assert!(r.status.is_client_error(), "{name}: {}", r.text);
    }
    let r = send(&app, get("/app/orders", None, false)).await;
    assert_error(&r, 401, "not_authenticated");
    assert_eq!(
        up.calls().len(),
        before,
        "no refused request reached the upstream"
    );
}

// `[server] mode = "bff"`: no access token ever reaches the browser; the backend still holds it
// and calls the API for the browser.
#[tokio::test]
async fn bff_mode_never_hands_out_the_access_token() {
    let stub = Stub::start().await;
    let mut api = ApiProxyConfig::new(&stub.url("/v1"));
    api.paths = vec!["/repos".into()];
    let mut config = base_config(&stub);
    config.server.mode = authsplit_server::Mode::Bff;
    config.providers.get_mut("stub").unwrap().api = Some(api);
    let app = Router::new().nest("/auth", Authsplit::new(config).unwrap().router());
    let r = send(&app, get("/auth/config", None, false)).await;
    assert_eq!(r.json["mode"], "bff");
    let r = exchange(&app, "stub").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["access_token"], "", "{}", r.text);
    assert!(!r.text.contains(ACCESS_TOKEN));
    assert_eq!(r.json["user"]["id"], "stub:user-1");
    assert!(r.json["expires_at"].is_u64());
    let cookie = r.cookie_header();
    let r2 = send(&app, post("/auth/refresh", &json!({}), Some(&cookie))).await;
    assert_eq!(r2.status, StatusCode::OK, "{}", r2.text);
    assert_eq!(r2.json["access_token"], "", "{}", r2.text);
    assert!(!r2.text.contains(ACCESS_TOKEN));
    stub.inner
        .replies
        .lock()
        .unwrap()
        .insert("/v1/repos".into(), Reply::json(200, json!(["a"])));
    let r3 = send(&app, get("/auth/proxy/stub/repos", Some(&cookie), true)).await;
    assert_eq!(r3.status, StatusCode::OK, "{}", r3.text);
    let call = stub.calls_to("/v1/repos").pop().unwrap();
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
}

// The default mode still answers the access token (the token-mediating backend).
#[tokio::test]
async fn token_mode_is_the_default() {
    let stub = Stub::start().await;
    let app = app_with(base_config(&stub), None);
    let r = send(&app, get("/auth/config", None, false)).await;
    assert_eq!(r.json["mode"], "token");
    let r = exchange(&app, "stub").await;
    assert_eq!(r.json["access_token"], ACCESS_TOKEN);
}

// A host handler gets a provider access token for its own server-side calls: the session's
// while it is fresh, else one refresh through the session's single flight however many
// handlers ask at once; the API proxy uses the same token.
#[tokio::test]
async fn host_handlers_get_a_fresh_access_token_through_one_refresh() {
    use authsplit_server::AuthUser;
    use axum::routing::get as route_get;
    let stub = Stub::start().await;
    let clock = TestClock::new();
    let mut api = ApiProxyConfig::new(&stub.url("/v1"));
    api.paths = vec!["/repos".into()];
    let mut config = base_config(&stub);
    config.providers.get_mut("stub").unwrap().api = Some(api);
    let c = clock.0.clone();
    let auth = Authsplit::builder(config)
        .clock(std::sync::Arc::new(move || {
            c.load(std::sync::atomic::Ordering::SeqCst)
        }))
        .build()
        .unwrap();
    async fn upstream_token(user: AuthUser) -> Result<String, authsplit_server::ApiError> {
        user.access_token().await
    }
    let api_routes: Router = Router::new().route("/upstream-token", route_get(upstream_token));
    let app = Router::new()
        .nest("/auth", auth.router())
        .nest("/api", auth.login_required(api_routes));
    let r = exchange(&app, "stub").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let cookie = r.cookie_header();
    let calls = stub.token_calls();
    let r = send(&app, get("/api/upstream-token", Some(&cookie), false)).await;
    assert_eq!(r.text, ACCESS_TOKEN, "fresh: the stored token");
    assert_eq!(stub.token_calls(), calls, "no refresh while fresh");
    // Within a minute of expiry: five handlers at once, one upstream refresh.
    clock.advance(3600 - 30);
    let mut slow = Reply::json(
        200,
        json!({"access_token": "at-2", "token_type": "bearer", "expires_in": 3600,
               "refresh_token": "rt-2"}),
    );
    slow.delay_ms = 200;
    stub.push_token(slow);
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (app, cookie) = (app.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            send(&app, get("/api/upstream-token", Some(&cookie), false)).await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.text, "at-2");
    }
    assert_eq!(
        stub.token_calls(),
        calls + 1,
        "one refresh for five handlers"
    );
    let refresh = stub.calls_to("/token").pop().unwrap();
    assert_eq!(
        refresh.form_get("grant_type").as_deref(),
        Some("refresh_token")
    );
    // The proxy sends the refreshed token, with no further refresh.
    stub.inner
        .replies
        .lock()
        .unwrap()
        .insert("/v1/repos".into(), Reply::json(200, json!([])));
    let r = send(&app, get("/auth/proxy/stub/repos", Some(&cookie), true)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let call = stub.calls_to("/v1/repos").pop().unwrap();
    assert_eq!(call.header("authorization"), Some("Bearer at-2"));
    assert_eq!(stub.token_calls(), calls + 1);
}

// A session ended on the server (here by a logout, seen through a copy of its cookie) is told
// apart from no session: the proxy and the forwarder answer 401 `session_ended`, and nothing
// reaches the provider's API or the upstream.
#[tokio::test]
async fn an_ended_session_answers_session_ended_and_sends_nothing() {
    let (stub, up, app, cookie) = setup().await;
    let lo = send(&app, post("/auth/logout", &json!({}), Some(&cookie))).await;
    assert_eq!(lo.status, StatusCode::OK, "{}", lo.text);
    let (api_calls, upstream_calls) = (stub.calls_to("/v1/repos/a").len(), up.calls().len());
    let r = send(&app, get("/auth/proxy/stub/repos/a", Some(&cookie), true)).await;
    assert_error(&r, 401, "session_ended");
    let r = send(&app, get("/app/orders", Some(&cookie), false)).await;
    assert_error(&r, 401, "session_ended");
    assert_eq!(stub.calls_to("/v1/repos/a").len(), api_calls);
    assert_eq!(up.calls().len(), upstream_calls);
}
