"""Channel classification of a visit: utm tags, click ids, referrers, hostile input."""

from __future__ import annotations

import unicodedata

import pytest

from callpath.domain import channel_rules as rules
from callpath.domain.channel import (
    Channel,
    Landing,
    clean_value,
    parse_landing,
    referrer_channel,
)

PIZZA_RU = "\u043f\u0438\u0446\u0446\u0430"  # "pizza" in Russian, as Yandex users type it
DIRECT = Channel("(direct)", "(none)", None, None, None)


def organic(source: str, keyword: str | None = None) -> Channel:
    return Channel(source, "organic", None, keyword, None)


def social(source: str) -> Channel:
    return Channel(source, "social", None, None, None)


def email(source: str) -> Channel:
    return Channel(source, "email", None, None, None)


def referral(source: str) -> Channel:
    return Channel(source, "referral", None, None, None)


# --- referrers as browsers send them -------------------------------------------------


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("https://www.google.com/", organic("google")),
        ("https://www.google.co.uk/", organic("google")),
        ("https://www.google.com.ua/", organic("google")),
        ("https://www.google.de/", organic("google")),
        ("https://google.ru/", organic("google")),
        ("https://www.google.com.tr/", organic("google")),
        (
            "https://www.google.com/url?sa=t&rct=j&q=&esrc=s&source=web&cd=1"
            "&url=https%3A%2F%2Fexample.org%2F",
            organic("google"),
        ),
        ("https://www.google.com/url?q=https://example.org/&sa=U", organic("google")),
        ("https://www.google.com/search?q=pizza+near+me", organic("google", "pizza near me")),
        ("android-app://com.google.android.googlequicksearchbox/", organic("google")),
        (
            "android-app://com.google.android.googlequicksearchbox/https/www.google.com",
            organic("google"),
        ),
        ("https://yandex.ru/", organic("yandex")),
        ("https://ya.ru/", organic("yandex")),
        ("https://yandex.com/", organic("yandex")),
        ("https://yandex.kz/", organic("yandex")),
        ("https://yandex.com.tr/", organic("yandex")),
        (f"https://yandex.ru/search/?text={PIZZA_RU}&lr=213", organic("yandex", PIZZA_RU)),
        (
            "https://yandex.ru/search/?text=%D0%BF%D0%B8%D1%86%D1%86%D0%B0&lr=213",
            organic("yandex", PIZZA_RU),
        ),
        ("android-app://ru.yandex.searchplugin/", organic("yandex")),
        ("https://go.mail.ru/search?q=pizza", organic("mail.ru", "pizza")),
        ("https://duckduckgo.com/", organic("duckduckgo")),
        ("https://www.bing.com/search?q=pizza&form=QBLH", organic("bing", "pizza")),
        ("https://cn.bing.com/", organic("bing")),
        ("https://search.yahoo.com/search?p=pizza&fr=yfp-t", organic("yahoo", "pizza")),
        ("https://search.yahoo.co.jp/search?p=pizza", organic("yahoo", "pizza")),
        ("https://www.baidu.com/s?wd=pizza", organic("baidu", "pizza")),
        ("https://www.ecosia.org/search?method=index&q=pizza", organic("ecosia", "pizza")),
        ("https://nova.rambler.ru/search?query=pizza", organic("rambler", "pizza")),
        ("https://search.seznam.cz/?q=pizza", organic("seznam", "pizza")),
        ("https://search.naver.com/search.naver?query=pizza", organic("naver", "pizza")),
        ("https://search.brave.com/search?q=pizza", organic("brave", "pizza")),
    ],
)
def test_search_engine_referrers(referrer: str, expected: Channel) -> None:
    assert referrer_channel(referrer) == expected


