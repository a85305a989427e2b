//! A query over a datastore table as the data API takes it (filters, text search, sort, fields,
//! paging), and reading one from the data API's query-string parameters. Pure: the store runs
//! the query; the server and the fuzz targets parse with the same function.

use crate::{DomainError, FieldError};

/// How a filter compares: a data API parameter's suffix (`code.eq`), and a grant's row filter
/// (数据范围), which applies as the same query filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    /// One of several values, comma-separated.
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    /// Text starting with the value.
    Prefix,
}

impl Op {
    pub const ALL: [Op; 7] = [Op::Eq, Op::In, Op::Gt, Op::Gte, Op::Lt, Op::Lte, Op::Prefix];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::In => "in",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Prefix => "prefix",
        }
    }

    /// Exactly as the data API writes it (`gte`).
    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == s)
    }

    /// As a person types it in a form: surrounding spaces and any case (` GTE `).
    pub fn parse_loose(s: &str) -> Option<Op> {
        Op::parse(&s.trim().to_ascii_lowercase())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub field: String,
    pub op: Op,
    pub value: String,
}

/// The largest page the data API returns.
pub const MAX_LIMIT: u64 = 10_000;

#[derive(Debug, Clone, Default)]
pub struct DatastoreQuery {
    pub filters: Vec<Filter>,
    /// Text that any text field contains.
    pub q: Option<String>,
    /// A field to sort by, and whether descending; file order otherwise.
    pub sort: Option<(String, bool)>,
    /// The fields to return; all when empty.
    pub fields: Vec<String>,
    pub limit: u64,
    pub offset: u64,
    /// Keyset paging in file order: rows after this row number (from a previous `next_after`).
    pub after: Option<i64>,
}

/// The least text greater than every text that starts with `prefix` (in code point order, which
/// is UTF-8 byte order): the prefix with its last character replaced by the next one, dropping
/// trailing U+10FFFF. `None` when every text from `prefix` on starts with it (an empty prefix, or
/// one of only U+10FFFF).
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(c) = next {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Reads the data API's query-string parameters (`GET /resources/{id}/rows`): `q`, `sort`
/// (`-field` descends), `fields`, `limit`, `offset`, `after`, `format`, `app_key`, and filters
/// `<field>.<op>=value` with op one of eq, in, gt, gte, lt, lte, prefix. Returns the query and
/// whether CSV was asked for; anything else is a validation error naming the parameter.
pub fn parse_rows_params(params: &[(String, String)]) -> Result<(DatastoreQuery, bool), DomainError> {
    let field = |name: &str, code: &str| DomainError::Validation(vec![FieldError::new(name, code)]);
    let number = |name: &str, v: &str| v.parse::<u64>().map_err(|_| field(name, "number"));
    let mut q = DatastoreQuery {
        limit: 100,
        ..Default::default()
    };
    let mut csv = false;
    for (k, v) in params {
        match k.as_str() {
            "q" => q.q = Some(v.clone()),
            "sort" => {
                q.sort = Some(match v.strip_prefix('-') {
                    Some(f) => (f.to_string(), true),
                    None => (v.clone(), false),
                })
            }
            "fields" => {
                q.fields = v
                    .split(',')
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty())
                    .collect()
            }
            "limit" => {
                q.limit = number("limit", v)?;
                if !(1..=MAX_LIMIT).contains(&q.limit) {
                    return Err(DomainError::Validation(vec![FieldError::new("limit", "range")
                        .with("min", 1)
                        .with("max", MAX_LIMIT)]));
                }
            }
            "offset" => q.offset = number("offset", v)?,
            "after" => q.after = Some(v.parse::<i64>().map_err(|_| field("after", "number"))?),
            "app_key" => {}
            "format" => match v.as_str() {
                "json" => csv = false,
                "csv" => csv = true,
                _ => return Err(field("format", "format")),
            },
            _ => match k.rsplit_once('.').and_then(|(f, op)| Op::parse(op).map(|op| (f, op))) {
                Some((f, op)) => q.filters.push(Filter {
                    field: f.to_string(),
                    op,
                    value: v.clone(),
                }),
                None => return Err(field(k, "unknown_parameter")),
            },
        }
    }
    Ok((q, csv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<(DatastoreQuery, bool), DomainError> {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        parse_rows_params(&owned)
    }

    #[test]
    fn rows_parameters_become_a_query() {
        let (q, csv) = parse(&[
            ("q", "道路"),
            ("sort", "-amount"),
            ("fields", "code, name,,"),
            ("limit", "20"),
            ("offset", "40"),
            ("code.prefix", "1101"),
            ("a.b.gte", "3"),
            ("format", "csv"),
            ("app_key", "k"),
        ])
        .unwrap();
        assert!(csv);
        assert_eq!(q.q.as_deref(), Some("道路"));
        assert_eq!(q.sort, Some(("amount".to_string(), true)));
        assert_eq!(q.fields, ["code", "name"]);
        assert_eq!((q.limit, q.offset), (20, 40));
        assert_eq!(q.filters[0].op, Op::Prefix);
        assert_eq!((q.filters[1].field.as_str(), q.filters[1].op), ("a.b", Op::Gte));
        assert_eq!(parse(&[]).unwrap().0.limit, 100);
    }

    #[test]
    fn bad_rows_parameters_are_validation_errors() {
        for pairs in [
            &[("limit", "0")][..],
            &[("limit", "10001")],
            &[("limit", "-1")],
            &[("offset", "x")],
            &[("after", "1.5")],
            &[("format", "xml")],
            &[("code.like", "1")],
            &[("nodot", "1")],
        ] {
            assert!(matches!(parse(pairs), Err(DomainError::Validation(_))), "{pairs:?}");
        }
    }

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper_bound("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
    }
}
