//! Provider self-evaluations (自评, §8): opening one pre-fills the department's computed scores
//! and evidence; a submission needs comments on weak dimensions and an action plan; draft →
//! submit → return → resubmit → acknowledge through the API, with notices; other departments
//! can neither see nor change it; the web pages; the due notice once per period; and the count
//! of self-evaluations submitted on time. SQLite and PostgreSQL.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, PASSWORD};
use pubdata_core::calendar::Date;
use pubdata_core::quality::Dimension;
use pubdata_core::self_evaluation::{Period, Schedule};
use pubdata_service::self_evaluation as se;
use pubdata_store::now_ms;
use serde_json::{json, Value};

/// One empty name and a repeated key: completeness and consistency below 100.
const STREETS: &str = "code,name,district\n510104001,春熙路街道,锦江区\n510104002,,锦江区\n\
510105001,西御河街道,青羊区\n510105001,人民北路街道,金牛区\n";

const DAY_MS: i64 = 86_400_000;

fn entry<'a>(s: &'a Value, dim: &str) -> &'a Value {
    s["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["dimension"] == dim)
        .unwrap_or_else(|| panic!("no {dim} in {s}"))
}

async fn notices(app: &TestApp, login: &str, kind: &str) -> usize {
    let id = app.caller(login).await.actor.user_id.unwrap();
    let rows = app.store.notices(id, 500).await.unwrap();
    rows.iter().filter(|n| n.kind == kind).count()
}

