//! The region API and page, and the rule that a region code must exist once the table is loaded.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use pubdata_store::RegionRow;
use serde_json::json;

fn region(code: &str, name: &str, parent: Option<&str>, level: i64) -> RegionRow {
    RegionRow {
        code: code.into(),
        name: name.into(),
        parent_code: parent.map(str::to_string),
        level,
    }
}

async fn with_regions() -> TestApp {
    let app = TestApp::sqlite().await;
    let mut tx = app.store.begin().await.unwrap();
    tx.insert_regions(&[
        region("510000", "四川省", None, 1),
        region("510100", "成都市", Some("510000"), 2),
        region("510104", "锦江区", Some("510100"), 3),
        region("510104020", "春熙路街道", Some("510104"), 4),
        region("110000", "北京市", None, 1),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app
}

#[tokio::test]
async fn region_api_searches_and_walks_the_table() {
    let mut app = with_regions().await;
    let r = app.api(Method::GET, "/api/v1/regions?q=成都", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()[0]["code"], "510100");
    let r = app.api(Method::GET, "/api/v1/regions?q=5101", None, None).await;
    let codes: Vec<_> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        codes,
        ["510100", "510104", "510104020"],
        "code prefix, higher levels first"
    );
    let r = app.api(Method::GET, "/api/v1/regions", None, None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 2, "provinces by default");
    let r = app.api(Method::GET, "/api/v1/regions?parent=510100", None, None).await;
    assert_eq!(r.json()[0]["name"], "锦江区");
    let r = app.api(Method::GET, "/api/v1/regions/510104020", None, None).await;
    let names: Vec<_> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["四川省", "成都市", "锦江区", "春熙路街道"]);
    assert_eq!(
        app.api(Method::GET, "/api/v1/regions/999999", None, None).await.status,
        StatusCode::NOT_FOUND
    );
    let r = app.api(Method::GET, "/api/v1/regions?q=x&limit=0", None, None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["fields"][0]["field"], "limit");
}

#[tokio::test]
async fn region_page_browses_without_javascript() {
    let mut app = with_regions().await;
    let page = app.get("/regions?parent=510100").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"region-path\""));
    assert!(page.body.contains("锦江区") && page.body.contains("510104"));
    let search = app.get("/regions?q=春熙").await;
    assert!(search.body.contains("510104020"));
    let none = app.get("/regions?q=不存在的地方").await;
    assert!(none.body.contains("没有找到匹配的区划"));
    let empty = TestApp::sqlite().await.get("/regions").await;
    assert!(
        empty.body.contains("区划表尚未加载"),
        "an empty table says how to load it"
    );
}

#[tokio::test]
async fn organisation_region_must_exist_once_regions_are_loaded() {
    let mut app = with_regions().await;
    app.sysadmin("root").await;
    app.login("root", common::PASSWORD).await;
    let r = app
        .post_form(
            "/admin/orgs",
            &[
                ("kind", "provider"),
                ("name", "某某局"),
                ("credit_code", "91350100M000100Y43"),
                ("region_code", "519999"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("区划表中没有这个代码"));
    assert!(app.store.org_by_name("某某局").await.unwrap().is_none());
    let r = app
        .post_form(
            "/admin/orgs",
            &[
                ("kind", "provider"),
                ("name", "某某局"),
                ("credit_code", "91350100M000100Y43"),
                ("region_code", "510104"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let body = json!({"user": {"login": "firm", "display_name": "经办人", "email": "f@example.cn", "password": common::PASSWORD},
                      "org": {"name": "某公司", "credit_code": "91110108551385082Q", "region_code": "123456"}});
    let r = app.api(Method::POST, "/api/v1/register", None, Some(body)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["fields"][0]["field"], "org.region_code");
}
