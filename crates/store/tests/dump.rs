//! The portable dump between backends: a datastore table with every field type dumps to the same
//! bytes from SQLite and PostgreSQL and loads back exactly; a load whose rows or audit chain do
//! not match the dump is refused inside its transaction and leaves nothing behind; every column
//! that names a stored file is one the export carries.

mod common;

use pubdata_core::field::{FieldSpec, FieldType, RowSink};
use pubdata_core::user::{Role, UserKind, ValidUser};
use pubdata_store::datastore::{table_name, DatastoreLoader};
use pubdata_store::dump::{canonical_decimal, Sums, TableSchema, FILE_REFERENCES};
use pubdata_store::{AuditEntry, Store};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn columns() -> Vec<FieldSpec> {
    let mut code = FieldSpec::new("code", FieldType::Code);
    code.key = true;
    vec![
        code,
        FieldSpec::new("name", FieldType::String),
        FieldSpec::new("n", FieldType::Integer),
        FieldSpec::new("amount", FieldType::Decimal),
        FieldSpec::new("day", FieldType::Date),
        FieldSpec::new("at", FieldType::Datetime),
        FieldSpec::new("flag", FieldType::Boolean),
    ]
}

/// Values each backend prints its own way: NUMERIC keeps the scale (`12.50`), REAL prints
/// `%.15g` (`12.0`, `1.0e+20`), and dates follow PostgreSQL's DateStyle.
const ROWS: &[[Option<&str>; 7]] = &[
    [
        Some("1"),
        Some("东城区"),
        Some("42"),
        Some("12.50"),
        Some("2023/5/1"),
        Some("2023-05-01 08:30"),
        Some("是"),
    ],
    [
        Some("2"),
        Some("\"quoted\", 'x'"),
        Some("-9007199254740993"),
        Some("12"),
        Some("20240229"),
        Some("2024-02-29T23:59:59Z"),
        Some("false"),
    ],
    [Some("3"), None, None, Some("1e20"), None, None, None],
    [
        Some("4"),
        Some(""),
        Some("0"),
        Some("-0.000"),
        Some("1999年12月31日"),
        Some("1999-12-31"),
        Some("yes"),
    ],
    [
        Some("5"),
        Some("x"),
        Some("7"),
        Some("007.5"),
        Some("2000-01-01"),
        Some("2000-01-01 00:00:00"),
        Some("0"),
    ],
    [
        Some("6"),
        Some("y"),
        Some("8"),
        Some("0.1"),
        Some("2000-01-02"),
        Some("2000-01-02 12:00"),
        Some("1"),
    ],
];

async fn load_table(store: &Store, table: &str) {
    let mut loader: DatastoreLoader = store.datastore_loader(table).await.unwrap();
    tokio::task::spawn_blocking(move || {
        loader.begin(&columns())?;
        for r in ROWS {
            loader.row(r)?;
        }
        loader.finish()
    })
    .await
    .unwrap()
    .unwrap();
}

/// A platform with a user, two audit events and a typed datastore table.
async fn seed(store: &Store) {
    let mut tx = store.begin().await.unwrap();
    let user = ValidUser {
        login: "dump.user".into(),
        display_name: "导出用户".into(),
        email: "dump.user@example.cn".into(),
        phone: None,
    };
    let uid = tx.insert_user(&user, UserKind::Individual, "x", false).await.unwrap();
    tx.add_membership(uid, None, Role::Consumer).await.unwrap();
    for action in ["user_created", "user_checked"] {
        tx.audit(AuditEntry {
            actor_id: Some(uid),
            actor: "dump.user",
            client_ip: Some("127.0.0.1"),
            action,
            object_type: "user",
            object_id: uid.to_string(),
            before: None,
            after: Some(serde_json::json!({"login": "dump.user"})),
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    load_table(store, &table_name(41)).await;
}

struct Dump {
    tables: Vec<(TableSchema, Vec<u8>)>,
    sums: Sums,
}

async fn dump(store: &Store) -> Dump {
    let mut reader = store.dump_reader().await.unwrap();
    let mut tables = Vec::new();
    let mut sums = Sums::new();
    for schema in reader.tables().await.unwrap() {
        let mut bytes = Vec::new();
        let rows = reader
            .rows(&schema, |line| {
                bytes.extend_from_slice(line);
                Ok(())
            })
            .await
            .unwrap();
        sums.insert(schema.name.clone(), (rows, hex::encode(Sha256::digest(&bytes))));
        tables.push((schema, bytes));
    }
    reader.finish().await.unwrap();
    Dump { tables, sums }
}

async fn load(store: &Store, d: &Dump) -> pubdata_store::Result<pubdata_store::dump::Loaded> {
    let mut loader = store.dump_loader().await?;
    for (schema, bytes) in &d.tables {
        loader.prepare(schema).await?;
        let rows: Vec<Vec<Value>> = bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        loader.insert(schema, &rows).await?;
    }
    loader.finish(&d.sums).await
}

fn table<'a>(d: &'a Dump, name: &str) -> &'a str {
    let (_, bytes) = d.tables.iter().find(|(s, _)| s.name == name).expect(name);
    std::str::from_utf8(bytes).unwrap()
}

/// Replaces `from` by `to` in one table's dumped rows, keeping (or recomputing) its checksum.
fn tamper(d: &mut Dump, name: &str, from: &str, to: &str, recompute: bool) {
    let (_, bytes) = d.tables.iter_mut().find(|(s, _)| s.name == name).expect(name);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains(from), "{name} has {from:?}");
    *bytes = text.replacen(from, to, 1).into_bytes();
    if recompute {
        let sum = d.sums.get_mut(name).unwrap();
        sum.1 = hex::encode(Sha256::digest(&*bytes));
    }
}

