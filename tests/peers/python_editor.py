#!/usr/bin/env python3
"""A small ACP editor (client) built on the Python SDK (`agent-client-protocol`, `import acp`).

Usage:
    python_editor.py --prompt TEXT [--prompt TEXT ...] [--cwd DIR]
                     [--permission allow_once|allow_always|reject_once|reject_always|cancel]
                     [--timeout SECONDS] [--cancel-after SECONDS] [--session-meta JSON]
                     [--set-mode MODE] [--exit-grace SECONDS] [--agent-stderr FILE]
                     -- AGENT_CMD [ARGS...]

It spawns AGENT_CMD (in its own process group, with this process's environment), sends
`initialize` (protocolVersion 1, fs read/write supported, no terminal), `session/new`
(cwd, no MCP servers, optional `_meta`), optionally `session/set_mode`, then each prompt in
turn.  While a turn runs it answers `session/request_permission` by option *kind*
(`cancel`: sends `session/cancel`, then answers `cancelled`), serves `fs/read_text_file`
and `fs/write_text_file` from disk, and with --cancel-after sends `session/cancel` that
many seconds into every turn.  Then it closes the agent's stdin and waits --exit-grace
seconds (default 5) for the agent to exit before killing its process group.

Output: ONE JSON object on stdout:
    {"initialize": <raw result>, "newSession": <raw result>, "sessionId": str,
     "setMode": <raw result or error, only with --set-mode>,
     "turns": [{"prompt": str, "stopReason": str|null, "error": {code,message,data}|null,
                "seconds": float}],
     "updates": [<raw session/update params, in wire order>],
     "permissionRequests": [{"params": <raw params>, "outcome": <outcome we answered>}],
     "fsReads": [<raw params>], "fsWrites": [<raw params>],
     "agentExit": {"code": int|null, "afterEofSeconds": float|null, "killed": bool},
     "error": null | str}
Everything "raw" is the JSON as it came over the wire (the SDK's models drop unknown
fields and unknown update variants; these records don't).

Exit status: 0 when initialize, session/new and every turn got an answer (a turn answered
with a JSON-RPC error still counts: it is recorded in turns[].error); 1 (message on stderr,
JSON still printed with "error" set) on timeout, spawn failure, initialize/session/new
error or the agent closing the connection; 2 on bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import acp
from acp import RequestError
from acp.connection import StreamDirection, StreamEvent
from acp.schema import (
    AllowedOutcome,
    ClientCapabilities,
    DeniedOutcome,
    FileSystemCapabilities,
    Implementation,
    ReadTextFileResponse,
    RequestPermissionResponse,
    WriteTextFileResponse,
)

PERMISSION_CHOICES = ("allow_once", "allow_always", "reject_once", "reject_always", "cancel")
# When the agent offers no option of the asked kind, fall back to the same decision's other kind.
FALLBACK_KIND = {"allow_once": "allow_always", "allow_always": "allow_once",
                 "reject_once": "reject_always", "reject_always": "reject_once"}
STDIO_LIMIT = 50 * 1024 * 1024


class Recorder:
    """Keeps the raw wire view of everything the run needs to report."""

    def __init__(self) -> None:
        self.updates: list[dict] = []
        self.permission_requests: list[dict] = []
        self.fs_reads: list[dict] = []
        self.fs_writes: list[dict] = []
        self.results: dict[Any, Any] = {}  # our request id -> raw result / error
        self.sent_methods: dict[Any, str] = {}
        self.raw_incoming_requests: dict[str, list[dict]] = {}

    def observe(self, event: StreamEvent) -> None:
        msg = event.message
        if event.direction is StreamDirection.OUTGOING:
            if "method" in msg and "id" in msg:
                self.sent_methods[msg["id"]] = msg["method"]
            return
        method = msg.get("method")
        if method is None and "id" in msg:
            self.results[msg["id"]] = msg
        elif method == "session/update":
            self.updates.append(msg.get("params"))
        elif method is not None and "id" in msg:
            self.raw_incoming_requests.setdefault(method, []).append(msg.get("params"))

    def raw_result(self, method: str) -> Any:
        """Raw result (or {"error": ...}) of the latest request we sent with this method."""
        ids = [i for i, m in self.sent_methods.items() if m == method and i in self.results]
        if not ids:
            return None
        msg = self.results[ids[-1]]
        return msg["result"] if "result" in msg else {"error": msg.get("error")}


class Editor:
    """The acp.Client implementation: the callbacks the agent calls on us."""

    def __init__(self, rec: Recorder, permission: str) -> None:
        self.rec = rec
        self.permission = permission
        self.conn: Any = None
        self.session_id: str | None = None
        self._permission_count = 0

    def on_connect(self, conn: Any) -> None:
        self.conn = conn

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        return None  # recorded raw by the observer

    async def request_permission(self, session_id: str, tool_call: Any, options: list, **kwargs: Any):
        # handlers start in arrival order; take this request's raw params before any await
        raw = self.rec.raw_incoming_requests.get("session/request_permission", [])
        idx, self._permission_count = self._permission_count, self._permission_count + 1
        params = raw[idx] if idx < len(raw) else None
        if self.permission == "cancel":
            with contextlib.suppress(Exception):
                await self.conn.cancel(session_id=session_id)
            outcome: Any = DeniedOutcome(outcome="cancelled")
        else:
            chosen = None
            for kind in (self.permission, FALLBACK_KIND[self.permission]):
                chosen = next((o for o in options if o.kind == kind), None)
                if chosen is not None:
                    break
            outcome = (AllowedOutcome(outcome="selected", option_id=chosen.option_id) if chosen
                       else DeniedOutcome(outcome="cancelled"))
        self.rec.permission_requests.append(
            {"params": params, "outcome": outcome.model_dump(mode="json", by_alias=True, exclude_none=True)})
        return RequestPermissionResponse(outcome=outcome)

    async def read_text_file(self, session_id: str, path: str, line: int | None = None,
                             limit: int | None = None, **kwargs: Any):
        self.rec.fs_reads.append({"sessionId": session_id, "path": path, "line": line, "limit": limit})
        p = Path(path)
        if not p.is_absolute():
            raise RequestError.invalid_params({"path": path, "details": "path must be absolute"})
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RequestError.resource_not_found(path) from None
        except OSError as e:
            raise RequestError.internal_error({"path": path, "details": str(e)}) from None
        if line is not None or limit is not None:
            lines = text.splitlines(keepends=True)
            start = max((line or 1) - 1, 0)
            text = "".join(lines[start:start + limit] if limit is not None else lines[start:])
        return ReadTextFileResponse(content=text)

    async def write_text_file(self, session_id: str, path: str, content: str, **kwargs: Any):
        self.rec.fs_writes.append({"sessionId": session_id, "path": path, "content": content})
        p = Path(path)
        if not p.is_absolute():
            raise RequestError.invalid_params({"path": path, "details": "path must be absolute"})
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content, encoding="utf-8")
        except OSError as e:
            raise RequestError.internal_error({"path": path, "details": str(e)}) from None
        return WriteTextFileResponse()

    async def ext_method(self, method: str, params: dict) -> dict:
        raise RequestError.method_not_found("_" + method)

    async def ext_notification(self, method: str, params: dict) -> None:
        return None


def error_dict(exc: BaseException) -> dict:
    if isinstance(exc, RequestError):
        return {"code": exc.code, "message": str(exc), "data": exc.data}
    return {"code": None, "message": f"{type(exc).__name__}: {exc}", "data": None}


def kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def run(args: argparse.Namespace, out: dict, rec: Recorder) -> None:
    stderr_target: Any = None
    if args.agent_stderr:
        stderr_target = open(args.agent_stderr, "ab")  # noqa: SIM115 (closed at exit)
    proc = await asyncio.create_subprocess_exec(
        *args.agent_cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=stderr_target, cwd=args.cwd, start_new_session=True, limit=STDIO_LIMIT,
    )
    out["_proc"] = proc
    editor = Editor(rec, args.permission)
    conn = acp.connect_to_agent(editor, proc.stdin, proc.stdout, observers=[rec.observe])
    out["_conn"] = conn

    await conn.initialize(
        protocol_version=acp.PROTOCOL_VERSION,
        client_capabilities=ClientCapabilities(
            fs=FileSystemCapabilities(read_text_file=True, write_text_file=True), terminal=False),
        client_info=Implementation(name="ourocodus-python-editor", title="Ourocodus test editor",
                                   version="0.1.0"),
    )
    out["initialize"] = rec.raw_result("initialize")

    meta = json.loads(args.session_meta) if args.session_meta else {}
    new = await conn.new_session(cwd=args.cwd, mcp_servers=[], **meta)
    out["newSession"] = rec.raw_result("session/new")
    out["sessionId"] = editor.session_id = new.session_id

    if args.set_mode:
        try:
            await conn.set_session_mode(session_id=new.session_id, mode_id=args.set_mode)
        except RequestError:
            pass
        out["setMode"] = rec.raw_result("session/set_mode")

    for text in args.prompt:
        turn: dict[str, Any] = {"prompt": text, "stopReason": None, "error": None}
        out["turns"].append(turn)
        canceller = None
        if args.cancel_after is not None:
            async def cancel_later() -> None:
                await asyncio.sleep(args.cancel_after)
                await conn.cancel(session_id=new.session_id)
            canceller = asyncio.create_task(cancel_later())
        t = time.monotonic()
        try:
            resp = await conn.prompt(session_id=new.session_id, prompt=[acp.text_block(text)])
            turn["stopReason"] = resp.stop_reason
        except RequestError as e:
            turn["error"] = error_dict(e)
        finally:
            turn["seconds"] = round(time.monotonic() - t, 3)
            if canceller is not None:
                canceller.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await canceller


async def shutdown(out: dict, grace: float) -> None:
    proc = out.pop("_proc", None)
    conn = out.pop("_conn", None)
    if proc is None:
        return
    exit_info = {"code": proc.returncode, "afterEofSeconds": None, "killed": False}
    if proc.returncode is None:
        with contextlib.suppress(Exception):
            proc.stdin.close()
        t = time.monotonic()
        try:
            await asyncio.wait_for(proc.wait(), timeout=grace)
            exit_info["afterEofSeconds"] = round(time.monotonic() - t, 3)
        except asyncio.TimeoutError:
            exit_info["killed"] = True
            kill_group(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=2)
            except asyncio.TimeoutError:
                kill_group(proc.pid, signal.SIGKILL)
                await proc.wait()
        exit_info["code"] = proc.returncode
    # anything the agent left behind in its process group goes too
    kill_group(proc.pid, signal.SIGKILL)
    out["agentExit"] = exit_info
    if conn is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), timeout=2)


async def amain(args: argparse.Namespace) -> int:
    rec = Recorder()
    out: dict[str, Any] = {"initialize": None, "newSession": None, "sessionId": None, "turns": [],
                           "updates": rec.updates, "permissionRequests": rec.permission_requests,
                           "fsReads": rec.fs_reads, "fsWrites": rec.fs_writes, "agentExit": None,
                           "error": None}
    status = 0
    try:
        await asyncio.wait_for(run(args, out, rec), timeout=args.timeout)
    except asyncio.TimeoutError:
        out["error"] = f"timeout after {args.timeout} s"
    except FileNotFoundError as e:
        out["error"] = f"cannot spawn agent: {e}"
    except RequestError as e:
        out["error"] = f"request failed: {json.dumps(error_dict(e))}"
    except ConnectionError as e:
        out["error"] = f"agent closed the connection: {e}"
    except Exception as e:  # noqa: BLE001 - reported, not swallowed
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        await shutdown(out, args.exit_grace)
    if out["error"] is not None:
        if out["initialize"] is None and isinstance(rec.raw_result("initialize"), dict):
            out["initialize"] = rec.raw_result("initialize")
        print(f"python_editor: {out['error']}", file=sys.stderr)
        status = 1
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    return status


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompt", action="append", required=True, help="a prompt turn (repeatable)")
    ap.add_argument("--cwd", default=os.getcwd(), help="session cwd and the agent's working dir")
    ap.add_argument("--permission", choices=PERMISSION_CHOICES, default="allow_once")
    ap.add_argument("--timeout", type=float, default=60.0, help="limit for the whole run (s)")
    ap.add_argument("--cancel-after", type=float, default=None, help="send session/cancel N s into each turn")
    ap.add_argument("--session-meta", default=None, help="JSON object sent as session/new _meta")
    ap.add_argument("--set-mode", default=None, help="session/set_mode after session/new")
    ap.add_argument("--exit-grace", type=float, default=5.0, help="wait for exit after stdin EOF (s)")
    ap.add_argument("--agent-stderr", default=None, help="append the agent's stderr here (default: ours)")
    ap.add_argument("agent_cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    if args.agent_cmd and args.agent_cmd[0] == "--":
        args.agent_cmd = args.agent_cmd[1:]
    if not args.agent_cmd:
        ap.error("missing AGENT_CMD after --")
    args.cwd = os.path.abspath(args.cwd)
    if args.session_meta is not None:
        try:
            if not isinstance(json.loads(args.session_meta), dict):
                raise ValueError("not an object")
        except ValueError as e:
            ap.error(f"--session-meta must be a JSON object: {e}")
    return args


class OneLineSdkErrors(logging.Filter):
    """The SDK logs a full traceback for every update it cannot validate (e.g. an update
    variant newer than its schema); keep it to one line, the raw update is recorded anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()}: {type(record.exc_info[1]).__name__}: " + \
                str(record.exc_info[1]).splitlines()[0]
            record.args = None
            record.exc_info = None
        return True


def main() -> int:
    args = parse_args(sys.argv[1:])
    logging.basicConfig(level=logging.WARNING, format="python_editor[%(levelname)s] %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(OneLineSdkErrors())
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
