//! Data demands (数据需求) and corrections (数据纠错) through the JSON API: a demand routed by the
//! administration institution, accepted into the provider's plan, fulfilled when the plan item's
//! resource is published (the requester told); a demand answered with an already-open resource;
//! a declined one; the wrong provider refused with nothing changed; the de-identified public list
//! with its search and filters; corrections accepted (with the fixing version) and rejected, on
//! withdrawn data refused; per-resource counts; double submissions giving one record; reminders.
//! Then the same flows through the web pages, without JavaScript: asking, routing, assessing,
//! withdrawing, a cancelled plan item declining its demand, and an error report from the dataset
//! page. Runs on SQLite, and on PostgreSQL when configured.

mod common;

use axum::http::{Method, StatusCode};
use common::{Resp, TestApp, PASSWORD};
use pubdata_core::calendar::WorkCalendar;
use pubdata_core::metadata::NewResourceMeta;
use pubdata_core::org::NewOrg;
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::user::NewUser;
use pubdata_server::i18n::{self, Lang};
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
    manager: Caller,
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
    let manager = staff(app, "t.manager", provider, "provider_manager").await;
    staff(app, "t.reviewer", provider, "provider_reviewer").await;
    staff(app, "h.reviewer", other, "provider_reviewer").await;
    let reviewer = staff(app, "a.reviewer", centre, "admin_reviewer").await;
    staff(app, "a.manager", centre, "admin_manager").await;
    World {
        editor,
        manager,
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

fn date(days_from_today: i64) -> String {
    pubdata_core::calendar::Date::from_unix_millis_cst(pubdata_store::now_ms())
        .add_days(days_from_today)
        .to_string()
}

/// The day `n` working days from today, as deadlines are stored.
fn working_days(n: u32) -> String {
    let today = pubdata_core::calendar::Date::from_unix_millis_cst(pubdata_store::now_ms());
    WorkCalendar::official().add_working_days(today, n).to_string()
}

async fn notices(app: &mut TestApp, token: &str) -> Vec<Value> {
    let r = call(app, Method::GET, "/api/v1/notices", token, None).await;
    expect(&r, StatusCode::OK, "notices")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The caller's notice of `kind` about the demand or correction `id`, its title in Chinese.
async fn notice_of(app: &mut TestApp, token: &str, kind: &str, id: i64) -> Option<Value> {
    let object = if kind.starts_with("demand") {
        "demands"
    } else {
        "corrections"
    };
    let link = format!("/{object}/{id}");
    let found = notices(app, token)
        .await
        .into_iter()
        .find(|n| n["kind"] == kind && n["link"] == link.as_str());
    if let Some(n) = &found {
        let title = n["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty() && !title.starts_with("notice_kind."), "{title}");
    }
    found
}

fn demand(title: &str, provider: Option<i64>) -> Value {
    json!({"title": title, "description": "希望开放全市公共充电桩的位置、运营单位、桩数和实时空闲状态。",
           "purpose": "开发新能源车主找桩导航小程序，免费提供给市民使用。", "domain": "城市建设",
           "provider_org_id": provider})
}

async fn get_demand(app: &mut TestApp, id: i64, token: &str) -> Value {
    let r = call(app, Method::GET, &format!("/api/v1/demands/{id}"), token, None).await;
    expect(&r, StatusCode::OK, "get demand")
}

async fn decide_demand(app: &mut TestApp, id: i64, token: &str, body: Value) -> Resp {
    call(
        app,
        Method::POST,
        &format!("/api/v1/demands/{id}/decision"),
        token,
        Some(body),
    )
    .await
}

async fn demand_story(mut app: TestApp) {
    let w = world(&app).await;
    let c = w.consumer.clone();
    let (open_id, _) = publish(&app, &w, "成都市街道名录").await;

    // Only logged-in people submit; every problem is named at once.
    let r = app
        .api(Method::POST, "/api/v1/demands", None, Some(demand("充电桩位置", None)))
        .await;
    expect(&r, StatusCode::UNAUTHORIZED, "anonymous");
    let mut bad = demand("桩", Some(w.other + 1000));
    bad["domain"] = json!("星际航行");
    let r = call(&mut app, Method::POST, "/api/v1/demands", &c, Some(bad)).await;
    let v = expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "bad demand");
    for (field, code) in [
        ("title", "length"),
        ("domain", "domain"),
        ("provider_org_id", "not_a_provider"),
    ] {
        assert!(has_code(&v, field, code), "{field}:{code} in {v}");
    }
    assert!(v["error"]["fields"][0]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));

    // Submitted without a provider: it waits for routing; the administration institution hears.
    let body = demand("成都市公共充电桩位置与实时状态", None);
    let r = call(&mut app, Method::POST, "/api/v1/demands", &c, Some(body.clone())).await;
    let first = expect(&r, StatusCode::CREATED, "submit");
    let a = first["id"].as_i64().unwrap();
    assert_eq!(first["state"], "submitted");
    assert!(first["stage_due"].is_string() && first["overdue"] == false);
    assert_eq!(first["requester_name"], "用户li.si", "the requester sees who asked");
    // A double click: the same demand again is the first one, status 200, nothing new.
    let r = call(&mut app, Method::POST, "/api/v1/demands", &c, Some(body.clone())).await;
    assert_eq!(expect(&r, StatusCode::OK, "repeat")["id"], a);
    assert!(notice_of(&mut app, &w.admin, "demand_submitted", a).await.is_some());

    // Only the provider it is routed to assesses, and it is not routed yet: nothing changes.
    let accept = json!({"decision": "accept", "item": {"open_type": "unconditional", "planned_date": date(30)}});
    let r = decide_demand(&mut app, a, &w.prov_reviewer, accept.clone()).await;
    assert_eq!(
        expect(&r, StatusCode::CONFLICT, "not routed")["error"]["code"],
        "demand_not_routed_to_you"
    );
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/demands/{a}/route"),
        &w.other_consumer,
        Some(json!({"provider_org_id": w.provider})),
    )
    .await;
    expect(&r, StatusCode::FORBIDDEN, "a consumer routes");
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/demands/{a}/route"),
        &w.admin,
        Some(json!({"provider_org_id": w.provider + 1000})),
    )
    .await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "route nowhere"),
        "provider_org_id",
        "not_a_provider"
    ));

    // Routed to the transport department: its staff hear, the requester too.
    let r = call(
        &mut app,
        Method::POST,
        &format!("/api/v1/demands/{a}/route"),
        &w.admin,
        Some(json!({"provider_org_id": w.provider})),
    )
    .await;
    let v = expect(&r, StatusCode::OK, "route");
    assert_eq!(
        (v["state"].as_str(), v["provider_org_id"].as_i64()),
        (Some("assessing"), Some(w.provider))
    );
    assert_eq!(v["stage_due"], working_days(10), "ten working days to assess");
    assert!(notice_of(&mut app, &w.prov_editor, "demand_routed", a).await.is_some());
    assert!(notice_of(&mut app, &c, "demand_in_assessment", a).await.is_some());
    let r = call(&mut app, Method::GET, "/api/v1/demand-queue", &w.prov_reviewer, None).await;
    let queue = expect(&r, StatusCode::OK, "provider queue");
    assert!(queue
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["demand"]["id"] == a && e["stage"] == "assessment"));
    let r = call(&mut app, Method::GET, "/api/v1/demand-queue", &w.other_provider, None).await;
    assert_eq!(expect(&r, StatusCode::OK, "other queue"), json!([]));
    let r = call(&mut app, Method::GET, "/api/v1/demand-queue", &c, None).await;
    expect(&r, StatusCode::FORBIDDEN, "a consumer's queue");

    // The wrong provider is refused, with nothing changed.
    let audit_before = app.audit_len().await;
    let r = decide_demand(&mut app, a, &w.other_provider, accept.clone()).await;
    let v = expect(&r, StatusCode::CONFLICT, "wrong provider");
    assert_eq!(v["error"]["code"], "demand_not_routed_to_you");
    assert!(v["error"]["message"].as_str().unwrap().contains("数据管理机构"));
    assert_eq!(get_demand(&mut app, a, &c).await["state"], "assessing");
    assert_eq!(app.audit_len().await, audit_before);
    assert!(app.store.plans(Some(w.provider)).await.unwrap().is_empty());
    // Bad plan item: nothing changes either.
    let r = decide_demand(
        &mut app,
        a,
        &w.prov_reviewer,
        json!({"decision": "accept", "item": {"open_type": "not_open", "planned_date": date(-3)}}),
    )
    .await;
    let v = expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "bad item");
    assert!(has_code(&v, "open_type", "not_open") && has_code(&v, "planned_date", "period_in_past"));
    assert!(app.store.plans(Some(w.provider)).await.unwrap().is_empty());
    assert_eq!(get_demand(&mut app, a, &c).await["state"], "assessing");

    // Accepted: a plan item linked to the demand, in the provider's demand plan for the year.
    let r = decide_demand(&mut app, a, &w.prov_reviewer, accept).await;
    let v = expect(&r, StatusCode::OK, "accept");
    assert_eq!(v["state"], "accepted");
    let item_id = v["plan_item_id"].as_i64().expect("a plan item");
    let plans = app.store.plans(Some(w.provider)).await.unwrap();
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].source, "demand");
    assert!(plans[0].title.ends_with("年度数据需求开放计划"));
    let items = app.store.plan_items(plans[0].id).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!((items[0].id, items[0].demand_id), (item_id, Some(a)));
    assert_eq!(
        items[0].name, "成都市公共充电桩位置与实时状态",
        "named after the demand"
    );
    assert_eq!(items[0].status, "planned");
    assert!(notice_of(&mut app, &c, "demand_accepted", a).await.is_some());

    // The plan item's resource is prepared and published: the demand is fulfilled.
    let (res, _) = prepare(&app, &w, "成都市公共充电桩", Some(item_id)).await;
    assert_eq!(
        get_demand(&mut app, a, &c).await["state"],
        "accepted",
        "not yet published"
    );
    publish_prepared(&app, &w, res).await;
    let v = get_demand(&mut app, a, &c).await;
    assert_eq!(v["state"], "fulfilled");
    assert_eq!(v["resource_id"], res);
    assert!(v["fulfilled_at"].is_i64());
    let n = notice_of(&mut app, &c, "demand_fulfilled", a)
        .await
        .expect("requester told");
    assert!(n["title"].as_str().unwrap().contains("“成都市公共充电桩”已发布"), "{n}");
    let history: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["submit", "route", "accept", "fulfil"]);

    // Naming the provider sends a demand straight to its assessment; an already open resource
    // answers it, but only one in the catalogue.
    let body = json!({"title": "成都市街道联系电话", "description": "各街道办事处的对外联系电话和地址。",
                      "purpose": "社区服务指南小程序，方便居民联系街道办。", "domain": "民生服务",
                      "provider_org_id": w.provider.to_string()});
    let r = call(&mut app, Method::POST, "/api/v1/demands", &w.other_consumer, Some(body)).await;
    let v = expect(&r, StatusCode::CREATED, "named");
    let b = v["id"].as_i64().unwrap();
    assert_eq!(v["state"], "assessing");
    assert!(notice_of(&mut app, &w.prov_reviewer, "demand_routed", b)
        .await
        .is_some());
    let (draft, _) = prepare(&app, &w, "未发布的街道表", None).await;
    for (resource, code) in [
        (json!(draft), "resource_not_published"),
        (json!(999_999), "not_found"),
        (json!(""), "required"),
    ] {
        let r = decide_demand(
            &mut app,
            b,
            &w.prov_reviewer,
            json!({"decision": "already_open", "resource_id": resource}),
        )
        .await;
        assert!(
            has_code(&expect(&r, StatusCode::UNPROCESSABLE_ENTITY, code), "resource_id", code),
            "{code}"
        );
    }
    let r = decide_demand(
        &mut app,
        b,
        &w.prov_reviewer,
        json!({"decision": "already_open", "resource_id": open_id, "text": "请使用已开放的《成都市街道名录》。"}),
    )
    .await;
    let v = expect(&r, StatusCode::OK, "already open");
    assert_eq!(
        (v["state"].as_str(), v["resource_id"].as_i64()),
        (Some("already_open"), Some(open_id))
    );
    assert_eq!(v["reply"], "请使用已开放的《成都市街道名录》。");
    let n = notice_of(&mut app, &w.other_consumer, "demand_already_open", b)
        .await
        .expect("requester told");
    assert_eq!(n["reason"], "请使用已开放的《成都市街道名录》。");
    assert!(n["title"].as_str().unwrap().contains("成都市街道名录"), "{n}");

    // Declined, with a reason; decided demands take no second decision.
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/demands",
        &c,
        Some(
            json!({"title": "全省货车实时轨迹", "description": "每辆货车的实时 GPS 轨迹与车牌号。",
                    "purpose": "物流调度优化研究，分析城市货运通行效率。", "domain": "道路交通",
                    "provider_org_id": w.provider}),
        ),
    )
    .await;
    let d = expect(&r, StatusCode::CREATED, "third")["id"].as_i64().unwrap();
    let r = decide_demand(&mut app, d, &w.prov_reviewer, json!({"decision": "decline"})).await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "no reason"),
        "reason",
        "required"
    ));
    let reason = "车辆轨迹涉及个人信息和商业秘密，不予开放。";
    let r = decide_demand(
        &mut app,
        d,
        &w.prov_reviewer,
        json!({"decision": "decline", "text": reason}),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "decline")["state"], "declined");
    let n = notice_of(&mut app, &c, "demand_declined", d).await.expect("told");
    assert_eq!(n["reason"], reason);
    let r = decide_demand(
        &mut app,
        d,
        &w.prov_reviewer,
        json!({"decision": "decline", "text": reason}),
    )
    .await;
    assert_eq!(
        expect(&r, StatusCode::CONFLICT, "twice")["error"]["code"],
        "invalid_transition"
    );
    let r = decide_demand(&mut app, d, &w.prov_reviewer, json!({"decision": "maybe"})).await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "unknown decision"),
        "decision",
        "demand_decision"
    ));

    // The public list: every demand with its outcome, nobody's name or purpose.
    let r = app.get("/api/v1/demands").await;
    let page = expect(&r, StatusCode::OK, "public list");
    assert_eq!(page["total"], 3);
    for item in page["items"].as_array().unwrap() {
        assert!(item["requester_name"].is_null() && item["requester_id"].is_null() && item["purpose"].is_null());
        assert!(item["history"].as_array().unwrap().is_empty());
    }
    assert!(!r.body.contains("用户li.si") && !r.body.contains("用户zhang.san"));
    assert!(!r.body.contains("找桩导航小程序"), "purposes stay private");
    assert!(r.body.contains("车辆轨迹涉及个人信息"), "outcomes are public");
    let v = get_demand(&mut app, a, &w.other_consumer).await;
    assert!(v["requester_name"].is_null() && v["history"].as_array().unwrap().is_empty());
    let v = get_demand(&mut app, a, &w.other_provider).await;
    assert!(v["requester_name"].is_null(), "another provider sees the public part");
    let v = get_demand(&mut app, a, &w.admin).await;
    assert_eq!(v["requester_name"], "用户li.si");
    let (of_provider, of_other) = (
        format!("provider_org_id={}", w.provider),
        format!("provider_org_id={}", w.other),
    );
    for (query, want) in [
        ("state=declined", vec![d]),
        ("state=fulfilled", vec![a]),
        ("q=%E5%85%85%E7%94%B5%E6%A1%A9", vec![a]), // 充电桩
        ("q=GPS", vec![d]),
        ("q=gps", vec![d]),
        ("q=100%25", vec![]),
        ("domain=%E6%B0%91%E7%94%9F%E6%9C%8D%E5%8A%A1", vec![b]), // 民生服务
        ("domain=transport", vec![d]),
        (of_provider.as_str(), vec![d, b, a]),
        (of_other.as_str(), vec![]),
        ("limit=1&offset=1", vec![b]),
    ] {
        let r = app.get(&format!("/api/v1/demands?{query}")).await;
        let v = expect(&r, StatusCode::OK, query);
        let ids: Vec<i64> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, want, "{query}");
    }
    let r = app.get("/api/v1/demands?state=open&domain=星际").await;
    let v = expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "bad filters");
    assert!(has_code(&v, "state", "demand_state") && has_code(&v, "domain", "domain"));
    let r = call(&mut app, Method::GET, "/api/v1/demands/mine", &c, None).await;
    let mine = expect(&r, StatusCode::OK, "mine");
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert_eq!(mine[0]["purpose"], "物流调度优化研究，分析城市货运通行效率。");

    // Reminders: the day before the deadline the assessors, after it the managers; once each.
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/demands",
        &c,
        Some(
            json!({"title": "公交线路与站点", "description": "全市公交线路走向、站点位置和首末班时间。",
                    "purpose": "出行规划应用，为市民提供公交换乘建议。", "domain": "道路交通",
                    "provider_org_id": w.provider}),
        ),
    )
    .await;
    let e = expect(&r, StatusCode::CREATED, "fourth")["id"].as_i64().unwrap();
    assert_eq!(
        pubdata_service::demands::remind(&app.store).await.unwrap(),
        0,
        "far from due"
    );
    set_demand_due(&app, e, &date(1)).await;
    assert_eq!(pubdata_service::demands::remind(&app.store).await.unwrap(), 1);
    assert!(notice_of(&mut app, &w.prov_reviewer, "demand_due_soon", e)
        .await
        .is_some());
    assert_eq!(pubdata_service::demands::remind(&app.store).await.unwrap(), 0, "once");
    set_demand_due(&app, e, &date(-1)).await;
    assert_eq!(pubdata_service::interaction::housekeeping(&app.store).await.unwrap(), 1);
    let manager = token(&app, "a.manager").await;
    assert!(notice_of(&mut app, &manager, "demand_overdue", e).await.is_some());
    assert_eq!(pubdata_service::interaction::housekeeping(&app.store).await.unwrap(), 0);
    assert_eq!(get_demand(&mut app, e, &c).await["overdue"], true);
    let r = call(&mut app, Method::GET, "/api/v1/demand-queue", &w.admin, None).await;
    let entry = expect(&r, StatusCode::OK, "admin queue")
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["demand"]["id"] == e)
        .cloned()
        .expect("in the queue");
    assert!(entry["overdue_days"].as_i64().unwrap() >= 0 && entry["demand"]["overdue"] == true);
}

