//! OIDC path against the stub: discovery (exact issuer), ID token validation with a JWKS key
//! (EdDSA, RFC 8037), nonce binding, userinfo `sub` equality.

#![allow(missing_docs, clippy::unwrap_used)]

use authsplit_server::{Config, ProviderConfig};
use authsplit_test_support::oidc::*;
use authsplit_test_support::*;
use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::json;

// OIDC Discovery §4.3 + OIDC Core §3.1.3.7 + §5.3.4: a full good exchange.
// OIDC Core §3.1.2.1: the nonce goes into the URL only for an OpenID request (`openid` among
// the scopes), decided by core for the URL and for the transaction alike.
#[tokio::test]
async fn nonce_only_in_an_openid_request() {
    let stub = oidc_stub().await;
    let app = app_with(oidc_config(&stub), None);
    let mut body = tx_body("op");
    body["scope"] = json!("profile email");
    let r = send(&app, post("/auth/transactions", &body, None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let a = AuthUrl::of(&r);
    assert_eq!(a.get("scope"), Some("profile email"));
    assert_eq!(a.get("nonce"), None, "{:?}", a.params);
    body["scope"] = json!("openid profile");
    let r = send(&app, post("/auth/transactions", &body, None)).await;
    assert_eq!(AuthUrl::of(&r).get("nonce"), Some(NONCE));
}

#[tokio::test]
async fn discovery_id_token_and_userinfo() {
    let stub = oidc_stub().await;
    let app = app_with(oidc_config(&stub), None);
    let r = send(&app, post("/auth/transactions", &tx_body("op"), None)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["issuer"], stub.base.as_str());
    assert_eq!(r.json["require_iss"], true);
    let a = AuthUrl::of(&r);
    assert_eq!(a.endpoint, stub.url("/authorize"));
    // OIDC Core §3.1.2.1: an OpenID request carries the transaction's nonce.
    assert!(a.names().contains(&"scope"), "{:?}", a.params);
    assert_eq!(a.get("nonce"), Some(NONCE));
    let cookie = r.cookie_header();
    let idt = id_token(&good_claims(&stub));
    stub.push_token(token_reply_with(idt.clone()));
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
    // Logout: end-session URL with the session's own ID token as id_token_hint and client_id
    // (OIDC RP-Initiated Logout 1.0 §2).
    let r = send(
        &app,
        post("/auth/logout", &json!({}), Some(&r.cookie_header())),
    )
    .await;
    let end = url::Url::parse(r.json["end_session_url"].as_str().unwrap()).unwrap();
    assert_eq!(
        end.as_str().split('?').next(),
        Some(stub.url("/session/end").as_str())
    );
    let q: std::collections::BTreeMap<String, String> = end.query_pairs().into_owned().collect();
    assert_eq!(q.get("client_id").map(String::as_str), Some("my client"));
    assert_eq!(q.get("id_token_hint"), Some(&idt), "{end}");
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
        let r = send(
            &app,
            post("/auth/token", &op_token_body(&stub), Some(&cookie)),
        )
        .await;
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
    let r = send(
        &app,
        post("/auth/token", &op_token_body(&stub), Some(&cookie)),
    )
    .await;
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

// RFC 9207 §2.4: when the provider advertises `authorization_response_iss_parameter_supported`,
// a callback without `iss` is refused (iss_missing) before any outbound call.
#[tokio::test]
async fn missing_iss_when_advertised_is_refused() {
    let stub = oidc_stub().await;
    let app = app_with(oidc_config(&stub), None);
    let cookie = register(&app, "op").await;
    let r = send(&app, post("/auth/token", &token_body("op"), Some(&cookie))).await;
    assert_error(&r, 400, "iss_missing");
    assert_eq!(stub.token_calls(), 0);
}

// OIDC Core §3.1.2.1 / §3.1.3.7 step 11: a provider whose ID tokens are validated needs a nonce
// on every transaction; one registered without it is refused before anything is stored, so no
// nonce-less transaction can later accept a victim's ID token.
#[tokio::test]
async fn transaction_without_nonce_is_refused_for_oidc() {
    let stub = oidc_stub().await;
    let app = app_with(oidc_config(&stub), None);
    let mut body = tx_body("op");
    body.as_object_mut().unwrap().remove("nonce");
    let r = send(&app, post("/auth/transactions", &body, None)).await;
    assert_error(&r, 400, "invalid_request");
    assert!(r.text.contains("nonce"), "{}", r.text);
    assert!(r.set_cookies().is_empty());
    assert_eq!(stub.token_calls(), 0);
}

// RFC 8414 §2 (metadata is informative): an explicitly configured client authentication is
// used even when discovery's `token_endpoint_auth_methods_supported` does not list it (some
// providers list only `none` yet take client secrets); an unset one is still chosen from the
// metadata, and with no usable method that is a configuration error.
#[tokio::test]
async fn explicit_client_auth_wins_over_discovery_metadata() {
    let stub = Stub::start().await;
    let mut doc = discovery(&stub, &stub.base);
    doc["token_endpoint_auth_methods_supported"] = json!(["none"]);
    *stub.inner.discovery.lock().unwrap() = Some(doc);
    *stub.inner.jwks.lock().unwrap() = Some(jwks());
    let app = app_with(oidc_config(&stub), None);
    let cookie = register(&app, "op").await;
    stub.push_token(token_reply_with(id_token(&good_claims(&stub))));
    let r = send(
        &app,
        post("/auth/token", &op_token_body(&stub), Some(&cookie)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let calls = stub.calls_to("/token");
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0]
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic ")),
        "client_secret_basic as configured"
    );

    // Not configured: chosen from the metadata, which offers nothing usable.
    let p = ProviderConfig::oidc(
        &stub.base,
        CLIENT_ID,
        SECRET,
        "https://app.example/callback",
    )
    .scopes(&["openid"]);
    let cfg = Config::builder()
        .cookie_key_bytes(&[9u8; 64])
        .allowed_origin(ORIGIN)
        .provider("op", p)
        .build();
    let failures = authsplit_server::Authsplit::new(cfg)
        .unwrap()
        .warm_up()
        .await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].1.code().as_str(), "configuration");
    assert!(
        failures[0]
            .1
            .message
            .contains("neither client_secret_basic")
    );
}

// RFC 9700 §2.1.1 / RFC 7636 §4.2: PKCE is never dropped because discovery lists only `plain`;
// the provider is refused with a configuration error and no transaction is registered.
#[tokio::test]
async fn discovery_without_s256_refuses_the_provider() {
    let stub = Stub::start().await;
    let mut doc = discovery(&stub, &stub.base);
    doc["code_challenge_methods_supported"] = json!(["plain"]);
    *stub.inner.discovery.lock().unwrap() = Some(doc);
    let auth = authsplit_server::Authsplit::new(oidc_config(&stub)).unwrap();
    let failures = auth.warm_up().await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].1.code().as_str(), "configuration");
    assert!(
        failures[0].1.message.contains("S256"),
        "{}",
        failures[0].1.message
    );
    let app = axum::Router::new().nest("/auth", auth.router());
    let r = send(&app, post("/auth/transactions", &tx_body("op"), None)).await;
    assert_eq!(r.json["error"], "configuration", "{}", r.text);
    assert!(r.set_cookies().is_empty());
    assert_eq!(stub.token_calls(), 0);
}
