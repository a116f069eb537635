//! The endpoint handlers.

use std::time::{Duration, Instant};

use authsplit_core::pkce::{CODE_CHALLENGE_METHOD_S256, PkceCodeChallenge, PkceCodeVerifier};
use authsplit_core::random::{Nonce, State as RState};
use authsplit_core::wire::{
    ConfigReply, LogoutReply, ProviderInfo, TokenReply, TokenRequest, TransactionRequest,
    TransactionResponse, User,
};
use authsplit_core::{Error, ErrorCode};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;

use crate::AppState;
use crate::cookies::{SessionCookie, TxCookie};
use crate::error::ApiError;
use crate::extract::{Empty, StrictJson};
use crate::outbound::{EndpointKind, unexpected};
use crate::provider::{Endpoints, Provider};

/// Concurrent `/refresh` calls with the same old refresh token within this window share one
/// upstream result (rotation must never burn the grant, REFERENCE §3.10).
pub(crate) const REFRESH_SHARE_WINDOW: Duration = Duration::from_secs(30);
const MAX_CODE_LEN: usize = 2048;
/// Shortest `state` accepted at `/transactions` (128 bits in base64url).
pub(crate) const MIN_STATE_LEN: usize = 22;

fn invalid(msg: &'static str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, msg)
}

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

