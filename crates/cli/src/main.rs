//! The `pubdata` binary: runs the server and the demo, and administers a deployment from
//! the console (migrations, users, organisations, audit verification, backups).

mod demo;
mod ingest;
mod portable;
mod trace;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::{Args, Parser, Subcommand};
use pubdata_core::org::{NewOrg, OrgKind};
use pubdata_core::user::NewUser;
use pubdata_server::{AppState, Config};
use pubdata_service::accounts::{self, NewStaff};
use pubdata_service::regions;
use pubdata_service::{Caller, Store, StoreError};
use pubdata_store::{OpenOptions, VerifyReport};

#[derive(Parser)]
#[command(
    name = "pubdata",
    version,
    about = "公共数据开放平台 — a public data opening platform"
)]
struct Cli {
    /// Configuration file (default: ./pubdata.toml when present).
    #[arg(long, global = true, env = "PUBDATA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (config from pubdata.toml and PUBDATA_* variables).
    Serve {
        /// Listen address, overriding the configuration.
        #[arg(long)]
        addr: Option<String>,
    },
    /// Run a demo platform with seeded organisations and an account for every role.
    Demo(demo::DemoArgs),
    /// Apply pending database migrations.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// The audit chain.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run the ingest pipeline offline on a file and print its report (profile, quality audit,
    /// privacy findings): the same reader and checks as an upload.
    Ingest {
        file: PathBuf,
        /// The declared 数据项 as JSON (a list of fields: name, title, type, required, key, …).
        #[arg(long)]
        schema: Option<PathBuf>,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also load the rows into a SQLite datastore table in this database file.
        #[arg(long)]
        load_into: Option<PathBuf>,
    },
    /// The region table (行政区划).
    #[command(subcommand)]
    Regions(RegionsCommand),
    /// Name the grant a leaked copy of conditional data came from (its download's watermark).
    /// Exits 0 when a grant is named, 3 when no grant matches decisively.
    Trace {
        /// The leaked file: CSV (any encoding) or XLSX, possibly re-saved, sampled or with
        /// columns dropped.
        file: PathBuf,
        /// The resource's code (or public name).
        #[arg(long)]
        resource: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild this node's search index from the database (`data_dir/search`). Safe at any
    /// time: searches keep the old index until the new one is committed.
    Reindex,
    /// Write a consistent online snapshot of the SQLite database.
    Backup {
        #[arg(long)]
        to: PathBuf,
    },
    /// Write all state — every table, the datastore tables, every stored file and the masking
    /// key — to a new directory, portable between SQLite and PostgreSQL, local files and S3.
    Export {
        #[arg(long)]
        to: PathBuf,
    },
    /// Load an export into the configured, empty database and file store (e.g. PostgreSQL +
    /// S3), then check row counts, checksums and the audit chain against it.
    Import {
        #[arg(long)]
        from: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a sysadmin (--sysadmin) or a staff account (--org and --role).
    Create(UserCreate),
    /// List users with their roles.
    List {
        /// Only members of this organisation (id).
        #[arg(long)]
        org: Option<i64>,
    },
    /// Disable an account (ends its sessions; its tokens stop working).
    Disable { login: String },
    /// Enable a disabled account.
    Enable { login: String },
    /// Create an API token for an account and print its secret once, for scripts that act as
    /// that account (the audit log records it as made from the console).
    Token {
        login: String,
        /// A name the account's owner will recognise the token by.
        #[arg(long, default_value = "console")]
        name: String,
    },
}

#[derive(Args)]
struct UserCreate {
    login: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    email: String,
    #[arg(long, default_value = "")]
    phone: String,
    /// The password; if omitted it is read from PUBDATA_PASSWORD.
    #[arg(long, env = "PUBDATA_PASSWORD", hide_env_values = true)]
    password: String,
    #[arg(long, conflicts_with_all = ["org", "role"])]
    sysadmin: bool,
    /// Organisation id for a staff account.
    #[arg(long, requires = "role")]
    org: Option<i64>,
    /// admin_manager, admin_reviewer, provider_manager, provider_editor or provider_reviewer.
    #[arg(long, requires = "org")]
    role: Option<String>,
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organisation.
    Create {
        /// admin_institution, provider or consumer_org.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        /// 统一社会信用代码 (18 characters, check character verified).
        #[arg(long)]
        credit_code: String,
        #[arg(long, default_value = "")]
        region: String,
    },
    /// List organisations.
    List {
        #[arg(long)]
        kind: Option<String>,
    },
}

#[derive(Subcommand)]
enum RegionsCommand {
    /// Load the national division codes (provinces … villages) from a directory.
    Load {
        /// The directory with provinces.csv … villages.csv.gz (default: `regions_dir`).
        #[arg(long)]
        from: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Re-compute the hash chain; exits non-zero and names the first broken row if tampered.
    Verify,
}

fn main() -> ExitCode {
    // Logs go to stderr: stdout is the commands' output (a token, a report), for scripts.
    tracing_subscriber::fmt()
        .with_target(false)
        .with_max_level(log_level())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

fn log_level() -> tracing::Level {
    match std::env::var("PUBDATA_LOG").as_deref() {
        Ok("debug") => tracing::Level::DEBUG,
        Ok("warn") => tracing::Level::WARN,
        Ok("error") => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    }
}

/// Domain errors from the console read like the web's English messages.
fn describe(e: &anyhow::Error) -> String {
    if let Some(StoreError::Domain(d)) = e.downcast_ref::<StoreError>() {
        let app = pubdata_server::error::AppError::Domain(d.clone());
        let fields: Vec<String> = app
            .fields(pubdata_server::i18n::Lang::En)
            .into_iter()
            .map(|f| f.message)
            .collect();
        return format!("{} {}", app.message(pubdata_server::i18n::Lang::En), fields.join("; "));
    }
    format!("{e:#}")
}

fn describe_break(b: &pubdata_core::audit::ChainBreak) -> String {
    use pubdata_core::audit::ChainBreak::*;
    match b {
        Altered { seq } => {
            format!("event #{seq} was altered (its content no longer matches its hash)")
        }
        Unlinked { seq } => {
            format!("event #{seq} does not link to the event before it (rows removed or inserted)")
        }
        Gap { expected, found } => {
            format!("event #{expected} is missing (next present is #{found})")
        }
        Truncated { head_seq, last_seq } => {
            format!(
                "the chain ends at event #{last_seq} but the head records #{head_seq} (events deleted from the end)"
            )
        }
    }
}

/// Opens the configured database (creating the data directory for SQLite) without migrating.
pub(crate) async fn connect(config: &Config) -> anyhow::Result<Store> {
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    }
    let url = config.database_url();
    Store::open(&url, OpenOptions::default())
        .await
        .with_context(|| format!("cannot open database {url}"))
}

pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = connect(config).await?;
    store.migrate().await.context("migration failed")?;
    Ok(store)
}

/// Loads the region table on first use when the national files are present.
pub(crate) async fn ensure_regions(store: &Store, config: &Config) -> anyhow::Result<()> {
    if store.count_regions().await? > 0 {
        return Ok(());
    }
    if !regions::is_region_dir(&config.regions_dir) {
        println!(
            "region table empty: no region files in {} (set regions_dir)",
            config.regions_dir.display()
        );
        return Ok(());
    }
    load_regions(store, &config.regions_dir).await
}

async fn load_regions(store: &Store, dir: &std::path::Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let report = regions::load_from_dir(store, &Caller::console(), dir).await?;
    let [p, c, a, s, v] = report.read;
    println!(
        "regions loaded from {}: {p} provinces, {c} cities, {a} counties, {s} streets, {v} villages ({} new) in {:.1}s",
        dir.display(),
        report.inserted,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Ingest {
        file,
        schema,
        json,
        load_into,
    } = &cli.command
    {
        return ingest::run(file, schema.as_deref(), *json, load_into.as_deref()).await;
    }
    if let Command::Demo(args) = cli.command {
        return demo::run(cli.config.as_deref(), args).await.map(|_| ExitCode::SUCCESS);
    }
    let mut config = Config::load(cli.config.as_deref())?;
    let caller = Caller::console();
    match cli.command {
        Command::Serve { addr } => {
            if let Some(a) = addr {
                config.addr = a;
            }
            let store = open_store(&config).await?;
            let addr = config.addr.clone();
            println!("pubdata listening on http://{addr}");
            pubdata_server::serve(AppState::new(store, config)?, &addr).await?;
        }
        Command::Demo(_) | Command::Ingest { .. } => unreachable!("handled above"),
        Command::Migrate => {
            let store = connect(&config).await?;
            let done = store.migrate().await.context("migration failed")?;
            if done.is_empty() {
                println!("database is up to date");
            }
            for m in done {
                println!("applied {m}");
            }
            ensure_regions(&store, &config).await?;
        }
        Command::User(cmd) => user(&open_store(&config).await?, &caller, cmd).await?,
        Command::Org(cmd) => org(&open_store(&config).await?, &caller, cmd).await?,
        Command::Audit(AuditCommand::Verify) => {
            let store = open_store(&config).await?;
            match store.verify_audit().await? {
                VerifyReport::Intact { events } => {
                    println!("audit chain intact: {events} events verified")
                }
                VerifyReport::Broken(b) => {
                    println!("audit chain BROKEN: {}", describe_break(&b));
                    return Ok(ExitCode::from(2));
                }
            }
        }
        Command::Regions(RegionsCommand::Load { from }) => {
            let store = open_store(&config).await?;
            let dir = from.unwrap_or(config.regions_dir.clone());
            if !regions::is_region_dir(&dir) {
                return Err(anyhow!(
                    "{} does not hold provinces.csv … villages.csv.gz",
                    dir.display()
                ));
            }
            load_regions(&store, &dir).await?;
        }
        Command::Trace { file, resource, json } => {
            let store = open_store(&config).await?;
            if !trace::run(&store, &config, &file, &resource, json).await? {
                return Ok(ExitCode::from(3));
            }
        }
        Command::Reindex => {
            let store = open_store(&config).await?;
            let dir = config.search_dir();
            let index = pubdata_search::Index::open(&dir).with_context(|| format!("cannot open {}", dir.display()))?;
            let started = std::time::Instant::now();
            let n = pubdata_service::catalogue::Catalogue::new(index)
                .rebuild(&store)
                .await?;
            println!(
                "search index rebuilt: {n} published resources in {:.1}s ({})",
                started.elapsed().as_secs_f64(),
                dir.display()
            );
        }
        Command::Backup { to } => {
            let store = open_store(&config).await?;
            store.backup_sqlite(&to).await?;
            println!("backup written to {}", to.display());
        }
        Command::Export { to } => portable::export(&config, &to).await?,
        Command::Import { from } => portable::import(&config, &from).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn user(store: &Store, caller: &Caller, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create(c) => {
            let new = NewUser {
                login: c.login,
                display_name: c.name,
                email: c.email,
                phone: c.phone,
                password: c.password,
            };
            let id = if c.sysadmin {
                accounts::create_sysadmin(store, caller, new).await?
            } else {
                let (Some(org_id), Some(role)) = (c.org, c.role) else {
                    return Err(anyhow!("give --sysadmin, or --org ID and --role ROLE"));
                };
                accounts::create_staff(
                    store,
                    caller,
                    NewStaff {
                        user: new,
                        org_id,
                        role,
                    },
                )
                .await?
            };
            println!("created user {id}");
        }
        UserCommand::List { org } => {
            for u in accounts::list_users(store, caller, org).await? {
                let roles: Vec<String> = u
                    .memberships
                    .iter()
                    .map(|m| format!("{}@{}", m.role.as_str(), m.org_name.as_deref().unwrap_or("-")))
                    .chain(u.is_sysadmin.then(|| "sysadmin".to_string()))
                    .collect();
                let state = if u.disabled { "disabled" } else { "active" };
                println!(
                    "{:>5}  {:<20} {:<10} {:<24} {}",
                    u.id,
                    u.login,
                    state,
                    u.display_name,
                    roles.join(", ")
                );
            }
        }
        UserCommand::Disable { login } => set_disabled(store, caller, &login, true).await?,
        UserCommand::Enable { login } => set_disabled(store, caller, &login, false).await?,
        UserCommand::Token { login, name } => {
            let u = store
                .user_by_login(&login)
                .await?
                .ok_or_else(|| anyhow!("no user with login {login:?}"))?;
            if u.disabled {
                return Err(anyhow!("{login} is disabled: enable the account first"));
            }
            let as_user = Caller {
                actor: accounts::actor_for(&u),
                label: format!("console as {login}"),
                ip: None,
            };
            let (_, secret) = pubdata_service::auth::create_token(store, &as_user, &name).await?;
            println!("{secret}");
        }
    }
    Ok(())
}

async fn set_disabled(store: &Store, caller: &Caller, login: &str, disabled: bool) -> anyhow::Result<()> {
    let u = store
        .user_by_login(login)
        .await?
        .ok_or_else(|| anyhow!("no user with login {login:?}"))?;
    accounts::set_disabled(store, caller, u.id, disabled).await?;
    println!("{} {login}", if disabled { "disabled" } else { "enabled" });
    Ok(())
}

async fn org(store: &Store, caller: &Caller, cmd: OrgCommand) -> anyhow::Result<()> {
    match cmd {
        OrgCommand::Create {
            kind,
            name,
            credit_code,
            region,
        } => {
            let new = NewOrg {
                kind,
                name,
                credit_code,
                region_code: region,
                ..Default::default()
            };
            let id = accounts::create_org(store, caller, new).await?;
            println!("created organisation {id}");
        }
        OrgCommand::List { kind } => {
            let kind =
                match kind {
                    Some(k) => Some(OrgKind::parse(&k).ok_or_else(|| {
                        anyhow!("unknown kind {k:?}: use admin_institution, provider or consumer_org")
                    })?),
                    None => None,
                };
            for o in accounts::list_orgs(store, caller, kind).await? {
                println!(
                    "{:>5}  {:<18} {:<18} {} ({} members)",
                    o.id,
                    o.kind.as_str(),
                    o.credit_code,
                    o.name,
                    o.member_count
                );
            }
        }
    }
    Ok(())
}
