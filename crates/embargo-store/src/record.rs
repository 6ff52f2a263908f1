//! An organisation's response record, for its security managers and steering committee.

use embargo_domain::access::{Actor, OrgAction};
use embargo_domain::record::{ReportDates, ResponseRecord, compute};
use embargo_domain::types::Slug;
use sqlx::Row;

use crate::advisories::open_doc;
use crate::{Result, Store};

impl Store {
    /// How the organisation answers its reports (imported advisories are not reports).
    pub async fn response_record(&self, actor: Actor, org: &Slug) -> Result<ResponseRecord> {
        let org = self.org(org).await?;
        self.require_org(
            actor,
            &org,
            OrgAction::ReadRecord,
            "see the response record",
        )
        .await?;
        let rows = sqlx::query(
            "SELECT a.id, a.doc FROM advisories a JOIN users u ON u.id = a.reporter_id
             WHERE a.org_id = $1 AND u.email <> $2",
        )
        .bind(org.id)
        .bind(crate::IMPORTER_EMAIL)
        .fetch_all(&self.pool)
        .await?;
        let mut dates = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get("id")?;
            let a = open_doc(&self.keys, &id, &r.try_get::<String, _>("doc")?)?;
            dates.push(ReportDates {
                filed_at: a.created_at,
                first_response_at: a.first_response_at,
                response_due_at: a.response_due_at,
                published_at: a.published_at,
            });
        }
        Ok(compute(&dates, self.now()))
    }
}
