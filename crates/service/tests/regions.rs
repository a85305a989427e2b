//! The real national region table from `../shared/data` loads completely on both backends,
//! is searchable by name and code, and loading twice changes nothing.

use std::path::PathBuf;

use pubdata_service::{regions, Caller, Store};
use pubdata_store::OpenOptions;

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if regions::is_region_dir(&dir) {
        return Some(dir);
    }
    assert!(
        std::env::var("PUBDATA_TEST_STRICT").as_deref() != Ok("1"),
        "strict mode needs ../shared/data"
    );
    eprintln!("SKIP region test: {} is absent", dir.display());
    None
}

fn unique(tag: &str) -> String {
    format!("{tag}_{}_{}", std::process::id(), pubdata_store::now_ms())
}

async fn check(store: Store, dir: PathBuf) {
    store.migrate().await.unwrap();
    let report = regions::load_from_dir(&store, &Caller::console(), &dir).await.unwrap();
    assert_eq!(report.read, [31, 342, 2978, 41352, 620573]);
    // 665,276 rows hold 665,273 distinct codes: three codes appear in two files.
    assert_eq!(report.inserted, 665_273);
    assert_eq!(store.count_regions().await.unwrap(), 665_273);

    let sichuan = store.region("510000").await.unwrap().expect("四川省");
    assert_eq!((sichuan.name.as_str(), sichuan.level), ("四川省", 1));
    let found = store.search_regions("成都", 5).await.unwrap();
    assert_eq!(found[0].code, "510100", "the city comes before its streets: {found:?}");
    let by_code = store.search_regions("510104", 3).await.unwrap();
    assert_eq!(by_code[0].code, "510104");
    assert!(
        store.search_regions("%", 5).await.unwrap().is_empty(),
        "wildcards are literal"
    );

    // A village's path runs province → city → county → street → village.
    let path = store.region_path("110101001001").await.unwrap();
    let codes: Vec<_> = path.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["110000", "110100", "110101", "110101001", "110101001001"]);
    assert_eq!(store.child_regions(None).await.unwrap().len(), 31);

    let again = regions::load_from_dir(&store, &Caller::console(), &dir).await.unwrap();
    assert_eq!(again.inserted, 0);
    let refused = regions::load_from_dir(&store, &Caller::anonymous(None), &dir).await;
    assert!(refused.is_err(), "only the console or a sysadmin loads regions");
}

#[tokio::test]
async fn regions_load_on_sqlite() {
    let Some(dir) = data_dir() else { return };
    let db = std::env::temp_dir()
        .join(unique("pubdata_regions"))
        .with_extension("db");
    let store = Store::open(&format!("sqlite://{}?mode=rwc", db.display()), OpenOptions::default())
        .await
        .unwrap();
    check(store, dir).await;
}

#[tokio::test]
async fn regions_load_on_postgres() {
    let Some(dir) = data_dir() else { return };
    let Ok(url) = std::env::var("PUBDATA_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("PUBDATA_TEST_STRICT").as_deref() != Ok("1"),
            "strict mode needs PUBDATA_TEST_DATABASE_URL"
        );
        eprintln!("SKIP PostgreSQL test: PUBDATA_TEST_DATABASE_URL is not set");
        return;
    };
    let opts = OpenOptions {
        pg_schema: Some(unique("regions")),
        ..Default::default()
    };
    check(Store::open(&url, opts).await.unwrap(), dir).await;
}
