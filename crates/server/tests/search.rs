//! Catalogue search through the JSON API and the pages: Chinese words, pinyin, facets, sorting,
//! paging, highlighting, provider and domain pages, and how bad parameters are answered. The
//! index follows the change log: withdrawn resources leave it, and a rebuild gives the same.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, PASSWORD};
use pubdata_core::calendar::WorkCalendar;
use pubdata_core::metadata::NewResourceMeta;
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::user::NewUser;
use pubdata_service::accounts::{self, actor_for, NewStaff};
use pubdata_service::ingest::{self, NewApi};
use pubdata_service::resources::{self, Decision};
use pubdata_service::Caller;
use serde_json::{json, Value};

struct Seeded {
    transport: (Caller, i64),
    health: (Caller, i64),
    reviewer: Caller,
}

async fn staff(app: &TestApp, login: &str, org: i64, role: &str) -> Caller {
    let user = NewUser {
        login: login.into(),
        display_name: login.into(),
        email: format!("{login}@example.cn"),
        phone: String::new(),
        password: PASSWORD.into(),
    };
    let new = NewStaff {
        user,
        org_id: org,
        role: role.into(),
    };
    accounts::create_staff(&app.store, &Caller::console(), new)
        .await
        .expect("staff");
    let u = app.store.user_by_login(login).await.unwrap().unwrap();
    Caller {
        actor: actor_for(&u),
        label: login.into(),
        ip: None,
    }
}

async fn seed(app: &TestApp) -> Seeded {
    let admin = {
        let org = pubdata_core::org::NewOrg {
            kind: "admin_institution".into(),
            name: "四川省大数据中心".into(),
            credit_code: "91350100M000100Y43".into(),
            ..Default::default()
        };
        accounts::create_org(&app.store, &Caller::console(), org).await.unwrap()
    };
    let transport = app.provider("四川省交通运输厅", "11510000008693034D").await;
    let health = app.provider("成都市卫生健康委员会", "11510100009166001X").await;
    Seeded {
        transport: (staff(app, "t.editor", transport, "provider_editor").await, transport),
        health: (staff(app, "h.editor", health, "provider_editor").await, health),
        reviewer: staff(app, "a.reviewer", admin, "admin_reviewer").await,
    }
}

async fn publish(app: &TestApp, s: &Seeded, who: &(Caller, i64), meta: Value) -> i64 {
    let meta: NewResourceMeta = serde_json::from_value(meta).unwrap();
    let id = resources::create(&app.store, &who.0, who.1, &meta, None).await.unwrap();
    let api = NewApi {
        title: "接口".into(),
        url: "https://example.gov.cn/api/x".into(),
        method: "GET".into(),
        ..Default::default()
    };
    ingest::add_api(&app.store, &who.0, id, &api).await.unwrap();
    resources::submit(&app.store, &who.0, id, &WorkCalendar::official())
        .await
        .unwrap();
    resources::decide(
        &app.store,
        &s.reviewer,
        id,
        Decision::Approve(ReviewChecklist::passed()),
    )
    .await
    .unwrap();
    id
}

fn meta(title: &str, summary: &str, domain: &str, tags: &str) -> Value {
    json!({"title": title, "summary": summary, "domain": domain, "open_type": "unconditional",
           "update_frequency": "monthly", "tags": tags, "spatial": "510000", "contact_phone": "028-86001234", "temporal_from": "2024-01-01",
           "fields": [{"name": "code", "title": "单位代码", "type": "code"}]})
}

/// Five resources from two providers in three domains.
async fn catalogue(app: &TestApp) -> (Seeded, Vec<i64>) {
    let s = seed(app).await;
    let mut ids = Vec::new();
    ids.push(
        publish(
            app,
            &s,
            &s.transport,
            meta(
                "住房公积金缴存单位信息",
                "全省住房公积金缴存单位的名称、统一社会信用代码、缴存人数和缴存基数，按月更新。",
                "民生服务",
                "公积金, 住房",
            ),
        )
        .await,
    );
    ids.push(
        publish(
            app,
            &s,
            &s.transport,
            meta(
                "公交线路与站点",
                "全省城市公交线路、站点位置和首末班时间，为出行服务提供基础数据。",
                "道路交通",
                "公交, 出行",
            ),
        )
        .await,
    );
    let mut m = meta(
        "高速公路实时路况",
        "高速公路路段拥堵等级、交通管制和施工信息，每五分钟更新一次。",
        "道路交通",
        "路况, 高速公路",
    );
    m["update_frequency"] = json!("realtime");
    ids.push(publish(app, &s, &s.transport, m).await);
    let mut m = meta(
        "医疗机构名录",
        "成都市各级医疗机构的名称、地址、等级、类别和诊疗科目，<b>含</b>社区卫生服务中心。",
        "卫生健康",
        "医疗机构, 医院",
    );
    m["open_type"] = json!("conditional");
    m["open_conditions"] = json!("仅限用于公共卫生研究");
    m["spatial"] = json!("510100");
    ids.push(publish(app, &s, &s.health, m).await);
    ids.push(
        publish(
            app,
            &s,
            &s.health,
            meta(
                "基层医疗卫生机构公积金缴存情况",
                "成都市基层医疗卫生机构职工住房公积金的缴存情况汇总，供研究使用。",
                "卫生健康",
                "医疗机构",
            ),
        )
        .await,
    );
    app.sync_search().await;
    (s, ids)
}

