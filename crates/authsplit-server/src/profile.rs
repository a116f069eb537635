//! Config → profile: turns one `[providers.<id>]` table ([`ProviderConfig`], what the operator
//! wrote) into what the server runs on — a resolved
//! [`authsplit_core::provider::ProviderProfile`], the client credentials, the redirect URI and
//! the [`Rules`] the code exchange follows. Runs once at start-up; every mistake is a
//! [`ConfigError`] naming the key. Nothing here does I/O except reading a Google
//! `client_secrets_file`.

use authsplit_core::Error;
use authsplit_core::provider::{
    self as core_provider, ClientCredentials, HttpMethod, PRESET_NAMES, ProviderProfile,
};
use authsplit_core::token::{BodyFormat, ErrorStyle, ResponseRules};

use crate::config::{ClientAuth, ConfigError, ProviderConfig, TokenQuirks, check_endpoint};

/// What kind of profile a provider runs on (for logs and `GET /config`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A named preset.
    Preset(String),
    /// `generic_oidc` (issuer) — discovery unless `discovery = false`.
    GenericOidc,
    /// `generic_oauth2` (explicit endpoints).
    GenericOauth2,
}

/// Which `id_token` members of a token response are validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdTokens {
    /// Every one (a generic provider: an ID token without a configured issuer is then a
    /// `configuration` error).
    Always,
    /// Only when the profile has an issuer; a preset that does not speak OpenID Connect may
    /// send an `id_token` member, which is neither validated nor used.
    WhenIssuer,
}

/// How a userinfo response is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserinfoReading {
    /// With the profile's response rules; a 5xx is the provider's failure whatever its body.
    Profile,
    /// OIDC Core §5.3.2: a 200 with a JSON object; anything else is a bad response.
    Strict,
}

/// The rules the code exchange and `/transactions` follow for one provider, decided here from
/// what the config selected, so the endpoint code reads data instead of asking what kind of
/// provider it talks to.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    pub id_tokens: IdTokens,
    pub userinfo: UserinfoReading,
    /// Whether a sign-in may end with no user at all (neither an ID token nor userinfo: a
    /// plain OAuth 2.0 provider configured without a userinfo endpoint).
    pub user_optional: bool,
    /// Whether the callback's `iss` is compared with the profile's OpenID issuer even when the
    /// provider does not advertise `iss` (RFC 9207 §2.4: an `iss` that does arrive must be the
    /// issuer). A preset's callback issuer is the profile's alone.
    pub issuer_from_oidc: bool,
    /// Whether the token response must carry an ID token (`openid` requested from a provider
    /// that speaks OpenID Connect, or `require_id_token`).
    pub require_id_token: bool,
}

impl Rules {
    /// A preset's rules: its profile says everything.
    fn preset(profile: &ProviderProfile, cfg: &ProviderConfig) -> Self {
        // An ID token is required when `openid` is requested from a preset that speaks OIDC
        // (has an issuer; DingTalk's `openid` scope is not OIDC).
        let require_id_token = cfg
            .require_id_token
            .unwrap_or_else(|| requests_openid(profile) && profile.oidc.issuer.is_some());
        Self {
            id_tokens: IdTokens::WhenIssuer,
            userinfo: UserinfoReading::Profile,
            user_optional: false,
            issuer_from_oidc: false,
            require_id_token,
        }
    }

    /// A generic provider's rules: RFC 6749 with the configured tolerances, OpenID Connect
    /// when configured by issuer.
    fn generic(profile: &ProviderProfile, cfg: &ProviderConfig, by_issuer: bool) -> Self {
        Self {
            id_tokens: IdTokens::Always,
            userinfo: UserinfoReading::Strict,
            user_optional: true,
            issuer_from_oidc: by_issuer,
            require_id_token: cfg
                .require_id_token
                .unwrap_or_else(|| requests_openid(profile)),
        }
    }
}

fn requests_openid(profile: &ProviderProfile) -> bool {
    profile
        .authorize
        .default_scopes
        .iter()
        .any(|s| s == "openid")
}

