//! Which reader a file needs: its extension and its first bytes. Binary data is refused here,
//! with what it looks like, before any reader sees it.

use serde::{Deserialize, Serialize};

use crate::IngestError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Xlsx,
    Json,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
        }
    }
}

pub(crate) const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// Decides the format of a file called `name` whose first bytes (up to 64 KiB) are `head`.
pub fn detect_format(name: &str, head: &[u8]) -> Result<Format, IngestError> {
    let ext = extension(name);
    if let Some(what) = known_binary(head) {
        let zip = head.starts_with(ZIP_MAGIC);
        return match ext.as_str() {
            "xlsx" | "xlsm" if zip => Ok(Format::Xlsx),
            "xls" => Err(IngestError::UnsupportedFormat {
                detail: "legacy Excel 97–2003 (.xls) workbooks are not supported; save it as .xlsx".into(),
            }),
            "csv" | "tsv" | "txt" | "json" | "xlsx" | "xlsm" => Err(IngestError::BinaryData {
                detail: format!("a file named .{ext} that is {what}"),
            }),
            _ if zip => Ok(Format::Xlsx),
            _ => Err(IngestError::BinaryData { detail: what.into() }),
        };
    }
    match ext.as_str() {
        "xlsx" | "xlsm" => Err(IngestError::BadXlsx {
            detail: "the file is named .xlsx but is not a ZIP archive".into(),
        }),
        "xls" => Err(IngestError::UnsupportedFormat {
            detail: "legacy Excel 97–2003 (.xls) workbooks are not supported; save it as .xlsx".into(),
        }),
        "json" => Ok(Format::Json),
        "csv" | "tsv" | "txt" => {
            check_text(head)?;
            Ok(Format::Csv)
        }
        _ => {
            let first = head.iter().find(|b| !b.is_ascii_whitespace());
            if matches!(first, Some(b'[') | Some(b'{')) {
                Ok(Format::Json)
            } else {
                check_text(head)?;
                Ok(Format::Csv)
            }
        }
    }
}

fn extension(name: &str) -> String {
    std::path::Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Magic numbers of common non-text files.
fn known_binary(head: &[u8]) -> Option<&'static str> {
    const MAGICS: &[(&[u8], &str)] = &[
        (ZIP_MAGIC, "a ZIP archive (an XLSX workbook?)"),
        (
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
            "a legacy Office document (.xls/.doc)",
        ),
        (b"%PDF", "a PDF document"),
        (b"\x1F\x8B", "gzip-compressed; decompress it first"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"7z\xBC\xAF", "a 7-Zip archive"),
        (b"Rar!", "a RAR archive"),
        (b"SQLite format 3\0", "an SQLite database"),
    ];
    MAGICS.iter().find(|(m, _)| head.starts_with(m)).map(|(_, what)| *what)
}

/// Refuses UTF-16 and binary data: NUL bytes, or more than 1 % control characters.
pub(crate) fn check_text(head: &[u8]) -> Result<(), IngestError> {
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return Err(IngestError::BadEncoding {
            byte_offset: 0,
            row: 0,
            detail: "the file is UTF-16 text; save it as UTF-8 (or GB18030) instead".into(),
        });
    }
    if let Some(p) = head.iter().position(|&b| b == 0) {
        return Err(IngestError::BinaryData {
            detail: format!("binary data: a NUL byte at offset {p}"),
        });
    }
    let control = head
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1A)) || b == 0x7F)
        .count();
    if control * 100 > head.len() {
        return Err(IngestError::BinaryData {
            detail: format!("binary data: {control} control bytes in the first {} bytes", head.len()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_extension_and_magic() {
        assert_eq!(detect_format("a.csv", b"a,b\n1,2\n").unwrap(), Format::Csv);
        assert_eq!(detect_format("a.TSV", b"a\tb\n").unwrap(), Format::Csv);
        assert_eq!(detect_format("a.json", b"[{}]").unwrap(), Format::Json);
        assert_eq!(detect_format("upload", b"  [{\"a\":1}]").unwrap(), Format::Json);
        assert_eq!(detect_format("upload", b"PK\x03\x04rest").unwrap(), Format::Xlsx);
        assert_eq!(detect_format("a.xlsx", b"PK\x03\x04rest").unwrap(), Format::Xlsx);
        assert_eq!(detect_format("upload.dat", b"a;b\n").unwrap(), Format::Csv);
    }

    #[test]
    fn refuses_binary_named_csv() {
        let e = detect_format("a.csv", b"PK\x03\x04rest").unwrap_err();
        assert_eq!(e.code(), "binary_data");
        assert!(e.to_string().contains("ZIP"), "{e}");
        let e = detect_format("a.csv", b"a,b\n1,\0\n").unwrap_err();
        assert_eq!(e.code(), "binary_data");
        let noise: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 32) as u8).collect();
        assert_eq!(detect_format("a.csv", &noise).unwrap_err().code(), "binary_data");
        assert_eq!(
            detect_format("a.csv", b"\x1F\x8B\x08").unwrap_err().code(),
            "binary_data"
        );
        assert_eq!(
            detect_format("a.csv", b"\xFF\xFEa\0").unwrap_err().code(),
            "bad_encoding"
        );
        assert_eq!(
            detect_format("a.xls", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
                .unwrap_err()
                .code(),
            "unsupported_format"
        );
        assert_eq!(detect_format("a.xlsx", b"a,b").unwrap_err().code(), "bad_xlsx");
    }
}
