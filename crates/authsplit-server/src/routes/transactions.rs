//! `POST /transactions`: step 2 of a sign-in. Checks what the browser made (S256 challenge,
//! `state`, `nonce`), binds the pending sign-in to this browser in an encrypted `__Host-` tx
//! cookie named after its `state`, and answers with what the browser needs to send the user to
//! the provider.

use authsplit_core::pkce::{CODE_CHALLENGE_METHOD_S256, PkceCodeChallenge};
use authsplit_core::provider::{self as core_provider, ProviderProfile};
use authsplit_core::random::{Nonce, State as RState};
use authsplit_core::wire::{TransactionRequest, TransactionResponse};
use authsplit_core::{Error, ErrorCode};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{invalid, random_id};
use crate::AppState;
use crate::cookies::TxCookie;
use crate::error::ApiError;
use crate::extract::StrictJson;
use crate::provider::Provider;

/// Shortest `state` accepted: 128 bits as hex. The browser half sends 64 hex characters
/// (authsplit_core::random::hex_token).
pub(crate) const MIN_STATE_LEN: usize = 32;

/// `POST /transactions`: registers a pending sign-in and binds it to this browser with the
/// encrypted tx cookie (RFC 10017 §6.2; docs/SECURITY.md A2: the backend redeems only codes of
/// transactions this browser registered). The verifier never comes here.
pub(crate) async fn create(
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
    // 32 hex characters.
    if req.state.len() < MIN_STATE_LEN {
        return Err(invalid(
            "state must be at least 32 characters (128 bits as hex)",
        ));
    }
    let nonce = req.nonce.as_deref().map(Nonce::parse).transpose()?;
    // A sign-in that could not be finished is not started: the store that will redeem its
    // transaction must answer before the browser is sent to the provider (typed 503
    // `store_unavailable`, nothing sent upstream).
    app.store().ping().await?;
    let profile = provider.profile(&app.inner.out).await?;
    // WeChat / WeCom accept only `[A-Za-z0-9]{1,128}` as state (docs/PROVIDERS.md, WeChat).
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
    let authorize = if req.scope.is_none() && req.extra_params.is_empty() {
        provider.default_authorize(&profile)?
    } else {
        let mut t = core_provider::authorize_template(
            &profile,
            &provider.creds.client_id,
            &provider.redirect_uri,
            None,
        )?;
        t.apply_request(req.scope.as_deref(), &req.extra_params)?;
        std::sync::Arc::new(t.prepare()?)
    };
    // OIDC Core §3.1.2.1, §3.1.3.7 step 11: an OpenID Connect request to a provider whose ID
    // tokens are validated carries a nonce on every sign-in; a transaction without one could
    // accept any ID token (and one that stored none accepts none, idtoken.rs).
    if authorize.nonce_applies() && nonce.is_none() {
        return Err(ApiError::from(Error::new(
            ErrorCode::InvalidRequest,
            format!(
                "provider `{}` speaks OpenID Connect: a nonce is required",
                provider.id
            ),
        )));
    }
    // OIDC Core §3.1.2.1: the nonce is in the URL exactly when the transaction stores it.
    let nonce = nonce.filter(|_| authorize.nonce_applies());
    let authorization_url = authorize.url(&state, Some(&challenge), nonce.as_ref())?;
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
        match c.get::<TxCookie>(request, &app.inner.keys, &name) {
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
/// the profile's (`callback_issuer`), and — where the provider's rules say so (OIDC by issuer)
/// — its OpenID issuer even when the provider does not advertise `iss` (an `iss` that does
/// arrive must then match).
fn callback_issuer(provider: &Provider, profile: &ProviderProfile) -> (Option<String>, bool) {
    let (iss, required) = profile.callback_issuer();
    let iss = iss.map(str::to_owned).or_else(|| {
        provider
            .rules
            .issuer_from_oidc
            .then(|| profile.oidc.issuer.clone())
            .flatten()
    });
    (iss, required)
}
