//! A configured provider at run time. Every provider — a preset, an OIDC provider by issuer, a
//! plain OAuth 2.0 provider by endpoints — is an [`authsplit_core::provider::ProviderProfile`]
//! built once at start-up from its [`ProviderConfig`] ([`Provider::new`]); discovery (cached,
//! single-flight) completes the profile of OIDC providers. This module executes the profile's
//! [`HttpRequestSpec`]s (never following redirects, never retrying), and caches the JWKS and
//! WeCom's app token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use authsplit_core::provider::{
    self as core_provider, ClientCredentials, HttpMethod, HttpRequestSpec, PRESET_NAMES,
    ProviderProfile,
};
use authsplit_core::secret::AccessToken;
use authsplit_core::token::TokenSet;
use authsplit_core::{Error, ErrorCode};
use tokio::sync::{Mutex, Semaphore};

use crate::config::{ClientAuth, ConfigError, ProviderConfig, check_endpoint};
use crate::error::ApiError;
use crate::outbound::{EndpointKind, Fetched, Outbound};

const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
const DISCOVERY_FAILURE_BACKOFF: Duration = Duration::from_secs(5);
const JWKS_TTL: Duration = Duration::from_secs(3600);
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(30);
/// A cached WeCom app token is renewed this long before it expires.
const APP_TOKEN_MARGIN_SECS: u64 = 120;

#[derive(Debug)]
enum Cached<T> {
    Empty,
    Ok(Arc<T>, Instant),
    Failed(Error, Instant),
}

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

/// A provider at run time.
#[derive(Debug)]
pub(crate) struct Provider {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub creds: ClientCredentials,
    pub redirect_uri: String,
    pub post_logout_redirect_uri: Option<String>,
    /// Whether an ID token is required in the token response.
    pub require_id_token: bool,
    pub algs: Vec<jsonwebtoken::Algorithm>,
    pub permits: Arc<Semaphore>,
    /// Config `require_iss`, applied after discovery too.
    require_iss: Option<bool>,
    /// The resolved profile (before discovery for OIDC-by-issuer providers).
    base: Arc<ProviderProfile>,
    discovery: Mutex<Cached<ProviderProfile>>,
    jwks: Mutex<Cached<jsonwebtoken::jwk::JwkSet>>,
    /// WeCom: the app (corp) token and its expiry (unix seconds).
    app_token: Mutex<Option<(AccessToken, u64)>>,
}

fn core_cfg(e: &Error) -> ConfigError {
    ConfigError(e.message.to_string())
}

