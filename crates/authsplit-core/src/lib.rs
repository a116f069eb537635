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
//! | [`token`] | token response parser (strict + opt-in tolerances) | RFC 6749 §5.1, §5.2 |
//! | [`error`] | the one error type, RFC 6749 error codes, stable wire codes | RFC 6749 §4.1.2.1, §5.2 |
//! | [`wire`] | JSON shapes that cross between browser and backend | — |

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
