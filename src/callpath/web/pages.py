"""Jinja2 environment shared by the HTML pages (autoescape on everywhere)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

env = Environment(
    loader=PackageLoader("callpath.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = env.get_template(template).render(request=request, **values)
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )
