#!/usr/bin/env python3
"""A fake opencode (1.18.33 look, from shared/fixtures/agents) for tests.

Full screen on the alternate screen. Home view as captured: the logo, the input box
("┃  Ask anything…", typed text in its place) and "tab agents  ctrl+p commands" under it.
After the first prompt a session view (transcript on top, the same box at the bottom).
Not captured, so modelled on opencode's public UI and default keybinds: a turn shows
"esc interrupt" under the box; the first Esc arms ("esc again to interrupt"), a second Esc
within 5 s interrupts. Ctrl-C clears typed text, and exits when there is none (so Ctrl-C
twice exits with text typed, as captured). --permission shows "△ Permission required"
(Enter allows, Esc rejects). No session id is printed. The conversation is kept in
$FAKE_AGENTS_HOME/opencode/<session id>.json (see _tui.JsonConversation); --session ID goes
on with it (same session id, earlier exchanges shown again), or prints "Error: Session not
found: ID" and exits 1 when there is none. Options: see _tui.py.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _tui import FakeAgent, JsonConversation, main, spread  # noqa: E402

LOGO = [
    "                                 ▄",
    "█▀▀█ █▀▀█ █▀▀█ █▀▀▄ █▀▀▀ █▀▀█ █▀▀█ █▀▀█",
    "█  █ █  █ █▀▀▀ █  █ █    █  █ █  █ █▀▀▀",
    "▀▀▀▀ █▀▀▀ ▀▀▀▀ ▀▀▀▀ ▀▀▀▀ ▀▀▀▀ ▀▀▀▀ ▀▀▀▀",
]
PLACEHOLDER = 'Ask anything… "What is the tech stack of this project?"'
HINT = "tab agents  ctrl+p commands"
BOX_W = 75


class OpencodeLike(FakeAgent):
    name = "opencode"
    alt_screen = True

    def __init__(self, argv=None):
        super().__init__(argv)
        self.esc_armed_at = None

    def add_arguments(self, parser):
        parser.add_argument("--session", "-s", default=None)

    def resume_arg(self):
        return self.args.session

    def conversation(self):
        return JsonConversation("opencode", self.session_id, self.cwd)

    def missing_conversation(self, session_id):
        return f"Error: Session not found: {session_id}"

    def assistant_lines(self, text):
        return [f"   {text}", ""]

    def user_lines(self, prompt):
        return [f"┃  {prompt}", ""]

    def reply_lines(self, prompt, secs):
        return [f"   MOCK-REPLY to: {prompt}", ""]

    def interrupted_lines(self):
        return ["   The operation was aborted.", ""]

    def on_esc(self):
        if self.mode != "busy":
            return
        now = time.monotonic()
        if self.esc_armed_at is not None and now - self.esc_armed_at <= 5.0:
            self.esc_armed_at = None
            self.interrupt()
        else:
            self.esc_armed_at = now

    def on_ctrl_c(self):
        if self.input:
            self.input = ""
        else:
            self.quit()

    def on_permission_key(self, key):
        if key[0] == "enter":
            self.approve()
        elif key[0] == "esc":
            self.interrupt()
        elif key[0] == "ctrl_c":
            self.quit()

    def finish(self):
        self.esc_armed_at = None
        super().finish()

    def box(self, left):
        pad = " " * left
        if self.mode == "permission":
            rows = ["△ Permission required", "→ Bash ls /tmp", "",
                    spread("Allow once   Allow always   Reject", "enter confirm", BOX_W - 4)]
        else:
            rows = ["", self.input or PLACEHOLDER, "", "Build · Claude Sonnet 4.6 Anthropic"]
        lines = [pad + "┃" + (f"  {r}" if r else "") for r in rows]
        lines.append(pad + "╹" + "▀" * (BOX_W - 1))
        if self.mode in ("busy", "permission"):
            armed = self.esc_armed_at is not None and time.monotonic() - self.esc_armed_at <= 5.0
            n = int(time.monotonic() * 8) % 8
            bar = "".join("■" if (i - n) % 8 < 3 else "⬝" for i in range(8))
            hint = f"{bar}  " + ("esc again to interrupt" if armed else "esc interrupt")
            lines.append(pad + " " + hint)
        else:
            lines.append(pad + HINT.rjust(BOX_W))
        return lines

    def screen(self):
        left = max(0, (self.cols - BOX_W + 1) // 2)
        footer = spread(f"  {self.cwd}", "1.18.33", self.cols - 2)
        if not self.history and self.mode == "idle":
            logo_left = " " * max(0, (self.cols - len(LOGO[1]) + 1) // 2)
            block = [logo_left + line for line in LOGO] + ["", ""] + self.box(left)
            top = max(0, (self.rows - len(block)) // 2)
            lines = [""] * top + block
            cursor = (top + len(LOGO) + 3, left + 3 + len(self.input))
        else:
            bottom = self.box(2)
            room = max(0, self.rows - 3 - len(bottom))
            hist = self.history[len(self.history) - room:] if len(self.history) > room \
                else self.history + [""] * (room - len(self.history))
            lines = [""] + hist + bottom
            cursor = (1 + room + 1, 2 + 3 + len(self.input)) if self.mode != "permission" else None
        lines += [""] * max(0, self.rows - 2 - len(lines))
        return lines + [footer, ""], cursor


if __name__ == "__main__":
    main(OpencodeLike)
