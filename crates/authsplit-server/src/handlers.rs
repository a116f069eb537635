//! The endpoint handlers.

use std::time::{Duration, Instant};

use authsplit_core::pkce::{CODE_CHALLENGE_METHOD_S256, PkceCodeChallenge, PkceCodeVerifier};
use authsplit_core::random::{Nonce, State as RState};
use authsplit_core::wire::{
    ConfigReply, LogoutReply, ProviderInfo, TokenReply, TokenRequest, TransactionRequest,
    TransactionResponse,
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
use authsplit_core::provider::{
    self as core_provider, Flow, Grant, ProviderProfile, RevocableToken,
};
use authsplit_core::secret::{AccessToken, AuthorizationCode, RefreshToken};

use crate::outbound::EndpointKind;
use crate::provider::Provider;

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
                preset: match &p.kind {
                    crate::provider::Kind::Preset(name) => Some(name.clone()),
                    _ => None,
                },
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
    let challenge = PkceCodeChallenge::parse(&req.code_challenge)?;
    let state = RState::parse(&req.state)?;
    // RFC 6749 §10.10 / RFC 9700 §2.1: state must not be guessable — at least 128 bits, i.e.
    // 22 base64url characters (the browser half sends 43).
    if req.state.len() < MIN_STATE_LEN {
        return Err(invalid(
            "state must be at least 22 characters (128 bits of base64url)",
        ));
    }
    let nonce = req.nonce.as_deref().map(Nonce::parse).transpose()?;
    let profile = provider.profile(&app.inner.out).await?;
    // WeChat / WeCom accept only `[A-Za-z0-9]{1,128}` as state (PROVIDERS.md § WeChat).
    if !core_provider::state_is_acceptable(&profile, &req.state) {
        return Err(ApiError::from(Error::new(
            ErrorCode::InvalidRequest,
            format!(
                "provider `{}` accepts only an alphanumeric state ([A-Za-z0-9], at most 128 \
                 characters); generate the state without `-` and `_`",
                provider.id
            ),
        )));
    }
    let (issuer, require_iss) = callback_issuer(&provider, &profile);
    let mut authorize = core_provider::authorize_template(
        &profile,
        &provider.creds.client_id,
        &provider.redirect_uri,
        None,
    )?;
    authorize.apply_request(req.scope.as_deref(), &req.extra_params)?;
    // OIDC Core §3.1.2.1: the nonce is in the URL exactly when the transaction stores it.
    let nonce = nonce.filter(|_| authorize.nonce_applies());
    let authorization_url = authorize.build_url(&state, Some(&challenge), nonce.as_ref())?;
    let ttl = app.inner.ttl;
    let tx = TxCookie {
        id: random_id()?,
        provider: provider.id.clone(),
        state: req.state,
        code_challenge: req.code_challenge,
        nonce: nonce.map(|n| n.secret().to_owned()),
        issuer: issuer.clone(),
        require_iss,
        created_at: app.now(),
    };
    let reply = TransactionResponse {
        authorization_url,
        issuer,
        require_iss,
        code_param: profile.callback_code_param().to_owned(),
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

/// The issuer the callback's `iss` is compared with (RFC 9207) and whether it is required:
/// the profile's (`callback_issuer`), and for generic OIDC providers the issuer even when the
/// provider does not advertise `iss` (an `iss` that does arrive must then match).
fn callback_issuer(provider: &Provider, profile: &ProviderProfile) -> (Option<String>, bool) {
    let (iss, required) = profile.callback_issuer();
    let iss = iss.map(str::to_owned).or_else(|| {
        (provider.kind == crate::provider::Kind::GenericOidc)
            .then(|| profile.oidc.issuer.clone())
            .flatten()
    });
    (iss, required)
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
    // The profile (discovered and cached since /transactions) and, for WeCom, the app token
    // (cached): failures here send nothing with the code and do not burn the transaction.
    let profile = provider.profile(&app.inner.out).await?;
    let app_token = if profile.flow == Flow::CorpToken {
        Some(
            provider
                .app_token(&app.inner.out, &profile, app.now())
                .await?,
        )
    } else {
        None
    };
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
    let (result, refused) =
        exchange(&app, &provider, &profile, app_token, &tx, &req, verifier).await;
    if let Err(e) = &result
        && (crate::outbound::was_not_sent(&e.error) || crate::outbound::not_connected(&e.error))
    {
        // The token request never left (no slot in time, or the connection could not be
        // established — REFERENCE §3.8): the code is intact, the transaction stays usable so
        // the user can try again. Nothing is retried automatically.
        app.unmark_used(&tx.id);
        return Err(e.clone());
    }
    if refused {
        // The provider refused the code with an error response (no token issued): still
        // single use, but remembered where made-up codes cannot lock everybody out.
        app.mark_refused(&tx.id, tx.created_at.saturating_add(app.inner.ttl));
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
                    &profile,
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

#[allow(clippy::too_many_arguments)]
async fn exchange(
    app: &AppState,
    provider: &std::sync::Arc<Provider>,
    profile: &std::sync::Arc<ProviderProfile>,
    app_token: Option<AccessToken>,
    tx: &TxCookie,
    req: &TokenRequest,
    verifier: PkceCodeVerifier,
) -> (Result<(TokenReply, SessionCookie), ApiError>, bool) {
    let started = Instant::now();
    let corp = app_token.is_some();
    let span = tracing::info_span!("token_exchange", provider = %provider.id);
    // One deadline for the whole exchange (token, JWKS, openid, userinfo), not one per call.
    let deadline = app.inner.out.total_timeout();
    // Tokens the provider issued, kept to revoke them if the sign-in fails afterwards.
    let mut issued: Option<(String, Option<String>)> = None;
    let work = async {
        match app_token {
            Some(t) => corp_exchange(app, provider, profile, &t, tx, req).await,
            None => code_exchange(app, provider, profile, tx, req, &verifier, &mut issued).await,
        }
    };
    let result = tokio::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::new(
                ErrorCode::ProviderTimeout,
                "the provider did not answer in time",
            ))
        });
    // The token request itself was answered with an error response (RFC 6749 §5.2, or a
    // provider's own error shape): the provider issued nothing for this code.
    let refused = !corp
        && issued.is_none()
        && result
            .as_ref()
            .err()
            .is_some_and(|e| e.error.provider_error().is_some());
    if result.is_err()
        && let Some((at, rt)) = issued
    {
        revoke_discarded(app, provider, profile, at, rt);
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
    (result, refused)
}

/// RFC 6749 §4.1.3 (+ RFC 7636 §4.5 where the profile supports PKCE): one token request, then
/// the ID token (OIDC Core §3.1.3.7), QQ's openid step, userinfo and the normalized user.
async fn code_exchange(
    app: &AppState,
    provider: &std::sync::Arc<Provider>,
    profile: &ProviderProfile,
    tx: &TxCookie,
    req: &TokenRequest,
    verifier: &PkceCodeVerifier,
    issued: &mut Option<(String, Option<String>)>,
) -> Result<(TokenReply, SessionCookie), ApiError> {
    let out = &app.inner.out;
    let code = AuthorizationCode::new(req.code.clone());
    // grant_type and redirect_uri are fixed server-side.
    let spec = core_provider::token_request(
        profile,
        &provider.creds,
        Grant::AuthorizationCode {
            code: &code,
            code_verifier: Some(verifier),
            redirect_uri: &provider.redirect_uri,
        },
    )?;
    let secrets = provider.secrets(&[&req.code, verifier.secret()]);
    let tokens = provider
        .token_call(
            out,
            profile,
            EndpointKind::Token,
            &spec,
            &secrets,
            app.now(),
        )
        .await?;
    *issued = Some((
        tokens.access_token.secret().to_owned(),
        tokens.refresh_token.as_ref().map(|r| r.secret().to_owned()),
    ));
    let at_secret = [tokens.access_token.secret().to_owned()];
    // OIDC Core §3.1.3.7; which `id_token` counts is the profile's (`UserSource`).
    let id_token = tokens.id_token.as_ref().filter(|_| {
        profile.user.source == core_provider::UserSource::Claims || profile.oidc.issuer.is_some()
    });
    let claims = match id_token {
        Some(idt) => {
            let issuers: Vec<&str> = if profile.oidc.tenant_issuer_template.is_some() {
                Vec::new()
            } else {
                let Some(issuer) = profile.oidc.issuer.as_deref() else {
                    return Err(ApiError::from(Error::new(
                        ErrorCode::Configuration,
                        "an ID token arrived but no issuer is configured",
                    )));
                };
                std::iter::once(issuer)
                    .chain(profile.oidc.alternative_issuers.iter().map(String::as_str))
                    .collect()
            };
            let expect = crate::idtoken::Expect {
                issuers,
                profile,
                client_id: &provider.creds.client_id,
                nonce: tx.nonce.as_deref(),
                now: app.now(),
            };
            Some(
                crate::idtoken::validate(provider, out, idt.secret(), &expect)
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
    // The context of the user mapping: token response members, then the validated claims.
    let mut ctx = tokens.extra.clone();
    if let Some(c) = &claims {
        for (k, v) in c {
            ctx.insert(k.clone(), v.clone());
        }
    }
    // QQ: the openid comes from a second call (PROVIDERS.md § QQ).
    if profile.openid_step.is_some() {
        let spec = core_provider::openid_request(profile, &provider.creds, &tokens.access_token)?;
        let f = provider
            .execute(out, EndpointKind::Userinfo, &spec)
            .await
            .map_err(|e| crate::outbound::scrub(after_code_sent(e), &at_secret))?;
        if f.status >= 500 {
            let e = crate::outbound::unexpected("the openid request failed", &f);
            return Err(crate::outbound::scrub(e, &at_secret).into());
        }
        core_provider::parse_openid_response(
            profile,
            &provider.creds,
            f.status,
            f.content_type.as_deref(),
            &f.body,
            &mut ctx,
        )
        .map_err(|e| crate::outbound::scrub(e, &at_secret))?;
    }
    let info = if profile.userinfo.is_some() {
        let spec =
            core_provider::userinfo_request(profile, &provider.creds, &tokens.access_token, &ctx)?;
        let f = provider
            .execute(out, EndpointKind::Userinfo, &spec)
            .await
            .map_err(|e| crate::outbound::scrub(after_code_sent(e), &at_secret))?;
        // A server error is the provider's fault whatever its body says (retryable for 503, a
        // bad response otherwise); the rest is the profile's reading.
        if f.status >= 500 {
            let e = crate::outbound::unexpected("the userinfo request failed", &f);
            return Err(crate::outbound::scrub(e, &at_secret).into());
        }
        let v = core_provider::parse_userinfo_response(
            profile,
            f.status,
            f.content_type.as_deref(),
            &f.body,
        )
        .map_err(|e| crate::outbound::scrub(e, &at_secret))?;
        // OIDC Core §5.3.4: the userinfo `sub` must be the ID token's.
        if let (Some(c), Some(sub)) = (&claims, v.get("sub")) {
            if c.get("sub") != Some(sub) {
                return Err(ApiError::new(
                    ErrorCode::InvalidIdToken,
                    "userinfo sub differs from the ID token sub",
                ));
            }
        }
        Some(v)
    } else {
        None
    };
    // A profile whose user comes from standard claims only has no user without them.
    let user = if info.is_none()
        && claims.is_none()
        && profile.user.source == core_provider::UserSource::Claims
    {
        None
    } else {
        Some(core_provider::normalize_user(
            profile,
            info.as_ref().unwrap_or(&Value::Null),
            &ctx,
        )?)
    };
    let reply = TokenReply {
        access_token: tokens.access_token.secret().to_owned(),
        token_type: tokens.token_type.clone(),
        expires_at: tokens.expires_at,
        scope: tokens.scope.clone(),
        id_token_claims: claims.map(Value::Object),
        user: user.clone(),
    };
    let session = SessionCookie {
        sid: random_id()?,
        provider: provider.id.clone(),
        refresh_token: tokens.refresh_token.as_ref().map(|r| r.secret().to_owned()),
        sub: user.map(|u| u.subject),
        created_at: app.now(),
        revocable_access_token: revokes_only_access_tokens(profile)
            .then(|| tokens.access_token.secret().to_owned()),
    };
    Ok((reply, session))
}

/// Whether the provider can revoke access tokens but not refresh tokens (GitHub, Weibo): then
/// the session cookie keeps the access token so logout can revoke it.
fn revokes_only_access_tokens(profile: &ProviderProfile) -> bool {
    profile
        .revocation
        .as_ref()
        .is_some_and(|r| !r.accepts_refresh_token)
}

/// WeCom (PROVIDERS.md § WeCom): the code is resolved to a member with the cached app token;
/// there is no user token (the reply's `access_token` is empty, `token_type` is `none`) and
/// no refresh token.
async fn corp_exchange(
    app: &AppState,
    provider: &Provider,
    profile: &ProviderProfile,
    app_token: &AccessToken,
    _tx: &TxCookie,
    req: &TokenRequest,
) -> Result<(TokenReply, SessionCookie), ApiError> {
    let out = &app.inner.out;
    let code = AuthorizationCode::new(req.code.clone());
    let spec = core_provider::code_identity_request(profile, app_token, &code)?;
    let secrets = provider.secrets(&[&req.code, app_token.secret()]);
    let f = provider
        .execute(out, EndpointKind::Token, &spec)
        .await
        .map_err(|e| crate::outbound::scrub(e, &secrets))?;
    let info = match core_provider::parse_code_identity_response(
        profile,
        f.status,
        f.content_type.as_deref(),
        &f.body,
    ) {
        Ok(v) => v,
        Err(e) => {
            if e.code() != ErrorCode::InvalidGrant {
                // 42001 / 40014 (app token expired or invalid) and the like: fetch a new one next time.
                provider.drop_app_token().await;
            }
            return Err(
                ApiError::from(crate::outbound::scrub(e, &secrets)).with_retry_after(f.retry_after)
            );
        }
    };
    let user = core_provider::normalize_user(profile, &info, &serde_json::Map::new())?;
    let reply = TokenReply {
        access_token: String::new(),
        token_type: "none".to_owned(),
        expires_at: None,
        scope: None,
        id_token_claims: None,
        user: Some(user.clone()),
    };
    let session = SessionCookie {
        sid: random_id()?,
        provider: provider.id.clone(),
        refresh_token: None,
        sub: Some(user.subject),
        created_at: app.now(),
        revocable_access_token: None,
    };
    Ok((reply, session))
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
        // Say why: the provider has no refresh grant at all (WeCom, Weibo), or it issued no
        // refresh token for this sign-in (e.g. GitHub without expiring tokens).
        let unsupported = provider
            .profile(&app.inner.out)
            .await
            .is_ok_and(|p| !p.supports_refresh());
        return Err(ApiError::from(Error::new(
            ErrorCode::NotAuthenticated,
            if unsupported {
                format!(
                    "provider `{}` does not support refresh tokens; sign in again",
                    provider.id
                )
            } else {
                "this session has no refresh token (the provider issued none); sign in again"
                    .to_owned()
            },
        )));
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

async fn do_refresh(
    app: &AppState,
    provider: &Provider,
    rt: &str,
) -> Result<(TokenReply, Option<String>), ApiError> {
    let started = Instant::now();
    let out = &app.inner.out;
    let result = async {
        let profile = provider.profile(out).await?;
        if !profile.supports_refresh() {
            // Nothing is sent: the provider has no refresh grant (PROVIDERS.md table).
            return Err(ApiError::from(Error::new(
                ErrorCode::NotAuthenticated,
                format!(
                    "provider `{}` does not support refresh tokens; sign in again",
                    provider.id
                ),
            )));
        }
        // RFC 6749 §6.
        let refresh_token = RefreshToken::new(rt.to_owned());
        let spec = core_provider::token_request(
            &profile,
            &provider.creds,
            Grant::RefreshToken {
                refresh_token: &refresh_token,
            },
        )?;
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
                        // GitHub, Weibo: only access tokens can be revoked; the session keeps
                        // the current one for this (and the one a concurrent refresh just got).
                        let mut ats: Vec<String> = Vec::new();
                        if let Some(rt) = &session.refresh_token {
                            let rt_hash: [u8; 32] = sha2::Sha256::digest(rt.as_bytes()).into();
                            if let Some(crate::RefreshCache {
                                rt_hash: h,
                                outcome: Ok((fresh, _)),
                                ..
                            }) = &*guard
                                && *h == rt_hash
                            {
                                ats.push(fresh.access_token.clone());
                            }
                        }
                        ats.extend(session.revocable_access_token.iter().cloned());
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
    profile: &std::sync::Arc<ProviderProfile>,
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
    provider: &std::sync::Arc<Provider>,
    profile: &std::sync::Arc<ProviderProfile>,
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
