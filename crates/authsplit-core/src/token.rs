//! Token endpoint response parsing (RFC 6749 §5.1 success, §5.2 error) — the one parser, driven
//! by a provider profile's [`ResponseRules`].
//!
//! Input: HTTP status, `Content-Type`, body bytes and the rules. Output: a [`TokenSet`] or a
//! typed [`Error`]. [`ResponseRules::rfc6749`] is RFC 6749 as written: status 200,
//! `application/json`, a JSON object, string `access_token`, `token_type` `bearer` (ASCII
//! case-insensitive), numeric `expires_in` when present. A provider that departs from it says
//! how in its rules: the body [`BodyFormat`] (JSON served as text, form-encoded, JSONP), the
//! [`ErrorStyle`] (`error` in a 200, WeChat `errcode`, Feishu `code`, …), member renames
//! (DingTalk `accessToken`), a missing `token_type`, a string `expires_in`, and an error map
//! giving provider codes their meaning. A generic provider is the RFC 6749 profile plus the
//! tolerances its configuration names; a preset is the same with its own rules.
//!
//! Errors:
//! - a provider error in the body (per the [`ErrorStyle`]) → the [`ErrorRule`] of its code if
//!   the profile has one, else the RFC 6749 §5.2 meaning: `invalid_grant` → `InvalidGrant`,
//!   `invalid_client` → `InvalidClient`, `temporarily_unavailable` → `ProviderUnavailable`,
//!   any other code `ProviderError` (retryable for 5xx and `server_error`) unless the status
//!   says more (next items);
//! - 401 (with or without `WWW-Authenticate`) → `InvalidClient` (class `Configuration`);
//! - 429 / 503 → `ProviderUnavailable` (class `Retryable`); other 5xx without a §5.2 body →
//!   `ProviderBadResponse` with class `Retryable`;
//! - 3xx → `ProviderBadResponse` (redirects are never followed);
//! - a body that is not what was promised (HTML page, truncated JSON, `null`, `[]`, missing or
//!   non-string `access_token`, unknown `token_type`, string `expires_in` when not tolerated) →
//!   `ProviderBadResponse` with [`crate::error::ResponseInfo`] (status, content type, redacted
//!   snippet). Never a panic.
//!
//! Secrets: the provider's `error_description` and `error` strings pass through the same
//! redaction as snippets (a provider that echoes the code or a token in its message does not
//! leak it into our logs), are stripped of control characters and capped.
//!
//! ```
//! use authsplit_core::token::{parse_token_response, ResponseRules};
//! use authsplit_core::ErrorCode;
//! let ok = parse_token_response(
//!     200,
//!     Some("application/json; charset=utf-8"),
//!     br#"{"access_token":"at","token_type":"Bearer","expires_in":3600}"#,
//!     &ResponseRules::strict(),
//!     1_000,
//! )
//! .unwrap();
//! assert_eq!(ok.expires_at, Some(4_600));
//! let err = parse_token_response(
//!     400,
//!     Some("application/json"),
//!     br#"{"error":"invalid_grant"}"#,
//!     &ResponseRules::strict(),
//!     1_000,
//! )
//! .unwrap_err();
//! assert_eq!(err.code(), ErrorCode::InvalidGrant);
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;
use crate::error::{ErrorClass, ErrorCode, OAuthErrorCode, ProviderError, ResponseInfo};
use crate::secret::{AccessToken, IdToken, RefreshToken};

type Object = Map<String, Value>;

/// How a provider's response bodies are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// JSON with an `application/json` (or `+json`) content type (RFC 6749 §5.1).
    Json,
    /// JSON also when served as `text/*` or without a content type (WeChat, Weibo).
    JsonAnyContentType,
    /// JSON as above, or `application/x-www-form-urlencoded` — also served as `text/*`
    /// (GitHub without `Accept`, QQ).
    JsonOrForm,
    /// As [`BodyFormat::JsonOrForm`], or JSONP `callback( {...} );` (QQ).
    JsonFormOrJsonp,
}

impl BodyFormat {
    /// Every format, strictest first.
    pub const ALL: [BodyFormat; 4] = [
        BodyFormat::Json,
        BodyFormat::JsonAnyContentType,
        BodyFormat::JsonOrForm,
        BodyFormat::JsonFormOrJsonp,
    ];
}

/// How a provider signals an error in a response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorStyle {
    /// RFC 6749 §5.2: 4xx + `error` (Microsoft also `error_codes` → `AADSTS…`).
    Rfc6749,
    /// An `error` member, also in a 200 body (GitHub).
    ErrorIn200,
    /// `errcode` ≠ 0 + `errmsg`, usually on 200 (WeChat, WeCom).
    Errcode,
    /// `code` ≠ 0 (number) + `error`/`msg` (Feishu), any status.
    NumericCode,
    /// 4xx + string `code` + `message` (DingTalk new API).
    StringCode,
    /// `error` (number or string) in JSON/JSONP on 200, or `ret` ≠ 0 + `msg` (QQ).
    QqStyle,
    /// Either an `error` member or a non-zero `errcode`, on any status (unknown, sloppy
    /// providers).
    ErrorOrErrcode,
}

impl ErrorStyle {
    /// Every style.
    pub const ALL: [ErrorStyle; 7] = [
        ErrorStyle::Rfc6749,
        ErrorStyle::ErrorIn200,
        ErrorStyle::Errcode,
        ErrorStyle::NumericCode,
        ErrorStyle::StringCode,
        ErrorStyle::QqStyle,
        ErrorStyle::ErrorOrErrcode,
    ];
}

/// What a provider error means for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorOutcome {
    /// Code/refresh token invalid, used or expired → [`ErrorCode::InvalidGrant`] (new sign-in).
    InvalidGrant,
    /// Bad client id / secret → [`ErrorCode::InvalidClient`] (configuration).
    InvalidClient,
    /// Another configuration problem at the provider (IP allow-list, app state) →
    /// [`ErrorCode::ProviderError`] with class `Configuration`.
    Configuration,
    /// Our own configuration does not match the registration (a redirect URI the provider
    /// does not know) → [`ErrorCode::Configuration`].
    LocalConfiguration,
    /// Transient (system busy) → [`ErrorCode::ProviderUnavailable`] (retryable).
    Retryable,
    /// Anything else → [`ErrorCode::ProviderError`].
    Other,
}

/// One provider error code and its meaning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    /// The provider's code as a string (`40029`, `bad_verification_code`, `AADSTS54005`).
    pub code: String,
    /// Its meaning.
    pub outcome: ErrorOutcome,
}

/// How a provider's token responses are read: the one vocabulary for provider quirks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseRules {
    /// Body format.
    pub format: BodyFormat,
    /// Error signalling.
    pub errors: ErrorStyle,
    /// Renames applied before the RFC 6749 §5.1 checks (DingTalk `accessToken` →
    /// `access_token`).
    #[serde(default)]
    pub rename: Vec<(String, String)>,
    /// A missing `token_type` means `bearer` (WeChat, QQ, DingTalk, Weibo, OSChina, WeCom).
    #[serde(default)]
    pub missing_token_type_is_bearer: bool,
    /// `expires_in` may be a decimal string.
    #[serde(default)]
    pub expires_in_as_string: bool,
    /// Provider error codes with a known meaning (checked before the RFC 6749 defaults).
    #[serde(default)]
    pub error_map: Vec<ErrorRule>,
}

impl Default for ResponseRules {
    /// [`ResponseRules::strict`].
    fn default() -> Self {
        Self::strict()
    }
}

impl ResponseRules {
    /// RFC 6749 §5.1/§5.2 as written, with no error codes beyond the RFC's.
    pub fn rfc6749() -> Self {
        Self {
            format: BodyFormat::Json,
            errors: ErrorStyle::Rfc6749,
            rename: Vec::new(),
            missing_token_type_is_bearer: false,
            expires_in_as_string: false,
            error_map: Vec::new(),
        }
    }

    /// [`ResponseRules::rfc6749`] plus the meaning of the error codes widely copied from
    /// GitHub and WeChat ([`well_known_error_map`]): the rules of a provider configured by
    /// issuer or endpoints, before its configured tolerances.
    pub fn strict() -> Self {
        Self {
            error_map: well_known_error_map(),
            ..Self::rfc6749()
        }
    }

    /// Every tolerance on: JSON, form or JSONP whatever the text content type, `error` or
    /// `errcode` on any status, string `expires_in`, missing `token_type` (tests and unknown,
    /// sloppy providers).
    pub fn lenient() -> Self {
        Self {
            format: BodyFormat::JsonFormOrJsonp,
            errors: ErrorStyle::ErrorOrErrcode,
            missing_token_type_is_bearer: true,
            expires_in_as_string: true,
            ..Self::strict()
        }
    }
}