async fn round_trip(source: Store, target: Store, again: Store) {
    seed(&source).await;
    let d = dump(&source).await;
    let ds = table(&d, "ds_41");
    for want in [
        "\"12.5\"",
        "\"12\"",
        "\"100000000000000000000\"",
        "\"0\"",
        "\"7.5\"",
        "\"0.1\"",
        "\"2024-02-29 23:59:59\"",
        "\"1999-12-31 00:00:00\"",
        "\"2024-02-29\"",
        "\"true\"",
    ] {
        assert!(ds.contains(want), "the dump has {want}: {ds}");
    }

    let loaded = load(&target, &d).await.expect("a faithful dump loads");
    assert_eq!(loaded.audit_events, 2);
    assert_eq!(loaded.tables, d.sums.len());
    let back = dump(&target).await;
    for ((schema, bytes), (schema2, bytes2)) in d.tables.iter().zip(&back.tables) {
        assert_eq!(schema, schema2);
        assert_eq!(
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(bytes2),
            "{} reads back the same",
            schema.name
        );
    }

    // A row that differs from the dump's checksum: refused, and nothing is left.
    let mut changed = dump(&source).await;
    tamper(&mut changed, "users", "导出用户", "改过的", false);
    let err = load(&again, &changed).await.expect_err("a changed row is refused");
    assert!(err.to_string().contains("table users"), "{err}");
    assert_eq!(again.first_nonempty_table().await.unwrap(), None, "rolled back");

    // Checksums made to match, but the audit chain no longer verifies: refused likewise.
    let mut forged = dump(&source).await;
    // (The rows are dumped sorted by their columns; the forged action keeps their order.)
    tamper(&mut forged, "audit_events", "user_checked", "user_chacked", true);
    let err = load(&again, &forged).await.expect_err("a broken chain is refused");
    assert!(err.to_string().contains("audit chain"), "{err}");
    assert_eq!(again.first_nonempty_table().await.unwrap(), None, "rolled back");

    // After both refusals the same database still takes the faithful dump.
    load(&again, &d).await.expect("the faithful dump still loads");
}

#[tokio::test]
async fn every_field_type_round_trips_from_sqlite_to_postgres() {
    let Some(target) = common::postgres("dump_to_pg").await else {
        return;
    };
    let again = common::postgres("dump_to_pg_again").await.unwrap();
    round_trip(common::sqlite().await, target, again).await;
}

#[tokio::test]
async fn every_field_type_round_trips_from_postgres_to_sqlite() {
    let Some(source) = common::postgres("dump_from_pg").await else {
        return;
    };
    round_trip(source, common::sqlite().await, common::sqlite().await).await;
}

#[tokio::test]
async fn every_field_type_round_trips_from_sqlite_to_sqlite() {
    round_trip(common::sqlite().await, common::sqlite().await, common::sqlite().await).await;
}

#[test]
fn decimals_print_one_way() {
    for (input, want) in [
        ("12.50", "12.5"),
        ("12.0", "12"),
        ("12", "12"),
        ("-0.000", "0"),
        ("-0.0", "0"),
        ("+007.50", "7.5"),
        ("1.0e+20", "100000000000000000000"),
        ("1e-5", "0.00001"),
        ("-3.25", "-3.25"),
        (".5", "0.5"),
        ("not a number", "not a number"),
    ] {
        assert_eq!(canonical_decimal(input), want, "{input}");
    }
}

#[tokio::test]
async fn every_column_naming_a_stored_file_is_exported() {
    let store = common::sqlite().await;
    let mut reader = store.dump_reader().await.unwrap();
    let not_files = ["idempotency_key"];
    for schema in reader.tables().await.unwrap() {
        for c in &schema.columns {
            if c.name.ends_with("_key") && !not_files.contains(&c.name.as_str()) {
                assert!(
                    FILE_REFERENCES.contains(&(schema.name.as_str(), c.name.as_str())),
                    "{}.{} looks like a file key: add it to FILE_REFERENCES (or to not_files here)",
                    schema.name,
                    c.name
                );
            }
        }
    }
    assert!(reader.referenced_files().await.unwrap().is_empty());
    reader.finish().await.unwrap();
}