@pytest.mark.parametrize(
    ("referrer", "source"),
    [
        ("https://l.facebook.com/", "facebook"),
        ("https://lm.facebook.com/l.php?u=https%3A%2F%2Fexample.org%2F&h=AT0xYz", "facebook"),
        ("https://m.facebook.com/", "facebook"),
        ("https://www.facebook.com/", "facebook"),
        ("https://l.instagram.com/?u=https%3A%2F%2Fexample.org%2F", "instagram"),
        ("https://www.instagram.com/", "instagram"),
        ("https://m.vk.com/", "vk"),
        ("https://away.vk.com/", "vk"),
        ("https://vk.com/away.php?to=https%3A%2F%2Fexample.org%2F", "vk"),
        ("https://vk.ru/", "vk"),
        ("https://ok.ru/", "ok"),
        ("https://m.ok.ru/", "ok"),
        ("https://t.co/AbCdEf", "twitter"),
        ("https://x.com/", "twitter"),
        ("https://twitter.com/", "twitter"),
        ("https://web.telegram.org/", "telegram"),
        ("https://t.me/some_channel/42", "telegram"),
        ("https://dzen.ru/", "dzen"),
        ("https://zen.yandex.ru/", "dzen"),
        ("https://www.youtube.com/", "youtube"),
        ("https://m.youtube.com/", "youtube"),
        ("https://out.reddit.com/", "reddit"),
        ("https://www.reddit.com/", "reddit"),
        ("https://www.linkedin.com/", "linkedin"),
        ("https://lnkd.in/abc", "linkedin"),
        ("https://www.tiktok.com/", "tiktok"),
        ("https://www.pinterest.com/", "pinterest"),
        ("https://www.pinterest.co.uk/", "pinterest"),
        ("https://web.whatsapp.com/", "whatsapp"),
        ("https://www.threads.net/", "threads"),
        ("android-app://org.telegram.messenger/", "telegram"),
        ("android-app://com.vkontakte.android/", "vk"),
        ("android-app://com.instagram.android/", "instagram"),
        ("android-app://com.facebook.katana/", "facebook"),
        ("android-app://com.twitter.android/", "twitter"),
        ("android-app://com.linkedin.android/", "linkedin"),
        ("android-app://com.zhiliaoapp.musically/", "tiktok"),
        ("android-app://com.google.android.youtube/", "youtube"),
        ("android-app://ru.ok.android/", "ok"),
    ],
)
def test_social_referrers(referrer: str, source: str) -> None:
    assert referrer_channel(referrer) == social(source)


@pytest.mark.parametrize(
    ("referrer", "source"),
    [
        ("https://mail.google.com/", "gmail"),
        ("android-app://com.google.android.gm/", "gmail"),
        ("https://e.mail.ru/", "mail.ru"),
        ("https://mail.yandex.ru/", "yandex"),
        ("https://mail.yandex.com/", "yandex"),
        ("https://outlook.live.com/", "outlook"),
        ("https://mail.yahoo.com/", "yahoo"),
    ],
)
def test_webmail_referrers(referrer: str, source: str) -> None:
    assert referrer_channel(referrer) == email(source)


@pytest.mark.parametrize(
    ("referrer", "source"),
    [
        ("https://www.example.org/blog/post?id=1", "example.org"),
        ("http://example.org:8080/", "example.org"),
        ("https://Blog.Example.ORG./", "blog.example.org"),
        ("https://user:pass@partner.example.net/", "partner.example.net"),
        ("https://xn--d1acpjx3f.xn--p1ai/", "xn--d1acpjx3f.xn--p1ai"),
        ("android-app://com.slack/", "com.slack"),
        ("android-app://com.example.SomeApp/", "com.example.someapp"),
    ],
)
def test_other_referrers_are_referrals(referrer: str, source: str) -> None:
    assert referrer_channel(referrer) == referral(source)


@pytest.mark.parametrize(
    ("referrer", "source"),
    [
        ("https://at.com/", "at.com"),
        ("https://t.com/", "t.com"),
        ("https://t.co.evil.com/", "t.co.evil.com"),
        ("https://box.com/", "box.com"),
        ("https://www.dropbox.com/", "dropbox.com"),
        ("https://book.ru/", "book.ru"),
        ("https://avk.com/", "avk.com"),
        ("https://google.evil.com/", "google.evil.com"),
        ("https://www.google.com.evil.com/", "google.com.evil.com"),
        ("https://evilgoogle.com/", "evilgoogle.com"),
        ("https://mygoogle.co.uk/", "mygoogle.co.uk"),
        ("https://google.co.evil/", "google.co.evil"),
        ("https://google.com.evil/", "google.com.evil"),
        ("https://google.xyz/", "google.xyz"),
        ("https://google.msk.ru/", "google.msk.ru"),
        ("https://www.google.shop/", "google.shop"),
        ("https://yandex.ru.evil.com/", "yandex.ru.evil.com"),
        ("https://notyandex.ru/", "notyandex.ru"),
        ("https://facebook.com.phish.io/", "facebook.com.phish.io"),
        ("http://google.com@evil.com/", "evil.com"),
        ("https://vk.com.evil.org/", "vk.com.evil.org"),
        ("https://mail.ru/", "mail.ru"),  # the portal, not its search or webmail
    ],
)
def test_no_false_matches(referrer: str, source: str) -> None:
    assert referrer_channel(referrer) == referral(source)


