//! Builds an index of N generated catalogue entries on disk, then times a mix of searches that
//! each count 7 facets.
//!
//! `cargo run --release -p pubdata-search --example search_bench -- 100000 [queries]`

use std::time::{Duration, Instant};

use pubdata_search::{Doc, Facet, Index, Query, Sort};

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const REGIONS: &[(&str, &str)] = &[
    ("510000", "四川省"),
    ("510100", "成都市"),
    ("510300", "自贡市"),
    ("510400", "攀枝花市"),
    ("510500", "泸州市"),
    ("510600", "德阳市"),
    ("510700", "绵阳市"),
    ("510800", "广元市"),
    ("510900", "遂宁市"),
    ("511000", "内江市"),
    ("511100", "乐山市"),
    ("511300", "南充市"),
    ("511400", "眉山市"),
    ("511500", "宜宾市"),
    ("511600", "广安市"),
    ("511700", "达州市"),
    ("511800", "雅安市"),
    ("511900", "巴中市"),
    ("512000", "资阳市"),
    ("513200", "阿坝州"),
    ("513300", "甘孜州"),
    ("513400", "凉山州"),
];

/// (department, key, domain)
const DEPARTMENTS: &[(&str, &str, &str)] = &[
    ("住房公积金管理中心", "gjj", "housing"),
    ("住房和城乡建设局", "zjj", "housing"),
    ("民政局", "mzj", "society"),
    ("卫生健康委员会", "wjw", "health"),
    ("医疗保障局", "ybj", "health"),
    ("生态环境局", "hjj", "environment"),
    ("交通运输局", "jtj", "transport"),
    ("市场监督管理局", "scj", "credit"),
    ("教育局", "jyj", "education"),
    ("自然资源和规划局", "zrzyj", "land"),
    ("人力资源和社会保障局", "rsj", "employment"),
    ("政务服务管理局", "zwfw", "government"),
    ("文化广电旅游局", "wglj", "culture"),
    ("应急管理局", "yjj", "safety"),
    ("统计局", "tjj", "economy"),
    ("财政局", "czj", "economy"),
    ("农业农村局", "nyj", "agriculture"),
    ("水利局", "slj", "environment"),
    ("公安局", "gaj", "safety"),
    ("税务局", "swj", "economy"),
];

