#!/usr/bin/env bash
# Runs every test: formatting, lints, the Rust suites (unit, integration with real sessions,
# attach under tmux), the Python suite, the real agent CLIs against a stand-in API and the
# C/C++ ABI tests. Installs what it needs. Every step runs even when an earlier one fails
# (one failure must not hide another); the summary at the end names the failed steps and
# the exit status is non-zero when any failed.
#   ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
need_system_packages
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

failed=()
# step NAME COMMAND...: runs COMMAND, records NAME when it fails.
step() {
  local name=$1
  shift
  printf '\n==> %s\n' "$name"
  if ! "$@"; then
    printf '\n==> FAILED: %s\n' "$name"
    failed+=("$name")
  fi
}

rust_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
  else
    cargo test --workspace --no-fail-fast
  fi
}

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy (all targets, warnings are errors)" \
  cargo clippy --workspace --all-targets -- -D warnings
step "Rust tests" rust_tests
step "cargo doc (the public API's documentation builds without warnings)" \
  env RUSTDOCFLAGS="-D warnings" cargo doc -p agent-sessions -p agent-sessions-server --no-deps --quiet
step "the README's Rust quick start (crates/core/examples/quickstart.rs)" \
  cargo run --quiet -p agent-sessions --example quickstart
# The real-agent tests use the venv the Python tests build: they run only after it.
step "Python tests" scripts/test_python.sh
if [ -x .venv/bin/python ]; then
  step "real agent CLIs against the loopback stand-in API" scripts/test_real_agents.sh
else
  failed+=("real agent CLIs (no venv: the Python step could not build it)")
fi
if [ -x .venv/bin/python ]; then
  step "the dashboard in a real browser (Debian's chromium)" scripts/test_browser.sh
else
  failed+=("the dashboard in a real browser (no venv: the Python step could not build it)")
fi
step "C ABI tests" scripts/test_c.sh

if [ ${#failed[@]} -gt 0 ]; then
  printf '\n==> %d step(s) failed:\n' "${#failed[@]}"
  printf '    - %s\n' "${failed[@]}"
  exit 1
fi
printf '\n==> all tests passed\n'
