//! Crash consistency: `kill -9` the server in the middle of an ingest, of a burst of applications
//! and of a burst of review decisions, restart it on the same data directory, and check that
//! nothing it acknowledged is lost, nothing is half done, the interrupted ingest resumes on its
//! own, and `pubdata audit verify` passes.
//!
//! The server is the real `pubdata serve` on SQLite (the embedded default, where a crash hits the
//! database file itself); requests go over loopback HTTP from several threads at once.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{
    call, create_and_upload, distribution, expect, http_agent, publish, seed, unique_temp_dir, wait_ingested,
    wait_until, Server,
};
use serde_json::{json, Value};

/// Rows of the file whose ingest is interrupted: enough for the ingest to take a while.
const BIG_ROWS: usize = 300_000;

fn date(days_from_today: i64) -> String {
    let d = time::OffsetDateTime::now_utc().date() + time::Duration::days(days_from_today);
    d.to_string()
}

fn application(resource: i64) -> Value {
    json!({"purpose": "研究成都市中心城区街道服务设施的空间分布。", "scenario": "城市规划学术研究，成果仅用于论文发表。",
           "resources": [{"resource_id": resource, "fields": ["code", "name"]}], "period_from": date(1),
           "period_to": date(180), "security_measures": "数据存放于内网服务器，仅课题组两名成员可访问，项目结束后删除。",
           "commitment_accepted": true})
}

/// Runs `work` on `threads` threads until the server is killed, once `kill_at` results have been
/// acknowledged (or after a minute); returns what the threads recorded as acknowledged. Each
/// thread stops at its first failed connection.
fn burst<T: Send + 'static>(
    s: &mut Server,
    threads: usize,
    kill_at: usize,
    work: impl Fn(&ureq::Agent, &str) -> Result<Option<T>, String> + Send + Sync + 'static,
) -> Vec<T> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let work = Arc::new(work);
    let base = s.url("");
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (acked, stop, work, base) = (acked.clone(), stop.clone(), work.clone(), base.clone());
            thread::spawn(move || {
                let agent = http_agent(Duration::from_secs(30));
                while !stop.load(Ordering::Relaxed) {
                    match work(&agent, &base) {
                        Ok(Some(v)) => acked.lock().unwrap().push(v),
                        Ok(None) => break,
                        Err(_) => break, // the server is gone: this request's outcome is unknown
                    }
                }
            })
        })
        .collect();
    // Watch closely: the burst must still be going when the kill comes.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < kill_at && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    s.kill9();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    Arc::try_unwrap(acked).ok().unwrap().into_inner().unwrap()
}

