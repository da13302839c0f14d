"""Arrival-rate curves for the Locust scenarios, as pure functions of elapsed time.

Kept apart from the locustfiles so they can be unit-tested without importing Locust (which
monkey-patches the standard library with gevent on import).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

PEAK_PER_MIN = 80_000

# Kartu Prakerja's first day (11 April 2020), as a share of the worst minute over the share of
# the day gone: the opening rush that peaked at ~80,000 a minute, a long morning plateau, the
# midday dip, the evening return after work and a quiet night. 1.43 M sign-ups in 21 hours is a
# day-average of ~1,100/min, far below the peak; the compressed curve keeps the shape, not the
# area, because the point is to see the peak and the recovery after it.
LAUNCH_DAY: tuple[tuple[float, float], ...] = (
    (0.00, 0.05),
    (0.04, 1.00),  # the doors open and everyone who waited for the announcement arrives
    (0.12, 1.00),
    (0.25, 0.55),
    (0.45, 0.35),
    (0.65, 0.60),  # after work
    (0.85, 0.25),
    (1.00, 0.05),
)


def spike_per_s(elapsed_s: float, ramp_s: float, hold_s: float, peak_per_min: float) -> float:
    """Linear ramp to the peak, then hold; 0.0 once the hold is over (the test stops)."""
    if elapsed_s < 0 or elapsed_s >= ramp_s + hold_s:
        return 0.0
    peak = peak_per_min / 60
    if elapsed_s < ramp_s:
        return max(1.0, peak * elapsed_s / ramp_s)
    return peak


def curve_per_s(
    elapsed_s: float,
    duration_s: float,
    peak_per_min: float,
    points: Sequence[tuple[float, float]] = LAUNCH_DAY,
) -> float:
    """Piecewise-linear curve over ``duration_s``; 0.0 outside it."""
    if duration_s <= 0 or elapsed_s < 0 or elapsed_s >= duration_s:
        return 0.0
    x = elapsed_s / duration_s
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= x <= x1:
            share = y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            return max(1.0, share * peak_per_min / 60)
    return max(1.0, points[-1][1] * peak_per_min / 60)


def users_for(rate_per_s: float, per_user_per_s: float) -> int:
    """Locust controls users, not rates: each user paces itself at ``per_user_per_s``."""
    return math.ceil(rate_per_s / per_user_per_s)
