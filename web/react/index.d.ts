/**
 * `authsplit/react`: React bindings for the authsplit browser client (React 18 or 19, a peer
 * dependency). Requires the `dom` lib, like the main entry.
 *
 * ```tsx
 * import { AuthProvider, useAuth } from 'authsplit/react';
 * <StrictMode><AuthProvider backendUrl="/auth" provider="github"><App /></AuthProvider></StrictMode>
 * function App() {
 *   const { user, isAuthenticated, isLoading, error, login, logout, fetch } = useAuth();
 *   …
 * }
 * ```
 * @packageDocumentation
 */

import type { ReactNode, JSX } from 'react';
import type { AuthClientOptions, AuthsplitError, LoginOptions, LogoutResult, User } from 'authsplit';

/** Props of {@link AuthProvider}: the `AuthClient` options (read once, at mount) and more. */
export interface AuthProviderProps extends AuthClientOptions {
  /** The redirect URI's path, where the sign-in is completed (default `"/callback"`). */
  callbackPath?: string;
  /**
   * Called with the checked `returnTo` path after the callback was handled (with `"/"` when it
   * failed); default: `history.replaceState(null, '', returnTo)`. Pass your router's navigate.
   */
  onRedirect?: (returnTo: string) => void;
  children?: ReactNode;
}

/** What {@link useAuth} returns. */
export interface AuthState {
  /** The signed-in user, or `null`. */
  user: User | null;
  /** Whether an access token is held (a sign-in completed, or a session was restored). */
  isAuthenticated: boolean;
  /** `true` until the module is loaded and the callback or the session restore is done. */
  isLoading: boolean;
  /**
   * The last failure (the callback, a restore, `login`, a `fetch` that lost the session);
   * `session_ended` when the server ended the session, also when another tab learned it. The
   * state follows the other tabs of the page's origin: a logout there signs this tab out, a
   * sign-in there signs it in (`AuthClient.onChange`).
   */
  error: AuthsplitError | null;
  /** Starts a sign-in (navigates to the provider); see `AuthClient.login`. */
  login(options?: LoginOptions): Promise<void>;
  /** Signs out, here and in the page's other tabs (signed out afterwards, whatever the backend answered). */
  logout(): Promise<LogoutResult>;
  /** `fetch` with the access token; see `AuthClient.fetch`. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
}

/**
 * Loads the WebAssembly module, creates one `AuthClient`, completes the sign-in on
 * `callbackPath` (once, also under `<StrictMode>`) or restores the session after a reload.
 */
export function AuthProvider(props: AuthProviderProps): JSX.Element;

/**
 * The state and actions of the nearest {@link AuthProvider}.
 * @throws {AuthsplitError} `configuration` outside an `<AuthProvider>`.
 */
export function useAuth(): AuthState;
