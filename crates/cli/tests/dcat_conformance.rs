//! Conformance of the open-data output, checked by the reference tools against a real
//! `pubdata demo` (seeded with the national street table, downloads open to everyone):
//!
//! - `pyshacl` with the official DCAT-AP 3.0.1 shapes (`../shared/conformance/dcat-ap`) on the
//!   catalogue and on every dataset with loaded data, in Turtle: no violations;
//! - `rdflib` reads the JSON-LD and RDF/XML of both to the same graph as the Turtle;
//! - `frictionless validate` on the data package of every such dataset that is open to anonymous
//!   download (unconditional), which downloads the CSV and checks it against the Table Schema.
//!
//! The tools come from `.ci/run` (`PUBDATA_PYTHON` names the venv's Python; `pyshacl` and
//! `frictionless` sit beside it). Without them, or without `../shared`, the test prints `SKIP …`
//! and passes, unless `PUBDATA_TEST_STRICT=1`, where it fails.

use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Seeding loads 620 000 villages and ingests the street table: slow in debug builds.
const START_TIMEOUT: Duration = Duration::from_secs(600);

struct Tools {
    python: PathBuf,
    pyshacl: PathBuf,
    frictionless: PathBuf,
    shapes: PathBuf,
    regions: PathBuf,
}

fn strict() -> bool {
    std::env::var("PUBDATA_TEST_STRICT").as_deref() == Ok("1")
}

/// The tools and shared files, or why they are unavailable.
fn tools() -> Result<Tools, String> {
    let python = PathBuf::from(
        std::env::var_os("PUBDATA_PYTHON")
            .ok_or("PUBDATA_PYTHON (a Python with pyshacl, rdflib, frictionless) is not set")?,
    );
    let bin = python.parent().ok_or("PUBDATA_PYTHON has no directory")?;
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    let t = Tools {
        pyshacl: bin.join("pyshacl"),
        frictionless: bin.join("frictionless"),
        shapes: shared.join("conformance/dcat-ap/dcat-ap-3.0.1-SHACL.ttl"),
        regions: shared.join("data"),
        python,
    };
    for p in [&t.python, &t.pyshacl, &t.frictionless, &t.shapes] {
        if !p.is_file() {
            return Err(format!("{} not found", p.display()));
        }
    }
    if !t.regions.join("streets.csv").is_file() {
        return Err(format!("{} has no streets.csv", t.regions.display()));
    }
    Ok(t)
}

