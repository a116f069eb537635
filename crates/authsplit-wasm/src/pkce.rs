//! PKCE (RFC 7636 §4.1–§4.2), `state` / `nonce` (RFC 6749 §10.12, OIDC Core §3.1.2.1) and the
//! storage key of a pending transaction — from the browser's CSPRNG (`crypto.getRandomValues`)
//! and sha2, encoded with RustCrypto's constant-time base64url / hex.

use alloc::string::String;
use base64ct::{Base64UrlUnpadded, Encoding as _};
use sha2::{Digest as _, Sha256};

use wasm_bindgen::prelude::*;

use crate::error::Error;

// The browser's CSPRNG, bound directly: the same call getrandom's `wasm_js` backend makes, but
// without its `catch` import (an exception that leaves wasm frames never restores the
// shadow-stack pointer, and its plumbing was an externref table of its own). `false` when
// there is no usable `crypto` (typed `random_unavailable`).
#[wasm_bindgen(inline_js = "export function r(b) {
  try {
    crypto.getRandomValues(b);
    return true;
  } catch {
    return false;
  }
}")]
extern "C" {
    /// `crypto.getRandomValues(buf)` on a view of the module's memory; `false` if it failed.
    #[wasm_bindgen(js_name = r)]
    fn get_random_values(buf: &mut [u8]) -> bool;
}

/// Shortest code verifier (RFC 7636 §4.1).
pub const VERIFIER_MIN_LEN: usize = 43;
/// Longest code verifier (RFC 7636 §4.1).
pub const VERIFIER_MAX_LEN: usize = 128;
/// Prefix of every `sessionStorage` key of a pending transaction.
pub const KEY_PREFIX: &str = "authsplit.tx.";

/// 32 bytes from the platform CSPRNG (Web Crypto `getRandomValues`, a CSPRNG by spec).
fn random32() -> Result<[u8; 32], Error> {
    let mut bytes = [0u8; 32];
    if get_random_values(&mut bytes) {
        Ok(bytes)
    } else {
        Err(Error::new(
            "random_unavailable",
            "the platform random number generator failed",
        ))
    }
}

/// SHA-256 (FIPS 180-4); one non-inlined copy for the challenge and the storage key.
#[inline(never)]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// base64url without padding of 32 bytes: 43 characters.
fn base64url32(bytes: &[u8; 32]) -> String {
    let mut buf = [0u8; 43];
    Base64UrlUnpadded::encode(bytes, &mut buf)
        .map(String::from)
        .unwrap_or_default()
}

/// Lowercase hex of `bytes` (at most 32).
fn hex(bytes: &[u8]) -> String {
    let mut buf = [0u8; 64];
    base16ct::lower::encode_str(bytes, &mut buf)
        .map(String::from)
        .unwrap_or_default()
}

/// A new code verifier: 32 CSPRNG bytes, base64url without padding = 43 characters of the
/// unreserved set (RFC 7636 §4.1, §7.1: 256 bits of entropy).
pub fn generate_verifier() -> Result<String, Error> {
    random32().map(|b| base64url32(&b))
}

/// Whether `v` is a code verifier: 43–128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
pub fn is_valid_verifier(v: &str) -> bool {
    (VERIFIER_MIN_LEN..=VERIFIER_MAX_LEN).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 code challenge `BASE64URL(SHA256(ASCII(verifier)))` (RFC 7636 §4.2); a verifier
/// outside the RFC 7636 §4.1 grammar is `invalid_verifier` (never echoed).
pub fn challenge_s256(verifier: &str) -> Result<String, Error> {
    if !is_valid_verifier(verifier) {
        return Err(Error::new(
            "invalid_verifier",
            "code_verifier must be 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1)",
        ));
    }
    Ok(base64url32(&sha256(verifier.as_bytes())))
}

/// A new `state` or `nonce`: 32 CSPRNG bytes as 64 lowercase hex characters — 256 bits, and
/// only `[0-9a-f]`, which every provider accepts (WeChat and WeCom take `[A-Za-z0-9]{1,128}`
/// only; the backend needs ≥ 22 characters).
pub fn random_token() -> Result<String, Error> {
    random32().map(|b| hex(&b))
}

/// `authsplit.tx.` + the first 16 bytes of SHA-256(`state`) in lowercase hex: a callback
/// finds its own transaction without the key revealing `state`.
pub fn storage_key(state: &str) -> String {
    let digest = sha256(state.as_bytes());
    let mut key = String::from(KEY_PREFIX);
    key.push_str(&hex(digest.get(..16).unwrap_or_default()));
    key
}
