//! Browser tests of the browser half, run in headless Chromium by wasm-bindgen-test-runner
//! (`cargo test -p authsplit-wasm --target wasm32-unknown-unknown`).
//!
//! The protocol rules themselves are authsplit-core's base, tested there (`cargo test -p
//! authsplit-core`); this crate only binds them. What is tested here is what runs only in a
//! browser: the bindings over Web Crypto's CSPRNG, and the package's JS client `web/client.js`
//! — the very file the npm package ships, loaded into this page and wired to this crate's
//! exports exactly as `web/index.js` wires it to the built module: storage (single use, TTL),
//! the check of the backend's authorization URL (RFC 6749 §4.1.1, RFC 7636 §4.3), callback
//! handling and the `AuthClient` API.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, missing_docs)]

use std::cell::RefCell;

use authsplit_core::pkce::PkceCodeVerifier;
use authsplit_core::random::{Nonce, State};
use js_sys::{Array, Function, JSON, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::Storage;

wasm_bindgen_test_configure!(run_in_browser);

const ISSUER: &str = "http://127.0.0.1:4000";
const CB: &str = "http://127.0.0.1:8080/callback";

// ---------------------------------------------------------------- the JS client, loaded

/// The package's JS client, byte for byte.
const CLIENT_JS: &str = include_str!("../../../web/client.js");

#[wasm_bindgen(inline_js = "export function importSource(src) {
  return import(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
}")]
extern "C" {
    #[wasm_bindgen(js_name = importSource)]
    fn import_source(src: &str) -> Promise;
}

thread_local! {
    static CLIENT: RefCell<Option<JsValue>> = const { RefCell::new(None) };
}

fn set(o: &Object, k: &str, v: &JsValue) {
    Reflect::set(o, &k.into(), v).unwrap();
}

/// The module's export as the `core` object `web/index.js` hands to `setCore` (same short keys
/// and op numbers as `web/loader.js`: see `core` in web/client.js): JS functions over the
/// crate's one export, `authsplit_wasm::call`; absent arguments default as in the loader.
fn core_object() -> Object {
    let o = Object::new();
    type S = Option<String>;
    type Call = dyn Fn(S, Option<u32>, S, S, Option<bool>, S) -> String;
    for (op, key) in (0u32..).zip(["v", "c", "r", "k", "s", "f"]) {
        let c: Closure<Call> = Closure::new(
            move |a: S,
                  stored: Option<u32>,
                  state: S,
                  issuer,
                  require_iss: Option<bool>,
                  code_param: S| {
                authsplit_wasm::call(
                    op,
                    &a.unwrap_or_default(),
                    stored.unwrap_or_default(),
                    &state.unwrap_or_default(),
                    issuer,
                    require_iss.unwrap_or_default(),
                    &code_param.unwrap_or_default(),
                )
            },
        );
        set(&o, key, c.as_ref());
        c.forget();
    }
    o
}

/// `web/client.js` as a module, wired to this crate (once per test binary).
async fn client_js() -> JsValue {
    if let Some(m) = CLIENT.with(|c| c.borrow().clone()) {
        return m;
    }
    let m = JsFuture::from(import_source(CLIENT_JS)).await.unwrap();
    js_fn(&m, "setCore")
        .call1(&JsValue::NULL, &core_object())
        .unwrap();
    CLIENT.with(|c| *c.borrow_mut() = Some(m.clone()));
    m
}

fn js_fn(m: &JsValue, name: &str) -> Function {
    Reflect::get(m, &name.into()).unwrap().dyn_into().unwrap()
}

/// `m[name](...args)`.
fn call(m: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    js_fn(m, name).apply(&JsValue::NULL, &args.iter().collect::<Array>())
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap()
}

fn get_str(o: &JsValue, k: &str) -> Option<String> {
    get(o, k).as_string()
}

/// The `code` of a thrown `AuthsplitError` (checking that it is one), or `"ok"`.
fn code_of(r: Result<JsValue, JsValue>) -> String {
    match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => {
            assert!(e.is_instance_of::<js_sys::Error>(), "an Error is thrown");
            assert_eq!(get_str(&e, "name").as_deref(), Some("AuthsplitError"));
            get_str(&e, "code").unwrap()
        }
    }
}

