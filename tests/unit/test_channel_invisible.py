"""Channel values are stored as they read: characters that show nothing (zero-width,
bidi controls, soft hyphens, tags) are dropped and the rest is NFKC-normalised, so a
filter for "cpc" finds a visit tagged with a disguised "cpc"."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from callpath.domain.channel import Channel, clean_value, parse_landing, referrer_channel

INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202a",  # left-to-right embedding
    "\u202b",
    "\u202c",  # pop directional formatting
    "\u202d",
    "\u202e",  # right-to-left override
    "\u2060",  # word joiner
    "\u2061",
    "\u2062",
    "\u2063",
    "\u2064",
    "\u2066",  # left-to-right isolate
    "\u2067",
    "\u2068",
    "\u2069",  # pop directional isolate
    "\ufeff",  # byte order mark
    "\u00ad",  # soft hyphen
    "\u061c",  # Arabic letter mark
    "\u180e",  # Mongolian vowel separator
    "\u034f",  # combining grapheme joiner
    "\ufe0f",  # variation selector 16
    "\u3164",  # Hangul filler
    "\U000e0063",  # tag letter c
]


@pytest.mark.parametrize("mark", INVISIBLE, ids=[f"U+{ord(m):04X}" for m in INVISIBLE])
def test_an_invisible_character_anywhere_in_a_value_is_dropped(mark: str) -> None:
    assert clean_value(f"c{mark}pc") == "cpc"
    assert clean_value(f"{mark}yandex{mark}") == "yandex"
    assert clean_value(mark * 3) is None


def test_the_issues_examples_are_stored_plain() -> None:
    url = "https://shop.example/?utm_medium=c%E2%80%8Bpc&utm_source=%E2%80%AEyandex"
    landing = parse_landing(url, None)
    assert landing.utm == {"source": "yandex", "medium": "cpc"}
    assert (landing.channel.source, landing.channel.medium) == ("yandex", "cpc")


def test_every_channel_field_is_cleaned() -> None:
    tagged = {
        "utm_source": "\u202eyandex",
        "utm_medium": "c\u00adpc",
        "utm_campaign": "spr\u2066ing\u2069",
        "utm_term": "piz\ufeffza",
        "utm_content": "\u200dbanner",
    }
    query = "&".join(f"{k}={quote(v)}" for k, v in tagged.items())
    got = parse_landing(f"https://shop.example/?{query}", None).channel
    assert got == Channel("yandex", "cpc", "spring", "pizza", "banner")


def test_a_search_keyword_from_the_referrer_is_cleaned() -> None:
    got = referrer_channel("https://yandex.ru/search/?text=" + quote("\u200bpiz\u202eza"))
    assert got == Channel("yandex", "organic", None, "pizza", None)


def test_a_disguised_parameter_name_still_counts() -> None:
    landing = parse_landing("https://shop.example/?utm_%E2%80%8Bmedium=cpc", None)
    assert landing.utm == {"medium": "cpc"}


def test_a_referrer_host_with_invisible_characters_is_the_plain_host() -> None:
    """As browsers map a host name (UTS #46): ignorable characters go, full-width letters
    and dots read as ASCII."""
    assert referrer_channel("https://ya\u00ad.ru/") == Channel(
        "yandex", "organic", None, None, None
    )
    fullwidth = referrer_channel("https://\uff56\uff4b\uff0e\uff43\uff4f\uff4d/")
    assert fullwidth == Channel("vk", "social", None, None, None)
    assert referrer_channel("https://ex\u200bample.org/") == Channel(
        "example.org", "referral", None, None, None
    )


def test_compatibility_forms_read_as_their_plain_letters() -> None:
    """NFKC: full-width Latin (as East Asian input methods type it), ligatures and
    no-break spaces; a decomposed Cyrillic letter is composed."""
    assert clean_value("\uff43\uff50\uff43") == "cpc"
    assert clean_value("\ufb01nance") == "finance"
    assert clean_value("\u00a0cpc\u00a0") == "cpc"
    assert clean_value("\u0438\u0306") == "\u0439"


def test_visible_text_is_kept_as_it_was() -> None:
    for value in ("cpc", "Spring Sale", "\u043f\u0438\u0446\u0446\u0430", "\u5317\u4eac", "a/b"):
        assert clean_value(value) == value
