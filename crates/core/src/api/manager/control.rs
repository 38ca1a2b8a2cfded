//! Steering a live session: input, interrupts, resizes, stops, and waiting for a state.

use super::SessionManager;
use crate::config::defaults::DEFAULT_STOP_TIMEOUT;
use crate::model::error::{Error, Result};
use crate::model::protocol::{SendRequest, StopRequest, Tag, MAX_END_WAIT_SECS};
use crate::model::record::{SessionKind, SessionRecord};
use crate::model::state::{State, States};
use crate::services::client;
use crate::store::ListFilter;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Stop requests [`SessionManager::stop_many`] keeps in flight at once. Each is a thread
/// waiting on its host's socket (no CPU), while the hosts end their agents and record the
/// endings in parallel; more would mostly queue on the store's write lock.
pub const STOP_PARALLEL: usize = 64;

impl SessionManager {
    /// Types `text`, then Enter unless `enter` is false.
    pub fn send(&self, session_id: &str, text: &str, enter: bool) -> Result<()> {
        self.live(session_id, "receive input")?;
        let req = serde_json::to_vec(&SendRequest {
            text: text.to_string(),
            enter,
        })
        .expect("send request serializes");
        self.request(session_id, Tag::Send, &req).map(drop)
    }

    /// Sends named keys (`Enter`, `Esc`, `C-c`, ...; see [`crate::config::keys`]).
    pub fn send_keys<S: AsRef<str>>(&self, session_id: &str, keys: &[S]) -> Result<()> {
        let bytes = crate::config::keys::keys_bytes(keys)?;
        self.send_bytes(session_id, &bytes)
    }

    /// Sends raw bytes to the agent's terminal.
    pub fn send_bytes(&self, session_id: &str, bytes: &[u8]) -> Result<()> {
        self.live(session_id, "receive input")?;
        self.request(session_id, Tag::Input, bytes).map(drop)
    }

    /// Interrupts the agent's current turn (Esc or Ctrl-C, as many presses as the agent
    /// needs), not the agent. The state follows from the screen (or the agent's hooks).
    pub fn interrupt(&self, session_id: &str) -> Result<()> {
        self.live(session_id, "be interrupted")?;
        self.request(session_id, Tag::Interrupt, b"").map(drop)
    }

    /// Resizes the session's terminal.
    pub fn resize(&self, session_id: &str, cols: u16, rows: u16) -> Result<()> {
        self.live(session_id, "be resized")?;
        let req = serde_json::json!({"cols": cols, "rows": rows}).to_string();
        self.request(session_id, Tag::Resize, req.as_bytes())
            .map(drop)
    }

    /// Stops a session: the agent's quit sequence, SIGTERM to its process group, SIGKILL
    /// after `timeout` (at once with `force`). Stopping an ended session succeeds and changes
    /// nothing.
    pub fn stop(
        &self,
        session_id: &str,
        timeout: Option<Duration>,
        force: bool,
    ) -> Result<SessionRecord> {
        let rec = self.get(session_id)?;
        if rec.state.is_ended() {
            return Ok(rec);
        }
        if rec.kind == SessionKind::Record {
            // Nothing runs; ending a record is finalizing it (lifecycle API).
            return Err(Error::NoProcess {
                id: rec.session_id,
                action: "be stopped (finalize the record instead)",
            });
        }
        let req = StopRequest {
            timeout_secs: timeout.unwrap_or(DEFAULT_STOP_TIMEOUT).as_secs_f64(),
            force,
            suspend: false,
        };
        self.store.get()?.record_event(
            session_id,
            "user",
            crate::api::manager::events::kind::STOP,
            &serde_json::json!({"force": force, "timeout_secs": req.timeout_secs}),
        )?;
        let payload = serde_json::to_vec(&req).expect("stop request serializes");
        match self.request(session_id, Tag::Stop, &payload) {
            Ok(_) => {}
            // The host ended between our check and the request; the record tells the truth.
            Err(Error::SessionNotRunning { .. }) => {}
            Err(e) => return Err(e),
        }
        self.get(session_id)
    }

