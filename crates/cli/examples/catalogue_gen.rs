//! Generates the catalogue `bench/search.sh` measures: 100 provider departments of Sichuan, a
//! chosen number of published resources with Chinese metadata and one API each, and (with
//! `--villages`) the national village table loaded through the real upload and ingest path,
//! plus a consumer who accepted its usage terms and their API token for the data API.
//!
//!   cargo run --release -p pubdata --example catalogue_gen -- --data-dir DIR --resources 100000
//!
//! Everything goes through the services by default (`--via service`): each resource is created,
//! given its API, submitted and approved — four transactions with their audit events, about
//! 380 resources a second. `--via bulk` writes the generated resources straight as published
//! instead (resource, API distribution and catalogue change, 5,000 per transaction, no review
//! records or audit events), about 8 times faster, for catalogues larger than the benchmark's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use pubdata_core::calendar::WorkCalendar;
use pubdata_core::credit_code::check_char;
use pubdata_core::metadata::{resource_code, NewField, NewResourceMeta};
use pubdata_core::org::NewOrg;
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::user::NewUser;
use pubdata_server::Config;
use pubdata_service::accounts::{self, actor_for, NewStaff, Registration};
use pubdata_service::ingest::{self, NewApi, UploadInfo, INGEST_JOB};
use pubdata_service::jobs::Worker;
use pubdata_service::resources::{self, Decision};
use pubdata_service::{access, auth, ingest_job, regions, Caller, Store};
use pubdata_store::{now_ms, FileStore, NewDistribution, ResourceStateChange};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

#[derive(Parser)]
#[command(about = "Generates a realistic pubdata catalogue for the search benchmark")]
struct Args {
    /// A new data directory for the database (and files of the village resource).
    #[arg(long)]
    data_dir: PathBuf,
    /// Published resources to generate.
    #[arg(long, default_value_t = 100_000)]
    resources: usize,
    /// How resources are written: through the services, or straight into the tables.
    #[arg(long, value_enum, default_value_t = Via::Service)]
    via: Via,
    /// Also publish the national village table (620k rows) and make a consumer API token.
    #[arg(long)]
    villages: bool,
    /// The national region files (provinces.csv … villages.csv.gz).
    #[arg(long, default_value = "../shared/data")]
    regions_dir: PathBuf,
    /// Seed of the random choices: the same seed gives the same catalogue.
    #[arg(long, default_value_t = 2024)]
    seed: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Via {
    Service,
    Bulk,
}

/// Written last, so a directory holding it holds a whole catalogue.
const MARKER: &str = "bench-catalogue.txt";
const TOKEN_FILE: &str = "bench-token.txt";
const VILLAGES_FILE: &str = "bench-villages-id.txt";
/// Resources per transaction on the bulk path.
const BULK_BATCH: usize = 5_000;

/// A department: its name under a city and under the province, its 领域, and what it publishes:
/// registers (名录-like subjects) and statistics.
struct Dept {
    city: &'static str,
    province: &'static str,
    domain: &'static str,
    registers: &'static [&'static str],
    statistics: &'static [&'static str],
}

