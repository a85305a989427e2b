//! Throughput of the download watermark: the villages table's CSV lines (about 38 MB, read from
//! `../shared/data/villages.csv.gz`) pass through a [`Permuter`] into 1 MiB chunks, as a download
//! handler would send them, repeated until about 500 MB have passed. Target: 150 MB/s.
//!
//! `cargo run --release -p pubdata-ingest --example watermark_bench [-- FILE.csv.gz]`

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use pubdata_ingest::watermark::{Permuter, WatermarkSecret};

const TARGET_BYTES: usize = 500_000_000;
const CHUNK: usize = 1 << 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/villages.csv.gz"));
    let mut csv = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path)?).read_to_end(&mut csv)?;
    let body_start = csv.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
    let lines: Vec<&[u8]> = csv[body_start..].split_inclusive(|&b| b == b'\n').collect();
    let table_bytes = csv.len() - body_start;
    let passes = TARGET_BYTES.div_ceil(table_bytes);
    println!(
        "{}: {} rows, {:.1} MB; {passes} passes, {:.0} MB in all",
        path.display(),
        lines.len(),
        table_bytes as f64 / 1e6,
        (passes * table_bytes) as f64 / 1e6
    );
    let secret = WatermarkSecret(b"benchmark secret".to_vec());

    // Borrowed lines copied into the chunk being sent, without and with the watermark.
    let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
    for watermark in [false, true] {
        let started = Instant::now();
        let mut sent = 0usize;
        let mut ready: Vec<&[u8]> = Vec::with_capacity(256);
        for pass in 0..passes {
            let mut permuter = Permuter::new(&secret, &format!("grant-{pass}"));
            for line in &lines {
                if watermark {
                    permuter.push(*line, &mut ready);
                } else {
                    ready.push(line);
                }
                send(&mut ready, &mut chunk, &mut sent);
            }
            permuter.finish(&mut ready);
            send(&mut ready, &mut chunk, &mut sent);
        }
        sent += chunk.len();
        chunk.clear();
        let what = if watermark {
            "lines, watermarked"
        } else {
            "lines, no watermark (baseline)"
        };
        report(what, sent, started);
    }

    // Owned rows of cells, as the datastore cursor yields them, written as CSV.
    let rows: Vec<Vec<Option<String>>> = lines
        .iter()
        .map(|l| {
            String::from_utf8_lossy(l)
                .trim_end()
                .split(',')
                .map(|c| Some(c.to_string()))
                .collect()
        })
        .collect();
    let started = Instant::now();
    let mut sent = 0usize;
    let mut out: Vec<Vec<Option<String>>> = Vec::with_capacity(256);
    let passes = passes.div_ceil(4);
    for pass in 0..passes {
        let mut permuter = Permuter::new(&secret, &format!("grant-{pass}"));
        for row in &rows {
            permuter.push(row.clone(), &mut out);
            write_rows(&mut out, &mut chunk, &mut sent);
        }
        permuter.finish(&mut out);
        write_rows(&mut out, &mut chunk, &mut sent);
    }
    sent += chunk.len();
    report("rows of cells (cloned, then written)", sent, started);
    Ok(())
}

fn send(ready: &mut Vec<&[u8]>, chunk: &mut Vec<u8>, sent: &mut usize) {
    for line in ready.drain(..) {
        chunk.extend_from_slice(line);
    }
    if chunk.len() >= CHUNK {
        *sent += chunk.len();
        std::hint::black_box(&chunk);
        chunk.clear();
    }
}

fn write_rows(rows: &mut Vec<Vec<Option<String>>>, chunk: &mut Vec<u8>, sent: &mut usize) {
    for row in rows.drain(..) {
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                chunk.push(b',');
            }
            chunk.extend_from_slice(cell.as_deref().unwrap_or("").as_bytes());
        }
        chunk.extend_from_slice(b"\r\n");
    }
    if chunk.len() >= CHUNK {
        *sent += chunk.len();
        std::hint::black_box(&chunk);
        chunk.clear();
    }
}

fn report(what: &str, bytes: usize, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{what}: {:.0} MB in {secs:.2} s = {:.0} MB/s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs
    );
}
