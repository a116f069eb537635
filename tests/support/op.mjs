// A real OpenID Provider (npm `oidc-provider` 9.x) started in-process on 127.0.0.1 for tests.
//
//   const op = await startOP({ redirectUris: ['http://127.0.0.1:8080/callback'] });
//   op.issuer            // 'http://127.0.0.1:PORT' (exact, no trailing slash)
//   op.counters.token    // token-endpoint requests seen so far
//   op.setRedirectUris([...])   // change every client's redirect_uris after start-up
//   await op.close()
//
// See tests/support/README.md for the full API.

import { createServer } from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

import { Store } from './adapter.mjs';

/** The confidential client that authenticates with HTTP Basic (RFC 6749 §2.3.1). */
export const BASIC_CLIENT = Object.freeze({
  id: 'basic-client',
  // Every character that breaks a naive Basic header: '+', ':', '%', '/', ' ' (RFC 6749 §2.3.1
  // requires form-urlencoding id and secret before base64).
  secret: 'a+b:c%d/e f',
  method: 'client_secret_basic',
});

/** The confidential client that authenticates with client_secret_post (RFC 6749 §2.3.1). */
export const POST_CLIENT = Object.freeze({
  id: 'post-client',
  secret: 'post-secret&with=form;chars',
  method: 'client_secret_post',
});

/** Scopes the provider supports. */
export const SCOPES = Object.freeze(['openid', 'profile', 'email', 'offline_access']);

/** The profile every account gets; `sub` is the login name typed on the login page. */
export function profileFor(sub) {
  return {
    sub,
    name: `Test User ${sub}`,
    email: `${sub}@example.test`,
    email_verified: true,
    picture: `https://avatars.example.test/${encodeURIComponent(sub)}.png`,
  };
}

/**
 * Start oidc-provider on 127.0.0.1.
 *
 * @param {object} [opts]
 * @param {number} [opts.port=0] Port to listen on (0 = any free port).
 * @param {string[]} [opts.redirectUris] Redirect URIs of the default clients (changeable later
 *   with `setRedirectUris`). Defaults to `['http://127.0.0.1/callback']` (a placeholder).
 * @param {string[]} [opts.postLogoutRedirectUris] post_logout_redirect_uris of the default clients.
 * @param {object[]} [opts.clients] Extra client metadata objects (oidc-provider format).
 * @param {number} [opts.accessTokenTTL=3600] AccessToken lifetime in seconds.
 * @param {number} [opts.refreshTokenTTL=86400] RefreshToken lifetime in seconds.
 * @param {number} [opts.authorizationCodeTTL=60] AuthorizationCode lifetime in seconds.
 * @param {boolean} [opts.rotateRefreshToken=true] Rotate refresh tokens on every use.
 * @param {boolean} [opts.quiet=true] Silence oidc-provider's dev-mode warnings.
 * @param {boolean} [opts.backchannelLogout=false] Enable OIDC Back-Channel Logout 1.0 (clients
 *   opt in with `setClientMetadata((id) => ({ backchannel_logout_uri }))`).
 * @returns {Promise<OP>}
 */
