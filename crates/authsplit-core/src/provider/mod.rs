//! Provider profiles **as data**, for the backend half (`std` layer).
//!
//! A [`ProviderProfile`] says everything authsplit must know about one sign-in platform:
//! endpoints (with `{tenant}` / `{base_url}` / `{agentid}` placeholders filled from
//! [`ProviderProfile::vars`]), parameter names (WeChat `appid`/`secret`, DingTalk `clientId` /
//! `grantType`, the callback's `authCode`), scopes, authorization-URL quirks, the token request
//! style (POST form, POST JSON, GET query) and client authentication, the response format and
//! error signalling, PKCE support, refresh and revocation support, the userinfo call, extra
//! steps (QQ's `/oauth2.0/me`, WeCom's corp-token flow), and how to build the normalized user.
//!
//! Everything here is pure: the functions **build** [`HttpRequestSpec`]s and **parse** response
//! bytes; the backend executes the requests. Facts per provider come from
//! each platform's documentation; every preset's documentation marks what rests on unverified
//! sources.
//!
//! Flow for the backend (see `docs/PROVIDERS.md` for the full integration guide):
//!
//! 1. start-up: [`preset`] (or [`generic_oidc`] / [`generic_oauth2`] /
//!    [`google::from_client_secrets`]) → [`ProviderProfile::with_overrides`] →
//!    [`ProviderProfile::resolve`] → ([`discovery::apply_discovery`] for OIDC) →
//!    [`ProviderProfile::check`].
//! 2. `/transactions`: [`authorize_template`]; `code_param` = [`ProviderProfile::callback_code_param`].
//! 3. `/token`: [`token_request`] → execute → [`parse_token_response`]; then, if the profile
//!    has one, [`openid_request`] → [`parse_openid_response`] (merges `openid` into the
//!    context); then [`userinfo_request`] → [`parse_userinfo_response`]; then
//!    [`normalize_user`]. WeCom ([`Flow::CorpToken`]): [`app_token_request`] (cache it) →
//!    [`code_identity_request`] → [`parse_code_identity_response`] → [`normalize_user`].
//! 4. `/refresh`: [`token_request`] with [`Grant::RefreshToken`]; `/logout`:
//!    [`revocation_request`] → [`parse_revocation_response`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::authorize::{AuthorizeQuirks, AuthorizeTemplate};
use crate::error::ErrorCode;

pub mod discovery;
pub mod entra;
pub mod google;
pub mod presets;
mod request;
mod response;
mod user;

pub use crate::token::{BodyFormat, ErrorOutcome, ErrorRule, ErrorStyle, ResponseRules};
pub use presets::{PRESET_NAMES, generic_oauth2, generic_oidc, preset};
pub use request::{
    Body, ClientCredentials, Grant, HttpRequestSpec, RevocableToken, app_token_request,
    basic_auth_value, code_identity_request, openid_request, revocation_request, token_request,
    userinfo_request,
};
pub use response::{
    parse_app_token_response, parse_code_identity_response, parse_openid_response,
    parse_revocation_response, parse_token_response, parse_userinfo_response,
};
pub use user::normalize_user;

/// HTTP method of a provider call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `DELETE` (GitHub token revocation)
    Delete,
}

impl HttpMethod {
    /// The method name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

/// Where request parameters go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamEncoding {
    /// `application/x-www-form-urlencoded` body (RFC 6749 §4.1.3).
    Form,
    /// JSON object body, every value a string (Feishu, DingTalk, GitHub revocation).
    Json,
    /// URL query (WeChat, QQ, OSChina, WeCom: GET requests).
    Query,
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `client_secret_basic`: `Authorization: Basic base64(urlenc(id):urlenc(secret))`
    /// (RFC 6749 §2.3.1).
    Basic,
    /// `client_secret_post`: id and secret as request parameters, wherever the parameters go.
    Post,
    /// Only the client id parameter, no secret (WeChat refresh).
    IdOnly,
    /// Nothing (Google revocation).
    None,
}

