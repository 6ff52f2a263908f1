//! Accounts, passwords, sessions, API tokens and one-time links.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use embargo_domain::FieldError;
use embargo_domain::access::Actor;
use embargo_domain::types::{DisplayName, Email};
use serde::Serialize;
// Dynamic SQL here is assembled only from this file's constants, never from input.
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::Duration;

use crate::clock::to_ms;
use crate::secrets::{new_token, token_hash};
use crate::{Result, Store, StoreError};

/// How long a browser session lasts.
const SESSION_TTL: Duration = Duration::days(14);
/// How long a sign-in link sent by mail works.
const SIGN_IN_LINK_TTL: Duration = Duration::minutes(15);
pub const MIN_PASSWORD: usize = 12;
const MAX_PASSWORD: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub email: Email,
    pub name: String,
    pub is_admin: bool,
    #[serde(skip)]
    pub has_password: bool,
    /// Whether two-factor sign-in is on.
    pub two_factor: bool,
}

impl User {
    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.id,
            admin: self.is_admin,
        }
    }
}

/// A browser session as its user sees it in the list of their sessions. `id` is random and
/// names the session only: neither the cookie nor its hash, so the list reveals no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: time::OffsetDateTime,
    /// The client's address when it signed in, as the server saw it (behind a trusted proxy,
    /// the forwarded address).
    pub client_addr: Option<String>,
    /// The browser's `User-Agent`, as it last sent it.
    pub user_agent: Option<String>,
    /// Whether this is the session the list was asked for with.
    pub current: bool,
}

/// How often a session's "last seen" is written: not on every request.
const LAST_SEEN_EVERY: Duration = Duration::minutes(5);
/// The longest `User-Agent` kept, in characters.
const MAX_USER_AGENT: usize = 256;
/// The most sessions listed (the newest first).
const MAX_SESSIONS_LISTED: i64 = 200;

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's public id (as in [`SessionInfo`]), never its cookie.
    pub id: String,
    pub user: User,
    pub csrf_token: String,
    /// The user's organisations and role in each, by slug: what the navigation offers.
    pub memberships: Vec<(embargo_domain::types::Slug, embargo_domain::types::OrgRole)>,
    /// Whether the user maintains at least one repository.
    pub maintainer: bool,
}

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User> {
    let email: String = row.try_get("email")?;
    Ok(User {
        id: row.try_get("id")?,
        email: Email::parse(&email)?,
        name: row.try_get("name")?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
        has_password: row.try_get::<Option<String>, _>("password_hash")?.is_some(),
        two_factor: row.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some(),
    })
}

pub(crate) const USER_COLUMNS: &str =
    "u.id, u.email, u.name, u.is_admin, u.password_hash, u.totp_enabled_at";

pub fn check_password(password: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(FieldError::new(
            "password",
            format!("needs at least {MIN_PASSWORD} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD {
        return Err(FieldError::new(
            "password",
            format!("is longer than {MAX_PASSWORD} bytes"),
        ));
    }
    Ok(())
}

async fn hash_password(password: String) -> Result<String> {
    let salt = SaltString::encode_b64(&crate::secrets::random_bytes::<16>()?)
        .map_err(|e| StoreError::Internal(format!("salt: {e}")))?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| StoreError::Internal(e.to_string()))?
}

/// Verifies against `hash`, or against a fixed hash when there is none, so that an unknown
/// address takes as long as a wrong password.
async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Zb0PHc7VBbdeLNYvx9HyLxQbGCyJxIo4tNd1ZHNqGcg";
        let stored = hash.as_deref().unwrap_or(DUMMY);
        let ok = PasswordHash::new(stored)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        ok && hash.is_some()
    })
    .await
    .map_err(|e| StoreError::Internal(e.to_string()))
}

