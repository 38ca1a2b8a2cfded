"""Anthropic Messages (`POST /v1/messages`), as Claude Code calls it through ANTHROPIC_BASE_URL."""

from __future__ import annotations

import json
import time
from typing import Any

from . import Conversation, Dialect, Handler, Reply


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content
                         if isinstance(b, dict) and b.get("type") == "text")
    return ""


def _typed(text: str) -> bool:
    """Text the user typed, not one Claude Code added (reminders, interruption notes)."""
    t = text.lstrip()
    return bool(t) and not t.startswith(("<system-reminder>", "[Request interrupted"))


def read(body: dict[str, Any]) -> Conversation:
    conv = Conversation(tools=[t.get("name", "") for t in body.get("tools") or []])
    msgs = body.get("messages") or []
    # Tool results at the end of the conversation: the agent reports our tool call back.
    if msgs and msgs[-1].get("role") == "user" and isinstance(msgs[-1].get("content"), list):
        blocks = [b for b in msgs[-1]["content"] if isinstance(b, dict)]
        results = [i for i, b in enumerate(blocks) if b.get("type") == "tool_result"]
        # After a denial Claude Code sends the rejected tool's result, "[Request interrupted
        # by user for tool use]" and the next prompt in one message: that is a new prompt.
        typed_after = results and any(
            b.get("type") == "text" and _typed(b.get("text", ""))
            for b in blocks[results[-1] + 1:])
        if not typed_after:
            conv.tool_results = [json.dumps(blocks[i].get("content")) for i in results]
    for m in reversed(msgs):
        if m.get("role") != "user":
            continue
        t = _text_of(m.get("content"))
        # Claude Code adds <system-reminder> blocks to user messages; the typed text is the
        # last text block that is not one.
        blocks = m.get("content") if isinstance(m.get("content"), list) else [m.get("content")]
        typed = [b.get("text", "") if isinstance(b, dict) else (b or "") for b in blocks
                 if (isinstance(b, dict) and b.get("type") == "text") or isinstance(b, str)]
        typed = [x for x in typed if _typed(x)]
        if typed or t:
            conv.user_text = typed[-1] if typed else t
            break
    # A request without tools is Claude Code's auxiliary one: the session title, asked once
    # the first prompt has a few words ("PING" alone gets none).
    conv.auxiliary = not conv.tools
    return conv


def _wants_json(body: dict[str, Any]) -> bool:
    fmt = (body.get("output_config") or {}).get("format") or {}
    return fmt.get("type") == "json_schema"


class Messages(Dialect):
    api = "anthropic"

    def handles(self, method: str, path: str) -> bool:
        return method == "POST" and path.startswith("/v1/messages")

    def serve(self, h: Handler, body: Any) -> None:
        if not isinstance(body, dict):
            h.send_json({"type": "error", "error": {"type": "invalid_request_error",
                                                    "message": "stand-in: not JSON"}}, 400)
            return
        path = h.path.split("?", 1)[0]
        if path.endswith("/count_tokens"):
            h.send_json({"input_tokens": 1000})
            return
        conv = read(body)
        decided, reply = h.standin.script.decide(
            conv, "Bash", "AskUserQuestion",
            lambda cmd: {"command": cmd, "description": "Run the command the test asked for"},
            lambda: {"questions": [{"question": "Which colour should it be?",
                                    "header": "Colour",
                                    "multiSelect": False,
                                    "options": [{"label": "Red", "description": "warm"},
                                                {"label": "Blue", "description": "cool"}]}]})
        model = body.get("model", "claude-stand-in")
        if conv.auxiliary and _wants_json(body):
            # Claude Code's title request asks for {"title": ...} by a JSON schema.
            reply = Reply(parts=[json.dumps({"title": "Stand-in title"})], pauses=[0.0])
        billed = h.standin.bill(self.api, path, model, conv.auxiliary, decided)
        billed.request = body
        u = billed.usage
        if not body.get("stream"):
            content: list[dict[str, Any]] = [{"type": "text", "text": "".join(reply.parts)}]
            if reply.tool_call:
                content = [{"type": "tool_use", "id": "toolu_" + reply.tool_call.call_id,
                            "name": reply.tool_call.name, "input": reply.tool_call.args}]
            h.send_json({"id": "msg_standin", "type": "message", "role": "assistant",
                         "model": model, "content": content,
                         "stop_reason": "tool_use" if reply.tool_call else "end_turn",
                         "stop_sequence": None,
                         "usage": {"input_tokens": u.input, "output_tokens": u.output,
                                   "cache_read_input_tokens": u.cache_read,
                                   "cache_creation_input_tokens": u.cache_write}})
            billed.completed, billed.finished_at = True, time.time()
            return
        self._stream(h, model, reply, billed)

    def _stream(self, h: Handler, model: str, reply: Reply, billed: Any) -> None:
        u = billed.usage
        h.start_sse()

        def ev(name: str, data: dict[str, Any]) -> None:
            data = {"type": name, **data}
            h.sse(data, event=name)

        ev("message_start", {"message": {
            "id": f"msg_standin_{len(h.standin.billed)}", "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": u.input, "output_tokens": 1,
                      "cache_read_input_tokens": u.cache_read,
                      "cache_creation_input_tokens": u.cache_write}}})
        if reply.tool_call:
            tc = reply.tool_call
            ev("content_block_start", {"index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_" + tc.call_id, "name": tc.name, "input": {}}})
            ev("content_block_delta", {"index": 0, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(tc.args)}})
            ev("content_block_stop", {"index": 0})
        else:
            ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            for part, pause in zip(reply.parts, reply.pauses):
                if pause:
                    time.sleep(pause)
                ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta",
                                                                  "text": part}})
            if reply.hold:
                h.hold()
                return
            ev("content_block_stop", {"index": 0})
        ev("message_delta", {"delta": {"stop_reason": "tool_use" if reply.tool_call
                                       else "end_turn", "stop_sequence": None},
                             "usage": {"output_tokens": u.output}})
        ev("message_stop", {})
        billed.completed, billed.finished_at = True, time.time()
