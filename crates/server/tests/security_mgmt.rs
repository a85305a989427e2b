//! Security management (§7 of the standard), end to end on SQLite and PostgreSQL:
//! - the field classification rule: unconditional data with a field above the configured level
//!   is refused at save, submission and approval, naming the fields;
//! - the download trace of a resource and of a grant, with the AppKey's last use, and who may see it;
//! - the audit browser's filters, keyset pages, China Standard Time dates and clear errors;
//! - destruction (销毁) past retention on a controlled clock: tables and files gone, an audit
//!   record in the chain, the current published version untouched, "destroy now" confirmed.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, PASSWORD};
use pubdata_core::calendar::{Date, WorkCalendar};
use pubdata_core::field::Classification;
use pubdata_core::metadata::NewResourceMeta;
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::security::{Retention, SecurityRules};
use pubdata_service::ingest::{self, UploadInfo};
use pubdata_service::resources::{self, Decision};
use pubdata_service::{lifecycle, Caller};
use pubdata_store::{now_ms, DistributionRow, VerifyReport};
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;
const CSV: &str =
    "code,name,district\n510104001,督院街街道,锦江区\n510104002,盐市口街道,锦江区\n510105001,西御河街道,青羊区\n";

struct World {
    centre: i64,
    provider: i64,
    editor: Caller,
    reviewer: Caller,
}

async fn world(app: &TestApp) -> World {
    let centre = app
        .org("admin_institution", "四川省大数据中心", "91350100M000100Y43")
        .await;
    let provider = app.provider("四川省交通运输厅", "11510000008693034D").await;
    let other = app.provider("成都市卫生健康委员会", "11510100009166001X").await;
    let editor = app.staff("s.editor", provider, "provider_editor").await;
    app.staff("s.other", other, "provider_editor").await;
    let reviewer = app.staff("s.reviewer", centre, "admin_reviewer").await;
    app.staff("s.manager", centre, "admin_manager").await;
    app.consumer("s.consumer").await;
    app.consumer("s.stranger").await;
    World {
        centre,
        provider,
        editor,
        reviewer,
    }
}

fn meta(open_type: &str, important: bool) -> Value {
    json!({
        "title": "街道人口", "summary": "成都市各街道的常住人口，按年度更新，含代码与名称。", "domain": "民生服务",
        "open_type": open_type, "open_conditions": "仅限用于城市规划研究。", "update_frequency": "yearly",
        "spatial": "510100", "temporal_from": "2024-01-01", "contact_phone": "028-86001234",
        "fields": [{"name": "code", "title": "街道代码", "type": "code", "key": true},
                   {"name": "population", "title": "常住人口", "type": "integer",
                    "classification": if important { "important" } else { "general" }}]})
}

fn field_problem(body: &Value) -> (String, String, String) {
    let f = &body["error"]["fields"][0];
    (
        f["field"].as_str().unwrap_or_default().into(),
        f["code"].as_str().unwrap_or_default().into(),
        f["message"].as_str().unwrap_or_default().into(),
    )
}

