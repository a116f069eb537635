//! The one error shape that reaches JS: `{ code, message, error?, errorDescription? }`
//! (encoded by [`encode`]).
//!
//! `code` is one of authsplit-core's stable `ErrorCode` strings; `error` and
//! `errorDescription` carry what the provider said (RFC 6749 §4.1.2.1) — plain text, never to
//! be rendered as HTML. The JS client (web/client.js) turns the plain object into an
//! `AuthsplitError`. Messages are constants: they never contain a code, verifier or token.

use alloc::string::String;
/// An error on its way to JS.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    /// Stable machine-readable code (`state_mismatch`, `access_denied`, …).
    pub code: &'static str,
    /// Human-readable message (constant).
    pub message: &'static str,
    /// The provider's RFC 6749 `error`, when it sent one.
    pub error: Option<String>,
    /// The provider's `error_description`, when it sent one (plain text).
    pub error_description: Option<String>,
}

impl core::fmt::Debug for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The code only (tests print it; nothing secret either way).
        f.write_str(self.code)
    }
}

impl Error {
    /// An error with a stable code and a constant message.
    pub const fn new(code: &'static str, message: &'static str) -> Self {
        Self {
            code,
            message,
            error: None,
            error_description: None,
        }
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
            let fields = [
                e.code,
                e.message,
                e.error.as_deref().unwrap_or_default(),
                e.error_description.as_deref().unwrap_or_default(),
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
