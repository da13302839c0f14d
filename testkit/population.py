"""A deterministic synthetic population over the NIK space, shared by the registry simulator and
load tests.

There is no table of people. Whether a NIK "exists" and who holds it both follow from a keyed hash
of the NIK, so any process that knows the seed agrees with the civil-registry simulator about every
one of the ~10^15 structurally valid NIKs without storing any of them. That is what lets a Locust
run generate millions of citizens the simulator knows, plus realistic typos and strangers.

Rules (documented because tests and the simulator depend on them):

- Existence: ``EXISTENCE_RATE`` (97%) of structurally valid NIKs belong to someone. The other 3%
  stand in for NIKs that were never issued or were retired; a typo in a real NIK therefore usually
  lands on *someone else* (a data mismatch) and sometimes on nobody (not found), as at Dukcapil.
- Sex and birth day/month/2-digit year come from the NIK itself. The century is the reading that
  makes the person 18-64 today when there is one, otherwise the most recent reading not in the
  future (a child born in 2015, a 90-year-old born in 1935), otherwise the earliest. With two
  readings a century apart this is always "the most recent past reading", so the answer only
  changes on the day a 20xx reading stops being in the future.
- The name comes from lists of common Indonesian names: a given name for the NIK's sex, then a
  second/family name, except for ``SINGLE_NAME_RATE`` (~10%) who have one name only, as many
  Indonesians (especially older Javanese) do.
- Domicile is not part of the registry record: the registry matches NIK, name and birth date.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from gelombang import regions
from gelombang.nik import Gender, NikError, parse_nik

POPULATION_SEED = "gelombang-synthetic-population-v1"
EXISTENCE_RATE = 0.97
SINGLE_NAME_RATE = 0.10
# Jakarta, as the API: ages are judged on the Indonesian calendar day.
_JAKARTA = ZoneInfo("Asia/Jakarta")

MALE_GIVEN_NAMES: tuple[str, ...] = (
    "Budi", "Agus", "Andi", "Ahmad", "Muhammad", "Rudi", "Joko", "Slamet", "Bambang", "Hendra",
    "Dedi", "Eko", "Yusuf", "Rizki", "Dimas", "Fajar", "Arif", "Bayu", "Hadi", "Irfan",
    "Wahyu", "Teguh", "Bagus", "Aditya", "Rahmat", "Sutrisno", "Supriyadi", "Heru", "Iwan",
    "Taufik", "Imam", "Ilham", "Yogi", "Fikri", "Gilang", "Dani", "Putu", "Made", "Ketut",
    "Ma'ruf",
)  # fmt: skip
FEMALE_GIVEN_NAMES: tuple[str, ...] = (
    "Siti", "Sri", "Dewi", "Ani", "Nur", "Rina", "Wati", "Lestari", "Ayu", "Putri",
    "Fitri", "Indah", "Ratna", "Yuli", "Dian", "Kartika", "Nurul", "Maya", "Wulan", "Intan",
    "Sari", "Rahayu", "Endang", "Suryani", "Tuti", "Yanti", "Eka", "Mega", "Novi", "Fitria",
    "Anisa", "Aisyah", "Nabila", "Citra", "Ningsih", "Kurniasih", "Susanti", "Rini", "Desi",
    "Ika",
)  # fmt: skip
SECOND_NAMES: tuple[str, ...] = (
    "Santoso", "Wijaya", "Setiawan", "Kurniawan", "Hidayat", "Nugroho", "Wibowo", "Susanto",
    "Prasetyo", "Gunawan", "Hartono", "Halim", "Rahman", "Hakim", "Tanjung", "Siregar",
    "Nasution", "Harahap", "Lubis", "Simanjuntak", "Sihombing", "Hutapea", "Sitorus", "Tambunan",
    "Pardede", "Sinaga", "Panjaitan", "Manurung", "Situmorang", "Ginting", "Tarigan", "Sembiring",
    "Hasibuan", "Damanik", "Saragih", "Wenas", "Pattiasina", "Kusuma", "Permana", "Utomo",
)  # fmt: skip

# Where a registration's ``expected`` outcome comes from: what the verification pipeline should
# conclude for it once the contact step is done.
Expected = Literal["verified", "nik_not_found", "nik_data_mismatch"]
Contact = Literal["email", "phone", "both"]
RegistryResult = Literal["match", "mismatch", "not_found"]

EMPLOYMENT_STATUSES: tuple[tuple[str, float], ...] = (
    ("laid_off", 0.35),
    ("furloughed", 0.25),
    ("job_seeker", 0.20),
    ("micro_business", 0.15),
    ("migrant_worker", 0.05),
)
_EXPECTED: dict[RegistryResult, Expected] = {
    "match": "verified",
    "mismatch": "nik_data_mismatch",
    "not_found": "nik_not_found",
}
SOCIAL_AID_RATE = 0.20
MOVED_RATE = 0.15
# Of those who give an email, how many also give a phone number.
ALSO_PHONE_RATE = 0.5
# Prefixes of Indonesian mobile operators (Telkomsel, Indosat, XL, Axis, Tri, Smartfren): every
# +62 <prefix> followed by 8 digits is a valid mobile number for phonenumbers, as the API requires.
MOBILE_PREFIXES: tuple[str, ...] = (
    "811", "812", "813", "821", "822", "823", "851", "852", "853", "814", "815", "816",
    "855", "856", "857", "858", "817", "818", "819", "859", "877", "878", "831", "832",
    "838", "895", "896", "897", "898", "899", "881", "882", "887", "888",
)  # fmt: skip


@dataclass(frozen=True)
class Citizen:
    nik: str
    full_name: str
    birth_date: date
    gender: Gender
    province_code: str
    regency_code: str

    def sign_up_fields(self) -> dict[str, Any]:
        """Who this person is, as the sign-up form asks it (the rest of a body is the test's)."""
        return {
            "nik": self.nik,
            "full_name": self.full_name,
            "birth_date": self.birth_date.isoformat(),
            "gender": self.gender,
            "province_code": self.province_code,
            "regency_code": self.regency_code,
        }


@dataclass(frozen=True)
class SignUp:
    payload: dict[str, Any]
    expected: Expected
    contact: Contact


def _digest(nik: str, seed: str) -> bytes:
    # Keyed, so the population cannot be predicted from the NIK alone: a different seed is a
    # different country, which keeps test runs with their own seed independent.
    return hmac.new(seed.encode(), b"citizen:" + nik.encode(), hashlib.sha256).digest()


def _today() -> date:
    return datetime.now(_JAKARTA).date()


def _age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _birth_date(candidates: list[date], today: date) -> date:
    adult = [d for d in candidates if 18 <= _age_on(d, today) <= 64]
    if adult:
        return adult[0]
    past = [d for d in candidates if d <= today]
    return past[-1] if past else candidates[0]


def _name(digest: bytes, gender: Gender) -> str:
    given_names = MALE_GIVEN_NAMES if gender == "M" else FEMALE_GIVEN_NAMES
    given = given_names[int.from_bytes(digest[4:6], "big") % len(given_names)]
    if digest[8] < round(256 * SINGLE_NAME_RATE):
        return given
    return f"{given} {SECOND_NAMES[int.from_bytes(digest[6:8], 'big') % len(SECOND_NAMES)]}"


def _person(nik: str, digest: bytes) -> Citizen:
    parsed = parse_nik(nik)
    return Citizen(
        nik=nik,
        full_name=_name(digest, parsed.gender),
        birth_date=_birth_date(parsed.birth_date_candidates(), _today()),
        gender=parsed.gender,
        province_code=parsed.province_code,
        regency_code=parsed.regency_code,
    )


def citizen_for(nik: str, seed: str = POPULATION_SEED) -> Citizen | None:
    """The person holding ``nik`` in the synthetic population, or None if nobody does."""
    nik = nik.strip()
    try:
        parse_nik(nik)
    except NikError:
        return None
    digest = _digest(nik, seed)
    if int.from_bytes(digest[0:4], "big") >= EXISTENCE_RATE * 2**32:
        return None
    return _person(nik, digest)


# Apostrophe look-alikes folded as the API does, so a phone keyboard's curly quote still matches.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u02bc": "'"})
_SEPARATORS = re.compile(r"[.,\-\s]+")


def normalize_name(name: str) -> str:
    """The form in which the registry compares names.

    Case and spacing differ between a person's typing and Dukcapil's record without being a
    different name. Dots, commas and hyphens become spaces ("M.Yusuf" = "M Yusuf",
    "Abdul-Rahman" = "Abdul Rahman"); apostrophes are dropped ("Ma'ruf" = "Maruf").
    """
    folded = unicodedata.normalize("NFC", name).translate(_APOSTROPHES).replace("'", "")
    return " ".join(_SEPARATORS.sub(" ", folded.casefold()).split())


def registry_check(
    nik: str, full_name: str, birth_date: date, seed: str = POPULATION_SEED
) -> tuple[RegistryResult, list[str]]:
    """What the civil registry answers for (NIK, name, birth date): the result and which fields
    differ from its record (``full_name``, ``birth_date``) when the NIK exists."""
    citizen = citizen_for(nik, seed)
    if citizen is None:
        return "not_found", []
    mismatched: list[str] = []
    if normalize_name(full_name) != normalize_name(citizen.full_name):
        mismatched.append("full_name")
    if birth_date != citizen.birth_date:
        mismatched.append("birth_date")
    return ("mismatch" if mismatched else "match"), mismatched


@cache
def _regencies() -> tuple[str, ...]:
    # Today's codes only: these people also give their NIK regency as domicile, which must be a
    # current code (pre-split NIK codes are valid in a NIK but not as a domicile).
    return tuple(
        code
        for province in regions.provinces()
        for code in (f"{province}{n:02d}" for n in range(1, 100))
        if regions.regency_name(code) is not None
    )


def _random_nik(rng: random.Random, today: date) -> str:
    regency = rng.choice(_regencies())
    district = rng.randint(1, 20)
    # 18 * 366 days is past every 18th birthday and 60 * 365 short of every 61st, so the
    # person is an adult of 18-60 whatever the leap years.
    born = today - timedelta(days=rng.randint(18 * 366, 60 * 365))
    day = born.day + (40 if rng.random() < 0.5 else 0)
    return f"{regency}{district:02d}{day:02d}{born:%m%y}{rng.randint(1, 9999):04d}"


def random_citizen(rng: random.Random, seed: str = POPULATION_SEED) -> Citizen:
    """A random adult (18-60) member of the population, uniform over today's regencies."""
    today = _today()
    while True:
        citizen = citizen_for(_random_nik(rng, today), seed)
        if citizen is not None:
            return citizen


def _stranger_nik(rng: random.Random, seed: str) -> str:
    """A structurally valid NIK of an adult that nobody in the population holds."""
    today = _today()
    while True:
        nik = _random_nik(rng, today)
        if citizen_for(nik, seed) is None:
            return nik


def _nik_with_serial_typo(rng: random.Random, nik: str) -> str:
    # Only the serial: a slip in the region or date part is mostly caught by the API's own
    # checks already; a slip in the serial is the one that reaches Dukcapil.
    while True:
        position = rng.randint(12, 15)
        digit = rng.choice([d for d in "0123456789" if d != nik[position]])
        typo = nik[:position] + digit + nik[position + 1 :]
        if typo[12:] != "0000":
            return typo


def _misspelled(rng: random.Random, name: str) -> str:
    """The name with one letter dropped from a word long enough to still look like a name."""
    words = name.split(" ")
    candidates = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 3]
    i = rng.choice(candidates)
    letters = [j for j, c in enumerate(words[i]) if c.isalpha()]
    j = rng.choice(letters[1:])  # keep the initial: people rarely get that wrong
    words[i] = words[i][:j] + words[i][j + 1 :]
    return " ".join(words)