/// Error codes whose meaning is the same wherever they appear: GitHub's (`error` in a 200) and
/// WeChat's / WeCom's `errcode` values.
pub fn well_known_error_map() -> Vec<ErrorRule> {
    const TABLE: &[(&str, ErrorOutcome)] = &[
        ("bad_verification_code", ErrorOutcome::InvalidGrant),
        ("incorrect_client_credentials", ErrorOutcome::InvalidClient),
        ("redirect_uri_mismatch", ErrorOutcome::LocalConfiguration),
        ("40029", ErrorOutcome::InvalidGrant),
        ("40163", ErrorOutcome::InvalidGrant),
        ("40030", ErrorOutcome::InvalidGrant),
        ("42002", ErrorOutcome::InvalidGrant),
        ("42003", ErrorOutcome::InvalidGrant),
        ("40001", ErrorOutcome::InvalidClient),
        ("40013", ErrorOutcome::InvalidClient),
        ("40125", ErrorOutcome::InvalidClient),
        ("-1", ErrorOutcome::Retryable),
        ("45009", ErrorOutcome::Retryable),
        ("45011", ErrorOutcome::Retryable),
    ];
    TABLE
        .iter()
        .map(|(code, outcome)| ErrorRule {
            code: (*code).to_owned(),
            outcome: *outcome,
        })
        .collect()
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

/// Parses a token endpoint response with `rules`. `now_unix` is the current time in unix
/// seconds (passed in so the core stays free of clocks).
pub fn parse_token_response(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    rules: &ResponseRules,
    now_unix: u64,
) -> Result<TokenSet, Error> {
    parse_token_response_as(
        &"the token endpoint",
        status,
        content_type,
        body,
        rules,
        now_unix,
    )
}

/// [`parse_token_response`] with `label` (e.g. `GitHub token request`) starting the messages
/// of errors the provider signalled.
pub(crate) fn parse_token_response_as(
    label: &dyn core::fmt::Display,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    rules: &ResponseRules,
    now_unix: u64,
) -> Result<TokenSet, Error> {
    let decoded = decode(rules.format, content_type, body);
    // Error bodies are read leniently: a JSON object whatever the content type.
    let error_body = match &decoded {
        Decoded::Object(obj) => Some(obj),
        Decoded::NotAnObject | Decoded::WrongContentType => None,
    };
    let lenient_body = match error_body {
        None if status != 200 => json_object(body),
        _ => None,
    };
    if let Some(obj) = error_body.or(lenient_body.as_ref()) {
        if let Some(sig) = detect_error(rules.errors, status, obj) {
            return Err(signal_error(label, &rules.error_map, status, sig)
                .with_response(response_info(status, content_type, body)));
        }
    }
    if status != 200 {
        return Err(status_error(status, None).with_response(response_info(
            status,
            content_type,
            body,
        )));
    }
    let bad = |message: &'static str| bad_response(message, status, content_type, body);
    let mut map = match decoded {
        Decoded::Object(m) => m,
        Decoded::NotAnObject => return Err(bad("the token response is not a JSON object")),
        Decoded::WrongContentType => {
            return Err(bad(
                "the token response has an unexpected content type (RFC 6749 §5.1 requires application/json)",
            ));
        }
    };

    // An `error` the rules do not read in a 200 (GitHub's shape at an RFC 6749 provider): with
    // no token next to it, the response is not a success.
    if !map.contains_key("access_token") {
        if let Some(sig) = rfc_error(&map, true) {
            return Err(
                bad("the token endpoint returned an error inside an HTTP 200")
                    .with_provider_error(sig.provider_error()),
            );
        }
    }

    // Feishu-style envelopes: tolerate `{code:0, data:{access_token…}}` as well as the
    // documented top-level shape.
    if rules.errors == ErrorStyle::NumericCode && !map.contains_key("access_token") {
        if let Some(Value::Object(inner)) = map.get("data") {
            if inner.contains_key("access_token") {
                map = inner.clone();
            }
        }
    }
    for (from, to) in &rules.rename {
        if let Some(v) = map.remove(from) {
            map.entry(to.clone()).or_insert(v);
        }
    }

    let access_token = match map.get("access_token") {
        Some(Value::String(s)) if !s.is_empty() => AccessToken::new(s.as_str()),
        Some(Value::String(_)) => return Err(bad("the token response's access_token is empty")),
        None | Some(Value::Null) => return Err(bad("the token response has no access_token")),
        Some(_) => return Err(bad("the token response's access_token is not a string")),
    };

    let token_type = match map.get("token_type") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => "bearer".to_owned(),
        Some(Value::String(_)) => {
            return Err(bad(
                "the token response's token_type is not bearer (RFC 6749 §7.1)",
            ));
        }
        None | Some(Value::Null) if rules.missing_token_type_is_bearer => "bearer".to_owned(),
        None | Some(Value::Null) => return Err(bad("the token response has no token_type")),
        Some(_) => return Err(bad("the token response's token_type is not a string")),
    };

    let expires_in = match map.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) => Some(v),
            None => {
                return Err(bad(
                    "the token response's expires_in is not a non-negative integer",
                ));
            }
        },
        Some(Value::String(s)) if rules.expires_in_as_string => match parse_decimal(s) {
            Some(v) => Some(v),
            None => {
                return Err(bad(
                    "the token response's expires_in is not a decimal number",
                ));
            }
        },
        Some(Value::String(_)) => {
            return Err(bad(
                "the token response's expires_in is a string (not tolerated for this provider)",
            ));
        }
        Some(_) => return Err(bad("the token response's expires_in is not a number")),
    };

    let refresh_token = match optional_string(&map, "refresh_token") {
        Ok(v) => v.map(RefreshToken::new),
        Err(()) => return Err(bad("the token response's refresh_token is not a string")),
    };
    let scope = match optional_string(&map, "scope") {
        Ok(v) => v.map(str::to_owned),
        Err(()) => return Err(bad("the token response's scope is not a string")),
    };
    let id_token = match optional_string(&map, "id_token") {
        Ok(v) => v.map(IdToken::new),
        Err(()) => return Err(bad("the token response's id_token is not a string")),
    };

    let mut extra = Map::new();
    for (key, value) in map {
        if is_standard_member(&key) || is_sensitive_key(&key) {
            continue;
        }
        extra.insert(key, value);
    }

    Ok(TokenSet {
        access_token,
        token_type,
        expires_in,
        expires_at: expires_in.map(|e| now_unix.saturating_add(e)),
        refresh_token,
        scope,
        id_token,
        extra,
    })
}

/// The typed error for a non-success status, with the provider's error when one was read:
///
/// - 3xx → `ProviderBadResponse` (redirects are never followed);
/// - 401 → `InvalidClient`;
/// - 429 / 503 → `ProviderUnavailable` (retryable);
/// - other 5xx → `ProviderBadResponse`, retryable; anything else → `ProviderBadResponse`.
fn status_error(status: u16, provider: Option<ProviderError>) -> Error {
    let e = match status {
        300..=399 => Error::new(
            ErrorCode::ProviderBadResponse,
            "the token endpoint answered with a redirect, which is never followed",
        ),
        401 => Error::new(
            ErrorCode::InvalidClient,
            "the token endpoint rejected the client authentication (HTTP 401, RFC 6749 §5.2)",
        ),
        429 | 503 => Error::new(
            ErrorCode::ProviderUnavailable,
            "the token endpoint is rate-limiting or temporarily unavailable",
        ),
        500..=599 => Error::new(
            ErrorCode::ProviderBadResponse,
            "the token endpoint failed with a server error and no RFC 6749 §5.2 body",
        )
        .with_class(ErrorClass::Retryable),
        200..=299 => Error::new(
            ErrorCode::ProviderBadResponse,
            "the token endpoint answered with an unexpected success status (RFC 6749 §5.1 requires 200)",
        ),
        _ => Error::new(
            ErrorCode::ProviderBadResponse,
            "the token endpoint answered with an error status and no RFC 6749 §5.2 body",
        ),
    };
    match provider {
        Some(p) => e.with_provider_error(p),
        None => e,
    }
}

/// Parses an RFC 6749 §5.2 error body, if the body is one (JSON object with a string `error`).
///
/// Any content type is fine here (error bodies are read leniently). `error` and
/// `error_description` are sanitized (redacted, no control characters, capped).
pub fn parse_error_body(body: &[u8]) -> Option<ProviderError> {
    match json_object(body) {
        Some(map) => rfc_error(&map, false).map(|s| s.provider_error()),
        None => None,
    }
}

