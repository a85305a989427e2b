//! The story, on SQLite and PostgreSQL: a provider plans two items, prepares a resource
//! from real `streets.csv` (the 数据项 inferred from it) and a GBK-encoded copy, masks a column of
//! mobile numbers the scan found (ingesting again) and submits; the reviewer returns it with a
//! reason; the provider fixes and resubmits; the reviewer approves; the resource is published
//! with the right row count and the plan item shows published. A binary file fails clearly.

mod common;

use common::{complete, meta, org, staff, unique};
use pubdata_core::calendar::WorkCalendar;
use pubdata_core::plan::{NewPlan, NewPlanItem};
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::DomainError;
use pubdata_ingest::{MaskMethod, MaskRule};
use pubdata_service::ingest::{self, UploadInfo, INGEST_JOB};
use pubdata_service::jobs::Worker;
use pubdata_service::resources::{self, Decision};
use pubdata_service::{ingest_job, plans, Caller, Store, StoreError};
use pubdata_store::FileStore;

async fn upload(store: &Store, files: &FileStore, who: &Caller, resource: i64, name: &str, bytes: &[u8]) -> i64 {
    let ticket = ingest::begin_upload(store, who, resource, name).await.unwrap();
    let mut w = files.writer(&ticket.key, 1 << 30).await.unwrap();
    for chunk in bytes.chunks(64 * 1024) {
        w.write(chunk).await.unwrap().unwrap();
    }
    let stored = w.finish().await.unwrap();
    let info = UploadInfo {
        title: name.into(),
        change_note: "test".into(),
    };
    ingest::finish_upload(store, who, &ticket, &stored, &info)
        .await
        .unwrap()
}

async fn work(worker: &Worker) {
    while worker.run_once().await.unwrap() {}
}

fn codes(e: StoreError) -> Vec<String> {
    match e {
        StoreError::Domain(DomainError::Validation(v)) => {
            v.into_iter().map(|f| format!("{}:{}", f.field, f.code)).collect()
        }
        other => panic!("expected validation, got {other:?}"),
    }
}

