//! Shared test helpers: a sink that records what it is given, and an XLSX writer.
#![allow(dead_code)]

use std::io::{Cursor, Write};

use pubdata_core::field::{FieldSpec, RowSink};
use pubdata_ingest::{ingest, IngestError, IngestOptions, Report};

/// Remembers the columns and rows it was given, and in which order the calls came.
#[derive(Debug, Default)]
pub struct Recorder {
    pub columns: Vec<FieldSpec>,
    pub rows: Vec<Vec<Option<String>>>,
    pub finished: bool,
    pub rows_before_begin: usize,
}

impl RowSink for Recorder {
    fn begin(&mut self, columns: &[FieldSpec]) -> Result<(), String> {
        self.columns = columns.to_vec();
        Ok(())
    }

    fn row(&mut self, values: &[Option<&str>]) -> Result<(), String> {
        if self.columns.is_empty() {
            self.rows_before_begin += 1;
        }
        self.rows.push(values.iter().map(|v| v.map(str::to_string)).collect());
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        self.finished = true;
        Ok(())
    }
}

impl Recorder {
    pub fn column(&self, i: usize) -> Vec<Option<&str>> {
        self.rows.iter().map(|r| r[i].as_deref()).collect()
    }
}

pub fn run(name: &str, bytes: &[u8]) -> Result<(Report, Recorder), IngestError> {
    run_with(name, bytes, &IngestOptions::default())
}

pub fn run_with(name: &str, bytes: &[u8], opts: &IngestOptions) -> Result<(Report, Recorder), IngestError> {
    let mut sink = Recorder::default();
    let report = ingest(bytes, name, Some(bytes.len() as u64), opts, &mut sink, &mut |_| {})?;
    Ok((report, sink))
}

pub fn err(name: &str, bytes: &[u8]) -> IngestError {
    match run(name, bytes) {
        Ok((r, _)) => panic!("expected an error, got a report:\n{r}"),
        Err(e) => e,
    }
}

/// A minimal XLSX workbook: `sheets` are (name, `<sheetData>` inner XML); `shared` strings.
pub fn xlsx(sheets: &[(&str, &str)], shared: &[&str]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut put = |name: &str, body: &str| {
        zip.start_file(name, opts).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    };
    let mut types = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>"#,
    );
    let mut book = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>"#,
    );
    let mut rels = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
    );
    for (i, (name, _)) in sheets.iter().enumerate() {
        let n = i + 1;
        types.push_str(&format!(
            r#"<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#
        ));
        book.push_str(&format!(r#"<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>"#));
        rels.push_str(&format!(
            r#"<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>"#
        ));
    }
    let ss = sheets.len() + 1;
    rels.push_str(&format!(
        r#"<Relationship Id="rId{ss}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#
    ));
    types.push_str(r#"<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#);
    book.push_str("</sheets></workbook>");
    put("[Content_Types].xml", &types);
    put(
        "_rels/.rels",
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
    );
    put("xl/workbook.xml", &book);
    put("xl/_rels/workbook.xml.rels", &rels);
    let strings: String = shared.iter().map(|s| format!("<si><t>{s}</t></si>")).collect();
    put(
        "xl/sharedStrings.xml",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{0}" uniqueCount="{0}">{strings}</sst>"#,
            shared.len()
        ),
    );
    for (i, (_, data)) in sheets.iter().enumerate() {
        put(
            &format!("xl/worksheets/sheet{}.xml", i + 1),
            &format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{data}</sheetData></worksheet>"#
            ),
        );
    }
    zip.finish().unwrap().into_inner()
}

/// An inline-string cell.
pub fn s(pos: &str, text: &str) -> String {
    format!(r#"<c r="{pos}" t="inlineStr"><is><t>{text}</t></is></c>"#)
}

/// A number cell.
pub fn n(pos: &str, v: &str) -> String {
    format!(r#"<c r="{pos}"><v>{v}</v></c>"#)
}

pub fn row(r: u32, cells: &[String]) -> String {
    format!(r#"<row r="{r}">{}</row>"#, cells.concat())
}
