from datetime import date

import pytest

from gelombang import regions
from gelombang.nik import NIK_ERROR_CODES, NikError, ParsedNik, nik_last4, parse_nik

# 3275 = Kota Bekasi (Jawa Barat), 327501 = Bekasi Timur.
MALE = "3275011708900001"  # 17 Aug 1990
FEMALE = "3275015708900002"  # day 57 = 17 + 40
# str.isdigit() is true for these, so they are what a naive check would let through.
FULL_WIDTH = str.maketrans({str(d): chr(0xFF10 + d) for d in range(10)})
ARABIC_INDIC = str.maketrans({str(d): chr(0x0660 + d) for d in range(10)})


def error_code(nik: str) -> str:
    with pytest.raises(NikError) as caught:
        parse_nik(nik)
    assert caught.value.code in NIK_ERROR_CODES
    return caught.value.code


def test_male_nik_is_parsed_into_its_parts() -> None:
    parsed = parse_nik(MALE)
    assert parsed == ParsedNik(
        province_code="32",
        regency_code="3275",
        district_code="327501",
        gender="M",
        birth_day=17,
        birth_month=8,
        birth_year_2d=90,
        serial="0001",
    )
    assert parsed.birth_date_candidates() == [date(1990, 8, 17), date(2090, 8, 17)]
    assert parsed.matches_birth_date(date(1990, 8, 17))


def test_female_nik_has_40_added_to_the_day() -> None:
    parsed = parse_nik(FEMALE)
    assert parsed.gender == "F"
    assert (parsed.birth_day, parsed.birth_month, parsed.birth_year_2d) == (17, 8, 90)
    assert parsed.matches_birth_date(date(1990, 8, 17))


@pytest.mark.parametrize(
    ("ddmmyy", "day", "month"), [("410190", 1, 1), ("710190", 31, 1), ("700490", 30, 4)]
)
def test_women_days_41_to_71_map_back_to_1_to_31(ddmmyy: str, day: int, month: int) -> None:
    parsed = parse_nik(f"327501{ddmmyy}0001")
    assert (parsed.gender, parsed.birth_day, parsed.birth_month) == ("F", day, month)


@pytest.mark.parametrize(
    "ddmmyy",
    [
        "720190",  # 72 - 40 = 32
        "000190",  # day 0
        "400190",  # 40 is neither a man's day nor a woman's (40 - 40 = 0)
        "320190",  # 32 for a man
        "310490",  # 31 April
        "710490",  # 31 April, woman
        "310299",  # 31 February
        "011390",  # month 13
        "010090",  # month 0
        "290201",  # 29 Feb: neither 1901 nor 2001 is a leap year
    ],
)
def test_impossible_birth_dates_are_rejected(ddmmyy: str) -> None:
    assert error_code(f"327501{ddmmyy}0001") == "nik_date_invalid"


def test_29_february_00_is_valid_through_2000_although_1900_was_not_leap() -> None:
    parsed = parse_nik("3275012902000001")
    assert parsed.birth_date_candidates() == [date(2000, 2, 29)]


def test_29_february_in_a_19xx_leap_year_is_valid() -> None:
    assert parse_nik("3275016902960001").birth_date_candidates() == [
        date(1996, 2, 29),
        date(2096, 2, 29),
    ]


def test_matches_birth_date_compares_only_the_two_year_digits() -> None:
    parsed = parse_nik(MALE)
    assert parsed.matches_birth_date(date(2090, 8, 17))
    assert not parsed.matches_birth_date(date(1980, 8, 17))
    assert not parsed.matches_birth_date(date(1990, 8, 18))
    assert not parsed.matches_birth_date(date(1990, 9, 17))


def test_unknown_province() -> None:
    assert error_code("9975011708900001") == "nik_province_unknown"
    assert error_code("0075011708900001") == "nik_province_unknown"


def test_unknown_regency_inside_a_known_province() -> None:
    assert regions.is_province("32") and regions.regency_name("3299") is None
    assert error_code("3299011708900001") == "nik_regency_unknown"


def test_nik_issued_before_the_2022_papua_split_keeps_its_old_regency_code() -> None:
    # Merauke was 9101 until 2022 and is 9301 now; people keep the NIK they were issued.
    assert regions.regency_name("9101") is None
    assert regions.regency_name("9301") == "Kabupaten Merauke"
    assert parse_nik("9101011708900001").regency_code == "9101"
    assert parse_nik("9301011708900001").province_code == "93"
    assert error_code("9199011708900001") == "nik_regency_unknown"


def test_serial_0000_is_rejected() -> None:
    assert error_code("3275011708900000") == "nik_serial_zero"


@pytest.mark.parametrize(
    "nik",
    [
        "",
        "327501170890001",  # 15 digits
        "32750117089000011",  # 17 digits
        "3275-0117-0890-0001",
        "3275 0117 0890 0001",
        "327501170890000a",
        MALE.translate(FULL_WIDTH),  # what some Japanese/Chinese IMEs type
        MALE.translate(ARABIC_INDIC),
        "+275011708900001",
    ],
)
def test_anything_but_16_ascii_digits_is_a_format_error(nik: str) -> None:
    assert error_code(nik) == "nik_format"


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_nik(f"  {MALE}\n").serial == "0001"


def test_the_error_is_a_value_error_with_an_english_message() -> None:
    with pytest.raises(ValueError, match="16 digits"):
        parse_nik("123")


def test_last4() -> None:
    assert nik_last4(MALE) == "0001"
    assert nik_last4(f" {FEMALE} ") == "0002"
    assert parse_nik(FEMALE).last4 == "0002"
