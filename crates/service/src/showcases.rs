//! 应用成果 — showcases of what consumers built with the data: submission (with a checked,
//! cleaned screenshot), the administration institution's review, the public gallery and the
//! showcases on a resource's page. Every step goes through `core::showcase` and is stored with
//! its history event, audit event and notices in one transaction.
//!
//! Accepted showcases are public, without who submitted them; the others are seen only by their
//! submitter and the administration institution.

use pubdata_core::application::ResourceRef;
use pubdata_core::calendar::{Date, WorkCalendar};
use pubdata_core::resource::ResourceState;
use pubdata_core::showcase::{
    self, Action, Effect, NewShowcase, Recipient, Rules, ShowcaseKind, ShowcaseState, UsedResource,
};
use pubdata_core::DomainError;
use pubdata_store::{
    FileStore, InteractionEventRow, NewShowcaseRow, ShowcaseFilter, ShowcaseResourceRow, ShowcaseRow, Tx,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::interaction::{self, Step};
use crate::notices::Notice;
use crate::screenshot;
use crate::{Caller, Result, Store, StoreError};

const OBJECT: &str = "showcase";
/// The most showcases one page of the gallery shows.
pub const MAX_PAGE: i64 = 100;

fn not_found() -> StoreError {
    DomainError::NotFound { what: "showcase" }.into()
}

fn parse_state(row: &ShowcaseRow) -> Result<ShowcaseState> {
    ShowcaseState::parse(&row.state)
        .ok_or_else(|| StoreError::Other(format!("showcase {}: unknown state {}", row.id, row.state)))
}

fn link(id: i64) -> String {
    format!("/showcases/{id}")
}

/// A showcase as one caller may see it.
#[derive(Debug, Clone)]
pub struct ShowcaseView {
    /// Without the submitter unless the caller is the submitter or an administrator.
    pub row: ShowcaseRow,
    pub state: ShowcaseState,
    pub kind: Option<ShowcaseKind>,
    pub resources: Vec<ShowcaseResourceRow>,
    /// Undecided past its deadline.
    pub overdue: bool,
    /// The history (submitter and administrators only).
    pub events: Vec<InteractionEventRow>,
    pub caller: showcase::Caller,
}

impl ShowcaseView {
    /// The address the screenshot is served from, when there is one.
    pub fn screenshot_url(&self) -> Option<String> {
        self.row
            .screenshot_key
            .as_ref()
            .map(|_| format!("/showcases/{}/screenshot", self.row.id))
    }
}

fn view(caller: &Caller, mut row: ShowcaseRow) -> Result<ShowcaseView> {
    let state = parse_state(&row)?;
    let c = showcase::Caller::of(&caller.actor, row.submitter_id);
    if !c.sees(state) {
        return Err(not_found());
    }
    if !(c.submitter || c.admin) {
        row.submitter_id = 0;
        row.submitter_name = String::new();
        row.reason = None;
    }
    let overdue = !state.is_final() && interaction::is_overdue(row.stage_due.as_deref(), interaction::today());
    Ok(ShowcaseView {
        kind: ShowcaseKind::parse(&row.kind),
        row,
        state,
        resources: Vec::new(),
        overdue,
        events: Vec::new(),
        caller: c,
    })
}

/// A submission's outcome: the showcase, and whether this call created it (`false`: it repeats
/// an earlier submission, which is returned instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    pub id: i64,
    pub created: bool,
}

/// The named resources that are or were in the catalogue; unpublished work does not exist for
/// a submitter.
async fn load_resources(store: &Store, input: &NewShowcase) -> Result<Vec<UsedResource>> {
    let mut out = Vec::new();
    for id in input.resources().into_iter().take(showcase::RESOURCES_MAX + 1) {
        let Some(row) = store.resource(id).await? else { continue };
        let r = crate::resources::parse(row)?;
        if !matches!(r.status.state, ResourceState::Published | ResourceState::Withdrawn) {
            continue;
        }
        let rref = ResourceRef {
            id: r.row.id,
            provider_org_id: r.row.provider_org_id,
            status: r.status,
            meta: &r.meta,
        };
        out.push(UsedResource {
            id,
            open: rref.is_open(),
            provider_org_id: r.row.provider_org_id,
            domain: r.meta.domain.key().to_string(),
        });
    }
    Ok(out)
}

