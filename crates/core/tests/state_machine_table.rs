//! The state machine's table, checked as a graph: every state is reachable from where a
//! session of its kind starts, every live state has a way to an ending, an ended hosted
//! session is left only by a resume, and `is_legal` says exactly what the table says. The
//! table in docs/ARCHITECTURE.md is generated from `TRANSITIONS` and must match it.

use agent_sessions::state::{is_legal, Rule, Source, State, TRANSITIONS};
use agent_sessions::SessionKind;
use std::collections::{BTreeSet, HashSet, VecDeque};

const KINDS: [SessionKind; 2] = [SessionKind::Hosted, SessionKind::Record];

fn rules(kind: SessionKind) -> impl Iterator<Item = &'static Rule> {
    TRANSITIONS.iter().filter(move |r| r.kind == kind)
}

/// The states a new session of `kind` may begin in.
fn start_states(kind: SessionKind) -> Vec<State> {
    rules(kind)
        .filter(|r| r.from.is_empty())
        .map(|r| r.to)
        .collect()
}

/// Every state a move of `kind` goes to or comes from.
fn mentioned(kind: SessionKind) -> BTreeSet<&'static str> {
    rules(kind)
        .flat_map(|r| r.from.iter().copied().chain([r.to]))
        .map(State::as_str)
        .collect()
}

/// The states reachable from `from` by the moves of `kind` (staying is not a move).
fn reachable(kind: SessionKind, from: &[State]) -> HashSet<State> {
    let mut seen: HashSet<State> = from.iter().copied().collect();
    let mut queue: VecDeque<State> = from.iter().copied().collect();
    while let Some(s) = queue.pop_front() {
        for r in rules(kind).filter(|r| r.from.contains(&s) && r.to != s) {
            if seen.insert(r.to) {
                queue.push_back(r.to);
            }
        }
    }
    seen
}

#[test]
fn every_state_is_reachable_from_the_start_of_its_kind() {
    let hosted = start_states(SessionKind::Hosted);
    assert_eq!(
        hosted,
        [State::Starting],
        "a hosted session starts in starting only"
    );
    let got = reachable(SessionKind::Hosted, &hosted);
    for s in State::ALL {
        assert!(got.contains(&s), "hosted: {s} is unreachable from starting");
    }
    for kind in KINDS {
        let starts = start_states(kind);
        assert!(!starts.is_empty(), "{}: no start state", kind.as_str());
        let got: BTreeSet<&str> = reachable(kind, &starts)
            .into_iter()
            .map(State::as_str)
            .collect();
        assert_eq!(
            got,
            mentioned(kind),
            "{}: states in its rules that no session can reach",
            kind.as_str()
        );
    }
}

#[test]
fn every_live_state_has_a_way_to_an_ending() {
    for kind in KINDS {
        for s in reachable(kind, &start_states(kind)) {
            if s.is_ended() {
                continue;
            }
            assert!(
                reachable(kind, &[s]).iter().any(|t| t.is_ended()),
                "{}: a session in {s} can never end",
                kind.as_str()
            );
        }
    }
}

#[test]
fn every_rule_names_a_source_and_a_reason() {
    for r in TRANSITIONS {
        assert!(!r.sources.is_empty(), "no source may make {r:?}");
        assert!(!r.why.trim().is_empty(), "{r:?} says not why it exists");
        assert!(!r.why.contains('|'), "{r:?}: a '|' breaks the docs' table");
    }
}

/// `is_legal` by expanding the table into every single move it lists, computed apart from
/// `is_legal` itself.
#[test]
fn is_legal_agrees_with_the_table_everywhere() {
    let mut listed: HashSet<(&str, Option<State>, State, Source)> = HashSet::new();
    for r in TRANSITIONS {
        let froms: Vec<Option<State>> = if r.from.is_empty() {
            vec![None]
        } else {
            r.from.iter().copied().map(Some).collect()
        };
        for f in froms {
            for &s in r.sources {
                listed.insert((r.kind.as_str(), f, r.to, s));
            }
        }
    }
    let froms = std::iter::once(None).chain(State::ALL.into_iter().map(Some));
    for kind in KINDS {
        for from in froms.clone() {
            for to in State::ALL {
                for source in Source::ALL {
                    // Staying in a state is not a move: the state machine answers `Same`.
                    let want =
                        from != Some(to) && listed.contains(&(kind.as_str(), from, to, source));
                    assert_eq!(
                        is_legal(kind, from, to, source),
                        want,
                        "is_legal({}, {from:?}, {to}, {source})",
                        kind.as_str()
                    );
                }
            }
        }
    }
}

