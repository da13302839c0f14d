"""Launch day: the first day's arrival curve compressed into ``LOAD_DURATION_S`` (600) seconds,
peaking at ``LOAD_PEAK_PER_MIN`` (``make load SCENARIO=launch_day``). See loadtests/curves.py.
"""

from __future__ import annotations

from locust import LoadTestShape

from loadtests.curves import curve_per_s, users_for
from loadtests.locust_common import DURATION_S, PEAK_PER_MIN, PER_USER_PER_S, SpikeUser, run_time


class LaunchDaySignUps(SpikeUser):
    pass


class LaunchDay(LoadTestShape):
    def tick(self) -> tuple[int, float] | None:
        rate = curve_per_s(run_time(self), DURATION_S, PEAK_PER_MIN)
        if rate == 0.0:
            return None
        return users_for(rate, PER_USER_PER_S), max(10.0, PEAK_PER_MIN / 60 / 10)
