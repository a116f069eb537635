//! Authorization request URL (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1).
//!
//! The backend builds the whole URL: [`crate::provider::authorize_template`] turns the provider
//! profile into an [`AuthorizeTemplate`] (endpoint, client id, redirect URI, scopes, quirks),
//! [`AuthorizeTemplate::apply_request`] adds what the browser asked for in `POST /transactions`
//! (`scope`, extra parameters), and [`AuthorizeTemplate::build_url`] adds the browser's
//! `state`, S256 `code_challenge` and `nonce`. The browser only checks that the URL it gets
//! back carries its own values, then goes there.
//!
//! Encoding: `application/x-www-form-urlencoded` (WHATWG URLSearchParams rules, the
//! `form_urlencoded` crate): space → `+`, `+` → `%2B`, `&` → `%26`, `#` → `%23`, non-ASCII
//! as UTF-8 percent-escapes. `redirect_uri` is copied byte for byte from configuration
//! (RFC 6749 §3.1.2). An existing query on the endpoint is kept.
//!
//! Default parameter order: `response_type`, `client_id`, `redirect_uri`, `scope`, `state`,
//! `code_challenge`, `code_challenge_method`, `nonce`, `prompt`, then `extra_params` in their
//! given order. [`AuthorizeQuirks::param_order`] moves the named parameters to the front.
//!
//! `nonce` goes into the URL only when [`AuthorizeTemplate::nonce_applies`]: the scopes include
//! `openid` and the provider speaks OpenID Connect (no `omit_nonce` quirk). The backend uses
//! the same method to decide whether the transaction stores the nonce.
//!
//! PKCE is mandatory unless the template says otherwise: `build_url` fails with
//! `ErrorCode::Configuration` when `code_challenge` is `None` and
//! [`AuthorizeQuirks::omit_pkce`] is false, so a caller bug can never silently drop PKCE.
//!
//! Plain `http:` endpoints are accepted only for loopback hosts (`localhost`, `127.x.x.x`,
//! `[::1]`) — development and tests (RFC 6749 §3.1: the authorization endpoint requires TLS).
//!
//! ```
//! use authsplit_core::authorize::AuthorizeTemplate;
//! use authsplit_core::pkce::PkceCodeVerifier;
//! use authsplit_core::random::State;
//! let mut t = AuthorizeTemplate::new(
//!     "https://as.example/authorize",
//!     "my app",
//!     "https://app.example/cb",
//! );
//! t.scopes = vec!["profile".into()];
//! let state = State::parse("xyz").unwrap();
//! let v = PkceCodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
//! let url = t.build_url(&state, Some(&v.challenge()), None).unwrap();
//! assert_eq!(
//!     url,
//!     "https://as.example/authorize?response_type=code&client_id=my+app\
//!      &redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=profile&state=xyz\
//!      &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
//! );
//! ```

use crate::Error;
use crate::error::ErrorCode;
use crate::pkce::{CODE_CHALLENGE_METHOD_S256, PkceCodeChallenge};
use crate::random::{Nonce, State};

/// Provider quirks that change the shape of the authorization URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthorizeQuirks {
    /// Name of the client id parameter when not `client_id` (WeChat: `appid`).
    pub client_id_param: Option<String>,
    /// A fragment appended to the URL (WeChat: `wechat_redirect` → `#wechat_redirect`).
    pub fragment: Option<String>,
    /// When set, parameters are emitted in exactly this order first (WeChat matches the order);
    /// parameters not listed follow in the default order.
    pub param_order: Option<Vec<String>>,
    /// Whether to send `code_challenge`/`code_challenge_method` (false for providers without
    /// PKCE support; the verifier is still made and bound on the backend).
    pub omit_pkce: bool,
    /// Whether to omit `response_type=code` (no known provider; kept for completeness).
    pub omit_response_type: bool,
    /// Whether to leave out `nonce` even when one is given: the provider does not speak OpenID
    /// Connect (no ID token to bind it to), although its scopes may say `openid` (DingTalk).
    pub omit_nonce: bool,
}

