//! `POST /token`: step 5 of a sign-in. The local checks first (the tx cookie of this `state`,
//! unexpired and unspent; `state` in constant time; the verifier's grammar and its S256
//! challenge; `iss`; the code's shape), then the claim of the transaction in the [`Store`],
//! then exactly one exchange ([`crate::exchange`]); what happened to the code decides whether
//! the transaction is released, refused or stays claimed.
//!
//! [`Store`]: crate::store::Store

use authsplit_core::ErrorCode;
use authsplit_core::pkce::{PkceCodeChallenge, PkceCodeVerifier};
use authsplit_core::provider::Flow;
use authsplit_core::random::State as RState;
use authsplit_core::secret::AuthorizationCode;
use authsplit_core::wire::TokenRequest;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::{invalid, random_id, session_id, session_ttl, set_session};
use crate::AppState;
use crate::cookies::TxCookie;
use crate::error::ApiError;
use crate::exchange::{Checked, ExchangeError, SignedIn, exchange};
use crate::extract::StrictJson;
use crate::provider::Provider;
use crate::revoke::{revoke_discarded, revoke_ended_session};
use crate::store::{Claim, SessionExtra, SessionRecord, StoreError};

const MAX_CODE_LEN: usize = 2048;

/// The local checks of `POST /token`, in order, with no outbound call: a made-up code is
/// refused before anything reaches the provider (RFC 7636 §4.6; docs/SECURITY.md S2, S3).
async fn check_transaction(
    app: &AppState,
    headers: &HeaderMap,
    provider: &Provider,
    req: TokenRequest,
) -> Result<Checked, ApiError> {
    let c = &app.inner.cookies;
    // Each sign-in has its own cookie, named after its state (parallel tabs).
    let name = c.tx_name(&req.state);
    let Some(tx) = c.get::<TxCookie>(headers, &app.inner.keys, &name) else {
        // Pending sign-ins exist, but none with this state: RFC 6749 §10.12 mismatch.
        if !crate::cookies::CookieSettings::has(headers, &name)
            && !c.tx_names_in(headers).is_empty()
        {
            return Err(ApiError::new(
                ErrorCode::StateMismatch,
                "state does not match any pending sign-in of this browser",
            ));
        }
        return Err(ApiError::new(
            ErrorCode::TransactionMissing,
            "no transaction is registered for this browser",
        ));
    };
    let now = app.now();
    if now >= tx.created_at.saturating_add(app.inner.ttl) || tx.created_at > now + 60 {
        return Err(ApiError::new(
            ErrorCode::TransactionExpired,
            "the transaction has expired; start a new sign-in",
        ));
    }
    if app.store().transaction_spent(&tx.id).await? {
        return Err(ApiError::new(
            ErrorCode::TransactionUsed,
            "the transaction was already used",
        ));
    }
    if tx.provider != provider.id {
        return Err(ApiError::new(
            ErrorCode::TransactionMissing,
            "no transaction is registered for this provider",
        ));
    }
    // RFC 6749 §10.12, docs/SECURITY.md S13: the state, compared in constant time.
    let state = RState::parse(&req.state)?;
    if !state.ct_eq_str(&tx.state) {
        return Err(ApiError::new(
            ErrorCode::StateMismatch,
            "state does not match the transaction",
        ));
    }
    // RFC 7636 §4.1 grammar, then §4.6 S256 check.
    let verifier = PkceCodeVerifier::parse(&req.code_verifier)?;
    let challenge = PkceCodeChallenge::parse(&tx.code_challenge)?;
    if !challenge.matches(&verifier) {
        return Err(ApiError::new(
            ErrorCode::PkceMismatch,
            "the code verifier does not match the registered challenge",
        ));
    }
    // RFC 9207 §2.4: a server that advertises `iss` must send it…
    if req.iss.is_none() && tx.require_iss {
        return Err(ApiError::new(
            ErrorCode::IssMissing,
            "iss is missing although the provider sends it",
        ));
    }
    // …and it must be the exact issuer.
    if let (Some(got), Some(want)) = (&req.iss, &tx.issuer)
        && got != want
    {
        return Err(ApiError::new(
            ErrorCode::IssMismatch,
            "iss does not match the provider's issuer",
        ));
    }
    if req.code.is_empty()
        || req.code.len() > MAX_CODE_LEN
        || req.code.chars().any(|ch| ch.is_control() || ch == ' ')
    {
        return Err(invalid("code is empty, too long or malformed"));
    }
    Ok(Checked {
        tx,
        code: AuthorizationCode::new(req.code),
        verifier,
    })
}

