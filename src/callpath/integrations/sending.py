"""What a sender works with: its context (the one HTTP client and the links store, what
a destination made of our calls), and sending at most once for destinations that cannot
tell a repeat."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from callpath.integrations.http import Client, Outcome, skipped
from callpath.integrations.notify.sender import Channels
from callpath.services.deliveries import Links
from callpath.storage.remote_link_repo import SENT


@dataclass(frozen=True, slots=True)
class Context:
    client: Client
    links: Links
    notify: Channels | None = None  # e-mail and Telegram (none: this process sends none)


Sender = Callable[[Context, Mapping[str, Any], Mapping[str, Any], float], Outcome]


def at_most_once(
    ctx: Context,
    destination: Mapping[str, Any],
    mark: tuple[str, str],  # ("call", call id) or ("deal", deal id)
    call_id: str | None,
    now: float,
    send: Callable[[], Outcome],
) -> Outcome:
    """Send at most once, for a destination that cannot tell a repeat (Metrica's calls
    upload, GA4): the mark (`kind`, our id) is taken before sending and dropped only when
    the destination surely did not take it (no connection, or an answer that refused it);
    when it may have arrived (the answer was lost), it is never sent again by itself."""
    dest_id, kind, key = int(destination["destination_id"]), SENT, f"{mark[0]}:{mark[1]}"
    if not ctx.links.remember(int(destination["account_id"]), dest_id, kind, key, call_id, now):
        return skipped(f"{mark[0]} {mark[1]} was sent to this destination already")
    outcome = send()
    if outcome.ok:
        return outcome
    if outcome.ambiguous:
        return replace(
            outcome,
            final=True,
            excerpt=f"may have arrived (no answer after sending): not sent again, so it is "
            f"never counted twice; check there, then replay if it is missing. {outcome.excerpt}",
        )
    ctx.links.forget(dest_id, kind, key)
    return outcome
