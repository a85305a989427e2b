//! Sets up what `bench/access.sh` measures, through the real services: a provider publishing
//! the national village table repeated to ~500 MB (distinct codes) twice — once unconditional
//! (无条件开放), whose downloads serve the published copy, and once conditional (有条件开放),
//! whose downloads stream the rows in the grant's watermark order — and the village table itself
//! as conditional data for the data API. A consumer accepts the usage terms of the first, is
//! granted the other two after pre-review and provider review (all fields, download and data
//! API, from today), and gets an AppKey for the village grant and an API token.
//!
//!   cargo run --release -p pubdata --example access_bench -- --data-dir DIR [--size-mb 500]
//!
//! Names, ids, paths, the AppKey and the token go to `DIR/bench-access.json` (written last, so a
//! directory holding it is complete). Serve the same `DIR`: the watermark key is `DIR/mask.key`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Parser;
use pubdata_core::application::{Action, NewApplication, NewScope};
use pubdata_core::calendar::{Date, WorkCalendar};
use pubdata_core::metadata::{NewField, NewResourceMeta};
use pubdata_core::org::NewOrg;
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::user::NewUser;
use pubdata_server::Config;
use pubdata_service::access::{self, AccessSettings};
use pubdata_service::accounts::{self, actor_for, NewStaff, Registration};
use pubdata_service::ingest::{self, UploadInfo, INGEST_JOB};
use pubdata_service::jobs::Worker;
use pubdata_service::resources::{self, Decision};
use pubdata_service::{auth, ingest_job, Caller, Store};
use pubdata_store::{now_ms, FileStore};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Sets up downloads, grants and AppKeys for the acquisition benchmark")]
struct Args {
    /// A new data directory; serve the same one.
    #[arg(long)]
    data_dir: PathBuf,
    /// Size of the large table's CSV, in MiB (the village rows repeated with distinct codes).
    #[arg(long, default_value_t = 500)]
    size_mb: u64,
    /// The national village table.
    #[arg(long, default_value = "../shared/data/villages.csv.gz")]
    villages: PathBuf,
}

/// Written last: a directory holding it is set up.
const MANIFEST: &str = "bench-access.json";
/// Bytes handed to the object store per write.
const UPLOAD_CHUNK: usize = 4 << 20;

/// The village table: its header line and data lines (without line ends).
struct Villages {
    header: String,
    lines: Vec<String>,
}

impl Villages {
    fn read(path: &Path) -> anyhow::Result<Villages> {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut lines = BufReader::new(flate2::read::GzDecoder::new(file)).lines();
        let header = lines.next().context("the village table is empty")??;
        let lines = lines.collect::<Result<Vec<_>, _>>()?;
        Ok(Villages { header, lines })
    }

    /// Bytes of one repetition: each line, its line end and the two-digit code suffix.
    fn repeat_bytes(&self) -> u64 {
        self.lines.iter().map(|l| l.len() as u64 + 3).sum()
    }

    /// The table as uploaded: once as it is (`repeats` 0), or its rows `repeats` times with
    /// each repetition's codes made distinct by a two-digit suffix.
    fn csv(&self, repeats: usize) -> impl Iterator<Item = String> + '_ {
        let header = std::iter::once(format!("{}\n", self.header));
        let plain = (repeats == 0).then(|| self.lines.iter().map(|l| format!("{l}\n")));
        let repeated = (1..=repeats).flat_map(move |r| {
            self.lines.iter().map(move |l| match l.split_once(',') {
                Some((code, rest)) => format!("{code}{r:02},{rest}\n"),
                None => format!("{l}\n"),
            })
        });
        header.chain(plain.into_iter().flatten()).chain(repeated)
    }
}

/// The accounts of the story.
struct People {
    provider_org: i64,
    editor: Caller,
    provider_reviewer: Caller,
    admin_reviewer: Caller,
    consumer: Caller,
}

/// A published resource with its loaded file.
struct Loaded {
    id: i64,
    name: String,
    dist: i64,
    rows: u64,
    export_key: Option<String>,
    export_bytes: Option<i64>,
    export_sha256: Option<String>,
}

