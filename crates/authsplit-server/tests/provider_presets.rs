//! Provider presets through the real router (server side): configuration (preset by id
//! and by `preset`, `[server] redirect_uri`, `vars`, `overrides`, `client_secrets_file`,
//! `dev_origin`), start-up refusals with clear messages, and code exchanges for GitHub, WeChat,
//! QQ and WeCom against the stub provider (`authsplit-test-support`, axum on 127.0.0.1:0) speaking
//! their documented wire formats (docs/PROVIDERS.md). Every preset is rebased onto the stub with `dev_origin`.
//! Full per-preset journeys live in tests/e2e/providers.test.mjs.

#![allow(missing_docs, clippy::unwrap_used)]

use authsplit_server::{Authsplit, Config};
use authsplit_test_support::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

/// A state WeChat and WeCom accept (`[A-Za-z0-9]`, PROVIDERS.md § WeChat).
const ALNUM_STATE: &str = "st0123456789abcdefghijklmnopqrstuvwxyzABCDE";
const COOKIE_KEY_HEX: &str = "abababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababab";

fn toml_config(providers: &str) -> String {
    format!(
        "[server]\ncookie_key = \"{COOKIE_KEY_HEX}\"\nallowed_origins = [\"{ORIGIN}\"]\n\
         redirect_uri = \"https://app.example/callback\"\n\n{providers}"
    )
}

fn build(providers: &str) -> Result<Authsplit, String> {
    let config = Config::from_toml_str(&toml_config(providers)).map_err(|e| e.to_string())?;
    Authsplit::new(config).map_err(|e| e.to_string())
}

fn app_of(auth: &Authsplit) -> Router {
    Router::new().nest("/auth", auth.router())
}

fn build_app(providers: &str) -> Router {
    app_of(&build(providers).unwrap())
}

/// `/transactions` then `/token`; returns (transaction reply, token reply, cookie jar).
async fn sign_in(app: &Router, provider: &str, state: &str) -> (Resp, Resp, Jar) {
    let mut jar = Jar::default();
    let t = send(
        app,
        post("/auth/transactions", &tx_body_with(provider, state), None),
    )
    .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    jar.apply(&t);
    let r = send(
        app,
        post(
            "/auth/token",
            &token_body_with(provider, state, CODE),
            Some(&jar.header()),
        ),
    )
    .await;
    jar.apply(&r);
    (t, r, jar)
}

fn build_err(providers: &str) -> String {
    match build(providers) {
        Ok(_) => panic!("configuration accepted:\n{providers}"),
        Err(e) => e,
    }
}

// ---------- configuration ----------

// `[providers.github] client_id client_secret` is a complete GitHub config (the id is
// the preset, the redirect URI comes from `[server] redirect_uri`).
#[tokio::test]
async fn preset_is_selected_by_id() {
    let app = build_app("[providers.github]\nclient_id = \"gh\"\nclient_secret = \"s3\"\n");
    let r = send(
        &app,
        Request::get("/auth/config").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.json["providers"][0]["id"], "github");
    assert_eq!(r.json["providers"][0]["name"], "GitHub");
    let t = send(
        &app,
        post("/auth/transactions", &tx_body_with("github", STATE), None),
    )
    .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    let a = AuthUrl::of(&t);
    assert_eq!(a.endpoint, "https://github.com/login/oauth/authorize");
    assert_eq!(a.get("client_id"), Some("gh"));
    assert_eq!(a.get("redirect_uri"), Some("https://app.example/callback"));
    assert_eq!(a.get("scope"), Some("read:user user:email"));
    assert_eq!(a.get("state"), Some(STATE));
    assert_eq!(a.get("code_challenge"), Some(CHALLENGE));
    assert_eq!(t.json["code_param"], "code");
}

// `preset = "microsoft"` under another id, with `vars.tenant` and `allowed_tenants`; the
// provider's own `redirect_uri` wins over the server default.
#[tokio::test]
async fn preset_is_selected_by_preset_key_with_vars() {
    let auth = build(
        "[providers.work]\npreset = \"microsoft\"\nclient_id = \"ms\"\nclient_secret = \"s\"\n\
         redirect_uri = \"https://app.example/ms\"\nvars = { tenant = \"organizations\" }\n\
         allowed_tenants = [\"72f988bf-86f1-41af-91ab-2d7cd011db47\"]\n",
    )
    .unwrap();
    let summary = &auth.providers()[0];
    assert_eq!(summary.id, "work");
    assert_eq!(summary.preset.as_deref(), Some("microsoft"));
    assert_eq!(summary.name, "Microsoft");
    let app = app_of(&auth);
    let t = send(
        &app,
        post("/auth/transactions", &tx_body_with("work", STATE), None),
    )
    .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    let a = AuthUrl::of(&t);
    assert_eq!(
        a.endpoint,
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
    );
    assert_eq!(a.get("redirect_uri"), Some("https://app.example/ms"));
}

