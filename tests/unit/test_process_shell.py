"""The worker shell (gelombang.process): what a worker opened is closed, in reverse order, however
it ends; a part that fails stops the whole worker instead of leaving it half alive."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gelombang.process import POLL_STALE_S, WorkerShell, consumer_ready
from tests.unit.fakes import FakePool


class Loop:
    """A consumer loop stand-in: runs until stopped, or fails when told to."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.stopped = asyncio.Event()
        self.rounds = 0
        self.fail_after = fail_after

    async def run(self) -> None:
        while not self.stopped.is_set():
            self.rounds += 1
            if self.fail_after is not None and self.rounds > self.fail_after:
                raise RuntimeError("broker said no")
            await asyncio.sleep(0.001)

    def stop(self) -> None:
        self.stopped.set()


def closer(closed: list[str], name: str) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        closed.append(name)

    return close


async def test_everything_opened_is_closed_in_reverse_order_when_stopped() -> None:
    closed: list[str] = []
    loop = Loop()
    rounds: list[int] = []

    async def a_round() -> int:
        rounds.append(1)
        return 0

    async with WorkerShell("test") as shell:
        shell.on_close(closer(closed, "pool"))
        shell.on_close(closer(closed, "producer"))
        shell.consume(loop)
        shell.every("outbox", a_round, 0.01)
        asyncio.get_running_loop().call_later(0.05, shell.stop.set)
        await shell.run()
    assert loop.stopped.is_set()
    assert rounds
    assert closed == ["producer", "pool"]


async def test_a_failing_part_stops_the_worker_and_still_closes_everything() -> None:
    closed: list[str] = []
    healthy = Loop()
    async with WorkerShell("test") as shell:
        shell.on_close(closer(closed, "pool"))
        shell.consume(healthy, "healthy")
        shell.consume(Loop(fail_after=3), "failing")
        async with asyncio.timeout(30):  # generous: it ends as soon as the part fails
            await shell.run()
        assert shell.stop.is_set()
    assert healthy.stopped.is_set()
    assert closed == ["pool"]


async def test_a_start_up_that_fails_halfway_closes_what_it_had_opened() -> None:
    closed: list[str] = []
    with pytest.raises(ConnectionRefusedError):
        async with WorkerShell("test") as shell:
            shell.on_close(closer(closed, "pool"))
            raise ConnectionRefusedError("kafka not there")
    assert closed == ["pool"]


class Polled:
    def __init__(self, seconds_ago: float) -> None:
        self.last_poll_monotonic = time.monotonic() - seconds_ago


async def test_a_consuming_worker_is_ready_only_while_it_polls_and_its_database_answers() -> None:
    def ready(seconds_ago: float, up: bool) -> Awaitable[dict[str, bool]]:
        pool: Any = FakePool(up)
        return consumer_ready(Polled(seconds_ago), pool)()

    assert await ready(1.0, up=True) == {"kafka": True, "postgres": True}
    assert await ready(POLL_STALE_S + 60, up=True) == {"kafka": False, "postgres": True}
    assert await ready(1.0, up=False) == {"kafka": True, "postgres": False}
