//! Every page renders for the roles that may see it, in both languages, with the security
//! headers, escaped user input, health and metrics endpoints, and a consistent OpenAPI document.

mod common;

use std::collections::HashSet;

use axum::http::{header, Method, StatusCode};
use common::{Resp, TestApp, PASSWORD};
use pubdata_server::Config;
use serde_json::{json, Value};

fn browser(app: &TestApp) -> TestApp {
    app.browser()
}

async fn register(app: &mut TestApp, login: &str, display_name: &str) -> i64 {
    let body = json!({"user": {"login": login, "display_name": display_name, "email": format!("{login}@example.cn"), "password": PASSWORD}});
    let r = app.api(Method::POST, "/api/v1/register", None, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_i64().expect("user id")
}

/// A page rendered completely, without an error page or a raw translation key in it.
fn assert_rendered(path: &str, r: &Resp, keys: &[String]) {
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    assert!(
        r.header(header::CONTENT_TYPE).starts_with("text/html"),
        "{path}: {:?}",
        r.headers
    );
    assert!(
        r.body.trim_end().ends_with("</html>"),
        "{path}: page cut short: {}",
        r.body
    );
    for bad in ["服务器内部错误", "error-summary", "rendering ", "undefined"] {
        assert!(!r.body.contains(bad), "{path}: contains {bad:?}: {}", r.body);
    }
    for key in keys {
        let as_text = format!(">{key}<");
        let shown = r
            .body
            .match_indices(&as_text)
            .any(|(i, _)| !r.body[..i].ends_with("<code"));
        assert!(
            !shown && !r.body.contains(&format!("=\"{key}\"")),
            "{path}: untranslated key {key}"
        );
    }
}

// 1. Language ---------------------------------------------------------------------------------

#[tokio::test]
async fn language_defaults_to_chinese_and_follows_query_cookie_and_accept_language() {
    let mut app = TestApp::sqlite().await;
    let r = app.get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<html lang=\"zh-CN\""), "{}", r.body);
    assert!(r.body.contains("首页"));
    assert!(r.cookie_named("pd_lang").is_none(), "no language cookie unless chosen");

    let r = app.get("/?lang=en").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<html lang=\"en\""), "{}", r.body);
    assert!(r.body.contains(">Home<"), "{}", r.body);
    assert!(!r.body.contains("首页"));
    let c = r.cookie_named("pd_lang").expect("language cookie");
    assert!(c.starts_with("pd_lang=en;"), "{c}");

    let r = app.get("/login").await;
    assert!(
        r.body.contains("<html lang=\"en\""),
        "the cookie keeps English: {}",
        r.body
    );
    assert!(r.body.contains(">Log in<"), "{}", r.body);
    assert!(r.cookie_named("pd_lang").is_none());

    let mut english = browser(&app);
    english.accept_language = Some("en-US,en;q=0.9".into());
    let r = english.get("/login").await;
    assert!(r.body.contains("<html lang=\"en\""), "Accept-Language: {}", r.body);
    assert!(r.body.contains(">Log in<"));
    assert!(
        r.cookie_named("pd_lang").is_none(),
        "Accept-Language is not remembered as a choice"
    );

    let r = app.get("/?lang=zh-CN").await;
    assert!(r.body.contains("<html lang=\"zh-CN\""), "{}", r.body);
    assert!(r.body.contains("首页"));
    assert!(r.cookie_named("pd_lang").expect("cookie").starts_with("pd_lang=zh-CN;"));
    let r = app.get("/login").await;
    assert!(r.body.contains("<html lang=\"zh-CN\""), "{}", r.body);
    assert!(r.body.contains("用户登录"));
}

// 2. Navigation per role ----------------------------------------------------------------------