/// (subject, English, tags, fields) — what a department publishes.
const SUBJECTS: &[(&str, &str, &[&str], &[&str])] = &[
    (
        "住房公积金缴存单位",
        "Provident Fund Employers",
        &["公积金", "住房"],
        &["dwmc 单位名称", "jcrs 缴存人数", "jcjs 缴存基数"],
    ),
    (
        "公积金贷款发放",
        "Provident Fund Loans",
        &["公积金", "贷款"],
        &["ffbs 发放笔数", "ffje 发放金额"],
    ),
    (
        "行政区划代码",
        "Administrative Divisions",
        &["区划", "基础数据"],
        &["xzqhdm 区划代码", "xzqhmc 区划名称"],
    ),
    (
        "乡镇街道",
        "Townships",
        &["基础数据", "乡镇"],
        &["xzmc 乡镇名称", "zd 驻地"],
    ),
    (
        "社区居委会",
        "Residents Committees",
        &["社区"],
        &["sqmc 社区名称", "dz 地址", "lxdh 联系电话"],
    ),
    (
        "医疗机构",
        "Medical Institutions",
        &["医疗", "卫生"],
        &["jgmc 机构名称", "jgdj 机构等级", "cws 床位数"],
    ),
    (
        "医保定点药店",
        "Designated Pharmacies",
        &["医保", "药品"],
        &["ydmc 药店名称", "dz 地址"],
    ),
    (
        "药品经营许可",
        "Drug Trading Licences",
        &["药品", "许可"],
        &["qymc 企业名称", "xkzh 许可证号"],
    ),
    (
        "空气质量监测",
        "Air Quality Monitoring",
        &["环境", "空气"],
        &["zdmc 站点名称", "aqi 空气质量指数", "pm25 细颗粒物"],
    ),
    (
        "地表水水质监测",
        "Surface Water Quality",
        &["环境", "水质"],
        &["dmmc 断面名称", "rjy 溶解氧", "ad 氨氮"],
    ),
    (
        "公交线路",
        "Bus Routes",
        &["交通", "公交"],
        &["xlmc 线路名称", "smbsj 首末班时间", "pj 票价"],
    ),
    (
        "公交站点",
        "Bus Stops",
        &["交通", "公交"],
        &["zdmc 站点名称", "jd 经度", "wd 纬度"],
    ),
    (
        "充电桩分布",
        "EV Charging Points",
        &["交通", "新能源"],
        &["czmc 充电站名称", "gl 功率"],
    ),
    (
        "公共停车场",
        "Public Parking",
        &["交通", "停车"],
        &["tccmc 停车场名称", "bws 泊位数", "sfbz 收费标准"],
    ),
    (
        "企业信用",
        "Enterprise Credit",
        &["信用", "企业"],
        &["tyshxydm 统一社会信用代码", "qymc 企业名称"],
    ),
    (
        "行政许可",
        "Administrative Licences",
        &["信用", "双公示"],
        &["xkjdswh 许可决定书文号", "xkjg 许可机关"],
    ),
    (
        "行政处罚",
        "Administrative Penalties",
        &["信用", "双公示"],
        &["cfjdswh 处罚决定书文号", "cfjg 处罚机关"],
    ),
    (
        "营业执照登记",
        "Business Licences",
        &["企业", "登记"],
        &["tyshxydm 统一社会信用代码", "fddbr 法定代表人"],
    ),
    (
        "中小学学校",
        "Schools",
        &["教育", "学校"],
        &["xxmc 学校名称", "bxlx 办学类型", "zxss 在校生数"],
    ),
    (
        "幼儿园",
        "Kindergartens",
        &["教育", "学前"],
        &["yeymc 幼儿园名称", "bydj 办园等级"],
    ),
    (
        "养老机构",
        "Elderly Care Homes",
        &["养老", "民政"],
        &["jgmc 机构名称", "cws 床位数"],
    ),
    (
        "不动产登记",
        "Real Estate Registration",
        &["不动产", "登记"],
        &["bdcdyh 不动产单元号", "zl 坐落"],
    ),
    (
        "建设用地供应",
        "Construction Land Supply",
        &["土地"],
        &["zdwz 宗地位置", "mj 面积", "cjj 成交价"],
    ),
    (
        "政务服务事项",
        "Government Services",
        &["政务服务", "办事指南"],
        &["sxbm 事项编码", "sltj 受理条件"],
    ),
    (
        "社保参保",
        "Social Insurance Enrolment",
        &["社保", "就业"],
        &["cbrs 参保人数", "dws 单位数"],
    ),
    (
        "旅游景区",
        "Tourist Attractions",
        &["旅游", "文化"],
        &["jqmc 景区名称", "dj 等级"],
    ),
    (
        "应急避难场所",
        "Emergency Shelters",
        &["应急"],
        &["csmc 场所名称", "rnrs 容纳人数"],
    ),
    (
        "食品经营许可",
        "Food Business Licences",
        &["食品安全", "许可"],
        &["xkzh 许可证号", "jycs 经营场所"],
    ),
    ("财政预算", "Budgets", &["财政"], &["ysxm 预算项目", "je 金额"]),
    (
        "政府采购",
        "Public Procurement",
        &["采购"],
        &["xmmc 项目名称", "cgje 采购金额"],
    ),
    (
        "农产品价格",
        "Farm Produce Prices",
        &["农业", "价格"],
        &["pz 品种", "jg 价格"],
    ),
    (
        "高新技术企业",
        "High-tech Enterprises",
        &["企业", "科技"],
        &["qymc 企业名称", "rdsj 认定时间"],
    ),
    (
        "就业创业补贴",
        "Employment Subsidies",
        &["就业"],
        &["btlx 补贴类型", "je 金额"],
    ),
    (
        "文物保护单位",
        "Protected Heritage Sites",
        &["文物", "文化"],
        &["mc 名称", "pc 批次"],
    ),
    (
        "公共厕所",
        "Public Toilets",
        &["市政"],
        &["mc 名称", "jd 经度", "wd 纬度"],
    ),
];

const SUFFIXES: &[&str] = &["信息", "名录", "数据", "统计", "目录", "情况", "清单", "明细"];
const FILLER: &[&str] = &[
    "数据来源于业务系统，经脱敏处理后开放。",
    "可用于便民查询、学术研究和应用开发。",
    "如发现数据有误，请通过平台反馈。",
    "本数据集遵循公共数据开放相关规定。",
    "字段含义见数据项说明。",
];
const FORMATS: &[&str] = &["CSV", "XLSX", "JSON", "XML", "API", "PDF", "GEOJSON"];
const FREQUENCIES: &[&str] = &[
    "realtime",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
    "irregular",
];
const LICENCES: &[&str] = &["cc-by-4.0", "cc0", "odc-by"];

