"""Exceptions of agent_sessions.

One base class, :class:`AgentSessionsError`. Subclasses also derive from the matching builtin
(``ValueError`` for bad arguments, ``LookupError`` for unknown sessions, ``TimeoutError`` for
time-outs), and when the cause is an operating-system error the exception raised is also an
instance of the matching ``OSError`` subclass (``FileNotFoundError``, ``PermissionError``, ...)
with ``errno`` set.
"""

from __future__ import annotations

import builtins

__all__ = [
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
]


class AgentSessionsError(Exception):
    """Base class of every error raised by agent_sessions."""

    #: Short stable name of the error kind, as the core reports it (e.g. "SessionNotFound").
    kind: str = "Error"


class UnsupportedAgentError(AgentSessionsError, ValueError):
    """The agent type is neither built in nor user-defined."""

    kind = "UnsupportedAgent"


class SessionNotFoundError(AgentSessionsError, LookupError):
    """No session has this id."""

    kind = "SessionNotFound"


class SessionNotRunningError(AgentSessionsError):
    """The operation needs a live agent (or an ended one) and the session is not."""

    kind = "SessionNotRunning"


class TaskNotFoundError(SessionNotFoundError):
    """No session carries this task id. A ``SessionNotFoundError`` too."""

    kind = "TaskNotFound"


class SnapshotNotFoundError(AgentSessionsError, LookupError):
    """No snapshot has this id or name."""

    kind = "SnapshotNotFound"


class SessionActiveError(SessionNotRunningError):
    """The operation needs an ended session (rm, cleanup) and this one still runs."""

    kind = "SessionActive"


class NoProcessError(SessionNotRunningError):
    """The session is a lifecycle record with no agent process to act on."""

    kind = "NoProcess"


class NotResumableError(SessionNotRunningError):
    """The session cannot be resumed: no resume command, no agent session id, or still live."""

    kind = "NotResumable"


class InvalidSessionIdError(AgentSessionsError, ValueError):
    """A session id failed validation (it never reaches the file system)."""

    kind = "InvalidSessionId"


class InvalidPhaseError(AgentSessionsError, ValueError):
    """A lifecycle phase outside the known set."""

    kind = "InvalidPhase"


class InvalidArgumentError(AgentSessionsError, ValueError):
    """Any other argument that does not make sense."""

    kind = "InvalidArgument"


class TimeoutError(AgentSessionsError, builtins.TimeoutError):  # noqa: A001
    """A wait ran out of time. Also a builtin ``TimeoutError``."""

    kind = "Timeout"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class StateUnreachableError(AgentSessionsError):
    """A wait asked for a state the session can never reach again."""

    kind = "StateUnreachable"


class LaunchError(AgentSessionsError):
    """The agent or its session host could not be started or reached."""

    kind = "Launch"


class StoreError(AgentSessionsError):
    """The SQLite session store failed."""

    kind = "Store"


class ProtocolError(AgentSessionsError):
    """The session host answered with something this version does not understand."""

    kind = "Protocol"


class InternalError(AgentSessionsError, RuntimeError):
    """A bug in agent_sessions itself (a panic of the native core, contained): please report
    it. A ``RuntimeError`` too."""

    kind = "Internal"


_BY_KIND: dict[str, type[AgentSessionsError]] = {
    cls.kind: cls
    for cls in (
        UnsupportedAgentError,
        SessionNotFoundError,
        SessionNotRunningError,
        TaskNotFoundError,
        SnapshotNotFoundError,
        SessionActiveError,
        NoProcessError,
        NotResumableError,
        InvalidSessionIdError,
        InvalidPhaseError,
        InvalidArgumentError,
        TimeoutError,
        StateUnreachableError,
        LaunchError,
        StoreError,
        ProtocolError,
        InternalError,
    )
}

_WITH_OS: dict[tuple[type, type], type] = {}


def _os_str(self: OSError) -> str:
    return str(self.strerror)


def _with_oserror(cls: type[AgentSessionsError], os_cls: type[OSError]) -> type:
    key = (cls, os_cls)
    combined = _WITH_OS.get(key)
    if combined is None:
        if issubclass(cls, os_cls):
            combined = cls
        else:
            combined = type(
                cls.__name__,
                (cls, os_cls),
                {"__module__": cls.__module__, "__str__": _os_str, "__qualname__": cls.__qualname__},
            )
        _WITH_OS[key] = combined
    return combined


def make_error(kind: str, message: str, errno: int | None = None) -> AgentSessionsError:
    """Builds the exception for a core error (called by the native module)."""
    cls: type[AgentSessionsError] = _BY_KIND.get(kind, AgentSessionsError)
    if errno is not None or kind == "Io":
        # OSError(errno, ...) picks the matching subclass (FileNotFoundError for ENOENT, ...).
        os_cls = type(OSError(errno, message)) if errno is not None else OSError
        combined = _with_oserror(cls, os_cls)
        exc: AgentSessionsError
        if errno is not None:
            exc = combined(errno, message)
        else:
            exc = combined(message)
            setattr(exc, "strerror", message)
    else:
        exc = cls(message)
    exc.kind = kind
    return exc
