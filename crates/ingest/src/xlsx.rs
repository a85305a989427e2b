//! XLSX workbooks: the ZIP central directory is checked for bombs before anything is inflated,
//! then one sheet is streamed cell by cell through calamine (cached values of formulas), and the
//! sheet's XML is scanned separately for formula cells to warn about.

use std::fmt::Write as _;
use std::io::{BufReader, Read, Seek, SeekFrom};

use calamine::{DataRef, Reader, Xlsx};
use quick_xml::events::Event;

use crate::csv::check_header;
use crate::error::RaggedRow;
use crate::reader::RowConsumer;
use crate::IngestError;

pub(crate) struct XlsxLimits {
    pub max_uncompressed: u64,
    pub max_ratio: u64,
    pub max_cell: usize,
}

/// What the workbook held besides rows.
#[derive(Debug, Default)]
pub(crate) struct XlsxInfo {
    pub sheets: Vec<String>,
    pub sheet: String,
    pub formula_cells: u64,
    /// The first formula cells, like `B7`.
    pub formula_positions: Vec<String>,
    /// Cells holding an Excel error such as `#DIV/0!` (read as empty).
    pub error_cells: u64,
    /// Set when the formula scan could not run; the data is still read.
    pub formula_scan_failed: Option<String>,
}

/// Entries smaller than this are not judged by their compression ratio.
const RATIO_MIN_BYTES: u64 = 1 << 20;
const FORMULA_POSITIONS: usize = 5;

pub(crate) fn read_xlsx<RS: Read + Seek>(
    mut rs: RS,
    sheet: Option<&str>,
    limits: &XlsxLimits,
    consumer: &mut dyn RowConsumer,
) -> Result<XlsxInfo, IngestError> {
    let mut info = XlsxInfo::default();
    inspect_zip(&mut rs, sheet, limits, &mut info)?;
    rs.seek(SeekFrom::Start(0))?;
    let mut wb: Xlsx<RS> = Xlsx::new(rs).map_err(bad)?;
    info.sheets = wb.sheet_names();
    info.sheet = match sheet {
        Some(s) if info.sheets.iter().any(|n| n == s) => s.to_string(),
        Some(s) => {
            return Err(IngestError::SheetNotFound {
                sheet: s.to_string(),
                available: info.sheets.clone(),
            })
        }
        None => info.sheets.first().cloned().ok_or_else(|| IngestError::EmptyFile {
            detail: "the workbook has no sheets".into(),
        })?,
    };
    let mut cells = wb.worksheet_cells_reader(&info.sheet).map_err(bad)?;
    let mut rows = SheetRows::default();
    let mut text = String::new();
    while let Some(cell) = cells.next_cell().map_err(bad)? {
        let (r, c) = cell.get_position();
        if rows.current != Some(r) {
            rows.end_row(consumer)?;
            rows.current = Some(r);
        }
        text.clear();
        if cell_text(cell.get_value(), &mut text) {
            info.error_cells += 1;
        }
        if text.len() > limits.max_cell {
            return Err(IngestError::CellTooLarge {
                row: rows.data_rows + u64::from(rows.header.is_some()),
                column: rows.column_name(c),
                limit: limits.max_cell as u64,
            });
        }
        if !text.trim().is_empty() {
            rows.cell(c, &text);
        }
    }
    rows.end_row(consumer)?;
    if !rows.ragged.is_empty() {
        let more = rows.ragged.len() > 5;
        rows.ragged.truncate(5);
        return Err(IngestError::RaggedRows {
            expected: rows.header.as_ref().map_or(0, |h| h.1.len()),
            rows: rows.ragged,
            more,
        });
    }
    if rows.header.is_none() {
        return Err(IngestError::EmptyFile {
            detail: format!("sheet {:?} has no cells", info.sheet),
        });
    }
    Ok(info)
}

fn bad(e: calamine::XlsxError) -> IngestError {
    IngestError::BadXlsx { detail: e.to_string() }
}

