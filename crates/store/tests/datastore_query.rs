//! The data API's reading of a datastore table, on both backends: typed filters, text search,
//! sorting, field choice, offset and keyset paging, and clear refusals of unknown fields and
//! values that do not fit their field's type.

mod common;

use common::{postgres, sqlite};
use pubdata_core::field::{FieldSpec, FieldType, RowSink};
use pubdata_core::DomainError;
use pubdata_store::datastore::{DatastoreQuery, Filter, Op};
use pubdata_store::{Store, StoreError};

const ROWS: [[&str; 5]; 5] = [
    ["510104", "锦江区", "902933", "61.70", "true"],
    ["510105", "青羊区", "955954", "67.78", "true"],
    ["510106", "金牛区", "1265398", "108.00", "false"],
    ["510107", "武侯区", "1205472", "74.37", "true"],
    ["110101", "东城区", "708829", "41.84", "false"],
];

async fn table(store: &Store) -> String {
    let table = "ds_query_test".to_string();
    let mut loader = store.datastore_loader(&table).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let mut code = FieldSpec::new("code", FieldType::Code);
        code.key = true;
        let cols = vec![
            code,
            FieldSpec::new("name", FieldType::String),
            FieldSpec::new("population", FieldType::Integer),
            FieldSpec::new("area", FieldType::Decimal),
            FieldSpec::new("urban", FieldType::Boolean),
        ];
        loader.begin(&cols).unwrap();
        for r in ROWS {
            let values: Vec<Option<&str>> = r.iter().map(|v| Some(*v)).collect();
            loader.row(&values).unwrap();
        }
        loader.finish().unwrap();
    })
    .await
    .unwrap();
    table
}

fn f(field: &str, op: Op, value: &str) -> Filter {
    Filter {
        field: field.into(),
        op,
        value: value.into(),
    }
}

fn q(filters: Vec<Filter>) -> DatastoreQuery {
    DatastoreQuery {
        filters,
        limit: 100,
        ..Default::default()
    }
}

fn codes(r: &pubdata_store::datastore::QueryResult) -> Vec<String> {
    r.rows.iter().map(|row| row[0].clone().unwrap_or_default()).collect()
}

fn refused(e: StoreError) -> (String, String) {
    match e {
        StoreError::Domain(DomainError::Validation(v)) => (v[0].field.clone(), v[0].code.clone()),
        other => panic!("expected a field error, got {other:?}"),
    }
}

