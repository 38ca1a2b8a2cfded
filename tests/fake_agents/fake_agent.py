#!/usr/bin/env python3
"""A small stand-in for an agent CLI, for tests and benchmarks.

It prints a banner and a prompt, reads lines from its terminal and answers them:
  <text>          -> "echo: <text>", then the prompt again
  work <secs>     -> "working..." then silence for <secs>, then "done"
  exit <code>     -> exits with that status
  quit            -> exits 0
  flood <bytes>   -> writes that many bytes of text, then the prompt
  spawn           -> starts a child that sleeps (to test process-group stops)
Options:
  --exit-code N       exit with N right after the banner
  --ignore-sigterm    ignore SIGTERM (and SIGHUP), so only SIGKILL stops it
  --flood N           write N bytes at start, then exit 0
  --print-env NAME    print NAME=<value of $NAME> after the banner
  --prompt STR        prompt text (default "fake> ")
"""
import argparse
import os
import signal
import subprocess
import sys
import time


def write(s):
    sys.stdout.write(s)
    sys.stdout.flush()


def flood(n):
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-fake-agent-output-line\n"
    block = line * (65536 // len(line))
    out = sys.stdout.buffer
    while n > 0:
        chunk = block[: min(n, len(block))]
        out.write(chunk)
        n -= len(chunk)
    out.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exit-code", type=int)
    ap.add_argument("--ignore-sigterm", action="store_true")
    ap.add_argument("--flood", type=int)
    ap.add_argument("--print-env")
    ap.add_argument("--prompt", default="fake> ")
    a = ap.parse_args()
    if a.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if a.flood is not None:
        flood(a.flood)
        return 0
    write("fake agent ready\r\n")
    if a.print_env:
        write(f"{a.print_env}={os.environ.get(a.print_env, '')}\r\n")
    if a.exit_code is not None:
        return a.exit_code
    write(a.prompt)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            return 0
        if cmd.startswith("exit "):
            return int(cmd.split()[1])
        if cmd.startswith("work "):
            write("working...\r\n")
            time.sleep(float(cmd.split()[1]))
            write("done\r\n")
        elif cmd.startswith("flood "):
            flood(int(cmd.split()[1]))
        elif cmd == "spawn":
            subprocess.Popen(["sleep", "300"])
            write("spawned\r\n")
        else:
            write(f"echo: {cmd}\r\n")
        write(a.prompt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