/// `GET /healthz`.
pub(crate) async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// `GET /config`: the providers the SPA may offer. Never a secret.
pub(crate) async fn config(State(app): State<AppState>) -> Json<ConfigReply> {
    Json(ConfigReply {
        providers: app
            .inner
            .providers
            .values()
            .map(|p| ProviderInfo {
                id: p.id.clone(),
                name: p.name.clone(),
            })
            .collect(),
    })
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

/// `POST /transactions`: registers a pending sign-in and binds it to this browser with the
/// encrypted tx cookie (REFERENCE §1). The verifier never comes here.
pub(crate) async fn create_transaction(
    State(app): State<AppState>,
    request_headers: HeaderMap,
    StrictJson(req): StrictJson<TransactionRequest>,
) -> Result<Response, ApiError> {
    let provider = app.provider(&req.provider)?;
    // RFC 7636 §4.2, RFC 9700 §2.1.1: S256 only.
    if req.code_challenge_method != CODE_CHALLENGE_METHOD_S256 {
        return Err(invalid("code_challenge_method must be S256"));
    }
    PkceCodeChallenge::parse(&req.code_challenge)?;
    RState::parse(&req.state)?;
    // RFC 6749 §10.10 / RFC 9700 §2.1: state must not be guessable — at least 128 bits, i.e.
    // 22 base64url characters (the browser half sends 43).
    if req.state.len() < MIN_STATE_LEN {
        return Err(invalid(
            "state must be at least 22 characters (128 bits of base64url)",
        ));
    }
    if let Some(n) = &req.nonce {
        Nonce::parse(n)?;
    }
    let ep = provider.endpoints(&app.inner.out).await?;
    let ttl = app.inner.ttl;
    let tx = TxCookie {
        id: random_id()?,
        provider: provider.id.clone(),
        state: req.state,
        code_challenge: req.code_challenge,
        nonce: req.nonce,
        issuer: ep.issuer.clone(),
        require_iss: ep.require_iss,
        created_at: app.now(),
    };
    let reply = TransactionResponse {
        authorize: provider.authorize_template(&ep),
        issuer: ep.issuer.clone(),
        require_iss: ep.require_iss,
        code_param: provider
            .cfg
            .code_param
            .clone()
            .unwrap_or_else(|| "code".to_owned()),
        expires_in: ttl,
    };
    let mut headers = HeaderMap::new();
    let c = &app.inner.cookies;
    let name = c.tx_name(&tx.state);
    c.set(&mut headers, None, &app.inner.key, &name, &tx, ttl)
        .map_err(|_| ApiError::new(ErrorCode::Internal, "the transaction cookie is too large"))?;
    prune_pending(&app, &request_headers, &name, &mut headers);
    tracing::info!(provider = %provider.id, "transaction registered");
    Ok((StatusCode::CREATED, headers, Json(reply)).into_response())
}

/// At most this many sign-ins may be pending per browser (one tx cookie each); registering
/// one more evicts the oldest (its callback then gets `transaction_missing`).
pub(crate) const MAX_PENDING_TRANSACTIONS: usize = 8;

/// Deletes the request's expired or unreadable tx cookies, the unsuffixed one of older
/// versions, and the oldest pending ones beyond [`MAX_PENDING_TRANSACTIONS`] (counting the one
/// being registered, `new_name`).
fn prune_pending(app: &AppState, request: &HeaderMap, new_name: &str, out: &mut HeaderMap) {
    let c = &app.inner.cookies;
    let now = app.now();
    if crate::cookies::CookieSettings::has(request, c.tx_prefix) {
        c.clear(out, None, c.tx_prefix);
    }
    let mut pending: Vec<(u64, String)> = Vec::new();
    for name in c.tx_names_in(request) {
        if name == new_name {
            continue;
        }
        match c.get::<TxCookie>(request, &app.inner.key, &name) {
            Some(tx) if now < tx.created_at.saturating_add(app.inner.ttl) => {
                pending.push((tx.created_at, name));
            }
            _ => c.clear(out, None, &name),
        }
    }
    pending.sort();
    let excess = (pending.len() + 1).saturating_sub(MAX_PENDING_TRANSACTIONS);
    for (_, name) in pending.into_iter().take(excess) {
        tracing::info!("too many pending sign-ins in this browser; the oldest was dropped");
        c.clear(out, None, &name);
    }
}

/// The local checks of `POST /token`, in order, with no outbound call (REFERENCE §3.2).
fn check_transaction(
    app: &AppState,
    headers: &HeaderMap,
    provider: &Provider,
    req: &TokenRequest,
) -> Result<(TxCookie, PkceCodeVerifier), ApiError> {
    let c = &app.inner.cookies;
    // Each sign-in has its own cookie, named after its state (parallel tabs).
    let name = c.tx_name(&req.state);
    let Some(tx) = c.get::<TxCookie>(headers, &app.inner.key, &name) else {
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
    if app.is_used(&tx.id) {
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
    // RFC 6749 §10.12, REFERENCE §3.13: constant-time state comparison.
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
    Ok((tx, verifier))
}

/// `POST /token`.
pub(crate) async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    StrictJson(req): StrictJson<TokenRequest>,
) -> Result<Response, ApiError> {
    let provider = app.provider(&req.provider)?;
    let (tx, verifier) = check_transaction(&app, &headers, &provider, &req)?;
    // Endpoints (normally cached since /transactions); a discovery failure here does not burn
    // the transaction.
    let ep = provider.endpoints(&app.inner.out).await?;
    // Single use from here on: the exchange is about to be attempted.
    match app.mark_used(&tx.id, tx.created_at.saturating_add(app.inner.ttl)) {
        crate::Insert::Inserted => {}
        crate::Insert::Present => {
            return Err(ApiError::new(
                ErrorCode::TransactionUsed,
                "the transaction was already used",
            ));
        }
        // Nothing was sent: the code is intact and the transaction stays usable.
        crate::Insert::Full => {
            // At most one warning a second: a full set must not flood the log.
            static LAST_WARN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let now = app.now();
            if LAST_WARN.swap(now, std::sync::atomic::Ordering::Relaxed) != now {
                tracing::warn!(
                    "used-transaction set is full of live ids (max_used_transactions); refusing exchanges"
                );
            }
            return Err(ApiError::new(
                ErrorCode::ProviderUnavailable,
                "too many sign-ins in progress; try again shortly",
            ));
        }
    }
    let c = &app.inner.cookies;
    let mut out_headers = HeaderMap::new();
    let result = exchange(&app, &provider, &ep, &tx, &req, verifier).await;
    if let Err(e) = &result
        && (crate::outbound::was_not_sent(&e.error) || crate::outbound::not_connected(&e.error))
    {
        // The token request never left (no slot in time, or the connection could not be
        // established — REFERENCE §3.8): the code is intact, the transaction stays usable so
        // the user can try again. Nothing is retried automatically.
        app.unmark_used(&tx.id);
        return Err(e.clone());
    }
    // Only this sign-in's cookie; other tabs' pending sign-ins stay.
    c.clear(&mut out_headers, Some(&headers), &c.tx_name(&tx.state));
    match result {
        Ok((reply, session)) => match set_session(&app, &mut out_headers, &headers, &session) {
            Ok(()) => Ok((out_headers, Json(reply)).into_response()),
            Err(e) => {
                revoke_discarded(
                    &app,
                    &provider,
                    ep.revocation_endpoint.as_deref(),
                    reply.access_token,
                    session.refresh_token,
                );
                Ok((out_headers, e).into_response())
            }
        },
        Err(e) => Ok((out_headers, e).into_response()),
    }
}

/// After the token request went out, a later call that was "not sent" (JWKS, userinfo) is an
/// ordinary timeout: the code is consumed and the transaction must stay used.
fn after_code_sent(e: Error) -> Error {
    if crate::outbound::was_not_sent(&e) {
        Error::new(
            ErrorCode::ProviderTimeout,
            "the provider did not answer in time",
        )
    } else if crate::outbound::not_connected(&e) {
        // Same code, but no longer the "token request never left" marker.
        Error::new(
            ErrorCode::ProviderUnreachable,
            "could not connect to the provider (after the code was redeemed)",
        )
    } else {
        e
    }
}

async fn exchange(
    app: &AppState,
    provider: &std::sync::Arc<Provider>,
    ep: &Endpoints,
    tx: &TxCookie,
    req: &TokenRequest,
    verifier: PkceCodeVerifier,
) -> Result<(TokenReply, SessionCookie), ApiError> {
    let started = Instant::now();
    let span = tracing::info_span!("token_exchange", provider = %provider.id);
    // One deadline for the whole exchange (token, JWKS, userinfo), not one per call.
    let deadline = app.inner.out.total_timeout();
    // Tokens the provider issued, kept to revoke them if the sign-in fails afterwards.
    let mut issued: Option<(String, Option<String>)> = None;
    let work = async {
        let out = &app.inner.out;
        // RFC 6749 §4.1.3 + RFC 7636 §4.5; grant_type and redirect_uri fixed server-side.
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", req.code.clone()),
            ("redirect_uri", provider.cfg.redirect_uri.clone()),
            ("code_verifier", verifier.secret().to_owned()),
        ];
        let tokens = provider
            .token_request(out, ep, EndpointKind::Token, form, app.now())
            .await?;
        issued = Some((
            tokens.access_token.secret().to_owned(),
            tokens.refresh_token.as_ref().map(|r| r.secret().to_owned()),
        ));
        // OIDC Core §3.1.3.7.
        let claims = match &tokens.id_token {
            Some(idt) => {
                let issuer = ep.issuer.as_deref().ok_or_else(|| {
                    ApiError::from(Error::new(
                        ErrorCode::Configuration,
                        "an ID token arrived but no issuer is configured",
                    ))
                })?;
                let expect = crate::idtoken::Expect {
                    issuer,
                    client_id: &provider.cfg.client_id,
                    nonce: tx.nonce.as_deref(),
                    now: app.now(),
                };
                Some(
                    crate::idtoken::validate(provider, out, ep, idt.secret(), &expect)
                        .await
                        .map_err(after_code_sent)?,
                )
            }
            None if provider.require_id_token => {
                return Err(ApiError::new(
                    ErrorCode::InvalidIdToken,
                    "the token response has no id_token although openid was requested",
                ));
            }
            None => None,
        };
        let id_sub = claims
            .as_ref()
            .and_then(|c| c.get("sub"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let profile = match (&ep.userinfo_endpoint, provider.cfg.userinfo) {
            (Some(url), true) => Some(
                userinfo(app, provider, url, tokens.access_token.secret())
                    .await
                    .map_err(after_code_sent)?,
            ),
            _ => None,
        };
        let user = build_user(
            provider,
            id_sub.as_deref(),
            profile.as_ref(),
            claims.as_ref(),
        )?;
        let reply = TokenReply {
            access_token: tokens.access_token.secret().to_owned(),
            token_type: tokens.token_type.clone(),
            expires_at: tokens.expires_at,
            scope: tokens.scope.clone(),
            id_token_claims: claims.clone().map(Value::Object),
            user: user.clone(),
        };
        let session = SessionCookie {
            sid: random_id()?,
            provider: provider.id.clone(),
            refresh_token: tokens.refresh_token.as_ref().map(|r| r.secret().to_owned()),
            sub: user.map(|u| u.subject),
            created_at: app.now(),
        };
        Ok::<_, ApiError>((reply, session))
    };
    let result = tokio::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::new(
                ErrorCode::ProviderTimeout,
                "the provider did not answer in time",
            ))
        });
    if result.is_err()
        && let Some((at, rt)) = issued
    {
        revoke_discarded(app, provider, ep.revocation_endpoint.as_deref(), at, rt);
    }
    let latency_ms = started.elapsed().as_millis() as u64;
    let _g = span.enter();
    match &result {
        Ok(_) => tracing::info!(latency_ms, outcome = "ok", "code exchanged"),
        Err(e) => tracing::warn!(
            latency_ms,
            outcome = e.code().as_str(),
            "code exchange failed"
        ),
    }
    result
}

