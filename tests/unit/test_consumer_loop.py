"""The consumer loop with a fake consumer, handler and dead-letter publisher: a record the
handler keeps failing on is parked and the partition moves on; a store that is down is waited
for, never a reason to park anything; offsets move only once every record is stored or parked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import asyncpg
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError
from asyncpg.exceptions._base import DataError as ArgumentNotEncodable
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from gelombang.events import ContactCodeResendRequested
from gelombang.kafka import (
    ConsumerLoop,
    Delivered,
    PublishFailed,
    failure_reason,
    is_transient,
)

TOPIC = "registrations.submitted"
# What a Postgres message may quote: it must never reach a header or a log.
PERSONAL = "3171234567890001"


def poison() -> Exception:
    error: Exception = asyncpg.exceptions.StringDataRightTruncationError(
        f"value too long: {PERSONAL}"
    )
    return error


def record(offset: int, value: bytes | None = None) -> ConsumerRecord[bytes, bytes]:
    if value is None:
        value = ContactCodeResendRequested(registration_id=uuid.uuid4()).to_bytes()
    key = f"key-{offset}".encode()
    return ConsumerRecord(
        topic=TOPIC,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=[("event_type", b"ContactCodeResendRequested")],
    )


class FakeConsumer:
    """Hands out the given records as one poll, then stops the loop (``on_drained``)."""

    def __init__(self, records: list[ConsumerRecord[bytes, bytes]], journal: list[str]) -> None:
        self._polls = [{TopicPartition(TOPIC, 0): records}]
        self._journal = journal
        self.loop: ConsumerLoop | None = None

    async def getmany(
        self, timeout_ms: int = 0
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        if self._polls:
            return self._polls.pop(0)
        assert self.loop is not None
        self.loop.stop()
        return {}

    async def commit(self) -> None:
        self._journal.append("commit")

    def subscription(self) -> frozenset[str]:
        return frozenset({TOPIC})

    def assignment(self) -> set[TopicPartition]:
        return set()


@dataclass
class FakeHandler:
    journal: list[str]
    # offset -> error raised whenever that record is in the batch
    always: dict[int, Exception] = field(default_factory=dict)
    # raised by the first calls, one each, whatever the batch holds
    first: list[Exception] = field(default_factory=list)
    calls: list[list[int]] = field(default_factory=list)

    async def __call__(self, batch: list[Delivered]) -> None:
        offsets = [d.offset for d in batch]
        self.calls.append(offsets)
        if self.first:
            raise self.first.pop(0)
        for offset in offsets:
            if offset in self.always:
                raise self.always[offset]
        self.journal.extend(f"handled {o}" for o in offsets)


@dataclass
class FakeDeadLetters:
    journal: list[str]
    outages: int = 0
    published: list[tuple[str, bytes | None, bytes, dict[str, bytes]]] = field(
        default_factory=list
    )

    async def publish_raw(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        if self.outages:
            self.outages -= 1
            raise PublishFailed(topic)
        self.published.append((topic, key, value, dict(headers)))
        self.journal.append(f"parked {dict(headers)['dlq_source'].decode().rsplit('/', 1)[1]}")


@dataclass
class Rig:
    journal: list[str]
    handler: FakeHandler
    dead_letters: FakeDeadLetters
    loop: ConsumerLoop
    group: str

    def dead_lettered(self) -> float | None:
        labels = {"group": self.group, "topic": TOPIC}
        return REGISTRY.get_sample_value("kafka_dead_lettered_total", labels)


def rig(
    records: list[ConsumerRecord[bytes, bytes]],
    always: dict[int, Exception] | None = None,
    first: list[Exception] | None = None,
    attempts: int = 3,
    dlq_outages: int = 0,
) -> Rig:
    journal: list[str] = []
    consumer = FakeConsumer(records, journal)
    handler = FakeHandler(journal, always or {}, first or [])
    dead_letters = FakeDeadLetters(journal, dlq_outages)
    group = f"unit-{uuid.uuid4().hex[:8]}"  # a fresh counter series per test
    loop = ConsumerLoop(
        consumer,
        group,
        handler,
        dead_letters,
        attempts=attempts,
        retry_delay_s=0.001,
        max_retry_delay_s=0.004,
    )
    consumer.loop = loop
    return Rig(journal, handler, dead_letters, loop, group)


@pytest.mark.parametrize("attempts", [1, 3, 5])
async def test_a_poison_record_mid_batch_is_parked_and_the_others_are_handled_in_order(
    attempts: int,
) -> None:
    records = [record(offset) for offset in range(5)]
    r = rig(records, always={2: poison()}, attempts=attempts)
    assert r.dead_lettered() == 0  # the alert needs the series before the first dead letter

    await r.loop.run()

    # The whole batch `attempts` times, then each record alone, the poison one `attempts` times.
    assert r.handler.calls == [[0, 1, 2, 3, 4]] * attempts + (
        [[0], [1]] + [[2]] * attempts + [[3], [4]]
    )
    assert r.journal == [
        "handled 0",
        "handled 1",
        "parked 2",
        "handled 3",
        "handled 4",
        "commit",  # only once every record is stored or parked
    ]
    [(topic, key, value, headers)] = r.dead_letters.published
    assert (topic, key, value) == (f"{TOPIC}.dlq", b"key-2", records[2].value)
    assert headers["event_type"] == b"ContactCodeResendRequested"
    assert headers["dlq_error"] == b"StringDataRightTruncationError"
    assert headers["dlq_reason"] == b"StringDataRightTruncationError (SQLSTATE 22001)"
    assert headers["dlq_source"] == f"{TOPIC}/0/2".encode()
    assert headers["dlq_group"] == r.group.encode()
    assert not any(PERSONAL.encode() in v for v in headers.values())
    assert r.dead_lettered() == 1


async def test_a_poison_record_alone_in_its_batch_is_tried_attempts_times_in_all() -> None:
    r = rig([record(7)], always={7: poison()}, attempts=3)

    await r.loop.run()

    assert r.handler.calls == [[7]] * 3
    assert r.journal == ["parked 7", "commit"]
    assert r.dead_lettered() == 1


@pytest.mark.parametrize(
    "outage",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        asyncpg.exceptions.ConnectionDoesNotExistError(),
        asyncpg.exceptions.CannotConnectNowError(),
        asyncpg.exceptions.AdminShutdownError(),
        asyncpg.exceptions.DiskFullError(),  # `make chaos` fills Postgres' disk
        asyncpg.exceptions.DeadlockDetectedError(),
        asyncpg.InterfaceError("connection is closed"),
        PublishFailed(TOPIC),
        KafkaConnectionError(),
        RedisConnectionError(),
    ],
    ids=lambda exc: type(exc).__name__,
)
async def test_a_transient_error_is_retried_past_the_bound_and_never_parks_anything(
    outage: Exception,
) -> None:
    r = rig([record(0), record(1), record(2)], first=[outage] * 7, attempts=3)

    await r.loop.run()

    # Never split up either: the store being down says nothing about any one record.
    assert r.handler.calls == [[0, 1, 2]] * 8
    assert r.journal == ["handled 0", "handled 1", "handled 2", "commit"]
    assert r.dead_letters.published == []
    assert r.dead_lettered() == 0


async def test_transient_failures_do_not_count_towards_a_poison_records_bound() -> None:
    disk_full = asyncpg.exceptions.DiskFullError()
    r = rig([record(0), record(1), record(2)], always={1: poison()}, first=[disk_full] * 4)

    await r.loop.run()

    assert r.handler.calls == [[0, 1, 2]] * (4 + 3) + [[0], [1], [1], [1], [2]]
    assert r.journal == ["handled 0", "parked 1", "handled 2", "commit"]


async def test_an_undecodable_record_is_parked_even_while_kafka_refuses_it_at_first() -> None:
    r = rig([record(0), record(1, value=b"not json"), record(2)], dlq_outages=2)

    await r.loop.run()

    assert r.handler.calls == [[0, 2]]
    assert r.journal == ["parked 1", "handled 0", "handled 2", "commit"]
    [(_, _, value, headers)] = r.dead_letters.published
    assert value == b"not json"
    assert headers["dlq_reason"] == b"ValidationError"
    assert r.dead_lettered() == 1


async def test_a_stop_during_an_outage_commits_nothing_and_parks_nothing() -> None:
    journal: list[str] = []
    consumer = FakeConsumer([record(0), record(1)], journal)
    calls: list[list[int]] = []

    async def down(batch: list[Delivered]) -> None:
        calls.append([d.offset for d in batch])
        if len(calls) == 2:
            loop.stop()
        raise ConnectionRefusedError()

    dead_letters = FakeDeadLetters(journal)
    loop = ConsumerLoop(consumer, "unit-stop", down, dead_letters, retry_delay_s=0.001)
    consumer.loop = loop
    with pytest.raises(ConnectionRefusedError):
        await loop.run()
    assert calls == [[0, 1], [0, 1]]
    assert journal == []  # the partition's next owner replays both records
    assert dead_letters.published == []


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (OSError(), True),
        (asyncpg.InternalClientError(), True),
        (asyncpg.exceptions.TooManyConnectionsError(), True),
        (asyncpg.exceptions.SerializationError(), True),
        (asyncpg.exceptions.UndefinedColumnError(), True),  # code ahead of its migration
        (asyncpg.exceptions.InsufficientPrivilegeError(), True),
        (asyncpg.exceptions.StringDataRightTruncationError(), False),
        (asyncpg.exceptions.CharacterNotInRepertoireError(), False),  # a NUL byte in text
        (asyncpg.exceptions.NotNullViolationError(), False),
        (ArgumentNotEncodable("invalid input for query argument $1"), False),
        (KeyError("x"), False),
        (ValueError("x"), False),
    ],
    ids=lambda value: type(value).__name__,
)
def test_which_failures_are_waited_out(exc: Exception, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_the_reason_names_the_class_and_sqlstate_never_the_message() -> None:
    assert failure_reason(poison()) == "StringDataRightTruncationError (SQLSTATE 22001)"
    assert failure_reason(KeyError(PERSONAL)) == "KeyError"
