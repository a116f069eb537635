//! # authsplit-core
//!
//! The protocol rules of authsplit, with no I/O. Two layers:
//!
//! - **The base** (`no_std` + `alloc`, always built) — the code the browser ships: the
//!   `authsplit-wasm` crate is thin wasm-bindgen bindings over these modules, built with
//!   `default-features = false`. The backend uses the same modules to check what the browser
//!   sends.
//! - **`std`** (a default feature) — the backend's part: randomness from the OS, the
//!   authorization URL builder, the token-response parser, the JSON shapes that cross between
//!   the halves, provider profiles. Only `authsplit-server` links it.
//!
//! | module | layer | what | spec |
//! |---|---|---|---|
//! | [`error`] | base | the one error type, stable codes, RFC 6749 error codes | RFC 6749 §4.1.2.1, §5.2 |
//! | [`pkce`] | base | code verifier / S256 challenge, verifier grammar | RFC 7636 §4.1–§4.2, §4.6, App. B |
//! | [`random`] | base | `state` / `nonce` (64 hex characters, 256 bits), constant-time compare, the browser's storage key | RFC 6749 §10.12, OIDC Core §3.1.2.1 |
//! | [`callback`] | base | the authorization response check | RFC 6749 §4.1.2, §4.1.2.1, §10.12; RFC 9207 §2.4; RFC 9700 §2.1.2 |
//! | [`return_to`] | base | the `returnTo` open-redirect guard | RFC 9700 §4.11 |
//! | [`secret`] | base | secret newtypes that print `[redacted]` | — |
//! | `authorize` | std | authorization request URL builder with provider quirks | RFC 6749 §4.1.1, RFC 7636 §4.3 |
//! | `token` | std | the token response parser, driven by a profile's response rules | RFC 6749 §5.1, §5.2 |
//! | `wire` | std | JSON shapes that cross between browser and backend | — |
//! | `provider` | std | provider profiles as data (presets, quirks, discovery, user mapping) | docs/PROVIDERS.md |
//!
//! The base takes random bytes from its caller ([`pkce::PkceCodeVerifier::from_random_bytes`],
//! [`random::hex_token`]): the browser half reads them from `crypto.getRandomValues`, the
//! `std` layer from the OS through `getrandom` (`PkceCodeVerifier::generate`,
//! `State::generate`). So the base has no platform dependency at all and builds for any
//! target, `wasm32-unknown-unknown` included, without a getrandom backend.
//!
//! ## Reading order
//!
//! 1. [`error`] — every fallible function returns [`Error`]: a stable [`ErrorCode`] (the string
//!    the browser and the backend's JSON bodies carry), an [`ErrorClass`] (retry /
//!    re-authenticate / fix configuration / bad request), and optionally the provider's RFC 6749
//!    error and a [`error::ResponseInfo`] (status, content type, redacted snippet).
//! 2. [`secret`], [`random`], [`pkce`] — the values that must never leak, and how they are made.
//! 3. `authorize` → [`callback`] → `token` — the three protocol steps, in flow order.
//! 4. `wire` — what the two halves send each other.
//!
//! ## The flow, and who calls what
//!
//! ```text
//! browser (authsplit-wasm → the base)              backend (authsplit-server → std)
//! PkceCodeVerifier::from_random_bytes, hex_token
//! POST /transactions {state, code_challenge, ──▶  PkceCodeChallenge::parse, State::parse,
//!   nonce, scope?, extra_params?}                  binds them to an HttpOnly cookie,
//!                                                  provider::authorize_template +
//!                                                  AuthorizeTemplate::build_url
//!                                             ◀──  replies with the authorization_url
//! checks its state/challenge in the URL → redirect
//! … provider redirects back …
//! callback::verify (parse, state, iss, errors)
//! POST /token {code, state, code_verifier}    ──▶  PkceCodeVerifier::parse, challenge.matches,
//!                                                  token request, parse_token_response
//!                                             ◀──  TokenReply (never the refresh token)
//! ```
//!
//! ## Rules the code keeps
//!
//! - **No secret in `Debug` or `Display`.** Secret newtypes print `[redacted]`; the value is
//!   reachable only through a greppable `secret()` call. [`Error`] messages are constants;
//!   response snippets and provider descriptions from the token endpoint pass through the
//!   token parser's redaction.
//! - **Never a panic on input.** No indexing that can go out of bounds, no `unwrap`; property
//!   tests (`tests/properties.rs`) and the fuzz targets (`fuzz/`) throw arbitrary input at
//!   every parser of the base.
//! - **Constant-time comparisons** for `state`, `nonce` and the PKCE check (`subtle`).
//! - **Strict by default**; tolerances for real providers are explicit rules of the `std`
//!   layer (`token::ResponseRules`, `authorize::AuthorizeQuirks`).
//! - Every protocol rule's test names the RFC section it checks (`rfc7636_appendix_b_vector`,
//!   `rfc9207_s2_4_iss_checks`, …).
//!
//! ## Writing base code
//!
//! The base is what the browser downloads, so it stays small: `alloc` types only, byte scans
//! instead of `str` pattern searchers, constant error messages (no `format!`), no floats.
//! `cargo build -p authsplit-core --no-default-features --target wasm32-unknown-unknown`
//! checks that it builds alone.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod callback;
pub mod error;
pub mod pkce;
pub mod random;
pub mod return_to;
pub mod secret;

#[cfg(feature = "std")]
pub mod authorize;
#[cfg(feature = "std")]
pub mod provider;
#[cfg(feature = "std")]
pub mod token;
#[cfg(feature = "std")]
pub mod wire;

pub use error::{Error, ErrorClass, ErrorCode, OAuthErrorCode};
