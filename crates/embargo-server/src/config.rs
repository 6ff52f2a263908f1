//! Settings: `embargo.toml`, then `EMBARGO_*` environment variables over it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::net::NetworkPolicy;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub osv: OsvConfig,
    pub keys: KeysConfig,
    pub attachments: AttachmentsConfig,
    pub publishing: PublishingConfig,
    pub mail: MailConfig,
    pub intake: IntakeConfig,
    pub network: NetworkConfig,
    pub metrics: MetricsConfig,
    pub fix_repository: FixRepositoryConfig,
    /// Where the SQLite database (and later, attachments and keys) live.
    #[serde(skip)]
    pub data_dir: PathBuf,
}

/// Advisories' private fix repositories (served over git's smart HTTP).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FixRepositoryConfig {
    /// The largest push accepted, in bytes of its pack (default 100 MiB).
    pub max_push_bytes: u64,
}

impl Default for FixRepositoryConfig {
    fn default() -> Self {
        Self {
            max_push_bytes: 100 * 1024 * 1024,
        }
    }
}

/// Files attached to advisories.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttachmentsConfig {
    /// The largest file accepted, in bytes (default 10 MiB).
    pub max_bytes: usize,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
        }
    }
}

/// Outgoing e-mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `smtp://host:25?tls=starttls`, `smtps://host:465`, `smtp://user:pass@host:587?tls=required`;
    /// empty: every message is written to `<data dir>/outbox/` instead of being sent.
    pub smtp_url: String,
    /// The sender, `Embargo <security@example.org>`.
    pub from: String,
    /// A PEM file of certificates the IMAP intake trusts besides Mozilla's roots (a private
    /// CA, or a mail server's own certificate); empty: none.
    pub imap_ca_file: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: String::new(),
            from: "Embargo <embargo@localhost>".into(),
            imap_ca_file: String::new(),
        }
    }
}

/// What outgoing connections may reach besides `https://` on public addresses (the rule is
/// `net::NetworkPolicy`; every outgoing connection obeys it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// `host` or `host:port` (reached at any address, over http too) and absolute path
    /// prefixes (local repositories under them).
    pub allow: Vec<String>,
}

/// Reports filed without an account.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntakeConfig {
    /// Days an unconfirmed report waits for its confirmation before it is deleted.
    pub unconfirmed_days: u32,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            unconfirmed_days: 7,
        }
    }
}

/// Who publishes, and how to reach them: CSAF publisher, feeds, `security.txt`, CVE records.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublishingConfig {
    /// The organisation running this server (CSAF publisher, feed author).
    pub publisher_name: String,
    /// `security.txt` contacts besides the report form: `mailto:` or `https:` addresses.
    pub contacts: Vec<String>,
    /// Address of the OpenPGP key for encrypted reports (`security.txt` Encryption).
    pub encryption_key_url: String,
    /// Languages reports may be written in (`security.txt` Preferred-Languages).
    pub preferred_languages: Vec<String>,
    /// The policy `security.txt` points at; empty: the SECURITY.md of the only organisation,
    /// or none when there are several.
    pub policy_url: String,
    /// The CVE Numbering Authority's organisation id (a UUID) and short name, for CVE records.
    pub cve_assigner_org_id: String,
    pub cve_assigner_short_name: String,
    /// An armored OpenPGP secret key without passphrase that signs the CSAF documents
    /// (`.asc` files); empty: documents are not signed.
    pub openpgp_key_file: String,
}

impl Default for PublishingConfig {
    fn default() -> Self {
        Self {
            publisher_name: "Embargo".into(),
            contacts: Vec::new(),
            encryption_key_url: String::new(),
            preferred_languages: vec!["en".into()],
            policy_url: String::new(),
            // Not a real CNA: records made before a CNA is configured say so by this nil id.
            cve_assigner_org_id: "00000000-0000-4000-8000-000000000000".into(),
            cve_assigner_short_name: "embargo".into(),
            openpgp_key_file: String::new(),
        }
    }
}

