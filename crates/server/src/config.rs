//! The server's configuration: one typed struct read from `pubdata.toml`, then overridden by
//! `PUBDATA_*` environment variables.

use std::path::{Path, PathBuf};

use pubdata_service::auth::AuthSettings;
use pubdata_service::mail::{MailSettings, MailTls};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (`PUBDATA_ADDR`).
    pub addr: String,
    /// Where the SQLite database and files live (`PUBDATA_DATA_DIR`).
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…` (`PUBDATA_DATABASE_URL`); default: SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// This node's search index (`PUBDATA_SEARCH_DIR`); default `data_dir/search`. Nodes that
    /// share `data_dir` (one file store) each need their own.
    pub search_dir: Option<PathBuf>,
    /// Set the `Secure` flag on cookies; turn on behind https (`PUBDATA_SECURE_COOKIES`).
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-For` for the client address (only behind your own proxy).
    pub trust_proxy: bool,
    /// Largest request body accepted, in bytes (`PUBDATA_MAX_BODY_BYTES`); uploads excepted.
    pub max_body_bytes: usize,
    /// Largest uploaded data file, in bytes (`PUBDATA_MAX_UPLOAD_BYTES`; default 2 GiB).
    pub max_upload_bytes: u64,
    pub session_idle_minutes: i64,
    pub session_max_hours: i64,
    pub login_max_failures_per_account: i64,
    pub login_max_failures_per_ip: i64,
    pub login_throttle_minutes: i64,
    /// Where the national region files are (`PUBDATA_REGIONS_DIR`); loaded once when present.
    pub regions_dir: PathBuf,
    /// Extra holidays and make-up working days beyond the shipped 2025–2026 arrangements, one per
    /// line: `2027-01-01 holiday 元旦`, `2027-02-07 workday`, ranges `2027-10-01..2027-10-07 holiday`.
    pub holidays_file: Option<PathBuf>,
    /// The portal's public address, e.g. `https://data.example.gov.cn` (`PUBDATA_PUBLIC_URL`):
    /// the base of the identifiers in DCAT, CKAN and data-package output. When unset, the
    /// request's `Host` is used.
    pub public_url: Option<String>,
    /// Let anonymous visitors download unconditional (无条件开放) data
    /// (`PUBDATA_OPEN_DOWNLOADS`). Off by default: §5.4.4a asks for a logged-in consumer.
    pub open_downloads: bool,
    /// The SMTP server for e-mail copies of notices (`PUBDATA_SMTP_HOST`); mail is off when unset.
    pub smtp_host: Option<String>,
    /// `PUBDATA_SMTP_PORT`; default 25.
    pub smtp_port: u16,
    /// `none`, `starttls` (default; the server must offer it) or `tls` (`PUBDATA_SMTP_TLS`).
    pub smtp_tls: MailTls,
    /// Log in to the SMTP server as this user (`PUBDATA_SMTP_USERNAME`) …
    pub smtp_username: Option<String>,
    /// … with this password (`PUBDATA_SMTP_PASSWORD`, better kept out of the file).
    pub smtp_password: Option<Secret>,
    /// The sender of e-mails (`PUBDATA_MAIL_FROM`); default `公共数据开放平台 <noreply@…>` with the
    /// host of `public_url`.
    pub mail_from: Option<String>,
    /// Rules of the application process (`[application]`): `max_period_months`,
    /// `pre_review_days`, `provider_review_days`, `relay_days`, `auto_relay_after_days`.
    pub application: pubdata_core::application::Rules,
    /// Rules of data demands (`[demand]`): `routing_days`, `assessment_days`,
    /// `duplicate_window_secs`.
    pub demand: pubdata_core::demand::Rules,
    /// Rules of corrections (`[correction]`): `handling_days`, `duplicate_window_secs`.
    pub correction: pubdata_core::correction::Rules,
    /// Rules of showcases (`[showcase]`): `review_days`, `duplicate_window_secs`.
    pub showcase: pubdata_core::showcase::Rules,
    /// Rules of security reports (`[security_report]`): `triage_days`, `handling_days`,
    /// `duplicate_window_secs`.
    pub security_report: pubdata_core::security_report::Rules,
    /// Usage feedback on grants (`[feedback]`): `every_days` (90), `remind_days_before` (7),
    /// `feedback_overdue_limit_days` (30), `feedback_policy` (`warn` or `block`),
    /// `duplicate_window_secs`.
    pub feedback: pubdata_core::usage_report::Rules,
    /// Provider self-evaluations (`[self_evaluation]`): `period` (`month`, `quarter` — the
    /// default —, `half_year`, `year`) and `due_days` after the period ends (30).
    pub self_evaluation: pubdata_core::self_evaluation::Schedule,
    /// Requests per minute one AppKey may make to the data API (`PUBDATA_APP_KEY_RATE`).
    pub app_key_rate_per_minute: u32,
    /// Searches whose results are kept for reuse until the index changes
    /// (`PUBDATA_SEARCH_CACHE`); 0 turns the cache off.
    pub search_cache_entries: usize,
    /// Where uploaded files are kept (`[files]`): `data_dir/files` by default, or an
    /// S3-compatible bucket shared by every node.
    pub files: FilesConfig,
    /// Security rules (`[security]`): `max_unconditional_classification` (`general`, the
    /// default, `important` or `core`), the highest field classification unconditional data may have.
    pub security: pubdata_core::security::SecurityRules,
    /// Retention before destruction (`[lifecycle]`): `withdrawn_retention_days` (180) and
    /// `superseded_retention_days` (365); 0 keeps that kind forever.
    pub lifecycle: pubdata_core::security::Retention,
}