/// `POST /token`.
pub(crate) async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    StrictJson(req): StrictJson<TokenRequest>,
) -> Result<Response, ApiError> {
    let provider = app.provider(&req.provider)?;
    let checked = check_transaction(&app, &headers, &provider, req).await?;
    let tx = &checked.tx;
    // The profile (discovered and cached since /transactions) and, for WeCom, the app token
    // (cached): failures here send nothing with the code and do not spend the transaction.
    let out = &app.inner.out;
    let profile = provider.profile(out).await?;
    let app_token = if profile.flow == Flow::CorpToken {
        Some(provider.app_token(out, &profile, app.now()).await?)
    } else {
        None
    };
    // Single use from here on: the exchange is about to be attempted.
    let expires_at = tx.created_at.saturating_add(app.inner.ttl);
    let ttl = std::time::Duration::from_secs(expires_at.saturating_sub(app.now()).max(1));
    match app.store().claim_transaction(&tx.id, ttl).await {
        Ok(Claim::Claimed) => {}
        Ok(Claim::Used) => {
            return Err(ApiError::new(
                ErrorCode::TransactionUsed,
                "the transaction was already used",
            ));
        }
        // Nothing was sent: the code is intact and the transaction stays usable.
        Err(e) => {
            if e == StoreError::Full {
                warn_full(app.now());
            }
            return Err(e.into());
        }
    }
    let result = exchange(
        out,
        &provider,
        &profile,
        &checked,
        app_token.as_ref(),
        app.now(),
    )
    .await;
    match &result {
        Err(ExchangeError::NotSent(e)) => {
            // The token request never left (no slot in time, or no connection): the code is
            // intact, so the transaction stays usable and the user can try again
            // (docs/SECURITY.md S8). Nothing is retried automatically.
            if let Err(se) = app.store().release_transaction(&tx.id).await {
                tracing::warn!(error = %se, "could not release an unsent transaction; it stays spent");
            }
            return Err(e.clone());
        }
        Err(ExchangeError::Refused(_) | ExchangeError::Failed(_)) => {
            // No token known to be issued (an error response, a broken one, a timeout): still
            // single use, but remembered where made-up codes cannot lock everybody out.
            if let Err(se) = app.store().refuse_transaction(&tx.id).await {
                tracing::warn!(error = %se, "could not record a refused transaction; it stays claimed");
            }
        }
        _ => {}
    }
    let c = &app.inner.cookies;
    let mut out_headers = HeaderMap::new();
    // Only this sign-in's cookie; other tabs' pending sign-ins stay.
    c.clear(&mut out_headers, Some(&headers), &c.tx_name(&tx.state));
    let signed_in = match result {
        Ok(s) => s,
        Err(ExchangeError::Discarded { error, issued }) => {
            revoke_discarded(
                &app,
                &provider,
                &profile,
                issued.access_token,
                issued.refresh_token,
            );
            return Ok((out_headers, error).into_response());
        }
        Err(e) => return Ok((out_headers, e.error().clone()).into_response()),
    };
    match start_session(&app, &provider, &mut out_headers, &headers, &signed_in).await {
        Ok(()) => Ok((out_headers, Json(signed_in.reply)).into_response()),
        Err(e) => {
            revoke_discarded(
                &app,
                &provider,
                &profile,
                signed_in.reply.access_token,
                signed_in.refresh_token,
            );
            Ok((out_headers, e).into_response())
        }
    }
}

/// Starts the session of a finished sign-in: a session this browser already had ends first
/// (its record deleted, its tokens revoked where the provider can), then the new record goes
/// into the store under a fresh id and the cookie carries that id.
async fn start_session(
    app: &AppState,
    provider: &Provider,
    out_headers: &mut HeaderMap,
    request: &HeaderMap,
    s: &SignedIn,
) -> Result<(), ApiError> {
    let store = app.store();
    let ttl = session_ttl(app);
    // A second sign-in in one browser ends the first: one browser, one session.
    if let Some(old) = session_id(app, request)
        && let Some(ended) = store.end_session(&old, ttl).await?
    {
        revoke_ended_session(app, ended);
    }
    let now = app.now();
    let claims = s.reply.id_token_claims.as_ref();
    let claim = |name: &str| {
        claims
            .and_then(|c| c.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let mut record = SessionRecord {
        provider: provider.id.clone(),
        subject: s.subject.clone(),
        oidc_sid: claim("sid"),
        user: s
            .reply
            .user
            .as_ref()
            .and_then(|u| serde_json::to_value(u).ok()),
        access_token: Some(s.reply.access_token.clone()).filter(|t| !t.is_empty()),
        access_expires_at: s.reply.expires_at,
        refresh_token: s.refresh_token.clone(),
        id_token: s.id_token.clone(),
        created_at: now,
        expires_at: now.saturating_add(ttl.as_secs()),
        extra: serde_json::Map::new(),
    };
    SessionExtra {
        token_type: Some(s.reply.token_type.clone()),
        scope: s.reply.scope.clone(),
        id_iss: claim("iss"),
        id_sub: claim("sub"),
        id_nonce: claim("nonce"),
    }
    .store_in(&mut record);
    let id = random_id()?;
    if !store.create_session(&id, &record, ttl).await? {
        // A fresh 144-bit id that was ended before: never reused.
        return Err(ApiError::new(ErrorCode::Internal, "internal error"));
    }
    set_session(app, out_headers, request, &id, ttl.as_secs())
}

/// Logs that the claim store is full, at most once a second (a full store must not flood the
/// log).
fn warn_full(now: u64) {
    static LAST_WARN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if LAST_WARN.swap(now, std::sync::atomic::Ordering::Relaxed) != now {
        tracing::warn!(
            "used-transaction store is full of live ids (max_used_transactions); refusing exchanges"
        );
    }
}
