"""Shared engine for the fake agent CLIs in this folder (Python 3, stdlib only).

Each fake (claude_like.py, codex_like.py, gemini_like.py, opencode_like.py) subclasses
FakeAgent and only says how its screens look and which keys do what; this module does the
terminal work: raw mode, key parsing, the turn timeline, full-screen redraws, exit.

Common options:
  --reply-delay SECS   how long a turn stays busy before the reply (default 2)
  --silent SECS        during each turn, draw nothing at all for SECS, starting 0.5 s in
                       (a long tool call: the busy screen stays as last drawn); the turn
                       gets SECS longer
  --permission         the next turn shows a permission dialog instead of replying at once
  --trust              start with the folder-trust dialog (agents that have one)
  --session-id UUID    the agent's own session id (default: a random UUID)
  --timeline FILE      append "<kind> <unix time>" to FILE each time the screen switches
                       between kinds (idle, busy, permission, trust), right after the first
                       frame of the new kind was written (for latency benchmarks)
  --stream-pauses SECS from 0.5 s into each turn, stream the reply in three parts SECS apart
                       with no busy line while it streams (as Codex 0.171 draws a streaming
                       reply); the turn ends after the last part
  --start-delay SECS   draw nothing for SECS after clearing the screen (opencode takes
                       seconds to draw its first frame); keys typed meanwhile are read after
  --no-status          skins that write the program-status escape (codex: ESC ] 7501 ;
                       state=working|idle|done|blocked ... ESC \\, as Codex 0.171 does on
                       every change) do not
  --autoturn SECS      after SECS idle at the prompt, start a turn by itself ("auto turn N"),
                       as a scheduled task would; --autoturn-count limits how many (default:
                       no limit)

Conversations persist like the real CLIs': each skin keeps its prompts and replies in a
conversation store (claude: a project transcript under $CLAUDE_CONFIG_DIR; codex: a
rollout under $CODEX_HOME; gemini and opencode: a JSON file per session under
$FAKE_AGENTS_HOME, default a folder in the system temp dir), and takes its
resume option (claude --resume ID, codex resume ID, gemini --resume ID, opencode --session
ID): the same session id, the earlier exchanges shown again, new ones appended to the same
store; a missing conversation prints the CLI's error line and exits 1.

A prompt "sleep SECS" makes that one turn last SECS instead of --reply-delay (to have time
to interrupt it).

Turn timeline: Enter submits the typed line; the screen turns busy (spinner redrawn every
~100 ms, the agent's busy footer); after --reply-delay a reply is printed and the prompt
comes back. With --permission the dialog appears 0.5 s into the turn and the turn waits for
it: approve continues (reply after half the delay), deny ends the turn.
"""

import argparse
import codecs
import json
import os
import select
import signal
import sys
import tempfile
import termios
import time
import tty
import uuid

BRAILLE = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def fit(line, width):
    """Truncates to the terminal width (all glyphs used here are one column wide)."""
    return line if len(line) <= width else line[:width]


def spread(left, right, width):
    """`left` at the start and `right` ending at column `width` (one line)."""
    gap = max(1, width - len(left) - len(right))
    return left + " " * gap + right


def iso_now():
    """The current UTC time as the CLIs write it: 2026-11-21T22:50:31.998Z."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def fake_agents_home():
    """$FAKE_AGENTS_HOME, or a per-user folder in the system temp dir."""
    home = os.environ.get("FAKE_AGENTS_HOME") or os.path.join(
        tempfile.gettempdir(), f"fake-agents-{os.getuid()}")
    os.makedirs(home, exist_ok=True)
    return home


def agent_home(variable, name):
    """Where a fake keeps what the real CLI keeps in its home: $<variable> when set, as the
    real CLI does. Unset, the real CLI would use ~/.claude or ~/.codex; a fake never writes
    there (tests that do not set the variable must not touch the user's real records), so it
    uses <fake_agents_home()>/<name> instead."""
    return os.environ.get(variable) or os.path.join(fake_agents_home(), name)


def append_jsonl(path, objects):
    """Appends one line per object (one write, so a reader never sees half a line)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)
    with open(path, "a", encoding="utf-8") as f:
        f.write(data)