#[test]
fn an_ended_hosted_session_is_left_only_by_a_resume() {
    let ended: Vec<State> = State::ALL.into_iter().filter(|s| s.is_ended()).collect();
    assert_eq!(
        ended,
        [
            State::Stopped,
            State::Failed,
            State::Unknown,
            State::Suspended
        ]
    );
    for from in &ended {
        for to in State::ALL {
            for source in Source::ALL {
                let resume = to == State::Starting && source == Source::User;
                assert_eq!(
                    is_legal(SessionKind::Hosted, Some(*from), to, source),
                    resume,
                    "hosted {from} -> {to} by {source}: only a resume (user, to starting) leaves an ended state"
                );
            }
        }
    }
}

#[test]
fn each_source_keeps_to_its_own_moves() {
    for r in TRANSITIONS {
        match r.kind {
            // Records have no process: only their phase moves them.
            SessionKind::Record => assert_eq!(r.sources, [Source::Phase], "{r:?}"),
            SessionKind::Hosted => assert!(!r.sources.contains(&Source::Phase), "{r:?}"),
        }
        if r.sources.contains(&Source::Liveness) {
            // A reader that found no lock holder may only say so.
            assert_eq!(r.to, State::Unknown, "{r:?}");
            assert!(r.from.iter().all(|s| s.is_live()), "{r:?}");
        }
        if r.kind == SessionKind::Hosted && r.to.is_ended() {
            // Only the process ends a hosted session, or the liveness check its vanishing.
            let by = if r.to == State::Unknown {
                Source::Liveness
            } else {
                Source::Process
            };
            assert_eq!(r.sources, [by], "{r:?}");
        }
    }
}

// ---- the docs' table ------------------------------------------------------------------------

const BEGIN: &str = "<!-- state-table:begin -->";
const END: &str = "<!-- state-table:end -->";

/// The markdown table of every move, one row per rule, as docs/ARCHITECTURE.md shows it.
/// `from` leaves out the rule's own target: staying in a state is not a move.
fn markdown_table() -> String {
    let mut out = String::from("| kind | from → to | sources | why |\n|---|---|---|---|\n");
    for r in TRANSITIONS {
        let from: Vec<&str> = r
            .from
            .iter()
            .filter(|s| **s != r.to)
            .map(|s| s.as_str())
            .collect();
        let from = if r.from.is_empty() {
            "(new)".to_string()
        } else {
            from.join(", ")
        };
        let sources: Vec<&str> = r.sources.iter().map(|s| s.as_str()).collect();
        out.push_str(&format!(
            "| {} | {from} → {} | {} | {} |\n",
            r.kind.as_str(),
            r.to,
            sources.join(", "),
            r.why
        ));
    }
    out
}

#[test]
fn the_docs_show_the_table_as_it_is() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap();
    let path = root.join("docs/ARCHITECTURE.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let want = markdown_table();
    let shown = doc
        .split_once(BEGIN)
        .and_then(|(_, rest)| rest.split_once(END));
    let Some((shown, _)) = shown else {
        panic!(
            "{} has no state table between {BEGIN} and {END}; add this under \"## The state machine\":\n\n{BEGIN}\n{want}{END}\n",
            path.display()
        );
    };
    assert!(
        shown.trim() == want.trim(),
        "the state table in {} differs from TRANSITIONS (crates/core/src/model/state.rs); replace everything between the markers with:\n\n{BEGIN}\n{want}{END}\n",
        path.display()
    );
}
