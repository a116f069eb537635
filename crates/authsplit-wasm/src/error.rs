//! The one error shape that reaches JS: `{ code, message, error?, errorDescription? }`.
//!
//! `code` is one of authsplit-core's stable [`authsplit_core::ErrorCode`] strings (or the
//! `error` member of a backend [`authsplit_core::wire::ErrorBody`]); `error` and
//! `errorDescription` carry what the provider said (RFC 6749 §4.1.2.1, §5.2) — plain text,
//! never to be rendered as HTML. The value thrown is a JS `Error` whose `name` is
//! `"AuthsplitError"`; the npm loader turns it into an `AuthsplitError` instance.

use std::borrow::Cow;

use authsplit_core::ErrorCode;
use js_sys::Object;
use wasm_bindgen::{JsCast, JsValue};

use crate::js;

/// An error on its way to JS. Never carries a secret: messages are constants or provider /
/// backend text (which never contains codes, verifiers or tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientError {
    /// Stable machine-readable code (`state_mismatch`, `access_denied`, …).
    pub code: Cow<'static, str>,
    /// Human-readable message.
    pub message: Cow<'static, str>,
    /// The provider's RFC 6749 `error`, when it sent one.
    pub error: Option<String>,
    /// The provider's `error_description`, when it sent one (plain text).
    pub error_description: Option<String>,
}

impl core::fmt::Debug for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Only the code: messages are safe, but Debug is kept minimal on purpose (size).
        f.write_str(&self.code)
    }
}

impl ClientError {
    /// An error with one of core's stable codes and a constant message.
    pub fn new(code: ErrorCode, message: &'static str) -> Self {
        Self {
            code: Cow::Borrowed(code.as_str()),
            message: Cow::Borrowed(message),
            error: None,
            error_description: None,
        }
    }

    /// Whether this error has the given stable code.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == code.as_str()
    }

    /// The JS value thrown: an `Error` with `name = "AuthsplitError"`, `code`, `message`, and
    /// `error` / `errorDescription` when the provider said something.
    pub fn to_js(&self) -> JsValue {
        let e = js_sys::Error::new(&self.message);
        e.set_name("AuthsplitError");
        let obj: &Object = e.unchecked_ref();
        js::set(obj, "code", &JsValue::from_str(&self.code));
        if let Some(err) = &self.error {
            js::set(obj, "error", &JsValue::from_str(err));
        }
        if let Some(d) = &self.error_description {
            js::set(obj, "errorDescription", &JsValue::from_str(d));
        }
        e.into()
    }

    /// Reads a backend [`authsplit_core::wire::ErrorBody`] (`{error, error_description,
    /// provider_error?, provider_error_description?}`); `None` if `body` has another shape.
    pub fn from_error_body(body: &JsValue) -> Option<Self> {
        let code = js::get_str(body, "error")?;
        if code.is_empty() {
            return None;
        }
        let message = js::get_str(body, "error_description").unwrap_or_default();
        Some(Self {
            code: Cow::Owned(code),
            message: Cow::Owned(message),
            error: js::get_str(body, "provider_error"),
            error_description: js::get_str(body, "provider_error_description"),
        })
    }
}

impl From<authsplit_core::Error> for ClientError {
    fn from(e: authsplit_core::Error) -> Self {
        let (error, error_description) = match e.provider_error {
            Some(p) => (Some(p.error.as_str().to_owned()), p.error_description),
            None => (None, None),
        };
        Self {
            code: Cow::Borrowed(e.code.as_str()),
            message: e.message,
            error,
            error_description,
        }
    }
}

impl From<ClientError> for JsValue {
    fn from(e: ClientError) -> Self {
        e.to_js()
    }
}

/// `storage_unavailable` for any failure of `sessionStorage`.
pub(crate) fn storage_error() -> ClientError {
    ClientError::new(
        ErrorCode::StorageUnavailable,
        "sessionStorage is unavailable or full",
    )
}

/// `configuration` with a constant message.
pub(crate) fn config_error(message: &'static str) -> ClientError {
    ClientError::new(ErrorCode::Configuration, message)
}

/// `internal`: the environment or the backend broke an invariant.
pub(crate) fn internal(message: &'static str) -> ClientError {
    ClientError::new(ErrorCode::Internal, message)
}
