"""The AMI block parser on what a socket may deliver: split reads, CRLF or LF, garbage."""

from __future__ import annotations

import random

from callpath.telephony.asterisk import ami


def test_blocks_split_anywhere_are_the_same() -> None:
    data = (
        b"Asterisk Call Manager/5.0.2\r\n"
        b"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n"
        b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
    )
    whole = ami.BlockParser().feed(data)
    assert whole == [
        {"Response": "Success", "ActionID": "1", "Message": "Authentication accepted"},
        {"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"},
    ]
    rng = random.Random(5)
    for _ in range(50):
        parser, got, i = ami.BlockParser(), [], 0
        while i < len(data):
            step = rng.randint(1, 7)
            got += parser.feed(data[i : i + step])
            i += step
        assert got == whole


def test_values_keep_colons_and_lf_only_lines_work() -> None:
    got = ami.BlockParser().feed(b"Event: VarSet\nValue: sip:101@pbx:5060\n\n")
    assert got == [{"Event": "VarSet", "Value": "sip:101@pbx:5060"}]


def test_a_missing_blank_line_starts_the_next_block() -> None:
    got = ami.BlockParser().feed(b"Event: A\r\nUniqueid: 1\r\nEvent: B\r\nUniqueid: 2\r\n\r\n")
    assert got == [{"Event": "A", "Uniqueid": "1"}, {"Event": "B", "Uniqueid": "2"}]


def test_huge_lines_are_dropped_and_memory_stays_bounded() -> None:
    parser = ami.BlockParser(max_line=1024)
    for _ in range(100):
        assert parser.feed(b"X" * 65536) == []
    assert len(parser._partial) <= 1024
    got = parser.feed(b"\r\nEvent: Hangup\r\nUniqueid: 9\r\n\r\n")
    assert got == [{"Event": "Hangup", "Uniqueid": "9"}]


def test_endless_fields_without_blank_lines_are_capped() -> None:
    parser = ami.BlockParser(max_fields=64)
    for i in range(10_000):
        parser.feed(f"Field{i}: value\r\n".encode())
    assert len(parser._block) <= 64


def test_binary_garbage_never_raises() -> None:
    rng = random.Random(7)
    parser = ami.BlockParser()
    for _ in range(300):
        for block in parser.feed(rng.randbytes(rng.randint(0, 4096))):
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in block.items())
    assert len(parser._partial) <= ami.MAX_LINE


def test_actions_cannot_smuggle_lines() -> None:
    sent = ami.encode("Login", {"Username": "u", "Secret": "s\r\nAction: Originate"})
    assert sent == b"Action: Login\r\nUsername: u\r\nSecret: sAction: Originate\r\n\r\n"
