//! CVE numbering per organisation, on both backends: CVE Services (against a local test
//! double), a block of ids reserved in advance, and ids entered by hand; the record sent by
//! jobs on publication, public change and withdrawal, its failures shown and retried.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonschema::Validator;
use serde_json::{Value, json};

use crate::support::{TestApp, World, on_both_backends, test_data};

const SHORT_NAME: &str = "coco-cna";
const ORG_UUID: &str = "8254265b-2729-46b6-b9e3-3dfca2d5bfca";
const CVE_USER: &str = "cna-bot@coco.example";
const KEY: &str = "right-key-9f2c";

/// A test double of the CVE Services API, following its published OpenAPI description
/// (`cve-services` 2.3.3, in the shared data's `cve-services/`); not the real service.
///
/// Routes, under `/api`: `GET /org/{identifier}` (name, short_name, UUID, policies,
/// authority, time), `GET /org/{shortname}/id_quota` (id_quota, total_reserved, available),
/// `POST /cve-id` (query `amount`, `cve_year`, `short_name`; 200 with `cve_ids` and
/// `meta.remaining_quota`, 206 with the ids reserved before the range ran out and
/// `error`/`message`/`details.amount_reserved`, 403 `EXCEEDED_ID_QUOTA`), `POST` and `PUT
/// /cve/{id}/cna`, `POST /cve/{id}/reject` (only while no record exists) and `PUT
/// /cve/{id}/reject` (only once one does). Every route requires the `CVE-API-ORG`,
/// `CVE-API-USER` and `CVE-API-KEY` headers (401 otherwise). Errors have the description's
/// shape (`error`, `message`; bad requests add `details`). Request bodies are checked
/// against the description's schemas (`cve/create-cve-record-cna-request.json`,
/// `cve/create-cve-record-rejection-request.json`, `cve/update-cve-record-rejection-request.json`)
/// and the CNA container against CVE JSON 5.1.1's published container; answers against the
/// response schemas of the routes that have small ones (org, quota, reservation, errors).
///
/// One reading: the description's request schema lists each tag (of references, of the
/// container) as `oneOf` an extension tag and a tag, both now plain strings (the upstream
/// copy lost the tag vocabularies), so taken literally it refuses every tag. The double
/// reads those `oneOf` as `anyOf`; the tag vocabularies are still checked, by CVE JSON
/// 5.1.1's container schema.
struct Double {
    key: String,
    quota: i64,
    /// Ids left in the ID range: past it, a reservation answers 206.
    range_left: i64,
    next: u32,
    reserved: Vec<String>,
    /// CVE id → (state, last container received).
    records: HashMap<String, (String, Value)>,
    /// Answer this many record requests with a 500 first.
    fail_next: u32,
    /// `METHOD path` of every request that authenticated.
    calls: Vec<String>,
    schemas: Arc<Schemas>,
    /// Bodies that broke a schema (the test fails on them).
    invalid: Vec<String>,
}

struct Schemas {
    cna_request: Validator,
    reject_create: Validator,
    reject_update: Validator,
    published_container: Validator,
    rejected_container: Validator,
    org: Validator,
    quota: Validator,
    reserved: Validator,
    partial: Validator,
    generic_error: Validator,
    bad_request: Validator,
}

/// The degenerate tag `oneOf`s of the description, as `anyOf` (see [`Double`]).
fn tags_as_any_of(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let tag_choice = o.get("oneOf").and_then(Value::as_array).is_some_and(|a| {
                a.iter().any(|b| {
                    b.get("$ref").and_then(Value::as_str) == Some("#/definitions/tagExtension")
                })
            });
            if tag_choice && let Some(choice) = o.remove("oneOf") {
                o.insert("anyOf".into(), choice);
            }
            o.values_mut().for_each(tags_as_any_of);
        }
        Value::Array(a) => a.iter_mut().for_each(tags_as_any_of),
        _ => {}
    }
}

