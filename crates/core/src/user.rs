//! People: accounts, their kind (个人 individual / 法人 legal person) and the roles they hold.

use serde::{Deserialize, Serialize};

use crate::error::{Checks, DomainError};
use crate::org::OrgKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 数据管理机构 manager: runs the platform's organisations and staff.
    AdminManager,
    /// 数据管理机构 reviewer: reviews resources and pre-reviews applications.
    AdminReviewer,
    /// Provider department manager.
    ProviderManager,
    /// Provider department editor: prepares resources.
    ProviderEditor,
    /// Provider department reviewer: reviews applications for the department's data.
    ProviderReviewer,
    /// 数据使用者
    Consumer,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::AdminManager,
        Role::AdminReviewer,
        Role::ProviderManager,
        Role::ProviderEditor,
        Role::ProviderReviewer,
        Role::Consumer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::AdminManager => "admin_manager",
            Role::AdminReviewer => "admin_reviewer",
            Role::ProviderManager => "provider_manager",
            Role::ProviderEditor => "provider_editor",
            Role::ProviderReviewer => "provider_reviewer",
            Role::Consumer => "consumer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The kind of organisation a membership with this role must belong to.
    /// A consumer may also hold the role with no organisation (an individual).
    pub fn org_kind(self) -> OrgKind {
        match self {
            Role::AdminManager | Role::AdminReviewer => OrgKind::AdminInstitution,
            Role::ProviderManager | Role::ProviderEditor | Role::ProviderReviewer => OrgKind::Provider,
            Role::Consumer => OrgKind::ConsumerOrg,
        }
    }

    pub fn is_staff(self) -> bool {
        self != Role::Consumer
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    /// 个人
    Individual,
    /// 法人 — acts for an organisation.
    LegalPerson,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Individual => "individual",
            UserKind::LegalPerson => "legal_person",
        }
    }

    pub fn parse(s: &str) -> Option<UserKind> {
        match s {
            "individual" => Some(UserKind::Individual),
            "legal_person" => Some(UserKind::LegalPerson),
            _ => None,
        }
    }
}

/// Checks that a role may be held in an organisation of the given kind (`None`: no organisation).
pub fn check_membership(role: Role, org_kind: Option<OrgKind>) -> Result<(), DomainError> {
    match (role, org_kind) {
        (Role::Consumer, None) => Ok(()),
        (r, Some(k)) if r.org_kind() == k => Ok(()),
        _ => Err(DomainError::field("role", "role_org_mismatch")),
    }
}

/// What a caller supplies to create an account.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NewUser {
    pub login: String,
    pub display_name: String,
    pub email: String,
    #[serde(default)]
    pub phone: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidUser {
    pub login: String,
    pub display_name: String,
    pub email: String,
    pub phone: Option<String>,
}

pub fn valid_login(login: &str) -> bool {
    let mut chars = login.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
}

pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && email.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Mainland mobile numbers (11 digits starting 13–19) or landlines such as `028-86001234`.
pub fn validate_phone(phone: &str) -> bool {
    let digits: String = phone.chars().filter(|c| *c != '-' && *c != ' ').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let b = digits.as_bytes();
    let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
    let landline = b.first() == Some(&b'0') && (10..=12).contains(&b.len());
    mobile || landline
}

/// Password rules: 10–128 characters, a letter and a digit, and not the login itself.
pub fn check_password(c: &mut Checks, field: &str, password: &str, login: &str) {
    if !c.length(password, field, 10, 128) {
        return;
    }
    let letter = password.chars().any(|ch| ch.is_alphabetic());
    let digit = password.chars().any(|ch| ch.is_ascii_digit());
    if c.check(letter && digit, field, "password_mix") {
        c.check(!password.eq_ignore_ascii_case(login), field, "password_is_login");
    }
}

impl NewUser {
    pub fn validate(&self) -> Result<ValidUser, DomainError> {
        let mut c = Checks::new();
        let login = self.login.trim().to_ascii_lowercase();
        if c.length(&login, "login", 3, 32) {
            c.check(valid_login(&login), "login", "login_chars");
        }
        let display_name = self.display_name.trim();
        c.length(display_name, "display_name", 1, 50);
        let email = self.email.trim();
        if c.length(email, "email", 3, 254) {
            c.check(valid_email(email), "email", "email");
        }
        let phone = self.phone.trim();
        if !phone.is_empty() {
            c.check(validate_phone(phone), "phone", "phone");
        }
        check_password(&mut c, "password", &self.password, &login);
        c.finish()?;
        Ok(ValidUser {
            login,
            display_name: display_name.to_string(),
            email: email.to_string(),
            phone: (!phone.is_empty()).then(|| phone.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(login: &str, password: &str) -> NewUser {
        NewUser {
            login: login.into(),
            display_name: "张三".into(),
            email: "zhang@example.cn".into(),
            phone: "13800138000".into(),
            password: password.into(),
        }
    }

    fn codes(r: Result<ValidUser, DomainError>) -> Vec<String> {
        match r {
            Ok(_) => vec![],
            Err(DomainError::Validation(v)) => v.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn user_rules() {
        assert!(codes(user("zhang.san", "secret-2026-x").validate()).is_empty());
        assert_eq!(codes(user("Zh", "secret-2026-x").validate()), ["login:length"]);
        assert_eq!(codes(user("9lives", "secret-2026-x").validate()), ["login:login_chars"]);
        assert_eq!(codes(user("zhang", "short1").validate()), ["password:length"]);
        assert_eq!(
            codes(user("zhang", "onlyletters").validate()),
            ["password:password_mix"]
        );
        assert_eq!(
            codes(user("zhang123456", "ZHANG123456").validate()),
            ["password:password_is_login"]
        );
    }

    #[test]
    fn phones_and_emails() {
        for ok in ["13800138000", "028-86001234", "19912345678", "0851 8600 1234"] {
            assert!(validate_phone(ok), "{ok}");
        }
        for bad in ["12800138000", "1380013800", "abc", "86001234"] {
            assert!(!validate_phone(bad), "{bad}");
        }
        assert!(valid_email("a.b@gov.cn"));
        for bad in ["a@b", "@gov.cn", "a@@gov.cn", "a b@gov.cn", "a@.cn"] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn roles_belong_to_matching_organisations() {
        assert!(check_membership(Role::Consumer, None).is_ok());
        assert!(check_membership(Role::Consumer, Some(OrgKind::ConsumerOrg)).is_ok());
        assert!(check_membership(Role::ProviderEditor, Some(OrgKind::Provider)).is_ok());
        assert!(check_membership(Role::AdminReviewer, Some(OrgKind::AdminInstitution)).is_ok());
        assert!(check_membership(Role::ProviderEditor, Some(OrgKind::AdminInstitution)).is_err());
        assert!(check_membership(Role::AdminManager, None).is_err());
        assert!(check_membership(Role::Consumer, Some(OrgKind::Provider)).is_err());
    }
}
