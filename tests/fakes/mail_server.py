"""A real SMTP server on loopback (aiosmtpd) keeping every message it accepts, that can
refuse recipients for good (550), answer "try later" (451) a number of times, and be
stopped and started again on the same port (a mail server that went down)."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class MailServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.mails: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs)
        self.refuse: set[str] = set()  # recipients answered 550
        self.busy = 0  # answer this many DATA commands with 451 first
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> MailServer:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def keep(self, sender: str, recipients: list[str], content: bytes) -> None:
        mail = message_from_bytes(content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        with self._lock:
            self.envelopes.append((sender, recipients))
            self.mails.append(mail)

    def subjects(self) -> list[str]:
        with self._lock:
            return [str(m["Subject"]) for m in self.mails]


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.server.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.server.busy > 0:
            self.server.busy -= 1
            return "451 4.3.0 Try again later"
        self.server.keep(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        return "250 2.0.0 Message accepted for delivery"
