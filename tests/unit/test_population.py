import random
from collections import Counter
from datetime import date

import pytest

from gelombang.nik import parse_nik
from services.registration.schemas import RegistrationRequest
from testkit.population import (
    EXISTENCE_RATE,
    FEMALE_GIVEN_NAMES,
    MALE_GIVEN_NAMES,
    SECOND_NAMES,
    Citizen,
    citizen_for,
    make_signup,
    normalize_name,
    random_citizen,
    registry_check,
)


def random_valid_nik(rng: random.Random) -> str:
    """Any structurally valid NIK, not only adults: existence must not depend on the shape."""
    while True:
        regency = rng.choice(["3275", "3578", "1101", "9101", "6471", "5171"])
        day = rng.randint(1, 28) + rng.choice([0, 40])
        nik = f"{regency}{rng.randint(1, 20):02d}{day:02d}{rng.randint(1, 12):02d}"
        nik += f"{rng.randint(0, 99):02d}{rng.randint(1, 9999):04d}"
        parse_nik(nik)
        return nik


def find_citizen(prefix_date: str = "170890") -> Citizen:
    for serial in range(1, 100):
        citizen = citizen_for(f"327501{prefix_date}{serial:04d}")
        if citizen is not None:
            return citizen
    raise AssertionError("no citizen in 99 serials")


def test_same_nik_gives_the_same_citizen_every_time() -> None:
    rng = random.Random(1)
    for _ in range(200):
        nik = random_valid_nik(rng)
        assert citizen_for(nik) == citizen_for(nik)


def test_another_seed_is_another_population() -> None:
    rng = random.Random(2)
    niks = [random_valid_nik(rng) for _ in range(200)]
    assert [citizen_for(n) for n in niks] != [citizen_for(n, seed="other") for n in niks]


def test_about_97_percent_of_valid_niks_exist() -> None:
    rng = random.Random(3)
    found = sum(citizen_for(random_valid_nik(rng)) is not None for _ in range(10_000))
    # 10k Bernoulli(0.97): standard deviation ~0.17 pp, so ±0.8 pp is far outside chance.
    assert abs(found / 10_000 - EXISTENCE_RATE) < 0.008


def test_invalid_niks_are_nobody() -> None:
    assert citizen_for("not a nik") is None
    assert citizen_for("3275011708900000") is None  # serial 0000
    assert citizen_for("0075011708900001") is None  # no province 00


def test_citizen_fields_come_from_the_nik() -> None:
    citizen = find_citizen()
    assert citizen.birth_date == date(1990, 8, 17)
    assert citizen.gender == "M"
    assert (citizen.province_code, citizen.regency_code) == ("32", "3275")
    given = citizen.full_name.split(" ")[0]
    assert given in MALE_GIVEN_NAMES
    woman = find_citizen("570890")
    assert woman.gender == "F" and woman.full_name.split(" ")[0] in FEMALE_GIVEN_NAMES


def test_century_makes_the_person_an_adult_when_possible() -> None:
    # Year 05: 2005 makes them 18+ today; 1905 would be over 120.
    assert find_citizen("010105").birth_date == date(2005, 1, 1)
    # Year 70: 2070 is in the future, so 1970.
    assert find_citizen("010170").birth_date == date(1970, 1, 1)
    # Year 35: 1935 is over 64 and 2035 in the future, so the past reading, 1935.
    assert find_citizen("010135").birth_date == date(1935, 1, 1)


def test_names_use_the_lists_and_about_a_tenth_have_one_name() -> None:
    rng = random.Random(4)
    citizens = [random_citizen(rng) for _ in range(3000)]
    single = [c for c in citizens if " " not in c.full_name]
    assert 0.07 < len(single) / len(citizens) < 0.13
    for c in citizens:
        given, _, second = c.full_name.partition(" ")
        assert given in (MALE_GIVEN_NAMES if c.gender == "M" else FEMALE_GIVEN_NAMES)
        assert second == "" or second in SECOND_NAMES


def test_random_citizens_are_adults_of_18_to_60_known_to_the_registry() -> None:
    rng = random.Random(5)
    today = date.today()
    for _ in range(2000):
        c = random_citizen(rng)
        age = (
            today.year
            - c.birth_date.year
            - ((today.month, today.day) < (c.birth_date.month, c.birth_date.day))
        )
        assert 18 <= age <= 60
        assert citizen_for(c.nik) == c
        assert registry_check(c.nik, c.full_name, c.birth_date) == ("match", [])


