// Headless Chromium (playwright-core driving Chromium's headless shell,
// /usr/bin/chromium-headless-shell) and helpers for oidc-provider's development login and
// consent pages.

import { createServer } from 'node:http';
import { once } from 'node:events';

import { chromium } from 'playwright-core';

import { backendClient, CookieJar, pkcePair, randomToken } from './http.mjs';

/** Flags from DEVELOPERS.md / notes: headless Chromium on a shared CI box. */
export const CHROMIUM_ARGS = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
]);

/**
 * Path of the Chromium binary (env CHROMIUM_PATH overrides): the headless shell (Debian package
 * chromium-headless-shell, installed by scripts/setup.sh), the same Chromium version as
 * /usr/bin/chromium built for headless use only, which is also what Playwright runs for headless
 * Chromium by default. `chromium --headless` runs the whole browser UI besides (WebUI renderers);
 * measured on tests/e2e/inapp.test.mjs, the shell takes about a third of its CPU time.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium-headless-shell';

/**
 * Launch headless Chromium.
 * @param {import('playwright-core').LaunchOptions} [opts] extra launch options
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchBrowser(opts = {}) {
  const { args = [], ...rest } = opts;
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    ...rest,
    args: [...CHROMIUM_ARGS, ...args],
  });
}

/**
 * A fresh browser context that only talks to loopback: every request to a host other than
 * 127.0.0.1 / localhost is aborted at once (the dev pages @import Google Fonts; the sandbox has no
 * Internet, and waiting for that to fail slows every page load).
 * @param {import('playwright-core').Browser} browser
 * @param {import('playwright-core').BrowserContextOptions} [opts]
 */
export async function newLoopbackContext(browser, opts = {}) {
  const context = await browser.newContext(opts);
  await context.route(
    (url) => url.hostname !== '127.0.0.1' && url.hostname !== 'localhost',
    (route) => route.abort('blockedbyclient'),
  );
  return context;
}

const isInteraction = (url) => {
  try {
    return new URL(url).pathname.startsWith('/interaction/');
  } catch {
    return false;
  }
};

/**
 * Records the URL of the latest main-frame navigation request of `page`. When the last hop of
 * a redirect chain fails (e.g. a redirect_uri answering 404 with an empty body gives
 * net::ERR_HTTP_RESPONSE_CODE_FAILURE and page.url() becomes chrome-error://…), this still
 * knows where the browser was sent.
 */
function trackNavigations(page) {
  let last;
  const onRequest = (req) => {
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) last = req.url();
  };
  page.on('request', onRequest);
  return {
    get last() {
      return last;
    },
    stop: () => page.off('request', onRequest),
  };
}

/**
 * Drive oidc-provider's dev interaction pages: log in (any login/password is accepted; `login`
 * becomes the account id = `sub`) and press "Continue" on the consent page. Pages that do not
 * appear (existing session, existing grant) are skipped. Returns once the browser has left the
 * provider, i.e. was redirected to the client's redirect_uri — also when loading that URL
 * failed (nothing listening, an empty 404): the returned URL is the one the provider sent the
 * browser to, with its code/state/iss or error.
 *
 * Call it right after navigating to the authorization URL (or clicking "Sign in").
 *
 * @param {import('playwright-core').Page} page
 * @param {{ login?: string, password?: string, timeout?: number, consent?: boolean }} [opts]
 *   consent=false stops at the consent page without pressing anything (returns its URL).
 * @returns {Promise<string>} the URL the browser was last sent to
 */
