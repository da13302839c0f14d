"""Coalescing: concurrent callers share one round trip and each gets its own answer."""

from __future__ import annotations

import asyncio

import pytest

from gelombang.coalesce import Coalescer


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
