"""Kafka producer and consumer helpers with the project's delivery rules built in.

Producer: acks=all and idempotence, always; a publish either returns after the broker has the
record on all in-sync replicas or raises ``PublishFailed`` within a bounded time.
Consumer: no auto-commit; offsets are committed only after the batch handler has stored its
effects; a record that cannot be decoded, or that the handler keeps failing on for a reason that is
not a store or broker being down, goes to ``<topic>.dlq`` instead of blocking the partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.helpers import create_ssl_context
from redis.exceptions import RedisError
from tenacity import AsyncRetrying, stop_after_delay, wait_random_exponential

from gelombang.events import Event, dead_letter_topic, decode_event
from gelombang.logs import get_logger
from gelombang.metrics import (
    KAFKA_COMMIT_FAILED,
    KAFKA_CONSUMED,
    KAFKA_CONSUMER_LAG,
    KAFKA_DEAD_LETTERED,
    KAFKA_PRODUCE_ERRORS,
    KAFKA_PRODUCE_LATENCY,
    KAFKA_PRODUCED,
)
from gelombang.settings import CommonSettings, KafkaAuth

log = get_logger(__name__)

EVENT_TYPE_HEADER = "event_type"


class PublishFailed(Exception):
    """Kafka did not acknowledge the record in time; the caller must not claim durability."""


def aiokafka_auth(auth: KafkaAuth) -> dict[str, Any]:
    """aiokafka's options for ``auth``: pass them to every client (producer, consumer, admin)."""
    if not auth.sasl:
        return {"security_protocol": "PLAINTEXT"}
    options: dict[str, Any] = {
        "security_protocol": auth.protocol,
        "sasl_mechanism": auth.mechanism,
        "sasl_plain_username": auth.username,
        "sasl_plain_password": auth.password,
    }
    if auth.protocol == "SASL_SSL":
        options["ssl_context"] = create_ssl_context(cafile=auth.ca_file or None)
    return options


def aiokafka_connection(settings: CommonSettings) -> dict[str, Any]:
    """The brokers and this process's principal, for a client built by hand (admin, reader)."""
    return {"bootstrap_servers": settings.kafka_bootstrap, **aiokafka_auth(settings.kafka_auth)}


def make_producer(
    bootstrap: str, client_id: str, *, auth: KafkaAuth, **overrides: Any
) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        **aiokafka_auth(auth),
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        # A few ms of linger lets concurrent requests share a batch (one fsync'd append instead
        # of many) without adding noticeable latency at the API. An environment knob so `make
        # bench` runs can compare values without a code change (README, Performance).
        "linger_ms": int(os.environ.get("GELOMBANG_KAFKA_LINGER_MS", "5")),
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 10_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def start_producer(producer: AIOKafkaProducer, within_s: float = 60.0) -> None:
    """Kafka may still be electing a controller when an API starts: retry with jitter instead
    of crash-looping."""
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(within_s), wait=wait_random_exponential(max=3), reraise=True
    ):
        with attempt:
            await producer.start()


