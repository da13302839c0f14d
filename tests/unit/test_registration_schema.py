from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from gelombang import regions
from services.registration.schemas import (
    ERROR_CODES,
    RegistrationRequest,
    eighteenth_birthday,
)
from tests.citizens import valid_payload

# Opening day of Kartu Prakerja wave 1.
TODAY = date(2020, 4, 11)

Payload = dict[str, Any]


def nik_for(born: date, gender: str = "M", region: str = "327501", serial: str = "0001") -> str:
    day = born.day + (40 if gender == "F" else 0)
    return f"{region}{day:02d}{born.month:02d}{born.year % 100:02d}{serial}"


@pytest.fixture
def payload() -> Callable[..., Payload]:
    """A consistent valid request (a man from Kota Bekasi, Jawa Barat); overrides by keyword."""
    assert regions.regency_in_province("3275", "32")

    def make(**overrides: Any) -> Payload:
        born = overrides.pop("born", date(1990, 8, 17))
        gender = overrides.get("gender") or "M"
        data = valid_payload(
            nik=nik_for(born, gender),
            full_name="Budi Santoso",
            birth_date=born.isoformat(),
            gender=gender,
            email="budi.santoso@example.com",
            phone="081234567890",
        )
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not ABSENT}

    return make


ABSENT = object()


def validate(data: Payload, today: date = TODAY) -> RegistrationRequest:
    return RegistrationRequest.model_validate(data, context={"today": today})


def errors(data: Payload, today: date = TODAY) -> dict[str, str]:
    """field → error type, for a payload that must fail."""
    with pytest.raises(ValidationError) as caught:
        validate(data, today)
    return {".".join(str(p) for p in e["loc"]): e["type"] for e in caught.value.errors()}


def test_a_valid_request_passes(payload: Callable[..., Payload]) -> None:
    request = validate(payload())
    assert request.nik == "3275011708900001"
    assert request.birth_date == date(1990, 8, 17)
    assert request.phone == "+6281234567890"
    assert request.email == "budi.santoso@example.com"


def test_a_woman_with_a_plus_40_nik_passes(payload: Callable[..., Payload]) -> None:
    request = validate(payload(gender="F", full_name="Siti Aminah"))
    assert request.nik[6:8] == "57"


def test_gender_is_optional(payload: Callable[..., Payload]) -> None:
    assert validate(payload(gender=None)).gender is None


def test_surrounding_whitespace_is_stripped(payload: Callable[..., Payload]) -> None:
    request = validate(payload(nik=" 3275011708900001 ", full_name="  Budi  "))
    assert (request.nik, request.full_name) == ("3275011708900001", "Budi")


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        # A NIK typo is one message, on nik: no birth_date or gender mismatch on top.
        ("nik", "327501170890001", "nik_format"),
        ("nik", "3275O11708900001", "nik_format"),
        ("nik", "9975011708900001", "nik_province_unknown"),
        ("nik", "3299011708900001", "nik_regency_unknown"),
        ("nik", "3275013102900001", "nik_date_invalid"),
        ("nik", "3275011708900000", "nik_serial_zero"),
        # A phone must be an Indonesian mobile.
        ("phone", "0215551234", "phone_not_mobile"),  # Jakarta landline
        ("phone", "+62 22 4231234", "phone_not_mobile"),  # Bandung landline
        ("phone", "+6591234567", "phone_not_indonesian"),
        ("phone", "08123", "phone_invalid"),
        ("phone", "0812-ABCD-EFG", "phone_invalid"),
        ("phone", "not a number", "phone_invalid"),
    ],
)
def test_a_bad_value_is_one_error_on_its_own_field(
    payload: Callable[..., Payload], field: str, value: str, code: str
) -> None:
    assert errors(payload(**{field: value})) == {field: code}


def test_birth_date_must_match_the_nik(payload: Callable[..., Payload]) -> None:
    assert errors(payload(birth_date="1990-08-18")) == {"birth_date": "nik_birth_date_mismatch"}
    assert errors(payload(birth_date="1990-07-17")) == {"birth_date": "nik_birth_date_mismatch"}


def test_birth_date_is_checked_against_the_nik_two_digit_year(
    payload: Callable[..., Payload],
) -> None:
    assert errors(payload(birth_date="1980-08-17")) == {"birth_date": "nik_birth_date_mismatch"}


