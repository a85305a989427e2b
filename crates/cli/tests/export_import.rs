//! `pubdata export` / `pubdata import`: a platform on the embedded default (SQLite, local files)
//! moves to PostgreSQL + S3 and comes out the same — row counts and checksums of every table
//! (the datastore's too), every file by sha256, the audit chain — then serves its data from
//! there, ranged downloads included. Bad exports are refused before anything is written.
//!
//! The PostgreSQL + S3 story needs `PUBDATA_TEST_DATABASE_URL` (a database is created next to
//! it for the run and dropped after), `psql`, and moto's S3 server beside `PUBDATA_PYTHON`
//! (`moto[server]`); without them it prints `SKIP …`, unless `PUBDATA_TEST_STRICT=1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn pubdata(args: &[&str], env: &[(&str, String)], data_dir: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pubdata"));
    cmd.args(args)
        .env("PUBDATA_DATA_DIR", data_dir)
        .env("PUBDATA_REGIONS_DIR", data_dir.join("no-regions"))
        .env("PUBDATA_LOG", "warn")
        .env_remove("PUBDATA_DATABASE_URL")
        .env_remove("PUBDATA_CONFIG")
        .current_dir(data_dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run pubdata")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

/// The parts of a manifest that must survive a move: every table's schema, row count and
/// checksum, and every file.
fn content(m: &Value) -> Value {
    json!({"schema_version": m["schema_version"], "tables": m["tables"], "files": m["files"]})
}

fn table<'a>(m: &'a Value, name: &str) -> &'a Value {
    m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no table {name} in the manifest"))
}

#[test]
fn sqlite_round_trip_and_bad_exports_are_refused() {
    let root = unique_temp_dir("pubdata-export");
    let a = root.join("a");
    std::fs::create_dir_all(&a).unwrap();
    seed(&a);
    let export = root.join("export");
    let out = ok(
        pubdata(&["export", "--to", export.to_str().unwrap()], &[], &a),
        "export",
    );
    assert!(out.contains("exported"), "{out}");
    let m = manifest(&export);
    assert_eq!(m["format"], "pubdata-export");
    assert_eq!(table(&m, "users")["rows"], 3, "{m}");
    assert!(table(&m, "audit_events")["rows"].as_u64().unwrap() > 0);
    assert!(export.join("mask.key").is_file() || m["mask_key"] == false);

    // Exporting over something is refused.
    let again = pubdata(&["export", "--to", export.to_str().unwrap()], &[], &a);
    assert!(
        !again.status.success() && text(&again).contains("not empty"),
        "{}",
        text(&again)
    );

    // Into a fresh SQLite platform, and out again: the same content.
    let b = root.join("b");
    std::fs::create_dir_all(&b).unwrap();
    let out = ok(
        pubdata(&["import", "--from", export.to_str().unwrap()], &[], &b),
        "import",
    );
    assert!(out.contains("audit chain intact"), "{out}");
    let export_b = root.join("export-b");
    ok(
        pubdata(&["export", "--to", export_b.to_str().unwrap()], &[], &b),
        "export b",
    );
    assert_eq!(content(&manifest(&export_b)), content(&m));
    // A second import into the now full platform is refused.
    let twice = pubdata(&["import", "--from", export.to_str().unwrap()], &[], &b);
    assert!(!twice.status.success(), "{}", text(&twice));
    assert!(text(&twice).contains("is not empty"), "{}", text(&twice));

    // Bad inputs: each a clear error, a non-zero exit, and no database made.
    let refused = |dir: &Path, want: &str| {
        let target = root.join(format!("t-{}", rand_suffix()));
        std::fs::create_dir_all(&target).unwrap();
        let out = pubdata(&["import", "--from", dir.to_str().unwrap()], &[], &target);
        assert!(!out.status.success(), "import of {} succeeded", dir.display());
        assert!(text(&out).contains(want), "wanted {want:?}: {}", text(&out));
        assert!(
            !target.join("pubdata.db").exists(),
            "nothing is written for a bad export"
        );
    };
    refused(&root.join("missing"), "is not a directory");
    let copy = |name: &str| {
        let to = root.join(name);
        copy_dir(&export, &to);
        to
    };
    let corrupt = copy("corrupt-manifest");
    std::fs::write(corrupt.join("manifest.json"), b"{\"format\": ").unwrap();
    refused(&corrupt, "is corrupt");
    let partial = copy("partial");
    std::fs::remove_file(partial.join("manifest.json")).unwrap();
    refused(&partial, "not a complete export");
    let tampered = copy("tampered");
    let users = tampered.join("tables/users.jsonl");
    let body = std::fs::read_to_string(&users)
        .unwrap()
        .replace("c.consumer", "c.intruder");
    std::fs::write(&users, body).unwrap();
    refused(&tampered, "tables/users.jsonl does not match the manifest");

    // A consistent export whose rows break a reference: the load fails as a whole and leaves
    // the target database empty.
    let broken = copy("broken-reference");
    let mut m2 = manifest(&broken);
    let entry = m2["tables"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["name"] == "memberships")
        .unwrap();
    let user_col = entry["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["name"] == "user_id")
        .unwrap();
    let path = broken.join("tables/memberships.jsonl");
    let mut lines: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[0][user_col] = json!(999);
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, &body).unwrap();
    entry["sha256"] = json!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body.as_bytes())));
    std::fs::write(broken.join("manifest.json"), serde_json::to_vec(&m2).unwrap()).unwrap();
    let target = root.join("t-broken");
    std::fs::create_dir_all(&target).unwrap();
    let out = pubdata(&["import", "--from", broken.to_str().unwrap()], &[], &target);
    assert!(!out.status.success(), "an import with a dangling reference succeeded");
    assert!(text(&out).contains("nothing was imported"), "{}", text(&out));
    let users = ok(pubdata(&["user", "list"], &[], &target), "user list");
    assert!(users.trim().is_empty(), "rows were left behind: {users}");
    let _ = std::fs::remove_dir_all(&root);
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// PostgreSQL + S3
// ---------------------------------------------------------------------------

