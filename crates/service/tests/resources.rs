//! Steps 1–3 as a story on SQLite and PostgreSQL: a provider plans two items, prepares a
//! resource for one, cannot submit it while anything is missing, submits it; the reviewer
//! returns it with a reason, the provider fixes and resubmits, the reviewer approves; it is
//! published, the plan item follows, the catalogue log records it; then it is withdrawn.

mod common;

use common::{complete, meta, org, staff, unique};
use pubdata_core::calendar::WorkCalendar;
use pubdata_core::plan::{ItemAction, NewPlan, NewPlanItem};
use pubdata_core::resource::{CheckResult, ReviewChecklist};
use pubdata_core::DomainError;
use pubdata_service::ingest::{self, NewApi};
use pubdata_service::resources::{self, Decision};
use pubdata_service::{plans, Store, StoreError};
use pubdata_store::OpenOptions;

fn codes(e: StoreError) -> Vec<String> {
    match e {
        StoreError::Domain(DomainError::Validation(v)) => {
            v.into_iter().map(|f| format!("{}:{}", f.field, f.code)).collect()
        }
        other => panic!("expected validation, got {other:?}"),
    }
}

fn pass() -> ReviewChecklist {
    ReviewChecklist::passed()
}

async fn story(store: Store) {
    store.migrate().await.unwrap();
    let cal = WorkCalendar::official();
    let centre = org(&store, "admin_institution", "四川省大数据中心", "91350100M000100Y43").await;
    let transport = org(&store, "provider", "四川省交通运输厅", "11510000008693034D").await;
    let health = org(&store, "provider", "成都市卫生健康委员会", "91110108551385082Q").await;
    let editor = staff(&store, "chen", transport, "provider_editor").await;
    let manager = staff(&store, "zhang", transport, "provider_manager").await;
    let reviewer = staff(&store, "li.shen", centre, "admin_reviewer").await;
    let outsider = staff(&store, "sun.bian", health, "provider_editor").await;

    // 1. The plan with two items.
    let plan = plans::create_plan(
        &store,
        &editor,
        transport,
        &NewPlan {
            title: "2026 年开放计划".into(),
            period_start: "2026-01-01".into(),
            period_end: "2026-12-31".into(),
            source: "policy".into(),
        },
    )
    .await
    .unwrap();
    let item = |name: &str, date: &str| NewPlanItem {
        name: name.into(),
        domain: "道路交通".into(),
        open_type: "无条件开放".into(),
        planned_date: date.into(),
        notes: String::new(),
        demand_id: None,
    };
    let first = plans::add_item(&store, &editor, plan, &item("乡镇街道区划", "2026-06-30"))
        .await
        .unwrap();
    let second = plans::add_item(&store, &editor, plan, &item("公路里程统计", "2026-09-30"))
        .await
        .unwrap();
    assert!(
        plans::add_item(&store, &outsider, plan, &item("越权条目", "2026-09-30"))
            .await
            .is_err(),
        "other departments cannot plan for us"
    );
    plans::item_action(
        &store,
        &manager,
        second,
        &ItemAction::Cancel {
            reason: "数据源停止采集".into(),
        },
    )
    .await
    .unwrap();

    // 2. A draft for the first item; submitting an incomplete one lists everything missing.
    let id = resources::create(&store, &editor, transport, &meta("四川省乡镇街道"), Some(first))
        .await
        .unwrap();
    let r = resources::get(&store, &editor, id).await.unwrap();
    assert_eq!(
        r.row.code, "510000-008693034-000001",
        "region, organisation code, sequence"
    );
    assert!(
        resources::get(&store, &outsider, id).await.is_err(),
        "unpublished work is hidden from other departments"
    );
    let missing = codes(resources::submit(&store, &editor, id, &cal).await.unwrap_err());
    for want in [
        "fields:no_fields",
        "spatial:required",
        "temporal_from:required",
        "contact_phone:contact_required",
        "distributions:no_distribution",
    ] {
        assert!(missing.contains(&want.to_string()), "missing {want} in {missing:?}");
    }
    resources::update(&store, &editor, id, &complete(meta("四川省乡镇街道")))
        .await
        .unwrap();
    let api = NewApi {
        title: "区划查询接口".into(),
        url: "https://data.example.gov.cn/api/streets".into(),
        params: "code: 区划代码".into(),
        ..Default::default()
    };
    ingest::add_api(&store, &editor, id, &api).await.unwrap();
    let bad = NewApi {
        title: "x".into(),
        url: "ftp://nope".into(),
        method: "DELETE".into(),
        ..Default::default()
    };
    assert_eq!(
        codes(ingest::add_api(&store, &editor, id, &bad).await.unwrap_err()),
        ["title:length", "url:url", "method:http_method"]
    );

    // 3. Submitted: due in five working days; the reviewer is told; the item follows.
    resources::submit(&store, &editor, id, &cal).await.unwrap();
    let r = resources::get(&store, &editor, id).await.unwrap();
    assert_eq!(r.status.key(), "pending_review");
    assert!(r.row.review_due.is_some());
    assert!(
        resources::update(&store, &editor, id, &complete(meta("改名")))
            .await
            .is_err(),
        "no edits under review"
    );
    let queue = resources::review_queue(&store, &reviewer, &cal).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert!(resources::review_queue(&store, &editor, &cal).await.is_err());
    let reviewer_id = reviewer.actor.user_id.unwrap();
    assert_eq!(
        store.notices(reviewer_id, 10).await.unwrap()[0].kind,
        "resource_submitted"
    );
    let items = store.plan_items(plan).await.unwrap();
    assert_eq!(items.iter().find(|i| i.id == first).unwrap().status, "submitted");

    // 4. Returned with a reason: the provider's editor and manager read it in their inbox.
    let mut checklist = pass();
    checklist.security = CheckResult {
        pass: false,
        note: "联系电话为个人手机，请改为单位电话".into(),
    };
    assert!(
        resources::decide(&store, &editor, id, Decision::Approve(pass()))
            .await
            .is_err(),
        "providers do not publish"
    );
    resources::decide(
        &store,
        &reviewer,
        id,
        Decision::Return {
            checklist,
            reasons: vec!["请补充数据项说明".into()],
        },
    )
    .await
    .unwrap();
    let r = resources::get(&store, &editor, id).await.unwrap();
    assert_eq!(r.status.key(), "returned");
    let notice = store
        .notices(editor.actor.user_id.unwrap(), 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (notice.kind.as_str(), notice.reason.as_deref()),
        ("resource_returned", Some("请补充数据项说明"))
    );
    assert_eq!(
        store.notices(manager.actor.user_id.unwrap(), 10).await.unwrap()[0].kind,
        "resource_returned"
    );
    assert_eq!(store.reviews("resource", id).await.unwrap()[0].decision, "returned");

    // 5. Fixed and resubmitted; approved; published; the item is published; the log has it.
    let mut fixed = complete(meta("四川省乡镇街道"));
    fixed.fields[1].description = "乡镇街道的规范名称".into();
    resources::update(&store, &editor, id, &fixed).await.unwrap();
    resources::submit(&store, &editor, id, &cal).await.unwrap();
    resources::decide(&store, &reviewer, id, Decision::Approve(pass()))
        .await
        .unwrap();
    let r = resources::get(&store, &outsider, id).await.unwrap();
    assert_eq!(r.status.key(), "published");
    assert!(r.row.published_at.is_some());
    assert_eq!(resources::catalogue(&store, 10, 0).await.unwrap().len(), 1);
    let items = store.plan_items(plan).await.unwrap();
    assert_eq!(items.iter().find(|i| i.id == first).unwrap().status, "published");
    assert_eq!(items.iter().find(|i| i.id == second).unwrap().status, "cancelled");
    let view = plans::view(&store, &manager, plan).await.unwrap();
    assert_eq!((view.progress.published, view.progress.cancelled), (1, 1));
    let changes = store.catalogue_changes_since(0, 10).await.unwrap();
    assert_eq!(changes, vec![(changes[0].0, id, "published".to_string())]);

    // 6. Withdrawn (下架) with a reason by the provider's manager: off the catalogue, admin told.
    assert!(
        resources::withdraw(&store, &editor, id, "数据有误").await.is_err(),
        "editors do not withdraw"
    );
    resources::withdraw(&store, &manager, id, "发现数据有误，修正后重新发布")
        .await
        .unwrap();
    assert_eq!(
        resources::get(&store, &manager, id).await.unwrap().status.key(),
        "withdrawn"
    );
    assert!(resources::catalogue(&store, 10, 0).await.unwrap().is_empty());
    assert_eq!(
        store.catalogue_changes_since(0, 10).await.unwrap().last().unwrap().2,
        "withdrawn"
    );
    assert_eq!(
        store.notices(reviewer_id, 10).await.unwrap()[0].kind,
        "resource_withdrawn"
    );

    // 7. 不予开放 data can never be submitted.
    let mut closed = complete(meta("内部数据"));
    closed.open_type = "not_open".into();
    let closed_id = resources::create(&store, &editor, transport, &closed, None)
        .await
        .unwrap();
    ingest::add_api(&store, &editor, closed_id, &api).await.unwrap();
    assert!(
        codes(resources::submit(&store, &editor, closed_id, &cal).await.unwrap_err())
            .contains(&"open_type:not_open".to_string())
    );
    resources::delete(&store, &editor, closed_id).await.unwrap();
    assert!(store.resource(closed_id).await.unwrap().is_none());
    assert!(matches!(
        store.verify_audit().await.unwrap(),
        pubdata_store::VerifyReport::Intact { .. }
    ));
}

