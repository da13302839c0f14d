"""Spike: ramp to 80,000 sign-ups a minute and hold (``make load SCENARIO=spike``).

``LOAD_RAMP_S`` (60) to reach ``LOAD_PEAK_PER_MIN`` (80000), held for ``LOAD_HOLD_S`` (180);
then the shape returns None and Locust stops by itself.
"""

from __future__ import annotations

from loadtests.locust_common import OfficerUser, SpikeShape, SpikeUser


class SpikeSignUps(SpikeUser):
    pass


class Officers(OfficerUser):
    pass


class Spike(SpikeShape):
    pass
