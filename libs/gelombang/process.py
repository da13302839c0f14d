"""The shell of a worker process, written once: what it opens, runs and closes, in order.

A worker (projector, verification, selection) opens a Postgres pool, Kafka clients and maybe
Redis; runs a consumer loop, background rounds and the probes server; and on SIGTERM stops the
loops first and closes what it opened last, in reverse order. Written by hand in each worker,
a failure halfway through start-up left what was already open unclosed, and every worker had
its own copy of the signal handling and shutdown order.

    async def run(settings: ProjectorSettings, host: str, port: int) -> None:
        async with WorkerShell("projector") as shell:
            pool = await shell.pool(settings.database_url, max_size=settings.db_pool_max)
            publisher = await shell.publisher(settings, client_id=settings.group_id)
            loop = await shell.consume_topics(settings, TOPICS, handle, publisher)
            shell.every("outbox", relay, 0.5)
            # until SIGTERM/SIGINT or a part fails
            await shell.serve(consumer_ready(loop, pool), host, port)

    def main() -> None:
        run_worker(run, ProjectorSettings, description="Gelombang status projector", port=9101)

Everything entered is closed when the ``async with`` ends, whether start-up finished or not.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Protocol, TypeVar

import asyncpg
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from gelombang.command_line import command_line
from gelombang.kafka import (
    BatchHandler,
    ConsumerLoop,
    EventPublisher,
    make_consumer,
    make_producer,
    start_producer,
)
from gelombang.logs import get_logger
from gelombang.postgres import create_pool
from gelombang.probes import Checks, ReadinessCheck, database_reachable, probes_server
from gelombang.rounds import repeat, run_until_stopped
from gelombang.settings import CommonSettings, KafkaAuth

log = get_logger(__name__)

L = TypeVar("L", bound="Stoppable")
S = TypeVar("S", bound=CommonSettings)

# A consumer that has not polled for this long is stuck (a poll returns within a second even
# when there is nothing to read), and the worker is not ready.
POLL_STALE_S = 30.0


class Stoppable(Protocol):
    """A loop that runs until told to stop (gelombang.kafka.ConsumerLoop and the like)."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class KafkaSettings(Protocol):
    """What a worker's settings say about its Kafka clients (every worker's settings class)."""

    kafka_bootstrap: str
    group_id: str

    @property
    def kafka_auth(self) -> KafkaAuth: ...


class WorkerShell:
    def __init__(self, name: str) -> None:
        self.name = name
        # Set by SIGTERM/SIGINT, by a part that ends on its own, or by the caller.
        self.stop = asyncio.Event()
        self._resources = AsyncExitStack()
        # Every part loops until stopped: one that ends on its own has failed, and stops the
        # worker rather than leave it running without that part.
        self._tasks: list[asyncio.Task[Any]] = []
        self._loops: list[Stoppable] = []
        self._probes: uvicorn.Server | None = None

    async def __aenter__(self) -> WorkerShell:
        await self._resources.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        await self._wind_down()
        return await self._resources.__aexit__(exc_type, exc, tb)

    # -- What the worker opens: closed in reverse order on the way out ------------------------

    def on_close(self, close: Callable[[], Awaitable[Any]]) -> None:
        """Close something already open when the worker ends (e.g. a Redis client's aclose)."""
        self._resources.push_async_callback(close)

    async def pool(self, dsn: str, *, max_size: int, min_size: int = 1) -> asyncpg.Pool:
        pool = await create_pool(dsn, min_size=min_size, max_size=max_size)
        self._resources.push_async_callback(pool.close)
        return pool

    async def producer(self, producer: AIOKafkaProducer) -> AIOKafkaProducer:
        # With retries: Kafka may still be electing a controller when the stack starts.
        await start_producer(producer)
        self._resources.push_async_callback(producer.stop)
        return producer

    async def consumer(self, consumer: AIOKafkaConsumer) -> AIOKafkaConsumer:
        await consumer.start()
        self._resources.push_async_callback(consumer.stop)
        return consumer

    async def publisher(self, settings: KafkaSettings, *, client_id: str) -> EventPublisher:
        """The worker's producer (started, closed on the way out), as its events' publisher."""
        producer = make_producer(
            settings.kafka_bootstrap, client_id=client_id, auth=settings.kafka_auth
        )
        return EventPublisher(await self.producer(producer))

    async def consume_topics(
        self,
        settings: KafkaSettings,
        topics: Sequence[str],
        handler: BatchHandler,
        dead_letters: EventPublisher,
        name: str | None = None,
    ) -> ConsumerLoop:
        """Join the worker's consumer group on ``topics`` and hand each batch to ``handler``
        (records it cannot take go to their dead-letter topic through ``dead_letters``)."""
        consumer = await self.consumer(
            make_consumer(
                settings.kafka_bootstrap, settings.group_id, topics, auth=settings.kafka_auth
            )
        )
        return self.consume(ConsumerLoop(consumer, settings.group_id, handler, dead_letters), name)

    # -- What it runs -------------------------------------------------------------------------

    def consume(self, loop: L, name: str | None = None) -> L:
        """Run a consumer loop; the worker stops if it ends on its own."""
        self._loops.append(loop)
        self.task(name or self.name, loop.run())
        return loop

    def every(
        self,
        name: str,
        round_: Callable[[], Awaitable[int]],
        idle_s: float,
        wake: asyncio.Event | None = None,
    ) -> None:
        """A background round (outbox relay, sweeps, gauges): again at once while it finds
        work, after ``idle_s`` when it does not, later after a failure (gelombang.rounds)."""
        self.task(name, repeat(name, round_, idle_s, self.stop, wake))

    def task(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Any other job that runs until ``stop`` is set, and then ends by itself."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        return task

    async def serve(self, ready: ReadinessCheck, host: str, port: int) -> None:
        """Serve /healthz, /readyz and /metrics, and wait until SIGTERM/SIGINT or a part ends;
        then stop the loops (the ``async with`` closes the rest)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        self._probes = probes_server(ready, host, port)
        self.task("probes", self._probes.serve())
        await self.run()

    async def run(self) -> None:
        """Wait until ``stop`` is set or a part ends (a failure: logged, and the worker winds
        down instead of running on without it)."""
        log.info(f"{self.name}_started")
        await run_until_stopped(self._tasks, self.stop)

    async def _wind_down(self) -> None:
        self.stop.set()
        for loop in self._loops:
            loop.stop()
        if self._probes is not None:
            self._probes.should_exit = True  # uvicorn stops at its next tick
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        log.info(f"{self.name}_stopped")


class Polling(Protocol):
    last_poll_monotonic: float  # gelombang.kafka.ConsumerLoop's


def consumer_ready(loop: Polling, pool: asyncpg.Pool) -> ReadinessCheck:
    """A consuming worker's readiness: its consumer polls, and its database answers."""

    async def ready() -> Checks:
        polling = time.monotonic() - loop.last_poll_monotonic < POLL_STALE_S
        return {"kafka": polling, "postgres": await database_reachable(pool)}

    return ready


def run_worker(
    run: Callable[[S, str, int], Coroutine[Any, Any, None]],
    settings: Callable[[], S],
    *,
    description: str,
    port: int,
) -> None:
    """A worker's ``main``: its command line (``--port`` is its probes'), then ``run`` until
    it ends."""
    chosen, host, chosen_port = command_line(settings, description=description, port=port)
    asyncio.run(run(chosen, host, chosen_port))
