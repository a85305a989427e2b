//! Steps 1–3 through the web pages, as people use them: a provider editor plans, prepares a
//! resource through the forms (with the 数据项 editor), attaches data and submits; the admin
//! reviewer returns it with a reason and then approves it; the public catalogue shows it. Also
//! uploads (streamed, one ingest at a time, typed, size-limited), plan import, and who may see what.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{Resp, TestApp, PASSWORD};
use pubdata_core::metadata::NewResourceMeta;
use pubdata_core::org::NewOrg;
use pubdata_core::user::NewUser;
use pubdata_server::Config;
use pubdata_service::accounts::{self, actor_for, NewStaff};
use pubdata_service::{resources, Caller};
use serde_json::json;

fn browser(app: &TestApp) -> TestApp {
    app.browser()
}

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

/// A staff account made at the console; returns its service caller.
async fn staff(app: &TestApp, login: &str, name: &str, org_id: i64, role: &str) -> Caller {
    let user = NewUser {
        login: login.into(),
        display_name: name.into(),
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

async fn logged_in(app: &TestApp, login: &str) -> TestApp {
    let mut b = browser(app);
    let r = b.login(login, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{login}: {}", r.body);
    b
}

struct World {
    transport: i64,
    health: i64,
    editor: Caller,
}

/// The administration institution with a reviewer, two provider departments with an editor each.
async fn world(app: &TestApp) -> World {
    let centre = org(app, "admin_institution", "四川省大数据中心", "91350100M000100Y43").await;
    let transport = org(app, "provider", "四川省交通运输厅", "11510000008693034D").await;
    let health = org(app, "provider", "成都市卫生健康委员会", "91110108551385082Q").await;
    let editor = staff(app, "chen.bian", "陈编辑", transport, "provider_editor").await;
    staff(app, "li.shen", "李审核", centre, "admin_reviewer").await;
    staff(app, "sun.bian", "孙编辑", health, "provider_editor").await;
    World {
        transport,
        health,
        editor,
    }
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

/// A `multipart/form-data` body: `(name, file name, bytes)` per part.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----pubdata-test-boundary-7d93f56".to_string();
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match filename {
            Some(f) => format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

/// Posts a multipart form as a browser does: the CSRF token in the action URL's query.
async fn post_multipart(app: &mut TestApp, path: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Resp {
    let token = app.csrf().await;
    let (boundary, body) = multipart(parts);
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("{path}?_csrf={token}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .expect("request");
    app.send(req).await
}

/// Prefixes of the translation keys these pages print through `t()`: one showing raw means a
/// key is missing.
const KEY_PREFIXES: [&str; 24] = [
    "status.",
    "revision.",
    "dist_state.",
    "item_status.",
    "plan_source.",
    "decision.",
    "check.",
    "open_type.",
    "frequency.",
    "field_type.",
    "classification.",
    "domain.",
    "industry.",
    "report.",
    "dist.",
    "workspace.",
    "plan.",
    "resource.",
    "review.",
    "catalogue.",
    "label.",
    "field.",
    "flash.",
    "notice_kind.",
];

/// A whole page, without an error or an untranslated key in it.
fn assert_page(path: &str, r: &Resp) {
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    assert!(r.body.trim_end().ends_with("</html>"), "{path}: cut short");
    for bad in ["服务器内部错误", "Internal server error", "error-summary", "undefined"] {
        assert!(!r.body.contains(bad), "{path}: contains {bad:?}: {}", r.body);
    }
    for prefix in KEY_PREFIXES {
        for marker in [format!(">{prefix}"), format!("=\"{prefix}")] {
            if let Some(i) = r.body.find(&marker) {
                let around = &r.body[i.saturating_sub(80)..(i + 80).min(r.body.len())];
                panic!("{path}: untranslated {prefix}… near {around:?}");
            }
        }
    }
}

async fn plan_item_id(app: &TestApp, plan: i64, name: &str) -> i64 {
    app.store
        .plan_items(plan)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("item {name}"))
        .id
}

async fn item_status(app: &TestApp, plan: i64, name: &str) -> String {
    let id = plan_item_id(app, plan, name).await;
    let items = app.store.plan_items(plan).await.unwrap();
    items.into_iter().find(|i| i.id == id).unwrap().status
}

const SUMMARY: &str = "四川省各乡镇街道的名称与统计用区划代码，按年度更新。";

#[tokio::test]
async fn a_resource_goes_from_plan_through_review_to_the_catalogue() {
    let app = TestApp::sqlite().await;
    let w = world(&app).await;
    let mut editor = logged_in(&app, "chen.bian").await;
    let org = w.transport.to_string();

    // The workspace: the department, its (empty) plans and resources, the links to start.
    let r = editor.get("/provider").await;
    assert_page("/provider", &r);
    assert_eq!(
        r.nav(),
        [
            "home",
            "catalogue",
            "demands",
            "showcases",
            "account",
            "inbox",
            "workspace",
            "requests_queue",
            "security_reports"
        ]
    );
    assert!(r.body.contains("四川省交通运输厅"));
    assert!(text(&r).contains(&format!("href=\"/provider/plans/new?org={org}\"")));

    // 1. A plan with one item.
    assert_page(
        "/provider/plans/new",
        &editor.get(&format!("/provider/plans/new?org={org}")).await,
    );
    let r = editor
        .post_form(
            "/provider/plans",
            &[
                ("org", &org),
                ("title", "2026 年度公共数据开放计划"),
                ("period_start", "2026-01-01"),
                ("period_end", "2025-12-31"),
                ("source", "policy"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("计划期止: 不能早于开始日期。"), "{}", r.body);
    let r = editor
        .post_form(
            "/provider/plans",
            &[
                ("org", &org),
                ("title", "2026 年度公共数据开放计划"),
                ("period_start", "2026-01-01"),
                ("period_end", "2026-12-31"),
                ("source", "policy"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let plan = id_after(r.location(), "/provider/plans/");
    assert!(r.location().ends_with("?done=plan_created"), "{}", r.location());
    let plan_path = format!("/provider/plans/{plan}");
    let r = editor
        .post_form(
            &format!("{plan_path}/items"),
            &[
                ("name", "乡镇街道区划"),
                ("domain", "social_development"),
                ("open_type", "unconditional"),
                ("planned_date", "2026-06-30"),
                ("notes", "按年度更新"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let item = plan_item_id(&app, plan, "乡镇街道区划").await;
    let r = editor.get(&plan_path).await;
    assert_page(&plan_path, &r);
    let new_for_item = format!("/provider/resources/new?org={org}&plan_item={item}");
    assert!(text(&r).contains(&new_for_item), "{}", r.body);
    assert!(r.body.contains("计划中") && r.body.contains("社会发展"));

    // 2. The form for the item is pre-filled; a too-short summary is refused, every problem
    // named, the row of a 数据项 too.
    let r = editor.get(&new_for_item).await;
    assert_page(&new_for_item, &r);
    assert!(r.body.contains("value=\"乡镇街道区划\""), "the item names the resource");
    assert!(text(&r).contains(&format!("name=\"plan_item\" value=\"{item}\"")));
    let item_s = item.to_string();
    let mut fields: Vec<(&str, &str)> = vec![
        ("org", &org),
        ("plan_item", &item_s),
        ("title", "四川省乡镇街道"),
        ("summary", "乡镇街道名单"),
        ("domain", "social_development"),
        ("open_type", "unconditional"),
        ("update_frequency", "yearly"),
        ("tags", "区划，街道"),
        ("licence", "cc-by-4.0"),
        ("fields[0].name", "code"),
        ("fields[0].title", "区划代码"),
        ("fields[0].type", "code"),
        ("fields[0].key", "on"),
        ("fields[0].classification", "general"),
        ("fields[1].name", ""),
        ("fields[1].type", ""),
        ("fields[1].classification", "general"),
        ("fields[2].name", "name"),
        ("fields[2].title", "名称"),
        ("fields[2].type", ""),
        ("fields[2].classification", "general"),
    ];
    let r = editor.post_form("/provider/resources", &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("资源摘要: 长度应为 20–2000 个字符。"), "{}", r.body);
    assert!(
        r.body.contains("第 2 行的类型: 必须填写。"),
        "the empty row is dropped, so the bad row is now row 2: {}",
        r.body
    );
    assert!(r
        .body
        .contains("id=\"f-summary\" name=\"summary\" rows=\"4\" aria-invalid=\"true\""));
    assert!(
        r.body.contains("value=\"四川省乡镇街道\""),
        "the form keeps what was typed"
    );
    assert!(app.store.list_resources(&Default::default()).await.unwrap().is_empty());

    // The 数据项 editor grows without saving: five more rows, the typed ones kept.
    fields[3].1 = SUMMARY;
    fields[19].1 = "string";
    let mut more = fields.clone();
    more.push(("add_rows", "1"));
    let r = editor.post_form("/provider/resources", &more).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = text(&r);
    assert!(page.contains("name=\"fields[7].name\""), "3 rows + 5 more");
    assert!(!page.contains("name=\"fields[8].name\""));
    assert!(page.contains("name=\"fields[0].name\" value=\"code\""));
    assert!(page.contains("name=\"fields[0].key\" value=\"on\" checked"));
    assert!(page.contains("name=\"fields[2].name\" value=\"name\""));
    assert!(!page.contains("error-summary"));
    assert!(app.store.list_resources(&Default::default()).await.unwrap().is_empty());

    let r = editor.post_form("/provider/resources", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = id_after(r.location(), "/provider/resources/");
    let res_path = format!("/provider/resources/{id}");
    let stored = resources::get(&app.store, &w.editor, id).await.unwrap();
    let names: Vec<&str> = stored.meta.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["code", "name"], "the empty row is ignored");
    assert!(stored.meta.fields[0].key);
    assert_eq!(item_status(&app, plan, "乡镇街道区划").await, "preparing");
    let r = editor.get(&res_path).await;
    assert_page(&res_path, &r);
    assert!(r.body.contains("草稿") && r.body.contains(&stored.row.code));

    // An external API is the data; a bad one is refused field by field.
    let r = editor
        .post_form(
            &format!("{res_path}/api"),
            &[("api.title", "区划查询接口"), ("api.url", "ftp://data.example.gov.cn")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("接口地址: 不是有效的 http(s) 地址。"), "{}", r.body);
    let r = editor
        .post_form(
            &format!("{res_path}/api"),
            &[
                ("api.title", "区划查询接口"),
                ("api.url", "https://data.example.gov.cn/api/streets"),
                ("api.method", "GET"),
                ("api.params", "code: 区划代码"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // Submitting incomplete metadata lists everything still missing.
    let r = editor.post_form(&format!("{res_path}/submit"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    for want in [
        "还不能提交审核",
        "空间范围: 必须填写。",
        "时间范围起: 必须填写。",
        "联系电话: 联系电话和联系邮箱至少填写一项。",
    ] {
        assert!(r.body.contains(want), "missing {want}: {}", r.body);
    }
    assert!(!r.body.contains("挂接数据: "), "the API is data");

    // Completed through the edit form, then submitted.
    let edit_path = format!("{res_path}/edit");
    let r = editor.get(&edit_path).await;
    assert_page(&edit_path, &r);
    assert!(text(&r).contains("name=\"fields[1].name\" value=\"name\""));
    let mut complete = fields.clone();
    complete.retain(|(k, _)| *k != "org" && *k != "plan_item");
    complete.extend([
        ("spatial", "510000"),
        ("temporal_from", "2023-01-01"),
        ("contact_phone", "028-86001234"),
    ]);
    let r = editor.post_form(&edit_path, &complete).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = editor.post_form(&format!("{res_path}/submit"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("{res_path}?done=resource_submitted"));
    let r = editor.get(&res_path).await;
    assert!(r.body.contains("待审核"));
    assert!(!r.body.contains("id=\"edit\""), "no edits under review");
    assert_eq!(item_status(&app, plan, "乡镇街道区划").await, "submitted");
    let due = app
        .store
        .resource(id)
        .await
        .unwrap()
        .unwrap()
        .review_due
        .expect("due date");

    // 3. The reviewer's queue has it with its due date; returning needs a reason.
    let mut reviewer = logged_in(&app, "li.shen").await;
    let r = reviewer.get("/review").await;
    assert_page("/review", &r);
    assert_eq!(
        r.nav(),
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
    assert!(r.body.contains("四川省乡镇街道") && r.body.contains(&due), "{}", r.body);
    assert!(r.body.contains("四川省交通运输厅") && r.body.contains("未逾期"));
    let review_path = format!("/review/{id}");
    let r = reviewer.get(&review_path).await;
    assert_page(&review_path, &r);
    assert!(r.body.contains("区划代码") && r.body.contains("https:&#x2f;&#x2f;data.example.gov.cn"));
    let r = reviewer
        .post_form(&review_path, &[("decision", "return"), ("reasons", "  ")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("退回理由: 必须填写。"), "{}", r.body);
    let r = reviewer
        .post_form(
            &review_path,
            &[
                ("compliance", "pass"),
                ("availability", "fail"),
                ("availability_note", "数据项缺少说明"),
                ("security", "pass"),
                ("decision", "return"),
                ("reasons", "请补充数据项说明\n请注明数据来源"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/review?done=resource_sent_back");
    let r = reviewer.get(r.location()).await;
    assert!(r.body.contains("已退回，提供部门将收到退回理由。"));
    assert!(r.body.contains("没有待审核的数据资源。"));

    // The editor reads the reasons on the resource page and in the inbox.
    let r = editor.get(&res_path).await;
    assert!(r.body.contains("已退回"));
    let reasons = r.body.split("id=\"return-reasons\"").nth(1).expect("reasons box");
    assert!(reasons.contains("请补充数据项说明") && reasons.contains("请注明数据来源"));
    assert!(
        r.body.contains("数据项缺少说明"),
        "the checklist note is in the history"
    );
    let r = editor.get("/inbox").await;
    assert!(r.body.contains("数据资源“四川省乡镇街道”被退回"), "{}", r.body);
    assert!(r.body.contains("请补充数据项说明"));

    // Fixed and resubmitted; approval needs every check passed.
    complete.push(("fields[2].description", "乡镇街道的规范名称"));
    let r = editor.post_form(&edit_path, &complete).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = editor.post_form(&format!("{res_path}/submit"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = reviewer
        .post_form(
            &review_path,
            &[
                ("compliance", "pass"),
                ("availability", "pass"),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("安全性: 未通过的检查不能发布"), "{}", r.body);
    assert!(r.body.contains("value=\"pass\" checked"), "the choices are kept");
    let r = reviewer
        .post_form(
            &review_path,
            &[
                ("compliance", "pass"),
                ("availability", "pass"),
                ("security", "pass"),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/review?done=resource_approved");

    // The catalogue shows it to everyone.
    let code = app.store.resource(id).await.unwrap().unwrap().code;
    let mut visitor = browser(&app);
    let r = visitor.get("/catalogue").await;
    assert_page("/catalogue", &r);
    assert_eq!(
        r.nav(),
        ["home", "catalogue", "demands", "showcases", "login", "register"]
    );
    let name = code.to_ascii_lowercase();
    assert!(
        text(&r).contains(&format!("href=\"/dataset/{name}\">四川省乡镇街道</a>")),
        "{}",
        r.body
    );
    assert!(r.body.contains("四川省交通运输厅") && r.body.contains("社会发展") && r.body.contains("无条件开放"));
    // The old address of the dataset page still leads there.
    let r = visitor.get(&format!("/catalogue/{code}")).await;
    assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.location(), format!("/dataset/{name}"));
    let dataset = format!("/dataset/{name}");
    let r = visitor.get(&dataset).await;
    assert_page(&dataset, &r);
    let page = text(&r);
    for want in [
        SUMMARY,
        "区划代码",
        "乡镇街道的规范名称",
        "https://data.example.gov.cn/api/streets",
        "区划查询接口",
    ] {
        assert!(page.contains(want), "{want}: {page}");
    }
    let r = visitor.get("/catalogue?lang=en").await;
    assert!(r.body.contains("Social development") && r.body.contains("Unconditional"));
    visitor.get("/?lang=zh-CN").await;

    // The plan shows the item published; the workspace counts it.
    let r = editor.get(&plan_path).await;
    let row = r.body.split(&format!("id=\"item-{item}\"")).nth(1).expect("item row");
    assert!(row.split("</tr>").next().unwrap().contains("已发布"), "{row}");
    assert_eq!(item_status(&app, plan, "乡镇街道区划").await, "published");
    let r = editor.get("/provider").await;
    assert!(r.body.contains("100%"), "{}", r.body);

    // Every page of the story renders in English too.
    editor.get("/?lang=en").await;
    for path in [
        "/provider",
        &plan_path,
        &res_path,
        &edit_path,
        &format!("/provider/plans/new?org={org}"),
    ] {
        let r = editor.get(path).await;
        assert_page(path, &r);
        assert!(r.body.contains("<html lang=\"en\""));
    }
    reviewer.get("/?lang=en").await;
    for path in ["/review", review_path.as_str(), "/catalogue", dataset.as_str()] {
        assert_page(path, &reviewer.get(path).await);
    }
}

#[tokio::test]
async fn uploads_stream_one_at_a_time_with_type_and_size_checked() {
    let app = TestApp::sqlite().await;
    let w = world(&app).await;
    let meta = NewResourceMeta {
        title: "四川省乡镇街道".into(),
        summary: SUMMARY.into(),
        domain: "social_development".into(),
        open_type: "unconditional".into(),
        update_frequency: "yearly".into(),
        ..Default::default()
    };
    let id = resources::create(&app.store, &w.editor, w.transport, &meta, None)
        .await
        .unwrap();
    let mut editor = logged_in(&app, "chen.bian").await;
    let upload = format!("/provider/resources/{id}/upload");
    let csv = "code,name\n510104,锦江区\n510105,青羊区\n".as_bytes();

    let r = post_multipart(
        &mut editor,
        &upload,
        &[
            ("title", None, "2023 年区划".as_bytes()),
            ("change_note", None, "首次上传".as_bytes()),
            ("file", Some("streets.csv"), csv),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/provider/resources/{id}?done=file_uploaded"));
    let dists = app.store.distributions(id).await.unwrap();
    assert_eq!(dists.len(), 1);
    let d = &dists[0];
    assert_eq!(
        (d.state.as_str(), d.title.as_str(), d.filename.as_deref()),
        ("ingesting", "2023 年区划", Some("streets.csv"))
    );
    assert_eq!(d.size_bytes, Some(csv.len() as i64));
    assert_eq!(d.change_note.as_deref(), Some("首次上传"));
    let r = editor.get(&format!("/provider/resources/{id}")).await;
    assert_page("resource page", &r);
    assert!(r.body.contains("id=\"ingest-running\"") && r.body.contains("入库检查中"));
    assert!(r.body.contains(&d.sha256.as_deref().unwrap()[..12]));

    // A second file waits for the first ingest.
    let r = post_multipart(&mut editor, &upload, &[("file", Some("again.csv"), csv)]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body.contains("上一个文件仍在入库检查中，请等检查完成后再上传。"),
        "{}",
        r.body
    );
    assert_eq!(app.store.distributions(id).await.unwrap().len(), 1);

    // Only data files are accepted, checked before a byte is stored.
    let r = post_multipart(&mut editor, &upload, &[("file", Some("setup.exe"), b"MZ\x90\x00")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body
            .contains("数据文件: 不支持这种文件类型，请上传 CSV、TSV、TXT、XLSX 或 JSON 文件。"),
        "{}",
        r.body
    );
    let r = post_multipart(&mut editor, &upload, &[("title", None, b"x")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("数据文件: 请选择要上传的文件。"), "{}", r.body);

    // Another department cannot upload here, nor see the draft.
    let mut outsider = logged_in(&app, "sun.bian").await;
    let r = post_multipart(&mut outsider, &upload, &[("file", Some("x.csv"), csv)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(app.store.distributions(id).await.unwrap().len(), 1);

    // The ingest report is shown as far as it goes: rows, columns, score, and the personal
    // data found (where, what, how often; never the values), which blocks submission.
    let report = json!({
        "rows": 2,
        "columns": [{"name": "code", "loaded_type": "code", "nulls": 0},
                    {"name": "phone", "inferred_type": "string", "nulls": 1}],
        "quality": {"score": 87.5, "findings": [{"rule": "required_null", "column": "phone", "count": 1}]},
        "privacy": [{"column": "phone", "kind": "mobile", "count": 1, "rows": [1]}],
        "warnings": "not a list"
    });
    let mut tx = app.store.begin().await.unwrap();
    tx.set_distribution_ingest(d.id, "ready", Some(&report), Some(2), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let r = editor.get(&format!("/provider/resources/{id}")).await;
    assert_page("resource page with report", &r);
    let dist = r.body.split("id=\"dist-").nth(1).expect("distribution row");
    for want in [
        "可用",
        "质量得分",
        "87.5",
        "phone",
        "手机号",
        "必填项为空",
        "待处理",
        "字符串",
    ] {
        assert!(dist.contains(want), "{want}: {dist}");
    }
    assert!(!r.body.contains("id=\"ingest-running\""));
    let r = editor.post_form(&format!("/provider/resources/{id}/submit"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("个人信息: 有 1 列个人信息尚未脱敏或说明理由。"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_and_leaves_nothing() {
    let app = TestApp::sqlite_with(Config {
        max_upload_bytes: 1000,
        ..common::test_config()
    })
    .await;
    let w = world(&app).await;
    let meta = NewResourceMeta {
        title: "四川省乡镇街道".into(),
        summary: SUMMARY.into(),
        domain: "social_development".into(),
        open_type: "unconditional".into(),
        update_frequency: "yearly".into(),
        ..Default::default()
    };
    let id = resources::create(&app.store, &w.editor, w.transport, &meta, None)
        .await
        .unwrap();
    let mut editor = logged_in(&app, "chen.bian").await;
    let big: Vec<u8> = "510104,锦江区\n".repeat(200).into_bytes();
    assert!(big.len() > 1000);
    let r = post_multipart(
        &mut editor,
        &format!("/provider/resources/{id}/upload"),
        &[("file", Some("big.csv"), &big)],
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(
        r.body
            .contains("数据文件: 文件超过了 1000 B 的上传上限，未保存任何内容。"),
        "{}",
        r.body
    );
    assert!(app.store.distributions(id).await.unwrap().is_empty());
    let folder = app.files.local_path(&format!("resources/{id}")).expect("local files");
    let left = folder.read_dir().map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "no partial file in {}", folder.display());
    // A file under the limit still goes through.
    let r = post_multipart(
        &mut editor,
        &format!("/provider/resources/{id}/upload"),
        &[("file", Some("small.csv"), b"code,name\n510104,x\n")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.store.distributions(id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn plan_items_import_from_csv_with_every_bad_row_named() {
    let app = TestApp::sqlite().await;
    let w = world(&app).await;
    let mut editor = logged_in(&app, "chen.bian").await;
    let r = editor
        .post_form(
            "/provider/plans",
            &[
                ("org", &w.transport.to_string()),
                ("title", "2026 年度公共数据开放计划"),
                ("period_start", "2026-01-01"),
                ("period_end", "2026-12-31"),
                ("source", "demand"),
            ],
        )
        .await;
    let plan = id_after(r.location(), "/provider/plans/");
    let import = format!("/provider/plans/{plan}/import");

    // GBK, as spreadsheet software on Chinese Windows saves it; two bad rows.
    let bad = "资源名称,领域,开放属性,计划日期\n公交线路,道路交通,无条件开放,2026-03-01\n医院名录,卫生,有条件开放,明年\n药店名录,卫生健康,不予开放,2026-05-01\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(bad);
    let r = post_multipart(&mut editor, &import, &[("file", Some("清单.csv"), &gbk)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    for want in [
        "导入失败，没有导入任何条目",
        "第 3 行 · 领域: 不是可选的领域，请从列表中选择。",
        "第 3 行 · 计划开放日期: 不是有效日期",
        "第 4 行 · 开放属性: 不予开放的数据不能列入开放计划",
    ] {
        assert!(r.body.contains(want), "{want}: {}", r.body);
    }
    assert!(app.store.plan_items(plan).await.unwrap().is_empty(), "all or nothing");

    let r = post_multipart(&mut editor, &import, &[("file", Some("清单.xlsx"), b"PK\x03\x04")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("文件无法读取"),
        "a broken workbook is named as such: {}",
        r.body
    );

    let good = "\u{feff}资源名称,领域,开放属性,计划日期,备注\n公交线路,道路交通,无条件开放,2026-03-01,\n医院名录,卫生健康,有条件开放,2026/9/30,按季度\n";
    let r = post_multipart(&mut editor, &import, &[("file", Some("清单.csv"), good.as_bytes())]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/provider/plans/{plan}?done=items_imported"));
    let items = app.store.plan_items(plan).await.unwrap();
    assert_eq!(items.len(), 2);
    let r = editor.get(&format!("/provider/plans/{plan}")).await;
    assert_page("plan", &r);
    assert!(r.body.contains("医院名录") && r.body.contains("2026-09-30") && r.body.contains("数据需求"));

    // Cancelling needs a reason; a cancelled item shows it.
    let item = plan_item_id(&app, plan, "医院名录").await;
    let cancel = format!("/provider/plans/{plan}/items/{item}/cancel");
    let r = editor.post_form(&cancel, &[("reason", "")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("理由: 必须填写。"), "{}", r.body);
    let r = editor.post_form(&cancel, &[("reason", "数据源停止采集")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = editor.get(&format!("/provider/plans/{plan}")).await;
    assert!(r.body.contains("已取消") && r.body.contains("数据源停止采集"));
}

#[tokio::test]
async fn each_role_sees_only_its_pages() {
    let app = TestApp::sqlite().await;
    let w = world(&app).await;
    let meta = NewResourceMeta {
        title: "四川省乡镇街道".into(),
        summary: SUMMARY.into(),
        domain: "social_development".into(),
        open_type: "unconditional".into(),
        update_frequency: "yearly".into(),
        ..Default::default()
    };
    let id = resources::create(&app.store, &w.editor, w.transport, &meta, None)
        .await
        .unwrap();
    let res_path = format!("/provider/resources/{id}");

    // Anonymous visitors are asked to log in.
    let mut anon = browser(&app);
    let r = anon.get("/provider").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login?next=%2Fprovider");
    assert_eq!(anon.get("/review").await.status, StatusCode::SEE_OTHER);
    assert_eq!(anon.get("/catalogue").await.status, StatusCode::OK);

    // A consumer has neither the workspace nor the review queue.
    let body =
        json!({"user": {"login": "li.na", "display_name": "李娜", "email": "li.na@example.cn", "password": PASSWORD}});
    let r = anon.api(Method::POST, "/api/v1/register", None, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut consumer = logged_in(&app, "li.na").await;
    for path in ["/provider", "/review", res_path.as_str(), "/provider/plans/new"] {
        let r = consumer.get(path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.body.contains("您没有执行此操作的权限"), "{path}");
    }
    assert_eq!(
        consumer.get("/").await.nav(),
        ["home", "catalogue", "demands", "showcases", "account", "inbox", "my"]
    );

    // An editor of another department does not see the draft, nor review.
    let mut outsider = logged_in(&app, "sun.bian").await;
    let r = outsider.get(&res_path).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(r.body.contains("找不到该数据资源"), "{}", r.body);
    assert_eq!(
        outsider.get(&format!("{res_path}/edit")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(outsider.get("/review").await.status, StatusCode::FORBIDDEN);
    let r = outsider.get("/provider").await;
    assert!(r.body.contains("成都市卫生健康委员会") && !r.body.contains("四川省乡镇街道"));
    let r = outsider.get(&format!("/provider?org={}", w.transport)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "not their department");
    let r = outsider.post_form(&format!("{res_path}/submit"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let other = w.health.to_string();
    let r = outsider
        .get(&format!("/provider/resources/new?org={}&plan_item=1", other))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "no such item in their plans");

    // Unpublished resources are not in the catalogue.
    let code = app.store.resource(id).await.unwrap().unwrap().code;
    assert_eq!(
        anon.get(&format!("/dataset/{}", code.to_ascii_lowercase()))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(anon.get("/dataset/nope").await.status, StatusCode::NOT_FOUND);
}

/// The keys the new pages' handlers pass to `t()` exist in both languages.
#[test]
fn handler_translation_keys_exist() {
    let sources = [
        include_str!("../src/web/provider.rs"),
        include_str!("../src/web/review.rs"),
        include_str!("../src/web/catalogue.rs"),
    ];
    let mut missing = Vec::new();
    for src in sources {
        for (i, _) in src.match_indices("t(ctx.lang, \"") {
            let key = src[i + 13..].split('"').next().unwrap_or_default();
            for lang in [pubdata_server::i18n::Lang::ZhCn, pubdata_server::i18n::Lang::En] {
                if !pubdata_server::i18n::has(lang, key) {
                    missing.push(format!("{}: {key}", lang.code()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{missing:?}");
}
