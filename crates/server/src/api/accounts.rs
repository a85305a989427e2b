//! `/api/v1` for organisations, users, registration and the audit trail.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use pubdata_core::org::{NewOrg, OrgKind};
use pubdata_core::policy::{require, Action, Target};
use pubdata_core::user::{NewUser, Role};
use pubdata_core::DomainError;
use pubdata_service::accounts::{self, NewStaff, Registration};
use pubdata_store::{AuditRow, OrgRow, UserRow, VerifyReport};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{current_user, JsonBody};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct MembershipDto {
    pub org_id: Option<i64>,
    pub org_name: Option<String>,
    /// `admin_institution`, `provider` or `consumer_org`.
    pub org_kind: Option<String>,
    /// `admin_manager`, `admin_reviewer`, `provider_manager`, `provider_editor`, `provider_reviewer` or `consumer`.
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserDto {
    pub id: i64,
    pub login: String,
    pub display_name: String,
    pub email: String,
    pub phone: Option<String>,
    /// `individual` (个人) or `legal_person` (法人).
    pub kind: String,
    pub sysadmin: bool,
    pub disabled: bool,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub memberships: Vec<MembershipDto>,
}

impl From<&UserRow> for UserDto {
    fn from(u: &UserRow) -> Self {
        UserDto {
            id: u.id,
            login: u.login.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            phone: u.phone.clone(),
            kind: u.kind.as_str().into(),
            sysadmin: u.is_sysadmin,
            disabled: u.disabled,
            created_at: u.created_at,
            memberships: u
                .memberships
                .iter()
                .map(|m| MembershipDto {
                    org_id: m.org_id,
                    org_name: m.org_name.clone(),
                    org_kind: m.org_kind.map(|k| k.as_str().into()),
                    role: m.role.as_str().into(),
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrgDto {
    pub id: i64,
    pub kind: String,
    pub name: String,
    /// 统一社会信用代码
    pub credit_code: String,
    pub region_code: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub created_at: i64,
    pub member_count: i64,
}

impl From<OrgRow> for OrgDto {
    fn from(o: OrgRow) -> Self {
        OrgDto {
            id: o.id,
            kind: o.kind.as_str().into(),
            name: o.name,
            credit_code: o.credit_code,
            region_code: o.region_code,
            contact_name: o.contact_name,
            contact_phone: o.contact_phone,
            contact_email: o.contact_email,
            created_at: o.created_at,
            member_count: o.member_count,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct NewOrgDto {
    /// `admin_institution`, `provider` or `consumer_org`.
    pub kind: String,
    pub name: String,
    pub credit_code: String,
    #[serde(default)]
    pub region_code: String,
    #[serde(default)]
    pub contact_name: String,
    #[serde(default)]
    pub contact_phone: String,
    #[serde(default)]
    pub contact_email: String,
}

impl From<NewOrgDto> for NewOrg {
    fn from(d: NewOrgDto) -> Self {
        NewOrg {
            kind: d.kind,
            name: d.name,
            credit_code: d.credit_code,
            region_code: d.region_code,
            contact_name: d.contact_name,
            contact_phone: d.contact_phone,
            contact_email: d.contact_email,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct NewUserDto {
    pub login: String,
    pub display_name: String,
    pub email: String,
    #[serde(default)]
    pub phone: String,
    pub password: String,
}

impl From<NewUserDto> for NewUser {
    fn from(d: NewUserDto) -> Self {
        NewUser {
            login: d.login,
            display_name: d.display_name,
            email: d.email,
            phone: d.phone,
            password: d.password,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RegistrationOrgDto {
    pub name: String,
    pub credit_code: String,
    #[serde(default)]
    pub region_code: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RegistrationDto {
    pub user: NewUserDto,
    /// Present to register as a legal person (法人) for a consumer organisation.
    pub org: Option<RegistrationOrgDto>,
}

#[derive(Deserialize, ToSchema)]
pub struct NewStaffDto {
    #[serde(flatten)]
    pub user: NewUserDto,
    pub org_id: i64,
    pub role: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RoleDto {
    pub org_id: i64,
    pub role: String,
}

#[derive(Deserialize, IntoParams)]
pub struct OrgFilter {
    /// Only organisations of this kind.
    pub kind: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct UserFilter {
    /// Only members of this organisation.
    pub org_id: Option<i64>,
}

fn parse_role(s: &str) -> AppResult<Role> {
    Ok(Role::parse(s).ok_or_else(|| DomainError::field("role", "role"))?)
}

async fn user_dto(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Json<UserDto>> {
    let u = accounts::get_user(&app.store, &ctx.caller, id).await?;
    Ok(Json(UserDto::from(&u)))
}

/// The caller's own account.
#[utoipa::path(get, path = "/me", tag = "accounts", responses(
    (status = 200, body = UserDto, description = "the caller"),
    (status = 401, body = ErrorBody, description = "not logged in, or the token was revoked")))]
pub async fn me(ctx: Ctx) -> AppResult<Json<UserDto>> {
    Ok(Json(UserDto::from(current_user(&ctx)?)))
}

/// Self-registration of a consumer (individual, or legal person with an organisation).
#[utoipa::path(post, path = "/register", tag = "accounts", request_body = RegistrationDto, security(()), responses(
    (status = 201, body = UserDto, description = "registered"),
    (status = 409, body = ErrorBody, description = "login or credit code taken"),
    (status = 422, body = ErrorBody, description = "invalid fields")))]
pub async fn register(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(d): JsonBody<RegistrationDto>,
) -> AppResult<impl IntoResponse> {
    let org = d.org.map(|o| NewOrg {
        name: o.name,
        credit_code: o.credit_code,
        region_code: o.region_code,
        ..Default::default()
    });
    let id = accounts::register_consumer(
        &app.store,
        &ctx.caller,
        Registration {
            user: d.user.into(),
            org,
        },
    )
    .await?;
    let u = app
        .store
        .user(id)
        .await?
        .ok_or(DomainError::NotFound { what: "user" })?;
    Ok((StatusCode::CREATED, Json(UserDto::from(&u))))
}

/// Organisations (sysadmin and admin managers).
#[utoipa::path(get, path = "/organisations", tag = "organisations", params(OrgFilter), responses(
    (status = 200, body = [OrgDto], description = "organisations by kind and name"),
    (status = 403, body = ErrorBody, description = "not allowed")))]
pub async fn list_orgs(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(f): Query<OrgFilter>,
) -> AppResult<Json<Vec<OrgDto>>> {
    let kind = match f.kind.as_deref() {
        Some(k) => Some(OrgKind::parse(k).ok_or_else(|| DomainError::field("kind", "org_kind"))?),
        None => None,
    };
    let orgs = accounts::list_orgs(&app.store, &ctx.caller, kind).await?;
    Ok(Json(orgs.into_iter().map(OrgDto::from).collect()))
}

/// Creates an organisation; the credit code's check character is verified.
#[utoipa::path(post, path = "/organisations", tag = "organisations", request_body = NewOrgDto, responses(
    (status = 201, body = OrgDto, description = "created"),
    (status = 409, body = ErrorBody, description = "name or credit code taken"),
    (status = 422, body = ErrorBody, description = "invalid fields")))]
pub async fn create_org(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(d): JsonBody<NewOrgDto>,
) -> AppResult<impl IntoResponse> {
    let id = accounts::create_org(&app.store, &ctx.caller, d.into()).await?;
    let org = app
        .store
        .org(id)
        .await?
        .ok_or(DomainError::NotFound { what: "organisation" })?;
    Ok((StatusCode::CREATED, Json(OrgDto::from(org))))
}

/// One organisation.
#[utoipa::path(get, path = "/organisations/{id}", tag = "organisations", params(("id" = i64, Path)), responses(
    (status = 200, body = OrgDto, description = "the organisation"),
    (status = 404, body = ErrorBody, description = "no such organisation")))]
pub async fn get_org(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<OrgDto>> {
    require(&ctx.caller.actor, Action::ListOrgs, Target::Platform)?;
    let org = app
        .store
        .org(id)
        .await?
        .ok_or(DomainError::NotFound { what: "organisation" })?;
    Ok(Json(org.into()))
}

/// Users with their roles.
#[utoipa::path(get, path = "/users", tag = "users", params(UserFilter), responses(
    (status = 200, body = [UserDto], description = "users by login"),
    (status = 403, body = ErrorBody, description = "not allowed")))]
pub async fn list_users(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(f): Query<UserFilter>,
) -> AppResult<Json<Vec<UserDto>>> {
    let users = accounts::list_users(&app.store, &ctx.caller, f.org_id).await?;
    Ok(Json(users.iter().map(UserDto::from).collect()))
}

/// Creates a staff account with its first role.
#[utoipa::path(post, path = "/users", tag = "users", request_body = NewStaffDto, responses(
    (status = 201, body = UserDto, description = "created"),
    (status = 403, body = ErrorBody, description = "not allowed for this organisation or role"),
    (status = 409, body = ErrorBody, description = "login taken"),
    (status = 422, body = ErrorBody, description = "invalid fields")))]
