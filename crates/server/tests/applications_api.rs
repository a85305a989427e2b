//! Steps 4–8 through the JSON API with API tokens and AppKeys: unconditional data granted on
//! accepting the terms; a conditional application that goes through pre-review (with a request
//! for more information), provider review and approval with a narrower scope, then download and
//! data API access limited to the grant; refusals at pre-review and by the provider (relayed with
//! rewording, the original kept); withdrawal; revocation and expiry; and what other consumers
//! and providers cannot see. Runs on SQLite, and on PostgreSQL when configured.

mod common;

use axum::http::{header, Method, StatusCode};
use common::{Resp, TestApp, PASSWORD};
use pubdata_core::calendar::WorkCalendar;
use pubdata_core::metadata::NewResourceMeta;
use pubdata_core::org::NewOrg;
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::user::NewUser;
use pubdata_service::accounts::{self, actor_for, NewStaff, Registration};
use pubdata_service::ingest::{self, UploadInfo};
use pubdata_service::resources::{self, Decision};
use pubdata_service::{auth, Caller};
use serde_json::{json, Value};

const PEOPLE: &str = "code,name,district,phone\n\
    510104001,春熙路街道,锦江区,13800138000\n\
    510104002,书院街街道,锦江区,13800138001\n\
    510105001,西御河街道,青羊区,13800138002\n\
    510105002,草市街街道,青羊区,13800138003\n";

struct World {
    editor: Caller,
    reviewer: Caller,
    provider: i64,
    /// API tokens.
    admin: String,
    prov_reviewer: String,
    other_provider: String,
    consumer: String,
    other_consumer: String,
}

async fn caller(app: &TestApp, login: &str) -> Caller {
    let u = app.store.user_by_login(login).await.unwrap().unwrap();
    Caller {
        actor: actor_for(&u),
        label: login.into(),
        ip: None,
    }
}

async fn token(app: &TestApp, login: &str) -> String {
    let c = caller(app, login).await;
    auth::create_token(&app.store, &c, "test").await.unwrap().1
}

async fn staff(app: &TestApp, login: &str, org_id: i64, role: &str) -> Caller {
    let user = NewUser {
        login: login.into(),
        display_name: login.into(),
        email: format!("{login}@example.cn"),
        phone: String::new(),
        password: PASSWORD.into(),
    };
    accounts::create_staff(
        &app.store,
        &Caller::console(),
        NewStaff {
            user,
            org_id,
            role: role.into(),
        },
    )
    .await
    .unwrap();
    caller(app, login).await
}

async fn consumer(app: &TestApp, login: &str) -> String {
    let reg = Registration {
        user: NewUser {
            login: login.into(),
            display_name: format!("用户{login}"),
            email: format!("{login}@example.cn"),
            phone: String::new(),
            password: PASSWORD.into(),
        },
        org: None,
    };
    accounts::register_consumer(&app.store, &Caller::anonymous(None), reg)
        .await
        .unwrap();
    token(app, login).await
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

async fn world(app: &TestApp) -> World {
    let centre = org(app, "admin_institution", "四川省大数据中心", "91350100M000100Y43").await;
    let provider = org(app, "provider", "四川省交通运输厅", "11510000008693034D").await;
    let other = org(app, "provider", "成都市卫生健康委员会", "11510100009166001X").await;
    let editor = staff(app, "t.editor", provider, "provider_editor").await;
    staff(app, "t.reviewer", provider, "provider_reviewer").await;
    staff(app, "h.reviewer", other, "provider_reviewer").await;
    let reviewer = staff(app, "a.reviewer", centre, "admin_reviewer").await;
    World {
        editor,
        reviewer,
        provider,
        admin: token(app, "a.reviewer").await,
        prov_reviewer: token(app, "t.reviewer").await,
        other_provider: token(app, "h.reviewer").await,
        consumer: consumer(app, "li.si").await,
        other_consumer: consumer(app, "zhang.san").await,
    }
}

/// A published resource with the street table loaded; returns (id, name, file distribution).
async fn publish(app: &TestApp, w: &World, title: &str, open_type: &str) -> (i64, String, i64) {
    let mut meta: NewResourceMeta = serde_json::from_value(json!({
        "title": title, "summary": "成都市各区街道的名称、所属区县和联系电话，按年度更新。", "domain": "民生服务",
        "open_type": open_type, "update_frequency": "yearly", "spatial": "510100", "temporal_from": "2024-01-01",
        "contact_phone": "028-86001234",
        "fields": [{"name": "code", "title": "街道代码", "type": "code", "key": true},
                   {"name": "name", "title": "名称", "type": "string"},
                   {"name": "district", "title": "区县", "type": "string"},
                   {"name": "phone", "title": "联系电话", "type": "string", "sensitive": true}]}))
    .unwrap();
    if open_type == "conditional" {
        meta.open_conditions = "仅限用于城市规划研究。".into();
    }
    let id = resources::create(&app.store, &w.editor, w.provider, &meta, None)
        .await
        .unwrap();
    let ticket = ingest::begin_upload(&app.store, &w.editor, id, "streets.csv")
        .await
        .unwrap();
    let mut out = app.files.writer(&ticket.key, u64::MAX).await.unwrap();
    out.write(PEOPLE.as_bytes()).await.unwrap().unwrap();
    let stored = out.finish().await.unwrap();
    let info = UploadInfo {
        title: "街道".into(),
        change_note: String::new(),
    };
    let dist = ingest::finish_upload(&app.store, &w.editor, &ticket, &stored, &info)
        .await
        .unwrap();
    app.run_jobs().await;
    let keep = pubdata_ingest::MaskRule {
        column: "phone".into(),
        method: pubdata_ingest::MaskMethod::Keep { first: 3, last: 4 },
    };
    ingest::set_privacy(&app.store, &w.editor, dist, &[keep], "")
        .await
        .unwrap();
    app.run_jobs().await;
    resources::submit(&app.store, &w.editor, id, &WorkCalendar::official())
        .await
        .unwrap();
    resources::decide(
        &app.store,
        &w.reviewer,
        id,
        Decision::Approve(ReviewChecklist::passed()),
    )
    .await
    .unwrap();
    let code = app.store.resource(id).await.unwrap().unwrap().code;
    (id, code.to_ascii_lowercase(), dist)
}

async fn call(app: &mut TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
    app.api(method, path, Some(token), body).await
}

fn expect(r: &Resp, status: StatusCode, what: &str) -> Value {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    if r.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&r.body).unwrap_or(Value::String(r.body.clone()))
    }
}