/// `[files]`: `backend = "local"` (default; `dir`, default `data_dir/files`) or `backend = "s3"`
/// with `bucket`, `endpoint`, `region` and `allow_http`. The S3 keys come from the environment
/// only: `PUBDATA_S3_ACCESS_KEY_ID` and `PUBDATA_S3_SECRET_ACCESS_KEY`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// `local` or `s3` (`PUBDATA_FILES_BACKEND`).
    pub backend: FilesBackend,
    /// The local directory (`PUBDATA_FILES_DIR`).
    pub dir: Option<PathBuf>,
    /// `PUBDATA_S3_BUCKET`.
    pub bucket: Option<String>,
    /// `PUBDATA_S3_ENDPOINT`, e.g. `http://127.0.0.1:9000`; AWS when unset.
    pub endpoint: Option<String>,
    /// `PUBDATA_S3_REGION`; default `us-east-1`.
    pub region: String,
    /// Accept a plain-http endpoint (`PUBDATA_S3_ALLOW_HTTP`), for a server on the same network.
    pub allow_http: bool,
    #[serde(skip)]
    pub access_key_id: Option<String>,
    #[serde(skip)]
    pub secret_access_key: Option<Secret>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilesBackend {
    #[default]
    Local,
    S3,
}

impl std::str::FromStr for FilesBackend {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "local" => Ok(FilesBackend::Local),
            "s3" => Ok(FilesBackend::S3),
            _ => Err(()),
        }
    }
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            backend: FilesBackend::Local,
            dir: None,
            bucket: None,
            endpoint: None,
            region: "us-east-1".into(),
            allow_http: false,
            access_key_id: None,
            secret_access_key: None,
        }
    }
}

/// A value kept out of logs and `Debug` output.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Default for Config {
    fn default() -> Self {
        let auth = AuthSettings::default();
        Config {
            addr: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./pubdata-data"),
            database_url: None,
            search_dir: None,
            secure_cookies: false,
            trust_proxy: false,
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 2 * 1024 * 1024 * 1024,
            session_idle_minutes: auth.session_idle_secs / 60,
            session_max_hours: auth.session_max_secs / 3600,
            login_max_failures_per_account: auth.max_failures_per_login,
            login_max_failures_per_ip: auth.max_failures_per_ip,
            login_throttle_minutes: auth.throttle_window_secs / 60,
            regions_dir: PathBuf::from("../shared/data"),
            holidays_file: None,
            public_url: None,
            open_downloads: false,
            smtp_host: None,
            smtp_port: 25,
            smtp_tls: MailTls::default(),
            smtp_username: None,
            smtp_password: None,
            mail_from: None,
            application: Default::default(),
            demand: Default::default(),
            correction: Default::default(),
            showcase: Default::default(),
            security_report: Default::default(),
            feedback: Default::default(),
            self_evaluation: Default::default(),
            app_key_rate_per_minute: 600,
            search_cache_entries: 2_000,
            files: FilesConfig::default(),
            security: Default::default(),
            lifecycle: Default::default(),
        }
    }
}