/// A [`ResponseInfo`] for a response: status, sanitized content type (≤100 chars) and a
/// [`redact_snippet`] of the body.
pub fn response_info(status: u16, content_type: Option<&str>, body: &[u8]) -> ResponseInfo {
    ResponseInfo {
        status,
        content_type: content_type.map(|c| clean_text(c, 100)),
        snippet: redact_snippet(body),
    }
}

fn bad_response(
    message: &'static str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Error {
    Error::new(ErrorCode::ProviderBadResponse, message).with_response(response_info(
        status,
        content_type,
        body,
    ))
}

// ---------- decoding ----------

/// A decoded body.
pub(crate) enum Decoded {
    /// A JSON object (or the members of a form body).
    Object(Object),
    /// The content type is one the format reads, but the body is not an object of it.
    NotAnObject,
    /// The format does not read this content type.
    WrongContentType,
}

impl Decoded {
    pub(crate) fn into_object(self) -> Option<Object> {
        match self {
            Decoded::Object(o) => Some(o),
            Decoded::NotAnObject | Decoded::WrongContentType => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MediaKind {
    Json,
    Form,
    /// `text/*` or no content type at all.
    Text,
    Other,
}

fn media_kind(content_type: Option<&str>) -> MediaKind {
    let Some(ct) = content_type else {
        return MediaKind::Text;
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    let is = |m: &str| essence.eq_ignore_ascii_case(m);
    if is("application/json") || ends_with_ignore_case(essence, "+json") {
        MediaKind::Json
    } else if is("application/x-www-form-urlencoded") {
        MediaKind::Form
    } else if starts_with_ignore_case(essence, "text/") || essence.is_empty() {
        MediaKind::Text
    } else {
        MediaKind::Other
    }
}

/// Decodes a body the way `format` reads it: JSON under a JSON content type always; JSON under
/// a text (or missing) content type unless `format` is [`BodyFormat::Json`]; form members under
/// the form or a text content type for the form formats; JSONP first for
/// [`BodyFormat::JsonFormOrJsonp`].
pub(crate) fn decode(format: BodyFormat, content_type: Option<&str>, body: &[u8]) -> Decoded {
    let kind = media_kind(content_type);
    if format == BodyFormat::JsonFormOrJsonp {
        if let Some(o) = strip_jsonp(body).and_then(json_object) {
            return Decoded::Object(o);
        }
    }
    let form = matches!(format, BodyFormat::JsonOrForm | BodyFormat::JsonFormOrJsonp);
    match kind {
        MediaKind::Json => json_object(body).map_or(Decoded::NotAnObject, Decoded::Object),
        MediaKind::Form if form => form_object(body).map_or(Decoded::NotAnObject, Decoded::Object),
        MediaKind::Text if format != BodyFormat::Json => json_object(body)
            .or_else(|| if form { form_object(body) } else { None })
            .map_or(Decoded::NotAnObject, Decoded::Object),
        MediaKind::Form | MediaKind::Text | MediaKind::Other => Decoded::WrongContentType,
    }
}

fn json_object(body: &[u8]) -> Option<Object> {
    let text = std::str::from_utf8(body).ok()?;
    let text = text.trim_start_matches('\u{feff}').trim();
    match serde_json::from_str::<Value>(text).ok()? {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// `callback( {...} );` → `{...}` (QQ).
fn strip_jsonp(body: &[u8]) -> Option<&[u8]> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let inner = text
        .strip_prefix("callback")?
        .trim_start()
        .strip_prefix('(')?;
    let inner = inner.trim_end().trim_end_matches(';').trim_end();
    let inner = inner.strip_suffix(')')?;
    Some(inner.trim().as_bytes())
}

/// Form members read as numbers when they are decimal (form bodies carry only strings).
const NUMERIC_FORM_KEYS: &[&str] = &["expires_in", "refresh_token_expires_in", "expireIn"];

/// `a=1&b=2` → object of strings (numbers for the `expires_in`-like keys). `None` unless the
/// body looks like a form: every pair has `=`, no markup or JSON, no empty or repeated name.
fn form_object(body: &[u8]) -> Option<Object> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if text.is_empty() || text.contains(['<', '{', '[', '"', '\n', '\r']) {
        return None;
    }
    if !text.split('&').all(|p| p.contains('=')) {
        return None;
    }
    let mut out = Object::new();
    for (k, v) in form_urlencoded::parse(text.as_bytes()) {
        if k.is_empty() || out.contains_key(k.as_ref()) {
            return None;
        }
        let value = if NUMERIC_FORM_KEYS.contains(&k.as_ref()) {
            parse_decimal(&v).map_or_else(|| Value::String(v.to_string()), Value::from)
        } else {
            Value::String(v.into_owned())
        };
        out.insert(k.into_owned(), value);
    }
    Some(out)
}

// ---------- provider errors ----------

/// A provider error found in a body.
pub(crate) struct Signal {
    /// The code reported as the provider error (sanitized).
    pub(crate) code: String,
    /// Keys to look up in the error map, most specific first.
    pub(crate) lookup: Vec<String>,
    description: Option<String>,
    uri: Option<String>,
}

impl Signal {
    fn new(code: String, description: Option<String>) -> Self {
        let code = clean_text(&code, MAX_ERROR_CODE_CHARS);
        Self {
            lookup: vec![code.clone()],
            code,
            description: description.map(|d| sanitize_text(&d, MAX_DESCRIPTION_CHARS)),
            uri: None,
        }
    }

    fn provider_error(&self) -> ProviderError {
        ProviderError {
            error: OAuthErrorCode::parse(&self.code),
            error_description: self.description.clone(),
            error_uri: self.uri.clone(),
        }
    }
}

fn str_member(obj: &Object, key: &str) -> Option<String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A non-zero integer (or a string holding one) member as a decimal string.
fn nonzero_code(obj: &Object, key: &str) -> Option<String> {
    let n = match obj.get(key) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.filter(|n| *n != 0).map(|n| n.to_string())
}

/// An RFC 6749 §5.2 `error` (string; also an integer when `numeric`), with Microsoft's
/// `error_codes` / `AADSTS…` prefix and Weibo's `error_code` as more specific lookup keys.
fn rfc_error(obj: &Object, numeric: bool) -> Option<Signal> {
    let error = match obj.get("error") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) if numeric => n.as_i64()?.to_string(),
        _ => return None,
    };
    let mut sig = Signal::new(error, str_member(obj, "error_description"));
    sig.uri = str_member(obj, "error_uri").map(|u| clean_text(&u, MAX_DESCRIPTION_CHARS));
    let mut lookup = Vec::new();
    if let Some(Value::Array(codes)) = obj.get("error_codes") {
        for c in codes {
            if let Some(n) = c.as_u64() {
                lookup.push(format!("AADSTS{n}"));
            }
        }
    }
    if lookup.is_empty() {
        if let Some(rest) = obj
            .get("error_description")
            .and_then(Value::as_str)
            .and_then(|d| d.strip_prefix("AADSTS"))
        {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() {
                lookup.push(format!("AADSTS{digits}"));
            }
        }
    }
    if let Some(Value::Number(n)) = obj.get("error_code") {
        lookup.push(n.to_string());
    }
    lookup.append(&mut sig.lookup);
    sig.lookup = lookup;
    Some(sig)
}

/// The provider error a body carries under `style`; any style reads an RFC 6749 §5.2 `error`
/// on a non-200 status.
pub(crate) fn detect_error(style: ErrorStyle, status: u16, obj: &Object) -> Option<Signal> {
    let errcode =
        || nonzero_code(obj, "errcode").map(|c| Signal::new(c, str_member(obj, "errmsg")));
    let found = match style {
        ErrorStyle::Rfc6749 => None,
        ErrorStyle::ErrorIn200 => rfc_error(obj, true),
        ErrorStyle::Errcode => errcode(),
        ErrorStyle::ErrorOrErrcode => rfc_error(obj, true).or_else(errcode),
        ErrorStyle::NumericCode => match obj.get("code") {
            Some(Value::Number(n)) if n.as_i64() != Some(0) => Some(Signal::new(
                n.to_string(),
                str_member(obj, "error_description")
                    .or_else(|| str_member(obj, "msg"))
                    .or_else(|| str_member(obj, "error")),
            )),
            _ => None,
        },
        ErrorStyle::StringCode => str_member(obj, "code")
            .map(|c| Signal::new(c, str_member(obj, "message")))
            .or_else(errcode),
        ErrorStyle::QqStyle => match obj.get("error") {
            Some(Value::Number(n)) => Some(Signal::new(
                n.to_string(),
                str_member(obj, "error_description"),
            )),
            Some(Value::String(s)) if !s.is_empty() => rfc_error(obj, false),
            _ => nonzero_code(obj, "ret").map(|c| Signal::new(c, str_member(obj, "msg"))),
        },
    };
    found.or_else(|| {
        if status == 200 {
            None
        } else {
            rfc_error(obj, false)
        }
    })
}

/// The typed error for a provider error: 3xx is never a provider's answer; then the profile's
/// [`ErrorRule`] for the most specific code; then the RFC 6749 §5.2 meaning of `invalid_grant`,
/// `invalid_client` and `temporarily_unavailable` (whatever the status: some providers answer
/// a bad code with 401); then 401 → `InvalidClient`, 429/503 → `ProviderUnavailable`; anything
/// else `ProviderError`. `label` names the call
/// in the message (`GitHub token request`).
pub(crate) fn signal_error(
    label: &dyn core::fmt::Display,
    map: &[ErrorRule],
    status: u16,
    sig: Signal,
) -> Error {
    let pe = sig.provider_error();
    if (300..=399).contains(&status) {
        return status_error(status, Some(pe));
    }
    let mapped = sig
        .lookup
        .iter()
        .find_map(|key| map.iter().find(|r| &r.code == key).map(|r| r.outcome));
    let outcome = match (mapped, &pe.error) {
        (Some(o), _) => o,
        (None, OAuthErrorCode::InvalidGrant) => ErrorOutcome::InvalidGrant,
        (None, OAuthErrorCode::InvalidClient) => ErrorOutcome::InvalidClient,
        (None, OAuthErrorCode::TemporarilyUnavailable) => ErrorOutcome::Retryable,
        (None, _) if matches!(status, 401 | 429 | 503) => return status_error(status, Some(pe)),
        (None, _) => ErrorOutcome::Other,
    };
    let shown = sig.lookup.first().unwrap_or(&sig.code);
    let what = match outcome {
        ErrorOutcome::InvalidGrant => "the code or token is invalid, expired or already used",
        ErrorOutcome::InvalidClient => "the client id or secret is wrong",
        ErrorOutcome::Configuration => "the provider configuration is wrong",
        ErrorOutcome::LocalConfiguration => "the provider does not accept our configuration",
        ErrorOutcome::Retryable => "the provider is temporarily unavailable",
        ErrorOutcome::Other => "the provider returned an error",
    };
    let message = format!("{label}: {what} (provider error `{shown}`)");
    let mut e = outcome_error(outcome, message);
    if outcome == ErrorOutcome::Other && (status >= 500 || pe.error == OAuthErrorCode::ServerError)
    {
        e = e.with_class(ErrorClass::Retryable);
    }
    e.with_provider_error(pe)
}

/// The error for an [`ErrorOutcome`].
pub(crate) fn outcome_error(outcome: ErrorOutcome, message: String) -> Error {
    match outcome {
        ErrorOutcome::InvalidGrant => Error::new(ErrorCode::InvalidGrant, message),
        ErrorOutcome::InvalidClient => Error::new(ErrorCode::InvalidClient, message),
        ErrorOutcome::Configuration => {
            Error::new(ErrorCode::ProviderError, message).with_class(ErrorClass::Configuration)
        }
        ErrorOutcome::LocalConfiguration => Error::new(ErrorCode::Configuration, message),
        ErrorOutcome::Retryable => Error::new(ErrorCode::ProviderUnavailable, message),
        ErrorOutcome::Other => Error::new(ErrorCode::ProviderError, message),
    }
}

const MAX_DESCRIPTION_CHARS: usize = 300;
const MAX_ERROR_CODE_CHARS: usize = 100;

/// Members that become [`TokenSet`] fields.
fn is_standard_member(key: &str) -> bool {
    matches!(
        key,
        "access_token" | "token_type" | "expires_in" | "refresh_token" | "scope" | "id_token"
    )
}

/// `Ok(None)` when absent, `null` or empty; `Err` when present with another type.
fn optional_string<'m>(map: &'m Map<String, Value>, key: &str) -> Result<Option<&'m str>, ()> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(()),
    }
}

