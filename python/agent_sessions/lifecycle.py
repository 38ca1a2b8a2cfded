"""Lifecycle records: the API of the reference hook library ``agent_session.py``.

``AgentSession(base_path)`` keeps sessions under ``base_path`` (one folder per session holding
a ``state.json`` that mirrors the record, as the reference did) and in the SQLite store
``<base_path>/agent-sessions.db``, which is the same store hosted sessions use. With no
``base_path``, and for the module-level functions, that is the default sessions home:
``$AGENT_SESSIONS_HOME``, else ``$XDG_STATE_HOME/agent-sessions``, else
``~/.local/state/agent-sessions``, so hooks, the CLI and ``SessionManager`` all see the same
sessions. Pass ``base_path=".claude/session"`` for the reference library's own location.

Return conventions are the reference's: ``update_state``/``finalize_session`` return a bool,
an unknown session gives False (or None from ``get_session``), an invalid phase returns
False, and store failures are logged (logger ``agent_sessions``) and answered with
False/None/0/[]. ``AgentSession(strict=True)`` raises instead (``InvalidPhaseError``,
``StoreError``, ...).
"""

from __future__ import annotations

import os

from . import _native
from ._errors import AgentSessionsError, InvalidPhaseError, InvalidSessionIdError

# Not `from typing import TYPE_CHECKING`: importing typing costs milliseconds that hooks pay at
# every start. Type checkers treat any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Callable, Dict, List, Optional, Tuple, Type, TypeVar, Union

    T = TypeVar("T")

__all__ = [
    "AgentSession",
    "VALID_PHASES",
    "RESUMABLE_PHASES",
    "FINAL_PHASES",
    "create_session",
    "update_state",
    "should_resume",
    "get_session",
    "finalize_session",
    "cleanup_old_sessions",
    "list_sessions",
]

#: Every valid phase.
VALID_PHASES = tuple(_native.PHASES)
#: Phases a session can be resumed from (by default).
RESUMABLE_PHASES = tuple(_native.RESUMABLE_PHASES)
#: Phases that end a session.
FINAL_PHASES = tuple(_native.FINAL_PHASES)


def _state_files_default(base_path: Any) -> bool:
    """Whether an ``AgentSession`` mirrors records into ``state.json`` when not told:
    ``$AGENT_SESSIONS_STATE_FILES`` (``1``/``0``) when set, else only for a ``base_path``
    given explicitly (the reference layout, e.g. ``.claude/session``, which other tools may
    read). The default home keeps records in the store alone: a write is then one SQLite
    transaction, with no folder or file per session."""
    env = os.environ.get("AGENT_SESSIONS_STATE_FILES")
    if env is not None and env.strip() != "":
        return env.strip().lower() not in ("0", "false", "no", "off")
    return base_path is not None


def _log_failure(op: str, agent_id: Any, exc: BaseException) -> None:
    import logging

    logging.getLogger("agent_sessions").warning("%s(%r) failed: %s", op, agent_id, exc)