def test_suffix_match_respects_dot_boundary() -> None:
    assert referrer_channel("https://reddit.com/") == social("reddit")  # ends in "t.com"
    assert referrer_channel("https://www.dropbox.com/") == referral("dropbox.com")  # "x.com"


def test_most_specific_host_rule_wins() -> None:
    assert referrer_channel("https://mail.google.com/mail/u/0/") == email("gmail")
    assert referrer_channel("https://www.google.com/") == organic("google")
    assert referrer_channel("https://zen.yandex.ru/") == social("dzen")
    assert referrer_channel("https://e.mail.ru/inbox/") == email("mail.ru")
    assert referrer_channel("https://go.mail.ru/") == organic("mail.ru")


@pytest.mark.parametrize(
    "referrer",
    [
        "",
        "   ",
        "javascript:alert(1)",
        "about:blank",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "chrome-extension://abcdefgh/page.html",
        "ftp://google.com/",
        "not a url",
        "www.google.com",
        "http://",
        "https://[::1",
        "https://<script>/",
        "android-app://",
    ],
)
def test_unusable_referrers_give_none(referrer: str) -> None:
    assert referrer_channel(referrer) is None


def test_uppercase_scheme_and_host_and_trailing_dot() -> None:
    assert referrer_channel("HTTPS://WWW.GOOGLE.COM./") == organic("google")
    assert referrer_channel("  https://ya.ru/  ") == organic("yandex")


def test_keyword_is_cleaned_and_bounded() -> None:
    got = referrer_channel("https://www.bing.com/search?q=%00%20pizza%0A%20&q=other")
    assert got == organic("bing", "pizza")
    long = referrer_channel("https://www.bing.com/search?q=" + "a" * 1000)
    assert long is not None and long.keyword == "a" * 255


def test_keyword_param_is_case_insensitive() -> None:
    assert referrer_channel("https://yandex.ru/search/?TEXT=pizza") == organic("yandex", "pizza")


@pytest.mark.parametrize(
    ("referrer", "own_hosts"),
    [
        ("https://example.com/catalog", ["example.com"]),
        ("https://www.example.com/", ["example.com"]),
        ("https://shop.example.com/", ["example.com"]),
        ("https://example.com/", ["www.example.com"]),
        ("https://EXAMPLE.com./", ["Example.COM"]),
        ("https://example.com/", ["https://www.example.com:8443/path"]),
        ("https://www.google.com/", ["google.com"]),
    ],
)
def test_own_hosts_give_none(referrer: str, own_hosts: list[str]) -> None:
    assert referrer_channel(referrer, own_hosts=own_hosts) is None


def test_own_host_lookalikes_still_count() -> None:
    own = ["example.com"]
    assert referrer_channel("https://notexample.com/", own_hosts=own) == referral("notexample.com")
    assert referrer_channel("https://example.com.evil.io/", own_hosts=own) == referral(
        "example.com.evil.io"
    )


# --- landing: utm, click ids, precedence -------------------------------------------------


def test_full_utm_set() -> None:
    url = (
        "https://example.com/?utm_source=yandex&utm_medium=cpc&utm_campaign=spring"
        "&utm_term=pizza+delivery&utm_content=ad%201&x=1"
    )
    got = parse_landing(url, "https://www.google.com/")
    assert got == Landing(
        channel=Channel("yandex", "cpc", "spring", "pizza delivery", "ad 1"),
        utm={
            "source": "yandex",
            "medium": "cpc",
            "campaign": "spring",
            "term": "pizza delivery",
            "content": "ad 1",
        },
        click_ids={},
    )


