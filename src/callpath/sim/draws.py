"""Random draws of the traffic model: log-normal times, weighted picks, addresses, landing
URLs with their campaign tags and referrers."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import quote

from callpath.sim.traffic_model import LANDINGS, REFERRALS, SITE, TERMS

T = TypeVar("T")


# --- draws ------------------------------------------------------------------------
def lognormal(rng: random.Random, spec: tuple[float, float, float, float]) -> float:
    median, sigma, low, high = spec
    return min(high, max(low, rng.lognormvariate(math.log(median), sigma)))


def pick(rng: random.Random, weighted: Sequence[tuple[T, float]]) -> T:
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for value, weight in weighted:
        x -= weight
        if x < 0:
            return value
    return weighted[-1][0]


def ip(rng: random.Random, nets: Sequence[str]) -> str:
    """An address in one of the blocks (a /16 or a /24 prefix)."""
    prefix = rng.choice(nets).split(".")
    host = [str(rng.randrange(256)), str(rng.randrange(1, 255))]
    return ".".join(prefix + host[len(prefix) - 2 :])


def click_id(rng: random.Random, size: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "".join(rng.choice(alphabet) for _ in range(size))


def landing(rng: random.Random, channel: str) -> tuple[str, str | None]:
    """The landing URL (tags, click ids) and referrer of a channel."""
    url = SITE + pick(rng, LANDINGS)
    term = quote(rng.choice(TERMS))
    if channel == "yandex_cpc":
        tags = f"utm_source=yandex&utm_medium=cpc&utm_campaign=pizza_msk&utm_term={term}"
        yclid = rng.randrange(10**17, 10**19)
        return f"{url}?{tags}&yclid={yclid}", "https://yandex.ru/" if rng.random() < 0.8 else None
    if channel == "google_cpc":
        return f"{url}?gclid={click_id(rng, 40)}", "https://www.google.com/"
    if channel == "yandex_organic":
        clid = f"?ysclid={click_id(rng, 10).lower()}" if rng.random() < 0.5 else ""
        return url + clid, "https://yandex.ru/"
    if channel == "google_organic":
        return url, "https://www.google.com/"
    if channel == "vk":
        if rng.random() < 0.5:
            return f"{url}?utm_source=vk&utm_medium=social&utm_campaign=spring", None
        return url, "https://vk.com/"
    if channel == "telegram":
        return f"{url}?utm_source=telegram&utm_medium=social", None
    if channel == "referral":
        return url, rng.choice(REFERRALS)
    return url, None