export async function startOP(opts = {}) {
  const {
    port = 0,
    redirectUris = ['http://127.0.0.1/callback'],
    postLogoutRedirectUris = [],
    clients: extraClients = [],
    accessTokenTTL = 3600,
    refreshTokenTTL = 86400,
    authorizationCodeTTL = 60,
    rotateRefreshToken = true,
    quiet = true,
    backchannelLogout = false,
  } = opts;

  const store = new Store();
  const server = createServer();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const actualPort = server.address().port;
  const issuer = `http://127.0.0.1:${actualPort}`;

  const clientMetadata = (c) => ({
    client_id: c.id,
    client_secret: c.secret,
    token_endpoint_auth_method: c.method,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [...redirectUris],
    post_logout_redirect_uris: [...postLogoutRedirectUris],
  });
  const clientIds = [BASIC_CLIENT.id, POST_CLIENT.id];
  const putClient = (metadata) => store.set(`Client:${metadata.client_id}`, metadata);
  putClient(clientMetadata(BASIC_CLIENT));
  putClient(clientMetadata(POST_CLIENT));
  for (const m of extraClients) {
    putClient(structuredClone(m));
    clientIds.push(m.client_id);
  }

  const restoreConsole = quiet ? silenceOidcWarnings() : () => {};
  let provider;
  try {
    provider = new Provider(issuer, {
      adapter: store.adapterFactory(),
      clients: [],
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      scopes: [...SCOPES],
      claims: {
        openid: ['sub'],
        profile: ['name', 'picture'],
        email: ['email', 'email_verified'],
      },
      async findAccount(_ctx, sub) {
        return {
          accountId: sub,
          async claims() {
            return profileFor(sub);
          },
        };
      },
      pkce: { required: () => true },
      // oidc-provider refuses outgoing requests (back-channel logout tokens) to special-use
      // addresses, loopback included, as SSRF protection. The backend in these tests listens on
      // 127.0.0.1 only, so requests to it go out without that dispatcher; any other is refused.
      async fetch(url, options) {
        const loopback = new URL(url).hostname === '127.0.0.1';
        if (!loopback) throw new Error(`test OP: outgoing request to ${url} refused`);
        const { dispatcher: _ssrfGuard, ...rest } = options;
        return fetch(url, rest);
      },
      rotateRefreshToken: () => rotateRefreshToken,
      // oidc-provider issues a refresh token only with the refresh_token grant and offline_access
      // (which it keeps only when prompt=consent is requested).
      async issueRefreshToken(_ctx, client, code) {
        return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
      },
      features: {
        devInteractions: { enabled: true },
        revocation: {
          enabled: true,
          // RFC 7009 §2.1: a client may revoke only its own tokens (the default policy's rule,
          // spelled out to silence the "you SHOULD change it" notice).
          async allowedPolicy(_ctx, client, token) {
            if (token.clientId !== client.clientId) {
              throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
            }
            return true;
          },
        },
        userinfo: { enabled: true },
        rpInitiatedLogout: { enabled: true },
        backchannelLogout: { enabled: backchannelLogout },
      },
      ttl: {
        AccessToken: accessTokenTTL,
        AuthorizationCode: authorizationCodeTTL,
        IdToken: 3600,
        RefreshToken: refreshTokenTTL,
        Grant: refreshTokenTTL,
        Interaction: 3600,
        Session: 86400,
      },
    });
  } finally {
    restoreConsole();
  }

  const counters = {
    /** every request that reached the provider */
    total: 0,
    /** POST /token (any grant type, any outcome) */
    token: 0,
    /** token requests with grant_type=authorization_code */
    tokenAuthorizationCode: 0,
    /** token requests with grant_type=refresh_token */
    tokenRefresh: 0,
    /** POST /token/revocation */
    revocation: 0,
    /** GET|POST /me */
    userinfo: 0,
    /** GET /.well-known/openid-configuration */
    discovery: 0,
    /** GET /jwks */
    jwks: 0,
    /** GET /auth (authorization endpoint) */
    authorization: 0,
  };
  /** @type {TokenCall[]} */
  const tokenCalls = [];
  /** @type {{ status: number, token_type_hint?: string, clientAuth: string }[]} */
  const revocationCalls = [];

  provider.use(async (ctx, next) => {
    counters.total += 1;
    const path = ctx.path;
    if (path === '/token') counters.token += 1;
    else if (path === '/token/revocation') counters.revocation += 1;
    else if (path === '/me') counters.userinfo += 1;
    else if (path === '/.well-known/openid-configuration') counters.discovery += 1;
    else if (path === '/jwks') counters.jwks += 1;
    else if (path === '/auth') counters.authorization += 1;
    const authHeader = ctx.get('authorization');
    await next();
    if (path === '/token' || path === '/token/revocation') {
      const params = ctx.oidc?.params ?? {};
      const clientAuth = authHeader
        ? authHeader.split(' ')[0].toLowerCase() === 'basic'
          ? 'client_secret_basic'
          : 'other'
        : params.client_secret
          ? 'client_secret_post'
          : 'none';
      if (path === '/token') {
        const grantType = params.grant_type;
        if (grantType === 'authorization_code') counters.tokenAuthorizationCode += 1;
        if (grantType === 'refresh_token') counters.tokenRefresh += 1;
        const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
        tokenCalls.push({
          at: Date.now(),
          grantType,
          clientId: ctx.oidc?.client?.clientId,
          clientAuth,
          contentType: ctx.get('content-type'),
          accept: ctx.get('accept'),
          status: ctx.status,
          error: body.error,
          accessToken: body.access_token,
          refreshToken: body.refresh_token,
          idToken: body.id_token,
          scope: body.scope,
        });
      } else {
        revocationCalls.push({
          status: ctx.status,
          token_type_hint: params.token_type_hint,
          clientAuth,
        });
      }
    }
  });

  server.on('request', provider.callback());
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  let closed = false;
  const op = {
    issuer,
    port: actualPort,
    provider,
    counters,
    tokenCalls,
    revocationCalls,
    clients: { basic: BASIC_CLIENT, post: POST_CLIENT },
    /** Replace the redirect_uris of every client this OP serves. */
    setRedirectUris(uris, { postLogout } = {}) {
      for (const id of clientIds) {
        const m = store.get(`Client:${id}`);
        if (!m) continue;
        m.redirect_uris = [...uris];
        if (postLogout) m.post_logout_redirect_uris = [...postLogout];
        // a fresh object → new property hash → oidc-provider re-validates the client
        putClient(structuredClone(m));
      }
    },
    /** Merge `patch(clientId)` into the metadata of every client this OP serves (e.g. a
     * `backchannel_logout_uri` known only once the backend listens). */
    setClientMetadata(patch) {
      for (const id of clientIds) {
        const m = store.get(`Client:${id}`);
        if (m) putClient(structuredClone({ ...m, ...patch(id) }));
      }
    },
    /** Reset every counter to zero and clear the call logs. */
    resetCounters() {
      for (const k of Object.keys(counters)) counters[k] = 0;
      tokenCalls.length = 0;
      revocationCalls.length = 0;
    },
    /** A snapshot of the counters (for before/after comparisons). */
    snapshot() {
      return { ...counters };
    },
    /** Whether the provider still holds a usable (unexpired, unconsumed) refresh token. */
    async refreshTokenIsActive(value) {
      const token = await provider.RefreshToken.find(value);
      return Boolean(token && !token.isExpired && !token.consumed);
    },
    /** Whether the provider still holds a usable access token. */
    async accessTokenIsActive(value) {
      const token = await provider.AccessToken.find(value);
      return Boolean(token && !token.isExpired);
    },
    /** Every refresh token value the provider has issued so far (from token responses). */
    issuedRefreshTokens() {
      return tokenCalls.map((c) => c.refreshToken).filter(Boolean);
    },
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections?.();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return op;
}

/**
 * oidc-provider prints "attention" warnings for dev-only features on construction. They are
 * expected here; keep test output readable.
 */
function silenceOidcWarnings() {
  const orig = console.warn;
  const origInfo = console.info;
  const filter = (fn) =>
    function (...args) {
      const first = String(args[0] ?? '');
      if (first.includes('oidc-provider') || first.includes('NOTICE') || first.includes('WARNING')) {
        return;
      }
      fn.apply(console, args);
    };
  console.warn = filter(orig);
  console.info = filter(origInfo);
  return () => {
    console.warn = orig;
    console.info = origInfo;
  };
}

/**
 * @typedef {object} TokenCall
 * @property {number} at
 * @property {string} [grantType]
 * @property {string} [clientId]
 * @property {'client_secret_basic'|'client_secret_post'|'none'|'other'} clientAuth
 * @property {string} contentType
 * @property {string} accept
 * @property {number} status
 * @property {string} [error]
 * @property {string} [accessToken]
 * @property {string} [refreshToken]
 * @property {string} [idToken]
 * @property {string} [scope]
 *
 * @typedef {Awaited<ReturnType<typeof startOP>>} OP
 */