// `overrides` deep-merge into the profile (ProviderProfile::with_overrides); unknown fields
// fail at start-up naming the field.
#[tokio::test]
async fn overrides_are_applied_and_unknown_fields_refused() {
    let app = build_app(
        "[providers.google]\nclient_id = \"g\"\nclient_secret = \"s\"\n\
         overrides = { display_name = \"Google (work)\", authorize = { prompt = \"consent\", default_scopes = [\"openid\", \"email\"] } }\n",
    );
    let t = send(
        &app,
        post("/auth/transactions", &tx_body_with("google", STATE), None),
    )
    .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    let a = AuthUrl::of(&t);
    assert_eq!(a.get("prompt"), Some("consent"));
    assert_eq!(a.get("scope"), Some("openid email"));
    // The preset's extras stay (deep merge), after every protocol parameter.
    assert_eq!(
        a.params.last(),
        Some(&("access_type".into(), "offline".into()))
    );
    assert_eq!(a.get("access_type"), Some("offline"));
    let c = send(
        &app,
        Request::get("/auth/config").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(c.json["providers"][0]["name"], "Google (work)");

    let e = build_err(
        "[providers.google]\nclient_id = \"g\"\nclient_secret = \"s\"\noverrides = { authorise = { prompt = \"x\" } }\n",
    );
    assert!(
        e.contains("providers.google.overrides") && e.contains("authorise"),
        "{e}"
    );
}

// An unknown preset fails at start-up and lists the valid names.
#[test]
fn unknown_preset_lists_the_presets() {
    let e = build_err(
        "[providers.gh]\npreset = \"githib\"\nclient_id = \"x\"\nclient_secret = \"TOPSECRET\"\n",
    );
    assert!(e.contains("`githib`"), "{e}");
    for name in authsplit_core::provider::PRESET_NAMES {
        assert!(e.contains(name), "{name} missing from: {e}");
    }
    assert!(!e.contains("TOPSECRET"), "{e}");
}

// A missing secret fails at start-up and says which key (and env variable) to set.
#[test]
fn missing_client_secret_is_refused() {
    let e = build_err("[providers.github]\nclient_id = \"x\"\n");
    assert!(
        e.contains("providers.github.client_secret is required")
            && e.contains("AUTHSPLIT__PROVIDERS__GITHUB__CLIENT_SECRET"),
        "{e}"
    );
    // Without any redirect URI default, that is refused too.
    let config = Config::from_toml_str(&format!(
        "[server]\ncookie_key = \"{COOKIE_KEY_HEX}\"\n[providers.github]\nclient_id = \"x\"\nclient_secret = \"y\"\n"
    ))
    .unwrap();
    let e = Authsplit::new(config).unwrap_err().to_string();
    assert!(
        e.contains("providers.github.redirect_uri is required"),
        "{e}"
    );
}

// RFC 6749 §3.1.2: the redirect URI must be absolute.
#[test]
fn relative_redirect_uri_is_refused() {
    let e = build_err(
        "[providers.github]\nclient_id = \"x\"\nclient_secret = \"y\"\nredirect_uri = \"/callback\"\n",
    );
    assert!(
        e.contains("providers.github.redirect_uri is not an absolute URL"),
        "{e}"
    );
}

// PROVIDERS.md § WeCom: `agentid` is required.
#[test]
fn wecom_without_agentid_is_refused() {
    let e = build_err("[providers.wecom]\nclient_id = \"corp\"\nclient_secret = \"y\"\n");
    assert!(e.contains("vars.agentid"), "{e}");
}

// OIDC Discovery §4.3: a discovered issuer that differs from the configured one is a typed
// `discovery_failed` error — at start-up (warm_up, which the binary turns into a refusal) and
// on use.
#[tokio::test]
async fn issuer_mismatch_is_a_typed_error() {
    let stub = Stub::start().await;
    *stub.inner.discovery.lock().unwrap() = Some(authsplit_test_support::oidc::discovery(
        &stub,
        "https://other.example",
    ));
    let auth = build(&format!(
        "[providers.op]\nissuer = \"{}\"\nclient_id = \"c\"\nclient_secret = \"s\"\n",
        stub.base
    ))
    .unwrap();
    let failures = auth.warm_up().await;
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].1.code(),
        authsplit_core::ErrorCode::DiscoveryFailed
    );
    assert!(
        failures[0]
            .1
            .message
            .contains("differs from the configured issuer"),
        "{}",
        failures[0].1.message
    );
    let t = send(
        &app_of(&auth),
        post("/auth/transactions", &tx_body_with("op", STATE), None),
    )
    .await;
    assert_error(&t, 502, "discovery_failed");
}

