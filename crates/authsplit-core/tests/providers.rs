//! Provider presets: every preset's authorization URL, token request, documented success and
//! bad-code responses, normalized user, refresh and revocation — checked against each platform's documented wire format (cited per test as "PROVIDERS.md §
//! <provider>") and the RFCs.

use authsplit_core::error::{ErrorClass, ErrorCode};
use authsplit_core::pkce::PkceCodeVerifier;
use authsplit_core::provider::{
    self, Body, ClientCredentials, Endpoints, Grant, HttpMethod, HttpRequestSpec, PRESET_NAMES,
    ProviderProfile, RevocableToken, authorize_template, discovery, entra, google, normalize_user,
    preset,
};
use authsplit_core::random::State;
use authsplit_core::secret::{AccessToken, AuthorizationCode, RefreshToken};
use authsplit_core::token::{self, ResponseRules};
use serde_json::{Map, Value, json};

// ---------- fixtures ----------

const CLIENT_ID: &str = "my-client";
const SECRET: &str = "s3cr3t+/:%";
/// `Basic base64("my-client:" + urlenc("s3cr3t+/:%"))` (RFC 6749 §2.3.1, Appendix B).
const BASIC: &str = "Basic bXktY2xpZW50OnMzY3IzdCUyQiUyRiUzQSUyNQ==";
const REDIRECT: &str = "https://app.example.com/callback";
const REDIRECT_ENC: &str = "https%3A%2F%2Fapp.example.com%2Fcallback";
const STATE: &str = "af0ifjsldkj0123456789abcdefXYZ";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CODE: &str = "SplxlOBeZQQYbYS6WxSbIA";
const AT: &str = "at-0123456789-SECRET-ACCESS";
const RT: &str = "rt-0123456789-SECRET-REFRESH";
const NOW: u64 = 1_700_000_000;
const UA: &str = provider::USER_AGENT;
const FORM: &str = "application/x-www-form-urlencoded";
const JSON_UTF8: &str = "application/json; charset=utf-8";

fn resolved(name: &str) -> ProviderProfile {
    let p = preset(name).expect("preset exists");
    let p = if name == "wecom" {
        p.with_overrides(&json!({"vars": {"agentid": "1000002"}}))
            .expect("override")
    } else {
        p
    };
    let p = p.resolve().expect("resolves");
    p.check().expect("passes start-up checks");
    p
}

fn creds() -> ClientCredentials {
    ClientCredentials::new(CLIENT_ID, SECRET)
}

fn auth_url(p: &ProviderProfile) -> String {
    let verifier = PkceCodeVerifier::parse(VERIFIER).expect("verifier");
    let t = authorize_template(p, CLIENT_ID, REDIRECT, None).expect("template");
    t.build_url(
        &State::parse(STATE).expect("state"),
        Some(&verifier.challenge()),
        None,
    )
    .expect("url")
}

fn code_spec(p: &ProviderProfile) -> HttpRequestSpec {
    let code = AuthorizationCode::new(CODE);
    let verifier = PkceCodeVerifier::parse(VERIFIER).expect("verifier");
    provider::token_request(
        p,
        &creds(),
        Grant::AuthorizationCode {
            code: &code,
            code_verifier: Some(&verifier),
            redirect_uri: REDIRECT,
        },
    )
    .expect("token request")
}

fn refresh_spec(p: &ProviderProfile) -> Result<HttpRequestSpec, authsplit_core::Error> {
    let rt = RefreshToken::new(RT);
    provider::token_request(p, &creds(), Grant::RefreshToken { refresh_token: &rt })
}

fn userinfo_spec(p: &ProviderProfile, context: &Map<String, Value>) -> HttpRequestSpec {
    provider::userinfo_request(p, &creds(), &AccessToken::new(AT), context).expect("userinfo")
}

fn revoke_access(p: &ProviderProfile) -> Result<HttpRequestSpec, authsplit_core::Error> {
    provider::revocation_request(p, &creds(), RevocableToken::Access(&AccessToken::new(AT)))
}

fn revoke_refresh(p: &ProviderProfile) -> Result<HttpRequestSpec, authsplit_core::Error> {
    provider::revocation_request(p, &creds(), RevocableToken::Refresh(&RefreshToken::new(RT)))
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn form(pairs: &[(&str, &str)]) -> Option<Body> {
    Some(Body::Form(h(pairs)))
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn assert_err(
    r: Result<impl std::fmt::Debug, authsplit_core::Error>,
    code: ErrorCode,
    class: ErrorClass,
) -> authsplit_core::Error {
    let e = r.expect_err("must fail");
    assert_eq!(e.code(), code, "code of {e:?}");
    assert_eq!(e.class(), class, "class of {e:?}");
    e
}

fn assert_unsupported(r: Result<HttpRequestSpec, authsplit_core::Error>, what: &str) {
    let e = assert_err(r, ErrorCode::Configuration, ErrorClass::Configuration);
    assert!(
        e.message.contains(what),
        "message `{}` should mention `{what}`",
        e.message
    );
}

fn token_ok(
    p: &ProviderProfile,
    status: u16,
    ct: Option<&str>,
    body: &str,
) -> authsplit_core::token::TokenSet {
    provider::parse_token_response(p, status, ct, body.as_bytes(), NOW)
        .expect("token response parses")
}

fn token_err(
    p: &ProviderProfile,
    status: u16,
    ct: Option<&str>,
    body: &str,
) -> authsplit_core::Error {
    provider::parse_token_response(p, status, ct, body.as_bytes(), NOW).expect_err("token error")
}

fn provider_code(e: &authsplit_core::Error) -> String {
    e.provider_error()
        .map(|p| p.error.as_str().to_owned())
        .unwrap_or_default()
}

// ---------- every preset ----------

/// Every name in PRESET_NAMES is a preset that resolves and passes the start-up checks; an
/// unknown name is `None`.
#[test]
fn every_preset_resolves_and_checks() {
    assert_eq!(PRESET_NAMES.len(), 17);
    for name in PRESET_NAMES {
        let p = resolved(name);
        assert_eq!(&p.id, name);
        assert!(!p.display_name.is_empty());
    }
    assert!(preset("myspace").is_none());
}

/// Profiles are data: every preset survives a JSON round trip unchanged (overriding any
/// field needs Serialize + Deserialize).
#[test]
fn every_preset_roundtrips_through_json() {
    for name in PRESET_NAMES {
        let p = preset(name).expect("preset");
        let v = serde_json::to_value(&p).expect("serialize");
        let back: ProviderProfile = serde_json::from_value(v).expect("deserialize");
        assert_eq!(back, p, "{name}");
    }
}

/// The subject is the provider's stable id — never an email. `check()` refuses a
/// subject taken from `email` / `preferred_username`.
#[test]
fn subject_from_email_is_refused_at_startup() {
    for bad in ["email", "preferred_username", "mail"] {
        let p = preset("google")
            .expect("preset")
            .with_overrides(&json!({"user": {"subject": [{"field": bad}]}}))
            .expect("override applies");
        let e = p.resolve().expect("resolves").check().expect_err("refused");
        assert_eq!(e.code(), ErrorCode::Configuration);
        assert!(e.message.contains(bad), "{}", e.message);
    }
}

/// Configuration overrides deep-merge; an unknown field is a `Configuration` error naming it.
#[test]
fn overrides_merge_and_unknown_fields_fail() {
    let p = preset("github")
        .expect("preset")
        .with_overrides(&json!({"token": {"client_auth": "basic"}, "authorize": {"default_scopes": ["read:user"]}}))
        .expect("override");
    assert_eq!(p.token.client_auth, provider::ClientAuth::Basic);
    assert_eq!(p.authorize.default_scopes, vec!["read:user".to_owned()]);
    assert_eq!(p.token.method, HttpMethod::Post, "untouched fields stay");
    let e = preset("github")
        .expect("preset")
        .with_overrides(&json!({"tokne": {}}))
        .expect_err("typo refused");
    assert_eq!(e.code(), ErrorCode::Configuration);
    assert!(e.message.contains("tokne"), "{}", e.message);
}

/// docs/SECURITY.md S14: no secret (client secret, code, verifier, access or refresh
/// token, Authorization header) in the `Debug` of any request spec or of the credentials.
#[test]
fn debug_of_every_spec_redacts_secrets() {
    let secrets = [SECRET, CODE, VERIFIER, AT, RT, "bXktY2xpZW50"];
    let ctx = obj(json!({"openid": "OPENID", "uid": "12341234"}));
    for name in PRESET_NAMES {
        let p = resolved(name);
        let mut specs = Vec::new();
        if p.flow == provider::Flow::CorpToken {
            specs.push(provider::app_token_request(&p, &creds()).expect("app token"));
            specs.push(
                provider::code_identity_request(
                    &p,
                    &AccessToken::new(AT),
                    &AuthorizationCode::new(CODE),
                )
                .expect("identity"),
            );
        } else {
            specs.push(code_spec(&p));
        }
        specs.extend(refresh_spec(&p).ok());
        if p.userinfo.is_some() {
            specs.push(userinfo_spec(&p, &ctx));
        }
        if p.openid_step.is_some() {
            specs.push(provider::openid_request(&p, &creds(), &AccessToken::new(AT)).expect("me"));
        }
        specs.extend(revoke_access(&p).ok());
        specs.extend(revoke_refresh(&p).ok());
        for spec in &specs {
            let dbg = format!("{spec:?}");
            for s in secrets {
                assert!(!dbg.contains(s), "{name}: `{s}` leaked in {dbg}");
            }
            let enc: String = form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
            assert!(
                !dbg.contains(&enc),
                "{name}: encoded secret leaked in {dbg}"
            );
            assert!(dbg.contains("[redacted]"), "{name}: {dbg}");
        }
    }
    let dbg = format!("{:?}", creds());
    assert!(!dbg.contains(SECRET) && dbg.contains(CLIENT_ID), "{dbg}");
}

/// RFC 6749 §2.3.1 + Appendix B: client_secret_basic form-urlencodes id and secret before
/// base64 (docs/SECURITY.md S4: a secret like `a+b:c%d/e f` must work).
#[test]
fn rfc6749_s2_3_1_basic_auth_urlencodes_before_base64() {
    let p = resolved("discord");
    let code = AuthorizationCode::new(CODE);
    let spec = provider::token_request(
        &p,
        &ClientCredentials::new("my client", "a+b:c%d/e f"),
        Grant::AuthorizationCode {
            code: &code,
            code_verifier: None,
            redirect_uri: REDIRECT,
        },
    )
    .expect("spec");
    assert_eq!(
        spec.header("authorization"),
        Some("Basic bXkrY2xpZW50OmElMkJiJTNBYyUyNWQlMkZlK2Y=")
    );
}

/// A missing client secret is a start-up style `Configuration` error naming the fix, for both
/// basic and post client authentication.
#[test]
fn missing_secret_is_a_configuration_error() {
    let no_secret = ClientCredentials::with_secret(CLIENT_ID, None);
    let code = AuthorizationCode::new(CODE);
    for name in ["github", "discord"] {
        let r = provider::token_request(
            &resolved(name),
            &no_secret,
            Grant::AuthorizationCode {
                code: &code,
                code_verifier: None,
                redirect_uri: REDIRECT,
            },
        );
        let e = assert_err(r, ErrorCode::Configuration, ErrorClass::Configuration);
        assert!(e.message.contains("client_secret"), "{}", e.message);
    }
}

/// A missing secret fails at start-up with a message naming the key.
#[test]
fn check_client_requires_id_and_secret() {
    for name in PRESET_NAMES {
        let p = resolved(name);
        p.check_client(&creds()).expect(name);
        let e = p
            .check_client(&ClientCredentials::with_secret(CLIENT_ID, None))
            .expect_err(name);
        assert!(e.message.contains("client_secret"), "{name}: {}", e.message);
        let e = p
            .check_client(&ClientCredentials::new(" ", SECRET))
            .expect_err(name);
        assert!(e.message.contains("client_id"), "{name}: {}", e.message);
    }
}

/// RFC 7636 §4.5: `code_verifier` is sent exactly where the profile supports PKCE, and the
/// authorization URL carries `code_challenge` + `S256` exactly there.
#[test]
fn rfc7636_pkce_sent_exactly_where_supported() {
    for name in PRESET_NAMES {
        let p = resolved(name);
        let url = auth_url(&p);
        assert_eq!(
            url.contains("code_challenge_method=S256"),
            p.pkce,
            "{name}: {url}"
        );
        assert!(!url.contains("code_challenge_method=plain"), "{name}");
        if p.flow == provider::Flow::AuthorizationCode {
            let spec = code_spec(&p);
            let body = spec.body.as_ref().map(Body::to_bytes).unwrap_or_default();
            let sent = format!("{}{}", String::from_utf8_lossy(&body), spec.url);
            assert_eq!(
                sent.contains("code_verifier") || sent.contains("dBjftJ"),
                p.pkce,
                "{name}"
            );
        }
    }
}

/// Providers without refresh / revocation refuse with a typed `Configuration` error that says
/// so.
#[test]
fn unsupported_refresh_and_revocation_are_refused_clearly() {
    for name in PRESET_NAMES {
        let p = resolved(name);
        if !p.supports_refresh() {
            let r = refresh_spec(&p);
            let e = r.expect_err(name);
            assert_eq!(e.code(), ErrorCode::Configuration, "{name}");
            assert!(
                e.message.contains("refresh") || e.message.contains("no user token"),
                "{name}: {}",
                e.message
            );
        }
        if !p.supports_revocation() {
            assert_unsupported(revoke_access(&p), "revocation");
        }
    }
}

/// An unknown preset fails with a message listing the known ones.
#[test]
fn unknown_preset_error_lists_presets() {
    let e = provider::preset_or_error("myspace").expect_err("unknown");
    assert_eq!(e.code(), ErrorCode::Configuration);
    assert!(
        e.message.contains("myspace") && e.message.contains("github, google"),
        "{}",
        e.message
    );
    assert_eq!(provider::preset_or_error("qq").expect("known").id, "qq");
}

/// The quirk-test helper rebases every endpoint onto a loopback origin, keeping the provider
/// host in the path; the rebased profile still passes the start-up checks.
#[test]
fn with_origin_rebases_every_endpoint_for_tests() {
    for name in PRESET_NAMES {
        let p = resolved(name)
            .with_origin("http://127.0.0.1:9999")
            .expect("rebase");
        p.check().expect(name);
        let e = &p.endpoints;
        for url in [
            &e.authorization,
            &e.token,
            &e.refresh,
            &e.userinfo,
            &e.openid,
            &e.code_identity,
            &e.revocation,
            &e.end_session,
            &e.jwks,
        ]
        .into_iter()
        .flatten()
        {
            assert!(url.starts_with("http://127.0.0.1:9999/"), "{name}: {url}");
        }
    }
    let wx = resolved("wechat_mp")
        .with_origin("http://127.0.0.1:9999")
        .expect("rebase");
    assert_eq!(
        wx.endpoints.token.as_deref(),
        Some("http://127.0.0.1:9999/api.weixin.qq.com/sns/oauth2/access_token")
    );
    assert!(
        resolved("github")
            .with_origin("http://evil.example")
            .is_err()
    );
}

// ---------- GitHub (PROVIDERS.md § GitHub) ----------

#[test]
fn github_authorization_url() {
    let p = resolved("github");
    assert_eq!(
        auth_url(&p),
        format!(
            "https://github.com/login/oauth/authorize?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&scope=read%3Auser+user%3Aemail&state={STATE}&code_challenge={CHALLENGE}&code_challenge_method=S256"
        )
    );
}

/// POST form, client_secret_post, `Accept: application/json`, `User-Agent`.
#[test]
fn github_token_request() {
    let spec = code_spec(&resolved("github"));
    assert_eq!(spec.method, HttpMethod::Post);
    assert_eq!(spec.url, "https://github.com/login/oauth/access_token");
    assert_eq!(
        spec.headers,
        h(&[
            ("User-Agent", UA),
            ("Accept", "application/json"),
            ("Content-Type", FORM)
        ])
    );
    assert_eq!(
        spec.body,
        form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
    );
}

/// Default body is form-encoded; with Accept JSON it is JSON. User id = numeric `id`.
#[test]
fn github_success_form_and_json_and_user() {
    let p = resolved("github");
    let t = token_ok(
        &p,
        200,
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        &format!("access_token={AT}&scope=repo%2Cgist&token_type=bearer"),
    );
    assert_eq!(t.access_token.secret(), AT);
    assert_eq!(t.scope.as_deref(), Some("repo,gist"));
    let t = token_ok(
        &p,
        200,
        Some("application/json; charset=utf-8"),
        &json!({"access_token": AT, "token_type": "bearer", "scope": "read:user", "expires_in": 28800, "refresh_token": RT, "refresh_token_expires_in": 15_897_600}).to_string(),
    );
    assert_eq!(t.expires_at, Some(NOW + 28800));
    assert_eq!(t.refresh_token.as_ref().map(RefreshToken::secret), Some(RT));

    let spec = userinfo_spec(&p, &Map::new());
    assert_eq!(spec.method, HttpMethod::Get);
    assert_eq!(spec.url, "https://api.github.com/user");
    assert_eq!(
        spec.headers,
        h(&[
            ("User-Agent", UA),
            ("Authorization", &format!("Bearer {AT}")),
            ("Accept", "application/json")
        ])
    );
    let body = json!({"login": "octocat", "id": 1, "avatar_url": "https://github.com/images/error/octocat_happy.gif", "name": "monalisa octocat", "email": "octocat@github.com"});
    let info = provider::parse_userinfo_response(
        &p,
        200,
        Some("application/json; charset=utf-8"),
        body.to_string().as_bytes(),
    )
    .expect("userinfo");
    let u = normalize_user(&p, &info, &t.extra).expect("user");
    assert_eq!(u.id, "github:1");
    assert_eq!(u.subject, "1");
    assert_eq!(u.name.as_deref(), Some("monalisa octocat"));
    assert_eq!(u.email.as_deref(), Some("octocat@github.com"));
    assert_eq!(u.email_verified, None);
    assert_eq!(
        u.avatar_url.as_deref(),
        Some("https://github.com/images/error/octocat_happy.gif")
    );
    // null email and no name → login
    let u = normalize_user(
        &p,
        &json!({"login": "octocat", "id": 583231, "email": null, "name": null}),
        &Map::new(),
    )
    .expect("user");
    assert_eq!(
        (u.id.as_str(), u.name.as_deref(), u.email),
        ("github:583231", Some("octocat"), None)
    );
}

/// Errors come as `error` in a **200** body: bad_verification_code → InvalidGrant;
/// incorrect_client_credentials → InvalidClient; redirect_uri_mismatch → configuration.
#[test]
fn github_errors_in_200() {
    let p = resolved("github");
    let e = token_err(
        &p,
        200,
        Some("application/json"),
        r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"}"#,
    );
    assert_eq!(
        (e.code(), e.class()),
        (ErrorCode::InvalidGrant, ErrorClass::Reauthenticate)
    );
    assert_eq!(provider_code(&e), "bad_verification_code");
    assert_eq!(
        e.provider_error()
            .and_then(|p| p.error_description.as_deref()),
        Some("The code passed is incorrect or expired.")
    );
    // form-encoded error (no Accept header honoured)
    let e = token_err(
        &p,
        200,
        Some(FORM),
        "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.",
    );
    assert_eq!(e.code(), ErrorCode::InvalidGrant);
    let e = token_err(
        &p,
        200,
        Some("application/json"),
        r#"{"error":"incorrect_client_credentials","error_description":"The client_id and/or client_secret passed are incorrect."}"#,
    );
    assert_eq!(
        (e.code(), e.class()),
        (ErrorCode::InvalidClient, ErrorClass::Configuration)
    );
    let e = token_err(
        &p,
        200,
        Some("application/json"),
        r#"{"error":"redirect_uri_mismatch"}"#,
    );
    assert_eq!(
        (e.code(), e.class()),
        (ErrorCode::ProviderError, ErrorClass::Configuration)
    );
    let e = token_err(
        &p,
        200,
        Some("application/json"),
        r#"{"error":"bad_refresh_token"}"#,
    );
    assert_eq!(e.code(), ErrorCode::InvalidGrant);
}

/// Refresh: same endpoint, grant_type=refresh_token. Revoke: DELETE
/// `/applications/{client_id}/token`, Basic, JSON `{"access_token":…}`; refresh tokens cannot
/// be revoked there.
#[test]
fn github_refresh_and_revocation() {
    let p = resolved("github");
    let spec = refresh_spec(&p).expect("refresh");
    assert_eq!(spec.url, "https://github.com/login/oauth/access_token");
    assert_eq!(
        spec.body,
        form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", RT)
        ])
    );
    let spec = revoke_access(&p).expect("revoke");
    assert_eq!(spec.method, HttpMethod::Delete);
    assert_eq!(
        spec.url,
        "https://api.github.com/applications/my-client/token"
    );
    assert_eq!(
        spec.headers,
        h(&[
            ("User-Agent", UA),
            ("Authorization", BASIC),
            ("Accept", "application/json"),
            ("Content-Type", JSON_UTF8)
        ])
    );
    assert_eq!(spec.body, Some(Body::Json(json!({"access_token": AT}))));
    assert_unsupported(revoke_refresh(&p), "only revoke access tokens");
    assert!(provider::parse_revocation_response(&p, 204, None, b"").is_ok());
}

