//! The pages of showcases (应用成果): the public gallery, the submission form (with an optional
//! screenshot upload), one showcase, and the administration institution's review queue.

use std::collections::HashMap;

use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Response};
use minijinja::{context, Value};
use pubdata_core::metadata::DomainList;
use pubdata_core::org::OrgKind;
use pubdata_core::showcase::{NewShowcase, ShowcaseKind, SCREENSHOT_MAX_BYTES};
use pubdata_core::DomainError;
use pubdata_service::showcases::{self, GalleryQuery, ShowcaseView};

use super::{done_key, form_error, login_redirect, render, see_other, FormMap};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::AppState;

/// Room for the form's text fields beside the screenshot.
const FORM_OVERHEAD: usize = 64 * 1024;

/// A fresh idempotency key for a form, so that a double click submits it once.
pub(crate) fn random_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The multipart body within `limit` bytes (the server's default body limit is smaller).
async fn multipart_body(req: axum::extract::Request, limit: usize) -> AppResult<Multipart> {
    use axum::extract::{DefaultBodyLimit, FromRequest};
    use tower::{Layer, ServiceExt};
    let extract = tower::service_fn(|req: axum::extract::Request| async move {
        Ok::<_, std::convert::Infallible>(Multipart::from_request(req, &()).await)
    });
    match DefaultBodyLimit::max(limit).layer(extract).oneshot(req).await {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(rejection)) => Err(AppError::BadRequest(rejection.body_text())),
        Err(never) => match never {},
    }
}

fn kinds() -> Vec<&'static str> {
    ShowcaseKind::ALL.iter().map(|k| k.as_str()).collect()
}

fn domains() -> Vec<(String, String)> {
    DomainList::standard()
        .iter()
        .map(|(k, n)| (k.to_string(), n.to_string()))
        .collect()
}

pub(crate) fn card(v: &ShowcaseView) -> Value {
    context! {
        s => v.row, screenshot => v.screenshot_url(), resources => v.resources, overdue => v.overdue,
    }
}

/// The accepted showcases that used a resource, for its dataset page.
pub(crate) async fn on_dataset(app: &AppState, resource_id: i64) -> AppResult<Vec<Value>> {
    let views = showcases::for_resource(&app.store, resource_id).await?;
    Ok(views.iter().map(card).collect())
}

/// 成果展示 — the gallery of accepted showcases, filtered by type, domain and provider.
pub async fn gallery(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let query = GalleryQuery {
        kind: get("kind"),
        domain: get("domain"),
        provider_org_id: get("provider").parse().ok(),
        resource_id: None,
        limit: 24,
        offset: get("offset").parse().unwrap_or(0),
    };
    let (views, total) = match showcases::gallery(&app.store, &query).await {
        Ok(r) => r,
        // An unknown type in a hand-made link shows the whole gallery.
        Err(pubdata_store::StoreError::Domain(DomainError::Validation(_))) => {
            showcases::gallery(&app.store, &GalleryQuery::default()).await?
        }
        Err(e) => return Err(e.into()),
    };
    let providers = app.store.list_orgs(Some(OrgKind::Provider)).await?;
    let items: Vec<Value> = views.iter().map(card).collect();
    let page = context! {
        items => items, total => total, kinds => kinds(), domains => domains(), providers => providers,
        f_kind => query.kind, f_domain => query.domain, f_provider => query.provider_org_id,
        done => done_key(&q),
    };
    Ok(render(&app, &ctx, "showcases.html", page)?.into_response())
}

fn new_page(q: &HashMap<String, String>) -> Value {
    context! {
        kinds => kinds(), max_mb => SCREENSHOT_MAX_BYTES / 1024 / 1024,
        resource => q.get("resource").cloned().unwrap_or_default(),
    }
}

/// The submission form; `?resource=<id>` fills in a resource used (from a dataset page).
pub async fn new_form(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let form: HashMap<String, String> = q
        .get("resource")
        .map(|r| [("resource_ids".to_string(), r.clone())].into_iter().collect())
        .unwrap_or_default();
    let page = context! { form => form, idempotency_key => random_key(), ..new_page(&q) };
    Ok(render(&app, &ctx, "showcase_new.html", page)?.into_response())
}

