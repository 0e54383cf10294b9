"""Parameters of the synthetic traffic model (values and sources: docs/traffic-model.md).

Times are seconds; a log-normal spec is (median, sigma, min, max).
"""

from __future__ import annotations

MINUTE = 60.0
HOUR = 3_600.0
DAY = 86_400.0

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
# Calibrated with REPEAT_QUICK on the naive policy alone (docs/traffic-model.md, section 8).
DELAY_CLASSES = (("in", 0.8343), ("quarter", 0.1272), ("day", 0.0245), ("days", 0.014))
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
REPEAT_QUICK = 0.79  # the repeat is a redial within minutes; else a follow-up hours+ later
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
