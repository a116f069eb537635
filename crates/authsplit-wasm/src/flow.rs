//! The protocol steps of the browser half that need no network: reading the backend's
//! authorization template, and turning a callback URL plus the stored transaction into what
//! the token exchange needs (RFC 6749 §4.1.2, §4.1.2.1, §10.12; RFC 9207 §2.4; REFERENCE §2).

use authsplit_core::ErrorCode;
use authsplit_core::authorize::{AuthorizeQuirks, AuthorizeTemplate};
use authsplit_core::callback::{
    CallbackExpectations, CallbackResponse, ParseOptions, parse_callback, validate_callback,
};
use authsplit_core::random::State;
use authsplit_core::secret::AuthorizationCode;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Storage;

use crate::error::{ClientError, internal};
use crate::js;
use crate::store::{self, PendingTransaction};

/// Parameters removed from the address bar after a callback was read (REFERENCE §2.7),
/// space-separated.
pub const CALLBACK_PARAMS: &str = "code state iss error error_description error_uri session_state";

fn bad_template() -> ClientError {
    internal("the backend's authorization template is malformed")
}

/// Reads the `authorize` member of a `POST /transactions` reply (the backend's
/// [`AuthorizeTemplate`], snake_case) without serde.
pub fn template_from_js(v: &JsValue) -> Result<AuthorizeTemplate, ClientError> {
    if !js::is_plain_object(v) {
        return Err(bad_template());
    }
    let req = |k: &str| js::get_str(v, k).ok_or_else(bad_template);
    let mut t = AuthorizeTemplate::new(
        req("authorization_endpoint")?,
        req("client_id")?,
        req("redirect_uri")?,
    );
    if let Some(scopes) = js::get_str_array(v, "scopes").map_err(|_| bad_template())? {
        t.scopes = scopes;
    }
    if let Some(sep) = js::get_str(v, "scope_separator") {
        t.scope_separator = sep;
    }
    t.prompt = js::get_str(v, "prompt");
    let extras = js::get(v, "extra_params");
    if let Some(arr) = extras.dyn_ref::<js_sys::Array>() {
        for pair in arr.iter() {
            let pair: &js_sys::Array = pair.dyn_ref().ok_or_else(bad_template)?;
            let (Some(k), Some(val)) = (pair.get(0).as_string(), pair.get(1).as_string()) else {
                return Err(bad_template());
            };
            t.extra_params.push((k, val));
        }
    } else if !extras.is_undefined() && !extras.is_null() {
        return Err(bad_template());
    }
    let q = js::get(v, "quirks");
    if js::is_plain_object(&q) {
        let mut quirks = AuthorizeQuirks::default();
        quirks.client_id_param = js::get_str(&q, "client_id_param");
        quirks.fragment = js::get_str(&q, "fragment");
        quirks.param_order = js::get_str_array(&q, "param_order").map_err(|_| bad_template())?;
        quirks.omit_pkce = js::get(&q, "omit_pkce").as_bool().unwrap_or(false);
        quirks.omit_response_type = js::get(&q, "omit_response_type").as_bool().unwrap_or(false);
        t.quirks = quirks;
    }
    Ok(t)
}

/// What `POST /token` needs, from a validated callback and its transaction.
pub struct PreparedExchange {
    /// The transaction (already removed from storage).
    pub tx: PendingTransaction,
    /// The authorization code.
    pub code: AuthorizationCode,
    /// `iss` from the callback (RFC 9207), if sent.
    pub iss: Option<String>,
}

fn state_of(r: &CallbackResponse) -> Option<String> {
    match r {
        CallbackResponse::Success { state, .. } | CallbackResponse::Error { state, .. } => {
            state.clone()
        }
        CallbackResponse::Denied { state, .. } => Some(state.clone()),
        _ => None,
    }
}

/// The first `state` of a URL or query string that core could not parse.
fn raw_state(input: &str) -> Option<String> {
    crate::http::raw_state(input)
}

/// Reads a callback against this tab's stored transactions:
///
/// 1. parse (RFC 6749 §4.1.2; duplicates and tokens in the URL are refused — REFERENCE §2.6);
/// 2. take the transaction whose key derives from the received `state` out of storage — it
///    is gone whatever happens next (single use, REFERENCE §2.10);
/// 3. no such transaction: every pending transaction of this tab is dropped, and the error is
///    `state_missing` (no state), `state_mismatch` (this tab was waiting for another state —
///    RFC 6749 §10.12) or `transaction_missing` (replayed, other tab, never started);
/// 4. TTL (`transaction_expired`), then core's validation: state in constant time, `iss`
///    (RFC 9207 §2.4, also on error responses), errors and denial → `access_denied` /
///    `authorization_error`.
pub fn prepare_callback(
    url: &str,
    storage: &Storage,
    now_ms: f64,
) -> Result<PreparedExchange, ClientError> {
    let parsed = parse_callback(url, &ParseOptions::default());
    let state = match &parsed {
        Ok(r) => state_of(r),
        Err(_) => raw_state(url),
    };
    let taken = match state.as_deref() {
        Some(s) => store::take(storage, s, now_ms),
        None => Ok(None),
    };
    let taken = match taken {
        Ok(Some(tx)) => Ok(tx),
        Ok(None) => {
            let others = store::clear_all(storage)?;
            Err(if state.is_none() {
                ClientError::new(
                    ErrorCode::StateMissing,
                    "the callback carries no state (RFC 6749 §4.1.2)",
                )
            } else if others > 0 {
                ClientError::new(
                    ErrorCode::StateMismatch,
                    "the callback's state does not match the sign-in this tab started (RFC 6749 §10.12)",
                )
            } else {
                ClientError::new(
                    ErrorCode::TransactionMissing,
                    "no sign-in is pending for this callback (already used, expired, or started in another tab)",
                )
            })
        }
        Err(e) => Err(e),
    };
    // A syntax error outranks the storage outcome; the transaction is gone either way.
    let parsed = parsed?;
    let tx = taken?;
    let parsed = if tx.code_param == "code" {
        parsed
    } else {
        let mut options = ParseOptions::default();
        options.code_param = tx.code_param.clone();
        parse_callback(url, &options)?
    };
    let expected_state = State::parse(&tx.state)?;
    let validated = validate_callback(
        parsed,
        &CallbackExpectations {
            state: &expected_state,
            issuer: tx.issuer.as_deref(),
            require_iss: tx.require_iss,
        },
    )?;
    Ok(PreparedExchange {
        tx,
        code: validated.code,
        iss: validated.iss,
    })
}

/// `href` without the callback parameters (plus `extra`), or `None` when there were none.
pub fn strip_callback_params(href: &str, extra: Option<&str>) -> Option<String> {
    crate::http::strip_params(href, CALLBACK_PARAMS, extra)
}
