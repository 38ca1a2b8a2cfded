#!/usr/bin/env bash
# Runs the real agent CLIs (Claude Code, Codex, Gemini CLI, opencode; pinned versions from
# the npm registry, installed by scripts/install_agents.sh into a cache outside the
# repository) as real sessions against the loopback stand-in API in tests/real_agents.
# Uses the venv scripts/test_python.sh built. A failed install fails the run.
#   ./scripts/test_real_agents.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || { echo "test_real_agents.sh: run scripts/test_python.sh first (it builds $VENV)" >&2; exit 1; }
./scripts/install_agents.sh >/dev/null
exec "$VENV/bin/python" -m pytest tests/real_agents "$@"
