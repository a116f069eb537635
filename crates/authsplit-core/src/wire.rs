//! JSON shapes that cross between the browser half and the backend half.
//! Field names are snake_case on the wire. Every request struct denies unknown fields.
//!
//! | call | request | response |
//! |---|---|---|
//! | `POST /transactions` | [`TransactionRequest`] | [`TransactionResponse`] (201) + tx cookie |
//! | `POST /token` | [`TokenRequest`] | [`TokenReply`] + session cookie |
//! | `POST /refresh` | `{}` | [`TokenReply`] (no `user`, no `id_token_claims`) |
//! | `POST /logout` | `{}` | [`LogoutReply`] |
//! | `GET /config` | — | [`ConfigReply`] |
//! | any error | — | [`ErrorBody`] |
//!
//! Every `POST` requires the header [`CSRF_HEADER`]`: 1`, an allow-listed `Origin`, and
//! `Content-Type: application/json`; it is sent with `credentials: "include"`.

use serde::{Deserialize, Serialize};

/// The custom CSRF header every state-changing call carries (RFC 10017 §6.1.3.3).
pub const CSRF_HEADER: &str = "x-authsplit";

/// Transactions (browser storage and backend binding) live at most this long.
pub const TRANSACTION_TTL_SECS: u64 = 600;

/// `POST /transactions` body. Never contains the verifier.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionRequest {
    /// Provider id from `/config`.
    pub provider: String,
    /// The `state` the browser generated.
    pub state: String,
    /// `BASE64URL(SHA256(verifier))`.
    pub code_challenge: String,
    /// Must be `"S256"`.
    pub code_challenge_method: String,
    /// The OIDC nonce, if the browser made one. It goes into the URL (and the transaction) only
    /// when [`crate::authorize::AuthorizeTemplate::nonce_applies`].
    #[serde(default)]
    pub nonce: Option<String>,
    /// Space-separated scopes (RFC 6749 §3.3) replacing the provider's default scopes.
    #[serde(default)]
    pub scope: Option<String>,
    /// Extra authorization request parameters, in order, after the provider's own (e.g.
    /// `login_hint`). A clash with a protocol parameter, a secret or another extra parameter is
    /// `invalid_request` ([`crate::authorize::AuthorizeTemplate::apply_request`]).
    #[serde(default)]
    pub extra_params: Vec<(String, String)>,
}

/// `POST /transactions` reply.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionResponse {
    /// The finished authorization request URL (RFC 6749 §4.1.1) carrying the request's `state`,
    /// `code_challenge` and `nonce`; the browser checks them and navigates there.
    pub authorization_url: String,
    /// The expected `iss` in the callback (RFC 9207), when known.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Whether the server advertises `authorization_response_iss_parameter_supported`.
    #[serde(default)]
    pub require_iss: bool,
    /// Name of the code parameter in the callback (`code`; DingTalk `authCode`).
    #[serde(default = "default_code_param")]
    pub code_param: String,
    /// Seconds the transaction stays valid.
    pub expires_in: u64,
}

fn default_code_param() -> String {
    "code".to_owned()
}

/// `POST /token` body.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Provider id.
    pub provider: String,
    /// The authorization code.
    pub code: String,
    /// The `state` from the callback.
    pub state: String,
    /// The PKCE verifier.
    pub code_verifier: String,
    /// `iss` from the callback, if any.
    #[serde(default)]
    pub iss: Option<String>,
}

impl core::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("provider", &self.provider)
            .field("code", &"[redacted]")
            .field("state", &"[redacted]")
            .field("code_verifier", &"[redacted]")
            .field("iss", &self.iss)
            .finish()
    }
}

/// The normalized user (see the providers issue): keyed by `provider` + `subject`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// `"<provider>:<subject>"`.
    pub id: String,
    /// Provider id.
    pub provider: String,
    /// The provider's stable subject (`sub`, `id`, `openid`, …) — never an email.
    pub subject: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Email, if released.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the provider verified the email.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// Avatar URL.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// The provider's raw profile.
    #[serde(default)]
    pub raw: serde_json::Value,
}

/// `POST /token` and `POST /refresh` reply. Never contains a refresh token.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenReply {
    /// The access token (kept in memory only by the browser). Empty when the backend runs as
    /// a BFF and keeps it (and for WeCom, which issues none to the user).
    pub access_token: String,
    /// `bearer`.
    pub token_type: String,
    /// Unix seconds when the access token expires, if known.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// Granted scope, if known.
    #[serde(default)]
    pub scope: Option<String>,
    /// Validated ID token claims (iss, sub, aud, azp, exp, iat, nonce, …), if OIDC.
    #[serde(default)]
    pub id_token_claims: Option<serde_json::Value>,
    /// The signed-in user, when userinfo is configured.
    #[serde(default)]
    pub user: Option<User>,
}

impl core::fmt::Debug for TokenReply {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenReply")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// `POST /logout` reply.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogoutReply {
    /// Whether the provider confirmed revocation (RFC 7009).
    pub revoked: bool,
    /// The provider's end-session URL (OIDC RP-Initiated Logout), when it has one.
    #[serde(default)]
    pub end_session_url: Option<String>,
}

/// One provider the SPA may offer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProviderInfo {
    /// Provider id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The preset the provider runs on (`github`, `wechat_mp`, …); absent for a generic OIDC or
    /// OAuth 2.0 provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
}

/// `GET /config` reply. Never contains a secret.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigReply {
    /// Configured providers.
    pub providers: Vec<ProviderInfo>,
    /// `token` or `bff` (`[server] mode`): whether the browser holds access tokens.
    #[serde(default = "token_mode")]
    pub mode: String,
}

fn token_mode() -> String {
    "token".to_owned()
}

/// Every error body the backend sends.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code ([`crate::ErrorCode::as_str`]).
    pub error: String,
    /// Safe human-readable description (no secrets).
    pub error_description: String,
    /// `retryable` | `reauthenticate` | `configuration` | `bad_request`.
    pub class: crate::ErrorClass,
    /// The provider's RFC 6749 error code, when it sent one.
    #[serde(default)]
    pub provider_error: Option<String>,
    /// The provider's `error_description`, when it sent one (plain text; never render as HTML).
    #[serde(default)]
    pub provider_error_description: Option<String>,
}

impl From<&crate::Error> for ErrorBody {
    fn from(e: &crate::Error) -> Self {
        Self {
            error: e.code().as_str().to_owned(),
            error_description: e.message.to_string(),
            class: e.class(),
            provider_error: e.provider_error().map(|p| p.error.as_str().to_owned()),
            provider_error_description: e
                .provider_error()
                .and_then(|p| p.error_description.clone()),
        }
    }
}
