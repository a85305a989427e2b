//! The traceable watermark end to end: two consumers are granted the same conditional data and
//! download it through the real router; each copy has its grant's row order and the same rows;
//! a leaked sample of one — a third of the rows, a column dropped, converted to GB18030 — is
//! traced to its grant and nobody else's.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{TestApp, PASSWORD};
use pubdata_core::application::{Action, NewApplication, NewScope};
use pubdata_core::calendar::{Date, WorkCalendar};
use pubdata_core::metadata::NewResourceMeta;
use pubdata_core::org::NewOrg;
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::user::NewUser;
use pubdata_service::access::{self, AccessSettings};
use pubdata_service::accounts::{self, actor_for, NewStaff, Registration};
use pubdata_service::ingest::{self, UploadInfo};
use pubdata_service::resources::{self, Decision};
use pubdata_service::Caller;
use serde_json::json;

async fn caller(app: &TestApp, login: &str) -> Caller {
    let u = app.store.user_by_login(login).await.unwrap().unwrap();
    Caller {
        actor: actor_for(&u),
        label: login.into(),
        ip: None,
    }
}

fn user(login: &str) -> NewUser {
    NewUser {
        login: login.into(),
        display_name: login.into(),
        email: format!("{login}@example.cn"),
        phone: String::new(),
        password: PASSWORD.into(),
    }
}

async fn org(app: &TestApp, kind: &str, name: &str, code: &str) -> i64 {
    let o = NewOrg {
        kind: kind.into(),
        name: name.into(),
        credit_code: code.into(),
        ..Default::default()
    };
    accounts::create_org(&app.store, &Caller::console(), o).await.unwrap()
}

async fn staff(app: &TestApp, login: &str, org_id: i64, role: &str) -> Caller {
    let new = NewStaff {
        user: user(login),
        org_id,
        role: role.into(),
    };
    accounts::create_staff(&app.store, &Caller::console(), new)
        .await
        .unwrap();
    caller(app, login).await
}

/// 3,000 rows of made-up but realistic street records.
fn table() -> String {
    let mut csv = String::from("code,name,district,households\n");
    for i in 0..3000 {
        csv.push_str(&format!(
            "5101{:05},第{i}街道,{}区,{}\n",
            i,
            ["锦江", "青羊", "金牛", "武侯", "成华"][i % 5],
            1000 + (i * 37) % 9000
        ));
    }
    csv
}

fn today() -> Date {
    Date::from_unix_millis_cst(pubdata_store::now_ms())
}