/// The token (and refresh) request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenCall {
    /// HTTP method.
    pub method: HttpMethod,
    /// Where the parameters go.
    pub encoding: ParamEncoding,
    /// Client authentication.
    pub client_auth: ClientAuth,
    /// Whether `redirect_uri` is sent with the code (WeChat and DingTalk do not take it).
    pub send_redirect_uri: bool,
    /// Fixed extra parameters (`fmt=json` for QQ, `dataType=json` for OSChina).
    #[serde(default)]
    pub extra_params: Vec<(String, String)>,
    /// Extra headers for this call (`Accept: application/json`).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// Refresh support (RFC 6749 §6). Method, encoding, extras and headers are the token call's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshCall {
    /// Overrides the client authentication (WeChat: [`ClientAuth::IdOnly`]).
    #[serde(default)]
    pub client_auth: Option<ClientAuth>,
}

/// Revocation support (RFC 7009 or the provider's own call). URL: [`Endpoints::revocation`],
/// where `{client_id}` is replaced by the (percent-encoded) client id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationCall {
    /// HTTP method.
    pub method: HttpMethod,
    /// Where the parameters go.
    pub encoding: ParamEncoding,
    /// Client authentication.
    pub client_auth: ClientAuth,
    /// Name of the token parameter (`token` per RFC 7009 §2.1; GitHub/Weibo `access_token`).
    pub token_param: String,
    /// Whether a refresh token can be revoked (RFC 7009 §2.1); otherwise only access tokens.
    pub accepts_refresh_token: bool,
    /// Whether to send `token_type_hint` (RFC 7009 §2.1).
    pub send_token_type_hint: bool,
}

/// How the access token travels on an API call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPlacement {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1).
    Bearer,
    /// A custom header (DingTalk `x-acs-dingtalk-access-token`).
    Header(String),
    /// A query parameter (RFC 6750 §2.3 style: WeChat, QQ, Gitee, OSChina, Weibo).
    Query(String),
}

/// Where a parameter value of an API call comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamSource {
    /// A fixed value (`lang=zh_CN`, `fmt=json`).
    Literal(String),
    /// The client id (QQ `oauth_consumer_key`).
    ClientId,
    /// A member of the token response / context (`openid`, `uid`).
    Context(String),
}

/// How an API response (userinfo, QQ `/me`, WeCom) is read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiCall {
    /// HTTP method (always `GET` in the presets).
    pub method: HttpMethod,
    /// Where the access token goes.
    pub token: TokenPlacement,
    /// Query parameters, in order.
    #[serde(default)]
    pub params: Vec<(String, ParamSource)>,
    /// Extra headers.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Body format.
    pub format: BodyFormat,
    /// Error signalling.
    pub errors: ErrorStyle,
    /// A member holding the payload (Feishu: `data`).
    #[serde(default)]
    pub unwrap: Option<String>,
}

/// Where the user's stable subject comes from. Fields are looked up in the userinfo object
/// first, then in the context (token response extras + validated ID token claims).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectSource {
    /// One member (string, or integer turned into its decimal string).
    Field(String),
    /// Several members joined (Microsoft `tid` + `oid` → `"{tid}:{oid}"`).
    Join {
        /// The members, in order.
        fields: Vec<String>,
        /// The separator.
        separator: String,
    },
}

/// Whether the email is verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailVerified {
    /// Unknown (`None`).
    Unknown,
    /// A boolean (or `"true"`/`"false"`) member (`email_verified`, Discord `verified`).
    Field(String),
    /// Fixed: the provider documents that emails are (not) verified (Feishu: admin-entered).
    Fixed(bool),
}

/// Where the avatar URL comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvatarSource {
    /// A member holding a URL.
    Field(String),
    /// A template with `{member}` placeholders (Discord
    /// `https://cdn.discordapp.com/avatars/{id}/{avatar}.png`); skipped when a member is missing.
    Template(String),
}

