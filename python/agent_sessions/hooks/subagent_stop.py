"""``subagent_stop`` hook: finalizes the subagent's session, on success and on failure.

Input (stdin), either the reference task info::

    {"task_id": ..., "agent": ..., "agent_id": ..., "exit_code": 0 (optional),
     "output": "..." (optional)}

(completed when exit_code is 0, failed otherwise, with a summary), answered with
``{finalized, reason, agent_id, outcome, task_id}``; or Claude Code's SubagentStop input,
from which the subagent's token usage is read (``agent_transcript_path``) and recorded.
"""

from __future__ import annotations

import sys

from agent_sessions.hooks._run import run


def main() -> int:
    return run("subagent_stop")


if __name__ == "__main__":
    sys.exit(main())
