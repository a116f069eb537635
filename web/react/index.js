// authsplit/react — React bindings for the authsplit browser client: <AuthProvider> loads the
// WebAssembly module, creates one AuthClient, completes the sign-in on the callback route
// (once per provider, also under <StrictMode>, whose effects run twice) or restores the
// session through the backend after a reload, follows the client's changes (`onChange`: a
// logout or sign-in in another tab, a session ended on the server), and `useAuth()` exposes
// the state and the actions. React is a peer dependency: imported, never bundled with the package.

import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';
import { init, AuthClient, AuthsplitError } from 'authsplit';

const Ctx = createContext(null);

const LOADING = { isLoading: true, isAuthenticated: false, user: null, error: null };
const signedOut = (error = null) => ({ isLoading: false, isAuthenticated: false, user: null, error });
const signedIn = (client) => ({ isLoading: false, isAuthenticated: true, user: client.user(), error: null });
// Codes that only mean "no session": the user is signed out (`session_ended`: by the server).
const NO_SESSION = ['not_authenticated', 'invalid_grant', 'session_ended'];

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
    await client.getAccessToken().catch(bffHasNoToken);
    return { ...signedIn(client), error: earlier };
  } catch (e) {
    if (e instanceof AuthsplitError && NO_SESSION.includes(e.code)) return null;
    return signedOut(e);
  }
}

/** A backend in BFF mode hands out no access token (`configuration`): the user is all there
 * is to restore, and `fetch` goes through the backend. */
function bffHasNoToken(e) {
  if (!(e instanceof AuthsplitError && e.code == 'configuration')) throw e;
}

const replaceUrl = (returnTo) => history.replaceState(null, '', returnTo);

/** The error a tab shows when another tab learned that the session ended on the server. */
const ended = () => new AuthsplitError('session_ended', 'the session ended on the server (signed out elsewhere); sign in again');

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
    let unsubscribe;
    started.current.then(
      ([c, s]) => {
        client.current = c;
        if (!live) return;
        setState(s);
        // A sign-in in another tab: restore it; every other change signs this tab out (with
        // an error saying why when the server ended the session).
        unsubscribe = c.onChange((change) => {
          if (change == 'signed_in') restore(c, null).then((r) => live && setState(r ?? signedOut()));
          else setState((old) => signedOut(change == 'session_ended' ? (old.error?.code == change ? old.error : ended()) : null));
        });
      },
      (e) => live && setState(signedOut(e)),
    );
    return () => {
      live = false;
      unsubscribe?.();
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
