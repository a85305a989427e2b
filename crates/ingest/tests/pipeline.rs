//! The whole pipeline: profiles, the audit against declared fields, personal data findings,
//! masking of what the sink receives, and a run over the real national street table.

mod common;

use common::{run, run_with};
use pubdata_core::field::{FieldSpec, FieldType, NullSink};
use pubdata_ingest::{
    AuditBasis, DatePart, DuplicateCheck, IngestOptions, MaskMethod, MaskRule, MaskSecret, PiiKind, QualityRule,
};

fn spec(name: &str, t: FieldType) -> FieldSpec {
    FieldSpec::new(name, t)
}

#[test]
fn columns_are_profiled() {
    let mut csv = String::from("code,name,amount,day,flag,note\n");
    for i in 0..300 {
        let day = if i % 2 == 0 { "2023-05-01" } else { "2023年5月2日" };
        let name = ["东城区", "西城区", "朝阳区"][i % 3];
        let note = if i % 10 == 0 { "" } else { "ok" };
        csv.push_str(&format!(
            "{:06},{name},{}.5,{day},{},{note}\n",
            110000 + i,
            i,
            i % 2 == 0
        ));
    }
    let (report, sink) = run("p.csv", csv.as_bytes()).unwrap();
    let col = |n: &str| report.columns.iter().find(|c| c.name == n).unwrap();
    let types: Vec<FieldType> = report.columns.iter().map(|c| c.inferred_type).collect();
    assert_eq!(
        types,
        vec![
            FieldType::Code,
            FieldType::String,
            FieldType::Decimal,
            FieldType::Date,
            FieldType::Boolean,
            FieldType::String
        ]
    );
    assert_eq!(sink.columns.iter().map(|c| c.field_type).collect::<Vec<_>>(), types);
    let code = col("code");
    assert!(
        (295..=305).contains(&code.distinct_estimate),
        "{}",
        code.distinct_estimate
    );
    assert_eq!(
        (code.min.as_deref(), code.max.as_deref()),
        (Some("110000"), Some("110299"))
    );
    assert_eq!((code.min_length, code.max_length), (Some(6), Some(6)));
    let amount = col("amount");
    assert_eq!(
        (amount.min.as_deref(), amount.max.as_deref()),
        (Some("0.5"), Some("299.5"))
    );
    assert_eq!(amount.max_scale, 1);
    let name = col("name");
    assert_eq!(name.distinct_estimate, 3);
    assert_eq!(name.top_values.len(), 3);
    assert_eq!(name.top_values[0].count, 100);
    assert!(!name.top_values_approximate);
    assert!(code.top_values_approximate);
    assert_eq!(col("day").date_formats, vec!["YYYY-MM-DD", "YYYY年M月D日"]);
    assert_eq!(col("note").nulls, 30);
    assert_eq!(report.quality.basis, AuditBasis::Inferred);
    assert!(report.quality.findings.is_empty(), "{:?}", report.quality.findings);
    assert_eq!(report.quality.overall_score, 100.0);
}

#[test]
fn rows_are_held_back_until_types_are_known() {
    let mut csv = String::from("n\n");
    for i in 0..50 {
        csv.push_str(&format!("{i}\n"));
    }
    let opts = IngestOptions {
        sample_rows: 10,
        ..IngestOptions::default()
    };
    let (_, sink) = run_with("n.csv", csv.as_bytes(), &opts).unwrap();
    assert_eq!(sink.rows_before_begin, 0);
    assert_eq!(sink.rows.len(), 50);
    assert_eq!(sink.rows[0][0].as_deref(), Some("0"));
    assert_eq!(sink.rows[49][0].as_deref(), Some("49"));
}

#[test]
fn a_type_change_after_the_sample_is_reported() {
    let mut csv = String::from("n\n");
    for i in 0..20 {
        csv.push_str(&format!("{i}\n"));
    }
    csv.push_str("twenty-one\n");
    let opts = IngestOptions {
        sample_rows: 10,
        ..IngestOptions::default()
    };
    let (report, sink) = run_with("n.csv", csv.as_bytes(), &opts).unwrap();
    assert_eq!(sink.columns[0].field_type, FieldType::Integer);
    assert_eq!(report.columns[0].inferred_type, FieldType::String);
    assert!(report.warning("type_changed").is_some());
    let f = &report.quality.findings[0];
    assert_eq!((f.rule, f.rows.as_slice()), (QualityRule::TypeMismatch, &[21u64][..]));
}

