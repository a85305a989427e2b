//! 互动统计 — how the provider departments answer the public: for each provider, the data
//! demands routed to it and the error reports on its data, how many it answered, how many on
//! time, how many are overdue, and the median time it took. Public, like the demands themselves;
//! computed from the stored records each time (a portal has thousands of these, not millions).

use pubdata_core::calendar::Date;
use pubdata_store::ResponseRecord;
use serde::Serialize;

use crate::{interaction, Result, Store};

const DAY_MS: f64 = 86_400_000.0;

/// The statistics of one provider, or (`provider_org_id` empty) of the whole platform.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResponseStats {
    pub provider_org_id: Option<i64>,
    pub provider_name: String,
    /// Demands routed to the provider (withdrawn ones aside).
    pub demands: u64,
    pub demands_answered: u64,
    /// Error reports on the provider's data.
    pub corrections: u64,
    pub corrections_answered: u64,
    /// Answered no later than the deadline's day.
    pub answered_on_time: u64,
    /// Still unanswered after the deadline's day.
    pub overdue: u64,
    /// Answered / received, 0–1 (none when nothing was received).
    pub response_rate: Option<f64>,
    /// On time / answered, 0–1 (none when nothing was answered).
    pub on_time_rate: Option<f64>,
    /// The median time from reaching the provider to its answer, in days (one decimal).
    pub median_days: Option<f64>,
}

#[derive(Default)]
struct Tally {
    stats: ResponseStats,
    durations: Vec<i64>,
}

impl Tally {
    fn add(&mut self, r: &ResponseRecord, today: Date) {
        let s = &mut self.stats;
        let demand = r.kind == "demand";
        if demand {
            s.demands += 1;
        } else {
            s.corrections += 1;
        }
        let due = r.stage_due.as_deref().and_then(Date::parse);
        match r.answered_at {
            Some(at) => {
                if demand {
                    s.demands_answered += 1;
                } else {
                    s.corrections_answered += 1;
                }
                if due.is_none_or(|d| Date::from_unix_millis_cst(at) <= d) {
                    s.answered_on_time += 1;
                }
                self.durations.push((at - r.received_at).max(0));
            }
            None if due.is_some_and(|d| today > d) => s.overdue += 1,
            None => {}
        }
    }

    fn finish(mut self) -> ResponseStats {
        let mut s = self.stats;
        let received = s.demands + s.corrections;
        let answered = s.demands_answered + s.corrections_answered;
        s.response_rate = (received > 0).then(|| answered as f64 / received as f64);
        s.on_time_rate = (answered > 0).then(|| s.answered_on_time as f64 / answered as f64);
        s.median_days = median(&mut self.durations).map(|ms| (ms / DAY_MS * 10.0).round() / 10.0);
        s
    }
}

fn median(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2] as f64
    } else {
        (values[n / 2 - 1] as f64 + values[n / 2] as f64) / 2.0
    })
}

/// The platform's totals and each provider's figures, the providers by most received first.
pub fn summarise(records: &[ResponseRecord], today: Date) -> (ResponseStats, Vec<ResponseStats>) {
    let mut total = Tally::default();
    let mut by_provider: std::collections::BTreeMap<i64, Tally> = Default::default();
    for r in records {
        total.add(r, today);
        let t = by_provider.entry(r.provider_org_id).or_insert_with(|| Tally {
            stats: ResponseStats {
                provider_org_id: Some(r.provider_org_id),
                provider_name: r.provider_name.clone(),
                ..Default::default()
            },
            durations: Vec::new(),
        });
        t.add(r, today);
    }
    let mut providers: Vec<ResponseStats> = by_provider.into_values().map(Tally::finish).collect();
    providers.sort_by_key(|s| std::cmp::Reverse(s.demands + s.corrections));
    (total.finish(), providers)
}

/// The interaction statistics as of today.
pub async fn responses(store: &Store) -> Result<(ResponseStats, Vec<ResponseStats>)> {
    let records = store.response_records().await?;
    Ok(summarise(&records, interaction::today()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: &str, provider: i64, received_day: i64, answered_day: Option<i64>, due: &str) -> ResponseRecord {
        // Day 0 is 2026-11-02 00:00 in China Standard Time.
        let base = 1_793_577_600_000 - 8 * 3_600_000;
        ResponseRecord {
            kind: kind.into(),
            provider_org_id: provider,
            provider_name: format!("部门{provider}"),
            state: if answered_day.is_some() {
                "accepted"
            } else {
                "assessing"
            }
            .into(),
            received_at: base + received_day * 86_400_000,
            answered_at: answered_day.map(|d| base + d * 86_400_000 + 3_600_000),
            stage_due: Some(due.into()),
        }
    }

    #[test]
    fn rates_deadlines_and_medians_per_provider() {
        let today = Date::parse("2026-11-20").unwrap();
        let records = [
            // Provider 1: answered in 1, 3 and 9 days (the last one late); one still open, overdue.
            rec("demand", 1, 0, Some(1), "2026-11-16"),
            rec("demand", 1, 0, Some(3), "2026-11-16"),
            rec("correction", 1, 0, Some(9), "2026-11-09"),
            rec("correction", 1, 0, None, "2026-11-09"),
            // Provider 2: one open, not yet due.
            rec("demand", 2, 10, None, "2026-11-26"),
        ];
        let (total, providers) = summarise(&records, today);
        assert_eq!((total.demands, total.corrections, total.overdue), (3, 2, 1));
        assert_eq!(total.response_rate, Some(3.0 / 5.0));
        let p1 = &providers[0];
        assert_eq!(p1.provider_org_id, Some(1));
        assert_eq!((p1.demands_answered, p1.corrections_answered), (2, 1));
        assert_eq!((p1.answered_on_time, p1.overdue), (2, 1));
        assert_eq!(p1.response_rate, Some(0.75));
        assert_eq!(p1.on_time_rate, Some(2.0 / 3.0));
        // 1 d 1 h, 3 d 1 h, 9 d 1 h: the median is 3 d 1 h = 3.0 days to one decimal.
        assert_eq!(p1.median_days, Some(3.0));
        let p2 = &providers[1];
        assert_eq!((p2.demands, p2.overdue, p2.response_rate), (1, 0, Some(0.0)));
        assert_eq!((p2.on_time_rate, p2.median_days), (None, None));
    }

    #[test]
    fn an_even_count_takes_the_middle_two_and_nothing_gives_none() {
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2.5));
        let (total, providers) = summarise(&[], Date::parse("2026-11-20").unwrap());
        assert!(providers.is_empty());
        assert_eq!((total.response_rate, total.median_days), (None, None));
    }
}
