//! 资源元数据 — a resource's metadata (DESIGN §3): the vocabularies it draws on (领域, 开放属性,
//! 更新周期, 行业), its validation as a form or JSON gives it, and what a submission still lacks.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::error::{Checks, DomainError, FieldError};
use crate::field::{Classification, FieldSpec, FieldType};
use crate::org::valid_region_code;
use crate::user::{valid_email, validate_phone};

/// 领域 — the standard subject areas as `(key, 中文名)`. The key is stored and appears in URLs
/// and APIs; a deployment may configure its own list with [`DomainList::new`].
pub const STANDARD_DOMAINS: [(&str, &str); 20] = [
    ("economy", "经济建设"),
    ("resources_environment", "资源环境"),
    ("education_technology", "教育科技"),
    ("transport", "道路交通"),
    ("social_development", "社会发展"),
    ("public_safety", "公共安全"),
    ("culture_leisure", "文化休闲"),
    ("health", "卫生健康"),
    ("livelihood", "民生服务"),
    ("institutions", "机构团体"),
    ("urban_construction", "城市建设"),
    ("agriculture_rural", "农业农村"),
    ("finance_tax", "财税金融"),
    ("credit", "信用服务"),
    ("social_security", "社会保障"),
    ("employment", "就业创业"),
    ("industry_agriculture", "工业农业"),
    ("market_regulation", "市场监管"),
    ("meteorology", "气象服务"),
    ("legal_services", "法律服务"),
];

/// The licence a resource gets when its form leaves it empty.
pub const DEFAULT_LICENCE: &str = "cc-by-4.0";

/// The most 数据项 one resource may declare.
pub const MAX_FIELDS: usize = 500;
pub const MAX_TAGS: usize = 20;

/// A 领域 key from the deployment's [`DomainList`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Domain(String);

impl Domain {
    pub fn key(&self) -> &str {
        &self.0
    }

    /// The Chinese name in the standard list (`None` for a domain only a deployment configured;
    /// ask its [`DomainList::name`] then).
    pub fn name_zh(&self) -> Option<&'static str> {
        STANDARD_DOMAINS.iter().find(|d| d.0 == self.0).map(|d| d.1)
    }
}

/// The 领域 a deployment offers, in display order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainList {
    entries: Vec<(String, String)>,
}

impl Default for DomainList {
    fn default() -> Self {
        DomainList::standard()
    }
}

/// Lower-case ASCII letters, digits and `_`, starting with a letter: a stable machine key.
fn is_key(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl DomainList {
    pub fn standard() -> DomainList {
        DomainList {
            entries: STANDARD_DOMAINS
                .iter()
                .map(|(k, n)| (k.to_string(), n.to_string()))
                .collect(),
        }
    }

    /// A configured list of `(key, 中文名)`: keys are snake_case ASCII, both keys and names unique.
    pub fn new(entries: Vec<(String, String)>) -> Result<DomainList, DomainError> {
        let mut c = Checks::new();
        c.check(!entries.is_empty(), "domains", "required");
        let (mut keys, mut names) = (HashSet::new(), HashSet::new());
        for (i, (key, name)) in entries.iter().enumerate() {
            let (kf, nf) = (format!("domains[{i}].key"), format!("domains[{i}].name"));
            if c.length(key, &kf, 1, 40) && c.check(is_key(key), &kf, "key_chars") {
                c.check(keys.insert(key.as_str()), &kf, "duplicate");
            }
            if c.length(name, &nf, 1, 20) {
                c.check(names.insert(name.as_str()), &nf, "duplicate");
            }
        }
        c.finish()?;
        Ok(DomainList { entries })
    }

    /// Finds a domain by key (any ASCII case) or by Chinese name, as forms and spreadsheets give it.
    pub fn parse(&self, input: &str) -> Option<Domain> {
        let input = input.trim();
        self.entries
            .iter()
            .find(|(k, n)| k.eq_ignore_ascii_case(input) || n == input)
            .map(|(k, _)| Domain(k.clone()))
    }

    pub fn name(&self, domain: &Domain) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| *k == domain.0)
            .map(|(_, n)| n.as_str())
    }

    /// `(key, 中文名)` in display order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, n)| (k.as_str(), n.as_str()))
    }
}

/// 开放属性 — whether and how a resource is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenType {
    /// 无条件开放 — any logged-in consumer gets it at once.
    Unconditional,
    /// 有条件开放 — granted per application under the resource's conditions.
    Conditional,
    /// 不予开放 — recorded in the catalogue work but never submitted or published.
    NotOpen,
}

impl OpenType {
    pub const ALL: [OpenType; 3] = [OpenType::Unconditional, OpenType::Conditional, OpenType::NotOpen];

    pub fn as_str(self) -> &'static str {
        match self {
            OpenType::Unconditional => "unconditional",
            OpenType::Conditional => "conditional",
            OpenType::NotOpen => "not_open",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            OpenType::Unconditional => "无条件开放",
            OpenType::Conditional => "有条件开放",
            OpenType::NotOpen => "不予开放",
        }
    }

    /// By key or by Chinese name (also the short forms 无条件 / 有条件 / 不开放).
    pub fn parse(input: &str) -> Option<OpenType> {
        let s = input.trim();
        OpenType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s) || t.name_zh() == s)
            .or(match s {
                "无条件" => Some(OpenType::Unconditional),
                "有条件" => Some(OpenType::Conditional),
                "不开放" => Some(OpenType::NotOpen),
                _ => None,
            })
    }

    /// Only opened data may reach the catalogue (DESIGN §3).
    pub fn is_publishable(self) -> bool {
        self != OpenType::NotOpen
    }
}