def _slug(name: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ".".join(re.findall(r"[a-z]+", ascii_only.lower())) or "warga"


def _phone(rng: random.Random) -> str:
    return f"+62{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 99_999_999):08d}"


def _domicile(rng: random.Random, citizen: Citizen) -> tuple[str, str]:
    # The NIK records where it was issued; people move for work, and quotas use the domicile.
    if rng.random() < MOVED_RATE:
        regency = rng.choice(_regencies())
        return regency[:2], regency
    return citizen.province_code, citizen.regency_code


def make_signup(
    rng: random.Random,
    *,
    typo_rate: float = 0.04,
    unknown_rate: float = 0.02,
    mismatch_rate: float = 0.02,
    no_email_rate: float = 0.35,
    seed: str = POPULATION_SEED,
) -> SignUp:
    """A sign-up body as the public would send it, with what verification should conclude.

    Kinds, by the rates given: a correct citizen (the rest); ``typo``: a citizen who got one
    serial digit of their NIK wrong (passes the API, then the registry finds nobody or someone
    else); ``unknown``: a NIK nobody holds; ``mismatch``: right NIK, a letter missing from the
    name. ``expected`` is computed with ``registry_check``, so it agrees with the simulator even
    when a typo happens to land on a namesake.
    """
    citizen = random_citizen(rng, seed)
    nik, full_name = citizen.nik, citizen.full_name
    kind = rng.random()
    if kind < typo_rate:
        nik = _nik_with_serial_typo(rng, nik)
    elif kind < typo_rate + unknown_rate:
        nik = _stranger_nik(rng, seed)
        # Made up like a citizen, from a digest no citizen uses, so the name looks as real.
        citizen = _person(nik, _digest(nik, seed + ":strangers"))
        full_name = citizen.full_name
    elif kind < typo_rate + unknown_rate + mismatch_rate:
        full_name = _misspelled(rng, full_name)

    result, _ = registry_check(nik, full_name, citizen.birth_date, seed)
    expected = _EXPECTED[result]

    contact: Contact
    if rng.random() < no_email_rate:
        contact = "phone"
    else:
        contact = "both" if rng.random() < ALSO_PHONE_RATE else "email"
    province_code, regency_code = _domicile(rng, citizen)
    statuses, weights = zip(*EMPLOYMENT_STATUSES, strict=True)
    payload: dict[str, Any] = {
        "nik": nik,
        "full_name": full_name,
        "birth_date": citizen.birth_date.isoformat(),
        "gender": citizen.gender,
        "province_code": province_code,
        "regency_code": regency_code,
        "employment_status": rng.choices(statuses, weights)[0],
        "in_formal_education": False,
        "receives_social_aid": rng.random() < SOCIAL_AID_RATE,
        "consent": True,
    }
    if contact in ("email", "both"):
        # Never a real provider's domain: a misrouted test mail must not reach a real person.
        payload["email"] = f"{_slug(full_name)}.{rng.randint(1, 999_999)}@example.id"
    if contact in ("phone", "both"):
        payload["phone"] = _phone(rng)
    return SignUp(payload=payload, expected=expected, contact=contact)
