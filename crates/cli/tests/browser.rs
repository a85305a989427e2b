//! End-to-end browser test: starts `pubdata demo`, drives a real headless
//! Chromium through chromedriver's W3C WebDriver HTTP protocol and checks the
//! login / navigation / logout flow for every demo role, the language switch
//! and the wrong-password error page.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (or the paths in
//! `PUBDATA_CHROMIUM` / `PUBDATA_CHROMEDRIVER`). When either is missing the
//! test is skipped, unless `PUBDATA_TEST_STRICT=1`, in which case it fails.
//! Screenshots are written to `<workspace>/target/browser/`.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use common::{free_port, http_agent, log_tail, spawn_logged, unique_temp_dir, wait_healthy, wait_until};
use serde_json::{json, Value};

/// The W3C WebDriver web-element identifier key (WebDriver spec §12.1).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Pre-W3C (JSON Wire) key, accepted as a fallback.
const LEGACY_ELEMENT_KEY: &str = "ELEMENT";
const DEMO_PASSWORD: &str = "demo-pass-2026";
const APP_START_TIMEOUT: Duration = Duration::from_secs(120);
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(30);
const NAV_TIMEOUT: Duration = Duration::from_secs(10);

/// A demo account with the expected navigation entries and a role key that
/// must appear in `nav#main-nav[data-roles]`.
struct RoleCase {
    login: &'static str,
    navs: &'static [&'static str],
    role_key: &'static str,
}

const SYSADMIN_NAV: &[&str] = &[
    "home",
    "catalogue",
    "demands",
    "showcases",
    "account",
    "inbox",
    "orgs",
    "users",
    "audit",
    "lifecycle",
];
const ADMIN_MANAGER_NAV: &[&str] = &[
    "home",
    "catalogue",
    "demands",
    "showcases",
    "account",
    "inbox",
    "review",
    "requests_queue",
    "applications",
    "orgs",
    "users",
    "audit",
    "lifecycle",
    "timeliness",
    "showcase_queue",
    "security_reports",
];
const REVIEWER_NAV: &[&str] = &[
    "home",
    "catalogue",
    "demands",
    "showcases",
    "account",
    "inbox",
    "review",
    "requests_queue",
    "applications",
    "timeliness",
    "showcase_queue",
    "security_reports",
];
const PROVIDER_NAV: &[&str] = &[
    "home",
    "catalogue",
    "demands",
    "showcases",
    "account",
    "inbox",
    "workspace",
    "requests_queue",
    "applications",
    "security_reports",
];
const EDITOR_NAV: &[&str] = &[
    "home",
    "catalogue",
    "demands",
    "showcases",
    "account",
    "inbox",
    "workspace",
    "requests_queue",
    "security_reports",
];
const USER_NAV: &[&str] = &["home", "catalogue", "demands", "showcases", "account", "inbox", "my"];
const GUEST_NAV: &[&str] = &["home", "catalogue", "demands", "showcases", "login", "register"];

const ROLES: &[RoleCase] = &[
    RoleCase {
        login: "sysadmin",
        navs: SYSADMIN_NAV,
        role_key: "sysadmin",
    },
    RoleCase {
        login: "admin.manager",
        navs: ADMIN_MANAGER_NAV,
        role_key: "admin_manager",
    },
    RoleCase {
        login: "admin.reviewer",
        navs: REVIEWER_NAV,
        role_key: "admin_reviewer",
    },
    RoleCase {
        login: "prov.manager",
        navs: PROVIDER_NAV,
        role_key: "provider_manager",
    },
    RoleCase {
        login: "prov.editor",
        navs: EDITOR_NAV,
        role_key: "provider_editor",
    },
    RoleCase {
        login: "prov.reviewer",
        navs: PROVIDER_NAV,
        role_key: "provider_reviewer",
    },
    RoleCase {
        login: "consumer.person",
        navs: USER_NAV,
        role_key: "consumer",
    },
    RoleCase {
        login: "consumer.org",
        navs: USER_NAV,
        role_key: "consumer",
    },
];

// ---------------------------------------------------------------------------
// Environment discovery and process management
// ---------------------------------------------------------------------------

/// Resolves a tool path from `env_var` or `default`; `Err` explains why it is
/// unusable.
fn find_tool(env_var: &str, default: &str) -> Result<PathBuf, String> {
    let (path, origin) = match std::env::var_os(env_var) {
        Some(p) if !p.is_empty() => (PathBuf::from(p), format!("from ${env_var}")),
        _ => (PathBuf::from(default), "default path".to_string()),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} ({origin}) not found", path.display()))
    }
}

