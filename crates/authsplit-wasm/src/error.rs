//! The one error shape that reaches JS: `{ code, message, error?, errorDescription? }`.
//!
//! `code` is one of authsplit-core's stable `ErrorCode` strings; `error` and
//! `errorDescription` carry what the provider said (RFC 6749 §4.1.2.1) — plain text, never to
//! be rendered as HTML. The JS client (web/client.js) turns the plain object into an
//! `AuthsplitError`. Messages are constants: they never contain a code, verifier or token.

use alloc::string::String;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(
    inline_js = "export function e(code,message,error,errorDescription){throw{code,message,error,errorDescription}}"
)]
extern "C" {
    /// Throws the plain error object to the JS caller of an export (never returns).
    #[wasm_bindgen(js_name = e)]
    fn js_throw(
        code: &str,
        message: &str,
        error: Option<String>,
        error_description: Option<String>,
    );
}

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

impl Error {
    /// Throws this error to the JS caller of the current export: the JS exception unwinds
    /// the wasm frames. Exports return plain values instead of `Result<_, JsValue>`, whose
    /// return shims cost ~300 B of wasm each. Like `wasm_bindgen::throw_val`, this skips
    /// destructors: the few small allocations of a failed call are leaked (bytes per failed
    /// sign-in; the allocator itself is never mid-operation here).
    pub fn throw(self) -> ! {
        js_throw(self.code, self.message, self.error, self.error_description);
        // Not reached: `e` always throws.
        #[cfg(target_arch = "wasm32")]
        core::arch::wasm32::unreachable();
        #[cfg(not(target_arch = "wasm32"))]
        unreachable!()
    }
}

/// The value of `r`, or its error thrown to JS.
pub fn or_throw<T>(r: Result<T, Error>) -> T {
    r.unwrap_or_else(|e| e.throw())
}
