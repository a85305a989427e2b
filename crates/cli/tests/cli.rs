//! The `pubdata` binary as an operator uses it: migrate, create organisations and users from
//! the console, list them, verify the audit chain (and see it fail after tampering), back up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pubdata_cli_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn pubdata(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pubdata"))
        .args(args)
        .env("PUBDATA_DATA_DIR", dir)
        .env_remove("PUBDATA_DATABASE_URL")
        .env_remove("PUBDATA_CONFIG")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run pubdata")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = pubdata(dir, args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "pubdata {args:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn sqlite(dir: &Path, sql: &str) {
    let url = format!("sqlite://{}", dir.join("pubdata.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = pubdata_store::Store::open(&url, Default::default()).await.unwrap();
        store.execute_raw(sql).await.unwrap();
        store.close().await;
    });
}

#[test]
fn console_administration_and_audit_verify() {
    let dir = data_dir("admin");
    assert!(ok(&dir, &["migrate"]).contains("applied 0001_accounts"));
    assert!(ok(&dir, &["migrate"]).contains("up to date"));
    ok(
        &dir,
        &[
            "user",
            "create",
            "root",
            "--name",
            "Root",
            "--email",
            "root@example.cn",
            "--password",
            "root-pass-2026",
            "--sysadmin",
        ],
    );
    let created = ok(
        &dir,
        &[
            "org",
            "create",
            "--kind",
            "provider",
            "--name",
            "四川省交通运输厅",
            "--credit-code",
            "11510000008693034D",
            "--region",
            "510000",
        ],
    );
    let org_id = created.trim().rsplit(' ').next().unwrap().to_string();
    ok(
        &dir,
        &[
            "user",
            "create",
            "chen",
            "--name",
            "陈编辑",
            "--email",
            "chen@example.cn",
            "--password",
            "chen-pass-2026",
            "--org",
            &org_id,
            "--role",
            "provider_editor",
        ],
    );
    let users = ok(&dir, &["user", "list"]);
    assert!(users.contains("provider_editor@四川省交通运输厅"), "{users}");
    assert!(users.contains("sysadmin"), "{users}");
    ok(&dir, &["user", "disable", "chen"]);
    assert!(ok(&dir, &["user", "list"])
        .lines()
        .any(|l| l.contains("chen") && l.contains("disabled")));
    assert!(ok(&dir, &["org", "list", "--kind", "provider"]).contains("11510000008693034D"));

    // An API token for a script: printed once, it authenticates as the account; a disabled
    // account gets none.
    let refused = pubdata(&dir, &["user", "token", "chen"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("chen is disabled"));
    let secret = ok(&dir, &["user", "token", "root", "--name", "nightly export"]);
    let url = format!("sqlite://{}", dir.join("pubdata.db").display());
    let login = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = pubdata_store::Store::open(&url, Default::default()).await.unwrap();
        let user = pubdata_service::auth::resolve_token(&store, secret.trim())
            .await
            .unwrap();
        store.close().await;
        user.login
    });
    assert_eq!(login, "root");

    // Bad input from the console: a clear message and a failing exit status, nothing written.
    let bad = pubdata(
        &dir,
        &[
            "org",
            "create",
            "--kind",
            "provider",
            "--name",
            "坏代码",
            "--credit-code",
            "11510000008693034W",
        ],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("check character does not match"), "{err}");
    let dup = pubdata(
        &dir,
        &[
            "user",
            "create",
            "chen",
            "--name",
            "x",
            "--email",
            "x@example.cn",
            "--password",
            "chen-pass-2026",
            "--sysadmin",
        ],
    );
    assert!(String::from_utf8_lossy(&dup.stderr).contains("user name is taken"));

    let verified = ok(&dir, &["audit", "verify"]);
    assert!(verified.contains("audit chain intact: 5 events"), "{verified}");

    let backup = dir.join("backup.db");
    assert!(ok(&dir, &["backup", "--to", backup.to_str().unwrap()]).contains("backup written"));

    // Tampering behind the application's back is found and located.
    sqlite(
        &dir,
        "UPDATE audit_events SET after_state = '{\"login\":\"mallory\"}' WHERE seq = 2",
    );
    let out = pubdata(&dir, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("event #2 was altered"));

    // The backup taken before is intact and verifies on its own.
    let restored = data_dir("restored");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(&backup, restored.join("pubdata.db")).unwrap();
    assert!(ok(&restored, &["audit", "verify"]).contains("intact: 5 events"));
    sqlite(&restored, "DELETE FROM audit_events WHERE seq = 3");
    let out = pubdata(&restored, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("event #3 is missing"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `pubdata demo` until it answers `/healthz`, stops it, and returns what it printed.
fn run_demo(dir: &Path, password: Option<&str>) -> String {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let log = dir.with_extension(format!("{port}.log"));
    let mut args = vec![
        "demo".to_string(),
        "--data-dir".into(),
        dir.display().to_string(),
        "--addr".into(),
        addr.clone(),
    ];
    if let Some(p) = password {
        args.extend(["--password".into(), p.into()]);
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_pubdata"))
        .args(&args)
        .env_remove("PUBDATA_CONFIG")
        .current_dir(std::env::temp_dir())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start demo");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let healthy = loop {
        if ureq::get(&format!("http://{addr}/healthz")).call().is_ok() {
            break true;
        }
        if std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    let printed = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(healthy, "demo did not come up: {printed}");
    printed
}

fn can_login(dir: &Path, login: &str, password: &str) -> bool {
    let url = format!("sqlite://{}", dir.join("pubdata.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = pubdata_store::Store::open(&url, Default::default()).await.unwrap();
        let settings = pubdata_service::auth::AuthSettings {
            max_failures_per_login: 100,
            ..Default::default()
        };
        let ok = pubdata_service::auth::login(&store, &settings, login, password, "127.0.0.1", None)
            .await
            .is_ok();
        store.close().await;
        ok
    })
}

#[test]
fn demo_seeds_once_and_reuses_its_data() {
    let dir = data_dir("demo");
    let first = run_demo(&dir, None);
    assert!(
        first.contains("pubdata demo is running at http://127.0.0.1:"),
        "{first}"
    );
    for login in [
        "sysadmin",
        "admin.manager",
        "admin.reviewer",
        "prov.manager",
        "prov.editor",
        "prov.reviewer",
        "consumer.person",
        "consumer.org",
    ] {
        assert!(first.contains(login), "banner lacks {login}: {first}");
    }
    let generated = first
        .split("password: ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .expect("password printed")
        .to_string();
    assert!(
        can_login(&dir, "prov.editor", &generated),
        "generated password {generated:?} works"
    );

    // Reuse with a new password: same accounts, not seeded twice, every password changed.
    let second = run_demo(&dir, Some("demo-pass-2026"));
    assert!(second.contains("demo-pass-2026"));
    assert!(can_login(&dir, "consumer.org", "demo-pass-2026"));
    assert!(can_login(&dir, "sysadmin", "demo-pass-2026"));
    assert!(!can_login(&dir, "prov.editor", &generated));
    let users = ok(&dir, &["user", "list"]);
    assert_eq!(users.lines().count(), 11, "seeded once: {users}");
    assert!(users.contains("consumer@成都数联科技有限公司"), "{users}");

    // Reuse without a password keeps the last one; the audit chain covers all of it.
    assert!(run_demo(&dir, None).contains("demo-pass-2026"));
    assert!(ok(&dir, &["audit", "verify"]).contains("audit chain intact"));
}

#[test]
fn ingest_reports_offline_and_fails_clearly() {
    let dir = data_dir("ingest");
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("contacts.csv");
    let mut text = String::from("code,name,phone\n");
    for i in 0..20 {
        text.push_str(&format!("5101040{i:02},街道{i},1380013{i:04}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let out = ok(&dir, &["ingest", csv.to_str().unwrap()]);
    assert!(out.contains("20 rows, 3 columns"), "{out}");
    assert!(out.contains("mobile"), "privacy finding listed: {out}");
    assert!(!out.contains("13800130001"), "never the values");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&dir, &["ingest", "--json", csv.to_str().unwrap()])).unwrap();
    assert_eq!(json["rows"], 20);
    assert_eq!(json["privacy"][0]["column"], "phone");

    let db = dir.join("ds.db");
    ok(
        &dir,
        &["ingest", csv.to_str().unwrap(), "--load-into", db.to_str().unwrap()],
    );
    assert!(db.exists());

    let empty = dir.join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let out = pubdata(&dir, &["ingest", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[empty_file]"));
}