/// 更新周期 — how often the provider updates the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateFrequency {
    Realtime,
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    HalfYearly,
    Yearly,
    Irregular,
}

impl UpdateFrequency {
    pub const ALL: [UpdateFrequency; 8] = [
        UpdateFrequency::Realtime,
        UpdateFrequency::Daily,
        UpdateFrequency::Weekly,
        UpdateFrequency::Monthly,
        UpdateFrequency::Quarterly,
        UpdateFrequency::HalfYearly,
        UpdateFrequency::Yearly,
        UpdateFrequency::Irregular,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UpdateFrequency::Realtime => "realtime",
            UpdateFrequency::Daily => "daily",
            UpdateFrequency::Weekly => "weekly",
            UpdateFrequency::Monthly => "monthly",
            UpdateFrequency::Quarterly => "quarterly",
            UpdateFrequency::HalfYearly => "half_yearly",
            UpdateFrequency::Yearly => "yearly",
            UpdateFrequency::Irregular => "irregular",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            UpdateFrequency::Realtime => "实时",
            UpdateFrequency::Daily => "每日",
            UpdateFrequency::Weekly => "每周",
            UpdateFrequency::Monthly => "每月",
            UpdateFrequency::Quarterly => "每季度",
            UpdateFrequency::HalfYearly => "每半年",
            UpdateFrequency::Yearly => "每年",
            UpdateFrequency::Irregular => "不定期",
        }
    }

    /// By key or by Chinese name.
    pub fn parse(input: &str) -> Option<UpdateFrequency> {
        let s = input.trim();
        UpdateFrequency::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s) || f.name_zh() == s)
    }

    /// The nominal days between updates, for the timeliness monitor: data not updated within
    /// this (plus whatever grace the monitor allows) is stale. Realtime data counts as daily,
    /// since the platform sees at most daily loads; irregular data has no period.
    pub fn nominal_days(self) -> Option<u32> {
        match self {
            UpdateFrequency::Realtime | UpdateFrequency::Daily => Some(1),
            UpdateFrequency::Weekly => Some(7),
            UpdateFrequency::Monthly => Some(31),
            UpdateFrequency::Quarterly => Some(92),
            UpdateFrequency::HalfYearly => Some(183),
            UpdateFrequency::Yearly => Some(366),
            UpdateFrequency::Irregular => None,
        }
    }
}

/// GB/T 4754-2017 国民经济行业分类, the 门类 (sections) A–T.
pub const INDUSTRIES: [(char, &str); 20] = [
    ('A', "农、林、牧、渔业"),
    ('B', "采矿业"),
    ('C', "制造业"),
    ('D', "电力、热力、燃气及水生产和供应业"),
    ('E', "建筑业"),
    ('F', "批发和零售业"),
    ('G', "交通运输、仓储和邮政业"),
    ('H', "住宿和餐饮业"),
    ('I', "信息传输、软件和信息技术服务业"),
    ('J', "金融业"),
    ('K', "房地产业"),
    ('L', "租赁和商务服务业"),
    ('M', "科学研究和技术服务业"),
    ('N', "水利、环境和公共设施管理业"),
    ('O', "居民服务、修理和其他服务业"),
    ('P', "教育"),
    ('Q', "卫生和社会工作"),
    ('R', "文化、体育和娱乐业"),
    ('S', "公共管理、社会保障和社会组织"),
    ('T', "国际组织"),
];

/// 行业分类 — a GB/T 4754 门类, stored as its letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Industry(char);

impl Industry {
    /// By letter (any case) or by Chinese name.
    pub fn parse(input: &str) -> Option<Industry> {
        let s = input.trim();
        INDUSTRIES
            .iter()
            .find(|(code, name)| s.eq_ignore_ascii_case(code.encode_utf8(&mut [0; 4])) || *name == s)
            .map(|(code, _)| Industry(*code))
    }

    pub fn code(self) -> char {
        self.0
    }

    pub fn name_zh(self) -> &'static str {
        INDUSTRIES.iter().find(|(c, _)| *c == self.0).map_or("", |(_, n)| n)
    }
}

impl TryFrom<String> for Industry {
    type Error = String;

    fn try_from(s: String) -> Result<Industry, String> {
        Industry::parse(&s).ok_or_else(|| format!("not a GB/T 4754 section: {s}"))
    }
}

impl From<Industry> for String {
    fn from(i: Industry) -> String {
        i.0.to_string()
    }
}

/// The stable resource code `{region}-{provider code}-{seq:06}` (DESIGN §3).
pub fn resource_code(region: &str, provider_code: &str, seq: u64) -> String {
    format!("{region}-{provider_code}-{seq:06}")
}

/// Whether text has the shape of a [`resource_code`]: a region code, an alphanumeric provider
/// code and a sequence of at least six digits.
pub fn valid_resource_code(code: &str) -> bool {
    let (Some((region, rest)), Some((_, seq))) = (code.split_once('-'), code.rsplit_once('-')) else {
        return false;
    };
    let provider = rest.rsplit_once('-').map_or("", |(p, _)| p);
    valid_region_code(region)
        && !provider.is_empty()
        && provider.bytes().all(|b| b.is_ascii_alphanumeric())
        && seq.len() >= 6
        && seq.bytes().all(|b| b.is_ascii_digit())
}

