//! `GET /healthz`: liveness, no state touched.

use axum::Json;
use axum::response::IntoResponse;

/// `GET /healthz`.
pub(crate) async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}
