//! Handler tests with `tower::ServiceExt::oneshot`: the request logic of the auth router,
//! against a counting stub token endpoint on 127.0.0.1 (real HTTP). Each test cites the rule it
//! checks.

#![allow(missing_docs, clippy::unwrap_used)]

use authsplit_server::{ClientAuth, Config, ProviderConfig};
use authsplit_test_support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

async fn setup() -> (Stub, axum::Router) {
    let stub = Stub::start().await;
    let app = app_with(base_config(&stub), None);
    (stub, app)
}

// RFC 10017 §6.1.3.3 (docs/SECURITY.md A3): every POST needs the custom header.
#[tokio::test]
async fn missing_csrf_header_is_401_on_every_post() {
    let (stub, app) = setup().await;
    for (path, body) in [
        ("/auth/transactions", tx_body("stub")),
        ("/auth/token", token_body("stub")),
        ("/auth/refresh", json!({})),
        ("/auth/logout", json!({})),
    ] {
        let r = send(
            &app,
            post_raw(path, body.to_string(), None, &[("x-authsplit", None)]),
        )
        .await;
        assert_error(&r, 401, "csrf_header_missing");
        assert!(
            r.set_cookies().is_empty(),
            "{path}: no cookie on a refused request"
        );
        // A wrong value is as good as none.
        let r = send(
            &app,
            post_raw(path, body.to_string(), None, &[("x-authsplit", Some("0"))]),
        )
        .await;
        assert_error(&r, 401, "csrf_header_missing");
    }
    assert_eq!(stub.calls().len(), 0);
}

// RFC 10017 §6.1.3.3: the Origin must be allow-listed; a missing Origin is refused too.
#[tokio::test]
async fn foreign_or_missing_origin_is_401() {
    let (stub, app) = setup().await;
    let r = send(
        &app,
        post_raw(
            "/auth/transactions",
            tx_body("stub").to_string(),
            None,
            &[("origin", Some(FOREIGN))],
        ),
    )
    .await;
    assert_error(&r, 401, "origin_rejected");
    assert!(r.header("access-control-allow-origin").is_none());
    assert!(r.set_cookies().is_empty());
    let r = send(
        &app,
        post_raw(
            "/auth/token",
            token_body("stub").to_string(),
            None,
            &[("origin", None)],
        ),
    )
    .await;
    assert_error(&r, 401, "origin_rejected");
    assert_eq!(stub.token_calls(), 0);
}

