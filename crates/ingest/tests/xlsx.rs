//! XLSX workbooks written in the test with the `zip` crate: sheets, formulas, limits, bombs.

mod common;

use std::io::{Cursor, Write};

use common::{n, row, run, run_with, s, xlsx};
use pubdata_core::field::FieldType;
use pubdata_ingest::{Format, IngestError, IngestOptions};

fn regions() -> String {
    [
        row(1, &[s("A1", "code"), s("B1", "name"), s("C1", "population")]),
        row(
            2,
            &[
                n("A2", "110101"),
                r#"<c r="B2" t="s"><v>0</v></c>"#.to_string(),
                n("C2", "70882"),
            ],
        ),
        row(3, &[n("A3", "510104"), s("B3", "锦江区"), n("C3", "902933.0")]),
    ]
    .concat()
}

#[test]
fn first_sheet_is_read_and_sheets_are_listed() {
    let book = xlsx(
        &[("区划", &regions()), ("Other", &row(1, &[s("A1", "x")]))],
        &["东城区"],
    );
    let (report, sink) = run("regions.xlsx", &book).unwrap();
    assert_eq!(report.format, Format::Xlsx);
    assert_eq!(report.sheets, vec!["区划", "Other"]);
    assert_eq!(report.sheet.as_deref(), Some("区划"));
    assert_eq!(report.rows, 2);
    let names: Vec<&str> = sink.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["code", "name", "population"]);
    assert_eq!(
        sink.column(1),
        vec![Some("东城区"), Some("锦江区")],
        "shared and inline strings"
    );
    assert_eq!(
        sink.column(2),
        vec![Some("70882"), Some("902933")],
        "whole floats read as integers"
    );
    assert_eq!(report.columns[2].inferred_type, FieldType::Integer);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn a_sheet_is_picked_by_name() {
    let other = [
        row(1, &[s("B1", "x"), s("C1", "y")]),
        row(2, &[n("B2", "1"), n("C2", "2.5")]),
    ]
    .concat();
    let book = xlsx(&[("First", &regions()), ("Other", &other)], &["东城区"]);
    let opts = IngestOptions {
        sheet: Some("Other".into()),
        ..IngestOptions::default()
    };
    let (report, sink) = run_with("book.xlsx", &book, &opts).unwrap();
    assert_eq!(report.sheet.as_deref(), Some("Other"));
    assert_eq!(sink.rows, vec![vec![Some("1".to_string()), Some("2.5".to_string())]]);
    let opts = IngestOptions {
        sheet: Some("Missing".into()),
        ..IngestOptions::default()
    };
    match run_with("book.xlsx", &book, &opts).unwrap_err() {
        IngestError::SheetNotFound { sheet, available } => {
            assert_eq!(sheet, "Missing");
            assert_eq!(available, vec!["First", "Other"]);
        }
        e => panic!("{e}"),
    }
}

