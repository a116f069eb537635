//! Browser tests of the wasm half, run in headless Chromium by wasm-bindgen-test-runner
//! (`cargo test -p authsplit-wasm --target wasm32-unknown-unknown`).
//!
//! Storage (REFERENCE §2.10), crypto in the browser's CSPRNG (RFC 7636 §4.1–§4.2, RFC 6749
//! §10.12), URL building from the backend's template (RFC 6749 §4.1.1, RFC 7636 §4.3) and
//! callback handling (RFC 6749 §4.1.2, §4.1.2.1, §10.12; RFC 9207 §2.4; RFC 9700 §2.1.2).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, missing_docs)]

use authsplit_core::pkce::{PkceCodeChallenge, PkceCodeVerifier};
use authsplit_core::random::{Nonce, State};
use authsplit_wasm::AuthClient;
use authsplit_wasm::error::ClientError;
use authsplit_wasm::flow::{prepare_callback, strip_callback_params, template_from_js};
use authsplit_wasm::store::{self, PendingTransaction, TTL_MS};
use js_sys::{JSON, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::Storage;

wasm_bindgen_test_configure!(run_in_browser);

const ISSUER: &str = "http://127.0.0.1:4000";
const CB: &str = "http://127.0.0.1:8080/callback";

/// A clean `sessionStorage` for each test (tests in one binary share the page).
fn storage() -> Storage {
    let s = store::session_storage().unwrap();
    s.clear().unwrap();
    s
}

fn now() -> f64 {
    js_sys::Date::now()
}

fn tx(state: &str, created_at: f64) -> PendingTransaction {
    PendingTransaction {
        verifier: PkceCodeVerifier::generate().unwrap().secret().to_owned(),
        state: state.to_owned(),
        nonce: Some("n-0S6_WzA2Mj".to_owned()),
        provider: "local".to_owned(),
        return_to: "/account".to_owned(),
        created_at,
        issuer: Some(ISSUER.to_owned()),
        require_iss: true,
        code_param: "code".to_owned(),
    }
}

fn new_state() -> String {
    State::generate().unwrap().secret().to_owned()
}

fn enc(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

fn err_code(r: Result<impl Sized, ClientError>) -> String {
    match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code.into_owned(),
    }
}

// ---------------------------------------------------------------- storage (REFERENCE §2.10)

#[wasm_bindgen_test]
fn storage_key_is_a_sha256_prefix_of_state() {
    // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad (FIPS 180-2).
    assert_eq!(
        store::storage_key("abc"),
        "authsplit.tx.ba7816bf8f01cfea414140de5dae2223"
    );
    let (a, b) = (new_state(), new_state());
    assert_ne!(store::storage_key(&a), store::storage_key(&b));
    assert!(
        !store::storage_key(&a).contains(&a),
        "the key must not reveal state"
    );
}

#[wasm_bindgen_test]
fn save_then_take_is_single_use() {
    let s = storage();
    let state = new_state();
    let t = tx(&state, now());
    store::save(&s, &t).unwrap();
    assert_eq!(store::pending_count(&s).unwrap(), 1);
    let raw = s.get_item(&store::storage_key(&state)).unwrap().unwrap();
    assert!(raw.contains("\"createdAt\""));
    let got = store::take(&s, &state, now()).unwrap().unwrap();
    assert!(got == t, "round trip keeps every field");
    assert!(
        store::take(&s, &state, now()).unwrap().is_none(),
        "second take finds nothing"
    );
    assert_eq!(store::pending_count(&s).unwrap(), 0);
}

#[wasm_bindgen_test]
fn take_after_ttl_is_transaction_expired_and_removed() {
    let s = storage();
    let state = new_state();
    let t0 = now();
    store::save(&s, &tx(&state, t0 - TTL_MS - 1.0)).unwrap();
    assert_eq!(err_code(store::take(&s, &state, t0)), "transaction_expired");
    assert_eq!(
        store::pending_count(&s).unwrap(),
        0,
        "removed on expiry too"
    );
}

#[wasm_bindgen_test]
fn take_just_inside_ttl_succeeds() {
    let s = storage();
    let state = new_state();
    let t0 = now();
    store::save(&s, &tx(&state, t0 - TTL_MS + 1000.0)).unwrap();
    assert!(store::take(&s, &state, t0).unwrap().is_some());
}

#[wasm_bindgen_test]
fn transaction_dated_in_the_future_is_refused() {
    let s = storage();
    let state = new_state();
    let t0 = now();
    store::save(&s, &tx(&state, t0 + 5.0 * 60_000.0)).unwrap();
    assert_eq!(err_code(store::take(&s, &state, t0)), "transaction_expired");
}

#[wasm_bindgen_test]
fn unreadable_transaction_is_missing_and_removed() {
    let s = storage();
    let state = new_state();
    let key = store::storage_key(&state);
    s.set_item(&key, "{not json").unwrap();
    assert_eq!(
        err_code(store::take(&s, &state, now())),
        "transaction_missing"
    );
    assert!(s.get_item(&key).unwrap().is_none());
}

#[wasm_bindgen_test]
fn purge_expired_keeps_fresh_transactions_and_foreign_keys() {
    let s = storage();
    let t0 = now();
    let (fresh, old) = (new_state(), new_state());
    store::save(&s, &tx(&fresh, t0)).unwrap();
    store::save(&s, &tx(&old, t0 - TTL_MS - 10.0)).unwrap();
    s.set_item("someone.else", "keep me").unwrap();
    assert_eq!(store::purge_expired(&s, t0).unwrap(), 1);
    assert!(s.get_item(&store::storage_key(&fresh)).unwrap().is_some());
    assert!(s.get_item(&store::storage_key(&old)).unwrap().is_none());
    assert_eq!(
        s.get_item("someone.else").unwrap().as_deref(),
        Some("keep me")
    );
}

// ---------------------------------------------------------------- crypto in the browser

#[wasm_bindgen_test]
fn verifier_from_browser_csprng_matches_rfc7636_grammar() {
    // RFC 7636 §4.1: 43–128 chars of [A-Za-z0-9-._~]; 32 random bytes → 43 chars (§7.1).
    let mut seen = Vec::new();
    for _ in 0..16 {
        let v = PkceCodeVerifier::generate().unwrap();
        let s = v.secret();
        assert_eq!(s.len(), 43);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        );
        assert!(!seen.contains(&s.to_owned()), "verifiers must not repeat");
        seen.push(s.to_owned());
    }
}

