//! Pure request builders: a profile + inputs → an [`HttpRequestSpec`] the backend executes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{
    ApiCall, ClientAuth, Flow, HttpMethod, ParamEncoding, ParamSource, ProviderProfile,
    TokenPlacement, config_error,
};
use crate::Error;
use crate::error::ErrorCode;
use crate::pkce::PkceCodeVerifier;
use crate::secret::{AccessToken, AuthorizationCode, ClientSecret, RefreshToken};

/// The client's registration with the provider. `Debug` never shows the secret.
///
/// The `Authorization: Basic` value of the credentials (RFC 6749 §2.3.1) is computed on first
/// use and kept with the values it was computed from; if `client_id` or `client_secret` are
/// changed afterwards, the value is computed again from the new ones.
#[derive(Clone)]
pub struct ClientCredentials {
    /// The client id (WeChat AppID, WeCom CorpID, DingTalk AppKey).
    pub client_id: String,
    /// The client secret, when the provider issued one.
    pub client_secret: Option<ClientSecret>,
    /// `(client_id, secret, Basic value)` as first computed.
    basic: std::sync::OnceLock<(String, String, String)>,
}

impl ClientCredentials {
    /// Credentials with a secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self::with_secret(client_id, Some(ClientSecret::new(client_secret)))
    }

    /// Credentials with a secret, or without one (a public client, or a secret still to be
    /// checked with [`ProviderProfile::check_client`]).
    pub fn with_secret(client_id: impl Into<String>, client_secret: Option<ClientSecret>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            basic: std::sync::OnceLock::new(),
        }
    }

    /// The `Authorization` header value for `client_secret_basic` with `secret` (which is this
    /// client's secret): [`basic_auth_value`], computed once for as long as the id and secret
    /// stay the same.
    fn basic_value(&self, secret: &str) -> std::borrow::Cow<'_, str> {
        let (id, sec, value) = self.basic.get_or_init(|| {
            (
                self.client_id.clone(),
                secret.to_owned(),
                basic_auth_value(&self.client_id, secret),
            )
        });
        if *id == self.client_id && sec == secret {
            std::borrow::Cow::Borrowed(value)
        } else {
            std::borrow::Cow::Owned(basic_auth_value(&self.client_id, secret))
        }
    }

    /// `Basic` value of the credentials' secret, if they have one ([`basic_auth_value`]).
    pub fn basic_auth(&self) -> Option<std::borrow::Cow<'_, str>> {
        let secret = self.client_secret.as_ref()?.secret();
        Some(self.basic_value(secret))
    }
}

impl core::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// What is being redeemed at the token endpoint.
#[derive(Clone, Copy, Debug)]
pub enum Grant<'a> {
    /// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5).
    AuthorizationCode {
        /// The code from the callback.
        code: &'a AuthorizationCode,
        /// The PKCE verifier; sent only when the profile supports PKCE.
        code_verifier: Option<&'a PkceCodeVerifier>,
        /// The registered redirect URI (the same as in the authorization request).
        redirect_uri: &'a str,
    },
    /// `grant_type=refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The refresh token.
        refresh_token: &'a RefreshToken,
    },
}

/// Which token to revoke (RFC 7009 §2.1).
#[derive(Clone, Copy, Debug)]
pub enum RevocableToken<'a> {
    /// An access token.
    Access(&'a AccessToken),
    /// A refresh token (revokes the grant at most providers).
    Refresh(&'a RefreshToken),
}

/// A request body.
#[derive(Clone, PartialEq)]
pub enum Body {
    /// `application/x-www-form-urlencoded` pairs, in order.
    Form(Vec<(String, String)>),
    /// A JSON document.
    Json(serde_json::Value),
}

impl Body {
    /// The encoded bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Form(pairs) => form_encode(pairs).into_bytes(),
            Self::Json(v) => v.to_string().into_bytes(),
        }
    }
}

