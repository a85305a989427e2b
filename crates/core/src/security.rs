//! §7 of the standard, security over the data's whole lifecycle (采集→归集→清洗→共享→开放→利用→销毁):
//! the rules that need no IO — which classification levels may be opened unconditionally, and
//! when a stored data version falls due for destruction (销毁).

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::field::Classification;
use crate::metadata::{OpenType, ResourceMeta};
use crate::{DomainError, FieldError};

/// The stable key of a classification level (`general`, `important`, `core`).
pub fn classification_key(c: Classification) -> &'static str {
    match c {
        Classification::General => "general",
        Classification::Important => "important",
        Classification::Core => "core",
    }
}

pub fn parse_classification(s: &str) -> Option<Classification> {
    [Classification::General, Classification::Important, Classification::Core]
        .into_iter()
        .find(|c| classification_key(*c) == s)
}

/// `[security]` settings: the highest classification a resource's fields may have for the
/// resource to be opened unconditionally (无条件开放). The default, `general`, lets only data whose
/// every field is 一般数据 go out without conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityRules {
    pub max_unconditional_classification: Classification,
}

impl Default for SecurityRules {
    fn default() -> Self {
        SecurityRules {
            max_unconditional_classification: Classification::General,
        }
    }
}

impl SecurityRules {
    /// The fields classified above the level unconditional data may have, as `name (中文名)`.
    pub fn fields_above(&self, meta: &ResourceMeta) -> Vec<String> {
        meta.fields
            .iter()
            .filter(|f| f.classification > self.max_unconditional_classification)
            .map(|f| match f.title.trim() {
                "" => f.name.clone(),
                title => format!("{} ({title})", f.name),
            })
            .collect()
    }

    /// 分级开放 — unconditional metadata must not have a field above the configured level. The
    /// error is on `open_type` and names the fields, so the editor can choose conditional
    /// opening or correct a wrong classification.
    pub fn check_open(&self, meta: &ResourceMeta) -> Result<(), DomainError> {
        if meta.open_type != OpenType::Unconditional {
            return Ok(());
        }
        let above = self.fields_above(meta);
        if above.is_empty() {
            return Ok(());
        }
        let code = format!(
            "unconditional_above_{}",
            classification_key(self.max_unconditional_classification)
        );
        Err(DomainError::Validation(vec![FieldError::new("open_type", &code)
            .with("fields", above.join(", "))
            .with("count", above.len())]))
    }
}

/// `[lifecycle]` settings: how long data versions that no longer serve anyone are kept before
/// they are destroyed. 0 keeps them forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Days after a resource is withdrawn (下架) until all its stored data is destroyed.
    pub withdrawn_retention_days: u32,
    /// Days after a data version is superseded by a newer published one until it is destroyed.
    pub superseded_retention_days: u32,
}

pub const DEFAULT_WITHDRAWN_RETENTION_DAYS: u32 = 180;
pub const DEFAULT_SUPERSEDED_RETENTION_DAYS: u32 = 365;

impl Default for Retention {
    fn default() -> Self {
        Retention {
            withdrawn_retention_days: DEFAULT_WITHDRAWN_RETENTION_DAYS,
            superseded_retention_days: DEFAULT_SUPERSEDED_RETENTION_DAYS,
        }
    }
}

/// Why a stored version may be destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestroyReason {
    /// Its resource was withdrawn (下架) and stayed so for the retention period.
    Withdrawn,
    /// A newer version replaced it and the retention period passed.
    Superseded,
}

impl DestroyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DestroyReason::Withdrawn => "withdrawn",
            DestroyReason::Superseded => "superseded",
        }
    }
}

const DAY_MS: i64 = 86_400_000;

impl Retention {
    fn days(&self, reason: DestroyReason) -> u32 {
        match reason {
            DestroyReason::Withdrawn => self.withdrawn_retention_days,
            DestroyReason::Superseded => self.superseded_retention_days,
        }
    }

    /// When something that became withdrawn or superseded at `since_ms` falls due; `None` when
    /// that kind is kept forever.
    pub fn due_at(&self, reason: DestroyReason, since_ms: i64) -> Option<i64> {
        match self.days(reason) {
            0 => None,
            days => Some(since_ms.saturating_add(i64::from(days) * DAY_MS)),
        }
    }