pub async fn create_staff(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(d): JsonBody<NewStaffDto>,
) -> AppResult<impl IntoResponse> {
    let staff = NewStaff {
        user: d.user.into(),
        org_id: d.org_id,
        role: d.role,
    };
    let id = accounts::create_staff(&app.store, &ctx.caller, staff).await?;
    Ok((StatusCode::CREATED, user_dto(&app, &ctx, id).await?))
}

/// One user (oneself, or anyone for those who manage users).
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = i64, Path)), responses(
    (status = 200, body = UserDto, description = "the user"),
    (status = 404, body = ErrorBody, description = "no such user")))]
pub async fn get_user(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<UserDto>> {
    user_dto(&app, &ctx, id).await
}

/// Grants a role in an organisation; it takes effect on the user's next request.
#[utoipa::path(post, path = "/users/{id}/roles", tag = "users", params(("id" = i64, Path)), request_body = RoleDto, responses(
    (status = 200, body = UserDto, description = "the user with the new role"),
    (status = 409, body = ErrorBody, description = "already held"),
    (status = 422, body = ErrorBody, description = "role does not fit the organisation")))]
pub async fn grant_role(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<RoleDto>,
) -> AppResult<Json<UserDto>> {
    accounts::set_role(&app.store, &ctx.caller, id, d.org_id, parse_role(&d.role)?, true).await?;
    user_dto(&app, &ctx, id).await
}

