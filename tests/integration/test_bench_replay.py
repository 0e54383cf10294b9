"""`callpath bench replay`: a trace replayed through the real services, scored."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from callpath.cli import app
from callpath.sim import replay, score, trace

runner = CliRunner()
HEADER = {
    "type": "header",
    "version": 1,
    "start": "2026-03-02T00:00:00Z",
    "timezone": "Europe/Moscow",
    "site": "demo",
}
ADS = "https://shop.example/?utm_source=yandex&utm_medium=cpc&utm_term=pizza"
EVENTS = [
    {"t": 12.0, "type": "pageview", "session": "s1", "visitor": "v1", "url": ADS},
    {
        "t": 20.0,
        "type": "pageview",
        "session": "s2",
        "visitor": "v2",
        "url": "https://shop.example/",
        "referrer": "https://www.google.com/",
    },
    {
        "t": 40.5,
        "type": "pageview",
        "session": "s1",
        "visitor": "v1",
        "url": "https://shop.example/menu",
    },
    {"t": 95.0, "type": "tap", "session": "s1"},
    {"t": 96.0, "type": "hidden", "session": "s1"},
    {"t": 100.0, "type": "close", "session": "s2"},
    {"t": 130.0, "type": "call", "call": "c1", "session": "s1", "caller": "+79161234567"},
    {"t": 300.0, "type": "visible", "session": "s1"},
    {"t": 330.0, "type": "close", "session": "s1"},
    {"t": 86_400.0, "type": "call", "call": "c2", "session": "s1", "caller": "+79161234567"},
    {
        "t": 86_500.0,
        "type": "pageview",
        "session": "s3",
        "visitor": "bot",
        "url": "https://shop.example/",
        "ua": "Mozilla/5.0 (compatible; YandexBot/3.0)",
    },
]


def _write(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(e) for e in [HEADER, *events]) + "\n")
    return path


def test_replay_prints_the_score_and_writes_one_line_per_call(tmp_path: Path) -> None:
    source = _write(tmp_path / "t.jsonl", EVENTS)
    out = tmp_path / "calls.jsonl"
    result = runner.invoke(
        app, ["bench", "replay", str(source), "--pool-size", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "policy ours: 2 calls" in result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["call"] for line in lines] == ["c1", "c2"]
    assert lines[0]["session"] == "s1" and lines[0]["method"] == "pool"
    assert lines[1]["session"] == "s1" and lines[1]["method"] in ("caller_history", "fallback")
    assert set(lines[0]) == {"call", "session", "visitor", "confidence", "method"}


def test_a_trace_without_calls_says_so(tmp_path: Path) -> None:
    source = _write(tmp_path / "t.jsonl", [e for e in EVENTS if e["type"] != "call"])
    result = runner.invoke(app, ["bench", "replay", str(source), "--pool-size", "2"])
    assert result.exit_code == 0, result.output
    assert "no calls in the trace, nothing to score" in result.output
    assert "precision" not in result.output


def test_naive_reference_and_ours_on_the_same_trace(tmp_path: Path) -> None:
    header, events = trace.read(_write(tmp_path / "t.jsonl", EVENTS).read_text().splitlines())
    loaded = list(events)
    naive = score.summarize(replay.replay(header, loaded, 2, replay.POLICIES["naive"]))
    ours = score.summarize(replay.replay(header, loaded, 2, replay.POLICIES["ours"]))
    assert (naive.calls, ours.calls) == (2, 2)
    assert naive.correct == 0.5  # the call a day later: nobody holds the number any more
    assert ours.correct == 1.0  # the caller's history names the visit
    assert ours.repeat_calls == (1, 1.0)


def test_a_pool_too_small_leaves_visitors_on_the_default_number(tmp_path: Path) -> None:
    header, events = trace.read(_write(tmp_path / "t.jsonl", EVENTS).read_text().splitlines())
    results = replay.replay(header, list(events), 0, replay.POLICIES["ours"])
    assert [r.covered for r in results] == [False, False]
    assert all(not r.attributed for r in results)


def test_bad_traces_are_refused_with_the_line(tmp_path: Path) -> None:
    cases = {
        "no header": [json.dumps(EVENTS[0])],
        "unknown type": [
            json.dumps(HEADER),
            json.dumps({"t": 1, "type": "scroll", "session": "s"}),
        ],
        "unsorted": [json.dumps(HEADER), json.dumps(EVENTS[2]), json.dumps(EVENTS[0])],
        "not json": [json.dumps(HEADER), "{"],
    }
    header_cases = {
        "start": ({**HEADER, "start": "yesterday"}, "not an ISO-8601 time"),
        "old start": ({**HEADER, "start": "1970-01-01T00:00:00Z"}, "between 2000 and 2100"),
        "timezone": ({**HEADER, "timezone": "Mars/Base"}, "unknown timezone"),
        "zone path": ({**HEADER, "timezone": "../../etc/passwd"}, "unknown timezone"),
        "site": ({**HEADER, "site": "shop\u0000"}, "`site` must be printable"),
    }
    for name, (header, _) in header_cases.items():
        cases[name] = [json.dumps(header), json.dumps(EVENTS[0])]
    cases["far t"] = [json.dumps(HEADER), json.dumps({**EVENTS[0], "t": 1e12})]
    cases["same call id"] = [
        json.dumps(HEADER),
        *(
            json.dumps({**e, "call": "c1"}) if e["type"] == "call" else json.dumps(e)
            for e in EVENTS
        ),
    ]
    reasons = {name: reason for name, (_, reason) in header_cases.items()}
    reasons |= {"far t": "line 2: `t` puts the event past 2100", "same call id": "used twice"}
    for name, lines in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join(lines))
        result = runner.invoke(app, ["bench", "replay", str(path), "--pool-size", "1"])
        assert result.exit_code == 2, name
        assert "line" in result.output or "trace" in result.output, name
        assert reasons.get(name, "") in result.output, name
        assert "Traceback" not in result.output, name
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps(HEADER).encode() + b"\n\xff\n")
    result = runner.invoke(app, ["bench", "replay", str(latin), "--pool-size", "1"])
    assert result.exit_code == 2 and "not UTF-8" in result.output
    missing = runner.invoke(app, ["bench", "replay", str(tmp_path / "none"), "--pool-size", "1"])
    assert missing.exit_code == 2 and "cannot read" in missing.output
    bad_policy = runner.invoke(
        app, ["bench", "replay", str(path), "--pool-size", "1", "--policy", "magic"]
    )
    assert bad_policy.exit_code == 2


def test_a_byte_order_mark_and_pageviews_without_a_visitor_are_read(tmp_path: Path) -> None:
    """Traces from other tools: a UTF-8 BOM, CRLF lines, a later pageview that omits its
    visitor (it keeps the session's), a first one without any (a visitor of its own)."""
    events = [
        {"t": 1.0, "type": "pageview", "session": "s1", "visitor": "v1", "url": ADS},
        {"t": 5.0, "type": "pageview", "session": "s1", "url": "https://shop.example/menu"},
        {"t": 6.0, "type": "pageview", "session": "s2", "url": "https://shop.example/"},
        {"t": 60.0, "type": "call", "call": "c1", "session": "s1", "caller": "+79161234567"},
        {"t": 70.0, "type": "call", "call": "c2", "session": "s2", "caller": "+79161234568"},
    ]
    path = tmp_path / "bom.jsonl"
    text = "\r\n".join(json.dumps(e) for e in [HEADER, *events])
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    header, loaded = trace.load(path)
    assert [e.visitor for e in loaded if e.type == "pageview"] == ["v1", "v1", "~s2"]
    results = replay.replay(header, loaded, 2, replay.POLICIES["ours"])
    assert [(r.call, r.predicted, r.predicted_visitor) for r in results] == [
        ("c1", "s1", "v1"),
        ("c2", "s2", "~s2"),
    ]