/// A clean `sessionStorage` for each test (tests in one binary share the page).
fn storage() -> Storage {
    let s = web_sys::window()
        .unwrap()
        .session_storage()
        .unwrap()
        .unwrap();
    s.clear().unwrap();
    s
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// The value of a string export's `"o"` result (see `encode` in the crate).
fn ok_value(result: String) -> String {
    assert!(result.starts_with('o'), "an error result: {result:?}");
    result.get(1..).unwrap_or_default().to_owned()
}

fn new_verifier() -> String {
    ok_value(authsplit_wasm::generate_random_code_verifier())
}

fn challenge(verifier: &str) -> String {
    ok_value(authsplit_wasm::calculate_pkce_code_challenge(verifier))
}

fn storage_key(state: &str) -> String {
    ok_value(authsplit_wasm::storage_key(state))
}

fn tx(state: &str, created_at: f64) -> JsValue {
    let o = Object::new();
    set(&o, "verifier", &new_verifier().into());
    set(&o, "state", &state.into());
    set(&o, "nonce", &"n-0S6_WzA2Mj".into());
    set(&o, "provider", &"local".into());
    set(&o, "returnTo", &"/account".into());
    set(&o, "createdAt", &created_at.into());
    set(&o, "issuer", &ISSUER.into());
    set(&o, "requireIss", &true.into());
    set(&o, "codeParam", &"code".into());
    o.into()
}

fn new_state() -> String {
    ok_value(authsplit_wasm::random_state())
}

fn enc(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

fn pending_count(m: &JsValue, s: &Storage) -> f64 {
    call(m, "pendingTx", &[s.into()]).unwrap().as_f64().unwrap()
}

fn save(m: &JsValue, s: &Storage, t: &JsValue) {
    call(m, "saveTx", &[s.into(), t.clone()]).unwrap();
}

/// `takeTx` → `(status, tx)`.
fn take(m: &JsValue, s: &Storage, state: &str, at: f64) -> (u32, JsValue) {
    let r = Array::from(&call(m, "takeTx", &[s.into(), state.into(), at.into()]).unwrap());
    (r.get(0).as_f64().unwrap() as u32, r.get(1))
}

const MISSING: u32 = 0;
const UNREADABLE: u32 = 2;
const EXPIRED: u32 = 3;
const FOUND: u32 = 4;
const TTL_MS: f64 = 600_000.0;

// ---------------------------------------------------------------- storage (sessionStorage: single use, TTL)

#[wasm_bindgen_test]
async fn save_then_take_is_single_use() {
    let m = client_js().await;
    let s = storage();
    let state = new_state();
    let t = tx(&state, now());
    save(&m, &s, &t);
    assert_eq!(pending_count(&m, &s), 1.0);
    let raw = s.get_item(&storage_key(&state)).unwrap().unwrap();
    assert!(raw.contains("\"createdAt\""));
    let (status, got) = take(&m, &s, &state, now());
    assert_eq!(status, FOUND);
    assert_eq!(
        JSON::stringify(&got).unwrap(),
        JSON::stringify(&t).unwrap(),
        "round trip keeps every field"
    );
    assert_eq!(
        take(&m, &s, &state, now()).0,
        MISSING,
        "second take finds nothing"
    );
    assert_eq!(pending_count(&m, &s), 0.0);
}

#[wasm_bindgen_test]
async fn take_after_ttl_is_transaction_expired_and_removed() {
    let m = client_js().await;
    let s = storage();
    let state = new_state();
    let t0 = now();
    save(&m, &s, &tx(&state, t0 - TTL_MS - 1.0));
    assert_eq!(take(&m, &s, &state, t0).0, EXPIRED);
    assert_eq!(pending_count(&m, &s), 0.0, "removed on expiry too");
}

#[wasm_bindgen_test]
async fn take_just_inside_ttl_succeeds() {
    let m = client_js().await;
    let s = storage();
    let state = new_state();
    let t0 = now();
    save(&m, &s, &tx(&state, t0 - TTL_MS + 1000.0));
    assert_eq!(take(&m, &s, &state, t0).0, FOUND);
}

#[wasm_bindgen_test]
async fn transaction_dated_in_the_future_is_refused() {
    let m = client_js().await;
    let s = storage();
    let state = new_state();
    let t0 = now();
    save(&m, &s, &tx(&state, t0 + 5.0 * 60_000.0));
    assert_eq!(take(&m, &s, &state, t0).0, EXPIRED);
}

#[wasm_bindgen_test]
async fn unreadable_transaction_is_missing_and_removed() {
    let m = client_js().await;
    let s = storage();
    let state = new_state();
    let key = storage_key(&state);
    s.set_item(&key, "{not json").unwrap();
    assert_eq!(take(&m, &s, &state, now()).0, UNREADABLE);
    assert!(s.get_item(&key).unwrap().is_none());
    // Through the callback: `transaction_missing`.
    s.set_item(&key, r#"{"state":1}"#).unwrap();
    let url = cb(&["code=a&state=", &state].concat());
    assert_eq!(code_of(prepare(&m, &url, &s)), "transaction_missing");
    assert!(s.get_item(&key).unwrap().is_none());
    // A complete-looking entry with an empty `state`, met by a callback with `state=`: the
    // empty strings must not "match" (RFC 6749 §10.12).
    let t = tx("", now());
    set(t.unchecked_ref(), "requireIss", &false.into());
    s.set_item(
        &storage_key(""),
        &String::from(JSON::stringify(&t).unwrap()),
    )
    .unwrap();
    let url = cb("code=a&state=");
    assert_eq!(code_of(prepare(&m, &url, &s)), "transaction_missing");
    assert_eq!(pending_count(&m, &s), 0.0);
}

#[wasm_bindgen_test]
async fn purge_expired_keeps_fresh_transactions_and_foreign_keys() {
    let m = client_js().await;
    let s = storage();
    let t0 = now();
    let (fresh, old) = (new_state(), new_state());
    save(&m, &s, &tx(&fresh, t0));
    save(&m, &s, &tx(&old, t0 - TTL_MS - 10.0));
    s.set_item("someone.else", "keep me").unwrap();
    let removed = call(&m, "purgeTx", &[(&s).into(), t0.into()]).unwrap();
    assert_eq!(removed.as_f64(), Some(1.0));
    assert!(s.get_item(&storage_key(&fresh)).unwrap().is_some());
    assert!(s.get_item(&storage_key(&old)).unwrap().is_none());
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
        let s = new_verifier();
        assert_eq!(s.len(), 43);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        );
        assert!(
            PkceCodeVerifier::parse(&s).is_ok(),
            "the backend accepts it"
        );
        assert!(!seen.contains(&s), "verifiers must not repeat");
        seen.push(s);
    }
}

#[wasm_bindgen_test]
async fn js_pkce_exports_follow_rfc7636() {
    // The package's `generateRandomCodeVerifier` / `calculatePKCECodeChallenge` (index.d.ts).
    let m = client_js().await;
    let v = call(&m, "generateRandomCodeVerifier", &[])
        .unwrap()
        .as_string()
        .unwrap();
    assert!(PkceCodeVerifier::parse(&v).is_ok() && v.len() == 43);
    let c = call(&m, "calculatePKCECodeChallenge", &[v.as_str().into()]).unwrap();
    assert_eq!(c.as_string(), Some(challenge(&v)));
    let c = call(
        &m,
        "calculatePKCECodeChallenge",
        &["dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()],
    )
    .unwrap();
    assert_eq!(
        c.as_string().as_deref(),
        Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    );
    for bad in [JsValue::from("short"), JsValue::NULL, JsValue::from(42)] {
        assert_eq!(
            code_of(call(&m, "calculatePKCECodeChallenge", &[bad])),
            "invalid_verifier"
        );
    }
}

#[wasm_bindgen_test]
fn state_and_nonce_carry_at_least_128_bits() {
    // RFC 6749 §10.12 (≥ 128 bits), OIDC Core §3.1.2.1: 32 CSPRNG bytes = 256 bits as 64 hex
    // characters — only [0-9a-f], so WeChat / WeCom (state `[A-Za-z0-9]{1,128}`) take it, and
    // ≥ 32 characters (the backend's minimum).
    let mut seen = Vec::new();
    for _ in 0..16 {
        let s = new_state();
        assert_eq!(s.len(), 64);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert!(State::parse(&s).is_ok() && Nonce::parse(&s).is_ok());
        assert!(!seen.contains(&s), "must not repeat");
        seen.push(s);
    }
}

// ---------------------------------------------------------------- the backend's authorization URL

/// JS `checkAuthorizationUrl(url, state, challenge, nonce)`.
fn check_url(m: &JsValue, url: &JsValue, state: &str, challenge: &str, nonce: &str) -> String {
    let r = call(
        m,
        "checkAuthorizationUrl",
        &[url.clone(), state.into(), challenge.into(), nonce.into()],
    );
    if let Ok(v) = &r {
        assert_eq!(v, url, "the URL comes back unchanged");
    }
    code_of(r)
}

#[wasm_bindgen_test]
async fn authorization_url_must_carry_this_sign_ins_values() {
    // RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1: the backend builds the URL; the
    // browser goes there only when it carries its own state, challenge and nonce.
    let m = client_js().await;
    let (st, ch, n) = (
        new_state(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        new_state(),
    );
    let ep = "https://as.example/authorize?response_type=code&client_id=a+b%2Bc";
    let ok = |q: &str| format!("{ep}&{q}");
    let pkce = format!("code_challenge={ch}&code_challenge_method=S256");
    let cases: Vec<(String, &str)> = vec![
        (ok(&format!("state={st}&{pkce}&nonce={n}")), "ok"),
        // No nonce (not an OpenID request), no PKCE (a provider without it), a fragment quirk.
        (ok(&format!("state={st}&{pkce}")), "ok"),
        (
            format!(
                "https://open.weixin.qq.com/connect/qrconnect?appid=wx&state={st}#wechat_redirect"
            ),
            "ok",
        ),
        (
            format!("http://127.0.0.1:4000/auth?state={st}&{pkce}"),
            "ok",
        ),
        (format!("http://localhost/auth?state={st}"), "ok"),
        (format!("http://[::1]:8080/auth?state={st}"), "ok"),
        // Not this sign-in's values.
        (ok(&format!("{pkce}&nonce={n}")), "internal"),
        (ok(&format!("state={}&{pkce}", new_state())), "internal"),
        (ok(&format!("state={st}&state={st}&{pkce}")), "internal"),
        (
            ok(&format!(
                "state={st}&code_challenge=abc&code_challenge_method=S256"
            )),
            "internal",
        ),
        (
            ok(&format!("state={st}&{pkce}&code_challenge={ch}")),
            "internal",
        ),
        (
            ok(&format!(
                "state={st}&code_challenge={ch}&code_challenge_method=plain"
            )),
            "internal",
        ),
        (ok(&format!("state={st}&code_challenge={ch}")), "internal"),
        (
            ok(&format!("state={st}&code_challenge_method=S256")),
            "internal",
        ),
        (
            ok(&format!("state={st}&{pkce}&nonce={}", new_state())),
            "internal",
        ),
        (
            ok(&format!("state={st}&{pkce}&nonce={n}&nonce={n}")),
            "internal",
        ),
        // Not a URL the browser may go to.
        (
            format!("http://as.example/authorize?state={st}"),
            "configuration",
        ),
        (
            format!("http://127.0.0.1.evil.example/authorize?state={st}"),
            "configuration",
        ),
        (
            format!("https://user@as.example/authorize?state={st}"),
            "configuration",
        ),
        (format!("javascript:alert(1)//?state={st}"), "configuration"),
        (format!("/authorize?state={st}"), "internal"),
        (String::new(), "internal"),
    ];
    for (url, want) in &cases {
        assert_eq!(check_url(&m, &url.into(), &st, ch, &n), *want, "{url}");
    }
    for not_a_string in [JsValue::UNDEFINED, JsValue::NULL, JsValue::from(1)] {
        assert_eq!(check_url(&m, &not_a_string, &st, ch, &n), "internal");
    }
}

// ---------------------------------------------------------------- callback handling

/// Stores a transaction for a fresh state and returns the state.
fn pending(m: &JsValue, s: &Storage) -> String {
    let state = new_state();
    save(m, s, &tx(&state, now()));
    state
}

fn cb(query: &str) -> String {
    let mut u = String::from(CB);
    u.push('?');
    u.push_str(query);
    u
}

fn prepare(m: &JsValue, url: &str, s: &Storage) -> Result<JsValue, JsValue> {
    call(m, "prepareCallback", &[url.into(), s.into(), now().into()])
}

#[wasm_bindgen_test]
async fn good_callback_yields_code_and_consumes_the_transaction() {
    let m = client_js().await;
    let s = storage();
    let state = pending(&m, &s);
    let url = cb(&["code=abc&state=", &state, "&iss=", &enc(ISSUER)].concat());
    let p = prepare(&m, &url, &s).unwrap();
    assert_eq!(get_str(&p, "code").as_deref(), Some("abc"));
    assert_eq!(get_str(&p, "iss").as_deref(), Some(ISSUER));
    assert_eq!(get_str(&get(&p, "tx"), "state"), Some(state));
    assert_eq!(pending_count(&m, &s), 0.0);
    // Replay (reload of the callback URL): no transaction any more (RFC 6749 §10.12).
    assert_eq!(code_of(prepare(&m, &url, &s)), "transaction_missing");
}

#[wasm_bindgen_test]
async fn path_and_bare_query_callbacks_are_read_like_full_urls() {
    // `handleCallback(url)` may get a path or a query string: the transaction is found and
    // `iss` read from the same query the core checks (RFC 9207 §2.4).
    let m = client_js().await;
    let s = storage();
    for prefix in ["/callback?", "?", ""] {
        let state = pending(&m, &s);
        let url = [
            prefix,
            "iss=",
            &enc(ISSUER),
            "&code=c%2Bd+e&state=",
            &state,
            "#frag",
        ]
        .concat();
        let p = prepare(&m, &url, &s).unwrap();
        assert_eq!(get_str(&p, "code").as_deref(), Some("c+d e"), "{url}");
        assert_eq!(get_str(&p, "iss").as_deref(), Some(ISSUER), "{url}");
        assert_eq!(pending_count(&m, &s), 0.0);
    }
    // No `iss` (the server does not send it, none required): null.
    let state = new_state();
    let t = tx(&state, now());
    set(t.unchecked_ref(), "requireIss", &false.into());
    save(&m, &s, &t);
    let p = prepare(&m, &cb(&["code=a&state=", &state].concat()), &s).unwrap();
    assert!(get(&p, "iss").is_null());
}

#[wasm_bindgen_test]
async fn wrong_state_is_state_mismatch_and_clears_this_tab() {
    // RFC 6749 §10.12: a state this tab did not send.
    let m = client_js().await;
    let s = storage();
    let _state = pending(&m, &s);
    let url = cb(&["code=abc&state=", &new_state(), "&iss=", &enc(ISSUER)].concat());
    assert_eq!(code_of(prepare(&m, &url, &s)), "state_mismatch");
    assert_eq!(pending_count(&m, &s), 0.0, "removed on every outcome");
}

#[wasm_bindgen_test]
async fn missing_state_is_state_missing() {
    let m = client_js().await;
    let s = storage();
    let _state = pending(&m, &s);
    let url = cb(&["code=abc&iss=", &enc(ISSUER)].concat());
    assert_eq!(code_of(prepare(&m, &url, &s)), "state_missing");
    assert_eq!(pending_count(&m, &s), 0.0);
}

#[wasm_bindgen_test]
async fn callback_without_any_transaction_is_transaction_missing() {
    let m = client_js().await;
    let s = storage();
    let url = cb(&["code=abc&state=", &new_state()].concat());
    assert_eq!(code_of(prepare(&m, &url, &s)), "transaction_missing");
}

#[wasm_bindgen_test]
async fn duplicated_parameters_are_refused() {
    // RFC 6749 §3.1: parameters must not be included more than once.
    let m = client_js().await;
    let s = storage();
    let state = pending(&m, &s);
    let url = cb(&["code=a&code=b&state=", &state, "&iss=", &enc(ISSUER)].concat());
    assert_eq!(code_of(prepare(&m, &url, &s)), "duplicate_parameter");
    assert_eq!(pending_count(&m, &s), 0.0);
    let state = pending(&m, &s);
    let url = cb(&["code=a&state=", &state, "&state=", &state].concat());
    assert_eq!(code_of(prepare(&m, &url, &s)), "duplicate_parameter");
    assert_eq!(pending_count(&m, &s), 0.0);
}

#[wasm_bindgen_test]
async fn tokens_in_the_callback_are_refused() {
    // RFC 9700 §2.1.2: no implicit-flow tokens in the callback.
    let m = client_js().await;
    let s = storage();
    for extra in ["access_token=at", "id_token=x.y.z", "token=t"] {
        let state = pending(&m, &s);
        let url = cb(&["code=a&state=", &state, "&", extra].concat());
        assert_eq!(
            code_of(prepare(&m, &url, &s)),
            "token_in_callback",
            "{extra}"
        );
        assert_eq!(pending_count(&m, &s), 0.0);
    }
}

#[wasm_bindgen_test]
async fn access_denied_carries_the_providers_words_as_text() {
    // RFC 6749 §4.1.2.1.
    let m = client_js().await;
    let s = storage();
    let state = pending(&m, &s);
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
    let e = prepare(&m, &url, &s).unwrap_err();
    assert_eq!(get_str(&e, "code").as_deref(), Some("access_denied"));
    assert_eq!(get_str(&e, "error").as_deref(), Some("access_denied"));
    assert_eq!(get_str(&e, "errorDescription").as_deref(), Some(desc));
    assert_eq!(pending_count(&m, &s), 0.0);
    // Separators and NULs in the provider's words survive the trip out of the module
    // (a NUL becomes U+FFFD, the separator of the module's result encoding).
    let state = pending(&m, &s);
    let url = cb(&[
        "error=x%00y&error_description=a%00b%0Ac&state=",
        &state,
        "&iss=",
        &enc(ISSUER),
    ]
    .concat());
    let e = prepare(&m, &url, &s).unwrap_err();
    assert_eq!(get_str(&e, "code").as_deref(), Some("authorization_error"));
    assert_eq!(get_str(&e, "error").as_deref(), Some("x\u{fffd}y"));
    assert_eq!(
        get_str(&e, "errorDescription").as_deref(),
        Some("a\u{fffd}b\nc")
    );
}

#[wasm_bindgen_test]
async fn state_only_callback_is_access_denied() {
    // WeChat's "user refused": state, no code, no error.
    let m = client_js().await;
    let s = storage();
    let state = pending(&m, &s);
    let url = cb(&["state=", &state, "&iss=", &enc(ISSUER)].concat());
    assert_eq!(code_of(prepare(&m, &url, &s)), "access_denied");
}

#[wasm_bindgen_test]
async fn other_provider_error_is_authorization_error() {
    let m = client_js().await;
    let s = storage();
    let state = pending(&m, &s);
    let url = cb(&["error=server_error&state=", &state, "&iss=", &enc(ISSUER)].concat());
    assert_eq!(code_of(prepare(&m, &url, &s)), "authorization_error");
}

#[wasm_bindgen_test]
async fn wrong_or_missing_iss_is_refused() {
    // RFC 9207 §2.4 — also on error responses.
    let m = client_js().await;
    let s = storage();
    let state = pending(&m, &s);
    let url = cb(&[
        "code=a&state=",
        &state,
        "&iss=",
        &enc("http://127.0.0.1:4001"),
    ]
    .concat());
    assert_eq!(code_of(prepare(&m, &url, &s)), "iss_mismatch");
    let state = pending(&m, &s);
    let url = cb(&["code=a&state=", &state].concat());
    assert_eq!(code_of(prepare(&m, &url, &s)), "iss_missing");
    let state = pending(&m, &s);
    let url = cb(&[
        "error=access_denied&state=",
        &state,
        "&iss=",
        &enc("https://evil.example"),
    ]
    .concat());
    assert_eq!(code_of(prepare(&m, &url, &s)), "iss_mismatch");
}

#[wasm_bindgen_test]
async fn expired_transaction_is_transaction_expired() {
    let m = client_js().await;
    let s = storage();
    let state = new_state();
    let t0 = now();
    save(&m, &s, &tx(&state, t0 - TTL_MS - 1.0));
    let url = cb(&["code=a&state=", &state, "&iss=", &enc(ISSUER)].concat());
    assert_eq!(code_of(prepare(&m, &url, &s)), "transaction_expired");
    assert_eq!(pending_count(&m, &s), 0.0);
}

#[wasm_bindgen_test]
async fn callback_params_are_stripped_from_urls() {
    // docs/SECURITY.md B7 (RFC 9700 §4.2): code/state/iss/error… leave the address bar.
    let m = client_js().await;
    let strip = |href: &str, extra: Option<&str>| {
        let extra = extra.map_or(JsValue::UNDEFINED, JsValue::from);
        call(&m, "stripCallbackParams", &[href.into(), extra])
            .unwrap()
            .as_string()
    };
    assert_eq!(
        strip(
            "http://127.0.0.1:8080/callback?code=a&state=b&iss=c&keep=1#frag",
            None
        )
        .as_deref(),
        Some("http://127.0.0.1:8080/callback?keep=1#frag")
    );
    assert_eq!(
        strip("http://h/cb?authCode=a&state=b", Some("authCode")).as_deref(),
        Some("http://h/cb")
    );
    assert!(strip("http://h/cb?x=1", None).is_none());
}

// ---------------------------------------------------------------- the JS API

async fn client() -> JsValue {
    let m = client_js().await;
    let o = JSON::parse(
        r#"{"backendUrl":"http://127.0.0.1:9/auth/","provider":"local","redirectUri":"http://127.0.0.1:8080/callback"}"#,
    )
    .unwrap();
    Reflect::construct(&js_fn(&m, "AuthClient"), &Array::of1(&o)).unwrap()
}

/// `client[method](...args)`.
fn method(c: &JsValue, name: &str, args: &[JsValue]) -> JsValue {
    js_fn(c, name)
        .apply(c, &args.iter().collect::<Array>())
        .unwrap()
}

/// Lets the messages a client posted to the page's other clients (its `BroadcastChannel`, one
/// task each) land before the next test: a logout at the end of a test would otherwise sign out
/// the clients of the tests before it in the middle of the next one.
async fn settle() {
    let wait = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 20)
            .unwrap();
    });
    JsFuture::from(wait).await.unwrap();
}

