//! Quality scores (§8) and the timeliness monitor: a monthly resource published with empty,
//! invalid and repeated values shows the hand-computed scores and their reasons through the API,
//! on its dataset page and in the provider workspace; the monitor, run on a controlled clock,
//! flags it once it is overdue, tells the provider once, lists it for the administration
//! institution, and lifts the flag when a new version arrives. Runs on SQLite, and on PostgreSQL
//! when configured.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, PASSWORD};
use pubdata_core::calendar::WorkCalendar;
use pubdata_core::metadata::NewResourceMeta;
use pubdata_core::org::NewOrg;
use pubdata_core::resource::ReviewChecklist;
use pubdata_service::accounts::{self, actor_for, NewStaff};
use pubdata_service::ingest::{self, UploadInfo};
use pubdata_service::quality::timeliness;
use pubdata_service::resources::{self, Decision};
use pubdata_service::Caller;
use pubdata_store::now_ms;
use serde_json::{json, Value};

/// Five rows: one empty name, one empty amount, one amount that is not an integer, and the key
/// 510107 twice.
const TABLE: &str = "code,name,amount\n\
    510104,春熙路,10\n\
    510105,,12\n\
    510106,书院街,abc\n\
    510107,西御河,\n\
    510107,草市街,5\n";

const DAY_MS: i64 = 86_400_000;

async fn caller(app: &TestApp, login: &str) -> Caller {
    let u = app.store.user_by_login(login).await.unwrap().unwrap();
    Caller {
        actor: actor_for(&u),
        label: login.into(),
        ip: None,
    }
}

async fn staff(app: &TestApp, login: &str, org_id: i64, role: &str) -> Caller {
    let user = pubdata_core::user::NewUser {
        login: login.into(),
        display_name: login.into(),
        email: format!("{login}@example.cn"),
        phone: String::new(),
        password: PASSWORD.into(),
    };
    let new = NewStaff {
        user,
        org_id,
        role: role.into(),
    };
    accounts::create_staff(&app.store, &Caller::console(), new)
        .await
        .unwrap();
    caller(app, login).await
}

async fn upload(app: &TestApp, editor: &Caller, id: i64, note: &str) -> i64 {
    let ticket = ingest::begin_upload(&app.store, editor, id, "amounts.csv")
        .await
        .unwrap();
    let mut out = app.files.writer(&ticket.key, u64::MAX).await.unwrap();
    out.write(TABLE.as_bytes()).await.unwrap().unwrap();
    let stored = out.finish().await.unwrap();
    let info = UploadInfo {
        title: "金额".into(),
        change_note: note.into(),
    };
    let dist = ingest::finish_upload(&app.store, editor, &ticket, &stored, &info)
        .await
        .unwrap();
    app.run_jobs().await;
    dist
}

fn dim<'a>(q: &'a Value, name: &str) -> &'a Value {
    q["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dimension"] == name)
        .unwrap_or_else(|| panic!("no {name} in {q}"))
}

