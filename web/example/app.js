// The authsplit example SPA: plain JS, no framework. Provider list from the backend's /config,
// sign-in, the /callback route, the user, a call to any path of the app's API through
// client.fetch (the demo's /api/hello and /api/me, the backend's /auth/proxy/<provider>/… in BFF
// mode), sign out (here and in the page's other tabs), the provider's post-logout redirect
// (/signed-out, its state checked), and a session ended on the server shown as signed out.
// Every piece of text that came from a provider or the network is set with textContent —
// never innerHTML (SECURITY.md B5).

import { init, AuthClient, AuthsplitError } from '/authsplit/index.js';

const BACKEND = '/auth';
const CALLBACK_PATH = '/callback';
/** Register `<app>/signed-out` as the provider's `post_logout_redirect_uri`. */
const LOGOUT_PATH = '/signed-out';
const $ = (id) => document.getElementById(id);

let client = null;

function show(id, visible) {
  $(id).hidden = !visible;
}

function showError(err) {
  const e = err instanceof AuthsplitError ? err : new AuthsplitError('internal', String(err?.message ?? err));
  $('error-code').textContent = e.code;
  $('error').dataset.code = e.code;
  $('error-message').textContent = e.message;
  const said = [e.error, e.errorDescription].filter(Boolean).join(': ');
  $('error-provider').textContent = said ? `The provider said: ${said}` : '';
  show('error-provider', Boolean(said));
  show('error', true);
}

function clearError() {
  show('error', false);
  delete $('error').dataset.code;
}

function notice(text) {
  $('notice').textContent = text;
  show('notice', Boolean(text));
}

function setStatus(state, text) {
  $('status').dataset.state = state;
  $('status').textContent = text;
}

function renderSignedOut() {
  setStatus('signed-out', 'Signed out');
  show('signed-in', false);
  show('signed-out', true);
}

function renderSignedIn(user) {
  const name = user?.name || user?.subject || 'Signed-in user';
  setStatus('signed-in', `Signed in${user ? ` as ${name}` : ''}`);
  $('user-name').textContent = user ? name : '(session restored — profile not loaded)';
  $('user-email').textContent = user?.email ?? '';
  const avatar = $('avatar');
  const initials = $('initials');
  initials.textContent = name.trim().slice(0, 1).toUpperCase();
  avatar.hidden = true;
  const url = safeImageUrl(user?.avatarUrl);
  if (url) {
    avatar.alt = `${name}'s avatar`;
    avatar.onload = () => {
      avatar.hidden = false;
      initials.textContent = '';
    };
    avatar.onerror = () => {
      avatar.hidden = true;
    };
    avatar.src = url;
  }
  show('signed-out', false);
  show('signed-in', true);
  show('end-session', false);
}

