//! Authorization response (callback) parsing and validation
//! (RFC 6749 §4.1.2, §4.1.2.1, §10.12; RFC 9207; RFC 9700 §4.7; REFERENCE §2.3–§2.6).
//!
//! Two steps:
//! 1. [`parse_callback`] — syntax only: a full URL (`https://app/cb?code=…&state=…`, fragment
//!    ignored) or a bare query string (with or without a leading `?`). Rejects duplicated
//!    parameters (`DuplicateParameter`), any `access_token` / `id_token` / `token`
//!    (`TokenInCallback`), and classifies into [`CallbackResponse`]. A callback with neither
//!    `code`, `error` nor `state` is `CodeMissing`.
//! 2. [`validate_callback`] — against the stored transaction: `state` present
//!    (`StateMissing`) and equal in constant time (`StateMismatch`); `iss` equal to the expected
//!    issuer (`IssMismatch`) or missing where the server promised it (`IssMissing`) — checked on
//!    error responses too; then an error response becomes `AccessDenied` / `AuthorizationError`
//!    carrying the provider's error, and `Denied` becomes `AccessDenied`.

use crate::Error;
use crate::error::ProviderError;
use crate::random::State;
use crate::secret::AuthorizationCode;

/// A syntactically valid authorization response.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CallbackResponse {
    /// `code` (and usually `state`, `iss`).
    Success {
        /// The authorization code.
        code: AuthorizationCode,
        /// `state`, if present.
        state: Option<String>,
        /// `iss` (RFC 9207), if present.
        iss: Option<String>,
    },
    /// `error` (RFC 6749 §4.1.2.1).
    Error {
        /// The provider's error.
        error: ProviderError,
        /// `state`, if present.
        state: Option<String>,
        /// `iss`, if present.
        iss: Option<String>,
    },
    /// `state` present, no `code`, no `error`: WeChat's "user refused".
    Denied {
        /// `state`.
        state: String,
        /// `iss`, if present.
        iss: Option<String>,
    },
}

/// Parser options.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ParseOptions {
    /// The name of the code parameter (`code`; DingTalk sends `authCode`).
    pub code_param: String,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            code_param: "code".to_owned(),
        }
    }
}

/// What the stored transaction expects.
#[derive(Clone, Debug)]
pub struct CallbackExpectations<'a> {
    /// The `state` sent in the authorization request.
    pub state: &'a State,
    /// The expected issuer, when known (RFC 9207 §2.4).
    pub issuer: Option<&'a str>,
    /// Whether the server advertises `authorization_response_iss_parameter_supported`.
    pub require_iss: bool,
}

/// A validated successful callback.
#[derive(Clone, Debug)]
pub struct ValidatedCallback {
    /// The code to redeem.
    pub code: AuthorizationCode,
    /// `iss`, if the server sent it.
    pub iss: Option<String>,
}

/// Step 1: syntax. See the module docs.
pub fn parse_callback(input: &str, options: &ParseOptions) -> Result<CallbackResponse, Error> {
    let _ = (input, options);
    unimplemented!("skeleton")
}

/// Step 2: validation against the stored transaction. See the module docs.
pub fn validate_callback(
    response: CallbackResponse,
    expected: &CallbackExpectations<'_>,
) -> Result<ValidatedCallback, Error> {
    let _ = (response, expected);
    unimplemented!("skeleton")
}

/// Whether `return_to` is a safe same-origin path (REFERENCE §2.9): starts with exactly one
/// `/`, no `//`, no `\`, no control characters or whitespace (also percent-encoded forms such
/// as `%09`, `%2F%2F`, `%5C`), no scheme. `/` alone is fine.
pub fn is_safe_return_to(return_to: &str) -> bool {
    let _ = return_to;
    unimplemented!("skeleton")
}
