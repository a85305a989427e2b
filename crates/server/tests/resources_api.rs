//! Steps 1–3 through the JSON API with API tokens: plans, resources, distributions (external
//! API and streamed file upload), submission, review and the catalogue.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{TestApp, PASSWORD};
use pubdata_server::Config;
use serde_json::{json, Value};

/// Creates an account with a role through the admin API and returns an API token for it.
async fn token_for(app: &mut TestApp, root: &str, login: &str, org_id: i64, role: &str) -> String {
    let body = json!({"login": login, "display_name": login, "email": format!("{login}@example.cn"),
                      "password": PASSWORD, "org_id": org_id, "role": role});
    let r = app.api(Method::POST, "/api/v1/users", Some(root), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut browser = app.browser();
    browser.login(login, PASSWORD).await;
    let page = browser.post_form("/account/tokens", &[("name", "script")]).await;
    page.body
        .split("id=\"new-token\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("token")
        .to_string()
}

async fn setup(app: &mut TestApp) -> (String, String, String, i64) {
    app.sysadmin("root").await;
    app.login("root", PASSWORD).await;
    let page = app.post_form("/account/tokens", &[("name", "root")]).await;
    let root = page
        .body
        .split("id=\"new-token\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_string();
    let org = |kind: &str, name: &str, code: &str| json!({"kind": kind, "name": name, "credit_code": code, "region_code": "510000"});
    let centre = app
        .api(
            Method::POST,
            "/api/v1/organisations",
            Some(&root),
            Some(org("admin_institution", "四川省大数据中心", "91350100M000100Y43")),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let provider = app
        .api(
            Method::POST,
            "/api/v1/organisations",
            Some(&root),
            Some(org("provider", "四川省交通运输厅", "11510000008693034D")),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let editor = token_for(app, &root, "chen.bian", provider, "provider_editor").await;
    let reviewer = token_for(app, &root, "li.shen", centre, "admin_reviewer").await;
    (root, editor, reviewer, provider)
}

fn meta() -> Value {
    json!({"title": "四川省乡镇街道", "summary": "四川省各乡镇街道的名称与统计用区划代码，按年度更新。", "domain": "社会发展",
           "open_type": "unconditional", "update_frequency": "yearly", "tags": "区划, 街道", "spatial": "510000",
           "temporal_from": "2023-01-01", "contact_phone": "028-86001234",
           "fields": [{"name": "code", "title": "区划代码", "type": "code", "key": true, "required": true},
                      {"name": "name", "title": "名称", "type": "string"}]})
}

async fn upload(app: &mut TestApp, token: &str, id: i64, filename: &str, bytes: Vec<u8>) -> common::Resp {
    let req = Request::post(format!(
        "/api/v1/resources/{id}/distributions/file?filename={filename}&title=streets"
    ))
    .header(header::AUTHORIZATION, format!("Bearer {token}"))
    .header(header::CONTENT_TYPE, "application/octet-stream")
    .body(Body::from(bytes))
    .unwrap();
    let saved = std::mem::take(&mut app.jar);
    let r = app.send(req).await;
    app.jar = saved;
    r
}

#[tokio::test]
async fn plan_prepare_review_publish_through_the_api() {
    let mut app = TestApp::sqlite().await;
    let (_root, editor, reviewer, provider) = setup(&mut app).await;

    let r = app
        .api(
            Method::POST,
            "/api/v1/plans",
            Some(&editor),
            Some(json!({"provider_org_id": provider, "title": "2026 年开放计划",
        "period_start": "2026-01-01", "period_end": "2026-12-31", "source": "policy"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let plan = r.json()["id"].as_i64().unwrap();
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/plans/{plan}/items"),
            Some(&editor),
            Some(json!({"name": "乡镇街道区划",
        "domain": "社会发展", "open_type": "无条件开放", "planned_date": "2026-06-30"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let item = r.json()["items"][0]["id"].as_i64().unwrap();

    // Invalid metadata: every problem named.
    let r = app
        .api(
            Method::POST,
            "/api/v1/resources",
            Some(&editor),
            Some(json!({"provider_org_id": provider, "meta": {"title": "", "summary": "太短"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let body = r.json();
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"title") && fields.contains(&"summary"), "{fields:?}");

    let r = app
        .api(
            Method::POST,
            "/api/v1/resources",
            Some(&editor),
            Some(json!({"provider_org_id": provider, "plan_item_id": item, "meta": meta()})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.json()["state"], "draft");
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/submit"),
            Some(&editor),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["fields"][0]["code"], "no_distribution");

    let r = app.api(Method::POST, &format!("/api/v1/resources/{id}/distributions/api"), Some(&editor),
        Some(json!({"title": "区划查询接口", "url": "https://data.example.gov.cn/api/streets", "params": "code: 区划代码"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/submit"),
            Some(&editor),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["state"], "pending_review");
    assert!(r.json()["review_due"].is_string());

    let queue = app
        .api(Method::GET, "/api/v1/review-queue", Some(&reviewer), None)
        .await;
    assert_eq!(queue.json().as_array().unwrap().len(), 1);
    assert_eq!(
        app.api(Method::GET, "/api/v1/review-queue", Some(&editor), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let checklist = json!({"compliance": {"pass": true, "note": ""}, "availability": {"pass": true, "note": ""}, "security": {"pass": true, "note": ""}});
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/decision"),
            Some(&reviewer),
            Some(json!({"decision": "return", "checklist": checklist, "reasons": []})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a return needs a reason: {}",
        r.body
    );
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/decision"),
            Some(&reviewer),
            Some(json!({"decision": "return", "checklist": checklist, "reasons": ["请补充数据项说明"]})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (StatusCode::OK, json!("returned"))
    );
    let notices = app
        .api(Method::GET, "/api/v1/notices", Some(&editor), None)
        .await
        .json();
    assert_eq!(notices[0]["reason"], "请补充数据项说明");

    let r = app
        .api(
            Method::PUT,
            &format!("/api/v1/resources/{id}"),
            Some(&editor),
            Some(json!({"meta": meta()})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.api(
        Method::POST,
        &format!("/api/v1/resources/{id}/submit"),
        Some(&editor),
        None,
    )
    .await;
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/decision"),
            Some(&reviewer),
            Some(json!({"decision": "approve", "checklist": checklist})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (StatusCode::OK, json!("published")),
        "{}",
        r.body
    );

    let catalogue = app.api(Method::GET, "/api/v1/resources", None, None).await.json();
    assert_eq!(catalogue[0]["code"], "510000-008693034-000001");
    let plan = app
        .api(Method::GET, &format!("/api/v1/plans/{plan}"), Some(&editor), None)
        .await
        .json();
    assert_eq!(
        (
            plan["items"][0]["status"].clone(),
            plan["progress"]["published"].clone()
        ),
        (json!("published"), json!(1))
    );

    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/withdraw"),
            Some(&reviewer),
            Some(json!({"reason": "数据有误，暂停开放"})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (StatusCode::OK, json!("withdrawn"))
    );
    assert!(app
        .api(Method::GET, "/api/v1/resources", None, None)
        .await
        .json()
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn file_uploads_stream_and_queue_their_ingest() {
    let mut app = TestApp::sqlite_with(Config {
        max_upload_bytes: 4096,
        ..common::test_config()
    })
    .await;
    let (_root, editor, reviewer, provider) = setup(&mut app).await;
    let id = app
        .api(
            Method::POST,
            "/api/v1/resources",
            Some(&editor),
            Some(json!({"provider_org_id": provider, "meta": meta()})),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();

    let csv = "code,name\n510104020,春熙路街道\n510104021,书院街街道\n"
        .as_bytes()
        .to_vec();
    let r = upload(&mut app, &editor, id, "streets.csv", csv.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let d = r.json();
    assert_eq!(
        (d["state"].clone(), d["size_bytes"].clone(), d["version"].clone()),
        (json!("ingesting"), json!(csv.len()), json!(1))
    );
    assert_eq!(d["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        app.store.jobs_of_kind("ingest", 10).await.unwrap().len(),
        1,
        "the ingest job is queued with it"
    );

    let r = upload(&mut app, &editor, id, "again.csv", csv.clone()).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("ingest_in_progress"))
    );
    let r = upload(&mut app, &editor, id, "tool.exe", b"MZ".to_vec()).await;
    assert_eq!(
        (r.status, r.json()["error"]["fields"][0]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("file_type"))
    );
    let r = upload(&mut app, &reviewer, id, "x.csv", csv.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "only the provider's editors upload");

    // Over the upload limit: refused, and nothing stored or recorded.
    let mut other = TestApp::sqlite_with(Config {
        max_upload_bytes: 4096,
        ..common::test_config()
    })
    .await;
    let (_r, editor2, _rv, provider2) = setup(&mut other).await;
    let id2 = other
        .api(
            Method::POST,
            "/api/v1/resources",
            Some(&editor2),
            Some(json!({"provider_org_id": provider2, "meta": meta()})),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let r = upload(&mut other, &editor2, id2, "big.csv", vec![b'a'; 10_000]).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (StatusCode::PAYLOAD_TOO_LARGE, json!("body_too_large"))
    );
    assert!(other.store.distributions(id2).await.unwrap().is_empty());
    let r = upload(&mut other, &editor2, id2, "empty.csv", Vec::new()).await;
    assert_eq!(
        (r.status, r.json()["error"]["fields"][0]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("file_empty"))
    );
    assert!(other.store.distributions(id2).await.unwrap().is_empty());
}

#[tokio::test]
async fn ingest_privacy_masking_and_submission_through_the_api() {
    let mut app = TestApp::sqlite().await;
    let (_root, editor, _reviewer, provider) = setup(&mut app).await;
    let id = app
        .api(
            Method::POST,
            "/api/v1/resources",
            Some(&editor),
            Some(json!({"provider_org_id": provider, "meta": meta()})),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let mut csv = String::from("code,name,phone\n");
    for i in 0..20 {
        csv.push_str(&format!("5101040{i:02},街道{i},1380013{i:04}\n"));
    }
    let d = upload(&mut app, &editor, id, "streets.csv", csv.into_bytes())
        .await
        .json();
    let dist = d["id"].as_i64().unwrap();
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/submit"),
            Some(&editor),
            None,
        )
        .await;
    assert_eq!(r.json()["error"]["fields"][0]["code"], "ingest_running", "{}", r.body);

    app.run_jobs().await;
    let d = app
        .api(
            Method::GET,
            &format!("/api/v1/distributions/{dist}"),
            Some(&editor),
            None,
        )
        .await
        .json();
    assert_eq!(
        (d["state"].clone(), d["row_count"].clone()),
        (json!("ready"), json!(20)),
        "{d}"
    );
    assert_eq!(d["report"]["privacy"][0]["column"], "phone");
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/submit"),
            Some(&editor),
            None,
        )
        .await;
    let codes: Vec<String> = r.json()["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes, ["privacy_unresolved"], "{}", r.body);

    let bad = app
        .api(
            Method::POST,
            &format!("/api/v1/distributions/{dist}/privacy"),
            Some(&editor),
            Some(json!({"masks": [{"column": "mobile", "method": "redact"}]})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/distributions/{dist}/privacy"),
            Some(&editor),
            Some(json!({"masks": [{"column": "phone", "method": "keep", "first": 3, "last": 4}]})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (StatusCode::OK, json!("ingesting")),
        "{}",
        r.body
    );
    app.run_jobs().await;
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/submit"),
            Some(&editor),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (StatusCode::OK, json!("pending_review")),
        "{}",
        r.body
    );
    let d = app
        .api(
            Method::GET,
            &format!("/api/v1/distributions/{dist}"),
            Some(&editor),
            None,
        )
        .await
        .json();
    assert_eq!(d["report"]["masked_columns"], json!(["phone"]));
}

#[tokio::test]
async fn an_interrupted_upload_leaves_nothing_behind() {
    let mut app = TestApp::sqlite().await;
    let (_root, editor, _reviewer, provider) = setup(&mut app).await;
    let id = app
        .api(
            Method::POST,
            "/api/v1/resources",
            Some(&editor),
            Some(json!({"provider_org_id": provider, "meta": meta()})),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![
        Ok(b"code,name\n510104020,"),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    let req = Request::post(format!("/api/v1/resources/{id}/distributions/file?filename=cut.csv"))
        .header(header::AUTHORIZATION, format!("Bearer {editor}"))
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["fields"][0]["code"], "upload_interrupted");
    assert!(app.store.distributions(id).await.unwrap().is_empty());
    let stored = std::fs::read_dir(app.files.local_path(&format!("resources/{id}")).unwrap())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(stored, 0, "no partial file is kept");
}

#[tokio::test]
async fn personal_data_is_masked_from_the_resource_page() {
    let mut app = TestApp::sqlite().await;
    let (_root, editor, _reviewer, provider) = setup(&mut app).await;
    let id = app
        .api(
            Method::POST,
            "/api/v1/resources",
            Some(&editor),
            Some(json!({"provider_org_id": provider, "meta": meta()})),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let mut csv = String::from("code,name,phone\n");
    for i in 0..10 {
        csv.push_str(&format!("5101040{i:02},街道{i},1380013{i:04}\n"));
    }
    let dist = upload(&mut app, &editor, id, "streets.csv", csv.into_bytes())
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let mut web = app.browser();
    web.login("chen.bian", PASSWORD).await;
    let waiting = web.get(&format!("/provider/resources/{id}")).await;
    assert!(
        waiting.body.contains("id=\"ingest-running\"") && waiting.body.contains("已读取 0 行"),
        "{}",
        waiting.body
    );
    app.run_jobs().await;

    let page = web.get(&format!("/provider/resources/{id}")).await;
    assert!(
        page.body.contains("个人信息处理（脱敏）") && page.body.contains("name=\"mask.phone\""),
        "{}",
        page.body
    );
    let action = format!("/provider/resources/{id}/distributions/{dist}/privacy");
    let r = web
        .post_form(&action, &[("mask.phone", "keep"), ("justification", "")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.store.distribution(dist).await.unwrap().unwrap().state, "ingesting");
    app.run_jobs().await;
    let d = app.store.distribution(dist).await.unwrap().unwrap();
    let rows = app
        .store
        .select_rows(d.datastore_table.as_deref().unwrap(), 1, 0)
        .await
        .unwrap();
    assert_eq!(rows.rows[0][2].as_deref(), Some("138****0000"));
    let page = web.get(&format!("/provider/resources/{id}")).await;
    assert!(
        page.body.contains("<option value=\"keep\" selected>"),
        "the choice is shown as saved"
    );
    // A form for another resource's file is refused without changing it.
    let r = web
        .post_form(
            &format!("/provider/resources/{}/distributions/{dist}/privacy", id + 100),
            &[("mask.phone", "redact")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(app.store.distribution(dist).await.unwrap().unwrap().state, "ready");
}

#[tokio::test]
async fn the_data_api_reads_loaded_rows_with_filters() {
    let mut app = TestApp::sqlite().await;
    let (_root, editor, _reviewer, provider) = setup(&mut app).await;
    let id = app
        .api(
            Method::POST,
            "/api/v1/resources",
            Some(&editor),
            Some(json!({"provider_org_id": provider, "meta": meta()})),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/resources/{id}/rows"),
            Some(&editor),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("datastore_not_found"))
    );
    let csv = "code,name,population\n510104,锦江区,902933\n510105,青羊区,955954\n510106,金牛区,1265398\n110101,\"东城区, 北京\",708829\n";
    upload(&mut app, &editor, id, "districts.csv", csv.as_bytes().to_vec()).await;
    app.run_jobs().await;

    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/resources/{id}/rows?code.prefix=5101&population.gte=950000&sort=-population"),
            Some(&editor),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = r.json();
    assert_eq!(body["total"], 2);
    assert_eq!(
        (body["records"][0]["name"].clone(), body["records"][1]["name"].clone()),
        (json!("金牛区"), json!("青羊区"))
    );
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/resources/{id}/rows?limit=2&fields=code"),
            Some(&editor),
            None,
        )
        .await
        .json();
    assert_eq!(
        (
            r["records"].as_array().unwrap().len(),
            r["fields"].clone(),
            r["next_after"].clone()
        ),
        (2, json!(["code"]), json!(2))
    );
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/resources/{id}/rows?limit=2&fields=code&after=2"),
            Some(&editor),
            None,
        )
        .await
        .json();
    assert_eq!(r["records"][0]["code"], "510106");
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/resources/{id}/rows?q=北京&format=csv"),
            Some(&editor),
            None,
        )
        .await;
    assert_eq!(r.headers.get(header::CONTENT_TYPE).unwrap(), "text/csv; charset=utf-8");
    assert_eq!(r.body, "code,name,population\n110101,\"东城区, 北京\",708829\n");

    for (query, field, code) in [
        ("nope.eq=1", "nope.eq", "unknown_field"),
        ("population.gt=many", "population.gt", "filter_value"),
        ("limit=10001", "limit", "range"),
        ("colour=red", "colour", "unknown_parameter"),
        ("format=xml", "format", "format"),
    ] {
        let r = app
            .api(
                Method::GET,
                &format!("/api/v1/resources/{id}/rows?{query}"),
                Some(&editor),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", r.body);
        assert_eq!(
            (
                r.json()["error"]["fields"][0]["field"].clone(),
                r.json()["error"]["fields"][0]["code"].clone()
            ),
            (json!(field), json!(code)),
            "{query}"
        );
    }
    let r = app
        .api(Method::GET, &format!("/api/v1/resources/{id}/rows"), None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "logged-in callers only for now");
}