/// Everything except the per-transaction values needed to build an authorization URL: the
/// backend's input to [`AuthorizeTemplate::build_url`] (never sent over the wire).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeTemplate {
    /// The authorization endpoint (absolute `https:` URL, or `http:` on loopback).
    pub authorization_endpoint: String,
    /// The client id.
    pub client_id: String,
    /// The registered redirect URI, byte for byte.
    pub redirect_uri: String,
    /// Scopes, joined with `scope_separator`. Omitted from the URL when empty.
    pub scopes: Vec<String>,
    /// Scope separator: `" "` (RFC 6749 §3.3) or `","` (WeChat, QQ, Weibo).
    pub scope_separator: String,
    /// `prompt` (OIDC Core §3.1.2.1), if any.
    pub prompt: Option<String>,
    /// Extra parameters, in order (e.g. `access_type=offline`).
    pub extra_params: Vec<(String, String)>,
    /// Provider quirks.
    pub quirks: AuthorizeQuirks,
}

fn default_separator() -> String {
    " ".to_owned()
}

impl AuthorizeTemplate {
    /// A template with no scopes, no prompt, no extras and no quirks.
    pub fn new(
        authorization_endpoint: impl Into<String>,
        client_id: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            authorization_endpoint: authorization_endpoint.into(),
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scopes: Vec::new(),
            scope_separator: default_separator(),
            prompt: None,
            extra_params: Vec::new(),
            quirks: AuthorizeQuirks::default(),
        }
    }

    /// Whether the URL carries a `nonce` (OIDC Core §3.1.2.1): only for an OpenID Connect
    /// request — `openid` among the scopes — to a provider that issues ID tokens bound to it (no
    /// [`AuthorizeQuirks::omit_nonce`]; DingTalk asks for `openid` but is not OIDC). The backend
    /// stores a transaction's nonce exactly when this holds, so the ID token is checked against
    /// the nonce the provider saw.
    pub fn nonce_applies(&self) -> bool {
        !self.quirks.omit_nonce && self.scopes.iter().any(|s| s == "openid")
    }

    /// Adds what the browser asked for in `POST /transactions`: `scope` (space-separated,
    /// RFC 6749 §3.3) replaces the profile's scopes when present; `extra_params` follow the
    /// profile's, in order. Errors with `ErrorCode::InvalidRequest` — nothing is changed — when a
    /// scope token is not RFC 6749 §3.3 `1*NQCHAR`, or an extra parameter has an empty name,
    /// repeats a protocol parameter, the client id parameter, a secret (`client_secret`,
    /// `code_verifier`, tokens) or another extra parameter (RFC 6749 §3.1: no parameter twice).
    pub fn apply_request(
        &mut self,
        scope: Option<&str>,
        extra_params: &[(String, String)],
    ) -> Result<(), Error> {
        let scopes = match scope {
            Some(scope) => {
                let scopes: Vec<String> =
                    scope.split_ascii_whitespace().map(str::to_owned).collect();
                // NQCHAR = %x21 / %x23-5B / %x5D-7E
                let nqchar =
                    |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
                if scopes.iter().any(|s| !s.bytes().all(nqchar)) {
                    return Err(invalid_request(
                        "scope must be space-separated tokens of printable ASCII without `\"` or `\\` (RFC 6749 §3.3)",
                    ));
                }
                Some(scopes)
            }
            None => None,
        };
        let client_id_param = self
            .quirks
            .client_id_param
            .as_deref()
            .unwrap_or("client_id");
        let mut all = self.extra_params.clone();
        for (name, value) in extra_params {
            if let Some(problem) = extra_param_problem(name, client_id_param, &all) {
                return Err(invalid_request(problem));
            }
            all.push((name.clone(), value.clone()));
        }
        self.extra_params = all;
        if let Some(scopes) = scopes {
            self.scopes = scopes;
        }
        Ok(())
    }

    /// Builds the URL: `response_type=code`, `client_id`, `redirect_uri`, `scope`, `state`,
    /// `code_challenge` + `code_challenge_method=S256`, `nonce` (when
    /// [`nonce_applies`](Self::nonce_applies)), `prompt`, extras; then the
    /// quirks (renamed client id, order, fragment). Errors (`ErrorCode::Configuration`) when
    /// the endpoint is not an absolute http(s) URL, already has a fragment, or an extra
    /// parameter collides with a protocol parameter. [`Self::prepare`] followed by
    /// [`PreparedAuthorize::url`].
    pub fn build_url(
        &self,
        state: &State,
        code_challenge: Option<&PkceCodeChallenge>,
        nonce: Option<&Nonce>,
    ) -> Result<String, Error> {
        self.prepare()?.url(state, code_challenge, nonce)
    }

    /// Checks the template and encodes everything but the per-transaction values once: a
    /// backend that sends many users to the same provider builds each URL with
    /// [`PreparedAuthorize::url`] from one prepared template. Errors as [`Self::build_url`]
    /// (all but the missing `code_challenge`, which `url` reports).
    pub fn prepare(&self) -> Result<PreparedAuthorize, Error> {
        check_endpoint(&self.authorization_endpoint)?;
        let fragment = self.checked_fragment()?;
        let client_id_param = match self.quirks.client_id_param.as_deref() {
            None => "client_id",
            Some("") => return Err(config("quirks.client_id_param is empty")),
            Some(name) => name,
        };

        // The scopes joined with the provider's separator.
        let mut scope = String::new();
        for (i, s) in self.scopes.iter().enumerate() {
            if i > 0 {
                scope.push_str(&self.scope_separator);
            }
            scope.push_str(s);
        }

        // Default order (see the module docs); `None` values are the per-transaction ones.
        let pkce = !self.quirks.omit_pkce;
        let nonce_applies = self.nonce_applies();
        let mut params: Vec<(&str, Value<'_>)> = Vec::with_capacity(9 + self.extra_params.len());
        if !self.quirks.omit_response_type {
            params.push(("response_type", Value::Fixed("code")));
        }
        params.push((client_id_param, Value::Fixed(self.client_id.as_str())));
        params.push(("redirect_uri", Value::Fixed(self.redirect_uri.as_str())));
        if !scope.is_empty() {
            params.push(("scope", Value::Fixed(scope.as_str())));
        }
        params.push(("state", Value::Per(Part::State)));
        if pkce {
            params.push(("code_challenge", Value::Per(Part::Challenge)));
            params.push((
                "code_challenge_method",
                Value::Fixed(CODE_CHALLENGE_METHOD_S256),
            ));
        }
        if nonce_applies {
            params.push(("nonce", Value::Per(Part::Nonce)));
        }
        if let Some(p) = self.prompt.as_deref() {
            params.push(("prompt", Value::Fixed(p)));
        }

        for (i, (name, value)) in self.extra_params.iter().enumerate() {
            let before = self.extra_params.get(..i).unwrap_or_default();
            if let Some(problem) = extra_param_problem(name, client_id_param, before) {
                return Err(config(problem));
            }
            params.push((name.as_str(), Value::Fixed(value.as_str())));
        }

        if let Some(order) = &self.quirks.param_order {
            // Stable: listed names first (in the listed order), the rest keep their order. A
            // selection pass; both lists are a handful of entries.
            let rank = |name: &str| order.iter().position(|o| o == name).unwrap_or(usize::MAX);
            let mut ordered = Vec::with_capacity(params.len());
            for i in (0..order.len()).chain([usize::MAX]) {
                ordered.extend(params.iter().filter(|(name, _)| rank(name) == i).cloned());
            }
            params = ordered;
        }

        // Consecutive fixed parameters become one encoded run.
        let mut parts: Vec<Part> = Vec::new();
        for (name, value) in &params {
            match value {
                Value::Fixed(v) => {
                    let mut pair = form_urlencoded::Serializer::new(String::new());
                    pair.append_pair(name, v);
                    let pair = pair.finish();
                    match parts.last_mut() {
                        Some(Part::Encoded(run)) => {
                            run.push('&');
                            run.push_str(&pair);
                        }
                        _ => parts.push(Part::Encoded(pair)),
                    }
                }
                Value::Per(p) => parts.push(p.clone()),
            }
        }

        let endpoint = self.authorization_endpoint.as_str();
        let mut base = String::with_capacity(endpoint.len() + 1);
        base.push_str(endpoint);
        if let Some(q) = endpoint.find('?') {
            let existing = endpoint.get(q + 1..).unwrap_or("");
            if !existing.is_empty() && !existing.ends_with('&') {
                base.push('&');
            }
        } else {
            base.push('?');
        }
        Ok(PreparedAuthorize {
            base,
            parts,
            fragment: fragment.map(str::to_owned),
            pkce,
            nonce_applies,
        })
    }

    /// The fragment quirk without a leading `#`, after checking it needs no encoding
    /// (RFC 3986 §3.5: pchar / "/" / "?").
    fn checked_fragment(&self) -> Result<Option<&str>, Error> {
        let Some(f) = self.quirks.fragment.as_deref() else {
            return Ok(None);
        };
        let f = f.strip_prefix('#').unwrap_or(f);
        if f.is_empty() {
            return Ok(None);
        }
        let ok = f
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b));
        if ok {
            Ok(Some(f))
        } else {
            Err(config(
                "quirks.fragment contains characters that are not allowed in a URL fragment",
            ))
        }
    }
}