fn compile(path: &std::path::Path) -> Validator {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    tags_as_any_of(&mut doc);
    jsonschema::options()
        .should_validate_formats(true)
        .build(&doc)
        .unwrap_or_else(|e| panic!("{} compiles: {e}", path.display()))
}

impl Schemas {
    fn load() -> Option<Self> {
        let data = test_data()?;
        let s = data.join("cve-services/schemas");
        let c = data.join("schemas/cve");
        Some(Self {
            cna_request: compile(&s.join("cve/create-cve-record-cna-request.json")),
            reject_create: compile(&s.join("cve/create-cve-record-rejection-request.json")),
            reject_update: compile(&s.join("cve/update-cve-record-rejection-request.json")),
            published_container: compile(&c.join("CVE_JSON_cnaPublishedContainer_5.1.1.json")),
            rejected_container: compile(&c.join("CVE_JSON_cnaRejectedContainer_5.1.1.json")),
            org: compile(&s.join("org/get-org-response.json")),
            quota: compile(&s.join("org/get-org-quota-response.json")),
            reserved: compile(&s.join("cve-id/create-cve-ids-response.json")),
            partial: compile(&s.join("cve-id/create-cve-ids-partial-response.json")),
            generic_error: compile(&s.join("errors/generic.json")),
            bad_request: compile(&s.join("errors/bad-request.json")),
        })
    }
}

type Shared = Arc<Mutex<Double>>;

fn errors(v: &Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

impl Double {
    /// An answer, checked against its schema first.
    fn answer(
        &mut self,
        status: StatusCode,
        body: Value,
        schema: impl Fn(&Schemas) -> &Validator,
    ) -> Response {
        let errs = errors(schema(&self.schemas), &body);
        if !errs.is_empty() {
            self.invalid
                .push(format!("the double's own answer: {errs:?}"));
        }
        (status, axum::Json(body)).into_response()
    }

    fn error(&mut self, status: StatusCode, error: &str, message: &str) -> Response {
        self.answer(status, json!({"error": error, "message": message}), |s| {
            &s.generic_error
        })
    }

    fn bad_request(&mut self, message: &str, details: Vec<String>, location: &str) -> Response {
        let details: Vec<Value> = details
            .iter()
            .map(|d| json!({"msg": d, "param": "body", "location": location}))
            .collect();
        self.answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "BAD_INPUT", "message": message, "details": details}),
            |s| &s.bad_request,
        )
    }

    /// The three headers, or a 401; records the call.
    fn authenticate(&mut self, h: &HeaderMap, call: String) -> Result<(), Box<Response>> {
        let get = |n: &str| {
            h.get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        if get("CVE-API-ORG") != SHORT_NAME
            || get("CVE-API-USER") != CVE_USER
            || get("CVE-API-KEY") != self.key
        {
            return Err(Box::new(self.error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "Unauthorized: the user, organisation or API key is not valid",
            )));
        }
        self.calls.push(call);
        Ok(())
    }

    /// A JSON body valid against `schema` (and, for containers, CVE JSON 5.1.1's).
    fn body(&mut self, h: &HeaderMap, bytes: &Bytes, kind: &str) -> Result<Value, Box<Response>> {
        let json_type = h
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
            return Err(Box::new(self.bad_request(
                "the body is not JSON",
                vec![],
                "body",
            )));
        };
        if !json_type {
            return Err(Box::new(self.bad_request(
                "Content-Type must be application/json",
                vec![],
                "body",
            )));
        }
        let schemas = self.schemas.clone();
        let (request, container) = match kind {
            "cna" => (&schemas.cna_request, &schemas.published_container),
            "reject_create" => (&schemas.reject_create, &schemas.rejected_container),
            _ => (&schemas.reject_update, &schemas.rejected_container),
        };
        let mut errs = errors(request, &body);
        errs.extend(errors(
            container,
            body.get("cnaContainer").unwrap_or(&Value::Null),
        ));
        if !errs.is_empty() {
            self.invalid.push(format!("{kind}: {errs:?}\n{body:#}"));
            return Err(Box::new(self.bad_request(
                "Parameters were invalid",
                errs,
                "body",
            )));
        }
        Ok(body)
    }
}

