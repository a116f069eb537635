//! The pending sign-in transaction in `sessionStorage` (REFERENCE §2.10; RFC 6749 §10.12,
//! RFC 9700 §4.7.1).
//!
//! - One entry per transaction, under `authsplit.tx.<first 128 bits of SHA-256(state), hex>`:
//!   the key is derived from `state`, so a callback finds its own transaction and several
//!   sign-ins may be pending in one tab.
//! - Single use: [`take`] removes the entry before looking at it, whatever happens next.
//! - TTL: [`authsplit_core::wire::TRANSACTION_TTL_SECS`] (600 s); an older entry — or one
//!   claiming to come from the future — is `transaction_expired`.
//! - Only the pending transaction lives here; tokens never do.

use authsplit_core::ErrorCode;
use authsplit_core::wire::TRANSACTION_TTL_SECS;
use js_sys::{JSON, Object};
use wasm_bindgen::JsValue;
use web_sys::Storage;

use crate::error::{ClientError, storage_error};
use crate::js;

/// Prefix of every storage key this crate writes.
pub const KEY_PREFIX: &str = "authsplit.tx.";

/// Transaction lifetime in milliseconds (10 minutes).
pub const TTL_MS: f64 = (TRANSACTION_TTL_SECS * 1000) as f64;

/// Tolerated clock step backwards (a `createdAt` this far in the future is refused).
pub const FUTURE_SKEW_MS: f64 = 60_000.0;

/// A sign-in in progress, as kept between `login()` and `handleCallback()`.
#[derive(Clone, PartialEq)]
pub struct PendingTransaction {
    /// The PKCE code verifier (RFC 7636 §4.1). Secret.
    pub verifier: String,
    /// The `state` sent in the authorization request (RFC 6749 §4.1.1).
    pub state: String,
    /// The OIDC nonce, if one was made (OIDC Core §3.1.2.1).
    pub nonce: Option<String>,
    /// Provider id.
    pub provider: String,
    /// Where to go after sign-in (a checked same-origin path).
    pub return_to: String,
    /// `Date.now()` when the transaction was made.
    pub created_at: f64,
    /// The expected `iss` in the callback (RFC 9207 §2.4), if known.
    pub issuer: Option<String>,
    /// Whether the callback must carry `iss` (RFC 9207 §2.4).
    pub require_iss: bool,
    /// Name of the code parameter in the callback (`code`; DingTalk `authCode`).
    pub code_param: String,
}

impl core::fmt::Debug for PendingTransaction {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PendingTransaction([redacted])")
    }
}

impl PendingTransaction {
    /// The JSON text stored in `sessionStorage`.
    pub fn to_json(&self) -> Result<String, ClientError> {
        let o = Object::new();
        js::set(&o, "verifier", &JsValue::from_str(&self.verifier));
        js::set(&o, "state", &JsValue::from_str(&self.state));
        js::set(&o, "nonce", &js::opt_str(self.nonce.as_deref()));
        js::set(&o, "provider", &JsValue::from_str(&self.provider));
        js::set(&o, "returnTo", &JsValue::from_str(&self.return_to));
        js::set(&o, "createdAt", &JsValue::from_f64(self.created_at));
        js::set(&o, "issuer", &js::opt_str(self.issuer.as_deref()));
        js::set(&o, "requireIss", &JsValue::from_bool(self.require_iss));
        js::set(&o, "codeParam", &JsValue::from_str(&self.code_param));
        JSON::stringify(&o)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(storage_error)
    }

    /// Parses stored JSON text; `None` when it is not a complete transaction.
    pub fn from_json(text: &str) -> Option<Self> {
        let v = JSON::parse(text).ok()?;
        if !js::is_plain_object(&v) {
            return None;
        }
        Some(Self {
            verifier: js::get_str(&v, "verifier")?,
            state: js::get_str(&v, "state")?,
            nonce: js::get_str(&v, "nonce"),
            provider: js::get_str(&v, "provider")?,
            return_to: js::get_str(&v, "returnTo")?,
            created_at: js::get_f64(&v, "createdAt")?,
            issuer: js::get_str(&v, "issuer"),
            require_iss: js::get(&v, "requireIss").as_bool().unwrap_or(false),
            code_param: js::get_str(&v, "codeParam").unwrap_or_else(|| "code".to_owned()),
        })
    }

