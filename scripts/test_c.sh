#!/usr/bin/env bash
# Tests the C ABI end to end:
#   1. the committed include/agent_sessions.h equals a fresh generation by the pinned cbindgen
#      (installed on first use); the version macros match Cargo.toml; the quick start in
#      docs/C_API.md is tests/c/quickstart.c;
#   2. builds the ffi crate (shared + static library), its Rust unit tests, and the
#      `agent-sessions` host binary;
#   3. generates the pkg-config files and compiles every C test and the C++ test with
#      -Wall -Wextra -Werror -pedantic, once against the shared and once against the static
#      library (tests/c/Makefile), including the README quick start (tests/c/quickstart.c);
#   4. runs them all, then runs test_bad_input, test_session and test_history under valgrind
#      --leak-check=full --error-exitcode=1;
#   5. installs into a temporary prefix with scripts/install_c.sh (a release build), checks
#      the installed files, symlinks and SONAME (readelf -d), compiles tests/c/quickstart.c
#      against the installed copy only (pkg-config --cflags --libs agent_sessions), and runs
#      it, also under valgrind, with no host binary set, none in $AGENT_SESSIONS_HOST_BIN and
#      none on PATH: the library finds PREFIX/bin/agent-sessions beside itself. Without that
#      binary it fails with a message that says what to do.
#
# Usage: scripts/test_c.sh            run everything
#        scripts/test_c.sh --regen    rewrite include/agent_sessions.h, then run everything
#        AS_SKIP_VALGRIND=1 ...       skip the valgrind runs (when valgrind is missing)
# Honours CARGO_TARGET_DIR (default: <repo>/target). Needs cc, c++, make, pkg-config, readelf
# and valgrind (Debian: apt-get install build-essential pkg-config binutils valgrind).
set -euo pipefail

CBINDGEN_VERSION=0.29.4

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
mkdir -p "$CARGO_TARGET_DIR"
export CARGO_TARGET_DIR=$(cd "$CARGO_TARGET_DIR" && pwd)
TOOLS=${AS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/agent-sessions-tools}
REGEN=0
[[ ${1:-} == --regen ]] && REGEN=1

say() { printf '\n== %s\n' "$*"; }
die() { printf 'test_c.sh: %s\n' "$*" >&2; exit 1; }

for tool in cc c++ make pkg-config readelf; do
    command -v "$tool" >/dev/null || die "$tool is missing: apt-get install build-essential pkg-config binutils"
done
if [[ ${AS_SKIP_VALGRIND:-0} != 1 ]] && ! command -v valgrind >/dev/null; then
    die "valgrind is missing: apt-get install valgrind (or set AS_SKIP_VALGRIND=1)"
fi

# ---- 1. The header -----------------------------------------------------------------------
CBINDGEN=
for candidate in "$TOOLS/bin/cbindgen" "$(command -v cbindgen || true)"; do
    if [[ -x $candidate && $("$candidate" --version 2>/dev/null) == "cbindgen $CBINDGEN_VERSION" ]]; then
        CBINDGEN=$candidate
        break
    fi