#[tokio::test]
async fn publishing_story_on_sqlite() {
    let db = std::env::temp_dir()
        .join(unique("pubdata_resources"))
        .with_extension("db");
    story(
        Store::open(&format!("sqlite://{}?mode=rwc", db.display()), OpenOptions::default())
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test]
async fn publishing_story_on_postgres() {
    let Ok(url) = std::env::var("PUBDATA_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("PUBDATA_TEST_STRICT").as_deref() != Ok("1"),
            "strict mode needs PUBDATA_TEST_DATABASE_URL"
        );
        eprintln!("SKIP PostgreSQL test: PUBDATA_TEST_DATABASE_URL is not set");
        return;
    };
    let opts = OpenOptions {
        pg_schema: Some(unique("resources")),
        ..Default::default()
    };
    story(Store::open(&url, opts).await.unwrap()).await;
}

#[test]
fn plan_lists_are_read_from_gbk_csv_and_json() {
    let csv = "资源名称,领域,开放属性,计划日期,备注\n公交线路,道路交通,无条件开放,2026-03-01,\n";
    let (gbk, _, _) = encoding_rs::GB18030.encode(csv);
    let (header, rows) = plans::read_sheet("清单.csv", &gbk).unwrap();
    assert_eq!(header, ["资源名称", "领域", "开放属性", "计划日期", "备注"]);
    assert_eq!(rows, [vec!["公交线路", "道路交通", "无条件开放", "2026-03-01", ""]]);
    let json =
        r#"[{"name": "医院名录", "domain": "health", "open_type": "conditional", "planned_date": "2026-09-30"}]"#;
    let (header, rows) = plans::read_sheet("list.json", json.as_bytes()).unwrap();
    assert_eq!((header.len(), rows[0][0].as_str()), (4, "医院名录"));
    let broken = plans::read_sheet("清单.xlsx", b"PK\x03\x04").unwrap_err();
    assert!(
        matches!(broken, DomainError::Validation(ref v) if v[0].code == "file_unreadable"),
        "{broken:?}"
    );
    assert!(plans::read_sheet("清单.csv", b"").is_err());
}
