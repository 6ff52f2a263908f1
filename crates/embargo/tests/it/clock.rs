//! The clock, on both backends, driven by the test clock and the job runner run in-process:
//! embargo negotiation (Vultron's states), publication at the embargo's end exactly once,
//! warnings before an end, response reminders and escalation, case flags, and jobs that
//! retry and survive an instance that died holding one.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

use crate::support::{BASE_URL, TestApp, World, on_both_backends};

/// Runs every due job once, as a server's scheduler would (mail is queued, not sent).
async fn run_jobs(app: &TestApp) -> usize {
    app.run_jobs().await
}

/// Takes every queued message (and marks it sent).
async fn mails(app: &TestApp) -> Vec<embargo_store::QueuedMail> {
    app.store.notify(BASE_URL).await.unwrap();
    let m = app.store.claim_mail(10_000).await.unwrap();
    for q in &m {
        app.store.mail_sent(q.id).await.unwrap();
    }
    m
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    embargo_domain::rfc3339(t)
}

async fn embargo(app: &TestApp, id: &str, token: &str, body: Value) -> crate::support::Resp {
    app.post(
        &format!("/api/v1/advisories/{id}/embargo"),
        Some(token),
        body,
    )
    .await
}

async fn patch_org(app: &TestApp, token: &str, body: Value) -> crate::support::Resp {
    app.call(Method::PATCH, "/api/v1/orgs/coco", Some(token), Some(body))
        .await
}

