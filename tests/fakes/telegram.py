"""A Telegram Bot API on loopback with the answers callpath must understand: `sendMessage`
for one bot token (any other: 401), known chats only (else 400 "chat not found"), and a
flood limit on demand (429 with `parameters.retry_after`)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")


class TelegramApi:
    def __init__(self, port: int, token: str, chats: tuple[str, ...] = ("123456789",)) -> None:
        self.port = port
        self.token = token
        self.chats = set(chats)
        self.sent: list[dict[str, Any]] = []  # every message accepted, in order
        self.flood = 0  # answer this many messages to a known chat with 429 first
        self.retry_after = 120
        self.calls = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TelegramApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = api.answer(self.path, body)
                data = json.dumps(answer).encode()
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
            self._server = None

    def answer(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        found = PATH.match(path)
        if found is None or found["token"] != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if found["method"] != "sendMessage":
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        message = json.loads(body)
        if str(message.get("chat_id")) not in self.chats:
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: chat not found",
            }
        if not str(message.get("text") or "").strip():
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: message text is empty",
            }
        with self._lock:
            self.calls += 1
            if self.flood > 0:
                self.flood -= 1
                return 429, {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {self.retry_after}",
                    "parameters": {"retry_after": self.retry_after},
                }
            self.sent.append(message)
            number = len(self.sent)
        chat = {"id": message["chat_id"], "type": "private"}
        return 200, {
            "ok": True,
            "result": {"message_id": number, "chat": chat, "text": message["text"]},
        }

    def texts(self) -> list[str]:
        with self._lock:
            return [str(m["text"]) for m in self.sent]
