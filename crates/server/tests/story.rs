//! The foundation story, on SQLite always and on PostgreSQL when configured: a consumer
//! registers, logs in, makes an API token and calls the API, logs out; the sysadmin creates a
//! provider department and its staff; role changes take effect on the next request.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, PASSWORD};
use serde_json::json;

async fn story(mut app: TestApp) {
    // A consumer registers as an individual through the web form and logs in.
    let r = app
        .post_form(
            "/register",
            &[
                ("kind", "individual"),
                ("login", "li.na"),
                ("display_name", "李娜"),
                ("email", "li.na@example.cn"),
                ("phone", "13800138000"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/login?done=registered");
    let r = app.login("li.na", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(app.jar.contains_key("pd_session"));
    let account = app.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("data-user=\"li.na\""));
    assert_eq!(
        account.nav(),
        ["home", "catalogue", "demands", "showcases", "account", "inbox", "my"]
    );

    // An API token is made in the UI, shown once, and works for the API.
    let r = app.post_form("/account/tokens", &[("name", "nightly sync")]).await;
    assert_eq!(r.status, StatusCode::OK);
    let token = r
        .body
        .split("id=\"new-token\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("token shown")
        .to_string();
    assert!(token.starts_with("pdt_"));
    assert!(
        !app.get("/account").await.body.contains(&token),
        "a token is shown only once"
    );
    let me = app.api(Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["login"], "li.na");
    assert_eq!(me.json()["memberships"][0]["role"], "consumer");
    let tokens = app.api(Method::GET, "/api/v1/tokens", Some(&token), None).await.json();
    assert!(tokens[0]["last_used_at"].is_i64(), "last use is recorded: {tokens}");

    // Logging out ends the session on the server, not just in the browser.
    let session = app.jar.get("pd_session").cloned().expect("session");
    let r = app.post_form("/logout", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!app.jar.contains_key("pd_session"));
    app.jar.insert("pd_session".into(), session);
    let r = app.get("/account").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the old cookie no longer works");
    assert!(r.location().starts_with("/login?next=%2Faccount"));
    app.jar.clear();

    // The sysadmin creates a provider department and a staff account in it.
    app.sysadmin("root").await;
    assert_eq!(app.login("root", PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/admin/users").await.nav(),
        [
            "home",
            "catalogue",
            "demands",
            "showcases",
            "account",
            "inbox",
            "orgs",
            "users",
            "audit",
            "lifecycle"
        ]
    );
    let r = app
        .post_form(
            "/admin/orgs",
            &[
                ("kind", "provider"),
                ("name", "四川省交通运输厅"),
                ("credit_code", "11510000008693034D"),
                ("region_code", "510000"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let orgs = app.store.list_orgs(None).await.unwrap();
    let transport = orgs.iter().find(|o| o.name == "四川省交通运输厅").expect("org stored");
    let org_id = transport.id.to_string();
    let r = app
        .post_form(
            "/admin/users",
            &[
                ("org_id", &org_id),
                ("role", "provider_editor"),
                ("login", "chen.bian"),
                ("display_name", "陈编辑"),
                ("email", "chen@example.cn"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let staff = app
        .store
        .user_by_login("chen.bian")
        .await
        .unwrap()
        .expect("staff stored");
    assert_eq!(staff.memberships[0].role.as_str(), "provider_editor");
    assert_eq!(staff.memberships[0].org_id, Some(transport.id));

    // The staff member logs in elsewhere and sees no management pages.
    let mut staff_browser = app.browser();
    assert_eq!(
        staff_browser.login("chen.bian", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        staff_browser.get("/account").await.nav(),
        [
            "home",
            "catalogue",
            "demands",
            "showcases",
            "account",
            "inbox",
            "workspace",
            "requests_queue",
            "security_reports"
        ]
    );
    assert_eq!(staff_browser.get("/admin/users").await.status, StatusCode::FORBIDDEN);

    // The sysadmin creates an admin institution and makes the staff member its manager: the
    // staff member's next request already shows the management pages.
    let admin_org = app.api(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(admin_org.status, StatusCode::UNAUTHORIZED);
    let r = app
        .post_form(
            "/admin/orgs",
            &[
                ("kind", "admin_institution"),
                ("name", "四川省大数据中心"),
                ("credit_code", "91350100M000100Y43"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let centre = app
        .store
        .org_by_name("四川省大数据中心")
        .await
        .unwrap()
        .expect("centre");
    let path = format!("/admin/users/{}/roles", staff.id);
    let r = app
        .post_form(&path, &[("org_id", &centre.id.to_string()), ("role", "admin_manager")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        staff_browser.get("/account").await.nav(),
        [
            "home",
            "catalogue",
            "demands",
            "showcases",
            "account",
            "inbox",
            "workspace",
            "review",
            "requests_queue",
            "applications",
            "orgs",
            "users",
            "audit",
            "lifecycle",
            "timeliness",
            "showcase_queue",
            "security_reports"
        ]
    );
    assert_eq!(staff_browser.get("/admin/users").await.status, StatusCode::OK);

    // The grant reached the staff member's inbox, counted in the navigation until read.
    let inbox = staff_browser.get("/inbox").await;
    assert!(
        inbox
            .body
            .contains("您已获得“管理机构管理员”角色（四川省大数据中心）。"),
        "{}",
        inbox.body
    );
    assert!(inbox.body.contains("class=\"badge\""));
    let notice = app.store.notices(staff.id, 10).await.unwrap().remove(0);
    let r = staff_browser
        .post_form(&format!("/inbox/{}/read", notice.id), &[])
        .await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/account"));
    assert!(
        !staff_browser.get("/inbox").await.body.contains("class=\"badge\""),
        "read notices are not counted"
    );
    let r = app.post_form(&format!("/inbox/{}/read", notice.id), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "nobody reads another's notice");

    // Removing the role takes it away again at once.
    let path = format!("/admin/users/{}/roles/remove", staff.id);
    let r = app
        .post_form(&path, &[("org_id", &centre.id.to_string()), ("role", "admin_manager")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(staff_browser.get("/admin/users").await.status, StatusCode::FORBIDDEN);

    // Disabling the account ends its session.
    let r = app.post_form(&format!("/admin/users/{}/disable", staff.id), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = staff_browser.get("/account").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = staff_browser.login("chen.bian", PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("该账户已被停用"), "{}", r.body);

    // Every change above is in the audit chain, which verifies.
    let actions: Vec<String> = app
        .store
        .recent_audit(100, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "user.register",
        "auth.login",
        "token.create",
        "auth.logout",
        "org.create",
        "user.create",
        "user.role_grant",
        "user.role_revoke",
        "user.disable",
    ] {
        assert!(actions.iter().any(|x| x == a), "audit lacks {a}: {actions:?}");
    }
    assert!(matches!(
        app.store.verify_audit().await.unwrap(),
        pubdata_store::VerifyReport::Intact { .. }
    ));

    // The same through the JSON API with a sysadmin token.
    let created = app.post_form("/account/tokens", &[("name", "admin script")]).await;
    let root_token = created
        .body
        .split("id=\"new-token\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_string();
    let r = app
        .api(
            Method::POST,
            "/api/v1/organisations",
            Some(&root_token),
            Some(json!({"kind": "provider", "name": "四川省生态环境厅", "credit_code": "91110108551385082Q"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let env_id = r.json()["id"].as_i64().unwrap();
    let r = app
        .api(
            Method::POST,
            "/api/v1/users",
            Some(&root_token),
            Some(
                json!({"login": "zhao.bian", "display_name": "赵编辑", "email": "zhao@example.cn", "password": PASSWORD,
                         "org_id": env_id, "role": "provider_reviewer"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let zhao = r.json()["id"].as_i64().unwrap();
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/users/{zhao}/roles"),
            Some(&root_token),
            Some(json!({"org_id": env_id, "role": "provider_manager"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let roles: Vec<_> = r.json()["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(roles, ["provider_manager", "provider_reviewer"]);
    let r = app.api(Method::GET, "/api/v1/users", Some(&token), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a consumer cannot list users");
}

#[tokio::test]
async fn story_on_sqlite() {
    story(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn story_on_postgres() {
    if let Some(app) = TestApp::postgres().await {
        story(app).await;
    }
}
