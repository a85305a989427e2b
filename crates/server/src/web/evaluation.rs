//! 评估考核 pages (§8): the administration institution's dashboard (runs, the indicator system
//! form), one run in full, the public statistics page with server-drawn charts, and a printable
//! report. The rules live in `core::evaluation`, the computing in `service::evaluation`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use minijinja::{context, Value};
use pubdata_core::evaluation::{self, Layer, Unit, CATALOGUE};
use pubdata_core::quality::Dimension;
use pubdata_core::{DomainError, FieldError};
use pubdata_service::evaluation::{self as service, Run};

use super::charts::{self, Bar, Series};
use super::{done_key, form_error, login_redirect, render, see_other, FormMap};
use crate::api::evaluation::{metric_name, to_system, IndicatorDto};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::i18n::{t, Lang};
use crate::AppState;

/// Blank rows the system form offers for new indicators.
const BLANK_ROWS: usize = 3;
/// Providers drawn in the trend chart.
const TREND_LINES: usize = 5;

/// A raw value as people read it: shares in per cent, days and scores with one decimal.
fn show(unit: Unit, v: Option<f64>) -> String {
    match (unit, v) {
        (_, None) => "—".into(),
        (Unit::Ratio, Some(v)) => format!("{:.1}%", v * 100.0),
        (Unit::Count, Some(v)) => format!("{v:.0}"),
        (Unit::Days | Unit::Score, Some(v)) => format!("{v:.1}"),
    }
}

fn score_text(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.1}"))
}

fn unit_of(metric: &str) -> Unit {
    evaluation::metric(metric).map_or(Unit::Count, |m| m.unit)
}

/// The values a run's pages show: indicators, providers with formatted cells, consumers.
fn run_values(run: &Run, lang: Lang) -> Value {
    let s = &run.snapshot;
    let indicators: Vec<Value> = s
        .indicators
        .iter()
        .map(|i| {
            let m = evaluation::metric(&i.metric);
            context! { metric => i.metric, name => metric_name(lang, &i.metric), weight => i.weight,
            layer => i.layer.as_str(), lower => m.is_some_and(|m| m.direction == evaluation::Direction::LowerIsBetter) }
        })
        .collect();
    let providers: Vec<Value> = s
        .providers
        .iter()
        .map(|p| {
            let r = &p.scored;
            let cells: Vec<Value> = s
                .indicators
                .iter()
                .zip(r.values.iter().zip(&r.scores))
                .map(|(i, (v, sc))| context! { value => show(unit_of(&i.metric), *v), score => score_text(*sc) })
                .collect();
            context! { org_id => r.org_id, name => r.name, rank => r.rank, total => score_text(r.total),
            layers => r.layers.iter().map(|l| score_text(*l)).collect::<Vec<_>>(), cells => cells }
        })
        .collect();
    let consumers: Vec<Value> = s
        .consumers
        .iter()
        .map(|c| context! { compliance => show(Unit::Ratio, c.feedback_compliance), ..Value::from_serialize(c) })
        .collect();
    context! {
        id => run.id, created_at => run.created_at, period_kind => s.period_kind, period_label => s.period_label,
        period_from => s.period_from, period_to => s.period_to, as_of => s.as_of, system_version => s.system_version,
        indicators => indicators, providers => providers, consumers => consumers,
        layers => Layer::ALL.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
    }
}

fn ranking_chart(run: &Run, lang: Lang) -> String {
    let bars: Vec<Bar> = run
        .snapshot
        .providers
        .iter()
        .map(|p| Bar {
            label: p.scored.name.clone(),
            value: p.scored.total,
        })
        .collect();
    charts::bars(
        &t(
            lang,
            "evaluation.chart_ranking",
            &[("period", run.snapshot.period_label.clone())],
        ),
        &bars,
        &t(lang, "evaluation.chart_empty", &[]),
    )
}

/// The totals of the best providers of `run` across the periods of its kind.
fn trend_chart(run: &Run, runs: &[Run], lang: Lang) -> String {
    let kind = run.snapshot.period_kind.as_str();
    let top: Vec<(i64, String)> = run
        .snapshot
        .providers
        .iter()
        .filter(|p| p.scored.rank.is_some())
        .take(TREND_LINES)
        .map(|p| (p.scored.org_id, p.scored.name.clone()))
        .collect();
    let mut labels: Vec<String> = Vec::new();
    for r in runs.iter().rev().filter(|r| r.snapshot.period_kind == kind) {
        if !labels.contains(&r.snapshot.period_label) {
            labels.push(r.snapshot.period_label.clone());
        }
    }
    labels.sort();
    let series: Vec<Series> = top
        .iter()
        .map(|(org, name)| {
            let points = service::trend(runs, *org, Some(kind));
            Series {
                name: name.clone(),
                values: labels
                    .iter()
                    .map(|l| points.iter().find(|p| &p.period_label == l).and_then(|p| p.total))
                    .collect(),
            }
        })
        .collect();
    charts::lines(
        &t(lang, "evaluation.chart_trend", &[]),
        &labels,
        &series,
        &t(lang, "evaluation.chart_empty", &[]),
    )
}

