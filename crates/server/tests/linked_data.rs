//! DCAT-AP 3, Frictionless data packages and downloads through the real router: who may
//! download what, what the CSV holds, what the catalogue says about a resource that has every
//! metadata element, how strings are escaped and how the catalogue pages. The download story
//! runs on SQLite, and on PostgreSQL when `PUBDATA_TEST_DATABASE_URL` is set.

mod common;

use std::collections::HashMap;

use axum::http::{header, StatusCode};
use common::{Resp, TestApp, PASSWORD};
use pubdata_core::calendar::WorkCalendar;
use pubdata_core::metadata::{NewField, NewResourceMeta};
use pubdata_core::org::NewOrg;
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::user::NewUser;
use pubdata_ingest::{MaskMethod, MaskRule};
use pubdata_server::Config;
use pubdata_service::accounts::{self, actor_for, NewStaff};
use pubdata_service::ingest::{self, NewApi, UploadInfo};
use pubdata_service::resources::{self, Decision};
use pubdata_service::Caller;
use serde_json::{json, Value};

const PORTAL: &str = "https://data.example.gov.cn";

// ---------------------------------------------------------------------------------------------
// A provider, a reviewer and a consumer; resources made and published through the services.

struct World {
    editor: Caller,
    reviewer: Caller,
    provider: i64,
}

