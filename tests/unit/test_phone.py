import pytest

from callpath.domain import phone
from callpath.domain.phone import PhoneError, display, national_digits, to_e164


@pytest.mark.parametrize(
    "raw",
    ["+7 (495) 109-63-75", "8 495 109 63 75", "84951096375", "+74951096375", " 8(495)1096375 "],
)
def test_common_formats_parse_to_e164(raw: str) -> None:
    assert to_e164(raw) == "+74951096375"


def test_other_regions() -> None:
    assert to_e164("(044) 123 45 67", "UA") == "+380441234567"
    assert to_e164("+1 415-555-2671") == "+14155552671"


@pytest.mark.parametrize("raw", ["", "abc", "123", "+7 495 109", "8" * 50, "<script>"])
def test_invalid_numbers_are_refused_with_a_message(raw: str) -> None:
    with pytest.raises(PhoneError, match="phone number"):
        to_e164(raw)


def test_display_and_national() -> None:
    assert display("+74951112233") == "+7 495 111-22-33"
    assert national_digits("+74951112233") == "4951112233"


def test_region_of_a_number() -> None:
    assert phone.region_of("+79161234567") == "RU"
    assert phone.region_of("+77012345678") == "KZ"  # +7 is shared: the number decides
    assert phone.region_of("+4930123456") == "DE"
    assert phone.region_of("+999") is None
    assert phone.region_of("anonymous") is None
