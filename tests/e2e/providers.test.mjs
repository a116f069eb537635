// Every provider preset end to end: ONE quirk server (tests/support/quirk-provider.mjs)
// playing all 17 presets of authsplit-core (`provider::PRESET_NAMES`) at their rebased paths
// (`dev_origin`), ONE authsplit-server configured with all of them + one plain OAuth 2.0 provider
// by explicit endpoints (against the quirk server) + one OIDC provider by issuer (the real
// oidc-provider, tests/support/op.mjs), serving the example SPA, and ONE headless Chromium.
//
// Per provider (the PROVIDERS table below):
//   1. a real sign-in in Chromium through the example SPA: the button from /config → the
//      provider's authorization page (the quirk server records the URL the browser opened,
//      fragment included) → the SPA callback → backend /token → the SPA shows the user. Asserted:
//      the exact authorization URL (parameters; order and fragment for WeChat/WeCom; PKCE present
//      exactly where the preset sends it; alphanumeric state for WeChat/WeCom), the normalized
//      user (`id` = "<provider id>:<stable subject>", never an email; name/email/avatar mapped),
//      exactly one token request (upstream) per exchange, and no deviation from the documented
//      wire format anywhere (`quirk.problems(preset)` is empty);
//   2. refresh through the browser's session cookie: works where the preset supports it (exactly
//      one upstream refresh; where the platform rotates, a second refresh presents the rotated
//      token), refused with a typed error where not (nothing sent upstream);
//   3. sign-out in the SPA: `revoked: true` + the quirk server revoked the live token (the
//      access token for GitHub/Weibo, the refresh token elsewhere) where the preset supports
//      it, `revoked: false` and no revocation call where not;
//   4. a made-up code, and the sign-in's own (used) code, through the API
//      (tests/support/http.mjs): the preset's documented errors (WeChat 40029 / 40163, GitHub
//      `bad_verification_code` in a 200, Feishu 20003, QQ JSONP 100020, AADSTS54005, …) become
//      `invalid_grant` (class `reauthenticate`, HTTP 400) with the provider's code in
//      `provider_error`, after exactly one upstream call each.
// Plus: second Google / QQ clients for documented variants (`iss: "accounts.google.com"`, QQ's
// form/JSONP default formats), Microsoft `allowed_tenants` refusing another tenant's user, a
// self-check that the quirk server refuses what the platforms refuse, and a final check that no
// deviation from any documented wire format was recorded.
//
// Facts come from docs/PROVIDERS.md ("Wire formats", cited in quirk-provider.mjs); what it marks
// unverified is listed per row (`unverified`).
//
//   scripts/build-web.sh && cargo build -p authsplit-server
//   AUTHSPLIT_SERVER_BIN=$PWD/target/debug/authsplit-server node --test tests/e2e/providers.test.mjs

import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

import { startOP } from '../support/op.mjs';
import { startOnFreePort, opProvider, REPO_ROOT } from '../support/server.mjs';
import { launchBrowser, newLoopbackContext, loginAndConsent, signOutOnSpa } from '../support/browser.mjs';
import { backendClient, pkcePair, s256 } from '../support/http.mjs';
import { startQuirkProvider, QUIRK_CLIENTS as C, QUIRK_USERS as U, QUIRK_PRESETS, SELF_HOSTED_GITLAB } from '../support/quirk-provider.mjs';

const DIST = join(REPO_ROOT, 'web', 'example', 'dist');
/** A Microsoft tenant id that is not the quirk user's (`tid`). */
const OTHER_TENANT = '11111111-2222-3333-4444-555555555555';
/** Sign-in journeys in flight at once (separate browser contexts, disjoint presets). */
const JOURNEY_CONCURRENCY = 4;

// Placeholders in expected authorization parameters (the values are random per sign-in).
const STATE = Symbol('state');
const CHALLENGE = Symbol('challenge');
const NONCE = Symbol('nonce');
/** RFC 7636 §4.2: S256 → 43 base64url characters. */
const pkce = () => [['code_challenge', CHALLENGE], ['code_challenge_method', 'S256']];

let quirk;
let op;
let srv;
let browser;
let app; // http://127.0.0.1:PORT — the SPA and the backend (same origin)
let redirectUri;

/**
 * The table. Per provider:
 * - `id` — provider id in the config (= the preset name for presets) and the user-id prefix;
 * - `config` — extra config keys (besides preset/client_id/client_secret/dev_origin);
 * - `authorize` — the expected authorization request: `path` (rebased), `params` (every
 *   parameter, order-insensitive unless `ordered`), `fragment`;
 * - `user` — the expected normalized user;
 * - `upstream` — the calls one sign-in makes (endpoint → exactly this many);
 * - `refresh` — true, `'stored'` (no refresh token: the backend answers the access token the
 *   session holds, nothing sent upstream), or the error code the backend must answer;
 *   `rotates` — the quirk platform
 *   rotates refresh tokens (a second refresh must present the new one);
 * - `revocation` — false, 'access' (access tokens only: GitHub, Weibo) or true (RFC 7009, the
 *   session's refresh token);
 * - `badCode` — the documented upstream error for a made-up code (`provider_error`);
 *   `usedCode` — for the sign-in's own code presented again (default: `badCode`);
 * - `unverified` — what the row rests on that PROVIDERS.md marks unverified.
 */
/**
 * WeChat's authorization URL (PROVIDERS.md § WeChat): these parameters in exactly this order,
 * then `#wechat_redirect`.
 */
const wechatAuthorize = (path, client, scope) => ({
  path,
  ordered: true,
  fragment: 'wechat_redirect',
  params: () => [['appid', client.client_id], ['redirect_uri', redirectUri], ['response_type', 'code'], ['scope', scope], ['state', STATE]],
});