/// Moves a demand's deadline (tests cannot wait for working days to pass).
async fn set_demand_due(app: &TestApp, id: i64, due: &str) {
    let mut tx = app.store.begin().await.unwrap();
    let row = tx.demand_for_update(id).await.unwrap().unwrap();
    let change = pubdata_store::DemandChange {
        state: &row.state,
        stage_due: Some(due),
        ..Default::default()
    };
    tx.set_demand_state(id, &change).await.unwrap();
    tx.commit().await.unwrap();
}

fn report(resource: i64, dist: i64) -> Value {
    json!({"resource_id": resource, "distribution_id": dist, "row": 3, "field": "district",
           "description": "第3行西御河街道的所属区县应为青羊区，数据中写成了锦江区。",
           "evidence": "《成都市行政区划简册（2024）》第12页。"})
}

async fn correction_story(mut app: TestApp) {
    let w = world(&app).await;
    let c = w.consumer.clone();
    let (res, dist) = publish(&app, &w, "成都市街道名录").await;
    let (other_res, other_dist) = publish(&app, &w, "成都市街道联系电话").await;

    // Bad reports are refused with every problem named; nothing is stored.
    let mut bad = report(res, other_dist);
    bad["field"] = json!("salary");
    bad["description"] = json!("错了");
    let r = call(&mut app, Method::POST, "/api/v1/corrections", &c, Some(bad)).await;
    let v = expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "bad report");
    for (field, code) in [
        ("distribution_id", "distribution_not_of_resource"),
        ("field", "field_not_in_resource"),
        ("description", "length"),
    ] {
        assert!(has_code(&v, field, code), "{field}:{code} in {v}");
    }
    let mut past_end = report(res, dist);
    past_end["row"] = json!(9);
    let r = call(&mut app, Method::POST, "/api/v1/corrections", &c, Some(past_end)).await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "row"),
        "row",
        "row_out_of_range"
    ));
    let r = app
        .api(Method::POST, "/api/v1/corrections", None, Some(report(res, dist)))
        .await;
    expect(&r, StatusCode::UNAUTHORIZED, "anonymous");
    assert_eq!(store_corrections(&app, res).await, 0);

    // Reported; a double click gives the same report; the provider's staff hear.
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/corrections",
        &c,
        Some(report(res, dist)),
    )
    .await;
    let v = expect(&r, StatusCode::CREATED, "report");
    let first = v["id"].as_i64().unwrap();
    assert_eq!(
        (v["state"].as_str(), v["row"].as_i64(), v["field"].as_str()),
        (Some("submitted"), Some(3), Some("district"))
    );
    assert_eq!(v["stage_due"], working_days(5), "five working days to handle");
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/corrections",
        &c,
        Some(report(res, dist)),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "repeat")["id"], first);
    assert_eq!(store_corrections(&app, res).await, 1);
    assert!(notice_of(&mut app, &w.prov_reviewer, "correction_submitted", first)
        .await
        .is_some());
    assert!(notice_of(&mut app, &w.other_provider, "correction_submitted", first)
        .await
        .is_none());

    // Others see only the public part: where the error is and where the report stands.
    for who in [w.other_consumer.clone(), w.other_provider.clone()] {
        let r = call(
            &mut app,
            Method::GET,
            &format!("/api/v1/corrections/{first}"),
            &who,
            None,
        )
        .await;
        let v = expect(&r, StatusCode::OK, "public part");
        assert!(v["description"].is_null() && v["evidence"].is_null() && v["reporter_name"].is_null());
        assert_eq!(v["field"], "district");
        assert!(!r.body.contains("行政区划简册"));
    }
    let r = app.get(&format!("/api/v1/corrections?resource_id={res}")).await;
    let page = expect(&r, StatusCode::OK, "public list");
    assert_eq!(page["total"], 1);
    assert!(!r.body.contains("写成了锦江区") && !r.body.contains("用户li.si"));
    for who in [&w.admin, &w.prov_editor, &c] {
        let r = call(
            &mut app,
            Method::GET,
            &format!("/api/v1/corrections/{first}"),
            who,
            None,
        )
        .await;
        let v = expect(&r, StatusCode::OK, "in full");
        assert_eq!(v["evidence"], "《成都市行政区划简册（2024）》第12页。");
        assert_eq!(v["reporter_name"], "用户li.si");
    }

    // Only the owning provider handles it, in order.
    for (who, status) in [
        (&w.other_provider, StatusCode::FORBIDDEN),
        (&c, StatusCode::FORBIDDEN),
        (&w.admin, StatusCode::FORBIDDEN),
    ] {
        let r = decide_correction(&mut app, first, who, json!({"decision": "start_review"})).await;
        expect(&r, status, "not theirs");
    }
    let r = decide_correction(
        &mut app,
        first,
        &w.prov_reviewer,
        json!({"decision": "accept", "text": "将更正"}),
    )
    .await;
    expect(&r, StatusCode::CONFLICT, "accept before review");
    let r = decide_correction(&mut app, first, &w.prov_reviewer, json!({"decision": "start_review"})).await;
    assert_eq!(expect(&r, StatusCode::OK, "review")["state"], "under_review");
    assert!(notice_of(&mut app, &c, "correction_under_review", first)
        .await
        .is_some());

    // Accepted with the version that fixes it: a new upload of the same resource.
    let new_version = upload(&app, &w, res).await;
    let r = decide_correction(
        &mut app,
        first,
        &w.prov_reviewer,
        json!({"decision": "accept", "text": "已核实，新版本中更正。", "fixed_distribution_id": other_dist}),
    )
    .await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "another resource's version"),
        "fixed_distribution_id",
        "distribution_not_of_resource"
    ));
    let r = decide_correction(
        &mut app,
        first,
        &w.prov_reviewer,
        json!({"decision": "accept", "text": "已核实，新版本中更正。", "fixed_distribution_id": new_version}),
    )
    .await;
    let v = expect(&r, StatusCode::OK, "accept");
    assert_eq!(v["state"], "accepted");
    assert_eq!(v["fixed_distribution_id"], new_version);
    let n = notice_of(&mut app, &c, "correction_accepted", first)
        .await
        .expect("told");
    assert_eq!(n["reason"], "已核实，新版本中更正。");
    let r = app.get(&format!("/api/v1/corrections/{first}")).await;
    assert_eq!(
        expect(&r, StatusCode::OK, "public fix")["fix"],
        "已核实，新版本中更正。"
    );

    // Rejected, with a reason.
    let mut second_body = report(res, dist);
    second_body["row"] = json!(1);
    second_body["field"] = json!("name");
    second_body["description"] = json!("第1行街道名称应为“春熙路街道办事处”。");
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/corrections",
        &w.other_consumer,
        Some(second_body),
    )
    .await;
    let second = expect(&r, StatusCode::CREATED, "second")["id"].as_i64().unwrap();
    decide_correction(&mut app, second, &w.prov_editor, json!({"decision": "start_review"})).await;
    let r = decide_correction(&mut app, second, &w.prov_editor, json!({"decision": "reject"})).await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "no reason"),
        "reason",
        "required"
    ));
    let reason = "街道名称以民政部门公布的规范名称为准，无需更正。";
    let r = decide_correction(
        &mut app,
        second,
        &w.prov_editor,
        json!({"decision": "reject", "text": reason}),
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "reject")["state"], "rejected");
    let n = notice_of(&mut app, &w.other_consumer, "correction_rejected", second)
        .await
        .expect("told");
    assert_eq!(n["reason"], reason);
    let r = app.get(&format!("/api/v1/corrections/{second}")).await;
    assert!(expect(&r, StatusCode::OK, "public")["reason"].is_null());

    // Counts per resource, for the quality evaluation and the dataset page.
    assert_eq!(
        app.store.accepted_correction_counts(&[res, other_res]).await.unwrap(),
        vec![(res, 1)]
    );
    let r = app.get(&format!("/api/v1/resources/{res}/correction-counts")).await;
    assert_eq!(
        expect(&r, StatusCode::OK, "counts"),
        json!({"submitted": 0, "under_review": 0, "accepted": 1, "rejected": 1})
    );
    let r = app.get("/api/v1/corrections?state=accepted").await;
    assert_eq!(expect(&r, StatusCode::OK, "accepted")["total"], 1);
    let r = app.get("/api/v1/corrections?state=fixed").await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "bad state"),
        "state",
        "correction_state"
    ));

    // Withdrawn or unpublished data takes no reports.
    resources::withdraw(&app.store, &w.manager, other_res, "数据口径调整，暂时下架。")
        .await
        .unwrap();
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/corrections",
        &c,
        Some(report(other_res, other_dist)),
    )
    .await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "withdrawn"),
        "resource_id",
        "resource_not_published"
    ));
    let (draft, draft_dist) = prepare(&app, &w, "草稿", None).await;
    let r = call(
        &mut app,
        Method::POST,
        "/api/v1/corrections",
        &c,
        Some(report(draft, draft_dist)),
    )
    .await;
    assert!(has_code(
        &expect(&r, StatusCode::UNPROCESSABLE_ENTITY, "draft"),
        "resource_id",
        "not_found"
    ));
    assert_eq!(
        store_corrections(&app, other_res).await + store_corrections(&app, draft).await,
        0
    );

    // Lists: mine; the provider's; another provider's is empty; consumers have no queue.
    let r = call(&mut app, Method::GET, "/api/v1/corrections/mine", &c, None).await;
    assert_eq!(expect(&r, StatusCode::OK, "mine").as_array().unwrap().len(), 1);
    let r = call(
        &mut app,
        Method::GET,
        "/api/v1/correction-queue?open=false",
        &w.prov_reviewer,
        None,
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "provider's").as_array().unwrap().len(), 2);
    let r = call(
        &mut app,
        Method::GET,
        "/api/v1/correction-queue",
        &w.other_provider,
        None,
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK, "other provider"), json!([]));
    let r = call(&mut app, Method::GET, "/api/v1/correction-queue", &c, None).await;
    expect(&r, StatusCode::FORBIDDEN, "consumer queue");

    // An open report past its deadline: reminded, then escalated, once each.
    let mut third_body = report(res, dist);
    third_body["row"] = json!(2);
    let r = call(&mut app, Method::POST, "/api/v1/corrections", &c, Some(third_body)).await;
    let third = expect(&r, StatusCode::CREATED, "third")["id"].as_i64().unwrap();
    let r = call(
        &mut app,
        Method::GET,
        "/api/v1/correction-queue",
        &w.prov_reviewer,
        None,
    )
    .await;
    let queue = expect(&r, StatusCode::OK, "open queue");
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["correction"]["id"], third);
    set_correction_due(&app, third, &date(-2)).await;
    assert_eq!(pubdata_service::corrections::remind(&app.store).await.unwrap(), 1);
    let manager = token(&app, "a.manager").await;
    assert!(notice_of(&mut app, &manager, "correction_overdue", third)
        .await
        .is_some());
    assert_eq!(pubdata_service::corrections::remind(&app.store).await.unwrap(), 0);
}