    pub fn is_due(&self, reason: DestroyReason, since_ms: i64, now_ms: i64) -> bool {
        self.due_at(reason, since_ms).is_some_and(|due| now_ms >= due)
    }
}

/// The audit browser's query as typed into the form or the query string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AuditQueryInput {
    pub actor: String,
    /// An action, or a prefix ending with `.` (e.g. `resource.`).
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// First day, YYYY-MM-DD in China Standard Time.
    pub from: String,
    /// Last day (inclusive), YYYY-MM-DD in China Standard Time.
    pub to: String,
    /// Keyset paging: events older than this sequence number.
    pub before: String,
    pub limit: String,
}

/// A validated audit query; times are milliseconds, `to_ms` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub before_seq: Option<i64>,
    pub limit: i64,
}

pub const AUDIT_PAGE: i64 = 100;
pub const AUDIT_MAX_PAGE: i64 = 1000;
const CST_OFFSET_MS: i64 = 8 * 3_600_000;

/// Midnight at the start of `d` in China Standard Time, in Unix milliseconds.
pub fn cst_day_start_ms(d: Date) -> i64 {
    d.days() * DAY_MS - CST_OFFSET_MS
}

impl AuditQueryInput {
    /// Checks every part at once; each error names its query parameter.
    pub fn validate(&self) -> Result<AuditQuery, DomainError> {
        let mut errors = Vec::new();
        let mut text = |value: &str, field: &str| {
            let v = value.trim();
            if v.chars().count() > 200 {
                errors.push(FieldError::new(field, "length").with("min", 0).with("max", 200));
            }
            (!v.is_empty()).then(|| v.to_string())
        };
        let actor = text(&self.actor, "actor");
        let action = text(&self.action, "action");
        let object_type = text(&self.object_type, "object_type");
        let object_id = text(&self.object_id, "object_id");
        let mut day = |value: &str, field: &str| {
            let v = value.trim();
            if v.is_empty() {
                return None;
            }
            let d = Date::parse(v);
            if d.is_none() {
                errors.push(FieldError::new(field, "date"));
            }
            d
        };
        let from = day(&self.from, "from");
        let to = day(&self.to, "to");
        if let (Some(f), Some(t)) = (from, to) {
            if t < f {
                errors.push(FieldError::new("to", "date_order"));
            }
        }
        let mut number = |value: &str, field: &str, min: i64, max: i64| {
            let v = value.trim();
            if v.is_empty() {
                return None;
            }
            match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Some(n),
                _ => {
                    errors.push(FieldError::new(field, "range").with("min", min).with("max", max));
                    None
                }
            }
        };
        let before_seq = number(&self.before, "before", 1, i64::MAX);
        let limit = number(&self.limit, "limit", 1, AUDIT_MAX_PAGE).unwrap_or(AUDIT_PAGE);
        if !errors.is_empty() {
            return Err(DomainError::Validation(errors));
        }
        Ok(AuditQuery {
            actor,
            action,
            object_type,
            object_id,
            from_ms: from.map(cst_day_start_ms),
            to_ms: to.map(|d| cst_day_start_ms(d.add_days(1))),
            before_seq,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::{field, sample};

    fn with_levels(open_type: &str, levels: &[&str]) -> ResourceMeta {
        let mut form = sample();
        form.open_type = open_type.into();
        form.open_conditions = "仅限科研用途，须签署保密协议。".into();
        form.fields = levels
            .iter()
            .enumerate()
            .map(|(i, level)| {
                let mut f = field(&format!("f{i}"), &format!("字段{i}"), "string");
                f.classification = (*level).into();
                f
            })
            .collect();
        form.validate().expect("valid")
    }

    fn codes(r: Result<(), DomainError>) -> Vec<(String, String, String)> {
        match r {
            Ok(()) => vec![],
            Err(DomainError::Validation(v)) => v
                .into_iter()
                .map(|e| {
                    let fields = e.params.iter().find(|p| p.0 == "fields").map(|p| p.1.clone());
                    (e.field, e.code, fields.unwrap_or_default())
                })
                .collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn audit_queries_validate_and_use_china_standard_time() {
        let q = AuditQueryInput {
            actor: " admin ".into(),
            action: "resource.".into(),
            from: "2026-03-01".into(),
            to: "2026-03-01".into(),
            before: "42".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(q.actor.as_deref(), Some("admin"));
        assert_eq!(q.object_type, None);
        // 2026-03-01 00:00 CST is 2026-02-28 16:00 UTC; the day ends 24 hours later.
        assert_eq!(q.from_ms, Some(1_772_294_400_000));
        assert_eq!(q.to_ms, Some(1_772_294_400_000 + DAY_MS));
        assert_eq!(Date::from_unix_millis_cst(q.from_ms.unwrap()).to_string(), "2026-03-01");
        assert_eq!(
            Date::from_unix_millis_cst(q.to_ms.unwrap() - 1).to_string(),
            "2026-03-01"
        );
        assert_eq!((q.before_seq, q.limit), (Some(42), AUDIT_PAGE));
        let bad = AuditQueryInput {
            from: "2026-02-30".into(),
            to: "yesterday".into(),
            before: "-1".into(),
            limit: "5000".into(),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        let DomainError::Validation(errors) = bad else { panic!() };
        let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(
            fields,
            vec![
                ("from", "date"),
                ("to", "date"),
                ("before", "range"),
                ("limit", "range")
            ]
        );
        let reversed = AuditQueryInput {
            from: "2026-03-02".into(),
            to: "2026-03-01".into(),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            reversed,
            DomainError::Validation(vec![FieldError::new("to", "date_order")])
        );
    }

    #[test]
    fn levels_are_ordered_and_keyed() {
        assert!(Classification::General < Classification::Important);
        assert!(Classification::Important < Classification::Core);
        for c in [Classification::General, Classification::Important, Classification::Core] {
            assert_eq!(parse_classification(classification_key(c)), Some(c));
        }
        assert_eq!(parse_classification("secret"), None);
    }

    #[test]
    fn unconditional_data_keeps_to_the_level() {
        let default = SecurityRules::default();
        assert_eq!(
            codes(default.check_open(&with_levels("unconditional", &["general", "general"]))),
            vec![]
        );
        assert_eq!(
            codes(default.check_open(&with_levels("unconditional", &["general", "important", "core"]))),
            vec![(
                "open_type".to_string(),
                "unconditional_above_general".to_string(),
                "f1 (字段1), f2 (字段2)".to_string()
            )]
        );
        // Conditional opening is the way out for classified fields.
        assert_eq!(
            codes(default.check_open(&with_levels("conditional", &["core"]))),
            vec![]
        );
        let important = SecurityRules {
            max_unconditional_classification: Classification::Important,
        };
        assert_eq!(
            codes(important.check_open(&with_levels("unconditional", &["important"]))),
            vec![]
        );
        assert_eq!(
            codes(important.check_open(&with_levels("unconditional", &["important", "core"]))),
            vec![(
                "open_type".to_string(),
                "unconditional_above_important".to_string(),
                "f1 (字段1)".to_string()
            )]
        );
        let core = SecurityRules {
            max_unconditional_classification: Classification::Core,
        };
        assert_eq!(codes(core.check_open(&with_levels("unconditional", &["core"]))), vec![]);
    }

    #[test]
    fn settings_read_from_toml_keys() {
        let rules: SecurityRules =
            serde_json::from_str(r#"{"max_unconditional_classification": "important"}"#).unwrap();
        assert_eq!(rules.max_unconditional_classification, Classification::Important);
        assert!(serde_json::from_str::<SecurityRules>(r#"{"max_unconditional_classification": "secret"}"#).is_err());
        let r: Retention = serde_json::from_str(r#"{"withdrawn_retention_days": 30}"#).unwrap();
        assert_eq!(r.withdrawn_retention_days, 30);
        assert_eq!(r.superseded_retention_days, DEFAULT_SUPERSEDED_RETENTION_DAYS);
    }

    #[test]
    fn retention_counts_whole_days_and_zero_keeps_forever() {
        let r = Retention {
            withdrawn_retention_days: 30,
            superseded_retention_days: 0,
        };
        let since = 1_700_000_000_000;
        assert!(!r.is_due(DestroyReason::Withdrawn, since, since + 30 * DAY_MS - 1));
        assert!(r.is_due(DestroyReason::Withdrawn, since, since + 30 * DAY_MS));
        assert_eq!(r.due_at(DestroyReason::Superseded, since), None);
        assert!(!r.is_due(DestroyReason::Superseded, since, i64::MAX));
    }
}