// RFC 10017 §6.1.3.3: the expected origin comes from the configuration only. An `Origin` that
// merely equals the request's `Host` is refused (a request can carry any `Host`); with
// `allow_same_origin` (default) the origin of a configured redirect URI is accepted.
#[tokio::test]
async fn same_origin_comes_from_config_not_from_host() {
    let stub = Stub::start().await;
    let cfg = Config::builder()
        .cookie_key_bytes(&[42u8; 64])
        .allowed_origin(ORIGIN)
        .provider(
            "stub",
            ProviderConfig::oauth2(
                &stub.url("/authorize"),
                &stub.url("/token"),
                CLIENT_ID,
                SECRET,
                "https://spa.example/callback",
            ),
        )
        .build();
    let app = app_with(cfg, None);
    for (origin, host) in [
        ("http://evil.example", "evil.example"),
        ("https://api.example", "api.example"),
    ] {
        let r = send(
            &app,
            post_raw(
                "/auth/transactions",
                tx_body("stub").to_string(),
                None,
                &[("origin", Some(origin)), ("host", Some(host))],
            ),
        )
        .await;
        assert_error(&r, 401, "origin_rejected");
        assert!(r.set_cookies().is_empty(), "{origin}");
    }
    // The redirect URI's origin (the SPA served with its callback), whatever the Host.
    let r = send(
        &app,
        post_raw(
            "/auth/transactions",
            tx_body("stub").to_string(),
            None,
            &[
                ("origin", Some("https://spa.example")),
                ("host", Some("other.example")),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(stub.calls().len(), 0);
}

// RFC 10017 §6.1.3.3 / Fetch §3.2: CORS only for configured origins, with credentials.
#[tokio::test]
async fn cors_preflight_only_for_allowed_origins() {
    let (_stub, app) = setup().await;
    let pre = |origin: &str| {
        axum::http::Request::builder()
            .method("OPTIONS")
            .uri("/auth/token")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-authsplit")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let good = send(&app, pre(ORIGIN)).await;
    assert_eq!(good.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        good.header("access-control-allow-credentials"),
        Some("true")
    );
    assert!(
        good.header("access-control-allow-headers")
            .unwrap_or("")
            .contains("x-authsplit")
    );
    let bad = send(&app, pre(FOREIGN)).await;
    assert!(bad.header("access-control-allow-origin").is_none());
}

// docs/SECURITY.md S3: request bodies are capped (→ 413 body_too_large), JSON only (→ 415).
#[tokio::test]
async fn oversized_body_and_wrong_content_type() {
    let (stub, app) = setup().await;
    let big = json!({"provider": "stub", "code": "x".repeat(1024 * 1024), "state": STATE,
        "code_verifier": VERIFIER})
    .to_string();
    let len = big.len().to_string();
    let r = send(
        &app,
        post_raw(
            "/auth/token",
            big.clone(),
            None,
            &[("content-length", Some(&len))],
        ),
    )
    .await;
    assert_error(&r, 413, "body_too_large");
    // Without a Content-Length the streaming limit still applies.
    let r = send(
        &app,
        post_raw("/auth/token", big, None, &[("content-length", None)]),
    )
    .await;
    assert_error(&r, 413, "body_too_large");
    let r = send(
        &app,
        post_raw(
            "/auth/token",
            "provider=stub".into(),
            None,
            &[("content-type", Some("application/x-www-form-urlencoded"))],
        ),
    )
    .await;
    assert_error(&r, 415, "unsupported_media_type");
    let r = send(
        &app,
        post_raw(
            "/auth/token",
            token_body("stub").to_string(),
            None,
            &[("content-type", None)],
        ),
    )
    .await;
    assert_error(&r, 415, "unsupported_media_type");
    assert_eq!(stub.calls().len(), 0);
}

// docs/SECURITY.md S3: strict JSON shapes — unknown or missing fields → 400 invalid_request (JSON).
#[tokio::test]
async fn unknown_missing_fields_and_bad_json_are_400() {
    let (stub, app) = setup().await;
    let mut extra = token_body("stub");
    extra["client_secret"] = json!("x");
    let r = send(&app, post("/auth/token", &extra, None)).await;
    assert_error(&r, 400, "invalid_request");
    assert!(
        r.json["error_description"]
            .as_str()
            .unwrap()
            .contains("client_secret")
    );
    let r = send(
        &app,
        post(
            "/auth/token",
            &json!({"provider": "stub", "code": CODE}),
            None,
        ),
    )
    .await;
    assert_error(&r, 400, "invalid_request");
    let r = send(&app, post_raw("/auth/token", "{not json".into(), None, &[])).await;
    assert_error(&r, 400, "invalid_request");
    let r = send(&app, post("/auth/refresh", &json!({"x": 1}), None)).await;
    assert_error(&r, 400, "invalid_request");
    // A type error must not echo the value (it could be a code or verifier).
    let r = send(
        &app,
        post(
            "/auth/token",
            &json!({"provider": "stub", "code": 12345678987654321u64,
        "state": STATE, "code_verifier": VERIFIER}),
            None,
        ),
    )
    .await;
    assert_error(&r, 400, "invalid_request");
    assert!(!r.text.contains("12345678987654321"), "{}", r.text);
    // RFC 7636 §4.2 / RFC 9700 §2.1.1: S256 only.
    let mut plain = tx_body("stub");
    plain["code_challenge_method"] = json!("plain");
    let r = send(&app, post("/auth/transactions", &plain, None)).await;
    assert_error(&r, 400, "invalid_request");
    assert!(r.set_cookies().is_empty());
    assert_eq!(stub.calls().len(), 0);
}

// RFC 7636 §4.1: verifier = 43–128 chars of [A-Za-z0-9-._~]; checked before any call.
#[tokio::test]
async fn verifier_grammar_is_enforced_with_zero_calls() {
    let (stub, app) = setup().await;
    let cookie = register(&app, "stub").await;
    for bad in [
        "a".repeat(42),
        "a".repeat(129),
        format!("{}+", "a".repeat(43)),
        format!("{}/", "a".repeat(43)),
    ] {
        let mut b = token_body("stub");
        b["code_verifier"] = json!(bad);
        let r = send(&app, post("/auth/token", &b, Some(&cookie))).await;
        assert_error(&r, 400, "invalid_verifier");
        assert!(!r.text.contains(&bad), "the verifier is never echoed");
    }
    assert_eq!(stub.token_calls(), 0);
}

// docs/SECURITY.md F2: unknown provider → 400 unknown_provider, no cookie, no call.
#[tokio::test]
async fn unknown_provider_is_400() {
    let (stub, app) = setup().await;
    let r = send(&app, post("/auth/transactions", &tx_body("nope"), None)).await;
    assert_error(&r, 400, "unknown_provider");
    assert!(r.set_cookies().is_empty());
    let cookie = register(&app, "stub").await;
    let r = send(
        &app,
        post("/auth/token", &token_body("nope"), Some(&cookie)),
    )
    .await;
    assert_error(&r, 400, "unknown_provider");
    assert_eq!(stub.token_calls(), 0);
}

// docs/SECURITY.md A2, S2: a code without a registered transaction is refused with zero calls.
#[tokio::test]
async fn token_without_transaction_cookie_is_transaction_missing() {
    let (stub, app) = setup().await;
    let r = send(&app, post("/auth/token", &token_body("stub"), None)).await;
    assert_error(&r, 400, "transaction_missing");
    // A tampered (undecryptable) cookie is the same as none.
    let r = send(
        &app,
        post(
            "/auth/token",
            &token_body("stub"),
            Some(&format!(
                "{}=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                tx_cookie_name(STATE)
            )),
        ),
    )
    .await;
    assert_error(&r, 400, "transaction_missing");
    // A transaction for another provider does not count.
    let cookie = register(&app, "stub").await;
    let r = send(
        &app,
        post("/auth/token", &token_body("stubpost"), Some(&cookie)),
    )
    .await;
    assert_error(&r, 400, "transaction_missing");
    assert_eq!(stub.token_calls(), 0);
}

// RFC 6749 §10.12, docs/SECURITY.md S13: state must equal the bound one; zero calls otherwise.
#[tokio::test]
async fn wrong_state_is_state_mismatch_with_zero_calls() {
    let (stub, app) = setup().await;
    let cookie = register(&app, "stub").await;
    let mut b = token_body("stub");
    b["state"] = json!("st-0123456789abcdefghijklmnopqrstuvwxyzABCDF");
    let r = send(&app, post("/auth/token", &b, Some(&cookie))).await;
    assert_error(&r, 400, "state_mismatch");
    assert_eq!(stub.token_calls(), 0);
}

// RFC 7636 §4.6, docs/SECURITY.md S2: BASE64URL(SHA256(verifier)) must equal the challenge; a made-up
// verifier is refused with ZERO requests to the token endpoint.
#[tokio::test]
async fn wrong_verifier_is_pkce_mismatch_with_zero_calls() {
    let (stub, app) = setup().await;
    let cookie = register(&app, "stub").await;
    let mut b = token_body("stub");
    b["code_verifier"] = json!("x".repeat(43));
    let r = send(&app, post("/auth/token", &b, Some(&cookie))).await;
    assert_error(&r, 400, "pkce_mismatch");
    assert_eq!(stub.token_calls(), 0);
    assert_eq!(stub.calls().len(), 0, "no outbound call of any kind");
    // The transaction was not consumed by a local refusal: the right verifier still works.
    let r = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&cookie)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(stub.token_calls(), 1);
}

// RFC 9207 §2.4: an `iss` that differs from the expected issuer is refused, zero calls.
#[tokio::test]
async fn iss_mismatch_with_zero_calls() {
    let stub = Stub::start().await;
    let mut p = stub_provider(&stub, ClientAuth::Basic);
    p.issuer = Some(stub.base.clone());
    p.discovery = false;
    let app = app_with(
        authsplit_server::Config::builder()
            .cookie_key_bytes(&[1u8; 64])
            .allowed_origin(ORIGIN)
            .provider("stub", p)
            .build(),
        None,
    );
    let cookie = register(&app, "stub").await;
    let mut b = token_body("stub");
    b["iss"] = json!("https://other.example");
    let r = send(&app, post("/auth/token", &b, Some(&cookie))).await;
    assert_error(&r, 400, "iss_mismatch");
    assert_eq!(stub.token_calls(), 0);
}

// docs/SECURITY.md B3, F1 (expired transaction): the bound transaction lives ≤ TTL (600 s).
#[tokio::test]
async fn expired_transaction_with_zero_calls() {
    let stub = Stub::start().await;
    let clock = TestClock::new();
    let app = app_with(base_config(&stub), Some(&clock));
    let cookie = register(&app, "stub").await;
    clock.advance(600);
    let r = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&cookie)),
    )
    .await;
    assert_error(&r, 400, "transaction_expired");
    assert_eq!(stub.token_calls(), 0);
    // One second earlier it was still good.
    let clock2 = TestClock::new();
    let app2 = app_with(base_config(&stub), Some(&clock2));
    let cookie2 = register(&app2, "stub").await;
    clock2.advance(599);
    let r = send(
        &app2,
        post("/auth/token", &token_body("stub"), Some(&cookie2)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

// RFC 6749 §10.12 (single-use state) / docs/SECURITY.md A2: replaying the old tx cookie after a
// completed exchange is transaction_used with zero further calls.
#[tokio::test]
async fn replayed_transaction_cookie_is_transaction_used() {
    let (stub, app) = setup().await;
    let cookie = register(&app, "stub").await;
    let r = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&cookie)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The response deletes the tx cookie…
    assert!(
        r.set_cookies()
            .iter()
            .any(|c| c.starts_with(&format!("{}=;", tx_cookie_name(STATE)))
                && c.contains("Max-Age=0"))
    );
    // …but a replayed copy is still refused.
    let r = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&cookie)),
    )
    .await;
    assert_error(&r, 400, "transaction_used");
    assert_eq!(stub.token_calls(), 1);
}