/// Kills the app and chromedriver when the test ends, including on panic.
/// The temp dir is removed on success and kept (and printed) on failure.
struct ProcessGuard {
    app: Option<Child>,
    chromedriver: Option<Child>,
    temp_dir: PathBuf,
}

impl ProcessGuard {
    fn kill(child: &mut Option<Child>) {
        if let Some(mut c) = child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        Self::kill(&mut self.chromedriver);
        Self::kill(&mut self.app);
        if thread::panicking() {
            eprintln!("browser test failed; logs and data kept in {}", self.temp_dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.temp_dir);
        }
    }
}

/// Waits until chromedriver's `GET /status` reports `ready: true`.
fn wait_for_chromedriver(base: &str, log: &Path) {
    let agent = http_agent(Duration::from_secs(5));
    let url = format!("{base}/status");
    let res = wait_until(DRIVER_START_TIMEOUT, || match agent.get(&url).call() {
        Ok(r) => {
            let v: Value = r.into_json().map_err(|e| format!("bad /status JSON: {e}"))?;
            if v["value"]["ready"] == Value::Bool(true) {
                Ok(())
            } else {
                Err(format!("chromedriver not ready: {v}"))
            }
        }
        Err(e) => Err(format!("GET {url}: {e}")),
    });
    if let Err(e) = res {
        panic!(
            "chromedriver did not become ready: {e}\n--- chromedriver log tail ---\n{}",
            log_tail(log, 4000)
        );
    }
}

// ---------------------------------------------------------------------------
// Minimal W3C WebDriver client
// ---------------------------------------------------------------------------

/// A WebDriver session; deleted (closing Chromium) on drop.
struct Driver {
    agent: ureq::Agent,
    base: String,
    session: String,
}

/// Atomic-ish view of the navigation bar, used for assertions and messages.
#[derive(Debug)]
struct NavState {
    url: String,
    user: Option<String>,
    roles: Option<String>,
    navs: BTreeSet<String>,
}

