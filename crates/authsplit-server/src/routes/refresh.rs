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
use std::time::Duration;

use super::{session_cookie, session_ttl, set_session};
use crate::AppState;
use crate::error::{ApiError, session_ended};
use crate::extract::{Empty, StrictJson};
use crate::idtoken::Expect;
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
    let Some((id, current_key)) = session_cookie(&app, &headers) else {
        return Err(not_auth());
    };
    let store = app.store();
    // A session logged out (or replaced) on any instance is never refreshed again (zero
    // upstream calls); the record is the only copy of its tokens. Its cookie is left alone:
    // it opens nothing, and the browser may hold a newer session's cookie by the time this
    // answer arrives (a sign-in in another tab).
    let record = match store.session(&id).await? {
        SessionState::Active(r) => *r,
        SessionState::Ended => return Err(session_ended()),
        SessionState::Missing => return Err(not_auth()),
    };
    let provider = app.provider(&record.provider).map_err(|_| not_auth())?;
    let Some(rt) = record.refresh_token.clone() else {
        // No refresh token (GitHub without expiring tokens, Weibo, …): the access token the
        // session holds, while it is valid, is all there is to restore after a reload.
        if record.access_token.is_some() && record.access_expires_at.is_none_or(|t| t > app.now()) {
            if !current_key {
                let left = record.expires_at.saturating_sub(app.now()).max(1);
                set_session(&app, &mut out_headers, &headers, &id, left)?;
            }
            return Ok((
                out_headers,
                Json(super::for_browser(&app, stored_reply(&record).reply)),
            )
                .into_response());
        }
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
    match refresh_session(&app, &id, &provider, rt).await? {
        // The cookie stays as it is (the record holds the new tokens); chunk cookies of an
        // earlier cookie format go.
        Outcome::Refreshed(reply) => {
            c.clear_legacy_chunks(&mut out_headers, &headers, c.session_name);
            if !current_key {
                // Sealed with a previous cookie key: sealed again with the current one.
                let left = record.expires_at.saturating_sub(app.now()).max(1);
                if let Err(e) = set_session(&app, &mut out_headers, &headers, &id, left) {
                    return Ok((out_headers, e).into_response());
                }
            }
            Ok((out_headers, Json(super::for_browser(&app, *reply))).into_response())
        }
        Outcome::Failed { error, grant_dead } => {
            if grant_dead {
                c.clear(&mut out_headers, Some(&headers), c.session_name);
            }
            Ok((out_headers, error).into_response())
        }
        Outcome::SignedOut => Ok((out_headers, session_ended()).into_response()),
    }
}

/// What refreshing a session gave, for whoever asked: the `/refresh` endpoint, or a host
/// handler that needs a fresh access token ([`crate::AuthUser::access_token`]).
pub(crate) enum Outcome {
    /// The provider issued new tokens (already in the session record).
    Refreshed(Box<TokenReply>),
    /// The refresh failed; `grant_dead`: the provider refused the grant, the session is ended.
    Failed { error: ApiError, grant_dead: bool },
    /// The session ended before or while the refresh ran.
    SignedOut,
}

