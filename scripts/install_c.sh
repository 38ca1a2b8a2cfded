#!/usr/bin/env bash
# Installs the C API of agent-sessions into PREFIX, after building it in release mode:
#
#   PREFIX/include/agent_sessions.h
#   PREFIX/lib/libagent_sessions.so.X.Y.Z           the shared library, SONAME libagent_sessions.so.X
#   PREFIX/lib/libagent_sessions.so.X -> libagent_sessions.so.X.Y.Z
#   PREFIX/lib/libagent_sessions.so   -> libagent_sessions.so.X
#   PREFIX/lib/libagent_sessions.a                  the static library
#   PREFIX/lib/pkgconfig/agent_sessions.pc          links the shared library
#   PREFIX/lib/pkgconfig/agent_sessions-static.pc   links the static library and its system libraries
#   PREFIX/bin/agent-sessions                       the session host (and the CLI)
#
# A program linked against the installed library finds the host by itself: the library looks
# beside its own file (PREFIX/lib -> PREFIX/bin) before PATH.
#
# Usage: scripts/install_c.sh PREFIX                     e.g. /usr/local or ~/.local
#        DESTDIR=/tmp/stage scripts/install_c.sh /usr    staged install for packaging: the
#                                                        files go under DESTDIR, the .pc
#                                                        files name PREFIX
# Honours CARGO_TARGET_DIR (default: <repo>/target). Needs cargo and coreutils.
set -euo pipefail

die() { printf 'install_c.sh: %s\n' "$*" >&2; exit 1; }

[[ $# == 1 && -n $1 && $1 != -* ]] || die "usage: scripts/install_c.sh PREFIX (e.g. /usr/local)"
PREFIX=$1
[[ $PREFIX == /* ]] || PREFIX=$PWD/$PREFIX # the .pc files need an absolute path
PREFIX=${PREFIX%/}
DEST=${DESTDIR:-}$PREFIX

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
mkdir -p "$CARGO_TARGET_DIR"
export CARGO_TARGET_DIR=$(cd "$CARGO_TARGET_DIR" && pwd)
REL=$CARGO_TARGET_DIR/release

VERSION=$(cargo pkgid -p agent-sessions-ffi | sed 's/.*[@#]//')
MAJOR=${VERSION%%.*}
SONAME=libagent_sessions.so.$MAJOR

echo "building agent-sessions $VERSION (release)"
scripts/build_cli.sh
# One build of the libraries that also prints the static library's system dependencies.
NATIVE_LIBS=$(cargo rustc --release -p agent-sessions-ffi --lib -- --print native-static-libs 2>&1 |
    tee "$CARGO_TARGET_DIR/install_c.log" | sed -n 's/.*native-static-libs: //p' | tail -1)
[[ -n $NATIVE_LIBS ]] ||
    die "could not read the static library's native dependencies; the build said (see $CARGO_TARGET_DIR/install_c.log): $(tail -5 "$CARGO_TARGET_DIR/install_c.log")"
for f in libagent_sessions_ffi.so libagent_sessions_ffi.a agent-sessions; do
    [[ -f $REL/$f ]] || die "the build left no $REL/$f"
done

echo "installing into ${DESTDIR:+$DESTDIR}$PREFIX"
install -d "$DEST/include" "$DEST/lib/pkgconfig" "$DEST/bin"
install -m 0644 include/agent_sessions.h "$DEST/include/agent_sessions.h"
install -m 0755 "$REL/libagent_sessions_ffi.so" "$DEST/lib/libagent_sessions.so.$VERSION"
ln -sfn "libagent_sessions.so.$VERSION" "$DEST/lib/$SONAME"
ln -sfn "$SONAME" "$DEST/lib/libagent_sessions.so"
install -m 0644 "$REL/libagent_sessions_ffi.a" "$DEST/lib/libagent_sessions.a"
install -m 0755 "$REL/agent-sessions" "$DEST/bin/agent-sessions"

pc() { # name libs libs_private
    # libdir and includedir stay relative to ${prefix}, so `pkg-config --define-prefix` can
    # relocate the tree.
    sed -e "s|@PREFIX@|$PREFIX|" -e 's|@LIBDIR@|${prefix}/lib|' -e 's|@INCLUDEDIR@|${prefix}/include|' \
        -e "s|@NAME@|$1|" -e "s|@VERSION@|$VERSION|" -e "s|@LIBS@|$2|" -e "s|@LIBS_PRIVATE@|$3|" \
        crates/ffi/agent_sessions.pc.in >"$DEST/lib/pkgconfig/$1.pc"
    chmod 0644 "$DEST/lib/pkgconfig/$1.pc"
}
pc agent_sessions '-L${libdir} -lagent_sessions' "$NATIVE_LIBS"
pc agent_sessions-static "\${libdir}/libagent_sessions.a $NATIVE_LIBS" ''

cat <<EOF
installed agent-sessions $VERSION:
  $PREFIX/include/agent_sessions.h
  $PREFIX/lib/libagent_sessions.so.$VERSION (SONAME $SONAME), $SONAME, libagent_sessions.so
  $PREFIX/lib/libagent_sessions.a
  $PREFIX/lib/pkgconfig/agent_sessions.pc, agent_sessions-static.pc
  $PREFIX/bin/agent-sessions
Build a program with
  cc app.c \$(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --cflags --libs agent_sessions)
and, unless $PREFIX/lib is searched by the loader already, add -Wl,-rpath,$PREFIX/lib or set
LD_LIBRARY_PATH=$PREFIX/lib (or run ldconfig for a system prefix).
EOF
