//! A small catalogue like a provincial open-data portal's, and helpers to search it.
#![allow(dead_code)]

use pubdata_search::{Doc, Index, Query, Results};

const DAY_MS: i64 = 86_400_000;
const START_MS: i64 = 1_672_531_200_000; // 2023-01-01

pub struct Provider {
    pub name: &'static str,
    pub key: &'static str,
}

pub const GJJ: Provider = Provider {
    name: "成都住房公积金管理中心",
    key: "cdgjj",
};
pub const MZT: Provider = Provider {
    name: "四川省民政厅",
    key: "scmzt",
};
pub const WJW: Provider = Provider {
    name: "四川省卫生健康委员会",
    key: "scwjw",
};
pub const YBJ: Provider = Provider {
    name: "四川省医疗保障局",
    key: "scybj",
};
pub const HJT: Provider = Provider {
    name: "四川省生态环境厅",
    key: "schjt",
};
pub const JTJ: Provider = Provider {
    name: "成都市交通运输局",
    key: "cdjtj",
};
pub const SCJ: Provider = Provider {
    name: "四川省市场监督管理局",
    key: "scscj",
};
pub const JYT: Provider = Provider {
    name: "四川省教育厅",
    key: "scjyt",
};
pub const ZRZYT: Provider = Provider {
    name: "四川省自然资源厅",
    key: "sczrzyt",
};
pub const SWJ: Provider = Provider {
    name: "四川省水文水资源勘测中心",
    key: "scswj",
};
pub const ZWFW: Provider = Provider {
    name: "四川省政务服务和公共资源交易服务中心",
    key: "sczwfw",
};

#[allow(clippy::too_many_arguments)]
fn doc(
    id: i64,
    title: &str,
    title_en: &str,
    summary: &str,
    tags: &[&str],
    fields: &[&str],
    provider: &Provider,
    domain: &str,
    formats: &[&str],
    frequency: &str,
    region: &str,
    downloads: u64,
) -> Doc {
    Doc {
        id,
        code: format!("510000-{:09}-{:06}", provider.key.len() * 1_000_007, id),
        title: title.into(),
        title_en: title_en.into(),
        summary: summary.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        fields: fields.iter().map(|t| t.to_string()).collect(),
        provider: provider.name.into(),
        provider_key: provider.key.into(),
        domain: domain.into(),
        open_type: if id % 4 == 0 { "conditional" } else { "unconditional" }.into(),
        formats: formats.iter().map(|t| t.to_string()).collect(),
        update_frequency: frequency.into(),
        region: region.into(),
        licence: if id % 3 == 0 { "cc0" } else { "cc-by-4.0" }.into(),
        // Published in an order unrelated to id, updated in yet another.
        published_at: START_MS + ((id * 7) % 31) * DAY_MS,
        updated_at: START_MS + 60 * DAY_MS + ((id * 11) % 29) * DAY_MS,
        downloads,
        row_count: None,
    }
}

