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
    """Closed, open for ``open_s`` after a failure, then one probe at a time.

    A probe that never reports back (its caller was cancelled before the answer) is given up
    after ``probe_s`` (default ``open_s``) and another one goes: otherwise the breaker would stay
    open for good. Set ``probe_s`` to the longest a call can take when that is longer.
    """

    def __init__(
        self,
        open_s: float,
        clock: Callable[[], float] = time.monotonic,
        probe_s: float | None = None,
    ) -> None:
        self.open_s = open_s
        self.probe_s = open_s if probe_s is None else probe_s
        self._clock = clock
        self._open_until: float | None = None  # None: closed
        self._probe_until: float | None = None  # None: no probe out

    @property
    def closed(self) -> bool:
        return self._open_until is None

    def allow(self) -> bool:
        """May a call be attempted now? (A True while open makes it the probe.)"""
        if self._open_until is None:
            return True
        now = self._clock()
        if now < self._open_until:
            return False
        if self._probe_until is not None and now < self._probe_until:
            return False
        self._probe_until = now + self.probe_s
        return True

    def succeeded(self) -> None:
        self._open_until = None
        self._probe_until = None

    def failed(self) -> None:
        self._open_until = self._clock() + self.open_s
        self._probe_until = None
