#!/usr/bin/env bash
# FFI overhead: the same calls on one idle session (cat, waiting_input), timed one call per
# sample from Rust on the core API, from Rust through the C ABI, and from C through the C
# ABI (static release library, cc -O2). Two alternating rounds; each line is one program's
# median, p10 and p90 over SAMPLES calls. Usage: bench/ffi_overhead/run.sh [SAMPLES]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SAMPLES=${1:-20000}

cargo build -q -p agent-sessions-cli   # the host binary; its speed does not enter the figures
cargo build -q --release -p agent-sessions-ffi --example ffi_overhead
REL=$CARGO_TARGET_DIR/release
LIBS=$(cargo rustc -q --release -p agent-sessions-ffi --lib -- --print native-static-libs 2>&1 |
    sed -n 's/.*native-static-libs: //p' | tail -1)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/as-bench.XXXXXX")
HOST=$CARGO_TARGET_DIR/debug/agent-sessions
ID=
trap '[[ -n $ID ]] && "$HOST" --home "$WORK/home" stop --force "$ID" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
cc -std=c11 -O2 -Wall -Wextra -Werror -pedantic -Iinclude bench/ffi_overhead/bench.c \
    "$REL/libagent_sessions_ffi.a" $LIBS -o "$WORK/bench"

ID=$("$HOST" --home "$WORK/home" start custom --idle-after 0.2 -- cat)
"$HOST" --home "$WORK/home" wait "$ID" --state waiting_input --timeout 20 >/dev/null
echo "session $ID ($(nproc) cores, $(uname -r)); $SAMPLES samples per line"
for round in 1 2; do
    echo "-- round $round"
    "$REL/examples/ffi_overhead" "$WORK/home" "$ID" "$SAMPLES"
    "$WORK/bench" "$WORK/home" "$ID" "$SAMPLES"
done