#[rustfmt::skip]
pub fn catalogue() -> Vec<Doc> {
    vec![
        doc(1, "住房公积金缴存单位信息", "Housing Provident Fund Contributing Employers",
            "成都住房公积金管理中心公开的缴存单位名称、缴存人数、缴存基数和缴存比例，按月更新。",
            &["住房保障", "公积金"], &["dwmc 单位名称", "jcrs 缴存人数", "jcjs 缴存基数"],
            &GJJ, "housing", &["CSV", "XLSX"], "monthly", "510100", 1200),
        doc(2, "公积金贷款发放情况", "Provident Fund Loans",
            "个人住房公积金贷款的发放笔数、发放金额和贷款余额，按区县统计。",
            &["贷款", "公积金"], &["qx 区县", "ffbs 发放笔数", "ffje 发放金额"],
            &GJJ, "housing", &["CSV"], "monthly", "510100", 800),
        doc(3, "行政区划代码", "Administrative Division Codes",
            "全省市、县、乡三级行政区划的名称、代码和上级区划。",
            &["区划", "基础数据"], &["xzqhdm 区划代码", "xzqhmc 区划名称", "sjdm 上级代码"],
            &MZT, "government", &["CSV", "XLSX", "API"], "yearly", "510000", 5400),
        doc(4, "四川省乡镇街道名录", "Townships and Subdistricts of Sichuan",
            "全省乡、镇和街道办事处的名称、驻地与所属县级行政区。",
            &["基础数据"], &["xzmc 乡镇名称", "zd 驻地", "ssx 所属县"],
            &MZT, "government", &["CSV", "XLSX"], "yearly", "510000", 3100),
        doc(5, "社区居委会名录", "Residents' Committees",
            "城市社区居民委员会的名称、地址和联系电话。",
            &["社区", "基层治理"], &["sqmc 社区名称", "dz 地址", "lxdh 联系电话"],
            &MZT, "government", &["CSV"], "quarterly", "510100", 950),
        doc(6, "医疗机构名录", "Medical Institutions",
            "全省医院、卫生院和社区卫生服务中心的名称、等级、地址和床位数。",
            &["医疗", "卫生"], &["jgmc 机构名称", "jgdj 机构等级", "cws 床位数"],
            &WJW, "health", &["CSV", "API"], "quarterly", "510000", 4200),
        doc(7, "医保定点医疗机构", "Designated Medical Insurance Providers",
            "可使用医保结算的定点医院和诊所。",
            &["医保", "医疗"], &["ddjgmc 定点机构名称", "ddlx 定点类型"],
            &YBJ, "health", &["CSV", "XLSX"], "monthly", "510000", 2600),
        doc(8, "药品经营企业名录", "Licensed Pharmaceutical Retailers",
            "持有药品经营许可证的批发和零售企业。",
            &["药品", "许可"], &["qymc 企业名称", "xkzh 许可证号", "jyfw 经营范围"],
            &SCJ, "health", &["CSV"], "monthly", "510000", 700),
        doc(9, "空气质量监测数据", "Air Quality Monitoring Data",
            "全省国控站点每小时的空气质量指数、PM2.5、PM10、二氧化硫和臭氧浓度。",
            &["环境", "空气"], &["zdmc 站点名称", "aqi 空气质量指数", "pm25 细颗粒物浓度"],
            &HJT, "environment", &["API", "CSV"], "realtime", "510000", 6100),
        doc(10, "地表水水质自动监测数据", "Surface Water Quality Monitoring",
            "主要河流断面的水温、pH、溶解氧、氨氮和总磷的自动监测结果。",
            &["环境", "水质"], &["dmmc 断面名称", "rjy 溶解氧", "ad 氨氮"],
            &HJT, "environment", &["API"], "daily", "510000", 1500),
        doc(11, "成都市公交线路", "Chengdu Bus Routes",
            "成都市区公交线路的线路名称、首末班时间、票价和途经站点。",
            &["交通", "公交"], &["xlmc 线路名称", "smbsj 首末班时间", "pj 票价"],
            &JTJ, "transport", &["CSV", "API"], "monthly", "510100", 3900),
        doc(12, "公交站点位置信息", "Bus Stop Locations",
            "公交站点的名称、经纬度和停靠线路。",
            &["交通", "公交"], &["zdmc 站点名称", "jd 经度", "wd 纬度"],
            &JTJ, "transport", &["CSV", "GEOJSON"], "monthly", "510100", 2100),
        doc(13, "新能源汽车充电桩分布", "EV Charging Points",
            "公共充电站和充电桩的位置、功率和运营单位。",
            &["交通", "新能源"], &["czmc 充电站名称", "gl 功率", "yydw 运营单位"],
            &JTJ, "transport", &["CSV", "API"], "monthly", "510100", 1800),
        doc(14, "公共停车场信息", "Public Parking Lots",
            "公共停车场的位置、泊位数和收费标准。",
            &["交通", "停车"], &["tccmc 停车场名称", "bws 泊位数", "sfbz 收费标准"],
            &JTJ, "transport", &["CSV"], "monthly", "510100", 1800),
        doc(15, "企业信用信息公示", "Enterprise Credit Information",
            "企业的登记信息、年度报告、经营异常名录和严重违法失信名单。",
            &["信用", "企业"], &["tyshxydm 统一社会信用代码", "qymc 企业名称", "djzt 登记状态"],
            &SCJ, "credit", &["API"], "daily", "510000", 5200),
        doc(16, "行政许可信息", "Administrative Licensing Decisions",
            "各级行政机关作出的行政许可决定，按双公示要求公开。",
            &["信用", "双公示"], &["xkjdswh 许可决定书文号", "xkjg 许可机关"],
            &SCJ, "credit", &["CSV", "API"], "daily", "510000", 2400),
        doc(17, "行政处罚信息", "Administrative Penalties",
            "各级行政机关作出的行政处罚决定，按双公示要求公开。",
            &["信用", "双公示"], &["cfjdswh 处罚决定书文号", "cfjg 处罚机关"],
            &SCJ, "credit", &["CSV", "API"], "daily", "510000", 2300),
        doc(18, "营业执照登记信息", "Business Licence Registrations",
            "新设立市场主体的营业执照登记事项。",
            &["企业", "登记"], &["tyshxydm 统一社会信用代码", "fddbr 法定代表人", "clrq 成立日期"],
            &SCJ, "credit", &["CSV"], "daily", "510000", 3300),
        doc(19, "中小学学校名录", "Primary and Secondary Schools",
            "全省中小学的学校名称、办学类型、地址和在校生人数。",
            &["教育", "学校"], &["xxmc 学校名称", "bxlx 办学类型", "zxss 在校生数"],
            &JYT, "education", &["CSV", "XLSX"], "yearly", "510000", 4600),
        doc(20, "幼儿园名录", "Kindergartens",
            "公办和民办幼儿园的名称、地址和办园等级。",
            &["教育", "学前"], &["yeymc 幼儿园名称", "bydj 办园等级"],
            &JYT, "education", &["CSV"], "yearly", "510000", 1900),
        doc(21, "养老机构名录", "Elderly Care Homes",
            "养老院、敬老院和社区养老服务中心的名称、床位数和收费标准。",
            &["养老", "民政"], &["jgmc 机构名称", "cws 床位数"],
            &MZT, "government", &["CSV"], "quarterly", "510000", 1400),
        doc(22, "不动产登记办事指南", "Real Estate Registration Guide",
            "不动产首次登记、转移登记和抵押登记的办理条件、材料和流程。",
            &["不动产", "办事指南"], &["sxmc 事项名称", "blcl 办理材料"],
            &ZRZYT, "housing", &["PDF"], "irregular", "510000", 2700),
        doc(23, "建设用地供应信息", "Construction Land Supply",
            "国有建设用地使用权出让和划拨的宗地位置、面积、用途和成交价。",
            &["土地", "自然资源"], &["zdwz 宗地位置", "mj 面积", "cjj 成交价"],
            &ZRZYT, "housing", &["CSV", "XLSX"], "monthly", "510000", 1300),
        doc(24, "政务服务事项办事指南", "Government Service Guides",
            "依申请政务服务事项的受理条件、申请材料、办理时限和收费依据。",
            &["政务服务", "办事指南"], &["sxbm 事项编码", "sltj 受理条件"],
            &ZWFW, "government", &["API", "PDF"], "irregular", "510000", 3500),
        doc(25, "社保参保单位统计", "Social Insurance Enrolment by Employer",
            "参加养老、医疗、失业和工伤保险的单位数和参保人数。",
            &["社保", "就业"], &["dws 单位数", "cbrs 参保人数"],
            &ZWFW, "government", &["XLSX"], "yearly", "510000", 900),
        doc(26, "旅游景区名录", "Tourist Attractions",
            "A级旅游景区的名称、等级、地址和开放时间。",
            &["旅游", "文化"], &["jqmc 景区名称", "dj 等级"],
            &ZWFW, "culture", &["CSV"], "yearly", "510000", 1900),
        // Field-weight fixtures: 水文 appears in exactly one field of each.
        doc(27, "水文站点信息", "Hydrological Stations",
            "全省各类测站的名称、位置、建站时间与观测项目。",
            &["水利"], &["czmc 测站名称", "wz 位置"],
            &HJT, "environment", &["CSV"], "yearly", "510000", 300),
        doc(28, "河流断面流量数据", "River Discharge",
            "来自全省水文监测网络的主要河流断面日均流量和最大流量。",
            &["水利"], &["dmmc 断面名称", "ll 流量"],
            &HJT, "environment", &["CSV"], "daily", "510000", 300),
        doc(29, "降雨量观测记录", "Rainfall Observations",
            "全省雨量站逐日降雨量观测值和累计降雨量。",
            &["水利"], &["swzbh 水文站编号", "jyl 降雨量"],
            &HJT, "environment", &["CSV"], "daily", "510000", 300),
        doc(30, "防汛物资储备点", "Flood Supplies Depots",
            "防汛抗旱物资储备点的位置、物资种类和数量。",
            &["应急"], &["cbd 储备点", "wzzl 物资种类"],
            &SWJ, "environment", &["CSV"], "yearly", "510000", 300),
        doc(31, "<script>alert('x')</script> 测试 & \"数据\"", "",
            "摘要里有 <b>标签</b> & 符号。",
            &["测试"], &[],
            &ZWFW, "government", &["CSV"], "irregular", "", 0),
    ]
}

pub fn index_of(docs: &[Doc]) -> Index {
    let index = Index::in_memory().expect("an in-memory index");
    let mut writer = index.writer().expect("the writer");
    writer.upsert_many(docs).expect("documents added");
    writer.commit(1).expect("committed");
    index
}

pub fn catalogue_index() -> Index {
    index_of(&catalogue())
}

pub fn search(index: &Index, text: &str) -> Results {
    index
        .search(&Query {
            text: text.into(),
            limit: 50,
            ..Query::default()
        })
        .unwrap_or_else(|e| panic!("search for {text:?} failed: {e}"))
}

pub fn ids(results: &Results) -> Vec<i64> {
    results.hits.iter().map(|h| h.id).collect()
}
