//! 开放计划 and its 开放数据清单 — a provider's open plans and their items (DESIGN §4): validation,
//! the item life cycle that follows the linked resource, spreadsheet import, and progress.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::error::{Checks, DomainError, FieldError};
use crate::metadata::{Domain, DomainList, OpenType};
use crate::resource::{ResourceState, Status};

/// The most items one spreadsheet may import.
pub const MAX_IMPORT_ROWS: usize = 2000;
/// The longest plan period; longer is surely a typo in a year (five-year plans exist).
pub const MAX_PERIOD_YEARS: i32 = 5;

/// Where a plan comes from (§5.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanSource {
    /// 政策 — laws, policies and the administration institution's requirements.
    Policy,
    /// 需求 — consumers' data demands the provider assessed (开放研判).
    Demand,
}

impl PlanSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanSource::Policy => "policy",
            PlanSource::Demand => "demand",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            PlanSource::Policy => "政策要求",
            PlanSource::Demand => "数据需求",
        }
    }

    pub fn parse(input: &str) -> Option<PlanSource> {
        match input.trim() {
            "policy" | "政策" | "政策要求" => Some(PlanSource::Policy),
            "demand" | "需求" | "数据需求" => Some(PlanSource::Demand),
            _ => None,
        }
    }
}

/// An open plan as a form gives it; the provider comes from the caller's context.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewPlan {
    pub title: String,
    pub period_start: String,
    pub period_end: String,
    pub source: String,
}

/// 开放计划 — what a provider plans to open in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPlan {
    pub provider_org_id: i64,
    pub title: String,
    pub period_start: Date,
    pub period_end: Date,
    pub source: PlanSource,
}

fn required_date(c: &mut Checks, value: &str, field: &str) -> Option<Date> {
    let v = value.trim();
    if v.is_empty() {
        c.push(FieldError::new(field, "required"));
        return None;
    }
    let date = Date::parse_loose(v);
    c.check(date.is_some(), field, "date");
    date
}

impl NewPlan {
    pub fn validate(&self, provider_org_id: i64) -> Result<OpenPlan, DomainError> {
        let mut c = Checks::new();
        let title = self.title.trim();
        c.length(title, "title", 2, 100);
        let start = required_date(&mut c, &self.period_start, "period_start");
        let end = required_date(&mut c, &self.period_end, "period_end");
        if let (Some(s), Some(e)) = (start, end) {
            if c.check(s <= e, "period_end", "date_order") {
                // The same day MAX_PERIOD_YEARS later (28 February for 29 February).
                let y = s.year() + MAX_PERIOD_YEARS;
                let limit = Date::new(y, s.month(), s.day()).or_else(|| Date::new(y, s.month(), s.day() - 1));
                if limit.is_none_or(|limit| e >= limit) {
                    c.push(FieldError::new("period_end", "period_length").with("max_years", MAX_PERIOD_YEARS));
                }
            }
        }
        let source = PlanSource::parse(&self.source);
        if self.source.trim().is_empty() {
            c.push(FieldError::new("source", "required"));
        } else {
            c.check(source.is_some(), "source", "plan_source");
        }
        c.finish()?;
        Ok(OpenPlan {
            provider_org_id,
            title: title.to_string(),
            period_start: start.expect("checked above"),
            period_end: end.expect("checked above"),
            source: source.expect("checked above"),
        })
    }
}

/// Where a plan item is. `overdue` is not a status but derived: see [`is_overdue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// 计划中
    Planned,
    /// 准备中 — a resource is being prepared (or was returned, or withdrawn, for rework).
    Preparing,
    /// 已提交 — the resource awaits review.
    Submitted,
    /// 已发布 — the commitment is met, and stays met.
    Published,
    /// 已取消 — with a reason.
    Cancelled,
}

