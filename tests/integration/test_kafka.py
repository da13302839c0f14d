"""The broker the whole design rests on: topics, idempotent produce, consumer-group commits."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from gelombang.kafka import EventPublisher, aiokafka_connection, make_consumer, make_producer
from gelombang.settings import CommonSettings
from gelombang.topics import ALL_TOPICS
from tests.integration.conftest import describe_topics

pytestmark = pytest.mark.integration


async def test_project_topics_exist_with_partitions_for_scaling(settings: CommonSettings) -> None:
    described = await describe_topics(settings, ALL_TOPICS)
    counts = {d["topic"]: len(d["partitions"]) for d in described}
    assert set(counts) == set(ALL_TOPICS)
    assert all(count == settings.topic_partitions for count in counts.values())


async def scratch_topic(settings: CommonSettings, partitions: int = 3) -> str:
    name = f"it.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(**aiokafka_connection(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, replication_factor=1)])
    finally:
        await admin.close()
    return name


async def test_idempotent_producer_and_group_commit_resume_after_last_commit(
    settings: CommonSettings,
) -> None:
    topic = await scratch_topic(settings, partitions=1)
    producer = make_producer(
        settings.kafka_bootstrap, client_id="it-producer", auth=settings.kafka_auth
    )
    await producer.start()
    try:
        publisher = EventPublisher(producer)
        for i in range(10):
            await publisher.publish_raw(topic, b"k", f"m{i}".encode(), [])
        # The broker handed this producer an id (InitProducerId): it is running idempotently,
        # so broker-side retries are de-duplicated by (producer id, sequence).
        txn = producer._txn_manager
        assert txn is not None and txn.producer_id >= 0
        assert producer._sender._acks == -1  # acks=all
    finally:
        await producer.stop()

    group = f"it-group-{uuid.uuid4().hex[:8]}"
    first = make_consumer(settings.kafka_bootstrap, group, [topic], auth=settings.kafka_auth)
    await first.start()
    try:
        got: list[bytes] = []
        while len(got) < 4:
            batch = await first.getmany(timeout_ms=2000, max_records=4 - len(got))
            got += [r.value for records in batch.values() for r in records if r.value]
        await first.commit()
    finally:
        await first.stop()
    assert got == [b"m0", b"m1", b"m2", b"m3"]

    second: AIOKafkaConsumer = make_consumer(
        settings.kafka_bootstrap, group, [topic], auth=settings.kafka_auth
    )
    await second.start()
    try:
        rest: list[bytes] = []
        while len(rest) < 6:
            batch = await second.getmany(timeout_ms=2000)
            rest += [r.value for records in batch.values() for r in records if r.value]
        committed = await second.committed(TopicPartition(topic, 0))
    finally:
        await second.stop()
    # Exactly the uncommitted tail, each once: nothing lost, nothing repeated.
    assert rest == [f"m{i}".encode() for i in range(4, 10)]
    assert committed == 4
