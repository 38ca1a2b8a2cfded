//! The usage series in the real store: a point per change of a session's stored figures,
//! none for an unchanged or empty set, in order even when the clock goes back, and gone
//! with the session.

mod common;
use common::TempDir;

use agent_sessions::home::Home;
use agent_sessions::services::state_machine;
use agent_sessions::store::{NewSession, Store};
use agent_sessions::usage::TokenUsage;
use agent_sessions::Source;

fn session(store: &Store, id: &str) {
    state_machine::insert(
        store,
        &NewSession {
            cause: "test".into(),
            ..NewSession::hosted(id, "claude", &["claude"])
        },
        Source::User,
        &vec![],
    )
    .unwrap();
}

fn usage(input: u64, cost: f64) -> TokenUsage {
    TokenUsage {
        tokens_input: Some(input),
        tokens_output: Some(10),
        cost_usd: Some(cost),
        source: Some("claude-transcript".into()),
        ..TokenUsage::default()
    }
}

/// A point's time, input tokens, total tokens and cost.
type Seen = (i64, Option<u64>, Option<u64>, Option<f64>);

#[test]
fn a_point_is_kept_per_change_of_the_stored_figures() {
    let dir = TempDir::new("points");
    let home = Home::resolve(Some(&dir.path().join("home"))).unwrap();
    let store = Store::open(&home).unwrap();
    session(&store, "s-a");
    session(&store, "s-b");

    // No figure at all: no point.
    store
        .store_usage("s-a", &TokenUsage::default(), 1_000)
        .unwrap();
    assert!(store.usage_points("s-a", 0, 100).unwrap().is_empty());

    store.store_usage("s-a", &usage(100, 0.5), 2_000).unwrap();
    // The same figures again (a later look, the end): no second point.
    store.store_usage("s-a", &usage(100, 0.5), 3_000).unwrap();
    store.store_usage("s-a", &usage(250, 1.25), 4_000).unwrap();
    // The clock went back: the point still comes after the last one.
    store.store_usage("s-a", &usage(300, 1.5), 3_500).unwrap();
    // Another session's figures are its own.
    store.store_usage("s-b", &usage(7, 0.01), 2_500).unwrap();

    let points = store.usage_points("s-a", 0, 100).unwrap();
    let seen: Vec<Seen> = points
        .iter()
        .map(|p| (p.at_ms, p.tokens_input, p.total_tokens, p.cost_usd))
        .collect();
    assert_eq!(
        seen,
        vec![
            (2_000, Some(100), Some(110), Some(0.5)),
            (4_000, Some(250), Some(260), Some(1.25)),
            (4_001, Some(300), Some(310), Some(1.5)),
        ]
    );
    assert_eq!(store.usage_points("s-a", 4_000, 100).unwrap().len(), 2);
    assert_eq!(store.usage_points("s-a", 0, 1).unwrap().len(), 1);
    assert_eq!(store.usage_points("s-b", 0, 100).unwrap().len(), 1);

    // Figures of a session that does not exist are not kept, and a removed session's go.
    store.store_usage("s-none", &usage(1, 0.1), 5_000).unwrap();
    assert!(store.usage_points("s-none", 0, 100).unwrap().is_empty());
    assert!(store.delete("s-a").unwrap());
    assert!(store.usage_points("s-a", 0, 100).unwrap().is_empty());
    assert_eq!(store.usage_points("s-b", 0, 100).unwrap().len(), 1);
}

#[test]
fn a_cost_that_is_not_a_number_is_stored_as_unknown() {
    let dir = TempDir::new("points-nan");
    let home = Home::resolve(Some(&dir.path().join("home"))).unwrap();
    let store = Store::open(&home).unwrap();
    session(&store, "s-n");
    store
        .store_usage("s-n", &usage(5, f64::NAN), 1_000)
        .unwrap();
    let points = store.usage_points("s-n", 0, 100).unwrap();
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].cost_usd, None);
    assert_eq!(points[0].tokens_input, Some(5));
}