/// A fully specified HTTP request. `Debug` redacts every header value except `Accept`,
/// `Content-Type` and `User-Agent`, and every parameter value (query, form, JSON) except
/// well-known non-secret ones (`grant_type`, `client_id`, `redirect_uri`, `openid`, …).
#[derive(Clone, PartialEq)]
pub struct HttpRequestSpec {
    /// Method.
    pub method: HttpMethod,
    /// Absolute URL, query included.
    pub url: String,
    /// Headers, in order (`Content-Type` included when there is a body).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Option<Body>,
}

impl HttpRequestSpec {
    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parameter names whose values are not secret and may appear in `Debug`.
const SAFE_PARAMS: &[&str] = &[
    "grant_type",
    "grantType",
    "client_id",
    "clientId",
    "appid",
    "corpid",
    "redirect_uri",
    "response_type",
    "scope",
    "fmt",
    "dataType",
    "lang",
    "oauth_consumer_key",
    "openid",
    "uid",
    "unionid",
    "token_type_hint",
    "agentid",
];
const SAFE_HEADERS: &[&str] = &["accept", "content-type", "user-agent"];
const REDACTED: &str = "[redacted]";
/// Content type of JSON request bodies (Feishu documents the charset; all JSON endpoints
/// accept it).
const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

fn redact_pairs(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| {
            let v = if SAFE_PARAMS.contains(&k.as_str()) {
                v.clone()
            } else {
                REDACTED.to_owned()
            };
            (k.clone(), v)
        })
        .collect()
}

/// The URL with every query value not in the safe list replaced by `[redacted]`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let shown: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            let key: String = form_urlencoded::byte_serialize(k.as_bytes()).collect();
            if SAFE_PARAMS.contains(&k.as_ref()) {
                let value: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
                format!("{key}={value}")
            } else {
                format!("{key}={REDACTED}")
            }
        })
        .collect();
    format!("{base}?{}", shown.join("&"))
}

impl core::fmt::Debug for HttpRequestSpec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let safe = SAFE_HEADERS.iter().any(|s| k.eq_ignore_ascii_case(s));
                (k.as_str(), if safe { v.as_str() } else { REDACTED })
            })
            .collect();
        f.debug_struct("HttpRequestSpec")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
    }
}

impl core::fmt::Debug for Body {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Form(pairs) => f.debug_tuple("Form").field(&redact_pairs(pairs)).finish(),
            Self::Json(serde_json::Value::Object(map)) => {
                let redacted: serde_json::Map<String, serde_json::Value> = map
                    .iter()
                    .map(|(k, v)| {
                        let v = if SAFE_PARAMS.contains(&k.as_str()) && !v.is_object() {
                            v.clone()
                        } else {
                            serde_json::Value::String(REDACTED.to_owned())
                        };
                        (k.clone(), v)
                    })
                    .collect();
                f.debug_tuple("Json")
                    .field(&serde_json::Value::Object(redacted))
                    .finish()
            }
            Self::Json(_) => f.debug_tuple("Json").field(&REDACTED).finish(),
        }
    }
}

pub(crate) fn form_encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn append_query(url: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", form_encode(pairs))
}

/// `Basic base64(urlenc(id) ":" urlenc(secret))` — RFC 6749 §2.3.1: id and secret are
/// `application/x-www-form-urlencoded` before base64 (Appendix B). The one implementation: the
/// token requests use it, and the backend scrubs it from provider error texts.
pub fn basic_auth_value(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret)))
    )
}

fn require_secret<'a>(
    profile: &ProviderProfile,
    client: &'a ClientCredentials,
) -> Result<&'a str, Error> {
    match &client.client_secret {
        Some(s) if !s.secret().is_empty() => Ok(s.secret()),
        _ => Err(config_error(format!(
            "provider `{}`: client_secret is required; set `client_secret` in the provider configuration",
            profile.id
        ))),
    }
}