// RFC 6749 §2.3.1 + §4.1.3, docs/SECURITY.md S4, S8: exactly one POST, form-urlencoded,
// Accept: application/json, Basic credentials form-urlencoded BEFORE base64.
#[tokio::test]
async fn exchange_client_secret_basic_one_call() {
    let (stub, app) = setup().await;
    let r = exchange(&app, "stub").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let calls = stub.calls_to("/token");
    assert_eq!(calls.len(), 1, "exactly one exchange");
    let c = &calls[0];
    // "my client" → "my+client", "a+b:c%d/e f" → "a%2Bb%3Ac%25d%2Fe+f" (RFC 6749 Appendix B).
    assert_eq!(
        c.header("authorization").unwrap(),
        format!("Basic {}", b64("my+client:a%2Bb%3Ac%25d%2Fe+f"))
    );
    assert_eq!(c.header("accept"), Some("application/json"));
    assert!(
        c.header("content-type")
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    assert_eq!(
        c.form_get("grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(c.form_get("code").as_deref(), Some(CODE));
    assert_eq!(c.form_get("code_verifier").as_deref(), Some(VERIFIER));
    assert_eq!(
        c.form_get("redirect_uri").as_deref(),
        Some("https://app.example/callback")
    );
    assert_eq!(
        c.form_get("client_secret"),
        None,
        "one auth method per request"
    );
    // Reply shape (wire::TokenReply) and the user from userinfo.
    assert_eq!(r.json["access_token"], ACCESS_TOKEN);
    assert_eq!(r.json["token_type"], "bearer");
    assert_eq!(r.json["user"]["id"], "stub:user-1");
    assert_eq!(r.json["user"]["avatar_url"], "https://img.example/ada.png");
    assert_eq!(
        stub.calls_to("/userinfo")[0]
            .header("authorization")
            .unwrap(),
        format!("Bearer {ACCESS_TOKEN}")
    );
}

// RFC 6749 §2.3.1: client_secret_post puts id and secret in the body (and no Basic header).
#[tokio::test]
async fn exchange_client_secret_post_puts_credentials_in_body() {
    let (stub, app) = setup().await;
    let cookie = register(&app, "stubpost").await;
    let r = send(
        &app,
        post("/auth/token", &token_body("stubpost"), Some(&cookie)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let calls = stub.calls_to("/token");
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.header("authorization"), None);
    assert_eq!(c.form_get("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(c.form_get("client_secret").as_deref(), Some(SECRET));
    assert!(
        c.body.contains("client_secret=a%2Bb%3Ac%25d%2Fe+f"),
        "{}",
        c.body
    );
}

// RFC 10017 §6.2.2.2 / docs/SECURITY.md A1: the refresh token never reaches the browser — not in a body,
// not readable in a cookie (encrypted); RFC 6749 §5.1 / docs/SECURITY.md S9: no-store + no-cache.
#[tokio::test]
async fn refresh_token_never_in_body_and_no_store() {
    let (stub, app) = setup().await;
    let cookie = register(&app, "stub").await;
    let r = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&cookie)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        !r.text.contains(REFRESH_TOKEN),
        "no refresh token in the body"
    );
    assert!(r.json.get("refresh_token").is_none());
    for c in r.set_cookies() {
        assert!(
            !c.contains(REFRESH_TOKEN),
            "the session cookie is encrypted"
        );
    }
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    // Refresh with the session cookie: rotated token also never in the body.
    stub.push_token(Reply::json(
        200,
        json!({"access_token": "at-2", "token_type": "bearer",
        "expires_in": 60, "refresh_token": REFRESH_TOKEN_2}),
    ));
    let session = r.cookie_header();
    let r2 = send(&app, post("/auth/refresh", &json!({}), Some(&session))).await;
    assert_eq!(r2.status, StatusCode::OK, "{}", r2.text);
    assert_eq!(r2.json["access_token"], "at-2");
    assert!(!r2.text.contains(REFRESH_TOKEN_2) && !r2.text.contains(REFRESH_TOKEN));
    assert_eq!(r2.header("cache-control"), Some("no-store"));
    let refresh_call = stub.calls_to("/token").pop().unwrap();
    assert_eq!(
        refresh_call.form_get("grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        refresh_call.form_get("refresh_token").as_deref(),
        Some(REFRESH_TOKEN)
    );
    // The rotated token is what the next refresh presents: it was stored in the session record,
    // so the same cookie (which the refresh did not rewrite) carries on.
    assert!(
        r2.set_cookies().is_empty(),
        "the refresh sets no cookie: {:?}",
        r2.set_cookies()
    );
    let r3 = send(&app, post("/auth/refresh", &json!({}), Some(&session))).await;
    assert_eq!(r3.status, StatusCode::OK, "{}", r3.text);
    let call3 = stub.calls_to("/token").pop().unwrap();
    assert_eq!(
        call3.form_get("refresh_token").as_deref(),
        Some(REFRESH_TOKEN_2)
    );
}

// RFC 6749 §4.1.1, §3.3: the backend builds the authorization URL — the request's `scope`
// replaces the profile's scopes and its extra parameters follow the profile's, in order.
#[tokio::test]
async fn transaction_reply_is_the_authorization_url_with_scope_and_extras() {
    let (stub, app) = setup().await;
    let mut body = tx_body("stub");
    body["scope"] = json!("read  write");
    body["extra_params"] = json!([["login_hint", "a b+c&d#e"], ["ui_locales", "de"]]);
    let r = send(&app, post("/auth/transactions", &body, None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.json["authorization_url"],
        format!(
            "{}?response_type=code&client_id=my+client\
             &redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&scope=read+write&state={STATE}\
             &code_challenge={CHALLENGE}&code_challenge_method=S256\
             &login_hint=a+b%2Bc%26d%23e&ui_locales=de",
            stub.url("/authorize")
        )
    );
    assert!(r.json.get("authorize").is_none(), "{}", r.text);
    // Without `scope` the profile's scopes stay.
    let r = send(&app, post("/auth/transactions", &tx_body("stub"), None)).await;
    assert_eq!(AuthUrl::of(&r).get("scope"), Some("profile"));
    assert!(stub.calls().is_empty(), "{:?}", stub.calls());
}

// RFC 9700 §4.2: no API response lets the page's URL (a callback's code) leave as `Referer`.
#[tokio::test]
async fn every_api_response_says_no_referrer() {
    let (_stub, app) = setup().await;
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    for r in [
        send(&app, post("/auth/transactions", &tx_body("stub"), None)).await,
        send(&app, post("/auth/token", &token_body("stub"), None)).await,
        send(&app, get("/auth/config")).await,
        send(&app, get("/auth/healthz")).await,
        send(&app, get("/auth/nope")).await,
    ] {
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{r:?}");
    }
}

// RFC 6749 §3.1 (no parameter twice), §3.3 (scope syntax): a clash in what the browser asks
// for is the browser's bad request — 400 invalid_request, no cookie, no outbound call.
#[tokio::test]
async fn transaction_request_clashes_are_invalid_request() {
    let (stub, app) = setup().await;
    for (scope, extras) in [
        (None, json!([["state", "x"]])),
        (None, json!([["client_id", "x"]])),
        (None, json!([["client_secret", "x"]])),
        (None, json!([["code_verifier", "x"]])),
        (None, json!([["", "x"]])),
        (None, json!([["a", "1"], ["a", "2"]])),
        (Some("openid \"profile\""), json!([])),
    ] {
        let mut body = tx_body("stub");
        body["extra_params"] = extras.clone();
        if let Some(scope) = scope {
            body["scope"] = json!(scope);
        }
        let r = send(&app, post("/auth/transactions", &body, None)).await;
        assert_error(&r, 400, "invalid_request");
        assert!(
            r.set_cookies().is_empty(),
            "{extras}: {:?}",
            r.set_cookies()
        );
        assert!(!r.text.contains(SECRET));
    }
    assert!(stub.calls().is_empty(), "{:?}", stub.calls());
}

// RFC 10017 §6.1.3.2: cookies are `__Host-`, Secure, HttpOnly, SameSite=Strict, Path=/,
// no Domain; the tx cookie lives ≤ 600 s.
#[tokio::test]
async fn cookie_attributes_are_exact() {
    let (_stub, app) = setup().await;
    let r = send(&app, post("/auth/transactions", &tx_body("stub"), None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let set = r.set_cookies();
    assert_eq!(set.len(), 1);
    let c = &set[0];
    // One cookie per sign-in, named after its state (parallel tabs, docs/SECURITY.md F1).
    assert!(c.starts_with(&format!("{}=", tx_cookie_name(STATE))), "{c}");
    let attrs: Vec<&str> = c.split(';').skip(1).map(str::trim).collect();
    let mut sorted = attrs.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        vec![
            "HttpOnly",
            "Max-Age=600",
            "Path=/",
            "SameSite=Strict",
            "Secure"
        ],
        "{c}"
    );
    assert!(!c.to_ascii_lowercase().contains("domain"));
    assert!(
        !c.contains(STATE) && !c.contains(CHALLENGE),
        "the cookie is encrypted"
    );
    // The reply carries the finished authorization URL with this request's values.
    let a = AuthUrl::of(&r);
    assert_eq!(a.get("client_id"), Some(CLIENT_ID));
    assert_eq!(a.get("redirect_uri"), Some("https://app.example/callback"));
    assert_eq!(a.get("state"), Some(STATE));
    assert_eq!(a.get("code_challenge"), Some(CHALLENGE));
    assert_eq!(a.get("code_challenge_method"), Some("S256"));
    assert_eq!(r.json["expires_in"], 600);
    // The session cookie has the same attributes.
    let r = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&r.cookie_header())),
    )
    .await;
    let session = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-authsplit-session="))
        .unwrap();
    for a in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(
            session.split(';').map(str::trim).any(|x| x == a),
            "{a} in {session}"
        );
    }
    assert!(!session.to_ascii_lowercase().contains("domain"));
}

// docs/SECURITY.md A5: plain-http loopback may relax `Secure` by explicit configuration only —
// insecure_dev_cookies drops Secure and the __Host- prefix (which requires Secure), nothing else.
#[tokio::test]
async fn insecure_dev_cookies_drop_secure_and_prefix() {
    let stub = Stub::start().await;
    let mut cfg = base_config(&stub);
    cfg.server.insecure_dev_cookies = true;
    let app = app_with(cfg, None);
    let r = send(&app, post("/auth/transactions", &tx_body("stub"), None)).await;
    let c = &r.set_cookies()[0];
    assert!(
        c.starts_with(&format!("{}=", &tx_cookie_name(STATE)["__Host-".len()..])),
        "{c}"
    );
    assert!(!c.contains("Secure"));
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"));
}

// docs/SECURITY.md S10: one refresh at a time per session; concurrent callers presenting the same
// old refresh token share one upstream result, so rotation never burns the grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_share_one_upstream_call() {
    let (stub, app) = setup().await;
    let r = exchange(&app, "stub").await;
    let session = r.cookie_header();
    let mut slow = Reply::json(
        200,
        json!({"access_token": "at-shared", "token_type": "bearer",
        "refresh_token": REFRESH_TOKEN_2}),
    );
    slow.delay_ms = 300;
    stub.push_token(slow);
    let before = stub.token_calls();
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let app = app.clone();
        let session = session.clone();
        tasks.push(tokio::spawn(async move {
            send(&app, post("/auth/refresh", &json!({}), Some(&session))).await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["access_token"], "at-shared");
    }
    assert_eq!(
        stub.token_calls() - before,
        1,
        "one upstream refresh for five callers"
    );
}

// RFC 10017 §6.2.2.2: refresh works only through the backend-held session; without one,
// /refresh is 401 not_authenticated and /logout is a harmless no-op — zero provider calls.
#[tokio::test]
async fn refresh_without_session_is_not_authenticated() {
    let (stub, app) = setup().await;
    let r = send(&app, post("/auth/refresh", &json!({}), None)).await;
    assert_error(&r, 401, "not_authenticated");
    let r = send(&app, post("/auth/logout", &json!({}), None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["revoked"], false);
    assert_eq!(stub.calls().len(), 0);
}

// RFC 7009 §2.1: logout revokes the refresh token with client authentication; cookies cleared;
// OIDC RP-Initiated Logout §2: end-session URL returned.
#[tokio::test]
async fn logout_revokes_and_clears() {
    let (stub, app) = setup().await;
    let r = exchange(&app, "stub").await;
    let session = r.cookie_header();
    let r = send(&app, post("/auth/logout", &json!({}), Some(&session))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["revoked"], true);
    let end = r.json["end_session_url"].as_str().unwrap();
    assert!(
        end.starts_with(&stub.url("/logout?client_id=my+client")),
        "{end}"
    );
    let rev = stub.calls_to("/revoke");
    assert_eq!(rev.len(), 1);
    assert_eq!(rev[0].form_get("token").as_deref(), Some(REFRESH_TOKEN));
    assert_eq!(
        rev[0].form_get("token_type_hint").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        rev[0].header("authorization").unwrap(),
        format!("Basic {}", b64("my+client:a%2Bb%3Ac%25d%2Fe+f"))
    );
    let cleared: Vec<_> = r.set_cookies();
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("__Host-authsplit-session=;") && c.contains("Max-Age=0"))
    );
    assert!(!r.text.contains(REFRESH_TOKEN));
}

// RFC 6749 §5.2 + docs/SECURITY.md S7, S8: provider errors are typed; exactly one call, no retry.
#[tokio::test]
async fn provider_errors_are_typed_and_never_retried() {
    let (stub, app) = setup().await;
    let cases = [
        (
            Reply::json(
                400,
                json!({"error": "invalid_grant", "error_description": "code used"}),
            ),
            400,
            "invalid_grant",
        ),
        (
            Reply::json(401, json!({"error": "invalid_client"})),
            502,
            "invalid_client",
        ),
        (
            Reply {
                status: 503,
                content_type: "text/plain",
                body: "busy".into(),
                extra: vec![("retry-after", "7".into())],
                delay_ms: 0,
            },
            503,
            "provider_unavailable",
        ),
        (
            Reply {
                status: 200,
                content_type: "text/html",
                body: "<html>login</html>".into(),
                extra: vec![],
                delay_ms: 0,
            },
            502,
            "provider_bad_response",
        ),
        (
            Reply {
                status: 302,
                content_type: "text/plain",
                body: String::new(),
                extra: vec![("location", "http://127.0.0.1:1/".into())],
                delay_ms: 0,
            },
            502,
            "provider_bad_response",
        ),
    ];
    for (reply, status, code) in cases {
        stub.push_token(reply);
        let before = stub.token_calls();
        let r = exchange(&app, "stub").await;
        assert_error(&r, status, code);
        assert_eq!(stub.token_calls() - before, 1, "{code}: exactly one call");
        if code == "invalid_grant" {
            assert_eq!(r.json["provider_error"], "invalid_grant");
        }
        if code == "provider_unavailable" {
            assert_eq!(r.header("retry-after"), Some("7"));
        }
        assert!(
            r.set_cookies()
                .iter()
                .all(|c| !c.starts_with("__Host-authsplit-session=") || c.contains("Max-Age=0"))
        );
    }
    assert_eq!(stub.calls_to("/userinfo").len(), 0);
}

// docs/SECURITY.md S15: total timeout → 504 provider_timeout; connection refused → 502
// provider_unreachable (retryable); the response size is capped.
#[tokio::test]
async fn timeouts_refused_connections_and_huge_bodies() {
    let stub = Stub::start().await;
    let mut cfg = base_config(&stub);
    cfg.server.request_timeout_ms = 300;
    cfg.server.max_response_bytes = 4096;
    // A provider whose token endpoint refuses connections (port 1 on loopback).
    let mut dead = stub_provider(&stub, ClientAuth::Basic);
    dead.token_endpoint = Some("http://127.0.0.1:1/token".into());
    cfg.providers.insert("dead".into(), dead);
    let app = app_with(cfg, None);

    let mut slow = default_token_reply();
    slow.delay_ms = 2000;
    stub.push_token(slow);
    let cookie = register(&app, "stub").await;
    let t0 = std::time::Instant::now();
    let r = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&cookie)),
    )
    .await;
    assert_error(&r, 504, "provider_timeout");
    assert!(
        t0.elapsed() < std::time::Duration::from_millis(1500),
        "fails near the deadline"
    );
    assert_eq!(r.json["class"], "retryable");

    stub.push_token(Reply::json(
        200,
        json!({"access_token": "x".repeat(10_000), "token_type": "bearer"}),
    ));
    let r = exchange(&app, "stub").await;
    assert_error(&r, 502, "provider_bad_response");

    let r = exchange(&app, "dead").await;
    assert_error(&r, 502, "provider_unreachable");
    assert_eq!(r.json["class"], "retryable");
}

