"""A local stand-in for Zadarma's user API, as documented: `GET /v1/statistics/pbx/`
with `Authorization: KEY:SIGNATURE` checked by the documented formula (computed here,
not by callpath's code), required `start`, `end`, `version`, lines filtered by their
`callstart`, JSON errors, and 429 past a request budget (`limit`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

PATH = "/v1/statistics/pbx/"


def documented_signature(method: str, params: dict[str, str], secret: str) -> str:
    """The docs' PHP: ksort; http_build_query; base64(hash_hmac('sha1', m . q . md5(q)))."""
    query = urlencode(sorted(params.items()))
    text = method + query + hashlib.md5(query.encode()).hexdigest()
    return base64.b64encode(
        hmac.new(secret.encode(), text.encode(), "sha1").hexdigest().encode()
    ).decode()


class FakeZadarmaApi:
    def __init__(self, key: str, secret: str) -> None:
        self.key, self.secret = key, secret
        self.lines: list[dict[str, Any]] = []
        self.requests: list[dict[str, str]] = []
        self.limit: int | None = None  # answer 429 once this many requests were served
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeZadarmaApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body, headers = fake.answer(self.path, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def answer(self, target: str, auth: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        parts = urlsplit(target)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if parts.path != PATH:
            return 404, {"status": "error", "message": "method not found"}, {}
        expected = f"{self.key}:{documented_signature(PATH, params, self.secret)}"
        if auth != expected:
            return 401, {"status": "error", "message": "Not authorized"}, {}
        if self.limit is not None and len(self.requests) >= self.limit:
            return 429, {"status": "error", "message": "Too many requests"}, {"Retry-After": "60"}
        if not all(params.get(name) for name in ("start", "end", "version")):
            return 400, {"status": "error", "message": "start, end and version required"}, {}
        self.requests.append(params)
        lines = [ln for ln in self.lines if params["start"] <= ln["callstart"] <= params["end"]]
        body = {"status": "success", "start": params["start"], "end": params["end"]}
        return 200, {**body, "version": 2, "stats": lines[: int(params.get("limit", 1000))]}, {}
