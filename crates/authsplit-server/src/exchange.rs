//! The code exchange as plain async code, with no HTTP request or cookie in sight: a checked
//! transaction, its code and verifier go in; the tokens and the user come out, or an
//! [`ExchangeError`] whose variant says what happened to the code. `POST /token`
//! (`routes::token`) runs the local checks, claims the transaction, calls [`exchange`] and
//! turns the variant into single-use bookkeeping.
//!
//! RFC 6749 §4.1.3 (+ RFC 7636 §4.5 where the profile supports PKCE): exactly one token
//! request, never retried (docs/SECURITY.md S8); then the ID token (OIDC Core §3.1.3.7), QQ's openid step, userinfo
//! (OIDC Core §5.3) and the normalized user. WeCom resolves the code with its app token instead
//! (see docs/PROVIDERS.md). One deadline covers the whole exchange.

use std::time::Instant;

use authsplit_core::pkce::PkceCodeVerifier;
use authsplit_core::provider::{self as core_provider, Grant, ProviderProfile};
use authsplit_core::secret::{AccessToken, AuthorizationCode};
use authsplit_core::wire::TokenReply;
use authsplit_core::{Error, ErrorCode};
use serde_json::Value;

use crate::cookies::TxCookie;
use crate::error::ApiError;
use crate::outbound::{CallError, EndpointKind, Outbound};
use crate::profile::{IdTokens, UserinfoReading};
use crate::provider::Provider;

/// A transaction that passed every local check of `POST /token`, with what the browser sent.
#[derive(Debug)]
pub(crate) struct Checked {
    pub tx: TxCookie,
    pub code: AuthorizationCode,
    pub verifier: PkceCodeVerifier,
}

/// A finished sign-in.
#[derive(Debug)]
pub(crate) struct SignedIn {
    /// What the browser gets (the access token, its expiry, the ID token claims, the user).
    pub reply: TokenReply,
    /// Kept in the session record only.
    pub refresh_token: Option<String>,
    /// The user's stable subject, when there is a user.
    pub subject: Option<String>,
    /// The validated ID token as issued (kept in the session record for RP-initiated logout
    /// and to compare a refreshed ID token with, OIDC Core §12.2).
    pub id_token: Option<String>,
}

/// Tokens the provider issued for a sign-in that then failed.
#[derive(Debug)]
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

/// Why an exchange failed, by what happened to the code.
#[derive(Debug)]
pub(crate) enum ExchangeError {
    /// The token request never left this process ([`CallError::NotSent`] or
    /// [`CallError::NotConnected`]): the code is intact and the transaction may be redeemed
    /// again. Nothing is retried automatically.
    NotSent(ApiError),
    /// The provider answered the token request with an error response (RFC 6749 §5.2, or its
    /// own error shape): it issued no token for this code.
    Refused(ApiError),
    /// The code may have been used up and no token is known to have been issued.
    Failed(ApiError),
    /// Tokens were issued but the sign-in failed afterwards (ID token, openid step, userinfo,
    /// user mapping): the caller revokes them.
    Discarded { error: ApiError, issued: Issued },
}

impl ExchangeError {
    /// The error the browser gets.
    pub fn error(&self) -> &ApiError {
        match self {
            Self::NotSent(e) | Self::Refused(e) | Self::Failed(e) => e,
            Self::Discarded { error, .. } => error,
        }
    }

    /// The failure of the token request itself, classified by the outbound variant and by
    /// whether the provider answered with an error response.
    fn of_token_request(e: CallError<ApiError>) -> Self {
        match e {
            CallError::NotSent(e) | CallError::NotConnected(e) => Self::NotSent(e),
            CallError::Failed(e) if e.error.provider_error().is_some() => Self::Refused(e),
            CallError::Failed(e) => Self::Failed(e),
        }
    }
}

