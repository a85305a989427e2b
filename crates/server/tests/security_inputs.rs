//! Hostile input at the edges: forms posted without their CSRF token (every web form, listed
//! from the router's own source), SQL metacharacters in every filter and sort parameter, upload
//! names that try to climb out of the file store, and session ids fixed before login.
//! Runs on SQLite, and on PostgreSQL when `PUBDATA_TEST_DATABASE_URL` is set.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{Resp, TestApp, PASSWORD};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// The web routes, read from the router's definition
// ---------------------------------------------------------------------------------------------

/// The web router's source: the list of forms is whatever it routes, so a new form is covered
/// the day it is added.
const WEB_ROUTER: &str = include_str!("../src/web/mod.rs");

/// Every `.route("<path>", <handlers>)` of the web router: (path, handles GET, handles POST).
fn web_routes() -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let mut rest = WEB_ROUTER;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        // The call runs to its closing parenthesis.
        let mut depth = 1;
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = i;
                break;
            }
        }
        let call = &rest[..end];
        let Some(path) = call.split('"').nth(1) else { continue };
        let handlers = call.split_once(',').map_or("", |(_, h)| h);
        // `get(handler)`, `post(handler)` or `.post(handler)`, not `posts(` or `my_post(`.
        let has = |m: &str| {
            handlers.match_indices(&format!("{m}(")).any(|(i, _)| {
                handlers[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            })
        };
        out.push((path.to_string(), has("get"), has("post")));
        rest = &rest[end..];
    }
    out
}

