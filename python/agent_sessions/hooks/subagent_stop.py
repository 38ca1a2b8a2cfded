"""``subagent_stop`` hook: finalizes the subagent's session, on success and on failure.

Input (stdin), either the reference task info::

    {"task_id": ..., "agent": ..., "agent_id": ..., "exit_code": 0 (optional),
     "output": "..." (optional)}

(completed when exit_code is 0, failed otherwise, with a summary), answered with
``{finalized, reason, agent_id, outcome, task_id}``; or Claude Code's SubagentStop input,
from which the subagent's token usage is read (``agent_transcript_path``) and recorded.

Claude Code appends the subagent's last message to that transcript only after it ran the
hook, so the hook waits for it: until the transcript ends with a finished assistant message
with usage (normally already so: no wait), or ends with an assistant message with usage and
has not changed for 0.3 s, or at most 3 s (``$AGENT_SESSIONS_TRANSCRIPT_WAIT`` seconds, up
to 30). When the usage cannot be had, or may be incomplete, the session record gets a
``usage_note`` saying why, and the hook log says so too.
"""

from __future__ import annotations

import sys

from agent_sessions.hooks._run import run


def main() -> int:
    return run("subagent_stop")


if __name__ == "__main__":
    sys.exit(main())
