"""Admission control on a real registration process with very low limits.

The test starts its own instance (its own port, its own limits) so the running stack keeps its
real caps and other tests are not shed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
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
RATE_PER_S = 2
RATE_BURST = 4


@pytest.fixture(scope="module")
def tight_api() -> Iterator[str]:
    with registration_api(
        "registration-admission-test",
        {
            "GELOMBANG_ADMISSION_MAX_IN_FLIGHT": "1",
            "GELOMBANG_ADMISSION_RATE_PER_S": str(RATE_PER_S),
            "GELOMBANG_ADMISSION_BURST": str(RATE_BURST),
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
    return reader, writer


async def busy_answer(client: httpx.AsyncClient) -> tuple[httpx.Response, float]:
    """Ask until the held slot shows (a loaded machine may take a while to read the held
    request) or 5 s have passed: the last answer and how long it took."""
    deadline = time.monotonic() + 5.0
    while True:
        started = time.monotonic()
        answer = await client.get(UNKNOWN, headers={"Accept-Language": "en"})
        took = time.monotonic() - started
        if answer.status_code == 503 or time.monotonic() > deadline:
            return answer, took
        # At the refill rate, so asking never empties the bucket the held request needs.
        await asyncio.sleep(1 / RATE_PER_S)


async def test_a_saturated_process_answers_503_at_once_but_stays_observable(
    tight_api: str,
) -> None:
    port = int(tight_api.rsplit(":", 1)[1])
    await asyncio.sleep(2.5)  # a full bucket, so only the in-flight cap can refuse
    _, writer = await hold_a_slot(port)
    try:
        async with httpx.AsyncClient(base_url=tight_api, timeout=5) as client:
            busy, took = await busy_answer(client)
            assert busy.status_code == 503, busy.text
            # Refused without queueing behind the held request (5 s: a loaded CI machine).
            assert took < 5.0
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
        started = time.monotonic()
        answers = [await client.get(UNKNOWN) for _ in range(12)]
        # One at a time (the in-flight cap is 1): on a machine so slow that the bucket keeps
        # up with them, go on until the rate does refuse someone.
        while not any(a.status_code == 429 for a in answers) and len(answers) < 40:
            answers.append(await client.get(UNKNOWN))
        elapsed = time.monotonic() - started
        statuses = [a.status_code for a in answers]
        # The burst is served normally (an unknown id is a 404), then the rate applies: no more
        # are served than the burst plus what refilled meanwhile (+1 for timing at the edges).
        assert statuses[:4] == [404] * 4
        refused = [a for a in answers if a.status_code == 429]
        served_at_most = RATE_BURST + math.ceil(RATE_PER_S * elapsed) + 1
        assert refused and len(refused) >= len(answers) - served_at_most, (statuses, elapsed)
        # Honest: at least a second, and no longer than everyone refused so far needs at the
        # rate (the wait need not grow monotonically: the queue drains between slow requests).
        waits = [int(a.headers["Retry-After"]) for a in refused]
        assert all(
            1 <= wait <= math.ceil(n / RATE_PER_S) + 1 for n, wait in enumerate(waits, start=1)
        ), waits
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
