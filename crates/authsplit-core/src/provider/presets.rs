//! The presets. Facts come from each platform's documentation; each preset's `unverified` list
//! names what rests on third-party code, mirrors or inference.

use std::collections::BTreeMap;

use super::{
    ApiCall, AuthorizeRules, AvatarSource, BodyFormat, ClientAuth, EmailVerified, Endpoints,
    ErrorOutcome, ErrorRule, ErrorStyle, Flow, HttpMethod, OidcRules, ParamEncoding, ParamNames,
    ParamSource, ProviderProfile, RefreshCall, ResponseRules, RevocationCall, SubjectSource,
    TokenCall, TokenPlacement, USER_AGENT, UserMapping,
};
use crate::authorize::AuthorizeQuirks;

/// The presets: one row per name, the one table that [`PRESET_NAMES`] and [`preset`] come
/// from.
macro_rules! presets {
    ($($name:literal => $make:expr,)*) => {
        /// Every preset name accepted by [`preset`], in table order.
        pub const PRESET_NAMES: &[&str] = &[$($name),*];

        /// The preset with this name ([`PRESET_NAMES`]), unresolved: call
        /// [`ProviderProfile::resolve`] after setting `vars` (Microsoft `tenant`, GitLab
        /// `base_url`, WeCom `agentid`).
        pub fn preset(name: &str) -> Option<ProviderProfile> {
            Some(match name {
                $($name => $make,)*
                _ => return None,
            })
        }
    };
}

presets! {
    "github" => github(),
    "google" => google(),
    "microsoft" => microsoft(),
    "gitlab" => gitlab(),
    "gitee" => gitee(),
    "oschina" => oschina(),
    "linuxdo" => linuxdo(),
    "wechat_mp" => wechat_mp(true),
    "wechat_mp_base" => wechat_mp(false),
    "wechat_open" => wechat_open(),
    "feishu" => feishu(false),
    "lark" => feishu(true),
    "dingtalk" => dingtalk(),
    "qq" => qq(),
    "weibo" => weibo(),
    "wecom" => wecom(),
    "discord" => discord(),
}

// ---------- small builders ----------

fn s(v: &str) -> String {
    v.to_owned()
}
fn some(v: &str) -> Option<String> {
    Some(v.to_owned())
}
fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}
fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}
fn rules(v: &[(&str, ErrorOutcome)]) -> Vec<ErrorRule> {
    v.iter()
        .map(|(c, o)| ErrorRule {
            code: (*c).to_owned(),
            outcome: *o,
        })
        .collect()
}
fn field(f: &str) -> SubjectSource {
    SubjectSource::Field(f.to_owned())
}
fn avatar(f: &str) -> AvatarSource {
    AvatarSource::Field(f.to_owned())
}

fn authorize(sep: &str, scopes: &[&str]) -> AuthorizeRules {
    AuthorizeRules {
        scope_separator: s(sep),
        default_scopes: strings(scopes),
        prompt: None,
        extra_params: Vec::new(),
        quirks: AuthorizeQuirks::default(),
        callback_code_param: s("code"),
        state_alphanumeric: false,
    }
}

/// POST form, `client_secret_post`, `Accept: application/json`.
fn form_post() -> TokenCall {
    TokenCall {
        method: HttpMethod::Post,
        encoding: ParamEncoding::Form,
        client_auth: ClientAuth::Post,
        send_redirect_uri: true,
        extra_params: Vec::new(),
        headers: pairs(&[("Accept", "application/json")]),
    }
}

fn json_rfc6749() -> ResponseRules {
    ResponseRules::rfc6749()
}

fn bearer_json() -> ApiCall {
    ApiCall {
        method: HttpMethod::Get,
        token: TokenPlacement::Bearer,
        params: Vec::new(),
        headers: pairs(&[("Accept", "application/json")]),
        format: BodyFormat::Json,
        errors: ErrorStyle::Rfc6749,
        unwrap: None,
    }
}

fn rfc7009(client_auth: ClientAuth) -> RevocationCall {
    RevocationCall {
        method: HttpMethod::Post,
        encoding: ParamEncoding::Form,
        client_auth,
        token_param: s("token"),
        accepts_refresh_token: true,
        send_token_type_hint: true,
    }
}

