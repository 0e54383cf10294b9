"""Synthetic website traffic with calls, as a trace (TRACE.md v1).

The model and the source of every parameter are in docs/traffic-model.md. In short:
sessions arrive as a non-homogeneous Poisson process following a diurnal profile; each is a
bot (crawler, ad checker, headless scraper) or a person on a phone, tablet or computer who
arrives through a channel, bounces or reads a few pages (log-normal dwell times), sometimes
leaves the tab in the background, and mostly closes it at the end. People come back hours or
days later (often through another channel, now and then on another device); a few per cent
of sessions call, most of them within minutes, a tail hours or days later; some callers
call again. Everything is drawn from one `random.Random(seed)`: a seed gives one trace.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callpath.sim.trace import Event, Header

MINUTE = 60.0
HOUR = 3_600.0
DAY = 86_400.0
T = TypeVar("T")
Progress = Callable[[int, int], None]

# --- parameters (values and sources: docs/traffic-model.md) ---------------------------------
# Relative arrival rate by local hour 0..23 (normalised to mean 1 over the trace).
HOURLY = (
    *(0.45, 0.28, 0.17, 0.11, 0.09, 0.11, 0.20, 0.38, 0.60, 0.80, 0.95, 1.05),
    *(1.15, 1.15, 1.10, 1.05, 1.05, 1.10, 1.20, 1.30, 1.35, 1.30, 1.05, 0.75),
)
WEEKEND = 0.9  # Saturday and Sunday relative to weekdays
BOT_SHARE = 0.06  # of all sessions: bots that run the snippet
RETURN_TRY = 0.30  # of human sessions: a returning visitor (if one is found that far back)
RETURN_DELAY = (18 * HOUR, 1.2, 1 * HOUR, 21 * DAY)  # log-normal: median, sigma, min, max
OTHER_DEVICE = 0.10  # a return on another device: a new visitor id, the same person
DEVICES = (("mobile", 0.67), ("tablet", 0.03), ("desktop", 0.30))
VPN_SHARE = 0.04  # people whose address is a foreign VPN exit
BOUNCE = {"mobile": 0.50, "tablet": 0.45, "desktop": 0.40}
MORE_PAGES = 0.65  # after the second page, chance of one more (geometric page count)
DWELL = {"mobile": 20.0, "tablet": 28.0, "desktop": 35.0}  # median seconds between pages
DWELL_SIGMA = 1.0
LAST_DWELL_SIGMA = 1.2  # on the last page, before leaving (same median)
BACKGROUND = 0.10  # chance, at each page change, that the tab goes to the background first
BACKGROUND_GAP = (90.0, 1.5, 5.0, 6 * HOUR)  # log-normal: median, sigma, min, max
BACKGROUND_BACK = 0.70  # the tab comes back (`visible`); else the visit ends there
CLOSE = {"mobile": 0.55, "tablet": 0.65, "desktop": 0.85}  # `close` at the end
IDLE_VISIBLE = 0.35  # a desktop tab left open stays visible for a while, then `hidden`
IDLE_TIME = (15 * MINUTE, 1.0, MINUTE, 8 * HOUR)
CALL = {"mobile": 0.032, "tablet": 0.025, "desktop": 0.020}  # sessions that call
RETURNING_CALL = 1.5  # a returning visitor is this much likelier to call
# Delay of a first call from its session's start: <=15 min, 15-30 min, 30 min-24 h, >24 h.
DELAY_CLASSES = (("in", 0.82), ("quarter", 0.125), ("day", 0.035), ("days", 0.02))
IN_SESSION_DELAY = (100.0, 0.9, 8.0, 14.5 * MINUTE)
DAY_DELAY = (3 * HOUR, 1.2, 30 * MINUTE, 24 * HOUR)  # log-normal, like the others
DAYS_DELAY = (1.5 * DAY, 0.6, 1 * DAY, 10 * DAY)
QUARTER_IN_SESSION = 0.5  # a 15-30 min call made while still on the site
TAP = {"mobile": 0.80, "tablet": 0.10, "desktop": 0.10}  # in-session calls after a tel: tap
TALK = (150.0, 0.8, 10.0, 30 * MINUTE)
BACK_AFTER_CALL = {"mobile": 0.45, "tablet": 1.0, "desktop": 1.0}  # returns to the tab
AFTER_CALL_CLOSE = 0.2  # a phone user who does not come back closes the tab later
OPENING_HOUR, NIGHT_END = 9, 8  # delayed calls falling at night wait for the morning
REPEAT = 0.10  # a caller calls again
REPEAT_AGAIN = 0.30  # ... and again
REPEAT_QUICK = 0.70  # the repeat is a redial within minutes; else a follow-up hours+ later
REPEAT_QUICK_DELAY = (3 * MINUTE, 0.8, 20.0, 25 * MINUTE)
REPEAT_LATER_DELAY = (20 * HOUR, 1.0, 1 * HOUR, 7 * DAY)
REPEAT_SAME_NUMBER = 0.6  # a follow-up redials from the call log (the number seen first)
BOT_PAGES = 0.25  # a bot reads 2-4 pages; else one
BOT_CLOSE = 0.5  # headless browsers close the page; crawlers just stop

SITE = "https://shop.example"
PAGES = (
    *("/", "/menu", "/menu/pizza", "/menu/pizza/margherita", "/menu/pizza/pepperoni"),
    *("/menu/drinks", "/delivery", "/promo", "/contacts", "/about", "/reviews"),
)
LANDINGS = (("/", 40), ("/menu", 20), ("/menu/pizza", 15), ("/promo", 10), ("/delivery", 10))
TERMS = ("пицца", "доставка пиццы", "пицца на заказ", "пиццерия рядом", "пицца пепперони")
CHANNELS = (
    *(("yandex_cpc", 30), ("google_cpc", 5), ("yandex_organic", 22), ("google_organic", 8)),
    *(("vk", 6), ("telegram", 4), ("referral", 3), ("direct", 22)),
)
RETURN_CHANNELS = (
    *(("direct", 45), ("yandex_organic", 22), ("yandex_cpc", 15), ("google_organic", 5)),
    *(("vk", 5), ("telegram", 4), ("google_cpc", 2), ("referral", 2)),
)
REFERRALS = ("https://2gis.ru/moscow/firm/70000001", "https://zoon.ru/msk/restaurants/napoli/")
UAS = {
    "mobile": (
        "Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/133.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; 23053RN02Y) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/132.0.0.0 YaBrowser/25.2.1.82.00 SA/3 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 12; M2101K6G) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like "
        "Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.6 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 13; SM-T505) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/133.0.0.0 Safari/537.36",
    ),
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/133.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/132.0.0.0 YaBrowser/25.2.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/18.3 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:135.0) Gecko/20100101 Firefox/135.0",
    ),
}
BOTS = (  # user agent, address prefix, share, lands on ad URLs
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "5.255.253", 35, False),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/133.0.6943.53 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        "66.249.66",
        20,
        False,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/133.0.0.0 Safari/537.36",
        "34.88",
        25,
        True,
    ),
    (
        "Mozilla/5.0 (compatible; YandexDirect/3.0; +http://yandex.com/bots)",
        "213.180.203",
        10,
        True,
    ),
    (
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "40.77.167",
        5,
        False,
    ),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "54.36.148", 5, False),
)
MOBILE_NETS = ("178.176", "176.59", "85.140", "188.162", "31.173", "176.14", "213.87", "94.25")
HOME_NETS = ("95.31", "109.252", "5.18", "46.138", "91.79", "188.170")
VPN_NETS = ("185.220", "34.88")


# --- small random helpers ------------------------------------------------------------------------
def _lognormal(rng: random.Random, spec: tuple[float, float, float, float]) -> float:
    median, sigma, low, high = spec
    return min(high, max(low, rng.lognormvariate(math.log(median), sigma)))


def _pick(rng: random.Random, weighted: Sequence[tuple[T, float]]) -> T:
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for value, weight in weighted:
        x -= weight
        if x < 0:
            return value
    return weighted[-1][0]


def _ip(rng: random.Random, nets: Sequence[str]) -> str:
    """An address in one of the blocks (a /16 or a /24 prefix)."""
    prefix = rng.choice(nets).split(".")
    host = [str(rng.randrange(256)), str(rng.randrange(1, 255))]
    return ".".join(prefix + host[len(prefix) - 2 :])


# --- the world -----------------------------------------------------------------------------------
@dataclass(slots=True)
class _Device:
    visitor: str
    kind: str  # mobile | tablet | desktop
    ua: str
    ip: str  # the home address of a computer; phones get a carrier address per session


@dataclass(slots=True)
class _Person:
    phone: str
    devices: list[_Device]
    vpn: bool
    starts: list[float] = field(default_factory=list)  # their sessions' starts, in order
    sessions: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Call:
    t: float
    session: str
    person: _Person


@dataclass(slots=True)
class _Delayed:
    """A call decided in a session, placed once every session is known."""

    t: float
    person: _Person
    session: str
    start: float


class _World:
    def __init__(self, rng: random.Random, duration: float, start: datetime, tz: ZoneInfo):
        self.rng, self.duration, self.start, self.tz = rng, duration, start, tz
        self.events: list[Event] = []
        self.calls: list[_Call] = []
        self.delayed: list[_Delayed] = []
        self.history_starts: list[float] = []  # human session starts, in order
        self.history_people: list[_Person] = []
        self.phones: set[str] = set()
        self.callers: set[str] = set()  # people who called already (for repeats)
        self.sessions = self.visitors = 0

    def session_id(self) -> str:
        self.sessions += 1
        return f"s{self.sessions}"

    def visitor_id(self) -> str:
        self.visitors += 1
        return f"v{self.visitors}"

    def phone(self) -> str:
        while True:
            phone = f"+79{self.rng.randrange(10**9):09d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def local(self, t: float) -> datetime:
        return (self.start + timedelta(seconds=t)).astimezone(self.tz)


# --- arrivals ------------------------------------------------------------------------------------
def _hour_weights(world: _World) -> list[float]:
    """Relative arrival rate of each hour of the trace, with mean 1 over the trace."""
    hours = max(1, math.ceil(world.duration / HOUR))
    weights, cover = [], []
    for h in range(hours):
        local = world.local(h * HOUR + HOUR / 2)
        weekend = WEEKEND if local.weekday() >= 5 else 1.0
        weights.append(HOURLY[local.hour] * weekend)
        cover.append(min(HOUR, world.duration - h * HOUR) / HOUR)
    mean = sum(w * c for w, c in zip(weights, cover, strict=True)) / sum(cover)
    return [w / mean for w in weights]


def _arrivals(world: _World, visits_per_day: float) -> list[float]:
    """Session starts: a Poisson process whose rate is constant within each hour."""
    times: list[float] = []
    for h, weight in enumerate(_hour_weights(world)):
        rate = visits_per_day / DAY * weight
        t, end = h * HOUR, min(world.duration, (h + 1) * HOUR)
        while True:
            t += world.rng.expovariate(rate)
            if t >= end:
                break
            times.append(t)
    return times


# --- who arrives, from where ---------------------------------------------------------------------
def _new_device(world: _World, kind: str | None = None) -> _Device:
    rng = world.rng
    kind = kind or _pick(rng, DEVICES)
    return _Device(world.visitor_id(), kind, rng.choice(UAS[kind]), _ip(rng, HOME_NETS))


def _returning(world: _World, t: float) -> _Person | None:
    """A person whose earlier session lies a return delay back, not seen in the last hour."""
    target = t - _lognormal(world.rng, RETURN_DELAY)
    index = bisect_right(world.history_starts, target) - 1
    if target < 0 or index < 0:
        return None
    person = world.history_people[index]
    return person if person.starts[-1] < t - HOUR else None


def _device_for(world: _World, person: _Person) -> _Device:
    rng = world.rng
    if rng.random() >= OTHER_DEVICE:
        return rng.choice(person.devices)
    kind = "desktop" if person.devices[-1].kind != "desktop" else "mobile"
    device = _new_device(world, kind)
    person.devices.append(device)
    return device


def _session_ip(world: _World, person: _Person, device: _Device) -> str:
    if person.vpn:
        return _ip(world.rng, VPN_NETS)
    return device.ip if device.kind == "desktop" else _ip(world.rng, MOBILE_NETS)


def _click_id(rng: random.Random, size: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "".join(rng.choice(alphabet) for _ in range(size))


def _landing(rng: random.Random, channel: str) -> tuple[str, str | None]:
    """The landing URL (tags, click ids) and referrer of a channel."""
    url = SITE + _pick(rng, LANDINGS)
    term = quote(rng.choice(TERMS))
    if channel == "yandex_cpc":
        tags = f"utm_source=yandex&utm_medium=cpc&utm_campaign=pizza_msk&utm_term={term}"
        yclid = rng.randrange(10**17, 10**19)
        return f"{url}?{tags}&yclid={yclid}", "https://yandex.ru/" if rng.random() < 0.8 else None
    if channel == "google_cpc":
        return f"{url}?gclid={_click_id(rng, 40)}", "https://www.google.com/"
    if channel == "yandex_organic":
        clid = f"?ysclid={_click_id(rng, 10).lower()}" if rng.random() < 0.5 else ""
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


# --- one session ---------------------------------------------------------------------------------
@dataclass(slots=True)
class _Session:
    """Writes one session's events in order; `now` never goes back."""

    world: _World
    id: str
    now: float

    def emit(self, t: float, kind: str, **fields: str | None) -> None:
        self.now = max(self.now, t)
        self.world.events.append(Event(round(self.now, 3), kind, self.id, **fields))

    def page(self, t: float, visitor: str) -> None:
        self.emit(t, "pageview", visitor=visitor, url=SITE + self.world.rng.choice(PAGES))