done
if [[ -z $CBINDGEN ]]; then
    say "installing cbindgen $CBINDGEN_VERSION into $TOOLS"
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --root "$TOOLS"
    CBINDGEN=$TOOLS/bin/cbindgen
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/as-c-test.XXXXXX")
HOST_BIN=$CARGO_TARGET_DIR/debug/agent-sessions
cleanup() {
    # Stop any session a failed test left running, then delete the homes.
    if [[ -x $HOST_BIN ]]; then
        for home in "$WORK"/tmp/*/; do
            [[ -f $home/agent-sessions.db ]] || continue
            "$HOST_BIN" --home "$home" ls 2>/dev/null | awk 'NR > 1 {print $1}' |
                while read -r id; do "$HOST_BIN" --home "$home" stop --force "$id" >/dev/null 2>&1 || true; done
        done
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

say "generating the header with $("$CBINDGEN" --version)"
"$CBINDGEN" --quiet --config crates/ffi/cbindgen.toml --crate agent-sessions-ffi \
    --output "$WORK/agent_sessions.h" crates/ffi
if [[ $REGEN == 1 ]]; then
    cp "$WORK/agent_sessions.h" include/agent_sessions.h
    echo "rewrote include/agent_sessions.h"
elif ! diff -u include/agent_sessions.h "$WORK/agent_sessions.h"; then
    die "include/agent_sessions.h differs from a fresh generation (diff above): run scripts/test_c.sh --regen and commit it"
fi

VERSION=$(cargo pkgid -p agent-sessions-ffi | sed 's/.*[@#]//')
IFS=. read -r V_MAJOR V_MINOR V_PATCH <<<"$VERSION"
for part in MAJOR:$V_MAJOR MINOR:$V_MINOR PATCH:$V_PATCH; do
    grep -qx "#define AS_VERSION_${part%%:*} ${part#*:}" include/agent_sessions.h ||
        die "AS_VERSION_${part%%:*} in include/agent_sessions.h is not ${part#*:} (Cargo.toml says $VERSION): update crates/ffi/src/lib.rs and regenerate"
done
echo "header is current; version macros match Cargo.toml ($VERSION)"

# The quick start in docs/C_API.md (copied into the README) is tests/c/quickstart.c verbatim.
awk '/^```c$/ {on = 1; next} on && /^```$/ {exit} on' docs/C_API.md >"$WORK/quickstart.c"
diff -u tests/c/quickstart.c "$WORK/quickstart.c" ||
    die "the quick start in docs/C_API.md differs from tests/c/quickstart.c (diff above)"

# ---- 2. Build ------------------------------------------------------------------------------
say "building the ffi crate, its unit tests and the host binary"
cargo build -p agent-sessions-cli
NATIVE_LIBS=$(cargo rustc -p agent-sessions-ffi --lib -- --print native-static-libs 2>&1 |
    tee "$WORK/build.log" | sed -n 's/.*native-static-libs: //p' | tail -1)
[[ -n $NATIVE_LIBS ]] || { cat "$WORK/build.log"; die "could not read the static library's native dependencies"; }
cargo test -p agent-sessions-ffi --lib

# ---- 3. pkg-config files and the C/C++ builds ---------------------------------------------
LIBDIR=$CARGO_TARGET_DIR/debug
SONAME=libagent_sessions.so.$V_MAJOR
readelf -d "$LIBDIR/libagent_sessions_ffi.so" | grep -qF "Library soname: [$SONAME]" ||
    die "$LIBDIR/libagent_sessions_ffi.so has no SONAME $SONAME (crates/ffi/build.rs sets it)"
# Programs linked against the build tree record the SONAME, so the loader looks for that name
# in their rpath: give it one beside the build's file (the install uses the same names).
ln -sfn libagent_sessions_ffi.so "$LIBDIR/$SONAME"
PCDIR=$CARGO_TARGET_DIR/pkgconfig
mkdir -p "$PCDIR"
fill() { # name libs libs_private
    sed -e "s|@PREFIX@|$ROOT|" -e "s|@LIBDIR@|$LIBDIR|" -e "s|@INCLUDEDIR@|$ROOT/include|" \
        -e "s|@NAME@|$1|" -e "s|@VERSION@|$VERSION|" -e "s|@LIBS@|$2|" -e "s|@LIBS_PRIVATE@|$3|" \
        crates/ffi/agent_sessions.pc.in >"$PCDIR/$1.pc"
}
fill agent_sessions '-L${libdir} -lagent_sessions_ffi' "$NATIVE_LIBS"
fill agent_sessions-static "\${libdir}/libagent_sessions_ffi.a $NATIVE_LIBS" ''
export PKG_CONFIG_PATH=$PCDIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
echo "pkg-config: $(pkg-config --libs agent_sessions) | static: $(pkg-config --libs agent_sessions-static)"

say "compiling the C and C++ tests (shared and static)"
BUILD=$WORK/build
make -s -C tests/c OUT="$BUILD" all

if ldd "$BUILD/static/test_session" | grep -q libagent_sessions; then
    die "the static build links the shared library"
fi
ldd "$BUILD/shared/test_session" | grep -qF "$SONAME => $LIBDIR/$SONAME" ||
    die "the shared build does not load $LIBDIR/$SONAME: $(ldd "$BUILD/shared/test_session")"

# ---- 4. Run --------------------------------------------------------------------------------
mkdir -p "$WORK/tmp"
export AS_TEST_TMP=$WORK/tmp AS_TEST_HOST_BIN=$HOST_BIN
PASSED=0
FAILED=0
run() { # label command...
    local label=$1
    shift
    if "$@" >"$WORK/out.txt" 2>&1; then
        PASSED=$((PASSED + 1))
        printf 'ok   %s: %s\n' "$label" "$(tail -1 "$WORK/out.txt")"
    else
        FAILED=$((FAILED + 1))
        printf 'FAIL %s\n' "$label"
        sed 's/^/     /' "$WORK/out.txt"
    fi
}
quickstart() {
    local home out
    home=$(mktemp -d "$AS_TEST_TMP/qs-XXXXXX")
    out=$(AGENT_SESSIONS_HOME=$home AGENT_SESSIONS_HOST_BIN=$HOST_BIN "$1") || return 1
    printf '%s\n' "$out"
    [[ $out == *"hello from C"* ]] || { echo "quick start printed no echo"; return 1; }
    echo "quickstart: 1 passed, 0 failed"
}

say "running"
for kind in shared static; do
    B=$BUILD/$kind
    run "$kind/test_version" "$B/test_version"
    # Without $AGENT_SESSIONS_HOST_BIN: the test passes the binary with as_manager_set_host_binary.
    run "$kind/test_session" env -u AGENT_SESSIONS_HOST_BIN "$B/test_session"
    run "$kind/test_bad_input" env AGENT_SESSIONS_HOST_BIN="$HOST_BIN" "$B/test_bad_input"
    run "$kind/test_lifecycle" "$B/test_lifecycle"
    run "$kind/test_history" env -u AGENT_SESSIONS_HOST_BIN "$B/test_history"
    run "$kind/test_templates" env AGENT_SESSIONS_HOST_BIN="$HOST_BIN" "$B/test_templates"
    run "$kind/test_snapshots" env AGENT_SESSIONS_HOST_BIN="$HOST_BIN" "$B/test_snapshots"
    run "$kind/test_budgets" env AGENT_SESSIONS_HOST_BIN="$HOST_BIN" "$B/test_budgets"
    run "$kind/test_cpp" env AGENT_SESSIONS_HOST_BIN="$HOST_BIN" "$B/test_cpp"
    run "$kind/quickstart" quickstart "$B/quickstart"
done

if [[ ${AS_SKIP_VALGRIND:-0} != 1 ]]; then
    say "valgrind"
    # --fair-sched: valgrind runs one thread at a time, and without a fair hand-over the
    # racing threads of test_bad_input can starve the one that frees their handle.
    VG=(valgrind --quiet --fair-sched=yes --leak-check=full
        --show-leak-kinds=definite,indirect,possible
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1
        --suppressions=tests/c/valgrind.supp)
    run "valgrind shared/test_bad_input" "${VG[@]}" "$BUILD/shared/test_bad_input"
    run "valgrind static/test_session" env -u AGENT_SESSIONS_HOST_BIN "${VG[@]}" "$BUILD/static/test_session"
    run "valgrind shared/test_history" env -u AGENT_SESSIONS_HOST_BIN "${VG[@]}" "$BUILD/shared/test_history"
    run "valgrind shared/test_templates" env AGENT_SESSIONS_HOST_BIN="$HOST_BIN" "${VG[@]}" "$BUILD/shared/test_templates"
    run "valgrind shared/test_snapshots" env AGENT_SESSIONS_HOST_BIN="$HOST_BIN" "${VG[@]}" "$BUILD/shared/test_snapshots"
    run "valgrind shared/test_budgets" env AGENT_SESSIONS_HOST_BIN="$HOST_BIN" "${VG[@]}" "$BUILD/shared/test_budgets"
fi

# ---- 5. The installed copy -----------------------------------------------------------------
# PATH without any folder that holds an agent-sessions binary, so only the search beside the
# library can find the host. cargo (needed by the install) comes through a wrapper that gives
# it the full PATH back, in case it lives in such a folder.
BARE_PATH=
IFS=: read -ra PATH_DIRS <<<"$PATH"
for d in "${PATH_DIRS[@]}"; do
    [[ -n $d && ! -e $d/agent-sessions ]] && BARE_PATH+=${BARE_PATH:+:}$d
done
mkdir -p "$WORK/tools" "$WORK/no-pc"
printf '#!/usr/bin/env bash\nPATH=%q exec %q "$@"\n' "$PATH" "$(command -v cargo)" >"$WORK/tools/cargo"
chmod +x "$WORK/tools/cargo"
BARE_PATH=$WORK/tools:$BARE_PATH
if PATH=$BARE_PATH command -v agent-sessions; then die "agent-sessions is still on the bare PATH"; fi

# The recipe of docs/C_API.md, as written: only PREFIX and the repository's path are filled
# in. It installs (scripts/install_c.sh, a release build), compiles and runs quickstart.c.
PREFIX=$WORK/prefix
IB=$WORK/installed
mkdir -p "$IB"
cp tests/c/quickstart.c "$IB/quickstart.c"
awk '/^```sh$/ {on = 1; next} on && /^```$/ {exit} on' docs/C_API.md >"$WORK/recipe.sh"
grep -q '^PREFIX=' "$WORK/recipe.sh" && grep -qF '/path/to/agent-sessions/scripts/install_c.sh "$PREFIX"' "$WORK/recipe.sh" ||
    die "the first sh block of docs/C_API.md is no longer the install recipe: $(cat "$WORK/recipe.sh")"
sed -i -e "s|^PREFIX=.*|PREFIX=$PREFIX|" -e "s|/path/to/agent-sessions/|$ROOT/|" "$WORK/recipe.sh"
say "running the install recipe of docs/C_API.md (release build), PREFIX=$PREFIX"
sed 's/^/    /' "$WORK/recipe.sh"
recipe() {
    local home out
    home=$(mktemp -d "$AS_TEST_TMP/recipe-XXXXXX")
    # Only the prefix's .pc files: an empty PKG_CONFIG_LIBDIR hides the system's and ours.
    out=$(cd "$IB" && env -u AGENT_SESSIONS_HOST_BIN -u PKG_CONFIG_PATH PKG_CONFIG_LIBDIR="$WORK/no-pc" \
        PATH="$BARE_PATH" AGENT_SESSIONS_HOME="$home" bash -euo pipefail "$WORK/recipe.sh" 2>&1) ||
        { printf '%s\n' "$out"; return 1; }
    printf '%s\n' "$out"
    [[ $out == *"hello from C"* ]] || { echo "the recipe's program printed no echo"; return 1; }
    echo "install recipe: 1 passed, 0 failed (installed, built, host found beside the library)"
}
run "install: the recipe of docs/C_API.md" recipe
[[ -f $PREFIX/lib/pkgconfig/agent_sessions.pc ]] || die "the install recipe installed nothing (see above)"

check_install() {
    local f
    for f in include/agent_sessions.h "lib/libagent_sessions.so.$VERSION" lib/libagent_sessions.a \
        lib/pkgconfig/agent_sessions.pc lib/pkgconfig/agent_sessions-static.pc bin/agent-sessions; do
        [[ -f $PREFIX/$f && ! -L $PREFIX/$f ]] || { echo "not installed as a file: $f"; return 1; }
    done
    [[ $(readlink "$PREFIX/lib/$SONAME") == "libagent_sessions.so.$VERSION" ]] ||
        { echo "lib/$SONAME does not link to libagent_sessions.so.$VERSION"; return 1; }
    [[ $(readlink "$PREFIX/lib/libagent_sessions.so") == "$SONAME" ]] ||
        { echo "lib/libagent_sessions.so does not link to $SONAME"; return 1; }
    cmp include/agent_sessions.h "$PREFIX/include/agent_sessions.h" || return 1
    readelf -d "$PREFIX/lib/libagent_sessions.so.$VERSION" | grep -F "Library soname: [$SONAME]" ||
        { echo "the installed library has no SONAME $SONAME"; return 1; }
    echo "installed: every file, both symlinks, SONAME $SONAME"
}
run "install: files, symlinks, SONAME" check_install

# Only the installed copy: PKG_CONFIG_LIBDIR replaces pkg-config's default search path, and
# the program is compiled from a folder of its own, away from the repository's include/.
ipc() { PKG_CONFIG_LIBDIR=$PREFIX/lib/pkgconfig PKG_CONFIG_PATH= pkg-config "$@"; }
IWARN=(-std=c11 -g -Wall -Wextra -Wsign-compare -Werror -pedantic)
build_installed() {
    local cflags
    read -r cflags < <(ipc --cflags agent_sessions) # read trims pkg-config's trailing space
    [[ $cflags == "-I$PREFIX/include" ]] || { echo "cflags are not just the prefix's: $cflags"; return 1; }
    # shellcheck disable=SC2046 # pkg-config output is meant to split into arguments
    cc "${IWARN[@]}" "$IB/quickstart.c" $(ipc --cflags --libs agent_sessions) -o "$IB/quickstart" &&
        cc "${IWARN[@]}" "$IB/quickstart.c" $(ipc --cflags --libs agent_sessions-static) -pthread \
            -o "$IB/quickstart-static" || return 1
    readelf -d "$IB/quickstart" | grep -F "Shared library: [$SONAME]" ||
        { echo "the program does not need $SONAME"; return 1; }
    LD_LIBRARY_PATH=$PREFIX/lib ldd "$IB/quickstart" | grep -F "$SONAME => $PREFIX/lib/$SONAME" ||
        { echo "the program does not load the installed library"; return 1; }
    if ldd "$IB/quickstart-static" | grep -q libagent_sessions; then
        echo "the static build links the shared library"
        return 1
    fi
    echo "built against the installed copy: shared (needs $SONAME) and static"
}
run "install: compile quickstart.c with pkg-config" build_installed

installed_quickstart() { # libdir command...: runs it with no host set anywhere
    local libdir=$1 home out
    shift
    home=$(mktemp -d "$AS_TEST_TMP/iqs-XXXXXX")
    out=$(env -u AGENT_SESSIONS_HOST_BIN PATH="$BARE_PATH" LD_LIBRARY_PATH="$libdir" \
        AGENT_SESSIONS_HOME="$home" "$@" 2>&1) || { printf '%s\n' "$out"; return 1; }
    printf '%s\n' "$out"
    [[ $out == *"hello from C"* ]] || { echo "quick start printed no echo"; return 1; }
    echo "installed quickstart: 1 passed, 0 failed (host found beside the library)"
}
run "install: quickstart finds PREFIX/bin/agent-sessions" \
    installed_quickstart "$PREFIX/lib" "$IB/quickstart"
static_quickstart() { # a static program has no library file: it finds the host on PATH
    local home out
    home=$(mktemp -d "$AS_TEST_TMP/iqs-XXXXXX")
    out=$(env -u AGENT_SESSIONS_HOST_BIN PATH="$PREFIX/bin:$BARE_PATH" AGENT_SESSIONS_HOME="$home" \
        "$IB/quickstart-static" 2>&1) || { printf '%s\n' "$out"; return 1; }
    [[ $out == *"hello from C"* ]] || { printf '%s\n' "$out"; echo "no echo"; return 1; }
    echo "static quickstart: 1 passed, 0 failed (host found on PATH)"
}
run "install: static quickstart" static_quickstart
no_host() { # the library alone, without its bin/: the start fails and says what to do
    local home out
    mkdir -p "$WORK/nohost/lib"
    cp -P "$PREFIX"/lib/libagent_sessions.so* "$WORK/nohost/lib/"
    home=$(mktemp -d "$AS_TEST_TMP/iqs-XXXXXX")
    if out=$(env -u AGENT_SESSIONS_HOST_BIN PATH="$BARE_PATH" LD_LIBRARY_PATH="$WORK/nohost/lib" \
        AGENT_SESSIONS_HOME="$home" "$IB/quickstart" 2>&1); then
        printf '%s\n' "$out"
        echo "the start succeeded without any host binary"
        return 1
    fi
    printf '%s\n' "$out"
    [[ $out == *"as_manager_start: cannot find the agent-sessions host binary"* &&
        $out == *"$WORK/nohost/bin/agent-sessions"* && $out == *"as_manager_set_host_binary()"* ]] ||
        { echo "the message does not say where it looked and what to do"; return 1; }
    echo "no host: 1 passed, 0 failed (the message names the places and as_manager_set_host_binary)"
}
run "install: no host anywhere" no_host
if [[ ${AS_SKIP_VALGRIND:-0} != 1 ]]; then
    run "valgrind install: quickstart" \
        installed_quickstart "$PREFIX/lib" "${VG[@]}" "$IB/quickstart"
fi

printf '\nC ABI: %d passed, %d failed\n' "$PASSED" "$FAILED"
[[ $FAILED == 0 ]]