fn radars(run: &Run, lang: Lang) -> Vec<Value> {
    let axes: Vec<String> = Dimension::ALL
        .iter()
        .map(|d| t(lang, &format!("quality_dim.{}", d.as_str()), &[]))
        .collect();
    run.snapshot
        .providers
        .iter()
        .map(|p| {
            let title = t(lang, "evaluation.chart_quality", &[("name", p.scored.name.clone())]);
            let svg = charts::radar(&title, &axes, &p.quality, &t(lang, "evaluation.chart_empty", &[]));
            context! { org_id => p.scored.org_id, name => p.scored.name, svg => svg }
        })
        .collect()
}

fn run_list(runs: &[Run]) -> Vec<Value> {
    runs.iter()
        .map(|r| {
            context! { id => r.id, created_at => r.created_at, period_kind => r.snapshot.period_kind,
            period_label => r.snapshot.period_label, system_version => r.snapshot.system_version,
            providers => r.snapshot.providers.len() }
        })
        .collect()
}

fn admin_only(ctx: &Ctx) -> AppResult<Option<Response>> {
    if let Some(r) = login_redirect(ctx) {
        return Ok(Some(r));
    }
    if !service::may_see_consumers(&ctx.caller) {
        return Err(AppError::Domain(DomainError::Forbidden));
    }
    Ok(None)
}

fn this_month() -> String {
    let today = pubdata_service::quality::today();
    format!("{}-{:02}", today.year(), today.month())
}

async fn dashboard_values(app: &AppState, ctx: &Ctx) -> AppResult<Value> {
    let runs = service::runs(&app.store, &ctx.caller).await?;
    let system = service::system(&app.store, None).await?;
    Ok(context! {
        runs => run_list(&runs), manager => service::may_manage(&ctx.caller),
        system_version => system.version, indicator_count => system.indicators.len(),
        kinds => ["month", "quarter", "year"],
    })
}

/// 评估考核 — the administration institution's dashboard: start a run, the runs so far.
pub async fn dashboard(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = admin_only(&ctx)? {
        return Ok(r);
    }
    let page = dashboard_values(&app, &ctx).await?;
    let form: HashMap<&str, String> = [("kind", "month".to_string()), ("period", this_month())].into();
    let page = context! { form => form, done => done_key(&q), ..page };
    Ok(render(&app, &ctx, "evaluation_admin.html", page)?.into_response())
}

/// Starts a run for the period in the form.
pub async fn create_run(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    if let Some(r) = admin_only(&ctx)? {
        return Ok(r);
    }
    let made = service::create_run(
        &app.store,
        &ctx.caller,
        &form.get("kind"),
        &form.get("period"),
        &app.config.feedback,
        &app.config.self_evaluation,
    )
    .await;
    match made {
        Ok(id) => Ok(see_other(
            &format!("/admin/evaluation/runs/{id}"),
            "evaluation.run_created",
        )),
        Err(e) => {
            let page = dashboard_values(&app, &ctx).await?;
            form_error(&app, &ctx, "evaluation_admin.html", page, &form.0, AppError::from(e))
        }
    }
}

/// One run in full, with the consumers' part.
pub async fn admin_run(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = admin_only(&ctx)? {
        return Ok(r);
    }
    let run = service::run(&app.store, &ctx.caller, id).await?;
    let page =
        context! { run => run_values(&run, ctx.lang), chart => ranking_chart(&run, ctx.lang), done => done_key(&q) };
    Ok(render(&app, &ctx, "evaluation_run.html", page)?.into_response())
}

/// The form rows: the system's indicators and a few blank ones.
fn system_form(indicators: &[IndicatorDto]) -> HashMap<String, String> {
    let mut form = HashMap::new();
    for (i, ind) in indicators.iter().enumerate() {
        form.insert(format!("metric_{i}"), ind.metric.clone());
        form.insert(format!("weight_{i}"), ind.weight.to_string());
        form.insert(format!("layer_{i}"), ind.layer.clone().unwrap_or_default());
    }
    form
}

async fn system_values(app: &AppState, ctx: &Ctx, rows: usize) -> AppResult<Value> {
    let system = service::system(&app.store, None).await?;
    let versions = service::versions(&app.store).await?;
    let metrics: Vec<Value> = CATALOGUE
        .iter()
        .map(|m| {
            context! { id => m.id, layer => m.layer.as_str(), unit => format!("{:?}", m.unit).to_lowercase(),
            lower => m.direction == evaluation::Direction::LowerIsBetter }
        })
        .collect();
    Ok(context! {
        version => system.version, rows => (0..rows).collect::<Vec<_>>(), metrics => metrics,
        layers => Layer::ALL.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
        versions => versions.iter().map(|v| context! { version => v.version, note => v.note, created_at => v.created_at,
            count => v.indicators.len() }).collect::<Vec<_>>(),
        manager => service::may_manage(&ctx.caller),
    })
}

