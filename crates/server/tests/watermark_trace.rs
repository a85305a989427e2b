//! The traceable watermark end to end, on SQLite and PostgreSQL: two consumers are granted the
//! same conditional data and download it through the real router — one with all rows, made from
//! the published copy, one under a row filter, read from the datastore; each copy has its
//! grant's row order; leaked copies of either — a third of the rows with a column dropped in
//! GB18030, a spreadsheet re-save, a random sample of 1,000 rows — are traced to their grant and
//! nobody else's. Both ways of making a download give the same bytes for the same grant.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{TestApp, PASSWORD};
use pubdata_core::application::{Action, NewApplication, NewScope};
use pubdata_core::calendar::{Date, WorkCalendar};
use pubdata_core::metadata::NewResourceMeta;
use pubdata_core::org::NewOrg;
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::user::NewUser;
use pubdata_service::access::{self, AccessSettings};
use pubdata_service::accounts::{self, actor_for, NewStaff, Registration};
use pubdata_service::download::CsvRows;
use pubdata_service::ingest::{self, UploadInfo};
use pubdata_service::resources::{self, Decision};
use pubdata_service::Caller;
use serde_json::json;

async fn caller(app: &TestApp, login: &str) -> Caller {
    let u = app.store.user_by_login(login).await.unwrap().unwrap();
    Caller {
        actor: actor_for(&u),
        label: login.into(),
        ip: None,
    }
}