def test_utm_keys_are_case_insensitive_values_as_given() -> None:
    got = parse_landing("https://example.com/?UTM_Source=VK&Utm_Medium=Social", None)
    assert got.channel == Channel("VK", "Social", None, None, None)
    assert got.utm == {"source": "VK", "medium": "Social"}


def test_utm_without_source_is_not_set() -> None:
    got = parse_landing("https://example.com/?utm_campaign=spring", "https://ya.ru/")
    assert got.channel == Channel("(not set)", "(not set)", "spring", None, None)


def test_click_id_fills_missing_utm_source() -> None:
    got = parse_landing("https://example.com/?utm_campaign=spring&gclid=Cj0KCQ", None)
    assert got.channel == Channel("google", "(not set)", "spring", None, None)
    assert got.click_ids == {"gclid": "Cj0KCQ"}


def test_utm_source_beats_click_id() -> None:
    got = parse_landing("https://example.com/?utm_source=newsletter&yclid=123", None)
    assert got.channel == Channel("newsletter", "(not set)", None, None, None)
    assert got.click_ids == {"yclid": "123"}


@pytest.mark.parametrize(
    ("param", "source", "medium"),
    [
        ("gclid", "google", "cpc"),
        ("gbraid", "google", "cpc"),
        ("wbraid", "google", "cpc"),
        ("dclid", "google", "cpc"),
        ("yclid", "yandex", "cpc"),
        ("ysclid", "yandex", "organic"),
        ("fbclid", "facebook", "social"),
        ("msclkid", "bing", "cpc"),
        ("ttclid", "tiktok", "cpc"),
        ("twclid", "twitter", "cpc"),
        ("li_fat_id", "linkedin", "cpc"),
        ("epik", "pinterest", "cpc"),
        ("rdt_cid", "reddit", "cpc"),
        ("srsltid", "google", "organic"),
    ],
)
def test_click_ids(param: str, source: str, medium: str) -> None:
    got = parse_landing(f"https://example.com/p?{param}=abc123", "https://example.org/")
    assert got.channel == Channel(source, medium, None, None, None)
    assert got.click_ids == {param: "abc123"}
    assert got.utm == {}


def test_paid_click_id_beats_fbclid_and_ysclid() -> None:
    got = parse_landing("https://example.com/?fbclid=f&ysclid=y&gclid=g", None)
    assert got.channel == Channel("google", "cpc", None, None, None)
    assert got.click_ids == {"gclid": "g", "fbclid": "f", "ysclid": "y"}


def test_click_id_beats_referrer() -> None:
    got = parse_landing("https://example.com/?yclid=42", "https://www.google.com/")
    assert got.channel == Channel("yandex", "cpc", None, None, None)


def test_click_id_keys_case_insensitive_first_value_wins_unknown_ignored() -> None:
    got = parse_landing("https://example.com/?GCLID=a&gclid=b&foo=c&_openstat=d", None)
    assert got.click_ids == {"gclid": "a"}


def test_referrer_used_without_utm_or_click_id() -> None:
    got = parse_landing("https://example.com/?page=2", f"https://yandex.ru/search/?text={PIZZA_RU}")
    assert got.channel == organic("yandex", PIZZA_RU)
    assert got.utm == {}
    assert got.click_ids == {}


def test_direct_without_anything() -> None:
    assert parse_landing("https://example.com/", None).channel == DIRECT
    assert parse_landing("https://example.com/", "").channel == DIRECT


def test_own_referrer_is_direct() -> None:
    got = parse_landing("https://example.com/b", "https://www.mysite.ru/a", own_hosts=["mysite.ru"])
    assert got.channel == DIRECT


def test_landing_host_counts_as_own() -> None:
    got = parse_landing("https://www.example.com/b", "https://example.com/a")
    assert got.channel == DIRECT
    other = parse_landing("https://www.example.com/b", "https://partner.org/a")
    assert other.channel == referral("partner.org")


def test_empty_utm_values_are_absent() -> None:
    got = parse_landing("https://example.com/?utm_source=&utm_medium=%20%20&gclid=", None)
    assert got.utm == {}
    assert got.click_ids == {}
    assert got.channel == DIRECT


def test_values_are_cleaned_and_truncated() -> None:
    url = "https://example.com/?utm_source=%20%00ya%07ndex%0A%20&utm_campaign=" + "c" * 300
    got = parse_landing(url, None)
    assert got.channel.source == "yandex"
    assert got.channel.campaign == "c" * 255
    assert got.utm["campaign"] == "c" * 255