@dataclass(slots=True)
class _Visit:
    person: _Person
    device: _Device
    session: _Session
    returning: bool


def _dwell(visit: _Visit, sigma: float = DWELL_SIGMA) -> float:
    median = DWELL[visit.device.kind]
    return min(30 * MINUTE, visit.session.world.rng.lognormvariate(math.log(median), sigma))


def _page_count(rng: random.Random, kind: str) -> int:
    if rng.random() < BOUNCE[kind]:
        return 1
    pages = 2
    while rng.random() < MORE_PAGES and pages < 40:
        pages += 1
    return pages


def _next_page(visit: _Visit) -> bool:
    """Dwell, maybe a spell in the background, then the next page; False if they left."""
    s, rng = visit.session, visit.session.world.rng
    s.now += _dwell(visit)
    if rng.random() < BACKGROUND:
        s.emit(s.now, "hidden")
        if rng.random() >= BACKGROUND_BACK:
            return False
        s.emit(s.now + _lognormal(rng, BACKGROUND_GAP), "visible")
        s.now += _dwell(visit) / 2
    s.page(s.now, visit.device.visitor)
    return True


def _finish(visit: _Visit, ended_hidden: bool = False) -> None:
    """The end of a visit: `close`, or a tab left in the background or open."""
    s, rng, kind = visit.session, visit.session.world.rng, visit.device.kind
    if rng.random() < CLOSE[kind]:
        later = _lognormal(rng, BACKGROUND_GAP) if ended_hidden else _dwell(visit, LAST_DWELL_SIGMA)
        s.emit(s.now + later, "close")
    elif not ended_hidden:
        s.now += _dwell(visit, LAST_DWELL_SIGMA)
        if kind == "desktop" and rng.random() < IDLE_VISIBLE:
            s.now += _lognormal(rng, IDLE_TIME)
        s.emit(s.now, "hidden")


