//! [`ApiError`]: the one error type of the HTTP layer. Wraps [`authsplit_core::Error`], picks
//! the HTTP status from the stable code and answers with the JSON
//! [`authsplit_core::wire::ErrorBody`] — never a bare 500, never a secret.
//!
//! | status | codes |
//! |---|---|
//! | 400 | `invalid_request`, `invalid_verifier`, `pkce_mismatch`, `state_mismatch`, `iss_missing`, `iss_mismatch`, `transaction_missing`/`_expired`/`_used`, `unknown_provider`, `invalid_grant` (RFC 6749 §5.2 uses 400) |
//! | 401 | `csrf_header_missing`, `origin_rejected`, `not_authenticated` (no session), `session_ended` (the cookie names a session ended on the server) |
//! | 404 | unknown route (`invalid_request`) |
//! | 413 | `body_too_large` |
//! | 415 | `unsupported_media_type` |
//! | 500 | `configuration`, `internal` (a bug; details only in the log) |
//! | 502 | `invalid_client`, `provider_error`, `provider_bad_response`, `provider_unreachable`, `invalid_id_token`, `discovery_failed` |
//! | 503 | `provider_unavailable` (with `Retry-After` when the provider sent one), `random_unavailable`, `store_unavailable` |
//! | 504 | `provider_timeout` |

use authsplit_core::wire::ErrorBody;
use authsplit_core::{Error, ErrorCode};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answered to the browser.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The core error (stable code, class, provider error).
    pub error: Error,
    /// Seconds for `Retry-After`, when known.
    pub retry_after: Option<u64>,
    /// Overrides the status derived from the code.
    pub status_override: Option<StatusCode>,
}

impl ApiError {
    /// A new error; the message is a constant or an owned string (it reaches the browser:
    /// never put a secret in it).
    pub fn new(code: ErrorCode, message: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Error::new(code, message).into()
    }
    /// Sets `Retry-After`.
    pub fn with_retry_after(mut self, secs: Option<u64>) -> Self {
        self.retry_after = secs;
        self
    }
    /// Overrides the status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status_override = Some(status);
        self
    }
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.error.code()
    }
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        self.status_override
            .unwrap_or_else(|| status_for(self.error.code()))
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        Self {
            error,
            retry_after: None,
            status_override: None,
        }
    }
}

/// 401 `session_ended`: the request's session cookie names a session that was ended on the
/// server — a logout (in another tab, on another instance), OIDC Back-Channel Logout 1.0 from
/// the provider, a second sign-in in the same browser, or a refresh grant the provider
/// refused. Distinct from `not_authenticated` (no session at all), so a page can tell the user
/// why they were signed out.
pub(crate) fn session_ended() -> ApiError {
    ApiError::new(
        ErrorCode::SessionEnded,
        "this session has ended (signed out elsewhere); sign in again",
    )
}

/// The status for a stable code (see the module table).
pub fn status_for(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::CsrfHeaderMissing | C::OriginRejected | C::NotAuthenticated | C::SessionEnded => {
            StatusCode::UNAUTHORIZED
        }
        C::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::InvalidClient
        | C::ProviderError
        | C::ProviderBadResponse
        | C::ProviderUnreachable
        | C::InvalidIdToken
        | C::DiscoveryFailed => StatusCode::BAD_GATEWAY,
        C::ProviderUnavailable | C::RandomUnavailable | C::StoreUnavailable => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        C::ProviderTimeout => StatusCode::GATEWAY_TIMEOUT,
        C::Configuration | C::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody::from(&self.error);
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), code = body.error, class = ?body.class,
                provider_error = body.provider_error.as_deref(), message = %self.error.message,
                response_status = self.error.response().map(|r| r.status),
                response_content_type = self.error.response().and_then(|r| r.content_type.as_deref()),
                response_snippet = self.error.response().map(|r| r.snippet.as_str()),
                "request failed");
        } else {
            tracing::info!(status = status.as_u16(), code = body.error, message = %self.error.message,
                provider_error = body.provider_error.as_deref(), "request rejected");
        }
        let mut resp = (status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
