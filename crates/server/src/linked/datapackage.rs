//! The Frictionless Data Package (v1, tabular) of a published resource: one resource per
//! loaded file, pointing at its CSV download, with a Table Schema that describes exactly that
//! CSV — the loaded columns in file order with their loaded types (masked columns are text) —
//! and claims `required` and a primary key only where the ingest report shows them to hold.

use pubdata_core::field::{FieldSpec, FieldType};
use pubdata_service::published::Published;
use pubdata_store::datastore::DatastoreColumn;
use pubdata_store::DistributionRow;
use serde_json::{json, Map, Value};

use super::dcat::{iso_time, licence_iri, Site};

/// How the datastore writes date-times as text (`2024-05-01 08:30:00`), in the Python/C
/// `strptime` notation Table Schema v1 uses for `format`.
pub const DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The Table Schema type of a loaded column.
pub fn table_type(t: FieldType) -> &'static str {
    match t {
        FieldType::String | FieldType::Code => "string",
        FieldType::Integer => "integer",
        FieldType::Decimal => "number",
        FieldType::Date => "date",
        FieldType::Datetime => "datetime",
        FieldType::Boolean => "boolean",
    }
}

/// A licence for the package: its Open Definition id and address when known.
fn licence(site: &Site, key: &str) -> Value {
    let known = match key {
        "cc-by-4.0" => Some(("CC-BY-4.0", "https://creativecommons.org/licenses/by/4.0/")),
        "cc-by-sa-4.0" => Some(("CC-BY-SA-4.0", "https://creativecommons.org/licenses/by-sa/4.0/")),
        "cc-by-nc-4.0" => Some(("CC-BY-NC-4.0", "https://creativecommons.org/licenses/by-nc/4.0/")),
        "cc0-1.0" | "cc0" => Some(("CC0-1.0", "https://creativecommons.org/publicdomain/zero/1.0/")),
        "odc-by-1.0" => Some(("ODC-BY-1.0", "https://opendatacommons.org/licenses/by/1-0/")),
        "odc-odbl-1.0" | "odbl-1.0" => Some(("ODbL-1.0", "https://opendatacommons.org/licenses/odbl/1-0/")),
        "odc-pddl-1.0" => Some(("ODC-PDDL-1.0", "https://opendatacommons.org/licenses/pddl/1-0/")),
        _ => None,
    };
    match known {
        Some((name, path)) => json!({ "name": name, "path": path, "title": name }),
        None => json!({ "name": key, "path": licence_iri(site.base, key), "title": key }),
    }
}

/// What the ingest report says about a column of the loaded table.
struct Evidence<'a> {
    report: Option<&'a Value>,
}

impl Evidence<'_> {
    /// Every row has a value: no empty cells, and none lost to a failed conversion.
    fn always_present(&self, column: &str) -> bool {
        let Some(r) = self.report else { return false };
        let nulls = r["columns"]
            .as_array()
            .and_then(|cols| cols.iter().find(|c| c["name"] == column))
            .and_then(|c| c["nulls"].as_u64());
        let masked = r["masked_columns"]
            .as_array()
            .is_some_and(|m| m.iter().any(|c| c == column));
        let lost = self
            .findings()
            .any(|f| f["column"] == column && matches!(f["rule"].as_str(), Some("type_mismatch" | "invalid_date")));
        nulls == Some(0) && !masked && !lost
    }

    /// The key was checked against every row and no key value repeats.
    fn key_unique(&self) -> bool {
        let Some(r) = self.report else { return false };
        r["quality"]["duplicate_check"]["mode"] == "exact" && !self.findings().any(|f| f["rule"] == "duplicate_key")
    }

    fn findings(&self) -> impl Iterator<Item = &Value> {
        self.report
            .and_then(|r| r["quality"]["findings"].as_array())
            .into_iter()
            .flatten()
    }
}

/// The Table Schema of the CSV a distribution downloads as.
pub fn schema(declared: &[FieldSpec], d: &DistributionRow, columns: &[DatastoreColumn]) -> Value {
    let evidence = Evidence {
        report: d.report.as_ref(),
    };
    let fields: Vec<Value> = columns
        .iter()
        .map(|c| {
            let mut f = Map::new();
            f.insert("name".into(), json!(c.name));
            f.insert("type".into(), json!(table_type(c.field_type)));
            if c.field_type == FieldType::Datetime {
                f.insert("format".into(), json!(DATETIME_FORMAT));
            }
            let spec = declared.iter().find(|s| s.name == c.name);
            if let Some(s) = spec {
                if !s.title.is_empty() {
                    f.insert("title".into(), json!(s.title));
                }
                if !s.description.is_empty() {
                    f.insert("description".into(), json!(s.description));
                }
            }
            let required = (spec.is_some_and(|s| s.required) || c.key) && evidence.always_present(&c.name);
            if required {
                f.insert("constraints".into(), json!({ "required": true }));
            }
            Value::Object(f)
        })
        .collect();
    let mut schema = Map::new();
    schema.insert("fields".into(), Value::Array(fields));
    schema.insert("missingValues".into(), json!([""]));
    let key: Vec<&DatastoreColumn> = columns.iter().filter(|c| c.key).collect();
    if !key.is_empty() && evidence.key_unique() && key.iter().all(|c| evidence.always_present(&c.name)) {
        schema.insert(
            "primaryKey".into(),
            json!(key.iter().map(|c| c.name.as_str()).collect::<Vec<_>>()),
        );
    }
    Value::Object(schema)
}

/// The data package; `tables` are the downloadable distributions with their loaded columns.
pub fn package(site: &Site, p: &Published, tables: &[(DistributionRow, Vec<DatastoreColumn>)]) -> Value {
    let m = &p.resource.meta;
    let name = p.name();
    let resources: Vec<Value> = tables
        .iter()
        .map(|(d, columns)| {
            let mut r = json!({
                "name": format!("{name}-v{}", d.version),
                "path": site.download_url(p, d),
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": schema(&m.fields, d, columns),
            });
            if !d.title.is_empty() {
                r["title"] = json!(d.title);
            }
            // Size and hash of the published copy, which is exactly what `path` serves.
            if let (Some(bytes), Some(sha)) = (d.export_bytes, d.export_sha256.as_deref()) {
                r["bytes"] = json!(bytes);
                r["hash"] = json!(format!("sha256:{sha}"));
            }
            r
        })
        .collect();
    let mut contributor = json!({ "title": p.provider.name, "role": "publisher" });
    if let Some(email) = p.provider.contact_email.as_deref().filter(|e| !e.is_empty()) {
        contributor["email"] = json!(email);
    }
    let mut pkg = json!({
        "profile": "tabular-data-package",
        "name": name,
        "id": site.dataset_iri(p),
        "title": m.title,
        "description": m.summary,
        "homepage": site.dataset_page(p),
        "licenses": [licence(site, &m.licence)],
        "contributors": [contributor],
        "resources": resources,
    });
    if !m.tags.is_empty() {
        pkg["keywords"] = json!(m.tags);
    }
    if let Some(at) = p.resource.row.published_at {
        pkg["created"] = json!(iso_time(at));
    }
    pkg
}
