"""The confirmation email and SMS tell the person the real deadline of their case (issue 20),
with fakes: 48 hours from sign-up, or the later one a change of contact left, in Jakarta time,
the same moment the status page shows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from gelombang.contact import LINK_TTL
from gelombang.messages import deadline_text, message
from services.verification.gateways import plain_message
from services.verification.service import (
    ChangeableCase,
    email_text,
    judge_contact_changes,
    sms_text,
    status_link,
)
from tests.unit.test_contact_change import AT, CIPHER, change_of
from tests.unit.test_contact_deadline import asked_at, shown_deadline, signed_up_at_noon

HOUR = timedelta(hours=1)
LINK = "https://daftar.example.id/api/v1/contact/verify?token=" + "t" * 60


def status_of(case: ChangeableCase) -> str:
    registration_id = str(case.registration_id)
    return status_link(
        "https://daftar.example.id", registration_id, CIPHER.status_token(registration_id)
    )


def what_is_sent(case: ChangeableCase) -> tuple[str, str]:
    """The (SMS, email body) the worker writes for the case's contact as it is stored now."""
    personal = CIPHER.open_json(case.pii, str(case.registration_id))
    sms = sms_text("482913", status_of(case), case.contact_expires_at)
    _subject, body = email_text(
        personal["full_name"], LINK, status_of(case), case.contact_expires_at
    )
    return sms, body


async def test_a_number_changed_at_hour_47_gets_an_sms_with_the_moved_deadline() -> None:
    store, case = signed_up_at_noon()  # AT is Wednesday 2 December, 17:00 WIB
    request = asked_at(case, 47, "+6282222222222")
    await judge_contact_changes([request], store, CIPHER, 3, now=AT + 47 * HOUR)
    sms, _ = what_is_sent(store.cases[case.registration_id])
    assert "paling lambat Sabtu, 5 Desember pukul 16.00 WIB" in sms
    assert "Jumat, 4 Desember" not in sms  # the deadline before the change
    # The moment the status page shows for the case.
    assert shown_deadline(store, case) == datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


async def test_an_address_changed_late_gets_an_email_with_the_moved_deadline() -> None:
    store, case = signed_up_at_noon()
    request = change_of(case, email="budi@contoh.id").model_copy(
        update={"occurred_at": AT + 47 * HOUR}
    )
    await judge_contact_changes([request], store, CIPHER, 3, now=AT + 47 * HOUR)
    changed = store.cases[case.registration_id]
    assert changed.contact_method == "email"
    _, body = what_is_sent(changed)
    assert "Batas waktu konfirmasi: Sabtu, 5 Desember pukul 16.00 WIB." in body
    assert "by Saturday 5 December at 16:00 WIB" in body
    # No duration is promised any more (a random id or token in the links may hold "48").
    assert "48 jam" not in body and "48 hours" not in body


async def test_a_case_never_changed_is_told_sign_up_plus_48_hours() -> None:
    store, case = signed_up_at_noon()
    assert case.contact_expires_at == AT + LINK_TTL
    sms, body = what_is_sent(case)
    assert "paling lambat Jumat, 4 Desember pukul 17.00 WIB" in sms
    assert "Jumat, 4 Desember pukul 17.00 WIB" in body
    assert "Friday 4 December at 17:00 WIB" in body
    assert shown_deadline(store, case) == case.contact_expires_at


async def test_an_early_change_keeps_telling_the_first_deadline() -> None:
    store, case = signed_up_at_noon()
    request = asked_at(case, 2, "+6282222222222")
    await judge_contact_changes([request], store, CIPHER, 3, now=AT + 2 * HOUR)
    sms, _ = what_is_sent(store.cases[case.registration_id])
    assert "paling lambat Jumat, 4 Desember pukul 17.00 WIB" in sms


def test_the_deadline_is_told_in_jakarta_time_never_later_than_it_is() -> None:
    # 17:30:59 UTC is half past midnight of the next day in Jakarta; the seconds are cut.
    late = datetime(2026, 12, 31, 17, 30, 59, tzinfo=UTC)
    assert deadline_text(late, "id") == "Jumat, 1 Januari pukul 00.30 WIB"
    assert deadline_text(late, "en") == "Friday 1 January at 00:30 WIB"
    # An offset other than UTC is the same moment.
    same = late.astimezone(timezone(timedelta(hours=-5)))
    assert deadline_text(same, "id") == deadline_text(late, "id")


def test_the_email_with_its_deadline_stays_on_the_plain_template_path() -> None:
    _, case = signed_up_at_noon()
    _, body = what_is_sent(case)
    raw = plain_message(
        "Gelombang <no-reply@gelombang.example.id>", "budi@contoh.id", "Konfirmasi", body, "r.0"
    )
    assert raw is not None  # no MIME encoding needed: the fast path


def test_the_sms_with_the_longest_date_stays_within_two_segments() -> None:
    # The longest weekday and month; a status link as long as production's.
    longest = datetime(2026, 9, 29, 9, 0, tzinfo=UTC)  # Selasa, 29 September
    status = "https://daftar.prakerja.go.id/status#id=" + "0" * 36 + "&t=" + "x" * 32
    text = sms_text("482913", status, longest)
    assert "Selasa, 29 September pukul 16.00 WIB" in text
    assert len(text) <= 306 and text.isascii()


def test_an_expired_contact_is_told_what_happened_without_a_number() -> None:
    for lang in ("id", "en"):
        for code in ("contact_expired", "link_expired"):
            text = message(code, lang)
            assert not re.search(r"\d", text), text
    assert "ran out" in message("contact_expired", "en")
