"""``pre_delegate`` hook: decides whether a delegation resumes an existing session.

Input (stdin), either the reference delegation context::

    {"agent_name": ..., "task_id": ..., "agent_id": ... (optional), "task_description": ...,
     "metadata": {...}}

answered with ``{should_resume, reason, agent_id, resume_metadata{previous_phase,
created_at, last_updated, history, session_metadata}, original_context}`` where reason is
no_existing_session, session_resumable, session_not_resumable or error; or Claude Code's
PreToolUse input for the Task tool, answered in Claude Code's hook format with
``hookSpecificOutput.additionalContext`` carrying the resume context.
"""

from __future__ import annotations

import sys

from agent_sessions.hooks._run import run


def main() -> int:
    return run("pre_delegate")


if __name__ == "__main__":
    sys.exit(main())