/// `0`..`u64::MAX` in plain decimal digits (no sign, no spaces, ≤ 20 digits).
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.get(s.len() - suffix.len()..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Whether a member name holds a secret: `access_token`, `refresh_token`, `id_token`, `code`,
/// `client_secret`, `code_verifier`, `password`, `assertion`, `session_key`, or anything ending
/// in `token`, `secret` or `_key` (ASCII case-insensitive).
pub fn is_sensitive_key(key: &str) -> bool {
    let k = key.trim_matches(|c: char| c == '"' || c == '\'');
    let eq = |s: &str| k.eq_ignore_ascii_case(s);
    eq("code")
        || eq("code_verifier")
        || eq("password")
        || eq("assertion")
        || eq("client_assertion")
        || eq("authorization")
        || ends_with_ignore_case(k, "token")
        || ends_with_ignore_case(k, "secret")
        || ends_with_ignore_case(k, "_key")
}

/// Maximum snippet length in characters.
pub const SNIPPET_MAX_CHARS: usize = 200;
/// Runs of token characters at least this long are redacted wherever they appear.
pub const REDACT_RUN_MIN: usize = 20;
/// Bytes of the body looked at; a run cut by this limit is redacted whatever its length.
const SNIPPET_SCAN_BYTES: usize = 64 * 1024;
const REDACTED: &str = "[redacted]";

/// Characters of base64, base64url, JWTs and opaque tokens (and percent-escapes of them).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '%')
}

/// `lower_case_words` or `lower-case-words` (≥2 words, letters only): protocol identifiers such
/// as `bad_verification_code` or `authorization_response_iss_parameter_supported`, kept in
/// snippets although long. Random tokens essentially never have this shape (no digit, no
/// capital letter in ≥20 characters).
fn is_snake_words(run: &str) -> bool {
    let mut words = 0;
    for word in run.split(['_', '-']) {
        if word.is_empty() || !word.bytes().all(|b| b.is_ascii_lowercase()) {
            return false;
        }
        words += 1;
    }
    words >= 2
}

/// Invisible or direction-changing characters that could disguise log lines.
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Output with a character budget; `push` returns false once full.
struct Budget {
    out: String,
    chars: usize,
    max: usize,
    truncated: bool,
}

impl Budget {
    fn new(max: usize) -> Self {
        Self {
            out: String::new(),
            chars: 0,
            max,
            truncated: false,
        }
    }
    fn push_char(&mut self, c: char) -> bool {
        if self.chars >= self.max {
            self.truncated = true;
            return false;
        }
        self.out.push(c);
        self.chars += 1;
        true
    }
    fn push_str(&mut self, s: &str) -> bool {
        for c in s.chars() {
            if !self.push_char(c) {
                return false;
            }
        }
        true
    }
    fn finish(mut self) -> String {
        if self.truncated {
            // Keep within `max` chars: replace the last char with an ellipsis.
            if self.out.pop().is_some() {
                self.out.push('…');
            }
        }
        self.out
    }
}

/// A short (≤200 chars), log-safe snippet of a response body: invalid UTF-8 replaced, control
/// characters dropped, and the values of token-like members (`access_token`, `refresh_token`,
/// `id_token`, `code`, `client_secret`, anything ending in `token`/`secret`, in JSON or form
/// syntax) and any long base64url/JWT-like run (≥20 chars) replaced with `[redacted]`.
///
/// Details: long runs that are lower-case words joined by `_`/`-` (`bad_verification_code`)
/// are protocol identifiers and stay; tabs and line breaks become a space, other control and invisible formatting
/// characters are dropped; a truncated snippet ends with `…`; only the first 64 KiB of the body
/// are looked at, and a run cut by that limit is redacted whatever its length.
pub fn redact_snippet(body: &[u8]) -> String {
    let cut = body.len() > SNIPPET_SCAN_BYTES;
    let scanned = body.get(..SNIPPET_SCAN_BYTES).unwrap_or(body);
    let text = String::from_utf8_lossy(scanned);
    redact_text(&text, cut, SNIPPET_MAX_CHARS)
}

/// Provider text kept in errors (`error_description`, `errmsg`): redacted like a snippet,
/// capped at `max` chars. Also used by the per-provider parsers in [`crate::provider`].
pub(crate) fn sanitize_text(s: &str, max: usize) -> String {
    redact_text(s, false, max)
}

/// Provider identifiers kept in errors (`error`, `error_uri`, content type): control and
/// formatting characters dropped, capped at `max` chars; not redacted (codes such as
/// `bad_verification_code` must survive intact).
fn clean_text(s: &str, max: usize) -> String {
    let mut out = Budget::new(max);
    for c in s.chars() {
        if c.is_control() || is_format_char(c) {
            continue;
        }
        if !out.push_char(c) {
            break;
        }
    }
    out.finish()
}