async fn self_evaluation_story(mut app: TestApp) {
    let centre = app
        .org("admin_institution", "四川省大数据中心", "91350100M000100Y43")
        .await;
    let provider = app.provider("四川省财政厅", "11510000008693034D").await;
    let other = app.provider("成都市民政局", "11510100009166001X").await;
    let editor = app.staff("s.editor", provider, "provider_editor").await;
    app.staff("s.manager", provider, "provider_manager").await;
    app.staff("s.other", other, "provider_editor").await;
    let reviewer = app.staff("s.reviewer", centre, "admin_reviewer").await;
    let (editor_t, other_t, reviewer_t) = (
        app.token("s.editor").await,
        app.token("s.other").await,
        app.token("s.reviewer").await,
    );
    let (id, _) = app
        .draft_resource(&editor, provider, "成都市街道", "unconditional", STREETS)
        .await;
    app.publish_resource(&editor, &reviewer, id).await;
    // The departments have existed for years: every past period is theirs to evaluate.
    app.store
        .execute_raw("UPDATE organisations SET created_at = 0")
        .await
        .unwrap();

    // Opening pre-fills the department's computed scores and their evidence.
    let today = pubdata_service::quality::today();
    let computed = pubdata_service::quality::of_provider(&app.store, provider, today)
        .await
        .unwrap();
    let r = app
        .api(
            Method::POST,
            "/api/v1/self-evaluations",
            Some(&editor_t),
            Some(json!({"org_id": provider})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let s = r.json();
    let se_id = s["id"].as_i64().unwrap();
    let period = Period::last_ended(Schedule::default().period, today);
    assert_eq!(s["period"], period.key());
    assert_eq!(s["due"], period.due(30).to_string());
    assert_eq!(s["state"], "draft");
    for d in Dimension::ALL {
        let want = computed.dimensions[&d].map(|x| (x * 10.0).round() / 10.0);
        assert_eq!(entry(&s, d.as_str())["score"].as_f64(), want, "{d:?}");
    }
    let weak = entry(&s, "consistency");
    assert!(weak["score"].as_f64().unwrap() < 80.0, "{weak}");
    assert_eq!(weak["needs_action"], true);
    assert_eq!(weak["evidence"][0]["resource_id"], id);
    assert!(!weak["evidence"][0]["reasons"][0]["message"]
        .as_str()
        .unwrap()
        .is_empty());
    // Opening again finds the same one.
    let again = app
        .api(
            Method::POST,
            "/api/v1/self-evaluations",
            Some(&editor_t),
            Some(json!({"org_id": provider})),
        )
        .await;
    assert_eq!(again.json()["id"], se_id);
    // A period not ended yet cannot be evaluated.
    let running = Period::containing(Schedule::default().period, today).key();
    let r = app
        .api(
            Method::POST,
            "/api/v1/self-evaluations",
            Some(&editor_t),
            Some(json!({"org_id": provider, "period": running})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    // Other departments can neither see nor change it, nor open one for it.
    let path = format!("/api/v1/self-evaluations/{se_id}");
    assert_eq!(
        app.api(Method::GET, &path, Some(&other_t), None).await.status,
        StatusCode::NOT_FOUND
    );
    let put = app
        .api(Method::PUT, &path, Some(&other_t), Some(json!({"action_plan": "x"})))
        .await;
    assert_eq!(put.status, StatusCode::NOT_FOUND);
    let list = app
        .api(
            Method::GET,
            &format!("/api/v1/self-evaluations?org_id={provider}"),
            Some(&other_t),
            None,
        )
        .await;
    assert_eq!(list.status, StatusCode::FORBIDDEN);
    let mine = app
        .api(Method::GET, "/api/v1/self-evaluations", Some(&other_t), None)
        .await;
    assert_eq!(mine.json(), json!([]));
    let open = app
        .api(
            Method::POST,
            "/api/v1/self-evaluations",
            Some(&other_t),
            Some(json!({"org_id": provider})),
        )
        .await;
    assert_eq!(open.status, StatusCode::FORBIDDEN);

    // Submitting without comments on the weak dimensions and without a plan lists every gap.
    let weak_dims: Vec<String> = s["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["needs_action"] == true)
        .map(|e| e["dimension"].as_str().unwrap().to_string())
        .collect();
    let submit = format!("{path}/submit");
    let r = app.api(Method::POST, &submit, Some(&editor_t), Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let fields: Vec<String> = r.json()["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect();
    let mut want: Vec<String> = weak_dims.iter().map(|d| format!("comment.{d}")).collect();
    want.push("action_plan".into());
    assert_eq!(fields, want);
    assert_eq!(
        app.api(Method::GET, &path, Some(&editor_t), None).await.json()["state"],
        "draft"
    );

    // Draft saved, then submitted.
    let comments: serde_json::Map<String, Value> = weak_dims
        .iter()
        .map(|d| (d.clone(), json!("重复的街道代码来自区划调整")))
        .collect();
    let r = app
        .api(Method::PUT, &path, Some(&editor_t), Some(json!({"comments": comments})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["state"], "draft");
    assert_eq!(entry(&r.json(), "consistency")["comment"], "重复的街道代码来自区划调整");
    let r = app
        .api(
            Method::POST,
            &submit,
            Some(&editor_t),
            Some(json!({"action_plan": "下季度前核对区划代码并补齐名称。"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let s = r.json();
    assert_eq!(s["state"], "submitted");
    assert!(s["first_submitted_at"].is_i64());
    assert_eq!(s["on_time"], json!(today <= period.due(30)));
    assert_eq!(notices(&app, "s.reviewer", "self_evaluation_submitted").await, 1);
    // Submitted: no longer editable.
    let r = app
        .api(Method::PUT, &path, Some(&editor_t), Some(json!({"action_plan": "改"})))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // The administration institution returns it (a comment is required), the staff revise and
    // submit again, and it is acknowledged. A provider cannot decide.
    let decision = format!("{path}/decision");
    let r = app
        .api(
            Method::POST,
            &decision,
            Some(&editor_t),
            Some(json!({"decision": "acknowledge"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .api(
            Method::POST,
            &decision,
            Some(&reviewer_t),
            Some(json!({"decision": "return"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app
        .api(
            Method::POST,
            &decision,
            Some(&reviewer_t),
            Some(json!({"decision": "return", "comment": "请写明整改完成时间。"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["state"], "returned");
    assert_eq!(notices(&app, "s.editor", "self_evaluation_returned").await, 1);
    assert_eq!(notices(&app, "s.manager", "self_evaluation_returned").await, 1);
    let first = s["first_submitted_at"].clone();
    let r = app
        .api(
            Method::POST,
            &submit,
            Some(&editor_t),
            Some(json!({"action_plan": "12月31日前核对区划代码并补齐名称。"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.json()["first_submitted_at"],
        first,
        "the first submission decides timeliness"
    );
    let r = app
        .api(
            Method::POST,
            &decision,
            Some(&reviewer_t),
            Some(json!({"decision": "acknowledge"})),
        )
        .await;
    assert_eq!(r.json()["state"], "acknowledged");
    assert_eq!(r.json()["admin_comment"], "请写明整改完成时间。");
    let r = app
        .api(
            Method::POST,
            &decision,
            Some(&reviewer_t),
            Some(json!({"decision": "acknowledge"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // History: both the department and the administration institution list it.
    let all = app
        .api(Method::GET, "/api/v1/self-evaluations", Some(&reviewer_t), None)
        .await
        .json();
    assert_eq!(all.as_array().unwrap().len(), 1);
    let mut staff = app.browser();
    staff.login("s.editor", PASSWORD).await;
    let page = staff.get(&format!("/provider/self-evaluations?org={provider}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!("id=\"se-{se_id}\"")), "{}", page.body);
    let page = staff.get(&format!("/provider/self-evaluations/{se_id}")).await;
    assert!(page.body.contains("已确认") && !page.body.contains("id=\"save-draft\""));
    assert_eq!(staff.get("/admin/self-evaluations").await.status, StatusCode::FORBIDDEN);
    assert!(staff
        .get("/provider")
        .await
        .body
        .contains("id=\"self-evaluations-link\""));
    let mut admin = app.browser();
    admin.login("s.reviewer", PASSWORD).await;
    let list = admin.get("/admin/self-evaluations").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&format!("id=\"se-{se_id}\"")));
    let mut stranger = app.browser();
    stranger.login("s.other", PASSWORD).await;
    assert_eq!(
        stranger
            .get(&format!("/provider/self-evaluations/{se_id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // The web form: the other department opens its own, saves and submits it.
    let mut other_staff = app.browser();
    other_staff.login("s.other", PASSWORD).await;
    let opened = other_staff
        .post_form("/provider/self-evaluations", &[("org_id", &other.to_string())])
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let at = opened.location().split('?').next().unwrap().to_string();
    let form = other_staff.get(&at).await;
    assert!(form.body.contains("id=\"save-draft\""), "{}", form.body);
    let saved = other_staff
        .post_form(&at, &[("action", "save"), ("action_plan", "暂无")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    // Nothing published: nothing measured, nothing required.
    let sent = other_staff
        .post_form(&at, &[("action", "submit"), ("action_plan", "")])
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let other_id: i64 = at.rsplit('/').next().unwrap().parse().unwrap();
    let row = app.store.self_evaluation(other_id).await.unwrap().unwrap();
    assert_eq!(row.state, "submitted");

    // On time: the department's evaluation was first submitted today; moved back to the day
    // after its period ended, it counts as in time. The period before was never submitted.
    let sched = Schedule::default();
    let due = period.due(sched.due_days);
    let prev_due = period.prev().due(sched.due_days);
    let counted = se::on_time(&app.store, &sched, provider, prev_due, due).await.unwrap();
    assert_eq!(counted, (u32::from(today <= due), 2));
    let day_after = period.end().add_days(1);
    let back = (today.days() - day_after.days()) * DAY_MS;
    app.store
        .execute_raw(&format!(
            "UPDATE self_evaluations SET first_submitted_at = first_submitted_at - {back} WHERE id = {se_id}"
        ))
        .await
        .unwrap();
    assert_eq!(
        se::on_time(&app.store, &sched, provider, prev_due, due).await.unwrap(),
        (1, 2)
    );
    assert_eq!(
        se::on_time(&app.store, &sched, provider, due, due).await.unwrap(),
        (1, 1)
    );
    // The evaluation's readiness indicator "self-evaluations submitted on time" counts the same:
    // every due day of this year that has passed (a day ends before it counts).
    let year = pubdata_core::evaluation::Period::parse("year", &today.to_string()[..4]).unwrap();
    let system = pubdata_service::evaluation::system(&app.store, None).await.unwrap();
    let snapshot =
        pubdata_service::evaluation::compute(&app.store, &system, &year, now_ms(), &Default::default(), &sched)
            .await
            .unwrap();
    let (on, owed) = se::on_time(&app.store, &sched, provider, year.from, today.add_days(-1))
        .await
        .unwrap();
    let at_ind = snapshot
        .indicators
        .iter()
        .position(|i| i.metric == "self_evaluation_on_time")
        .expect("in the default system");
    let mine = snapshot
        .providers
        .iter()
        .find(|p| p.scored.org_id == provider)
        .expect("the department is evaluated");
    let want = (owed > 0).then(|| ((f64::from(on) / f64::from(owed)) * 10_000.0).round() / 10_000.0);
    assert_eq!(mine.scored.values[at_ind], want, "{on} of {owed} on time");
    if due < today {
        assert!(on >= 1, "the evaluation moved back counts as on time");
    }

    let far = Date::parse("1999-01-01").unwrap();
    assert_eq!(
        se::on_time(&app.store, &sched, provider, far, far).await.unwrap(),
        (0, 0)
    );

    // The due notice: once per department and period, only where nothing was submitted yet.
    let fresh = app.provider("四川省水利厅", "91110108551385082Q").await;
    app.store
        .execute_raw(&format!("UPDATE organisations SET created_at = 0 WHERE id = {fresh}"))
        .await
        .unwrap();
    app.staff("s.water", fresh, "provider_manager").await;
    let sent = se::due_notices(&app.store, &sched, now_ms()).await.unwrap();
    assert_eq!(sent, 1, "only the department that has not submitted");
    assert_eq!(notices(&app, "s.water", "self_evaluation_due").await, 1);
    assert_eq!(notices(&app, "s.editor", "self_evaluation_due").await, 0);
    assert_eq!(se::due_notices(&app.store, &sched, now_ms()).await.unwrap(), 0);
}

#[tokio::test]
async fn self_evaluation_on_sqlite() {
    self_evaluation_story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn self_evaluation_on_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    self_evaluation_story(app).await;
}
