// The quirk test server: ONE node:http server on 127.0.0.1 that plays every provider
// preset of authsplit-core (`provider::PRESET_NAMES`) plus one plain RFC 6749 provider, each at
// the path the backend calls once `dev_origin` rebases the preset
// (`ProviderProfile::with_origin`: `https://host/path` → `<origin>/host/path`).
//
// Each preset speaks ITS documented wire format — docs/PROVIDERS.md "Wire formats"
// ("PM" below; `PM § X` = its section X; the sources are listed there). It checks what a request
// must look like per the documentation (method, content type, parameter names, client
// authentication, required headers, PKCE verifier against the challenge where the provider does
// PKCE) and answers in the documented shapes (token response and its content type, the error
// for a bad code, userinfo, refresh, revocation). Every deviation it notices is recorded in the
// call's `problems` (and answered with that provider's error shape), so a test can demand
// `problems: []` for a whole journey. Where PM marks a fact "(unverified)", the comment says so;
// where PM says nothing and a value had to be picked, the comment says "not in PM".
//
//   const q = await startQuirkProvider({ redirectUris: ['http://127.0.0.1:8080/callback'] });
//   q.origin                      // http://127.0.0.1:PORT — the backend's `dev_origin`
//   q.clients.github              // { client_id, client_secret, … } to put into the config
//   q.users.github                // the user this "GitHub" signs in
//   q.authorizations              // every authorization URL the browser opened, WITH fragment
//   q.calls / q.count(preset, endpoint, grant?)   // every back-channel request
//   q.revocations                 // tokens revoked
//   q.setGithubExpiringTokens(false)  // GitHub's default app setting: no expiry, no refresh token
//   await q.close()
//
// Authorization endpoints serve a tiny HTML page: fragments never reach a server, so the page's
// script POSTs `location.href` to `/__quirk/authorize`; the server checks the URL against the
// preset's documented rules and answers with the callback URL (redirect_uri + `code` — DingTalk
// `authCode` — + `state`, Discord also `iss`), which the page then navigates to. If the URL
// breaks a rule the page shows the problems instead (title `quirk-refused`), as the real
// platform would show an error page.

