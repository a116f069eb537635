//! OIDC path against the stub: discovery (exact issuer), ID token validation with a JWKS key
//! (EdDSA, RFC 8037), nonce binding, userinfo `sub` equality, and no secret in logs.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use authsplit_server::{ClientAuth, Config, ProviderConfig};
use axum::http::StatusCode;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use support::*;

/// RFC 8032 §7.1 test 1 key pair.
const ED_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const ED_PUB: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn signing_key() -> EncodingKey {
    // PKCS#8 v1 wrapper for an Ed25519 seed (RFC 8410 §7).
    let mut der = hex("302e020100300506032b657004220420");
    der.extend(hex(ED_SEED));
    EncodingKey::from_ed_der(&der)
}

fn jwks() -> Value {
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hex(ED_PUB));
    json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1", "alg": "EdDSA", "use": "sig"}]})
}

fn id_token(claims: &Value) -> String {
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("k1".into());
    jsonwebtoken::encode(&h, claims, &signing_key()).unwrap()
}

fn discovery(stub: &Stub, issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": stub.url("/authorize"),
        "token_endpoint": stub.url("/token"),
        "userinfo_endpoint": stub.url("/userinfo"),
        "revocation_endpoint": stub.url("/revoke"),
        "end_session_endpoint": stub.url("/session/end"),
        "jwks_uri": stub.url("/jwks"),
        "authorization_response_iss_parameter_supported": true
    })
}

fn oidc_config(stub: &Stub) -> Config {
    let p = ProviderConfig::oidc(
        &stub.base,
        CLIENT_ID,
        SECRET,
        "https://app.example/callback",
    )
    .client_auth(ClientAuth::ClientSecretBasic)
    .scopes(&["openid", "profile", "offline_access"]);
    Config::builder()
        .cookie_key_bytes(&[9u8; 64])
        .allowed_origin(ORIGIN)
        .provider("op", p)
        .build()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn good_claims(stub: &Stub) -> Value {
    json!({"iss": stub.base, "aud": CLIENT_ID, "sub": "user-1", "exp": now() + 300,
           "iat": now(), "nonce": NONCE})
}

fn token_reply_with(idt: String) -> Reply {
    Reply::json(
        200,
        json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer",
        "expires_in": 3600, "refresh_token": REFRESH_TOKEN, "id_token": idt}),
    )
}

async fn oidc_stub() -> Stub {
    let stub = Stub::start().await;
    *stub.inner.discovery.lock().unwrap() = Some(discovery(&stub, &stub.base));
    *stub.inner.jwks.lock().unwrap() = Some(jwks());
    stub
}

