"""Drop-in replacement for the reference hook library ``agent_session.py``.

Existing hooks change one line::

    import agent_sessions.compat.agent_session as agent_session
    # or: from agent_sessions.compat.agent_session import create_session, update_state, ...

Same names, same signatures and the same return conventions: ``create_session`` returns
an id shaped ``agent-YYYYMMDD-HHMMSS-<8 hex>``; ``update_state``, ``should_resume`` and
``finalize_session`` return a bool (False for an unknown session or an invalid phase);
``get_session`` returns the record dict or None; ``cleanup_old_sessions`` the number removed;
``list_sessions`` summaries, most recently updated first. ``AgentSession(base_path)`` keeps
one folder per session with a ``state.json`` mirroring the record, written atomically.

The module-level functions use the default sessions home (``$AGENT_SESSIONS_HOME``, else
``$XDG_STATE_HOME/agent-sessions``, else ``~/.local/state/agent-sessions``), shared with
hosted sessions and the ``agent-sessions`` CLI, not the reference's ``.claude/session``;
``AgentSession(".claude/session")`` gives the old location.

It also keeps the reference's command line::

    python -m agent_sessions.compat.agent_session create --agent NAME --purpose P
    python -m agent_sessions.compat.agent_session update AGENT_ID --phase approval
    python -m agent_sessions.compat.agent_session should-resume AGENT_ID
    python -m agent_sessions.compat.agent_session get AGENT_ID
    python -m agent_sessions.compat.agent_session list [--active-only] [--agent NAME]
    python -m agent_sessions.compat.agent_session finalize AGENT_ID completed [--summary S]
    python -m agent_sessions.compat.agent_session cleanup [--hours 24]
"""

from __future__ import annotations

from agent_sessions.lifecycle import (
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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional

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
    "main",
]


def main(argv: Optional[List[str]] = None) -> int:
    """The reference library's command line."""
    import argparse
    import json

    p = argparse.ArgumentParser(prog="agent_session", description="Agent session lifecycle records")
    p.add_argument("--base-path", help="sessions folder (default: the agent-sessions home)")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create", help="create a session and print its id")
    c.add_argument("--agent", dest="agent_name")
    c.add_argument("--purpose")
    c.add_argument("--metadata", help="JSON object")
    u = sub.add_parser("update", help="update a session")
    u.add_argument("agent_id")
    u.add_argument("--phase")
    u.add_argument("--metadata", help="JSON object to merge")
    u.add_argument("--error")
    r = sub.add_parser("should-resume", help="print true or false")
    r.add_argument("agent_id")
    g = sub.add_parser("get", help="print the record as JSON")
    g.add_argument("agent_id")
    ls = sub.add_parser("list", help="one line per session")
    ls.add_argument("--active-only", action="store_true")
    ls.add_argument("--agent", dest="agent_name")
    ls.add_argument("--json", action="store_true")
    f = sub.add_parser("finalize", help="finalize a session")
    f.add_argument("agent_id")
    f.add_argument("outcome")
    f.add_argument("--summary")
    cl = sub.add_parser("cleanup", help="delete sessions idle for longer than --hours")
    cl.add_argument("--hours", type=float, default=24)
    a = p.parse_args(argv)

    s = AgentSession(a.base_path)
    if a.cmd == "create":
        meta = json.loads(a.metadata) if a.metadata else None
        print(s.create_session(agent_name=a.agent_name, purpose=a.purpose, metadata=meta))
        return 0
    if a.cmd == "update":
        meta = json.loads(a.metadata) if a.metadata else None
        ok = s.update_state(a.agent_id, phase=a.phase, metadata=meta, error=a.error)
        print("updated" if ok else "not updated")
        return 0 if ok else 1
    if a.cmd == "should-resume":
        print("true" if s.should_resume(a.agent_id) else "false")
        return 0
    if a.cmd == "get":
        rec = s.get_session(a.agent_id)
        if rec is None:
            print(f"no session {a.agent_id}")
            return 1
        print(json.dumps(rec, indent=2))
        return 0
    if a.cmd == "list":
        for row in s.list_sessions(active_only=a.active_only, agent_name=a.agent_name):
            if a.json:
                print(json.dumps(row))
            else:
                print(f"{row['agent_id']}\t{row['agent_name']}\t{row['phase']}\t{row['last_updated']}")
        return 0
    if a.cmd == "finalize":
        ok = s.finalize_session(a.agent_id, a.outcome, a.summary)
        print("finalized" if ok else "not finalized")
        return 0 if ok else 1
    if a.cmd == "cleanup":
        print(s.cleanup_old_sessions(a.hours))
        return 0
    return 2


if __name__ == "__main__":
    import sys

    sys.exit(main())
