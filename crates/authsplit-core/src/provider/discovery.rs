//! OpenID Connect Discovery for [`super::generic_oidc`] and any profile with
//! `oidc.discovery = true` (OIDC Discovery 1.0 §4, RFC 8414 §3). Pure: the backend fetches
//! [`discovery_url`] (no redirects) and hands the response to [`apply_discovery`].

use serde_json::Value;

use super::{ClientAuth, ProviderProfile, check_endpoint_url};
use crate::Error;
use crate::error::ErrorCode;

fn failed(profile: &ProviderProfile, why: String) -> Error {
    Error::new(
        ErrorCode::DiscoveryFailed,
        format!("provider `{}`: discovery: {why}", profile.id),
    )
}

/// `{issuer}/.well-known/openid-configuration` (OIDC Discovery §4.1: a trailing `/` of the
/// issuer is removed before appending).
pub fn discovery_url(profile: &ProviderProfile) -> Result<String, Error> {
    let issuer = profile.oidc.issuer.as_deref().ok_or_else(|| {
        Error::new(
            ErrorCode::Configuration,
            format!(
                "provider `{}`: no issuer configured for discovery",
                profile.id
            ),
        )
    })?;
    check_endpoint_url(issuer, "issuer", &profile.id)?;
    Ok(format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ))
}

fn issuer_matches(profile: &ProviderProfile, configured: &str, discovered: &str) -> bool {
    if configured == discovered {
        return true;
    }
    if profile.oidc.issuer_trailing_slash_lenient
        && configured.trim_end_matches('/') == discovered.trim_end_matches('/')
    {
        return true;
    }
    // Microsoft multi-tenant metadata: the issuer is the `{tenantid}` template itself.
    profile.oidc.tenant_issuer_template.as_deref() == Some(discovered)
}

/// Applies a discovery document to a resolved profile and returns the updated profile:
/// - status 200 and a JSON object, else `DiscoveryFailed`;
/// - `issuer` must equal the configured issuer **exactly** (OIDC Discovery §4.3; RFC 8414 §3.3)
///   — except a trailing `/` where the profile allows it (LinuxDo), or Microsoft's
///   `{tenantid}` template for multi-tenant profiles;
/// - fills endpoints the configuration left empty (configured values win): authorization,
///   token, userinfo, revocation, end-session, JWKS; each must be https (http on loopback);
/// - `authorization_response_iss_parameter_supported` → `iss` required in the callback
///   (RFC 9207 §3);
/// - `code_challenge_methods_supported` with `S256` → PKCE sent; listed without `S256` →
///   `Configuration` for a profile that sends PKCE (RFC 9700 §2.1.1: never downgraded
///   silently); absent → the profile's setting;
/// - `token_endpoint_auth_methods_supported` (default `client_secret_basic`): keeps the
///   profile's method if listed, else switches between basic and post, else `Configuration`.
pub fn apply_discovery(
    profile: &ProviderProfile,
    status: u16,
    body: &[u8],
) -> Result<ProviderProfile, Error> {
    apply_discovery_with(profile, status, body, false).map(|d| d.profile)
}

/// What [`apply_discovery_with`] made of a discovery document.
#[derive(Clone, Debug)]
pub struct Discovered {
    /// The profile completed by the document.
    pub profile: ProviderProfile,
    /// Disagreements that did not change the profile (log them at start-up).
    pub warnings: Vec<String>,
}

