//! pubdata's catalogue as CKAN's dictionaries: datasets (资源), resources (挂接资源),
//! organisations (providers), groups (领域) and tags, with CKAN's field names and types.

use pubdata_core::metadata::DomainList;
use pubdata_service::published::{format_of, Published};
use pubdata_store::{DistributionRow, OrgRow};
use serde_json::{json, Value};

/// Where the portal is, for absolute URLs, and the domains it offers.
pub struct Site {
    /// E.g. `https://data.example.gov.cn`, without a trailing `/`.
    pub base: String,
    pub domains: DomainList,
}

/// A time as CKAN writes it: UTC, ISO 8601 with microseconds and no zone.
pub fn iso(ms: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// Known licences: (key, title, url, open by the Open Definition).
const LICENCES: [(&str, &str, &str, bool); 8] = [
    (
        "cc-by-4.0",
        "Creative Commons Attribution 4.0",
        "https://creativecommons.org/licenses/by/4.0/",
        true,
    ),
    (
        "cc-by-sa-4.0",
        "Creative Commons Attribution Share-Alike 4.0",
        "https://creativecommons.org/licenses/by-sa/4.0/",
        true,
    ),
    (
        "cc0-1.0",
        "Creative Commons CCZero",
        "https://creativecommons.org/publicdomain/zero/1.0/",
        true,
    ),
    (
        "cc-by-nc-4.0",
        "Creative Commons Non-Commercial 4.0",
        "https://creativecommons.org/licenses/by-nc/4.0/",
        false,
    ),
    (
        "odc-by-1.0",
        "Open Data Commons Attribution License",
        "https://opendatacommons.org/licenses/by/1-0/",
        true,
    ),
    (
        "odc-odbl-1.0",
        "Open Data Commons Open Database License (ODbL)",
        "https://opendatacommons.org/licenses/odbl/1-0/",
        true,
    ),
    (
        "odc-pddl-1.0",
        "Open Data Commons Public Domain Dedication and License (PDDL)",
        "https://opendatacommons.org/licenses/pddl/1-0/",
        true,
    ),
    ("other-closed", "Other (Not Open)", "", false),
];

/// A licence's title, URL and openness; an unknown key is its own title, not known to be open.
pub fn licence(key: &str) -> (String, String, bool) {
    match LICENCES.iter().find(|l| l.0 == key) {
        Some(l) => (l.1.to_string(), l.2.to_string(), l.3),
        None => (key.to_string(), String::new(), false),
    }
}

/// A provider as a CKAN organisation; `package_count` when the caller counted them.
pub fn organization(org: &OrgRow, package_count: Option<usize>) -> Value {
    let mut v = json!({
        "id": org.id.to_string(),
        "name": pubdata_service::published::provider_key(org),
        "title": org.name,
        "display_name": org.name,
        "type": "organization",
        "is_organization": true,
        "description": "",
        "image_url": "",
        "image_display_url": "",
        "created": iso(org.created_at),
        "state": "active",
        "approval_status": "approved",
    });
    if let Some(n) = package_count {
        v["package_count"] = json!(n);
        v["num_followers"] = json!(0);
    }
    v
}

/// A 领域 as a CKAN group; `package_count` when the caller counted them.
pub fn group(key: &str, name: &str, package_count: Option<usize>) -> Value {
    let mut v = json!({
        "id": key,
        "name": key,
        "title": name,
        "display_name": name,
        "description": "",
        "image_display_url": "",
    });
    if let Some(n) = package_count {
        for (k, val) in [
            ("type", json!("group")),
            ("is_organization", json!(false)),
            ("image_url", json!("")),
            ("state", json!("active")),
            ("approval_status", json!("approved")),
            ("package_count", json!(n)),
            ("num_followers", json!(0)),
        ] {
            v[k] = val;
        }
    }
    v
}

/// A 关键字 as a CKAN tag: free tags have no vocabulary, and the name is the id.
pub fn tag(name: &str) -> Value {
    json!({"id": name, "name": name, "display_name": name, "state": "active", "vocabulary_id": null})
}

/// The public resource id of a distribution.
pub fn resource_id(d: &DistributionRow) -> String {
    d.id.to_string()
}

/// A distribution as a CKAN resource: files download from the portal, APIs are their own URL.
pub fn resource(site: &Site, p: &Published, d: &DistributionRow, position: usize) -> Value {
    let file = d.kind == "file";
    let url = if file {
        format!("{}/dataset/{}/resource/{}/download", site.base, p.name(), d.id)
    } else {
        d.api_url.clone().unwrap_or_default()
    };
    let name = if d.title.trim().is_empty() {
        d.filename.clone().unwrap_or_default()
    } else {
        d.title.clone()
    };
    json!({
        "id": resource_id(d),
        "package_id": p.name(),
        "name": name,
        "description": d.change_note.clone().or_else(|| d.api_doc.clone()).unwrap_or_default(),
        "format": format_of(d),
        "url": url,
        "url_type": if file { json!("upload") } else { Value::Null },
        "resource_type": if file { "file" } else { "api" },
        "mimetype": d.media_type,
        "mimetype_inner": null,
        "size": d.size_bytes,
        "hash": d.sha256.as_ref().map(|h| format!("sha256:{h}")).unwrap_or_default(),
        "created": iso(d.created_at),
        "last_modified": iso(d.updated_at),
        "metadata_modified": iso(d.updated_at),
        "cache_url": null,
        "cache_last_updated": null,
        "position": position,
        "state": "active",
        "datastore_active": pubdata_service::ckan::is_datastore_active(p, d),
    })
}

/// pubdata's own elements, as CKAN extras (every value a string; lists and the 数据项 as JSON).
fn extras(p: &Published, site: &Site) -> Vec<Value> {
    let m = &p.resource.meta;
    let mut out: Vec<(&str, String)> = vec![
        ("code", p.resource.row.code.clone()),
        ("domain", m.domain.key().to_string()),
        (
            "domain_name",
            site.domains.name(&m.domain).unwrap_or(m.domain.key()).to_string(),
        ),
        ("open_type", m.open_type.as_str().to_string()),
        ("update_frequency", m.update_frequency.as_str().to_string()),
    ];
    let optional = [
        ("title_en", m.title_en.clone()),
        ("industry", m.industry.map(|i| i.code().to_string())),
        ("open_conditions", m.open_conditions.clone()),
        ("spatial", m.spatial.clone()),
        ("temporal_from", m.temporal_from.map(|d| d.to_string())),
        ("temporal_to", m.temporal_to.map(|d| d.to_string())),
        ("contact_phone", m.contact_phone.clone()),
        ("contact_email", m.contact_email.clone()),
        ("row_count", p.row_count().map(|n| n.to_string())),
        ("published_at", p.resource.row.published_at.map(iso)),
    ];
    out.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    if !m.fields.is_empty() {
        out.push(("fields", serde_json::to_string(&m.fields).unwrap_or_default()));
    }
    if !m.related.is_empty() {
        out.push(("related", serde_json::to_string(&m.related).unwrap_or_default()));
    }
    out.into_iter().map(|(k, v)| json!({"key": k, "value": v})).collect()
}

/// A published resource as a CKAN dataset (`package_show`'s result).
pub fn dataset(site: &Site, p: &Published) -> Value {
    let m = &p.resource.meta;
    let row = &p.resource.row;
    let (licence_title, licence_url, isopen) = licence(&m.licence);
    let tags: Vec<Value> = m.tags.iter().map(|t| tag(t)).collect();
    let resources: Vec<Value> = p
        .dists
        .iter()
        .enumerate()
        .map(|(i, d)| resource(site, p, d, i))
        .collect();
    let domain_name = site.domains.name(&m.domain).unwrap_or(m.domain.key());
    let version = p.dists.iter().map(|d| d.version).max();
    let email = m.contact_email.clone().or_else(|| p.provider.contact_email.clone());
    json!({
        "id": p.name(),
        "name": p.name(),
        "title": m.title,
        "notes": m.summary,
        "type": "dataset",
        "state": "active",
        "private": false,
        "isopen": isopen,
        "owner_org": p.provider.id.to_string(),
        "organization": organization(&p.provider, None),
        "author": p.provider.name,
        "author_email": email,
        "maintainer": p.provider.contact_name.clone().unwrap_or_else(|| p.provider.name.clone()),
        "maintainer_email": email,
        "license_id": m.licence,
        "license_title": licence_title,
        "license_url": licence_url,
        "metadata_created": iso(row.created_at),
        "metadata_modified": iso(row.updated_at),
        "url": format!("{}/catalogue/{}", site.base, row.code),
        "version": version.map(|v| v.to_string()),
        "num_tags": tags.len(),
        "tags": tags,
        "groups": [group(m.domain.key(), domain_name, None)],
        "num_resources": resources.len(),
        "resources": resources,
        "extras": extras(p, site),
        "relationships_as_object": [],
        "relationships_as_subject": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_with_microseconds_and_no_zone() {
        assert_eq!(iso(1_704_096_000_123), "2024-01-01T08:00:00.123000");
        assert_eq!(iso(0), "1970-01-01T00:00:00.000000");
    }

    #[test]
    fn licences_have_titles_and_unknown_ones_their_key() {
        assert_eq!(licence("cc-by-4.0").0, "Creative Commons Attribution 4.0");
        assert!(licence("cc-by-4.0").2);
        assert_eq!(
            licence("gov-cn-open"),
            ("gov-cn-open".to_string(), String::new(), false)
        );
    }

    #[test]
    fn tags_and_groups_have_ckan_keys() {
        assert_eq!(
            tag("区划"),
            json!({"id": "区划", "name": "区划", "display_name": "区划", "state": "active", "vocabulary_id": null})
        );
        let g = group("transport", "道路交通", Some(3));
        assert_eq!(
            (g["name"].clone(), g["title"].clone(), g["package_count"].clone()),
            (json!("transport"), json!("道路交通"), json!(3))
        );
        assert!(group("transport", "道路交通", None).get("package_count").is_none());
    }
}