/// Refuses bombs from the central directory alone (declared sizes; nothing is inflated), then
/// scans the chosen sheet's XML part for formula cells.
fn inspect_zip<RS: Read + Seek>(
    rs: &mut RS,
    sheet: Option<&str>,
    limits: &XlsxLimits,
    info: &mut XlsxInfo,
) -> Result<(), IngestError> {
    let mut zip = zip::ZipArchive::new(&mut *rs).map_err(|e| IngestError::BadXlsx {
        detail: format!("not a ZIP archive ({e})"),
    })?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let f = zip
            .by_index_raw(i)
            .map_err(|e| IngestError::BadXlsx { detail: e.to_string() })?;
        let (size, packed) = (f.size(), f.compressed_size());
        total = total.saturating_add(size);
        if size >= RATIO_MIN_BYTES && size / packed.max(1) > limits.max_ratio {
            return Err(IngestError::ZipBomb {
                detail: format!(
                    "part {:?} inflates {packed} bytes to {size} (ratio {} > {})",
                    f.name(),
                    size / packed.max(1),
                    limits.max_ratio
                ),
            });
        }
        if total > limits.max_uncompressed {
            return Err(IngestError::ZipBomb {
                detail: format!(
                    "the workbook's parts add up to more than {} bytes uncompressed",
                    limits.max_uncompressed
                ),
            });
        }
    }
    let workbook = read_part(&mut zip, "xl/workbook.xml").unwrap_or_default();
    let rels = read_part(&mut zip, "xl/_rels/workbook.xml.rels").unwrap_or_default();
    let parts = sheet_parts(&workbook, &rels);
    let part = match sheet {
        Some(name) => parts.iter().find(|(n, _)| n == name),
        None => parts.first(),
    };
    let scanned = match part {
        Some((_, path)) => match zip.by_name(path) {
            Ok(f) => count_formulas(f, info),
            Err(e) => Err(e.to_string()),
        },
        None => Err("the sheet's part was not found".to_string()),
    };
    info.formula_scan_failed = scanned.err();
    Ok(())
}

