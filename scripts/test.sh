#!/usr/bin/env bash
# Runs every test: formatting, lints, the Rust suites (unit, integration with real sessions,
# attach under tmux), the Python suite and the C/C++ ABI tests. Installs what it needs.
#   ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
need_system_packages
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

step "cargo doc (the public API's documentation builds without warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc -p agent-sessions --no-deps --quiet

step "the README's Rust quick start (crates/core/examples/quickstart.rs)"
cargo run --quiet -p agent-sessions --example quickstart

if [ -x scripts/test_python.sh ]; then
  step "Python tests"
  scripts/test_python.sh
fi

if [ -x scripts/test_c.sh ]; then
  step "C ABI tests"
  scripts/test_c.sh
fi
step "all tests passed"