/// Assembles a request from parameters, encoding and client auth.
struct Builder<'p> {
    profile: &'p ProviderProfile,
    method: HttpMethod,
    url: String,
    encoding: ParamEncoding,
    params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl<'p> Builder<'p> {
    fn new(
        profile: &'p ProviderProfile,
        method: HttpMethod,
        url: String,
        enc: ParamEncoding,
    ) -> Self {
        Self {
            profile,
            method,
            url,
            encoding: enc,
            params: Vec::new(),
            headers: profile.headers.clone(),
        }
    }

    fn client_auth(&mut self, auth: ClientAuth, client: &ClientCredentials) -> Result<(), Error> {
        let names = &self.profile.params;
        match auth {
            ClientAuth::Basic => {
                let secret = require_secret(self.profile, client)?;
                self.headers.push((
                    "Authorization".into(),
                    client.basic_value(secret).into_owned(),
                ));
            }
            ClientAuth::Post => {
                let secret = require_secret(self.profile, client)?;
                self.params
                    .push((names.client_id.clone(), client.client_id.clone()));
                self.params
                    .push((names.client_secret.clone(), secret.to_owned()));
            }
            ClientAuth::IdOnly => {
                self.params
                    .push((names.client_id.clone(), client.client_id.clone()));
            }
            ClientAuth::None => {}
        }
        Ok(())
    }

    fn finish(self) -> HttpRequestSpec {
        let Self {
            method,
            url,
            encoding,
            params,
            mut headers,
            ..
        } = self;
        let has =
            |h: &[(String, String)], n: &str| h.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        match encoding {
            ParamEncoding::Query => HttpRequestSpec {
                method,
                url: append_query(&url, &params),
                headers,
                body: None,
            },
            ParamEncoding::Form => {
                if !has(&headers, "content-type") {
                    headers.push((
                        "Content-Type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ));
                }
                HttpRequestSpec {
                    method,
                    url,
                    headers,
                    body: Some(Body::Form(params)),
                }
            }
            ParamEncoding::Json => {
                if !has(&headers, "content-type") {
                    headers.push(("Content-Type".into(), JSON_CONTENT_TYPE.into()));
                }
                let map: serde_json::Map<String, serde_json::Value> = params
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                HttpRequestSpec {
                    method,
                    url,
                    headers,
                    body: Some(Body::Json(serde_json::Value::Object(map))),
                }
            }
        }
    }
}

fn endpoint<'a>(
    value: &'a Option<String>,
    what: &str,
    profile: &ProviderProfile,
) -> Result<&'a str, Error> {
    let url = value.as_deref().ok_or_else(|| {
        config_error(format!(
            "provider `{}`: {what} is not configured",
            profile.id
        ))
    })?;
    if url.contains('{') && !url.contains("{client_id}") {
        return Err(config_error(format!(
            "provider `{}`: {what} `{url}` has an unresolved placeholder; call resolve() first",
            profile.id
        )));
    }
    Ok(url)
}

