//! pubdata's domain: types, validation rules, the authorisation policy and the audit hash.
//! Pure Rust with no IO, so every rule can be unit-tested and every layer applies the same one.

pub mod acceptance;
pub mod application;
pub mod audit;
pub mod calendar;
pub mod ckan_params;
pub mod correction;
pub mod credit_code;
pub mod datastore_query;
pub mod demand;
pub mod error;
pub mod evaluation;
pub mod field;
pub mod metadata;
pub mod org;
pub mod plan;
pub mod policy;
pub mod quality;
pub mod resource;
pub mod security;
pub mod security_report;
pub mod self_evaluation;
pub mod showcase;
pub mod usage_report;
pub mod user;

pub use error::{DomainError, FieldError};