fn field_codes(v: &Value) -> Vec<(String, String)> {
    v["error"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["field"].as_str().unwrap_or("").into(),
                        f["code"].as_str().unwrap_or("").into(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn date(days_from_today: i64) -> String {
    pubdata_core::calendar::Date::from_unix_millis_cst(pubdata_store::now_ms())
        .add_days(days_from_today)
        .to_string()
}

fn form(resource: i64, fields: &[&str]) -> Value {
    json!({"purpose": "研究成都市中心城区街道服务设施的空间分布。", "scenario": "城市规划学术研究，成果仅用于论文发表。",
           "resources": [{"resource_id": resource, "fields": fields}], "period_from": date(1), "period_to": date(180),
           "security_measures": "数据存放于内网服务器，仅课题组两名成员可访问，项目结束后删除。",
           "commitment_accepted": true})
}

/// Uploads an attachment as its raw bytes.
async fn upload(app: &mut TestApp, id: i64, name: &str, bytes: Vec<u8>, token: &str) -> Resp {
    let req = axum::http::Request::post(format!("/api/v1/applications/{id}/attachments?filename={name}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(axum::body::Body::from(bytes))
        .unwrap();
    let saved = std::mem::take(&mut app.jar);
    let r = app.send(req).await;
    app.jar = saved;
    r
}

/// A data API call with an AppKey and nothing else.
async fn rows(app: &mut TestApp, path: String, key: String) -> Resp {
    let req = axum::http::Request::get(path)
        .header("x-app-key", key)
        .body(axum::body::Body::empty())
        .unwrap();
    let saved = std::mem::take(&mut app.jar);
    let r = app.send(req).await;
    app.jar = saved;
    r
}

async fn notices(app: &mut TestApp, token: &str) -> Vec<Value> {
    let r = call(app, Method::GET, "/api/v1/notices", token, None).await;
    expect(&r, StatusCode::OK, "notices")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn story(mut app: TestApp) {
    let w = world(&app).await;
    let (open_id, open_name, open_dist) = publish(&app, &w, "成都市街道名录", "unconditional").await;
    let (cond_id, cond_name, cond_dist) = publish(&app, &w, "成都市街道联系电话", "conditional").await;
    let c = w.consumer.clone();

    // Unconditional data: no download and no data API until the terms are accepted.
    let download = format!("/dataset/{open_name}/resource/{open_dist}/download");
    let r = call(&mut app, Method::GET, &download, &c, None).await;
    // A page address: the error is a page saying what to do.
    expect(&r, StatusCode::CONFLICT, "before terms");
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/resources/{open_id}/accept-terms"),
        &c,
        Some(json!({"accepted": false})),
    )
    .await;
    assert_eq!(
        field_codes(&expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "terms refused")),
        vec![("terms_accepted".to_string(), "terms_required".to_string())]
    );
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/resources/{open_id}/accept-terms"),
        &c,
        Some(json!({"accepted": true})),
    )
    .await;
    let grant = expect(&r, StatusCode::CREATED, "terms")["grant_id"].as_i64().unwrap();
    // Accepting again keeps the same grant.
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/resources/{open_id}/accept-terms"),
        &c,
        Some(json!({"accepted": true})),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::CREATED, "terms again")["grant_id"], grant);
    let r = call(&mut app, Method::GET, &download, &c, None).await;
    expect(&r, StatusCode::OK, "download after terms");
    assert!(r.body.contains("138****8000") && !r.body.contains("13800138000"));
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/resources/{open_id}/rows"),
        &c,
        None,
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "rows after terms")["total"], 4);
    // Conditional data cannot be had by accepting terms.
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/resources/{cond_id}/accept-terms"),
        &c,
        Some(json!({"accepted": true})),
    )
    .await;
    assert_eq!(
        field_codes(&expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "conditional terms")),
        vec![("resource_id".to_string(), "application_required".to_string())]
    );
    let r = call(
        &mut app,
        Method::GET,
        &format!("/dataset/{cond_name}/resource/{cond_dist}/download"),
        &c,
        None,
    )
    .await;
    expect(&r, StatusCode::CONFLICT, "no grant");

    // A conditional application: bad input named, nothing saved.
    let mut bad = form(cond_id, &["code", "salary"]);
    bad["commitment_accepted"] = json!(false);
    bad["period_to"] = json!(date(800));
    let r = call(&mut app, Method::POST, "/api/v1/applications", &c, Some(bad.clone())).await;
    let draft = expect(&r, StatusCode::CREATED, "a draft keeps a half-filled form")["id"]
        .as_i64()
        .unwrap();
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{draft}/submit"),
        &c,
        None,
    )
    .await;
    let codes = field_codes(&expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "submit bad"));
    for want in ["commitment_required", "period_too_long", "field_not_in_resource"] {
        assert!(
            codes.iter().any(|(_, code)| code == want),
            "{want} missing from {codes:?}"
        );
    }
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/applications/{draft}"),
        &c,
        None,
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "still a draft")["state"], "draft");

    // Attachments: a PDF is taken; an executable named .pdf is not, and nothing is kept of it.
    let pdf = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let r = upload(&mut app, draft, "proposal.pdf", pdf.clone(), &c).await;
    let aid = expect(&r, StatusCode::CREATED, "pdf")["id"].as_i64().unwrap();
    let r = upload(
        &mut app,
        draft,
        "virus.pdf",
        b"MZ\x90\x00\x03 this is a PE executable".to_vec(),
        &c,
    )
    .await;
    assert_eq!(
        field_codes(&expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "exe as pdf")),
        vec![("attachment".to_string(), "attachment_type".to_string())]
    );
    let r = upload(&mut app, draft, "x.pdf", pdf.clone(), &w.other_consumer).await;
    expect(&r, StatusCode::NOT_FOUND, "someone else's application");
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/applications/{draft}/attachments/{aid}"),
        &c,
        None,
    )
    .await;
    assert_eq!(r.body.as_bytes(), &pdf[..]);
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/applications/{draft}/attachments/{aid}"),
        &w.other_consumer,
        None,
    )
    .await;
    expect(&r, StatusCode::NOT_FOUND, "another consumer's attachment");

    // Corrected and submitted; another consumer and another provider do not see it.
    let r = call(
        &mut app,
        Method::PUT,
        &format!("/api/v1/applications/{draft}"),
        &c,
        Some(form(cond_id, &["code", "name", "phone"])),
    )
    .await;
    expect(&r, StatusCode::OK, "edit");
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{draft}/submit"),
        &c,
        None,
    )
    .await;
    let v = expect(&r, StatusCode::OK, "submit");
    assert_eq!(v["state"], "pre_review");
    assert!(v["stage_due"].is_string());
    for t in [&w.other_consumer, &w.other_provider, &w.prov_reviewer] {
        let r = call(&mut app, Method::GET, &format!("/api/v1/applications/{draft}"), t, None).await;
        expect(&r, StatusCode::NOT_FOUND, "not theirs (yet)");
    }
    // Only the administration institution decides now.
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{draft}/decision"),
        &w.prov_reviewer,
        Some(json!({"decision": "forward"})),
    )
    .await;
    expect(
        &r,
        StatusCode::NOT_FOUND,
        "the provider cannot see it before it is forwarded",
    );
    let queue = call(&mut app, Method::GET, "/api/v1/application-queue", &w.admin, None).await;
    assert_eq!(expect(&queue, StatusCode::OK, "queue").as_array().unwrap().len(), 1);

    // Needs-info loop.
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{draft}/decision"),
        &w.admin,
        Some(json!({"decision": "request_info", "text": ""})),
    )
    .await;
    expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "what is missing must be said");
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{draft}/decision"),
        &w.admin,
        Some(json!({"decision": "request_info", "text": "请补充课题立项文件编号。"})),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "request info")["state"], "needs_info");
    let inbox = notices(&mut app, &c).await;
    assert!(inbox
        .iter()
        .any(|n| n["kind"] == "application_info_requested" && n["reason"] == "请补充课题立项文件编号。"));
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{draft}/answer"),
        &c,
        Some(json!({"reply": "立项编号：川科研 2026-118。"})),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "answer")["state"], "pre_review");
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{draft}/decision"),
        &w.admin,
        Some(json!({"decision": "forward", "text": "材料齐全。"})),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "forward")["state"], "provider_review");
    // Now the provider sees it; another provider still does not.
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/applications/{draft}"),
        &w.prov_reviewer,
        None,
    )
    .await;
    expect(&r, StatusCode::OK, "provider sees it");
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/applications/{draft}"),
        &w.other_provider,
        None,
    )
    .await;
    expect(&r, StatusCode::NOT_FOUND, "another provider");

    // Approval with a narrower scope: no phone numbers, only 锦江区, download and API.
    let scope = json!({"resources": [{"resource_id": cond_id, "fields": ["code", "name"],
                        "filters": [{"field": "code", "op": "prefix", "value": "510104"}]}],
                       "valid_from": date(1), "valid_to": date(90), "methods": ["download", "api"]});
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{draft}/decision"),
        &w.prov_reviewer,
        Some(
            json!({"decision": "approve", "scope": {"resources": [{"resource_id": cond_id, "fields": ["salary"]}],
        "valid_from": date(1), "valid_to": date(400), "methods": []}}),
        ),
    )
    .await;
    let codes = field_codes(&expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "bad scope"));
    assert!(!codes.is_empty(), "{codes:?}");
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{draft}/decision"),
        &w.prov_reviewer,
        Some(json!({"decision": "approve", "scope": scope})),
    )
    .await;
    let v = expect(&r, StatusCode::OK, "approve");
    assert_eq!(v["state"], "granted");
    let g = &v["grants"][0];
    assert_eq!(g["fields"], json!(["code", "name"]));
    let grant_id = g["id"].as_i64().unwrap();
    assert!(notices(&mut app, &c)
        .await
        .iter()
        .any(|n| n["kind"] == "application_granted"));

    // The grant starts tomorrow: not usable today.
    let r = call(
        &mut app,
        Method::GET,
        &format!("/dataset/{cond_name}/resource/{cond_dist}/download"),
        &c,
        None,
    )
    .await;
    expect(&r, StatusCode::CONFLICT, "before the window");
    let mut tx = app.store.begin().await.unwrap();
    pubdata_store_test_window(&mut tx, grant_id, &date(0)).await;
    tx.commit().await.unwrap();
    let r = call(
        &mut app,
        Method::GET,
        &format!("/dataset/{cond_name}/resource/{cond_dist}/download"),
        &c,
        None,
    )
    .await;
    expect(&r, StatusCode::OK, "download under the grant");
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(lines[0], "code,name");
    assert_eq!(lines.len(), 3, "only 锦江区: {}", r.body);
    assert!(!r.body.contains("138"), "no phone numbers");

    // The data API with an AppKey: the grant's fields and rows only.
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/grants/{grant_id}/app-key"),
        &w.other_consumer,
        None,
    )
    .await;
    expect(&r, StatusCode::NOT_FOUND, "not their grant");
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/grants/{grant_id}/app-key"),
        &c,
        None,
    )
    .await;
    let key = expect(&r, StatusCode::CREATED, "app key")["app_key"]
        .as_str()
        .unwrap()
        .to_string();
    let r = rows(&mut app, format!("/api/v1/resources/{cond_id}/rows"), key.clone()).await;
    let v = expect(&r, StatusCode::OK, "rows by key");
    assert_eq!(v["fields"], json!(["code", "name"]));
    assert_eq!(v["total"], 2);
    let r = rows(
        &mut app,
        format!("/api/v1/resources/{cond_id}/rows?fields=phone"),
        key.clone(),
    )
    .await;
    assert_eq!(
        field_codes(&expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "field outside")),
        vec![("phone".to_string(), "field_not_granted".to_string())]
    );
    let r = rows(&mut app, format!("/api/v1/resources/{open_id}/rows"), key.clone()).await;
    expect(&r, StatusCode::FORBIDDEN, "another resource");
    let r = rows(
        &mut app,
        format!("/api/v1/resources/{cond_id}/rows"),
        "pak_nonsense".into(),
    )
    .await;
    assert_eq!(
        expect(&r, StatusCode::UNAUTHORIZED, "unknown key")["error"]["code"],
        "app_key_invalid"
    );
    // A new key replaces the old one.
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/grants/{grant_id}/app-key"),
        &c,
        None,
    )
    .await;
    let key2 = expect(&r, StatusCode::CREATED, "rotate")["app_key"]
        .as_str()
        .unwrap()
        .to_string();
    let r = rows(&mut app, format!("/api/v1/resources/{cond_id}/rows"), key.clone()).await;
    expect(&r, StatusCode::UNAUTHORIZED, "old key");

    // Revocation by the provider: access stops at once, the consumer is told why.
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/grants/{grant_id}/revoke"),
        &w.other_consumer,
        Some(json!({"reason": "违规"})),
    )
    .await;
    expect(&r, StatusCode::NOT_FOUND, "not theirs to revoke");
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/grants/{grant_id}/revoke"),
        &w.prov_reviewer,
        Some(json!({"reason": "发现数据被转售，违反安全承诺。"})),
    )
    .await;
    expect(&r, StatusCode::NO_CONTENT, "revoke");
    let r = rows(&mut app, format!("/api/v1/resources/{cond_id}/rows"), key2.clone()).await;
    assert_eq!(
        expect(&r, StatusCode::UNAUTHORIZED, "revoked key")["error"]["code"],
        "app_key_invalid"
    );
    let r = call(
        &mut app,
        Method::GET,
        &format!("/dataset/{cond_name}/resource/{cond_dist}/download"),
        &c,
        None,
    )
    .await;
    expect(&r, StatusCode::CONFLICT, "download after revocation");
    assert!(notices(&mut app, &c)
        .await
        .iter()
        .any(|n| n["kind"] == "grant_revoked" && n["reason"] == "发现数据被转售，违反安全承诺。"));

    // Rejected at pre-review: straight to the consumer with the reason.
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/applications",
        &c,
        Some(form(cond_id, &["code"])),
    )
    .await;
    let second = expect(&r, StatusCode::CREATED, "second")["id"].as_i64().unwrap();
    call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{second}/submit"),
        &c,
        None,
    )
    .await;
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{second}/decision"),
        &w.admin,
        Some(json!({"decision": "reject", "text": "使用目的与开放条件不符。"})),
    )
    .await;
    let v = expect(&r, StatusCode::OK, "reject");
    assert_eq!(
        (v["state"].as_str(), v["reason"].as_str()),
        (Some("rejected"), Some("使用目的与开放条件不符。"))
    );
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{second}/withdraw"),
        &c,
        None,
    )
    .await;
    expect(&r, StatusCode::CONFLICT, "no withdrawal after a decision");

    // Refused by the provider, relayed by the administration institution with rewording.
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/applications",
        &c,
        Some(form(cond_id, &["code"])),
    )
    .await;
    let third = expect(&r, StatusCode::CREATED, "third")["id"].as_i64().unwrap();
    call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{third}/submit"),
        &c,
        None,
    )
    .await;
    call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{third}/decision"),
        &w.admin,
        Some(json!({"decision": "forward"})),
    )
    .await;
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{third}/decision"),
        &w.prov_reviewer,
        Some(json!({"decision": "provider_reject", "text": "该申请人前次授权被撤销。"})),
    )
    .await;
    assert_eq!(
        expect(&r, StatusCode::OK, "provider reject")["state"],
        "provider_rejected"
    );
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/applications/{third}"),
        &c,
        None,
    )
    .await;
    assert!(
        expect(&r, StatusCode::OK, "consumer view")["reason"].is_null(),
        "not relayed yet"
    );
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{third}/decision"),
        &w.admin,
        Some(json!({"decision": "relay", "text": "经审核，暂不满足开放条件。"})),
    )
    .await;
    let v = expect(&r, StatusCode::OK, "relay");
    assert_eq!(v["state"], "rejected");
    let relay = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "relay")
        .unwrap()
        .clone();
    assert_eq!(relay["reason"], "经审核，暂不满足开放条件。");
    assert_eq!(relay["original_reason"], "该申请人前次授权被撤销。");
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/applications/{third}"),
        &c,
        None,
    )
    .await;
    let mine = expect(&r, StatusCode::OK, "consumer sees the rewording");
    assert_eq!(mine["reason"], "经审核，暂不满足开放条件。");
    assert!(
        !r.body.contains("前次授权被撤销"),
        "the provider's own words stay with staff"
    );
    assert!(notices(&mut app, &c)
        .await
        .iter()
        .any(|n| n["kind"] == "application_rejected" && n["reason"] == "经审核，暂不满足开放条件。"));

    // Withdrawal before a decision.
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/applications",
        &c,
        Some(form(cond_id, &["code"])),
    )
    .await;
    let fourth = expect(&r, StatusCode::CREATED, "fourth")["id"].as_i64().unwrap();
    call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{fourth}/submit"),
        &c,
        None,
    )
    .await;
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{fourth}/withdraw"),
        &w.other_consumer,
        None,
    )
    .await;
    expect(&r, StatusCode::NOT_FOUND, "someone else's");
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{fourth}/withdraw"),
        &c,
        None,
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "withdraw")["state"], "withdrawn");

    // Expiry: a grant whose last day has passed is expired by the job, and its holder told.
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/applications",
        &w.other_consumer.clone(),
        Some(form(cond_id, &["code"])),
    )
    .await;
    let fifth = expect(&r, StatusCode::CREATED, "fifth")["id"].as_i64().unwrap();
    let oc = w.other_consumer.clone();
    call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{fifth}/submit"),
        &oc,
        None,
    )
    .await;
    call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{fifth}/decision"),
        &w.admin,
        Some(json!({"decision": "forward"})),
    )
    .await;
    let scope = json!({"resources": [{"resource_id": cond_id, "fields": ["code"]}], "valid_from": date(1),
                       "valid_to": date(2), "methods": ["download"]});
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{fifth}/decision"),
        &w.prov_reviewer,
        Some(json!({"decision": "approve", "scope": scope})),
    )
    .await;
    let g5 = expect(&r, StatusCode::OK, "approve fifth")["grants"][0]["id"]
        .as_i64()
        .unwrap();
    let mut tx = app.store.begin().await.unwrap();
    pubdata_store_test_window_to(&mut tx, g5, &date(-10), &date(-1)).await;
    tx.commit().await.unwrap();
    assert_eq!(pubdata_service::access::expire_grants(&app.store).await.unwrap(), 1);
    let r = call(&mut app, Method::GET, "/api/v1/grants", &oc, None).await;
    assert_eq!(expect(&r, StatusCode::OK, "grants")[0]["state"], "expired");
    assert!(notices(&mut app, &oc)
        .await
        .iter()
        .any(|n| n["kind"] == "grant_expired"));
    assert_eq!(pubdata_service::access::expire_grants(&app.store).await.unwrap(), 0);

    // Every download was logged with its grant.
    let me = app.store.user_by_login("li.si").await.unwrap().unwrap();
    let log = app.store.downloads_of(me.id, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().any(|d| d.grant_id == Some(grant_id)));
    assert!(log.iter().any(|d| d.grant_id == Some(grant)));
    let _ = header::ETAG;
}

