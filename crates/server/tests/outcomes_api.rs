//! Showcases (应用成果) and security reports (安全问题报告) through the JSON API and the pages:
//! a showcase accepted into the gallery and onto the dataset page, one rejected with a reason the
//! submitter is told; a security report triaged, routed and acted on — a grant revoked from it
//! stops the consumer's AppKey, and the report records the action — with its confidentiality
//! across roles; bad input (unpublished resources, a text file named .png, a decompression bomb)
//! and double submissions. Runs on SQLite, and on PostgreSQL when configured.

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

const STREETS: &str = "code,name,district,phone\n\
    510104001,春熙路街道,锦江区,13800138000\n\
    510104002,书院街街道,锦江区,13800138001\n\
    510105001,西御河街道,青羊区,13800138002\n\
    510105002,草市街街道,青羊区,13800138003\n";

struct World {
    editor: Caller,
    reviewer: Caller,
    /// The transport department, and another provider.
    provider: i64,
    other: i64,
    /// API tokens.
    admin: String,
    prov_reviewer: String,
    prov_editor: String,
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
    staff(app, "t.manager", provider, "provider_manager").await;
    staff(app, "t.reviewer", provider, "provider_reviewer").await;
    staff(app, "h.reviewer", other, "provider_reviewer").await;
    let reviewer = staff(app, "a.reviewer", centre, "admin_reviewer").await;
    staff(app, "a.manager", centre, "admin_manager").await;
    World {
        editor,
        reviewer,
        provider,
        other,
        admin: token(app, "a.reviewer").await,
        prov_reviewer: token(app, "t.reviewer").await,
        prov_editor: token(app, "t.editor").await,
        other_provider: token(app, "h.reviewer").await,
        consumer: consumer(app, "li.si").await,
        other_consumer: consumer(app, "zhang.san").await,
    }
}

/// A draft with the street table loaded and masked, optionally for a plan item; returns
/// (resource id, file distribution id).
async fn prepare(app: &TestApp, w: &World, title: &str, plan_item: Option<i64>) -> (i64, i64) {
    let meta: NewResourceMeta = serde_json::from_value(json!({
        "title": title, "summary": "成都市各区街道的名称、所属区县和联系电话，按年度更新。", "domain": "民生服务",
        "open_type": "unconditional", "update_frequency": "yearly", "spatial": "510100",
        "temporal_from": "2024-01-01", "contact_phone": "028-86001234",
        "fields": [{"name": "code", "title": "街道代码", "type": "code", "key": true},
                   {"name": "name", "title": "名称", "type": "string"},
                   {"name": "district", "title": "区县", "type": "string"},
                   {"name": "phone", "title": "联系电话", "type": "string", "sensitive": true}]}))
    .unwrap();
    let id = resources::create(&app.store, &w.editor, w.provider, &meta, plan_item)
        .await
        .unwrap();
    let dist = upload(app, w, id).await;
    (id, dist)
}

/// Uploads the street table as a new version of the resource, ingested and masked.
async fn upload(app: &TestApp, w: &World, id: i64) -> i64 {
    let ticket = ingest::begin_upload(&app.store, &w.editor, id, "streets.csv")
        .await
        .unwrap();
    let mut out = app.files.writer(&ticket.key, u64::MAX).await.unwrap();
    out.write(STREETS.as_bytes()).await.unwrap().unwrap();
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
    dist
}

async fn publish_prepared(app: &TestApp, w: &World, id: i64) {
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
}