const DEPTS: [Dept; 20] = [
    Dept {
        city: "交通运输局",
        province: "交通运输厅",
        domain: "transport",
        registers: &[
            "公交线路",
            "公交站点",
            "出租汽车经营企业",
            "道路运输经营许可",
            "客运站",
            "网约车平台公司",
            "公共停车场",
            "新能源汽车充电桩",
            "驾驶员培训机构",
            "机动车维修企业",
        ],
        statistics: &["公路养护里程", "公路客运量", "道路货运量", "公路通车里程"],
    },
    Dept {
        city: "卫生健康委员会",
        province: "卫生健康委员会",
        domain: "health",
        registers: &[
            "医疗机构",
            "执业医师注册",
            "基层医疗卫生机构",
            "预防接种门诊",
            "妇幼保健机构",
            "无偿献血点",
            "院前急救站点",
            "医养结合机构",
            "护士执业注册",
        ],
        statistics: &["医院床位数", "卫生技术人员", "法定传染病发病", "出生人口"],
    },
    Dept {
        city: "生态环境局",
        province: "生态环境厅",
        domain: "resources_environment",
        registers: &[
            "重点排污单位",
            "排污许可证",
            "环境影响评价审批",
            "危险废物经营许可证",
            "饮用水水源地",
            "噪声监测点位",
            "空气质量监测站点",
            "地表水水质监测断面",
        ],
        statistics: &["空气质量指数", "地表水水质", "污染物排放总量", "环境噪声监测"],
    },
    Dept {
        city: "市场监督管理局",
        province: "市场监督管理局",
        domain: "market_regulation",
        registers: &[
            "市场主体登记",
            "食品经营许可证",
            "食品生产许可证",
            "特种设备使用登记",
            "行政处罚信息",
            "双随机抽查结果",
            "计量检定机构",
            "药品零售企业",
            "个体工商户登记",
        ],
        statistics: &["市场主体数量", "产品质量监督抽查", "消费投诉举报"],
    },
    Dept {
        city: "教育局",
        province: "教育厅",
        domain: "education_technology",
        registers: &[
            "中小学校",
            "幼儿园",
            "义务教育招生范围",
            "民办学校",
            "校外培训机构",
            "教师资格认定",
            "学校食堂",
            "中等职业学校",
        ],
        statistics: &["在校学生数", "专任教师数", "高考报名人数"],
    },
    Dept {
        city: "民政局",
        province: "民政厅",
        domain: "livelihood",
        registers: &[
            "养老机构",
            "社会组织登记",
            "婚姻登记机关",
            "殡葬服务机构",
            "社区综合服务设施",
            "慈善组织",
            "儿童福利机构",
            "标准地名",
        ],
        statistics: &["城乡低保对象", "特困供养人员", "婚姻登记数量"],
    },
    Dept {
        city: "住房和城乡建设局",
        province: "住房和城乡建设厅",
        domain: "urban_construction",
        registers: &[
            "商品房预售许可",
            "建筑业企业资质",
            "房地产开发企业",
            "物业服务企业",
            "住房公积金缴存单位",
            "保障性租赁住房项目",
            "燃气经营许可",
            "建筑工程施工许可",
            "城镇老旧小区改造项目",
        ],
        statistics: &["商品房销售面积", "住房公积金缴存", "城市建设统计"],
    },
    Dept {
        city: "自然资源和规划局",
        province: "自然资源厅",
        domain: "resources_environment",
        registers: &[
            "国有建设用地供应",
            "不动产登记机构",
            "采矿权",
            "地质灾害隐患点",
            "测绘资质单位",
            "建设用地规划许可",
        ],
        statistics: &["土地利用现状", "耕地保有量", "森林覆盖率"],
    },
    Dept {
        city: "公安局",
        province: "公安厅",
        domain: "public_safety",
        registers: &[
            "户籍业务办理点",
            "机动车登记服务站",
            "交通违法处理点",
            "出入境办证大厅",
            "公安派出所",
            "保安服务公司",
            "旅馆业治安许可",
        ],
        statistics: &["户籍人口", "机动车保有量", "道路交通事故"],
    },
    Dept {
        city: "统计局",
        province: "统计局",
        domain: "economy",
        registers: &["规模以上工业企业", "统计调查项目", "限额以上批发零售企业"],
        statistics: &[
            "地区生产总值",
            "居民消费价格指数",
            "社会消费品零售总额",
            "固定资产投资",
            "城镇居民人均可支配收入",
            "常住人口",
        ],
    },
    Dept {
        city: "人力资源和社会保障局",
        province: "人力资源和社会保障厅",
        domain: "employment",
        registers: &[
            "职业技能培训机构",
            "人力资源服务机构",
            "就业见习基地",
            "技能人才评价机构",
            "社会保险经办机构",
            "创业孵化基地",
        ],
        statistics: &["城镇新增就业", "社会保险参保人数", "最低工资标准"],
    },
    Dept {
        city: "农业农村局",
        province: "农业农村厅",
        domain: "agriculture_rural",
        registers: &[
            "农民专业合作社",
            "家庭农场",
            "农药经营许可",
            "高标准农田项目",
            "兽药经营企业",
            "种子生产经营许可",
            "农产品地理标志",
        ],
        statistics: &["农作物播种面积", "粮食产量", "农机购置补贴"],
    },
    Dept {
        city: "文化广电旅游局",
        province: "文化和旅游厅",
        domain: "culture_leisure",
        registers: &[
            "A级旅游景区",
            "公共图书馆",
            "文物保护单位",
            "星级饭店",
            "旅行社",
            "博物馆",
            "营业性演出场所",
            "非物质文化遗产项目",
        ],
        statistics: &["旅游接待人次", "文化场馆参观人次"],
    },
    Dept {
        city: "财政局",
        province: "财政厅",
        domain: "finance_tax",
        registers: &["政府采购代理机构", "政府采购项目", "非税收入执收单位", "会计师事务所"],
        statistics: &["一般公共预算收支", "政府债务", "财政专项资金"],
    },
    Dept {
        city: "气象局",
        province: "气象局",
        domain: "meteorology",
        registers: &["自动气象站", "人工影响天气作业点", "防雷装置检测机构"],
        statistics: &["天气实况", "气象灾害预警", "降水量", "气温"],
    },
    Dept {
        city: "司法局",
        province: "司法厅",
        domain: "legal_services",
        registers: &[
            "律师事务所",
            "公证机构",
            "法律援助机构",
            "人民调解委员会",
            "司法鉴定机构",
            "基层法律服务所",
        ],
        statistics: &["法律援助案件", "人民调解案件"],
    },
    Dept {
        city: "发展和改革委员会",
        province: "发展和改革委员会",
        domain: "credit",
        registers: &[
            "行政许可信用信息",
            "行政处罚信用信息",
            "守信激励名单",
            "重点建设项目",
            "企业投资项目备案",
        ],
        statistics: &["重点项目投资完成", "重要商品价格监测"],
    },
    Dept {
        city: "医疗保障局",
        province: "医疗保障局",
        domain: "social_security",
        registers: &["定点医药机构", "医保经办机构", "医保药品目录", "医疗服务价格项目"],
        statistics: &["基本医疗保险参保", "医保基金收支"],
    },
    Dept {
        city: "应急管理局",
        province: "应急管理厅",
        domain: "public_safety",
        registers: &[
            "应急避难场所",
            "危险化学品经营许可",
            "安全生产许可",
            "救灾物资储备库",
            "森林防火检查站",
        ],
        statistics: &["生产安全事故", "自然灾害损失"],
    },
    Dept {
        city: "经济和信息化局",
        province: "经济和信息化厅",
        domain: "industry_agriculture",
        registers: &["专精特新中小企业", "工业园区", "重点工业项目", "企业技术中心", "5G基站"],
        statistics: &["工业增加值", "规上工业能耗"],
    },
];

