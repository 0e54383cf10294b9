"""tracker.js with the site's settings baked in, lightly minified, cached per config."""

from __future__ import annotations

import gzip
import json
import re
from functools import lru_cache
from importlib.resources import files

from callpath.domain import phone
from callpath.domain.site import SiteConfig

PLACEHOLDER = "/*CONFIG*/{}"


@lru_cache(maxsize=1)
def source() -> str:
    return files("callpath.tracker").joinpath("tracker.js").read_text("utf-8")


def minify(js: str) -> str:
    """Drop comments, indentation and blank lines. The source is written so that this is
    safe: no line starts inside a string, and block comments never hold code."""
    js = re.sub(r"/\*(?!CONFIG\*/).*?\*/", "", js, flags=re.DOTALL)
    lines = (line.strip() for line in js.splitlines())
    return "\n".join(line for line in lines if line)


def config(site: SiteConfig, base_url: str) -> dict[str, object]:
    originals = [[phone.national_digits(n), phone.country_code(n)] for n in site.original_numbers]
    return {
        "k": site.key,
        "u": base_url,
        "n": originals,
        "p": site.pool.ping_interval,
        "i": site.pool.session_timeout,
    }


@lru_cache(maxsize=256)
def _render(config_json: str) -> str:
    safe = config_json.replace("<", "\\u003c").replace("\u2028", "\\u2028")
    return minify(source()).replace(PLACEHOLDER, safe, 1)


def render(site: SiteConfig, base_url: str) -> str:
    return _render(json.dumps(config(site, base_url), sort_keys=True))


def gzipped_size(js: str) -> int:
    return len(gzip.compress(js.encode("utf-8"), compresslevel=9))
