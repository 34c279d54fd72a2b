#!/usr/bin/env python3
"""A scripted stand-in for the Anthropic Messages API on loopback, so that the real Claude Code
ACP adapter (and the Claude Code CLI it drives) can run whole turns offline and deterministically.

Usage:
    fake_messages_api.py --script FILE [--port 0] [--log FILE]

Prints the port it listens on (127.0.0.1 only) as the first line of stdout, then serves until
killed.  Point the adapter at it with these environment variables:
    ANTHROPIC_BASE_URL=http://127.0.0.1:PORT  ANTHROPIC_API_KEY=<any dummy string>
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1  DISABLE_TELEMETRY=1
    HOME=<a fresh temporary directory>  IS_SANDBOX=1 (when running as root)

The script is a JSON array of model replies, used in order, one per `POST /v1/messages` call
that offers tools (Claude Code's agent loop); calls without tools (helpers such as title
generation) get a short fixed text.  A reply is an object:
    {"blocks": [{"text": "..."} | {"tool_use": {"name": "Write", "input": {...}}}, ...],
     "delay": SECONDS (optional, before answering: room for session/cancel tests)}
The stop reason is "tool_use" when a reply has a tool_use block, else "end_turn".  When the
script is used up, every further call gets {"text": "(script exhausted)"} and end_turn.

The log (JSON lines) records every request: path, model, stream, the tool names offered, the
last 400 characters of the system prompt, whether the last message carries a tool_result
(with its content), and the text of every message in the conversation (role and text) —
enough to check what the adapter passed on (persona, disallowedTools, a resumed context).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class State:
    def __init__(self, replies: list[dict], log_path: str | None) -> None:
        self.replies = replies
        self.next = 0
        self.calls = 0
        self.lock = threading.Lock()
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115

    def take(self, with_tools: bool) -> tuple[int, dict]:
        with self.lock:
            self.calls += 1
            if not with_tools:
                return self.calls, {"blocks": [{"text": "Scripted helper reply."}]}
            if self.next < len(self.replies):
                self.next += 1
                return self.calls, self.replies[self.next - 1]
            return self.calls, {"blocks": [{"text": "(script exhausted)"}]}

    def record(self, **kw: Any) -> None:
        if self.log is None:
            return
        with self.lock:
            self.log.write(json.dumps({"t": round(time.time(), 3), **kw}) + "\n")
            self.log.flush()


def last_tool_results(messages: list) -> list:
    if not messages or not isinstance(messages[-1].get("content"), list):
        return []
    return [c for c in messages[-1]["content"] if isinstance(c, dict) and c.get("type") == "tool_result"]


def message_texts(messages: list) -> list:
    """Each message's role and the text of its text blocks, joined."""
    texts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            text = content
        else:
            text = "".join(c.get("text", "") for c in content or [] if isinstance(c, dict))
        texts.append({"role": message.get("role"), "text": text})
    return texts


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return

        def send_json(self, code: int, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def not_found(self) -> None:
            self.send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})

        def do_GET(self) -> None:  # noqa: N802
            state.record(method="GET", path=self.path)
            self.not_found()

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            path = self.path.split("?")[0]
            messages = body.get("messages") or []
            tools = [t.get("name") for t in body.get("tools") or []]
            results = last_tool_results(messages)
            state.record(method="POST", path=self.path, model=body.get("model"), stream=bool(body.get("stream")),
                         tools=tools, system_tail=json.dumps(body.get("system"))[-400:],
                         tool_results=results, messages=message_texts(messages))
            if path == "/v1/messages/count_tokens":
                return self.send_json(200, {"input_tokens": 10})
            if path != "/v1/messages":
                return self.not_found()
            call, reply = state.take(bool(tools))
            if reply.get("delay"):
                time.sleep(float(reply["delay"]))
            blocks = []
            for i, b in enumerate(reply.get("blocks") or []):
                if "tool_use" in b:
                    blocks.append({"type": "tool_use", "id": f"toolu_{call:02d}_{i}",
                                   "name": b["tool_use"]["name"], "input": b["tool_use"].get("input", {})})
                else:
                    blocks.append({"type": "text", "text": b.get("text", "")})
            stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
            usage = {"input_tokens": 10, "output_tokens": 5}
            message = {"id": f"msg_{call:02d}", "type": "message", "role": "assistant",
                       "model": body.get("model") or "scripted", "stop_reason": None, "stop_sequence": None}
            if not body.get("stream"):
                return self.send_json(200, {**message, "content": blocks, "stop_reason": stop, "usage": usage})
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.end_headers()

            def event(name: str, data: dict) -> None:
                self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

            event("message_start", {"type": "message_start",
                                    "message": {**message, "content": [], "usage": {**usage, "output_tokens": 1}}})
            for i, b in enumerate(blocks):
                if b["type"] == "text":
                    event("content_block_start", {"type": "content_block_start", "index": i,
                                                  "content_block": {"type": "text", "text": ""}})
                    delta = {"type": "text_delta", "text": b["text"]}
                else:
                    event("content_block_start", {"type": "content_block_start", "index": i,
                                                  "content_block": {**b, "input": {}}})
                    delta = {"type": "input_json_delta", "partial_json": json.dumps(b["input"])}
                event("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta})
                event("content_block_stop", {"type": "content_block_stop", "index": i})
            event("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                    "usage": {"output_tokens": usage["output_tokens"]}})
            event("message_stop", {"type": "message_stop"})
            self.close_connection = True
            return None

    return Handler


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--script", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", default=None)
    args = ap.parse_args()
    with open(args.script, encoding="utf-8") as f:
        replies = json.load(f)
    if not isinstance(replies, list):
        ap.error("the script must be a JSON array of replies")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(State(replies, args.log)))
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
