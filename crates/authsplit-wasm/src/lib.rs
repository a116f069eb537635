//! # authsplit-wasm — the browser half of authsplit
//!
//! OAuth 2.0 authorization code + PKCE sign-in where the browser makes the PKCE verifier,
//! `state` and `nonce` and the authsplit backend (which holds `client_secret`) redeems the
//! code. Compiled to WebAssembly and exported to JS as [`AuthClient`] (camelCase API); see the
//! npm package `authsplit` (`web/`) for the loader.
//!
//! | JS | what | spec |
//! |---|---|---|
//! | `new AuthClient(options)` | configuration | RFC 6749 §3.1.2 (redirect URI is the backend's) |
//! | `login({returnTo})` | PKCE + state + nonce, `POST /transactions`, redirect | RFC 7636 §4.1–§4.3, RFC 6749 §4.1.1, §10.12 |
//! | `handleCallback(url)` | parse + validate callback, `POST /token` | RFC 6749 §4.1.2, §4.1.2.1, RFC 9207 §2.4 |
//! | `getAccessToken()` | in-memory token, `POST /refresh` near expiry | RFC 6749 §6, RFC 10017 §6.2 |
//! | `fetch(input, init)` | `fetch` + `Authorization: Bearer` | RFC 6750 §2.1 |
//! | `logout()` | `POST /logout` (revocation on the backend) | RFC 7009 §2 |
//!
//! Errors reach JS as an `Error` named `AuthsplitError` with a stable `code` (see
//! [`error::ClientError`]). Size matters (REFERENCE §6): no serde, no `format!` on live paths,
//! the browser's `URL` (`web_sys::Url` and small snippet functions) instead of the url crate.

pub mod error;
pub mod flow;
pub mod http;
pub mod js;
pub mod store;

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;

use authsplit_core::ErrorCode;
use authsplit_core::authorize::AuthorizeTemplate;
use authsplit_core::callback::is_safe_return_to;
use authsplit_core::pkce::{CODE_CHALLENGE_METHOD_S256, PkceCodeVerifier};
use authsplit_core::random::{Nonce, State};
use js_sys::{Object, Promise};
use wasm_bindgen::prelude::*;

use crate::error::{ClientError, config_error, internal};
use crate::store::PendingTransaction;

// The allocator: lol_alloc's free-list allocator (address-ordered, coalescing) instead of std's
// dlmalloc saves ~2.9 KB gz of the ~13 KB-raw dlmalloc (web/README.md "Size"). The module makes
// a few hundred small, short-lived allocations per sign-in, so an O(free-list) allocator is
// plenty. `LockedAllocator` (a spin lock, uncontended on the single wasm thread) is safe to
// construct, unlike `AssumeSingleThreaded` — no `unsafe` in this crate.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Options of `new AuthClient(…)`. */
export interface AuthClientOptions {
  /** The authsplit backend mount point, absolute or relative to the page, e.g. `"/auth"`. */
  backendUrl: string;
  /** The provider id, one of `GET {backendUrl}/config`'s `providers[].id`. */
  provider: string;
  /** If set, must equal the backend's registered redirect URI byte for byte (RFC 6749 §3.1.2); a mismatch is a `configuration` error. */
  redirectUri?: string;
  /** Space-separated scopes replacing the backend's defaults (RFC 6749 §3.3). */
  scope?: string;
  /** Extra authorization request parameters (e.g. `{ login_hint: "…" }`); a clash with a protocol parameter is a `configuration` error. */
  extraParams?: Record<string, string>;
  /** Origins besides this page's and the backend's to which `client.fetch` may send the access token. */
  apiOrigins?: string[];
}
/** Options of `client.login(…)`. */
export interface LoginOptions {
  /** The provider id for this sign-in (default: the client's `provider`). */
  provider?: string;
  /** Same-origin path to return to after sign-in (`/` by default); anything else is refused with `invalid_return_to`. */
  returnTo?: string;
}
/** The signed-in user as the backend normalized it (keyed by `provider` + `subject`). */
export interface User {
  /** `"<provider>:<subject>"`. */
  id: string;
  provider: string;
  /** The provider's stable subject. */
  subject: string;
  name: string | null;
  email: string | null;
  emailVerified: boolean | null;
  avatarUrl: string | null;
  /** The provider's raw profile. */
  raw: unknown;
}
/** What `handleCallback` resolves to. */
export interface CallbackResult {
  /** The user, when the backend fetched one (userinfo). */
  user: User | null;
  /** The checked same-origin path given to `login({ returnTo })`. */
  returnTo: string;
  /** When the access token expires, in milliseconds since the epoch (like `Date.now()`), if known. */
  expiresAt: number | null;
}
/** What `logout` resolves to. */
export interface LogoutResult {
  /** Whether the provider confirmed revocation of the refresh token (RFC 7009 §2.2). */
  revoked: boolean;
  /** The provider's end-session URL (OIDC RP-Initiated Logout), to navigate to if wanted. */
  endSessionUrl: string | null;
}
"#;

