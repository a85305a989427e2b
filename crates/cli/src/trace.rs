//! `pubdata trace LEAKED_FILE --resource CODE`: which grant a leaked copy of conditional data
//! came from, read back from the row order its download was given (see docs/security.md).

use std::path::Path;

use anyhow::Context;
use pubdata_server::Config;
use pubdata_store::Store;

/// Prints the report; true when a grant is named.
pub async fn run(store: &Store, config: &Config, file: &Path, resource: &str, json: bool) -> anyhow::Result<bool> {
    let secret = pubdata_server::watermark_secret(&config.data_dir)?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("leaked.csv");
    let reader = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let report = pubdata_service::download::trace(store, &secret, resource, reader, name)
        .await
        .with_context(|| format!("cannot trace {} against {resource}", file.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(report.matched().is_some())
}