// Google's client_secrets.json loads as the Google preset with its id, secret,
// endpoints and first redirect URI; a redirect URI not in the file is refused.
#[tokio::test]
async fn client_secrets_file_loads_google() {
    let dir = std::env::temp_dir().join(format!("authsplit-cs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("client_secrets.json");
    std::fs::write(
        &path,
        json!({"web": {"client_id": "123.apps.googleusercontent.com", "client_secret": "GOCSPX-secret",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "redirect_uris": ["https://app.example/google/callback", "https://app.example/other"]}})
        .to_string(),
    )
    .unwrap();
    let p = path.display().to_string();
    let auth = build(&format!(
        "[providers.google]\nclient_secrets_file = \"{p}\"\n"
    ))
    .unwrap();
    assert_eq!(auth.providers()[0].preset.as_deref(), Some("google"));
    let t = send(
        &app_of(&auth),
        post("/auth/transactions", &tx_body_with("google", STATE), None),
    )
    .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    let a = AuthUrl::of(&t);
    assert_eq!(a.get("client_id"), Some("123.apps.googleusercontent.com"));
    assert_eq!(a.endpoint, "https://accounts.google.com/o/oauth2/auth");
    assert_eq!(
        a.get("redirect_uri"),
        Some("https://app.example/google/callback")
    );
    assert_eq!(a.get("scope"), Some("openid email profile"));
    assert!(!t.text.contains("GOCSPX"), "{}", t.text);

    let e = build_err(&format!(
        "[providers.google]\nclient_secrets_file = \"{p}\"\nredirect_uri = \"https://app.example/nope\"\n"
    ));
    assert!(
        e.contains("not one of the client_secrets_file's redirect_uris"),
        "{e}"
    );
    let e = build_err("[providers.google]\nclient_secrets_file = \"/nonexistent/cs.json\"\n");
    assert!(e.contains("cannot read /nonexistent/cs.json"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

// `dev_origin` is DEV/TEST ONLY: loopback http(s) origins only, a warning at start-up, and
// every endpoint rebased to `<origin>/<host>/<path>`.
#[tokio::test]
async fn dev_origin_accepts_only_loopback() {
    for bad in [
        "http://example.com:8080",
        "https://10.0.0.1",
        "http://127.0.0.1:9/prefix",
        "ftp://127.0.0.1",
        "127.0.0.1:9",
    ] {
        let e = build_err(&format!(
            "[providers.github]\nclient_id = \"x\"\nclient_secret = \"y\"\ndev_origin = \"{bad}\"\n"
        ));
        assert!(e.contains("providers.github.dev_origin"), "{bad}: {e}");
    }
    let auth = build(
        "[providers.github]\nclient_id = \"x\"\nclient_secret = \"y\"\ndev_origin = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    assert!(
        auth.warnings()
            .iter()
            .any(|w| w.contains("DEV/TEST ONLY") && w.contains("dev_origin")),
        "{:?}",
        auth.warnings()
    );
    let t = send(
        &app_of(&auth),
        post("/auth/transactions", &tx_body_with("github", STATE), None),
    )
    .await;
    assert_eq!(
        AuthUrl::of(&t).endpoint,
        "http://127.0.0.1:9/github.com/login/oauth/authorize"
    );
}

// ---------- exchanges ----------

fn b64_basic(id: &str, secret: &str) -> String {
    authsplit_core::provider::basic_auth_value(id, secret)
}

fn preset_toml(id: &str, stub: &Stub, extra: &str) -> String {
    format!(
        "[providers.{id}]\nclient_id = \"{id}-app\"\nclient_secret = \"{SECRET}\"\ndev_origin = \"{}\"\n{extra}",
        stub.base
    )
}

// RFC 6749 §5.2 errors in a 200: the `[token_response]` tolerances are added to what the
// profile reads already — `errcode_in_200` on the GitHub preset keeps its `error` in a 200, and
// a generic provider with both reads both shapes.
#[tokio::test]
async fn token_response_tolerances_add_to_the_profile() {
    let stub = Stub::start().await;
    let github = preset_toml(
        "github",
        &stub,
        "token_response = { errcode_in_200 = true }\n",
    );
    let plain = format!(
        "[providers.plain]\nauthorization_endpoint = \"{0}/authorize\"\n\
         token_endpoint = \"{0}/plain/token\"\nclient_id = \"plain-app\"\n\
         client_secret = \"{SECRET}\"\n\
         token_response = {{ error_in_200 = true, errcode_in_200 = true }}\n",
        stub.base
    );
    let app = build_app(&format!("{github}\n{plain}"));
    let github_error = r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#;
    let wechat_error = r#"{"errcode":40029,"errmsg":"invalid code"}"#;
    let gh = "/github.com/login/oauth/access_token";
    // (provider, token path, body, status, code, provider error): GitHub's own error map knows
    // no errcode, so 40029 is a provider error there; the generic profile knows both codes.
    for (provider, path, body, status, code, provider_error) in [
        (
            "github",
            gh,
            github_error,
            400,
            "invalid_grant",
            "bad_verification_code",
        ),
        ("github", gh, wechat_error, 502, "provider_error", "40029"),
        (
            "plain",
            "/plain/token",
            github_error,
            400,
            "invalid_grant",
            "bad_verification_code",
        ),
        (
            "plain",
            "/plain/token",
            wechat_error,
            400,
            "invalid_grant",
            "40029",
        ),
    ] {
        stub.on(path, 200, "application/json", body);
        let (_, r, _) = sign_in(&app, provider, STATE).await;
        assert_error(&r, status, code);
        assert_eq!(
            r.json["provider_error"], provider_error,
            "{provider}: {}",
            r.text
        );
    }
}

// RFC 6749 §2.3.1: a confidential client authenticates with its secret — `client_auth` is
// `client_secret_basic` or `client_secret_post`, in the TOML and through the builder alike.
#[test]
fn client_auth_is_basic_or_post() {
    for method in ["none", "id_only", "basic", "private_key_jwt"] {
        let e = build_err(&format!(
            "[providers.github]\nclient_id = \"gh\"\nclient_secret = \"s\"\nclient_auth = \"{method}\"\n"
        ));
        assert!(
            e.contains("client_secret_basic or client_secret_post"),
            "{method}: {e}"
        );
    }
    let stub_base = "http://127.0.0.1:9";
    for method in [
        authsplit_server::ClientAuth::None,
        authsplit_server::ClientAuth::IdOnly,
    ] {
        let p = authsplit_server::ProviderConfig::oauth2(
            &format!("{stub_base}/authorize"),
            &format!("{stub_base}/token"),
            CLIENT_ID,
            SECRET,
            "https://app.example/callback",
        )
        .client_auth(method);
        let config = Config::builder()
            .cookie_key_bytes(&[1u8; 64])
            .allowed_origin(ORIGIN)
            .provider("p", p)
            .build();
        let e = Authsplit::new(config).map(|_| ()).unwrap_err().to_string();
        assert!(
            e.contains("providers.p.client_auth must be client_secret_basic or client_secret_post"),
            "{method:?}: {e}"
        );
    }
    build(
        "[providers.github]\nclient_id = \"gh\"\nclient_secret = \"s\"\nclient_auth = \"client_secret_basic\"\n",
    )
    .expect("client_secret_basic is accepted");
}

// PROVIDERS.md § GitHub: POST form with client_secret_post and `Accept: application/json`, a
// form-encoded answer is read too; errors come as `error` in a 200 body
// (`bad_verification_code` → invalid_grant, never retried); userinfo with Bearer + User-Agent;
// the user id is the numeric `id`; revocation takes only access tokens, so the session keeps
// the access token (encrypted) and logout revokes it.
#[tokio::test]
async fn github_exchange() {
    let stub = Stub::start().await;
    let app = build_app(&preset_toml("github", &stub, ""));
    stub.on(
        "/github.com/login/oauth/access_token",
        200,
        "application/x-www-form-urlencoded; charset=utf-8",
        "access_token=gho_ACCESS123&scope=read%3Auser&token_type=bearer",
    );
    stub.on(
        "/api.github.com/user",
        200,
        "application/json",
        r#"{"id": 583231, "login": "octocat", "name": "The Octocat", "email": null,
            "avatar_url": "https://avatars.githubusercontent.com/u/583231"}"#,
    );
    let (_, r, jar) = sign_in(&app, "github", STATE).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["access_token"], "gho_ACCESS123");
    assert_eq!(r.json["user"]["id"], "github:583231");
    assert_eq!(r.json["user"]["name"], "The Octocat");
    assert_eq!(
        r.json["user"]["avatar_url"],
        "https://avatars.githubusercontent.com/u/583231"
    );
    let calls = stub.calls_to("/github.com/login/oauth/access_token");
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.method, "POST");
    assert_eq!(c.form_get("client_id").as_deref(), Some("github-app"));
    assert_eq!(c.form_get("client_secret").as_deref(), Some(SECRET));
    assert_eq!(c.form_get("code").as_deref(), Some(CODE));
    assert_eq!(c.form_get("code_verifier").as_deref(), Some(VERIFIER));
    assert_eq!(
        c.form_get("redirect_uri").as_deref(),
        Some("https://app.example/callback")
    );
    assert_eq!(c.header("accept"), Some("application/json"));
    let u = &stub.calls_to("/api.github.com/user")[0];
    assert_eq!(u.header("authorization"), Some("Bearer gho_ACCESS123"));
    assert!(
        u.header("user-agent")
            .is_some_and(|v| v.starts_with("authsplit")),
        "{:?}",
        u.header("user-agent")
    );
    // The session cookie never shows the token in clear (it is encrypted).
    assert!(!jar.header().contains("gho_ACCESS123"));
    // Logout: GitHub revokes only access tokens — the session kept this one (encrypted) for it:
    // `DELETE /applications/{client_id}/token`, Basic auth, JSON `{"access_token": …}`.
    stub.on(
        "/api.github.com/applications/github-app/token",
        204,
        "text/plain",
        "",
    );
    let l = send(&app, post("/auth/logout", &json!({}), Some(&jar.header()))).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    assert_eq!(l.json["revoked"], true, "{}", l.text);
    let rv = stub.calls_to("/api.github.com/applications/github-app/token");
    assert_eq!(rv.len(), 1);
    assert_eq!(rv[0].method, "DELETE");
    assert_eq!(
        rv[0].header("authorization"),
        Some(b64_basic("github-app", SECRET).as_str())
    );
    let body: Value = serde_json::from_str(&rv[0].body).unwrap();
    assert_eq!(body, json!({"access_token": "gho_ACCESS123"}));

    // Bad code: `error` in a 200 body → invalid_grant, one request only.
    stub.on(
        "/github.com/login/oauth/access_token",
        200,
        "application/json",
        r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#,
    );
    let (_, r, _) = sign_in(&app, "github", STATE).await;
    assert_error(&r, 400, "invalid_grant");
    assert_eq!(r.json["provider_error"], "bad_verification_code");
    assert_eq!(
        stub.calls_to("/github.com/login/oauth/access_token").len(),
        2
    );
}

// PROVIDERS.md § WeChat MP: alphanumeric state only; URL quirks (`appid`, order, fragment);
// GET token with appid + secret in the query and no redirect_uri; JSON as text/plain;
// userinfo by query `access_token` + `openid`; subject `unionid`; refresh by GET without the
// secret; no revocation; `errcode` 40029 → invalid_grant.
#[tokio::test]
async fn wechat_exchange_refresh_and_logout() {
    let stub = Stub::start().await;
    let app = build_app(&preset_toml("wechat_mp", &stub, ""));
    // A base64url state with `-`/`_` is refused before anything is stored.
    let t = send(
        &app,
        post(
            "/auth/transactions",
            &tx_body_with("wechat_mp", STATE),
            None,
        ),
    )
    .await;
    assert_error(&t, 400, "invalid_request");
    assert!(t.text.contains("alphanumeric"), "{}", t.text);
    assert!(t.set_cookies().is_empty());

    stub.on(
        "/api.weixin.qq.com/sns/oauth2/access_token",
        200,
        "text/plain",
        r#"{"access_token":"wx-AT-1","expires_in":7200,"refresh_token":"wx-RT-1","openid":"oOPENID","scope":"snsapi_userinfo","unionid":"uUNION"}"#,
    );
    stub.on(
        "/api.weixin.qq.com/sns/userinfo",
        200,
        "text/plain",
        r#"{"openid":"oOPENID","nickname":"小明","headimgurl":"https://thirdwx.qlogo.cn/x/0","unionid":"uUNION"}"#,
    );
    let (t, r, jar) = sign_in(&app, "wechat_mp", ALNUM_STATE).await;
    let a = AuthUrl::of(&t);
    assert_eq!(
        a.endpoint,
        format!("{}/open.weixin.qq.com/connect/oauth2/authorize", stub.base)
    );
    assert_eq!(a.get("appid"), Some("wechat_mp-app"));
    assert_eq!(a.get("client_id"), None);
    assert_eq!(a.fragment.as_deref(), Some("wechat_redirect"));
    assert_eq!(a.get("code_challenge"), None);
    assert_eq!(a.get("code_challenge_method"), None);
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["user"]["id"], "wechat_mp:uUNION");
    assert_eq!(r.json["user"]["name"], "小明");
    let c = &stub.calls_to("/api.weixin.qq.com/sns/oauth2/access_token")[0];
    assert_eq!(c.method, "GET");
    assert_eq!(c.q("appid"), Some("wechat_mp-app"));
    assert_eq!(c.q("secret"), Some(SECRET));
    assert_eq!(c.q("code"), Some(CODE));
    assert_eq!(c.q("grant_type"), Some("authorization_code"));
    assert_eq!(c.q("redirect_uri"), None);
    assert_eq!(c.q("code_verifier"), None);
    let u = &stub.calls_to("/api.weixin.qq.com/sns/userinfo")[0];
    assert_eq!(u.q("access_token"), Some("wx-AT-1"));
    assert_eq!(u.q("openid"), Some("oOPENID"));
    assert_eq!(u.q("lang"), Some("zh_CN"));

    // Refresh: GET sns/oauth2/refresh_token with appid, no secret (RFC 6749 §6 as WeChat does it).
    stub.on(
        "/api.weixin.qq.com/sns/oauth2/refresh_token",
        200,
        "text/plain",
        r#"{"access_token":"wx-AT-2","expires_in":7200,"refresh_token":"wx-RT-2","openid":"oOPENID","scope":"snsapi_userinfo"}"#,
    );
    let f = send(&app, post("/auth/refresh", &json!({}), Some(&jar.header()))).await;
    assert_eq!(f.status, StatusCode::OK, "{}", f.text);
    assert_eq!(f.json["access_token"], "wx-AT-2");
    let rc = &stub.calls_to("/api.weixin.qq.com/sns/oauth2/refresh_token")[0];
    assert_eq!(rc.q("appid"), Some("wechat_mp-app"));
    assert_eq!(rc.q("refresh_token"), Some("wx-RT-1"));
    assert_eq!(rc.q("grant_type"), Some("refresh_token"));
    assert_eq!(rc.q("secret"), None);

    // Logout: no revocation at WeChat → revoked: false, cookies cleared.
    let l = send(&app, post("/auth/logout", &json!({}), Some(&jar.header()))).await;
    assert_eq!(l.json["revoked"], false);

    // errcode 40029 on HTTP 200 → invalid_grant.
    stub.on(
        "/api.weixin.qq.com/sns/oauth2/access_token",
        200,
        "text/plain",
        r#"{"errcode":40029,"errmsg":"invalid code"}"#,
    );
    let (_, r, _) = sign_in(&app, "wechat_mp", ALNUM_STATE).await;
    assert_error(&r, 400, "invalid_grant");
}

// PROVIDERS.md § QQ: GET token with `fmt=json` answered form-encoded; the openid from
// `/oauth2.0/me` (JSONP, client id checked); userinfo with `oauth_consumer_key` + `openid`;
// JSONP error 100020 → invalid_grant.
#[tokio::test]
async fn qq_exchange() {
    let stub = Stub::start().await;
    let app = build_app(&preset_toml("qq", &stub, ""));
    stub.on(
        "/graph.qq.com/oauth2.0/token",
        200,
        "text/html",
        "access_token=QQ-AT-1&expires_in=7776000&refresh_token=QQ-RT-1",
    );
    stub.on(
        "/graph.qq.com/oauth2.0/me",
        200,
        "text/html",
        r#"callback( {"client_id":"qq-app","openid":"QQOPENID123"} );"#,
    );
    stub.on(
        "/graph.qq.com/user/get_user_info",
        200,
        "application/json",
        r#"{"ret":0,"msg":"","nickname":"Qer","figureurl_qq_2":"https://qzapp.qlogo.cn/100"}"#,
    );
    let (_, r, _) = sign_in(&app, "qq", STATE).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["user"]["id"], "qq:QQOPENID123");
    assert_eq!(r.json["user"]["name"], "Qer");
    let c = &stub.calls_to("/graph.qq.com/oauth2.0/token")[0];
    assert_eq!(c.method, "GET");
    assert_eq!(c.q("fmt"), Some("json"));
    assert_eq!(c.q("client_id"), Some("qq-app"));
    assert_eq!(c.q("client_secret"), Some(SECRET));
    let me = &stub.calls_to("/graph.qq.com/oauth2.0/me")[0];
    assert_eq!(me.q("access_token"), Some("QQ-AT-1"));
    let u = &stub.calls_to("/graph.qq.com/user/get_user_info")[0];
    assert_eq!(u.q("oauth_consumer_key"), Some("qq-app"));
    assert_eq!(u.q("openid"), Some("QQOPENID123"));

    // `/me` naming another app: the token was not issued to us.
    stub.on(
        "/graph.qq.com/oauth2.0/me",
        200,
        "text/html",
        r#"callback( {"client_id":"someone-else","openid":"X"} );"#,
    );
    let (_, r, _) = sign_in(&app, "qq", STATE).await;
    assert_error(&r, 400, "invalid_grant");

    stub.on(
        "/graph.qq.com/oauth2.0/token",
        200,
        "text/html",
        r#"callback( {"error":100020,"error_description":"code is reused error"} );"#,
    );
    let (_, r, _) = sign_in(&app, "qq", STATE).await;
    assert_error(&r, 400, "invalid_grant");
    assert_eq!(stub.calls_to("/graph.qq.com/oauth2.0/token").len(), 3);
}

