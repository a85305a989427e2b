//! 评估考核 (§8) — the indicator system the administration institution evaluates the provider
//! departments with: the catalogue of metrics the platform computes, indicator systems built from
//! them (validated, versioned by the service), evaluation periods, and the scoring formulas.
//! Pure: the service gathers each provider's raw values and this module turns them into scores.
//!
//! Scoring, in plain words: each indicator's raw values are normalised to 0–100 across the
//! providers by min–max (the best provider gets 100, the worst 0; when all are equal all get 100;
//! "lower is better" metrics are turned round); a provider's layer score is the weighted mean of
//! its measured indicators in that layer, and its total the weighted mean of all its measured
//! indicators. An indicator a provider has nothing to be measured on (no demands, so no handling
//! time) is left out of its means rather than counted as 0. Providers are ranked by total, equal
//! totals sharing a rank (1, 2, 2, 4), listed within a tie by name and id.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::error::{DomainError, FieldError};

/// The four layers of the indicator system, after 开放数林指数.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// 准备度 — plans and their delivery.
    Readiness,
    /// 平台层 / 服务 — how quickly and punctually requests are handled.
    Platform,
    /// 数据层 — what is open, how much, in which form, of what quality.
    Data,
    /// 利用层 — how the open data is used.
    Use,
}

impl Layer {
    pub const ALL: [Layer; 4] = [Layer::Readiness, Layer::Platform, Layer::Data, Layer::Use];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Readiness => "readiness",
            Layer::Platform => "platform",
            Layer::Data => "data",
            Layer::Use => "use",
        }
    }

    pub fn parse(s: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

/// What a raw value counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A share, 0–1.
    Ratio,
    /// Calendar days.
    Days,
    /// A number of things.
    Count,
    /// A 0–100 score.
    Score,
}

/// One metric the platform computes per provider department over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Metric {
    pub id: &'static str,
    pub layer: Layer,
    pub unit: Unit,
    pub direction: Direction,
    /// What it measures, in plain words (the UI shows the translated `metric_doc.<id>`).
    pub doc: &'static str,
}

const fn m(id: &'static str, layer: Layer, unit: Unit, direction: Direction, doc: &'static str) -> Metric {
    Metric {
        id,
        layer,
        unit,
        direction,
        doc,
    }
}

use Direction::{HigherIsBetter as Up, LowerIsBetter as Down};