const PROVIDERS = [
  {
    id: 'github',
    authorize: {
      path: '/github.com/login/oauth/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.github.client_id], ['redirect_uri', redirectUri], ['scope', 'read:user user:email'], ['state', STATE], ...pkce()],
    },
    user: { subject: '583231', name: 'The Octocat', email: 'octocat@github.example', email_verified: null, avatar_url: U.github.avatar_url },
    upstream: { token: 1, userinfo: 1 },
    refresh: true, // expiring user tokens enabled at the quirk GitHub (PROVIDERS.md: only then)
    rotates: true,
    revocation: 'access', // DELETE /applications/{client_id}/token, access tokens only
    badCode: 'bad_verification_code', // in a 200 body
    // The default token answer is form-encoded; JSON needs Accept: application/json (PROVIDERS.md).
    wire: (calls) => assert.match(calls.find((c) => c.endpoint === 'token').headers.accept ?? '', /application\/json/),
    unverified: ['refresh exists only for apps with expiring user tokens'],
  },
  {
    id: 'google',
    authorize: {
      path: '/accounts.google.com/o/oauth2/v2/auth',
      params: () => [['response_type', 'code'], ['client_id', C.google.client_id], ['redirect_uri', redirectUri], ['scope', 'openid email profile'], ['state', STATE], ...pkce(), ['nonce', NONCE], ['access_type', 'offline']],
    },
    user: { subject: U.google.sub, name: 'Grace Hopper', email: U.google.email, email_verified: true, avatar_url: U.google.picture },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    revocation: true,
    badCode: 'invalid_grant',
    unverified: ['JWKS URI from Google\'s discovery document'],
  },
  {
    // A second Google client whose ID tokens carry `iss: "accounts.google.com"` (PROVIDERS.md
    // § Google: the ID-token iss may be either form) — accepted as the preset's alternative issuer.
    id: 'google_short_iss',
    preset: 'google',
    authorize: {
      path: '/accounts.google.com/o/oauth2/v2/auth',
      params: () => [['response_type', 'code'], ['client_id', C.google_short_iss.client_id], ['redirect_uri', redirectUri], ['scope', 'openid email profile'], ['state', STATE], ...pkce(), ['nonce', NONCE], ['access_type', 'offline']],
    },
    user: { subject: U.google_short_iss.sub, name: 'Ada Lovelace', email: U.google_short_iss.email, email_verified: true, avatar_url: U.google_short_iss.picture },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    revocation: true,
    badCode: 'invalid_grant',
    wire: (calls) => {
      const token = calls.find((c) => c.endpoint === 'token' && c.grant === 'authorization_code' && c.status === 200);
      const claims = JSON.parse(Buffer.from(JSON.parse(token.response).id_token.split('.')[1], 'base64url'));
      assert.equal(claims.iss, 'accounts.google.com', 'the ID token used the short issuer form');
    },
    unverified: [],
  },
  {
    id: 'microsoft',
    authorize: {
      path: '/login.microsoftonline.com/common/oauth2/v2.0/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.microsoft.client_id], ['redirect_uri', redirectUri], ['scope', 'openid profile email offline_access'], ['state', STATE], ...pkce(), ['nonce', NONCE]],
    },
    // PROVIDERS.md § Microsoft: key on tid + oid from the validated ID token, never the pairwise sub.
    user: { subject: `${U.microsoft.tid}:${U.microsoft.oid}`, name: 'Megan Bowen', email: U.microsoft.email, email_verified: null, avatar_url: null },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    rotates: true,
    revocation: false, // no RFC 7009 endpoint (unverified)
    badCode: 'invalid_grant',
    usedCode: 'invalid_grant',
    usedCodeDescription: /AADSTS54005/, // PROVIDERS.md: reused code
    unverified: ['no RFC 7009 revocation endpoint', 'AADSTS70000 for an unknown code (PROVIDERS.md documents only AADSTS54005 for a reused one)'],
  },
  {
    id: 'gitlab',
    authorize: {
      path: '/gitlab.com/oauth/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.gitlab.client_id], ['redirect_uri', redirectUri], ['scope', 'openid profile email'], ['state', STATE], ...pkce(), ['nonce', NONCE]],
    },
    user: { subject: U.gitlab.sub, name: 'Lab Person', email: U.gitlab.email, email_verified: true, avatar_url: U.gitlab.picture },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    rotates: true,
    revocation: true,
    badCode: 'invalid_grant',
    unverified: ['Basic client auth also accepted', 'JWKS path /oauth/discovery/keys'],
  },
  {
    // A self-hosted GitLab: the preset with `vars.base_url` (PROVIDERS.md § GitLab).
    id: 'gitlab_selfhosted',
    preset: 'gitlab',
    config: { vars: { base_url: `https://${SELF_HOSTED_GITLAB}/` } }, // trailing `/` is dropped
    authorize: {
      path: `/${SELF_HOSTED_GITLAB}/oauth/authorize`,
      params: () => [['response_type', 'code'], ['client_id', C.gitlab_selfhosted.client_id], ['redirect_uri', redirectUri], ['scope', 'openid profile email'], ['state', STATE], ...pkce(), ['nonce', NONCE]],
    },
    user: { subject: U.gitlab_selfhosted.sub, name: 'Self Hosted', email: U.gitlab_selfhosted.email, email_verified: false, avatar_url: U.gitlab_selfhosted.picture },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    rotates: true,
    revocation: true,
    badCode: 'invalid_grant',
    unverified: ['Basic client auth also accepted', 'JWKS path /oauth/discovery/keys'],
  },
  {
    id: 'gitee',
    authorize: {
      path: '/gitee.com/oauth/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.gitee.client_id], ['redirect_uri', redirectUri], ['scope', 'user_info'], ['state', STATE]],
    },
    user: { subject: String(U.gitee.id), name: '码云用户', email: null, email_verified: null, avatar_url: U.gitee.avatar_url },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    revocation: false,
    badCode: 'invalid_grant',
    unverified: ['HTTP 4xx on errors', 'PKCE support (not sent)'],
  },
  {
    id: 'oschina',
    authorize: {
      path: '/www.oschina.net/action/oauth2/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.oschina.client_id], ['redirect_uri', redirectUri], ['state', STATE]],
    },
    user: { subject: String(U.oschina.id), name: 'oscuser', email: U.oschina.email, email_verified: null, avatar_url: U.oschina.avatar },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    revocation: false,
    badCode: 'invalid_grant',
    unverified: ['content type of JSON answers'],
  },
  {
    id: 'linuxdo',
    authorize: {
      path: '/connect.linux.do/oauth2/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.linuxdo.client_id], ['redirect_uri', redirectUri], ['state', STATE], ...pkce()],
    },
    user: { subject: String(U.linuxdo.id), name: 'Linux Do User', email: null, email_verified: null, avatar_url: 'https://linux.do/user_avatar/linux.do/ldouser/120/1_2.png' },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    revocation: false,
    badCode: 'invalid_grant',
    omittedFromRaw: ['api_key'],
    unverified: ['PKCE S256', 'refresh', 'RFC 6749 errors', 'avatar base URL'],
  },
  {
    id: 'wechat_mp',
    authorize: wechatAuthorize('/open.weixin.qq.com/connect/oauth2/authorize', C.wechat_mp, 'snsapi_userinfo'),
    user: { subject: U.wechat_mp.unionid, name: '微信用户', email: null, email_verified: null, avatar_url: U.wechat_mp.headimgurl },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    revocation: false,
    badCode: '40029',
    usedCode: '40163', // PROVIDERS.md: code been used
    unverified: ['errcodes other than 40029/40163'],
  },
  {
    id: 'wechat_mp_base',
    authorize: wechatAuthorize('/open.weixin.qq.com/connect/oauth2/authorize', C.wechat_mp_base, 'snsapi_base'),
    // snsapi_base: no userinfo call; no unionid → the openid from the token response.
    user: { subject: U.wechat_mp_base.openid, name: null, email: null, email_verified: null, avatar_url: null },
    upstream: { token: 1, userinfo: 0 },
    refresh: true,
    revocation: false,
    badCode: '40029',
    usedCode: '40163', // PROVIDERS.md: code been used
    unverified: [],
  },
  {
    id: 'wechat_open',
    authorize: wechatAuthorize('/open.weixin.qq.com/connect/qrconnect', C.wechat_open, 'snsapi_login'),
    user: { subject: U.wechat_open.unionid, name: 'Open 用户', email: null, email_verified: null, avatar_url: U.wechat_open.headimgurl },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    revocation: false,
    badCode: '40029',
    usedCode: '40163', // PROVIDERS.md: code been used
    unverified: ['refresh-token lifetime for websites'],
  },
  {
    id: 'feishu',
    // PROVIDERS.md § Feishu: a refresh token needs the offline_access scope.
    config: { scopes: ['offline_access'] },
    authorize: {
      path: '/accounts.feishu.cn/open-apis/authen/v1/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.feishu.client_id], ['redirect_uri', redirectUri], ['scope', 'offline_access'], ['state', STATE], ...pkce()],
    },
    user: { subject: U.feishu.union_id, name: '飞书用户', email: U.feishu.email, email_verified: false, avatar_url: U.feishu.avatar_url },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    rotates: true, // single-use RT
    revocation: false,
    badCode: '20003',
    unverified: ['v3 token endpoint has the v2 shape'],
  },
  {
    id: 'lark',
    // Default scopes (none): Lark issues no refresh token without offline_access, so the
    // session cannot refresh: the backend answers the access token it holds, nothing upstream.
    authorize: {
      path: '/accounts.larksuite.com/open-apis/authen/v1/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.lark.client_id], ['redirect_uri', redirectUri], ['state', STATE], ...pkce()],
    },
    user: { subject: U.lark.union_id, name: 'Lark User', email: U.lark.email, email_verified: false, avatar_url: U.lark.avatar_url },
    upstream: { token: 1, userinfo: 1 },
    refresh: 'stored',
    revocation: false,
    badCode: '20003',
    unverified: ['Lark still on the v2 token endpoint'],
  },
  {
    id: 'dingtalk',
    authorize: {
      path: '/login.dingtalk.com/oauth2/auth',
      params: () => [['response_type', 'code'], ['client_id', C.dingtalk.client_id], ['redirect_uri', redirectUri], ['scope', 'openid'], ['state', STATE], ['prompt', 'consent']],
    },
    user: { subject: U.dingtalk.unionId, name: '钉钉用户', email: U.dingtalk.email, email_verified: null, avatar_url: U.dingtalk.avatarUrl },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    revocation: false,
    badCode: 'invalidParameter.authCode.notFound',
    unverified: ['error shape {code, message, requestid}', 'the error code string'],
  },
  {
    id: 'qq',
    authorize: {
      path: '/graph.qq.com/oauth2.0/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.qq.client_id], ['redirect_uri', redirectUri], ['scope', 'get_user_info'], ['state', STATE]],
    },
    user: { subject: U.qq.openid, name: 'QQ用户', email: null, email_verified: null, avatar_url: U.qq.figureurl_qq_2 },
    upstream: { token: 1, openid: 1, userinfo: 1 },
    refresh: true,
    revocation: false,
    badCode: '100019',
    usedCode: '100020', // PROVIDERS.md: code reused
    // fmt=json on the token call and on /oauth2.0/me (PROVIDERS.md § QQ: JSON instead of form/JSONP).
    wire: (calls) => {
      for (const c of calls.filter((x) => x.endpoint === 'token' || x.endpoint === 'openid')) assert.equal(c.params.fmt, 'json', c.path);
    },
    unverified: ['error 100019 for an unknown code (PROVIDERS.md documents 100020 for a reused one)'],
  },
  {
    // A second QQ app whose quirk server answers in QQ's DEFAULT formats (form-encoded token,
    // JSONP errors and JSONP /oauth2.0/me as text/html, PROVIDERS.md § QQ) even though fmt=json
    // is sent: the preset must read all of them.
    id: 'qq_default_formats',
    preset: 'qq',
    authorize: {
      path: '/graph.qq.com/oauth2.0/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.qq_default_formats.client_id], ['redirect_uri', redirectUri], ['scope', 'get_user_info'], ['state', STATE]],
    },
    user: { subject: U.qq_default_formats.openid, name: 'QQ默认格式', email: null, email_verified: null, avatar_url: U.qq_default_formats.figureurl_qq_1 },
    upstream: { token: 1, openid: 1, userinfo: 1 },
    refresh: true,
    revocation: false,
    badCode: '100019', // as JSONP `callback( {"error":100019,…} );` on a 200
    usedCode: '100020',
    wire: (calls) => {
      const token = calls.find((c) => c.endpoint === 'token' && c.grant === 'authorization_code' && c.status === 200 && !c.response.includes('error'));
      assert.match(token.response, /^access_token=[^&]+&expires_in=7776000&refresh_token=/, 'form-encoded token answer');
      const me = calls.find((c) => c.endpoint === 'openid');
      assert.match(me.response, /^callback\( \{"client_id":/, 'JSONP /oauth2.0/me');
    },
    unverified: ['whether QQ ever ignores fmt=json (a test device: the formats are PROVIDERS.md\'s defaults)'],
  },
  {
    id: 'weibo',
    authorize: {
      path: '/api.weibo.com/oauth2/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.weibo.client_id], ['redirect_uri', redirectUri], ['state', STATE]],
    },
    user: { subject: U.weibo.idstr, name: 'weibo_user', email: null, email_verified: null, avatar_url: U.weibo.avatar_large },
    upstream: { token: 1, userinfo: 1 },
    refresh: 'stored', // no refresh token for web apps (unverified): the held access token
    revocation: 'access', // revokeoauth2 (access tokens)
    badCode: 'invalid_grant',
    unverified: ['error shape', 'no refresh for web apps', 'revocation as a GET'],
  },
  {
    id: 'wecom',
    config: { vars: { agentid: C.wecom.agentid } },
    authorize: {
      path: '/open.weixin.qq.com/connect/oauth2/authorize',
      ordered: true,
      fragment: 'wechat_redirect',
      params: () => [['appid', C.wecom.client_id], ['redirect_uri', redirectUri], ['response_type', 'code'], ['scope', 'snsapi_base'], ['state', STATE], ['agentid', C.wecom.agentid]],
    },
    user: { subject: U.wecom.userid, name: null, email: null, email_verified: null, avatar_url: null },
    // No user token: the corp token (cached: at most one gettoken per suite) + getuserinfo.
    upstream: { getuserinfo: 1 },
    userToken: false,
    upstreamAtMost: { gettoken: 1 },
    refresh: 'not_authenticated',
    revocation: false,
    badCode: '40029',
    unverified: ['errcodes 40013/40001/42001'],
  },
  {
    id: 'discord',
    authorize: {
      path: '/discord.com/oauth2/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.discord.client_id], ['redirect_uri', redirectUri], ['scope', 'identify email'], ['state', STATE], ...pkce()],
    },
    user: { subject: U.discord.id, name: 'Nelly', email: U.discord.email, email_verified: true, avatar_url: `https://cdn.discordapp.com/avatars/${U.discord.id}/${U.discord.avatar}.png` },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    rotates: true,
    revocation: true,
    badCode: 'invalid_grant',
    unverified: [],
  },
  {
    id: 'plain',
    quirkPreset: 'plain',
    config: null, // set in before(): explicit endpoints, no preset
    authorize: {
      path: '/plain.example/authorize',
      params: () => [['response_type', 'code'], ['client_id', C.plain.client_id], ['redirect_uri', redirectUri], ['state', STATE], ...pkce()],
    },
    user: { subject: U.plain.sub, name: 'Plain User', email: U.plain.email, email_verified: false, avatar_url: null },
    upstream: { token: 1, userinfo: 1 },
    refresh: true,
    rotates: true,
    revocation: true,
    badCode: 'invalid_grant',
    unverified: [],
  },
];

function providerConfig(row) {
  if (row.id === 'plain') {
    const base = `${quirk.origin}/plain.example`;
    return {
      name: 'Plain OAuth 2.0',
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      userinfo_endpoint: `${base}/userinfo`,
      revocation_endpoint: `${base}/revoke`,
      client_id: C.plain.client_id,
      client_secret: C.plain.client_secret,
    };
  }
  return {
    preset: row.preset ?? row.id,
    client_id: C[row.id].client_id,
    client_secret: C[row.id].client_secret,
    dev_origin: quirk.origin,
    ...(row.config ?? {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The quirk server on its own: it must refuse what the documentation says the platform refuses,
// or the journeys below would prove nothing.

describe('quirk server (self-check, no backend)', () => {
  let q;
  const cb = 'http://127.0.0.1:9/callback';
  before(async () => {
    q = await startQuirkProvider({ redirectUris: [cb] });
  });
  after(async () => q?.close());

  const authz = async (href) => (await fetch(`${q.origin}/__quirk/authorize`, { method: 'POST', body: href })).json();
  const alnum = () => randomBytes(24).toString('hex');

  test('WeChat: the documented URL is accepted; wrong order, a missing #wechat_redirect or a non-alphanumeric state are refused (PROVIDERS.md § WeChat MP)', async () => {
    const state = alnum();
    const base = `${q.origin}/open.weixin.qq.com/connect/oauth2/authorize`;
    const ok = `${base}?appid=${C.wechat_mp.client_id}&redirect_uri=${encodeURIComponent(cb)}&response_type=code&scope=snsapi_userinfo&state=${state}#wechat_redirect`;
    const r = await authz(ok);
    assert.ok(r.redirect, JSON.stringify(r));
    const back = new URL(r.redirect);
    assert.equal(back.searchParams.get('state'), state);
    assert.match(back.searchParams.get('code'), /^[A-Za-z0-9]+$/);
    const swapped = `${base}?redirect_uri=${encodeURIComponent(cb)}&appid=${C.wechat_mp.client_id}&response_type=code&scope=snsapi_userinfo&state=${state}#wechat_redirect`;
    assert.match((await authz(swapped)).problems.join(), /parameter order/);
    assert.match((await authz(ok.replace('#wechat_redirect', ''))).problems.join(), /fragment/);
    assert.match((await authz(ok.replace(state, `${state}-_`))).problems.join(), /A-Za-z0-9/);

    // Token: GET with appid+secret in the query → JSON served text/plain; the code is single use
    // (40163), an unknown code is 40029, both on HTTP 200.
    const tok = (code) => fetch(`${q.origin}/api.weixin.qq.com/sns/oauth2/access_token?appid=${C.wechat_mp.client_id}&secret=${C.wechat_mp.client_secret}&code=${code}&grant_type=authorization_code`);
    const code = back.searchParams.get('code');
    const t1 = await tok(code);
    assert.equal(t1.status, 200);
    assert.match(t1.headers.get('content-type'), /^text\/plain/);
    const b1 = JSON.parse(await t1.text());
    assert.equal(b1.openid, U.wechat_mp.openid);
    assert.equal(b1.unionid, U.wechat_mp.unionid);
    assert.equal(JSON.parse(await (await tok(code)).text()).errcode, 40163);
    assert.equal(JSON.parse(await (await tok('nope')).text()).errcode, 40029);
  });

  test('PKCE: a verifier that does not match the S256 challenge is recorded as a problem (RFC 7636 §4.6)', async () => {
    const { verifier, challenge } = pkcePair();
    const state = alnum();
    const href = `${q.origin}/discord.com/oauth2/authorize?response_type=code&client_id=${C.discord.client_id}&redirect_uri=${encodeURIComponent(cb)}&scope=identify&state=${state}&code_challenge=${challenge}&code_challenge_method=S256`;
    const r = await authz(href);
    const back = new URL(r.redirect);
    assert.equal(back.searchParams.get('iss'), `${q.origin}/discord.com`, 'Discord sends iss (RFC 9207)');
    const basic = `Basic ${Buffer.from(`${C.discord.client_id}:${C.discord.client_secret}`).toString('base64')}`;
    const res = await fetch(`${q.origin}/discord.com/api/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: back.searchParams.get('code'), redirect_uri: cb, code_verifier: `${verifier.slice(0, -1)}x` }),
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error, 'invalid_grant');
    assert.match(q.problems('discord').join(), /does not match/);
    assert.equal(s256(verifier), challenge);
  });

  test('GitHub plain PKCE, Gitee without User-Agent, Feishu Basic + secret, DingTalk snake_case, QQ default formats are refused or answered as documented', async () => {
    // GitHub: S256 only (PROVIDERS.md § GitHub).
    const gh = await authz(`${q.origin}/github.com/login/oauth/authorize?client_id=${C.github.client_id}&redirect_uri=${encodeURIComponent(cb)}&state=${alnum()}&code_challenge=abc&code_challenge_method=plain`);
    assert.match(gh.problems.join(), /S256 only/);
    // GitHub: an unknown code → `error` in a 200, form-encoded without Accept: application/json.
    const ghTok = await fetch(`${q.origin}/github.com/login/oauth/access_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: C.github.client_id, client_secret: C.github.client_secret, code: 'nope' }),
    });
    assert.equal(ghTok.status, 200);
    assert.equal(new URLSearchParams(await ghTok.text()).get('error'), 'bad_verification_code');
    // Gitee: 403 without User-Agent (fetch sends none when told so? Node's fetch sends
    // `node`; use http.request-like raw call instead).
    const { request } = await import('node:http');
    const status = await new Promise((res, rej) => {
      const r = request(`${q.origin}/gitee.com/oauth/token?grant_type=authorization_code&code=x`, { method: 'POST' }, (m) => {
        m.resume();
        res(m.statusCode);
      });
      r.on('error', rej);
      r.end();
    });
    assert.equal(status, 403);
    // Feishu: Basic + secret in the body → 20070.
    const fs = await fetch(`${q.origin}/accounts.feishu.cn/oauth/v3/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: 'Basic eDp5' },
      body: JSON.stringify({ grant_type: 'authorization_code', client_id: C.feishu.client_id, client_secret: C.feishu.client_secret, code: 'x', redirect_uri: cb }),
    });
    assert.equal(fs.status, 400);
    assert.equal((await fs.json()).code, 20070);
    // DingTalk: snake_case parameters are a problem (camelCase documented).
    await fetch(`${q.origin}/api.dingtalk.com/v1.0/oauth2/userAccessToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'x', client_secret: 'y', code: 'z', grant_type: 'authorization_code' }),
    });
    assert.match(q.problems('dingtalk').join(), /snake_case client_id/);
    // QQ without fmt=json: errors as JSONP on 200; /me as JSONP text/html.
    const qq = await fetch(`${q.origin}/graph.qq.com/oauth2.0/token?grant_type=authorization_code&client_id=${C.qq.client_id}&client_secret=${C.qq.client_secret}&code=nope&redirect_uri=${encodeURIComponent(cb)}`);
    assert.equal(qq.status, 200);
    assert.match(await qq.text(), /^callback\( \{"error":100019,/);
    const me = await fetch(`${q.origin}/graph.qq.com/oauth2.0/me?access_token=nope`);
    assert.match(me.headers.get('content-type'), /^text\/html/);
    assert.match(await me.text(), /^callback\( \{"error":/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('every provider through the example SPA and authsplit-server', () => {
  before(async () => {
    if (!existsSync(join(DIST, 'index.html'))) throw new Error(`${DIST} missing: run scripts/build-web.sh first`);
    [quirk, op, browser] = await Promise.all([startQuirkProvider(), startOP(), launchBrowser()]);
    // The redirect URIs name the server's own port.
    ({ app, srv } = await startOnFreePort((app) => {
      redirectUri = `${app}/callback`;
      quirk.setRedirectUris([redirectUri]);
      op.setRedirectUris([redirectUri], { postLogout: [`${app}/`] });
      const providers = Object.fromEntries(PROVIDERS.map((row) => [row.id, providerConfig(row)]));
      providers.local = { ...opProvider(op, 'basic', redirectUri), name: 'Local OIDC provider' };
      // The same Microsoft app, restricted to a tenant the quirk user is not in (allowed_tenants).
      providers.microsoft_restricted = { ...providerConfig(PROVIDERS.find((r) => r.id === 'microsoft')), allowed_tenants: [OTHER_TENANT] };
      return { config: { server: { static_dir: DIST, redirect_uri: redirectUri, demo_api: true }, providers } };
    }));
  });

  after(async () => {
    await browser?.close();
    await srv?.close();
    await op?.close();
    await quirk?.close();
  });

  test('/config lists all 17 presets (+ second Google and QQ clients, a self-hosted GitLab), the plain OAuth 2.0 provider and the OIDC provider; the SPA shows a button for each', async () => {
    assert.equal(QUIRK_PRESETS.length, 17);
    const r = await fetch(`${app}/auth/config`);
    assert.equal(r.status, 200);
    const listed = (await r.json()).providers;
    const ids = listed.map((p) => p.id).sort();
    assert.deepEqual(ids, [...PROVIDERS.map((p) => p.id), 'local', 'microsoft_restricted'].sort());
    // Each entry names the preset it runs on; generic providers have none.
    for (const row of PROVIDERS) {
      const want = row.id === 'plain' ? undefined : row.preset ?? row.id;
      assert.equal(listed.find((p) => p.id === row.id).preset, want, `preset of ${row.id}`);
    }
    assert.equal(listed.find((p) => p.id === 'local').preset, undefined, 'the OIDC provider by issuer has no preset');
    for (const name of QUIRK_PRESETS) assert.ok(ids.includes(name), `preset ${name} configured`);
    const { context, page } = await newPage();
    try {
      await page.goto(`${app}/`);
      await ready(page);
      const buttons = await page.locator('[data-testid^="sign-in-"]').evaluateAll((els) => els.map((e) => e.dataset.provider));
      assert.deepEqual(buttons.sort(), ids);
    } finally {
      await context.close();
    }
  });

  // The journeys touch disjoint state (each its own preset's counters, client and browser
  // context), so they run a few at a time; the final wire-format check runs after all of them.
  describe('providers', { concurrency: JOURNEY_CONCURRENCY }, () => {
    for (const row of PROVIDERS) {
      const name = `${row.id}: sign-in in Chromium, refresh ${row.refresh === true ? 'works' : row.refresh === 'stored' ? 'answers the held token' : 'refused'}, logout ${row.revocation ? 'revokes' : 'reports revoked:false'}, bad code → ${row.badCode}`;
      test(name, async () => {
        // The API part first and the authorization-URL comparison last, so that one failing
        // assertion does not hide the outcome of the others.
        await badCode(row);
        const { checkUrl, code } = await journey(row);
        await usedCode(row, code);
        checkUrl();
      });
    }

    test('OIDC by issuer (real oidc-provider): sign-in in Chromium, refresh, logout revokes, bad code', async () => {
      const { context, page } = await newPage();
      try {
        const before = op.snapshot();
        const { user, reply } = await signIn(page, 'local', async () => {
          await page.waitForURL((u) => u.origin === op.issuer, { waitUntil: 'commit', timeout: 15000 });
          await loginAndConsent(page, { login: 'alice' });
        });
        assert.equal(user.id, 'local:alice');
        assert.equal(user.subject, 'alice');
        assert.equal(user.name, 'Test User alice');
        assert.equal(user.email, 'alice@example.test');
        assert.ok(reply.access_token);
        assert.equal(op.counters.tokenAuthorizationCode - before.tokenAuthorizationCode, 1);
        const rf = await refreshInPage(page);
        assert.equal(rf.status, 200, JSON.stringify(rf.json));
        assert.equal(op.counters.tokenRefresh - before.tokenRefresh, 1);
        const out = await signOut(page);
        assert.equal(out.revoked, true);
        assert.equal(op.counters.revocation - before.revocation, 1);
      } finally {
        await context.close();
      }
      const tokenBefore = op.counters.tokenAuthorizationCode;
      const r = await exchangeMadeUpCode('local');
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error, 'invalid_grant');
      assert.equal(r.json.class, 'reauthenticate');
      assert.equal(op.counters.tokenAuthorizationCode - tokenBefore, 1);
    });
  });

  // After the concurrent journeys: it switches the quirk GitHub to non-expiring tokens for a while.
  test('reload: a signed-out load logs no console error and no failed request; after sign-in a reload shows the user — OIDC provider (refresh token) and GitHub without expiring tokens (no refresh token: the session\'s access token)', async () => {
    const watch = (page) => {
      const problems = [];
      const sessions = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()} (${m.location()?.url})`));
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
      page.on('response', (r) => {
        if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
        if (r.url() === `${app}/auth/session`) sessions.push(r);
      });
      // Signed in, the test browser blocks what the provider's pages and the user's avatar load
      // from outside hosts; what the SPA and the backend do must still never fail.
      const ours = () => problems.filter((p) => p.startsWith('pageerror') || p.includes(app));
      return { problems, sessions, ours };
    };
    const reloadShows = async (page, sessions, name) => {
      const n = sessions.length;
      await page.reload();
      await ready(page);
      assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'signed-in');
      assert.equal((await page.locator('[data-testid="user-name"]').textContent()).trim(), name);
      assert.equal(sessions.length, n + 1, 'one GET /auth/session per load');
      const body = await sessions.at(-1).json();
      assert.equal(body.authenticated, true);
      assert.equal(body.user.name, name);
    };

    // Signed out: GET /session answers 200, the page shows "signed out", nothing failed.
    {
      const { context, page } = await newPage();
      try {
        const { problems, sessions } = watch(page);
        await page.goto(`${app}/`);
        await ready(page);
        assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'signed-out');
        assert.equal(sessions.length, 1, 'the page asked GET /auth/session');
        assert.deepEqual(await sessions[0].json(), { authenticated: false, user: null, expiresAt: null });
        assert.deepEqual(problems, [], 'no console error, page error or failed request');
      } finally {
        await context.close();
      }
    }

    // The OIDC provider: the reload restores the user (GET /session) and a token (one refresh).
    {
      const { context, page } = await newPage();
      try {
        const { ours, sessions } = watch(page);
        await signIn(page, 'local', async () => {
          await page.waitForURL((u) => u.origin === op.issuer, { waitUntil: 'commit', timeout: 15000 });
          await loginAndConsent(page, { login: 'rosa' });
        });
        const refreshes = op.counters.tokenRefresh;
        await reloadShows(page, sessions, 'Test User rosa');
        assert.equal(op.counters.tokenRefresh - refreshes, 1, 'the reload got a fresh access token');
        assert.deepEqual(ours(), []);
      } finally {
        await context.close();
      }
    }

    // GitHub without expiring tokens: no refresh token, so the reload gets the access token the
    // session holds (POST /refresh answers it, nothing upstream) and the protected API works.
    quirk.setGithubExpiringTokens(false);
    try {
      const { context, page } = await newPage();
      try {
        const { ours, sessions } = watch(page);
        const { reply } = await signIn(page, 'github');
        assert.equal(reply.expires_at ?? null, null, 'a token that does not expire');
        const before = upstreamCounts('github');
        const refreshed = page.waitForResponse((r) => r.url() === `${app}/auth/refresh`, { timeout: 15000 });
        await reloadShows(page, sessions, 'The Octocat');
        const rf = await refreshed;
        assert.equal(rf.status(), 200);
        assert.equal((await rf.json()).access_token, reply.access_token, "the session's access token");
        assert.deepEqual(delta(before, upstreamCounts('github')), {}, 'nothing sent to GitHub');
        const api = page.waitForResponse((r) => r.url().startsWith(`${app}/api/hello`), { timeout: 15000 });
        await page.click('[data-testid="call-api"]');
        assert.equal((await api).status(), 200, 'the protected API accepts the restored token');
        assert.deepEqual(ours(), []);
      } finally {
        await context.close();
      }
    } finally {
      quirk.setGithubExpiringTokens(true);
    }
  });

  // After the concurrent journeys: it uses the `microsoft` quirk client's counters too.
  test('Microsoft with allowed_tenants: a user of another tenant is refused after the exchange (access_denied), no session', async () => {
    assert.notEqual(U.microsoft.tid, OTHER_TENANT);
    const { context, page } = await newPage();
    try {
      await page.goto(`${app}/`);
      await ready(page);
      const before = upstreamCounts('microsoft');
      const token = page.waitForResponse((r) => r.url() === `${app}/auth/token`, { timeout: 20000 });
      await page.click('[data-testid="sign-in-microsoft_restricted"]');
      const res = await token;
      const body = await res.json();
      assert.equal(res.status(), 400, JSON.stringify(body));
      assert.equal(body.error, 'access_denied');
      assert.match(body.error_description, /allowed_tenants/);
      await page.waitForSelector('[data-testid="error"]:not([hidden])');
      assert.equal((await page.locator('[data-testid="error-code"]').textContent()).trim(), 'access_denied');
      // The SPA then tries to restore a session, finds none and shows "signed out".
      await page.waitForSelector('[data-testid="status"][data-state="signed-out"]', { timeout: 10000 });
      const d = delta(before, upstreamCounts('microsoft'));
      assert.deepEqual(d, { token: 1 }, 'one exchange; no userinfo for a refused user');
      const rf = await refreshInPage(page);
      assert.equal(rf.json.error, 'not_authenticated', 'no session was created');
    } finally {
      await context.close();
    }
  });

  test('no deviation from any documented wire format was recorded during the whole suite', () => {
    assert.deepEqual(quirk.problems(), []);
    // Observations that are not errors at the platform but should not happen either (WeChat's
    // refresh takes no secret; a verifier without a challenge; a bearer token DingTalk ignores).
    assert.deepEqual(quirk.calls.flatMap((c) => c.notes.map((n) => `${c.preset} ${c.endpoint}: ${n}`)), []);
  });
});

// ---------------------------------------------------------------------------------------------
// helpers

/**
 * Browser contexts of journeys that passed, signed out and reusable: a new journey takes one
 * (its HTTP and wasm code caches are warm), a failed journey's context is closed instead.
 */
const idle = [];

async function newPage() {
  const context = await newLoopbackContext(browser);
  const page = await context.newPage();
  return { context, page };
}

async function ready(page) {
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
}

/**
 * Opens the SPA, clicks "Sign in with <provider>", lets `atProvider` act on the provider's pages
 * (the quirk pages need nothing), and waits for the SPA to show the user.
 * @returns {{ user: object, reply: object, callbackUrl: string }}
 */
async function signIn(page, id, atProvider) {
  // A reused page that a passing journey left signed out on the SPA is ready as it is.
  const fresh = page.url() === `${app}/` && (await page.getAttribute('[data-testid="status"]', 'data-state')) === 'signed-out';
  if (!fresh) {
    await page.goto(`${app}/`);
    await ready(page);
  }
  let callbackUrl = null;
  const onNav = (f) => {
    if (f === page.mainFrame() && f.url().startsWith(`${redirectUri}?`)) callbackUrl ??= f.url();
  };
  page.on('framenavigated', onNav);
  const tokenResponse = page.waitForResponse((r) => r.url() === `${app}/auth/token` && r.request().method() === 'POST', { timeout: 20000 });
  await page.click(`[data-testid="sign-in-${id}"]`);
  if (atProvider) await atProvider();
  // A quirk authorization page that refused the URL (title `quirk-refused`) ends the wait early.
  const refused = page
    .waitForFunction(() => document.title === 'quirk-refused', null, { timeout: 20000, polling: 100 })
    .then(async () => `the provider refused the authorization URL: ${await page.locator('#msg').textContent()}`, () => null);
  let res;
  try {
    res = await Promise.race([tokenResponse, refused.then((why) => (why ? Promise.reject(new Error(why)) : new Promise(() => {})))]);
  } catch (e) {
    throw new Error(`no /auth/token call for ${id} (page at ${page.url()}): ${e.message}`, { cause: e });
  }
  const reply = await res.json();
  assert.equal(res.status(), 200, `POST /auth/token for ${id}: ${JSON.stringify(reply)}`);
  await page.waitForSelector('[data-testid="status"][data-state="signed-in"], [data-testid="error"]:not([hidden])', { timeout: 15000 });
  if ((await page.getAttribute('[data-testid="status"]', 'data-state')) !== 'signed-in') {
    const shown = await page.locator('[data-testid="error"]').textContent();
    assert.fail(`the SPA did not sign in with ${id}: ${shown.replace(/\s+/g, ' ').trim()}`);
  }
  page.off('framenavigated', onNav);
  return { user: reply.user, reply, callbackUrl };
}

/** POST /auth/refresh from the page, with the browser's session cookie. */
async function refreshInPage(page) {
  return page.evaluate(async () => {
    const r = await fetch('/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json', 'x-authsplit': '1' }, body: '{}' });
    return { status: r.status, json: await r.json() };
  });
}

/** Click "Sign out" in the SPA; returns the /auth/logout reply. */
async function signOut(page) {
  const res = await signOutOnSpa(page);
  assert.equal(res.status(), 200);
  await page.waitForSelector('[data-testid="status"][data-state="signed-out"]');
  return res.json();
}

/** The tokens in a recorded token-endpoint answer (JSON, or GitHub/QQ form-encoded). */
function tokensOf(call) {
  let v;
  try {
    v = JSON.parse(call.response);
  } catch {
    v = Object.fromEntries(new URLSearchParams(call.response));
  }
  return { access_token: v.access_token ?? v.accessToken, refresh_token: v.refresh_token ?? v.refreshToken };
}

/** The refresh token a recorded refresh call presented. */
function refreshParam(call) {
  return call.params.refresh_token ?? call.params.refreshToken;
}

/**
 * Back-channel calls of one quirk preset, by endpoint (token calls split by grant). Not counted:
 * the browser's authorization page loads, and key/metadata fetches (JWKS, discovery — cached by
 * the backend, and shared by clients of one platform, e.g. both Google clients).
 */
function upstreamCounts(preset) {
  const out = {};
  for (const c of quirk.callsFor(preset)) {
    if (['authorize', 'jwks', 'discovery'].includes(c.endpoint)) continue;
    const key = c.endpoint === 'token' && c.grant === 'refresh_token' ? 'refresh' : c.endpoint;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

function delta(before, after) {
  const out = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[k] ?? 0) - (before[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

/** Compares the recorded authorization URL with the row's expectation. */
function checkAuthorization(row, entry) {
  const exp = row.authorize;
  const u = new URL(entry.url);
  assert.equal(`${u.origin}${u.pathname}`, `${quirk.origin}${exp.path}`, 'authorization endpoint');
  assert.equal(entry.fragment, exp.fragment ?? null, 'fragment');
  const state = new URLSearchParams(u.search).get('state');
  const actual = entry.params.map(([k, v]) => {
    if (k === 'state') return [k, STATE];
    if (k === 'code_challenge') {
      assert.match(v, /^[A-Za-z0-9_-]{43}$/, 'S256 challenge (RFC 7636 §4.2)');
      return [k, CHALLENGE];
    }
    if (k === 'nonce') {
      assert.ok(v.length >= 22, 'nonce ≥ 128 bits');
      return [k, NONCE];
    }
    return [k, v];
  });
  const expected = exp.params();
  const show = (l) => l.map(([k, v]) => `${k}=${typeof v === 'symbol' ? v.description : v}`).join('&');
  if (exp.ordered) {
    assert.equal(show(actual), show(expected), 'parameters in the documented order');
    // The exact URL, byte for byte (form-urlencoded values).
    const q = new URLSearchParams(expected.map(([k, v]) => [k, v === STATE ? state : v])).toString();
    assert.equal(entry.url, `${quirk.origin}${exp.path}?${q}${exp.fragment ? `#${exp.fragment}` : ''}`);
  } else {
    const sort = (l) => [...l].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    assert.equal(show(sort(actual)), show(sort(expected)), 'parameters');
  }
  if (row.id.startsWith('wechat') || row.id === 'wecom') {
    assert.match(state, /^[A-Za-z0-9]{1,128}$/, 'WeChat/WeCom state is alphanumeric (PROVIDERS.md § WeChat MP)');
  }
  assert.ok(state.length >= 22, 'state ≥ 128 bits');
  return state;
}

async function journey(row) {
  const preset = row.quirkPreset ?? row.id;
  const lane = idle.pop() ?? (await newPage());
  const { page } = lane;
  let reusable = false;
  try {
    const before = upstreamCounts(preset);
    const nAuth = quirk.authorizations.length;
    const { user, reply, callbackUrl } = await signIn(page, row.id);

    // 1. The authorization URL the browser opened (with fragment).
    const entries = quirk.authorizations.slice(nAuth).filter((e) => e.preset === preset);
    assert.equal(entries.length, 1, 'one authorization request');
    const [entry] = entries;
    assert.equal(entry.preset, preset);
    assert.deepEqual(entry.problems, []);
    const state = new URL(entry.url).searchParams.get('state');
    // The provider sent the browser back with the code (DingTalk: authCode) and the same state.
    const cb = new URL(callbackUrl);
    assert.equal(cb.searchParams.get('state'), state);
    assert.ok(cb.searchParams.get(row.id === 'dingtalk' ? 'authCode' : 'code'));
    assert.equal(page.url(), `${app}/`, 'code and state left the address bar');

    // 2. The normalized user.
    const exp = row.user;
    assert.equal(user.id, `${row.id}:${exp.subject}`);
    assert.equal(user.provider, row.id);
    assert.equal(user.subject, exp.subject);
    assert.ok(!user.id.includes('@'), 'the user id is never an email');
    assert.equal(user.name ?? null, exp.name);
    assert.equal(user.email ?? null, exp.email);
    assert.equal(user.email_verified ?? null, exp.email_verified);
    assert.equal(user.avatar_url ?? null, exp.avatar_url);
    for (const k of row.omittedFromRaw ?? []) assert.ok(!(k in (user.raw ?? {})), `raw.${k} removed`);
    assert.equal((await page.locator('[data-testid="user-name"]').textContent()).trim(), exp.name ?? exp.subject);
    if (row.userToken === false) {
      // WeCom: no user token exists (PROVIDERS.md § WeCom) — the backend says so explicitly.
      assert.equal(reply.access_token, '');
      assert.equal(reply.token_type, 'none');
    } else {
      assert.ok(reply.access_token, 'an access token for the SPA');
    }

    // 3. Upstream calls: exactly one token request per exchange, and the documented follow-ups.
    const d = delta(before, upstreamCounts(preset));
    const atMost = row.upstreamAtMost ?? {};
    for (const [k, max] of Object.entries(atMost)) {
      assert.ok((d[k] ?? 0) <= max, `${k}: at most ${max}, saw ${d[k]}`);
      delete d[k];
    }
    const want = Object.fromEntries(Object.entries(row.upstream).filter(([, v]) => v));
    assert.deepEqual(d, want, 'upstream calls of one sign-in');

    // 4. Refresh with the browser's session cookie.
    const b2 = upstreamCounts(preset);
    const rf = await refreshInPage(page);
    const d2 = delta(b2, upstreamCounts(preset));
    let accessToken = reply.access_token;
    if (row.refresh === true) {
      assert.equal(rf.status, 200, `refresh: ${JSON.stringify(rf.json)}`);
      assert.ok(rf.json.access_token && rf.json.access_token !== reply.access_token, 'a new access token');
      assert.deepEqual(d2, { refresh: 1 }, 'exactly one upstream refresh');
      accessToken = rf.json.access_token;
      if (row.rotates) {
        // Rotation (RFC 6749 §6, PROVIDERS.md): the old refresh token is dead; the backend keeps
        // the new one in the session cookie, so a second refresh presents exactly that one.
        const [first] = quirk.callsFor(preset, 'token', 'refresh_token').slice(-1);
        const rotated = tokensOf(first).refresh_token;
        assert.ok(rotated && rotated !== refreshParam(first), 'a rotated refresh token');
        assert.equal(quirk.refreshTokenIsActive(refreshParam(first)), false, 'the old refresh token is consumed');
        const rf2 = await refreshInPage(page);
        assert.equal(rf2.status, 200, `second refresh: ${JSON.stringify(rf2.json)}`);
        const [second] = quirk.callsFor(preset, 'token', 'refresh_token').slice(-1);
        assert.notEqual(second, first, 'a second upstream refresh');
        assert.equal(refreshParam(second), rotated, 'the second refresh presents the rotated token');
        accessToken = rf2.json.access_token;
      }
    } else if (row.refresh === 'stored') {
      assert.equal(rf.status, 200, `refresh: ${JSON.stringify(rf.json)}`);
      assert.equal(rf.json.access_token, reply.access_token, 'the access token the session holds');
      assert.deepEqual(d2, {}, 'nothing sent upstream');
    } else {
      assert.equal(rf.json.error, row.refresh, `refresh refused: ${JSON.stringify(rf.json)}`);
      assert.equal(rf.status, 401);
      assert.match(rf.json.error_description, /refresh/i, 'the refusal says why');
      assert.deepEqual(d2, {}, 'nothing sent upstream');
    }

    // 5. Sign out in the SPA.
    const b3 = upstreamCounts(preset);
    const nRev = quirk.revocations.length;
    const out = await signOut(page);
    const d3 = delta(b3, upstreamCounts(preset));
    if (row.revocation) {
      const liveRefresh = quirk.latestRefreshToken(preset);
      assert.equal(out.revoked, true, JSON.stringify(out));
      assert.deepEqual(d3, { revoke: 1 });
      const revoked = quirk.revocations.slice(nRev).filter((r) => r.preset === preset);
      assert.equal(revoked.length, 1, 'the quirk server revoked a token');
      if (row.revocation === 'access') {
        // GitHub / Weibo revoke access tokens only: the one the SPA holds now.
        assert.deepEqual([revoked[0].kind, revoked[0].token], ['access', accessToken]);
      } else {
        // RFC 7009: the session's (latest, rotated) refresh token.
        assert.deepEqual([revoked[0].kind, revoked[0].token], ['refresh', liveRefresh]);
        assert.equal(quirk.refreshTokenIsActive(liveRefresh), false);
      }
    } else {
      assert.equal(out.revoked, false, JSON.stringify(out));
      assert.deepEqual(d3, {}, 'no revocation call');
    }

    assert.deepEqual(quirk.problems(preset), [], 'no deviation from the documented wire format');
    row.wire?.(quirk.callsFor(preset));
    reusable = true;
    return { checkUrl: () => checkAuthorization(row, entry), code: cb.searchParams.get(row.id === 'dingtalk' ? 'authCode' : 'code') };
  } finally {
    if (reusable) idle.push(lane);
    else await lane.context.close();
  }
}

/** POST /transactions + POST /token with a made-up (or given) code, as a browser would. */
async function exchangeMadeUpCode(id, code = `madeup${randomBytes(12).toString('hex')}`) {
  const client = backendClient(`${app}/auth`, { origin: app });
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(24).toString('hex');
  const t = await client.post('/transactions', { provider: id, state, code_challenge: challenge, code_challenge_method: 'S256', nonce: randomBytes(24).toString('hex') });
  assert.equal(t.status, 201, t.text);
  // RFC 9207: a provider that sends `iss` (Discord, oidc-provider) would send it with any code.
  const iss = t.json.require_iss ? t.json.issuer : undefined;
  return client.post('/token', { provider: id, code, state, code_verifier: verifier, ...(iss ? { iss } : {}) });
}

async function badCode(row) {
  const preset = row.quirkPreset ?? row.id;
  const before = upstreamCounts(preset);
  const r = await exchangeMadeUpCode(row.id);
  const d = delta(before, upstreamCounts(preset));
  delete d.gettoken; // WeCom's corp token is cached
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, 'invalid_grant', r.text);
  assert.equal(r.json.class, 'reauthenticate');
  assert.equal(r.json.provider_error, row.badCode, r.text);
  assert.deepEqual(d, row.id === 'wecom' ? { getuserinfo: 1 } : { token: 1 }, 'exactly one upstream call, never retried');
  assert.deepEqual(quirk.problems(preset), []);
}

/**
 * The sign-in's code presented again in a new transaction (a double submit, a replayed URL): the
 * platform's documented "code already used" error (RFC 6749 §4.1.2: single use) → `invalid_grant`.
 */
async function usedCode(row, code) {
  const preset = row.quirkPreset ?? row.id;
  const before = upstreamCounts(preset);
  const r = await exchangeMadeUpCode(row.id, code);
  const d = delta(before, upstreamCounts(preset));
  delete d.gettoken;
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, 'invalid_grant', r.text);
  assert.equal(r.json.class, 'reauthenticate');
  assert.equal(r.json.provider_error, row.usedCode ?? row.badCode, r.text);
  if (row.usedCodeDescription) assert.match(r.json.provider_error_description ?? '', row.usedCodeDescription, r.text);
  assert.deepEqual(d, row.id === 'wecom' ? { getuserinfo: 1 } : { token: 1 }, 'exactly one upstream call');
}
