//! `POST /refresh`: step 7. One refresh in flight per session and refresh token across every
//! instance sharing the [`Store`] (its single flight); concurrent callers with the same old
//! refresh token share the single upstream result, so rotation never burns the grant (RFC 9700 §4.14.2; docs/SECURITY.md S10); the
//! rotated token goes into the cookie before the reply.
//!
//! [`Store`]: crate::store::Store

use std::time::Instant;

use authsplit_core::provider::{self as core_provider, Grant};
use authsplit_core::secret::RefreshToken;
use authsplit_core::wire::TokenReply;
use authsplit_core::{Error, ErrorCode};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use sha2::Digest as _;

use super::set_session;
use crate::AppState;
use crate::cookies::SessionCookie;
use crate::error::ApiError;
use crate::extract::{Empty, StrictJson};
use crate::outbound::{CallError, EndpointKind};
use crate::provider::Provider;
use crate::store::{REFRESH_SHARE_WINDOW, Refreshed, Shared, SharedError, refresh_flight_key};
use authsplit_store::{FlightLimits, SessionState, single_flight};

/// How much longer than the provider deadline a refresh flight's lock lives and its followers
/// wait (the leader's own bookkeeping after the upstream call).
const FLIGHT_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// `POST /refresh`.
pub(crate) async fn refresh(
    State(app): State<AppState>,
    headers: HeaderMap,
    StrictJson(_): StrictJson<Empty>,
) -> Result<Response, ApiError> {
    let c = &app.inner.cookies;
    let not_auth = || ApiError::new(ErrorCode::NotAuthenticated, "no session: sign in first");
    let session: SessionCookie = c
        .get(&headers, &app.inner.key, c.session_name)
        .ok_or_else(not_auth)?;
    let provider = app.provider(&session.provider).map_err(|_| not_auth())?;
    let Some(rt) = session.refresh_token.clone() else {
        // Say why: the provider has no refresh grant at all (WeCom, Weibo), or it issued no
        // refresh token for this sign-in (e.g. GitHub without expiring tokens).
        let unsupported = provider
            .profile(&app.inner.out)
            .await
            .is_ok_and(|p| !p.supports_refresh());
        return Err(ApiError::from(Error::new(
            ErrorCode::NotAuthenticated,
            if unsupported {
                unsupported_message(&provider)
            } else {
                "this session has no refresh token (the provider issued none); sign in again"
                    .to_owned()
            },
        )));
    };
    let rt_hash: [u8; 32] = sha2::Sha256::digest(rt.as_bytes()).into();
    let mut out_headers = HeaderMap::new();
    let store = app.store();
    // A session logged out on any instance is never refreshed again (zero upstream calls).
    if store.session(&session.sid).await? == SessionState::Ended {
        c.clear(&mut out_headers, Some(&headers), c.session_name);
        return Ok((out_headers, not_auth()).into_response());
    }
    // One flight per session and refresh token across every instance sharing the store: one
    // caller refreshes, the others wait for its outcome (bounded by the provider deadline).
    let deadline = app.inner.out.total_timeout() + FLIGHT_MARGIN;
    let limits = FlightLimits {
        lock_ttl: deadline,
        keep: REFRESH_SHARE_WINDOW,
        wait: deadline,
    };
    let mut own_error: Option<ApiError> = None;
    let flight = single_flight(
        store,
        &refresh_flight_key(&session.sid, &rt_hash),
        limits,
        || async {
            // Logged out meanwhile (a logout joins this flight first): nothing is sent.
            match store.session(&session.sid).await {
                Ok(SessionState::Ended) => return (Shared::Ended, false),
                Err(e) => {
                    let e = ApiError::from(e);
                    let shared = Shared::Failed(SharedError::from(&e));
                    own_error = Some(e);
                    return (shared, false);
                }
                Ok(_) => {}
            }
            match do_refresh(&app, &provider, &rt).await {
                Ok(r) => (Shared::Refreshed(Box::new(r)), true),
                Err(e) => {
                    // Shared unless the refresh token never left this process (then a later
                    // caller may simply try again).
                    let share = e.may_have_arrived();
                    let e = e.into_inner();
                    let shared = Shared::Failed(SharedError::from(&e));
                    own_error = Some(e);
                    (shared, share)
                }
            }
        },
    )
    .await?;
    if let Some(e) = &flight.publish_error {
        tracing::warn!(error = %e, "refresh: the outcome could not be shared");
    }
    if !flight.led {
        tracing::debug!(provider = %provider.id, "sharing an in-flight refresh result");
    }
    let outcome: Result<Refreshed, ApiError> = match flight.value {
        Shared::Refreshed(r) => Ok(*r),
        Shared::Failed(e) => Err(own_error.unwrap_or_else(|| e.into())),
        Shared::Ended | Shared::Nothing => {
            c.clear(&mut out_headers, Some(&headers), c.session_name);
            return Ok((out_headers, not_auth()).into_response());
        }
    };
    match outcome {
        Ok(Refreshed { reply, rotated }) => {
            let mut s = session;
            if let Some(n) = rotated {
                s.refresh_token = Some(n);
            }
            if s.revocable_access_token.is_some() {
                s.revocable_access_token = Some(reply.access_token.clone());
            }
            match set_session(&app, &mut out_headers, &headers, &s) {
                Ok(()) => Ok((out_headers, Json(reply)).into_response()),
                Err(e) => Ok((out_headers, e).into_response()),
            }
        }
        Err(e) => {
            if e.code() == ErrorCode::InvalidGrant {
                // The grant is dead: end the session.
                c.clear(&mut out_headers, Some(&headers), c.session_name);
            }
            Ok((out_headers, e).into_response())
        }
    }
}