export async function loginAndConsent(page, opts = {}) {
  const { login = 'alice', password = 'any-password', timeout = 15000, consent = true } = opts;
  const deadline = Date.now() + timeout;
  const remaining = () => Math.max(1, deadline - Date.now());
  const nav = trackNavigations(page);
  let opOrigin;
  // Resolves with the off-provider URL when the browser has left the provider (even through a
  // failed navigation), or undefined while it is still on the provider's pages.
  const settle = async (promise) => {
    try {
      await promise;
    } catch (e) {
      if (nav.last && opOrigin && new URL(nav.last).origin !== opOrigin) return nav.last;
      throw e;
    }
    const url = page.url();
    if (isInteraction(url)) {
      opOrigin ??= new URL(url).origin;
      return undefined;
    }
    return nav.last && opOrigin && new URL(nav.last).origin !== opOrigin ? nav.last : url;
  };
  try {
    // Called on the provider's authorization endpoint (or an interaction page): remember its
    // origin, so leaving it can be recognised even when the next page fails to load.
    const entry = page.url();
    if (isInteraction(entry) || /^\/auth(\/|$)/.test(originOf(entry) ? new URL(entry).pathname : '')) {
      opOrigin = originOf(entry);
    }
    let left = await settle(waitForInteractionOrExit(page, remaining()));
    for (let step = 0; step < 6; step += 1) {
      if (left !== undefined) return left;
      const url = page.url();
      const loginInput = page.locator('input[name=login]');
      const consentButton = page.locator(
        'form:has(input[name=prompt][value=consent]) button[type=submit]',
      );
      let submit;
      if (await loginInput.count()) {
        await loginInput.fill(login);
        await page.locator('input[name=password]').fill(password);
        submit = page.locator('form:has(input[name=prompt][value=login]) button[type=submit]');
      } else if (await consentButton.count()) {
        if (!consent) return url;
        submit = consentButton;
      } else {
        throw new Error(`loginAndConsent: unknown interaction page at ${url}`);
      }
      left = await settle(
        Promise.all([
          page.waitForURL((u) => u.href !== url, { timeout: remaining(), waitUntil: 'commit' }),
          submit.click(),
        ]).then(() => waitForInteractionOrExit(page, remaining())),
      );
    }
    throw new Error('loginAndConsent: too many interaction steps');
  } finally {
    nav.stop();
  }
}

