"""A local amoCRM (API v4) with the endpoints callpath uses, as documented: the contact
search (`GET /api/v4/contacts?query=…&with=leads`, 204 when nothing matches), leads by id
(`GET /api/v4/leads?filter[id][]=…`, 204 likewise), a lead with its contact
(`POST /api/v4/leads/complex`) and a note on a lead (`POST /api/v4/leads/{id}/notes`).

It checks the Bearer token (401 otherwise), records every request, and can be told to
answer the next requests otherwise (`fail_next`: 429 with Retry-After, 500…) or to hold
its answers until released (`hold`: a slow server)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

WON, LOST = 142, 143


@dataclass
class Got:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeAmo:
    port: int
    token: str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake-long-lived-token.signature"
    requests: list[Got] = field(default_factory=list)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Answers for the next requests, first first: (status, headers).
    fail_next: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    hold: threading.Event | None = None  # set: answers wait until it is cleared
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: int = 1000
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeAmo:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.handle(self, "GET")

            def do_POST(self) -> None:
                fake.handle(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------------ state

    def add_contact(self, phone: str, lead_ids: list[int]) -> int:
        with self._lock:
            self._ids += 1
            contact_id = self._ids
            self.contacts[contact_id] = {
                "id": contact_id,
                "name": phone,
                "custom_fields_values": [
                    {"field_code": "PHONE", "values": [{"value": phone, "enum_code": "WORK"}]}
                ],
                "leads": list(lead_ids),
            }
        return contact_id

    def add_lead(self, status_id: int, name: str = "Earlier lead") -> int:
        with self._lock:
            self._ids += 1
            self.leads[self._ids] = {
                "id": self._ids,
                "name": name,
                "status_id": status_id,
                "pipeline_id": 1,
                "price": 0,
                "updated_at": self._ids,
                "custom_fields_values": None,
            }
            return self._ids

    def got(self, method: str, prefix: str) -> list[Got]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    # ------------------------------------------------------------------ HTTP

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        raw = h.rfile.read(int(h.headers.get("Content-Length", "0") or 0))
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append(Got(method, parts.path, parse_qs(parts.query), body))
            failing = self.fail_next.pop(0) if self.fail_next else None
        while self.hold is not None and self.hold.is_set():
            threading.Event().wait(0.01)
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._answer(h, 401, {"title": "Unauthorized", "status": 401})
        if failing is not None:
            status, headers = failing
            return self._answer(h, status, {"title": "Error", "status": status}, headers)
        status, answer = self._route(method, parts.path, parse_qs(parts.query), body)
        self._answer(h, status, answer)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        if method == "GET" and path == "/api/v4/contacts":
            return self._search(query)
        if method == "GET" and path == "/api/v4/leads":
            return self._leads(query)
        if method == "POST" and path == "/api/v4/leads/complex":
            return self._complex(body)
        note = re.fullmatch(r"/api/v4/leads/(\d+)/notes", path)
        if method == "POST" and note:
            return self._note(int(note.group(1)), body)
        return 404, {"title": "Not found", "status": 404}

    def _search(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        wanted = query.get("query", [""])[0]
        with self._lock:
            found = [
                c
                for c in self.contacts.values()
                if wanted
                and any(
                    wanted in "".join(ch for ch in v["value"] if ch.isdigit())
                    for f in c["custom_fields_values"]
                    for v in f["values"]
                )
            ]
            contacts = [
                {
                    "id": c["id"],
                    "name": c["name"],
                    "custom_fields_values": c["custom_fields_values"],
                    "_embedded": {
                        "tags": [],
                        "companies": [],
                        **(
                            {"leads": [{"id": i} for i in c["leads"]]}
                            if "leads" in query.get("with", [""])[0]
                            else {}
                        ),
                    },
                }
                for c in found
            ]
        if not contacts:
            return 204, None
        return 200, {"_page": 1, "_embedded": {"contacts": contacts}}

    def _leads(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        ids = {int(i) for i in query.get("filter[id][]", [])}
        with self._lock:
            found = [dict(v) for k, v in self.leads.items() if k in ids]
        if not found:
            return 204, None
        return 200, {"_page": 1, "_embedded": {"leads": found}}

    def _complex(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, list) or not body:
            return 400, {"title": "Bad Request", "status": 400}
        made = []
        for index, lead in enumerate(body):
            lead_id = self.add_lead(lead.get("status_id") or 1, lead["name"])
            contact_id = None
            with self._lock:
                self.leads[lead_id].update(
                    custom_fields_values=lead.get("custom_fields_values"),
                    pipeline_id=lead.get("pipeline_id") or 1,
                )
            for contact in (lead.get("_embedded") or {}).get("contacts") or []:
                number = contact["custom_fields_values"][0]["values"][0]["value"]
                contact_id = self.add_contact(number, [lead_id])
            made.append(
                {
                    "id": lead_id,
                    "contact_id": contact_id,
                    "company_id": None,
                    "request_id": [str(index)],
                    "merged": False,
                }
            )
        return 200, made

    def _note(self, lead_id: int, body: Any) -> tuple[int, Any]:
        with self._lock:
            if lead_id not in self.leads:
                return 404, {"title": "Not found", "status": 404}
            self._ids += 1
            self.notes[self._ids] = {"entity_id": lead_id, "text": body[0]["params"]["text"]}
            note_id = self._ids
        return 200, {"_embedded": {"notes": [{"id": note_id, "entity_id": lead_id}]}}

    @staticmethod
    def _answer(
        h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        raw = b"" if status == 204 else json.dumps(body).encode()
        h.send_response(status)
        kind = "application/problem+json" if status >= 400 else "application/hal+json"
        h.send_header("Content-Type", kind)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)
