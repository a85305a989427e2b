//! API fuzzing: schemathesis generates requests from the published OpenAPI document — valid and
//! invalid path ids, query parameters and bodies — and sends them to a real `pubdata serve` as
//! anonymous, a consumer, a provider's editor and the administration institution's reviewer.
//! No response may be a server error, and every response must match the schema the document
//! gives for its status.
//!
//! Needs schemathesis in the Python named by `PUBDATA_PYTHON` (`.ci/run` installs it pinned);
//! elsewhere the test skips with the reason, unless `PUBDATA_TEST_STRICT=1`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{create_and_upload, publish, seed, unique_temp_dir, wait_ingested, Server};

/// Examples per operation and role: enough to reach every operation's error paths while the
/// whole run stays within a few minutes on a debug build.
const EXAMPLES: &str = "12";

fn schemathesis() -> Option<String> {
    let strict = std::env::var("PUBDATA_TEST_STRICT").as_deref() == Ok("1");
    let python = match std::env::var("PUBDATA_PYTHON") {
        Ok(p) => p,
        Err(_) => {
            assert!(!strict, "strict mode needs PUBDATA_PYTHON with schemathesis installed");
            eprintln!("SKIP API fuzzing: PUBDATA_PYTHON (a Python with schemathesis) is not set");
            return None;
        }
    };
    let ok = Command::new(&python)
        .args(["-m", "schemathesis.cli", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(!strict, "strict mode needs schemathesis in {python}");
        eprintln!("SKIP API fuzzing: schemathesis is not installed in {python}");
        return None;
    }
    Some(python)
}

#[test]
fn generated_requests_get_no_server_error_and_documented_responses() {
    let Some(python) = schemathesis() else {
        return;
    };
    let dir = unique_temp_dir("pubdata-fuzz");
    let tokens = seed(&dir);
    let server = Server::start(&dir);
    // Something to find: a published resource with its data, and a draft.
    let (id, dist) = create_and_upload(&server, &tokens, "成都市街道名录", 200);
    wait_ingested(&server, &tokens, dist, Duration::from_secs(60));
    publish(&server, &tokens, id);
    create_and_upload(&server, &tokens, "成都市街道草稿", 20);

    let schema = server.url("/openapi.json");
    let mut failed = Vec::new();
    for (role, token) in [
        ("anonymous", None),
        ("consumer", Some(&tokens.consumer)),
        ("provider editor", Some(&tokens.editor)),
        ("admin reviewer", Some(&tokens.admin)),
    ] {
        let mut cmd = Command::new(&python);
        cmd.args(["-m", "schemathesis.cli", "run", &schema])
            .args(["--experimental=openapi-3.1", "--workers", "1"])
            .args(["--checks", "not_a_server_error,response_schema_conformance"])
            .args(["--hypothesis-max-examples", EXAMPLES, "--hypothesis-seed", "20261129"])
            .args(["--hypothesis-derandomize", "--no-color"])
            .env("SCHEMATHESIS_HOOKS", "")
            .current_dir(&dir);
        if let Some(t) = token {
            cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
        }
        let out = cmd.output().expect("run schemathesis");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let summary = text
            .lines()
            .filter(|l| l.contains("passed") || l.contains("failed") || l.contains("errored"))
            .collect::<Vec<_>>()
            .join("\n");
        eprintln!("{role}:\n{summary}");
        if !out.status.success() {
            failed.push(format!(
                "--- as {role} ---\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failed.is_empty(), "schemathesis found problems:\n{}", failed.join("\n"));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