/// Every metric the platform computes.
pub const CATALOGUE: &[Metric] = &[
    m(
        "plan_completion",
        Layer::Readiness,
        Unit::Ratio,
        Up,
        "Plan items due by the period's end that are published, of those due (cancelled ones aside).",
    ),
    m(
        "self_evaluation_on_time",
        Layer::Readiness,
        Unit::Ratio,
        Up,
        "Quality self-evaluations (自评) whose due day passed in the period that were first submitted by that day, of those due.",
    ),
    m(
        "review_median_days",
        Layer::Platform,
        Unit::Days,
        Down,
        "Median days from submission to the review decision, for the provider's resources reviewed in the period.",
    ),
    m(
        "review_overdue_rate",
        Layer::Platform,
        Unit::Ratio,
        Down,
        "Resource reviews decided after their deadline, or still open past it at the period's end, of all.",
    ),
    m(
        "application_median_days",
        Layer::Platform,
        Unit::Days,
        Down,
        "Median days an application stage (pre-review, provider review, relay) took, for stages ended in the period.",
    ),
    m(
        "application_overdue_rate",
        Layer::Platform,
        Unit::Ratio,
        Down,
        "Application stages ended after their deadline, or still open past it at the period's end, of all.",
    ),
    m(
        "demand_median_days",
        Layer::Platform,
        Unit::Days,
        Down,
        "Median days from a data demand reaching the provider to its answer, for demands answered in the period.",
    ),
    m(
        "demand_overdue_rate",
        Layer::Platform,
        Unit::Ratio,
        Down,
        "Demands answered after their deadline, or unanswered past it at the period's end, of all.",
    ),
    m(
        "correction_median_days",
        Layer::Platform,
        Unit::Days,
        Down,
        "Median days from an error report to the provider's decision, for reports decided in the period.",
    ),
    m(
        "correction_overdue_rate",
        Layer::Platform,
        Unit::Ratio,
        Down,
        "Error reports decided after their deadline, or undecided past it at the period's end, of all.",
    ),
    m(
        "published_resources",
        Layer::Data,
        Unit::Count,
        Up,
        "Resources online, published before the period's end.",
    ),
    m(
        "total_rows",
        Layer::Data,
        Unit::Count,
        Up,
        "Rows in the current data of those resources.",
    ),
    m(
        "machine_readable_share",
        Layer::Data,
        Unit::Ratio,
        Up,
        "Share of those resources readable by machines: a loaded table (CSV, XLSX, JSON) or an API.",
    ),
    m(
        "unconditional_share",
        Layer::Data,
        Unit::Ratio,
        Up,
        "Share of those resources open unconditionally (无条件开放).",
    ),
    m(
        "domain_coverage",
        Layer::Data,
        Unit::Ratio,
        Up,
        "Domains the resources cover, of the platform's standard domains.",
    ),
    m(
        "quality_score",
        Layer::Data,
        Unit::Score,
        Up,
        "The mean six-dimension quality score of the provider's published resources.",
    ),
    m(
        "downloads",
        Layer::Use,
        Unit::Count,
        Up,
        "Downloads of the provider's data in the period.",
    ),
    m(
        "api_calls",
        Layer::Use,
        Unit::Count,
        Up,
        "Data API calls under grants on the provider's resources in the period.",
    ),
    m(
        "grants_issued",
        Layer::Use,
        Unit::Count,
        Up,
        "Grants issued on the provider's resources in the period.",
    ),
    m(
        "accepted_showcases",
        Layer::Use,
        Unit::Count,
        Up,
        "Showcases using the provider's data accepted in the period.",
    ),
    m(
        "feedback_compliance",
        Layer::Use,
        Unit::Ratio,
        Up,
        "Usage reports due in the period on grants of the provider's data that were submitted by their due day, of those due.",
    ),
];

pub fn metric(id: &str) -> Option<&'static Metric> {
    CATALOGUE.iter().find(|m| m.id == id)
}

/// One indicator of a system: a metric with its weight, in a layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    pub metric: String,
    pub weight: f64,
    pub layer: Layer,
}

/// An indicator system as stored: its indicators in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorSystem {
    pub indicators: Vec<Indicator>,
}

/// The most indicators one system holds.
pub const MAX_INDICATORS: usize = 60;
/// The largest weight one indicator may carry.
pub const MAX_WEIGHT: f64 = 1000.0;

impl IndicatorSystem {
    /// The default system: every metric of the catalogue in its own layer, weights giving the
    /// four layers 15 / 25 / 35 / 25 of the total.
    pub fn default_system() -> IndicatorSystem {
        let weight = |id: &str| match id {
            "plan_completion" => 10.0,
            "self_evaluation_on_time" => 5.0,
            "quality_score" => 10.0,
            "published_resources" | "total_rows" | "machine_readable_share" | "unconditional_share" => 6.0,
            "domain_coverage" => 1.0,
            id if id.ends_with("_median_days") || id.ends_with("_overdue_rate") => 3.125,
            _ => 5.0,
        };
        IndicatorSystem {
            indicators: CATALOGUE
                .iter()
                .map(|m| Indicator {
                    metric: m.id.to_string(),
                    weight: weight(m.id),
                    layer: m.layer,
                })
                .collect(),
        }
    }

