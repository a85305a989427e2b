//! Keeping the index in step with the catalogue: upserts, deletes, commits with their change
//! sequence number, reopening from disk, schema changes, one writer, and input that must not crash.

mod common;

use std::thread;
use std::time::Duration;

use common::{catalogue, catalogue_index, ids, index_of, search};
use pubdata_search::{Doc, Facet, Index, Query, SearchError, Sort};

#[test]
fn upsert_replaces_the_document_with_the_same_id() {
    let index = catalogue_index();
    let count = index.num_docs();
    let mut doc = catalogue()[8].clone(); // 空气质量监测数据
    doc.title = "环境空气自动站小时数据".into();
    doc.summary = "各站点每小时的污染物浓度。".into();
    doc.fields = vec!["zdmc 站点名称".into(), "nd 浓度".into()];
    let mut writer = index.writer().expect("writer");
    writer.upsert(&doc).expect("upsert");
    writer.commit(2).expect("commit");

    assert_eq!(index.num_docs(), count);
    assert!(!ids(&search(&index, "空气质量")).contains(&9));
    assert_eq!(ids(&search(&index, "污染物")), vec![9]);
    assert_eq!(index.applied_seq(), 2);
}

#[test]
fn delete_and_clear_remove_documents() {
    let index = catalogue_index();
    let mut writer = index.writer().expect("writer");
    writer.delete(19).expect("delete");
    writer.delete(12345).expect("deleting an absent id is fine");
    writer.commit(3).expect("commit");
    assert!(search(&index, "学校").hits.is_empty());
    assert_eq!(index.num_docs(), catalogue().len() as u64 - 1);

    let mut writer = index.writer().expect("writer");
    writer.clear().expect("clear");
    writer.upsert(&catalogue()[0]).expect("upsert after clear");
    writer.commit(4).expect("commit");
    assert_eq!(index.num_docs(), 1);
    assert_eq!(search(&index, "").total, 1);
}

#[test]
fn changes_not_committed_are_discarded() {
    let index = catalogue_index();
    {
        let mut writer = index.writer().expect("writer");
        writer.delete(1).expect("delete");
        // Dropped without commit.
    }
    let mut writer = index.writer().expect("the writer is back");
    writer.upsert(&catalogue()[1]).expect("upsert");
    writer.commit(5).expect("commit");
    assert!(ids(&search(&index, "缴存单位")).contains(&1));
    assert_eq!(index.applied_seq(), 5);
}

#[test]
fn one_writer_at_a_time() {
    let index = catalogue_index();
    let writer = index.writer().expect("writer");
    assert!(matches!(index.try_writer(), Err(SearchError::Index(_))));
    let other = index.clone();
    let waiting = thread::spawn(move || other.writer().map(|w| w.commit(7)));
    thread::sleep(Duration::from_millis(100));
    writer.commit(6).expect("commit");
    let second = waiting.join().expect("no panic");
    assert!(matches!(second, Ok(Ok(()))));
    assert_eq!(index.applied_seq(), 7);
}

#[test]
fn searches_run_while_the_writer_writes() {
    let index = catalogue_index();
    let searchers: Vec<_> = (0..4)
        .map(|_| {
            let index = index.clone();
            thread::spawn(move || {
                for _ in 0..50 {
                    let found = index.search(&Query {
                        text: "名录".into(),
                        facets: Facet::ALL.to_vec(),
                        ..Query::default()
                    });
                    assert!(found.is_ok_and(|r| r.total > 0));
                }
            })
        })
        .collect();
    for round in 0..10 {
        let mut writer = index.writer().expect("writer");
        let mut doc = catalogue()[3].clone();
        doc.downloads = round;
        writer.upsert(&doc).expect("upsert");
        writer.commit(10 + round as i64).expect("commit");
    }
    for s in searchers {
        s.join().expect("searcher did not panic");
    }
    assert_eq!(index.num_docs(), catalogue().len() as u64);
}

#[test]
fn the_applied_seq_and_documents_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let index = Index::open(dir.path()).expect("open new");
        assert_eq!(index.applied_seq(), 0);
        assert!(!index.was_reset());
        let mut writer = index.writer().expect("writer");
        writer.upsert_many(&catalogue()).expect("upsert");
        writer.commit(42).expect("commit");
    }
    let index = Index::open(dir.path()).expect("reopen");
    assert!(!index.was_reset());
    assert_eq!(index.applied_seq(), 42);
    assert_eq!(index.num_docs(), catalogue().len() as u64);
    assert_eq!(ids(&search(&index, "gjj"))[..2].len(), 2);
    // The reopened index can be written again (the writer lock was released).
    let mut writer = index.writer().expect("writer after reopen");
    writer.delete(1).expect("delete");
    writer.commit(43).expect("commit");
    assert_eq!(index.applied_seq(), 43);
}