/// 分级开放: the rule at save (API), at submission and at approval.
async fn classification_rule(app: &mut TestApp, w: &World) {
    let token = app.token("s.editor").await;
    let body =
        |open_type: &str, important: bool| json!({"provider_org_id": w.provider, "meta": meta(open_type, important)});
    let r = app
        .api(
            Method::POST,
            "/api/v1/resources",
            Some(&token),
            Some(body("unconditional", true)),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let (field, code, message) = field_problem(&r.json());
    assert_eq!(
        (field.as_str(), code.as_str()),
        ("open_type", "unconditional_above_general")
    );
    assert!(message.contains("population (常住人口)"), "{message}");
    assert!(message.contains("一般数据"), "{message}");
    // Conditional opening is allowed; switching it to unconditional is refused again.
    let r = app
        .api(
            Method::POST,
            "/api/v1/resources",
            Some(&token),
            Some(body("conditional", true)),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let id = r.json()["id"].as_i64().expect("id");
    let before = app.audit_len().await;
    let r = app
        .api(
            Method::PUT,
            &format!("/api/v1/resources/{id}"),
            Some(&token),
            Some(json!({"meta": meta("unconditional", true)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(field_problem(&r.json()).1, "unconditional_above_general");
    assert_eq!(app.audit_len().await, before, "nothing written");
    let stored = app.store.resource(id).await.unwrap().unwrap();
    assert_eq!(stored.open_type, "conditional");

    // A deployment that allows important data unconditionally saves and submits it; approval
    // under the stricter default re-checks and refuses, naming the field.
    let relaxed = SecurityRules {
        max_unconditional_classification: Classification::Important,
    };
    let form: NewResourceMeta = serde_json::from_value(meta("unconditional", true)).unwrap();
    let id = resources::create_with(&app.store, &w.editor, w.provider, &form, None, &relaxed)
        .await
        .unwrap();
    upload(app, &w.editor, id).await;
    let cal = WorkCalendar::official();
    assert!(
        resources::submit_with(&app.store, &w.editor, id, &cal, &SecurityRules::default())
            .await
            .is_err()
    );
    resources::submit_with(&app.store, &w.editor, id, &cal, &relaxed)
        .await
        .unwrap();
    let err = resources::decide(
        &app.store,
        &w.reviewer,
        id,
        Decision::Approve(ReviewChecklist::passed()),
    )
    .await
    .unwrap_err();
    assert!(format!("{err:?}").contains("unconditional_above_general"), "{err:?}");
    assert_eq!(app.store.resource(id).await.unwrap().unwrap().state, "pending_review");
    resources::decide_with(
        &app.store,
        &w.reviewer,
        id,
        Decision::Approve(ReviewChecklist::passed()),
        &relaxed,
    )
    .await
    .unwrap();
    assert_eq!(app.store.resource(id).await.unwrap().unwrap().state, "published");
}

async fn upload(app: &TestApp, editor: &Caller, id: i64) -> i64 {
    let ticket = ingest::begin_upload(&app.store, editor, id, "streets.csv")
        .await
        .unwrap();
    let mut out = app.files.writer(&ticket.key, u64::MAX).await.unwrap();
    out.write(CSV.as_bytes()).await.unwrap().unwrap();
    let stored = out.finish().await.unwrap();
    let info = UploadInfo {
        title: "街道".into(),
        change_note: "新版本".into(),
    };
    let dist = ingest::finish_upload(&app.store, editor, &ticket, &stored, &info)
        .await
        .unwrap();
    app.run_jobs().await;
    dist
}

/// 下载追溯 per resource and per grant.
async fn download_trace(app: &mut TestApp, w: &World) {
    let (id, dist) = app
        .draft_resource(&w.editor, w.provider, "成都市街道", "unconditional", CSV)
        .await;
    app.publish_resource(&w.editor, &w.reviewer, id).await;
    let consumer = app.caller("s.consumer").await;
    let grant = pubdata_service::access::accept_terms(&app.store, &consumer, id, true)
        .await
        .unwrap();
    let code = app.store.resource(id).await.unwrap().unwrap().code;
    let name = pubdata_service::published::name_of(&code);
    let mut b = app.browser();
    b.login("s.consumer", PASSWORD).await;
    let file = b.get(&format!("/dataset/{name}/resource/{dist}/download")).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.body);
    let key = pubdata_service::access::rotate_app_key(&app.store, &consumer, grant)
        .await
        .unwrap();
    let rows = app
        .api(
            Method::GET,
            &format!("/api/v1/resources/{id}/rows?app_key={key}"),
            None,
            None,
        )
        .await;
    assert_eq!(rows.status, StatusCode::OK, "{}", rows.body);

    let editor = app.token("s.editor").await;
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/resources/{id}/downloads"),
            Some(&editor),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let t = r.json();
    let d = &t["downloads"][0];
    assert_eq!(t["downloads"].as_array().unwrap().len(), 1, "{t}");
    assert_eq!(d["user_login"], "s.consumer");
    assert_eq!(d["grant_id"], grant);
    assert_eq!(d["distribution_id"], dist);
    assert_eq!(d["version"], 1);
    assert_eq!(d["bytes"].as_i64().unwrap(), file.body.len() as i64);
    assert!(t["next_before"].is_null());
    // The administration institution sees it too; another department, consumers and
    // anonymous callers do not.
    let reviewer = app.token("s.reviewer").await;
    let path = format!("/api/v1/resources/{id}/downloads");
    assert_eq!(
        app.api(Method::GET, &path, Some(&reviewer), None).await.status,
        StatusCode::OK
    );
    let other = app.token("s.other").await;
    assert_eq!(
        app.api(Method::GET, &path, Some(&other), None).await.status,
        StatusCode::FORBIDDEN
    );
    let stranger = app.token("s.stranger").await;
    assert_eq!(
        app.api(Method::GET, &path, Some(&stranger), None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.api(Method::GET, &path, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The grant's trace: its download and its AppKey's last use, for its consumer and staff.
    let gpath = format!("/api/v1/grants/{grant}/downloads");
    let mine = app.token("s.consumer").await;
    let r = app.api(Method::GET, &gpath, Some(&mine), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let g = r.json();
    assert_eq!(g["downloads"][0]["grant_id"], grant);
    assert_eq!(
        g["app_keys"][0]["prefix"].as_str().unwrap(),
        &key[..g["app_keys"][0]["prefix"].as_str().unwrap().len()]
    );
    assert!(g["app_keys"][0]["last_used_at"].as_i64().is_some(), "{g}");
    assert_eq!(
        app.api(Method::GET, &gpath, Some(&editor), None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.api(Method::GET, &gpath, Some(&stranger), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api(Method::GET, &gpath, Some(&other), None).await.status,
        StatusCode::NOT_FOUND
    );

    // The pages.
    let mut e = app.browser();
    e.login("s.editor", PASSWORD).await;
    let page = e.get(&format!("/provider/resources/{id}/downloads")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"download-trace\""));
    assert!(page.body.contains("s.consumer"), "{}", page.body);
    assert!(page.body.contains(&format!("href=\"/grants/{grant}/downloads\"")));
    assert!(e
        .get(&format!("/provider/resources/{id}"))
        .await
        .body
        .contains("id=\"download-trace-link\""));
    let page = b.get(&format!("/grants/{grant}/downloads")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"app-keys\""));
    assert!(!page.body.contains("从未使用"), "the key was used");
    assert!(b
        .get("/my")
        .await
        .body
        .contains(&format!("href=\"/grants/{grant}/downloads\"")));
    let mut o = app.browser();
    o.login("s.other", PASSWORD).await;
    assert_eq!(
        o.get(&format!("/provider/resources/{id}/downloads")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        o.get(&format!("/grants/{grant}/downloads")).await.status,
        StatusCode::NOT_FOUND
    );
}

/// The audit browser through the API and the page.
async fn audit_browser(app: &mut TestApp) {
    let token = app.token("s.manager").await;
    let get = |q: &str| format!("/api/v1/audit?{q}");
    let r = app
        .api(Method::GET, &get("action=resource.&limit=2"), Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = r.json();
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| e["action"].as_str().unwrap().starts_with("resource.")));
    assert!(events[0]["seq"].as_i64() > events[1]["seq"].as_i64(), "newest first");
    assert_eq!(page["head_seq"].as_i64().unwrap(), app.audit_len().await);
    assert_eq!(page["head_hash"].as_str().unwrap().len(), 64);
    // The next page continues below the last one shown, with the same filter.
    let next = page["next_before"].as_i64().expect("more pages");
    assert_eq!(next, events[1]["seq"].as_i64().unwrap());
    let older = app
        .api(
            Method::GET,
            &get(&format!("action=resource.&limit=2&before={next}")),
            Some(&token),
            None,
        )
        .await
        .json();
    assert!(older["events"][0]["seq"].as_i64().unwrap() < next);
    // Walking every page with the filter gives exactly the unfiltered events that match.
    let mut walked = Vec::new();
    let mut before = String::new();
    loop {
        let p = app
            .api(
                Method::GET,
                &get(&format!("actor=s.editor&limit=3{before}")),
                Some(&token),
                None,
            )
            .await
            .json();
        walked.extend(
            p["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap()),
        );
        match p["next_before"].as_i64() {
            Some(n) => before = format!("&before={n}"),
            None => break,
        }
    }
    let all = app.store.recent_audit(10_000, None).await.unwrap();
    let expected: Vec<i64> = all.iter().filter(|e| e.actor == "s.editor").map(|e| e.seq).collect();
    assert!(expected.len() > 3);
    assert_eq!(walked, expected);
    // One object's history.
    let resource = all.iter().find(|e| e.action == "resource.create").unwrap();
    let r = app
        .api(
            Method::GET,
            &get(&format!("object_type=resource&object_id={}", resource.object_id)),
            Some(&token),
            None,
        )
        .await
        .json();
    assert!(r["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["object_type"] == "resource" && e["object_id"] == resource.object_id.as_str()));
    // Days in China Standard Time: today holds every event, tomorrow none.
    let today = Date::from_unix_millis_cst(now_ms());
    let r = app
        .api(
            Method::GET,
            &get(&format!("from={today}&to={today}&limit=1000")),
            Some(&token),
            None,
        )
        .await
        .json();
    assert_eq!(r["events"].as_array().unwrap().len(), all.len().min(1000));
    let tomorrow = today.add_days(1);
    let r = app
        .api(Method::GET, &get(&format!("from={tomorrow}")), Some(&token), None)
        .await
        .json();
    assert!(r["events"].as_array().unwrap().is_empty());
    // Bad filters: 422 naming the parameter, in the caller's language.
    let r = app
        .api(Method::GET, &get("from=2026-02-30&before=x"), Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let fields: Vec<String> = r.json()["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fields, ["from", "before"]);
    let r = app
        .api(Method::GET, &get("from=2026-03-02&to=2026-03-01"), Some(&token), None)
        .await;
    assert_eq!(field_problem(&r.json()).1, "date_order");
    let editor = app.token("s.editor").await;
    assert_eq!(
        app.api(Method::GET, &get(""), Some(&editor), None).await.status,
        StatusCode::FORBIDDEN
    );

    // The page: filters kept in the form, a link to older events, a form error for a bad date.
    let mut m = app.browser();
    m.login("s.manager", PASSWORD).await;
    let p = m.get("/admin/audit?actor=s.editor&limit=2").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("value=\"s.editor\""));
    assert!(p.body.contains("id=\"audit-older\""));
    assert!(p.body.contains("id=\"audit-head\""));
    let older = p.body.split("id=\"audit-older\"").next().unwrap();
    let href = older
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    assert!(
        href.starts_with("/admin/audit?actor=s.editor&limit=2&before="),
        "{href}"
    );
    assert_eq!(m.get(&href).await.status, StatusCode::OK);
    let bad = m.get("/admin/audit?from=2026-13-01").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("class=\"error-summary\""), "{}", bad.body);
    assert!(bad.body.contains("起始日期"), "the field is named");
    let v = m.get("/admin/audit?verify=1").await;
    assert!(v.body.contains("id=\"verify-result\" class=\"ok\""));
}

fn file_exists(app: &TestApp, key: &Option<String>) -> bool {
    app.files.local_path(key.as_deref().expect("a key")).unwrap().exists()
}

async fn table_exists(app: &TestApp, table: &str) -> bool {
    app.store
        .execute_raw(&format!("SELECT COUNT(*) FROM {table}"))
        .await
        .is_ok()
}

async fn dist(app: &TestApp, id: i64) -> DistributionRow {
    app.store.distribution(id).await.unwrap().unwrap()
}

/// 销毁 on a controlled clock, then "destroy now" on the page.
async fn destruction(app: &mut TestApp, w: &World) {
    // A: published v1, then v2 approved as a revision, so v1 is superseded.
    let (a, a1) = app
        .draft_resource(&w.editor, w.provider, "成都市街道（历史）", "unconditional", CSV)
        .await;
    app.publish_resource(&w.editor, &w.reviewer, a).await;
    let a2 = upload(app, &w.editor, a).await;
    app.publish_resource(&w.editor, &w.reviewer, a).await;
    assert_eq!(dist(app, a1).await.state, "superseded");
    // B: published, then withdrawn.
    let (b, b1) = app
        .draft_resource(&w.editor, w.provider, "成都市街道（下架）", "unconditional", CSV)
        .await;
    app.publish_resource(&w.editor, &w.reviewer, b).await;
    // Published copies, as the ingest job's export leaves them.
    for d in [a1, a2, b1] {
        let row = dist(app, d).await;
        if row.export_key.is_none() {
            pubdata_service::download::export(&app.store, &app.files, &row)
                .await
                .unwrap();
        }
    }
    resources::withdraw(&app.store, &w.reviewer, b, "数据口径调整。")
        .await
        .unwrap();
    let (old_a1, cur_a2, old_b1) = (dist(app, a1).await, dist(app, a2).await, dist(app, b1).await);
    for d in [&old_a1, &cur_a2, &old_b1] {
        assert!(file_exists(app, &d.object_key) && file_exists(app, &d.export_key));
        assert!(table_exists(app, d.datastore_table.as_deref().unwrap()).await);
    }

    let retention = Retention {
        withdrawn_retention_days: 30,
        superseded_retention_days: 60,
    };
    let now = now_ms();
    let run = lifecycle::run(&app.store, &app.files, &retention, now).await.unwrap();
    assert_eq!(run, Default::default(), "nothing is due yet");
    let planned = lifecycle::planned(&app.store, &retention, now).await.unwrap();
    let ids: Vec<i64> = planned.iter().map(|p| p.candidate.distribution_id).collect();
    assert_eq!(ids, [b1, a1], "soonest first; the current version is never listed");
    assert!(planned.iter().all(|p| !p.due));

    // 31 days on: the withdrawn resource's data is destroyed, the superseded version not yet.
    let before = app.audit_len().await;
    let run = lifecycle::run(&app.store, &app.files, &retention, now + 31 * DAY_MS)
        .await
        .unwrap();
    assert_eq!((run.destroyed, run.files_completed), (1, 1));
    let gone = dist(app, b1).await;
    assert_eq!(gone.state, "destroyed");
    assert!(gone.object_key.is_none() && gone.export_key.is_none() && gone.datastore_table.is_none());
    assert!(!file_exists(app, &old_b1.object_key) && !file_exists(app, &old_b1.export_key));
    let b_table = old_b1.datastore_table.clone().unwrap();
    assert!(!table_exists(app, &b_table).await);
    assert!(app.store.datastore_columns(&b_table).await.unwrap().is_empty());
    let events = app.store.recent_audit(1, None).await.unwrap();
    assert_eq!(app.audit_len().await, before + 1);
    assert_eq!(
        (
            events[0].action.as_str(),
            events[0].object_id.as_str(),
            events[0].actor.as_str()
        ),
        ("distribution.destroy", b1.to_string().as_str(), "system:lifecycle")
    );
    let record = &app.store.destructions(10).await.unwrap()[0];
    assert_eq!((record.distribution_id, record.reason.as_str()), (b1, "withdrawn"));
    assert_eq!(record.audit_seq, events[0].seq);
    assert!(record.files_deleted_at.is_some());
    assert_eq!(record.files.len(), 2);
    assert!(matches!(
        app.store.verify_audit().await.unwrap(),
        VerifyReport::Intact { .. }
    ));
    // Idempotent: a second run finds nothing more to do.
    let run = lifecycle::run(&app.store, &app.files, &retention, now + 32 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(run, Default::default());
    // The current version of A is untouched; its old version waits for its own period.
    for (d, was) in [(a2, &cur_a2), (a1, &old_a1)] {
        let d = dist(app, d).await;
        assert_eq!(d.state, was.state);
        assert!(file_exists(app, &d.object_key) && file_exists(app, &d.export_key));
        assert!(table_exists(app, d.datastore_table.as_deref().unwrap()).await);
    }

    // "Destroy now" on the page, with the real clock: make A's v1 superseded long ago.
    app.store
        .execute_raw(&format!(
            "UPDATE distributions SET updated_at = updated_at - {} WHERE id = {a1}",
            400 * DAY_MS
        ))
        .await
        .unwrap();
    let mut m = app.browser();
    m.login("s.manager", PASSWORD).await;
    let page = m.get("/admin/lifecycle").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.nav().contains(&"lifecycle".to_string()));
    assert!(
        page.body.contains(&format!("action=\"/admin/lifecycle/{a1}/destroy\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("id=\"destroyed-{b1}\"")));
    // Without the confirmation nothing happens.
    let token = app.token("s.manager").await;
    let editor = app.token("s.editor").await;
    let before = app.audit_len().await;
    let r = m.post_form(&format!("/admin/lifecycle/{a1}/destroy"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("请勾选“确认”"), "{}", r.body);
    assert_eq!(app.audit_len().await, before);
    assert_eq!(dist(app, a1).await.state, "superseded");
    // The current version can never be destroyed, even by hand.
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/lifecycle/distributions/{a2}/destroy"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "not_due_for_destruction");
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/lifecycle/distributions/{a1}/destroy"),
            Some(&editor),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.audit_len().await, before);
    let r = m
        .post_form(&format!("/admin/lifecycle/{a1}/destroy"), &[("confirm", "yes")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(dist(app, a1).await.state, "destroyed");
    assert!(!file_exists(app, &old_a1.object_key) && !file_exists(app, &old_a1.export_key));
    assert!(!table_exists(app, old_a1.datastore_table.as_deref().unwrap()).await);
    let current = dist(app, a2).await;
    assert_eq!(current.state, "ready");
    assert!(
        file_exists(app, &current.export_key) && table_exists(app, current.datastore_table.as_deref().unwrap()).await
    );
    let e = &app.store.recent_audit(1, None).await.unwrap()[0];
    assert_eq!(
        (e.action.as_str(), e.actor.as_str()),
        ("distribution.destroy", "s.manager")
    );
    // The API lists what was destroyed; the published data still downloads.
    let l = app.api(Method::GET, "/api/v1/lifecycle", Some(&token), None).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.body);
    let l = l.json();
    let destroyed: Vec<i64> = l["destroyed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["distribution_id"].as_i64().unwrap())
        .collect();
    assert_eq!(destroyed, [a1, b1]);
    assert_eq!(
        app.api(Method::GET, "/api/v1/lifecycle", Some(&editor), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let code = app.store.resource(a).await.unwrap().unwrap().code;
    let name = pubdata_service::published::name_of(&code);
    let file = m.get(&format!("/dataset/{name}/resource/{a2}/download")).await;
    assert_eq!(file.status, StatusCode::OK);
    assert!(file.body.contains("督院街街道"));

    // C: withdrawn long ago, then a new version uploaded to publish it again. The old version
    // is due; the new one has its own full retention period and is never taken in flight.
    let (c, c1) = app
        .draft_resource(&w.editor, w.provider, "成都市街道（重新发布）", "unconditional", CSV)
        .await;
    app.publish_resource(&w.editor, &w.reviewer, c).await;
    resources::withdraw(&app.store, &w.reviewer, c, "数据口径调整。")
        .await
        .unwrap();
    let long_ago = 90 * DAY_MS;
    app.store
        .execute_raw(&format!(
            "UPDATE resources SET updated_at = updated_at - {long_ago} WHERE id = {c}"
        ))
        .await
        .unwrap();
    app.store
        .execute_raw(&format!(
            "UPDATE distributions SET updated_at = updated_at - {long_ago} WHERE id = {c1}"
        ))
        .await
        .unwrap();
    let c2 = upload(app, &w.editor, c).await;
    assert_eq!(dist(app, c2).await.state, "ready");
    let run = lifecycle::run(&app.store, &app.files, &retention, now_ms())
        .await
        .unwrap();
    assert_eq!(run.destroyed, 1, "only the version from before the withdrawal");
    assert_eq!(dist(app, c1).await.state, "destroyed");
    let fresh = dist(app, c2).await;
    assert_eq!(fresh.state, "ready");
    assert!(file_exists(app, &fresh.object_key) && table_exists(app, fresh.datastore_table.as_deref().unwrap()).await);
    let _ = w.centre;
}

async fn story(mut app: TestApp) {
    let w = world(&app).await;
    classification_rule(&mut app, &w).await;
    download_trace(&mut app, &w).await;
    destruction(&mut app, &w).await;
    audit_browser(&mut app).await;
}

#[tokio::test]
async fn security_management_on_sqlite() {
    story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn security_management_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    story(app).await;
}

#[test]
fn security_pages_are_translated() {
    use pubdata_server::i18n::{self, Lang};
    let mut keys: Vec<String> = [
        "nav.lifecycle",
        "flash.destroyed",
        "dist_state.destroyed",
        "field.unconditional_above_general",
        "field.unconditional_above_important",
        "field.confirm_destroy",
        "error.conflict.not_due_for_destruction",
        "lifecycle.reason_withdrawn",
        "lifecycle.reason_superseded",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    for l in [
        "actor",
        "action",
        "object_type",
        "object_id",
        "from",
        "to",
        "before",
        "confirm",
    ] {
        keys.push(format!("label.{l}"));
    }
    for lang in [Lang::ZhCn, Lang::En] {
        let missing: Vec<&String> = keys.iter().filter(|k| !i18n::has(lang, k)).collect();
        assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
    }
}