async fn rejection(p: JsValue) -> JsValue {
    match JsFuture::from(Promise::from(p)).await {
        Ok(v) => panic!("expected a rejection, got {v:?}"),
        Err(e) => e,
    }
}

fn js_code(e: &JsValue) -> String {
    get_str(e, "code").unwrap_or_default()
}

#[wasm_bindgen_test]
async fn constructor_refuses_bad_options() {
    let m = client_js().await;
    for bad in [
        r#"null"#,
        r#"{"provider":"p"}"#,
        r#"{"backendUrl":"/auth"}"#,
        r#"{"backendUrl":"/auth?x=1","provider":"p"}"#,
        r#"{"backendUrl":"javascript:alert(1)","provider":"p"}"#,
        r#"{"backendUrl":"/auth","provider":"p","extraParams":{"a":1}}"#,
        r#"{"backendUrl":"/auth","provider":"p","scope":["openid"]}"#,
        r#"{"backendUrl":"/auth","provider":"p","apiOrigins":["ftp://x"]}"#,
        // RFC 6750 §5.3: plain http only on loopback hosts.
        r#"{"backendUrl":"http://auth.example/auth","provider":"p"}"#,
        r#"{"backendUrl":"http://127.0.0.1.evil.example/auth","provider":"p"}"#,
        r#"{"backendUrl":"/auth","provider":"p","apiOrigins":["http://api.example"]}"#,
        r#"{"backendUrl":"/auth","provider":"p","apiOrigins":["https://ok.example","http://10.0.0.1:8080"]}"#,
    ] {
        let r = Reflect::construct(
            &js_fn(&m, "AuthClient"),
            &Array::of1(&JSON::parse(bad).unwrap()),
        );
        assert_eq!(code_of(r), "configuration", "{bad}");
    }
}

