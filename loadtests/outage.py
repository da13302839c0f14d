"""The bench's Redis outage: the fast path SIGSTOPped for a while in the sustained phase.

While Redis is stopped the API answers sign-ups within its Redis timeout without the fast
path's 409, so repeat attempts sent then (``loadtests.repeats``) reach the log, which must
refuse them itself. Redis is always resumed: on leaving the block however it is left, and by a
watchdog process if the bench dies without unwinding (``loadtests.processes.stopped``).

Answers during the outage are slower by the Redis timeout (0.25 s, the p99 target itself), so
the bench reports them apart from its headline numbers: :meth:`Outage.seconds` are the seconds
to leave out, :meth:`Outage.summary` what happened in them.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loadtests.generator import Recording, percentile
from loadtests.processes import component_pids, stopped
from loadtests.repeats import RepeatAnswer, fresh_statuses

# After Redis comes back, requests queued meanwhile take a moment to clear: part of the outage.
SETTLE_S = 2.0
# If the bench dies without unwinding, Redis is resumed this long after the pause should end.
WATCHDOG_S = 5.0


@dataclass
class Outage:
    """When Redis was stopped (monotonic times; None: it was not)."""

    started: float | None = None
    ended: float | None = None

    def seconds(self, rec: Recording) -> range:
        """The recording's seconds (by due time) that the outage touched, settling included."""
        if self.started is None or self.ended is None:
            return range(0)
        return rec.between(self.started, self.ended + SETTLE_S)

    def summary(self, rec: Recording, answers: Sequence[RepeatAnswer]) -> dict[str, Any]:
        if self.started is None or self.ended is None:
            return {"redis_outage_s": None}
        during = self.seconds(rec)
        elsewhere = {i for i in range(len(rec.seconds)) if i not in during}
        lat = rec.latencies_ms(elsewhere)
        return {
            "redis_outage_s": round(self.ended - self.started, 1),
            "redis_outage_at_s": round(self.started - rec.started, 1),
            "redis_outage_p99_ms": round(percentile(lat, 99), 1),
            "redis_outage_statuses": {
                str(k): v for k, v in fresh_statuses(rec, answers, elsewhere).items()
            },
            "p99_ms_with_redis_outage": round(percentile(rec.latencies_ms(), 99), 1),
        }


async def stop_redis(after_s: float, seconds: float, outage: Outage) -> None:
    """Redis SIGSTOPped for ``seconds`` from ``after_s`` on (nothing if ``seconds`` is 0)."""
    if seconds <= 0:
        return
    if "redis" not in component_pids():
        print("bench: no redis pid in .run/pids; Redis is not paused", file=sys.stderr)
        return
    await asyncio.sleep(after_s)
    with stopped("redis", seconds + WATCHDOG_S):
        outage.started = time.monotonic()
        print(f"bench: Redis stopped for {seconds:.0f} s", file=sys.stderr)
        try:
            await asyncio.sleep(seconds)
        finally:
            outage.ended = time.monotonic()
    print("bench: Redis resumed", file=sys.stderr)