// docs/SECURITY.md S14: GET /config lists providers (id, name) and never a secret; /healthz answers;
// unknown routes and methods get the JSON error body, not a bare status.
#[tokio::test]
async fn config_and_healthz() {
    let (_stub, app) = setup().await;
    let get = |p: &str| {
        axum::http::Request::builder()
            .uri(p)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let r = send(&app, get("/auth/config")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["providers"][0]["id"], "stub");
    assert_eq!(r.json["providers"][0]["name"], "Stub");
    assert!(!r.text.contains(SECRET) && !r.text.contains("client_secret"));
    let r = send(&app, get("/auth/healthz")).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&app, get("/auth/token")).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text);
    assert_eq!(r.error(), "invalid_request");
    let r = send(&app, get("/auth/nothing-here")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "invalid_request");
}

// Demo API: bearer token validated at userinfo; no token → 401 + WWW-Authenticate (RFC 6750 §3).
#[tokio::test]
async fn demo_api_hello() {
    let stub = Stub::start().await;
    let cfg = authsplit_server::Config::builder()
        .cookie_key_bytes(&[3u8; 64])
        .provider("stub", stub_provider(&stub, ClientAuth::Basic))
        .build();
    let app = app_with(cfg, None);
    let get = |auth: Option<&str>| {
        let mut b = axum::http::Request::builder().uri("/api/hello");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(axum::body::Body::empty()).unwrap()
    };
    let r = send(&app, get(None)).await;
    assert_error(&r, 401, "not_authenticated");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = send(&app, get(Some("Bearer some-token"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["message"], "Hello, Ada!");
    assert_eq!(
        stub.calls_to("/userinfo")[0].header("authorization"),
        Some("Bearer some-token")
    );
    *stub.inner.userinfo.lock().unwrap() =
        Some(Reply::json(401, json!({"error": "invalid_token"})));
    let r = send(&app, get(Some("Bearer bad"))).await;
    assert_error(&r, 401, "not_authenticated");
}

// RFC 6265 §6.1 (browsers keep ≥ 4096 bytes per cookie, not more): the session lives in the
// store, so even a long refresh token leaves one small session cookie (its opaque id), which
// carries no token; the refresh presents the whole token upstream; chunk cookies an earlier
// cookie format left behind are deleted on the next write.
#[tokio::test]
async fn long_refresh_token_stays_server_side_in_one_small_cookie() {
    let (stub, app) = setup().await;
    let long_rt = format!("rt-{}", "L".repeat(3500));
    stub.push_token(Reply::json(
        200,
        json!({"access_token": ACCESS_TOKEN, "token_type": "bearer",
        "refresh_token": long_rt}),
    ));
    let cookie = register(&app, "stub").await;
    let r = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&cookie)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let session: Vec<String> = r
        .set_cookies()
        .into_iter()
        .filter(|c| c.starts_with("__Host-authsplit-session"))
        .collect();
    assert_eq!(session.len(), 1, "{session:?}");
    for c in &session {
        let name_value = c.split(';').next().unwrap();
        assert!(
            name_value.len() < 4000,
            "each cookie under the limit: {}",
            name_value.len()
        );
        assert!(c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Strict"));
        assert!(!c.contains(&long_rt[..40]));
    }
    // The next refresh presents the whole token; a stale chunk cookie is deleted.
    let with_stale_chunk = format!("{}; __Host-authsplit-session-1=stale", r.cookie_header());
    let r2 = send(
        &app,
        post("/auth/refresh", &json!({}), Some(&with_stale_chunk)),
    )
    .await;
    assert_eq!(r2.status, StatusCode::OK, "{}", r2.text);
    assert_eq!(
        stub.calls_to("/token")
            .pop()
            .unwrap()
            .form_get("refresh_token")
            .as_deref(),
        Some(long_rt.as_str())
    );
    let set = r2.set_cookies();
    assert!(
        set.iter()
            .any(|c| c.starts_with("__Host-authsplit-session-1=;") && c.contains("Max-Age=0")),
        "{set:?}"
    );
    // A damaged session cookie makes the session unreadable (never a wrong token upstream).
    let whole = r.cookie_header();
    let damaged = &whole[..whole.len() - 4];
    let before = stub.token_calls();
    let r3 = send(&app, post("/auth/refresh", &json!({}), Some(damaged))).await;
    assert_error(&r3, 401, "not_authenticated");
    assert_eq!(stub.token_calls(), before);
}

// RFC 7009 §2.1 + docs/SECURITY.md S10: a logout racing an in-flight refresh waits for it and
// revokes the rotated token too; the ended session cannot be refreshed again (zero calls).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logout_during_refresh_revokes_the_rotated_token() {
    let (stub, app) = setup().await;
    let cookie = register(&app, "stub").await;
    let r = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&cookie)),
    )
    .await;
    let session = r.cookie_header();
    let mut slow = Reply::json(
        200,
        json!({"access_token": "at-2", "token_type": "bearer",
        "refresh_token": REFRESH_TOKEN_2}),
    );
    slow.delay_ms = 400;
    stub.push_token(slow);
    let refreshing = {
        let (app, session) = (app.clone(), session.clone());
        tokio::spawn(
            async move { send(&app, post("/auth/refresh", &json!({}), Some(&session))).await },
        )
    };
    // Logout once the refresh is in flight at the provider.
    for _ in 0..200 {
        if stub.token_calls() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(stub.token_calls(), 2, "exchange + the in-flight refresh");
    let lo = send(&app, post("/auth/logout", &json!({}), Some(&session))).await;
    assert_eq!(lo.status, StatusCode::OK, "{}", lo.text);
    let rr = refreshing.await.unwrap();
    let revoked: Vec<String> = stub
        .calls_to("/revoke")
        .iter()
        .filter_map(|c| c.form_get("token"))
        .collect();
    assert!(
        revoked.contains(&REFRESH_TOKEN_2.to_owned()),
        "the rotated token is revoked: {revoked:?}"
    );
    assert!(revoked.contains(&REFRESH_TOKEN.to_owned()));
    // Whatever cookie the refresh reply set, the session is over (ended, not merely absent).
    let calls = stub.token_calls();
    for cookie in [session, rr.cookie_header()] {
        if cookie.is_empty() {
            continue;
        }
        let again = send(&app, post("/auth/refresh", &json!({}), Some(&cookie))).await;
        assert_error(&again, 401, "session_ended");
    }
    assert_eq!(stub.token_calls(), calls, "no refresh after logout");
}