fn set_of(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Driver {
    fn new(base: &str, chromium: &Path, profile_dir: &Path) -> Driver {
        let agent = http_agent(Duration::from_secs(90));
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium.to_string_lossy(),
                        // The app negotiates `Accept-Language` (falling back to
                        // zh-CN); pin the browser to a Chinese user so the
                        // result does not depend on the host locale.
                        "prefs": { "intl.accept_languages": "zh-CN,zh" },
                        "args": [
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-background-networking",
                            "--disable-quic",
                            "--no-first-run",
                            "--disable-component-update",
                            "--disable-sync",
                            "--disable-dev-shm-usage",
                            "--window-size=1280,900",
                            format!("--user-data-dir={}", profile_dir.display()),
                        ]
                    }
                }
            }
        });
        let value = Self::send(&agent, "POST", &format!("{base}/session"), Some(caps))
            .unwrap_or_else(|e| panic!("create WebDriver session: {e}"));
        let session = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new-session response without sessionId: {value}"))
            .to_string();
        Driver {
            agent,
            base: base.to_string(),
            session,
        }
    }

    /// Performs one WebDriver request and returns the response's `value`.
    /// WebDriver errors become `Err("<error>: <message>")`.
    fn send(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
        let req = agent.request(method, url);
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let resp = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) => {
                let text = r.into_string().unwrap_or_default();
                let detail = serde_json::from_str::<Value>(&text)
                    .ok()
                    .map(|v| {
                        format!(
                            "{}: {}",
                            v["value"]["error"].as_str().unwrap_or("?"),
                            v["value"]["message"].as_str().unwrap_or(&text)
                        )
                    })
                    .unwrap_or(text);
                return Err(format!("{method} {url} -> HTTP {code}: {detail}"));
            }
            Err(e) => return Err(format!("{method} {url}: {e}")),
        };
        let v: Value = resp
            .into_json()
            .map_err(|e| format!("{method} {url}: invalid JSON response: {e}"))?;
        Ok(v.get("value").cloned().unwrap_or(Value::Null))
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        Self::send(&self.agent, method, &url, body)
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    fn current_url(&self) -> String {
        self.cmd("GET", "/url", None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "<unknown>".to_string())
    }

    fn element_id(v: &Value) -> Result<String, String> {
        v[ELEMENT_KEY]
            .as_str()
            .or_else(|| v[LEGACY_ELEMENT_KEY].as_str())
            .map(str::to_string)
            .ok_or_else(|| format!("not an element reference: {v}"))
    }

    /// Finds the first element matching `css`.
    fn find(&self, css: &str) -> Result<String, String> {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        Self::element_id(&v)
    }

    /// Finds all elements matching `css` (possibly none).
    fn find_all(&self, css: &str) -> Result<Vec<String>, String> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        v.as_array()
            .ok_or_else(|| format!("find elements {css:?}: not an array: {v}"))?
            .iter()
            .map(Self::element_id)
            .collect()
    }

    fn must_find(&self, css: &str, ctx: &str) -> String {
        self.find(css)
            .unwrap_or_else(|e| panic!("{ctx}: element {css:?} not found on {}: {e}", self.current_url()))
    }

    fn click(&self, eid: &str) -> Result<(), String> {
        self.cmd("POST", &format!("/element/{eid}/click"), Some(json!({})))
            .map(drop)
    }

    fn type_into(&self, eid: &str, text: &str) -> Result<(), String> {
        self.cmd("POST", &format!("/element/{eid}/clear"), Some(json!({})))?;
        self.cmd("POST", &format!("/element/{eid}/value"), Some(json!({ "text": text })))
            .map(drop)
    }

    /// Attribute value of an element; `None` when the attribute is absent.
    fn attr(&self, eid: &str, name: &str) -> Result<Option<String>, String> {
        let v = self.cmd("GET", &format!("/element/{eid}/attribute/{name}"), None)?;
        Ok(v.as_str().map(str::to_string))
    }

    /// `lang` attribute of the `<html>` element.
    fn html_lang(&self) -> Result<Option<String>, String> {
        let html = self.find("html")?;
        self.attr(&html, "lang")
    }

    /// Full text content of the document body (independent of CSS
    /// `text-transform`, unlike the WebDriver "element text").
    fn page_text(&self) -> Result<String, String> {
        let v = self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({
                "script": "return document.body ? document.body.textContent : '';",
                "args": []
            })),
        )?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Reads `nav#main-nav`: `data-user`, `data-roles` and all `data-nav`
    /// values of its descendants.
    fn nav_state(&self) -> Result<NavState, String> {
        let url = self.current_url();
        let nav = self
            .find("nav#main-nav")
            .map_err(|e| format!("no nav#main-nav on {url}: {e}"))?;
        let user = self.attr(&nav, "data-user")?.filter(|s| !s.is_empty());
        let roles = self.attr(&nav, "data-roles")?;
        let mut navs = BTreeSet::new();
        for eid in self.find_all("nav#main-nav [data-nav]")? {
            if let Some(v) = self.attr(&eid, "data-nav")? {
                navs.insert(v);
            }
        }
        Ok(NavState { url, user, roles, navs })
    }

    /// Text of `.error-summary` elements, if any (for diagnostics).
    fn error_summary(&self) -> Option<String> {
        let ids = self.find_all(".error-summary").ok()?;
        let texts: Vec<String> = ids
            .iter()
            .filter_map(|eid| self.cmd("GET", &format!("/element/{eid}/text"), None).ok())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        (!ids.is_empty()).then(|| texts.join(" | "))
    }

    /// Takes a PNG screenshot, checks it and writes it to `path`.
    fn screenshot(&self, path: &Path) {
        let v = self
            .cmd("GET", "/screenshot", None)
            .unwrap_or_else(|e| panic!("take screenshot for {}: {e}", path.display()));
        let b64 = v.as_str().expect("screenshot value is a base64 string");
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("screenshot is valid base64");
        assert!(
            png.len() > 8 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "screenshot {} is not a PNG ({} bytes)",
            path.display(),
            png.len()
        );
        fs::write(path, &png).unwrap_or_else(|e| panic!("write screenshot {}: {e}", path.display()));
    }

    /// Opens `/login`, fills in the credentials and submits `form#login-form`.
    fn submit_login(&self, app: &str, login: &str, password: &str) {
        self.goto(&format!("{app}/login"));
        let ctx = format!("login as {login}");
        let user_input = self.must_find("input[name=\"login\"]", &ctx);
        self.type_into(&user_input, login)
            .unwrap_or_else(|e| panic!("{ctx}: type login: {e}"));
        let pw_input = self.must_find("input[name=\"password\"]", &ctx);
        self.type_into(&pw_input, password)
            .unwrap_or_else(|e| panic!("{ctx}: type password: {e}"));
        let submit = self.must_find("form#login-form button[type=\"submit\"]", &ctx);
        self.click(&submit)
            .unwrap_or_else(|e| panic!("{ctx}: click submit: {e}"));
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        if let Err(e) = Self::send(&self.agent, "DELETE", &url, None) {
            eprintln!("warning: deleting WebDriver session failed: {e}");
        }
    }
}

