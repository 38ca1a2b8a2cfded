"""agent_sessions: run AI coding-agent CLIs as managed sessions, and keep lifecycle records
compatible with the reference hook library ``agent_session.py``.

Hosted sessions::

    import agent_sessions
    mgr = agent_sessions.SessionManager()
    s = mgr.start("custom", ["bash", "--norc"])
    s.send("echo hello")
    s.wait_for("waiting_input", timeout=10)
    print(s.screen())
    s.stop()

Pause and continue, suspend and resume, events, conversation history, tasks and cleanup::

    s.pause(); s.continue_()
    for event in s.follow_events(timeout=30):
        print(event["seq"], event["kind"], event["data"])
    for message in s.iter_history():
        print(message["role"], message["text"])
    mgr.tasks(); mgr.cleanup("7d", dry_run=True)

Lifecycle records (the reference API, module-level or as ``AgentSession(base_path)``)::

    from agent_sessions import create_session, update_state, should_resume
    agent_id = create_session(agent_name="terraform-architect", purpose="approval_workflow")
    update_state(agent_id, phase="approval")
    should_resume(agent_id)  # True

Existing hooks switch with one line: ``import agent_sessions.compat.agent_session as
agent_session``.
"""

from . import _native
from ._errors import (
    AgentSessionsError,
    InternalError,
    InvalidArgumentError,
    InvalidPhaseError,
    InvalidSessionIdError,
    LaunchError,
    ProtocolError,
    SessionNotFoundError,
    SessionNotRunningError,
    TaskNotFoundError,
    SnapshotNotFoundError,
    SessionActiveError,
    NoProcessError,
    NotResumableError,
    StateUnreachableError,
    StoreError,
    TimeoutError,
    UnsupportedAgentError,
)
from ._native import (
    EventStream,
    HistoryIterator,
    OutputStream,
    Session,
    SessionManager,
    WatchLease,
    run_hook,
)

# The TypedDict shapes need `typing`, whose import costs more than the rest of the package
# together (import time is a goal: hooks start a process per call). Type checkers see them
# here; at run time they load on first use (module `__getattr__`).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._types import (
        CleanedSession,
        CleanupReport,
        Event,
        HistoryPage,
        KeptSession,
        Message,
        Snapshot,
        TaskSession,
        TaskSummary,
    )

_TYPED_DICTS = frozenset(
    {
        "CleanedSession",
        "CleanupReport",
        "Event",
        "HistoryPage",
        "KeptSession",
        "Message",
        "Snapshot",
        "TaskSession",
        "TaskSummary",
    }
)


def __getattr__(name: str) -> object:
    if name in _TYPED_DICTS:
        from . import _types

        return getattr(_types, name)
    raise AttributeError(f"module 'agent_sessions' has no attribute {name!r}")

from .lifecycle import (
    FINAL_PHASES,
    RESUMABLE_PHASES,
    VALID_PHASES,
    AgentSession,
    cleanup_old_sessions,
    create_session,
    finalize_session,
    get_session,
    list_sessions,
    should_resume,
    update_state,
)

__version__: str = _native.__version__
#: Every session state, in lifecycle order.
STATES = tuple(_native.STATES)
#: States in which an agent process may be alive (paused included).
LIVE_STATES = tuple(_native.LIVE_STATES)
#: States of a session whose agent has ended (suspended included: only ``resume()`` starts
#: it again).
ENDED_STATES = tuple(_native.ENDED_STATES)

__all__ = [
    "SessionManager",
    "WatchLease",
    "Session",
    "OutputStream",
    "EventStream",
    "HistoryIterator",
    "Event",
    "Message",
    "HistoryPage",
    "TaskSession",
    "TaskSummary",
    "CleanedSession",
    "CleanupReport",
    "KeptSession",
    "Snapshot",
    "AgentSession",
    "create_session",
    "update_state",
    "should_resume",
    "get_session",
    "finalize_session",
    "cleanup_old_sessions",
    "list_sessions",
    "run_hook",
    "VALID_PHASES",
    "RESUMABLE_PHASES",
    "FINAL_PHASES",
    "STATES",
    "LIVE_STATES",
    "ENDED_STATES",
    "AgentSessionsError",
    "UnsupportedAgentError",
    "SessionNotFoundError",
    "SessionNotRunningError",
    "TaskNotFoundError",
    "SnapshotNotFoundError",
    "SessionActiveError",
    "NoProcessError",
    "NotResumableError",
    "InvalidSessionIdError",
    "InvalidPhaseError",
    "InvalidArgumentError",
    "TimeoutError",
    "StateUnreachableError",
    "LaunchError",
    "StoreError",
    "ProtocolError",
    "InternalError",
    "__version__",
]
