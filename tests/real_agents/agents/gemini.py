"""gemini: how the tests run it against the stand-in."""

from __future__ import annotations

import json
from pathlib import Path

from . import AgentRun, _base_env


def setup(exe: str, home: Path, cwd: Path, url: str) -> AgentRun:
    g = home / ".gemini"
    g.mkdir(parents=True, exist_ok=True)
    (g / "settings.json").write_text(json.dumps({
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        # An auth type chosen, or the CLI opens its "How would you like to authenticate"
        # dialog even with GEMINI_API_KEY set. The API key type honours
        # GOOGLE_GEMINI_BASE_URL (the stand-in) and needs no sign-in.
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False}}))
    env = _base_env(home) | {"GOOGLE_GEMINI_BASE_URL": url, "GEMINI_API_KEY": "stand-in-key",
                             # Or the folder-trust dialog opens first.
                             "GEMINI_CLI_TRUST_WORKSPACE": "true"}
    # No -m: the default model ("auto") routes each prompt with a classifier request first,
    # as users run it.
    return AgentRun("gemini", [], env, "AGENT_SESSIONS_GEMINI_BIN", exe)