/// Removes a role.
#[utoipa::path(delete, path = "/users/{id}/roles/{org_id}/{role}", tag = "users",
    params(("id" = i64, Path), ("org_id" = i64, Path), ("role" = String, Path)), responses(
    (status = 200, body = UserDto, description = "the user without the role"),
    (status = 409, body = ErrorBody, description = "not held")))]
pub async fn remove_role(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((id, org_id, role)): Path<(i64, i64, String)>,
) -> AppResult<Json<UserDto>> {
    accounts::set_role(&app.store, &ctx.caller, id, org_id, parse_role(&role)?, false).await?;
    user_dto(&app, &ctx, id).await
}

/// Disables an account and ends its sessions; its tokens stop working.
#[utoipa::path(post, path = "/users/{id}/disable", tag = "users", params(("id" = i64, Path)), responses(
    (status = 200, body = UserDto, description = "disabled"),
    (status = 403, body = ErrorBody, description = "not allowed (e.g. oneself)")))]
pub async fn disable(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<UserDto>> {
    accounts::set_disabled(&app.store, &ctx.caller, id, true).await?;
    user_dto(&app, &ctx, id).await
}

/// Re-enables an account.
#[utoipa::path(post, path = "/users/{id}/enable", tag = "users", params(("id" = i64, Path)), responses(
    (status = 200, body = UserDto, description = "enabled")))]
pub async fn enable(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<UserDto>> {
    accounts::set_disabled(&app.store, &ctx.caller, id, false).await?;
    user_dto(&app, &ctx, id).await
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventDto {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// JSON summary before the change.
    pub before: Option<String>,
    /// JSON summary after the change.
    pub after: Option<String>,
    pub client_ip: Option<String>,
}

impl From<AuditRow> for AuditEventDto {
    fn from(r: AuditRow) -> Self {
        AuditEventDto {
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            before: r.before,
            after: r.after,
            client_ip: r.client_ip,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VerifyDto {
    pub intact: bool,
    /// Events checked when intact.
    pub events: Option<i64>,
    /// The first broken row when not.
    pub broken: Option<String>,
}

/// Re-computes the audit hash chain.
#[utoipa::path(get, path = "/audit/verify", tag = "audit", responses(
    (status = 200, body = VerifyDto, description = "the verdict")))]
pub async fn audit_verify(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<VerifyDto>> {
    require(&ctx.caller.actor, Action::ViewAudit, Target::Platform)?;
    Ok(Json(match app.store.verify_audit().await? {
        VerifyReport::Intact { events } => VerifyDto {
            intact: true,
            events: Some(events),
            broken: None,
        },
        VerifyReport::Broken(b) => VerifyDto {
            intact: false,
            events: None,
            broken: Some(format!("{b:?}")),
        },
    }))
}

use super::ErrorBody;