/// 提交应用成果 — a logged-in person submits a showcase, optionally with a screenshot (the
/// uploaded bytes). Submitting the same showcase again (the same idempotency key, or the same
/// content within the configured window) returns the first one and changes nothing.
pub async fn submit(
    store: &Store,
    files: &FileStore,
    caller: &Caller,
    input: &NewShowcase,
    screenshot: Option<&[u8]>,
    rules: &Rules,
    calendar: &WorkCalendar,
) -> Result<Submitted> {
    let user_id = showcase::may_submit(&caller.actor)?;
    let found = load_resources(store, input).await?;
    // Decoding is CPU work of up to a second for the largest images: off the async threads.
    let shot = match screenshot {
        Some(bytes) => {
            let bytes = bytes.to_vec();
            let done = tokio::task::spawn_blocking(move || screenshot::clean(&bytes)).await;
            Some(done.map_err(|e| StoreError::Other(format!("screenshot check: {e}")))?)
        }
        None => None,
    };
    let (s, clean) = match (input.validate(&found), shot.transpose()) {
        (Ok(s), Ok(clean)) => (s, clean),
        (Err(DomainError::Validation(mut a)), Err(DomainError::Validation(b))) => {
            a.extend(b);
            return Err(DomainError::Validation(a).into());
        }
        (Err(e), _) | (_, Err(e)) => return Err(e.into()),
    };
    let fingerprint = s.fingerprint();
    let t = showcase::submit(rules);
    let mut tx = store.begin().await?;
    tx.lock_user(user_id).await?;
    let since = pubdata_store::now_ms() - (rules.duplicate_window_secs as i64).saturating_mul(1000);
    if let Some(id) = tx
        .duplicate_showcase(user_id, input.idempotency_key(), &fingerprint, since)
        .await?
    {
        return Ok(Submitted { id, created: false });
    }
    // Content-addressed, so a failed transaction leaves at worst an unreferenced copy.
    let key = match &clean {
        Some(c) => Some(store_screenshot(files, c).await?),
        None => None,
    };
    let due = t.effects.iter().find_map(|e| match e {
        Effect::StartDeadline(days) => Some(interaction::due_in(calendar, *days)),
        _ => None,
    });
    let id = tx
        .insert_showcase(&NewShowcaseRow {
            submitter_id: user_id,
            title: &s.title,
            kind: s.kind.as_str(),
            description: &s.description,
            link: &s.link,
            screenshot_key: key.as_deref(),
            screenshot_type: clean.as_ref().map(|c| c.media_type),
            state: t.to.as_str(),
            stage_due: due.as_deref(),
            fingerprint: &fingerprint,
            idempotency_key: input.idempotency_key(),
        })
        .await?;
    for r in &s.resources {
        tx.insert_showcase_resource(id, r.id, r.provider_org_id, &r.domain)
            .await?;
    }
    let row = tx.showcase_for_update(id).await?.ok_or_else(not_found)?;
    notify(store, &mut tx, &row, &t.effects, None).await?;
    let ids: Vec<i64> = s.resources.iter().map(|r| r.id).collect();
    let step = Step {
        object_type: OBJECT,
        object_id: id,
        action: "submit",
        from: t.to.as_str(),
        to: t.to.as_str(),
        reason: None,
        details: Some(json!({"resource_ids": ids, "screenshot": key})),
        due: due.as_deref(),
    };
    interaction::record(&mut tx, caller, step).await?;
    tx.commit().await?;
    Ok(Submitted { id, created: true })
}