class JsonConversation:
    """A conversation kept as one JSON file per session id:
    <FAKE_AGENTS_HOME>/<agent>/<id>.json = {"id", "agent", "cwd", "messages": [{"role",
    "text", "at"}]} (written whole through a rename, never half)."""

    def __init__(self, agent, session_id, cwd):
        self.path = os.path.join(fake_agents_home(), agent, f"{session_id}.json")
        self.data = {"id": session_id, "agent": agent, "cwd": cwd, "messages": []}

    def exists(self):
        return os.path.isfile(self.path)

    def load(self):
        with open(self.path, encoding="utf-8") as f:
            self.data = json.load(f)
        return [(m["role"], m["text"]) for m in self.data.get("messages", [])]

    def add(self, role, text):
        self.data["messages"].append({"role": role, "text": text, "at": iso_now()})
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.data, f, ensure_ascii=False)
        os.replace(tmp, self.path)


class Keys:
    """Turns terminal input bytes into keys: ('char', c), ('enter',), ('esc',),
    ('ctrl_c',), ('backspace',). Arrow keys and other sequences are dropped; bracketed
    pastes arrive as characters."""

    def __init__(self):
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.pasting = False

    def feed(self, data):
        text = self.decoder.decode(data)
        keys = []
        i = 0
        while i < len(text):
            c = text[i]
            i += 1
            if c == "\x1b":
                nxt = text[i] if i < len(text) else ""
                if nxt == "[":
                    j = i + 1
                    while j < len(text) and not ("@" <= text[j] <= "~"):
                        j += 1
                    seq = text[i + 1 : j + 1]
                    i = j + 1
                    if seq == "200~":
                        self.pasting = True
                    elif seq == "201~":
                        self.pasting = False
                    continue
                if nxt == "O":
                    i += 2
                    continue
                keys.append(("esc",))
                continue
            if self.pasting:
                keys.append(("char", " " if c in "\r\n\t" else c))
            elif c == "\r":
                keys.append(("enter",))
            elif c == "\x03":
                keys.append(("ctrl_c",))
            elif c in "\x7f\x08":
                keys.append(("backspace",))
            elif c >= " ":
                keys.append(("char", c))
        return keys