// PROVIDERS.md § WeCom: the corp token (GET gettoken?corpid&corpsecret) is fetched once and
// cached; the code is resolved by `auth/getuserinfo?access_token&code` → `userid`;
// `user_ticket` never reaches the reply; there is no user token or refresh token; 40029 →
// invalid_grant.
#[tokio::test]
async fn wecom_exchange_caches_the_app_token() {
    let stub = Stub::start().await;
    let app = build_app(&preset_toml(
        "wecom",
        &stub,
        "vars = { agentid = \"1000002\" }\n",
    ));
    stub.on(
        "/qyapi.weixin.qq.com/cgi-bin/gettoken",
        200,
        "application/json",
        r#"{"errcode":0,"errmsg":"ok","access_token":"CORP-AT","expires_in":7200}"#,
    );
    stub.on(
        "/qyapi.weixin.qq.com/cgi-bin/auth/getuserinfo",
        200,
        "application/json",
        r#"{"errcode":0,"errmsg":"ok","userid":"zhangsan","user_ticket":"TICKET-SECRET"}"#,
    );
    let (t, r, jar) = sign_in(&app, "wecom", ALNUM_STATE).await;
    let a = AuthUrl::of(&t);
    assert_eq!(a.params.last(), Some(&("agentid".into(), "1000002".into())));
    assert_eq!(a.get("agentid"), Some("1000002"));
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["user"]["id"], "wecom:zhangsan");
    assert_eq!(r.json["access_token"], "");
    assert_eq!(r.json["token_type"], "none");
    assert!(!r.text.contains("TICKET-SECRET") && !r.text.contains("CORP-AT"));
    let g = &stub.calls_to("/qyapi.weixin.qq.com/cgi-bin/gettoken")[0];
    assert_eq!(g.q("corpid"), Some("wecom-app"));
    assert_eq!(g.q("corpsecret"), Some(SECRET));
    let i = &stub.calls_to("/qyapi.weixin.qq.com/cgi-bin/auth/getuserinfo")[0];
    assert_eq!(i.q("access_token"), Some("CORP-AT"));
    assert_eq!(i.q("code"), Some(CODE));
    // No refresh at WeCom: the session has no refresh token, and the answer says why.
    let f = send(&app, post("/auth/refresh", &json!({}), Some(&jar.header()))).await;
    assert_error(&f, 401, "not_authenticated");
    assert!(
        f.text
            .contains("provider `wecom` does not support refresh tokens"),
        "{}",
        f.text
    );

    // Second sign-in: the app token comes from the cache; a bad code → invalid_grant.
    stub.on(
        "/qyapi.weixin.qq.com/cgi-bin/auth/getuserinfo",
        200,
        "application/json",
        r#"{"errcode":40029,"errmsg":"invalid code"}"#,
    );
    let (_, r, _) = sign_in(&app, "wecom", ALNUM_STATE).await;
    assert_error(&r, 400, "invalid_grant");
    assert_eq!(
        stub.calls_to("/qyapi.weixin.qq.com/cgi-bin/gettoken").len(),
        1
    );
    assert_eq!(
        stub.calls_to("/qyapi.weixin.qq.com/cgi-bin/auth/getuserinfo")
            .len(),
        2
    );
}

