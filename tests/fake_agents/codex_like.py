#!/usr/bin/env python3
"""A fake Codex CLI (0.169.0 look, from shared/fixtures/agents) for tests.

Full screen on the alternate screen like the real one: the welcome text at the top, the
transcript under it, and at the bottom the composer ("› Ask Codex to do anything"), the
model line and the footer ("? for shortcuts", hidden while text is typed). A turn shows
"• Working (Ns • esc to interrupt)" above the composer. Quits on "/quit" and prints
"codex resume <session id>". Esc interrupts a turn; Ctrl-C interrupts, clears typed text,
or (twice within 2 s) exits. --permission: the command approval overlay ("Would you like to
run the following command?") in place of the composer. --trust: the directory-trust screen.
Options: see _tui.py.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _tui import FakeAgent, main, spread  # noqa: E402

COMMANDS = [
    "  /init - create an AGENTS.md file with instructions for Codex",
    "  /status - show current session configuration",
    "  /permissions - choose what Codex is allowed to do",
    "  /model - choose what model and reasoning effort to use",
    "  /review - review any changes and find issues",
]


class CodexLike(FakeAgent):
    name = "codex"
    alt_screen = True
    quit_commands = ("/quit",)
    has_trust_dialog = True
    ctrl_c_again_notice = "ctrl + c again to quit"

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
            if self.mode == "busy":
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