// ---------- Google (PROVIDERS.md § Google) ----------

#[test]
fn google_authorization_url_with_access_type_offline() {
    assert_eq!(
        auth_url(&resolved("google")),
        format!(
            "https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&scope=openid+email+profile&state={STATE}&code_challenge={CHALLENGE}&code_challenge_method=S256&access_type=offline"
        )
    );
}

#[test]
fn google_token_exchange_user_and_errors() {
    let p = resolved("google");
    let spec = code_spec(&p);
    assert_eq!(
        (spec.method, spec.url.as_str()),
        (HttpMethod::Post, "https://oauth2.googleapis.com/token")
    );
    assert_eq!(
        spec.headers,
        h(&[("Accept", "application/json"), ("Content-Type", FORM)])
    );
    assert_eq!(
        spec.body,
        form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
    );
    let t = token_ok(&p, 200, Some("application/json; charset=utf-8"), &json!({"access_token": AT, "expires_in": 3599, "refresh_token": RT, "scope": "openid https://www.googleapis.com/auth/userinfo.email", "token_type": "Bearer", "id_token": "eyJhbGciOiJSUzI1NiJ9.e30.sig"}).to_string());
    assert_eq!(t.token_type, "bearer");
    assert!(t.id_token.is_some());
    let spec = userinfo_spec(&p, &t.extra);
    assert_eq!(spec.url, "https://openidconnect.googleapis.com/v1/userinfo");
    assert_eq!(
        spec.header("authorization"),
        Some(format!("Bearer {AT}").as_str())
    );
    let info = provider::parse_userinfo_response(&p, 200, Some("application/json"), json!({"sub": "110169484474386276334", "name": "Jane Doe", "email": "jane@example.com", "email_verified": true, "picture": "https://lh3.googleusercontent.com/a/x"}).to_string().as_bytes()).expect("info");
    let u = normalize_user(&p, &info, &t.extra).expect("user");
    assert_eq!(u.id, "google:110169484474386276334");
    assert_eq!(u.email_verified, Some(true));
    assert_eq!(
        u.avatar_url.as_deref(),
        Some("https://lh3.googleusercontent.com/a/x")
    );
    // HTTP 400 invalid_grant
    let e = token_err(
        &p,
        400,
        Some("application/json"),
        r#"{"error":"invalid_grant","error_description":"Bad Request"}"#,
    );
    assert_eq!(
        (e.code(), e.class()),
        (ErrorCode::InvalidGrant, ErrorClass::Reauthenticate)
    );
    let e = token_err(
        &p,
        401,
        Some("application/json"),
        r#"{"error":"invalid_client","error_description":"Unauthorized"}"#,
    );
    assert_eq!(e.code(), ErrorCode::InvalidClient);
    // userinfo 401 → new sign-in
    let e = provider::parse_userinfo_response(&p, 401, Some("application/json"), b"{}")
        .expect_err("401");
    assert_eq!(e.class(), ErrorClass::Reauthenticate);
    assert_eq!(
        p.oidc.issuer.as_deref(),
        Some("https://accounts.google.com")
    );
    assert!(
        p.oidc
            .alternative_issuers
            .contains(&"accounts.google.com".to_owned())
    );
}

/// RFC 7009 §2.1: `POST /revoke` with `token=`; refresh tokens revocable; 200 = done,
/// 503 = retry later (§2.2.1).
#[test]
fn google_refresh_and_rfc7009_revocation() {
    let p = resolved("google");
    assert_eq!(
        refresh_spec(&p).expect("refresh").url,
        "https://oauth2.googleapis.com/token"
    );
    let spec = revoke_refresh(&p).expect("revoke");
    assert_eq!(
        (spec.method, spec.url.as_str()),
        (HttpMethod::Post, "https://oauth2.googleapis.com/revoke")
    );
    assert_eq!(spec.body, form(&[("token", RT)]));
    assert_eq!(spec.header("authorization"), None);
    assert!(provider::parse_revocation_response(&p, 200, Some("application/json"), b"{}").is_ok());
    let e = provider::parse_revocation_response(&p, 503, None, b"").expect_err("503");
    assert!(e.is_retryable());
}

// ---------- Microsoft (PROVIDERS.md § Microsoft Entra ID) ----------

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID: &str = "00000000-0000-0000-66f3-3332eca7ea81";

