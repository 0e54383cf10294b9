"""What a server says on its standard error: one line when it listens, one per request
(method, path without its query, status, milliseconds), warnings and errors; as text or
as JSON lines (`callpath serve --log-json`, `CALLPATH_LOG_JSON=1`).

Each request costs one cheap log call, skipped when nobody listens to the logger (an app
under tests). The tracker's own answers (`/t/…`, thousands a second on a busy site) are
logged only when they fail, unless `CALLPATH_ACCESS_LOG=all`."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("callpath.access")
serve_log = logging.getLogger("callpath.serve")

ACCESS_LOGS = ("app", "all", "off")  # CALLPATH_ACCESS_LOG
TRACKER = b"/t/"
PATH_MAX = 300
# Webhooks of services that cannot sign: a token in the URL (…/{id}/{token}) is the
# credential, so it never reaches the log.
SECRET_IN_PATH = (b"/hooks/amocrm/",)
REQUEST_FIELDS = ("method", "path", "status", "ms")


class AccessLog:
    """ASGI middleware: one log line per HTTP request, after its answer (an exception is a
    500 logged as such, then raised on to the server's error handling)."""

    def __init__(self, app: ASGIApp, tracker: bool = False) -> None:
        self.app = app
        self.tracker = tracker  # log the tracker's successful answers too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._line(scope, status, start)

    def _line(self, scope: Scope, status: int, start: float) -> None:
        # The raw path stays percent-encoded: no line breaks from a request, and the query
        # (tokens, e-mails) is not part of it.
        raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "replace")
        raw = _without_secret(raw)
        if status < 400 and not self.tracker and raw.startswith(TRACKER):
            return
        ms = round((time.perf_counter() - start) * 1000, 1)
        path = raw[:PATH_MAX].decode("ascii", "replace")
        fields = {"method": scope["method"], "path": path, "status": status, "ms": ms}
        log.info("%s %s %d %.1f ms", scope["method"], path, status, ms, extra=fields)


def _without_secret(raw: bytes) -> bytes:
    """A path whose last part is a credential (`SECRET_IN_PATH`), with that part hidden."""
    for prefix in SECRET_IN_PATH:
        if raw.startswith(prefix):
            head, slash, _secret = raw[len(prefix) :].partition(b"/")
            return prefix + head + (slash and b"/***")
    return raw


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, and a request's
    method, path, status and ms."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= {k: getattr(record, k) for k in REQUEST_FIELDS if hasattr(record, k)}
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class Listening(logging.Filter):
    """Of the web server's own informational lines, keeps only the one it writes once its
    socket listens (one worker: after the app's start-up), in callpath's words; warnings
    pass. With several workers the server says it when it binds the socket, before they
    start: each worker then says when it is ready (`worker_ready`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        if not str(record.msg).startswith("Uvicorn running on "):
            return False
        address = str(record.msg)[19:].split(" (", 1)[0]
        if record.funcName == "bind_socket":
            record.msg = f"callpath is binding {address}; its workers are starting"
        else:
            record.msg = "callpath is listening on " + address
        return True


def worker_ready() -> None:
    """This web process has started and is about to serve (said with several workers
    only: one says "listening" instead, see `server_config`)."""
    serve_log.info("callpath worker %d is ready and serving", os.getpid())


def server_config(json_lines: bool, workers: int = 1) -> dict[str, Any]:
    """`logging.config.dictConfig` for `callpath serve` (each worker process applies it):
    the web server's and callpath's loggers to standard error, as text or JSON lines."""
    formatter = (
        {"()": JsonLines}
        if json_lines
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter},
        "filters": {"listening": {"()": Listening}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
            },
            "server": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["listening"],
            },
        },
        "loggers": {
            "uvicorn.error": {"handlers": ["server"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "callpath": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "callpath.serve": {"level": "INFO" if workers > 1 else "WARNING"},
        },
    }