// OIDC Discovery §4.3 + OIDC Core §3.1.3.7 + §5.3.4: a full good exchange.
#[tokio::test]
async fn discovery_id_token_and_userinfo() {
    let stub = oidc_stub().await;
    let app = app_with(oidc_config(&stub), None);
    let r = send(&app, post("/auth/transactions", &tx_body("op"), None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["issuer"], stub.base.as_str());
    assert_eq!(r.json["require_iss"], true);
    assert_eq!(
        r.json["authorize"]["authorization_endpoint"],
        stub.url("/authorize")
    );
    let cookie = r.cookie_header();
    stub.push_token(token_reply_with(id_token(&good_claims(&stub))));
    let mut body = token_body("op");
    body["iss"] = json!(stub.base);
    let r = send(&app, post("/auth/token", &body, Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["id_token_claims"]["sub"], "user-1");
    assert_eq!(r.json["id_token_claims"]["nonce"], NONCE);
    assert_eq!(r.json["user"]["id"], "op:user-1");
    assert_eq!(r.json["user"]["email_verified"], true);
    assert_eq!(stub.token_calls(), 1);
    assert_eq!(
        stub.calls_to("/.well-known/openid-configuration").len(),
        1,
        "discovery cached"
    );
    // Logout: end-session URL with client_id (OIDC RP-Initiated Logout §2); the raw ID token
    // is never put into a body or a URL.
    let r = send(
        &app,
        post("/auth/logout", &json!({}), Some(&r.cookie_header())),
    )
    .await;
    let end = r.json["end_session_url"].as_str().unwrap();
    assert!(
        end.starts_with(&stub.url("/session/end?client_id=my+client"))
            && !end.contains("id_token_hint"),
        "{end}"
    );
}

// OIDC Core §3.1.3.7: a bad ID token (nonce, aud, iss, signature, alg) → invalid_id_token.
#[tokio::test]
async fn bad_id_tokens_are_refused() {
    let stub = oidc_stub().await;
    let app = app_with(oidc_config(&stub), None);
    let mut cases: Vec<(&str, String)> = Vec::new();
    for (k, v) in [
        ("nonce", json!("another-nonce")),
        ("aud", json!("someone-else")),
        ("iss", json!(format!("{}/", stub.base))),
        ("exp", json!(now() - 3600)),
    ] {
        let mut c = good_claims(&stub);
        c[k] = v;
        cases.push((k, id_token(&c)));
    }
    // Tampered payload (signature no longer matches).
    let good = id_token(&good_claims(&stub));
    let parts: Vec<&str> = good.split('.').collect();
    let mut evil = good_claims(&stub);
    evil["sub"] = json!("admin");
    let evil_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(evil.to_string());
    cases.push((
        "signature",
        format!("{}.{}.{}", parts[0], evil_payload, parts[2]),
    ));
    // alg none (RFC 8725 §3.1).
    let none_header =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#);
    cases.push(("alg none", format!("{}.{}.", none_header, parts[1])));
    for (what, idt) in cases {
        let cookie = register(&app, "op").await;
        stub.push_token(token_reply_with(idt));
        let r = send(&app, post("/auth/token", &token_body("op"), Some(&cookie))).await;
        assert_error(&r, 502, "invalid_id_token");
        assert!(r.json.get("access_token").is_none(), "{what}");
        assert!(
            r.set_cookies()
                .iter()
                .all(|c| !c.starts_with("__Host-authsplit-session=") || c.contains("Max-Age=0")),
            "{what}"
        );
    }
}

// OIDC Core §5.3.4: userinfo sub must equal the ID token's sub.
#[tokio::test]
async fn userinfo_sub_must_match() {
    let stub = oidc_stub().await;
    *stub.inner.userinfo.lock().unwrap() = Some(Reply::json(200, json!({"sub": "someone-else"})));
    let app = app_with(oidc_config(&stub), None);
    let cookie = register(&app, "op").await;
    stub.push_token(token_reply_with(id_token(&good_claims(&stub))));
    let r = send(&app, post("/auth/token", &token_body("op"), Some(&cookie))).await;
    assert_error(&r, 502, "invalid_id_token");
}

// OIDC Discovery §4.3: the discovered issuer must equal the configured one exactly.
#[tokio::test]
async fn issuer_mismatch_refuses_the_provider() {
    let stub = Stub::start().await;
    *stub.inner.discovery.lock().unwrap() = Some(discovery(&stub, &format!("{}/", stub.base)));
    let auth = authsplit_server::Authsplit::new(oidc_config(&stub)).unwrap();
    let failures = auth.warm_up().await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].1.code().as_str(), "discovery_failed");
    assert!(
        failures[0]
            .1
            .message
            .contains("differs from the configured")
    );
    let app = axum::Router::new().nest("/auth", auth.router());
    let r = send(&app, post("/auth/transactions", &tx_body("op"), None)).await;
    assert_error(&r, 502, "discovery_failed");
}

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

// REFERENCE §3.14: no code, verifier, token, secret or Authorization header in any log line —
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
    let _guard = tracing::subscriber::set_default(subscriber);

    let stub = oidc_stub().await;
    let app = app_with(oidc_config(&stub), None);
    let cookie = register(&app, "op").await;
    let idt = id_token(&good_claims(&stub));
    stub.push_token(token_reply_with(idt.clone()));
    let r = send(&app, post("/auth/token", &token_body("op"), Some(&cookie))).await;
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
    let r = send(&app, post("/auth/token", &token_body("op"), Some(&cookie))).await;
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
    std::io::stderr().flush().ok();
}
