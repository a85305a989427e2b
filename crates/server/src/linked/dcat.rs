//! The catalogue as DCAT-AP 3 (DESIGN §3): a published resource is a `dcat:Dataset`, its ready
//! data are `dcat:Distribution`s, the portal is the `dcat:Catalog`. Controlled values use the EU
//! vocabularies (data themes, frequencies, access rights, file types, licences, languages); every
//! node the DCAT-AP ranges name a class for is typed here, so the output validates against the
//! official shapes without fetching those vocabularies.

use std::collections::HashMap;

use pubdata_core::metadata::{OpenType, UpdateFrequency};
use pubdata_service::download;
use pubdata_service::published::Published;
use pubdata_store::{DistributionRow, OrgRow};

use super::rdf::{name, Graph, Name, Term};
use crate::i18n::{has, t, Lang};

const EU: &str = "http://publications.europa.eu/resource/authority";

fn dcat(local: &'static str) -> Name {
    name("dcat", local)
}

fn dct(local: &'static str) -> Name {
    name("dct", local)
}

fn foaf(local: &'static str) -> Name {
    name("foaf", local)
}

fn vcard(local: &'static str) -> Name {
    name("vcard", local)
}

fn skos(local: &'static str) -> Name {
    name("skos", local)
}

fn hydra(local: &'static str) -> Name {
    name("hydra", local)
}

fn spdx(local: &'static str) -> Name {
    name("spdx", local)
}

fn xsd(local: &'static str) -> Name {
    name("xsd", local)
}

/// What every description needs from the portal: its address and the names of the regions
/// the datasets cover.
pub struct Site<'a> {
    /// The base of every identifier, without a trailing `/`.
    pub base: &'a str,
    /// Region code → name, for `dct:spatial`.
    pub regions: &'a HashMap<String, String>,
}

impl Site<'_> {
    pub fn dataset_page(&self, p: &Published) -> String {
        format!("{}/dataset/{}", self.base, p.name())
    }

    /// The dataset's identifier: the thing, apart from its page.
    pub fn dataset_iri(&self, p: &Published) -> String {
        format!("{}#dataset", self.dataset_page(p))
    }

    pub fn download_url(&self, p: &Published, d: &DistributionRow) -> String {
        format!("{}/resource/{}/download", self.dataset_page(p), d.id)
    }

    pub fn catalog_iri(&self) -> String {
        format!("{}/catalog", self.base)
    }

    fn org_iri(&self, key: &str) -> String {
        format!("{}/organization/{key}", self.base)
    }
}

/// The EU data themes for a 领域 (standard keys; a deployment's own domains get none).
pub fn eu_themes(domain: &str) -> &'static [&'static str] {
    match domain {
        "economy" | "finance_tax" | "credit" | "market_regulation" => &["ECON"],
        "resources_environment" | "meteorology" => &["ENVI"],
        "education_technology" => &["EDUC", "TECH"],
        "transport" => &["TRAN"],
        "social_development" | "livelihood" | "social_security" | "employment" => &["SOCI"],
        "public_safety" | "legal_services" => &["JUST"],
        "culture_leisure" => &["EDUC"],
        "health" => &["HEAL"],
        "institutions" => &["GOVE"],
        "urban_construction" => &["REGI"],
        "agriculture_rural" => &["AGRI"],
        "industry_agriculture" => &["ECON", "AGRI"],
        _ => &[],
    }
}

fn eu_theme_label(code: &str) -> &'static str {
    match code {
        "AGRI" => "Agriculture, fisheries, forestry and food",
        "ECON" => "Economy and finance",
        "EDUC" => "Education, culture and sport",
        "ENER" => "Energy",
        "ENVI" => "Environment",
        "GOVE" => "Government and public sector",
        "HEAL" => "Health",
        "INTR" => "International issues",
        "JUST" => "Justice, legal system and public safety",
        "REGI" => "Regions and cities",
        "SOCI" => "Population and society",
        "TECH" => "Science and technology",
        "TRAN" => "Transport",
        _ => "",
    }
}

/// The EU frequency for a 更新周期.
pub fn eu_frequency(f: UpdateFrequency) -> &'static str {
    match f {
        UpdateFrequency::Realtime => "UPDATE_CONT",
        UpdateFrequency::Daily => "DAILY",
        UpdateFrequency::Weekly => "WEEKLY",
        UpdateFrequency::Monthly => "MONTHLY",
        UpdateFrequency::Quarterly => "QUARTERLY",
        UpdateFrequency::HalfYearly => "ANNUAL_2",
        UpdateFrequency::Yearly => "ANNUAL",
        UpdateFrequency::Irregular => "IRREG",
    }
}

