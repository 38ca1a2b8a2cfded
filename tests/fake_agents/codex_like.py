#!/usr/bin/env python3
"""A fake Codex CLI (0.169.0 look, from shared/fixtures/agents) for tests.

Full screen on the alternate screen like the real one: the welcome text at the top, the
transcript under it, and at the bottom the composer ("› Ask Codex to do anything"), the
model line and the footer ("? for shortcuts", hidden while text is typed). A turn shows
"• Working (Ns • esc to interrupt)" above the composer. Quits on "/quit" and prints
"codex resume <session id>". Esc interrupts a turn; Ctrl-C interrupts, clears typed text,
or (twice within 2 s) exits. --permission: the command approval overlay ("Would you like to
run the following command?") in place of the composer. --trust: the directory-trust screen.

The conversation goes to a rollout in Codex's format (see
shared/fixtures/agents/transcripts/codex-rollout.jsonl):
$CODEX_HOME/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDTHH-MM-SS-<session id>.jsonl (CODEX_HOME
unset: not ~/.codex as for the real CLI, but <$FAKE_AGENTS_HOME or the temp dir's
fake-agents-<uid>>/codex-home, so tests never write into the user's real records), created
with the first prompt: a session_meta line, then a
response_item message per prompt and per reply and a token_count event per turn.
"codex_like.py resume ID" (the subcommand first, as in the real CLI) goes on with
conversation ID: same session id, the earlier exchanges shown again, new ones appended to its
rollout; when there is no rollout for ID it prints "No saved session found with ID ID" and
exits 1. Options: see _tui.py.
"""

import glob
import json
import os
import sys
import time
import uuid

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _tui import FakeAgent, agent_home, append_jsonl, iso_now, main, spread  # noqa: E402

COMMANDS = [
    "  /init - create an AGENTS.md file with instructions for Codex",
    "  /status - show current session configuration",
    "  /permissions - choose what Codex is allowed to do",
    "  /model - choose what model and reasoning effort to use",
    "  /review - review any changes and find issues",
]


def codex_home():
    return agent_home("CODEX_HOME", "codex-home")


class Rollout:
    """A Codex rollout file: one JSON object per line, session_meta first."""

    def __init__(self, session_id, cwd):
        self.session_id = session_id
        self.cwd = cwd
        self.path = None
        self.ordinal = 0
        self.turns = 0  # replies so far, for the cumulative token count
        found = sorted(glob.glob(os.path.join(
            codex_home(), "sessions", "*", "*", "*", f"rollout-*-{glob.escape(session_id)}.jsonl")))
        if found:
            self.path = found[-1]

    def exists(self):
        return self.path is not None and os.path.isfile(self.path)

    def load(self):
        out = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    v = json.loads(line)
                except ValueError:
                    continue
                self.ordinal = max(self.ordinal, int(v.get("ordinal", 0)) + 1)
                p = v.get("payload") or {}
                if v.get("type") != "response_item" or p.get("type") != "message":
                    continue
                text = "\n".join(b.get("text", "") for b in p.get("content") or []
                                 if isinstance(b, dict))
                if p.get("role") in ("user", "assistant") and text.strip() \
                        and not text.startswith("<environment_context>"):
                    out.append((p["role"], text))
                    self.turns += p["role"] == "assistant"
        return out

    def line(self, kind, payload):
        v = {"timestamp": iso_now(), "ordinal": self.ordinal, "type": kind, "payload": payload}
        self.ordinal += 1
        return v

    def add(self, role, text):
        lines = []
        if not self.exists():
            now = time.time()
            day = time.strftime("%Y/%m/%d", time.localtime(now))
            stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.localtime(now))
            self.path = os.path.join(codex_home(), "sessions", day,
                                     f"rollout-{stamp}-{self.session_id}.jsonl")
            lines.append(self.line("session_meta", {
                "session_id": self.session_id, "id": self.session_id, "timestamp": iso_now(),
                "cwd": self.cwd, "originator": "codex_cli_rs", "cli_version": "0.169.0",
                "source": "cli", "model_provider": "openai"}))
        if role == "user":
            lines.append(self.line("response_item", {
                "type": "message", "id": f"msg_{uuid.uuid4()}", "role": "user",
                "content": [{"type": "input_text", "text": text}]}))
        else:
            lines.append(self.line("response_item", {
                "type": "message", "status": "completed", "id": f"msg_resp_{uuid.uuid4().hex}",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}))
            self.turns += 1
            last = {"input_tokens": 1234, "cached_input_tokens": 700, "output_tokens": 56,
                    "reasoning_output_tokens": 0, "total_tokens": 1290}
            total = {k: v * self.turns for k, v in last.items()}
            lines.append(self.line("event_msg", {
                "type": "token_count",
                "info": {"total_token_usage": total, "last_token_usage": last,
                         "model_context_window": 258400}}))
        append_jsonl(self.path, lines)


