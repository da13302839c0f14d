"""The status answer's contact step and the status link in every contact message."""

from __future__ import annotations

from datetime import UTC, datetime

from services.registration.api import contact_progress
from services.verification.service import decision_texts, email_text, sms_text, status_link

AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_nik_checked_first_leaves_the_sms_contact_open() -> None:
    history = [("submitted", None), ("contact_pending", None), ("nik_verified", None)]
    progress = contact_progress(history, "api", None, "081234567890", AT)
    assert progress is not None
    assert (progress.method, progress.state, progress.hint) == ("sms", "sent", "****7890")
    assert progress.confirm_by is not None and progress.confirm_by > AT


def test_email_first_confirmed_and_failed_states() -> None:
    confirmed = contact_progress(
        [("contact_pending", None), ("contact_confirmed", None)], "api", "nama@contoh.id", None, AT
    )
    assert confirmed is not None
    assert (confirmed.method, confirmed.state, confirmed.hint) == (
        "email",
        "confirmed",
        "n***@contoh.id",
    )
    assert confirmed.confirm_by is None
    failed = contact_progress([("rejected", "contact_expired")], "api", "a@b.id", "0812", AT)
    assert failed is not None and failed.state == "failed"
    assert contact_progress([("submitted", None)], "api", None, None, AT) is None
    officer = contact_progress([], "assisted", None, None, AT)
    assert officer is not None and officer.state == "confirmed"


def test_every_contact_message_carries_the_status_link() -> None:
    link = status_link("https://daftar.example", "rid", "tok")
    assert link == "https://daftar.example/status#id=rid&t=tok"
    assert link in email_text("Budi", "https://x/verify?token=t", link, AT)[1]
    text = sms_text("123456", link, AT)
    assert link in text and "123456" in text and len(text) <= 480
    _subject, body, sms = decision_texts("Budi", 3, "waitlisted", link)
    assert link in body and link in sms