/// The demo process, stopped (and its directory removed on success) when the test ends.
struct Demo {
    child: Child,
    dir: PathBuf,
    base: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("demo log and data kept in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn start_demo(t: &Tools) -> Demo {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("pubdata-dcat-{}-{port}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    let log = File::create(dir.join("demo.log")).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_pubdata"))
        .args(["demo", "--data-dir"])
        .arg(dir.join("data"))
        .args(["--addr", &format!("127.0.0.1:{port}"), "--password", "demo-pass-2026"])
        .env_remove("PUBDATA_CONFIG")
        .env_remove("PUBDATA_PUBLIC_URL")
        .env_remove("PUBDATA_DATABASE_URL")
        .env("PUBDATA_OPEN_DOWNLOADS", "true")
        .env("PUBDATA_REGIONS_DIR", &t.regions)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("start pubdata demo");
    let mut demo = Demo {
        child,
        dir,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if ureq::get(&format!("{}/healthz", demo.base)).call().is_ok() {
            return demo;
        }
        let exited = demo.child.try_wait().ok().flatten();
        if exited.is_some() || Instant::now() > deadline {
            let log = fs::read_to_string(demo.dir.join("demo.log")).unwrap_or_default();
            panic!("pubdata demo did not come up ({exited:?}):\n{log}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn fetch(url: &str) -> String {
    let resp = ureq::get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    resp.into_string().unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

fn save(demo: &Demo, name: &str, body: &str) -> PathBuf {
    let path = demo.dir.join(name);
    fs::write(&path, body).expect("write document");
    path
}

fn report(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `pyshacl -s dcat-ap-3.0.1-SHACL.ttl -df turtle FILE`: conforms, with no results at all.
fn assert_conforms(t: &Tools, file: &Path) {
    let out = Command::new(&t.pyshacl)
        .arg("-s")
        .arg(&t.shapes)
        .args(["-df", "turtle"])
        .arg(file)
        .output()
        .expect("run pyshacl");
    let text = report(&out);
    assert!(
        out.status.success() && text.contains("Conforms: True") && !text.contains("Constraint Violation"),
        "{} does not conform to DCAT-AP 3.0.1:\n{text}",
        file.display()
    );
    println!("pyshacl {}: Conforms: True", file.display());
}

/// rdflib reads the three syntaxes to graphs of the same size; prints `ttl jsonld rdf` counts.
/// With `same_graph`, the graphs must also be isomorphic (blank nodes aside).
fn assert_same_graph(t: &Tools, ttl: &Path, jsonld: &Path, rdf: &Path, same_graph: bool) {
    let script = r#"
import sys, rdflib
from rdflib.compare import isomorphic
g = [rdflib.Graph().parse(f, format=fmt) for f, fmt in
     ((sys.argv[1], "turtle"), (sys.argv[2], "json-ld"), (sys.argv[3], "xml"))]
print(len(g[0]), len(g[1]), len(g[2]), isomorphic(g[0], g[1]) and isomorphic(g[0], g[2]))
"#;
    let out = Command::new(&t.python)
        .args(["-c", script])
        .args([ttl, jsonld, rdf])
        .output()
        .expect("run rdflib");
    let text = report(&out);
    assert!(out.status.success(), "rdflib could not read the documents:\n{text}");
    let words: Vec<&str> = text.split_whitespace().collect();
    assert!(
        words.len() == 4 && words[0] == words[1] && words[0] == words[2] && words[0] != "0",
        "triple counts differ (ttl jsonld rdf): {text}"
    );
    if same_graph {
        assert_eq!(words[3], "True", "the syntaxes describe different graphs: {text}");
    }
    println!("rdflib {}: {} triples in each syntax", ttl.display(), words[0]);
}

/// Datasets in a catalogue page that offer a download: their names.
fn downloadable(catalog_ttl: &str) -> Vec<String> {
    let mut names: Vec<String> = catalog_ttl
        .lines()
        .filter_map(|l| l.trim().strip_prefix("dcat:downloadURL <"))
        .filter_map(|url| url.split("/dataset/").nth(1))
        .filter_map(|rest| rest.split('/').next())
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn dcat_and_data_packages_pass_the_reference_validators() {
    let t = match tools() {
        Ok(t) => t,
        Err(why) => {
            assert!(
                !strict(),
                "PUBDATA_TEST_STRICT=1 but the conformance tools are missing: {why}"
            );
            println!("SKIP DCAT-AP / Frictionless conformance: {why}");
            return;
        }
    };
    let demo = start_demo(&t);

    let page: Vec<(String, PathBuf)> = ["ttl", "jsonld", "rdf"]
        .iter()
        .map(|ext| {
            let body = fetch(&format!("{}/catalog.{ext}", demo.base));
            let path = save(&demo, &format!("catalog.{ext}"), &body);
            (body, path)
        })
        .collect();
    assert!(page[0].0.contains("dcat:Catalog"), "{}", page[0].0);
    assert_conforms(&t, &page[0].1);
    // The paging links name each page in its own syntax, so only the sizes compare.
    assert_same_graph(&t, &page[0].1, &page[1].1, &page[2].1, false);

    let names = downloadable(&page[0].0);
    assert!(
        !names.is_empty(),
        "the demo publishes no dataset with loaded data:\n{}",
        page[0].0
    );
    let mut open = Vec::new();
    for name in &names {
        let docs: Vec<PathBuf> = ["ttl", "jsonld", "rdf"]
            .iter()
            .map(|ext| {
                let body = fetch(&format!("{}/dataset/{name}.{ext}", demo.base));
                if *ext == "ttl" && body.contains("/authority/access-right/PUBLIC>") {
                    open.push(name.clone());
                }
                save(&demo, &format!("{name}.{ext}"), &body)
            })
            .collect();
        assert_conforms(&t, &docs[0]);
        assert_same_graph(&t, &docs[0], &docs[1], &docs[2], true);
    }

    // Anonymous downloads are open for unconditional data only; conditional data needs a login,
    // which frictionless does not have.
    assert!(
        !open.is_empty(),
        "the demo publishes no unconditional dataset with loaded data"
    );
    for name in names.iter().filter(|n| !open.contains(n)) {
        let package: serde_json::Value =
            serde_json::from_str(&fetch(&format!("{}/dataset/{name}/datapackage.json", demo.base)))
                .expect("a JSON data package");
        let path = package["resources"][0]["path"].as_str().expect("a resource path");
        match ureq::get(path).call() {
            Err(ureq::Error::Status(401, _)) => {}
            other => panic!("{path} without a login: {other:?}"),
        }
    }
    for name in &open {
        let package = format!("{}/dataset/{name}/datapackage.json", demo.base);
        let out = Command::new(&t.frictionless)
            .args(["validate", "--json", &package])
            .output()
            .expect("run frictionless");
        let text = report(&out);
        let result: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("frictionless did not answer JSON ({e}):\n{text}"));
        assert!(
            out.status.success() && result["valid"] == true,
            "frictionless validate {package} failed:\n{text}"
        );
        let rows = &result["tasks"][0]["stats"]["rows"];
        assert!(rows.as_u64().unwrap_or(0) > 0, "no rows were checked:\n{text}");
        println!("frictionless validate {package}: valid, {rows} rows");
    }
}
