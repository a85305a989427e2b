//! Steps 4–8 through the web pages, as people use them: a consumer accepts the terms of
//! unconditional data and downloads it; applies for conditional data (wrong input first), answers
//! the pre-review's request for more, and is granted a narrower set of fields by the provider,
//! with an AppKey shown once; a refusal is relayed reworded; drafts are withdrawn; grants are
//! revoked. Outsiders see nothing of it, and every page renders in both languages.

mod common;

use axum::http::{Method, StatusCode};
use common::{Resp, TestApp, PASSWORD};
use pubdata_core::calendar::{Date, WorkCalendar};
use pubdata_core::metadata::{NewField, NewResourceMeta};
use pubdata_core::org::NewOrg;
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::user::NewUser;
use pubdata_service::accounts::{self, actor_for, NewStaff};
use pubdata_service::ingest::{self, UploadInfo};
use pubdata_service::resources::{self, Decision};
use pubdata_service::Caller;
use pubdata_store::{now_ms, ApplicationChange, ApplicationFilter};

// ---------------------------------------------------------------------------------------------
// The world: the administration institution with a reviewer, a provider with an editor and a
// reviewer, two consumers, and two published resources with data.

async fn org(app: &TestApp, kind: &str, name: &str, code: &str) -> i64 {
    let o = NewOrg {
        kind: kind.into(),
        name: name.into(),
        credit_code: code.into(),
        region_code: "510000".into(),
        ..Default::default()
    };
    accounts::create_org(&app.store, &Caller::console(), o)
        .await
        .expect("org")
}

async fn staff(app: &TestApp, login: &str, org_id: i64, role: &str) -> Caller {
    let user = NewUser {
        login: login.into(),
        display_name: login.into(),
        email: format!("{login}@example.cn"),
        phone: String::new(),
        password: PASSWORD.into(),
    };
    let staff = NewStaff {
        user,
        org_id,
        role: role.into(),
    };
    let id = accounts::create_staff(&app.store, &Caller::console(), staff)
        .await
        .expect("staff");
    let u = app.store.user(id).await.unwrap().unwrap();
    Caller {
        actor: actor_for(&u),
        label: u.login.clone(),
        ip: None,
    }
}

fn field(name: &str, title: &str, kind: &str) -> NewField {
    NewField {
        name: name.into(),
        title: title.into(),
        field_type: kind.into(),
        key: name == "code",
        required: name == "code",
        ..Default::default()
    }
}

fn meta(title: &str, open_type: &str) -> NewResourceMeta {
    NewResourceMeta {
        title: title.into(),
        summary: "四川省高速公路路段的编号、名称、通车日期、里程与车道数，按半年更新。".into(),
        domain: "transport".into(),
        open_type: open_type.into(),
        open_conditions: if open_type == "conditional" {
            "仅用于交通规划研究，须具备数据安全管理制度".into()
        } else {
            String::new()
        },
        update_frequency: "half_yearly".into(),
        spatial: "510000".into(),
        temporal_from: "2020-01-01".into(),
        contact_email: "open@jt.sc.gov.cn".into(),
        fields: vec![
            field("code", "路段编号", "code"),
            field("name", "路段名称", "string"),
            field("opened", "通车日期", "date"),
            field("lanes", "车道数", "integer"),
        ],
        ..Default::default()
    }
}

const SECTIONS: &str = "code,name,opened,lanes\nG5001,成绵高速,2001-12-01,4\nG5002,成渝高速,1995-09-15,6\n";

/// A resource made, loaded and published through the services; returns (id, name, file).
async fn published(
    app: &TestApp,
    editor: &Caller,
    reviewer: &Caller,
    provider: i64,
    m: &NewResourceMeta,
) -> (i64, String, i64) {
    let id = resources::create(&app.store, editor, provider, m, None)
        .await
        .expect("create");
    let ticket = ingest::begin_upload(&app.store, editor, id, "sections.csv")
        .await
        .expect("begin upload");
    let mut w = app.files.writer(&ticket.key, u64::MAX).await.expect("writer");
    w.write(SECTIONS.as_bytes())
        .await
        .expect("write")
        .expect("within the limit");
    let stored = w.finish().await.expect("stored");
    let info = UploadInfo {
        title: "sections.csv".into(),
        change_note: String::new(),
    };
    let dist = ingest::finish_upload(&app.store, editor, &ticket, &stored, &info)
        .await
        .expect("finish upload");
    app.run_jobs().await;
    resources::submit(&app.store, editor, id, &WorkCalendar::official())
        .await
        .expect("submit");
    resources::decide(&app.store, reviewer, id, Decision::Approve(ReviewChecklist::passed()))
        .await
        .expect("approve");
    let code = app.store.resource(id).await.unwrap().unwrap().code;
    (id, code.to_ascii_lowercase(), dist)
}

