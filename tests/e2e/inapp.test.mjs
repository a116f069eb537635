// Sign-in that fits the browser the page runs in (issue 15, item 7), in headless Chromium with
// the user agents of in-app browsers, through the example SPA and authsplit-server against the
// quirk provider server (tests/support/quirk-provider.mjs) playing `wechat_mp`, `wechat_open`
// and `google`:
//   - the SPA's one "Sign in with WeChat" button (`aliases` in `AuthClient`) signs in with
//     `wechat_mp` inside WeChat's in-app browser and with `wechat_open` (QR code) elsewhere;
//   - inside in-app browsers that Google refuses (`disallowed_useragent`), the Google button
//     fails with `embedded_browser_refused` before any request (no POST /auth/transactions, no
//     visit to the provider); in ordinary browsers the same button reaches Google.
//
//   scripts/build-web.sh && cargo build -p authsplit-server
//   node --test tests/e2e/inapp.test.mjs

import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { startServer, randomCookieKey, freePort, REPO_ROOT } from '../support/server.mjs';
import { launchBrowser, newLoopbackContext } from '../support/browser.mjs';
import { startQuirkProvider, QUIRK_CLIENTS as C, QUIRK_USERS as U } from '../support/quirk-provider.mjs';

const DIST = join(REPO_ROOT, 'web', 'example', 'dist');

/** User agents of in-app browsers (embedded WebViews), as the apps send them. */
const IN_APP = Object.freeze({
  'WeChat (iOS)':
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.43(0x18002b2c) NetType/WIFI Language/zh_CN',
  'WeChat (Android)':
    'Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231002 MicroMessenger/8.0.43.2480(0x28002B37) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64',
  'Facebook (iOS)':
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/442.0.0.36.105;FBBV/540000000;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]',
  'Facebook (Android)':
    'Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UD1A.230803.041; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.43 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/442.0.0.36.105;]',
  'Instagram (iOS)':
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 309.1.0.41.113 (iPhone15,2; iOS 17_1; en_US; en; scale=3.00; 1179x2556; 539340720)',
  'LINE (iOS)':
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Safari Line/13.20.0',
  'Android WebView':
    'Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UD1A.230803.041; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.43 Mobile Safari/537.36',
});

/** Ordinary browsers: Google signs in from these. */
const BROWSERS = Object.freeze({
  'Chrome (desktop)': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Safari (iOS)':
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  'Chrome (Android)': 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36',
});

let quirk;
let srv;
let browser;
let app;

before(async () => {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error(`${DIST} missing: run scripts/build-web.sh first`);
  const port = await freePort();
  app = `http://127.0.0.1:${port}`;
  const redirectUri = `${app}/callback`;
  quirk = await startQuirkProvider({ redirectUris: [redirectUri] });
  const preset = (id) => ({ preset: id, client_id: C[id].client_id, client_secret: C[id].client_secret, dev_origin: quirk.origin });
  [srv, browser] = await Promise.all([
    startServer({
      config: {
        server: { listen: `127.0.0.1:${port}`, allowed_origins: [app], cookie_key: randomCookieKey(), static_dir: DIST, redirect_uri: redirectUri },
        providers: { google: preset('google'), wechat_mp: preset('wechat_mp'), wechat_open: preset('wechat_open') },
      },
    }),
    launchBrowser(),
  ]);
});

after(async () => {
  await browser?.close();
  await srv?.close();
  await quirk?.close();
});