async fn decide_correction(app: &mut TestApp, id: i64, token: &str, body: Value) -> Resp {
    call(
        app,
        Method::POST,
        &format!("/api/v1/corrections/{id}/decision"),
        token,
        Some(body),
    )
    .await
}

async fn store_corrections(app: &TestApp, resource: i64) -> i64 {
    let f = pubdata_store::CorrectionFilter {
        resource_id: Some(resource),
        ..Default::default()
    };
    app.store.count_corrections(&f).await.unwrap()
}

/// Moves a report's deadline into the past (tests cannot wait for working days to pass).
async fn set_correction_due(app: &TestApp, id: i64, due: &str) {
    let mut tx = app.store.begin().await.unwrap();
    tx.set_correction_due(id, due).await.unwrap();
    tx.commit().await.unwrap();
}

/// Two submissions at the same moment (a double click racing itself) make one record each way:
/// by content and by idempotency key.
async fn double_submission(app: TestApp) {
    let w = world(&app).await;
    let (res, dist) = publish(&app, &w, "成都市街道名录").await;
    let (mut one, mut two) = (app.browser(), app.browser());
    let body = demand("成都市公共充电桩位置与实时状态", None);
    let (a, b) = tokio::join!(
        one.api(Method::POST, "/api/v1/demands", Some(&w.consumer), Some(body.clone())),
        two.api(Method::POST, "/api/v1/demands", Some(&w.consumer), Some(body.clone())),
    );
    let ids = [&a, &b].map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["id"].clone());
    assert_eq!(ids[0], ids[1], "{} / {}", a.body, b.body);
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CREATED]);
    // The same key with edited text is still the first submission.
    let mut keyed = demand("公交线路与站点", None);
    keyed["idempotency_key"] = json!("form-7f3a");
    let (a, b) = tokio::join!(
        one.api(
            Method::POST,
            "/api/v1/demands",
            Some(&w.other_consumer),
            Some(keyed.clone())
        ),
        two.api(
            Method::POST,
            "/api/v1/demands",
            Some(&w.other_consumer),
            Some(keyed.clone())
        ),
    );
    assert_eq!(
        serde_json::from_str::<Value>(&a.body).unwrap()["id"],
        serde_json::from_str::<Value>(&b.body).unwrap()["id"]
    );
    let mut edited = keyed.clone();
    edited["description"] = json!("全市公交线路、站点和首末班时间（改）。");
    let r = one
        .api(Method::POST, "/api/v1/demands", Some(&w.other_consumer), Some(edited))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let total = app
        .store
        .count_demands(&pubdata_store::DemandFilter::default())
        .await
        .unwrap();
    assert_eq!(total, 2);
    // Another person's identical demand is theirs.
    let r = one
        .api(Method::POST, "/api/v1/demands", Some(&w.other_consumer), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    let (a, b) = tokio::join!(
        one.api(
            Method::POST,
            "/api/v1/corrections",
            Some(&w.consumer),
            Some(report(res, dist))
        ),
        two.api(
            Method::POST,
            "/api/v1/corrections",
            Some(&w.consumer),
            Some(report(res, dist))
        ),
    );
    assert_eq!(
        serde_json::from_str::<Value>(&a.body).unwrap()["id"],
        serde_json::from_str::<Value>(&b.body).unwrap()["id"],
        "{} / {}",
        a.body,
        b.body
    );
    assert_eq!(store_corrections(&app, res).await, 1);
    // The header works as the body's key does.
    let mut req = axum::http::Request::post("/api/v1/corrections")
        .header("authorization", format!("Bearer {}", w.consumer))
        .header("content-type", "application/json")
        .header("idempotency-key", "hdr-1");
    let mut body = report(res, dist);
    body["row"] = json!(4);
    let r = one
        .send(req.body(axum::body::Body::from(body.to_string())).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    body["row"] = json!(2);
    req = axum::http::Request::post("/api/v1/corrections")
        .header("authorization", format!("Bearer {}", w.consumer))
        .header("content-type", "application/json")
        .header("idempotency-key", "hdr-1");
    let r2 = one
        .send(req.body(axum::body::Body::from(body.to_string())).unwrap())
        .await;
    assert_eq!(r2.status, StatusCode::OK);
    assert_eq!(store_corrections(&app, res).await, 2);
}

#[test]
fn every_notice_and_message_is_translated() {
    let mut keys: Vec<String> = pubdata_service::demands::notice_kinds()
        .iter()
        .map(|k| format!("notice_kind.{}", k.as_str()))
        .collect();
    for kind in [
        "correction_submitted",
        "correction_under_review",
        "correction_accepted",
        "correction_rejected",
        "demand_due_soon",
        "demand_overdue",
        "correction_due_soon",
        "correction_overdue",
    ] {
        keys.push(format!("notice_kind.{kind}"));
    }
    for code in [
        "org_id",
        "not_a_provider",
        "same_provider",
        "demand_state",
        "correction_state",
        "search_text_length",
        "demand_decision",
        "correction_decision",
        "resource_not_published",
        "distribution_id",
        "distribution_not_of_resource",
        "row_number",
        "row_out_of_range",
        "idempotency_key",
        "plan_other_provider",
        "field_not_in_resource",
        "period_in_past",
    ] {
        keys.push(format!("field.{code}"));
    }
    for label in [
        "title",
        "description",
        "purpose",
        "domain",
        "provider_org_id",
        "idempotency_key",
        "plan_id",
        "distribution_id",
        "fixed_distribution_id",
        "field",
        "row",
        "evidence",
        "fix",
        "reason",
        "reply",
        "resource_id",
        "state",
        "q",
        "decision",
    ] {
        keys.push(format!("label.{label}"));
    }
    keys.extend(
        [
            "error.conflict.demand_not_routed_to_you",
            "object.demand",
            "object.correction",
        ]
        .map(String::from),
    );
    for s in pubdata_core::demand::DemandState::ALL {
        keys.push(format!("demand_state.{}", s.as_str()));
    }
    for s in pubdata_core::correction::CorrectionState::ALL {
        keys.push(format!("correction_state.{}", s.as_str()));
    }
    for lang in [Lang::ZhCn, Lang::En] {
        let missing: Vec<&String> = keys.iter().filter(|k| !i18n::has(lang, k)).collect();
        assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
    }
}

#[test]
fn deadlines_are_configurable() {
    let c: pubdata_server::Config =
        toml::from_str("[demand]\nassessment_days = 15\n\n[correction]\nhandling_days = 3\n").unwrap();
    assert_eq!((c.demand.assessment_days, c.demand.routing_days), (15, 2));
    assert_eq!(
        (c.correction.handling_days, c.correction.duplicate_window_secs),
        (3, 600)
    );
    assert!(toml::from_str::<pubdata_server::Config>("[demand]\nassesment_days = 15\n").is_err());
}

#[tokio::test]
async fn openapi_describes_demands_and_corrections() {
    let mut app = TestApp::sqlite().await;
    let doc = app.get("/api/v1/openapi.json").await.json();
    for (path, method) in [
        ("/demands", "get"),
        ("/demands", "post"),
        ("/demands/mine", "get"),
        ("/demands/{id}", "get"),
        ("/demands/{id}/route", "post"),
        ("/demands/{id}/decision", "post"),
        ("/demands/{id}/withdraw", "post"),
        ("/demand-queue", "get"),
        ("/corrections", "get"),
        ("/corrections", "post"),
        ("/corrections/mine", "get"),
        ("/corrections/{id}", "get"),
        ("/corrections/{id}/decision", "post"),
        ("/correction-queue", "get"),
        ("/resources/{id}/correction-counts", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    // Each request body is its own schema, not another module's of the same name.
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["DemandDecisionDto"]["properties"]["item"].is_object());
    assert!(schemas["CorrectionDecisionDto"]["properties"]["fixed_distribution_id"].is_object());
    assert!(schemas["DemandDto"]["properties"]["requester_name"].is_object());
}

#[tokio::test]
async fn demands_on_sqlite() {
    demand_story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn demands_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    demand_story(app).await;
}

#[tokio::test]
async fn corrections_on_sqlite() {
    correction_story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn corrections_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    correction_story(app).await;
}

#[tokio::test]
async fn double_submission_on_sqlite() {
    double_submission(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn double_submission_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    double_submission(app).await;
}

// ---------------------------------------------------------------------------------------------
// The web pages.

async fn browser_of(app: &TestApp, login: &str) -> TestApp {
    let mut b = app.browser();
    let r = b.login(login, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{login}: {}", r.body);
    b
}

/// The value of the hidden input `name` in a form.
fn hidden(r: &Resp, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = r
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {}", r.body))
        + marker.len();
    r.body[at..].split('"').next().unwrap_or_default().to_string()
}

fn id_in(location: &str, prefix: &str) -> i64 {
    location
        .strip_prefix(prefix)
        .and_then(|rest| rest.split(['?', '/']).next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("{location} does not start with {prefix}<id>"))
}

/// A page that rendered whole, with no raw translation key of these pages in it.
#[track_caller]
fn assert_page(what: &str, r: &Resp) {
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
    assert!(r.body.trim_end().ends_with("</html>"), "{what}: cut short");
    for raw in [
        ">demands.",
        ">corrections.",
        ">requests.",
        ">statistics.",
        ">demand_state.",
        ">correction_state.",
        ">flash.",
    ] {
        assert!(!r.body.contains(raw), "{what}: untranslated {raw}");
    }
}

async fn all_demands(app: &TestApp) -> usize {
    let filter = pubdata_store::DemandFilter {
        limit: 100,
        ..Default::default()
    };
    app.store.list_demands(&filter).await.unwrap().len()
}

async fn demand_state(app: &TestApp, id: i64) -> String {
    app.store.demand(id).await.unwrap().unwrap().state
}

const NEED: [(&str, &str); 4] = [
    ("title", "成都市公共充电桩位置与实时状态"),
    (
        "description",
        "希望开放全市公共充电桩的位置、运营单位、桩数和实时空闲状态。",
    ),
    ("purpose", "开发新能源车主找桩导航小程序，免费提供给市民使用。"),
    ("domain", "urban_construction"),
];

/// Submits a demand through the form (the key from the page); returns its id.
async fn ask(b: &mut TestApp, title: &str, provider: Option<i64>) -> i64 {
    let key = hidden(&b.get("/demands/new").await, "idempotency_key");
    let provider = provider.map(|p| p.to_string()).unwrap_or_default();
    let mut form: Vec<(&str, &str)> = NEED.to_vec();
    form[0].1 = title;
    form.extend([
        ("provider_org_id", provider.as_str()),
        ("idempotency_key", key.as_str()),
    ]);
    let r = b.post_form("/demands", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    id_in(r.location(), "/demands/")
}

async fn page_story(mut app: TestApp) {
    let w = world(&app).await;
    let (res, dist) = publish(&app, &w, "成都市街道名录").await;
    let name = app
        .store
        .resource(res)
        .await
        .unwrap()
        .unwrap()
        .code
        .to_ascii_lowercase();
    let domain_key = pubdata_core::metadata::DomainList::standard()
        .parse("城市建设")
        .expect("a standard domain")
        .key()
        .to_string();

    // Anyone reads the list; asking needs a login.
    let mut anon = app.browser();
    assert_page("demands (anonymous)", &anon.get("/demands").await);
    let r = anon.get("/demands/new").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/login?next="), "{}", r.location());

    // A consumer asks: a missing title is named and nothing is stored; the corrected form with
    // the same key, sent twice (a double click), makes one demand.
    let mut li = browser_of(&app, "li.si").await;
    assert!(li.get("/").await.nav().contains(&"demands".to_string()));
    let form_page = li.get("/demands/new").await;
    assert_page("new demand", &form_page);
    let key = hidden(&form_page, "idempotency_key");
    let mut form: Vec<(&str, &str)> = NEED.to_vec();
    form[3].1 = &domain_key;
    form.push(("idempotency_key", &key));
    let no_title: Vec<(&str, &str)> = form.iter().filter(|(k, _)| *k != "title").cloned().collect();
    let r = li.post_form("/demands", &no_title).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("error-summary") && r.body.contains("id=\"e-title\""),
        "{}",
        r.body
    );
    assert!(r.body.contains(&key), "the key comes back with the form");
    assert_eq!(all_demands(&app).await, 0);
    let first = li.post_form("/demands", &form).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let id = id_in(first.location(), "/demands/");
    let again = li.post_form("/demands", &form).await;
    assert_eq!(
        id_in(again.location(), "/demands/"),
        id,
        "a double click gives the same demand"
    );
    assert_eq!(all_demands(&app).await, 1);
    let page = li.get(first.location()).await;
    assert_page("demand (requester)", &page);
    assert!(page.body.contains(NEED[2].1) && page.body.contains("withdraw-form"));

    // The public sees it, without who asked or why.
    let list = anon.get("/demands?q=充电桩").await;
    assert_page("demands search", &list);
    assert!(list.body.contains(NEED[0].1));
    assert!(!list.body.contains(NEED[2].1) && !list.body.contains("用户li.si"));
    let public = anon.get(&format!("/demands/{id}")).await;
    assert_page("demand (public)", &public);
    assert!(!public.body.contains(NEED[2].1) && !public.body.contains("用户li.si"));
    assert!(!public.body.contains("route-demand") && !public.body.contains("withdraw-form"));
    let none = anon.get("/demands?state=nonsense").await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The administration institution routes it from its queue.
    let mut admin = browser_of(&app, "a.reviewer").await;
    assert!(admin.get("/").await.nav().contains(&"requests_queue".to_string()));
    let queue = admin.get("/demands/queue").await;
    assert_page("demand queue (admin)", &queue);
    assert!(queue.body.contains(&format!("queue-{id}")));
    let r = admin
        .post_form(&format!("/demands/{id}/route"), &[("provider_org_id", "")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(demand_state(&app, id).await, "submitted");
    let provider = w.provider.to_string();
    let r = admin
        .post_form(&format!("/demands/{id}/route"), &[("provider_org_id", &provider)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(demand_state(&app, id).await, "assessing");

    // Another department cannot answer it; the one it is routed to must give a reason.
    let mut other = browser_of(&app, "h.reviewer").await;
    let reason = "该数据由各充电运营企业自行掌握，本部门未归集。";
    let r = other
        .post_form(
            &format!("/demands/{id}/decision"),
            &[("decision", "decline"), ("reason", reason)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(demand_state(&app, id).await, "assessing");
    let mut prov = browser_of(&app, "t.reviewer").await;
    let page = prov.get(&format!("/demands/{id}")).await;
    assert_page("demand (assessor)", &page);
    assert!(page.body.contains("accept-form") && page.body.contains("decline-form"));
    let r = prov
        .post_form(
            &format!("/demands/{id}/decision"),
            &[("decision", "decline"), ("reason", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"e-reason\""), "{}", r.body);
    assert_eq!(demand_state(&app, id).await, "assessing");
    let r = prov
        .post_form(
            &format!("/demands/{id}/decision"),
            &[("decision", "decline"), ("reason", reason)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(demand_state(&app, id).await, "declined");
    assert!(notice_of(&mut app, &w.consumer, "demand_declined", id).await.is_some());
    let page = li.get(&format!("/demands/{id}")).await;
    assert!(page.body.contains(reason) && !page.body.contains("withdraw-form"));

    // The requester withdraws a demand in assessment; the department is told; twice is refused.
    let second = ask(&mut li, "成都市共享单车停放点位", Some(w.provider)).await;
    assert_eq!(demand_state(&app, second).await, "assessing");
    let r = other.post_form(&format!("/demands/{second}/withdraw"), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = li.post_form(&format!("/demands/{second}/withdraw"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(demand_state(&app, second).await, "withdrawn");
    assert!(notice_of(&mut app, &w.prov_reviewer, "demand_withdrawn", second)
        .await
        .is_some());
    let r = li.post_form(&format!("/demands/{second}/withdraw"), &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_page(
        "demand (withdrawn)",
        &li.get(&format!("/demands/{second}?done=demand_withdrawn")).await,
    );

    // Accepted into the plan from the page; the plan item cancelled later declines the demand
    // with the cancellation's reason, and the requester is told.
    let third = ask(&mut li, "成都市公共停车场泊位实时数据", Some(w.provider)).await;
    let planned = date(30);
    let r = prov
        .post_form(
            &format!("/demands/{third}/decision"),
            &[
                ("decision", "accept"),
                ("name", "成都市公共停车场泊位"),
                ("open_type", "unconditional"),
                ("planned_date", &planned),
                ("reply", "已列入年度需求开放计划。"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let row = app.store.demand(third).await.unwrap().unwrap();
    assert_eq!(row.state, "accepted");
    let item = row.plan_item_id.expect("a plan item");
    let plan = {
        let mut tx = app.store.begin().await.unwrap();
        tx.plan_item(item).await.unwrap().unwrap().plan_id
    };
    let mut editor = browser_of(&app, "t.editor").await;
    let cancel = "停车场数据接入延期至明年，本年度计划取消。";
    let r = editor
        .post_form(
            &format!("/provider/plans/{plan}/items/{item}/cancel"),
            &[("reason", cancel)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let row = app.store.demand(third).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.reply.as_deref()), ("declined", Some(cancel)));
    let n = notice_of(&mut app, &w.consumer, "demand_plan_cancelled", third).await;
    assert_eq!(n.expect("told")["reason"], cancel);

    // An error report from the dataset page: a row beyond the file is named, then one is filed
    // and the provider accepts it; the public sees only its public part.
    let page = li.get(&format!("/dataset/{name}")).await;
    assert!(page.body.contains(&format!("/dataset/{name}/report")), "{}", page.body);
    assert!(page.body.contains("id=\"correction-counts\""));
    let form_page = li.get(&format!("/dataset/{name}/report")).await;
    assert_page("report form", &form_page);
    let key = hidden(&form_page, "idempotency_key");
    let dist = dist.to_string();
    let wrong = "街道名称应为“春熙路街道”，文件中写成了“春熙街道”。";
    let mut report = vec![
        ("distribution_id", dist.as_str()),
        ("row", "99"),
        ("field", "name"),
        ("description", wrong),
        ("idempotency_key", key.as_str()),
    ];
    let r = li.post_form(&format!("/dataset/{name}/report"), &report).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"e-row\""), "{}", r.body);
    assert_eq!(store_corrections(&app, res).await, 0);
    report[1].1 = "1";
    let r = li.post_form(&format!("/dataset/{name}/report"), &report).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let cid = id_in(r.location(), "/corrections/");
    assert_page("correction (reporter)", &li.get(r.location()).await);
    let mut zhang = browser_of(&app, "zhang.san").await;
    let public = zhang.get(&format!("/corrections/{cid}")).await;
    assert_page("correction (public)", &public);
    assert!(!public.body.contains(wrong) && !public.body.contains("accept-form"));
    let r = zhang
        .post_form(
            &format!("/corrections/{cid}/decision"),
            &[("decision", "reject"), ("reason", "不是错误")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let queue = prov.get("/corrections/queue").await;
    assert_page("correction queue", &queue);
    assert!(queue.body.contains(&format!("queue-{cid}")));
    let r = prov
        .post_form(&format!("/corrections/{cid}/decision"), &[("decision", "start_review")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let fix = "已核实，下一版本更正该街道名称。";
    let r = prov
        .post_form(
            &format!("/corrections/{cid}/decision"),
            &[("decision", "accept"), ("fix", fix)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.store.correction(cid).await.unwrap().unwrap().state, "accepted");
    assert!(li.get(&format!("/corrections/{cid}")).await.body.contains(fix));

    // The public statistics count what the provider answered (the withdrawn demand aside).
    let stats = anon.get("/api/v1/statistics/interaction").await.json();
    let row = stats["providers"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["provider_org_id"] == w.provider))
        .cloned()
        .expect("the provider's row");
    assert_eq!(
        (row["demands"].as_u64(), row["demands_answered"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        (row["corrections"].as_u64(), row["corrections_answered"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (row["response_rate"].as_f64(), row["overdue"].as_u64()),
        (Some(1.0), Some(0))
    );
    assert_eq!(stats["total"]["demands"].as_u64(), Some(2));
    let page = anon.get("/statistics/interaction").await;
    assert_page("statistics", &page);
    assert!(page.body.contains(&format!("id=\"provider-{}\"", w.provider)) && page.body.contains("100%"));

    // The requester's own page lists both; every page renders in English too.
    let mine = li.get("/my/requests").await;
    assert_page("my requests", &mine);
    assert!(mine.body.contains(NEED[0].1) && mine.body.contains(&format!("/corrections/{cid}")));
    for path in [
        "/demands?lang=en".to_string(),
        format!("/demands/{third}?lang=en"),
        format!("/dataset/{name}/report?lang=en"),
        format!("/corrections/{cid}?lang=en"),
        "/my/requests?lang=en".to_string(),
        "/statistics/interaction?lang=en".to_string(),
    ] {
        let r = li.get(&path).await;
        assert_page(&path, &r);
        assert!(r.body.contains("lang=\"en\""), "{path}");
    }
    for path in ["/demands/queue?lang=en", "/corrections/queue?all=1&lang=en"] {
        assert_page(path, &prov.get(path).await);
    }
}

#[tokio::test]
async fn pages_on_sqlite() {
    page_story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn pages_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    page_story(app).await;
}
