//! Bad input and misuse: each case gets a clear message in the caller's language, the exact
//! status (never 500), and changes nothing that it should not.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{Resp, TestApp, PASSWORD};
use serde_json::{json, Value};

/// A second browser on the same server and database, with its own cookies.
fn browser(app: &TestApp) -> TestApp {
    app.browser()
}

/// Registers an individual consumer through the API; returns the new user's id.
async fn register(app: &mut TestApp, login: &str) -> i64 {
    let body = json!({"user": {"login": login, "display_name": "张三", "email": format!("{login}@example.cn"), "password": PASSWORD}});
    let r = app.api(Method::POST, "/api/v1/register", None, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_i64().expect("user id")
}

/// Creates an API token in the web UI for whoever is logged in on `app`.
async fn web_token(app: &mut TestApp, name: &str) -> String {
    let r = app.post_form("/account/tokens", &[("name", name)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
        .split("id=\"new-token\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("token shown")
        .to_string()
}

/// Logs `login` in on a fresh browser and makes an API token there.
async fn token_for(app: &TestApp, login: &str) -> String {
    let mut b = browser(app);
    let r = b.login(login, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    web_token(&mut b, "script").await
}

/// Live sessions: an UPDATE that changes nothing still reports the rows it matched.
async fn session_count(app: &TestApp) -> u64 {
    app.store
        .execute_raw("UPDATE sessions SET user_agent = user_agent")
        .await
        .expect("count sessions")
}

async fn user_count(app: &TestApp) -> usize {
    app.store.list_users(None).await.expect("users").len()
}

async fn last_action(app: &TestApp) -> String {
    app.store
        .recent_audit(1, None)
        .await
        .expect("audit")
        .first()
        .map(|e| e.action.clone())
        .unwrap_or_default()
}

/// The bold message of the error summary on a page.
fn summary(r: &Resp) -> String {
    let after = r
        .body
        .split("class=\"error-summary\" role=\"alert\"><p><strong>")
        .nth(1);
    after
        .and_then(|s| s.split("</strong>").next())
        .unwrap_or_else(|| panic!("no error summary: {}", r.body))
        .to_string()
}

fn error_code(r: &Resp) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {}", r.body))
        .to_string()
}

/// The field problem named `name` in a JSON error body.
fn field_problem(r: &Resp, name: &str) -> Value {
    let json = r.json();
    let fields = json["error"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields: {}", r.body));
    fields
        .iter()
        .find(|f| f["field"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no field {name}: {}", r.body))
}

// 1. Wrong password ---------------------------------------------------------------------------

#[tokio::test]
async fn wrong_password_and_unknown_login_get_the_same_401_and_no_session() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na").await;
    let before = app.audit_len().await;

    let r = app.login("li.na", "wrong-pass-2026").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(r.body.contains("class=\"error-summary\""), "{}", r.body);
    assert!(summary(&r).contains("用户名或密码不正确"), "{}", r.body);
    assert!(r.body.contains("id=\"login-form\""), "the form is shown again");
    assert!(r.body.contains("value=\"li.na\""), "the login is kept");
    assert!(!r.body.contains("wrong-pass-2026"), "the password is never echoed");
    assert!(
        !r.set_cookies().iter().any(|c| c.starts_with("pd_session=")),
        "{:?}",
        r.set_cookies()
    );
    assert!(!app.jar.contains_key("pd_session"));
    assert_eq!(session_count(&app).await, 0);
    // Only the failure itself is recorded.
    assert_eq!(app.audit_len().await, before + 1);
    assert_eq!(last_action(&app).await, "auth.login_failed");

    let unknown = app.login("no.such.user", "wrong-pass-2026").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "{}", unknown.body);
    assert_eq!(
        summary(&unknown),
        summary(&r),
        "an unknown login is told the same as a wrong password"
    );
    assert!(!app.jar.contains_key("pd_session"));
    assert_eq!(session_count(&app).await, 0);
    assert_eq!(app.audit_len().await, before + 2);
}

// 2. Duplicate login --------------------------------------------------------------------------

#[tokio::test]
async fn duplicate_login_on_the_web_form_is_409_and_keeps_the_email_but_not_the_password() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na").await;
    let (users, audit) = (user_count(&app).await, app.audit_len().await);

    let r = app
        .post_form(
            "/register",
            &[
                ("kind", "individual"),
                ("login", "li.na"),
                ("display_name", "另一位李娜"),
                ("email", "other@example.cn"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(summary(&r).contains("该用户名已被注册"), "{}", r.body);
    assert!(
        r.body.contains("id=\"e-login\""),
        "the login field is marked: {}",
        r.body
    );
    assert!(
        r.body.contains("value=\"other@example.cn\""),
        "the e-mail is kept: {}",
        r.body
    );
    assert!(!r.body.contains(PASSWORD), "the password is never echoed");

    assert_eq!(user_count(&app).await, users);
    assert_eq!(app.audit_len().await, audit);
    let stored = app.store.user_by_login("li.na").await.unwrap().expect("first user");
    assert_eq!(stored.email, "li.na@example.cn", "the first account is untouched");
}

#[tokio::test]
async fn duplicate_login_through_the_api_is_409_login_taken_on_the_login_field() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na").await;
    let (users, audit) = (user_count(&app).await, app.audit_len().await);

    let body =
        json!({"user": {"login": "li.na", "display_name": "李娜", "email": "other@example.cn", "password": PASSWORD}});
    let r = app.api(Method::POST, "/api/v1/register", None, Some(body)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(error_code(&r), "login_taken");
    let fields = r.json()["error"]["fields"].clone();
    assert_eq!(fields[0]["field"], "login", "{}", r.body);
    assert_eq!(fields[0]["code"], "login_taken", "{}", r.body);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("该用户名已被注册"),
        "{}",
        r.body
    );

    assert_eq!(user_count(&app).await, users);
    assert_eq!(app.audit_len().await, audit);
}

// 3. Malformed credit code --------------------------------------------------------------------

#[tokio::test]
async fn malformed_credit_code_in_web_registration_is_422_naming_the_problem() {
    let mut app = TestApp::sqlite().await;
    let cases = [
        ("91350100M000100Y44", "校验码不符"),
        ("9135", "应为 18 位"),
        ("91350100M000100I43", "含有无效字符"),
    ];
    for (code, expected) in cases {
        let r = app
            .post_form(
                "/register",
                &[
                    ("kind", "organisation"),
                    ("org.name", "成都数智科技有限公司"),
                    ("org.credit_code", code),
                    ("login", "fa.ren"),
                    ("display_name", "王经办"),
                    ("email", "wang@example.cn"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{code}: {}", r.body);
        assert!(summary(&r).contains("提交的信息有误"), "{code}: {}", r.body);
        assert!(
            r.body.contains("id=\"e-org.credit_code\""),
            "{code}: the field is marked: {}",
            r.body
        );
        assert!(r.body.contains(expected), "{code}: expected {expected:?} in {}", r.body);
        assert!(
            r.body.contains(&format!("value=\"{code}\"")),
            "{code}: the entered code is kept"
        );
        assert!(!r.body.contains(PASSWORD), "the password is never echoed");
    }
    assert!(
        app.store.list_orgs(None).await.unwrap().is_empty(),
        "no organisation was created"
    );
    assert!(
        app.store.user_by_login("fa.ren").await.unwrap().is_none(),
        "no user was created"
    );
    assert_eq!(app.audit_len().await, 0);
}

#[tokio::test]
async fn malformed_credit_code_through_the_api_is_422_with_the_field_code() {
    let mut app = TestApp::sqlite().await;
    app.sysadmin("root").await;
    let token = token_for(&app, "root").await;
    let (orgs, audit) = (app.store.list_orgs(None).await.unwrap().len(), app.audit_len().await);

    let body = json!({"kind": "provider", "name": "四川省交通运输厅", "credit_code": "91350100M000100Y44"});
    let r = app
        .api(Method::POST, "/api/v1/organisations", Some(&token), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(error_code(&r), "validation");
    let f = field_problem(&r, "credit_code");
    assert_eq!(f["code"], "credit_code_check", "{}", r.body);
    assert!(f["message"].as_str().unwrap().contains("校验码不符"), "{}", r.body);

    let body = json!({"kind": "provider", "name": "四川省交通运输厅", "credit_code": "9135"});
    let r = app
        .api(Method::POST, "/api/v1/organisations", Some(&token), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        field_problem(&r, "credit_code")["code"],
        "credit_code_length",
        "{}",
        r.body
    );

    assert_eq!(app.store.list_orgs(None).await.unwrap().len(), orgs);
    assert_eq!(app.audit_len().await, audit);
}

// 4. Oversized bodies -------------------------------------------------------------------------

fn big_form() -> String {
    format!("login={}&password=x", "a".repeat(2 * 1024 * 1024))
}

#[tokio::test]
async fn oversized_form_with_content_length_is_413() {
    let mut app = TestApp::sqlite().await;
    let body = big_form();
    let req = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        &r.body[..r.body.len().min(500)]
    );
    assert!(r.body.contains("1024 KB"), "{}", &r.body[..r.body.len().min(2000)]);
    assert!(
        r.body.contains("提交的内容太大"),
        "{}",
        &r.body[..r.body.len().min(2000)]
    );
    assert_eq!(app.audit_len().await, 0);
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn oversized_form_without_content_length_is_413() {
    let mut app = TestApp::sqlite().await;
    let req = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(big_form().into_bytes()))
        .unwrap();
    assert!(!req.headers().contains_key(header::CONTENT_LENGTH));
    let r = app.send(req).await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        &r.body[..r.body.len().min(500)]
    );
    assert!(r.body.contains("1024 KB"), "{}", &r.body[..r.body.len().min(2000)]);
    assert_eq!(app.audit_len().await, 0);
    assert_eq!(session_count(&app).await, 0);
}

#[tokio::test]
async fn oversized_json_body_is_413_body_too_large() {
    let mut app = TestApp::sqlite().await;
    let json = json!({"user": {"login": "big.user", "display_name": "x".repeat(2 * 1024 * 1024),
                               "email": "big@example.cn", "password": PASSWORD}})
    .to_string();
    for with_length in [true, false] {
        let mut req = Request::post("/api/v1/register").header(header::CONTENT_TYPE, "application/json");
        if with_length {
            req = req.header(header::CONTENT_LENGTH, json.len());
        }
        let r = app.send(req.body(Body::from(json.clone())).unwrap()).await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "content-length {with_length}: {}",
            r.body
        );
        assert_eq!(error_code(&r), "body_too_large", "content-length {with_length}");
        assert!(
            r.json()["error"]["message"].as_str().unwrap().contains("1024 KB"),
            "{}",
            r.body
        );
    }
    assert_eq!(user_count(&app).await, 0);
    assert_eq!(app.audit_len().await, 0);
}

// 5. CSRF -------------------------------------------------------------------------------------

#[tokio::test]
async fn logged_in_form_post_without_or_with_a_wrong_csrf_token_is_403() {
    let mut app = TestApp::sqlite().await;
    let id = register(&mut app, "li.na").await;
    assert_eq!(app.login("li.na", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let audit = app.audit_len().await;

    let r = app.post_form_raw("/account/tokens", &[("name", "sneaky")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("表单已失效或来源不明"), "{}", r.body);

    let wrong = "0".repeat(64);
    let r = app
        .post_form_raw("/account/tokens", &[("_csrf", wrong.as_str()), ("name", "sneaky")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("表单已失效或来源不明"), "{}", r.body);

    assert!(
        app.store.list_api_tokens(id).await.unwrap().is_empty(),
        "no token was created"
    );
    assert_eq!(app.audit_len().await, audit);
    assert!(
        app.jar.contains_key("pd_session"),
        "a CSRF failure does not log the user out"
    );
}

#[tokio::test]
async fn anonymous_registration_without_csrf_token_is_403() {
    let mut app = TestApp::sqlite().await;
    let r = app
        .post_form_raw(
            "/register",
            &[
                ("kind", "individual"),
                ("login", "li.na"),
                ("display_name", "李娜"),
                ("email", "li.na@example.cn"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("表单已失效或来源不明"), "{}", r.body);
    assert!(app.store.user_by_login("li.na").await.unwrap().is_none());
    assert_eq!(app.audit_len().await, 0);
}

#[tokio::test]
async fn api_post_with_a_session_cookie_needs_the_csrf_header_but_bearer_does_not() {
    let mut app = TestApp::sqlite().await;
    let id = register(&mut app, "li.na").await;
    assert_eq!(app.login("li.na", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let audit = app.audit_len().await;
    let post = |csrf: Option<&str>| {
        let mut req = Request::post("/api/v1/tokens").header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        req.body(Body::from(json!({"name": "from the browser"}).to_string()))
            .unwrap()
    };

    let r = app.send(post(None)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(error_code(&r), "csrf_failed");
    assert!(app.store.list_api_tokens(id).await.unwrap().is_empty());
    assert_eq!(app.audit_len().await, audit);

    let r = app.send(post(Some(&"f".repeat(64)))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a wrong header: {}", r.body);
    assert_eq!(error_code(&r), "csrf_failed");

    let csrf = app.get("/account").await.csrf();
    let r = app.send(post(Some(&csrf))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let secret = r.json()["secret"].as_str().expect("secret").to_string();
    assert_eq!(app.store.list_api_tokens(id).await.unwrap().len(), 1);

    // A bearer token is no ambient credential: no CSRF token needed.
    let r = app
        .api(
            Method::POST,
            "/api/v1/tokens",
            Some(&secret),
            Some(json!({"name": "script"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(app.store.list_api_tokens(id).await.unwrap().len(), 2);
}

// 6. Expired sessions -------------------------------------------------------------------------

#[tokio::test]
async fn expired_session_redirects_to_login_with_a_notice_and_clears_the_cookie() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na").await;
    assert_eq!(app.login("li.na", PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    app.store
        .execute_raw("UPDATE sessions SET last_seen_at = 0")
        .await
        .unwrap();

    let r = app.get("/account").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/login?next=%2Faccount&notice=session_expired");
    let cleared = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("pd_session="))
        .expect("session cookie cleared");
    assert!(
        cleared.starts_with("pd_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert!(!app.jar.contains_key("pd_session"));
    assert_eq!(session_count(&app).await, 0, "the stale session is deleted");

    let login = app.get(r.location()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("您的登录已过期"), "{}", login.body);
    assert!(
        login.body.contains("name=\"next\" value=\"&#x2f;account\""),
        "{}",
        login.body
    );
}

#[tokio::test]
async fn stale_form_after_expiry_says_session_expired_not_csrf() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na").await;
    assert_eq!(app.login("li.na", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let page = app.get("/account").await;
    let token = page.csrf();
    app.store
        .execute_raw("UPDATE sessions SET last_seen_at = 0")
        .await
        .unwrap();
    let audit = app.audit_len().await;

    let r = app
        .post_form_raw(
            "/account/profile",
            &[
                ("_csrf", token.as_str()),
                ("display_name", "新名字"),
                ("email", "new@example.cn"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(r.body.contains("您的登录已过期"), "{}", r.body);
    assert!(!r.body.contains("表单已失效"), "not reported as CSRF: {}", r.body);

    let user = app.store.user_by_login("li.na").await.unwrap().unwrap();
    assert_eq!(user.display_name, "张三");
    assert_eq!(user.email, "li.na@example.cn");
    assert_eq!(app.audit_len().await, audit);
    assert_eq!(session_count(&app).await, 0, "the stale session is deleted");
}

#[tokio::test]
async fn stale_form_after_expiry_clears_the_dead_session_cookie() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na").await;
    assert_eq!(app.login("li.na", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let token = app.get("/account").await.csrf();
    app.store
        .execute_raw("UPDATE sessions SET last_seen_at = 0")
        .await
        .unwrap();

    let r = app
        .post_form_raw(
            "/account/profile",
            &[
                ("_csrf", token.as_str()),
                ("display_name", "新名字"),
                ("email", "new@example.cn"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // The server deleted the session, so it should tell the browser to drop the cookie, as a
    // GET does.
    let cleared = r.set_cookies().into_iter().find(|c| c.starts_with("pd_session="));
    assert!(
        cleared.as_deref().is_some_and(|c| c.contains("Max-Age=0")),
        "{:?}",
        r.set_cookies()
    );
    assert!(!app.jar.contains_key("pd_session"));
}

#[tokio::test]
async fn api_get_with_an_expired_session_cookie_is_401() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na").await;
    assert_eq!(app.login("li.na", PASSWORD).await.status, StatusCode::SEE_OTHER);
    app.store
        .execute_raw("UPDATE sessions SET last_seen_at = 0")
        .await
        .unwrap();

    // Sent with the browser's cookies (not `app.api`, which sends none).
    let r = app.send(Request::get("/api/v1/me").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // Not a bare "log in": the caller learns that the session expired.
    assert_eq!(error_code(&r), "session_expired", "{}", r.body);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("您的登录已过期"),
        "{}",
        r.body
    );
    assert_eq!(r.header(header::WWW_AUTHENTICATE), "Bearer");
    assert!(!app.jar.contains_key("pd_session"), "the stale cookie is cleared");
}

// 7. Revoked and invalid tokens ---------------------------------------------------------------

#[tokio::test]
async fn revoked_token_stops_working_at_once_and_invalid_tokens_are_named() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na").await;
    assert_eq!(app.login("li.na", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let token = web_token(&mut app, "nightly").await;

    let me = app.api(Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["login"], "li.na");
    let id = app.api(Method::GET, "/api/v1/tokens", Some(&token), None).await.json()[0]["id"]
        .as_i64()
        .expect("token id");

    let r = app
        .api(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);

    let r = app.api(Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(error_code(&r), "token_revoked");
    assert!(
        r.json()["error"]["message"].as_str().unwrap().contains("已被吊销"),
        "{}",
        r.body
    );
    assert_eq!(r.header(header::WWW_AUTHENTICATE), "Bearer");

    let audit = app.audit_len().await;
    let r = app
        .api(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&token), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the dead token cannot act: {}",
        r.body
    );
    assert_eq!(error_code(&r), "token_revoked");
    assert_eq!(app.audit_len().await, audit);

    let r = app.api(Method::GET, "/api/v1/me", Some("pdt_nope"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(error_code(&r), "token_invalid");
    assert_eq!(r.header(header::WWW_AUTHENTICATE), "Bearer");
    let r = app.api(Method::GET, "/api/v1/me", Some("not-even-a-token"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(error_code(&r), "token_invalid");
}

#[tokio::test]
async fn another_users_token_cannot_be_revoked_and_looks_absent() {
    let mut app = TestApp::sqlite().await;
    let li = register(&mut app, "li.na").await;
    register(&mut app, "wang.wu").await;
    let li_token = token_for(&app, "li.na").await;
    let wang_token = token_for(&app, "wang.wu").await;
    let li_id = app.store.list_api_tokens(li).await.unwrap()[0].id;
    let audit = app.audit_len().await;

    let r = app
        .api(
            Method::DELETE,
            &format!("/api/v1/tokens/{li_id}"),
            Some(&wang_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(error_code(&r), "api_token_not_found");

    assert!(
        app.store.list_api_tokens(li).await.unwrap()[0].revoked_at.is_none(),
        "still active"
    );
    assert_eq!(
        app.api(Method::GET, "/api/v1/me", Some(&li_token), None).await.status,
        StatusCode::OK
    );
    assert_eq!(app.audit_len().await, audit);
}

// 8. Login throttling -------------------------------------------------------------------------

#[tokio::test]
async fn three_wrong_passwords_lock_the_account_even_for_the_right_password() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na").await;
    let audit = app.audit_len().await;
    for _ in 0..3 {
        let r = app.login("li.na", "wrong-pass-2026").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    assert_eq!(app.audit_len().await, audit + 3);

    let r = app.login("li.na", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(summary(&r).contains("登录失败次数过多"), "{}", r.body);
    assert!(summary(&r).contains("15 分钟"), "{}", r.body);
    assert!(!app.jar.contains_key("pd_session"));
    assert_eq!(session_count(&app).await, 0, "no session was created");
    assert_eq!(app.audit_len().await, audit + 3, "the refused attempt changes nothing");
    let actions: Vec<String> = app
        .store
        .recent_audit(10, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "auth.login_failed").count(),
        3,
        "{actions:?}"
    );
    assert!(!actions.iter().any(|a| a == "auth.login"), "{actions:?}");
}

#[tokio::test]
async fn throttled_login_says_when_to_retry_in_a_retry_after_header() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na").await;
    for _ in 0..3 {
        assert_eq!(
            app.login("li.na", "wrong-pass-2026").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = app.login("li.na", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let retry = r.header(header::RETRY_AFTER);
    let secs: u64 = retry
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After must be integer seconds, got {retry:?}"));
    assert!(secs > 0 && secs <= 15 * 60, "{secs}");
}

#[tokio::test]
async fn ten_failures_from_one_address_lock_out_further_logins() {
    let mut app = TestApp::sqlite().await;
    for i in 0..10 {
        let r = app.login(&format!("ghost{i}"), "wrong-pass-2026").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}: {}", r.body);
    }
    let audit = app.audit_len().await;
    let r = app.login("ghost.eleven", "wrong-pass-2026").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(summary(&r).contains("登录失败次数过多"), "{}", r.body);
    assert_eq!(
        app.audit_len().await,
        audit,
        "the refused attempt is not even evaluated"
    );
}

#[tokio::test]
async fn throttling_message_is_in_english_for_english_browsers() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na").await;
    app.accept_language = Some("en".into());
    for _ in 0..3 {
        let r = app.login("li.na", "wrong-pass-2026").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(summary(&r).contains("Wrong user name or password"), "{}", r.body);
    }
    let r = app.login("li.na", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(summary(&r).contains("Too many failed logins"), "{}", r.body);
    assert!(summary(&r).contains("15 minutes"), "{}", r.body);
    assert!(r.body.contains("<html lang=\"en\""));
}

// 9. Validation messages in both languages ----------------------------------------------------

const BAD_REGISTRATION: [(&str, &str); 5] = [
    ("kind", "individual"),
    ("login", "9x"),
    ("display_name", "张三"),
    ("email", "bad"),
    ("password", "short"),
];

fn field_errors(r: &Resp) -> usize {
    r.body.matches("class=\"field-error\"").count()
}

#[tokio::test]
async fn registration_validation_lists_every_field_in_chinese() {
    let mut app = TestApp::sqlite().await;
    let r = app.post_form("/register", &BAD_REGISTRATION).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(field_errors(&r), 3, "{}", r.body);
    for id in ["e-login", "e-email", "e-password"] {
        assert!(r.body.contains(&format!("id=\"{id}\"")), "{id}: {}", r.body);
    }
    assert!(r.body.contains("用户名: 长度应为 3–32 个字符"), "{}", r.body);
    assert!(r.body.contains("电子邮箱: 不是有效的电子邮箱地址"), "{}", r.body);
    assert!(r.body.contains("密码: 长度应为 10–128 个字符"), "{}", r.body);
    assert!(
        r.body.contains("value=\"9x\"") && r.body.contains("value=\"bad\""),
        "entries are kept"
    );
    assert!(!r.body.contains("value=\"short\""), "the password is never echoed");
    assert_eq!(user_count(&app).await, 0);
    assert_eq!(app.audit_len().await, 0);
}

#[tokio::test]
async fn registration_validation_speaks_english_by_accept_language_or_query() {
    let mut app = TestApp::sqlite().await;
    app.accept_language = Some("en".into());
    let r = app.post_form("/register", &BAD_REGISTRATION).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(field_errors(&r), 3, "{}", r.body);
    assert!(
        r.body.contains("User name: must be 3–32 characters long."),
        "{}",
        r.body
    );
    assert!(r.body.contains("E-mail: is not a valid e-mail address"), "{}", r.body);
    assert!(
        r.body.contains("Password: must be 10–128 characters long."),
        "{}",
        r.body
    );

    let mut zh_browser = browser(&app);
    let r = zh_browser.post_form("/register?lang=en", &BAD_REGISTRATION).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("is not a valid e-mail address"), "{}", r.body);
    assert!(r.body.contains("must be 3–32 characters long"), "{}", r.body);
    // The login-character rule speaks English too.
    let r = zh_browser
        .post_form(
            "/register?lang=en",
            &[
                ("kind", "individual"),
                ("login", "9lives"),
                ("display_name", "张三"),
                ("email", "z@example.cn"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("must start with a lower-case letter"), "{}", r.body);
    assert_eq!(user_count(&app).await, 0);
    assert_eq!(app.audit_len().await, 0);
}

// 10. Forbidden and not found -----------------------------------------------------------------

#[tokio::test]
async fn consumer_is_refused_the_admin_pages_and_anonymous_is_sent_to_log_in() {
    let mut app = TestApp::sqlite().await;
    register(&mut app, "li.na").await;
    let mut anonymous = browser(&app);
    let r = anonymous.get("/admin/orgs").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/login?next=%2Fadmin%2Forgs");

    assert_eq!(app.login("li.na", PASSWORD).await.status, StatusCode::SEE_OTHER);
    for path in ["/admin/orgs", "/admin/users", "/admin/audit"] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
        assert!(r.body.contains("您没有执行此操作的权限"), "{path}: {}", r.body);
    }
    let token = web_token(&mut app, "t").await;
    let r = app.api(Method::GET, "/api/v1/organisations", Some(&token), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(error_code(&r), "forbidden");
}

#[tokio::test]
async fn unknown_pages_and_endpoints_are_404_in_their_own_format() {
    let mut app = TestApp::sqlite().await;
    let r = app.get("/no/such/page").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(
        r.header(header::CONTENT_TYPE).starts_with("text/html"),
        "{:?}",
        r.headers
    );
    assert!(r.body.contains("找不到该页面"), "{}", r.body);

    let r = app.get("/api/v1/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(
        r.header(header::CONTENT_TYPE).starts_with("application/json"),
        "{:?}",
        r.headers
    );
    assert_eq!(error_code(&r), "endpoint_not_found");

    app.sysadmin("root").await;
    let token = token_for(&app, "root").await;
    let r = app.api(Method::GET, "/api/v1/users/999999", Some(&token), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(error_code(&r), "user_not_found");
    assert!(
        r.json()["error"]["message"].as_str().unwrap().contains("找不到该用户"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_400_bad_request() {
    let mut app = TestApp::sqlite().await;
    let raw = |body: &str| {
        Request::post("/api/v1/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let r = app.send(raw("{\"user\": {")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(error_code(&r), "bad_request");
    assert!(
        r.json()["error"]["message"].as_str().unwrap().contains("请求格式有误"),
        "{}",
        r.body
    );

    let r = app
        .api(Method::POST, "/api/v1/register", None, Some(json!({"user": 5})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(error_code(&r), "bad_request");

    let r = app
        .api(
            Method::POST,
            "/api/v1/register",
            None,
            Some(json!({"user": {"login": "li.na"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "missing fields: {}", r.body);
    assert_eq!(error_code(&r), "bad_request");

    assert_eq!(user_count(&app).await, 0);
    assert_eq!(app.audit_len().await, 0);
}

// 11. Role rules ------------------------------------------------------------------------------

/// An admin institution with a manager in it; returns (sysadmin token, root id, org id, manager id).
async fn admin_institution(app: &mut TestApp) -> (String, i64, i64, i64) {
    let root = app.sysadmin("root").await;
    let token = token_for(app, "root").await;
    let body = json!({"kind": "admin_institution", "name": "四川省大数据中心", "credit_code": "91350100M000100Y43"});
    let r = app
        .api(Method::POST, "/api/v1/organisations", Some(&token), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let org = r.json()["id"].as_i64().unwrap();
    let body = json!({"login": "guan.li", "display_name": "管理员", "email": "guan@example.cn", "password": PASSWORD,
                      "org_id": org, "role": "admin_manager"});
    let r = app.api(Method::POST, "/api/v1/users", Some(&token), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (token, root, org, r.json()["id"].as_i64().unwrap())
}

#[tokio::test]
async fn granting_a_provider_role_in_the_admin_institution_is_422_role_org_mismatch() {
    let mut app = TestApp::sqlite().await;
    let (token, _, org, manager) = admin_institution(&mut app).await;
    let audit = app.audit_len().await;

    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/users/{manager}/roles"),
            Some(&token),
            Some(json!({"org_id": org, "role": "provider_editor"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(error_code(&r), "validation");
    assert_eq!(field_problem(&r, "role")["code"], "role_org_mismatch", "{}", r.body);

    let user = app.store.user_by_login("guan.li").await.unwrap().unwrap();
    let roles: Vec<_> = user.memberships.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["admin_manager"]);
    assert_eq!(app.audit_len().await, audit);
}

#[tokio::test]
async fn an_unknown_role_is_422_on_the_role_field() {
    let mut app = TestApp::sqlite().await;
    let (token, _, org, manager) = admin_institution(&mut app).await;
    let audit = app.audit_len().await;
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/users/{manager}/roles"),
            Some(&token),
            Some(json!({"org_id": org, "role": "emperor"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(field_problem(&r, "role")["code"], "role", "{}", r.body);
    assert_eq!(app.audit_len().await, audit);
}

#[tokio::test]
async fn admin_manager_cannot_disable_the_sysadmin() {
    let mut app = TestApp::sqlite().await;
    let (_, root, _, _) = admin_institution(&mut app).await;
    let mut manager = browser(&app);
    assert_eq!(manager.login("guan.li", PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        manager.get("/admin/users").await.status,
        StatusCode::OK,
        "the manager manages users"
    );
    let audit = app.audit_len().await;

    let r = manager.post_form(&format!("/admin/users/{root}/disable"), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("您没有执行此操作的权限"), "{}", r.body);

    let manager_token = web_token(&mut manager, "t").await;
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/users/{root}/disable"),
            Some(&manager_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(error_code(&r), "forbidden");

    assert!(!app.store.user_by_login("root").await.unwrap().unwrap().disabled);
    // Only the manager's token creation was recorded.
    assert_eq!(app.audit_len().await, audit + 1);
    assert_eq!(last_action(&app).await, "token.create");
}

#[tokio::test]
async fn nobody_can_disable_themselves() {
    let mut app = TestApp::sqlite().await;
    let (root_token, root, _, manager_id) = admin_institution(&mut app).await;
    let mut manager = browser(&app);
    assert_eq!(manager.login("guan.li", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let audit = app.audit_len().await;

    let r = manager
        .post_form(&format!("/admin/users/{manager_id}/disable"), &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("您没有执行此操作的权限"), "{}", r.body);

    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/users/{root}/disable"),
            Some(&root_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(error_code(&r), "forbidden");

    let mut root_browser = browser(&app);
    assert_eq!(root_browser.login("root", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let audit_after_login = app.audit_len().await;
    let r = root_browser
        .post_form(&format!("/admin/users/{root}/disable"), &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    assert!(!app.store.user_by_login("root").await.unwrap().unwrap().disabled);
    assert!(!app.store.user_by_login("guan.li").await.unwrap().unwrap().disabled);
    assert_eq!(audit_after_login, audit + 1, "only the login was recorded");
    assert_eq!(app.audit_len().await, audit_after_login);
    assert_eq!(
        manager.get("/account").await.status,
        StatusCode::OK,
        "the manager is still logged in"
    );
}
