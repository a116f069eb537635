//! Calls from the browser to the authsplit backend (the `authsplit_core::wire` protocol):
//! JSON bodies, `credentials: "include"` (the backend's HttpOnly cookies), and the CSRF
//! header `x-authsplit: 1` (RFC 10017 §6.1.3.3).
//!
//! The `fetch` plumbing is a few lines of JS (one import, one await in Rust) — smaller than
//! driving `Request`/`Headers`/`Response` from Rust (REFERENCE §6).

use authsplit_core::ErrorCode;
use js_sys::{Array, JSON, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

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
export function authsplitRequest(input, init) {
  return new Request(input, init ?? undefined);
}
"#)]
extern "C" {
    /// `fetch(url, {POST, credentials: include, JSON, x-authsplit: 1})` → `[ok, json|null]`, or
    /// `null` when the network call failed.
    #[wasm_bindgen(js_name = authsplitPost)]
    fn post(url: &str, body: &str) -> Promise;
    /// `new Request(input, init)`.
    #[wasm_bindgen(js_name = authsplitRequest, catch)]
    pub(crate) fn new_request(input: &JsValue, init: &JsValue)
    -> Result<web_sys::Request, JsValue>;
}

/// Starts `POST {base}{path}`; see [`finish`].
#[inline(never)]
fn start(base: &str, path: &str, body: &JsValue) -> Result<JsFuture, ClientError> {
    let mut url = String::with_capacity(base.len() + path.len());
    url.push_str(base);
    url.push_str(path);
    let text = JSON::stringify(body)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| internal("request body not serializable"))?;
    Ok(JsFuture::from(post(&url, &text)))
}

/// Classifies the reply of [`post`].
#[inline(never)]
fn finish(result: Result<JsValue, JsValue>) -> Result<JsValue, ClientError> {
    let unexpected = |message| ClientError::new(ErrorCode::BackendUnreachable, message);
    let pair = match result {
        Ok(v) if Array::is_array(&v) => Array::from(&v),
        _ => return Err(unexpected("the authsplit backend could not be reached")),
    };
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

/// `POST {base}{path}` with a JSON body. Resolves to the parsed JSON object of a 2xx reply;
/// a non-2xx reply becomes the backend's `ErrorBody` as a [`ClientError`]; a network failure
/// or a reply that is not the protocol's JSON becomes `backend_unreachable`.
pub async fn post_json(base: &str, path: &str, body: &JsValue) -> Result<JsValue, ClientError> {
    let fut = start(base, path, body)?;
    finish(fut.await)
}