/// Validated, normalised metadata of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceMeta {
    /// 资源名称
    pub title: String,
    #[serde(default)]
    pub title_en: Option<String>,
    /// 资源摘要
    pub summary: String,
    pub domain: Domain,
    #[serde(default)]
    pub industry: Option<Industry>,
    pub open_type: OpenType,
    /// 开放条件 — present exactly when the resource is conditional.
    #[serde(default)]
    pub open_conditions: Option<String>,
    pub update_frequency: UpdateFrequency,
    /// 关键字, trimmed and deduplicated.
    #[serde(default)]
    pub tags: Vec<String>,
    /// 空间范围 — a region code.
    #[serde(default)]
    pub spatial: Option<String>,
    /// 时间范围; an open end means the data is still being added to.
    #[serde(default)]
    pub temporal_from: Option<Date>,
    #[serde(default)]
    pub temporal_to: Option<Date>,
    #[serde(default)]
    pub contact_phone: Option<String>,
    #[serde(default)]
    pub contact_email: Option<String>,
    /// 使用协议 — a licence key.
    pub licence: String,
    /// 关联资源 — codes of other resources.
    #[serde(default)]
    pub related: Vec<String>,
    /// 数据项
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
}

/// Lenient readers so one input type takes both an HTML form's strings and JSON's types.
pub(crate) mod loose {
    use std::fmt;

    use serde::de::{self, Deserializer, SeqAccess, Visitor};
    use serde::Deserialize;

    struct Text;

    impl<'de> Visitor<'de> for Text {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or a number")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_unit<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }

        fn visit_none<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
    }

    struct TextValue(String);

    impl<'de> Deserialize<'de> for TextValue {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TextValue, D::Error> {
            d.deserialize_any(Text).map(TextValue)
        }
    }

    /// A string, or a number, boolean or null written as one.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(Text)
    }

    struct List;

    impl<'de> Visitor<'de> for List {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of strings, or one string separated by commas")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(split_list(v))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(TextValue(s)) = seq.next_element()? {
                out.push(s);
            }
            Ok(out)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
    }

    /// A JSON array of strings, or one string separated by `,` `，` `、` `;` `；` or new lines.
    pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_any(List)
    }

    fn split_list(v: &str) -> Vec<String> {
        v.split([',', '，', '、', ';', '；', '\n', '\r'])
            .map(str::to_string)
            .collect()
    }

    struct Flag;

    impl<'de> Visitor<'de> for Flag {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a boolean, or a checkbox value such as \"on\"")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
            Ok(v != 0)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
            Ok(v != 0)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" | "on" | "1" | "yes" | "y" | "是" => Ok(true),
                "false" | "off" | "0" | "no" | "n" | "否" | "" => Ok(false),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }

        fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_none<E: de::Error>(self) -> Result<bool, E> {
            Ok(false)
        }
    }

    /// A checkbox: `true`, or `"on"`, `"true"`, `"1"`, `"yes"`, `"是"`; absent is false.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        d.deserialize_any(Flag)
    }
}

/// One 数据项 as a form or JSON gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewField {
    #[serde(deserialize_with = "loose::text")]
    pub name: String,
    #[serde(deserialize_with = "loose::text")]
    pub title: String,
    #[serde(rename = "type", deserialize_with = "loose::text")]
    pub field_type: String,
    #[serde(deserialize_with = "loose::text")]
    pub length: String,
    #[serde(deserialize_with = "loose::text")]
    pub precision: String,
    #[serde(deserialize_with = "loose::text")]
    pub description: String,
    #[serde(deserialize_with = "loose::flag")]
    pub required: bool,
    #[serde(deserialize_with = "loose::flag")]
    pub key: bool,
    #[serde(deserialize_with = "loose::flag")]
    pub sensitive: bool,
    #[serde(deserialize_with = "loose::text")]
    pub classification: String,
}

/// Resource metadata as a form or JSON gives it: every value text (lists may also be arrays).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct NewResourceMeta {
    #[serde(deserialize_with = "loose::text")]
    pub title: String,
    #[serde(deserialize_with = "loose::text")]
    pub title_en: String,
    #[serde(deserialize_with = "loose::text")]
    pub summary: String,
    #[serde(deserialize_with = "loose::text")]
    pub domain: String,
    #[serde(deserialize_with = "loose::text")]
    pub industry: String,
    #[serde(deserialize_with = "loose::text")]
    pub open_type: String,
    #[serde(deserialize_with = "loose::text")]
    pub open_conditions: String,
    #[serde(deserialize_with = "loose::text")]
    pub update_frequency: String,
    #[serde(deserialize_with = "loose::list")]
    pub tags: Vec<String>,
    #[serde(deserialize_with = "loose::text")]
    pub spatial: String,
    #[serde(deserialize_with = "loose::text")]
    pub temporal_from: String,
    #[serde(deserialize_with = "loose::text")]
    pub temporal_to: String,
    #[serde(deserialize_with = "loose::text")]
    pub contact_phone: String,
    #[serde(deserialize_with = "loose::text")]
    pub contact_email: String,
    #[serde(deserialize_with = "loose::text")]
    pub licence: String,
    #[serde(deserialize_with = "loose::list")]
    pub related: Vec<String>,
    pub fields: Vec<NewField>,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn field_type(s: &str) -> Option<FieldType> {
    let s = s.trim();
    FieldType::parse(&s.to_ascii_lowercase()).or(match s {
        "字符串" | "字符型" | "文本" => Some(FieldType::String),
        "整数" | "整型" => Some(FieldType::Integer),
        "小数" | "数值" | "数值型" => Some(FieldType::Decimal),
        "日期" | "日期型" => Some(FieldType::Date),
        "日期时间" | "时间" => Some(FieldType::Datetime),
        "布尔" | "布尔型" => Some(FieldType::Boolean),
        "代码" | "代码型" => Some(FieldType::Code),
        _ => None,
    })
}

