//! Process and HTTP helpers shared by the tests that run the `pubdata` binary as a server.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pubdata_core::org::NewOrg;
use pubdata_core::user::NewUser;
use pubdata_service::accounts::{self, actor_for, NewStaff, Registration};
use pubdata_service::{auth, Caller, Store};
use serde_json::{json, Value};

/// How often [`wait_until`] checks again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Asks the OS for a currently free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
    listener
        .local_addr()
        .expect("local address of the port-probe listener")
        .port()
}

/// Creates a fresh, unique directory under the system temp dir.
pub fn unique_temp_dir(prefix: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock is after the UNIX epoch")
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir).expect("create unique temp dir");
    dir
}

/// Last `max` bytes of a log file, for panic messages.
pub fn log_tail(path: &Path, max: usize) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_end(&mut buf);
    }
    let start = buf.len().saturating_sub(max);
    String::from_utf8_lossy(&buf[start..]).into_owned()
}

/// Spawns `cmd` with stdout and stderr appended to `log`.
pub fn spawn_logged(cmd: &mut Command, log: &Path, what: &str) -> Child {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("open log {}: {e}", log.display()));
    let err = out.try_clone().expect("clone log file handle");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"))
}

/// Polls `check` every [`POLL_INTERVAL`] until it returns `Ok` or `timeout`
/// elapses; on timeout returns the last `Err` (a description of what was seen).
pub fn wait_until<T>(timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => thread::sleep(POLL_INTERVAL),
        }
    }
}

pub fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .timeout(timeout)
        .build()
}

/// Waits until `GET <base>/healthz` answers 200; panics with the log's tail if `app` exits
/// first or `timeout` passes.
pub fn wait_healthy(app: &mut Child, base: &str, log: &Path, timeout: Duration) {
    let agent = http_agent(Duration::from_secs(5));
    let url = format!("{base}/healthz");
    let res = wait_until(timeout, || {
        if let Ok(Some(status)) = app.try_wait() {
            return Ok(Err(format!("the server exited early with {status}")));
        }
        match agent.get(&url).call() {
            Ok(r) if r.status() == 200 => Ok(Ok(())),
            Ok(r) => Err(format!("GET {url} -> {}", r.status())),
            Err(ureq::Error::Status(code, _)) => Err(format!("GET {url} -> {code}")),
            Err(e) => Err(format!("GET {url}: {e}")),
        }
    });
    match res {
        Ok(Ok(())) => {}
        Ok(Err(e)) | Err(e) => panic!(
            "pubdata did not become healthy: {e}\n--- log tail ({}) ---\n{}",
            log.display(),
            log_tail(log, 4000)
        ),
    }
}

// ---------------------------------------------------------------------------
// A seeded `pubdata serve` and its JSON API
// ---------------------------------------------------------------------------

pub const PASSWORD: &str = "served-pass-2026";

/// The API tokens of the story's accounts.
pub struct Tokens {
    pub provider_org: i64,
    pub editor: String,
    pub admin: String,
    pub consumer: String,
}

/// `pubdata serve` on a data directory, killed with SIGKILL when dropped.
pub struct Server {
    child: Option<Child>,
    pub dir: PathBuf,
    pub base: String,
    pub log: PathBuf,
    /// The node's name and extra environment, kept for [`Server::restart`].
    node: Option<(String, Vec<(String, String)>)>,
}

impl Server {
    /// One node on SQLite in `dir`.
    pub fn start(dir: &Path) -> Server {
        Self::spawn(dir, None)
    }

    /// A node named `name` on `dir` with extra `PUBDATA_*` variables (e.g. a PostgreSQL
    /// `PUBDATA_DATABASE_URL` and its own `PUBDATA_SEARCH_DIR`); its log is `dir/server-<name>.log`,
    /// so several nodes can share one data directory.
    pub fn start_with(dir: &Path, name: &str, env: &[(&str, String)]) -> Server {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        Self::spawn(dir, Some((name.to_string(), env)))
    }

