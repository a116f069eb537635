//! Microsoft Entra ID multi-tenant issuer checks (PROVIDERS.md § Microsoft, "Issuer quirk").
//!
//! For `common` / `organizations` / `consumers` the discovery `issuer` is literally
//! `https://login.microsoftonline.com/{tenantid}/v2.0`: substitute the token's `tid` before
//! comparing with `iss` (OIDC Core §3.1.3.7 step 2), and check `tid` against the allowed
//! tenants (as oauth2-proxy does). Pure functions; the backend calls [`check_issuer`] after
//! verifying the ID token signature.

use super::ProviderProfile;
use crate::Error;
use crate::error::ErrorCode;

/// The tenant of personal Microsoft accounts.
pub const PERSONAL_ACCOUNTS_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Whether `value` is a GUID (`8-4-4-4-12` hex digits).
pub fn is_tenant_id(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `template` with `{tenantid}` replaced by `tid` (a GUID, else `InvalidIdToken`).
pub fn expected_issuer(template: &str, tid: &str) -> Result<String, Error> {
    if !is_tenant_id(tid) {
        return Err(Error::new(
            ErrorCode::InvalidIdToken,
            "Microsoft: the ID token's `tid` is not a tenant id",
        ));
    }
    Ok(template.replace("{tenantid}", tid))
}

/// Checks an ID token's `iss` and `tid` for a resolved Microsoft-style profile:
/// - `tid` is a GUID;
/// - a GUID `vars.tenant` (single tenant) requires `tid` to equal it; `consumers` requires the
///   personal-account tenant; `organizations` forbids it;
/// - a non-empty `oidc.allowed_tenants` must contain `tid` (`AccessDenied` otherwise);
/// - `iss` equals the issuer template (or the configured issuer) with `{tenantid}` = `tid`,
///   byte for byte (`InvalidIdToken` otherwise).
pub fn check_issuer(profile: &ProviderProfile, iss: &str, tid: &str) -> Result<(), Error> {
    let tid_lc = tid.to_ascii_lowercase();
    if !is_tenant_id(tid) {
        return Err(Error::new(
            ErrorCode::InvalidIdToken,
            "Microsoft: the ID token's `tid` is not a tenant id",
        ));
    }
    let tenant = profile.vars.get("tenant").map(|t| t.to_ascii_lowercase());
    let denied = |why: &'static str| Err(Error::new(ErrorCode::AccessDenied, why));
    match tenant.as_deref() {
        Some(t) if is_tenant_id(t) && t != tid_lc => {
            return denied("Microsoft: the account belongs to another tenant");
        }
        Some("consumers") if tid_lc != PERSONAL_ACCOUNTS_TENANT => {
            return denied("Microsoft: only personal accounts are allowed");
        }
        Some("organizations") if tid_lc == PERSONAL_ACCOUNTS_TENANT => {
            return denied("Microsoft: personal accounts are not allowed");
        }
        _ => {}
    }
    let allowed = &profile.oidc.allowed_tenants;
    if !allowed.is_empty() && !allowed.iter().any(|a| a.eq_ignore_ascii_case(tid)) {
        return denied("Microsoft: the account's tenant is not in allowed_tenants");
    }
    let template = profile
        .oidc
        .tenant_issuer_template
        .as_deref()
        .or(profile.oidc.issuer.as_deref())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::Configuration,
                "Microsoft: no issuer configured for the ID token check",
            )
        })?;
    let expected = expected_issuer(template, tid)?;
    if iss == expected {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidIdToken,
            "Microsoft: the ID token's `iss` does not match the tenant issuer",
        ))
    }
}