/// A published resource with the street table; returns (id, distribution).
async fn publish(app: &TestApp, w: &World, title: &str) -> (i64, i64) {
    let (id, dist) = prepare(app, w, title, None).await;
    publish_prepared(app, w, id).await;
    (id, dist)
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

fn has_code(v: &Value, field: &str, code: &str) -> bool {
    field_codes(v).iter().any(|(f, c)| f == field && c == code)
}

/// A 4×4 PNG carrying a text chunk with a GPS-looking comment (metadata to strip).
const PNG_WITH_COMMENT: &str = "iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAGnRFWHRDb21tZW50AEdQUyAzMC42Nk4gMTA0LjA2RV9anQgAAAAQSURBVHicY+CqOAFHDMRxAAyyFKFO2McRAAAAAElFTkSuQmCC";

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn png() -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(PNG_WITH_COMMENT)
        .unwrap()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The PNG with its header declaring 20000×20000 pixels (CRC fixed): a decompression bomb's
/// shape, a few dozen bytes long.
fn bomb() -> Vec<u8> {
    let mut bytes = png();
    bytes[16..20].copy_from_slice(&20_000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&20_000u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn showcase_body(title: &str, resources: Value) -> Value {
    json!({"title": title, "kind": "app", "description": "用街道数据做的便民服务地图小程序。",
           "link": "https://example.org/streets", "resource_ids": resources})
}

async fn showcases(app: &mut TestApp) -> Value {
    let r = app.api(Method::GET, "/api/v1/showcases", None, None).await;
    expect(&r, StatusCode::OK, "gallery")
}

async fn showcase_story(mut app: TestApp) {
    let w = world(&app).await;
    let (res, _) = publish(&app, &w, "成都市街道信息").await;
    let (draft, _) = prepare(&app, &w, "未发布的街道表", None).await;

    // Bad input: an unpublished resource, a text file named .png, a decompression bomb.
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/showcases",
        &w.consumer,
        Some(showcase_body("街道地图", json!([draft]))),
    )
    .await;
    let v = expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "unpublished resource");
    assert!(
        field_codes(&v)
            .iter()
            .any(|(f, c)| f == "resource_ids" && c == "not_found"),
        "{v}"
    );
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/showcases",
        &w.consumer,
        Some(showcase_body("街道地图", json!([]))),
    )
    .await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "no resources"),
        "resource_ids",
        "required"
    ));
    let mut body = showcase_body("街道地图", json!([res]));
    body["screenshot_base64"] = json!(b64(b"this is a text file renamed screenshot.png"));
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/showcases",
        &w.consumer,
        Some(body.clone()),
    )
    .await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "text as png"),
        "screenshot",
        "screenshot_type"
    ));
    body["screenshot_base64"] = json!(b64(&bomb()));
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/showcases",
        &w.consumer,
        Some(body.clone()),
    )
    .await;
    let v = expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "bomb");
    assert!(has_code(&v, "screenshot", "screenshot_dimensions"), "{v}");
    let mut bad_link = showcase_body("街道地图", json!([res]));
    bad_link["link"] = json!("javascript:alert(1)");
    let r = call(&mut app, Method::POST, "/api/v1/showcases", &w.consumer, Some(bad_link)).await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "bad link"),
        "link",
        "url"
    ));
    let r = call(&mut app, Method::GET, "/api/v1/showcases/mine", &w.consumer, None).await;
    assert_eq!(
        expect(&r, StatusCode::OK, "mine").as_array().unwrap().len(),
        0,
        "nothing stored when refused"
    );

    // A valid one with a screenshot; a double click returns the first.
    body["screenshot_base64"] = json!(PNG_WITH_COMMENT);
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/showcases",
        &w.consumer,
        Some(body.clone()),
    )
    .await;
    let v = expect(&r, StatusCode::CREATED, "submitted");
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["state"], "submitted");
    assert_eq!(v["resources"][0]["resource_id"], res);
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/showcases",
        &w.consumer,
        Some(body.clone()),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "double click")["id"], id);
    // The screenshot is the re-encoded image, without the comment.
    let shot = v["screenshot_url"].as_str().unwrap().to_string();
    let r = call(&mut app, Method::GET, &shot, &w.consumer, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header(header::CONTENT_TYPE), "image/png");
    assert!(r.body.as_bytes().starts_with(b"\x89PNG") || r.body.contains("PNG"));
    assert!(!r.body.contains("GPS 30.66N"), "metadata stripped");

    // Not in the gallery yet; others cannot see it.
    assert_eq!(showcases(&mut app).await["total"], 0);
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/showcases/{id}"),
        &w.other_consumer,
        None,
    )
    .await;
    expect(&r, StatusCode::NOT_FOUND, "another consumer before acceptance");
    let r = call(&mut app, Method::GET, "/api/v1/showcases/queue", &w.consumer, None).await;
    expect(&r, StatusCode::FORBIDDEN, "consumer queue");
    let r = call(&mut app, Method::GET, "/api/v1/showcases/queue", &w.admin, None).await;
    assert_eq!(expect(&r, StatusCode::OK, "queue").as_array().unwrap().len(), 1);
    let decide = format!("/api/v1/showcases/{id}/decision");
    let r = call(
        &mut app,
        Method::POST,
        &decide,
        &w.prov_reviewer,
        Some(json!({"decision": "accept"})),
    )
    .await;
    expect(
        &r,
        StatusCode::NOT_FOUND,
        "a provider does not see showcases under review",
    );
    let r = call(
        &mut app,
        Method::POST,
        &decide,
        &w.admin,
        Some(json!({"decision": "accept"})),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "accept")["state"], "accepted");
    let r = call(
        &mut app,
        Method::POST,
        &decide,
        &w.admin,
        Some(json!({"decision": "reject", "reason": "晚了"})),
    )
    .await;
    expect(&r, StatusCode::CONFLICT, "decided already");
    assert!(notices(&mut app, &w.consumer)
        .await
        .iter()
        .any(|n| n["kind"] == "showcase_accepted"));

    // In the gallery (filterable), without the submitter, and on the dataset page.
    let g = showcases(&mut app).await;
    assert_eq!(g["total"], 1);
    assert!(g["items"][0]["submitter_name"].is_null());
    let r = app.api(Method::GET, "/api/v1/showcases?kind=report", None, None).await;
    assert_eq!(expect(&r, StatusCode::OK, "kind filter")["total"], 0);
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/showcases?provider_org_id={}", w.provider),
            None,
            None,
        )
        .await;
    assert_eq!(expect(&r, StatusCode::OK, "provider filter")["total"], 1);
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/showcases?provider_org_id={}", w.other),
            None,
            None,
        )
        .await;
    assert_eq!(expect(&r, StatusCode::OK, "other provider")["total"], 0);
    let r = app.api(Method::GET, "/api/v1/showcases?kind=game", None, None).await;
    expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "unknown type");
    let page = app.get("/showcases").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("showcase-gallery") && page.body.contains("街道地图"),
        "gallery page"
    );
    let name = pubdata_service::published::by_id(&app.store, res).await.unwrap().name();
    let page = app.get(&format!("/dataset/{name}")).await;
    assert!(
        page.body.contains("dataset-showcases") && page.body.contains("街道地图"),
        "dataset page"
    );

    // Rejected with a reason: the submitter is told it, nobody else sees the showcase.
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/showcases",
        &w.other_consumer,
        Some(showcase_body("另一个成果", json!([res]))),
    )
    .await;
    let other = expect(&r, StatusCode::CREATED, "second")["id"].as_i64().unwrap();
    let d = format!("/api/v1/showcases/{other}/decision");
    let r = call(
        &mut app,
        Method::POST,
        &d,
        &w.admin,
        Some(json!({"decision": "reject", "reason": ""})),
    )
    .await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "no reason"),
        "reason",
        "required"
    ));
    let r = call(
        &mut app,
        Method::POST,
        &d,
        &w.admin,
        Some(json!({"decision": "reject", "reason": "链接无法访问"})),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "reject")["state"], "rejected");
    let n = notices(&mut app, &w.other_consumer).await;
    assert!(
        n.iter()
            .any(|n| n["kind"] == "showcase_rejected" && n["reason"] == "链接无法访问"),
        "{n:?}"
    );
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/showcases/{other}"),
        &w.consumer,
        None,
    )
    .await;
    expect(&r, StatusCode::NOT_FOUND, "a rejected showcase is not public");
    let r = call(&mut app, Method::GET, "/api/v1/showcases/mine", &w.other_consumer, None).await;
    assert_eq!(expect(&r, StatusCode::OK, "mine")[0]["reason"], "链接无法访问");
    assert_eq!(showcases(&mut app).await["total"], 1);
}

