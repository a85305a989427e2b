//! 开放计划 — open plans and their items (the 开放数据清单), entered one by one or imported from
//! a spreadsheet; items follow the resources that fulfil them.

use pubdata_core::calendar::Date;
use pubdata_core::metadata::DomainList;
use pubdata_core::plan::{
    self, apply_item, ItemAction, ItemStatus, NewPlan, NewPlanItem, OpenPlan, PlanItem, Progress,
};
use pubdata_core::DomainError;
use pubdata_store::{now_ms, PlanItemRow, PlanRow};
use serde_json::json;

use crate::{Caller, Result, Store};

/// Provider staff who plan: the department's managers and editors.
fn require_planner(caller: &Caller, org_id: i64) -> Result<()> {
    let c = pubdata_core::resource::Caller::of(&caller.actor, org_id);
    if c.owner_editor || c.owner_manager {
        Ok(())
    } else {
        Err(DomainError::Forbidden.into())
    }
}

fn may_view(caller: &Caller, org_id: i64) -> bool {
    let c = pubdata_core::resource::Caller::of(&caller.actor, org_id);
    c.owner_editor
        || c.owner_manager
        || c.admin_manager
        || c.admin_reviewer
        || caller.actor.memberships.iter().any(|m| m.org_id == Some(org_id))
}

