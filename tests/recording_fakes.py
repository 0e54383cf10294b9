"""A loopback HTTP server serving recordings like Twilio (basic auth on `.mp3`) and like a
plain PBX, and a way to put calls with a recording into the database."""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import Engine

from callpath.services import setup
from callpath.storage.db import transaction
from callpath.storage.tables import calls
from tests.helpers import Seeded

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
RECORDING_SID = "RE" + "fedcba9876543210" * 2
TWILIO_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}"
AUTH_TOKEN = "twilio-auth-token-1"
MP3 = b"ID3\x03" + bytes(range(256)) * 400
WAV = b"RIFF" + bytes(reversed(range(256))) * 100
BIG = b"\0" * (2 * 1024 * 1024)


@dataclass
class Served:
    port: int
    requests: list[str] = field(default_factory=list)
    token: str = AUTH_TOKEN

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            served.requests.append(self.path)
            if self.path == TWILIO_PATH + ".mp3":
                self._twilio()
            elif self.path == "/pbx/rec.wav":
                self._send(200, "audio/wav", WAV)
            elif self.path == "/pbx/big":
                self._send(200, "audio/mpeg", BIG, chunked=True)
            elif self.path == "/pbx/moved":
                self.send_response(302)
                self.send_header("Location", "/pbx/rec.wav")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._send(404, "text/plain", b"no")

        def _twilio(self) -> None:
            expected = base64.b64encode(f"{ACCOUNT_SID}:{served.token}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._send(401, "application/json", b'{"code": 20003}')
                return
            self._send(200, "audio/mpeg", MP3)

        def _send(self, code: int, kind: str, body: bytes, chunked: bool = False) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            if not chunked:  # no length: the size limit must stop the stream itself
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def recording_server() -> Iterator[Served]:
    served = Served(0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    served.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def add_call(
    engine: Engine, site: Seeded, kind: str, url: str, at: float, secret: str | None = None
) -> str:
    """A finished call of a `kind` integration whose recording reference is `url`."""
    call_id = "c" + secrets.token_hex(10)
    with transaction(engine) as conn:
        made = setup.create_integration(
            conn, site.account_id, site.site_id, kind, kind, at, secret=secret
        )
        conn.execute(
            calls.insert().values(
                id=call_id,
                account_id=site.account_id,
                integration_id=made.id,
                provider_call_id=call_id,
                site_id=site.site_id,
                state="ended",
                status="answered",
                started_at=at,
                recording_url=url,
                match_method="none",
                confidence=0.0,
                alternatives=[],
                repeat=False,
                updated_at=at,
            )
        )
    return call_id
