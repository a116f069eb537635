// The issue-14 journeys through the example SPA (web/example) in headless Chromium, in both
// modes (docs/ARCHITECTURE.md "Two modes"), against the real authsplit-server binary and the real
// oidc-provider with OIDC Back-Channel Logout 1.0 enabled. Everything is done from the page:
// sign-in, the host app's `GET /api/me` (the `AuthUser` extractor), in BFF mode a provider API
// call through `/auth/proxy/local/me` (oidc-provider's userinfo, allow-listed in
// `[providers.local.api]`) with no provider token in the page; a logout in one tab signs the
// page's other tabs out at once (BroadcastChannel) and a sign-in there signs them in; a sign-out
// at the provider (back-channel logout) makes the next call fail `session_ended` and every tab
// show signed out; RP-initiated logout returns to the app with its `state` checked (OIDC
// RP-Initiated Logout 1.0 §3), a tampered, replayed or missing one refused.
//
//   scripts/build-web.sh && cargo build -p authsplit-server
//   node --test tests/e2e/spa-journeys.test.mjs

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';

import { startOP, BASIC_CLIENT, POST_CLIENT } from '../support/op.mjs';
import { startExampleApp } from '../support/server.mjs';
import { launchBrowser, newLoopbackContext, signInOnSpa } from '../support/browser.mjs';

let op;
let browser;
/** The example SPA + backend per mode; the token-mediating one on BASIC_CLIENT, BFF on POST_CLIENT. */
const apps = {};
/** Logout tokens the provider delivered, per client id, as the backends answered them. */
const delivered = [];

before(async () => {
  op = await startOP({ backchannelLogout: true });
  op.provider.on('backchannel.success', (_ctx, client) => delivered.push({ client: client.clientId, ok: true }));
  op.provider.on('backchannel.error', (_ctx, err, client) =>
    delivered.push({ client: client.clientId, ok: false, error: String(err?.message ?? err) }),
  );
  apps.token = { client: BASIC_CLIENT, ...(await startExampleApp({ op, which: 'basic' })) };
  apps.bff = {
    client: POST_CLIENT,
    ...(await startExampleApp({
      op,
      which: 'post',
      server: { mode: 'bff' },
      // The provider API the page may call through the backend: oidc-provider's userinfo.
      provider: { api: { base: op.issuer, methods: ['GET'], paths: ['/me'] } },
    })),
  };
  const all = Object.values(apps);
  op.setRedirectUris(
    all.map((a) => a.callback),
    { postLogout: all.map((a) => a.signedOut) },
  );
  op.setClientMetadata((id) => ({
    backchannel_logout_uri: `${all.find((a) => a.client.id === id).srv.authUrl}/backchannel-logout/local`,
    backchannel_logout_session_required: true,
  }));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const a of Object.values(apps)) await a.srv?.close();
  await op?.close();
});

/** A page of `context` that records its requests to the backend and the demo API. */
async function tab(context, app) {
  const page = await context.newPage();
  const calls = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin === app && (u.pathname.startsWith('/auth/') || u.pathname.startsWith('/api/'))) {
      calls.push(`${r.method()} ${u.pathname}`);
    }
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return { page, calls, errors };
}

const status = (page) => page.getAttribute('[data-testid="status"]', 'data-state');
const text = async (page, id) => (await page.locator(`[data-testid="${id}"]`).textContent())?.trim();
const waitStatus = (page, state, timeout = 10000) =>
  page.waitForSelector(`[data-testid="status"][data-state="${state}"]`, { timeout });

/** The example's API box: `path` through client.fetch; `{ status, body }` as the page shows them. */
async function callApi(page, path) {
  await page.fill('[data-testid="api-path"]', path);
  await page.evaluate(() => delete document.querySelector('[data-testid="api-result"]').dataset.status);
  await page.click('[data-testid="call-api"]');
  await page.waitForSelector('[data-testid="api-result"][data-status]');
  const shown = await page.getAttribute('[data-testid="api-result"]', 'data-status');
  const all = await text(page, 'api-result');
  return { status: shown, body: all.slice(all.indexOf('\n') + 1) };
}

async function shownError(page) {
  await page.waitForSelector('[data-testid="error"]:not([hidden])', { timeout: 10000 });
  return text(page, 'error-code');
}

/** Signs out at the provider in `page` (its context holds the provider's session cookie) and
 * waits for the provider's logout token to reach the backend of `client`. */