async fn store_screenshot(files: &FileStore, c: &screenshot::Clean) -> Result<String> {
    let key = format!("showcases/{}.{}", hex::encode(Sha256::digest(&c.bytes)), c.extension);
    let mut w = files.writer(&key, showcase::SCREENSHOT_MAX_BYTES * 4).await?;
    if w.write(&c.bytes).await?.is_err() {
        w.abort().await;
        return Err(DomainError::field("screenshot", "screenshot_too_large").into());
    }
    w.finish().await?;
    Ok(key)
}

async fn notify(store: &Store, tx: &mut Tx, row: &ShowcaseRow, effects: &[Effect], reason: Option<&str>) -> Result<()> {
    for effect in effects {
        let Effect::Notify(to, kind) = effect else { continue };
        let users = match to {
            Recipient::Submitter => vec![row.submitter_id],
            Recipient::Admins => interaction::admins(store).await?,
        };
        let mut notice = Notice::new(kind.as_str())
            .param("title", row.title.as_str())
            .param("id", row.id)
            .link(link(row.id));
        if let Some(r) = reason.filter(|r| !r.is_empty()) {
            notice = notice.reason(r);
        }
        interaction::notify(tx, &users, &notice).await?;
    }
    Ok(())
}

/// One showcase, with the resources it used: accepted ones for everyone, the others for their
/// submitter and the administration institution (with the history); `NotFound` otherwise.
pub async fn get(store: &Store, caller: &Caller, id: i64) -> Result<ShowcaseView> {
    let row = store.showcase(id).await?.ok_or_else(not_found)?;
    let mut v = view(caller, row)?;
    v.resources = store.showcase_resources(id).await?;
    if v.caller.submitter || v.caller.admin {
        v.events = store.interaction_events(OBJECT, id).await?;
    }
    Ok(v)
}

/// The screenshot's bytes and media type, for whoever may see the showcase.
pub async fn screenshot(store: &Store, files: &FileStore, caller: &Caller, id: i64) -> Result<(Vec<u8>, String)> {
    let v = get(store, caller, id).await?;
    let (Some(key), Some(media_type)) = (v.row.screenshot_key, v.row.screenshot_type) else {
        return Err(DomainError::NotFound { what: "screenshot" }.into());
    };
    Ok((files.read_all(&key).await?, media_type))
}

/// 审核 — the administration institution accepts a showcase into the gallery or rejects it with
/// a reason the submitter reads.
pub async fn act(store: &Store, caller: &Caller, id: i64, action: &Action) -> Result<()> {
    let mut tx = store.begin().await?;
    let row = tx.showcase_for_update(id).await?.ok_or_else(not_found)?;
    let state = parse_state(&row)?;
    let c = showcase::Caller::of(&caller.actor, row.submitter_id);
    if !c.sees(state) {
        return Err(not_found());
    }
    let t = showcase::apply(state, action, c)?;
    tx.decide_showcase(id, t.to.as_str(), action.text()).await?;
    notify(store, &mut tx, &row, &t.effects, action.text()).await?;
    let step = Step {
        object_type: OBJECT,
        object_id: id,
        action: action.name(),
        from: state.as_str(),
        to: t.to.as_str(),
        reason: action.text(),
        details: None,
        due: None,
    };
    interaction::record(&mut tx, caller, step).await?;
    tx.commit().await
}

/// The caller's own showcases, newest first.
pub async fn mine(store: &Store, caller: &Caller) -> Result<Vec<ShowcaseView>> {
    let user_id = interaction::login_required(caller)?;
    let rows = store
        .list_showcases(&ShowcaseFilter {
            submitter_id: Some(user_id),
            limit: 500,
            ..Default::default()
        })
        .await?;
    rows.into_iter().map(|r| view(caller, r)).collect()
}