fn oidc_user() -> UserMapping {
    UserMapping {
        subject: vec![field("sub")],
        name: strings(&["name", "preferred_username", "nickname"]),
        email: strings(&["email"]),
        email_verified: EmailVerified::Field(s("email_verified")),
        avatar: vec![avatar("picture")],
        omit_from_raw: Vec::new(),
        reject_if_true: Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn base(
    id: &str,
    display_name: &str,
    endpoints: Endpoints,
    authorize: AuthorizeRules,
    pkce: bool,
    token: TokenCall,
    response: ResponseRules,
    user: UserMapping,
) -> ProviderProfile {
    ProviderProfile {
        id: s(id),
        display_name: s(display_name),
        vars: BTreeMap::new(),
        flow: Flow::AuthorizationCode,
        endpoints,
        oidc: OidcRules::default(),
        authorize,
        pkce,
        params: ParamNames::default(),
        token,
        response,
        refresh: Some(RefreshCall::default()),
        revocation: None,
        openid_step: None,
        userinfo: Some(bearer_json()),
        headers: Vec::new(),
        user,
        unverified: Vec::new(),
    }
}

// ---------- presets ----------

/// GitHub OAuth app (PROVIDERS.md § GitHub). Token: POST form, `client_secret_post`,
/// `Accept: application/json` (default body is form-encoded, so both are read); errors
/// (`bad_verification_code`, `incorrect_client_credentials`, `redirect_uri_mismatch`) come as
/// `error` in a **200** body. PKCE S256. Refresh only when expiring tokens are enabled.
/// Revocation: `DELETE api.github.com/applications/{client_id}/token`, Basic, JSON
/// `{"access_token":…}` (access tokens only). User: `GET api.github.com/user` (Bearer,
/// `User-Agent` required by the REST API); subject = numeric `id`. `email` may be null
/// (the `/user/emails` call is not modelled); `email_verified` unknown.
///
/// **Unverified:** refresh exists only for apps with expiring user tokens enabled.
pub fn github() -> ProviderProfile {
    let mut p = base(
        "github",
        "GitHub",
        Endpoints {
            authorization: some("https://github.com/login/oauth/authorize"),
            token: some("https://github.com/login/oauth/access_token"),
            userinfo: some("https://api.github.com/user"),
            revocation: some("https://api.github.com/applications/{client_id}/token"),
            ..Endpoints::default()
        },
        authorize(" ", &["read:user", "user:email"]),
        true,
        form_post(),
        ResponseRules {
            format: BodyFormat::JsonOrForm,
            errors: ErrorStyle::ErrorIn200,
            error_map: rules(&[
                ("bad_verification_code", ErrorOutcome::InvalidGrant),
                ("bad_refresh_token", ErrorOutcome::InvalidGrant),
                ("incorrect_client_credentials", ErrorOutcome::InvalidClient),
                ("redirect_uri_mismatch", ErrorOutcome::Configuration),
            ]),
            ..json_rfc6749()
        },
        UserMapping {
            subject: vec![field("id")],
            name: strings(&["name", "login"]),
            email: strings(&["email"]),
            email_verified: EmailVerified::Unknown,
            avatar: vec![avatar("avatar_url")],
            omit_from_raw: Vec::new(),
            reject_if_true: Vec::new(),
        },
    );
    p.headers = pairs(&[("User-Agent", USER_AGENT)]);
    p.revocation = Some(RevocationCall {
        method: HttpMethod::Delete,
        encoding: ParamEncoding::Json,
        client_auth: ClientAuth::Basic,
        token_param: s("access_token"),
        accepts_refresh_token: false,
        send_token_type_hint: false,
    });
    p.unverified = strings(&["refresh works only for apps with expiring user tokens enabled"]);
    p
}

/// Google (PROVIDERS.md § Google). OIDC (issuer `https://accounts.google.com`, ID tokens may
/// carry `iss` `accounts.google.com`). Scopes `openid email profile`; `access_type=offline` so a
/// refresh token is issued. Token: POST form, `client_secret_post`; errors HTTP 400/401 RFC 6749.
/// PKCE S256. Refresh; revocation `POST oauth2.googleapis.com/revoke` (`token=`, no client
/// auth). User: OIDC userinfo `sub`, `email_verified`.
///
/// **Unverified:** the JWKS URI comes from Google's discovery document, not PROVIDERS.md.
pub fn google() -> ProviderProfile {
    let mut a = authorize(" ", &["openid", "email", "profile"]);
    a.extra_params = pairs(&[("access_type", "offline")]);
    let mut p = base(
        "google",
        "Google",
        Endpoints {
            authorization: some("https://accounts.google.com/o/oauth2/v2/auth"),
            token: some("https://oauth2.googleapis.com/token"),
            userinfo: some("https://openidconnect.googleapis.com/v1/userinfo"),
            revocation: some("https://oauth2.googleapis.com/revoke"),
            jwks: some("https://www.googleapis.com/oauth2/v3/certs"),
            ..Endpoints::default()
        },
        a,
        true,
        form_post(),
        json_rfc6749(),
        oidc_user(),
    );
    p.oidc = OidcRules {
        issuer: some("https://accounts.google.com"),
        alternative_issuers: strings(&["accounts.google.com"]),
        ..OidcRules::default()
    };
    p.revocation = Some(RevocationCall {
        send_token_type_hint: false,
        ..rfc7009(ClientAuth::None)
    });
    p.unverified = strings(&["jwks URI taken from Google's discovery document, not PROVIDERS.md"]);
    p
}

/// Microsoft Entra ID v2.0 (PROVIDERS.md § Microsoft). `vars.tenant` = `common` (default) |
/// `organizations` | `consumers` | a tenant GUID/domain. Scopes `openid profile email
/// offline_access`. Token: POST form, `client_secret_post`; errors HTTP 400 + `error_codes`
/// (AADSTS54005 code reused, AADSTS70008 expired → InvalidGrant; AADSTS7000215 bad secret,
/// AADSTS700016 unknown app → InvalidClient; AADSTS50011 redirect URI → Configuration).
/// Issuer: multi-tenant template `https://login.microsoftonline.com/{tenantid}/v2.0`, checked
/// against the token's `tid` with [`super::entra::check_issuer`]. No RFC 7009 revocation.
/// Subject `"{tid}:{oid}"` — `oid`/`tid` come from the validated ID token claims in the context.
///
/// **Unverified:** no RFC 7009 revocation endpoint; AADSTS70008/7000215/700016/50011 meanings come from Microsoft's AADSTS list.
pub fn microsoft() -> ProviderProfile {
    let mut p = base(
        "microsoft",
        "Microsoft",
        Endpoints {
            authorization: some("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"),
            token: some("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
            userinfo: some("https://graph.microsoft.com/oidc/userinfo"),
            end_session: some("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/logout"),
            jwks: some("https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"),
            ..Endpoints::default()
        },
        authorize(" ", &["openid", "profile", "email", "offline_access"]),
        true,
        form_post(),
        ResponseRules {
            error_map: rules(&[
                ("AADSTS54005", ErrorOutcome::InvalidGrant),
                ("AADSTS70008", ErrorOutcome::InvalidGrant),
                ("AADSTS7000215", ErrorOutcome::InvalidClient),
                ("AADSTS700016", ErrorOutcome::InvalidClient),
                ("AADSTS50011", ErrorOutcome::Configuration),
            ]),
            ..json_rfc6749()
        },
        UserMapping {
            subject: vec![SubjectSource::Join {
                fields: strings(&["tid", "oid"]),
                separator: s(":"),
            }],
            name: strings(&["name"]),
            email: strings(&["email"]),
            email_verified: EmailVerified::Unknown,
            avatar: Vec::new(),
            omit_from_raw: Vec::new(),
            reject_if_true: Vec::new(),
        },
    );
    p.vars.insert(s("tenant"), s("common"));
    p.oidc = OidcRules {
        issuer: some("https://login.microsoftonline.com/{tenant}/v2.0"),
        tenant_issuer_template: some("https://login.microsoftonline.com/{tenantid}/v2.0"),
        ..OidcRules::default()
    };
    p.unverified = strings(&[
        "no RFC 7009 revocation endpoint",
        "AADSTS70008/7000215/700016/50011 meanings are from Microsoft's AADSTS list, not PROVIDERS.md",
    ]);
    p
}

/// GitLab (PROVIDERS.md § GitLab): gitlab.com or self-hosted via `vars.base_url`. OIDC
/// (issuer = base URL). Scopes `openid profile email`. Token: POST form, `client_secret_post`;
/// errors HTTP 400/401. PKCE S256. Refresh (rotating); revocation `POST {base}/oauth/revoke`.
/// User: `{base}/oauth/userinfo` → `sub`.
///
/// **Unverified:** the JWKS path `/oauth/discovery/keys`.
pub fn gitlab() -> ProviderProfile {
    let mut p = base(
        "gitlab",
        "GitLab",
        Endpoints {
            authorization: some("{base_url}/oauth/authorize"),
            token: some("{base_url}/oauth/token"),
            userinfo: some("{base_url}/oauth/userinfo"),
            revocation: some("{base_url}/oauth/revoke"),
            jwks: some("{base_url}/oauth/discovery/keys"),
            ..Endpoints::default()
        },
        authorize(" ", &["openid", "profile", "email"]),
        true,
        form_post(),
        json_rfc6749(),
        UserMapping {
            name: strings(&["name", "nickname"]),
            ..oidc_user()
        },
    );
    p.vars.insert(s("base_url"), s("https://gitlab.com"));
    p.oidc = OidcRules {
        issuer: some("{base_url}"),
        ..OidcRules::default()
    };
    p.revocation = Some(rfc7009(ClientAuth::Post));
    p.unverified =
        strings(&["jwks path `/oauth/discovery/keys` (from GitLab's discovery document)"]);
    p
}

/// Gitee (PROVIDERS.md § Gitee). Scope `user_info`. Token: POST form (all parameters in the
/// body), `client_secret_post`; **403 without `User-Agent`**, sent on every call. PKCE unknown →
/// not sent. Refresh via the token endpoint; no revocation. User: `GET api/v5/user?access_token=`
/// → `id`.
///
/// **Unverified:** HTTP 4xx on errors; all token parameters accepted in the form body; PKCE support.
pub fn gitee() -> ProviderProfile {
    let mut p = base(
        "gitee",
        "Gitee",
        Endpoints {
            authorization: some("https://gitee.com/oauth/authorize"),
            token: some("https://gitee.com/oauth/token"),
            userinfo: some("https://gitee.com/api/v5/user"),
            ..Endpoints::default()
        },
        authorize(" ", &["user_info"]),
        false,
        form_post(),
        ResponseRules {
            format: BodyFormat::JsonAnyContentType,
            ..json_rfc6749()
        },
        UserMapping {
            subject: vec![field("id")],
            name: strings(&["name", "login"]),
            email: strings(&["email"]),
            email_verified: EmailVerified::Unknown,
            avatar: vec![avatar("avatar_url")],
            omit_from_raw: Vec::new(),
            reject_if_true: Vec::new(),
        },
    );
    p.headers = pairs(&[("User-Agent", USER_AGENT)]);
    p.userinfo = Some(ApiCall {
        token: TokenPlacement::Query(s("access_token")),
        ..bearer_json()
    });
    p.unverified = strings(&[
        "error responses use HTTP 4xx",
        "all token parameters accepted in the form body (docs show some in the query)",
        "PKCE support unknown (not sent)",
    ]);
    p
}

/// OSChina (PROVIDERS.md § OSChina). No scopes. Token: GET with parameters in the query,
/// **`dataType=json` required**; errors HTTP 400/401 RFC 6749 members. No PKCE. Refresh via the
/// token endpoint. User: `openapi/user?access_token=…&dataType=json` → `id`.
///
/// **Unverified:** the content type of JSON responses (read whatever it says).
pub fn oschina() -> ProviderProfile {
    let mut p = base(
        "oschina",
        "OSChina",
        Endpoints {
            authorization: some("https://www.oschina.net/action/oauth2/authorize"),
            token: some("https://www.oschina.net/action/openapi/token"),
            userinfo: some("https://www.oschina.net/action/openapi/user"),
            ..Endpoints::default()
        },
        authorize(" ", &[]),
        false,
        TokenCall {
            method: HttpMethod::Get,
            encoding: ParamEncoding::Query,
            extra_params: pairs(&[("dataType", "json")]),
            ..form_post()
        },
        ResponseRules {
            format: BodyFormat::JsonAnyContentType,
            missing_token_type_is_bearer: true,
            ..json_rfc6749()
        },
        UserMapping {
            subject: vec![field("id")],
            name: strings(&["name"]),
            email: strings(&["email"]),
            email_verified: EmailVerified::Unknown,
            avatar: vec![avatar("avatar")],
            omit_from_raw: Vec::new(),
            reject_if_true: Vec::new(),
        },
    );
    p.userinfo = Some(ApiCall {
        token: TokenPlacement::Query(s("access_token")),
        params: vec![(s("dataType"), ParamSource::Literal(s("json")))],
        format: BodyFormat::JsonAnyContentType,
        ..bearer_json()
    });
    p.unverified = strings(&["content type of JSON responses"]);
    p
}

/// LinuxDo Connect (PROVIDERS.md § LinuxDo). Plain OAuth, no scopes. Token: POST form,
/// `client_secret_basic`. PKCE S256, refresh, RFC 6749 errors — all unverified. User:
/// `GET connect.linux.do/api/user` (Bearer) → immutable `id`.
///
/// **Unverified:** PKCE S256, refresh, RFC 6749 errors, the avatar base URL.
pub fn linuxdo() -> ProviderProfile {
    let mut p = base(
        "linuxdo",
        "LINUX DO",
        Endpoints {
            authorization: some("https://connect.linux.do/oauth2/authorize"),
            token: some("https://connect.linux.do/oauth2/token"),
            userinfo: some("https://connect.linux.do/api/user"),
            ..Endpoints::default()
        },
        authorize(" ", &[]),
        true,
        TokenCall {
            client_auth: ClientAuth::Basic,
            ..form_post()
        },
        json_rfc6749(),
        UserMapping {
            subject: vec![field("id")],
            name: strings(&["name", "username"]),
            email: strings(&["email"]),
            email_verified: EmailVerified::Unknown,
            avatar: vec![
                avatar("avatar_url"),
                AvatarSource::Template(s("https://linux.do{avatar_template}")),
            ],
            omit_from_raw: strings(&["api_key"]),
            reject_if_true: Vec::new(),
        },
    );
    p.oidc.issuer_trailing_slash_lenient = true;
    p.unverified = strings(&[
        "PKCE S256",
        "refresh via the token endpoint",
        "RFC 6749 error responses",
        "avatar_template is relative to https://linux.do",
    ]);
    p
}

fn wechat_errors() -> Vec<ErrorRule> {
    rules(&[
        ("40029", ErrorOutcome::InvalidGrant),
        ("40163", ErrorOutcome::InvalidGrant),
        ("42003", ErrorOutcome::InvalidGrant),
        ("40030", ErrorOutcome::InvalidGrant),
        ("42002", ErrorOutcome::InvalidGrant),
        ("40125", ErrorOutcome::InvalidClient),
        ("40013", ErrorOutcome::InvalidClient),
        ("40164", ErrorOutcome::Configuration),
        ("-1", ErrorOutcome::Retryable),
    ])
}

/// The WeChat shape shared by the Official Account and Open Platform presets.
fn wechat_base(
    id: &str,
    name: &str,
    authorization: &str,
    scope: &str,
    userinfo: bool,
) -> ProviderProfile {
    let mut a = authorize(",", &[scope]);
    a.quirks.client_id_param = some("appid");
    a.quirks.fragment = some("wechat_redirect");
    a.quirks.param_order = Some(strings(&[
        "appid",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
    ]));
    a.state_alphanumeric = true;
    let mut p = base(
        id,
        name,
        Endpoints {
            authorization: some(authorization),
            token: some("https://api.weixin.qq.com/sns/oauth2/access_token"),
            refresh: some("https://api.weixin.qq.com/sns/oauth2/refresh_token"),
            userinfo: userinfo.then(|| s("https://api.weixin.qq.com/sns/userinfo")),
            ..Endpoints::default()
        },
        a,
        false,
        TokenCall {
            method: HttpMethod::Get,
            encoding: ParamEncoding::Query,
            client_auth: ClientAuth::Post,
            send_redirect_uri: false,
            extra_params: Vec::new(),
            headers: Vec::new(),
        },
        ResponseRules {
            format: BodyFormat::JsonAnyContentType,
            errors: ErrorStyle::Errcode,
            missing_token_type_is_bearer: true,
            error_map: wechat_errors(),
            ..json_rfc6749()
        },
        UserMapping {
            subject: vec![field("unionid"), field("openid")],
            name: strings(&["nickname"]),
            email: Vec::new(),
            email_verified: EmailVerified::Unknown,
            avatar: vec![avatar("headimgurl")],
            omit_from_raw: Vec::new(),
            reject_if_true: strings(&["is_snapshotuser"]),
        },
    );
    p.params = ParamNames {
        client_id: s("appid"),
        client_secret: s("secret"),
        ..ParamNames::default()
    };
    p.refresh = Some(RefreshCall {
        client_auth: Some(ClientAuth::IdOnly),
    });
    p.userinfo = userinfo.then(|| ApiCall {
        method: HttpMethod::Get,
        token: TokenPlacement::Query(s("access_token")),
        params: vec![
            (s("openid"), ParamSource::Context(s("openid"))),
            (s("lang"), ParamSource::Literal(s("zh_CN"))),
        ],
        headers: Vec::new(),
        format: BodyFormat::JsonAnyContentType,
        errors: ErrorStyle::Errcode,
        unwrap: None,
    });
    p.unverified = strings(&[
        "errcode 42003 (code expired), 40030/42002 (refresh token invalid/expired), 40164 (IP not allow-listed) are from WeChat's global code list, not PROVIDERS.md",
        "is_snapshotuser = 1 means a virtual snapshot-page user (refused with access_denied); PROVIDERS.md lists only the field",
    ]);
    p
}

/// WeChat Official Account web authorization (公众号网页授权, PROVIDERS.md § WeChat MP),
/// `snsapi_userinfo` (`userinfo = true`) or `snsapi_base` (openid only, no userinfo call).
/// Authorization URL: `appid`, **exact order** `appid, redirect_uri, response_type, scope,
/// state`, mandatory `#wechat_redirect`, comma scopes, `state` `[A-Za-z0-9]` ≤128. Token: GET
/// with `appid`+`secret` in the query, no `redirect_uri`; JSON often served `text/plain`;
/// errors `errcode`/`errmsg` on 200 (40029 invalid code, 40163 code used → InvalidGrant;
/// 40125/40013 → InvalidClient; -1 busy → retryable). No PKCE (not sent). Refresh: GET
/// `sns/oauth2/refresh_token` without the secret. No revocation. User: `sns/userinfo?
/// access_token&openid&lang=zh_CN`; subject `unionid` when present, else `openid`.
///
/// **Unverified:** errcodes 42003/40030/42002/40164 (WeChat's global list); the meaning of `is_snapshotuser` (refused as a virtual user).
pub fn wechat_mp(userinfo: bool) -> ProviderProfile {
    if userinfo {
        wechat_base(
            "wechat_mp",
            "WeChat",
            "https://open.weixin.qq.com/connect/oauth2/authorize",
            "snsapi_userinfo",
            true,
        )
    } else {
        wechat_base(
            "wechat_mp_base",
            "WeChat",
            "https://open.weixin.qq.com/connect/oauth2/authorize",
            "snsapi_base",
            false,
        )
    }
}

/// WeChat Open Platform website QR login (PROVIDERS.md § WeChat Open QR): `connect/qrconnect`,
/// scope `snsapi_login`; everything else as [`wechat_mp`].
///
/// **Unverified:** the refresh-token lifetime for websites.
pub fn wechat_open() -> ProviderProfile {
    let mut p = wechat_base(
        "wechat_open",
        "WeChat",
        "https://open.weixin.qq.com/connect/qrconnect",
        "snsapi_login",
        true,
    );
    p.unverified
        .push(s("refresh-token lifetime for websites (30 d vs 180 d)"));
    p
}

/// Feishu (`lark = false`) / Lark (`lark = true`) (PROVIDERS.md § Feishu/Lark). Authorization at
/// `accounts.feishu.cn/open-apis/authen/v1/authorize`; PKCE **S256 always sent** (plain is the
/// default otherwise). Token: POST **JSON** `{grant_type, client_id, client_secret, code,
/// redirect_uri, code_verifier}`, secret in the body only; Feishu uses the v3 endpoint
/// `accounts.feishu.cn/oauth/v3/token`, Lark the v2 endpoint. Success top-level with `code:0`;
/// errors HTTP 4xx/5xx + `code` 20xxx (20003 used / 20004 expired / 20049 PKCE failed →
/// InvalidGrant; 20070 Basic + secret → Configuration). Refresh (needs `offline_access`, RT
/// single-use). User: `authen/v1/user_info` (Bearer) → `data.union_id`; emails are
/// admin-entered, so `email_verified = false`.
///
/// **Unverified:** that the v3 endpoint takes the same JSON body and answers like v2; Lark still on v2.
pub fn feishu(lark: bool) -> ProviderProfile {
    let (id, name, accounts, open, token) = if lark {
        (
            "lark",
            "Lark",
            "https://accounts.larksuite.com",
            "https://open.larksuite.com",
            "https://open.larksuite.com/open-apis/authen/v2/oauth/token".to_owned(),
        )
    } else {
        (
            "feishu",
            "Feishu",
            "https://accounts.feishu.cn",
            "https://open.feishu.cn",
            "https://accounts.feishu.cn/oauth/v3/token".to_owned(),
        )
    };
    let mut p = base(
        id,
        name,
        Endpoints {
            authorization: Some(format!("{accounts}/open-apis/authen/v1/authorize")),
            token: Some(token),
            userinfo: Some(format!("{open}/open-apis/authen/v1/user_info")),
            ..Endpoints::default()
        },
        authorize(" ", &[]),
        true,
        TokenCall {
            encoding: ParamEncoding::Json,
            ..form_post()
        },
        ResponseRules {
            errors: ErrorStyle::NumericCode,
            error_map: rules(&[
                ("20003", ErrorOutcome::InvalidGrant),
                ("20004", ErrorOutcome::InvalidGrant),
                ("20049", ErrorOutcome::InvalidGrant),
                ("20070", ErrorOutcome::Configuration),
            ]),
            ..json_rfc6749()
        },
        UserMapping {
            subject: vec![field("union_id")],
            name: strings(&["name", "en_name"]),
            email: strings(&["email", "enterprise_email"]),
            email_verified: EmailVerified::Fixed(false),
            avatar: vec![avatar("avatar_url")],
            omit_from_raw: Vec::new(),
            reject_if_true: Vec::new(),
        },
    );
    p.userinfo = Some(ApiCall {
        errors: ErrorStyle::NumericCode,
        unwrap: some("data"),
        ..bearer_json()
    });
    p.unverified = if lark {
        strings(&["Lark still serves the v2 token endpoint at open.larksuite.com"])
    } else {
        strings(&["v3 token endpoint: same JSON body and response shape as v2"])
    };
    p
}

/// DingTalk new OAuth 2.0 (PROVIDERS.md § DingTalk). Authorization `login.dingtalk.com/oauth2/
/// auth`, scope `openid`, `prompt=consent`; the callback carries **`authCode`**. Token: POST
/// **JSON camelCase** `{clientId, clientSecret, code, grantType}` (no `redirect_uri`) →
/// `{accessToken, refreshToken, expireIn, corpId}` (renamed before parsing). Errors HTTP 4xx +
/// string `code` + `message` (unverified; codes mentioning the auth code → InvalidGrant).
/// No PKCE documented (not sent). Refresh `{grantType: refresh_token, refreshToken}`. User:
/// `GET api.dingtalk.com/v1.0/contact/users/me` with header `x-acs-dingtalk-access-token`;
/// subject `unionId`.
///
/// **Unverified:** the error shape and code strings; authCode lifetime.
pub fn dingtalk() -> ProviderProfile {
    let mut a = authorize(" ", &["openid"]);
    a.prompt = some("consent");
    a.callback_code_param = s("authCode");
    let mut p = base(
        "dingtalk",
        "DingTalk",
        Endpoints {
            authorization: some("https://login.dingtalk.com/oauth2/auth"),
            token: some("https://api.dingtalk.com/v1.0/oauth2/userAccessToken"),
            userinfo: some("https://api.dingtalk.com/v1.0/contact/users/me"),
            ..Endpoints::default()
        },
        a,
        false,
        TokenCall {
            encoding: ParamEncoding::Json,
            send_redirect_uri: false,
            ..form_post()
        },
        ResponseRules {
            format: BodyFormat::JsonAnyContentType,
            errors: ErrorStyle::StringCode,
            rename: pairs(&[
                ("accessToken", "access_token"),
                ("refreshToken", "refresh_token"),
                ("expireIn", "expires_in"),
            ]),
            missing_token_type_is_bearer: true,
            error_map: rules(&[
                (
                    "invalidParameter.authCode.notFound",
                    ErrorOutcome::InvalidGrant,
                ),
                (
                    "invalidParameter.authCode.expired",
                    ErrorOutcome::InvalidGrant,
                ),
                (
                    "invalidParameter.refreshToken.notFound",
                    ErrorOutcome::InvalidGrant,
                ),
                ("invalidClientId", ErrorOutcome::InvalidClient),
                ("invalidClientSecret", ErrorOutcome::InvalidClient),
            ]),
            ..json_rfc6749()
        },
        UserMapping {
            subject: vec![field("unionId")],
            name: strings(&["nick"]),
            email: strings(&["email"]),
            email_verified: EmailVerified::Unknown,
            avatar: vec![avatar("avatarUrl")],
            omit_from_raw: Vec::new(),
            reject_if_true: Vec::new(),
        },
    );
    p.params = ParamNames {
        client_id: s("clientId"),
        client_secret: s("clientSecret"),
        grant_type: s("grantType"),
        refresh_token: s("refreshToken"),
        ..ParamNames::default()
    };
    p.userinfo = Some(ApiCall {
        token: TokenPlacement::Header(s("x-acs-dingtalk-access-token")),
        format: BodyFormat::JsonAnyContentType,
        errors: ErrorStyle::StringCode,
        ..bearer_json()
    });
    p.unverified = strings(&[
        "error shape HTTP 4xx + {code, message, requestid}",
        "error code strings (invalidParameter.authCode.notFound, …) are guesses: unknown codes map to provider_error",
        "authCode lifetime and single use",
    ]);
    p
}

/// QQ Connect (PROVIDERS.md § QQ). Scope `get_user_info` (comma). Token: **GET** with the
/// secret (appkey) in the query, `fmt=json`; success may still come form-encoded, errors as
/// JSONP `callback( {"error":100020,…} );` on 200 — all three are read. No PKCE. Refresh via the
/// token endpoint. Extra step: `GET oauth2.0/me?access_token&fmt=json` → `openid` (client id
/// checked). User: `user/get_user_info?access_token&oauth_consumer_key=<appid>&openid` (`ret` ≠ 0
/// = error). Subject `unionid` when present, else `openid`.
///
/// **Unverified:** error numbers other than 100020; the access-token lifetime (trust `expires_in`).
pub fn qq() -> ProviderProfile {
    let mut p = base(
        "qq",
        "QQ",
        Endpoints {
            authorization: some("https://graph.qq.com/oauth2.0/authorize"),
            token: some("https://graph.qq.com/oauth2.0/token"),
            openid: some("https://graph.qq.com/oauth2.0/me"),
            userinfo: some("https://graph.qq.com/user/get_user_info"),
            ..Endpoints::default()
        },
        authorize(",", &["get_user_info"]),
        false,
        TokenCall {
            method: HttpMethod::Get,
            encoding: ParamEncoding::Query,
            extra_params: pairs(&[("fmt", "json")]),
            ..form_post()
        },
        ResponseRules {
            format: BodyFormat::JsonFormOrJsonp,
            errors: ErrorStyle::QqStyle,
            missing_token_type_is_bearer: true,
            expires_in_as_string: true,
            error_map: rules(&[
                ("100019", ErrorOutcome::InvalidGrant),
                ("100020", ErrorOutcome::InvalidGrant),
                ("100013", ErrorOutcome::InvalidGrant),
                ("100014", ErrorOutcome::InvalidGrant),
                ("100015", ErrorOutcome::InvalidGrant),
                ("100016", ErrorOutcome::InvalidGrant),
                ("100008", ErrorOutcome::InvalidClient),
                ("100009", ErrorOutcome::InvalidClient),
                ("100010", ErrorOutcome::Configuration),
            ]),
            ..json_rfc6749()
        },
        UserMapping {
            subject: vec![field("unionid"), field("openid")],
            name: strings(&["nickname"]),
            email: Vec::new(),
            email_verified: EmailVerified::Unknown,
            avatar: vec![avatar("figureurl_qq_2"), avatar("figureurl_qq_1")],
            omit_from_raw: Vec::new(),
            reject_if_true: Vec::new(),
        },
    );
    let qq_api = ApiCall {
        method: HttpMethod::Get,
        token: TokenPlacement::Query(s("access_token")),
        params: vec![(s("fmt"), ParamSource::Literal(s("json")))],
        headers: Vec::new(),
        format: BodyFormat::JsonFormOrJsonp,
        errors: ErrorStyle::QqStyle,
        unwrap: None,
    };
    p.openid_step = Some(qq_api.clone());
    p.userinfo = Some(ApiCall {
        params: vec![
            (s("oauth_consumer_key"), ParamSource::ClientId),
            (s("openid"), ParamSource::Context(s("openid"))),
        ],
        ..qq_api
    });
    p.unverified = strings(&[
        "error numbers other than 100020 (100008/100009 bad appid/appkey, 100010 redirect URI, 100013-100016 token invalid, 100019 code exchange failed) are from QQ's error list, not PROVIDERS.md",
        "AT lifetime (trust expires_in)",
    ]);
    p
}

/// Weibo (PROVIDERS.md § Weibo). Token: POST form, `client_secret_post`; JSON served
/// `text/plain`; errors HTTP 400 + `error`/`error_code` (unverified). No PKCE, no refresh for web
/// apps (unverified). Revocation `GET oauth2/revokeoauth2?access_token` → `{"result":"true"}`.
/// User: `2/users/show.json?access_token&uid` (uid from the token response) → `idstr`.
///
/// **Unverified:** the error shape, no refresh for web apps, revocation as a GET.
pub fn weibo() -> ProviderProfile {
    let mut p = base(
        "weibo",
        "Weibo",
        Endpoints {
            authorization: some("https://api.weibo.com/oauth2/authorize"),
            token: some("https://api.weibo.com/oauth2/access_token"),
            userinfo: some("https://api.weibo.com/2/users/show.json"),
            revocation: some("https://api.weibo.com/oauth2/revokeoauth2"),
            ..Endpoints::default()
        },
        authorize(",", &[]),
        false,
        form_post(),
        ResponseRules {
            format: BodyFormat::JsonAnyContentType,
            missing_token_type_is_bearer: true,
            error_map: rules(&[("21325", ErrorOutcome::InvalidGrant)]),
            ..json_rfc6749()
        },
        UserMapping {
            subject: vec![field("idstr"), field("id")],
            name: strings(&["screen_name", "name"]),
            email: Vec::new(),
            email_verified: EmailVerified::Unknown,
            avatar: vec![avatar("avatar_large"), avatar("profile_image_url")],
            omit_from_raw: Vec::new(),
            reject_if_true: Vec::new(),
        },
    );
    p.refresh = None;
    p.revocation = Some(RevocationCall {
        method: HttpMethod::Get,
        encoding: ParamEncoding::Query,
        client_auth: ClientAuth::None,
        token_param: s("access_token"),
        accepts_refresh_token: false,
        send_token_type_hint: false,
    });
    p.userinfo = Some(ApiCall {
        token: TokenPlacement::Query(s("access_token")),
        params: vec![(s("uid"), ParamSource::Context(s("uid")))],
        format: BodyFormat::JsonAnyContentType,
        ..bearer_json()
    });
    p.unverified = strings(&[
        "error shape HTTP 400 + {error, error_code, error_description}",
        "no refresh tokens for web apps",
        "revocation is a GET",
    ]);
    p
}

/// WeCom (企业微信, PROVIDERS.md § WeCom), in-app web authorization. `vars.agentid` required.
/// Authorization: WeChat-style URL (`appid` = CorpID, order `appid, redirect_uri,
/// response_type, scope, state, agentid`, `#wechat_redirect`), scope `snsapi_base`. **No user
/// token:** [`Flow::CorpToken`] — `GET qyapi.weixin.qq.com/cgi-bin/gettoken?corpid&corpsecret`
/// (cache 7200 s), then `GET cgi-bin/auth/getuserinfo?access_token&code` → `userid` (members) or
/// `openid` (non-members). Errors `errcode` ≠ 0 on 200 (40029 → InvalidGrant, 50001 redirect
/// domain → Configuration). No PKCE, no refresh, no revocation.
///
/// **Unverified:** errcodes 40013/40001/42001.
pub fn wecom() -> ProviderProfile {
    let mut a = authorize(",", &["snsapi_base"]);
    a.quirks.client_id_param = some("appid");
    a.quirks.fragment = some("wechat_redirect");
    a.quirks.param_order = Some(strings(&[
        "appid",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "agentid",
    ]));
    a.extra_params = pairs(&[("agentid", "{agentid}")]);
    a.state_alphanumeric = true;
    let mut p = base(
        "wecom",
        "WeCom",
        Endpoints {
            authorization: some("https://open.weixin.qq.com/connect/oauth2/authorize"),
            token: some("https://qyapi.weixin.qq.com/cgi-bin/gettoken"),
            code_identity: some("https://qyapi.weixin.qq.com/cgi-bin/auth/getuserinfo"),
            ..Endpoints::default()
        },
        a,
        false,
        TokenCall {
            method: HttpMethod::Get,
            encoding: ParamEncoding::Query,
            client_auth: ClientAuth::Post,
            send_redirect_uri: false,
            extra_params: Vec::new(),
            headers: Vec::new(),
        },
        ResponseRules {
            format: BodyFormat::JsonAnyContentType,
            errors: ErrorStyle::Errcode,
            missing_token_type_is_bearer: true,
            error_map: rules(&[
                ("40029", ErrorOutcome::InvalidGrant),
                ("50001", ErrorOutcome::Configuration),
                ("40013", ErrorOutcome::InvalidClient),
                ("40001", ErrorOutcome::InvalidClient),
                ("42001", ErrorOutcome::Retryable),
                ("-1", ErrorOutcome::Retryable),
            ]),
            ..json_rfc6749()
        },
        UserMapping {
            subject: vec![field("userid"), field("openid")],
            name: Vec::new(),
            email: Vec::new(),
            email_verified: EmailVerified::Unknown,
            avatar: Vec::new(),
            omit_from_raw: Vec::new(),
            reject_if_true: Vec::new(),
        },
    );
    p.flow = Flow::CorpToken;
    p.params = ParamNames {
        client_id: s("corpid"),
        client_secret: s("corpsecret"),
        ..ParamNames::default()
    };
    p.refresh = None;
    p.userinfo = None;
    p.unverified = strings(&[
        "errcode 40013 (bad corpid), 40001 (bad secret), 42001 (corp token expired: fetch a new one and retry) are from WeCom's global code list",
        "name/avatar need the user/get or getuserdetail calls (not modelled)",
    ]);
    p
}

/// Discord (PROVIDERS.md § Discord). Scopes `identify email`. Token: POST **form only**,
/// `client_secret_basic`; errors HTTP 400 RFC 6749. PKCE S256 (verifier ≥43 — ours is 43).
/// Refresh; revocation `POST api/oauth2/token/revoke` (RFC 7009). Authorization responses carry
/// `iss` = `https://discord.com` (RFC 9207). User: `GET api/users/@me` → snowflake `id`;
/// `verified` = email verified; avatar from the CDN template.
///
/// **Unverified:** nothing beyond PROVIDERS.md.
pub fn discord() -> ProviderProfile {
    let mut p = base(
        "discord",
        "Discord",
        Endpoints {
            authorization: some("https://discord.com/oauth2/authorize"),
            token: some("https://discord.com/api/oauth2/token"),
            userinfo: some("https://discord.com/api/users/@me"),
            revocation: some("https://discord.com/api/oauth2/token/revoke"),
            ..Endpoints::default()
        },
        authorize(" ", &["identify", "email"]),
        true,
        TokenCall {
            client_auth: ClientAuth::Basic,
            ..form_post()
        },
        json_rfc6749(),
        UserMapping {
            subject: vec![field("id")],
            name: strings(&["global_name", "username"]),
            email: strings(&["email"]),
            email_verified: EmailVerified::Field(s("verified")),
            avatar: vec![AvatarSource::Template(s(
                "https://cdn.discordapp.com/avatars/{id}/{avatar}.png",
            ))],
            omit_from_raw: Vec::new(),
            reject_if_true: Vec::new(),
        },
    );
    p.oidc = OidcRules {
        issuer: some("https://discord.com"),
        iss_in_callback: true,
        ..OidcRules::default()
    };
    p.revocation = Some(rfc7009(ClientAuth::Basic));
    p
}

/// Any OpenID Connect provider by issuer URL: endpoints come from discovery
/// ([`super::discovery::apply_discovery`], exact issuer check, OIDC Discovery §4.3). POST form,
/// `client_secret_basic` (switched to `client_secret_post` if discovery lists only that),
/// PKCE S256, scopes `openid profile email`, subject `sub`.
pub fn generic_oidc(id: &str, issuer: &str) -> ProviderProfile {
    let mut p = base(
        id,
        id,
        Endpoints::default(),
        authorize(" ", &["openid", "profile", "email"]),
        true,
        TokenCall {
            client_auth: ClientAuth::Basic,
            ..form_post()
        },
        ResponseRules::strict(),
        oidc_user(),
    );
    p.oidc = OidcRules {
        issuer: Some(issuer.to_owned()),
        discovery: true,
        ..OidcRules::default()
    };
    p
}

/// Any plain OAuth 2.0 provider from explicit endpoints (at least `authorization` and
/// `token`): POST form, `client_secret_basic` (RFC 6749 §2.3.1 — every server must support it),
/// PKCE S256, RFC 6749 JSON responses, Bearer userinfo when `endpoints.userinfo` is set, RFC
/// 7009 revocation when `endpoints.revocation` is set, subject `sub` or else `id`. Override
/// anything else through [`ProviderProfile::with_overrides`].
pub fn generic_oauth2(id: &str, endpoints: Endpoints) -> ProviderProfile {
    let has_userinfo = endpoints.userinfo.is_some();
    let has_revocation = endpoints.revocation.is_some();
    let mut p = base(
        id,
        id,
        endpoints,
        authorize(" ", &[]),
        true,
        TokenCall {
            client_auth: ClientAuth::Basic,
            ..form_post()
        },
        ResponseRules::strict(),
        UserMapping {
            subject: vec![field("sub"), field("id")],
            name: strings(&["name", "preferred_username", "login", "username"]),
            email: strings(&["email"]),
            email_verified: EmailVerified::Field(s("email_verified")),
            avatar: vec![avatar("picture"), avatar("avatar_url")],
            omit_from_raw: Vec::new(),
            reject_if_true: Vec::new(),
        },
    );
    if !has_userinfo {
        p.userinfo = None;
    }
    if has_revocation {
        p.revocation = Some(rfc7009(ClientAuth::Basic));
    }
    p
}
