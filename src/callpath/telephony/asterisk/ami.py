"""A small, read-only Asterisk Manager Interface (AMI) client.

AMI is a line protocol over TCP: the server greets with one banner line
(`Asterisk Call Manager/5.0.2`), then both sides exchange blocks of `Key: Value` lines
ended by a blank line. The client logs in (`Action: Login`), answers to nothing and
only reads events; an `Action: Ping` now and then proves the connection is alive.
Input from the socket is bounded: over-long lines are dropped, a block stops growing
past a limit, and anything undecodable is replaced, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("callpath.asterisk")

Block = dict[str, str]
MAX_LINE = 8192  # bytes; AMI lines are short (a long CallerIDName is ~100)
MAX_FIELDS = 256
_STARTS = ("Event", "Response")


class AmiError(Exception):
    """The connection failed or the server does not speak AMI (retried with back-off)."""


class LoginRefused(AmiError):
    """The server answered the login with `Response: Error` (not retried)."""


class BlockParser:
    """Bytes from the socket → complete blocks; memory stays bounded whatever arrives."""

    def __init__(self, max_line: int = MAX_LINE, max_fields: int = MAX_FIELDS) -> None:
        self._max_line = max_line
        self._max_fields = max_fields
        self._partial = bytearray()
        self._skipping = False  # inside an over-long line: drop up to its end
        self._block: Block = {}

    def feed(self, data: bytes) -> list[Block]:
        blocks: list[Block] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                self._keep(data[start:])
                return blocks
            self._keep(data[start:end])
            start = end + 1
            line, skipped = bytes(self._partial), self._skipping
            self._partial.clear()
            self._skipping = False
            if not skipped:
                self._line(line.rstrip(b"\r"), blocks)

    def _keep(self, chunk: bytes) -> None:
        if self._skipping:
            return
        if len(self._partial) + len(chunk) > self._max_line:
            self._partial.clear()
            self._skipping = True
            return
        self._partial += chunk

    def _line(self, raw: bytes, blocks: list[Block]) -> None:
        if not raw.strip():
            self._flush(blocks)
            return
        key, sep, value = raw.decode("utf-8", errors="replace").partition(":")
        key = key.strip()
        if not sep or not key:
            return  # the banner, command output or garbage: not a field
        if key in _STARTS and any(k in self._block for k in _STARTS):
            self._flush(blocks)  # a missing blank line: the next block has begun
        if len(self._block) < self._max_fields:
            self._block[key] = value.strip()

    def _flush(self, blocks: list[Block]) -> None:
        if self._block:
            blocks.append(self._block)
            self._block = {}


def encode(action: str, fields: dict[str, str]) -> bytes:
    """One action as AMI wants it: CRLF lines, a blank line at the end."""
    lines = [f"Action: {action}", *(f"{k}: {_clean(v)}" for k, v in fields.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _clean(value: str) -> str:
    return value.replace("\r", "").replace("\n", "")


@dataclass(frozen=True, slots=True)
class Credentials:
    host: str
    port: int
    username: str
    secret: str


@dataclass(frozen=True, slots=True)
class Timing:
    connect_timeout: float = 10.0
    ping_every: float = 20.0  # seconds of silence before a Ping; twice that is a dead link
    backoff_first: float = 1.0
    backoff_max: float = 60.0


OnBlock = Callable[[Block], None]


class Connection:
    """One logged-in AMI session; `events` calls `on_block` for each block until EOF."""

    def __init__(self, creds: Credentials, timing: Timing) -> None:
        self._creds = creds
        self._timing = timing
        self._ids = itertools.count(1)
        self._parser = BlockParser()
        self._pending: list[Block] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        t = self._timing
        try:
            reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self._creds.host, self._creds.port), t.connect_timeout
            )
            self._reader = reader
            banner = await asyncio.wait_for(reader.readline(), t.connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            await self.close()
            where = f"{self._creds.host}:{self._creds.port}"
            raise AmiError(f"cannot connect to {where}: {exc or type(exc).__name__}") from exc
        if not banner.startswith(b"Asterisk Call Manager"):
            await self.close()
            raise AmiError(f"{self._creds.host}:{self._creds.port} is not an AMI port")
        try:
            await self._login()
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            await self.close()
            raise AmiError(f"login failed: {exc or type(exc).__name__}") from exc

    async def _login(self) -> None:
        action_id = f"callpath-{next(self._ids)}"
        fields = {"ActionID": action_id, "Username": self._creds.username}
        self._send("Login", {**fields, "Secret": self._creds.secret})
        while True:
            block = await self._next(self._timing.connect_timeout)
            if block.get("ActionID") != action_id or "Response" not in block:
                continue
            if block["Response"].lower() == "success":
                return
            raise LoginRefused(f"login refused: {block.get('Message', 'no reason given')}")

    async def events(self, on_block: OnBlock) -> None:
        """Hand every block to `on_block`; raise `AmiError` when the link is lost."""
        for block in self._pending:
            on_block(block)
        self._pending.clear()
        silent = 0
        while True:
            try:
                blocks = await self._read(self._timing.ping_every)
            except TimeoutError:
                silent += 1
                if silent > 1:
                    raise AmiError("no answer to Ping: connection lost") from None
                self._send("Ping", {"ActionID": f"callpath-{next(self._ids)}"})
                continue
            silent = 0
            for block in blocks:
                on_block(block)

    async def _next(self, timeout: float) -> Block:
        while not self._pending:
            self._pending.extend(await self._read(timeout))
        return self._pending.pop(0)

    async def _read(self, timeout: float) -> list[Block]:
        assert self._reader is not None
        try:
            data = await asyncio.wait_for(self._reader.read(65536), timeout)
        except OSError as exc:
            raise AmiError(f"connection lost: {exc}") from exc
        if not data:
            raise AmiError("connection closed by the server")
        return self._parser.feed(data)

    def _send(self, action: str, fields: dict[str, str]) -> None:
        assert self._writer is not None
        self._writer.write(encode(action, fields))

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def listen(
    creds: Credentials, on_block: OnBlock, timing: Timing, stop: asyncio.Event
) -> None:
    """Connect, log in and read events until `stop` is set, reconnecting with back-off.

    A first connection that fails, and any refused login, raise (a misconfiguration is
    reported at once); a link lost later is retried, waiting 1, 2, 4 … 60 seconds."""
    delay, connected = timing.backoff_first, False
    while not stop.is_set():
        conn = Connection(creds, timing)
        try:
            await conn.open()
            connected, delay = True, timing.backoff_first
            log.info("connected to AMI at %s:%s", creds.host, creds.port)
            await _until_stopped(conn.events(on_block), stop)
        except LoginRefused:
            raise
        except AmiError as exc:
            if not connected:
                raise
            log.warning("%s; reconnecting in %.0f s", exc, delay)
        finally:
            await conn.close()
        await _sleep(stop, delay)
        delay = min(delay * 2, timing.backoff_max)


async def _until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    """Run `work` until it ends (its error raised) or `stop` is set (it is cancelled)."""
    reading = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in (reading, stopping):
        task.cancel()
    await asyncio.gather(reading, stopping, return_exceptions=True)
    if reading in done:
        reading.result()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
