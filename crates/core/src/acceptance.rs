//! 数据接收标准 — the acceptance standards (§6) the administration institution sets and every
//! resource submission must pass: minimum quality scores, an open machine-readable format, no
//! unmasked personal data, a long enough summary, required metadata elements. Pure: the
//! service gathers the resource's scores and files; [`evaluate`] says how each rule fares.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::metadata::ResourceMeta;
use crate::quality::{Dimension, Scores};

/// The most characters a summary rule may ask for (the metadata form takes up to 2000).
pub const MAX_SUMMARY_CHARS: u32 = 2000;

/// The lowest score each dimension must reach; `None` sets no minimum.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MinScores {
    pub completeness: Option<f64>,
    pub validity: Option<f64>,
    pub consistency: Option<f64>,
    pub normativity: Option<f64>,
    pub continuity: Option<f64>,
    pub authenticity: Option<f64>,
}

impl MinScores {
    pub fn get(&self, d: Dimension) -> Option<f64> {
        match d {
            Dimension::Completeness => self.completeness,
            Dimension::Validity => self.validity,
            Dimension::Consistency => self.consistency,
            Dimension::Normativity => self.normativity,
            Dimension::Continuity => self.continuity,
            Dimension::Authenticity => self.authenticity,
        }
    }

    pub fn set(&mut self, d: Dimension, v: Option<f64>) {
        let slot = match d {
            Dimension::Completeness => &mut self.completeness,
            Dimension::Validity => &mut self.validity,
            Dimension::Consistency => &mut self.consistency,
            Dimension::Normativity => &mut self.normativity,
            Dimension::Continuity => &mut self.continuity,
            Dimension::Authenticity => &mut self.authenticity,
        };
        *slot = v;
    }
}

/// A metadata element a standard may require beyond what every submission needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Element {
    /// 数据项 — a field dictionary with at least one field.
    Fields,
    /// 关键字
    Tags,
    /// 行业分类
    Industry,
    ContactPhone,
    ContactEmail,
    /// A 中文名 for every field.
    FieldTitles,
    /// A description for every field.
    FieldDescriptions,
    /// 空间范围
    Spatial,
    /// 时间范围 (its start).
    Temporal,
}

impl Element {
    pub const ALL: [Element; 9] = [
        Element::Fields,
        Element::Tags,
        Element::Industry,
        Element::ContactPhone,
        Element::ContactEmail,
        Element::FieldTitles,
        Element::FieldDescriptions,
        Element::Spatial,
        Element::Temporal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Element::Fields => "fields",
            Element::Tags => "tags",
            Element::Industry => "industry",
            Element::ContactPhone => "contact_phone",
            Element::ContactEmail => "contact_email",
            Element::FieldTitles => "field_titles",
            Element::FieldDescriptions => "field_descriptions",
            Element::Spatial => "spatial",
            Element::Temporal => "temporal",
        }
    }

    pub fn parse(s: &str) -> Option<Element> {
        Element::ALL.into_iter().find(|e| e.as_str() == s)
    }

    fn present(self, m: &ResourceMeta) -> bool {
        let filled = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
        match self {
            Element::Fields => !m.fields.is_empty(),
            Element::Tags => !m.tags.is_empty(),
            Element::Industry => m.industry.is_some(),
            Element::ContactPhone => filled(&m.contact_phone),
            Element::ContactEmail => filled(&m.contact_email),
            Element::FieldTitles => !m.fields.is_empty() && m.fields.iter().all(|f| !f.title.trim().is_empty()),
            Element::FieldDescriptions => {
                !m.fields.is_empty() && m.fields.iter().all(|f| !f.description.trim().is_empty())
            }
            Element::Spatial => filled(&m.spatial),
            Element::Temporal => m.temporal_from.is_some(),
        }
    }
}

