#!/usr/bin/env python3
"""A fake Claude Code (2.1.197 look, from shared/fixtures/agents) for tests.

Draws inline on the normal screen like the real one: the welcome box, the transcript, the
input box between two rules ("❯" + no-break space), the footer ("? for shortcuts" idle,
"esc to interrupt" busy). Quits on "/exit" and prints "claude --resume <session id>".
Esc interrupts a turn. Ctrl-C: interrupts a turn, clears typed text, or (twice within 2 s)
exits. --permission: a Bash approval dialog ("Do you want to proceed?"); the spinner and
"esc to interrupt" stay drawn under it, as in the real CLI. --trust: the folder-trust
dialog ("Yes, I trust this folder").

The conversation goes to a project transcript in Claude Code's format (see
shared/fixtures/agents/transcripts/claude-project-session.jsonl):
<config>/projects/<slug>/<session id>.jsonl, <config> being $CLAUDE_CONFIG_DIR (unset:
not ~/.claude as for the real CLI, but <$FAKE_AGENTS_HOME or the temp dir's
fake-agents-<uid>>/claude-config, so tests never write into the user's real records) and
<slug> the working folder with every character but [A-Za-z0-9] replaced by
"-"; one "user" line per prompt, one "assistant" line (with usage) per reply. It is created
with the first prompt, as the real CLI does. Options: see _tui.py, and:
  --resume ID          go on with conversation ID: same session id, the earlier exchanges
                       shown again, new ones appended to its transcript; when there is no
                       transcript, prints "No conversation found with session ID: ID" and
                       exits 1 (as the real CLI does)
  --settings JSON      settings as Claude Code's --settings takes them (inline JSON only);
                       the command hooks declared under "hooks" run like the real CLI runs
                       them: through /bin/sh -c, with the hook JSON on stdin, waited for
                       (up to their "timeout"), for SessionStart (at start),
                       UserPromptSubmit (a prompt is submitted), PermissionRequest (a
                       permission dialog opens: tool_name "Bash", tool_input), Notification
                       (that dialog still unanswered 6 s later: notification_type
                       "permission_prompt", as Claude Code 2.1.197 does), Stop (a turn ends;
                       not on interrupt) and SessionEnd (on exit)
"""

import json
import os
import re
import subprocess
import time
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _tui import FakeAgent, agent_home, append_jsonl, iso_now, main, spread  # noqa: E402

SPINNER = "·✢*✶✻✽"
BOX = 104  # the welcome box's width in the capture


def project_slug(cwd):
    """Claude Code's project folder name for cwd: every character but [A-Za-z0-9] becomes
    '-' (one per UTF-16 unit, like the CLI, which runs on JavaScript strings)."""
    out = []
    for c in cwd:
        if c.isascii() and c.isalnum():
            out.append(c)
        else:
            out.append("-" * (2 if ord(c) > 0xFFFF else 1))
    return "".join(out)


