//! Inbound request checks: the strict JSON extractor and the CSRF guard.

use authsplit_core::ErrorCode;
use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// A JSON body read strictly (docs/SECURITY.md S3): `Content-Type: application/json` (else 415
/// `unsupported_media_type`), at most `server.max_body_bytes` (else 413 `body_too_large`), and a
/// shape that matches `T` exactly — the wire structs deny unknown fields — else 400
/// `invalid_request`. Every rejection is the JSON error body.
#[derive(Debug)]
pub struct StrictJson<T>(pub T);

/// An empty JSON object body (`{}`) for `/refresh` and `/logout`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

impl<T: DeserializeOwned> FromRequest<AppState> for StrictJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.inner.server.max_body_bytes;
        check_content_type(req.headers())?;
        if let Some(len) = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && len > limit as u64
        {
            if len <= DRAIN_MAX_BYTES as u64 {
                drain(req.into_body()).await;
            }
            return Err(too_large());
        }
        let bytes = read_limited(req.into_body(), limit).await?;
        parse_json(&bytes).map(StrictJson)
    }
}

fn too_large() -> ApiError {
    ApiError::new(ErrorCode::BodyTooLarge, "request body too large")
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "Content-Type must be application/json",
        ))
    }
}

/// Reads at most `limit` bytes. Past the limit the rest of the body is drained (bounded in
/// bytes and time) before answering 413: closing a socket with unread input makes the kernel
/// send a reset, which can destroy the 413 response before the client reads it.
async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    use http_body_util::BodyExt as _;
    let mut body = body;
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            ApiError::new(ErrorCode::InvalidRequest, "could not read the request body")
        })?;
        if let Some(data) = frame.data_ref() {
            if buf.len() + data.len() > limit {
                drain(body).await;
                return Err(too_large());
            }
            buf.extend_from_slice(data);
        }
    }
    Ok(buf.freeze())
}

/// How much of an oversized body is read and discarded before the 413 (lingering close).
const DRAIN_MAX_BYTES: usize = 4 * 1024 * 1024;
const DRAIN_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(2);

async fn drain(mut body: Body) {
    use http_body_util::BodyExt as _;
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, async {
        let mut total = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            total += frame.data_ref().map_or(0, |d| d.len());
            if total > DRAIN_MAX_BYTES {
                break;
            }
        }
    })
    .await;
}

/// Parses JSON into `T`. The message names unknown/missing fields but never echoes a value.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice::<T>(bytes).map_err(|e| {
        let text = e.to_string();
        let msg: std::borrow::Cow<'static, str> = if e.is_data()
            && (text.starts_with("unknown field") || text.starts_with("missing field"))
        {
            // "unknown field `x`, expected one of …" / "missing field `x`": field names only.
            let head = text.split(" at line").next().unwrap_or("").to_owned();
            format!("request body does not match the expected shape: {head}").into()
        } else if e.is_syntax() || e.is_eof() {
            "request body is not valid JSON".into()
        } else {
            "request body does not match the expected shape".into()
        };
        authsplit_core::Error::new(ErrorCode::InvalidRequest, msg).into()
    })
}

/// The CSRF guard on every POST (RFC 10017 §6.1.3.3; docs/SECURITY.md A3): the custom header
/// `x-authsplit: 1` (401 `csrf_header_missing`) and an allow-listed `Origin`
/// (401 `origin_rejected`). A cross-site page cannot add the header without a CORS
/// preflight, which only the configured origins pass.
pub(crate) async fn csrf_guard(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    match check_csrf(&state, req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// [`csrf_guard`] for requests that can change state: `GET`, `HEAD` and `OPTIONS` pass
/// (for the host's routes, [`crate::Authsplit::protect`]).
pub(crate) async fn csrf_guard_unsafe_methods(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    use axum::http::Method;
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    csrf_guard(State(state), req, next).await
}

pub(crate) fn check_csrf(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let has_header = headers
        .get(authsplit_core::wire::CSRF_HEADER)
        .map(|v| v.as_bytes() == b"1")
        .unwrap_or(false);
    if !has_header {
        return Err(ApiError::new(
            ErrorCode::CsrfHeaderMissing,
            "the x-authsplit: 1 header is required",
        ));
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Err(ApiError::new(
            ErrorCode::OriginRejected,
            "the Origin header is required",
        ));
    };
    // The expected origins come from the configuration only, never from a request header
    // (`Host` is set by whoever sends the request): `allowed_origins`, and with
    // `allow_same_origin` the origins of the configured redirect URIs.
    if state.inner.allowed_origins.iter().any(|o| o == origin)
        || state.inner.same_origins.iter().any(|o| o == origin)
    {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::OriginRejected,
        "this Origin is not allowed",
    ))
}
