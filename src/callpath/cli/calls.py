"""`callpath call simulate`: a call sent to a running server as a telephony provider would."""

from __future__ import annotations

import json
import random
import time
from typing import Annotated, Any

import httpx
import typer
from sqlalchemy import Connection

from callpath.cli.common import fail, open_engine, server_base_url
from callpath.domain import phone
from callpath.services import setup
from callpath.storage import call_repo, site_repo
from callpath.storage.db import transaction
from callpath.telephony.generic import adapter as generic

call_app = typer.Typer(help="Calls.", no_args_is_help=True)


def _simulator(conn: Connection, e164: str) -> tuple[str, str]:
    """The generic integration of the number's site (one named "simulator" is made when
    the site has none; a disabled one is named, not replaced behind its owner's back)."""
    row = site_repo.number_by_e164(conn, e164)
    if row is None:
        raise setup.SetupError(f"{e164} is not a tracking number")
    found = call_repo.active_integrations(conn, row["site_id"], "generic")
    if found:
        return str(found[0]["id"]), str(found[0]["secret"])
    _refuse_disabled(conn, row["account_id"], row["site_id"])
    made = setup.create_integration(
        conn, row["account_id"], row["site_id"], "generic", "simulator", time.time()
    )
    return made.id, made.secret


def _refuse_disabled(conn: Connection, account_id: int, site_id: int) -> None:
    """A SetupError when the site's generic integration is disabled: its calls are refused
    on purpose, and a simulated call should not open a second way in."""
    disabled = [
        str(i["id"])
        for i in call_repo.list_integrations(conn, account_id)
        if i["site_id"] == site_id and i["kind"] == "generic" and not i["active"]
    ]
    if disabled:
        raise setup.SetupError(
            f"the site's generic integration {disabled[0]} is disabled (its calls are "
            f"refused): enable it with `callpath integration enable {disabled[0]}`"
        )


def _send(base: str, integration_id: str, secret: str, event: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(event).encode()
    stamp = str(int(time.time()))
    response = httpx.post(
        f"{base}/hooks/generic/{integration_id}",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Callpath-Timestamp": stamp,
            "X-Callpath-Signature": generic.sign(secret, stamp, body),
        },
        timeout=10,
    )
    try:
        data: dict[str, Any] = response.json()
    except ValueError as exc:
        raise setup.SetupError(
            f"{base} answered {response.status_code} without JSON: is it a callpath server?"
        ) from exc
    if response.status_code != 200:
        raise setup.SetupError(f"server answered {response.status_code}: {data.get('error')}")
    return data


def _iso(moment: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1000):03d}Z"
    )


def _events(to: str, caller: str, missed: bool, duration: int, ring: int) -> list[dict[str, Any]]:
    now = time.time()
    call_id = f"sim-{int(now * 1000)}-{random.randrange(10**6)}"
    base: dict[str, Any] = {"call_id": call_id, "caller": caller, "called": to}
    events = [{**base, "event": "started", "at": _iso(now)}]
    if missed:
        events.append(
            {**base, "event": "ended", "at": _iso(now + ring), "status": "missed", "talk": 0}
        )
        return events
    events.append({**base, "event": "answered", "at": _iso(now + ring)})
    end = now + ring + duration
    events.append(
        {
            **base,
            "event": "ended",
            "at": _iso(end),
            "status": "answered",
            "duration": ring + duration,
            "talk": duration,
        }
    )
    return events


@call_app.command("simulate")
def call_simulate(
    to: Annotated[str, typer.Option(help="The tracking number dialled (as shown on the page).")],
    caller: Annotated[
        str | None, typer.Option("--from", help="Caller id (default: a random mobile).")
    ] = None,
    missed: Annotated[bool, typer.Option(help="Nobody answers.")] = False,
    duration: Annotated[int, typer.Option(help="Talk time in seconds.", min=0, max=86_400)] = 60,
    ring: Annotated[int, typer.Option(help="Seconds of ringing.", min=0, max=600)] = 5,
    server: Annotated[str | None, typer.Option(help="Base URL of the running server.")] = None,
) -> None:
    """Send signed call events (started, answered, ended) to a running server, as a PBX
    would; the call is dated as ringing now."""

    try:
        base = server_base_url(server)
        e164 = phone.to_e164(to)
        who = phone.to_e164(caller) if caller else f"+79{random.randrange(10**9):09d}"
        with transaction(open_engine()) as conn:
            integration_id, secret = _simulator(conn, e164)
        replies = [
            _send(base, integration_id, secret, event)
            for event in _events(e164, who, missed, duration, ring)
        ]
    except httpx.HTTPError as exc:
        hint = "is `callpath serve` running? see --server"
        raise fail(f"cannot reach {base} ({exc}); {hint}") from exc
    except ValueError as exc:
        raise fail(str(exc)) from exc
    outcome = "missed" if missed else f"answered, {duration} s talk"
    forward = replies[0].get("forward_to")
    routed = f"forwarded to {forward}" if forward else "not forwarded (no destination)"
    typer.echo(
        f"call {replies[0]['call']} from {who} to {e164}: {routed}; {outcome}\n"
        f"journal: {base}/app/calls"
    )
