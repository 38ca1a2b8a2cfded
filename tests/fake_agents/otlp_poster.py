#!/usr/bin/env python3
"""Plays an agent CLI's OpenTelemetry log exporter, for tests of the session host's receiver.

Run as a session's `claude`, `codex` or `gemini`, it finds where the host told the agent to
export, the way that agent does:
  claude   OTEL_EXPORTER_OTLP_LOGS_ENDPOINT
  codex    the endpoint in its `-c otel.exporter={otlp-http={endpoint="..."...}}` argument
  gemini   GEMINI_TELEMETRY_OTLP_ENDPOINT + /v1/logs
and the header in OTEL_EXPORTER_OTLP_HEADERS ("authorization=Bearer <secret>"). Without an
endpoint it prints "poster: not armed" and waits.

  otlp_poster.py --agent NAME --plan PLAN.json [anything the host adds]

PLAN.json is a list of steps, each an object:
  file       a file whose bytes are the body
  body       the body as text (instead of file)
  size       a body of this many "x" bytes (instead of file)
  path       request path, default /v1/logs
  method     default POST
  chunked    send the body chunked (as Claude Code and Gemini CLI do), default false
  auth       "ok" (default), "wrong" (another secret) or "none"
  ctype      content type, default application/json
  raw        bytes (text) to write on a fresh connection instead of a request; the reply
             (if any) is read until the server closes
  idle       open a connection, send nothing, and leave it open (a stalled client)
Each step prints "step N: <HTTP status>" ("step N: closed" when no status came back), then
"poster: done". Then it reads lines: "exit" exits 0, "kill" ends itself with SIGKILL (no
last export, as an agent killed by a signal).
"""

import http.client
import json
import os
import re
import signal
import socket
import sys
import urllib.parse

sys.dont_write_bytecode = True


def endpoint(agent, argv):
    if agent == "claude":
        return os.environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
    if agent == "gemini":
        base = os.environ.get("GEMINI_TELEMETRY_OTLP_ENDPOINT")
        return base and base.rstrip("/") + "/v1/logs"
    for a in argv:
        m = re.search(r'otel\.exporter=\{otlp-http=\{endpoint="([^"]+)"', a)
        if m:
            return m.group(1)
    return None


def header():
    h = os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", "")
    name, _, value = h.partition("=")
    return name.strip(), urllib.parse.unquote(value.strip())


def post(url, step, keep):
    u = urllib.parse.urlsplit(url)
    host, port = u.hostname, u.port
    if "raw" in step:
        s = socket.create_connection((host, port), timeout=15)
        try:
            s.sendall(step["raw"].encode("latin-1"))
            s.shutdown(socket.SHUT_WR)
            reply = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            reply = b""
        finally:
            s.close()
        m = re.match(rb"HTTP/1\.1 (\d+)", reply)
        return m.group(1).decode() if m else "closed"
    if step.get("idle"):
        keep.append(socket.create_connection((host, port), timeout=15))
        return "open"
    if "file" in step:
        with open(step["file"], "rb") as f:
            body = f.read()
    elif "size" in step:
        body = b"x" * step["size"]
    else:
        body = step.get("body", "").encode()
    headers = {"content-type": step.get("ctype", "application/json")}
    name, value = header()
    auth = step.get("auth", "ok")
    if auth == "ok" and name:
        headers[name] = value
    elif auth == "wrong":
        headers["authorization"] = "Bearer not-the-secret"
    c = http.client.HTTPConnection(host, port, timeout=15)
    try:
        path = step.get("path", "/v1/logs")
        if step.get("chunked"):
            parts = [body[i:i + 1000] for i in range(0, len(body), 1000)] or [b""]
            c.request(step.get("method", "POST"), path, body=iter(parts), headers=headers,
                      encode_chunked=True)
        else:
            c.request(step.get("method", "POST"), path, body=body, headers=headers)
        return str(c.getresponse().status)
    except (OSError, http.client.HTTPException):
        return "closed"
    finally:
        c.close()


def main():
    argv = sys.argv[1:]
    agent = argv[argv.index("--agent") + 1]
    plan = json.load(open(argv[argv.index("--plan") + 1]))
    url = endpoint(agent, argv)
    if not url:
        print("poster: not armed", flush=True)
    else:
        keep = []
        for i, step in enumerate(plan):
            print(f"step {i}: {post(url, step, keep)}", flush=True)
        print("poster: done", flush=True)
    for line in sys.stdin:
        if line.strip() == "exit":
            sys.exit(0)
        if line.strip() == "kill":
            os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
