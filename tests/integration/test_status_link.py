"""'I lost my status link' (issue 20) against the running API, Kafka, verification workers,
SMTP sink and SMS simulator: the link comes again to the contact on record, and only there."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from aiokafka.admin import AIOKafkaAdminClient

from gelombang.coalesce import PipelinedRedis
from gelombang.contact import status_page_path
from gelombang.events import STATUS_LINK_REQUESTED
from gelombang.kafka import aiokafka_connection
from gelombang.settings import CommonSettings
from gelombang.topics import ALL_TOPICS
from services.registration.fast_path import RedisWindowCounter
from testkit.simulators.mail_sink import find_messages
from tests.citizens import registry_person
from tests.integration.conftest import eventually, window_limit
from tests.integration.test_verification import MAILDIR, SMS, submit

pytestmark = pytest.mark.integration

SUBJECT = "Tautan status pendaftaran Anda / Your registration status link"


async def status_link_mails(address: str) -> list[str]:
    """Bodies of the status-link messages sent to ``address``, oldest first."""
    found = await asyncio.to_thread(find_messages, MAILDIR, address)
    bodies = []
    for message in found:
        if message["Subject"] != SUBJECT:
            continue
        body = message.get_body(preferencelist=("plain",))
        bodies.append(str(body.get_content()) if body is not None else "")
    return bodies


async def sms_texts(phone: str) -> list[str]:
    async with httpx.AsyncClient(base_url=SMS, timeout=5) as sms:
        found = (await sms.get("/v1/messages", params={"to": phone})).json()["messages"]
    return [str(m["text"]) for m in found]


async def ask(api: httpx.AsyncClient, nik: str, contact: str) -> httpx.Response:
    return await api.post("/api/v1/status-link", json={"nik": nik, "contact": contact})


async def case_opened(pool: asyncpg.Pool, accepted: dict[str, str]) -> None:
    """Wait until verification holds the registration's case (a lost-link request is judged
    against it). Not for its contact message: after a load run that may be far down a queue
    that lost-link messages do not wait in."""

    async def probe() -> bool | None:
        found = await pool.fetchval(
            "SELECT true FROM verification_cases WHERE registration_id = $1",
            uuid.UUID(accepted["registration_id"]),
        )
        return True if found else None

    await eventually(probe, timeout_s=90, every_s=0.25)


async def judged_since(pool: asyncpg.Pool, since: datetime, state: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM verification_status_links WHERE state = $1 AND created_at >= $2",
        state,
        since,
    )
    return count


async def test_the_status_link_comes_again_by_email_and_not_to_another_address(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    body = registry_person(email=True)
    accepted = await submit(api, body)
    await case_opened(pool, accepted)
    page = status_page_path(accepted["registration_id"], accepted["status_token"])
    started = datetime.now(UTC)

    stranger = f"it.{uuid.uuid4().hex[:10]}@example.id"
    wrong = await ask(api, body["nik"], stranger)
    # The address as typed again, in other case: it is the same mailbox.
    right = await ask(api, body["nik"], body["email"].upper())
    assert wrong.status_code == right.status_code == 202
    assert wrong.content == right.content

    async def resent() -> str | None:
        mails = await status_link_mails(body["email"])
        return mails[-1] if mails else None

    text = await eventually(resent, timeout_s=90, every_s=0.25)
    assert text.count(page) == 2, "the message does not carry the registration's status link"
    # Both requests share the NIK's partition, in order: the wrong one was judged first.
    assert await status_link_mails(stranger) == []
    assert await judged_since(pool, started, "no_match") >= 1
    assert len(await status_link_mails(body["email"])) == 1


async def test_the_status_link_comes_again_by_sms_to_a_phone_only_applicant(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    body = registry_person(email=False, phone=True)
    accepted = await submit(api, body)
    await case_opened(pool, accepted)
    page = status_page_path(accepted["registration_id"], accepted["status_token"])
    # The number as people type it nationally; stored in E.164.
    national = "0" + body["phone"].removeprefix("+62")
    assert (await ask(api, body["nik"], national)).status_code == 202

    async def resent() -> str | None:
        texts = [t for t in await sms_texts(body["phone"]) if t.startswith("Tautan status")]
        return texts[-1] if texts else None

    text = await eventually(resent, timeout_s=90, every_s=0.25)
    assert page in text


async def test_an_unknown_nik_gets_the_same_answer_and_nothing_is_sent(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    known = registry_person(email=True)
    await case_opened(pool, await submit(api, known))
    unknown = registry_person(email=True)  # never signed up
    started = datetime.now(UTC)
    answers = [
        await ask(api, known["nik"], known["email"]),
        await ask(api, unknown["nik"], unknown["email"]),
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].content == answers[1].content

    async def both_judged() -> bool | None:
        matched = await status_link_mails(known["email"])
        return True if matched and await judged_since(pool, started, "no_match") >= 1 else None

    await eventually(both_judged, timeout_s=90, every_s=0.25)
    assert await asyncio.to_thread(find_messages, MAILDIR, unknown["email"]) == []


async def test_the_window_counter_counts_until_a_limit_is_reached(
    redis_client: aioredis.Redis,
) -> None:
    counter = RedisWindowCounter(PipelinedRedis(redis_client))
    tag = uuid.uuid4().hex
    now = time.time()
    per_ip = window_limit("nik_limit", f"status-link:{tag}:ip", 5, carried=0.5, now=now)
    per_nik = window_limit("nik_limit", f"status-link:{tag}:nik", 3, carried=0.5, now=now)
    # One earlier in the previous window, half of which still weighs: 3 - 0.5 leaves 2.
    await redis_client.set(f"abuse:{per_nik.previous_key}", 1)
    assert await counter.take((per_ip, per_nik)) is None
    assert await counter.take((per_ip, per_nik)) is None
    assert await counter.take((per_ip, per_nik)) == (1, 2, 1)
    # A refusal counts against no limit; the counters expire.
    assert await redis_client.get(f"abuse:{per_ip.key}") == b"2"
    assert 0 < await redis_client.ttl(f"abuse:{per_nik.key}") <= 60
    # A Redis that forgot its scripts (restarted, flushed) still answers.
    await redis_client.script_flush()
    assert await counter.take((per_ip,)) is None
    assert await counter.take(()) is None


async def test_the_topic_exists_with_the_others(settings: CommonSettings) -> None:
    admin = AIOKafkaAdminClient(**aiokafka_connection(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    assert STATUS_LINK_REQUESTED in ALL_TOPICS
    assert set(ALL_TOPICS) <= existing