#[wasm_bindgen_test]
fn s256_challenge_matches_rfc7636_appendix_b() {
    let v = PkceCodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
    assert_eq!(
        PkceCodeChallenge::from_verifier_s256(&v).as_str(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[wasm_bindgen_test]
fn state_and_nonce_carry_at_least_128_bits() {
    // RFC 6749 §10.12, OIDC Core §3.1.2.1: 32 bytes base64url = 43 chars.
    let (a, b) = (State::generate().unwrap(), State::generate().unwrap());
    assert!(a.secret().len() >= 22 && a.secret() != b.secret());
    assert!(a.ct_eq_str(a.secret()) && !a.ct_eq(&b));
    let n = Nonce::generate().unwrap();
    assert!(n.secret().len() >= 22);
}

// ---------------------------------------------------------------- URL building

fn template_json() -> JsValue {
    JSON::parse(
        r#"{"authorization_endpoint":"http://127.0.0.1:4000/auth",
            "client_id":"basic-client",
            "redirect_uri":"http://127.0.0.1:8080/callback",
            "scopes":["openid","profile","offline_access"],
            "scope_separator":" ",
            "prompt":"consent",
            "extra_params":[["login_hint","a b+c&d#e"]],
            "quirks":{"client_id_param":null,"fragment":null,"param_order":null,
                      "omit_pkce":false,"omit_response_type":false}}"#,
    )
    .unwrap()
}

#[wasm_bindgen_test]
fn url_from_backend_template_carries_pkce_state_and_nonce() {
    // RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1.
    let t = template_from_js(&template_json()).unwrap();
    let state = State::generate().unwrap();
    let nonce = Nonce::generate().unwrap();
    let v = PkceCodeVerifier::generate().unwrap();
    let url = t
        .build_url(&state, Some(&v.challenge()), Some(&nonce))
        .unwrap();
    let u = web_sys::Url::new(&url).unwrap();
    assert_eq!(u.origin(), "http://127.0.0.1:4000");
    assert_eq!(u.pathname(), "/auth");
    let q = u.search_params();
    assert_eq!(q.get("response_type").as_deref(), Some("code"));
    assert_eq!(q.get("client_id").as_deref(), Some("basic-client"));
    assert_eq!(q.get("redirect_uri").as_deref(), Some(CB));
    assert_eq!(
        q.get("scope").as_deref(),
        Some("openid profile offline_access")
    );
    assert_eq!(q.get("state").as_deref(), Some(state.secret()));
    assert_eq!(q.get("nonce").as_deref(), Some(nonce.secret()));
    assert_eq!(
        q.get("code_challenge").as_deref(),
        Some(v.challenge().as_str())
    );
    assert_eq!(q.get("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(q.get("prompt").as_deref(), Some("consent"));
    assert_eq!(q.get("login_hint").as_deref(), Some("a b+c&d#e"));
    assert!(
        !url.contains(v.secret()),
        "the verifier never goes in the URL"
    );
    assert!(!url.contains('#'), "no fragment unless a quirk asks");
}

#[wasm_bindgen_test]
fn malformed_backend_template_is_refused() {
    for bad in [
        r#"null"#,
        r#"[]"#,
        r#"{"client_id":"x","redirect_uri":"http://a/cb"}"#,
        r#"{"authorization_endpoint":"http://a/auth","client_id":"x","redirect_uri":"http://a/cb","extra_params":[["only-a-key"]]}"#,
        r#"{"authorization_endpoint":"http://a/auth","client_id":"x","redirect_uri":"http://a/cb","scopes":"openid"}"#,
    ] {
        let v = JSON::parse(bad).unwrap();
        assert_eq!(err_code(template_from_js(&v)), "internal", "{bad}");
    }
}

#[wasm_bindgen_test]
fn wechat_style_quirks_reach_the_url() {
    let v = JSON::parse(
        r#"{"authorization_endpoint":"https://open.weixin.qq.com/connect/qrconnect",
            "client_id":"wx123","redirect_uri":"https://app.example/cb",
            "scopes":["snsapi_login"],"scope_separator":",",
            "quirks":{"client_id_param":"appid","fragment":"wechat_redirect","omit_pkce":true}}"#,
    )
    .unwrap();
    let t = template_from_js(&v).unwrap();
    let state = State::generate().unwrap();
    let v = PkceCodeVerifier::generate().unwrap();
    let url = t.build_url(&state, Some(&v.challenge()), None).unwrap();
    assert!(url.ends_with("#wechat_redirect"), "{url}");
    let u = web_sys::Url::new(&url).unwrap();
    assert_eq!(u.search_params().get("appid").as_deref(), Some("wx123"));
    assert!(u.search_params().get("client_id").is_none());
    assert!(u.search_params().get("code_challenge").is_none());
}

// ---------------------------------------------------------------- callback handling

/// Stores a transaction for a fresh state and returns the state.
fn pending(s: &Storage) -> String {
    let state = new_state();
    store::save(s, &tx(&state, now())).unwrap();
    state
}

fn cb(query: &str) -> String {
    let mut u = String::from(CB);
    u.push('?');
    u.push_str(query);
    u
}

#[wasm_bindgen_test]
fn good_callback_yields_code_and_consumes_the_transaction() {
    let s = storage();
    let state = pending(&s);
    let url = cb(&["code=abc&state=", &state, "&iss=", &enc(ISSUER)].concat());
    let p = prepare_callback(&url, &s, now()).unwrap();
    assert_eq!(p.code.secret(), "abc");
    assert_eq!(p.iss.as_deref(), Some(ISSUER));
    assert_eq!(p.tx.state, state);
    assert_eq!(store::pending_count(&s).unwrap(), 0);
    // Replay (reload of the callback URL): no transaction any more (RFC 6749 §10.12).
    assert_eq!(
        err_code(prepare_callback(&url, &s, now())),
        "transaction_missing"
    );
}

#[wasm_bindgen_test]
fn wrong_state_is_state_mismatch_and_clears_this_tab() {
    // RFC 6749 §10.12: a state this tab did not send.
    let s = storage();
    let _state = pending(&s);
    let url = cb(&["code=abc&state=", &new_state(), "&iss=", &enc(ISSUER)].concat());
    assert_eq!(
        err_code(prepare_callback(&url, &s, now())),
        "state_mismatch"
    );
    assert_eq!(
        store::pending_count(&s).unwrap(),
        0,
        "removed on every outcome"
    );
}

#[wasm_bindgen_test]
fn missing_state_is_state_missing() {
    let s = storage();
    let _state = pending(&s);
    let url = cb(&["code=abc&iss=", &enc(ISSUER)].concat());
    assert_eq!(err_code(prepare_callback(&url, &s, now())), "state_missing");
    assert_eq!(store::pending_count(&s).unwrap(), 0);
}

#[wasm_bindgen_test]
fn callback_without_any_transaction_is_transaction_missing() {
    let s = storage();
    let url = cb(&["code=abc&state=", &new_state()].concat());
    assert_eq!(
        err_code(prepare_callback(&url, &s, now())),
        "transaction_missing"
    );
}

#[wasm_bindgen_test]
fn duplicated_parameters_are_refused() {
    // RFC 6749 §3.1: parameters must not be included more than once.
    let s = storage();
    let state = pending(&s);
    let url = cb(&["code=a&code=b&state=", &state, "&iss=", &enc(ISSUER)].concat());
    assert_eq!(
        err_code(prepare_callback(&url, &s, now())),
        "duplicate_parameter"
    );
    assert_eq!(store::pending_count(&s).unwrap(), 0);
    let state = pending(&s);
    let url = cb(&["code=a&state=", &state, "&state=", &state].concat());
    assert_eq!(
        err_code(prepare_callback(&url, &s, now())),
        "duplicate_parameter"
    );
    assert_eq!(store::pending_count(&s).unwrap(), 0);
}

#[wasm_bindgen_test]
fn tokens_in_the_callback_are_refused() {
    // RFC 9700 §2.1.2: no implicit-flow tokens in the callback.
    let s = storage();
    for extra in ["access_token=at", "id_token=x.y.z", "token=t"] {
        let state = pending(&s);
        let url = cb(&["code=a&state=", &state, "&", extra].concat());
        assert_eq!(
            err_code(prepare_callback(&url, &s, now())),
            "token_in_callback",
            "{extra}"
        );
        assert_eq!(store::pending_count(&s).unwrap(), 0);
    }
}

#[wasm_bindgen_test]
fn access_denied_carries_the_providers_words_as_text() {
    // RFC 6749 §4.1.2.1.
    let s = storage();
    let state = pending(&s);
    let desc = "<img src=x onerror=alert(1)> End-User aborted";
    let url = cb(&[
        "error=access_denied&error_description=",
        &enc(desc),
        "&state=",
        &state,
        "&iss=",
        &enc(ISSUER),
    ]
    .concat());
    let e = prepare_callback(&url, &s, now()).err().unwrap();
    assert_eq!(e.code, "access_denied");
    assert_eq!(e.error.as_deref(), Some("access_denied"));
    assert_eq!(e.error_description.as_deref(), Some(desc));
    assert_eq!(store::pending_count(&s).unwrap(), 0);
}

#[wasm_bindgen_test]
fn state_only_callback_is_access_denied() {
    // WeChat's "user refused": state, no code, no error.
    let s = storage();
    let state = pending(&s);
    let url = cb(&["state=", &state, "&iss=", &enc(ISSUER)].concat());
    assert_eq!(err_code(prepare_callback(&url, &s, now())), "access_denied");
}

#[wasm_bindgen_test]
fn other_provider_error_is_authorization_error() {
    let s = storage();
    let state = pending(&s);
    let url = cb(&["error=server_error&state=", &state, "&iss=", &enc(ISSUER)].concat());
    assert_eq!(
        err_code(prepare_callback(&url, &s, now())),
        "authorization_error"
    );
}

#[wasm_bindgen_test]
fn wrong_or_missing_iss_is_refused() {
    // RFC 9207 §2.4 — also on error responses.
    let s = storage();
    let state = pending(&s);
    let url = cb(&[
        "code=a&state=",
        &state,
        "&iss=",
        &enc("http://127.0.0.1:4001"),
    ]
    .concat());
    assert_eq!(err_code(prepare_callback(&url, &s, now())), "iss_mismatch");
    let state = pending(&s);
    let url = cb(&["code=a&state=", &state].concat());
    assert_eq!(err_code(prepare_callback(&url, &s, now())), "iss_missing");
    let state = pending(&s);
    let url = cb(&[
        "error=access_denied&state=",
        &state,
        "&iss=",
        &enc("https://evil.example"),
    ]
    .concat());
    assert_eq!(err_code(prepare_callback(&url, &s, now())), "iss_mismatch");
}

#[wasm_bindgen_test]
fn expired_transaction_is_transaction_expired() {
    let s = storage();
    let state = new_state();
    let t0 = now();
    store::save(&s, &tx(&state, t0 - TTL_MS - 1.0)).unwrap();
    let url = cb(&["code=a&state=", &state, "&iss=", &enc(ISSUER)].concat());
    assert_eq!(
        err_code(prepare_callback(&url, &s, t0)),
        "transaction_expired"
    );
    assert_eq!(store::pending_count(&s).unwrap(), 0);
}

#[wasm_bindgen_test]
fn callback_params_are_stripped_from_urls() {
    // REFERENCE §2.7: code/state/iss/error… leave the address bar.
    let clean = strip_callback_params(
        "http://127.0.0.1:8080/callback?code=a&state=b&iss=c&keep=1#frag",
        None,
    )
    .unwrap();
    assert_eq!(clean, "http://127.0.0.1:8080/callback?keep=1#frag");
    let clean = strip_callback_params("http://h/cb?authCode=a&state=b", Some("authCode")).unwrap();
    assert_eq!(clean, "http://h/cb");
    assert!(strip_callback_params("http://h/cb?x=1", None).is_none());
}

// ---------------------------------------------------------------- the JS API

fn client() -> AuthClient {
    let o = JSON::parse(
        r#"{"backendUrl":"http://127.0.0.1:9/auth/","provider":"local","redirectUri":"http://127.0.0.1:8080/callback"}"#,
    )
    .unwrap();
    AuthClient::new(o).unwrap()
}

async fn rejection(p: Promise) -> JsValue {
    match JsFuture::from(p).await {
        Ok(v) => panic!("expected a rejection, got {v:?}"),
        Err(e) => e,
    }
}

fn js_code(e: &JsValue) -> String {
    Reflect::get(e, &"code".into())
        .unwrap()
        .as_string()
        .unwrap_or_default()
}

#[wasm_bindgen_test]
fn constructor_refuses_bad_options() {
    for bad in [
        r#"null"#,
        r#"{"provider":"p"}"#,
        r#"{"backendUrl":"/auth"}"#,
        r#"{"backendUrl":"/auth?x=1","provider":"p"}"#,
        r#"{"backendUrl":"javascript:alert(1)","provider":"p"}"#,
        r#"{"backendUrl":"/auth","provider":"p","extraParams":{"a":1}}"#,
        r#"{"backendUrl":"/auth","provider":"p","scope":["openid"]}"#,
        r#"{"backendUrl":"/auth","provider":"p","apiOrigins":["ftp://x"]}"#,
    ] {
        let e = AuthClient::new(JSON::parse(bad).unwrap()).err().unwrap();
        assert_eq!(js_code(&e), "configuration", "{bad}");
        let e: &js_sys::Error = e.dyn_ref().unwrap();
        assert_eq!(String::from(e.name()), "AuthsplitError");
    }
}

#[wasm_bindgen_test]
async fn login_refuses_unsafe_return_to_before_any_network() {
    // REFERENCE §2.9: a same-origin path only.
    let c = client();
    let s = storage();
    for bad in [
        "//evil.example",
        "/\\evil.example",
        "/%09/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil",
    ] {
        let o = js_sys::Object::new();
        Reflect::set(&o, &"returnTo".into(), &bad.into()).unwrap();
        let e = rejection(c.login(o.into())).await;
        assert_eq!(js_code(&e), "invalid_return_to", "{bad}");
    }
    assert_eq!(store::pending_count(&s).unwrap(), 0, "nothing stored");
}

#[wasm_bindgen_test]
async fn unreachable_backend_is_backend_unreachable() {
    let c = client();
    let _ = storage();
    let e = rejection(c.login(JsValue::UNDEFINED)).await;
    assert_eq!(js_code(&e), "backend_unreachable");
    assert!(!c.is_authenticated());
    assert!(c.user().is_null());
}

#[wasm_bindgen_test]
async fn handle_callback_rejects_with_the_js_error_shape_and_strips_the_address_bar() {
    let c = client();
    let s = storage();
    let state = pending(&s);
    let win = web_sys::window().unwrap();
    let history = win.history().unwrap();
    let original = win.location().href().unwrap();
    let mut bad = String::from("?code=abc&state=");
    bad.push_str(&new_state());
    bad.push_str("&iss=x&keep=1");
    history
        .replace_state_with_url(&JsValue::NULL, "", Some(&bad))
        .unwrap();
    let e = rejection(c.handle_callback(None)).await;
    let search = win.location().search().unwrap();
    history
        .replace_state_with_url(&JsValue::NULL, "", Some(&original))
        .unwrap();
    assert_eq!(js_code(&e), "state_mismatch");
    assert!(e.is_instance_of::<js_sys::Error>());
    assert_eq!(search, "?keep=1", "code/state/iss stripped");
    assert!(
        s.get_item(&store::storage_key(&state)).unwrap().is_none(),
        "this tab's transaction is gone"
    );
}

#[wasm_bindgen_test]
async fn concurrent_get_access_token_calls_share_one_refresh() {
    // One refresh in flight (rotation would revoke the grant on a reused refresh token,
    // RFC 9700 §4.14.2): both callers get the same promise; a later call starts a new one.
    let c = client();
    let p1 = c.get_access_token();
    let p2 = c.get_access_token();
    assert!(js_sys::Object::is(&p1, &p2));
    let e1 = rejection(p1).await;
    let e2 = rejection(p2).await;
    assert_eq!(js_code(&e1), "backend_unreachable");
    assert_eq!(js_code(&e2), "backend_unreachable");
    let p3 = c.get_access_token();
    let p4 = c.get_access_token();
    assert!(
        js_sys::Object::is(&p3, &p4),
        "the new refresh is shared too"
    );
    let _ = rejection(p3).await;
    let p5 = c.get_access_token();
    assert!(
        !js_sys::Object::is(&p4, &p5),
        "a settled refresh is not reused"
    );
    let _ = rejection(p5).await;
}