/// The token request (RFC 6749 §4.1.3 for a code, §6 for a refresh) in the profile's style:
/// POST form / POST JSON / GET query, client auth basic / post / id-only, the profile's
/// parameter names, extras and headers. `redirect_uri` and `code_verifier` are sent only where
/// the profile says so. Errors: `Configuration` when refresh is not supported, when the profile
/// uses the WeCom corp-token flow (use [`app_token_request`]), or a needed secret is missing;
/// `InvalidRequest` for an empty code or refresh token.
pub fn token_request(
    profile: &ProviderProfile,
    client: &ClientCredentials,
    grant: Grant<'_>,
) -> Result<HttpRequestSpec, Error> {
    if profile.flow == Flow::CorpToken {
        return Err(config_error(format!(
            "provider `{}` has no user token exchange (WeCom): use app_token_request + code_identity_request",
            profile.id
        )));
    }
    let names = &profile.params;
    let call = &profile.token;
    let (url, auth) = match grant {
        Grant::AuthorizationCode { .. } => (
            endpoint(&profile.endpoints.token, "token endpoint", profile)?,
            call.client_auth,
        ),
        Grant::RefreshToken { .. } => {
            let Some(refresh) = &profile.refresh else {
                return Err(config_error(format!(
                    "provider `{}` does not support refresh tokens; the user must sign in again",
                    profile.id
                )));
            };
            let url = match &profile.endpoints.refresh {
                Some(_) => endpoint(&profile.endpoints.refresh, "refresh endpoint", profile)?,
                None => endpoint(&profile.endpoints.token, "token endpoint", profile)?,
            };
            (url, refresh.client_auth.unwrap_or(call.client_auth))
        }
    };
    let mut b = Builder::new(profile, call.method, url.to_owned(), call.encoding);
    b.client_auth(auth, client)?;
    match grant {
        Grant::AuthorizationCode {
            code,
            code_verifier,
            redirect_uri,
        } => {
            if code.secret().is_empty() {
                return Err(Error::new(
                    ErrorCode::InvalidRequest,
                    "the authorization code is empty",
                ));
            }
            b.params
                .push((names.grant_type.clone(), "authorization_code".into()));
            b.params
                .push((names.code.clone(), code.secret().to_owned()));
            if call.send_redirect_uri {
                b.params
                    .push((names.redirect_uri.clone(), redirect_uri.to_owned()));
            }
            if profile.pkce {
                if let Some(v) = code_verifier {
                    b.params
                        .push((names.code_verifier.clone(), v.secret().to_owned()));
                }
            }
        }
        Grant::RefreshToken { refresh_token } => {
            if refresh_token.secret().is_empty() {
                return Err(Error::new(
                    ErrorCode::InvalidRequest,
                    "the refresh token is empty",
                ));
            }
            b.params
                .push((names.grant_type.clone(), "refresh_token".into()));
            b.params.push((
                names.refresh_token.clone(),
                refresh_token.secret().to_owned(),
            ));
        }
    }
    b.params.extend(call.extra_params.iter().cloned());
    b.headers.extend(call.headers.iter().cloned());
    Ok(b.finish())
}

fn context_value(
    profile: &ProviderProfile,
    context: &serde_json::Map<String, serde_json::Value>,
    name: &str,
    step: &str,
) -> Result<String, Error> {
    match context.get(name) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        _ => Err(Error::new(
            ErrorCode::ProviderBadResponse,
            format!(
                "provider `{}`: the token response lacks `{name}`, needed for the {step} call",
                profile.id
            ),
        )),
    }
}

fn api_request(
    profile: &ProviderProfile,
    call: &ApiCall,
    url: &str,
    client_id: &str,
    token: &str,
    context: &serde_json::Map<String, serde_json::Value>,
    step: &str,
) -> Result<HttpRequestSpec, Error> {
    let mut b = Builder::new(profile, call.method, url.to_owned(), ParamEncoding::Query);
    match &call.token {
        TokenPlacement::Bearer => b
            .headers
            .push(("Authorization".into(), format!("Bearer {token}"))),
        TokenPlacement::Header(name) => b.headers.push((name.clone(), token.to_owned())),
        TokenPlacement::Query(name) => b.params.push((name.clone(), token.to_owned())),
    }
    for (name, source) in &call.params {
        let value = match source {
            ParamSource::Literal(v) => v.clone(),
            ParamSource::ClientId => client_id.to_owned(),
            ParamSource::Context(field) => context_value(profile, context, field, step)?,
        };
        b.params.push((name.clone(), value));
    }
    b.headers.extend(call.headers.iter().cloned());
    Ok(b.finish())
}

