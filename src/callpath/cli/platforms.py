"""`callpath metrica|ga4|meta connect`: a site's calls sent to Yandex Metrica, Google
Analytics 4 and Meta as they happen (through the outbox; `callpath webhook log ID`,
`replay`, `pause`, `resume` and `remove` manage them as any destination)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from callpath.cli.common import fail, open_engine, site_row
from callpath.integrations import platforms
from callpath.integrations.destinations import Added
from callpath.services import setup
from callpath.storage.db import transaction

metrica_app = typer.Typer(help="Yandex Metrica: calls upload and won deals.", no_args_is_help=True)
ga4_app = typer.Typer(
    help="Google Analytics 4: calls by the Measurement Protocol.", no_args_is_help=True
)
meta_app = typer.Typer(help="Meta: calls as leads by the Conversions API.", no_args_is_help=True)

SiteOpt = Annotated[str, typer.Option(help="The site's key (or id).")]
ApiOpt = Annotated[
    str | None, typer.Option("--api-url", help="Another API address (a proxy).", hidden=True)
]
PrivateOpt = Annotated[
    bool,
    typer.Option("--allow-private", help="Allow a private or loopback API address.", hidden=True),
]


@metrica_app.command("connect")
def metrica_connect(
    site: SiteOpt,
    counter: Annotated[str, typer.Option(help="The Metrica counter (tag) number.")],
    token: Annotated[str, typer.Option(help="An OAuth token with the metrika:write right.")],
    id_kind: Annotated[
        str,
        typer.Option("--id", help="client-id (the _ym_uid cookie) or yclid (Direct clicks)."),
    ] = "client-id",
    deal_goal: Annotated[
        str | None,
        typer.Option(help="A JavaScript-event goal's identifier for won deals (else none)."),
    ] = None,
    api_url: ApiOpt = None,
    allow_private: PrivateOpt = False,
) -> None:
    """Upload each ended call (once: Metrica has no dedup key) and, with --deal-goal, each
    won deal as an offline conversion."""
    _connect(
        site,
        lambda conn, row: platforms.add_metrica(
            conn, int(row["account_id"]), int(row["id"]), counter, token, time.time(),
            id_kind, deal_goal, api_url, allow_private,
        ),
    )  # fmt: skip


@ga4_app.command("connect")
def ga4_connect(
    site: SiteOpt,
    measurement_id: Annotated[str, typer.Option(help="The web data stream's id, G-….")],
    api_secret: Annotated[
        str, typer.Option(help="A Measurement Protocol API secret of that stream.")
    ],
    api_url: ApiOpt = None,
    allow_private: PrivateOpt = False,
) -> None:
    """Send each ended call as a `phone_call` event of the visit's GA client."""
    _connect(
        site,
        lambda conn, row: platforms.add_ga4(
            conn, int(row["account_id"]), int(row["id"]), measurement_id, api_secret,
            time.time(), api_url, allow_private,
        ),
    )  # fmt: skip


@meta_app.command("connect")
def meta_connect(
    site: SiteOpt,
    pixel: Annotated[str, typer.Option(help="The pixel (dataset) id.")],
    token: Annotated[str, typer.Option(help="A Conversions API access token.")],
    test_event_code: Annotated[
        str | None, typer.Option(help="Events Manager's test code (events show as tests).")
    ] = None,
    api_url: ApiOpt = None,
    allow_private: PrivateOpt = False,
) -> None:
    """Send each ended call as a `Lead` with action_source phone_call and the hashed
    caller number."""
    _connect(
        site,
        lambda conn, row: platforms.add_meta(
            conn, int(row["account_id"]), int(row["id"]), pixel, token, time.time(),
            test_event_code, api_url, allow_private,
        ),
    )  # fmt: skip


def _connect(site: str, add: Callable[[Any, dict[str, Any]], Added]) -> None:
    try:
        with transaction(open_engine()) as conn:
            row = site_row(conn, site)
            added = add(conn, row)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    dest = added.destination
    typer.echo(
        f"destination {dest['id']}: {dest['name']} for site {row['key']}\n"
        f"events: {dest['events'].replace(',', ', ')}\n"
        f"delivery log: callpath webhook log {dest['id']}"
    )
