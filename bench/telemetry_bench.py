#!/usr/bin/env python3
"""Telemetry benchmarks (issue 5), one command:

    python3 bench/telemetry_bench.py [--secs 60] [--n 10] [--many 200] [--mb 100] [--skip-build]

  1. the sampler's CPU cost per session at the default intervals (2 s resources, 30 s
     workspace, 10 s flush): --n sampler threads on --n real idle fake agents (three
     processes each) for --secs, this process' CPU time (getrusage) / wall / n;
  2. --many sampled sessions at once: total sampler CPU and RSS growth (in one process; with
     real hosts each sampler is a thread of its session's host);
  3. parsing a --mb MB Claude Code transcript: throughput (examples/parse_transcript_bench).

Builds the two examples in release mode (CARGO_TARGET_DIR is honoured) unless --skip-build.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=int, default=60)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--many", type=int, default=200)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--skip-build", action="store_true")
    a = ap.parse_args()

    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    examples = target / "release" / "examples"
    if not a.skip_build:
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "agent-sessions",
             "--example", "telemetry_bench", "--example", "parse_transcript_bench"],
            cwd=ROOT, check=True)
    print(f"# telemetry benchmarks ({os.cpu_count()} cores)\n", flush=True)
    subprocess.run(
        [examples / "telemetry_bench", "--secs", str(a.secs), "--n", str(a.n),
         "--many", str(a.many)], check=True)
    subprocess.run([examples / "parse_transcript_bench", str(a.mb)], check=True)


if __name__ == "__main__":
    sys.exit(main())
