//! The catalogue in the open-data world's formats: DCAT-AP 3 and Frictionless data packages.

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
