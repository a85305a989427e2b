//! 评估考核 (§8): the data API's calls are counted in memory and flushed to the daily table; the
//! administration institution saves an indicator system (bad rows refused, nothing written),
//! runs an evaluation whose scores match a hand computation, gets the same snapshot from the
//! same data, exports it, sees a provider's trend; the public page draws the charts as SVG and
//! shows no consumer. Runs on SQLite, and on PostgreSQL when configured.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::{TestApp, PASSWORD};
use pubdata_core::evaluation::Period;
use pubdata_server::{AppState, Config};
use pubdata_service::evaluation::{self, ApiCalls};
use pubdata_service::Store;
use pubdata_store::{now_ms, OpenOptions};
use serde_json::{json, Value};

const STREETS: &str = "code,name,district\n510104001,春熙路街道,锦江区\n510104002,书院街街道,锦江区\n\
510105001,西御河街道,青羊区\n";

fn unique(prefix: &str) -> String {
    use rand::Rng;
    format!(
        "{prefix}_{}_{:08x}",
        std::process::id(),
        rand::thread_rng().gen::<u32>()
    )
}

/// The test application with a handle on its data API call counter.
async fn open(url: &str, opts: OpenOptions) -> (TestApp, Arc<ApiCalls>) {
    let store = Store::open(url, opts).await.expect("open store");
    store.migrate().await.expect("migrate");
    let config = Config {
        data_dir: std::env::temp_dir().join(unique("pubdata_files")),
        ..common::test_config()
    };
    let state = AppState::new(store.clone(), config).expect("app state");
    let calls = state.api_calls.clone();
    let app = TestApp {
        files: state.files.clone(),
        catalogue: state.catalogue.clone(),
        data_dir: state.config.data_dir.clone(),
        router: pubdata_server::router(state),
        store,
        jar: HashMap::new(),
        accept_language: None,
    };
    (app, calls)
}

async fn sqlite() -> (TestApp, Arc<ApiCalls>) {
    let dir = std::env::temp_dir().join(unique("pubdata_test"));
    std::fs::create_dir_all(&dir).unwrap();
    open(
        &format!("sqlite://{}?mode=rwc", dir.join("test.db").display()),
        OpenOptions::default(),
    )
    .await
}

async fn postgres() -> Option<(TestApp, Arc<ApiCalls>)> {
    let Ok(url) = std::env::var("PUBDATA_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("PUBDATA_TEST_STRICT").as_deref() != Ok("1"),
            "strict mode needs PostgreSQL"
        );
        eprintln!("SKIP PostgreSQL test: PUBDATA_TEST_DATABASE_URL is not set");
        return None;
    };
    let opts = OpenOptions {
        pg_schema: Some(unique("t")),
        ..Default::default()
    };
    Some(open(&url, opts).await)
}

fn today() -> pubdata_core::calendar::Date {
    pubdata_core::calendar::Date::from_unix_millis_cst(now_ms())
}

fn this_month() -> String {
    let d = today();
    format!("{}-{:02}", d.year(), d.month())
}

