"""Where a call to a tracking number goes, answered even when the database is not.

The decision itself is one indexed lookup. Every worker also keeps a map of number →
destination and of integrations (secrets included, to verify webhooks), refreshed in
the background and saved to disk, so a call is forwarded from that map when the
database cannot be reached, even right after a restart.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from callpath.services.calls import Integration
from callpath.storage import call_repo


def forward_to(number: dict[str, Any] | None, integ: Integration) -> str | None:
    """The number's own destination, else its site's default, else the integration's."""
    if number and number["active"]:
        return number["forward_to"] or number["default_destination"] or integ.default_destination
    return integ.default_destination


class RouteCache:
    def __init__(self, snapshot: Path | None) -> None:
        self._snapshot = snapshot
        self._lock = threading.Lock()
        self._integrations: dict[str, Integration] = {}
        self._numbers: dict[str, dict[str, Any]] = {}
        self.loaded = False
        # Monotonic times: when the last refresh from the database began reading, and when
        # the cache was last declared stale (a refresh that began earlier stays stale).
        self._refreshed_at = -math.inf
        self._expired_at = -math.inf

    def refresh(self, conn: Connection) -> None:
        began = time.monotonic()
        integrations = {
            row["id"]: Integration.from_row(row) for row in call_repo.list_integrations(conn)
        }
        numbers = {row["e164"]: {**row, "active": True} for row in call_repo.routing_numbers(conn)}
        with self._lock:
            self._integrations, self._numbers, self.loaded = integrations, numbers, True
            self._refreshed_at = began if began > self._expired_at else -math.inf
        self._save()

    def expire(self) -> None:
        """Stale until the next refresh: integrations (with their site's default
        destination) and tracked numbers are read from the database meanwhile."""
        with self._lock:
            self._refreshed_at, self._expired_at = -math.inf, time.monotonic()

    def load_snapshot(self) -> bool:
        if self._snapshot is None or not self._snapshot.is_file():
            return False
        try:
            data = json.loads(self._snapshot.read_text(encoding="utf-8"))
            integrations = {k: Integration(**v) for k, v in data["integrations"].items()}
            numbers = dict(data["numbers"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        with self._lock:
            self._integrations, self._numbers, self.loaded = integrations, numbers, True
        return True

    def integration(self, integration_id: str) -> Integration | None:
        with self._lock:
            return self._integrations.get(integration_id)

    def fresh_integration(self, integration_id: str, max_age: float) -> Integration | None:
        """The integration as the database had it at most `max_age` seconds ago (None if
        unknown then, or if the cache is older or came from the snapshot)."""
        with self._lock:
            if time.monotonic() - self._refreshed_at > max_age:
                return None
            return self._integrations.get(integration_id)

    def tracks(self, account_id: int, e164: str, max_age: float) -> bool:
        """True if a refresh from the database within `max_age` seconds had `e164` as a
        tracking number of this account (False also means "not known to be")."""
        with self._lock:
            if time.monotonic() - self._refreshed_at > max_age:
                return False
            number = self._numbers.get(e164)
        return number is not None and number["account_id"] == account_id

    def forward_to(self, integ: Integration, e164: str | None) -> str | None:
        with self._lock:
            number = self._numbers.get(e164 or "")
        if number is not None and number["account_id"] != integ.account_id:
            number = None
        return forward_to(number, integ)

    def _save(self) -> None:
        if self._snapshot is None:
            return
        with self._lock:
            data = {
                "integrations": {k: asdict(v) for k, v in self._integrations.items()},
                "numbers": self._numbers,
            }
        self._snapshot.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self._snapshot.with_name(f"{self._snapshot.name}.{os.getpid()}.tmp")
        # The snapshot holds webhook secrets: readable by this user only.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
        tmp.replace(self._snapshot)
