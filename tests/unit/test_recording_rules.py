"""Recording settings, the Twilio media URL and credentials, and how references are shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from callpath.services import recording_fetch as fetch
from callpath.services import recordings
from callpath.settings import SettingsError, load
from callpath.web import recording_view

SID = "AC" + "0" * 32
TWILIO = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Recordings/RE{'1' * 32}"


def test_settings_default_to_references_only() -> None:
    s = load({})
    assert s.recordings_dir is None and s.recordings_retention_days == 90
    assert recordings.config_of(s) is None


def test_settings_validated(tmp_path: Path) -> None:
    s = load({"CALLPATH_RECORDINGS_DIR": str(tmp_path), "CALLPATH_RECORDINGS_RETENTION_DAYS": "0"})
    config = recordings.config_of(s)
    assert config is not None and config.folder == tmp_path and config.retention_days == 0
    assert config.max_bytes == 200 * 1024 * 1024 and not config.allow_private
    (tmp_path / "file").write_text("x")
    for bad in (
        {"CALLPATH_RECORDINGS_DIR": "relative/dir"},
        {"CALLPATH_RECORDINGS_DIR": str(tmp_path / "file")},
        {"CALLPATH_RECORDINGS_RETENTION_DAYS": "-1"},
        {"CALLPATH_RECORDINGS_MAX_MB": "0"},
        {"CALLPATH_RECORDINGS_ALLOW_PRIVATE": "maybe"},
    ):
        with pytest.raises(SettingsError):
            load(bad)


def test_twilio_source_is_mp3_with_account_sid_and_token() -> None:
    source = fetch.source_for("twilio", TWILIO, "token")
    assert source == fetch.Source(TWILIO + ".mp3", (SID, "token"))
    assert fetch.source_for("twilio", TWILIO + ".wav", "t").url == TWILIO + ".wav"
    with pytest.raises(fetch.FetchError):
        fetch.source_for("twilio", "https://api.twilio.com/elsewhere", "t")
    assert fetch.source_for("generic", "https://pbx.example/r.mp3", "s").auth is None


def test_downloadable_and_scheme_refusal() -> None:
    assert not fetch.downloadable("zadarma", "zadarma:123")
    assert not fetch.downloadable("generic", "ftp://pbx.example/r.mp3")
    assert fetch.downloadable("generic", "https://pbx.example/r.mp3")
    with pytest.raises(fetch.FetchError, match="refused"):
        fetch.check_address("file:///etc/passwd", allow_private=True)
    for private in ("http://10.0.0.1/r", "http://[::1]/r", "http://169.254.169.254/latest"):
        with pytest.raises(fetch.FetchError, match="refused"):
            fetch.check_address(private, allow_private=False)


def test_backoff_doubles_to_a_ceiling() -> None:
    assert [recordings.backoff(n) for n in (1, 2, 3)] == [60.0, 120.0, 240.0]
    assert recordings.backoff(50) == recordings.MAX_BACKOFF


def test_references_are_linked_only_when_plain_https() -> None:
    assert recording_view.page_fields("https://pbx.example/r.mp3", None)["link"]
    twilio = recording_view.page_fields(TWILIO, None)
    assert twilio["link"] is None and "credentials" in twilio["note"]
    zadarma = recording_view.page_fields("zadarma:17.1", None)
    assert zadarma["link"] is None and "Zadarma" in zadarma["note"]
    assert recording_view.page_fields("http://pbx.example/r.mp3", None)["link"] is None
    assert recording_view.api_field(None, None) is None


def test_only_audio_types_are_served_inline() -> None:
    assert recording_view.playable_type("audio/mpeg") == "audio/mpeg"
    assert recording_view.playable_type("text/html") is None
