#!/usr/bin/env python3
"""Drive an ACP peer over stdio with raw JSON lines and log every event with a timestamp.

Usage:
    raw_client.py [--script FILE|-] [--timeout S] [--env K=V ...] [--unset K ...]
                  [--auto-permission KIND] [--serve-fs] -- CMD ARGS...

The script (default: stdin) holds one step per line:
    {"jsonrpc":"2.0",...}   send this message; the text {{sessionId}} is replaced by the
                            sessionId of the most recent session/new result, and
                            {{lastRequestId}} by the JSON id of the peer's latest request
    wait ID [SECONDS]       wait until the response with this id arrives (default 30 s)
    wait-method M [SECONDS] wait until the peer sends a message with method M
    sleep SECONDS           pause
    raw TEXT                send TEXT and a newline as they are (e.g. broken JSON)
    eof                     close the peer's stdin
    pgroup                  log the processes still in the peer's process group
    wait-exit [SECONDS]     wait for the peer to exit (default 10 s)
    # ...                   comment

Requests the peer sends are answered automatically: session/request_permission by
option kind (--auto-permission, default allow_once; "cancel" answers cancelled,
"none" leaves it to the script),
fs/read_text_file and fs/write_text_file from disk when --serve-fs is given, anything
else with -32601.

Output: one JSON object per line on stdout, {"t": seconds since spawn, "ev": EVENT, ...},
EVENT one of "sent", "recv", "stderr" (a line of the peer's stderr), "eof-sent", "exit"
(with "code", when the peer exits), "killed" (the script ended with the peer still
running), "timeout" (with "step").  Exit status 0 unless a step timed out (3).
When the script ends the peer is terminated (SIGTERM to its process group, then SIGKILL).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time


def process_group(pgid: int) -> list:
    """[{pid, comm, argv}] of live processes whose process group is pgid (Linux /proc)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0")[:-1]]
            except OSError:
                argv = []
            found.append({"pid": int(d), "comm": comm, "argv": argv})
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--script", default="-")
    ap.add_argument("--timeout", type=float, default=120.0, help="overall limit in seconds")
    ap.add_argument("--env", action="append", default=[], metavar="K=V")
    ap.add_argument("--unset", action="append", default=[], metavar="K")
    ap.add_argument("--auto-permission", default="allow_once")
    ap.add_argument("--serve-fs", action="store_true")
    ap.add_argument("--quiet-stderr", action="store_true", help="do not log the peer's stderr lines")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if not cmd:
        ap.error("missing command after --")

    steps = (sys.stdin if args.script == "-" else open(args.script, encoding="utf-8")).read().splitlines()

    env = dict(os.environ)
    for k in args.unset:
        env.pop(k, None)
    for kv in args.env:
        k, _, v = kv.partition("=")
        env[k] = v

    t0 = time.monotonic()
    out_lock = threading.Lock()

    def emit(ev: str, **kw) -> None:
        rec = {"t": round(time.monotonic() - t0, 3), "ev": ev, **kw}
        with out_lock:
            sys.stdout.write(json.dumps(rec) + "\n")
            sys.stdout.flush()

    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        start_new_session=True,
    )
    inbox: queue.Queue = queue.Queue()
    write_lock = threading.Lock()
    stdin_open = [True]

    def send(msg: dict) -> None:
        with write_lock:
            if not stdin_open[0]:
                return
            try:
                proc.stdin.write((json.dumps(msg) + "\n").encode())
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                return
        emit("sent", msg=msg)

    def answer(msg: dict) -> None:
        method, params, rid = msg["method"], msg.get("params") or {}, msg["id"]
        try:
            if method == "session/request_permission":
                if args.auto_permission == "none":
                    return  # left for the script to answer ({{lastRequestId}})
                if args.auto_permission == "cancel":
                    result = {"outcome": {"outcome": "cancelled"}}
                else:
                    opts = [o for o in params.get("options", []) if o.get("kind") == args.auto_permission]
                    result = ({"outcome": {"outcome": "selected", "optionId": opts[0]["optionId"]}} if opts
                              else {"outcome": {"outcome": "cancelled"}})
            elif method == "fs/read_text_file" and args.serve_fs:
                with open(params["path"], encoding="utf-8") as f:
                    lines = f.read().splitlines(keepends=True)
                start = max((params.get("line") or 1) - 1, 0)
                end = start + params["limit"] if params.get("limit") else None
                result = {"content": "".join(lines[start:end])}
            elif method == "fs/write_text_file" and args.serve_fs:
                with open(params["path"], "w", encoding="utf-8") as f:
                    f.write(params["content"])
                result = {}
            else:
                send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}})
                return
        except OSError as e:
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32002, "message": str(e)}})
            return
        send({"jsonrpc": "2.0", "id": rid, "result": result})

    last_request_id: list = [None]

    def read_stdout() -> None:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if not line.strip():
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                emit("recv-garbage", line=line)
                continue
            emit("recv", msg=msg)
            inbox.put(msg)
            if isinstance(msg, dict) and "method" in msg and "id" in msg:
                last_request_id[0] = msg["id"]
                answer(msg)
        inbox.put(None)

    def read_stderr() -> None:
        for raw in proc.stderr:
            if not args.quiet_stderr:
                emit("stderr", line=raw.decode("utf-8", "replace").rstrip("\n"))

    exit_seen = threading.Event()

    def watch_exit() -> None:
        code = proc.wait()
        emit("exit", code=code)
        exit_seen.set()

    threading.Thread(target=read_stdout, daemon=True).start()
    threading.Thread(target=watch_exit, daemon=True).start()
    threading.Thread(target=read_stderr, daemon=True).start()

    seen: list = []
    session_id = [None]
    stdout_closed = [False]

    def pump(pred, limit: float) -> bool:
        deadline = min(time.monotonic() + limit, t0 + args.timeout)
        while True:
            for m in seen:
                if pred(m):
                    seen.remove(m)
                    return True
            if stdout_closed[0]:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                m = inbox.get(timeout=remaining)
            except queue.Empty:
                return False
            if m is None:
                stdout_closed[0] = True
                continue
            if isinstance(m, dict):
                res = m.get("result")
                if isinstance(res, dict) and isinstance(res.get("sessionId"), str):
                    session_id[0] = res["sessionId"]
                seen.append(m)

    status = 0
    for step in steps:
        s = step.strip()
        if not s or s.startswith("#"):
            continue
        # keep sessionId fresh even when no wait step ran
        pump(lambda m: False, 0)
        if s.startswith("{"):
            s = s.replace("{{sessionId}}", session_id[0] or "")
            s = s.replace("{{lastRequestId}}", json.dumps(last_request_id[0]))
            send(json.loads(s))
            continue
        word, *rest = s.split()
        if word == "wait":
            rid = json.loads(rest[0])
            lim = float(rest[1]) if len(rest) > 1 else 30.0
            if not pump(lambda m, rid=rid: "method" not in m and m.get("id") == rid, lim):
                emit("timeout", step=s)
                status = 3
                break
        elif word == "wait-method":
            lim = float(rest[1]) if len(rest) > 1 else 30.0
            if not pump(lambda m, meth=rest[0]: m.get("method") == meth, lim):
                emit("timeout", step=s)
                status = 3
                break
        elif word == "sleep":
            end = time.monotonic() + float(rest[0])
            pump(lambda m: False, max(end - time.monotonic(), 0))
        elif word == "pgroup":
            emit("pgroup", procs=process_group(proc.pid))
        elif word == "raw":
            with write_lock:
                proc.stdin.write((s[4:] + "\n").encode())
                proc.stdin.flush()
            emit("sent-raw", line=s[4:])
        elif word == "eof":
            with write_lock:
                stdin_open[0] = False
                try:
                    proc.stdin.close()
                except OSError:
                    pass
            emit("eof-sent")
        elif word == "wait-exit":
            lim = float(rest[0]) if rest else 10.0
            try:
                proc.wait(timeout=lim)
            except subprocess.TimeoutExpired:
                emit("timeout", step=s)
                status = 3
                break
        else:
            print(f"raw_client: unknown step {s!r}", file=sys.stderr)
            status = 2
            break

    killed = proc.poll() is None
    if killed:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
    # whatever is left of the peer's process group (grandchildren included) goes too
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    exit_seen.wait(2)
    if killed:
        emit("killed", code=proc.returncode)
    return status


if __name__ == "__main__":
    sys.exit(main())