/// Everything a `[providers.<id>]` table translates to.
#[derive(Debug)]
pub(crate) struct Translated {
    pub id: String,
    pub profile: ProviderProfile,
    pub kind: Kind,
    pub creds: ClientCredentials,
    pub redirect_uri: String,
    pub post_logout_redirect_uri: Option<String>,
    /// `[providers.<id>.api]`, checked.
    pub api: Option<crate::proxy::ApiBase>,
    /// Accepted ID token signature algorithms (asymmetric only).
    pub algs: Vec<jsonwebtoken::Algorithm>,
    /// Config `require_iss`, applied again after discovery.
    pub require_iss: Option<bool>,
    /// `client_auth` was set in the configuration: it wins over discovery's
    /// `token_endpoint_auth_methods_supported` (a disagreement is only logged).
    pub client_auth_explicit: bool,
    pub rules: Rules,
}

/// Translates one provider table (see [`ProviderConfig`] for the selection rules and the
/// order: preset → convenience keys → `overrides` → `resolve` → `dev_origin` → checks).
pub(crate) fn translate(
    id: &str,
    cfg: &ProviderConfig,
    server_redirect_uri: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Translated, ConfigError> {
    let key = |f: &str| format!("providers.{id}.{f}");
    let built = build_profile(id, cfg, server_redirect_uri, warnings)?;
    if !built.profile.pkce {
        // RFC 7636 §1 / RFC 9700 §2.1.1: without PKCE at the provider nothing binds a code to
        // the browser that started the sign-in (docs/SECURITY.md S16).
        warnings.push(format!(
            "provider `{id}` ({}) does not support PKCE: nothing binds an authorization code \
             to the browser that started the sign-in, so a stolen code can be redeemed by \
             anyone through this backend; see docs/SECURITY.md S16 and \"Presets without PKCE\"",
            built.profile.display_name
        ));
    }
    if let Some(u) = &cfg.post_logout_redirect_uri {
        check_endpoint(&key("post_logout_redirect_uri"), u)?;
    }
    let mut algs = Vec::new();
    for a in &cfg.id_token_algs {
        let alg: jsonwebtoken::Algorithm = a.parse().map_err(|_| {
            crate::config::cfg_err(format!("{}: unknown algorithm {a}", key("id_token_algs")))
        })?;
        if matches!(
            alg,
            jsonwebtoken::Algorithm::HS256
                | jsonwebtoken::Algorithm::HS384
                | jsonwebtoken::Algorithm::HS512
        ) {
            return Err(crate::config::cfg_err(format!(
                "{}: only asymmetric algorithms are accepted",
                key("id_token_algs")
            )));
        }
        algs.push(alg);
    }
    let rules = match &built.kind {
        Kind::Preset(_) => Rules::preset(&built.profile, cfg),
        Kind::GenericOidc => Rules::generic(&built.profile, cfg, true),
        Kind::GenericOauth2 => Rules::generic(&built.profile, cfg, false),
    };
    Ok(Translated {
        id: id.to_owned(),
        profile: built.profile,
        kind: built.kind,
        creds: built.creds,
        redirect_uri: built.redirect_uri,
        post_logout_redirect_uri: cfg.post_logout_redirect_uri.clone(),
        api: cfg
            .api
            .as_ref()
            .map(|a| crate::proxy::ApiBase::from_config(&key("api"), a))
            .transpose()?,
        algs,
        require_iss: cfg.require_iss,
        client_auth_explicit: cfg.client_auth.is_some(),
        rules,
    })
}

fn core_cfg(e: &Error) -> ConfigError {
    crate::config::cfg_err(e.message.to_string())
}

/// `dev_origin`: `http(s)://` + a loopback host (+ port), nothing else.
fn check_dev_origin(id: &str, origin: &str) -> Result<String, ConfigError> {
    let what = format!("providers.{id}.dev_origin");
    let u = url::Url::parse(origin)
        .map_err(|_| crate::config::cfg_err(format!("{what} is not an absolute URL: {origin}")))?;
    if !matches!(u.scheme(), "http" | "https")
        || !crate::config::is_loopback(&u)
        || u.path() != "/"
        || u.query().is_some()
        || u.fragment().is_some()
        || !u.username().is_empty()
        || u.password().is_some()
    {
        return Err(crate::config::cfg_err(format!(
            "{what} must be a loopback origin such as http://127.0.0.1:PORT (DEV/TEST ONLY); got {origin}"
        )));
    }
    Ok(u.origin().ascii_serialization())
}

/// Whether the config names explicit endpoints (then an id equal to a preset name does not
/// select the preset).
fn has_explicit_endpoints(cfg: &ProviderConfig) -> bool {
    cfg.authorization_endpoint.is_some() || cfg.token_endpoint.is_some()
}

/// The profile, credentials and redirect URI a provider config describes; `warnings` collects
/// DEV-only notes.
struct Built {
    pub profile: ProviderProfile,
    pub kind: Kind,
    pub creds: ClientCredentials,
    pub redirect_uri: String,
}

/// Turns a `[providers.<id>]` table into a resolved profile (see [`ProviderConfig`] for the
/// selection rules and the order: preset → convenience keys → `overrides` → `resolve` →
/// `dev_origin` → checks).
fn build_profile(
    id: &str,
    cfg: &ProviderConfig,
    server_redirect_uri: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Built, ConfigError> {
    crate::config::check_provider_id(id)?;
    let key = |f: &str| format!("providers.{id}.{f}");
    let mut file_redirects: Vec<String> = Vec::new();
    let mut client_id = cfg.client_id.clone();
    let mut secret = cfg
        .client_secret
        .as_ref()
        .map(|s| s.secret().to_owned())
        .filter(|s| !s.is_empty());
    let (mut profile, kind) = if let Some(path) = &cfg.client_secrets_file {
        if cfg.preset.as_deref().is_some_and(|p| p != "google") {
            return Err(crate::config::cfg_err(format!(
                "{} is a Google client_secrets.json; it cannot be combined with preset `{}`",
                key("client_secrets_file"),
                cfg.preset.as_deref().unwrap_or_default()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            crate::config::cfg_err(format!(
                "{}: cannot read {}: {}",
                key("client_secrets_file"),
                path.display(),
                e.kind()
            ))
        })?;
        let loaded = core_provider::google::from_client_secrets(&text).map_err(|e| {
            crate::config::cfg_err(format!("{}: {}", key("client_secrets_file"), e.message))
        })?;
        if client_id.is_empty() {
            client_id = loaded.credentials.client_id.clone();
        }
        if secret.is_none() {
            secret = loaded
                .credentials
                .client_secret
                .as_ref()
                .map(|s| s.secret().to_owned());
        }
        file_redirects = loaded.redirect_uris.clone();
        (loaded.profile, Kind::Preset("google".to_owned()))
    } else if let Some(name) = &cfg.preset {
        let p = core_provider::preset_or_error(name)
            .map_err(|e| crate::config::cfg_err(format!("{}: {}", key("preset"), e.message)))?;
        (p, Kind::Preset(name.clone()))
    } else if cfg.issuer.is_none() && !has_explicit_endpoints(cfg) && PRESET_NAMES.contains(&id) {
        let p = core_provider::preset_or_error(id).map_err(|e| core_cfg(&e))?;
        (p, Kind::Preset(id.to_owned()))
    } else if let Some(issuer) = &cfg.issuer {
        check_endpoint(&key("issuer"), issuer)?;
        let mut p = core_provider::generic_oidc(id, issuer);
        // Compatible default: `openid` only (the config's `scopes` usually says more).
        p.authorize.default_scopes = vec!["openid".to_owned()];
        if !cfg.discovery {
            if !has_explicit_endpoints(cfg)
                || cfg.authorization_endpoint.is_none()
                || cfg.token_endpoint.is_none()
            {
                return Err(crate::config::cfg_err(format!(
                    "provider `{id}` has discovery = false: it needs both `authorization_endpoint` \
                     and `token_endpoint`"
                )));
            }
            p.oidc.discovery = false;
            if cfg.userinfo_endpoint.is_none() {
                p.userinfo = None;
            }
        }
        (p, Kind::GenericOidc)
    } else if let (Some(a), Some(t)) = (&cfg.authorization_endpoint, &cfg.token_endpoint) {
        let e = core_provider::Endpoints {
            authorization: Some(a.clone()),
            token: Some(t.clone()),
            userinfo: cfg.userinfo_endpoint.clone(),
            revocation: cfg.revocation_endpoint.clone(),
            end_session: cfg.end_session_endpoint.clone(),
            jwks: cfg.jwks_uri.clone(),
            ..core_provider::Endpoints::default()
        };
        (core_provider::generic_oauth2(id, e), Kind::GenericOauth2)
    } else {
        return Err(crate::config::cfg_err(format!(
            "provider `{id}` needs `preset` (one of: {}), `issuer` (OIDC discovery) or both \
             `authorization_endpoint` and `token_endpoint`",
            PRESET_NAMES.join(", ")
        )));
    };
    profile.id = id.to_owned();
    if let Some(n) = &cfg.name {
        profile.display_name = n.clone();
    }
    apply_convenience_keys(&mut profile, cfg, &kind)?;
    if let Some(o) = &cfg.overrides {
        profile = profile
            .with_overrides(o)
            .map_err(|e| crate::config::cfg_err(format!("{}: {}", key("overrides"), e.message)))?;
        // The id is the config table's, whatever the overrides say.
        profile.id = id.to_owned();
    }
    let mut profile = profile.resolve().map_err(|e| core_cfg(&e))?;
    if let Some(origin) = &cfg.dev_origin {
        let origin = check_dev_origin(id, origin)?;
        profile = profile.with_origin(&origin).map_err(|e| core_cfg(&e))?;
        warnings.push(format!(
            "DEV/TEST ONLY: providers.{id}.dev_origin = {origin}: every endpoint of `{id}` is \
             rebased onto this loopback origin; never use this in production"
        ));
    }
    if profile.oidc.discovery {
        core_provider::discovery::discovery_url(&profile).map_err(|e| core_cfg(&e))?;
    } else {
        profile.check().map_err(|e| core_cfg(&e))?;
    }
    if client_id.trim().is_empty() {
        return Err(crate::config::cfg_err(format!(
            "{} must not be empty",
            key("client_id")
        )));
    }
    let creds = ClientCredentials::with_secret(
        client_id,
        secret.map(authsplit_core::secret::ClientSecret::new),
    );
    if profile.check_client(&creds).is_err() || creds.client_secret.is_none() {
        return Err(crate::config::cfg_err(format!(
            "{} is required (set it with AUTHSPLIT__PROVIDERS__{}__CLIENT_SECRET)",
            key("client_secret"),
            id.to_ascii_uppercase()
        )));
    }
    let redirect_uri = match (
        &cfg.redirect_uri,
        file_redirects.first(),
        server_redirect_uri,
    ) {
        (Some(r), _, _) => {
            if !file_redirects.is_empty() && !file_redirects.contains(r) {
                return Err(crate::config::cfg_err(format!(
                    "{} `{r}` is not one of the client_secrets_file's redirect_uris",
                    key("redirect_uri")
                )));
            }
            r.clone()
        }
        (None, Some(r), _) => r.clone(),
        (None, None, Some(r)) => r.to_owned(),
        (None, None, None) => {
            return Err(crate::config::cfg_err(format!(
                "{} is required (or set a default `redirect_uri` in [server])",
                key("redirect_uri")
            )));
        }
    };
    check_endpoint(&key("redirect_uri"), &redirect_uri)?;
    Ok(Built {
        profile,
        kind,
        creds,
        redirect_uri,
    })
}

/// The convenience keys (`scopes`, endpoints, `client_auth`, …) written onto the profile.
fn apply_convenience_keys(
    p: &mut ProviderProfile,
    cfg: &ProviderConfig,
    kind: &Kind,
) -> Result<(), ConfigError> {
    let id = p.id.clone();
    let key = |f: &str| format!("providers.{id}.{f}");
    for (name, v, slot) in [
        (
            "authorization_endpoint",
            &cfg.authorization_endpoint,
            &mut p.endpoints.authorization,
        ),
        (
            "token_endpoint",
            &cfg.token_endpoint,
            &mut p.endpoints.token,
        ),
        (
            "userinfo_endpoint",
            &cfg.userinfo_endpoint,
            &mut p.endpoints.userinfo,
        ),
        (
            "revocation_endpoint",
            &cfg.revocation_endpoint,
            &mut p.endpoints.revocation,
        ),
        (
            "end_session_endpoint",
            &cfg.end_session_endpoint,
            &mut p.endpoints.end_session,
        ),
        ("jwks_uri", &cfg.jwks_uri, &mut p.endpoints.jwks),
    ] {
        if let Some(u) = v {
            check_endpoint(&key(name), u)?;
            *slot = Some(u.clone());
        }
    }
    if matches!(kind, Kind::Preset(_))
        && let Some(iss) = &cfg.issuer
    {
        check_endpoint(&key("issuer"), iss)?;
        p.oidc.issuer = Some(iss.clone());
    }
    if let Some(s) = &cfg.scopes {
        p.authorize.default_scopes = s.clone();
    }
    if let Some(s) = &cfg.scope_separator {
        p.authorize.scope_separator = s.clone();
    }
    if let Some(pr) = &cfg.prompt {
        p.authorize.prompt = Some(pr.clone());
    }
    for (k, v) in &cfg.extra_params {
        match p.authorize.extra_params.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v.clone(),
            None => p.authorize.extra_params.push((k.clone(), v.clone())),
        }
    }
    if cfg.authorize_quirks != authsplit_core::authorize::AuthorizeQuirks::default() {
        p.authorize.quirks = cfg.authorize_quirks.clone();
    }
    add_token_quirks(&cfg.token_response, &mut p.response);
    if let Some(c) = &cfg.code_param {
        p.authorize.callback_code_param = c.clone();
    }
    if let Some(f) = &cfg.subject_field {
        p.user.subject = vec![core_provider::SubjectSource::Field(f.clone())];
    }
    // An endpoint named in the config brings the standard call with it where the profile has
    // none (RFC 7009 revocation; Bearer JSON userinfo, OIDC Core §5.3).
    if cfg.revocation_endpoint.is_some() && p.revocation.is_none() {
        p.revocation = Some(core_provider::RevocationCall {
            method: HttpMethod::Post,
            encoding: core_provider::ParamEncoding::Form,
            client_auth: p.token.client_auth,
            token_param: "token".to_owned(),
            accepts_refresh_token: true,
            send_token_type_hint: true,
        });
    }
    if cfg.userinfo_endpoint.is_some() && p.userinfo.is_none() {
        p.userinfo = Some(core_provider::ApiCall {
            method: HttpMethod::Get,
            token: core_provider::TokenPlacement::Bearer,
            params: Vec::new(),
            headers: vec![("Accept".to_owned(), "application/json".to_owned())],
            format: core_provider::BodyFormat::Json,
            errors: core_provider::ErrorStyle::Rfc6749,
            unwrap: None,
        });
    }
    if let Some(method) = cfg.client_auth {
        if !matches!(method, ClientAuth::Basic | ClientAuth::Post) {
            return Err(crate::config::cfg_err(format!(
                "{} must be client_secret_basic or client_secret_post",
                key("client_auth")
            )));
        }
        p.token.client_auth = method;
        if let Some(r) = &mut p.revocation
            && matches!(
                r.client_auth,
                core_provider::ClientAuth::Basic | core_provider::ClientAuth::Post
            )
        {
            r.client_auth = method;
        }
    }
    if !cfg.userinfo {
        p.userinfo = None;
    }
    if let Some(r) = cfg.require_iss {
        p.oidc.iss_in_callback = r;
    }
    if !cfg.vars.is_empty() {
        for (k, v) in &cfg.vars {
            p.vars.insert(k.clone(), v.clone());
        }
    }
    if !cfg.allowed_tenants.is_empty() {
        p.oidc.allowed_tenants = cfg.allowed_tenants.clone();
    }
    Ok(())
}

/// Adds the configured `token_response` tolerances to a profile's response rules (the one
/// vocabulary the token parser reads): a generic provider is the RFC 6749 profile plus these.
fn add_token_quirks(q: &TokenQuirks, rules: &mut ResponseRules) {
    if q.allow_form_encoded {
        if rules.format != BodyFormat::JsonFormOrJsonp {
            rules.format = BodyFormat::JsonOrForm;
        }
    } else if q.allow_json_as_text && rules.format == BodyFormat::Json {
        rules.format = BodyFormat::JsonAnyContentType;
    }
    if q.error_in_200 || q.errcode_in_200 {
        // Added to what the profile reads already (GitHub's `error` stays read when
        // `errcode_in_200` is set too).
        let (error, errcode) = match rules.errors {
            ErrorStyle::ErrorIn200 => (true, false),
            ErrorStyle::Errcode => (false, true),
            ErrorStyle::ErrorOrErrcode => (true, true),
            _ => (false, false),
        };
        rules.errors = match (error || q.error_in_200, errcode || q.errcode_in_200) {
            (true, true) => ErrorStyle::ErrorOrErrcode,
            (true, false) => ErrorStyle::ErrorIn200,
            _ => ErrorStyle::Errcode,
        };
    }
    rules.expires_in_as_string |= q.expires_in_as_string;
    rules.missing_token_type_is_bearer |= q.allow_missing_token_type;
}