fn read_part<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, name: &str) -> Option<String> {
    let mut f = zip.by_name(name).ok()?;
    let mut s = String::new();
    // Parts were size-checked above; these two are small XML files.
    f.by_ref().take(16 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}

/// `(sheet name, part path)` from `workbook.xml` and its relationships.
fn sheet_parts(workbook: &str, rels: &str) -> Vec<(String, String)> {
    let targets = elements(rels, b"Relationship", &[b"Id", b"Target"]);
    elements(workbook, b"sheet", &[b"name", b"id"])
        .into_iter()
        .filter_map(|v| {
            let [name, rid] = <[String; 2]>::try_from(v).ok()?;
            let target = targets.iter().find(|t| t[0] == rid)?[1].clone();
            let path = match target.strip_prefix('/') {
                Some(abs) => abs.to_string(),
                None => format!("xl/{target}"),
            };
            Some((name, path))
        })
        .collect()
}

/// The given attributes (by local name) of every element with local name `tag`.
fn elements(xml: &str, tag: &[u8], attrs: &[&[u8]]) -> Vec<Vec<String>> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut found = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if e.local_name().as_ref() == tag => {
                let decoder = reader.decoder();
                let mut vals = vec![String::new(); attrs.len()];
                for a in e.attributes().flatten() {
                    if let Some(i) = attrs.iter().position(|n| *n == a.key.local_name().as_ref()) {
                        vals[i] = a
                            .decode_and_unescape_value(decoder)
                            .map(|v| v.into_owned())
                            .unwrap_or_default();
                    }
                }
                found.push(vals);
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    found
}

/// Counts the cells of a sheet that hold a formula (`<f>` inside `<c>`, shared formulas
/// included: calamine's formula reader skips their empty `<f t="shared" si="0"/>` children),
/// reading the part's XML as a stream.
fn count_formulas<R: Read>(part: R, info: &mut XlsxInfo) -> Result<(), String> {
    let mut reader = quick_xml::Reader::from_reader(BufReader::new(part));
    let mut buf = Vec::new();
    let (mut row, mut col) = (0u32, 0u32);
    let mut cell: Option<(u32, u32)> = None;
    let mut counted = false;
    loop {
        buf.clear();
        let decoder = reader.decoder();
        let ev = reader.read_event_into(&mut buf).map_err(|e| e.to_string())?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let start = matches!(ev, Event::Start(_));
                match e.local_name().as_ref() {
                    b"row" => {
                        if let Some(r) = attr(e, b"r", decoder).and_then(|r| r.parse::<u32>().ok()) {
                            row = r.saturating_sub(1);
                        }
                        col = 0;
                    }
                    b"c" => {
                        let pos = attr(e, b"r", decoder).and_then(|r| parse_a1(&r)).unwrap_or((row, col));
                        col = pos.1 + 1;
                        cell = start.then_some(pos);
                        counted = false;
                    }
                    b"f" => {
                        if let (Some(pos), false) = (cell, counted) {
                            counted = true;
                            info.formula_cells += 1;
                            if info.formula_positions.len() < FORMULA_POSITIONS {
                                info.formula_positions.push(a1(pos));
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::End(ref e) => match e.local_name().as_ref() {
                b"c" => cell = None,
                b"row" => row += 1,
                _ => {}
            },
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

fn attr(e: &quick_xml::events::BytesStart, name: &[u8], decoder: quick_xml::encoding::Decoder) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.decode_and_unescape_value(decoder).ok().map(|v| v.into_owned()))
}

/// `B7` → (6, 1), zero-based (row, column).
fn parse_a1(s: &str) -> Option<(u32, u32)> {
    let letters = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    if letters == 0 || letters > 3 {
        return None;
    }
    let col = s[..letters]
        .bytes()
        .fold(0u32, |n, c| n * 26 + u32::from(c.to_ascii_uppercase() - b'A' + 1));
    let row: u32 = s[letters..].parse().ok()?;
    Some((row.checked_sub(1)?, col - 1))
}

/// (6, 1) → `B7`.
pub(crate) fn a1((row, col): (u32, u32)) -> String {
    let mut letters = Vec::new();
    let mut n = col + 1;
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8_lossy(&letters), row + 1)
}

/// Writes a cell's value as text; returns whether it was an Excel error (written as empty).
fn cell_text(v: &DataRef, out: &mut String) -> bool {
    match v {
        DataRef::Int(i) => {
            let _ = write!(out, "{i}");
        }
        DataRef::Float(f) => float_text(*f, out),
        DataRef::String(s) => out.push_str(s),
        DataRef::SharedString(s) => out.push_str(s),
        DataRef::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        DataRef::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            let _ = write!(out, "{y:04}-{m:02}-{d:02}");
            if (h, mi, s) != (0, 0, 0) {
                let _ = write!(out, " {h:02}:{mi:02}:{s:02}");
            }
        }
        DataRef::DateTime(dt) => float_text(dt.as_f64(), out),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => out.push_str(s),
        DataRef::Error(_) => return true,
        DataRef::Empty => {}
    }
    false
}

/// Whole numbers without a fraction (Excel stores every number as a double).
fn float_text(f: f64, out: &mut String) {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        let _ = write!(out, "{}", f as i64);
    } else {
        let _ = write!(out, "{f}");
    }
}

/// Assembles the streamed cells into rows: the first non-empty row is the header, its first and
/// last non-empty cells the table's width; empty rows are skipped.
#[derive(Default)]
struct SheetRows {
    current: Option<u32>,
    /// (first column, names)
    header: Option<(u32, Vec<String>)>,
    pending: Vec<(u32, String)>,
    values: Vec<String>,
    data_rows: u64,
    ragged: Vec<RaggedRow>,
}

impl SheetRows {
    fn column_name(&self, col: u32) -> String {
        match &self.header {
            Some((start, names)) => col
                .checked_sub(*start)
                .and_then(|i| names.get(i as usize))
                .cloned()
                .unwrap_or_else(|| a1((0, col)).trim_end_matches('1').to_string()),
            None => a1((0, col)).trim_end_matches('1').to_string(),
        }
    }

    fn cell(&mut self, col: u32, text: &str) {
        self.pending.push((col, text.to_string()));
    }

    fn end_row(&mut self, consumer: &mut dyn RowConsumer) -> Result<(), IngestError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let Some((start, names)) = &self.header else {
            let first = pending.iter().map(|p| p.0).min().unwrap_or(0);
            let last = pending.iter().map(|p| p.0).max().unwrap_or(0);
            let mut cells = vec![""; (last - first + 1) as usize];
            for (c, t) in &pending {
                cells[(c - first) as usize] = t.as_str();
            }
            let names = check_header(&cells)?;
            self.values = vec![String::new(); names.len()];
            self.header = Some((first, names.clone()));
            return consumer.header(names);
        };
        self.data_rows += 1;
        let (start, width) = (*start, names.len() as u32);
        let outside = pending
            .iter()
            .map(|p| p.0)
            .filter(|&c| c < start || c >= start + width)
            .max();
        if let Some(max) = outside {
            let first = pending.iter().map(|p| p.0).min().unwrap_or(start).min(start);
            self.ragged.push(RaggedRow {
                row: self.data_rows,
                fields: (max.max(start + width - 1) - first + 1) as usize,
            });
            return Ok(());
        }
        if !self.ragged.is_empty() {
            return Ok(());
        }
        for v in &mut self.values {
            v.clear();
        }
        for (c, t) in pending {
            self.values[(c - start) as usize] = t;
        }
        let cells: Vec<&str> = self.values.iter().map(String::as_str).collect();
        consumer.row(&cells)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1_notation() {
        assert_eq!(a1((6, 1)), "B7");
        assert_eq!(a1((0, 25)), "Z1");
        assert_eq!(a1((9, 26)), "AA10");
        assert_eq!(parse_a1("AA10"), Some((9, 26)));
        assert_eq!(parse_a1("B7"), Some((6, 1)));
        assert_eq!(parse_a1("7"), None);
    }

    #[test]
    fn sheet_parts_follow_relationships() {
        let wb = r#"<workbook xmlns:r="x"><sheets><sheet name="数据&amp;表" sheetId="1" r:id="rId2"/>
            <sheet name="Other" sheetId="2" r:id="rId1"/></sheets></workbook>"#;
        let rels = r#"<Relationships><Relationship Id="rId1" Target="worksheets/sheet2.xml"/>
            <Relationship Id="rId2" Target="/xl/worksheets/sheet1.xml"/></Relationships>"#;
        assert_eq!(
            sheet_parts(wb, rels),
            vec![
                ("数据&表".to_string(), "xl/worksheets/sheet1.xml".to_string()),
                ("Other".to_string(), "xl/worksheets/sheet2.xml".to_string())
            ]
        );
    }
}
