#!/usr/bin/env python3
"""provider_fake: one loopback HTTP server standing in for every HTTP provider
(Telegram, Discord, Slack, Twilio, WhatsApp, an HTTP email API, webhook
receivers). It records every request and answers what a test scripted for the
request's path prefix.

usage: provider_fake.py PORT [--delay-ms N]
       (0 picks a free port; the first line printed is "PORT <n>")
       --delay-ms N: every answer that a script does not delay otherwise
       waits N ms after the whole request arrived (and was recorded): a slow
       provider, so that a sender can be killed while requests are in flight.

A request whose body is shorter than its Content-Length (the client went
away mid-body) was never complete: it is not recorded as a request, only
counted (GET /_fake/incomplete).

Control endpoints (JSON):
  GET  /_fake/requests[?prefix=/p]  every recorded request, oldest first:
       {"method","path","query","headers"{lower-case},"body","time"}
  POST /_fake/script {"prefix": "/p", "responses": [ANSWER, ...], "default": ANSWER?}
       the next requests under /p get the answers in order, then the default
       (when none: the built-in success below)
  GET  /_fake/incomplete  {"count": N}: requests cut off mid-body
  POST /_fake/reset  forget requests, incomplete ones and scripts

ANSWER: {"status": 200, "json": {...}} or {"status": 400, "body": "raw text"}
        or {"status": 400, "body_b64": "<base64 of raw bytes>"},
        optional "headers": {...}, "delay_ms": N; {"timeout": true} answers
        nothing for 30 s (longer than any client timeout here).
The built-in success is 200 with a JSON body that carries the message id
fields of every provider: ok/result.message_id (Telegram), id (Discord,
Resend), sid (Twilio), messages[0].id (WhatsApp), ts/channel (Slack).
"""

import base64
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
REQUESTS = []
SCRIPTS = {}  # prefix -> {"responses": [...], "default": {...} or None}
COUNTER = [0]
INCOMPLETE = [0]
DELAY_MS = [0]  # --delay-ms


def success_body():
    with LOCK:
        COUNTER[0] += 1
        n = COUNTER[0]
    return {
        "ok": True,
        "result": {"message_id": 1000 + n},
        "id": f"fake-{n}",
        "sid": f"SMfake{n:030d}",
        "num_segments": "1",
        "messages": [{"id": f"wamid.fake{n}"}],
        "ts": f"1700000000.{n:06d}",
        "channel": "C0FAKE",
    }


def pick_answer(path):
    with LOCK:
        best = None
        for prefix in SCRIPTS:
            if path.startswith(prefix) and (best is None or len(prefix) > len(best)):
                best = prefix
        if best is None:
            return None
        s = SCRIPTS[best]
        if s["responses"]:
            return s["responses"].pop(0)
        return s.get("default")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _read_body(self):
        """The body, or None when the client went away before all of it."""
        n = int(self.headers.get("Content-Length") or 0)
        if n <= 0:
            return b""
        try:
            body = self.rfile.read(n)
        except OSError:
            body = b""
        return body if len(body) == n else None

    def _send(self, status, body, ctype="application/json", headers=None):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)

    def _control(self, method, path, query, body):
        if method == "GET" and path == "/_fake/requests":
            prefix = (query.get("prefix") or [""])[0]
            with LOCK:
                out = [r for r in REQUESTS if r["path"].startswith(prefix)]
            return self._send(200, json.dumps(out))
        if method == "POST" and path == "/_fake/script":
            doc = json.loads(body or b"{}")
            with LOCK:
                SCRIPTS[doc["prefix"]] = {
                    "responses": list(doc.get("responses") or []),
                    "default": doc.get("default"),
                }
            return self._send(200, '{"ok":true}')
        if method == "GET" and path == "/_fake/incomplete":
            with LOCK:
                n = INCOMPLETE[0]
            return self._send(200, json.dumps({"count": n}))
        if method == "POST" and path == "/_fake/reset":
            with LOCK:
                REQUESTS.clear()
                SCRIPTS.clear()
                INCOMPLETE[0] = 0
            return self._send(200, '{"ok":true}')
        return self._send(404, '{"error":"no such control endpoint"}')

    def _handle(self, method):
        u = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        body = self._read_body()
        if body is None:
            with LOCK:
                INCOMPLETE[0] += 1
            self.close_connection = True
            return None
        if u.path.startswith("/_fake/"):
            return self._control(method, u.path, query, body)
        rec = {
            "method": method,
            "path": u.path,
            "query": u.query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "time": time.time(),
        }
        with LOCK:
            REQUESTS.append(rec)
        ans = pick_answer(u.path)
        if ans is None and DELAY_MS[0]:
            ans = {"status": 200}
        if ans is None:
            return self._send(200, json.dumps(success_body()))
        if ans.get("timeout"):
            time.sleep(30)
            self.close_connection = True
            return None
        delay_ms = ans.get("delay_ms", DELAY_MS[0])
        if delay_ms:
            time.sleep(delay_ms / 1000.0)
        status = int(ans.get("status", 200))
        if "json" in ans:
            payload, ctype = json.dumps(ans["json"]), "application/json"
        elif "body" in ans:
            payload, ctype = ans["body"], ans.get("content_type", "text/plain")
        elif "body_b64" in ans:
            payload, ctype = base64.b64decode(ans["body_b64"]), ans.get("content_type", "application/octet-stream")
        else:
            payload, ctype = json.dumps(success_body()), "application/json"
        return self._send(status, payload, ctype, ans.get("headers"))

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    args = sys.argv[1:]
    if "--delay-ms" in args:
        i = args.index("--delay-ms")
        DELAY_MS[0] = int(args[i + 1])
        del args[i:i + 2]
    port = int(args[0]) if args else 0
    srv = Server(("127.0.0.1", port), Handler)
    print(f"PORT {srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
