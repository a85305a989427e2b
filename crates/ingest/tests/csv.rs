//! The CSV reader end to end: encodings, delimiters, quoting, and every way a file is refused.

mod common;

use std::io::Read;

use common::{err, run, run_with};
use pubdata_ingest::{IngestError, IngestOptions, RaggedRow, TextEncoding};

const TABLE: &str = "区划代码,名称,人口\n110101,东城区,708829\n510104,锦江区,902933\n";

#[test]
fn utf8_csv_is_read_with_header_and_rows() {
    let (report, sink) = run("regions.csv", TABLE.as_bytes()).unwrap();
    assert_eq!(report.encoding, Some(TextEncoding::Utf8));
    assert_eq!(report.delimiter.as_deref(), Some(","));
    assert_eq!(report.rows, 2);
    let names: Vec<&str> = sink.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["区划代码", "名称", "人口"]);
    assert_eq!(sink.column(1), vec![Some("东城区"), Some("锦江区")]);
    assert!(sink.finished);
}

#[test]
fn bom_is_stripped_from_the_first_name() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(TABLE.as_bytes());
    let (report, sink) = run("regions.csv", &bytes).unwrap();
    assert_eq!(report.encoding, Some(TextEncoding::Utf8Bom));
    assert_eq!(sink.columns[0].name, "区划代码");
}

#[test]
fn gbk_csv_is_decoded() {
    let (gbk, _, _) = encoding_rs::GB18030.encode(TABLE);
    assert!(std::str::from_utf8(&gbk).is_err());
    let (report, sink) = run("regions.csv", &gbk).unwrap();
    assert_eq!(report.encoding, Some(TextEncoding::Gb18030));
    assert_eq!(sink.columns[1].name, "名称");
    assert_eq!(sink.column(1), vec![Some("东城区"), Some("锦江区")]);
}

#[test]
fn tabs_and_semicolons_are_sniffed() {
    let tsv = TABLE.replace(',', "\t");
    let (report, sink) = run("regions.tsv", tsv.as_bytes()).unwrap();
    assert_eq!(report.delimiter.as_deref(), Some("\t"));
    assert_eq!(sink.column(2), vec![Some("708829"), Some("902933")]);
    // Semicolons with decimal commas inside the values.
    let semi = "name;amount\na;1,5\nb;2,25\n";
    let (report, sink) = run("data.txt", semi.as_bytes()).unwrap();
    assert_eq!(report.delimiter.as_deref(), Some(";"));
    assert_eq!(sink.column(1), vec![Some("1,5"), Some("2,25")]);
    let piped = "a|b\n1|2\n";
    assert_eq!(
        run("p.csv", piped.as_bytes()).unwrap().0.delimiter.as_deref(),
        Some("|")
    );
}

#[test]
fn quoted_fields_keep_delimiters_quotes_and_newlines() {
    let csv = "id,note\n1,\"a, b\"\n2,\"she said \"\"hi\"\"\"\n3,\"line one\nline two\"\n\n4,plain\n";
    let (report, sink) = run("q.csv", csv.as_bytes()).unwrap();
    assert_eq!(report.rows, 4, "the blank line is skipped");
    assert_eq!(
        sink.column(1),
        vec![
            Some("a, b"),
            Some("she said \"hi\""),
            Some("line one\nline two"),
            Some("plain")
        ]
    );
}

#[test]
fn empty_cells_reach_the_sink_as_none() {
    let (report, sink) = run("e.csv", b"a,b\n1,\n, 2 \n").unwrap();
    assert_eq!(
        sink.rows,
        vec![vec![Some("1".into()), None], vec![None, Some("2".into())]]
    );
    assert_eq!(report.columns[0].nulls, 1);
    assert_eq!(report.columns[1].nulls, 1);
}

#[test]
fn empty_files_are_refused() {
    assert_eq!(err("e.csv", b"").code(), "empty_file");
    assert_eq!(err("e.csv", b"\xEF\xBB\xBF").code(), "empty_file");
    assert_eq!(err("e.csv", b"  \n\n").code(), "empty_file");
    let e = err("e.csv", b"code,name\n");
    assert_eq!(e.code(), "empty_file");
    assert!(e.to_string().contains("no data rows"), "{e}");
}