struct World {
    open_name: String,
    open_dist: i64,
    cond_id: i64,
    cond_name: String,
    cond_dist: i64,
    consumer_id: i64,
}

async fn world(app: &TestApp) -> World {
    let centre = org(app, "admin_institution", "四川省大数据中心", "91350100M000100Y43").await;
    let transport = org(app, "provider", "四川省交通运输厅", "11510000008693034D").await;
    let editor = staff(app, "chen.bian", transport, "provider_editor").await;
    let reviewer = staff(app, "li.shen", centre, "admin_reviewer").await;
    staff(app, "zhao.shen", transport, "provider_reviewer").await;
    let consumer_id = app.consumer("wang.yong").await;
    app.consumer("li.na").await;
    let (_, open_name, open_dist) = published(
        app,
        &editor,
        &reviewer,
        transport,
        &meta("四川省高速公路路段", "unconditional"),
    )
    .await;
    let (cond_id, cond_name, cond_dist) = published(
        app,
        &editor,
        &reviewer,
        transport,
        &meta("四川省高速公路收费站流量", "conditional"),
    )
    .await;
    World {
        open_name,
        open_dist,
        cond_id,
        cond_name,
        cond_dist,
        consumer_id,
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

async fn logged_in(app: &TestApp, login: &str) -> TestApp {
    let mut b = app.browser();
    let r = b.login(login, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{login}: {}", r.body);
    b
}

/// Text without the HTML escaping of `/` and quotes the templates apply.
fn text(r: &Resp) -> String {
    r.body
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn id_after(location: &str, prefix: &str) -> i64 {
    location
        .strip_prefix(prefix)
        .and_then(|rest| rest.split(['?', '/']).next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("{location} does not start with {prefix}<id>"))
}

fn download_path(name: &str, dist: i64) -> String {
    format!("/dataset/{name}/resource/{dist}/download")
}

/// Prefixes of the translation keys these pages print: one showing raw means a key is missing.
const KEY_PREFIXES: [&str; 16] = [
    "apply.",
    "my.",
    "applications.",
    "application_state.",
    "application_event.",
    "grant_state.",
    "filter_op.",
    "dataset.",
    "label.",
    "hint.",
    "field.",
    "flash.",
    "notice_kind.",
    "error.",
    "review.",
    "resource.",
];

/// A whole page, without an error or an untranslated key in it.
#[track_caller]
fn assert_page(path: &str, r: &Resp) {
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    assert!(r.body.trim_end().ends_with("</html>"), "{path}: cut short");
    for bad in ["服务器内部错误", "Internal server error", "error-summary", "undefined"] {
        assert!(!r.body.contains(bad), "{path}: contains {bad:?}: {}", r.body);
    }
    assert_translated(path, r);
}

#[track_caller]
fn assert_translated(path: &str, r: &Resp) {
    for prefix in KEY_PREFIXES {
        for marker in [format!(">{prefix}"), format!("=\"{prefix}"), format!(" {prefix}")] {
            if let Some(i) = r.body.find(&marker) {
                let after = &r.body[i + marker.len()..];
                // `label.` and such inside prose are fine only when not followed by a key.
                if after.starts_with(|c: char| c.is_ascii_lowercase()) {
                    let around = &r.body[i.saturating_sub(80)..(i + 80).min(r.body.len())];
                    panic!("{path}: untranslated {prefix}… near {around:?}");
                }
            }
        }
    }
}

/// A form posted as a browser does, including repeated names (checkboxes).
async fn post(b: &mut TestApp, path: &str, fields: &[(&str, &str)]) -> Resp {
    b.post_form(path, fields).await
}

/// The user's applications for conditional data (accepting terms is recorded as one too).
async fn applications_of(app: &TestApp, user: i64) -> usize {
    app.store
        .list_applications(&ApplicationFilter {
            applicant_id: Some(user),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .filter(|a| a.kind == "conditional")
        .count()
}

async fn state_of(app: &TestApp, id: i64) -> String {
    app.store.application(id).await.unwrap().unwrap().state
}

fn today() -> Date {
    Date::from_unix_millis_cst(now_ms())
}

/// A valid application form for the conditional resource, with these fields ticked.
fn application_form<'a>(fields: &[&'a str], from: &'a str, to: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("purpose", "编制全省高速公路网规划，分析各路段通车年限与车道配置。"),
        ("scenario", "交通规划研究院内部规划分析系统，仅供研究人员离线使用。"),
        ("period_from", from),
        ("period_to", to),
        (
            "security_measures",
            "数据存放于内网专用服务器，按岗位授权访问，全程加密，项目结束后删除。",
        ),
        ("commitment_accepted", "on"),
        ("do", "submit"),
    ];
    form.extend(fields.iter().map(|f| ("fields", *f)));
    form
}

fn without<'a>(form: &[(&'a str, &'a str)], name: &str) -> Vec<(&'a str, &'a str)> {
    form.iter().filter(|(k, _)| *k != name).cloned().collect()
}

// ---------------------------------------------------------------------------------------------
// The story.

#[tokio::test]
async fn applications_go_from_the_dataset_page_through_review_to_a_grant() {
    let app = TestApp::sqlite().await;
    let w = world(&app).await;
    let from = today().to_string();
    let to = today().add_days(90).to_string();

    // 1. Unconditional data: anonymous visitors are asked to log in; a consumer accepts the
    //    usage terms (the box must be ticked) and downloads.
    let mut anon = app.browser();
    let page = anon.get(&format!("/dataset/{}", w.open_name)).await;
    assert_page("dataset (anonymous)", &page);
    assert!(text(&page).contains(&format!("/login?next=/dataset/{}", w.open_name)));
    assert!(!page.body.contains("id=\"accept-terms\""));

    let mut consumer = logged_in(&app, "wang.yong").await;
    assert_eq!(
        consumer.get("/").await.nav(),
        ["home", "catalogue", "demands", "showcases", "account", "inbox", "my"]
    );
    let path = format!("/dataset/{}", w.open_name);
    let page = consumer.get(&path).await;
    assert_page(&path, &page);
    for id in [
        "id=\"apply\"",
        "id=\"downloads\"",
        "id=\"distributions\"",
        "id=\"preview\"",
        "id=\"api-example\"",
        "id=\"accept-terms\"",
    ] {
        assert!(page.body.contains(id), "{id}: {}", page.body);
    }
    assert!(page.body.contains("接受使用协议并获取"));
    let r = consumer.get(&download_path(&w.open_name, w.open_dist)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("请先在数据资源页面接受使用协议"), "{}", r.body);

    let accept = format!("/dataset/{}/accept", w.open_name);
    let r = post(&mut consumer, &accept, &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("使用协议: 请勾选同意使用协议。"), "{}", r.body);
    assert!(app
        .store
        .list_grants(Some(w.consumer_id), None)
        .await
        .unwrap()
        .is_empty());
    let r = post(&mut consumer, &accept, &[("terms_accepted", "on")]).await;
    // Post/Redirect/Get: the dataset page again, with the message.
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/dataset/{}?done=terms_accepted", w.open_name));
    let r = consumer.get(r.location()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("已接受使用协议，现在可以下载本资源的数据。"),
        "{}",
        r.body
    );
    assert!(text(&r).contains(&download_path(&w.open_name, w.open_dist)));
    let r = consumer.get(&download_path(&w.open_name, w.open_dist)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.starts_with("code,name,opened,lanes"), "{}", r.body);

    // 2. Conditional data: the page offers an application (anonymous visitors log in first).
    let cond_path = format!("/dataset/{}", w.cond_name);
    let page = anon.get(&cond_path).await;
    assert!(
        text(&page).contains(&format!("/login?next=%2Fapply%2F{}", w.cond_name)),
        "{}",
        page.body
    );
    let r = anon.get(&format!("/apply/{}", w.cond_name)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), format!("/login?next=%2Fapply%2F{}", w.cond_name));
    let page = consumer.get(&cond_path).await;
    assert_page(&cond_path, &page);
    assert!(
        text(&page).contains(&format!("href=\"/apply/{}\"", w.cond_name)),
        "{}",
        page.body
    );
    assert!(page.body.contains("申请数据"));
    let r = consumer.get(&download_path(&w.cond_name, w.cond_dist)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "no grant yet: {}", r.body);

    let apply_path = format!("/apply/{}", w.cond_name);
    let form = consumer.get(&apply_path).await;
    assert_page(&apply_path, &form);
    assert!(
        form.body.contains("仅用于交通规划研究，须具备数据安全管理制度"),
        "open conditions shown"
    );
    assert!(form.body.contains("公共数据安全承诺书") && form.body.contains("不向任何第三方提供"));
    assert_eq!(form.body.matches("name=\"fields\"").count(), 4);
    assert_eq!(form.body.matches(" checked").count(), 4, "every field ticked at first");
    assert!(form.body.contains("id=\"attachments\""), "a place for attachments");

    // 3. Wrong input is refused with what to fix, keeps what was typed, and stores nothing.
    let good = application_form(&["code", "name", "opened"], &from, &to);
    let r = post(&mut consumer, &apply_path, &without(&good, "commitment_accepted")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body
            .contains("公共数据安全承诺书: 请阅读并勾选同意《公共数据安全承诺书》。"),
        "{}",
        r.body
    );
    assert!(r.body.contains("编制全省高速公路网规划"), "the purpose is kept");
    assert_eq!(r.body.matches(" checked").count(), 3, "the ticked fields are kept");
    let too_long = today().add_days(800).to_string();
    let r = post(
        &mut consumer,
        &apply_path,
        &application_form(&["code"], &from, &too_long),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("使用期限最长 12 个月"), "{}", r.body);
    let r = post(&mut consumer, &apply_path, &application_form(&[], &from, &to)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("数据项: 必须填写。"), "{}", r.body);
    assert!(
        r.body.contains("href=\"#f-fields\""),
        "the summary links to the checkboxes"
    );
    consumer.accept_language = Some("en".into());
    let r = post(&mut consumer, &apply_path, &without(&good, "commitment_accepted")).await;
    assert!(
        r.body.contains("read the public data security commitment"),
        "{}",
        r.body
    );
    consumer.accept_language = None;
    assert_eq!(applications_of(&app, w.consumer_id).await, 0, "nothing saved");

    // 4. A correct application is submitted and waits for the pre-review.
    let r = post(&mut consumer, &apply_path, &good).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = id_after(r.location(), "/my/applications/");
    assert!(r.location().ends_with("done=application_submitted"));
    assert_eq!(state_of(&app, id).await, "pre_review");
    let mine = consumer.get(&format!("/my/applications/{id}")).await;
    assert_page("my application", &mine);
    assert!(mine.body.contains("待初审") && mine.body.contains("id=\"withdraw\""));
    assert!(!mine.body.contains("id=\"application-form\""), "no edits under review");
    let page = consumer.get(&cond_path).await;
    assert!(page.body.contains("id=\"pending-application\""), "{}", page.body);

    // 5. The admin reviewer's queue has it; asking for more needs to say what.
    let mut admin = logged_in(&app, "li.shen").await;
    let queue = admin.get("/applications").await;
    assert_page("/applications", &queue);
    assert_eq!(
        queue.nav(),
        [
            "home",
            "catalogue",
            "demands",
            "showcases",
            "account",
            "inbox",
            "review",
            "requests_queue",
            "applications",
            "timeliness",
            "showcase_queue",
            "security_reports"
        ]
    );
    assert!(queue.body.contains(&format!("id=\"queue-{id}\"")) && queue.body.contains("四川省高速公路收费站流量"));
    let staff_path = format!("/applications/{id}");
    let page = admin.get(&staff_path).await;
    assert_page(&staff_path, &page);
    for form_id in ["forward-form", "request-info-form", "reject-form"] {
        assert!(page.body.contains(&format!("id=\"{form_id}\"")), "{form_id}");
    }
    assert!(!page.body.contains("id=\"approve-form\""));
    let decision = format!("/applications/{id}/decision");
    let r = post(&mut admin, &decision, &[("decision", "request_info"), ("missing", "")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("需补充的材料: 必须填写。"), "{}", r.body);
    let missing = "请补充数据安全管理制度的主要内容，并说明数据删除方式。";
    let r = post(
        &mut admin,
        &decision,
        &[("decision", "request_info"), ("missing", missing)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/applications?done=application_info_requested");
    assert_eq!(state_of(&app, id).await, "needs_info");

    // 6. The consumer sees what is missing, edits and answers (a reply is required).
    let inbox = consumer.get("/inbox").await;
    assert!(
        inbox
            .body
            .contains("您的数据申请“四川省高速公路收费站流量”需要补充材料。"),
        "{}",
        inbox.body
    );
    assert!(inbox.body.contains(missing));
    let mine_path = format!("/my/applications/{id}");
    let mine = consumer.get(&mine_path).await;
    assert_page(&mine_path, &mine);
    assert!(mine.body.contains("id=\"info-request\"") && mine.body.contains(missing));
    assert!(mine.body.contains("id=\"answer\"") && mine.body.contains("name=\"reply\""));
    let measures = "数据存放于内网专用服务器，执行《数据安全管理办法》，按岗位授权访问，项目结束后三日内删除。";
    let mut answer: Vec<(&str, &str)> = application_form(&["code", "name", "opened"], &from, &to)
        .into_iter()
        .filter(|(k, _)| *k != "security_measures" && *k != "do")
        .collect();
    answer.extend([("security_measures", measures), ("do", "answer")]);
    let r = post(&mut consumer, &mine_path, &answer).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("补充说明: 必须填写。"), "{}", r.body);
    assert!(r.body.contains("执行《数据安全管理办法》"), "the edit is kept");
    answer.push(("reply", "已补充安全管理制度要点和删除方式。"));
    let r = post(&mut consumer, &mine_path, &answer).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(state_of(&app, id).await, "pre_review");
    let stored = app.store.application(id).await.unwrap().unwrap();
    assert_eq!(stored.form["security_measures"], measures);

    // 7. The admin forwards it; the provider's reviewer approves a narrower set of fields.
    let r = post(
        &mut admin,
        &decision,
        &[("decision", "forward"), ("note", "材料齐全。")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(state_of(&app, id).await, "provider_review");
    let mut provider = logged_in(&app, "zhao.shen").await;
    assert_eq!(
        provider.get("/").await.nav(),
        [
            "home",
            "catalogue",
            "demands",
            "showcases",
            "account",
            "inbox",
            "workspace",
            "requests_queue",
            "applications",
            "security_reports"
        ]
    );
    let queue = provider.get("/applications").await;
    assert!(queue.body.contains(&format!("id=\"queue-{id}\"")), "{}", queue.body);
    let page = provider.get(&staff_path).await;
    assert_page("provider review", &page);
    assert!(page.body.contains("id=\"approve-form\"") && page.body.contains("id=\"provider-reject-form\""));
    assert!(
        !page.body.contains("value=\"lanes\""),
        "only requested fields are offered"
    );
    assert!(
        page.body
            .contains(&format!("name=\"valid_to\" type=\"date\" value=\"{to}\"")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("材料齐全。"),
        "the pre-review note reaches the provider"
    );
    for m in ["download", "api"] {
        let checked = format!("name=\"methods\" value=\"{m}\" checked");
        assert!(page.body.contains(&checked), "{m} is offered as asked");
    }
    let mut approve = vec![
        ("decision", "approve"),
        ("fields", "code"),
        ("fields", "lanes"),
        ("valid_from", from.as_str()),
        ("valid_to", to.as_str()),
        ("methods", "download"),
        ("methods", "api"),
    ];
    let r = post(&mut provider, &decision, &approve).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("“lanes”不在申请的数据项中"), "{}", r.body);
    approve[2] = ("fields", "name");
    let r = post(&mut provider, &decision, &approve).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/applications?done=application_approved");
    assert_eq!(state_of(&app, id).await, "granted");

    // 8. The consumer has the grant on "my data", creates an AppKey shown once, and downloads
    //    the granted fields only.
    let my = consumer.get("/my").await;
    assert_page("/my", &my);
    let grants = app
        .store
        .list_grants(Some(w.consumer_id), Some(w.cond_id))
        .await
        .unwrap();
    assert_eq!(grants.len(), 1);
    let grant = grants[0].id;
    assert_eq!(grants[0].fields, ["code", "name"]);
    let row = my
        .body
        .split(&format!("id=\"grant-{grant}\""))
        .nth(1)
        .expect("grant row");
    let row = row.split("</tr>").next().unwrap();
    assert!(row.contains("<code>code</code>") && row.contains("<code>name</code>") && !row.contains("opened"));
    assert!(
        row.contains(&to) && row.contains("有效") && row.contains("生成 AppKey"),
        "{row}"
    );
    let r = post(&mut consumer, &format!("/my/grants/{grant}/key"), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let key = r
        .body
        .split("id=\"app-key\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the key")
        .to_string();
    assert!(key.starts_with("pak_"), "{key}");
    assert!(r.body.contains("只显示这一次"));
    let my = consumer.get("/my").await;
    assert!(!my.body.contains(&key), "shown once only");
    assert!(my.body.contains(&format!("{}…", &key[..12])), "its prefix stays");
    let rows = consumer
        .api(
            Method::GET,
            &format!("/api/v1/resources/{}/rows?app_key={key}", w.cond_id),
            None,
            None,
        )
        .await;
    assert_eq!(rows.status, StatusCode::OK, "{}", rows.body);
    let r = consumer.get(&download_path(&w.cond_name, w.cond_dist)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.starts_with("code,name\r\n"), "granted fields only: {}", r.body);
    let my = consumer.get("/my").await;
    assert!(my.body.contains("id=\"my-downloads\"") && my.body.contains("四川省高速公路收费站流量"));
    let page = consumer.get(&cond_path).await;
    assert!(
        page.body.contains("id=\"granted\"") && page.body.contains("已获授权"),
        "{}",
        page.body
    );

    // 9. Another consumer sees neither the application nor the grant.
    let mut other = logged_in(&app, "li.na").await;
    for path in [mine_path.clone(), staff_path.clone()] {
        let r = other.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
    }
    let r = post(&mut other, &format!("/my/grants/{grant}/key"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = post(&mut other, &format!("{mine_path}/withdraw"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = other.get("/applications").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let my = other.get("/my").await;
    assert!(!my.body.contains(&format!("id=\"grant-{grant}\"")) && my.body.contains("还没有获得授权的数据。"));

    // 10. A refusal is relayed reworded: the consumer hears the wording, the history keeps the
    //     provider's reason.
    let r = post(&mut consumer, &apply_path, &good).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let second = id_after(r.location(), "/my/applications/");
    let decision2 = format!("/applications/{second}/decision");
    let r = post(&mut admin, &decision2, &[("decision", "forward"), ("note", "")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let original = "车道数据涉及在建工程，暂不提供。";
    let r = post(
        &mut provider,
        &decision2,
        &[("decision", "provider_reject"), ("reason", original)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/applications?done=application_refused");
    let mine2 = consumer.get(&format!("/my/applications/{second}")).await;
    assert!(mine2.body.contains("审核未通过，待告知"), "{}", mine2.body);
    assert!(
        !mine2.body.contains(original),
        "the provider's words wait for the relay"
    );
    let page = admin.get(&format!("/applications/{second}")).await;
    assert_page("relay", &page);
    assert!(page.body.contains("id=\"relay-form\"") && page.body.contains(original));
    let wording = "该数据目前不具备开放条件，请于下季度重新申请。";
    let r = post(&mut admin, &decision2, &[("decision", "relay"), ("wording", wording)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(state_of(&app, second).await, "rejected");
    let inbox = consumer.get("/inbox").await;
    assert!(inbox.body.contains(wording), "{}", inbox.body);
    assert!(!inbox.body.contains(original), "{}", inbox.body);
    let mine2 = consumer.get(&format!("/my/applications/{second}")).await;
    assert_page("relayed", &mine2);
    assert!(mine2.body.contains("id=\"rejection\"") && mine2.body.contains(wording));
    assert!(!mine2.body.contains(original), "{}", mine2.body);
    let history = admin.get(&format!("/applications/{second}")).await;
    let events = history.body.split("id=\"history\"").nth(1).expect("history");
    assert!(events.contains(original) && events.contains(wording), "{events}");
    assert!(events.contains("提供部门原理由"));

    // 11. A draft is saved, then withdrawn.
    let mut draft = good.clone();
    draft.retain(|(k, _)| *k != "do");
    draft.push(("do", "save"));
    let r = post(&mut consumer, &apply_path, &draft).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location().ends_with("done=application_saved"));
    let third = id_after(r.location(), "/my/applications/");
    assert_eq!(state_of(&app, third).await, "draft");
    let page = consumer.get(&format!("/my/applications/{third}")).await;
    assert!(page.body.contains("id=\"application-form\"") && page.body.contains("id=\"withdraw\""));
    let r = post(&mut consumer, &format!("/my/applications/{third}/withdraw"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(state_of(&app, third).await, "withdrawn");
    let page = consumer.get(&format!("/my/applications/{third}")).await;
    assert!(page.body.contains("已撤回") && !page.body.contains("id=\"withdraw\""));
    assert!(!page.body.contains("id=\"application-form\""));

    // 12. The admin revokes the grant (with a reason): access stops at once.
    let page = admin.get(&staff_path).await;
    assert!(
        page.body.contains(&format!("id=\"revoke-form-{grant}\"")),
        "{}",
        page.body
    );
    let revoke = [
        ("decision", "revoke"),
        ("grant_id", &grant.to_string()[..]),
        ("reason", ""),
    ];
    let r = post(&mut admin, &decision, &revoke).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("理由: 必须填写。"), "{}", r.body);
    let grant_id = grant.to_string();
    let r = post(
        &mut admin,
        &decision,
        &[
            ("decision", "revoke"),
            ("grant_id", &grant_id),
            ("reason", "使用单位超范围使用数据。"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/applications/{id}?done=grant_revoked"));
    let my = consumer.get("/my").await;
    let row = my.body.split(&format!("id=\"grant-{grant}\"")).nth(1).unwrap();
    assert!(row.contains("已撤销") && row.contains("使用单位超范围使用数据。"));
    let r = consumer.get(&download_path(&w.cond_name, w.cond_dist)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = consumer.get(&format!("/api/v1/resources/{}/rows", w.cond_id)).await;
    assert_ne!(r.status, StatusCode::OK);
    let r = consumer
        .api(
            Method::GET,
            &format!("/api/v1/resources/{}/rows?app_key={key}", w.cond_id),
            None,
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the AppKey stopped working: {}",
        r.body
    );
}

#[tokio::test]
async fn overdue_applications_are_marked_and_every_page_renders_in_english() {
    let app = TestApp::sqlite().await;
    let w = world(&app).await;
    let from = today().to_string();
    let to = today().add_days(30).to_string();
    let mut consumer = logged_in(&app, "wang.yong").await;
    let apply_path = format!("/apply/{}", w.cond_name);
    let r = post(
        &mut consumer,
        &apply_path,
        &application_form(&["code", "name"], &from, &to),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = id_after(r.location(), "/my/applications/");

    // The pre-review was due long ago.
    let mut tx = app.store.begin().await.unwrap();
    tx.set_application_state(
        id,
        &ApplicationChange {
            state: "pre_review",
            stage_due: Some(Some("2024-01-02")),
            info_request: None,
            provider_reason: None,
            reason: None,
            scope: None,
            submitted: false,
            decided: false,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut admin = logged_in(&app, "li.shen").await;
    let queue = admin.get("/applications").await;
    let row = queue.body.split(&format!("id=\"queue-{id}\"")).next().unwrap();
    assert!(row.ends_with("<tr "), "{row}");
    let row = queue.body.split(&format!("id=\"queue-{id}\"")).nth(1).unwrap();
    assert!(row.starts_with(" class=\"overdue\""), "{row}");
    assert!(row.contains("已逾期") && row.contains("2024-01-02"));

    // Every page of the process, in English.
    consumer.accept_language = Some("en".into());
    admin.accept_language = Some("en".into());
    let my_path = format!("/my/applications/{id}");
    for path in [
        "/my",
        my_path.as_str(),
        apply_path.as_str(),
        &format!("/dataset/{}", w.cond_name),
        &format!("/dataset/{}", w.open_name),
    ] {
        let r = consumer.get(path).await;
        assert_page(path, &r);
        assert!(r.body.contains("<html lang=\"en\""), "{path}");
    }
    assert!(consumer.get("/my").await.body.contains("My applications"));
    assert!(consumer.get(&my_path).await.body.contains("Awaiting pre-review"));
    let r = consumer.get(&apply_path).await;
    assert!(r.body.contains("Public data security commitment") && r.body.contains("solemnly undertake"));
    for path in ["/applications", &format!("/applications/{id}")] {
        let r = admin.get(path).await;
        assert_page(path, &r);
    }
    let r = admin.get(&format!("/applications/{id}")).await;
    assert!(r.body.contains("Pass and forward to the provider"), "{}", r.body);
    let r = admin.get("/applications").await;
    assert!(r.body.contains("Data applications to decide"), "{}", r.body);
    // And in Chinese through the switch.
    let r = admin.get(&format!("/applications/{id}?lang=zh-CN")).await;
    assert_page("zh", &r);
    assert!(r.body.contains("初审通过，转提供部门审核"));
}

/// The keys the handlers and the catalogue's dataset view pass to `t()` exist in both languages.
#[test]
fn handler_translation_keys_exist() {
    let sources = [
        include_str!("../src/web/application.rs"),
        include_str!("../src/web/catalogue.rs"),
    ];
    let mut missing = Vec::new();
    for src in sources {
        for pattern in ["t(ctx.lang, \"", "t(lang, \""] {
            for (i, _) in src.match_indices(pattern) {
                let key = src[i + pattern.len()..].split('"').next().unwrap_or_default();
                for lang in [pubdata_server::i18n::Lang::ZhCn, pubdata_server::i18n::Lang::En] {
                    if !pubdata_server::i18n::has(lang, key) {
                        missing.push(format!("{}: {key}", lang.code()));
                    }
                }
            }
        }
    }
    // The dynamic keys the pages build.
    for state in pubdata_core::application::ApplicationState::ALL {
        for key in [
            format!("application_state.{}", state.as_str()),
            format!("my.state_{}", state.as_str()),
        ] {
            for lang in [pubdata_server::i18n::Lang::ZhCn, pubdata_server::i18n::Lang::En] {
                if !pubdata_server::i18n::has(lang, &key) {
                    missing.push(format!("{}: {key}", lang.code()));
                }
            }
        }
    }
    for kind in pubdata_service::access::notice_kinds() {
        let key = format!("notice_kind.{}", kind.as_str());
        if !pubdata_server::i18n::has(pubdata_server::i18n::Lang::En, &key) {
            missing.push(key);
        }
    }
    for op in pubdata_core::datastore_query::Op::ALL {
        let key = format!("filter_op.{}", op.as_str());
        if !pubdata_server::i18n::has(pubdata_server::i18n::Lang::En, &key) {
            missing.push(key);
        }
    }
    assert!(missing.is_empty(), "{missing:?}");
}

/// Attachments from the applicant's page: a PDF is listed and readable by the reviewer, an
/// executable named `.pdf` is refused with the reason, and nobody else can read them.
#[tokio::test]
async fn attachments_are_uploaded_from_the_application_page() {
    let app = TestApp::sqlite().await;
    let w = world(&app).await;
    let mut consumer = logged_in(&app, "wang.yong").await;
    let from = today().add_days(1).to_string();
    let to = today().add_days(60).to_string();
    let r = post(
        &mut consumer,
        &format!("/apply/{}", w.cond_name),
        &[application_form(&["code"], &from, &to), vec![("do", "save")]].concat(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = id_after(r.location(), "/my/applications/");

    let pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
    let path = format!("/my/applications/{id}/attachments");
    let r = attach(&mut consumer, &path, "立项批复.pdf", pdf).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = consumer.get(&format!("/my/applications/{id}")).await;
    assert!(page.body.contains("立项批复.pdf"), "{}", page.body);
    let r = attach(&mut consumer, &path, "setup.pdf", b"MZ\x90\x00 not really a pdf").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("PDF、PNG 或 JPEG"), "{}", r.body);
    let view = consumer.get(&format!("/my/applications/{id}")).await;
    assert!(!view.body.contains("setup.pdf"), "nothing kept of a refused file");

    let mut other = logged_in(&app, "li.na").await;
    let r = attach(&mut other, &path, "x.pdf", pdf).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let aid = app.store.attachments(id).await.unwrap()[0].id;
    let r = other.get(&format!("/api/v1/applications/{id}/attachments/{aid}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another consumer");
    let r = consumer
        .get(&format!("/api/v1/applications/{id}/attachments/{aid}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.starts_with("%PDF-1.4"));
    let _ = w.consumer_id;
}

async fn attach(b: &mut TestApp, path: &str, name: &str, bytes: &[u8]) -> Resp {
    let token = b.csrf().await;
    let boundary = "----pubdata-attach-9f2c";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("{path}?_csrf={token}"))
        .header(
            axum::http::header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(axum::body::Body::from(body))
        .unwrap();
    b.send(req).await
}