class Transcript:
    """A Claude Code project transcript: one JSON object per line."""

    def __init__(self, session_id, cwd):
        config = agent_home("CLAUDE_CONFIG_DIR", "claude-config")
        self.path = os.path.join(config, "projects", project_slug(cwd), f"{session_id}.jsonl")
        self.session_id = session_id
        self.cwd = cwd
        self.parent = None  # uuid of the last line, for parentUuid

    def exists(self):
        return os.path.isfile(self.path)

    def load(self):
        out = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    v = json.loads(line)
                except ValueError:
                    continue
                if v.get("uuid"):
                    self.parent = v["uuid"]
                kind = v.get("type")
                if kind not in ("user", "assistant") or v.get("isMeta") or v.get("isSidechain"):
                    continue
                content = (v.get("message") or {}).get("content")
                if isinstance(content, list):
                    content = "\n".join(b.get("text", "") for b in content
                                        if isinstance(b, dict) and b.get("type") == "text")
                if isinstance(content, str) and content.strip():
                    out.append((kind, content))
        return out

    def common(self, kind):
        line = {"parentUuid": self.parent, "isSidechain": False, "type": kind,
                "uuid": str(uuid.uuid4()), "timestamp": iso_now(), "userType": "external",
                "entrypoint": "cli", "cwd": self.cwd, "sessionId": self.session_id,
                "version": "2.1.197", "gitBranch": "HEAD"}
        self.parent = line["uuid"]
        return line

    def add(self, role, text):
        lines = []
        if not self.exists():
            lines += [{"type": "mode", "mode": "normal", "sessionId": self.session_id},
                      {"type": "permission-mode", "permissionMode": "default",
                       "sessionId": self.session_id}]
        line = self.common(role)
        if role == "user":
            line.update({"promptId": str(uuid.uuid4()),
                         "message": {"role": "user", "content": text},
                         "permissionMode": "default", "origin": {"kind": "human"},
                         "promptSource": "typed"})
        else:
            line["message"] = {
                "id": "msg_" + uuid.uuid4().hex[:20], "type": "message", "role": "assistant",
                "model": "claude-opus-4-8", "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 1234, "cache_creation_input_tokens": 300,
                          "cache_read_input_tokens": 700, "output_tokens": 56,
                          "service_tier": "standard"},
            }
            line["requestId"] = "req_" + uuid.uuid4().hex[:24]
        lines.append(line)
        append_jsonl(self.path, lines)


def welcome(cwd):
    left = ["", "Welcome back!", "", "▐▛███▜▌", "▝▜█████▛▘", "▘▘ ▝▝", "",
            "Opus 4.8 (1M context) · API Usage Billing", cwd]
    right = ["Tips for getting started", "Ask Claude to create a new app or clone a repository",
             "─" * 52, "What's new", "Check the Claude Code changelog for updates", "", "", "", ""]
    title = "╭─── Claude Code v2.1.197 "
    lines = [title + "─" * (BOX - len(title) - 1) + "╮"]
    for lt, rt in zip(left, right):
        lines.append("│" + lt.center(47) + "│ " + rt.ljust(52) + " │")
    lines.append("╰" + "─" * (BOX - 2) + "╯")
    return lines