/// Redeems `checked.code` at `provider` — with the PKCE verifier, or for a provider whose flow
/// resolves codes with an app token (WeCom) with `app_token` — and returns the signed-in user.
/// `now` is the clock the ID token is checked against.
pub(crate) async fn exchange(
    out: &Outbound,
    provider: &Provider,
    profile: &ProviderProfile,
    checked: &Checked,
    app_token: Option<&AccessToken>,
    now: u64,
) -> Result<SignedIn, ExchangeError> {
    let started = Instant::now();
    let span = tracing::info_span!("token_exchange", provider = %provider.id);
    // Tokens the provider issued, kept to revoke them if the sign-in fails afterwards (also
    // when the deadline cuts the exchange short).
    let mut issued: Option<Issued> = None;
    let work = async {
        match app_token {
            Some(t) => corp_exchange(out, provider, profile, t, &checked.code).await,
            None => code_exchange(out, provider, profile, checked, now, &mut issued).await,
        }
    };
    let result = tokio::time::timeout(out.total_timeout(), work)
        .await
        .unwrap_or_else(|_| {
            Err(ExchangeError::Failed(ApiError::new(
                ErrorCode::ProviderTimeout,
                "the provider did not answer in time",
            )))
        });
    let result = match (result, issued) {
        (Err(e), Some(issued)) => Err(match e {
            ExchangeError::Discarded { .. } => e,
            other => ExchangeError::Discarded {
                error: other.error().clone(),
                issued,
            },
        }),
        (r, _) => r,
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    let _g = span.enter();
    match &result {
        Ok(_) => tracing::info!(latency_ms, outcome = "ok", "code exchanged"),
        Err(e) => tracing::warn!(
            latency_ms,
            outcome = e.error().code().as_str(),
            "code exchange failed"
        ),
    }
    result
}

/// The PKCE code exchange; `issued` is set as soon as the provider issued tokens.
async fn code_exchange(
    out: &Outbound,
    provider: &Provider,
    profile: &ProviderProfile,
    checked: &Checked,
    now: u64,
    issued: &mut Option<Issued>,
) -> Result<SignedIn, ExchangeError> {
    // grant_type and redirect_uri are fixed server-side.
    let spec = core_provider::token_request(
        profile,
        &provider.creds,
        Grant::AuthorizationCode {
            code: &checked.code,
            code_verifier: Some(&checked.verifier),
            redirect_uri: &provider.redirect_uri,
        },
    )
    .map_err(|e| ExchangeError::NotSent(e.into()))?;
    let secrets = provider.secrets(&[checked.code.secret(), checked.verifier.secret()]);
    let tokens = provider
        .token_call(out, profile, EndpointKind::Token, &spec, &secrets, now)
        .await
        .map_err(ExchangeError::of_token_request)?;
    *issued = Some(Issued {
        access_token: tokens.access_token.secret().to_owned(),
        refresh_token: tokens.refresh_token.as_ref().map(|r| r.secret().to_owned()),
    });
    // From here on every failure leaves issued tokens behind (`exchange` revokes them).
    let fail = |e: Error| ExchangeError::Failed(e.into());
    let at_secret = [tokens.access_token.secret().to_owned()];
    let scrubbed = |e: Error| fail(crate::outbound::scrub(e, &at_secret));
    // OIDC Core §3.1.3.7, docs/SECURITY.md S11.
    let id_token = tokens
        .id_token
        .as_ref()
        .filter(|_| match provider.rules.id_tokens {
            IdTokens::Always => true,
            IdTokens::WhenIssuer => profile.oidc.issuer.is_some(),
        });
    let claims = match id_token {
        Some(idt) => {
            let issuers = crate::idtoken::expected_issuers(profile).map_err(fail)?;
            let expect = crate::idtoken::Expect {
                issuers,
                profile,
                client_id: &provider.creds.client_id,
                nonce: checked.tx.nonce.as_deref(),
                refreshed: false,
                now,
            };
            Some(
                crate::idtoken::validate(provider, out, idt.secret(), &expect)
                    .await
                    .map_err(fail)?,
            )
        }
        None if provider.rules.require_id_token => {
            return Err(fail(Error::new(
                ErrorCode::InvalidIdToken,
                "the token response has no id_token although openid was requested",
            )));
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
    // QQ: the openid comes from a second call (docs/PROVIDERS.md, QQ).
    if profile.openid_step.is_some() {
        let spec = core_provider::openid_request(profile, &provider.creds, &tokens.access_token)
            .map_err(fail)?;
        let f = provider
            .execute(out, EndpointKind::Userinfo, &spec)
            .await
            .map_err(|e| scrubbed(e.after_code_sent()))?;
        if f.status >= 500 {
            return Err(scrubbed(crate::outbound::unexpected(
                "the openid request failed",
                &f,
            )));
        }
        core_provider::parse_openid_response(
            profile,
            &provider.creds,
            f.status,
            f.content_type.as_deref(),
            &f.body,
            &mut ctx,
        )
        .map_err(scrubbed)?;
    }
    let info = if profile.userinfo.is_some() {
        let spec =
            core_provider::userinfo_request(profile, &provider.creds, &tokens.access_token, &ctx)
                .map_err(fail)?;
        let f = provider
            .execute(out, EndpointKind::Userinfo, &spec)
            .await
            .map_err(|e| scrubbed(e.after_code_sent()))?;
        let strict = provider.rules.userinfo == UserinfoReading::Strict;
        // A server error is the provider's fault whatever its body says (retryable for 503, a
        // bad response otherwise).
        if f.status >= 500 || (strict && f.status != 200) {
            return Err(scrubbed(crate::outbound::unexpected(
                "the userinfo request failed",
                &f,
            )));
        }
        let v = if strict {
            match serde_json::from_slice::<Value>(&f.body) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    return Err(fail(
                        Error::new(
                            ErrorCode::ProviderBadResponse,
                            "userinfo is not a JSON object",
                        )
                        .with_response(f.info()),
                    ));
                }
            }
        } else {
            core_provider::parse_userinfo_response(
                profile,
                f.status,
                f.content_type.as_deref(),
                &f.body,
            )
            .map_err(scrubbed)?
        };
        // OIDC Core §5.3.4: the userinfo `sub` must be the ID token's.
        if let (Some(c), Some(sub)) = (&claims, v.get("sub"))
            && c.get("sub") != Some(sub)
        {
            return Err(fail(Error::new(
                ErrorCode::InvalidIdToken,
                "userinfo sub differs from the ID token sub",
            )));
        }
        Some(v)
    } else {
        None
    };
    let id_token = claims.as_ref().and(id_token).map(|t| t.secret().to_owned());
    let user = if info.is_none() && claims.is_none() && provider.rules.user_optional {
        None
    } else {
        Some(
            core_provider::normalize_user(profile, info.as_ref().unwrap_or(&Value::Null), &ctx)
                .map_err(fail)?,
        )
    };
    Ok(SignedIn {
        reply: TokenReply {
            access_token: tokens.access_token.secret().to_owned(),
            token_type: tokens.token_type.clone(),
            expires_at: tokens.expires_at,
            scope: tokens.scope.clone(),
            id_token_claims: claims.map(Value::Object),
            user: user.clone(),
        },
        refresh_token: tokens.refresh_token.as_ref().map(|r| r.secret().to_owned()),
        subject: user.map(|u| u.subject),
        id_token,
    })
}

/// WeCom (docs/PROVIDERS.md, WeCom): the code is resolved to a member with the cached app
/// token; there is no user token (the reply's `access_token` is empty, `token_type` is
/// `none`) and no refresh token.
async fn corp_exchange(
    out: &Outbound,
    provider: &Provider,
    profile: &ProviderProfile,
    app_token: &AccessToken,
    code: &AuthorizationCode,
) -> Result<SignedIn, ExchangeError> {
    let spec = core_provider::code_identity_request(profile, app_token, code)
        .map_err(|e| ExchangeError::NotSent(e.into()))?;
    let secrets = provider.secrets(&[code.secret(), app_token.secret()]);
    let f = provider
        .execute(out, EndpointKind::Token, &spec)
        .await
        .map_err(
            |e| match e.map(|e| ApiError::from(crate::outbound::scrub(e, &secrets))) {
                CallError::NotSent(e) | CallError::NotConnected(e) => ExchangeError::NotSent(e),
                CallError::Failed(e) => ExchangeError::Failed(e),
            },
        )?;
    let info = match core_provider::parse_code_identity_response(
        profile,
        f.status,
        f.content_type.as_deref(),
        &f.body,
    ) {
        Ok(v) => v,
        Err(e) => {
            if e.code() != ErrorCode::InvalidGrant {
                // 42001 / 40014 (app token expired or invalid) and the like: fetch a new one
                // next time.
                provider.drop_app_token().await;
            }
            return Err(ExchangeError::Failed(
                ApiError::from(crate::outbound::scrub(e, &secrets)).with_retry_after(f.retry_after),
            ));
        }
    };
    let user = core_provider::normalize_user(profile, &info, &serde_json::Map::new())
        .map_err(|e| ExchangeError::Failed(e.into()))?;
    Ok(SignedIn {
        reply: TokenReply {
            access_token: String::new(),
            token_type: "none".to_owned(),
            expires_at: None,
            scope: None,
            id_token_claims: None,
            user: Some(user.clone()),
        },
        refresh_token: None,
        subject: Some(user.subject),
        id_token: None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    use super::*;
    use crate::config::{ProviderConfig, ServerConfig};

    /// A stub provider on 127.0.0.1: `POST /token` answers `token` (status, JSON body) and
    /// counts requests and the form bodies it got; `GET /userinfo` answers `userinfo`.
    struct Stub {
        origin: String,
        token_calls: Arc<AtomicUsize>,
        bodies: Arc<std::sync::Mutex<Vec<String>>>,
        server: tokio::task::JoinHandle<()>,
    }

    impl Drop for Stub {
        fn drop(&mut self) {
            self.server.abort();
        }
    }

    async fn stub(token: (u16, &'static str), userinfo: (u16, &'static str)) -> Stub {
        let token_calls = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (calls, seen) = (token_calls.clone(), bodies.clone());
        let reply = |(status, body): (u16, &'static str)| {
            (
                StatusCode::from_u16(status).expect("status"),
                [("content-type", "application/json")],
                body,
            )
                .into_response()
        };
        let app = axum::Router::new()
            .route(
                "/token",
                axum::routing::post(move |body: String| async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    seen.lock().expect("lock").push(body);
                    reply(token)
                }),
            )
            .route(
                "/userinfo",
                axum::routing::get(move || async move { reply(userinfo) }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let origin = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Stub {
            origin,
            token_calls,
            bodies,
            server,
        }
    }

    fn ring() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
        std::sync::Arc::new(rustls::crypto::ring::default_provider())
    }

    fn server_config() -> ServerConfig {
        ServerConfig {
            request_timeout_ms: 2_000,
            ..ServerConfig::default()
        }
    }

    /// A plain OAuth 2.0 provider at `origin` (userinfo when asked), one request at a time.
    fn provider(origin: &str, userinfo: bool) -> Provider {
        let mut cfg = ProviderConfig::oauth2(
            &format!("{origin}/authorize"),
            &format!("{origin}/token"),
            "app",
            "s3cret",
            "https://app.example/callback",
        );
        if userinfo {
            cfg = cfg.userinfo_endpoint(&format!("{origin}/userinfo"));
        }
        let t = crate::profile::translate("stub", &cfg, None, &mut Vec::new()).expect("config");
        Provider::new(t, 1)
    }

    fn checked() -> Checked {
        Checked {
            tx: TxCookie {
                id: "tx-1".to_owned(),
                provider: "stub".to_owned(),
                state: "s".repeat(43),
                code_challenge: String::new(),
                nonce: None,
                issuer: None,
                require_iss: false,
                created_at: 0,
            },
            code: AuthorizationCode::new("the-code"),
            verifier: PkceCodeVerifier::parse(&"v".repeat(43)).expect("verifier"),
        }
    }

    async fn run(p: &Provider, out: &Outbound) -> Result<SignedIn, ExchangeError> {
        let profile = p.profile(out).await.expect("profile");
        exchange(out, p, &profile, &checked(), None, 1_000).await
    }

    const TOKENS: &str =
        r#"{"access_token":"at-1","token_type":"Bearer","expires_in":60,"refresh_token":"rt-1"}"#;

    #[tokio::test]
    async fn one_token_request_gives_the_tokens() {
        let s = stub((200, TOKENS), (200, "{}")).await;
        let out = Outbound::new(&server_config(), ring()).expect("client");
        let signed = run(&provider(&s.origin, false), &out)
            .await
            .expect("signed in");
        assert_eq!(signed.reply.access_token, "at-1");
        assert_eq!(signed.reply.expires_at, Some(1_060));
        assert_eq!(signed.refresh_token.as_deref(), Some("rt-1"));
        // No ID token and no userinfo: a plain OAuth 2.0 provider has no user to report.
        assert!(signed.reply.user.is_none() && signed.subject.is_none());
        assert_eq!(s.token_calls.load(Ordering::SeqCst), 1);
        let body = s.bodies.lock().expect("lock")[0].clone();
        for part in [
            "grant_type=authorization_code",
            "code=the-code",
            &format!("code_verifier={}", "v".repeat(43)),
            "redirect_uri=https%3A%2F%2Fapp.example%2Fcallback",
        ] {
            assert!(body.contains(part), "{part} missing from {body}");
        }
    }

    #[tokio::test]
    async fn an_error_response_is_a_refusal() {
        let s = stub((400, r#"{"error":"invalid_grant"}"#), (200, "{}")).await;
        let out = Outbound::new(&server_config(), ring()).expect("client");
        match run(&provider(&s.origin, false), &out).await {
            Err(ExchangeError::Refused(e)) => assert_eq!(e.code(), ErrorCode::InvalidGrant),
            other => panic!("expected Refused, got {other:?}"),
        }
        assert_eq!(s.token_calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_unreadable_answer_is_a_failure_not_a_refusal() {
        let s = stub((502, "<html>bad gateway</html>"), (200, "{}")).await;
        let out = Outbound::new(&server_config(), ring()).expect("client");
        match run(&provider(&s.origin, false), &out).await {
            Err(ExchangeError::Failed(e)) => {
                assert_eq!(e.code(), ErrorCode::ProviderBadResponse);
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_closed_port_means_not_sent() {
        // Connections are refused, and no other test can take the port while `_socket` holds it.
        let (port, _socket) = authsplit_test_support::faults::refusing_port();
        let origin = format!("http://127.0.0.1:{port}");
        let out = Outbound::new(&server_config(), ring()).expect("client");
        match run(&provider(&origin, false), &out).await {
            Err(ExchangeError::NotSent(e)) => {
                assert_eq!(e.code(), ErrorCode::ProviderUnreachable);
            }
            other => panic!("expected NotSent, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn no_free_slot_means_not_sent() {
        let s = stub((200, TOKENS), (200, "{}")).await;
        let out = Outbound::new(
            &ServerConfig {
                request_timeout_ms: 400,
                ..ServerConfig::default()
            },
            ring(),
        )
        .expect("client");
        let p = provider(&s.origin, false);
        // The provider's only slot is taken for the whole exchange.
        let _slot = p.permits.clone().acquire_owned().await.expect("permit");
        match run(&p, &out).await {
            Err(ExchangeError::NotSent(e)) => assert_eq!(e.code(), ErrorCode::ProviderTimeout),
            other => panic!("expected NotSent, got {other:?}"),
        }
        assert_eq!(s.token_calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_failure_after_the_tokens_were_issued_hands_them_back_for_revocation() {
        let s = stub((200, TOKENS), (500, r#"{"error":"server_error"}"#)).await;
        let out = Outbound::new(&server_config(), ring()).expect("client");
        match run(&provider(&s.origin, true), &out).await {
            Err(ExchangeError::Discarded { error, issued }) => {
                assert_eq!(error.code(), ErrorCode::ProviderBadResponse);
                assert_eq!(issued.access_token, "at-1");
                assert_eq!(issued.refresh_token.as_deref(), Some("rt-1"));
            }
            other => panic!("expected Discarded, got {other:?}"),
        }
    }

    #[test]
    fn the_variant_decides_whatever_the_message_says() {
        // A reworded message on a request that never left still keeps the transaction…
        for e in [
            CallError::NotSent(ApiError::new(ErrorCode::ProviderTimeout, "reworded")),
            CallError::NotConnected(ApiError::new(ErrorCode::ProviderUnreachable, "reworded")),
        ] {
            assert!(matches!(
                ExchangeError::of_token_request(e),
                ExchangeError::NotSent(_)
            ));
        }
        // …and a request that may have arrived spends it, even with the words of a request
        // that was not sent.
        for e in [
            ApiError::new(
                ErrorCode::ProviderTimeout,
                "too many requests to this provider in flight; the request was not sent",
            ),
            ApiError::new(
                ErrorCode::ProviderUnreachable,
                "could not connect to the provider",
            ),
        ] {
            assert!(matches!(
                ExchangeError::of_token_request(CallError::Failed(e)),
                ExchangeError::Failed(_)
            ));
        }
    }
}
