"""What an API process opens in its lifespan, each client entered on one ``AsyncExitStack``.

Written out by hand in each lifespan (open, ``try: yield``, close in a ``finally``), a start-up
that failed halfway (Kafka not answering within its minute, Postgres refusing the pool) left
what was already open unclosed, and every API had its own copy of the shutdown order. On the
stack, whatever was opened is closed in reverse order when the ``async with`` ends, whether
start-up finished or not; a part that must stop before the clients it uses (a background
runner) is pushed after them.

    async with AsyncExitStack() as stack:
        publisher = await open_publisher(stack, settings, timeout_s=settings.produce_timeout_s)
        redis = open_redis(stack, settings.redis_url, timeout_s=settings.redis_timeout_s)
        pool = await open_pool(stack, settings.database_url, min_size=0, max_size=10)
        yield ...

Workers open theirs through ``gelombang.process.WorkerShell``, which keeps its own stack.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import asyncpg
import redis.asyncio as aioredis

from gelombang.postgres import create_pool
from gelombang.rdkafka import RdKafkaPublisher
from gelombang.settings import CommonSettings

__all__ = ["open_pool", "open_publisher", "open_redis"]


async def open_publisher(
    stack: AsyncExitStack, settings: CommonSettings, *, timeout_s: float
) -> RdKafkaPublisher:
    """The process's Kafka publisher (acks=all, idempotent), as its own principal; started with
    retries (Kafka may still be electing a controller) and stopped after its last delivery."""
    publisher = RdKafkaPublisher(
        settings.kafka_bootstrap,
        client_id=settings.service_name,
        auth=settings.kafka_auth,
        timeout_s=timeout_s,
    )
    return await stack.enter_async_context(publisher)


def open_redis(stack: AsyncExitStack, url: str, *, timeout_s: float) -> aioredis.Redis:
    """A Redis client whose every command gives up after ``timeout_s``: Redis degrades features,
    and a hung Redis must not hold a request longer than that. Connects on first use."""
    redis = aioredis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    stack.push_async_callback(redis.aclose)
    return redis


async def open_pool(
    stack: AsyncExitStack, dsn: str, *, min_size: int, max_size: int
) -> asyncpg.Pool:
    pool = await create_pool(dsn, min_size=min_size, max_size=max_size)
    stack.push_async_callback(pool.close)
    return pool