/// Writes the session cookie(s). A refresh token too large even for the chunked cookie is a
/// typed error (never a silently dropped cookie).
fn set_session(
    app: &AppState,
    headers: &mut HeaderMap,
    request: &HeaderMap,
    session: &SessionCookie,
) -> Result<(), ApiError> {
    let c = &app.inner.cookies;
    c.set(
        headers,
        Some(request),
        &app.inner.key,
        c.session_name,
        session,
        app.inner.server.session_ttl_secs,
    )
    .map_err(|_| {
        ApiError::new(
            ErrorCode::ProviderBadResponse,
            "the provider's refresh token is too large to keep in the session cookie",
        )
    })
}

/// Calls userinfo with the access token (OIDC Core §5.3).
async fn userinfo(
    app: &AppState,
    provider: &Provider,
    url: &str,
    access_token: &str,
) -> Result<serde_json::Map<String, Value>, Error> {
    let out = &app.inner.out;
    let req = out
        .client()
        .get(url)
        .bearer_auth(access_token)
        .header(reqwest::header::ACCEPT, "application/json");
    let f = out
        .send(&provider.id, EndpointKind::Userinfo, &provider.permits, req)
        .await?;
    if f.status != 200 {
        let e = unexpected("the userinfo request failed", &f);
        return Err(crate::outbound::scrub(e, &[access_token.to_owned()]));
    }
    match serde_json::from_slice::<Value>(&f.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Error::new(
            ErrorCode::ProviderBadResponse,
            "userinfo is not a JSON object",
        )
        .with_response(f.info())),
    }
}