#[test]
fn microsoft_authorization_url_common_and_tenant() {
    let p = resolved("microsoft");
    assert_eq!(
        auth_url(&p),
        format!(
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&scope=openid+profile+email+offline_access&state={STATE}&code_challenge={CHALLENGE}&code_challenge_method=S256"
        )
    );
    let p = preset("microsoft")
        .expect("preset")
        .with_overrides(&json!({"vars": {"tenant": TID}}))
        .expect("override")
        .resolve()
        .expect("resolve");
    assert_eq!(
        p.endpoints.token.as_deref(),
        Some(format!("https://login.microsoftonline.com/{TID}/oauth2/v2.0/token").as_str())
    );
    assert_eq!(
        p.oidc.issuer.as_deref(),
        Some(format!("https://login.microsoftonline.com/{TID}/v2.0").as_str())
    );
    // a tenant that would break out of the path is refused
    let e = preset("microsoft")
        .expect("preset")
        .with_overrides(&json!({"vars": {"tenant": "evil/../x"}}))
        .expect("override")
        .resolve()
        .expect_err("bad tenant");
    assert_eq!(e.code(), ErrorCode::Configuration);
}

#[test]
fn microsoft_token_errors_aadsts() {
    let p = resolved("microsoft");
    let spec = code_spec(&p);
    assert_eq!(
        spec.url,
        "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    );
    assert_eq!(
        spec.headers,
        h(&[("Accept", "application/json"), ("Content-Type", FORM)])
    );
    // AADSTS54005: code already redeemed → InvalidGrant
    let e = token_err(
        &p,
        400,
        Some("application/json; charset=utf-8"),
        r#"{"error":"invalid_grant","error_description":"AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.","error_codes":[54005],"timestamp":"2026-11-23 01:00:00Z","trace_id":"t","correlation_id":"c"}"#,
    );
    assert_eq!(
        (e.code(), e.class()),
        (ErrorCode::InvalidGrant, ErrorClass::Reauthenticate)
    );
    assert_eq!(provider_code(&e), "invalid_grant");
    assert!(e.message.contains("AADSTS54005"), "{}", e.message);
    // AADSTS70008 expired code
    let e = token_err(
        &p,
        400,
        Some("application/json"),
        r#"{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired.","error_codes":[70008]}"#,
    );
    assert_eq!(e.code(), ErrorCode::InvalidGrant);
    // AADSTS7000215 invalid secret → InvalidClient
    let e = token_err(
        &p,
        401,
        Some("application/json"),
        r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#,
    );
    assert_eq!(
        (e.code(), e.class()),
        (ErrorCode::InvalidClient, ErrorClass::Configuration)
    );
    // AADSTS50011 redirect mismatch (error = invalid_request) → configuration
    let e = token_err(
        &p,
        400,
        Some("application/json"),
        r#"{"error":"invalid_request","error_description":"AADSTS50011: The redirect URI does not match."}"#,
    );
    assert_eq!(
        (e.code(), e.class()),
        (ErrorCode::ProviderError, ErrorClass::Configuration)
    );
}

/// Key users by `oid`+`tid` ("{tid}:{oid}"), taken from the validated ID token claims in the
/// context; `sub` (pairwise) and email are never the subject.
#[test]
fn microsoft_user_is_tid_oid() {
    let p = resolved("microsoft");
    let t = token_ok(&p, 200, Some("application/json"), &json!({"access_token": AT, "token_type": "Bearer", "expires_in": 3599, "scope": "openid profile email", "refresh_token": RT, "id_token": "a.b.c"}).to_string());
    let mut ctx = t.extra.clone();
    ctx.insert("tid".into(), json!(TID));
    ctx.insert("oid".into(), json!(OID));
    let info = json!({"sub": "OLu859SGc2Sr9ZsqbkG-QbeLgJlb41KcdiPoLYNpSFA", "name": "Megan Bowen", "email": "MeganB@contoso.com"});
    let u = normalize_user(&p, &info, &ctx).expect("user");
    assert_eq!(u.id, format!("microsoft:{TID}:{OID}"));
    assert_eq!(u.subject, format!("{TID}:{OID}"));
    assert_eq!(u.email_verified, None);
    let e = normalize_user(&p, &info, &t.extra).expect_err("no tid/oid");
    assert_eq!(e.code(), ErrorCode::ProviderBadResponse);
    assert!(e.message.contains("`tid`+`oid`"), "{}", e.message);
    // no RFC 7009 endpoint
    assert_unsupported(revoke_access(&p), "revocation");
    assert!(refresh_spec(&p).is_ok());
}

/// PROVIDERS.md § Microsoft "Issuer quirk": `{tenantid}` replaced by the token's `tid` before an
/// exact comparison; allowed-tenant list; `consumers` / `organizations` / single tenant.
#[test]
fn microsoft_tenant_issuer_substitution_and_allowed_tenants() {
    let p = resolved("microsoft");
    let iss = format!("https://login.microsoftonline.com/{TID}/v2.0");
    entra::check_issuer(&p, &iss, TID).expect("common accepts any tenant");
    let e = entra::check_issuer(&p, "https://login.microsoftonline.com/common/v2.0", TID)
        .expect_err("literal");
    assert_eq!(e.code(), ErrorCode::InvalidIdToken);
    let e =
        entra::check_issuer(&p, &format!("https://sts.windows.net/{TID}/"), TID).expect_err("v1");
    assert_eq!(e.code(), ErrorCode::InvalidIdToken);
    let e = entra::check_issuer(&p, &iss, "not-a-guid").expect_err("tid");
    assert_eq!(e.code(), ErrorCode::InvalidIdToken);
    // allowed tenants
    let other = "11111111-2222-3333-4444-555555555555";
    let limited = p
        .with_overrides(&json!({"oidc": {"allowed_tenants": [TID]}}))
        .expect("o");
    entra::check_issuer(&limited, &iss, TID).expect("allowed");
    let e = entra::check_issuer(
        &limited,
        &format!("https://login.microsoftonline.com/{other}/v2.0"),
        other,
    )
    .expect_err("not allowed");
    assert_eq!(e.code(), ErrorCode::AccessDenied);
    // organizations forbids personal accounts; consumers requires them
    let pers = entra::PERSONAL_ACCOUNTS_TENANT;
    let orgs = preset("microsoft")
        .expect("p")
        .with_overrides(&json!({"vars": {"tenant": "organizations"}}))
        .expect("o")
        .resolve()
        .expect("r");
    assert_eq!(
        entra::check_issuer(
            &orgs,
            &format!("https://login.microsoftonline.com/{pers}/v2.0"),
            pers
        )
        .expect_err("personal")
        .code(),
        ErrorCode::AccessDenied
    );
    let cons = preset("microsoft")
        .expect("p")
        .with_overrides(&json!({"vars": {"tenant": "consumers"}}))
        .expect("o")
        .resolve()
        .expect("r");
    entra::check_issuer(
        &cons,
        &format!("https://login.microsoftonline.com/{pers}/v2.0"),
        pers,
    )
    .expect("personal ok");
    // single tenant
    let single = preset("microsoft")
        .expect("p")
        .with_overrides(&json!({"vars": {"tenant": TID}}))
        .expect("o")
        .resolve()
        .expect("r");
    entra::check_issuer(&single, &iss, TID).expect("same tenant");
    assert_eq!(
        entra::check_issuer(
            &single,
            &format!("https://login.microsoftonline.com/{other}/v2.0"),
            other
        )
        .expect_err("other")
        .code(),
        ErrorCode::AccessDenied
    );
}

// ---------- GitLab (PROVIDERS.md § GitLab) ----------

#[test]
fn gitlab_com_and_self_hosted() {
    let p = resolved("gitlab");
    assert_eq!(
        auth_url(&p),
        format!(
            "https://gitlab.com/oauth/authorize?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&scope=openid+profile+email&state={STATE}&code_challenge={CHALLENGE}&code_challenge_method=S256"
        )
    );
    let spec = code_spec(&p);
    assert_eq!(
        (spec.method, spec.url.as_str()),
        (HttpMethod::Post, "https://gitlab.com/oauth/token")
    );
    assert_eq!(
        spec.body,
        form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
    );
    let own = preset("gitlab")
        .expect("p")
        .with_overrides(&json!({"vars": {"base_url": "https://git.example.org/"}}))
        .expect("o")
        .resolve()
        .expect("r");
    own.check().expect("check");
    assert_eq!(
        own.endpoints.authorization.as_deref(),
        Some("https://git.example.org/oauth/authorize")
    );
    assert_eq!(
        own.endpoints.token.as_deref(),
        Some("https://git.example.org/oauth/token")
    );
    assert_eq!(
        own.endpoints.userinfo.as_deref(),
        Some("https://git.example.org/oauth/userinfo")
    );
    assert_eq!(own.oidc.issuer.as_deref(), Some("https://git.example.org"));
    // a plain-http self-hosted base URL fails the start-up check
    let e = preset("gitlab")
        .expect("p")
        .with_overrides(&json!({"vars": {"base_url": "http://git.example.org"}}))
        .expect("o")
        .resolve()
        .expect("r")
        .check()
        .expect_err("http");
    assert_eq!(e.code(), ErrorCode::Configuration);
}

#[test]
fn gitlab_success_user_errors_refresh_revoke() {
    let p = resolved("gitlab");
    let t = token_ok(&p, 200, Some("application/json; charset=utf-8"), &json!({"access_token": AT, "token_type": "Bearer", "expires_in": 7200, "refresh_token": RT, "scope": "openid profile email", "created_at": 1_607_635_748, "id_token": "a.b.c"}).to_string());
    assert_eq!(t.expires_in, Some(7200));
    let info = json!({"sub": "1234", "name": "Jane", "nickname": "jane", "email": "jane@example.com", "email_verified": true, "picture": "https://gitlab.com/uploads/-/system/user/avatar/1234/avatar.png"});
    let info = provider::parse_userinfo_response(
        &p,
        200,
        Some("application/json"),
        info.to_string().as_bytes(),
    )
    .expect("info");
    let u = normalize_user(&p, &info, &t.extra).expect("user");
    assert_eq!(
        (u.id.as_str(), u.email_verified),
        ("gitlab:1234", Some(true))
    );
    let e = token_err(
        &p,
        400,
        Some("application/json"),
        r#"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}"#,
    );
    assert_eq!(e.code(), ErrorCode::InvalidGrant);
    assert_eq!(
        refresh_spec(&p).expect("r").url,
        "https://gitlab.com/oauth/token"
    );
    let spec = revoke_refresh(&p).expect("revoke");
    assert_eq!(spec.url, "https://gitlab.com/oauth/revoke");
    assert_eq!(
        spec.body,
        form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("token", RT),
            ("token_type_hint", "refresh_token")
        ])
    );
}

// ---------- Gitee (PROVIDERS.md § Gitee) ----------

#[test]
fn gitee_everything() {
    let p = resolved("gitee");
    // PKCE unknown → not sent; scope user_info
    assert_eq!(
        auth_url(&p),
        format!(
            "https://gitee.com/oauth/authorize?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&scope=user_info&state={STATE}"
        )
    );
    let spec = code_spec(&p);
    assert_eq!(
        (spec.method, spec.url.as_str()),
        (HttpMethod::Post, "https://gitee.com/oauth/token")
    );
    // 403 without User-Agent: sent on every call
    assert_eq!(
        spec.headers,
        h(&[
            ("User-Agent", UA),
            ("Accept", "application/json"),
            ("Content-Type", FORM)
        ])
    );
    assert_eq!(
        spec.body,
        form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT)
        ])
    );
    let t = token_ok(&p, 200, Some("application/json;charset=UTF-8"), &json!({"access_token": AT, "token_type": "bearer", "expires_in": 86400, "refresh_token": RT, "scope": "user_info", "created_at": 1_700_000_000}).to_string());
    // userinfo: token in the query, User-Agent
    let spec = userinfo_spec(&p, &t.extra);
    assert_eq!(
        spec.url,
        format!("https://gitee.com/api/v5/user?access_token={AT}")
    );
    assert_eq!(spec.header("user-agent"), Some(UA));
    assert_eq!(spec.header("authorization"), None);
    let u = normalize_user(&p, &json!({"id": 2_264_455, "login": "octo", "name": "Octo", "avatar_url": "https://gitee.com/assets/no_portrait.png", "email": null}), &t.extra).expect("user");
    assert_eq!(
        (u.id.as_str(), u.name.as_deref(), u.email),
        ("gitee:2264455", Some("Octo"), None)
    );
    let e = token_err(
        &p,
        401,
        Some("application/json"),
        r#"{"error":"invalid_grant","error_description":"授权方式无效，或者登录回调地址无效、过期或已被撤销"}"#,
    );
    assert_eq!(e.code(), ErrorCode::InvalidGrant);
    let spec = refresh_spec(&p).expect("refresh");
    assert_eq!(
        spec.body,
        form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", RT)
        ])
    );
    assert_unsupported(revoke_access(&p), "revocation");
}

// ---------- OSChina (PROVIDERS.md § OSChina) ----------

