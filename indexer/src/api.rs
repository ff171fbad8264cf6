//! The HTTP API (JSON, paginated, with an OpenAPI document) and the dashboard.

use alloy::providers::DynProvider;
use axum::Router;

use crate::{Db, Deployment};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The chain.
    pub provider: DynProvider,
    /// The deployment.
    pub deployment: Deployment,
}

impl AppState {
    /// Shared state of the API.
    pub fn new(db: Db, provider: DynProvider, deployment: Deployment) -> Self {
        Self {
            db,
            provider,
            deployment,
        }
    }
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new().with_state(state)
}