#[test]
fn binary_data_named_csv_is_refused() {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(std::iter::repeat_n(0u8, 100));
    let e = err("photo.csv", &png);
    assert_eq!(e.code(), "binary_data");
    assert!(e.to_string().contains("PNG"), "{e}");
    let mut noise = b"a,b\n".to_vec();
    noise.extend((0..10_000u32).map(|i| (i % 31) as u8 + 1));
    assert_eq!(err("noise.csv", &noise).code(), "binary_data");
}

#[test]
fn undecodable_bytes_name_offset_and_row() {
    let mut bytes = "a,b\n1,东城区\n2,x\n".as_bytes().to_vec();
    let offset = bytes.len() as u64;
    bytes.extend_from_slice(b"3,\xFF\xFE\n");
    match err("bad.csv", &bytes) {
        IngestError::BadEncoding { byte_offset, row, .. } => {
            assert_eq!(byte_offset, offset + 2);
            assert!(row >= 2, "row {row}");
        }
        e => panic!("{e}"),
    }
    // Bytes that are not valid in either encoding from the start.
    let e = err("bad.csv", b"a,b\n\xFF\xFF,1\n");
    assert_eq!(e.code(), "bad_encoding");
    assert!(e.to_string().contains("byte offset 4"), "{e}");
}

#[test]
fn empty_and_duplicate_header_names_are_listed() {
    match err("h.csv", b"a,,c,\n1,2,3,4\n") {
        IngestError::EmptyHeader { positions } => assert_eq!(positions, vec![2, 4]),
        e => panic!("{e}"),
    }
    let e = err("h.csv", "名称,code,名称\n1,2,3\n".as_bytes());
    assert_eq!(e.code(), "duplicate_header");
    assert!(e.to_string().contains("名称"), "{e}");
}

#[test]
fn ragged_rows_are_listed_with_counts() {
    let csv = "a,b,c\n1,2,3\n1,2\n1,2,3\n1,2,3,4\n";
    match err("r.csv", csv.as_bytes()) {
        IngestError::RaggedRows { expected, rows, more } => {
            assert_eq!(expected, 3);
            assert_eq!(
                rows,
                vec![RaggedRow { row: 2, fields: 2 }, RaggedRow { row: 4, fields: 4 }]
            );
            assert!(!more);
        }
        e => panic!("{e}"),
    }
    let many: String = std::iter::once("a,b\n".to_string())
        .chain((0..20).map(|i| format!("{i}\n")))
        .collect();
    match err("r.csv", many.as_bytes()) {
        IngestError::RaggedRows { rows, more, .. } => {
            assert_eq!(rows.len(), 5);
            assert_eq!(rows[0], RaggedRow { row: 1, fields: 1 });
            assert!(more);
        }
        e => panic!("{e}"),
    }
}

/// A header, then one row whose second cell is `size` bytes of `x`, produced lazily.
struct HugeCell {
    prefix: Vec<u8>,
    size: u64,
    served: u64,
    suffix: Vec<u8>,
}

impl HugeCell {
    fn new(size: u64) -> Self {
        HugeCell {
            prefix: b"id,blob\n1,\"".to_vec(),
            size,
            served: 0,
            suffix: b"\"\n".to_vec(),
        }
    }
}

impl Read for HugeCell {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.len());
            buf[..n].copy_from_slice(&self.prefix[..n]);
            self.prefix.drain(..n);
            return Ok(n);
        }
        if self.served < self.size {
            let n = ((self.size - self.served) as usize).min(buf.len());
            buf[..n].fill(b'x');
            self.served += n as u64;
            return Ok(n);
        }
        let n = self.suffix.len().min(buf.len());
        buf[..n].copy_from_slice(&self.suffix[..n]);
        self.suffix.drain(..n);
        Ok(n)
    }
}

