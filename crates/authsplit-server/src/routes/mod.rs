//! The endpoints, one module each, in the order of one sign-in: [`transactions`]
//! (`POST /transactions`), [`token`] (`POST /token`), [`refresh`] (`POST /refresh`),
//! [`logout`] (`POST /logout`), then [`config`] (`GET /config`) and [`health`]
//! (`GET /healthz`). Shared here: the session cookie writer, random ids, and the JSON
//! answers for unknown routes, wrong methods and panics.

use authsplit_core::ErrorCode;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::AppState;
use crate::cookies::SessionCookie;
use crate::error::ApiError;

pub(crate) mod backchannel;
pub(crate) mod config;
pub(crate) mod health;
pub(crate) mod logout;
pub(crate) mod refresh;
pub(crate) mod token;
pub(crate) mod transactions;

fn invalid(msg: &'static str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, msg)
}

/// A random id (144 bits, base64url) for a transaction or a session.
pub(crate) fn random_id() -> Result<String, ApiError> {
    let mut b = [0u8; 18];
    getrandom::fill(&mut b).map_err(|_| {
        ApiError::new(
            ErrorCode::RandomUnavailable,
            "the OS random generator failed",
        )
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// Writes the session cookie(s). A refresh token too large even for the chunked cookie is a
/// typed error (never a silently dropped cookie).
fn set_session(
    app: &AppState,
    headers: &mut HeaderMap,
    request: &HeaderMap,
    session: &SessionCookie,
) -> Result<(), ApiError> {
    let c = &app.inner.cookies;
    c.set(
        headers,
        Some(request),
        &app.inner.key,
        c.session_name,
        session,
        app.inner.server.session_ttl_secs,
    )
    .map_err(|_| {
        ApiError::new(
            ErrorCode::ProviderBadResponse,
            "the provider's refresh token is too large to keep in the session cookie",
        )
    })
}

/// A known route with the wrong method: JSON 405.
pub(crate) async fn method_not_allowed() -> Response {
    ApiError::new(ErrorCode::InvalidRequest, "method not allowed")
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
        .into_response()
}

/// Unknown routes: JSON 404.
pub(crate) async fn not_found() -> Response {
    ApiError::new(ErrorCode::InvalidRequest, "no such endpoint")
        .with_status(StatusCode::NOT_FOUND)
        .into_response()
}

/// A panic in a handler (a bug) becomes a JSON `internal` error, not a dropped connection.
pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked (bug); answered 500 internal");
    ApiError::new(ErrorCode::Internal, "internal error").into_response()
}