    fn spawn(dir: &Path, node: Option<(String, Vec<(String, String)>)>) -> Server {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let log = match &node {
            Some((name, _)) => dir.join(format!("server-{name}.log")),
            None => dir.join("server.log"),
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pubdata"));
        cmd.arg("serve")
            .env("PUBDATA_DATA_DIR", dir)
            .env("PUBDATA_ADDR", format!("127.0.0.1:{port}"))
            .env("PUBDATA_REGIONS_DIR", dir.join("no-regions"))
            .env_remove("PUBDATA_DATABASE_URL")
            .env_remove("PUBDATA_SEARCH_DIR")
            .env_remove("PUBDATA_CONFIG")
            .current_dir(dir);
        for (k, v) in node.iter().flat_map(|(_, env)| env) {
            cmd.env(k, v);
        }
        let mut child = spawn_logged(&mut cmd, &log, "pubdata serve");
        wait_healthy(&mut child, &base, &log, Duration::from_secs(60));
        Server {
            child: Some(child),
            dir: dir.to_path_buf(),
            base,
            log,
            node,
        }
    }

    /// `kill -9`: no shutdown handler runs, open transactions die with the process.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL the server");
            c.wait().expect("reap the server");
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        *self = Server::spawn(&self.dir.clone(), self.node.take());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        if thread::panicking() {
            eprintln!(
                "test failed; server data kept in {}\n--- server log tail ---\n{}",
                self.dir.display(),
                log_tail(&self.log, 4000)
            );
        }
    }
}

/// One API call; `Err` when no answer came (the server died mid-request).
pub fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let req = agent
        .request(method, url)
        .set("Authorization", &format!("Bearer {token}"));
    let res = match body {
        Some(b) => req.send_json(b.clone()),
        None => req.call(),
    };
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = resp.status();
    let text = resp.into_string().map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

/// A call that must succeed with `want`.
pub fn expect(agent: &ureq::Agent, method: &str, url: &str, token: &str, body: Option<&Value>, want: u16) -> Value {
    match call(agent, method, url, token, body) {
        Ok((status, v)) if status == want => v,
        other => panic!("{method} {url}: wanted {want}, got {other:?}"),
    }
}

/// Accounts and tokens made through the services, before the server starts.
pub fn seed(dir: &Path) -> Tokens {
    seed_on(&format!("sqlite://{}?mode=rwc", dir.join("pubdata.db").display()))
}

/// [`seed`] on the database at `url` (migrated first).
pub fn seed_on(url: &str) -> Tokens {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(url, Default::default()).await.unwrap();
        store.migrate().await.unwrap();
        let console = Caller::console();
        let org = |kind: &'static str, name: &'static str, code: &'static str| NewOrg {
            kind: kind.into(),
            name: name.into(),
            credit_code: code.into(),
            ..Default::default()
        };
        let centre = accounts::create_org(
            &store,
            &console,
            org("admin_institution", "四川省大数据中心", "91350100M000100Y43"),
        )
        .await
        .unwrap();
        let provider = accounts::create_org(
            &store,
            &console,
            org("provider", "四川省交通运输厅", "11510000008693034D"),
        )
        .await
        .unwrap();
        let user = |login: &str| NewUser {
            login: login.into(),
            display_name: login.into(),
            email: format!("{login}@example.cn"),
            phone: String::new(),
            password: PASSWORD.into(),
        };
        for (login, org_id, role) in [
            ("c.editor", provider, "provider_editor"),
            ("c.admin", centre, "admin_reviewer"),
        ] {
            let staff = NewStaff {
                user: user(login),
                org_id,
                role: role.into(),
            };
            accounts::create_staff(&store, &console, staff).await.unwrap();
        }
        let reg = Registration {
            user: user("c.consumer"),
            org: None,
        };
        accounts::register_consumer(&store, &Caller::anonymous(None), reg)
            .await
            .unwrap();
        let mut tokens = Vec::new();
        for login in ["c.editor", "c.admin", "c.consumer"] {
            let u = store.user_by_login(login).await.unwrap().unwrap();
            let caller = Caller {
                actor: actor_for(&u),
                label: login.into(),
                ip: None,
            };
            tokens.push(auth::create_token(&store, &caller, "crash test").await.unwrap().1);
        }
        store.close().await;
        let [editor, admin, consumer] = tokens.try_into().unwrap();
        Tokens {
            provider_org: provider,
            editor,
            admin,
            consumer,
        }
    })
}

