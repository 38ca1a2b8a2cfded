#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs a demo session end to end:
# installs system tools, builds and installs agent-sessions (Python package with the CLI and
# the session host) into ./.venv, then starts a fake agent, sends it input, shows its state,
# screen, logs and conversation, pauses and continues it, stops it and shows its events.
#   ./scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh
need_system_packages

if [ -f pyproject.toml ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  echo "installing agent-sessions into ./.venv (the first build takes a few minutes)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q .
  AS=.venv/bin/agent-sessions
else
  scripts/build_cli.sh -q
  AS=target/release/agent-sessions
fi

export AGENT_SESSIONS_HOME="${AGENT_SESSIONS_HOME:-$(mktemp -d -t agent-sessions-demo.XXXXXX)}"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

say "agent-sessions start custom --name demo --task DEMO-1 --idle-after 1 -- python3 tests/fake_agents/fake_agent.py"
id=$($AS start custom --name demo --task DEMO-1 --idle-after 1 -- python3 tests/fake_agents/fake_agent.py)
echo "$id"
run $AS wait "$id" --state waiting_input --timeout 30
run $AS send "$id" "hello from the demo"
say "agent-sessions screen $id   (polling until the agent has answered)"
for _ in $(seq 1 300); do
  $AS screen "$id" | grep -q "echo: hello from the demo" && break
  sleep 0.1
done
$AS screen "$id"
run $AS state "$id"
run $AS logs "$id" --plain
run $AS pause "$id"
run $AS continue "$id"
run $AS history "$id"
run $AS ls
run $AS tasks
run $AS stop "$id"
run $AS events "$id"
run $AS show "$id"
printf '\nDemo done. Sessions live in %s; try: %s attach <id> (Ctrl-\\ detaches)\n' "$AGENT_SESSIONS_HOME" "$AS"
