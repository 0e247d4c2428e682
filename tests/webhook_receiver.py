#!/usr/bin/env python3
"""A webhook receiver on loopback for the tests: it checks every request with
the Standard Webhooks reference library (PyPI `standardwebhooks`), an
implementation independent of atsd's, and writes one JSON line per request.

Usage: webhook_receiver.py PORT OUT.jsonl MODE_FILE SECRET_FILE

MODE_FILE holds how to answer the next requests, read at each request:
  ok     answer 204 to requests that verify (401 to those that do not)
  500    answer 500
  hang   read the request, then wait 30 s before answering (a timeout)
Prints READY once listening.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import os
from datetime import datetime, timedelta

import standardwebhooks.webhooks as swh
from standardwebhooks.webhooks import Webhook

# The suite's clock (tests/it/clock.rs): atsd runs that many seconds away
# from the real one, and signs with its own time; the receiver checks the
# timestamp against the same clock.
SHIFT = timedelta(seconds=float(os.environ.get("ATSD_TEST_CLOCK_SHIFT", "0")))


class _SuiteClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + SHIFT


swh.datetime = _SuiteClock

port, out_path, mode_path, secret_path = (
    int(sys.argv[1]),
    sys.argv[2],
    sys.argv[3],
    sys.argv[4],
)
with open(secret_path) as f:
    hook = Webhook(f.read().strip())
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(n)
        try:
            with open(mode_path) as f:
                mode = f.read().strip()
        except OSError:
            mode = "ok"
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            hook.verify(body, headers)
            verified, error = True, None
        except Exception as e:  # the library's WebhookVerificationError and others
            verified, error = False, str(e)
        status = {"ok": 204 if verified else 401, "500": 500, "hang": 0}.get(mode, 500)
        line = {
            "id": headers.get("webhook-id"),
            "verified": verified,
            "error": error,
            "mode": mode,
            "status": status,
            "body": json.loads(body) if body else None,
        }
        with lock, open(out_path, "a") as f:
            f.write(json.dumps(line) + "\n")
        if mode == "hang":
            time.sleep(30)
            return
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
print("READY", flush=True)
server.serve_forever()
