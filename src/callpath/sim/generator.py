"""Synthetic website traffic with calls, as a trace (docs/benchmark.md, version 1).

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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import TypeVar
from zoneinfo import ZoneInfo

from callpath.sim import call_behaviour, trace
from callpath.sim.draws import ip, landing, lognormal, pick
from callpath.sim.trace import Event, Header
from callpath.sim.traffic_model import (
    AFTER_CALL_CLOSE,
    BACK_AFTER_CALL,
    BACKGROUND,
    BACKGROUND_BACK,
    BACKGROUND_GAP,
    BOT_CLOSE,
    BOT_PAGES,
    BOT_SHARE,
    BOTS,
    BOUNCE,
    CHANNELS,
    CLOSE,
    DAY,
    DEVICES,
    DWELL,
    DWELL_SIGMA,
    HOME_NETS,
    HOUR,
    HOURLY,
    IDLE_TIME,
    IDLE_VISIBLE,
    LAST_DWELL_SIGMA,
    MINUTE,
    MOBILE_NETS,
    MORE_PAGES,
    OTHER_DEVICE,
    PAGES,
    QUARTER_IN_SESSION,
    RETURN_CHANNELS,
    RETURN_DELAY,
    RETURN_TRY,
    SITE,
    TALK,
    TAP,
    UAS,
    VPN_NETS,
    VPN_SHARE,
    WEEKEND,
)

T = TypeVar("T")
Progress = Callable[[int, int], None]


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
    kind = kind or pick(rng, DEVICES)
    return _Device(world.visitor_id(), kind, rng.choice(UAS[kind]), ip(rng, HOME_NETS))


def _returning(world: _World, t: float) -> _Person | None:
    """A person whose earlier session lies a return delay back, not seen in the last hour."""
    target = t - lognormal(world.rng, RETURN_DELAY)
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
        return ip(world.rng, VPN_NETS)
    return device.ip if device.kind == "desktop" else ip(world.rng, MOBILE_NETS)


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
        s.emit(s.now + lognormal(rng, BACKGROUND_GAP), "visible")
        s.now += _dwell(visit) / 2
    s.page(s.now, visit.device.visitor)
    return True


def _finish(visit: _Visit, ended_hidden: bool = False) -> None:
    """The end of a visit: `close`, or a tab left in the background or open."""
    s, rng, kind = visit.session, visit.session.world.rng, visit.device.kind
    if rng.random() < CLOSE[kind]:
        later = lognormal(rng, BACKGROUND_GAP) if ended_hidden else _dwell(visit, LAST_DWELL_SIGMA)
        s.emit(s.now + later, "close")
    elif not ended_hidden:
        s.now += _dwell(visit, LAST_DWELL_SIGMA)
        if kind == "desktop" and rng.random() < IDLE_VISIBLE:
            s.now += lognormal(rng, IDLE_TIME)
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
            s.emit(s.now + lognormal(rng, TALK) + rng.uniform(60, 900), "close")
        return
    if kind == "mobile":
        s.emit(s.now + lognormal(rng, TALK) + rng.uniform(1, 20), "visible")
    else:
        s.now += lognormal(rng, TALK) / 2
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
    rng = visit.session.world.rng
    return call_behaviour.plan_call(rng, visit.device.kind, visit.returning)


def _human_session(world: _World, t: float, person: _Person, returning: bool) -> None:
    rng = world.rng
    device = _device_for(world, person) if returning else person.devices[0]
    session = _Session(world, world.session_id(), t)
    visit = _Visit(person, device, session, returning)
    url, referrer = landing(rng, pick(rng, RETURN_CHANNELS if returning else CHANNELS))
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
    ua, net, _, ads = pick(rng, [(bot, bot[2]) for bot in BOTS])
    session, visitor = _Session(world, world.session_id(), t), world.visitor_id()
    ad_check = ads and rng.random() < 0.5
    url = landing(rng, "yandex_cpc")[0] if ad_check else SITE + rng.choice(PAGES)
    session.emit(t, "pageview", visitor=visitor, url=url, ua=ua, ip=ip(rng, (net,)))
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
    return call_behaviour.morning(world.rng, t, world.local(t))


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
    queue = sorted(world.calls, key=attrgetter("t"))
    for call in queue:  # the loop also visits repeats appended below
        phone = call.person.phone
        again = call_behaviour.call_again(
            world.rng, call.t, phone in world.callers, lambda t: _morning(world, t)
        )
        world.callers.add(phone)
        if again is None:
            continue
        t, same = again
        session = call.session if same else _latest_session(call.person, t)
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
    moment, tz = trace.start_time(start), trace.zone(timezone)  # TraceError: a ValueError
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
