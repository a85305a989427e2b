//! 数据质量评价 — the six quality dimensions of §8 (完整性, 有效性, 一致性, 规范性, 连续性,
//! 真实性), each scored 0–100 from plain inputs with the reasons behind the score, and the
//! timeliness rule the overdue monitor applies. Pure: the service gathers the inputs.
//!
//! Every score is "100 minus what its reasons cost": each reason carries the points it takes
//! off, so the reasons explain the score exactly and the costliest one is what to fix first.
//! A dimension that has nothing to measure (no data loaded, an irregular update frequency)
//! scores `None`, shown as "not measured", and is left out of averages. docs/quality.md
//! explains each formula in plain words with an example.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::field::FieldType;
use crate::metadata::{ResourceMeta, UpdateFrequency};

/// Share of a resource's completeness that comes from its data; the rest is its metadata.
const DATA_WEIGHT: f64 = 0.8;
/// Points an accepted correction takes off authenticity while no newer version fixes it.
const OPEN_ERROR_POINTS: f64 = 10.0;
/// Points an accepted correction takes off authenticity once a newer version fixed it.
const FIXED_ERROR_POINTS: f64 = 2.0;

/// The six dimensions, in the order the standard lists them (§8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// 完整性 — required values present, metadata complete.
    Completeness,
    /// 有效性 — values conform to declared types, patterns, code lists and ranges.
    Validity,
    /// 一致性 — declared vs actual schema, schema stable across versions, key rules.
    Consistency,
    /// 规范性 — metadata follows DESIGN §3, open machine-readable format available.
    Normativity,
    /// 连续性 — updated as often as promised, no gaps in the version history.
    Continuity,
    /// 真实性 — checksums and provenance intact, confirmed errors corrected.
    Authenticity,
}

impl Dimension {
    pub const ALL: [Dimension; 6] = [
        Dimension::Completeness,
        Dimension::Validity,
        Dimension::Consistency,
        Dimension::Normativity,
        Dimension::Continuity,
        Dimension::Authenticity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Completeness => "completeness",
            Dimension::Validity => "validity",
            Dimension::Consistency => "consistency",
            Dimension::Normativity => "normativity",
            Dimension::Continuity => "continuity",
            Dimension::Authenticity => "authenticity",
        }
    }
}

/// Why a score is below 100 (or why it is not measured): a translatable code with named
/// values, and the points it costs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub code: &'static str,
    /// Points taken off the dimension's score (0 for reasons that only explain); exact here,
    /// shown with one decimal.
    #[serde(serialize_with = "one_decimal")]
    pub points: f64,
    pub params: BTreeMap<&'static str, serde_json::Value>,
}

impl Reason {
    fn new(code: &'static str, points: f64) -> Reason {
        Reason {
            code,
            points,
            params: BTreeMap::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl Into<serde_json::Value>) -> Reason {
        self.params.insert(name, value.into());
        self
    }
}

/// One dimension's score with its reasons, costliest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// 0–100, exact here and shown with one decimal; `None` when there is nothing to measure.
    #[serde(serialize_with = "one_decimal_opt")]
    pub score: Option<f64>,
    pub reasons: Vec<Reason>,
}

impl Score {
    /// The score with one decimal, as shown.
    pub fn value(&self) -> Option<f64> {
        self.score.map(round1)
    }

    /// 100 minus the reasons' points, at least 0.
    fn from_reasons(mut reasons: Vec<Reason>) -> Score {
        let lost: f64 = reasons.iter().map(|r| r.points).sum();
        sort_reasons(&mut reasons);
        Score {
            score: Some((100.0 - lost).max(0.0)),
            reasons,
        }
    }

    fn not_measured(reason: Reason) -> Score {
        Score {
            score: None,
            reasons: vec![reason],
        }
    }
}

fn sort_reasons(reasons: &mut [Reason]) {
    reasons.sort_by(|a, b| b.points.total_cmp(&a.points));
}

/// The six scores of a distribution, a resource or a provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    pub completeness: Score,
    pub validity: Score,
    pub consistency: Score,
    pub normativity: Score,
    pub continuity: Score,
    pub authenticity: Score,
}

impl Scores {
    pub fn get(&self, d: Dimension) -> &Score {
        match d {
            Dimension::Completeness => &self.completeness,
            Dimension::Validity => &self.validity,
            Dimension::Consistency => &self.consistency,
            Dimension::Normativity => &self.normativity,
            Dimension::Continuity => &self.continuity,
            Dimension::Authenticity => &self.authenticity,
        }
    }

    /// The mean of the measured dimensions, `None` when none is.
    pub fn overall(&self) -> Option<f64> {
        mean(Dimension::ALL.iter().filter_map(|d| self.get(*d).score)).map(round1)
    }

