//! The organisation's page links its managers to the settings under `/admin` instead of
//! holding the old management forms; others see neither.

use axum::http::StatusCode;

use crate::support::{TestApp, World, on_both_backends};

async fn org_page_links_to_settings(app: TestApp) {
    let w = World::new(&app).await;
    let settings = "href=\"/admin/orgs/coco\"";
    let old_forms = [
        "action=\"/orgs/coco/policy\"",
        "/repos/guest/upstream\"",
        "/repos/guest/sync\"",
        "Change the policy",
    ];
    let p = app.page("/orgs/coco", Some(&w.sm)).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.text.contains(settings), "{}", p.text);
    for f in old_forms {
        assert!(!p.text.contains(f), "the page still has {f}");
    }
    // The link leads somewhere the manager may use.
    let admin = app.page("/admin/orgs/coco", Some(&w.sm)).await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
    assert!(admin.text.contains("action=\"/admin/orgs/coco/policy\""));
    for who in [None, Some(w.outsider.as_str()), Some(w.reporter.as_str())] {
        let p = app.page("/orgs/coco", who).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(!p.text.contains(settings), "{who:?}");
        for f in old_forms {
            assert!(!p.text.contains(f), "{who:?} sees {f}");
        }
    }
}

on_both_backends!(org_page_links_to_settings);