impl Loaded {
    fn path(&self) -> String {
        format!("/dataset/{}/resource/{}/download", self.name, self.dist)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = &args.data_dir;
    if dir.join(MANIFEST).exists() {
        println!("{} is already set up; nothing to do", dir.display());
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut config = Config::load(None)?;
    config.data_dir = dir.clone();
    config.database_url = None;
    let store = Store::open(&config.database_url(), Default::default()).await?;
    store.migrate().await?;
    if store.count_resources(None).await? > 0 {
        bail!("{} already holds resources: give a new --data-dir", dir.display());
    }
    let started = Instant::now();
    let villages = Villages::read(&args.villages)?;
    let per_repeat = villages.repeat_bytes().max(1);
    let repeats = (((args.size_mb << 20) + per_repeat / 2) / per_repeat).max(1) as usize;
    let password = format!("bench-{}-7", now_ms());
    let people = seed_people(&store, &password).await?;

    let files = FileStore::local(&dir.join("files"))?;
    let secret = pubdata_server::mask_secret(dir)?;
    let worker =
        Worker::new(store.clone(), "access-bench").handle(INGEST_JOB, ingest_job::handler(files.clone(), secret));
    let load = |title: &'static str, open: &'static str, repeats: usize| {
        let (store, files, worker, people, villages) = (&store, &files, &worker, &people, &villages);
        async move {
            let t = Instant::now();
            let meta = village_meta(title, open);
            let loaded = publish(store, files, worker, people, &meta, villages.csv(repeats)).await?;
            println!(
                "{title}: resource {} ({open}), {} rows loaded and published in {:.1}s",
                loaded.id,
                loaded.rows,
                t.elapsed().as_secs_f64()
            );
            anyhow::Ok(loaded)
        }
    };
    let plain = load("全国村（社区）级区划代码（扩展，无条件开放）", "unconditional", repeats).await?;
    let marked = load("全国村（社区）级区划代码（扩展，有条件开放）", "conditional", repeats).await?;
    let table = load("全国村（社区）级区划代码（有条件开放）", "conditional", 0).await?;
    let (Some(key), Some(bytes), Some(sha256)) = (&plain.export_key, plain.export_bytes, &plain.export_sha256) else {
        bail!("the published copy of resource {} was not written", plain.id);
    };
    let file = files.local_path(key).context("the file store is not local")?;

    let terms_grant = access::accept_terms(&store, &people.consumer, plain.id, true).await?;
    let grants = apply_and_approve(&store, &people, &[&marked, &table]).await?;
    let app_key = access::rotate_app_key(&store, &people.consumer, grants[1]).await?;
    let (_, token) = auth::create_token(&store, &people.consumer, "access benchmark").await?;

    let manifest = json!({
        "plain": {"resource": plain.id, "name": plain.name, "dist": plain.dist, "path": plain.path(),
                  "rows": plain.rows, "grant": terms_grant,
                  "file": file, "bytes": bytes, "sha256": sha256},
        "watermarked": {"resource": marked.id, "name": marked.name, "dist": marked.dist, "path": marked.path(),
                        "rows": marked.rows, "grant": grants[0], "bytes": marked.export_bytes},
        "villages": {"resource": table.id, "name": table.name, "dist": table.dist, "path": table.path(),
                     "rows": table.rows, "grant": grants[1], "bytes": table.export_bytes},
        "consumer": people.consumer.label,
        "token": token,
        "app_key": app_key,
    });
    write_private(&dir.join(MANIFEST), &serde_json::to_string_pretty(&manifest)?)?;
    store.close().await;
    println!(
        "set up in {:.1}s: {}",
        started.elapsed().as_secs_f64(),
        dir.join(MANIFEST).display()
    );
    Ok(())
}

/// The administration institution's reviewer, one provider department with an editor and a
/// reviewer, and a registered consumer.
async fn seed_people(store: &Store, password: &str) -> anyhow::Result<People> {
    let console = Caller::console();
    let org = |kind: &str, name: &str, code: &str| NewOrg {
        kind: kind.into(),
        name: name.into(),
        credit_code: code.into(),
        region_code: "510000".into(),
        ..Default::default()
    };
    let centre = accounts::create_org(
        store,
        &console,
        org("admin_institution", "四川省大数据中心", "91350100M000100Y43"),
    )
    .await?;
    let provider_org =
        accounts::create_org(store, &console, org("provider", "四川省民政厅", "11510000008693034D")).await?;
    let staff = |login: &str, name: &str, org_id: i64, role: &str| NewStaff {
        user: new_user(login, name, password),
        org_id,
        role: role.into(),
    };
    let mut callers = Vec::new();
    for (login, name, org_id, role) in [
        ("bench.editor", "数据编辑", provider_org, "provider_editor"),
        ("bench.approver", "数据审核", provider_org, "provider_reviewer"),
        ("bench.reviewer", "李审核", centre, "admin_reviewer"),
    ] {
        let id = accounts::create_staff(store, &console, staff(login, name, org_id, role)).await?;
        callers.push(caller_for(store, id).await?);
    }
    let reg = Registration {
        user: new_user("bench.consumer", "周市民", password),
        org: None,
    };
    let consumer = accounts::register_consumer(store, &Caller::anonymous(None), reg).await?;
    let [editor, provider_reviewer, admin_reviewer] =
        <[Caller; 3]>::try_from(callers).map_err(|_| anyhow::anyhow!("three staff accounts expected"))?;
    Ok(People {
        provider_org,
        editor,
        provider_reviewer,
        admin_reviewer,
        consumer: caller_for(store, consumer).await?,
    })
}

/// The village table's 数据项: `code` and `streetCode` are keys, so the datastore indexes them.
fn village_meta(title: &str, open_type: &str) -> NewResourceMeta {
    let field = |name: &str, title: &str, ty: &str| NewField {
        name: name.into(),
        title: title.into(),
        field_type: ty.into(),
        key: name == "code" || name == "streetCode",
        required: name == "code",
        ..Default::default()
    };
    NewResourceMeta {
        title: title.into(),
        summary: "国家统计局 2023 年统计用区划代码中的村民委员会和社区居民委员会代码、名称及所属乡镇（街道）、县、市、省代码。"
            .into(),
        domain: "livelihood".into(),
        open_type: open_type.into(),
        open_conditions: if open_type == "conditional" {
            "仅限用于政务服务、公共管理和学术研究，需说明使用目的并签署数据安全承诺书。".into()
        } else {
            String::new()
        },
        update_frequency: "yearly".into(),
        tags: vec!["行政区划".into(), "村委会".into(), "社区".into()],
        spatial: "510000".into(),
        temporal_from: "2023-01-01".into(),
        contact_phone: "028-86001234".into(),
        fields: vec![
            field("code", "区划代码", "code"),
            field("name", "名称", "string"),
            field("streetCode", "乡镇（街道）代码", "code"),
            field("provinceCode", "省级代码", "code"),
            field("cityCode", "地级代码", "code"),
            field("areaCode", "县级代码", "code"),
        ],
        ..Default::default()
    }
}

/// Creates the resource, uploads `csv` through the normal upload path, runs its ingest (which
/// writes the published copy), and has it reviewed and published.
async fn publish(
    store: &Store,
    files: &FileStore,
    worker: &Worker,
    people: &People,
    meta: &NewResourceMeta,
    csv: impl Iterator<Item = String>,
) -> anyhow::Result<Loaded> {
    let id = resources::create(store, &people.editor, people.provider_org, meta, None).await?;
    let ticket = ingest::begin_upload(store, &people.editor, id, "villages.csv").await?;
    let mut writer = files.writer(&ticket.key, u64::MAX).await?;
    let mut buf = String::with_capacity(UPLOAD_CHUNK + 4096);
    for line in csv {
        buf.push_str(&line);
        if buf.len() >= UPLOAD_CHUNK {
            if writer.write(buf.as_bytes()).await?.is_err() {
                bail!("the upload is too large");
            }
            buf.clear();
        }
    }
    if !buf.is_empty() && writer.write(buf.as_bytes()).await?.is_err() {
        bail!("the upload is too large");
    }
    let stored = writer.finish().await?;
    let info = UploadInfo {
        title: "villages.csv".into(),
        change_note: "2023 年统计用区划代码".into(),
    };
    let dist = ingest::finish_upload(store, &people.editor, &ticket, &stored, &info).await?;
    while worker.run_once().await? {}
    let d = store
        .distribution(dist)
        .await?
        .filter(|d| d.datastore_table.is_some())
        .with_context(|| format!("resource {id} did not load"))?;
    let rows = store
        .datastore_row_count(d.datastore_table.as_deref().unwrap_or_default())
        .await?;
    resources::submit(store, &people.editor, id, &WorkCalendar::official()).await?;
    let approve = Decision::Approve(ReviewChecklist::passed());
    resources::decide(store, &people.admin_reviewer, id, approve).await?;
    let name = store.resource(id).await?.context("resource vanished")?.code;
    Ok(Loaded {
        id,
        name: name.to_ascii_lowercase(),
        dist,
        rows,
        export_key: d.export_key,
        export_bytes: d.export_bytes,
        export_sha256: d.export_sha256,
    })
}

fn today() -> Date {
    Date::from_unix_millis_cst(now_ms())
}

/// The consumer applies for every field of the conditional resources; the administration
/// institution forwards, the provider approves downloads and the data API for 90 days, usable
/// from today (an approval can only start tomorrow). Returns the grants in the given order.
async fn apply_and_approve(store: &Store, people: &People, wanted: &[&Loaded]) -> anyhow::Result<Vec<i64>> {
    let settings = AccessSettings::default();
    let cal = WorkCalendar::official();
    let fields = ["code", "name", "streetCode", "provinceCode", "cityCode", "areaCode"];
    let items: Vec<_> = wanted
        .iter()
        .map(|r| json!({"resource_id": r.id, "fields": fields}))
        .collect();
    let form: NewApplication = serde_json::from_value(json!({
        "purpose": "建设乡村振兴监测平台，按村（社区）汇总公共服务设施覆盖情况。",
        "scenario": "政务服务：平台内部统计分析，不对外提供原始数据。",
        "resources": items,
        "period_from": today().add_days(1).to_string(), "period_to": today().add_days(100).to_string(),
        "security_measures": "数据存放于内网服务器，专人管理，访问留痕，项目结束后删除。",
        "commitment_accepted": true}))?;
    let consumer = &people.consumer;
    let id = access::save_draft(store, consumer, None, &form).await?;
    access::submit(store, consumer, id, &settings, &cal).await?;
    let forward = Action::Forward { note: String::new() };
    access::act(store, &people.admin_reviewer, id, forward, &settings, &cal).await?;
    let scope: NewScope = serde_json::from_value(json!({
        "resources": items,
        "valid_from": today().add_days(1).to_string(), "valid_to": today().add_days(90).to_string(),
        "methods": ["download", "api"]}))?;
    let grants = access::approve(store, &people.provider_reviewer, id, &scope, &settings, &cal).await?;
    let mut tx = store.begin().await?;
    for g in &grants {
        tx.set_grant_window(*g, Some(&today().to_string()), None).await?;
    }
    tx.commit().await?;
    // `approve` returns one grant per granted resource; match them to `wanted` by resource.
    let mut ordered = Vec::new();
    for r in wanted {
        let g = store
            .list_grants(consumer.actor.user_id, Some(r.id))
            .await?
            .into_iter()
            .find(|g| grants.contains(&g.id))
            .with_context(|| format!("no grant for resource {}", r.id))?;
        ordered.push(g.id);
    }
    Ok(ordered)
}

fn new_user(login: &str, name: &str, password: &str) -> NewUser {
    NewUser {
        login: login.into(),
        display_name: name.into(),
        email: format!("{login}@bench.pubdata.cn"),
        phone: String::new(),
        password: password.into(),
    }
}

async fn caller_for(store: &Store, id: i64) -> anyhow::Result<Caller> {
    let u = store.user(id).await?.context("user vanished")?;
    Ok(Caller {
        actor: actor_for(&u),
        label: u.login.clone(),
        ip: None,
    })
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    std::fs::write(path, content)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
