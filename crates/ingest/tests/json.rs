//! JSON arrays of objects, streamed element by element, and everything else refused clearly.

mod common;

use std::io::Read;

use common::{err, run, run_with};
use pubdata_ingest::{IngestError, IngestOptions, TextEncoding};

#[test]
fn array_of_objects_becomes_rows() {
    let json = r#"[
        {"code": "110101", "name": "东城区", "pop": 708829, "area": 41.84, "ok": true, "tags": ["a", 1], "extra": {"k": null}},
        {"name": "锦江区", "code": "510104", "pop": null, "area": 60.2, "ok": false}
    ]"#;
    let (report, sink) = run("regions.json", json.as_bytes()).unwrap();
    assert_eq!(report.encoding, Some(TextEncoding::Utf8));
    let names: Vec<&str> = sink.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["code", "name", "pop", "area", "ok", "tags", "extra"]);
    let first: Vec<Option<&str>> = sink.rows[0].iter().map(|v| v.as_deref()).collect();
    assert_eq!(
        first,
        vec![
            Some("110101"),
            Some("东城区"),
            Some("708829"),
            Some("41.84"),
            Some("true"),
            Some(r#"["a",1]"#),
            Some(r#"{"k":null}"#)
        ]
    );
    // Keys in another order land in their columns; missing keys and null are empty.
    let second: Vec<Option<&str>> = sink.rows[1].iter().map(|v| v.as_deref()).collect();
    assert_eq!(
        second,
        vec![
            Some("510104"),
            Some("锦江区"),
            None,
            Some("60.2"),
            Some("false"),
            None,
            None
        ]
    );
}

#[test]
fn gbk_json_is_decoded_too() {
    let (gbk, _, _) = encoding_rs::GB18030.encode(r#"[{"名称": "东城区"}]"#);
    let (report, sink) = run("g.json", &gbk).unwrap();
    assert_eq!(report.encoding, Some(TextEncoding::Gb18030));
    assert_eq!(sink.columns[0].name, "名称");
    assert_eq!(sink.rows[0][0].as_deref(), Some("东城区"));
}

#[test]
fn other_shapes_say_what_was_expected() {
    for (json, found) in [
        (r#"{"a": 1}"#, "one JSON object"),
        ("[1, 2, 3]", "element 1 is a number"),
        (r#"[{"a": 1}, "x"]"#, "element 2 is a string"),
        (r#"[{"a": 1}, [1]]"#, "element 2 is an array"),
        (r#"[{"a": 1}, null]"#, "element 2 is null"),
        ("\"text\"", "a string"),
    ] {
        let e = err("x.json", json.as_bytes());
        assert_eq!(e.code(), "not_array_of_objects", "{json}");
        let msg = e.to_string();
        assert!(
            msg.contains(found) && msg.contains("expected a JSON array of objects"),
            "{json}: {msg}"
        );
    }
}

#[test]
fn a_key_not_in_the_first_object_names_the_row() {
    match err("k.json", br#"[{"a": 1}, {"a": 2}, {"a": 3, "b": 4}]"#) {
        IngestError::NewKey { row, key } => assert_eq!((row, key.as_str()), (3, "b")),
        e => panic!("{e}"),
    }
}

#[test]
fn empty_and_invalid_json() {
    assert_eq!(err("e.json", b"[]").code(), "empty_file");
    assert_eq!(err("e.json", b"  ").code(), "empty_file");
    assert_eq!(err("e.json", b"[{}]").code(), "empty_file");
    match err("b.json", b"[{\"a\": 1},\n {\"a\": }]") {
        IngestError::BadJson { line, .. } => assert_eq!(line, 2),
        e => panic!("{e}"),
    }
    assert_eq!(err("b.json", br#"[{"a": 1}] trailing"#).code(), "bad_json");
    assert_eq!(err("b.json", br#"[{"": 1}]"#).code(), "empty_header");
}

/// `[{"a": "xxxx…` with a lazily produced string of `size` bytes.
struct HugeString {
    prefix: &'static [u8],
    left: u64,
    served: u64,
}

impl Read for HugeString {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.len());
            buf[..n].copy_from_slice(&self.prefix[..n]);
            self.prefix = &self.prefix[n..];
            return Ok(n);
        }
        let n = (self.left as usize).min(buf.len());
        buf[..n].fill(b'x');
        self.left -= n as u64;
        self.served += n as u64;
        Ok(n)
    }
}

#[test]
fn a_huge_element_is_refused_while_streaming() {
    let mut src = HugeString {
        prefix: br#"[{"a": 1}, {"a": ""#,
        left: 100 << 20,
        served: 0,
    };
    let mut sink = common::Recorder::default();
    let e = pubdata_ingest::ingest(
        &mut src,
        "h.json",
        None,
        &IngestOptions::default(),
        &mut sink,
        &mut |_| {},
    )
    .unwrap_err();
    match e {
        IngestError::RecordTooLarge { row, .. } => assert_eq!(row, 2),
        e => panic!("{e}"),
    }
    assert!(src.served < 4 << 20, "read {} bytes", src.served);
    let opts = IngestOptions {
        max_cell_bytes: 3,
        ..IngestOptions::default()
    };
    match run_with("c.json", br#"[{"a": "1234"}]"#, &opts).unwrap_err() {
        IngestError::CellTooLarge { row, column, .. } => assert_eq!((row, column.as_str()), (1, "a")),
        e => panic!("{e}"),
    }
}