/// The redaction engine behind [`redact_snippet`].
fn redact_text(text: &str, input_cut: bool, max: usize) -> String {
    let mut out = Budget::new(max);
    // Characters that are dropped from the output are dropped *before* finding runs: otherwise
    // `abc…(19 chars)<NUL>def…` would be two short runs in the input but one long, unredacted
    // run in the output (found by the `token_response` fuzz target).
    let mut chars = text
        .chars()
        .filter(|&c| !((c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || is_format_char(c)))
        .peekable();
    // After a sensitive key: 0 = none, 1 = key seen (waiting for ':' or '='),
    // 2 = JSON separator seen (the next value is redacted). A form `=` redacts at once.
    let mut key_state = 0u8;

    while let Some(&c) = chars.peek() {
        if is_token_char(c) {
            let mut run = String::new();
            let mut len = 0usize;
            while let Some(&d) = chars.peek() {
                if !is_token_char(d) {
                    break;
                }
                if len < 256 {
                    run.push(d);
                }
                len += 1;
                chars.next();
            }
            let at_cut = input_cut && chars.peek().is_none();
            let long = len >= REDACT_RUN_MIN && !(len < 256 && is_snake_words(&run));
            let redact = key_state == 2 || long || at_cut;
            let is_key = key_state != 2 && len < 256 && is_sensitive_key(&run);
            let pushed = if redact {
                out.push_str(REDACTED)
            } else {
                out.push_str(&run)
            };
            if !pushed {
                break;
            }
            key_state = if is_key { 1 } else { 0 };
            continue;
        }

        chars.next();
        match key_state {
            1 => match c {
                ':' => key_state = 2,
                '=' => {
                    // A form value: drop everything up to the next `&` or whitespace.
                    while let Some(&d) = chars.peek() {
                        if d == '&' || d.is_whitespace() {
                            break;
                        }
                        chars.next();
                    }
                    key_state = 0;
                    if !(out.push_char('=') && out.push_str(REDACTED)) {
                        break;
                    }
                    continue;
                }
                '"' | '\'' | ' ' | '\t' | '\\' => {}
                _ => key_state = 0,
            },
            2 => {
                if c == '"' {
                    // A JSON string value: drop everything up to the closing quote.
                    let mut escaped = false;
                    for d in chars.by_ref() {
                        if escaped {
                            escaped = false;
                        } else if d == '\\' {
                            escaped = true;
                        } else if d == '"' {
                            break;
                        }
                    }
                    if !out.push_str("\"[redacted]\"") {
                        break;
                    }
                    key_state = 0;
                    continue;
                }
                if !matches!(c, ' ' | '\t' | '\\') {
                    key_state = 0;
                }
            }
            _ => {}
        }

        let ok = if c == '\t' || c == '\n' || c == '\r' {
            out.push_char(' ')
        } else if c.is_control() || is_format_char(c) {
            true
        } else {
            out.push_char(c)
        };
        if !ok {
            break;
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AT: &str = "AT_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    const RT: &str = "RT_0a1b2c3d4e5f60718293a4b5c6d7e8f9";
    const NOW: u64 = 1_700_000_000;

    fn strict() -> ResponseRules {
        ResponseRules::strict()
    }

    fn parse(
        status: u16,
        ct: Option<&str>,
        body: &str,
        opts: &ResponseRules,
    ) -> Result<TokenSet, Error> {
        parse_token_response(status, ct, body.as_bytes(), opts, NOW)
    }

    fn json(status: u16, body: &str) -> Result<TokenSet, Error> {
        parse(status, Some("application/json"), body, &strict())
    }

    fn err_code(r: Result<TokenSet, Error>) -> ErrorCode {
        match r {
            Ok(t) => panic!("expected an error, got {t:?}"),
            Err(e) => e.code(),
        }
    }

    /// Every error from a response must carry status, content type and a snippet, and must not
    /// contain the planted secrets in Display or Debug.
    fn assert_safe_error(e: &Error, status: u16) {
        let info = e.response().expect("response info attached");
        assert_eq!(info.status, status);
        assert!(info.snippet.chars().count() <= SNIPPET_MAX_CHARS);
        let text = format!("{e} {e:?}");
        assert!(!text.contains(AT), "{text}");
        assert!(!text.contains(RT), "{text}");
    }

    #[test]
    fn rfc6749_s5_1_strict_success() {
        let body = format!(
            r#"{{"access_token":"{AT}","token_type":"Bearer","expires_in":3600,"refresh_token":"{RT}","scope":"openid profile","id_token":"h.p.s","openid":"o1","nested":{{"a":1}},"x_token":"hidden"}}"#
        );
        let t = parse(
            200,
            Some("application/json; charset=UTF-8"),
            &body,
            &strict(),
        )
        .expect("valid");
        assert_eq!(t.access_token.secret(), AT);
        assert_eq!(t.token_type, "bearer");
        assert_eq!(t.expires_in, Some(3600));
        assert_eq!(t.expires_at, Some(NOW + 3600));
        assert_eq!(t.refresh_token.as_ref().map(|r| r.secret()), Some(RT));
        assert_eq!(t.scope.as_deref(), Some("openid profile"));
        assert_eq!(t.id_token.as_ref().map(|i| i.secret()), Some("h.p.s"));
        assert_eq!(t.extra.get("openid"), Some(&Value::String("o1".into())));
        assert!(t.extra.contains_key("nested"));
        // Token-like members are never copied into `extra`.
        assert!(!t.extra.contains_key("x_token"));
        assert!(!t.extra.contains_key("access_token"));
        let d = format!("{t:?}");
        assert!(
            !d.contains(AT) && !d.contains(RT) && !d.contains("h.p.s"),
            "{d}"
        );
    }

    #[test]
    fn rfc6749_s5_1_minimal_and_bearer_case_insensitive() {
        for tt in ["bearer", "Bearer", "BEARER", "bEaReR"] {
            let t = json(
                200,
                &format!(r#"{{"access_token":"a","token_type":"{tt}"}}"#),
            )
            .expect(tt);
            assert_eq!(t.token_type, "bearer");
            assert_eq!(t.expires_in, None);
            assert_eq!(t.expires_at, None);
            assert!(t.refresh_token.is_none() && t.scope.is_none() && t.id_token.is_none());
        }
        // application/*+json is JSON too.
        assert!(
            parse(
                200,
                Some("application/vnd.example+json"),
                r#"{"access_token":"a","token_type":"bearer"}"#,
                &strict()
            )
            .is_ok()
        );
    }

    #[test]
    fn rfc6749_s5_1_bad_bodies_are_provider_bad_response() {
        let cases: &[(&str, &str)] = &[
            (
                "html error page",
                "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
            ),
            ("null", "null"),
            ("array", "[]"),
            ("number", "42"),
            ("string", r#""access_token""#),
            ("empty", ""),
            (
                "truncated",
                r#"{"access_token":"AT_9f8e7d6c5b4a39281706f5e4d3c2b1a0","token_ty"#,
            ),
            ("missing access_token", r#"{"token_type":"bearer"}"#),
            (
                "null access_token",
                r#"{"access_token":null,"token_type":"bearer"}"#,
            ),
            (
                "numeric access_token",
                r#"{"access_token":12345,"token_type":"bearer"}"#,
            ),
            (
                "object access_token",
                r#"{"access_token":{"v":"x"},"token_type":"bearer"}"#,
            ),
            (
                "empty access_token",
                r#"{"access_token":"","token_type":"bearer"}"#,
            ),
            ("missing token_type", r#"{"access_token":"a"}"#),
            (
                "unknown token_type",
                r#"{"access_token":"a","token_type":"mac"}"#,
            ),
            (
                "DPoP token_type",
                r#"{"access_token":"a","token_type":"DPoP"}"#,
            ),
            (
                "numeric token_type",
                r#"{"access_token":"a","token_type":1}"#,
            ),
            (
                "string expires_in",
                r#"{"access_token":"a","token_type":"bearer","expires_in":"3600"}"#,
            ),
            (
                "negative expires_in",
                r#"{"access_token":"a","token_type":"bearer","expires_in":-1}"#,
            ),
            (
                "float expires_in",
                r#"{"access_token":"a","token_type":"bearer","expires_in":1.5}"#,
            ),
            (
                "bool expires_in",
                r#"{"access_token":"a","token_type":"bearer","expires_in":true}"#,
            ),
            (
                "numeric refresh_token",
                r#"{"access_token":"a","token_type":"bearer","refresh_token":1}"#,
            ),
            (
                "array scope",
                r#"{"access_token":"a","token_type":"bearer","scope":["a"]}"#,
            ),
            (
                "numeric id_token",
                r#"{"access_token":"a","token_type":"bearer","id_token":7}"#,
            ),
            ("utf-8 garbage", "\u{fffd}\u{0}\u{1b}[31m"),
        ];
        for (name, body) in cases {
            let e = json(200, body).expect_err(name);
            assert_eq!(e.code(), ErrorCode::ProviderBadResponse, "{name}");
            assert_eq!(e.class(), ErrorClass::Configuration, "{name}");
            assert_safe_error(&e, 200);
            assert!(
                !e.to_string().to_ascii_lowercase().contains("json decode"),
                "{name}"
            );
        }
        // Invalid UTF-8 bytes too.
        let e = parse_token_response(200, Some("application/json"), b"\xff\xfe{", &strict(), NOW)
            .expect_err("bytes");
        assert_eq!(e.code(), ErrorCode::ProviderBadResponse);
    }

    #[test]
    fn rfc6749_s5_1_html_error_page_snippet() {
        let html = "<html><head><title>Service down</title></head><body>try later</body></html>";
        let e = parse(200, Some("text/html"), html, &strict()).expect_err("html");
        assert_eq!(e.code(), ErrorCode::ProviderBadResponse);
        let info = e.response().expect("info");
        assert_eq!(info.content_type.as_deref(), Some("text/html"));
        assert!(
            info.snippet.starts_with("<html><head><title>Service down"),
            "{}",
            info.snippet
        );
        // Even with every tolerance on, HTML is not a token response.
        let e = parse(200, Some("text/html"), html, &ResponseRules::lenient()).expect_err("html");
        assert_eq!(e.code(), ErrorCode::ProviderBadResponse);
    }

    /// RFC 6749 §5.1: the success body is `application/json`; text types only by opt-in.
    #[test]
    fn json_as_text_plain_needs_tolerance() {
        let body = format!(r#"{{"access_token":"{AT}","token_type":"bearer","expires_in":7200}}"#);
        let e = parse(200, Some("text/plain"), &body, &strict()).expect_err("strict");
        assert_eq!(e.code(), ErrorCode::ProviderBadResponse);
        assert_safe_error(&e, 200);
        let e = parse(200, None, &body, &strict()).expect_err("no content type");
        assert_eq!(e.code(), ErrorCode::ProviderBadResponse);
        let mut opts = strict();
        opts.format = BodyFormat::JsonAnyContentType;
        for ct in [Some("text/plain"), Some("text/html; charset=utf-8"), None] {
            let t = parse(200, ct, &body, &opts).expect("tolerated");
            assert_eq!(t.access_token.secret(), AT);
            assert_eq!(t.expires_at, Some(NOW + 7200));
        }
        // Tolerance is about text types, not arbitrary ones.
        assert!(parse(200, Some("image/png"), &body, &opts).is_err());
    }

    /// RFC 6749 §5.1: `expires_in` is a number of seconds; strings only by opt-in.
    #[test]
    fn expires_in_as_string_tolerance() {
        let body = r#"{"access_token":"a","token_type":"bearer","expires_in":"3600"}"#;
        let mut opts = strict();
        opts.expires_in_as_string = true;
        let t = parse(200, Some("application/json"), body, &opts).expect("tolerated");
        assert_eq!(t.expires_in, Some(3600));
        for bad in [
            "\"\"",
            "\"-1\"",
            "\"1e3\"",
            "\" 60\"",
            "\"99999999999999999999999\"",
        ] {
            let body =
                format!(r#"{{"access_token":"a","token_type":"bearer","expires_in":{bad}}}"#);
            let e = parse(200, Some("application/json"), &body, &opts).expect_err(bad);
            assert_eq!(e.code(), ErrorCode::ProviderBadResponse, "{bad}");
        }
        // Huge but valid: saturates instead of overflowing.
        let body = format!(
            r#"{{"access_token":"a","token_type":"bearer","expires_in":{}}}"#,
            u64::MAX
        );
        let t = json(200, &body).expect("u64::MAX");
        assert_eq!(t.expires_at, Some(u64::MAX));
    }

    /// RFC 6749 §5.1 / §7.1: `token_type` is REQUIRED; its absence only by opt-in.
    #[test]
    fn missing_token_type_tolerance() {
        let body = r#"{"access_token":"a","expires_in":7200,"openid":"OPENID","unionid":"U"}"#;
        assert_eq!(err_code(json(200, body)), ErrorCode::ProviderBadResponse);
        let mut opts = strict();
        opts.missing_token_type_is_bearer = true;
        let t = parse(200, Some("application/json"), body, &opts).expect("tolerated");
        assert_eq!(t.token_type, "bearer");
        assert_eq!(t.extra.get("openid"), Some(&Value::String("OPENID".into())));
        // An unknown token_type is still refused.
        let body = r#"{"access_token":"a","token_type":"mac"}"#;
        assert!(parse(200, Some("application/json"), body, &opts).is_err());
    }

    /// RFC 6749 §5.1: JSON, not form encoding; form bodies only by opt-in (GitHub, QQ).
    #[test]
    fn form_encoded_bodies() {
        let body = format!(
            "access_token={AT}&scope=repo%2Cgist&token_type=bearer&expires_in=28800&refresh_token={RT}"
        );
        let ct = Some("application/x-www-form-urlencoded; charset=utf-8");
        let e = parse(200, ct, &body, &strict()).expect_err("strict");
        assert_eq!(e.code(), ErrorCode::ProviderBadResponse);
        assert_safe_error(&e, 200);
        let mut opts = strict();
        opts.format = BodyFormat::JsonOrForm;
        let t = parse(200, ct, &body, &opts).expect("tolerated");
        assert_eq!(t.access_token.secret(), AT);
        assert_eq!(t.scope.as_deref(), Some("repo,gist"));
        assert_eq!(t.expires_in, Some(28800));
        assert_eq!(t.refresh_token.as_ref().map(|r| r.secret()), Some(RT));
        // QQ: form body served as text/html.
        let t = parse(200, Some("text/html"), &body, &opts).expect("qq");
        assert_eq!(t.access_token.secret(), AT);
        // Duplicated members make a form body invalid.
        let dup = "access_token=a&access_token=b&token_type=bearer";
        assert_eq!(
            err_code(parse(200, ct, dup, &opts)),
            ErrorCode::ProviderBadResponse
        );
    }

    /// RFC 6749 §5.2: errors come with HTTP 400; GitHub's 200 + `error` only by opt-in.
    #[test]
    fn github_200_with_error() {
        let body = r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/apps/troubleshooting#bad-verification-code"}"#;
        // Strict: a protocol violation, but what GitHub said is kept.
        let e = json(200, body).expect_err("strict");
        assert_eq!(e.code(), ErrorCode::ProviderBadResponse);
        assert_eq!(
            e.provider_error().map(|p| p.error.as_str()),
            Some("bad_verification_code")
        );
        let mut opts = strict();
        opts.errors = ErrorStyle::ErrorIn200;
        let e = parse(200, Some("application/json"), body, &opts).expect_err("github");
        assert_eq!(e.code(), ErrorCode::InvalidGrant);
        assert_eq!(e.class(), ErrorClass::Reauthenticate);
        let pe = e.provider_error().expect("provider error");
        assert_eq!(
            pe.error_description.as_deref(),
            Some("The code passed is incorrect or expired.")
        );
        assert_eq!(
            pe.error_uri.as_deref(),
            Some("https://docs.github.com/apps/troubleshooting#bad-verification-code")
        );
        assert_safe_error(&e, 200);
        for (code, want) in [
            ("incorrect_client_credentials", ErrorCode::InvalidClient),
            ("redirect_uri_mismatch", ErrorCode::Configuration),
            ("invalid_grant", ErrorCode::InvalidGrant),
            ("unverified_user_email", ErrorCode::ProviderError),
        ] {
            let body = format!(r#"{{"error":"{code}"}}"#);
            let e = parse(200, Some("application/json"), &body, &opts).expect_err(code);
            assert_eq!(e.code(), want, "{code}");
        }
        // GitHub without Accept: form-encoded error.
        opts.format = BodyFormat::JsonOrForm;
        let e = parse(
            200,
            Some("application/x-www-form-urlencoded"),
            "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.",
            &opts,
        )
        .expect_err("form error");
        assert_eq!(e.code(), ErrorCode::InvalidGrant);
    }

    /// RFC 6749 §5.2 errors in WeChat's `errcode`/`errmsg` shape inside a 200.
    #[test]
    fn wechat_errcode_in_200() {
        let body = r#"{"errcode":40029,"errmsg":"invalid code, rid: 6543e2f1-1234abcd-5678ef90"}"#;
        assert_eq!(err_code(json(200, body)), ErrorCode::ProviderBadResponse);
        let mut opts = strict();
        opts.errors = ErrorStyle::Errcode;
        opts.format = BodyFormat::JsonAnyContentType;
        let e = parse(200, Some("text/plain"), body, &opts).expect_err("wechat");
        assert_eq!(e.code(), ErrorCode::InvalidGrant);
        let pe = e.provider_error().expect("provider error");
        assert_eq!(pe.error, OAuthErrorCode::Other("40029".into()));
        assert!(
            pe.error_description
                .as_deref()
                .is_some_and(|d| d.starts_with("invalid code"))
        );
        for (body, want) in [
            (
                r#"{"errcode":40163,"errmsg":"code been used"}"#,
                ErrorCode::InvalidGrant,
            ),
            (
                r#"{"errcode":"40029","errmsg":"invalid code"}"#,
                ErrorCode::InvalidGrant,
            ),
            (
                r#"{"errcode":40125,"errmsg":"invalid appsecret"}"#,
                ErrorCode::InvalidClient,
            ),
            (
                r#"{"errcode":-1,"errmsg":"system error"}"#,
                ErrorCode::ProviderUnavailable,
            ),
            (
                r#"{"errcode":41008,"errmsg":"missing code"}"#,
                ErrorCode::ProviderError,
            ),
        ] {
            let e = parse(200, Some("application/json"), body, &opts).expect_err(body);
            assert_eq!(e.code(), want, "{body}");
        }
        // errcode 0 is success (WeCom style) when a token is present.
        let t = parse(
            200,
            Some("application/json"),
            r#"{"errcode":0,"errmsg":"ok","access_token":"a","token_type":"bearer"}"#,
            &opts,
        )
        .expect("errcode 0");
        assert_eq!(t.access_token.secret(), "a");
        assert!(t.extra.contains_key("errmsg"));
    }

    #[test]
    fn rfc6749_s5_2_error_statuses() {
        let j = Some("application/json");
        let cases: &[(u16, Option<&str>, &str, ErrorCode, ErrorClass)] = &[
            (
                400,
                j,
                r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
                ErrorCode::InvalidGrant,
                ErrorClass::Reauthenticate,
            ),
            (
                400,
                j,
                r#"{"error":"invalid_client"}"#,
                ErrorCode::InvalidClient,
                ErrorClass::Configuration,
            ),
            (
                400,
                j,
                r#"{"error":"invalid_request"}"#,
                ErrorCode::ProviderError,
                ErrorClass::Configuration,
            ),
            (
                400,
                j,
                r#"{"error":"unsupported_grant_type"}"#,
                ErrorCode::ProviderError,
                ErrorClass::Configuration,
            ),
            (
                400,
                j,
                r#"{"error":"invalid_scope"}"#,
                ErrorCode::ProviderError,
                ErrorClass::Configuration,
            ),
            (
                401,
                j,
                r#"{"error":"invalid_client"}"#,
                ErrorCode::InvalidClient,
                ErrorClass::Configuration,
            ),
            (
                401,
                Some("text/html"),
                "<h1>Unauthorized</h1>",
                ErrorCode::InvalidClient,
                ErrorClass::Configuration,
            ),
            (
                400,
                Some("text/html"),
                "<h1>Bad Request</h1>",
                ErrorCode::ProviderBadResponse,
                ErrorClass::Configuration,
            ),
            (
                302,
                None,
                "",
                ErrorCode::ProviderBadResponse,
                ErrorClass::Configuration,
            ),
            (
                307,
                Some("text/html"),
                "<a href='https://evil'>moved</a>",
                ErrorCode::ProviderBadResponse,
                ErrorClass::Configuration,
            ),
            (
                429,
                j,
                r#"{"error":"slow_down"}"#,
                ErrorCode::ProviderUnavailable,
                ErrorClass::Retryable,
            ),
            (
                429,
                None,
                "",
                ErrorCode::ProviderUnavailable,
                ErrorClass::Retryable,
            ),
            (
                503,
                Some("text/html"),
                "<h1>Service Unavailable</h1>",
                ErrorCode::ProviderUnavailable,
                ErrorClass::Retryable,
            ),
            (
                500,
                Some("text/html"),
                "<h1>Internal Server Error</h1>",
                ErrorCode::ProviderBadResponse,
                ErrorClass::Retryable,
            ),
            (
                500,
                j,
                r#"{"error":"server_error"}"#,
                ErrorCode::ProviderError,
                ErrorClass::Retryable,
            ),
            (
                502,
                j,
                "{\"error\":",
                ErrorCode::ProviderBadResponse,
                ErrorClass::Retryable,
            ),
            (
                400,
                j,
                r#"{"error":"temporarily_unavailable"}"#,
                ErrorCode::ProviderUnavailable,
                ErrorClass::Retryable,
            ),
            (
                201,
                j,
                r#"{"access_token":"a","token_type":"bearer"}"#,
                ErrorCode::ProviderBadResponse,
                ErrorClass::Configuration,
            ),
            (
                404,
                j,
                "null",
                ErrorCode::ProviderBadResponse,
                ErrorClass::Configuration,
            ),
        ];
        for (status, ct, body, code, class) in cases {
            let e = parse(*status, *ct, body, &strict()).expect_err(body);
            assert_eq!(e.code(), *code, "{status} {body}");
            assert_eq!(e.class(), *class, "{status} {body}");
            assert_eq!(e.is_retryable(), *class == ErrorClass::Retryable);
            assert_safe_error(&e, *status);
        }
        let e = json(
            400,
            r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
        )
        .expect_err("invalid_grant");
        let pe = e.provider_error().expect("provider error");
        assert_eq!(pe.error, OAuthErrorCode::InvalidGrant);
        assert_eq!(
            pe.error_description.as_deref(),
            Some("grant request is invalid")
        );
    }

    #[test]
    fn rfc6749_s5_2_parse_error_body() {
        let pe = parse_error_body(
            br#"{"error":"invalid_grant","error_description":"x","error_uri":"https://e"}"#,
        )
        .expect("error body");
        assert_eq!(pe.error, OAuthErrorCode::InvalidGrant);
        assert_eq!(pe.error_description.as_deref(), Some("x"));
        assert_eq!(pe.error_uri.as_deref(), Some("https://e"));
        for not in [
            &b"null"[..],
            b"[]",
            b"{}",
            b"{\"error\":1}",
            b"<html>",
            b"",
            b"{\"error\":null}",
        ] {
            assert_eq!(parse_error_body(not), None);
        }
        // Control characters and long secrets in a description do not survive.
        let pe = parse_error_body(
            format!(
                r#"{{"error":"invalid_grant","error_description":"code {AT} is bad\u0007\n"}}"#
            )
            .as_bytes(),
        )
        .expect("error body");
        let d = pe.error_description.expect("description");
        assert!(!d.contains(AT) && !d.contains('\u{7}'), "{d}");
    }

    /// docs/SECURITY.md S14 / RFC 6749 §10.3: tokens never reach Display/Debug of errors.
    #[test]
    fn errors_never_contain_secrets_fed_in() {
        let bodies = [
            format!(r#"{{"access_token":"{AT}","refresh_token":"{RT}","token_type":"mac"}}"#),
            format!(
                r#"{{"access_token":"{AT}","refresh_token":"{RT}","token_type":"bearer","expires_in":"soon"}}"#
            ),
            format!(r#"{{"access_token":"{AT}","refresh_token":"{RT}""#),
            format!("<html>{AT} {RT}</html>"),
            format!("access_token={AT}&refresh_token={RT}"),
            format!(
                r#"{{"error":"invalid_grant","error_description":"refresh token {RT} revoked","access_token":"{AT}"}}"#
            ),
        ];
        for body in &bodies {
            for status in [200u16, 400, 401, 500, 503, 302] {
                for opts in [strict(), ResponseRules::lenient()] {
                    if let Err(e) = parse(status, Some("application/json"), body, &opts) {
                        assert_safe_error(&e, status);
                    }
                }
            }
        }
    }

    /// docs/SECURITY.md S14 / RFC 6749 §10.3: snippets are log-safe.
    #[test]
    fn snippet_redaction() {
        let body = format!(
            r#"{{"access_token":"{AT}","token_type":"bearer","code":"short","client_secret":"s3","note":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}}"#
        );
        let s = redact_snippet(body.as_bytes());
        assert!(!s.contains(AT), "{s}");
        assert!(!s.contains("short"), "{s}");
        assert!(!s.contains("\"s3\""), "{s}");
        assert!(!s.contains("eyJhbGciOiJSUzI1NiJ9"), "{s}");
        assert!(s.contains("\"token_type\":\"bearer\""), "{s}");
        assert!(s.contains("\"access_token\":\"[redacted]\""), "{s}");

        // Long protocol identifiers stay readable; their values under secret keys do not.
        let s = redact_snippet(
            br#"{"error":"bad_verification_code","refresh_token":"only_lower_case_words_here"}"#,
        );
        assert_eq!(
            s,
            r#"{"error":"bad_verification_code","refresh_token":"[redacted]"}"#
        );

        let form = "access_token=abc:def&code=x y&scope=repo";
        let s = redact_snippet(form.as_bytes());
        assert_eq!(s, "access_token=[redacted]&code=[redacted] y&scope=repo");

        // Spaces inside a JSON string value are consumed with it.
        let s = redact_snippet(br#"{"refresh_token" : "a b c", "x":1}"#);
        assert_eq!(s, r#"{"refresh_token" : "[redacted]", "x":1}"#);

        // Control characters dropped, whitespace controls become spaces, invalid UTF-8 replaced.
        let s = redact_snippet(b"a\x00b\x1b[0m\tc\r\nd\xff");
        assert_eq!(s, "ab[0m c  d\u{fffd}");

        // Length cap with ellipsis.
        let long = "word ".repeat(100);
        let s = redact_snippet(long.as_bytes());
        assert_eq!(s.chars().count(), SNIPPET_MAX_CHARS);
        assert!(s.ends_with('…'));
        assert_eq!(redact_snippet(b""), "");
    }

    /// docs/SECURITY.md S14 (RFC 6749 §10.3): a token split by invisible characters (NUL, other
    /// controls, zero-width or bidi formatting) is judged as it will be shown — joined — and
    /// redacted. Found by the `token_response` fuzz target: two short runs separated by NULs
    /// came out as one 36-char unredacted run.
    #[test]
    fn rfc6749_s10_3_token_split_by_invisible_chars_is_redacted() {
        const HALF_A: &str = "ti5PlAnT3dT0k3n_q8Z";
        const HALF_B: &str = "r7Yx6Wv5Ut4Ss3R03";
        for sep in [
            "\0", "\0\0\0\0", "\u{7f}", "\u{1b}", "\u{200B}", "\u{202E}", "\u{FEFF}",
        ] {
            let body = format!("<html>{HALF_A}{sep}{HALF_B}</html>");
            let s = redact_snippet(body.as_bytes());
            assert!(!s.contains(HALF_A) && !s.contains(HALF_B), "{sep:?}: {s}");
            assert!(s.contains(REDACTED), "{sep:?}: {s}");
            let text = sanitize_text(&body, 300);
            assert!(
                !text.contains(HALF_A) && !text.contains(HALF_B),
                "{sep:?}: {text}"
            );
        }
        // Visible separators still split runs: both halves are short and stay.
        let s = redact_snippet(format!("{HALF_A} {HALF_B}").as_bytes());
        assert_eq!(s, format!("{HALF_A} {HALF_B}"));
        let s = redact_snippet(format!("{HALF_A}\t{HALF_B}").as_bytes());
        assert_eq!(s, format!("{HALF_A} {HALF_B}"));
    }

    /// docs/SECURITY.md S14: no partial token leaks at the scan limit.
    #[test]
    fn snippet_redacts_run_cut_by_scan_limit() {
        // A body whose only content is one enormous token: never a partial leak.
        let mut body = vec![b' '; SNIPPET_SCAN_BYTES - 10];
        body.extend_from_slice(b"abc");
        body.extend_from_slice(AT.as_bytes());
        let s = redact_snippet(&body);
        assert!(!s.contains("abc"), "{s}");
        assert!(!s.contains(&AT[..5]), "{s}");
    }

    /// RFC 9110 §8.3: a content type is a single header line; no injected control characters in logs.
    #[test]
    fn content_type_is_cleaned() {
        let e = parse(200, Some("text/html\r\nX-Injected: 1"), "<p>", &strict()).expect_err("html");
        let ct = e
            .response()
            .and_then(|r| r.content_type.clone())
            .expect("ct");
        assert!(!ct.contains('\r') && !ct.contains('\n'));
    }

    /// QQ JSONP: `callback( {...} );` with any spacing, and nothing else.
    #[test]
    fn jsonp_stripping() {
        assert_eq!(
            strip_jsonp(br#"callback( {"a":1} );"#),
            Some(&br#"{"a":1}"#[..])
        );
        assert_eq!(strip_jsonp(b"callback({\"a\":1})"), Some(&b"{\"a\":1}"[..]));
        assert_eq!(strip_jsonp(b"{\"a\":1}"), None);
        assert_eq!(strip_jsonp(b"evil( {} );"), None);
    }

    /// Form bodies: numbers for expires_in-like keys, duplicates and markup refused.
    #[test]
    fn form_decoding() {
        let o = form_object(b"access_token=x&expires_in=7776000&scope=a%2Cb").expect("form");
        assert_eq!(o.get("expires_in"), Some(&Value::from(7_776_000u64)));
        assert_eq!(o.get("scope"), Some(&Value::from("a,b")));
        assert!(form_object(b"a=1&a=2").is_none());
        assert!(form_object(b"<html>a=1</html>").is_none());
        assert!(form_object(b"hello").is_none());
        assert!(form_object(b"").is_none());
    }

    /// RFC 6749 §5.1: `Json` format requires a JSON media type; the lenient formats do not.
    #[test]
    fn json_media_type() {
        assert!(
            decode(
                BodyFormat::Json,
                Some("application/json; charset=utf-8"),
                b"{}"
            )
            .into_object()
            .is_some()
        );
        assert!(
            decode(BodyFormat::Json, Some("application/problem+json"), b"{}")
                .into_object()
                .is_some()
        );
        assert!(
            decode(BodyFormat::Json, Some("text/plain"), b"{}")
                .into_object()
                .is_none()
        );
        assert!(
            decode(BodyFormat::JsonAnyContentType, Some("text/plain"), b"{}")
                .into_object()
                .is_some()
        );
        assert!(
            decode(BodyFormat::JsonAnyContentType, None, b"[1]")
                .into_object()
                .is_none()
        );
    }

    /// Provider error signals per style (PROVIDERS.md summary table, "Error signalling").
    #[test]
    fn error_signals() {
        let o = |v: Value| match v {
            Value::Object(m) => m,
            _ => Object::new(),
        };
        // (style, status, body, the code signalled or None)
        let cases = [
            (ErrorStyle::Rfc6749, 200, json!({"error": "x"}), None),
            (ErrorStyle::Rfc6749, 400, json!({"error": "x"}), Some("x")),
            (
                ErrorStyle::ErrorIn200,
                200,
                json!({"error": "x"}),
                Some("x"),
            ),
            (ErrorStyle::Errcode, 200, json!({"errcode": 0}), None),
            (
                ErrorStyle::Errcode,
                200,
                json!({"errcode": 40029}),
                Some("40029"),
            ),
            (ErrorStyle::NumericCode, 200, json!({"code": 0}), None),
            (
                ErrorStyle::NumericCode,
                400,
                json!({"code": 20003}),
                Some("20003"),
            ),
            (ErrorStyle::StringCode, 400, json!({"code": "x"}), Some("x")),
            (ErrorStyle::QqStyle, 200, json!({"ret": 0}), None),
            (ErrorStyle::QqStyle, 200, json!({"ret": 1002}), Some("1002")),
            (
                ErrorStyle::QqStyle,
                200,
                json!({"error": 100020}),
                Some("100020"),
            ),
        ];
        for (style, status, body, want) in cases {
            let got = detect_error(style, status, &o(body.clone())).map(|s| s.code);
            assert_eq!(got.as_deref(), want, "{style:?} {status} {body}");
        }
        // Microsoft: AADSTS code looked up first, RFC code reported.
        let s = detect_error(
            ErrorStyle::Rfc6749,
            400,
            &o(json!({"error": "invalid_grant", "error_codes": [54005]})),
        )
        .expect("signal");
        assert_eq!(
            s.lookup,
            vec!["AADSTS54005".to_owned(), "invalid_grant".to_owned()]
        );
        assert_eq!(s.code, "invalid_grant");
    }

    /// Provider descriptions are bounded and control characters dropped (no log injection).
    #[test]
    fn descriptions_are_cleaned() {
        let d = sanitize_text(
            &format!("a\nb\u{1b}[31m{}", "x ".repeat(1000)),
            MAX_DESCRIPTION_CHARS,
        );
        assert!(!d.contains('\n') && !d.contains('\u{1b}'));
        assert_eq!(d.chars().count(), MAX_DESCRIPTION_CHARS);
    }
}
