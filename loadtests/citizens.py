"""Sign-up bodies for load tests: people the civil-registry simulator knows, built cheaply.

``testkit.population.make_signup`` also works out what verification should conclude, which costs
~350 us a body: at 1,333 sign-ups/s that alone would take half of one of this machine's two cores
away from the system under test. A load test only needs bodies the API accepts and the simulator
knows, so this builds them from ``random_citizen`` (~70 us) and skips the prediction.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from testkit.population import (
    ALSO_PHONE_RATE,
    EMPLOYMENT_STATUSES,
    MOBILE_PREFIXES,
    SOCIAL_AID_RATE,
    random_citizen,
)

_STATUSES = tuple(status for status, _ in EMPLOYMENT_STATUSES)
_WEIGHTS = tuple(weight for _, weight in EMPLOYMENT_STATUSES)
NO_EMAIL_RATE = 0.35


def signup_payload(rng: random.Random) -> dict[str, Any]:
    citizen = random_citizen(rng)
    payload: dict[str, Any] = {
        **citizen.sign_up_fields(),
        "employment_status": rng.choices(_STATUSES, _WEIGHTS)[0],
        "in_formal_education": False,
        "receives_social_aid": rng.random() < SOCIAL_AID_RATE,
        "consent": True,
    }
    no_email = rng.random() < NO_EMAIL_RATE
    if not no_email:
        payload["email"] = example_email(rng)
    if no_email or rng.random() < ALSO_PHONE_RATE:
        payload["phone"] = f"+62{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 99_999_999):08d}"
    return payload


def example_email(rng: random.Random) -> str:
    # Never a real provider's domain: a misrouted test mail must not reach a real person.
    return f"warga.{rng.randrange(10**12)}@example.id"


def repeat_body(original: bytes, rng: random.Random) -> bytes:
    """The same person signing up again (same NIK, name, birth date, phone) with another email:
    what someone does who did not see the first confirmation arrive."""
    payload = json.loads(original)
    payload["email"] = example_email(rng)
    return json.dumps(payload, separators=(",", ":")).encode()


def invalid_payload(rng: random.Random) -> dict[str, Any]:
    """A body the API must refuse with 422: the mistakes people make in the form."""
    payload = signup_payload(rng)
    mistake = rng.randrange(4)
    if mistake == 0:
        payload["nik"] = payload["nik"][:15]  # a digit short
    elif mistake == 1:
        payload["email"] = "warga-at-example.id"
    elif mistake == 2:
        payload["birth_date"] = "1990-02-30"
    else:
        payload["consent"] = False
    return payload


def unique_bodies(rng: random.Random, count: int) -> Iterator[bytes]:
    """``count`` JSON bodies with distinct NIKs (a repeated NIK would be a correct 409)."""
    seen: set[str] = set()
    while len(seen) < count:
        payload = signup_payload(rng)
        if payload["nik"] in seen:
            continue
        seen.add(payload["nik"])
        yield json.dumps(payload, separators=(",", ":")).encode()
