//! The inbox: notices of decisions with their reasons.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use pubdata_service::notices;
use pubdata_store::NoticeRow;
use serde::Serialize;

use super::{login_redirect, render};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::i18n::{t, Lang};
use crate::AppState;

#[derive(Serialize)]
struct NoticeView {
    id: i64,
    title: String,
    reason: Option<String>,
    link: Option<String>,
    created_at: i64,
    read: bool,
}

/// A notice's title in the reader's language; role keys in the params are translated too.
pub fn notice_title(lang: Lang, n: &NoticeRow) -> String {
    let params: Vec<(&str, String)> = n
        .params
        .iter()
        .map(|(k, v)| {
            let text = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            let text = if k == "role" {
                t(lang, &format!("role.{text}"), &[])
            } else {
                text
            };
            (k.as_str(), text)
        })
        .collect();
    t(lang, &format!("notice_kind.{}", n.kind), &params)
}

pub async fn page(State(app): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let items: Vec<NoticeView> = notices::inbox(&app.store, &ctx.caller)
        .await?
        .into_iter()
        .map(|n| NoticeView {
            id: n.id,
            title: notice_title(ctx.lang, &n),
            reason: n.reason,
            link: n.link,
            created_at: n.created_at,
            read: n.read_at.is_some(),
        })
        .collect();
    Ok(render(&app, &ctx, "inbox.html", context! { notices => items })?.into_response())
}

/// Marks a notice read and opens what it is about.
pub async fn read(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    notices::mark_read(&app.store, &ctx.caller, id).await?;
    let user_id = ctx.caller.actor.user_id.unwrap_or_default();
    let link = app
        .store
        .notice(user_id, id)
        .await?
        .and_then(|n| n.link)
        .filter(|l| l.starts_with('/'));
    Ok(Redirect::to(link.as_deref().unwrap_or("/inbox")).into_response())
}