class ClaudeLike(FakeAgent):
    name = "claude"
    quit_commands = ("/exit",)
    has_trust_dialog = True
    ctrl_c_again_notice = "Press Ctrl-C again to exit"

    def add_arguments(self, parser):
        parser.add_argument("--settings", default=None)
        parser.add_argument("--resume", "-r", default=None)

    def resume_arg(self):
        return self.args.resume

    def conversation(self):
        return Transcript(self.session_id, self.cwd)

    def missing_conversation(self, session_id):
        return f"No conversation found with session ID: {session_id}"

    def assistant_lines(self, text):
        return [f"● {text}", ""]

    def hooks(self, event_name, match_value=""):
        """The hook commands declared for an event whose matcher accepts match_value."""
        if not self.args.settings:
            return []
        try:
            settings = json.loads(self.args.settings)
        except ValueError:
            return []
        out = []
        for group in (settings.get("hooks") or {}).get(event_name) or []:
            matcher = group.get("matcher") or ""
            if matcher not in ("", "*") and not re.fullmatch(matcher, match_value):
                continue
            for h in group.get("hooks") or []:
                if h.get("type") == "command" and h.get("command"):
                    out.append((h["command"], float(h.get("timeout") or 60)))
        return out

    def run_hooks(self, event_name, match_value="", **fields):
        payload = {
            "session_id": self.session_id,
            "transcript_path": self.store.path,
            "cwd": self.cwd,
            "hook_event_name": event_name,
        }
        payload.update(fields)
        for command, timeout in self.hooks(event_name, match_value):
            try:
                subprocess.run(["/bin/sh", "-c", command], input=json.dumps(payload).encode(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=timeout, check=False)
            except (OSError, subprocess.TimeoutExpired):
                pass

    def event(self, name, **fields):
        if name == "start":
            source = "resume" if self.resume_id else "startup"
            self.run_hooks("SessionStart", source, source=source)
        elif name == "submit":
            self.run_hooks("UserPromptSubmit", prompt=fields.get("prompt", ""))
        elif name == "permission":
            # Claude Code 2.1.197: PermissionRequest as the dialog shows; the
            # permission_prompt notification only after ~6 s unanswered (see tick).
            self.dialog_since = time.monotonic()
            self.dialog_notified = False
            self.run_hooks("PermissionRequest", "Bash", tool_name="Bash",
                           tool_input={"command": "ls /tmp",
                                       "description": "list the files in /tmp"},
                           permission_suggestions=[])
        elif name == "stop":
            self.run_hooks("Stop", stop_hook_active=False)
        elif name == "end":
            self.run_hooks("SessionEnd", fields.get("reason", "other"),
                           reason=fields.get("reason", "other"))

    def user_lines(self, prompt):
        return [f"❯ {prompt}", ""]

    dialog_since = None
    dialog_notified = False

    def tick(self, now):
        changed = super().tick(now)
        if (self.mode == "permission" and not self.dialog_notified
                and self.dialog_since is not None and now - self.dialog_since >= 6.0):
            self.dialog_notified = True
            self.run_hooks("Notification", "permission_prompt",
                           message="Claude needs your permission to use Bash",
                           notification_type="permission_prompt")
        return changed

    def reply_lines(self, prompt, secs):
        return [f"● MOCK-REPLY to: {prompt}", "", f"✻ Crunched for {secs}s", ""]

    def interrupted_lines(self):
        return ["  ⎿  Interrupted · What should Claude do instead?", ""]

    def trust_dialog(self):
        return [
            " Accessing workspace:", "", f" {self.cwd}", "",
            " Quick safety check: Is this a project you created or one you trust? (Like your own"
            " code, a well-known open source",
            " project, or work from your team). If not, take a moment to review what's in this"
            " folder first.",
            "", " Claude Code'll be able to read, edit, and execute files here.", "",
            " ❯ 1. Yes, I trust this folder", "   2. No, exit", "",
            " Enter to confirm · Esc to cancel",
        ]

    def permission_dialog(self):
        return [
            " Bash command", "", "   ls /tmp", "   List the files in /tmp", "",
            " Do you want to proceed?",
            " ❯ 1. Yes",
            f"   2. Yes, and don't ask again for ls commands in {self.cwd}",
            "   3. No, and tell Claude what to do differently (esc)",
        ]

    def screen(self):
        rule = "─" * self.cols
        if self.mode == "trust":
            return [rule] + self.trust_dialog() + ([self.notice] if self.notice else []), None
        lines = welcome(self.cwd) + ["", ""] + self.history
        busy = self.mode in ("busy", "permission")
        if busy:
            glyph = SPINNER[int(self.turn_seconds() * 8) % len(SPINNER)]
            lines += [f"{glyph} Forging…", ""]
        cursor = None
        if self.mode == "permission":
            lines += [rule] + self.permission_dialog()
        else:
            lines += [rule, "❯\u00a0" + self.input, rule]
            cursor = (len(lines) - 2, 2 + len(self.input))
        if busy:
            left = "  esc to interrupt · ← for agents"
        elif self.notice:
            left = "  " + self.notice
        elif self.input:
            left = ""
        else:
            left = "  ? for shortcuts · ← for agents"
        lines.append(spread(left, "● high · /effort", BOX + 14))
        if cursor and len(lines) > self.rows:
            cursor = (cursor[0] - (len(lines) - self.rows), cursor[1])
        return lines, cursor

    def exit_text(self):
        if self.exit_code:
            return ""
        return f"Resume this session with:\nclaude --resume {self.session_id}\n"


if __name__ == "__main__":
    main(ClaudeLike)
