//! Token revocation (RFC 7009; docs/SECURITY.md S12): at logout, and for tokens issued to a sign-in that failed
//! afterwards. A provider that answers "later" (429/503, RFC 7009 §2.2.1) or cannot be reached
//! is retried in the background, bounded in attempts, delay and pending retries.

use std::sync::Arc;
use std::time::Duration;

use authsplit_core::ErrorCode;
use authsplit_core::provider::{self as core_provider, ProviderProfile, RevocableToken};
use authsplit_core::secret::{AccessToken, RefreshToken};

use crate::AppState;
use crate::outbound::EndpointKind;
use crate::provider::Provider;
use crate::store::SessionRecord;

/// What one revocation attempt achieved.
enum Revocation {
    Done,
    /// 429/503 or a transport failure: worth retrying after this many seconds.
    Later(u64),
    Refused,
}

/// Which kind of token is revoked (RFC 7009 §2.1 `token_type_hint`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Hint {
    Refresh,
    Access,
}

async fn revoke_once(
    app: &AppState,
    provider: &Provider,
    profile: &ProviderProfile,
    token: &str,
    hint: Hint,
) -> Revocation {
    let (at, rt) = (
        AccessToken::new(token.to_owned()),
        RefreshToken::new(token.to_owned()),
    );
    let which = match hint {
        Hint::Refresh => RevocableToken::Refresh(&rt),
        Hint::Access => RevocableToken::Access(&at),
    };
    let spec = match core_provider::revocation_request(profile, &provider.creds, which) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(provider = %provider.id, code = e.code().as_str(),
                "revocation: not supported for this token; not revoked");
            return Revocation::Refused;
        }
    };
    match provider
        .execute(&app.inner.out, EndpointKind::Revocation, &spec)
        .await
    {
        Ok(f) => match core_provider::parse_revocation_response(
            profile,
            f.status,
            f.content_type.as_deref(),
            &f.body,
        ) {
            // RFC 7009 §2.2: 200 also for tokens the server does not know.
            Ok(()) => Revocation::Done,
            Err(e) if e.code() == ErrorCode::ProviderUnavailable || f.status == 429 => {
                // RFC 7009 §2.2.1: retry later (Retry-After).
                tracing::warn!(provider = %provider.id, status = f.status, retry_after = ?f.retry_after,
                    "revocation: provider unavailable; will retry");
                Revocation::Later(f.retry_after.unwrap_or(REVOKE_RETRY_DEFAULT_SECS))
            }
            Err(_) => {
                tracing::warn!(provider = %provider.id, status = f.status,
                    "revocation: provider refused; token not revoked");
                Revocation::Refused
            }
        },
        Err(e) => {
            tracing::warn!(provider = %provider.id, code = e.inner().code().as_str(),
                "revocation: provider unreachable; will retry");
            Revocation::Later(REVOKE_RETRY_DEFAULT_SECS)
        }
    }
}

const REVOKE_RETRY_DEFAULT_SECS: u64 = 2;
const REVOKE_RETRY_MAX_DELAY_SECS: u64 = 60;
const REVOKE_RETRY_ATTEMPTS: usize = 3;

/// Revokes now; when the provider says "later" (RFC 7009 §2.2.1), retries in the background
/// (bounded: a few attempts, Retry-After capped at 60 s, a limited number of pending retries).
/// Returns whether the first attempt succeeded.
pub(crate) async fn revoke(
    app: &AppState,
    provider: &Arc<Provider>,
    profile: &Arc<ProviderProfile>,
    token: &str,
    hint: Hint,
) -> bool {
    let mut delay = match revoke_once(app, provider, profile, token, hint).await {
        Revocation::Done => return true,
        Revocation::Refused => return false,
        Revocation::Later(d) => d,
    };
    let Ok(permit) = app.inner.revocation_retries.clone().try_acquire_owned() else {
        tracing::warn!(provider = %provider.id, "revocation: too many pending retries; token not revoked");
        return false;
    };
    let (app, provider, profile, token) = (
        app.clone(),
        provider.clone(),
        profile.clone(),
        token.to_owned(),
    );
    tokio::spawn(async move {
        let _permit = permit;
        for attempt in 1..=REVOKE_RETRY_ATTEMPTS {
            tokio::time::sleep(Duration::from_secs(
                delay.clamp(1, REVOKE_RETRY_MAX_DELAY_SECS),
            ))
            .await;
            match revoke_once(&app, &provider, &profile, &token, hint).await {
                Revocation::Done => {
                    tracing::info!(provider = %provider.id, attempt, "revocation: done on retry");
                    return;
                }
                Revocation::Refused => return,
                Revocation::Later(d) => delay = d,
            }
        }
        tracing::warn!(provider = %provider.id, "revocation: gave up after retries");
    });
    false
}

/// Tokens were issued but the sign-in failed afterwards (ID token, userinfo, session cookie):
/// revoke them (RFC 7009 §2.1; the refresh token first, which on most servers also ends its
/// access tokens) in the background, best effort, with the bounded retry of [`revoke`].
/// Without revocation support they can only expire.
pub(crate) fn revoke_discarded(
    app: &AppState,
    provider: &Arc<Provider>,
    profile: &Arc<ProviderProfile>,
    access_token: String,
    refresh_token: Option<String>,
) {
    let Some(call) = &profile.revocation else {
        tracing::warn!(provider = %provider.id,
            "issued tokens discarded without revocation (the provider has no revocation)");
        return;
    };
    let revoke_rt = call.accepts_refresh_token;
    let Ok(permit) = app.inner.revocation_retries.clone().try_acquire_owned() else {
        tracing::warn!(provider = %provider.id,
            "revocation: too many pending; discarded tokens not revoked");
        return;
    };
    let (app, provider, profile) = (app.clone(), provider.clone(), profile.clone());
    tokio::spawn(async move {
        let _permit = permit;
        let mut done = Vec::new();
        if revoke_rt && let Some(rt) = &refresh_token {
            done.push(revoke(&app, &provider, &profile, rt, Hint::Refresh).await);
        }
        if !access_token.is_empty() {
            done.push(revoke(&app, &provider, &profile, &access_token, Hint::Access).await);
        }
        tracing::info!(provider = %provider.id, revoked_now = ?done,
            "revocation of discarded tokens attempted");
    });
}

/// A session ended by something other than a logout (a second sign-in in the same browser):
/// revoke its tokens in the background where its provider can (RFC 7009), as for discarded
/// tokens.
pub(crate) fn revoke_ended_session(app: &AppState, record: SessionRecord) {
    let Ok(provider) = app.provider(&record.provider) else {
        return;
    };
    let app = app.clone();
    tokio::spawn(async move {
        match provider.profile(&app.inner.out).await {
            Ok(profile) => revoke_discarded(
                &app,
                &provider,
                &profile,
                record.access_token.clone().unwrap_or_default(),
                record.refresh_token.clone(),
            ),
            Err(e) => {
                tracing::warn!(provider = %provider.id, code = e.code().as_str(),
                    "ended session: provider metadata unavailable; tokens not revoked");
            }
        }
    });
}
