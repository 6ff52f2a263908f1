//! The `embargo` command: the server and the operator's tools.

mod backup;
mod import;
mod security_md;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use embargo_domain::types::Email;
use embargo_server::{AppState, Config};
use embargo_store::{KeySource, Store, SystemClock};
use tracing_subscriber::EnvFilter;

/// Private vulnerability reporting and coordinated disclosure.
#[derive(Parser)]
#[command(name = "embargo", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

/// Options every command that touches the store takes, as `serve` does.
#[derive(Args, Clone)]
struct Common {
    /// Folder for the SQLite database and other data.
    #[arg(
        long = "data",
        global = true,
        env = "EMBARGO_DATA",
        default_value = "embargo-data",
        value_name = "DIR"
    )]
    data: PathBuf,
    /// Settings file (TOML); EMBARGO_* environment variables override it.
    #[arg(
        long = "config",
        global = true,
        env = "EMBARGO_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080; port 0 picks a free port).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Prepare a new installation: the data folder, its database and key file, and a
    /// commented settings file (never overwritten).
    Init {
        /// Where to write the settings file (default: embargo.toml here, or --config).
        #[arg(long, value_name = "FILE")]
        write_config: Option<PathBuf>,
    },
    /// Manage accounts and API tokens (works while the server runs).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Score CVSS v3.0, v3.1 and v4.0 vectors ('-' reads one vector a line from stdin).
    Cvss {
        /// Print one JSON object a line: vector, version, base_score, severity (and for v3.x
        /// temporal_score and environmental_score).
        #[arg(long)]
        json: bool,
        #[arg(required = true, value_name = "VECTOR")]
        vectors: Vec<String>,
    },
    /// Repositories.
    Repo {
        #[command(subcommand)]
        command: RepoCommand,
    },
    /// The encryption key of data at rest.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Import published advisories of other databases (OSV JSON or YAML, GHSA JSON, RustSec
    /// Markdown; folders are read recursively) as published advisories of ORG/REPO. A file
    /// that cannot be read is reported with the reason; the others are still imported.
    Import {
        #[arg(long)]
        org: String,
        #[arg(long)]
        repo: String,
        /// Print one JSON object a line: {"source_id", "id"}.
        #[arg(long)]
        json: bool,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// The access log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Reports by e-mail.
    Intake {
        #[command(subcommand)]
        command: IntakeCommand,
    },
    /// Print the "Security bulletins" section (Markdown) of a release's notes: every
    /// published advisory of the organisation fixed in it.
    Bulletin {
        #[arg(long)]
        org: String,
        /// The release, such as v0.8.1.
        #[arg(long)]
        release: String,
    },
    /// Copy the installation into one archive FILE (works while the server runs): the
    /// database, the data folder's files and the fix repositories, but not the key file.
    Backup {
        /// Put the key file in too (then the archive opens every sealed report: keep it safe).
        #[arg(long)]
        with_key: bool,
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Bring a backup FILE back into a data folder (and database) with no database yet.
    Restore {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print a project's own SECURITY.md (Markdown), rendered as /orgs/{org}/SECURITY.md is,
    /// from a policy settings FILE (TOML; Embargo's own: docs/security-policy.toml).
    SecurityMd {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Background jobs: what is due, how often each was tried and its last error.
    Jobs {
        /// Print one JSON object a line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum IntakeCommand {
    /// Read one RFC 5322 message on standard input (for an MTA's pipe or a .forward): a new
    /// report, a reply to one, or a message dropped. Prints one line (the new report's id,
    /// `comment on ID`, or `dropped: REASON`) and exits 0 for all three, so that the MTA does
    /// not retry a dropped message; non-zero only when the message could not be stored.
    Mail {
        #[arg(long)]
        org: String,
        /// Without it, reports wait in the organisation's inbox for a triager to assign them.
        #[arg(long)]
        repo: Option<String>,
    },
}

#[derive(Subcommand)]
enum RepoCommand {
    /// Make the owners in the repository's CODEOWNERS (read from its upstream) its maintainers.
    SyncMaintainers {
        org: String,
        repo: String,
        /// Act as this security manager of the organisation.
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Seal everything with a new key and retire the old one (works while the server runs).
    Rotate,
    /// OpenPGP keys of organisations.
    Openpgp {
        #[command(subcommand)]
        command: OpenpgpCommand,
    },
}

#[derive(Subcommand)]
enum OpenpgpCommand {
    /// Import the organisation's OpenPGP secret key (armored, without a passphrase): mail
    /// encrypted to it is decrypted on intake, and its public half is published (SECURITY.md,
    /// security.txt, /orgs/ORG/openpgp.asc).
    Import {
        #[arg(long)]
        org: String,
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole keyed hash chain and its head file (beside the key file); names the
    /// first broken entry and exits 1 if there is one, exits 2 if the end of the log cannot be
    /// checked (no head file).
    Verify,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. Without --password-stdin, prints a link where the user sets a password.
    Add {
        email: String,
        /// Display name (default: the part of the address before '@').
        #[arg(long)]
        name: Option<String>,
        /// Make the account a site administrator (creates organisations, names their people).
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a link where the user sets a new password.
    Reset { email: String },
    /// Record the user's forge handle, as CODEOWNERS names them (`@handle`); `-` clears it.
    Handle { email: String, handle: String },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user; prints it as the last line.
    Create {
        email: String,
        /// A name that says what the token is for.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

fn init_logging() {
    let filter =
        EnvFilter::try_from_env("EMBARGO_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if std::env::var("EMBARGO_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn open(common: &Common, listen: Option<std::net::SocketAddr>) -> Result<(Config, Store)> {
    let config = settings(common, listen)?;
    let store = open_store(&config).await?;
    Ok((config, store))
}

/// The settings, with `--listen` (when given) in place of the configured address.
fn settings(common: &Common, listen: Option<std::net::SocketAddr>) -> Result<Config> {
    let mut config =
        Config::load(common.config.as_deref(), &common.data).context("reading the settings")?;
    if let Some(l) = listen {
        config.server.listen = l;
        if std::env::var("EMBARGO_SERVER_PUBLIC_URL").is_err() && common.config.is_none() {
            config.server.public_url = format!("{}://{l}", config.server.scheme());
        }
        config.server.public_url_assumed = false;
    }
    Ok(config)
}

async fn open_store(config: &Config) -> Result<Store> {
    create_data_dir(&config.data_dir)?;
    let store = Store::open(
        &config.database_url(),
        Arc::new(SystemClock),
        KeySource::File(config.key_file()),
    )
    .await
    .with_context(|| format!("opening the database in {}", config.data_dir.display()))?;
    Ok(store)
}

/// Links printed on the command line use `server.public_url`, else the configured listen
/// address; with neither, the default address is only a guess, and the operator is told.
fn warn_if_link_address_assumed(config: &Config) {
    if config.server.public_url_assumed {
        eprintln!(
            "note: neither server.public_url nor server.listen is set (in --config or \
             EMBARGO_SERVER_PUBLIC_URL / EMBARGO_SERVER_LISTEN), so this link assumes the server \
             is at {}; if it is not, set server.public_url to the address users reach Embargo at",
            config.server.public_url
        );
    }
}

async fn openpgp_import(common: &Common, org: &str, file: &Path) -> Result<()> {
    let org = embargo_domain::types::Slug::parse(org)?;
    let meta = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
    anyhow::ensure!(
        meta.len() <= 1024 * 1024,
        "{} is larger than 1 MiB: not a key",
        file.display()
    );
    let armored =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let key = embargo_server::openpgp::parse_secret_key(&armored)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let (_, fingerprint) = embargo_server::openpgp::public_key(&key).map_err(anyhow::Error::msg)?;
    let (config, store) = open(common, None).await?;
    store.set_openpgp_key(&org, &armored).await?;
    store.close().await;
    println!("imported the OpenPGP key {fingerprint} for {org}");
    println!(
        "its public half: {}/orgs/{org}/openpgp.asc",
        config.server.public_url
    );
    Ok(())
}

async fn intake_mail(common: &Common, org: &str, repo: Option<&str>) -> Result<()> {
    use std::io::Read;
    let org = embargo_domain::types::Slug::parse(org)?;
    let repo = repo.map(embargo_domain::types::Slug::parse).transpose()?;
    let mut raw = Vec::new();
    // One byte over the limit is enough to know it is too large.
    let mut stdin = std::io::stdin().lock();
    (&mut stdin)
        .take(u64::try_from(embargo_server::intake::MAX_MESSAGE).unwrap_or(u64::MAX) + 1)
        .read_to_end(&mut raw)
        .context("reading the message from standard input")?;
    // Read what is left of a message over the limit (without keeping it), so that the MTA
    // sees the whole message taken and the exit status decide.
    std::io::copy(&mut stdin, &mut std::io::sink()).context("reading the message")?;
    let (config, store) = open(common, None).await?;
    let outcome = embargo_server::intake::receive(&store, &config, &org, repo.as_ref(), &raw)
        .await
        .context("storing the message")?;
    store.close().await;
    match outcome {
        embargo_store::MailIntake::Filed { confirmed, notes } => {
            println!("{}", confirmed.id);
            for n in notes {
                eprintln!("note: {n}");
            }
        }
        embargo_store::MailIntake::Comment(id) => println!("comment on {id}"),
        embargo_store::MailIntake::Dropped(why) => println!("dropped: {why}"),
    }
    Ok(())
}

async fn jobs(common: &Common, json: bool) -> Result<()> {
    let (_, store) = open(common, None).await?;
    let jobs = store.jobs().await?;
    if jobs.is_empty() {
        eprintln!("no jobs yet: `embargo serve` sets up the recurring ones when it starts");
    }
    for j in jobs {
        if json {
            println!("{}", serde_json::to_string(&j)?);
        } else {
            println!(
                "{:<20} {:<8} due {}  attempts {}{}",
                j.kind,
                if j.done { "done" } else { "waiting" },
                embargo_domain::embargo::format_instant(j.due_at),
                j.attempts,
                j.last_error
                    .map(|e| format!("  last error: {e}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

async fn bulletin(common: &Common, org: &str, release: &str) -> Result<()> {
    let (config, store) = open(common, None).await?;
    let org = embargo_domain::types::Slug::parse(org)?;
    let md =
        embargo_server::releases::org_bulletin(&store, &org, release, &config.server.public_url)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
    store.close().await;
    print!("{md}");
    Ok(())
}

fn create_data_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    Ok(())
}

async fn serve(common: &Common, listen: Option<std::net::SocketAddr>) -> Result<()> {
    let mut config = settings(common, listen)?;
    // Bound before the database opens: a client that comes early (a health check) waits in
    // the backlog for its answer instead of being refused and trying again later.
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("listening on {}", config.server.listen))?;
    // A missing or wrong certificate stops the start, naming the file, before anything else.
    let tls = if config.server.serves_tls() {
        Some(
            embargo_server::tls::load(
                std::path::Path::new(&config.server.tls_cert_file),
                std::path::Path::new(&config.server.tls_key_file),
            )
            .map_err(anyhow::Error::msg)?,
        )
    } else {
        None
    };
    let store = open_store(&config).await?;
    let bound = listener.local_addr()?;
    let scheme = config.server.scheme();
    if config.server.listen.port() == 0 && config.server.public_url.ends_with(":0") {
        config.server.public_url = format!("{scheme}://{bound}");
    }
    if store.needs_setup().await? {
        let token = store
            .create_link_token("setup", None, time::Duration::hours(24))
            .await?;
        eprintln!(
            "\nEmbargo has no administrator yet. Create the first one in a browser:\n\n    {}/setup/{token}\n\n\
             (the link works once, for 24 hours), or on the command line:\n\n    \
             embargo admin user add you@example.org --admin --password-stdin --data {}\n",
            config.server.public_url,
            config.data_dir.display()
        );
    }
    let mailer =
        Arc::new(embargo_server::mail::Mailer::from_config(&config).map_err(anyhow::Error::msg)?);
    let signer = if config.publishing.openpgp_key_file.is_empty() {
        None
    } else {
        let path = PathBuf::from(&config.publishing.openpgp_key_file);
        Some(Arc::new(
            embargo_server::signing::Signer::load(&path).map_err(anyhow::Error::msg)?,
        ))
    };
    let config = Arc::new(config);
    let state = AppState {
        store: store.clone(),
        config: config.clone(),
        signer,
        public_cache: Arc::default(),
    };
    let scheduler = embargo_server::jobs::spawn(
        store.clone(),
        mailer,
        config.server.public_url.clone(),
        config
            .network_policy()
            .context("reading the [network] settings")?,
        config.clone(),
    );
    let app = embargo_server::router(state);
    println!("embargo listening on {scheme}://{bound}");
    std::io::stdout().flush()?;
    tracing::info!(%bound, scheme, "listening");
    embargo_server::tls::serve(listener, tls, app, shutdown()).await?;
    scheduler.abort();
    store.close().await;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}

async fn admin(common: &Common, command: AdminCommand) -> Result<()> {
    let (config, store) = open(common, None).await?;
    match command {
        AdminCommand::User {
            command:
                UserCommand::Add {
                    email,
                    name,
                    admin,
                    password_stdin,
                },
        } => {
            let email = Email::parse(&email)?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password from standard input")?;
                let p = line.trim_end_matches(['\n', '\r']).to_owned();
                if p.is_empty() {
                    bail!("--password-stdin: standard input held no password");
                }
                Some(p)
            } else {
                None
            };
            let user = store
                .create_user(&email, name.as_deref(), password.as_deref(), admin)
                .await?;
            println!(
                "created {}{}",
                user.email,
                if admin { " (administrator)" } else { "" }
            );
            if password.is_none() {
                let token = store
                    .create_link_token("reset", Some(user.id), time::Duration::days(7))
                    .await?;
                println!(
                    "they set a password at (valid 7 days, once): {}/reset/{token}",
                    config.server.public_url
                );
                warn_if_link_address_assumed(&config);
            }
        }
        AdminCommand::User {
            command: UserCommand::Reset { email },
        } => {
            let email = Email::parse(&email)?;
            let user = store
                .user_by_email(&email)
                .await?
                .with_context(|| format!("no account has the address {email}"))?;
            let token = store
                .create_link_token("reset", Some(user.id), time::Duration::days(7))
                .await?;
            println!("{}/reset/{token}", config.server.public_url);
            warn_if_link_address_assumed(&config);
        }
        AdminCommand::User {
            command: UserCommand::Handle { email, handle },
        } => {
            let email = Email::parse(&email)?;
            let handle = match handle.as_str() {
                "-" => None,
                h => Some(embargo_domain::types::ForgeHandle::parse(h)?),
            };
            store.set_forge_handle(&email, handle.as_ref()).await?;
            println!(
                "{email}: forge handle {}",
                handle.map_or("cleared".to_owned(), |h| format!("@{h}"))
            );
        }
        AdminCommand::Token {
            command: TokenCommand::Create { email, name },
        } => {
            let email = Email::parse(&email)?;
            let user = store
                .user_by_email(&email)
                .await?
                .with_context(|| format!("no account has the address {email}"))?;
            let token = store.create_api_token(user.id, &name).await?;
            println!("API token for {email} (shown once; keep it secret):");
            println!("{token}");
        }
    }
    store.close().await;
    Ok(())
}

async fn sync_maintainers(
    common: &Common,
    org: &str,
    repo: &str,
    as_user: &str,
    json: bool,
) -> Result<()> {
    let (config, store) = open(common, None).await?;
    let org = embargo_domain::types::Slug::parse(org)?;
    let repo = embargo_domain::types::Slug::parse(repo)?;
    let email = Email::parse(as_user)?;
    let user = store
        .user_by_email(&email)
        .await?
        .with_context(|| format!("no account has the address {email}"))?;
    let report = embargo_server::sync_maintainers(&store, &config, user.actor(), &org, &repo)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        println!("added: {}", list(&report.added));
        println!("removed: {}", list(&report.removed));
        println!("kept: {}", list(&report.kept));
        println!("not matched to an account: {}", list(&report.unknown));
    }
    Ok(())
}

/// Scores each vector; an invalid one gets a one-line error on stderr and a failing exit,
/// and the others are still scored.
fn cvss(json: bool, vectors: &[String]) -> Result<()> {
    let mut lines: Vec<String> = Vec::new();
    for v in vectors {
        if v == "-" {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("reading vectors from standard input")?;
                if !line.trim().is_empty() {
                    lines.push(line);
                }
            }
        } else {
            lines.push(v.clone());
        }
    }
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    for v in &lines {
        match embargo_formats::cvss::score_line(v) {
            Ok(j) if json => writeln!(out, "{j}")?,
            Ok(j) => writeln!(
                out,
                "{:.1} {} {}",
                j.get("base_score")
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or_default(),
                j.get("severity")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default(),
                v.trim()
            )?,
            Err(e) => {
                failed += 1;
                eprintln!("error: {}: {e}", v.trim());
            }
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

async fn keys_rotate(common: &Common) -> Result<()> {
    let (config, store) = open(common, None).await?;
    eprintln!("rotating the key in {} ...", config.key_file().display());
    let r = store.rotate_keys().await?;
    store.close().await;
    println!(
        "new key {}: {} values sealed again, {} old key(s) retired",
        r.new_key, r.resealed, r.retired_keys
    );
    Ok(())
}

/// The settings file `embargo init` writes: every key with its default, commented.
const DEFAULT_CONFIG: &str = r#"# Embargo settings. Every key can also be set with an EMBARGO_* variable
# (server.listen <- EMBARGO_SERVER_LISTEN, database.url <- EMBARGO_DATABASE_URL, ...).

[server]
# Where to listen.
# listen = "127.0.0.1:8080"
# The address users reach Embargo at: links use it, and cookies are Secure when it is https.
# public_url = "https://security.example.org"
# Serve HTTPS here (TLS 1.2 and 1.3): the PEM certificate chain and its private key. Both
# or neither; empty: plain HTTP (for a TLS-terminating proxy in front).
# tls_cert_file = ""
# tls_key_file = ""

[database]
# Empty: SQLite in the data folder. For several instances: postgres://user@host/db
# url = ""

[keys]
# The key that seals unpublished reports. Back it up apart from the database.
# file = "embargo-data/embargo.key"

[attachments]
# The largest attachment accepted, in bytes.
# max_bytes = 10485760

[osv]
# Put before advisory ids in OSV records: x_ unless you registered a prefix with OSV.
# id_prefix = "x_"

[mail]
# The SMTP relay: smtp://host:25?tls=starttls, smtps://host:465, smtp://user:pass@host:587.
# Empty: messages are written to the outbox folder in the data folder instead of sent.
# smtp_url = ""
# from = "Embargo <embargo@localhost>"
# The IMAP intake verifies its server with Mozilla's roots; a PEM file of further
# certificates to trust (your own CA, or the server's own certificate) for it only.
# imap_ca_file = "/etc/embargo/imap-ca.pem"

[intake]
# Days a report filed without an account waits for its e-mail confirmation.
# unconfirmed_days = 7

[network]
# Outgoing connections (repository upstreams; later webhooks, CVE Services and mail servers)
# reach only https:// addresses on public hosts: a host name is resolved and every address
# checked, and the connection goes to the checked address. To trust more, list
# "host" or "host:port" (reached at any address, over http:// too) and folders (local
# repositories under them). EMBARGO_NETWORK_ALLOW takes the same, comma-separated.
# allow = ["git.internal.example.org", "127.0.0.1:3000", "/srv/git"]

[publishing]
# The organisation running this server: CSAF publisher and feed author.
# publisher_name = "Embargo"
# security.txt contacts besides the report form (mailto: or https:).
# contacts = ["mailto:security@example.org"]
# Address of an OpenPGP key for encrypted reports (security.txt Encryption).
# encryption_key_url = ""
# preferred_languages = ["en"]
# The policy security.txt names; empty: the only organisation's SECURITY.md.
# policy_url = ""
# Your CVE Numbering Authority's organisation id and short name, for CVE records.
# cve_assigner_org_id = "00000000-0000-4000-8000-000000000000"
# cve_assigner_short_name = "embargo"
# An armored OpenPGP secret key (no passphrase; Ed25519 recommended) that signs the CSAF
# documents; empty: no .asc files.
# openpgp_key_file = ""

# An organisation's policy is set per organisation (PATCH /api/v1/orgs/ORG); new ones start
# with the seed policy: a first reply within 14 days, reports limited to 10 an hour per
# sender, spam senders blocked for 30 days, two-factor sign-in not yet required.
"#;

async fn init(common: &Common, write_config: Option<PathBuf>) -> Result<()> {
    let target = write_config
        .or_else(|| common.config.clone())
        .unwrap_or_else(|| PathBuf::from("embargo.toml"));
    if target.exists() {
        bail!(
            "{} exists already; init never overwrites settings",
            target.display()
        );
    }
    std::fs::write(&target, DEFAULT_CONFIG)
        .with_context(|| format!("writing {}", target.display()))?;
    let common = Common {
        config: Some(target.clone()),
        ..common.clone()
    };
    let (config, store) = open(&common, None).await?;
    store.close().await;
    println!("wrote {}", target.display());
    println!(
        "database and key file ready in {} (key: {})",
        config.data_dir.display(),
        config.key_file().display()
    );
    println!(
        "next: embargo serve --config {} --data {}",
        target.display(),
        config.data_dir.display()
    );
    Ok(())
}

async fn audit_verify(common: &Common) -> Result<()> {
    let (_, store) = open(common, None).await?;
    let check = store.verify_audit().await?;
    store.close().await;
    let legacy_note = |legacy: i64| {
        if legacy > 0 {
            format!(
                " (the first {legacy} were written by an older embargo with plain SHA-256; the keyed entries after them cover them)"
            )
        } else {
            String::new()
        }
    };
    match check {
        embargo_store::AuditCheck::Intact { entries, legacy } => {
            println!(
                "the access log is intact: {entries} entries, every link and keyed hash checked, and the head file names an entry it holds{}",
                legacy_note(legacy)
            );
            Ok(())
        }
        embargo_store::AuditCheck::Unanchored {
            entries,
            legacy,
            reason,
        } => {
            println!(
                "the access log's {entries} entries are intact, every link and keyed hash checked{}",
                legacy_note(legacy)
            );
            eprintln!("warning: its end cannot be checked: {reason}");
            // Not a pass: a removed head file must not look like an intact log.
            std::process::exit(2)
        }
        embargo_store::AuditCheck::Broken { seq, reason } => {
            bail!("the access log is broken at entry {seq}: {reason}")
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Serve { listen } => serve(&cli.common, listen).await,
        Command::Admin { command } => admin(&cli.common, command).await,
        Command::Init { write_config } => init(&cli.common, write_config).await,
        Command::Cvss { json, vectors } => cvss(json, &vectors),
        Command::Repo {
            command:
                RepoCommand::SyncMaintainers {
                    org,
                    repo,
                    as_user,
                    json,
                },
        } => sync_maintainers(&cli.common, &org, &repo, &as_user, json).await,
        Command::Keys {
            command: KeysCommand::Rotate,
        } => keys_rotate(&cli.common).await,
        Command::Keys {
            command:
                KeysCommand::Openpgp {
                    command: OpenpgpCommand::Import { org, file },
                },
        } => openpgp_import(&cli.common, &org, &file).await,
        Command::Audit {
            command: AuditCommand::Verify,
        } => audit_verify(&cli.common).await,
        Command::Import {
            org,
            repo,
            json,
            files,
        } => import::run(&cli.common, &org, &repo, json, &files).await,
        Command::Jobs { json } => jobs(&cli.common, json).await,
        Command::Backup { with_key, file } => backup::backup(&cli.common, &file, with_key).await,
        Command::Restore { file } => backup::restore(&cli.common, &file).await,
        Command::Bulletin { org, release } => bulletin(&cli.common, &org, &release).await,
        Command::SecurityMd { file } => security_md::render_file(&file).map(|md| print!("{md}")),
        Command::Intake {
            command: IntakeCommand::Mail { org, repo },
        } => intake_mail(&cli.common, &org, repo.as_deref()).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
