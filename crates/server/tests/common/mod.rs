//! The test application: a real store (SQLite file, or a fresh PostgreSQL schema when
//! `PUBDATA_TEST_DATABASE_URL` is set), the real router, requests sent with `oneshot`,
//! and a cookie jar so web flows behave as in a browser.
#![allow(dead_code)]

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use pubdata_core::org::NewOrg;
use pubdata_core::user::NewUser;
use pubdata_server::{AppState, Config};
use pubdata_service::accounts;
use pubdata_service::{Caller, Store};
use pubdata_store::OpenOptions;
use serde_json::Value;
use tower::ServiceExt;

pub const PASSWORD: &str = "test-pass-2026";

pub struct TestApp {
    pub router: Router,
    pub store: Store,
    pub files: pubdata_store::FileStore,
    pub jar: HashMap<String, String>,
    pub accept_language: Option<String>,
    /// The application's search index.
    pub catalogue: pubdata_service::catalogue::Catalogue,
    /// Where the application keeps its files and secrets.
    pub data_dir: std::path::PathBuf,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    }

    pub fn cookie_named(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    pub fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The `_csrf` value of the first form on the page.
    pub fn csrf(&self) -> String {
        let after = self
            .body
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .expect("a form with _csrf");
        after.split('"').next().expect("token").to_string()
    }

    /// The values of `data-nav` in the main navigation.
    pub fn nav(&self) -> Vec<String> {
        self.body
            .split("data-nav=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .map(str::to_string)
            .collect()
    }
}

fn unique(prefix: &str) -> String {
    use rand::Rng;
    format!(
        "{prefix}_{}_{:08x}",
        std::process::id(),
        rand::thread_rng().gen::<u32>()
    )
}

fn strict() -> bool {
    std::env::var("PUBDATA_TEST_STRICT").as_deref() == Ok("1")
}

pub fn test_config() -> Config {
    Config {
        login_max_failures_per_account: 3,
        login_max_failures_per_ip: 10,
        ..Config::default()
    }
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        Self::sqlite_with(test_config()).await
    }

    pub async fn sqlite_with(config: Config) -> TestApp {
        let dir = std::env::temp_dir().join(unique("pubdata_test"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.join("test.db").display());
        Self::open(&url, OpenOptions::default(), config).await
    }

    /// A fresh schema in the PostgreSQL database named by `PUBDATA_TEST_DATABASE_URL`, or
    /// `None` (with the reason printed) when it is unset outside strict mode.
    pub async fn postgres() -> Option<TestApp> {
        let Ok(url) = std::env::var("PUBDATA_TEST_DATABASE_URL") else {
            assert!(
                !strict(),
                "PUBDATA_TEST_STRICT=1 but PUBDATA_TEST_DATABASE_URL is not set"
            );
            eprintln!("SKIP PostgreSQL test: PUBDATA_TEST_DATABASE_URL is not set");
            return None;
        };
        let opts = OpenOptions {
            pg_schema: Some(unique("t")),
            ..Default::default()
        };
        Some(Self::open(&url, opts, test_config()).await)
    }

    async fn open(url: &str, opts: OpenOptions, config: Config) -> TestApp {
        let store = Store::open(url, opts).await.expect("open store");
        store.migrate().await.expect("migrate");
        let config = Config {
            data_dir: std::env::temp_dir().join(unique("pubdata_files")),
            ..config
        };
        let state = AppState::new(store.clone(), config).expect("app state");
        let files = state.files.clone();
        let catalogue = state.catalogue.clone();
        let data_dir = state.config.data_dir.clone();
        let router = pubdata_server::router(state);
        TestApp {
            router,
            store,
            files,
            jar: HashMap::new(),
            accept_language: None,
            catalogue,
            data_dir,
        }
    }

    /// Another browser on the same application (its own cookies).
    pub fn browser(&self) -> TestApp {
        TestApp {
            router: self.router.clone(),
            store: self.store.clone(),
            files: self.files.clone(),
            jar: HashMap::new(),
            accept_language: None,
            catalogue: self.catalogue.clone(),
            data_dir: self.data_dir.clone(),
        }
    }

    /// Brings the search index up to date with the catalogue change log, as the server's
    /// follower does every few seconds.
    pub async fn sync_search(&self) {
        self.catalogue.sync(&self.store).await.expect("search sync");
    }

    /// Runs queued background jobs (ingest) to the end, as the server's worker would.
    pub async fn run_jobs(&self) {
        use pubdata_service::{ingest::INGEST_JOB, ingest_job, jobs::Worker};
        let worker = Worker::new(self.store.clone(), "test-worker").handle(
            INGEST_JOB,
            ingest_job::handler(self.files.clone(), b"test-secret".to_vec()),
        );
        while worker.run_once().await.expect("job") {}
    }

    /// A sysadmin created from the console, as `pubdata user create --sysadmin` does.
    pub async fn sysadmin(&self, login: &str) -> i64 {
        let user = NewUser {
            login: login.into(),
            display_name: "Root".into(),
            email: format!("{login}@example.cn"),
            phone: String::new(),
            password: PASSWORD.into(),
        };
        accounts::create_sysadmin(&self.store, &Caller::console(), user)
            .await
            .expect("sysadmin")
    }

    pub async fn provider(&self, name: &str, credit_code: &str) -> i64 {
        let org = NewOrg {
            kind: "provider".into(),
            name: name.into(),
            credit_code: credit_code.into(),
            ..Default::default()
        };
        accounts::create_org(&self.store, &Caller::console(), org)
            .await
            .expect("provider org")
    }

    pub async fn send(&mut self, mut req: Request<Body>) -> Resp {
        let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !cookies.is_empty() && !req.headers().contains_key(header::COOKIE) {
            req.headers_mut()
                .insert(header::COOKIE, cookies.join("; ").parse().expect("cookie header"));
        }
        if let Some(l) = &self.accept_language {
            req.headers_mut()
                .insert(header::ACCEPT_LANGUAGE, l.parse().expect("lang"));
        }
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        for c in resp.headers().get_all(header::SET_COOKIE) {
            let c = c.to_str().expect("ascii cookie");
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').expect("cookie pair");
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.to_string(), v.to_string());
            }
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.send(Request::get(path).body(Body::empty()).expect("request"))
            .await
    }

    /// The CSRF token the server expects from this browser now (read from a form).
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/login").await;
        let after = page
            .body
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .expect("a form with _csrf");
        after.split('"').next().expect("token").to_string()
    }

    /// Posts a form as a browser does, with the CSRF token in the form.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let token = self.csrf().await;
        let mut all = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_form_raw(path, &all).await
    }

    pub async fn post_form_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(fields).expect("form");
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    pub async fn login(&mut self, login: &str, password: &str) -> Resp {
        self.post_form(
            "/login",
            &[("login", login), ("password", password), ("next", "/account")],
        )
        .await
    }

    /// A JSON API call with a bearer token and no cookies.
    pub async fn api(&mut self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let saved = std::mem::take(&mut self.jar);
        let resp = self.send(req.body(body).expect("request")).await;
        self.jar = saved;
        resp
    }

    pub async fn audit_len(&self) -> i64 {
        self.store
            .recent_audit(1, None)
            .await
            .expect("audit")
            .first()
            .map(|e| e.seq)
            .unwrap_or(0)
    }
}

