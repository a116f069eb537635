//! Calls from the browser to the authsplit backend (the `authsplit_core::wire` protocol):
//! JSON bodies, `credentials: "include"` (the backend's HttpOnly cookies), and the CSRF
//! header `x-authsplit: 1` (RFC 10017 §6.1.3.3).
//!
//! The `fetch` plumbing and the promise chaining are a few lines of JS: each asynchronous call
//! is `fetch → [ok, json] → step.run(…)` where `step` is a Rust continuation object. No Rust
//! futures, no closures crossing the boundary — much smaller than an async executor in the
//! module (REFERENCE §6).

use authsplit_core::ErrorCode;
use js_sys::{Array, JSON, Promise};
use wasm_bindgen::prelude::*;

use crate::error::{ClientError, internal};
use crate::js;

#[wasm_bindgen(inline_js = r#"
export function authsplitPost(url, body) {
  return fetch(url, {
    method: "POST",
    credentials: "include",
    headers: { "content-type": "application/json", "x-authsplit": "1" },
    body,
  }).then(
    (r) => r.json().then((j) => [r.ok, j], () => [r.ok, null]),
    () => null,
  );
}
export function authsplitThen(p, step) {
  return p.then((v) => step.run(v), () => step.run(null));
}
export function authsplitThenOk(p, step) {
  return p.then((v) => step.run(v));
}
export function authsplitGet(o, k) {
  try {
    return typeof o == "object" && o !== null ? o[k] : undefined;
  } catch {}
}
export function authsplitSet(o, k, v) {
  o[k] = v;
}
export function authsplitRawState(input) {
  let q = input;
  try {
    q = new URL(input).search;
  } catch {}
  return new URLSearchParams(q).get("state");
}
export function authsplitStrip(href, names, extra) {
  try {
    const u = new URL(href), p = u.searchParams;
    let changed = false;
    for (const n of names.split(" ").concat(extra ?? [])) {
      if (p.has(n)) {
        p.delete(n);
        changed = true;
      }
    }
    if (changed) {
      u.search = p.toString();
      return u.href;
    }
  } catch {}
}
export function authsplitWindow() {
  return typeof window == "object" ? window : null;
}
export function authsplitRequest(input, init) {
  return new Request(input, init ?? undefined);
}
export function authsplitOptions(o, page) {
  const fail = (m) => { throw m; };
  const isObj = (v) => typeof v == "object" && v !== null && !Array.isArray(v);
  const isStr = (v) => typeof v == "string";
  const http = (s) => {
    try {
      const u = new URL(s, page);
      if (u.protocol == "https:" || u.protocol == "http:") return u;
    } catch {}
  };
  if (!isObj(o)) fail("AuthClient options must be an object");
  const b = o.backendUrl, p = o.provider, x = o.extraParams, a = o.apiOrigins, extras = [];
  if (!isStr(b) || !b) fail("backendUrl (string) is required");
  const u = http(b) || fail("backendUrl must be an http(s) URL or a path");
  if (u.search || u.hash) fail("backendUrl must not have a query or fragment");
  if (!isStr(p) || !p) fail("provider (string) is required");
  const opt = (v, m) => (v == null ? undefined : isStr(v) ? v : fail(m));
  const redirect = opt(o.redirectUri, "redirectUri must be a string");
  const scope = opt(o.scope, "scope must be a space-separated string");
  if (isObj(x)) {
    for (const [k, v] of Object.entries(x)) extras.push(k, isStr(v) ? v : fail("extraParams values must be strings"));
  } else if (x != null) fail("extraParams must be an object of strings");
  if (a != null && (!Array.isArray(a) || !a.every(isStr))) fail("apiOrigins must be an array of origins");
  return [
    u.href.replace(/\/+$/, ""),
    u.origin,
    p,
    redirect,
    scope && scope.split(/\s+/).filter(Boolean),
    extras,
    (a || []).map((s) => (http(s) || fail("apiOrigins must be an array of http(s) origins")).origin),
  ];
}
"#)]
extern "C" {
    /// `fetch(url, {POST, credentials: include, JSON, x-authsplit: 1})` → `[ok, json|null]`, or
    /// `null` when the network call failed.
    #[wasm_bindgen(js_name = authsplitPost)]
    fn post_raw(url: &str, body: &str) -> Promise;
    /// `p.then(v => step.run(v), () => step.run(null))`.
    #[wasm_bindgen(js_name = authsplitThen)]
    pub(crate) fn then(p: &Promise, step: JsValue) -> Promise;
    /// `p.then(v => step.run(v))` (a rejection of `p` passes through).
    #[wasm_bindgen(js_name = authsplitThenOk)]
    pub(crate) fn then_ok(p: &Promise, step: JsValue) -> Promise;
    /// Checks and normalizes `new AuthClient(options)` (see `Inner::from_options`); throws the
    /// `configuration` message as a string.
    #[wasm_bindgen(js_name = authsplitOptions, catch)]
    pub(crate) fn normalize_options(options: &JsValue, page: &str) -> Result<Array, JsValue>;
    /// `obj[key]`, or `undefined` when `obj` is not an object or the lookup throws.
    #[wasm_bindgen(js_name = authsplitGet)]
    pub(crate) fn get(obj: &JsValue, key: &str) -> JsValue;
    /// `obj[key] = value` on a plain object made by this crate.
    #[wasm_bindgen(js_name = authsplitSet)]
    pub(crate) fn set(obj: &js_sys::Object, key: &str, value: &JsValue);
    /// The first `state` parameter of a URL, or of a query string when `input` is no URL.
    #[wasm_bindgen(js_name = authsplitRawState)]
    pub(crate) fn raw_state(input: &str) -> Option<String>;
    /// `href` without the space-separated parameter `names` (and `extra`); `None` when it had
    /// none of them (or is no URL).
    #[wasm_bindgen(js_name = authsplitStrip)]
    pub(crate) fn strip_params(href: &str, names: &str, extra: Option<&str>) -> Option<String>;
    /// The page's `window` (or `None` outside a window): smaller than `web_sys::window()`,
    /// which probes `globalThis`/`global`/`self`/`window` through a lazily initialized
    /// thread-local.
    #[wasm_bindgen(js_name = authsplitWindow)]
    pub(crate) fn window() -> Option<web_sys::Window>;
    /// `new Request(input, init)`.
    #[wasm_bindgen(js_name = authsplitRequest, catch)]
    pub(crate) fn new_request(input: &JsValue, init: &JsValue)
    -> Result<web_sys::Request, JsValue>;
}

