//! The endpoints, one module each, in the order of one sign-in: [`transactions`]
//! (`POST /transactions`), [`token`] (`POST /token`), [`refresh`] (`POST /refresh`),
//! [`logout`] (`POST /logout`), then [`session`] (`GET /session`), [`config`] (`GET /config`)
//! and [`health`] (`GET /healthz`). Shared here: the session cookie writer, random ids, and the JSON
//! answers for unknown routes, wrong methods and panics.

use authsplit_core::ErrorCode;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use std::time::Duration;

use crate::AppState;
use crate::cookies::SessionCookie;
use crate::error::ApiError;

pub(crate) mod config;
pub(crate) mod health;
pub(crate) mod logout;
pub(crate) mod refresh;
pub(crate) mod session;
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

/// The session id the request's session cookie carries (`None`: no cookie, or one that opens
/// with none of the cookie keys).
pub(crate) fn session_id(app: &AppState, request: &HeaderMap) -> Option<String> {
    session_cookie(app, request).map(|(id, _)| id)
}

/// The session id and whether its cookie was sealed with the current key.
pub(crate) fn session_cookie(app: &AppState, request: &HeaderMap) -> Option<(String, bool)> {
    let c = &app.inner.cookies;
    c.open::<SessionCookie>(request, &app.inner.keys, c.session_name)
        .map(|(s, current)| (s.id, current))
}

/// The session's lifetime in the store (and of its "ended" mark), from `session_ttl_secs`.
pub(crate) fn session_ttl(app: &AppState) -> Duration {
    Duration::from_secs(app.inner.server.session_ttl_secs.max(1))
}

/// Writes the session cookie carrying `id`, sealed with the current key, for `max_age_secs`
/// (the rest of the session's life).
fn set_session(
    app: &AppState,
    headers: &mut HeaderMap,
    request: &HeaderMap,
    id: &str,
    max_age_secs: u64,
) -> Result<(), ApiError> {
    let c = &app.inner.cookies;
    c.set(
        headers,
        Some(request),
        &app.inner.key,
        c.session_name,
        &SessionCookie { id: id.to_owned() },
        max_age_secs,
    )
    .map_err(|_| ApiError::new(ErrorCode::Internal, "internal error"))
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