/// The bodies whose departments provide data: the province and four of its cities (2-digit
/// province or 4-digit city codes as in the national files).
const BODIES: [&str; 5] = ["51", "5101", "5107", "5106", "5115"];

const REGISTER_FORMS: [&str; 6] = ["名录", "基本信息", "分布信息", "清单", "查询", "目录"];
const STATISTIC_FORMS: [&str; 5] = ["统计", "年度统计", "月度数据", "统计公报数据", "汇总表"];

/// 数据项 of a register: the first always, then a random choice.
const REGISTER_FIELDS: [(&str, &str, &str); 14] = [
    ("name", "名称", "string"),
    ("credit_code", "统一社会信用代码", "string"),
    ("address", "地址", "string"),
    ("region_code", "所在区划代码", "code"),
    ("phone", "联系电话", "string"),
    ("legal_person", "法定代表人", "string"),
    ("licence_no", "证书编号", "string"),
    ("issue_date", "发证日期", "date"),
    ("valid_until", "有效期至", "date"),
    ("category", "类别", "string"),
    ("status", "状态", "string"),
    ("longitude", "经度", "decimal"),
    ("latitude", "纬度", "decimal"),
    ("capacity", "规模", "integer"),
];

const STATISTIC_FIELDS: [(&str, &str, &str); 9] = [
    ("stat_year", "统计年度", "integer"),
    ("region_code", "区划代码", "code"),
    ("region_name", "地区名称", "string"),
    ("indicator", "指标名称", "string"),
    ("value", "指标值", "decimal"),
    ("unit", "计量单位", "string"),
    ("yoy", "同比增长", "decimal"),
    ("period", "统计期", "string"),
    ("source", "数据来源", "string"),
];