/// `dev_origin`: `http(s)://` + a loopback host (+ port), nothing else.
fn check_dev_origin(id: &str, origin: &str) -> Result<String, ConfigError> {
    let what = format!("providers.{id}.dev_origin");
    let u = url::Url::parse(origin)
        .map_err(|_| ConfigError(format!("{what} is not an absolute URL: {origin}")))?;
    if !matches!(u.scheme(), "http" | "https")
        || !crate::config::is_loopback(&u)
        || u.path() != "/"
        || u.query().is_some()
        || u.fragment().is_some()
        || !u.username().is_empty()
        || u.password().is_some()
    {
        return Err(ConfigError(format!(
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
pub(crate) struct Built {
    pub profile: ProviderProfile,
    pub kind: Kind,
    pub creds: ClientCredentials,
    pub redirect_uri: String,
}

/// Turns a `[providers.<id>]` table into a resolved profile (see [`ProviderConfig`] for the
/// selection rules and the order: preset → convenience keys → `overrides` → `resolve` →
/// `dev_origin` → checks).
pub(crate) fn build_profile(
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
            return Err(ConfigError(format!(
                "{} is a Google client_secrets.json; it cannot be combined with preset `{}`",
                key("client_secrets_file"),
                cfg.preset.as_deref().unwrap_or_default()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "{}: cannot read {}: {}",
                key("client_secrets_file"),
                path.display(),
                e.kind()
            ))
        })?;
        let loaded = core_provider::google::from_client_secrets(&text)
            .map_err(|e| ConfigError(format!("{}: {}", key("client_secrets_file"), e.message)))?;
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
            .map_err(|e| ConfigError(format!("{}: {}", key("preset"), e.message)))?;
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
                return Err(ConfigError(format!(
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
        return Err(ConfigError(format!(
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
            .map_err(|e| ConfigError(format!("{}: {}", key("overrides"), e.message)))?;
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
        return Err(ConfigError(format!(
            "{} must not be empty",
            key("client_id")
        )));
    }
    let creds = ClientCredentials {
        client_id,
        client_secret: secret.map(authsplit_core::secret::ClientSecret::new),
    };
    if profile.check_client(&creds).is_err() || creds.client_secret.is_none() {
        return Err(ConfigError(format!(
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
                return Err(ConfigError(format!(
                    "{} `{r}` is not one of the client_secrets_file's redirect_uris",
                    key("redirect_uri")
                )));
            }
            r.clone()
        }
        (None, Some(r), _) => r.clone(),
        (None, None, Some(r)) => r.to_owned(),
        (None, None, None) => {
            return Err(ConfigError(format!(
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
    cfg.token_response.apply(&mut p.response);
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
            only_200: false,
        });
    }
    if let Some(method) = cfg.client_auth {
        if !matches!(method, ClientAuth::Basic | ClientAuth::Post) {
            return Err(ConfigError(format!(
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

impl Provider {
    pub fn new(
        id: &str,
        cfg: ProviderConfig,
        server_redirect_uri: Option<&str>,
        max_concurrent: usize,
        warnings: &mut Vec<String>,
    ) -> Result<Self, ConfigError> {
        let p = |f: &str| format!("providers.{id}.{f}");
        let built = build_profile(id, &cfg, server_redirect_uri, warnings)?;
        if let Some(u) = &cfg.post_logout_redirect_uri {
            check_endpoint(&p("post_logout_redirect_uri"), u)?;
        }
        // Default: an ID token is required when `openid` is requested — for presets only when
        // the preset speaks OIDC (has an issuer; DingTalk's `openid` scope is not OIDC).
        let require_id_token = cfg.require_id_token.unwrap_or_else(|| {
            let openid = built
                .profile
                .authorize
                .default_scopes
                .iter()
                .any(|s| s == "openid");
            openid
                && (!matches!(built.kind, Kind::Preset(_)) || built.profile.oidc.issuer.is_some())
        });
        let mut algs = Vec::new();
        for a in &cfg.id_token_algs {
            let alg: jsonwebtoken::Algorithm = a.parse().map_err(|_| {
                ConfigError(format!("{}: unknown algorithm {a}", p("id_token_algs")))
            })?;
            if matches!(
                alg,
                jsonwebtoken::Algorithm::HS256
                    | jsonwebtoken::Algorithm::HS384
                    | jsonwebtoken::Algorithm::HS512
            ) {
                return Err(ConfigError(format!(
                    "{}: only asymmetric algorithms are accepted",
                    p("id_token_algs")
                )));
            }
            algs.push(alg);
        }
        let base = Arc::new(built.profile);
        let discovery = if base.oidc.discovery {
            Cached::Empty
        } else {
            Cached::Ok(base.clone(), Instant::now())
        };
        Ok(Self {
            id: id.to_owned(),
            name: base.display_name.clone(),
            kind: built.kind,
            creds: built.creds,
            redirect_uri: built.redirect_uri,
            post_logout_redirect_uri: cfg.post_logout_redirect_uri.clone(),
            require_id_token,
            algs,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            require_iss: cfg.require_iss,
            base,
            discovery: Mutex::new(discovery),
            jwks: Mutex::new(Cached::Empty),
            app_token: Mutex::new(None),
        })
    }

    /// The preset name, if the provider runs on one.
    pub fn preset(&self) -> Option<&str> {
        match &self.kind {
            Kind::Preset(p) => Some(p),
            _ => None,
        }
    }

    /// The configured issuer, if any (before discovery).
    pub fn issuer(&self) -> Option<&str> {
        self.base.oidc.issuer.as_deref()
    }

    /// The resolved profile before discovery (for listings; use [`Provider::profile`] to run).
    pub fn base_profile(&self) -> &ProviderProfile {
        &self.base
    }

    /// The profile to run on: the resolved one, or — for OIDC by issuer — completed by verified
    /// discovery (cached for an hour, single-flight, failures retried after 5 s, a stale
    /// document kept when re-discovery fails).
    pub async fn profile(&self, out: &Outbound) -> Result<Arc<ProviderProfile>, Error> {
        if !self.base.oidc.discovery {
            return Ok(self.base.clone());
        }
        let mut slot = self.discovery.lock().await;
        match &*slot {
            Cached::Ok(e, at) if at.elapsed() < DISCOVERY_TTL => return Ok(e.clone()),
            Cached::Failed(e, at) if at.elapsed() < DISCOVERY_FAILURE_BACKOFF => {
                return Err(e.clone());
            }
            _ => {}
        }
        match self.discover(out).await {
            Ok(e) => {
                let e = Arc::new(e);
                *slot = Cached::Ok(e.clone(), Instant::now());
                Ok(e)
            }
            Err(err) => {
                if let Cached::Ok(e, _) = &*slot {
                    tracing::warn!(provider = %self.id, code = err.code().as_str(),
                        "re-discovery failed; keeping the previous document");
                    return Ok(e.clone());
                }
                *slot = Cached::Failed(err.clone(), Instant::now());
                Err(err)
            }
        }
    }

    async fn discover(&self, out: &Outbound) -> Result<ProviderProfile, Error> {
        let url = core_provider::discovery::discovery_url(&self.base)?;
        let req = out
            .client()
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/json");
        // Transport errors keep their code (timeout / unreachable stay retryable).
        let f = out
            .send(&self.id, EndpointKind::Discovery, &self.permits, req)
            .await?;
        // OIDC Discovery §4.3: the issuer must be identical to the configured one.
        let mut p = core_provider::discovery::apply_discovery(&self.base, f.status, &f.body)
            .map_err(|e| {
                if f.status != 200 {
                    e.with_response(f.info())
                } else {
                    e
                }
            })?;
        if let Some(r) = self.require_iss {
            p.oidc.iss_in_callback = r;
        }
        p.check()
            .map_err(|e| Error::new(ErrorCode::DiscoveryFailed, e.message))?;
        Ok(p)
    }

    /// The JWKS (cached; refetched when `kid` is unknown, at most every 30 s).
    pub async fn jwks(
        &self,
        out: &Outbound,
        profile: &ProviderProfile,
        want_kid: Option<&str>,
    ) -> Result<Arc<jsonwebtoken::jwk::JwkSet>, Error> {
        let Some(uri) = &profile.endpoints.jwks else {
            return Err(Error::new(
                ErrorCode::InvalidIdToken,
                "no jwks_uri for this provider",
            ));
        };
        let mut slot = self.jwks.lock().await;
        if let Cached::Ok(set, at) = &*slot {
            let has_kid = want_kid.is_none_or(|k| set.find(k).is_some());
            if at.elapsed() < JWKS_TTL && (has_kid || at.elapsed() < JWKS_MIN_REFETCH) {
                return Ok(set.clone());
            }
        }
        let req = out
            .client()
            .get(uri)
            .header(reqwest::header::ACCEPT, "application/json");
        let f = out
            .send(&self.id, EndpointKind::Jwks, &self.permits, req)
            .await?;
        if f.status != 200 {
            return Err(crate::outbound::unexpected("JWKS request failed", &f));
        }
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&f.body).map_err(|_| {
            Error::new(
                ErrorCode::ProviderBadResponse,
                "JWKS is not a valid JWK set",
            )
            .with_response(f.info())
        })?;
        let set = Arc::new(set);
        *slot = Cached::Ok(set.clone(), Instant::now());
        Ok(set)
    }

    /// Executes one request spec (no redirects, size cap, deadline; never retried).
    pub async fn execute(
        &self,
        out: &Outbound,
        kind: EndpointKind,
        spec: &HttpRequestSpec,
    ) -> Result<Fetched, Error> {
        let method = match spec.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let mut req = out.client().request(method, &spec.url);
        for (k, v) in &spec.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(b) = &spec.body {
            req = req.body(b.to_bytes());
        }
        out.send(&self.id, kind, &self.permits, req).await
    }

    /// Values a provider might echo back in an error text: the client secret (plain and as a
    /// Basic credential) plus `extra` (code, verifier, tokens).
    pub fn secrets(&self, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        if let Some(sec) = &self.creds.client_secret {
            v.push(sec.secret().to_owned());
            let basic = core_provider::basic_auth_value(&self.creds.client_id, sec.secret());
            v.push(basic.trim_start_matches("Basic ").to_owned());
        }
        v
    }

    /// A token request (code exchange or refresh) executed once and parsed with the profile's
    /// rules (RFC 6749 §5.1/§5.2 plus the provider's quirks). A 429/503 keeps its `Retry-After`.
    pub async fn token_call(
        &self,
        out: &Outbound,
        profile: &ProviderProfile,
        kind: EndpointKind,
        spec: &HttpRequestSpec,
        secrets: &[String],
        now: u64,
    ) -> Result<TokenSet, ApiError> {
        let f = self
            .execute(out, kind, spec)
            .await
            .map_err(|e| crate::outbound::scrub(e, secrets))?;
        core_provider::parse_token_response(
            profile,
            f.status,
            f.content_type.as_deref(),
            &f.body,
            now,
        )
        .map_err(|e| {
            ApiError::from(crate::outbound::scrub(e, secrets)).with_retry_after(f.retry_after)
        })
    }

    /// WeCom: the app (corp) token, cached until shortly before its `expires_in` ends.
    pub async fn app_token(
        &self,
        out: &Outbound,
        profile: &ProviderProfile,
        now: u64,
    ) -> Result<AccessToken, ApiError> {
        let mut slot = self.app_token.lock().await;
        if let Some((t, exp)) = &*slot
            && now < *exp
        {
            return Ok(t.clone());
        }
        let spec = core_provider::app_token_request(profile, &self.creds)?;
        let secrets = self.secrets(&[]);
        let set = self
            .token_call(out, profile, EndpointKind::Token, &spec, &secrets, now)
            .await?;
        let lifetime = set.expires_in.unwrap_or(7200);
        let exp = now + lifetime.saturating_sub(APP_TOKEN_MARGIN_SECS).max(1);
        *slot = Some((set.access_token.clone(), exp));
        Ok(set.access_token)
    }

    /// Forgets the cached app token (after WeCom refused it).
    pub async fn drop_app_token(&self) {
        *self.app_token.lock().await = None;
    }
}