fn value_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The normalised user: `id = "<provider>:<subject>"`; userinfo `sub` must equal the ID
/// token's `sub` (OIDC Core §5.3.4).
fn build_user(
    provider: &Provider,
    id_sub: Option<&str>,
    profile: Option<&serde_json::Map<String, Value>>,
    claims: Option<&serde_json::Map<String, Value>>,
) -> Result<Option<User>, ApiError> {
    let source = match (profile, claims) {
        (Some(p), _) => p,
        (None, Some(c)) => c,
        (None, None) => return Ok(None),
    };
    let field = provider.cfg.subject_field.as_deref().unwrap_or("sub");
    let profile_sub = value_string(source.get(field)).or_else(|| {
        if provider.cfg.subject_field.is_none() {
            value_string(source.get("id"))
        } else {
            None
        }
    });
    let subject = match (id_sub, profile.and(profile_sub.as_deref())) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::new(
                ErrorCode::InvalidIdToken,
                "userinfo sub differs from the ID token sub",
            ));
        }
        (Some(a), _) => a.to_owned(),
        (None, Some(b)) => b.to_owned(),
        (None, None) => match profile_sub {
            Some(s) => s,
            None => {
                return Err(ApiError::new(
                    ErrorCode::ProviderBadResponse,
                    "the profile has no subject identifier",
                ));
            }
        },
    };
    let s = |k: &str| value_string(source.get(k));
    let email_verified = match source.get("email_verified") {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(t)) => Some(t == "true"),
        _ => None,
    };
    Ok(Some(User {
        id: format!("{}:{}", provider.id, subject),
        provider: provider.id.clone(),
        subject,
        name: s("name")
            .or_else(|| s("preferred_username"))
            .or_else(|| s("login")),
        email: s("email"),
        email_verified,
        avatar_url: s("picture").or_else(|| s("avatar_url")),
        raw: Value::Object(source.clone()),
    }))
}

