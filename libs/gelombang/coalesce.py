"""Coalescing of concurrent small calls into one round trip.

At peak every sign-up makes a few tiny Redis and Postgres calls. Each is a separate write and
read on a loopback socket, and on a 2-core machine those syscalls (and waking the server for
each) cost more CPU than the work itself (py-spy: ~15% of an API process in socket writes to
Redis alone at 300 sign-ups/s). Requests that reach the same call in the same event-loop
iteration are sent together instead: one Redis pipeline, one ``= ANY($1)`` query.

Nothing waits to fill a batch: a batch is whatever is queued when the loop gets to it, so an
idle system sends batches of one with no added latency, and a busy one sends larger ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gelombang.breaker import Breaker

K = TypeVar("K")
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    """``await coalescer(item)`` → the result for ``item``, computed with others in one call.

    ``run_many`` gets the items queued in one loop iteration and returns their results in the
    same order. If it raises, every caller in that batch gets the exception.
    """

    def __init__(
        self, run_many: Callable[[list[K]], Awaitable[Sequence[V]]], max_batch: int = 512
    ) -> None:
        self._run_many = run_many
        self._max_batch = max_batch
        self._pending: list[tuple[K, asyncio.Future[V]]] = []
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()  # strong refs until done

    async def __call__(self, item: K) -> V:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V] = loop.create_future()
        self._pending.append((item, future))
        if not self._scheduled:
            self._scheduled = True
            # Runs after the callbacks already ready in this iteration: their calls join the batch.
            loop.call_soon(self._launch)
        return await future

    def _launch(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), self._max_batch):
            task = asyncio.ensure_future(self._run(pending[start : start + self._max_batch]))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[K, asyncio.Future[V]]]) -> None:
        try:
            results = await self._run_many([item for item, _ in batch])
        except Exception as exc:  # handed to every caller, each maps it to its own failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # a caller that timed out has cancelled its future
                future.set_result(result)


@dataclass(frozen=True)
class Command:
    args: tuple[Any, ...]
    # Parser options, as redis-py's own methods pass them (e.g. get=True for SET ... GET).
    options: dict[str, Any] = field(default_factory=dict)


def command(*args: Any, **options: Any) -> Command:
    return Command(args, options)


class RedisUnavailable(RedisConnectionError):
    """Not attempted: Redis has just failed to answer (the breaker is open)."""


class PipelinedRedis:
    """Redis commands from concurrent requests sent as one pipeline per loop iteration.

    ``await redis.run(command("INCR", key), command("EXPIRE", key, 60))`` → the parsed replies in
    order. A command's error comes back as the exception instance in its place (the pipeline
    does not stop at it); connection errors and timeouts are raised to every caller.

    With a ``breaker``, a round trip that timed out or lost its connection opens it: calls then
    fail at once with ``RedisUnavailable`` instead of each waiting out the client's timeout
    (``make bench``'s 10 s Redis stop: at 1,300 sign-ups/s a 0.25 s wait each is ~330 sign-ups
    in flight, past the admission's limit, so most of them got 503 for a Redis the sign-up can
    do without).
    """

    def __init__(self, client: aioredis.Redis, breaker: Breaker | None = None) -> None:
        self.client = client
        self.breaker = breaker
        self._batches: Coalescer[tuple[Command, ...], list[Any]] = Coalescer(self._pipeline)

    async def run(self, *commands: Command) -> list[Any]:
        breaker = self.breaker
        if breaker is not None and not breaker.allow():
            raise RedisUnavailable("redis did not answer just now; not attempted")
        return await self._batches(commands)

    async def _pipeline(self, units: list[tuple[Command, ...]]) -> list[list[Any]]:
        breaker = self.breaker
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for unit in units:
                    for command in unit:
                        pipe.execute_command(*command.args, **command.options)
                replies = await pipe.execute(raise_on_error=False)
        except (TimeoutError, RedisTimeoutError, RedisConnectionError, OSError):
            if breaker is not None:
                breaker.failed()
            raise
        if breaker is not None and not breaker.closed:
            breaker.succeeded()
        results: list[list[Any]] = []
        at = 0
        for unit in units:
            results.append(replies[at : at + len(unit)])
            at += len(unit)
        return results


def reply(value: Any) -> Any:
    """One reply from ``PipelinedRedis.run``: raised if it is the command's error."""
    if isinstance(value, Exception):
        raise value
    return value
