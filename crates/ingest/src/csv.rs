//! CSV as a stream of records over decoded UTF-8: delimiter sniffing, quoting (via `csv-core`,
//! the `csv` crate's parser), header checks, ragged rows, and cell/record size limits enforced
//! while a record is being read, so a 100 MB cell never sits in memory.

use std::io::Read;

use csv_core::ReadRecordResult;

use crate::decode::DecodeState;
use crate::error::RaggedRow;
use crate::reader::{map_io, recycle, RowConsumer};
use crate::IngestError;

const SAMPLE: usize = 64 * 1024;
const CANDIDATES: [u8; 4] = [b',', b'\t', b';', b'|'];
/// Ragged rows listed in the error.
const RAGGED_LISTED: usize = 5;

pub(crate) struct CsvLimits {
    pub max_cell: usize,
    pub max_record: usize,
    pub prefer_tab: bool,
}

/// Reads a decoded CSV stream into `consumer`; returns the delimiter used.
pub(crate) fn read_csv<R: Read>(
    mut src: R,
    state: &DecodeState,
    limits: &CsvLimits,
    consumer: &mut dyn RowConsumer,
) -> Result<u8, IngestError> {
    let mut inbuf = vec![0u8; SAMPLE];
    let mut in_len = match read_full(&mut src, &mut inbuf) {
        Ok(n) => n,
        Err((n, e)) => {
            // Undecodable text in the first 64 KiB: the data row is the count of records before it.
            let records = field_counts(&inbuf[..n], b',', true, usize::MAX).len() as u64;
            return Err(map_io(e, state, records));
        }
    };
    let sample = &inbuf[..in_len];
    if sample.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::EmptyFile {
            detail: "there is no header and no data".into(),
        });
    }
    let delimiter = sniff_delimiter(sample, in_len == SAMPLE, limits.prefer_tab);
    let mut core = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
    let mut in_pos = 0;
    let mut eof = in_len < SAMPLE;
    let mut out = vec![0u8; 64 * 1024];
    let mut ends = vec![0usize; 64];
    let (mut outlen, mut endlen) = (0usize, 0usize);
    let mut header: Option<Vec<String>> = None;
    let mut ragged: Vec<RaggedRow> = Vec::new();
    let mut cells: Vec<&str> = Vec::new();
    let mut data_rows: u64 = 0;
    loop {
        if in_pos == in_len && !eof {
            in_len = read_full(&mut src, &mut inbuf).map_err(|(_, e)| map_io(e, state, data_rows + 1))?;
            in_pos = 0;
            eof = in_len == 0;
        }
        let (res, nin, nout, nend) = core.read_record(&inbuf[in_pos..in_len], &mut out[outlen..], &mut ends[endlen..]);
        in_pos += nin;
        outlen += nout;
        endlen += nend;
        let row = if header.is_some() { data_rows + 1 } else { 0 };
        match res {
            ReadRecordResult::InputEmpty => {}
            ReadRecordResult::OutputFull => {
                check_sizes(&out[..outlen], &ends[..endlen], true, row, header.as_deref(), limits)?;
                let grown = (out.len() * 2).min(limits.max_record.max(limits.max_cell) + 2);
                out.resize(grown.max(out.len() + 1), 0);
            }
            ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            ReadRecordResult::Record => {
                let fields = &ends[..endlen];
                check_sizes(&out[..outlen], fields, false, row, header.as_deref(), limits)?;
                let text = simdutf8::compat::from_utf8(&out[..outlen]).map_err(|e| IngestError::BadEncoding {
                    byte_offset: 0,
                    row,
                    detail: format!("invalid UTF-8 after decoding ({e})"),
                })?;
                let mut cs = recycle(std::mem::take(&mut cells));
                let mut start = 0;
                for &end in fields {
                    cs.push(&text[start..end]);
                    start = end;
                }
                match &header {
                    None => {
                        let names = check_header(&cs)?;
                        header = Some(names.clone());
                        consumer.header(names)?;
                    }
                    Some(h) if cs.len() == h.len() => {
                        data_rows += 1;
                        if ragged.is_empty() {
                            consumer.row(&cs)?;
                        }
                    }
                    Some(_) if cs.len() == 1 && cs[0].trim().is_empty() => {}
                    Some(_) => {
                        data_rows += 1;
                        if ragged.len() == RAGGED_LISTED {
                            return Err(ragged_error(header.as_deref(), ragged, true));
                        }
                        ragged.push(RaggedRow {
                            row: data_rows,
                            fields: cs.len(),
                        });
                    }
                }
                cells = recycle(cs);
                outlen = 0;
                endlen = 0;
            }
            ReadRecordResult::End => break,
        }
    }
    if !ragged.is_empty() {
        return Err(ragged_error(header.as_deref(), ragged, false));
    }
    if header.is_none() {
        return Err(IngestError::EmptyFile {
            detail: "there is no header and no data".into(),
        });
    }
    Ok(delimiter)
}

fn ragged_error(header: Option<&[String]>, rows: Vec<RaggedRow>, more: bool) -> IngestError {
    IngestError::RaggedRows {
        expected: header.map_or(0, |h| h.len()),
        rows,
        more,
    }
}