// PROVIDERS.md § Microsoft (OIDC Core §3.1.3.7 step 2): the multi-tenant issuer
// `…/{tenantid}/v2.0` is compared after substituting the ID token's `tid`
// (entra::check_issuer); `allowed_tenants` refuses other tenants; the user id is `tid:oid`.
#[tokio::test]
async fn microsoft_tenant_issuer_and_allowed_tenants() {
    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const OTHER_TID: &str = "0d6b1b7a-1111-4222-8333-944455556666";
    let stub = Stub::start().await;
    let app = build_app(&preset_toml(
        "microsoft",
        &stub,
        &format!("allowed_tenants = [\"{TID}\"]\n"),
    ));
    stub.on(
        "/login.microsoftonline.com/common/discovery/v2.0/keys",
        200,
        "application/json",
        &authsplit_test_support::oidc::jwks().to_string(),
    );
    let now = authsplit_test_support::oidc::now();
    let token_reply = |tid: &str, iss_tid: &str| {
        let idt = authsplit_test_support::oidc::id_token(&json!({
            "iss": format!("{}/login.microsoftonline.com/{iss_tid}/v2.0", stub.base),
            "aud": "microsoft-app", "sub": "pairwise-sub", "tid": tid, "oid": "oid-123",
            "exp": now + 300, "iat": now, "nonce": NONCE, "name": "Megan"}));
        json!({"access_token": "ms-AT", "token_type": "Bearer", "expires_in": 3600,
               "refresh_token": "ms-RT", "id_token": idt})
        .to_string()
    };
    stub.on(
        "/login.microsoftonline.com/common/oauth2/v2.0/token",
        200,
        "application/json",
        &token_reply(TID, TID),
    );
    stub.on(
        "/graph.microsoft.com/oidc/userinfo",
        200,
        "application/json",
        r#"{"sub": "pairwise-sub", "name": "Megan Bowen", "email": "megan@contoso.example"}"#,
    );
    let (_, r, _) = sign_in(&app, "microsoft", STATE).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["user"]["id"], format!("microsoft:{TID}:oid-123"));
    assert_eq!(r.json["user"]["name"], "Megan Bowen");

    // `iss` of another tenant than the token's `tid` → invalid_id_token.
    stub.on(
        "/login.microsoftonline.com/common/oauth2/v2.0/token",
        200,
        "application/json",
        &token_reply(TID, OTHER_TID),
    );
    let (_, r, _) = sign_in(&app, "microsoft", STATE).await;
    assert_error(&r, 502, "invalid_id_token");

    // A consistent token from a tenant not in allowed_tenants → access_denied.
    stub.on(
        "/login.microsoftonline.com/common/oauth2/v2.0/token",
        200,
        "application/json",
        &token_reply(OTHER_TID, OTHER_TID),
    );
    let (_, r, _) = sign_in(&app, "microsoft", STATE).await;
    assert_error(&r, 400, "access_denied");
}

