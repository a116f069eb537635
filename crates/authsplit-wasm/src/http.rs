//! Calls from the browser to the authsplit backend (the `authsplit_core::wire` protocol):
//! JSON bodies, `credentials: "include"` (the backend's HttpOnly cookies), and the CSRF
//! header `x-authsplit: 1` (RFC 10017 §6.1.3.3).

use authsplit_core::ErrorCode;
use authsplit_core::wire::CSRF_HEADER;
use js_sys::JSON;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestCredentials, RequestInit, Response};

use crate::error::{ClientError, internal};
use crate::js;

fn unreachable_backend() -> ClientError {
    ClientError::new(
        ErrorCode::BackendUnreachable,
        "the authsplit backend could not be reached",
    )
}

/// `POST {base}{path}` with a JSON body. Resolves to the parsed JSON object of a 2xx reply;
/// a non-2xx reply becomes the backend's `ErrorBody` as a [`ClientError`]; a network failure
/// or a reply that is not the protocol's JSON becomes `backend_unreachable`.
pub async fn post_json(base: &str, path: &str, body: &JsValue) -> Result<JsValue, ClientError> {
    let window = web_sys::window().ok_or_else(|| internal("no window"))?;
    let mut url = String::with_capacity(base.len() + path.len());
    url.push_str(base);
    url.push_str(path);

    let headers = Headers::new().map_err(|_| internal("Headers unavailable"))?;
    headers
        .set("content-type", "application/json")
        .and_then(|()| headers.set(CSRF_HEADER, "1"))
        .map_err(|_| internal("Headers unavailable"))?;
    let text = JSON::stringify(body).map_err(|_| internal("request body not serializable"))?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_credentials(RequestCredentials::Include);
    init.set_headers(&headers);
    init.set_body(&text);

    let resp = JsFuture::from(window.fetch_with_str_and_init(&url, &init))
        .await
        .map_err(|_| unreachable_backend())?;
    let resp: Response = resp.dyn_into().map_err(|_| unreachable_backend())?;
    let json = match resp.json() {
        Ok(p) => JsFuture::from(p).await.ok(),
        Err(_) => None,
    };
    match json {
        Some(v) if resp.ok() && js::is_plain_object(&v) => Ok(v),
        Some(v) if !resp.ok() => Err(ClientError::from_error_body(&v).unwrap_or_else(|| {
            ClientError::new(
                ErrorCode::BackendUnreachable,
                "the backend answered with an unexpected error (check backendUrl)",
            )
        })),
        _ => Err(ClientError::new(
            ErrorCode::BackendUnreachable,
            "the backend's reply is not authsplit JSON (check backendUrl)",
        )),
    }
}
