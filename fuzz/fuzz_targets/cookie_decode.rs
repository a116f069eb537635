//! Fuzz target: decoding of the backend's encrypted cookies.
//!
//! `authsplit-server` keeps its cookie code private (`cookies.rs`: chunked `__Host-` cookies,
//! AES-256-GCM through the `cookie` crate's private jar, JSON payload), so this target goes
//! through the real router (`common/server.rs`, fixed 64-byte key) and compares it with a
//! reference decoder written here with the same `cookie` crate, key and chunk format
//! (`name`, `name-1` … `name-3`, concatenated, then `PrivateJar::get`).
//!
//! Input: line 1 = mode, the rest = data.
//! - `raw` (or anything else): the data is the `Cookie` header, sent to `POST /auth/token`
//!   (a well-formed body) and `POST /auth/refresh`.
//! - `tx`: the data is a plaintext payload sealed with the server's key as the transaction
//!   cookie of that state (`__Host-authsplit-tx-<16 hex of SHA-256(state)>`), sent to `POST /auth/token`
//!   with a 43-char state and the RFC 7636 Appendix B verifier.
//! - `session`: the data is sealed as the session cookie and sent to `POST /auth/refresh`.
//!
//! Invariants beyond "no panic":
//! - never a 500; every error carries a stable code; the client secret never shows;
//! - whatever the reference decoder cannot decrypt and parse, the server treats as absent
//!   (`transaction_missing` or `state_mismatch` / `not_authenticated`) — a forged or mangled cookie is never used;
//! - the token endpoint is only ever attempted (a 5xx gateway answer) for a transaction whose
//!   state and PKCE challenge match the request (docs/SECURITY.md S2, RFC 7636 §4.6);
//! - a session cookie carries only an opaque id; one whose id names no session in the store is
//!   `not_authenticated`, and no refresh is attempted (docs/SECURITY.md A1, S10).

#![no_main]

#[path = "common/server.rs"]
mod server;

use cookie::{Cookie, CookieJar, Key};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use server::{KEY_BYTES, SESSION_COOKIE, TX_COOKIE_PREFIX, check_common, post, send};

const STATE: &str = "mJ8tZ2qWx9vN4kLp7sR1yB6cD3fG0hT5uE8aQeUoIiY";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The server's per-sign-in transaction cookie name: `<prefix>-<16 hex of SHA-256(state)>`.
fn tx_cookie(state: &str) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(state.as_bytes());
    let hex: String = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{TX_COOKIE_PREFIX}-{hex}")
}

fn key() -> Key {
    Key::from(&KEY_BYTES)
}

fn token_body() -> Vec<u8> {
    serde_json::json!({"provider": "stub", "code": "FuzzC0deValue9", "state": STATE,
                       "code_verifier": VERIFIER})
    .to_string()
    .into_bytes()
}

/// Seals `plain` like the server's `CookieSettings::set` and returns the `Cookie` header.
fn seal(name: &str, plain: &str) -> String {
    let mut jar = CookieJar::new();
    jar.private_mut(&key())
        .add(Cookie::new(name.to_owned(), plain.to_owned()));
    let sealed = jar
        .get(name)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    format!("{name}={sealed}")
}

/// The first raw value of `name` in a Cookie header.
fn raw(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|part| {
        let (n, v) = part.trim().split_once('=')?;
        (n == name).then(|| v.trim_matches('"').to_owned())
    })
}

/// Reference decoder: decrypt, parse JSON.
fn open(header: &str, name: &str) -> Option<Value> {
    let sealed = raw(header, name)?;
    let mut jar = CookieJar::new();
    jar.add_original(Cookie::new(name.to_owned(), sealed));
    let c = jar.private(&key()).get(name)?;
    serde_json::from_str(c.value()).ok()
}

/// Whether a decoded payload has the server's transaction shape.
fn tx_shape(v: &Value) -> bool {
    let s = |k: &str| v.get(k).is_some_and(Value::is_string);
    let opt_s = |k: &str| v.get(k).is_none_or(|x| x.is_string() || x.is_null());
    s("id")
        && s("provider")
        && s("state")
        && s("code_challenge")
        && opt_s("nonce")
        && opt_s("issuer")
        && v.get("require_iss").is_none_or(Value::is_boolean)
        && v.get("created_at").is_some_and(Value::is_u64)
}

/// Whether a decoded payload has the server's session shape (an opaque id).
fn session_shape(v: &Value) -> bool {
    v.get("id").is_some_and(Value::is_string)
}

fn check_token(header: &str) {
    let r = send(post("/auth/token", token_body(), Some(header.as_bytes())));
    check_common(&r, "/token");
    let err = r.error();
    let decoded = open(header, &tx_cookie(STATE)).filter(|v| v.is_object() && tx_shape(v));
    match &decoded {
        // No usable transaction for this state: `transaction_missing`, or `state_mismatch`
        // when other sign-ins are pending.
        None => assert!(
            err == "transaction_missing" || err == "state_mismatch",
            "undecodable tx cookie was used: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ),
        Some(tx) => {
            if matches!(r.status.as_u16(), 502..=504) {
                assert_eq!(tx["state"], STATE, "exchange attempted with a wrong state");
                assert_eq!(
                    tx["code_challenge"], CHALLENGE,
                    "exchange attempted without PKCE match"
                );
            }
        }
    }
}

fn check_refresh(header: &str) {
    let r = send(post(
        "/auth/refresh",
        b"{}".to_vec(),
        Some(header.as_bytes()),
    ));
    check_common(&r, "/refresh");
    let decoded = open(header, SESSION_COOKIE).filter(|v| v.is_object() && session_shape(v));
    // No session exists in the fuzzed server's store: a forged id is as good as none.
    assert_eq!(
        r.error(),
        "not_authenticated",
        "a session cookie ({}) was used: {} {}",
        if decoded.is_some() { "well-formed" } else { "undecodable" },
        r.status,
        String::from_utf8_lossy(&r.body)
    );
}

fuzz_target!(|data: &[u8]| {
    let (mode, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let rest = String::from_utf8_lossy(rest);
    match mode {
        b"tx" => check_token(&seal(&tx_cookie(STATE), &rest)),
        b"session" => check_refresh(&seal(SESSION_COOKIE, &rest)),
        _ => {
            // Headers must be visible ASCII (plus tab/space) to be sent at all.
            if axum::http::HeaderValue::from_str(&rest).is_ok() {
                check_token(&rest);
                check_refresh(&rest);
            }
        }
    }
});
