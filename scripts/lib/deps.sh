# Installs the system tools the tests and the demo use, when missing (Debian/Ubuntu).
# Sourced by scripts/*.sh.
need_system_packages() {
  local missing=()
  command -v tmux >/dev/null || missing+=(tmux)
  command -v script >/dev/null || missing+=(bsdutils)
  command -v python3 >/dev/null || missing+=(python3)
  command -v cc >/dev/null || missing+=(gcc)
  command -v c++ >/dev/null || missing+=(g++)
  command -v valgrind >/dev/null || missing+=(valgrind)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  command -v make >/dev/null || missing+=(make)
  # The real agent CLIs (tests/real_agents) come from the npm registry.
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
  fi
  command -v cargo >/dev/null || {
    echo "cargo is missing: install Rust from your distribution or rustup first" >&2
    exit 1
  }
}