// ---------------------------------------------------------------------------
// Scenario steps
// ---------------------------------------------------------------------------

/// Logs in as `case`, checks nav / roles, saves a screenshot, logs out and
/// checks the guest nav.
fn check_role(d: &Driver, app: &str, shots: &Path, case: &RoleCase) {
    let login = case.login;
    d.submit_login(app, login, DEMO_PASSWORD);

    let state = wait_until(NAV_TIMEOUT, || {
        let s = d.nav_state()?;
        if s.user.as_deref() == Some(login) {
            Ok(s)
        } else {
            Err(format!("{s:?}"))
        }
    })
    .unwrap_or_else(|last| {
        panic!(
            "role {login}: after login, expected nav#main-nav[data-user={login:?}] within {NAV_TIMEOUT:?}; \
             last seen: {last}; error summary: {:?}",
            d.error_summary()
        )
    });

    let expected = set_of(case.navs);
    assert_eq!(
        state.navs, expected,
        "role {login}: data-nav set in nav#main-nav differs (got left, expected right) on {}",
        state.url
    );
    let roles = state.roles.clone().unwrap_or_default();
    assert!(
        roles.split_whitespace().any(|r| r == case.role_key),
        "role {login}: nav#main-nav[data-roles] = {:?} does not contain {:?}",
        state.roles,
        case.role_key
    );

    d.screenshot(&shots.join(format!("{login}.png")));

    let logout = d.must_find("button#logout", &format!("role {login}: logout"));
    d.click(&logout)
        .unwrap_or_else(|e| panic!("role {login}: click button#logout: {e}"));
    let guest = set_of(GUEST_NAV);
    wait_until(NAV_TIMEOUT, || {
        let s = d.nav_state()?;
        if s.user.is_none() && s.navs == guest {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .unwrap_or_else(|last| {
        panic!(
            "role {login}: after logout, expected no data-user and data-nav = {guest:?} within {NAV_TIMEOUT:?}; \
             last seen: {last}"
        )
    });
}

/// Waits until `<html lang>` equals `want`.
fn wait_for_lang(d: &Driver, want: &str, ctx: &str) {
    wait_until(NAV_TIMEOUT, || {
        let lang = d.html_lang()?;
        if lang.as_deref() == Some(want) {
            Ok(())
        } else {
            Err(format!("<html lang> = {lang:?} on {}", d.current_url()))
        }
    })
    .unwrap_or_else(|last| panic!("language: {ctx}: expected <html lang={want:?}>; last seen: {last}"));
}

fn assert_text_contains(d: &Driver, needle: &str, ctx: &str) {
    let text = d
        .page_text()
        .unwrap_or_else(|e| panic!("language: {ctx}: read page text: {e}"));
    assert!(
        text.contains(needle),
        "language: {ctx}: page text on {} does not contain {needle:?}; text was:\n{}",
        d.current_url(),
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    );
}

fn check_language_switch(d: &Driver, app: &str, shots: &Path) {
    d.goto(&format!("{app}/"));
    wait_for_lang(d, "zh-CN", "default on /");

    let en = d.must_find("a[data-lang=\"en\"]", "language: switch to en");
    d.click(&en)
        .unwrap_or_else(|e| panic!("language: click a[data-lang=en]: {e}"));
    wait_for_lang(d, "en", "after clicking a[data-lang=en]");
    assert_text_contains(d, "Log in", "after switching to en");
    d.screenshot(&shots.join("home-en.png"));

    d.goto(&format!("{app}/login"));
    wait_for_lang(d, "en", "on /login after switching to en (cookie)");

    let zh = d.must_find("a[data-lang=\"zh-CN\"]", "language: switch to zh-CN");
    d.click(&zh)
        .unwrap_or_else(|e| panic!("language: click a[data-lang=zh-CN]: {e}"));
    wait_for_lang(d, "zh-CN", "after clicking a[data-lang=zh-CN]");
    assert_text_contains(d, "登录", "after switching back to zh-CN");
}

fn check_wrong_password(d: &Driver, app: &str) {
    d.submit_login(app, "prov.editor", "wrong-pass-0000");
    wait_until(NAV_TIMEOUT, || {
        if d.find_all(".error-summary")?.is_empty() {
            Err(format!("no .error-summary on {}", d.current_url()))
        } else {
            Ok(())
        }
    })
    .unwrap_or_else(|last| {
        let src = d.source();
        let head: String = src.chars().take(3000).collect();
        panic!("wrong password: expected an .error-summary element; {last}\n--- page source (start) ---\n{head}")
    });
    let state = d
        .nav_state()
        .unwrap_or_else(|e| panic!("wrong password: read nav: {e}"));
    assert!(
        state.user.is_none(),
        "wrong password: nav#main-nav still has data-user {:?} on {}",
        state.user,
        state.url
    );
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

fn wait_for_user(d: &Driver, login: &str) {
    wait_until(NAV_TIMEOUT, || match d.nav_state()?.user {
        Some(u) if u == login => Ok(()),
        other => Err(format!("logged in as {other:?}")),
    })
    .unwrap_or_else(|e| panic!("login as {login}: {e}"));
}

fn choose(d: &Driver, select_id: &str, value: &str) {
    let option = d.must_find(
        &format!("select#{select_id} option[value=\"{value}\"]"),
        "resource form",
    );
    d.click(&option)
        .unwrap_or_else(|e| panic!("choose {value} in {select_id}: {e}"));
}

fn logout(d: &Driver) {
    let button = d.must_find("button#logout", "logout");
    d.click(&button).unwrap_or_else(|e| panic!("logout: {e}"));
    wait_until(NAV_TIMEOUT, || match d.nav_state()?.user {
        None => Ok(()),
        Some(u) => Err(format!("still logged in as {u}")),
    })
    .unwrap_or_else(|e| panic!("logout: {e}"));
}

/// The provider editor drafts a resource through the workspace form, and the reviewer opens
/// the review queue: the steps 2–3 pages in a real browser.
fn check_publishing_pages(d: &Driver, app: &str, shots: &Path) {
    d.submit_login(app, "prov.editor", DEMO_PASSWORD);
    wait_for_user(d, "prov.editor");
    d.goto(&format!("{app}/provider"));
    d.must_find("#resource-list", "provider workspace");
    d.screenshot(&shots.join("provider-workspace.png"));
    let new = d.must_find("#new-resource", "provider workspace");
    d.click(&new).unwrap_or_else(|e| panic!("open the resource form: {e}"));
    wait_until(NAV_TIMEOUT, || d.find("#resource-form")).unwrap_or_else(|e| panic!("resource form: {e}"));
    let title = "浏览器测试：四川省公路桥梁";
    d.type_into(&d.must_find("#f-title", "resource form"), title)
        .expect("type the title");
    d.type_into(
        &d.must_find("#f-summary", "resource form"),
        "四川省境内国省干线公路桥梁的名称、位置与技术等级信息。",
    )
    .expect("type the summary");
    choose(d, "f-domain", "transport");
    choose(d, "f-open_type", "unconditional");
    choose(d, "f-update_frequency", "yearly");
    d.screenshot(&shots.join("provider-resource-form.png"));
    let save = d.must_find("#save", "resource form");
    d.click(&save).unwrap_or_else(|e| panic!("save the draft: {e}"));
    wait_until(NAV_TIMEOUT, || d.find("#resource-status"))
        .unwrap_or_else(|e| panic!("the draft's page did not open: {e}; {:?}", d.error_summary()));
    assert_text_contains(d, title, "the draft's page");
    d.screenshot(&shots.join("provider-resource.png"));
    logout(d);

    d.submit_login(app, "admin.reviewer", DEMO_PASSWORD);
    wait_for_user(d, "admin.reviewer");
    d.goto(&format!("{app}/review"));
    d.must_find("#review-queue", "review queue");
    d.screenshot(&shots.join("review-queue.png"));
    logout(d);
}

/// Search with a Chinese word and with pinyin, narrow by a facet link, open a dataset page and
/// find its 数据项 dictionary and the preview of its loaded rows.
fn check_search_and_dataset_pages(d: &Driver, app: &str, shots: &Path) {
    d.goto(&format!("{app}/catalogue?lang=zh-CN"));
    // The index is built in the background when the demo starts.
    wait_until(APP_START_TIMEOUT, || {
        d.goto(&format!("{app}/catalogue"));
        d.find_all(".hit").and_then(|h| {
            if h.is_empty() {
                Err("no hits yet".into())
            } else {
                Ok(())
            }
        })
    })
    .unwrap_or_else(|e| panic!("the catalogue stays empty: {e}"));
    let q = d.must_find("form.search #q", "search form");
    d.type_into(&q, "乡镇").expect("type the search words");
    let go = d.must_find("form.search button[type=submit]", "search form");
    d.click(&go).expect("search");
    wait_until(NAV_TIMEOUT, || {
        if d.current_url().contains("q=") {
            Ok(())
        } else {
            Err("not searched".to_string())
        }
    })
    .unwrap_or_else(|e| panic!("search did not run: {e}"));
    d.must_find(".hit h3 mark", "highlighted search result");
    assert_text_contains(d, "全国乡镇（街道）区划代码", "search results");
    d.screenshot(&shots.join("search.png"));

    // A facet link narrows the results without JavaScript.
    let facet = d.must_find("#facet-open_type a", "open type facet");
    d.click(&facet).expect("choose a facet value");
    wait_until(NAV_TIMEOUT, || {
        if d.current_url().contains("open_type=") {
            Ok(())
        } else {
            Err("no facet in the URL".to_string())
        }
    })
    .unwrap_or_else(|e| panic!("facet link: {e}"));
    d.must_find("a.chip", "chosen filter");

    // Pinyin finds the same resource.
    d.goto(&format!("{app}/catalogue?q=xiangzhen"));
    assert_text_contains(d, "全国乡镇（街道）区划代码", "pinyin search");

    let link = d.must_find(".hit h3 a", "search result link");
    d.click(&link).expect("open the dataset page");
    wait_until(NAV_TIMEOUT, || d.find("#field-dictionary")).unwrap_or_else(|e| panic!("dataset page: {e}"));
    let rows = d.find_all("#preview tbody tr").expect("preview rows");
    assert!(!rows.is_empty(), "the dataset page shows no preview rows");
    d.must_find("#versions", "dataset versions");
    d.must_find("#api-example", "API usage example");
    d.screenshot(&shots.join("dataset.png"));
}

/// Steps 4–8 in the browser: the administration institution forwards the demo company's
/// application, the provider approves it, the company finds its grant under "my data", and a
/// person accepts the terms of unconditional data and gets its download link.
fn check_application_flow(d: &Driver, app: &str, shots: &Path) {
    let open_first = |d: &Driver, ctx: &str| {
        d.goto(&format!("{app}/applications"));
        let link = d.must_find("#application-queue tbody tr[id^='queue-'] a", ctx);
        d.click(&link).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    };
    d.submit_login(app, "admin.reviewer", DEMO_PASSWORD);
    wait_for_user(d, "admin.reviewer");
    open_first(d, "pre-review queue");
    wait_until(NAV_TIMEOUT, || d.find("#forward-form")).unwrap_or_else(|e| panic!("pre-review page: {e}"));
    d.screenshot(&shots.join("application-pre-review.png"));
    let forward = d.must_find("#forward", "pre-review page");
    d.click(&forward).expect("forward");
    wait_until(NAV_TIMEOUT, || match d.find("#forward-form") {
        Ok(_) => Err("still in pre-review".to_string()),
        Err(_) => Ok(()),
    })
    .unwrap_or_else(|e| panic!("forwarding: {e}; {:?}", d.error_summary()));
    logout(d);

    // The application is for the health commission's village table: its reviewer decides.
    d.submit_login(app, "health.reviewer", DEMO_PASSWORD);
    wait_for_user(d, "health.reviewer");
    open_first(d, "provider review queue");
    wait_until(NAV_TIMEOUT, || d.find("#approve-form")).unwrap_or_else(|e| panic!("provider review page: {e}"));
    d.screenshot(&shots.join("application-provider-review.png"));
    let approve = d.must_find("#approve", "provider review page");
    d.click(&approve).expect("approve");
    // Decided: back to the queue with a message.
    wait_until(NAV_TIMEOUT, || d.find("p.flash")).unwrap_or_else(|e| panic!("approval: {e}; {:?}", d.error_summary()));
    logout(d);

    d.submit_login(app, "consumer.org", DEMO_PASSWORD);
    wait_for_user(d, "consumer.org");
    d.goto(&format!("{app}/my"));
    d.must_find("#my-grants tr[id^='grant-']", "the company's grant under my data");
    d.screenshot(&shots.join("my-data.png"));
    logout(d);

    d.submit_login(app, "consumer.person", DEMO_PASSWORD);
    wait_for_user(d, "consumer.person");
    d.goto(&format!(
        "{app}/catalogue?q=xingzhengquhua&open_type=unconditional&sort=name"
    ));
    let link = d.must_find(".hit h3 a", "an unconditional resource");
    d.click(&link).expect("open the dataset");
    wait_until(NAV_TIMEOUT, || d.find("#field-dictionary")).unwrap_or_else(|e| panic!("dataset page: {e}"));
    if d.find("#accept-terms").is_ok() {
        let tick = d.must_find("#f-terms_accepted", "terms form");
        d.click(&tick).expect("tick the terms");
        d.click(&d.must_find("#accept", "terms form"))
            .expect("accept the terms");
    }
    wait_until(NAV_TIMEOUT, || d.find("#distributions a[href$='/download']")).unwrap_or_else(|e| {
        panic!(
            "no download link after accepting the terms: {e}; {:?}",
            d.error_summary()
        )
    });
    d.screenshot(&shots.join("dataset-terms-accepted.png"));
    logout(d);
}

/// Talking back in the browser (issue 6): a person asks for data through the demand form (a
/// missing field first), finds it in the public list, reports an error from a dataset page, and
/// opens the showcase gallery and the interaction statistics.
fn check_interaction_pages(d: &Driver, app: &str, shots: &Path) {
    d.submit_login(app, "consumer.person", DEMO_PASSWORD);
    wait_for_user(d, "consumer.person");
    d.goto(&format!("{app}/demands/new?lang=zh-CN"));
    let title = "成都市公共充电桩位置与实时状态";
    d.type_into(
        &d.must_find("#f-description", "demand form"),
        "希望开放全市公共充电桩的位置、运营单位、桩数和实时空闲状态。",
    )
    .expect("type the description");
    d.type_into(
        &d.must_find("#f-purpose", "demand form"),
        "开发新能源车主找桩导航小程序，免费提供给市民使用。",
    )
    .expect("type the purpose");
    choose(d, "f-domain", "transport");
    // No title yet: the form comes back with the problem named beside the field.
    d.click(&d.must_find("#submit-demand", "demand form")).expect("submit");
    wait_until(NAV_TIMEOUT, || d.find("#e-title")).unwrap_or_else(|e| panic!("no title error: {e}"));
    d.type_into(&d.must_find("#f-title", "demand form"), title)
        .expect("type the title");
    d.click(&d.must_find("#submit-demand", "demand form"))
        .expect("submit again");
    wait_until(NAV_TIMEOUT, || d.find("#demand-state"))
        .unwrap_or_else(|e| panic!("the demand page after submitting: {e}; {:?}", d.error_summary()));
    d.must_find("p.flash", "submitted message");
    d.must_find("#withdraw-form", "the requester's withdraw button");
    d.screenshot(&shots.join("demand.png"));

    // The public list finds it by a word of its title.
    d.goto(&format!("{app}/demands?q=充电桩"));
    d.must_find("#demand-list li[id^='demand-']", "the demand in the public list");
    assert_text_contains(d, title, "public list of demands");
    d.screenshot(&shots.join("demands.png"));

    // An error report from a dataset page.
    d.goto(&format!("{app}/catalogue?q=xiangzhen"));
    let link = d.must_find(".hit h3 a", "search result link");
    d.click(&link).expect("open the dataset page");
    wait_until(NAV_TIMEOUT, || d.find("#report-error"))
        .unwrap_or_else(|e| panic!("report link on the dataset page: {e}"));
    d.click(&d.must_find("#report-error", "dataset page"))
        .expect("open the report form");
    wait_until(NAV_TIMEOUT, || d.find("#correction-form")).unwrap_or_else(|e| panic!("report form: {e}"));
    d.type_into(&d.must_find("#f-row", "report form"), "1")
        .expect("type the row");
    d.type_into(
        &d.must_find("#f-description", "report form"),
        "该行的名称与民政部门公布的名称不一致。",
    )
    .expect("type what is wrong");
    d.screenshot(&shots.join("correction-form.png"));
    d.click(&d.must_find("#submit-correction", "report form"))
        .expect("send the report");
    wait_until(NAV_TIMEOUT, || d.find("#correction-state"))
        .unwrap_or_else(|e| panic!("the report page after sending: {e}; {:?}", d.error_summary()));
    d.goto(&format!("{app}/my/requests"));
    d.must_find("#my-demands a[href^='/demands/']", "own demand on my requests");
    d.must_find("#my-corrections a[href^='/corrections/']", "own report on my requests");

    // The gallery with its filters, and the public statistics.
    d.goto(&format!("{app}/showcases"));
    d.must_find("#showcase-filters", "showcase gallery filters");
    d.must_find("#new-showcase", "a logged-in person may submit a showcase");
    d.screenshot(&shots.join("showcases.png"));
    d.goto(&format!("{app}/statistics/interaction"));
    d.must_find("#interaction-stats", "interaction statistics");
    logout(d);
}

#[test]
fn demo_roles_in_headless_chromium() {
    let strict = std::env::var("PUBDATA_TEST_STRICT").as_deref() == Ok("1");
    let tools = find_tool("PUBDATA_CHROMIUM", "/usr/bin/chromium").and_then(|chromium| {
        find_tool("PUBDATA_CHROMEDRIVER", "/usr/bin/chromedriver").map(|driver| (chromium, driver))
    });
    let (chromium, chromedriver) = match tools {
        Ok(t) => t,
        Err(reason) if strict => {
            panic!("browser test required (PUBDATA_TEST_STRICT=1) but {reason}")
        }
        Err(reason) => {
            eprintln!("SKIP browser test: {reason}");
            return;
        }
    };

    // The demo publishes real data from the shared region files; without them the catalogue
    // is empty and the search pages cannot be checked.
    let shared_data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let has_data = shared_data.join("streets.csv").is_file();
    assert!(has_data || !strict, "strict mode needs {}", shared_data.display());
    let temp = unique_temp_dir("pubdata-browser");
    let data_dir = temp.join("data");
    let profile_dir = temp.join("chrome-profile");
    fs::create_dir_all(&data_dir).expect("create app data dir");
    fs::create_dir_all(&profile_dir).expect("create chrome profile dir");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser");
    fs::create_dir_all(&shots).expect("create target/browser screenshot dir");

    let mut guard = ProcessGuard {
        app: None,
        chromedriver: None,
        temp_dir: temp.clone(),
    };

    // 1. The app.
    let app_port = free_port();
    let app = format!("http://127.0.0.1:{app_port}");
    let app_log = temp.join("app.log");
    guard.app = Some(spawn_logged(
        Command::new(env!("CARGO_BIN_EXE_pubdata"))
            .arg("demo")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--password")
            .arg(DEMO_PASSWORD)
            .arg("--addr")
            .arg(format!("127.0.0.1:{app_port}"))
            .env("PUBDATA_REGIONS_DIR", &shared_data),
        &app_log,
        "pubdata demo",
    ));
    wait_healthy(
        guard.app.as_mut().expect("the app runs"),
        &app,
        &app_log,
        APP_START_TIMEOUT,
    );

    // 2. chromedriver and a browser session.
    let driver_port = free_port();
    let driver_base = format!("http://127.0.0.1:{driver_port}");
    let driver_log = temp.join("chromedriver.log");
    guard.chromedriver = Some(spawn_logged(
        Command::new(&chromedriver).arg(format!("--port={driver_port}")),
        &driver_log,
        "chromedriver",
    ));
    wait_for_chromedriver(&driver_base, &driver_log);
    // Declared after `guard`, so the session is deleted before the processes die.
    let driver = Driver::new(&driver_base, &chromium, &profile_dir);

    // 3. Scenarios.
    for case in ROLES {
        check_role(&driver, &app, &shots, case);
    }
    check_language_switch(&driver, &app, &shots);
    check_wrong_password(&driver, &app);
    check_publishing_pages(&driver, &app, &shots);
    if has_data {
        check_search_and_dataset_pages(&driver, &app, &shots);
        check_application_flow(&driver, &app, &shots);
        check_interaction_pages(&driver, &app, &shots);
    } else {
        eprintln!(
            "SKIP search and dataset pages in the browser: no {}",
            shared_data.display()
        );
    }

    drop(driver);
    drop(guard);
}