#[wasm_bindgen_test]
async fn https_or_loopback_backend_and_api_origins_are_accepted() {
    let m = client_js().await;
    for good in [
        r#"{"backendUrl":"https://auth.example/auth","provider":"p","apiOrigins":["https://api.example"]}"#,
        r#"{"backendUrl":"http://localhost:3000/auth","provider":"p","apiOrigins":["http://127.0.0.1:9"]}"#,
        r#"{"backendUrl":"http://[::1]:8080/auth","provider":"p","apiOrigins":["http://localhost:4000"]}"#,
    ] {
        let r = Reflect::construct(
            &js_fn(&m, "AuthClient"),
            &Array::of1(&JSON::parse(good).unwrap()),
        );
        assert_eq!(code_of(r), "ok", "{good}");
    }
}

#[wasm_bindgen_test]
async fn login_refuses_unsafe_return_to_before_any_network() {
    // docs/SECURITY.md B9 (RFC 9700 §4.11): a same-origin path only.
    let c = client().await;
    let m = client_js().await;
    let s = storage();
    for bad in [
        "//evil.example",
        "/\\evil.example",
        "/%09/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil",
    ] {
        let o = Object::new();
        set(&o, "returnTo", &bad.into());
        let e = rejection(method(&c, "login", &[o.into()])).await;
        assert_eq!(js_code(&e), "invalid_return_to", "{bad}");
    }
    assert_eq!(pending_count(&m, &s), 0.0, "nothing stored");
}

