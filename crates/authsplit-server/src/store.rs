//! The server's side of the session store: the endpoints keep every single-use, single-flight
//! and "ended" state in an [`authsplit_store::Store`] (memory, SQLite or Redis, chosen by
//! `[store] url`), so the guarantees hold across restarts and across instances sharing one
//! store. This module holds what the endpoints add on top: how a store failure answers the
//! browser (fail closed, nothing sent upstream), and the refresh outcome as it is shared between
//! concurrent callers on any instance. The rules: docs/SECURITY.md A2 and S8 (single use), S10
//! (one refresh at a time per session).

use std::time::Duration;

use authsplit_core::error::{OAuthErrorCode, ProviderError};
use authsplit_core::wire::TokenReply;
use authsplit_core::{Error, ErrorCode};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

pub use authsplit_store::{Claim, MemoryStore, SessionRecord, Store, StoreError};

use crate::error::ApiError;

/// Concurrent `/refresh` calls with the same old refresh token within this window share one
/// upstream result (rotation must never burn the grant, RFC 9700 §4.14.2; docs/SECURITY.md S10).
pub const REFRESH_SHARE_WINDOW: Duration = Duration::from_secs(30);

/// A store that cannot answer fails the request closed, with nothing sent upstream.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Full => ApiError::new(
                ErrorCode::ProviderUnavailable,
                "too many sign-ins in progress; try again shortly",
            ),
            StoreError::Config(_) => {
                tracing::error!(error = %e, "session store misconfigured; request refused");
                ApiError::new(ErrorCode::Internal, "internal error")
            }
            _ => {
                tracing::error!(error = %e, "session store unavailable; request refused");
                ApiError::new(
                    ErrorCode::StoreUnavailable,
                    "the session store is unavailable; try again shortly",
                )
            }
        }
    }
}

/// A successful refresh as shared between concurrent callers.
#[derive(Clone, Serialize, Deserialize)]
pub struct Refreshed {
    /// What the browser gets.
    pub reply: TokenReply,
    /// The rotated refresh token, when the provider rotated it.
    pub rotated: Option<String>,
}

/// An error as shared between concurrent callers: what the browser sees of it (code, message,
/// status, `Retry-After`, the provider's RFC 6749 error) — never the provider's raw response.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct SharedError {
    code: String,
    message: String,
    status: u16,
    retry_after: Option<u64>,
    provider_error: Option<String>,
    provider_error_description: Option<String>,
}

impl From<&ApiError> for SharedError {
    fn from(e: &ApiError) -> Self {
        Self {
            code: e.code().as_str().to_owned(),
            message: e.error.message.to_string(),
            status: e.status().as_u16(),
            retry_after: e.retry_after,
            provider_error: e
                .error
                .provider_error()
                .map(|p| p.error.as_str().to_owned()),
            provider_error_description: e
                .error
                .provider_error()
                .and_then(|p| p.error_description.clone()),
        }
    }
}

impl From<SharedError> for ApiError {
    fn from(s: SharedError) -> Self {
        let code = ErrorCode::parse(&s.code).unwrap_or(ErrorCode::Internal);
        let mut error = Error::new(code, s.message);
        if let Some(p) = s.provider_error {
            error = error.with_provider_error(ProviderError {
                error: OAuthErrorCode::parse(&p),
                error_description: s.provider_error_description,
                error_uri: None,
            });
        }
        let mut e = ApiError::from(error).with_retry_after(s.retry_after);
        if let Ok(status) = StatusCode::from_u16(s.status)
            && status != e.status()
        {
            e = e.with_status(status);
        }
        e
    }
}

/// The outcome of one refresh flight, as every caller of the flight sees it.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) enum Shared {
    /// The provider issued new tokens.
    Refreshed(Box<Refreshed>),
    /// The refresh failed (the error every caller gets).
    Failed(SharedError),
    /// The session was logged out before the refresh started: nothing was sent.
    Ended,
    /// Nothing happened in this flight (a logout looking for a refresh in flight found none).
    Nothing,
}

/// What the server keeps in a session record besides the store's own fields (the record's
/// `extra` map): how to answer with the stored access token, and the claims a refreshed ID
/// token must repeat (OIDC Core §12.2).
#[derive(Clone, Default, Serialize, Deserialize)]
pub(crate) struct SessionExtra {
    /// The access token's type (`bearer`, or `none` when there is no user token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The granted scope, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `iss` of the sign-in's ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_iss: Option<String>,
    /// `sub` of the sign-in's ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_sub: Option<String>,
    /// `nonce` of the sign-in's ID token (a refreshed one may repeat it, never change it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_nonce: Option<String>,
}

impl SessionExtra {
    /// The extra fields of `record` (defaults for anything missing or unreadable).
    pub fn of(record: &SessionRecord) -> Self {
        serde_json::from_value(serde_json::Value::Object(record.extra.clone())).unwrap_or_default()
    }

    /// Writes these fields into `record`.
    pub fn store_in(&self, record: &mut SessionRecord) {
        if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(self) {
            record.extra = m;
        }
    }
}

/// The store key of the refresh flight of one session and refresh token.
pub(crate) fn refresh_flight_key(sid: &str, rt_hash: &[u8; 32]) -> String {
    let hex: String = rt_hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("refresh:{sid}:{hex}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_error_keeps_what_the_browser_sees() {
        let e = ApiError::from(
            Error::new(ErrorCode::InvalidGrant, "the refresh token was refused")
                .with_provider_error(ProviderError {
                    error: OAuthErrorCode::InvalidGrant,
                    error_description: Some("expired".to_owned()),
                    error_uri: None,
                }),
        )
        .with_retry_after(Some(3));
        let json = serde_json::to_string(&SharedError::from(&e)).unwrap();
        let back = ApiError::from(serde_json::from_str::<SharedError>(&json).unwrap());
        assert_eq!(back.code(), ErrorCode::InvalidGrant);
        assert_eq!(back.status(), e.status());
        assert_eq!(back.retry_after, Some(3));
        let body = |e: &ApiError| {
            serde_json::to_value(authsplit_core::wire::ErrorBody::from(&e.error)).unwrap()
        };
        assert_eq!(body(&back), body(&e));
    }

    #[test]
    fn store_failures_answer_typed_errors() {
        assert_eq!(
            ApiError::from(StoreError::Full).code(),
            ErrorCode::ProviderUnavailable
        );
        let down = ApiError::from(StoreError::Unavailable {
            backend: "redis",
            reason: "connection refused".to_owned(),
        });
        assert_eq!(down.code(), ErrorCode::StoreUnavailable);
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