async fn story(store: Store) {
    let Some(data) = common::shared_data() else { return };
    let streets = std::fs::read(data.join("streets.csv")).unwrap();
    let files = FileStore::local(&std::env::temp_dir().join(unique("pubdata_files"))).unwrap();
    let worker =
        Worker::new(store.clone(), "test").handle(INGEST_JOB, ingest_job::handler(files.clone(), b"secret".to_vec()));
    let cal = WorkCalendar::official();
    let centre = org(&store, "admin_institution", "四川省大数据中心", "91350100M000100Y43").await;
    let provider = org(&store, "provider", "四川省民政厅", "11510000008693034D").await;
    let editor = staff(&store, "chen.bian", provider, "provider_editor").await;
    let reviewer = staff(&store, "li.shen", centre, "admin_reviewer").await;

    // The plan: two items; the resource fulfils the first.
    let new_plan = NewPlan {
        title: "2026 年开放计划".into(),
        period_start: "2026-01-01".into(),
        period_end: "2026-12-31".into(),
        source: "policy".into(),
    };
    let plan = plans::create_plan(&store, &editor, provider, &new_plan).await.unwrap();
    let item = |name: &str| NewPlanItem {
        name: name.into(),
        domain: "社会发展".into(),
        open_type: "无条件开放".into(),
        planned_date: "2026-12-31".into(),
        notes: String::new(),
        demand_id: None,
    };
    let streets_item = plans::add_item(&store, &editor, plan, &item("全国乡镇街道区划"))
        .await
        .unwrap();
    let other_item = plans::add_item(&store, &editor, plan, &item("全国村级区划"))
        .await
        .unwrap();

    // A resource without a field dictionary: the first upload infers it.
    let id = resources::create(&store, &editor, provider, &meta("全国乡镇街道"), Some(streets_item))
        .await
        .unwrap();
    let first = upload(&store, &files, &editor, id, "streets.csv", &streets).await;
    assert!(
        ingest::begin_upload(&store, &editor, id, "again.csv").await.is_err(),
        "one ingest at a time"
    );
    work(&worker).await;
    let d = store.distribution(first).await.unwrap().unwrap();
    assert_eq!(
        (d.state.as_str(), d.row_count),
        ("ready", Some(41352)),
        "{:?}",
        d.report
    );
    let table = d.datastore_table.clone().unwrap();
    assert_eq!(store.datastore_row_count(&table).await.unwrap(), 41352);
    let r = resources::get(&store, &editor, id).await.unwrap();
    let names: Vec<_> = r.meta.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["code", "name", "areaCode", "provinceCode", "cityCode"],
        "inferred from the data"
    );

    // Personal data: found, blocks submission until masked; masking ingests again.
    let mut contacts = String::from("code,name,contact\n");
    for i in 0..50 {
        contacts.push_str(&format!("5101040{i:02},街道{i},1380013{i:04}\n"));
    }
    let second = upload(&store, &files, &editor, id, "contacts.csv", contacts.as_bytes()).await;
    work(&worker).await;
    let d2 = store.distribution(second).await.unwrap().unwrap();
    let finding = &d2.report.as_ref().unwrap()["privacy"][0];
    let found = (
        finding["column"].as_str(),
        finding["kind"].as_str(),
        finding["count"].as_u64(),
    );
    assert_eq!(found, (Some("contact"), Some("mobile"), Some(50)));
    assert!(
        !d2.report.as_ref().unwrap().to_string().contains("13800130001"),
        "reports never hold the values"
    );
    resources::update(&store, &editor, id, &complete(meta("全国乡镇街道")))
        .await
        .unwrap();
    let missing = codes(resources::submit(&store, &editor, id, &cal).await.unwrap_err());
    assert!(
        missing.iter().any(|m| m.starts_with("privacy:privacy_unresolved")),
        "{missing:?}"
    );
    let keep = MaskRule {
        column: "contact".into(),
        method: MaskMethod::Keep { first: 3, last: 4 },
    };
    ingest::set_privacy(&store, &editor, second, &[keep], "").await.unwrap();
    assert_eq!(store.distribution(second).await.unwrap().unwrap().state, "ingesting");
    work(&worker).await;
    let d2 = store.distribution(second).await.unwrap().unwrap();
    let rows = store
        .select_rows(d2.datastore_table.as_deref().unwrap(), 2, 1)
        .await
        .unwrap();
    assert_eq!(rows.rows[0][2].as_deref(), Some("138****0001"), "masked as loaded");

    // The same streets in GBK, as the newest version: decoded to the same text.
    let (gbk, _, _) = encoding_rs::GB18030.encode(std::str::from_utf8(&streets).unwrap());
    let third = upload(&store, &files, &editor, id, "streets-gbk.csv", &gbk).await;
    work(&worker).await;
    let d3 = store.distribution(third).await.unwrap().unwrap();
    assert_eq!((d3.state.as_str(), d3.row_count, d3.version), ("ready", Some(41352), 3));
    assert_eq!(d3.report.as_ref().unwrap()["encoding"], "gb18030");
    let rows = store
        .select_rows(d3.datastore_table.as_deref().unwrap(), 1, 0)
        .await
        .unwrap();
    assert_eq!(rows.rows[0][1].as_deref(), Some("东华门街道"));

    // A binary file named .csv fails with a clear reason and blocks submission.
    let bad_resource = resources::create(&store, &editor, provider, &complete(meta("坏文件")), None)
        .await
        .unwrap();
    let bad = upload(
        &store,
        &files,
        &editor,
        bad_resource,
        "image.csv",
        &[0x89, b'P', b'N', b'G', 0, 0, 0, 13, 0, 1, 2],
    )
    .await;
    work(&worker).await;
    let db = store.distribution(bad).await.unwrap().unwrap();
    assert_eq!(db.state, "failed");
    assert_eq!(db.report.as_ref().unwrap()["error"]["code"], "binary_data");
    let missing = codes(
        resources::submit(&store, &editor, bad_resource, &cal)
            .await
            .unwrap_err(),
    );
    assert!(
        missing.contains(&"distributions:ingest_running".to_string()),
        "{missing:?}"
    );

    // Submitted, returned with a reason, fixed, resubmitted, approved: the newest version is
    // the data online, earlier ones stay listed, and the plan item shows published.
    resources::submit(&store, &editor, id, &cal).await.unwrap();
    let reasons = vec!["请为名称字段补充说明".to_string()];
    let returned = Decision::Return {
        checklist: ReviewChecklist::passed(),
        reasons,
    };
    resources::decide(&store, &reviewer, id, returned).await.unwrap();
    let notice = store.notices(editor.actor.user_id.unwrap(), 5).await.unwrap().remove(0);
    assert_eq!(
        (notice.kind.as_str(), notice.reason.as_deref()),
        ("resource_returned", Some("请为名称字段补充说明"))
    );
    let mut fixed = complete(meta("全国乡镇街道"));
    fixed.fields[1].description = "乡镇、街道的规范名称".into();
    resources::update(&store, &editor, id, &fixed).await.unwrap();
    resources::submit(&store, &editor, id, &cal).await.unwrap();
    resources::decide(&store, &reviewer, id, Decision::Approve(ReviewChecklist::passed()))
        .await
        .unwrap();
    assert_eq!(
        resources::get(&store, &editor, id).await.unwrap().status.key(),
        "published"
    );
    let dists = store.distributions(id).await.unwrap();
    let states: Vec<(i64, &str)> = dists.iter().map(|d| (d.version, d.state.as_str())).collect();
    assert_eq!(states, [(3, "ready"), (2, "superseded"), (1, "superseded")]);
    assert_eq!(dists[0].row_count, Some(41352), "published with the right row count");
    let items = store.plan_items(plan).await.unwrap();
    let status = |id: i64| items.iter().find(|i| i.id == id).unwrap().status.clone();
    assert_eq!(
        (status(streets_item), status(other_item)),
        ("published".to_string(), "planned".to_string())
    );
    assert!(matches!(
        store.verify_audit().await.unwrap(),
        pubdata_store::VerifyReport::Intact { .. }
    ));
}

#[tokio::test]
async fn ingest_story_on_sqlite() {
    story(common::sqlite().await).await;
}

#[tokio::test]
async fn ingest_story_on_postgres() {
    if let Some(s) = common::postgres().await {
        story(s).await;
    }
}