/// Access tokens are refreshed this long before they expire (at most; a quarter of a short
/// lifetime otherwise).
const REFRESH_SKEW_MS: f64 = 30_000.0;

#[derive(Clone)]
struct Session {
    token: String,
    refresh_at_ms: Option<f64>,
}

struct Inner {
    backend: String,
    backend_origin: String,
    provider: String,
    redirect_uri: Option<String>,
    scope: Option<Vec<String>>,
    extra_params: Vec<(String, String)>,
    api_origins: Vec<String>,
    // `Cell`s rather than `RefCell`s: no borrow-failure panic paths (and their formatting) in
    // the module; values are read with [`peek`].
    session: Cell<Option<Session>>,
    user: Cell<JsValue>,
    refreshing: Cell<Option<Promise>>,
    /// Bumped by `forget()`: a reply that arrives for an older epoch is dropped.
    epoch: Cell<u32>,
}

/// The authsplit browser client: signs the user in with the authorization code flow + PKCE
/// through the authsplit backend, keeps the access token in memory only and refreshes it
/// through the backend (RFC 6749 §4.1, RFC 7636, RFC 10017 §6.2).
#[wasm_bindgen]
pub struct AuthClient {
    inner: Rc<Inner>,
}

/// A copy of a cell's value (taken and put back; a `Cell` has no borrow to fail).
fn peek<T: Clone + Default>(cell: &Cell<T>) -> T {
    let v = cell.take();
    cell.set(v.clone());
    v
}

fn window() -> Result<web_sys::Window, ClientError> {
    http::window().ok_or_else(|| internal("no window"))
}

/// A promise from a step that may fail before any network call.
fn promise(r: Result<Promise, ClientError>) -> Promise {
    r.unwrap_or_else(|e| Promise::reject(&e.into()))
}

