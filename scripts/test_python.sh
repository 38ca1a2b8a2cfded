#!/usr/bin/env bash
# Builds the Python package exactly as a user installs it (`pip install .`, maturin through
# the pyproject build backend, which also builds the agent-sessions host binary) into ./.venv,
# then runs the pytest suite in tests/python. Extra arguments go to pytest.
#
# Needs only Python >= 3.9 with venv support and a Rust toolchain (cargo on PATH or in
# ~/.cargo/bin); PyPI and crates.io must be reachable. Environment:
#   PYTHON=python3.11   interpreter to make the venv with (default: python3)
#   VENV=.venv          where the venv lives (created when missing)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "test_python.sh: cargo not found; install Rust (rustup)" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        # Debian and Ubuntu ship venv separately.
        rm -rf "$VENV"
        ver=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "test_python.sh: installing python$ver-venv" >&2
            apt-get update -qq && apt-get install -y -qq "python$ver-venv" >/dev/null
            "$PYTHON" -m venv "$VENV"
        else
            echo "test_python.sh: '$PYTHON -m venv' failed; install python$ver-venv" >&2
            exit 1
        fi
    fi
fi

"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pytest>=7" "mypy>=1.8" "mcp==2.3.0"
echo "test_python.sh: building and installing agent-sessions into $VENV (pip install .)" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps .

# Run from the repository root; the installed package (not python/) is what gets imported.
exec "$VENV/bin/python" -m pytest tests/python "$@"