class RawPublisher(Protocol):
    async def publish_raw(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None: ...


class EventPublishing(RawPublisher):
    """Events published as records that name their type, on top of a subclass's
    ``publish_raw`` (aiokafka's below, librdkafka's in ``gelombang.rdkafka``)."""

    async def publish(self, topic: str, key: bytes, event: Event) -> None:
        await self.publish_raw(
            topic, key, event.to_bytes(), [(EVENT_TYPE_HEADER, event.event_type.encode())]
        )


@dataclass(eq=False)
class EventPublisher(EventPublishing):
    producer: AIOKafkaProducer
    timeout_s: float = 8.0

    async def publish_raw(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        started = time.perf_counter()
        try:
            # asyncio.timeout, not wait_for: wait_for wraps the send in a task of its own, one
            # more task per sign-up on the intake path. Either way a record we stopped waiting
            # for may still be delivered (aiokafka keeps the batch), which the callers allow for.
            async with asyncio.timeout(self.timeout_s):
                await self.producer.send_and_wait(topic, value=value, key=key, headers=headers)
        except (KafkaError, TimeoutError, OSError) as exc:
            KAFKA_PRODUCE_ERRORS.labels(topic, type(exc).__name__).inc()
            raise PublishFailed(f"{topic}: {type(exc).__name__}") from exc
        KAFKA_PRODUCE_LATENCY.labels(topic).observe(time.perf_counter() - started)
        KAFKA_PRODUCED.labels(topic).inc()


def make_consumer(
    bootstrap: str, group_id: str, topics: Sequence[str], *, auth: KafkaAuth, **overrides: Any
) -> AIOKafkaConsumer:
    options: dict[str, Any] = {
        **aiokafka_auth(auth),
        "bootstrap_servers": bootstrap,
        "group_id": group_id,
        "client_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 1000,
        # Consumers are the niced background work: in a spike intake takes the cores, and a
        # worker's event loop may not run for seconds. With the default 10 s session such a
        # worker was declared dead and its group rebalanced again and again (22 rejoins in one
        # worker's log after a 30 s spike at 800/s), replaying batches instead of draining
        # them. A killed worker's partitions now wait up to 30 s for a new owner.
        "session_timeout_ms": 30_000,
        "heartbeat_interval_ms": 3_000,
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


@dataclass(frozen=True)
class Delivered:
    """One decoded record, with what a handler needs for idempotency and ordering."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    event: Event


BatchHandler = Callable[[list[Delivered]], Awaitable[None]]


def decode_record(record: ConsumerRecord[bytes, bytes]) -> Delivered:
    """The event in ``record`` (by its type header); raises if it does not decode."""
    headers = dict(record.headers or ())
    event_type = headers.get(EVENT_TYPE_HEADER, b"").decode(errors="replace")
    event = decode_event(event_type, record.value or b"")
    return Delivered(record.topic, record.partition, record.offset, record.key, event)


# A store or the broker is briefly unavailable; the records are not at fault. Such a batch waits
# for as long as it takes and is never parked: `make chaos` fills Postgres' disk, and nothing may
# be dead-lettered then.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # ConnectionError and TimeoutError are OSErrors too
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, statement timeout
    asyncpg.exceptions.InsufficientResourcesError,  # disk full, out of memory or connections
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization failure
    PublishFailed,
    KafkaError,
    RedisError,
)


def _sqlstate(exc: BaseException) -> str | None:
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else None


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same records later can succeed without anyone touching them."""
    if isinstance(exc, ValueError):
        # asyncpg's "invalid input for query argument" is an InterfaceError and a ValueError:
        # the record's value cannot be encoded, so waiting would stall the partition for good.
        return False
    # SQLSTATE class 42 (undefined table or column, permission denied) is the code's or the
    # schema's fault, never a value's: parking would send every record to the dead-letter topic
    # (say, a deploy ahead of its migration). Waiting shows as lag and keeps them in order.
    return isinstance(exc, TRANSIENT_ERRORS) or (_sqlstate(exc) or "").startswith("42")


def failure_reason(exc: BaseException) -> str:
    """Class and SQLSTATE only: an exception's message may quote the record's personal data."""
    sqlstate = _sqlstate(exc)
    name = type(exc).__name__
    return f"{name} (SQLSTATE {sqlstate})" if sqlstate else name


class ConsumerLoop:
    """Poll, decode, hand a batch to the handler, then commit. Stops when ``stop()`` is called."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        group_id: str,
        handler: BatchHandler,
        dead_letters: RawPublisher,
        poll_timeout_ms: int = 500,
        attempts: int = 3,
        retry_delay_s: float = 0.2,
        max_retry_delay_s: float = 10.0,
    ) -> None:
        self._consumer = consumer
        self._group = group_id
        self._handler = handler
        self._dead_letters = dead_letters
        self._poll_timeout_ms = poll_timeout_ms
        # Failures that may be the records' fault, per batch and then per record, before a
        # record is parked; transient ones are retried without a bound.
        self._attempts = attempts
        self._retry_delay_s = retry_delay_s
        self._max_retry_delay_s = max_retry_delay_s
        self._stopping = asyncio.Event()
        self.last_poll_monotonic = 0.0
        self._lag_reported: set[tuple[str, int]] = set()
        # A series that exists at 0 before the first dead letter: otherwise increase() cannot
        # see the first one, and the DLQ alert would miss it.
        for topic in consumer.subscription() or ():
            KAFKA_DEAD_LETTERED.labels(group_id, topic)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(timeout_ms=self._poll_timeout_ms)
            self.last_poll_monotonic = time.monotonic()
            records: list[ConsumerRecord[bytes, bytes]] = [
                record for partition_records in batches.values() for record in partition_records
            ]
            if records:
                await self._handle(records)
                # Every record's effects are stored, or it is dead-lettered: only now may the
                # offsets move.
                try:
                    await self._consumer.commit()
                except CommitFailedError:
                    # The group rebalanced while this batch was handled (a long pause, a
                    # stopped process): the partitions' new owner replays it from the last
                    # commit, and handlers are idempotent. Keep consuming rather than exit;
                    # nothing restarts a worker that gave up.
                    KAFKA_COMMIT_FAILED.labels(self._group).inc()
                    log.warning("commit_failed_after_rebalance", group=self._group)
                    continue
                for record in records:
                    KAFKA_CONSUMED.labels(self._group, record.topic).inc()
            await self._report_lag()

    async def _handle(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        decoded: list[tuple[ConsumerRecord[bytes, bytes], Delivered]] = []
        for record in records:
            try:
                decoded.append((record, decode_record(record)))
            except Exception as exc:
                await self._park(record, exc)
        if not decoded:
            return
        error = await self._attempt([d for _, d in decoded])
        if error is None:
            return
        if len(decoded) == 1:  # that was the record alone: it has had its attempts
            await self._park(decoded[0][0], error)
            return
        # Some record keeps failing: one at a time, in the log's order, so that only that record
        # is parked and every other one keeps its effects and its place in its key's order.
        for record, delivered in decoded:
            error = await self._attempt([delivered])
            if error is not None:
                await self._park(record, error)

    async def _attempt(self, batch: list[Delivered]) -> Exception | None:
        """Hand ``batch`` to the handler until it succeeds (None) or has failed ``attempts``
        times for a reason that may be the records' (that error is returned)."""
        failures = 0
        delay = self._retry_delay_s
        while True:
            try:
                await self._handler(batch)
                return None
            except Exception as exc:
                # A store that is briefly down (Postgres restart, full disk) must delay the
                # records, never park them: only other failures count towards the bound.
                transient = is_transient(exc)
                if not transient:
                    failures += 1
                log.warning(
                    "batch_failed_retrying",
                    group=self._group,
                    size=len(batch),
                    error=failure_reason(exc),
                    transient=transient,
                )
                if self._stopping.is_set():
                    # Nothing was committed: the partition's next owner replays the batch.
                    raise
                if failures >= self._attempts:
                    return exc
                delay = await self._back_off(delay)

    async def _back_off(self, delay: float) -> float:
        await asyncio.sleep(delay)
        return min(delay * 2, self._max_retry_delay_s)

    async def _park(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> None:
        """Move ``record`` to its dead-letter topic; it is skipped only once Kafka has it there."""
        headers = list(record.headers or ()) + [
            ("dlq_error", type(exc).__name__.encode()),
            ("dlq_reason", failure_reason(exc).encode()),
            ("dlq_source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
            ("dlq_group", self._group.encode()),
        ]
        delay = self._retry_delay_s
        while True:
            try:
                await self._dead_letters.publish_raw(
                    dead_letter_topic(record.topic), record.key, record.value or b"", headers
                )
                break
            except PublishFailed:
                log.warning("dead_letter_publish_failed", group=self._group, topic=record.topic)
                if self._stopping.is_set():
                    raise
                delay = await self._back_off(delay)
        KAFKA_DEAD_LETTERED.labels(self._group, record.topic).inc()
        # Where it came from and why, never its key or value: both may identify a person.
        log.warning(
            "dead_lettered",
            group=self._group,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=failure_reason(exc),
        )

    async def _report_lag(self) -> None:
        assigned = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        # A partition moved to another worker by a rebalance is that worker's to report; a
        # frozen value left here would be summed with its live one.
        for topic, partition in self._lag_reported - assigned:
            with contextlib.suppress(KeyError):  # assigned but never measured
                KAFKA_CONSUMER_LAG.remove(self._group, topic, str(partition))
        self._lag_reported = assigned
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await self._consumer.position(tp)
            except KafkaError:
                continue
            lag = max(0, int(highwater) - int(position))
            KAFKA_CONSUMER_LAG.labels(self._group, tp.topic, str(tp.partition)).set(lag)
