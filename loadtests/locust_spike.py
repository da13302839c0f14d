"""Spike: ramp to 80,000 sign-ups a minute and hold (``make load SCENARIO=spike``).

``LOAD_RAMP_S`` (60) to reach ``LOAD_PEAK_PER_MIN`` (80000), held for ``LOAD_HOLD_S`` (180);
then the shape returns None and Locust stops by itself.
"""

from __future__ import annotations

from locust import LoadTestShape

from loadtests.curves import spike_per_s, users_for
from loadtests.locust_common import (
    HOLD_S,
    PEAK_PER_MIN,
    PER_USER_PER_S,
    RAMP_S,
    OfficerUser,
    SpikeUser,
    run_time,
)


class SpikeSignUps(SpikeUser):
    pass


class Officers(OfficerUser):
    pass


class Spike(LoadTestShape):
    def tick(self) -> tuple[int, float] | None:
        rate = spike_per_s(run_time(self), RAMP_S, HOLD_S, PEAK_PER_MIN)
        if rate == 0.0:
            return None
        # Spawn fast enough to follow the ramp within a second.
        return users_for(rate, PER_USER_PER_S), max(10.0, PEAK_PER_MIN / 60 / max(RAMP_S, 1))