/// The encryption key for data at rest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// The key file; empty means `embargo.key` in the data folder. Keep it out of database
    /// backups (and back it up separately).
    pub file: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The address users reach Embargo at; links in pages and documents use it, and session
    /// cookies are `Secure` when it is `https`.
    pub public_url: String,
    /// True when neither `public_url` nor `listen` was set, so that links built from
    /// `public_url` merely assume the default address; the command line says so.
    #[serde(skip)]
    pub public_url_assumed: bool,
    /// Reverse proxies and load balancers (addresses or CIDR ranges) whose `X-Forwarded-For`
    /// is believed for the client's address (access log, sign-in limits); empty: none.
    pub trusted_proxies: Vec<String>,
    /// `trusted_proxies`, read.
    #[serde(skip)]
    pub trusted: crate::proxy::TrustedProxies,
    /// PEM files of the certificate (chain, the server's first) and its private key: when
    /// both are set, Embargo serves HTTPS itself (TLS 1.2 and 1.3) instead of plain HTTP.
    pub tls_cert_file: String,
    pub tls_key_file: String,
}

impl ServerConfig {
    /// Whether Embargo serves HTTPS itself (`tls_cert_file` and `tls_key_file` are set).
    pub fn serves_tls(&self) -> bool {
        !self.tls_cert_file.is_empty()
    }

    /// The scheme of the listener: `https` when serving TLS.
    pub fn scheme(&self) -> &'static str {
        if self.serves_tls() { "https" } else { "http" }
    }
}

/// The Prometheus metrics at `/metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// The bearer token a scraper sends (`Authorization: Bearer ...`); empty: `/metrics` is
    /// not served at all.
    pub token: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://...`; empty means SQLite in the data folder.
    pub url: String,
    /// SQLite only: `full` (the default: a commit is on disk before it returns), `normal`
    /// (the last commits may be lost on power loss) or `extra`. Empty means `full`.
    pub synchronous: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OsvConfig {
    /// Put before advisory ids in OSV records: `x_` unless a prefix is registered with OSV.
    pub id_prefix: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            osv: OsvConfig::default(),
            keys: KeysConfig::default(),
            attachments: AttachmentsConfig::default(),
            publishing: PublishingConfig::default(),
            mail: MailConfig::default(),
            intake: IntakeConfig::default(),
            network: NetworkConfig::default(),
            metrics: MetricsConfig::default(),
            fix_repository: FixRepositoryConfig::default(),
            data_dir: PathBuf::from("embargo-data"),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: String::new(),
            public_url_assumed: false,
            trusted_proxies: Vec::new(),
            trusted: crate::proxy::TrustedProxies::default(),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
        }
    }
}

