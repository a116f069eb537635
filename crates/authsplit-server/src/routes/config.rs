//! `GET /config`: the providers the SPA may offer and the mode (`token` or `bff`). Never a
//! secret.

use authsplit_core::wire::{ConfigReply, ProviderInfo};
use axum::Json;
use axum::extract::State;

use crate::AppState;

/// `GET /config`.
pub(crate) async fn config(State(app): State<AppState>) -> Json<ConfigReply> {
    Json(ConfigReply {
        providers: app
            .inner
            .providers
            .values()
            .map(|p| ProviderInfo {
                id: p.id.clone(),
                name: p.name.clone(),
                preset: p.preset().map(str::to_owned),
            })
            .collect(),
        mode: match app.inner.server.mode {
            crate::config::Mode::Bff => "bff",
            crate::config::Mode::Token => "token",
        }
        .to_owned(),
    })
}
