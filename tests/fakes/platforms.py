"""Local servers for the ad and analytics platforms' documented endpoints:

- Yandex Metrica management API: `POST /management/v1/counter/{id}/offline_conversions/
  upload_calls` and `…/upload`, a CSV in `multipart/form-data` field `file`, `Authorization:
  OAuth <token>` (403 `{"errors": [{"error_type": "invalid_token", …}], "code": 403}`
  otherwise), 400 for a file without an id column, `{"uploading": {"id", "status", …}}`;
- GA4 Measurement Protocol: `POST /mp/collect?measurement_id=…&api_secret=…`, 204 for all
  (as GA does), the bodies kept;
- Meta Conversions API: `POST /{version}/{pixel}/events` with `access_token`, 400
  `{"error": {"type": "OAuthException", "code": 190}}` for a wrong token,
  `{"events_received": n, "fbtrace_id"}` otherwise.

A test can make the next answers fail (`fail_with`: a status, or "drop": read the request
and close the connection without answering)."""

from __future__ import annotations

import json
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Platforms:
    def __init__(self, port: int, token: str = "tok-1", secret: str = "mp-secret") -> None:
        self.port = port
        self.token = token
        self.secret = secret
        self.calls_files: list[str] = []  # Metrica calls uploads, as received
        self.conversion_files: list[str] = []
        self.ga_events: list[dict[str, Any]] = []
        self.meta_events: list[dict[str, Any]] = []
        self.fail_with: list[int | str] = []  # answers to give instead, first first
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Platforms:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with fake._lock:
                    failing = fake.fail_with.pop(0) if fake.fail_with else None
                if failing == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if failing is not None:
                    self._answer(int(failing), {"message": "failing as told"})
                    return
                status, answer = fake.handle(self.path, dict(self.headers.items()), body)
                self._answer(status, answer)

            def _answer(self, status: int, answer: Any) -> None:
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        parts = urlsplit(path)
        if parts.path.startswith("/management/v1/counter/"):
            return self._metrica(parts.path, headers, body)
        if parts.path == "/mp/collect":
            query = parse_qs(parts.query)
            if query.get("api_secret") == [self.secret] and query.get("measurement_id"):
                with self._lock:
                    self.ga_events.append(json.loads(body))
            return 204, None  # GA answers 2xx whatever it does with it
        if parts.path.endswith("/events"):
            return self._meta(json.loads(body))
        return 404, {"message": "no such endpoint"}

    def _metrica(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if headers.get("Authorization") != f"OAuth {self.token}":
            error = {"error_type": "invalid_token", "message": "Invalid oauth_token"}
            return 403, {"errors": [error], "code": 403, "message": "Invalid oauth_token"}
        text = _form_file(headers.get("Content-Type", ""), body)
        if text is None:
            return 400, {"errors": [{"error_type": "invalid_parameter", "message": "no file"}]}
        header = text.splitlines()[0].split(",")
        if not {"ClientId", "Yclid", "UserId"} & set(header):
            return 400, {"errors": [{"error_type": "invalid_parameter", "message": "no id"}]}
        kind = "CALLS" if path.endswith("/upload_calls") else "BASIC"
        with self._lock:
            (self.calls_files if kind == "CALLS" else self.conversion_files).append(text)
            number = len(self.calls_files) + len(self.conversion_files)
        lines = len(text.splitlines()) - 1
        return 200, {
            "uploading": {
                "id": number,
                "type": kind,
                "status": "UPLOADED",
                "line_quantity": lines,
                "source_quantity": lines,
            }
        }

    def _meta(self, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("access_token") != self.token:
            error = {
                "message": "Invalid OAuth access token.",
                "type": "OAuthException",
                "code": 190,
            }
            return 400, {"error": error}
        with self._lock:
            self.meta_events.extend(body["data"])
        return 200, {"events_received": len(body["data"]), "fbtrace_id": "AbC"}


def _form_file(content_type: str, body: bytes) -> str | None:
    """The `file` field of a multipart/form-data body, as text (None: there is none)."""
    if not content_type.startswith("multipart/form-data"):
        return None
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    for part in message.iter_parts():  # type: ignore[attr-defined]
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload.decode("utf-8") if isinstance(payload, bytes) else None
    return None
