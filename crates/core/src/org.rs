//! Organisations: the administration institution (数据管理机构), provider departments
//! (数据提供部门) and consumer organisations (法人数据使用者).

use serde::{Deserialize, Serialize};

use crate::credit_code;
use crate::error::{Checks, DomainError, FieldError};
use crate::user::validate_phone;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 数据管理机构
    AdminInstitution,
    /// 数据提供部门
    Provider,
    /// A company or other organisation using data (法人数据使用者).
    ConsumerOrg,
}

impl OrgKind {
    pub const ALL: [OrgKind; 3] = [OrgKind::AdminInstitution, OrgKind::Provider, OrgKind::ConsumerOrg];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::AdminInstitution => "admin_institution",
            OrgKind::Provider => "provider",
            OrgKind::ConsumerOrg => "consumer_org",
        }
    }

    pub fn parse(s: &str) -> Option<OrgKind> {
        OrgKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What a caller supplies to create an organisation.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NewOrg {
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

/// A validated organisation, normalised for storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidOrg {
    pub kind: OrgKind,
    pub name: String,
    pub credit_code: String,
    pub region_code: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// GB/T 2260 codes are 6 digits; the statistics codes extend them to 9 or 12.
pub fn valid_region_code(code: &str) -> bool {
    matches!(code.len(), 6 | 9 | 12) && code.bytes().all(|b| b.is_ascii_digit())
}

impl NewOrg {
    pub fn validate(&self) -> Result<ValidOrg, DomainError> {
        let mut c = Checks::new();
        let kind = OrgKind::parse(self.kind.trim());
        c.check(kind.is_some(), "kind", "org_kind");
        let name = self.name.trim();
        c.length(name, "name", 2, 100);
        let code = match credit_code::validate(&self.credit_code) {
            Ok(code) => Some(code),
            Err(e) => {
                c.push(FieldError::new("credit_code", e.code()));
                None
            }
        };
        let region = opt(&self.region_code);
        if let Some(r) = &region {
            c.check(valid_region_code(r), "region_code", "region_code");
        }
        let phone = opt(&self.contact_phone);
        if let Some(p) = &phone {
            c.check(validate_phone(p), "contact_phone", "phone");
        }
        let email = opt(&self.contact_email);
        if let Some(e) = &email {
            c.check(crate::user::valid_email(e), "contact_email", "email");
        }
        if let Some(n) = opt(&self.contact_name) {
            c.length(&n, "contact_name", 1, 50);
        }
        c.finish()?;
        Ok(ValidOrg {
            kind: kind.expect("checked above"),
            name: name.to_string(),
            credit_code: code.expect("checked above"),
            region_code: region,
            contact_name: opt(&self.contact_name),
            contact_phone: phone,
            contact_email: email,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NewOrg {
        NewOrg {
            kind: "provider".into(),
            name: "四川省交通运输厅".into(),
            credit_code: "11510000008693034D".into(),
            region_code: "510000".into(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_org_is_normalised() {
        let v = sample().validate().unwrap();
        assert_eq!(v.kind, OrgKind::Provider);
        assert_eq!(v.region_code.as_deref(), Some("510000"));
        assert_eq!(v.contact_email, None);
    }

    #[test]
    fn reports_every_bad_field() {
        let bad = NewOrg {
            kind: "ministry".into(),
            name: "x".into(),
            credit_code: "123".into(),
            region_code: "51".into(),
            contact_email: "not-an-email".into(),
            ..Default::default()
        };
        let Err(DomainError::Validation(errs)) = bad.validate() else {
            panic!()
        };
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["kind", "name", "credit_code", "region_code", "contact_email"]);
    }
}
