//! Shared setup for the service stories: a store on SQLite or PostgreSQL (a schema per test),
//! organisations and staff created through the services as the console would.
#![allow(dead_code)]

use pubdata_core::metadata::{NewField, NewResourceMeta};
use pubdata_core::org::NewOrg;
use pubdata_core::user::NewUser;
use pubdata_service::accounts::{self, actor_for, NewStaff};
use pubdata_service::{Caller, Store};
use pubdata_store::OpenOptions;

pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}_{}_{}_{}",
        std::process::id(),
        pubdata_store::now_ms(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn strict() -> bool {
    std::env::var("PUBDATA_TEST_STRICT").as_deref() == Ok("1")
}

pub async fn sqlite() -> Store {
    let db = std::env::temp_dir().join(unique("pubdata_svc")).with_extension("db");
    let s = Store::open(&format!("sqlite://{}?mode=rwc", db.display()), OpenOptions::default())
        .await
        .unwrap();
    s.migrate().await.unwrap();
    s
}

pub async fn postgres() -> Option<Store> {
    let Ok(url) = std::env::var("PUBDATA_TEST_DATABASE_URL") else {
        assert!(!strict(), "strict mode needs PUBDATA_TEST_DATABASE_URL");
        eprintln!("SKIP PostgreSQL test: PUBDATA_TEST_DATABASE_URL is not set");
        return None;
    };
    let opts = OpenOptions {
        pg_schema: Some(unique("svc")),
        ..Default::default()
    };
    let s = Store::open(&url, opts).await.unwrap();
    s.migrate().await.unwrap();
    Some(s)
}

pub async fn org(store: &Store, kind: &str, name: &str, code: &str) -> i64 {
    let o = NewOrg {
        kind: kind.into(),
        name: name.into(),
        credit_code: code.into(),
        region_code: "510000".into(),
        ..Default::default()
    };
    accounts::create_org(store, &Caller::console(), o).await.unwrap()
}

pub async fn staff(store: &Store, login: &str, org_id: i64, role: &str) -> Caller {
    let user = NewUser {
        login: login.into(),
        display_name: login.into(),
        email: format!("{login}@example.cn"),
        phone: String::new(),
        password: "test-pass-2026".into(),
    };
    let staff = NewStaff {
        user,
        org_id,
        role: role.into(),
    };
    let id = accounts::create_staff(store, &Caller::console(), staff).await.unwrap();
    let u = store.user(id).await.unwrap().unwrap();
    Caller {
        actor: actor_for(&u),
        label: u.login.clone(),
        ip: None,
    }
}

pub fn meta(title: &str) -> NewResourceMeta {
    NewResourceMeta {
        title: title.into(),
        summary: "四川省各乡镇街道的名称与统计用区划代码，按年度更新。".into(),
        domain: "social_development".into(),
        open_type: "unconditional".into(),
        update_frequency: "yearly".into(),
        tags: vec!["区划".into(), "街道".into()],
        ..Default::default()
    }
}

pub fn complete(mut m: NewResourceMeta) -> NewResourceMeta {
    m.spatial = "510000".into();
    m.temporal_from = "2023-01-01".into();
    m.contact_phone = "028-86001234".into();
    m.fields = vec![
        NewField {
            name: "code".into(),
            title: "区划代码".into(),
            field_type: "code".into(),
            key: true,
            required: true,
            ..Default::default()
        },
        NewField {
            name: "name".into(),
            title: "名称".into(),
            field_type: "string".into(),
            ..Default::default()
        },
    ];
    m
}

/// `../shared/data`, or `None` (skip) when absent outside strict mode.
pub fn shared_data() -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.join("streets.csv").is_file() {
        return Some(dir);
    }
    assert!(!strict(), "strict mode needs ../shared/data");
    eprintln!("SKIP: {} is absent", dir.display());
    None
}
