"""The shapes of the dicts that events, history, tasks and cleanup return (for type checkers;
at run time they are plain dicts). The keys are the same as in the CLI's ``--json`` output.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict

__all__ = [
    "Event",
    "Message",
    "HistoryPage",
    "TaskSession",
    "TaskSummary",
    "CleanedSession",
    "CleanupReport",
    "KeptSession",
    "Snapshot",
]


class Event(TypedDict):
    """One event of a session (``Session.events``, ``Session.follow_events``)."""

    session_id: str
    #: 1 for a session's first event, then one more for each.
    seq: int
    #: ISO 8601 UTC, milliseconds.
    at: str
    #: Who caused it: user, process, screen, agent_hook, quiet_timer, liveness, phase,
    #: lifecycle.
    source: str
    #: state, phase, input, stop, pause, continue, suspend, resume.
    kind: str
    #: Details by kind; a state event has from, to and cause.
    data: Any


class Message(TypedDict):
    """One message of a conversation."""

    #: Position in the whole history, from 0.
    index: int
    #: user, assistant or tool (a tool call or its result).
    role: str
    text: str
    #: ISO 8601 UTC when known.
    at: Optional[str]


class HistoryPage(TypedDict):
    """One page of a conversation (``Session.history``)."""

    session_id: str
    #: Where it was read: claude-transcript, codex-rollout, or screen (built by the host from
    #: the input sent and the settled screens).
    source: str
    offset: int
    messages: List[Message]
    #: The offset of the next page; None on the last one.
    next_offset: Optional[int]


class TaskSession(TypedDict):
    """One session of a task."""

    session_id: str
    agent_type: Optional[str]
    state: str
    phase: Optional[str]
    created_at: str


class TaskSummary(TypedDict):
    """A task with its sessions and totals (``SessionManager.tasks``)."""

    #: None groups the sessions started without a task.
    task_id: Optional[str]
    session_count: int
    #: Oldest first.
    sessions: List[TaskSession]
    #: How many sessions are in each state.
    states: Dict[str, int]
    #: Sessions whose agent may be running.
    live: int
    first_created_at: str
    last_updated_at: str
    #: Sums over the sessions that report them; None when none does.
    total_tokens: Optional[int]
    cost_usd: Optional[float]
    cpu_time_ms: Optional[int]


class CleanedSession(TypedDict):
    """One session a cleanup removed (or, in a dry run, would remove)."""

    session_id: str
    state: str
    ended_at: Optional[str]
    #: Bytes of its folder that were (or would be) freed.
    bytes: int


class KeptSession(TypedDict):
    """A session a cleanup kept because its git worktree holds work."""

    session_id: str
    #: What the worktree holds and what to do about it.
    reason: str


class CleanupReport(TypedDict):
    """What ``SessionManager.cleanup`` did."""

    dry_run: bool
    sessions: List[CleanedSession]
    bytes_freed: int
    #: Candidates that changed state while cleaning (resumed, say) and were kept.
    skipped: int
    #: Candidates kept because their worktree has uncommitted changes or unmerged commits
    #: (``force=True`` removes them anyway).
    kept: List[KeptSession]


class Snapshot(TypedDict):
    """A snapshot (``SessionManager.snapshot``, ``snapshots``, ``snapshot_info``)."""

    #: snap-YYYYMMDD-HHMMSS-<8 hex>.
    snapshot_id: str
    name: Optional[str]
    #: The session it was taken of (which may since have been removed).
    session_id: str
    agent_type: Optional[str]
    #: RFC 3339.
    created_at: str
    #: The session's state then.
    state: str
    workspace_path: Optional[str]
    #: files, bytes, archive_bytes, sha256, git_head; None for workspace=False.
    workspace: Optional[dict[str, Any]]
    #: agent, agent_session_id, original_path, file, bytes; None when none was copied.
    conversation: Optional[dict[str, Any]]
    #: Why no conversation was copied.
    conversation_note: Optional[str]
    events: int
    messages: int
    #: Bytes on disk.
    bytes: int
    #: The snapshot's folder.
    path: str