/// Reads the multipart form: the text fields and the screenshot's bytes (empty when no file).
async fn read_form(multipart: &mut Multipart) -> AppResult<(HashMap<String, String>, Vec<u8>)> {
    let too_large = || {
        AppError::Domain(DomainError::Validation(vec![pubdata_core::FieldError::new(
            "screenshot",
            "screenshot_too_large",
        )
        .with("max_mb", SCREENSHOT_MAX_BYTES / 1024 / 1024)]))
    };
    let bad = |e: axum::extract::multipart::MultipartError| match e.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        _ => AppError::Domain(DomainError::field("screenshot", "upload_interrupted")),
    };
    let mut fields = HashMap::new();
    let mut shot = Vec::new();
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "screenshot" {
            while let Some(chunk) = field.chunk().await.map_err(bad)? {
                if (shot.len() + chunk.len()) as u64 > SCREENSHOT_MAX_BYTES {
                    return Err(too_large());
                }
                shot.extend_from_slice(&chunk);
            }
        } else {
            let text = field.text().await.map_err(bad)?;
            fields.insert(name, text);
        }
    }
    Ok((fields, shot))
}

/// Submits the form; a repeat (double click) shows the first submission.
pub async fn submit(State(app): State<AppState>, ctx: Ctx, req: axum::extract::Request) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let limit = usize::try_from(SCREENSHOT_MAX_BYTES).unwrap_or(usize::MAX) + FORM_OVERHEAD;
    let mut multipart = multipart_body(req, limit).await?;
    let (fields, shot) = match read_form(&mut multipart).await {
        Ok(r) => r,
        Err(e) => {
            let page = context! { idempotency_key => random_key(), ..new_page(&HashMap::new()) };
            return form_error(&app, &ctx, "showcase_new.html", page, &HashMap::new(), e);
        }
    };
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let input = NewShowcase {
        title: get("title"),
        kind: get("kind"),
        description: get("description"),
        link: get("link"),
        resource_ids: get("resource_ids")
            .split([',', '，', ' '])
            .map(str::to_string)
            .collect(),
        idempotency_key: get("idempotency_key"),
    };
    let screenshot = (!shot.is_empty()).then_some(shot.as_slice());
    match showcases::submit(
        &app.store,
        &app.files,
        &ctx.caller,
        &input,
        screenshot,
        &app.showcases,
        &app.calendar,
    )
    .await
    {
        Ok(s) => Ok(see_other(&format!("/showcases/{}", s.id), "showcase_submitted")),
        Err(e) => {
            let page = context! { idempotency_key => get("idempotency_key"), ..new_page(&HashMap::new()) };
            form_error(&app, &ctx, "showcase_new.html", page, &fields, e.into())
        }
    }
}

async fn page_values(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Value> {
    let v = showcases::get(&app.store, &ctx.caller, id).await?;
    Ok(context! {
        events => v.events, state => v.state.as_str(), reviewable => v.caller.admin && !v.caller.submitter
            && !v.state.is_final(), own => v.caller.submitter || v.caller.admin, ..card(&v)
    })
}

/// One showcase: public once accepted; its submitter and the administration institution see
/// it before, with its history, and the latter decides on it here.
pub async fn page(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let values = page_values(&app, &ctx, id).await?;
    Ok(render(&app, &ctx, "showcase.html", context! { done => done_key(&q), ..values })?.into_response())
}

/// The screenshot, for whoever may see the showcase.
pub async fn screenshot(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    crate::api::showcases::image_response(&app, &ctx, id).await
}

/// Accept or reject (with a reason).
pub async fn decide(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: FormMap) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let result = match crate::api::showcases::decision(&form.get("decision"), form.get("reason")) {
        Ok(action) => showcases::act(&app.store, &ctx.caller, id, &action)
            .await
            .map_err(AppError::from),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/showcases/{id}"), "showcase_decided")),
        Err(e) => {
            let values = page_values(&app, &ctx, id).await?;
            form_error(&app, &ctx, "showcase.html", values, &form.0, e)
        }
    }
}

/// The administration institution's review queue.
pub async fn queue(State(app): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let entries = showcases::queue(&app.store, &ctx.caller, &app.calendar).await?;
    let items: Vec<Value> = entries
        .iter()
        .map(|e| context! { overdue_days => e.overdue_days, ..card(&e.showcase) })
        .collect();
    Ok(render(&app, &ctx, "showcase_queue.html", context! { items => items })?.into_response())
}
