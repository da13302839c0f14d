"""A record that decodes but that Postgres refuses is parked, and its partition keeps flowing.

Straight to Kafka, as a faulty producer would send it: a submission whose ``nik_last4`` does not
fit the read model's char(4), then a valid one under the same key (so the same partition, right
behind it). The running projector must park the first in ``registrations.submitted.dlq`` and
store the second.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from aiokafka import AIOKafkaConsumer

from gelombang.events import REGISTRATIONS_SUBMITTED, RegistrationSubmitted, dead_letter_topic
from gelombang.kafka import EVENT_TYPE_HEADER, aiokafka_connection, make_producer
from gelombang.pii import PiiCipher
from gelombang.settings import CommonSettings
from tests.citizens import valid_payload
from tests.integration.conftest import end_offsets, eventually

pytestmark = pytest.mark.integration

PROJECTOR_GROUP = "registration-projector"
ALERT_RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules"


def submission(cipher: PiiCipher, nik_last4: str | None = None) -> RegistrationSubmitted:
    payload = valid_payload()
    registration_id = uuid.uuid4()
    personal = {
        name: payload[name]
        for name in ("nik", "full_name", "birth_date", "gender", "email", "phone")
    }
    return RegistrationSubmitted(
        registration_id=registration_id,
        nik_hash=cipher.nik_hash(payload["nik"]),
        nik_last4=payload["nik"][-4:] if nik_last4 is None else nik_last4,
        pii=cipher.seal_json(personal, bound_to=str(registration_id)),
        province_code=payload["province_code"],
        regency_code=payload["regency_code"],
        employment_status=payload["employment_status"],
        receives_social_aid=payload["receives_social_aid"],
        has_email=True,
        has_phone=True,
    )


async def test_a_record_postgres_refuses_is_parked_and_the_next_one_is_stored(
    settings: CommonSettings, cipher: PiiCipher, pool: asyncpg.Pool
) -> None:
    valid = submission(cipher)
    # Nine characters for a char(4) column: StringDataRightTruncationError on every attempt.
    poison = submission(cipher, nik_last4="123456789")
    key = valid.nik_hash.encode()
    dlq = dead_letter_topic(REGISTRATIONS_SUBMITTED)
    dlq_start = await end_offsets(settings, [dlq])

    producer = make_producer(
        settings.kafka_bootstrap, client_id="it-poison-record", auth=settings.kafka_auth
    )
    await producer.start()
    try:
        # Both queued before either is awaited: in this order, and most likely in one batch, so
        # that the projector meets them together.
        sent = [
            await producer.send(
                REGISTRATIONS_SUBMITTED,
                value=event.to_bytes(),
                key=key,
                headers=[(EVENT_TYPE_HEADER, event.event_type.encode())],
            )
            for event in (poison, valid)
        ]
        first, second = [await delivery for delivery in sent]
    finally:
        await producer.stop()
    assert (first.partition, first.offset + 1) == (second.partition, second.offset)

    async def stored() -> bool | None:
        found = await pool.fetchval(
            "SELECT 1 FROM registrations WHERE registration_id = $1", valid.registration_id
        )
        return True if found else None

    # Generous for a loaded machine (a few bounded retries with backoff come first); a passing
    # probe returns at once.
    await eventually(stored, timeout_s=90, every_s=0.5)

    reader = AIOKafkaConsumer(**aiokafka_connection(settings), enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign(list(dlq_start))
        for partition, offset in dlq_start.items():
            reader.seek(partition, offset)

        async def parked() -> dict[str, bytes] | None:
            batch = await reader.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    headers = dict(record.headers)
                    if (
                        headers.get("dlq_group") == PROJECTOR_GROUP.encode()
                        and str(poison.registration_id).encode() in (record.value or b"")
                    ):
                        assert record.key == key
                        return headers
            return None

        headers = await eventually(parked, timeout_s=90)
    finally:
        await reader.stop()

    assert headers["dlq_error"] == b"StringDataRightTruncationError"
    assert headers["dlq_reason"] == b"StringDataRightTruncationError (SQLSTATE 22001)"
    assert headers["dlq_source"].startswith(f"{REGISTRATIONS_SUBMITTED}/".encode())
    assert headers["event_type"] == b"RegistrationSubmitted"
    assert not await pool.fetchval(
        "SELECT 1 FROM registrations WHERE registration_id = $1", poison.registration_id
    )
    # Ops hear of it: the ticket alert on dead letters counts this path too.
    assert "kafka_dead_lettered_total" in alert_rule("DeadLettersPresent")["expr"]


def alert_rule(name: str) -> dict[str, Any]:
    for path in sorted(ALERT_RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == name:
                    found: dict[str, Any] = rule
                    return found
    raise AssertionError(f"no alert rule {name} in {ALERT_RULES}")
