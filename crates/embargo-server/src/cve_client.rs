//! The CVE Services client (CVE Services API 2.x, as the CVE Program's `cve-services`
//! describes it): reserve an id, publish, update and reject a record's CNA container, read
//! the organisation and its quota. Every request authenticates with the `CVE-API-ORG`,
//! `CVE-API-USER` and `CVE-API-KEY` headers; the key is never logged.
//!
//! Connections obey the network rule ([`NetworkPolicy`]): the address is checked when it
//! is set and again, resolved, on every request, and the connection goes to the checked
//! address only (TLS still verifies the name). No redirects are followed and no proxy is
//! used; each exchange has a time limit and answers are read up to a size cap.
//!
//! Background jobs use the server's settings' rule too (`jobs::Context::network`).

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, header};
use embargo_domain::advisory::State;
use embargo_domain::ids::AdvisoryId;
use embargo_domain::types::CveId;
use embargo_formats::cve::{CveOptions, record};
use embargo_store::{CveServicesAccount, CveState, Job, Store};
use http_body_util::Full;
use serde::Serialize;
use serde_json::Value;
use url::Url;

use crate::net::{Checked, NetworkPolicy};

/// How long one whole exchange may take.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(30);
/// The largest answer read.
const ANSWER_LIMIT: usize = 1024 * 1024;

/// Why a call to CVE Services failed, in words for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CveError {
    /// The address is outside the network rule.
    #[error("the CVE Services address {0}")]
    Refused(String),
    /// No answer: connection, TLS or time limit.
    #[error("CVE Services could not be reached: {0}")]
    Unreachable(String),
    /// CVE Services answered with an error; its own message.
    #[error("CVE Services answered {status}{}: {message}", error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default())]
    Api {
        status: u16,
        error: Option<String>,
        message: String,
    },
}

impl From<crate::http_out::OutError> for CveError {
    fn from(e: crate::http_out::OutError) -> Self {
        match e {
            crate::http_out::OutError::Refused(m) => Self::Refused(m),
            crate::http_out::OutError::Unreachable(m) => Self::Unreachable(m),
        }
    }
}

impl CveError {
    /// Whether CVE Services refused the account itself (a wrong user or key).
    pub fn is_authentication(&self) -> bool {
        matches!(
            self,
            Self::Api {
                status: 401 | 403,
                ..
            }
        )
    }
}

/// The organisation's quota of reserved ids (`GET /org/{shortname}/id_quota`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Quota {
    pub id_quota: i64,
    pub total_reserved: i64,
    pub available: i64,
}

/// One organisation's CVE Services account, under one network rule.
pub struct CveServices<'a> {
    account: &'a CveServicesAccount,
    policy: NetworkPolicy,
}

impl<'a> CveServices<'a> {
    pub fn new(account: &'a CveServicesAccount, policy: NetworkPolicy) -> Self {
        Self { account, policy }
    }