class CodexLike(FakeAgent):
    name = "codex"
    alt_screen = True
    program_status = "codex"
    quit_commands = ("/quit",)
    has_trust_dialog = True
    ctrl_c_again_notice = "ctrl + c again to quit"

    def add_arguments(self, parser):
        # `codex resume ID`: the subcommand and its argument come first.
        parser.add_argument("command", nargs="*", metavar="resume ID")
        # Codex's config overrides (`-c key=value`), as the real CLI takes them: sessions
        # pass its hooks and its OpenTelemetry export so. Accepted and ignored; the fake
        # reports through its status escape instead.
        parser.add_argument("-c", "--config", action="append", default=[])

    def resume_arg(self):
        cmd = self.args.command
        if cmd and cmd[0] == "resume":
            if len(cmd) != 2:
                raise SystemExit("usage: codex_like.py resume SESSION_ID")
            return cmd[1]
        if cmd:
            raise SystemExit(f"codex_like.py: unknown command {cmd[0]!r}")
        return None

    def conversation(self):
        return Rollout(self.session_id, self.cwd)

    def missing_conversation(self, session_id):
        return f"No saved session found with ID {session_id}"

    def reply_text(self, prompt):
        return "MOCK-REPLY from responses api"

    def assistant_lines(self, text):
        return ["", f"• {text}", ""]

    def user_lines(self, prompt):
        return [f"› {prompt}", ""]

    def reply_lines(self, prompt, secs):
        return ["", "• MOCK-REPLY from responses api", "",
                f"  Worked for {secs}s • {time.strftime('%H:%M')}", ""]

    def interrupted_lines(self):
        return ["■ Conversation interrupted - tell the model what to do differently.", ""]

    def trust_screen(self):
        return [
            "", f"> You are in {self.cwd}", "",
            "  Do you trust the contents of this directory? Working with untrusted contents comes"
            " with higher risk of prompt",
            "  injection.", "", "› 1. Yes, continue", "  2. No, quit", "",
            "  Press enter to continue",
        ]

    def approval(self):
        return [
            "  Would you like to run the following command?", "",
            "  Reason: list the files in /tmp", "", "  $ ls /tmp", "",
            "› 1. Yes, proceed (y)",
            "  2. Yes, and don't ask again for commands that start with `ls /tmp` (p)",
            "  3. No, and tell Codex what to do differently (esc)", "",
            "  Press enter to confirm or esc to cancel",
        ]

    def screen(self):
        if self.mode == "trust":
            return self.trust_screen(), None
        top = ["", "  >_ OpenAI Codex (v0.169.0)", f"     {self.cwd}", "",
               "  To get started, describe a task or try one of these commands:", ""]
        top += COMMANDS + ["", ""] + self.history
        cursor = None
        if self.mode == "permission":
            bottom = self.approval()
        else:
            bottom = []
            parts = self.streamed_parts()
            if parts:
                # A streaming reply: its text so far, and no busy line (Codex 0.171).
                words = ["MOCK-REPLY", "from", "responses api"]
                bottom += ["• " + " ".join(words[:parts]), "", ""]
            elif self.mode == "busy":
                bullet = "•◦"[int(self.turn_seconds() * 2) % 2]
                bottom += [f"{bullet} Working ({int(self.turn_seconds())}s • esc to interrupt)",
                           "", ""]
            if self.notice:
                footer = f"  {self.notice}"
            elif self.input:
                footer = ""
            else:
                footer = "  ← for agents · ? for shortcuts"
            composer = "› " + (self.input or "Ask Codex to do anything")
            bottom += [composer, "", f"  gpt-5-codex default · {self.cwd}",
                       spread(footer, self.warnings(), self.cols - 1)]
        room = max(0, self.rows - len(bottom))
        top = top[len(top) - room:] if len(top) > room else top + [""] * (room - len(top))
        if self.mode != "permission":
            cursor = (room + len(bottom) - 4, 2 + len(self.input))
        return top + bottom, cursor

    def warnings(self):
        # The capture shows one warning at start and two once a turn has run.
        return "⚠ 2 warnings · f2 to view" if self.history else "⚠ 1 warning · f2 to view"

    def exit_text(self):
        if self.exit_code:
            return ""
        return (
            "    Disconnected from this task. Any running work continues.\n"
            "To reconnect, run:\n"
            f"  codex resume {self.session_id}\n"
            "Token usage so far: total=590 input=534 (+ 700 cached) output=56\n"
        )


if __name__ == "__main__":
    main(CodexLike)
