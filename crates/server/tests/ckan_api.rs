//! The CKAN Action API (read side) against CKAN's documented responses: the envelope, dataset,
//! resource, organisation and group dictionaries, package_search with facets, datastore_search,
//! both URL prefixes, GET / POST JSON / POST form, and every error type with its status.
//! Runs on SQLite, and on PostgreSQL when `PUBDATA_TEST_DATABASE_URL` is set.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{Resp, TestApp, PASSWORD};
use serde_json::{json, Value};

/// What the fixture published, and what it left unpublished.
struct Fixture {
    /// A token of a consumer, for datastore_search.
    consumer: String,
    /// The streets resource (provider A, a loaded CSV and an API): its public name.
    streets: String,
    streets_file: i64,
    streets_api: i64,
    /// The air-quality resource (provider B, an API only).
    air: String,
    /// A draft of provider A, never published.
    draft: String,
    /// A file distribution of the draft.
    draft_file: i64,
}

const TRANSPORT: &str = "11510000008693034D";
const TRANSPORT_KEY: &str = "008693034";
const ENVIRONMENT_KEY: &str = "mb1a00021";

fn environment_code() -> String {
    let body = "11510000MB1A00021";
    format!(
        "{body}{}",
        pubdata_core::credit_code::check_char(body).expect("check char")
    )
}

