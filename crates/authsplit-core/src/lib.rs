//! # authsplit-core
//!
//! Protocol logic shared by the two halves of authsplit — the browser half
//! (`authsplit-wasm`) and the backend half (`authsplit-server`). Pure logic, no network I/O;
//! builds for the host and for `wasm32-unknown-unknown`.
//!
//! | module | what | spec |
//! |---|---|---|
//! | [`pkce`] | code verifier / S256 challenge, verifier grammar | RFC 7636 §4.1–§4.2, App. B |
//! | [`random`] | `state` and `nonce` (≥128 bits), constant-time compare | RFC 6749 §10.12, OIDC Core §3.1.2.1 |
//! | [`secret`] | secret newtypes that print `[redacted]` | — |
//! | [`authorize`] | authorization request URL builder with provider quirks | RFC 6749 §4.1.1, RFC 7636 §4.3 |
//! | [`callback`] | authorization response parser | RFC 6749 §4.1.2, §4.1.2.1, RFC 9207 |
//! | [`token`] | the token response parser, driven by a profile's response rules | RFC 6749 §5.1, §5.2 |
//! | [`error`] | the one error type, RFC 6749 error codes, stable wire codes | RFC 6749 §4.1.2.1, §5.2 |
//! | [`wire`] | JSON shapes that cross between browser and backend | — |
//! | [`provider`] | provider profiles as data (presets, quirks, discovery, user mapping) | PROVIDERS.md |
//!
//! ## Reading order
//!
//! 1. [`error`] — every fallible function returns [`Error`]: a stable [`ErrorCode`] (the string
//!    the browser and the backend's JSON bodies carry), an [`ErrorClass`] (retry /
//!    re-authenticate / fix configuration / bad request), and optionally the provider's RFC 6749
//!    error and a [`error::ResponseInfo`] (status, content type, redacted snippet).
//! 2. [`secret`], [`random`], [`pkce`] — the values that must never leak, and how they are made.
//! 3. [`authorize`] → [`callback`] → [`token`] — the three protocol steps, in flow order.
//! 4. [`wire`] — what the two halves send each other.
//!
//! ## The flow, and who calls what
//!
//! ```text
//! browser (authsplit-wasm)                         backend (authsplit-server)
//! PkceCodeVerifier::generate, State::generate
//! POST /transactions {state, code_challenge, ──▶  binds them to an HttpOnly cookie,
//!   nonce, scope?, extra_params?}                  provider::authorize_template +
//!                                                  AuthorizeTemplate::build_url
//!                                             ◀──  replies with the authorization_url
//! checks its state/challenge in the URL → redirect
//! … provider redirects back …
//! parse_callback + validate_callback
//! POST /token {code, state, code_verifier}    ──▶  PkceCodeVerifier::parse, challenge.matches,
//!                                                  token request, parse_token_response
//!                                             ◀──  TokenReply (never the refresh token)
//! ```
//!
//! ## Rules the code keeps
//!
//! - **No secret in `Debug` or `Display`.** Secret newtypes print `[redacted]`; the value is
//!   reachable only through a greppable `secret()` call. [`Error`] messages are constants;
//!   response snippets and provider descriptions from the token endpoint pass through
//!   [`token::redact_snippet`]'s redaction.
//! - **Never a panic on input.** No indexing that can go out of bounds, no `unwrap`; property
//!   tests (`tests/properties.rs`) throw arbitrary strings and bytes at every parser.
//! - **Constant-time comparisons** for `state`, `nonce` and the PKCE check (`subtle`).
//! - **Strict by default**; tolerances for real providers are explicit rules
//!   ([`token::ResponseRules`], [`authorize::AuthorizeQuirks`]).
//! - Every protocol rule's test names the RFC section it checks (`rfc7636_appendix_b_vector`,
//!   `rfc9207_s2_4_iss_checks`, …).
//!
//! ## Building for wasm32
//!
//! Randomness comes from `getrandom` 0.4, and this crate deliberately does **not** enable its
//! `wasm_js` feature (it would tie every wasm32 user of the core to wasm-bindgen). On
//! `wasm32-unknown-unknown` getrandom refuses to compile without a backend, so:
//!
//! - the browser half (`authsplit-wasm`) enables `getrandom/wasm_js` for that target only, and
//!   Cargo's feature unification applies it to the core's getrandom in the same build:
//!   `cargo check -p authsplit-core -p authsplit-wasm --target wasm32-unknown-unknown`;
//! - the core alone, with no JS backend at all, is checked with getrandom's documented
//!   `unsupported` backend (random generation then fails with
//!   [`ErrorCode::RandomUnavailable`] instead of compiling JS glue in):
//!
//! ```text
//! CARGO_TARGET_DIR=target/wasm32-core-check \
//! RUSTFLAGS='--cfg getrandom_backend="unsupported"' \
//!   cargo check -p authsplit-core --target wasm32-unknown-unknown
//! ```
//!
//! (A separate target directory keeps the different `RUSTFLAGS` from invalidating the normal
//! wasm32 build cache.)
//!
//! Size: on the browser side `serde_json` is reached only through the token parser and the
//! [`wire`] types, and the linker strips what the browser half does not call; the core's own
//! code avoids `format!` on hot paths and never formats floats.

pub mod authorize;
pub mod callback;
pub mod error;
pub mod pkce;
pub mod provider;
pub mod random;
pub mod secret;
pub mod token;
pub mod wire;

pub use error::{Error, ErrorClass, ErrorCode, OAuthErrorCode};
