//! The XLSX reader (zip container, workbook, shared strings, sheet XML, formula scan, zip-bomb
//! limits) through the whole ingest pipeline: bad input is an `Err`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pubdata_fuzz::{check_ingest, fuzz_options};

fuzz_target!(|data: &[u8]| {
    let opts = fuzz_options();
    if let Some((report, _)) = check_ingest(data, "fuzz.xlsx", &opts) {
        let sheet = report.sheet.as_ref().expect("an XLSX report names its sheet");
        assert!(report.sheets.contains(sheet), "{sheet:?} not in {:?}", report.sheets);
    }
});