/// The userinfo call: the access token as `Authorization: Bearer` (RFC 6750 §2.1), a custom
/// header (DingTalk) or a query parameter (WeChat, QQ, Gitee, OSChina, Weibo), plus the
/// profile's parameters (WeChat `openid` + `lang`, QQ `oauth_consumer_key` + `openid`, Weibo
/// `uid`), taken from `context` (the token response extras, merged with the QQ openid step).
/// `Configuration` error when the profile has no userinfo call.
pub fn userinfo_request(
    profile: &ProviderProfile,
    client: &ClientCredentials,
    access_token: &AccessToken,
    context: &serde_json::Map<String, serde_json::Value>,
) -> Result<HttpRequestSpec, Error> {
    let Some(call) = &profile.userinfo else {
        return Err(config_error(format!(
            "provider `{}` has no userinfo call; build the user from the token response",
            profile.id
        )));
    };
    let url = endpoint(&profile.endpoints.userinfo, "userinfo endpoint", profile)?;
    api_request(
        profile,
        call,
        url,
        &client.client_id,
        access_token.secret(),
        context,
        "userinfo",
    )
}

/// QQ's second step: `GET /oauth2.0/me?access_token=…&fmt=json` → `openid` (PROVIDERS.md, QQ).
/// `Configuration` error for profiles without that step.
pub fn openid_request(
    profile: &ProviderProfile,
    client: &ClientCredentials,
    access_token: &AccessToken,
) -> Result<HttpRequestSpec, Error> {
    let Some(call) = &profile.openid_step else {
        return Err(config_error(format!(
            "provider `{}` has no openid step",
            profile.id
        )));
    };
    let url = endpoint(&profile.endpoints.openid, "openid endpoint", profile)?;
    api_request(
        profile,
        call,
        url,
        &client.client_id,
        access_token.secret(),
        &serde_json::Map::new(),
        "openid",
    )
}

/// WeCom step 1: the app (corp) token, `GET gettoken?corpid=…&corpsecret=…` (PROVIDERS.md,
/// WeCom). Cache the result for its `expires_in` (7200 s). Parse with
/// [`super::parse_app_token_response`].
pub fn app_token_request(
    profile: &ProviderProfile,
    client: &ClientCredentials,
) -> Result<HttpRequestSpec, Error> {
    if profile.flow != Flow::CorpToken {
        return Err(config_error(format!(
            "provider `{}` does not use the corp-token flow",
            profile.id
        )));
    }
    let url = endpoint(&profile.endpoints.token, "token endpoint", profile)?;
    let mut b = Builder::new(
        profile,
        profile.token.method,
        url.to_owned(),
        profile.token.encoding,
    );
    b.client_auth(profile.token.client_auth, client)?;
    b.params.extend(profile.token.extra_params.iter().cloned());
    b.headers.extend(profile.token.headers.iter().cloned());
    Ok(b.finish())
}

/// WeCom step 2: `GET auth/getuserinfo?access_token=<app token>&code=…`.
pub fn code_identity_request(
    profile: &ProviderProfile,
    app_token: &AccessToken,
    code: &AuthorizationCode,
) -> Result<HttpRequestSpec, Error> {
    if profile.flow != Flow::CorpToken {
        return Err(config_error(format!(
            "provider `{}` does not use the corp-token flow",
            profile.id
        )));
    }
    if code.secret().is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            "the authorization code is empty",
        ));
    }
    let url = endpoint(
        &profile.endpoints.code_identity,
        "code identity endpoint",
        profile,
    )?;
    let mut b = Builder::new(
        profile,
        HttpMethod::Get,
        url.to_owned(),
        ParamEncoding::Query,
    );
    b.params
        .push(("access_token".into(), app_token.secret().to_owned()));
    b.params
        .push((profile.params.code.clone(), code.secret().to_owned()));
    Ok(b.finish())
}