    /// Checks every indicator, reporting each problem on its row (`indicators[i].metric`):
    /// a known metric, used once; a weight above 0 and at most [`MAX_WEIGHT`]; and at least one
    /// indicator, at most [`MAX_INDICATORS`].
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut errors = Vec::new();
        if self.indicators.is_empty() {
            errors.push(FieldError::new("indicator_system", "evaluation.no_indicators"));
        }
        if self.indicators.len() > MAX_INDICATORS {
            errors.push(
                FieldError::new("indicator_system", "evaluation.too_many_indicators").with("max", MAX_INDICATORS),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, ind) in self.indicators.iter().enumerate() {
            let at = |f: &str| format!("indicators[{i}].{f}");
            if metric(&ind.metric).is_none() {
                errors.push(FieldError::new(&at("metric"), "evaluation.unknown_metric").with("metric", &ind.metric));
            } else if !seen.insert(ind.metric.as_str()) {
                errors.push(FieldError::new(&at("metric"), "evaluation.duplicate_metric").with("metric", &ind.metric));
            }
            if !(ind.weight.is_finite() && ind.weight > 0.0 && ind.weight <= MAX_WEIGHT) {
                errors.push(FieldError::new(&at("weight"), "evaluation.weight_range").with("max", MAX_WEIGHT));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(errors))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Periods

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Month,
    Quarter,
    Year,
}

impl PeriodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
            PeriodKind::Year => "year",
        }
    }

    pub fn parse(s: &str) -> Option<PeriodKind> {
        [PeriodKind::Month, PeriodKind::Quarter, PeriodKind::Year]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// An evaluation period: the days from `from` up to, not including, `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub kind: PeriodKind,
    pub from: Date,
    pub to: Date,
}

impl Period {
    /// Reads a period as people write it: `2026-11` (month), `2026-Q4` (quarter), `2026` (year).
    pub fn parse(kind: &str, label: &str) -> Result<Period, DomainError> {
        let kind =
            PeriodKind::parse(kind.trim()).ok_or_else(|| DomainError::field("kind", "evaluation.period_kind"))?;
        let bad = || DomainError::field("period", "evaluation.period_format");
        let label = label.trim();
        let (year, rest) = label.split_once('-').unwrap_or((label, ""));
        let year: i32 = year
            .parse()
            .ok()
            .filter(|y| (2000..=2100).contains(y))
            .ok_or_else(bad)?;
        let (first_month, months) = match kind {
            PeriodKind::Year if rest.is_empty() => (1, 12),
            PeriodKind::Quarter => {
                let q: u32 = rest
                    .strip_prefix(['Q', 'q'])
                    .and_then(|q| q.parse().ok())
                    .filter(|q| (1..=4).contains(q))
                    .ok_or_else(bad)?;
                ((q - 1) * 3 + 1, 3)
            }
            PeriodKind::Month => {
                let mo: u32 = rest.parse().ok().filter(|m| (1..=12).contains(m)).ok_or_else(bad)?;
                (mo, 1)
            }
            PeriodKind::Year => return Err(bad()),
        };
        let from = Date::new(year, first_month, 1).ok_or_else(bad)?;
        let end_month = first_month + months;
        let to = if end_month > 12 {
            Date::new(year + 1, end_month - 12, 1)
        } else {
            Date::new(year, end_month, 1)
        }
        .ok_or_else(bad)?;
        Ok(Period { kind, from, to })
    }