/// The rules in force. Defaults (see docs/quality.md) ask only what the platform already
/// requires plus an open format, so a new installation accepts what it accepted before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AcceptanceRules {
    pub min_scores: MinScores,
    /// At least one loaded table (served as UTF-8 CSV) or API must be offered.
    pub open_format: bool,
    /// No personal data that is neither masked nor justified.
    pub personal_data: bool,
    /// The shortest summary accepted, in characters; 0 sets no rule.
    pub min_summary_chars: u32,
    pub required_elements: Vec<Element>,
}

impl Default for AcceptanceRules {
    fn default() -> Self {
        AcceptanceRules {
            min_scores: MinScores::default(),
            open_format: true,
            personal_data: true,
            min_summary_chars: 20,
            required_elements: Vec::new(),
        }
    }
}

impl AcceptanceRules {
    /// Checks the rules themselves: scores within 0–100, a summary length within the form's.
    /// Duplicated elements are dropped and the rest sorted.
    pub fn validated(mut self) -> Result<AcceptanceRules, crate::DomainError> {
        let mut errors = Vec::new();
        for d in Dimension::ALL {
            if let Some(v) = self.min_scores.get(d) {
                if !(0.0..=100.0).contains(&v) || v.is_nan() {
                    errors.push(
                        FieldError::new(&format!("min_scores.{}", d.as_str()), "score_range")
                            .with("min", 0)
                            .with("max", 100),
                    );
                }
            }
        }
        if self.min_summary_chars > MAX_SUMMARY_CHARS {
            errors.push(
                FieldError::new("min_summary_chars", "number_range")
                    .with("min", 0)
                    .with("max", MAX_SUMMARY_CHARS),
            );
        }
        if !errors.is_empty() {
            return Err(crate::DomainError::Validation(errors));
        }
        self.required_elements.sort();
        self.required_elements.dedup();
        Ok(self)
    }
}

/// What the rules look at in a submission.
#[derive(Debug, Clone)]
pub struct AcceptanceInput<'a> {
    /// The metadata being submitted (a revision's working copy for a revision).
    pub meta: &'a ResourceMeta,
    /// Its six scores as `core::quality` computes them.
    pub scores: &'a Scores,
    /// A loaded table or an API is offered (what 规范性 counts as an open machine-readable
    /// format: loaded CSV, XLSX or JSON files are served as UTF-8 CSV).
    pub open_format: bool,
    /// Personal-data columns of the current files neither masked nor justified.
    pub unresolved_privacy: usize,
}

/// One enabled rule and how the submission fares on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    /// Which rule: `min_score.completeness`, `open_format`, `personal_data`, `summary_length`,
    /// `element.tags`, …
    pub rule: String,
    /// The message's translation key (`min_score`, `not_measured`, `open_format`,
    /// `personal_data`, `summary_length`, `element`).
    pub code: &'static str,
    pub pass: bool,
    /// Named values the message interpolates.
    pub params: BTreeMap<&'static str, String>,
}

/// A rule the submission fails.
pub type Failure = RuleResult;