// An `id_token` member from a preset that does not speak OIDC (DingTalk's `openid` scope is not
// OIDC) is neither required nor validated.
#[tokio::test]
async fn non_oidc_preset_with_openid_scope_needs_no_id_token() {
    let stub = Stub::start().await;
    let app = build_app(&preset_toml("dingtalk", &stub, ""));
    stub.on(
        "/api.dingtalk.com/v1.0/oauth2/userAccessToken",
        200,
        "application/json",
        r#"{"accessToken":"dt-AT","refreshToken":"dt-RT","expireIn":7200,"corpId":"ding1"}"#,
    );
    stub.on(
        "/api.dingtalk.com/v1.0/contact/users/me",
        200,
        "application/json",
        r#"{"nick":"Ding","unionId":"UNION-DT","openId":"OPEN-DT"}"#,
    );
    let (t, r, _) = sign_in(&app, "dingtalk", STATE).await;
    assert_eq!(t.json["code_param"], "authCode");
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["user"]["id"], "dingtalk:UNION-DT");
    let c = &stub.calls_to("/api.dingtalk.com/v1.0/oauth2/userAccessToken")[0];
    let body: Value = serde_json::from_str(&c.body).unwrap();
    assert_eq!(body["clientId"], "dingtalk-app");
    assert_eq!(body["grantType"], "authorization_code");
    let u = &stub.calls_to("/api.dingtalk.com/v1.0/contact/users/me")[0];
    assert_eq!(u.header("x-acs-dingtalk-access-token"), Some("dt-AT"));
}

