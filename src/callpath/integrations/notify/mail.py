"""A notification sent as an e-mail through the configured mail server (`CALLPATH_SMTP_*`).

Not HTTP, so not the HTTP client: smtplib, with a timeout, one connection per message
(notifications are few). What the server answers becomes an outcome the delivery worker
reads like an HTTP one (`domain.outbox.retryable`):

- accepted: 200;
- a 4xx reply (greylisting, mailbox busy, too many connections), a dropped or refused
  connection, a timeout: no status, so it is retried on the outbox's schedule;
- a 5xx reply (no such mailbox, relaying denied, authentication refused): 400, failed
  for good, the server's words in the log.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from callpath.integrations.http import Outcome
from callpath.integrations.notify.messages import Message
from callpath.settings import Smtp

# Headers unfolded up to the line limit (a long subject on one line: readers differ on
# the space left by folding right after "Subject:").
POLICY = policy.SMTP.clone(max_line_length=998)
PERMANENT = 400  # what a 5xx reply is logged as: refused, not to be sent again
NOT_CONFIGURED = (
    "e-mail is not configured: set CALLPATH_SMTP_HOST and CALLPATH_SMTP_FROM "
    "(docs/configuration.md)"
)


def compose(smtp: Smtp, to: str, message: Message) -> EmailMessage:
    mail = EmailMessage(policy=POLICY)
    mail["From"] = smtp.sender
    mail["To"] = to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=smtp.sender.rsplit("@", 1)[-1])
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.text)
    return mail


def send(smtp: Smtp | None, to: str, message: Message) -> Outcome:
    """Never raises for the network's or the server's reasons."""
    if smtp is None:
        return Outcome(PERMANENT, 0, NOT_CONFIGURED)
    started = time.monotonic()
    mail = compose(smtp, to, message)
    try:
        with _connect(smtp) as server:
            if smtp.security == "starttls":
                server.starttls(context=ssl.create_default_context())
            if smtp.user is not None and smtp.password is not None:
                server.login(smtp.user, smtp.password)
            refused = server.send_message(mail, from_addr=smtp.sender, to_addrs=[to])
    except smtplib.SMTPRecipientsRefused as exc:
        code, why = next(iter(exc.recipients.values()))
        return _reply(started, code, why)
    except smtplib.SMTPResponseException as exc:
        return _reply(started, exc.smtp_code, exc.smtp_error)
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return Outcome(None, _ms(started), f"{type(exc).__name__}: {exc}"[:500])
    if refused:
        code, why = next(iter(refused.values()))
        return _reply(started, code, why)
    return Outcome(200, _ms(started), f"accepted by {smtp.host}:{smtp.port} for {to}")


def _connect(smtp: Smtp) -> smtplib.SMTP:
    if smtp.security == "ssl":
        return smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=smtp.timeout, context=ssl.create_default_context()
        )
    return smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)


def _reply(started: float, code: int, why: bytes | str) -> Outcome:
    text = why.decode("utf-8", "replace") if isinstance(why, bytes) else str(why)
    excerpt = f"SMTP {code} {text}"[:500]
    if 400 <= code < 500:
        return Outcome(None, _ms(started), excerpt)  # transient: retried
    return Outcome(PERMANENT, _ms(started), excerpt)


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
