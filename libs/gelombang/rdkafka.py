"""The API processes' publisher on librdkafka (confluent-kafka): the sign-up path's one write.

Same contract as ``gelombang.kafka.EventPublisher``: acks=all with idempotence, and a publish
either returns after the broker has the record on all in-sync replicas or raises
``PublishFailed`` within a bounded time. Why a second client: on the sign-up path aiokafka's
pure-Python producer (building each record batch, its produce requests and their answers, one
timeout per publish) was about an eighth of an API process's CPU per sign-up (issue 15's
profile); librdkafka does that work in C threads of its own. The workers keep aiokafka: their
consumers and outboxes are not on the hot path.

- Records are partitioned like aiokafka's and Java's default (murmur2 of the key): every attempt
  of one NIK lands in the NIK's one partition whichever process published it (the decider's
  rule depends on it; ``tests/integration/test_rdkafka.py`` checks the two agree).
- A publish waits at most ``timeout_s``: the loop's poll timer fails the oldest waiting publishes
  whose time is up (all share one timeout, so arrival order is deadline order: no timer per
  publish). As with aiokafka, a record we stopped waiting for may still be delivered.
  ``message.timeout.ms`` makes librdkafka report every record, success or failure, soon after.
- While the log cannot take writes (a publish timed out, or librdkafka reported the brokers
  down or too few in-sync replicas), publishes fail at once for ``open_s`` instead of each
  holding its caller for the whole timeout: a sign-up then gets 503 + Retry-After within
  milliseconds (``make chaos`` saw 141 of 1,996 requests get no answer in 10 s during a broker
  kill without this). After ``open_s`` one publish goes through as a probe; its success closes
  the breaker, its failure opens it again.
- Delivery reports are served on the event loop itself: while records are in flight, a timer
  calls ``poll(0)`` every ``POLL_INTERVAL_S``, which runs their callbacks inline. A thread
  blocked in ``poll`` was tried first: each of its callbacks had to take the GIL from the event
  loop, and at 900 sign-ups/s the loop's p99 went from 160 ms to 1.9 s.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections import deque
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from tenacity import AsyncRetrying, stop_after_delay, wait_random_exponential

from gelombang.breaker import Breaker
from gelombang.kafka import EventPublishing, PublishFailed
from gelombang.metrics import KAFKA_PRODUCE_ERRORS, KAFKA_PRODUCE_LATENCY, KAFKA_PRODUCED
from gelombang.settings import KafkaAuth


class TimedOut(PublishFailed):
    """No acknowledgement within the publish's time: the record may still be delivered."""


class DeliveryFailed(PublishFailed):
    """librdkafka reported the record as not delivered."""

    def __init__(self, message: str, unavailable: bool = False) -> None:
        super().__init__(message)
        # The log could not take it (brokers, replicas), rather than this record being wrong.
        self.unavailable = unavailable


class LogUnavailable(PublishFailed):
    """Not attempted: the log has just failed to take writes (the breaker is open)."""


# Delivery errors that say the cluster cannot take writes now, not that the record is bad.
_UNAVAILABLE_CODES = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
    }
)


def librdkafka_auth(auth: KafkaAuth) -> dict[str, Any]:
    """librdkafka's settings for ``auth`` (the same principal rules as ``aiokafka_auth``)."""
    if not auth.sasl:
        return {"security.protocol": "plaintext"}
    config: dict[str, Any] = {
        "security.protocol": auth.protocol.lower(),
        "sasl.mechanisms": auth.mechanism,
        "sasl.username": auth.username,
        "sasl.password": auth.password,
    }
    if auth.ca_file:
        config["ssl.ca.location"] = auth.ca_file
    return config


# How often delivery reports are looked for while records are in flight: a record is answered
# at most this much later than the broker acknowledged it (linger.ms alone is 5 ms).
POLL_INTERVAL_S = 0.002