impl Config {
    /// Reads `path` if given (or `./pubdata.toml` if it exists), then the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let file = path.map(Path::to_path_buf).or_else(|| {
            let default = PathBuf::from("pubdata.toml");
            default.exists().then_some(default)
        });
        let mut config = match file {
            Some(p) => {
                let text =
                    std::fs::read_to_string(&p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        Ok(config)
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn parse<T: std::str::FromStr>(key: &str, v: String) -> anyhow::Result<T> {
            v.parse()
                .map_err(|_| anyhow::anyhow!("{key}={v:?} is not a valid value"))
        }
        if let Some(v) = get("PUBDATA_ADDR") {
            self.addr = v;
        }
        if let Some(v) = get("PUBDATA_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("PUBDATA_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = get("PUBDATA_SEARCH_DIR") {
            self.search_dir = Some(v.into());
        }
        if let Some(v) = get("PUBDATA_SECURE_COOKIES") {
            self.secure_cookies = parse("PUBDATA_SECURE_COOKIES", v)?;
        }
        if let Some(v) = get("PUBDATA_TRUST_PROXY") {
            self.trust_proxy = parse("PUBDATA_TRUST_PROXY", v)?;
        }
        if let Some(v) = get("PUBDATA_MAX_UPLOAD_BYTES") {
            self.max_upload_bytes = parse("PUBDATA_MAX_UPLOAD_BYTES", v)?;
        }
        if let Some(v) = get("PUBDATA_REGIONS_DIR") {
            self.regions_dir = v.into();
        }
        if let Some(v) = get("PUBDATA_PUBLIC_URL") {
            self.public_url = Some(v.trim_end_matches('/').to_string());
        }
        if let Some(v) = get("PUBDATA_APP_KEY_RATE") {
            self.app_key_rate_per_minute = parse("PUBDATA_APP_KEY_RATE", v)?;
        }
        if let Some(v) = get("PUBDATA_SEARCH_CACHE") {
            self.search_cache_entries = parse("PUBDATA_SEARCH_CACHE", v)?;
        }
        if let Some(v) = get("PUBDATA_OPEN_DOWNLOADS") {
            self.open_downloads = parse("PUBDATA_OPEN_DOWNLOADS", v)?;
        }
        if let Some(v) = get("PUBDATA_MAX_BODY_BYTES") {
            self.max_body_bytes = parse("PUBDATA_MAX_BODY_BYTES", v)?;
        }
        if let Some(v) = get("PUBDATA_SMTP_HOST") {
            self.smtp_host = Some(v);
        }
        if let Some(v) = get("PUBDATA_SMTP_PORT") {
            self.smtp_port = parse("PUBDATA_SMTP_PORT", v)?;
        }
        if let Some(v) = get("PUBDATA_SMTP_TLS") {
            self.smtp_tls = parse("PUBDATA_SMTP_TLS", v)?;
        }
        if let Some(v) = get("PUBDATA_SMTP_USERNAME") {
            self.smtp_username = Some(v);
        }
        if let Some(v) = get("PUBDATA_SMTP_PASSWORD") {
            self.smtp_password = Some(Secret(v));
        }
        if let Some(v) = get("PUBDATA_MAIL_FROM") {
            self.mail_from = Some(v);
        }
        let files = &mut self.files;
        if let Some(v) = get("PUBDATA_FILES_BACKEND") {
            files.backend = parse("PUBDATA_FILES_BACKEND", v)?;
        }
        if let Some(v) = get("PUBDATA_FILES_DIR") {
            files.dir = Some(v.into());
        }
        if let Some(v) = get("PUBDATA_S3_BUCKET") {
            files.bucket = Some(v);
        }
        if let Some(v) = get("PUBDATA_S3_ENDPOINT") {
            files.endpoint = Some(v);
        }
        if let Some(v) = get("PUBDATA_S3_REGION") {
            files.region = v;
        }
        if let Some(v) = get("PUBDATA_S3_ALLOW_HTTP") {
            files.allow_http = parse("PUBDATA_S3_ALLOW_HTTP", v)?;
        }
        if let Some(v) = get("PUBDATA_S3_ACCESS_KEY_ID") {
            files.access_key_id = Some(v);
        }
        if let Some(v) = get("PUBDATA_S3_SECRET_ACCESS_KEY") {
            files.secret_access_key = Some(Secret(v));
        }
        Ok(())
    }

    /// The database URL, defaulting to `data_dir/pubdata.db`.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("pubdata.db").display()))
    }

    /// The configured file store: the local directory, or the S3 bucket.
    pub fn file_store(&self) -> anyhow::Result<pubdata_store::FileStore> {
        use pubdata_store::{FileStore, S3Settings};
        let f = &self.files;
        match f.backend {
            FilesBackend::Local => {
                let dir = f.dir.clone().unwrap_or_else(|| self.data_dir.join("files"));
                FileStore::local(&dir).map_err(|e| anyhow::anyhow!("cannot use {}: {e}", dir.display()))
            }
            FilesBackend::S3 => {
                let Some(bucket) = f.bucket.clone().filter(|b| !b.is_empty()) else {
                    anyhow::bail!("files.backend is s3 but no bucket is set (files.bucket or PUBDATA_S3_BUCKET)");
                };
                if f.access_key_id.is_some() != f.secret_access_key.is_some() {
                    anyhow::bail!("set both PUBDATA_S3_ACCESS_KEY_ID and PUBDATA_S3_SECRET_ACCESS_KEY, or neither");
                }
                let settings = S3Settings {
                    bucket: bucket.clone(),
                    endpoint: f.endpoint.clone(),
                    region: f.region.clone(),
                    access_key_id: f.access_key_id.clone(),
                    secret_access_key: f.secret_access_key.as_ref().map(|s| s.0.clone()),
                    allow_http: f.allow_http,
                };
                FileStore::s3(&settings).map_err(|e| anyhow::anyhow!("cannot use S3 bucket {bucket}: {e}"))
            }
        }
    }

    /// This node's search index directory.
    pub fn search_dir(&self) -> PathBuf {
        self.search_dir.clone().unwrap_or_else(|| self.data_dir.join("search"))
    }

    /// Where to send e-mail, or `None` when `smtp_host` is unset and mail is off.
    pub fn mail(&self) -> anyhow::Result<Option<MailSettings>> {
        let Some(host) = self.smtp_host.as_deref().map(str::trim).filter(|h| !h.is_empty()) else {
            return Ok(None);
        };
        let Some(portal) = self.public_url.as_deref().map(|u| u.trim_end_matches('/')) else {
            anyhow::bail!("smtp_host is set but public_url is not: e-mails need the portal's address for their links");
        };
        let from = match &self.mail_from {
            Some(from) => from.clone(),
            None => {
                let site = crate::i18n::t(crate::i18n::Lang::ZhCn, "site.name", &[]);
                let domain = portal.split("://").last().unwrap_or(portal);
                let domain = domain.split(['/', ':']).next().unwrap_or(domain);
                format!("{site} <noreply@{domain}>")
            }
        };
        let mut settings = MailSettings::new(host, from, portal);
        settings.port = self.smtp_port;
        settings.tls = self.smtp_tls;
        settings.username = self.smtp_username.clone().filter(|u| !u.is_empty());
        settings.password = self.smtp_password.as_ref().map(|p| p.0.clone());
        if settings.username.is_some() != settings.password.is_some() {
            anyhow::bail!("set both smtp_username and smtp_password (PUBDATA_SMTP_PASSWORD), or neither");
        }
        Ok(Some(settings))
    }

    pub fn access(&self) -> pubdata_service::access::AccessSettings {
        pubdata_service::access::AccessSettings {
            rules: self.application,
            feedback: self.feedback,
        }
    }

    pub fn auth(&self) -> AuthSettings {
        AuthSettings {
            session_idle_secs: self.session_idle_minutes * 60,
            session_max_secs: self.session_max_hours * 3600,
            max_failures_per_login: self.login_max_failures_per_account,
            max_failures_per_ip: self.login_max_failures_per_ip,
            throttle_window_secs: self.login_throttle_minutes * 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_bad_values_are_named() {
        let mut c: Config = toml::from_str("addr = \"0.0.0.0:9000\"\nsecure_cookies = true").unwrap();
        assert_eq!(c.addr, "0.0.0.0:9000");
        c.apply_env(|k| (k == "PUBDATA_ADDR").then(|| "127.0.0.1:1".to_string()))
            .unwrap();
        assert_eq!(c.addr, "127.0.0.1:1");
        let err = c
            .apply_env(|k| (k == "PUBDATA_MAX_BODY_BYTES").then(|| "lots".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("PUBDATA_MAX_BODY_BYTES"));
        assert!(
            toml::from_str::<Config>("adr = \"x\"").is_err(),
            "typos in keys are refused"
        );
    }

    #[test]
    fn mail_is_off_without_a_host_and_needs_the_portal_address() {
        let mut c = Config::default();
        assert!(c.mail().unwrap().is_none());
        c = toml::from_str("smtp_host = \"mail.gov.cn\"\nsmtp_port = 587\nsmtp_tls = \"tls\"").unwrap();
        assert!(c.mail().unwrap_err().to_string().contains("public_url"));
        c.apply_env(|k| match k {
            "PUBDATA_PUBLIC_URL" => Some("https://data.example.gov.cn/".into()),
            "PUBDATA_SMTP_USERNAME" => Some("portal".into()),
            "PUBDATA_SMTP_PASSWORD" => Some("s3cret-pass".into()),
            _ => None,
        })
        .unwrap();
        let m = c.mail().unwrap().expect("mail on");
        assert_eq!((m.host.as_str(), m.port, m.tls), ("mail.gov.cn", 587, MailTls::Tls));
        assert_eq!(m.from, "公共数据开放平台 <noreply@data.example.gov.cn>");
        assert_eq!(m.portal_url, "https://data.example.gov.cn");
        assert_eq!(m.password.as_deref(), Some("s3cret-pass"));
        assert!(
            !format!("{c:?}").contains("s3cret-pass"),
            "the password stays out of logs"
        );
        let err = c
            .apply_env(|k| (k == "PUBDATA_SMTP_TLS").then(|| "ssl".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("PUBDATA_SMTP_TLS"));
        assert_eq!(Config::default().smtp_tls, MailTls::Starttls);
    }

    #[test]
    fn files_go_to_a_local_dir_or_an_s3_bucket() {
        let c = Config::default();
        assert!(c.file_store().unwrap().is_local());
        let mut c: Config =
            toml::from_str("[files]\nbackend = \"s3\"\nendpoint = \"http://127.0.0.1:9000\"\nallow_http = true")
                .unwrap();
        let err = c.file_store().err().expect("a bucket is needed").to_string();
        assert!(err.contains("PUBDATA_S3_BUCKET"), "{err}");
        c.apply_env(|k| match k {
            "PUBDATA_S3_BUCKET" => Some("pubdata".into()),
            "PUBDATA_S3_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".into()),
            _ => None,
        })
        .unwrap();
        let err = c.file_store().err().expect("both keys or neither").to_string();
        assert!(err.contains("PUBDATA_S3_SECRET_ACCESS_KEY"), "{err}");
        c.apply_env(|k| (k == "PUBDATA_S3_SECRET_ACCESS_KEY").then(|| "s3cret-key".to_string()))
            .unwrap();
        assert!(!c.file_store().unwrap().is_local());
        assert!(!format!("{c:?}").contains("s3cret-key"), "the secret stays out of logs");
        assert!(toml::from_str::<Config>("[files]\nbackend = \"ftp\"").is_err());
        assert!(
            toml::from_str::<Config>("[files]\nsecret_access_key = \"x\"").is_err(),
            "keys only from the environment"
        );
    }
}