/// A consumer applies, the administration institution forwards, the provider approves from
/// today for 90 days; returns the grant's id.
async fn grant(app: &TestApp, consumer: &Caller, admin: &Caller, provider: &Caller, resource: i64) -> i64 {
    let settings = AccessSettings::default();
    let cal = WorkCalendar::official();
    let form: NewApplication = serde_json::from_value(json!({
        "purpose": "研究成都市街道的户数分布。", "scenario": "学术研究，成果仅用于论文。",
        "resources": [{"resource_id": resource, "fields": ["code", "name", "district", "households"]}],
        "period_from": today().add_days(1).to_string(), "period_to": today().add_days(100).to_string(),
        "security_measures": "内网存放，专人管理，项目结束后删除。", "commitment_accepted": true}))
    .unwrap();
    let id = access::save_draft(&app.store, consumer, None, &form).await.unwrap();
    access::submit(&app.store, consumer, id, &settings, &cal).await.unwrap();
    access::act(
        &app.store,
        admin,
        id,
        Action::Forward { note: String::new() },
        &settings,
        &cal,
    )
    .await
    .unwrap();
    let scope: NewScope = serde_json::from_value(json!({
        "resources": [{"resource_id": resource, "fields": ["code", "name", "district", "households"]}],
        "valid_from": today().add_days(1).to_string(), "valid_to": today().add_days(90).to_string(),
        "methods": ["download"]}))
    .unwrap();
    let grants = access::approve(&app.store, provider, id, &scope, &settings, &cal)
        .await
        .unwrap();
    // Usable from today (the approval could only start tomorrow).
    let mut tx = app.store.begin().await.unwrap();
    tx.set_grant_window(grants[0], Some(&today().to_string()), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    grants[0]
}

#[tokio::test]
async fn a_leaked_sample_is_traced_to_its_grant() {
    let app = TestApp::sqlite().await;
    let centre = org(&app, "admin_institution", "四川省大数据中心", "91350100M000100Y43").await;
    let provider = org(&app, "provider", "成都市民政局", "11510000008693034D").await;
    let editor = staff(&app, "m.editor", provider, "provider_editor").await;
    let prov_reviewer = staff(&app, "m.reviewer", provider, "provider_reviewer").await;
    let admin = staff(&app, "a.reviewer", centre, "admin_reviewer").await;
    for login in ["zhao", "qian"] {
        accounts::register_consumer(
            &app.store,
            &Caller::anonymous(None),
            Registration {
                user: user(login),
                org: None,
            },
        )
        .await
        .unwrap();
    }
    let (zhao, qian) = (caller(&app, "zhao").await, caller(&app, "qian").await);

    let meta: NewResourceMeta = serde_json::from_value(json!({
        "title": "成都市街道户数", "summary": "成都市各街道的户数统计，供城市规划研究有条件使用。", "domain": "民生服务",
        "open_type": "conditional", "open_conditions": "仅限学术研究使用，须签署数据安全承诺书。", "update_frequency": "yearly",
        "spatial": "510100", "temporal_from": "2024-01-01", "contact_phone": "028-86001234",
        "fields": [{"name": "code", "title": "代码", "type": "code", "key": true},
                   {"name": "name", "title": "名称", "type": "string"},
                   {"name": "district", "title": "区", "type": "string"},
                   {"name": "households", "title": "户数", "type": "integer"}]}))
    .unwrap();
    let id = resources::create(&app.store, &editor, provider, &meta, None)
        .await
        .unwrap();
    let ticket = ingest::begin_upload(&app.store, &editor, id, "streets.csv")
        .await
        .unwrap();
    let mut out = app.files.writer(&ticket.key, u64::MAX).await.unwrap();
    out.write(table().as_bytes()).await.unwrap().unwrap();
    let stored = out.finish().await.unwrap();
    let info = UploadInfo {
        title: "户数".into(),
        change_note: String::new(),
    };
    let dist = ingest::finish_upload(&app.store, &editor, &ticket, &stored, &info)
        .await
        .unwrap();
    app.run_jobs().await;
    resources::submit(&app.store, &editor, id, &WorkCalendar::official())
        .await
        .unwrap();
    resources::decide(&app.store, &admin, id, Decision::Approve(ReviewChecklist::passed()))
        .await
        .unwrap();
    let name = app.store.resource(id).await.unwrap().unwrap().code.to_ascii_lowercase();

    let g_zhao = grant(&app, &zhao, &admin, &prov_reviewer, id).await;
    let g_qian = grant(&app, &qian, &admin, &prov_reviewer, id).await;

    let path = format!("/dataset/{name}/resource/{dist}/download");
    let mut copies = Vec::new();
    for login in ["zhao", "qian"] {
        let mut b = app.browser();
        b.login(login, PASSWORD).await;
        let r = b.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{login}: {}", r.body);
        copies.push(r.body);
    }
    // Same rows, different order: values are untouched.
    let rows = |s: &str| s.lines().skip(1).map(str::to_string).collect::<BTreeSet<_>>();
    assert_eq!(rows(&copies[0]), rows(&copies[1]));
    assert_eq!(rows(&copies[0]).len(), 3000);
    assert!(
        rows(&copies[0]).contains("510100042,第42街道,金牛区,2554"),
        "values as loaded"
    );
    assert_ne!(copies[0], copies[1], "each grant has its own order");

    // Zhao's copy leaks: every third row, without the households column, in GB18030.
    let mut leaked = String::from("name,code,district\n");
    for line in copies[0].lines().skip(1).step_by(3) {
        let cells: Vec<&str> = line.split(',').collect();
        leaked.push_str(&format!("{},{},{}\r\n", cells[1], cells[0], cells[2]));
    }
    let (bytes, _, _) = encoding_rs::GB18030.encode(&leaked);
    let report = pubdata_service::download::trace(&app.store, &app_secret(&app), &name, &bytes[..], "leaked.csv")
        .await
        .unwrap();
    let named = report.matched().expect("a decisive match").grant_id.clone();
    assert_eq!(named, g_zhao.to_string(), "{report}");
    assert_ne!(named, g_qian.to_string());

    // A copy in the table's own order (not from a grant) names nobody.
    let report = pubdata_service::download::trace(&app.store, &app_secret(&app), &name, table().as_bytes(), "t.csv")
        .await
        .unwrap();
    assert!(report.matched().is_none(), "{report}");
}

/// The application's watermark key (the same derivation the server uses).
fn app_secret(app: &TestApp) -> pubdata_ingest::watermark::WatermarkSecret {
    pubdata_server::watermark_secret(&app.data_dir).unwrap()
}