#[wasm_bindgen_test]
async fn unreachable_backend_is_backend_unreachable() {
    let c = client().await;
    let _ = storage();
    let e = rejection(method(&c, "login", &[])).await;
    assert_eq!(js_code(&e), "backend_unreachable");
    assert_eq!(method(&c, "isAuthenticated", &[]).as_bool(), Some(false));
    assert!(method(&c, "user", &[]).is_null());
}

#[wasm_bindgen_test]
async fn handle_callback_rejects_with_the_js_error_shape_and_strips_the_address_bar() {
    let c = client().await;
    let m = client_js().await;
    let s = storage();
    let state = pending(&m, &s);
    let win = web_sys::window().unwrap();
    let history = win.history().unwrap();
    let original = win.location().href().unwrap();
    let bad = ["?code=abc&state=", &new_state(), "&iss=x&keep=1"].concat();
    history
        .replace_state_with_url(&JsValue::NULL, "", Some(&bad))
        .unwrap();
    let e = rejection(method(&c, "handleCallback", &[])).await;
    let search = win.location().search().unwrap();
    history
        .replace_state_with_url(&JsValue::NULL, "", Some(&original))
        .unwrap();
    assert_eq!(js_code(&e), "state_mismatch");
    assert!(e.is_instance_of::<js_sys::Error>());
    assert_eq!(get_str(&e, "name").as_deref(), Some("AuthsplitError"));
    assert_eq!(search, "?keep=1", "code/state/iss stripped");
    assert!(
        s.get_item(&storage_key(&state)).unwrap().is_none(),
        "this tab's transaction is gone"
    );
}