/// The revocation request (RFC 7009 §2.1, or the provider's own call: GitHub `DELETE
/// /applications/{client_id}/token` with Basic auth and JSON `{"access_token":…}`; Weibo
/// `revokeoauth2?access_token=`). `Configuration` error when the provider has no revocation or
/// cannot revoke this kind of token.
pub fn revocation_request(
    profile: &ProviderProfile,
    client: &ClientCredentials,
    token: RevocableToken<'_>,
) -> Result<HttpRequestSpec, Error> {
    let Some(call) = &profile.revocation else {
        return Err(config_error(format!(
            "provider `{}` does not support token revocation; the session is only ended locally",
            profile.id
        )));
    };
    let (value, hint) = match token {
        RevocableToken::Access(t) => (t.secret(), "access_token"),
        RevocableToken::Refresh(t) => {
            if !call.accepts_refresh_token {
                return Err(config_error(format!(
                    "provider `{}` can only revoke access tokens",
                    profile.id
                )));
            }
            (t.secret(), "refresh_token")
        }
    };
    let url = endpoint(
        &profile.endpoints.revocation,
        "revocation endpoint",
        profile,
    )?;
    let encoded_id: String = form_urlencoded::byte_serialize(client.client_id.as_bytes()).collect();
    let url = url.replace("{client_id}", &encoded_id);
    let mut b = Builder::new(profile, call.method, url, call.encoding);
    b.client_auth(call.client_auth, client)?;
    b.params.push((call.token_param.clone(), value.to_owned()));
    if call.send_token_type_hint {
        b.params.push(("token_type_hint".into(), hint.into()));
    }
    if call.encoding == ParamEncoding::Json {
        b.headers.push(("Accept".into(), "application/json".into()));
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6749 §2.3.1 + Appendix B: id and secret are form-urlencoded before base64.
    #[test]
    fn basic_auth_encoding() {
        assert_eq!(
            basic_auth_value("my client", "a+b:c%d/e f"),
            "Basic bXkrY2xpZW50OmElMkJiJTNBYyUyNWQlMkZlK2Y="
        );
        // RFC 6749 §2.3.1 example: `Authorization: Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW`.
        assert_eq!(
            basic_auth_value("s6BhdRkqt3", "gX1fBat3bV"),
            "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
        );
    }

    /// The kept Basic value is that of the current id and secret, also after they change.
    #[test]
    fn basic_value_follows_changed_credentials() {
        let mut c = ClientCredentials::new("my client", "a+b:c%d/e f");
        let first = c.basic_auth().expect("a secret").into_owned();
        assert_eq!(first, basic_auth_value("my client", "a+b:c%d/e f"));
        assert!(matches!(
            c.basic_auth(),
            Some(std::borrow::Cow::Borrowed(_))
        ));
        c.client_id = "s6BhdRkqt3".into();
        c.client_secret = Some(ClientSecret::new("gX1fBat3bV"));
        assert_eq!(
            c.basic_auth().expect("a secret"),
            "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
        );
        c.client_secret = None;
        assert!(c.basic_auth().is_none());
        assert!(
            ClientCredentials::with_secret("x", None)
                .basic_auth()
                .is_none()
        );
    }

    /// docs/SECURITY.md S14: only allow-listed query values survive in Debug output.
    #[test]
    fn url_redaction() {
        assert_eq!(
            redact_url("https://x/t?appid=wx1&secret=S&code=C&grant_type=authorization_code"),
            "https://x/t?appid=wx1&secret=[redacted]&code=[redacted]&grant_type=authorization_code"
        );
        assert_eq!(redact_url("https://x/t"), "https://x/t");
        assert_eq!(
            redact_url("https://x/t?access_token=a%20b&state=s"),
            "https://x/t?access_token=[redacted]&state=[redacted]"
        );
    }

    /// Non-object JSON bodies are fully redacted in Debug.
    #[test]
    fn body_debug_redaction() {
        let dbg = format!(
            "{:?}",
            Body::Json(
                serde_json::json!({"clientId": "id", "clientSecret": "S", "nested": {"clientId": "x"}})
            )
        );
        assert!(
            dbg.contains("\"id\"") && !dbg.contains("\"S\"") && !dbg.contains("\"x\""),
            "{dbg}"
        );
        assert!(!format!("{:?}", Body::Json(serde_json::json!(["S"]))).contains('S'));
    }
}