#[test]
fn declared_fields_drive_the_sink_and_the_audit() {
    let mut code = spec("code", FieldType::Code);
    code.key = true;
    code.required = true;
    code.length = Some(6);
    let mut name = spec("name", FieldType::String);
    name.length = Some(4);
    let opts = IngestOptions {
        fields: vec![
            code,
            name,
            spec("founded", FieldType::Date),
            spec("missing", FieldType::Integer),
        ],
        ..IngestOptions::default()
    };
    let csv =
        "code,name,founded,extra\n110101,东城区,2023-01-01,1\n110101,西城区,2023-02-30,2\n,很长的名字啊,20230301,3\n";
    let (report, sink) = run_with("d.csv", csv.as_bytes(), &opts).unwrap();
    let loaded: Vec<(&str, FieldType)> = sink.columns.iter().map(|c| (c.name.as_str(), c.field_type)).collect();
    assert_eq!(
        loaded,
        vec![
            ("code", FieldType::Code),
            ("name", FieldType::String),
            ("founded", FieldType::Date),
            ("extra", FieldType::Integer)
        ]
    );
    assert!(sink.columns[0].key);
    let q = &report.quality;
    assert_eq!(q.basis, AuditBasis::Declared);
    assert_eq!(q.duplicate_check, DuplicateCheck::Exact);
    let found: Vec<(QualityRule, &str, Vec<u64>)> = q
        .findings
        .iter()
        .map(|f| (f.rule, f.column.as_str(), f.rows.clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            (QualityRule::MissingColumn, "missing", vec![]),
            (QualityRule::UndeclaredColumn, "extra", vec![]),
            (QualityRule::RequiredNull, "code", vec![3]),
            (QualityRule::TooLong, "name", vec![3]),
            (QualityRule::InvalidDate, "founded", vec![2]),
            (QualityRule::DuplicateKey, "code", vec![2]),
        ]
    );
    assert!(q.overall_score < 60.0, "{}", q.overall_score);
    let text = report.to_string();
    assert!(
        text.contains("duplicate_key") && text.contains("missing_column"),
        "{text}"
    );
}

#[test]
fn personal_data_is_located_but_never_reported() {
    let id = "11010519491231002X";
    let csv = format!(
        "name,id,contact,card,note\n张三,{id},13812345678,4111111111111111,写信至 zhang@example.cn 或致电 010-62345678\n李四,,,,无\n"
    );
    let (report, _) = run("p.csv", csv.as_bytes()).unwrap();
    let found: Vec<(&str, PiiKind, u64, Vec<u64>)> = report
        .privacy
        .iter()
        .map(|p| (p.column.as_str(), p.kind, p.count, p.rows.clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            ("id", PiiKind::IdCard, 1, vec![1]),
            ("contact", PiiKind::Mobile, 1, vec![1]),
            ("card", PiiKind::BankCard, 1, vec![1]),
            ("note", PiiKind::Email, 1, vec![1]),
            ("note", PiiKind::Landline, 1, vec![1]),
        ]
    );
    let json = serde_json::to_string(&report).unwrap();
    let text = report.to_string();
    for secret in [id, "13812345678", "4111111111111111", "zhang@example.cn", "62345678"] {
        assert!(!json.contains(secret), "{secret} leaked into the JSON report");
        assert!(!text.contains(secret), "{secret} leaked into the text report");
    }
    assert!(json.contains("\"values_withheld\":true"));
    let name = report.columns.iter().find(|c| c.name == "name").unwrap();
    assert!(!name.values_withheld && name.top_values.len() == 2);
}