const FREQUENCIES: [&str; 8] = [
    "realtime",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "half_yearly",
    "yearly",
    "irregular",
];

/// A place a resource covers: its full name (`成都市武侯区`) and 6-digit code.
#[derive(Clone)]
struct Place {
    name: String,
    code: String,
}

/// A providing body with the places its departments' data cover.
struct Body {
    place: Place,
    /// Cities (for the province) and counties.
    within: Vec<Place>,
}

struct Provider {
    org_id: i64,
    name: String,
    credit_code: String,
    region: String,
    dept: usize,
    body: usize,
    editor: Caller,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = &args.data_dir;
    if dir.join(MARKER).exists() {
        println!("{} already holds a catalogue; nothing to do", dir.display());
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut config = Config::load(None)?;
    config.data_dir = dir.clone();
    config.database_url = None;
    config.regions_dir = args.regions_dir.clone();
    let store = Store::open(&config.database_url(), Default::default()).await?;
    store.migrate().await?;
    if store.count_resources(None).await? > 0 {
        bail!("{} already holds resources: give a new --data-dir", dir.display());
    }
    let started = Instant::now();
    if store.count_regions().await? == 0 && regions::is_region_dir(&args.regions_dir) {
        regions::load_from_dir(&store, &Caller::console(), &args.regions_dir).await?;
        println!("regions loaded in {:.1}s", started.elapsed().as_secs_f64());
    }
    let bodies = read_bodies(&args.regions_dir)?;
    let password = format!("bench-{}-7", now_ms());
    let (providers, reviewer) = seed_accounts(&store, &bodies, &password).await?;
    println!(
        "{} providers and their editors in {:.1}s",
        providers.len(),
        started.elapsed().as_secs_f64()
    );

    let mut rng = StdRng::seed_from_u64(args.seed);
    let t = Instant::now();
    match args.via {
        Via::Bulk => publish_bulk(&store, &providers, &bodies, &mut rng, args.resources).await?,
        Via::Service => publish_service(&store, &providers, &bodies, &reviewer, &mut rng, args.resources).await?,
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} resources published ({}) in {secs:.1}s: {:.0} per second",
        args.resources,
        if args.via == Via::Bulk { "bulk" } else { "service" },
        args.resources as f64 / secs.max(1e-9)
    );