#[test]
fn a_100_mb_cell_is_refused_without_buffering_it() {
    let mut src = HugeCell::new(100 << 20);
    let mut sink = common::Recorder::default();
    let e = pubdata_ingest::ingest(
        &mut src,
        "big.csv",
        None,
        &IngestOptions::default(),
        &mut sink,
        &mut |_| {},
    )
    .unwrap_err();
    match &e {
        IngestError::CellTooLarge { row, column, limit } => {
            assert_eq!((*row, column.as_str(), *limit), (1, "blob", 1 << 20));
        }
        e => panic!("{e}"),
    }
    assert!(
        e.to_string().contains("data row 1") && e.to_string().contains("\"blob\""),
        "{e}"
    );
    assert!(src.served < 4 << 20, "read {} bytes before refusing", src.served);
}

#[test]
fn limits_are_configurable() {
    let opts = IngestOptions {
        max_cell_bytes: 10,
        max_record_bytes: 15,
        ..IngestOptions::default()
    };
    let e = run_with("l.csv", b"a,b\n1,12345678901\n", &opts).unwrap_err();
    assert_eq!(e.code(), "cell_too_large");
    let e = run_with("l.csv", b"a,b,c\n123456789,123456789,1\n", &opts).unwrap_err();
    assert_eq!(e.code(), "record_too_large");
    assert!(run_with("l.csv", b"a,b\n1234567890,1\n", &opts).is_ok());
    // A 2 MB cell passes once the limit allows it.
    let opts = IngestOptions {
        max_cell_bytes: 4 << 20,
        max_record_bytes: 4 << 20,
        ..IngestOptions::default()
    };
    let mut sink = common::Recorder::default();
    let report =
        pubdata_ingest::ingest(HugeCell::new(2 << 20), "big.csv", None, &opts, &mut sink, &mut |_| {}).unwrap();
    assert_eq!(report.rows, 1);
    assert_eq!(sink.rows[0][1].as_ref().map(String::len), Some(2 << 20));
}

#[test]
fn progress_reports_bytes_and_rows() {
    let mut csv = String::from("n\n");
    for i in 0..10_000 {
        csv.push_str(&format!("{i}\n"));
    }
    let opts = IngestOptions {
        progress_every_rows: 4096,
        ..IngestOptions::default()
    };
    let mut seen = Vec::new();
    let mut sink = pubdata_core::field::NullSink::default();
    pubdata_ingest::ingest(
        csv.as_bytes(),
        "n.csv",
        Some(csv.len() as u64),
        &opts,
        &mut sink,
        &mut |p| seen.push(p),
    )
    .unwrap();
    let rows: Vec<u64> = seen.iter().map(|p| p.rows).collect();
    assert_eq!(rows, vec![4096, 8192, 10_000]);
    let last = seen.last().unwrap();
    assert_eq!(last.bytes_read, csv.len() as u64);
    assert_eq!(last.total_bytes, Some(csv.len() as u64));
    assert_eq!(sink.rows, 10_000);
}

#[test]
fn crlf_line_endings() {
    let (report, sink) = run("w.csv", b"a,b\r\n1,2\r\n3,4\r\n").unwrap();
    assert_eq!(report.rows, 2);
    assert_eq!(sink.column(1), vec![Some("2"), Some("4")]);
}

#[test]
fn gbk_bytes_that_look_like_pipes_do_not_fool_the_sniffer() {
    // Each of these characters is two GBK bytes, the second being 0x7C ('|').
    let text = "名称,备注\n億剕,墊妡\n媩寍,峾巪\n弢恷,憒抾\n";
    let (gbk, _, _) = encoding_rs::GB18030.encode(text);
    assert!(gbk.iter().filter(|&&b| b == b'|').count() >= 12);
    let (report, sink) = run("g.csv", &gbk).unwrap();
    assert_eq!(report.delimiter.as_deref(), Some(","));
    assert_eq!(sink.column(1), vec![Some("墊妡"), Some("峾巪"), Some("憒抾")]);
}
