//! Token endpoint response parsing (RFC 6749 §5.1 success, §5.2 error).
//!
//! Input: HTTP status, `Content-Type`, body bytes. Output: a [`TokenSet`] or a typed
//! [`Error`]. Strict by default (REFERENCE §3.6): status 200, `application/json`, a JSON object,
//! string `access_token`, `token_type` `bearer` (ASCII case-insensitive), numeric `expires_in`
//! when present. Tolerances are opt-in through [`TokenResponseOptions`].
//!
//! Errors:
//! - 4xx/5xx with an RFC 6749 §5.2 JSON body → `InvalidGrant` / `InvalidClient` / `ProviderError`
//!   with the provider's `error`, `error_description`, `error_uri`.
//! - 401 (with or without `WWW-Authenticate`) → `InvalidClient` (class `Configuration`).
//! - 429 / 503 → `ProviderUnavailable` (class `Retryable`); other 5xx without a §5.2 body →
//!   `ProviderBadResponse` with class `Retryable`.
//! - 3xx → `ProviderBadResponse` (redirects are never followed).
//! - A body that is not what was promised (HTML page, truncated JSON, `null`, `[]`, missing or
//!   non-string `access_token`, unknown `token_type`, string `expires_in` when not tolerated) →
//!   `ProviderBadResponse` with [`crate::error::ResponseInfo`] (status, content type, redacted
//!   snippet). Never a panic.

use crate::Error;
use crate::secret::{AccessToken, IdToken, RefreshToken};

/// Opt-in tolerances for real providers. All `false` = strict RFC 6749.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenResponseOptions {
    /// Accept `application/x-www-form-urlencoded` bodies (GitHub without Accept, QQ default).
    pub allow_form_encoded: bool,
    /// Accept JSON served as `text/plain` / `text/html` / missing content type (WeChat, Weibo).
    pub allow_json_as_text: bool,
    /// An `error` member in a 200 body is an error (GitHub).
    pub error_in_200: bool,
    /// A non-zero `errcode` (+ `errmsg`) in a 200 body is an error (WeChat, WeCom).
    pub errcode_in_200: bool,
    /// Accept `expires_in` as a decimal string (`"3600"`).
    pub expires_in_as_string: bool,
    /// Accept a missing `token_type` and treat it as `bearer` (WeChat, QQ, DingTalk).
    pub allow_missing_token_type: bool,
}

/// The result of a successful token request (RFC 6749 §5.1).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TokenSet {
    /// `access_token`.
    pub access_token: AccessToken,
    /// `token_type`, lower-cased (`bearer`).
    pub token_type: String,
    /// `expires_in` seconds, if sent.
    pub expires_in: Option<u64>,
    /// `now + expires_in` (unix seconds), if `expires_in` was sent.
    pub expires_at: Option<u64>,
    /// `refresh_token`, if sent.
    pub refresh_token: Option<RefreshToken>,
    /// `scope`, if sent (RFC 6749 §5.1: required if it differs from the request).
    pub scope: Option<String>,
    /// `id_token` (OIDC Core §3.1.3.3), raw; validated by the backend.
    pub id_token: Option<IdToken>,
    /// Every other member the provider sent (WeChat `openid`, `unionid`, …). Token-like members
    /// are never copied here.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Parses a token endpoint response. `now_unix` is the current time in unix seconds (passed in
/// so the core stays free of clocks).
pub fn parse_token_response(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    options: &TokenResponseOptions,
    now_unix: u64,
) -> Result<TokenSet, Error> {
    let _ = (status, content_type, body, options, now_unix);
    unimplemented!("skeleton")
}

/// Parses an RFC 6749 §5.2 error body, if the body is one (JSON object with a string `error`).
pub fn parse_error_body(body: &[u8]) -> Option<crate::error::ProviderError> {
    let _ = body;
    unimplemented!("skeleton")
}

/// A short (≤200 chars), log-safe snippet of a response body: invalid UTF-8 replaced, control
/// characters dropped, and the values of token-like members (`access_token`, `refresh_token`,
/// `id_token`, `code`, `client_secret`, anything ending in `token`/`secret`, in JSON or form
/// syntax) and any long base64url/JWT-like run (≥20 chars) replaced with `[redacted]`.
pub fn redact_snippet(body: &[u8]) -> String {
    let _ = body;
    unimplemented!("skeleton")
}