async fn search(app: &mut TestApp, query: &str) -> Value {
    let r = app
        .api(Method::GET, &format!("/api/v1/search?{query}"), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
    r.json()
}

fn titles(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["title"].as_str().unwrap().to_string())
        .collect()
}

fn facet(v: &Value, name: &str) -> Vec<(String, String, u64)> {
    v["facets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["facet"] == name)
        .map(|f| {
            f["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    (
                        x["value"].as_str().unwrap().to_string(),
                        x["label"].as_str().unwrap().to_string(),
                        x["count"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn chinese_words_pinyin_facets_sorting_and_paging_through_the_api() {
    let mut app = TestApp::sqlite().await;
    let (_s, ids) = catalogue(&app).await;

    let all = search(&mut app, "").await;
    assert_eq!(all["total"], 5);
    // Facet values carry their names in the reader's language, counts over all matches.
    let domains = facet(&all, "domain");
    assert!(
        domains.contains(&("transport".into(), "道路交通".into(), 2)),
        "{domains:?}"
    );
    assert!(
        domains.contains(&("health".into(), "卫生健康".into(), 2)),
        "{domains:?}"
    );
    let providers = facet(&all, "provider");
    assert!(
        providers.contains(&("008693034".into(), "四川省交通运输厅".into(), 3)),
        "{providers:?}"
    );
    let regions: Vec<(String, u64)> = facet(&all, "region").into_iter().map(|(v, _, n)| (v, n)).collect();
    assert_eq!(regions, vec![("510000".to_string(), 4), ("510100".to_string(), 1)]);
    let en = app
        .api(Method::GET, "/api/v1/search?lang=en&facets=domain", None, None)
        .await
        .json();
    assert!(facet(&en, "domain")
        .iter()
        .any(|(v, l, _)| v == "transport" && l != "道路交通"));

    // Chinese words: the title match first, then the summary match; highlights mark the word.
    let r = search(&mut app, &format!("q={}", enc("公积金"))).await;
    let t = titles(&r);
    assert_eq!(r["total"], 2, "{t:?}");
    assert_eq!(t[0], "住房公积金缴存单位信息");
    assert!(r["results"][0]["title_html"].as_str().unwrap().contains("<mark>"));
    // Pinyin spelling and initials find the same.
    for q in ["gongjijin", "gjj"] {
        let r = search(&mut app, &format!("q={q}")).await;
        assert!(titles(&r).contains(&"住房公积金缴存单位信息".to_string()), "{q}: {r}");
    }
    // A facet filter narrows; two values of one facet widen; two facets intersect.
    let r = search(&mut app, &format!("q={}&domain=health", enc("公积金"))).await;
    assert_eq!(titles(&r), vec!["基层医疗卫生机构公积金缴存情况"]);
    let r = search(&mut app, "domain=health&domain=transport").await;
    assert_eq!(r["total"], 4);
    let r = search(&mut app, "domain=transport&update_frequency=realtime").await;
    assert_eq!(titles(&r), vec!["高速公路实时路况"]);
    assert_eq!(search(&mut app, "open_type=conditional").await["total"], 1);

    // Sorting by name, and paging through it without gaps or repeats.
    let by_name = titles(&search(&mut app, "sort=name&limit=5").await);
    let mut sorted = by_name.clone();
    sorted.sort();
    assert_eq!(by_name.len(), 5);
    let mut paged = Vec::new();
    for offset in [0, 2, 4] {
        paged.extend(titles(
            &search(&mut app, &format!("sort=name&limit=2&offset={offset}")).await,
        ));
    }
    assert_eq!(paged, by_name);
    // Newest first when there are no words: the last published leads.
    let newest = search(&mut app, "").await;
    assert_eq!(newest["results"][0]["id"], ids[4]);
    // HTML in a summary is escaped in the snippet.
    let r = search(&mut app, &format!("q={}", enc("医疗机构名录"))).await;
    let snippet = r["results"][0]["snippet_html"].as_str().unwrap();
    assert!(!snippet.contains("<b>") && snippet.contains("&lt;b&gt;"), "{snippet}");
}

#[tokio::test]
async fn bad_search_parameters_are_named_not_failed() {
    let mut app = TestApp::sqlite().await;
    catalogue(&app).await;
    for (query, field) in [
        ("sort=price", "sort"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1000", "limit"),
        ("offset=99999999", "offset"),
        ("facets=colour", "facets"),
        ("colour=red", "colour"),
        ("sort=name%3BDROP%20TABLE%20resources", "sort"),
    ] {
        let r = app
            .api(Method::GET, &format!("/api/v1/search?{query}"), None, None)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", r.body);
        assert!(r.body.contains(field), "{query}: {}", r.body);
    }
    // Odd text is searched as text: quotes, brackets, operators, SQL.
    for q in [
        "\"公积金",
        "((",
        "AND OR NOT",
        "'; DROP TABLE resources; --",
        "🚌 公交",
        "*:*",
    ] {
        let r = app
            .api(Method::GET, &format!("/api/v1/search?q={}", enc(q)), None, None)
            .await;
        assert!(matches!(r.status.as_u16(), 200 | 422), "{q}: {} {}", r.status, r.body);
    }
    assert_eq!(app.store.count_resources(Some("published")).await.unwrap(), 5);
    // The page says what was wrong, in the reader's language.
    let r = app.get("/catalogue?sort=price").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("relevance"), "{}", r.body);
}

#[tokio::test]
async fn pages_search_with_facets_and_link_providers_and_domains() {
    let mut app = TestApp::sqlite().await;
    catalogue(&app).await;

    let r = app.get(&format!("/catalogue?q={}", enc("公积金"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("找到 2 个数据资源"), "{}", r.body);
    assert!(r.body.contains("<mark>"));
    // Facet links toggle a filter without JavaScript.
    assert!(
        r.body
            .contains("href=\"/catalogue?q=%E5%85%AC%E7%A7%AF%E9%87%91&amp;domain=health\"")
            || r.body.contains("domain=health")
    );
    let r = app.get(&format!("/catalogue?q={}&domain=health", enc("公积金"))).await;
    assert!(r.body.contains("找到 1 个数据资源"));
    assert!(r.body.contains("class=\"chip\""));
    // Provider list, provider page, domain page and home page.
    let r = app.get("/org").await;
    assert!(r.body.contains("href=\"/org/008693034\""));
    let r = app.get("/org/008693034").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("四川省交通运输厅") && r.body.contains("已开放 3 个数据资源"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("医疗机构名录"));
    assert_eq!(app.get("/org/nobody").await.status, StatusCode::NOT_FOUND);
    let r = app.get("/domain/health").await;
    assert!(r.body.contains("本领域已开放 2 个数据资源"), "{}", r.body);
    assert_eq!(app.get("/domain/nothing").await.status, StatusCode::NOT_FOUND);
    let r = app.get("/").await;
    assert!(r.body.contains("id=\"newest\"") && r.body.contains("基层医疗卫生机构公积金缴存情况"));
    assert!(r.body.contains("href=\"/domain/transport\""));
    let r = app.get("/catalogue?lang=en").await;
    assert!(r.body.contains("5 data resources found"), "{}", r.body);
}

#[tokio::test]
async fn the_index_follows_withdrawals_and_a_rebuild_gives_the_same_results() {
    let mut app = TestApp::sqlite().await;
    let (s, ids) = catalogue(&app).await;
    resources::withdraw(&app.store, &s.reviewer, ids[0], "数据有误，暂停开放")
        .await
        .unwrap();
    // Before the follower runs, the stale hit is left out rather than shown.
    let r = search(&mut app, &format!("q={}", enc("公积金"))).await;
    assert_eq!(titles(&r), vec!["基层医疗卫生机构公积金缴存情况"]);
    // The counts are the index's until it catches up; the search is then remembered…
    assert_eq!(search(&mut app, "sort=name").await["total"], 5);
    app.sync_search().await;
    // …and forgotten when the index changes.
    let after_sync = search(&mut app, "sort=name").await;
    assert_eq!(after_sync["total"], 4);
    // Downloads of the bus lines resource make it the most downloaded after a rebuild.
    let bus = ids[1];
    let dist = app.store.distributions(bus).await.unwrap()[0].id;
    let mut tx = app.store.begin().await.unwrap();
    for _ in 0..3 {
        tx.insert_download(bus, dist, None, None, 100, None).await.unwrap();
    }
    tx.commit().await.unwrap();
    let n = app.catalogue.rebuild(&app.store).await.unwrap();
    assert_eq!(n, 4);
    assert_eq!(search(&mut app, "sort=downloads").await["results"][0]["id"], bus);
    let rebuilt = search(&mut app, "sort=name").await;
    let ids_of = |v: &Value| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids_of(&rebuilt), ids_of(&after_sync));
    assert_eq!(
        app.catalogue.index.applied_seq(),
        app.store.catalogue_head().await.unwrap()
    );
}

#[tokio::test]
async fn search_works_on_postgres() {
    let Some(mut app) = TestApp::postgres().await else {
        return;
    };
    catalogue(&app).await;
    let r = search(&mut app, &format!("q={}&domain=health", enc("公积金"))).await;
    assert_eq!(titles(&r), vec!["基层医疗卫生机构公积金缴存情况"]);
    assert_eq!(search(&mut app, "").await["total"], 5);
}
