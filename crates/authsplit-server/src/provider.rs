//! A configured provider at run time: endpoints (explicit or from verified OIDC discovery,
//! cached), the JWKS cache, client authentication, and the token/refresh/revocation/userinfo
//! calls. Provider presets (a later issue) only need to fill a [`ProviderConfig`]: quirks live in
//! `authorize_quirks`, `token_response`, `subject_field`, `code_param`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use authsplit_core::authorize::AuthorizeTemplate;
use authsplit_core::token::{TokenResponseOptions, TokenSet};
use authsplit_core::{Error, ErrorCode};
use base64::Engine as _;
use serde::Deserialize;
use tokio::sync::{Mutex, Semaphore};

use crate::config::{ClientAuth, ConfigError, ProviderConfig, check_endpoint};
use crate::error::ApiError;
use crate::outbound::{EndpointKind, Fetched, Outbound, unexpected};

const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
const DISCOVERY_FAILURE_BACKOFF: Duration = Duration::from_secs(5);
const JWKS_TTL: Duration = Duration::from_secs(3600);
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(30);

/// The endpoints a provider uses, after discovery and overrides.
#[derive(Clone, Debug)]
pub(crate) struct Endpoints {
    pub issuer: Option<String>,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub require_iss: bool,
}

/// The discovery document members we read (OpenID Connect Discovery 1.0 §3).
#[derive(Debug, Deserialize)]
struct DiscoveryDoc {
    issuer: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
    jwks_uri: Option<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

#[derive(Debug)]
enum Cached<T> {
    Empty,
    Ok(Arc<T>, Instant),
    Failed(Error, Instant),
}

/// A provider at run time.
#[derive(Debug)]
pub(crate) struct Provider {
    pub id: String,
    pub name: String,
    pub cfg: ProviderConfig,
    pub scopes: Vec<String>,
    pub require_id_token: bool,
    pub algs: Vec<jsonwebtoken::Algorithm>,
    pub token_options: TokenResponseOptions,
    pub permits: Arc<Semaphore>,
    discovery: Mutex<Cached<Endpoints>>,
    jwks: Mutex<Cached<jsonwebtoken::jwk::JwkSet>>,
}

impl Provider {
    pub fn new(id: &str, cfg: ProviderConfig, max_concurrent: usize) -> Result<Self, ConfigError> {
        crate::config::check_provider_id(id)?;
        let p = |f: &str| format!("providers.{id}.{f}");
        let redirect = check_endpoint(&p("redirect_uri"), &cfg.redirect_uri)?;
        let _ = redirect; // used verbatim as configured (RFC 6749 §3.1.2)
        if let Some(u) = &cfg.post_logout_redirect_uri {
            check_endpoint(&p("post_logout_redirect_uri"), u)?;
        }
        if cfg.client_id.is_empty() {
            return Err(ConfigError(format!("{} must not be empty", p("client_id"))));
        }
        match &cfg.client_secret {
            Some(s) if !s.expose().is_empty() => {}
            _ => {
                return Err(ConfigError(format!(
                    "{} is required (set it with AUTHSPLIT__PROVIDERS__{}__CLIENT_SECRET)",
                    p("client_secret"),
                    id.to_ascii_uppercase()
                )));
            }
        }
        if let Some(iss) = &cfg.issuer {
            check_endpoint(&p("issuer"), iss)?;
        }
        for (name, v) in [
            ("authorization_endpoint", &cfg.authorization_endpoint),
            ("token_endpoint", &cfg.token_endpoint),
            ("userinfo_endpoint", &cfg.userinfo_endpoint),
            ("revocation_endpoint", &cfg.revocation_endpoint),
            ("end_session_endpoint", &cfg.end_session_endpoint),
            ("jwks_uri", &cfg.jwks_uri),
        ] {
            if let Some(u) = v {
                check_endpoint(&p(name), u)?;
            }
        }
        let discovers = cfg.issuer.is_some() && cfg.discovery;
        if !discovers && (cfg.authorization_endpoint.is_none() || cfg.token_endpoint.is_none()) {
            return Err(ConfigError(format!(
                "provider `{id}` needs `issuer` (OIDC discovery) or both `authorization_endpoint` \
                 and `token_endpoint`"
            )));
        }
        let scopes = cfg.scopes.clone().unwrap_or_else(|| {
            if cfg.issuer.is_some() {
                vec!["openid".to_owned()]
            } else {
                Vec::new()
            }
        });
        let require_id_token = cfg
            .require_id_token
            .unwrap_or_else(|| scopes.iter().any(|s| s == "openid"));
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
        let discovery = if discovers {
            Cached::Empty
        } else {
            Cached::Ok(Arc::new(Self::explicit_endpoints(&cfg)?), Instant::now())
        };
        Ok(Self {
            id: id.to_owned(),
            name: cfg.name.clone().unwrap_or_else(|| id.to_owned()),
            token_options: cfg.token_response.to_core(),
            scopes,
            require_id_token,
            algs,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            discovery: Mutex::new(discovery),
            jwks: Mutex::new(Cached::Empty),
            cfg,
        })
    }