impl ItemStatus {
    pub const ALL: [ItemStatus; 5] = [
        ItemStatus::Planned,
        ItemStatus::Preparing,
        ItemStatus::Submitted,
        ItemStatus::Published,
        ItemStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Planned => "planned",
            ItemStatus::Preparing => "preparing",
            ItemStatus::Submitted => "submitted",
            ItemStatus::Published => "published",
            ItemStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ItemStatus> {
        ItemStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Published and cancelled items need nothing more.
    pub fn is_closed(self) -> bool {
        matches!(self, ItemStatus::Published | ItemStatus::Cancelled)
    }
}

/// One entry of the 开放数据清单.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    /// The planned resource name (拟开放数据资源名称).
    pub name: String,
    pub domain: Domain,
    pub open_type: OpenType,
    pub planned_date: Date,
    #[serde(default)]
    pub notes: Option<String>,
    /// The 数据需求 the item answers, when the plan came from demand.
    #[serde(default)]
    pub demand_id: Option<i64>,
    /// The resource prepared for it, once linked.
    #[serde(default)]
    pub resource_id: Option<i64>,
    pub status: ItemStatus,
    #[serde(default)]
    pub cancel_reason: Option<String>,
}

/// A plan item as a form or a spreadsheet row gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewPlanItem {
    pub name: String,
    /// A 领域 key or its Chinese name.
    pub domain: String,
    /// `unconditional` / 无条件开放 or `conditional` / 有条件开放.
    pub open_type: String,
    /// ISO, or as spreadsheets write dates (see [`Date::parse_loose`]).
    pub planned_date: String,
    pub notes: String,
    #[serde(skip)]
    pub demand_id: Option<i64>,
}

impl NewPlanItem {
    /// A new item of `plan`, `planned`. Items plan data to open, so `not_open` is refused; the
    /// planned date may not precede the plan's start but may pass its end (a slipped item stays
    /// in its plan and shows as overdue).
    pub fn validate(&self, plan: &OpenPlan, domains: &DomainList) -> Result<PlanItem, DomainError> {
        let mut c = Checks::new();
        let name = self.name.trim();
        c.length(name, "name", 2, 100);
        let domain = domains.parse(&self.domain);
        if self.domain.trim().is_empty() {
            c.push(FieldError::new("domain", "required"));
        } else {
            c.check(domain.is_some(), "domain", "domain");
        }
        let open_type = OpenType::parse(&self.open_type);
        if self.open_type.trim().is_empty() {
            c.push(FieldError::new("open_type", "required"));
        } else if c.check(open_type.is_some(), "open_type", "open_type") {
            c.check(open_type != Some(OpenType::NotOpen), "open_type", "not_open");
        }
        let planned_date = required_date(&mut c, &self.planned_date, "planned_date");
        if let Some(d) = planned_date {
            if d < plan.period_start {
                c.push(FieldError::new("planned_date", "before_period").with("start", plan.period_start));
            }
        }
        let notes = self.notes.trim();
        c.length(notes, "notes", 0, 500);
        c.finish()?;
        Ok(PlanItem {
            name: name.to_string(),
            domain: domain.expect("checked above"),
            open_type: open_type.expect("checked above"),
            planned_date: planned_date.expect("checked above"),
            notes: (!notes.is_empty()).then(|| notes.to_string()),
            demand_id: self.demand_id,
            resource_id: None,
            status: ItemStatus::Planned,
            cancel_reason: None,
        })
    }
}

/// What a provider does to an item by hand; the rest follows the linked resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemAction {
    /// Work started before a resource exists.
    StartPreparing,
    /// 取消 — with a reason; not once the resource is submitted or published.
    Cancel { reason: String },
}

impl ItemAction {
    pub fn name(&self) -> &'static str {
        match self {
            ItemAction::StartPreparing => "start_preparing",
            ItemAction::Cancel { .. } => "cancel",
        }
    }
}

pub fn apply_item(status: ItemStatus, action: &ItemAction) -> Result<ItemStatus, DomainError> {
    let to = match (action, status) {
        (ItemAction::StartPreparing, ItemStatus::Planned) => ItemStatus::Preparing,
        (ItemAction::Cancel { .. }, ItemStatus::Planned | ItemStatus::Preparing) => ItemStatus::Cancelled,
        _ => {
            return Err(DomainError::InvalidTransition {
                from: status.as_str().to_string(),
                action: action.name().to_string(),
            })
        }
    };
    if let ItemAction::Cancel { reason } = action {
        let mut c = Checks::new();
        c.length(reason.trim(), "reason", 2, 500);
        c.finish()?;
    }
    Ok(to)
}

