//! The JSON reader (a top-level array of objects, read one element at a time)
//! through the whole ingest pipeline: bad input is an `Err`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pubdata_fuzz::{check_ingest, fuzz_options};

fuzz_target!(|data: &[u8]| {
    let opts = fuzz_options();
    if let Some((report, _)) = check_ingest(data, "fuzz.json", &opts) {
        assert!(report.encoding.is_some(), "{report:?}");
    }
});