fn classification(s: &str) -> Option<Classification> {
    match s.trim() {
        "" | "general" | "一般" | "一般数据" => Some(Classification::General),
        "important" | "重要" | "重要数据" => Some(Classification::Important),
        "core" | "核心" | "核心数据" => Some(Classification::Core),
        _ => None,
    }
}

fn classification_key(c: Classification) -> &'static str {
    match c {
        Classification::General => "general",
        Classification::Important => "important",
        Classification::Core => "core",
    }
}

/// A licence key such as `cc-by-4.0`: lower-case ASCII letters, digits, `.`, `_` and `-`.
fn valid_licence(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// An optional bounded integer in a form field: `Ok(None)` when empty.
fn bounded(c: &mut Checks, value: &str, field: &str, min: u32, max: u32) -> Option<u32> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    match v.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            c.push(FieldError::new(field, "range").with("min", min).with("max", max));
            None
        }
    }
}

impl NewField {
    fn validate(&self, i: usize, c: &mut Checks) -> Option<FieldSpec> {
        let at = |part: &str| format!("fields[{i}].{part}");
        let name = self.name.trim();
        let name_ok = c.length(name, &at("name"), 1, 64);
        c.check(!name.chars().any(char::is_control), &at("name"), "control_chars");
        let title = self.title.trim();
        if !title.is_empty() {
            c.length(title, &at("title"), 1, 50);
        }
        let kind = field_type(&self.field_type);
        if self.field_type.trim().is_empty() {
            c.push(FieldError::new(&at("type"), "required"));
        } else {
            c.check(kind.is_some(), &at("type"), "field_type");
        }
        let length = bounded(c, &self.length, &at("length"), 1, 65_535);
        let precision = if self.precision.trim().is_empty() || kind != Some(FieldType::Decimal) {
            c.check(
                self.precision.trim().is_empty(),
                &at("precision"),
                "precision_decimal_only",
            );
            None
        } else {
            bounded(c, &self.precision, &at("precision"), 0, 18)
        };
        let description = self.description.trim();
        c.length(description, &at("description"), 0, 500);
        let class = classification(&self.classification);
        c.check(class.is_some(), &at("classification"), "classification");
        Some(FieldSpec {
            name: name_ok.then(|| name.to_string())?,
            title: title.to_string(),
            field_type: kind?,
            length,
            precision,
            description: description.to_string(),
            required: self.required,
            key: self.key,
            sensitive: self.sensitive,
            classification: class?,
        })
    }
}

impl From<&FieldSpec> for NewField {
    fn from(f: &FieldSpec) -> NewField {
        NewField {
            name: f.name.clone(),
            title: f.title.clone(),
            field_type: f.field_type.as_str().into(),
            length: f.length.map(|n| n.to_string()).unwrap_or_default(),
            precision: f.precision.map(|n| n.to_string()).unwrap_or_default(),
            description: f.description.clone(),
            required: f.required,
            key: f.key,
            sensitive: f.sensitive,
            classification: classification_key(f.classification).into(),
        }
    }
}

fn check_fields(c: &mut Checks, fields: &[NewField]) -> Vec<FieldSpec> {
    if fields.len() > MAX_FIELDS {
        c.push(FieldError::new("fields", "count").with("max", MAX_FIELDS));
    }
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let name = f.name.trim().to_lowercase();
        // Case-insensitive: the datastore's column names are (SQLite, unquoted PostgreSQL).
        if !name.is_empty() && !names.insert(name) {
            c.push(FieldError::new(&format!("fields[{i}].name"), "duplicate"));
        }
        out.extend(f.validate(i, c));
    }
    out
}

fn check_tags(c: &mut Checks, tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let n = tag.chars().count();
        if n > 20 {
            c.push(FieldError::new("tags", "tag_length").with("value", tag).with("max", 20));
        } else if !out.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
            out.push(tag.to_string());
        }
    }
    if out.len() > MAX_TAGS {
        c.push(FieldError::new("tags", "count").with("max", MAX_TAGS));
    }
    out
}

fn check_related(c: &mut Checks, related: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for code in related.iter().flat_map(|r| r.split_whitespace()) {
        if !valid_resource_code(code) {
            c.push(FieldError::new("related", "resource_code").with("value", code));
        } else if !out.iter().any(|r| r == code) {
            out.push(code.to_string());
        }
    }
    out
}

fn check_date(c: &mut Checks, value: &str, field: &str) -> Option<Date> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    let date = Date::parse(v);
    c.check(date.is_some(), field, "date");
    date
}

/// Checks an optional value with `valid`, returning it trimmed when present and valid.
fn optional(c: &mut Checks, value: &str, field: &str, code: &str, valid: impl Fn(&str) -> bool) -> Option<String> {
    let v = opt(value)?;
    c.check(valid(&v), field, code).then_some(v)
}

