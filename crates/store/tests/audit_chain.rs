//! The audit chain on both backends: appends from concurrent writers stay one chain, and
//! edits, deletions and truncation behind the application's back are found and located.

mod common;

use common::{postgres, sqlite, unique};

use pubdata_core::audit::ChainBreak;
use pubdata_store::{AuditEntry, OpenOptions, Store, VerifyReport};

async fn append(store: &Store, n: usize, who: &str) {
    for i in 0..n {
        let mut tx = store.begin().await.unwrap();
        tx.audit(AuditEntry {
            actor_id: Some(1),
            actor: who,
            client_ip: Some("127.0.0.1"),
            action: "test.event",
            object_type: "thing",
            object_id: format!("{who}-{i}"),
            before: None,
            after: Some(serde_json::json!({"i": i, "名称": "测试"})),
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

async fn tamper_story(store: Store) {
    // Four writers at once must still produce one gapless chain.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let s = store.clone();
            tokio::spawn(async move { append(&s, 10, &format!("w{w}")).await })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(store.verify_audit().await.unwrap(), VerifyReport::Intact { events: 40 });

    // A rolled-back transaction leaves no event and no gap.
    let mut tx = store.begin().await.unwrap();
    tx.audit(AuditEntry {
        actor_id: None,
        actor: "x",
        client_ip: None,
        action: "a",
        object_type: "t",
        object_id: "1".into(),
        before: None,
        after: None,
    })
    .await
    .unwrap();
    drop(tx);
    assert_eq!(store.verify_audit().await.unwrap(), VerifyReport::Intact { events: 40 });

    // Editing a row's content.
    store
        .execute_raw("UPDATE audit_events SET actor = 'mallory' WHERE seq = 17")
        .await
        .unwrap();
    assert_eq!(
        store.verify_audit().await.unwrap(),
        VerifyReport::Broken(ChainBreak::Altered { seq: 17 })
    );
    // ...and recomputing its hash does not help: the next row no longer links to it.
    let bogus = "f".repeat(64);
    store
        .execute_raw(&format!("UPDATE audit_events SET hash = '{bogus}' WHERE seq = 17"))
        .await
        .unwrap();
    assert_eq!(
        store.verify_audit().await.unwrap(),
        VerifyReport::Broken(ChainBreak::Altered { seq: 17 })
    );
}

async fn delete_story(store: Store) {
    append(&store, 12, "w").await;
    store
        .execute_raw("DELETE FROM audit_events WHERE seq = 5")
        .await
        .unwrap();
    assert_eq!(
        store.verify_audit().await.unwrap(),
        VerifyReport::Broken(ChainBreak::Gap { expected: 5, found: 6 })
    );
    // Renumbering to hide the gap breaks the link instead.
    store
        .execute_raw("UPDATE audit_events SET seq = seq - 1 WHERE seq > 5")
        .await
        .unwrap();
    assert_eq!(
        store.verify_audit().await.unwrap(),
        VerifyReport::Broken(ChainBreak::Unlinked { seq: 5 })
    );
}

async fn truncate_story(store: Store) {
    append(&store, 6, "w").await;
    store
        .execute_raw("DELETE FROM audit_events WHERE seq = 6")
        .await
        .unwrap();
    assert_eq!(
        store.verify_audit().await.unwrap(),
        VerifyReport::Broken(ChainBreak::Truncated {
            head_seq: 6,
            last_seq: 5
        })
    );
}

#[tokio::test]
async fn sqlite_concurrent_appends_and_edits() {
    tamper_story(sqlite().await).await;
}

#[tokio::test]
async fn sqlite_deletions() {
    delete_story(sqlite().await).await;
}

#[tokio::test]
async fn sqlite_truncation() {
    truncate_story(sqlite().await).await;
}

#[tokio::test]
async fn postgres_concurrent_appends_and_edits() {
    if let Some(s) = postgres("audit_edit").await {
        tamper_story(s).await;
    }
}

#[tokio::test]
async fn postgres_deletions() {
    if let Some(s) = postgres("audit_delete").await {
        delete_story(s).await;
    }
}

#[tokio::test]
async fn postgres_truncation() {
    if let Some(s) = postgres("audit_trunc").await {
        truncate_story(s).await;
    }
}

#[tokio::test]
async fn migrations_are_idempotent_and_backup_is_consistent() {
    let store = sqlite().await;
    assert!(store.migrate().await.unwrap().is_empty(), "second run applies nothing");
    append(&store, 3, "w").await;
    let target = std::env::temp_dir().join(unique("pubdata_backup")).with_extension("db");
    store.backup_sqlite(&target).await.unwrap();
    let copy = Store::open(&format!("sqlite://{}", target.display()), OpenOptions::default())
        .await
        .unwrap();
    assert_eq!(copy.verify_audit().await.unwrap(), VerifyReport::Intact { events: 3 });
    let again = store.backup_sqlite(&target).await.unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");
}
