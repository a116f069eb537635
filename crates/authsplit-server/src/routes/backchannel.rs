//! `POST /backchannel-logout/{provider}`: OIDC Back-Channel Logout 1.0 §2.5–§2.8. The provider
//! posts a `logout_token` (form-encoded) from its servers; once the token is valid (signature
//! from the provider's JWKS, claims per [`crate::logout_token`]) and its `jti` was never seen,
//! every session of that provider with the token's `sid` — or, without one, its `sub` — is
//! ended in the [`Store`], so on every instance sharing it at once (docs/SECURITY.md S18). The
//! browser is not involved: no CSRF header, no cookies, no CORS.
//!
//! Answers (§2.8): 200 with an empty body once the sessions are ended (also when none matched);
//! 400 `invalid_request` for a malformed request or an invalid or replayed token, with nothing
//! ended; 503 when the store or the provider's JWKS cannot answer, with nothing ended.
//!
//! [`Store`]: crate::store::Store

use std::time::Duration;

use authsplit_core::ErrorCode;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;
use crate::logout_token::Target;
use crate::store::Claim;
use authsplit_store::Lookup;

fn invalid(msg: &'static str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, msg)
}

/// The one `logout_token` form parameter (§2.5), from an
/// `application/x-www-form-urlencoded` body.
fn logout_token_of(headers: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|e| {
            e.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let mut token = None;
    for (k, v) in url::form_urlencoded::parse(body) {
        if k == "logout_token" {
            if token.is_some() {
                return Err(invalid("logout_token is repeated"));
            }
            token = Some(v.into_owned());
        }
    }
    token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("the request has no logout_token"))
}

/// `POST /backchannel-logout/{provider}`.
pub(crate) async fn backchannel_logout(
    State(app): State<AppState>,
    Path(provider_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let provider = app.provider(&provider_id)?;
    let body = crate::extract::read_limited(body, app.inner.server.max_body_bytes).await?;
    let token = logout_token_of(&headers, &body)?;
    let out = &app.inner.out;
    let profile = provider.profile(out).await?;
    if profile.endpoints.jwks.is_none() {
        return Err(invalid("this provider does not sign tokens (no jwks_uri)"));
    }
    let issuers = crate::idtoken::expected_issuers(&profile)
        .map_err(|_| invalid("this provider has no issuer to check logout tokens against"))?;
    let expect = crate::idtoken::Expect {
        issuers,
        profile: &profile,
        client_id: &provider.creds.client_id,
        nonce: None,
        refreshed: false,
        now: app.now(),
    };
    let refused = |e: authsplit_core::Error| {
        tracing::warn!(provider = %provider.id, reason = %e.message,
            "back-channel logout: logout token refused; nothing ended");
        invalid("the logout token is invalid")
    };
    let (header, claims) = crate::idtoken::verify_signature(&provider, out, &profile, &token)
        .await
        .map_err(|e| {
            // A bad token is the sender's fault; a JWKS that cannot be fetched is not.
            if e.code() == ErrorCode::InvalidIdToken {
                refused(e)
            } else {
                ApiError::from(e)
            }
        })?;
    let request = crate::logout_token::check_claims(header.typ.as_deref(), &claims, &expect)
        .map_err(refused)?;
    let store = app.store();
    // §2.6 step 8: a jti is used once, for as long as the token could be accepted.
    let keep = Duration::from_secs(request.acceptable_until.saturating_sub(app.now()).max(1));
    let jti_key = format!("backchannel:{}:{}", provider.id, request.jti);
    if store.claim_jti(&jti_key, keep).await? == Claim::Used {
        tracing::warn!(provider = %provider.id, "back-channel logout: logout token replayed; nothing ended");
        return Err(invalid("this logout token was already used"));
    }
    let (lookup, by) = match &request.target {
        Target::Sid(sid) => (Lookup::Sid(sid), "sid"),
        Target::Sub(sub) => (Lookup::Subject(sub), "sub"),
    };
    let ids = store.find_sessions(&provider.id, lookup).await?;
    let session_keep = Duration::from_secs(app.inner.server.session_ttl_secs);
    let mut ended = 0usize;
    for id in &ids {
        if store.end_session(id, session_keep).await?.is_some() {
            ended += 1;
        }
    }
    tracing::info!(provider = %provider.id, ended, by,
        "back-channel logout: sessions ended");
    Ok(StatusCode::OK.into_response())
}
