"""Coalescing: concurrent callers share one round trip and each gets its own answer."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from redis.exceptions import TimeoutError as RedisTimeoutError

from gelombang.breaker import Breaker
from gelombang.coalesce import Coalescer, PipelinedRedis, RedisUnavailable, command
from tests.unit.fakes import FakeClock


class Squares:
    """A fake backend that records each batch it was asked for."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail

    async def run_many(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("backend down")
        return [i * i for i in items]


async def test_concurrent_callers_share_one_batch_and_get_their_own_results() -> None:
    backend = Squares()
    square = Coalescer(backend.run_many)
    results = await asyncio.gather(*(square(i) for i in range(10)))
    assert results == [i * i for i in range(10)]
    assert backend.batches == [list(range(10))]


async def test_a_lone_caller_is_not_kept_waiting_for_company() -> None:
    backend = Squares()
    square = Coalescer(backend.run_many)
    assert await asyncio.wait_for(square(7), timeout=1) == 49
    assert await square(8) == 64
    assert backend.batches == [[7], [8]]


async def test_batches_are_capped() -> None:
    backend = Squares()
    square = Coalescer(backend.run_many, max_batch=4)
    await asyncio.gather(*(square(i) for i in range(10)))
    assert [len(b) for b in backend.batches] == [4, 4, 2]


async def test_a_failed_round_trip_reaches_every_caller_in_it() -> None:
    square = Coalescer(Squares(fail=True).run_many)
    results = await asyncio.gather(*(square(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)


async def test_a_caller_that_gave_up_does_not_disturb_the_others() -> None:
    backend = Squares()
    square = Coalescer(backend.run_many)
    impatient = asyncio.ensure_future(square(2))
    patient = asyncio.ensure_future(square(3))
    await asyncio.sleep(0)
    impatient.cancel()
    assert await patient == 9
    with pytest.raises(asyncio.CancelledError):
        await impatient


class PausedRedis:
    """A Redis client whose round trips time out while ``stopped`` (a SIGSTOPped server) and
    echo their commands' first argument otherwise; counts the round trips it was asked for."""

    def __init__(self) -> None:
        self.stopped = True
        self.round_trips = 0

    def pipeline(self, transaction: bool) -> FakePipeline:
        return FakePipeline(self)


class FakePipeline:
    def __init__(self, redis: PausedRedis) -> None:
        self._redis = redis
        self._commands: list[tuple[Any, ...]] = []

    async def __aenter__(self) -> FakePipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def execute_command(self, *args: Any, **_: Any) -> None:
        self._commands.append(args)

    async def execute(self, raise_on_error: bool) -> list[Any]:
        self._redis.round_trips += 1
        if self._redis.stopped:
            raise RedisTimeoutError("Timeout reading from 127.0.0.1:6379")
        return [args[1] for args in self._commands]


async def test_after_a_redis_timeout_calls_fail_at_once_until_a_probe_finds_it_back() -> None:
    client = PausedRedis()
    clock = FakeClock(10.0)
    redis = PipelinedRedis(cast(Any, client), Breaker(open_s=1.0, clock=clock))

    with pytest.raises(RedisTimeoutError):
        await redis.run(command("GET", "a"))
    # Every sign-up in the next second is told at once, without a round trip to wait out.
    for _ in range(50):
        with pytest.raises(RedisUnavailable):
            await redis.run(command("GET", "b"))
    assert client.round_trips == 1

    clock.now += 1.0  # the probe, still stopped: open again for another second
    with pytest.raises(RedisTimeoutError):
        await redis.run(command("GET", "c"))
    with pytest.raises(RedisUnavailable):
        await redis.run(command("GET", "d"))
    assert client.round_trips == 2

    client.stopped = False
    clock.now += 1.0
    assert await redis.run(command("GET", "e")) == ["e"]
    assert await asyncio.gather(*(redis.run(command("GET", k)) for k in "fgh")) == [
        ["f"],
        ["g"],
        ["h"],
    ]
    assert client.round_trips == 4  # the probe, then the three together


async def test_without_a_breaker_every_call_waits_for_redis_itself() -> None:
    client = PausedRedis()
    redis = PipelinedRedis(cast(Any, client))
    for _ in range(3):
        with pytest.raises(RedisTimeoutError):
            await redis.run(command("GET", "a"))
    assert client.round_trips == 3
