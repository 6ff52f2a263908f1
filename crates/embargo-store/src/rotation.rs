//! `embargo keys rotate`: a new key seals everything again, beside a running server.

use sqlx::Row;

use crate::advisories::{comment_aad, doc_aad, event_aad};
use crate::{Result, Store, StoreError};

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub new_key: String,
    pub resealed: u64,
    pub retired_keys: usize,
}

/// A sealed column: its table, the row's key (and whether it is a number), the column that
/// names the place (its text is what the associated data is made from), the sealed column,
/// and the place's associated data.
struct SealedColumn {
    table: &'static str,
    pk: &'static str,
    pk_is_number: bool,
    place: &'static str,
    column: &'static str,
    aad: fn(&str) -> String,
}

/// Every sealed column but attachments (resealed apart, with their metadata).
const SEALED: &[SealedColumn] = &[
    SealedColumn {
        table: "advisories",
        pk: "id",
        pk_is_number: false,
        place: "id",
        column: "doc",
        aad: doc_aad,
    },
    SealedColumn {
        table: "comments",
        pk: "id",
        pk_is_number: true,
        place: "advisory_id",
        column: "body",
        aad: comment_aad,
    },
    SealedColumn {
        table: "events",
        pk: "id",
        pk_is_number: true,
        place: "advisory_id",
        column: "data",
        aad: event_aad,
    },
    SealedColumn {
        table: "settings",
        pk: "name",
        pk_is_number: false,
        place: "name",
        column: "value",
        aad: settings_aad,
    },
    SealedColumn {
        table: "users",
        pk: "id",
        pk_is_number: true,
        place: "CAST(id AS TEXT)",
        column: "totp_secret",
        aad: crate::two_factor::secret_aad_text,
    },
    SealedColumn {
        table: "pending_reports",
        pk: "token_hash",
        pk_is_number: false,
        place: "token_hash",
        column: "report",
        aad: crate::intake::pending_aad,
    },
    SealedColumn {
        table: "cve_settings",
        pk: "id",
        pk_is_number: false,
        place: "id",
        column: "api_key",
        aad: crate::cve::api_key_aad,
    },
    SealedColumn {
        table: "subscribers",
        pk: "id",
        pk_is_number: true,
        place: "token_hash",
        column: "token_sealed",
        aad: crate::subscribers::token_aad,
    },
    SealedColumn {
        table: "webhooks",
        pk: "id",
        pk_is_number: true,
        place: "url",
        column: "secret_sealed",
        aad: crate::webhooks::secret_aad,
    },
    SealedColumn {
        table: "fix_settings",
        pk: "repo_id",
        pk_is_number: true,
        place: "CAST(repo_id AS TEXT) || ':' || push_url",
        column: "push_credentials_sealed",
        aad: crate::fix_checks::credentials_aad,
    },
    SealedColumn {
        table: "fix_check_runs",
        pk: "id",
        pk_is_number: true,
        place: "advisory_id",
        column: "output",
        aad: crate::fix_checks::output_aad,
    },
    SealedColumn {
        table: "fix_statuses",
        pk: "id",
        pk_is_number: true,
        place: "advisory_id",
        column: "description",
        aad: crate::fix_checks::description_aad,
    },
];

fn settings_aad(name: &str) -> String {
    format!("settings.{name}")
}

impl Store {
    /// Adds a new key, re-seals every sealed value with it, then retires the old keys.
    /// Running servers re-read the key file when it changes, so they keep working; a value
    /// written under the old key during the rotation is caught by the next pass.
    pub async fn rotate_keys(&self) -> Result<Rotation> {
        let new_key = self.keys.add_key()?;
        // Let servers that are sealing right now with the old key finish.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let mut resealed = 0;
        for _pass in 0..10 {
            let n = self.reseal_pass(&new_key).await? + self.reseal_attachments(&new_key).await?;
            resealed += n;
            if n == 0 {
                let retired_keys = self.keys.retire_old_keys()?;
                return Ok(Rotation {
                    new_key,
                    resealed,
                    retired_keys,
                });
            }
        }
        Err(StoreError::Conflict(
            "values kept being sealed with old keys; the new key is in place, run the rotation again".into(),
        ))
    }

    /// Attachments hold two sealed values (name and bytes) bound to one place.
    async fn reseal_attachments(&self, new_key: &str) -> Result<u64> {
        let current = format!("enc1:{new_key}:%");
        let rows = sqlx::query(
            "SELECT id, advisory_id, meta, data FROM attachments WHERE meta NOT LIKE $1 OR data NOT LIKE $1",
        )
        .bind(&current)
        .fetch_all(&self.pool)
        .await?;
        let mut done = 0;
        for r in &rows {
            let id: String = r.try_get("id")?;
            let place = format!(
                "attachments:{}:{id}",
                r.try_get::<String, _>("advisory_id")?
            );
            let (old_meta, old_data): (String, String) = (r.try_get("meta")?, r.try_get("data")?);
            let meta = self
                .keys
                .seal(&place, &self.keys.open(&place, &old_meta)?)?;
            let data = self
                .keys
                .seal_bytes(&place, &self.keys.open_bytes(&place, &old_data)?)?;
            done += sqlx::query("UPDATE attachments SET meta = $1, data = $2 WHERE id = $3 AND meta = $4 AND data = $5")
                .bind(meta)
                .bind(data)
                .bind(&id)
                .bind(old_meta)
                .bind(old_data)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(done)
    }

    async fn reseal_pass(&self, new_key: &str) -> Result<u64> {
        let mut done = 0;
        let current_prefix = format!("enc1:{new_key}:%");
        for c in SEALED {
            let (table, pk, place, column) = (c.table, c.pk, c.place, c.column);
            // Dynamic SQL from the constant table above only.
            let select = format!(
                "SELECT {pk} AS pk, {place} AS place, {column} AS value FROM {table}
                 WHERE {column} LIKE 'enc1:%' AND {column} NOT LIKE $1"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(select))
                .bind(&current_prefix)
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                let place: String = r.try_get("place")?;
                let old: String = r.try_get("value")?;
                let plain = self.keys.open(&(c.aad)(&place), &old)?;
                let sealed = self.keys.seal(&(c.aad)(&place), &plain)?;
                let update =
                    format!("UPDATE {table} SET {column} = $1 WHERE {pk} = $2 AND {column} = $3");
                let q = sqlx::query(sqlx::AssertSqlSafe(update)).bind(sealed);
                let q = if c.pk_is_number {
                    q.bind(r.try_get::<i64, _>("pk")?)
                } else {
                    q.bind(r.try_get::<String, _>("pk")?)
                };
                // A row changed meanwhile keeps its new value; the next pass looks again.
                done += q.bind(old).execute(&self.pool).await?.rows_affected();
            }
        }
        Ok(done)
    }
}
