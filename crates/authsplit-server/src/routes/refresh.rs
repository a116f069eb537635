//! `POST /refresh`: step 7. One refresh in flight per session and refresh token across every
//! instance sharing the [`Store`] (its single flight); concurrent callers with the same old
//! refresh token share the single upstream result, so rotation never burns the grant (RFC 9700
//! §4.14.2; docs/SECURITY.md S10); the rotated token goes into the session record before the
//! reply.
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
use std::sync::Arc;

use super::{session_id, session_ttl, set_session};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Empty, StrictJson};
use crate::outbound::{CallError, EndpointKind};
use crate::provider::Provider;
use crate::revoke::revoke_discarded;
use crate::store::{
    REFRESH_SHARE_WINDOW, Refreshed, SessionExtra, SessionRecord, Shared, SharedError,
    refresh_flight_key,
};
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
    let mut out_headers = HeaderMap::new();
    let Some(id) = session_id(&app, &headers) else {
        return Err(not_auth());
    };
    let store = app.store();
    // A session logged out (or replaced) on any instance is never refreshed again (zero
    // upstream calls); the record is the only copy of its tokens.
    let record = match store.session(&id).await? {
        SessionState::Active(r) => *r,
        SessionState::Ended | SessionState::Missing => {
            c.clear(&mut out_headers, Some(&headers), c.session_name);
            return Ok((out_headers, not_auth()).into_response());
        }
    };
    let provider = app.provider(&record.provider).map_err(|_| not_auth())?;
    let Some(rt) = record.refresh_token.clone() else {
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
    // One flight per session and refresh token across every instance sharing the store: one
    // caller refreshes, the others wait for its outcome (bounded by the provider deadline).
    let deadline = app.inner.out.total_timeout() + FLIGHT_MARGIN;
    let limits = FlightLimits {
        lock_ttl: deadline,
        keep: REFRESH_SHARE_WINDOW,
        wait: deadline,
    };
    let mut own_error: Option<ApiError> = None;
    let mut ended_meanwhile = false;
    let flight = single_flight(
        store,
        &refresh_flight_key(&id, &rt_hash),
        limits,
        || async {
            // Logged out meanwhile (a logout joins this flight first): nothing is sent.
            let current = match store.session(&id).await {
                Ok(SessionState::Active(r)) => *r,
                Ok(_) => return (Shared::Ended, false),
                Err(e) => {
                    let e = ApiError::from(e);
                    let shared = Shared::Failed(SharedError::from(&e));
                    own_error = Some(e);
                    return (shared, false);
                }
            };
            if current.refresh_token.as_deref() != Some(rt.as_str()) {
                // Rotated by an earlier flight whose shared result has expired: the record
                // already holds its outcome; nothing is sent.
                return (Shared::Refreshed(Box::new(stored_reply(&current))), false);
            }
            match do_refresh(&app, &provider, &rt).await {
                Ok(r) => {
                    // The record takes the new tokens before anyone is told (a later caller reads
                    // the rotated refresh token from it).
                    match keep_refreshed(&app, &id, current, &r).await {
                        Ok(true) => {}
                        // Logged out while the refresh ran: the logout waiting on this flight
                        // revokes what it produced; this caller is signed out.
                        Ok(false) => ended_meanwhile = true,
                        Err(e) => {
                            revoke_discarded_refresh(&app, &provider, &r).await;
                            let shared = Shared::Failed(SharedError::from(&e));
                            own_error = Some(e);
                            return (shared, true);
                        }
                    }
                    (Shared::Refreshed(Box::new(r)), true)
                }
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
    match flight.value {
        Shared::Refreshed(r) if !ended_meanwhile => {
            match set_session(&app, &mut out_headers, &headers, &id) {
                Ok(()) => {
                    Ok((out_headers, Json(super::for_browser(&app, r.reply))).into_response())
                }
                Err(e) => Ok((out_headers, e).into_response()),
            }
        }
        Shared::Failed(e) => {
            let e = own_error.unwrap_or_else(|| e.into());
            if e.code() == ErrorCode::InvalidGrant {
                // The grant is dead: end the session.
                if let Err(se) = store.end_session(&id, session_ttl(&app)).await {
                    tracing::warn!(error = %se, "refresh: a dead session could not be ended in the store");
                }
                c.clear(&mut out_headers, Some(&headers), c.session_name);
            }
            Ok((out_headers, e).into_response())
        }
        Shared::Refreshed(_) | Shared::Ended | Shared::Nothing => {
            c.clear(&mut out_headers, Some(&headers), c.session_name);
            Ok((out_headers, not_auth()).into_response())
        }
    }
}

/// What the record holds, as a refresh reply (the access token it keeps).
fn stored_reply(record: &SessionRecord) -> Refreshed {
    let extra = SessionExtra::of(record);
    Refreshed {
        reply: TokenReply {
            access_token: record.access_token.clone().unwrap_or_default(),
            token_type: extra.token_type.unwrap_or_else(|| "bearer".to_owned()),
            expires_at: record.access_expires_at,
            scope: extra.scope,
            id_token_claims: None,
            user: None,
        },
        rotated: None,
    }
}

/// Writes a refresh's outcome into the session record (the rotated refresh token, the new
/// access token); its lifetime restarts. `Ok(false)`: the session ended meanwhile.
async fn keep_refreshed(
    app: &AppState,
    id: &str,
    mut record: SessionRecord,
    r: &Refreshed,
) -> Result<bool, ApiError> {
    let ttl = session_ttl(app);
    if let Some(n) = &r.rotated {
        record.refresh_token = Some(n.clone());
    }
    record.access_token = Some(r.reply.access_token.clone()).filter(|t| !t.is_empty());
    record.access_expires_at = r.reply.expires_at;
    let mut extra = SessionExtra::of(&record);
    extra.token_type = Some(r.reply.token_type.clone());
    if r.reply.scope.is_some() {
        extra.scope = r.reply.scope.clone();
    }
    extra.store_in(&mut record);
    record.expires_at = app.now().saturating_add(ttl.as_secs());
    Ok(app.store().update_session(id, &record, ttl).await?)
}

/// Tokens a refresh produced that no session could keep: revoke them where the provider can.
async fn revoke_discarded_refresh(app: &AppState, provider: &Arc<Provider>, r: &Refreshed) {
    if let Ok(profile) = provider.profile(&app.inner.out).await {
        revoke_discarded(
            app,
            provider,
            &profile,
            r.reply.access_token.clone(),
            r.rotated.clone(),
        );
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