impl Default for OsvConfig {
    fn default() -> Self {
        Self {
            id_prefix: "x_".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{var}: {message}")]
    Env { var: String, message: String },
}

impl Config {
    /// Reads `file` (when given), then the environment; `data_dir` comes from the command line.
    pub fn load(file: Option<&Path>, data_dir: &Path) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.into(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        config.data_dir = data_dir.to_owned();
        config.apply_env(|k| std::env::var(k).ok())?;
        if config.server.public_url.is_empty() {
            config.server.public_url_assumed =
                config.server.listen == ServerConfig::default().listen;
            config.server.public_url =
                format!("{}://{}", config.server.scheme(), config.server.listen);
        }
        config.server.public_url = config.server.public_url.trim_end_matches('/').to_owned();
        Ok(config)
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("EMBARGO_SERVER_LISTEN") {
            self.server.listen = v.parse().map_err(|e| ConfigError::Env {
                var: "EMBARGO_SERVER_LISTEN".into(),
                message: format!("'{v}' is not an address such as 127.0.0.1:8080 ({e})"),
            })?;
        }
        if let Some(v) = get("EMBARGO_SERVER_PUBLIC_URL") {
            self.server.public_url = v;
        }
        if let Some(v) = get("EMBARGO_SERVER_TRUSTED_PROXIES") {
            self.server.trusted_proxies = v
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect();
        }
        if let Some(v) = get("EMBARGO_SERVER_TLS_CERT_FILE") {
            self.server.tls_cert_file = v;
        }
        if let Some(v) = get("EMBARGO_SERVER_TLS_KEY_FILE") {
            self.server.tls_key_file = v;
        }
        if self.server.tls_cert_file.is_empty() != self.server.tls_key_file.is_empty() {
            return Err(ConfigError::Env {
                var: "server.tls_cert_file, server.tls_key_file".into(),
                message:
                    "set both (the certificate and its private key) to serve HTTPS, or neither"
                        .into(),
            });
        }
        self.server.trusted = crate::proxy::TrustedProxies::new(&self.server.trusted_proxies)
            .map_err(|message| ConfigError::Env {
                var: "server.trusted_proxies".into(),
                message,
            })?;
        if let Some(v) = get("EMBARGO_METRICS_TOKEN") {
            self.metrics.token = v;
        }
        if !self.metrics.token.is_empty() && self.metrics.token.len() < 16 {
            return Err(ConfigError::Env {
                var: "metrics.token".into(),
                message: "is shorter than 16 characters; use a long random token".into(),
            });
        }
        if let Some(v) = get("EMBARGO_DATABASE_URL") {
            self.database.url = v;
        }
        if let Some(v) = get("EMBARGO_DATABASE_SYNCHRONOUS") {
            self.database.synchronous = v;
        }
        if let Some(v) = get("EMBARGO_ATTACHMENTS_MAX_BYTES") {
            self.attachments.max_bytes = v.parse().map_err(|e| ConfigError::Env {
                var: "EMBARGO_ATTACHMENTS_MAX_BYTES".into(),
                message: format!("'{v}' is not a number of bytes ({e})"),
            })?;
        }
        if let Some(v) = get("EMBARGO_FIX_REPOSITORY_MAX_PUSH_BYTES") {
            self.fix_repository.max_push_bytes = v.parse().map_err(|e| ConfigError::Env {
                var: "EMBARGO_FIX_REPOSITORY_MAX_PUSH_BYTES".into(),
                message: format!("'{v}' is not a number of bytes ({e})"),
            })?;
        }
        if let Some(v) = get("EMBARGO_KEYS_FILE") {
            self.keys.file = v;
        }
        if let Some(v) = get("EMBARGO_OSV_ID_PREFIX") {
            self.osv.id_prefix = v;
        }
        // The OSV schema takes `x_` or a prefix registered with OSV followed by `-`.
        let p = &self.osv.id_prefix;
        let ok = p == "x_"
            || (p.len() >= 3
                && p.len() <= 20
                && p.ends_with('-')
                && p.trim_end_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !ok {
            return Err(ConfigError::Env {
                var: "osv.id_prefix".into(),
                message: format!(
                    "'{p}' is not an OSV id prefix: use x_, or the prefix OSV registered for you followed by '-' (such as 'CURL-')"
                ),
            });
        }
        if let Some(v) = get("EMBARGO_MAIL_SMTP_URL") {
            self.mail.smtp_url = v;
        }
        if let Some(v) = get("EMBARGO_MAIL_FROM") {
            self.mail.from = v;
        }
        if let Some(v) = get("EMBARGO_MAIL_IMAP_CA_FILE") {
            self.mail.imap_ca_file = v;
        }
        if let Some(v) = get("EMBARGO_INTAKE_UNCONFIRMED_DAYS") {
            self.intake.unconfirmed_days = v.parse().map_err(|e| ConfigError::Env {
                var: "EMBARGO_INTAKE_UNCONFIRMED_DAYS".into(),
                message: format!("'{v}' is not a number of days ({e})"),
            })?;
        }
        if !(1..=90).contains(&self.intake.unconfirmed_days) {
            return Err(ConfigError::Env {
                var: "intake.unconfirmed_days".into(),
                message: "must be between 1 and 90".into(),
            });
        }
        if let Some(v) = get("EMBARGO_NETWORK_ALLOW") {
            self.network.allow = v
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect();
        }
        self.network_policy()?;
        if let Some(v) = get("EMBARGO_PUBLISHING_OPENPGP_KEY_FILE") {
            self.publishing.openpgp_key_file = v;
        }
        if let Some(v) = get("EMBARGO_PUBLISHING_PUBLISHER_NAME") {
            self.publishing.publisher_name = v;
        }
        if let Some(v) = get("EMBARGO_PUBLISHING_CONTACTS") {
            self.publishing.contacts = v
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect();
        }
        for c in &self.publishing.contacts {
            if !(c.starts_with("mailto:") || c.starts_with("https://") || c.starts_with("tel:")) {
                return Err(ConfigError::Env {
                    var: "publishing.contacts".into(),
                    message: format!("'{c}' is not a mailto:, https: or tel: address"),
                });
            }
        }
        Ok(())
    }

    /// The database URL: the configured one, or SQLite in the data folder.
    pub fn database_url(&self) -> String {
        let url = if self.database.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("embargo.db").display())
        } else {
            self.database.url.clone()
        };
        // The store reads (and checks) it as a parameter of the SQLite URL.
        let sync = &self.database.synchronous;
        if sync.is_empty() || !url.starts_with("sqlite:") {
            return url;
        }
        let joint = if url.contains('?') { '&' } else { '?' };
        format!("{url}{joint}synchronous={sync}")
    }

    /// The key file: the configured one, or `embargo.key` in the data folder.
    pub fn key_file(&self) -> PathBuf {
        if self.keys.file.is_empty() {
            self.data_dir.join("embargo.key")
        } else {
            PathBuf::from(&self.keys.file)
        }
    }

    /// The rule for outgoing connections, from `[network] allow`.
    pub fn network_policy(&self) -> Result<NetworkPolicy, ConfigError> {
        NetworkPolicy::new(&self.network.allow).map_err(|message| ConfigError::Env {
            var: "network.allow".into(),
            message,
        })
    }

    /// Cookies are `Secure` when browsers reach Embargo over HTTPS: served here, or behind a
    /// proxy at an `https` public address.
    pub fn secure_cookies(&self) -> bool {
        self.server.serves_tls() || self.server.public_url.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osv_prefixes_the_schema_takes() {
        for (prefix, ok) in [
            ("x_", true),
            ("CURL-", true),
            ("x", false),
            ("", false),
            ("A B-", false),
        ] {
            let mut c = Config::default();
            c.osv.id_prefix = prefix.into();
            assert_eq!(c.apply_env(|_| None).is_ok(), ok, "{prefix:?}");
        }
    }

    #[test]
    fn network_allow_list() {
        let mut c: Config =
            toml::from_str("[network]\nallow = [\"git.internal\", \"/srv/git\"]\n").unwrap();
        c.apply_env(|_| None).unwrap();
        assert_eq!(c.network.allow, ["git.internal", "/srv/git"]);
        c.apply_env(|k| {
            (k == "EMBARGO_NETWORK_ALLOW").then(|| "127.0.0.1:3000, ,[::1]:8443".to_owned())
        })
        .unwrap();
        assert_eq!(c.network.allow, ["127.0.0.1:3000", "[::1]:8443"]);
        let err = c
            .apply_env(|k| (k == "EMBARGO_NETWORK_ALLOW").then(|| "srv/git".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("'srv/git'"), "{err}");
    }

    #[test]
    fn tls_files_come_in_pairs() {
        let mut c = Config::default();
        assert!(!c.server.serves_tls() && !c.secure_cookies());
        let err = c
            .apply_env(|k| (k == "EMBARGO_SERVER_TLS_CERT_FILE").then(|| "/etc/cert.pem".into()))
            .unwrap_err();
        assert!(err.to_string().contains("tls_key_file"), "{err}");
        c.apply_env(|k| match k {
            "EMBARGO_SERVER_TLS_CERT_FILE" => Some("/etc/cert.pem".into()),
            "EMBARGO_SERVER_TLS_KEY_FILE" => Some("/etc/key.pem".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.server.tls_key_file, "/etc/key.pem");
        assert!(c.server.serves_tls() && c.secure_cookies());
        assert_eq!(c.server.scheme(), "https");
    }

    #[test]
    fn environment_overrides_file() {
        let mut c: Config = toml::from_str("[database]\nurl = \"sqlite://x.db\"\n").unwrap();
        c.apply_env(|k| (k == "EMBARGO_DATABASE_URL").then(|| "postgres://h/db".to_owned()))
            .unwrap();
        assert_eq!(c.database_url(), "postgres://h/db");
        assert!(
            toml::from_str::<Config>("[server]\nlisen = \"x\"\n").is_err(),
            "unknown keys are refused"
        );
    }
}