async fn org(State(d): State<Shared>, h: HeaderMap, Path(id): Path<String>) -> Response {
    let mut d = d.lock().unwrap();
    if let Err(r) = d.authenticate(&h, format!("GET /org/{id}")) {
        return *r;
    }
    if id != SHORT_NAME && id != ORG_UUID {
        return d.error(StatusCode::FORBIDDEN, "NOT_SAME_ORG_OR_SECRETARIAT", "This information can only be viewed by the users of the same organization or the Secretariat.");
    }
    let quota = d.quota;
    d.answer(
        StatusCode::OK,
        json!({"name": "Confidential Containers", "short_name": SHORT_NAME, "UUID": ORG_UUID,
               "policies": {"id_quota": quota}, "authority": {"active_roles": ["CNA"]},
               "time": {"created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z"}}),
        |s| &s.org,
    )
}

async fn id_quota(State(d): State<Shared>, h: HeaderMap, Path(id): Path<String>) -> Response {
    let mut d = d.lock().unwrap();
    if let Err(r) = d.authenticate(&h, format!("GET /org/{id}/id_quota")) {
        return *r;
    }
    let total = i64::try_from(d.reserved.len()).unwrap();
    let body = json!({"id_quota": d.quota, "total_reserved": total, "available": (d.quota - total).max(0)});
    d.answer(StatusCode::OK, body, |s| &s.quota)
}

async fn reserve(
    State(d): State<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut d = d.lock().unwrap();
    if let Err(r) = d.authenticate(&h, "POST /cve-id".into()) {
        return *r;
    }
    let amount: Option<i64> = q
        .get("amount")
        .and_then(|a| a.parse().ok())
        .filter(|a| *a > 0);
    let year: Option<i64> = q
        .get("cve_year")
        .and_then(|a| a.parse().ok())
        .filter(|y| (1999..=2027).contains(y));
    let (Some(amount), Some(year)) = (amount, year) else {
        return d.bad_request(
            "Parameters were invalid",
            vec!["amount and cve_year are required".into()],
            "query",
        );
    };
    if amount > 1 && !q.contains_key("batch_type") {
        return d.bad_request(
            "Parameters were invalid",
            vec!["batch_type is required when amount > 1".into()],
            "query",
        );
    }
    if q.get("short_name").map(String::as_str) != Some(SHORT_NAME) {
        return d.error(
            StatusCode::FORBIDDEN,
            "ORG_CANNOT_RESERVE_FOR_OTHER",
            "CNA organizations can only reserve IDs for themselves.",
        );
    }
    let total = i64::try_from(d.reserved.len()).unwrap();
    if total + amount > d.quota {
        return d.error(
            StatusCode::FORBIDDEN,
            "EXCEEDED_ID_QUOTA",
            "The amount of CVE IDs requested exceeds the organization's available quota.",
        );
    }
    let now = "2026-11-25T09:00:00.000Z";
    let mut ids = Vec::new();
    for _ in 0..amount {
        if d.range_left == 0 {
            break;
        }
        d.range_left -= 1;
        d.next += 1;
        let id = format!("CVE-{year}-{}", 20000 + d.next);
        d.reserved.push(id.clone());
        ids.push(json!({"cve_id": id, "cve_year": year.to_string(), "owning_cna": SHORT_NAME, "state": "RESERVED",
                        "requested_by": {"cna": SHORT_NAME, "user": CVE_USER}, "reserved": now}));
    }
    if i64::try_from(ids.len()).unwrap() < amount {
        let n = ids.len();
        return d.answer(
            StatusCode::PARTIAL_CONTENT,
            json!({"error": "PARTIAL_RESERVATION", "message": "The CVE ID range is exhausted: fewer IDs were reserved than requested.",
                   "details": {"amount_reserved": n}, "cve_ids": ids}),
            |s| &s.partial,
        );
    }
    let remaining = d.quota - i64::try_from(d.reserved.len()).unwrap();
    d.answer(
        StatusCode::OK,
        json!({"cve_ids": ids, "meta": {"remaining_quota": remaining}}),
        |s| &s.reserved,
    )
}

