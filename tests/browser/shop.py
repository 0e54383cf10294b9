"""Helpers shared by the browser tests: the shop's pages, watching a tab, reading the DB."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

from playwright.sync_api import Page, Request, Response
from sqlalchemy import Engine, select

from callpath.storage import tables
from callpath.storage.tables import reservations, sessions, tracking_numbers
from tests.helpers import Seeded, ServerProcess, free_port

HOST = "www.shop.test"

ORIGINAL = "+74951096375"
# The original number as a shop writes it, keyed by the element id on the fixture page.
FORMATS = {
    "f-intl": "+7 (495) 109-63-75",
    "f-eight": "8 495 109 63 75",
    "f-compact8": "84951096375",
    "f-e164": "+74951096375",
}
UNTOUCHED = {  # where the original must stay as it is
    "script": "var shopPhone = '+74951096375';",
    "style": ".phone::after { content: '+7 (495) 109-63-75'; }",
    "textarea": "+7 (495) 109-63-75",
    "input": "84951096375",
}


def rendered(fmt_id: str, e164: str) -> str:
    """What a format on the page must read once `e164` (a +7 number) is shown."""
    assert e164.startswith("+7") and len(e164) == 12
    n = e164[2:]
    return {
        "f-intl": f"+7 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}",
        "f-eight": f"8 {n[:3]} {n[3:6]} {n[6:8]} {n[8:]}",
        "f-compact8": f"8{n}",
        "f-e164": e164,
    }[fmt_id]


def shop_page(snippet_src: str, head: str = "") -> str:
    """The fixture page: the number in every format, in places that must stay untouched,
    and a paragraph added by the page's own script one second after load."""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>{head}
<style id="style">{UNTOUCHED["style"]}</style>
<script id="script">{UNTOUCHED["script"]}</script>
</head><body>
<h1>Call us</h1>
<p id="f-intl">{FORMATS["f-intl"]}</p>
<p id="f-eight">{FORMATS["f-eight"]}</p>
<p id="f-compact8">{FORMATS["f-compact8"]}</p>
<p id="f-e164">{FORMATS["f-e164"]}</p>
<p><a id="tel" href="tel:+74951096375">Call now</a></p>
<textarea id="textarea">{UNTOUCHED["textarea"]}</textarea>
<input id="input" value="{UNTOUCHED["input"]}">
<div id="late-box"></div>
<script>
window.addEventListener("load", function () {{
  setTimeout(function () {{
    var p = document.createElement("p");
    p.id = "late";
    p.textContent = "Sales: +7 (495) 109-63-75";
    document.getElementById("late-box").appendChild(p);
  }}, 1000);
}});
</script>
<script async src="{snippet_src}"></script>
</body></html>"""


class HostSite:
    """A static HTTP server for the shop's own pages (HTML strings by path)."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, str]] = {}
        self.port = free_port()
        self.origin = f"http://{HOST}:{self.port}"
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                body, ctype = pages.get(path, ("not found", "text/plain"))
                data = body.encode("utf-8")
                self.send_response(200 if path in pages else 404)
                self.send_header("Content-Type", f"{ctype}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def add(self, path: str, body: str, ctype: str = "text/html") -> str:
        self.pages[path] = (body, ctype)
        return self.origin + path

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass
class Tab:
    """A page plus everything it reported: errors, console lines, tracker traffic."""

    page: Page
    errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def tracker_posts(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and r.url.endswith(f"/t/v1/{path}")]

    def body(self, request: Request) -> dict[str, Any]:
        return dict(json.loads(request.post_data or "{}"))

    def text(self, selector: str) -> str:
        return str(self.page.locator(selector).text_content())

    def wait_text(self, selector: str, expected: str, timeout: float = 10_000) -> None:
        self.page.wait_for_function(
            "([s, t]) => document.querySelector(s)?.textContent === t",
            arg=[selector, expected],
            timeout=timeout,
        )

    def own_errors(self) -> list[str]:
        """Console errors other than the browser's own network lines."""
        return [m for m in self.console_errors if not m.startswith("Failed to load resource")]


def watch(page: Page) -> Tab:
    tab = Tab(page)
    page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: tab.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on("request", lambda req: tab.requests.append(req) if "/t/v1/" in req.url else None)
    return tab


def is_session(r: Response) -> bool:
    return r.request.method == "POST" and r.url.endswith("/t/v1/session")


def snippet_src(server: ServerProcess, site: Seeded) -> str:
    return f"{server.url}/t/{site.key}.js"


def shop_url(host: HostSite, server: ServerProcess, site: Seeded, path: str = "/") -> str:
    return host.add(path, shop_page(snippet_src(server, site)))


def visit(tab: Tab, url: str, **goto: Any) -> dict[str, Any]:
    """Open `url` and return the JSON the server answered to the snippet's session call."""
    with tab.page.expect_response(is_session) as info:
        tab.page.goto(url, **goto)
    assert info.value.status == 200, info.value.text()
    return dict(info.value.json())


def session_row(engine: Engine, session_id: str) -> dict[str, Any]:
    s, n = sessions.c, tracking_numbers.c
    with engine.connect() as conn:
        row = conn.execute(
            select(
                s.id,
                s.visitor_id,
                s.left_at,
                s.number_reason,
                s.source,
                s.campaign,
                n.e164.label("e164"),
            )
            .select_from(sessions.outerjoin(tracking_numbers, n.id == s.number_id))
            .where(s.id == session_id)
        ).one()
    return dict(row._mapping)


def event_kinds(engine: Engine, site_id: int) -> list[str]:
    e = tables.session_events.c
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(select(e.kind).where(e.site_id == site_id))]


def session_events(engine: Engine, site_id: int) -> list[tuple[str | None, str]]:
    e = tables.session_events.c
    with engine.connect() as conn:
        rows = conn.execute(select(e.session_id, e.kind).where(e.site_id == site_id))
        return [(r[0], r[1]) for r in rows]


def reservation_until(engine: Engine, session_id: str) -> float:
    r = reservations.c
    with engine.connect() as conn:
        return float(
            conn.execute(
                select(r.until).where(r.session_id == session_id).order_by(r.id.desc()).limit(1)
            ).scalar_one()
        )


def wait_db(check: Any, timeout: float = 10.0) -> Any:
    """Poll `check()` until it returns something truthy (the server writes in its own
    process); returns that value, or the last falsy one after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def campaign_query(source: str, campaign: str, term: str) -> str:
    """A cpc landing query string with these (often hostile) utm values, URL-encoded."""
    tags = (
        ("utm_source", source),
        ("utm_medium", "cpc"),
        ("utm_campaign", campaign),
        ("utm_term", term),
    )
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in tags)