/// Starts `POST {base}{path}` with a JSON body; the promise resolves to what [`finish`] reads.
pub fn post(base: &str, path: &str, body: &JsValue) -> Result<Promise, ClientError> {
    let mut url = String::with_capacity(base.len() + path.len());
    url.push_str(base);
    url.push_str(path);
    let text = JSON::stringify(body)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| internal("request body not serializable"))?;
    Ok(post_raw(&url, &text))
}

/// Classifies what a [`post`] promise resolved to: the parsed JSON object of a 2xx reply; a
/// non-2xx reply as the backend's `ErrorBody`; a network failure or a reply that is not the
/// protocol's JSON as `backend_unreachable`.
pub fn finish(result: JsValue) -> Result<JsValue, ClientError> {
    let unexpected = |message| ClientError::new(ErrorCode::BackendUnreachable, message);
    if !Array::is_array(&result) {
        return Err(unexpected("the authsplit backend could not be reached"));
    }
    let pair = Array::from(&result);
    let ok = pair.get(0).is_truthy();
    let json = pair.get(1);
    if ok && js::is_plain_object(&json) {
        Ok(json)
    } else if ok {
        Err(unexpected(
            "the backend's reply is not authsplit JSON (check backendUrl)",
        ))
    } else {
        Err(ClientError::from_error_body(&json).unwrap_or_else(|| {
            unexpected("the backend answered with an unexpected error (check backendUrl)")
        }))
    }
}
