//! `pubdata ingest FILE`: the upload pipeline, offline, with a progress line on the terminal.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use pubdata_core::field::{FieldSpec, NullSink, RowSink};
use pubdata_ingest::{ingest_file, IngestOptions, Progress};

fn progress_line(p: Progress, started: Instant) {
    let secs = started.elapsed().as_secs_f64().max(0.001);
    let mb = p.bytes_read as f64 / 1e6;
    let pct = p
        .total_bytes
        .filter(|t| *t > 0)
        .map(|t| format!("{:>5.1}% ", 100.0 * p.bytes_read as f64 / t as f64));
    let bar = p.total_bytes.filter(|t| *t > 0).map(|t| {
        let filled = (30 * p.bytes_read / t).min(30) as usize;
        format!("[{}{}] ", "#".repeat(filled), " ".repeat(30 - filled))
    });
    eprint!(
        "\r{}{}{} rows, {mb:.1} MB, {:.1} MB/s   ",
        bar.unwrap_or_default(),
        pct.unwrap_or_default(),
        p.rows,
        mb / secs
    );
    let _ = std::io::stderr().flush();
}

pub async fn run(file: &Path, schema: Option<&Path>, json: bool, load_into: Option<&Path>) -> anyhow::Result<ExitCode> {
    let fields: Vec<FieldSpec> = match schema {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{}: not a JSON list of fields", p.display()))?
        }
        None => Vec::new(),
    };
    let opts = IngestOptions {
        fields,
        ..Default::default()
    };
    let show = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut on_progress = move |p: Progress| {
        if show {
            progress_line(p, started);
        }
    };
    let mut sink: Box<dyn RowSink + Send> = match load_into {
        Some(db) => {
            let url = format!("sqlite://{}?mode=rwc", db.display());
            let store = pubdata_store::Store::open(&url, Default::default()).await?;
            store.migrate().await?;
            Box::new(store.datastore_loader("ds_ingest").await?)
        }
        None => Box::new(NullSink::default()),
    };
    let path = file.to_path_buf();
    let result =
        tokio::task::spawn_blocking(move || ingest_file(&path, &opts, sink.as_mut(), &mut on_progress)).await?;
    if show {
        eprintln!();
    }
    match result {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
                println!("({:.2} s)", started.elapsed().as_secs_f64());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error [{}]: {e}", e.code());
            Ok(ExitCode::from(3))
        }
    }
}