async fn story(store: Store) {
    let t = table(&store).await;
    let all = store.query_datastore(&t, &q(vec![])).await.unwrap();
    assert_eq!((all.total, all.rows.len(), all.fields.len()), (5, 5, 5));

    let r = store
        .query_datastore(&t, &q(vec![f("code", Op::Prefix, "5101")]))
        .await
        .unwrap();
    assert_eq!(codes(&r), ["510104", "510105", "510106", "510107"]);
    let r = store
        .query_datastore(&t, &q(vec![f("population", Op::Gte, "1000000")]))
        .await
        .unwrap();
    assert_eq!(codes(&r), ["510106", "510107"], "integers compare as numbers, not text");
    let r = store
        .query_datastore(&t, &q(vec![f("area", Op::Lt, "62"), f("urban", Op::Eq, "true")]))
        .await
        .unwrap();
    assert_eq!(codes(&r), ["510104"]);
    let r = store
        .query_datastore(&t, &q(vec![f("code", Op::In, "110101, 510107")]))
        .await
        .unwrap();
    assert_eq!(codes(&r), ["510107", "110101"]);
    let r = store
        .query_datastore(
            &t,
            &DatastoreQuery {
                q: Some("羊".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(codes(&r), ["510105"]);
    let r = store
        .query_datastore(
            &t,
            &DatastoreQuery {
                q: Some("%".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.total, 0, "wildcards are literal");

    let sorted = DatastoreQuery {
        sort: Some(("population".into(), true)),
        fields: vec!["name".into()],
        limit: 2,
        ..Default::default()
    };
    let r = store.query_datastore(&t, &sorted).await.unwrap();
    assert_eq!(
        (r.fields.clone(), r.rows.clone(), r.total, r.next_after),
        (
            vec!["name".to_string()],
            vec![vec![Some("金牛区".to_string())], vec![Some("武侯区".to_string())]],
            5,
            None
        )
    );

    // Keyset paging walks the table in file order without repeats or gaps.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .query_datastore(
                &t,
                &DatastoreQuery {
                    limit: 2,
                    after,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        seen.extend(codes(&page));
        match page.next_after {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, ROWS.iter().map(|r| r[0].to_string()).collect::<Vec<_>>());
    let r = store
        .query_datastore(
            &t,
            &DatastoreQuery {
                limit: 2,
                offset: 4,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(codes(&r), ["110101"]);

    // Refusals name the parameter; injection attempts are just values.
    assert_eq!(
        refused(
            store
                .query_datastore(&t, &q(vec![f("nope", Op::Eq, "1")]))
                .await
                .unwrap_err()
        ),
        ("nope.eq".into(), "unknown_field".into())
    );
    assert_eq!(
        refused(
            store
                .query_datastore(&t, &q(vec![f("population", Op::Gt, "many")]))
                .await
                .unwrap_err()
        ),
        ("population.gt".into(), "filter_value".into())
    );
    assert_eq!(
        refused(
            store
                .query_datastore(&t, &q(vec![f("population", Op::Prefix, "9")]))
                .await
                .unwrap_err()
        )
        .1,
        "prefix_text_only"
    );
    let sorted_after = DatastoreQuery {
        sort: Some(("name".into(), false)),
        after: Some(1),
        limit: 5,
        ..Default::default()
    };
    assert_eq!(
        refused(store.query_datastore(&t, &sorted_after).await.unwrap_err()).1,
        "after_with_sort"
    );
    let r = store
        .query_datastore(&t, &q(vec![f("name", Op::Eq, "x' OR '1'='1")]))
        .await
        .unwrap();
    assert_eq!(r.total, 0);
    assert_eq!(store.datastore_row_count(&t).await.unwrap(), 5, "nothing changed");
}

#[tokio::test]
async fn datastore_queries_on_sqlite() {
    story(sqlite().await).await;
}

#[tokio::test]
async fn datastore_queries_on_postgres() {
    if let Some(s) = postgres("ds_query").await {
        story(s).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Per-column indexes, prefix filters as index ranges, totals without a count, token use.

/// A table with a key, a short string, an integer, a boolean and a long string column, so each
/// of the index rules shows.
async fn indexed_table(store: &Store, values: &[&str]) -> String {
    let table = "ds_index_test".to_string();
    let mut loader = store.datastore_loader(&table).await.unwrap();
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut id = FieldSpec::new("id", FieldType::Code);
        id.key = true;
        let cols = vec![
            FieldSpec::new("text", FieldType::String),
            FieldSpec::new("n", FieldType::Integer),
            FieldSpec::new("flag", FieldType::Boolean),
            FieldSpec::new("long", FieldType::String),
            id,
        ];
        loader.begin(&cols).unwrap();
        let long = "长".repeat(65);
        for (i, v) in values.iter().enumerate() {
            let id = format!("k{i:03}");
            let n = i.to_string();
            let text = (v != "NULL").then_some(v.as_str());
            loader
                .row(&[text, Some(&n), Some("true"), Some(&long), Some(&id)])
                .unwrap();
        }
        loader.finish().unwrap();
    })
    .await
    .unwrap();
    table
}

/// Texts around every edge of the prefix range: case, LIKE's wildcards and escape, Chinese,
/// the last code points before the surrogates and of Unicode, and NULL.
const TEXTS: [&str; 26] = [
    "",
    "a",
    "A",
    "ab",
    "aB",
    "Ab",
    "AB",
    "abc",
    "a%b",
    "a_b",
    "a\\b",
    "a%",
    "%",
    "_x",
    "b",
    "Z",
    "中",
    "中文",
    "中文字",
    "中a",
    "\u{D7FF}x",
    "\u{E000}",
    "\u{10FFFF}",
    "a\u{10FFFF}",
    "a\u{10FFFF}b",
    "NULL",
];

const PREFIXES: [&str; 20] = [
    "",
    "a",
    "A",
    "ab",
    "aB",
    "a%",
    "a_",
    "%",
    "_",
    "a\\",
    "\\",
    "中",
    "中文",
    "文",
    "\u{D7FF}",
    "\u{10FFFF}",
    "a\u{10FFFF}",
    "z",
    "é",
    "abcd",
];

async fn index_story(store: Store) {
    let postgres = store.backend() == pubdata_store::Backend::Postgres;
    let t = indexed_table(&store, &TEXTS).await;

    // Indexes: the key first, the short string and the integer; not the boolean nor the column
    // whose values are longer than 64 characters. Text indexes sort by bytes on PostgreSQL.
    let defs = store.datastore_index_definitions(&t).await.unwrap();
    let on = |col: &str| {
        defs.iter().any(|d| {
            let d = d.replace('"', "");
            d.contains(&format!("({col})")) || d.contains(&format!("({col} "))
        })
    };
    assert_eq!(defs.len(), 3, "{defs:?}");
    assert!(on("c5") && on("c1") && on("c2"), "{defs:?}");
    assert!(!on("c3") && !on("c4"), "{defs:?}");
    if postgres {
        let text = defs.iter().find(|d| d.contains("(c1 ")).unwrap();
        assert!(text.contains("COLLATE \"C\""), "{text}");
    }

    // A prefix answers exactly what LIKE 'prefix%' answers on the backend: case-sensitive on
    // PostgreSQL, ignoring the case of ASCII letters on SQLite.
    for p in PREFIXES {
        let mut query = q(vec![f("text", Op::Prefix, p)]);
        query.fields = vec!["text".into()];
        let r = store.query_datastore(&t, &query).await.unwrap();
        let got: Vec<String> = r.rows.iter().map(|row| row[0].clone().unwrap()).collect();
        let expected: Vec<String> = TEXTS
            .iter()
            .filter(|v| **v != "NULL")
            .filter(|v| {
                if postgres {
                    v.starts_with(p)
                } else {
                    v.to_ascii_lowercase().starts_with(&p.to_ascii_lowercase())
                }
            })
            .map(|v| v.to_string())
            .collect();
        assert_eq!(got, expected, "prefix {p:?}");
        assert_eq!(r.total, expected.len() as u64, "prefix {p:?}");
    }
    // Equality and lists on an indexed text column.
    let r = store
        .query_datastore(&t, &q(vec![f("text", Op::Eq, "aB")]))
        .await
        .unwrap();
    assert_eq!(r.total, 1);
    let r = store
        .query_datastore(&t, &q(vec![f("text", Op::In, "中,中文,nope")]))
        .await
        .unwrap();
    assert_eq!(r.total, 2);
    let r = store
        .query_datastore(&t, &q(vec![f("id", Op::Eq, "k003")]))
        .await
        .unwrap();
    assert_eq!((r.total, r.rows[0][0].as_deref()), (1, Some("ab")));

    // Totals with and without a full page (the count is skipped when the page ends the matches).
    let n = TEXTS.len() as u64;
    let page = |limit: u64, offset: u64, after: Option<i64>, filters: Vec<Filter>| DatastoreQuery {
        filters,
        limit,
        offset,
        after,
        ..Default::default()
    };
    let cases = [
        (page(5, 0, None, vec![]), 5, n),
        (page(100, 0, None, vec![]), n as usize, n),
        (page(5, n - 2, None, vec![]), 2, n),
        (page(5, n + 10, None, vec![]), 0, n),
        (page(100, 0, Some(20), vec![]), n as usize - 20, n),
        (page(2, 0, None, vec![f("n", Op::Lt, "3")]), 2, 3),
        (page(3, 0, None, vec![f("n", Op::Lt, "3")]), 3, 3),
        (page(10, 1, None, vec![f("n", Op::Lt, "3")]), 2, 3),
        (page(10, 3, None, vec![f("n", Op::Lt, "3")]), 0, 3),
        (page(10, 0, None, vec![f("n", Op::Gt, "1000")]), 0, 0),
    ];
    for (i, (query, rows, total)) in cases.iter().enumerate() {
        let r = store.query_datastore(&t, query).await.unwrap();
        assert_eq!((r.rows.len(), r.total), (*rows, *total), "case {i}");
    }

    // A reload with other columns is seen at once (the column cache forgets the table).
    let before = store.query_datastore(&t, &q(vec![])).await.unwrap();
    assert_eq!(before.fields.len(), 5);
    let mut loader = store.datastore_loader(&t).await.unwrap();
    tokio::task::spawn_blocking(move || {
        loader.begin(&[FieldSpec::new("only", FieldType::Integer)]).unwrap();
        loader.row(&[Some("7")]).unwrap();
        loader.finish().unwrap();
    })
    .await
    .unwrap();
    let after = store
        .query_datastore(&t, &q(vec![f("only", Op::Eq, "7")]))
        .await
        .unwrap();
    assert_eq!((after.fields, after.total), (vec!["only".to_string()], 1));
    assert_eq!(store.datastore_index_definitions(&t).await.unwrap().len(), 1);
    assert!(store.drop_datastore_table(&t).await.unwrap());
    assert!(store
        .query_datastore(&t, &q(vec![f("only", Op::Eq, "7")]))
        .await
        .is_err());
}

#[tokio::test]
async fn indexes_and_prefix_ranges_on_sqlite() {
    index_story(sqlite().await).await;
}

#[tokio::test]
async fn indexes_and_prefix_ranges_on_postgres() {
    if let Some(s) = postgres("ds_index").await {
        index_story(s).await;
    }
}

#[test]
fn prefix_upper_bounds() {
    use pubdata_store::datastore::prefix_upper_bound as up;
    assert_eq!(up(""), None);
    assert_eq!(up("a").as_deref(), Some("b"));
    assert_eq!(up("51010").as_deref(), Some("51011"));
    assert_eq!(up("中文").as_deref(), Some("中斈"));
    assert_eq!(up("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(up("\u{10FFFF}\u{10FFFF}"), None);
    assert_eq!(up("x\u{D7FF}").as_deref(), Some("x\u{E000}"));
}

/// An API token's use is written at most once a minute; the lookup brings the user and their
/// memberships along.
async fn token_story(store: Store) {
    use pubdata_core::user::{Role, UserKind, ValidUser};
    let mut tx = store.begin().await.unwrap();
    let user = ValidUser {
        login: "token.user".into(),
        display_name: "令牌用户".into(),
        email: "token.user@example.cn".into(),
        phone: None,
    };
    let uid = tx.insert_user(&user, UserKind::Individual, "x", false).await.unwrap();
    tx.add_membership(uid, None, Role::Consumer).await.unwrap();
    let tid = tx.insert_api_token(uid, "t", "pdt_abc", "hash-1").await.unwrap();
    tx.insert_api_token(uid, "u", "pdt_def", "hash-2").await.unwrap();
    tx.commit().await.unwrap();

    assert!(store.use_api_token_with_user("nope").await.unwrap().is_none());
    let (t, u) = store.use_api_token_with_user("hash-1").await.unwrap().unwrap();
    assert_eq!((t.id, t.last_used_at), (tid, None), "the row as it was before this use");
    let u = u.unwrap();
    assert_eq!((u.id, u.login.as_str(), u.memberships.len()), (uid, "token.user", 1));
    assert_eq!(u.memberships[0].role, Role::Consumer);
    let used = |tokens: Vec<pubdata_store::ApiTokenRow>| tokens.into_iter().find(|t| t.id == tid).unwrap().last_used_at;
    let first = used(store.list_api_tokens(uid).await.unwrap()).expect("the first use is recorded");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (t, _) = store.use_api_token_with_user("hash-1").await.unwrap().unwrap();
    assert_eq!(t.last_used_at, Some(first));
    assert_eq!(
        used(store.list_api_tokens(uid).await.unwrap()),
        Some(first),
        "not written again within a minute"
    );
    let (other, _) = store.use_api_token_with_user("hash-2").await.unwrap().unwrap();
    assert!(other.last_used_at.is_none());
}

#[tokio::test]
async fn token_use_on_sqlite() {
    token_story(sqlite().await).await;
}

#[tokio::test]
async fn token_use_on_postgres() {
    if let Some(s) = postgres("ds_token").await {
        token_story(s).await;
    }
}
