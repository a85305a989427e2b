//! The role × route matrix: every operation in the published OpenAPI document, called by every
//! kind of actor (anonymous, two consumers, staff of two providers, the administration
//! institution, a sysadmin) against objects that belong to one consumer and one provider.
//!
//! Each route has an access rule saying who must be refused. Refused calls must answer 401, 403
//! or 404 (never 2xx, never 5xx, never a validation error that would mean the body was looked at
//! first), and together they must leave the audit chain — which records every change — exactly
//! as it was. Allowed reads must answer 200, so the matrix cannot pass by refusing everyone.
//! A route missing from the table fails the test: a new route must be classified.

mod common;

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anonymous,
    /// The consumer who owns the applications, grant, demand, correction, showcase and report.
    Owner,
    /// Another consumer.
    Stranger,
    ProviderEditor,
    ProviderReviewer,
    /// An editor of another provider department.
    OtherProvider,
    AdminReviewer,
    AdminManager,
    Sysadmin,
}

const EVERYONE: [Who; 9] = [
    Who::Anonymous,
    Who::Owner,
    Who::Stranger,
    Who::ProviderEditor,
    Who::ProviderReviewer,
    Who::OtherProvider,
    Who::AdminReviewer,
    Who::AdminManager,
    Who::Sysadmin,
];

/// Who may call a route on the world's objects, as far as this test asserts.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// Anyone, logged in or not.
    Public,
    /// Anyone logged in.
    LoggedIn,
    /// The owning consumer's object: not anonymous, not another consumer, not an unrelated provider.
    OwnerOnly,
    /// The provider department's object: none of the consumers, not another provider.
    ProviderOnly,
    /// Work of the provider departments and the administration institution: no consumer.
    StaffOnly,
    /// The administration institution's (and the sysadmin's): no consumer, no provider.
    AdminOnly,
}

impl Rule {
    fn refused(self, who: Who) -> bool {
        use Who::*;
        match self {
            Rule::Public => false,
            Rule::LoggedIn => who == Anonymous,
            Rule::OwnerOnly => matches!(who, Anonymous | Stranger | OtherProvider),
            Rule::ProviderOnly => matches!(who, Anonymous | Owner | Stranger | OtherProvider),
            Rule::StaffOnly => matches!(who, Anonymous | Owner | Stranger),
            Rule::AdminOnly => matches!(who, Anonymous | Owner | Stranger | ProviderEditor | OtherProvider),
        }
    }
}

/// The ids the routes are called with.
#[derive(Default)]
struct Ids {
    provider: i64,
    owner_user: i64,
    editor_user: i64,
    draft: i64,
    draft_dist: i64,
    conditional: i64,
    open: i64,
    plan: i64,
    item: i64,
    application: i64,
    draft_application: i64,
    attachment: i64,
    grant: i64,
    demand: i64,
    correction: i64,
    showcase: i64,
    report: i64,
    notice: i64,
    token: i64,
    run: i64,
    self_evaluation: i64,
}

struct World {
    tokens: BTreeMap<Who, String>,
    ids: Ids,
}

const STREETS: &str = "code,name,district\n510104001,春熙路街道,锦江区\n510104002,书院街街道,锦江区\n\
510105001,西御河街道,青羊区\n510106001,人民北路街道,金牛区\n";

fn date(days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(days)).to_string()
}

fn application(resource: i64) -> Value {
    json!({"purpose": "研究成都市中心城区街道服务设施的空间分布。", "scenario": "城市规划学术研究，成果仅用于论文发表。",
           "resources": [{"resource_id": resource, "fields": ["code", "name"]}], "period_from": date(1),
           "period_to": date(180), "security_measures": "数据存放于内网服务器，仅课题组两名成员可访问，项目结束后删除。",
           "commitment_accepted": true})
}

fn application_marked(resource: i64, mark: &str) -> Value {
    let mut v = application(resource);
    for key in ["purpose", "scenario", "security_measures"] {
        v[key] = json!(format!("{}{mark}", v[key].as_str().unwrap()));
    }
    v
}

fn meta(title: &str) -> Value {
    json!({"title": title, "summary": "成都市各区街道的代码、名称和所属区县，按年度更新。", "domain": "民生服务",
           "open_type": "unconditional", "update_frequency": "yearly", "spatial": "510100",
           "temporal_from": "2024-01-01", "contact_phone": "028-86001234",
           "fields": [{"name": "code", "title": "街道代码", "type": "code", "key": true},
                      {"name": "name", "title": "名称", "type": "string"}]})
}