def test_relative_landing_url() -> None:
    got = parse_landing("/promo?utm_source=flyer&utm_medium=offline", None)
    assert got.channel == Channel("flyer", "offline", None, None, None)


def test_clean_value() -> None:
    assert clean_value("  a\x00b\u2028c\t ") == "abc"
    assert clean_value(" \x00 ") is None
    assert clean_value("x" * 300) == "x" * 255
    assert clean_value(None) is None


# --- tables ---------------------------------------------------------------------------


def test_rule_tables_have_no_duplicate_patterns() -> None:
    hosts: list[str] = []
    apps: list[str] = []
    for _medium, table in rules.RULE_TABLES:
        for rule in table:
            hosts.extend(rule.hosts)
            apps.extend(rule.android_apps)
    assert len(hosts) == len(set(hosts))
    assert len(apps) == len(set(apps))
    assert all(h == h.lower() and not h.startswith("www.") for h in hosts)


# --- hostile input --------------------------------------------------------------------

GARBAGE = [
    "",
    " ",
    "\x00",
    "\x00\x01\x02\x1b[31m",
    "javascript:alert(document.cookie)",
    "data:text/html;base64,PHNjcmlwdD4=",
    "about:blank",
    "file:///etc/passwd",
    "chrome-extension://abcdef/page.html",
    "mailto:a@b.c",
    "http://",
    "https://",
    "http://[::1",
    "http://[",
    "http://]",
    "http://:80/",
    "http://a:b@",
    "https://google.com:99999999/",
    "https://google.com:abc/",
    "https://[fe80::1%25eth0]/",
    "http://google.com@evil.com/?utm_source=x",
    "http://%zz%/",
    "?utm_source=%ff%fe%fd&utm_medium=%c3%28",
    "?utm_source=%00%0a%0d&gclid=%e2%80%a8",
    "https://example.com/?" + "a=b&" * 5000,
    "https://example.com/?utm_source=" + "s" * 100_000,
    "x" * 200_000,
    "http://" + "a." * 300 + "com/",
    "\ud800",
    "http://\ud800.com/?utm_source=\udfff",
    "http://ex\x00ample.com/",
    "http://a\uff03b/",
    "https://\uff47oogle.com/",
    "http://\U0001f4a9.la/",
    "\U0001f4a9" * 1000,
    "android-app://",
    "android-app:///",
    "android-app://%%%/",
    "android-app://" + "p" * 1000,
    "//google.com",
    "\\\\server\\share",
    "http:\\\\google.com",
    "https://google.com/\r\n?utm_source=x",
    "https://-.-/",
    "https://..../",
    "https://.google.com/",
    "%",
    "&&&===",
    "?=&=&=",
    "?utm_source",
    "?%75tm_source=%20",
    "?utm_source=a&utm_source=b",
    "https://www.google.com/search?q=" + "\x07" * 300,
    "\u202e\u200b" * 100,
]


def _assert_sane(channel: Channel | None) -> None:
    if channel is None:
        return
    for value in (channel.source, channel.medium, channel.campaign, channel.keyword):
        if value is None:
            continue
        assert isinstance(value, str) and 0 < len(value) <= 255
        assert value == value.strip()
        assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value)


def test_garbage_never_raises_and_is_bounded() -> None:
    assert len(GARBAGE) >= 50
    for junk in GARBAGE:
        landing = parse_landing(junk, junk, own_hosts=[junk])
        _assert_sane(landing.channel)
        for mapping in (landing.utm, landing.click_ids):
            assert all(0 < len(v) <= 255 for v in mapping.values())
        _assert_sane(referrer_channel(junk))
        _assert_sane(referrer_channel(junk, own_hosts=[junk, "example.com"]))


def test_garbage_examples_give_exact_results() -> None:
    assert parse_landing("x" * 200_000, "x" * 200_000).channel == DIRECT
    got = parse_landing("https://example.com/?utm_source=" + "s" * 100_000, None)
    assert got.channel.source == "s" * 255
    assert referrer_channel("http://ex\x00ample.com/") is None
    assert referrer_channel("http://\ud800.com/") is None
    assert referrer_channel("https://google.com:99999999/") == organic("google")
