//! OIDC Back-Channel Logout 1.0 (§2.4–§2.8) through the router: a logout token from the
//! provider ends the matching sessions in the store, and every malformed, forged or replayed
//! token is refused with 400 while nothing is ended (docs/SECURITY.md S18).

#![allow(missing_docs, clippy::unwrap_used)]

use authsplit_test_support::oidc::*;
use authsplit_test_support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Signs in one browser through the stub with an ID token carrying `sid` and `sub`; returns its
/// cookie header.
async fn sign_in(stub: &Stub, app: &axum::Router, n: u32, sid: &str, sub: &str) -> String {
    let state = format!("{:064x}", 0xb0c1_u64 + u64::from(n));
    let r = send(
        app,
        post("/auth/transactions", &tx_body_with("op", &state), None),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let cookie = r.cookie_header();
    let mut claims = good_claims(stub);
    claims["sid"] = json!(sid);
    claims["sub"] = json!(sub);
    stub.push_token(token_reply_with(id_token(&claims)));
    *stub.inner.userinfo.lock().unwrap() = Some(Reply::json(200, json!({"sub": sub})));
    let mut body = token_body_with("op", &state, &format!("code-{n}"));
    body["iss"] = json!(stub.base);
    let r = send(app, post("/auth/token", &body, Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.cookie_header()
}

/// Whether the session behind `cookie` still refreshes (the stub answers with its default
/// token reply).
async fn alive(app: &axum::Router, cookie: &str) -> bool {
    let r = send(app, post("/auth/refresh", &json!({}), Some(cookie))).await;
    match r.status {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        s => panic!("unexpected refresh answer {s}: {}", r.text),
    }
}

fn logout_claims(stub: &Stub) -> Value {
    json!({"iss": stub.base, "aud": CLIENT_ID, "iat": now(), "exp": now() + 120,
           "jti": format!("jti-{}", rand_suffix()), "sid": "sid-A",
           "events": {EVENT: {}}})
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn sign(claims: &Value) -> String {
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("k1".into());
    h.typ = Some("logout+jwt".into());
    jsonwebtoken::encode(&h, claims, &signing_key()).unwrap()
}

fn backchannel(provider: &str, body: String, content_type: &str) -> Request<Body> {
    Request::post(format!("/auth/backchannel-logout/{provider}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap()
}

async fn post_token(app: &axum::Router, token: &str) -> Resp {
    let body = format!("logout_token={}", url_encode(token));
    send(
        app,
        backchannel("op", body, "application/x-www-form-urlencoded"),
    )
    .await
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// §2.6–§2.7: a token with `sid` ends exactly the sessions of that provider session, once; the
// same token again is a replay (§2.6 step 8) and ends nothing more.
#[tokio::test]
async fn a_logout_token_ends_the_session_it_names_once() {
    let stub = oidc_stub().await;
    let app = app_with(oidc_config(&stub), None);
    let a = sign_in(&stub, &app, 1, "sid-A", "user-1").await;
    let b = sign_in(&stub, &app, 2, "sid-B", "user-1").await;
    let token = sign(&logout_claims(&stub));
    let calls = stub.token_calls();
    let r = post_token(&app, &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(
        stub.token_calls(),
        calls,
        "a back-channel logout calls no token endpoint"
    );
    assert!(!alive(&app, &a).await, "the session with sid-A is ended");
    assert!(
        alive(&app, &b).await,
        "the other provider session is untouched"
    );
    let r = post_token(&app, &token).await;
    assert_error(&r, 400, "invalid_request");
    assert!(alive(&app, &b).await);
}

// A session ended by a logout token is told apart from no session at all: the next call with
// its cookie fails `session_ended` (401), `GET /session` says signed out and why, and a
// request without a cookie stays `not_authenticated`.
#[tokio::test]
async fn a_session_ended_by_the_provider_answers_session_ended() {
    let stub = oidc_stub().await;
    let app = app_with(oidc_config(&stub), None);
    let a = sign_in(&stub, &app, 1, "sid-A", "user-1").await;
    let r = post_token(&app, &sign(&logout_claims(&stub))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let calls = stub.token_calls();
    let r = send(&app, post("/auth/refresh", &json!({}), Some(&a))).await;
    assert_error(&r, 401, "session_ended");
    assert_eq!(
        stub.token_calls(),
        calls,
        "nothing sent for an ended session"
    );
    let session = Request::get("/auth/session")
        .header("cookie", &a)
        .body(Body::empty())
        .unwrap();
    let r = send(&app, session).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json,
        json!({"authenticated": false, "user": null, "expiresAt": null, "ended": true})
    );
    let r = send(&app, post("/auth/refresh", &json!({}), None)).await;
    assert_error(&r, 401, "not_authenticated");
}

// §2.4: a token with only `sub` ends every session of that user at this provider.
#[tokio::test]
async fn a_logout_token_with_only_sub_ends_every_session_of_the_user() {
    let stub = oidc_stub().await;
    let app = app_with(oidc_config(&stub), None);
    let a = sign_in(&stub, &app, 1, "sid-A", "user-1").await;
    let b = sign_in(&stub, &app, 2, "sid-B", "user-1").await;
    let c = sign_in(&stub, &app, 3, "sid-C", "user-2").await;
    let mut claims = logout_claims(&stub);
    claims.as_object_mut().unwrap().remove("sid");
    claims["sub"] = json!("user-1");
    let r = post_token(&app, &sign(&claims)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!alive(&app, &a).await);
    assert!(!alive(&app, &b).await);
    assert!(alive(&app, &c).await, "another user's session is untouched");
}

// §2.6, §2.8: each forged or malformed token is refused with 400 and ends nothing.
#[tokio::test]
async fn forged_or_malformed_logout_tokens_end_nothing() {
    let stub = oidc_stub().await;
    let app = app_with(oidc_config(&stub), None);
    let a = sign_in(&stub, &app, 1, "sid-A", "user-1").await;
    let with = |k: &str, v: Value| {
        let mut c = logout_claims(&stub);
        c[k] = v;
        sign(&c)
    };
    let without = |k: &str| {
        let mut c = logout_claims(&stub);
        c.as_object_mut().unwrap().remove(k);
        sign(&c)
    };
    let unsigned = {
        let b64 = |v: &Value| b64(&v.to_string());
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none"})),
            b64(&logout_claims(&stub))
        )
    };
    let hmac = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &logout_claims(&stub),
        &EncodingKey::from_secret(b"the client secret is not a signing key"),
    )
    .unwrap();
    let tampered = {
        let t = sign(&logout_claims(&stub));
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        let mut c = logout_claims(&stub);
        c["sid"] = json!("sid-B");
        parts[1] = b64(&c.to_string());
        parts.join(".")
    };
    let id_token_instead = id_token(&{
        let mut c = good_claims(&stub);
        c["sid"] = json!("sid-A");
        c
    });
    let cases: Vec<(&str, String)> = vec![
        ("alg none", unsigned),
        ("HMAC", hmac),
        ("signature over other claims", tampered),
        ("wrong aud", with("aud", json!("another-client"))),
        ("wrong iss", with("iss", json!("https://evil.example"))),
        ("a nonce", with("nonce", json!(NONCE))),
        ("no events", without("events")),
        (
            "other event",
            with("events", json!({"http://example.com/other": {}})),
        ),
        ("no jti", without("jti")),
        ("expired", with("exp", json!(now() - 3600))),
        ("issued in the future", with("iat", json!(now() + 3600))),
        ("an ID token", id_token_instead),
        ("not a JWT", "not-a-jwt".to_owned()),
    ];
    for (name, token) in cases {
        let r = post_token(&app, &token).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}: {}", r.text);
        assert_eq!(r.error(), "invalid_request", "{name}");
    }
    // Requests that carry no token the way §2.5 says.
    let r = send(
        &app,
        backchannel("op", "token=x".into(), "application/x-www-form-urlencoded"),
    )
    .await;
    assert_error(&r, 400, "invalid_request");
    let token = sign(&logout_claims(&stub));
    let twice = format!("logout_token={0}&logout_token={0}", url_encode(&token));
    let r = send(
        &app,
        backchannel("op", twice, "application/x-www-form-urlencoded"),
    )
    .await;
    assert_error(&r, 400, "invalid_request");
    let json_body = json!({"logout_token": token}).to_string();
    let r = send(&app, backchannel("op", json_body, "application/json")).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    let r = send(
        &app,
        backchannel(
            "nope",
            format!("logout_token={token}"),
            "application/x-www-form-urlencoded",
        ),
    )
    .await;
    assert!(r.status.is_client_error(), "{}", r.text);
    assert!(
        alive(&app, &a).await,
        "no refused request ended the session"
    );
}

// A provider without signed tokens (plain OAuth 2.0) has nothing to check a logout token with.
#[tokio::test]
async fn a_provider_without_jwks_refuses_logout_tokens() {
    let stub = Stub::start().await;
    let app = app_with(base_config(&stub), None);
    let body = format!("logout_token={}", url_encode("a.b.c"));
    let r = send(
        &app,
        backchannel("stub", body, "application/x-www-form-urlencoded"),
    )
    .await;
    assert_error(&r, 400, "invalid_request");
}
