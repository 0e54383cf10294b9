"""Places from a MaxMind-format city database (`services/geo.py`), written by the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from callpath.services import enrich, geo
from callpath.services.geo import NAME_MAX, NOWHERE, CityDb, Place, open_city_db, place_of
from callpath.settings import SettingsError, load
from callpath.storage.tables import sessions
from tests.helpers import LONDON, LONDON_IP, LONDON_NET, write_city_db

LONG = "Llanfair" * 50  # 400 characters
RECORDS: dict[str, object] = {
    LONDON_NET: LONDON,
    "2a02:6b8::/32": {
        "country": {"iso_code": "RU"},
        "subdivisions": [{"iso_code": "MOW", "names": {"en": "Moscow"}}],
        "city": {"names": {"en": "Moscow", "ru": "Москва"}},
    },
    "1.128.0.0/11": {"country": {"iso_code": "AU"}},  # no region, no city
    "5.6.7.0/24": {"country": {"iso_code": "de"}, "subdivisions": [{"iso_code": "BE"}]},
    "5.6.8.0/24": {
        "country": {"iso_code": "FR"},
        "subdivisions": [{"names": {"en": " Ile\x00de\tFrance "}}],
        "city": {"names": {"en": LONG}},
    },
    "5.6.9.0/24": {  # fields of the wrong kinds
        "country": {"iso_code": "FRA"},
        "subdivisions": {"names": {"en": "not a list"}},
        "city": {"names": {"en": ["London"]}},
    },
    "5.6.10.0/24": "not a record",
    "10.0.0.0/8": LONDON,  # private: never looked up
}


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_city_db(tmp_path_factory.mktemp("geo") / "city.mmdb", RECORDS)


@pytest.fixture
def city(db_path: Path) -> CityDb:
    return open_city_db(db_path)


def test_a_known_address_has_its_country_region_and_city(city: CityDb) -> None:
    assert city.place(LONDON_IP) == Place("GB", "England", "London")
    assert city.place(f"::ffff:{LONDON_IP}") == Place("GB", "England", "London")
    assert city.place("2a02:6b8::1") == Place("RU", "Moscow", "Moscow")


@pytest.mark.parametrize(
    "ip", ["10.1.2.3", "127.0.0.1", "192.168.0.1", "169.254.1.1", "::1", "fe80::1", "224.0.0.1"]
)
def test_private_loopback_and_reserved_addresses_are_nowhere(city: CityDb, ip: str) -> None:
    assert city.place(ip) is NOWHERE


@pytest.mark.parametrize("ip", [None, "", "not an ip", "81.2.69.999", "95.31.0.7", "2001:4860::8"])
def test_unknown_addresses_and_garbage_are_nowhere(city: CityDb, ip: str | None) -> None:
    assert city.place(ip) == NOWHERE


def test_missing_fields_are_none(city: CityDb) -> None:
    assert city.place("1.130.0.1") == Place("AU", None, None)
    assert city.place("5.6.7.1") == Place("DE", "BE", None)  # a region by its code
    assert city.place("5.6.9.1") == NOWHERE  # odd kinds of field: none of them
    assert city.place("5.6.10.1") == NOWHERE


def test_names_are_cleaned_and_cut_to_the_column(city: CityDb) -> None:
    got = city.place("5.6.8.1")
    assert got.region == "Ile de France"
    assert got.city == LONG[:NAME_MAX]
    for column in (sessions.c.region, sessions.c.city):
        assert column.type.length == NAME_MAX  # type: ignore[attr-defined]


def test_place_of_any_record() -> None:
    assert place_of(None) == NOWHERE
    assert place_of([LONDON]) == NOWHERE
    assert place_of({"city": {"names": {"en": "   "}}}) == NOWHERE
    assert place_of({"subdivisions": [], "city": {"names": {"de": "Köln"}}}) == NOWHERE


class _Reader:
    """Counts look-ups; raises `error` when given one."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error, self.asked = error, 0

    def get(self, ip: str) -> object:
        self.asked += 1
        if self.error is not None:
            raise self.error
        return LONDON


def test_places_are_cached_and_the_cache_is_bounded() -> None:
    reader = _Reader()
    city = CityDb(reader, cache_size=2)  # type: ignore[arg-type]
    for _ in range(3):
        assert city.place(LONDON_IP).city == "London"
    assert reader.asked == 1
    city.place("81.2.69.1")
    city.place("81.2.69.2")  # the first address leaves the cache
    city.place(LONDON_IP)
    assert reader.asked == 4


@pytest.mark.parametrize("error", [ValueError("IPv6 in an IPv4 file"), RuntimeError("corrupt")])
def test_a_failing_look_up_is_nowhere(error: Exception) -> None:
    assert CityDb(_Reader(error)).place(LONDON_IP) == NOWHERE  # type: ignore[arg-type]


def test_a_file_that_is_no_database_is_refused_with_the_variable_named(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"\x00" * 4096)
    with pytest.raises(SettingsError, match=r"CALLPATH_GEOIP_CITY_DB: .* not a MaxMind database"):
        open_city_db(junk)
    empty = tmp_path / "empty.mmdb"
    empty.touch()
    with pytest.raises(SettingsError, match="CALLPATH_GEOIP_CITY_DB"):
        open_city_db(empty)


def test_a_database_cut_short_is_refused(db_path: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mmdb"
    cut.write_bytes(db_path.read_bytes()[:200])
    with pytest.raises(SettingsError, match="CALLPATH_GEOIP_CITY_DB"):
        open_city_db(cut)


def test_a_damaged_search_tree_is_refused_when_opened(db_path: Path, tmp_path: Path) -> None:
    damaged = bytearray(db_path.read_bytes())
    damaged[:64] = b"\xff" * 64  # the first nodes point past the end of the tree
    path = tmp_path / "damaged.mmdb"
    path.write_bytes(bytes(damaged))
    with pytest.raises(SettingsError, match=r"CALLPATH_GEOIP_CITY_DB: .* is damaged"):
        open_city_db(path)


def test_settings_name_the_file(db_path: Path, tmp_path: Path) -> None:
    assert load({}).geoip_city_db is None
    assert load({"CALLPATH_GEOIP_CITY_DB": " "}).geoip_city_db is None
    assert load({"CALLPATH_GEOIP_CITY_DB": str(db_path)}).geoip_city_db == db_path
    with pytest.raises(SettingsError, match=r"CALLPATH_GEOIP_CITY_DB: .* does not exist"):
        load({"CALLPATH_GEOIP_CITY_DB": str(tmp_path / "missing.mmdb")})
    with pytest.raises(SettingsError, match=r"CALLPATH_GEOIP_CITY_DB: .* is not a file"):
        load({"CALLPATH_GEOIP_CITY_DB": str(tmp_path)})
    with pytest.raises(SettingsError, match=r"CALLPATH_GEOIP_CITY_DB: .* cannot be read"):
        load({"CALLPATH_GEOIP_CITY_DB": str(tmp_path / ("x" * 5000))})
    with pytest.raises(SettingsError, match="CALLPATH_GEOIP_CITY_DB"):
        load({"CALLPATH_GEOIP_CITY_DB": "city\x00.mmdb"})


def test_without_a_city_database_the_country_table_places_visits(db_path: Path) -> None:
    assert enrich.locator(None) is enrich.geo
    assert enrich.geo.place("95.31.0.7") == Place("RU")
    assert enrich.geo.place("127.0.0.1") is geo.NOWHERE
    assert isinstance(enrich.locator(db_path), CityDb)