/// How a provider profile maps to the normalized [`crate::wire::User`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserMapping {
    /// Subject candidates, first match wins (WeChat: `unionid`, then `openid`). Never an email.
    pub subject: Vec<SubjectSource>,
    /// Display-name candidates.
    #[serde(default)]
    pub name: Vec<String>,
    /// Email candidates.
    #[serde(default)]
    pub email: Vec<String>,
    /// Whether the email is verified.
    pub email_verified: EmailVerified,
    /// Avatar candidates.
    #[serde(default)]
    pub avatar: Vec<AvatarSource>,
    /// Members removed from `raw` because they are credentials (LinuxDo `api_key`).
    #[serde(default)]
    pub omit_from_raw: Vec<String>,
    /// Members that, when `true` or `1`, refuse the sign-in with `AccessDenied` (WeChat
    /// `is_snapshotuser`: a virtual user of the snapshot-page mode, not a real account).
    #[serde(default)]
    pub reject_if_true: Vec<String>,
}

/// Which code path the provider needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// RFC 6749 §4.1: code → token endpoint → userinfo.
    AuthorizationCode,
    /// WeCom: app (corp) token from `corpid`+`corpsecret` (cache it), then the code is resolved
    /// to a user by [`Endpoints::code_identity`]. No user token, no refresh.
    CorpToken,
}

/// Endpoints. Values may contain `{var}` placeholders ([`ProviderProfile::vars`]);
/// [`Endpoints::revocation`] may also contain `{client_id}` and [`OidcRules`]'s issuer template
/// `{tenantid}`, both filled at run time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Endpoints {
    /// Authorization endpoint (RFC 6749 §3.1).
    pub authorization: Option<String>,
    /// Token endpoint (RFC 6749 §3.2); WeCom: the corp-token (`gettoken`) endpoint.
    pub token: Option<String>,
    /// Refresh endpoint when it differs from the token endpoint (WeChat).
    pub refresh: Option<String>,
    /// Userinfo endpoint.
    pub userinfo: Option<String>,
    /// QQ: the `/oauth2.0/me` endpoint that turns an access token into an `openid`.
    pub openid: Option<String>,
    /// WeCom: the endpoint that turns a code into a user (`auth/getuserinfo`).
    pub code_identity: Option<String>,
    /// Revocation endpoint (RFC 7009).
    pub revocation: Option<String>,
    /// End-session endpoint (OIDC RP-Initiated Logout).
    pub end_session: Option<String>,
    /// JWKS URI (ID token keys).
    pub jwks: Option<String>,
}

/// OpenID Connect settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcRules {
    /// The issuer (exact string; discovery at `{issuer}/.well-known/openid-configuration`).
    pub issuer: Option<String>,
    /// Whether [`discovery::apply_discovery`] must run at start-up.
    pub discovery: bool,
    /// Other `iss` values the provider is documented to use (Google `accounts.google.com`).
    pub alternative_issuers: Vec<String>,
    /// Accept a discovered issuer that differs only by a trailing `/` (LinuxDo).
    pub issuer_trailing_slash_lenient: bool,
    /// Multi-tenant issuer template with `{tenantid}` (Microsoft `common`/`organizations`).
    pub tenant_issuer_template: Option<String>,
    /// Allowed tenant ids (`tid`); empty = any tenant (see [`entra::check_issuer`]).
    pub allowed_tenants: Vec<String>,
    /// Whether the authorization response carries `iss` (RFC 9207) — Discord does.
    pub iss_in_callback: bool,
}

/// Authorization-request settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRules {
    /// Scope separator (`" "` RFC 6749 §3.3; `","` WeChat, QQ, Weibo).
    pub scope_separator: String,
    /// Default sign-in scopes.
    pub default_scopes: Vec<String>,
    /// `prompt`, if any (DingTalk `consent`).
    #[serde(default)]
    pub prompt: Option<String>,
    /// Extra parameters (Google `access_type=offline`, WeCom `agentid={agentid}`).
    #[serde(default)]
    pub extra_params: Vec<(String, String)>,
    /// URL-shape quirks (client id name, parameter order, fragment). `omit_pkce` is derived
    /// from [`ProviderProfile::pkce`].
    #[serde(default)]
    pub quirks: AuthorizeQuirks,
    /// The callback's code parameter (`code`; DingTalk `authCode`).
    #[serde(default = "default_code_param")]
    pub callback_code_param: String,
    /// `state` must be `[A-Za-z0-9]` only, ≤128 bytes (WeChat / WeCom). The browser must then
    /// generate an alphanumeric state (see [`state_is_acceptable`]).
    #[serde(default)]
    pub state_alphanumeric: bool,
}