    /// What to fix first: the lowest measured dimension below 100 and its costliest reasons
    /// (at most `n`). Ties go to the standard's order.
    pub fn fix_first(&self, n: usize) -> Option<(Dimension, Vec<&Reason>)> {
        let (dim, _) = Dimension::ALL
            .iter()
            .filter_map(|d| self.get(*d).value().map(|s| (*d, s)))
            .filter(|(_, s)| *s < 100.0)
            .min_by(|a, b| a.1.total_cmp(&b.1))?;
        let reasons = self
            .get(dim)
            .reasons
            .iter()
            .filter(|r| r.points > 0.0)
            .take(n)
            .collect();
        Some((dim, reasons))
    }
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn one_decimal<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round1(*x))
}

fn one_decimal_opt<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => s.serialize_f64(round1(*x)),
        None => s.serialize_none(),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ---------------------------------------------------------------------------------------------
// Inputs

/// One column of a loaded table as its ingest report saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInput {
    pub name: String,
    /// Empty cells.
    pub nulls: u64,
    /// The narrowest type all non-empty values fit.
    pub actual_type: FieldType,
}

/// Cells of one column failing one value rule (type, date, code, length, precision).
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidCells {
    pub column: String,
    /// The ingest rule's key, e.g. `type_mismatch`.
    pub rule: String,
    pub count: u64,
}

/// A loaded data file (挂接资源) with what its ingest found.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionInput {
    pub version: i64,
    /// Data rows (the header not counted).
    pub rows: u64,
    /// The file's columns.
    pub columns: Vec<ColumnInput>,
    /// Declared fields the file lacks.
    pub missing_columns: Vec<String>,
    /// Value-rule failures per column and rule.
    pub invalid: Vec<InvalidCells>,
    /// Rows repeating an earlier key, and the key's columns joined with `+`.
    pub duplicate_keys: u64,
    pub key: String,
    /// sha256 of the uploaded file was recorded.
    pub upload_checksum: bool,
    /// sha256 of the published copy (the file downloads serve) was recorded.
    pub export_checksum: bool,
}

/// One data version in the resource's history (file or API), oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionInput {
    pub version: i64,
    /// The day it was added (China Standard Time).
    pub added: Date,
    /// The columns and their loaded types (empty for an API).
    pub schema: Vec<(String, FieldType)>,
    pub change_note: bool,
}

/// Error reports on the resource (数据纠错), as far as they matter for authenticity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CorrectionCounts {
    /// Accepted and fixed by a newer version since.
    pub accepted_fixed: u64,
    /// Accepted, no newer version yet.
    pub accepted_open: u64,
    /// Submitted or under review: unconfirmed, they cost nothing.
    pub pending: u64,
}

/// Everything the resource's scores are computed from.
#[derive(Debug, Clone)]
pub struct ResourceInput<'a> {
    pub meta: &'a ResourceMeta,
    /// The data offered now: loaded files (APIs have nothing to read, so they are not here).
    pub distributions: Vec<DistributionInput>,
    /// Whether an API distribution is offered now.
    pub has_api: bool,
    /// Every data version, oldest first.
    pub versions: Vec<VersionInput>,
    /// First publication day, if published.
    pub published: Option<Date>,
    pub corrections: CorrectionCounts,
    pub today: Date,
}

// ---------------------------------------------------------------------------------------------
// Distribution dimensions

/// 完整性 of a table: the share of filled cells. A declared column the file lacks counts as
/// wholly empty; an empty table scores 0. Each column's reason costs its share of all cells.
pub fn distribution_completeness(d: &DistributionInput) -> Score {
    let width = (d.columns.len() + d.missing_columns.len()) as f64;
    if d.rows == 0 || width == 0.0 {
        return Score::from_reasons(vec![Reason::new("empty_table", 100.0)]);
    }
    let rows = d.rows as f64;
    let cells = rows * width;
    let mut reasons: Vec<Reason> = d
        .columns
        .iter()
        .filter(|c| c.nulls > 0)
        .map(|c| {
            Reason::new("column_nulls", 100.0 * c.nulls as f64 / cells)
                .with("column", c.name.as_str())
                .with("share", round3(c.nulls as f64 / rows))
        })
        .collect();
    reasons.extend(
        d.missing_columns
            .iter()
            .map(|c| Reason::new("missing_column", 100.0 * rows / cells).with("column", c.as_str())),
    );
    Score::from_reasons(reasons)
}

/// 有效性 of a table: the share of filled cells that pass the value rules (declared type, date
/// format, code shape, length, precision). Not measured when no cell is filled.
pub fn distribution_validity(d: &DistributionInput) -> Score {
    let filled: u64 = d.columns.iter().map(|c| d.rows.saturating_sub(c.nulls)).sum();
    if filled == 0 {
        return Score::not_measured(Reason::new("no_values", 0.0));
    }
    let reasons = d
        .invalid
        .iter()
        .filter(|i| i.count > 0)
        .map(|i| {
            Reason::new("invalid_values", 100.0 * i.count as f64 / filled as f64)
                .with("column", i.column.as_str())
                .with("rule", i.rule.as_str())
                .with("count", i.count)
        })
        .collect();
    Score::from_reasons(reasons)
}

