//! E-mail copies of notices against a real SMTP server: aiosmtpd from the Python named by
//! `PUBDATA_PYTHON` (installed by `.ci/run`), writing each message it accepts into a maildir that
//! Python's own e-mail parser reads back. A returned resource reaches its editor with the Chinese
//! subject, the reason as written and an absolute link; nothing is sent twice, not even by two
//! nodes at once; an invalid address fails alone; while the server is down notices wait.
//! Runs on SQLite, and on PostgreSQL when `PUBDATA_TEST_DATABASE_URL` is set.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestApp, PASSWORD};
use pubdata_core::calendar::WorkCalendar;
use pubdata_core::metadata::NewResourceMeta;
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::user::NewUser;
use pubdata_server::Config;
use pubdata_service::accounts::{self, actor_for, NewStaff};
use pubdata_service::ingest::{self, NewApi};
use pubdata_service::mail::{MailTls, Mailer};
use pubdata_service::resources::{self, Decision};
use pubdata_service::Caller;
use pubdata_store::{now_ms, EmailState};
use serde_json::{json, Value};

const PORTAL: &str = "https://data.example.gov.cn";

// ---------------------------------------------------------------------------------------------
// The SMTP server.

/// The Python with aiosmtpd, or `None` (with the reason printed) outside strict mode.
fn python() -> Option<String> {
    let strict = std::env::var("PUBDATA_TEST_STRICT").as_deref() == Ok("1");
    let Ok(python) = std::env::var("PUBDATA_PYTHON") else {
        assert!(!strict, "strict mode needs PUBDATA_PYTHON with aiosmtpd installed");
        eprintln!("SKIP e-mail tests: PUBDATA_PYTHON (a Python with aiosmtpd) is not set");
        return None;
    };
    let has_aiosmtpd = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_aiosmtpd {
        assert!(!strict, "strict mode: {python} cannot import aiosmtpd");
        eprintln!("SKIP e-mail tests: {python} has no aiosmtpd (pip install aiosmtpd==1.4.6)");
        return None;
    }
    Some(python)
}

/// aiosmtpd on `127.0.0.1:port`, storing what it accepts in the maildir `dir`.
struct SmtpServer {
    child: Child,
}

