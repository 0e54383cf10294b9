import ipaddress

from callpath.services.enrich import client_ids, client_ip, geo, parse_user_agent

PROXY = (ipaddress.ip_network("10.0.0.0/8"),)


def test_forwarded_for_is_ignored_from_untrusted_peers() -> None:
    assert client_ip("203.0.113.9", "1.2.3.4", PROXY) == "203.0.113.9"


def test_forwarded_for_from_trusted_proxy_gives_rightmost_untrusted_hop() -> None:
    # The client forged "1.2.3.4"; the proxy appended the real address 95.31.0.7.
    assert client_ip("10.0.0.2", "1.2.3.4, 95.31.0.7", PROXY) == "95.31.0.7"
    assert client_ip("10.0.0.2", "95.31.0.7, 10.0.0.5", PROXY) == "95.31.0.7"
    assert client_ip("10.0.0.2", "garbage", PROXY) == "10.0.0.2"


def test_country_from_the_shipped_database() -> None:
    assert geo.country("95.31.0.7") == "RU"
    assert geo.country("127.0.0.1") is None
    assert geo.country("not an ip") is None


def test_device_classes() -> None:
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    ipad = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
    desktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
    bot = "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"
    assert parse_user_agent(iphone).device == "mobile"
    assert parse_user_agent(ipad).device == "tablet"
    d = parse_user_agent(desktop)
    assert (d.device, d.browser, d.os) == ("desktop", "Chrome", "Windows")
    assert parse_user_agent(bot).device == "bot"


def test_client_ids_only_when_well_formed() -> None:
    assert client_ids("GA1.1.123456.1700000000", "17000001") == {
        "ga": "123456.1700000000",
        "ym": "17000001",
    }
    assert client_ids("<script>", "x1") == {}
    assert client_ids(None, 5) == {}