impl Inner {
    /// Reads `new AuthClient(options)`. The shape checks and URL resolution are a few lines of
    /// JS (`authsplitOptions` in [`http`]; far smaller than the same plumbing through
    /// wasm-bindgen): it returns `[backend, backendOrigin, provider, redirectUri?, scopes?,
    /// [k, v, …], [origin, …]]` or throws the `configuration` message.
    fn from_options(o: &JsValue) -> Result<Self, ClientError> {
        let page = window()?
            .location()
            .href()
            .map_err(|_| internal("no location"))?;
        let n = http::normalize_options(o, &page).map_err(|e| ClientError {
            message: e
                .as_string()
                .map_or(Cow::Borrowed("invalid AuthClient options"), Cow::Owned),
            ..config_error("")
        })?;
        let text = |i| n.get(i).as_string();
        let list = |i| -> Vec<String> {
            js_sys::Array::from(&n.get(i))
                .iter()
                .filter_map(|v| v.as_string())
                .collect()
        };
        let (Some(backend), Some(backend_origin), Some(provider)) = (text(0), text(1), text(2))
        else {
            return Err(internal("options normalization failed"));
        };
        let scope = (!n.get(4).is_undefined()).then(|| list(4));
        let mut extra_params = Vec::new();
        let mut flat = list(5).into_iter();
        while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
            extra_params.push((k, v));
        }
        Ok(Self {
            backend,
            backend_origin,
            provider,
            redirect_uri: text(3),
            scope,
            extra_params,
            api_origins: list(6),
            session: Cell::new(None),
            user: Cell::new(JsValue::NULL),
            refreshing: Cell::new(None),
            epoch: Cell::new(0),
        })
    }

    /// Applies `redirectUri` (checked), `scope` and `extraParams` to the backend's template.
    fn apply_options(&self, t: &mut AuthorizeTemplate) -> Result<(), ClientError> {
        if let Some(r) = &self.redirect_uri
            && *r != t.redirect_uri
        {
            return Err(config_error(
                "redirectUri differs from the redirect URI registered on the backend (RFC 6749 §3.1.2)",
            ));
        }
        if let Some(s) = &self.scope {
            t.scopes.clone_from(s);
        }
        t.extra_params.extend(self.extra_params.iter().cloned());
        Ok(())
    }

    fn forget(&self) {
        self.epoch.set(self.epoch.get().wrapping_add(1));
        self.session.replace(None);
        self.user.replace(JsValue::NULL);
        self.refreshing.replace(None);
    }

    /// Keeps the access token of a `TokenReply` in memory; returns `expiresAt` in ms.
    fn accept_tokens(&self, reply: &JsValue, epoch: u32) -> Result<Option<f64>, ClientError> {
        let token = js::get_str(reply, "access_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| internal("the backend's token reply has no access_token"))?;
        if self.epoch.get() != epoch {
            return Err(ClientError::new(
                ErrorCode::NotAuthenticated,
                "signed out while the request was in flight",
            ));
        }
        let now = js_sys::Date::now();
        let expires_at = js::get_f64(reply, "expires_at").map(|s| s * 1000.0);
        let refresh_at = expires_at.map(|e| e - REFRESH_SKEW_MS.min(((e - now) / 4.0).max(0.0)));
        self.session.replace(Some(Session {
            token,
            refresh_at_ms: refresh_at,
        }));
        Ok(expires_at)
    }

    /// `login()` before the network: checks `returnTo`, makes verifier, state and nonce, and
    /// the `POST /transactions` body (never the verifier).
    #[inline(never)]
    fn start_login(&self, options: &JsValue) -> Result<(LoginSecrets, Object), ClientError> {
        let return_to = match js::get(options, "returnTo") {
            v if v.is_undefined() || v.is_null() => "/".to_owned(),
            v => v
                .as_string()
                .filter(|r| is_safe_return_to(r))
                .ok_or_else(|| {
                    ClientError::new(
                        ErrorCode::InvalidReturnTo,
                        "returnTo must be a same-origin path such as /account",
                    )
                })?,
        };
        let provider = match js::get(options, "provider") {
            v if v.is_undefined() || v.is_null() => self.provider.clone(),
            v => v
                .as_string()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| config_error("provider must be a non-empty string"))?,
        };
        let storage = store::session_storage()?;
        store::purge_expired(&storage, js_sys::Date::now())?;

        // RFC 7636 §4.1–§4.2, RFC 6749 §10.12, OIDC Core §3.1.2.1.
        let verifier = PkceCodeVerifier::generate()?;
        let state = State::generate()?;
        let nonce = Nonce::generate()?;

        let body = Object::new();
        js::set(&body, "provider", &JsValue::from_str(&provider));
        js::set(&body, "state", &JsValue::from_str(state.secret()));
        js::set(
            &body,
            "code_challenge",
            &JsValue::from_str(verifier.challenge().as_str()),
        );
        js::set(
            &body,
            "code_challenge_method",
            &JsValue::from_str(CODE_CHALLENGE_METHOD_S256),
        );
        js::set(&body, "nonce", &JsValue::from_str(nonce.secret()));
        Ok((
            LoginSecrets {
                verifier,
                state,
                nonce,
                return_to,
                provider,
            },
            body,
        ))
    }

    /// `login()` after `POST /transactions`: builds the authorization URL from the backend's
    /// template, stores the transaction and navigates.
    #[inline(never)]
    fn finish_login(&self, secrets: LoginSecrets, reply: &JsValue) -> Result<(), ClientError> {
        let mut template = flow::template_from_js(&js::get(reply, "authorize"))?;
        self.apply_options(&mut template)?;
        let oidc = template.scopes.iter().any(|s| s == "openid");
        let url = template.build_url(
            &secrets.state,
            Some(&secrets.verifier.challenge()),
            oidc.then_some(&secrets.nonce),
        )?;
        let tx = PendingTransaction {
            verifier: secrets.verifier.secret().to_owned(),
            state: secrets.state.secret().to_owned(),
            nonce: Some(secrets.nonce.secret().to_owned()),
            provider: secrets.provider,
            return_to: secrets.return_to,
            created_at: js_sys::Date::now(),
            issuer: js::get_str(reply, "issuer"),
            require_iss: js::get(reply, "require_iss").as_bool().unwrap_or(false),
            code_param: js::get_str(reply, "code_param").unwrap_or_else(|| "code".to_owned()),
        };
        store::save(&store::session_storage()?, &tx)?;
        window()?
            .location()
            .assign(&url)
            .map_err(|_| internal("navigation to the authorization endpoint failed"))
    }

    fn login(self: &Rc<Self>, options: &JsValue) -> Result<Promise, ClientError> {
        let (secrets, body) = self.start_login(options)?;
        let reply = http::post(&self.backend, "/transactions", &body)?;
        let step = Step(StepKind::Login(Rc::clone(self), secrets));
        Ok(http::then(&reply, step.into()))
    }

    /// `handleCallback()` before the network: strips the address bar, validates the callback
    /// against the stored transaction, and makes the `POST /token` body.
    #[inline(never)]
    fn start_callback(
        &self,
        url: Option<String>,
    ) -> Result<(PendingTransaction, Object), ClientError> {
        let win = window()?;
        let url = match url {
            Some(u) => u,
            None => win.location().href().map_err(|_| internal("no location"))?,
        };
        // Strip code/state/… from the address bar before anything can fail (REFERENCE §2.7).
        strip_address_bar(&win, None);
        let storage = store::session_storage()?;
        let prepared = flow::prepare_callback(&url, &storage, js_sys::Date::now())?;
        if prepared.tx.code_param != "code" {
            strip_address_bar(&win, Some(&prepared.tx.code_param));
        }
        let body = Object::new();
        js::set(&body, "provider", &JsValue::from_str(&prepared.tx.provider));
        js::set(&body, "code", &JsValue::from_str(prepared.code.secret()));
        js::set(&body, "state", &JsValue::from_str(&prepared.tx.state));
        js::set(
            &body,
            "code_verifier",
            &JsValue::from_str(&prepared.tx.verifier),
        );
        js::set(&body, "iss", &js::opt_str(prepared.iss.as_deref()));
        Ok((prepared.tx, body))
    }

    /// `handleCallback()` after `POST /token`: keeps the token, converts the user, re-checks
    /// `returnTo`.
    #[inline(never)]
    fn finish_callback(
        &self,
        tx: PendingTransaction,
        reply: &JsValue,
        epoch: u32,
    ) -> Result<JsValue, ClientError> {
        let expires_at = self.accept_tokens(reply, epoch)?;
        let user = user_from_wire(&js::get(reply, "user"));
        self.user.replace(user.clone());
        // Re-checked: storage is writable by any script on the origin (REFERENCE §2.9).
        let return_to = if is_safe_return_to(&tx.return_to) {
            tx.return_to
        } else {
            "/".to_owned()
        };
        let out = Object::new();
        js::set(&out, "user", &user);
        js::set(&out, "returnTo", &JsValue::from_str(&return_to));
        js::set(
            &out,
            "expiresAt",
            &expires_at.map_or(JsValue::NULL, JsValue::from_f64),
        );
        Ok(out.into())
    }

    fn handle_callback(self: &Rc<Self>, url: Option<String>) -> Result<Promise, ClientError> {
        let (tx, body) = self.start_callback(url)?;
        let reply = http::post(&self.backend, "/token", &body)?;
        let step = Step(StepKind::Callback(Rc::clone(self), tx, self.epoch.get()));
        Ok(http::then(&reply, step.into()))
    }

    /// `refresh()` after `POST /refresh`.
    #[inline(never)]
    fn finish_refresh(
        &self,
        reply: Result<JsValue, ClientError>,
        epoch: u32,
    ) -> Result<JsValue, ClientError> {
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                if (e.is(ErrorCode::NotAuthenticated) || e.is(ErrorCode::InvalidGrant))
                    && self.epoch.get() == epoch
                {
                    self.forget();
                }
                return Err(e);
            }
        };
        self.accept_tokens(&reply, epoch)?;
        let user = js::get(&reply, "user");
        if js::is_plain_object(&user) {
            self.user.replace(user_from_wire(&user));
        }
        let token = peek(&self.session).map(|s| s.token);
        token
            .map(|t| JsValue::from_str(&t))
            .ok_or_else(|| internal("no token after refresh"))
    }

    fn access_token(self: &Rc<Self>) -> Promise {
        if let Some(s) = peek(&self.session)
            && s.refresh_at_ms.is_none_or(|at| js_sys::Date::now() < at)
        {
            return Promise::resolve(&JsValue::from_str(&s.token));
        }
        if let Some(p) = peek(&self.refreshing) {
            return p;
        }
        let step = Step(StepKind::Refresh(Rc::clone(self), self.epoch.get()));
        match http::post(&self.backend, "/refresh", &Object::new()) {
            Ok(reply) => {
                // The step runs in a later microtask, so it clears this slot only after it was
                // filled.
                let p = http::then(&reply, step.into());
                self.refreshing.replace(Some(p.clone()));
                p
            }
            Err(e) => Promise::reject(&e.into()),
        }
    }

    /// The `Request` for `client.fetch`, with the bearer token, after the origin check.
    #[inline(never)]
    fn bearer_request(
        &self,
        input: &JsValue,
        init: &JsValue,
        token: &JsValue,
    ) -> Result<web_sys::Request, JsValue> {
        let req = http::new_request(input, init)?;
        // Only to this page, the backend, and configured API origins (RFC 6750 §5.3).
        let page_origin = window()?.location().origin()?;
        let target = web_sys::Url::new(&req.url())?.origin();
        if target != page_origin
            && target != self.backend_origin
            && !self.api_origins.contains(&target)
        {
            return Err(config_error(
                "client.fetch sends the access token only to this page's origin, the backend's origin and apiOrigins",
            )
            .into());
        }
        let token = token.as_string().unwrap_or_default();
        let mut bearer = String::with_capacity(7 + token.len());
        bearer.push_str("Bearer ");
        bearer.push_str(&token);
        req.headers().set("authorization", &bearer)?;
        Ok(req)
    }

    fn logout(&self) -> Result<Promise, ClientError> {
        self.forget();
        if let Ok(storage) = store::session_storage() {
            let _ = store::clear_all(&storage);
        }
        let reply = http::post(&self.backend, "/logout", &Object::new())?;
        Ok(http::then(&reply, Step(StepKind::Logout).into()))
    }
}