/// Propose, compete, reject, accept, revise, reject the revision, accept one, terminate; who
/// may do what; publication waits for the embargo; bad ends are refused.
async fn embargo_negotiation(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let now = app.store.now();
    let r = patch_org(&app, &w.sm, json!({"embargo_max": "30d"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["policy"]["embargo_max"], "30d");

    // Nothing to accept yet; bad ends and bad actions are named.
    let r = embargo(&app, &id, &w.sm, json!({"action": "accept"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    for (body, field) in [
        (
            json!({"action": "propose", "ends_at": rfc3339(now - Duration::hours(1))}),
            "ends_at",
        ),
        (
            json!({"action": "propose", "ends_at": rfc3339(now + Duration::days(31))}),
            "ends_at",
        ),
        (json!({"action": "propose"}), "ends_at"),
        (json!({"action": "wait"}), "action"),
    ] {
        let r = embargo(&app, &id, &w.sm, body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.json["error"]["field"], field, "{}", r.text);
    }
    // The reporter and the steering committee do not negotiate; outsiders see nothing.
    let in10 = rfc3339(now + Duration::days(10));
    let propose10 = json!({"action": "propose", "ends_at": in10});
    for (token, status) in [
        (&w.reporter, StatusCode::FORBIDDEN),
        (&w.sc, StatusCode::FORBIDDEN),
        (&w.outsider, StatusCode::NOT_FOUND),
    ] {
        let r = embargo(&app, &id, token, propose10.clone()).await;
        assert_eq!(r.status, status, "{}", r.text);
    }

    let r = embargo(&app, &id, &w.sm, propose10.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["embargo"]["state"], "proposed");
    assert_eq!(r.json["embargo"]["proposed_ends_at"], in10);
    // Publication waits while terms are proposed.
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/publish"),
            Some(&w.sm),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // A downstream participant proposes a competing end: still proposed, and only they sign.
    let in8 = rfc3339(now + Duration::days(8));
    let r = embargo(
        &app,
        &id,
        &w.collaborator,
        json!({"action": "propose", "ends_at": in8}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["embargo"]["state"], "proposed");
    assert_eq!(
        r.json["embargo"]["signatories"],
        json!(["Downstream Linux"])
    );
    // The downstream participant cannot put it in force; the organisation can.
    let r = embargo(&app, &id, &w.collaborator, json!({"action": "accept"})).await;
    assert_eq!(r.json["embargo"]["state"], "proposed", "{}", r.text);
    let r = embargo(&app, &id, &w.maintainer, json!({"action": "accept"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["embargo"]["state"], "active");
    assert_eq!(r.json["embargo"]["ends_at"], in8);
    assert_eq!(
        r.json["embargo"]["signatories"],
        json!(["Downstream Linux", "coco"])
    );
    // A revision, rejected: the old end stands.
    let r = embargo(&app, &id, &w.collaborator, propose10.clone()).await;
    assert_eq!(r.json["embargo"]["state"], "revise", "{}", r.text);
    let r = embargo(&app, &id, &w.sm, json!({"action": "reject"})).await;
    assert_eq!(r.json["embargo"]["state"], "active", "{}", r.text);
    assert_eq!(r.json["embargo"]["ends_at"], in8);
    // A revision, accepted: the new end holds.
    let r = embargo(&app, &id, &w.sm, propose10.clone()).await;
    assert_eq!(r.json["embargo"]["state"], "revise", "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/publish"),
            Some(&w.sm),
            json!({}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "publication waits during a revision"
    );
    let r = embargo(&app, &id, &w.sm, json!({"action": "accept"})).await;
    assert_eq!(r.json["embargo"]["ends_at"], in10, "{}", r.text);
    // Downstream cannot end it; the organisation ends it early.
    let r = embargo(&app, &id, &w.collaborator, json!({"action": "terminate"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = embargo(&app, &id, &w.sm, json!({"action": "terminate"})).await;
    assert_eq!(r.json["embargo"]["state"], "exited", "{}", r.text);
    let r = embargo(&app, &id, &w.sm, propose10.clone()).await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "an ended embargo does not start again"
    );
    // Everyone in the audience was told of each change, with unambiguous instants.
    let m = mails(&app).await;
    let told: Vec<&str> = m
        .iter()
        .filter(|m| m.subject.contains("Embargo:"))
        .map(|m| m.to.as_str())
        .collect();
    for who in [
        "reporter@example.org",
        "collaborator@example.org",
        "sm@example.org",
    ] {
        assert!(told.contains(&who), "{who}: {told:?}");
    }
    assert!(m.iter().any(|m| m.body.contains(" UTC")), "{m:#?}");
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/publish"),
            Some(&w.sm),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Once public, no new embargo.
    let r = embargo(&app, &id, &w.sm, propose10).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
}

/// An advisory marked ready publishes itself when its embargo ends, once, as "scheduled
/// publication", with everything publication does; running the jobs again changes nothing.
async fn ready_advisories_publish_at_the_end(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let not_ready = w.advisory_in(&app, "draft").await;
    let end = app.store.now() + Duration::hours(1);
    for a in [&id, &not_ready] {
        embargo(
            &app,
            a,
            &w.sm,
            json!({"action": "propose", "ends_at": rfc3339(end)}),
        )
        .await;
        let r = embargo(&app, a, &w.sm, json!({"action": "accept"})).await;
        assert_eq!(r.json["embargo"]["state"], "active", "{}", r.text);
    }
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/ready"),
            Some(&w.maintainer),
            json!({"ready": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "only security managers");
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/ready"),
            Some(&w.sm),
            json!({"ready": true}),
        )
        .await;
    assert_eq!(r.json["ready"], true, "{}", r.text);
    mails(&app).await;

    app.clock.advance(Duration::minutes(59));
    run_jobs(&app).await;
    let osv = format!("/advisories/{id}/osv.json");
    assert_eq!(app.get(&osv, None).await.status, StatusCode::NOT_FOUND);

    app.clock.advance(Duration::minutes(1));
    run_jobs(&app).await;
    run_jobs(&app).await;
    let (a, b) = tokio::join!(
        app.store.run_embargo_ends(BASE_URL),
        app.store.run_embargo_ends(BASE_URL)
    );
    assert_eq!(
        a.unwrap().published + b.unwrap().published,
        0,
        "nothing left to do"
    );
    assert_eq!(app.get(&osv, None).await.status, StatusCode::OK);
    let events = app
        .get(&format!("/api/v1/advisories/{id}/events"), Some(&w.sm))
        .await;
    let published: Vec<&Value> = events
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "published")
        .collect();
    assert_eq!(published.len(), 1, "{}", events.text);
    assert_eq!(published[0]["actor"], "Embargo (scheduled publication)");
    let ended = events
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "embargo_changed" && e["data"]["action"]["action"] == "terminate")
        .count();
    assert_eq!(ended, 1, "{}", events.text);
    // The access log names the system too.
    let audit = app
        .get(&format!("/api/v1/advisories/{id}/audit"), Some(&w.sm))
        .await;
    assert!(
        audit.text.contains("scheduled publication"),
        "{}",
        audit.text
    );
    // The reporter hears of the publication once.
    let m = mails(&app).await;
    let to_reporter = m
        .iter()
        .filter(|m| {
            m.to == "reporter@example.org"
                && m.subject.contains("Published")
                && m.subject.contains(&id)
        })
        .count();
    assert_eq!(to_reporter, 1, "{m:#?}");
    // The one not ready: its embargo ended, it is not published.
    let r = app
        .get(&format!("/api/v1/advisories/{not_ready}"), Some(&w.sm))
        .await;
    assert_eq!(r.json["state"], "draft");
    assert_eq!(r.json["embargo"]["state"], "exited");
    let aid = embargo_domain::ids::AdvisoryId::parse(&id).unwrap();
    assert!(app.store.replay_matches(&aid).await.unwrap());
}

/// An embargo nearing its end on an advisory not ready warns the security managers at each
/// of the policy's warnings, once each.
async fn warnings_before_the_end(app: TestApp) {
    let w = World::new(&app).await;
    let r = patch_org(&app, &w.sm, json!({"embargo_warnings": ["30m", "2h"]})).await;
    assert_eq!(
        r.json["policy"]["embargo_warnings"],
        json!(["2h", "30m"]),
        "{}",
        r.text
    );
    let id = w.advisory_in(&app, "draft").await;
    let end = app.store.now() + Duration::hours(3);
    embargo(
        &app,
        &id,
        &w.sm,
        json!({"action": "propose", "ends_at": rfc3339(end)}),
    )
    .await;
    embargo(&app, &id, &w.sm, json!({"action": "accept"})).await;
    mails(&app).await;
    let warned = |m: &[embargo_store::QueuedMail]| {
        m.iter()
            .filter(|m| m.subject.contains("is not ready") && m.subject.contains(&id))
            .map(|m| m.to.clone())
            .collect::<Vec<_>>()
    };
    run_jobs(&app).await;
    assert!(warned(&mails(&app).await).is_empty(), "too early");
    app.clock.advance(Duration::minutes(61));
    run_jobs(&app).await;
    app.store.run_embargo_ends(BASE_URL).await.unwrap();
    let m = mails(&app).await;
    assert_eq!(
        warned(&m),
        ["sm@example.org"],
        "once, to the security manager: {m:#?}"
    );
    assert!(m[0].body.contains(" UTC"));
    app.clock.advance(Duration::minutes(91));
    run_jobs(&app).await;
    assert_eq!(
        warned(&mails(&app).await),
        ["sm@example.org"],
        "the 30-minute warning"
    );
    run_jobs(&app).await;
    assert!(warned(&mails(&app).await).is_empty());
}

/// Reminders before the response deadline to the maintainers and security managers, an
/// escalation to the steering committee after it, each once; a report with a reply gets none.
async fn response_reminders_and_escalation(app: TestApp) {
    let w = World::new(&app).await;
    let r = patch_org(
        &app,
        &w.sm,
        json!({"response_deadline": "3d", "reminders": ["1d", "2d"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["policy"]["response_deadline"], "3d");
    assert_eq!(r.json["policy"]["response_days"], 3);
    let silent = w.file(&app, "Nobody answers").await;
    let answered = w.file(&app, "Answered").await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{answered}/comments"),
            Some(&w.maintainer),
            json!({"body": "Thanks, looking"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    mails(&app).await;
    let about = |m: &[embargo_store::QueuedMail], needle: &str| {
        let mut v: Vec<String> = m
            .iter()
            .filter(|m| m.subject.contains(needle))
            .map(|m| {
                assert!(!m.subject.contains(&answered), "{m:?}");
                m.to.clone()
            })
            .collect();
        v.sort();
        v
    };
    run_jobs(&app).await;
    assert!(about(&mails(&app).await, "Reply due").is_empty());
    // One day in: the 2-day reminder.
    app.clock.advance(Duration::days(1) + Duration::minutes(1));
    run_jobs(&app).await;
    run_jobs(&app).await;
    assert_eq!(
        about(&mails(&app).await, "Reply due"),
        ["maintainer@example.org", "sm@example.org"]
    );
    // Two days in: the 1-day reminder.
    app.clock.advance(Duration::days(1));
    run_jobs(&app).await;
    let m = mails(&app).await;
    assert_eq!(
        about(&m, "Reply due"),
        ["maintainer@example.org", "sm@example.org"]
    );
    assert!(m.iter().all(|m| m.subject.contains(&silent)));
    // Past the deadline: the escalation, once.
    app.clock.advance(Duration::days(1));
    run_jobs(&app).await;
    run_jobs(&app).await;
    assert_eq!(
        about(&mails(&app).await, "Overdue"),
        ["sc@example.org", "sm@example.org"]
    );
    run_jobs(&app).await;
    assert!(mails(&app).await.is_empty());
    // The organisation shows its settings; bad durations are named.
    let r = app.get("/api/v1/orgs/coco", Some(&w.sm)).await;
    assert_eq!(
        r.json["policy"]["reminders"],
        json!(["2d", "1d"]),
        "{}",
        r.text
    );
    for (body, field) in [
        (json!({"response_deadline": "14w"}), "response_deadline"),
        (json!({"reminders": ["0s"]}), "reminders"),
        (json!({"embargo_max": "soon"}), "embargo_max"),
    ] {
        let r = patch_org(&app, &w.sm, body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains(field), "{}", r.text);
    }
    let r = patch_org(&app, &w.sm, json!({"response_days": 10})).await;
    assert_eq!(r.json["policy"]["response_deadline"], "10d", "{}", r.text);
}

/// Case flags are set once, in order; "exploit public" during an embargo warns the security
/// managers, and no new embargo starts once it is set.
async fn case_flags(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let other = w.advisory_in(&app, "draft").await;
    let flag = |id: &str, f: &str, token: &str| {
        let (app, path, f, token) = (
            &app,
            format!("/api/v1/advisories/{id}/case"),
            f.to_owned(),
            token.to_owned(),
        );
        async move { app.post(&path, Some(&token), json!({"flag": f})).await }
    };
    assert_eq!(
        flag(&id, "fix_ready", &w.sm).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        flag(&id, "vendor_aware", &w.reporter).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        flag(&id, "nonsense", &w.sm).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        flag(&id, "vendor_aware", &w.maintainer).await.status,
        StatusCode::OK
    );
    assert_eq!(
        flag(&id, "fix_deployed", &w.sm).await.status,
        StatusCode::CONFLICT
    );
    let r = flag(&id, "fix_ready", &w.sm).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json["case"]["vendor_aware"].is_string() && r.json["case"]["fix_ready"].is_string());
    assert_eq!(
        flag(&id, "fix_ready", &w.sm).await.status,
        StatusCode::CONFLICT
    );

    let end = rfc3339(app.store.now() + Duration::days(5));
    embargo(
        &app,
        &id,
        &w.sm,
        json!({"action": "propose", "ends_at": end}),
    )
    .await;
    embargo(&app, &id, &w.sm, json!({"action": "accept"})).await;
    mails(&app).await;
    assert_eq!(
        flag(&id, "exploit_public", &w.maintainer).await.status,
        StatusCode::OK
    );
    let m = mails(&app).await;
    assert!(
        m.iter()
            .any(|m| m.to == "sm@example.org" && m.subject.contains("End the embargo early")),
        "{m:#?}"
    );
    flag(&other, "vendor_aware", &w.sm).await;
    flag(&other, "attacks_observed", &w.sm).await;
    let r = embargo(
        &app,
        &other,
        &w.sm,
        json!({"action": "propose", "ends_at": end}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("attacks are observed"), "{}", r.text);
}

/// A failing job is retried with growing pauses and its error kept; a job held by an
/// instance that died runs again once its lease is over; the recurring ones come back.
async fn jobs_retry_and_survive_a_dead_instance(app: TestApp) {
    run_jobs(&app).await;
    app.store
        .schedule_job("no_such_kind", "broken-1", &json!({}), app.store.now())
        .await
        .unwrap();
    run_jobs(&app).await;
    let find = |jobs: Vec<embargo_store::JobStatus>, key: &str| {
        jobs.into_iter().find(|j| j.key == key).unwrap()
    };
    let j = find(app.store.jobs().await.unwrap(), "broken-1");
    assert_eq!(j.attempts, 1);
    assert!(
        j.last_error
            .as_deref()
            .unwrap()
            .contains("unknown job kind")
    );
    let first_pause = j.due_at - app.store.now();
    assert!(first_pause > Duration::ZERO);
    app.clock.advance(Duration::minutes(1));
    run_jobs(&app).await;
    let j = find(app.store.jobs().await.unwrap(), "broken-1");
    assert_eq!(j.attempts, 2);
    assert!(j.due_at - app.store.now() > first_pause, "the pause grows");

    // An instance claims the deadline sweep and dies: nobody else runs it until the lease
    // is over, then it runs.
    app.clock.advance(Duration::minutes(1));
    let held = loop {
        let j = app.store.claim_job().await.unwrap().expect("due jobs");
        if j.kind == "deadlines" {
            break j;
        }
        app.store.job_done(&j).await.unwrap();
    };
    run_jobs(&app).await;
    let j = find(app.store.jobs().await.unwrap(), "deadlines");
    assert_eq!(j.attempts, held.attempts, "still held by the dead instance");
    app.clock
        .advance(embargo_store::JOB_LEASE + Duration::seconds(1));
    run_jobs(&app).await;
    let j = find(app.store.jobs().await.unwrap(), "deadlines");
    assert_eq!(j.attempts, 0, "ran and was rescheduled");
    assert!(j.due_at > app.store.now() && j.last_error.is_none());
}

/// While an embargo is in force, the audience fetches the advisory as the CSAF document
/// planned for its end, marked TLP:AMBER; valid by the schema and BSI's mandatory tests.
async fn pre_notification_for_the_audience(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let path = format!("/api/v1/advisories/{id}/pre-notification.json");
    let r = app.get(&path, Some(&w.collaborator)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "no embargo yet: {}", r.text);
    let end = app.store.now() + Duration::days(7);
    embargo(
        &app,
        &id,
        &w.sm,
        json!({"action": "propose", "ends_at": rfc3339(end)}),
    )
    .await;
    embargo(&app, &id, &w.sm, json!({"action": "accept"})).await;
    for (token, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(&w.outsider), StatusCode::NOT_FOUND),
        (Some(&w.revoked_collaborator), StatusCode::NOT_FOUND),
    ] {
        let r = app.get(&path, token.map(String::as_str)).await;
        assert_eq!(r.status, status, "{}", r.text);
        assert!(!r.text.contains("guest"), "{}", r.text);
    }
    let r = app.get(&path, Some(&w.collaborator)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.headers["cache-control"], "private, no-store");
    let d = &r.json["document"];
    assert_eq!(d["distribution"]["tlp"]["label"], "AMBER");
    assert_eq!(d["tracking"]["status"], "interim");
    assert_eq!(
        d["tracking"]["current_release_date"],
        rfc3339(end).replace(".000", "")
    );
    embargo_formats::schemas::assert_valid(embargo_formats::schemas::Schema::Csaf, &r.json);
    crate::publishing::bsi_csaf_validator(&[("pre.json", &r.text)]);
    // The fetch is a read in the access log.
    let audit = app
        .get(&format!("/api/v1/advisories/{id}/audit"), Some(&w.sm))
        .await;
    assert!(
        audit.text.contains("collaborator@example.org"),
        "{}",
        audit.text
    );
}

/// The pages: the advisory shows its embargo in UTC and takes the negotiation by form; the
/// list flags an embargo ending soon on an advisory not ready; the organisation page shows
/// its response record (with an SVG chart) to its security managers only.
async fn clock_on_the_pages(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let cookie = app.session_cookie(&w.sm).await;
    let page = app
        .request(
            axum::http::Request::get(format!("/advisories/{id}"))
                .header(axum::http::header::COOKIE, cookie.clone())
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(page.text.contains("Embargo and case"), "{}", page.text);
    let csrf = crate::web::csrf_in(&page.text);
    let post = |path: String, pairs: Vec<(&'static str, String)>| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.request(crate::web::form(&path, Some(&cookie), &p))
                .await
        }
    };
    let path = format!("/advisories/{id}/embargo");
    let r = post(
        path.clone(),
        vec![
            ("csrf", csrf.clone()),
            ("action", "propose".into()),
            ("ends_at", "yesterday".into()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("ends_at"), "{}", r.text);
    let end = app.store.now() + Duration::days(3);
    let local = format!("{} {:02}:{:02}", end.date(), end.hour(), end.minute()).replace(' ', "T");
    for action in ["propose", "accept"] {
        let r = post(
            path.clone(),
            vec![
                ("csrf", csrf.clone()),
                ("action", action.into()),
                (
                    "ends_at",
                    if action == "propose" {
                        local.clone()
                    } else {
                        String::new()
                    },
                ),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{action}: {}", r.text);
    }
    let page = app.page(&format!("/advisories/{id}"), Some(&w.sm)).await;
    let shown = embargo_domain::embargo::format_instant(end);
    assert!(
        page.text.contains(&format!("active, ends {shown}")),
        "{}",
        page.text
    );
    assert!(shown.ends_with(" UTC"));
    // Not ready, and the end within the first warning (7 days by default): flagged.
    let list = app.page("/advisories", Some(&w.sm)).await;
    assert!(
        list.text
            .contains(&format!("until <time datetime=\"{}", end.date()))
            && list.text.contains(&format!(">{shown}</time>, not ready")),
        "{}",
        list.text
    );
    let r = post(
        format!("/advisories/{id}/ready"),
        vec![("csrf", csrf.clone()), ("ready", "true".into())],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let list = app.page("/advisories", Some(&w.sm)).await;
    assert!(
        list.text
            .contains(&format!("until <time datetime=\"{}", end.date()))
            && list.text.contains(&format!(">{shown}</time>"))
            && !list.text.contains("not ready"),
        "{}",
        list.text
    );
    // The public sees none of it.
    assert!(!app.page("/advisories", None).await.text.contains(&shown));

    // The response record: one answered report, on the page as numbers and a chart.
    let r = app
        .post(
            &format!(
                "/api/v1/advisories/{}/comments",
                w.file(&app, "Answered").await
            ),
            Some(&w.maintainer),
            json!({"body": "on it"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let org = app.page("/orgs/coco", Some(&w.sm)).await;
    assert!(
        org.text.contains("Response record") && org.text.contains("<svg"),
        "{}",
        org.text
    );
    assert!(
        org.text.contains("Answered within the deadline"),
        "{}",
        org.text
    );
    for who in [
        None,
        Some(w.admin.as_str()),
        Some(w.maintainer.as_str()),
        Some(w.outsider.as_str()),
    ] {
        let t = app.page("/orgs/coco", who).await.text;
        assert!(
            !t.contains("Response record") && !t.contains("<svg"),
            "{who:?}"
        );
    }
}

on_both_backends!(
    clock_on_the_pages,
    pre_notification_for_the_audience,
    embargo_negotiation,
    ready_advisories_publish_at_the_end,
    warnings_before_the_end,
    response_reminders_and_escalation,
    case_flags,
    jobs_retry_and_survive_a_dead_instance,
);

/// Two `embargo serve` processes on one PostgreSQL database, a hundred advisories whose
/// embargoes end at the same instant: each is published once and each reporter told once,
/// whichever instance does it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_publish_each_advisory_once() {
    use reqwest::Method as M;
    const N: usize = 100;
    let url = crate::support::postgres_database_for_binary().await;
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("embargo.key");
    let env = [
        ("EMBARGO_DATABASE_URL", url.as_str()),
        ("EMBARGO_KEYS_FILE", key.to_str().unwrap()),
    ];
    let first = crate::support::Server::start(&env);
    let second = crate::support::Server::start(&env);
    let admin = first.user("admin@example.org", true, &env);
    let sm = first.user("sm@example.org", false, &env);
    let reporter = first.user("reporter@example.org", false, &env);
    crate::support::coco_over_http(&first.base, &admin, "sm@example.org").await;
    let client = reqwest::Client::new();
    let call = |base: &str, method: M, path: String, token: &str, body: Value| {
        let req = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{path}: {status} {v}");
            v
        }
    };
    call(
        &first.base,
        M::PATCH,
        "/api/v1/orgs/coco".into(),
        &sm,
        json!({"reports_per_hour": 10000}),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..N {
        // Spread the work over both instances.
        let base = if i % 2 == 0 {
            &first.base
        } else {
            &second.base
        };
        let v = call(
            base,
            M::POST,
            "/api/v1/orgs/coco/repos/guest/advisories".into(),
            &reporter,
            json!({"title": format!("Report {i}"), "description": "steps"}),
        )
        .await;
        let id = v["id"].as_str().unwrap().to_owned();
        call(
            base,
            M::POST,
            format!("/api/v1/advisories/{id}/accept"),
            &sm,
            json!({}),
        )
        .await;
        call(
            base,
            M::PATCH,
            format!("/api/v1/advisories/{id}"),
            &sm,
            json!({"vulnerabilities": [{"package": {"ecosystem": "crates.io", "name": "guest"}, "vulnerable_version_range": "< 1.0.0", "patched_versions": "1.0.0"}]}),
        )
        .await;
        ids.push(id);
    }
    // Room for 300 API calls on a loaded machine (the whole suite runs beside this test).
    let end = time::OffsetDateTime::now_utc() + Duration::seconds(30);
    for (i, id) in ids.iter().enumerate() {
        let base = if i % 2 == 0 {
            &second.base
        } else {
            &first.base
        };
        let path = format!("/api/v1/advisories/{id}/embargo");
        call(
            base,
            M::POST,
            path.clone(),
            &sm,
            json!({"action": "propose", "ends_at": rfc3339(end)}),
        )
        .await;
        call(base, M::POST, path, &sm, json!({"action": "accept"})).await;
        call(
            base,
            M::POST,
            format!("/api/v1/advisories/{id}/ready"),
            &sm,
            json!({"ready": true}),
        )
        .await;
    }
    assert!(
        time::OffsetDateTime::now_utc() < end,
        "setting up took longer than the embargo"
    );
    // Wait for both instances' jobs to publish everything (and to send the mail).
    let outboxes = [
        first.data.path().join("outbox"),
        second.data.path().join("outbox"),
    ];
    let published_mail = || {
        let mut subjects = Vec::new();
        for dir in &outboxes {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                if let Some(s) = text
                    .lines()
                    .find(|l| l.starts_with("Subject: [Embargo] Published"))
                    && text.contains("To: reporter@example.org")
                {
                    subjects.push(s.to_owned());
                }
            }
        }
        subjects
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while published_mail().len() < N && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // A little longer, so that a duplicate would have time to appear.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let mut subjects = published_mail();
    subjects.sort();
    let total = subjects.len();
    subjects.dedup();
    assert_eq!(total, N, "one publication message per advisory");
    assert_eq!(subjects.len(), N, "no message twice");
    for id in &ids {
        let events = call(
            &first.base,
            M::GET,
            format!("/api/v1/advisories/{id}/events"),
            &sm,
            Value::Null,
        )
        .await;
        let published = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "published")
            .count();
        assert_eq!(published, 1, "{id}: {events}");
    }
    // Operators see the jobs, when each is due and its last error.
    let out = first.command(&["jobs"], None, &env);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for kind in ["mail", "embargo_ends", "deadlines", "disclosure"] {
        assert!(text.contains(kind), "{text}");
    }
}

/// A server killed (SIGKILL) in the middle of a job: after a restart the job runs, and its
/// work is done once. Here the mail job hangs in an SMTP server that never answers when the
/// server is killed; restarted (writing to its outbox), it delivers the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_mid_run_runs_after_a_restart() {
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hole.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let held = held.clone();
        std::thread::spawn(move || {
            for c in hole.incoming().flatten() {
                held.lock().unwrap().push(c);
            }
        });
    }
    let smtp = format!("smtp://127.0.0.1:{port}");
    let server = crate::support::Server::start(&[("EMBARGO_MAIL_SMTP_URL", smtp.as_str())]);
    let admin = server.user("admin@example.org", true, &[]);
    server.user("sm@example.org", false, &[]);
    let reporter = server.user("reporter@example.org", false, &[]);
    crate::support::coco_over_http(&server.base, &admin, "sm@example.org").await;
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/orgs/coco/repos/guest/advisories",
            server.base
        ))
        .bearer_auth(&reporter)
        .json(&json!({"title": "Killed mid-job", "description": "steps"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The mail job is now connected to the silent server, waiting for its greeting.
    let start = std::time::Instant::now();
    while held.lock().unwrap().is_empty() {
        assert!(
            start.elapsed().as_secs() < 30,
            "the mail job never connected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let data = server.kill();
    let server = crate::support::Server::start_in(data, &[]);
    let outbox = server.data.path().join("outbox");
    let delivered = || {
        std::fs::read_dir(&outbox)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let t = std::fs::read_to_string(e.path()).unwrap_or_default();
                t.contains("To: sm@example.org") && t.contains(&id)
            })
            .count()
    };
    let start = std::time::Instant::now();
    while delivered() == 0 {
        assert!(
            start.elapsed().as_secs() < 150,
            "the interrupted delivery never ran after the restart"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(delivered(), 1, "delivered once");
}
