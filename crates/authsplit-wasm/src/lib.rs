//! # authsplit-wasm — the browser half of authsplit
//!
//! OAuth 2.0 authorization code + PKCE sign-in where the browser makes the PKCE verifier,
//! `state` and `nonce` and the authsplit backend (which holds `client_secret`) redeems the
//! code. This crate is the protocol core of the npm package `authsplit` (`web/`): the
//! functions below, exported through wasm-bindgen. The package's hand-written JS client
//! (`web/client.js`: options, `fetch` to the backend, `sessionStorage` records, the address
//! bar, the in-memory token) calls them for every protocol decision:
//!
//! | JS export | what | spec |
//! |---|---|---|
//! | `generateRandomCodeVerifier()` | 32 CSPRNG bytes, base64url (43 chars) | RFC 7636 §4.1, §7.1 |
//! | `calculatePKCECodeChallenge(v)` | S256 challenge; refuses a verifier outside §4.1 | RFC 7636 §4.2 |
//! | `randomState()` | `state` / `nonce`: 256 bits as 64 hex chars | RFC 6749 §10.12, OIDC Core §3.1.2.1 |
//! | `storageKey(state)` | `authsplit.tx.` + 128 bits of SHA-256(state), hex | REFERENCE §2.10 |
//! | `isSafeReturnTo(path)` | open-redirect guard for `returnTo` | REFERENCE §2.9 |
//! | `verifyCallback(…)` | callback syntax + checks against the stored transaction | RFC 6749 §4.1.2, §10.12; RFC 9207 §2.4; RFC 9700 §2.1.2 |
//!
//! The string exports return `"o"` + the value or `"e"` + an encoded error with
//! authsplit-core's stable codes ([`error::encode`], [`error::Error`]); the JS client decodes
//! them and throws `AuthsplitError`s. Size (REFERENCE §6, web/README.md "Size"): `no_std` +
//! `alloc`, and with feature `lean` (the shipped build) an own panic handler, so no formatting
//! machinery, panic messages or std runtime reach the module.

#![no_std]

extern crate alloc;
// Tests, clippy and host builds link std (wasm-bindgen-test needs it) and use its panic
// handler; the shipped module (`--features lean`) has none of it.
#[cfg(not(feature = "lean"))]
extern crate std;

pub mod callback;
pub mod error;
pub mod pkce;

use alloc::string::String;
use wasm_bindgen::prelude::*;

use crate::callback::{Expected, Stored};
use crate::error::encode;

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

/// A new PKCE code verifier: 32 bytes from the browser's CSPRNG, base64url without padding —
/// 43 characters of `[A-Za-z0-9-_]` (RFC 7636 §4.1, §7.1). Encoded by [`encode`]; the error
/// (thrown as `AuthsplitError` by the JS client) is `random_unavailable`.
#[wasm_bindgen(js_name = generateRandomCodeVerifier)]
pub fn generate_random_code_verifier() -> String {
    encode(pkce::generate_verifier())
}

/// The S256 code challenge of `verifier`: `BASE64URL(SHA256(ASCII(verifier)))`, 43 characters
/// (RFC 7636 §4.2). Encoded by [`encode`]; the error is `invalid_verifier` when `verifier` is
/// not 43–128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
#[wasm_bindgen(js_name = calculatePKCECodeChallenge)]
pub fn calculate_pkce_code_challenge(verifier: &str) -> String {
    encode(pkce::challenge_s256(verifier))
}

/// A new `state` (RFC 6749 §10.12) or OIDC `nonce` (OIDC Core §3.1.2.1): 256 bits from the
/// CSPRNG as 64 lowercase hex characters (alphanumeric: accepted by every provider). Encoded
/// by [`encode`] (`random_unavailable`).
#[wasm_bindgen(js_name = randomState)]
pub fn random_state() -> String {
    encode(pkce::random_token())
}

/// The `sessionStorage` key of the transaction for `state` (encoded by [`encode`]; never an
/// error).
#[wasm_bindgen(js_name = storageKey)]
pub fn storage_key(state: &str) -> String {
    encode(Ok(pkce::storage_key(state)))
}

/// Whether `returnTo` is a safe same-origin path (REFERENCE §2.9).
#[wasm_bindgen(js_name = isSafeReturnTo)]
pub fn is_safe_return_to(return_to: &str) -> bool {
    callback::is_safe_return_to(return_to)
}

/// Checks a callback `url` against what storage held for its `state` (`stored`: 0 no
/// transaction, 1 none but this tab has others pending, 2 unreadable, 3 expired, 4 found) and
/// the transaction's `state`, `issuer`, `requireIss` and `codeParam`; returns the
/// authorization code, encoded by [`encode`]. See [`callback::verify`].
#[wasm_bindgen(js_name = verifyCallback)]
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
    encode(callback::verify(url, stored, &expected))
}
