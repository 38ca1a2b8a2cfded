#!/usr/bin/env python3
"""A fake Gemini CLI (0.61.0 look, from shared/fixtures/agents) for tests.

Draws inline on the normal screen: the logo and tips, the transcript, and the input box
("> Type your message or @path/to/file"). --trust starts with the captured folder-trust
dialog ("Do you trust the files in this folder?"; Enter/1/2/3 choose). Not captured, so
modelled on the public UI: a turn shows "⠋ Thinking... (esc to cancel, Ns)"; --permission
shows a shell-command confirmation ("Allow execution of: 'ls'?"). Esc or Ctrl-C cancel a
turn. On an idle screen Ctrl-C clears typed text and shows "Press Ctrl+C again to exit.";
a second Ctrl-C within 2 s exits (as captured), as does "/quit", printing the summary box
with "Session ID:" and "gemini --resume <id>". The conversation is kept in
$FAKE_AGENTS_HOME/gemini/<session id>.json (see _tui.JsonConversation); --resume ID goes on
with it (same session id, earlier exchanges shown again), or prints "Error resuming session:
No session found with ID ID" and exits 1 when there is none. Options: see _tui.py.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _tui import BRAILLE, FakeAgent, JsonConversation, main, spread  # noqa: E402

HEADER = [
    "  ▗▟▀     ▜▙ ▝█▛ █▌▝ ▖▐█   ▐█ ▐█ ▐█ ▝██▌ █▌",
    " ▝▀        ▀▀▀▀▘▝▀▀▀▀▘▀▀▘  ▀▀▘▀▀▘▀▀▘ ▝▀▀▝▀▀",
    "", " Gemini CLI v0.61.0", "", "", "",
    "Tips for getting started:",
    "1. Create GEMINI.md files to customize your interactions",
    "2. /help for more information",
    "3. Ask coding questions, edit code or run commands",
    "4. Be specific for the best results",
    "",
]
UNTRUSTED = ("ℹ Skipping project agents due to untrusted folder. To enable, ensure that the"
             " project root is trusted.")
COLOR_WARNING = [
    "⚠  Warning: True color (24-bit) support not detected. Using a terminal with true color"
    " enabled will result in a better",
    "   visual experience.",
]


class GeminiLike(FakeAgent):
    name = "gemini"
    quit_commands = ("/quit",)
    has_trust_dialog = True
    ctrl_c_again_notice = "Press Ctrl+C again to exit."

    def __init__(self, argv=None):
        super().__init__(argv)
        self.untrusted = self.mode == "trust"

    def add_arguments(self, parser):
        parser.add_argument("--resume", "-r", default=None)

    def resume_arg(self):
        return self.args.resume

    def conversation(self):
        return JsonConversation("gemini", self.session_id, self.cwd)

    def missing_conversation(self, session_id):
        return f"Error resuming session: No session found with ID {session_id}"

    def assistant_lines(self, text):
        return [f"✦ {text}", ""]

    def box(self, rows):
        inner = max(10, self.cols - 4)
        out = [" ╭" + "─" * inner + "╮"]
        out += [" │" + r.ljust(inner)[:inner] + "│" for r in rows]
        return out + [" ╰" + "─" * inner + "╯"]

    def user_lines(self, prompt):
        return [f" > {prompt}", ""]

    def reply_lines(self, prompt, secs):
        return [f"✦ MOCK-REPLY to: {prompt}", ""]

    def interrupted_lines(self):
        return ["ℹ Request cancelled.", ""]

    def on_esc(self):
        if self.mode in ("busy", "permission"):
            self.interrupt()

    def on_ctrl_c(self):
        if self.mode in ("busy", "permission"):
            self.interrupt()
        else:
            self.input = ""
            self.exit_on_second_ctrl_c()

    def on_trust_key(self, key):
        if key[0] == "enter" or key in (("char", "1"), ("char", "2"), ("char", "3")):
            self.untrusted = key == ("char", "3")
            self.mode = "idle"
        elif key[0] == "ctrl_c":
            self.exit_on_second_ctrl_c()

    def trust_box(self):
        folder = os.path.basename(self.cwd) or "/"
        parent = os.path.basename(os.path.dirname(self.cwd)) or "/"
        return self.box([
            "", " Do you trust the files in this folder?", "",
            " Trusting a folder allows Gemini CLI to load its local configurations, including"
            " custom commands, hooks, MCP",
            " servers, agent skills, and settings. These configurations could execute code on your"
            " behalf or change the behavior",
            " of the CLI.", "", "",
            f" ● 1. Trust folder ({folder})", f"   2. Trust parent folder ({parent})",
            "   3. Don't trust", "",
        ])

    def confirmation_box(self):
        return self.box([
            f" ?  Shell ls /tmp [current working directory {self.cwd}] (List the files in /tmp)",
            "", " ls /tmp", "", " Allow execution of: 'ls'?", "",
            " ● 1. Allow once", "   2. Allow for this session", "   3. No, suggest changes (esc)",
        ])

    def screen(self):
        lines = list(HEADER)
        if self.untrusted:
            lines += [UNTRUSTED, ""]
        lines += COLOR_WARNING + ["", ""] + self.history
        cursor = None
        spin = BRAILLE[int(time.monotonic() * 10) % len(BRAILLE)]
        if self.mode == "trust":
            lines += self.trust_box()
        elif self.mode == "permission":
            lines += [f"{spin} Waiting for user confirmation...", ""] + self.confirmation_box()
        else:
            if self.mode == "busy":
                lines += [f"{spin} Thinking... (esc to cancel, {int(self.turn_seconds())}s)", ""]
            text = self.input or "Type your message or @path/to/file"
            lines += self.box([f" > {text}"])
            cursor = (len(lines) - 2, 5 + len(self.input))
            lines.append(spread(f" {self.cwd}", "gemini-2.5-pro (100% context left)",
                                self.cols - 1))
        if self.notice:
            lines.append(self.notice)
        if cursor and len(lines) > self.rows:
            cursor = (cursor[0] - (len(lines) - self.rows), cursor[1])
        return lines, cursor

    def exit_text(self):
        if self.exit_code:
            return ""
        inner = max(10, self.cols - 2)
        rows = [
            "", "  Agent powering down. Goodbye!", "", "  Interaction Summary",
            f"  Session ID:                 {self.session_id}",
            "  Tool Calls:                 0 ( ✓ 0 x 0 )", "  Success Rate:               0.0%",
            "", f"  To resume this session: gemini --resume {self.session_id}",
        ]
        box = ["╭" + "─" * inner + "╮"] + ["│" + r.ljust(inner) + "│" for r in rows]
        return " > /quit\n\n" + "\n".join(box + ["╰" + "─" * inner + "╯"]) + "\n"


if __name__ == "__main__":
    main(GeminiLike)
