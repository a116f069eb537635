// authsplit/react — React bindings for the authsplit browser client: <AuthProvider> loads the
// WebAssembly module, creates one AuthClient, completes the sign-in on the callback route
// (once per provider, also under <StrictMode>, whose effects run twice) or restores the
// session through the backend after a reload, and `useAuth()` exposes the state and the
// actions. React is a peer dependency: imported, never bundled with the package.

import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';
import { init, AuthClient, AuthsplitError } from 'authsplit';

const Ctx = createContext(null);

const LOADING = { isLoading: true, isAuthenticated: false, user: null, error: null };
const signedOut = (error = null) => ({ isLoading: false, isAuthenticated: false, user: null, error });
const signedIn = (client) => ({ isLoading: false, isAuthenticated: true, user: client.user(), error: null });
// Codes that only mean "no session": the user is signed out, nothing went wrong.
const NO_SESSION = ['not_authenticated', 'invalid_grant'];

/**
 * Starts the client once: `init()`, `new AuthClient(options)`, then the callback (on
 * `callbackPath`) or a session restore (`GET /session`, then `POST /refresh` for a token).
 */
async function start(options, callbackPath, onRedirect) {
  await init();
  const client = new AuthClient(options);
  if (location.pathname === callbackPath) {
    try {
      const { returnTo } = await client.handleCallback();
      onRedirect(returnTo);
      return [client, signedIn(client)];
    } catch (e) {
      // The callback failed (e.g. reloaded after it was used): show the error, but a session
      // from an earlier sign-in may still be there.
      onRedirect('/');
      return [client, (await restore(client, e)) ?? signedOut(e)];
    }
  }
  return [client, (await restore(client, null)) ?? signedOut()];
}

async function restore(client, earlier) {
  try {
    // GET /session first: a signed-out load ends here, with no failed request in the console.
    if (!(await client.session()).authenticated) return null;
    await client.getAccessToken();
    return { ...signedIn(client), error: earlier };
  } catch (e) {
    if (e instanceof AuthsplitError && NO_SESSION.includes(e.code)) return null;
    return signedOut(e);
  }
}

const replaceUrl = (returnTo) => history.replaceState(null, '', returnTo);

/**
 * Provides the authsplit client to `useAuth()`. Props: the `AuthClient` options (`backendUrl`,
 * `provider`, …; read once, at mount), `callbackPath` (default `/callback`), `onRedirect`
 * (where to go after the callback; default `history.replaceState` to `returnTo`), `children`.
 */
export function AuthProvider({ children, callbackPath = '/callback', onRedirect = replaceUrl, ...options }) {
  const [state, setState] = useState(LOADING);
  const started = useRef(null);
  const client = useRef(null);

  useEffect(() => {
    let live = true;
    // One start per provider: <StrictMode> runs this effect twice with the same ref.
    started.current ||= start(options, callbackPath, onRedirect);
    started.current.then(
      ([c, s]) => {
        client.current = c;
        if (live) setState(s);
      },
      (e) => live && setState(signedOut(e)),
    );
    return () => {
      live = false;
    };
    // The options are read once, at mount.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const ready = () =>
    client.current ?? Promise.reject(new AuthsplitError('configuration', 'authsplit/react: the client is still loading'));

  const login = useCallback(async (opts) => {
    try {
      await (await ready()).login(opts);
    } catch (e) {
      setState((s) => ({ ...s, error: e }));
      throw e;
    }
  }, []);

  const logout = useCallback(async () => {
    try {
      return await (await ready()).logout();
    } finally {
      setState(signedOut());
    }
  }, []);

  const authFetch = useCallback(async (input, init) => {
    const c = await ready();
    try {
      return await c.fetch(input, init);
    } catch (e) {
      if (e instanceof AuthsplitError && NO_SESSION.includes(e.code)) setState(signedOut(e));
      throw e;
    }
  }, []);

  const value = useMemo(() => ({ ...state, login, logout, fetch: authFetch }), [state, login, logout, authFetch]);
  return createElement(Ctx.Provider, { value }, children);
}

/**
 * The sign-in state and actions of the nearest `<AuthProvider>`: `user`, `isAuthenticated`,
 * `isLoading`, `error`, `login(options?)`, `logout()`, `fetch(input, init?)`.
 */
export function useAuth() {
  const v = useContext(Ctx);
  if (!v) throw new AuthsplitError('configuration', 'authsplit/react: useAuth() needs an <AuthProvider> above it');
  return v;
}