async function signOutAtProvider(page, client) {
  const before = delivered.length;
  const end = new URL(`${op.issuer}/session/end`);
  end.searchParams.set('client_id', client.id);
  await page.goto(end.href);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith('/session/end') || u.pathname.includes('success'), { timeout: 15000 }),
    page.locator('button[name=logout][value=yes]').click(),
  ]);
  const deadline = Date.now() + 10000;
  while (!delivered.slice(before).some((d) => d.client === client.id) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(
    delivered.slice(before).filter((d) => d.client === client.id),
    [{ client: client.id, ok: true }],
    'the provider delivered one logout token, accepted',
  );
}

for (const mode of ['token', 'bff']) {
  test(`${mode} mode: sign in; the host app's /api/me answers the user${mode === 'bff' ? '; a provider API call through the proxy works and no provider token reaches the page' : ''}`, async () => {
    const { app } = apps[mode];
    const context = await newLoopbackContext(browser);
    const bodies = [];
    const headers = [];
    try {
      const t = await tab(context, app);
      t.page.on('request', (r) => {
        if (new URL(r.url()).origin === app) headers.push(r.headers());
      });
      t.page.on('response', async (r) => {
        if (new URL(r.url()).origin !== app) return;
        try {
          bodies.push(await r.text());
        } catch {}
      });
      await signInOnSpa(t.page, { app, login: `me-${mode}` });
      const me = await callApi(t.page, '/api/me');
      assert.equal(me.status, '200', me.body);
      const user = JSON.parse(me.body);
      assert.equal(user.id, `local:me-${mode}`);
      assert.equal(user.name, `Test User me-${mode}`, 'from the session store, as signed in');
      if (mode === 'bff') {
        const userinfo = op.counters.userinfo;
        const api = await callApi(t.page, '/auth/proxy/local/me');
        assert.equal(api.status, '200', api.body);
        assert.equal(JSON.parse(api.body).sub, `me-${mode}`, "the provider's own answer");
        assert.equal(op.counters.userinfo, userinfo + 1, 'one call at the provider');
        // Not allow-listed: refused by the backend, nothing sent.
        const other = await callApi(t.page, '/auth/proxy/local/token');
        assert.equal(other.status, '403', other.body);
        const issued = op.tokenCalls.flatMap((c) => [c.accessToken, c.refreshToken, c.idToken]).filter(Boolean);
        assert.ok(issued.length >= 1);
        for (const s of issued) assert.ok(!bodies.some((b) => b.includes(s)), 'a provider token reached the page');
        assert.ok(!headers.some((h) => h.authorization), 'no Authorization header from the page');
      }
      assert.deepEqual(t.errors, []);
    } finally {
      await context.close();
    }
  });

  test(`${mode} mode: signing out in one tab signs the other tab out at once (BroadcastChannel); signing in there signs it in`, async () => {
    const { app } = apps[mode];
    const context = await newLoopbackContext(browser);
    try {
      const a = await tab(context, app);
      const b = await tab(context, app);
      await signInOnSpa(a.page, { app, login: `tabs-${mode}` });
      await b.page.goto(`${app}/`);
      await waitStatus(b.page, 'signed-in');
      const quiet = b.calls.length;
      await a.page.click('[data-testid="sign-out"]');
      await waitStatus(a.page, 'signed-out');
      await waitStatus(b.page, 'signed-out', 5000);
      assert.deepEqual(b.calls.slice(quiet), [], 'the other tab learned it without a request');
      assert.equal(await b.page.locator('[data-testid="error"]').isHidden(), true, 'a sign-out is no error');
      // A sign-in in the first tab (the provider still knows the user): the other tab follows
      // and asks the backend who it is.
      await signInOnSpa(a.page, { app });
      await waitStatus(b.page, 'signed-in', 10000);
      assert.match(await text(b.page, 'user-name'), new RegExp(`Test User tabs-${mode}`));
      assert.equal(await text(b.page, 'notice'), 'Signed in in another tab.');
      assert.deepEqual([...a.errors, ...b.errors], []);
    } finally {
      await context.close();
    }
  });

  test(`${mode} mode: a sign-out at the provider (back-channel logout) signs the SPA out: the next call fails session_ended, the other tab follows`, async () => {
    const { app, client } = apps[mode];
    const context = await newLoopbackContext(browser);
    try {
      const a = await tab(context, app);
      const b = await tab(context, app);
      await signInOnSpa(a.page, { app, login: `bcl-${mode}` });
      await b.page.goto(`${app}/`);
      await waitStatus(b.page, 'signed-in');
      assert.equal((await callApi(b.page, '/api/me')).status, '200');
      const provider = await context.newPage();
      await signOutAtProvider(provider, client);
      // The server ended the session; the pages do not know yet.
      assert.equal(await status(a.page), 'signed-in');
      assert.equal(await status(b.page), 'signed-in');
      const quiet = a.calls.length;
      // The next call in one tab fails with the typed error, and the tab shows signed out …
      await b.page.fill('[data-testid="api-path"]', '/api/me');
      await b.page.click('[data-testid="call-api"]');
      await waitStatus(b.page, 'signed-out');
      assert.equal(await shownError(b.page), 'session_ended');
      // … and the other tab follows at once, without a request of its own.
      await waitStatus(a.page, 'signed-out', 5000);
      assert.equal(await shownError(a.page), 'session_ended');
      assert.deepEqual(a.calls.slice(quiet), []);
      // A reload stays signed out.
      await a.page.reload();
      await a.page.waitForSelector('body[data-ready="true"]');
      assert.equal(await status(a.page), 'signed-out');
      assert.deepEqual([...a.errors, ...b.errors], []);
    } finally {
      await context.close();
    }
  });

  test(`${mode} mode: RP-initiated logout returns to the app, which checks the state the provider hands back`, async () => {
    const { app } = apps[mode];
    const context = await newLoopbackContext(browser);
    try {
      const t = await tab(context, app);
      await signInOnSpa(t.page, { app, login: `rp-${mode}` });
      await t.page.click('[data-testid="sign-out"]');
      await waitStatus(t.page, 'signed-out');
      const link = t.page.locator('[data-testid="end-session"] a');
      await link.waitFor({ state: 'visible' });
      const esu = new URL(await link.getAttribute('href'));
      assert.equal(`${esu.origin}${esu.pathname}`, `${op.issuer}/session/end`);
      const state = esu.searchParams.get('state');
      assert.ok(state);
      let returned;
      t.page.on('framenavigated', (f) => {
        if (f === t.page.mainFrame() && f.url().startsWith(`${app}/signed-out`)) returned ??= f.url();
      });
      await Promise.all([t.page.waitForURL((u) => u.origin === op.issuer, { waitUntil: 'commit' }), link.click()]);
      await Promise.all([
        t.page.waitForURL((u) => u.origin === app, { timeout: 15000, waitUntil: 'commit' }),
        t.page.locator('button[name=logout][value=yes]').click(),
      ]);
      await t.page.waitForSelector('[data-testid="notice"]:not([hidden])');
      assert.equal(await text(t.page, 'notice'), 'Signed out at the provider too.');
      assert.equal(new URL(returned).searchParams.get('state'), state, 'the provider handed the state back');
      assert.equal(t.page.url(), `${app}/`, 'the state left the address bar');
      assert.equal(await status(t.page), 'signed-out');
      assert.equal(await t.page.locator('[data-testid="error"]').isHidden(), true);
      assert.deepEqual(t.errors, []);
    } finally {
      await context.close();
    }
  });
}

