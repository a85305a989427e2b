//! The data API's query string (`GET /api/v1/resources/{id}/rows?…`) read into a datastore
//! query, and the prefix filter's upper bound. Bad parameters are validation errors naming the
//! parameter, never a panic; an accepted query is within the documented bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pubdata_core::datastore_query::{parse_rows_params, prefix_upper_bound, Op, MAX_LIMIT};
use pubdata_core::DomainError;

fuzz_target!(|data: &[u8]| {
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) else {
        return;
    };
    match parse_rows_params(&pairs) {
        Ok((q, _csv)) => {
            assert!((1..=MAX_LIMIT).contains(&q.limit), "limit {}", q.limit);
            assert!(
                q.fields.iter().all(|f| !f.is_empty() && f.trim() == f),
                "{:?}",
                q.fields
            );
            let filter_keys = pairs.iter().filter(|(k, _)| k.contains('.')).count();
            assert!(q.filters.len() <= filter_keys);
            for f in &q.filters {
                if f.op == Op::Prefix {
                    match prefix_upper_bound(&f.value) {
                        Some(u) => {
                            assert!(u.as_str() > f.value.as_str(), "bound {u:?} not above {:?}", f.value);
                            assert!(!u.starts_with(f.value.as_str()), "bound {u:?} starts with the prefix");
                        }
                        None => assert!(f.value.chars().all(|c| c == '\u{10FFFF}'), "{:?}", f.value),
                    }
                }
            }
        }
        Err(DomainError::Validation(fields)) => assert!(!fields.is_empty()),
        Err(other) => panic!("not a validation error: {other:?}"),
    }
    // The bound of any text, not only of accepted filters.
    let text = String::from_utf8_lossy(data);
    if let Some(u) = prefix_upper_bound(&text) {
        assert!(u.as_str() > text.as_ref());
    }
});