impl TestApp {
    /// Like [`TestApp::postgres`], with a configuration of the test's choosing.
    pub async fn postgres_with(config: Config) -> Option<TestApp> {
        let Ok(url) = std::env::var("PUBDATA_TEST_DATABASE_URL") else {
            assert!(
                !strict(),
                "PUBDATA_TEST_STRICT=1 but PUBDATA_TEST_DATABASE_URL is not set"
            );
            eprintln!("SKIP PostgreSQL test: PUBDATA_TEST_DATABASE_URL is not set");
            return None;
        };
        let opts = OpenOptions {
            pg_schema: Some(unique("t")),
            ..Default::default()
        };
        Some(Self::open(&url, opts, config).await)
    }

    /// A GET with extra request headers (e.g. `Accept`, `Host`), with this browser's cookies.
    pub async fn get_with(&mut self, path: &str, headers: &[(header::HeaderName, &str)]) -> Resp {
        let mut req = Request::get(path);
        for (name, value) in headers {
            req = req.header(name, *value);
        }
        self.send(req.body(Body::empty()).expect("request")).await
    }

    /// A self-registered consumer (个人), as `/register` makes one; returns the user id.
    pub async fn consumer(&self, login: &str) -> i64 {
        let reg = accounts::Registration {
            user: NewUser {
                login: login.into(),
                display_name: "王用户".into(),
                email: format!("{login}@example.cn"),
                phone: String::new(),
                password: PASSWORD.into(),
            },
            org: None,
        };
        accounts::register_consumer(&self.store, &Caller::anonymous(None), reg)
            .await
            .expect("consumer")
    }
}