test('a tampered, replayed or missing post-logout state is refused', async () => {
  const { app } = apps.token;
  const context = await newLoopbackContext(browser);
  try {
    const t = await tab(context, app);
    /** Signs in and out; the state this tab's logout stored (from the end-session URL). */
    const signInAndOut = async () => {
      await signInOnSpa(t.page, { app, login: 'state-user' });
      await t.page.click('[data-testid="sign-out"]');
      const link = t.page.locator('[data-testid="end-session"] a');
      await link.waitFor({ state: 'visible' });
      return new URL(await link.getAttribute('href')).searchParams.get('state');
    };
    const back = async (query) => {
      await t.page.goto(`${app}/signed-out${query}`);
      await t.page.waitForSelector('body[data-ready="true"]');
      assert.equal(await status(t.page), 'signed-out');
      assert.equal(t.page.url(), `${app}/`, 'the state left the address bar');
      return shownError(t.page);
    };
    const state = await signInAndOut();
    const tampered = state.slice(0, -1) + (state.endsWith('A') ? 'B' : 'A');
    assert.equal(await back(`?state=${tampered}`), 'state_mismatch');
    // The stored state was used up by that check: the right one now is a replay.
    assert.equal(await back(`?state=${state}`), 'transaction_missing');
    const again = await signInAndOut();
    assert.equal(await back(`?state=${again}&state=${again}`), 'state_mismatch', 'twice is not once');
    await signInAndOut();
    assert.equal(await back(''), 'state_missing');
    assert.deepEqual(t.errors, []);
  } finally {
    await context.close();
  }
});
