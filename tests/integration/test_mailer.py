"""The verification mailer against a real SMTP server (aiosmtpd, in this process): messages share
a few kept-open connections, and a server that drops them while idle loses no mail."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from loadtests.processes import free_port
from services.verification.gateways import Mailer

pytestmark = pytest.mark.integration


class Recorder:
    def __init__(self) -> None:
        self.recipients: list[str] = []
        self.sessions: set[int] = set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.recipients += envelope.rcpt_tos
        self.sessions.add(id(session))
        return "250 OK"


async def test_mail_shares_connections_and_survives_a_server_restart() -> None:
    recorder = Recorder()
    port = free_port()
    server = Controller(recorder, hostname="127.0.0.1", port=port)
    server.start()
    mailer = Mailer("127.0.0.1", port, "Gelombang <no-reply@gelombang.test>", 5.0, "test", 2)
    try:
        await asyncio.gather(
            *(mailer.send(f"orang{i}@example.id", "Halo", "Isi", f"m{i}") for i in range(12))
        )
        assert sorted(recorder.recipients) == sorted(f"orang{i}@example.id" for i in range(12))
        assert len(recorder.sessions) <= 2, "each message opened its own connection"

        # The relay restarts (or times out idle connections): the kept ones are dead now.
        server.stop()
        server = Controller(recorder, hostname="127.0.0.1", port=port)
        server.start()
        await mailer.send("setelah@example.id", "Halo", "Isi", "after")
        assert recorder.recipients[-1] == "setelah@example.id"
    finally:
        await mailer.aclose()
        server.stop()