fn default_code_param() -> String {
    "code".to_owned()
}

/// Token-side parameter names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParamNames {
    /// `client_id` (WeChat `appid`, DingTalk `clientId`, WeCom `corpid`).
    pub client_id: String,
    /// `client_secret` (WeChat `secret`, DingTalk `clientSecret`, WeCom `corpsecret`).
    pub client_secret: String,
    /// `grant_type` (DingTalk `grantType`).
    pub grant_type: String,
    /// `code`.
    pub code: String,
    /// `redirect_uri`.
    pub redirect_uri: String,
    /// `code_verifier` (RFC 7636 §4.5).
    pub code_verifier: String,
    /// `refresh_token` (DingTalk `refreshToken`).
    pub refresh_token: String,
}

impl Default for ParamNames {
    fn default() -> Self {
        Self {
            client_id: "client_id".into(),
            client_secret: "client_secret".into(),
            grant_type: "grant_type".into(),
            code: "code".into(),
            redirect_uri: "redirect_uri".into(),
            code_verifier: "code_verifier".into(),
            refresh_token: "refresh_token".into(),
        }
    }
}

/// One provider, as data. Serialize/Deserialize so configuration can override any field
/// ([`ProviderProfile::with_overrides`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderProfile {
    /// Provider id (`github`, `wechat_mp`, …): the prefix of the normalized user id.
    pub id: String,
    /// Display name for the SPA.
    pub display_name: String,
    /// Values for `{name}` placeholders in endpoints and extra parameters (`tenant`,
    /// `base_url`, `agentid`).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Which code path.
    pub flow: Flow,
    /// Endpoints.
    pub endpoints: Endpoints,
    /// OpenID Connect settings, if the provider speaks OIDC.
    #[serde(default)]
    pub oidc: OidcRules,
    /// Authorization request.
    pub authorize: AuthorizeRules,
    /// Whether the provider supports PKCE S256 (RFC 7636). When false the browser still makes
    /// a verifier and the backend still binds it; it is just not sent.
    pub pkce: bool,
    /// Token-side parameter names.
    #[serde(default)]
    pub params: ParamNames,
    /// The token request.
    pub token: TokenCall,
    /// Token response reading.
    pub response: ResponseRules,
    /// Refresh support; `None` = refused with a typed error.
    #[serde(default)]
    pub refresh: Option<RefreshCall>,
    /// Revocation support; `None` = refused with a typed error.
    #[serde(default)]
    pub revocation: Option<RevocationCall>,
    /// QQ: the openid lookup step (`/oauth2.0/me`), run after the token exchange.
    #[serde(default)]
    pub openid_step: Option<ApiCall>,
    /// The userinfo call; `None` = the user comes from the token response alone
    /// (WeChat `snsapi_base`) or from the code-identity step (WeCom).
    #[serde(default)]
    pub userinfo: Option<ApiCall>,
    /// Headers required on every call to this provider (GitHub/Gitee `User-Agent`).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// How to build the normalized user.
    pub user: UserMapping,
    /// Facts this profile rests on that are unverified (from PROVIDERS.md), for the docs.
    #[serde(default)]
    pub unverified: Vec<String>,
}

/// The `User-Agent` sent to providers that require one.
pub const USER_AGENT: &str = concat!("authsplit/", env!("CARGO_PKG_VERSION"));

pub(crate) fn config_error(message: String) -> Error {
    Error::new(ErrorCode::Configuration, message)
}

