//! Two `pubdata serve` processes on one PostgreSQL database and one shared data directory (the
//! file store), each with its own search index, as behind a load balancer: what is published
//! through one node is found by search on the other within seconds, and sessions, CSRF tokens
//! and API tokens made on one node work (and stop working) on the other.
//!
//! Needs `PUBDATA_TEST_DATABASE_URL`; the test makes its own database on that server and drops it
//! afterwards. Without it the test prints `SKIP …` and passes, unless `PUBDATA_TEST_STRICT=1`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};

/// How long a change on one node may take to show on the other: the follower polls every 2 s.
const SEARCH_FOLLOW_LIMIT: Duration = Duration::from_secs(10);
/// Revocations reach other nodes once their hot cache (≤ 2 s) forgets the old answer.
const REVOCATION_LIMIT: Duration = Duration::from_secs(5);

/// A fresh database on the server of `PUBDATA_TEST_DATABASE_URL`, dropped when this goes.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    fn create() -> Option<Database> {
        let Ok(admin_url) = std::env::var("PUBDATA_TEST_DATABASE_URL") else {
            assert!(
                std::env::var("PUBDATA_TEST_STRICT").as_deref() != Ok("1"),
                "PUBDATA_TEST_STRICT=1 but PUBDATA_TEST_DATABASE_URL is not set"
            );
            eprintln!("SKIP two nodes: PUBDATA_TEST_DATABASE_URL is not set (the nodes share a PostgreSQL database)");
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after the epoch")
            .subsec_nanos();
        let name = format!("pubdata_two_nodes_{}_{nanos}", std::process::id());
        block_on(async {
            let mut c = PgConnection::connect(&admin_url).await.expect("connect to PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .await
                .expect("create the test database");
        });
        let url = with_database(&admin_url, &name);
        Some(Database { admin_url, name, url })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        block_on(async move {
            if let Ok(mut c) = PgConnection::connect(&url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        });
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// `postgres://u@h:p/old?x` with the database `name` instead of `old`.
fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(slash) => &head[..scheme_end + slash],
        None => head,
    };
    format!("{base}/{name}{query}")
}

/// A browser's answer: status, `Set-Cookie` pairs, `Location` and body.
struct Page {
    status: u16,
    cookies: Vec<(String, String)>,
    location: String,
    body: String,
}

impl Page {
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    /// The `_csrf` value of the first form on the page.
    fn csrf(&self) -> String {
        let after = self
            .body
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .unwrap_or_else(|| panic!("no form with _csrf on the page:\n{}", self.body));
        after.split('"').next().unwrap_or_default().to_string()
    }
}

/// One browser request that does not follow redirects.
fn browse(method: &str, url: &str, cookie: &str, form: Option<&[(&str, &str)]>) -> Page {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .redirects(0)
        .build();
    let mut req = agent.request(method, url);
    if !cookie.is_empty() {
        req = req.set("Cookie", cookie);
    }
    let res = match form {
        Some(f) => req.send_form(f),
        None => req.call(),
    };
    let resp = match res {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let cookies = resp
        .all("set-cookie")
        .iter()
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Page {
        status: resp.status(),
        location: resp.header("location").unwrap_or_default().to_string(),
        cookies,
        body: resp.into_string().unwrap_or_default(),
    }
}

fn node(dir: &std::path::Path, name: &str, db: &Database) -> Server {
    Server::start_with(
        dir,
        name,
        &[
            ("PUBDATA_DATABASE_URL", db.url.clone()),
            (
                "PUBDATA_SEARCH_DIR",
                dir.join(format!("search-{name}")).display().to_string(),
            ),
        ],
    )
}

fn search_ids(s: &Server, token: &str, q: &str) -> Vec<i64> {
    let agent = http_agent(Duration::from_secs(30));
    let r = expect(&agent, "GET", &s.url(&format!("/search?q={q}")), token, None, 200);
    r["results"]
        .as_array()
        .map(|a| a.iter().filter_map(|h| h["id"].as_i64()).collect())
        .unwrap_or_default()
}

#[test]
fn two_nodes_share_search_sessions_and_tokens() {
    let Some(db) = Database::create() else { return };
    let tokens = seed_on(&db.url);
    let dir = unique_temp_dir("pubdata-two-nodes");
    let a = node(&dir, "a", &db);
    let b = node(&dir, "b", &db);

    // Published through A (upload stored in the shared file store, ingested by whichever node
    // leased the job), found by search on B.
    let word = "crossnodeqwz";
    assert!(search_ids(&b, &tokens.consumer, word).is_empty(), "nothing yet");
    let (id, dist) = create_and_upload(&a, &tokens, &format!("成都市街道 {word}"), 50);
    wait_ingested(&a, &tokens, dist, Duration::from_secs(60));
    publish(&a, &tokens, id);
    let published = Instant::now();
    let seen = wait_until(SEARCH_FOLLOW_LIMIT, || {
        let ids = search_ids(&b, &tokens.consumer, word);
        if ids.contains(&id) {
            Ok(published.elapsed())
        } else {
            Err(format!("node B finds {ids:?} for {word}"))
        }
    })
    .unwrap_or_else(|e| panic!("published on A, not found on B within {SEARCH_FOLLOW_LIMIT:?}: {e}"));
    println!(
        "published on node A, found by search on node B after {:.2} s",
        seen.as_secs_f64()
    );
    // B reads the file A stored: the distribution's preview rows come from the shared store.
    let d = distribution(&b, &tokens, dist);
    assert_eq!(d["state"], "ready", "{d}");

    // A web login on A; the session cookie works on B.
    let login_page = browse("GET", &format!("{}/login", a.base), "", None);
    let anon = login_page.cookie("pd_csrf").expect("an anonymous CSRF cookie");
    let form = login_page.csrf();
    let login = browse(
        "POST",
        &format!("{}/login", a.base),
        &format!("pd_csrf={anon}"),
        Some(&[
            ("_csrf", &form),
            ("login", "c.consumer"),
            ("password", PASSWORD),
            ("next", "/account"),
        ]),
    );
    assert_eq!(login.status, 303, "login on A: {}", login.body);
    let session = login.cookie("pd_session").expect("a session cookie from A");
    let cookie = format!("pd_session={session}; pd_csrf={anon}");
    let on_b = browse("GET", &format!("{}/account", b.base), &cookie, None);
    assert_eq!(
        on_b.status, 200,
        "the account page on B with A's session: {}",
        on_b.location
    );
    assert!(on_b.body.contains("c.consumer"), "B knows who is logged in");

    // The session's CSRF token is in the database too: a form filled on B's page is accepted on
    // A, and a wrong token is refused on B.
    let b_csrf = on_b.csrf();
    let made = browse(
        "POST",
        &format!("{}/account/tokens", a.base),
        &cookie,
        Some(&[("_csrf", &b_csrf), ("name", "from node B's form")]),
    );
    assert_eq!(made.status, 200, "form from B's page posted to A: {}", made.body);
    assert!(made.body.contains("pdt_"), "the new token is shown once");
    let forged = browse(
        "POST",
        &format!("{}/account/tokens", b.base),
        &cookie,
        Some(&[("_csrf", "0".repeat(64).as_str()), ("name", "forged")]),
    );
    assert_eq!(forged.status, 403, "a wrong CSRF token on B");

    // An API token made on A (through the session, with the CSRF header) works on B.
    let agent = http_agent(Duration::from_secs(30));
    let created: Value = match agent
        .post(&a.url("/tokens"))
        .set("Cookie", &cookie)
        .set("X-CSRF-Token", &b_csrf)
        .send_json(json!({"name": "made on A"}))
    {
        Ok(r) => r.into_json().expect("token JSON"),
        Err(e) => panic!("POST /tokens on A: {e}"),
    };
    let secret = created["secret"].as_str().expect("the secret").to_string();
    let token_id = created["token"]["id"].as_i64().expect("the token's id");
    let me = expect(&agent, "GET", &b.url("/me"), &secret, None, 200);
    assert_eq!(me["login"], "c.consumer", "{me}");

    // Revoked on A: refused on B within the hot cache's bound.
    let (status, _) = call(&agent, "DELETE", &a.url(&format!("/tokens/{token_id}")), &secret, None).expect("revoke");
    assert_eq!(status, 204, "revoke on A");
    let revoked = Instant::now();
    let gone = wait_until(REVOCATION_LIMIT, || {
        match call(&agent, "GET", &b.url("/me"), &secret, None) {
            Ok((401, _)) => Ok(revoked.elapsed()),
            other => Err(format!("B still answers {other:?}")),
        }
    })
    .unwrap_or_else(|e| panic!("a token revoked on A still works on B after {REVOCATION_LIMIT:?}: {e}"));
    println!(
        "token revoked on node A, refused on node B after {:.2} s",
        gone.as_secs_f64()
    );

    // A logout on A ends the session on B.
    let logout = browse(
        "POST",
        &format!("{}/logout", a.base),
        &cookie,
        Some(&[("_csrf", &b_csrf)]),
    );
    assert_eq!(logout.status, 303, "logout on A: {}", logout.body);
    let after = browse("GET", &format!("{}/account", b.base), &cookie, None);
    assert_ne!(after.status, 200, "B must not accept the session A ended");
    assert!(
        after.location.starts_with("/login"),
        "B sends the logged-out browser to log in: {} {}",
        after.status,
        after.location
    );
    let api_after = browse("GET", &b.url("/me"), &cookie, None);
    assert_eq!(api_after.status, 401, "the API on B refuses the ended session too");

    drop((a, b));
    let _ = std::fs::remove_dir_all(&dir);
}