/// moto's S3 server, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database of its own on the test server, dropped with this.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin_url,
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn requirements() -> Result<(String, PathBuf), String> {
    let set = |k: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or(format!("{k} is not set"))
    };
    let url = set("PUBDATA_TEST_DATABASE_URL")?;
    let python = set("PUBDATA_PYTHON")?;
    let has_moto = Command::new(&python)
        .args(["-c", "import moto.server, flask"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_moto {
        return Err(format!("moto[server] is not installed in {python}"));
    }
    let has_psql = Command::new("psql").arg("--version").output().is_ok();
    if !has_psql {
        return Err("psql is not installed".into());
    }
    Ok((url, PathBuf::from(python)))
}

fn start_moto(python: &Path, dir: &Path) -> Moto {
    let port = free_port();
    let log = dir.join("moto.log");
    let child = spawn_logged(
        Command::new(python).args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()]),
        &log,
        "moto server",
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let moto = Moto { child, endpoint };
    let agent = http_agent(Duration::from_secs(5));
    // moto accepts any credentials; an unsigned PUT makes the bucket.
    wait_until(Duration::from_secs(60), || {
        agent
            .put(&format!("{}/pubdata-files", moto.endpoint))
            .call()
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .unwrap_or_else(|e| panic!("moto did not start: {e}\n{}", log_tail(&log, 3000)));
    moto
}

fn create_database(admin_url: &str) -> PgDatabase {
    let name = format!(
        "pubdata_import_{}_{}",
        std::process::id(),
        rand_suffix() % 1_000_000_000
    );
    let out = Command::new("psql")
        .args([admin_url, "-qc", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "CREATE DATABASE: {}", text(&out));
    let (base, _) = admin_url.rsplit_once('/').expect("a database URL");
    PgDatabase {
        admin_url: admin_url.into(),
        url: format!("{base}/{name}"),
        name,
    }
}

fn pg_s3_env(db: &PgDatabase, moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("PUBDATA_DATABASE_URL", db.url.clone()),
        ("PUBDATA_FILES_BACKEND", "s3".into()),
        ("PUBDATA_S3_BUCKET", "pubdata-files".into()),
        ("PUBDATA_S3_ENDPOINT", moto.endpoint.clone()),
        ("PUBDATA_S3_REGION", "us-east-1".into()),
        ("PUBDATA_S3_ALLOW_HTTP", "true".into()),
        ("PUBDATA_S3_ACCESS_KEY_ID", "testing".into()),
        ("PUBDATA_S3_SECRET_ACCESS_KEY", "testing".into()),
    ]
}

#[test]
fn sqlite_platform_moves_to_postgres_and_s3() {
    let strict = std::env::var("PUBDATA_TEST_STRICT").as_deref() == Ok("1");
    let (admin_url, python) = match requirements() {
        Ok(r) => r,
        Err(reason) if strict => panic!("strict mode: {reason}"),
        Err(reason) => {
            eprintln!("SKIP export to PostgreSQL + S3: {reason}");
            return;
        }
    };
    let root = unique_temp_dir("pubdata-move");
    let a = root.join("sqlite");
    std::fs::create_dir_all(&a).unwrap();
    let tokens = seed(&a);

    // A published resource with an ingested table and its file.
    let mut s = Server::start(&a);
    let (id, dist) = create_and_upload(&s, &tokens, "成都市街道名录", 120);
    wait_ingested(&s, &tokens, dist, Duration::from_secs(120));
    publish(&s, &tokens, id);
    let agent = http_agent(Duration::from_secs(30));
    let resource = expect(
        &agent,
        "GET",
        &s.url(&format!("/resources/{id}")),
        &tokens.editor,
        None,
        200,
    );
    let rows_before = expect(
        &agent,
        "GET",
        &s.url(&format!("/resources/{id}/rows?limit=5&offset=100")),
        &tokens.editor,
        None,
        200,
    );
    // The published copy downloads serve is written after the ingest.
    let download_path = format!(
        "/dataset/{}/resource/{dist}/download",
        resource["code"].as_str().expect("resource code")
    );
    // Served by range once the published copy (the stored file) is written.
    wait_until(Duration::from_secs(60), || {
        match download(&agent, &s.base, &download_path, &tokens.admin, Some("bytes=0-9")) {
            Ok((206, _)) => Ok(()),
            other => Err(format!("no published copy yet: {other:?}")),
        }
    })
    .unwrap();
    let (_, whole_before) = download(&agent, &s.base, &download_path, &tokens.admin, None).unwrap();
    // A consumer's application for the conditional data, submitted.
    let date = |days: i64| {
        pubdata_core::calendar::Date::from_unix_millis_cst(pubdata_store::now_ms())
            .add_days(days)
            .to_string()
    };
    let form = json!({"purpose": "研究成都市中心城区街道服务设施的空间分布。", "scenario": "城市规划学术研究，成果仅用于论文发表。",
        "resources": [{"resource_id": id, "fields": ["code", "name"]}], "period_from": date(1), "period_to": date(180),
        "security_measures": "数据存放于内网服务器，仅课题组两名成员可访问，项目结束后删除。",
        "commitment_accepted": true});
    let application = expect(
        &agent,
        "POST",
        &s.url("/applications"),
        &tokens.consumer,
        Some(&form),
        201,
    );
    let app_id = application["id"].as_i64().unwrap();
    let submitted = expect(
        &agent,
        "POST",
        &s.url(&format!("/applications/{app_id}/submit")),
        &tokens.consumer,
        None,
        200,
    );
    s.kill9();

    let export = root.join("export");
    ok(
        pubdata(&["export", "--to", export.to_str().unwrap()], &[], &a),
        "export",
    );
    let m = manifest(&export);
    let ds = format!("ds_{dist}");
    assert_eq!(table(&m, &ds)["rows"], 120, "the datastore table is exported");
    assert!(table(&m, &ds)["datastore"]["field_types"].is_array(), "{m}");
    assert!(m["files"]["count"].as_u64().unwrap() >= 1, "{m}");

    let moto = start_moto(&python, &root);
    let db = create_database(&admin_url);
    let env = pg_s3_env(&db, &moto);
    let b = root.join("pg");
    std::fs::create_dir_all(&b).unwrap();
    let out = ok(
        pubdata(&["import", "--from", export.to_str().unwrap()], &env, &b),
        "import",
    );
    assert!(
        out.contains("checksums match") && out.contains("audit chain intact"),
        "{out}"
    );

    // The same content read back from PostgreSQL + S3.
    let export_pg = root.join("export-pg");
    ok(
        pubdata(&["export", "--to", export_pg.to_str().unwrap()], &env, &b),
        "export from pg",
    );
    let m_pg = manifest(&export_pg);
    assert_eq!(m_pg["source_backend"], "postgres");
    assert_eq!(content(&m_pg), content(&m), "tables and files differ after the move");
    let verify = ok(pubdata(&["audit", "verify"], &env, &b), "audit verify");
    assert!(verify.contains("audit chain intact"), "{verify}");
    let twice = pubdata(&["import", "--from", export.to_str().unwrap()], &env, &b);
    assert!(
        !twice.status.success() && text(&twice).contains("is not empty"),
        "{}",
        text(&twice)
    );

    // Served from PostgreSQL + S3: the data API and the stored file, whole and by range.
    let pg = Server::start_with(&b, "pg", &env);
    let rows_after = expect(
        &agent,
        "GET",
        &pg.url(&format!("/resources/{id}/rows?limit=5&offset=100")),
        &tokens.editor,
        None,
        200,
    );
    assert_eq!(rows_after["records"], rows_before["records"]);
    assert_eq!(rows_after["total"], 120);
    let (status, whole) = download(&agent, &pg.base, &download_path, &tokens.admin, None).unwrap();
    assert_eq!(status, 200);
    assert_eq!(whole, whole_before, "the file downloads the same from S3");
    let (status, part) = download(&agent, &pg.base, &download_path, &tokens.admin, Some("bytes=10-49")).unwrap();
    assert_eq!(status, 206, "a ranged download from S3");
    assert_eq!(part, whole[10..50].to_vec());
    let application = expect(
        &agent,
        "GET",
        &pg.url(&format!("/applications/{app_id}")),
        &tokens.consumer,
        None,
        200,
    );
    assert_eq!(application["state"], submitted["state"], "{application}");

    // The moved platform goes on: a new upload lands in S3 and is ingested from there.
    let (_, dist2) = create_and_upload(&pg, &tokens, "成都市街道名录（续）", 30);
    let d2 = wait_ingested(&pg, &tokens, dist2, Duration::from_secs(120));
    assert_eq!(d2["row_count"], 30, "{d2}");
    drop(pg);
    let _ = std::fs::remove_dir_all(&root);
}

fn download(
    agent: &ureq::Agent,
    base: &str,
    path: &str,
    token: &str,
    range: Option<&str>,
) -> Result<(u16, Vec<u8>), String> {
    let mut req = agent
        .get(&format!("{base}{path}"))
        .set("Authorization", &format!("Bearer {token}"));
    if let Some(r) = range {
        req = req.set("Range", r);
    }
    let resp = req.call().map_err(|e| e.to_string())?;
    let status = resp.status();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).map_err(|e| e.to_string())?;
    Ok((status, body))
}
