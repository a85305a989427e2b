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