#[wasm_bindgen_test]
async fn concurrent_get_access_token_calls_share_one_refresh() {
    // One refresh in flight (rotation would revoke the grant on a reused refresh token,
    // RFC 9700 §4.14.2): both callers get the same promise; a later call starts a new one.
    let c = client().await;
    let p1 = method(&c, "getAccessToken", &[]);
    let p2 = method(&c, "getAccessToken", &[]);
    assert!(Object::is(&p1, &p2));
    let e1 = rejection(p1).await;
    let e2 = rejection(p2).await;
    assert_eq!(js_code(&e1), "backend_unreachable");
    assert_eq!(js_code(&e2), "backend_unreachable");
    let p3 = method(&c, "getAccessToken", &[]);
    let p4 = method(&c, "getAccessToken", &[]);
    assert!(Object::is(&p3, &p4), "the new refresh is shared too");
    let _ = rejection(p3).await;
    let p5 = method(&c, "getAccessToken", &[]);
    assert!(!Object::is(&p4, &p5), "a settled refresh is not reused");
    let _ = rejection(p5).await;
}

/// A stand-in for the backend's `POST /token` on `window.fetch` (restored by
/// [`restore_fetch`]): counts the calls and answers each after a short delay with a token reply.
fn stub_token_endpoint() -> (JsValue, Function) {
    let win: JsValue = web_sys::window().unwrap().into();
    let real = get(&win, "fetch");
    let stub = Function::new_with_args(
        "url, init",
        "globalThis.__tokenCalls = (globalThis.__tokenCalls || 0) + (String(url).endsWith('/token') ? 1 : 0);\
         const body = JSON.stringify({ access_token: 'at-' + globalThis.__tokenCalls, token_type: 'bearer',\
           expires_at: Math.floor(Date.now() / 1000) + 3600, user: { id: 'local:alice', provider: 'local', subject: 'alice' } });\
         return new Promise((r) => setTimeout(() => r(new Response(body, { status: 200, headers: { 'content-type': 'application/json' } })), 30));",
    );
    Reflect::set(&win, &"__tokenCalls".into(), &0.into()).unwrap();
    Reflect::set(&win, &"fetch".into(), &stub).unwrap();
    (real, stub)
}

