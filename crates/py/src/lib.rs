//! `agent_sessions._native`: the Python binding of the agent-sessions core. The Python
//! package `agent_sessions` (python/agent_sessions) is a thin layer over this module.

mod args;
mod convert;
mod errors;
mod history;
mod lifecycle;
mod manager;
mod session;
mod stream;
mod watch;

use pyo3::prelude::*;

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<lifecycle::PyLifecycle>()?;
    m.add_class::<manager::PySessionManager>()?;
    m.add_class::<watch::PyWatchLease>()?;
    m.add_class::<session::PySession>()?;
    m.add_class::<stream::PyOutputStream>()?;
    m.add_class::<history::PyEventStream>()?;
    m.add_class::<history::PyHistoryIterator>()?;
    m.add_function(wrap_pyfunction!(lifecycle::run_hook, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PHASES", agent_sessions::lifecycle::PHASES.to_vec())?;
    m.add(
        "RESUMABLE_PHASES",
        agent_sessions::lifecycle::RESUMABLE_PHASES.to_vec(),
    )?;
    m.add(
        "FINAL_PHASES",
        agent_sessions::lifecycle::FINAL_PHASES.to_vec(),
    )?;
    m.add(
        "STATES",
        agent_sessions::State::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    )?;
    let states_where = |f: fn(agent_sessions::State) -> bool| {
        agent_sessions::State::ALL
            .into_iter()
            .filter(|s| f(*s))
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
    };
    m.add("LIVE_STATES", states_where(agent_sessions::State::is_live))?;
    m.add(
        "ENDED_STATES",
        states_where(agent_sessions::State::is_ended),
    )?;
    Ok(())
}
