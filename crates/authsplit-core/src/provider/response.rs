//! Response side: the token response through the one parser in [`crate::token`] with the
//! profile's [`super::ResponseRules`], and the other calls (userinfo, QQ `/me`, WeCom's code
//! lookup, revocation) through the same decoding and error signalling.

use serde_json::{Map, Value};

use super::request::ClientCredentials;
use super::{ApiCall, BodyFormat, ErrorStyle, ProviderProfile};
use crate::Error;
use crate::error::ErrorCode;
use crate::token::{TokenSet, decode, detect_error, response_info, signal_error};

type Object = Map<String, Value>;

fn str_member(obj: &Object, key: &str) -> Option<String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn map_signal(
    profile: &ProviderProfile,
    status: u16,
    step: &str,
    sig: crate::token::Signal,
) -> Error {
    signal_error(
        &format!("{} {step}", profile.display_name),
        &profile.response.error_map,
        status,
        sig,
    )
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

/// Envelope status members removed from a WeCom code-lookup body (`errcode: 0`, `errmsg`).
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

/// Parses a token endpoint response the way this provider sends it: the one parser
/// ([`crate::token::parse_token_response`]) with the profile's [`super::ResponseRules`], its
/// errors naming the provider. Never panics.
pub fn parse_token_response(
    profile: &ProviderProfile,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    now_unix: u64,
) -> Result<TokenSet, Error> {
    // The label is formatted only when an error message needs it.
    struct Label<'a>(&'a str);
    impl core::fmt::Display for Label<'_> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(f, "{} token request", self.0)
        }
    }
    crate::token::parse_token_response_as(
        &Label(&profile.display_name),
        status,
        content_type,
        body,
        &profile.response,
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
    let decoded = decode(rules.format, content_type, body).into_object();
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
    if let Some(obj) = decode(format, content_type, body).into_object() {
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

    /// docs/SECURITY.md S14 (RFC 6749 §10.3, §10.5): a provider that echoes a code or token in its
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
        for code in ["bad_verification_code", "40029"] {
            let body = format!(r#"{{"error":"{code}"}}"#);
            let profile = super::super::preset("github")
                .and_then(|p| p.resolve().ok())
                .expect("preset");
            let e =
                parse_token_response(&profile, 400, Some("application/json"), body.as_bytes(), 0)
                    .expect_err("an error response");
            assert!(e.message.contains(&format!("`{code}`")), "{}", e.message);
        }
    }
}