/// Checks a required choice: `required` when empty, `code` when not one of the options.
fn choice<T>(c: &mut Checks, value: &str, field: &str, code: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    if value.trim().is_empty() {
        c.push(FieldError::new(field, "required"));
        return None;
    }
    let v = parse(value);
    c.check(v.is_some(), field, code);
    v
}

impl NewResourceMeta {
    /// Validates against the standard 领域 list.
    pub fn validate(&self) -> Result<ResourceMeta, DomainError> {
        self.validate_with(&DomainList::standard())
    }

    /// Validates every field at once, normalising as it goes. What a draft may still lack
    /// before submission is [`missing_for_submission`]'s business, not this one's.
    pub fn validate_with(&self, domains: &DomainList) -> Result<ResourceMeta, DomainError> {
        let mut c = Checks::new();
        let title = self.title.trim();
        c.length(title, "title", 1, 100);
        let title_en = opt(&self.title_en);
        if let Some(t) = &title_en {
            c.length(t, "title_en", 1, 200);
        }
        let summary = self.summary.trim();
        c.length(summary, "summary", 20, 2000);
        let domain = choice(&mut c, &self.domain, "domain", "domain", |s| domains.parse(s));
        let industry = opt(&self.industry).and_then(|s| {
            let industry = Industry::parse(&s);
            c.check(industry.is_some(), "industry", "industry");
            industry
        });
        let open_type = choice(&mut c, &self.open_type, "open_type", "open_type", OpenType::parse);
        // Conditions of an unconditional resource are dropped: a form may keep a hidden value
        // after the open type was switched.
        let open_conditions = opt(&self.open_conditions).filter(|_| open_type == Some(OpenType::Conditional));
        if open_type == Some(OpenType::Conditional) {
            c.length(open_conditions.as_deref().unwrap_or(""), "open_conditions", 10, 2000);
        }
        let update_frequency = choice(
            &mut c,
            &self.update_frequency,
            "update_frequency",
            "update_frequency",
            UpdateFrequency::parse,
        );
        let tags = check_tags(&mut c, &self.tags);
        let spatial = optional(&mut c, &self.spatial, "spatial", "region_code", valid_region_code);
        let temporal_from = check_date(&mut c, &self.temporal_from, "temporal_from");
        let temporal_to = check_date(&mut c, &self.temporal_to, "temporal_to");
        if let (Some(from), Some(to)) = (temporal_from, temporal_to) {
            c.check(from <= to, "temporal_to", "date_order");
        }
        let contact_phone = optional(&mut c, &self.contact_phone, "contact_phone", "phone", validate_phone);
        let contact_email = optional(&mut c, &self.contact_email, "contact_email", "email", valid_email);
        let licence = opt(&self.licence).unwrap_or_else(|| DEFAULT_LICENCE.into());
        c.check(valid_licence(&licence), "licence", "licence");
        let related = check_related(&mut c, &self.related);
        let fields = check_fields(&mut c, &self.fields);
        c.finish()?;
        Ok(ResourceMeta {
            title: title.to_string(),
            title_en,
            summary: summary.to_string(),
            domain: domain.expect("checked above"),
            industry,
            open_type: open_type.expect("checked above"),
            open_conditions,
            update_frequency: update_frequency.expect("checked above"),
            tags,
            spatial,
            temporal_from,
            temporal_to,
            contact_phone,
            contact_email,
            licence,
            related,
            fields,
        })
    }
}

/// The form for editing existing metadata, pre-filled.
impl From<&ResourceMeta> for NewResourceMeta {
    fn from(m: &ResourceMeta) -> NewResourceMeta {
        let text = |o: &Option<String>| o.clone().unwrap_or_default();
        let date = |d: Option<Date>| d.map(|d| d.to_string()).unwrap_or_default();
        NewResourceMeta {
            title: m.title.clone(),
            title_en: text(&m.title_en),
            summary: m.summary.clone(),
            domain: m.domain.key().into(),
            industry: m.industry.map(|i| i.code().to_string()).unwrap_or_default(),
            open_type: m.open_type.as_str().into(),
            open_conditions: text(&m.open_conditions),
            update_frequency: m.update_frequency.as_str().into(),
            tags: m.tags.clone(),
            spatial: text(&m.spatial),
            temporal_from: date(m.temporal_from),
            temporal_to: date(m.temporal_to),
            contact_phone: text(&m.contact_phone),
            contact_email: text(&m.contact_email),
            licence: m.licence.clone(),
            related: m.related.clone(),
            fields: m.fields.iter().map(NewField::from).collect(),
        }
    }
}

