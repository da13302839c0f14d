"""A circuit breaker for a dependency on the sign-up path (Kafka's publisher, Redis's edge).

When a dependency stops answering, every call would otherwise wait out its whole timeout: at a
thousand sign-ups a second that fills the admission's in-flight limit within a fraction of a
second and people get 503s for a dependency the sign-up can do without (Redis) or get them late
(Kafka). While open, calls fail at once; after ``open_s`` one call goes through as a probe, and
its answer closes or reopens the breaker. Hand-written rather than a library (purgatory,
aiobreaker): it is on the hot path, where a closed breaker costs one attribute check here, not
an async context manager per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Breaker:
    """Closed, open for ``open_s`` after a failure, then one probe at a time."""

    def __init__(self, open_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.open_s = open_s
        self._clock = clock
        self._open_until: float | None = None  # None: closed
        self._probing = False

    @property
    def closed(self) -> bool:
        return self._open_until is None

    def allow(self) -> bool:
        """May a publish be attempted now? (A True while open makes it the probe.)"""
        if self._open_until is None:
            return True
        if self._probing or self._clock() < self._open_until:
            return False
        self._probing = True
        return True

    def succeeded(self) -> None:
        self._open_until = None
        self._probing = False

    def failed(self) -> None:
        self._open_until = self._clock() + self.open_s
        self._probing = False