    fn explicit_endpoints(cfg: &ProviderConfig) -> Result<Endpoints, ConfigError> {
        let (Some(a), Some(t)) = (&cfg.authorization_endpoint, &cfg.token_endpoint) else {
            return Err(ConfigError("missing endpoints".to_owned()));
        };
        Ok(Endpoints {
            issuer: cfg.issuer.clone(),
            authorization_endpoint: a.clone(),
            token_endpoint: t.clone(),
            userinfo_endpoint: cfg.userinfo_endpoint.clone(),
            revocation_endpoint: cfg.revocation_endpoint.clone(),
            end_session_endpoint: cfg.end_session_endpoint.clone(),
            jwks_uri: cfg.jwks_uri.clone(),
            require_iss: cfg.require_iss.unwrap_or(false),
        })
    }

    /// The endpoints, running (cached, single-flight) discovery when configured by issuer.
    pub async fn endpoints(&self, out: &Outbound) -> Result<Arc<Endpoints>, Error> {
        let mut slot = self.discovery.lock().await;
        match &*slot {
            Cached::Ok(e, at) if self.cfg.issuer.is_none() || !self.cfg.discovery => {
                let _ = at;
                return Ok(e.clone());
            }
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
                // Keep serving a stale document if we had one.
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

    async fn discover(&self, out: &Outbound) -> Result<Endpoints, Error> {
        let Some(issuer) = &self.cfg.issuer else {
            return Err(Error::new(ErrorCode::Configuration, "no issuer configured"));
        };
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let req = out
            .client()
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/json");
        let f = out
            .send(&self.id, EndpointKind::Discovery, &self.permits, req)
            .await
            .map_err(|e| discovery_err(e.message.to_string(), Some(e)))?;
        if f.status != 200 {
            return Err(unexpected("discovery document request failed", &f)
                .with_code(ErrorCode::DiscoveryFailed));
        }
        let doc: DiscoveryDoc = serde_json::from_slice(&f.body).map_err(|_| {
            Error::new(
                ErrorCode::DiscoveryFailed,
                "discovery document is not valid JSON",
            )
            .with_response(f.info())
        })?;
        // OIDC Discovery §4.3: the issuer must be identical to the one configured.
        if doc.issuer != *issuer {
            return Err(Error::new(
                ErrorCode::DiscoveryFailed,
                format!(
                    "provider `{}`: discovered issuer `{}` differs from the configured `{}` \
                     (they must be identical, OIDC Discovery §4.3)",
                    self.id, doc.issuer, issuer
                ),
            ));
        }
        let pick = |cfgv: &Option<String>,
                    docv: Option<String>,
                    name: &str|
         -> Result<Option<String>, Error> {
            let v = cfgv.clone().or(docv);
            if let Some(u) = &v {
                check_endpoint(name, u).map_err(|e| Error::new(ErrorCode::DiscoveryFailed, e.0))?;
            }
            Ok(v)
        };
        let authorization_endpoint = pick(
            &self.cfg.authorization_endpoint,
            doc.authorization_endpoint,
            "discovered authorization_endpoint",
        )?
        .ok_or_else(|| Error::new(ErrorCode::DiscoveryFailed, "no authorization_endpoint"))?;
        let token_endpoint = pick(
            &self.cfg.token_endpoint,
            doc.token_endpoint,
            "discovered token_endpoint",
        )?
        .ok_or_else(|| Error::new(ErrorCode::DiscoveryFailed, "no token_endpoint"))?;
        Ok(Endpoints {
            issuer: Some(issuer.clone()),
            authorization_endpoint,
            token_endpoint,
            userinfo_endpoint: pick(
                &self.cfg.userinfo_endpoint,
                doc.userinfo_endpoint,
                "discovered userinfo_endpoint",
            )?,
            revocation_endpoint: pick(
                &self.cfg.revocation_endpoint,
                doc.revocation_endpoint,
                "discovered revocation_endpoint",
            )?,
            end_session_endpoint: pick(
                &self.cfg.end_session_endpoint,
                doc.end_session_endpoint,
                "discovered end_session_endpoint",
            )?,
            jwks_uri: pick(&self.cfg.jwks_uri, doc.jwks_uri, "discovered jwks_uri")?,
            require_iss: self
                .cfg
                .require_iss
                .unwrap_or(doc.authorization_response_iss_parameter_supported),
        })
    }

    /// The JWKS (cached; refetched when `kid` is unknown, at most every 30 s).
    pub async fn jwks(
        &self,
        out: &Outbound,
        ep: &Endpoints,
        want_kid: Option<&str>,
    ) -> Result<Arc<jsonwebtoken::jwk::JwkSet>, Error> {
        let Some(uri) = &ep.jwks_uri else {
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
            return Err(unexpected("JWKS request failed", &f));
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

    /// The authorization template the browser builds its URL from.
    pub fn authorize_template(&self, ep: &Endpoints) -> AuthorizeTemplate {
        let mut t = AuthorizeTemplate::new(
            ep.authorization_endpoint.clone(),
            self.cfg.client_id.clone(),
            self.cfg.redirect_uri.clone(),
        );
        t.scopes = self.scopes.clone();
        if let Some(sep) = &self.cfg.scope_separator {
            t.scope_separator = sep.clone();
        }
        t.prompt = self.cfg.prompt.clone();
        t.extra_params = self
            .cfg
            .extra_params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        t.quirks = self.cfg.authorize_quirks.clone();
        t
    }

    /// Adds client authentication (RFC 6749 §2.3.1) to a form request: Basic with id and secret
    /// form-urlencoded before base64, or both in the body. Exactly one method.
    fn authenticate(
        &self,
        req: reqwest::RequestBuilder,
        form: &mut Vec<(&'static str, String)>,
    ) -> reqwest::RequestBuilder {
        let secret = self
            .cfg
            .client_secret
            .as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_default();
        match self.cfg.client_auth {
            ClientAuth::ClientSecretBasic => req.header(
                reqwest::header::AUTHORIZATION,
                basic_auth_value(&self.cfg.client_id, &secret),
            ),
            ClientAuth::ClientSecretPost => {
                form.push(("client_id", self.cfg.client_id.clone()));
                form.push(("client_secret", secret));
                req
            }
        }
    }

    /// One form POST with client authentication; returns the raw response. Never retried.
    pub async fn post_form(
        &self,
        out: &Outbound,
        kind: EndpointKind,
        url: &str,
        mut form: Vec<(&'static str, String)>,
    ) -> Result<Fetched, Error> {
        let req = out
            .client()
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json");
        let req = self.authenticate(req, &mut form);
        let body = encode_form(&form);
        let req = req
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        out.send(&self.id, kind, &self.permits, req).await
    }

    /// A token request (code exchange or refresh) parsed with the core parser (RFC 6749 §5.1/§5.2).
    /// A 429/503 answer keeps its `Retry-After`.
    pub async fn token_request(
        &self,
        out: &Outbound,
        ep: &Endpoints,
        kind: EndpointKind,
        form: Vec<(&'static str, String)>,
        now: u64,
    ) -> Result<TokenSet, ApiError> {
        // Values a provider might echo back in an error text: never pass them on.
        let mut secrets: Vec<String> = form
            .iter()
            .filter(|(k, _)| matches!(*k, "code" | "code_verifier" | "refresh_token"))
            .map(|(_, v)| v.clone())
            .collect();
        if let Some(sec) = &self.cfg.client_secret {
            secrets.push(sec.expose().to_owned());
            let basic = basic_auth_value(&self.cfg.client_id, sec.expose());
            secrets.push(basic.trim_start_matches("Basic ").to_owned());
        }
        let f = self
            .post_form(out, kind, &ep.token_endpoint, form)
            .await
            .map_err(|e| crate::outbound::scrub(e, &secrets))?;
        authsplit_core::token::parse_token_response(
            f.status,
            f.content_type.as_deref(),
            &f.body,
            &self.token_options,
            now,
        )
        .map_err(|e| {
            ApiError::from(crate::outbound::scrub(e, &secrets)).with_retry_after(f.retry_after)
        })
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
pub fn basic_auth_value(client_id: &str, secret: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let sec: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{sec}"))
    )
}

pub(crate) fn encode_form(form: &[(&'static str, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        s.append_pair(k, v);
    }
    s.finish()
}

fn discovery_err(msg: String, inner: Option<Error>) -> Error {
    match inner {
        // Keep transport codes (timeout/unreachable) so the class stays retryable.
        Some(e) => e,
        None => Error::new(ErrorCode::DiscoveryFailed, msg),
    }
}

/// Small extension: change the code of an error, keeping the rest.
pub(crate) trait WithCode {
    fn with_code(self, code: ErrorCode) -> Self;
}

impl WithCode for Error {
    fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }
}