def _browse(visit: _Visit, pages: int) -> None:
    for _ in range(pages - 1):
        if not _next_page(visit):
            _finish(visit, ended_hidden=True)
            return
    _finish(visit)


def _call_now(visit: _Visit) -> None:
    """A call made from the page: on a phone mostly a tap on the number, the dialler opens."""
    s, rng, kind = visit.session, visit.session.world.rng, visit.device.kind
    tapped = rng.random() < TAP[kind]
    if tapped:
        s.emit(s.now, "tap")
    if kind == "mobile":  # the dialler opens; others dial on a phone, the page stays visible
        s.emit(s.now + rng.uniform(0.3, 1.5), "hidden")
    s.now += rng.lognormvariate(math.log(4.0 if tapped else 15.0), 0.5)
    visit.session.world.calls.append(_Call(s.now, s.id, visit.person))


def _after_call(visit: _Visit) -> None:
    """Back on the page after the call (or not): a page or two, then the usual end."""
    s, rng, kind = visit.session, visit.session.world.rng, visit.device.kind
    if rng.random() >= BACK_AFTER_CALL[kind]:
        if rng.random() < AFTER_CALL_CLOSE:
            s.emit(s.now + _lognormal(rng, TALK) + rng.uniform(60, 900), "close")
        return
    if kind == "mobile":
        s.emit(s.now + _lognormal(rng, TALK) + rng.uniform(1, 20), "visible")
    else:
        s.now += _lognormal(rng, TALK) / 2
    _browse(visit, 1 + rng.choice((0, 0, 1, 2)))


