//! `POST /logout`: step 8. Ends the session in the [`Store`] (on every instance sharing it),
//! waits for the session's refresh in flight, revokes what the provider can revoke (RFC 7009), clears every authsplit
//! cookie and returns the end-session URL (OIDC RP-Initiated Logout §2) when there is one.
//!
//! [`Store`]: crate::store::Store

use authsplit_core::provider::ProviderProfile;
use authsplit_core::wire::LogoutReply;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use sha2::Digest as _;

use super::{session_id, session_ttl};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Empty, StrictJson};
use crate::provider::Provider;
use crate::revoke::{Hint, revoke};
use std::time::Duration;

use authsplit_store::{FlightLimits, single_flight};

use crate::store::{REFRESH_SHARE_WINDOW, Refreshed, Shared, refresh_flight_key};

/// `POST /logout`: revoke the refresh token (RFC 7009), clear both cookies, return the
/// end-session URL (OIDC RP-Initiated Logout §2) when the provider has one.
pub(crate) async fn logout(
    State(app): State<AppState>,
    headers: HeaderMap,
    StrictJson(_): StrictJson<Empty>,
) -> Result<Response, ApiError> {
    let c = &app.inner.cookies;
    let mut out_headers = HeaderMap::new();
    c.clear(&mut out_headers, Some(&headers), c.session_name);
    for name in c.tx_names_in(&headers) {
        c.clear(&mut out_headers, None, &name);
    }
    if crate::cookies::CookieSettings::has(&headers, c.tx_prefix) {
        c.clear(&mut out_headers, None, c.tx_prefix);
    }
    let mut reply = LogoutReply {
        revoked: false,
        end_session_url: None,
    };
    let Some(id) = session_id(&app, &headers) else {
        return Ok((out_headers, Json(reply)).into_response());
    };
    // End the session so no later refresh runs on any instance (the record goes; the id stays
    // ended for the cookie's lifetime). A store that cannot answer leaves the session alive, so
    // the logout is refused with a typed error (the cookies are cleared all the same).
    let store = app.store();
    let ended = match store.end_session(&id, session_ttl(&app)).await {
        Ok(ended) => ended,
        Err(e) => return Ok((out_headers, ApiError::from(e)).into_response()),
    };
    if let Some(session) = ended
        && let Ok(provider) = app.provider(&session.provider)
    {
        // Wait for a refresh of this session that is in flight (or just finished) with the
        // record's refresh token, to revoke the token it produced too.
        let last: Option<Refreshed> = match &session.refresh_token {
            Some(rt) => {
                let rt_hash: [u8; 32] = sha2::Sha256::digest(rt.as_bytes()).into();
                let deadline = app.inner.out.total_timeout() + Duration::from_secs(5);
                let limits = FlightLimits {
                    lock_ttl: deadline,
                    keep: REFRESH_SHARE_WINDOW,
                    wait: deadline,
                };
                let key = refresh_flight_key(&id, &rt_hash);
                match single_flight(store, &key, limits, || async { (Shared::Nothing, false) })
                    .await
                {
                    Ok(f) => match f.value {
                        Shared::Refreshed(r) => Some(*r),
                        _ => None,
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "logout: a refresh in flight could not be awaited");
                        None
                    }
                }
            }
            None => None,
        };
        let mut tokens: Vec<String> = Vec::new();
        if let Some(rt) = &session.refresh_token {
            if let Some(rotated) = last.as_ref().and_then(|r| r.rotated.clone()) {
                tokens.push(rotated);
            }
            tokens.push(rt.clone());
        }
        match provider.profile(&app.inner.out).await {
            Ok(profile) => {
                match &profile.revocation {
                    Some(r) if r.accepts_refresh_token => {
                        for (i, rt) in tokens.iter().enumerate() {
                            let ok = revoke(&app, &provider, &profile, rt, Hint::Refresh).await;
                            if i == 0 {
                                reply.revoked = ok;
                            }
                        }
                    }
                    Some(_) => {
                        // GitHub, Weibo: only access tokens can be revoked: the record's
                        // current one (and the one a concurrent refresh just got).
                        let mut ats: Vec<String> = Vec::new();
                        if let Some(fresh) = &last {
                            ats.push(fresh.reply.access_token.clone());
                        }
                        ats.extend(session.access_token.iter().cloned());
                        if ats.is_empty() {
                            tracing::info!(provider = %provider.id,
                                "logout: the provider revokes only access tokens and none is kept; not revoked (revoked: false)");
                        }
                        for (i, at) in ats.iter().enumerate() {
                            let ok = revoke(&app, &provider, &profile, at, Hint::Access).await;
                            if i == ats.len() - 1 {
                                reply.revoked = ok;
                            }
                        }
                    }
                    None if !tokens.is_empty() => {
                        tracing::info!(provider = %provider.id,
                            "logout: the provider has no token revocation; session ended locally only (revoked: false)");
                    }
                    _ => {}
                }
                reply.end_session_url = end_session_url(&provider, &profile);
            }
            Err(e) => {
                tracing::warn!(provider = %provider.id, code = e.code().as_str(),
                    "logout: provider metadata unavailable; cookies cleared without revocation");
            }
        }
    }
    Ok((out_headers, Json(reply)).into_response())
}

/// `client_id` (+ `post_logout_redirect_uri`) identify the RP (OIDC RP-Initiated Logout §2).
/// The raw ID token is deliberately not sent as `id_token_hint`: it would reach the browser
/// in a response body and then a URL; the provider asks the user to confirm instead.
fn end_session_url(provider: &Provider, profile: &ProviderProfile) -> Option<String> {
    let base = profile.endpoints.end_session.as_ref()?;
    let mut u = url::Url::parse(base).ok()?;
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("client_id", &provider.creds.client_id);
        if let Some(p) = &provider.post_logout_redirect_uri {
            q.append_pair("post_logout_redirect_uri", p);
        }
    }
    Some(u.to_string())
}