#[test]
fn oschina_everything() {
    let p = resolved("oschina");
    assert_eq!(
        auth_url(&p),
        format!(
            "https://www.oschina.net/action/oauth2/authorize?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&state={STATE}"
        )
    );
    let spec = code_spec(&p);
    assert_eq!(spec.method, HttpMethod::Get);
    assert_eq!(
        spec.url,
        format!(
            "https://www.oschina.net/action/openapi/token?client_id=my-client&client_secret=s3cr3t%2B%2F%3A%25&grant_type=authorization_code&code={CODE}&redirect_uri={REDIRECT_ENC}&dataType=json"
        )
    );
    assert_eq!(spec.body, None);
    let t = token_ok(&p, 200, Some("application/json;charset=utf-8"), &json!({"access_token": AT, "refresh_token": RT, "token_type": "bearer", "expires_in": 604_799, "uid": 12345}).to_string());
    assert_eq!(t.extra.get("uid"), Some(&json!(12345)));
    let spec = userinfo_spec(&p, &t.extra);
    assert_eq!(
        spec.url,
        format!("https://www.oschina.net/action/openapi/user?access_token={AT}&dataType=json")
    );
    let info = provider::parse_userinfo_response(&p, 200, Some("text/html"), br#"{"id":12345,"email":"u@example.com","name":"oscer","gender":"male","avatar":"https://static.oschina.net/uploads/user/1/2_50.jpg","location":"SZ","url":"https://my.oschina.net/u/12345"}"#).expect("info");
    let u = normalize_user(&p, &info, &t.extra).expect("user");
    assert_eq!(
        (u.id.as_str(), u.avatar_url.as_deref()),
        (
            "oschina:12345",
            Some("https://static.oschina.net/uploads/user/1/2_50.jpg")
        )
    );
    let e = token_err(
        &p,
        401,
        Some("application/json"),
        r#"{"error":"invalid_grant","error_description":"Invalid authorization code"}"#,
    );
    assert_eq!(e.code(), ErrorCode::InvalidGrant);
    let e = token_err(
        &p,
        401,
        Some("application/json"),
        r#"{"error":"invalid_client","error_description":"bad client"}"#,
    );
    assert_eq!(e.code(), ErrorCode::InvalidClient);
    assert!(
        refresh_spec(&p)
            .expect("refresh")
            .url
            .contains("grant_type=refresh_token&refresh_token=")
    );
}

// ---------- LinuxDo (PROVIDERS.md § LinuxDo) ----------

#[test]
fn linuxdo_everything() {
    let p = resolved("linuxdo");
    assert_eq!(
        auth_url(&p),
        format!(
            "https://connect.linux.do/oauth2/authorize?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&state={STATE}&code_challenge={CHALLENGE}&code_challenge_method=S256"
        )
    );
    let spec = code_spec(&p);
    assert_eq!(spec.url, "https://connect.linux.do/oauth2/token");
    assert_eq!(
        spec.headers,
        h(&[
            ("Authorization", BASIC),
            ("Accept", "application/json"),
            ("Content-Type", FORM)
        ])
    );
    assert_eq!(
        spec.body,
        form(&[
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER)
        ])
    );
    let t = token_ok(&p, 200, Some("application/json"), &json!({"access_token": AT, "token_type": "bearer", "expires_in": 3600, "refresh_token": RT}).to_string());
    let spec = userinfo_spec(&p, &t.extra);
    assert_eq!(spec.url, "https://connect.linux.do/api/user");
    let info = json!({"id": 1, "username": "neo", "name": "Neo", "avatar_template": "/user_avatar/linux.do/neo/{size}/1_2.png", "active": true, "trust_level": 4, "silenced": false, "api_key": "SECRET-API-KEY"});
    let u = normalize_user(&p, &info, &t.extra).expect("user");
    assert_eq!(u.id, "linuxdo:1");
    assert_eq!(
        u.avatar_url.as_deref(),
        Some("https://linux.do/user_avatar/linux.do/neo/120/1_2.png")
    );
    assert!(
        !u.raw.to_string().contains("SECRET-API-KEY"),
        "api_key must not reach raw"
    );
    assert_eq!(u.raw["trust_level"], json!(4));
    let e = token_err(
        &p,
        400,
        Some("application/json"),
        r#"{"error":"invalid_grant"}"#,
    );
    assert_eq!(e.code(), ErrorCode::InvalidGrant);
    assert!(refresh_spec(&p).is_ok());
}

// ---------- WeChat (PROVIDERS.md § WeChat MP / Open QR) ----------

const WX_TOKEN: &str = r#"{"access_token":"at-0123456789-SECRET-ACCESS","expires_in":7200,"refresh_token":"rt-0123456789-SECRET-REFRESH","openid":"oLVPpjqs9BhvzwPj5A-vTYAX3GLc","scope":"snsapi_userinfo","unionid":"o6_bmasdasdsad6_2sgVt7hMZOPfL"}"#;

/// `appid`, exact order `appid, redirect_uri, response_type, scope, state`, mandatory
/// `#wechat_redirect`, no PKCE.
#[test]
fn wechat_mp_authorization_url_exact_order_and_fragment() {
    let p = resolved("wechat_mp");
    assert_eq!(
        auth_url(&p),
        format!(
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid=my-client&redirect_uri={REDIRECT_ENC}&response_type=code&scope=snsapi_userinfo&state={STATE}#wechat_redirect"
        )
    );
    assert_eq!(
        auth_url(&resolved("wechat_mp_base")),
        format!(
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid=my-client&redirect_uri={REDIRECT_ENC}&response_type=code&scope=snsapi_base&state={STATE}#wechat_redirect"
        )
    );
    assert_eq!(
        auth_url(&resolved("wechat_open")),
        format!(
            "https://open.weixin.qq.com/connect/qrconnect?appid=my-client&redirect_uri={REDIRECT_ENC}&response_type=code&scope=snsapi_login&state={STATE}#wechat_redirect"
        )
    );
    // state ≤128 bytes of [a-zA-Z0-9]
    assert!(provider::state_is_acceptable(&p, STATE));
    assert!(!provider::state_is_acceptable(&p, "abc-def_ghi"));
    assert!(!provider::state_is_acceptable(&p, &"a".repeat(129)));
    assert!(provider::state_is_acceptable(
        &resolved("github"),
        "abc-def_ghi"
    ));
}

/// GET with `appid` + `secret` in the query, no `redirect_uri`, no verifier.
#[test]
fn wechat_token_request_is_get_query() {
    for name in ["wechat_mp", "wechat_mp_base", "wechat_open"] {
        let spec = code_spec(&resolved(name));
        assert_eq!(spec.method, HttpMethod::Get, "{name}");
        assert_eq!(
            spec.url,
            format!(
                "https://api.weixin.qq.com/sns/oauth2/access_token?appid=my-client&secret=s3cr3t%2B%2F%3A%25&grant_type=authorization_code&code={CODE}"
            )
        );
        assert!(spec.headers.is_empty(), "{name}: {:?}", spec.headers);
        assert_eq!(spec.body, None);
    }
}