    if args.villages {
        let t = Instant::now();
        let id = publish_villages(&store, &config, &providers, &reviewer).await?;
        std::fs::write(dir.join(VILLAGES_FILE), format!("{id}\n"))?;
        let token = consumer_token(&store, &password, id).await?;
        write_private(&dir.join(TOKEN_FILE), &token)?;
        println!(
            "village table published as resource {id} in {:.1}s; API token in {}",
            t.elapsed().as_secs_f64(),
            dir.join(TOKEN_FILE).display()
        );
    }
    std::fs::write(dir.join(MARKER), format!("resources={}\n", args.resources))?;
    store.close().await;
    println!(
        "catalogue ready in {:.1}s: {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}

/// Pads a province (2) or city (4) code to six digits.
fn six(code: &str) -> String {
    format!("{code:0<6}")
}

fn read_csv(path: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    let mut r = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows = Vec::new();
    for rec in r.records() {
        rows.push(rec?.iter().map(str::to_string).collect());
    }
    Ok(rows)
}

/// The providing bodies and the places within them, named as people write them: a county with
/// its city (`成都市武侯区`), and a municipality's districts without the `市辖区` placeholder.
fn read_bodies(dir: &Path) -> anyhow::Result<Vec<Body>> {
    let provinces: HashMap<String, String> = read_csv(&dir.join("provinces.csv"))?
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let cities = read_csv(&dir.join("cities.csv"))?;
    let areas = read_csv(&dir.join("areas.csv"))?;
    let city_name: HashMap<&str, &str> = cities.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
    let counties = |city: &str| -> Vec<Place> {
        areas
            .iter()
            .filter(|a| a[2] == city && a[1] != "市辖区")
            .map(|a| Place {
                name: format!("{}{}", city_name.get(city).copied().unwrap_or(""), a[1]),
                code: a[0].clone(),
            })
            .collect()
    };
    let mut bodies = Vec::new();
    for code in BODIES {
        let body = if code.len() == 2 {
            let name = provinces.get(code).context("province missing from provinces.csv")?;
            let mut within: Vec<Place> = cities
                .iter()
                .filter(|c| c[2] == code)
                .map(|c| Place {
                    name: c[1].clone(),
                    code: six(&c[0]),
                })
                .collect();
            for c in cities.iter().filter(|c| c[2] == code) {
                within.extend(counties(&c[0]));
            }
            Body {
                place: Place {
                    name: name.clone(),
                    code: six(code),
                },
                within,
            }
        } else {
            let name = city_name.get(code).context("city missing from cities.csv")?;
            Body {
                place: Place {
                    name: name.to_string(),
                    code: six(code),
                },
                within: counties(code),
            }
        };
        if body.within.is_empty() {
            bail!("no counties found for {}", body.place.name);
        }
        bodies.push(body);
    }
    Ok(bodies)
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

/// A government body's credit code: 机构编制 (1), 机关 (1), its region, an organisation code
/// and the GB 32100 check character.
fn credit_code(region: &str, n: usize) -> String {
    let body = format!("11{region}MB{:07}", 1_530_000 + n * 7);
    let check = check_char(&body).unwrap_or('0');
    format!("{body}{check}")
}

/// The administration institution with a reviewer, and one editor for each of the 100
/// provider departments, all through the account services.
async fn seed_accounts(store: &Store, bodies: &[Body], password: &str) -> anyhow::Result<(Vec<Provider>, Caller)> {
    let console = Caller::console();
    let root = accounts::create_sysadmin(store, &console, new_user("bench.admin", "基准测试管理员", password)).await?;
    let root = caller_for(store, root).await?;
    let admin_org = NewOrg {
        kind: "admin_institution".into(),
        name: "四川省大数据中心".into(),
        credit_code: credit_code("510000", 0),
        region_code: "510000".into(),
        ..Default::default()
    };
    let admin_org = accounts::create_org(store, &root, admin_org).await?;
    let staff = |login: &str, name: &str, org_id: i64, role: &str| NewStaff {
        user: new_user(login, name, password),
        org_id,
        role: role.into(),
    };
    let reviewer = accounts::create_staff(
        store,
        &root,
        staff("bench.reviewer", "李审核", admin_org, "admin_reviewer"),
    )
    .await?;
    let reviewer = caller_for(store, reviewer).await?;
    let mut providers = Vec::new();
    for (b, body) in bodies.iter().enumerate() {
        for (d, dept) in DEPTS.iter().enumerate() {
            let n = providers.len() + 1;
            let suffix = if b == 0 { dept.province } else { dept.city };
            let name = format!("{}{suffix}", body.place.name);
            let code = credit_code(&body.place.code, n);
            let org = NewOrg {
                kind: "provider".into(),
                name: name.clone(),
                credit_code: code.clone(),
                region_code: body.place.code.clone(),
                contact_name: "数据开放专员".into(),
                contact_phone: "028-86001234".into(),
                contact_email: "opendata@bench.pubdata.cn".into(),
            };
            let org_id = accounts::create_org(store, &root, org).await?;
            let login = format!("bench.editor{n:03}");
            let editor =
                accounts::create_staff(store, &root, staff(&login, "数据编辑", org_id, "provider_editor")).await?;
            providers.push(Provider {
                org_id,
                name,
                credit_code: code,
                region: body.place.code.clone(),
                dept: d,
                body: b,
                editor: caller_for(store, editor).await?,
            });
        }
    }
    Ok((providers, reviewer))
}

/// One generated resource: its provider, metadata and API.
struct Generated {
    provider: usize,
    meta: NewResourceMeta,
    api: NewApi,
}

/// Picks a provider, mildly skewed (some departments publish far more than others), and makes a
/// resource of one of its subjects about one of its places.
fn generate(rng: &mut StdRng, providers: &[Provider], bodies: &[Body]) -> Generated {
    let u: f64 = rng.gen();
    let provider = ((u.powf(1.3) * providers.len() as f64) as usize).min(providers.len() - 1);
    let p = &providers[provider];
    let dept = &DEPTS[p.dept];
    let body = &bodies[p.body];
    let place = if rng.gen_bool(0.25) {
        &body.place
    } else {
        body.within.choose(rng).unwrap_or(&body.place)
    };
    let statistic = dept.registers.is_empty() || rng.gen_bool(0.3);
    let (subject, form, pool) = if statistic {
        (
            *dept.statistics.choose(rng).unwrap_or(&"统计数据"),
            *STATISTIC_FORMS.choose(rng).unwrap_or(&"统计"),
            &STATISTIC_FIELDS[..],
        )
    } else {
        (
            *dept.registers.choose(rng).unwrap_or(&"信息"),
            *REGISTER_FORMS.choose(rng).unwrap_or(&"名录"),
            &REGISTER_FIELDS[..],
        )
    };
    let year = 2015 + rng.gen_range(0..10);
    let title = if statistic && rng.gen_bool(0.5) {
        format!("{} {year}年 {subject} {form}", place.name)
    } else {
        format!("{} {subject} {form}", place.name)
    };
    let n_fields = rng.gen_range(3..=8).min(pool.len());
    let mut fields = vec![pool[0]];
    fields.extend(pool[1..].choose_multiple(rng, n_fields - 1).copied());
    let titles: Vec<&str> = fields.iter().map(|f| f.1).collect();
    let frequency = *FREQUENCIES.choose(rng).unwrap_or(&"yearly");
    let freq_zh = pubdata_core::metadata::UpdateFrequency::parse(frequency).map_or("定期", |f| f.name_zh());
    let summary = format!(
        "{}{}{}，包括{}等{}项内容，{}更新。数据来源于{}业务系统，经审核后向社会开放。",
        place.name,
        subject,
        form,
        titles.join("、"),
        titles.len(),
        freq_zh,
        p.name
    );
    let dept_short = dept.city.trim_end_matches(['局', '厅']).trim_end_matches("委员会");
    let mut tags = vec![subject.to_string(), dept_short.to_string(), place.name.clone()];
    if statistic {
        tags.push("统计数据".into());
    }
    if rng.gen_bool(0.3) {
        tags.push(format!("{year}年"));
    }
    let conditional = rng.gen_bool(0.2);
    let meta = NewResourceMeta {
        title,
        summary,
        domain: dept.domain.into(),
        open_type: if conditional { "conditional" } else { "unconditional" }.into(),
        open_conditions: if conditional {
            "仅限用于政务服务、公共管理和学术研究，需说明使用目的并签署数据安全承诺书。".into()
        } else {
            String::new()
        },
        update_frequency: frequency.into(),
        tags,
        spatial: place.code.clone(),
        temporal_from: format!("{year}-01-01"),
        contact_phone: "028-86001234".into(),
        contact_email: "opendata@bench.pubdata.cn".into(),
        fields: fields
            .iter()
            .map(|(name, title, ty)| NewField {
                name: (*name).into(),
                title: (*title).into(),
                field_type: (*ty).into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let api = NewApi {
        title: format!("{subject}{form}接口"),
        url: format!("https://data.sc.gov.cn/api/{}/{}", p.region, provider),
        method: "GET".into(),
        params: "region: 区划代码\npage: 页码，从 1 开始\nsize: 每页条数，最多 100".into(),
        doc: format!("返回 JSON：{}。", titles.join("、")),
        change_note: String::new(),
    };
    Generated { provider, meta, api }
}

/// Writes resources as published, `BULK_BATCH` per transaction: the resource, its API
/// distribution and the catalogue change the search index follows. No review or audit rows.
async fn publish_bulk(
    store: &Store,
    providers: &[Provider],
    bodies: &[Body],
    rng: &mut StdRng,
    n: usize,
) -> anyhow::Result<()> {
    let mut seq = vec![0i64; providers.len()];
    let mut done = 0;
    while done < n {
        let mut tx = store.begin().await?;
        let batch = BULK_BATCH.min(n - done);
        for _ in 0..batch {
            let g = generate(rng, providers, bodies);
            let p = &providers[g.provider];
            let meta = g.meta.validate()?;
            let meta_json = serde_json::to_value(&meta)?;
            seq[g.provider] += 1;
            let code = resource_code(&p.region, &p.credit_code[8..17], seq[g.provider] as u64);
            let user = p.editor.actor.user_id.context("editor without id")?;
            let id = tx
                .insert_resource(
                    &code,
                    p.org_id,
                    seq[g.provider],
                    "published",
                    &meta.title,
                    meta.open_type.as_str(),
                    &meta_json,
                    user,
                )
                .await?;
            let now = now_ms();
            let published = ResourceStateChange {
                state: "published",
                revision_state: "none",
                submitted_at: Some(now),
                review_due: None,
                published_at: Some(now),
                withdrawn_reason: None,
            };
            tx.set_resource_state(id, &published).await?;
            let params: Vec<serde_json::Value> = g
                .api
                .params
                .lines()
                .filter_map(|l| l.split_once(": "))
                .map(|(n, d)| serde_json::json!({"name": n, "description": d}))
                .collect();
            let dist = NewDistribution {
                resource_id: id,
                kind: "api".into(),
                title: g.api.title,
                state: "ready".into(),
                api_url: Some(g.api.url),
                api_method: Some(g.api.method),
                api_params: Some(serde_json::Value::Array(params)),
                api_doc: Some(g.api.doc),
                created_by: user,
                ..Default::default()
            };
            tx.insert_distribution(&dist).await?;
            tx.catalogue_change(id, "published").await?;
        }
        tx.commit().await?;
        done += batch;
        println!("  {done} / {n}");
    }
    Ok(())
}

/// Each resource through the services: create, add its API, submit, and approve.
async fn publish_service(
    store: &Store,
    providers: &[Provider],
    bodies: &[Body],
    reviewer: &Caller,
    rng: &mut StdRng,
    n: usize,
) -> anyhow::Result<()> {
    let calendar = WorkCalendar::official();
    for i in 1..=n {
        let g = generate(rng, providers, bodies);
        let p = &providers[g.provider];
        let id = resources::create(store, &p.editor, p.org_id, &g.meta, None).await?;
        ingest::add_api(store, &p.editor, id, &g.api).await?;
        resources::submit(store, &p.editor, id, &calendar).await?;
        resources::decide(store, reviewer, id, Decision::Approve(ReviewChecklist::passed())).await?;
        if i % 1000 == 0 {
            println!("  {i} / {n}");
        }
    }
    Ok(())
}

/// The national village table as a published resource of the provincial 民政厅, uploaded and
/// ingested as a provider would (the key `code` gets the datastore's index).
async fn publish_villages(
    store: &Store,
    config: &Config,
    providers: &[Provider],
    reviewer: &Caller,
) -> anyhow::Result<i64> {
    let gz = config.regions_dir.join("villages.csv.gz");
    let csv_path = config.data_dir.join("villages.csv");
    let mut input = flate2::read::GzDecoder::new(
        std::fs::File::open(&gz).with_context(|| format!("cannot open {}", gz.display()))?,
    );
    std::io::copy(&mut input, &mut std::fs::File::create(&csv_path)?)?;
    let p = providers
        .iter()
        .find(|p| p.body == 0 && DEPTS[p.dept].city == "民政局")
        .context("no provincial 民政厅")?;
    let field = |name: &str, title: &str| NewField {
        name: name.into(),
        title: title.into(),
        field_type: "code".into(),
        key: name == "code",
        required: name == "code",
        ..Default::default()
    };
    let meta = NewResourceMeta {
        title: "全国村（社区）级区划代码".into(),
        summary: "国家统计局 2023 年统计用区划代码中的村民委员会和社区居民委员会代码、名称及所属乡镇（街道）、县、市、省代码。"
            .into(),
        domain: "livelihood".into(),
        open_type: "unconditional".into(),
        update_frequency: "yearly".into(),
        tags: vec!["行政区划".into(), "村委会".into(), "社区".into()],
        spatial: "510000".into(),
        temporal_from: "2023-01-01".into(),
        contact_phone: "028-86001234".into(),
        fields: vec![
            field("code", "区划代码"),
            NewField {
                field_type: "string".into(),
                ..field("name", "名称")
            },
            field("streetCode", "乡镇（街道）代码"),
            field("provinceCode", "省级代码"),
            field("cityCode", "地级代码"),
            field("areaCode", "县级代码"),
        ],
        ..Default::default()
    };
    let id = resources::create(store, &p.editor, p.org_id, &meta, None).await?;
    let files = FileStore::local(&config.data_dir.join("files"))?;
    let secret = pubdata_server::mask_secret(&config.data_dir)?;
    let worker = Worker::new(store.clone(), "bench-gen").handle(INGEST_JOB, ingest_job::handler(files.clone(), secret));
    let uploaded = upload_and_ingest(store, &files, &worker, &p.editor, id, &csv_path).await;
    let _ = std::fs::remove_file(&csv_path);
    uploaded?;
    resources::submit(store, &p.editor, id, &WorkCalendar::official()).await?;
    resources::decide(store, reviewer, id, Decision::Approve(ReviewChecklist::passed())).await?;
    Ok(id)
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
    let ticket = ingest::begin_upload(store, who, resource, "villages.csv").await?;
    let mut writer = files.writer(&ticket.key, u64::MAX).await?;
    let bytes = std::fs::read(path)?;
    for chunk in bytes.chunks(1 << 20) {
        if writer.write(chunk).await?.is_err() {
            bail!("{} is too large", path.display());
        }
    }
    let stored = writer.finish().await?;
    let info = UploadInfo {
        title: "villages.csv".into(),
        change_note: "2023 年统计用区划代码".into(),
    };
    ingest::finish_upload(store, who, &ticket, &stored, &info).await?;
    while worker.run_once().await? {}
    let dists = store.distributions(resource).await?;
    if !dists.iter().any(|d| d.datastore_table.is_some()) {
        bail!(
            "the village table did not load: {:?}",
            dists.iter().map(|d| &d.state).collect::<Vec<_>>()
        );
    }
    Ok(())
}

/// A registered consumer who accepted the usage terms of the (unconditional) resource, so the
/// data API serves it, and their API token.
async fn consumer_token(store: &Store, password: &str, resource_id: i64) -> anyhow::Result<String> {
    let reg = Registration {
        user: new_user("bench.consumer", "周市民", password),
        org: None,
    };
    let id = accounts::register_consumer(store, &Caller::anonymous(None), reg).await?;
    let consumer = caller_for(store, id).await?;
    access::accept_terms(store, &consumer, resource_id, true).await?;
    let (_, secret) = auth::create_token(store, &consumer, "search benchmark").await?;
    Ok(secret)
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