/// A parameter value while preparing: fixed by the template, or one of the transaction's.
#[derive(Clone)]
enum Value<'a> {
    Fixed(&'a str),
    Per(Part),
}

/// A piece of a prepared query: encoded fixed parameters, or a per-transaction value.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// `name=value&name=value`, form-encoded.
    Encoded(String),
    /// `state=…`.
    State,
    /// `code_challenge=…`.
    Challenge,
    /// `nonce=…`, when a nonce is given.
    Nonce,
}

/// An [`AuthorizeTemplate`] checked, with its fixed parameters encoded
/// ([`AuthorizeTemplate::prepare`]); [`PreparedAuthorize::url`] adds a transaction's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedAuthorize {
    /// The endpoint followed by `?` (or `&` after an existing query).
    base: String,
    parts: Vec<Part>,
    fragment: Option<String>,
    /// Whether the URL carries `code_challenge` (no `omit_pkce` quirk).
    pkce: bool,
    nonce_applies: bool,
}

impl PreparedAuthorize {
    /// [`AuthorizeTemplate::nonce_applies`] of the prepared template.
    pub fn nonce_applies(&self) -> bool {
        self.nonce_applies
    }

    /// The URL with this transaction's `state`, `code_challenge` and `nonce` (the nonce only
    /// when [`Self::nonce_applies`]). Errors (`ErrorCode::Configuration`) when `code_challenge`
    /// is `None` and the template does not omit PKCE (RFC 7636 §4.3).
    pub fn url(
        &self,
        state: &State,
        code_challenge: Option<&PkceCodeChallenge>,
        nonce: Option<&Nonce>,
    ) -> Result<String, Error> {
        let challenge = match (self.pkce, code_challenge) {
            (false, _) => None,
            (true, Some(c)) => Some(c),
            (true, None) => {
                return Err(config(
                    "code_challenge is required unless quirks.omit_pkce is set (RFC 7636 §4.3)",
                ));
            }
        };
        let fixed: usize = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Encoded(s) => s.len() + 1,
                _ => 0,
            })
            .sum();
        let mut url = String::with_capacity(self.base.len() + fixed + 256);
        url.push_str(&self.base);
        let mut first = true;
        for part in &self.parts {
            let (name, value) = match part {
                Part::Encoded(run) => ("", run.as_str()),
                Part::State => ("state=", state.secret()),
                Part::Challenge => match challenge {
                    Some(c) => ("code_challenge=", c.as_str()),
                    None => continue,
                },
                Part::Nonce => match nonce {
                    Some(n) if self.nonce_applies => ("nonce=", n.secret()),
                    _ => continue,
                },
            };
            if !first {
                url.push('&');
            }
            first = false;
            if name.is_empty() {
                url.push_str(value);
            } else {
                url.push_str(name);
                url.extend(form_urlencoded::byte_serialize(value.as_bytes()));
            }
        }
        if let Some(f) = &self.fragment {
            url.push('#');
            url.push_str(f);
        }
        Ok(url)
    }
}