/// JSON served as `text/plain`, no `token_type`; userinfo via query `access_token` + `openid`
/// + `lang`; subject = `unionid` when present, else `openid`.
#[test]
fn wechat_success_text_plain_and_user() {
    let p = resolved("wechat_mp");
    let t = token_ok(&p, 200, Some("text/plain"), WX_TOKEN);
    assert_eq!(t.access_token.secret(), AT);
    assert_eq!(t.token_type, "bearer");
    assert_eq!(
        t.extra.get("openid"),
        Some(&json!("oLVPpjqs9BhvzwPj5A-vTYAX3GLc"))
    );
    let spec = userinfo_spec(&p, &t.extra);
    assert_eq!(
        spec.url,
        format!(
            "https://api.weixin.qq.com/sns/userinfo?access_token={AT}&openid=oLVPpjqs9BhvzwPj5A-vTYAX3GLc&lang=zh_CN"
        )
    );
    let info = provider::parse_userinfo_response(&p, 200, Some("text/plain"), r#"{"openid":"oLVPpjqs9BhvzwPj5A-vTYAX3GLc","nickname":"NICKNAME","sex":1,"province":"PROVINCE","city":"CITY","country":"COUNTRY","headimgurl":"https://thirdwx.qlogo.cn/mmopen/g3MonUZtNHkdmzicIlibx6iaFqAc56vxLSUfpb6n5WKSYVY0ChQKkiaJSgQ1dZuTOgvLLrhJbERQQ4eMsv84eavHiaiceqxibJxCfHe/46","privilege":["PRIVILEGE1"],"unionid":"o6_bmasdasdsad6_2sgVt7hMZOPfL"}"#.as_bytes()).expect("info");
    let u = normalize_user(&p, &info, &t.extra).expect("user");
    assert_eq!(u.id, "wechat_mp:o6_bmasdasdsad6_2sgVt7hMZOPfL");
    assert_eq!(u.name.as_deref(), Some("NICKNAME"));
    assert!(
        u.avatar_url
            .as_deref()
            .is_some_and(|a| a.starts_with("https://thirdwx.qlogo.cn/"))
    );
    // no unionid → openid
    let u = normalize_user(
        &p,
        &json!({"openid": "OPENID", "nickname": "n"}),
        &Map::new(),
    )
    .expect("user");
    assert_eq!(u.id, "wechat_mp:OPENID");
    // userinfo error in errcode
    let e = provider::parse_userinfo_response(
        &p,
        200,
        Some("text/plain"),
        br#"{"errcode":40003,"errmsg":"invalid openid"}"#,
    )
    .expect_err("err");
    assert_eq!(e.code(), ErrorCode::ProviderError);
    assert_eq!(provider_code(&e), "40003");
}

/// snsapi_base: no userinfo call; the user comes from the token response (`openid`).
#[test]
fn wechat_mp_base_user_from_token_response() {
    let p = resolved("wechat_mp_base");
    assert!(p.userinfo.is_none());
    let t = token_ok(
        &p,
        200,
        Some("text/plain"),
        r#"{"access_token":"at-0123456789-SECRET-ACCESS","expires_in":7200,"refresh_token":"rt-0123456789-SECRET-REFRESH","openid":"OPENID","scope":"snsapi_base"}"#,
    );
    let u = normalize_user(&p, &Value::Null, &t.extra).expect("user");
    assert_eq!(u.id, "wechat_mp_base:OPENID");
    assert!(!u.raw.to_string().contains(AT), "raw must not carry tokens");
    assert_eq!(
        provider::userinfo_request(&p, &creds(), &AccessToken::new(AT), &t.extra)
            .expect_err("none")
            .code(),
        ErrorCode::Configuration
    );
}

/// WeChat `is_snapshotuser = 1` (snapshot-page virtual user) is not a real account: refused
/// with `AccessDenied` (unverified meaning; PROVIDERS.md lists only the field).
#[test]
fn wechat_snapshot_user_is_refused() {
    let p = resolved("wechat_mp");
    let ctx = obj(json!({"openid": "OPENID", "is_snapshotuser": 1}));
    let e = normalize_user(&p, &json!({"openid": "OPENID", "nickname": "x"}), &ctx)
        .expect_err("virtual");
    assert_eq!(
        (e.code(), e.class()),
        (ErrorCode::AccessDenied, ErrorClass::Reauthenticate)
    );
    let ctx = obj(json!({"openid": "OPENID", "is_snapshotuser": 0}));
    assert!(normalize_user(&p, &Value::Null, &ctx).is_ok());
}

/// `errcode`/`errmsg` on HTTP 200: 40029 invalid code, 40163 code used → InvalidGrant;
/// 40125/40013 → InvalidClient (configuration); -1 busy → retryable.
#[test]
fn wechat_errcode_mapping() {
    let p = resolved("wechat_open");
    for (body, code, class) in [
        (
            r#"{"errcode":40029,"errmsg":"invalid code"}"#,
            ErrorCode::InvalidGrant,
            ErrorClass::Reauthenticate,
        ),
        (
            r#"{"errcode":40163,"errmsg":"code been used, rid: 6581"}"#,
            ErrorCode::InvalidGrant,
            ErrorClass::Reauthenticate,
        ),
        (
            r#"{"errcode":40125,"errmsg":"invalid appsecret"}"#,
            ErrorCode::InvalidClient,
            ErrorClass::Configuration,
        ),
        (
            r#"{"errcode":40013,"errmsg":"invalid appid"}"#,
            ErrorCode::InvalidClient,
            ErrorClass::Configuration,
        ),
        (
            r#"{"errcode":-1,"errmsg":"system error"}"#,
            ErrorCode::ProviderUnavailable,
            ErrorClass::Retryable,
        ),
        (
            r#"{"errcode":99999,"errmsg":"something new"}"#,
            ErrorCode::ProviderError,
            ErrorClass::Configuration,
        ),
    ] {
        let e = token_err(&p, 200, Some("text/plain"), body);
        assert_eq!((e.code(), e.class()), (code, class), "{body}");
    }
    let e = token_err(
        &p,
        200,
        Some("text/plain"),
        r#"{"errcode":40029,"errmsg":"invalid code"}"#,
    );
    assert_eq!(provider_code(&e), "40029");
    assert_eq!(
        e.provider_error()
            .and_then(|p| p.error_description.as_deref()),
        Some("invalid code")
    );
}

/// Refresh: GET `sns/oauth2/refresh_token?appid&grant_type&refresh_token` — no secret. No
/// revocation.
#[test]
fn wechat_refresh_without_secret_and_no_revocation() {
    let p = resolved("wechat_mp");
    let spec = refresh_spec(&p).expect("refresh");
    assert_eq!(spec.method, HttpMethod::Get);
    assert_eq!(
        spec.url,
        format!(
            "https://api.weixin.qq.com/sns/oauth2/refresh_token?appid=my-client&grant_type=refresh_token&refresh_token={RT}"
        )
    );
    assert!(!spec.url.contains("secret"));
    assert_unsupported(revoke_access(&p), "revocation");
}

// ---------- Feishu / Lark (PROVIDERS.md § Feishu/Lark) ----------

#[test]
fn feishu_authorization_url_always_s256() {
    assert_eq!(
        auth_url(&resolved("feishu")),
        format!(
            "https://accounts.feishu.cn/open-apis/authen/v1/authorize?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&state={STATE}&code_challenge={CHALLENGE}&code_challenge_method=S256"
        )
    );
    assert_eq!(
        auth_url(&resolved("lark")),
        format!(
            "https://accounts.larksuite.com/open-apis/authen/v1/authorize?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&state={STATE}&code_challenge={CHALLENGE}&code_challenge_method=S256"
        )
    );
}

/// POST JSON body with the secret in the body (never Basic); v3 endpoint for Feishu, v2 for Lark.
#[test]
fn feishu_token_request_json_body() {
    for (name, url) in [
        ("feishu", "https://accounts.feishu.cn/oauth/v3/token"),
        (
            "lark",
            "https://open.larksuite.com/open-apis/authen/v2/oauth/token",
        ),
    ] {
        let spec = code_spec(&resolved(name));
        assert_eq!((spec.method, spec.url.as_str()), (HttpMethod::Post, url));
        assert_eq!(
            spec.headers,
            h(&[("Accept", "application/json"), ("Content-Type", JSON_UTF8)])
        );
        assert_eq!(spec.header("authorization"), None, "no Basic: 20070");
        assert_eq!(
            spec.body,
            Some(Body::Json(
                json!({"client_id": CLIENT_ID, "client_secret": SECRET, "grant_type": "authorization_code", "code": CODE, "redirect_uri": REDIRECT, "code_verifier": VERIFIER})
            ))
        );
    }
}

#[test]
fn feishu_success_user_errors_refresh() {
    let p = resolved("feishu");
    let t = token_ok(&p, 200, Some("application/json; charset=utf-8"), &json!({"code": 0, "access_token": AT, "expires_in": 7200, "refresh_token": RT, "refresh_token_expires_in": 604_800, "scope": "auth:user.id:read offline_access", "token_type": "Bearer"}).to_string());
    assert_eq!(t.refresh_token.as_ref().map(RefreshToken::secret), Some(RT));
    assert!(!t.extra.contains_key("code"), "envelope code removed");
    // tolerated: the same payload inside `data` (v3 shape unverified)
    let wrapped = token_ok(&p, 200, Some("application/json"), &json!({"code": 0, "msg": "success", "data": {"access_token": AT, "expires_in": 7200, "token_type": "Bearer"}}).to_string());
    assert_eq!(
        (wrapped.access_token.secret(), wrapped.expires_in),
        (AT, Some(7200))
    );
    let spec = userinfo_spec(&p, &t.extra);
    assert_eq!(
        spec.url,
        "https://open.feishu.cn/open-apis/authen/v1/user_info"
    );
    assert_eq!(
        spec.header("authorization"),
        Some(format!("Bearer {AT}").as_str())
    );
    let body = json!({"code": 0, "msg": "success", "data": {"name": "zhangsan", "en_name": "zhangsan", "avatar_url": "https://s1-imfile.feishucdn.com/avatar/icon", "open_id": "ou-caecc734c2e3328a62489fe0648c4b98779515d3", "union_id": "on-d89jhsdhjsajkda7828enjdj328ydhhw3u43yjhdj", "email": "zhangsan@feishu.cn", "user_id": "5d9bdxxx", "tenant_key": "736588c92lxf175d"}});
    let info = provider::parse_userinfo_response(
        &p,
        200,
        Some("application/json"),
        body.to_string().as_bytes(),
    )
    .expect("info");
    let u = normalize_user(&p, &info, &t.extra).expect("user");
    assert_eq!(u.id, "feishu:on-d89jhsdhjsajkda7828enjdj328ydhhw3u43yjhdj");
    assert_eq!(
        (u.email.as_deref(), u.email_verified),
        (Some("zhangsan@feishu.cn"), Some(false))
    );
    // userinfo: code != 0 on HTTP 200 is an error
    let e = provider::parse_userinfo_response(
        &p,
        200,
        Some("application/json"),
        br#"{"code":99991668,"msg":"Invalid access token for authorization."}"#,
    )
    .expect_err("err");
    assert_eq!(provider_code(&e), "99991668");
    // token errors
    for (body, code, class) in [
        (
            r#"{"code":20003,"error":"invalid_grant","error_description":"The authorization code has been used."}"#,
            ErrorCode::InvalidGrant,
            ErrorClass::Reauthenticate,
        ),
        (
            r#"{"code":20004,"error":"invalid_grant","error_description":"The authorization code has expired."}"#,
            ErrorCode::InvalidGrant,
            ErrorClass::Reauthenticate,
        ),
        (
            r#"{"code":20049,"error":"invalid_grant","error_description":"PKCE verification failed."}"#,
            ErrorCode::InvalidGrant,
            ErrorClass::Reauthenticate,
        ),
        (
            r#"{"code":20070,"error":"invalid_request","error_description":"client_secret_basic and client_secret both present"}"#,
            ErrorCode::ProviderError,
            ErrorClass::Configuration,
        ),
    ] {
        let e = token_err(&p, 400, Some("application/json"), body);
        assert_eq!((e.code(), e.class()), (code, class), "{body}");
    }
    let spec = refresh_spec(&p).expect("refresh");
    assert_eq!(
        spec.body,
        Some(Body::Json(
            json!({"client_id": CLIENT_ID, "client_secret": SECRET, "grant_type": "refresh_token", "refresh_token": RT})
        ))
    );
    assert_unsupported(revoke_access(&p), "revocation");
}

// ---------- DingTalk (PROVIDERS.md § DingTalk) ----------

#[test]
fn dingtalk_everything() {
    let p = resolved("dingtalk");
    assert_eq!(
        auth_url(&p),
        format!(
            "https://login.dingtalk.com/oauth2/auth?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&scope=openid&state={STATE}&prompt=consent"
        )
    );
    assert_eq!(p.callback_code_param(), "authCode");
    let spec = code_spec(&p);
    assert_eq!(
        (spec.method, spec.url.as_str()),
        (
            HttpMethod::Post,
            "https://api.dingtalk.com/v1.0/oauth2/userAccessToken"
        )
    );
    assert_eq!(
        spec.body,
        Some(Body::Json(
            json!({"clientId": CLIENT_ID, "clientSecret": SECRET, "grantType": "authorization_code", "code": CODE})
        ))
    );
    assert_eq!(spec.header("content-type"), Some(JSON_UTF8));
    // camelCase success
    let t = token_ok(
        &p,
        200,
        Some("application/json;charset=utf-8"),
        &json!({"expireIn": 7200, "accessToken": AT, "refreshToken": RT, "corpId": "ding123"})
            .to_string(),
    );
    assert_eq!((t.access_token.secret(), t.expires_in), (AT, Some(7200)));
    assert_eq!(t.refresh_token.as_ref().map(RefreshToken::secret), Some(RT));
    assert_eq!(t.extra.get("corpId"), Some(&json!("ding123")));
    // userinfo: custom header, not Bearer
    let spec = userinfo_spec(&p, &t.extra);
    assert_eq!(spec.url, "https://api.dingtalk.com/v1.0/contact/users/me");
    assert_eq!(spec.header("x-acs-dingtalk-access-token"), Some(AT));
    assert_eq!(spec.header("authorization"), None);
    let info = provider::parse_userinfo_response(&p, 200, Some("application/json"), br#"{"nick":"zhangsan","avatarUrl":"https://static-legacy.dingtalk.com/media/x.png","mobile":"150xxxx9144","openId":"123","unionId":"z21HjQliSzpw0Yxxxx","email":"zhangsan@alibaba-inc.com","stateCode":"86"}"#).expect("info");
    let u = normalize_user(&p, &info, &t.extra).expect("user");
    assert_eq!(
        (u.id.as_str(), u.name.as_deref()),
        ("dingtalk:z21HjQliSzpw0Yxxxx", Some("zhangsan"))
    );
    // errors: HTTP 4xx + {code, message, requestid} (unverified shape)
    let e = token_err(
        &p,
        400,
        Some("application/json"),
        r#"{"code":"invalidParameter.authCode.notFound","message":"不合法的临时授权码","requestid":"4C8D0E7B"}"#,
    );
    assert_eq!(
        (e.code(), e.class()),
        (ErrorCode::InvalidGrant, ErrorClass::Reauthenticate)
    );
    let e = token_err(
        &p,
        400,
        Some("application/json"),
        r#"{"code":"Forbidden.AccessDenied.IpNotInWhiteList","message":"ip","requestid":"x"}"#,
    );
    assert_eq!(e.code(), ErrorCode::ProviderError);
    let spec = refresh_spec(&p).expect("refresh");
    assert_eq!(
        spec.body,
        Some(Body::Json(
            json!({"clientId": CLIENT_ID, "clientSecret": SECRET, "grantType": "refresh_token", "refreshToken": RT})
        ))
    );
}

// ---------- QQ (PROVIDERS.md § QQ) ----------

#[test]
fn qq_authorization_and_token_request() {
    let p = resolved("qq");
    assert_eq!(
        auth_url(&p),
        format!(
            "https://graph.qq.com/oauth2.0/authorize?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&scope=get_user_info&state={STATE}"
        )
    );
    let spec = code_spec(&p);
    assert_eq!(spec.method, HttpMethod::Get);
    assert_eq!(
        spec.url,
        format!(
            "https://graph.qq.com/oauth2.0/token?client_id=my-client&client_secret=s3cr3t%2B%2F%3A%25&grant_type=authorization_code&code={CODE}&redirect_uri={REDIRECT_ENC}&fmt=json"
        )
    );
}

/// Form-encoded default success, JSON with fmt=json, JSONP errors on 200.
#[test]
fn qq_responses_form_json_jsonp() {
    let p = resolved("qq");
    let t = token_ok(
        &p,
        200,
        Some("text/html"),
        &format!("access_token={AT}&expires_in=7776000&refresh_token={RT}"),
    );
    assert_eq!(
        (t.access_token.secret(), t.expires_in),
        (AT, Some(7_776_000))
    );
    let t = token_ok(
        &p,
        200,
        Some("text/html"),
        &json!({"access_token": AT, "expires_in": "7776000", "refresh_token": RT}).to_string(),
    );
    assert_eq!(t.expires_in, Some(7_776_000));
    let e = token_err(
        &p,
        200,
        Some("text/html"),
        r#"callback( {"error":100020,"error_description":"code is reused error"} );"#,
    );
    assert_eq!(
        (e.code(), e.class()),
        (ErrorCode::InvalidGrant, ErrorClass::Reauthenticate)
    );
    assert_eq!(provider_code(&e), "100020");
    let e = token_err(
        &p,
        200,
        Some("application/json"),
        r#"{"error":100019,"error_description":"code to access token error"}"#,
    );
    assert_eq!(e.code(), ErrorCode::InvalidGrant);
    let e = token_err(
        &p,
        200,
        Some("text/html"),
        r#"callback( {"error":100009,"error_description":"client secret is illegal"} );"#,
    );
    assert_eq!(e.code(), ErrorCode::InvalidClient);
}

/// Multi-step: `/oauth2.0/me` → openid (client_id checked) → `get_user_info` with
/// `oauth_consumer_key` + `openid`.
#[test]
fn qq_openid_step_and_user() {
    let p = resolved("qq");
    let spec = provider::openid_request(&p, &creds(), &AccessToken::new(AT)).expect("me");
    assert_eq!(
        spec.url,
        format!("https://graph.qq.com/oauth2.0/me?access_token={AT}&fmt=json")
    );
    let mut ctx = Map::new();
    provider::parse_openid_response(
        &p,
        &creds(),
        200,
        Some("text/html"),
        br#"callback( {"client_id":"my-client","openid":"D9F1C4C0E4A5E2F1"} );"#,
        &mut ctx,
    )
    .expect("me parses");
    assert_eq!(ctx.get("openid"), Some(&json!("D9F1C4C0E4A5E2F1")));
    // a token issued to another app is refused (token substitution)
    let mut other = Map::new();
    let e = provider::parse_openid_response(
        &p,
        &creds(),
        200,
        Some("application/json"),
        br#"{"client_id":"someone-else","openid":"X"}"#,
        &mut other,
    )
    .expect_err("other app");
    assert_eq!(e.class(), ErrorClass::Reauthenticate);
    assert!(other.is_empty());
    let spec = userinfo_spec(&p, &ctx);
    assert_eq!(
        spec.url,
        format!(
            "https://graph.qq.com/user/get_user_info?access_token={AT}&oauth_consumer_key=my-client&openid=D9F1C4C0E4A5E2F1"
        )
    );
    let info = provider::parse_userinfo_response(&p, 200, Some("text/html"), r#"{"ret":0,"msg":"","nickname":"Peter","figureurl_qq_1":"http://q.qlogo.cn/qqapp/100312990/DE19/40","figureurl_qq_2":"http://q.qlogo.cn/qqapp/100312990/DE19/100","gender":"男"}"#.as_bytes()).expect("info");
    let u = normalize_user(&p, &info, &ctx).expect("user");
    assert_eq!(
        (u.id.as_str(), u.name.as_deref()),
        ("qq:D9F1C4C0E4A5E2F1", Some("Peter"))
    );
    assert_eq!(
        u.avatar_url.as_deref(),
        Some("http://q.qlogo.cn/qqapp/100312990/DE19/100")
    );
    let e = provider::parse_userinfo_response(
        &p,
        200,
        Some("text/html"),
        r#"{"ret":1002,"msg":"请先登录"}"#.as_bytes(),
    )
    .expect_err("ret");
    assert_eq!(provider_code(&e), "1002");
    let spec = refresh_spec(&p).expect("refresh");
    assert!(
        spec.url
            .starts_with("https://graph.qq.com/oauth2.0/token?client_id=my-client&client_secret=")
    );
    assert!(spec.url.ends_with(&format!(
        "grant_type=refresh_token&refresh_token={RT}&fmt=json"
    )));
    assert_unsupported(revoke_access(&p), "revocation");
}

// ---------- Weibo (PROVIDERS.md § Weibo) ----------

#[test]
fn weibo_everything() {
    let p = resolved("weibo");
    assert_eq!(
        auth_url(&p),
        format!(
            "https://api.weibo.com/oauth2/authorize?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&state={STATE}"
        )
    );
    let spec = code_spec(&p);
    assert_eq!(
        (spec.method, spec.url.as_str()),
        (
            HttpMethod::Post,
            "https://api.weibo.com/oauth2/access_token"
        )
    );
    assert_eq!(
        spec.body,
        form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT)
        ])
    );
    // JSON served text/plain; no token_type
    let t = token_ok(&p, 200, Some("text/plain;charset=UTF-8"), &json!({"access_token": AT, "expires_in": 157_679_999, "remind_in": "157679999", "uid": "1404376560", "isRealName": "true"}).to_string());
    let spec = userinfo_spec(&p, &t.extra);
    assert_eq!(
        spec.url,
        format!("https://api.weibo.com/2/users/show.json?access_token={AT}&uid=1404376560")
    );
    let info = provider::parse_userinfo_response(&p, 200, Some("text/plain;charset=UTF-8"), br#"{"id":1404376560,"idstr":"1404376560","screen_name":"zaku","name":"zaku","profile_image_url":"http://tp1.sinaimg.cn/1404376560/50/0/1","avatar_large":"http://tp1.sinaimg.cn/1404376560/180/0/1"}"#).expect("info");
    let u = normalize_user(&p, &info, &t.extra).expect("user");
    assert_eq!(
        (u.id.as_str(), u.avatar_url.as_deref()),
        (
            "weibo:1404376560",
            Some("http://tp1.sinaimg.cn/1404376560/180/0/1")
        )
    );
    let e = token_err(
        &p,
        400,
        Some("text/plain;charset=UTF-8"),
        r#"{"request":"/oauth2/access_token","error_code":21325,"error":"invalid_grant","error_description":"invalid authorization code"}"#,
    );
    assert_eq!(
        (e.code(), e.class()),
        (ErrorCode::InvalidGrant, ErrorClass::Reauthenticate)
    );
    assert_unsupported(refresh_spec(&p), "refresh");
    let spec = revoke_access(&p).expect("revoke");
    assert_eq!(
        (spec.method, spec.url.as_str()),
        (
            HttpMethod::Get,
            format!("https://api.weibo.com/oauth2/revokeoauth2?access_token={AT}").as_str()
        )
    );
    assert!(
        provider::parse_revocation_response(&p, 200, Some("text/plain"), br#"{"result":"true"}"#)
            .is_ok()
    );
    assert!(
        provider::parse_revocation_response(&p, 200, Some("text/plain"), br#"{"result":"false"}"#)
            .is_err()
    );
    assert_unsupported(revoke_refresh(&p), "only revoke access tokens");
}

// ---------- WeCom (PROVIDERS.md § WeCom) ----------

#[test]
fn wecom_authorization_url_with_agentid() {
    let p = resolved("wecom");
    assert_eq!(
        auth_url(&p),
        format!(
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid=my-client&redirect_uri={REDIRECT_ENC}&response_type=code&scope=snsapi_base&state={STATE}&agentid=1000002#wechat_redirect"
        )
    );
    let e = preset("wecom")
        .expect("p")
        .resolve()
        .expect_err("agentid needed");
    assert_eq!(e.code(), ErrorCode::Configuration);
    assert!(e.message.contains("vars.agentid"), "{}", e.message);
}

/// Corp-token flow: gettoken (corpid + corpsecret) → getuserinfo?access_token&code → userid.
#[test]
fn wecom_corp_token_flow() {
    let p = resolved("wecom");
    assert_eq!(
        code_spec_err(&p).code(),
        ErrorCode::Configuration,
        "no user token exchange"
    );
    let spec = provider::app_token_request(&p, &creds()).expect("gettoken");
    assert_eq!(spec.method, HttpMethod::Get);
    assert_eq!(
        spec.url,
        "https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpid=my-client&corpsecret=s3cr3t%2B%2F%3A%25"
    );
    let t = provider::parse_app_token_response(
        &p,
        200,
        Some("application/json; charset=UTF-8"),
        br#"{"errcode":0,"errmsg":"ok","access_token":"accesstoken000001","expires_in":7200}"#,
        NOW,
    )
    .expect("corp token");
    assert_eq!(
        (t.access_token.secret(), t.expires_in),
        ("accesstoken000001", Some(7200))
    );
    let spec = provider::code_identity_request(&p, &t.access_token, &AuthorizationCode::new(CODE))
        .expect("identity");
    assert_eq!(
        spec.url,
        format!(
            "https://qyapi.weixin.qq.com/cgi-bin/auth/getuserinfo?access_token=accesstoken000001&code={CODE}"
        )
    );
    let info = provider::parse_code_identity_response(
        &p,
        200,
        Some("application/json"),
        br#"{"errcode":0,"errmsg":"ok","userid":"zhangsan","user_ticket":"USER_TICKET_SECRET"}"#,
    )
    .expect("identity");
    let u = normalize_user(&p, &info, &Map::new()).expect("user");
    assert_eq!(u.id, "wecom:zhangsan");
    assert!(!u.raw.to_string().contains("USER_TICKET_SECRET"));
    let info = provider::parse_code_identity_response(
        &p,
        200,
        Some("application/json"),
        br#"{"errcode":0,"errmsg":"ok","openid":"oAAAAA","external_userid":"wmAAAA"}"#,
    )
    .expect("non-member");
    assert_eq!(
        normalize_user(&p, &info, &Map::new()).expect("user").id,
        "wecom:oAAAAA"
    );
    let e = provider::parse_code_identity_response(
        &p,
        200,
        Some("application/json"),
        br#"{"errcode":40029,"errmsg":"invalid code"}"#,
    )
    .expect_err("bad code");
    assert_eq!(
        (e.code(), e.class()),
        (ErrorCode::InvalidGrant, ErrorClass::Reauthenticate)
    );
    let e = provider::parse_code_identity_response(
        &p,
        200,
        Some("application/json"),
        br#"{"errcode":50001,"errmsg":"redirect_url not authorised"}"#,
    )
    .expect_err("domain");
    assert_eq!(e.class(), ErrorClass::Configuration);
    assert_unsupported(refresh_spec(&p), "no user token");
    assert_unsupported(revoke_access(&p), "revocation");
}

fn code_spec_err(p: &ProviderProfile) -> authsplit_core::Error {
    let code = AuthorizationCode::new(CODE);
    provider::token_request(
        p,
        &creds(),
        Grant::AuthorizationCode {
            code: &code,
            code_verifier: None,
            redirect_uri: REDIRECT,
        },
    )
    .expect_err("refused")
}

// ---------- Discord (PROVIDERS.md § Discord) ----------

#[test]
fn discord_everything() {
    let p = resolved("discord");
    assert_eq!(
        auth_url(&p),
        format!(
            "https://discord.com/oauth2/authorize?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&scope=identify+email&state={STATE}&code_challenge={CHALLENGE}&code_challenge_method=S256"
        )
    );
    // RFC 9207: Discord returns iss on authorization responses
    assert_eq!(p.callback_issuer(), (Some("https://discord.com"), true));
    let spec = code_spec(&p);
    assert_eq!(
        (spec.method, spec.url.as_str()),
        (HttpMethod::Post, "https://discord.com/api/oauth2/token")
    );
    assert_eq!(
        spec.headers,
        h(&[
            ("Authorization", BASIC),
            ("Accept", "application/json"),
            ("Content-Type", FORM)
        ])
    );
    assert_eq!(
        spec.body,
        form(&[
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER)
        ])
    );
    let t = token_ok(&p, 200, Some("application/json"), &json!({"access_token": AT, "token_type": "Bearer", "expires_in": 604_800, "refresh_token": RT, "scope": "identify email"}).to_string());
    assert_eq!(
        userinfo_spec(&p, &t.extra).url,
        "https://discord.com/api/users/@me"
    );
    let info = json!({"id": "80351110224678912", "username": "nelly", "discriminator": "0", "global_name": "Nelly", "avatar": "8342729096ea3675442027381ff50dfe", "verified": true, "email": "nelly@discord.com"});
    let u = normalize_user(&p, &info, &t.extra).expect("user");
    assert_eq!(u.id, "discord:80351110224678912");
    assert_eq!(
        (u.name.as_deref(), u.email_verified),
        (Some("Nelly"), Some(true))
    );
    assert_eq!(
        u.avatar_url.as_deref(),
        Some(
            "https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png"
        )
    );
    let u = normalize_user(
        &p,
        &json!({"id": "1", "username": "x", "avatar": null}),
        &Map::new(),
    )
    .expect("user");
    assert_eq!(u.avatar_url, None, "no avatar hash → no URL");
    let e = token_err(
        &p,
        400,
        Some("application/json"),
        r#"{"error":"invalid_grant","error_description":"Invalid \"code\" in request."}"#,
    );
    assert_eq!(e.code(), ErrorCode::InvalidGrant);
    let spec = revoke_refresh(&p).expect("revoke");
    assert_eq!(spec.url, "https://discord.com/api/oauth2/token/revoke");
    assert_eq!(spec.header("authorization"), Some(BASIC));
    assert_eq!(
        spec.body,
        form(&[("token", RT), ("token_type_hint", "refresh_token")])
    );
    assert!(refresh_spec(&p).is_ok());
}

// ---------- generic OIDC / OAuth 2.0 ----------

fn discovery_doc(issuer: &str) -> Vec<u8> {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/me"),
        "revocation_endpoint": format!("{issuer}/token/revocation"),
        "end_session_endpoint": format!("{issuer}/session/end"),
        "jwks_uri": format!("{issuer}/jwks"),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        "authorization_response_iss_parameter_supported": true
    })
    .to_string()
    .into_bytes()
}

