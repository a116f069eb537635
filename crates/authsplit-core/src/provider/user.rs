//! The normalized user: `{ id: "<provider>:<subject>", provider, subject, name, email,
//! email_verified, avatar_url, raw }`, keyed by provider + stable subject — never an email.

use serde_json::{Map, Value};

use super::{AvatarSource, EmailVerified, ProviderProfile, SubjectSource};
use crate::Error;
use crate::error::ErrorCode;
use crate::wire::User;

/// Longest subject accepted (characters).
pub const MAX_SUBJECT_LEN: usize = 255;
/// Longest name / email / avatar URL kept (characters); longer values are dropped.
const MAX_FIELD_LEN: usize = 2048;

fn lookup<'a>(
    userinfo: &'a Value,
    context: &'a Map<String, Value>,
    key: &str,
) -> Option<&'a Value> {
    userinfo
        .as_object()
        .and_then(|o| o.get(key))
        .filter(|v| !v.is_null())
        .or_else(|| context.get(key).filter(|v| !v.is_null()))
}

/// A string, or an integer as its decimal string (GitHub `id`, Weibo `id`).
fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() && s.chars().count() <= MAX_FIELD_LEN => {
            Some(s.clone())
        }
        _ => None,
    }
}

fn first_text(userinfo: &Value, context: &Map<String, Value>, keys: &[String]) -> Option<String> {
    keys.iter()
        .find_map(|k| lookup(userinfo, context, k).and_then(text))
}

fn subject(
    profile: &ProviderProfile,
    userinfo: &Value,
    context: &Map<String, Value>,
) -> Option<String> {
    profile.user.subject.iter().find_map(|source| match source {
        SubjectSource::Field(f) => lookup(userinfo, context, f).and_then(id_string),
        SubjectSource::Join { fields, separator } => {
            let parts: Option<Vec<String>> = fields
                .iter()
                .map(|f| lookup(userinfo, context, f).and_then(id_string))
                .collect();
            parts.map(|p| p.join(separator))
        }
    })
}

fn avatar(
    profile: &ProviderProfile,
    userinfo: &Value,
    context: &Map<String, Value>,
) -> Option<String> {
    profile.user.avatar.iter().find_map(|source| match source {
        AvatarSource::Field(f) => lookup(userinfo, context, f).and_then(text),
        AvatarSource::Template(t) => fill_template(t, userinfo, context),
    })
}

/// `{member}` placeholders from the profile; `{size}` (LinuxDo's avatar template) becomes 120
/// when no member of that name exists. `None` when a member is missing.
fn fill_template(template: &str, userinfo: &Value, context: &Map<String, Value>) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        let value = lookup(userinfo, context, name).and_then(id_string);
        match value {
            Some(v) => {
                // A value may itself contain `{size}` (LinuxDo `avatar_template`).
                out.push_str(&v.replace("{size}", "120"));
            }
            None if name == "size" => out.push_str("120"),
            None => return None,
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    (out.chars().count() <= MAX_FIELD_LEN).then_some(out)
}

fn boolish(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Builds the normalized user from the userinfo object (or `Value::Null` when the profile has
/// no userinfo call, e.g. WeChat `snsapi_base`) and a context map: the token response's
/// `extra` members (WeChat `openid`/`unionid`, Weibo `uid`), the QQ openid step's members, and
/// — for OIDC providers — the **validated** ID token claims (Microsoft's `tid`/`oid` live only
/// there). Members are looked up in the userinfo first, then in the context.
///
/// The subject is the provider's stable id per [`super::UserMapping::subject`] (first match):
/// a non-empty string or an integer (GitHub `id`), ≤255 characters, no control characters.
/// `id` is `"<provider id>:<subject>"`. `raw` is the userinfo object (the context when there is
/// none). Missing subject → `ProviderBadResponse`. Never panics on any JSON.
pub fn normalize_user(
    profile: &ProviderProfile,
    userinfo: &Value,
    context: &Map<String, Value>,
) -> Result<User, Error> {
    let Some(subject) = subject(profile, userinfo, context) else {
        return Err(Error::new(
            ErrorCode::ProviderBadResponse,
            format!(
                "{}: the user's stable id ({}) is missing from the profile",
                profile.display_name,
                describe_subject(profile)
            ),
        ));
    };
    if subject.chars().count() > MAX_SUBJECT_LEN || subject.chars().any(char::is_control) {
        return Err(Error::new(
            ErrorCode::ProviderBadResponse,
            format!(
                "{}: the user's id is too long or contains control characters",
                profile.display_name
            ),
        ));
    }
    let m = &profile.user;
    for flag in &m.reject_if_true {
        let set = match lookup(userinfo, context, flag) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            Some(Value::String(s)) => s == "1" || s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        if set {
            return Err(Error::new(
                ErrorCode::AccessDenied,
                format!(
                    "{}: the provider marks this sign-in as `{flag}`; it is not a real account (ask the user to open the full page and sign in again)",
                    profile.display_name
                ),
            ));
        }
    }
    let email = first_text(userinfo, context, &m.email);
    let email_verified = match (&email, &m.email_verified) {
        (None, _) | (_, EmailVerified::Unknown) => None,
        (Some(_), EmailVerified::Field(f)) => lookup(userinfo, context, f).and_then(boolish),
        (Some(_), EmailVerified::Fixed(b)) => Some(*b),
    };
    let mut raw = match userinfo {
        Value::Object(o) => o.clone(),
        _ => context.clone(),
    };
    for key in &m.omit_from_raw {
        raw.remove(key);
    }
    let raw = Value::Object(raw);
    Ok(User {
        id: format!("{}:{subject}", profile.id),
        provider: profile.id.clone(),
        subject,
        name: first_text(userinfo, context, &m.name),
        email,
        email_verified,
        avatar_url: avatar(profile, userinfo, context),
        raw,
    })
}

fn describe_subject(profile: &ProviderProfile) -> String {
    profile
        .user
        .subject
        .iter()
        .map(|s| match s {
            SubjectSource::Field(f) => format!("`{f}`"),
            SubjectSource::Join { fields, .. } => fields
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join("+"),
        })
        .collect::<Vec<_>>()
        .join(" or ")
}
