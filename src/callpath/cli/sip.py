"""`callpath sip config`: the Kamailio SIP edge configuration, ready for one site."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Connection

from callpath.cli.common import fail, open_engine
from callpath.domain import phone
from callpath.services import setup
from callpath.storage import call_repo, site_repo
from callpath.storage.db import transaction

sip_app = typer.Typer(help="The Kamailio SIP edge (SIP trunks).", no_args_is_help=True)

TEMPLATE = Path(__file__).resolve().parent.parent / "telephony" / "sip" / "kamailio.cfg.tmpl"
_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~\-/]*)?")
_HOST_PORT = re.compile(r"[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?")
_SECRET = re.compile(r"[A-Za-z0-9_\-]{16,128}")
_ID = re.compile(r"[A-Za-z0-9_\-]{1,24}")
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")


@dataclass(frozen=True, slots=True)
class EdgeIntegration:
    id: str
    secret: str
    default_destination: str | None


def find_integration(
    conn: Connection, site_key: str, integration_id: str | None
) -> EdgeIntegration:
    """The site's active SIP integration (the given one, else its oldest)."""
    site = site_repo.site_row(conn, key=site_key)
    found = call_repo.active_integrations(conn, site["id"], "sip") if site else []
    row = next((r for r in found if not integration_id or r["id"] == integration_id), None)
    if row is None:
        raise setup.SetupError(
            f"site {site_key!r} has no active SIP integration"
            + (f" {integration_id!r}" if integration_id else "")
            + f"; create one: callpath integration add --kind sip --site {site_key}"
        )
    return EdgeIntegration(str(row["id"]), str(row["secret"]), row["default_destination"])


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{{name}}` placeholders; every one must have a value."""
    missing = sorted(set(_PLACEHOLDER.findall(template)) - set(values))
    if missing:
        raise setup.SetupError(f"template placeholders without a value: {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _listen(value: str) -> str:
    host, _, port = value.rpartition(":")
    try:
        ipaddress.IPv4Address(host)
    except ValueError as exc:
        raise setup.SetupError(f"--listen: {value!r} is not IPv4:PORT") from exc
    return f"{host}:{_port(port, '--listen')}"


def _port(text: str, option: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise setup.SetupError(f"{option}: port must be 1..65535")
    return int(text)


def _checked(pattern: re.Pattern[str], value: str, option: str) -> str:
    if not pattern.fullmatch(value):
        raise setup.SetupError(f"{option}: {value!r} is not allowed here")
    return value


def _host_port(value: str, option: str) -> str:
    _checked(_HOST_PORT, value, option)
    if ":" in value:
        _port(value.rsplit(":", 1)[1], option)
    return value


def config_values(
    edge: EdgeIntegration,
    *,
    listen: str,
    callpath_url: str,
    pbx: str,
    default: str | None,
    ring_timeout: int,
    debug: int,
) -> dict[str, str]:
    """The site-specific values, each checked so nothing can break out of the config."""
    destination = default or edge.default_destination
    if not destination:
        raise setup.SetupError("the site has no default destination: give --default NUMBER")
    return {
        "callpath_url": _checked(_URL, callpath_url.rstrip("/"), "--callpath-url"),
        "integration": _checked(_ID, edge.id, "--integration"),
        "secret": _checked(_SECRET, edge.secret, "integration secret"),
        "default_dest": phone.to_e164(destination),
        "pbx": _host_port(pbx, "--pbx"),
        "listen": _listen(listen),
        "ring_timeout_ms": str(ring_timeout * 1000),
        "debug": str(debug),
    }


@sip_app.command("config")
def sip_config(
    site: Annotated[str, typer.Option(help="Site key (as in the snippet URL).")],
    pbx: Annotated[str, typer.Option(help="HOST:PORT of the business PBX that takes the calls.")],
    integration: Annotated[
        str | None, typer.Option(help="SIP integration id (default: the site's first).")
    ] = None,
    listen: Annotated[
        str, typer.Option(help="IPv4:PORT kamailio listens on for the carrier trunk (UDP).")
    ] = "127.0.0.1:5060",
    callpath_url: Annotated[
        str, typer.Option(help="How kamailio reaches callpath (loopback by default).")
    ] = "http://127.0.0.1:8000",
    default: Annotated[
        str | None,
        typer.Option(help="Where calls go when callpath cannot answer (default: the site's)."),
    ] = None,
    ring_timeout: Annotated[
        int, typer.Option(help="Seconds of ringing before a call counts as not answered.")
    ] = 60,
    debug: Annotated[int, typer.Option(help="kamailio log level (-1..3).", min=-1, max=3)] = 2,
    template: Annotated[
        Path,
        typer.Option(
            help="Configuration template.",
            show_default="the kamailio.cfg.tmpl shipped with callpath",
        ),
    ] = TEMPLATE,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file (mode 0600) instead of stdout.")
    ] = None,
) -> None:
    """Print the kamailio.cfg for a site: route each INVITE through callpath, report calls."""

    try:
        with transaction(open_engine(), write=False) as conn:
            edge = find_integration(conn, site, integration)
        values = config_values(
            edge,
            listen=listen,
            callpath_url=callpath_url,
            pbx=pbx,
            default=default,
            ring_timeout=max(1, ring_timeout),
            debug=debug,
        )
        text = render(template.read_text(encoding="utf-8"), values)
    except OSError as exc:
        raise fail(f"cannot read the template: {exc}") from exc
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        _write_private(output, text)
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror or exc}") from exc
    typer.echo(f"wrote {output} (it holds the integration secret: keep it 0600)", err=True)


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (it holds a secret)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