/// The record routes: `kind` is `cna` or `reject`, `put` whether it is the PUT.
fn record(d: &Shared, h: &HeaderMap, id: &str, bytes: &Bytes, kind: &str, put: bool) -> Response {
    let mut d = d.lock().unwrap();
    let method = if put { "PUT" } else { "POST" };
    if let Err(r) = d.authenticate(h, format!("{method} /cve/{id}/{kind}")) {
        return *r;
    }
    if d.fail_next > 0 {
        d.fail_next -= 1;
        return d.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SERVICE_NOT_AVAILABLE",
            "The CVE Services database is not reachable; try again later.",
        );
    }
    let schema = match (kind, put) {
        ("cna", _) => "cna",
        ("reject", false) => "reject_create",
        _ => "reject_update",
    };
    let body = match d.body(h, bytes, schema) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if !d.reserved.contains(&id.to_owned()) {
        return d.error(
            StatusCode::FORBIDDEN,
            "ORG_CANNOT_UPDATE_CVE",
            "The CVE ID is not owned by your organization.",
        );
    }
    let exists = d.records.contains_key(id);
    match (exists, put) {
        (true, false) => {
            return d.error(
                StatusCode::BAD_REQUEST,
                "CVE_RECORD_EXISTS",
                "The CVE Record already exists; update it with PUT.",
            );
        }
        (false, true) => {
            return d.error(
                StatusCode::NOT_FOUND,
                "CVE_RECORD_DNE",
                "The CVE Record does not exist; create it with POST.",
            );
        }
        _ => {}
    }
    let state = if kind == "cna" {
        "PUBLISHED"
    } else {
        "REJECTED"
    };
    d.records.insert(
        id.to_owned(),
        (state.to_owned(), body["cnaContainer"].clone()),
    );
    (
        StatusCode::OK,
        axum::Json(
            json!({"message": format!("{id} record {}", if put { "updated" } else { "created" }),
        "created": {"cveMetadata": {"cveId": id, "state": state}}}),
        ),
    )
        .into_response()
}

async fn cna_post(
    State(d): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
    b: Bytes,
) -> Response {
    record(&d, &h, &id, &b, "cna", false)
}
async fn cna_put(
    State(d): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
    b: Bytes,
) -> Response {
    record(&d, &h, &id, &b, "cna", true)
}
async fn reject_post(
    State(d): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
    b: Bytes,
) -> Response {
    record(&d, &h, &id, &b, "reject", false)
}
async fn reject_put(
    State(d): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
    b: Bytes,
) -> Response {
    record(&d, &h, &id, &b, "reject", true)
}