/// A concrete path for a route pattern: every `{param}` becomes `value`.
fn concrete(pattern: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str(value);
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_route_list_is_read_from_the_router() {
    let routes = web_routes();
    let posts: Vec<&str> = routes.iter().filter(|r| r.2).map(|r| r.0.as_str()).collect();
    for known in [
        "/login",
        "/logout",
        "/register",
        "/account/tokens",
        "/review/{id}",
        "/provider/resources/{id}/upload",
    ] {
        assert!(posts.contains(&known), "{known} missing from {posts:?}");
    }
    assert!(!posts.contains(&"/catalogue"), "a GET-only page taken for a form");
    assert!(posts.len() >= 40, "only {} forms found: {posts:?}", posts.len());
}

// ---------------------------------------------------------------------------------------------
// A populated platform
// ---------------------------------------------------------------------------------------------

/// Names in the table that look like SQL or LIKE patterns, to be matched literally.
const TRICKY: &str = "code,name,district\n\
510104001,a%b,锦江区\n\
510104002,axb,锦江区\n\
510104003,a_c,锦江区\n\
510104004,abc,锦江区\n\
510104005,' OR 1=1--,青羊区\n\
510104006,\"\"\"\",青羊区\n\
510104007,a\\b,青羊区\n\
510104008,春熙路街道,金牛区\n";

struct World {
    root: String,
    admin: String,
    editor: String,
    consumer: String,
    resource: i64,
    dist: i64,
    /// A draft of the provider's for uploads.
    draft: i64,
}

async fn world(app: &mut TestApp) -> World {
    app.sysadmin("s.root").await;
    let centre = app
        .org("admin_institution", "四川省大数据中心", "91350100M000100Y43")
        .await;
    let provider = app.provider("四川省交通运输厅", "11510000008693034D").await;
    let admin = app.staff("s.admin", centre, "admin_reviewer").await;
    let editor = app.staff("s.editor", provider, "provider_editor").await;
    app.consumer("s.consumer").await;
    let (resource, dist) = app
        .draft_resource(&editor, provider, "成都市街道名录", "unconditional", TRICKY)
        .await;
    app.publish_resource(&editor, &admin, resource).await;
    app.sync_search().await;
    let (draft, _) = app
        .draft_resource(&editor, provider, "成都市街道草稿", "unconditional", TRICKY)
        .await;
    World {
        root: app.token("s.root").await,
        admin: app.token("s.admin").await,
        editor: app.token("s.editor").await,
        consumer: app.token("s.consumer").await,
        resource,
        dist,
        draft,
    }
}

/// Rows per table (an `UPDATE` that changes nothing reports the rows it matched).
const TABLES: &[(&str, &str)] = &[
    ("users", "id"),
    ("organisations", "id"),
    ("memberships", "id"),
    ("sessions", "token_hash"),
    ("api_tokens", "id"),
    ("resources", "id"),
    ("distributions", "id"),
    ("reviews", "id"),
    ("applications", "id"),
    ("grants", "id"),
    ("demands", "id"),
    ("jobs", "id"),
    ("catalogue_changes", "seq"),
    ("audit_events", "seq"),
];

async fn table_counts(app: &mut TestApp, w: &World) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (table, key) in TABLES {
        let n = app
            .store
            .execute_raw(&format!("UPDATE {table} SET {key} = {key}"))
            .await
            .unwrap_or_else(|e| panic!("count {table}: {e}"));
        out.insert(table.to_string(), n);
    }
    let rows = app
        .api(
            Method::GET,
            &format!("/api/v1/resources/{}/rows", w.resource),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(rows.status, StatusCode::OK, "{}", rows.body);
    out.insert("loaded rows".into(), rows.json()["total"].as_u64().unwrap_or(0));
    out
}

fn enc(s: &str) -> String {
    url_escape(s)
}

/// Percent-encodes everything but unreserved characters.
fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// CSRF on every web form
// ---------------------------------------------------------------------------------------------

async fn csrf_everywhere(mut app: TestApp) {
    let _w = world(&mut app).await;
    // The sysadmin may use nearly every form, so a missing check would show as a change.
    let mut browser = app.browser();
    let anonymous_token = browser.csrf().await;
    let r = browser.login("s.root", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let real = browser.csrf().await;
    assert_ne!(real, anonymous_token, "the CSRF token changes at login");
    let mut other = app.browser();
    other.login("s.admin", PASSWORD).await;
    let others_token = other.csrf().await;

    let posts: Vec<String> = web_routes().into_iter().filter(|r| r.2).map(|r| r.0).collect();
    assert!(posts.len() >= 40, "{posts:?}");
    let audit_before = app.audit_len().await;
    let mut failures = Vec::new();
    let wrong = "0".repeat(64);
    for pattern in &posts {
        let path = concrete(pattern, "1");
        let attempts: Vec<(&str, Request<Body>)> = vec![
            ("no token", form_request(&path, &[("name", "x")])),
            (
                "a wrong token",
                form_request(&path, &[("_csrf", &wrong), ("name", "x")]),
            ),
            ("an empty token", form_request(&path, &[("_csrf", ""), ("name", "x")])),
            (
                "the token from before login",
                form_request(&path, &[("_csrf", &anonymous_token)]),
            ),
            ("another user's token", form_request(&path, &[("_csrf", &others_token)])),
            (
                "a wrong header",
                Request::post(path.as_str())
                    .header("x-csrf-token", wrong.as_str())
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from("name=x"))
                    .expect("request"),
            ),
            (
                "a multipart form without a token",
                multipart_request(&path, "", "a.csv", b"code\n1\n"),
            ),
        ];
        for (what, req) in attempts {
            let r = browser.send(req).await;
            if r.status != StatusCode::FORBIDDEN {
                failures.push(format!("POST {path} with {what}: {} {}", r.status, head(&r.body)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "forms accepted without their CSRF token:\n{}",
        failures.join("\n")
    );
    assert_eq!(app.audit_len().await, audit_before, "a refused form changed something");
    // Still logged in (the logout form was refused too), and the right token works.
    assert_eq!(browser.get("/account").await.status, StatusCode::OK);
    let r = browser.post_form("/account/tokens", &[("name", "kept")]).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the real token is accepted: {}",
        head(&r.body)
    );
    assert_eq!(app.audit_len().await, audit_before + 1);
}

fn form_request(path: &str, fields: &[(&str, &str)]) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(fields).expect("form")))
        .expect("request")
}

const BOUNDARY: &str = "----pubdata-test-boundary";

fn multipart_request(path: &str, query: &str, filename: &str, content: &[u8]) -> Request<Body> {
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n街道\r\n--{BOUNDARY}\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let uri = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    Request::post(uri)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .expect("request")
}

fn head(body: &str) -> String {
    body.chars().take(300).collect()
}

#[tokio::test]
async fn every_web_form_refuses_a_missing_or_wrong_csrf_token_on_sqlite() {
    csrf_everywhere(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn every_web_form_refuses_a_missing_or_wrong_csrf_token_on_postgres() {
    if let Some(app) = TestApp::postgres().await {
        csrf_everywhere(app).await;
    }
}

// ---------------------------------------------------------------------------------------------
// SQL metacharacters in every filter and sort
// ---------------------------------------------------------------------------------------------

const PAYLOADS: &[&str] = &[
    "' OR 1=1--",
    "1; DROP TABLE users",
    "1); DROP TABLE resources;--",
    "\"",
    "\\",
    "%",
    "_",
    "a%",
    "名称' UNION SELECT login, password_hash FROM users--",
    "\u{202e}\u{0}🙂",
];

/// A response that is not a server failure: 2xx, or a 4xx that says what was wrong.
fn clean(r: &Resp) -> Result<(), String> {
    if r.status.is_server_error() {
        return Err(format!("{} {}", r.status, head(&r.body)));
    }
    if r.status.is_client_error() && r.body.trim().is_empty() {
        return Err(format!("{} without a message", r.status));
    }
    Ok(())
}

async fn injections(mut app: TestApp) {
    let w = world(&mut app).await;
    let mut browser = app.browser();
    browser.login("s.root", PASSWORD).await;
    let before = table_counts(&mut app, &w).await;
    let mut failures = Vec::new();
    let mut calls = 0;

    // Every query parameter of every GET operation the API documents.
    let doc = app.api(Method::GET, "/api/v1/openapi.json", None, None).await.json();
    for (pattern, ops) in doc["paths"].as_object().expect("paths") {
        let Some(get) = ops.get("get") else { continue };
        let params: Vec<&str> = get["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let path = concrete(pattern, &w.resource.to_string());
        for param in params {
            for payload in PAYLOADS {
                for token in [&w.root, &w.consumer] {
                    let uri = format!("/api/v1{path}?{param}={}", enc(payload));
                    let r = app.api(Method::GET, &uri, Some(token), None).await;
                    calls += 1;
                    if let Err(e) = clean(&r) {
                        failures.push(format!("GET {uri}: {e}"));
                    }
                }
            }
        }
    }

    // The data API's filters, sort, field choice and text search on every column.
    let rows = format!("/api/v1/resources/{}/rows", w.resource);
    for payload in PAYLOADS {
        let p = enc(payload);
        let mut queries = vec![
            format!("sort={p}"),
            format!("sort=-{p}"),
            format!("fields={p}"),
            format!("fields=name,{p}"),
            format!("q={p}"),
            format!("{p}.eq=1"),
        ];
        for field in ["code", "name", "district"] {
            for op in ["eq", "in", "gt", "gte", "lt", "lte", "prefix"] {
                queries.push(format!("{field}.{op}={p}"));
            }
        }
        for q in queries {
            let uri = format!("{rows}?{q}");
            let r = app.api(Method::GET, &uri, Some(&w.admin), None).await;
            calls += 1;
            if let Err(e) = clean(&r) {
                failures.push(format!("GET {uri}: {e}"));
            }
        }
    }

    // CKAN's package_search and datastore_search, GET and POST.
    for payload in PAYLOADS {
        let p = enc(payload);
        for q in [
            format!("q={p}"),
            format!("fq={p}"),
            format!("fq=tags:{p}"),
            format!("sort={p}"),
            format!("sort=name%20{p}"),
        ] {
            let uri = format!("/api/3/action/package_search?{q}");
            let r = app.api(Method::GET, &uri, None, None).await;
            calls += 1;
            if let Err(e) = clean(&r) {
                failures.push(format!("GET {uri}: {e}"));
            }
        }
        for body in [
            json!({"resource_id": w.dist.to_string(), "q": payload}),
            json!({"resource_id": w.dist.to_string(), "filters": {"name": payload}}),
            json!({"resource_id": w.dist.to_string(), "filters": {*payload: "1"}}),
            json!({"resource_id": w.dist.to_string(), "sort": payload}),
            json!({"resource_id": w.dist.to_string(), "sort": format!("name {payload}")}),
            json!({"resource_id": w.dist.to_string(), "fields": payload}),
            json!({"resource_id": payload}),
            json!({"q": payload, "fq": payload, "sort": payload}),
        ] {
            let action = if body.get("resource_id").is_some() {
                "datastore_search"
            } else {
                "package_search"
            };
            let r = app
                .api(
                    Method::POST,
                    &format!("/api/3/action/{action}"),
                    Some(&w.admin),
                    Some(body.clone()),
                )
                .await;
            calls += 1;
            if let Err(e) = clean(&r) {
                failures.push(format!("POST {action} {body}: {e}"));
            }
        }
    }

    // The web pages that list and filter, with every common filter name.
    let pages: Vec<String> = web_routes()
        .into_iter()
        .filter(|r| r.1 && !r.0.contains('{'))
        .map(|r| r.0)
        .collect();
    for page in &pages {
        for payload in PAYLOADS {
            let p = enc(payload);
            let uri =
                format!("{page}?q={p}&sort={p}&state={p}&domain={p}&provider={p}&page={p}&kind={p}&open_type={p}");
            let r = browser.get(&uri).await;
            calls += 1;
            if let Err(e) = clean(&r) {
                failures.push(format!("GET {uri}: {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(calls > 1000, "only {calls} calls");
    assert_eq!(table_counts(&mut app, &w).await, before, "a table changed");

    literal_matches(&mut app, &w).await;
}

fn names(r: &Resp) -> Vec<String> {
    let v = r.json();
    let mut out: Vec<String> = v["records"]
        .as_array()
        .or_else(|| v["result"]["records"].as_array())
        .unwrap_or_else(|| panic!("no records: {v}"))
        .iter()
        .filter_map(|rec| rec["name"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

/// Metacharacters match themselves: `%` and `_` in a prefix are not wildcards, a quote is a quote.
async fn literal_matches(app: &mut TestApp, w: &World) {
    let rows = format!("/api/v1/resources/{}/rows", w.resource);
    let cases: &[(&str, &[&str])] = &[
        ("name.prefix=a%25", &["a%b"]),
        ("name.prefix=a_", &["a_c"]),
        ("name.prefix=a%5C", &["a\\b"]),
        ("name.eq=%27%20OR%201%3D1--", &["' OR 1=1--"]),
        ("name.eq=%22", &["\""]),
        ("name.in=%25,_", &[]),
        ("name.eq=a%25b", &["a%b"]),
        ("name.eq=a_c", &["a_c"]),
        ("q=%25", &["a%b"]),
        ("q=_", &["a_c"]),
        ("q=%5C", &["a\\b"]),
    ];
    for (q, want) in cases {
        let r = app.api(Method::GET, &format!("{rows}?{q}"), Some(&w.admin), None).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        assert_eq!(names(&r), *want, "{q}");
    }
    // The same through CKAN's datastore_search.
    for (filters, want) in [
        (json!({"name": "' OR 1=1--"}), vec!["' OR 1=1--"]),
        (json!({"name": "%"}), vec![]),
        (json!({"name": "a_c"}), vec!["a_c"]),
    ] {
        let body = json!({"resource_id": w.dist.to_string(), "filters": filters});
        let r = app
            .api(
                Method::POST,
                "/api/3/action/datastore_search",
                Some(&w.admin),
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{filters}: {}", r.body);
        assert_eq!(names(&r), want, "{filters}");
    }
    let r = app
        .api(
            Method::POST,
            "/api/3/action/datastore_search",
            Some(&w.admin),
            Some(json!({"resource_id": w.dist.to_string(), "q": "%"})),
        )
        .await;
    assert_eq!(names(&r), vec!["a%b"], "q=% through CKAN: {}", r.body);
    // Search: a quote-laden query finds nothing and breaks nothing; the title still finds it.
    let r = app
        .api(Method::GET, "/api/v1/search?q=%27%20OR%201%3D1--", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["total"], 0, "{}", r.body);
    // A bare % is not a wildcard: either "no words to look for" (422 on `q`) or nothing found.
    let r = app.api(Method::GET, "/api/v1/search?q=%25", None, None).await;
    match r.status {
        StatusCode::UNPROCESSABLE_ENTITY => assert_eq!(r.json()["error"]["fields"][0]["field"], "q", "{}", r.body),
        _ => assert_eq!(r.json()["total"], 0, "{}", r.body),
    }
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/search?q={}", enc("街道名录")),
            None,
            None,
        )
        .await;
    assert!(
        r.json()["results"]
            .as_array()
            .is_some_and(|a| a.iter().any(|h| h["id"] == w.resource)),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn sql_metacharacters_in_filters_and_sorts_are_data_on_sqlite() {
    injections(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn sql_metacharacters_in_filters_and_sorts_are_data_on_postgres() {
    if let Some(app) = TestApp::postgres().await {
        injections(app).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Upload names
// ---------------------------------------------------------------------------------------------

fn tree(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Which of the files the names point to (from each base, with `\\` read as `/` too) exist.
fn targets(names: &[&str], bases: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for name in names {
        for variant in [name.to_string(), name.replace('\\', "/")] {
            let Some(clean) = variant.split('\0').next() else {
                continue;
            };
            for base in bases {
                let target = base.join(clean);
                if target.is_file() {
                    out.push(target);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

const CSV: &[u8] = b"code,name,district\n510104001,a,b\n";

async fn upload_names(mut app: TestApp) {
    let w = world(&mut app).await;
    let store_root = app.data_dir.join("files");
    let long = format!("{}.csv", "长".repeat(3000));
    let names = [
        "../../etc/passwd",
        "../../etc/passwd.csv",
        "..\\..\\x.csv",
        "/abs/path.csv",
        "C:\\Windows\\x.csv",
        "a\0b.csv",
        "nul\0",
        "line\r\nbreak.csv",
        "tab\tbell\u{7}.csv",
        "\u{202e}vsc.exe.csv",
        long.as_str(),
        "..",
        "./.csv",
    ];
    let web_names = ["..\\..\\web.csv", "../../web2.csv"];
    let all_names: Vec<&str> = names.iter().chain(web_names.iter()).copied().collect();
    // Where the names point, from any folder the store or the process works in: which of those
    // files exist must not change.
    let bases = [
        store_root.clone(),
        store_root.join("resources").join(w.draft.to_string()),
        app.data_dir.clone(),
        std::env::current_dir().expect("cwd"),
    ];
    let written_before = targets(&all_names, &bases);
    let mut failures = Vec::new();
    for name in names {
        let uri = format!(
            "/api/v1/resources/{}/distributions/file?filename={}",
            w.draft,
            enc(name)
        );
        let req = Request::post(uri.as_str())
            .header(header::AUTHORIZATION, format!("Bearer {}", w.editor))
            .header(header::CONTENT_TYPE, "text/csv")
            .body(Body::from(CSV))
            .expect("request");
        let r = app.send(req).await;
        match r.status {
            StatusCode::CREATED => {
                let d = r.json();
                for key in ["filename", "title"] {
                    let shown = d[key].as_str().unwrap_or_default();
                    if shown.contains(['/', '\\']) || shown.chars().any(char::is_control) || shown.chars().count() > 255
                    {
                        failures.push(format!("{name:?}: {key} shown as {shown:?}"));
                    }
                }
                app.run_jobs().await;
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                if r.json()["error"]["fields"].as_array().is_none_or(|f| f.is_empty()) {
                    failures.push(format!("{name:?}: 422 without naming the field: {}", r.body));
                }
            }
            other => failures.push(format!("{name:?}: {other} {}", head(&r.body))),
        }
    }
    // The web form's multipart file name, as a browser on Windows may send it.
    let mut browser = app.browser();
    browser.login("s.editor", PASSWORD).await;
    let csrf = browser.csrf().await;
    for name in web_names {
        let req = multipart_request(
            &format!("/provider/resources/{}/upload", w.draft),
            &format!("_csrf={csrf}"),
            name,
            CSV,
        );
        let r = browser.send(req).await;
        if r.status != StatusCode::SEE_OTHER {
            failures.push(format!("web upload {name:?}: {} {}", r.status, head(&r.body)));
        }
        app.run_jobs().await;
    }
    let dists = app
        .api(
            Method::GET,
            &format!("/api/v1/resources/{}/distributions", w.draft),
            Some(&w.editor),
            None,
        )
        .await
        .json();
    for d in dists.as_array().expect("distributions") {
        let shown = d["filename"].as_str().unwrap_or_default();
        if shown.contains(['/', '\\']) || shown.chars().any(char::is_control) {
            failures.push(format!("distribution {} shown as {shown:?}", d["id"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Every stored file is under the store's resource folders; nothing appeared outside.
    for p in tree(&app.data_dir) {
        let inside = p.starts_with(store_root.join("resources"))
            || p.starts_with(store_root.join("published"))
            || p.starts_with(app.data_dir.join("search"))
            || p == app.data_dir.join("mask.key");
        assert!(inside, "a file outside the file store: {}", p.display());
    }
    let written_after = targets(&all_names, &bases);
    assert_eq!(
        written_after, written_before,
        "an upload name was written where it points"
    );
    assert!(
        !Path::new("/abs/path.csv").exists(),
        "an absolute upload name was written"
    );

    // The published resource's download is named after its code, whatever the upload was called.
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/distributions/{}", w.dist),
            Some(&w.consumer),
            None,
        )
        .await;
    assert!(!r.status.is_server_error(), "{}", r.body);
}

#[tokio::test]
async fn upload_names_cannot_leave_the_file_store_on_sqlite() {
    upload_names(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn upload_names_cannot_leave_the_file_store_on_postgres() {
    if let Some(app) = TestApp::postgres().await {
        upload_names(app).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Session fixation
// ---------------------------------------------------------------------------------------------

fn logged_in(r: &Resp) -> bool {
    r.status == StatusCode::OK
}

async fn fixation(mut app: TestApp) {
    let _w = world(&mut app).await;

    // An attacker logs in with their own account and plants that real, live session id (and a
    // CSRF cookie of their choosing) in the victim's browser before the victim logs in.
    let mut attacker = app.browser();
    attacker.login("s.editor", PASSWORD).await;
    let planted = attacker.jar.get("pd_session").cloned().expect("the attacker's session");
    let planted_csrf = "a".repeat(64);
    let mut victim = app.browser();
    victim.jar.insert("pd_session".into(), planted.clone());
    victim.jar.insert("pd_csrf".into(), planted_csrf.clone());
    let form = victim.get("/login").await;
    let before = form.csrf();
    let r = victim.login("s.consumer", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let session = victim.jar.get("pd_session").cloned().expect("a session after login");
    assert_ne!(session, planted, "the planted id became the session");
    assert_ne!(victim.csrf().await, before, "the CSRF token changes at login");
    assert_ne!(
        victim.csrf().await,
        planted_csrf,
        "the planted CSRF token is not the session's"
    );
    let me = attacker
        .send(
            Request::get("/api/v1/me")
                .header(header::COOKIE, format!("pd_session={planted}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert!(
        !me.body.contains("s.consumer"),
        "the planted session became the victim's: {}",
        me.body
    );
    assert_eq!(
        me.status,
        StatusCode::UNAUTHORIZED,
        "the login in that browser ended the planted session: {}",
        me.body
    );

    // Logging in again (another account, same browser) replaces the session: the old id dies.
    let mut shared = app.browser();
    shared.login("s.consumer", PASSWORD).await;
    let first = shared.jar.get("pd_session").cloned().expect("first session");
    let r = shared.login("s.editor", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let second = shared.jar.get("pd_session").cloned().expect("second session");
    assert_ne!(first, second, "a new login, a new session id");
    let mut old = app.browser();
    old.jar.insert("pd_session".into(), first.clone());
    assert!(
        !logged_in(&old.get("/account").await),
        "the session from before the second login still works"
    );
    let r = old
        .send(
            Request::get("/api/v1/me")
                .header(header::COOKIE, format!("pd_session={first}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);

    // After logout the id is dead, even presented again by hand.
    let r = shared.post_form("/logout", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let mut replay = app.browser();
    replay.jar.insert("pd_session".into(), second.clone());
    assert!(
        !logged_in(&replay.get("/account").await),
        "the session lives on after logout"
    );
    let r = replay.get("/api/v1/me").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
}

#[tokio::test]
async fn session_ids_from_before_login_and_logout_are_dead_on_sqlite() {
    fixation(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn session_ids_from_before_login_and_logout_are_dead_on_postgres() {
    if let Some(app) = TestApp::postgres().await {
        fixation(app).await;
    }
}