class RdKafkaPublisher(EventPublishing):
    """``async with RdKafkaPublisher(bootstrap, client_id, auth=...) as publisher:``, then
    ``publish``."""

    def __init__(
        self,
        bootstrap: str,
        client_id: str,
        timeout_s: float = 8.0,
        open_s: float = 1.0,
        *,
        auth: KafkaAuth,
        **overrides: Any,
    ) -> None:
        # The same knob and default as the aiokafka producers (gelombang.kafka).
        linger_ms = int(os.environ.get("GELOMBANG_KAFKA_LINGER_MS", "5"))
        self._config: dict[str, Any] = {
            **librdkafka_auth(auth),
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": linger_ms,
            # librdkafka refuses a message timeout that is not longer than the linger.
            "message.timeout.ms": max(int(timeout_s * 1000), linger_ms + 1),
            "partitioner": "murmur2_random",
            # librdkafka logs through its own channel; errors reach us as delivery reports
            # and, for the cluster as a whole, through error_cb.
            "log_level": 3,
            "error_cb": self._on_error,
        }
        self._config.update(overrides)
        self._timeout_s = timeout_s
        self._producer: Producer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight = 0  # records librdkafka has not reported yet
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()  # (deadline, publish)
        self._polling = False
        self._metrics: dict[str, tuple[Any, Any]] = {}
        # A probe's answer comes within its publish timeout (the poll timer fails it then).
        self.breaker = Breaker(open_s, probe_s=timeout_s)

    async def __aenter__(self) -> RdKafkaPublisher:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def start(self, within_s: float = 60.0) -> None:
        """Kafka may still be electing a controller when an API starts: wait for its metadata
        with jittered retries instead of crash-looping (as ``gelombang.kafka.start_producer``)."""
        self._loop = asyncio.get_running_loop()
        producer = Producer(self._config)
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(within_s), wait=wait_random_exponential(max=3), reraise=True
        ):
            with attempt:
                await asyncio.to_thread(producer.list_topics, timeout=5)
        self._producer = producer

    async def stop(self) -> None:
        producer = self._producer
        if producer is None:
            return
        # Records already accepted get their chance to be delivered (and answered) first.
        deadline = time.monotonic() + self._timeout_s
        while self._in_flight and time.monotonic() < deadline:
            producer.poll(0)
            await asyncio.sleep(POLL_INTERVAL_S)
        self._producer = None

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        """For /readyz: the cluster's metadata can be read now."""
        producer = self._producer
        if producer is None:
            return False
        try:
            await asyncio.to_thread(producer.list_topics, timeout=timeout_s)
        except KafkaException:
            return False
        return True

    async def publish_raw(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        producer, loop = self._producer, self._loop
        if producer is None or loop is None:
            raise PublishFailed(f"{topic}: publisher not started")
        breaker = self.breaker
        if not breaker.allow():
            KAFKA_PRODUCE_ERRORS.labels(topic, "LogUnavailable").inc()
            raise LogUnavailable(f"{topic}: the log is not taking writes; not attempted")
        started = time.perf_counter()
        delivered: asyncio.Future[None] = loop.create_future()
        record_headers: list[tuple[str, str | bytes | None]] = list(headers)
        try:
            producer.produce(
                topic,
                value=value,
                key=key,
                headers=record_headers,
                on_delivery=functools.partial(self._on_delivery, delivered),
            )
        except (BufferError, KafkaException) as exc:  # local queue full, unknown topic …
            KAFKA_PRODUCE_ERRORS.labels(topic, type(exc).__name__).inc()
            if breaker.closed:
                raise PublishFailed(f"{topic}: {type(exc).__name__}") from exc
            breaker.failed()  # a probe that could not even be queued
            raise LogUnavailable(f"{topic}: {type(exc).__name__}") from exc
        self._in_flight += 1
        self._waiting.append((time.monotonic() + self._timeout_s, delivered))
        if not self._polling:
            self._polling = True
            loop.call_later(POLL_INTERVAL_S, self._poll)
        try:
            await delivered
        except PublishFailed as exc:
            KAFKA_PRODUCE_ERRORS.labels(topic, type(exc).__name__).inc()
            if isinstance(exc, TimedOut) or (isinstance(exc, DeliveryFailed) and exc.unavailable):
                breaker.failed()
            elif not breaker.closed:
                breaker.succeeded()  # the log took the probe's turn; the record itself was bad
            raise
        if not breaker.closed:
            breaker.succeeded()
        latency, produced = self._metrics_of(topic)
        latency.observe(time.perf_counter() - started)
        produced.inc()

    def _metrics_of(self, topic: str) -> tuple[Any, Any]:
        # The labelled children looked up once per topic, not on every publish.
        metrics = self._metrics.get(topic)
        if metrics is None:
            metrics = (KAFKA_PRODUCE_LATENCY.labels(topic), KAFKA_PRODUCED.labels(topic))
            self._metrics[topic] = metrics
        return metrics

    def _poll(self) -> None:
        producer = self._producer
        if producer is None:
            self._polling = False
            return
        producer.poll(0)  # runs the callbacks of the reports that arrived, here on the loop
        waiting, now = self._waiting, time.monotonic()
        while waiting and (waiting[0][1].done() or waiting[0][0] <= now):
            _, delivered = waiting.popleft()
            if not delivered.done():
                delivered.set_exception(TimedOut("no acknowledgement in time"))
        if (self._in_flight or waiting) and self._loop is not None:
            self._loop.call_later(POLL_INTERVAL_S, self._poll)
        else:
            self._polling = False

    def _on_delivery(
        self, delivered: asyncio.Future[None], error: KafkaError | None, _: Message
    ) -> None:
        self._in_flight -= 1
        if delivered.done():  # its caller stopped waiting
            return
        if error is None:
            delivered.set_result(None)
        else:
            unavailable = error.code() in _UNAVAILABLE_CODES
            delivered.set_exception(
                DeliveryFailed(f"delivery failed: {error.name()}", unavailable=unavailable)
            )

    def _on_error(self, error: KafkaError) -> None:
        # Called from poll(), on the loop. Every broker gone: no write can succeed until one is
        # back, so stop sending people into a wait that can only end in a timeout.
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.breaker.failed()