/// What valid draft metadata still lacks before it may be submitted for review. A consumer must
/// be able to understand and ask about the data, so a submission needs:
/// - at least one 数据项 (`fields: no_fields`), each with its 中文名 (`fields[i].title: required`);
/// - a contact, phone or e-mail (`contact_phone: contact_required`);
/// - the spatial coverage (`spatial: required`) and the start of the temporal coverage
///   (`temporal_from: required`; an open end means the data is still growing).
///
/// Tags, industry, English title and related resources stay optional.
pub fn missing_for_submission(meta: &ResourceMeta) -> Vec<FieldError> {
    let mut missing = Vec::new();
    if meta.fields.is_empty() {
        missing.push(FieldError::new("fields", "no_fields"));
    }
    for (i, f) in meta.fields.iter().enumerate() {
        if f.title.trim().is_empty() {
            missing.push(FieldError::new(&format!("fields[{i}].title"), "required"));
        }
    }
    if meta.contact_phone.is_none() && meta.contact_email.is_none() {
        missing.push(FieldError::new("contact_phone", "contact_required"));
    }
    if meta.spatial.is_none() {
        missing.push(FieldError::new("spatial", "required"));
    }
    if meta.temporal_from.is_none() {
        missing.push(FieldError::new("temporal_from", "required"));
    }
    missing
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn field(name: &str, title: &str, kind: &str) -> NewField {
        NewField {
            name: name.into(),
            title: title.into(),
            field_type: kind.into(),
            ..Default::default()
        }
    }

    /// A complete, submittable form.
    pub(crate) fn sample() -> NewResourceMeta {
        NewResourceMeta {
            title: " 四川省行政区划代码 ".into(),
            summary: "四川省省、市、县三级行政区划代码及名称，按年度更新。".into(),
            domain: "机构团体".into(),
            industry: "s".into(),
            open_type: "unconditional".into(),
            open_conditions: "leftover from the form".into(),
            update_frequency: "yearly".into(),
            tags: vec![" 行政区划 ".into(), "区划".into(), "行政区划".into(), "".into()],
            spatial: "510000".into(),
            temporal_from: "2023-01-01".into(),
            contact_phone: "028-86001234".into(),
            related: vec!["510000-11510000008693034D-000001".into()],
            fields: vec![field("code", "区划代码", "code"), field("name", "名称", "string")],
            ..Default::default()
        }
    }

    pub(crate) fn valid_meta() -> ResourceMeta {
        sample().validate().expect("the sample is valid")
    }

    fn codes<T>(r: Result<T, DomainError>) -> Vec<String> {
        match r {
            Ok(_) => vec![],
            Err(DomainError::Validation(v)) => v.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn valid_meta_is_normalised() {
        let m = valid_meta();
        assert_eq!(m.title, "四川省行政区划代码");
        assert_eq!(m.domain.key(), "institutions");
        assert_eq!(m.domain.name_zh(), Some("机构团体"));
        assert_eq!(m.industry.map(Industry::code), Some('S'));
        assert_eq!(m.open_conditions, None);
        assert_eq!(m.tags, ["行政区划", "区划"]);
        assert_eq!(m.licence, DEFAULT_LICENCE);
        assert_eq!(m.temporal_from, Date::new(2023, 1, 1));
        assert_eq!(m.temporal_to, None);
        assert_eq!(m.fields[0].field_type, FieldType::Code);
        assert!(missing_for_submission(&m).is_empty());
    }

    #[test]
    fn reports_every_bad_field() {
        let bad = NewResourceMeta {
            title: "".into(),
            title_en: "x".repeat(201),
            summary: "太短".into(),
            domain: "astrology".into(),
            industry: "Z".into(),
            open_type: "".into(),
            update_frequency: "hourly".into(),
            spatial: "51".into(),
            temporal_from: "2025-02-30".into(),
            contact_phone: "12345".into(),
            contact_email: "nobody".into(),
            licence: "CC BY".into(),
            related: vec!["not-a-code".into()],
            ..Default::default()
        };
        assert_eq!(
            codes(bad.validate()),
            [
                "title:required",
                "title_en:length",
                "summary:length",
                "domain:domain",
                "industry:industry",
                "open_type:required",
                "update_frequency:update_frequency",
                "spatial:region_code",
                "temporal_from:date",
                "contact_phone:phone",
                "contact_email:email",
                "licence:licence",
                "related:resource_code",
            ]
        );
    }

    #[test]
    fn metadata_rules() {
        type Edit = fn(&mut NewResourceMeta);
        let table: Vec<(&str, Edit, Vec<&str>)> = vec![
            ("title of 100 chars", |m| m.title = "数".repeat(100), vec![]),
            (
                "title of 101 chars",
                |m| m.title = "数".repeat(101),
                vec!["title:length"],
            ),
            ("summary of 20 chars", |m| m.summary = "摘".repeat(20), vec![]),
            (
                "summary of 19 chars",
                |m| m.summary = "摘".repeat(19),
                vec!["summary:length"],
            ),
            (
                "summary of 2001",
                |m| m.summary = "摘".repeat(2001),
                vec!["summary:length"],
            ),
            ("domain by key", |m| m.domain = "Transport".into(), vec![]),
            ("no domain", |m| m.domain = " ".into(), vec!["domain:required"]),
            ("open type in Chinese", |m| m.open_type = "无条件开放".into(), vec![]),
            (
                "conditional without conditions",
                |m| {
                    m.open_type = "conditional".into();
                    m.open_conditions.clear();
                },
                vec!["open_conditions:required"],
            ),
            (
                "conditional with short conditions",
                |m| {
                    m.open_type = "有条件开放".into();
                    m.open_conditions = "仅限科研".into();
                },
                vec!["open_conditions:length"],
            ),
            (
                "conditional with conditions",
                |m| {
                    m.open_type = "conditional".into();
                    m.open_conditions = "仅用于学术研究，不得用于商业用途。".into();
                },
                vec![],
            ),
            (
                "not_open is valid metadata",
                |m| m.open_type = "not_open".into(),
                vec![],
            ),
            ("frequency in Chinese", |m| m.update_frequency = "每季度".into(), vec![]),
            ("dates in order", |m| m.temporal_to = "2023-01-01".into(), vec![]),
            (
                "dates reversed",
                |m| m.temporal_to = "2022-12-31".into(),
                vec!["temporal_to:date_order"],
            ),
            (
                "loose date refused",
                |m| m.temporal_to = "2023/12/31".into(),
                vec!["temporal_to:date"],
            ),
            ("email only", |m| m.contact_email = "data@sc.gov.cn".into(), vec![]),
            ("own licence", |m| m.licence = "odc-by-1.0".into(), vec![]),
            (
                "21 tags",
                |m| m.tags = (0..21).map(|i| format!("标签{i}")).collect(),
                vec!["tags:count"],
            ),
            (
                "20 tags and duplicates",
                |m| m.tags = (0..30).map(|i| format!("T{}", i % 20)).collect(),
                vec![],
            ),
            ("long tag", |m| m.tags = vec!["长".repeat(21)], vec!["tags:tag_length"]),
            (
                "tags differ only in case",
                |m| m.tags = vec!["GDP".into(), "gdp".into()],
                vec![],
            ),
            ("9-digit region", |m| m.spatial = "510104001".into(), vec![]),
        ];
        for (name, edit, want) in table {
            let mut m = sample();
            edit(&mut m);
            assert_eq!(codes(m.validate()), want, "{name}");
        }
        let mut m = sample();
        m.tags = vec!["GDP".into(), "gdp".into(), " GDP ".into()];
        assert_eq!(m.validate().unwrap().tags, ["GDP"]);
        m.tags = (0..30).map(|i| format!("T{}", i % 20)).collect();
        assert_eq!(m.validate().unwrap().tags.len(), 20);
    }

    #[test]
    fn field_rules() {
        type Edit = fn(&mut NewField);
        let table: Vec<(&str, Edit, Vec<&str>)> = vec![
            ("plain", |_| {}, vec![]),
            ("no name", |f| f.name = " ".into(), vec!["fields[1].name:required"]),
            ("name of 65", |f| f.name = "n".repeat(65), vec!["fields[1].name:length"]),
            (
                "duplicate name",
                |f| f.name = "CODE".into(),
                vec!["fields[1].name:duplicate"],
            ),
            (
                "control char",
                |f| f.name = "a\tb".into(),
                vec!["fields[1].name:control_chars"],
            ),
            (
                "title of 51",
                |f| f.title = "题".repeat(51),
                vec!["fields[1].title:length"],
            ),
            ("no type", |f| f.field_type = "".into(), vec!["fields[1].type:required"]),
            (
                "unknown type",
                |f| f.field_type = "blob".into(),
                vec!["fields[1].type:field_type"],
            ),
            ("type in Chinese", |f| f.field_type = "日期".into(), vec![]),
            ("length 65535", |f| f.length = "65535".into(), vec![]),
            ("length 0", |f| f.length = "0".into(), vec!["fields[1].length:range"]),
            (
                "length 65536",
                |f| f.length = "65536".into(),
                vec!["fields[1].length:range"],
            ),
            (
                "length text",
                |f| f.length = "long".into(),
                vec!["fields[1].length:range"],
            ),
            (
                "precision on string",
                |f| f.precision = "2".into(),
                vec!["fields[1].precision:precision_decimal_only"],
            ),
            (
                "decimal precision 18",
                |f| {
                    f.field_type = "decimal".into();
                    f.precision = "18".into();
                },
                vec![],
            ),
            (
                "decimal precision 19",
                |f| {
                    f.field_type = "decimal".into();
                    f.precision = "19".into();
                },
                vec!["fields[1].precision:range"],
            ),
            (
                "description of 501",
                |f| f.description = "d".repeat(501),
                vec!["fields[1].description:length"],
            ),
            ("classification", |f| f.classification = "重要数据".into(), vec![]),
            (
                "bad classification",
                |f| f.classification = "secret".into(),
                vec!["fields[1].classification:classification"],
            ),
        ];
        for (name, edit, want) in table {
            let mut m = sample();
            edit(&mut m.fields[1]);
            assert_eq!(codes(m.validate()), want, "{name}");
        }
        let mut m = sample();
        m.fields = (0..=MAX_FIELDS)
            .map(|i| field(&format!("c{i}"), "列", "string"))
            .collect();
        assert_eq!(codes(m.validate()), ["fields:count"]);
    }

    #[test]
    fn form_and_json_inputs() {
        let json = r#"{
            "title": "成都市公交线路", "summary": "成都市公交线路、站点及首末班时间，每月更新一次。",
            "domain": "transport", "open_type": "unconditional", "update_frequency": "monthly",
            "tags": ["公交", "线路"], "related": null, "spatial": 510100,
            "fields": [{"name": "line", "title": "线路", "type": "string", "length": 20, "required": true},
                       {"name": "fare", "title": "票价", "type": "decimal", "precision": "2", "sensitive": "on"}]
        }"#;
        let m: NewResourceMeta = serde_json::from_str(json).unwrap();
        assert_eq!(m.spatial, "510100");
        assert_eq!((m.fields[0].length.as_str(), m.fields[0].required), ("20", true));
        assert!(m.fields[1].sensitive);
        let v = m.validate().unwrap();
        assert_eq!(v.tags, ["公交", "线路"]);
        assert_eq!(v.fields[1].precision, Some(2));

        let form = r#"{"tags": "公交，线路、地铁;  出行 ", "related": "510000-X1-000001\n510000-X1-000002"}"#;
        let f: NewResourceMeta = serde_json::from_str(form).unwrap();
        assert_eq!(f.tags, ["公交", "线路", "地铁", "  出行 "]);
        assert_eq!(f.related.len(), 2);
        assert!(serde_json::from_str::<NewField>(r#"{"required": "maybe"}"#).is_err());
    }

    #[test]
    fn editing_round_trips() {
        let mut form = sample();
        form.open_type = "conditional".into();
        form.open_conditions = "仅用于学术研究，不得用于商业用途。".into();
        form.fields[1].field_type = "decimal".into();
        form.fields[1].precision = "4".into();
        form.fields[1].classification = "core".into();
        let meta = form.validate().unwrap();
        assert_eq!(NewResourceMeta::from(&meta).validate().unwrap(), meta);
        let json = serde_json::to_string(&meta).unwrap();
        assert_eq!(serde_json::from_str::<ResourceMeta>(&json).unwrap(), meta);
    }

    #[test]
    fn vocabularies() {
        let list = DomainList::standard();
        assert_eq!(list.iter().count(), 20);
        for (key, name) in STANDARD_DOMAINS {
            assert!(is_key(key), "{key}");
            assert_eq!(list.parse(key), list.parse(name));
            assert_eq!(list.parse(name).and_then(|d| d.name_zh()), Some(name));
        }
        assert_eq!(list.parse("星座运势"), None);
        for t in OpenType::ALL {
            assert_eq!(OpenType::parse(t.as_str()), Some(t));
            assert_eq!(OpenType::parse(t.name_zh()), Some(t));
        }
        assert_eq!(OpenType::parse("有条件"), Some(OpenType::Conditional));
        assert!(!OpenType::NotOpen.is_publishable());
        let days: Vec<_> = UpdateFrequency::ALL.iter().map(|f| f.nominal_days()).collect();
        assert_eq!(
            days,
            [
                Some(1),
                Some(1),
                Some(7),
                Some(31),
                Some(92),
                Some(183),
                Some(366),
                None
            ]
        );
        for f in UpdateFrequency::ALL {
            assert_eq!(UpdateFrequency::parse(f.name_zh()), Some(f));
        }
        let letters: String = INDUSTRIES.iter().map(|i| i.0).collect();
        assert_eq!(letters, "ABCDEFGHIJKLMNOPQRST");
        assert_eq!(Industry::parse("教育").map(Industry::code), Some('P'));
        assert_eq!(
            Industry::parse("g").map(Industry::name_zh),
            Some("交通运输、仓储和邮政业")
        );
        assert_eq!(Industry::parse("U"), None);
        assert_eq!(serde_json::to_string(&Industry::parse("C")).unwrap(), "\"C\"");
        assert!(serde_json::from_str::<Industry>("\"Z\"").is_err());
    }

    #[test]
    fn configured_domains() {
        let list = DomainList::new(vec![
            ("tourism".into(), "文化旅游".into()),
            ("transport".into(), "道路交通".into()),
        ])
        .unwrap();
        let tourism = list.parse("文化旅游").unwrap();
        assert_eq!(
            (tourism.key(), list.name(&tourism), tourism.name_zh()),
            ("tourism", Some("文化旅游"), None)
        );
        let mut form = sample();
        form.domain = "文化旅游".into();
        assert!(form.validate_with(&list).is_ok());
        assert_eq!(codes(form.validate()), ["domain:domain"]);
        let bad = DomainList::new(vec![
            ("Tourism".into(), "文化旅游".into()),
            ("transport".into(), "".into()),
            ("transport".into(), "文化旅游".into()),
        ]);
        assert_eq!(
            codes(bad),
            [
                "domains[0].key:key_chars",
                "domains[1].name:required",
                "domains[2].key:duplicate",
                "domains[2].name:duplicate"
            ]
        );
        assert_eq!(codes(DomainList::new(vec![])), ["domains:required"]);
    }

    #[test]
    fn what_a_submission_needs() {
        type Edit = fn(&mut ResourceMeta);
        let table: Vec<(&str, Edit, Vec<&str>)> = vec![
            ("complete", |_| {}, vec![]),
            ("no fields", |m| m.fields.clear(), vec!["fields:no_fields"]),
            (
                "untitled field",
                |m| m.fields[1].title.clear(),
                vec!["fields[1].title:required"],
            ),
            (
                "no contact",
                |m| m.contact_phone = None,
                vec!["contact_phone:contact_required"],
            ),
            (
                "email is enough",
                |m| {
                    m.contact_phone = None;
                    m.contact_email = Some("data@sc.gov.cn".into());
                },
                vec![],
            ),
            ("no spatial", |m| m.spatial = None, vec!["spatial:required"]),
            (
                "no temporal",
                |m| m.temporal_from = None,
                vec!["temporal_from:required"],
            ),
            ("no tags", |m| m.tags.clear(), vec![]),
        ];
        for (name, edit, want) in table {
            let mut m = valid_meta();
            edit(&mut m);
            let got: Vec<String> = missing_for_submission(&m)
                .into_iter()
                .map(|e| format!("{}:{}", e.field, e.code))
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn resource_codes() {
        let code = resource_code("510000", "11510000008693034D", 42);
        assert_eq!(code, "510000-11510000008693034D-000042");
        assert!(valid_resource_code(&code));
        assert_eq!(resource_code("510100", "P01", 1_234_567), "510100-P01-1234567");
        for bad in [
            "",
            "510000",
            "510000-ABC",
            "51-ABC-000001",
            "510000--000001",
            "510000-A-B-000001",
            "510000-ABC-00001",
        ] {
            assert!(!valid_resource_code(bad), "{bad}");
        }
    }
}