function originOf(url) {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * On a login or consent page of oidc-provider, press "[ Cancel ]": the provider finishes the
 * interaction with `error=access_denied` and redirects to the redirect_uri. Returns the URL the
 * browser was sent to (also when loading it failed).
 * @param {import('playwright-core').Page} page
 * @param {{ timeout?: number }} [opts]
 */
export async function cancelAtConsent(page, opts = {}) {
  const { timeout = 15000 } = opts;
  await waitForInteractionOrExit(page, timeout);
  const url = page.url();
  if (!isInteraction(url)) {
    throw new Error(`cancelAtConsent: not on an interaction page (${url})`);
  }
  const opOrigin = new URL(url).origin;
  const nav = trackNavigations(page);
  try {
    const cancel = page.locator('.login-help a', { hasText: 'Cancel' });
    await Promise.all([
      page.waitForURL((u) => !isInteraction(u.href), { timeout, waitUntil: 'commit' }),
      cancel.click(),
    ]);
  } catch (e) {
    if (!(nav.last && new URL(nav.last).origin !== opOrigin)) throw e;
  } finally {
    nav.stop();
  }
  return nav.last && new URL(nav.last).origin !== opOrigin ? nav.last : page.url();
}

async function waitForInteractionOrExit(page, timeout) {
  // The authorization endpoint answers with a 303 to /interaction/<uid>; wait until the page is
  // not on /auth anymore, then until the DOM is there.
  await page.waitForURL((u) => u.pathname !== '/auth', { timeout, waitUntil: 'commit' });
  await page.waitForLoadState('domcontentloaded', { timeout });
}

/**
 * A tiny HTTP server on 127.0.0.1 that plays the client's redirect_uri: it answers every request
 * with a small page and records the URL. (page.route cannot do this: Playwright does not call
 * route handlers for the target of a redirect, and the provider reaches the redirect_uri through
 * a 303.)
 *
 * @param {{ path?: string }} [opts] path of the redirect URI (default `/callback`)
 * @returns {Promise<{ redirectUri: string, port: number, urls: URL[], next(timeout?: number): Promise<URL>, close(): Promise<void> }>}
 */
export async function startCallbackCatcher(opts = {}) {
  const { path = '/callback' } = opts;
  /** @type {URL[]} every callback URL seen, in order */
  const urls = [];
  /** URLs not yet handed out by next()/waitFor() */
  const unclaimed = [];
  /** @type {{ pred: (u: URL) => boolean, resolve: (u: URL) => void }[]} */
  const waiters = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url, `http://${req.headers.host}`);
    if (u.pathname === path) {
      urls.push(u);
      const i = waiters.findIndex((w) => w.pred(u));
      if (i >= 0) waiters.splice(i, 1)[0].resolve(u);
      else unclaimed.push(u);
    }
    res.writeHead(u.pathname === path ? 200 : 404, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'close',
    });
    res.end('<!doctype html><title>callback</title><p>callback captured</p>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();

  /** Resolves with the first unclaimed callback URL matching `pred` (waiting if needed). */
  function waitFor(pred, timeout = 15000) {
    const i = unclaimed.findIndex(pred);
    if (i >= 0) return Promise.resolve(unclaimed.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (u) => {
          clearTimeout(t);
          resolve(u);
        },
      };
      const t = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`no matching request to ${path} within ${timeout} ms`));
      }, timeout);
      waiters.push(w);
    });
  }

  return {
    redirectUri: `http://127.0.0.1:${port}${path}`,
    port,
    urls,
    waitFor,
    /** The next unclaimed callback URL. */
    next: (timeout = 15000) => waitFor(() => true, timeout),
    /** The callback URL carrying this `state` (ignores strays from other flows). */
    forState: (state, timeout = 15000) =>
      waitFor((u) => u.searchParams.get('state') === state, timeout),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * One real sign-in through the backend, the way the SPA does it but with Node's fetch as the
 * page (tests/support/http.mjs `backendClient`): `POST /transactions`, the provider's login and
 * consent in a fresh Chromium context, the callback caught by `catcher`, `POST /token`. The
 * context stays open (it holds the provider's session cookie, for a logout at the provider)
 * unless `keepContext` is false.
 */
export async function signInThroughBackend({ browser, catcher, authUrl, origin, provider = 'basic', login = 'alice', keepContext = true }) {
  const c = backendClient(authUrl, { origin, jar: new CookieJar() });
  const state = randomToken();
  const { verifier, challenge } = pkcePair();
  const tx = await c.post('/transactions', {
    provider,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    nonce: randomToken(),
  });
  if (tx.status !== 201) throw new Error(`POST /transactions: ${tx.status} ${tx.text}`);
  const context = await newLoopbackContext(browser);
  try {
    const page = await context.newPage();
    await page.goto(tx.json.authorization_url);
    await loginAndConsent(page, { login });
    const cb = await catcher.forState(state);
    const r = await c.post('/token', {
      provider,
      code: cb.searchParams.get('code'),
      state,
      code_verifier: verifier,
      iss: cb.searchParams.get('iss'),
    });
    if (r.status !== 200) throw new Error(`POST /token: ${r.status} ${r.text}`);
    if (!keepContext) await context.close();
    return { c, context, page };
  } catch (e) {
    await context.close();
    throw e;
  }
}

/**
 * Signs in through the example SPA (web/example) served at `app`, in `page`: opens `app/`,
 * clicks "Sign in with Local OIDC provider", logs in and consents at the provider, and waits
 * until the page shows the signed-in status.
 * @param {import('playwright-core').Page} page
 * @param {{ app: string, login?: string, timeout?: number }} o
 */
export async function signInOnSpa(page, { app, login = 'alice', timeout = 15000 }) {
  await page.goto(`${app}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout });
  await Promise.all([
    page.waitForURL((u) => u.origin !== app, { waitUntil: 'commit', timeout }),
    page.click('[data-testid="sign-in-local"]'),
  ]);
  await loginAndConsent(page, { login, timeout });
  await page.waitForSelector('[data-testid="status"][data-state="signed-in"]', { timeout });
}

/**
 * Clicks the example SPA's sign-out button and waits for the backend's answer to
 * `POST …/logout`: the page shows signed out at once (before that request ends), so a check of
 * what the backend did (revocation, the session gone) waits for this.
 * @returns {Promise<import('playwright-core').Response>}
 */
export async function signOutOnSpa(page, { timeout = 15000 } = {}) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/logout'), { timeout }),
    page.click('[data-testid="sign-out"]'),
  ]);
  return res;
}