/// Placeholders filled at run time, left alone by [`ProviderProfile::resolve`].
const RUNTIME_PLACEHOLDERS: &[&str] = &["client_id", "tenantid"];

/// Fills `{name}` placeholders from `vars`; runtime placeholders are kept. Unknown ones are an
/// error naming the variable.
pub(crate) fn fill_placeholders(
    input: &str,
    vars: &BTreeMap<String, String>,
    provider: &str,
) -> Result<String, Error> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(config_error(format!(
                "provider `{provider}`: unbalanced `{{` in `{input}`"
            )));
        };
        let name = &after[..close];
        if let Some(value) = vars.get(name) {
            out.push_str(value);
        } else if RUNTIME_PLACEHOLDERS.contains(&name) {
            out.push('{');
            out.push_str(name);
            out.push('}');
        } else {
            return Err(config_error(format!(
                "provider `{provider}`: `{input}` needs `{name}`; set `vars.{name}` in the provider configuration"
            )));
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `url` is an absolute `https:` URL (or `http:` on a loopback host), without a
/// fragment, userinfo or whitespace.
pub(crate) fn check_endpoint_url(url: &str, what: &str, provider: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        config_error(format!(
            "provider `{provider}`: {what} `{url}` {why}; use an absolute https:// URL (http:// only on 127.0.0.1/localhost)"
        ))
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("is not absolute"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(bad("has no host"));
    }
    if authority.contains('@') {
        return Err(bad("contains userinfo"));
    }
    if url.contains('#') {
        return Err(bad("has a fragment"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains whitespace"));
    }
    let host = authority
        .rsplit_once(':')
        .filter(|(h, port)| !h.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(authority, |(h, _)| h);
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        "http" => Err(bad("is plain http on a non-loopback host")),
        _ => Err(bad("has an unsupported scheme")),
    }
}

/// Checks a redirect URI for start-up validation: absolute `https:` (or `http:` loopback), no
/// fragment (RFC 6749 §3.1.2).
pub fn check_redirect_uri(redirect_uri: &str, provider: &str) -> Result<(), Error> {
    check_endpoint_url(redirect_uri, "redirect_uri", provider)
}

fn merge_json(base: &mut serde_json::Value, patch: &serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_json(existing, v);
                    }
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

impl ProviderProfile {
    /// Applies configuration overrides: `overrides` is a JSON object deep-merged into this
    /// profile (objects merge member by member; anything else replaces). Unknown fields are a
    /// `Configuration` error naming the field (serde `deny_unknown_fields`).
    pub fn with_overrides(&self, overrides: &serde_json::Value) -> Result<Self, Error> {
        if !overrides.is_object() {
            return Err(config_error(format!(
                "provider `{}`: overrides must be a table/object",
                self.id
            )));
        }
        let mut value = serde_json::to_value(self).map_err(|e| {
            config_error(format!(
                "provider `{}`: cannot serialize profile: {e}",
                self.id
            ))
        })?;
        merge_json(&mut value, overrides);
        serde_json::from_value(value)
            .map_err(|e| config_error(format!("provider `{}`: invalid override: {e}", self.id)))
    }

    /// Fills the `{var}` placeholders of every endpoint, the OIDC issuer and the authorization
    /// extras from [`ProviderProfile::vars`]. Errors (`Configuration`) name a missing variable.
    /// `vars.base_url` loses a trailing `/`; `vars.tenant` must be `[A-Za-z0-9._-]+`.
    pub fn resolve(&self) -> Result<Self, Error> {
        let mut vars = self.vars.clone();
        if let Some(base) = vars.get_mut("base_url") {
            while base.ends_with('/') {
                base.pop();
            }
        }
        for (name, value) in &vars {
            let ok = if name == "base_url" {
                !value.is_empty()
            } else {
                !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            };
            if !ok {
                return Err(config_error(format!(
                    "provider `{}`: `vars.{name}` = `{value}` is not a valid value (use letters, digits, `.`, `_`, `-`)",
                    self.id
                )));
            }
        }
        let id = self.id.clone();
        let fill = |s: &Option<String>| -> Result<Option<String>, Error> {
            s.as_deref()
                .map(|v| fill_placeholders(v, &vars, &id))
                .transpose()
        };
        let mut out = self.clone();
        out.vars = vars.clone();
        let e = &self.endpoints;
        out.endpoints = Endpoints {
            authorization: fill(&e.authorization)?,
            token: fill(&e.token)?,
            refresh: fill(&e.refresh)?,
            userinfo: fill(&e.userinfo)?,
            openid: fill(&e.openid)?,
            code_identity: fill(&e.code_identity)?,
            revocation: fill(&e.revocation)?,
            end_session: fill(&e.end_session)?,
            jwks: fill(&e.jwks)?,
        };
        out.oidc.issuer = fill(&self.oidc.issuer)?;
        out.oidc.tenant_issuer_template = fill(&self.oidc.tenant_issuer_template)?;
        out.authorize.extra_params = self
            .authorize
            .extra_params
            .iter()
            .map(|(k, v)| Ok((k.clone(), fill_placeholders(v, &vars, &id)?)))
            .collect::<Result<_, Error>>()?;
        Ok(out)
    }

    /// Start-up check of a resolved profile: the endpoints the flow needs are present and are
    /// absolute `https:` URLs (`http:` on loopback only), no placeholder is left, the subject
    /// never comes from an email-like member. Messages say what to fix.
    pub fn check(&self) -> Result<(), Error> {
        let id = &self.id;
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
        {
            return Err(config_error(format!(
                "provider id `{id}` must be lower-case letters, digits, `_` or `-`"
            )));
        }
        let e = &self.endpoints;
        let need = |v: &Option<String>, what: &str| -> Result<(), Error> {
            match v {
                Some(url) => {
                    if url.contains('{') && !url.contains("{client_id}") {
                        return Err(config_error(format!(
                            "provider `{id}`: {what} `{url}` still has a placeholder; call resolve() and set `vars`"
                        )));
                    }
                    check_endpoint_url(url, what, id)
                }
                None => Err(config_error(format!(
                    "provider `{id}`: {what} is not configured{}",
                    if self.oidc.discovery {
                        " (run discovery first)"
                    } else {
                        ""
                    }
                ))),
            }
        };
        need(&e.authorization, "authorization endpoint")?;
        need(&e.token, "token endpoint")?;
        if self.flow == Flow::CorpToken {
            need(&e.code_identity, "code identity endpoint")?;
        }
        for (v, what) in [
            (&e.refresh, "refresh endpoint"),
            (&e.userinfo, "userinfo endpoint"),
            (&e.openid, "openid endpoint"),
            (&e.revocation, "revocation endpoint"),
            (&e.end_session, "end-session endpoint"),
            (&e.jwks, "jwks endpoint"),
        ] {
            if v.is_some() {
                need(v, what)?;
            }
        }
        if self.userinfo.is_some() {
            need(&e.userinfo, "userinfo endpoint")?;
        }
        if self.openid_step.is_some() {
            need(&e.openid, "openid endpoint")?;
        }
        if self.revocation.is_some() {
            need(&e.revocation, "revocation endpoint")?;
        }
        if self.user.subject.is_empty() {
            return Err(config_error(format!(
                "provider `{id}`: user.subject has no source"
            )));
        }
        for s in &self.user.subject {
            let fields: Vec<&String> = match s {
                SubjectSource::Field(f) => vec![f],
                SubjectSource::Join { fields, .. } => fields.iter().collect(),
            };
            for f in fields {
                let lower = f.to_ascii_lowercase();
                if lower.contains("email")
                    || lower.contains("mail")
                    || lower == "upn"
                    || lower == "preferred_username"
                {
                    return Err(config_error(format!(
                        "provider `{id}`: user.subject must be a stable id, never `{f}` (emails and user names change and can be reassigned)"
                    )));
                }
            }
        }
        if self.authorize.scope_separator.is_empty() {
            return Err(config_error(format!(
                "provider `{id}`: authorize.scope_separator is empty"
            )));
        }
        Ok(())
    }

    /// Start-up check of the client registration against this profile: a non-empty client id,
    /// and a non-empty secret whenever the token (or WeCom corp-token) call authenticates with
    /// one. Messages say which key to set.
    pub fn check_client(&self, client: &ClientCredentials) -> Result<(), Error> {
        if client.client_id.trim().is_empty() {
            return Err(config_error(format!(
                "provider `{}`: client_id is empty; set `client_id`",
                self.id
            )));
        }
        let needs_secret = matches!(self.token.client_auth, ClientAuth::Basic | ClientAuth::Post);
        let has_secret = client
            .client_secret
            .as_ref()
            .is_some_and(|s| !s.secret().is_empty());
        if needs_secret && !has_secret {
            return Err(config_error(format!(
                "provider `{}`: client_secret is missing; set `client_secret` (the backend is a confidential client)",
                self.id
            )));
        }
        Ok(())
    }

    /// The callback's code parameter name (`code`; DingTalk `authCode`) — the value for
    /// [`crate::wire::TransactionResponse::code_param`] and [`crate::callback::Expected::code_param`].
    pub fn callback_code_param(&self) -> &str {
        &self.authorize.callback_code_param
    }

    /// Whether [`token_request`] with [`Grant::RefreshToken`] is supported.
    pub fn supports_refresh(&self) -> bool {
        self.refresh.is_some() && self.flow == Flow::AuthorizationCode
    }

    /// Whether [`revocation_request`] is supported.
    pub fn supports_revocation(&self) -> bool {
        self.revocation.is_some()
    }

    /// The expected `iss` of an authorization response (RFC 9207), and whether it is required.
    pub fn callback_issuer(&self) -> (Option<&str>, bool) {
        if self.oidc.iss_in_callback {
            (self.oidc.issuer.as_deref(), true)
        } else {
            (None, false)
        }
    }
}

/// [`preset`], or a `Configuration` error that lists the known presets (an unknown
/// preset fails at start-up with a message that says what to fix).
pub fn preset_or_error(name: &str) -> Result<ProviderProfile, Error> {
    preset(name).ok_or_else(|| {
        config_error(format!(
            "unknown provider preset `{name}`; known presets: {} (or configure `issuer` for any OIDC provider, or explicit endpoints for any OAuth 2.0 provider)",
            PRESET_NAMES.join(", ")
        ))
    })
}

impl ProviderProfile {
    /// **For tests** (the quirk server; feature `testing`): every endpoint `https://host/path` becomes
    /// `{origin}/host/path`, so one local server can play every provider host; the OIDC
    /// issuer and tenant template are rebased the same way. `origin` must be `http://127.0.0.1:PORT`
    /// style (no trailing `/`). Call on a resolved profile.
    #[cfg(feature = "testing")]
    pub fn with_origin(&self, origin: &str) -> Result<Self, Error> {
        check_endpoint_url(origin, "test origin", &self.id)?;
        let origin = origin.trim_end_matches('/');
        let rebase = |v: &Option<String>| {
            v.as_deref().map(|u| match u.split_once("://") {
                Some((_, rest)) => format!("{origin}/{rest}"),
                None => u.to_owned(),
            })
        };
        let mut out = self.clone();
        let e = &self.endpoints;
        out.endpoints = Endpoints {
            authorization: rebase(&e.authorization),
            token: rebase(&e.token),
            refresh: rebase(&e.refresh),
            userinfo: rebase(&e.userinfo),
            openid: rebase(&e.openid),
            code_identity: rebase(&e.code_identity),
            revocation: rebase(&e.revocation),
            end_session: rebase(&e.end_session),
            jwks: rebase(&e.jwks),
        };
        out.oidc.issuer = rebase(&self.oidc.issuer);
        out.oidc.tenant_issuer_template = rebase(&self.oidc.tenant_issuer_template);
        Ok(out)
    }
}

/// Whether `state` is acceptable to this provider: always for standard providers; WeChat/WeCom
/// need 1–128 bytes of `[A-Za-z0-9]` (PROVIDERS.md, WeChat MP).
pub fn state_is_acceptable(profile: &ProviderProfile, state: &str) -> bool {
    !profile.authorize.state_alphanumeric
        || (!state.is_empty()
            && state.len() <= 128
            && state.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The [`AuthorizeTemplate`] for this provider (RFC 6749 §4.1.1): endpoint, client id, the
/// registered redirect URI byte for byte, default scopes (or `scopes` when given), separator,
/// prompt, extras and quirks; `omit_pkce` = `!profile.pkce`. The profile must be resolved.
pub fn authorize_template(
    profile: &ProviderProfile,
    client_id: &str,
    redirect_uri: &str,
    scopes: Option<&[String]>,
) -> Result<AuthorizeTemplate, Error> {
    let endpoint = profile.endpoints.authorization.as_deref().ok_or_else(|| {
        config_error(format!(
            "provider `{}`: authorization endpoint is not configured",
            profile.id
        ))
    })?;
    check_endpoint_url(endpoint, "authorization endpoint", &profile.id)?;
    if client_id.is_empty() {
        return Err(config_error(format!(
            "provider `{}`: client_id is empty",
            profile.id
        )));
    }
    let a = &profile.authorize;
    let mut t = AuthorizeTemplate::new(endpoint, client_id, redirect_uri);
    t.scopes = scopes.map_or_else(|| a.default_scopes.clone(), <[String]>::to_vec);
    t.scope_separator = a.scope_separator.clone();
    t.prompt = a.prompt.clone();
    t.extra_params = a.extra_params.clone();
    t.quirks = a.quirks.clone();
    t.quirks.omit_pkce = !profile.pkce;
    // OIDC Core §3.1.2.1: `nonce` binds the ID token; a provider without an issuer issues
    // none that is validated, so it gets no nonce (DingTalk's `openid` scope is not OIDC).
    t.quirks.omit_nonce = profile.oidc.issuer.is_none();
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Placeholders: known vars filled, runtime ones kept, unknown ones name the variable.
    #[test]
    fn fill_placeholders_rules() {
        let v = vars(&[("tenant", "common")]);
        assert_eq!(
            fill_placeholders("https://x/{tenant}/a", &v, "p").expect("ok"),
            "https://x/common/a"
        );
        assert_eq!(
            fill_placeholders("https://x/{tenantid}/{client_id}", &v, "p").expect("ok"),
            "https://x/{tenantid}/{client_id}"
        );
        let e = fill_placeholders("https://x/{agentid}", &v, "p").expect_err("unknown");
        assert!(e.message.contains("vars.agentid"), "{}", e.message);
        assert!(fill_placeholders("https://x/{open", &v, "p").is_err());
    }

    /// RFC 6749 §3.1 / §3.2: endpoints are absolute https (http only on loopback,
    /// docs/SECURITY.md A5, S5), without fragment or userinfo.
    #[test]
    fn endpoint_url_checks() {
        for ok in [
            "https://a.example/x",
            "http://127.0.0.1:8080/t",
            "http://localhost/t",
            "http://[::1]:1/t",
        ] {
            check_endpoint_url(ok, "e", "p").expect(ok);
        }
        for bad in [
            "a.example/x",
            "ftp://a.example/",
            "http://a.example/",
            "https://a.example/#f",
            "https://u:p@a.example/",
            "https:///x",
            "https://a.example/ x",
            "http://localhost.evil.example/",
            "http://127.evil.example/",
        ] {
            assert!(check_endpoint_url(bad, "e", "p").is_err(), "{bad}");
        }
    }

    /// Overrides deep-merge objects and replace everything else.
    #[test]
    fn merge_json_is_deep() {
        let mut base = serde_json::json!({"a": {"b": 1, "c": [1, 2]}, "d": 1});
        merge_json(&mut base, &serde_json::json!({"a": {"c": [3]}, "e": true}));
        assert_eq!(
            base,
            serde_json::json!({"a": {"b": 1, "c": [3]}, "d": 1, "e": true})
        );
    }
}