/// Moves a grant's window to start on `from` (tests cannot wait a day).
async fn pubdata_store_test_window(tx: &mut pubdata_store::Tx, grant: i64, from: &str) {
    tx.set_grant_window(grant, Some(from), None).await.unwrap();
}

async fn pubdata_store_test_window_to(tx: &mut pubdata_store::Tx, grant: i64, from: &str, to: &str) {
    tx.set_grant_window(grant, Some(from), Some(to)).await.unwrap();
}

#[tokio::test]
async fn applications_grants_and_app_keys_on_sqlite() {
    story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn applications_grants_and_app_keys_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    story(app).await;
}

fn kinds(notices: &[Value], kind: &str) -> usize {
    notices.iter().filter(|n| n["kind"] == kind).count()
}

async fn backdate(app: &TestApp, grant: i64, days_ago: i64) {
    let mut tx = app.store.begin().await.unwrap();
    pubdata_store_test_window(&mut tx, grant, &date(-days_ago)).await;
    tx.commit().await.unwrap();
}

async fn remind(app: &TestApp) -> usize {
    let rules = pubdata_core::usage_report::Rules::default();
    pubdata_service::feedback::remind(&app.store, &rules).await.unwrap()
}

async fn feedback_of(app: &mut TestApp, grant: i64, token: &str) -> Value {
    let r = call(
        app,
        Method::GET,
        &format!("/api/v1/grants/{grant}/usage-reports"),
        token,
        None,
    )
    .await;
    expect(&r, StatusCode::OK, "feedback")
}