/// `POST /refresh`: one refresh in flight per session; concurrent callers with the same old
/// refresh token share the single upstream result; the rotated token goes into the cookie.
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
        return Err(ApiError::new(
            ErrorCode::NotAuthenticated,
            "this session has no refresh token",
        ));
    };
    let rt_hash: [u8; 32] = sha2::Sha256::digest(rt.as_bytes()).into();
    let slot = app.session_slot(&session.sid);
    let mut out_headers = HeaderMap::new();
    let outcome = {
        let mut guard = slot.lock().await;
        if app.session_ended(&session.sid) {
            // Logged out meanwhile (a logout waits for this lock): no refresh, no cookie.
            c.clear(&mut out_headers, Some(&headers), c.session_name);
            return Ok((out_headers, not_auth()).into_response());
        }
        match &*guard {
            Some(cached)
                if cached.rt_hash == rt_hash && cached.at.elapsed() < REFRESH_SHARE_WINDOW =>
            {
                tracing::debug!(provider = %provider.id, "sharing an in-flight refresh result");
                cached.outcome.clone()
            }
            _ => {
                let outcome = do_refresh(&app, &provider, &rt).await;
                // Share the result with callers presenting the same token — unless the request
                // provably never left (then a later caller may simply try again).
                *guard = match &outcome {
                    Err(e)
                        if crate::outbound::was_not_sent(&e.error)
                            || crate::outbound::not_connected(&e.error) =>
                    {
                        None
                    }
                    _ => Some(crate::RefreshCache {
                        rt_hash,
                        at: Instant::now(),
                        outcome: outcome.clone(),
                    }),
                };
                outcome
            }
        }
    };
    match outcome {
        Ok((reply, new_rt)) => {
            let mut s = session;
            if let Some(n) = new_rt {
                s.refresh_token = Some(n);
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

async fn do_refresh(
    app: &AppState,
    provider: &Provider,
    rt: &str,
) -> Result<(TokenReply, Option<String>), ApiError> {
    let started = Instant::now();
    let out = &app.inner.out;
    let result = async {
        let ep = provider.endpoints(out).await?;
        // RFC 6749 §6.
        let form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", rt.to_owned()),
        ];
        let tokens = provider
            .token_request(out, &ep, EndpointKind::Refresh, form, app.now())
            .await?;
        let reply = TokenReply {
            access_token: tokens.access_token.secret().to_owned(),
            token_type: tokens.token_type.clone(),
            expires_at: tokens.expires_at,
            scope: tokens.scope.clone(),
            id_token_claims: None,
            user: None,
        };
        Ok::<_, ApiError>((reply, tokens.refresh_token.map(|r| r.into_secret())))
    }
    .await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok((_, rotated)) => tracing::info!(provider = %provider.id, latency_ms, outcome = "ok",
            rotated = rotated.is_some(), "refreshed"),
        Err(e) => tracing::warn!(provider = %provider.id, latency_ms, outcome = e.code().as_str(),
            "refresh failed"),
    }
    result
}

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
    let session: Option<SessionCookie> = c.get(&headers, &app.inner.key, c.session_name);
    let mut reply = LogoutReply {
        revoked: false,
        end_session_url: None,
    };
    if let Some(session) = session
        && let Ok(provider) = app.provider(&session.provider)
    {
        // Wait for an in-flight refresh of this session, end the session so no later refresh
        // runs, and collect the refresh tokens to revoke: the cookie's, and the one a refresh
        // just rotated it into (its reply may still set a cookie in the browser).
        let slot = app.session_slot(&session.sid);
        let guard = slot.lock().await;
        app.end_session(&session.sid);
        let mut tokens: Vec<String> = Vec::new();
        if let Some(rt) = &session.refresh_token {
            let rt_hash: [u8; 32] = sha2::Sha256::digest(rt.as_bytes()).into();
            if let Some(crate::RefreshCache {
                rt_hash: h,
                outcome: Ok((_, Some(rotated))),
                ..
            }) = &*guard
                && *h == rt_hash
            {
                tokens.push(rotated.clone());
            }
            tokens.push(rt.clone());
        }
        match provider.endpoints(&app.inner.out).await {
            Ok(ep) => {
                if let Some(url) = &ep.revocation_endpoint {
                    for (i, rt) in tokens.iter().enumerate() {
                        let ok = revoke(&app, &provider, url, rt, "refresh_token").await;
                        if i == 0 {
                            reply.revoked = ok;
                        }
                    }
                }
                reply.end_session_url = end_session_url(&provider, &ep);
            }
            Err(e) => {
                tracing::warn!(provider = %provider.id, code = e.code().as_str(),
                    "logout: provider metadata unavailable; cookies cleared without revocation");
            }
        }
    }
    Ok((out_headers, Json(reply)).into_response())
}