impl Store {
    /// Creates an account. Operators do this from the command line; the first administrator
    /// can also be created through the one-time setup link.
    pub async fn create_user(
        &self,
        email: &Email,
        name: Option<&str>,
        password: Option<&str>,
        admin: bool,
    ) -> Result<User> {
        self.create_user_as(Actor::Anonymous, email, name, password, admin)
            .await
    }

    /// [`Store::create_user`], with the access log naming who did it (an administrator on
    /// the users page; the operator's command line is anonymous).
    pub(crate) async fn create_user_as(
        &self,
        actor: Actor,
        email: &Email,
        name: Option<&str>,
        password: Option<&str>,
        admin: bool,
    ) -> Result<User> {
        let name = match name {
            Some(n) => DisplayName::parse(n)?.to_string(),
            None => email
                .as_str()
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned(),
        };
        let hash = match password {
            Some(p) => {
                check_password(p)?;
                Some(hash_password(p.to_owned()).await?)
            }
            None => None,
        };
        let now = to_ms(self.now());
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (email, name, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .bind(email.as_str())
        .bind(&name)
        .bind(hash)
        .bind(i64::from(admin))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = inserted else {
            return Err(StoreError::Conflict(format!(
                "a user with the address {email} exists already"
            )));
        };
        let id: i64 = row.try_get("id")?;
        sqlx::query(
            "INSERT INTO events (actor_id, kind, data, at) VALUES (NULL, 'user_created', $1, $2)",
        )
        .bind(serde_json::json!({"user_id": id, "admin": admin}).to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({"user_id": id, "admin": admin});
        crate::audit::append(
            &mut tx,
            self.now(),
            actor,
            self.origin(),
            "user_created",
            None,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(User {
            id,
            email: email.clone(),
            name,
            is_admin: admin,
            has_password: password.is_some(),
            two_factor: false,
        })
    }

    pub async fn user_by_email(&self, email: &Email) -> Result<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.email = $1"
        )))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Whether no administrator exists yet (a fresh install).
    pub async fn needs_setup(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_admin = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(n == 0)
    }

    /// The account for an e-mail and password, or `None` (same answer, same time, for an
    /// unknown address and a wrong password).
    ///
    /// Each attempt is counted before the password is checked (a right one is given back):
    /// too many wrong ones for the account from this address, for the account from anywhere,
    /// or from this address for any account refuse further attempts for a while
    /// (`RateLimited`), right password or not. The owner is told by mail once per window.
    pub async fn authenticate(&self, email: &str, password: &str) -> Result<Option<User>> {
        use crate::attempts::{PASSWORD_PER_ACCOUNT, PASSWORD_PER_ADDRESS, PASSWORD_PER_PAIR};
        let account = crate::attempts::account_key(email);
        let origin = crate::attempts::address_key(self.origin());
        let owner = format!("password:{account}");
        let mut counters = vec![
            (format!("password:{account}:{origin}"), PASSWORD_PER_PAIR),
            (owner.clone(), PASSWORD_PER_ACCOUNT),
        ];
        if !origin.is_empty() {
            counters.push((format!("password-from:{origin}"), PASSWORD_PER_ADDRESS));
        }
        let reservation = self
            .reserve(&counters, Some(&owner), "too many failed sign-in attempts")
            .await?;
        let (user, holder) = self.check_password_of(email, password).await?;
        if user.is_some() {
            self.refund(&reservation).await?;
        } else {
            let mail = holder.map(|to| crate::attempts::guessing_notice(to.as_str(), false));
            self.record_failure("sign_in_failed", &account, &reservation, mail)
                .await?;
        }
        Ok(user)
    }