/** The SPA, ready, in a fresh context with this user agent; requests to the backend recorded. */
async function openSpa(userAgent) {
  const context = await newLoopbackContext(browser, { userAgent });
  const page = await context.newPage();
  const backend = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin === app && u.pathname.startsWith('/auth/') && r.method() === 'POST') backend.push(u.pathname);
  });
  await page.goto(`${app}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
  assert.equal(await page.evaluate(() => navigator.userAgent), userAgent);
  backend.length = 0; // the SPA's start-up session restore (POST /auth/refresh)
  return { context, page, backend };
}

/** Clicks `selector` and waits for the SPA to be signed in; returns the user of the token reply. */
async function signIn(page, selector) {
  const token = page.waitForResponse((r) => r.url() === `${app}/auth/token` && r.request().method() === 'POST', { timeout: 20000 });
  await page.click(selector);
  const res = await token.catch(async (e) => {
    const shown = (await page.locator('[data-testid="error"]').textContent().catch(() => '')).replace(/\s+/g, ' ').trim();
    throw new Error(`no /auth/token call (page at ${page.url()}; SPA error: ${shown || 'none'}): ${e.message}`, { cause: e });
  });
  const reply = await res.json();
  assert.equal(res.status(), 200, JSON.stringify(reply));
  await page.waitForSelector('[data-testid="status"][data-state="signed-in"]', { timeout: 15000 });
  return reply.user;
}

const authorizationsOf = (preset) => quirk.authorizations.filter((a) => a.preset === preset).length;

describe('one WeChat button: wechat_mp inside WeChat, wechat_open (QR code) elsewhere', () => {
  const cases = [
    ...['WeChat (iOS)', 'WeChat (Android)'].map((name) => [name, IN_APP[name], 'wechat_mp', '/open.weixin.qq.com/connect/oauth2/authorize']),
    ...Object.entries(BROWSERS).map(([name, ua]) => [name, ua, 'wechat_open', '/open.weixin.qq.com/connect/qrconnect']),
  ];
  for (const [name, ua, want, path] of cases) {
    test(`${name} → ${want}`, async () => {
      const { context, page } = await openSpa(ua);
      try {
        const before = { mp: authorizationsOf('wechat_mp'), open: authorizationsOf('wechat_open') };
        const user = await signIn(page, '[data-testid="alias-wechat"]');
        assert.equal(user.provider, want);
        assert.equal(user.subject, U[want].unionid);
        const last = quirk.authorizations.at(-1);
        assert.equal(last.preset, want);
        assert.equal(last.path, path);
        const after = { mp: authorizationsOf('wechat_mp'), open: authorizationsOf('wechat_open') };
        assert.deepEqual(after, want === 'wechat_mp' ? { mp: before.mp + 1, open: before.open } : { mp: before.mp, open: before.open + 1 });
        assert.deepEqual(quirk.problems(want), []);
      } finally {
        await context.close();
      }
    });
  }
});

describe('Google inside in-app browsers: embedded_browser_refused before any request', () => {
  for (const [name, ua] of Object.entries(IN_APP)) {
    test(`${name}: refused early with a typed error naming the system browser`, async () => {
      const { context, page, backend } = await openSpa(ua);
      try {
        const before = { google: authorizationsOf('google'), calls: quirk.calls.length };
        const err = await page.evaluate(async () => {
          const { AuthClient, AuthsplitError } = await import('/authsplit/index.js');
          const c = new AuthClient({ backendUrl: '/auth', provider: 'google' });
          try {
            await c.login();
            return null;
          } catch (e) {
            return { typed: e instanceof AuthsplitError, code: e.code, message: e.message };
          }
        });
        assert.ok(err, 'login() must reject');
        assert.equal(err.typed, true);
        assert.equal(err.code, 'embedded_browser_refused');
        assert.match(err.message, /system browser/);
        assert.match(err.message, /disallowed_useragent/);
        // The example SPA's Google button shows the same error and stays on the page.
        await page.click('[data-testid="sign-in-google"]');
        await page.waitForSelector('[data-testid="error"]:not([hidden])', { timeout: 10000 });
        assert.equal(await page.getAttribute('[data-testid="error"]', 'data-code'), 'embedded_browser_refused');
        assert.equal(new URL(page.url()).origin, app);
        assert.deepEqual(backend, [], 'no request to the backend');
        assert.equal(authorizationsOf('google'), before.google, 'no visit to the provider');
        assert.equal(quirk.calls.length, before.calls, 'nothing reached the provider');
        assert.equal(await page.evaluate(() => Object.keys(sessionStorage).length + Object.keys(localStorage).length), 0, 'no transaction stored');
      } finally {
        await context.close();
      }
    });
  }

  for (const [name, ua] of Object.entries(BROWSERS)) {
    test(`${name}: the same Google button reaches Google and signs in`, async () => {
      const { context, page, backend } = await openSpa(ua);
      try {
        const before = authorizationsOf('google');
        const user = await signIn(page, '[data-testid="sign-in-google"]');
        assert.equal(user.provider, 'google');
        assert.equal(authorizationsOf('google'), before + 1);
        assert.ok(backend.includes('/auth/transactions'));
        assert.deepEqual(quirk.problems('google'), []);
      } finally {
        await context.close();
      }
    });
  }
});