fn user(login: &str) -> NewUser {
    NewUser {
        login: login.into(),
        display_name: login.into(),
        email: format!("{login}@example.cn"),
        phone: String::new(),
        password: PASSWORD.into(),
    }
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

async fn staff(app: &TestApp, login: &str, org_id: i64, role: &str) -> Caller {
    let new = NewStaff {
        user: user(login),
        org_id,
        role: role.into(),
    };
    accounts::create_staff(&app.store, &Caller::console(), new)
        .await
        .unwrap();
    caller(app, login).await
}

/// 3,000 rows of made-up but realistic street records.
fn table() -> String {
    let mut csv = String::from("code,name,district,households\n");
    for i in 0..3000 {
        csv.push_str(&format!(
            "5101{:05},第{i}街道,{}区,{}\n",
            i,
            ["锦江", "青羊", "金牛", "武侯", "成华"][i % 5],
            1000 + (i * 37) % 9000
        ));
    }
    csv
}

/// 700 rows whose values need quoting or are empty: quotes, commas, line breaks, Chinese.
fn awkward_table() -> String {
    let mut out = csv::WriterBuilder::new().from_writer(Vec::new());
    out.write_record(["code", "note", "remark", "place"]).unwrap();
    for i in 0..700 {
        let note = match i % 6 {
            0 => format!("他说\"你好\" {i}"),
            1 => format!("a,b,{i}"),
            2 => format!("第一行\r\n第二行 {i}"),
            3 => String::new(),
            4 => format!("  spaced {i} "),
            _ => format!("line\nbreak {i}"),
        };
        let remark = if i % 7 == 0 {
            String::new()
        } else {
            format!("备注{i}")
        };
        let place = if i % 11 == 0 {
            String::new()
        } else {
            format!("成都市,\"{}\"区", i % 9)
        };
        out.write_record([format!("C{i:05}"), note, remark, place]).unwrap();
    }
    String::from_utf8(out.into_inner().unwrap()).unwrap()
}

fn today() -> Date {
    Date::from_unix_millis_cst(pubdata_store::now_ms())
}

/// The people of the story.
struct World {
    editor: Caller,
    prov_reviewer: Caller,
    admin: Caller,
    provider: i64,
}

async fn world(app: &TestApp) -> World {
    let centre = org(app, "admin_institution", "四川省大数据中心", "91350100M000100Y43").await;
    let provider = org(app, "provider", "成都市民政局", "11510000008693034D").await;
    let editor = staff(app, "m.editor", provider, "provider_editor").await;
    let prov_reviewer = staff(app, "m.reviewer", provider, "provider_reviewer").await;
    let admin = staff(app, "a.reviewer", centre, "admin_reviewer").await;
    for login in ["zhao", "qian"] {
        accounts::register_consumer(
            &app.store,
            &Caller::anonymous(None),
            Registration {
                user: user(login),
                org: None,
            },
        )
        .await
        .unwrap();
    }
    World {
        editor,
        prov_reviewer,
        admin,
        provider,
    }
}

/// Publishes `csv` as conditional data with text `fields` (the first a key); returns the
/// resource's id, its name in URLs and the distribution's id.
async fn publish(app: &TestApp, w: &World, fields: serde_json::Value, csv: &str) -> (i64, String, i64) {
    let meta: NewResourceMeta = serde_json::from_value(json!({
        "title": "成都市街道户数", "summary": "成都市各街道的户数统计，供城市规划研究有条件使用。", "domain": "民生服务",
        "open_type": "conditional", "open_conditions": "仅限学术研究使用，须签署数据安全承诺书。", "update_frequency": "yearly",
        "spatial": "510100", "temporal_from": "2024-01-01", "contact_phone": "028-86001234",
        "fields": fields}))
    .unwrap();
    let id = resources::create(&app.store, &w.editor, w.provider, &meta, None)
        .await
        .unwrap();
    let ticket = ingest::begin_upload(&app.store, &w.editor, id, "streets.csv")
        .await
        .unwrap();
    let mut out = app.files.writer(&ticket.key, u64::MAX).await.unwrap();
    out.write(csv.as_bytes()).await.unwrap().unwrap();
    let stored = out.finish().await.unwrap();
    let info = UploadInfo {
        title: "户数".into(),
        change_note: String::new(),
    };
    let dist = ingest::finish_upload(&app.store, &w.editor, &ticket, &stored, &info)
        .await
        .unwrap();
    app.run_jobs().await;
    resources::submit(&app.store, &w.editor, id, &WorkCalendar::official())
        .await
        .unwrap();
    resources::decide(&app.store, &w.admin, id, Decision::Approve(ReviewChecklist::passed()))
        .await
        .unwrap();
    let name = app.store.resource(id).await.unwrap().unwrap().code.to_ascii_lowercase();
    (id, name, dist)
}

/// A consumer applies, the administration institution forwards, the provider approves `fields`
/// (and the rows `filters` allow) from today for 90 days; returns the grant's id.
async fn grant(
    app: &TestApp,
    w: &World,
    login: &str,
    resource: i64,
    fields: &[&str],
    filters: Option<serde_json::Value>,
) -> i64 {
    let consumer = caller(app, login).await;
    let settings = AccessSettings::default();
    let cal = WorkCalendar::official();
    let form: NewApplication = serde_json::from_value(json!({
        "purpose": "研究成都市街道的户数分布。", "scenario": "学术研究，成果仅用于论文。",
        "resources": [{"resource_id": resource, "fields": fields}],
        "period_from": today().add_days(1).to_string(), "period_to": today().add_days(100).to_string(),
        "security_measures": "内网存放，专人管理，项目结束后删除。", "commitment_accepted": true}))
    .unwrap();
    let id = access::save_draft(&app.store, &consumer, None, &form).await.unwrap();
    access::submit(&app.store, &consumer, id, &settings, &cal)
        .await
        .unwrap();
    access::act(
        &app.store,
        &w.admin,
        id,
        Action::Forward { note: String::new() },
        &settings,
        &cal,
    )
    .await
    .unwrap();
    let mut resource_scope = json!({"resource_id": resource, "fields": fields});
    if let Some(f) = filters {
        resource_scope["filters"] = f;
    }
    let scope: NewScope = serde_json::from_value(json!({
        "resources": [resource_scope],
        "valid_from": today().add_days(1).to_string(), "valid_to": today().add_days(90).to_string(),
        "methods": ["download"]}))
    .unwrap();
    let grants = access::approve(&app.store, &w.prov_reviewer, id, &scope, &settings, &cal)
        .await
        .unwrap();
    // Usable from today (the approval could only start tomorrow).
    let mut tx = app.store.begin().await.unwrap();
    tx.set_grant_window(grants[0], Some(&today().to_string()), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    grants[0]
}

/// The file `login` downloads from `path`.
async fn download(app: &TestApp, login: &str, path: &str) -> String {
    let mut b = app.browser();
    b.login(login, PASSWORD).await;
    let r = b.get(path).await;
    assert_eq!(r.status, StatusCode::OK, "{login}: {}", r.body);
    r.body
}

/// A copy's rows as cells (the test tables have no quoted values).
fn cells(copy: &str) -> Vec<Vec<&str>> {
    copy.lines().skip(1).map(|l| l.split(',').collect()).collect()
}

/// The ways a copy leaks, each with a file name telling its format.
fn leaks(copy: &str) -> Vec<(&'static str, Vec<u8>)> {
    let rows = cells(copy);
    // Every third row, without the households column, columns swapped, in GB18030.
    let mut thinned = String::from("name,code,district\n");
    for r in rows.iter().step_by(3) {
        thinned.push_str(&format!("{},{},{}\r\n", r[1], r[0], r[2]));
    }
    let (gb, _, _) = encoding_rs::GB18030.encode(&thinned);
    // Re-saved by a spreadsheet program: a byte-order mark, every field quoted, CRLF.
    let mut resaved = String::from("\u{feff}\"code\",\"name\",\"district\",\"households\"\r\n");
    for r in &rows {
        let quoted: Vec<String> = r.iter().map(|c| format!("\"{c}\"")).collect();
        resaved.push_str(&quoted.join(","));
        resaved.push_str("\r\n");
    }
    // 1,000 rows picked at random, in the copy's order.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut picked = std::collections::BTreeSet::new();
    while picked.len() < 1000 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        picked.insert((seed >> 33) as usize % rows.len());
    }
    let mut sample = String::from("code,name,district,households\n");
    for i in picked {
        sample.push_str(&rows[i].join(","));
        sample.push('\n');
    }
    vec![
        ("a third, a column dropped, GB18030", gb.into_owned()),
        ("re-saved by a spreadsheet", resaved.into_bytes()),
        ("a random sample of 1,000 rows", sample.into_bytes()),
    ]
}

/// Qian's grant covers every row: her download is made from the published copy. Zhao's grant
/// has a row filter: his is read from the datastore. Every leak of each names its grant.
async fn leaked_copies_are_traced_to_their_grant(app: TestApp) {
    let w = world(&app).await;
    let fields = json!([{"name": "code", "title": "代码", "type": "code", "key": true},
                        {"name": "name", "title": "名称", "type": "string"},
                        {"name": "district", "title": "区", "type": "string"},
                        {"name": "households", "title": "户数", "type": "integer"}]);
    let (id, name, dist) = publish(&app, &w, fields, &table()).await;
    let all = ["code", "name", "district", "households"];
    let filter = json!([{"field": "district", "op": "in", "value": "锦江区,青羊区,金牛区,武侯区"}]);
    let g_zhao = grant(&app, &w, "zhao", id, &all, Some(filter)).await;
    let g_qian = grant(&app, &w, "qian", id, &all, None).await;

    let path = format!("/dataset/{name}/resource/{dist}/download");
    let (zhao, qian) = (download(&app, "zhao", &path).await, download(&app, "qian", &path).await);
    // Same values, in each grant's own order; the filter leaves out 成华区.
    let rows = |s: &str| s.lines().skip(1).map(str::to_string).collect::<BTreeSet<_>>();
    assert_eq!(rows(&qian).len(), 3000);
    assert_eq!(rows(&zhao).len(), 2400);
    assert!(rows(&zhao).is_subset(&rows(&qian)));
    assert!(
        rows(&qian).contains("510100042,第42街道,金牛区,2554"),
        "values as loaded"
    );
    assert!(!zhao.contains("成华区"));
    let in_table_order = |s: &str| cells(s).windows(2).all(|w| w[0][0] < w[1][0]);
    assert!(!in_table_order(&qian) && !in_table_order(&zhao), "rows are reordered");
    assert!(qian.starts_with("code,name,district,households\r\n") && qian.ends_with("\r\n"));

    let secret = app_secret(&app);
    for (who, copy, mine, other) in [("qian", &qian, g_qian, g_zhao), ("zhao", &zhao, g_zhao, g_qian)] {
        for (case, bytes) in leaks(copy) {
            let report = pubdata_service::download::trace(&app.store, &secret, &name, &bytes[..], "leaked.csv")
                .await
                .unwrap();
            let named = report
                .matched()
                .unwrap_or_else(|| panic!("{who}, {case}: no decisive match\n{report}"))
                .grant_id
                .clone();
            assert_eq!(named, mine.to_string(), "{who}, {case}: {report}");
            assert_ne!(named, other.to_string());
        }
    }

    // A copy in the table's own order (not from a grant) names nobody.
    let report = pubdata_service::download::trace(&app.store, &secret, &name, table().as_bytes(), "t.csv")
        .await
        .unwrap();
    assert!(report.matched().is_none(), "{report}");
}

#[tokio::test]
async fn leaked_copies_are_traced_to_their_grant_on_sqlite() {
    leaked_copies_are_traced_to_their_grant(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn leaked_copies_are_traced_to_their_grant_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    leaked_copies_are_traced_to_their_grant(app).await;
}

/// All of a `CsvRows` as bytes.
async fn read_all(mut rows: CsvRows) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = rows.next_chunk().await.unwrap() {
        out.extend_from_slice(&chunk);
    }
    out
}

/// A download made from the published copy and one read from the datastore are the same bytes:
/// values with quotes, commas, line breaks, Chinese or nothing, a column dropped.
async fn both_paths_write_the_same_bytes(app: TestApp) {
    let w = world(&app).await;
    let fields = json!([{"name": "code", "title": "代码", "type": "string", "key": true},
                        {"name": "note", "title": "说明", "type": "string"},
                        {"name": "remark", "title": "备注", "type": "string"},
                        {"name": "place", "title": "地点", "type": "string"}]);
    let (id, name, dist) = publish(&app, &w, fields, &awkward_table()).await;
    let g = grant(&app, &w, "qian", id, &["code", "note", "place"], None).await;
    let grant = app.store.grant(g).await.unwrap().unwrap();
    let published = pubdata_service::published::by_name(&app.store, &name).await.unwrap();
    let d = published.dists.iter().find(|d| d.id == dist).unwrap();
    assert!(d.export_key.is_some(), "the published copy exists");
    let secret = app_secret(&app);

    let copied = CsvRows::open_for(&app.store, Some(&app.files), d, Some(&grant), Some(&secret))
        .await
        .unwrap();
    let copied = read_all(copied).await;
    let read = CsvRows::open_for(&app.store, None, d, Some(&grant), Some(&secret))
        .await
        .unwrap();
    let read = read_all(read).await;
    assert_eq!(String::from_utf8_lossy(&copied), String::from_utf8_lossy(&read));
    assert_eq!(copied, read);

    // The router serves the same bytes.
    let served = download(&app, "qian", &format!("/dataset/{name}/resource/{dist}/download")).await;
    assert_eq!(served.as_bytes(), &copied[..]);
    // Its record carries the bytes sent, once the stream ended.
    let qian = app.store.user_by_login("qian").await.unwrap().unwrap().id;
    let logged = app.store.downloads_of(qian, 1).await.unwrap();
    assert_eq!(logged[0].bytes, copied.len() as i64);

    // And they are the granted columns of every row, reordered, values intact.
    let mut reader = csv::ReaderBuilder::new().from_reader(&copied[..]);
    assert_eq!(reader.headers().unwrap(), vec!["code", "note", "place"]);
    let got: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(got.len(), 700);
    let original: Vec<Vec<String>> = csv::Reader::from_reader(awkward_table().as_bytes())
        .records()
        .map(|r| {
            let r = r.unwrap();
            // Loading trims spaces around values.
            vec![r[0].to_string(), r[1].trim().to_string(), r[3].to_string()]
        })
        .collect();
    assert_ne!(got, original, "rows are reordered");
    let sorted = |mut v: Vec<Vec<String>>| {
        v.sort();
        v
    };
    assert_eq!(sorted(got), sorted(original));
    let text = String::from_utf8(copied).unwrap();
    assert!(text.contains("\"他说\"\"你好\"\" 0\""), "quotes doubled inside quotes");
    assert!(
        text.contains("\"第一行\r\n第二行 2\""),
        "line breaks kept inside quotes"
    );
    assert!(text.starts_with("code,note,place\r\n"));
}

#[tokio::test]
async fn both_paths_write_the_same_bytes_on_sqlite() {
    both_paths_write_the_same_bytes(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn both_paths_write_the_same_bytes_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    both_paths_write_the_same_bytes(app).await;
}

/// The application's watermark key (the same derivation the server uses).
fn app_secret(app: &TestApp) -> pubdata_ingest::watermark::WatermarkSecret {
    pubdata_server::watermark_secret(&app.data_dir).unwrap()
}
