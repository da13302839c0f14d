"""The API processes' librdkafka publisher against the real broker: the same partitions as every
other producer of the project, durable answers, and a bounded failure."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner

from gelombang.kafka import EVENT_TYPE_HEADER, PublishFailed, aiokafka_connection
from gelombang.rdkafka import LogUnavailable, RdKafkaPublisher
from gelombang.settings import CommonSettings
from tests.integration.test_kafka import scratch_topic

pytestmark = pytest.mark.integration

PARTITIONS = 6


async def read_all(
    settings: CommonSettings, topic: str, count: int
) -> dict[bytes, tuple[int, bytes]]:
    """key → (partition, value) of the first ``count`` records of ``topic``."""
    consumer = AIOKafkaConsumer(
        topic,
        **aiokafka_connection(settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: dict[bytes, tuple[int, bytes]] = {}
    deadline = time.monotonic() + 60
    try:
        while len(found) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    assert record.key is not None and record.value is not None
                    found[record.key] = (record.partition, record.value)
                    assert (EVENT_TYPE_HEADER, b"test") in list(record.headers)
    finally:
        await consumer.stop()
    return found


async def test_records_land_where_aiokafka_and_java_would_put_them(
    settings: CommonSettings,
) -> None:
    # Every attempt of one NIK must reach the NIK's one partition, whichever process (API on
    # librdkafka, projector on aiokafka) published it: the decider's verdicts depend on it.
    topic = await scratch_topic(settings, partitions=PARTITIONS)
    keys = [uuid.uuid4().hex.encode() for _ in range(200)]
    async with RdKafkaPublisher(
        settings.kafka_bootstrap, "it-rdkafka", timeout_s=10, auth=settings.kafka_auth
    ) as publisher:
        for key in keys:
            await publisher.publish_raw(topic, key, b"v:" + key, [(EVENT_TYPE_HEADER, b"test")])
        assert await publisher.reachable()
    found = await read_all(settings, topic, len(keys))
    assert set(found) == set(keys)  # every acknowledged record is in the log
    partitioner = DefaultPartitioner()
    partitions = list(range(PARTITIONS))
    expected = {key: partitioner(key, partitions, partitions) for key in keys}
    assert {key: partition for key, (partition, _) in found.items()} == expected
    assert len(set(expected.values())) == PARTITIONS  # the keys did spread: a real comparison
    assert all(value == b"v:" + key for key, (_, value) in found.items())


async def test_a_record_the_broker_cannot_take_fails_within_the_timeout(
    settings: CommonSettings,
) -> None:
    # The broker creates no topic on demand: the record can never be delivered, and the caller
    # must hear so within timeout_s (a 503 to retry), not wait forever.
    async with RdKafkaPublisher(
        settings.kafka_bootstrap, "it-rdkafka", timeout_s=2, auth=settings.kafka_auth
    ) as publisher:
        # A generous bound: the point is that it ends (librdkafka's message.timeout.ms).
        async with asyncio.timeout(60):
            with pytest.raises(PublishFailed):
                await publisher.publish_raw(f"it.missing.{uuid.uuid4().hex}", b"k", b"v", [])


async def test_after_a_failed_write_the_next_are_refused_at_once_until_a_probe_succeeds(
    settings: CommonSettings,
) -> None:
    # A record that timed out is how a broker outage looks from here: the sign-ups behind it
    # must get their 503 at once, not each wait the whole timeout, and writes must resume by
    # themselves once the log takes one again.
    topic = await scratch_topic(settings, partitions=1)
    async with RdKafkaPublisher(
        settings.kafka_bootstrap, "it-rdkafka", timeout_s=2, open_s=0.5, auth=settings.kafka_auth
    ) as publisher:
        async with asyncio.timeout(60):
            with pytest.raises(PublishFailed):
                await publisher.publish_raw(f"it.missing.{uuid.uuid4().hex}", b"k", b"v", [])
        started = time.monotonic()
        with pytest.raises(LogUnavailable):
            await publisher.publish_raw(topic, b"k", b"refused", [])
        assert time.monotonic() - started < 0.5
        await asyncio.sleep(0.6)
        async with asyncio.timeout(60):
            await publisher.publish_raw(topic, b"k", b"probe", [(EVENT_TYPE_HEADER, b"test")])
        assert publisher.breaker.closed
        await publisher.publish_raw(topic, b"k", b"after", [(EVENT_TYPE_HEADER, b"test")])