fn new_token(page: &Resp) -> String {
    page.body
        .split("id=\"new-token\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("a new token on the page")
        .to_string()
}

async fn token_for(app: &mut TestApp, root: &str, login: &str, org_id: i64, role: &str) -> String {
    let body = json!({"login": login, "display_name": login, "email": format!("{login}@example.cn"),
                      "password": PASSWORD, "org_id": org_id, "role": role});
    let r = app.api(Method::POST, "/api/v1/users", Some(root), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    logged_in_token(app, login).await
}

async fn logged_in_token(app: &TestApp, login: &str) -> String {
    let mut browser = app.browser();
    browser.login(login, PASSWORD).await;
    new_token(&browser.post_form("/account/tokens", &[("name", "script")]).await)
}

/// A consumer registers, as the public does.
async fn consumer_token(app: &mut TestApp, login: &str) -> String {
    let body = json!({"user": {"login": login, "display_name": "王用", "email": format!("{login}@example.cn"), "password": PASSWORD}});
    let r = app.api(Method::POST, "/api/v1/register", None, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    logged_in_token(app, login).await
}

fn meta(title: &str, domain: &str, tags: &str) -> Value {
    json!({"title": title, "summary": format!("{title}：按年度更新的公共数据，供社会公众查询使用。"), "domain": domain,
           "open_type": "unconditional", "update_frequency": "yearly", "tags": tags, "spatial": "510000",
           "temporal_from": "2023-01-01", "contact_phone": "028-86001234", "contact_email": "open@example.cn",
           "fields": [{"name": "code", "title": "区划代码", "type": "code", "key": true, "required": true},
                      {"name": "name", "title": "名称", "type": "string"},
                      {"name": "people", "title": "人口", "type": "integer"}]})
}

async fn create(app: &mut TestApp, token: &str, provider: i64, meta: Value) -> (i64, String) {
    let r = app
        .api(
            Method::POST,
            "/api/v1/resources",
            Some(token),
            Some(json!({"provider_org_id": provider, "meta": meta})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v = r.json();
    (
        v["id"].as_i64().expect("id"),
        v["code"].as_str().expect("code").to_ascii_lowercase(),
    )
}

async fn upload_csv(app: &mut TestApp, token: &str, id: i64, csv: &str) -> i64 {
    let req = Request::post(format!(
        "/api/v1/resources/{id}/distributions/file?filename=streets.csv&title=2023%E5%B9%B4%E6%95%B0%E6%8D%AE"
    ))
    .header(header::AUTHORIZATION, format!("Bearer {token}"))
    .header(header::CONTENT_TYPE, "application/octet-stream")
    .body(Body::from(csv.to_string()))
    .expect("request");
    let saved = std::mem::take(&mut app.jar);
    let r = app.send(req).await;
    app.jar = saved;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_i64().expect("distribution id")
}

async fn add_api(app: &mut TestApp, token: &str, id: i64, url: &str) -> i64 {
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/distributions/api"),
            Some(token),
            Some(json!({"title": "查询接口", "url": url, "params": "code: 区划代码"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_i64().expect("distribution id")
}

async fn publish(app: &mut TestApp, editor: &str, reviewer: &str, id: i64) {
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/submit"),
            Some(editor),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let checklist = json!({"compliance": {"pass": true, "note": ""}, "availability": {"pass": true, "note": ""},
                           "security": {"pass": true, "note": ""}});
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{id}/decision"),
            Some(reviewer),
            Some(json!({"decision": "approve", "checklist": checklist})),
        )
        .await;
    assert_eq!(r.json()["state"], "published", "{}", r.body);
}

const STREETS_CSV: &str = "code,name,people\n510104020,春熙路街道,52000\n510104021,书院街街道,41000\n\
                           510105001,草市街街道,38000\n510105002,西御河街道,\n";

async fn create_org(app: &mut TestApp, root: &str, body: Value) -> i64 {
    let r = app
        .api(Method::POST, "/api/v1/organisations", Some(root), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_i64().expect("org id")
}

async fn fixture(app: &mut TestApp) -> Fixture {
    app.sysadmin("root").await;
    app.login("root", PASSWORD).await;
    let root = new_token(&app.post_form("/account/tokens", &[("name", "root")]).await);
    let org = |kind: &str, name: &str, code: &str| json!({"kind": kind, "name": name, "credit_code": code, "region_code": "510000"});
    let centre = create_org(
        app,
        &root,
        org("admin_institution", "四川省大数据中心", "91350100M000100Y43"),
    )
    .await;
    let transport = create_org(app, &root, org("provider", "四川省交通运输厅", TRANSPORT)).await;
    let environment = create_org(app, &root, org("provider", "四川省生态环境厅", &environment_code())).await;
    let editor = token_for(app, &root, "chen.bian", transport, "provider_editor").await;
    let env_editor = token_for(app, &root, "zhao.bian", environment, "provider_editor").await;
    let reviewer = token_for(app, &root, "li.shen", centre, "admin_reviewer").await;
    let consumer = consumer_token(app, "wang.yong").await;

    let (streets_id, streets) = create(
        app,
        &editor,
        transport,
        meta("四川省乡镇街道", "社会发展", "区划, 街道"),
    )
    .await;
    let streets_file = upload_csv(app, &editor, streets_id, STREETS_CSV).await;
    app.run_jobs().await;
    let streets_api = add_api(app, &editor, streets_id, "https://data.example.gov.cn/api/streets").await;
    publish(app, &editor, &reviewer, streets_id).await;
    // The consumer accepts the streets' usage terms: rows need a grant.
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/resources/{streets_id}/accept-terms"),
            Some(&consumer),
            Some(json!({"accepted": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let (air_id, air) = create(
        app,
        &env_editor,
        environment,
        meta("成都市空气质量监测", "资源环境", "空气, 环境监测"),
    )
    .await;
    add_api(app, &env_editor, air_id, "https://data.example.gov.cn/api/air").await;
    publish(app, &env_editor, &reviewer, air_id).await;

    let (draft_id, draft) = create(
        app,
        &editor,
        transport,
        meta("未发布的街道草稿", "社会发展", "区划, 草稿"),
    )
    .await;
    let draft_file = upload_csv(app, &editor, draft_id, STREETS_CSV).await;
    app.run_jobs().await;
    Fixture {
        consumer,
        streets,
        streets_file,
        streets_api,
        air,
        draft,
        draft_file,
    }
}

/// A GET without cookies, as a CKAN client sends it.
async fn get(app: &mut TestApp, path: &str) -> Resp {
    app.api(Method::GET, path, None, None).await
}

fn query(action: &str, pairs: &[(&str, &str)]) -> String {
    format!(
        "/api/3/action/{action}?{}",
        serde_urlencoded::to_string(pairs).expect("query")
    )
}

async fn post_json(app: &mut TestApp, action: &str, body: Value) -> Resp {
    app.api(Method::POST, &format!("/api/3/action/{action}"), None, Some(body))
        .await
}

/// A request without cookies, as a CKAN client sends it.
async fn send_bare(app: &mut TestApp, req: Result<Request<Body>, axum::http::Error>) -> Resp {
    let saved = std::mem::take(&mut app.jar);
    let r = app.send(req.expect("request")).await;
    app.jar = saved;
    r
}

async fn post_form(app: &mut TestApp, action: &str, pairs: &[(&str, &str)]) -> Resp {
    let req = Request::post(format!("/api/action/{action}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(pairs).expect("form")));
    send_bare(app, req).await
}

/// A request with an `Authorization` header exactly as given (ckanapi sends the bare token).
async fn get_with_auth(app: &mut TestApp, path: &str, authorization: &str) -> Resp {
    let req = Request::get(path)
        .header(header::AUTHORIZATION, authorization)
        .body(Body::empty());
    send_bare(app, req).await
}

/// The `result` of a successful call, after checking the envelope.
fn ok(r: &Resp, action: &str) -> Value {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.header(header::CONTENT_TYPE).starts_with("application/json"),
        "{:?}",
        r.headers
    );
    let v = r.json();
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(
        v["help"],
        format!("http://localhost/api/3/action/help_show?name={action}"),
        "{v}"
    );
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(3),
        "only help, success, result: {v}"
    );
    v["result"].clone()
}

/// The `error` of a failed call, after checking the envelope, status and type.
fn failed(r: &Resp, status: StatusCode, kind: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (v["success"].clone(), v["error"]["__type"].clone()),
        (json!(false), json!(kind)),
        "{v}"
    );
    assert!(
        v["help"]
            .as_str()
            .is_some_and(|h| h.contains("/api/3/action/help_show?name=")),
        "{v}"
    );
    assert!(v.get("result").is_none(), "{v}");
    v["error"].clone()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
    k.sort();
    k
}

fn is_ckan_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 26 && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.' && !s.ends_with('Z')
}

async fn lists_and_envelope(app: &mut TestApp, f: &Fixture) {
    let mut expected = vec![f.streets.clone(), f.air.clone()];
    expected.sort();
    // Both prefixes; GET, POST JSON and POST form give the same result.
    let a = ok(&get(app, "/api/3/action/package_list").await, "package_list");
    let b = ok(&get(app, "/api/action/package_list").await, "package_list");
    let c = ok(&post_json(app, "package_list", json!({})).await, "package_list");
    let d = ok(&post_form(app, "package_list", &[]).await, "package_list");
    assert_eq!(a, json!(expected), "published only, in name order");
    assert_eq!((&b, &c, &d), (&a, &a, &a));
    // ckanapi posts an empty object with its own content type; an empty body is no parameters.
    let r = send_bare(app, Request::post("/api/action/package_list").body(Body::empty())).await;
    assert_eq!(ok(&r, "package_list"), a);
    // Numbers as strings, unknown parameters ignored.
    let one = ok(
        &post_json(
            app,
            "package_list",
            json!({"limit": "1", "offset": 1, "include_private": true, "x": [1]}),
        )
        .await,
        "package_list",
    );
    assert_eq!(one, json!([expected[1]]));
    let one = ok(
        &get(app, &query("package_list", &[("limit", "1"), ("colour", "blue")])).await,
        "package_list",
    );
    assert_eq!(one, json!([expected[0]]));
    let form = ok(
        &post_form(app, "package_list", &[("limit", "1"), ("offset", "1")]).await,
        "package_list",
    );
    assert_eq!(form, json!([expected[1]]));

    let all = ok(
        &get(app, &query("current_package_list_with_resources", &[("limit", "10")])).await,
        "current_package_list_with_resources",
    );
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    assert_eq!(all[0]["name"], f.air, "most recently modified first");

    let status = ok(&get(app, "/api/3/action/status_show").await, "status_show");
    assert_eq!(status["ckan_version"], "2.10.4");
    assert_eq!(status["site_url"], "http://localhost");
    assert!(status["site_title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(status["extensions"]
        .as_array()
        .is_some_and(|e| e.contains(&json!("datastore"))));
    let help = ok(
        &get(app, &query("help_show", &[("name", "package_search")])).await,
        "help_show",
    );
    assert!(help.as_str().is_some_and(|h| h.contains("fq")));
    assert_eq!(get(app, "/api/3").await.json(), json!({"version": 3}));
}

async fn dataset_dicts(app: &mut TestApp, f: &Fixture) {
    let d = ok(
        &get(app, &query("package_show", &[("id", &f.streets)])).await,
        "package_show",
    );
    assert_eq!(
        keys(&d),
        [
            "author",
            "author_email",
            "extras",
            "groups",
            "id",
            "isopen",
            "license_id",
            "license_title",
            "license_url",
            "maintainer",
            "maintainer_email",
            "metadata_created",
            "metadata_modified",
            "name",
            "notes",
            "num_resources",
            "num_tags",
            "organization",
            "owner_org",
            "private",
            "relationships_as_object",
            "relationships_as_subject",
            "resources",
            "state",
            "tags",
            "title",
            "type",
            "url",
            "version",
        ]
    );
    assert_eq!(
        (d["id"].clone(), d["name"].clone()),
        (json!(f.streets), json!(f.streets))
    );
    assert_eq!(d["title"], "四川省乡镇街道");
    assert!(d["notes"].as_str().is_some_and(|n| n.starts_with("四川省乡镇街道")));
    assert_eq!(
        (d["type"].clone(), d["state"].clone(), d["private"].clone()),
        (json!("dataset"), json!("active"), json!(false))
    );
    assert_eq!(
        (d["license_id"].clone(), d["license_title"].clone(), d["isopen"].clone()),
        (
            json!("cc-by-4.0"),
            json!("Creative Commons Attribution 4.0"),
            json!(true)
        )
    );
    assert!(
        is_ckan_time(&d["metadata_created"]) && is_ckan_time(&d["metadata_modified"]),
        "{d}"
    );
    assert_eq!(
        d["url"],
        format!("http://localhost/catalogue/{}", f.streets.to_uppercase())
    );
    assert_eq!(d["author"], "四川省交通运输厅");
    assert_eq!(d["maintainer_email"], "open@example.cn");
    let org = &d["organization"];
    assert_eq!(
        keys(org),
        [
            "approval_status",
            "created",
            "description",
            "display_name",
            "id",
            "image_display_url",
            "image_url",
            "is_organization",
            "name",
            "state",
            "title",
            "type"
        ]
    );
    assert_eq!(
        (org["name"].clone(), org["type"].clone(), org["is_organization"].clone()),
        (json!(TRANSPORT_KEY), json!("organization"), json!(true))
    );
    assert_eq!(d["owner_org"], org["id"]);
    assert!(d["owner_org"].is_string());
    assert_eq!(
        d["tags"],
        json!([{"id": "区划", "name": "区划", "display_name": "区划", "state": "active", "vocabulary_id": null},
               {"id": "街道", "name": "街道", "display_name": "街道", "state": "active", "vocabulary_id": null}])
    );
    assert_eq!(d["num_tags"], 2);
    assert_eq!(
        d["groups"],
        json!([{"id": "social_development", "name": "social_development", "title": "社会发展",
                "display_name": "社会发展", "description": "", "image_display_url": ""}])
    );
    let extras: std::collections::HashMap<String, String> = d["extras"]
        .as_array()
        .expect("extras")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().expect("key").to_string(),
                e["value"].as_str().expect("every extra value is a string").to_string(),
            )
        })
        .collect();
    assert_eq!(extras["code"], f.streets.to_uppercase());
    assert_eq!(
        (
            extras["domain"].as_str(),
            extras["open_type"].as_str(),
            extras["update_frequency"].as_str()
        ),
        ("social_development", "unconditional", "yearly")
    );
    assert_eq!(
        (extras["spatial"].as_str(), extras["temporal_from"].as_str()),
        ("510000", "2023-01-01")
    );
    assert_eq!(extras["row_count"], "4");
    let fields: Value = serde_json::from_str(&extras["fields"]).expect("fields as JSON");
    assert_eq!(fields[0]["name"], "code");

    assert_eq!(d["num_resources"], 2);
    let res = d["resources"].as_array().expect("resources");
    let (file_id, api_id) = (f.streets_file.to_string(), f.streets_api.to_string());
    let file = res
        .iter()
        .find(|r| r["id"].as_str() == Some(file_id.as_str()))
        .expect("the file");
    assert_eq!(
        keys(file),
        [
            "cache_last_updated",
            "cache_url",
            "created",
            "datastore_active",
            "description",
            "format",
            "hash",
            "id",
            "last_modified",
            "metadata_modified",
            "mimetype",
            "mimetype_inner",
            "name",
            "package_id",
            "position",
            "resource_type",
            "size",
            "state",
            "url",
            "url_type"
        ]
    );
    assert_eq!(
        file["url"],
        format!(
            "http://localhost/dataset/{}/resource/{}/download",
            f.streets, f.streets_file
        )
    );
    assert_eq!(
        (
            file["format"].clone(),
            file["url_type"].clone(),
            file["datastore_active"].clone()
        ),
        (json!("CSV"), json!("upload"), json!(true))
    );
    assert_eq!(
        (file["package_id"].clone(), file["size"].clone()),
        (json!(f.streets), json!(STREETS_CSV.len()))
    );
    assert!(file["hash"].as_str().is_some_and(|h| h.starts_with("sha256:")));
    assert!(is_ckan_time(&file["created"]));
    let api = res
        .iter()
        .find(|r| r["id"].as_str() == Some(api_id.as_str()))
        .expect("the API");
    assert_eq!(
        (
            api["url"].clone(),
            api["format"].clone(),
            api["datastore_active"].clone()
        ),
        (
            json!("https://data.example.gov.cn/api/streets"),
            json!("API"),
            json!(false)
        )
    );
    let positions: Vec<i64> = res.iter().filter_map(|r| r["position"].as_i64()).collect();
    assert_eq!(positions, [0, 1]);

    // The id, the name and the code in capitals all find it, by GET or POST.
    let by_code = ok(
        &post_json(app, "package_show", json!({"id": f.streets.to_uppercase()})).await,
        "package_show",
    );
    assert_eq!(by_code["id"], d["id"]);
    let by_form = ok(
        &post_form(app, "package_show", &[("id", &f.streets)]).await,
        "package_show",
    );
    assert_eq!(by_form["id"], d["id"]);

    let r = ok(
        &get(app, &query("resource_show", &[("id", &f.streets_file.to_string())])).await,
        "resource_show",
    );
    assert_eq!(&r, file);
    let views = ok(
        &get(
            app,
            &query("resource_view_list", &[("id", &f.streets_file.to_string())]),
        )
        .await,
        "resource_view_list",
    );
    assert_eq!(views, json!([]));
}

async fn organisations_groups_tags(app: &mut TestApp, f: &Fixture) {
    // Names by default, in title order (CKAN's default sort).
    let names = ok(&get(app, "/api/3/action/organization_list").await, "organization_list");
    assert_eq!(
        names,
        json!([TRANSPORT_KEY, ENVIRONMENT_KEY]),
        "四川省交 < 四川省生 by code point"
    );
    let full = ok(
        &post_json(
            app,
            "organization_list",
            json!({"all_fields": "true", "sort": "name asc"}),
        )
        .await,
        "organization_list",
    );
    assert_eq!(full[0]["name"], TRANSPORT_KEY);
    assert_eq!(
        (full[0]["package_count"].clone(), full[1]["package_count"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(full[0]["title"], "四川省交通运输厅");
    let one = ok(
        &get(
            app,
            &query(
                "organization_list",
                &[("limit", "1"), ("offset", "1"), ("sort", "name asc")],
            ),
        )
        .await,
        "organization_list",
    );
    assert_eq!(one, json!([ENVIRONMENT_KEY]));

    let org = ok(
        &get(app, &query("organization_show", &[("id", TRANSPORT_KEY)])).await,
        "organization_show",
    );
    assert_eq!(
        (org["name"].clone(), org["package_count"].clone()),
        (json!(TRANSPORT_KEY), json!(1))
    );
    assert!(org.get("packages").is_none());
    let by_id = ok(
        &post_json(
            app,
            "organization_show",
            json!({"id": org["id"], "include_datasets": true}),
        )
        .await,
        "organization_show",
    );
    let packages = by_id["packages"].as_array().expect("packages");
    assert_eq!(packages.len(), 1, "the draft is not included");
    assert_eq!(packages[0]["name"], f.streets);

    let groups = ok(&get(app, "/api/3/action/group_list").await, "group_list");
    assert!(groups
        .as_array()
        .is_some_and(|g| g.contains(&json!("transport")) && g.len() == 20));
    let counted = ok(
        &get(
            app,
            &query(
                "group_list",
                &[("all_fields", "True"), ("sort", "package_count desc"), ("limit", "2")],
            ),
        )
        .await,
        "group_list",
    );
    let top: Vec<(String, i64)> = counted
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap_or("").to_string(),
                g["package_count"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        top,
        [
            ("social_development".to_string(), 1),
            ("resources_environment".to_string(), 1)
        ]
    );
    let group = ok(
        &get(
            app,
            &query(
                "group_show",
                &[("id", "resources_environment"), ("include_datasets", "true")],
            ),
        )
        .await,
        "group_show",
    );
    assert_eq!(
        (group["title"].clone(), group["is_organization"].clone()),
        (json!("资源环境"), json!(false))
    );
    assert_eq!(group["packages"][0]["name"], f.air);
    let by_chinese = ok(
        &get(app, &query("group_show", &[("id", "资源环境")])).await,
        "group_show",
    );
    assert_eq!(by_chinese["name"], "resources_environment");

    let tags = ok(&get(app, "/api/3/action/tag_list").await, "tag_list");
    let mut expected = vec!["区划", "环境监测", "空气", "街道"];
    expected.sort();
    assert_eq!(tags, json!(expected), "the draft's tag 草稿 is not listed");
    let some = ok(
        &post_json(app, "tag_list", json!({"query": "空", "all_fields": true})).await,
        "tag_list",
    );
    assert_eq!(
        some,
        json!([{"id": "空气", "name": "空气", "display_name": "空气", "state": "active", "vocabulary_id": null}])
    );
}

async fn package_search(app: &mut TestApp, f: &Fixture) {
    let all = ok(&get(app, "/api/3/action/package_search").await, "package_search");
    assert_eq!(keys(&all), ["count", "facets", "results", "search_facets", "sort"]);
    assert_eq!(all["count"], 2);
    assert_eq!(all["sort"], "score desc, metadata_modified desc");
    assert_eq!(
        (all["facets"].clone(), all["search_facets"].clone()),
        (json!({}), json!({}))
    );
    let shown = ok(
        &get(app, &query("package_show", &[("id", &f.streets)])).await,
        "package_show",
    );
    let found = all["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|d| d["name"] == f.streets)
        .expect("streets found")
        .clone();
    assert_eq!(found, shown, "search results are whole dataset dicts");

    // Chinese text, by GET and by POST.
    let r = ok(
        &get(app, &query("package_search", &[("q", "街道")])).await,
        "package_search",
    );
    assert_eq!(
        (r["count"].clone(), r["results"][0]["name"].clone()),
        (json!(1), json!(f.streets))
    );
    let r = ok(
        &post_json(app, "package_search", json!({"q": "空气质量"})).await,
        "package_search",
    );
    assert_eq!(
        (r["count"].clone(), r["results"][0]["name"].clone()),
        (json!(1), json!(f.air))
    );
    let r = ok(
        &post_json(app, "package_search", json!({"q": "草稿"})).await,
        "package_search",
    );
    assert_eq!(r["count"], 0, "drafts are not searchable");

    // Filters.
    let fq = |fq: &str| json!({ "fq": fq });
    let count = |v: &Value| v["count"].as_i64().unwrap_or(-1);
    for (filter, expect) in [
        (format!("organization:{TRANSPORT_KEY}"), 1),
        (format!("organization:\"{ENVIRONMENT_KEY}\" +res_format:API"), 1),
        ("res_format:CSV".to_string(), 1),
        ("res_format:api".to_string(), 2),
        ("tags:\"空气\"".to_string(), 1),
        ("tags:(空气 OR 区划)".to_string(), 2),
        ("groups:social_development AND license_id:cc-by-4.0".to_string(), 1),
        ("groups:道路交通".to_string(), 0),
    ] {
        let r = ok(&post_json(app, "package_search", fq(&filter)).await, "package_search");
        assert_eq!(count(&r), expect, "{filter}: {r}");
    }
    let r = ok(
        &get(app, &query("package_search", &[("q", "tags:街道")])).await,
        "package_search",
    );
    assert_eq!(count(&r), 1, "a field query in q filters");

    // Paging and sorting, numbers as strings.
    let page = |start: &str| json!({"rows": "1", "start": start, "sort": "name asc"});
    let first = ok(&post_json(app, "package_search", page("0")).await, "package_search");
    let second = ok(&post_json(app, "package_search", page("1")).await, "package_search");
    assert_eq!((count(&first), first["results"].as_array().map(Vec::len)), (2, Some(1)));
    assert_ne!(first["results"][0]["name"], second["results"][0]["name"]);
    assert_eq!(first["sort"], "name asc");
    let past = ok(&post_json(app, "package_search", page("5")).await, "package_search");
    assert_eq!((count(&past), past["results"].clone()), (2, json!([])));
    let newest = ok(
        &post_json(app, "package_search", json!({"sort": "metadata_modified desc"})).await,
        "package_search",
    );
    assert_eq!(newest["results"][0]["name"], f.air);
    let none = ok(
        &post_json(app, "package_search", json!({"rows": 0})).await,
        "package_search",
    );
    assert_eq!((count(&none), none["results"].clone()), (2, json!([])));

    // Facets: a JSON list in a string, both shapes.
    let r = ok(
        &get(
            app,
            &query(
                "package_search",
                &[
                    (
                        "facet.field",
                        "[\"organization\",\"tags\",\"res_format\",\"groups\",\"license_id\"]",
                    ),
                    ("facet.limit", "-1"),
                    ("rows", "0"),
                ],
            ),
        )
        .await,
        "package_search",
    );
    assert_eq!(
        r["facets"]["organization"],
        json!({ TRANSPORT_KEY: 1, ENVIRONMENT_KEY: 1 })
    );
    assert_eq!(r["facets"]["res_format"], json!({"API": 2, "CSV": 1}));
    assert_eq!(r["facets"]["license_id"], json!({"cc-by-4.0": 2}));
    assert_eq!(r["facets"]["tags"].as_object().map(|t| t.len()), Some(4));
    let orgs = &r["search_facets"]["organization"];
    assert_eq!(orgs["title"], "organization");
    let transport = orgs["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["name"] == TRANSPORT_KEY)
        .expect("transport item");
    assert_eq!(
        transport,
        &json!({"name": TRANSPORT_KEY, "display_name": "四川省交通运输厅", "count": 1})
    );
    let groups = &r["search_facets"]["groups"]["items"];
    assert!(groups
        .as_array()
        .is_some_and(|g| g.iter().any(|i| i["display_name"] == "资源环境")));
    let limited = ok(
        &post_json(
            app,
            "package_search",
            json!({"facet.field": ["tags"], "facet.limit": 1}),
        )
        .await,
        "package_search",
    );
    assert_eq!(
        limited["search_facets"]["tags"]["items"].as_array().map(Vec::len),
        Some(1)
    );
}

async fn datastore_search(app: &mut TestApp, f: &Fixture) {
    let id = f.streets_file.to_string();
    let path = query("datastore_search", &[("resource_id", &id)]);
    // Anonymous callers may not read rows.
    let e = failed(&get(app, &path).await, StatusCode::FORBIDDEN, "Authorization Error");
    assert!(e["message"].as_str().is_some_and(|m| m.starts_with("Access denied")));
    // A token, with `Bearer ` or bare as ckanapi sends it.
    let bearer = ok(
        &get_with_auth(app, &path, &format!("Bearer {}", f.consumer)).await,
        "datastore_search",
    );
    let bare = ok(&get_with_auth(app, &path, &f.consumer).await, "datastore_search");
    assert_eq!(bearer, bare);
    assert_eq!(
        keys(&bare),
        [
            "_links",
            "fields",
            "limit",
            "offset",
            "records",
            "resource_id",
            "total",
            "total_was_estimated"
        ]
    );
    assert_eq!(bare["resource_id"], id);
    assert_eq!(
        bare["fields"],
        json!([{"id": "_id", "type": "int"}, {"id": "code", "type": "text"}, {"id": "name", "type": "text"},
               {"id": "people", "type": "int"}])
    );
    assert_eq!(
        (bare["total"].clone(), bare["limit"].clone(), bare["offset"].clone()),
        (json!(4), json!(100), json!(0))
    );
    assert_eq!(
        bare["records"][0],
        json!({"_id": 1, "code": "510104020", "name": "春熙路街道", "people": 52000})
    );
    assert_eq!(bare["records"][3]["people"], Value::Null);
    assert_eq!(
        bare["_links"]["start"],
        format!("/api/3/action/datastore_search?resource_id={id}")
    );
    assert_eq!(
        bare["_links"]["next"],
        format!("/api/3/action/datastore_search?resource_id={id}&offset=100")
    );

    let post = |body: Value| datastore_post(app.browser(), f.consumer.clone(), body);
    let r = post(json!({"resource_id": id, "filters": {"name": "书院街街道"}})).await;
    let r = ok(&r, "datastore_search");
    assert_eq!(
        (r["total"].clone(), r["records"][0]["code"].clone()),
        (json!(1), json!("510104021"))
    );
    let r = ok(
        &post(
            json!({"resource_id": id, "filters": {"code": ["510104020", "510104021"]}, "sort": "people desc",
                     "fields": ["name"], "limit": "1", "offset": "0"}),
        )
        .await,
        "datastore_search",
    );
    assert_eq!(r["total"], 2);
    assert_eq!(r["records"], json!([{"_id": 1, "name": "春熙路街道"}]));
    assert_eq!(
        r["_links"]["next"],
        format!("/api/action/datastore_search?resource_id={id}&offset=1&limit=1")
    );
    let r = ok(&post(json!({"resource_id": id, "q": "御河"})).await, "datastore_search");
    assert_eq!(r["total"], 1);
    let r = ok(&post(json!({"resource_id": id, "limit": 0})).await, "datastore_search");
    assert_eq!(
        (r["records"].clone(), r["fields"].as_array().map(Vec::len)),
        (json!([]), Some(4))
    );

    let e = failed(
        &post(json!({"resource_id": id, "filters": {"colour": "red"}})).await,
        StatusCode::CONFLICT,
        "Validation Error",
    );
    assert!(
        e.as_object().is_some_and(|o| o.keys().any(|k| k.starts_with("colour"))),
        "{e}"
    );
    let e = failed(
        &post(json!({"resource_id": id, "filters": {"people": "many"}})).await,
        StatusCode::CONFLICT,
        "Validation Error",
    );
    assert!(e.to_string().contains("integer"), "{e}");
    failed(
        &post(json!({"resource_id": id, "limit": 10_001})).await,
        StatusCode::CONFLICT,
        "Validation Error",
    );
    // Only the current file of a published dataset has rows.
    for missing in [
        f.streets_api.to_string(),
        f.draft_file.to_string(),
        "999999".into(),
        "abc".into(),
    ] {
        let e = failed(
            &post(json!({ "resource_id": missing })).await,
            StatusCode::NOT_FOUND,
            "Not Found Error",
        );
        assert!(e["message"].as_str().is_some_and(|m| m.starts_with("Not found")), "{e}");
    }
}

async fn datastore_post(mut app: TestApp, token: String, body: Value) -> Resp {
    app.api(Method::POST, "/api/action/datastore_search", Some(&token), Some(body))
        .await
}

async fn search_post(mut app: TestApp, body: Value) -> Resp {
    post_json(&mut app, "package_search", body).await
}

async fn errors(app: &mut TestApp, f: &Fixture) {
    // Unknown actions and unreadable bodies: a bare JSON string with status 400, as CKAN sends.
    let r = get(app, "/api/3/action/package_create").await;
    assert_eq!(
        (r.status, r.json()),
        (
            StatusCode::BAD_REQUEST,
            json!("Bad request - Action name not known: package_create")
        )
    );
    let r = send_bare(
        app,
        Request::post("/api/3/action/package_search")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{\"q\": ")),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r
        .json()
        .as_str()
        .is_some_and(|m| m.starts_with("Bad request - JSON Error")));
    let r = post_json(app, "package_list", json!([1, 2])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Not found: unpublished datasets do not exist.
    for id in [f.draft.as_str(), "no-such-dataset"] {
        let e = failed(
            &get(app, &query("package_show", &[("id", id)])).await,
            StatusCode::NOT_FOUND,
            "Not Found Error",
        );
        assert_eq!(e["message"], "Not found: Dataset not found");
    }
    let draft_file = f.draft_file.to_string();
    for (action, id) in [
        ("resource_show", draft_file.as_str()),
        ("resource_show", "x"),
        ("resource_view_list", draft_file.as_str()),
        ("organization_show", "nobody"),
        ("group_show", "nothing"),
        ("help_show", "package_create"),
    ] {
        let key = if action == "help_show" { "name" } else { "id" };
        failed(
            &get(app, &query(action, &[(key, id)])).await,
            StatusCode::NOT_FOUND,
            "Not Found Error",
        );
    }

    // Validation errors name the parameter.
    for (params, field, message) in [
        (json!({"rows": -1}), "rows", "Must be a natural number"),
        (json!({"rows": "abc"}), "rows", "Invalid integer"),
        (json!({"rows": 5000}), "rows", "Must be at most 1000"),
        (json!({"start": "99999999999"}), "start", "Must be at most 99990"),
        (
            json!({"facet.field": "[\"colour\"]"}),
            "facet.field",
            "Cannot count by \"colour\"",
        ),
        (json!({"facet.field": "[tags"}), "facet.field", "Must be a list"),
    ] {
        let e = failed(
            &search_post(app.browser(), params.clone()).await,
            StatusCode::CONFLICT,
            "Validation Error",
        );
        assert!(
            e[field][0].as_str().is_some_and(|m| m.starts_with(message)),
            "{params}: {e}"
        );
    }
    let e = failed(
        &get(app, "/api/3/action/package_show").await,
        StatusCode::CONFLICT,
        "Validation Error",
    );
    assert_eq!(e["id"], json!(["Missing value"]));
    let e = failed(
        &get(app, &query("organization_list", &[("sort", "colour asc")])).await,
        StatusCode::CONFLICT,
        "Validation Error",
    );
    assert!(e["sort"][0]
        .as_str()
        .is_some_and(|m| m.contains("name, title or package_count")));

    // Search query errors: what cannot be searched, and why.
    for (params, why) in [
        (json!({"fq": "organization:\"unclosed"}), "not closed"),
        (json!({"fq": "author:someone"}), "cannot filter by"),
        (
            json!({"fq": "metadata_modified:[2024-01-01T00:00:00Z TO *]"}),
            "cannot filter by",
        ),
        (json!({"sort": "colour desc"}), "cannot sort by"),
    ] {
        let e = failed(
            &search_post(app.browser(), params.clone()).await,
            StatusCode::BAD_REQUEST,
            "Search Query Error",
        );
        assert!(e["message"].as_str().is_some_and(|m| m.contains(why)), "{params}: {e}");
    }
    let long = "很".repeat(600);
    failed(
        &search_post(app.browser(), json!({ "q": long })).await,
        StatusCode::BAD_REQUEST,
        "Search Query Error",
    );
    // A wrong bare token is refused before the action runs.
    let r = get_with_auth(app, "/api/3/action/package_list", "pdt_not-a-real-token").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn story(mut app: TestApp) {
    let f = fixture(&mut app).await;
    lists_and_envelope(&mut app, &f).await;
    dataset_dicts(&mut app, &f).await;
    organisations_groups_tags(&mut app, &f).await;
    package_search(&mut app, &f).await;
    datastore_search(&mut app, &f).await;
    errors(&mut app, &f).await;
}

#[tokio::test]
async fn ckan_api_on_sqlite() {
    story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn ckan_api_on_postgres() {
    if let Some(app) = TestApp::postgres().await {
        story(app).await;
    }
}

#[tokio::test]
async fn an_empty_catalogue_answers_with_empty_lists() {
    let mut app = TestApp::sqlite().await;
    for action in [
        "package_list",
        "tag_list",
        "organization_list",
        "current_package_list_with_resources",
    ] {
        let r = get(&mut app, &format!("/api/action/{action}")).await;
        assert_eq!(ok(&r, action), json!([]), "{action}");
    }
    let r = ok(
        &get(&mut app, "/api/3/action/package_search?q=%E8%A1%97%E9%81%93").await,
        "package_search",
    );
    assert_eq!((r["count"].clone(), r["results"].clone()), (json!(0), json!([])));
}