/// Starts the double on 127.0.0.1:0; returns it and its base URL. `None` without the shared
/// data (outside CI; said loudly).
async fn start_double() -> Option<(Shared, String)> {
    let schemas = Arc::new(Schemas::load()?);
    let d = Arc::new(Mutex::new(Double {
        key: KEY.into(),
        quota: 10,
        range_left: 1000,
        next: 0,
        reserved: Vec::new(),
        records: HashMap::new(),
        fail_next: 0,
        calls: Vec::new(),
        schemas,
        invalid: Vec::new(),
    }));
    let router = Router::new()
        .route("/api/org/{id}", get(org))
        .route("/api/org/{id}/id_quota", get(id_quota))
        .route("/api/cve-id", post(reserve))
        .route("/api/cve/{id}/cna", post(cna_post).put(cna_put))
        .route("/api/cve/{id}/reject", post(reject_post).put(reject_put))
        .with_state(d.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Some((d, format!("http://127.0.0.1:{port}/api")))
}

/// Runs every due job once, as a server's scheduler would.
async fn run_jobs(app: &TestApp) {
    app.run_jobs().await;
}

/// The double, an app allowed to reach it, the world, and coco set to number with it.
async fn with_cve_services(mut app: TestApp) -> Option<(TestApp, World, Shared)> {
    let (d, url) = start_double().await?;
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    app.configure(|c| c.network.allow = vec![host]);
    let w = World::new(&app).await;
    let r = app
        .call(
            Method::PUT,
            "/api/v1/orgs/coco/cve",
            Some(&w.sm),
            Some(json!({"backend": "cve_services", "url": url, "short_name": SHORT_NAME, "user": CVE_USER, "key": KEY})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    Some((app, w, d))
}

fn assert_no_invalid(d: &Shared) {
    let d = d.lock().unwrap();
    assert!(
        d.invalid.is_empty(),
        "bodies against the schemas:\n{}",
        d.invalid.join("\n")
    );
}

async fn request_id(app: &TestApp, token: &str, id: &str, body: Value) -> crate::support::Resp {
    app.post(&format!("/api/v1/advisories/{id}/cve"), Some(token), body)
        .await
}

async fn cve_of(app: &TestApp, w: &World, id: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json["cve"].clone()
}

/// Settings answer without the key (sealed in the database), with CVE Services' quota; an
/// id is reserved for the draft; publication sends the container (POST), a public edit the
/// update (PUT), withdrawal the rejection (PUT, the record existing) — each body valid
/// against the description's schemas, and the advisory's CVE state following.
async fn reserve_publish_update_reject(app: TestApp) {
    let Some((app, w, d)) = with_cve_services(app).await else {
        return;
    };
    let sm = Some(w.sm.as_str());
    let r = app.get("/api/v1/orgs/coco/cve", sm).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["backend"], "cve_services");
    assert_eq!(r.json["short_name"], SHORT_NAME);
    assert_eq!(r.json["org_uuid"], ORG_UUID);
    assert_eq!(
        r.json["quota"],
        json!({"id_quota": 10, "total_reserved": 0, "available": 10})
    );
    assert!(!r.text.contains(KEY), "the key is write-only: {}", r.text);
    let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.url)
        .await
        .unwrap();
    let stored: String = sqlx::query_scalar("SELECT api_key FROM cve_settings")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(
        stored.starts_with("enc1:") && !stored.contains(KEY),
        "sealed: {stored}"
    );

    let id = w.advisory_in(&app, "draft").await;
    let r = request_id(&app, &w.sm, &id, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["cve_id"], "CVE-2026-20001");
    assert_eq!(r.json["cve"]["backend"], "cve_services");
    assert_eq!(r.json["cve"]["state"], "reserved");
    // A second id for the same advisory is refused, and nothing more is reserved.
    let r = request_id(&app, &w.sm, &id, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(d.lock().unwrap().reserved.len(), 1);

    let r = app
        .post(&format!("/api/v1/advisories/{id}/publish"), sm, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    run_jobs(&app).await;
    assert_no_invalid(&d);
    assert_eq!(cve_of(&app, &w, &id).await["state"], "published");
    {
        let d = d.lock().unwrap();
        let (state, cna) = &d.records["CVE-2026-20001"];
        assert_eq!(state, "PUBLISHED");
        assert_eq!(cna["providerMetadata"]["orgId"], ORG_UUID);
        assert_eq!(cna["providerMetadata"]["shortName"], SHORT_NAME);
    }
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/advisories/{id}"),
            sm,
            Some(
                json!({"description": "Corrected: the guest agent trusts the host's timestamps."}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    run_jobs(&app).await;
    assert!(
        d.lock().unwrap().records["CVE-2026-20001"].1["descriptions"][0]["value"]
            .as_str()
            .unwrap()
            .starts_with("Corrected")
    );
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/withdraw"),
            sm,
            json!({"reason": "Not a vulnerability after all."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    run_jobs(&app).await;
    assert_eq!(cve_of(&app, &w, &id).await["state"], "rejected");
    let calls = d.lock().unwrap().calls.clone();
    let record_calls: Vec<&String> = calls.iter().filter(|c| c.contains("/cve/")).collect();
    assert_eq!(
        record_calls,
        [
            "POST /cve/CVE-2026-20001/cna",
            "PUT /cve/CVE-2026-20001/cna",
            "PUT /cve/CVE-2026-20001/reject"
        ]
    );
    assert_no_invalid(&d);
    // The public sees the id, not the CVE state.
    let r = app.get(&format!("/api/v1/advisories/{id}"), None).await;
    assert_eq!(r.json["cve_id"], "CVE-2026-20001");
    assert!(r.json.get("cve").is_none(), "{}", r.text);
}

/// Withdrawn before its record went out: the stale publication does nothing, and the id is
/// rejected with POST (no record exists yet), as the description says.
async fn reject_without_a_record_posts(app: TestApp) {
    let Some((app, w, d)) = with_cve_services(app).await else {
        return;
    };
    let sm = Some(w.sm.as_str());
    let id = w.advisory_in(&app, "draft").await;
    assert_eq!(
        request_id(&app, &w.sm, &id, json!({})).await.status,
        StatusCode::OK
    );
    app.post(&format!("/api/v1/advisories/{id}/publish"), sm, json!({}))
        .await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/withdraw"),
            sm,
            json!({"reason": "Published by mistake."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    run_jobs(&app).await;
    let calls = d.lock().unwrap().calls.clone();
    assert!(
        calls.contains(&"POST /cve/CVE-2026-20001/reject".to_owned()),
        "{calls:?}"
    );
    assert!(!calls.iter().any(|c| c.ends_with("/cna")), "{calls:?}");
    assert_eq!(cve_of(&app, &w, &id).await["state"], "rejected");
    assert_no_invalid(&d);
}

/// Quota used up (403) and a range exhausted (206 with no id): the request fails with CVE
/// Services' own message, and the advisory keeps no id.
async fn quota_exhausted(app: TestApp) {
    let Some((app, w, d)) = with_cve_services(app).await else {
        return;
    };
    let id = w.advisory_in(&app, "draft").await;
    d.lock().unwrap().quota = 0;
    let r = request_id(&app, &w.sm, &id, json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    let msg = r.json["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("EXCEEDED_ID_QUOTA")
            && msg.contains("exceeds the organization's available quota"),
        "{msg}"
    );
    let r = app.get("/api/v1/orgs/coco/cve", Some(&w.sm)).await;
    assert_eq!(r.json["quota"]["available"], 0, "{}", r.text);
    {
        let mut d = d.lock().unwrap();
        d.quota = 10;
        d.range_left = 0;
    }
    let r = request_id(&app, &w.sm, &id, json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("range is exhausted"),
        "{}",
        r.text
    );
    let r = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await;
    assert!(
        r.json["cve_id"].is_null() && r.json.get("cve").is_none(),
        "{}",
        r.text
    );
    assert_no_invalid(&d);
}

/// A wrong key is refused when set, with CVE Services' message on the key field, and the
/// settings stay as they were; a key revoked later fails the reservation the same way.
async fn wrong_key(app: TestApp) {
    let Some((app, w, d)) = with_cve_services(app).await else {
        return;
    };
    let url = app.get("/api/v1/orgs/coco/cve", Some(&w.sm)).await.json["url"].clone();
    let r = app
        .call(
            Method::PUT,
            "/api/v1/orgs/coco/cve",
            Some(&w.sm),
            Some(json!({"backend": "cve_services", "url": url, "short_name": SHORT_NAME, "user": CVE_USER, "key": "wrong"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["error"]["field"], "key");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the user, organisation or API key is not valid"),
        "{}",
        r.text
    );
    d.lock().unwrap().key = "rotated".into();
    let id = w.advisory_in(&app, "draft").await;
    let r = request_id(&app, &w.sm, &id, json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    assert!(
        r.json["error"]["message"].as_str().unwrap().contains("401"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("rotated") && !r.text.contains(KEY));
}

/// CVE Services fails (500) when the record is sent: publication goes ahead, the advisory
/// shows `failed` with the message, and the job's retry publishes it.
async fn server_error_then_retry(app: TestApp) {
    let Some((app, w, d)) = with_cve_services(app).await else {
        return;
    };
    let sm = Some(w.sm.as_str());
    let id = w.advisory_in(&app, "draft").await;
    assert_eq!(
        request_id(&app, &w.sm, &id, json!({})).await.status,
        StatusCode::OK
    );
    d.lock().unwrap().fail_next = 1;
    let r = app
        .post(&format!("/api/v1/advisories/{id}/publish"), sm, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["state"], "published");
    run_jobs(&app).await;
    let cve = cve_of(&app, &w, &id).await;
    assert_eq!(cve["state"], "failed", "{cve}");
    assert!(
        cve["last_error"]
            .as_str()
            .unwrap()
            .contains("database is not reachable"),
        "{cve}"
    );
    let page = app.page(&format!("/advisories/{id}/cve"), sm).await;
    assert!(
        page.text.contains("database is not reachable"),
        "{}",
        page.text
    );
    // Not again before its pause ends; then once more, and it goes through.
    run_jobs(&app).await;
    assert_eq!(
        d.lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.ends_with("/cna"))
            .count(),
        1
    );
    app.clock.advance(time::Duration::minutes(5));
    run_jobs(&app).await;
    let cve = cve_of(&app, &w, &id).await;
    assert_eq!(cve["state"], "published", "{cve}");
    assert!(cve.get("last_error").is_none(), "{cve}");
    assert_eq!(d.lock().unwrap().records["CVE-2026-20001"].0, "PUBLISHED");
    assert_no_invalid(&d);
}

/// A block: handed out in order, two requests at once get two ids, a warning when few are
/// left, a clear refusal when none are; publication marks the id published without any call.
async fn block_of_ids(app: TestApp) {
    let w = World::new(&app).await;
    let sm = Some(w.sm.as_str());
    let ids: Vec<String> = (1000..1006).map(|n| format!("CVE-2026-{n}")).collect();
    let r = app
        .call(
            Method::PUT,
            "/api/v1/orgs/coco/cve",
            sm,
            Some(json!({"backend": "block", "ids": ids})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["ids_left"], 6);
    assert!(r.json.get("warning").is_none(), "{}", r.text);
    let bad = app
        .call(
            Method::PUT,
            "/api/v1/orgs/coco/cve",
            sm,
            Some(json!({"backend": "block", "ids": ["CVE-2026-1", "x"]})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    let a = w.advisory_in(&app, "draft").await;
    let b = w.advisory_in(&app, "draft").await;
    let (ra, rb) = tokio::join!(
        request_id(&app, &w.sm, &a, json!({})),
        request_id(&app, &w.sm, &b, json!({}))
    );
    assert_eq!(
        (ra.status, rb.status),
        (StatusCode::OK, StatusCode::OK),
        "{} {}",
        ra.text,
        rb.text
    );
    let mut got = vec![
        ra.json["cve_id"].as_str().unwrap().to_owned(),
        rb.json["cve_id"].as_str().unwrap().to_owned(),
    ];
    got.sort();
    assert_eq!(got, ["CVE-2026-1000", "CVE-2026-1001"]);
    assert_eq!(ra.json["cve"]["backend"], "block");
    let c = w.advisory_in(&app, "draft").await;
    let r = request_id(&app, &w.sm, &c, json!({})).await;
    assert_eq!(r.json["cve_id"], "CVE-2026-1002");
    assert!(
        r.json["cve"]["warning"]
            .as_str()
            .unwrap()
            .contains("only 3 CVE ids left"),
        "{}",
        r.text
    );
    let r = app.get("/api/v1/orgs/coco/cve", sm).await;
    assert_eq!(
        r.json["ids"],
        json!(["CVE-2026-1003", "CVE-2026-1004", "CVE-2026-1005"])
    );
    assert!(
        r.json["warning"].as_str().unwrap().contains("only 3"),
        "{}",
        r.text
    );
    let r = request_id(&app, &w.sm, &c, json!({"cve_id": "CVE-2026-5555"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    for _ in 0..3 {
        let d = w.advisory_in(&app, "draft").await;
        assert_eq!(
            request_id(&app, &w.sm, &d, json!({})).await.status,
            StatusCode::OK
        );
    }
    let e = w.advisory_in(&app, "draft").await;
    let r = request_id(&app, &w.sm, &e, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("used up"), "{}", r.text);
    let r = app
        .post(&format!("/api/v1/advisories/{a}/publish"), sm, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["cve"]["state"], "published");
}

/// Manual: the id issued elsewhere, entered by a security manager only (a maintainer is
/// refused, by the one rule); the page offers the button to security managers only.
async fn manual_ids(app: TestApp) {
    let w = World::new(&app).await;
    let sm = Some(w.sm.as_str());
    let r = app
        .call(
            Method::PUT,
            "/api/v1/orgs/coco/cve",
            sm,
            Some(json!({"backend": "manual", "key": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = app
        .call(
            Method::PUT,
            "/api/v1/orgs/coco/cve",
            sm,
            Some(json!({"backend": "manual"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get("/api/v1/orgs/coco/cve", Some(&w.maintainer)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let id = w.advisory_in(&app, "draft").await;
    let page = app.page(&format!("/advisories/{id}"), sm).await;
    assert!(page.text.contains("Request a CVE id"), "{}", page.text);
    let page = app
        .page(&format!("/advisories/{id}"), Some(&w.maintainer))
        .await;
    assert!(!page.text.contains("Request a CVE id"));
    let r = request_id(&app, &w.maintainer, &id, json!({"cve_id": "CVE-2026-4242"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = request_id(&app, &w.sm, &id, json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["error"]["field"], "cve_id");
    let r = request_id(&app, &w.sm, &id, json!({"cve_id": "cve-2026-4242"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["cve_id"], "CVE-2026-4242");
    assert_eq!(
        r.json["cve"],
        json!({"cve_id": "CVE-2026-4242", "backend": "manual", "state": "reserved"})
    );
    let other = w.advisory_in(&app, "draft").await;
    let r = request_id(&app, &w.sm, &other, json!({"cve_id": "CVE-2026-4242"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // Not in triage, by the rule's states.
    let t = w.advisory_in(&app, "triage").await;
    let r = request_id(&app, &w.sm, &t, json!({"cve_id": "CVE-2026-4243"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let page = app.page(&format!("/advisories/{id}/cve"), sm).await;
    assert!(
        page.text.contains("CVE-2026-4242") && page.text.contains("entered by hand"),
        "{}",
        page.text
    );
}

/// The address obeys the network rule when it is set: a loopback double not allowed in
/// `[network] allow` is refused on the url field, and nothing is stored.
async fn url_obeys_the_network_rule(app: TestApp) {
    let w = World::new(&app).await;
    let r = app
        .call(
            Method::PUT,
            "/api/v1/orgs/coco/cve",
            Some(&w.sm),
            Some(json!({"backend": "cve_services", "url": "http://127.0.0.1:9/api", "short_name": SHORT_NAME, "user": CVE_USER, "key": KEY})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["error"]["field"], "url");
    let r = app.get("/api/v1/orgs/coco/cve", Some(&w.sm)).await;
    assert_eq!(r.json, json!({"backend": "manual"}));
    let r = app
        .call(
            Method::PUT,
            "/api/v1/orgs/coco/cve",
            Some(&w.maintainer),
            Some(json!({"backend": "manual"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

on_both_backends!(
    reserve_publish_update_reject,
    reject_without_a_record_posts,
    quota_exhausted,
    wrong_key,
    server_error_then_retry,
    block_of_ids,
    manual_ids,
    url_obeys_the_network_rule,
);