/// Refreshes the session `id` (whose record holds the refresh token `rt`) through its single
/// flight: one upstream refresh per session and refresh token across every instance sharing
/// the store, every concurrent caller gets its outcome.
pub(crate) async fn refresh_session(
    app: &AppState,
    id: &str,
    provider: &Arc<Provider>,
    rt: String,
) -> Result<Outcome, ApiError> {
    let app = app.clone();
    let store = app.store();
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
    let flight = single_flight(store, &refresh_flight_key(id, &rt_hash), limits, || async {
        // Logged out meanwhile (a logout joins this flight first): nothing is sent.
        let current = match store.session(id).await {
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
        match do_refresh(&app, provider, &rt).await {
            Ok((r, id_token)) => {
                // OIDC Core §12.2: a new ID token must be the session's user's, or the
                // session takes nothing from this refresh (what it produced is revoked).
                let id_token = match refreshed_id_token(&app, provider, &current, id_token).await {
                    Ok(t) => t,
                    Err(e) => {
                        revoke_discarded_refresh(&app, provider, &r).await;
                        let shared = Shared::Failed(SharedError::from(&e));
                        own_error = Some(e);
                        return (shared, true);
                    }
                };
                // The record takes the new tokens before anyone is told (a later caller reads
                // the rotated refresh token from it).
                match keep_refreshed(&app, id, current, &r, id_token).await {
                    Ok(true) => {}
                    // Logged out while the refresh ran: the logout waiting on this flight
                    // revokes what it produced; this caller is signed out.
                    Ok(false) => ended_meanwhile = true,
                    Err(e) => {
                        revoke_discarded_refresh(&app, provider, &r).await;
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
    })
    .await?;
    if let Some(e) = &flight.publish_error {
        tracing::warn!(error = %e, "refresh: the outcome could not be shared");
    }
    if !flight.led {
        tracing::debug!(provider = %provider.id, "sharing an in-flight refresh result");
    }
    Ok(match flight.value {
        Shared::Refreshed(r) if !ended_meanwhile => Outcome::Refreshed(Box::new(r.reply)),
        Shared::Failed(e) => {
            let error = own_error.unwrap_or_else(|| e.into());
            let grant_dead = error.code() == ErrorCode::InvalidGrant;
            if grant_dead {
                // The grant is dead: end the session.
                if let Err(se) = store.end_session(id, session_ttl(&app)).await {
                    tracing::warn!(error = %se, "refresh: a dead session could not be ended in the store");
                }
            }
            Outcome::Failed { error, grant_dead }
        }
        Shared::Refreshed(_) | Shared::Ended | Shared::Nothing => Outcome::SignedOut,
    })
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

/// An ID token that came with a refresh (OIDC Core §12.2): validated like a sign-in's
/// (signature, `aud`, `azp`, `exp`, `iat`; no `nonce` required, but never a different one), and
/// its `iss` and `sub` must be those of the ID token the session started with. `Ok(Some)`: the
/// session takes it. A session that started without an ID token has nothing to compare one
/// with and keeps none.
async fn refreshed_id_token(
    app: &AppState,
    provider: &Provider,
    record: &SessionRecord,
    token: Option<String>,
) -> Result<Option<String>, ApiError> {
    let Some(token) = token else {
        return Ok(None);
    };
    let extra = SessionExtra::of(record);
    let (Some(iss), Some(sub)) = (extra.id_iss.as_deref(), extra.id_sub.as_deref()) else {
        tracing::debug!(provider = %provider.id, "refresh: an ID token for a session without one is not kept");
        return Ok(None);
    };
    let profile = provider.profile(&app.inner.out).await?;
    let expect = Expect {
        issuers: vec![iss],
        profile: &profile,
        client_id: &provider.creds.client_id,
        nonce: extra.id_nonce.as_deref(),
        refreshed: true,
        now: app.now(),
    };
    let claims = crate::idtoken::validate(provider, &app.inner.out, &token, &expect).await?;
    if claims.get("sub").and_then(serde_json::Value::as_str) != Some(sub) {
        return Err(ApiError::new(
            ErrorCode::InvalidIdToken,
            "the refreshed ID token's sub is not the session's user",
        ));
    }
    tracing::debug!(provider = %provider.id, "refresh: the new ID token is the session's user's; kept");
    Ok(Some(token))
}

/// Writes a refresh's outcome into the session record (the rotated refresh token, the new
/// access token, a validated new ID token); the session keeps its end. `Ok(false)`: the
/// session ended meanwhile.
async fn keep_refreshed(
    app: &AppState,
    id: &str,
    mut record: SessionRecord,
    r: &Refreshed,
    id_token: Option<String>,
) -> Result<bool, ApiError> {
    let ttl = Duration::from_secs(record.expires_at.saturating_sub(app.now()).max(1));
    if id_token.is_some() {
        record.id_token = id_token;
    }
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

/// One upstream refresh (RFC 6749 §6): the outcome and the ID token that came with it, not yet
/// validated. A failure before the refresh token was sent is [`CallError::NotSent`].
async fn do_refresh(
    app: &AppState,
    provider: &Provider,
    rt: &str,
) -> Result<(Refreshed, Option<String>), CallError<ApiError>> {
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
        let id_token = tokens.id_token.as_ref().map(|t| t.secret().to_owned());
        Ok((
            Refreshed {
                reply,
                rotated: tokens.refresh_token.map(|r| r.into_secret()),
            },
            id_token,
        ))
    }
    .await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok((r, _)) => tracing::info!(provider = %provider.id, latency_ms, outcome = "ok",
            rotated = r.rotated.is_some(), "refreshed"),
        Err(e) => tracing::warn!(provider = %provider.id, latency_ms,
            outcome = e.inner().code().as_str(), "refresh failed"),
    }
    result
}
