//! CKAN's Action API, read side, at `/api/3/action/{name}` and `/api/action/{name}`.

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