fn has_grant(list: &Value, grant: i64) -> bool {
    list.as_array().unwrap().iter().any(|f| f["grant_id"] == grant)
}

/// 数据应用反馈: a grant's due dates, the reminder sent once, the overdue mark seen by the
/// consumer, the provider and the administration, the report that clears it; someone else's
/// grant and a double submission refused with nothing changed; the warn and block policies when
/// the consumer applies again.
async fn feedback_story(mut app: TestApp) {
    let w = world(&app).await;
    let (open_id, _, _) = publish(&app, &w, "成都市街道名录", "unconditional").await;
    let (cond_id, _, _) = publish(&app, &w, "成都市街道联系电话", "conditional").await;
    let c = w.consumer.clone();
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/resources/{open_id}/accept-terms"),
        &c,
        Some(json!({"accepted": true})),
    )
    .await;
    let grant = expect(&r, StatusCode::CREATED, "terms")["grant_id"].as_i64().unwrap();
    let settings = pubdata_service::access::AccessSettings::default();

    // Granted 85 days ago: the first report is due in 5 days; the consumer is reminded once.
    backdate(&app, grant, 85).await;
    let f = feedback_of(&mut app, grant, &c).await;
    assert_eq!(f["next_due"], date(5), "{f}");
    assert_eq!(f["overdue"], false);
    assert_eq!(remind(&app).await, 1, "due soon");
    assert_eq!(remind(&app).await, 0, "once per due date");
    pubdata_service::access::housekeeping(&app.store, &settings, &WorkCalendar::official())
        .await
        .unwrap();
    assert_eq!(kinds(&notices(&mut app, &c).await, "usage_report_due_soon"), 1);

    // 130 days on, the first due date passed 40 days ago: overdue, told once to the consumer
    // and the provider; every side sees the mark.
    backdate(&app, grant, 130).await;
    assert_eq!(remind(&app).await, 1, "overdue");
    assert_eq!(remind(&app).await, 0, "overdue once");
    assert_eq!(kinds(&notices(&mut app, &c).await, "usage_report_overdue"), 1);
    assert_eq!(
        kinds(&notices(&mut app, &w.prov_reviewer).await, "usage_report_overdue"),
        1
    );
    let f = feedback_of(&mut app, grant, &c).await;
    assert_eq!(
        (f["overdue"].clone(), f["overdue_days"].clone()),
        (json!(true), json!(40)),
        "{f}"
    );
    assert_eq!(f["next_due"], date(-40));
    let r = call(&mut app, Method::GET, "/api/v1/usage-reports?scope=mine", &c, None).await;
    assert!(has_grant(&expect(&r, StatusCode::OK, "mine"), grant));
    for (who, token) in [("provider", &w.prov_reviewer), ("admin", &w.admin)] {
        let r = call(&mut app, Method::GET, "/api/v1/usage-reports?overdue=true", token, None).await;
        let list = expect(&r, StatusCode::OK, who);
        assert!(has_grant(&list, grant), "{who}: {list}");
        feedback_of(&mut app, grant, token).await;
    }
    let r = call(&mut app, Method::GET, "/api/v1/usage-reports", &w.other_provider, None).await;
    assert!(!has_grant(&expect(&r, StatusCode::OK, "other provider"), grant));
    let r = call(&mut app, Method::GET, "/api/v1/usage-reports", &c, None).await;
    expect(&r, StatusCode::FORBIDDEN, "a consumer oversees nothing");

    // Applying again with feedback overdue beyond 30 days: warned by default ...
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/applications",
        &c,
        Some(form(cond_id, &["code"])),
    )
    .await;
    let app_id = expect(&r, StatusCode::CREATED, "draft")["id"].as_i64().unwrap();
    let li = caller(&app, "li.si").await;
    // ... refused under the block policy, with nothing changed ...
    let mut block = settings.clone();
    block.feedback.feedback_policy = pubdata_core::usage_report::OverduePolicy::Block;
    let audit = app.audit_len().await;
    let err = pubdata_service::access::submit(&app.store, &li, app_id, &block, &WorkCalendar::official())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("feedback_overdue"), "{err}");
    assert_eq!(app.audit_len().await, audit, "nothing recorded");
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/applications/{app_id}"),
        &c,
        None,
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "still a draft")["state"], "draft");
    // ... and through the API (warn) it goes on, with the warning.
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/applications/{app_id}/submit"),
        &c,
        None,
    )
    .await;
    let v = expect(&r, StatusCode::OK, "submitted with a warning");
    assert_eq!(
        (v["state"].clone(), v["warnings"].clone()),
        (json!("pre_review"), json!(["feedback_overdue"]))
    );

    // Someone else's grant: the same answer as a grant that does not exist; nothing written.
    let report = json!({"purpose": "用于街道便民服务地图小程序", "result": "小程序上线，累计服务 1200 人次",
                        "users": 1200, "problems": "部分街道电话已过期"});
    let audit = app.audit_len().await;
    for (path, what) in [
        (format!("/api/v1/grants/{grant}/usage-reports"), "someone else's"),
        ("/api/v1/grants/999999/usage-reports".to_string(), "no such grant"),
    ] {
        let r = call(&mut app, Method::POST, &path, &w.other_consumer, Some(report.clone())).await;
        let v = expect(&r, StatusCode::NOT_FOUND, what);
        assert_eq!(v["error"]["code"], "grant_not_found", "{what}: {v}");
        let r = call(&mut app, Method::GET, &path, &w.other_consumer, None).await;
        expect(&r, StatusCode::NOT_FOUND, what);
    }
    assert_eq!(app.audit_len().await, audit);
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/grants/{grant}/usage-reports"),
        &c,
        Some(json!({"purpose": "短", "users": "许多"})),
    )
    .await;
    let v = expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "bad report");
    assert!(
        field_codes(&v).contains(&("users".to_string(), "non_negative_integer".to_string())),
        "{v}"
    );

    // The same in the web UI: the consumer's list with the overdue mark and the form (a bad
    // form is refused with the problems named), the provider's list, and no page for others.
    let mut web = app.browser();
    assert_eq!(web.login("li.si", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = web.get("/feedback").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!("id=\"feedback-{grant}\"")) && page.body.contains("已逾期"),
        "{}",
        page.body
    );
    let page = web.get(&format!("/feedback/grants/{grant}")).await;
    assert!(page.body.contains("id=\"feedback-form\""), "{}", page.body);
    let audit = app.audit_len().await;
    let bad = web
        .post_form(
            &format!("/feedback/grants/{grant}"),
            &[("purpose", "短"), ("users", "许多")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(
        bad.body.contains("id=\"e-users\"") && bad.body.contains("id=\"e-result\""),
        "{}",
        bad.body
    );
    assert_eq!(app.audit_len().await, audit);
    let mut staff = app.browser();
    assert_eq!(staff.login("t.reviewer", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = staff.get("/feedback?overdue=1").await;
    assert!(page.body.contains(&format!("id=\"feedback-{grant}\"")), "{}", page.body);
    let mut other = app.browser();
    assert_eq!(other.login("zhang.san", PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        other.get(&format!("/feedback/grants/{grant}")).await.status,
        StatusCode::NOT_FOUND
    );

    // The report covers the overdue date; the mark is gone for everyone.
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/grants/{grant}/usage-reports"),
        &c,
        Some(report.clone()),
    )
    .await;
    let f = expect(&r, StatusCode::CREATED, "report");
    assert_eq!(f["covered"], json!([date(-40)]), "{f}");
    assert_eq!(
        (f["overdue"].clone(), f["next_due"].clone()),
        (json!(false), json!(date(50)))
    );
    assert_eq!(f["reports"][0]["problems"], "部分街道电话已过期");
    assert_eq!(
        kinds(&notices(&mut app, &w.prov_reviewer).await, "usage_report_submitted"),
        1
    );
    let r = call(
        &mut app,
        Method::GET,
        "/api/v1/usage-reports?overdue=true",
        &w.admin,
        None,
    )
    .await;
    assert!(!has_grant(&expect(&r, StatusCode::OK, "admin after"), grant));

    let page = web.get(&format!("/feedback/grants/{grant}")).await;
    // The report is listed; the form now offers the next period (reporting early is allowed).
    assert!(
        page.body.contains("部分街道电话已过期") && page.body.contains(&date(50)),
        "{}",
        page.body
    );

    // A double click: refused with a clear code, nothing changed.
    let audit = app.audit_len().await;
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/grants/{grant}/usage-reports"),
        &c,
        Some(report),
    )
    .await;
    let v = expect(&r, StatusCode::CONFLICT, "double click");
    assert_eq!(v["error"]["code"], "usage_report_duplicate", "{v}");
    assert_eq!(app.audit_len().await, audit);
    assert_eq!(
        feedback_of(&mut app, grant, &c).await["reports"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // No longer overdue: applying again under the block policy goes through.
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/applications",
        &c,
        Some(form(cond_id, &["code"])),
    )
    .await;
    let second = expect(&r, StatusCode::CREATED, "draft 2")["id"].as_i64().unwrap();
    let outcome = pubdata_service::access::submit(&app.store, &li, second, &block, &WorkCalendar::official())
        .await
        .unwrap();
    assert!(!outcome.feedback_overdue);

    // A security report naming a grant the reporter does not hold answers the same whether or
    // not the grant exists: no probing for someone else's grants.
    let mut answers = Vec::new();
    for (id, text) in [
        (grant, "该授权数据疑似被转售给第三方。"),
        (999_999, "另一授权数据疑似被转售给第三方。"),
    ] {
        let body = json!({"kind": "misuse", "grant_id": id, "description": text});
        let r = call(
            &mut app,
            Method::POST,
            "/api/v1/security-reports",
            &w.other_consumer,
            Some(body),
        )
        .await;
        let v = expect(&r, StatusCode::CREATED, "misuse report");
        answers.push((v["grant_id"] == id, v["resource_id"].clone(), v["state"].clone()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].1, Value::Null, "the grant's resource is not revealed");
}

#[tokio::test]
async fn usage_feedback_on_sqlite() {
    feedback_story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn usage_feedback_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    feedback_story(app).await;
}

#[test]
fn feedback_notices_and_messages_are_translated_and_configurable() {
    use pubdata_server::i18n::{self, Lang};
    let keys = [
        "notice_kind.usage_report_submitted",
        "notice_kind.usage_report_due_soon",
        "notice_kind.usage_report_overdue",
        "error.conflict.feedback_overdue",
        "error.conflict.usage_report_duplicate",
        "error.conflict.usage_report_not_due",
        "field.non_negative_integer",
        "field.url",
    ];
    for lang in [Lang::ZhCn, Lang::En] {
        let missing: Vec<&str> = keys.into_iter().filter(|k| !i18n::has(lang, k)).collect();
        assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
    }
    let c: pubdata_server::Config =
        toml::from_str("[feedback]\nevery_days = 30\nfeedback_overdue_limit_days = 10\nfeedback_policy = \"block\"")
            .unwrap();
    let access = c.access();
    assert_eq!(access.feedback.every_days, 30);
    assert_eq!(access.feedback.feedback_overdue_limit_days, 10);
    assert_eq!(
        access.feedback.feedback_policy,
        pubdata_core::usage_report::OverduePolicy::Block
    );
    assert!(toml::from_str::<pubdata_server::Config>("[feedback]\nfeedback_policy = \"ignore\"").is_err());
}