// GitHub apps with expiring user tokens refresh (RFC 6749 §6); the access token the session
// keeps for revocation follows the refresh, so logout revokes the current one.
#[tokio::test]
async fn github_logout_revokes_the_refreshed_access_token() {
    let stub = Stub::start().await;
    let app = build_app(&preset_toml("github", &stub, ""));
    stub.on(
        "/github.com/login/oauth/access_token",
        200,
        "application/json",
        r#"{"access_token":"ghu_FIRST","expires_in":28800,"refresh_token":"ghr_ONE","refresh_token_expires_in":15811200,"token_type":"bearer","scope":""}"#,
    );
    stub.on(
        "/api.github.com/user",
        200,
        "application/json",
        r#"{"id": 1, "login": "a"}"#,
    );
    stub.on(
        "/api.github.com/applications/github-app/token",
        204,
        "text/plain",
        "",
    );
    let (_, r, mut jar) = sign_in(&app, "github", STATE).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    stub.on(
        "/github.com/login/oauth/access_token",
        200,
        "application/json",
        r#"{"access_token":"ghu_SECOND","expires_in":28800,"refresh_token":"ghr_TWO","token_type":"bearer","scope":""}"#,
    );
    let f = send(&app, post("/auth/refresh", &json!({}), Some(&jar.header()))).await;
    assert_eq!(f.status, StatusCode::OK, "{}", f.text);
    assert_eq!(f.json["access_token"], "ghu_SECOND");
    let rc = stub.calls_to("/github.com/login/oauth/access_token");
    assert_eq!(
        rc[1].form_get("grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(rc[1].form_get("refresh_token").as_deref(), Some("ghr_ONE"));
    jar.apply(&f);
    let l = send(&app, post("/auth/logout", &json!({}), Some(&jar.header()))).await;
    assert_eq!(l.json["revoked"], true, "{}", l.text);
    let rv = stub.calls_to("/api.github.com/applications/github-app/token");
    assert_eq!(rv.len(), 1);
    let body: Value = serde_json::from_str(&rv[0].body).unwrap();
    assert_eq!(body["access_token"], "ghu_SECOND");
}

// A profile without refresh support (here switched off with `overrides = {"refresh": null}`)
// answers /refresh with a typed 401 that says so, and sends nothing (PROVIDERS.md table).
#[tokio::test]
async fn refresh_is_refused_clearly_where_the_profile_has_none() {
    let stub = Stub::start().await;
    let config = Config::builder()
        .cookie_key_bytes(&[7u8; 64])
        .allowed_origin(ORIGIN)
        .provider(
            "gitee",
            authsplit_server::ProviderConfig::preset(
                "gitee",
                "gitee-app",
                SECRET,
                "https://app.example/callback",
            )
            .dev_origin(&stub.base)
            .overrides(json!({"refresh": null})),
        )
        .build();
    let app = app_of(&Authsplit::new(config).unwrap());
    stub.on(
        "/gitee.com/oauth/token",
        200,
        "application/json",
        r#"{"access_token":"gt-AT","token_type":"bearer","expires_in":86400,"refresh_token":"gt-RT","scope":"user_info","created_at":1700000000}"#,
    );
    stub.on(
        "/gitee.com/api/v5/user",
        200,
        "application/json",
        r#"{"id": 42, "login": "gt", "name": "Gitee User"}"#,
    );
    let (_, r, jar) = sign_in(&app, "gitee", STATE).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["user"]["id"], "gitee:42");
    let f = send(&app, post("/auth/refresh", &json!({}), Some(&jar.header()))).await;
    assert_error(&f, 401, "not_authenticated");
    assert!(
        f.text.contains("does not support refresh tokens"),
        "{}",
        f.text
    );
    assert_eq!(stub.calls_to("/gitee.com/oauth/token").len(), 1);
}

// RFC 7636 §1 / RFC 9700 §2.1.1 (docs/SECURITY.md S16): every provider that
// cannot bind a code to its browser is named in a start-up warning with the risk; a provider
// with PKCE is not.
#[test]
fn presets_without_pkce_are_named_in_a_start_up_warning() {
    let mut b = authsplit_server::Config::builder()
        .cookie_key_bytes(&[7u8; 64])
        .allowed_origin(ORIGIN);
    for id in ["weibo", "gitee", "github"] {
        b = b.provider(
            id,
            authsplit_server::ProviderConfig::preset(id, "cid", "secret", "https://app.example/cb"),
        );
    }
    let auth = authsplit_server::Authsplit::new(b.build()).unwrap();
    let w = auth.warnings().join("\n");
    for (id, name) in [("weibo", "Weibo"), ("gitee", "Gitee")] {
        assert!(
            w.contains(&format!(
                "provider `{id}` ({name}) does not support PKCE: nothing binds an authorization code"
            )) && w.contains("a stolen code can be redeemed by anyone"),
            "{w}"
        );
    }
    assert!(!w.contains("provider `github`"), "{w}");
}