/// What `login()` keeps across its network call.
struct LoginSecrets {
    verifier: PkceCodeVerifier,
    state: State,
    nonce: Nonce,
    return_to: String,
    provider: String,
}

/// `{ revoked, endSessionUrl }` from a `POST /logout` reply (`not_authenticated` is fine).
fn logout_result(reply: Result<JsValue, ClientError>) -> Result<JsValue, ClientError> {
    let (revoked, end_session) = match reply {
        Ok(r) => (
            js::get(&r, "revoked").as_bool().unwrap_or(false),
            js::get_str(&r, "end_session_url"),
        ),
        Err(e) if e.is(ErrorCode::NotAuthenticated) => (false, None),
        Err(e) => return Err(e),
    };
    let out = Object::new();
    js::set(&out, "revoked", &JsValue::from_bool(revoked));
    js::set(&out, "endSessionUrl", &js::opt_str(end_session.as_deref()));
    Ok(out.into())
}

// Continuations: each async call is `JS promise → step.run(value)`, with no Rust futures or
// closures (REFERENCE §6: the futures executor and closure glue cost more than the logic).
// One exported class for all of them (each exported class costs its own JS glue and wasm
// shims); it is exported only so the JS side can call `run`; it is not part of the API.

/// What a [`Step`] does with the value its promise resolved to.
enum StepKind {
    /// `login()` after `POST /transactions`.
    Login(Rc<Inner>, LoginSecrets),
    /// `handleCallback()` after `POST /token` (with the epoch at the start).
    Callback(Rc<Inner>, PendingTransaction, u32),
    /// The refresh behind `getAccessToken()` after `POST /refresh`.
    Refresh(Rc<Inner>, u32),
    /// `fetch()` once the access token is known: `(input, init)`.
    Fetch(Rc<Inner>, JsValue, JsValue),
    /// `logout()` after `POST /logout`.
    Logout,
}