/// The cell being read (or every cell of a finished record) against the limits.
fn check_sizes(
    out: &[u8],
    ends: &[usize],
    partial: bool,
    row: u64,
    header: Option<&[String]>,
    limits: &CsvLimits,
) -> Result<(), IngestError> {
    let column = |i: usize| match header.and_then(|h| h.get(i)) {
        Some(name) => name.clone(),
        None => format!("#{}", i + 1),
    };
    let mut start = 0;
    for (i, &end) in ends.iter().enumerate() {
        if end - start > limits.max_cell {
            return Err(IngestError::CellTooLarge {
                row,
                column: column(i),
                limit: limits.max_cell as u64,
            });
        }
        start = end;
    }
    if partial && out.len() - start > limits.max_cell {
        return Err(IngestError::CellTooLarge {
            row,
            column: column(ends.len()),
            limit: limits.max_cell as u64,
        });
    }
    if out.len() > limits.max_record {
        return Err(IngestError::RecordTooLarge {
            row,
            limit: limits.max_record as u64,
        });
    }
    Ok(())
}

/// Header names, trimmed; none may be empty or repeated.
pub(crate) fn check_header(cells: &[&str]) -> Result<Vec<String>, IngestError> {
    let names: Vec<String> = cells.iter().map(|c| c.trim().to_string()).collect();
    let empty: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.is_empty())
        .map(|(i, _)| i + 1)
        .collect();
    if !empty.is_empty() {
        return Err(IngestError::EmptyHeader { positions: empty });
    }
    let mut seen = std::collections::HashSet::new();
    let mut dups: Vec<String> = Vec::new();
    for n in &names {
        if !seen.insert(n.as_str()) && !dups.contains(n) {
            dups.push(n.clone());
        }
    }
    if !dups.is_empty() {
        return Err(IngestError::DuplicateHeader { names: dups });
    }
    Ok(names)
}

/// Picks the delimiter that splits the first records into the same number (≥ 2) of fields,
/// parsing with quotes so quoted delimiters do not count. `truncated`: the sample ends mid-file.
pub(crate) fn sniff_delimiter(sample: &[u8], truncated: bool, prefer_tab: bool) -> u8 {
    let mut best = (0.0f64, 0usize, b',');
    for d in CANDIDATES {
        let counts = field_counts(sample, d, truncated, 50);
        let Some(&first) = counts.first() else { continue };
        if first < 2 {
            continue;
        }
        let consistent = counts.iter().filter(|&&c| c == first).count();
        let mut score = consistent as f64 / counts.len() as f64;
        if prefer_tab && d == b'\t' {
            score += 0.001;
        }
        if score > best.0 || (score == best.0 && first > best.1 && score > 0.0) {
            best = (score, first, d);
        }
    }
    best.2
}

fn field_counts(sample: &[u8], delimiter: u8, truncated: bool, max: usize) -> Vec<usize> {
    let mut core = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
    let mut out = vec![0u8; sample.len() + 1];
    let mut ends = vec![0usize; 4096];
    let mut counts = Vec::new();
    let mut input = sample;
    let mut fields = 0;
    loop {
        let (res, nin, _, nend) = core.read_record(input, &mut out, &mut ends);
        input = &input[nin..];
        fields += nend;
        match res {
            ReadRecordResult::Record => {
                counts.push(fields);
                fields = 0;
                if counts.len() >= max {
                    break;
                }
            }
            ReadRecordResult::InputEmpty if truncated => break,
            ReadRecordResult::InputEmpty => {}
            ReadRecordResult::End | ReadRecordResult::OutputFull => break,
            ReadRecordResult::OutputEndsFull => {
                // Thousands of fields: count them in slices.
            }
        }
    }
    counts
}

/// Fills `buf` as far as the source allows; 0 only at the end. On an error, also says how
/// many bytes were read before it.
fn read_full<R: Read>(src: &mut R, buf: &mut [u8]) -> Result<usize, (usize, std::io::Error)> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err((n, e)),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n", false, false), b',');
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n", false, false), b'\t');
        assert_eq!(sniff_delimiter(b"a;b\n1,5;2,5\n3,0;4\n", false, false), b';');
        assert_eq!(sniff_delimiter(b"a|b\n\"x|y\"|2\n", false, false), b'|');
        // Commas inside quotes do not count.
        assert_eq!(sniff_delimiter(b"name\tnote\n\"a, b, c\"\tx\n", false, false), b'\t');
        assert_eq!(sniff_delimiter(b"single\n1\n2\n", false, false), b',');
    }

    #[test]
    fn header_checks() {
        assert_eq!(check_header(&[" a ", "b"]).unwrap(), vec!["a", "b"]);
        match check_header(&["a", "", "c", " "]).unwrap_err() {
            IngestError::EmptyHeader { positions } => assert_eq!(positions, vec![2, 4]),
            e => panic!("{e}"),
        }
        match check_header(&["a", "b", "a", "b", "a"]).unwrap_err() {
            IngestError::DuplicateHeader { names } => assert_eq!(names, vec!["a", "b"]),
            e => panic!("{e}"),
        }
    }
}