// docs/SECURITY.md S14: a provider that echoes the request (code, verifier, client secret in any
// encoding) in its error text does not get those values to the browser.
#[tokio::test]
async fn echoed_secrets_are_scrubbed_from_provider_errors() {
    let (stub, app) = setup().await;
    let echo = format!(
        "bad code {CODE} for client secret {SECRET} ({}), verifier {VERIFIER}",
        "a%2Bb%3Ac%25d%2Fe+f"
    );
    stub.push_token(Reply::json(
        400,
        json!({"error": "invalid_grant", "error_description": echo}),
    ));
    let r = exchange(&app, "stub").await;
    assert_error(&r, 400, "invalid_grant");
    let desc = r.json["provider_error_description"].as_str().unwrap();
    assert!(desc.contains("[redacted]"), "{desc}");
    for secret in [CODE, SECRET, "a%2Bb%3Ac%25d%2Fe+f", VERIFIER] {
        assert!(!r.text.contains(secret), "{secret} echoed: {}", r.text);
    }
    // The same for an HTML error page (the snippet goes to the log, not the body).
    stub.push_token(Reply {
        status: 500,
        content_type: "text/html",
        body: format!("<p>{echo}</p>"),
        extra: vec![],
        delay_ms: 0,
    });
    let r = exchange(&app, "stub").await;
    assert_eq!(r.status.as_u16(), 502, "{}", r.text);
    for secret in [CODE, SECRET, VERIFIER] {
        assert!(!r.text.contains(secret), "{secret} echoed: {}", r.text);
    }
}