impl SmtpServer {
    fn start(python: &str, port: u16, dir: &Path) -> SmtpServer {
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let mut server = SmtpServer { child };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = server.child.try_wait().expect("aiosmtpd state");
            assert!(exited.is_none(), "aiosmtpd exited: {exited:?}");
            assert!(started.elapsed() < Duration::from_secs(20), "aiosmtpd did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// One message as Python's e-mail package reads it.
#[derive(Debug)]
struct Received {
    /// The envelope recipients, as the SMTP server saw them.
    rcpt: String,
    from: String,
    to: String,
    subject: String,
    content_type: String,
    charset: String,
    text: String,
    /// The header section as stored: non-ASCII text must have been encoded.
    raw_headers: String,
}

/// Every message in the maildir, decoded by Python's standard library, not by our code.
fn received(python: &str, dir: &Path) -> Vec<Received> {
    let script = r#"
import email, email.policy, json, pathlib, sys
out = []
new = pathlib.Path(sys.argv[1], "new")
for p in sorted(new.iterdir()) if new.exists() else []:
    raw = p.read_bytes()
    m = email.message_from_bytes(raw, policy=email.policy.default)
    out.append({"rcpt": m["X-RcptTo"], "from": str(m["From"]), "to": str(m["To"]),
                "subject": str(m["Subject"]), "content_type": m.get_content_type(),
                "charset": m.get_content_charset() or "", "text": m.get_body(("plain",)).get_content(),
                "raw_headers": raw.split(b"\n\n", 1)[0].decode("latin-1")})
print(json.dumps(out, ensure_ascii=False))
"#;
    let out = Command::new(python)
        .args(["-c", script])
        .arg(dir)
        .output()
        .expect("run python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON from python");
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    list.iter()
        .map(|v| Received {
            rcpt: s(v, "rcpt"),
            from: s(v, "from"),
            to: s(v, "to"),
            subject: s(v, "subject"),
            content_type: s(v, "content_type"),
            charset: s(v, "charset"),
            // SMTP lines end in CRLF.
            text: s(v, "text").replace("\r\n", "\n"),
            raw_headers: s(v, "raw_headers"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The portal: a provider with an editor and a manager, and the administration's reviewer.

struct World {
    editor: Caller,
    reviewer: Caller,
    provider: i64,
    /// The manager registered an address the platform takes but SMTP cannot use.
    manager: i64,
}

async fn staff(app: &TestApp, login: &str, name: &str, email: &str, org_id: i64, role: &str) -> Caller {
    let user = NewUser {
        login: login.into(),
        display_name: name.into(),
        email: email.into(),
        phone: String::new(),
        password: PASSWORD.into(),
    };
    let new = NewStaff {
        user,
        org_id,
        role: role.into(),
    };
    let id = accounts::create_staff(&app.store, &Caller::console(), new)
        .await
        .expect("staff");
    let u = app.store.user(id).await.unwrap().unwrap();
    Caller {
        actor: actor_for(&u),
        label: u.login.clone(),
        ip: None,
    }
}

async fn world(app: &TestApp) -> World {
    let org = |kind: &str, name: &str, code: &str| pubdata_core::org::NewOrg {
        kind: kind.into(),
        name: name.into(),
        credit_code: code.into(),
        region_code: "510000".into(),
        ..Default::default()
    };
    let console = Caller::console();
    let centre = org("admin_institution", "四川省大数据中心", "91350100M000100Y43");
    let centre = accounts::create_org(&app.store, &console, centre).await.unwrap();
    let provider = org("provider", "四川省交通运输厅", "11510000008693034D");
    let provider = accounts::create_org(&app.store, &console, provider).await.unwrap();
    let manager = staff(
        app,
        "wang.zhuren",
        "王主任",
        "wang<zhuren>@example.cn",
        provider,
        "provider_manager",
    )
    .await;
    World {
        manager: manager.actor.user_id.unwrap(),
        editor: staff(
            app,
            "chen.bian",
            "陈编辑",
            "chen.bian@example.cn",
            provider,
            "provider_editor",
        )
        .await,
        reviewer: staff(app, "li.shen", "李审核", "li.shen@example.cn", centre, "admin_reviewer").await,
        provider,
    }
}

/// A resource submitted by the editor and returned by the reviewer with two reasons.
async fn returned_resource(app: &TestApp, w: &World, title: &str) -> i64 {
    let meta: NewResourceMeta = serde_json::from_value(json!({
        "title": title, "summary": "四川省高速公路路段的编号、名称、通车日期与里程，按月更新。", "domain": "transport",
        "open_type": "unconditional", "update_frequency": "monthly", "tags": "高速公路",
        "spatial": "510000", "contact_phone": "028-86001234", "temporal_from": "2024-01-01",
        "fields": [{"name": "code", "title": "路段编号", "type": "code"}]}))
    .unwrap();
    let id = resources::create(&app.store, &w.editor, w.provider, &meta, None)
        .await
        .expect("create");
    let api = NewApi {
        title: "路段查询接口".into(),
        url: "https://api.example.gov.cn/roads".into(),
        method: "GET".into(),
        ..Default::default()
    };
    ingest::add_api(&app.store, &w.editor, id, &api).await.expect("api");
    resources::submit(&app.store, &w.editor, id, &WorkCalendar::official())
        .await
        .expect("submit");
    let reasons = vec![
        "请补充数据项说明".to_string(),
        "请注明数据来源（含 <统计口径> & 更新时间）".to_string(),
    ];
    let decision = Decision::Return {
        checklist: ReviewChecklist::passed(),
        reasons,
    };
    resources::decide(&app.store, &w.reviewer, id, decision)
        .await
        .expect("return");
    id
}

fn mail_config(port: u16) -> Config {
    Config {
        smtp_host: Some("127.0.0.1".into()),
        smtp_port: port,
        smtp_tls: MailTls::None,
        public_url: Some(PORTAL.into()),
        ..Config::default()
    }
}

fn node_mailer(port: u16, node: &str) -> Mailer {
    pubdata_server::mail::mailer(&mail_config(port), node)
        .expect("mail settings")
        .expect("mail is on")
}

/// Every notice with its e-mail state, oldest first.
async fn states(app: &TestApp) -> Vec<(i64, i64, EmailState)> {
    let mut out = Vec::new();
    for n in app.store.unsent_notices(0, 1000).await.unwrap() {
        out.push((n.notice.id, n.notice.user_id, n.state));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The story.

async fn mail_story(app: TestApp, python: &str) {
    // Unique per story: the SQLite and PostgreSQL stories run at once in this process.
    static STORIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STORIES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("pubdata_mail_{}_{:x}_{n}", std::process::id(), now_ms()));
    let port = free_port();
    let w = world(&app).await;
    let resource = returned_resource(&app, &w, "四川省高速公路路段").await;
    let pending = states(&app).await;
    assert!(
        pending.len() >= 3,
        "submitted, and returned to editor and manager: {pending:?}"
    );
    let unusable = pending.iter().filter(|p| p.1 == w.manager).count();
    assert!(unusable >= 1, "the manager hears of the return: {pending:?}");
    let mailer = node_mailer(port, "node-a");

    // 1. The SMTP server is down: nothing is touched, and the error says why.
    let err = mailer.send_pending(&app.store).await.unwrap_err().to_string();
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("stay queued"),
        "{err}"
    );
    assert_eq!(states(&app).await, pending, "notices wait while the server is down");

    // 2. It is up: every notice is sent once, except the one to an unusable address.
    let server = SmtpServer::start(python, port, &dir);
    let sent = mailer.send_pending(&app.store).await.expect("send");
    assert_eq!(sent, pending.len() - unusable);
    let mail = received(python, &dir);
    assert_eq!(mail.len(), sent);
    for (id, user, _) in &pending {
        let state = app.store.email_state(*id).await.unwrap().expect("notice");
        if *user == w.manager {
            let EmailState::Failed(error) = &state else {
                panic!("the bad address fails for good: {state:?}")
            };
            assert!(
                error.contains("wang<zhuren>@example.cn") && error.contains("not a valid"),
                "{error}"
            );
        } else {
            assert!(matches!(state, EmailState::Sent(_)), "notice {id}: {state:?}");
        }
    }

    // The editor's e-mail: Chinese subject, the reasons as written, the absolute link, UTF-8.
    let to_editor: Vec<&Received> = mail.iter().filter(|m| m.rcpt == "chen.bian@example.cn").collect();
    assert_eq!(to_editor.len(), 1, "{mail:#?}");
    let m = to_editor[0];
    assert_eq!(
        m.subject,
        "【公共数据开放平台】数据资源“四川省高速公路路段”被退回，请按理由修改后重新提交"
    );
    assert_eq!(m.from, "公共数据开放平台 <noreply@data.example.gov.cn>");
    assert_eq!(m.to, "陈编辑 <chen.bian@example.cn>");
    assert_eq!((m.content_type.as_str(), m.charset.as_str()), ("text/plain", "utf-8"));
    assert!(m.raw_headers.is_ascii(), "headers are encoded: {}", m.raw_headers);
    assert!(m.text.starts_with("陈编辑，您好："), "{}", m.text);
    assert!(
        m.text
            .contains("理由：\n请补充数据项说明\n请注明数据来源（含 <统计口径> & 更新时间）"),
        "{}",
        m.text
    );
    let link = format!("{PORTAL}/provider/resources/{resource}");
    assert!(m.text.contains(&format!("查看详情：{link}")), "{}", m.text);
    assert!(m.text.contains(&format!("Details: {link}")), "{}", m.text);
    assert!(m.text.contains(&format!("{PORTAL}/inbox")), "{}", m.text);
    // The reviewer heard of the submission.
    let to_reviewer = mail.iter().find(|m| m.rcpt == "li.shen@example.cn").expect("reviewer");
    assert!(to_reviewer.subject.contains("已提交审核"), "{}", to_reviewer.subject);
    assert!(to_reviewer.to.starts_with("李审核"), "{}", to_reviewer.to);

    // 3. A second pass sends nothing again.
    assert_eq!(mailer.send_pending(&app.store).await.unwrap(), 0);
    assert_eq!(received(python, &dir).len(), sent);

    // 4. Two nodes at once send each new notice exactly once.
    returned_resource(&app, &w, "四川省普通国省道路段").await;
    let fresh: Vec<_> = states(&app)
        .await
        .into_iter()
        .filter(|s| s.2 == EmailState::Pending)
        .collect();
    let usable = fresh.iter().filter(|s| s.1 != w.manager).count();
    assert!(usable >= 2 && usable < fresh.len(), "{fresh:?}");
    let other = node_mailer(port, "node-b");
    let (a, b) = tokio::join!(mailer.send_pending(&app.store), other.send_pending(&app.store));
    assert_eq!(a.unwrap() + b.unwrap(), usable, "all but the bad address, once");
    assert_eq!(received(python, &dir).len(), sent + usable);

    // 5. A claim held by a live node is left alone; one left by a node that died is taken over.
    let store = &app.store;
    let notice = |user: i64| async move {
        let mut tx = store.begin().await.unwrap();
        let params = serde_json::Map::from_iter([("title".to_string(), json!("四川省桥梁"))]);
        let id = tx
            .insert_notice(user, "resource_published", &params, None, Some("/datasets/1"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    };
    let editor = w.editor.actor.user_id.unwrap();
    let (live, dead) = (notice(editor).await, notice(editor).await);
    for (id, since) in [(live, now_ms()), (dead, now_ms() - 11 * 60 * 1000)] {
        let claim = EmailState::Sending {
            attempt: 1,
            since,
            node: "node-c".into(),
        };
        assert!(app
            .store
            .set_email_state(id, &EmailState::Pending, &claim)
            .await
            .unwrap());
    }
    assert_eq!(mailer.send_pending(&app.store).await.unwrap(), 1);
    assert!(matches!(
        app.store.email_state(dead).await.unwrap(),
        Some(EmailState::Sent(_))
    ));
    assert!(matches!(
        app.store.email_state(live).await.unwrap(),
        Some(EmailState::Sending { .. })
    ));

    // 6. The server goes down again: a new notice waits, and goes out once it is back.
    drop(server);
    let waiting = notice(editor).await;
    assert!(mailer.send_pending(&app.store).await.is_err());
    assert_eq!(app.store.email_state(waiting).await.unwrap(), Some(EmailState::Pending));
    let _server = SmtpServer::start(python, port, &dir);
    assert_eq!(mailer.send_pending(&app.store).await.unwrap(), 1);
    assert!(matches!(
        app.store.email_state(waiting).await.unwrap(),
        Some(EmailState::Sent(_))
    ));
    let last = received(python, &dir);
    let published: Vec<&Received> = last.iter().filter(|m| m.subject.contains("四川省桥梁")).collect();
    assert_eq!(published.len(), 2, "the dead node's notice and the waiting one");
    assert!(published[0].text.contains(&format!("{PORTAL}/datasets/1")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn notices_are_emailed_once_on_sqlite() {
    let Some(python) = python() else { return };
    mail_story(TestApp::sqlite().await, &python).await;
}

#[tokio::test]
async fn notices_are_emailed_once_on_postgres() {
    let Some(python) = python() else { return };
    let Some(app) = TestApp::postgres().await else { return };
    mail_story(app, &python).await;
}

#[test]
fn mail_needs_the_portal_address_for_its_links() {
    let config = Config {
        public_url: None,
        ..mail_config(2525)
    };
    let err = pubdata_server::mail::mailer(&config, "n").err().expect("refused");
    assert!(err.to_string().contains("public_url"), "{err}");
    let config = Config {
        mail_from: Some("not a mailbox".into()),
        ..mail_config(2525)
    };
    let err = pubdata_server::mail::mailer(&config, "n").err().expect("refused");
    assert!(err.to_string().contains("mail_from"), "{err}");
}
