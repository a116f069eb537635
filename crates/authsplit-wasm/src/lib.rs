//! # authsplit-wasm — the browser half of authsplit
//!
//! wasm-bindgen bindings over authsplit-core's `no_std` base, which is the browser half's
//! protocol code: this crate adds no rule of its own. It binds the browser's CSPRNG, turns
//! JS arguments into core calls and core results into strings for the package's hand-written
//! JS client (`web/client.js`: options, `fetch` to the backend, `sessionStorage` records, the
//! address bar, the in-memory token), which calls them for every protocol decision:
//!
//! | op | key in `core` (web/client.js) | function | core | spec |
//! |---|---|---|---|---|
//! | 0 | `v` | [`generate_random_code_verifier`] | `pkce::PkceCodeVerifier::from_random_bytes` | RFC 7636 §4.1, §7.1 |
//! | 1 | `c` | [`calculate_pkce_code_challenge`] | `pkce::PkceCodeVerifier::parse` + `challenge` | RFC 7636 §4.1, §4.2 |
//! | 2 | `r` | [`random_state`] | `random::hex_token` (`state` and `nonce`) | RFC 6749 §10.12, OIDC Core §3.1.2.1 |
//! | 3 | `k` | [`storage_key`] | `random::storage_key` | — |
//! | 4 | `s` | [`is_safe_return_to`] | `return_to::is_safe_return_to` | RFC 9700 §4.11 |
//! | 5 | `f` | [`verify_callback`] | `callback::verify` | RFC 6749 §4.1.2, §10.12; RFC 9207 §2.4; RFC 9700 §2.1.2 |
//!
//! The module has one export, [`call`], which runs the function `op` picks (one export
//! shim instead of six: smaller module); `web/loader.js` turns it into the `core` object.
//! Every function returns `"o"` + the value or `"e"` + an encoded error with core's stable
//! codes ([`encode`]); the JS client decodes them and throws `AuthsplitError`s. Size
//! (web/README.md "Size"): `no_std` + `alloc`, and with feature `lean` (the shipped build) an
//! own panic handler, so no formatting machinery, panic messages or std runtime reach the
//! module.

#![no_std]

extern crate alloc;
// Tests, clippy and host builds link std (wasm-bindgen-test needs it) and use its panic
// handler; the shipped module (`--features lean`) has none of it.
#[cfg(not(feature = "lean"))]
extern crate std;

use alloc::string::String;
use authsplit_core::callback::{self, Expected, Stored};
use authsplit_core::pkce::PkceCodeVerifier;
use authsplit_core::{Error, ErrorCode, random, return_to};
use wasm_bindgen::prelude::*;

/// Panics only come from broken invariants (none is reachable from valid or invalid input:
/// every input error is a typed `Error`); the module traps instead of formatting a message.
#[cfg(all(feature = "lean", target_arch = "wasm32"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

// The allocator: lol_alloc's free-list allocator (address-ordered, coalescing) instead of
// dlmalloc (~13 KB raw). The module makes a handful of small, short-lived allocations per
// call. `LockedAllocator` (a spin lock, uncontended on the single wasm thread) is safe to
// construct, unlike `AssumeSingleThreaded` — no `unsafe` in this crate.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

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

/// 32 bytes from Web Crypto's `getRandomValues` (a CSPRNG by spec).
fn random32() -> Result<[u8; 32], Error> {
    let mut bytes = [0u8; 32];
    if get_random_values(&mut bytes) {
        Ok(bytes)
    } else {
        Err(Error::new(
            ErrorCode::RandomUnavailable,
            "the platform random number generator failed",
        ))
    }
}