/// A showcase waiting for review, with how many working days it is overdue.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    pub showcase: ShowcaseView,
    pub overdue_days: i64,
}

/// The review queue of the administration institution, oldest first.
pub async fn queue(store: &Store, caller: &Caller, calendar: &WorkCalendar) -> Result<Vec<QueueEntry>> {
    interaction::login_required(caller)?;
    if !interaction::is_admin(caller) {
        return Err(DomainError::Forbidden.into());
    }
    let rows = store
        .list_showcases(&ShowcaseFilter {
            state: Some(ShowcaseState::Submitted.as_str()),
            oldest_first: true,
            limit: 1000,
            ..Default::default()
        })
        .await?;
    let today = interaction::today();
    rows.into_iter()
        .map(|row| {
            let overdue_days = interaction::overdue_days(row.stage_due.as_deref(), today, calendar);
            Ok(QueueEntry {
                showcase: view(caller, row)?,
                overdue_days,
            })
        })
        .collect()
}

/// What the gallery is asked for; empty filters match everything.
#[derive(Debug, Clone, Default)]
pub struct GalleryQuery {
    /// A [`ShowcaseKind`] key.
    pub kind: String,
    /// A domain key (of a resource used).
    pub domain: String,
    /// A provider of a resource used.
    pub provider_org_id: Option<i64>,
    pub resource_id: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// 成果展示 — accepted showcases, newest first, with the resources each used; one page and the
/// number matching.
pub async fn gallery(store: &Store, q: &GalleryQuery) -> Result<(Vec<ShowcaseView>, i64)> {
    let kind = q.kind.trim();
    if !kind.is_empty() && ShowcaseKind::parse(kind).is_none() {
        return Err(DomainError::field("kind", "showcase_kind").into());
    }
    let domain = q.domain.trim();
    let filter = ShowcaseFilter {
        state: Some(ShowcaseState::Accepted.as_str()),
        kind: Some(kind).filter(|k| !k.is_empty()),
        domain: Some(domain).filter(|d| !d.is_empty()),
        provider_org_id: q.provider_org_id,
        resource_id: q.resource_id,
        limit: if q.limit > 0 { q.limit.min(MAX_PAGE) } else { 24 },
        offset: q.offset.max(0),
        ..Default::default()
    };
    let total = store.count_showcases(&filter).await?;
    let anonymous = Caller::anonymous(None);
    let mut views = Vec::new();
    for row in store.list_showcases(&filter).await? {
        let mut v = view(&anonymous, row)?;
        v.resources = store.showcase_resources(v.row.id).await?;
        views.push(v);
    }
    Ok((views, total))
}

/// The accepted showcases that used a resource, for its page.
pub async fn for_resource(store: &Store, resource_id: i64) -> Result<Vec<ShowcaseView>> {
    let q = GalleryQuery {
        resource_id: Some(resource_id),
        limit: 12,
        ..Default::default()
    };
    Ok(gallery(store, &q).await?.0)
}

/// A reminder the day before the review deadline, escalation after it. Returns how many
/// notices went out.
pub async fn remind(store: &Store) -> Result<usize> {
    let today = interaction::today();
    let rows = store
        .list_showcases(&ShowcaseFilter {
            state: Some(ShowcaseState::Submitted.as_str()),
            oldest_first: true,
            limit: 1000,
            ..Default::default()
        })
        .await?;
    let mut sent = 0;
    for row in rows {
        let Some(due) = row.stage_due.as_deref().and_then(Date::parse) else {
            continue;
        };
        if !interaction::reminder_due(due, today) {
            continue;
        }
        let w = interaction::Waiting {
            object_type: OBJECT,
            id: row.id,
            state: &row.state,
            due,
            title: &row.title,
            assignees: interaction::admins(store).await?,
            link: link(row.id),
        };
        sent += usize::from(interaction::remind(store, w, today).await?);
    }
    Ok(sent)
}