def _call_in_session(visit: _Visit, delay: float) -> None:
    """A few pages (as many as a visit reads) before `delay` after the start, the call, then
    carry on or leave."""
    s, rng = visit.session, visit.session.world.rng
    due = s.now + delay
    pages = _page_count(rng, visit.device.kind) - 1
    for t in sorted(rng.uniform(s.now, due) for _ in range(pages)):
        s.page(t, visit.device.visitor)
    s.now = due
    _call_now(visit)
    _after_call(visit)


def _call_plan(visit: _Visit) -> tuple[str, float] | None:
    """Whether this session calls: its delay class and its delay from the start."""
    rng, kind = visit.session.world.rng, visit.device.kind
    chance = CALL[kind] * (RETURNING_CALL if visit.returning else 1.0)
    if rng.random() >= chance:
        return None
    klass = _pick(rng, DELAY_CLASSES)
    if klass == "in":
        return klass, _lognormal(rng, IN_SESSION_DELAY)
    if klass == "quarter":
        return klass, rng.uniform(15 * MINUTE, 30 * MINUTE)
    return klass, _lognormal(rng, DAY_DELAY if klass == "day" else DAYS_DELAY)


def _human_session(world: _World, t: float, person: _Person, returning: bool) -> None:
    rng = world.rng
    device = _device_for(world, person) if returning else person.devices[0]
    session = _Session(world, world.session_id(), t)
    visit = _Visit(person, device, session, returning)
    url, referrer = _landing(rng, _pick(rng, RETURN_CHANNELS if returning else CHANNELS))
    ip = _session_ip(world, person, device)
    first = {"url": url, "referrer": referrer, "ua": device.ua, "ip": ip}
    session.emit(t, "pageview", visitor=device.visitor, **first)
    person.starts.append(t)
    person.sessions.append(session.id)
    world.history_starts.append(t)
    world.history_people.append(person)
    plan = _call_plan(visit)
    in_session = plan is not None and (
        plan[0] == "in" or (plan[0] == "quarter" and rng.random() < QUARTER_IN_SESSION)
    )
    if plan is not None and in_session:
        _call_in_session(visit, plan[1])
        return
    _browse(visit, _page_count(rng, device.kind))
    if plan is not None:
        world.delayed.append(_Delayed(t + plan[1], person, session.id, t))