#[test]
fn another_schema_version_resets_the_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("notes.txt"), "not the index's").expect("write");
    {
        let index = Index::open(dir.path()).expect("open new");
        let mut writer = index.writer().expect("writer");
        writer.upsert_many(&catalogue()).expect("upsert");
        writer.commit(42).expect("commit");
    }
    let version_file = dir.path().join(pubdata_search::VERSION_FILE);
    assert_eq!(
        std::fs::read_to_string(&version_file).expect("version file").trim(),
        pubdata_search::SCHEMA_VERSION.to_string()
    );
    std::fs::write(&version_file, "0\n").expect("write");

    let index = Index::open(dir.path()).expect("reopen");
    assert!(index.was_reset());
    assert_eq!(index.applied_seq(), 0);
    assert_eq!(index.num_docs(), 0);
    assert!(
        dir.path().join("notes.txt").exists(),
        "only the index's files are removed"
    );
    // And it is usable for the rebuild.
    let mut writer = index.writer().expect("writer");
    writer.upsert(&catalogue()[0]).expect("upsert");
    writer.commit(43).expect("commit");
    drop(index);
    let index = Index::open(dir.path()).expect("reopen after rebuild");
    assert!(!index.was_reset());
    assert_eq!(index.num_docs(), 1);
}

#[test]
fn no_input_makes_it_panic() {
    let index = catalogue_index();
    let long = "公积金".repeat(4000);
    let inputs = [
        "\"",
        "\"公积金",
        "公积金\"",
        "((",
        "))",
        "AND OR",
        "NOT",
        "a:b",
        "title:公积金",
        "*",
        "?",
        "~2",
        "^5",
        "[1 TO 5]",
        "{}",
        "\\",
        "' OR 1=1; DROP TABLE resources; --",
        "😀",
        "😀公积金🚌",
        "\u{0}\u{1}\u{7f}",
        "\u{200b}",
        "　",
        "ｇｊｊ",
        "𠀀𠀁",
        "a-b-c-d-e-f",
        "....",
        "-公积金",
        "+公积金",
        "公积金 OR 社保",
        &"a".repeat(400),
        &long,
        &"x ".repeat(240),
    ];
    for text in inputs {
        for sort in [Sort::Relevance, Sort::Name] {
            let result = index.search(&Query {
                text: text.to_string(),
                sort,
                facets: Facet::ALL.to_vec(),
                filters: vec![(Facet::Domain, text.to_string())],
                ..Query::default()
            });
            match result {
                Ok(_) | Err(SearchError::Query(_)) => {}
                Err(e) => panic!("{text:?}: {e}"),
            }
        }
    }
    let too_long = index.search(&Query {
        text: long,
        ..Query::default()
    });
    assert!(matches!(too_long, Err(SearchError::Query(m)) if m.contains("500")));
    // A stray quote still searches the words.
    assert_eq!(ids(&search(&index, "\"空气质量"))[0], 9);
    assert!(matches!(
        index.search(&Query {
            limit: 5000,
            ..Query::default()
        }),
        Err(SearchError::Query(_))
    ));
    assert!(matches!(
        index.search(&Query {
            offset: usize::MAX,
            ..Query::default()
        }),
        Err(SearchError::Query(_))
    ));
}

#[test]
fn odd_documents_are_indexed() {
    let odd = Doc {
        id: 1,
        title: "ＡＢＣ数据😀".repeat(200),
        summary: "x".repeat(100_000),
        tags: vec![String::new(), "标签".into(), "标签".into()],
        formats: vec!["CSV".into(), "CSV".into()],
        ..Doc::default()
    };
    let index = index_of(&[odd]);
    let found = index
        .search(&Query {
            text: "abc".into(),
            facets: vec![Facet::Format, Facet::Tag, Facet::Region],
            ..Query::default()
        })
        .expect("search");
    assert_eq!(found.total, 1);
    assert_eq!(found.facets[0].values, vec![("CSV".to_string(), 1)]);
    assert_eq!(found.facets[1].values, vec![("标签".to_string(), 1)]);
    assert!(found.facets[2].values.is_empty());
}
