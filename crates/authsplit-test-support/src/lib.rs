//! The test kit of the authsplit workspace (`publish = false`; a dev-dependency).
//!
//! - [`stub`]: the one stub provider — a counting HTTP server on `127.0.0.1:0` that records every
//!   request and answers scripted replies (the token, userinfo, revocation, discovery and JWKS
//!   endpoints of a plain provider, and any path a preset is rebased to).
//! - [`faults`]: raw TCP servers that misbehave below HTTP (reset, truncated, endless or slow
//!   bodies).
//! - [`http`]: requests the way the browser half sends them, driven through the backend's
//!   router in process, and what comes back (JSON body, cookies, a cookie jar).
//! - [`oidc`]: an Ed25519 signing key, its JWKS, ID tokens and a discovery document.
//! - [`bench`](mod@bench): the constant token endpoint the benchmarks run against (binary
//!   `stub_token_endpoint`).
//!
//! Everything listens on 127.0.0.1 only, on a free port.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed set-up step should stop the test at once"
)]

pub mod bench;
pub mod faults;
pub mod http;
pub mod oidc;
pub mod stub;

pub use http::*;
pub use stub::{Call, Reply, Stub, default_token_reply};

/// The SPA origin the test configurations allow.
pub const ORIGIN: &str = "https://app.example";
/// An origin no test configuration allows.
pub const FOREIGN: &str = "https://evil.example";
/// RFC 7636 Appendix B: the code verifier …
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// … and its S256 challenge.
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// A `state` of the browser half's length.
pub const STATE: &str = "st-0123456789abcdefghijklmnopqrstuvwxyzABCDE";
/// A `nonce`.
pub const NONCE: &str = "nonce-0123456789abcdefghijklmnopqrstuvwxyzAB";
/// The client id (with a space: RFC 6749 §2.3.1 form-encodes it before Basic).
pub const CLIENT_ID: &str = "my client";
/// A client secret full of form-encoding specials (RFC 6749 §2.3.1, Appendix B).
pub const SECRET: &str = "a+b:c%d/e f";
/// An authorization code.
pub const CODE: &str = "code-abc.DEF_123~xyz";
/// The refresh token the stub issues first …
pub const REFRESH_TOKEN: &str = "rt-1-SECRET-REFRESH-TOKEN-zzzzzzzz";
/// … and a rotated one.
pub const REFRESH_TOKEN_2: &str = "rt-2-SECRET-REFRESH-TOKEN-yyyyyyyy";
/// The access token the stub issues.
pub const ACCESS_TOKEN: &str = "at-1-ACCESS-TOKEN-xxxxxxxxxxxxxxx";
