"""Data tables for classifying a website visit into a marketing channel.

Data only: the logic lives in :mod:`callpath.domain.channel`.

Host patterns are matched against the referrer's host on a dot boundary:
``"vk.com"`` matches ``vk.com`` and ``m.vk.com`` but never ``avk.com`` or
``vk.com.evil.org``.  A pattern ending in ``".*"`` (e.g. ``"google.*"``) stands
for the name followed by a country-style public suffix: a single two-letter
ccTLD (``google.de``), ``com`` (``google.com``), or ``co.<cc>`` / ``com.<cc>``
(``google.co.uk``, ``google.com.ua``).  ``google.evil.com`` does not match.

Android app referrers (``android-app://<package>/...``) are matched on the exact
package name.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

MEDIUM_ORGANIC: Final = "organic"
MEDIUM_SOCIAL: Final = "social"
MEDIUM_EMAIL: Final = "email"
MEDIUM_CPC: Final = "cpc"
MEDIUM_REFERRAL: Final = "referral"

WILDCARD_SUFFIX: Final = ".*"


class SourceRule(NamedTuple):
    """One known source: how to recognise it in a referrer."""

    source: str
    hosts: tuple[str, ...]
    keyword_params: tuple[str, ...] = ()
    android_apps: tuple[str, ...] = ()


SEARCH_ENGINES: Final[tuple[SourceRule, ...]] = (
    SourceRule(
        "google",
        ("google.*",),
        ("q",),
        ("com.google.android.googlequicksearchbox",),
    ),
    SourceRule(
        "yandex",
        ("yandex.*", "ya.ru"),
        ("text",),
        ("ru.yandex.searchplugin", "com.yandex.searchapp", "ru.yandex.mobile.search"),
    ),
    SourceRule("bing", ("bing.com",), ("q",), ("com.microsoft.bing",)),
    SourceRule("duckduckgo", ("duckduckgo.com",), ("q",), ("com.duckduckgo.mobile.android",)),
    SourceRule("mail.ru", ("go.mail.ru",), ("q",)),
    SourceRule("yahoo", ("yahoo.*",), ("p",)),
    SourceRule("baidu", ("baidu.com",), ("wd", "word")),
    SourceRule("ecosia", ("ecosia.org",), ("q",)),
    SourceRule("rambler", ("rambler.ru",), ("query",)),
    SourceRule("seznam", ("seznam.cz",), ("q",)),
    SourceRule("naver", ("naver.com",), ("query",)),
    SourceRule("startpage", ("startpage.com",), ("query",)),
    SourceRule("qwant", ("qwant.com",), ("q",)),
    SourceRule("brave", ("search.brave.com",), ("q",)),
    SourceRule("sogou", ("sogou.com",), ("query",)),
    SourceRule("so.com", ("so.com",), ("q",)),
    SourceRule("ask", ("ask.com",), ("q",)),
    SourceRule("aol", ("search.aol.com",), ("q",)),
    SourceRule("petal", ("petalsearch.com",), ("query",)),
)

SOCIAL_NETWORKS: Final[tuple[SourceRule, ...]] = (
    SourceRule("vk", ("vk.com", "vk.ru", "vkontakte.ru", "vk.me"), (), ("com.vkontakte.android",)),
    SourceRule("ok", ("ok.ru", "odnoklassniki.ru"), (), ("ru.ok.android",)),
    SourceRule(
        "telegram",
        ("t.me", "telegram.me", "telegram.org", "telegram.dog"),
        (),
        ("org.telegram.messenger", "org.telegram.messenger.web", "org.thunderdog.challegram"),
    ),
    SourceRule(
        "facebook",
        ("facebook.com", "fb.com", "fb.me", "messenger.com"),
        (),
        ("com.facebook.katana", "com.facebook.lite", "com.facebook.orca"),
    ),
    SourceRule("instagram", ("instagram.com",), (), ("com.instagram.android",)),
    SourceRule(
        "tiktok",
        ("tiktok.com",),
        (),
        ("com.zhiliaoapp.musically", "com.ss.android.ugc.trill"),
    ),
    SourceRule("youtube", ("youtube.com", "youtu.be"), (), ("com.google.android.youtube",)),
    SourceRule("twitter", ("twitter.com", "x.com", "t.co"), (), ("com.twitter.android",)),
    SourceRule("linkedin", ("linkedin.com", "lnkd.in"), (), ("com.linkedin.android",)),
    SourceRule("pinterest", ("pinterest.*", "pin.it"), (), ("com.pinterest",)),
    SourceRule("reddit", ("reddit.com", "redd.it"), (), ("com.reddit.frontpage",)),
    SourceRule("dzen", ("dzen.ru", "zen.yandex.ru", "zen.yandex.com"), (), ("ru.zen.android",)),
    SourceRule(
        "whatsapp",
        ("whatsapp.com", "wa.me"),
        (),
        ("com.whatsapp", "com.whatsapp.w4b"),
    ),
    SourceRule("viber", ("viber.com",), (), ("com.viber.voip",)),
    SourceRule("threads", ("threads.net", "threads.com"), (), ("com.instagram.barcelona",)),
    SourceRule("snapchat", ("snapchat.com",), (), ("com.snapchat.android",)),
    SourceRule("discord", ("discord.com", "discord.gg", "discordapp.com"), (), ("com.discord",)),
    SourceRule("tumblr", ("tumblr.com",), (), ("com.tumblr",)),
    SourceRule("quora", ("quora.com",), (), ("com.quora.android",)),
    SourceRule("bluesky", ("bsky.app",), (), ("xyz.blueskyweb.app",)),
    SourceRule("pikabu", ("pikabu.ru",), (), ("ru.pikabu.android",)),
    SourceRule("livejournal", ("livejournal.com",)),
    SourceRule("moimir", ("my.mail.ru",)),
)

WEBMAIL: Final[tuple[SourceRule, ...]] = (
    SourceRule("gmail", ("mail.google.com",), (), ("com.google.android.gm",)),
    SourceRule(
        "mail.ru",
        ("e.mail.ru", "touch.mail.ru", "octavius.mail.ru"),
        (),
        ("ru.mail.mailapp",),
    ),
    SourceRule("yandex", ("mail.yandex.*",), (), ("ru.yandex.mail",)),
    SourceRule(
        "outlook",
        ("outlook.live.com", "outlook.office.com", "outlook.office365.com"),
        (),
        ("com.microsoft.office.outlook",),
    ),
    SourceRule("yahoo", ("mail.yahoo.com",), (), ("com.yahoo.mobile.client.android.mail",)),
    SourceRule("rambler", ("mail.rambler.ru",)),
    SourceRule("aol", ("mail.aol.com",)),
    SourceRule("proton", ("mail.proton.me",), (), ("ch.protonmail.android",)),
)

# Medium given to every rule of each table.
RULE_TABLES: Final[tuple[tuple[str, tuple[SourceRule, ...]], ...]] = (
    (MEDIUM_ORGANIC, SEARCH_ENGINES),
    (MEDIUM_SOCIAL, SOCIAL_NETWORKS),
    (MEDIUM_EMAIL, WEBMAIL),
)

# Click-id query parameter -> (source, medium).  Checked in this order.
CLICK_IDS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "gclid": ("google", MEDIUM_CPC),
        "gbraid": ("google", MEDIUM_CPC),
        "wbraid": ("google", MEDIUM_CPC),
        "dclid": ("google", MEDIUM_CPC),
        "yclid": ("yandex", MEDIUM_CPC),
        "msclkid": ("bing", MEDIUM_CPC),
        "ttclid": ("tiktok", MEDIUM_CPC),
        "twclid": ("twitter", MEDIUM_CPC),
        "li_fat_id": ("linkedin", MEDIUM_CPC),
        "epik": ("pinterest", MEDIUM_CPC),
        "rdt_cid": ("reddit", MEDIUM_CPC),
        # Added by Facebook/Instagram to every outbound link, paid or not.
        "fbclid": ("facebook", MEDIUM_SOCIAL),
        # Added by Yandex to organic search results (not ads).
        "ysclid": ("yandex", MEDIUM_ORGANIC),
        # Google Merchant Center auto-tagging on organic (free) listings.
        "srsltid": ("google", MEDIUM_ORGANIC),
    }
)

UTM_KEYS: Final[tuple[str, ...]] = ("source", "medium", "campaign", "term", "content")

# Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt, Unicode 15.1):
# characters that render as nothing (zero-width spaces and joiners, soft hyphen, bidi
# marks and embeddings, variation selectors, Hangul fillers, tag characters).  Kept in a
# utm value they make "c\u200bpc" look like "cpc" and never match it.
IGNORABLE_RANGES: Final[tuple[tuple[int, int], ...]] = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