async fn org(app: &TestApp, kind: &str, name: &str, code: &str) -> i64 {
    let o = NewOrg {
        kind: kind.into(),
        name: name.into(),
        credit_code: code.into(),
        region_code: "510000".into(),
        contact_email: "open@jt.sc.gov.cn".into(),
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
    let id = accounts::create_staff(
        &app.store,
        &Caller::console(),
        NewStaff {
            user,
            org_id,
            role: role.into(),
        },
    )
    .await
    .expect("staff");
    let u = app.store.user(id).await.unwrap().unwrap();
    Caller {
        actor: actor_for(&u),
        label: u.login.clone(),
        ip: None,
    }
}

async fn world(app: &TestApp) -> World {
    let centre = org(app, "admin_institution", "四川省大数据中心", "91350100M000100Y43").await;
    let provider = org(app, "provider", "四川省交通运输厅", "11510000008693034D").await;
    let editor = staff(app, "chen.bian", provider, "provider_editor").await;
    let reviewer = staff(app, "li.shen", centre, "admin_reviewer").await;
    app.consumer("wang.yong").await;
    World {
        editor,
        reviewer,
        provider,
    }
}

fn field(name: &str, title: &str, kind: &str, key: bool, required: bool) -> NewField {
    NewField {
        name: name.into(),
        title: title.into(),
        field_type: kind.into(),
        key,
        required,
        ..Default::default()
    }
}

/// Metadata with every element of DESIGN §3 filled in.
fn full_meta(title: &str) -> NewResourceMeta {
    NewResourceMeta {
        title: title.into(),
        title_en: "Expressway sections of Sichuan".into(),
        summary: "四川省高速公路路段的编号、名称、通车日期、里程与车道数，按半年更新。".into(),
        domain: "transport".into(),
        industry: "G".into(),
        open_type: "unconditional".into(),
        update_frequency: "half_yearly".into(),
        tags: vec!["高速公路".into(), "路段".into()],
        spatial: "510000".into(),
        temporal_from: "2020-01-01".into(),
        temporal_to: "2025-12-31".into(),
        contact_phone: "028-86001234".into(),
        contact_email: "open@jt.sc.gov.cn".into(),
        related: vec!["510000-008693034-000099".into()],
        fields: vec![
            field("code", "路段编号", "code", true, true),
            field("name", "路段名称", "string", false, true),
            field("opened", "通车日期", "date", false, false),
            field("updated", "更新时间", "datetime", false, false),
            field("length_km", "里程（公里）", "decimal", false, false),
            field("lanes", "车道数", "integer", false, false),
            field("toll", "是否收费", "boolean", false, false),
        ],
        ..Default::default()
    }
}

/// Sections with every type, text that needs CSV quoting, and a mobile number column that the
/// provider masks.
const SECTIONS: &str = "code,name,opened,updated,length_km,lanes,toll,phone,note\n\
    G5001,成绵高速,2001/12/01,2024-05-01 08:30,92.5,4,是,13800138000,\"含逗号, 和\"\"引号\"\"\"\n\
    G5002,成渝高速,1995-09-15,2024-05-02T09:00:05,340.25,6,false,13912345678,\"两行\n说明\"\n\
    G5003,成雅高速,,,,,,13698765432,\n";

/// Uploads a file as the editor does and runs its ingest; returns the distribution.
async fn upload(app: &TestApp, who: &Caller, resource: i64, name: &str, bytes: &[u8]) -> i64 {
    let ticket = ingest::begin_upload(&app.store, who, resource, name)
        .await
        .expect("begin upload");
    let mut w = app.files.writer(&ticket.key, u64::MAX).await.expect("writer");
    w.write(bytes).await.expect("write").expect("within the limit");
    let stored = w.finish().await.expect("stored");
    let info = UploadInfo {
        title: name.into(),
        change_note: String::new(),
    };
    let dist = ingest::finish_upload(&app.store, who, &ticket, &stored, &info)
        .await
        .expect("finish upload");
    app.run_jobs().await;
    dist
}

async fn create(app: &TestApp, w: &World, meta: &NewResourceMeta) -> i64 {
    resources::create(&app.store, &w.editor, w.provider, meta, None)
        .await
        .expect("create")
}

async fn publish(app: &TestApp, w: &World, id: i64) {
    resources::submit(&app.store, &w.editor, id, &WorkCalendar::official())
        .await
        .expect("submit");
    resources::decide(
        &app.store,
        &w.reviewer,
        id,
        Decision::Approve(ReviewChecklist::passed()),
    )
    .await
    .expect("approve");
}

/// The sections resource, masked and published; returns (resource id, name, file distribution,
/// API distribution).
async fn sections(app: &TestApp, w: &World, meta: &NewResourceMeta) -> (i64, String, i64, i64) {
    let id = create(app, w, meta).await;
    let dist = upload(app, &w.editor, id, "sections.csv", SECTIONS.as_bytes()).await;
    let keep = MaskRule {
        column: "phone".into(),
        method: MaskMethod::Keep { first: 3, last: 4 },
    };
    ingest::set_privacy(&app.store, &w.editor, dist, &[keep], "")
        .await
        .expect("mask");
    app.run_jobs().await;
    let api = NewApi {
        title: "路段查询接口".into(),
        url: "https://api.example.gov.cn/roads?kind=expressway".into(),
        doc: "按编号查询路段。".into(),
        ..Default::default()
    };
    let api = ingest::add_api(&app.store, &w.editor, id, &api).await.expect("api");
    publish(app, w, id).await;
    let code = app.store.resource(id).await.unwrap().unwrap().code;
    (id, code.to_ascii_lowercase(), dist, api)
}

fn download_path(name: &str, dist: i64) -> String {
    format!("/dataset/{name}/resource/{dist}/download")
}

async fn logged_in(app: &TestApp, login: &str) -> TestApp {
    let mut b = app.browser();
    let r = b.login(login, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{login}: {}", r.body);
    b
}

fn config(open_downloads: bool, public_url: Option<&str>) -> Config {
    Config {
        open_downloads,
        public_url: public_url.map(str::to_string),
        ..common::test_config()
    }
}

// ---------------------------------------------------------------------------------------------
// A reader for the JSON-LD this server writes (a context of prefixes, a flat `@graph`), so the
// tests can ask for triples instead of matching text.

type Triple = (String, String, String);

const PREFIXES: [(&str, &str); 9] = [
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("dcat", "http://www.w3.org/ns/dcat#"),
    ("dct", "http://purl.org/dc/terms/"),
    ("foaf", "http://xmlns.com/foaf/0.1/"),
    ("vcard", "http://www.w3.org/2006/vcard/ns#"),
    ("skos", "http://www.w3.org/2004/02/skos/core#"),
    ("hydra", "http://www.w3.org/ns/hydra/core#"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
];

/// `dct:title` → `<http://purl.org/dc/terms/title>`; `_:b1` and `<…>` stay as they are.
fn n(term: &str) -> String {
    if term.starts_with('<') || term.starts_with("_:") || term.starts_with('"') {
        return term.to_string();
    }
    let (p, local) = term.split_once(':').expect("prefixed name");
    let ns = PREFIXES.iter().find(|(k, _)| *k == p).expect("known prefix").1;
    format!("<{ns}{local}>")
}

fn triples(doc: &str) -> Vec<Triple> {
    let v: Value = serde_json::from_str(doc).unwrap_or_else(|e| panic!("JSON-LD ({e}): {doc}"));
    let ctx = v["@context"].as_object().expect("@context");
    let expand = |k: &str| match k.split_once(':') {
        Some((p, l)) if ctx.contains_key(p) => format!("<{}{l}>", ctx[p].as_str().unwrap()),
        _ => format!("<{k}>"),
    };
    let node_ref = |id: &str| {
        if id.starts_with("_:") {
            id.to_string()
        } else {
            format!("<{id}>")
        }
    };
    let mut out = Vec::new();
    for node in v["@graph"].as_array().expect("@graph") {
        let s = node_ref(node["@id"].as_str().expect("@id"));
        for (k, values) in node.as_object().unwrap() {
            if k == "@id" {
                continue;
            }
            for o in values.as_array().expect("values are arrays") {
                let (p, o) = if k == "@type" {
                    (n("rdf:type"), node_ref(o.as_str().unwrap()))
                } else if let Some(id) = o["@id"].as_str() {
                    (expand(k), node_ref(id))
                } else {
                    let value = o["@value"].as_str().expect("@value");
                    let lit = match (o["@language"].as_str(), o["@type"].as_str()) {
                        (Some(lang), _) => format!("\"{value}\"@{lang}"),
                        (_, Some(dt)) => format!("\"{value}\"^^<{dt}>"),
                        _ => format!("\"{value}\""),
                    };
                    (expand(k), lit)
                };
                out.push((s.clone(), p, o));
            }
        }
    }
    out
}

fn objects(t: &[Triple], s: &str, p: &str) -> Vec<String> {
    let (s, p) = (n(s), n(p));
    t.iter()
        .filter(|(ts, tp, _)| *ts == s && *tp == p)
        .map(|x| x.2.clone())
        .collect()
}

#[track_caller]
fn assert_has(t: &[Triple], s: &str, p: &str, o: &str) {
    let o = n(o);
    let found = objects(t, s, p);
    assert!(found.contains(&o), "no {s} {p} {o}; it has {found:?}");
}

// ---------------------------------------------------------------------------------------------
// Downloads.

#[track_caller]
fn assert_status(r: &Resp, status: StatusCode, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
}

#[tokio::test]
async fn downloads_need_a_login_unless_the_platform_opens_unconditional_data() {
    let mut app = TestApp::sqlite_with(config(false, None)).await;
    let w = world(&app).await;
    let (open_id, name, dist, api) = sections(&app, &w, &full_meta("四川省高速公路路段")).await;
    let mut conditional = full_meta("四川省高速公路收费站流量");
    conditional.open_type = "conditional".into();
    conditional.open_conditions = "仅用于交通规划研究，须签署数据使用承诺书".into();
    let (_, cond_name, cond_dist, _) = sections(&app, &w, &conditional).await;
    let draft = create(&app, &w, &full_meta("四川省高速公路服务区")).await;
    let draft_dist = upload(
        &app,
        &w.editor,
        draft,
        "areas.csv",
        b"code,name\nS1,\xe6\x9c\x8d\xe5\x8a\xa1\xe5\x8c\xba\n",
    )
    .await;
    let draft_name = app
        .store
        .resource(draft)
        .await
        .unwrap()
        .unwrap()
        .code
        .to_ascii_lowercase();

    let r = app.get(&download_path(&name, dist)).await;
    assert_status(&r, StatusCode::UNAUTHORIZED, "anonymous, downloads not open");
    assert!(r.body.contains("请先登录"), "the page says what to do: {}", r.body);
    app.accept_language = Some("en".into());
    let r = app.get(&download_path(&name, dist)).await;
    assert!(r.body.contains("Please log in first."), "{}", r.body);

    let mut consumer = logged_in(&app, "wang.yong").await;
    consumer.accept_language = Some("zh-CN".into());
    let r = consumer.get(&download_path(&name, dist)).await;
    assert_status(
        &r,
        StatusCode::CONFLICT,
        "a logged-in consumer who has not accepted the terms",
    );
    let user = app.store.user_by_login("wang.yong").await.unwrap().unwrap();
    let who = Caller {
        actor: actor_for(&user),
        label: "wang.yong".into(),
        ip: None,
    };
    pubdata_service::access::accept_terms(&app.store, &who, open_id, true)
        .await
        .expect("terms accepted");
    let r = consumer.get(&download_path(&name, dist)).await;
    assert_status(&r, StatusCode::OK, "after accepting the terms");
    let r = consumer.get(&download_path(&cond_name, cond_dist)).await;
    assert_status(&r, StatusCode::CONFLICT, "conditional data needs a granted application");
    for (path, what) in [
        (download_path(&name, api), "an API has no download"),
        (download_path(&draft_name, draft_dist), "unpublished data"),
        (download_path(&name, cond_dist), "another resource's data"),
        (download_path(&name, 9999), "no such distribution"),
        (format!("/dataset/{name}/resource/x/download"), "not a number"),
        (download_path("510000-000000000-000001", dist), "no such resource"),
    ] {
        let r = consumer.get(&path).await;
        assert_status(&r, StatusCode::NOT_FOUND, what);
    }

    let mut open = TestApp::sqlite_with(config(true, None)).await;
    let w = world(&open).await;
    let (_, name, dist, _) = sections(&open, &w, &full_meta("四川省高速公路路段")).await;
    let (_, cond_name, cond_dist, _) = sections(&open, &w, &conditional).await;
    let r = open.get(&download_path(&name, dist)).await;
    assert_status(&r, StatusCode::OK, "anonymous, open downloads, unconditional");
    let r = open.get(&download_path(&cond_name, cond_dist)).await;
    assert_status(&r, StatusCode::UNAUTHORIZED, "anonymous, open downloads, conditional");
}

/// The CSV is the datastore table — masked values, converted types — with a header, quoted
/// where needed, named after the resource.
async fn the_download_is_the_loaded_table(mut app: TestApp) {
    let w = world(&app).await;
    let (_, name, dist, _) = sections(&app, &w, &full_meta("四川省高速公路路段")).await;
    let r = app.get(&download_path(&name, dist)).await;
    assert_status(&r, StatusCode::OK, "download");
    assert_eq!(r.header(header::CONTENT_TYPE), "text/csv; charset=utf-8");
    let code = name.to_ascii_uppercase();
    assert_eq!(
        r.header(header::CONTENT_DISPOSITION),
        format!(
            "attachment; filename=\"{code}-v1.csv\"; filename*=UTF-8''\
             %E5%9B%9B%E5%B7%9D%E7%9C%81%E9%AB%98%E9%80%9F%E5%85%AC%E8%B7%AF%E8%B7%AF%E6%AE%B5-v1.csv"
        )
    );

    let table = app
        .store
        .distribution(dist)
        .await
        .unwrap()
        .unwrap()
        .datastore_table
        .unwrap();
    let loaded = app.store.select_rows(&table, 100, 0).await.unwrap();
    let mut expected = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    expected.write_record(&loaded.columns).unwrap();
    for row in &loaded.rows {
        expected
            .write_record(row.iter().map(|v| v.as_deref().unwrap_or("")))
            .unwrap();
    }
    assert_eq!(r.body, String::from_utf8(expected.into_inner().unwrap()).unwrap());
    assert_eq!(
        r.body,
        "code,name,opened,updated,length_km,lanes,toll,phone,note\r\n\
         G5001,成绵高速,2001-12-01,2024-05-01 08:30:00,92.5,4,true,138****8000,\"含逗号, 和\"\"引号\"\"\"\r\n\
         G5002,成渝高速,1995-09-15,2024-05-02 09:00:05,340.25,6,false,139****5678,\"两行\n说明\"\r\n\
         G5003,成雅高速,,,,,,136****5432,\r\n",
        "masked phone numbers, ISO dates, true/false, NULL as empty"
    );
    assert!(!r.body.contains("13800138000"), "the unmasked upload never leaves");
}

#[tokio::test]
async fn the_download_is_the_loaded_table_on_sqlite() {
    the_download_is_the_loaded_table(TestApp::sqlite_with(config(true, None)).await).await;
}

#[tokio::test]
async fn the_download_is_the_loaded_table_on_postgres() {
    if let Some(app) = TestApp::postgres_with(config(true, None)).await {
        the_download_is_the_loaded_table(app).await;
    }
}

#[tokio::test]
async fn large_downloads_arrive_in_chunks_in_file_order() {
    let mut app = TestApp::sqlite_with(config(true, None)).await;
    let w = world(&app).await;
    let mut meta = full_meta("四川省公路桩号");
    meta.fields = vec![
        field("code", "桩号", "code", true, true),
        field("n", "序号", "integer", false, true),
    ];
    let id = create(&app, &w, &meta).await;
    let rows = 10_050;
    let mut csv = String::from("code,n\n");
    for i in 1..=rows {
        csv.push_str(&format!("K{i:06},{i}\n"));
    }
    let dist = upload(&app, &w.editor, id, "stakes.csv", csv.as_bytes()).await;
    publish(&app, &w, id).await;
    let name = app.store.resource(id).await.unwrap().unwrap().code.to_ascii_lowercase();
    let r = app.get(&download_path(&name, dist)).await;
    assert_status(&r, StatusCode::OK, "download");
    let lines: Vec<&str> = r.body.split("\r\n").collect();
    assert_eq!(lines.len(), rows + 2, "header, every row once, and the final line end");
    assert_eq!(lines[0], "code,n");
    assert_eq!(lines[10_000], "K010000,10000");
    assert_eq!(lines[10_001], "K010001,10001", "the second chunk follows the first");
    assert_eq!(lines[rows], format!("K{rows:06},{rows}"));
}

// ---------------------------------------------------------------------------------------------
// DCAT-AP.

#[tokio::test]
async fn dcat_describes_every_metadata_element() {
    let mut app = TestApp::sqlite_with(config(false, Some(PORTAL))).await;
    let w = world(&app).await;
    let (_, name, dist, api) = sections(&app, &w, &full_meta("四川省高速公路路段")).await;
    let code = name.to_ascii_uppercase();
    let r = app.get(&format!("/dataset/{name}.jsonld")).await;
    assert_status(&r, StatusCode::OK, "JSON-LD");
    assert_eq!(r.header(header::CONTENT_TYPE), "application/ld+json");
    let t = triples(&r.body);
    let ds = format!("<{PORTAL}/dataset/{name}#dataset>");
    let ds = ds.as_str();
    let eu = "http://publications.europa.eu/resource/authority";
    assert_has(&t, ds, "rdf:type", "dcat:Dataset");
    assert_has(&t, ds, "dct:title", "\"四川省高速公路路段\"@zh");
    assert_has(&t, ds, "dct:title", "\"Expressway sections of Sichuan\"@en");
    assert_has(
        &t,
        ds,
        "dct:description",
        "\"四川省高速公路路段的编号、名称、通车日期、里程与车道数，按半年更新。\"@zh",
    );
    assert_has(&t, ds, "dct:identifier", &format!("\"{code}\""));
    let publisher = format!("<{PORTAL}/organization/008693034>");
    assert_has(&t, ds, "dct:publisher", &publisher);
    assert_has(&t, &publisher, "rdf:type", "foaf:Agent");
    assert_has(&t, &publisher, "foaf:name", "\"四川省交通运输厅\"@zh");
    for theme in [
        format!("<{eu}/data-theme/TRAN>"),
        format!("<{PORTAL}/domains/transport>"),
        format!("<{PORTAL}/industries/G>"),
    ] {
        assert_has(&t, ds, "dcat:theme", &theme);
        assert_has(&t, &theme, "rdf:type", "skos:Concept");
    }
    assert_has(
        &t,
        &format!("<{PORTAL}/domains/transport>"),
        "skos:prefLabel",
        "\"道路交通\"@zh",
    );
    assert_has(&t, ds, "dct:accrualPeriodicity", &format!("<{eu}/frequency/ANNUAL_2>"));
    let place = format!("<{PORTAL}/regions/510000>");
    assert_has(&t, ds, "dct:spatial", &place);
    assert_has(&t, &place, "rdf:type", "dct:Location");
    let period = objects(&t, ds, "dct:temporal");
    assert_eq!(period.len(), 1);
    let xsd_date = "<http://www.w3.org/2001/XMLSchema#date>";
    assert_has(&t, &period[0], "rdf:type", "dct:PeriodOfTime");
    assert_has(&t, &period[0], "dcat:startDate", &format!("\"2020-01-01\"^^{xsd_date}"));
    assert_has(&t, &period[0], "dcat:endDate", &format!("\"2025-12-31\"^^{xsd_date}"));
    assert_has(&t, ds, "dcat:keyword", "\"高速公路\"@zh");
    assert_has(&t, ds, "dcat:keyword", "\"路段\"@zh");
    let contact = objects(&t, ds, "dcat:contactPoint");
    assert_eq!(contact.len(), 1);
    assert_has(&t, &contact[0], "rdf:type", "vcard:Kind");
    assert_has(&t, &contact[0], "vcard:hasEmail", "<mailto:open@jt.sc.gov.cn>");
    let phone = objects(&t, &contact[0], "vcard:hasTelephone");
    assert_has(&t, &phone[0], "vcard:hasValue", "<tel:+86-2886001234>");
    assert_has(&t, ds, "dct:accessRights", &format!("<{eu}/access-right/PUBLIC>"));
    let issued = objects(&t, ds, "dct:issued");
    assert!(
        issued.len() == 1 && issued[0].ends_with("Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime>"),
        "{issued:?}"
    );
    assert_eq!(objects(&t, ds, "dct:modified").len(), 1);
    assert_has(&t, ds, "dcat:landingPage", &format!("<{PORTAL}/dataset/{name}>"));
    assert_has(
        &t,
        ds,
        "dct:relation",
        &format!("<{PORTAL}/dataset/510000-008693034-000099#dataset>"),
    );

    let file = format!("<{PORTAL}/dataset/{name}#distribution-{dist}>");
    assert_has(&t, ds, "dcat:distribution", &file);
    assert_has(&t, &file, "rdf:type", "dcat:Distribution");
    assert_has(&t, &file, "dcat:accessURL", &format!("<{PORTAL}/dataset/{name}>"));
    assert_has(
        &t,
        &file,
        "dcat:downloadURL",
        &format!("<{PORTAL}/dataset/{name}/resource/{dist}/download>"),
    );
    assert_has(&t, &file, "dct:format", &format!("<{eu}/file-type/CSV>"));
    assert_has(
        &t,
        &file,
        "dcat:mediaType",
        "<http://www.iana.org/assignments/media-types/text/csv>",
    );
    assert_has(&t, &file, "dct:license", &format!("<{eu}/licence/CC_BY_4_0>"));
    assert_has(&t, &file, "dct:title", "\"sections.csv\"");
    // Size and checksum of the published copy (the masked CSV), never the upload's.
    let copy = app.store.distribution(dist).await.unwrap().unwrap();
    assert_eq!(
        objects(&t, &file, "dcat:byteSize"),
        vec![format!(
            "\"{}\"^^<http://www.w3.org/2001/XMLSchema#nonNegativeInteger>",
            copy.export_bytes.unwrap()
        )]
    );
    assert_ne!(copy.export_bytes, copy.size_bytes);
    let api_dist = format!("<{PORTAL}/dataset/{name}#distribution-{api}>");
    assert_has(&t, ds, "dcat:distribution", &api_dist);
    assert_has(
        &t,
        &api_dist,
        "dcat:accessURL",
        "<https://api.example.gov.cn/roads?kind=expressway>",
    );
    assert!(
        objects(&t, &api_dist, "dcat:downloadURL").is_empty(),
        "an API has no download"
    );

    // The same description in the other syntaxes, and by content negotiation.
    let ttl = app.get(&format!("/dataset/{name}.ttl")).await;
    assert_eq!(ttl.header(header::CONTENT_TYPE), "text/turtle; charset=utf-8");
    assert!(ttl.body.contains(&format!("{ds} a dcat:Dataset ;")), "{}", ttl.body);
    assert!(ttl.body.contains("dct:title \"Expressway sections of Sichuan\"@en"));
    let xml = app.get(&format!("/dataset/{name}.rdf")).await;
    assert_eq!(xml.header(header::CONTENT_TYPE), "application/rdf+xml; charset=utf-8");
    assert!(xml.body.contains(&format!(
        "<rdf:Description rdf:about=\"{PORTAL}/dataset/{name}#dataset\">"
    )));
    let negotiated = app
        .get_with(&format!("/dataset/{name}"), &[(header::ACCEPT, "text/turtle")])
        .await;
    assert_eq!(negotiated.body, ttl.body);
    assert_eq!(negotiated.header(header::VARY), "Accept");
    let page = app
        .get_with(
            &format!("/dataset/{name}"),
            &[(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")],
        )
        .await;
    assert_status(&page, StatusCode::OK, "the dataset page");
    assert!(page.header(header::CONTENT_TYPE).starts_with("text/html"));
}

#[tokio::test]
async fn conditional_data_is_restricted_and_unpublished_data_is_not_described() {
    let mut app = TestApp::sqlite().await;
    let w = world(&app).await;
    let mut meta = full_meta("四川省高速公路收费站流量");
    meta.open_type = "conditional".into();
    meta.open_conditions = "仅用于交通规划研究，须签署数据使用承诺书".into();
    let (_, name, dist, _) = sections(&app, &w, &meta).await;
    let t = triples(&app.get(&format!("/dataset/{name}.jsonld")).await.body);
    let ds = format!("<http://127.0.0.1:8080/dataset/{name}#dataset>");
    assert_has(
        &t,
        &ds,
        "dct:accessRights",
        "<http://publications.europa.eu/resource/authority/access-right/RESTRICTED>",
    );
    let file = format!("<http://127.0.0.1:8080/dataset/{name}#distribution-{dist}>");
    let rights = objects(&t, &file, "dct:rights");
    assert_has(
        &t,
        &rights[0],
        "rdfs:label",
        "\"仅用于交通规划研究，须签署数据使用承诺书\"@zh",
    );

    let draft = create(&app, &w, &full_meta("四川省高速公路服务区")).await;
    let draft_name = app
        .store
        .resource(draft)
        .await
        .unwrap()
        .unwrap()
        .code
        .to_ascii_lowercase();
    for path in [
        format!("/dataset/{draft_name}.ttl"),
        format!("/dataset/{draft_name}.jsonld"),
        format!("/dataset/{draft_name}/datapackage.json"),
    ] {
        assert_status(&app.get(&path).await, StatusCode::NOT_FOUND, &path);
    }
    let r = app.get("/catalog.ttl").await;
    assert!(r.body.contains(&name) && !r.body.contains(&draft_name), "{}", r.body);
}

#[tokio::test]
async fn strings_are_escaped_in_every_syntax() {
    let mut app = TestApp::sqlite().await;
    let w = world(&app).await;
    let mut meta = full_meta("路段 \"引号\" \\反斜杠 <b>&amp;");
    meta.summary = "第一行说明四川省高速公路路段的情况。\n第二行：\"引号\"、\\、<标签>、&符号。".into();
    let (_, name, _, _) = sections(&app, &w, &meta).await;

    let ttl = app.get(&format!("/dataset/{name}.ttl")).await.body;
    assert!(
        ttl.contains(r#"dct:title "路段 \"引号\" \\反斜杠 <b>&amp;"@zh ;"#),
        "{ttl}"
    );
    assert!(
        ttl.contains(
            r#"dct:description "第一行说明四川省高速公路路段的情况。\n第二行：\"引号\"、\\、<标签>、&符号。"@zh ;"#
        ),
        "{ttl}"
    );
    let xml = app.get(&format!("/dataset/{name}.rdf")).await.body;
    assert!(
        xml.contains("<dct:title xml:lang=\"zh\">路段 \"引号\" \\反斜杠 &lt;b&gt;&amp;amp;</dct:title>"),
        "{xml}"
    );
    assert!(
        xml.contains("<dct:description xml:lang=\"zh\">第一行说明四川省高速公路路段的情况。\n第二行：\"引号\"、\\、&lt;标签&gt;、&amp;符号。</dct:description>"),
        "{xml}"
    );
    let t = triples(&app.get(&format!("/dataset/{name}.jsonld")).await.body);
    let ds = format!("<http://127.0.0.1:8080/dataset/{name}#dataset>");
    assert_has(&t, &ds, "dct:title", &format!("\"{}\"@zh", meta.title));
    assert_has(&t, &ds, "dct:description", &format!("\"{}\"@zh", meta.summary));
}

/// The reference RDF parser reads the escaped text back exactly, to one graph in all three
/// syntaxes (needs `PUBDATA_PYTHON` with rdflib, as CI installs it).
#[tokio::test]
async fn escaped_text_reads_back_with_rdflib() {
    let Ok(python) = std::env::var("PUBDATA_PYTHON") else {
        assert!(
            std::env::var("PUBDATA_TEST_STRICT").as_deref() != Ok("1"),
            "strict mode needs PUBDATA_PYTHON with rdflib installed"
        );
        eprintln!("SKIP rdflib round trip: PUBDATA_PYTHON (a Python with rdflib) is not set");
        return;
    };
    let mut app = TestApp::sqlite().await;
    let w = world(&app).await;
    let mut meta = full_meta("路段 \"引号\" \\反斜杠 <b>&amp; ]]> '单引号'");
    meta.summary =
        "第一行说明四川省高速公路路段的情况。\r\n第二行：\"\"\"三引号\"\"\"、\\、<标签>、&符号、\t制表。".into();
    meta.tags = vec!["a\"b".into(), "c\\d".into(), "<e>".into()];
    let (_, name, _, _) = sections(&app, &w, &meta).await;
    let dir = std::env::temp_dir().join(format!("pubdata_rdflib_{}_{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for ext in ["ttl", "jsonld", "rdf"] {
        let body = app.get(&format!("/dataset/{name}.{ext}")).await.body;
        let path = dir.join(format!("d.{ext}"));
        std::fs::write(&path, body).unwrap();
        files.push(path);
    }
    let script = r#"
import sys, rdflib
from rdflib import Literal, URIRef
from rdflib.compare import isomorphic
g = [rdflib.Graph().parse(f, format=fmt) for f, fmt in
     ((sys.argv[1], "turtle"), (sys.argv[2], "json-ld"), (sys.argv[3], "xml"))]
assert isomorphic(g[0], g[1]) and isomorphic(g[0], g[2]), "graphs differ"
dct = rdflib.Namespace("http://purl.org/dc/terms/")
for x in g:
    assert Literal(sys.argv[4], lang="zh") in set(x.objects(None, dct.title)), list(x.objects(None, dct.title))
    assert Literal(sys.argv[5], lang="zh") in set(x.objects(None, dct.description))
print("ok", len(g[0]))
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .args(&files)
        .args([&meta.title, &meta.summary])
        .output()
        .expect("run python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.starts_with("ok"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn identifiers_follow_the_public_url_or_the_host() {
    let mut app = TestApp::sqlite().await;
    let w = world(&app).await;
    let (_, name, _, _) = sections(&app, &w, &full_meta("四川省高速公路路段")).await;
    let r = app
        .get_with("/catalog.ttl", &[(header::HOST, "portal.test:8080")])
        .await;
    assert!(
        r.body.contains(&format!(
            "dcat:dataset <http://portal.test:8080/dataset/{name}#dataset>"
        )),
        "{}",
        r.body
    );
    let r = app.get_with("/catalog.ttl", &[(header::HOST, "evil\"host><x")]).await;
    assert!(
        r.body.contains("<http://127.0.0.1:8080/catalog> a dcat:Catalog"),
        "a malformed Host is not trusted: {}",
        r.body
    );
    let mut configured = TestApp::sqlite_with(config(false, Some("https://data.example.gov.cn/"))).await;
    let w = world(&configured).await;
    sections(&configured, &w, &full_meta("四川省高速公路路段")).await;
    let r = configured
        .get_with("/catalog.ttl", &[(header::HOST, "portal.test:8080")])
        .await;
    assert!(
        r.body.contains("<https://data.example.gov.cn/catalog> a dcat:Catalog"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("portal.test"));
}

#[tokio::test]
async fn the_catalog_pages_with_hydra_links() {
    let mut app = TestApp::sqlite_with(config(false, Some(PORTAL))).await;
    let w = world(&app).await;
    for i in 0..101 {
        let mut meta = full_meta(&format!("四川省高速公路路段 {i}"));
        meta.related = Vec::new();
        let id = create(&app, &w, &meta).await;
        let api = NewApi {
            title: "路段查询接口".into(),
            url: format!("https://api.example.gov.cn/roads/{i}"),
            ..Default::default()
        };
        ingest::add_api(&app.store, &w.editor, id, &api).await.expect("api");
        publish(&app, &w, id).await;
    }
    let r = app.get("/catalog.jsonld").await;
    assert_status(&r, StatusCode::OK, "page 1");
    let t = triples(&r.body);
    let catalog = format!("<{PORTAL}/catalog>");
    assert_has(&t, &catalog, "rdf:type", "dcat:Catalog");
    assert_has(&t, &catalog, "dct:title", "\"公共数据开放平台\"@zh");
    assert_has(
        &t,
        &catalog,
        "dct:publisher",
        &format!("<{PORTAL}/organization/m000100y4>"),
    );
    assert_has(&t, &catalog, "foaf:homepage", &format!("<{PORTAL}/>"));
    assert_eq!(objects(&t, &catalog, "dcat:dataset").len(), 100);
    let page = |n: i64| format!("<{PORTAL}/catalog.jsonld?page={n}>");
    let first = page(1);
    assert_has(&t, &first, "rdf:type", "hydra:PagedCollection");
    assert_has(&t, &first, "rdf:type", "hydra:PartialCollectionView");
    assert_has(&t, &first, "hydra:first", &page(1));
    assert_has(&t, &first, "hydra:next", &page(2));
    assert_has(&t, &first, "hydra:last", &page(2));
    assert!(objects(&t, &first, "hydra:previous").is_empty());
    assert_has(
        &t,
        &first,
        "hydra:totalItems",
        "\"101\"^^<http://www.w3.org/2001/XMLSchema#integer>",
    );
    assert_has(
        &t,
        &first,
        "hydra:itemsPerPage",
        "\"100\"^^<http://www.w3.org/2001/XMLSchema#integer>",
    );

    let t = triples(&app.get("/catalog.jsonld?page=2").await.body);
    assert_eq!(objects(&t, &catalog, "dcat:dataset").len(), 1);
    assert_has(&t, &page(2), "hydra:previous", &page(1));
    assert!(objects(&t, &page(2), "hydra:next").is_empty());
    let ttl = app.get("/catalog.ttl?page=2").await.body;
    assert!(!ttl.contains("hydra:next"), "{ttl}");
    assert!(
        ttl.contains(&format!("hydra:previous <{PORTAL}/catalog.ttl?page=1>")),
        "{ttl}"
    );

    assert_status(
        &app.get("/catalog.ttl?page=3").await,
        StatusCode::NOT_FOUND,
        "past the end",
    );
    assert_status(
        &app.get("/catalog.rdf?page=0").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "page 0",
    );
    assert_status(
        &app.get("/catalog.rdf?page=two").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "page two",
    );
    let r = app
        .get_with("/catalog", &[(header::ACCEPT, "application/rdf+xml")])
        .await;
    assert!(
        r.header(header::CONTENT_TYPE).starts_with("application/rdf+xml"),
        "{}",
        r.body
    );
    let r = app.get("/catalog").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/catalogue"));
}

// ---------------------------------------------------------------------------------------------
// Data packages.

#[tokio::test]
async fn the_data_package_describes_the_csv_download() {
    let mut app = TestApp::sqlite_with(config(true, Some(PORTAL))).await;
    let w = world(&app).await;
    let (_, name, dist, _) = sections(&app, &w, &full_meta("四川省高速公路路段")).await;
    let r = app.get(&format!("/dataset/{name}/datapackage.json")).await;
    assert_status(&r, StatusCode::OK, "data package");
    let pkg = r.json();
    assert_eq!(pkg["name"], json!(name));
    assert_eq!(pkg["title"], "四川省高速公路路段");
    assert_eq!(pkg["profile"], "tabular-data-package");
    assert_eq!(pkg["homepage"], json!(format!("{PORTAL}/dataset/{name}")));
    assert_eq!(pkg["keywords"], json!(["高速公路", "路段"]));
    assert_eq!(pkg["licenses"][0]["name"], "CC-BY-4.0");
    assert_eq!(
        pkg["contributors"][0],
        json!({"title": "四川省交通运输厅", "role": "publisher", "email": "open@jt.sc.gov.cn"})
    );
    let resources = pkg["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 1, "the file, not the API");
    let res = &resources[0];
    assert_eq!(res["name"], json!(format!("{name}-v1")));
    assert_eq!(
        res["path"],
        json!(format!("{PORTAL}/dataset/{name}/resource/{dist}/download"))
    );
    assert_eq!(
        (res["format"].clone(), res["mediatype"].clone(), res["encoding"].clone()),
        (json!("csv"), json!("text/csv"), json!("utf-8"))
    );
    // Size and hash describe the published copy the path serves, not the upload.
    let copy = app.store.distribution(dist).await.unwrap().unwrap();
    assert_eq!(res["bytes"], json!(copy.export_bytes.unwrap()));
    assert_eq!(res["hash"], json!(format!("sha256:{}", copy.export_sha256.unwrap())));
    assert_ne!(copy.export_bytes, copy.size_bytes);
    let fields: Vec<(String, String)> = res["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("code", "string"),
        ("name", "string"),
        ("opened", "date"),
        ("updated", "datetime"),
        ("length_km", "number"),
        ("lanes", "integer"),
        ("toll", "boolean"),
        ("phone", "string"),
        ("note", "string"),
    ];
    assert_eq!(
        fields,
        expected.map(|(a, b)| (a.to_string(), b.to_string())),
        "the CSV's header, in order; the masked phone column is text"
    );
    let schema = &res["schema"];
    let by_name: HashMap<&str, &Value> = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f))
        .collect();
    assert_eq!(by_name["code"]["title"], "路段编号");
    assert_eq!(by_name["code"]["constraints"], json!({"required": true}));
    assert_eq!(by_name["name"]["constraints"], json!({"required": true}));
    assert!(by_name["opened"].get("constraints").is_none());
    assert_eq!(by_name["updated"]["format"], "%Y-%m-%d %H:%M:%S");
    assert_eq!(schema["primaryKey"], json!(["code"]));

    // The values parse as declared: the CSV's date-times have the declared shape.
    let csv = app.get(&download_path(&name, dist)).await.body;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, expected.map(|(a, _)| a.to_string()));
    for rec in reader.records() {
        let rec = rec.unwrap();
        let updated = &rec[3];
        assert!(
            updated.is_empty()
                || (updated.len() == 19 && updated.as_bytes()[10] == b' ' && updated.as_bytes()[13] == b':'),
            "{updated}"
        );
        assert!(rec[6].is_empty() || ["true", "false"].contains(&&rec[6]));
    }
}

#[tokio::test]
async fn a_required_field_with_gaps_is_not_claimed_required() {
    let mut app = TestApp::sqlite().await;
    let w = world(&app).await;
    let mut meta = full_meta("四川省高速公路路段");
    meta.fields = vec![
        field("code", "路段编号", "code", true, true),
        field("lanes", "车道数", "integer", false, true),
    ];
    let id = create(&app, &w, &meta).await;
    upload(&app, &w.editor, id, "s.csv", b"code,lanes\nG1,4\nG1,six\nG2,\n").await;
    publish(&app, &w, id).await;
    let name = app.store.resource(id).await.unwrap().unwrap().code.to_ascii_lowercase();
    let pkg = app.get(&format!("/dataset/{name}/datapackage.json")).await.json();
    let schema = &pkg["resources"][0]["schema"];
    assert!(schema.get("primaryKey").is_none(), "G1 repeats: {schema}");
    assert!(
        schema["fields"][1].get("constraints").is_none(),
        "lanes has gaps: {schema}"
    );
    assert_eq!(schema["fields"][0]["constraints"], json!({"required": true}));
}

/// The reference validator accepts the typed package: `frictionless validate` reads the
/// downloaded CSV (saved beside the descriptor) against the generated Table Schema, so every
/// date, date-time, number, integer, boolean, required value and key must parse as declared.
#[tokio::test]
async fn frictionless_accepts_a_typed_package() {
    let Some(frictionless) = std::env::var_os("PUBDATA_PYTHON")
        .map(std::path::PathBuf::from)
        .and_then(|p| p.parent().map(|d| d.join("frictionless")))
        .filter(|p| p.is_file())
    else {
        assert!(
            std::env::var("PUBDATA_TEST_STRICT").as_deref() != Ok("1"),
            "strict mode needs PUBDATA_PYTHON with frictionless beside it"
        );
        eprintln!("SKIP frictionless on a typed package: PUBDATA_PYTHON (with frictionless) is not set");
        return;
    };
    let mut app = TestApp::sqlite_with(config(true, Some(PORTAL))).await;
    let w = world(&app).await;
    let (_, name, dist, _) = sections(&app, &w, &full_meta("四川省高速公路路段")).await;
    let mut pkg = app.get(&format!("/dataset/{name}/datapackage.json")).await.json();
    let csv = app.get(&download_path(&name, dist)).await.body;
    let dir = std::env::temp_dir().join(format!("pubdata_frictionless_{}_{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("sections.csv"), csv).unwrap();
    pkg["resources"][0]["path"] = json!("sections.csv");
    std::fs::write(dir.join("datapackage.json"), pkg.to_string()).unwrap();
    let out = std::process::Command::new(frictionless)
        .args(["validate", "--json", "datapackage.json"])
        .current_dir(&dir)
        .output()
        .expect("run frictionless");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(out.status.success() && report["valid"] == true, "{text}");
    assert_eq!(report["tasks"][0]["stats"]["rows"], 3, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The published copy is served with its sha256 as ETag, resumes from a byte range, answers
/// `If-None-Match` with 304 and a range past the end with 416; every download is logged.
#[tokio::test]
async fn downloads_resume_by_range_and_are_logged() {
    let app = TestApp::sqlite().await;
    let w = world(&app).await;
    let (id, name, dist, _) = sections(&app, &w, &full_meta("四川省高速公路路段")).await;
    let d = app.store.distribution(dist).await.unwrap().unwrap();
    let sha = d.export_sha256.clone().expect("the published copy was written");
    let size = d.export_bytes.expect("its size") as usize;
    app.consumer("wang.wu").await;
    let user = app.store.user_by_login("wang.wu").await.unwrap().unwrap();
    let who = Caller {
        actor: actor_for(&user),
        label: "wang.wu".into(),
        ip: None,
    };
    let grant = pubdata_service::access::accept_terms(&app.store, &who, id, true)
        .await
        .unwrap();
    let mut consumer = logged_in(&app, "wang.wu").await;
    let path = download_path(&name, dist);

    let whole = consumer.get(&path).await;
    assert_status(&whole, StatusCode::OK, "download");
    assert_eq!(whole.header(header::ETAG), format!("\"{sha}\""));
    assert_eq!(whole.header(header::ACCEPT_RANGES), "bytes");
    assert_eq!(whole.body.len(), size);
    assert!(whole.body.contains("138****8000") && !whole.body.contains("13800138000"));
    let bytes = whole.body.as_bytes();

    let part = consumer.get_with(&path, &[(header::RANGE, "bytes=10-29")]).await;
    assert_status(&part, StatusCode::PARTIAL_CONTENT, "range");
    assert_eq!(part.header(header::CONTENT_RANGE), format!("bytes 10-29/{size}"));
    assert_eq!(part.body.as_bytes(), &bytes[10..30]);
    let tail = consumer.get_with(&path, &[(header::RANGE, "bytes=-5")]).await;
    assert_eq!(tail.body.as_bytes(), &bytes[size - 5..]);
    // Another file's tag in If-Range: the whole (new) file, not a piece of it.
    let stale = consumer
        .get_with(&path, &[(header::RANGE, "bytes=0-4"), (header::IF_RANGE, "\"old\"")])
        .await;
    assert_status(&stale, StatusCode::OK, "if-range mismatch");

    let etag = format!("\"{sha}\"");
    let same = consumer.get_with(&path, &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_status(&same, StatusCode::NOT_MODIFIED, "if-none-match");
    assert!(same.body.is_empty());
    let past = consumer
        .get_with(&path, &[(header::RANGE, &format!("bytes={size}-"))])
        .await;
    assert_status(&past, StatusCode::RANGE_NOT_SATISFIABLE, "range past the end");
    assert_eq!(past.header(header::CONTENT_RANGE), format!("bytes */{size}"));
    assert!(past.body.contains("字节"), "{}", past.body);

    // Three downloads sent data (whole, part, tail, the If-Range one); 304 and 416 sent none.
    let user = app.store.user_by_login("wang.wu").await.unwrap().unwrap();
    let log = app.store.downloads_of(user.id, 10).await.unwrap();
    let sent: Vec<i64> = log.iter().rev().map(|l| l.bytes).collect();
    assert_eq!(sent, vec![size as i64, 20, 5, size as i64]);
    assert!(log
        .iter()
        .all(|l| l.resource_id == id && l.distribution_id == dist && l.grant_id == Some(grant)));
}