/// OIDC Discovery §4.3 / RFC 8414 §3.3: the discovered issuer must equal the configured one
/// exactly; endpoints filled; RFC 9207 iss required when advertised; auth method adapted.
#[test]
fn generic_oidc_discovery_exact_issuer() {
    let issuer = "http://127.0.0.1:4455";
    let p = provider::generic_oidc("local", issuer)
        .resolve()
        .expect("r");
    assert_eq!(
        discovery::discovery_url(&p).expect("url"),
        "http://127.0.0.1:4455/.well-known/openid-configuration"
    );
    assert_eq!(
        p.check()
            .expect_err("endpoints missing before discovery")
            .code(),
        ErrorCode::Configuration
    );
    let d = discovery::apply_discovery(&p, 200, &discovery_doc(issuer)).expect("discovered");
    d.check().expect("check after discovery");
    assert_eq!(
        d.endpoints.token.as_deref(),
        Some("http://127.0.0.1:4455/token")
    );
    assert_eq!(d.callback_issuer(), (Some(issuer), true));
    assert_eq!(
        d.token.client_auth,
        provider::ClientAuth::Post,
        "only post advertised"
    );
    assert!(d.supports_revocation());
    let spec = revoke_refresh(&d).expect("revoke");
    assert_eq!(spec.url, "http://127.0.0.1:4455/token/revocation");
    // trailing slash / other issuer → DiscoveryFailed
    for other in [
        "http://127.0.0.1:4455/",
        "http://localhost:4455",
        "http://127.0.0.1:4456",
    ] {
        let e = discovery::apply_discovery(&p, 200, &discovery_doc(other)).expect_err(other);
        assert_eq!(e.code(), ErrorCode::DiscoveryFailed, "{other}");
    }
    assert_eq!(
        discovery::apply_discovery(&p, 404, b"")
            .expect_err("404")
            .code(),
        ErrorCode::DiscoveryFailed
    );
    assert_eq!(
        discovery::apply_discovery(&p, 200, b"<html>")
            .expect_err("html")
            .code(),
        ErrorCode::DiscoveryFailed
    );
    // LinuxDo-style trailing slash leniency is opt-in per profile
    let lenient = p
        .with_overrides(&json!({"oidc": {"issuer_trailing_slash_lenient": true}}))
        .expect("o");
    discovery::apply_discovery(&lenient, 200, &discovery_doc("http://127.0.0.1:4455/"))
        .expect("lenient");
    // non-loopback http endpoints in the document are refused (SSRF / downgrade)
    let mut doc: Value = serde_json::from_slice(&discovery_doc(issuer)).expect("doc");
    doc["token_endpoint"] = json!("http://evil.example/token");
    let e = discovery::apply_discovery(&p, 200, doc.to_string().as_bytes()).expect_err("http");
    assert_eq!(e.code(), ErrorCode::DiscoveryFailed);
    // Microsoft multi-tenant metadata: issuer is the {tenantid} template
    let ms = resolved("microsoft");
    let mut msdoc: Value = serde_json::from_slice(&discovery_doc(
        "https://login.microsoftonline.com/common/v2.0",
    ))
    .expect("doc");
    msdoc["issuer"] = json!("https://login.microsoftonline.com/{tenantid}/v2.0");
    discovery::apply_discovery(&ms, 200, msdoc.to_string().as_bytes())
        .expect("template issuer accepted");
}

