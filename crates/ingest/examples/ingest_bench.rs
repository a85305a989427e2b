//! Runs the whole pipeline on a CSV file into a fresh SQLite datastore table, for
//! `bench/ingest.sh`: decode, profile, audit (declared key on `code`), privacy scan, load.
//!
//! `cargo run --release -p pubdata-ingest --example ingest_bench -- FILE DB [--null]`
//! (`--null` skips the database and measures the pipeline alone).

use std::path::PathBuf;
use std::time::Instant;

use pubdata_core::field::{FieldSpec, FieldType, NullSink, RowSink};
use pubdata_ingest::{ingest_file, IngestOptions};
use pubdata_store::{OpenOptions, Store};

fn villages_fields() -> Vec<FieldSpec> {
    let mut code = FieldSpec::new("code", FieldType::Code);
    code.key = true;
    code.required = true;
    let mut fields = vec![code, FieldSpec::new("name", FieldType::String)];
    for name in ["streetCode", "provinceCode", "cityCode", "areaCode"] {
        fields.push(FieldSpec::new(name, FieldType::Code));
    }
    fields
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(file), Some(db)) = (args.first(), args.get(1)) else {
        eprintln!("usage: ingest_bench FILE DB [--null]");
        std::process::exit(2);
    };
    let null = args.iter().any(|a| a == "--null");
    let opts = IngestOptions {
        fields: villages_fields(),
        ..IngestOptions::default()
    };
    let path = PathBuf::from(file);
    let started = Instant::now();
    let store = Store::open(&format!("sqlite://{db}?mode=rwc"), OpenOptions::default()).await?;
    store.migrate().await?;
    let mut sink: Box<dyn RowSink + Send> = if null {
        Box::new(NullSink::default())
    } else {
        Box::new(store.datastore_loader("ds_1").await?)
    };
    let report = tokio::task::spawn_blocking(move || {
        let report = ingest_file(&path, &opts, sink.as_mut(), &mut |_| {});
        drop(sink);
        report
    })
    .await??;
    let elapsed = started.elapsed();
    let loaded = if null {
        0
    } else {
        store.datastore_row_count("ds_1").await?
    };
    store.close().await;
    println!(
        "rows={} loaded={} quality={:.1} duplicates={} privacy_findings={} seconds={:.3}",
        report.rows,
        loaded,
        report.quality.overall_score,
        report
            .quality
            .findings
            .iter()
            .filter(|f| f.rule == pubdata_ingest::QualityRule::DuplicateKey)
            .map(|f| f.count)
            .sum::<u64>(),
        report.privacy.len(),
        elapsed.as_secs_f64()
    );
    Ok(())
}