/// What one revocation attempt achieved.
enum Revocation {
    Done,
    /// 429/503 or a transport failure: worth retrying after this many seconds.
    Later(u64),
    Refused,
}

async fn revoke_once(
    app: &AppState,
    provider: &Provider,
    url: &str,
    token: &str,
    hint: &'static str,
) -> Revocation {
    let form = vec![
        ("token", token.to_owned()),
        ("token_type_hint", hint.to_owned()),
    ];
    match provider
        .post_form(&app.inner.out, EndpointKind::Revocation, url, form)
        .await
    {
        // RFC 7009 §2.2: 200 also for tokens the server does not know.
        Ok(f) if f.status == 200 => Revocation::Done,
        Ok(f) if f.status == 503 || f.status == 429 => {
            // RFC 7009 §2.2.1: retry later (Retry-After).
            tracing::warn!(provider = %provider.id, status = f.status, retry_after = ?f.retry_after,
                "revocation: provider unavailable; will retry");
            Revocation::Later(f.retry_after.unwrap_or(REVOKE_RETRY_DEFAULT_SECS))
        }
        Ok(f) => {
            tracing::warn!(provider = %provider.id, status = f.status,
                "revocation: provider refused; token not revoked");
            Revocation::Refused
        }
        Err(e) => {
            tracing::warn!(provider = %provider.id, code = e.code().as_str(),
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
async fn revoke(
    app: &AppState,
    provider: &std::sync::Arc<Provider>,
    url: &str,
    rt: &str,
    hint: &'static str,
) -> bool {
    let mut delay = match revoke_once(app, provider, url, rt, hint).await {
        Revocation::Done => return true,
        Revocation::Refused => return false,
        Revocation::Later(d) => d,
    };
    let Ok(permit) = app.inner.revocation_retries.clone().try_acquire_owned() else {
        tracing::warn!(provider = %provider.id, "revocation: too many pending retries; token not revoked");
        return false;
    };
    let (app, provider, url, rt) = (app.clone(), provider.clone(), url.to_owned(), rt.to_owned());
    tokio::spawn(async move {
        let _permit = permit;
        for attempt in 1..=REVOKE_RETRY_ATTEMPTS {
            tokio::time::sleep(Duration::from_secs(
                delay.clamp(1, REVOKE_RETRY_MAX_DELAY_SECS),
            ))
            .await;
            match revoke_once(&app, &provider, &url, &rt, hint).await {
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
/// Without a revocation endpoint they can only expire.
pub(crate) fn revoke_discarded(
    app: &AppState,
    provider: &std::sync::Arc<Provider>,
    revocation_endpoint: Option<&str>,
    access_token: String,
    refresh_token: Option<String>,
) {
    let Some(url) = revocation_endpoint else {
        tracing::warn!(provider = %provider.id,
            "issued tokens discarded without revocation (no revocation endpoint)");
        return;
    };
    let Ok(permit) = app.inner.revocation_retries.clone().try_acquire_owned() else {
        tracing::warn!(provider = %provider.id,
            "revocation: too many pending; discarded tokens not revoked");
        return;
    };
    let (app, provider, url) = (app.clone(), provider.clone(), url.to_owned());
    tokio::spawn(async move {
        let _permit = permit;
        let mut done = Vec::new();
        if let Some(rt) = &refresh_token {
            done.push(revoke(&app, &provider, &url, rt, "refresh_token").await);
        }
        done.push(revoke(&app, &provider, &url, &access_token, "access_token").await);
        tracing::info!(provider = %provider.id, revoked_now = ?done,
            "revocation of discarded tokens attempted");
    });
}

/// `client_id` (+ `post_logout_redirect_uri`) identify the RP (OIDC RP-Initiated Logout §2).
/// The raw ID token is deliberately not sent as `id_token_hint`: it would reach the browser
/// in a response body and then a URL; the provider asks the user to confirm instead.
fn end_session_url(provider: &Provider, ep: &Endpoints) -> Option<String> {
    let base = ep.end_session_endpoint.as_ref()?;
    let mut u = url::Url::parse(base).ok()?;
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("client_id", &provider.cfg.client_id);
        if let Some(p) = &provider.cfg.post_logout_redirect_uri {
            q.append_pair("post_logout_redirect_uri", p);
        }
    }
    Some(u.to_string())
}