/// Accounts and data made through the services, for tests that need a populated platform.
impl TestApp {
    pub async fn org(&self, kind: &str, name: &str, credit_code: &str) -> i64 {
        let org = NewOrg {
            kind: kind.into(),
            name: name.into(),
            credit_code: credit_code.into(),
            ..Default::default()
        };
        accounts::create_org(&self.store, &Caller::console(), org)
            .await
            .expect("organisation")
    }

    /// The caller a user's session or token stands for.
    pub async fn caller(&self, login: &str) -> Caller {
        let u = self
            .store
            .user_by_login(login)
            .await
            .expect("user")
            .expect("known login");
        Caller {
            actor: accounts::actor_for(&u),
            label: login.into(),
            ip: None,
        }
    }

    /// A staff member of `org_id` with `role`, created from the console.
    pub async fn staff(&self, login: &str, org_id: i64, role: &str) -> Caller {
        let user = NewUser {
            login: login.into(),
            display_name: login.into(),
            email: format!("{login}@example.cn"),
            phone: String::new(),
            password: PASSWORD.into(),
        };
        let staff = accounts::NewStaff {
            user,
            org_id,
            role: role.into(),
        };
        accounts::create_staff(&self.store, &Caller::console(), staff)
            .await
            .expect("staff");
        self.caller(login).await
    }

    /// A new API token of the user.
    pub async fn token(&self, login: &str) -> String {
        let c = self.caller(login).await;
        pubdata_service::auth::create_token(&self.store, &c, "test")
            .await
            .expect("token")
            .1
    }

    /// A draft resource of `provider` with `csv` loaded as its file (columns code, name,
    /// district); returns (resource, distribution).
    pub async fn draft_resource(
        &self,
        editor: &Caller,
        provider: i64,
        title: &str,
        open_type: &str,
        csv: &str,
    ) -> (i64, i64) {
        use pubdata_service::ingest::{self, UploadInfo};
        let mut meta: pubdata_core::metadata::NewResourceMeta = serde_json::from_value(serde_json::json!({
            "title": title, "summary": "成都市各区街道的代码、名称和所属区县，按年度更新。", "domain": "民生服务",
            "open_type": open_type, "update_frequency": "yearly", "spatial": "510100",
            "temporal_from": "2024-01-01", "contact_phone": "028-86001234",
            "fields": [{"name": "code", "title": "街道代码", "type": "code", "key": true},
                       {"name": "name", "title": "名称", "type": "string"},
                       {"name": "district", "title": "区县", "type": "string"}]}))
        .expect("metadata");
        if open_type == "conditional" {
            meta.open_conditions = "仅限用于城市规划研究。".into();
        }
        let id = pubdata_service::resources::create(&self.store, editor, provider, &meta, None)
            .await
            .expect("resource");
        let ticket = ingest::begin_upload(&self.store, editor, id, "streets.csv")
            .await
            .expect("upload");
        let mut out = self.files.writer(&ticket.key, u64::MAX).await.expect("writer");
        out.write(csv.as_bytes())
            .await
            .expect("write")
            .expect("within the limit");
        let stored = out.finish().await.expect("stored");
        let info = UploadInfo {
            title: "街道".into(),
            change_note: String::new(),
        };
        let dist = ingest::finish_upload(&self.store, editor, &ticket, &stored, &info)
            .await
            .expect("finish upload");
        self.run_jobs().await;
        (id, dist)
    }

    /// Submits a draft and has `reviewer` approve it with every check passed.
    pub async fn publish_resource(&self, editor: &Caller, reviewer: &Caller, id: i64) {
        use pubdata_service::resources::{self, Decision};
        resources::submit(
            &self.store,
            editor,
            id,
            &pubdata_core::calendar::WorkCalendar::official(),
        )
        .await
        .expect("submit");
        resources::decide(
            &self.store,
            reviewer,
            id,
            Decision::Approve(pubdata_core::resource::ReviewChecklist::passed()),
        )
        .await
        .expect("publish");
    }
}
