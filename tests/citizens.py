"""Test citizens: valid, unique sign-up payloads (random NIKs so runs never collide)."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

from gelombang.events import RegistrationVerified
from gelombang.nik import parse_nik
from testkit.population import random_citizen

# Three words: the civil-registry simulator's people have one or two (testkit.population), so
# a test citizen never matches one by chance, whichever NIK it draws.
MALE_NAME = "Budi Uji Santoso"
FEMALE_NAME = "Siti Uji Rahayu"


def adult_birth_date(rng: random.Random) -> date:
    """A birth date 20-50 years ago: well clear of the API's 18+ rule in any time zone, and
    ~11,000 days so that NIKs drawn with it rarely meet those of earlier runs."""
    return date.today() - timedelta(days=rng.randint(20 * 366, 50 * 365))


def nik_for(rng: random.Random, born: date, *, female: bool = False) -> str:
    """A structurally valid NIK of Kota Bekasi (32.75) encoding ``born`` and the sex (women add
    40 to the day), with a random district and serial."""
    day = born.day + (40 if female else 0)
    nik = f"3275{rng.randint(1, 12):02d}{day:02d}{born:%m%y}{rng.randint(1, 9999):04d}"
    parsed = parse_nik(nik)  # raises if the layout above ever drifts from the real one
    assert parsed.matches_birth_date(born) and parsed.gender == ("F" if female else "M"), nik
    return nik


def random_nik(rng: random.Random) -> str:
    """A NIK of a random adult of either sex, e.g. for labour-office lists."""
    return nik_for(rng, adult_birth_date(rng), female=rng.random() < 0.5)


def sign_up_body(person: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A sign-up's body: ``person`` (who, where, how to reach them, their work) with what every
    test citizen answers (not in formal education, no social aid, consent given), then
    ``overrides``."""
    answers = {"in_formal_education": False, "receives_social_aid": False, "consent": True}
    return person | answers | overrides


def valid_payload(**overrides: Any) -> dict[str, Any]:
    rng = random.SystemRandom()
    born = adult_birth_date(rng)
    female = bool(overrides.pop("_female", False))
    person = {
        "nik": nik_for(rng, born, female=female),
        "full_name": FEMALE_NAME if female else MALE_NAME,
        "birth_date": born.isoformat(),
        "gender": "F" if female else "M",
        "email": "pendaftar@example.co.id",
        "phone": "+6281234567890",
        # Domicile in Kota Bekasi, Jawa Barat, as the NIK.
        "province_code": "32",
        "regency_code": "3275",
        "employment_status": "laid_off",
    }
    return sign_up_body(person, overrides)


def registration_event_fields(**changes: Any) -> dict[str, Any]:
    """The fields of a test citizen's sign-up event (``RegistrationSubmitted``,
    ``RegistrationAccepted``), the personal data left sealed; ``changes`` replace any."""
    payload = valid_payload()
    kept = ("province_code", "regency_code", "employment_status", "receives_social_aid")
    fields: dict[str, Any] = {name: payload[name] for name in kept}
    fields.update(registration_id=uuid.uuid4(), nik_hash=uuid.uuid4().hex, pii="sealed")
    fields.update(nik_last4=payload["nik"][-4:], has_email=True, has_phone=False)
    return fields | changes


def verified_event_fields(**changes: Any) -> dict[str, Any]:
    """The fields of a test citizen's ``RegistrationVerified`` (what a verification case keeps
    of the sign-up and selection's pool takes), signed up online; ``changes`` replace any."""
    fields = registration_event_fields(**{"channel": "api"} | changes)
    return {name: fields[name] for name in RegistrationVerified.model_fields if name in fields}


def registry_person(*, email: bool = True, phone: bool = False, **overrides: Any) -> dict[str, Any]:
    """A sign-up of a person the civil-registry simulator knows: the NIK check passes, so the
    registration stays live (waiting for the contact check) instead of being rejected."""
    rng = random.SystemRandom()
    citizen = random_citizen(random.Random())
    tag = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))
    person = {
        **citizen.sign_up_fields(),
        "email": f"it.{tag}@example.id" if email else None,
        "phone": f"+62813{rng.randrange(10**7, 10**8)}" if phone else None,
        "employment_status": "furloughed",
    }
    return sign_up_body(person, overrides)


def walk_in(**overrides: Any) -> dict[str, Any]:
    """A walk-in at a posko (the assisted API's body): a person the civil-registry simulator
    knows, with no email and no phone."""
    citizen = random_citizen(random.Random())
    person = {**citizen.sign_up_fields(), "employment_status": "laid_off"}
    return sign_up_body(person, {"attested_id_card_seen": True, **overrides})