#[test]
fn formula_cells_use_cached_values_and_are_reported() {
    let data = [
        row(1, &[s("A1", "n"), s("B1", "double")]),
        row(2, &[n("A2", "1"), r#"<c r="B2"><f>A2*2</f><v>2</v></c>"#.to_string()]),
        row(
            3,
            &[
                n("A3", "2"),
                r#"<c r="B3"><f t="shared" ref="B3:B5" si="0">A3*2</f><v>4</v></c>"#.to_string(),
            ],
        ),
        row(
            4,
            &[
                n("A4", "3"),
                r#"<c r="B4"><f t="shared" si="0"/><v>6</v></c>"#.to_string(),
            ],
        ),
        row(
            5,
            &[
                n("A5", "4"),
                r#"<c r="B5"><f t="shared" si="0"/><v>8</v></c>"#.to_string(),
            ],
        ),
    ]
    .concat();
    let (report, sink) = run("f.xlsx", &xlsx(&[("S", &data)], &[])).unwrap();
    assert_eq!(sink.column(1), vec![Some("2"), Some("4"), Some("6"), Some("8")]);
    let w = report.warning("formula_cells").expect("a formula warning");
    assert!(
        w.message.starts_with("4 cells hold formulas (first: B2, B3, B4, B5)"),
        "{}",
        w.message
    );
}

#[test]
fn header_problems_and_ragged_rows() {
    let data = [row(1, &[s("A1", "a"), s("C1", "c")]), row(2, &[n("A2", "1")])].concat();
    match run("h.xlsx", &xlsx(&[("S", &data)], &[])).unwrap_err() {
        IngestError::EmptyHeader { positions } => assert_eq!(positions, vec![2]),
        e => panic!("{e}"),
    }
    let data = [row(1, &[s("A1", "a"), s("B1", "a")]), row(2, &[n("A2", "1")])].concat();
    assert_eq!(
        run("h.xlsx", &xlsx(&[("S", &data)], &[])).unwrap_err().code(),
        "duplicate_header"
    );
    let data = [
        row(1, &[s("A1", "a"), s("B1", "b")]),
        row(2, &[n("A2", "1")]),
        row(3, &[n("A3", "1"), n("B3", "2"), n("D3", "4")]),
    ]
    .concat();
    match run("r.xlsx", &xlsx(&[("S", &data)], &[])).unwrap_err() {
        IngestError::RaggedRows { expected, rows, .. } => {
            assert_eq!(expected, 2);
            assert_eq!((rows[0].row, rows[0].fields), (2, 4));
        }
        e => panic!("{e}"),
    }
    let data = row(1, &[s("A1", "a")]);
    assert_eq!(
        run("e.xlsx", &xlsx(&[("S", &data)], &[])).unwrap_err().code(),
        "empty_file"
    );
    assert_eq!(
        run("e.xlsx", &xlsx(&[("S", "")], &[])).unwrap_err().code(),
        "empty_file"
    );
}

#[test]
fn oversized_cells_are_refused() {
    let big = "x".repeat(2000);
    let data = [
        row(1, &[s("A1", "a"), s("B1", "b")]),
        row(2, &[n("A2", "1"), s("B2", &big)]),
    ]
    .concat();
    let opts = IngestOptions {
        max_cell_bytes: 1000,
        ..IngestOptions::default()
    };
    match run_with("c.xlsx", &xlsx(&[("S", &data)], &[]), &opts).unwrap_err() {
        IngestError::CellTooLarge { row, column, .. } => assert_eq!((row, column.as_str()), (1, "b")),
        e => panic!("{e}"),
    }
}

#[test]
fn a_zip_bomb_is_refused_from_its_directory() {
    // 20 MiB of spaces inside the sheet deflate to a few KiB.
    let padding = " ".repeat(20 << 20);
    let data = [row(1, &[s("A1", "a")]), padding, row(2, &[n("A2", "1")])].concat();
    let book = xlsx(&[("S", &data)], &[]);
    assert!(book.len() < 200_000, "{} bytes", book.len());
    let e = run("bomb.xlsx", &book).unwrap_err();
    assert_eq!(e.code(), "zip_bomb");
    assert!(e.to_string().contains("xl/worksheets/sheet1.xml"), "{e}");
    // The total size limit, on an ordinary workbook.
    let small = xlsx(&[("S", &regions())], &["东城区"]);
    let opts = IngestOptions {
        max_uncompressed_bytes: 1000,
        ..IngestOptions::default()
    };
    let e = run_with("small.xlsx", &small, &opts).unwrap_err();
    assert_eq!(e.code(), "zip_bomb");
    assert!(e.to_string().contains("1000 bytes"), "{e}");
}

#[test]
fn broken_workbooks_are_refused() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("hello.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"not a workbook").unwrap();
    let not_a_workbook = zip.finish().unwrap().into_inner();
    assert_eq!(run("x.xlsx", &not_a_workbook).unwrap_err().code(), "bad_xlsx");
    assert_eq!(run("x.xlsx", b"PK\x03\x04garbage").unwrap_err().code(), "bad_xlsx");
}

#[test]
fn xlsx_file_is_read_in_place() {
    let dir = std::env::temp_dir().join(format!("pubdata-xlsx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("regions.xlsx");
    std::fs::write(&path, xlsx(&[("S", &regions())], &["东城区"])).unwrap();
    let mut sink = common::Recorder::default();
    let report = pubdata_ingest::ingest_file(&path, &IngestOptions::default(), &mut sink, &mut |_| {}).unwrap();
    assert_eq!(report.rows, 2);
    assert_eq!(report.bytes, std::fs::metadata(&path).unwrap().len());
    std::fs::remove_dir_all(&dir).unwrap();
}