@pytest.mark.parametrize(
    ("typed", "record"),
    [
        ("BUDI  SANTOSO", "Budi Santoso"),
        (" budi santoso ", "Budi Santoso"),
        ("Ma\u2019ruf Hakim", "Ma'ruf Hakim"),
        ("Maruf Hakim", "Ma'ruf Hakim"),
        ("M.Yusuf", "M. Yusuf"),
        ("Abdul-Rahman", "Abdul Rahman"),
        ("Siti, Rahayu", "Siti Rahayu"),
    ],
)
def test_names_match_after_normalization(typed: str, record: str) -> None:
    assert normalize_name(typed) == normalize_name(record)


def test_a_different_name_or_date_is_a_mismatch_and_unknown_nik_not_found() -> None:
    c = find_citizen()
    assert registry_check(c.nik, c.full_name.upper(), c.birth_date) == ("match", [])
    assert registry_check(c.nik, c.full_name + "x", c.birth_date) == ("mismatch", ["full_name"])
    assert registry_check(c.nik, c.full_name, date(2090, 8, 17)) == ("mismatch", ["birth_date"])
    assert registry_check(c.nik, "Nobody", date(1991, 8, 17)) == (
        "mismatch",
        ["full_name", "birth_date"],
    )
    stranger = next(
        f"3275011708900{s:03d}"
        for s in range(1, 1000)
        if citizen_for(f"3275011708900{s:03d}") is None
    )
    assert registry_check(stranger, c.full_name, c.birth_date) == ("not_found", [])


def test_signups_always_pass_the_api_and_expectations_agree_with_the_registry() -> None:
    rng = random.Random(6)
    expectation = {
        "match": "verified",
        "mismatch": "nik_data_mismatch",
        "not_found": "nik_not_found",
    }
    for _ in range(3000):
        signup = make_signup(rng)
        request = RegistrationRequest.model_validate(signup.payload)
        result, _ = registry_check(request.nik, request.full_name, request.birth_date)
        assert signup.expected == expectation[result]
        assert ("email" in signup.payload) == (signup.contact in ("email", "both"))
        assert ("phone" in signup.payload) == (signup.contact in ("phone", "both"))
        if request.email is not None:
            assert request.email.endswith("@example.id")


def test_signup_mix_follows_the_rates() -> None:
    rng = random.Random(7)
    n = 10_000
    signups = [make_signup(rng) for _ in range(n)]
    expected = Counter(s.expected for s in signups)
    contact = Counter(s.contact for s in signups)
    # typo 4% (97% land on someone else) + mismatch 2% ≈ 5.9%; unknown 2% + typo misses ≈ 2.1%.
    assert 0.048 < expected["nik_data_mismatch"] / n < 0.070
    assert 0.015 < expected["nik_not_found"] / n < 0.028
    assert 0.32 < contact["phone"] / n < 0.38
    moved = sum(s.payload["regency_code"] != s.payload["nik"][:4] for s in signups)
    assert 0.12 < moved / n < 0.18


def test_signup_rates_can_be_turned_off_and_up() -> None:
    rng = random.Random(8)
    clean = [make_signup(rng, typo_rate=0, unknown_rate=0, mismatch_rate=0) for _ in range(500)]
    assert {s.expected for s in clean} == {"verified"}
    strangers = [make_signup(rng, typo_rate=0, unknown_rate=1, mismatch_rate=0) for _ in range(200)]
    assert {s.expected for s in strangers} == {"nik_not_found"}
    misspelled = [
        make_signup(rng, typo_rate=0, unknown_rate=0, mismatch_rate=1) for _ in range(200)
    ]
    assert {s.expected for s in misspelled} == {"nik_data_mismatch"}
    emailless = [make_signup(rng, no_email_rate=1) for _ in range(200)]
    assert {s.contact for s in emailless} == {"phone"}


def test_signups_are_reproducible_from_the_rng_seed() -> None:
    first = [make_signup(random.Random(9)).payload for _ in range(3)]
    again = [make_signup(random.Random(9)).payload for _ in range(3)]
    assert first == again
