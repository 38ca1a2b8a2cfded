//! Helpers of the state machine tests: sessions to write to, row snapshots and the history
//! checks every test applies.
#![allow(dead_code)]

use agent_sessions::model::event::MAX_PAGE;
use agent_sessions::state::{is_legal, Source, State};
use agent_sessions::store::{NewSession, Store};
use agent_sessions::{Event, SessionKind, Transition};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

/// The sessions the writers share.
pub const IDS: [&str; 2] = [
    "agent-20260101-000000-0000aaaa",
    "agent-20260101-000000-0000bbbb",
];

/// The cause of every session's first history row.
pub const INSERT_CAUSE: &str = "start requested";

/// A hosted session as the starter inserts it.
pub fn new_session(id: &str) -> NewSession {
    NewSession {
        cause: INSERT_CAUSE.into(),
        cols: 80,
        rows: 24,
        ..NewSession::hosted(id, "custom", &["cat"])
    }
}

/// `Ok` when `ok`, else the message.
pub fn check(ok: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(msg())
    }
}

/// A plain connection to the home's store for the tests' own reads (consistent snapshots in
/// a read transaction, which the store's API does not offer).
pub fn reader(home: &agent_sessions::home::Home) -> Connection {
    let conn = Connection::open(home.db_path()).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    conn
}

/// Everything stored about one session that a change may touch.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub state: State,
    /// Every column of its `sessions` row.
    pub row: Vec<Value>,
    pub transitions: i64,
    pub state_events: i64,
    pub events: i64,
}

pub fn snapshot(c: &Connection, id: &str) -> rusqlite::Result<Snapshot> {
    let (state, row) = c.query_row("SELECT state, * FROM sessions WHERE id = ?1", [id], |r| {
        let n = r.as_ref().column_count();
        let state: String = r.get(0)?;
        let row = (1..n)
            .map(|i| r.get::<_, Value>(i))
            .collect::<rusqlite::Result<_>>()?;
        Ok((state, row))
    })?;
    let count = |sql: &str| c.query_row(sql, [id], |r| r.get::<_, i64>(0));
    Ok(Snapshot {
        state: state.parse().expect("a stored state has a known name"),
        row,
        transitions: count("SELECT COUNT(*) FROM transitions WHERE session_id = ?1")?,
        state_events: count(
            "SELECT COUNT(*) FROM events WHERE session_id = ?1 AND kind = 'state'",
        )?,
        events: count("SELECT COUNT(*) FROM events WHERE session_id = ?1")?,
    })
}

/// One session's state and history, read together.
#[derive(Debug)]
pub struct History {
    pub id: String,
    pub kind: SessionKind,
    pub state: State,
    pub transitions: Vec<Transition>,
    /// Its `state` events.
    pub events: Vec<Event>,
}

/// Through the store's API: the record, its transitions both ways, its events.
pub fn history_via_store(store: &Store, id: &str) -> Result<History, String> {
    let rec = store
        .get(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{id} is gone"))?;
    let transitions = store.transitions(id).map_err(|e| e.to_string())?;
    check(rec.transitions == transitions, || {
        format!("{id}: SessionRecord.transitions differs from Store::transitions")
    })?;
    let events = store
        .events(id, 0, MAX_PAGE)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|e| e.kind == "state")
        .collect();
    Ok(History {
        id: id.into(),
        kind: rec.kind,
        state: rec.state,
        transitions,
        events,
    })
}

/// Through SQL on `c` (inside the caller's read transaction, for a consistent snapshot while
/// others write).
pub fn history_in(c: &Connection, id: &str) -> rusqlite::Result<History> {
    let (kind, state): (String, String) = c
        .query_row(
            "SELECT kind, state FROM sessions WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .expect("the session exists");
    let parse = |s: String| s.parse::<State>().expect("a stored state has a known name");
    let mut st = c.prepare(
        "SELECT from_state, to_state, at, cause, source FROM transitions
         WHERE session_id = ?1 ORDER BY seq",
    )?;
    let transitions = st
        .query_map([id], |r| {
            Ok(Transition {
                from: r.get::<_, Option<String>>(0)?.map(parse),
                to: parse(r.get(1)?),
                at: r.get(2)?,
                cause: r.get(3)?,
                source: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut st = c.prepare(
        "SELECT seq, at, source, kind, data FROM events
         WHERE session_id = ?1 AND kind = 'state' ORDER BY seq",
    )?;
    let events = st
        .query_map([id], |r| {
            Ok(Event {
                session_id: id.into(),
                seq: r.get(0)?,
                at: r.get(1)?,
                source: r.get(2)?,
                kind: r.get(3)?,
                data: serde_json::from_str(&r.get::<_, String>(4)?).expect("event data is JSON"),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(History {
        id: id.into(),
        kind: if kind == "record" {
            SessionKind::Record
        } else {
            SessionKind::Hosted
        },
        state: parse(state),
        transitions,
        events,
    })
}

pub fn source(name: &str) -> Option<Source> {
    Source::ALL.into_iter().find(|s| s.as_str() == name)
}

/// (a) every row is a legal move chained to the one before, and the `state` events say the
/// same; (b) the state is where the last row ended; (c) an ended state is left only by a
/// resume.
pub fn check_history(h: &History) -> Result<(), String> {
    let rows = &h.transitions;
    check(!rows.is_empty(), || "no history".into())?;
    let mut prev: Option<State> = None;
    for (i, t) in rows.iter().enumerate() {
        let src = source(&t.source).ok_or_else(|| format!("row {i}: unknown source {t:?}"))?;
        check(t.from == prev, || {
            format!(
                "row {i} starts at {:?}, the row before ended at {prev:?}",
                t.from
            )
        })?;
        check(is_legal(h.kind, t.from, t.to, src), || {
            format!(
                "row {i}: {:?} -> {} by {src} is not in the table",
                t.from, t.to
            )
        })?;
        if let Some(p) = prev.filter(|p| p.is_ended() && h.kind == SessionKind::Hosted) {
            check(t.to == State::Starting && src == Source::User, || {
                format!(
                    "row {i}: the ending {p} was left by {src} to {}, not by a resume",
                    t.to
                )
            })?;
        }
        prev = Some(t.to);
    }
    check(Some(h.state) == prev, || {
        format!("the state is {} but the history ends at {prev:?}", h.state)
    })?;
    check(h.events.len() == rows.len(), || {
        format!(
            "{} state events for {} history rows",
            h.events.len(),
            rows.len()
        )
    })?;
    for (i, (e, t)) in h.events.iter().zip(rows).enumerate() {
        let from = t.from.map(State::as_str);
        check(
            e.source == t.source
                && e.data["from"].as_str() == from
                && e.data["to"].as_str() == Some(t.to.as_str())
                && e.data["cause"].as_str() == Some(t.cause.as_str()),
            || format!("state event {i} {:?} is not history row {t:?}", e.data),
        )?;
    }
    Ok(())
}