fn codes(d: &Value) -> Vec<String> {
    d["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

async fn notice_count(app: &TestApp, user: &Caller, kind: &str) -> usize {
    let id = user.actor.user_id.unwrap();
    let rows = app.store.notices(id, 500).await.unwrap();
    rows.iter().filter(|n| n.kind == kind).count()
}

async fn quality_story(mut app: TestApp) {
    let centre = NewOrg {
        kind: "admin_institution".into(),
        name: "四川省大数据中心".into(),
        credit_code: "91350100M000100Y43".into(),
        ..Default::default()
    };
    let centre = accounts::create_org(&app.store, &Caller::console(), centre)
        .await
        .unwrap();
    let provider = app.provider("四川省财政厅", "11510000008693034D").await;
    let editor = staff(&app, "q.editor", provider, "provider_editor").await;
    let manager = staff(&app, "q.manager", provider, "provider_manager").await;
    let reviewer = staff(&app, "q.reviewer", centre, "admin_reviewer").await;

    let meta: NewResourceMeta = serde_json::from_value(json!({
        "title": "区县财政支出", "summary": "四川省各区县按月公布的财政支出金额，含区划代码与名称。", "domain": "财税金融",
        "open_type": "unconditional", "update_frequency": "monthly", "spatial": "510000",
        "temporal_from": "2024-01-01", "contact_phone": "028-86001234",
        "fields": [{"name": "code", "title": "区划代码", "type": "code", "length": "6", "key": true},
                   {"name": "name", "title": "名称", "type": "string"},
                   {"name": "amount", "title": "金额", "type": "integer"}]}))
    .unwrap();
    let id = resources::create(&app.store, &editor, provider, &meta, None)
        .await
        .unwrap();
    let dist = upload(&app, &editor, id, "").await;
    resources::submit(&app.store, &editor, id, &WorkCalendar::official())
        .await
        .unwrap();
    resources::decide(&app.store, &reviewer, id, Decision::Approve(ReviewChecklist::passed()))
        .await
        .unwrap();

    // The API, by hand: 5 rows × 3 columns = 15 cells.
    let r = app
        .api(Method::GET, &format!("/api/v1/resources/{id}/quality"), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let q = r.json();
    // Completeness: data 13/15 filled = 86.67; metadata lacks industry, tags, e-mail and field
    // descriptions: 2/6 = 33.33; 0.8 × 86.67 + 0.2 × 33.33 = 76.0.
    let c = dim(&q, "completeness");
    assert_eq!(c["score"], 76.0, "{c}");
    assert_eq!(codes(c)[..2], ["column_nulls", "column_nulls"]);
    assert_eq!(c["reasons"][0]["params"]["share"], 0.2);
    assert!(codes(c).contains(&"metadata_missing".to_string()));
    // Validity: 13 filled cells, 1 not an integer → 92.3.
    let v = dim(&q, "validity");
    assert_eq!(v["score"], 92.3, "{v}");
    assert_eq!(codes(v), ["invalid_values"]);
    assert_eq!(v["reasons"][0]["params"]["column"], "amount");
    assert_eq!(v["reasons"][0]["params"]["rule"], "type_mismatch");
    // Consistency: amount holds text where integers are declared (−33.3 of 3 columns); 1 of 5
    // rows repeats a key (−20) → 46.7; one version, so stability is not measured.
    let k = dim(&q, "consistency");
    assert_eq!(k["score"], 46.7, "{k}");
    assert_eq!(codes(k)[..2], ["type_differs", "duplicate_keys"]);
    // Normativity: a short summary and undescribed fields, 20 each → 60.
    let n = dim(&q, "normativity");
    assert_eq!(n["score"], 60.0, "{n}");
    assert_eq!(codes(n), ["summary_short", "fields_undescribed"]);
    // Just published: in time, and checksums in place.
    assert_eq!(dim(&q, "continuity")["score"], 100.0);
    assert_eq!(dim(&q, "authenticity")["score"], 100.0);
    assert_eq!(q["overall"], 79.2);
    assert_eq!(q["fix_first"]["dimension"], "consistency");
    assert_eq!(q["distributions"][0]["id"], dist);
    assert_eq!(dim(&q["distributions"][0], "completeness")["score"], 86.7);
    // Reasons come in the caller's language.
    let en = app
        .send(
            axum::http::Request::get(format!("/api/v1/resources/{id}/quality"))
                .header("accept-language", "en")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .json();
    assert_eq!(
        dim(&en, "validity")["reasons"][0]["message"],
        "Column “amount”: 1 values fail the rule “Type mismatch”."
    );
    assert_eq!(
        dim(&q, "consistency")["reasons"][1]["message"],
        "有 1 行与之前的主键重复（code）。"
    );

    // The provider's score is its one resource's.
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/organisations/{provider}/quality"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = r.json();
    assert_eq!(p["overall"], 79.2);
    assert_eq!(dim(&p, "consistency")["score"], 46.7);
    assert_eq!(p["resources"][0]["resource_id"], id);
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/organisations/{centre}/quality"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "not a provider");
    let r = app
        .api(Method::GET, "/api/v1/resources/99999/quality", None, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The dataset page shows the scores with their reasons.
    let code = app.store.resource(id).await.unwrap().unwrap().code.to_lowercase();
    let page = app.get(&format!("/dataset/{code}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"quality-table\""), "{}", page.body);
    assert!(page.body.contains("<td class=\"q-score\">46.7</td>"));
    assert!(page.body.contains("有 1 行与之前的主键重复（code）。"));
    // The workspace lists it with what to fix first.
    let mut browser = app.browser();
    browser.login("q.editor", PASSWORD).await;
    let ws = browser.get("/provider").await;
    assert!(ws.body.contains(&format!("id=\"q-resource-{id}\"")), "{}", ws.body);
    let row = ws.body.split(&format!("id=\"q-resource-{id}\"")).nth(1).unwrap();
    let fix = row.split("class=\"fix-first\"").nth(1).unwrap();
    assert!(fix.starts_with("><strong>一致性</strong>"), "{fix}");

    // The timeliness monitor on a controlled clock. A monthly resource has 31 days and 7 of
    // grace: in time today and on the 38th day.
    let now = now_ms();
    assert_eq!(timeliness(&app.store, now).await.unwrap(), Default::default());
    assert_eq!(timeliness(&app.store, now + 38 * DAY_MS).await.unwrap().flagged, 0);
    // The data was really made forty days ago: overdue, flagged, the provider's staff told once.
    let back = 40 * DAY_MS;
    let moved = app
        .store
        .execute_raw(&format!(
            "UPDATE distributions SET created_at = created_at - {back} WHERE resource_id = {id}"
        ))
        .await
        .unwrap();
    assert_eq!(moved, 1);
    app.store
        .execute_raw(&format!(
            "UPDATE resources SET published_at = published_at - {back} WHERE id = {id}"
        ))
        .await
        .unwrap();
    let run = timeliness(&app.store, now).await.unwrap();
    assert_eq!((run.flagged, run.notices), (1, 2));
    assert_eq!(notice_count(&app, &editor, "resource_overdue").await, 1);
    assert_eq!(notice_count(&app, &manager, "resource_overdue").await, 1);
    // Later runs in the same overdue period say nothing again.
    for day in [0, 1, 5] {
        let run = timeliness(&app.store, now + day * DAY_MS).await.unwrap();
        assert_eq!((run.flagged, run.notices, run.cleared), (0, 0, 0), "day {day}");
    }
    assert_eq!(notice_count(&app, &editor, "resource_overdue").await, 1);
    let c = app
        .api(Method::GET, &format!("/api/v1/resources/{id}/quality"), None, None)
        .await
        .json();
    assert_eq!(codes(dim(&c, "continuity"))[0], "overdue");
    // The administration institution sees it listed; the provider cannot open that page but
    // sees its own overdue resources in the workspace.
    let mut admin = app.browser();
    admin.login("q.reviewer", PASSWORD).await;
    let list = admin.get("/admin/timeliness").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&format!("id=\"overdue-{id}\"")), "{}", list.body);
    assert!(list.nav().contains(&"timeliness".to_string()));
    assert_eq!(browser.get("/admin/timeliness").await.status, StatusCode::FORBIDDEN);
    assert!(browser.get("/provider").await.body.contains("id=\"overdue-mine\""));
    // A new version lifts the flag.
    upload(&app, &editor, id, "2025年数据").await;
    let run = timeliness(&app.store, now + DAY_MS).await.unwrap();
    assert_eq!((run.flagged, run.notices, run.cleared), (0, 0, 1));
    let list = admin.get("/admin/timeliness").await;
    assert!(!list.body.contains(&format!("id=\"overdue-{id}\"")));
    assert!(app.store.overdue_resources(None).await.unwrap().is_empty());
    assert_eq!(notice_count(&app, &editor, "resource_overdue").await, 1);
}

#[tokio::test]
async fn quality_on_sqlite() {
    quality_story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn quality_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    quality_story(app).await;
}

#[tokio::test]
async fn openapi_describes_quality() {
    let mut app = TestApp::sqlite().await;
    let doc = app.get("/api/v1/openapi.json").await.json();
    for path in ["/resources/{id}/quality", "/organisations/{id}/quality"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path}");
    }
    assert!(doc["components"]["schemas"]["ResourceQualityDto"]["properties"]["fix_first"].is_object());
}

#[test]
fn every_reason_and_notice_is_translated() {
    use pubdata_server::i18n::{self, Lang};
    let mut keys: Vec<String> = [
        "api_only",
        "no_data",
        "resource_level",
        "change_note_missing",
        "code_length_missing",
        "column_nulls",
        "declared_not_in_data",
        "duplicate_keys",
        "empty_table",
        "errors_fixed",
        "errors_unfixed",
        "export_checksum_missing",
        "field_names_irregular",
        "fields_undescribed",
        "invalid_values",
        "irregular",
        "metadata_missing",
        "missing_column",
        "no_columns",
        "no_open_format",
        "no_values",
        "no_versions",
        "overdue",
        "reports_pending",
        "schema_changed",
        "single_version",
        "summary_short",
        "type_differs",
        "undeclared_column",
        "upload_checksum_missing",
        "version_gap",
    ]
    .iter()
    .map(|c| format!("quality_reason.{c}"))
    .collect();
    for d in pubdata_core::quality::Dimension::ALL {
        keys.push(format!("quality_dim.{}", d.as_str()));
    }
    keys.push("notice_kind.resource_overdue".into());
    keys.push("nav.timeliness".into());
    for lang in [Lang::ZhCn, Lang::En] {
        let missing: Vec<&String> = keys.iter().filter(|k| !i18n::has(lang, k)).collect();
        assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
    }
}
