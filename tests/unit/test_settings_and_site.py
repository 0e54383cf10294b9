import pytest

from callpath.domain.pool import PoolSettings
from callpath.domain.site import SiteConfig, normalize_domain
from callpath.settings import SettingsError, load


def test_defaults_to_sqlite_under_var() -> None:
    assert load({}).database_url == "sqlite:///var/callpath.sqlite3"


def test_postgres_urls_get_the_psycopg_driver() -> None:
    assert load({"CALLPATH_DATABASE_URL": "postgresql://u@h/db"}).database_url == (
        "postgresql+psycopg://u@h/db"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CALLPATH_DATABASE_URL": "mysql://x"}, "CALLPATH_DATABASE_URL"),
        ({"CALLPATH_TRUSTED_PROXIES": "10.0.0.0/8,nonsense"}, "nonsense"),
        ({"CALLPATH_MAX_BODY_BYTES": "many"}, "whole number"),
        ({"CALLPATH_MAX_BODY_BYTES": "1"}, "outside"),
        ({"CALLPATH_COOKIE_SECURE": "maybe"}, "boolean"),
        ({"CALLPATH_PUBLIC_URL": "track.example.com/"}, "must start with https://"),
        ({"CALLPATH_PUBLIC_URL": "ftp://track.example.com"}, "must start with https://"),
        ({"CALLPATH_PUBLIC_URL": "https://"}, "must start with https://"),
        ({"CALLPATH_PUBLIC_URL": "https://[::1"}, "is not a URL"),
        ({"CALLPATH_PUBLIC_URL": "https://t.example:99999"}, "is not a URL"),
        ({"CALLPATH_PUBLIC_URL": "https://t.example/?a=1"}, "no query"),
    ],
)
def test_bad_settings_fail_loudly(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load(env)


def test_the_public_url_is_kept_without_its_trailing_slash() -> None:
    assert load({"CALLPATH_PUBLIC_URL": " https://track.example.com/ "}).public_url == (
        "https://track.example.com"
    )
    assert load({"CALLPATH_PUBLIC_URL": "http://10.0.0.5:8000/cp"}).public_url == (
        "http://10.0.0.5:8000/cp"
    )
    assert load({}).public_url is None


def _site(domains: tuple[str, ...] = (), excluded: tuple[str, ...] = ()) -> SiteConfig:
    return SiteConfig(1, 1, "k", "n", domains, "UTC", "RU", (), PoolSettings(), excluded, None, 0)


def test_origin_rules() -> None:
    assert _site().allows_origin(None)
    site = _site(("shop.example",))
    assert site.allows_origin("https://shop.example")
    assert site.allows_origin("https://m.shop.example:8443")
    assert not site.allows_origin("https://evilshop.example")
    assert not site.allows_origin("https://shop.example.evil.com")
    assert not site.allows_origin(None)


def test_channel_opt_out() -> None:
    site = _site(excluded=("organic", "vk/social"))
    assert not site.substitutes("google", "organic")
    assert not site.substitutes("vk", "social")
    assert site.substitutes("facebook", "social")
    assert _site().substitutes("google", "organic")  # all traffic by default


def test_domain_normalisation() -> None:
    assert normalize_domain("https://WWW.Shop.example/path") == "www.shop.example"
    for junk in ("", "localhost", "a..b", "http://"):
        with pytest.raises(ValueError):
            normalize_domain(junk)