    /// Whether the transaction is past its TTL at `now_ms` (or dated in the future, or
    /// carries a timestamp that is not a finite number).
    pub fn is_expired(&self, now_ms: f64) -> bool {
        !self.created_at.is_finite()
            || now_ms - self.created_at > TTL_MS
            || self.created_at - now_ms > FUTURE_SKEW_MS
    }
}

/// `authsplit.tx.` + the first 16 bytes of SHA-256(`state`) in lowercase hex.
pub fn storage_key(state: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = authsplit_core::pkce::sha256(state.as_bytes());
    let mut key = String::with_capacity(KEY_PREFIX.len() + 32);
    key.push_str(KEY_PREFIX);
    for b in digest.iter().take(16) {
        key.push(HEX[usize::from(b >> 4)] as char);
        key.push(HEX[usize::from(b & 0x0f)] as char);
    }
    key
}

/// The page's `sessionStorage`.
pub fn session_storage() -> Result<Storage, ClientError> {
    crate::http::window()
        .ok_or_else(storage_error)?
        .session_storage()
        .ok()
        .flatten()
        .ok_or_else(storage_error)
}

/// Stores `tx` under the key derived from its state.
pub fn save(storage: &Storage, tx: &PendingTransaction) -> Result<(), ClientError> {
    let json = tx.to_json()?;
    storage
        .set_item(&storage_key(&tx.state), &json)
        .map_err(|_| storage_error())
}

/// Takes the transaction for `state` out of storage (single use: the entry is removed before
/// anything else is checked). `Ok(None)` when there is none; `transaction_missing` when the
/// entry is unreadable; `transaction_expired` when it is past its TTL at `now_ms`.
pub fn take(
    storage: &Storage,
    state: &str,
    now_ms: f64,
) -> Result<Option<PendingTransaction>, ClientError> {
    let key = storage_key(state);
    let raw = storage.get_item(&key).map_err(|_| storage_error())?;
    let Some(raw) = raw else {
        return Ok(None);
    };
    storage.remove_item(&key).map_err(|_| storage_error())?;
    let tx = PendingTransaction::from_json(&raw).ok_or_else(|| {
        ClientError::new(
            ErrorCode::TransactionMissing,
            "the stored sign-in transaction is unreadable; start a new sign-in",
        )
    })?;
    if tx.is_expired(now_ms) {
        return Err(ClientError::new(
            ErrorCode::TransactionExpired,
            "the sign-in took longer than 10 minutes; start a new sign-in",
        ));
    }
    Ok(Some(tx))
}

fn our_keys(storage: &Storage) -> Result<Vec<String>, ClientError> {
    let n = storage.length().map_err(|_| storage_error())?;
    let mut keys = Vec::new();
    for i in 0..n {
        if let Ok(Some(k)) = storage.key(i)
            && k.starts_with(KEY_PREFIX)
        {
            keys.push(k);
        }
    }
    Ok(keys)
}

/// Removes every pending transaction of this tab; returns how many there were.
pub fn clear_all(storage: &Storage) -> Result<usize, ClientError> {
    let keys = our_keys(storage)?;
    for k in &keys {
        storage.remove_item(k).map_err(|_| storage_error())?;
    }
    Ok(keys.len())
}

/// Removes pending transactions that are expired (or unreadable) at `now_ms`; returns how
/// many were removed. Called by `login()` so abandoned sign-ins do not pile up.
pub fn purge_expired(storage: &Storage, now_ms: f64) -> Result<usize, ClientError> {
    let mut removed = 0;
    for k in our_keys(storage)? {
        let keep = storage
            .get_item(&k)
            .ok()
            .flatten()
            .and_then(|raw| PendingTransaction::from_json(&raw))
            .is_some_and(|tx| !tx.is_expired(now_ms));
        if !keep {
            storage.remove_item(&k).map_err(|_| storage_error())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Number of pending transactions in this tab.
pub fn pending_count(storage: &Storage) -> Result<usize, ClientError> {
    Ok(our_keys(storage)?.len())
}
