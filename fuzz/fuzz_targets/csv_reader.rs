//! The CSV reader (UTF-8, UTF-8 with BOM, GB18030; comma, semicolon, tab, pipe) through the
//! whole ingest pipeline: bad input is an `Err`, never a panic; a success is self-consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pubdata_fuzz::{check_ingest, fuzz_options};

fuzz_target!(|data: &[u8]| {
    // A leading tab byte also reads the file as .tsv (a delimiter preference).
    let name = if data.first() == Some(&b'\t') {
        "fuzz.tsv"
    } else {
        "fuzz.csv"
    };
    let opts = fuzz_options();
    if let Some((report, _)) = check_ingest(data, name, &opts) {
        assert!(report.encoding.is_some() && report.delimiter.is_some(), "{report:?}");
        assert!(report.bytes <= data.len() as u64 + 3, "more bytes read than given");
    }
});
