"""Admission control on a real registration process with very low limits.

The test starts its own instance (its own port, its own limits) so the running stack keeps its
real caps and other tests are not shed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from altcha import v1

from loadtests.processes import registration_api
from tests.citizens import valid_payload

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
UNKNOWN = "/api/v1/registrations/00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def tight_api() -> Iterator[str]:
    with registration_api(
        "registration-admission-test",
        {
            "GELOMBANG_ADMISSION_MAX_IN_FLIGHT": "1",
            "GELOMBANG_ADMISSION_RATE_PER_S": "2",
            "GELOMBANG_ADMISSION_BURST": "4",
        },
    ) as base:
        yield base


async def hold_a_slot(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client on a slow phone link: headers sent, body still on its way."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/v1/registrations HTTP/1.1\r\nHost: test\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    await writer.drain()
    await asyncio.sleep(0.3)
    return reader, writer


async def test_a_saturated_process_answers_503_at_once_but_stays_observable(
    tight_api: str,
) -> None:
    port = int(tight_api.rsplit(":", 1)[1])
    await asyncio.sleep(2.5)  # a full bucket, so only the in-flight cap can refuse
    _, writer = await hold_a_slot(port)
    try:
        async with httpx.AsyncClient(base_url=tight_api, timeout=5) as client:
            started = time.monotonic()
            busy = await client.get(UNKNOWN, headers={"Accept-Language": "en"})
            assert time.monotonic() - started < 1.0
            assert busy.status_code == 503
            assert int(busy.headers["Retry-After"]) >= 1
            assert busy.json()["code"] == "server_busy"
            assert "signing up right now" in busy.json()["detail"]
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
            metrics = (await client.get("/metrics")).text
    finally:
        writer.close()
    assert (
        'http_requests_shed_total{reason="in_flight",service="registration-admission-test"}'
        in metrics
    )


async def test_beyond_the_rate_people_get_429_with_an_honest_wait(tight_api: str) -> None:
    await asyncio.sleep(2.5)
    async with httpx.AsyncClient(base_url=tight_api, timeout=5) as client:
        answers = [await client.get(UNKNOWN) for _ in range(12)]
        statuses = [a.status_code for a in answers]
        # The burst is served normally (an unknown id is a 404), then the rate applies.
        assert statuses[:4] == [404] * 4
        refused = [a for a in answers if a.status_code == 429]
        assert len(refused) >= 6
        waits = [int(a.headers["Retry-After"]) for a in refused]
        assert waits == sorted(waits) and waits[-1] >= 2
        assert "banyak sekali orang mendaftar" in refused[0].json()["detail"]
        await asyncio.sleep(waits[-1] + 0.5)
        assert (await client.get(UNKNOWN)).status_code == 404
        metrics = (await client.get("/metrics")).text
    assert 'reason="rate",service="registration-admission-test"' in metrics


@pytest.fixture(scope="module")
def guarded_api() -> Iterator[str]:
    """Proof of work always on and two sign-ups a minute per address, nobody trusted."""
    with registration_api(
        "registration-guard-test",
        {
            "GELOMBANG_POW_MODE": "always",
            "GELOMBANG_POW_MAX_NUMBER": "2000",
            "GELOMBANG_SIGNUP_IP_LIMIT": "2",
            "GELOMBANG_SIGNUP_IP_EXEMPT_CIDRS": "",
        },
    ) as base:
        yield base


async def solved(client: httpx.AsyncClient) -> str:
    challenge = (await client.get("/api/v1/challenge")).json()
    solution = v1.solve_challenge(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxNumber"]
    )
    assert solution is not None
    payload = {
        "algorithm": challenge["algorithm"],
        "challenge": challenge["challenge"],
        "number": solution.number,
        "salt": challenge["salt"],
        "signature": challenge["signature"],
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


async def test_sign_ups_need_a_fresh_proof_of_work_and_respect_the_address_limit(
    guarded_api: str,
) -> None:
    async with httpx.AsyncClient(base_url=guarded_api, timeout=10) as client:
        bare = await client.post("/api/v1/registrations", json=valid_payload())
        assert bare.status_code == 428
        assert bare.json()["errors"] == [] and "pemeriksaan otomatis" in bare.json()["detail"]

        proof = await solved(client)
        first = await client.post(
            "/api/v1/registrations", json=valid_payload(), headers={"X-Altcha": proof}
        )
        assert first.status_code == 202, first.text
        replayed = await client.post(
            "/api/v1/registrations", json=valid_payload(), headers={"X-Altcha": proof}
        )
        assert replayed.status_code == 428

        second = await client.post(
            "/api/v1/registrations",
            json=valid_payload(),
            headers={"X-Altcha": await solved(client)},
        )
        assert second.status_code == 202, second.text
        third = await client.post(
            "/api/v1/registrations",
            json=valid_payload(),
            headers={"X-Altcha": await solved(client), "Accept-Language": "en"},
        )
        assert third.status_code == 429
        assert 1 <= int(third.headers["Retry-After"]) <= 120  # at most two windows
        assert "from your network" in third.json()["detail"]