impl RuleResult {
    fn new(rule: impl Into<String>, code: &'static str, pass: bool) -> RuleResult {
        RuleResult {
            rule: rule.into(),
            code,
            pass,
            params: BTreeMap::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl ToString) -> RuleResult {
        self.params.insert(name, value.to_string());
        self
    }

    /// As a validation problem: field `acceptance.{rule}`, code `acceptance_{code}`.
    pub fn field_error(&self) -> FieldError {
        let mut e = FieldError::new(
            &format!("acceptance.{}", self.rule),
            &format!("acceptance_{}", self.code),
        );
        for (k, v) in &self.params {
            e = e.with(k, v);
        }
        e
    }
}

fn show(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// Every enabled rule with its result, in a fixed order: scores, format, personal data,
/// summary, elements. A dimension that is not measured (nothing to measure) passes its
/// minimum: there is nothing the provider could fix.
pub fn evaluate(rules: &AcceptanceRules, input: &AcceptanceInput) -> Vec<RuleResult> {
    let mut out = Vec::new();
    for d in Dimension::ALL {
        let Some(min) = rules.min_scores.get(d) else { continue };
        let rule = format!("min_score.{}", d.as_str());
        out.push(match input.scores.get(d).value() {
            Some(score) => RuleResult::new(rule, "min_score", score >= min)
                .with("score", show(score))
                .with("min", show(min)),
            None => RuleResult::new(rule, "not_measured", true).with("min", show(min)),
        });
    }
    if rules.open_format {
        out.push(RuleResult::new("open_format", "open_format", input.open_format));
    }
    if rules.personal_data {
        out.push(
            RuleResult::new("personal_data", "personal_data", input.unresolved_privacy == 0)
                .with("count", input.unresolved_privacy),
        );
    }
    if rules.min_summary_chars > 0 {
        let chars = input.meta.summary.trim().chars().count();
        out.push(
            RuleResult::new(
                "summary_length",
                "summary_length",
                chars >= rules.min_summary_chars as usize,
            )
            .with("chars", chars)
            .with("min", rules.min_summary_chars),
        );
    }
    for e in &rules.required_elements {
        out.push(RuleResult::new(
            format!("element.{}", e.as_str()),
            "element",
            e.present(input.meta),
        ));
    }
    out
}

/// The rules the submission fails, all of them.
pub fn check(rules: &AcceptanceRules, input: &AcceptanceInput) -> Vec<Failure> {
    evaluate(rules, input).into_iter().filter(|r| !r.pass).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::NewResourceMeta;
    use crate::quality::{Reason, Score};

    fn meta() -> ResourceMeta {
        let m: NewResourceMeta = serde_json::from_value(serde_json::json!({
            "title": "区县财政支出", "summary": "四川省各区县按月公布的财政支出金额，含区划代码与名称。",
            "domain": "财税金融", "open_type": "unconditional", "update_frequency": "monthly",
            "fields": [{"name": "code", "title": "区划代码", "type": "code", "length": "6"}]}))
        .unwrap();
        m.validate().unwrap()
    }

    fn score(v: Option<f64>) -> Score {
        Score {
            score: v,
            reasons: Vec::<Reason>::new(),
        }
    }

    fn scores(c: Option<f64>) -> Scores {
        Scores {
            completeness: score(c),
            validity: score(Some(92.3)),
            consistency: score(Some(46.7)),
            normativity: score(Some(60.0)),
            continuity: score(None),
            authenticity: score(Some(100.0)),
        }
    }

    fn input<'a>(meta: &'a ResourceMeta, s: &'a Scores) -> AcceptanceInput<'a> {
        AcceptanceInput {
            meta,
            scores: s,
            open_format: true,
            unresolved_privacy: 0,
        }
    }

    fn rules_of(f: impl FnOnce(&mut AcceptanceRules)) -> AcceptanceRules {
        let mut r = AcceptanceRules {
            open_format: false,
            personal_data: false,
            min_summary_chars: 0,
            ..Default::default()
        };
        f(&mut r);
        r
    }

    #[test]
    fn defaults_accept_a_complete_submission() {
        let (m, s) = (meta(), scores(Some(76.0)));
        let results = evaluate(&AcceptanceRules::default(), &input(&m, &s));
        let rules: Vec<&str> = results.iter().map(|r| r.rule.as_str()).collect();
        assert_eq!(rules, ["open_format", "personal_data", "summary_length"]);
        assert!(check(&AcceptanceRules::default(), &input(&m, &s)).is_empty());
    }

    #[test]
    fn minimum_scores_fail_below_and_pass_at_the_minimum() {
        let (m, s) = (meta(), scores(Some(76.0)));
        let rules = rules_of(|r| {
            r.min_scores.completeness = Some(76.0);
            r.min_scores.consistency = Some(60.0);
            r.min_scores.continuity = Some(80.0);
        });
        let all = evaluate(&rules, &input(&m, &s));
        assert_eq!(all.len(), 3);
        assert!(all[0].pass, "76.0 meets 76");
        let f = check(&rules, &input(&m, &s));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, "min_score.consistency");
        assert_eq!(f[0].code, "min_score");
        assert_eq!(f[0].params["score"], "46.7");
        assert_eq!(f[0].params["min"], "60");
        // Continuity is not measured: nothing to fix, so it passes.
        assert_eq!((all[2].code, all[2].pass), ("not_measured", true));
        let e = f[0].field_error();
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("acceptance.min_score.consistency", "acceptance_min_score")
        );
    }