def test_womans_birth_date_matches_the_day_minus_40(payload: Callable[..., Payload]) -> None:
    data = payload(gender="F")
    assert data["nik"][6:8] == "57"
    assert validate(data).birth_date.day == 17
    assert errors({**data, "birth_date": "1990-08-57"}) == {"birth_date": "date_invalid"}


def test_gender_must_agree_with_the_nik(payload: Callable[..., Payload]) -> None:
    womans_nik = nik_for(date(1990, 8, 17), "F")
    assert errors(payload(nik=womans_nik, gender="M")) == {"gender": "nik_gender_mismatch"}
    assert errors(payload(gender="F", nik="3275011708900001")) == {"gender": "nik_gender_mismatch"}


def test_18th_birthday_boundary(payload: Callable[..., Payload]) -> None:
    data = payload(born=date(2002, 4, 11))
    assert errors(data, today=date(2020, 4, 10)) == {"birth_date": "age_under_18"}
    assert validate(data, today=date(2020, 4, 11)).birth_date == date(2002, 4, 11)


def test_born_29_february_turns_18_on_1_march_in_a_common_year(
    payload: Callable[..., Payload],
) -> None:
    data = payload(born=date(2004, 2, 29))
    assert eighteenth_birthday(date(2004, 2, 29)) == date(2022, 3, 1)
    assert errors(data, today=date(2022, 2, 28)) == {"birth_date": "age_under_18"}
    assert validate(data, today=date(2022, 3, 1))


def test_born_29_february_turns_18_on_29_february_in_a_leap_year() -> None:
    assert eighteenth_birthday(date(2002, 2, 28)) == date(2020, 2, 28)
    assert eighteenth_birthday(date(1996, 2, 29)) == date(2014, 3, 1)
    assert eighteenth_birthday(date(2000, 2, 29)) == date(2018, 3, 1)


def test_future_birth_date(payload: Callable[..., Payload]) -> None:
    data = payload(born=date(2020, 4, 12))
    assert errors(data) == {"birth_date": "birth_date_in_future"}


def test_birth_dates_over_120_years_ago_are_implausible(payload: Callable[..., Payload]) -> None:
    assert errors(payload(born=date(1899, 4, 10))) == {"birth_date": "birth_date_implausible"}
    assert validate(payload(born=date(1900, 4, 11)))  # exactly 120 today


def test_today_defaults_to_jakarta_when_no_context_is_given(
    payload: Callable[..., Payload],
) -> None:
    assert RegistrationRequest.model_validate(payload()).birth_date == date(1990, 8, 17)
    with pytest.raises(ValidationError):
        RegistrationRequest.model_validate(payload(born=date.today()))


@pytest.mark.parametrize(
    "birth_date",
    [
        "17-08-1990",
        "1990/08/17",
        "1990-08-17T00:00:00",
        "19900817",
        650_505_600,
        "",
        "1990-02-30",
        "\uff11\uff19\uff19\uff10-08-17",
        None,
        datetime(1990, 8, 17),
    ],
)
def test_birth_date_must_be_a_real_yyyy_mm_dd_date(
    payload: Callable[..., Payload], birth_date: object
) -> None:
    assert errors(payload(birth_date=birth_date)) == {"birth_date": "date_invalid"}


def test_in_formal_education_is_not_eligible(payload: Callable[..., Payload]) -> None:
    assert errors(payload(in_formal_education=True)) == {
        "in_formal_education": "in_formal_education"
    }


def test_consent_is_required(payload: Callable[..., Payload]) -> None:
    assert errors(payload(consent=False)) == {"consent": "consent_required"}


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "1", None])
def test_booleans_are_strict(payload: Callable[..., Payload], value: object) -> None:
    assert errors(payload(receives_social_aid=value)) == {"receives_social_aid": "bool_type"}


def test_phone_is_normalized_to_e164(payload: Callable[..., Payload]) -> None:
    for phone in ("081234567890", "+6281234567890", "6281234567890", "0812-3456-7890"):
        assert validate(payload(phone=phone)).phone == "+6281234567890"


def test_email_is_validated_and_normalized(payload: Callable[..., Payload]) -> None:
    assert validate(payload(email="Budi@Example.COM")).email == "Budi@example.com"
    assert errors(payload(email="budi@")) == {"email": "email_invalid"}
    assert errors(payload(email="budi at example.com")) == {"email": "email_invalid"}