/// A street-like table of `rows` rows.
pub fn table(rows: usize) -> Vec<u8> {
    let mut out = String::from("code,name,district\n");
    for i in 0..rows {
        out.push_str(&format!("510104{i:06},街道{i},区县{}\n", i % 20));
    }
    out.into_bytes()
}

pub fn meta(title: &str) -> Value {
    json!({"title": title, "summary": "成都市各区街道的代码、名称和所属区县，按年度更新。", "domain": "民生服务",
           "open_type": "conditional", "open_conditions": "仅限用于城市规划研究。", "update_frequency": "yearly",
           "spatial": "510100", "temporal_from": "2024-01-01", "contact_phone": "028-86001234",
           "fields": [{"name": "code", "title": "街道代码", "type": "code", "key": true},
                      {"name": "name", "title": "名称", "type": "string"},
                      {"name": "district", "title": "区县", "type": "string"}]})
}

/// Creates a resource and uploads its file; returns (resource, distribution).
pub fn create_and_upload(s: &Server, t: &Tokens, title: &str, rows: usize) -> (i64, i64) {
    let agent = http_agent(Duration::from_secs(120));
    let body = json!({"provider_org_id": t.provider_org, "meta": meta(title)});
    let r = expect(&agent, "POST", &s.url("/resources"), &t.editor, Some(&body), 201);
    let id = r["id"].as_i64().unwrap();
    let url = s.url(&format!(
        "/resources/{id}/distributions/file?filename=streets.csv&title=%E8%A1%97%E9%81%93"
    ));
    let resp = agent
        .post(&url)
        .set("Authorization", &format!("Bearer {}", t.editor))
        .set("Content-Type", "text/csv")
        .send_bytes(&table(rows))
        .unwrap_or_else(|e| panic!("upload: {e}"));
    let d: Value = resp.into_json().unwrap();
    (id, d["id"].as_i64().unwrap())
}

pub fn distribution(s: &Server, t: &Tokens, dist: i64) -> Value {
    expect(
        &http_agent(Duration::from_secs(30)),
        "GET",
        &s.url(&format!("/distributions/{dist}")),
        &t.editor,
        None,
        200,
    )
}

pub fn wait_ingested(s: &Server, t: &Tokens, dist: i64, timeout: Duration) -> Value {
    wait_until(timeout, || {
        let d = distribution(s, t, dist);
        match d["state"].as_str() {
            Some("ready") => Ok(d),
            other => Err(format!("distribution {dist} is {other:?}: {d}")),
        }
    })
    .unwrap_or_else(|e| panic!("the ingest did not finish: {e}"))
}

pub fn publish(s: &Server, t: &Tokens, id: i64) {
    let agent = http_agent(Duration::from_secs(30));
    expect(
        &agent,
        "POST",
        &s.url(&format!("/resources/{id}/submit")),
        &t.editor,
        None,
        200,
    );
    let ok = json!({"pass": true, "note": ""});
    let decision = json!({"decision": "approve", "checklist": {"compliance": ok, "availability": ok, "security": ok}});
    let r = expect(
        &agent,
        "POST",
        &s.url(&format!("/resources/{id}/decision")),
        &t.admin,
        Some(&decision),
        200,
    );
    assert_eq!(r["state"], "published", "{r}");
}