/// The item status a linked resource's status implies. A revision does not matter: a
/// published resource is published. A deleted draft sends the item back to `planned` (the
/// service unlinks it).
pub fn implied_status(resource: Status) -> ItemStatus {
    match resource.state {
        ResourceState::Draft | ResourceState::Returned | ResourceState::Withdrawn => ItemStatus::Preparing,
        ResourceState::PendingReview => ItemStatus::Submitted,
        ResourceState::Published => ItemStatus::Published,
        ResourceState::Deleted => ItemStatus::Planned,
    }
}

/// The item's status after its linked resource moved to `resource`. Cancelled items stay
/// cancelled, and published ones stay published: a commitment once met is met, and a later
/// withdrawal is the resource's story. Otherwise the item mirrors the resource.
pub fn follow_resource(current: ItemStatus, resource: Status) -> ItemStatus {
    if current.is_closed() {
        current
    } else {
        implied_status(resource)
    }
}

/// 逾期 — the planned date has passed and the item is neither published nor cancelled.
pub fn is_overdue(item: &PlanItem, today: Date) -> bool {
    today > item.planned_date && !item.status.is_closed()
}

/// Counts per status, and how many of the open ones are overdue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub total: usize,
    pub planned: usize,
    pub preparing: usize,
    pub submitted: usize,
    pub published: usize,
    pub cancelled: usize,
    /// Also counted under its status.
    pub overdue: usize,
}

impl Progress {
    pub fn of<'a>(items: impl IntoIterator<Item = &'a PlanItem>, today: Date) -> Progress {
        let mut p = Progress::default();
        for item in items {
            p.add(item, today);
        }
        p
    }

    pub fn add(&mut self, item: &PlanItem, today: Date) {
        self.total += 1;
        *match item.status {
            ItemStatus::Planned => &mut self.planned,
            ItemStatus::Preparing => &mut self.preparing,
            ItemStatus::Submitted => &mut self.submitted,
            ItemStatus::Published => &mut self.published,
            ItemStatus::Cancelled => &mut self.cancelled,
        } += 1;
        self.overdue += usize::from(is_overdue(item, today));
    }

    pub fn merge(&mut self, other: &Progress) {
        self.total += other.total;
        self.planned += other.planned;
        self.preparing += other.preparing;
        self.submitted += other.submitted;
        self.published += other.published;
        self.cancelled += other.cancelled;
        self.overdue += other.overdue;
    }

    /// The share of committed (not cancelled) items that are published, 0–1; `None` when
    /// nothing is committed.
    pub fn completion(&self) -> Option<f64> {
        let committed = self.total - self.cancelled;
        (committed > 0).then(|| self.published as f64 / committed as f64)
    }
}

/// Progress per provider over any number of plans with their items.
pub fn progress_by_provider<'a>(
    plans: impl IntoIterator<Item = (&'a OpenPlan, &'a [PlanItem])>,
    today: Date,
) -> BTreeMap<i64, Progress> {
    let mut out: BTreeMap<i64, Progress> = BTreeMap::new();
    for (plan, items) in plans {
        out.entry(plan.provider_org_id)
            .or_default()
            .merge(&Progress::of(items, today));
    }
    out
}

/// The problems of one spreadsheet row; `row` is as the spreadsheet numbers it (header = 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub row: usize,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Domain,
    OpenType,
    PlannedDate,
    Notes,
}

impl Column {
    const ALL: [Column; 5] = [
        Column::Name,
        Column::Domain,
        Column::OpenType,
        Column::PlannedDate,
        Column::Notes,
    ];

    fn key(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Domain => "domain",
            Column::OpenType => "open_type",
            Column::PlannedDate => "planned_date",
            Column::Notes => "notes",
        }
    }

    /// The headers people write for the column, besides its key.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Name => &["资源名称", "数据资源名称", "拟开放资源名称", "名称", "title"],
            Column::Domain => &["领域", "所属领域", "数据领域"],
            Column::OpenType => &["开放属性", "开放类型", "开放方式"],
            Column::PlannedDate => &["计划日期", "计划开放日期", "计划开放时间", "计划时间"],
            Column::Notes => &["备注", "说明"],
        }
    }

    fn recognise(header: &str) -> Option<Column> {
        let h = header
            .trim()
            .trim_start_matches('\u{feff}')
            .trim_matches(['*', '＊'])
            .trim();
        let h = ["（必填）", "(必填)", "（选填）", "(选填)"]
            .iter()
            .fold(h.to_string(), |h, mark| h.replace(mark, ""));
        let h = h.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Column::ALL
            .into_iter()
            .find(|c| c.key() == h || c.aliases().contains(&h.as_str()))
    }
}