class AgentSession:
    """Lifecycle records under ``base_path`` (the default sessions home when None).

    The resume thresholds are class attributes that instances (keyword arguments) or
    subclasses may override: a session resumes when ``resume_ready`` is set, its phase is in
    ``RESUMABLE_PHASES``, its last activity is less than ``RESUME_TIMEOUT_MINUTES`` ago and
    its ``error_count`` is below ``MAX_ERROR_COUNT``.
    """

    VALID_PHASES = VALID_PHASES
    RESUMABLE_PHASES = RESUMABLE_PHASES
    FINAL_PHASES = FINAL_PHASES
    RESUME_TIMEOUT_MINUTES: float = 30
    MAX_ERROR_COUNT: int = 3

    def __init__(
        self,
        base_path: Union[str, "os.PathLike[str]", None] = None,
        *,
        resume_timeout_minutes: Optional[float] = None,
        max_error_count: Optional[int] = None,
        resumable_phases: Optional[Any] = None,
        strict: bool = False,
        state_files: Optional[bool] = None,
    ) -> None:
        if state_files is None:
            state_files = _state_files_default(base_path)
        self._lc = _native.Lifecycle(base_path, bool(state_files))
        self._strict = strict
        if resume_timeout_minutes is not None:
            self.RESUME_TIMEOUT_MINUTES = resume_timeout_minutes
        if max_error_count is not None:
            self.MAX_ERROR_COUNT = max_error_count
        if resumable_phases is not None:
            self.RESUMABLE_PHASES = tuple(resumable_phases)

    @property
    def base_path(self) -> "Path":
        """The folder sessions live in (absolute)."""
        from pathlib import Path

        return Path(self._lc.home)

    def _failed(self, op: str, agent_id: Any, exc: AgentSessionsError) -> None:
        if self._strict:
            raise exc
        _log_failure(op, agent_id, exc)

    # -- the reference API ---------------------------------------------------------------

    def create_session(
        self,
        agent_id: Optional[str] = None,
        agent_name: Optional[str] = None,
        purpose: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> str:
        """Creates a session (phase initializing) and returns its id,
        ``agent-YYYYMMDD-HHMMSS-<8 hex>`` unless ``agent_id`` is given."""
        return self._lc.create_session(agent_id, agent_name, purpose, metadata)

    def update_state(
        self,
        agent_id: str,
        phase: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
        error: Optional[str] = None,
    ) -> bool:
        """Sets the phase (recording a history entry), merges metadata, records an error.
        False for an unknown session or an invalid phase."""
        return self._guarded(
            "update_state",
            agent_id,
            False,
            lambda: self._lc.update_state(agent_id, phase, metadata, error),
            logged=(InvalidPhaseError, TypeError),
        )

    def should_resume(self, agent_id: str) -> bool:
        """True when the session can be resumed now (see the class documentation)."""
        return self._guarded(
            "should_resume",
            agent_id,
            False,
            lambda: self._lc.should_resume(
                agent_id,
                float(self.RESUME_TIMEOUT_MINUTES) * 60.0,
                int(self.MAX_ERROR_COUNT),
                list(self.RESUMABLE_PHASES),
            ),
        )

    def get_session(self, agent_id: str) -> Optional[Dict[str, Any]]:
        """The whole record (the reference schema), or None."""
        return self._guarded("get_session", agent_id, None, lambda: self._lc.get_session(agent_id))

    def finalize_session(self, agent_id: str, outcome: str, summary: Optional[str] = None) -> bool:
        """Ends the session as completed, failed or abandoned (any other outcome records
        failed), with finalized_at, duration_seconds and the summary."""
        return self._guarded(
            "finalize_session",
            agent_id,
            False,
            lambda: self._lc.finalize_session(agent_id, outcome, summary),
        )

    def cleanup_old_sessions(self, hours: float = 24) -> int:
        """Deletes record-only sessions idle for more than ``hours``; returns how many."""
        return self._guarded(
            "cleanup_old_sessions", None, 0, lambda: self._lc.cleanup_old_sessions(float(hours))
        )

    def list_sessions(
        self, active_only: bool = False, agent_name: Optional[str] = None
    ) -> List[Dict[str, Any]]:
        """Summaries (agent_id, agent_name, phase, created_at, last_updated, resume_ready,
        error_count), most recently updated first. ``active_only`` keeps only the sessions
        whose resume_ready is true, as the reference does (not those still initializing)."""
        return self._guarded(
            "list_sessions", None, [], lambda: self._lc.list_sessions(bool(active_only), agent_name)
        )

    def _guarded(
        self,
        op: str,
        agent_id: Any,
        default: T,
        call: Callable[[], T],
        logged: Tuple[Type[BaseException], ...] = (),
    ) -> T:
        """Runs a store call with the reference's return conventions: an invalid id gives
        ``default``; ``logged`` errors are logged and give ``default``; other store failures
        go through ``_failed``. In strict mode every failure raises."""
        try:
            return call()
        except InvalidSessionIdError:
            if self._strict:
                raise
            return default
        except logged as e:
            if self._strict:
                raise
            _log_failure(op, agent_id, e)
            return default
        except AgentSessionsError as e:
            self._failed(op, agent_id, e)
            return default

    def _save_session(self, agent_id: str, state: Dict[str, Any]) -> bool:
        """Stores ``state`` exactly as given (used for migrations and back-dating)."""
        self._lc.save_session(agent_id, state)
        return True

    def _load_session(self, agent_id: str) -> Optional[Dict[str, Any]]:
        """Same as :meth:`get_session`."""
        return self.get_session(agent_id)

    def _get_session_dir(self, agent_id: str) -> "Path":
        """The session's folder (holding state.json)."""
        from pathlib import Path

        return Path(self._lc.state_path(agent_id)).parent

    def _get_state_file(self, agent_id: str) -> "Path":
        """The session's state.json."""
        from pathlib import Path

        return Path(self._lc.state_path(agent_id))

    def __repr__(self) -> str:
        return f"AgentSession(base_path={self._lc.home!r})"


# -- module-level functions: the default home ---------------------------------------------

_DEFAULTS: Dict[tuple[Optional[str], ...], AgentSession] = {}


def _default() -> AgentSession:
    env = os.environ
    key = (env.get("AGENT_SESSIONS_HOME"), env.get("XDG_STATE_HOME"), env.get("HOME"))
    inst = _DEFAULTS.get(key)
    if inst is None:
        inst = _DEFAULTS[key] = AgentSession()
    return inst


def create_session(
    agent_name: Optional[str] = None,
    purpose: Optional[str] = None,
    metadata: Optional[Dict[str, Any]] = None,
) -> str:
    """Creates a session in the default home and returns its id."""
    return _default()._lc.create_session(None, agent_name, purpose, metadata)


def update_state(
    agent_id: str,
    phase: Optional[str] = None,
    metadata: Optional[Dict[str, Any]] = None,
    error: Optional[str] = None,
) -> bool:
    """See :meth:`AgentSession.update_state`."""
    return _default().update_state(agent_id, phase, metadata, error)


def should_resume(agent_id: str) -> bool:
    """See :meth:`AgentSession.should_resume`."""
    return _default().should_resume(agent_id)


def get_session(agent_id: str) -> Optional[Dict[str, Any]]:
    """See :meth:`AgentSession.get_session`."""
    return _default().get_session(agent_id)


def finalize_session(agent_id: str, outcome: str, summary: Optional[str] = None) -> bool:
    """See :meth:`AgentSession.finalize_session`."""
    return _default().finalize_session(agent_id, outcome, summary)


def cleanup_old_sessions(hours: float = 24) -> int:
    """See :meth:`AgentSession.cleanup_old_sessions`."""
    return _default().cleanup_old_sessions(hours)


def list_sessions(active_only: bool = False, agent_name: Optional[str] = None) -> List[Dict[str, Any]]:
    """See :meth:`AgentSession.list_sessions`."""
    return _default().list_sessions(active_only, agent_name)