    /// Stops many sessions at once (`stop --all`): one list read, the `stop` events of all
    /// of them in one transaction, then the stop requests in parallel, at most
    /// `STOP_PARALLEL` (64) in flight (each waits for its host to record the ending), and one
    /// list read for the final records. Each id gets its own outcome, in the order given:
    /// the record it ended with (an ended session is returned as it is, as by
    /// [`SessionManager::stop`]), or the error that kept it from stopping. The outer error
    /// is a store failure that stops nothing.
    ///
    /// With agents that ignore SIGTERM each request takes up to `timeout`, so the whole
    /// call takes about `timeout` times the number of sessions over `STOP_PARALLEL` (64).
    pub fn stop_many(
        &self,
        ids: &[String],
        timeout: Option<Duration>,
        force: bool,
    ) -> Result<Vec<Result<SessionRecord>>> {
        let req = StopRequest {
            timeout_secs: timeout.unwrap_or(DEFAULT_STOP_TIMEOUT).as_secs_f64(),
            force,
            suspend: false,
        };
        let mut known: HashMap<String, SessionRecord> = self
            .list(&ListFilter::default())?
            .into_iter()
            .map(|r| (r.session_id.clone(), r))
            .collect();
        // None: to be stopped; Some: already decided.
        let mut outcomes: Vec<Option<Result<SessionRecord>>> = ids
            .iter()
            .map(|id| match crate::model::id::validate(id) {
                Err(e) => Some(Err(e)),
                Ok(_) => match known.get(id) {
                    None => Some(Err(Error::SessionNotFound(id.clone()))),
                    Some(rec) if rec.state.is_ended() => Some(Ok(rec.clone())),
                    Some(rec) if rec.kind == SessionKind::Record => Some(Err(Error::NoProcess {
                        id: rec.session_id.clone(),
                        action: "be stopped (finalize the record instead)",
                    })),
                    Some(_) => None,
                },
            })
            .collect();
        let mut todo: Vec<&str> = Vec::new();
        for (id, o) in ids.iter().zip(&outcomes) {
            if o.is_none() && !todo.contains(&id.as_str()) {
                todo.push(id);
            }
        }
        if todo.is_empty() {
            return Ok(outcomes.into_iter().map(Option::unwrap).collect());
        }
        let data = serde_json::json!({"force": force, "timeout_secs": req.timeout_secs});
        self.store.get()?.write(|tx| {
            for id in &todo {
                // Removed since the list (a racing `rm`): nothing to record, and its stop
                // request will find no host.
                if !tx
                    .prepare_cached("SELECT 1 FROM sessions WHERE id = ?1")?
                    .exists([id])?
                {
                    continue;
                }
                crate::store::events::insert(
                    tx,
                    id,
                    "user",
                    crate::api::manager::events::kind::STOP,
                    &data,
                )?;
            }
            Ok(())
        })?;
        let payload = serde_json::to_vec(&req).expect("stop request serializes");
        let next = AtomicUsize::new(0);
        let failed: Mutex<HashMap<&str, Error>> = Mutex::new(HashMap::new());
        std::thread::scope(|scope| {
            for _ in 0..todo.len().min(STOP_PARALLEL) {
                scope.spawn(|| loop {
                    let Some(&id) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        return;
                    };
                    match self.request(id, Tag::Stop, &payload) {
                        // Ended between our list and the request: the record tells.
                        Ok(_) | Err(Error::SessionNotRunning { .. }) => {}
                        Err(e) => {
                            failed.lock().insert(id, e);
                        }
                    }
                });
            }
        });
        let mut failed = failed.into_inner();
        let after = self.list(&ListFilter::default())?;
        known.clear();
        known.extend(after.into_iter().map(|r| (r.session_id.clone(), r)));
        for (id, o) in ids.iter().zip(outcomes.iter_mut()) {
            if o.is_none() {
                *o = Some(match failed.remove(id.as_str()) {
                    Some(e) => Err(e),
                    None => known
                        .get(id)
                        .cloned()
                        .ok_or_else(|| Error::SessionNotFound(id.clone())),
                });
            }
        }
        Ok(outcomes.into_iter().map(Option::unwrap).collect())
    }

    /// Waits until the session is in `wanted`. Fails at once when `wanted` can no longer
    /// come (the session ended in another state), and with [`Error::Timeout`] after
    /// `timeout`.
    pub fn wait_for(
        &self,
        session_id: &str,
        wanted: State,
        timeout: Option<Duration>,
    ) -> Result<SessionRecord> {
        self.wait_for_any(session_id, &[wanted], timeout)
    }

    /// Waits until the session is in any of `wanted` (for example running or waiting_input:
    /// "ready"). Fails at once when none of them can come any more, and with
    /// [`Error::Timeout`] after `timeout`. An empty `wanted` is an error.
    pub fn wait_for_any(
        &self,
        session_id: &str,
        wanted: &[State],
        timeout: Option<Duration>,
    ) -> Result<SessionRecord> {
        if wanted.is_empty() {
            return Err(Error::InvalidArgument(
                "wait needs at least one state to wait for".into(),
            ));
        }
        let start = Instant::now();
        let mut pause = Duration::from_millis(2);
        // Waiting for an ending only: the host tells us when it recorded one (see
        // `ending_from_host`), so `wait` returns right after it instead of up to a poll
        // interval later. Polling stays as the fallback (no host yet, an older host).
        let mut ask_host = wanted.iter().all(|w| w.is_ended());
        loop {
            let rec = self.get(session_id)?;
            if wanted.contains(&rec.state) {
                return Ok(rec);
            }
            if !wanted.iter().any(|&w| reachable(rec.state, w)) {
                return Err(Error::StateUnreachable {
                    id: rec.session_id,
                    wanted: States(wanted.to_vec()),
                    current: rec.state,
                });
            }
            if let Some(t) = timeout {
                if start.elapsed() >= t {
                    return Err(Error::Timeout {
                        id: rec.session_id,
                        wanted: States(wanted.to_vec()),
                        current: rec.state,
                        secs: t.as_secs_f64(),
                    });
                }
            }
            if ask_host && rec.kind != SessionKind::Record {
                let left = timeout.map(|t| t.saturating_sub(start.elapsed()));
                match self.ending_from_host(session_id, left) {
                    // Recorded: read it now. Once only: should the store still show the
                    // session live (its write is being retried), polling takes over.
                    Ok(true) => {
                        ask_host = false;
                        continue;
                    }
                    // The host's own bound passed: look at the store and ask again.
                    Ok(false) => continue,
                    // No socket (not listening yet, or gone: the store tells which) or a
                    // host that does not know the request: poll.
                    Err(refused) => ask_host = !refused,
                }
            }
            // The store is shared by processes with no notification channel; poll it, starting
            // fast for short waits and backing off to 20 ms.
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

impl SessionManager {
    /// Asks the session's host to answer once the session's ending is recorded, for at most
    /// `left` (and the host's own bound, [`MAX_END_WAIT_SECS`]). `Ok(true)`: the host
    /// recorded the ending or is gone (the connection closed: a killed host, whose session
    /// the store now reads as `unknown`); `Ok(false)`: the bound passed first. `Err(true)`:
    /// the host refused the request (an older host); `Err(false)`: no host to ask now.
    fn ending_from_host(
        &self,
        session_id: &str,
        left: Option<Duration>,
    ) -> std::result::Result<bool, bool> {
        let path = self.home.socket_path(session_id).map_err(|_| false)?;
        let secs = left.map_or(MAX_END_WAIT_SECS, |l| {
            l.as_secs_f64().min(MAX_END_WAIT_SECS)
        });
        let payload = serde_json::json!({ "timeout_secs": secs }).to_string();
        // The host answers by its bound; the margin covers a busy machine, not a hung host.
        let read_for = Duration::from_secs_f64(secs) + Duration::from_secs(5);
        match client::request(&path, Tag::WaitEnd, payload.as_bytes(), Some(read_for)) {
            Ok(reply) if reply.get("ok").and_then(|v| v.as_bool()) == Some(true) => {
                Ok(reply.get("ended").and_then(|v| v.as_bool()) == Some(true))
            }
            Ok(_) => Err(true),
            // Connected, then cut off without a reply: the host died (or exited) meanwhile.
            Err(Error::Protocol(_)) => Ok(true),
            Err(Error::Io { source, .. })
                if !matches!(
                    source.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) && source.kind() != std::io::ErrorKind::WouldBlock
                    && source.kind() != std::io::ErrorKind::TimedOut =>
            {
                Ok(true)
            }
            Err(_) => Err(false),
        }
    }
}

/// Can a session in `current` still reach `wanted` without a new request? (A suspended or
/// ended session changes only through `resume`, which `wait` does not anticipate.)
fn reachable(current: State, wanted: State) -> bool {
    use State::*;
    match current {
        Stopped | Failed | Unknown | Suspended => false,
        Stopping => matches!(wanted, Stopped | Failed | Unknown | Suspended),
        Starting | Running | WaitingInput | Paused => wanted != Starting,
    }
}