    #[test]
    fn an_open_format_is_required_when_enabled() {
        let (m, s) = (meta(), scores(Some(76.0)));
        let rules = rules_of(|r| r.open_format = true);
        let mut i = input(&m, &s);
        assert!(check(&rules, &i).is_empty());
        i.open_format = false;
        let f = check(&rules, &i);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, "open_format");
        assert!(check(&rules_of(|_| {}), &i).is_empty(), "disabled");
    }

    #[test]
    fn unmasked_personal_data_fails_with_its_count() {
        let (m, s) = (meta(), scores(Some(76.0)));
        let rules = rules_of(|r| r.personal_data = true);
        let mut i = input(&m, &s);
        i.unresolved_privacy = 2;
        let f = check(&rules, &i);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].rule.as_str(), f[0].params["count"].as_str()),
            ("personal_data", "2")
        );
        i.unresolved_privacy = 0;
        assert!(check(&rules, &i).is_empty());
    }

    #[test]
    fn the_summary_must_reach_the_minimum_length() {
        let (m, s) = (meta(), scores(Some(76.0)));
        let chars = m.summary.chars().count();
        assert_eq!(chars, 27);
        let f = check(&rules_of(|r| r.min_summary_chars = 28), &input(&m, &s));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].params["chars"], "27");
        assert_eq!(f[0].params["min"], "28");
        assert!(check(&rules_of(|r| r.min_summary_chars = 27), &input(&m, &s)).is_empty());
    }

    #[test]
    fn required_elements_are_each_checked() {
        let (mut m, s) = (meta(), scores(Some(76.0)));
        let rules = rules_of(|r| {
            r.required_elements = vec![
                Element::Tags,
                Element::Fields,
                Element::FieldTitles,
                Element::FieldDescriptions,
            ]
        });
        let f: Vec<String> = check(&rules, &input(&m, &s)).into_iter().map(|f| f.rule).collect();
        assert_eq!(f, ["element.tags", "element.field_descriptions"]);
        m.tags = vec!["财政".into()];
        m.fields[0].description = "GB/T 2260 区划代码".into();
        assert!(check(&rules, &input(&m, &s)).is_empty());
        m.fields.clear();
        let f: Vec<String> = check(&rules, &input(&m, &s)).into_iter().map(|f| f.rule).collect();
        assert_eq!(
            f,
            ["element.fields", "element.field_titles", "element.field_descriptions"]
        );
    }

    #[test]
    fn every_failure_is_listed_at_once() {
        let (m, s) = (meta(), scores(Some(50.0)));
        let mut rules = AcceptanceRules::default();
        rules.min_scores.completeness = Some(60.0);
        rules.min_summary_chars = 100;
        rules.required_elements = vec![Element::ContactEmail];
        let mut i = input(&m, &s);
        i.open_format = false;
        i.unresolved_privacy = 1;
        let f: Vec<String> = check(&rules, &i).into_iter().map(|f| f.rule).collect();
        assert_eq!(
            f,
            [
                "min_score.completeness",
                "open_format",
                "personal_data",
                "summary_length",
                "element.contact_email"
            ]
        );
    }

    #[test]
    fn rules_are_validated_and_read_leniently() {
        let mut r = AcceptanceRules::default();
        r.min_scores.validity = Some(101.0);
        r.min_summary_chars = 5000;
        match r.validated() {
            Err(crate::DomainError::Validation(e)) => {
                let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["min_scores.validity", "min_summary_chars"]);
            }
            other => panic!("{other:?}"),
        }
        let r: AcceptanceRules =
            serde_json::from_value(serde_json::json!({"required_elements": ["tags", "fields", "tags"]})).unwrap();
        let r = r.validated().unwrap();
        assert_eq!(r.required_elements, [Element::Fields, Element::Tags]);
        assert!(r.open_format && r.personal_data, "missing keys take the defaults");
    }
}