async fn security_story(mut app: TestApp) {
    let w = world(&app).await;
    let (res, _) = publish(&app, &w, "成都市街道信息").await;
    // The consumer holds a grant (usage terms accepted) and an AppKey that works.
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/resources/{res}/accept-terms"),
        &w.consumer,
        Some(json!({"accepted": true})),
    )
    .await;
    let grant = expect(&r, StatusCode::CREATED, "terms")["grant_id"].as_i64().unwrap();
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/grants/{grant}/app-key"),
        &w.consumer,
        None,
    )
    .await;
    let key = expect(&r, StatusCode::CREATED, "key")["app_key"]
        .as_str()
        .unwrap()
        .to_string();
    let r = rows(&mut app, format!("/api/v1/resources/{res}/rows"), key.clone()).await;
    expect(&r, StatusCode::OK, "rows before");

    // Another consumer reports misuse of that grant.
    let body = json!({"kind": "misuse", "resource_id": res, "grant_id": grant, "description": "该授权数据被转售给第三方用于营销。",
                      "evidence": "某网站出售的街道电话表与本数据一致。"});
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/security-reports",
        &w.other_consumer,
        Some(json!({"kind": "rumour"})),
    )
    .await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "bad kind"),
        "kind",
        "report_kind"
    ));
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/security-reports",
        &w.other_consumer,
        Some(body.clone()),
    )
    .await;
    let v = expect(&r, StatusCode::CREATED, "report");
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["resource_id"], res, "the resource named");
    assert!(
        v["severity"].is_null() && v["history"].as_array().unwrap().is_empty(),
        "reporter's limited view"
    );
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/security-reports",
        &w.other_consumer,
        Some(body),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "double click")["id"], id);

    // Confidential: the grantee, providers (before routing) see nothing.
    let path = format!("/api/v1/security-reports/{id}");
    for (who, token) in [
        ("consumer", &w.consumer),
        ("provider", &w.prov_reviewer),
        ("other provider", &w.other_provider),
    ] {
        let r = call(&mut app, Method::GET, &path, token, None).await;
        expect(&r, StatusCode::NOT_FOUND, who);
    }
    let r = call(&mut app, Method::GET, "/api/v1/security-reports", &w.consumer, None).await;
    expect(&r, StatusCode::FORBIDDEN, "consumer queue");
    let r = call(
        &mut app,
        Method::GET,
        "/api/v1/security-reports",
        &w.prov_reviewer,
        None,
    )
    .await;
    assert!(expect(&r, StatusCode::OK, "provider queue")
        .as_array()
        .unwrap()
        .is_empty());
    assert!(notices(&mut app, &w.admin)
        .await
        .iter()
        .any(|n| n["kind"] == "security_report_submitted"));

    // Triage and routing by the administration institution.
    let act = format!("{path}/action");
    let r = call(
        &mut app,
        Method::POST,
        &act,
        &w.other_consumer,
        Some(json!({"action": "triage", "severity": "high"})),
    )
    .await;
    expect(&r, StatusCode::FORBIDDEN, "the reporter does not triage");
    let r = call(
        &mut app,
        Method::POST,
        &act,
        &w.admin,
        Some(json!({"action": "route", "provider_org_id": w.provider})),
    )
    .await;
    expect(&r, StatusCode::CONFLICT, "route before triage");
    let r = call(
        &mut app,
        Method::POST,
        &act,
        &w.admin,
        Some(json!({"action": "triage", "severity": "high"})),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "triage")["severity"], "high");
    let r = call(
        &mut app,
        Method::POST,
        &act,
        &w.admin,
        Some(json!({"action": "route", "provider_org_id": w.provider})),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "route")["state"], "routed");
    assert!(notices(&mut app, &w.prov_reviewer)
        .await
        .iter()
        .any(|n| n["kind"] == "security_report_routed"));
    let r = call(&mut app, Method::GET, &path, &w.prov_reviewer, None).await;
    assert_eq!(
        expect(&r, StatusCode::OK, "routed provider sees it")["severity"],
        "high"
    );
    let r = call(&mut app, Method::GET, &path, &w.other_provider, None).await;
    expect(&r, StatusCode::NOT_FOUND, "another provider still does not");

    // Revoking the grant from the report: a reviewer of the provider may not revoke grants, its
    // manager may; nothing is recorded for the refused attempt.
    let revoke = json!({"action": "revoke_grant", "grant_id": grant, "text": "经核实存在转售行为"});
    let r = call(&mut app, Method::POST, &act, &w.prov_editor, Some(revoke.clone())).await;
    assert!(
        r.status == StatusCode::FORBIDDEN || r.status == StatusCode::NOT_FOUND,
        "editor: {}",
        r.body
    );
    let r = call(&mut app, Method::GET, &path, &w.admin, None).await;
    assert!(!expect(&r, StatusCode::OK, "after refused")
        .to_string()
        .contains("revoke_grant"));
    let manager = token(&app, "t.manager").await;
    let r = call(&mut app, Method::POST, &act, &manager, Some(revoke)).await;
    let v = expect(&r, StatusCode::OK, "revoked");
    let history = v["history"].as_array().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last["action"], "revoke_grant");
    assert_eq!(last["details"]["grant_id"], grant);
    assert_eq!(last["reason"], "经核实存在转售行为");
    let r = rows(&mut app, format!("/api/v1/resources/{res}/rows"), key.clone()).await;
    assert!(
        r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::FORBIDDEN,
        "key stops: {}",
        r.status
    );
    let r = call(&mut app, Method::GET, "/api/v1/grants", &w.consumer, None).await;
    let grants = expect(&r, StatusCode::OK, "grants");
    assert_eq!(grants[0]["state"], "revoked", "{grants}");

    // Resolution: the reporter reads it, limited as before.
    let r = call(
        &mut app,
        Method::POST,
        &act,
        &w.admin,
        Some(json!({"action": "resolve", "text": ""})),
    )
    .await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "empty"),
        "resolution",
        "required"
    ));
    let r = call(
        &mut app,
        Method::POST,
        &act,
        &w.admin,
        Some(json!({"action": "resolve", "text": "已撤销相关授权并约谈使用者。"})),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "resolve")["state"], "resolved");
    let r = call(
        &mut app,
        Method::POST,
        &act,
        &w.admin,
        Some(json!({"action": "triage", "severity": "low"})),
    )
    .await;
    expect(&r, StatusCode::CONFLICT, "resolved is final");
    let r = call(&mut app, Method::GET, &path, &w.other_consumer, None).await;
    let v = expect(&r, StatusCode::OK, "reporter");
    assert_eq!(v["resolution"], "已撤销相关授权并约谈使用者。");
    assert!(v["severity"].is_null() && v["provider_name"].is_null());
    assert!(notices(&mut app, &w.other_consumer)
        .await
        .iter()
        .any(|n| n["kind"] == "security_report_resolved"));

    // Withdrawing the resource from a report: the action and the withdrawal commit together.
    let body = json!({"kind": "personal_data", "resource_id": res, "description": "下载文件中出现未脱敏的手机号码。"});
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/security-reports",
        &w.consumer,
        Some(body),
    )
    .await;
    let second = expect(&r, StatusCode::CREATED, "second report")["id"].as_i64().unwrap();
    let act2 = format!("/api/v1/security-reports/{second}/action");
    let r = call(
        &mut app,
        Method::POST,
        &act2,
        &w.admin,
        Some(json!({"action": "withdraw_resource", "text": "含个人信息，先行下架"})),
    )
    .await;
    let v = expect(&r, StatusCode::OK, "withdrawn");
    assert_eq!(
        v["history"].as_array().unwrap().last().unwrap()["action"],
        "withdraw_resource"
    );
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/resources/{res}"),
        &w.admin,
        None,
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "resource")["state"], "withdrawn");
    // Withdrawing again fails in the resource's rules, and the report records nothing more.
    let r = call(
        &mut app,
        Method::POST,
        &act2,
        &w.admin,
        Some(json!({"action": "withdraw_resource", "text": "再次下架"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = call(
        &mut app,
        Method::GET,
        &format!("/api/v1/security-reports/{second}"),
        &w.admin,
        None,
    )
    .await;
    let n = expect(&r, StatusCode::OK, "after")
        .to_string()
        .matches("withdraw_resource")
        .count();
    assert_eq!(n, 1, "one withdrawal recorded");
}

#[tokio::test]
async fn showcases_on_sqlite() {
    showcase_story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn showcases_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    showcase_story(app).await;
}

#[tokio::test]
async fn security_reports_on_sqlite() {
    security_story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn security_reports_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    security_story(app).await;
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

async fn logged_in(app: &TestApp, login: &str) -> TestApp {
    let mut b = app.browser();
    let r = b.login(login, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{login}: {}", r.body);
    b
}

#[track_caller]
fn assert_page(path: &str, r: &Resp) {
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    assert!(r.body.trim_end().ends_with("</html>"), "{path}: cut short");
    for bad in [
        "服务器内部错误",
        "error-summary",
        "showcase.",
        "security_report.",
        "notice_kind.",
    ] {
        assert!(!r.body.contains(bad), "{path}: contains {bad:?}: {}", r.body);
    }
}

/// A multipart form as a browser sends it: text fields and one file, the CSRF token in the query.
async fn post_multipart(b: &mut TestApp, path: &str, fields: &[(&str, &str)], file: (&str, &[u8])) -> Resp {
    let csrf = b.csrf().await;
    let boundary = "----pubdataBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"shot.png\"\r\n\
             Content-Type: image/png\r\n\r\n",
            file.0
        )
        .as_bytes(),
    );
    body.extend(file.1);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = axum::http::Request::post(format!("{path}?_csrf={csrf}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(axum::body::Body::from(body))
        .unwrap();
    b.send(req).await
}

async fn pages_story(app: TestApp) {
    let w = world(&app).await;
    let (res, _) = publish(&app, &w, "成都市街道信息").await;
    let mut consumer = logged_in(&app, "li.si").await;
    let mut admin = logged_in(&app, "a.reviewer").await;
    let mut provider = logged_in(&app, "t.reviewer").await;

    // The forms render; a text file named .png is refused on the form with its message.
    for path in ["/showcases", "/showcases/new", "/security-reports/new", "/my"] {
        assert_page(path, &consumer.get(path).await);
    }
    assert_eq!(consumer.get("/showcases/queue").await.status, StatusCode::FORBIDDEN);
    let idem = "page-key-1";
    let fields = [
        ("title", "街道地图"),
        ("kind", "website"),
        ("description", "用街道数据做的便民服务地图网站。"),
        ("link", "https://example.org/map"),
        ("resource_ids", &*res.to_string()),
        ("idempotency_key", idem),
    ];
    let r = post_multipart(&mut consumer, "/showcases", &fields, ("screenshot", b"not an image")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("e-screenshot") && r.body.contains("PNG"), "{}", r.body);
    let r = post_multipart(&mut consumer, "/showcases", &fields, ("screenshot", &png())).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.location().to_string();
    let id: i64 = location
        .trim_start_matches("/showcases/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // The double click lands on the same showcase.
    let r = post_multipart(&mut consumer, "/showcases", &fields, ("screenshot", &png())).await;
    assert!(
        r.location().starts_with(&format!("/showcases/{id}")),
        "{}",
        r.location()
    );
    assert_page("own showcase", &consumer.get(&format!("/showcases/{id}")).await);
    assert!(consumer.get("/my").await.body.contains("my-showcases"));

    // The admin's queue and review forms; rejecting without a reason re-shows the form.
    let q = admin.get("/showcases/queue").await;
    assert_page("/showcases/queue", &q);
    assert!(q.body.contains(&format!("queued-{id}")));
    assert!(q.nav().contains(&"showcase_queue".to_string()));
    let page = admin.get(&format!("/showcases/{id}")).await;
    assert_page("review", &page);
    assert!(page.body.contains("accept-form") && page.body.contains("reject-form"));
    let decision = format!("/showcases/{id}/decision");
    let r = admin
        .post_form(&decision, &[("decision", "reject"), ("reason", "")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = admin.post_form(&decision, &[("decision", "accept")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let g = app.browser().get("/showcases?kind=website").await;
    assert_page("gallery", &g);
    assert!(g.body.contains(&format!("showcase-{id}")) && g.body.replace("&#x2f;", "/").contains("/screenshot"));
    let g = app.browser().get("/showcases?kind=news").await;
    assert!(!g.body.contains(&format!("showcase-{id}")));

    // A security report through the form, then handled from its page.
    let r = consumer
        .post_form(
            "/security-reports",
            &[
                ("kind", "personal_data"),
                ("resource_id", &res.to_string()),
                ("description", "短"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = consumer
        .post_form(
            "/security-reports",
            &[
                ("kind", "personal_data"),
                ("resource_id", &res.to_string()),
                ("description", "下载文件中出现未脱敏的手机号码。"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let report = r.location().split('?').next().unwrap().to_string();
    assert_page("reporter view", &consumer.get(&report).await);
    assert_eq!(
        provider.get(&report).await.status,
        StatusCode::NOT_FOUND,
        "not routed yet"
    );
    assert_page("/security-reports", &admin.get("/security-reports").await);
    let page = admin.get(&report).await;
    assert_page("admin view", &page);
    assert!(page.body.contains("triage-form") && page.body.contains("withdraw-form"));
    let act = format!("{report}/action");
    let r = admin
        .post_form(&act, &[("action", "triage"), ("severity", "critical")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let provider_id = w.provider.to_string();
    let r = admin
        .post_form(&act, &[("action", "route"), ("provider_org_id", &provider_id)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = provider.get(&report).await;
    assert_page("routed provider", &page);
    assert!(page.body.contains("resolve-form"));
    let r = provider
        .post_form(&act, &[("action", "resolve"), ("text", "已核实并重新脱敏。")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let mine = consumer.get("/my").await;
    assert!(
        mine.body.contains("my-security-reports") && mine.body.contains("已处置"),
        "{}",
        mine.body
    );
}

#[tokio::test]
async fn pages_on_sqlite() {
    pages_story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn pages_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    pages_story(app).await;
}

/// The housekeeping job reminds the administrators of a showcase and a security report due
/// for review or triage, once per stage.
async fn reminders_story(mut app: TestApp) {
    let w = world(&app).await;
    let (res, _) = publish(&app, &w, "成都市街道信息").await;
    let li = caller(&app, "li.si").await;
    let calendar = WorkCalendar::official();
    let rules = pubdata_core::showcase::Rules {
        review_days: 0,
        ..Default::default()
    };
    let input: pubdata_core::showcase::NewShowcase = serde_json::from_value(json!({
        "title": "街道地图", "kind": "app", "description": "用街道数据做的便民服务地图小程序。",
        "link": "https://example.org/streets", "resource_ids": [res.to_string()]}))
    .unwrap();
    pubdata_service::showcases::submit(&app.store, &app.files, &li, &input, None, &rules, &calendar)
        .await
        .unwrap();
    let rules = pubdata_core::security_report::Rules {
        triage_days: 0,
        ..Default::default()
    };
    let report: pubdata_core::security_report::NewReport =
        serde_json::from_value(json!({"kind": "leak", "description": "在公开网盘发现本平台数据的完整副本。"})).unwrap();
    pubdata_service::security_reports::submit(&app.store, &li, &report, &rules, &calendar)
        .await
        .unwrap();
    let sent = pubdata_service::interaction::housekeeping(&app.store).await.unwrap();
    assert!(sent >= 2, "{sent}");
    let kinds: Vec<String> = notices(&mut app, &w.admin)
        .await
        .iter()
        .map(|n| n["kind"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(kinds.iter().any(|k| k == "showcase_due_soon"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "security_report_due_soon"), "{kinds:?}");
    assert_eq!(
        pubdata_service::interaction::housekeeping(&app.store).await.unwrap(),
        0,
        "once per stage"
    );
}

#[tokio::test]
async fn reminders_on_sqlite() {
    reminders_story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn reminders_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    reminders_story(app).await;
}