/// Whether values of `actual` type are at home in a column declared `declared`.
pub fn type_fits(declared: FieldType, actual: FieldType) -> bool {
    use FieldType::*;
    declared == actual
        || matches!(
            (declared, actual),
            (String, _) | (Decimal, Integer) | (Code, Integer) | (Datetime, Date) | (Boolean, Integer)
        )
}

/// 一致性 of a table against the declared 数据项: each column that is declared but missing,
/// present but undeclared, or holding values of another type costs `100 / columns` (columns =
/// declared ∪ present); rows repeating an earlier key cost their share of the rows.
pub fn distribution_consistency(d: &DistributionInput, declared: &[(String, FieldType)]) -> Score {
    let mut names: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
    for c in &d.columns {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&c.name)) {
            names.push(&c.name);
        }
    }
    if names.is_empty() {
        return Score::not_measured(Reason::new("no_columns", 0.0));
    }
    let per_column = 100.0 / names.len() as f64;
    let mut reasons = Vec::new();
    for (name, kind) in declared {
        match d.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
            None => reasons.push(Reason::new("declared_not_in_data", per_column).with("column", name.as_str())),
            Some(c) if c.nulls < d.rows && !type_fits(*kind, c.actual_type) => reasons.push(
                Reason::new("type_differs", per_column)
                    .with("column", name.as_str())
                    .with("declared", kind.as_str())
                    .with("actual", c.actual_type.as_str()),
            ),
            Some(_) => {}
        }
    }
    for c in &d.columns {
        if !declared.iter().any(|(n, _)| n.eq_ignore_ascii_case(&c.name)) {
            reasons.push(Reason::new("undeclared_column", per_column).with("column", c.name.as_str()));
        }
    }
    if d.duplicate_keys > 0 && d.rows > 0 {
        reasons.push(
            Reason::new("duplicate_keys", 100.0 * d.duplicate_keys as f64 / d.rows as f64)
                .with("key", d.key.as_str())
                .with("count", d.duplicate_keys),
        );
    }
    Score::from_reasons(reasons)
}

/// 真实性 of a table: the checksum of the uploaded file and of the published copy each cost
/// 50 points when missing.
pub fn distribution_authenticity(d: &DistributionInput) -> Score {
    let mut reasons = Vec::new();
    if !d.upload_checksum {
        reasons.push(Reason::new("upload_checksum_missing", 50.0));
    }
    if !d.export_checksum {
        reasons.push(Reason::new("export_checksum_missing", 50.0));
    }
    Score::from_reasons(reasons)
}

/// The scores of one loaded table. Normativity and continuity belong to the resource and its
/// history, so a distribution has them not measured.
pub fn distribution_scores(d: &DistributionInput, declared: &[(String, FieldType)]) -> Scores {
    let resource_level = || Score::not_measured(Reason::new("resource_level", 0.0));
    Scores {
        completeness: distribution_completeness(d),
        validity: distribution_validity(d),
        consistency: distribution_consistency(d, declared),
        normativity: resource_level(),
        continuity: resource_level(),
        authenticity: distribution_authenticity(d),
    }
}

// ---------------------------------------------------------------------------------------------
// Resource dimensions