/// 评估指标体系 — the form to edit the indicator system (saving makes a new version).
pub async fn system_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = admin_only(&ctx)? {
        return Ok(r);
    }
    let system = service::system(&app.store, None).await?;
    let dtos: Vec<IndicatorDto> = system
        .indicators
        .iter()
        .map(|i| IndicatorDto {
            metric: i.metric.clone(),
            weight: i.weight,
            layer: Some(i.layer.as_str().into()),
        })
        .collect();
    let page = system_values(&app, &ctx, dtos.len() + BLANK_ROWS).await?;
    let page = context! { form => system_form(&dtos), done => done_key(&q), ..page };
    Ok(render(&app, &ctx, "evaluation_system.html", page)?.into_response())
}

/// Renumbers `indicators[i].x` by the form's rows: the i-th filled row may sit lower in the form.
fn to_form_fields(e: DomainError, rows: &[usize]) -> DomainError {
    let DomainError::Validation(errors) = e else { return e };
    DomainError::Validation(
        errors
            .into_iter()
            .map(|f| {
                let parsed = f
                    .field
                    .strip_prefix("indicators[")
                    .and_then(|rest| rest.split_once("]."))
                    .and_then(|(i, name)| Some((rows.get(i.parse::<usize>().ok()?)?, name)));
                match parsed {
                    Some((row, name)) => FieldError {
                        field: format!("indicators[{row}].{name}"),
                        ..f.clone()
                    },
                    None => f,
                }
            })
            .collect(),
    )
}

/// Saves the form as a new version; a row whose metric is left empty is dropped.
pub async fn save_system(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    if let Some(r) = admin_only(&ctx)? {
        return Ok(r);
    }
    let count = (0..)
        .take_while(|i| form.0.contains_key(&format!("metric_{i}")))
        .count()
        .min(evaluation::MAX_INDICATORS + BLANK_ROWS);
    let mut rows = Vec::new();
    let mut items = Vec::new();
    for i in 0..count {
        let metric = form.get(&format!("metric_{i}"));
        if metric.trim().is_empty() {
            continue;
        }
        rows.push(i);
        items.push(IndicatorDto {
            metric,
            weight: form.get(&format!("weight_{i}")).trim().parse().unwrap_or(f64::NAN),
            layer: Some(form.get(&format!("layer_{i}"))),
        });
    }
    let saved = match to_system(items) {
        Ok(system) => service::save_system(&app.store, &ctx.caller, &system, &form.get("note"))
            .await
            .map_err(AppError::from),
        Err(e) => Err(AppError::Domain(to_form_fields(e, &rows))),
    };
    match saved {
        Ok(_) => Ok(see_other("/admin/evaluation/system", "evaluation.system_saved")),
        Err(e) => {
            let page = system_values(&app, &ctx, count).await?;
            form_error(&app, &ctx, "evaluation_system.html", page, &form.0, e)
        }
    }
}

/// 评估结果 — the newest run (or `?run=`) for everyone: the ranking, the trend of the best
/// providers across periods and each provider's quality radar, all drawn on the server.
pub async fn statistics(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let runs = service::runs(&app.store, &ctx.caller).await?;
    let chosen = match q.get("run").and_then(|r| r.parse::<i64>().ok()) {
        Some(id) => Some(
            runs.iter()
                .find(|r| r.id == id)
                .ok_or(AppError::Domain(DomainError::NotFound { what: "evaluation_run" }))?,
        ),
        None => runs.first(),
    };
    let page = match chosen {
        Some(run) => context! {
            run => run_values(run, ctx.lang), ranking => ranking_chart(run, ctx.lang),
            trend => trend_chart(run, &runs, ctx.lang), radars => radars(run, ctx.lang), runs => run_list(&runs),
        },
        None => context! { runs => run_list(&runs) },
    };
    Ok(render(&app, &ctx, "statistics_evaluation.html", page)?.into_response())
}

/// A run as a report to print (the stylesheet's print rules leave out the navigation).
pub async fn report(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let run = service::run(&app.store, &ctx.caller, id).await?;
    let runs = service::runs(&app.store, &ctx.caller).await?;
    let page = context! {
        run => run_values(&run, ctx.lang), ranking => ranking_chart(&run, ctx.lang),
        trend => trend_chart(&run, &runs, ctx.lang), radars => radars(&run, ctx.lang),
    };
    Ok(render(&app, &ctx, "evaluation_report.html", page)?.into_response())
}