fn generate(n: usize, rng: &mut Rng) -> Vec<Doc> {
    (0..n)
        .map(|i| {
            let (region_code, region) = *rng.pick(REGIONS);
            let (department, dept_key, domain) = *rng.pick(DEPARTMENTS);
            let (subject, subject_en, tags, fields) = *rng.pick(SUBJECTS);
            let suffix = *rng.pick(SUFFIXES);
            let year = if rng.chance(30) {
                format!("{}年", 2015 + rng.below(10))
            } else {
                String::new()
            };
            let title = format!("{region}{year}{subject}{suffix}");
            let frequency = *rng.pick(FREQUENCIES);
            let summary = format!(
                "{region}{department}依法开放的{subject}{suffix}，包括{}等数据项，按{frequency}更新。{}{}",
                fields
                    .iter()
                    .map(|f| f.split(' ').nth(1).unwrap_or(f))
                    .collect::<Vec<_>>()
                    .join("、"),
                rng.pick(FILLER),
                rng.pick(FILLER),
            );
            let mut formats = vec![rng.pick(FORMATS).to_string()];
            if rng.chance(50) {
                formats.push(rng.pick(FORMATS).to_string());
            }
            let mut tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            tags.push(region.to_string());
            let published_at = 1_500_000_000_000 + (rng.below(300_000_000) as i64) * 1000;
            Doc {
                id: i as i64 + 1,
                code: format!("{region_code}-{dept_key:0>9}-{:06}", i + 1),
                title,
                title_en: if rng.chance(30) {
                    format!("{subject_en} of {region_code}")
                } else {
                    String::new()
                },
                summary,
                tags,
                fields: fields.iter().map(|f| f.to_string()).collect(),
                provider: format!("{region}{department}"),
                provider_key: format!("{region_code}-{dept_key}"),
                domain: domain.into(),
                open_type: if rng.chance(80) { "unconditional" } else { "conditional" }.into(),
                formats,
                update_frequency: frequency.into(),
                region: region_code.into(),
                licence: rng.pick(LICENCES).to_string(),
                published_at,
                updated_at: published_at + (rng.below(50_000_000) as i64) * 1000,
                downloads: rng.below(20_000) as u64,
                row_count: None,
            }
        })
        .collect()
}

const QUERIES: &[&str] = &[
    "公积金",
    "住房公积金",
    "公交",
    "公交线路",
    "空气质量",
    "医疗机构",
    "学校",
    "中小学",
    "行政处罚",
    "行政许可",
    "企业信用",
    "不动产",
    "不动产登记",
    "养老机构",
    "停车场",
    "充电桩",
    "水质监测",
    "社保",
    "药品",
    "旅游景区",
    "成都 公交",
    "成都市 空气质量",
    "绵阳 学校 名录",
    "行政处罚 信息",
    "统一社会信用代码",
    "乡镇街道",
    "行政区划",
    "政务服务",
    "办事指南",
    "财政预算",
    "数据",
    "名录",
    "\"空气质量监测\"",
    "gongjijin",
    "gjj",
    "gongjiao",
    "xzcf",
    "xingzhengquhua",
    "yiliao",
    "kqzl",
    "yanglao",
    "xuexiao",
    "bdc",
    "school",
    "bus routes",
    "air quality",
    "parking",
    "credit",
    "2020年",
    "统计",
];

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let queries: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    let docs = generate(n, &mut rng);
    println!("generated {n} documents in {:.1} s", started.elapsed().as_secs_f64());

    let dir = std::env::temp_dir().join(format!("pubdata-search-bench-{}", std::process::id()));
    let index = Index::open(&dir).expect("index opens");
    let started = Instant::now();
    let mut writer = index.writer().expect("writer");
    writer.clear().expect("clear");
    writer.upsert_many(&docs).expect("documents added");
    writer.commit(1).expect("commit");
    let took = started.elapsed();
    println!(
        "indexed {n} documents and committed in {:.1} s ({:.0} docs/s); {} on disk",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        megabytes(dir_size(&dir)),
    );
    drop(docs);

    let facets = vec![
        Facet::Provider,
        Facet::Domain,
        Facet::OpenType,
        Facet::Format,
        Facet::UpdateFrequency,
        Facet::Region,
        Facet::Tag,
    ];
    let make = |rng: &mut Rng| {
        let browse = rng.chance(10);
        let mut filters = Vec::new();
        if browse || rng.chance(20) {
            filters.push((Facet::Domain, rng.pick(DEPARTMENTS).2.to_string()));
        }
        if rng.chance(10) {
            filters.push((Facet::Format, rng.pick(FORMATS).to_string()));
            filters.push((Facet::Format, rng.pick(FORMATS).to_string()));
        }
        let sort = if rng.chance(20) {
            *rng.pick(&[Sort::Updated, Sort::Downloads, Sort::Name])
        } else {
            Sort::Relevance
        };
        Query {
            text: if browse {
                String::new()
            } else {
                rng.pick(QUERIES).to_string()
            },
            filters,
            sort,
            offset: if rng.chance(10) { 20 * rng.below(5) } else { 0 },
            limit: 20,
            facets: facets.clone(),
            facet_limit: 20,
        }
    };
    for _ in 0..100 {
        let _ = index.search(&make(&mut rng));
    }
    let mut times: Vec<Duration> = Vec::with_capacity(queries);
    let mut matched = 0;
    for _ in 0..queries {
        let query = make(&mut rng);
        let started = Instant::now();
        let results = index.search(&query).expect("search");
        times.push(started.elapsed());
        matched += results.total;
    }
    times.sort();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{queries} searches with 7 facets: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} matches on average",
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(at(1.0)),
        matched / queries.max(1),
    );
    let everything = Query {
        facets: facets.clone(),
        ..Query::default()
    };
    let started = Instant::now();
    let all = index.search(&everything).expect("search");
    println!(
        "all {} documents with 7 facets: {:.2} ms",
        all.total,
        ms(started.elapsed())
    );
    if let Some(peak) = peak_memory() {
        println!("peak memory (VmHWM): {peak}");
    }
    drop(index);
    let _ = std::fs::remove_dir_all(&dir);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_string())
}