async fn created(app: &mut TestApp, path: &str, token: &str, body: Value) -> Value {
    let r = app.api(Method::POST, path, Some(token), Some(body)).await;
    assert!(r.status.is_success(), "POST {path}: {} {}", r.status, r.body);
    r.json()
}

/// The platform the matrix runs on; `mark` is appended to every free text a user types (and to
/// a value in the data), so the page crawl can look for it.
async fn world(app: &mut TestApp, mark: &str) -> World {
    let streets = format!("{STREETS}510107001,府南街道{},武侯区\n", mark.replace(',', " "));
    let m = |text: &str| format!("{text}{mark}");
    let centre = app
        .org("admin_institution", "四川省大数据中心", "91350100M000100Y43")
        .await;
    let provider = app.provider("四川省交通运输厅", "11510000008693034D").await;
    let other = app.provider("成都市卫生健康委员会", "11510100009166001X").await;
    let editor = app.staff("p.editor", provider, "provider_editor").await;
    app.staff("p.reviewer", provider, "provider_reviewer").await;
    app.staff("b.editor", other, "provider_editor").await;
    let admin_reviewer = app.staff("a.reviewer", centre, "admin_reviewer").await;
    app.staff("a.manager", centre, "admin_manager").await;
    app.sysadmin("root").await;
    let owner_user = app.consumer("x.owner").await;
    app.consumer("y.stranger").await;
    let mut tokens = BTreeMap::new();
    for (who, login) in [
        (Who::Owner, "x.owner"),
        (Who::Stranger, "y.stranger"),
        (Who::ProviderEditor, "p.editor"),
        (Who::ProviderReviewer, "p.reviewer"),
        (Who::OtherProvider, "b.editor"),
        (Who::AdminReviewer, "a.reviewer"),
        (Who::AdminManager, "a.manager"),
        (Who::Sysadmin, "root"),
    ] {
        tokens.insert(who, app.token(login).await);
    }
    let t = |who: Who| tokens[&who].clone();

    let (conditional, _) = app
        .draft_resource(&editor, provider, &m("成都市街道名录"), "conditional", &streets)
        .await;
    app.publish_resource(&editor, &admin_reviewer, conditional).await;
    let (open, open_dist) = app
        .draft_resource(&editor, provider, &m("成都市街道代码"), "unconditional", &streets)
        .await;
    app.publish_resource(&editor, &admin_reviewer, open).await;
    let (draft, draft_dist) = app
        .draft_resource(&editor, provider, &m("成都市街道草稿"), "unconditional", &streets)
        .await;

    let plan = created(
        app,
        "/api/v1/plans",
        &t(Who::ProviderEditor),
        json!({"provider_org_id": provider, "title": m("2026 年开放计划"), "period_start": "2026-01-01",
               "period_end": "2026-12-31", "source": "policy"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let item = created(
        app,
        &format!("/api/v1/plans/{plan}/items"),
        &t(Who::ProviderEditor),
        json!({"name": m("乡镇街道区划"), "domain": "社会发展", "open_type": "无条件开放", "planned_date": "2026-12-30"}),
    )
    .await["items"][0]["id"]
        .as_i64()
        .unwrap();

    let x = t(Who::Owner);
    let application_id = created(app, "/api/v1/applications", &x, application_marked(conditional, mark)).await["id"]
        .as_i64()
        .unwrap();
    created(
        app,
        &format!("/api/v1/applications/{application_id}/submit"),
        &x,
        json!({}),
    )
    .await;
    let draft_application = created(app, "/api/v1/applications", &x, application_marked(conditional, mark)).await["id"]
        .as_i64()
        .unwrap();
    let req = axum::http::Request::post(format!(
        "/api/v1/applications/{draft_application}/attachments?filename=plan.pdf"
    ))
    .header("authorization", format!("Bearer {x}"))
    .header("content-type", "application/octet-stream")
    .body(axum::body::Body::from(
        b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n".to_vec(),
    ))
    .unwrap();
    let r = app.send(req).await;
    assert!(r.status.is_success(), "attachment: {} {}", r.status, r.body);
    let attachment = r.json()["id"].as_i64().unwrap();
    let grant = created(
        app,
        &format!("/api/v1/resources/{open}/accept-terms"),
        &x,
        json!({"accepted": true}),
    )
    .await["grant_id"]
        .as_i64()
        .unwrap();
    let demand = created(
        app,
        "/api/v1/demands",
        &x,
        json!({"title": m("全省公交站点"), "description": m("全省各市公交站点的位置和线路。"),
               "purpose": m("出行服务小程序，为市民提供换乘查询。"), "domain": "道路交通", "provider_org_id": provider}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let correction = created(
        app,
        "/api/v1/corrections",
        &x,
        json!({"resource_id": open, "distribution_id": open_dist, "row": 3, "field": "district",
               "description": m("第3行西御河街道的所属区县应为青羊区，数据中写成了锦江区。")}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let showcase = created(
        app,
        "/api/v1/showcases",
        &x,
        json!({"title": m("街道地图"), "kind": "app", "description": m("用街道数据做的便民服务地图小程序。"),
               "link": "https://example.org/streets", "resource_ids": [open]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let report = created(
        app,
        "/api/v1/security-reports",
        &x,
        json!({"kind": "personal_data", "resource_id": open,
               "description": m("数据中出现了个人手机号码，应当脱敏后再开放。")}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let r = app.api(Method::GET, "/api/v1/notices", Some(&x), None).await;
    let notice = r.json()["items"][0]["id"].as_i64().unwrap_or(0);
    let r = app.api(Method::GET, "/api/v1/tokens", Some(&x), None).await;
    let token = r.json()[0]["id"]
        .as_i64()
        .or(r.json()["items"][0]["id"].as_i64())
        .unwrap();
    let month = time::OffsetDateTime::now_utc().date().to_string()[..7].to_string();
    let run = created(
        app,
        "/api/v1/evaluation/runs",
        &t(Who::AdminManager),
        json!({"kind": "month", "period": month}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let self_evaluation = created(
        app,
        "/api/v1/self-evaluations",
        &t(Who::ProviderEditor),
        json!({"org_id": provider}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    World {
        ids: Ids {
            run,
            provider,
            owner_user,
            editor_user: editor.actor.user_id.unwrap(),
            draft,
            draft_dist,
            conditional,
            open,
            plan,
            item,
            application: application_id,
            draft_application,
            attachment,
            grant,
            demand,
            correction,
            showcase,
            report,
            notice,
            token,
            self_evaluation,
        },
        tokens,
    }
}

/// A route's rule, the concrete path it is called with, and a body that would be valid for an
/// allowed caller (so a refusal cannot hide behind a validation error).
fn classify(method: &str, path: &str, ids: &Ids) -> Option<(Rule, String, Option<Value>)> {
    use Rule::*;
    let i = ids;
    let accept = json!({"pass": true, "note": ""});
    let (rule, concrete, body): (Rule, String, Option<Value>) = match (method, path) {
        ("get", "/me") => (LoggedIn, path.into(), None),
        ("post", "/register") => return None, // creates an account: anyone may, covered by bad_input
        ("get", "/organisations") => (StaffOnly, path.into(), None),
        ("post", "/organisations") => (
            AdminOnly,
            path.into(),
            Some(json!({"kind": "provider", "name": "四川省水利厅", "credit_code": "91110108551385082Q"})),
        ),
        ("get", "/organisations/{id}") => (StaffOnly, format!("/organisations/{}", i.provider), None),
        ("get", "/users") => (StaffOnly, path.into(), None),
        ("post", "/users") => (
            StaffOnly,
            path.into(),
            Some(
                json!({"login": "new.staff", "display_name": "新员工", "email": "new.staff@example.cn",
                        "password": common::PASSWORD, "org_id": i.provider, "role": "provider_editor"}),
            ),
        ),
        ("get", "/users/{id}") => (OwnerOnly, format!("/users/{}", i.owner_user), None),
        ("post", "/users/{id}/roles") => (
            ProviderOnly,
            format!("/users/{}/roles", i.editor_user),
            Some(json!({"org_id": i.provider, "role": "provider_reviewer"})),
        ),
        ("delete", "/users/{id}/roles/{org_id}/{role}") => (
            ProviderOnly,
            format!("/users/{}/roles/{}/provider_editor", i.editor_user, i.provider),
            None,
        ),
        ("post", "/users/{id}/disable") | ("post", "/users/{id}/enable") => {
            (ProviderOnly, path.replace("{id}", &i.editor_user.to_string()), None)
        }
        ("get", "/tokens") => (LoggedIn, path.into(), None),
        ("post", "/tokens") => return None, // a token of one's own: anyone logged in
        ("delete", "/tokens/{id}") => (OwnerOnly, format!("/tokens/{}", i.token), None),
        ("get", "/audit") | ("get", "/audit/verify") => (AdminOnly, path.into(), None),
        ("get", "/resources") => (Public, path.into(), None),
        ("post", "/resources") => (
            ProviderOnly,
            path.into(),
            Some(json!({"provider_org_id": i.provider, "meta": meta("新的数据资源")})),
        ),
        ("get", "/resources/{id}") | ("delete", "/resources/{id}") | ("get", "/resources/{id}/distributions") => {
            (ProviderOnly, path.replace("{id}", &i.draft.to_string()), None)
        }
        ("put", "/resources/{id}") => (
            ProviderOnly,
            format!("/resources/{}", i.draft),
            Some(json!({"meta": meta("改过的标题")})),
        ),
        ("post", "/resources/{id}/submit") => (ProviderOnly, format!("/resources/{}/submit", i.draft), None),
        ("post", "/resources/{id}/decision") => (
            AdminOnly,
            format!("/resources/{}/decision", i.draft),
            Some(
                json!({"decision": "approve", "checklist": {"compliance": accept, "availability": accept, "security": accept}}),
            ),
        ),
        ("post", "/resources/{id}/withdraw") => (
            ProviderOnly,
            format!("/resources/{}/withdraw", i.open),
            Some(json!({"reason": "数据有误，暂停开放。"})),
        ),
        ("post", "/resources/{id}/distributions/api") => (
            ProviderOnly,
            format!("/resources/{}/distributions/api", i.draft),
            Some(json!({"title": "接口", "url": "https://api.example.gov.cn/streets"})),
        ),
        ("post", "/resources/{id}/distributions/file") => (
            ProviderOnly,
            format!("/resources/{}/distributions/file?filename=s.csv", i.draft),
            Some(json!("code,name\n1,a\n")),
        ),
        ("get", "/resources/{id}/rows") => (ProviderOnly, format!("/resources/{}/rows", i.conditional), None),
        ("post", "/resources/{id}/accept-terms") => (
            LoggedIn,
            format!("/resources/{}/accept-terms", i.open),
            Some(json!({"accepted": true})),
        ),
        ("get", "/resources/{id}/correction-counts") => {
            (Public, format!("/resources/{}/correction-counts", i.open), None)
        }
        ("get", "/review-queue") => (StaffOnly, path.into(), None),
        ("get", "/distributions/{id}") => (ProviderOnly, format!("/distributions/{}", i.draft_dist), None),
        ("post", "/distributions/{id}/privacy") => (
            ProviderOnly,
            format!("/distributions/{}/privacy", i.draft_dist),
            Some(json!({"masks": [], "justification": ""})),
        ),
        ("post", "/plans") => (
            ProviderOnly,
            path.into(),
            Some(
                json!({"provider_org_id": i.provider, "title": "2027 年开放计划", "period_start": "2027-01-01",
                        "period_end": "2027-12-31", "source": "policy"}),
            ),
        ),
        ("get", "/plans/{id}") => (ProviderOnly, format!("/plans/{}", i.plan), None),
        ("post", "/plans/{id}/items") => (
            ProviderOnly,
            format!("/plans/{}/items", i.plan),
            Some(
                json!({"name": "公交站点", "domain": "道路交通", "open_type": "无条件开放", "planned_date": "2026-12-30"}),
            ),
        ),
        ("post", "/plan-items/{id}/cancel") => (
            ProviderOnly,
            format!("/plan-items/{}/cancel", i.item),
            Some(json!({"reason": "数据已由其他部门开放。"})),
        ),
        ("get", "/notices") => (LoggedIn, path.into(), None),
        ("post", "/notices/{id}/read") => (OwnerOnly, format!("/notices/{}/read", i.notice), None),
        ("get", "/search") => (Public, path.into(), None),
        ("get", "/regions") => (Public, path.into(), None),
        ("get", "/regions/{code}") => return None, // needs the region table: tests/regions.rs
        ("get", "/applications") | ("get", "/grants") => (LoggedIn, path.into(), None),
        ("post", "/applications") => (LoggedIn, path.into(), Some(application(i.conditional))),
        ("get", "/applications/{id}") => (OwnerOnly, format!("/applications/{}", i.application), None),
        ("put", "/applications/{id}") => (
            OwnerOnly,
            format!("/applications/{}", i.draft_application),
            Some(application(i.conditional)),
        ),
        ("post", "/applications/{id}/submit") => {
            (OwnerOnly, format!("/applications/{}/submit", i.draft_application), None)
        }
        ("post", "/applications/{id}/withdraw") => {
            (OwnerOnly, format!("/applications/{}/withdraw", i.application), None)
        }
        ("post", "/applications/{id}/answer") => (
            OwnerOnly,
            format!("/applications/{}/answer", i.application),
            Some(json!({"reply": "已补充课题立项文件。"})),
        ),
        ("post", "/applications/{id}/attachments") => (
            OwnerOnly,
            format!("/applications/{}/attachments?filename=more.pdf", i.draft_application),
            Some(json!("%PDF-1.4")),
        ),
        ("get", "/applications/{id}/attachments/{attachment_id}") => (
            OwnerOnly,
            format!("/applications/{}/attachments/{}", i.draft_application, i.attachment),
            None,
        ),
        ("post", "/applications/{id}/decision") => (
            AdminOnly,
            format!("/applications/{}/decision", i.application),
            Some(json!({"decision": "forward"})),
        ),
        ("get", "/application-queue") => (StaffOnly, path.into(), None),
        ("post", "/grants/{id}/app-key") => (OwnerOnly, format!("/grants/{}/app-key", i.grant), None),
        ("post", "/grants/{id}/revoke") => (
            StaffOnly,
            format!("/grants/{}/revoke", i.grant),
            Some(json!({"reason": "使用超出授权范围。"})),
        ),
        ("get", "/demands") => (Public, path.into(), None),
        ("post", "/demands") => (
            LoggedIn,
            path.into(),
            Some(
                json!({"title": "全省停车场", "description": "全省公共停车场的位置和泊位数。",
                        "purpose": "停车导航服务，方便市民出行。", "domain": "道路交通"}),
            ),
        ),
        ("get", "/demands/mine")
        | ("get", "/corrections/mine")
        | ("get", "/showcases/mine")
        | ("get", "/security-reports/mine") => (LoggedIn, path.into(), None),
        ("get", "/demands/{id}") => (Public, format!("/demands/{}", i.demand), None),
        ("post", "/demands/{id}/route") => (
            AdminOnly,
            format!("/demands/{}/route", i.demand),
            Some(json!({"provider_org_id": i.provider})),
        ),
        ("post", "/demands/{id}/decision") => (
            ProviderOnly,
            format!("/demands/{}/decision", i.demand),
            Some(json!({"decision": "decline", "text": "该数据不属于本部门职责范围。"})),
        ),
        ("post", "/demands/{id}/withdraw") => (OwnerOnly, format!("/demands/{}/withdraw", i.demand), None),
        ("get", "/demand-queue") => (StaffOnly, path.into(), None),
        ("get", "/statistics/interaction") => (Public, path.into(), None),
        ("get", "/corrections") => (Public, path.into(), None),
        ("post", "/corrections") => return None, // anyone logged in reports an error
        ("get", "/corrections/{id}") => (Public, format!("/corrections/{}", i.correction), None),
        ("post", "/corrections/{id}/decision") => (
            ProviderOnly,
            format!("/corrections/{}/decision", i.correction),
            Some(json!({"decision": "start_review"})),
        ),
        ("get", "/correction-queue") => (StaffOnly, path.into(), None),
        ("get", "/showcases") => (Public, path.into(), None),
        ("post", "/showcases") => return None, // anyone logged in submits an outcome
        ("get", "/showcases/queue") => (AdminOnly, path.into(), None),
        ("get", "/showcases/{id}") | ("get", "/showcases/{id}/screenshot") => {
            // Not yet accepted: only its author and the administration institution see it.
            (OwnerOnly, path.replace("{id}", &i.showcase.to_string()), None)
        }
        ("post", "/showcases/{id}/decision") => (
            AdminOnly,
            format!("/showcases/{}/decision", i.showcase),
            Some(json!({"decision": "reject", "text": "链接无法访问。"})),
        ),
        ("get", "/security-reports") => (StaffOnly, path.into(), None), // a provider sees those routed to it
        ("post", "/security-reports") => return None,                   // anyone logged in reports a problem
        ("get", "/security-reports/{id}") => (OwnerOnly, format!("/security-reports/{}", i.report), None),
        ("post", "/security-reports/{id}/action") => (
            AdminOnly,
            format!("/security-reports/{}/action", i.report),
            Some(json!({"action": "triage", "severity": "high"})),
        ),
        ("get", "/grants/{id}/usage-reports") => (OwnerOnly, format!("/grants/{}/usage-reports", i.grant), None),
        ("post", "/grants/{id}/usage-reports") => (
            OwnerOnly,
            format!("/grants/{}/usage-reports", i.grant),
            Some(
                json!({"purpose": "用于城市规划课题的街道服务设施分析。", "result": "完成了课题中期报告。",
                        "users": "5", "decisions": "", "problems": "", "link": "", "idempotency_key": "matrix"}),
            ),
        ),
        ("get", "/usage-reports") => (LoggedIn, path.into(), None),
        ("get", "/resources/{id}/quality") => (Public, format!("/resources/{}/quality", i.open), None),
        ("get", "/organisations/{id}/quality") => (Public, format!("/organisations/{}/quality", i.provider), None),
        ("get", "/evaluation/system") | ("get", "/evaluation/runs") => (Public, path.into(), None),
        ("put", "/evaluation/system") => (
            AdminOnly,
            path.into(),
            Some(json!({"indicators": [{"metric": "downloads", "weight": 1}], "note": ""})),
        ),
        ("post", "/evaluation/runs") => (
            AdminOnly,
            path.into(),
            Some(json!({"kind": "year", "period": time::OffsetDateTime::now_utc().year().to_string()})),
        ),
        ("get", "/evaluation/runs/{id}") | ("get", "/evaluation/runs/{id}/csv") => {
            (Public, path.replace("{id}", &i.run.to_string()), None)
        }
        ("get", "/organisations/{id}/evaluation") => {
            (Public, format!("/organisations/{}/evaluation", i.provider), None)
        }
        ("get", "/acceptance-standards") => (Public, path.into(), None),
        ("put", "/acceptance-standards") => (AdminOnly, path.into(), Some(json!({"min_summary_chars": 30}))),
        ("get", "/acceptance-standards/history") => (AdminOnly, path.into(), None),
        ("get", "/resources/{id}/acceptance") => (ProviderOnly, format!("/resources/{}/acceptance", i.draft), None),
        ("get", "/self-evaluations") => (StaffOnly, path.into(), None), // each sees their own
        ("post", "/self-evaluations") => (ProviderOnly, path.into(), Some(json!({"org_id": i.provider}))),
        ("get", "/self-evaluations/{id}") => (ProviderOnly, format!("/self-evaluations/{}", i.self_evaluation), None),
        ("put", "/self-evaluations/{id}") => (
            ProviderOnly,
            format!("/self-evaluations/{}", i.self_evaluation),
            Some(json!({"action_plan": "核对区划代码。"})),
        ),
        ("post", "/self-evaluations/{id}/submit") => (
            ProviderOnly,
            format!("/self-evaluations/{}/submit", i.self_evaluation),
            Some(json!({"action_plan": "核对区划代码。"})),
        ),
        ("post", "/self-evaluations/{id}/decision") => (
            AdminOnly,
            format!("/self-evaluations/{}/decision", i.self_evaluation),
            Some(json!({"decision": "acknowledge"})),
        ),
        ("get", "/resources/{id}/downloads") => (ProviderOnly, format!("/resources/{}/downloads", i.open), None),
        ("get", "/grants/{id}/downloads") => (OwnerOnly, format!("/grants/{}/downloads", i.grant), None),
        ("get", "/lifecycle") => (AdminOnly, path.into(), None),
        ("post", "/lifecycle/distributions/{id}/destroy") => (
            AdminOnly,
            format!("/lifecycle/distributions/{}/destroy", i.draft_dist),
            None,
        ),
        _ => panic!("route {method} {path} is not classified in security_matrix.rs: add its rule"),
    };
    Some((rule, concrete, body))
}

/// Which actors must be refused beyond the rule's own list, for routes whose object is private
/// even from some staff (e.g. a consumer's showcase is not the provider's business yet).
fn also_refused(method: &str, path: &str, who: Who) -> bool {
    use Who::*;
    match (method, path) {
        // The acceptance standards are set by the administration institution's manager only.
        ("put", "/acceptance-standards") => matches!(who, AdminReviewer | ProviderReviewer),
        // A consumer's own account, tokens and unpublished outcomes are not any provider's.
        ("get", "/users/{id}") | ("delete", "/tokens/{id}") | ("post", "/notices/{id}/read") => {
            matches!(who, ProviderEditor | ProviderReviewer | OtherProvider)
        }
        ("get", "/showcases/{id}") | ("get", "/showcases/{id}/screenshot") => {
            matches!(who, ProviderEditor | ProviderReviewer | OtherProvider)
        }
        // Only the holder reports on the use of a grant; its provider and the administration
        // institution read the reports.
        ("post", "/grants/{id}/usage-reports") => {
            matches!(
                who,
                ProviderEditor | ProviderReviewer | AdminReviewer | AdminManager | Sysadmin
            )
        }
        // The reporter, the administration institution, and the provider only once routed.
        ("get", "/security-reports/{id}") => matches!(who, ProviderEditor | ProviderReviewer | OtherProvider),
        _ => false,
    }
}

/// A 409 with a code that explains the refusal, where the route answers so by design: the data
/// API tells a consumer without a grant to apply, and a demand routed elsewhere says so.
fn refusal_conflict(method: &str, path: &str, r: &common::Resp) -> bool {
    let code = match (method, path) {
        ("get", "/resources/{id}/rows") => "grant_required",
        ("post", "/demands/{id}/decision") => "demand_not_routed_to_you",
        _ => return false,
    };
    r.status == StatusCode::CONFLICT && r.json()["error"]["code"] == code
}

async fn call(app: &mut TestApp, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> common::Resp {
    let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let uri = format!("/api/v1{path}");
    match (method, body) {
        // Raw uploads, as clients send them.
        ("post", Some(Value::String(raw))) => {
            let mut req = axum::http::Request::builder()
                .method(m)
                .uri(uri)
                .header("content-type", "application/octet-stream");
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            app.send(req.body(axum::body::Body::from(raw)).unwrap()).await
        }
        (_, body) => app.api(m, &uri, token, body).await,
    }
}

async fn matrix(mut app: TestApp) {
    let w = world(&mut app, "").await;
    let doc = app.api(Method::GET, "/api/v1/openapi.json", None, None).await.json();
    let mut routes = Vec::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                routes.push((method.clone(), path.clone()));
            }
        }
    }
    assert!(
        routes.len() > 80,
        "only {} operations in the OpenAPI document",
        routes.len()
    );

    let audit_before = app.audit_len().await;
    let mut failures = Vec::new();
    let mut refused = 0;
    for (method, path) in &routes {
        let Some((rule, concrete, body)) = classify(method, path, &w.ids) else {
            continue;
        };
        for who in EVERYONE {
            if !(rule.refused(who) || also_refused(method, path, who)) {
                continue;
            }
            let token = w.tokens.get(&who).map(String::as_str);
            let r = call(&mut app, method, &concrete, token, body.clone()).await;
            refused += 1;
            let ok = refusal_conflict(method, path, &r)
                || match who {
                    Who::Anonymous => r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::NOT_FOUND,
                    _ => r.status == StatusCode::FORBIDDEN || r.status == StatusCode::NOT_FOUND,
                };
            if !ok {
                failures.push(format!("{method} {concrete} as {who:?}: {} {}", r.status, r.body));
            }
        }
        // Someone the rule allows reads it (the screenshot route needs an uploaded image).
        if method == "get" && !path.ends_with("/screenshot") {
            let mut answers = Vec::new();
            for who in EVERYONE.into_iter().filter(|w| !rule.refused(*w)) {
                let token = w.tokens.get(&who).map(String::as_str);
                let r = call(&mut app, method, &concrete, token, None).await;
                if r.status == StatusCode::OK {
                    answers.clear();
                    break;
                }
                answers.push(format!("{who:?}: {}", r.status));
            }
            if !answers.is_empty() {
                failures.push(format!(
                    "{method} {concrete}: nobody allowed could read it ({answers:?})"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the matrix's calls went wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(refused > 200, "only {refused} refused calls were made");
    assert_eq!(
        app.audit_len().await,
        audit_before,
        "a refused call changed something (the audit chain grew)"
    );
}

#[tokio::test]
async fn role_route_matrix_on_sqlite() {
    matrix(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn role_route_matrix_on_postgres() {
    if let Some(app) = TestApp::postgres().await {
        matrix(app).await;
    }
}

/// What a cross-site scripting attempt types into every free-text field.
const XSS: &str = "<script>alert(\"xss\")</script>\"><img src=x onerror=alert(1)>";
/// What must never reach a page unescaped.
const RAW: [&str; 2] = ["<script>alert(\"xss\")", "<img src=x onerror"];

/// Follows every same-site link from `start`, GET only, and returns (pages seen, pages showing
/// the payload escaped, problems). Logout, downloads, the API and language switches are left out.
async fn crawl(app: &mut TestApp, who: &str, start: &[&str]) -> (usize, usize, Vec<String>) {
    let mut queue: std::collections::VecDeque<String> = start.iter().map(|s| s.to_string()).collect();
    let mut seen = std::collections::BTreeSet::new();
    let (mut shown, mut problems) = (0, Vec::new());
    let mut variants: BTreeMap<String, usize> = BTreeMap::new();
    while let Some(path) = queue.pop_front() {
        if seen.len() >= 300 || !seen.insert(path.clone()) {
            continue;
        }
        let r = app.get(&path).await;
        if std::env::var_os("PUBDATA_CRAWL_LOG").is_some() {
            eprintln!("{who} {} {path}", r.status.as_u16());
        }
        if r.status.is_server_error() {
            problems.push(format!("{who} {path}: {}", r.status));
        }
        if !r.header(axum::http::header::CONTENT_TYPE).starts_with("text/html") {
            continue;
        }
        for raw in RAW {
            if r.body.contains(raw) {
                problems.push(format!("{who} {path}: unescaped {raw:?}"));
            }
        }
        if r.body.contains("&lt;script&gt;alert(") {
            shown += 1;
        }
        for part in r.body.split("href=\"").skip(1) {
            let link = part
                .split('"')
                .next()
                .unwrap_or("")
                .replace("&#x2f;", "/")
                .replace("&amp;", "&");
            let link = link.split('#').next().unwrap_or("").to_string();
            let skip = !link.starts_with('/')
                || link.starts_with("//")
                || link.starts_with("/static")
                || link.starts_with("/api/")
                || link.contains("logout")
                || link.contains("download")
                || link.contains("lang=");
            // A few query variants of a page (filters, sorting, paging) are enough.
            let base = link.split('?').next().unwrap_or("").to_string();
            let variants = variants.entry(base).or_insert(0);
            if !skip && !seen.contains(&link) && !queue.contains(&link) && *variants < 3 {
                *variants += 1;
                queue.push_back(link);
            }
        }
    }
    (seen.len(), shown, problems)
}

/// Script typed into every free-text field (resource titles, plan and item names, the data
/// itself, applications, demands, corrections, showcases, security reports, review texts) is
/// shown escaped on every page any role can reach by following links.
async fn escaped_everywhere(mut app: TestApp) {
    let w = world(&mut app, XSS).await;
    // Move things on so that more pages show them: the application forwarded with a note,
    // the showcase accepted into the gallery, the demand routed.
    let admin = w.tokens[&Who::AdminReviewer].clone();
    let manager = w.tokens[&Who::AdminManager].clone();
    let forward = json!({"decision": "forward", "text": format!("材料齐全。{XSS}")});
    created(
        &mut app,
        &format!("/api/v1/applications/{}/decision", w.ids.application),
        &admin,
        forward,
    )
    .await;
    let accept = json!({"decision": "accept"});
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/showcases/{}/decision", w.ids.showcase),
            Some(&manager),
            Some(accept),
        )
        .await;
    if !r.status.is_success() {
        created(
            &mut app,
            &format!("/api/v1/showcases/{}/decision", w.ids.showcase),
            &admin,
            json!({"decision": "accept"}),
        )
        .await;
    }
    app.sync_search().await;

    let start = [
        "/",
        "/catalogue",
        "/catalogue?q=%E8%A1%97%E9%81%93",
        "/demands",
        "/showcases",
        "/my",
    ];
    let mut problems = Vec::new();
    let mut total_shown = 0;
    let (pages, shown, p) = crawl(&mut app.browser(), "anonymous", &start).await;
    assert!(pages > 10, "anonymous reached only {pages} pages");
    total_shown += shown;
    problems.extend(p);
    for login in [
        "x.owner",
        "y.stranger",
        "p.editor",
        "p.reviewer",
        "a.reviewer",
        "a.manager",
        "root",
    ] {
        let mut b = app.browser();
        assert_eq!(
            b.login(login, common::PASSWORD).await.status,
            StatusCode::SEE_OTHER,
            "{login}"
        );
        let (pages, shown, p) = crawl(&mut b, login, &start).await;
        assert!(pages > 10, "{login} reached only {pages} pages");
        eprintln!("{login}: {pages} pages, {shown} showing the payload escaped");
        total_shown += shown;
        problems.extend(p);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(total_shown >= 20, "the payload was shown on only {total_shown} pages");
}

#[tokio::test]
async fn script_in_any_text_is_escaped_on_sqlite() {
    escaped_everywhere(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn script_in_any_text_is_escaped_on_postgres() {
    if let Some(app) = TestApp::postgres().await {
        escaped_everywhere(app).await;
    }
}