/// [`apply_discovery`], where `client_auth_explicit` says the operator configured the profile's
/// token-endpoint client authentication: it is then kept even when the document's
/// `token_endpoint_auth_methods_supported` does not list it (metadata is often incomplete;
/// RFC 8414 §2 makes the member informative), with a warning instead of a switch or an error.
pub fn apply_discovery_with(
    profile: &ProviderProfile,
    status: u16,
    body: &[u8],
    client_auth_explicit: bool,
) -> Result<Discovered, Error> {
    let mut warnings = Vec::new();
    if status != 200 {
        return Err(failed(profile, format!("HTTP status {status}")));
    }
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(body) else {
        return Err(failed(profile, "the document is not a JSON object".into()));
    };
    let configured = profile.oidc.issuer.as_deref().ok_or_else(|| {
        Error::new(
            ErrorCode::Configuration,
            format!("provider `{}`: no issuer configured", profile.id),
        )
    })?;
    let Some(Value::String(discovered)) = doc.get("issuer") else {
        return Err(failed(profile, "no `issuer` in the document".into()));
    };
    if !issuer_matches(profile, configured, discovered) {
        return Err(failed(
            profile,
            format!(
                "the document's issuer `{discovered}` differs from the configured issuer `{configured}`; fix `issuer` in the configuration"
            ),
        ));
    }
    let mut out = profile.clone();
    let url = |key: &str| -> Result<Option<String>, Error> {
        match doc.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(u)) => {
                check_endpoint_url(u, key, &profile.id)
                    .map_err(|e| failed(profile, e.message.to_string()))?;
                Ok(Some(u.clone()))
            }
            Some(_) => Err(failed(profile, format!("`{key}` is not a string"))),
        }
    };
    let e = &mut out.endpoints;
    let fill = |slot: &mut Option<String>, v: Option<String>| {
        if slot.is_none() {
            *slot = v;
        }
    };
    fill(&mut e.authorization, url("authorization_endpoint")?);
    fill(&mut e.token, url("token_endpoint")?);
    fill(&mut e.userinfo, url("userinfo_endpoint")?);
    fill(&mut e.revocation, url("revocation_endpoint")?);
    fill(&mut e.end_session, url("end_session_endpoint")?);
    fill(&mut e.jwks, url("jwks_uri")?);
    if e.authorization.is_none() || e.token.is_none() {
        return Err(failed(
            profile,
            "the document lacks authorization_endpoint or token_endpoint".into(),
        ));
    }
    if e.userinfo.is_none() {
        out.userinfo = None;
    }
    if out.endpoints.revocation.is_some() && out.revocation.is_none() {
        out.revocation = Some(super::RevocationCall {
            method: super::HttpMethod::Post,
            encoding: super::ParamEncoding::Form,
            client_auth: out.token.client_auth,
            token_param: "token".into(),
            accepts_refresh_token: true,
            send_token_type_hint: true,
        });
    }
    if doc.get("authorization_response_iss_parameter_supported") == Some(&Value::Bool(true)) {
        out.oidc.iss_in_callback = true;
    }
    let s256 = match doc.get("code_challenge_methods_supported") {
        Some(Value::Array(methods)) => Some(methods.iter().any(|m| m.as_str() == Some("S256"))),
        _ => None,
    };
    if s256 == Some(true) {
        out.pkce = true;
    } else if s256 == Some(false) && out.pkce {
        return Err(Error::new(
            ErrorCode::Configuration,
            format!(
                "provider `{}`: discovery lists code_challenge_methods_supported without S256; \
                 PKCE S256 is required (RFC 9700 §2.1.1) and is never dropped — use a provider \
                 that supports S256",
                profile.id
            ),
        ));
    }
    let methods: Vec<&str> = match doc.get("token_endpoint_auth_methods_supported") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec!["client_secret_basic"],
    };
    let name = |a: ClientAuth| match a {
        ClientAuth::Basic => "client_secret_basic",
        ClientAuth::Post => "client_secret_post",
        ClientAuth::IdOnly | ClientAuth::None => "none",
    };
    let configured = name(out.token.client_auth);
    if client_auth_explicit && !methods.contains(&configured) {
        warnings.push(format!(
            "provider `{}`: discovery's token_endpoint_auth_methods_supported ({}) does not list \
             the configured client_auth {configured}; using {configured} as configured",
            profile.id,
            methods.join(", ")
        ));
    } else if !methods.contains(&configured) {
        out.token.client_auth = if methods.contains(&"client_secret_basic") {
            ClientAuth::Basic
        } else if methods.contains(&"client_secret_post") {
            ClientAuth::Post
        } else {
            return Err(Error::new(
                ErrorCode::Configuration,
                format!(
                    "provider `{}`: the token endpoint supports neither client_secret_basic nor client_secret_post",
                    profile.id
                ),
            ));
        };
        if let Some(r) = &mut out.revocation {
            if matches!(r.client_auth, ClientAuth::Basic | ClientAuth::Post) {
                r.client_auth = out.token.client_auth;
            }
        }
    }
    Ok(Discovered {
        profile: out,
        warnings,
    })
}