/// The recommended metadata elements beyond the required ones, each worth an equal share of
/// the metadata part of completeness.
fn metadata_gaps(meta: &ResourceMeta) -> (usize, Vec<&'static str>) {
    let checks: [(&'static str, bool); 6] = [
        ("industry", meta.industry.is_some()),
        ("tags", !meta.tags.is_empty()),
        ("contact_phone", meta.contact_phone.is_some()),
        ("contact_email", meta.contact_email.is_some()),
        ("field_titles", meta.fields.iter().all(|f| !f.title.trim().is_empty())),
        (
            "field_descriptions",
            meta.fields.iter().all(|f| !f.description.trim().is_empty()),
        ),
    ];
    (
        checks.len(),
        checks.iter().filter(|(_, ok)| !ok).map(|(k, _)| *k).collect(),
    )
}

/// Parts of a dimension, weighted: the score is the weighted mean of the measured parts (a part
/// with nothing to measure is left out and its weight shared by the others), and the reasons
/// are the parts' reasons with their points scaled by the part's share of the weight, so they
/// still add up to what the score lost (give or take rounding).
fn blend(parts: Vec<(f64, Score)>) -> Score {
    let total: f64 = parts.iter().filter(|(_, s)| s.score.is_some()).map(|(w, _)| w).sum();
    if total == 0.0 {
        let mut reasons: Vec<Reason> = parts.into_iter().flat_map(|(_, s)| s.reasons).collect();
        reasons.dedup_by(|a, b| a.code == b.code);
        return Score { score: None, reasons };
    }
    let mut score = 0.0;
    let mut reasons = Vec::new();
    for (w, s) in parts {
        let Some(x) = s.score else { continue };
        score += w * x / total;
        reasons.extend(s.reasons.into_iter().map(|mut r| {
            r.points *= w / total;
            r
        }));
    }
    sort_reasons(&mut reasons);
    Score {
        score: Some(score),
        reasons,
    }
}

/// A dimension over the current tables: their plain mean (each table counts once).
fn over_tables(d: &[DistributionInput], f: impl Fn(&DistributionInput) -> Score, has_api: bool) -> Score {
    if d.is_empty() {
        return Score::not_measured(Reason::new(if has_api { "api_only" } else { "no_data" }, 0.0));
    }
    let s = blend(d.iter().map(|t| (1.0, f(t))).collect());
    if s.score.is_none() && has_api {
        return Score::not_measured(Reason::new("api_only", 0.0));
    }
    s
}

/// 完整性 of a resource: 80 % its tables' completeness (their mean), 20 % its metadata (the
/// share of the six recommended elements present). Without a loaded table, metadata only.
pub fn completeness(r: &ResourceInput) -> Score {
    let data = over_tables(&r.distributions, distribution_completeness, r.has_api);
    let (n, gaps) = metadata_gaps(r.meta);
    let meta = Score::from_reasons(
        gaps.iter()
            .map(|k| Reason::new("metadata_missing", 100.0 / n as f64).with("element", *k))
            .collect(),
    );
    blend(vec![(DATA_WEIGHT, data), (1.0 - DATA_WEIGHT, meta)])
}

/// 有效性 of a resource: the mean of its tables' validity.
pub fn validity(r: &ResourceInput) -> Score {
    over_tables(&r.distributions, distribution_validity, r.has_api)
}

/// The schema of a version as a sorted set, for comparing versions.
fn schema_key(schema: &[(String, FieldType)]) -> Vec<(String, &'static str)> {
    let mut s: Vec<(String, &'static str)> = schema.iter().map(|(n, t)| (n.to_lowercase(), t.as_str())).collect();
    s.sort();
    s
}

/// 一致性 of a resource: its tables against the declared 数据项 (their mean), and the
/// schema's stability across file versions — each change between consecutive versions costs
/// `100 / changes possible` — weighted equally.
pub fn consistency(r: &ResourceInput) -> Score {
    let declared: Vec<(String, FieldType)> = r.meta.fields.iter().map(|f| (f.name.clone(), f.field_type)).collect();
    let tables = over_tables(&r.distributions, |d| distribution_consistency(d, &declared), r.has_api);
    let files: Vec<&VersionInput> = r.versions.iter().filter(|v| !v.schema.is_empty()).collect();
    let stability = if files.len() < 2 {
        Score::not_measured(Reason::new("single_version", 0.0))
    } else {
        let per = 100.0 / (files.len() - 1) as f64;
        Score::from_reasons(
            files
                .windows(2)
                .filter(|w| schema_key(&w[0].schema) != schema_key(&w[1].schema))
                .map(|w| {
                    Reason::new("schema_changed", per)
                        .with("from", w[0].version)
                        .with("to", w[1].version)
                })
                .collect(),
        )
    };
    blend(vec![(0.5, tables), (0.5, stability)])
}

/// Lower-case ASCII letters, digits and `_`, starting with a letter: names that every tool and
/// database take without quoting.
fn machine_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Summaries shorter than this do not say enough to find and judge the data.
const GOOD_SUMMARY_CHARS: usize = 50;

/// 规范性 of a resource: five checks of DESIGN §3, 20 points each — a summary of at least 50
/// characters; every 数据项 described; field names in machine form (`snake_case` ASCII);
/// every `code` field declaring its code's length (the code list's shape); and an open
/// machine-readable format available (a loaded table, which downloads serve as UTF-8 CSV, or an
/// API).
pub fn normativity(r: &ResourceInput) -> Score {
    let m = r.meta;
    let mut reasons = Vec::new();
    let chars = m.summary.chars().count();
    if chars < GOOD_SUMMARY_CHARS {
        reasons.push(
            Reason::new("summary_short", 20.0)
                .with("chars", chars)
                .with("min", GOOD_SUMMARY_CHARS),
        );
    }
    let undescribed: Vec<&str> = m
        .fields
        .iter()
        .filter(|f| f.description.trim().is_empty())
        .map(|f| f.name.as_str())
        .collect();
    if !undescribed.is_empty() {
        reasons.push(Reason::new("fields_undescribed", 20.0).with("columns", undescribed.join(", ")));
    }
    let irregular: Vec<&str> = m
        .fields
        .iter()
        .filter(|f| !machine_name(&f.name))
        .map(|f| f.name.as_str())
        .collect();
    if !irregular.is_empty() {
        reasons.push(Reason::new("field_names_irregular", 20.0).with("columns", irregular.join(", ")));
    }
    let unshaped: Vec<&str> = m
        .fields
        .iter()
        .filter(|f| f.field_type == FieldType::Code && f.length.is_none())
        .map(|f| f.name.as_str())
        .collect();
    if !unshaped.is_empty() {
        reasons.push(Reason::new("code_length_missing", 20.0).with("columns", unshaped.join(", ")));
    }
    if r.distributions.is_empty() && !r.has_api {
        reasons.push(Reason::new("no_open_format", 20.0));
    }
    Score::from_reasons(reasons)
}

/// Days of grace after an update is due before it counts as late: a fifth of the period,
/// at least one day (daily 1, weekly 2, monthly 7, quarterly 19, half-yearly 37, yearly 74).
pub fn grace_days(period: u32) -> u32 {
    period.div_ceil(5).max(1)
}

/// The timeliness rule: the day after which data last updated on `last_update` is overdue
/// (`None` for irregular data). Data is overdue from the day after `last_update + period +
/// grace`.
pub fn update_due(frequency: UpdateFrequency, last_update: Date) -> Option<Date> {
    let period = frequency.nominal_days()?;
    Some(last_update.add_days(i64::from(period + grace_days(period))))
}

/// Whether data last updated on `last_update` is overdue on `today`.
pub fn is_overdue(frequency: UpdateFrequency, last_update: Date, today: Date) -> bool {
    update_due(frequency, last_update).is_some_and(|due| today > due)
}

/// 连续性 of a resource, two parts weighted equally:
/// - timeliness: data not updated within its period plus grace loses the share of one period
///   it is late by (one full period late scores 0);
/// - gaps: each interval between consecutive versions (and from the last to today) longer than
///   period plus grace costs `100 / intervals`.
///
/// Irregular data, and a resource with neither versions nor a publication day, are not measured.
pub fn continuity(r: &ResourceInput) -> Score {
    let Some(period) = r.meta.update_frequency.nominal_days() else {
        return Score::not_measured(Reason::new("irregular", 0.0));
    };
    let mut days: Vec<Date> = r.versions.iter().map(|v| v.added).collect();
    days.sort();
    let Some(last) = days.last().copied().into_iter().chain(r.published).max() else {
        return Score::not_measured(Reason::new("no_versions", 0.0));
    };
    let allowed = i64::from(period + grace_days(period));
    let late = last.days_until(r.today) - allowed;
    let timeliness = if late > 0 {
        Score::from_reasons(vec![Reason::new(
            "overdue",
            (100.0 * late as f64 / f64::from(period)).min(100.0),
        )
        .with("days", late)
        .with("last_update", last.to_string())])
    } else {
        Score::from_reasons(Vec::new())
    };
    let mut points: Vec<Date> = days.clone();
    points.push(r.today.max(last));
    let intervals = points.len() - 1;
    let gaps = if intervals < 2 {
        Score::not_measured(Reason::new("single_version", 0.0))
    } else {
        let per = 100.0 / intervals as f64;
        Score::from_reasons(
            points
                .windows(2)
                .filter(|w| w[0].days_until(w[1]) > allowed)
                .map(|w| {
                    Reason::new("version_gap", per)
                        .with("from", w[0].to_string())
                        .with("to", w[1].to_string())
                        .with("days", w[0].days_until(w[1]))
                })
                .collect(),
        )
    };
    blend(vec![(0.5, timeliness), (0.5, gaps)])
}

/// 真实性 of a resource: its tables' checksums (their mean) and its provenance — every version
/// after the first saying what changed, each silent one costing `100 / later versions` —
/// weighted equally; then each accepted correction takes off 10 points while no newer version
/// fixes it, 2 once one does. Pending reports cost nothing until confirmed.
pub fn authenticity(r: &ResourceInput) -> Score {
    let tables = over_tables(&r.distributions, distribution_authenticity, r.has_api);
    let later = r.versions.len().saturating_sub(1);
    let provenance = if later == 0 {
        Score::not_measured(Reason::new("single_version", 0.0))
    } else {
        let per = 100.0 / later as f64;
        Score::from_reasons(
            r.versions
                .iter()
                .skip(1)
                .filter(|v| !v.change_note)
                .map(|v| Reason::new("change_note_missing", per).with("version", v.version))
                .collect(),
        )
    };
    let base = blend(vec![(0.5, tables), (0.5, provenance)]);
    let c = r.corrections;
    let mut extra = Vec::new();
    if c.accepted_open > 0 {
        extra.push(
            Reason::new("errors_unfixed", OPEN_ERROR_POINTS * c.accepted_open as f64).with("count", c.accepted_open),
        );
    }
    if c.accepted_fixed > 0 {
        extra.push(
            Reason::new("errors_fixed", FIXED_ERROR_POINTS * c.accepted_fixed as f64).with("count", c.accepted_fixed),
        );
    }
    if c.pending > 0 {
        extra.push(Reason::new("reports_pending", 0.0).with("count", c.pending));
    }
    let lost: f64 = extra.iter().map(|r| r.points).sum();
    let mut reasons = base.reasons;
    reasons.extend(extra);
    sort_reasons(&mut reasons);
    let score = match base.score {
        Some(s) => Some((s - lost).max(0.0)),
        None if lost > 0.0 => Some((100.0 - lost).max(0.0)),
        None => None,
    };
    Score { score, reasons }
}

/// The six scores of a resource.
pub fn resource_scores(r: &ResourceInput) -> Scores {
    Scores {
        completeness: completeness(r),
        validity: validity(r),
        consistency: consistency(r),
        normativity: normativity(r),
        continuity: continuity(r),
        authenticity: authenticity(r),
    }
}

/// A provider's score on each dimension: the plain mean over its published resources that are
/// measured on it — every resource counts once, however large, so a department cannot hide many
/// poor resources behind one big good one. Reasons are left to the resources.
pub fn provider_scores(resources: &[Scores]) -> BTreeMap<Dimension, Option<f64>> {
    Dimension::ALL
        .iter()
        .map(|d| (*d, mean(resources.iter().filter_map(|s| s.get(*d).score)).map(round1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::valid_meta;

    fn col(name: &str, nulls: u64, t: FieldType) -> ColumnInput {
        ColumnInput {
            name: name.into(),
            nulls,
            actual_type: t,
        }
    }

    fn table(rows: u64, columns: Vec<ColumnInput>) -> DistributionInput {
        DistributionInput {
            version: 1,
            rows,
            columns,
            missing_columns: vec![],
            invalid: vec![],
            duplicate_keys: 0,
            key: String::new(),
            upload_checksum: true,
            export_checksum: true,
        }
    }

    fn day(s: &str) -> Date {
        Date::parse(s).expect("a date")
    }

    fn codes(s: &Score) -> Vec<&str> {
        s.reasons.iter().map(|r| r.code).collect()
    }

    #[test]
    fn completeness_counts_empty_cells() {
        // 10 rows × 4 columns = 40 cells; 4 + 2 empty, and a declared column missing (10 cells).
        let mut d = table(
            10,
            vec![
                col("a", 4, FieldType::String),
                col("b", 2, FieldType::Integer),
                col("c", 0, FieldType::Integer),
            ],
        );
        d.missing_columns = vec!["d".into()];
        let s = distribution_completeness(&d);
        // (40 − 16) / 40 = 60.
        assert_eq!(s.value(), Some(60.0));
        assert_eq!(codes(&s), ["missing_column", "column_nulls", "column_nulls"]);
        assert_eq!(s.reasons[0].points, 25.0);
        assert_eq!(s.reasons[1].points, 10.0);
        assert_eq!(s.reasons[1].params["column"], "a");
        assert_eq!(s.reasons[1].params["share"], 0.4);
    }

    #[test]
    fn empty_table_is_incomplete_and_not_measured_for_validity() {
        let d = table(0, vec![col("a", 0, FieldType::String)]);
        assert_eq!(distribution_completeness(&d).value(), Some(0.0));
        assert_eq!(codes(&distribution_completeness(&d)), ["empty_table"]);
        assert_eq!(distribution_validity(&d).value(), None);
    }

    #[test]
    fn validity_is_the_share_of_valid_filled_cells() {
        // 20 rows × 2 columns, 5 empty → 35 filled cells; 7 invalid → 80.
        let mut d = table(
            20,
            vec![col("n", 5, FieldType::Integer), col("day", 0, FieldType::Date)],
        );
        d.invalid = vec![
            InvalidCells {
                column: "n".into(),
                rule: "type_mismatch".into(),
                count: 3,
            },
            InvalidCells {
                column: "day".into(),
                rule: "invalid_date".into(),
                count: 4,
            },
        ];
        let s = distribution_validity(&d);
        assert_eq!(s.value(), Some(80.0));
        assert_eq!(s.reasons[0].params["column"], "day");
        assert_eq!(round1(s.reasons[0].points), 11.4);
    }

    #[test]
    fn consistency_compares_declared_and_actual_columns() {
        let declared = vec![
            ("code".to_string(), FieldType::Code),
            ("n".to_string(), FieldType::Integer),
            ("gone".to_string(), FieldType::String),
        ];
        // code holds digits (fits a code), n holds decimals (does not fit), extra is undeclared,
        // gone is missing: 4 columns, 3 problems → 25 each; 2 of 10 rows repeat a key → 20.
        let mut d = table(
            10,
            vec![
                col("code", 0, FieldType::Integer),
                col("n", 0, FieldType::Decimal),
                col("extra", 0, FieldType::String),
            ],
        );
        d.duplicate_keys = 2;
        d.key = "code".into();
        let s = distribution_consistency(&d, &declared);
        assert_eq!(s.value(), Some(5.0));
        assert_eq!(
            codes(&s),
            [
                "type_differs",
                "declared_not_in_data",
                "undeclared_column",
                "duplicate_keys"
            ]
        );
        // An all-empty column's type is no evidence either way.
        let d = table(
            10,
            vec![col("code", 0, FieldType::Code), col("n", 10, FieldType::String)],
        );
        assert_eq!(distribution_consistency(&d, &declared[..2]).value(), Some(100.0));
    }

    #[test]
    fn authenticity_of_a_table_needs_both_checksums() {
        let mut d = table(1, vec![col("a", 0, FieldType::String)]);
        assert_eq!(distribution_authenticity(&d).value(), Some(100.0));
        d.export_checksum = false;
        assert_eq!(distribution_authenticity(&d).value(), Some(50.0));
    }

    fn version(v: i64, added: &str, note: bool) -> VersionInput {
        VersionInput {
            version: v,
            added: day(added),
            schema: vec![("code".into(), FieldType::Code), ("name".into(), FieldType::String)],
            change_note: note,
        }
    }

    fn input<'a>(meta: &'a ResourceMeta, dists: Vec<DistributionInput>, today: &str) -> ResourceInput<'a> {
        ResourceInput {
            meta,
            distributions: dists,
            has_api: false,
            versions: vec![version(1, "2025-01-10", false)],
            published: Some(day("2025-01-12")),
            corrections: CorrectionCounts::default(),
            today: day(today),
        }
    }

    #[test]
    fn resource_completeness_weighs_data_and_metadata() {
        // The sample lacks contact_email and field descriptions: 2 of 6 → metadata 66.67.
        let meta = valid_meta();
        let d = table(
            10,
            vec![col("code", 0, FieldType::Code), col("name", 5, FieldType::String)],
        );
        let r = input(&meta, vec![d], "2025-01-15");
        let s = completeness(&r);
        // 0.8 × 75 + 0.2 × 66.67 = 73.3.
        assert_eq!(s.value(), Some(73.3));
        assert_eq!(codes(&s), ["column_nulls", "metadata_missing", "metadata_missing"]);
        assert_eq!(s.reasons[0].points, 20.0);
        assert_eq!(round1(s.reasons[1].points), 3.3);
        // Without data, metadata alone.
        let r = input(&meta, vec![], "2025-01-15");
        assert_eq!(completeness(&r).value(), Some(66.7));
        assert_eq!(validity(&r).value(), None);
        assert_eq!(codes(&validity(&r)), ["no_data"]);
    }

    #[test]
    fn schema_changes_between_versions_cost_consistency() {
        let meta = valid_meta();
        let d = table(
            10,
            vec![col("code", 0, FieldType::Code), col("name", 0, FieldType::String)],
        );
        let mut r = input(&meta, vec![d], "2025-03-01");
        assert_eq!(consistency(&r).value(), Some(100.0));
        let mut v3 = version(3, "2025-03-01", true);
        v3.schema.push(("extra".into(), FieldType::Integer));
        r.versions = vec![version(1, "2025-01-01", false), version(2, "2025-02-01", true), v3];
        // Tables 100, stability: 1 change of 2 → 50; equal weights → 75.
        let s = consistency(&r);
        assert_eq!(s.value(), Some(75.0));
        assert_eq!(codes(&s), ["schema_changed"]);
        assert_eq!(s.reasons[0].params["from"], 2);
        assert_eq!(s.reasons[0].points, 25.0);
    }

    #[test]
    fn normativity_checks_five_rules() {
        let mut meta = valid_meta();
        // The sample's summary is short, its fields undescribed and its code field has no length.
        let r = input(&meta, vec![], "2025-01-15");
        let s = normativity(&r);
        assert_eq!(s.value(), Some(20.0));
        assert_eq!(
            codes(&s),
            [
                "summary_short",
                "fields_undescribed",
                "code_length_missing",
                "no_open_format"
            ]
        );
        meta.summary = "四川省省、市、县三级行政区划代码及名称，按年度更新，来源于民政部门公布的全国行政区划代码，包含代码与名称两项。".into();
        for f in &mut meta.fields {
            f.description = "说明".into();
        }
        meta.fields[0].length = Some(6);
        meta.fields[1].name = "Name".into();
        let mut r = input(&meta, vec![], "2025-01-15");
        r.has_api = true;
        let s = normativity(&r);
        assert_eq!(s.value(), Some(80.0));
        assert_eq!(codes(&s), ["field_names_irregular"]);
        assert_eq!(s.reasons[0].params["columns"], "Name");
    }

    #[test]
    fn grace_and_overdue_rule() {
        assert_eq!(grace_days(1), 1);
        assert_eq!(grace_days(7), 2);
        assert_eq!(grace_days(31), 7);
        assert_eq!(grace_days(366), 74);
        let last = day("2025-01-01");
        // Monthly: 31 + 7 days → due 2025-02-08; overdue from 2025-02-09.
        assert_eq!(update_due(UpdateFrequency::Monthly, last), Some(day("2025-02-08")));
        assert!(!is_overdue(UpdateFrequency::Monthly, last, day("2025-02-08")));
        assert!(is_overdue(UpdateFrequency::Monthly, last, day("2025-02-09")));
        assert!(!is_overdue(UpdateFrequency::Irregular, last, day("2030-01-01")));
    }

    #[test]
    fn continuity_scores_lateness_and_gaps() {
        let mut meta = valid_meta();
        meta.update_frequency = UpdateFrequency::Monthly;
        let mut r = input(&meta, vec![], "2025-01-20");
        r.published = None;
        // One version, in time: timeliness 100, gaps not measured (one interval).
        assert_eq!(continuity(&r).value(), Some(100.0));
        // 2025-01-10 + 38 = 02-17; on 03-01 it is 12 days late: 100 × 12/31 = 38.7 off → 61.3;
        // gaps: only one interval (to today), not measured.
        r.today = day("2025-03-01");
        let s = continuity(&r);
        assert_eq!(s.value(), Some(61.3));
        assert_eq!(s.reasons[0].code, "overdue");
        assert_eq!(s.reasons[0].params["days"], 12);
        // Versions 01-10, 02-05, 04-20; today 04-25: intervals 26, 74 (a gap), 5 → gaps 66.7;
        // timeliness 100 → mean 83.3.
        r.versions = vec![
            version(1, "2025-01-10", false),
            version(2, "2025-02-05", true),
            version(3, "2025-04-20", true),
        ];
        r.today = day("2025-04-25");
        let s = continuity(&r);
        assert_eq!(s.value(), Some(83.3));
        assert_eq!(codes(&s), ["version_gap"]);
        assert_eq!(s.reasons[0].params["days"], 74);
        // Very late: timeliness floors at 0.
        r.today = day("2026-04-25");
        assert_eq!(continuity(&r).reasons[0].points, 50.0);
    }

    #[test]
    fn continuity_edge_cases() {
        let mut meta = valid_meta();
        meta.update_frequency = UpdateFrequency::Irregular;
        let r = input(&meta, vec![], "2025-01-20");
        assert_eq!(continuity(&r).value(), None);
        assert_eq!(codes(&continuity(&r)), ["irregular"]);
        meta.update_frequency = UpdateFrequency::Monthly;
        let mut r = input(&meta, vec![], "2025-01-20");
        r.versions.clear();
        r.published = None;
        assert_eq!(continuity(&r).value(), None);
        assert_eq!(codes(&continuity(&r)), ["no_versions"]);
        // Published without data versions: timeliness runs from publication.
        r.published = Some(day("2025-01-01"));
        r.today = day("2025-02-14");
        // 44 days − 38 = 6 late → 100 × 6/31 = 19.4 off.
        assert_eq!(continuity(&r).value(), Some(80.6));
    }

    #[test]
    fn authenticity_checks_provenance_and_corrections() {
        let meta = valid_meta();
        let d = table(10, vec![col("code", 0, FieldType::Code)]);
        let mut r = input(&meta, vec![d], "2025-03-01");
        assert_eq!(authenticity(&r).value(), Some(100.0));
        // v2 has a note, v3 not: provenance 50; tables 100 → 75; one open and one fixed
        // accepted correction: − 10 − 2 → 63.
        r.versions = vec![
            version(1, "2025-01-01", false),
            version(2, "2025-02-01", true),
            version(3, "2025-03-01", false),
        ];
        r.corrections = CorrectionCounts {
            accepted_fixed: 1,
            accepted_open: 1,
            pending: 4,
        };
        let s = authenticity(&r);
        assert_eq!(s.value(), Some(63.0));
        assert_eq!(
            codes(&s),
            [
                "change_note_missing",
                "errors_unfixed",
                "errors_fixed",
                "reports_pending"
            ]
        );
        assert_eq!(s.reasons[0].points, 25.0);
        // No data and a single version: nothing measured, unless errors were confirmed.
        let mut r = input(&meta, vec![], "2025-03-01");
        assert_eq!(authenticity(&r).value(), None);
        r.corrections.accepted_open = 2;
        assert_eq!(authenticity(&r).value(), Some(80.0));
    }

    #[test]
    fn overall_fix_first_and_provider_mean() {
        let meta = valid_meta();
        let d = table(
            10,
            vec![col("code", 0, FieldType::Code), col("name", 5, FieldType::String)],
        );
        let r = input(&meta, vec![d], "2025-01-15");
        let s = resource_scores(&r);
        // Normativity is lowest (the sample's short summary etc.).
        let (dim, reasons) = s.fix_first(2).expect("something to fix");
        assert_eq!(dim, Dimension::Normativity);
        assert_eq!(reasons.len(), 2);
        assert_eq!(reasons[0].code, "summary_short");
        let good = Scores {
            normativity: Score::from_reasons(vec![]),
            continuity: Score::not_measured(Reason::new("irregular", 0.0)),
            ..s.clone()
        };
        let p = provider_scores(&[s.clone(), good]);
        assert_eq!(
            p[&Dimension::Normativity],
            Some(round1((s.normativity.score.unwrap() + 100.0) / 2.0))
        );
        // A dimension measured on one resource only is that resource's score.
        assert_eq!(p[&Dimension::Continuity], s.continuity.value());
        assert_eq!(provider_scores(&[])[&Dimension::Validity], None);
    }
}