/// The EU access right for a 开放属性.
pub fn eu_access_right(o: OpenType) -> &'static str {
    match o {
        OpenType::Unconditional => "PUBLIC",
        OpenType::Conditional => "RESTRICTED",
        OpenType::NotOpen => "NON_PUBLIC",
    }
}

/// A licence key's IRI in the EU licence vocabulary, when it has one.
pub fn eu_licence(key: &str) -> Option<&'static str> {
    Some(match key {
        "cc-by-4.0" => "CC_BY_4_0",
        "cc-by-sa-4.0" => "CC_BYSA_4_0",
        "cc-by-nc-4.0" => "CC_BYNC_4_0",
        "cc0-1.0" | "cc0" => "CC0",
        "odc-by-1.0" => "ODC_BY",
        "odc-odbl-1.0" | "odbl-1.0" => "ODC_ODBL",
        "odc-pddl-1.0" => "ODC_PDDL",
        _ => return None,
    })
}

pub fn licence_iri(base: &str, key: &str) -> String {
    match eu_licence(key) {
        Some(code) => format!("{EU}/licence/{code}"),
        None => format!("{base}/licences/{key}"),
    }
}

/// Milliseconds since the epoch as ISO 8601 in UTC, to the second.
pub fn iso_time(ms: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// Milliseconds since the epoch as an `xsd:dateTime`.
pub fn date_time(ms: i64) -> Term {
    Term::typed(&iso_time(ms), xsd("dateTime"))
}

/// A telephone number as a `tel:` IRI in international form (+86).
fn tel(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    match digits.as_bytes() {
        [] => None,
        [b'0', rest @ ..] => Some(format!("tel:+86-{}", String::from_utf8_lossy(rest))),
        _ => Some(format!("tel:+86-{digits}")),
    }
}

/// Adds a concept (typed, with its labels and scheme).
fn concept(g: &mut Graph, iri: &str, labels: &[(&str, &'static str)], scheme: &Term) -> Term {
    let c = Term::iri(iri);
    g.add_type(&c, skos("Concept"));
    for (label, lang) in labels.iter().filter(|(l, _)| !l.is_empty()) {
        g.add(&c, skos("prefLabel"), Term::lang(label, lang));
    }
    g.add(&c, skos("inScheme"), scheme.clone());
    c
}

fn scheme(g: &mut Graph, iri: &str, titles: &[(&str, &'static str)]) -> Term {
    let s = Term::iri(iri);
    g.add_type(&s, skos("ConceptScheme"));
    for (title, lang) in titles {
        g.add(&s, dct("title"), Term::lang(title, lang));
    }
    s
}

fn eu_theme_scheme(g: &mut Graph) -> Term {
    scheme(g, &format!("{EU}/data-theme"), &[("Data theme", "en")])
}

fn domain_scheme(g: &mut Graph, site: &Site) -> Term {
    let zh = t(Lang::ZhCn, "label.domain", &[]);
    let en = t(Lang::En, "label.domain", &[]);
    scheme(g, &format!("{}/domains", site.base), &[(&zh, "zh"), (&en, "en")])
}

fn industry_scheme(g: &mut Graph, site: &Site) -> Term {
    scheme(
        g,
        &format!("{}/industries", site.base),
        &[
            ("国民经济行业分类（GB/T 4754-2017）门类", "zh"),
            ("Industrial classification (GB/T 4754-2017) sections", "en"),
        ],
    )
}

/// A translation, or nothing when the key has none.
fn label(lang: Lang, key: &str) -> String {
    if has(lang, key) {
        t(lang, key, &[])
    } else {
        String::new()
    }
}

fn document(g: &mut Graph, iri: &str) -> Term {
    let d = Term::iri(iri);
    g.add_type(&d, foaf("Document"));
    d
}

fn agent(g: &mut Graph, iri: &str, name_zh: &str) -> Term {
    let a = Term::iri(iri);
    g.add_type(&a, foaf("Agent"));
    g.add(&a, foaf("name"), Term::lang(name_zh, "zh"));
    a
}

fn org_agent(g: &mut Graph, site: &Site, org: &OrgRow) -> Term {
    let a = agent(
        g,
        &site.org_iri(&pubdata_service::published::provider_key(org)),
        &org.name,
    );
    g.add_type(&a, foaf("Organization"));
    a
}

fn typed_iri(g: &mut Graph, iri: &str, class: Name) -> Term {
    let x = Term::iri(iri);
    g.add_type(&x, class);
    x
}

/// Describes one published resource and its data; returns the dataset's node.
pub fn dataset(g: &mut Graph, site: &Site, p: &Published) -> Term {
    let m = &p.resource.meta;
    let page = site.dataset_page(p);
    let ds = Term::iri(&site.dataset_iri(p));
    g.add_type(&ds, dcat("Dataset"));
    g.add(&ds, dct("title"), Term::lang(&m.title, "zh"));
    if let Some(en) = m.title_en.as_deref().filter(|s| !s.trim().is_empty()) {
        g.add(&ds, dct("title"), Term::lang(en, "en"));
    }
    g.add(&ds, dct("description"), Term::lang(&m.summary, "zh"));
    g.add(&ds, dct("identifier"), Term::plain(&p.resource.row.code));
    let publisher = org_agent(g, site, &p.provider);
    g.add(&ds, dct("publisher"), publisher);
    themes(g, site, p, &ds);
    let freq = typed_iri(
        g,
        &format!("{EU}/frequency/{}", eu_frequency(m.update_frequency)),
        dct("Frequency"),
    );
    g.add(&ds, dct("accrualPeriodicity"), freq);
    if let Some(code) = m.spatial.as_deref() {
        let place = typed_iri(g, &format!("{}/regions/{code}", site.base), dct("Location"));
        g.add(&place, dct("identifier"), Term::plain(code));
        if let Some(n) = site.regions.get(code) {
            g.add(&place, skos("prefLabel"), Term::lang(n, "zh"));
        }
        g.add(&ds, dct("spatial"), place);
    }
    if m.temporal_from.is_some() || m.temporal_to.is_some() {
        let period = g.blank();
        g.add_type(&period, dct("PeriodOfTime"));
        if let Some(d) = m.temporal_from {
            g.add(&period, dcat("startDate"), Term::typed(&d.to_string(), xsd("date")));
        }
        if let Some(d) = m.temporal_to {
            g.add(&period, dcat("endDate"), Term::typed(&d.to_string(), xsd("date")));
        }
        g.add(&ds, dct("temporal"), period);
    }
    for tag in &m.tags {
        g.add(&ds, dcat("keyword"), Term::lang(tag, "zh"));
    }
    contact(g, p, &ds);
    let rights = typed_iri(
        g,
        &format!("{EU}/access-right/{}", eu_access_right(m.open_type)),
        dct("RightsStatement"),
    );
    g.add(&ds, dct("accessRights"), rights);
    if let Some(at) = p.resource.row.published_at {
        g.add(&ds, dct("issued"), date_time(at));
    }
    g.add(&ds, dct("modified"), date_time(p.resource.row.updated_at));
    let landing = document(g, &page);
    g.add(&ds, dcat("landingPage"), landing);
    for code in &m.related {
        let other = format!("{}/dataset/{}#dataset", site.base, code.to_ascii_lowercase());
        g.add(&ds, dct("relation"), Term::iri(&other));
    }
    for d in &p.dists {
        if let Some(dist) = distribution(g, site, p, d) {
            g.add(&ds, dcat("distribution"), dist);
        }
    }
    ds
}

/// `dcat:theme`: the EU data themes of the 领域, the 领域 itself and the 行业 as concepts of
/// the portal's own schemes.
fn themes(g: &mut Graph, site: &Site, p: &Published, ds: &Term) {
    let m = &p.resource.meta;
    let eu = eu_theme_scheme(g);
    for code in eu_themes(m.domain.key()) {
        let c = concept(
            g,
            &format!("{EU}/data-theme/{code}"),
            &[(eu_theme_label(code), "en")],
            &eu,
        );
        g.add(ds, dcat("theme"), c);
    }
    let key = m.domain.key();
    let zh = m
        .domain
        .name_zh()
        .map(str::to_string)
        .unwrap_or_else(|| key.to_string());
    let en = label(Lang::En, &format!("domain.{key}"));
    let domains = domain_scheme(g, site);
    let c = concept(
        g,
        &format!("{}/domains/{key}", site.base),
        &[(&zh, "zh"), (&en, "en")],
        &domains,
    );
    g.add(ds, dcat("theme"), c);
    if let Some(ind) = m.industry {
        let letter = ind.code().to_string();
        let en = label(Lang::En, &format!("industry.{letter}"));
        let industries = industry_scheme(g, site);
        let c = concept(
            g,
            &format!("{}/industries/{letter}", site.base),
            &[(ind.name_zh(), "zh"), (&en, "en")],
            &industries,
        );
        g.add(ds, dcat("theme"), c);
    }
}

/// `dcat:contactPoint`: the resource's phone and e-mail, or else its provider's.
fn contact(g: &mut Graph, p: &Published, ds: &Term) {
    let m = &p.resource.meta;
    let nonempty = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let phone = nonempty(&m.contact_phone).or_else(|| nonempty(&p.provider.contact_phone));
    let email = nonempty(&m.contact_email).or_else(|| nonempty(&p.provider.contact_email));
    if phone.is_none() && email.is_none() {
        return;
    }
    let kind = g.blank();
    g.add_type(&kind, vcard("Kind"));
    g.add_type(&kind, vcard("Organization"));
    g.add(&kind, vcard("fn"), Term::lang(&p.provider.name, "zh"));
    if let Some(e) = email {
        g.add(&kind, vcard("hasEmail"), Term::iri(&format!("mailto:{e}")));
    }
    if let Some(number) = phone.as_deref().and_then(tel) {
        let voice = g.blank();
        g.add_type(&voice, vcard("Voice"));
        g.add(&voice, vcard("hasValue"), Term::iri(&number));
        g.add(&kind, vcard("hasTelephone"), voice);
    }
    g.add(ds, dcat("contactPoint"), kind);
}

/// One distribution: the CSV download of a loaded file, or an API. `None` for anything else.
fn distribution(g: &mut Graph, site: &Site, p: &Published, d: &DistributionRow) -> Option<Term> {
    let m = &p.resource.meta;
    let page = site.dataset_page(p);
    let dist = Term::iri(&format!("{page}#distribution-{}", d.id));
    if download::is_downloadable(d) {
        g.add_type(&dist, dcat("Distribution"));
        // The file offered is the published copy — the CSV of the loaded, masked table —
        // whatever was uploaded: its size and checksum, never the upload's.
        g.add(&dist, dcat("accessURL"), Term::iri(&page));
        if let (Some(bytes), Some(sha)) = (d.export_bytes, d.export_sha256.as_deref()) {
            g.add(
                &dist,
                dcat("byteSize"),
                Term::typed(&bytes.to_string(), xsd("nonNegativeInteger")),
            );
            let checksum = g.blank();
            g.add_type(&checksum, spdx("Checksum"));
            let algorithm = typed_iri(
                g,
                "http://spdx.org/rdf/terms#checksumAlgorithm_sha256",
                spdx("ChecksumAlgorithm"),
            );
            g.add(&checksum, spdx("algorithm"), algorithm);
            g.add(&checksum, spdx("checksumValue"), Term::typed(sha, xsd("hexBinary")));
            g.add(&dist, spdx("checksum"), checksum);
        }
        g.add(&dist, dcat("downloadURL"), Term::iri(&site.download_url(p, d)));
        let format = typed_iri(g, &format!("{EU}/file-type/CSV"), dct("MediaTypeOrExtent"));
        g.add(&dist, dct("format"), format);
        let media = typed_iri(
            g,
            "http://www.iana.org/assignments/media-types/text/csv",
            dct("MediaType"),
        );
        g.add(&dist, dcat("mediaType"), media);
    } else if d.kind == "api" {
        let url = d.api_url.as_deref().filter(|u| !u.is_empty())?;
        g.add_type(&dist, dcat("Distribution"));
        g.add(&dist, dcat("accessURL"), Term::iri(url));
        if let Some(doc) = d.api_doc.as_deref().filter(|s| !s.trim().is_empty()) {
            g.add(&dist, dct("description"), Term::lang(doc, "zh"));
        }
    } else {
        return None;
    }
    g.add(&dist, dct("title"), Term::plain(&d.title));
    g.add(&dist, dct("issued"), date_time(d.created_at));
    g.add(&dist, dct("modified"), date_time(d.updated_at));
    let licence = typed_iri(g, &licence_iri(site.base, &m.licence), dct("LicenseDocument"));
    g.add(&dist, dct("license"), licence);
    if let Some(conditions) = m.open_conditions.as_deref().filter(|s| !s.trim().is_empty()) {
        let rights = g.blank();
        g.add_type(&rights, dct("RightsStatement"));
        g.add(&rights, name("rdfs", "label"), Term::lang(conditions, "zh"));
        g.add(&dist, dct("rights"), rights);
    }
    Some(dist)
}

/// Who publishes the catalogue: the administration institution, or else the portal itself.
pub enum CatalogPublisher<'a> {
    Institution(&'a OrgRow),
    Portal,
}

/// Where a page sits in the paged catalogue.
pub struct Paging<'a> {
    /// The page's own address without `?page=`, e.g. `…/catalog.ttl`.
    pub document: &'a str,
    pub page: i64,
    pub last: i64,
    pub total: i64,
    pub per_page: i64,
}

/// The catalogue with one page of datasets, and hydra paging links (DCAT-AP's recommendation
/// for paged catalogues; `hydra:PagedCollection` is what CKAN's DCAT harvester looks for).
pub fn catalog(g: &mut Graph, site: &Site, publisher: CatalogPublisher, datasets: &[Published], paging: &Paging) {
    let cat = Term::iri(&site.catalog_iri());
    g.add_type(&cat, dcat("Catalog"));
    for lang in [Lang::ZhCn, Lang::En] {
        let tag = if lang == Lang::En { "en" } else { "zh" };
        g.add(&cat, dct("title"), Term::lang(&t(lang, "site.name", &[]), tag));
        g.add(&cat, dct("description"), Term::lang(&t(lang, "home.intro", &[]), tag));
    }
    let agent = match publisher {
        CatalogPublisher::Institution(org) => org_agent(g, site, org),
        CatalogPublisher::Portal => agent(
            g,
            &format!("{}/#publisher", site.base),
            &t(Lang::ZhCn, "site.name", &[]),
        ),
    };
    g.add(&cat, dct("publisher"), agent);
    let home = document(g, &format!("{}/", site.base));
    g.add(&cat, foaf("homepage"), home);
    let zho = typed_iri(g, &format!("{EU}/language/ZHO"), dct("LinguisticSystem"));
    g.add(&cat, dct("language"), zho);
    let eu = eu_theme_scheme(g);
    g.add(&cat, dcat("themeTaxonomy"), eu);
    let domains = domain_scheme(g, site);
    g.add(&cat, dcat("themeTaxonomy"), domains);
    for p in datasets {
        let ds = dataset(g, site, p);
        g.add(&cat, dcat("dataset"), ds);
    }
    let page_iri = |n: i64| Term::iri(&format!("{}?page={n}", paging.document));
    let view = page_iri(paging.page);
    g.add_type(&view, hydra("PagedCollection"));
    g.add_type(&view, hydra("PartialCollectionView"));
    g.add(&view, hydra("first"), page_iri(1));
    g.add(&view, hydra("last"), page_iri(paging.last));
    if paging.page > 1 {
        g.add(&view, hydra("previous"), page_iri(paging.page - 1));
    }
    if paging.page < paging.last {
        g.add(&view, hydra("next"), page_iri(paging.page + 1));
    }
    g.add(
        &view,
        hydra("totalItems"),
        Term::typed(&paging.total.to_string(), xsd("integer")),
    );
    g.add(
        &view,
        hydra("itemsPerPage"),
        Term::typed(&paging.per_page.to_string(), xsd("integer")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_map_every_standard_value() {
        for (key, _) in pubdata_core::metadata::STANDARD_DOMAINS {
            let themes = eu_themes(key);
            assert!(!themes.is_empty(), "{key} has no EU theme");
            assert!(themes.iter().all(|c| !eu_theme_label(c).is_empty()), "{key}");
        }
        assert_eq!(eu_frequency(UpdateFrequency::HalfYearly), "ANNUAL_2");
        assert_eq!(tel("028-86001234").as_deref(), Some("tel:+86-2886001234"));
        assert_eq!(tel("138 0013 8000").as_deref(), Some("tel:+86-13800138000"));
        assert_eq!(
            date_time(1_700_000_000_123),
            Term::typed("2023-11-14T22:13:20Z", xsd("dateTime"))
        );
        assert_eq!(
            licence_iri("http://x", "cc-by-4.0"),
            "http://publications.europa.eu/resource/authority/licence/CC_BY_4_0"
        );
        assert_eq!(licence_iri("http://x", "own-1.0"), "http://x/licences/own-1.0");
    }
}