fn restore_fetch(real: &JsValue) -> f64 {
    let win: JsValue = web_sys::window().unwrap().into();
    Reflect::set(&win, &"fetch".into(), real).unwrap();
    get(&win, "__tokenCalls").as_f64().unwrap()
}

#[wasm_bindgen_test]
async fn handle_callback_is_idempotent_for_one_callback_url() {
    // React StrictMode runs effects twice, and a second AuthClient on the page may read the same
    // callback: every call resolves to the same result from one POST /token.
    let m = client_js().await;
    let s = storage();
    let state = pending(&m, &s);
    let url = cb(&["code=c0de&state=", &state, "&iss=", &enc(ISSUER)].concat());
    let (a, b) = (client().await, client().await);
    let (real, _stub) = stub_token_endpoint();
    let calls = [
        method(&a, "handleCallback", &[url.as_str().into()]),
        method(&a, "handleCallback", &[url.as_str().into()]),
        method(&b, "handleCallback", &[url.as_str().into()]),
    ];
    let mut results = Vec::new();
    for p in calls {
        results.push(JsFuture::from(Promise::from(p)).await);
    }
    // Once more after the exchange settled.
    let again = JsFuture::from(Promise::from(method(
        &b,
        "handleCallback",
        &[url.as_str().into()],
    )))
    .await;
    let token_calls = restore_fetch(&real);
    results.push(again);
    assert_eq!(token_calls, 1.0, "one POST /token for every call");
    for r in &results {
        let r = r.as_ref().unwrap_or_else(|e| panic!("rejected: {e:?}"));
        assert_eq!(
            get_str(&get(r, "user"), "id").as_deref(),
            Some("local:alice")
        );
        assert_eq!(get_str(r, "returnTo").as_deref(), Some("/account"));
        assert_eq!(
            get(r, "expiresAt"),
            get(results[0].as_ref().unwrap(), "expiresAt")
        );
    }
    for c in [&a, &b] {
        assert_eq!(method(c, "isAuthenticated", &[]).as_bool(), Some(true));
    }
    // A failed callback fails the same way every time, also with one attempt.
    let bad = cb(&["code=c0de&state=", &new_state()].concat());
    let e1 = rejection(method(&a, "handleCallback", &[bad.as_str().into()])).await;
    let e2 = rejection(method(&b, "handleCallback", &[bad.as_str().into()])).await;
    assert_eq!(js_code(&e1), "transaction_missing");
    assert_eq!(js_code(&e2), "transaction_missing");
    // After logout the shared reply is gone: the same URL no longer signs anyone in.
    let _ = JsFuture::from(Promise::from(method(&a, "logout", &[]))).await;
    let e3 = rejection(method(&b, "handleCallback", &[url.as_str().into()])).await;
    assert_eq!(js_code(&e3), "transaction_missing");
    settle().await;
}

