//! Translations: every UI string comes from `locales/*.toml`; zh-CN is the default.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    ZhCn,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("zh") {
            Some(Lang::ZhCn)
        } else if s.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The first supported language in an `Accept-Language` header, by preference order.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut prefs: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let lang = Lang::parse(it.next()?)?;
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        prefs.sort_by(|a, b| b.0.total_cmp(&a.0));
        prefs.first().map(|p| p.1)
    }
}

type Table = HashMap<String, String>;

fn flatten(prefix: &str, t: &toml::Table, out: &mut Table) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(sub) => flatten(&key, sub, out),
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            other => {
                out.insert(key, format!("{other:?}"));
            }
        }
    }
}

fn load(src: &str) -> Table {
    let table: toml::Table = toml::from_str(src).expect("translation files are checked by tests");
    let mut out = Table::new();
    flatten("", &table, &mut out);
    out
}

fn tables() -> &'static (Table, Table) {
    static TABLES: OnceLock<(Table, Table)> = OnceLock::new();
    TABLES.get_or_init(|| {
        (
            load(include_str!("../locales/zh-CN.toml")),
            load(include_str!("../locales/en.toml")),
        )
    })
}

/// The text for `key`, with `{name}` placeholders filled from `params`. A missing key shows
/// itself, which the translation test catches before release.
pub fn t(lang: Lang, key: &str, params: &[(&str, String)]) -> String {
    let (zh, en) = tables();
    let table = if lang == Lang::En { en } else { zh };
    let mut s = table.get(key).cloned().unwrap_or_else(|| key.to_string());
    for (name, value) in params {
        s = s.replace(&format!("{{{name}}}"), value);
    }
    s
}

/// Every key, sorted (both languages have the same keys; a test checks it).
pub fn keys() -> Vec<String> {
    let mut keys: Vec<String> = tables().0.keys().cloned().collect();
    keys.sort();
    keys
}

pub fn has(lang: Lang, key: &str) -> bool {
    let (zh, en) = tables();
    if lang == Lang::En { en } else { zh }.contains_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        let (zh, en) = tables();
        let mut missing: Vec<_> = zh
            .keys()
            .filter(|k| !en.contains_key(*k))
            .map(|k| format!("en: {k}"))
            .collect();
        missing.extend(
            en.keys()
                .filter(|k| !zh.contains_key(*k))
                .map(|k| format!("zh-CN: {k}")),
        );
        missing.sort();
        assert!(missing.is_empty(), "missing translations: {missing:?}");
    }

    #[test]
    fn every_key_used_in_templates_and_code_exists() {
        let mut sources: Vec<&str> = crate::web::TEMPLATES.iter().map(|(_, src)| *src).collect();
        sources.extend([
            include_str!("web/mod.rs"),
            include_str!("web/admin.rs"),
            include_str!("error.rs"),
        ]);
        let mut missing = Vec::new();
        for src in sources {
            // Calls of `t("key"...)` only: the character before `t(` must not be part of a name.
            for (i, _) in src.match_indices("t(\"") {
                let before = src[..i].chars().next_back().unwrap_or(' ');
                if before.is_alphanumeric() || before == '_' {
                    continue;
                }
                let key = src[i + 3..].split('"').next().unwrap_or_default();
                let dynamic = key.ends_with('.') || key.ends_with('_') || key.contains('{');
                if !dynamic && !has(Lang::ZhCn, key) {
                    missing.push(key.to_string());
                }
            }
        }
        assert!(missing.is_empty(), "keys without translation: {missing:?}");
    }

    #[test]
    fn accept_language_prefers_by_weight() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9,zh-CN;q=0.8"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("fr;q=1, zh-CN;q=0.5, en;q=0.4"),
            Some(Lang::ZhCn)
        );
        assert_eq!(Lang::from_accept_language("fr, de"), None);
        assert_eq!(t(Lang::En, "nav.home", &[]), "Home");
    }
}
