"""A webhook receiver as a customer would write one: checks callpath's signature with the
documented rule, keeps each event once by its id, and can be stopped and started again
on the same port (a receiver that went down)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from callpath.telephony.generic.adapter import sign


class Receiver:
    def __init__(self, port: int, secret: str = "") -> None:
        self.port = port
        self.secret = secret
        self.events: list[dict[str, Any]] = []  # every accepted POST, in arrival order
        self.refused: list[str] = []  # why a POST was refused
        self.status = 200  # what to answer (a test may make it fail)
        self.clock: Callable[[], float] = time.time  # a test's clock, if it sends with one
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callpath"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                why = receiver.check(dict(self.headers.items()), body)
                status = 401 if why else receiver.status
                if why:
                    with receiver._lock:
                        receiver.refused.append(why)
                elif status == 200:
                    receiver.keep(dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def check(self, headers: dict[str, str], body: bytes) -> str | None:
        """The receiver's side of docs/integrations.md: timestamp fresh, signature right."""
        stamp = headers.get("X-Callpath-Timestamp", "")
        given = headers.get("X-Callpath-Signature", "")
        if not stamp.isdigit() or abs(self.clock() - int(stamp)) > 300:
            return "stale or missing timestamp"
        if given != sign(self.secret, stamp, body):
            return "bad signature"
        return None

    def keep(self, headers: dict[str, str], body: bytes) -> None:
        event = json.loads(body)
        assert headers.get("X-Callpath-Event") == event["id"]
        with self._lock:
            self.events.append(event)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e["type"] == kind]

    def ids(self) -> list[str]:
        with self._lock:
            return [e["id"] for e in self.events]