// docs/SECURITY.md S15: one deadline for the whole POST /token (token + userinfo), so the browser
// gets an answer within request_timeout_ms + ε, not one timeout per upstream call.
#[tokio::test]
async fn whole_exchange_has_one_deadline() {
    let stub = Stub::start().await;
    let mut cfg = base_config(&stub);
    cfg.server.request_timeout_ms = 700;
    let app = app_with(cfg, None);
    let mut slow = default_token_reply();
    slow.delay_ms = 450;
    stub.push_token(slow);
    let mut hanging = Reply::json(200, json!({"sub": "user-1"}));
    hanging.delay_ms = 5000;
    *stub.inner.userinfo.lock().unwrap() = Some(hanging);
    let cookie = register(&app, "stub").await;
    let t0 = std::time::Instant::now();
    let r = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&cookie)),
    )
    .await;
    let took = t0.elapsed();
    assert_error(&r, 504, "provider_timeout");
    assert!(
        took < std::time::Duration::from_millis(700 + 250),
        "took {took:?}"
    );
    assert_eq!(stub.token_calls(), 1);
}

// RFC 7009 §2.2.1 / docs/SECURITY.md S12: a 503 + Retry-After at revocation is retried later (in the
// background, bounded); logout itself answers at once with revoked=false.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_503_is_retried_after_retry_after() {
    let (stub, app) = setup().await;
    let r = exchange(&app, "stub").await;
    *stub.inner.revoke.lock().unwrap() = Some(Reply {
        status: 503,
        content_type: "text/plain",
        body: "busy".into(),
        extra: vec![("retry-after", "1".into())],
        delay_ms: 0,
    });
    let lo = send(
        &app,
        post("/auth/logout", &json!({}), Some(&r.cookie_header())),
    )
    .await;
    assert_eq!(lo.status, StatusCode::OK, "{}", lo.text);
    assert_eq!(lo.json["revoked"], false);
    assert_eq!(stub.calls_to("/revoke").len(), 1);
    *stub.inner.revoke.lock().unwrap() = None; // 200 from now on
    let t0 = std::time::Instant::now();
    while stub.calls_to("/revoke").len() < 2 && t0.elapsed() < std::time::Duration::from_secs(5) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let calls = stub.calls_to("/revoke");
    assert_eq!(calls.len(), 2, "one retry after Retry-After, then done");
    assert_eq!(calls[1].form_get("token").as_deref(), Some(REFRESH_TOKEN));
}

