//! Logout tokens of OIDC Back-Channel Logout 1.0: what §2.4 says a logout token is and the checks
//! of §2.6 an RP makes before ending sessions. The signature and the claims it shares with an ID
//! token (`iss`, `aud`, `exp`, `iat`) are checked by [`crate::idtoken`], so both token kinds
//! follow one rule; this module adds what is particular to logout tokens (docs/SECURITY.md S18).

use authsplit_core::{Error, ErrorCode};
use serde_json::{Map, Value};

use crate::idtoken::Expect;

/// The `events` member that makes a JWT a logout token (§2.4).
pub(crate) const BACKCHANNEL_LOGOUT_EVENT: &str =
    "http://schemas.openid.net/event/backchannel-logout";

/// Which sessions a logout token ends: those of the provider session `sid` when it names one,
/// else every session of the user `sub` (§2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The provider's session.
    Sid(String),
    /// The user.
    Sub(String),
}

/// What a valid logout token asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogoutRequest {
    /// The sessions to end.
    pub target: Target,
    /// The token's id, used once (§2.6 step 8).
    pub jti: String,
    /// When the token stops being acceptable (unix seconds): until then its `jti` is kept.
    pub acceptable_until: u64,
}

fn bad(msg: &'static str) -> Error {
    Error::new(ErrorCode::InvalidRequest, msg)
}

/// The `typ` header values a logout token may carry: none, plain `JWT`, or the explicit type of
/// §2.4 (`logout+jwt`, with or without the `application/` prefix), compared case-insensitively.
fn typ_allowed(typ: Option<&str>) -> bool {
    match typ {
        None => true,
        Some(t) => {
            let t = t.to_ascii_lowercase();
            let t = t.strip_prefix("application/").unwrap_or(&t);
            t == "jwt" || t == "logout+jwt"
        }
    }
}

fn non_empty_str<'a>(c: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Error> {
    match c.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err(bad("a logout token claim has the wrong type")),
    }
}

/// The checks of §2.6 after the signature (step 2, [`crate::idtoken::verify_signature`]):
/// `iss`, `aud`, `exp`, `iat` as for an ID token (step 3), then `sub` and/or `sid` (step 4),
/// the `events` member (step 5), no `nonce` (step 6, so an ID token is never taken for a logout
/// token), a `jti` (step 8 uses it once).
pub(crate) fn check_claims(
    typ: Option<&str>,
    c: &Map<String, Value>,
    expect: &Expect<'_>,
) -> Result<LogoutRequest, Error> {
    if !typ_allowed(typ) {
        return Err(bad("the logout token's typ is not a logout token type"));
    }
    crate::idtoken::check_issued_for_us(c, expect)
        .map_err(|e| Error::new(ErrorCode::InvalidRequest, e.message))?;
    let sub = non_empty_str(c, "sub")?;
    let target = match (non_empty_str(c, "sid")?, sub) {
        (Some(sid), _) => Target::Sid(sid.to_owned()),
        (None, Some(sub)) => Target::Sub(sub.to_owned()),
        (None, None) => return Err(bad("the logout token names neither sub nor sid")),
    };
    let event_ok = c
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !event_ok {
        return Err(bad(
            "the logout token's events claim has no back-channel logout event",
        ));
    }
    if c.contains_key("nonce") {
        return Err(bad("a logout token must not carry a nonce"));
    }
    let jti = non_empty_str(c, "jti")?.ok_or_else(|| bad("the logout token has no jti"))?;
    let exp = c.get("exp").and_then(Value::as_u64).unwrap_or(0);
    Ok(LogoutRequest {
        target,
        jti: jti.to_owned(),
        acceptable_until: exp + crate::idtoken::LEEWAY_SECS,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile() -> &'static authsplit_core::provider::ProviderProfile {
        static P: std::sync::OnceLock<authsplit_core::provider::ProviderProfile> =
            std::sync::OnceLock::new();
        P.get_or_init(|| authsplit_core::provider::generic_oidc("op", "https://op.example"))
    }

    const NOW: u64 = 1_700_000_000;

    fn expect() -> Expect<'static> {
        Expect {
            issuers: vec!["https://op.example"],
            profile: profile(),
            client_id: "app",
            nonce: None,
            refreshed: false,
            now: NOW,
        }
    }

    fn good() -> Map<String, Value> {
        match json!({"iss":"https://op.example","aud":"app","iat":NOW,"exp":NOW+120,
            "jti":"j-1","sid":"s-1","sub":"u-1",
            "events":{BACKCHANNEL_LOGOUT_EVENT:{}}})
        {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    // OIDC Back-Channel Logout 1.0 §2.4, §2.6: a well-formed logout token.
    #[test]
    fn a_good_logout_token_names_its_session_and_user() {
        let r = check_claims(Some("logout+jwt"), &good(), &expect()).unwrap();
        assert_eq!(r.target, Target::Sid("s-1".to_owned()), "sid wins over sub");
        assert_eq!(r.jti, "j-1");
        assert_eq!(r.acceptable_until, NOW + 120 + crate::idtoken::LEEWAY_SECS);
        let mut only_sub = good();
        only_sub.remove("sid");
        let r = check_claims(None, &only_sub, &expect()).unwrap();
        assert_eq!(r.target, Target::Sub("u-1".to_owned()));
        let mut only_sid = good();
        only_sid.remove("sub");
        assert!(check_claims(Some("JWT"), &only_sid, &expect()).is_ok());
    }

    // §2.6 steps 3–6 and 8: each missing or wrong claim refuses the token.
    #[test]
    fn each_broken_claim_refuses_the_token() {
        type Edit = Box<dyn Fn(&mut Map<String, Value>)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "iss",
                Box::new(|c| drop(c.insert("iss".into(), json!("https://evil.example")))),
            ),
            (
                "aud",
                Box::new(|c| drop(c.insert("aud".into(), json!("other")))),
            ),
            (
                "exp",
                Box::new(|c| drop(c.insert("exp".into(), json!(NOW - 1000)))),
            ),
            ("no exp", Box::new(|c| drop(c.remove("exp")))),
            (
                "iat",
                Box::new(|c| drop(c.insert("iat".into(), json!(NOW + 10_000)))),
            ),
            (
                "nonce",
                Box::new(|c| drop(c.insert("nonce".into(), json!("n")))),
            ),
            ("no events", Box::new(|c| drop(c.remove("events")))),
            (
                "other event",
                Box::new(|c| drop(c.insert("events".into(), json!({"http://example/other":{}})))),
            ),
            (
                "event not an object",
                Box::new(|c| {
                    drop(c.insert("events".into(), json!({BACKCHANNEL_LOGOUT_EVENT: "yes"})))
                }),
            ),
            (
                "no sub, no sid",
                Box::new(|c| {
                    c.remove("sub");
                    c.remove("sid");
                }),
            ),
            (
                "sid not a string",
                Box::new(|c| drop(c.insert("sid".into(), json!(7)))),
            ),
            ("no jti", Box::new(|c| drop(c.remove("jti")))),
            (
                "empty jti",
                Box::new(|c| drop(c.insert("jti".into(), json!("")))),
            ),
        ];
        for (name, edit) in cases {
            let mut c = good();
            edit(&mut c);
            let r = check_claims(Some("logout+jwt"), &c, &expect()).map_err(|e| e.code());
            assert_eq!(r, Err(ErrorCode::InvalidRequest), "{name}");
        }
        let r = check_claims(Some("at+jwt"), &good(), &expect()).map_err(|e| e.code());
        assert_eq!(r, Err(ErrorCode::InvalidRequest), "typ");
    }
}
