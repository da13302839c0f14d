"""Background rounds: a worker's periodic jobs (outbox relay, scheduled checks, sweeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from gelombang.logs import get_logger

log = get_logger(__name__)


async def repeat(
    name: str,
    round_: Callable[[], Awaitable[int]],
    idle_s: float,
    stop: asyncio.Event,
    wake: asyncio.Event | None = None,
) -> None:
    """Run ``round_`` until stopped; sleep when it found nothing, back off when it failed."""
    failures = 0
    while not stop.is_set():
        try:
            done = await round_()
            failures = 0
        except Exception:
            failures += 1
            log.exception("round_failed", loop=name, failures=failures)
            done = 0
            idle_s_now = min(30.0, idle_s * 2**failures)
        else:
            idle_s_now = idle_s
        if done:
            continue
        waiters = [asyncio.create_task(stop.wait())]
        if wake is not None:
            waiters.append(asyncio.create_task(wake.wait()))
        await asyncio.wait(waiters, timeout=idle_s_now, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        if wake is not None:
            wake.clear()


async def run_until_stopped(tasks: Collection[asyncio.Task[Any]], stop: asyncio.Event) -> None:
    """Wait for ``stop`` or for any of a worker's tasks to end, then set ``stop``.

    A task that ends on its own has failed (they all loop until stopped): it is logged, and the
    whole worker winds down rather than run on without one of its parts.
    """
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        if task is not stopper and not task.cancelled() and task.exception() is not None:
            log.error("task_failed", task=task.get_name(), error=repr(task.exception()))
    stop.set()
    stopper.cancel()
