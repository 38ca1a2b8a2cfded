"""Fixtures of the dashboard's browser tests: a private `agent-sessions serve` per test (its
own sessions home in a temp folder, every session it started stopped at the end), the
system Chromium driven by Playwright, and a page signed in or not.

The binary: $AGENT_SESSIONS_BIN, else .venv/bin/agent-sessions, else
target/debug/agent-sessions. Chromium: /usr/bin/chromium (Debian's; Playwright's own
browser download is never used)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

REPO = Path(__file__).resolve().parents[2]
FAKE = REPO / "tests" / "fake_agents" / "fake_agent.py"
FAKE_CLAUDE = REPO / "tests" / "fake_agents" / "claude_like.py"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: Generous: the machine has 2 noisy cores.
TIMEOUT_S = 30.0
TIMEOUT_MS = int(TIMEOUT_S * 1000)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "perf: measurements (first load, page weight) that print and do not assert")


def binary() -> Path:
    env = os.environ.get("AGENT_SESSIONS_BIN")
    candidates = [Path(env)] if env else [REPO / ".venv" / "bin" / "agent-sessions",
                                          REPO / "target" / "debug" / "agent-sessions"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    pytest.fail(f"no agent-sessions binary at {', '.join(map(str, candidates))}: set "
                "AGENT_SESSIONS_BIN or run `cargo build -p agent-sessions-cli`")


def wait_until(pred: Callable[[], Any], timeout: float = TIMEOUT_S, interval: float = 0.1,
               what: str = "condition") -> Any:
    """Polls `pred` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Server:
    """One `agent-sessions serve --listen 127.0.0.1:0 --json` with its own home."""

    def __init__(self, home: Path) -> None:
        self.bin = binary()
        self.home = home
        # The fake Claude Code's records stay in this home (the server, a reader of them, and
        # the hosts see the same CLAUDE_CONFIG_DIR); nothing reaches the user's ~/.claude.
        claude = home / "bin" / "claude"
        claude.parent.mkdir(parents=True, exist_ok=True)
        claude.write_text(f"#!/bin/sh\nexec {sys.executable} '{FAKE_CLAUDE}' --reply-delay 0.2 \"$@\"\n")
        claude.chmod(0o755)
        self.env = {**os.environ, "AGENT_SESSIONS_HOME": str(home),
                    "CLAUDE_CONFIG_DIR": str(home / "claude-config"),
                    "FAKE_AGENTS_HOME": str(home / "fake-agents"),
                    "AGENT_SESSIONS_CLAUDE_BIN": str(claude)}
        self.env.pop("AGENT_SESSIONS_TASK", None)
        self.out = home / "serve.out"
        self.err = home / "serve.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen([str(self.bin), "serve", "--listen", "127.0.0.1:0", "--json"],
                                         env=self.env, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL)
        line = wait_until(self._ready_line, what="serve's ready line")
        self.ready: dict[str, Any] = json.loads(line)
        self.url: str = self.ready["url"]
        self.login_url: str | None = self.ready.get("login_url")
        self.token: str = Path(self.ready["token_path"]).read_text().strip()
        self.started: list[str] = []

    def _ready_line(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"serve exited with {self.proc.returncode}: {self.err.read_text()}")
        text = self.out.read_text() if self.out.exists() else ""
        return text.split("\n", 1)[0] if "\n" in text else None

    # --- the CLI -------------------------------------------------------------------------
    def cli(self, *args: str, check: bool = True, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([str(self.bin), *args], env=self.env, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"agent-sessions {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args).stdout)

    def start_fake(self, *, name: str | None = None, task: str | None = None,
                   agent: str = "custom", extra: tuple[str, ...] = (),
                   options: tuple[str, ...] = ()) -> str:
        """A session of the fake agent started from the CLI (`options` for `start`, `extra`
        for the agent); its id."""
        args = ["start", "--json", "--cwd", str(self.home), *options]
        if name:
            args += ["--name", name]
        if task:
            args += ["--task", task]
        args.append(agent)
        if agent == "claude":
            args += ["--", *extra]
        elif agent == "custom":
            args += ["--", sys.executable, str(FAKE), *extra]
        rec = self.cli_json(*args)
        self.started.append(rec["session_id"])
        return rec["session_id"]

    def state(self, sid: str) -> dict[str, Any]:
        return self.cli_json("state", "--json", sid)

    def wait_state(self, sid: str, *states: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            s = self.state(sid)
            return s if s["state"] in states else None
        return wait_until(reached, timeout, 0.2, f"{sid} to be {' or '.join(states)}")

    def define_permission_agent(self) -> None:
        """`fakeperm`: the fake agent whose prompt reads as a permission dialog (a screen
        rule), so its sessions wait for a person (state waiting_input, reason permission)."""
        prompt = "Run `rm -rf build`? (Y)es/(N)o "
        (self.home / "agents.toml").write_text(
            "[agents.fakeperm]\n"
            f"command = {json.dumps([sys.executable, str(FAKE), '--prompt', prompt])}\n"
            'permission = ["(Y)es/(N)o"]\n')

    # --- the HTTP API with the token (what a script does, not the page) -----------------
    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw = r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def close(self) -> None:
        try:
            self.cli("stop", "--all", "--force", check=False, timeout=180)
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


@pytest.fixture
def server() -> Iterator[Server]:
    # A short path under /tmp: session sockets must fit in sun_path.
    home = Path(tempfile.mkdtemp(prefix="asb-"))
    srv = None
    try:
        srv = Server(home)
        yield srv
    finally:
        if srv is not None:
            srv.close()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test_browser.sh (it installs chromium)")
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"],
                                            headless=True)
    yield b
    b.close()


class Recorded:
    """A browser context that records every request URL its pages make."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.urls: list[str] = []
        self.console: list[str] = []
        context.on("request", lambda req: self.urls.append(req.url))

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        return page


@pytest.fixture
def recorded(browser: Browser) -> Iterator[Recorded]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    rec = Recorded(ctx)
    yield rec
    ctx.close()


@pytest.fixture
def page(recorded: Recorded) -> Page:
    return recorded.new_page()


def _sign_in(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    page.locator("#token").fill(server.token)
    page.locator("#sign-in").click()
    page.locator("#sessions-table").wait_for(state="visible")


@pytest.fixture
def sign_in() -> Callable[[Page, Server], None]:
    """Signs a page in through its form, as a person pasting the token does."""
    return _sign_in


@pytest.fixture
def signed_in(page: Page, server: Server) -> Page:
    _sign_in(page, server)
    return page


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ignore = ARTIFACTS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n!.gitignore\n")
    return ARTIFACTS
