//! An action's parameters as CKAN reads them; the parsing lives in `pubdata_core::ckan_params`
//! (pure, and fuzzed from `fuzz/`).

pub use pubdata_core::ckan_params::Params;
