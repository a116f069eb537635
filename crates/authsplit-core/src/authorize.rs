//! Authorization request URL (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1).
//!
//! The backend knows the provider (endpoint, client id, redirect URI, scopes, quirks) and sends
//! an [`AuthorizeTemplate`] to the browser; the browser adds its own `state`, S256
//! `code_challenge` and `nonce` and calls [`AuthorizeTemplate::build_url`]. Both halves use this
//! one builder, so the URL is identical whoever builds it.
//!
//! Encoding: `application/x-www-form-urlencoded` (WHATWG URLSearchParams rules, the
//! `form_urlencoded` crate): space → `+`, `+` → `%2B`, `&` → `%26`, `#` → `%23`, non-ASCII
//! as UTF-8 percent-escapes. `redirect_uri` is copied byte for byte from configuration
//! (RFC 6749 §3.1.2; REFERENCE §2.8). An existing query on the endpoint is kept.

use crate::Error;
use crate::pkce::PkceCodeChallenge;
use crate::random::{Nonce, State};

/// Provider quirks that change the shape of the authorization URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthorizeQuirks {
    /// Name of the client id parameter when not `client_id` (WeChat: `appid`).
    pub client_id_param: Option<String>,
    /// A fragment appended to the URL (WeChat: `wechat_redirect` → `#wechat_redirect`).
    pub fragment: Option<String>,
    /// When set, parameters are emitted in exactly this order first (WeChat matches the order);
    /// parameters not listed follow in the default order.
    pub param_order: Option<Vec<String>>,
    /// Whether to send `code_challenge`/`code_challenge_method` (false for providers without
    /// PKCE support; the verifier is still made and bound on the backend).
    pub omit_pkce: bool,
    /// Whether to omit `response_type=code` (no known provider; kept for completeness).
    pub omit_response_type: bool,
}

/// Everything except the per-transaction values needed to build an authorization URL.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeTemplate {
    /// The authorization endpoint (absolute `https:` URL, or `http:` on loopback).
    pub authorization_endpoint: String,
    /// The client id.
    pub client_id: String,
    /// The registered redirect URI, byte for byte.
    pub redirect_uri: String,
    /// Scopes, joined with `scope_separator`. Omitted from the URL when empty.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Scope separator: `" "` (RFC 6749 §3.3) or `","` (WeChat, QQ, Weibo).
    #[serde(default = "default_separator")]
    pub scope_separator: String,
    /// `prompt` (OIDC Core §3.1.2.1), if any.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Extra parameters, in order (e.g. `access_type=offline`).
    #[serde(default)]
    pub extra_params: Vec<(String, String)>,
    /// Provider quirks.
    #[serde(default)]
    pub quirks: AuthorizeQuirks,
}

fn default_separator() -> String {
    " ".to_owned()
}

impl AuthorizeTemplate {
    /// A template with no scopes, no prompt, no extras and no quirks.
    pub fn new(
        authorization_endpoint: impl Into<String>,
        client_id: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            authorization_endpoint: authorization_endpoint.into(),
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scopes: Vec::new(),
            scope_separator: default_separator(),
            prompt: None,
            extra_params: Vec::new(),
            quirks: AuthorizeQuirks::default(),
        }
    }

    /// Builds the URL: `response_type=code`, `client_id`, `redirect_uri`, `scope`, `state`,
    /// `code_challenge` + `code_challenge_method=S256`, `nonce`, `prompt`, extras; then the
    /// quirks (renamed client id, order, fragment). Errors (`ErrorCode::Configuration`) when
    /// the endpoint is not an absolute http(s) URL, already has a fragment, or an extra
    /// parameter collides with a protocol parameter.
    pub fn build_url(
        &self,
        state: &State,
        code_challenge: Option<&PkceCodeChallenge>,
        nonce: Option<&Nonce>,
    ) -> Result<String, Error> {
        let _ = (state, code_challenge, nonce);
        unimplemented!("skeleton")
    }
}