#[wasm_bindgen_test]
async fn handle_callback_of_the_stripped_address_reads_the_original_callback() {
    // Once the callback left the address bar, `handleCallback(location.href)` — the stripped
    // address — still means this page's callback: same result, still one POST /token.
    let m = client_js().await;
    let s = storage();
    let state = pending(&m, &s);
    let win = web_sys::window().unwrap();
    let history = win.history().unwrap();
    let original = win.location().href().unwrap();
    let query = ["?code=c0de&state=", &state, "&iss=", &enc(ISSUER)].concat();
    history
        .replace_state_with_url(&JsValue::NULL, "", Some(&query))
        .unwrap();
    let c = client().await;
    let (real, _stub) = stub_token_endpoint();
    let first = JsFuture::from(Promise::from(method(&c, "handleCallback", &[]))).await;
    let stripped = win.location().href().unwrap();
    let second = JsFuture::from(Promise::from(method(
        &c,
        "handleCallback",
        &[stripped.as_str().into()],
    )))
    .await;
    let token_calls = restore_fetch(&real);
    history
        .replace_state_with_url(&JsValue::NULL, "", Some(&original))
        .unwrap();
    assert!(!stripped.contains("code="), "{stripped}");
    assert_eq!(token_calls, 1.0);
    for r in [first, second] {
        let r = r.unwrap_or_else(|e| panic!("rejected: {e:?}"));
        assert_eq!(
            get_str(&get(&r, "user"), "id").as_deref(),
            Some("local:alice")
        );
    }
    let _ = JsFuture::from(Promise::from(method(&c, "logout", &[]))).await;
    settle().await;
}

#[wasm_bindgen_test]
async fn the_clients_of_one_backend_follow_each_others_sign_in_and_sign_out() {
    // The tabs of one backend share its session cookie, so its clients share a BroadcastChannel
    // (docs/SECURITY.md B17): a sign-in on this page is no news to the page's other clients
    // (they share the code exchange), one from another page replaces their session, and a
    // logout signs every client out; the listeners hear why. Each message is a task: the
    // script waits 50 ms for it.
    let m = client_js().await;
    let s = storage();
    let state = pending(&m, &s);
    let url = cb(&["code=c0de&state=", &state, "&iss=", &enc(ISSUER)].concat());
    let (a, b) = (client().await, client().await);
    let (real, _stub) = stub_token_endpoint();
    let script = Function::new_with_args(
        "a, b, url",
        "return (async () => {
           const heard = { a: [], b: [] };
           const stop = a.onChange((c) => heard.a.push(c));
           b.onChange((c) => heard.b.push(c));
           const sleep = () => new Promise((r) => setTimeout(r, 50));
           const state = () => [a.isAuthenticated(), b.isAuthenticated()];
           const other = new BroadcastChannel('authsplit http://127.0.0.1:9/auth');
           const steps = [];
           const step = async (name) => {
             await sleep();
             steps.push([name, state(), heard.a.join(), heard.b.join()]);
           };
           await a.handleCallback(url);
           await b.handleCallback(url);
           await step('same page signs in');
           other.postMessage(['signed_in', 0]);
           await step('another page signs in');
           await a.logout();
           await step('logout here');
           b.free();
           other.postMessage(['signed_out', 0]);
           await step('b freed');
           stop();
           other.postMessage(['session_ended', 0]);
           other.postMessage('signed_out');
           await step('a unsubscribed; a bare string');
           other.close();
           a.free();
           return JSON.stringify(steps);
         })()",
    );
    let p = script
        .call3(&JsValue::NULL, &a, &b, &url.as_str().into())
        .unwrap();
    let steps = JsFuture::from(Promise::from(p)).await.unwrap();
    restore_fetch(&real);
    let got: String = steps.as_string().unwrap();
    let want = concat!(
        r#"[["same page signs in",[true,true],"",""],"#,
        r#"["another page signs in",[false,false],"signed_in","signed_in"],"#,
        r#"["logout here",[false,false],"signed_in,signed_out","signed_in,signed_out"],"#,
        r#"["b freed",[false,false],"signed_in,signed_out,signed_out","signed_in,signed_out"],"#,
        r#"["a unsubscribed; a bare string",[false,false],"signed_in,signed_out,signed_out","signed_in,signed_out"]]"#,
    );
    assert_eq!(got, want);
}