#[tokio::test]
async fn navigation_shows_each_role_exactly_its_pages() {
    let mut app = TestApp::sqlite().await;
    assert_eq!(
        app.get("/").await.nav(),
        ["home", "catalogue", "demands", "showcases", "login", "register"]
    );

    register(&mut app, "li.na", "李娜").await;
    let mut consumer = browser(&app);
    assert_eq!(consumer.login("li.na", PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        consumer.get("/").await.nav(),
        ["home", "catalogue", "demands", "showcases", "account", "inbox", "my"]
    );

    app.sysadmin("root").await;
    let mut root = browser(&app);
    assert_eq!(root.login("root", PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        root.get("/").await.nav(),
        [
            "home",
            "catalogue",
            "demands",
            "showcases",
            "account",
            "inbox",
            "orgs",
            "users",
            "audit",
            "lifecycle"
        ]
    );
    let page = root.get("/admin/users").await;
    assert!(
        page.body
            .replace("&#x2f;", "/")
            .contains("data-nav=\"users\" href=\"/admin/users\" aria-current=\"page\""),
        "{}",
        page.body
    );
}

// 3. Every page renders -----------------------------------------------------------------------

#[tokio::test]
async fn every_page_renders_for_the_sysadmin() {
    let mut app = TestApp::sqlite().await;
    app.sysadmin("root").await;
    app.provider("四川省交通运输厅", "11510000008693034D").await;
    let consumer = register(&mut app, "li.na", "李娜").await;
    assert_eq!(app.login("root", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let keys = pubdata_server::i18n::keys();

    let user_page = format!("/admin/users/{consumer}");
    let pages = [
        "/",
        "/login",
        "/register",
        "/register?kind=organisation",
        "/account",
        "/admin/orgs",
        "/admin/orgs?kind=provider",
        "/admin/users",
        user_page.as_str(),
        "/admin/audit",
        "/admin/audit?verify=1",
    ];
    for lang in ["zh-CN", "en"] {
        app.accept_language = Some(lang.into());
        for path in pages {
            let r = app.get(path).await;
            assert_rendered(path, &r, &keys);
            assert!(r.body.contains(&format!("<html lang=\"{lang}\"")), "{path}");
        }
    }
    app.accept_language = None;

    let r = app.get("/admin/orgs?kind=provider").await;
    assert!(r.body.contains("四川省交通运输厅"), "{}", r.body);
    let r = app.get(&user_page).await;
    assert!(
        r.body.contains("li.na") && r.body.contains("id=\"toggle-disabled\""),
        "{}",
        r.body
    );
    let r = app.get("/register?kind=organisation").await;
    assert!(r.body.contains("name=\"org.credit_code\""), "{}", r.body);
    let r = app.get("/admin/audit?verify=1").await;
    assert!(r.body.contains("哈希链完整"), "{}", r.body);
    assert!(r.body.contains("user.register"), "the audit lists events: {}", r.body);
}

#[tokio::test]
async fn api_docs_page_renders_and_lists_the_operations() {
    let mut app = TestApp::sqlite().await;
    app.sysadmin("root").await;
    assert_eq!(app.login("root", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let keys = pubdata_server::i18n::keys();
    for lang in ["zh-CN", "en"] {
        app.accept_language = Some(lang.into());
        let r = app.get("/api/v1/docs").await;
        assert_rendered("/api/v1/docs", &r, &keys);
        assert!(r.body.contains(&format!("<html lang=\"{lang}\"")));
        let unescaped = r.body.replace("&#x2f;", "/");
        assert!(unescaped.contains("<code>/api/v1/me</code>"), "{}", r.body);
        assert!(unescaped.contains("<code>/api/v1/tokens/{id}</code>"), "{}", r.body);
        assert!(
            r.body.contains("id=\"schema-UserDto\""),
            "the schemas are listed: {}",
            r.body
        );
    }
    // The page is public documentation.
    let r = browser(&app).get("/api/v1/docs").await;
    assert_rendered("/api/v1/docs", &r, &keys);
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let mut app = TestApp::sqlite().await;
    for path in ["/", "/login", "/no/such/page", "/api/v1/me"] {
        let r = app.get(path).await;
        let csp = r.header(header::CONTENT_SECURITY_POLICY);
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp:?}"
        );
        assert_eq!(r.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{path}");
        assert_eq!(r.header(header::X_FRAME_OPTIONS), "DENY", "{path}");
    }
}

#[tokio::test]
async fn session_cookie_is_http_only_and_same_site_lax_but_not_secure_by_default() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na", "李娜").await;
    let r = app.login("li.na", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let c = r.cookie_named("pd_session").expect("session cookie");
    let attrs: Vec<&str> = c.split(';').map(str::trim).collect();
    assert!(attrs.contains(&"HttpOnly"), "{c}");
    assert!(attrs.contains(&"SameSite=Lax"), "{c}");
    assert!(attrs.contains(&"Path=/"), "{c}");
    assert!(!attrs.contains(&"Secure"), "{c}");
}

#[tokio::test]
async fn session_cookie_is_secure_when_configured() {
    let mut app = TestApp::sqlite_with(Config {
        secure_cookies: true,
        ..common::test_config()
    })
    .await;
    register(&mut app, "li.na", "李娜").await;
    let r = app.login("li.na", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let c = r.cookie_named("pd_session").expect("session cookie");
    let attrs: Vec<&str> = c.split(';').map(str::trim).collect();
    assert!(
        attrs.contains(&"Secure") && attrs.contains(&"HttpOnly") && attrs.contains(&"SameSite=Lax"),
        "{c}"
    );
    let r = browser(&app).get("/login").await;
    let csrf = r.cookie_named("pd_csrf").expect("anonymous CSRF cookie");
    assert!(csrf.split(';').any(|a| a.trim() == "Secure"), "{csrf}");
}

// 4. Escaping ---------------------------------------------------------------------------------

#[tokio::test]
async fn user_supplied_names_are_escaped() {
    let mut app = TestApp::sqlite().await;
    app.sysadmin("root").await;
    let id = register(&mut app, "mallory", "<script>alert(1)</script>").await;
    assert_eq!(app.login("root", PASSWORD).await.status, StatusCode::SEE_OTHER);
    for path in ["/admin/users".to_string(), format!("/admin/users/{id}")] {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        // minijinja escapes `/` too, as `&#x2f;`.
        assert!(
            r.body.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{path}: {}",
            r.body
        );
        assert!(!r.body.contains("<script"), "{path}: raw tag in {}", r.body);
    }
    let mut mallory = browser(&app);
    assert_eq!(mallory.login("mallory", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let r = mallory.get("/account").await;
    assert!(!r.body.contains("<script"), "own page: {}", r.body);
}

// 5. Health and metrics -----------------------------------------------------------------------

#[tokio::test]
async fn healthz_reports_the_database() {
    let mut app = TestApp::sqlite().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.header(header::CONTENT_TYPE).starts_with("application/json"));
    let j = r.json();
    assert_eq!(j["status"], "ok", "{j}");
    assert_eq!(j["database"], "ok", "{j}");
    assert!(j["version"].is_string(), "{j}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern() {
    let mut app = TestApp::sqlite().await;
    app.sysadmin("root").await;
    let id = register(&mut app, "li.na", "李娜").await;
    assert_eq!(app.login("root", PASSWORD).await.status, StatusCode::SEE_OTHER);
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    }
    assert_eq!(app.get(&format!("/admin/users/{id}")).await.status, StatusCode::OK);

    let r = app.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header(header::CONTENT_TYPE).starts_with("text/plain"),
        "{:?}",
        r.headers
    );
    assert!(
        r.body
            .contains("pubdata_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 3"),
        "{}",
        r.body
    );
    assert!(r.body.contains("pubdata_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"200\",le=\"+Inf\"} 3"), "{}", r.body);
    assert!(r
        .body
        .contains("# TYPE pubdata_http_request_duration_seconds histogram"));
    assert!(
        r.body
            .contains("pubdata_http_requests_total{method=\"GET\",route=\"/admin/users/{id}\",status=\"200\"} 1"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains(&format!("route=\"/admin/users/{id}\"")),
        "raw ids are not labels: {}",
        r.body
    );
    assert!(
        r.body.contains("route=\"/api/v1/register\",status=\"201\""),
        "nested API routes: {}",
        r.body
    );
}

// 6. OpenAPI ----------------------------------------------------------------------------------

fn collect_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x.as_str()) {
                    ("$ref", Some(r)) => out.push(r),
                    _ => collect_refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn openapi_document_is_complete_and_consistent() {
    let mut app = TestApp::sqlite().await;
    let r = app.get("/api/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let doc = r.json();
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );

    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/me",
        "/organisations",
        "/users",
        "/tokens",
        "/tokens/{id}",
        "/register",
        "/audit/verify",
    ] {
        assert!(
            paths.contains_key(p),
            "missing path {p}: {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    let methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
    let mut operation_ids = HashSet::new();
    let mut count = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            if !methods.contains(&method.as_str()) {
                continue;
            }
            count += 1;
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(operation_ids.insert(id.to_string()), "duplicate operationId {id}");
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} has no responses"));
            assert!(!responses.is_empty(), "{method} {path} has no responses");
        }
    }
    assert!(count >= 17, "{count} operations");
    assert!(paths["/tokens/{id}"]["delete"].is_object());
    assert!(paths["/register"]["post"].is_object());

    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(
            schemas.contains_key(name),
            "dangling $ref {r}; schemas: {:?}",
            schemas.keys().collect::<Vec<_>>()
        );
    }

    let scheme = &doc["components"]["securitySchemes"]["token"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
}