#[test]
fn generic_oauth2_from_endpoints() {
    let p = provider::generic_oauth2(
        "corp",
        Endpoints {
            authorization: Some("https://sso.example.com/oauth/authorize".into()),
            token: Some("https://sso.example.com/oauth/token".into()),
            userinfo: Some("https://sso.example.com/api/me".into()),
            ..Endpoints::default()
        },
    )
    .resolve()
    .expect("r");
    p.check().expect("check");
    assert_eq!(
        auth_url(&p),
        format!(
            "https://sso.example.com/oauth/authorize?response_type=code&client_id=my-client&redirect_uri={REDIRECT_ENC}&state={STATE}&code_challenge={CHALLENGE}&code_challenge_method=S256"
        )
    );
    let spec = code_spec(&p);
    assert_eq!(
        spec.header("authorization"),
        Some(BASIC),
        "RFC 6749 §2.3.1: basic by default"
    );
    assert_eq!(
        normalize_user(&p, &json!({"id": 42, "login": "x"}), &Map::new())
            .expect("u")
            .id,
        "corp:42"
    );
    assert_eq!(
        normalize_user(&p, &json!({"sub": "abc", "id": 42}), &Map::new())
            .expect("u")
            .id,
        "corp:abc"
    );
    assert_unsupported(revoke_access(&p), "revocation");
    // missing token endpoint → start-up error that names it
    let e = provider::generic_oauth2(
        "x",
        Endpoints {
            authorization: Some("https://a.example/auth".into()),
            ..Endpoints::default()
        },
    )
    .check()
    .expect_err("no token");
    assert!(e.message.contains("token endpoint"), "{}", e.message);
}

// ---------- Google client_secrets.json ----------

