"""The civil-registry and SMS clients against a real HTTP server (aiohttp.web, in this process):
every way an outside system can fail becomes "not now, retry later" (with the server's
Retry-After when it gave one), a refused phone number becomes "undeliverable", and connections
are reused between calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from loadtests.processes import free_port
from services.verification.gateways import (
    CivilRegistryClient,
    SmsClient,
    Unavailable,
    Undeliverable,
    http_session,
)

pytestmark = pytest.mark.integration


class Outside:
    """A stand-in outside system whose next answer each test chooses."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b'{"result": "match"}'
        self.headers: dict[str, str] = {}
        self.delay_s = 0.0
        self.requests: list[dict[str, object]] = []
        self.peers: set[tuple[str, int]] = set()

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            {"path": request.path, "json": await request.json(), "headers": dict(request.headers)}
        )
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer is not None:
            self.peers.add(tuple(peer[:2]))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.Response(
            status=self.status,
            body=self.body,
            headers=self.headers,
            content_type="application/json",
        )


@pytest.fixture
async def outside() -> AsyncIterator[tuple[Outside, str]]:
    system = Outside()
    app = web.Application()
    app.router.add_post("/v1/nik/verify", system.handle)
    app.router.add_post("/v1/messages", system.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield system, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def registry_client(
    session: aiohttp.ClientSession, failure_threshold: int = 100, open_s: float = 15.0
) -> CivilRegistryClient:
    return CivilRegistryClient(
        session, "k3y", concurrency=4, failure_threshold=failure_threshold, open_s=open_s
    )


async def test_registry_answers_are_read_and_connections_reused(
    outside: tuple[Outside, str],
) -> None:
    system, url = outside
    session = http_session(url, 2.0, max_connections=4)
    client = registry_client(session)
    try:
        assert await client.verify("3201011501900001", "Siti Aminah", "1990-01-15") == "match"
        system.body = b'{"result": "not_found"}'
        for _ in range(5):
            assert await client.verify("3201011501900002", "Budi", "1990-01-15") == "not_found"
    finally:
        await session.close()
    first = system.requests[0]
    assert first["path"] == "/v1/nik/verify"
    assert first["json"] == {
        "nik": "3201011501900001",
        "full_name": "Siti Aminah",
        "birth_date": "1990-01-15",
    }
    assert isinstance(first["headers"], dict) and first["headers"]["X-Api-Key"] == "k3y"
    # Six calls one after another over one kept-open connection.
    assert len(system.peers) == 1


@pytest.mark.parametrize(
    ("status", "body", "headers", "reason", "retry_after"),
    [
        (429, b"{}", {"Retry-After": "7"}, "http_429", 7.0),
        (503, b"{}", {"Retry-After": "soon"}, "http_503", None),
        (200, b"<html>not json</html>", {}, "bad_answer", None),
        (200, b'{"result": "perhaps"}', {}, "bad_answer", None),
        (200, b'["match"]', {}, "bad_answer", None),
    ],
)
async def test_registry_failures_mean_retry_later(
    outside: tuple[Outside, str],
    status: int,
    body: bytes,
    headers: dict[str, str],
    reason: str,
    retry_after: float | None,
) -> None:
    system, url = outside
    system.status, system.body, system.headers = status, body, headers
    session = http_session(url, 2.0, max_connections=4)
    client = registry_client(session)
    try:
        with pytest.raises(Unavailable) as caught:
            await client.verify("3201011501900001", "Siti Aminah", "1990-01-15")
    finally:
        await session.close()
    assert caught.value.reason == reason
    assert caught.value.retry_after_s == retry_after


async def test_registry_that_is_slow_or_gone_means_retry_later(
    outside: tuple[Outside, str],
) -> None:
    system, url = outside
    system.delay_s = 1.0
    slow = http_session(url, 0.2, max_connections=4)
    gone = http_session(f"http://127.0.0.1:{free_port()}", 2.0, max_connections=4)
    try:
        for session in (slow, gone):
            client = registry_client(session)
            with pytest.raises(Unavailable):
                await client.verify("3201011501900001", "Siti Aminah", "1990-01-15")
    finally:
        await slow.close()
        await gone.close()


async def test_sms_sent_refused_and_unavailable(outside: tuple[Outside, str]) -> None:
    system, url = outside
    session = http_session(url, 2.0, max_connections=4)
    sms = SmsClient(session, "sms-key")
    try:
        system.status = 202
        await sms.send("+6281234567890", "Kode Anda 123456", "ref-1")
        system.status = 422
        with pytest.raises(Undeliverable):
            await sms.send("+6281234567890", "Kode Anda 123456", "ref-2")
        system.status, system.headers = 503, {"Retry-After": "30"}
        with pytest.raises(Unavailable) as caught:
            await sms.send("+6281234567890", "Kode Anda 123456", "ref-3")
    finally:
        await session.close()
    assert caught.value.reason == "http_503"
    assert caught.value.retry_after_s == 30.0
    sent = system.requests[0]
    assert sent["json"] == {
        "to": "+6281234567890",
        "text": "Kode Anda 123456",
        "client_ref": "ref-1",
    }
    assert isinstance(sent["headers"], dict)
    assert sent["headers"]["Authorization"] == "Bearer sms-key"


async def test_too_many_requests_slows_the_client_down_without_opening_the_circuit(
    outside: tuple[Outside, str],
) -> None:
    system, url = outside
    system.status, system.body, system.headers = 429, b"{}", {"Retry-After": "7"}
    session = http_session(url, 2.0, max_connections=4)
    client = registry_client(session, failure_threshold=3, open_s=60)
    try:
        assert client.wait_s() == 0
        for _ in range(6):  # twice the failure threshold
            with pytest.raises(Unavailable) as caught:
                await client.verify("3201011501900001", "Siti Aminah", "1990-01-15")
            assert caught.value.reason == "http_429"
        # Every call reached the registry (the circuit stayed closed); hold off as it asked.
        assert len(system.requests) == 6
        assert 6.0 < client.wait_s() <= 7.0
    finally:
        await session.close()


async def test_a_failing_registry_opens_the_circuit_and_the_client_says_how_long(
    outside: tuple[Outside, str],
) -> None:
    system, url = outside
    system.status, system.body = 503, b"{}"
    session = http_session(url, 2.0, max_connections=4)
    client = registry_client(session, failure_threshold=3, open_s=60)
    try:
        for _ in range(3):
            with pytest.raises(Unavailable):
                await client.verify("3201011501900001", "Siti Aminah", "1990-01-15")
        with pytest.raises(Unavailable) as caught:
            await client.verify("3201011501900001", "Siti Aminah", "1990-01-15")
    finally:
        await session.close()
    assert caught.value.reason == "circuit_open"
    assert len(system.requests) == 3  # the open circuit kept the fourth call at home
    assert 59.0 < client.wait_s() <= 60.0