def _bot_session(world: _World, t: float) -> None:
    rng = world.rng
    ua, net, _, ads = _pick(rng, [(bot, bot[2]) for bot in BOTS])
    session, visitor = _Session(world, world.session_id(), t), world.visitor_id()
    ad_check = ads and rng.random() < 0.5
    url = _landing(rng, "yandex_cpc")[0] if ad_check else SITE + rng.choice(PAGES)
    session.emit(t, "pageview", visitor=visitor, url=url, ua=ua, ip=_ip(rng, (net,)))
    for _ in range(rng.randint(1, 3) if rng.random() < BOT_PAGES else 0):
        session.page(session.now + rng.uniform(0.5, 8.0), visitor)
    if "Headless" in ua and rng.random() < BOT_CLOSE:
        session.emit(session.now + rng.uniform(0.5, 5.0), "close")


def _session(world: _World, t: float) -> None:
    rng = world.rng
    if rng.random() < BOT_SHARE:
        _bot_session(world, t)
        return
    person = _returning(world, t) if rng.random() < RETURN_TRY else None
    if person is not None:
        _human_session(world, t, person, returning=True)
        return
    person = _Person(world.phone(), [_new_device(world)], rng.random() < VPN_SHARE)
    _human_session(world, t, person, returning=False)


# --- calls placed after the sessions -------------------------------------------------------------
def _morning(world: _World, t: float) -> float:
    """A delayed call that would fall at night is made after opening time instead."""
    local = world.local(t)
    if local.hour >= NIGHT_END:
        return t
    opening = local.replace(hour=OPENING_HOUR, minute=0, second=0, microsecond=0)
    shift = (opening - local).total_seconds()
    return t + shift + world.rng.uniform(0, 3 * HOUR)