    /// The organisation's UUID (`GET /org/{shortname}`), for `providerMetadata.orgId`.
    /// Also proves that the account is accepted.
    pub async fn org_uuid(&self) -> Result<String, CveError> {
        let short = self.account.short_name.clone();
        let (_, body) = self.call(Method::GET, &["org", &short], &[], None).await?;
        body.get("UUID")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| CveError::Api {
                status: 200,
                error: None,
                message: "the organisation's answer has no UUID".into(),
            })
    }

    pub async fn quota(&self) -> Result<Quota, CveError> {
        let short = self.account.short_name.clone();
        let (_, body) = self
            .call(Method::GET, &["org", &short, "id_quota"], &[], None)
            .await?;
        serde_json::from_value(body).map_err(|_| CveError::Api {
            status: 200,
            error: None,
            message: "the quota answer is not id_quota, total_reserved, available".into(),
        })
    }

    /// Reserves one id of `year` (`POST /cve-id`). A partial answer (206) that still holds
    /// an id is taken; one without says why, in CVE Services' words.
    pub async fn reserve(&self, year: i32) -> Result<CveId, CveError> {
        let year = year.to_string();
        let query = [
            ("amount", "1"),
            ("cve_year", year.as_str()),
            ("short_name", self.account.short_name.as_str()),
        ];
        let (status, body) = self.call(Method::POST, &["cve-id"], &query, None).await?;
        let first = body
            .get("cve_ids")
            .and_then(Value::as_array)
            .and_then(|ids| ids.first())
            .and_then(|i| i.get("cve_id"))
            .and_then(Value::as_str)
            .and_then(|s| CveId::parse(s).ok());
        match first {
            Some(id) => Ok(id),
            None => Err(CveError::Api {
                status: status.as_u16(),
                error: body.get("error").and_then(Value::as_str).map(str::to_owned),
                message: body
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("no CVE id was reserved")
                    .to_owned(),
            }),
        }
    }

    /// Publishes the CNA container (`POST /cve/{id}/cna`), or updates the record CVE
    /// Services holds already (`PUT`).
    pub async fn publish(&self, id: &CveId, cna: &Value, exists: bool) -> Result<(), CveError> {
        let method = if exists { Method::PUT } else { Method::POST };
        let body = serde_json::json!({ "cnaContainer": cna });
        self.call(method, &["cve", id.as_str(), "cna"], &[], Some(&body))
            .await
            .map(|_| ())
    }

    /// Rejects the id: `POST /cve/{id}/reject` while no record exists, `PUT` once one does.
    pub async fn reject(&self, id: &CveId, cna: &Value, exists: bool) -> Result<(), CveError> {
        let method = if exists { Method::PUT } else { Method::POST };
        let body = serde_json::json!({ "cnaContainer": cna });
        self.call(method, &["cve", id.as_str(), "reject"], &[], Some(&body))
            .await
            .map(|_| ())
    }

    /// One request to `{url}/{segments}?{query}`; a 2xx answer's JSON, or the error.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), CveError> {
        let mut url =
            Url::parse(&self.account.url).map_err(|_| CveError::Refused("is not a URL".into()))?;
        url.path_segments_mut()
            .map_err(|()| CveError::Refused("is not a URL with a path".into()))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let remote = match self.policy.check_url(url.as_str()).await {
            Ok(Checked::Remote(r)) => r,
            Ok(Checked::Local(_)) => {
                return Err(CveError::Refused("is not an http(s) address".into()));
            }
            Err(e) => return Err(CveError::Refused(e.to_string())),
        };
        let target = match remote.url.query() {
            Some(q) => format!("{}?{q}", remote.url.path()),
            None => remote.url.path().to_owned(),
        };
        let host = match remote.url.port() {
            Some(p) => format!("{}:{p}", remote.url.host_str().unwrap_or_default()),
            None => remote.url.host_str().unwrap_or_default().to_owned(),
        };
        let payload = body.map(Value::to_string).unwrap_or_default();
        let mut req = Request::builder()
            .method(method.clone())
            .uri(target)
            .header(header::HOST, host)
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("embargo/", env!("CARGO_PKG_VERSION")),
            )
            .header("CVE-API-ORG", self.account.short_name.as_str())
            .header("CVE-API-USER", self.account.user.as_str())
            .header("CVE-API-KEY", self.account.key.expose());
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(Bytes::from(payload))).map_err(|_| {
            CveError::Refused(
                "does not make a valid request (check the short name and user)".into(),
            )
        })?;
        let (status, bytes) = tokio::time::timeout(
            EXCHANGE_LIMIT,
            crate::http_out::exchange(&remote, req, ANSWER_LIMIT),
        )
        .await
        .map_err(|_| {
            CveError::Unreachable(format!(
                "no answer within {} seconds",
                EXCHANGE_LIMIT.as_secs()
            ))
        })??;
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok((status, json));
        }
        let text = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_owned);
        Err(CveError::Api {
            status: status.as_u16(),
            error: text("error"),
            message: text("message").unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("an error without a message")
                    .to_owned()
            }),
        })
    }
}

/// Runs a CVE job (`cve_publish`, `cve_update`, `cve_reject`): sends what the advisory's
/// state calls for. A failure is recorded on the advisory's CVE state, and the job retries.
pub async fn run_job(
    store: &Store,
    network: &NetworkPolicy,
    base_url: &str,
    job: &Job,
) -> Result<(), String> {
    let id = job
        .payload
        .get("advisory")
        .and_then(Value::as_str)
        .and_then(|s| AdvisoryId::parse(s).ok())
        .ok_or_else(|| "the job names no advisory".to_owned())?;
    let result = send_record(store, network, base_url, &job.kind, &id).await;
    if let Err(e) = &result {
        store.cve_failed(&id, e).await.map_err(|e| e.to_string())?;
    }
    result
}

async fn send_record(
    store: &Store,
    network: &NetworkPolicy,
    base_url: &str,
    kind: &str,
    id: &AdvisoryId,
) -> Result<(), String> {
    let Some(t) = store.cve_job_target(id).await.map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let account = t.account.ok_or_else(|| {
        format!(
            "organisation {} no longer numbers with CVE Services; set its account again (PUT /api/v1/orgs/{}/cve)",
            t.advisory.org, t.advisory.org
        )
    })?;
    let client = CveServices::new(&account, network.clone());
    let org_uuid = match &account.org_uuid {
        Some(u) => u.clone(),
        None => client.org_uuid().await.map_err(|e| e.to_string())?,
    };
    let options = CveOptions {
        assigner_org_id: &org_uuid,
        assigner_short_name: &account.short_name,
        vendor: &t.vendor,
        base_url,
    };
    let (sent, state) = match (kind, t.advisory.state) {
        ("cve_publish" | "cve_update", State::Published) => (true, CveState::Published),
        ("cve_reject", State::Withdrawn) => (false, CveState::Rejected),
        // A job of an earlier change: the advisory moved on, and its newer change's job
        // sends what it is now.
        _ => return Ok(()),
    };
    let cna = record(&t.advisory, &options)
        .and_then(|r| r.get("containers")?.get("cna").cloned())
        .ok_or_else(|| "the advisory makes no CVE record (it has no CVE id)".to_owned())?;
    if sent {
        client.publish(&t.cve_id, &cna, t.record_exists).await
    } else {
        client.reject(&t.cve_id, &cna, t.record_exists).await
    }
    .map_err(|e| e.to_string())?;
    store.cve_sent(id, state).await.map_err(|e| e.to_string())
}
