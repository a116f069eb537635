//! Findings of the security review: parallel sign-ins (one tx cookie per state), the bound on
//! pending sign-ins, revocation of tokens dropped after a failed validation, connection refused
//! keeping the transaction usable, the minimum `state` length, and CORS on foreign preflights.

#![allow(missing_docs, clippy::unwrap_used)]

use authsplit_server::ClientAuth;
use authsplit_test_support::*;
use axum::http::StatusCode;
use serde_json::json;

/// A distinct valid state (≥ 32 chars) per index.
fn state_n(i: usize) -> String {
    format!("st-{i:02}-0123456789abcdefghijklmnopqrstuvwxyzAB")
}

// docs/SECURITY.md F1 (callback in a different tab), RFC 6749 §10.12: two sign-ins started in two tabs
// of one browser both complete; each /token clears only its own transaction cookie.
#[tokio::test]
async fn parallel_sign_ins_in_two_tabs_both_complete() {
    let stub = Stub::start().await;
    let app = app_with(base_config(&stub), None);
    let mut jar = Jar::default();
    let (s1, s2) = (state_n(1), state_n(2));
    for s in [&s1, &s2] {
        let r = send(
            &app,
            post(
                "/auth/transactions",
                &tx_body_with("stub", s),
                Some(&jar.header()),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        jar.apply(&r);
    }
    assert_eq!(
        jar.tx_names(),
        {
            let mut v = vec![tx_cookie_name(&s1), tx_cookie_name(&s2)];
            v.sort();
            v
        },
        "one cookie per pending sign-in"
    );
    // Tab 1's callback completes and clears only tab 1's cookie.
    let r = send(
        &app,
        post(
            "/auth/token",
            &token_body_with("stub", &s1, "code-tab-1"),
            Some(&jar.header()),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let cleared: Vec<String> = r
        .set_cookies()
        .into_iter()
        .filter(|c| c.contains("Max-Age=0"))
        .collect();
    assert_eq!(cleared.len(), 1, "{cleared:?}");
    assert!(cleared[0].starts_with(&format!("{}=", tx_cookie_name(&s1))));
    jar.apply(&r);
    assert_eq!(jar.tx_names(), vec![tx_cookie_name(&s2)]);
    // Tab 2's callback still completes.
    let r = send(
        &app,
        post(
            "/auth/token",
            &token_body_with("stub", &s2, "code-tab-2"),
            Some(&jar.header()),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(stub.token_calls(), 2);
    // A state of no pending sign-in, while others are pending: state_mismatch, no call.
    let r = send(
        &app,
        post(
            "/auth/token",
            &token_body_with("stub", &state_n(3), "code-3"),
            Some(&jar.header()),
        ),
    )
    .await;
    assert_error(&r, 400, "state_mismatch");
    assert_eq!(stub.token_calls(), 2);
}

// Bounded cookies per browser: registering a 9th pending sign-in evicts the oldest one.
#[tokio::test]
async fn at_most_eight_pending_sign_ins_per_browser() {
    let stub = Stub::start().await;
    let clock = TestClock::new();
    let app = app_with(base_config(&stub), Some(&clock));
    let mut jar = Jar::default();
    for i in 0..9 {
        let r = send(
            &app,
            post(
                "/auth/transactions",
                &tx_body_with("stub", &state_n(i)),
                Some(&jar.header()),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let removed = r
            .set_cookies()
            .iter()
            .filter(|c| c.contains("Max-Age=0"))
            .count();
        assert_eq!(removed, usize::from(i == 8), "registration {i}");
        jar.apply(&r);
        clock.advance(1);
    }
    let names = jar.tx_names();
    assert_eq!(names.len(), 8);
    assert!(
        !names.contains(&tx_cookie_name(&state_n(0))),
        "the oldest is gone"
    );
    // The evicted sign-in's callback fails cleanly (its state matches no pending sign-in),
    // the newest one works.
    let r = send(
        &app,
        post(
            "/auth/token",
            &token_body_with("stub", &state_n(0), "code-0"),
            Some(&jar.header()),
        ),
    )
    .await;
    assert_error(&r, 400, "state_mismatch");
    let r = send(
        &app,
        post(
            "/auth/token",
            &token_body_with("stub", &state_n(8), "code-8"),
            Some(&jar.header()),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Expired ones are deleted at the next registration.
    clock.advance(600);
    let r = send(
        &app,
        post(
            "/auth/transactions",
            &tx_body_with("stub", &state_n(20)),
            Some(&jar.header()),
        ),
    )
    .await;
    jar.apply(&r);
    assert_eq!(jar.tx_names(), vec![tx_cookie_name(&state_n(20))]);
}

/// Waits (≤ 5 s) until the stub saw `n` calls to `path`.
async fn wait_calls(stub: &Stub, path: &str, n: usize) -> Vec<Call> {
    let t0 = std::time::Instant::now();
    while stub.calls_to(path).len() < n && t0.elapsed() < std::time::Duration::from_secs(5) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stub.calls_to(path)
}

// RFC 7009 §2.1 (docs/SECURITY.md S12): when the sign-in fails after the token response (here:
// userinfo answers 500), the issued refresh and access tokens are revoked, not just dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_a_failed_sign_in_are_revoked() {
    let (stub, app) = {
        let stub = Stub::start().await;
        let app = app_with(base_config(&stub), None);
        (stub, app)
    };
    *stub.inner.userinfo.lock().unwrap() = Some(Reply::json(500, json!({"error": "boom"})));
    let r = exchange(&app, "stub").await;
    assert_error(&r, 502, "provider_bad_response");
    assert!(!r.text.contains(ACCESS_TOKEN) && !r.text.contains(REFRESH_TOKEN));
    let calls = wait_calls(&stub, "/revoke", 2).await;
    assert_eq!(calls.len(), 2, "refresh and access token revoked");
    assert_eq!(calls[0].form_get("token").as_deref(), Some(REFRESH_TOKEN));
    assert_eq!(
        calls[0].form_get("token_type_hint").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(calls[1].form_get("token").as_deref(), Some(ACCESS_TOKEN));
    assert_eq!(
        calls[1].form_get("token_type_hint").as_deref(),
        Some("access_token")
    );
    // Client authentication as at the token endpoint (RFC 7009 §2.1).
    assert!(calls[0].header("authorization").is_some());
    // A successful sign-in revokes nothing.
    *stub.inner.userinfo.lock().unwrap() = None;
    let r = exchange(&app, "stub").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(stub.calls_to("/revoke").len(), 2);
}

// docs/SECURITY.md S8: a refused connection provably never carried the code, so the transaction
// stays usable (no automatic retry); the user's retry succeeds once the provider is back.
#[tokio::test]
async fn connection_refused_keeps_the_transaction_usable() {
    // A loopback port with nothing listening (yet), kept from other tests meanwhile.
    let (port, socket) = authsplit_test_support::faults::refusing_port();
    let stub = Stub::start().await;
    let mut cfg = base_config(&stub);
    let mut p = stub_provider(&stub, ClientAuth::Basic);
    p.token_endpoint = Some(format!("http://127.0.0.1:{port}/token"));
    cfg.providers.insert("later".into(), p);
    let app = app_with(cfg, None);
    let cookie = register(&app, "later").await;
    let r = send(
        &app,
        post("/auth/token", &token_body("later"), Some(&cookie)),
    )
    .await;
    assert_error(&r, 502, "provider_unreachable");
    assert_eq!(r.json["class"], "retryable");
    assert!(
        r.set_cookies().is_empty(),
        "the tx cookie is kept: {:?}",
        r.set_cookies()
    );
    // The provider comes up on that port; the same transaction now completes, once.
    let back = Stub::start_on(socket.listen(64).unwrap()).await;
    let r = send(
        &app,
        post("/auth/token", &token_body("later"), Some(&cookie)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(back.token_calls(), 1);
    let r = send(
        &app,
        post("/auth/token", &token_body("later"), Some(&cookie)),
    )
    .await;
    assert_error(&r, 400, "transaction_used");
    assert_eq!(back.token_calls(), 1);
}

// RFC 6749 §10.10, RFC 9700 §2.1: a guessable state is refused at registration — fewer than
// 128 bits as hex (32 characters).
#[tokio::test]
async fn short_state_is_refused() {
    let stub = Stub::start().await;
    let app = app_with(base_config(&stub), None);
    for short in ["abc", &"a".repeat(21), &"a".repeat(31)] {
        let r = send(
            &app,
            post("/auth/transactions", &tx_body_with("stub", short), None),
        )
        .await;
        assert_error(&r, 400, "invalid_request");
        assert!(
            r.json["error_description"].as_str().unwrap().contains("32"),
            "{}",
            r.text
        );
        assert!(r.set_cookies().is_empty());
    }
    let r = send(
        &app,
        post(
            "/auth/transactions",
            &tx_body_with("stub", &"a".repeat(32)),
            None,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

// Fetch §3.2.3: a preflight from a foreign origin gets no CORS header at all — neither
// Allow-Origin nor Allow-Credentials; an allowed origin gets both.
#[tokio::test]
async fn foreign_preflight_gets_no_allow_credentials() {
    let stub = Stub::start().await;
    let app = app_with(base_config(&stub), None);
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
    let bad = send(&app, pre(FOREIGN)).await;
    assert!(bad.header("access-control-allow-origin").is_none());
    assert!(
        bad.header("access-control-allow-credentials").is_none(),
        "{:?}",
        bad.headers
    );
    let good = send(&app, pre(ORIGIN)).await;
    assert_eq!(good.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        good.header("access-control-allow-credentials"),
        Some("true")
    );
    // Also on actual (non-preflight) responses.
    let get = |origin: &str| {
        axum::http::Request::builder()
            .uri("/auth/config")
            .header("origin", origin)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    assert!(
        send(&app, get(FOREIGN))
            .await
            .header("access-control-allow-credentials")
            .is_none()
    );
    assert_eq!(
        send(&app, get(ORIGIN))
            .await
            .header("access-control-allow-credentials"),
        Some("true")
    );
}

/// Registers a transaction for `state`; returns its cookie header.
async fn open_tx(app: &axum::Router, state: &str) -> String {
    let r = send(
        app,
        post("/auth/transactions", &tx_body_with("stub", state), None),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.cookie_header()
}

/// Redeems `code` for `state` with `cookie`.
async fn redeem(app: &axum::Router, state: &str, code: &str, cookie: &str) -> Resp {
    send(
        app,
        post(
            "/auth/token",
            &token_body_with("stub", state, code),
            Some(cookie),
        ),
    )
    .await
}

// docs/SECURITY.md S8 and RFC 6749 §4.1.2 (a code is single use): the used-transaction set is
// bounded by `max_used_transactions`, but it must never forget a used id whose cookie is still
// valid — that would let the old cookie be redeemed a second time (found by
// bench/soak/replay-after-eviction.sh, now used-set-full.sh). When the set is full of live ids
// the exchange is refused with 503 before anything is sent, and the transaction stays usable.
#[tokio::test]
async fn full_used_set_refuses_instead_of_forgetting_a_used_transaction() {
    let stub = Stub::start().await;
    let clock = TestClock::new();
    let mut config = base_config(&stub);
    config.server.max_used_transactions = 1;
    let app = app_with(config, Some(&clock));
    let (a, b) = (state_n(1), state_n(2));

    // Sign-in A is redeemed: its id fills the set.
    let cookie_a = open_tx(&app, &a).await;
    let r = redeem(&app, &a, "code-a", &cookie_a).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(stub.token_calls(), 1);

    // Sign-in B while A's id is still live: refused, nothing sent.
    let cookie_b = open_tx(&app, &b).await;
    let r = redeem(&app, &b, "code-b", &cookie_b).await;
    assert_error(&r, 503, "provider_unavailable");
    assert_eq!(stub.token_calls(), 1, "a refused exchange is never sent");

    // A's old cookie is still refused: its id was not evicted.
    let r = redeem(&app, &a, "code-a", &cookie_a).await;
    assert_error(&r, 400, "transaction_used");
    assert_eq!(stub.token_calls(), 1);

    // Once A's transaction has expired its id can go, and B (re-registered) completes.
    clock.advance(601);
    let cookie_b = open_tx(&app, &b).await;
    let r = redeem(&app, &b, "code-b", &cookie_b).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(stub.token_calls(), 2);
}

// Soak finding (docs/BENCHMARKS.md "Load and soak"): anyone can open transactions and redeem
// them with made-up codes, so if those filled the strict used set every user would be locked
// out. A code the provider refused with an error response (RFC 6749 §5.2: no token issued)
// is remembered in a separate first-in-first-out set instead: its replay is still refused
// with nothing sent, but it never takes room from real sign-ins.
#[tokio::test]
async fn made_up_codes_cannot_lock_out_sign_ins() {
    let stub = Stub::start().await;
    let mut config = base_config(&stub);
    config.server.max_used_transactions = 3;
    let app = app_with(config, None);

    // Five exchanges with made-up codes, each refused by the provider (invalid_grant).
    let mut refused = Vec::new();
    for i in 0..5 {
        stub.push_token(Reply::json(
            400,
            json!({"error": "invalid_grant", "error_description": "bad code"}),
        ));
        let s = state_n(10 + i);
        let cookie = open_tx(&app, &s).await;
        let r = redeem(&app, &s, "made-up", &cookie).await;
        assert_error(&r, 400, "invalid_grant");
        refused.push((s, cookie));
    }
    assert_eq!(stub.token_calls(), 5);

    // The most recent refused transaction is still single use: its replay sends nothing.
    let (s, cookie) = refused.last().unwrap();
    let r = redeem(&app, s, "made-up", cookie).await;
    assert_error(&r, 400, "transaction_used");
    assert_eq!(stub.token_calls(), 5);

    // Real sign-ins still go through (the strict set holds only codes that may have worked).
    for i in 0..2 {
        let s = state_n(20 + i);
        let cookie = open_tx(&app, &s).await;
        let r = redeem(&app, &s, "good-code", &cookie).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    assert_eq!(stub.token_calls(), 7);

    // The oldest refused id was evicted (cap 3): its replay costs one more token request, which
    // the provider refuses again — no session, no lockout.
    stub.push_token(Reply::json(
        400,
        json!({"error": "invalid_grant", "error_description": "code already used"}),
    ));
    let (s, cookie) = &refused[0];
    let r = redeem(&app, s, "made-up", cookie).await;
    assert_error(&r, 400, "invalid_grant");
    assert_eq!(stub.token_calls(), 8);
}

// Issue 13: an exchange that yielded no tokens without a proper error response (here an HTML
// 500 from the token endpoint) is single use too, but kept as refused like a made-up code: such
// exchanges cannot fill the strict set and lock every user out either.
#[tokio::test]
async fn broken_token_replies_cannot_lock_out_sign_ins() {
    let stub = Stub::start().await;
    let mut config = base_config(&stub);
    config.server.max_used_transactions = 3;
    let app = app_with(config, None);

    let mut failed = Vec::new();
    for i in 0..5 {
        stub.push_token(Reply {
            status: 500,
            content_type: "text/html",
            body: "<html><body>Internal Server Error</body></html>".to_owned(),
            extra: Vec::new(),
            delay_ms: 0,
        });
        let s = state_n(30 + i);
        let cookie = open_tx(&app, &s).await;
        let r = redeem(&app, &s, "made-up", &cookie).await;
        assert_error(&r, 502, "provider_bad_response");
        failed.push((s, cookie));
    }
    assert_eq!(stub.token_calls(), 5);

    // Still single use: the replay of the last one sends nothing.
    let (s, cookie) = failed.last().unwrap();
    let r = redeem(&app, s, "made-up", cookie).await;
    assert_error(&r, 400, "transaction_used");
    assert_eq!(stub.token_calls(), 5);

    // Real sign-ins still go through.
    for i in 0..2 {
        let s = state_n(40 + i);
        let cookie = open_tx(&app, &s).await;
        let r = redeem(&app, &s, "good-code", &cookie).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    assert_eq!(stub.token_calls(), 7);
}

// A `/logout` carrying thousands of junk transaction-cookie names is answered with a bounded
// number of `Set-Cookie` headers (each name read could become one that clears it).
#[tokio::test]
async fn logout_with_thousands_of_junk_tx_cookies_is_bounded() {
    let stub = Stub::start().await;
    let app = app_with(base_config(&stub), None);
    let cookie = (0..5000u32)
        .map(|i| format!("__Host-authsplit-tx-{i:016x}=junk"))
        .collect::<Vec<_>>()
        .join("; ");
    let r = send(&app, post("/auth/logout", &json!({}), Some(&cookie))).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let n = r.set_cookies().len();
    assert!(
        (1..=20).contains(&n),
        "{n} Set-Cookie headers for 5000 junk names"
    );
    // Registering a sign-in with the same junk is bounded the same way.
    let r = send(
        &app,
        post("/auth/transactions", &tx_body("stub"), Some(&cookie)),
    )
    .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    assert!(r.set_cookies().len() <= 20, "{}", r.set_cookies().len());
    assert_eq!(stub.calls().len(), 0);
}