fn unsupported_message(provider: &Provider) -> String {
    format!(
        "provider `{}` does not support refresh tokens; sign in again",
        provider.id
    )
}

/// One upstream refresh (RFC 6749 §6). A failure before the refresh token was sent is
/// [`CallError::NotSent`].
async fn do_refresh(
    app: &AppState,
    provider: &Provider,
    rt: &str,
) -> Result<Refreshed, CallError<ApiError>> {
    let started = Instant::now();
    let out = &app.inner.out;
    let result = async {
        let profile = provider
            .profile(out)
            .await
            .map_err(|e| CallError::NotSent(e.into()))?;
        if !profile.supports_refresh() {
            // Nothing is sent: the provider has no refresh grant (docs/PROVIDERS.md table).
            return Err(CallError::NotSent(ApiError::from(Error::new(
                ErrorCode::NotAuthenticated,
                unsupported_message(provider),
            ))));
        }
        let refresh_token = RefreshToken::new(rt.to_owned());
        let spec = core_provider::token_request(
            &profile,
            &provider.creds,
            Grant::RefreshToken {
                refresh_token: &refresh_token,
            },
        )
        .map_err(|e| CallError::NotSent(e.into()))?;
        let secrets = provider.secrets(&[rt]);
        let tokens = provider
            .token_call(
                out,
                &profile,
                EndpointKind::Refresh,
                &spec,
                &secrets,
                app.now(),
            )
            .await?;
        let reply = TokenReply {
            access_token: tokens.access_token.secret().to_owned(),
            token_type: tokens.token_type.clone(),
            expires_at: tokens.expires_at,
            scope: tokens.scope.clone(),
            id_token_claims: None,
            user: None,
        };
        Ok(Refreshed {
            reply,
            rotated: tokens.refresh_token.map(|r| r.into_secret()),
        })
    }
    .await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(r) => tracing::info!(provider = %provider.id, latency_ms, outcome = "ok",
            rotated = r.rotated.is_some(), "refreshed"),
        Err(e) => tracing::warn!(provider = %provider.id, latency_ms,
            outcome = e.inner().code().as_str(), "refresh failed"),
    }
    result
}