    /// `2026-11`, `2026-Q4` or `2026`.
    pub fn label(&self) -> String {
        match self.kind {
            PeriodKind::Year => self.from.year().to_string(),
            PeriodKind::Quarter => format!("{}-Q{}", self.from.year(), (self.from.month() - 1) / 3 + 1),
            PeriodKind::Month => format!("{}-{:02}", self.from.year(), self.from.month()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scoring

/// The median of some values; none for none.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// `part / whole`, none when there is nothing to divide.
pub fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Rounds to two decimals, so that snapshots compare equal whatever the summation order.
pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Rounds a share to four decimals.
pub fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// Min–max normalisation of one indicator across providers: the best measured value scores 100,
/// the worst 0, linearly between; all equal scores 100. Unmeasured values stay unmeasured.
///
/// Higher is better: `100 × (v − min) / (max − min)`; lower is better: `100 × (max − v) / (max − min)`.
pub fn normalise(values: &[Option<f64>], direction: Direction) -> Vec<Option<f64>> {
    let measured: Vec<f64> = values.iter().flatten().copied().filter(|v| v.is_finite()).collect();
    let (Some(min), Some(max)) = (
        measured.iter().copied().reduce(f64::min),
        measured.iter().copied().reduce(f64::max),
    ) else {
        return vec![None; values.len()];
    };
    values
        .iter()
        .map(|v| {
            let v = (*v).filter(|v| v.is_finite())?;
            if max - min <= f64::EPSILON * max.abs().max(1.0) {
                return Some(100.0);
            }
            let s = match direction {
                Direction::HigherIsBetter => (v - min) / (max - min),
                Direction::LowerIsBetter => (max - v) / (max - min),
            };
            Some(round2(100.0 * s))
        })
        .collect()
}

/// The weighted mean of the measured `(weight, score)` pairs; none when none is measured.
pub fn weighted_mean(pairs: impl IntoIterator<Item = (f64, Option<f64>)>) -> Option<f64> {
    let (mut sum, mut weights) = (0.0, 0.0);
    for (w, s) in pairs {
        if let Some(s) = s {
            sum += w * s;
            weights += w;
        }
    }
    (weights > 0.0).then(|| round2(sum / weights))
}

/// One provider's raw values, one per indicator of the system, in its order.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    pub org_id: i64,
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// One provider's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredRow {
    pub org_id: i64,
    pub name: String,
    /// Raw values, one per indicator.
    pub values: Vec<Option<f64>>,
    /// Normalised 0–100 scores, one per indicator.
    pub scores: Vec<Option<f64>>,
    /// Each layer's score, in [`Layer::ALL`] order.
    pub layers: Vec<Option<f64>>,
    pub total: Option<f64>,
    /// 1 for the best; equal totals share a rank; unscored providers come last, unranked.
    pub rank: Option<u32>,
}

/// Scores and ranks the providers under `system` (whose indicators the rows' values follow).
/// The result lists providers by rank, a tie by name then id: the same input always gives the
/// same output.
pub fn score(system: &IndicatorSystem, rows: &[RawRow]) -> Vec<ScoredRow> {
    let n = system.indicators.len();
    let mut per_indicator: Vec<Vec<Option<f64>>> = Vec::with_capacity(n);
    for (i, ind) in system.indicators.iter().enumerate() {
        let direction = metric(&ind.metric).map_or(Direction::HigherIsBetter, |m| m.direction);
        let column: Vec<Option<f64>> = rows.iter().map(|r| r.values.get(i).copied().flatten()).collect();
        per_indicator.push(normalise(&column, direction));
    }
    let mut out: Vec<ScoredRow> = rows
        .iter()
        .enumerate()
        .map(|(p, r)| {
            let scores: Vec<Option<f64>> = per_indicator.iter().map(|col| col[p]).collect();
            let weighted = |layer: Option<Layer>| {
                weighted_mean(
                    system
                        .indicators
                        .iter()
                        .zip(&scores)
                        .filter(|(ind, _)| layer.is_none_or(|l| ind.layer == l))
                        .map(|(ind, s)| (ind.weight, *s)),
                )
            };
            ScoredRow {
                org_id: r.org_id,
                name: r.name.clone(),
                values: r.values.clone(),
                layers: Layer::ALL.iter().map(|l| weighted(Some(*l))).collect(),
                total: weighted(None),
                scores,
                rank: None,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |r: &ScoredRow| r.total.map_or(f64::NEG_INFINITY, |t| t);
        key(b)
            .total_cmp(&key(a))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.org_id.cmp(&b.org_id))
    });
    let mut previous: Option<(f64, u32)> = None;
    for (i, row) in out.iter_mut().enumerate() {
        let Some(total) = row.total else { continue };
        let rank = match previous {
            Some((t, r)) if t == total => r,
            _ => i as u32 + 1,
        };
        row.rank = Some(rank);
        previous = Some((total, rank));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(items: &[(&str, f64, Layer)]) -> IndicatorSystem {
        IndicatorSystem {
            indicators: items
                .iter()
                .map(|(m, w, l)| Indicator {
                    metric: m.to_string(),
                    weight: *w,
                    layer: *l,
                })
                .collect(),
        }
    }

    fn row(org_id: i64, name: &str, values: &[Option<f64>]) -> RawRow {
        RawRow {
            org_id,
            name: name.into(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn min_max_by_hand_in_both_directions() {
        let v = [Some(10.0), Some(20.0), Some(40.0), None];
        // (v − 10) / 30: 0, 33.33, 100.
        assert_eq!(
            normalise(&v, Direction::HigherIsBetter),
            [Some(0.0), Some(33.33), Some(100.0), None]
        );
        // (40 − v) / 30: 100, 66.67, 0.
        assert_eq!(
            normalise(&v, Direction::LowerIsBetter),
            [Some(100.0), Some(66.67), Some(0.0), None]
        );
        assert_eq!(
            normalise(&[Some(3.0), Some(3.0)], Direction::LowerIsBetter),
            [Some(100.0); 2]
        );
        assert_eq!(normalise(&[None, None], Direction::HigherIsBetter), [None, None]);
        assert!(normalise(&[], Direction::HigherIsBetter).is_empty());
    }

    #[test]
    fn weighted_means_leave_unmeasured_indicators_out() {
        assert_eq!(weighted_mean([(3.0, Some(100.0)), (1.0, Some(0.0))]), Some(75.0));
        assert_eq!(weighted_mean([(3.0, None), (1.0, Some(40.0))]), Some(40.0));
        assert_eq!(weighted_mean([(3.0, None)]), None);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[]), None);
        assert_eq!(ratio(1, 4), Some(0.25));
        assert_eq!(ratio(0, 0), None);
    }

    #[test]
    fn scores_layers_totals_and_ranks_by_hand() {
        // Two indicators in two layers: plan completion (weight 1, readiness) and the demand
        // handling time (weight 3, platform; lower is better).
        let sys = system(&[
            ("plan_completion", 1.0, Layer::Readiness),
            ("demand_median_days", 3.0, Layer::Platform),
        ]);
        let rows = [
            // A: completion 1.0 → 100; 2 days → 100. Total 100.
            row(1, "甲", &[Some(1.0), Some(2.0)]),
            // B: 0.5 → 50; 6 days → 0. Total (1×50 + 3×0) / 4 = 12.5.
            row(2, "乙", &[Some(0.5), Some(6.0)]),
            // C: 0 → 0; no demands, so only readiness counts. Total 0.
            row(3, "丙", &[Some(0.0), None]),
            // D: nothing measured: unranked, last.
            row(4, "丁", &[None, None]),
        ];
        let out = score(&sys, &rows);
        let ids: Vec<i64> = out.iter().map(|r| r.org_id).collect();
        assert_eq!(ids, [1, 2, 3, 4]);
        assert_eq!(out[0].scores, [Some(100.0), Some(100.0)]);
        assert_eq!(out[0].total, Some(100.0));
        assert_eq!(out[1].scores, [Some(50.0), Some(0.0)]);
        assert_eq!(out[1].layers, [Some(50.0), Some(0.0), None, None]);
        assert_eq!(out[1].total, Some(12.5));
        assert_eq!(out[2].layers[1], None);
        assert_eq!(out[2].total, Some(0.0));
        assert_eq!(
            out.iter().map(|r| r.rank).collect::<Vec<_>>(),
            [Some(1), Some(2), Some(3), None]
        );
    }

    #[test]
    fn ties_share_a_rank_and_list_by_name_then_id() {
        let sys = system(&[("downloads", 1.0, Layer::Use)]);
        let rows = [
            row(7, "乙", &[Some(5.0)]),
            row(3, "甲", &[Some(5.0)]),
            row(9, "丙", &[Some(9.0)]),
            row(1, "甲", &[Some(5.0)]),
            row(2, "丁", &[Some(1.0)]),
        ];
        let out = score(&sys, &rows);
        let order: Vec<(i64, Option<u32>)> = out.iter().map(|r| (r.org_id, r.rank)).collect();
        // 9 → 100; the three at 5 → 50 share rank 2, listed by name (乙 U+4E59 before 甲 U+7532),
        // then id; 1 → 0 is 5th.
        assert_eq!(
            order,
            [(9, Some(1)), (7, Some(2)), (1, Some(2)), (3, Some(2)), (2, Some(5))]
        );
        // The input's order does not matter.
        let mut reversed = rows.to_vec();
        reversed.reverse();
        assert_eq!(score(&sys, &reversed), out);
    }

    #[test]
    fn the_default_system_is_valid_and_weighs_the_layers_15_25_35_25() {
        let sys = IndicatorSystem::default_system();
        sys.validate().unwrap();
        assert_eq!(sys.indicators.len(), CATALOGUE.len());
        let layer_weight = |l: Layer| -> f64 { sys.indicators.iter().filter(|i| i.layer == l).map(|i| i.weight).sum() };
        assert_eq!(Layer::ALL.map(layer_weight), [15.0, 25.0, 35.0, 25.0]);
    }

    #[test]
    fn validation_reports_each_problem_on_its_row() {
        let sys = system(&[
            ("downloads", 1.0, Layer::Use),
            ("no_such_metric", 1.0, Layer::Use),
            ("downloads", 2.0, Layer::Use),
            ("api_calls", 0.0, Layer::Use),
            ("grants_issued", f64::NAN, Layer::Use),
            ("total_rows", 1001.0, Layer::Data),
        ]);
        let DomainError::Validation(errors) = sys.validate().unwrap_err() else {
            panic!("validation")
        };
        let got: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(
            got,
            [
                ("indicators[1].metric", "evaluation.unknown_metric"),
                ("indicators[2].metric", "evaluation.duplicate_metric"),
                ("indicators[3].weight", "evaluation.weight_range"),
                ("indicators[4].weight", "evaluation.weight_range"),
                ("indicators[5].weight", "evaluation.weight_range"),
            ]
        );
        let empty = system(&[]);
        assert!(empty.validate().is_err());
    }

    #[test]
    fn periods_read_and_print() {
        let p = Period::parse("month", "2026-11").unwrap();
        assert_eq!(
            (p.from.to_string(), p.to.to_string()),
            ("2026-11-01".into(), "2026-12-01".into())
        );
        assert_eq!(p.label(), "2026-11");
        let p = Period::parse("month", "2026-12").unwrap();
        assert_eq!(p.to.to_string(), "2027-01-01");
        let p = Period::parse("quarter", "2026-Q4").unwrap();
        assert_eq!(
            (p.from.to_string(), p.to.to_string()),
            ("2026-10-01".into(), "2027-01-01".into())
        );
        assert_eq!(p.label(), "2026-Q4");
        let p = Period::parse("quarter", "2026-q2").unwrap();
        assert_eq!(p.from.to_string(), "2026-04-01");
        let p = Period::parse("year", "2026").unwrap();
        assert_eq!(
            (p.from.to_string(), p.to.to_string()),
            ("2026-01-01".into(), "2027-01-01".into())
        );
        for (kind, label) in [
            ("month", "2026-13"),
            ("quarter", "2026-Q5"),
            ("year", "2026-01"),
            ("month", "x"),
        ] {
            assert_eq!(
                Period::parse(kind, label),
                Err(DomainError::field("period", "evaluation.period_format")),
                "{kind} {label}"
            );
        }
        assert_eq!(
            Period::parse("week", "2026"),
            Err(DomainError::field("kind", "evaluation.period_kind"))
        );
    }

    #[test]
    fn every_metric_is_unique_and_documented() {
        let ids: BTreeSet<&str> = CATALOGUE.iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), CATALOGUE.len());
        assert!(CATALOGUE.iter().all(|m| !m.doc.is_empty()));
        for l in Layer::ALL {
            assert!(CATALOGUE.iter().any(|m| m.layer == l), "{l:?}");
        }
    }
}
