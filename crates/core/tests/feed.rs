//! The feed: every session's events in one commit order, resumable by id, with filters, on
//! the real store (lifecycle records write state events through the same trigger as hosts).

mod common;

use agent_sessions::lifecycle::{Lifecycle, NewLifecycle};
use agent_sessions::{ErrorKind, FeedFilter, SessionManager};
use serde_json::{json, Value};

fn record(lc: &Lifecycle, name: &str, task: &str) -> String {
    let Value::Object(metadata) = json!({"task_id": task}) else {
        unreachable!()
    };
    lc.create_session(&NewLifecycle {
        agent_name: json!(name),
        purpose: json!("feed"),
        metadata,
        ..Default::default()
    })
    .unwrap()
}

fn all(mgr: &SessionManager, filter: &FeedFilter) -> Vec<(i64, String, i64, String)> {
    let page = mgr.feed(0, 10_000, filter).unwrap();
    page.events
        .into_iter()
        .map(|e| (e.id, e.event.session_id, e.event.seq, e.event.kind))
        .collect()
}

#[test]
fn feed_orders_every_sessions_events_and_filters_them() {
    let home = common::TempDir::new("feed");
    let lc = Lifecycle::open(Some(home.path())).unwrap();
    let mgr = SessionManager::open(Some(home.path())).unwrap();
    let start = mgr.feed_head().unwrap();
    let a = record(&lc, "alpha", "T-1");
    let b = record(&lc, "beta", "T-2");
    lc.update_state(&a, Some("planning"), None, None).unwrap();
    lc.update_state(&b, Some("executing"), None, None).unwrap();
    lc.finalize_session(&a, "completed", None).unwrap();

    let feed = all(&mgr, &FeedFilter::default());
    let fresh: Vec<_> = feed.iter().filter(|e| e.0 > start).collect();
    assert!(!fresh.is_empty());
    // Ids grow, and each session's events keep their own order and are all there.
    assert!(feed.windows(2).all(|w| w[0].0 < w[1].0));
    for id in [&a, &b] {
        let own: Vec<(i64, String)> = mgr
            .events(id, 0, 10_000)
            .unwrap()
            .into_iter()
            .map(|e| (e.seq, e.kind))
            .collect();
        let in_feed: Vec<(i64, String)> = feed
            .iter()
            .filter(|e| &e.1 == id)
            .map(|e| (e.2, e.3.clone()))
            .collect();
        assert_eq!(in_feed, own, "{id}");
    }
    // a's first event came before b's first: records made in that order.
    let first = |id: &str| feed.iter().find(|e| e.1 == id).unwrap().0;
    assert!(first(&a) < first(&b));

    // Filters: a session, a task, a kind.
    let only_b = all(
        &mgr,
        &FeedFilter {
            sessions: vec![b.clone()],
            ..Default::default()
        },
    );
    assert!(!only_b.is_empty() && only_b.iter().all(|e| e.1 == b));
    let task_1 = all(
        &mgr,
        &FeedFilter {
            task: Some("T-1".into()),
            ..Default::default()
        },
    );
    assert!(!task_1.is_empty() && task_1.iter().all(|e| e.1 == a));
    let phases = all(
        &mgr,
        &FeedFilter {
            kinds: vec!["phase".into()],
            ..Default::default()
        },
    );
    assert!(phases.iter().all(|e| e.3 == "phase"));
    assert_eq!(
        phases.iter().filter(|e| e.1 == b).count(),
        feed.iter().filter(|e| e.1 == b && e.3 == "phase").count()
    );

    // Paging: one at a time reads the same events; the last page's `next` is the head.
    let mut since = 0;
    let mut paged = Vec::new();
    loop {
        let page = mgr.feed(since, 1, &FeedFilter::default()).unwrap();
        if page.events.is_empty() {
            assert_eq!(page.next, mgr.feed_head().unwrap());
            break;
        }
        paged.extend(page.events.iter().map(|e| e.id));
        since = page.next;
    }
    assert_eq!(paged, feed.iter().map(|e| e.0).collect::<Vec<_>>());
    // A filtered read past the last match still moves to the head, so a follower does not
    // scan the skipped events again.
    let page = mgr
        .feed(
            0,
            10,
            &FeedFilter {
                task: Some("T-9".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(page.events.is_empty());
    assert_eq!(page.next, mgr.feed_head().unwrap());

    // A removed session's events leave the feed; cleanup purges what rm left behind.
    mgr.remove(&a).unwrap();
    assert!(all(&mgr, &FeedFilter::default()).iter().all(|e| e.1 != a));
    let head = mgr.feed_head().unwrap();
    lc.update_state(&b, Some("validating"), None, None).unwrap();
    assert!(mgr.feed_head().unwrap() > head, "ids are never reused");

    // Bad ids in the filter are refused before they reach the store.
    let err = mgr
        .feed(
            0,
            10,
            &FeedFilter {
                sessions: vec!["../etc".into()],
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSessionId);
}