    /// The user when the password is theirs; else the address of the account the e-mail
    /// names, if it has a password (whose owner may hear of guessing).
    async fn check_password_of(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(Option<User>, Option<Email>)> {
        let Ok(email) = Email::parse(email) else {
            verify_password(password.to_owned(), None).await?;
            return Ok((None, None));
        };
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.email = $1"
        )))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let hash = match &row {
            Some(r) => r.try_get::<Option<String>, _>("password_hash")?,
            None => None,
        };
        let holder = hash.is_some().then(|| email.clone());
        if password.len() > MAX_PASSWORD || !verify_password(password.to_owned(), hash).await? {
            return Ok((None, holder));
        }
        Ok((row.as_ref().map(user_from_row).transpose()?, holder))
    }

    pub async fn set_password(&self, user_id: i64, password: &str) -> Result<()> {
        check_password(password)?;
        let hash = hash_password(password.to_owned()).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // A new password ends every other session.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO events (actor_id, kind, data, at) VALUES ($1, 'password_set', '{}', $2)",
        )
        .bind(user_id)
        .bind(to_ms(self.now()))
        .execute(&mut *tx)
        .await?;
        let actor = Actor::User {
            id: user_id,
            admin: false,
        };
        let detail = serde_json::json!({"user_id": user_id});
        crate::audit::append(
            &mut tx,
            self.now(),
            actor,
            self.origin(),
            "password_set",
            None,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A new API token for the user; only its hash is kept.
    pub async fn create_api_token(&self, user_id: i64, name: &str) -> Result<String> {
        let token = new_token("emb_")?;
        sqlx::query("INSERT INTO api_tokens (token_hash, user_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash(&token))
            .bind(user_id)
            .bind(name)
            .bind(to_ms(self.now()))
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    pub async fn user_for_api_token(&self, token: &str) -> Result<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
        )))
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Starts a browser session; returns the cookie value and the session's CSRF token.
    pub async fn create_session(&self, user_id: i64) -> Result<(String, String)> {
        let token = new_token("")?;
        let csrf = new_token("")?;
        let now = self.now();
        let public_id = crate::secrets::hex(&crate::secrets::random_bytes::<16>()?);
        // The client's address is the one this store was made `at` (the request's).
        sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, public_id, last_seen_at, client_addr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(token_hash(&token))
            .bind(user_id)
            .bind(&csrf)
            .bind(to_ms(now))
            .bind(to_ms(now + SESSION_TTL))
            .bind(&public_id)
            .bind(to_ms(now))
            .bind(self.origin())
            .execute(&self.pool)
            .await?;
        Ok((token, csrf))
    }

    pub async fn session(&self, token: &str) -> Result<Option<Session>> {
        self.session_seen(token, None).await
    }

    /// The session of cookie `token`, noting that it was used now by `user_agent` (written
    /// at most every few minutes, or when the browser's name is new).
    pub async fn session_seen(
        &self,
        token: &str,
        user_agent: Option<&str>,
    ) -> Result<Option<Session>> {
        let now = self.now();
        let hash = token_hash(token);
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, s.csrf_token, s.public_id, s.last_seen_at, s.user_agent AS seen_agent
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2"
        )))
        .bind(&hash)
        .bind(to_ms(now))
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => {
                let agent: Option<String> =
                    user_agent.map(|a| a.chars().take(MAX_USER_AGENT).collect());
                let last: Option<i64> = r.try_get("last_seen_at")?;
                let seen_agent: Option<String> = r.try_get("seen_agent")?;
                let stale = last.is_none_or(|l| l < to_ms(now - LAST_SEEN_EVERY));
                if stale || (agent.is_some() && agent != seen_agent) {
                    sqlx::query("UPDATE sessions SET last_seen_at = $1, user_agent = COALESCE($2, user_agent) WHERE token_hash = $3")
                        .bind(to_ms(now))
                        .bind(agent)
                        .bind(&hash)
                        .execute(&self.pool)
                        .await?;
                }
                let user = user_from_row(&r)?;
                let (memberships, maintainer) = self.roles_of(user.id).await?;
                Ok(Some(Session {
                    id: r.try_get("public_id")?,
                    user,
                    csrf_token: r.try_get("csrf_token")?,
                    memberships,
                    maintainer,
                }))
            }
            None => Ok(None),
        }
    }

    /// The user's organisations with their role, and whether they maintain a repository.
    async fn roles_of(
        &self,
        user_id: i64,
    ) -> Result<(
        Vec<(embargo_domain::types::Slug, embargo_domain::types::OrgRole)>,
        bool,
    )> {
        let rows = sqlx::query(
            "SELECT o.slug, m.role FROM org_members m JOIN orgs o ON o.id = m.org_id
             WHERE m.user_id = $1 ORDER BY o.slug",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let mut memberships = Vec::with_capacity(rows.len());
        for r in &rows {
            memberships.push((
                embargo_domain::types::Slug::parse(&r.try_get::<String, _>("slug")?)?,
                embargo_domain::types::OrgRole::parse(&r.try_get::<String, _>("role")?)?,
            ));
        }
        let maintainer: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM maintainers WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?;
        Ok((memberships, maintainer > 0))
    }

    pub async fn end_session(&self, token: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The user's sessions that have not expired, the most recently used first; `current` is
    /// the id of the session asking, if a session asks.
    pub async fn list_sessions(
        &self,
        user_id: i64,
        current: Option<&str>,
    ) -> Result<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT public_id, created_at, last_seen_at, client_addr, user_agent
             FROM sessions WHERE user_id = $1 AND expires_at > $2
             ORDER BY last_seen_at DESC, created_at DESC LIMIT $3",
        )
        .bind(user_id)
        .bind(to_ms(self.now()))
        .bind(MAX_SESSIONS_LISTED)
        .fetch_all(&self.pool)
        .await?;
        let mut list = Vec::with_capacity(rows.len());
        for r in &rows {
            let created: i64 = r.try_get("created_at")?;
            let seen: Option<i64> = r.try_get("last_seen_at")?;
            let id: String = r.try_get("public_id")?;
            list.push(SessionInfo {
                current: current == Some(id.as_str()),
                id,
                created_at: crate::clock::from_ms(created),
                last_seen_at: crate::clock::from_ms(seen.unwrap_or(created)),
                client_addr: r.try_get("client_addr")?,
                user_agent: r.try_get("user_agent")?,
            });
        }
        Ok(list)
    }

    /// Ends the user's session named `id`; false when the user has no such session (another
    /// user's session looks the same as none).
    pub async fn end_session_by_id(&self, user_id: i64, id: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND public_id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if ended == 0 {
            return Ok(false);
        }
        self.audit_sessions_ended(
            &mut tx,
            user_id,
            serde_json::json!({"user_id": user_id, "session": id}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ends every session of the user but the one named `keep`; answers how many ended.
    pub async fn end_other_sessions(&self, user_id: i64, keep: &str) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND public_id <> $2")
            .bind(user_id)
            .bind(keep)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if ended > 0 {
            self.audit_sessions_ended(
                &mut tx,
                user_id,
                serde_json::json!({"user_id": user_id, "others": ended}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    async fn audit_sessions_ended(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user_id: i64,
        detail: serde_json::Value,
    ) -> Result<()> {
        let actor = Actor::User {
            id: user_id,
            admin: false,
        };
        crate::audit::append(
            tx,
            self.now(),
            actor,
            self.origin(),
            "sessions_ended",
            None,
            &detail,
        )
        .await?;
        Ok(())
    }

    /// A one-time link token (`setup` of the first administrator, `reset` of a password,
    /// `sign_in` by mail, `mfa` for the second step).
    pub async fn create_link_token(
        &self,
        purpose: &str,
        user_id: Option<i64>,
        ttl: Duration,
    ) -> Result<String> {
        let token = new_token("")?;
        let now = self.now();
        sqlx::query("INSERT INTO one_time_tokens (token_hash, purpose, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash(&token))
            .bind(purpose)
            .bind(user_id)
            .bind(to_ms(now))
            .bind(to_ms(now + ttl))
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// Whether a link token is valid now, and for which user; does not use it up.
    pub async fn check_link_token(
        &self,
        purpose: &str,
        token: &str,
    ) -> Result<Option<Option<i64>>> {
        let row = sqlx::query(
            "SELECT user_id FROM one_time_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(token_hash(token))
        .bind(purpose)
        .bind(to_ms(self.now()))
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(r.try_get::<Option<i64>, _>("user_id")?)),
            None => Ok(None),
        }
    }

    /// Uses up a link token; `false` when it was not valid (or used concurrently).
    pub async fn use_link_token(&self, purpose: &str, token: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE one_time_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(to_ms(self.now()))
        .bind(token_hash(token))
        .bind(purpose)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Mails a one-time sign-in link (`link_url` of its token) to the account of `email`, if
    /// it has a password; the answer is the same whether or not it does, so nothing is learnt
    /// about which accounts exist. Refused (`RateLimited`) after a few from this address;
    /// past a few per hour for one account, silently not sent.
    pub async fn send_sign_in_link(
        &self,
        email: &str,
        link_url: impl Fn(&str) -> String,
    ) -> Result<()> {
        use crate::attempts::{LINKS_PER_ACCOUNT, LINKS_PER_ADDRESS};
        let origin = crate::attempts::address_key(self.origin());
        self.reserve(
            &[(format!("link-from:{origin}"), LINKS_PER_ADDRESS)],
            None,
            "too many sign-in links asked for from here",
        )
        .await?;
        let account = crate::attempts::account_key(email);
        match self
            .reserve(
                &[(format!("link:{account}"), LINKS_PER_ACCOUNT)],
                None,
                "too many sign-in links for this address",
            )
            .await
        {
            Ok(_) => {}
            // Said to nobody: the owner has links enough, and the asker learns nothing.
            Err(StoreError::RateLimited { .. }) => return Ok(()),
            Err(e) => return Err(e),
        }
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let Some(user) = self.user_by_email(&email).await? else {
            return Ok(());
        };
        if !user.has_password {
            return Ok(());
        }
        let token = self
            .create_link_token("sign_in", Some(user.id), SIGN_IN_LINK_TTL)
            .await?;
        let second = if user.two_factor {
            " You will still be asked for your second factor."
        } else {
            ""
        };
        let message = embargo_domain::notify::Message {
            to: user.email.to_string(),
            subject: "[Embargo] Your sign-in link".into(),
            body: format!(
                "Someone, hopefully you, asked for a link to sign in to Embargo with this address. \
                 It works once, for {} minutes.{second}\n\n{}\n\n\
                 If you did not ask for it, ignore this message, and do not forward it: the \
                 link signs in whoever uses it.\n",
                SIGN_IN_LINK_TTL.whole_minutes(),
                link_url(&token)
            ),
        };
        let mut tx = self.pool.begin().await?;
        crate::mail::enqueue(&mut tx, &message, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses up a sign-in link; the user it signs in, or `None` when it is not valid (used,
    /// expired, or used concurrently).
    pub async fn use_sign_in_link(&self, token: &str) -> Result<Option<User>> {
        let Some(Some(user_id)) = self.check_link_token("sign_in", token).await? else {
            return Ok(None);
        };
        if !self.use_link_token("sign_in", token).await? {
            return Ok(None);
        }
        self.user_by_id(user_id).await
    }

    /// Completes first-run setup: uses the link and creates the first administrator.
    pub async fn complete_setup(
        &self,
        token: &str,
        email: &Email,
        name: &str,
        password: &str,
    ) -> Result<User> {
        check_password(password)?;
        DisplayName::parse(name)?;
        if !self.needs_setup().await? || !self.use_link_token("setup", token).await? {
            return Err(StoreError::NotFound("setup link"));
        }
        self.create_user(email, Some(name), Some(password), true)
            .await
    }
}
