//! Acceptance standards (数据接收标准, §6): the administration institution's manager sets them
//! through the API and the web form (each change a new, audited version; others are refused);
//! a submission that fails them is refused with every failing rule listed and translated, in
//! the API (422 with codes) and on the provider's page, leaving the draft as it was; once fixed
//! it goes through; the reviewer sees each rule with pass or fail. SQLite and PostgreSQL.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, PASSWORD};
use pubdata_core::metadata::NewResourceMeta;
use pubdata_service::resources;
use serde_json::{json, Value};

const STREETS: &str = "code,name,district\n510104001,春熙路街道,锦江区\n510104002,书院街街道,锦江区\n\
510105001,西御河街道,青羊区\n510106001,人民北路街道,金牛区\n";

fn field_codes(body: &Value) -> Vec<(String, String)> {
    body["error"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields in {body}"))
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn acceptance_story(mut app: TestApp) {
    let centre = app
        .org("admin_institution", "四川省大数据中心", "91350100M000100Y43")
        .await;
    let provider = app.provider("四川省财政厅", "11510000008693034D").await;
    let editor = app.staff("a.editor", provider, "provider_editor").await;
    app.staff("a.manager", centre, "admin_manager").await;
    app.staff("a.reviewer", centre, "admin_reviewer").await;
    let (editor_token, manager_token, reviewer_token) = (
        app.token("a.editor").await,
        app.token("a.manager").await,
        app.token("a.reviewer").await,
    );

    // The defaults apply until someone changes them.
    let r = app.api(Method::GET, "/api/v1/acceptance-standards", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let s = r.json();
    assert_eq!(s["version"], 0);
    assert_eq!(s["rules"]["open_format"], true);
    assert_eq!(s["rules"]["personal_data"], true);
    assert_eq!(s["rules"]["min_summary_chars"], 20);

    // Only the administration institution's manager sets them.
    let rules = json!({
        "min_scores": {"completeness": 90},
        "min_summary_chars": 60,
        "required_elements": ["tags", "field_descriptions"],
    });
    let audit_before = app.audit_len().await;
    for (token, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(editor_token.as_str()), StatusCode::FORBIDDEN),
        (Some(reviewer_token.as_str()), StatusCode::FORBIDDEN),
    ] {
        let r = app
            .api(Method::PUT, "/api/v1/acceptance-standards", token, Some(rules.clone()))
            .await;
        assert_eq!(r.status, status, "{}", r.body);
    }
    let r = app
        .api(
            Method::PUT,
            "/api/v1/acceptance-standards",
            Some(&manager_token),
            Some(json!({"min_scores": {"validity": 150}, "required_elements": ["nonsense"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(app.audit_len().await, audit_before, "refusals change nothing");
    let r = app
        .api(
            Method::PUT,
            "/api/v1/acceptance-standards",
            Some(&manager_token),
            Some(rules),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["version"], 1);
    assert_eq!(r.json()["rules"]["open_format"], true, "absent keys take the defaults");
    assert_eq!(app.audit_len().await, audit_before + 1);
    let audit = app.store.recent_audit(1, None).await.unwrap();
    assert_eq!(audit[0].action, "acceptance.update");
    let history = app
        .api(
            Method::GET,
            "/api/v1/acceptance-standards/history",
            Some(&reviewer_token),
            None,
        )
        .await;
    assert_eq!(history.status, StatusCode::OK);
    assert_eq!(history.json().as_array().unwrap().len(), 1);
    let r = app
        .api(
            Method::GET,
            "/api/v1/acceptance-standards/history",
            Some(&editor_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // A draft with a 25-character summary, no keywords and undescribed fields: its
    // completeness is 0.8 × 100 + 0.2 × 2/6 × 100 = 86.7, below 90.
    let (id, _) = app
        .draft_resource(&editor, provider, "成都市街道", "unconditional", STREETS)
        .await;
    let audit_before = app.audit_len().await;
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/submit"),
            Some(&editor_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let codes = field_codes(&r.json());
    for (field, code) in [
        ("acceptance.min_score.completeness", "acceptance_min_score"),
        ("acceptance.summary_length", "acceptance_summary_length"),
        ("acceptance.element.tags", "acceptance_element"),
        ("acceptance.element.field_descriptions", "acceptance_element"),
    ] {
        assert!(
            codes.contains(&(field.to_string(), code.to_string())),
            "{field} not in {codes:?}"
        );
    }
    assert_eq!(codes.len(), 4, "{codes:?}");
    let fields = r.json()["error"]["fields"].clone();
    let msg = |f: &str| {
        fields.as_array().unwrap().iter().find(|x| x["field"] == f).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        msg("acceptance.min_score.completeness"),
        "数据接收标准 · 完整性最低分: 得分 86.7，低于要求的 90 分。请按“数据质量”中的扣分原因改进后再提交。"
    );
    assert!(msg("acceptance.summary_length").contains("只有 25 个字符，至少需要 60 个"));
    // In English when asked.
    let en = app
        .send(
            axum::http::Request::post(format!("/api/v1/resources/{id}/submit"))
                .header("authorization", format!("Bearer {editor_token}"))
                .header("accept-language", "en")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(en.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        en.body.contains("Acceptance standard · keywords") || en.body.contains("Keywords: missing"),
        "{}",
        en.body
    );
    // Nothing was written: still a draft, nothing audited.
    assert_eq!(app.store.resource(id).await.unwrap().unwrap().state, "draft");
    assert_eq!(app.audit_len().await, audit_before);

    // The provider's page lists every failing rule with what to fix.
    let mut browser = app.browser();
    browser.login("a.editor", PASSWORD).await;
    let page = browser
        .post_form(&format!("/provider/resources/{id}/submit"), &[])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.body);
    assert!(page.body.contains("id=\"missing\""), "{}", page.body);
    assert!(
        page.body.contains("关键字: 未填写。请在元数据中补充后再提交。"),
        "{}",
        page.body
    );
    assert!(page.body.contains("得分 86.7，低于要求的 90 分"));
    assert!(page.body.contains("至少需要 60 个"));
    // The pre-check says the same.
    let check = app
        .api(
            Method::GET,
            &format!("/api/v1/resources/{id}/acceptance"),
            Some(&editor_token),
            None,
        )
        .await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.body);
    let check = check.json();
    assert_eq!(
        (check["version"].clone(), check["passed"].clone()),
        (json!(1), json!(false))
    );
    let failing: Vec<&str> = check["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["pass"] == false)
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(failing.len(), 4, "{check}");

    // Fixed: keywords, descriptions, a longer summary, and the metadata complete.
    let meta: NewResourceMeta = serde_json::from_value(json!({
        "title": "成都市街道", "summary": "成都市各区街道的代码、名称和所属区县，按年度更新。数据来自民政部门的行政区划调整公告，可用于地址匹配、统计汇总和城市规划研究。",
        "domain": "民生服务", "industry": "S", "open_type": "unconditional", "update_frequency": "yearly",
        "spatial": "510100", "temporal_from": "2024-01-01", "contact_phone": "028-86001234",
        "contact_email": "data@example.cn", "tags": ["街道", "区划"],
        "fields": [{"name": "code", "title": "街道代码", "type": "code", "key": true, "description": "民政部门的街道代码"},
                   {"name": "name", "title": "名称", "type": "string", "description": "街道名称"},
                   {"name": "district", "title": "区县", "type": "string", "description": "所属区县"}]}))
    .unwrap();
    resources::update(&app.store, &editor, id, &meta).await.unwrap();
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/submit"),
            Some(&editor_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["state"], "pending_review");

    // The reviewer sees each rule with its result.
    let mut reviewer = app.browser();
    reviewer.login("a.reviewer", PASSWORD).await;
    let review = reviewer.get(&format!("/review/{id}")).await;
    assert_eq!(review.status, StatusCode::OK);
    let row = review
        .body
        .split("id=\"rule-min_score.completeness\"")
        .nth(1)
        .expect("rule row");
    assert!(row.starts_with(" class=\"rule-pass\""), "{row}");
    assert!(review.body.contains("id=\"rule-element.tags\" class=\"rule-pass\""));

    // The web form: the manager saves a new version; the reviewer may only read it; a provider
    // may not open it.
    let mut manager = app.browser();
    manager.login("a.manager", PASSWORD).await;
    let page = manager.get("/admin/acceptance").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"save-acceptance\""));
    let bad = manager
        .post_form(
            "/admin/acceptance",
            &[("min_scores.validity", "abc"), ("open_format", "1")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("有效性最低分"), "{}", bad.body);
    let saved = manager
        .post_form(
            "/admin/acceptance",
            &[
                ("min_scores.validity", "80"),
                ("open_format", "1"),
                ("personal_data", "1"),
                ("min_summary_chars", "30"),
                ("element.contact_email", "1"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let s = app
        .api(Method::GET, "/api/v1/acceptance-standards", None, None)
        .await
        .json();
    assert_eq!(s["version"], 2);
    assert_eq!(s["rules"]["min_scores"]["validity"], 80.0);
    assert_eq!(s["rules"]["min_scores"]["completeness"], Value::Null);
    assert_eq!(s["rules"]["required_elements"], json!(["contact_email"]));
    let page = manager.get("/admin/acceptance").await;
    assert!(page.body.contains("id=\"acceptance-v2\"") && page.body.contains("id=\"acceptance-v1\""));
    let page = reviewer.get("/admin/acceptance").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"save-acceptance\""));
    assert_eq!(
        reviewer
            .post_form("/admin/acceptance", &[("open_format", "1")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(browser.get("/admin/acceptance").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn acceptance_on_sqlite() {
    acceptance_story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn acceptance_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    acceptance_story(app).await;
}