fn provider(run: &Value, org: i64) -> &Value {
    run["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["org_id"] == org)
        .unwrap_or_else(|| panic!("no provider {org} in {run}"))
}

/// The run without what differs between two runs of the same data: its id and times.
fn comparable(mut run: Value) -> Value {
    for k in ["id", "created_at", "as_of"] {
        run.as_object_mut().unwrap().remove(k);
    }
    run
}

async fn story(mut app: TestApp, calls: Arc<ApiCalls>) {
    let centre = app
        .org("admin_institution", "四川省大数据中心", "91350100M000100Y43")
        .await;
    let p1 = app.provider("四川省交通运输厅", "11510000008693034D").await;
    let p2 = app.provider("成都市卫生健康委员会", "11510100009166001X").await;
    let e1 = app.staff("e.one", p1, "provider_editor").await;
    let e2 = app.staff("e.two", p2, "provider_editor").await;
    let reviewer = app.staff("a.reviewer", centre, "admin_reviewer").await;
    app.staff("a.manager", centre, "admin_manager").await;
    app.consumer("c.one").await;
    let (open_res, _) = app
        .draft_resource(&e1, p1, "成都市街道代码", "unconditional", STREETS)
        .await;
    app.publish_resource(&e1, &reviewer, open_res).await;
    let (cond_res, _) = app
        .draft_resource(&e1, p1, "成都市街道名录", "conditional", STREETS)
        .await;
    app.publish_resource(&e1, &reviewer, cond_res).await;
    let (other, _) = app
        .draft_resource(&e2, p2, "成都市医院名录", "unconditional", STREETS)
        .await;
    app.publish_resource(&e2, &reviewer, other).await;
    let manager = app.token("a.manager").await;
    let consumer = app.token("c.one").await;
    let editor = app.token("e.one").await;

    // The data API: five calls under the consumer's grant, counted in memory and flushed.
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{open_res}/accept-terms"),
            Some(&consumer),
            Some(json!({"accepted": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let grant = r.json()["grant_id"].as_i64().unwrap();
    let rows = format!("/api/v1/resources/{open_res}/rows");
    for _ in 0..3 {
        let r = app.api(Method::GET, &rows, Some(&consumer), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    // Staff reads are not use of the data, and a refused call is not a call.
    assert_eq!(
        app.api(Method::GET, &rows, Some(&editor), None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.api(Method::GET, &rows, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(calls.pending(), 3);
    let day = today().to_string();
    assert_eq!(
        app.store.api_calls_on(&day, open_res, grant).await.unwrap(),
        0,
        "no write per call"
    );
    assert_eq!(calls.flush(&app.store).await.unwrap(), 3);
    assert_eq!(calls.pending(), 0);
    assert_eq!(app.store.api_calls_on(&day, open_res, grant).await.unwrap(), 3);
    for _ in 0..2 {
        app.api(Method::GET, &rows, Some(&consumer), None).await;
    }
    assert_eq!(calls.flush(&app.store).await.unwrap(), 2);
    assert_eq!(calls.flush(&app.store).await.unwrap(), 0);
    assert_eq!(app.store.api_calls_on(&day, open_res, grant).await.unwrap(), 5);

    // The indicator system: the default first; bad rows are refused with every problem named,
    // and nothing is written.
    let sys = app
        .api(Method::GET, "/api/v1/evaluation/system", None, None)
        .await
        .json();
    assert_eq!(sys["version"], 0);
    assert_eq!(
        sys["indicators"].as_array().unwrap().len(),
        sys["metrics"].as_array().unwrap().len()
    );
    let bad = json!({"indicators": [
        {"metric": "downloads", "weight": 1},
        {"metric": "no_such_metric", "weight": 1},
        {"metric": "downloads", "weight": 0},
        {"metric": "api_calls", "weight": 1, "layer": "nowhere"}]});
    let r = app
        .api(
            Method::PUT,
            "/api/v1/evaluation/system",
            Some(&manager),
            Some(bad.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let fields: Vec<(String, String)> = r.json()["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap().into(), f["code"].as_str().unwrap().into()))
        .collect();
    let expect = |f: &str, c: &str| (f.to_string(), c.to_string());
    assert_eq!(
        fields,
        [
            expect("indicators[1].metric", "evaluation.unknown_metric"),
            expect("indicators[2].metric", "evaluation.duplicate_metric"),
            expect("indicators[2].weight", "evaluation.weight_range"),
            expect("indicators[3].layer", "evaluation.unknown_layer"),
        ]
    );
    assert!(r.body.contains("不在指标目录中"), "{}", r.body);
    assert_eq!(
        r.json()["error"]["fields"][0]["message"],
        "第 2 行的指标: “no_such_metric”不在指标目录中，请从列表中选择。"
    );
    let r = app
        .api(
            Method::PUT,
            "/api/v1/evaluation/system",
            Some(&editor),
            Some(bad.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.api(Method::PUT, "/api/v1/evaluation/system", None, Some(bad))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.api(Method::GET, "/api/v1/evaluation/system", None, None)
            .await
            .json()["version"],
        0
    );

    // Three indicators: published resources (2, data), data API calls (1, use) and the
    // unconditional share (1, data).
    let three = json!({"note": "试行", "indicators": [
        {"metric": "published_resources", "weight": 2},
        {"metric": "api_calls", "weight": 1, "layer": "use"},
        {"metric": "unconditional_share", "weight": 1}]});
    let r = app
        .api(Method::PUT, "/api/v1/evaluation/system", Some(&manager), Some(three))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["version"], 1);
    assert_eq!(r.json()["indicators"][0]["layer"], "data");

    // A run. By hand: 甲 = 交通运输厅 (2 resources, 5 calls, half unconditional), 乙 = 卫健委
    // (1 resource, 0 calls, all unconditional). Min–max: resources 甲 100 乙 0; calls 甲 100 乙 0;
    // share 甲 0 乙 100. Data layer 甲 (2×100 + 0) / 3 = 66.67, 乙 100 / 3 = 33.33; use 甲 100,
    // 乙 0. Totals 甲 (200 + 100 + 0) / 4 = 75, 乙 (0 + 0 + 100) / 4 = 25.
    let period = this_month();
    let body = json!({"kind": "month", "period": period});
    assert_eq!(
        app.api(Method::POST, "/api/v1/evaluation/runs", None, Some(body.clone()))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.api(
            Method::POST,
            "/api/v1/evaluation/runs",
            Some(&editor),
            Some(body.clone())
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    for (bad, field, code) in [
        (
            json!({"kind": "month", "period": "2026-13"}),
            "period",
            "evaluation.period_format",
        ),
        (
            json!({"kind": "week", "period": "2026"}),
            "kind",
            "evaluation.period_kind",
        ),
        (
            json!({"kind": "year", "period": (today().year() + 1).to_string()}),
            "period",
            "evaluation.period_future",
        ),
    ] {
        let r = app
            .api(Method::POST, "/api/v1/evaluation/runs", Some(&manager), Some(bad))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.json()["error"]["fields"][0]["field"], field);
        assert_eq!(r.json()["error"]["fields"][0]["code"], code);
    }
    let audit = app.audit_len().await;
    let r = app
        .api(
            Method::POST,
            "/api/v1/evaluation/runs",
            Some(&manager),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(app.audit_len().await, audit + 1, "one audit event");
    let run = r.json();
    let id = run["id"].as_i64().unwrap();
    assert_eq!(run["system_version"], 1);
    assert_eq!(run["period_label"], period);
    let a = provider(&run, p1);
    assert_eq!(run["providers"][0]["org_id"], p1);
    assert_eq!((a["rank"].clone(), a["total"].clone()), (json!(1), json!(75.0)));
    assert_eq!(a["values"], json!([2.0, 5.0, 0.5]));
    assert_eq!(a["scores"], json!([100.0, 100.0, 0.0]));
    assert_eq!(a["layers"][2], json!({"layer": "data", "score": 66.67}));
    assert_eq!(a["layers"][3], json!({"layer": "use", "score": 100.0}));
    assert_eq!(a["layers"][0]["score"], Value::Null);
    let b = provider(&run, p2);
    assert_eq!((b["rank"].clone(), b["total"].clone()), (json!(2), json!(25.0)));
    assert_eq!(b["layers"][2]["score"], 33.33);
    assert_eq!(a["quality"].as_array().unwrap().len(), 6);
    // The consumer's part, for the administration institution only.
    let c = &run["consumers"][0];
    assert_eq!((c["login"].as_str(), c["api_calls"].as_i64()), (Some("c.one"), Some(5)));
    let public = app
        .api(Method::GET, &format!("/api/v1/evaluation/runs/{id}"), None, None)
        .await
        .json();
    assert_eq!(public["consumers"], json!([]));
    assert_eq!(public["providers"], run["providers"]);

    // The same data gives the same snapshot: a second run, and the computation twice at one moment.
    let again = app
        .api(Method::POST, "/api/v1/evaluation/runs", Some(&manager), Some(body))
        .await
        .json();
    assert_ne!(again["id"], run["id"]);
    assert_eq!(comparable(again.clone()), comparable(run.clone()));
    let system = evaluation::system(&app.store, Some(1)).await.unwrap();
    let period_v = Period::parse("month", &period).unwrap();
    let at = now_ms();
    let rules = Default::default();
    let first = evaluation::compute(&app.store, &system, &period_v, at, &rules, &Default::default())
        .await
        .unwrap();
    let second = evaluation::compute(&app.store, &system, &period_v, at, &rules, &Default::default())
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(
        serde_json::to_string(&first).unwrap(),
        serde_json::to_string(&second).unwrap()
    );

    // CSV, the consumers' part for the administration institution only.
    let csv = app
        .api(Method::GET, &format!("/api/v1/evaluation/runs/{id}/csv"), None, None)
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header(axum::http::header::CONTENT_TYPE).starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "rank,org_id,provider,total,layer_readiness,layer_platform,layer_data,layer_use,published_resources,\
         published_resources_score,api_calls,api_calls_score,unconditional_share,unconditional_share_score"
    );
    assert_eq!(
        lines[1],
        format!("1,{p1},四川省交通运输厅,75,,,66.67,100,2,100,5,100,0.5,0")
    );
    let part = format!("/api/v1/evaluation/runs/{id}/csv?part=consumers");
    assert_eq!(
        app.api(Method::GET, &part, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.api(Method::GET, &part, Some(&editor), None).await.status,
        StatusCode::FORBIDDEN
    );
    let consumers_csv = app.api(Method::GET, &part, Some(&manager), None).await;
    assert!(
        consumers_csv.body.lines().nth(1).unwrap().contains(",c.one,"),
        "{}",
        consumers_csv.body
    );

    // The trend: one point for the period (its newest run).
    let trend = app
        .api(
            Method::GET,
            &format!("/api/v1/organisations/{p1}/evaluation"),
            None,
            None,
        )
        .await
        .json();
    assert_eq!(
        trend,
        json!([{"run_id": again["id"], "period_kind": "month", "period_label": period,
        "total": 75.0, "rank": 1, "providers": 2}])
    );
    let runs = app.api(Method::GET, "/api/v1/evaluation/runs", None, None).await.json();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(
        app.api(Method::GET, "/api/v1/evaluation/runs/99999", None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // The public page: the charts drawn as SVG, no consumer.
    let page = app.get("/statistics/evaluation").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart chart-bars\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("class=\"chart chart-lines\""));
    assert!(page.body.contains(&format!("id=\"radar-{p1}\"")));
    assert!(
        page.body
            .contains("class=\"chart-bar\" x=\"220.0\" y=\"7.0\" width=\"270.0\""),
        "75 of 100: {}",
        page.body
    );
    assert!(
        page.body.contains("y=\"33.0\" width=\"90.0\""),
        "25 of 100: a third of the leader's bar"
    );
    assert!(page.body.contains(&format!("id=\"provider-{p1}\"")));
    assert!(!page.body.contains("c.one"));
    let report = app.get(&format!("/statistics/evaluation/{id}/report")).await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(report.body.contains("id=\"evaluation-report\"") && report.body.contains("<svg"));
    assert_eq!(
        app.get("/statistics/evaluation?run=99999").await.status,
        StatusCode::NOT_FOUND
    );

    // The web dashboard: the administration institution's only.
    let mut editor_web = app.browser();
    editor_web.login("e.one", PASSWORD).await;
    assert_eq!(editor_web.get("/admin/evaluation").await.status, StatusCode::FORBIDDEN);
    let mut anon = app.browser();
    assert_eq!(anon.get("/admin/evaluation").await.status, StatusCode::SEE_OTHER);
    let mut web = app.browser();
    web.login("a.manager", PASSWORD).await;
    let dash = web.get("/admin/evaluation").await;
    assert_eq!(dash.status, StatusCode::OK);
    assert!(dash.body.contains("id=\"new-run\"") && dash.body.contains(&format!("id=\"run-{id}\"")));
    let r = web
        .post_form("/admin/evaluation/runs", &[("kind", "quarter"), ("period", "2026-Q9")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("格式不对"), "{}", r.body);
    let r = web
        .post_form("/admin/evaluation/runs", &[("kind", "month"), ("period", &period)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location().starts_with("/admin/evaluation/runs/"));
    let full = web.get(r.location()).await;
    assert!(full.body.contains("评估已完成"), "{}", full.body);
    assert!(full.body.contains("id=\"consumer-") && full.body.contains("<svg"));
    // The system form: a row with a bad weight is shown again with its message; then saved.
    let form = web.get("/admin/evaluation/system").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("name=\"metric_2\""));
    let r = web
        .post_form(
            "/admin/evaluation/system",
            &[
                ("metric_0", "downloads"),
                ("weight_0", "2"),
                ("layer_0", ""),
                ("metric_1", ""),
                ("weight_1", ""),
                ("layer_1", ""),
                ("metric_2", "grants_issued"),
                ("weight_2", "zero"),
                ("layer_2", "use"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"e-indicators[2].weight\""), "{}", r.body);
    assert!(r.body.contains("第 3 行的权重"), "{}", r.body);
    assert_eq!(evaluation::system(&app.store, None).await.unwrap().version, 1);
    let r = web
        .post_form(
            "/admin/evaluation/system",
            &[
                ("metric_0", "downloads"),
                ("weight_0", "2"),
                ("layer_0", ""),
                ("metric_1", "grants_issued"),
                ("weight_1", "1.5"),
                ("layer_1", "use"),
                ("note", "改用利用层"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let saved = evaluation::system(&app.store, None).await.unwrap();
    assert_eq!((saved.version, saved.indicators.len()), (2, 2));
    assert_eq!(saved.indicators[1].weight, 1.5);
    // The old version stays, and the runs keep naming it.
    assert_eq!(
        evaluation::system(&app.store, Some(1)).await.unwrap().indicators.len(),
        3
    );
    let kept = app
        .api(Method::GET, &format!("/api/v1/evaluation/runs/{id}"), None, None)
        .await
        .json();
    assert_eq!(kept["system_version"], 1);
}

#[tokio::test]
async fn evaluation_on_sqlite() {
    let (app, calls) = sqlite().await;
    story(app, calls).await;
}

#[tokio::test]
async fn evaluation_on_postgres() {
    let Some((app, calls)) = postgres().await else { return };
    story(app, calls).await;
}

#[tokio::test]
async fn a_failed_flush_keeps_the_counts() {
    let (app, calls) = sqlite().await;
    // No such resource or grant: the foreign keys refuse the row, and the counts stay.
    calls.count(4242, 4343);
    assert!(calls.flush(&app.store).await.is_err());
    assert_eq!(calls.pending(), 1);
}

#[test]
fn every_evaluation_text_is_translated() {
    use pubdata_server::i18n::{self, Lang};
    let mut keys: Vec<String> = Vec::new();
    for m in pubdata_core::evaluation::CATALOGUE {
        keys.push(format!("evaluation.metric.{}", m.id));
        keys.push(format!("evaluation.metric_doc.{}", m.id));
    }
    for l in pubdata_core::evaluation::Layer::ALL {
        keys.push(format!("evaluation.layer.{}", l.as_str()));
    }
    for code in [
        "no_indicators",
        "too_many_indicators",
        "unknown_metric",
        "duplicate_metric",
        "weight_range",
        "unknown_layer",
        "period_kind",
        "period_format",
        "period_future",
    ] {
        keys.push(format!("field.evaluation.{code}"));
    }
    for k in [
        "object.evaluation_run",
        "object.indicator_system",
        "label.period",
        "label.indicator_system",
        "flash.evaluation.run_created",
        "flash.evaluation.system_saved",
    ] {
        keys.push(k.into());
    }
    for lang in [Lang::ZhCn, Lang::En] {
        let missing: Vec<&String> = keys.iter().filter(|k| !i18n::has(lang, k)).collect();
        assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
    }
}
