"""Verification rules without I/O: outcomes, retry timing, contact links and codes."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gelombang.contact import ContactSecrets, LinkExpired, LinkInvalid
from gelombang.events import RegistrationRejected, RegistrationVerified
from services.verification.service import (
    Case,
    contact_method_for,
    decide,
    retry_delay_s,
    step_event_id,
)
from tests.citizens import verified_event_fields

OPEN = Case(
    **verified_event_fields(nik_hash="h" * 64, province_code="35", regency_code="3578"),
    contact_method="email",
    contact_state="sent",
    nik_state="pending",
    outcome=None,
)


def test_nothing_is_decided_while_a_check_is_open() -> None:
    assert decide(OPEN) is None
    assert decide(replace(OPEN, contact_state="confirmed")) is None
    assert decide(replace(OPEN, nik_state="verified")) is None


def test_both_checks_passed_means_verified_with_what_selection_needs() -> None:
    event = decide(replace(OPEN, contact_state="confirmed", nik_state="verified"))
    assert isinstance(event, RegistrationVerified)
    assert (event.province_code, event.nik_hash) == ("35", "h" * 64)
    assert event.event_id == step_event_id(OPEN.registration_id, "verified")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"nik_state": "not_found"}, "nik_not_found"),
        ({"nik_state": "mismatch", "contact_state": "confirmed"}, "nik_data_mismatch"),
        ({"contact_state": "expired", "nik_state": "verified"}, "contact_expired"),
    ],
)
def test_rejections_carry_the_reason(changes: dict[str, str], reason: str) -> None:
    event = decide(replace(OPEN, **changes))  # type: ignore[arg-type]
    assert isinstance(event, RejectedType) and event.reason == reason


RejectedType = RegistrationRejected


def test_a_settled_case_is_never_decided_twice() -> None:
    done = replace(OPEN, contact_state="confirmed", nik_state="verified", outcome="verified")
    assert decide(done) is None


def test_retry_delays_grow_with_jitter_and_stay_bounded() -> None:
    rng = random.Random(7)
    early = [retry_delay_s(0, 2.0, 300.0, rng) for _ in range(200)]
    late = [retry_delay_s(10, 2.0, 300.0, rng) for _ in range(200)]
    assert max(early) <= 2.0 and min(early) >= 1.0
    assert max(late) <= 300.0 and len({round(d, 3) for d in late}) > 150  # spread, not waves
    assert sum(late) / len(late) > 10 * sum(early) / len(early)


def test_contact_method_prefers_email_and_officer_attestation_replaces_it() -> None:
    assert contact_method_for(True, True) == "email"
    assert contact_method_for(False, True) == "sms"
    assert contact_method_for(False, False, channel="assisted") == "officer"


def test_email_link_round_trip_tamper_and_expiry() -> None:
    secrets = ContactSecrets(b"k" * 32)
    registration_id = str(uuid.uuid4())
    now = datetime(2026, 11, 23, tzinfo=UTC)
    token = secrets.link_token(registration_id, now + timedelta(hours=48))
    assert secrets.open_link(token, now) == registration_id
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(LinkInvalid):
        secrets.open_link(tampered, now)
    with pytest.raises(LinkInvalid):
        ContactSecrets(b"x" * 32).open_link(token, now)
    with pytest.raises(LinkExpired):
        secrets.open_link(token, now + timedelta(hours=49))
    with pytest.raises(LinkInvalid):
        secrets.open_link("not a token!", now)


def test_otp_digest_binds_code_to_registration() -> None:
    secrets = ContactSecrets(b"k" * 32)
    code = ContactSecrets.new_otp()
    assert len(code) == 6 and code.isdigit()
    assert secrets.otp_digest("a", code) != secrets.otp_digest("b", code)
    assert code not in secrets.otp_digest("a", code)