def test_one_contact_is_enough(payload: Callable[..., Payload]) -> None:
    assert validate(payload(email=ABSENT)).email is None
    assert validate(payload(phone=None)).phone is None
    assert validate(payload(phone="", email="budi@example.com")).phone is None


def test_no_contact_at_all_is_reported_on_email(payload: Callable[..., Payload]) -> None:
    assert errors(payload(email=ABSENT, phone=ABSENT)) == {"email": "contact_required"}
    assert errors(payload(email="", phone="  ")) == {"email": "contact_required"}


def test_a_bad_phone_without_email_only_reports_the_phone(
    payload: Callable[..., Payload],
) -> None:
    assert errors(payload(email=None, phone="08123")) == {"phone": "phone_invalid"}


@pytest.mark.parametrize("code", ["99", "3", "032", "32.", "\uff13\uff12", ""])
def test_unknown_province(payload: Callable[..., Payload], code: str) -> None:
    assert errors(payload(province_code=code))["province_code"] == "province_unknown"


@pytest.mark.parametrize("code", ["3299", "32.75", "327", "32750", "9101"])
def test_unknown_regency(payload: Callable[..., Payload], code: str) -> None:
    # 9101 is valid inside an old NIK but is not a domicile anyone can choose today.
    assert errors(payload(regency_code=code)) == {"regency_code": "regency_unknown"}


def test_regency_must_be_inside_the_province(payload: Callable[..., Payload]) -> None:
    assert regions.regency_name("3374") == "Kota Semarang"
    assert errors(payload(regency_code="3374")) == {"regency_code": "regency_not_in_province"}


def test_domicile_may_differ_from_where_the_nik_was_issued(
    payload: Callable[..., Payload],
) -> None:
    # NIK from Kota Bekasi, living in Kota Surabaya: quotas follow the domicile.
    assert validate(payload(province_code="35", regency_code="3578")).regency_code == "3578"


def test_pre_2022_papua_nik_is_accepted(payload: Callable[..., Payload]) -> None:
    nik = nik_for(date(1990, 8, 17), region="910101")
    assert validate(payload(nik=nik, province_code="93", regency_code="9301")).nik == nik


@pytest.mark.parametrize(
    "name", ["Ni Luh Putu Ayu", "Muh. Ma'ruf", "O'Brien-Siregar, S.E.", "Bambang", "José"]
)
def test_real_names_pass(payload: Callable[..., Payload], name: str) -> None:
    assert validate(payload(full_name=name)).full_name == name


def test_typographic_apostrophe_from_phone_keyboards_is_accepted(
    payload: Callable[..., Payload],
) -> None:
    assert validate(payload(full_name="Ma\u2019ruf Amin")).full_name == "Ma'ruf Amin"


@pytest.mark.parametrize("name", ["Budi 2", "Budi\x00", "Budi\tSantoso", "...", "Budi@home"])
def test_names_with_digits_control_chars_or_symbols_fail(
    payload: Callable[..., Payload], name: str
) -> None:
    assert errors(payload(full_name=name)) == {"full_name": "full_name_invalid"}


def test_name_length(payload: Callable[..., Payload]) -> None:
    assert errors(payload(full_name="   ")) == {"full_name": "string_too_short"}
    assert errors(payload(full_name="A" * 101)) == {"full_name": "string_too_long"}
    assert validate(payload(full_name="A" * 100))


def test_unknown_fields_are_rejected(payload: Callable[..., Payload]) -> None:
    assert errors(payload(is_admin=True)) == {"is_admin": "extra_forbidden"}


def test_missing_fields_and_bad_choices(payload: Callable[..., Payload]) -> None:
    found = errors(payload(nik=ABSENT, employment_status="retired", gender="X"))
    assert found == {
        "nik": "missing",
        "employment_status": "literal_error",
        "gender": "literal_error",
    }


def test_the_request_is_immutable(payload: Callable[..., Payload]) -> None:
    request = validate(payload())
    with pytest.raises(ValidationError):
        request.nik = "3275011708900002"  # type: ignore[misc]


def test_every_custom_error_type_seen_here_is_declared() -> None:
    assert {"nik_birth_date_mismatch", "contact_required", "age_under_18"} <= ERROR_CODES