class FakeAgent:
    name = "agent"
    alt_screen = False
    quit_commands = ()
    has_trust_dialog = False
    ctrl_c_again_notice = "Press Ctrl-C again to exit"
    turn_frame = 0.1  # seconds between spinner redraws

    def __init__(self, argv=None):
        p = argparse.ArgumentParser(prog=f"{self.name}_like.py", description=__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--reply-delay", type=float, default=2.0)
        p.add_argument("--silent", type=float, default=0.0)
        p.add_argument("--stream-pauses", type=float, default=0.0)
        p.add_argument("--no-status", action="store_true")
        p.add_argument("--start-delay", type=float, default=0.0)
        p.add_argument("--permission", action="store_true")
        p.add_argument("--trust", action="store_true")
        p.add_argument("--session-id", default=None)
        p.add_argument("--timeline", default=None)
        p.add_argument("--autoturn", type=float, default=0.0)
        p.add_argument("--autoturn-count", type=int, default=-1)
        self.add_arguments(p)
        self.args = p.parse_args(argv)
        self.session_id = self.args.session_id or str(uuid.uuid4())
        self.cwd = os.getcwd()
        self.mode = "trust" if (self.args.trust and self.has_trust_dialog) else "idle"
        self.input = ""
        self.history = []
        self.permission_pending = self.args.permission
        self.turn = None
        self.notice = ""
        self.notice_until = 0.0
        self.ctrl_c_at = None
        self.running = True
        self.exit_code = 0
        self.drawn_rows = 0
        self.resized = False
        self.cols, self.rows = 120, 35
        self.drawn_kind = None
        self.idle_since = time.monotonic()
        self.autoturns = 0
        self.resize()
        self.fatal = None  # (message, exit code): printed instead of running
        self.resume_id = self.resume_arg()
        if self.resume_id:
            self.session_id = self.resume_id
        self.store = self.conversation()
        if self.resume_id and self.store is not None:
            if self.store.exists():
                self.restore(self.store.load())
            else:
                self.fatal = (self.missing_conversation(self.resume_id), 1)

    # ---- what the skins provide -------------------------------------------------------

    def add_arguments(self, parser):
        """Extra command-line options of one skin."""

    def resume_arg(self):
        """The session id the command line asks to resume, or None."""
        return None

    def conversation(self):
        """The store of this session's messages: exists(), load() -> [(role, text)],
        add(role, text); None keeps nothing."""
        return None

    def missing_conversation(self, session_id):
        """The error line of a resume whose conversation does not exist."""
        return f"No session found with ID {session_id}"

    def reply_text(self, prompt):
        """The assistant's answer as its records keep it."""
        return f"MOCK-REPLY to: {prompt}"

    def assistant_lines(self, text):
        """An earlier answer, as shown again after a resume."""
        return [text, ""]

    def restore(self, messages):
        """Shows the conversation being resumed (its last exchanges) above the prompt."""
        for role, text in messages[-20:]:
            if role == "user":
                self.history += self.user_lines(text)
            elif role == "assistant":
                self.history += self.assistant_lines(text)

    def remember(self, role, text):
        if self.store is not None:
            try:
                self.store.add(role, text)
            except OSError as e:
                self.show_notice(f"cannot save the conversation: {e}", 5.0)

    def event(self, name, **fields):
        """A moment a real CLI reports to its hooks: start, submit, stop, permission, end."""

    def screen(self):
        """(lines, (row, col) of the cursor or None) for the current state."""
        raise NotImplementedError

    def exit_text(self):
        """Text printed on the normal screen after the agent exits."""
        return ""

    def reply_lines(self, prompt, secs):
        return [f"MOCK-REPLY to: {prompt}", ""]

    def interrupted_lines(self):
        return ["Interrupted", ""]

    def user_lines(self, prompt):
        return [f"> {prompt}", ""]

    # ---- keys ---------------------------------------------------------------------------

    def on_key(self, key):
        kind = key[0]
        if self.mode == "trust":
            return self.on_trust_key(key)
        if self.mode == "permission":
            return self.on_permission_key(key)
        if kind == "ctrl_c":
            return self.on_ctrl_c()
        if kind == "esc":
            return self.on_esc()
        if kind == "char":
            self.input += key[1]
        elif kind == "backspace":
            self.input = self.input[:-1]
        elif kind == "enter" and self.mode == "idle":
            self.submit()

    def on_esc(self):
        if self.mode == "busy":
            self.interrupt()

    def on_ctrl_c(self):
        """Busy: interrupt. Text typed: clear it. Empty prompt: twice within 2 s exits."""
        if self.mode in ("busy", "permission"):
            self.interrupt()
        elif self.input:
            self.input = ""
        else:
            self.exit_on_second_ctrl_c()

    def exit_on_second_ctrl_c(self):
        now = time.monotonic()
        if self.ctrl_c_at is not None and now - self.ctrl_c_at <= 2.0:
            self.quit()
        else:
            self.ctrl_c_at = now
            self.show_notice(self.ctrl_c_again_notice, 2.0)

    def on_trust_key(self, key):
        if key[0] in ("enter",) or key == ("char", "1"):
            self.mode = "idle"
        elif key == ("char", "2") or key[0] == "esc":
            self.quit(1)
        elif key[0] == "ctrl_c":
            self.exit_on_second_ctrl_c()

    def on_permission_key(self, key):
        if key[0] == "enter" or key in (("char", "1"), ("char", "2"), ("char", "y")):
            self.approve()
        elif key[0] == "esc" or key in (("char", "3"), ("char", "n")):
            self.interrupt()
        elif key[0] == "ctrl_c":
            self.on_ctrl_c()

    # ---- the turn -------------------------------------------------------------------------

    def submit(self):
        prompt = self.input.strip()
        self.input = ""
        if not prompt:
            return
        if prompt in self.quit_commands:
            self.quit()
            return
        now = time.monotonic()
        self.history += self.user_lines(prompt)
        silent = max(0.0, self.args.silent)
        delay = self.args.reply_delay
        words = prompt.split()
        if len(words) == 2 and words[0] == "sleep":
            try:
                delay = float(words[1])
            except ValueError:
                pass
        pauses = max(0.0, self.args.stream_pauses)
        if pauses > 0:
            delay = 0.5 + 2 * pauses  # parts at 0.5, 0.5 + p, 0.5 + 2p; done with the last
        self.turn = {
            "prompt": prompt,
            "start": now,
            "stream": [now + 0.5 + i * pauses for i in range(3)] if pauses > 0 else [],
            "end": now + max(0.0, delay) + silent,
            "silent_from": now + 0.5,
            "silent_to": now + 0.5 + silent,
            "dialog_at": now + 0.5 if self.permission_pending else None,
        }
        self.permission_pending = False
        self.mode = "busy"
        self.remember("user", prompt)
        self.event("submit", prompt=prompt)

    def approve(self):
        now = time.monotonic()
        self.turn["end"] = now + max(0.0, self.args.reply_delay) / 2
        self.mode = "busy"

    last_turn_ended = None  # "reply" or "interrupt", for the program status

    def interrupt(self):
        self.last_turn_ended = "interrupt"
        self.history += self.interrupted_lines()
        self.turn = None
        self.mode = "idle"
        self.idle_since = time.monotonic()

    def finish(self):
        self.last_turn_ended = "reply"
        secs = max(1, round(time.monotonic() - self.turn["start"]))
        self.history += self.reply_lines(self.turn["prompt"], secs)
        self.remember("assistant", self.reply_text(self.turn["prompt"]))
        self.event("stop")
        self.turn = None
        self.mode = "idle"
        self.idle_since = time.monotonic()

    def streamed_parts(self):
        """How many parts of a streaming reply are on screen (0: none, or not streaming)."""
        t = self.turn
        if not t or self.mode != "busy":
            return 0
        now = time.monotonic()
        return sum(1 for at in t["stream"] if now >= at)

    def turn_seconds(self):
        return time.monotonic() - self.turn["start"] if self.turn else 0.0

    def silent_now(self, now):
        t = self.turn
        return bool(t) and self.mode == "busy" and t["silent_from"] <= now < t["silent_to"]

    def tick(self, now):
        """Advances the turn; True when the state changed."""
        changed = False
        if self.notice and now >= self.notice_until:
            self.notice = ""
            changed = True
        t = self.turn
        if t and self.mode == "busy":
            if t["dialog_at"] is not None and now >= t["dialog_at"]:
                t["dialog_at"] = None
                self.mode = "permission"
                self.event("permission")
                changed = True
            elif now >= t["end"]:
                self.finish()
                changed = True
            elif t["stream"] and self.streamed_parts() != t.get("drawn_parts", 0):
                t["drawn_parts"] = self.streamed_parts()
                changed = True
        return changed

    def show_notice(self, text, secs):
        self.notice = text
        self.notice_until = time.monotonic() + secs

    def quit(self, code=0):
        self.running = False
        self.exit_code = code
        self.event("end", reason="prompt_input_exit")

    def autoturn_due(self, now):
        a = self.args
        return (a.autoturn > 0 and self.mode == "idle" and not self.input
                and (a.autoturn_count < 0 or self.autoturns < a.autoturn_count)
                and now - self.idle_since >= a.autoturn)

    # ---- terminal -------------------------------------------------------------------------

    def resize(self, *_):
        try:
            size = os.get_terminal_size(sys.stdout.fileno())
            self.cols, self.rows = size.columns, size.lines
        except OSError:
            pass

    def write(self, s):
        os.write(sys.stdout.fileno(), s.encode("utf-8"))

    def draw(self):
        lines, cursor = self.screen()
        lines = lines[-self.rows:] if len(lines) > self.rows else lines
        out = ["\x1b[?2026h\x1b[?25l"]
        for i in range(self.rows):
            line = fit(lines[i], self.cols) if i < len(lines) else ""
            out.append(f"\x1b[{i + 1};1H\x1b[2K{line}")
        if cursor:
            out.append(f"\x1b[{cursor[0] + 1};{cursor[1] + 1}H\x1b[?25h")
        out.append("\x1b[?2026l")
        self.drawn_rows = len(lines)
        self.write("".join(out))
        kind = "idle" if self.mode == "idle" else self.mode
        if kind != self.drawn_kind:
            self.write_status(kind)
            self.drawn_kind = kind
            if self.args.timeline:
                with open(self.args.timeline, "a") as f:
                    f.write(f"{kind} {time.time():.6f}\n")

    #: Writes the program-status escape on each change of kind, as Codex 0.171 does.
    program_status = None  # the app name to write, or None

    def write_status(self, kind):
        if not self.program_status or self.args.no_status:
            return
        state = {"busy": "working", "permission": "blocked"}.get(kind)
        if kind == "idle":
            state = "done" if self.last_turn_ended == "reply" else "idle"
        if state is None:
            return  # no status for a trust screen
        extra = ":kind=permission" if kind == "permission" else ""
        self.write(f"\x1b]7501;state={state}:app={self.program_status}{extra}\x1b\\")

    def run(self):
        if self.fatal:
            message, code = self.fatal
            self.write(message + "\n")
            return code
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd) if os.isatty(fd) else None

        def on_signal(signum, _frame):
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGHUP, on_signal)
        signal.signal(signal.SIGWINCH, lambda *_: setattr(self, "resized", True))
        keys = Keys()
        try:
            if saved is not None:
                tty.setraw(fd)
            self.write(("\x1b[?1049h" if self.alt_screen else "") + "\x1b[?2004h\x1b[2J")
            if self.args.start_delay > 0:
                time.sleep(self.args.start_delay)
            self.draw()
            self.event("start")
            last_draw = time.monotonic()
            while self.running:
                now = time.monotonic()
                animating = self.mode in ("busy", "permission")
                timeout = self.turn_frame if animating else 0.25
                try:
                    ready, _, _ = select.select([fd], [], [], timeout)
                except InterruptedError:
                    ready = []
                dirty = self.resized
                if self.resized:
                    self.resized = False
                    self.resize()
                if ready:
                    data = os.read(fd, 4096)
                    if not data:
                        break
                    for key in keys.feed(data):
                        self.on_key(key)
                        dirty = True
                        if not self.running:
                            break
                if not self.running:
                    break
                now = time.monotonic()
                dirty |= self.tick(now)
                if self.autoturn_due(now):
                    self.autoturns += 1
                    self.input = f"auto turn {self.autoturns}"
                    self.submit()
                    dirty = True
                due = animating and now - last_draw >= self.turn_frame * 0.9
                if (dirty or due) and not (self.silent_now(now) and not ready):
                    self.draw()
                    last_draw = now
        finally:
            tail = "\x1b[?2004l\x1b[?25h"
            if self.alt_screen:
                tail += "\x1b[?1049l"
            else:
                tail += f"\x1b[{max(1, min(self.drawn_rows, self.rows))};1H\r\n"
            self.write(tail)
            if saved is not None:
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        text = self.exit_text()
        if text:
            self.write(text.replace("\n", "\r\n"))
        return self.exit_code


def main(cls):
    sys.exit(cls().run())
