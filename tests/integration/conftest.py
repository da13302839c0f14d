from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import Any, Literal, TypeVar

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from gelombang.admission import WindowLimit
from gelombang.kafka import aiokafka_connection, make_consumer
from gelombang.pii import PiiCipher
from gelombang.settings import CommonSettings, KafkaAuth

pytestmark = pytest.mark.integration

API = "http://127.0.0.1:8000"
T = TypeVar("T")


@pytest.fixture(scope="session")
def settings() -> CommonSettings:
    return CommonSettings()


@pytest.fixture(scope="session")
def service_auth(settings: CommonSettings) -> Callable[[str], KafkaAuth]:
    """A service's own Kafka principal, by name (gelombang.kafka_access), with the password
    `make up` generated into .run/stack.env (tests/conftest.py puts it in the environment)."""
    assert settings.kafka_auth.sasl, (
        "the stack's Kafka runs without SASL (no GELOMBANG_KAFKA_USERNAME in .run/stack.env):"
        " `make down && make up` restarts it with SASL and per-service ACLs"
    )

    def auth(name: str) -> KafkaAuth:
        password = os.environ[f"GELOMBANG_KAFKA_PASSWORD_{name.upper()}"]
        return settings.kafka_auth.as_user(name, password)

    return auth


@pytest.fixture(scope="session")
def cipher(settings: CommonSettings) -> PiiCipher:
    return PiiCipher(settings.nik_hmac_key_bytes, settings.pii_key_bytes)


@pytest.fixture(scope="session")
async def pool(settings: CommonSettings) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def redis_client(settings: CommonSettings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=API, timeout=15) as client:
        yield client


def window_limit(
    reason: Literal["ip_limit", "nik_limit"],
    name: str,
    allowed: int,
    *,
    carried: float = 0.0,
    now: float = 45.0,
) -> WindowLimit:
    """A limit of ``allowed`` per 30 s window, counted under ``test:{name}:1`` (the previous
    window under ``test:{name}:0``), so that a test's counters are its own."""
    return WindowLimit(
        reason,
        key=f"test:{name}:1",
        previous_key=f"test:{name}:0",
        carried=carried,
        limit=allowed,
        ttl_s=60,
        window_s=30,
        now=now,
    )


async def status_of(api: httpx.AsyncClient, accepted: dict[str, str]) -> dict[str, Any] | None:
    """A registration's status as its owner sees it (in English), None until it is there."""
    response = await api.get(
        f"/api/v1/registrations/{accepted['registration_id']}",
        headers={"X-Status-Token": accepted["status_token"], "Accept-Language": "en"},
    )
    if response.status_code != 200:
        return None
    status: dict[str, Any] = response.json()
    return status


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout_s: float = 60.0, every_s: float = 0.1
) -> T:
    """Poll until ``probe`` returns something; fail with a clear message after the timeout.

    The default is generous for a loaded CI machine; a passing probe returns at once anyway.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await probe()
        if value is not None:
            return value
        await asyncio.sleep(every_s)
    raise AssertionError(f"nothing after {timeout_s}s")


async def describe_topics(settings: CommonSettings, topics: Collection[str]) -> list[Any]:
    """The brokers' description of ``topics``: each with its partitions."""
    admin = AIOKafkaAdminClient(**aiokafka_connection(settings))
    await admin.start()
    try:
        described: list[Any] = await admin.describe_topics(list(topics))
        return described
    finally:
        await admin.close()


async def end_offsets(
    settings: CommonSettings, topics: Collection[str]
) -> dict[TopicPartition, int]:
    """Where each partition of ``topics`` ends now (no group, nothing committed)."""
    described = await describe_topics(settings, topics)
    partitions = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]
    consumer = make_consumer(
        settings.kafka_bootstrap, f"it-ends-{uuid.uuid4().hex[:8]}", [], auth=settings.kafka_auth
    )
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()
