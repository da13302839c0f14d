"""The mailer's two ways of writing a message, through a real SMTP server (aiosmtpd, in this
process): the everyday ASCII template and EmailMessage for the rest arrive as the same mail."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from loadtests.processes import free_port
from services.verification.gateways import Mailer

pytestmark = pytest.mark.integration


class Recorder:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.mark.parametrize(
    ("to", "body"),
    [
        ("siti@example.id", "Halo Siti,\n.\nbuka http://x/?token=" + "t" * 200 + "\n"),
        ("siti@example.id", "Halo Sítì,\n"),  # non-ASCII: EmailMessage writes it
    ],
)
async def test_a_message_arrives_as_written(to: str, body: str) -> None:
    recorder = Recorder()
    port = free_port()
    server = Controller(recorder, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    server.start()
    mailer = Mailer("127.0.0.1", port, "Gelombang <no-reply@gelombang.test>", 5.0, "test", 1)
    try:
        await mailer.send(to, "Konfirmasi / Confirm", body, "r1.0")
    finally:
        await mailer.aclose()
        server.stop()
    [(mail_from, rcpt_tos, content)] = recorder.received
    assert (mail_from, rcpt_tos) == ("no-reply@gelombang.test", [to])
    message = BytesParser(policy=policy.default).parsebytes(content)
    assert message["To"] == to and message["Subject"] == "Konfirmasi / Confirm"
    assert message["Message-ID"] == "<r1.0@gelombang>"
    # On the wire lines end in CRLF; a lone "." line survives the SMTP dot-stuffing.
    assert message.get_content().replace("\r\n", "\n") == body
