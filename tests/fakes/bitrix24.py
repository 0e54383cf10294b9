"""A Bitrix24 portal's REST API as its incoming webhooks see it, on 127.0.0.1: the methods
callpath calls (crm.lead.add, crm.lead.list, crm.timeline.comment.add, crm.deal.get,
crm.contact.get) under /rest/{user}/{code}/, answering as Bitrix24 documents: a result,
or `{"error", "error_description"}` with its status (a wrong webhook: 401
INVALID_CREDENTIALS). A test can queue answers (QUERY_LIMIT_EXCEEDED 503, a 500), hold
requests until it lets them go (a slow portal), and read every request it got."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

_PATH = re.compile(r"^/rest/([^/]+)/([^/]+)/([a-z.]+?)(?:\.json)?/?$")
HOLD_LIMIT = 120.0  # a held request is let go at last, so a failed test cannot hang


class FakeBitrix24:
    def __init__(self, port: int, user: str = "7", code: str = "hook0code0secret42") -> None:
        self.port = port
        self.user = user
        self.code = code
        self.leads: dict[int, dict[str, Any]] = {}
        self.deals: dict[int, dict[str, Any]] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.comments: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []  # authorised: (method, params)
        self.refused = 0  # requests with a wrong webhook
        self.arrived = threading.Event()  # a held request is waiting
        self._queued: list[tuple[int, dict[str, Any]]] = []
        self._gate: threading.Event | None = None
        self._ids = iter(range(101, 10_000))
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/rest/{self.user}/{self.code}/"

    def methods(self) -> list[str]:
        with self._lock:
            return [method for method, _ in self.requests]

    def called(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [params for name, params in self.requests if name == method]

    def fail_next(self, status: int, error: str, description: str = "") -> None:
        """The next request is answered this error (queued: several in order)."""
        with self._lock:
            self._queued.append((status, {"error": error, "error_description": description}))

    def hold(self) -> None:
        """Requests wait from now until `release` (`arrived` is set when one waits)."""
        self.arrived.clear()
        self._gate = threading.Event()

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    def add_deal(self, deal_id: int, **fields: Any) -> None:
        self.deals[deal_id] = {"ID": str(deal_id), **fields}

    def start(self) -> FakeBitrix24:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = fake.answer(self.path, self.headers.get("Content-Type"), body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def answer(self, path: str, kind: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
        found = _PATH.match(path.split("?")[0])
        if not found or (found.group(1), found.group(2)) != (self.user, self.code):
            with self._lock:
                self.refused += 1
            return 401, {
                "error": "INVALID_CREDENTIALS",
                "error_description": "Invalid request credentials",
            }
        method = found.group(3)
        params = _params(kind, body)
        with self._lock:
            self.requests.append((method, params))
        gate = self._gate
        if gate is not None:
            self.arrived.set()
            gate.wait(HOLD_LIMIT)
        with self._lock:
            if self._queued:
                return self._queued.pop(0)
            return self._method(method, params)

    def _method(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        fields = params.get("fields") or {}
        if method == "crm.lead.add":
            lead_id = next(self._ids)
            self.leads[lead_id] = fields
            return 200, {"result": lead_id, "time": {}}
        if method == "crm.lead.list":
            wanted = (params.get("filter") or {}).get("ORIGIN_ID")
            rows = [{"ID": str(i)} for i, f in self.leads.items() if f.get("ORIGIN_ID") == wanted]
            return 200, {"result": rows, "total": len(rows), "time": {}}
        if method == "crm.timeline.comment.add":
            self.comments.append(fields)
            return 200, {"result": next(self._ids), "time": {}}
        if method in ("crm.deal.get", "crm.contact.get"):
            store = self.deals if method == "crm.deal.get" else self.contacts
            item = store.get(int(params.get("id") or params.get("ID") or 0))
            if item is None:
                return 400, {"error": "", "error_description": "Not found"}
            return 200, {"result": item, "time": {}}
        return 404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}


def _params(kind: str | None, body: bytes) -> dict[str, Any]:
    if kind and "json" in kind:
        data = json.loads(body or b"{}")
        return data if isinstance(data, dict) else {}
    return {k: v[0] for k, v in parse_qs(body.decode()).items()}
