"""Ready hooks: ``python -m agent_sessions.hooks.pre_delegate`` and
``python -m agent_sessions.hooks.subagent_stop`` (also the console scripts
``agent-sessions-pre-delegate`` and ``agent-sessions-subagent-stop``).

Each reads JSON on stdin and prints a JSON answer; bad input is answered with reason
"error" and exit status 0, and logged to ``$AGENT_SESSIONS_HOOK_LOG`` or
``<home>/hooks.log``. The logic lives in the Rust core (``agent_sessions::lifecycle::hooks``).
"""
