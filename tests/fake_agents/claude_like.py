#!/usr/bin/env python3
"""A fake Claude Code (2.1.197 look, from shared/fixtures/agents) for tests.

Draws inline on the normal screen like the real one: the welcome box, the transcript, the
input box between two rules ("❯" + no-break space), the footer ("? for shortcuts" idle,
"esc to interrupt" busy). Quits on "/exit" and prints "claude --resume <session id>".
Esc interrupts a turn. Ctrl-C: interrupts a turn, clears typed text, or (twice within 2 s)
exits. --permission: a Bash approval dialog ("Do you want to proceed?"); the spinner and
"esc to interrupt" stay drawn under it, as in the real CLI. --trust: the folder-trust
dialog ("Yes, I trust this folder"). Options: see _tui.py.
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _tui import FakeAgent, main, spread  # noqa: E402

SPINNER = "·✢*✶✻✽"
BOX = 104  # the welcome box's width in the capture


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

    def user_lines(self, prompt):
        return [f"❯ {prompt}", ""]

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
