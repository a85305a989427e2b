//! Process and HTTP helpers shared by the tests that run the `pubdata` binary as a server.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