/// Parameters that `build_url` itself emits; extras may not repeat them.
const PROTOCOL_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
];

/// Parameters that must never appear in an authorization request.
const TOKEN_PARAMS: &[&str] = &["client_secret", "code_verifier", "access_token", "id_token"];

/// Why extra parameter `name` may not follow `before` in a URL whose client id parameter is
/// `client_id_param`, if it may not.
fn extra_param_problem(
    name: &str,
    client_id_param: &str,
    before: &[(String, String)],
) -> Option<&'static str> {
    if name.is_empty() {
        return Some("an extra parameter has an empty name");
    }
    let collides = PROTOCOL_PARAMS.contains(&name)
        || name == client_id_param
        || TOKEN_PARAMS.contains(&name)
        || before.iter().any(|(n, _)| n == name);
    collides.then_some(
        "an extra parameter collides with a protocol parameter or another extra parameter",
    )
}

fn invalid_request(message: &'static str) -> Error {
    Error::new(ErrorCode::InvalidRequest, message)
}

fn config(message: &'static str) -> Error {
    Error::new(ErrorCode::Configuration, message)
}

/// The endpoint must be an absolute `https:` URL (or `http:` on a loopback host), with a host,
/// no fragment, no userinfo, and no whitespace or control characters.
pub(crate) fn check_endpoint(endpoint: &str) -> Result<(), Error> {
    if endpoint
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(config(
            "authorization_endpoint contains whitespace or control characters",
        ));
    }
    if endpoint.contains('#') {
        return Err(config("authorization_endpoint must not contain a fragment"));
    }
    let (https, rest) = if let Some(rest) = strip_prefix_ignore_case(endpoint, "https://") {
        (true, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(endpoint, "http://") {
        (false, rest)
    } else {
        return Err(config(
            "authorization_endpoint must be an absolute http(s) URL",
        ));
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or("");
    if authority.is_empty() || authority.contains('@') || authority.contains('\\') {
        return Err(config(
            "authorization_endpoint must have a host and no userinfo",
        ));
    }
    if !https && !is_loopback_authority(authority) {
        return Err(config(
            "authorization_endpoint must use https (http is allowed on loopback only)",
        ));
    }
    Ok(())
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// `localhost`, `127.x.x.x` or `[::1]`, with an optional port.
fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.find(']') {
            Some(end) => return rest.get(..end) == Some("::1"),
            None => return false,
        }
    } else {
        authority.split(':').next().unwrap_or("")
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let mut parts = 0;
    for (i, part) in host.split('.').enumerate() {
        parts += 1;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        if i == 0 && part != "127" {
            return false;
        }
        if part.parse::<u16>().map_or(true, |n| n > 255) {
            return false;
        }
    }
    parts == 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkce::PkceCodeVerifier;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn challenge() -> PkceCodeChallenge {
        PkceCodeVerifier::parse(VERIFIER)
            .expect("valid")
            .challenge()
    }

    fn state() -> State {
        State::parse("st4te").expect("valid")
    }

    fn template() -> AuthorizeTemplate {
        AuthorizeTemplate::new(
            "https://as.example/authorize",
            "client-1",
            "https://app.example/cb",
        )
    }

    #[test]
    fn rfc6749_s4_1_1_rfc7636_s4_3_default_order_and_values() {
        let mut t = template();
        t.scopes = vec!["openid".into(), "email".into()];
        t.prompt = Some("consent".into());
        t.extra_params = vec![("access_type".into(), "offline".into())];
        let nonce = Nonce::parse("n0nce").expect("valid");
        let url = t
            .build_url(&state(), Some(&challenge()), Some(&nonce))
            .expect("builds");
        assert_eq!(
            url,
            format!(
                "https://as.example/authorize?response_type=code&client_id=client-1\
                 &redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid+email&state=st4te\
                 &code_challenge={CHALLENGE}&code_challenge_method=S256&nonce=n0nce\
                 &prompt=consent&access_type=offline"
            )
        );
    }

    #[test]
    fn rfc6749_appendix_b_form_encoding_of_special_characters() {
        let mut t = AuthorizeTemplate::new(
            "https://as.example/authorize",
            "a b+c&d#e\u{e9}",
            "https://app.example/cb?x=1&y=a b",
        );
        t.scopes = vec!["read:user".into(), "repo".into()];
        t.scope_separator = ",".into();
        let url = t
            .build_url(&state(), Some(&challenge()), None)
            .expect("builds");
        assert!(url.contains("&client_id=a+b%2Bc%26d%23e%C3%A9&"), "{url}");
        assert!(
            url.contains("&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1%26y%3Da+b&"),
            "{url}"
        );
        assert!(url.contains("&scope=read%3Auser%2Crepo&"), "{url}");
        assert!(!url.contains('#'));
    }

    /// RFC 6749 §4.1.1 request with WeChat quirks (PROVIDERS.md): `appid`, fixed order, `#wechat_redirect`.
    #[test]
    fn wechat_quirks_appid_order_fragment() {
        let mut t = AuthorizeTemplate::new(
            "https://open.weixin.qq.com/connect/qrconnect",
            "wx123",
            "https://app.example/cb",
        );
        t.scopes = vec!["snsapi_login".into()];
        t.scope_separator = ",".into();
        t.quirks.client_id_param = Some("appid".into());
        t.quirks.fragment = Some("wechat_redirect".into());
        t.quirks.omit_pkce = true;
        t.quirks.param_order = Some(vec![
            "appid".into(),
            "redirect_uri".into(),
            "response_type".into(),
            "scope".into(),
            "state".into(),
        ]);
        let url = t
            .build_url(&state(), Some(&challenge()), None)
            .expect("builds");
        assert_eq!(
            url,
            "https://open.weixin.qq.com/connect/qrconnect?appid=wx123\
             &redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code\
             &scope=snsapi_login&state=st4te#wechat_redirect"
        );
    }

    /// RFC 6749 §4.1.1: reordering keeps every parameter exactly once.
    #[test]
    fn param_order_partial_keeps_default_for_the_rest() {
        let mut t = template();
        t.quirks.param_order = Some(vec!["state".into(), "nope".into(), "client_id".into()]);
        let url = t
            .build_url(&state(), Some(&challenge()), None)
            .expect("builds");
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
        let names: Vec<&str> = query
            .split('&')
            .map(|kv| kv.split('=').next().unwrap_or(""))
            .collect();
        assert_eq!(
            names,
            [
                "state",
                "client_id",
                "response_type",
                "redirect_uri",
                "code_challenge",
                "code_challenge_method"
            ]
        );
    }

    #[test]
    fn rfc7636_s4_3_pkce_required_unless_omitted() {
        let t = template();
        let e = t.build_url(&state(), None, None).expect_err("pkce missing");
        assert_eq!(e.code(), ErrorCode::Configuration);
        let mut t = template();
        t.quirks.omit_pkce = true;
        let url = t.build_url(&state(), None, None).expect("builds");
        assert!(!url.contains("code_challenge"));
    }

    #[test]
    fn oidc_core_s3_1_2_1_nonce_left_out_for_non_oidc_providers() {
        let n = Nonce::parse("n0nce").expect("valid");
        let mut t = template();
        t.scopes = vec!["openid".into()];
        assert!(t.nonce_applies());
        let url = t
            .build_url(&state(), Some(&challenge()), Some(&n))
            .expect("builds");
        assert!(url.contains("&nonce=n0nce"));
        t.quirks.omit_nonce = true;
        assert!(!t.nonce_applies());
        let url = t
            .build_url(&state(), Some(&challenge()), Some(&n))
            .expect("builds");
        assert!(!url.contains("nonce"), "{url}");
    }

    /// One prepared template serves many transactions: only `state`, `code_challenge` and
    /// `nonce` change between URLs; a `nonce` first in a quirk order, left out, leaves no
    /// stray separator.
    #[test]
    fn prepared_template_serves_many_transactions() {
        let mut t = template();
        t.scopes = vec!["openid".into()];
        t.prompt = Some("login".into());
        let p = t.prepare().expect("prepares");
        assert!(p.nonce_applies());
        let c = challenge();
        for (st, n) in [("st4te", Some("n0nce")), ("other-state", None)] {
            let st = State::parse(st).expect("state");
            let n = n.map(|n| Nonce::parse(n).expect("nonce"));
            let mut expected = format!(
                "https://as.example/authorize?response_type=code&client_id=client-1\
                 &redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid&state={}\
                 &code_challenge={}&code_challenge_method=S256",
                st.secret(),
                c.as_str()
            );
            if let Some(n) = &n {
                expected.push_str(&format!("&nonce={}", n.secret()));
            }
            expected.push_str("&prompt=login");
            assert_eq!(p.url(&st, Some(&c), n.as_ref()).expect("url"), expected);
        }
        t.quirks.param_order = Some(vec!["nonce".into(), "state".into()]);
        let p = t.prepare().expect("prepares");
        let url = p.url(&state(), Some(&c), None).expect("url");
        assert!(
            url.starts_with("https://as.example/authorize?state=st4te&response_type=code&"),
            "{url}"
        );
        let n = Nonce::parse("n0nce").expect("nonce");
        let url = p.url(&state(), Some(&c), Some(&n)).expect("url");
        assert!(
            url.starts_with(
                "https://as.example/authorize?nonce=n0nce&state=st4te&response_type=code&"
            ),
            "{url}"
        );
        assert_eq!(
            p.url(&state(), None, None)
                .expect_err("no challenge")
                .code(),
            ErrorCode::Configuration
        );
    }

    /// OIDC Core §3.1.2.1: `nonce` belongs to an OpenID Connect request, i.e. one with `openid`.
    #[test]
    fn oidc_core_s3_1_2_1_nonce_only_with_the_openid_scope() {
        let n = Nonce::parse("n0nce").expect("valid");
        let mut t = template();
        t.scopes = vec!["profile".into(), "openidx".into()];
        assert!(!t.nonce_applies());
        let url = t
            .build_url(&state(), Some(&challenge()), Some(&n))
            .expect("builds");
        assert!(!url.contains("nonce"), "{url}");
        t.apply_request(Some("profile openid"), &[])
            .expect("applies");
        assert!(t.nonce_applies());
        let url = t
            .build_url(&state(), Some(&challenge()), Some(&n))
            .expect("builds");
        assert!(url.contains("&scope=profile+openid&"), "{url}");
        assert!(url.contains("&nonce=n0nce"), "{url}");
    }

    /// RFC 6749 §3.3: the browser's `scope` replaces the profile's, joined with the provider's
    /// separator; its extra parameters follow the profile's, in order.
    #[test]
    fn rfc6749_s3_3_request_scope_and_extras() {
        let mut t = template();
        t.scopes = vec!["a".into()];
        t.scope_separator = ",".into();
        t.extra_params = vec![("access_type".into(), "offline".into())];
        let extras = [
            ("login_hint".to_owned(), "a b+c&d#e".to_owned()),
            ("ui_locales".to_owned(), "de".to_owned()),
        ];
        t.apply_request(Some("  read:user\trepo "), &extras)
            .expect("applies");
        let url = t
            .build_url(&state(), Some(&challenge()), None)
            .expect("builds");
        assert!(url.contains("&scope=read%3Auser%2Crepo&"), "{url}");
        assert!(
            url.ends_with("&access_type=offline&login_hint=a+b%2Bc%26d%23e&ui_locales=de"),
            "{url}"
        );
        // No `scope`: the profile's stay; an empty one asks for none.
        let mut t = template();
        t.scopes = vec!["a".into()];
        t.apply_request(None, &[]).expect("applies");
        assert_eq!(t.scopes, ["a"]);
        t.apply_request(Some(""), &[]).expect("applies");
        assert!(t.scopes.is_empty());
    }

    /// RFC 6749 §3.1, §3.3: what the browser asks for is checked as a bad request, and a refused
    /// request changes nothing.
    #[test]
    fn rfc6749_s3_1_request_clashes_are_invalid_request() {
        let mut base = template();
        base.quirks.client_id_param = Some("appid".into());
        base.extra_params = vec![("agentid".into(), "1".into())];
        let pair = |n: &str| (n.to_owned(), "x".to_owned());
        for extras in [
            vec![pair("state")],
            vec![pair("nonce")],
            vec![pair("appid")],
            vec![pair("client_secret")],
            vec![pair("code_verifier")],
            vec![pair("")],
            vec![pair("agentid")],
            vec![pair("dup"), pair("dup")],
        ] {
            let mut t = base.clone();
            let e = t
                .apply_request(Some("openid"), &extras)
                .expect_err(&format!("{extras:?}"));
            assert_eq!(e.code(), ErrorCode::InvalidRequest, "{extras:?}");
            assert_eq!(t, base, "unchanged");
        }
        for scope in ["a\"b", "a\\b", "caf\u{e9}", "a\u{7f}"] {
            let mut t = base.clone();
            let e = t.apply_request(Some(scope), &[]).expect_err(scope);
            assert_eq!(e.code(), ErrorCode::InvalidRequest, "{scope}");
            assert_eq!(t, base, "unchanged");
        }
    }

    #[test]
    fn rfc6749_s3_1_existing_query_is_kept() {
        let mut t = template();
        t.authorization_endpoint = "https://as.example/authorize?tenant=x".into();
        let url = t
            .build_url(&state(), Some(&challenge()), None)
            .expect("builds");
        assert!(url.starts_with("https://as.example/authorize?tenant=x&response_type=code&"));
        t.authorization_endpoint = "https://as.example/authorize?".into();
        let url = t
            .build_url(&state(), Some(&challenge()), None)
            .expect("builds");
        assert!(url.starts_with("https://as.example/authorize?response_type=code&"));
    }

    #[test]
    fn rfc6749_s3_1_endpoint_checks() {
        for bad in [
            "as.example/authorize",
            "ftp://as.example/authorize",
            "https://as.example/authorize#frag",
            "https:///authorize",
            "https://user@as.example/authorize",
            "http://as.example/authorize",
            "http://127.0.0.1.evil.example/authorize",
            "https://as.example/author ize",
            "javascript:alert(1)",
            "",
        ] {
            let mut t = template();
            t.authorization_endpoint = bad.into();
            let e = t
                .build_url(&state(), Some(&challenge()), None)
                .expect_err(bad);
            assert_eq!(e.code(), ErrorCode::Configuration, "{bad}");
        }
        for good in [
            "http://127.0.0.1:3000/auth",
            "http://localhost/auth",
            "http://[::1]:8080/auth",
            "HTTPS://as.example",
        ] {
            let mut t = template();
            t.authorization_endpoint = good.into();
            assert!(
                t.build_url(&state(), Some(&challenge()), None).is_ok(),
                "{good}"
            );
        }
    }

    /// RFC 6749 §3.1: a parameter MUST NOT be included more than once; secrets never go in the URL.
    #[test]
    fn extra_param_collisions_are_configuration_errors() {
        for name in [
            "state",
            "client_id",
            "code_challenge",
            "client_secret",
            "",
            "dup",
        ] {
            let mut t = template();
            t.extra_params = vec![("dup".into(), "1".into()), (name.into(), "x".into())];
            let e = t
                .build_url(&state(), Some(&challenge()), None)
                .expect_err(name);
            assert_eq!(e.code(), ErrorCode::Configuration);
        }
        let mut t = template();
        t.quirks.client_id_param = Some("appid".into());
        t.extra_params = vec![("appid".into(), "x".into())];
        assert!(t.build_url(&state(), Some(&challenge()), None).is_err());
    }

    /// RFC 3986 §3.5 fragment characters.
    #[test]
    fn fragment_quirk_validation() {
        let mut t = template();
        t.quirks.fragment = Some("#ok_frag".into());
        let url = t
            .build_url(&state(), Some(&challenge()), None)
            .expect("builds");
        assert!(url.ends_with("#ok_frag"));
        t.quirks.fragment = Some("bad frag".into());
        assert!(t.build_url(&state(), Some(&challenge()), None).is_err());
    }

    /// RFC 6749 §3.3: `scope` is optional; omitted when empty.
    #[test]
    fn empty_scope_is_omitted() {
        let t = template();
        let url = t
            .build_url(&state(), Some(&challenge()), None)
            .expect("builds");
        assert!(!url.contains("scope="));
    }
}