#[test]
fn masks_apply_to_what_the_sink_receives() {
    let opts = IngestOptions {
        masks: vec![
            MaskRule {
                column: "phone".into(),
                method: MaskMethod::Keep { first: 3, last: 4 },
            },
            MaskRule {
                column: "id".into(),
                method: MaskMethod::Hash,
            },
            MaskRule {
                column: "name".into(),
                method: MaskMethod::Redact,
            },
            MaskRule {
                column: "born".into(),
                method: MaskMethod::GeneraliseDate { to: DatePart::Month },
            },
            MaskRule {
                column: "nope".into(),
                method: MaskMethod::Redact,
            },
        ],
        mask_secret: MaskSecret(b"platform secret".to_vec()),
        ..IngestOptions::default()
    };
    let csv = "name,phone,id,born,n\n张三,13812345678,11010519491231002X,1949-12-31,1\n李四,,11010519491231002X,1950-01-02,2\n";
    let (report, sink) = run_with("m.csv", csv.as_bytes(), &opts).unwrap();
    assert_eq!(sink.column(0), vec![Some("***"), Some("***")]);
    assert_eq!(sink.column(1), vec![Some("138****5678"), None]);
    let ids = sink.column(2);
    assert_eq!(ids[0].map(str::len), Some(16));
    assert_eq!(ids[0], ids[1], "hashing keeps equal values equal");
    assert_eq!(sink.column(3), vec![Some("1949-12"), Some("1950-01")]);
    assert_eq!(sink.column(4), vec![Some("1"), Some("2")]);
    assert_eq!(
        sink.columns[3].field_type,
        FieldType::String,
        "a masked date is no longer a date"
    );
    assert_eq!(report.masked_columns, vec!["name", "phone", "id", "born"]);
    assert!(report.warning("unknown_mask_column").is_some());
    // The findings still describe the original data.
    assert!(report
        .privacy
        .iter()
        .any(|p| p.column == "phone" && p.kind == PiiKind::Mobile));
}

#[test]
fn report_serialises_and_prints() {
    let (report, _) = run("r.csv", "区划代码,名称\n110101,东城区\n110102,西城区\n".as_bytes()).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["format"], "csv");
    assert_eq!(json["encoding"], "utf-8");
    assert_eq!(json["columns"][0]["inferred_type"], "code");
    let back: pubdata_ingest::Report = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
    let text = report.to_string();
    assert!(
        text.starts_with("r.csv: CSV, utf-8, delimiter ','; 2 rows, 2 columns"),
        "{text}"
    );
    assert!(
        text.contains("区划代码") && text.contains("Quality: 100.0/100"),
        "{text}"
    );
    assert!(text.contains("Personal data: none found"), "{text}");
}

/// The real national street table from the shared data folder.
#[test]
fn real_streets_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/streets.csv");
    if !path.exists() {
        assert!(
            std::env::var("PUBDATA_TEST_STRICT").as_deref() != Ok("1"),
            "{} is missing in strict mode",
            path.display()
        );
        eprintln!("SKIP real_streets_table: {} not found", path.display());
        return;
    }
    let mut code = spec("code", FieldType::Code);
    code.key = true;
    code.required = true;
    let opts = IngestOptions {
        fields: vec![
            code,
            spec("name", FieldType::String),
            spec("areaCode", FieldType::Code),
            spec("provinceCode", FieldType::Code),
            spec("cityCode", FieldType::Code),
        ],
        ..IngestOptions::default()
    };
    let mut sink = NullSink::default();
    let mut calls = 0;
    let report = pubdata_ingest::ingest_file(&path, &opts, &mut sink, &mut |_| calls += 1).unwrap();
    assert!(report.rows > 40_000, "{} rows", report.rows);
    assert_eq!(sink.rows, report.rows);
    assert!(calls >= 1);
    let code = &report.columns[0];
    assert_eq!(code.inferred_type, FieldType::Code);
    assert_eq!((code.min_length, code.max_length), (Some(9), Some(9)));
    let rel = (code.distinct_estimate as f64 - report.rows as f64).abs() / report.rows as f64;
    assert!(
        rel < 0.05,
        "distinct {} vs rows {}",
        code.distinct_estimate,
        report.rows
    );
    assert_eq!(report.quality.duplicate_check, DuplicateCheck::Exact);
    assert!(report.quality.overall_score > 95.0, "{report}");
    assert!(report.privacy.is_empty(), "{:?}", report.privacy);
    println!("{report}");
}