function safeImageUrl(value) {
  if (typeof value !== 'string') return null;
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

async function loadProviders() {
  const res = await fetch(`${BACKEND}/config`, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new AuthsplitError('backend_unreachable', `GET ${BACKEND}/config answered ${res.status}`);
  const { providers } = await res.json();
  return Array.isArray(providers) ? providers : [];
}

/**
 * Client options from /config's presets: with both WeChat presets configured, one "WeChat"
 * button signs in with `wechat_mp` inside WeChat's in-app browser and with `wechat_open` (QR
 * code) elsewhere; providers on the Google preset refuse in-app browsers (`login()` fails with
 * `embedded_browser_refused` before leaving the page).
 */
function browserOptions(providers) {
  const byPreset = (preset) => providers.find((p) => p.preset === preset)?.id;
  const mp = byPreset('wechat_mp');
  const open = byPreset('wechat_open');
  return {
    aliases: mp && open ? { wechat: { wechat: mp, otherwise: open } } : {},
    refusesEmbedded: providers.filter((p) => p.preset === 'google').map((p) => p.id),
  };
}

function renderProviders(providers, aliases) {
  const box = $('providers');
  box.replaceChildren();
  // An alias button stands for several providers: it is not one of the `sign-in-<id>` buttons.
  for (const id of Object.keys(aliases)) {
    const b = document.createElement('button');
    b.type = 'button';
    b.id = b.dataset.testid = `alias-${id}`;
    b.dataset.alias = id;
    b.textContent = 'Sign in with WeChat';
    b.addEventListener('click', () => signIn(id, b));
    box.append(b);
  }
  for (const p of providers) {
    const b = document.createElement('button');
    b.type = 'button';
    b.id = `sign-in-${p.id}`;
    b.dataset.testid = `sign-in-${p.id}`;
    b.dataset.provider = p.id;
    b.textContent = `Sign in with ${p.name}`;
    b.addEventListener('click', () => signIn(p.id, b));
    box.append(b);
  }
}

async function signIn(provider, button) {
  clearError();
  button.disabled = true;
  try {
    // ?returnTo=/somewhere on the page is passed through; the library refuses anything that
    // is not a same-origin path (e.g. //evil.example) with `invalid_return_to`.
    const returnTo = new URLSearchParams(location.search).get('returnTo') ?? '/';
    await client.login({ provider, returnTo });
  } catch (e) {
    showError(e);
    button.disabled = false;
  }
}

async function callApi() {
  const out = $('api-result');
  out.hidden = false;
  const path = $('api-path').value.trim() || '/api/hello';
  out.textContent = `Calling ${path}…`;
  delete out.dataset.status;
  try {
    // The demo's /api/hello validates the token at the provider's userinfo endpoint; name the
    // provider when the backend has several.
    const provider = client.user()?.provider;
    const url = path === '/api/hello' && provider ? `${path}?provider=${encodeURIComponent(provider)}` : path;
    const res = await client.fetch(url);
    const text = await res.text();
    out.dataset.status = String(res.status);
    out.textContent = `${res.status} ${res.statusText}\n${text}`;
  } catch (e) {
    out.dataset.status = 'error';
    out.textContent = '';
    showError(e);
  }
}

async function signOut() {
  clearError();
  notice('');
  try {
    const { endSessionUrl } = await client.logout();
    renderSignedOut();
    $('api-result').hidden = true;
    const link = $('end-session-link');
    if (endSessionUrl && safeImageUrl(endSessionUrl)) {
      link.href = endSessionUrl;
      show('end-session', true);
    }
  } catch (e) {
    renderSignedOut();
    showError(e);
  }
}

/**
 * A session may survive a reload: GET /session says whether the backend holds one (and whose),
 * with no failed request when signed out; then POST /refresh gets this page an access token —
 * unless the backend runs in BFF mode (`configuration`: it hands out none, and client.fetch
 * goes through it with the session cookie).
 */
async function tryRestore({ quiet = false } = {}) {
  try {
    if (!(await client.session()).authenticated) return false;
    await client.getAccessToken().catch((e) => {
      if (!(e instanceof AuthsplitError && e.code === 'configuration')) throw e;
    });
    return true;
  } catch (e) {
    const expected = e instanceof AuthsplitError && e.code === 'not_authenticated';
    if (!expected && !quiet) showError(e);
    return false;
  }
}

async function main() {
  await init();
  const providers = await loadProviders();
  const { aliases, refusesEmbedded } = browserOptions(providers);
  renderProviders(providers, aliases);
  if (!providers.length) {
    throw new AuthsplitError('configuration', 'the backend lists no providers');
  }
  client = new AuthClient({ backendUrl: BACKEND, provider: providers[0].id, aliases, refusesEmbedded });
  $('call-api').addEventListener('click', callApi);
  $('sign-out').addEventListener('click', signOut);
  // Another tab signed out or in, or the server ended the session (back-channel logout from
  // the provider, a logout elsewhere): this page follows.
  client.onChange(async (change) => {
    if (change === 'signed_in') {
      notice('Signed in in another tab.');
      if (await tryRestore()) renderSignedIn(client.user());
      return;
    }
    renderSignedOut();
    $('api-result').hidden = true;
    if (change === 'session_ended') {
      showError(new AuthsplitError('session_ended', 'Your session has ended (signed out at the provider or elsewhere). Sign in again.'));
    }
  });

  if (location.pathname === LOGOUT_PATH) {
    // Back from the provider's end-session endpoint: its state must be the one this tab sent
    // (OIDC RP-Initiated Logout 1.0 §3).
    try {
      await client.handleLogoutCallback();
      notice('Signed out at the provider too.');
    } catch (e) {
      showError(e);
    }
    history.replaceState(null, '', '/');
    if (await tryRestore()) renderSignedIn(client.user());
    else renderSignedOut();
  } else if (location.pathname === CALLBACK_PATH) {
    try {
      const { user, returnTo } = await client.handleCallback();
      history.replaceState(null, '', returnTo);
      renderSignedIn(user);
    } catch (e) {
      history.replaceState(null, '', '/');
      showError(e);
      // E.g. the callback URL was reloaded after sign-in: the session may still be there.
      if (await tryRestore({ quiet: true })) renderSignedIn(client.user());
      else renderSignedOut();
    }
  } else if (await tryRestore()) {
    renderSignedIn(client.user());
  } else {
    renderSignedOut();
  }
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  showError(e);
  setStatus('error', 'Could not start');
  document.body.dataset.ready = 'true';
});
