//! Values the data API remembers between calls (`Store::remembered`): a write this node commits
//! is seen on the next call; a write another node commits within `HOT_TTL`.

mod common;

use pubdata_core::user::{Role, UserKind, ValidUser};
use pubdata_store::{ApiTokenRow, Store, UserRow, HOT_TTL};

/// The token lookup as `auth::resolve_token` makes it.
async fn token(store: &Store, hash: &str) -> Option<(ApiTokenRow, Option<UserRow>)> {
    let hash = hash.to_string();
    store
        .remembered_found(format!("api_token:{hash}"), || store.use_api_token_with_user(&hash))
        .await
        .unwrap()
}

async fn revoked(store: &Store, hash: &str) -> bool {
    token(store, hash).await.expect("token").0.revoked_at.is_some()
}

async fn story(a: Store, b: Store) {
    let mut tx = a.begin().await.unwrap();
    let user = ValidUser {
        login: "hot.user".into(),
        display_name: "缓存用户".into(),
        email: "hot.user@example.cn".into(),
        phone: None,
    };
    let uid = tx.insert_user(&user, UserKind::Individual, "x", false).await.unwrap();
    tx.add_membership(uid, None, Role::Consumer).await.unwrap();
    let t1 = tx.insert_api_token(uid, "one", "pdt_one", "hot-1").await.unwrap();
    let t2 = tx.insert_api_token(uid, "two", "pdt_two", "hot-2").await.unwrap();
    tx.commit().await.unwrap();
    assert!(token(&a, "unknown").await.is_none());
    let kept = a.remembered_count();
    for i in 0..50 {
        assert!(token(&a, &format!("unknown-{i}")).await.is_none());
    }
    assert_eq!(
        a.remembered_count(),
        kept,
        "a lookup that found nothing is not remembered"
    );

    // Revoked on this node: refused on the very next call.
    assert!(!revoked(&a, "hot-1").await);
    let mut tx = a.begin().await.unwrap();
    tx.revoke_api_token(t1).await.unwrap();
    tx.commit().await.unwrap();
    assert!(revoked(&a, "hot-1").await, "this node's own revocation is seen at once");

    // Revoked on another node: still remembered here, for at most HOT_TTL.
    let remembered_at = std::time::Instant::now();
    assert!(!revoked(&a, "hot-2").await);
    let mut tx = b.begin().await.unwrap();
    tx.revoke_api_token(t2).await.unwrap();
    tx.commit().await.unwrap();
    assert!(revoked(&b, "hot-2").await, "the revoking node sees it at once");
    let seen_here = revoked(&a, "hot-2").await;
    // Only while the remembered answer is younger than HOT_TTL (a slow machine may take longer).
    if remembered_at.elapsed() < HOT_TTL {
        assert!(
            !seen_here,
            "the other node's answer is remembered (the documented bound)"
        );
    }
    tokio::time::sleep(HOT_TTL + std::time::Duration::from_millis(100)).await;
    assert!(revoked(&a, "hot-2").await, "seen once HOT_TTL has passed");
    let (_, u) = token(&a, "hot-2").await.unwrap();
    assert_eq!(u.expect("the user comes along").memberships.len(), 1);
}

#[tokio::test]
async fn revocations_are_seen_at_once_here_and_within_the_bound_elsewhere_on_sqlite() {
    let (a, b) = common::two_nodes("sqlite").await.unwrap();
    story(a, b).await;
}

#[tokio::test]
async fn revocations_are_seen_at_once_here_and_within_the_bound_elsewhere_on_postgres() {
    if let Some((a, b)) = common::two_nodes("postgres").await {
        story(a, b).await;
    }
}
