#!/usr/bin/env bash
# Builds the release `agent-sessions` binary (CLI and session host) into
# ${CARGO_TARGET_DIR:-target}/release, statically linked where the toolchain can.
#   scripts/build_cli.sh [cargo options, e.g. -q or --target-dir DIR]
#
# Why static: every `start`, every command and every Claude Code or Codex hook event is a
# fresh process of this binary, and a dynamic one spends ~0.4 ms of each in the loader
# (three shared libraries, ~18,000 relocations). A static PIE keeps address randomization
# and skips that (figures: docs/BENCHMARKS.md, "Start, 2026-12-04"). glibc's static libc.a comes with libc6-dev (part of
# build-essential). The one glibc call that then loads a module at run time is the password
# database lookup for a login shell when SHELL is unset; it is built and run on the same
# machine, so the module matches (a mismatch would only fall back to /bin/sh).
#
# `cargo rustc` gives the flag to this crate's final link only: as RUSTFLAGS it would also
# reach proc-macro crates, which cannot be built static. Every release build of the binary
# (pip install ., scripts/install_c.sh, scripts/demo.sh, the benchmarks) runs this script, so
# they share one build. Without a static libc.a it builds the dynamic binary and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
# glibc's static libc.a, which the static link needs: `cc` prints the bare name when it has none.
libc_a=$(cc -print-file-name=libc.a 2>/dev/null || true)
if [[ $libc_a == /* && -f $libc_a ]]; then
  exec cargo rustc --release -p agent-sessions-cli --bin agent-sessions "$@" \
    -- -C target-feature=+crt-static
fi
echo "build_cli.sh: no static libc.a (Debian: apt-get install libc6-dev); building the dynamic binary" >&2
exec cargo rustc --release -p agent-sessions-cli --bin agent-sessions "$@"