def _latest_session(person: _Person, t: float) -> str:
    """The session that showed this person a number last before `t`."""
    return person.sessions[max(0, bisect_right(person.starts, t) - 1)]


def _place_delayed(world: _World) -> None:
    for call in world.delayed:
        t = call.t if call.t - call.start < 30 * MINUTE else _morning(world, call.t)
        if t < world.duration:
            world.calls.append(_Call(t, _latest_session(call.person, t), call.person))


def _repeats(world: _World) -> None:
    """Callers who call again: a quick redial, or a follow-up hours or days later."""
    rng = world.rng
    queue = sorted(world.calls, key=attrgetter("t"))
    for call in queue:  # the loop also visits repeats appended below
        phone = call.person.phone
        chance = REPEAT_AGAIN if phone in world.callers else REPEAT
        world.callers.add(phone)
        if rng.random() >= chance:
            continue
        if rng.random() < REPEAT_QUICK:
            t, session = call.t + _lognormal(rng, REPEAT_QUICK_DELAY), call.session
        else:
            t = _morning(world, call.t + _lognormal(rng, REPEAT_LATER_DELAY))
            latest = rng.random() >= REPEAT_SAME_NUMBER
            session = _latest_session(call.person, t) if latest else call.session
        if t < world.duration:
            queue.append(_Call(t, session, call.person))
    world.calls = queue


def _call_events(world: _World) -> None:
    world.calls.sort(key=attrgetter("t"))
    for number, call in enumerate(world.calls, start=1):
        world.events.append(
            Event(
                round(call.t, 3), "call", call.session, call=f"c{number}", caller=call.person.phone
            )
        )


# --- entry point ---------------------------------------------------------------------------------
def _parse_start(start: str) -> datetime:
    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"start must be an ISO-8601 time, got {start!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r}") from exc


def generate(
    visits_per_day: float,
    days: float,
    seed: int,
    start: str = "2026-03-02T00:00:00Z",
    site: str = "demo",
    timezone: str = "Europe/Moscow",
    *,
    progress: Progress | None = None,
) -> tuple[Header, list[Event]]:
    """A trace of about `visits_per_day * days` sessions; the same seed gives the same trace.

    `progress(done, total)` is told how many sessions are built, now and then.
    """
    if not (visits_per_day > 0 and math.isfinite(visits_per_day)):
        raise ValueError("visits_per_day must be a positive number")
    if not (days > 0 and math.isfinite(days)):
        raise ValueError("days must be a positive number")
    moment, tz = _parse_start(start), _zone(timezone)
    world = _World(random.Random(seed), days * DAY, moment, tz)
    arrivals = _arrivals(world, visits_per_day)
    for done, t in enumerate(arrivals, start=1):
        _session(world, t)
        if progress is not None and (done % 2000 == 0 or done == len(arrivals)):
            progress(done, len(arrivals))
    _place_delayed(world)
    _repeats(world)
    _call_events(world)
    events = sorted((e for e in world.events if e.t < world.duration), key=attrgetter("t"))
    iso = moment.isoformat().replace("+00:00", "Z")
    return Header(start=iso, timezone=timezone, site=site), events
