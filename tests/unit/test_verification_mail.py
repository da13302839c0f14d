"""The confirmation email written from a template says what EmailMessage would have said, and
anything a template cannot write safely (non-ASCII, header breaks, overlong lines) is left to
EmailMessage."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from services.verification.gateways import plain_message
from services.verification.service import email_text

SENDER = "Gelombang <no-reply@gelombang.example.id>"


def parsed(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def test_the_template_reads_as_the_email_message_would() -> None:
    link = "http://127.0.0.1:8080/api/v1/contact/verify?token=" + "t" * 150
    confirm_by = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    subject, body = email_text(
        "Siti Rahayu", link, "http://127.0.0.1:8080/s/" + "s" * 80, confirm_by
    )
    raw = plain_message(SENDER, "siti.rahayu+1@example.id", subject, body, "r1.0")
    assert raw is not None

    reference = EmailMessage()
    reference["From"] = SENDER
    reference["To"] = "siti.rahayu+1@example.id"
    reference["Subject"] = subject
    reference["Message-ID"] = "<r1.0@gelombang>"
    reference.set_content(body)
    ours, theirs = parsed(raw), parsed(reference.as_bytes())

    for header in ("From", "To", "Subject", "Message-ID", "Content-Type", "MIME-Version"):
        assert ours[header] == theirs[header]
    assert ours.get_content() == theirs.get_content() == body
    assert link in ours.get_content()  # the link on one line, as people click it


@pytest.mark.parametrize(
    ("to", "subject", "body"),
    [
        ("siti@example.id", "Halo", "Halo Sítì,\n"),  # non-ASCII text needs an encoding
        ("sítì@example.id", "Halo", "Halo\n"),  # an internationalised address
        ("siti@example.id\r\nBcc: x@example.id", "Halo", "Halo\n"),  # a header break
        ("siti@example.id", "Halo\nBcc: x@example.id", "Halo\n"),
        ("siti@example.id", "Halo", "x" * 999 + "\n"),  # a line past RFC 5322's limit
        ("siti@example.id", "Halo", "Halo\r\n.\r\n"),  # carriage returns: left to the library
    ],
)
def test_what_needs_encoding_is_left_to_email_message(to: str, subject: str, body: str) -> None:
    assert plain_message(SENDER, to, subject, body, "r1.0") is None
