"""A sign-up through the real API: Kafka has it, the projector stores it, dedupe holds."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer

from gelombang.events import REGISTRATIONS_SUBMITTED, RegistrationSubmitted
from gelombang.kafka import aiokafka_connection
from gelombang.pii import PiiCipher
from gelombang.settings import CommonSettings
from services.registration.fast_path import NIK_RESERVATION_TTL_S
from tests.citizens import registry_person, valid_payload
from tests.integration.conftest import end_offsets, eventually

pytestmark = pytest.mark.integration


async def status_row(pool: asyncpg.Pool, registration_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await pool.fetchrow(
        "SELECT status, reason, nik_hash, pii FROM registrations WHERE registration_id = $1",
        uuid.UUID(registration_id),
    )
    return row


async def read_event(settings: CommonSettings, key: bytes, registration_id: str) -> Any:
    """An independent reader of the recent end of every partition (no group, nothing committed).

    Only the tail: a long-lived dev stack holds hundreds of thousands of earlier sign-ups, and
    reading them all from the start would not finish in time.
    """
    consumer = AIOKafkaConsumer(**aiokafka_connection(settings), enable_auto_commit=False)
    ends = await end_offsets(settings, [REGISTRATIONS_SUBMITTED])
    await consumer.start()
    try:
        consumer.assign(list(ends))
        for partition, end in ends.items():
            consumer.seek(partition, max(0, end - 2000))
        for _ in range(60):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.key == key and registration_id.encode() in (record.value or b""):
                        return record
        return None
    finally:
        await consumer.stop()


async def test_signup_is_in_kafka_encrypted_and_projected_to_postgres(
    api: httpx.AsyncClient, settings: CommonSettings, cipher: PiiCipher, pool: asyncpg.Pool
) -> None:
    payload = valid_payload()
    response = await api.post("/api/v1/registrations", json=payload)
    assert response.status_code == 202, response.text
    body = response.json()
    registration_id = body["registration_id"]
    assert body["status_url"].endswith(f"/api/v1/registrations/{registration_id}")

    nik_hash = cipher.nik_hash(payload["nik"])
    record = await read_event(settings, nik_hash.encode(), registration_id)
    assert record is not None, "the API answered 202 but the event is not in Kafka"
    assert payload["nik"].encode() not in record.value
    assert payload["email"].encode() not in record.value
    event = RegistrationSubmitted.model_validate_json(record.value)
    assert cipher.open_json(event.pii, registration_id)["nik"] == payload["nik"]

    row = await eventually(lambda: status_row(pool, registration_id))
    # The verification workers run concurrently: on an idle stack this test citizen (never
    # matched by the registry simulator) may already be rejected by the time the row is read.
    moved_on = {"submitted", "contact_pending", "rejected"}
    assert row["status"] in moved_on
    assert row["nik_hash"] == nik_hash
    assert payload["nik"] not in row["pii"]

    status = await api.get(
        f"/api/v1/registrations/{registration_id}",
        headers={"X-Status-Token": body["status_token"]},
    )
    assert status.status_code == 200
    assert status.json()["status"] in moved_on
    assert status.json()["nik_last4"] == payload["nik"][-4:]
    assert payload["nik"] not in status.text


async def test_status_needs_the_right_token_and_reveals_nothing_otherwise(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    response = await api.post("/api/v1/registrations", json=valid_payload())
    registration_id = response.json()["registration_id"]
    await eventually(lambda: status_row(pool, registration_id))
    path = f"/api/v1/registrations/{registration_id}"
    unknown = await api.get(
        f"/api/v1/registrations/{uuid.uuid4()}", headers={"X-Status-Token": "x"}
    )
    missing = await api.get(path)
    wrong = await api.get(path, headers={"X-Status-Token": "not-the-token"})
    garbage = await api.get("/api/v1/registrations/not-a-uuid", headers={"X-Status-Token": "x"})
    for answer in (unknown, missing, wrong, garbage):
        assert answer.status_code == 404
        assert answer.json() == unknown.json()


async def test_duplicate_nik_is_409_at_the_edge(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    payload = registry_person()
    first = await api.post("/api/v1/registrations", json=payload)
    assert first.status_code == 202
    second = await api.post("/api/v1/registrations", json={**payload, "full_name": "Orang Lain"})
    assert second.status_code == 409
    assert second.json()["errors"][0]["field"] == "nik"


async def test_a_nik_reservation_expires_until_the_decider_confirms_it(
    api: httpx.AsyncClient, redis_client: aioredis.Redis, cipher: PiiCipher
) -> None:
    # The edge's own reservation is bounded: one whose sign-up never reached Kafka cannot refuse
    # that person forever. Once the log accepted the registration, the decider rewrites the key
    # as a hint without expiry (Redis keeps it across restarts, append-only file).
    payload = registry_person()
    response = await api.post("/api/v1/registrations", json=payload)
    assert response.status_code == 202
    key = f"nik:{cipher.nik_hash(payload['nik'])}"

    async def confirmed() -> bool | None:
        ttl = await redis_client.ttl(key)
        assert ttl == -1 or 0 < ttl <= NIK_RESERVATION_TTL_S
        return True if ttl == -1 else None

    assert await eventually(confirmed)
    assert (await redis_client.get(key)) == response.json()["registration_id"].encode()


async def test_retry_with_idempotency_key_gets_the_same_answer(api: httpx.AsyncClient) -> None:
    payload = valid_payload()
    headers = {"Idempotency-Key": f"it-{uuid.uuid4()}"}
    first = await api.post("/api/v1/registrations", json=payload, headers=headers)
    again = await api.post("/api/v1/registrations", json=payload, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    other_body = {**payload, "full_name": "Nama Berbeda"}
    conflict = await api.post("/api/v1/registrations", json=other_body, headers=headers)
    assert conflict.status_code == 422


async def test_concurrent_double_submit_yields_one_registration(
    api: httpx.AsyncClient, pool: asyncpg.Pool, cipher: PiiCipher
) -> None:
    payload = registry_person()  # stays live: a rejection would give the NIK back
    answers = await asyncio.gather(
        *[api.post("/api/v1/registrations", json=payload) for _ in range(5)]
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [202, 409, 409, 409, 409]
    nik_hash = cipher.nik_hash(payload["nik"])

    async def claims() -> int | None:
        count: int = await pool.fetchval(
            "SELECT count(*) FROM nik_claims WHERE nik_hash = $1", nik_hash
        )
        return count or None

    assert await eventually(claims) == 1


async def test_field_errors_are_indonesian_by_default_and_english_on_request(
    api: httpx.AsyncClient,
) -> None:
    payload = valid_payload(nik="12345", consent=False)
    indonesian = await api.post("/api/v1/registrations", json=payload)
    english = await api.post(
        "/api/v1/registrations", json=payload, headers={"Accept-Language": "en-US,en;q=0.9"}
    )
    assert indonesian.status_code == english.status_code == 422
    fields = {e["field"] for e in indonesian.json()["errors"]}
    assert {"nik", "consent"} <= fields
    by_field_id = {e["field"]: e["message"] for e in indonesian.json()["errors"]}
    by_field_en = {e["field"]: e["message"] for e in english.json()["errors"]}
    assert by_field_id["nik"] != by_field_en["nik"]
    assert "16" in by_field_id["nik"]


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"nik": 5}', b""])
async def test_malformed_bodies_are_422_never_500(api: httpx.AsyncClient, body: bytes) -> None:
    response = await api.post(
        "/api/v1/registrations", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"]


async def test_every_process_is_ready_and_exposes_metrics() -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for base in ("http://127.0.0.1:8000", "http://127.0.0.1:8001", "http://127.0.0.1:9101"):
            ready = await client.get(f"{base}/readyz")
            assert ready.status_code == 200, (base, ready.text)
            metrics = await client.get(f"{base}/metrics")
            assert metrics.status_code == 200
        api_metrics = (await client.get("http://127.0.0.1:8000/metrics")).text
        for name in (
            "http_requests_total",
            "http_request_duration_seconds_bucket",
            "kafka_produce_duration_seconds_bucket",
            "kafka_events_produced_total",
            "registration_dedupe_hits_total",
        ):
            assert name in api_metrics, name
        projector_metrics = (await client.get("http://127.0.0.1:9101/metrics")).text
        assert "kafka_consumer_lag_messages" in projector_metrics


async def test_prometheus_scrapes_every_process() -> None:
    async with httpx.AsyncClient(timeout=5) as client:

        async def all_up() -> list[dict[str, Any]] | None:
            targets = (await client.get("http://127.0.0.1:9090/api/v1/targets")).json()
            active = targets["data"]["activeTargets"]
            if active and all(t["health"] == "up" for t in active):
                return list(active)
            return None

        active = await eventually(all_up, timeout_s=30, every_s=1)
    jobs = {t["labels"]["job"] for t in active}
    assert {"registration", "projector"} <= jobs
