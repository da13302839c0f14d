"""Driving the selection admin API the way a program admin does (through the gateway)."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from gelombang.events import REGISTRATIONS_VERIFIED, RegistrationVerified
from gelombang.kafka import EventPublisher, make_producer
from gelombang.pii import PiiCipher
from gelombang.settings import AdminSettings, CommonSettings
from services.selection.draw import seed_commitment
from tests.citizens import random_nik

GATEWAY = "http://127.0.0.1:8080"


class _PatientTransport(httpx.AsyncHTTPTransport):
    """An admin waits out the gateway's per-credential limit (429 + Retry-After) and tries
    again, as a person would: earlier tests (hostile headers) may have spent its burst."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(30):
            response = await super().handle_async_request(request)
            if response.status_code != 429:
                return response
            await response.aread()
            await asyncio.sleep(min(5.0, float(response.headers.get("Retry-After", "1"))))
        return response


def admin_client() -> httpx.AsyncClient:
    token = AdminSettings().effective_admin_token
    return httpx.AsyncClient(
        base_url=GATEWAY,
        timeout=120,
        headers={"Authorization": f"Bearer {token}"},
        transport=_PatientTransport(),
    )


async def next_wave_number(admin: httpx.AsyncClient) -> int:
    listed = await admin.get("/api/v1/admin/waves")
    assert listed.status_code == 200, listed.text
    waves = listed.json()
    unfinished = [w["number"] for w in waves if w["state"] in ("open", "closed")]
    assert not unfinished, f"waves {unfinished} were left unfinished by an earlier run"
    return max((w["number"] for w in waves), default=0) + 1


async def create_wave(admin: httpx.AsyncClient, number: int, **body: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    created = await admin.post(
        "/api/v1/admin/waves",
        json={
            "number": number,
            "opens_at": (now - timedelta(days=7)).isoformat(),
            "closes_at": (now + timedelta(hours=1)).isoformat(),
            **body,
        },
    )
    assert created.status_code == 201, created.text
    wave: dict[str, Any] = created.json()
    return wave


# Draw v2: a close announces a beacon reference due after it, and the draw waits until it is due.
# Tests stand in for the beacon with a random value drawn after the close; a few seconds is enough.
BEACON_SOURCE = "test beacon: a random value the test draws once the reference is due"
BEACON_DELAY_S = 2.0


async def close_wave(
    admin: httpx.AsyncClient, number: int, seed: str, reference: str
) -> dict[str, Any]:
    """Close with a beacon reference due shortly after the close; returns once it is due."""
    for _ in range(5):
        due = datetime.now(UTC) + timedelta(seconds=BEACON_DELAY_S)
        closed = await admin.post(
            f"/api/v1/admin/waves/{number}/close",
            json={
                "seed_commitment": seed_commitment(seed),
                "beacon_source": BEACON_SOURCE,
                "beacon_reference": reference,
                "beacon_due_at": due.isoformat(),
            },
        )
        # A wait on the gateway's limit (429, retried by the transport) can outlast the delay;
        # then the reference is no longer due after the close, and is announced afresh.
        if closed.status_code != 422 or closed.json()["code"] != "beacon_due_not_after_close":
            break
    assert closed.status_code == 200, closed.text
    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.1)
    wave: dict[str, Any] = closed.json()
    return wave


async def close_draw_announce(
    admin: httpx.AsyncClient, number: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns (the wave as published at close, the wave after the announcement)."""
    seed = secrets.token_hex(32)
    reference = f"test round {secrets.token_hex(4)}"
    closed = await close_wave(admin, number, seed, reference)
    drawn = await admin.post(
        f"/api/v1/admin/waves/{number}/draw",
        json={"seed": seed, "beacon_reference": reference, "beacon_value": secrets.token_hex(32)},
    )
    assert drawn.status_code == 200, drawn.text
    announced = await admin.post(f"/api/v1/admin/waves/{number}/announce")
    assert announced.status_code == 200, announced.text
    return closed, announced.json()["wave"]


async def publish_events(settings: CommonSettings, events: list[RegistrationVerified]) -> None:
    """Publish verified events as the verification workers do (keyed by registration id)."""
    producer = make_producer(
        settings.kafka_bootstrap, client_id="test-selection", auth=settings.kafka_auth
    )
    await producer.start()
    try:
        publisher = EventPublisher(producer)
        for event in events:
            key = str(event.registration_id).encode()
            await publisher.publish(REGISTRATIONS_VERIFIED, key, event)
    finally:
        await producer.stop()


async def publish_verified(
    settings: CommonSettings, cipher: PiiCipher, count: int
) -> tuple[list[uuid.UUID], list[str]]:
    """Publish ``count`` verified registrations in Jawa Barat, as the verification workers do."""
    rng = random.Random(secrets.randbits(64))
    niks = list({random_nik(rng) for _ in range(count * 2)})[:count]
    ids = [uuid.uuid4() for _ in niks]
    events = [
        RegistrationVerified(
            registration_id=registration_id,
            nik_hash=cipher.nik_hash(nik),
            province_code="32",
            regency_code="3275",
            employment_status="laid_off",
            receives_social_aid=False,
            channel="api",
        )
        for registration_id, nik in zip(ids, niks, strict=True)
    ]
    await publish_events(settings, events)
    return ids, niks


async def all_in_pool(pool: asyncpg.Pool | asyncpg.Connection, ids: list[uuid.UUID]) -> int | None:
    """How many, once all of ``ids`` are in the selection pool; None before (for eventually)."""
    n: int = await pool.fetchval(
        "SELECT count(*) FROM selection_pool WHERE registration_id = ANY($1::uuid[])", ids
    )
    return n if n == len(ids) else None


async def draw_a_small_wave(patience_s: float) -> None:
    """Six people verified into the pool and a wave of three seats drawn and announced, as an
    admin does it: fewer seats than people, so the wave has both selected and waitlisted (what
    the Waves dashboard shows; a fresh stack has no wave until one is drawn)."""
    settings = CommonSettings()
    cipher = PiiCipher(settings.nik_hmac_key_bytes, settings.pii_key_bytes)
    ids, _ = await publish_verified(settings, cipher, 6)
    await draw_the_next_wave(ids, 3, patience_s)


async def draw_the_next_wave(
    ids: list[uuid.UUID], total_quota: int, patience_s: float
) -> tuple[int, dict[str, Any]]:
    """Once all of ``ids`` are in the selection pool (the verified event has a consumer of its
    own, which may lag behind the projector), the next wave with ``total_quota`` seats is
    created, closed, drawn and announced; returns its number and the announced wave."""
    db = await asyncpg.connect(CommonSettings().database_url)
    try:
        deadline = time.monotonic() + patience_s
        while not await all_in_pool(db, ids):
            assert time.monotonic() < deadline, (
                f"verified people did not reach the pool in {patience_s:g} s"
            )
            await asyncio.sleep(0.5)
    finally:
        await db.close()
    async with admin_client() as admin:
        number = await next_wave_number(admin)
        await create_wave(admin, number, total_quota=total_quota)
        _, wave = await close_draw_announce(admin, number)
    return number, wave
