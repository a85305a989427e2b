//! The server's configuration: one typed struct read from `pubdata.toml`, then overridden by
//! `PUBDATA_*` environment variables.

use std::path::{Path, PathBuf};

use pubdata_service::auth::AuthSettings;
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
}

impl Default for Config {
    fn default() -> Self {
        let auth = AuthSettings::default();
        Config {
            addr: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./pubdata-data"),
            database_url: None,
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
        if let Some(v) = get("PUBDATA_OPEN_DOWNLOADS") {
            self.open_downloads = parse("PUBDATA_OPEN_DOWNLOADS", v)?;
        }
        if let Some(v) = get("PUBDATA_MAX_BODY_BYTES") {
            self.max_body_bytes = parse("PUBDATA_MAX_BODY_BYTES", v)?;
        }
        Ok(())
    }

    /// The database URL, defaulting to `data_dir/pubdata.db`.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("pubdata.db").display()))
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
}
