//! Response side: per-profile decoding (JSON, JSON as text, form-encoded, JSONP), provider error
//! detection and mapping into [`crate::Error`], and a field-mapping pre-pass before the strict
//! RFC 6749 §5.1 parser ([`crate::token::parse_token_response`]).

use serde_json::{Map, Value};

use super::request::ClientCredentials;
use super::{ApiCall, BodyFormat, ErrorOutcome, ErrorStyle, ProviderProfile, outcome_error};
use crate::Error;
use crate::error::{ErrorCode, OAuthErrorCode, ProviderError, ResponseInfo};
use crate::token::{TokenResponseOptions, TokenSet, redact_snippet};

type Object = Map<String, Value>;

/// Longest provider `error_description` kept (characters).
const MAX_DESCRIPTION: usize = 300;

fn media_type(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn is_json_media(content_type: Option<&str>) -> bool {
    let m = media_type(content_type);
    m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
}

fn json_object(body: &[u8]) -> Option<Object> {
    let text = std::str::from_utf8(body).ok()?;
    let text = text.trim_start_matches('\u{feff}').trim();
    match serde_json::from_str::<Value>(text).ok()? {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// `callback( {...} );` → `{...}` (QQ, PROVIDERS.md).
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

const NUMERIC_FORM_KEYS: &[&str] = &["expires_in", "refresh_token_expires_in", "expireIn"];

/// `a=1&b=2` → object of strings (numbers for the `expires_in`-like keys). `None` unless the
/// body looks like a form (every pair has `=`, no markup).
fn form_object(body: &[u8]) -> Option<Object> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if text.is_empty() || text.contains('<') || text.contains('{') {
        return None;
    }
    if !text.split('&').all(|p| p.contains('=')) {
        return None;
    }
    let mut out = Object::new();
    for (k, v) in form_urlencoded::parse(text.as_bytes()) {
        if out.contains_key(k.as_ref()) {
            return None;
        }
        let value = if NUMERIC_FORM_KEYS.contains(&k.as_ref()) {
            v.parse::<u64>()
                .map_or_else(|_| Value::String(v.to_string()), Value::from)
        } else {
            Value::String(v.into_owned())
        };
        out.insert(k.into_owned(), value);
    }
    Some(out)
}

fn decode(format: BodyFormat, content_type: Option<&str>, body: &[u8]) -> Option<Object> {
    match format {
        BodyFormat::Json => {
            if is_json_media(content_type) {
                json_object(body)
            } else {
                None
            }
        }
        BodyFormat::JsonAnyContentType => json_object(body),
        BodyFormat::JsonOrForm => json_object(body).or_else(|| form_object(body)),
        BodyFormat::JsonFormOrJsonp => strip_jsonp(body)
            .and_then(json_object)
            .or_else(|| json_object(body))
            .or_else(|| form_object(body)),
    }
}

/// A provider error found in a body.
struct Signal {
    /// The code reported as the provider error.
    code: String,
    /// Keys to look up in the error map, most specific first.
    lookup: Vec<String>,
    description: Option<String>,
    uri: Option<String>,
}

fn str_member(obj: &Object, key: &str) -> Option<String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A non-zero integer (or non-"0" string) member as a string.
fn nonzero_code(obj: &Object, key: &str) -> Option<String> {
    match obj.get(key) {
        Some(Value::Number(n)) if n.as_i64() != Some(0) && n.as_u64() != Some(0) => {
            Some(n.to_string())
        }
        Some(Value::String(s)) if !s.is_empty() && s != "0" => Some(s.clone()),
        _ => None,
    }
}

fn signal(code: String, description: Option<String>) -> Signal {
    Signal {
        lookup: vec![code.clone()],
        code,
        description,
        uri: None,
    }
}

fn rfc_error(obj: &Object) -> Option<Signal> {
    let error = str_member(obj, "error")?;
    let description = str_member(obj, "error_description");
    let mut lookup = Vec::new();
    // Microsoft: `error_codes: [54005]` or an `AADSTS54005:` description prefix.
    if let Some(Value::Array(codes)) = obj.get("error_codes") {
        for c in codes {
            if let Some(n) = c.as_u64() {
                lookup.push(format!("AADSTS{n}"));
            }
        }
    }
    if lookup.is_empty() {
        if let Some(rest) = description
            .as_deref()
            .and_then(|d| d.strip_prefix("AADSTS"))
        {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() {
                lookup.push(format!("AADSTS{digits}"));
            }
        }
    }
    // Weibo: a numeric `error_code` next to `error`.
    if let Some(Value::Number(n)) = obj.get("error_code") {
        lookup.push(n.to_string());
    }
    lookup.push(error.clone());
    Some(Signal {
        code: error,
        lookup,
        description,
        uri: str_member(obj, "error_uri"),
    })
}

fn detect_error(style: ErrorStyle, status: u16, obj: &Object) -> Option<Signal> {
    let found = match style {
        ErrorStyle::Rfc6749 => None,
        ErrorStyle::ErrorIn200 => rfc_error(obj),
        ErrorStyle::Errcode => {
            nonzero_code(obj, "errcode").map(|c| signal(c, str_member(obj, "errmsg")))
        }
        ErrorStyle::NumericCode => match obj.get("code") {
            Some(Value::Number(n)) if n.as_i64() != Some(0) => Some(signal(
                n.to_string(),
                str_member(obj, "error_description")
                    .or_else(|| str_member(obj, "msg"))
                    .or_else(|| str_member(obj, "error")),
            )),
            _ => None,
        },
        ErrorStyle::StringCode => str_member(obj, "code")
            .map(|c| signal(c, str_member(obj, "message")))
            .or_else(|| nonzero_code(obj, "errcode").map(|c| signal(c, str_member(obj, "errmsg")))),
        ErrorStyle::QqStyle => match obj.get("error") {
            Some(Value::Number(n)) => {
                Some(signal(n.to_string(), str_member(obj, "error_description")))
            }
            Some(Value::String(s)) if !s.is_empty() => rfc_error(obj),
            _ => nonzero_code(obj, "ret").map(|c| signal(c, str_member(obj, "msg"))),
        },
    };
    found.or_else(|| if status == 200 { None } else { rfc_error(obj) })
}

/// Provider text shown in errors (description, and the error code in the message): the same
/// redaction as the core token parser (token-like values and long base64url/JWT-like runs
/// become `[redacted]`; SECURITY.md S14), control characters dropped, capped.
fn clean_description(d: String) -> String {
    crate::token::sanitize_text(&d, MAX_DESCRIPTION)
}

fn map_signal(profile: &ProviderProfile, status: u16, step: &str, sig: Signal) -> Error {
    let mapped = sig.lookup.iter().find_map(|key| {
        profile
            .response
            .error_map
            .iter()
            .find(|r| &r.code == key)
            .map(|r| r.outcome)
    });
    let outcome = mapped.unwrap_or(match sig.code.as_str() {
        "invalid_grant" => ErrorOutcome::InvalidGrant,
        "invalid_client" | "unauthorized_client" => ErrorOutcome::InvalidClient,
        "temporarily_unavailable" | "server_error" => ErrorOutcome::Retryable,
        _ if status == 401 => ErrorOutcome::InvalidClient,
        _ if status == 429 || status == 503 => ErrorOutcome::Retryable,
        _ => ErrorOutcome::Other,
    });
    let shown = sig
        .lookup
        .first()
        .cloned()
        .unwrap_or_else(|| sig.code.clone());
    let what = match outcome {
        ErrorOutcome::InvalidGrant => "the code or token is invalid, expired or already used",
        ErrorOutcome::InvalidClient => "the client id or secret is wrong",
        ErrorOutcome::Configuration => "the provider configuration is wrong",
        ErrorOutcome::Retryable => "the provider is temporarily unavailable",
        ErrorOutcome::Other => "the provider returned an error",
    };
    let message = format!(
        "{} {step}: {what} (provider error `{}`)",
        profile.display_name,
        clean_description(shown)
    );
    outcome_error(outcome, message).with_provider_error(ProviderError {
        error: OAuthErrorCode::parse(&sig.code),
        error_description: sig.description.map(clean_description),
        error_uri: sig.uri,
    })
}

fn response_info(status: u16, content_type: Option<&str>, body: &[u8]) -> ResponseInfo {
    ResponseInfo {
        status,
        content_type: content_type.map(str::to_owned),
        snippet: redact_snippet(body),
    }
}

fn bad_response(
    profile: &ProviderProfile,
    step: &str,
    why: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Error {
    let e = Error::new(
        ErrorCode::ProviderBadResponse,
        format!("{} {step}: {why}", profile.display_name),
    )
    .with_response(response_info(status, content_type, body));
    if status >= 500 {
        e.with_class(crate::ErrorClass::Retryable)
    } else {
        e
    }
}

/// Members removed from a success body before RFC 6749 parsing: envelope status codes.
fn strip_envelope(obj: &mut Object) {
    for key in ["code", "errcode", "ret"] {
        if matches!(obj.get(key), Some(Value::Number(n)) if n.as_i64() == Some(0)) {
            obj.remove(key);
        }
    }
    for key in ["msg", "errmsg"] {
        obj.remove(key);
    }
}

/// Parses a token endpoint response the way this provider sends it (PROVIDERS.md): decodes
/// JSON / JSON-as-text / form / JSONP per [`super::ResponseRules::format`], turns the
/// provider's error signal (`error` in a 200, `errcode`, Feishu `code`, DingTalk `code`, QQ
/// JSONP) into a typed error via the profile's error map (RFC 6749 §5.2 defaults otherwise),
/// renames non-standard members (DingTalk `accessToken` → `access_token`), then hands a
/// standard JSON object to [`crate::token::parse_token_response`] (RFC 6749 §5.1 checks).
/// Anything unreadable goes to the core parser as is, which yields the typed
/// `ProviderBadResponse` / `ProviderUnavailable` / `InvalidClient` error. Never panics.
pub fn parse_token_response(
    profile: &ProviderProfile,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    now_unix: u64,
) -> Result<TokenSet, Error> {
    let rules = &profile.response;
    let decoded = decode(rules.format, content_type, body);
    if let Some(obj) = &decoded {
        if let Some(sig) = detect_error(rules.errors, status, obj) {
            return Err(map_signal(profile, status, "token request", sig));
        }
    }
    let strict = TokenResponseOptions::default();
    let (200, Some(mut obj)) = (status, decoded) else {
        return match crate::token::parse_token_response(
            status,
            content_type,
            body,
            &strict,
            now_unix,
        ) {
            Err(e) => Err(e),
            Ok(_) => Err(bad_response(
                profile,
                "token request",
                "unexpected response",
                status,
                content_type,
                body,
            )),
        };
    };
    // Feishu-style envelopes: tolerate `{code:0, data:{access_token…}}` as well as the
    // documented top-level shape (the v3 endpoint's shape is unverified).
    if rules.errors == ErrorStyle::NumericCode && !obj.contains_key("access_token") {
        if let Some(Value::Object(inner)) = obj.get("data") {
            if inner.contains_key("access_token") {
                obj = inner.clone();
            }
        }
    }
    for (from, to) in &rules.rename {
        if let Some(v) = obj.remove(from) {
            obj.entry(to.clone()).or_insert(v);
        }
    }
    strip_envelope(&mut obj);
    let options = TokenResponseOptions {
        allow_missing_token_type: rules.missing_token_type_is_bearer,
        expires_in_as_string: rules.expires_in_as_string,
        ..TokenResponseOptions::default()
    };
    let normalized = Value::Object(obj).to_string();
    crate::token::parse_token_response(
        200,
        Some("application/json"),
        normalized.as_bytes(),
        &options,
        now_unix,
    )
}

/// How one API response is read.
struct ApiRules<'a> {
    format: BodyFormat,
    errors: ErrorStyle,
    unwrap: Option<&'a str>,
}

fn parse_api(
    profile: &ProviderProfile,
    rules: &ApiRules<'_>,
    step: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Object, Error> {
    let decoded = decode(rules.format, content_type, body);
    if let Some(obj) = &decoded {
        if let Some(sig) = detect_error(rules.errors, status, obj) {
            return Err(map_signal(profile, status, step, sig));
        }
    }
    match status {
        200..=299 => {}
        401 | 403 => {
            return Err(Error::new(
                ErrorCode::InvalidGrant,
                format!(
                    "{} {step}: the provider rejected the access token (HTTP {status})",
                    profile.display_name
                ),
            ));
        }
        429 | 503 => {
            return Err(Error::new(
                ErrorCode::ProviderUnavailable,
                format!(
                    "{} {step}: the provider asked to retry later (HTTP {status})",
                    profile.display_name
                ),
            )
            .with_response(response_info(status, content_type, body)));
        }
        _ => {
            return Err(bad_response(
                profile,
                step,
                "unexpected HTTP status",
                status,
                content_type,
                body,
            ));
        }
    }
    let Some(obj) = decoded else {
        return Err(bad_response(
            profile,
            step,
            "the body is not a JSON object in the documented format",
            status,
            content_type,
            body,
        ));
    };
    match rules.unwrap {
        None => Ok(obj),
        Some(key) => match obj.get(key) {
            Some(Value::Object(inner)) => Ok(inner.clone()),
            _ => Err(bad_response(
                profile,
                step,
                "the payload member is missing",
                status,
                content_type,
                body,
            )),
        },
    }
}

fn parse_call(
    profile: &ProviderProfile,
    call: &ApiCall,
    step: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Object, Error> {
    parse_api(
        profile,
        &ApiRules {
            format: call.format,
            errors: call.errors,
            unwrap: call.unwrap.as_deref(),
        },
        step,
        status,
        content_type,
        body,
    )
}

/// Parses a userinfo response: the profile's format and error signal (Feishu `code` ≠ 0 on
/// 200, WeChat `errcode`, QQ `ret` ≠ 0, DingTalk `code`), 401/403 → `InvalidGrant`
/// (re-authenticate), 429/503 → `ProviderUnavailable`, the Feishu `data` envelope unwrapped.
/// Returns the profile object for [`super::normalize_user`].
pub fn parse_userinfo_response(
    profile: &ProviderProfile,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Value, Error> {
    let Some(call) = &profile.userinfo else {
        return Err(super::config_error(format!(
            "provider `{}` has no userinfo call",
            profile.id
        )));
    };
    parse_call(profile, call, "userinfo", status, content_type, body).map(Value::Object)
}

/// Parses QQ's `/oauth2.0/me` response (JSON or JSONP `callback( {...} );`), checks that its
/// `client_id` is ours (the token was issued to this app), and merges `openid` (and `unionid`
/// when present) into `context` for [`super::userinfo_request`] and [`super::normalize_user`].
pub fn parse_openid_response(
    profile: &ProviderProfile,
    client: &ClientCredentials,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    context: &mut Map<String, Value>,
) -> Result<(), Error> {
    let Some(call) = &profile.openid_step else {
        return Err(super::config_error(format!(
            "provider `{}` has no openid step",
            profile.id
        )));
    };
    let obj = parse_call(profile, call, "openid lookup", status, content_type, body)?;
    if let Some(Value::String(id)) = obj.get("client_id") {
        if id != &client.client_id {
            return Err(Error::new(
                ErrorCode::InvalidGrant,
                format!(
                    "{} openid lookup: the access token was issued to another client",
                    profile.display_name
                ),
            ));
        }
    }
    let Some(openid) = str_member(&obj, "openid") else {
        return Err(bad_response(
            profile,
            "openid lookup",
            "no `openid` in the response",
            status,
            content_type,
            body,
        ));
    };
    context.insert("openid".into(), Value::String(openid));
    if let Some(unionid) = str_member(&obj, "unionid") {
        context.insert("unionid".into(), Value::String(unionid));
    }
    Ok(())
}

/// Parses the WeCom app (corp) token response (`{errcode:0, access_token, expires_in}`) with
/// the same rules as [`parse_token_response`].
pub fn parse_app_token_response(
    profile: &ProviderProfile,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    now_unix: u64,
) -> Result<TokenSet, Error> {
    parse_token_response(profile, status, content_type, body, now_unix)
}

/// Parses the WeCom code-identity response (`{errcode:0, userid, user_ticket?}` or
/// `{openid, external_userid}`); `errcode` 40029 → `InvalidGrant`. Feed the result to
/// [`super::normalize_user`] with an empty context.
pub fn parse_code_identity_response(
    profile: &ProviderProfile,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Value, Error> {
    let mut obj = parse_api(
        profile,
        &ApiRules {
            format: profile.response.format,
            errors: profile.response.errors,
            unwrap: None,
        },
        "code lookup",
        status,
        content_type,
        body,
    )?;
    strip_envelope(&mut obj);
    // `user_ticket` is a bearer credential for getuserdetail: never keep it in `raw`.
    obj.remove("user_ticket");
    Ok(Value::Object(obj))
}

/// Parses a revocation response (RFC 7009 §2.2: 200 — also for unknown tokens; GitHub 204;
/// Weibo `{"result":"true"}`); 503/429 → `ProviderUnavailable` (retry later, §2.2.1); an
/// error body → the mapped typed error.
pub fn parse_revocation_response(
    profile: &ProviderProfile,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), Error> {
    let format = match profile.response.format {
        BodyFormat::Json => BodyFormat::JsonAnyContentType,
        other => other,
    };
    if let Some(obj) = decode(format, content_type, body) {
        if let Some(sig) = detect_error(profile.response.errors, status, &obj) {
            return Err(map_signal(profile, status, "revocation", sig));
        }
        if matches!(obj.get("result"), Some(Value::String(s)) if s == "false") {
            return Err(bad_response(
                profile,
                "revocation",
                "the provider did not revoke the token",
                status,
                content_type,
                body,
            ));
        }
    }
    match status {
        200..=299 => Ok(()),
        429 | 503 => Err(Error::new(
            ErrorCode::ProviderUnavailable,
            format!(
                "{} revocation: the provider asked to retry later (HTTP {status})",
                profile.display_name
            ),
        )),
        401 => Err(Error::new(
            ErrorCode::InvalidClient,
            format!(
                "{} revocation: client authentication failed (HTTP 401)",
                profile.display_name
            ),
        )),
        _ => Err(bad_response(
            profile,
            "revocation",
            "unexpected HTTP status",
            status,
            content_type,
            body,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            .is_some()
        );
        assert!(decode(BodyFormat::Json, Some("application/problem+json"), b"{}").is_some());
        assert!(decode(BodyFormat::Json, Some("text/plain"), b"{}").is_none());
        assert!(decode(BodyFormat::JsonAnyContentType, Some("text/plain"), b"{}").is_some());
        assert!(decode(BodyFormat::JsonAnyContentType, None, b"[1]").is_none());
    }

    /// Provider error signals per style (PROVIDERS.md summary table, "Error signalling").
    #[test]
    fn error_signals() {
        let o = |v: Value| match v {
            Value::Object(m) => m,
            _ => Object::new(),
        };
        assert!(
            detect_error(
                ErrorStyle::Rfc6749,
                200,
                &o(serde_json::json!({"error": "x"}))
            )
            .is_none()
        );
        assert!(
            detect_error(
                ErrorStyle::Rfc6749,
                400,
                &o(serde_json::json!({"error": "x"}))
            )
            .is_some()
        );
        assert!(
            detect_error(
                ErrorStyle::ErrorIn200,
                200,
                &o(serde_json::json!({"error": "x"}))
            )
            .is_some()
        );
        assert!(
            detect_error(
                ErrorStyle::Errcode,
                200,
                &o(serde_json::json!({"errcode": 0}))
            )
            .is_none()
        );
        assert_eq!(
            detect_error(
                ErrorStyle::Errcode,
                200,
                &o(serde_json::json!({"errcode": 40029}))
            )
            .map(|s| s.code),
            Some("40029".to_owned())
        );
        assert!(
            detect_error(
                ErrorStyle::NumericCode,
                200,
                &o(serde_json::json!({"code": 0}))
            )
            .is_none()
        );
        assert!(
            detect_error(
                ErrorStyle::NumericCode,
                400,
                &o(serde_json::json!({"code": 20003}))
            )
            .is_some()
        );
        assert!(
            detect_error(
                ErrorStyle::StringCode,
                400,
                &o(serde_json::json!({"code": "x"}))
            )
            .is_some()
        );
        assert!(
            detect_error(ErrorStyle::QqStyle, 200, &o(serde_json::json!({"ret": 0}))).is_none()
        );
        assert!(
            detect_error(
                ErrorStyle::QqStyle,
                200,
                &o(serde_json::json!({"ret": 1002}))
            )
            .is_some()
        );
        assert!(
            detect_error(
                ErrorStyle::QqStyle,
                200,
                &o(serde_json::json!({"error": 100020}))
            )
            .is_some()
        );
        // Microsoft: AADSTS code looked up first, RFC code reported.
        let s = detect_error(
            ErrorStyle::Rfc6749,
            400,
            &o(serde_json::json!({"error": "invalid_grant", "error_codes": [54005]})),
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
        let d = clean_description(format!("a\nb\u{1b}[31m{}", "x ".repeat(1000)));
        assert!(!d.contains('\n') && !d.contains('\u{1b}'));
        assert_eq!(d.chars().count(), MAX_DESCRIPTION);
    }

    /// SECURITY.md S14 (RFC 6749 §10.3, §10.5): a provider that echoes a code or token in its
    /// `error_description` (or error code) must not leak it into our errors and logs.
    /// Found by the `token_response` fuzz target (DingTalk profile, HTTP 400): the
    /// per-provider parser kept descriptions verbatim while the core parser redacted them.
    #[test]
    fn rfc6749_s10_3_provider_error_text_is_redacted() {
        const RT: &str = "PlAnT3dT0k3n_q8Zr7Yx6Wv5Ut4Ss3R";
        let body = format!(
            r#"{{"error":"invalid_request","error_description":"code=SplxlOBeZQQYbYS6WxSbIA was already used; refresh_token={RT}"}}"#
        );
        for name in ["dingtalk", "github", "google", "feishu"] {
            let profile = super::super::preset(name)
                .and_then(|p| p.resolve().ok())
                .expect("preset");
            let e =
                parse_token_response(&profile, 400, Some("application/json"), body.as_bytes(), 0)
                    .expect_err("an error response");
            let desc = e
                .provider_error()
                .and_then(|p| p.error_description.clone())
                .unwrap_or_default();
            let text = format!("{e} {desc}");
            assert!(!text.contains(RT), "{name}: {text}");
            assert!(!text.contains("SplxlOBeZQQYbYS6WxSbIA"), "{name}: {text}");
            assert!(desc.contains("[redacted]"), "{name}: {desc}");
        }
        // Identifiers survive: snake_case codes and short numeric codes.
        assert_eq!(
            clean_description("bad_verification_code".to_owned()),
            "bad_verification_code"
        );
        assert_eq!(clean_description("40029".to_owned()), "40029");
    }
}