#[test]
fn google_client_secrets_json() {
    let web = r#"{"web":{"client_id":"123.apps.googleusercontent.com","project_id":"p","auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token","auth_provider_x509_cert_url":"https://www.googleapis.com/oauth2/v1/certs","client_secret":"GOCSPX-secret","redirect_uris":["https://app.example.com/callback"],"javascript_origins":["https://app.example.com"]}}"#;
    let g = google::from_client_secrets(web).expect("web");
    assert_eq!(g.kind, google::ClientKind::Web);
    assert_eq!(g.credentials.client_id, "123.apps.googleusercontent.com");
    assert_eq!(
        g.credentials.client_secret.as_ref().map(|s| s.secret()),
        Some("GOCSPX-secret")
    );
    assert_eq!(
        g.redirect_uris,
        vec!["https://app.example.com/callback".to_owned()]
    );
    assert_eq!(
        g.profile.endpoints.authorization.as_deref(),
        Some("https://accounts.google.com/o/oauth2/auth")
    );
    assert!(!format!("{g:?}").contains("GOCSPX-secret"));
    g.profile.resolve().expect("r").check().expect("check");
    let installed = r#"{"installed":{"client_id":"i","client_secret":"s","redirect_uris":["http://localhost"]}}"#;
    assert_eq!(
        google::from_client_secrets(installed)
            .expect("installed")
            .kind,
        google::ClientKind::Installed
    );
    for (bad, needle) in [
        ("not json", "not a JSON object"),
        (r#"{"other":{}}"#, "neither `web` nor `installed`"),
        (
            r#"{"web":{"client_id":"a","client_secret":"b"},"installed":{}}"#,
            "both",
        ),
        (r#"{"web":{"client_secret":"b"}}"#, "`client_id` is missing"),
        (r#"{"web":{"client_id":"a"}}"#, "`client_secret` is missing"),
        (
            r#"{"web":{"client_id":"a","client_secret":"b","token_uri":"http://evil.example/token"}}"#,
            "token_uri",
        ),
        (
            r#"{"web":{"client_id":"a","client_secret":"b","redirect_uris":"https://x"}}"#,
            "redirect_uris",
        ),
        // Pinned to Google's hosts: an https URL elsewhere would receive the code and secret.
        (
            r#"{"web":{"client_id":"a","client_secret":"b","token_uri":"https://evil.example/token"}}"#,
            "token_uri",
        ),
        (
            r#"{"web":{"client_id":"a","client_secret":"b","auth_uri":"https://accounts.google.com.evil.example/o/oauth2/auth"}}"#,
            "auth_uri",
        ),
        (
            r#"{"web":{"client_id":"a","client_secret":"b","token_uri":"https://oauth2.googleapis.com:8443/token"}}"#,
            "token_uri",
        ),
    ] {
        let e = google::from_client_secrets(bad).expect_err(bad);
        assert_eq!(e.code(), ErrorCode::Configuration, "{bad}");
        assert!(e.message.contains(needle), "{bad}: {}", e.message);
    }
}

/// RFC 6749 §3.1.2: the redirect URI must be absolute, without fragment; http only on loopback.
#[test]
fn rfc6749_s3_1_2_redirect_uri_checks() {
    provider::check_redirect_uri(REDIRECT, "x").expect("https");
    provider::check_redirect_uri("http://127.0.0.1:5173/cb", "x").expect("loopback");
    for bad in [
        "/callback",
        "https://app.example.com/cb#frag",
        "http://app.example.com/cb",
        "javascript:alert(1)",
    ] {
        let e = provider::check_redirect_uri(bad, "x").expect_err(bad);
        assert_eq!(e.code(), ErrorCode::Configuration, "{bad}");
    }
}

// ---------- one parser ----------

/// A generic provider is the RFC 6749 profile: its token responses go through the same parser
/// with [`ResponseRules::strict`], so the per-provider entry point and the core one agree on
/// every outcome (success, error code, class, provider error).
#[test]
fn rfc6749_s5_generic_providers_are_the_rfc6749_profile() {
    let endpoints = Endpoints {
        authorization: Some("https://as.example/authorize".into()),
        token: Some("https://as.example/token".into()),
        ..Endpoints::default()
    };
    let generic = [
        provider::generic_oauth2("plain", endpoints),
        provider::generic_oidc("op", "https://op.example"),
    ];
    let j = Some("application/json");
    let cases: &[(u16, Option<&str>, &str)] = &[
        (
            200,
            j,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":60}"#,
        ),
        (200, j, r#"{"access_token":"a"}"#),
        (
            200,
            Some("text/plain"),
            r#"{"access_token":"a","token_type":"bearer"}"#,
        ),
        (200, j, r#"{"error":"bad_verification_code"}"#),
        (400, j, r#"{"error":"invalid_grant"}"#),
        (400, j, r#"{"error":"bad_verification_code"}"#),
        (400, j, r#"{"errcode":40029,"errmsg":"invalid code"}"#),
        (401, j, r#"{"error":"invalid_client"}"#),
        (500, j, r#"{"error":"server_error"}"#),
        (503, None, ""),
        (302, None, ""),
    ];
    for p in &generic {
        assert_eq!(p.response, ResponseRules::strict(), "{}", p.id);
        for (status, ct, body) in cases {
            let ours = provider::parse_token_response(p, *status, *ct, body.as_bytes(), NOW);
            let core = token::parse_token_response(
                *status,
                *ct,
                body.as_bytes(),
                &ResponseRules::strict(),
                NOW,
            );
            let outcome = |r: &Result<token::TokenSet, authsplit_core::Error>| match r {
                Ok(t) => Ok((t.access_token.secret().to_owned(), t.expires_at)),
                Err(e) => Err((e.code(), e.class(), provider_code(e))),
            };
            assert_eq!(outcome(&ours), outcome(&core), "{} {status} {body}", p.id);
        }
        // The well-known codes of the RFC 6749 profile: a 400 `bad_verification_code` is a bad
        // code whoever sends it.
        let e = token_err(p, 400, j, r#"{"error":"bad_verification_code"}"#);
        assert_eq!(e.code(), ErrorCode::InvalidGrant, "{}", p.id);
    }
}

// ---------- robustness ----------

/// Malformed token responses become typed errors (docs/SECURITY.md F3), never a panic and never a
/// success, for every preset.
#[test]
fn reference_s4_bad_token_responses_are_typed_errors() {
    let cases: &[(u16, Option<&str>, &str)] = &[
        (200, Some("text/html"), "<html><body>Login</body></html>"),
        (200, Some("application/json"), "{\"access_token\": "),
        (200, Some("application/json"), "null"),
        (200, Some("application/json"), "[]"),
        (200, Some("application/json"), "{\"token_type\":\"bearer\"}"),
        (
            200,
            Some("application/json"),
            "{\"access_token\":42,\"token_type\":\"bearer\"}",
        ),
        (302, None, ""),
        (500, Some("text/html"), "oops"),
        (503, None, ""),
        (429, None, ""),
    ];
    for name in PRESET_NAMES {
        let p = resolved(name);
        for (status, ct, body) in cases {
            let e = provider::parse_token_response(&p, *status, *ct, body.as_bytes(), NOW)
                .expect_err(&format!("{name} {status} {body}"));
            assert!(
                matches!(
                    e.code(),
                    ErrorCode::ProviderBadResponse
                        | ErrorCode::ProviderUnavailable
                        | ErrorCode::ProviderError
                ),
                "{name} {status} {body}: {e:?}"
            );
            if *status == 503 || *status == 429 {
                assert!(e.is_retryable(), "{name} {status}");
            }
        }
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "[a-zA-Z0-9_{}:/ .-]{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 48, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("id".to_owned()),
                        Just("sub".to_owned()),
                        Just("openid".to_owned()),
                        Just("unionid".to_owned()),
                        Just("tid".to_owned()),
                        Just("oid".to_owned()),
                        Just("idstr".to_owned()),
                        Just("union_id".to_owned()),
                        Just("unionId".to_owned()),
                        Just("userid".to_owned()),
                        Just("email".to_owned()),
                        Just("avatar".to_owned()),
                        Just("avatar_template".to_owned()),
                        Just("name".to_owned()),
                        Just("verified".to_owned()),
                        Just("email_verified".to_owned()),
                        Just("data".to_owned()),
                        Just("code".to_owned()),
                        Just("errcode".to_owned()),
                        Just("error".to_owned()),
                        Just("ret".to_owned()),
                        Just("access_token".to_owned()),
                        Just("accessToken".to_owned()),
                        Just("expires_in".to_owned()),
                        "[a-z_]{1,10}",
                    ],
                    inner,
                    0..8,
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// normalize_user never panics; a success always has `id == provider:subject` and a
        /// subject that is never taken from an email member.
        #[test]
        fn normalize_user_never_panics(info in arb_json(), ctx in arb_json()) {
            let ctx = match ctx { Value::Object(m) => m, _ => Map::new() };
            for name in PRESET_NAMES {
                let p = resolved(name);
                if let Ok(u) = normalize_user(&p, &info, &ctx) {
                    prop_assert_eq!(&u.id, &format!("{}:{}", name, u.subject));
                    prop_assert!(!u.subject.is_empty() && u.subject.len() <= 255 * 4);
                    // The subject never comes from `email`: when the email string appears
                    // nowhere else, the subject differs from it.
                    if let Some(e) = info.get("email").and_then(Value::as_str) {
                        let elsewhere = info
                            .as_object()
                            .into_iter()
                            .chain(std::iter::once(&ctx))
                            .flat_map(|m| m.iter())
                            .any(|(k, v)| k != "email" && v.as_str() == Some(e));
                        if !e.is_empty() && !e.contains(':') && !elsewhere {
                            prop_assert_ne!(u.subject.as_str(), e);
                        }
                    }
                }
            }
        }

        /// Response parsing never panics on arbitrary JSON or bytes, any status, any content type.
        #[test]
        fn response_parsing_never_panics(
            v in arb_json(),
            raw in prop::collection::vec(any::<u8>(), 0..200),
            status in prop_oneof![Just(200u16), Just(400u16), Just(401u16), Just(503u16), 100u16..600],
            ct in prop_oneof![Just(None), Just(Some("application/json")), Just(Some("text/plain")), Just(Some("text/html")), Just(Some(FORM))],
        ) {
            let json_body = v.to_string();
            let jsonp = format!("callback( {json_body} );");
            for name in PRESET_NAMES {
                let p = resolved(name);
                for body in [json_body.as_bytes(), raw.as_slice(), jsonp.as_bytes()] {
                    let _ = provider::parse_token_response(&p, status, ct, body, NOW);
                    if p.userinfo.is_some() {
                        let _ = provider::parse_userinfo_response(&p, status, ct, body);
                    }
                    if p.openid_step.is_some() {
                        let _ = provider::parse_openid_response(&p, &creds(), status, ct, body, &mut Map::new());
                    }
                    if p.flow == provider::Flow::CorpToken {
                        let _ = provider::parse_code_identity_response(&p, status, ct, body);
                    }
                    let _ = provider::parse_revocation_response(&p, status, ct, body);
                }
            }
        }
    }
}

// ---------- cross-preset tables ----------

/// Every preset: the documented bad-code response (PROVIDERS.md, each provider's error format)
/// becomes `invalid_grant`, class re-authenticate.
#[test]
fn every_preset_bad_code_is_invalid_grant() {
    let table: &[(&str, u16, &str, &str)] = &[
        (
            "github",
            200,
            "application/json",
            r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#,
        ),
        (
            "google",
            400,
            "application/json",
            r#"{"error":"invalid_grant","error_description":"Bad Request"}"#,
        ),
        (
            "microsoft",
            400,
            "application/json",
            r#"{"error":"invalid_grant","error_description":"AADSTS54005: OAuth2 Authorization code was already redeemed.","error_codes":[54005]}"#,
        ),
        (
            "gitlab",
            400,
            "application/json",
            r#"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid."}"#,
        ),
        (
            "gitee",
            401,
            "application/json",
            r#"{"error":"invalid_grant","error_description":"invalid code"}"#,
        ),
        (
            "oschina",
            401,
            "application/json",
            r#"{"error":"invalid_grant","error_description":"invalid code"}"#,
        ),
        (
            "linuxdo",
            400,
            "application/json",
            r#"{"error":"invalid_grant"}"#,
        ),
        (
            "wechat_mp",
            200,
            "text/plain",
            r#"{"errcode":40029,"errmsg":"invalid code"}"#,
        ),
        (
            "wechat_mp_base",
            200,
            "text/plain",
            r#"{"errcode":40163,"errmsg":"code been used"}"#,
        ),
        (
            "wechat_open",
            200,
            "text/plain",
            r#"{"errcode":40029,"errmsg":"invalid code"}"#,
        ),
        (
            "feishu",
            400,
            "application/json",
            r#"{"code":20003,"error":"invalid_grant","error_description":"The authorization code has been used."}"#,
        ),
        (
            "lark",
            400,
            "application/json",
            r#"{"code":20004,"error":"invalid_grant","error_description":"The authorization code has expired."}"#,
        ),
        (
            "dingtalk",
            400,
            "application/json",
            r#"{"code":"invalidParameter.authCode.notFound","message":"invalid authCode","requestid":"r"}"#,
        ),
        (
            "qq",
            200,
            "text/html",
            r#"callback( {"error":100020,"error_description":"code is reused error"} );"#,
        ),
        (
            "weibo",
            400,
            "text/plain;charset=UTF-8",
            r#"{"error":"invalid_grant","error_code":21325,"error_description":"invalid authorization code"}"#,
        ),
        (
            "wecom",
            200,
            "application/json",
            r#"{"errcode":40029,"errmsg":"invalid code"}"#,
        ),
        (
            "discord",
            400,
            "application/json",
            r#"{"error":"invalid_grant","error_description":"Invalid \"code\" in request."}"#,
        ),
    ];
    assert_eq!(table.len(), PRESET_NAMES.len());
    for (name, status, ct, body) in table {
        let p = resolved(name);
        let r = if p.flow == provider::Flow::CorpToken {
            provider::parse_code_identity_response(&p, *status, Some(ct), body.as_bytes())
                .map(|_| ())
        } else {
            provider::parse_token_response(&p, *status, Some(ct), body.as_bytes(), NOW).map(|_| ())
        };
        let e = r.expect_err(name);
        assert_eq!(
            (e.code(), e.class()),
            (ErrorCode::InvalidGrant, ErrorClass::Reauthenticate),
            "{name}: {e:?}"
        );
        assert!(e.provider_error().is_some(), "{name}: provider error kept");
        assert!(!e.message.contains(CODE), "{name}");
    }
}

/// Every preset: exact method and headers of the code exchange (GET query for WeChat, QQ,
/// OSChina, WeCom; JSON for Feishu/Lark/DingTalk; Basic for LinuxDo/Discord; `User-Agent` for
/// GitHub/Gitee).
#[test]
fn every_preset_token_request_method_and_headers() {
    let post_form = vec![("Accept", "application/json"), ("Content-Type", FORM)];
    let post_json = vec![("Accept", "application/json"), ("Content-Type", JSON_UTF8)];
    let basic_form = vec![
        ("Authorization", BASIC),
        ("Accept", "application/json"),
        ("Content-Type", FORM),
    ];
    let ua_form = vec![
        ("User-Agent", UA),
        ("Accept", "application/json"),
        ("Content-Type", FORM),
    ];
    let get_accept = vec![("Accept", "application/json")];
    type Headers = Vec<(&'static str, &'static str)>;
    let table: Vec<(&str, HttpMethod, Headers)> = vec![
        ("github", HttpMethod::Post, ua_form.clone()),
        ("google", HttpMethod::Post, post_form.clone()),
        ("microsoft", HttpMethod::Post, post_form.clone()),
        ("gitlab", HttpMethod::Post, post_form.clone()),
        ("gitee", HttpMethod::Post, ua_form),
        ("oschina", HttpMethod::Get, get_accept.clone()),
        ("linuxdo", HttpMethod::Post, basic_form.clone()),
        ("wechat_mp", HttpMethod::Get, vec![]),
        ("wechat_mp_base", HttpMethod::Get, vec![]),
        ("wechat_open", HttpMethod::Get, vec![]),
        ("feishu", HttpMethod::Post, post_json.clone()),
        ("lark", HttpMethod::Post, post_json.clone()),
        ("dingtalk", HttpMethod::Post, post_json),
        ("qq", HttpMethod::Get, get_accept),
        ("weibo", HttpMethod::Post, post_form),
        ("discord", HttpMethod::Post, basic_form),
    ];
    for (name, method, headers) in table {
        let spec = code_spec(&resolved(name));
        assert_eq!(spec.method, method, "{name}");
        assert_eq!(spec.headers, h(&headers), "{name}");
        assert_eq!(spec.body.is_none(), method == HttpMethod::Get, "{name}");
    }
    // Microsoft body (RFC 6749 §4.1.3 + RFC 7636 §4.5, client_secret_post)
    assert_eq!(
        code_spec(&resolved("microsoft")).body,
        form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
    );
}

/// Every preset with a documented success body: tokens parse and the normalized user has the
/// documented stable id.
#[test]
fn every_preset_success_yields_normalized_user() {
    let tok = json!({"access_token": AT, "token_type": "bearer", "expires_in": 3600, "refresh_token": RT});
    let ms_ctx = json!({"tid": TID, "oid": OID});
    let table: Vec<(&str, String, Value, Value, &str)> = vec![
        // (preset, token body, userinfo, extra context, expected id)
        ("github", tok.to_string(), json!({"id": 1, "login": "octocat"}), json!({}), "github:1"),
        ("google", tok.to_string(), json!({"sub": "1101", "email": "a@b.c", "email_verified": true}), json!({}), "google:1101"),
        ("microsoft", tok.to_string(), json!({"sub": "pairwise"}), ms_ctx, "microsoft:72f988bf-86f1-41af-91ab-2d7cd011db47:00000000-0000-0000-66f3-3332eca7ea81"),
        ("gitlab", tok.to_string(), json!({"sub": "1234"}), json!({}), "gitlab:1234"),
        ("gitee", tok.to_string(), json!({"id": 2_264_455, "login": "octo"}), json!({}), "gitee:2264455"),
        ("oschina", json!({"access_token": AT, "refresh_token": RT, "token_type": "bearer", "expires_in": 604_799, "uid": 12345}).to_string(), json!({"id": 12345, "name": "oscer"}), json!({}), "oschina:12345"),
        ("linuxdo", tok.to_string(), json!({"id": 1, "username": "neo"}), json!({}), "linuxdo:1"),
        ("wechat_mp", WX_TOKEN.to_owned(), json!({"openid": "oLVPpjqs9BhvzwPj5A-vTYAX3GLc", "nickname": "n"}), json!({}), "wechat_mp:o6_bmasdasdsad6_2sgVt7hMZOPfL"),
        ("wechat_mp_base", json!({"access_token": AT, "expires_in": 7200, "refresh_token": RT, "openid": "OPENID", "scope": "snsapi_base"}).to_string(), Value::Null, json!({}), "wechat_mp_base:OPENID"),
        ("wechat_open", WX_TOKEN.to_owned(), json!({"openid": "oLVPpjqs9BhvzwPj5A-vTYAX3GLc", "nickname": "n", "unionid": "o6_bmasdasdsad6_2sgVt7hMZOPfL"}), json!({}), "wechat_open:o6_bmasdasdsad6_2sgVt7hMZOPfL"),
        ("feishu", json!({"code": 0, "access_token": AT, "expires_in": 7200, "token_type": "Bearer"}).to_string(), json!({"open_id": "ou-1", "union_id": "on-1", "name": "z"}), json!({}), "feishu:on-1"),
        ("lark", json!({"code": 0, "access_token": AT, "expires_in": 7200, "token_type": "Bearer"}).to_string(), json!({"open_id": "ou-2", "union_id": "on-2"}), json!({}), "lark:on-2"),
        ("dingtalk", json!({"expireIn": 7200, "accessToken": AT, "refreshToken": RT, "corpId": "c"}).to_string(), json!({"nick": "z", "openId": "123", "unionId": "u-1"}), json!({}), "dingtalk:u-1"),
        ("qq", format!("access_token={AT}&expires_in=7776000&refresh_token={RT}"), json!({"ret": 0, "nickname": "Peter"}), json!({"openid": "D9F1"}), "qq:D9F1"),
        ("weibo", json!({"access_token": AT, "expires_in": 1234, "remind_in": "798114", "uid": "1404376560"}).to_string(), json!({"id": 1_404_376_560_u64, "idstr": "1404376560"}), json!({}), "weibo:1404376560"),
        ("discord", tok.to_string(), json!({"id": "80351110224678912", "username": "nelly"}), json!({}), "discord:80351110224678912"),
    ];
    assert_eq!(
        table.len() + 1,
        PRESET_NAMES.len(),
        "all but WeCom (no token) — see wecom_corp_token_flow"
    );
    for (name, body, info, extra, expected) in table {
        let p = resolved(name);
        // strict RFC 6749 §5.1 profiles get application/json; the quirky ones text/plain
        let ct = if p.response.format == provider::BodyFormat::Json {
            "application/json"
        } else {
            "text/plain"
        };
        let t = token_ok(&p, 200, Some(ct), &body);
        assert_eq!(t.access_token.secret(), AT, "{name}");
        let mut ctx = t.extra.clone();
        ctx.extend(obj(extra));
        let u = normalize_user(&p, &info, &ctx).expect(name);
        assert_eq!(u.id, expected, "{name}");
        assert_eq!(u.provider, name);
    }
}

// OIDC Core §3.1.2.1: a nonce only where an ID token will be validated against it — the OIDC
// presets; DingTalk asks for scope `openid` but is not OIDC, so its URL carries no nonce.
#[test]
fn nonce_only_for_presets_that_speak_oidc() {
    for name in PRESET_NAMES {
        let p = resolved(name);
        let t = authorize_template(&p, CLIENT_ID, REDIRECT, None).expect("template");
        assert_eq!(
            t.quirks.omit_nonce,
            p.oidc.issuer.is_none(),
            "{name}: omit_nonce"
        );
    }
    for (name, oidc) in [
        ("google", true),
        ("microsoft", true),
        ("gitlab", true),
        ("dingtalk", false),
        ("github", false),
    ] {
        assert_eq!(
            !authorize_template(&resolved(name), CLIENT_ID, REDIRECT, None)
                .expect("template")
                .quirks
                .omit_nonce,
            oidc,
            "{name}"
        );
    }
}
