"""opencode: how the tests run it against the stand-in."""

from __future__ import annotations

import json
from pathlib import Path

from . import AgentRun, _base_env

#: Where opencode's npm lookups go (see below): a path of the stand-in, which answers 404.
NPM_REGISTRY_PATH = "/npm-registry-offline/"
#: The stand-in model's price in opencode's config (USD per million tokens).
COST = {"input": 2.0, "output": 10.0, "cache_read": 0.5, "cache_write": 2.5}


def setup(exe: str, home: Path, cwd: Path, url: str) -> AgentRun:
    conf = home / "opencode.json"
    conf.write_text(json.dumps({
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False, "share": "disabled",
        "provider": {"standin": {"npm": "@ai-sdk/openai-compatible", "name": "standin",
                                 "options": {"baseURL": f"{url}/v1", "apiKey": "stand-in-key"},
                                 "models": {"standin-model": {
                                     "name": "standin-model", "tool_call": True,
                                     # USD per million tokens, so opencode records a cost.
                                     "cost": COST}}}},
        "model": "standin/standin-model", "small_model": "standin/standin-model",
        # opencode runs shell commands unasked by default; the tests need its dialog.
        "permission": {"bash": "ask"}}))
    # At every start opencode npm-installs @opencode-ai/plugin into its config folder, in the
    # background, from the registry; that is network and seconds of CPU. Sent to the
    # stand-in instead, it fails at once (opencode logs a warning and goes on).
    (home / ".npmrc").write_text(f"registry={url}{NPM_REGISTRY_PATH}\n")
    env = _base_env(home) | {"OPENCODE_CONFIG": str(conf), "OPENCODE_DISABLE_MODELS_FETCH": "1",
                             "OPENCODE_DISABLE_AUTOUPDATE": "1",
                             "OPENCODE_DISABLE_LSP_DOWNLOAD": "1"}
    return AgentRun("opencode", [], env, "AGENT_SESSIONS_OPENCODE_BIN", exe)
