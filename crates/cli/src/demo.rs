//! `pubdata demo`: a whole platform on one machine, seeded through the normal services (no SQL
//! shortcuts) with the administration institution, provider departments, consumers and an
//! account for every role; reused on later runs.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use pubdata_core::calendar::WorkCalendar;
use pubdata_core::credit_code::check_char;
use pubdata_core::metadata::{NewField, NewResourceMeta};
use pubdata_core::org::NewOrg;
use pubdata_core::plan::{NewPlan, NewPlanItem};
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::user::NewUser;
use pubdata_server::{AppState, Config};
use pubdata_service::accounts::{self, actor_for, NewStaff, Registration};
use pubdata_service::ingest::{self, NewApi, UploadInfo, INGEST_JOB};
use pubdata_service::jobs::Worker;
use pubdata_service::resources::{self, Decision};
use pubdata_service::{ingest_job, plans, Caller, Store};
use pubdata_store::FileStore;
use rand::Rng;

#[derive(Args)]
pub struct DemoArgs {
    /// Where the demo keeps its database and files.
    #[arg(long, default_value = "./pubdata-demo")]
    pub data_dir: PathBuf,
    /// Delete the demo data and seed afresh.
    #[arg(long)]
    pub reset: bool,
    /// Password for every demo account (otherwise one is generated on first run).
    #[arg(long)]
    pub password: Option<String>,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Keep the demo's database in PostgreSQL (an empty database, e.g.
    /// `postgres://postgres@127.0.0.1:5432/pubdata_demo`) instead of SQLite in the data folder;
    /// files and the search index stay in the data folder.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// A demo organisation: name, kind, the region and organisation-code body of its credit code.
struct DemoOrg {
    name: &'static str,
    kind: &'static str,
    code_body: &'static str,
}

/// Credit codes for the demo's fictional bodies: real structure, computed check character.
fn credit_code(body: &str) -> String {
    format!("{body}{}", check_char(body).unwrap_or('0'))
}

const ADMIN_ORG: DemoOrg = DemoOrg {
    name: "四川省大数据中心",
    kind: "admin_institution",
    code_body: "12510000MB1A00001",
};
const PROVIDERS: [DemoOrg; 3] = [
    DemoOrg {
        name: "四川省交通运输厅",
        kind: "provider",
        code_body: "11510000008693034",
    },
    DemoOrg {
        name: "四川省生态环境厅",
        kind: "provider",
        code_body: "11510000MB1A00021",
    },
    DemoOrg {
        name: "成都市卫生健康委员会",
        kind: "provider",
        code_body: "11510100MB1A00035",
    },
];

/// login, display name, org index (0 = admin institution, 1.. = providers), role.
const STAFF: [(&str, &str, usize, &str); 8] = [
    ("admin.manager", "王管理", 0, "admin_manager"),
    ("admin.reviewer", "李审核", 0, "admin_reviewer"),
    ("prov.manager", "张主任", 1, "provider_manager"),
    ("prov.editor", "陈编辑", 1, "provider_editor"),
    ("prov.reviewer", "刘审核", 1, "provider_reviewer"),
    ("env.editor", "赵编辑", 2, "provider_editor"),
    ("health.editor", "孙编辑", 3, "provider_editor"),
    ("health.reviewer", "周审核", 3, "provider_reviewer"),
];

const MARKER: &str = "seeded";
const PASSWORD_FILE: &str = "demo-password.txt";

pub async fn run(config_path: Option<&Path>, args: DemoArgs) -> anyhow::Result<()> {
    let dir = &args.data_dir;
    if args.reset && dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot delete {}", dir.display()))?;
    }
    // A crash during seeding leaves no marker: start over rather than run half a demo.
    if dir.exists() && !dir.join(MARKER).exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot delete {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut config = Config::load(config_path)?;
    config.data_dir = dir.clone();
    config.database_url = args.database_url.clone();
    config.addr = args.addr.clone();
    let store = crate::open_store(&config).await?;
    crate::ensure_regions(&store, &config).await?;
    let fresh = !dir.join(MARKER).exists();
    let password = match (&args.password, fresh) {
        (Some(p), _) => p.clone(),
        (None, true) => generate_password(),
        (None, false) => std::fs::read_to_string(dir.join(PASSWORD_FILE))
            .unwrap_or_default()
            .trim()
            .to_string(),
    };
    if fresh {
        seed(&store, &password).await.context("seeding the demo failed")?;
        if config.regions_dir.join("streets.csv").is_file() {
            seed_data(&store, &config)
                .await
                .context("seeding the demo data failed")?;
        }
        std::fs::write(dir.join(MARKER), "")?;
    } else if args.password.is_some() {
        set_all_passwords(&store, &password).await?;
    }
    write_private(&dir.join(PASSWORD_FILE), &password)?;
    print_banner(&config.addr, dir, &password);
    pubdata_server::serve(AppState::new(store, config)?, &args.addr).await
}

fn generate_password() -> String {
    const CHARS: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    let s: String = (0..12).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect();
    format!("demo-{s}-7")
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

fn new_user(login: &str, name: &str, password: &str) -> NewUser {
    NewUser {
        login: login.into(),
        display_name: name.into(),
        email: format!("{login}@demo.pubdata.cn"),
        phone: String::new(),
        password: password.into(),
    }
}

fn new_org(o: &DemoOrg) -> NewOrg {
    NewOrg {
        kind: o.kind.into(),
        name: o.name.into(),
        credit_code: credit_code(o.code_body),
        region_code: o.code_body[2..8].into(),
        contact_name: "数据开放专员".into(),
        contact_phone: "028-86001234".into(),
        contact_email: "open@demo.pubdata.cn".into(),
    }
}

async fn seed(store: &Store, password: &str) -> anyhow::Result<()> {
    let console = Caller::console();
    let root_id = accounts::create_sysadmin(store, &console, new_user("sysadmin", "系统管理员", password)).await?;
    let root = store.user(root_id).await?.context("sysadmin vanished")?;
    // Everything else is done by the sysadmin account, through the same services the UI uses.
    let caller = Caller {
        actor: actor_for(&root),
        label: root.login.clone(),
        ip: None,
    };
    let mut org_ids = vec![accounts::create_org(store, &caller, new_org(&ADMIN_ORG)).await?];
    for p in &PROVIDERS {
        org_ids.push(accounts::create_org(store, &caller, new_org(p)).await?);
    }
    for (login, name, org, role) in STAFF {
        let staff = NewStaff {
            user: new_user(login, name, password),
            org_id: org_ids[org],
            role: role.into(),
        };
        accounts::create_staff(store, &caller, staff).await?;
    }
    let anonymous = Caller::anonymous(None);
    let person = Registration {
        user: new_user("consumer.person", "周市民", password),
        org: None,
    };
    accounts::register_consumer(store, &anonymous, person).await?;
    let company = Registration {
        user: new_user("consumer.org", "吴经办", password),
        org: Some(NewOrg {
            name: "成都数联科技有限公司".into(),
            credit_code: credit_code("91510100MA6C00017"),
            region_code: "510100".into(),
            ..Default::default()
        }),
    };
    accounts::register_consumer(store, &anonymous, company).await?;
    Ok(())
}

async fn caller(store: &Store, login: &str) -> anyhow::Result<Caller> {
    let u = store
        .user_by_login(login)
        .await?
        .with_context(|| format!("demo user {login} missing"))?;
    Ok(Caller {
        actor: actor_for(&u),
        label: u.login.clone(),
        ip: None,
    })
}

fn full_meta(title: &str, summary: &str, fields: &[(&str, &str, &str)]) -> NewResourceMeta {
    NewResourceMeta {
        title: title.into(),
        summary: summary.into(),
        domain: "social_development".into(),
        open_type: "unconditional".into(),
        update_frequency: "yearly".into(),
        tags: vec!["行政区划".into(), "统计用区划代码".into()],
        spatial: "510000".into(),
        temporal_from: "2023-01-01".into(),
        contact_phone: "028-86001234".into(),
        contact_email: "open@demo.pubdata.cn".into(),
        fields: fields
            .iter()
            .map(|(name, title, ty)| NewField {
                name: (*name).into(),
                title: (*title).into(),
                field_type: (*ty).into(),
                key: *name == "code",
                required: *name == "code",
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Uploads a file through the normal upload path and runs its ingest now.
async fn upload_and_ingest(
    store: &Store,
    files: &FileStore,
    worker: &Worker,
    who: &Caller,
    resource: i64,
    path: &Path,
) -> anyhow::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("data.csv");
    let ticket = ingest::begin_upload(store, who, resource, name).await?;
    let mut writer = files.writer(&ticket.key, u64::MAX).await?;
    let bytes = std::fs::read(path)?;
    for chunk in bytes.chunks(1 << 20) {
        if writer.write(chunk).await?.is_err() {
            anyhow::bail!("{} is too large", path.display());
        }
    }
    let stored = writer.finish().await?;
    let info = UploadInfo {
        title: name.into(),
        change_note: "2023 年统计用区划代码".into(),
    };
    ingest::finish_upload(store, who, &ticket, &stored, &info).await?;
    while worker.run_once().await? {}
    Ok(())
}

/// A plan, a published resource from the real street table, and one awaiting review, all made
/// through the services by the demo's provider editor and reviewer.
async fn seed_data(store: &Store, config: &Config) -> anyhow::Result<()> {
    let files = FileStore::local(&config.data_dir.join("files"))?;
    let secret = pubdata_server::mask_secret(&config.data_dir)?;
    let worker = Worker::new(store.clone(), "demo-seed").handle(INGEST_JOB, ingest_job::handler(files.clone(), secret));
    let editor = caller(store, "prov.editor").await?;
    let reviewer = caller(store, "admin.reviewer").await?;
    let provider = editor.actor.memberships[0]
        .org_id
        .context("editor without organisation")?;
    let plan = plans::create_plan(
        store,
        &editor,
        provider,
        &NewPlan {
            title: "2026 年公共数据开放计划".into(),
            period_start: "2026-01-01".into(),
            period_end: "2026-12-31".into(),
            source: "policy".into(),
        },
    )
    .await?;
    let item = |name: &str, date: &str| NewPlanItem {
        name: name.into(),
        domain: "社会发展".into(),
        open_type: "无条件开放".into(),
        planned_date: date.into(),
        notes: String::new(),
        demand_id: None,
    };
    let streets_item = plans::add_item(store, &editor, plan, &item("全国乡镇（街道）区划代码", "2026-06-30")).await?;
    let areas_item = plans::add_item(store, &editor, plan, &item("全国县级区划代码", "2026-09-30")).await?;
    plans::add_item(store, &editor, plan, &item("公路养护里程统计", "2026-03-31")).await?;

    let streets = full_meta(
        "全国乡镇（街道）区划代码",
        "国家统计局 2023 年统计用区划代码中的乡镇级（街道）区划，含所属县、市、省代码。",
        &[
            ("code", "区划代码", "code"),
            ("name", "名称", "string"),
            ("areaCode", "县级代码", "code"),
            ("provinceCode", "省级代码", "code"),
            ("cityCode", "地级代码", "code"),
        ],
    );
    let id = resources::create(store, &editor, provider, &streets, Some(streets_item)).await?;
    upload_and_ingest(
        store,
        &files,
        &worker,
        &editor,
        id,
        &config.regions_dir.join("streets.csv"),
    )
    .await?;
    let calendar = WorkCalendar::official();
    resources::submit(store, &editor, id, &calendar).await?;
    resources::decide(store, &reviewer, id, Decision::Approve(ReviewChecklist::passed())).await?;

    let areas = full_meta(
        "全国县级区划代码",
        "国家统计局 2023 年统计用区划代码中的县级区划，含所属市、省代码。",
        &[
            ("code", "区划代码", "code"),
            ("name", "名称", "string"),
            ("cityCode", "地级代码", "code"),
            ("provinceCode", "省级代码", "code"),
        ],
    );
    let id = resources::create(store, &editor, provider, &areas, Some(areas_item)).await?;
    upload_and_ingest(
        store,
        &files,
        &worker,
        &editor,
        id,
        &config.regions_dir.join("areas.csv"),
    )
    .await?;
    resources::submit(store, &editor, id, &calendar).await?;
    seed_catalogue(store, &config.regions_dir, &files, &worker, &reviewer).await
}

/// More published resources, so the catalogue has something to search, facet and harvest:
/// several providers, domains, formats and both open types, all from the real region files.
async fn seed_catalogue(
    store: &Store,
    regions: &Path,
    files: &FileStore,
    worker: &Worker,
    reviewer: &Caller,
) -> anyhow::Result<()> {
    let calendar = &WorkCalendar::official();
    let publish = |who: Caller, meta: NewResourceMeta, data: Option<PathBuf>, api: Option<NewApi>| async move {
        let provider = who.actor.memberships[0].org_id.context("editor without organisation")?;
        let id = resources::create(store, &who, provider, &meta, None).await?;
        if let Some(path) = data {
            upload_and_ingest(store, files, worker, &who, id, &path).await?;
        }
        if let Some(api) = api {
            ingest::add_api(store, &who, id, &api).await?;
        }
        resources::submit(store, &who, id, calendar).await?;
        resources::decide(store, reviewer, id, Decision::Approve(ReviewChecklist::passed())).await?;
        anyhow::Ok(id)
    };
    let transport = caller(store, "prov.editor").await?;
    let mut provinces = full_meta(
        "全国省级行政区划代码",
        "国家统计局 2023 年统计用区划代码中的省级行政区划（省、自治区、直辖市）代码和名称，可作为各类数据的地区编码对照表。",
        &[("code", "区划代码", "code"), ("name", "名称", "string")],
    );
    provinces.title_en = "Province-level administrative division codes".into();
    provinces.domain = "institutions".into();
    provinces.tags = vec!["行政区划".into(), "省份".into(), "地区编码".into()];
    provinces.spatial = "510000".into();
    publish(transport.clone(), provinces, Some(regions.join("provinces.csv")), None).await?;

    let mut cities = full_meta(
        "全国地级行政区划代码",
        "国家统计局 2023 年统计用区划代码中的地级行政区划（地级市、地区、自治州、盟）代码、名称和所属省级代码。",
        &[
            ("code", "区划代码", "code"),
            ("name", "名称", "string"),
            ("provinceCode", "省级代码", "code"),
        ],
    );
    cities.title_en = "Prefecture-level administrative division codes".into();
    cities.tags = vec!["行政区划".into(), "地级市".into()];
    publish(transport.clone(), cities, Some(regions.join("cities.csv")), None).await?;

    let mut traffic = full_meta(
        "公路路况实时查询接口",
        "提供全省高速公路和普通国省道的实时路况、交通管制和施工信息查询，数据每五分钟更新一次。",
        &[
            ("road", "道路编号", "string"),
            ("section", "路段", "string"),
            ("congestion", "拥堵等级", "integer"),
            ("control", "管制信息", "string"),
            ("updated_at", "更新时间", "datetime"),
        ],
    );
    traffic.domain = "transport".into();
    traffic.update_frequency = "realtime".into();
    traffic.tags = vec!["路况".into(), "交通管制".into(), "高速公路".into()];
    traffic.temporal_from = "2024-01-01".into();
    let api = NewApi {
        title: "实时路况接口".into(),
        url: "https://example.gov.cn/api/traffic/conditions".into(),
        method: "GET".into(),
        params: "road: 道路编号，如 G5\nregion: 区划代码".into(),
        doc: "返回 JSON：道路、路段、拥堵等级、管制信息、更新时间。".into(),
        change_note: String::new(),
    };
    publish(transport, traffic, None, Some(api)).await?;

    let env = caller(store, "env.editor").await?;
    let mut air = full_meta(
        "空气质量自动监测站点实时数据接口",
        "全省环境空气质量自动监测站点的 PM2.5、PM10、二氧化硫、二氧化氮、臭氧、一氧化碳小时浓度和空气质量指数（AQI）。",
        &[
            ("station", "站点编号", "code"),
            ("time", "监测时间", "datetime"),
            ("pm25", "PM2.5 浓度", "decimal"),
            ("pm10", "PM10 浓度", "decimal"),
            ("aqi", "空气质量指数", "integer"),
        ],
    );
    air.domain = "resources_environment".into();
    air.update_frequency = "realtime".into();
    air.tags = vec!["空气质量".into(), "环境监测".into(), "AQI".into()];
    air.temporal_from = "2024-01-01".into();
    air.title_en = "Real-time air quality monitoring stations API".into();
    let api = NewApi {
        title: "空气质量小时数据接口".into(),
        url: "https://example.gov.cn/api/env/air-quality".into(),
        method: "GET".into(),
        params: "station: 站点编号\ndate: 日期，YYYY-MM-DD".into(),
        doc: "返回 JSON：站点、时间、各污染物浓度和 AQI。".into(),
        change_note: String::new(),
    };
    publish(env, air, None, Some(api)).await?;

    // Conditional data: Chengdu's villages and communities, which a consumer must apply for.
    let health = caller(store, "health.editor").await?;
    let villages = regions.join("villages.csv.gz");
    if villages.is_file() {
        let path = std::env::temp_dir().join(format!("pubdata-demo-villages-{}.csv", std::process::id()));
        write_chengdu_villages(&villages, &path)?;
        let mut meta = full_meta(
            "成都市村（社区）级区划代码",
            "成都市各区（市）县所辖村民委员会和社区居民委员会的统计用区划代码、名称及所属乡镇（街道）代码，用于基层医疗卫生机构服务范围划分。",
            &[
                ("code", "区划代码", "code"),
                ("name", "名称", "string"),
                ("streetCode", "乡镇（街道）代码", "code"),
                ("provinceCode", "省级代码", "code"),
                ("cityCode", "地级代码", "code"),
                ("areaCode", "县级代码", "code"),
            ],
        );
        meta.open_type = "conditional".into();
        meta.open_conditions = "仅限用于公共卫生服务和学术研究，需说明使用目的并签署数据安全承诺书。".into();
        meta.domain = "health".into();
        meta.spatial = "510100".into();
        meta.tags = vec!["社区".into(), "村委会".into(), "基层医疗".into()];
        let published = publish(health, meta, Some(path.clone()), None).await;
        let _ = std::fs::remove_file(&path);
        seed_applications(store, published?).await?;
    }
    Ok(())
}

/// A consumer who has accepted the terms of the street table, and a company's application for
/// the conditional village table waiting in the administration institution's pre-review queue.
async fn seed_applications(store: &Store, villages: i64) -> anyhow::Result<()> {
    use pubdata_core::application::NewApplication;
    use pubdata_service::access::{self, AccessSettings};
    let person = caller(store, "consumer.person").await?;
    let streets = store
        .resource_by_code(&format!(
            "510000-{}-000001",
            &credit_code(PROVIDERS[0].code_body)[8..17]
        ))
        .await?;
    if let Some(streets) = streets {
        access::accept_terms(store, &person, streets.id, true).await?;
    }
    let company = caller(store, "consumer.org").await?;
    let today = pubdata_core::calendar::Date::from_unix_millis_cst(pubdata_store::now_ms());
    let form: NewApplication = serde_json::from_value(serde_json::json!({
        "purpose": "为社区养老服务平台建立村（社区）级服务网格，匹配老年人就近服务点。",
        "scenario": "成都市社区居家养老服务调度系统，仅在系统内部使用，不对外公开原始数据。",
        "resources": [{"resource_id": villages, "fields": ["code", "name", "streetCode", "areaCode"]}],
        "period_from": today.add_days(1).to_string(), "period_to": today.add_days(180).to_string(),
        "security_measures": "数据存放于公司内网数据库，仅两名授权工程师可访问，访问全程留痕，项目结束后删除。",
        "commitment_accepted": true}))?;
    let id = access::save_draft(store, &company, None, &form).await?;
    access::submit(
        store,
        &company,
        id,
        &AccessSettings::default(),
        &WorkCalendar::official(),
    )
    .await?;
    Ok(())
}

/// Writes the rows of Chengdu (city code 5101) from the national village file as a CSV.
fn write_chengdu_villages(from: &Path, to: &Path) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(from)?));
    let mut out = std::io::BufWriter::new(std::fs::File::create(to)?);
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if i == 0 || line.starts_with("5101") {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(())
}

fn demo_logins() -> Vec<&'static str> {
    let mut v = vec!["sysadmin"];
    v.extend(STAFF.iter().map(|s| s.0));
    v.extend(["consumer.person", "consumer.org"]);
    v
}

async fn set_all_passwords(store: &Store, password: &str) -> anyhow::Result<()> {
    let console = Caller::console();
    for login in demo_logins() {
        if let Some(u) = store.user_by_login(login).await? {
            accounts::reset_password(store, &console, u.id, password).await?;
        }
    }
    Ok(())
}

fn print_banner(addr: &str, dir: &Path, password: &str) {
    println!();
    println!("pubdata demo is running at http://{addr}");
    println!("data directory: {}", dir.display());
    println!();
    println!("Accounts (every one has the password: {password}):");
    let roles = [
        ("sysadmin", "system administrator"),
        ("admin.manager", "administration manager · 四川省大数据中心"),
        ("admin.reviewer", "administration reviewer · 四川省大数据中心"),
        ("prov.manager", "provider manager · 四川省交通运输厅"),
        ("prov.editor", "provider editor · 四川省交通运输厅"),
        ("prov.reviewer", "provider reviewer · 四川省交通运输厅"),
        ("env.editor", "provider editor · 四川省生态环境厅"),
        ("health.editor", "provider editor · 成都市卫生健康委员会"),
        ("health.reviewer", "provider reviewer · 成都市卫生健康委员会"),
        ("consumer.person", "consumer, individual (个人)"),
        ("consumer.org", "consumer, legal person (法人) · 成都数联科技有限公司"),
    ];
    for (login, what) in roles {
        println!("  {login:<16} {what}");
    }
    println!();
    println!("Press Ctrl-C to stop. Run again to reuse the data; --reset starts over.");
}
