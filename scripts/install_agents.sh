#!/usr/bin/env bash
# Installs the pinned real agent CLIs from the npm registry into a cache folder outside the
# repository (default ~/.cache/agent-sessions/agents, or $AGENT_SESSIONS_AGENTS_CACHE), one
# folder per package and version, and prints where each executable is. The real-agent tests
# (tests/real_agents) run these against a loopback stand-in API. A failed install fails:
# the tests must not silently skip the real programs.
#   ./scripts/install_agents.sh            # install what is missing, print KEY=PATH lines
set -euo pipefail
cache=${AGENT_SESSIONS_AGENTS_CACHE:-$HOME/.cache/agent-sessions/agents}
mkdir -p "$cache"

# name  npm package                 version   executable inside the install
pins=(
  "claude   @anthropic-ai/claude-code 2.1.197 node_modules/@anthropic-ai/claude-code/bin/claude.exe"
  "codex    @openai/codex             0.171.0 node_modules/@openai/codex/bin/codex.js"
  "gemini   @google/gemini-cli        0.61.0  node_modules/@google/gemini-cli/bundle/gemini.js"
  "opencode opencode-ai               1.18.33 node_modules/opencode-ai/bin/opencode.exe"
)

command -v npm >/dev/null || {
  echo "npm is missing: install node and npm (Debian: apt-get install nodejs npm)" >&2
  exit 1
}

for pin in "${pins[@]}"; do
  read -r name pkg ver exe <<<"$pin"
  dir="$cache/$name-$ver"
  if [ ! -f "$dir/.installed" ]; then
    echo "installing $pkg@$ver into $dir" >&2
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    # Scripts stay on: claude and opencode put their native binary in place in postinstall;
    # optional dependencies stay on: they carry those binaries.
    npm install --prefix "$dir.tmp" --no-audit --no-fund --loglevel=error \
      --no-save "$pkg@$ver" >&2
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    touch "$dir/.installed"
  fi
  [ -e "$dir/$exe" ] || { echo "$pkg@$ver installed but $dir/$exe is missing" >&2; exit 1; }
  echo "$name=$dir/$exe"
done