fn map_header<H: AsRef<str>>(header: &[H]) -> Result<HashMap<&'static str, usize>, Vec<FieldError>> {
    let mut at = HashMap::new();
    let mut errors = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        if let Some(col) = Column::recognise(cell.as_ref()) {
            if at.insert(col.key(), i).is_some() {
                errors.push(FieldError::new(col.key(), "column_duplicate"));
            }
        }
    }
    for col in Column::ALL.into_iter().filter(|c| *c != Column::Notes) {
        if !at.contains_key(col.key()) {
            errors.push(FieldError::new(col.key(), "column_missing"));
        }
    }
    if errors.is_empty() {
        Ok(at)
    } else {
        Err(errors)
    }
}

/// Reads a plan list from spreadsheet rows (CSV or XLSX, already read into strings): the header
/// names its columns in Chinese or English (资源名称/name, 领域/domain, 开放属性/open_type,
/// 计划日期/planned_date, optional 备注/notes; others such as 序号 are ignored), blank rows are
/// skipped, and each item is validated as [`NewPlanItem::validate`] does. All items or, if any
/// row is bad, every bad row with its problems, so the user fixes the file once.
pub fn import_items<H: AsRef<str>, C: AsRef<str>>(
    header: &[H],
    rows: &[Vec<C>],
    plan: &OpenPlan,
    domains: &DomainList,
) -> Result<Vec<PlanItem>, Vec<RowError>> {
    let at = map_header(header).map_err(|errors| vec![RowError { row: 1, errors }])?;
    let cell = |row: &[C], key: &str| -> String {
        at.get(key)
            .and_then(|i| row.get(*i))
            .map(|c| c.as_ref().trim().to_string())
            .unwrap_or_default()
    };
    let mut items = Vec::new();
    let mut errors = Vec::new();
    let mut first_row_of: HashMap<String, usize> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let n = i + 2;
        if row.iter().all(|c| c.as_ref().trim().is_empty()) {
            continue;
        }
        if items.len() + errors.len() == MAX_IMPORT_ROWS {
            let e = FieldError::new("rows", "too_many_rows").with("max", MAX_IMPORT_ROWS);
            errors.push(RowError {
                row: n,
                errors: vec![e],
            });
            break;
        }
        let new = NewPlanItem {
            name: cell(row, "name"),
            domain: cell(row, "domain"),
            open_type: cell(row, "open_type"),
            planned_date: cell(row, "planned_date"),
            notes: cell(row, "notes"),
            demand_id: None,
        };
        let mut row_errors = match new.validate(plan, domains) {
            Ok(item) => {
                items.push(item);
                Vec::new()
            }
            Err(DomainError::Validation(v)) => v,
            Err(e) => vec![FieldError::new("row", "invalid").with("detail", e)],
        };
        let key = new.name.to_lowercase();
        if !key.is_empty() {
            if let Some(first) = first_row_of.get(&key) {
                row_errors.push(FieldError::new("name", "duplicate").with("first_row", first));
            } else {
                first_row_of.insert(key, n);
            }
        }
        if !row_errors.is_empty() {
            errors.push(RowError {
                row: n,
                errors: row_errors,
            });
        }
    }
    if items.is_empty() && errors.is_empty() {
        let e = FieldError::new("rows", "no_rows");
        errors.push(RowError {
            row: 2,
            errors: vec![e],
        });
    }
    if errors.is_empty() {
        Ok(items)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::RevisionState;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap_or_else(|| panic!("bad test date {s}"))
    }

    fn plan() -> OpenPlan {
        NewPlan {
            title: "2025年度公共数据开放计划".into(),
            period_start: "2025-01-01".into(),
            period_end: "2025-12-31".into(),
            source: "policy".into(),
        }
        .validate(7)
        .unwrap()
    }

    fn new_item(name: &str, date: &str) -> NewPlanItem {
        NewPlanItem {
            name: name.into(),
            domain: "道路交通".into(),
            open_type: "无条件开放".into(),
            planned_date: date.into(),
            ..Default::default()
        }
    }

    fn item(status: ItemStatus, date: &str) -> PlanItem {
        let mut it = new_item("公交线路", date)
            .validate(&plan(), &DomainList::standard())
            .unwrap();
        it.status = status;
        it
    }

    fn codes<T>(r: Result<T, DomainError>) -> Vec<String> {
        match r {
            Ok(_) => vec![],
            Err(DomainError::Validation(v)) => v.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn plan_rules() {
        let p = plan();
        assert_eq!((p.provider_org_id, p.source), (7, PlanSource::Policy));
        assert_eq!(p.period_end, d("2025-12-31"));
        let table: [(&str, &str, &str, &str, &[&str]); 8] = [
            ("开放计划", "2025-01-01", "2025-06-30", "需求", &[]),
            ("五年计划", "2021-01-01", "2025-12-31", "policy", &[]),
            (
                "太长",
                "2021-01-01",
                "2026-03-01",
                "policy",
                &["period_end:period_length"],
            ),
            ("计", "2025-01-01", "2025-06-30", "policy", &["title:length"]),
            ("倒序", "2025-07-01", "2025-06-30", "policy", &["period_end:date_order"]),
            (
                "无日期",
                "",
                "2025-13-01",
                "policy",
                &["period_start:required", "period_end:date"],
            ),
            ("来源", "2025-01-01", "2025-06-30", "", &["source:required"]),
            ("来源", "2025-01-01", "2025-06-30", "上级", &["source:plan_source"]),
        ];
        for (title, start, end, source, want) in table {
            let p = NewPlan {
                title: title.into(),
                period_start: start.into(),
                period_end: end.into(),
                source: source.into(),
            };
            assert_eq!(codes(p.validate(1)), want, "{title} {start}..{end} {source}");
        }
    }

    #[test]
    fn item_rules() {
        let (p, domains) = (plan(), DomainList::standard());
        let ok = new_item("  成都市公交线路  ", "2025-03-01")
            .validate(&p, &domains)
            .unwrap();
        assert_eq!(ok.name, "成都市公交线路");
        assert_eq!((ok.domain.key(), ok.open_type), ("transport", OpenType::Unconditional));
        assert_eq!((ok.status, ok.resource_id, ok.notes), (ItemStatus::Planned, None, None));
        type Edit = fn(&mut NewPlanItem);
        let table: Vec<(&str, Edit, Vec<&str>)> = vec![
            (
                "key values",
                |i| {
                    i.domain = "transport".into();
                    i.open_type = "conditional".into();
                },
                vec![],
            ),
            ("after the period", |i| i.planned_date = "2026-03-01".into(), vec![]),
            ("on the start", |i| i.planned_date = "2025-01-01".into(), vec![]),
            (
                "before the period",
                |i| i.planned_date = "2024-12-31".into(),
                vec!["planned_date:before_period"],
            ),
            ("spreadsheet date", |i| i.planned_date = "2025年6月30日".into(), vec![]),
            (
                "bad date",
                |i| i.planned_date = "下半年".into(),
                vec!["planned_date:date"],
            ),
            ("no date", |i| i.planned_date = "".into(), vec!["planned_date:required"]),
            ("short name", |i| i.name = "路".into(), vec!["name:length"]),
            ("no name", |i| i.name = " ".into(), vec!["name:required"]),
            ("long name", |i| i.name = "名".repeat(101), vec!["name:length"]),
            ("unknown domain", |i| i.domain = "星座".into(), vec!["domain:domain"]),
            ("no domain", |i| i.domain = "".into(), vec!["domain:required"]),
            (
                "not open",
                |i| i.open_type = "不予开放".into(),
                vec!["open_type:not_open"],
            ),
            (
                "bad open type",
                |i| i.open_type = "半开放".into(),
                vec!["open_type:open_type"],
            ),
            ("long notes", |i| i.notes = "注".repeat(501), vec!["notes:length"]),
        ];
        for (name, edit, want) in table {
            let mut i = new_item("成都市公交线路", "2025-03-01");
            edit(&mut i);
            assert_eq!(codes(i.validate(&p, &domains)), want, "{name}");
        }
    }

    #[test]
    fn manual_item_actions() {
        use ItemStatus::*;
        let cancel = ItemAction::Cancel {
            reason: "数据已由省级部门统一开放".into(),
        };
        // (from, action, expected status or None for InvalidTransition)
        let table = [
            (Planned, ItemAction::StartPreparing, Some(Preparing)),
            (Preparing, ItemAction::StartPreparing, None),
            (Submitted, ItemAction::StartPreparing, None),
            (Published, ItemAction::StartPreparing, None),
            (Cancelled, ItemAction::StartPreparing, None),
            (Planned, cancel.clone(), Some(Cancelled)),
            (Preparing, cancel.clone(), Some(Cancelled)),
            (Submitted, cancel.clone(), None),
            (Published, cancel.clone(), None),
            (Cancelled, cancel.clone(), None),
        ];
        for (from, action, want) in table {
            match (apply_item(from, &action), want) {
                (Ok(to), Some(want)) => assert_eq!(to, want),
                (Err(DomainError::InvalidTransition { .. }), None) => {}
                (got, want) => panic!("{from:?} {}: {got:?}, wanted {want:?}", action.name()),
            }
        }
        let no_reason = ItemAction::Cancel { reason: " ".into() };
        assert_eq!(codes(apply_item(Planned, &no_reason)), ["reason:required"]);
    }

    #[test]
    fn items_follow_their_resource() {
        use ItemStatus::*;
        use ResourceState as R;
        let table = [
            (Status::new(R::Draft), Preparing),
            (Status::new(R::PendingReview), Submitted),
            (Status::new(R::Returned), Preparing),
            (Status::new(R::Published), Published),
            (Status::revising(RevisionState::PendingReview), Published),
            (Status::revising(RevisionState::Returned), Published),
            (Status::new(R::Withdrawn), Preparing),
            (Status::new(R::Deleted), Planned),
        ];
        for (resource, want) in table {
            assert_eq!(implied_status(resource), want, "{}", resource.key());
            for current in [Planned, Preparing, Submitted] {
                assert_eq!(follow_resource(current, resource), want);
            }
            assert_eq!(follow_resource(Published, resource), Published);
            assert_eq!(follow_resource(Cancelled, resource), Cancelled);
        }
    }

    #[test]
    fn overdue_is_derived() {
        use ItemStatus::*;
        let today = d("2025-06-01");
        for (status, date, want) in [
            (Planned, "2025-05-31", true),
            (Preparing, "2025-05-31", true),
            (Submitted, "2025-05-31", true),
            (Planned, "2025-06-01", false),
            (Planned, "2025-06-02", false),
            (Published, "2025-05-31", false),
            (Cancelled, "2025-05-31", false),
        ] {
            assert_eq!(is_overdue(&item(status, date), today), want, "{status:?} {date}");
        }
    }

    #[test]
    fn progress_per_plan_and_provider() {
        use ItemStatus::*;
        let today = d("2025-06-01");
        let items = vec![
            item(Planned, "2025-05-01"),
            item(Planned, "2025-09-01"),
            item(Preparing, "2025-05-01"),
            item(Submitted, "2025-07-01"),
            item(Published, "2025-03-01"),
            item(Published, "2025-05-01"),
            item(Cancelled, "2025-02-01"),
        ];
        let p = Progress::of(&items, today);
        assert_eq!(
            p,
            Progress {
                total: 7,
                planned: 2,
                preparing: 1,
                submitted: 1,
                published: 2,
                cancelled: 1,
                overdue: 2,
            }
        );
        assert_eq!(p.completion(), Some(2.0 / 6.0));
        assert_eq!(Progress::default().completion(), None);

        let mut other = plan();
        other.provider_org_id = 8;
        let later = [item(Published, "2025-01-10")];
        let (first, second) = (plan(), plan());
        let by = progress_by_provider(
            [(&first, &items[..3]), (&second, &items[3..]), (&other, &later[..])],
            today,
        );
        assert_eq!(by[&7], p);
        assert_eq!((by[&8].total, by[&8].published, by[&8].overdue), (1, 1, 0));
    }

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    fn row_codes(r: Result<Vec<PlanItem>, Vec<RowError>>) -> Vec<String> {
        match r {
            Ok(_) => vec![],
            Err(rows) => rows
                .into_iter()
                .flat_map(|r| {
                    let row = r.row;
                    r.errors
                        .into_iter()
                        .map(move |e| format!("{row}:{}:{}", e.field, e.code))
                })
                .collect(),
        }
    }

    #[test]
    fn import_from_a_chinese_spreadsheet() {
        let header = strings(&[
            "\u{feff}序号",
            "资源名称*",
            "领域",
            "开放属性（必填）",
            "计划日期",
            "备注",
        ]);
        let rows = vec![
            strings(&[
                "1",
                "成都市公交线路",
                "道路交通",
                "无条件开放",
                "2025/3/1",
                "按季度更新",
            ]),
            strings(&["", "", "", "", "", ""]),
            strings(&["2", "企业信用信息", "credit", "conditional", "45809"]),
        ];
        let items = import_items(&header, &rows, &plan(), &DomainList::standard()).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].planned_date, d("2025-03-01"));
        assert_eq!(items[0].notes.as_deref(), Some("按季度更新"));
        assert_eq!(items[1].domain.key(), "credit");
        assert_eq!(items[1].planned_date, d("2025-06-01"));
        assert_eq!(items[1].notes, None);
    }

    #[test]
    fn import_with_english_headers() {
        let header = ["Name", "planned date", "open_type", "DOMAIN"];
        let rows = vec![vec!["Bus routes", "2025-04-01", "unconditional", "transport"]];
        let items = import_items(&header, &rows, &plan(), &DomainList::standard()).unwrap();
        assert_eq!(
            (items[0].name.as_str(), items[0].status),
            ("Bus routes", ItemStatus::Planned)
        );
    }

    #[test]
    fn import_reports_every_bad_row() {
        let header = ["资源名称", "领域", "开放属性", "计划日期"];
        let rows = vec![
            vec!["成都市公交线路", "道路交通", "无条件开放", "2025-03-01"],
            vec!["成都市公交线路", "道路交通", "不予开放", "2024-12-01"],
            vec!["医院名录", "卫生", "有条件开放", "明年"],
            vec!["药店名录", "卫生健康", "无条件开放"],
        ];
        assert_eq!(
            row_codes(import_items(&header, &rows, &plan(), &DomainList::standard())),
            [
                "3:open_type:not_open",
                "3:planned_date:before_period",
                "3:name:duplicate",
                "4:domain:domain",
                "4:planned_date:date",
                "5:planned_date:required",
            ]
        );
    }

    #[test]
    fn import_header_problems() {
        let no_rows: Vec<Vec<&str>> = vec![];
        let table: [(&[&str], &[&str]); 4] = [
            (
                &["名称", "name", "领域"],
                &[
                    "1:name:column_duplicate",
                    "1:open_type:column_missing",
                    "1:planned_date:column_missing",
                ],
            ),
            (
                &["序号", "数据名"],
                &[
                    "1:name:column_missing",
                    "1:domain:column_missing",
                    "1:open_type:column_missing",
                    "1:planned_date:column_missing",
                ],
            ),
            (&["资源名称", "领域", "开放属性", "计划日期"], &["2:rows:no_rows"]),
            (
                &["资源名称", "领域", "开放类型", "计划开放日期", "说明"],
                &["2:rows:no_rows"],
            ),
        ];
        for (header, want) in table {
            assert_eq!(
                row_codes(import_items(header, &no_rows, &plan(), &DomainList::standard())),
                want,
                "{header:?}"
            );
        }
        let header = ["资源名称", "领域", "开放属性", "计划日期"];
        let many: Vec<Vec<String>> = (0..=MAX_IMPORT_ROWS)
            .map(|i| strings(&[&format!("资源{i}"), "道路交通", "无条件开放", "2025-03-01"]))
            .collect();
        assert_eq!(
            row_codes(import_items(&header, &many, &plan(), &DomainList::standard())),
            [format!("{}:rows:too_many_rows", MAX_IMPORT_ROWS + 2)]
        );
    }
}
