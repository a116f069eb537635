//! Google's `client_secrets.json` (`{"web": {...}}` or `{"installed": {...}}`, as written by the
//! Google Cloud console and read by `flow_from_clientsecrets`) loaded as a provider definition.

use serde_json::Value;

use super::{ClientCredentials, ProviderProfile, check_endpoint_url, preset};
use crate::Error;
use crate::error::ErrorCode;

/// Which kind of client the file describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// `"web"`: a web application.
    Web,
    /// `"installed"`: a desktop/installed application.
    Installed,
}

/// A loaded `client_secrets.json`. `Debug` never shows the secret.
#[derive(Clone, Debug)]
pub struct GoogleClientSecrets {
    /// `web` or `installed`.
    pub kind: ClientKind,
    /// The Google preset with `auth_uri` / `token_uri` from the file.
    pub profile: ProviderProfile,
    /// `client_id` + `client_secret`.
    pub credentials: ClientCredentials,
    /// `redirect_uris`, in order (the backend must pick one and register it).
    pub redirect_uris: Vec<String>,
    /// `javascript_origins` (web clients), in order.
    pub javascript_origins: Vec<String>,
}

fn cfg(message: String) -> Error {
    Error::new(ErrorCode::Configuration, message)
}

fn strings(obj: &serde_json::Map<String, Value>, key: &str) -> Result<Vec<String>, Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    cfg(format!(
                        "client_secrets.json: `{key}` must be a list of strings"
                    ))
                })
            })
            .collect(),
        Some(_) => Err(cfg(format!(
            "client_secrets.json: `{key}` must be a list of strings"
        ))),
    }
}

/// Hosts a `client_secrets.json` `auth_uri` may name (Google's authorization server).
const AUTH_HOSTS: &[&str] = &["accounts.google.com"];
/// Hosts a `client_secrets.json` `token_uri` may name (the current token endpoint, and the one
/// older files carry).
const TOKEN_HOSTS: &[&str] = &["oauth2.googleapis.com", "accounts.google.com"];

/// The file configures Google only: an endpoint elsewhere (an edited or forged file) would send
/// the code and the client secret to another server, so the host must be one of Google's and
/// the URL `https://` with the default port.
fn pinned(url: &str, key: &str, hosts: &[&str]) -> Result<(), Error> {
    let authority = url
        .strip_prefix("https://")
        .and_then(|rest| rest.split(['/', '?']).next());
    if authority.is_some_and(|a| hosts.contains(&a)) {
        Ok(())
    } else {
        Err(cfg(format!(
            "client_secrets.json: `{key}` must be an https URL on {} (Google's own endpoints); \
             download the file again from the Google Cloud console",
            hosts.join(" or ")
        )))
    }
}

/// Loads `client_secrets.json`. Errors (`Configuration`) say what to fix: not JSON, neither or
/// both of `web` / `installed`, a missing or empty `client_id` / `client_secret`, an `auth_uri`
/// / `token_uri` that is not https on one of Google's hosts, a malformed list.
pub fn from_client_secrets(json: &str) -> Result<GoogleClientSecrets, Error> {
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(json) else {
        return Err(cfg(
            "client_secrets.json is not a JSON object; download it again from the Google Cloud console".into(),
        ));
    };
    let (kind, section) = match (root.get("web"), root.get("installed")) {
        (Some(w), None) => (ClientKind::Web, w),
        (None, Some(i)) => (ClientKind::Installed, i),
        (Some(_), Some(_)) => {
            return Err(cfg(
                "client_secrets.json has both `web` and `installed`; keep one".into(),
            ));
        }
        (None, None) => {
            return Err(cfg(
                "client_secrets.json has neither `web` nor `installed` at the top level".into(),
            ));
        }
    };
    let Value::Object(c) = section else {
        return Err(cfg(
            "client_secrets.json: the client section is not an object".into(),
        ));
    };
    let text = |key: &str| -> Option<String> {
        c.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let client_id = text("client_id")
        .ok_or_else(|| cfg("client_secrets.json: `client_id` is missing".into()))?;
    let secret = text("client_secret").ok_or_else(|| {
        cfg("client_secrets.json: `client_secret` is missing; the backend needs the secret of a confidential client".into())
    })?;
    let mut profile = preset("google").ok_or_else(|| cfg("the google preset is missing".into()))?;
    if let Some(auth_uri) = text("auth_uri") {
        check_endpoint_url(&auth_uri, "auth_uri", "google")?;
        pinned(&auth_uri, "auth_uri", AUTH_HOSTS)?;
        profile.endpoints.authorization = Some(auth_uri);
    }
    if let Some(token_uri) = text("token_uri") {
        check_endpoint_url(&token_uri, "token_uri", "google")?;
        pinned(&token_uri, "token_uri", TOKEN_HOSTS)?;
        profile.endpoints.token = Some(token_uri);
    }
    Ok(GoogleClientSecrets {
        kind,
        profile,
        credentials: ClientCredentials::new(client_id, secret),
        redirect_uris: strings(c, "redirect_uris")?,
        javascript_origins: strings(c, "javascript_origins")?,
    })
}