import http from 'node:http';
import { randomBytes, createHash, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { execFileSync } from 'node:child_process';

import { SERVER_BIN } from './server.mjs';

const rand = (n = 24) => randomBytes(n).toString('base64url');
const hex = (n = 16) => randomBytes(n).toString('hex');
const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const s256 = (v) => createHash('sha256').update(v, 'ascii').digest('base64url');
const now = () => Math.floor(Date.now() / 1000);

/**
 * Every preset the quirk server plays: authsplit-core's one table (`provider::PRESET_NAMES`),
 * as the server binary lists it (`--list-presets`).
 */
export const QUIRK_PRESETS = Object.freeze(
  execFileSync(SERVER_BIN, ['--list-presets'], { encoding: 'utf8', timeout: 10_000 })
    .split('\n')
    .filter(Boolean),
);

/**
 * Client registrations, shaped like each platform's ids (WeChat `wx…`, Feishu `cli_…`, WeCom
 * CorpID `ww…`). Secrets are plain ASCII: the point here is each platform's wire format, not
 * RFC 6749 §2.3.1 escaping (backend.test.mjs covers that against oidc-provider).
 */
export const QUIRK_CLIENTS = Object.freeze({
  github: { client_id: 'Ov23liQuirkGitHub001', client_secret: 'quirk-github-secret-0001' },
  google: { client_id: '1234567890-quirk.apps.googleusercontent.com', client_secret: 'GOCSPX-quirkgoogle0001' },
  // A second Google client whose ID tokens say `iss: "accounts.google.com"` (see the Google handlers).
  google_short_iss: { client_id: '1234567891-quirk.apps.googleusercontent.com', client_secret: 'GOCSPX-quirkgoogle0002' },
  microsoft: { client_id: '6731de76-14a6-49ae-97bc-6eba6914391e', client_secret: 'quirk~microsoft.secret_0001' },
  gitlab: { client_id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90quirkgitlab', client_secret: 'gloas-quirkgitlabsecret0001' },
  // An application on the self-hosted GitLab (SELF_HOSTED_GITLAB).
  gitlab_selfhosted: { client_id: 'f0e1d2c3b4a5968778695a4b3c2d1e0fquirkgitlab', client_secret: 'gloas-quirkgitlabsecret0002' },
  gitee: { client_id: 'quirkgiteeclientid0001', client_secret: 'quirkgiteeclientsecret0001' },
  oschina: { client_id: 'quirkOschinaId01', client_secret: 'quirkOschinaSecret01' },
  linuxdo: { client_id: 'quirkLinuxDoClient01', client_secret: 'quirkLinuxDoSecret01' },
  wechat_mp: { client_id: 'wx5quirkmp0000001', client_secret: 'quirkwechatmpsecret000000000001' },
  wechat_mp_base: { client_id: 'wx5quirkmpbase001', client_secret: 'quirkwechatmpbasesecret00000001' },
  wechat_open: { client_id: 'wx5quirkopen00001', client_secret: 'quirkwechatopensecret0000000001' },
  feishu: { client_id: 'cli_quirkfeishu0001', client_secret: 'quirkfeishusecret0001' },
  lark: { client_id: 'cli_quirklark00001', client_secret: 'quirklarksecret00001' },
  dingtalk: { client_id: 'dingquirkappkey0001', client_secret: 'quirkdingtalkappsecret0001' },
  qq: { client_id: '101000001', client_secret: 'quirkqqappkey0000000000000000001' },
  // A second QQ app that answers in QQ's default formats (see the QQ handlers).
  qq_default_formats: { client_id: '101000002', client_secret: 'quirkqqappkey0000000000000000002' },
  weibo: { client_id: '3000000001', client_secret: 'quirkweiboappsecret0001' },
  wecom: { client_id: 'wwquirkcorp000001', client_secret: 'quirkwecomappsecret0001', agentid: '1000002' },
  discord: { client_id: '1100000000000000001', client_secret: 'quirkdiscordsecret0001' },
  plain: { client_id: 'plain-quirk-client', client_secret: 'plain-quirk-secret' },
});

const MS_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
/** Host of the self-hosted GitLab (`vars.base_url = "https://gitlab.example.org"`). */
export const SELF_HOSTED_GITLAB = 'gitlab.example.org';

/**
 * The user each "platform" signs in, in that platform's userinfo shape. Ids are the stable
 * subjects (PM summary table "User id field").
 */
export const QUIRK_USERS = Object.freeze({
  github: { id: 583231, login: 'octocat', name: 'The Octocat', email: 'octocat@github.example', avatar_url: 'https://avatars.githubusercontent.com/u/583231?v=4', type: 'User' },
  google: { sub: '110169484474386276334', name: 'Grace Hopper', given_name: 'Grace', email: 'grace@gmail.example', email_verified: true, picture: 'https://lh3.googleusercontent.com/a/grace' },
  google_short_iss: { sub: '110169484474386276335', name: 'Ada Lovelace', email: 'ada@gmail.example', email_verified: true, picture: 'https://lh3.googleusercontent.com/a/ada' },
  // PM § Microsoft: key users by oid + tid; sub is pairwise.
  microsoft: { tid: MS_TENANT, oid: '00000000-0000-0000-66f3-3332eca7ea81', sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ', name: 'Megan Bowen', email: 'megan@contoso.example', preferred_username: 'megan@contoso.example' },
  gitlab: { sub: '1234567', name: 'Lab Person', nickname: 'labperson', email: 'lab@gitlab.example', email_verified: true, picture: 'https://gitlab.com/uploads/-/system/user/avatar/1234567/avatar.png' },
  gitlab_selfhosted: { sub: '42', name: 'Self Hosted', nickname: 'selfhosted', email: 'self@gitlab.example.org', email_verified: false, picture: 'https://gitlab.example.org/uploads/-/system/user/avatar/42/avatar.png' },
  // PM § Gitee: email often null.
  gitee: { id: 7654321, login: 'giteeuser', name: '码云用户', avatar_url: 'https://foruda.gitee.com/avatar/7654321.png', email: null },
  oschina: { id: 1234567, name: 'oscuser', email: 'osc@oschina.example', avatar: 'https://static.oschina.net/uploads/user/0/1234567_50.jpg', gender: 'male', location: '深圳', url: 'https://my.oschina.net/oscuser' },
  linuxdo: { id: 4242, username: 'ldouser', name: 'Linux Do User', avatar_template: '/user_avatar/linux.do/ldouser/{size}/1_2.png', active: true, trust_level: 2, silenced: false, external_ids: null, api_key: 'ldo-api-key-must-not-leak' },
  wechat_mp: { openid: 'oQuirkMpOpenid000000000001', unionid: 'oQuirkUnionid0000000000001', nickname: '微信用户', sex: 1, province: '广东', city: '深圳', country: '中国', headimgurl: 'https://thirdwx.qlogo.cn/mmopen/quirk/132', privilege: [] },
  // snsapi_base: not bound to an Open Platform account → no unionid, subject = openid.
  wechat_mp_base: { openid: 'oQuirkMpBaseOpenid00000001' },
  wechat_open: { openid: 'oQuirkOpenOpenid0000000001', unionid: 'oQuirkUnionid0000000000002', nickname: 'Open 用户', sex: 2, province: '', city: '', country: '', headimgurl: 'https://thirdwx.qlogo.cn/mmopen/quirkopen/132', privilege: [] },
  feishu: { name: '飞书用户', en_name: 'Feishu User', avatar_url: 'https://s1-imfile.feishucdn.com/avatar/quirk', open_id: 'ou_quirkfeishuopenid0001', union_id: 'on_quirkfeishuunionid001', user_id: '5d9bdxxx', tenant_key: '736588c9260f175e', email: 'feishu@corp.example', enterprise_email: 'feishu@ent.example' },
  lark: { name: 'Lark User', en_name: 'Lark User', avatar_url: 'https://p16-lark.example/avatar/quirk', open_id: 'ou_quirklarkopenid00001', union_id: 'on_quirklarkunionid0001', tenant_key: '736588c9260f175f', email: 'lark@corp.example' },
  dingtalk: { nick: '钉钉用户', avatarUrl: 'https://static-legacy.dingtalk.com/media/quirk.jpg', mobile: '13800000000', stateCode: '86', openId: 'quirkDingOpenId0001', unionId: 'quirkDingUnionId0001', email: 'ding@corp.example' },
  qq: { openid: 'QUIRK0QQ0OPENID00000000000000001', nickname: 'QQ用户', gender: '男', figureurl_qq_1: 'http://thirdqq.qlogo.cn/g?b=oidb&k=quirk&s=40', figureurl_qq_2: 'http://thirdqq.qlogo.cn/g?b=oidb&k=quirk&s=100' },
  qq_default_formats: { openid: 'QUIRK0QQ0OPENID00000000000000002', nickname: 'QQ默认格式', gender: '女', figureurl_qq_1: 'http://thirdqq.qlogo.cn/g?b=oidb&k=quirk2&s=40' },
  weibo: { id: 1404376560, idstr: '1404376560', screen_name: 'weibo_user', name: 'weibo_user', profile_image_url: 'https://tvax1.sinaimg.cn/crop/quirk/50.jpg', avatar_large: 'https://tvax1.sinaimg.cn/crop/quirk/180.jpg' },
  // PM § WeCom: members have a userid (per corp).
  wecom: { userid: 'ZhangSan' },
  discord: { id: '80351110224678912', username: 'nelly', global_name: 'Nelly', discriminator: '0', avatar: '8342729096ea3675442027381ff50dfe', email: 'nelly@discord.example', verified: true },
  plain: { sub: 'plain-user-0001', name: 'Plain User', email: 'plain@plain.example', email_verified: false },
});

/** Which presets share an authorization path (the client id tells them apart). */
const AUTHORIZE_PATHS = [
  [/^\/github\.com\/login\/oauth\/authorize$/, ['github']],
  [/^\/accounts\.google\.com\/o\/oauth2\/v2\/auth$/, ['google', 'google_short_iss']],
  [/^\/login\.microsoftonline\.com\/[^/]+\/oauth2\/v2\.0\/authorize$/, ['microsoft']],
  [/^\/gitlab\.com\/oauth\/authorize$/, ['gitlab']],
  [/^\/gitlab\.example\.org\/oauth\/authorize$/, ['gitlab_selfhosted']],
  [/^\/gitee\.com\/oauth\/authorize$/, ['gitee']],
  [/^\/www\.oschina\.net\/action\/oauth2\/authorize$/, ['oschina']],
  [/^\/connect\.linux\.do\/oauth2\/authorize$/, ['linuxdo']],
  [/^\/open\.weixin\.qq\.com\/connect\/oauth2\/authorize$/, ['wechat_mp', 'wechat_mp_base', 'wecom']],
  [/^\/open\.weixin\.qq\.com\/connect\/qrconnect$/, ['wechat_open']],
  [/^\/accounts\.feishu\.cn\/open-apis\/authen\/v1\/authorize$/, ['feishu']],
  [/^\/accounts\.larksuite\.com\/open-apis\/authen\/v1\/authorize$/, ['lark']],
  [/^\/login\.dingtalk\.com\/oauth2\/auth$/, ['dingtalk']],
  [/^\/graph\.qq\.com\/oauth2\.0\/authorize$/, ['qq', 'qq_default_formats']],
  [/^\/api\.weibo\.com\/oauth2\/authorize$/, ['weibo']],
  [/^\/discord\.com\/oauth2\/authorize$/, ['discord']],
  [/^\/plain\.example\/authorize$/, ['plain']],
];

/**
 * Per-preset rules for the authorization URL. `pkce`: 'S256' = S256 only (GitHub, Discord),
 * 'any' = S256 or plain, 'none' = the platform documents no PKCE (a challenge would be ignored
 * by the real platform; recorded in `pkce` so the test can assert it is absent).
 */
const AUTHZ = {
  // PM § GitHub: S256 only; plain rejected.
  github: { pkce: 'S256' },
  // PM § Google: PKCE plain/S256; access_type=offline for a refresh token.
  google: { pkce: 'any', responseType: true },
  google_short_iss: { pkce: 'any', responseType: true },
  // PM § Microsoft: PKCE yes (S256).
  microsoft: { pkce: 'any', responseType: true },
  // PM § GitLab: PKCE S256 (recommended).
  gitlab: { pkce: 'any', responseType: true },
  gitlab_selfhosted: { pkce: 'any', responseType: true },
  // PM § Gitee: PKCE unknown.
  gitee: { pkce: 'none', responseType: true },
  // PM § OSChina: client_id, response_type=code, redirect_uri, state; no scopes; no PKCE.
  oschina: { pkce: 'none', responseType: true },
  // PM § LinuxDo: PKCE S256 (unverified).
  linuxdo: { pkce: 'any', responseType: true },
  // PM § WeChat MP: appid, exact order, #wechat_redirect, state [a-zA-Z0-9] ≤128, no PKCE.
  wechat_mp: { pkce: 'none', wechat: ['snsapi_userinfo', 'snsapi_base'] },
  wechat_mp_base: { pkce: 'none', wechat: ['snsapi_base', 'snsapi_userinfo'] },
  // PM § WeChat Open QR: qrconnect, scope=snsapi_login, #wechat_redirect.
  wechat_open: { pkce: 'none', wechat: ['snsapi_login'] },
  // PM § WeCom: appid=CorpID … state&agentid #wechat_redirect (agentid required for
  // snsapi_privateinfo); scope snsapi_base|snsapi_privateinfo.
  wecom: { pkce: 'none', wechat: ['snsapi_base', 'snsapi_privateinfo'], agentid: true },
  // PM § Feishu: code_challenge_method S256 or plain, default plain.
  feishu: { pkce: 'any', responseType: true },
  lark: { pkce: 'any', responseType: true },
  // PM § DingTalk: redirect_uri, response_type=code, client_id, scope=openid, state,
  // prompt=consent; PKCE not documented; the callback carries `authCode`.
  dingtalk: { pkce: 'none', responseType: true, codeParam: 'authCode' },
  // PM § QQ: response_type=code, client_id, redirect_uri, state (state required).
  qq: { pkce: 'none', responseType: true, stateRequired: true },
  qq_default_formats: { pkce: 'none', responseType: true, stateRequired: true },
  // PM § Weibo: client_id, redirect_uri, state; no PKCE.
  weibo: { pkce: 'none' },
  // PM § Discord: S256 only; returns `iss` on authorization responses.
  discord: { pkce: 'S256', responseType: true, iss: true },
  plain: { pkce: 'any', responseType: true },
};

function decodeBasic(header) {
  const m = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const raw = Buffer.from(m[1], 'base64').toString('utf8');
  const i = raw.indexOf(':');
  if (i < 0) return { malformed: true };
  // RFC 6749 §2.3.1: each part form-urlencoded before base64.
  const dec = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
  try {
    return { id: dec(raw.slice(0, i)), secret: dec(raw.slice(i + 1)) };
  } catch {
    return { malformed: true };
  }
}

/**
 * Start the quirk server.
 *
 * @param {object} [opts]
 * @param {number} [opts.port=0]
 * @param {string[]} [opts.redirectUris] registered redirect URIs (every client)
 */
export async function startQuirkProvider(opts = {}) {
  const { port = 0 } = opts;
  let redirectUris = [...(opts.redirectUris ?? [])];
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `quirk-${hex(4)}`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };

  const byClientId = new Map(Object.entries(QUIRK_CLIENTS).map(([p, c]) => [c.client_id, p]));
  /** code → grant */
  const codes = new Map();
  /** access token → { preset, clientId, user, scope, exp, revoked } */
  const access = new Map();
  /** refresh token → { preset, clientId, user, scope, active } */
  const refresh = new Map();
  /** WeCom corp tokens. */
  const corpTokens = new Map();
  /** Google: users who already consented to offline access (PM § Google: RT only on offline consent). */
  const offlineConsented = new Set();
  const calls = [];
  const authorizations = [];
  const revocations = [];
  const sockets = new Set();
  let n = 0;
  let origin = '';

  function signJwt(claims) {
    const head = b64url({ alg: 'RS256', kid, typ: 'JWT' });
    const body = b64url(claims);
    const sig = cryptoSign('sha256', Buffer.from(`${head}.${body}`), privateKey).toString('base64url');
    return `${head}.${body}.${sig}`;
  }

  // ---------- responses ----------
  function send(ctx, status, body, contentType, headers = {}) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    ctx.call.status = status;
    ctx.call.response = text;
    ctx.res.writeHead(status, {
      ...(status === 204 ? {} : { 'content-type': contentType }),
      'cache-control': 'no-store',
      ...headers,
    });
    ctx.res.end(status === 204 ? undefined : text);
  }
  const json = (ctx, status, obj, ct = 'application/json; charset=utf-8') => send(ctx, status, obj, ct);
  const problem = (ctx, msg) => ctx.call.problems.push(msg);

  // ---------- tokens ----------
  let githubExpiring = true;
  function issueAccess(preset, clientId, user, scope, ttl, extra = {}) {
    const at = `${preset}_at_${rand()}`;
    access.set(at, { preset, clientId, user, scope, exp: now() + ttl, revoked: false, ...extra });
    return at;
  }
  function issueRefresh(preset, clientId, user, scope, extra = {}) {
    const rt = `${preset}_rt_${rand()}`;
    refresh.set(rt, { preset, clientId, user, scope, active: true, ...extra });
    return rt;
  }
  function accessFor(ctx, token, preset) {
    const a = token && access.get(token);
    if (!a || a.preset !== preset || a.revoked || a.exp < now()) {
      problem(ctx, `${preset}: unknown, revoked or expired access token`);
      return null;
    }
    return a;
  }
  function bearer(ctx) {
    const m = /^Bearer (\S+)$/.exec(ctx.req.headers.authorization ?? '');
    return m?.[1];
  }

  /**
   * Redeem an authorization code (single use everywhere: PM lists "single use" for Google,
   * Microsoft, WeChat, Feishu, WeCom; RFC 6749 §4.1.2 for the rest).
   * @returns {{ grant?: object, error?: 'unknown'|'used'|'client'|'redirect'|'pkce'|'pkce_missing' }}
   */
  function redeem(ctx, preset, { code, clientId, redirectUri, verifier, checkRedirect = true }) {
    const g = code && codes.get(code);
    if (!g || g.preset !== preset) return { error: 'unknown' };
    if (g.used) return { error: 'used' };
    g.used = true;
    if (g.clientId !== clientId) return { error: 'client' };
    if (checkRedirect && redirectUri !== g.redirectUri) {
      problem(ctx, `${preset}: redirect_uri ${JSON.stringify(redirectUri)} ≠ the authorization request's`);
      return { error: 'redirect' };
    }
    if (g.challenge) {
      // RFC 7636 §4.6.
      if (!verifier) {
        problem(ctx, `${preset}: code_verifier missing although a code_challenge was sent`);
        return { error: 'pkce_missing' };
      }
      const ok = g.method === 'S256' ? s256(verifier) === g.challenge : verifier === g.challenge;
      if (!ok) {
        problem(ctx, `${preset}: code_verifier does not match the ${g.method} challenge`);
        return { error: 'pkce' };
      }
    } else if (verifier) {
      ctx.call.notes.push('code_verifier sent without a code_challenge');
    }
    return { grant: g };
  }

  /** Client authentication actually used: 'basic' | 'post' | 'both' | 'none'. */
  function clientAuth(ctx, params, idName = 'client_id', secretName = 'client_secret') {
    const basic = decodeBasic(ctx.req.headers.authorization);
    const post = params[secretName] !== undefined;
    ctx.call.clientAuth = basic && post ? 'both' : basic ? 'basic' : post ? 'post' : 'none';
    if (basic) return { kind: ctx.call.clientAuth, id: basic.id, secret: basic.secret, bodyId: params[idName] };
    return { kind: ctx.call.clientAuth, id: params[idName], secret: params[secretName] };
  }
  function clientOk(preset, id, secret) {
    const c = QUIRK_CLIENTS[preset];
    return id === c.client_id && secret === c.client_secret;
  }

  // ---------- request parsing ----------
  function contentType(ctx) {
    return (ctx.req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  }
  function formBody(ctx) {
    if (contentType(ctx) !== 'application/x-www-form-urlencoded') return null;
    return Object.fromEntries(new URLSearchParams(ctx.body));
  }
  function jsonBody(ctx) {
    if (contentType(ctx) !== 'application/json') return null;
    try {
      const v = JSON.parse(ctx.body);
      return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
    } catch {
      return null;
    }
  }
  function requireMethod(ctx, ...methods) {
    if (!methods.includes(ctx.req.method)) {
      problem(ctx, `${ctx.call.preset} ${ctx.call.endpoint}: method ${ctx.req.method}, documented ${methods.join('/')}`);
      return false;
    }
    return true;
  }
  /** Form body parameters; a non-form body is a problem (PM: POST form). */
  function requireForm(ctx) {
    const f = formBody(ctx);
    if (!f) {
      problem(ctx, `${ctx.call.preset} ${ctx.call.endpoint}: content type ${JSON.stringify(ctx.req.headers['content-type'])}, documented application/x-www-form-urlencoded`);
      return {};
    }
    return f;
  }

  // ---------- generic RFC 6749 token endpoint ----------
  /**
   * The shared shape of the RFC 6749-ish presets (Google, Microsoft, GitLab, Gitee, OSChina,
   * LinuxDo, Weibo, Discord, plain). `o.params(ctx)` gets the parameters the way the preset
   * documents them; `o.auth` lists the documented client authentication methods; `o.error(ctx,
   * status, error, description)` answers in the preset's error shape; `o.success(grant)` adds
   * extra members (id_token, uid, created_at…).
   */
  function rfcToken(ctx, preset, o) {
    const p = o.params(ctx);
    ctx.call.params = p;
    ctx.call.grant = p.grant_type;
    const auth = clientAuth(ctx, p);
    const fail = (status, error, description, kind) => o.error(ctx, status, error, description, kind);
    if (ctx.call.problems.length) return fail(400, 'invalid_request', 'malformed request');
    if (!o.auth.includes(auth.kind)) {
      problem(ctx, `${preset}: client authentication ${auth.kind}, documented ${o.auth.join('/')}`);
      return fail(401, 'invalid_client', 'client authentication failed');
    }
    if (!clientOk(preset, auth.id, auth.secret)) return fail(401, 'invalid_client', 'client authentication failed');
    const c = QUIRK_CLIENTS[preset];
    if (p.grant_type === 'authorization_code') {
      const r = redeem(ctx, preset, { code: p.code, clientId: c.client_id, redirectUri: p.redirect_uri, verifier: p.code_verifier });
      if (r.error) return fail(400, 'invalid_grant', o.codeError?.(r.error) ?? 'The authorization code is invalid or expired.', r.error);
      if (o.verifierMin && r.grant.challenge && p.code_verifier.length < o.verifierMin) {
        problem(ctx, `${preset}: code_verifier shorter than ${o.verifierMin}`);
        return fail(400, 'invalid_grant', 'code_verifier too short');
      }
      const g = r.grant;
      const rtAllowed = o.issueRefresh ? o.issueRefresh(g) : true;
      const body = {
        access_token: issueAccess(preset, c.client_id, g.user, g.scope, o.ttl ?? 3600),
        token_type: o.tokenType ?? 'Bearer',
        expires_in: o.ttl ?? 3600,
        ...(rtAllowed ? { refresh_token: issueRefresh(preset, c.client_id, g.user, g.scope, { nonce: g.nonce }) } : {}),
        ...(g.scope !== undefined && o.scope !== false ? { scope: g.scope } : {}),
        ...(o.success?.(g, ctx) ?? {}),
      };
      if (o.omit) for (const k of o.omit) delete body[k];
      return send(ctx, 200, body, o.contentType ?? 'application/json; charset=utf-8');
    }
    if (p.grant_type === 'refresh_token') {
      if (!o.refresh) return fail(400, 'unsupported_grant_type', 'refresh_token grant not supported');
      const r = p.refresh_token && refresh.get(p.refresh_token);
      if (!r || r.preset !== preset || !r.active) return fail(400, 'invalid_grant', 'The refresh token is invalid.');
      if (o.refresh === 'rotate') r.active = false;
      const body = {
        access_token: issueAccess(preset, c.client_id, r.user, r.scope, o.ttl ?? 3600),
        token_type: o.tokenType ?? 'Bearer',
        expires_in: o.ttl ?? 3600,
        ...(o.refresh === 'rotate' ? { refresh_token: issueRefresh(preset, c.client_id, r.user, r.scope) } : {}),
        ...(r.scope !== undefined && o.scope !== false ? { scope: r.scope } : {}),
        ...(o.refreshExtra?.(r, ctx) ?? {}),
      };
      if (o.omit) for (const k of o.omit) delete body[k];
      return send(ctx, 200, body, o.contentType ?? 'application/json; charset=utf-8');
    }
    problem(ctx, `${preset}: grant_type ${JSON.stringify(p.grant_type)}`);
    return fail(400, 'unsupported_grant_type', 'unsupported grant_type');
  }

  const rfcError = (ctx, status, error, description) => json(ctx, status, { error, error_description: description });
  const formParams = (ctx) => (requireMethod(ctx, 'POST') ? requireForm(ctx) : {});

  /** RFC 7009 §2.1 revocation of this preset's tokens. */
  function revoke(ctx, preset, token) {
    const a = access.get(token);
    const r = refresh.get(token);
    if (a && a.preset === preset) {
      a.revoked = true;
      revocations.push({ preset, kind: 'access', token });
      return true;
    }
    if (r && r.preset === preset) {
      r.active = false;
      // Revoking the grant's refresh token ends its access tokens too (RFC 7009 §2.1 "may").
      for (const v of access.values()) if (v.preset === preset && v.user === r.user) v.revoked = true;
      revocations.push({ preset, kind: 'refresh', token });
      return true;
    }
    return false;
  }

  function idToken(preset, grant, issuer, extra = {}) {
    const c = QUIRK_CLIENTS[preset];
    const t = now();
    return signJwt({ iss: issuer, aud: c.client_id, iat: t, exp: t + 3600, ...(grant.nonce ? { nonce: grant.nonce } : {}), ...extra });
  }

  // ---------- handlers: path → (ctx) ----------
  /** @type {Array<[RegExp, string, string, (ctx: object, m: RegExpMatchArray) => void]>} */
  const routes = [];
  const route = (re, preset, endpoint, fn) => routes.push([re, preset, endpoint, fn]);

  // ===== GitHub (PM § GitHub) =====
  route(/^\/github\.com\/login\/oauth\/access_token$/, 'github', 'token', (ctx) => {
    // POST form (client_id, client_secret, code, redirect_uri, code_verifier); default answer
    // form-encoded, JSON only with Accept: application/json; errors as `error` in a 200 body.
    const p = requireMethod(ctx, 'POST') ? requireForm(ctx) : {};
    ctx.call.params = p;
    ctx.call.grant = p.grant_type ?? 'authorization_code';
    const wantsJson = (ctx.req.headers.accept ?? '').includes('application/json');
    const answer = (obj) =>
      wantsJson
        ? json(ctx, 200, obj)
        : send(ctx, 200, new URLSearchParams(Object.entries(obj).map(([k, v]) => [k, String(v)])).toString(), 'application/x-www-form-urlencoded; charset=utf-8');
    const err = (error, description) =>
      answer({ error, error_description: description, error_uri: `https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#${error.replace(/_/g, '-')}` });
    const auth = clientAuth(ctx, p);
    if (auth.kind !== 'post') problem(ctx, `github: client authentication ${auth.kind}, documented client_id + client_secret parameters`);
    if (!clientOk('github', auth.id, auth.secret)) return err('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
    const c = QUIRK_CLIENTS.github;
    if (ctx.call.grant === 'refresh_token') {
      // Expiring user tokens on (PM: only then refresh exists): AT 8 h, RT ~6 months, rotated;
      // `bad_refresh_token` on failure.
      const r = refresh.get(p.refresh_token);
      if (!r || r.preset !== 'github' || !r.active) return err('bad_refresh_token', 'The refresh token passed is incorrect or expired.');
      r.active = false;
      return answer({
        access_token: issueAccess('github', c.client_id, r.user, r.scope, 28800),
        expires_in: 28800,
        refresh_token: issueRefresh('github', c.client_id, r.user, r.scope),
        refresh_token_expires_in: 15811200,
        token_type: 'bearer',
        scope: '',
      });
    }
    const r = redeem(ctx, 'github', { code: p.code, clientId: c.client_id, redirectUri: p.redirect_uri, verifier: p.code_verifier, checkRedirect: p.redirect_uri !== undefined });
    if (r.error === 'redirect') return err('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
    // PM: an invalid/expired/used code is `bad_verification_code`. (A PKCE failure's error
    // name is not in PM; bad_verification_code is used for it too.)
    if (r.error) return err('bad_verification_code', 'The code passed is incorrect or expired.');
    // Without expiring user tokens (the app setting's default): a token that does not expire,
    // and no refresh token.
    if (!githubExpiring) {
      return answer({ access_token: issueAccess('github', c.client_id, r.grant.user, r.grant.scope, 10 * 365 * 86400), token_type: 'bearer', scope: r.grant.scope ?? '' });
    }
    return answer({
      access_token: issueAccess('github', c.client_id, r.grant.user, r.grant.scope, 28800),
      expires_in: 28800,
      refresh_token: issueRefresh('github', c.client_id, r.grant.user, r.grant.scope),
      refresh_token_expires_in: 15811200,
      token_type: 'bearer',
      scope: r.grant.scope ?? '',
    });
  });
  route(/^\/api\.github\.com\/user$/, 'github', 'userinfo', (ctx) => {
    requireMethod(ctx, 'GET');
    // User-Agent: required by GitHub's REST API (GitHub REST docs; not in PM — docs/PROVIDERS.md).
    if (!ctx.req.headers['user-agent']) {
      problem(ctx, 'github: no User-Agent on an api.github.com call');
      return json(ctx, 403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header' });
    }
    const a = accessFor(ctx, bearer(ctx), 'github');
    if (!a) return json(ctx, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    return json(ctx, 200, QUIRK_USERS.github);
  });
  route(/^\/api\.github\.com\/applications\/([^/]+)\/token$/, 'github', 'revoke', (ctx, m) => {
    // PM: DELETE api.github.com/applications/{client_id}/token, Basic client_id:secret, JSON
    // {"access_token":…}. (The 204 / 404 answers are GitHub REST docs, not in PM.)
    requireMethod(ctx, 'DELETE');
    if (!ctx.req.headers['user-agent']) problem(ctx, 'github: no User-Agent on an api.github.com call');
    const basic = decodeBasic(ctx.req.headers.authorization);
    ctx.call.clientAuth = basic ? 'basic' : 'none';
    const body = jsonBody(ctx);
    ctx.call.params = body ?? {};
    if (!body) problem(ctx, 'github revoke: body is not JSON');
    if (!basic || !clientOk('github', basic.id, basic.secret) || decodeURIComponent(m[1]) !== basic.id) {
      problem(ctx, 'github revoke: Basic client_id:client_secret missing or wrong, or path client_id differs');
      return json(ctx, 404, { message: 'Not Found' });
    }
    const token = body?.access_token;
    if (!token || !access.has(token)) {
      problem(ctx, 'github revoke: access_token unknown (only access tokens can be revoked here)');
      return json(ctx, 404, { message: 'Not Found' });
    }
    revoke(ctx, 'github', token);
    return send(ctx, 204, '');
  });

  // ===== Google (PM § Google) =====
  const googleIssuer = () => `${origin}/accounts.google.com`;
  // Two Google clients: `google` gets ID tokens with `iss` = the issuer URL, `google_short_iss`
  // with `iss` = "accounts.google.com" — PM § Google: "ID-token iss may be
  // https://accounts.google.com or accounts.google.com".
  const googleApps = ['google', 'google_short_iss'];
  const googleApp = (ctx) => {
    const id = decodeBasic(ctx.req.headers.authorization)?.id ?? formBody(ctx)?.client_id;
    return byClientId.get(id) === 'google_short_iss' ? 'google_short_iss' : 'google';
  };
  /** The Google access or refresh token's app (sets `ctx.call.preset`). */
  const googleTokenApp = (ctx, token) => {
    const t = token && (access.get(token) ?? refresh.get(token));
    ctx.call.preset = t && googleApps.includes(t.preset) ? t.preset : 'google';
    return ctx.call.preset;
  };
  route(/^\/oauth2\.googleapis\.com\/token$/, 'google', 'token', (ctx) => {
    const app = (ctx.call.preset = googleApp(ctx));
    return rfcToken(ctx, app, {
      params: formParams,
      auth: ['post', 'basic'], // PM: client_secret_post, client_secret_basic
      error: rfcError, // PM: HTTP 400/401 {error, error_description}
      refresh: 'keep', // PM: refresh same endpoint; the RT is not rotated (not in PM: Google keeps it)
      // PM: RT only on offline consent (access_type=offline), issued at the first consent
      // (docs/PROVIDERS.md; `prompt=consent` re-issues it).
      issueRefresh: (g) => {
        if (g.params.access_type !== 'offline') return false;
        const key = `${g.user}`;
        if (offlineConsented.has(key) && g.params.prompt !== 'consent') return false;
        offlineConsented.add(key);
        return true;
      },
      ttl: 3599,
      success: (g) => ({
        id_token: idToken(app, g, app === 'google_short_iss' ? 'accounts.google.com' : googleIssuer(), {
          ...pick(QUIRK_USERS[app], ['sub', 'email', 'email_verified', 'name', 'picture']),
          azp: QUIRK_CLIENTS[app].client_id,
        }),
      }),
      refreshExtra: () => ({}),
    });
  });
  route(/^\/openidconnect\.googleapis\.com\/v1\/userinfo$/, 'google', 'userinfo', (ctx) => {
    requireMethod(ctx, 'GET');
    const token = bearer(ctx);
    const app = googleTokenApp(ctx, token);
    const a = accessFor(ctx, token, app);
    if (!a) return rfcError(ctx, 401, 'invalid_token', 'Invalid Credentials');
    return json(ctx, 200, QUIRK_USERS[app]);
  });
  route(/^\/oauth2\.googleapis\.com\/revoke$/, 'google', 'revoke', (ctx) => {
    // PM: POST oauth2.googleapis.com/revoke (token=).
    const p = formParams(ctx);
    ctx.call.params = p;
    if (!p.token || !revoke(ctx, googleTokenApp(ctx, p.token), p.token)) {
      problem(ctx, 'google revoke: unknown token');
      return rfcError(ctx, 400, 'invalid_token', 'Token expired or revoked');
    }
    return json(ctx, 200, {});
  });
  route(/^\/www\.googleapis\.com\/oauth2\/v3\/certs$/, 'google', 'jwks', (ctx) => json(ctx, 200, { keys: [jwk] }));
  route(/^\/accounts\.google\.com\/\.well-known\/openid-configuration$/, 'google', 'discovery', (ctx) =>
    json(ctx, 200, {
      issuer: googleIssuer(),
      authorization_endpoint: `${origin}/accounts.google.com/o/oauth2/v2/auth`,
      token_endpoint: `${origin}/oauth2.googleapis.com/token`,
      userinfo_endpoint: `${origin}/openidconnect.googleapis.com/v1/userinfo`,
      revocation_endpoint: `${origin}/oauth2.googleapis.com/revoke`,
      jwks_uri: `${origin}/www.googleapis.com/oauth2/v3/certs`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['plain', 'S256'],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    }),
  );

  // ===== Microsoft Entra ID v2 (PM § Microsoft) =====
  const msIssuer = (tenant) => `${origin}/login.microsoftonline.com/${tenant}/v2.0`;
  const msError = (ctx, status, error, description, codes = [70000]) =>
    json(ctx, status, {
      // PM: HTTP 400 {error, error_description, error_codes[], timestamp, trace_id, correlation_id}.
      error,
      error_description: `AADSTS${codes[0]}: ${description} Trace ID: 0000 Correlation ID: 0000 Timestamp: ${new Date().toISOString()}`,
      error_codes: codes,
      timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z',
      trace_id: hex(16),
      correlation_id: hex(16),
    });
  route(/^\/login\.microsoftonline\.com\/([^/]+)\/oauth2\/v2\.0\/token$/, 'microsoft', 'token', (ctx) =>
    rfcToken(ctx, 'microsoft', {
      params: formParams,
      auth: ['post', 'basic'], // PM: secret in body or Basic (or client_assertion)
      error: (c, status, error, description, kind) => {
        // PM: a reused code → AADSTS54005 (verified). An unknown code's AADSTS number is not in
        // PM: 70000 ("code is not valid") is Microsoft's list, unverified here. Bad client →
        // 7000215 (Microsoft's list, unverified).
        const code = kind === 'used' ? 54005 : error === 'invalid_client' ? 7000215 : 70000;
        return msError(c, status === 401 ? 401 : 400, error, description, [code]);
      },
      refresh: 'rotate', // PM: refresh with offline_access (rotation: not in PM; Entra returns a new RT)
      issueRefresh: (g) => (g.scope ?? '').split(' ').includes('offline_access'),
      ttl: 3599,
      success: (g) => {
        const u = QUIRK_USERS.microsoft;
        // PM: metadata issuer `…/{tenantid}/v2.0` for common; the token's `iss` carries the
        // real tenant and `tid`; `oid` stable, `sub` pairwise.
        return { id_token: idToken('microsoft', g, msIssuer(u.tid), { sub: u.sub, oid: u.oid, tid: u.tid, name: u.name, email: u.email, preferred_username: u.preferred_username, ver: '2.0' }) };
      },
      refreshExtra: () => ({}),
    }),
  );
  route(/^\/graph\.microsoft\.com\/oidc\/userinfo$/, 'microsoft', 'userinfo', (ctx) => {
    requireMethod(ctx, 'GET');
    const a = accessFor(ctx, bearer(ctx), 'microsoft');
    if (!a) return json(ctx, 401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty.' } });
    const u = QUIRK_USERS.microsoft;
    return json(ctx, 200, { sub: u.sub, name: u.name, email: u.email, picture: 'https://graph.microsoft.com/v1.0/me/photo/$value' });
  });
  route(/^\/login\.microsoftonline\.com\/([^/]+)\/discovery\/v2\.0\/keys$/, 'microsoft', 'jwks', (ctx) => json(ctx, 200, { keys: [jwk] }));
  route(/^\/login\.microsoftonline\.com\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/, 'microsoft', 'discovery', (ctx, m) => {
    const t = m[1];
    const multi = ['common', 'organizations', 'consumers'].includes(t);
    return json(ctx, 200, {
      // PM: for common/organizations the metadata issuer is literally …/{tenantid}/v2.0.
      issuer: multi ? `${origin}/login.microsoftonline.com/{tenantid}/v2.0` : msIssuer(t),
      authorization_endpoint: `${origin}/login.microsoftonline.com/${t}/oauth2/v2.0/authorize`,
      token_endpoint: `${origin}/login.microsoftonline.com/${t}/oauth2/v2.0/token`,
      userinfo_endpoint: `${origin}/graph.microsoft.com/oidc/userinfo`,
      end_session_endpoint: `${origin}/login.microsoftonline.com/${t}/oauth2/v2.0/logout`,
      jwks_uri: `${origin}/login.microsoftonline.com/${t}/discovery/v2.0/keys`,
      response_types_supported: ['code', 'id_token', 'code id_token'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    });
  });

  // ===== GitLab (PM § GitLab) =====
  // gitlab.com, and a self-hosted instance at SELF_HOSTED_GITLAB (the preset's `vars.base_url`):
  // the same Doorkeeper API under another base URL, its own issuer and client.
  const GL = `(gitlab\\.com|${SELF_HOSTED_GITLAB.replace(/\./g, '\\.')})`;
  const glApp = (host) => (host === 'gitlab.com' ? 'gitlab' : 'gitlab_selfhosted');
  const gitlabIssuer = (host) => `${origin}/${host}`;
  route(new RegExp(`^/${GL}/oauth/token$`), 'gitlab', 'token', (ctx, m) => {
    const app = (ctx.call.preset = glApp(m[1]));
    return rfcToken(ctx, app, {
      params: formParams,
      auth: ['post', 'basic'], // PM: post; Basic also accepted (unverified)
      error: rfcError, // PM: HTTP 400/401 {error, error_description}
      refresh: 'rotate', // PM: RT rotates
      ttl: 7200, // PM: expires_in 7200
      success: (g) => ({
        created_at: now(), // PM: {…, created_at, id_token?}
        ...((g.scope ?? '').split(' ').includes('openid')
          ? { id_token: idToken(app, g, gitlabIssuer(m[1]), { sub: QUIRK_USERS[app].sub, auth_time: now(), sub_legacy: hex(32) }) }
          : {}),
      }),
      refreshExtra: () => ({ created_at: now() }),
    });
  });
  route(new RegExp(`^/${GL}/oauth/userinfo$`), 'gitlab', 'userinfo', (ctx, m) => {
    const app = (ctx.call.preset = glApp(m[1]));
    requireMethod(ctx, 'GET');
    const a = accessFor(ctx, bearer(ctx), app);
    if (!a) return rfcError(ctx, 401, 'invalid_token', 'The access token is invalid');
    return json(ctx, 200, { ...QUIRK_USERS[app], profile: `https://${m[1]}/${QUIRK_USERS[app].nickname}`, groups: [] });
  });
  route(new RegExp(`^/${GL}/oauth/revoke$`), 'gitlab', 'revoke', (ctx, m) => {
    // PM: POST gitlab.com/oauth/revoke. (Client authentication for it: not in PM; Doorkeeper
    // wants the client's credentials — accepted as post or Basic.)
    const app = (ctx.call.preset = glApp(m[1]));
    const p = formParams(ctx);
    ctx.call.params = p;
    const auth = clientAuth(ctx, p);
    if (!clientOk(app, auth.id, auth.secret)) {
      problem(ctx, `${app} revoke: no/incorrect client authentication`);
      return rfcError(ctx, 403, 'unauthorized_client', 'You are not authorized to revoke this token');
    }
    if (!p.token || !revoke(ctx, app, p.token)) problem(ctx, `${app} revoke: unknown token`);
    return json(ctx, 200, {}); // RFC 7009 §2.2: 200 also for unknown tokens
  });
  route(new RegExp(`^/${GL}/oauth/discovery/keys$`), 'gitlab', 'jwks', (ctx, m) => {
    ctx.call.preset = glApp(m[1]);
    return json(ctx, 200, { keys: [jwk] });
  });
  route(new RegExp(`^/${GL}/\\.well-known/openid-configuration$`), 'gitlab', 'discovery', (ctx, m) => {
    ctx.call.preset = glApp(m[1]);
    const b = `${origin}/${m[1]}`;
    return json(ctx, 200, {
      issuer: gitlabIssuer(m[1]),
      authorization_endpoint: `${b}/oauth/authorize`,
      token_endpoint: `${b}/oauth/token`,
      revocation_endpoint: `${b}/oauth/revoke`,
      userinfo_endpoint: `${b}/oauth/userinfo`,
      jwks_uri: `${b}/oauth/discovery/keys`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['plain', 'S256'],
    });
  });

  // ===== Gitee (PM § Gitee) =====
  route(/^\/gitee\.com\/oauth\/token$/, 'gitee', 'token', (ctx) => {
    // PM: 403 if no User-Agent.
    if (!ctx.req.headers['user-agent']) {
      problem(ctx, 'gitee: no User-Agent (Gitee answers 403)');
      return send(ctx, 403, '<html><body>403 Forbidden</body></html>', 'text/html');
    }
    return rfcToken(ctx, 'gitee', {
      // PM: POST, params in the query or the body (client_secret preferably in the body).
      params: (c) => {
        if (!requireMethod(c, 'POST')) return {};
        const q = Object.fromEntries(c.url.searchParams);
        const f = c.body ? requireForm(c) : {};
        return { ...q, ...f };
      },
      auth: ['post'],
      error: (c, status, error, description) => json(c, status, { error, error_description: description }), // PM: {error, error_description}, HTTP 4xx (unverified)
      refresh: 'keep', // PM: refresh via the token endpoint (rotation: not in PM)
      ttl: 86400, // PM: expires_in 86400
      tokenType: 'bearer',
      success: () => ({ created_at: now() }),
      refreshExtra: () => ({ created_at: now() }),
    });
  });
  // PM § Gitee: refresh is `POST …/oauth/token?grant_type=refresh_token&refresh_token=…`; the
  // handler above reads query + body, and client credentials are checked for it too (PM does not
  // say they may be left out).
  route(/^\/gitee\.com\/api\/v5\/user$/, 'gitee', 'userinfo', (ctx) => {
    requireMethod(ctx, 'GET');
    if (!ctx.req.headers['user-agent']) {
      problem(ctx, 'gitee: no User-Agent (Gitee answers 403)');
      return send(ctx, 403, '<html><body>403 Forbidden</body></html>', 'text/html');
    }
    // PM: `GET api/v5/user?access_token=…` (query per docs).
    const token = ctx.url.searchParams.get('access_token');
    if (!token) problem(ctx, 'gitee userinfo: access_token not in the query');
    const a = accessFor(ctx, token, 'gitee');
    if (!a) return json(ctx, 401, { message: '401 Unauthorized: Access token does not exist' });
    return json(ctx, 200, QUIRK_USERS.gitee);
  });

  // ===== OSChina (PM § OSChina) =====
  route(/^\/www\.oschina\.net\/action\/openapi\/token$/, 'oschina', 'token', (ctx) =>
    rfcToken(ctx, 'oschina', {
      // PM: GET or POST, params in the query, dataType=json required.
      params: (c) => {
        requireMethod(c, 'GET', 'POST');
        const q = Object.fromEntries(c.url.searchParams);
        if (q.dataType !== 'json') problem(c, `oschina token: dataType=${JSON.stringify(q.dataType)}, documented required json|jsonp|xml (json for JSON)`);
        return q;
      },
      auth: ['post'],
      // PM: HTTP 400 invalid_request, 401 invalid_client|invalid_grant|… (`error`/`error_description`).
      error: (c, status, error, description) => json(c, error === 'invalid_request' ? 400 : 401, { error, error_description: description }),
      refresh: 'keep', // PM: refresh via the same endpoint
      tokenType: 'bearer',
      scope: false,
      // PM: {access_token, refresh_token, token_type, expires_in, uid}. Content type: not in PM
      // (unverified) — application/json here.
      success: () => ({ uid: QUIRK_USERS.oschina.id }),
      refreshExtra: () => ({ uid: QUIRK_USERS.oschina.id }),
    }),
  );
  route(/^\/www\.oschina\.net\/action\/openapi\/user$/, 'oschina', 'userinfo', (ctx) => {
    // PM: openapi/user?access_token=…&dataType=json (token in the query).
    const q = ctx.url.searchParams;
    if (q.get('dataType') !== 'json') problem(ctx, 'oschina userinfo: dataType=json missing');
    const a = accessFor(ctx, q.get('access_token'), 'oschina');
    if (!a) return json(ctx, 401, { error: 'invalid_token', error_description: 'invalid token' });
    return json(ctx, 200, QUIRK_USERS.oschina);
  });

  // ===== LinuxDo (PM § LinuxDo) =====
  route(/^\/connect\.linux\.do\/oauth2\/token$/, 'linuxdo', 'token', (ctx) =>
    rfcToken(ctx, 'linuxdo', {
      params: formParams,
      auth: ['basic', 'post'], // PM: basic (post also listed)
      error: rfcError, // PM: standard OAuth errors (unverified)
      refresh: 'keep', // PM: refresh via the token endpoint (unverified)
    }),
  );
  route(/^\/connect\.linux\.do\/api\/user$/, 'linuxdo', 'userinfo', (ctx) => {
    requireMethod(ctx, 'GET');
    const a = accessFor(ctx, bearer(ctx), 'linuxdo');
    if (!a) return json(ctx, 401, { error: 'invalid_token' });
    return json(ctx, 200, QUIRK_USERS.linuxdo);
  });

  // ===== WeChat MP / Open (PM § WeChat Official Account, § WeChat Open Platform) =====
  const wxPresets = ['wechat_mp', 'wechat_mp_base', 'wechat_open'];
  // PM: JSON served text/plain (frequently); errors {errcode, errmsg} on HTTP 200.
  const wx = (ctx, obj) => send(ctx, 200, obj, 'text/plain');
  const wxErr = (ctx, errcode, errmsg) => wx(ctx, { errcode, errmsg: `${errmsg} rid: ${hex(4)}` });
  route(/^\/api\.weixin\.qq\.com\/sns\/oauth2\/access_token$/, 'wechat', 'token', (ctx) => {
    // PM: GET …/sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code.
    requireMethod(ctx, 'GET');
    const q = Object.fromEntries(ctx.url.searchParams);
    ctx.call.params = q;
    ctx.call.grant = q.grant_type;
    const preset = byClientId.get(q.appid);
    ctx.call.preset = wxPresets.includes(preset) ? preset : 'wechat';
    if (!wxPresets.includes(preset)) return wxErr(ctx, 40013, 'invalid appid');
    if (q.secret !== QUIRK_CLIENTS[preset].client_secret) return wxErr(ctx, 40125, 'invalid appsecret'); // not in PM (WeChat's global list)
    if (q.grant_type !== 'authorization_code') {
      problem(ctx, `wechat: grant_type=${q.grant_type}`);
      return wxErr(ctx, 40002, 'invalid grant_type'); // not in PM
    }
    if (ctx.body) problem(ctx, 'wechat token: a body on a documented GET');
    // PM: 40029 invalid code, 40163 code been used.
    const r = redeem(ctx, preset, { code: q.code, clientId: q.appid, checkRedirect: false });
    if (r.error === 'used') return wxErr(ctx, 40163, 'code been used');
    if (r.error) return wxErr(ctx, 40029, 'invalid code');
    const u = QUIRK_USERS[preset];
    const scope = r.grant.scope;
    const at = issueAccess(preset, q.appid, u.openid, scope, 7200);
    const rt = issueRefresh(preset, q.appid, u.openid, scope);
    // PM: {access_token, expires_in:7200, refresh_token, openid, scope, is_snapshotuser, unionid?}
    // (is_snapshotuser is only sent for snapshot-page virtual users — omitted).
    return wx(ctx, { access_token: at, expires_in: 7200, refresh_token: rt, openid: u.openid, scope, ...(u.unionid ? { unionid: u.unionid } : {}) });
  });
  route(/^\/api\.weixin\.qq\.com\/sns\/oauth2\/refresh_token$/, 'wechat', 'token', (ctx) => {
    // PM: GET …/sns/oauth2/refresh_token?appid&grant_type=refresh_token&refresh_token (no secret).
    requireMethod(ctx, 'GET');
    const q = Object.fromEntries(ctx.url.searchParams);
    ctx.call.params = q;
    ctx.call.grant = q.grant_type;
    const preset = byClientId.get(q.appid);
    ctx.call.preset = wxPresets.includes(preset) ? preset : 'wechat';
    if (!wxPresets.includes(preset)) return wxErr(ctx, 40013, 'invalid appid');
    if ('secret' in q) ctx.call.notes.push('secret sent on refresh (PM: not needed)');
    if (q.grant_type !== 'refresh_token') {
      problem(ctx, `wechat refresh: grant_type=${q.grant_type}`);
      return wxErr(ctx, 40002, 'invalid grant_type');
    }
    const r = refresh.get(q.refresh_token);
    // 40030 invalid refresh_token: WeChat's global list, not in PM (unverified).
    if (!r || r.preset !== preset || !r.active) return wxErr(ctx, 40030, 'invalid refresh_token');
    const u = QUIRK_USERS[preset];
    // Same refresh token returned (30 d validity, PM); not rotated.
    return wx(ctx, { access_token: issueAccess(preset, q.appid, u.openid, r.scope, 7200), expires_in: 7200, refresh_token: q.refresh_token, openid: u.openid, scope: r.scope });
  });
  route(/^\/api\.weixin\.qq\.com\/sns\/userinfo$/, 'wechat', 'userinfo', (ctx) => {
    // PM: GET sns/userinfo?access_token&openid&lang=zh_CN (query; needs snsapi_userinfo).
    requireMethod(ctx, 'GET');
    const q = Object.fromEntries(ctx.url.searchParams);
    ctx.call.params = q;
    const a = q.access_token && access.get(q.access_token);
    ctx.call.preset = a?.preset ?? 'wechat';
    if (!a || !wxPresets.includes(a.preset) || a.revoked) {
      problem(ctx, 'wechat userinfo: unknown access token');
      return wxErr(ctx, 40001, 'invalid credential, access_token is invalid or not latest'); // not in PM
    }
    const u = QUIRK_USERS[a.preset];
    if (q.openid !== u.openid) {
      problem(ctx, 'wechat userinfo: openid missing or not the token\'s');
      return wxErr(ctx, 40003, 'invalid openid'); // not in PM
    }
    if (!String(a.scope).split(',').includes('snsapi_userinfo') && !String(a.scope).split(',').includes('snsapi_login')) {
      problem(ctx, 'wechat userinfo: the token\'s scope is not snsapi_userinfo');
      return wxErr(ctx, 48001, 'api unauthorized'); // not in PM
    }
    if (q.lang !== undefined && !['zh_CN', 'zh_TW', 'en'].includes(q.lang)) problem(ctx, `wechat userinfo: lang=${q.lang}`);
    return wx(ctx, { ...u });
  });

  // ===== Feishu / Lark (PM § Feishu / Lark) =====
  function feishuToken(ctx, preset, version) {
    requireMethod(ctx, 'POST');
    // PM: POST JSON body {grant_type, client_id, client_secret, code, redirect_uri,
    // code_verifier}, Content-Type application/json; charset=utf-8; secret in body only.
    const body = jsonBody(ctx);
    ctx.call.params = body ?? {};
    ctx.call.grant = body?.grant_type;
    // PM: success top-level {code:0,…}; errors HTTP 400/500/503 + {code:20xxx, error, error_description}.
    const err = (status, code, error, description) => json(ctx, status, { code, error, error_description: description });
    if (!body) {
      problem(ctx, `${preset} token: body is not JSON (content type ${JSON.stringify(ctx.req.headers['content-type'])})`);
      return err(400, 20001, 'invalid_request', 'request body must be JSON'); // number not in PM
    }
    if (ctx.req.headers.authorization) {
      // PM: Basic + secret in body → 20070.
      problem(ctx, `${preset} token: an Authorization header (PM: secret in the body only)`);
      return err(400, 20070, 'invalid_client', 'client_secret must not be sent in both the body and the header');
    }
    ctx.call.clientAuth = body.client_secret !== undefined ? 'post' : 'none';
    if (!clientOk(preset, body.client_id, body.client_secret)) return err(400, 20002, 'invalid_client', 'client_id or client_secret invalid'); // number not in PM
    const c = QUIRK_CLIENTS[preset];
    if (body.grant_type === 'authorization_code') {
      const g0 = codes.get(body.code);
      // PM: v3 is strict — rejects code_verifier without a prior challenge.
      if (version === 3 && g0 && !g0.challenge && body.code_verifier) {
        problem(ctx, `${preset}: code_verifier without a challenge (v3 rejects)`);
        return err(400, 20049, 'invalid_grant', 'PKCE verification failed');
      }
      const r = redeem(ctx, preset, { code: body.code, clientId: body.client_id, redirectUri: body.redirect_uri, verifier: body.code_verifier });
      // PM: 20003 code used, 20004 expired, 20049 PKCE failed. An unknown code's number is not
      // in PM: 20003 is answered for it too.
      if (r.error === 'pkce' || r.error === 'pkce_missing') return err(400, 20049, 'invalid_grant', 'PKCE verification failed');
      if (r.error) return err(400, 20003, 'invalid_grant', 'The authorization code has been used or is invalid');
      const g = r.grant;
      const offline = (g.scope ?? '').split(' ').includes('offline_access');
      // PM: RT only with offline_access; {code:0, access_token, expires_in, refresh_token,
      // refresh_token_expires_in, token_type:"Bearer", scope}.
      return json(ctx, 200, {
        code: 0,
        access_token: issueAccess(preset, c.client_id, g.user, g.scope, 7200),
        expires_in: 7200,
        ...(offline ? { refresh_token: issueRefresh(preset, c.client_id, g.user, g.scope), refresh_token_expires_in: 604800 } : {}),
        token_type: 'Bearer',
        scope: g.scope ?? '',
      });
    }
    if (body.grant_type === 'refresh_token') {
      const r = refresh.get(body.refresh_token);
      // PM: RT single-use, rotated. The error number for a used/unknown RT is not in PM (20064 here).
      if (!r || r.preset !== preset || !r.active) return err(400, 20064, 'invalid_grant', 'refresh token is invalid or has been used');
      r.active = false;
      return json(ctx, 200, {
        code: 0,
        access_token: issueAccess(preset, c.client_id, r.user, r.scope, 7200),
        expires_in: 7200,
        refresh_token: issueRefresh(preset, c.client_id, r.user, r.scope),
        refresh_token_expires_in: 604800,
        token_type: 'Bearer',
        scope: r.scope ?? '',
      });
    }
    problem(ctx, `${preset}: grant_type ${JSON.stringify(body.grant_type)}`);
    return err(400, 20010, 'unsupported_grant_type', 'unsupported grant_type'); // number not in PM
  }
  // PM: Feishu → v3 `accounts.feishu.cn/oauth/v3/token` (same params as v2); Lark still v2 at
  // open.larksuite.com (unverified). The v2 Feishu path is served too.
  route(/^\/accounts\.feishu\.cn\/oauth\/v3\/token$/, 'feishu', 'token', (ctx) => feishuToken(ctx, 'feishu', 3));
  route(/^\/open\.feishu\.cn\/open-apis\/authen\/v2\/oauth\/token$/, 'feishu', 'token', (ctx) => feishuToken(ctx, 'feishu', 2));
  route(/^\/open\.larksuite\.com\/open-apis\/authen\/v2\/oauth\/token$/, 'lark', 'token', (ctx) => feishuToken(ctx, 'lark', 2));
  for (const [host, preset] of [['open.feishu.cn', 'feishu'], ['open.larksuite.com', 'lark']]) {
    route(new RegExp(`^/${host.replace(/\./g, '\\.')}/open-apis/authen/v1/user_info$`), preset, 'userinfo', (ctx) => {
      // PM: GET authen/v1/user_info (Bearer) → {code, msg, data:{…}}; errors code≠0 on HTTP 200.
      requireMethod(ctx, 'GET');
      const a = accessFor(ctx, bearer(ctx), preset);
      if (!a) return json(ctx, 200, { code: 20005, msg: 'invalid access token' }); // number not in PM
      return json(ctx, 200, { code: 0, msg: 'success', data: QUIRK_USERS[preset] });
    });
  }

  // ===== DingTalk (PM § DingTalk) =====
  // PM: errors HTTP 4xx JSON {code, message, requestid} (unverified); the code strings are not
  // in PM (unverified: these are the ones the preset maps).
  const dingErr = (ctx, status, code, message) => json(ctx, status, { code, message, requestid: hex(8).toUpperCase() });
  route(/^\/api\.dingtalk\.com\/v1\.0\/oauth2\/userAccessToken$/, 'dingtalk', 'token', (ctx) => {
    // PM: POST JSON camelCase {clientId, clientSecret, code, grantType:"authorization_code"} →
    // {accessToken, refreshToken, expireIn, corpId}; refresh {grantType:"refresh_token", refreshToken}.
    requireMethod(ctx, 'POST');
    const b = jsonBody(ctx);
    ctx.call.params = b ?? {};
    ctx.call.grant = b?.grantType;
    if (!b) {
      problem(ctx, 'dingtalk token: body is not JSON');
      return dingErr(ctx, 400, 'MissingParameter', 'body must be JSON');
    }
    for (const snake of ['client_id', 'client_secret', 'grant_type', 'refresh_token']) {
      if (snake in b) problem(ctx, `dingtalk token: snake_case ${snake} (PM: camelCase)`);
    }
    ctx.call.clientAuth = b.clientSecret !== undefined ? 'post' : 'none';
    if (b.clientId !== QUIRK_CLIENTS.dingtalk.client_id) return dingErr(ctx, 400, 'invalidClientId', '无效的clientId');
    if (b.clientSecret !== QUIRK_CLIENTS.dingtalk.client_secret) return dingErr(ctx, 400, 'invalidClientSecret', '无效的clientSecret');
    const c = QUIRK_CLIENTS.dingtalk;
    if (b.grantType === 'authorization_code') {
      const r = redeem(ctx, 'dingtalk', { code: b.code, clientId: b.clientId, checkRedirect: false, verifier: b.codeVerifier });
      if (r.error) return dingErr(ctx, 400, 'invalidParameter.authCode.notFound', '不合法的临时授权码');
      const u = QUIRK_USERS.dingtalk;
      return json(ctx, 200, {
        accessToken: issueAccess('dingtalk', c.client_id, u.unionId, 'openid', 7200),
        refreshToken: issueRefresh('dingtalk', c.client_id, u.unionId, 'openid'),
        expireIn: 7200,
        corpId: 'dingquirkcorp0001',
      });
    }
    if (b.grantType === 'refresh_token') {
      const r = refresh.get(b.refreshToken);
      if (!r || r.preset !== 'dingtalk' || !r.active) return dingErr(ctx, 400, 'invalidParameter.refreshToken.notFound', '不合法的refreshToken');
      return json(ctx, 200, {
        accessToken: issueAccess('dingtalk', c.client_id, r.user, r.scope, 7200),
        refreshToken: b.refreshToken, // rotation not in PM: the same RT is returned
        expireIn: 7200,
        corpId: 'dingquirkcorp0001',
      });
    }
    problem(ctx, `dingtalk: grantType ${JSON.stringify(b.grantType)}`);
    return dingErr(ctx, 400, 'invalidParameter.grantType', 'grantType invalid');
  });
  route(/^\/api\.dingtalk\.com\/v1\.0\/contact\/users\/me$/, 'dingtalk', 'userinfo', (ctx) => {
    // PM: header x-acs-dingtalk-access-token (not Bearer).
    requireMethod(ctx, 'GET');
    const token = ctx.req.headers['x-acs-dingtalk-access-token'];
    if (!token) problem(ctx, 'dingtalk userinfo: no x-acs-dingtalk-access-token header');
    if (ctx.req.headers.authorization) ctx.call.notes.push('Authorization header sent to DingTalk');
    const a = accessFor(ctx, token, 'dingtalk');
    if (!a) return dingErr(ctx, 401, 'InvalidAuthentication', '不合法的access_token');
    return json(ctx, 200, QUIRK_USERS.dingtalk);
  });

  // ===== QQ (PM § QQ) =====
  // Two QQ apps: `qq` honours `fmt=json` (plain JSON); `qq_default_formats` answers in QQ's
  // documented DEFAULT formats whatever `fmt` says — form-encoded token success, JSONP errors and
  // JSONP `/me` served text/html — so a client's reading of those formats is exercised too.
  // (Whether QQ ever ignores fmt=json is not in PM: this app is a test device, not a claim.)
  const qqApps = ['qq', 'qq_default_formats'];
  const qqJson = (preset, q) => q.fmt === 'json' && preset !== 'qq_default_formats';
  // JSONP as PM shows it: `callback( {...} );`, served text/html.
  const jsonp = (obj) => `callback( ${JSON.stringify(obj)} );\n`;
  route(/^\/graph\.qq\.com\/oauth2\.0\/token$/, 'qq', 'token', (ctx) => {
    // PM: GET token?grant_type=authorization_code&client_id&client_secret&code&redirect_uri[&fmt=json];
    // default success form-encoded; errors JSONP on 200 by default; fmt=json → plain JSON.
    requireMethod(ctx, 'GET');
    const q = Object.fromEntries(ctx.url.searchParams);
    ctx.call.params = q;
    ctx.call.grant = q.grant_type;
    ctx.call.clientAuth = q.client_secret !== undefined ? 'post' : 'none';
    const preset = qqApps.includes(byClientId.get(q.client_id)) ? byClientId.get(q.client_id) : 'qq';
    ctx.call.preset = preset;
    const asJson = qqJson(preset, q);
    const ok = (obj) =>
      asJson
        ? json(ctx, 200, obj)
        : send(ctx, 200, new URLSearchParams(Object.entries(obj).map(([k, v]) => [k, String(v)])).toString(), 'text/html; charset=utf-8');
    // Error numbers: 100020 (code reused) is PM; 100019 (code → token failed) and 100008/100009
    // (bad appid/appkey) are QQ's error list, not in PM (unverified).
    const err = (error, description) => (asJson ? json(ctx, 200, { error, error_description: description }) : send(ctx, 200, jsonp({ error, error_description: description }), 'text/html; charset=utf-8'));
    if (q.client_id !== QUIRK_CLIENTS[preset].client_id) return err(100008, 'client_id is not exist');
    if (q.client_secret !== QUIRK_CLIENTS[preset].client_secret) return err(100009, 'client_secret is wrong');
    // PM: AT lifetime — examples return expires_in=7776000; trust expires_in. As a string, as
    // QQ's form answers carry it (its JSON member type: not in PM).
    const u = QUIRK_USERS[preset];
    if (q.grant_type === 'authorization_code') {
      const r = redeem(ctx, preset, { code: q.code, clientId: q.client_id, redirectUri: q.redirect_uri });
      if (r.error === 'used') return err(100020, 'code is reused error');
      if (r.error) return err(100019, 'code to access token error');
      return ok({ access_token: issueAccess(preset, q.client_id, u.openid, r.grant.scope, 7776000), expires_in: '7776000', refresh_token: issueRefresh(preset, q.client_id, u.openid, r.grant.scope) });
    }
    if (q.grant_type === 'refresh_token') {
      // PM: same endpoint grant_type=refresh_token&client_id&client_secret&refresh_token (GET).
      const r = refresh.get(q.refresh_token);
      if (!r || r.preset !== preset || !r.active) return err(100015, 'access token is revoked'); // not in PM
      return ok({ access_token: issueAccess(preset, q.client_id, r.user, r.scope, 7776000), expires_in: '7776000', refresh_token: q.refresh_token });
    }
    problem(ctx, `qq: grant_type=${q.grant_type}`);
    return err(100005, 'param grant_type is wrong or lost'); // not in PM
  });
  /** The QQ access token of a /me or get_user_info call, with `ctx.call.preset` set to its app. */
  function qqAccess(ctx, token) {
    const a = token && access.get(token);
    ctx.call.preset = a && qqApps.includes(a.preset) ? a.preset : 'qq';
    return accessFor(ctx, token, ctx.call.preset);
  }
  route(/^\/graph\.qq\.com\/oauth2\.0\/me$/, 'qq', 'openid', (ctx) => {
    // PM: GET /oauth2.0/me?access_token[&unionid=1][&fmt=json] → JSONP `callback( {"client_id",
    // "openid"} );` served as text/html unless fmt=json.
    requireMethod(ctx, 'GET');
    const q = Object.fromEntries(ctx.url.searchParams);
    ctx.call.params = q;
    const a = qqAccess(ctx, q.access_token);
    const body = a
      ? { client_id: a.clientId, openid: QUIRK_USERS[a.preset].openid, ...(q.unionid === '1' ? { unionid: 'UID_QUIRKQQUNIONID0001' } : {}) }
      : { error: 100016, error_description: 'access token check failed' }; // number not in PM
    return qqJson(ctx.call.preset, q) ? json(ctx, 200, body) : send(ctx, 200, jsonp(body), 'text/html; charset=utf-8');
  });
  route(/^\/graph\.qq\.com\/user\/get_user_info$/, 'qq', 'userinfo', (ctx) => {
    // PM: GET user/get_user_info?access_token&oauth_consumer_key=<appid>&openid → {ret, msg, …}; ret≠0 = error.
    requireMethod(ctx, 'GET');
    const q = Object.fromEntries(ctx.url.searchParams);
    ctx.call.params = q;
    const a = qqAccess(ctx, q.access_token);
    if (!a) return json(ctx, 200, { ret: 100016, msg: 'access token check failed' });
    if (q.oauth_consumer_key !== QUIRK_CLIENTS[a.preset].client_id || q.openid !== QUIRK_USERS[a.preset].openid) {
      problem(ctx, 'qq userinfo: oauth_consumer_key or openid missing/wrong');
      return json(ctx, 200, { ret: -1, msg: 'client request\'s parameters are invalid, invalid openid' });
    }
    const { openid, ...profile } = QUIRK_USERS[a.preset];
    return json(ctx, 200, { ret: 0, msg: '', is_lost: 0, ...profile });
  });

  // ===== Weibo (PM § Weibo) =====
  route(/^\/api\.weibo\.com\/oauth2\/access_token$/, 'weibo', 'token', (ctx) =>
    rfcToken(ctx, 'weibo', {
      params: (c) => {
        // PM: POST (client_id, client_secret, grant_type, code, redirect_uri). Weibo also takes
        // them in the query (not in PM): query + form body are both read.
        if (!requireMethod(c, 'POST')) return {};
        const f = c.body ? requireForm(c) : {};
        return { ...Object.fromEntries(c.url.searchParams), ...f };
      },
      auth: ['post'],
      // PM: HTTP 400 {error, error_code, error_description, request} (unverified); 21325 = the
      // code is invalid (Weibo's error list, not in PM).
      error: (c, status, error, description) =>
        send(c, 400, { error, error_code: error === 'invalid_grant' ? 21325 : error === 'unsupported_grant_type' ? 21328 : 21324, request: '/oauth2/access_token', error_uri: '/oauth2/access_token', error_description: description }, 'text/plain;charset=UTF-8'),
      refresh: false, // PM: no refresh for web apps (unverified)
      issueRefresh: () => false,
      scope: false,
      tokenType: undefined,
      // PM: {access_token, expires_in, remind_in, uid}, served text/plain;charset=UTF-8.
      contentType: 'text/plain;charset=UTF-8',
      omit: ['token_type'],
      ttl: 157679999,
      success: () => ({ remind_in: '157679999', uid: QUIRK_USERS.weibo.idstr, isRealName: 'true' }),
    }),
  );
  route(/^\/api\.weibo\.com\/2\/users\/show\.json$/, 'weibo', 'userinfo', (ctx) => {
    // PM: GET 2/users/show.json?access_token&uid.
    requireMethod(ctx, 'GET');
    const q = Object.fromEntries(ctx.url.searchParams);
    ctx.call.params = q;
    const a = accessFor(ctx, q.access_token, 'weibo');
    if (!a) return json(ctx, 400, { error: 'invalid_access_token', error_code: 21332, request: '/2/users/show.json' });
    if (q.uid !== QUIRK_USERS.weibo.idstr) {
      problem(ctx, 'weibo userinfo: uid missing or not the token\'s');
      return json(ctx, 400, { error: 'miss required parameter (uid)', error_code: 10016, request: '/2/users/show.json' });
    }
    return json(ctx, 200, QUIRK_USERS.weibo);
  });
  route(/^\/api\.weibo\.com\/oauth2\/revokeoauth2$/, 'weibo', 'revoke', (ctx) => {
    // PM: revokeoauth2?access_token → {"result":"true"} (method: the preset's GET is unverified;
    // GET and POST are both accepted here).
    requireMethod(ctx, 'GET', 'POST');
    const q = { ...Object.fromEntries(ctx.url.searchParams), ...(formBody(ctx) ?? {}) };
    ctx.call.params = q;
    if (!q.access_token || !revoke(ctx, 'weibo', q.access_token)) {
      problem(ctx, 'weibo revoke: unknown access token');
      return json(ctx, 400, { error: 'invalid_access_token', error_code: 21332, request: '/oauth2/revokeoauth2' });
    }
    return send(ctx, 200, { result: 'true' }, 'text/plain;charset=UTF-8');
  });

  // ===== WeCom (PM § WeCom) =====
  // PM: errors errcode≠0 on HTTP 200 (40029 invalid code, 50001 redirect domain).
  const wc = (ctx, obj) => json(ctx, 200, obj);
  route(/^\/qyapi\.weixin\.qq\.com\/cgi-bin\/gettoken$/, 'wecom', 'gettoken', (ctx) => {
    // PM: GET cgi-bin/gettoken?corpid&corpsecret (7200 s, cache server-side).
    requireMethod(ctx, 'GET');
    const q = Object.fromEntries(ctx.url.searchParams);
    ctx.call.params = q;
    ctx.call.clientAuth = q.corpsecret !== undefined ? 'post' : 'none';
    // 40013 invalid corpid / 40001 invalid secret: WeCom's global list, not in PM (unverified).
    if (q.corpid !== QUIRK_CLIENTS.wecom.client_id) return wc(ctx, { errcode: 40013, errmsg: 'invalid corpid' });
    if (q.corpsecret !== QUIRK_CLIENTS.wecom.client_secret) return wc(ctx, { errcode: 40001, errmsg: 'invalid credential' });
    const t = `wecom_corp_${rand()}`;
    corpTokens.set(t, now() + 7200);
    return wc(ctx, { errcode: 0, errmsg: 'ok', access_token: t, expires_in: 7200 });
  });
  route(/^\/qyapi\.weixin\.qq\.com\/cgi-bin\/auth\/getuserinfo$/, 'wecom', 'getuserinfo', (ctx) => {
    // PM: GET cgi-bin/auth/getuserinfo?access_token&code → {errcode:0, userid, user_ticket?}.
    requireMethod(ctx, 'GET');
    const q = Object.fromEntries(ctx.url.searchParams);
    ctx.call.params = q;
    ctx.call.grant = 'authorization_code';
    if (!corpTokens.has(q.access_token)) {
      problem(ctx, 'wecom getuserinfo: unknown corp access_token');
      return wc(ctx, { errcode: 40014, errmsg: 'invalid access_token' }); // not in PM
    }
    const r = redeem(ctx, 'wecom', { code: q.code, clientId: QUIRK_CLIENTS.wecom.client_id, checkRedirect: false });
    if (r.error) return wc(ctx, { errcode: 40029, errmsg: 'invalid code' });
    const ticket = r.grant.scope === 'snsapi_privateinfo' ? { user_ticket: `wecom_ticket_${rand()}`, expires_in: 1800 } : {};
    return wc(ctx, { errcode: 0, errmsg: 'ok', userid: QUIRK_USERS.wecom.userid, ...ticket });
  });

  // ===== Discord (PM § Discord) =====
  const discordIssuer = () => `${origin}/discord.com`;
  route(/^\/discord\.com\/api\/oauth2\/token$/, 'discord', 'token', (ctx) =>
    rfcToken(ctx, 'discord', {
      // PM: form-urlencoded only (JSON rejected); basic|post|none.
      params: formParams,
      auth: ['basic', 'post'],
      error: rfcError, // PM: HTTP 400 {error, error_description}
      codeError: () => 'Invalid "code" in request.',
      refresh: 'rotate', // PM: refresh same endpoint (rotation: not in PM)
      verifierMin: 43, // PM: code_verifier ≥43 chars
      ttl: 604800,
    }),
  );
  route(/^\/discord\.com\/api\/users\/@me$/, 'discord', 'userinfo', (ctx) => {
    requireMethod(ctx, 'GET');
    const a = accessFor(ctx, bearer(ctx), 'discord');
    if (!a) return json(ctx, 401, { message: '401: Unauthorized', code: 0 });
    return json(ctx, 200, QUIRK_USERS.discord);
  });
  route(/^\/discord\.com\/api\/oauth2\/token\/revoke$/, 'discord', 'revoke', (ctx) => {
    // PM: POST api/oauth2/token/revoke (RFC 7009).
    const p = formParams(ctx);
    ctx.call.params = p;
    const auth = clientAuth(ctx, p);
    if (!clientOk('discord', auth.id, auth.secret)) {
      problem(ctx, 'discord revoke: no/incorrect client authentication');
      return rfcError(ctx, 401, 'invalid_client', 'client authentication failed');
    }
    if (!p.token || !revoke(ctx, 'discord', p.token)) problem(ctx, 'discord revoke: unknown token');
    return json(ctx, 200, {});
  });
  route(/^\/discord\.com\/\.well-known\/oauth-authorization-server$/, 'discord', 'discovery', (ctx) =>
    json(ctx, 200, {
      issuer: discordIssuer(),
      authorization_endpoint: `${origin}/discord.com/oauth2/authorize`,
      token_endpoint: `${origin}/discord.com/api/oauth2/token`,
      revocation_endpoint: `${origin}/discord.com/api/oauth2/token/revoke`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      authorization_response_iss_parameter_supported: true,
    }),
  );

  // ===== plain RFC 6749 provider (configured by explicit endpoints, not a preset) =====
  route(/^\/plain\.example\/token$/, 'plain', 'token', (ctx) =>
    rfcToken(ctx, 'plain', { params: formParams, auth: ['basic'], error: rfcError, refresh: 'rotate' }),
  );
  route(/^\/plain\.example\/userinfo$/, 'plain', 'userinfo', (ctx) => {
    const a = accessFor(ctx, bearer(ctx), 'plain');
    if (!a) return rfcError(ctx, 401, 'invalid_token', 'invalid token');
    return json(ctx, 200, QUIRK_USERS.plain);
  });
  route(/^\/plain\.example\/revoke$/, 'plain', 'revoke', (ctx) => {
    const p = formParams(ctx);
    ctx.call.params = p;
    const auth = clientAuth(ctx, p);
    if (!clientOk('plain', auth.id, auth.secret)) return rfcError(ctx, 401, 'invalid_client', 'client authentication failed');
    if (!p.token || !revoke(ctx, 'plain', p.token)) problem(ctx, 'plain revoke: unknown token');
    return json(ctx, 200, {});
  });

  // ---------- the authorization endpoint ----------
  const AUTHORIZE_PAGE = `<!doctype html><meta charset="utf-8"><title>quirk authorize</title>
<body><p id="msg">Authorizing…</p><script>
fetch('/__quirk/authorize', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: location.href })
  .then((r) => r.json())
  .then((j) => {
    if (j.redirect) { location.replace(j.redirect); return; }
    document.title = 'quirk-refused';
    document.getElementById('msg').textContent = 'refused: ' + j.problems.join('; ');
  });
</script></body>`;

  /** Checks an authorization URL (with fragment) and, if it is acceptable, issues a code. */
  function authorize(href) {
    const u = new URL(href);
    const entry = { at: Date.now(), url: href, path: u.pathname, params: [...u.searchParams], fragment: u.hash ? u.hash.slice(1) : null, problems: [], preset: null, pkce: null };
    authorizations.push(entry);
    const fam = AUTHORIZE_PATHS.find(([re]) => re.test(u.pathname));
    if (!fam) {
      entry.problems.push(`no authorization endpoint at ${u.pathname}`);
      return entry;
    }
    const p = u.searchParams;
    const names = entry.params.map(([k]) => k);
    for (const k of new Set(names)) if (names.filter((x) => x === k).length > 1) entry.problems.push(`parameter ${k} repeated`);
    const isWx = fam[1].some((x) => AUTHZ[x].wechat);
    const clientId = isWx ? p.get('appid') : p.get('client_id');
    const preset = byClientId.get(clientId);
    entry.preset = preset ?? fam[1][0];
    if (!preset || !fam[1].includes(preset)) {
      entry.problems.push(`${isWx ? 'appid' : 'client_id'} ${JSON.stringify(clientId)} is not a client of ${fam[1].join('/')}`);
      return entry;
    }
    const rules = AUTHZ[preset];
    const redirectUri = p.get('redirect_uri');
    if (!redirectUris.includes(redirectUri)) entry.problems.push(`redirect_uri ${JSON.stringify(redirectUri)} is not registered`);
    if (rules.responseType && p.get('response_type') !== 'code') entry.problems.push(`response_type=${p.get('response_type')}`);
    if (!rules.responseType && p.has('response_type') && p.get('response_type') !== 'code') entry.problems.push(`response_type=${p.get('response_type')}`);
    const state = p.get('state');
    if (rules.stateRequired && !state) entry.problems.push('state is required (PM § QQ)');
    if (rules.wechat) {
      // PM § WeChat MP: exact order, #wechat_redirect mandatory, state [a-zA-Z0-9] ≤128 bytes,
      // comma-separated scope; WeCom adds agentid after state (PM § WeCom).
      const order = ['appid', 'redirect_uri', 'response_type', 'scope', 'state', ...(rules.agentid && p.has('agentid') ? ['agentid'] : [])];
      if (names.join(',') !== order.join(',')) entry.problems.push(`parameter order ${names.join(',')} ≠ ${order.join(',')}`);
      if (entry.fragment !== 'wechat_redirect') entry.problems.push(`fragment ${JSON.stringify(entry.fragment)} ≠ "wechat_redirect"`);
      if (p.get('response_type') !== 'code') entry.problems.push(`response_type=${p.get('response_type')}`);
      if (state !== null && !/^[A-Za-z0-9]{1,128}$/.test(state)) entry.problems.push(`state ${JSON.stringify(state)} is not 1–128 [A-Za-z0-9]`);
      const scopes = (p.get('scope') ?? '').split(',');
      if (!scopes.every((s) => rules.wechat.includes(s))) entry.problems.push(`scope ${p.get('scope')} not one of ${rules.wechat.join('/')}`);
      if (rules.agentid) {
        const needAgent = scopes.includes('snsapi_privateinfo');
        if ((needAgent || p.has('agentid')) && p.get('agentid') !== QUIRK_CLIENTS.wecom.agentid) entry.problems.push(`agentid=${p.get('agentid')}`);
      }
    }
    const challenge = p.get('code_challenge');
    const method = challenge ? (p.get('code_challenge_method') ?? 'plain') : null;
    entry.pkce = method;
    if (challenge) {
      if (rules.pkce === 'S256' && method !== 'S256') entry.problems.push(`code_challenge_method ${method}: S256 only`);
      if (!['S256', 'plain'].includes(method)) entry.problems.push(`code_challenge_method ${method}`);
      if (method === 'S256' && !/^[A-Za-z0-9_-]{43}$/.test(challenge)) entry.problems.push('code_challenge is not a 43-char S256 value');
    }
    if (entry.problems.length) return entry;
    const code = `${preset}_code_${rand(18)}`.replace(/[-_]/g, (c) => (isWx || preset === 'wecom' ? '' : c));
    codes.set(code, {
      preset,
      clientId,
      redirectUri,
      challenge: rules.pkce === 'none' ? null : challenge,
      method,
      scope: p.get('scope') ?? undefined,
      nonce: p.get('nonce') ?? undefined,
      params: Object.fromEntries(p),
      user: userKey(preset),
      used: false,
    });
    entry.code = code;
    const back = new URL(redirectUri);
    back.searchParams.append(rules.codeParam ?? 'code', code);
    if (state !== null) back.searchParams.append('state', state);
    if (rules.iss) back.searchParams.append('iss', discordIssuer());
    entry.redirect = back.href;
    return entry;
  }

  function userKey(preset) {
    const u = QUIRK_USERS[preset];
    return String(u.sub ?? u.id ?? u.openid ?? u.union_id ?? u.unionId ?? u.userid);
  }

  // ---------- the server ----------
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, origin);
      const body = Buffer.concat(chunks).toString('utf8');
      const call = { n: ++n, at: Date.now(), preset: null, endpoint: null, grant: null, method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: { ...req.headers }, body, params: null, clientAuth: null, problems: [], notes: [], status: null, response: null };
      const ctx = { req, res, url, body, call };
      try {
        if (url.pathname === '/__quirk/authorize' && req.method === 'POST') {
          const entry = authorize(body);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(entry.redirect ? { redirect: entry.redirect } : { problems: entry.problems }));
          return;
        }
        if (req.method === 'GET' && AUTHORIZE_PATHS.some(([re]) => re.test(url.pathname))) {
          call.endpoint = 'authorize';
          // The page load: the preset of the client named in the query (paths can be shared).
          const family = AUTHORIZE_PATHS.find(([re]) => re.test(url.pathname))[1];
          const named = byClientId.get(url.searchParams.get('client_id') ?? url.searchParams.get('appid'));
          call.preset = family.includes(named) ? named : family[0];
          calls.push(call);
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
          res.end(AUTHORIZE_PAGE);
          return;
        }
        for (const [re, preset, endpoint, fn] of routes) {
          const m = re.exec(url.pathname);
          if (!m) continue;
          call.preset = preset;
          call.endpoint = endpoint;
          calls.push(call);
          fn(ctx, m);
          return;
        }
        call.endpoint = 'unknown';
        call.problems.push(`nothing at ${req.method} ${url.pathname}`);
        calls.push(call);
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
      } catch (e) {
        call.problems.push(`quirk server crashed: ${e.stack}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('quirk server error');
      }
    });
  });
  // Idle keep-alive connections outlive the backend's pool (reqwest pool_idle_timeout 60 s): with
  // Node's default 5 s the server can close a connection just as the backend reuses it, and a
  // code exchange then fails as provider_unreachable (never retried) — a real race, but not what
  // these tests are about.
  server.keepAliveTimeout = 120_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;
  origin = `http://127.0.0.1:${actualPort}`;

  return {
    origin,
    port: actualPort,
    clients: QUIRK_CLIENTS,
    users: QUIRK_USERS,
    jwk,
    /** Every back-channel request (and authorize page loads), in order. */
    calls,
    /** Every authorization URL the page reported, with fragment, parsed params and problems. */
    authorizations,
    /** Every successful revocation: { preset, kind: 'access'|'refresh', token }. */
    revocations,
    /** Calls for `preset` at `endpoint` (optionally with this grant). */
    callsFor(preset, endpoint, grant) {
      return calls.filter((c) => c.preset === preset && (!endpoint || c.endpoint === endpoint) && (!grant || c.grant === grant));
    },
    count(preset, endpoint, grant) {
      return this.callsFor(preset, endpoint, grant).length;
    },
    /** Every recorded problem (authorization URLs and calls) — a clean journey has none. */
    problems(preset) {
      return [
        ...authorizations.filter((a) => !preset || a.preset === preset).flatMap((a) => a.problems.map((p) => `authorize: ${p}`)),
        ...calls.filter((c) => !preset || c.preset === preset).flatMap((c) => c.problems.map((p) => `${c.method} ${c.path}: ${p}`)),
      ];
    },
    /** Whether this refresh token is still usable / this access token still valid. */
    refreshTokenIsActive: (t) => Boolean(refresh.get(t)?.active),
    /** GitHub's "expiring user tokens" app setting (on by default here; off: no refresh token). */
    setGithubExpiringTokens: (on) => {
      githubExpiring = Boolean(on);
    },
    /** The refresh token issued last for `preset` (undefined when none). */
    latestRefreshToken: (preset) => [...refresh].filter(([, v]) => v.preset === preset).at(-1)?.[0],
    accessTokenIsActive: (t) => Boolean(access.get(t) && !access.get(t).revoked),
    /** Every token value issued (tests search bodies and logs for them). */
    issuedTokens: () => [...access.keys(), ...refresh.keys(), ...corpTokens.keys()],
    setRedirectUris(uris) {
      redirectUris = [...uris];
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r()));
    },
  };
}

function pick(o, keys) {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
}