/// Internal continuation of an asynchronous call.
#[doc(hidden)]
#[wasm_bindgen(skip_typescript)]
pub struct Step(StepKind);

#[wasm_bindgen]
impl Step {
    /// Internal.
    pub fn run(self, value: JsValue) -> Result<JsValue, JsValue> {
        match self.0 {
            StepKind::Login(inner, secrets) => {
                let reply = http::finish(value)?;
                inner.finish_login(secrets, &reply)?;
                Ok(JsValue::UNDEFINED)
            }
            StepKind::Callback(inner, tx, epoch) => {
                let reply = http::finish(value)?;
                Ok(inner.finish_callback(tx, &reply, epoch)?)
            }
            StepKind::Refresh(inner, epoch) => {
                let r = inner.finish_refresh(http::finish(value), epoch);
                if inner.epoch.get() == epoch {
                    inner.refreshing.replace(None);
                }
                Ok(r?)
            }
            StepKind::Fetch(inner, input, init) => {
                let req = inner.bearer_request(&input, &init, &value)?;
                Ok(window()?.fetch_with_request(&req).into())
            }
            StepKind::Logout => Ok(logout_result(http::finish(value))?),
        }
    }
}

impl From<JsValue> for ClientError {
    fn from(_: JsValue) -> Self {
        internal("a browser API failed")
    }
}