/// What a string-returning export hands to JS (decoded by `call` in web/client.js): `"o"` +
/// the value, or `"e"` + code + NUL + message + NUL + provider error + NUL + description (empty
/// when absent; a NUL inside the provider's text becomes U+FFFD).
///
/// Why not `Result<String, JsValue>`: its return shims and the externref table the error value
/// needs cost ~0.75 KB gz of module + glue. Why not throwing from a JS import (smaller still):
/// an exception that leaves wasm frames skips their epilogues, so the shadow-stack pointer is
/// never restored and every failed call would leak its frames until the stack is exhausted
/// (wasm-bindgen issues #1959, #1963). This encoding returns normally on every path.
pub fn encode(r: Result<String, Error>) -> String {
    let mut out = String::new();
    match r {
        Ok(v) => {
            out.push('o');
            out.push_str(&v);
        }
        Err(e) => {
            out.push('e');
            let provider = e.provider_error();
            let fields = [
                e.code().as_str(),
                &e.message,
                provider.map_or("", |p| p.error.as_str()),
                provider
                    .and_then(|p| p.error_description.as_deref())
                    .unwrap_or_default(),
            ];
            for (i, field) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push('\0');
                }
                for (j, part) in field.split('\0').enumerate() {
                    if j > 0 {
                        out.push('\u{fffd}');
                    }
                    out.push_str(part);
                }
            }
        }
    }
    out
}

/// A new PKCE code verifier from the browser's CSPRNG: 43 characters of `[A-Za-z0-9-_]`
/// (RFC 7636 §4.1, §7.1). Encoded by [`encode`]; the error is `random_unavailable`.
pub fn generate_random_code_verifier() -> String {
    encode(random32().map(|b| PkceCodeVerifier::from_random_bytes(&b).into_secret()))
}

/// The S256 code challenge of `verifier` (RFC 7636 §4.2). Encoded by [`encode`]; the error is
/// `invalid_verifier` when `verifier` is outside the RFC 7636 §4.1 grammar.
pub fn calculate_pkce_code_challenge(verifier: &str) -> String {
    encode(PkceCodeVerifier::parse(verifier).map(|v| v.challenge().into_string()))
}

/// A new `state` or `nonce` from the browser's CSPRNG: 64 lowercase hex characters. Encoded
/// by [`encode`] (`random_unavailable`).
pub fn random_state() -> String {
    encode(random32().map(|b| random::hex_token(&b)))
}

/// The `sessionStorage` key of the transaction for `state` (encoded by [`encode`]; never an
/// error).
pub fn storage_key(state: &str) -> String {
    encode(Ok(random::storage_key(state)))
}

/// Whether `returnTo` is a safe same-origin path: `"o1"` if it is, `"o"` if not (the JS
/// client reads the value `"1"` / `""` as true / false).
pub fn is_safe_return_to(return_to: &str) -> String {
    encode(Ok(String::from(
        if return_to::is_safe_return_to(return_to) {
            "1"
        } else {
            ""
        },
    )))
}

/// Checks a callback `url` against what storage held for its `state` (`stored`: 0 no
/// transaction, 1 none but this tab has others pending, 2 unreadable, 3 expired, 4 found) and
/// the transaction's `state`, `issuer`, `requireIss` and `codeParam`; returns the
/// authorization code, encoded by [`encode`]. See core's `callback::verify`.
pub fn verify_callback(
    url: &str,
    stored: u32,
    state: &str,
    issuer: Option<String>,
    require_iss: bool,
    code_param: &str,
) -> String {
    let stored = match stored {
        0 => Stored::Missing { others: false },
        1 => Stored::Missing { others: true },
        2 => Stored::Unreadable,
        3 => Stored::Expired,
        4 => Stored::Found,
        // Anything else is a caller bug: fail closed.
        _ => Stored::Missing { others: false },
    };
    let expected = Expected {
        state,
        issuer: issuer.as_deref(),
        require_iss,
        code_param,
    };
    encode(callback::verify(url, stored, &expected).map(|code| code.into_secret()))
}

/// The module's one export: runs function `op` of the table in the crate documentation with
/// the arguments it takes, in [`verify_callback`]'s order (`a` the URL, verifier, state or
/// path; `stored`, `state`, `issuer`, `require_iss`, `code_param` for `verify_callback` only;
/// unused arguments are ignored). An unknown `op` is a caller bug: `internal`.
#[wasm_bindgen]
pub fn call(
    op: u32,
    a: &str,
    stored: u32,
    state: &str,
    issuer: Option<String>,
    require_iss: bool,
    code_param: &str,
) -> String {
    match op {
        0 => generate_random_code_verifier(),
        1 => calculate_pkce_code_challenge(a),
        2 => random_state(),
        3 => storage_key(a),
        4 => is_safe_return_to(a),
        5 => verify_callback(a, stored, state, issuer, require_iss, code_param),
        _ => encode(Err(Error::new(ErrorCode::Internal, "unknown operation"))),
    }
}
