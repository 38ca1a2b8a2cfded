#!/usr/bin/env bash
# The dashboard in a real browser: Debian's Chromium driven by Playwright for Python
# (tests/browser), against `agent-sessions serve` and real sessions of the fake agent.
#   scripts/test_browser.sh                 every browser test (the page-weight and first-load
#                                           measurement too: it prints, it does not assert)
#   scripts/test_browser.sh -m perf -s      only the measurement; extra arguments go to pytest
# Installs chromium and chromium-driver with apt-get when /usr/bin/chromium is missing, and
# pinned playwright and pytest into ./.venv (made when missing). Playwright's own browser
# download (`playwright install`) is never used: the tests launch /usr/bin/chromium.
# The agent-sessions binary: $AGENT_SESSIONS_BIN, else .venv/bin/agent-sessions, else
# target/debug/agent-sessions (build it with `cargo build -p agent-sessions-cli`).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
PLAYWRIGHT_VERSION=1.65.2
PYTEST_VERSION=9.2.0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

if [ ! -x /usr/bin/chromium ]; then
  echo "test_browser.sh: installing chromium and chromium-driver" >&2
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium chromium-driver
fi

if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian and Ubuntu ship venv separately.
    rm -rf "$VENV"
    ver=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    echo "test_browser.sh: installing python$ver-venv" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "python$ver-venv" >/dev/null
    "$PYTHON" -m venv "$VENV"
  fi
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  "playwright==$PLAYWRIGHT_VERSION" "pytest==$PYTEST_VERSION"

scripts/vendor_dashboard.sh --check

if [ -z "${AGENT_SESSIONS_BIN:-}" ]; then
  if [ -x "$VENV/bin/agent-sessions" ]; then
    AGENT_SESSIONS_BIN=$PWD/$VENV/bin/agent-sessions
  elif [ -x target/debug/agent-sessions ]; then
    AGENT_SESSIONS_BIN=$PWD/target/debug/agent-sessions
  else
    echo "test_browser.sh: no agent-sessions binary: set AGENT_SESSIONS_BIN, or run 'cargo build -p agent-sessions-cli'" >&2
    exit 1
  fi
fi
export AGENT_SESSIONS_BIN
echo "test_browser.sh: testing $AGENT_SESSIONS_BIN with $(/usr/bin/chromium --version 2>/dev/null || echo chromium)" >&2

exec "$VENV/bin/python" -m pytest tests/browser "$@"
