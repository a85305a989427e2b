//! The region table (行政区划): loading the national statistics division codes (2023) from
//! `provinces.csv`, `cities.csv`, `areas.csv`, `streets.csv` and `villages.csv.gz`.
//!
//! Codes are normalised to the GB/T 2260 form at the top levels (province `51` → `510000`,
//! city `5101` → `510100`); counties keep 6 digits, streets 9 and villages 12.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use pubdata_core::DomainError;
use pubdata_store::RegionRow;
use serde_json::json;

use crate::{Caller, Result, Store, StoreError};

/// The files in load order, with their parent column and level.
const FILES: [(&str, Option<&str>, i64); 5] = [
    ("provinces.csv", None, 1),
    ("cities.csv", Some("provinceCode"), 2),
    ("areas.csv", Some("cityCode"), 3),
    ("streets.csv", Some("areaCode"), 4),
    ("villages.csv.gz", Some("streetCode"), 5),
];

/// Pads province (2) and city (4) codes to six digits; other codes are already complete.
pub fn normalise_code(code: &str) -> String {
    match code.len() {
        2 => format!("{code}0000"),
        4 => format!("{code}00"),
        _ => code.to_string(),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Rows read per level (province … village).
    pub read: [u64; 5],
    pub inserted: u64,
}

fn open(path: &Path) -> std::io::Result<Box<dyn Read>> {
    let f = BufReader::new(File::open(path)?);
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    })
}

fn bad_file(path: &Path, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("{}: {detail}", path.display()))
}

/// Whether `dir` holds the region files.
pub fn is_region_dir(dir: &Path) -> bool {
    FILES.iter().all(|(name, _, _)| dir.join(name).is_file())
}

/// Loads every region file in one transaction (all or nothing), with one audit event.
/// Codes already present are kept, so loading again changes nothing.
pub async fn load_from_dir(store: &Store, caller: &Caller, dir: &Path) -> Result<LoadReport> {
    if !caller.actor.sysadmin {
        return Err(DomainError::Forbidden.into());
    }
    let mut report = LoadReport::default();
    let mut tx = store.begin().await?;
    for (i, (name, parent_col, level)) in FILES.iter().enumerate() {
        let path = dir.join(name);
        let mut csv = csv::Reader::from_reader(open(&path).map_err(|e| bad_file(&path, e))?);
        let headers = csv.headers().map_err(|e| bad_file(&path, e))?.clone();
        let col = |n: &str| {
            headers
                .iter()
                .position(|h| h == n)
                .ok_or_else(|| bad_file(&path, format!("no column {n}")))
        };
        let (code_i, name_i) = (col("code")?, col("name")?);
        let parent_i = parent_col.map(col).transpose()?;
        let mut batch = Vec::with_capacity(5000);
        for rec in csv.records() {
            let rec = rec.map_err(|e| bad_file(&path, e))?;
            let field = |i: usize| rec.get(i).unwrap_or_default().trim();
            batch.push(RegionRow {
                code: normalise_code(field(code_i)),
                name: field(name_i).to_string(),
                parent_code: parent_i.map(|p| normalise_code(field(p))),
                level: *level,
            });
            if batch.len() == 5000 {
                report.inserted += tx.insert_regions(&batch).await?;
                report.read[i] += batch.len() as u64;
                batch.clear();
            }
        }
        report.inserted += tx.insert_regions(&batch).await?;
        report.read[i] += batch.len() as u64;
    }
    let mut e = caller.audit("region.load", "regions", dir.display());
    e.after = Some(json!({"read": report.read, "inserted": report.inserted}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(report)
}