pub async fn create_plan(store: &Store, caller: &Caller, org_id: i64, input: &NewPlan) -> Result<i64> {
    require_planner(caller, org_id)?;
    let p = input.validate(org_id)?;
    let user = caller.actor.user_id.ok_or(DomainError::Forbidden)?;
    let mut tx = store.begin().await?;
    let id = tx
        .insert_plan(
            org_id,
            &p.title,
            &p.period_start.to_string(),
            &p.period_end.to_string(),
            p.source.as_str(),
            user,
        )
        .await?;
    let mut e = caller.audit("plan.create", "plan", id);
    e.after = Some(json!({"title": p.title, "period": [p.period_start.to_string(), p.period_end.to_string()]}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(id)
}

pub(crate) fn open_plan(row: &PlanRow) -> Result<OpenPlan> {
    let date =
        |s: &str| Date::parse(s).ok_or_else(|| crate::StoreError::Other(format!("plan {}: bad date {s}", row.id)));
    Ok(OpenPlan {
        provider_org_id: row.provider_org_id,
        title: row.title.clone(),
        period_start: date(&row.period_start)?,
        period_end: date(&row.period_end)?,
        source: plan::PlanSource::parse(&row.source).unwrap_or(plan::PlanSource::Policy),
    })
}

async fn plan_for_edit(store: &Store, caller: &Caller, plan_id: i64) -> Result<(PlanRow, OpenPlan)> {
    let row = store
        .plan(plan_id)
        .await?
        .ok_or(DomainError::NotFound { what: "plan" })?;
    if !may_view(caller, row.provider_org_id) {
        return Err(DomainError::NotFound { what: "plan" }.into());
    }
    require_planner(caller, row.provider_org_id)?;
    let p = open_plan(&row)?;
    Ok((row, p))
}

async fn insert_items(
    store: &Store,
    caller: &Caller,
    plan_id: i64,
    items: &[PlanItem],
    action: &str,
) -> Result<Vec<i64>> {
    let mut tx = store.begin().await?;
    let mut ids = Vec::new();
    for item in items {
        let planned = item.planned_date.to_string();
        let new = pubdata_store::NewPlanItem {
            name: &item.name,
            domain: item.domain.key(),
            open_type: item.open_type.as_str(),
            planned_date: &planned,
            notes: item.notes.as_deref(),
            demand_id: item.demand_id,
        };
        ids.push(tx.insert_plan_item(plan_id, &new).await?);
    }
    let mut e = caller.audit(action, "plan", plan_id);
    e.after = Some(json!({"items": ids, "names": items.iter().map(|i| i.name.as_str()).collect::<Vec<_>>()}));
    tx.audit(e).await?;
    tx.commit().await?;
    Ok(ids)
}

pub async fn add_item(store: &Store, caller: &Caller, plan_id: i64, input: &NewPlanItem) -> Result<i64> {
    let (_, p) = plan_for_edit(store, caller, plan_id).await?;
    let item = input.validate(&p, &DomainList::standard())?;
    Ok(insert_items(store, caller, plan_id, &[item], "plan.add_item").await?[0])
}

/// Imports a 开放数据清单 from spreadsheet rows: all rows or none, with every bad row named.
pub async fn import_items(
    store: &Store,
    caller: &Caller,
    plan_id: i64,
    header: &[String],
    rows: &[Vec<String>],
) -> Result<Vec<i64>> {
    let (_, p) = plan_for_edit(store, caller, plan_id).await?;
    let items = plan::import_items(header, rows, &p, &DomainList::standard()).map_err(|row_errors| {
        let fields = row_errors
            .into_iter()
            .flat_map(|r| {
                r.errors.into_iter().map(move |mut f| {
                    f.params.push(("row".into(), r.row.to_string()));
                    f.field = format!("row {}: {}", r.row, f.field);
                    f
                })
            })
            .collect();
        DomainError::Validation(fields)
    })?;
    insert_items(store, caller, plan_id, &items, "plan.import").await
}

/// Cancels an item with a reason (or marks it as being prepared).
pub async fn item_action(store: &Store, caller: &Caller, item_id: i64, action: &ItemAction) -> Result<()> {
    let mut tx = store.begin().await?;
    let item = tx
        .plan_item(item_id)
        .await?
        .ok_or(DomainError::NotFound { what: "plan_item" })?;
    let plan = store
        .plan(item.plan_id)
        .await?
        .ok_or(DomainError::NotFound { what: "plan_item" })?;
    if !may_view(caller, plan.provider_org_id) {
        return Err(DomainError::NotFound { what: "plan_item" }.into());
    }
    require_planner(caller, plan.provider_org_id)?;
    let current = ItemStatus::parse(&item.status).unwrap_or(ItemStatus::Planned);
    let next = apply_item(current, action)?;
    let reason = match action {
        ItemAction::Cancel { reason } => Some(reason.trim().to_string()),
        _ => item.cancel_reason.clone(),
    };
    tx.update_plan_item(item.id, next.as_str(), item.resource_id, reason.as_deref())
        .await?;
    let mut e = caller.audit("plan.item_status", "plan_item", item.id);
    e.before = Some(json!({"status": current.as_str()}));
    e.after = Some(json!({"status": next.as_str(), "reason": reason}));
    tx.audit(e).await?;
    if let (ItemStatus::Cancelled, Some(demand_id)) = (next, item.demand_id) {
        // The demand this item promised to answer will not be: it is declined, in this transaction.
        crate::demands::decline_on_cancel(store, &mut tx, demand_id, reason.as_deref().unwrap_or_default()).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A plan with its items and progress.
pub struct PlanView {
    pub plan: PlanRow,
    pub items: Vec<(PlanItemRow, bool)>,
    pub progress: Progress,
}

fn to_item(r: &PlanItemRow) -> Option<PlanItem> {
    let domains = DomainList::standard();
    Some(PlanItem {
        name: r.name.clone(),
        domain: domains.parse(&r.domain)?,
        open_type: pubdata_core::metadata::OpenType::parse(&r.open_type)?,
        planned_date: Date::parse(&r.planned_date)?,
        notes: r.notes.clone(),
        demand_id: r.demand_id,
        resource_id: r.resource_id,
        status: ItemStatus::parse(&r.status)?,
        cancel_reason: r.cancel_reason.clone(),
    })
}

pub async fn view(store: &Store, caller: &Caller, plan_id: i64) -> Result<PlanView> {
    let plan = store
        .plan(plan_id)
        .await?
        .ok_or(DomainError::NotFound { what: "plan" })?;
    if !may_view(caller, plan.provider_org_id) {
        return Err(DomainError::NotFound { what: "plan" }.into());
    }
    let today = Date::from_unix_millis_cst(now_ms());
    let rows = store.plan_items(plan_id).await?;
    let parsed: Vec<Option<PlanItem>> = rows.iter().map(to_item).collect();
    let progress = Progress::of(parsed.iter().flatten(), today);
    let items = rows
        .into_iter()
        .zip(parsed)
        .map(|(r, p)| {
            let overdue = p.as_ref().is_some_and(|p| plan::is_overdue(p, today));
            (r, overdue)
        })
        .collect();
    Ok(PlanView { plan, items, progress })
}

/// A provider's plans with the progress of each, and of all together.
pub async fn provider_progress(
    store: &Store,
    caller: &Caller,
    org_id: i64,
) -> Result<(Vec<(PlanRow, Progress)>, Progress)> {
    if !may_view(caller, org_id) {
        return Err(DomainError::Forbidden.into());
    }
    let today = Date::from_unix_millis_cst(now_ms());
    let mut total = Progress::default();
    let mut out = Vec::new();
    for p in store.plans(Some(org_id)).await? {
        let items: Vec<PlanItem> = store.plan_items(p.id).await?.iter().filter_map(to_item).collect();
        let progress = Progress::of(items.iter(), today);
        total.merge(&progress);
        out.push((p, progress));
    }
    Ok((out, total))
}

/// Collects a small table: the header from the columns, then every row as text.
#[derive(Default)]
struct Collect {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl pubdata_core::field::RowSink for Collect {
    fn begin(&mut self, columns: &[pubdata_core::field::FieldSpec]) -> std::result::Result<(), String> {
        self.header = columns.iter().map(|c| c.name.clone()).collect();
        Ok(())
    }

    fn row(&mut self, values: &[Option<&str>]) -> std::result::Result<(), String> {
        if self.rows.len() >= 5000 {
            return Err("a plan list has at most 5000 rows".into());
        }
        self.rows
            .push(values.iter().map(|v| v.unwrap_or_default().to_string()).collect());
        Ok(())
    }

    fn finish(&mut self) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// Reads an uploaded 开放数据清单 with the ingest readers: CSV in UTF-8 (with or without BOM) or
/// GBK/GB18030, XLSX (first sheet) or JSON; a file they cannot read is named with their reason.
pub fn read_sheet(filename: &str, bytes: &[u8]) -> Result<(Vec<String>, Vec<Vec<String>>), DomainError> {
    if filename.trim().is_empty() {
        return Err(DomainError::field("file", "file_required"));
    }
    if bytes.is_empty() {
        return Err(DomainError::field("file", "file_empty"));
    }
    let mut sink = Collect::default();
    let opts = pubdata_ingest::IngestOptions::default();
    pubdata_ingest::ingest(bytes, filename, Some(bytes.len() as u64), &opts, &mut sink, &mut |_| {}).map_err(|e| {
        DomainError::Validation(vec![
            pubdata_core::FieldError::new("file", "file_unreadable").with("detail", e)
        ])
    })?;
    Ok((sink.header, sink.rows))
}