// docs/SECURITY.md S8, S15: with the per-provider cap full, an exchange that would get its slot
// only at the deadline is not sent at all (it could only burn the code); it fails with
// provider_timeout and its transaction stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exchange_without_a_slot_in_time_is_not_sent() {
    let stub = Stub::start().await;
    let mut cfg = base_config(&stub);
    cfg.server.max_concurrent_requests = 1;
    cfg.server.request_timeout_ms = 800;
    let app = app_with(cfg, None);
    let mut hang = default_token_reply();
    hang.delay_ms = 5000;
    stub.push_token(hang);
    let cookie_a = register(&app, "stub").await;
    let cookie_b = register(&app, "stub").await;
    let a = {
        let (app, cookie_a) = (app.clone(), cookie_a.clone());
        tokio::spawn(async move {
            send(
                &app,
                post("/auth/token", &token_body("stub"), Some(&cookie_a)),
            )
            .await
        })
    };
    // Wait until A holds the only slot (its request reached the stub).
    for _ in 0..200 {
        if stub.token_calls() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(stub.token_calls(), 1);
    let t0 = std::time::Instant::now();
    let b = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&cookie_b)),
    )
    .await;
    assert_error(&b, 504, "provider_timeout");
    assert!(
        t0.elapsed() < std::time::Duration::from_millis(800),
        "{:?}",
        t0.elapsed()
    );
    assert_error(&a.await.unwrap(), 504, "provider_timeout");
    assert_eq!(
        stub.token_calls(),
        1,
        "the second exchange never reached the provider"
    );
    // The code was never sent, so the same transaction still works.
    let b2 = send(
        &app,
        post("/auth/token", &token_body("stub"), Some(&cookie_b)),
    )
    .await;
    assert_eq!(b2.status, StatusCode::OK, "{}", b2.text);
    assert_eq!(stub.token_calls(), 2);
}