/// Replaces the address bar URL by itself without the callback parameters.
fn strip_address_bar(win: &web_sys::Window, extra: Option<&str>) {
    let Ok(current) = win.location().href() else {
        return;
    };
    if let Some(clean) = flow::strip_callback_params(&current, extra)
        && let Ok(history) = win.history()
    {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&clean));
    }
}

/// The wire `User` (snake_case) as the camelCase JS object of the `User` interface.
fn user_from_wire(u: &JsValue) -> JsValue {
    if !js::is_plain_object(u) {
        return JsValue::NULL;
    }
    let o = Object::new();
    for (from, to) in [
        ("id", "id"),
        ("provider", "provider"),
        ("subject", "subject"),
        ("name", "name"),
        ("email", "email"),
        ("email_verified", "emailVerified"),
        ("avatar_url", "avatarUrl"),
        ("raw", "raw"),
    ] {
        let v = js::get(u, from);
        js::set(&o, to, &if v.is_undefined() { JsValue::NULL } else { v });
    }
    o.into()
}

#[wasm_bindgen]
impl AuthClient {
    /// Creates a client for one provider of an authsplit backend.
    ///
    /// `backendUrl` is where the backend's router is mounted (e.g. `"/auth"` or
    /// `"https://api.example.com/auth"`); `provider` is an id from `GET {backendUrl}/config`.
    /// The redirect URI is the one registered on the backend (RFC 6749 §3.1.2; never derived
    /// from `location`); `redirectUri`, if given, is only checked against it.
    ///
    /// @throws {AuthsplitError} `configuration` when an option is missing or malformed.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "AuthClientOptions")] options: JsValue,
    ) -> Result<AuthClient, JsValue> {
        let inner = Inner::from_options(&options)?;
        Ok(AuthClient {
            inner: Rc::new(inner),
        })
    }

    /// Starts a sign-in: makes the PKCE verifier and its S256 challenge (RFC 7636 §4.1–§4.2),
    /// `state` (RFC 6749 §10.12) and an OIDC `nonce` (OIDC Core §3.1.2.1); registers state +
    /// challenge with the backend (`POST /transactions`, never the verifier); keeps the pending
    /// transaction in `sessionStorage` (single use, 10 min TTL); then navigates to the
    /// authorization endpoint (RFC 6749 §4.1.1, RFC 7636 §4.3).
    ///
    /// `returnTo` must be a same-origin path (`/account`); `//evil`, `https://…`,
    /// `javascript:` and friends are refused with `invalid_return_to`.
    ///
    /// @throws {AuthsplitError} `invalid_return_to`, `backend_unreachable`, `unknown_provider`,
    /// `storage_unavailable`, `random_unavailable`, `configuration`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn login(
        &self,
        #[wasm_bindgen(unchecked_param_type = "LoginOptions | undefined")] options: JsValue,
    ) -> Promise {
        promise(self.inner.login(&options))
    }

    /// Completes a sign-in on the redirect URI page (RFC 6749 §4.1.2): parses the callback
    /// (`url`, default `location.href`), refusing duplicated parameters and tokens in the URL
    /// (RFC 9700 §2.1.2); takes the matching transaction out of `sessionStorage` (single use,
    /// on every outcome); checks its age (10 min), `state` in constant time (RFC 6749 §10.12)
    /// and `iss` (RFC 9207 §2.4); strips `code`/`state`/`iss`/`error…` from the address bar;
    /// sends code + verifier to the backend (`POST /token`), and keeps the access token in
    /// memory only.
    ///
    /// @throws {AuthsplitError} `access_denied` (the user refused; `error`/`errorDescription`
    /// hold what the provider said — plain text), `authorization_error`, `state_mismatch`,
    /// `state_missing`, `iss_mismatch`, `iss_missing`, `duplicate_parameter`,
    /// `token_in_callback`, `code_missing`, `transaction_missing`, `transaction_expired`,
    /// `invalid_grant`, `pkce_mismatch`, `provider_unreachable`, `backend_unreachable`, …
    #[wasm_bindgen(js_name = handleCallback, unchecked_return_type = "Promise<CallbackResult>")]
    pub fn handle_callback(&self, url: Option<String>) -> Promise {
        promise(self.inner.handle_callback(url))
    }

    /// The access token (kept in memory only, REFERENCE §2.10). Shortly before it expires — or
    /// when there is none yet, e.g. after a page reload — it is renewed through the backend
    /// (`POST /refresh`; the refresh token never reaches the browser, RFC 10017 §6.2.2.2,
    /// RFC 6749 §6). Concurrent callers share one refresh.
    ///
    /// @throws {AuthsplitError} `not_authenticated` (no session), `invalid_grant` (session
    /// revoked), `backend_unreachable`, `provider_unreachable`, …
    #[wasm_bindgen(js_name = getAccessToken, unchecked_return_type = "Promise<string>")]
    pub fn get_access_token(&self) -> Promise {
        self.inner.access_token()
    }

    /// `fetch(input, init)` with `Authorization: Bearer <access token>` (RFC 6750 §2.1) — never
    /// in the URL (RFC 6750 §2.3). Sent only to this page's origin, the backend's origin and
    /// `apiOrigins` (RFC 6750 §5.3); any other target rejects with `configuration`.
    ///
    /// @throws {AuthsplitError} as `getAccessToken`; network failures reject as `fetch` does.
    #[wasm_bindgen(unchecked_return_type = "Promise<Response>")]
    pub fn fetch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RequestInfo | URL")] input: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RequestInit | undefined")] init: JsValue,
    ) -> Promise {
        let step = Step(StepKind::Fetch(Rc::clone(&self.inner), input, init));
        http::then_ok(&self.inner.access_token(), step.into())
    }

    /// Whether an access token (RFC 6749 §1.4) is held in memory — never in web storage
    /// (REFERENCE §2.10). It may be due for a refresh.
    #[wasm_bindgen(js_name = isAuthenticated)]
    pub fn is_authenticated(&self) -> bool {
        peek(&self.inner.session).is_some()
    }

    /// The signed-in user from the last sign-in (OIDC Core §5.3 userinfo, normalized by the
    /// backend), or `null`.
    #[wasm_bindgen(unchecked_return_type = "User | null")]
    pub fn user(&self) -> JsValue {
        peek(&self.inner.user)
    }

    /// Signs out: forgets the in-memory token and user, drops pending transactions, and asks
    /// the backend (`POST /logout`) to revoke the refresh token (RFC 7009 §2) and clear its
    /// cookies. Resolves to `{ revoked, endSessionUrl }` (OIDC RP-Initiated Logout URL, if the
    /// provider has one). Succeeds when there was no session.
    ///
    /// @throws {AuthsplitError} `backend_unreachable`, … (the local state is forgotten anyway).
    #[wasm_bindgen(unchecked_return_type = "Promise<LogoutResult>")]
    pub fn logout(&self) -> Promise {
        promise(self.inner.logout())
    }
}