fn audit_verify(dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_pubdata"))
        .args(["audit", "verify"])
        .env("PUBDATA_DATA_DIR", dir)
        .env_remove("PUBDATA_DATABASE_URL")
        .env_remove("PUBDATA_CONFIG")
        .current_dir(dir)
        .output()
        .expect("run pubdata audit verify");
    assert!(
        out.status.success(),
        "audit verify failed after a crash: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kill_9_loses_nothing_and_leaves_nothing_half_done() {
    let dir = unique_temp_dir("pubdata-crash");
    let t = Arc::new(seed(&dir));
    let mut s = Server::start(&dir);

    // A published conditional resource to apply for.
    let (cond, dist) = create_and_upload(&s, &t, "成都市街道名录", 500);
    wait_ingested(&s, &t, dist, Duration::from_secs(60));
    publish(&s, &t, cond);

    // 1. Killed during an ingest: the distribution is not ready after the restart, the job is
    //    taken over once the dead node's lease runs out, and the table ends up whole.
    let (big, big_dist) = create_and_upload(&s, &t, "全省街道名录（大表）", BIG_ROWS);
    wait_until(Duration::from_secs(60), || {
        let d = distribution(&s, &t, big_dist);
        match d["state"].as_str() {
            Some("ingesting") => Ok(()),
            other => Err(format!("distribution {big_dist} is {other:?}")),
        }
    })
    .unwrap_or_else(|e| panic!("the ingest did not start: {e}"));
    thread::sleep(Duration::from_millis(500));
    s.restart();
    let d = distribution(&s, &t, big_dist);
    assert_eq!(d["state"], "ingesting", "the kill did not interrupt the ingest: {d}");
    let d = wait_ingested(&s, &t, big_dist, Duration::from_secs(240));
    assert_eq!(d["row_count"], BIG_ROWS as i64, "{d}");
    let agent = http_agent(Duration::from_secs(30));
    let rows = expect(
        &agent,
        "GET",
        &s.url(&format!("/resources/{big}/rows?limit=1&offset={}", BIG_ROWS - 1)),
        &t.editor,
        None,
        200,
    );
    let records = rows["records"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), 1, "the last row is in the datastore table: {rows}");
    assert_eq!(rows["total"], BIG_ROWS as i64, "{rows}");
    let r = expect(
        &agent,
        "GET",
        &s.url(&format!("/resources/{big}")),
        &t.editor,
        None,
        200,
    );
    assert_eq!(r["state"], "draft", "nothing was published by the crash: {r}");

    // 2. Killed during a burst of applications (draft + submit) from six threads: every
    //    application the server acknowledged is there afterwards, in the state it reported.
    let tk = t.clone();
    let body = application(cond);
    let acked: Vec<(i64, String)> = burst(&mut s, 6, 100, move |agent, base| {
        let (status, v) = call(
            agent,
            "POST",
            &format!("{base}/applications"),
            &tk.consumer,
            Some(&body),
        )?;
        assert_eq!(status, 201, "create: {v}");
        let id = v["id"].as_i64().unwrap();
        let (status, v) = match call(
            agent,
            "POST",
            &format!("{base}/applications/{id}/submit"),
            &tk.consumer,
            None,
        ) {
            Ok(r) => r,
            // Created (acknowledged) but the submit's outcome is unknown.
            Err(_) => return Ok(Some((id, String::new()))),
        };
        assert_eq!(status, 200, "submit: {v}");
        Ok(Some((id, v["state"].as_str().unwrap().to_string())))
    });
    assert!(
        acked.len() >= 20,
        "too few applications before the kill: {}",
        acked.len()
    );
    s = Server::start(&dir);
    let agent = http_agent(Duration::from_secs(30));
    let before = submitted_state(&acked);
    let mut submitted = Vec::new();
    for (id, state) in &acked {
        let v = expect(
            &agent,
            "GET",
            &s.url(&format!("/applications/{id}")),
            &t.consumer,
            None,
            200,
        );
        let now = v["state"].as_str().unwrap();
        if state.is_empty() {
            assert!(now == "draft" || now == before, "application {id} is {now}");
        } else {
            assert_eq!(now, state, "application {id} lost its submission");
            submitted.push(*id);
        }
    }
    eprintln!(
        "{} applications acknowledged before the kill, {} submitted",
        acked.len(),
        submitted.len()
    );

    // 3. Killed during a burst of pre-review decisions from four threads: every decision the
    //    server acknowledged holds, every other application is untouched.
    let half = submitted.len() / 2;
    let queue = Arc::new(Mutex::new(submitted.clone()));
    let tk = t.clone();
    let forward = json!({"decision": "forward", "text": "材料齐全。"});
    let decided: Vec<(i64, String)> = burst(&mut s, 4, half, move |agent, base| {
        let Some(id) = queue.lock().unwrap().pop() else {
            return Ok(None);
        };
        let (status, v) = call(
            agent,
            "POST",
            &format!("{base}/applications/{id}/decision"),
            &tk.admin,
            Some(&forward),
        )?;
        assert_eq!(status, 200, "decision: {v}");
        Ok(Some((id, v["state"].as_str().unwrap().to_string())))
    });
    assert!(
        decided.len() >= half && decided.len() < submitted.len(),
        "the kill came after {} of {} decisions",
        decided.len(),
        submitted.len()
    );
    s = Server::start(&dir);
    let agent = http_agent(Duration::from_secs(30));
    for id in &submitted {
        let v = expect(
            &agent,
            "GET",
            &s.url(&format!("/applications/{id}")),
            &t.admin,
            None,
            200,
        );
        let now = v["state"].as_str().unwrap();
        match decided.iter().find(|(d, _)| d == id) {
            Some((_, state)) => assert_eq!(now, state, "application {id} lost its decision"),
            None => assert!(
                now == before || decided.iter().any(|(_, s)| s == now),
                "application {id} is {now}: neither before nor after the decision"
            ),
        }
    }
    eprintln!("{} decisions acknowledged before the kill", decided.len());

    // 4. The audit chain is whole after three crashes.
    drop(s);
    audit_verify(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The state a submitted application is in (the same for all of them).
fn submitted_state(acked: &[(i64, String)]) -> String {
    acked
        .iter()
        .map(|(_, s)| s.clone())
        .find(|s| !s.is_empty())
        .expect("at least one application was submitted")
}
