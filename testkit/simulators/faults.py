"""Fault injection shared by the HTTP simulators: latency, errors, outages and a rate limit.

The systems we simulate are owned by others and fail in these ways in production: a ministry API
that slows down, answers 500 now and then, goes down for maintenance, and throttles callers. The
config is changed at runtime over ``PUT /admin/faults`` so tests can stage an outage and undo it.

Order of checks, as in front of a real API: an outage answers 503 at once (the load balancer has
no backend), the rate limit answers 429 at once (the API gateway throttles before the backend),
and only requests let through pay the latency and may then fail with a 500.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field

from gelombang.logs import get_logger

FAULTS_INJECTED = Counter(
    "simulator_faults_injected_total", "Requests answered by an injected fault", ["fault"]
)

log = get_logger(__name__)

DOWN_RETRY_AFTER_S = 5
RATE_LIMITED_RETRY_AFTER_S = 1


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    jitter_ms: float = Field(default=0.0, ge=0, le=60_000)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    down: bool = False
    rate_limit_per_s: float = Field(default=0.0, ge=0)  # 0 = unlimited


class FaultPatch(BaseModel):
    """A partial update: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float | None = Field(default=None, ge=0, le=60_000)
    jitter_ms: float | None = Field(default=None, ge=0, le=60_000)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    down: bool | None = None
    rate_limit_per_s: float | None = Field(default=None, ge=0)


class TokenBucket:
    """``rate`` tokens a second, holding at most one second's worth (at least one token).

    One second of burst is what throttling gateways typically allow; a client that spreads its
    calls evenly at the rate is never refused.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._clock = clock
        self._tokens = self.capacity
        self._last = clock()

    def take(self) -> bool:
        if self.rate <= 0:
            return True
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


Outcome = Literal["pass", "down", "rate_limited", "error"]


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    delay_s: float  # how long to wait before answering (latency is only paid when let through)


class Faults:
    """The current fault config and the decision for one request. No I/O: the caller sleeps."""

    def __init__(
        self,
        config: FaultConfig,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Seeded from the OS per process: fault patterns need not repeat across runs.
        self._rng = rng or random.Random()
        self._clock = clock
        self._config = config
        self._bucket = TokenBucket(config.rate_limit_per_s, clock)

    @property
    def config(self) -> FaultConfig:
        return self._config

    def update(self, patch: FaultPatch) -> FaultConfig:
        self._config = self._config.model_copy(update=patch.model_dump(exclude_none=True))
        if patch.rate_limit_per_s is not None:
            # A fresh, full bucket: a test that lowers the limit sees the new limit at once.
            self._bucket = TokenBucket(self._config.rate_limit_per_s, self._clock)
        return self._config

    def verdict(self) -> Verdict:
        config = self._config
        if config.down:
            return Verdict("down", 0.0)
        if not self._bucket.take():
            return Verdict("rate_limited", 0.0)
        delay_ms = max(0.0, self._rng.gauss(config.latency_ms, config.jitter_ms))
        outcome: Outcome = "error" if self._rng.random() < config.error_rate else "pass"
        return Verdict(outcome, delay_ms / 1000)


class InjectedFault(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.outcome = outcome


async def _fault_response(_: Request, exc: Exception) -> JSONResponse:
    outcome = exc.outcome if isinstance(exc, InjectedFault) else "error"
    if outcome == "down":
        return JSONResponse(
            {"error": "unavailable"},
            status_code=503,
            headers={"Retry-After": str(DOWN_RETRY_AFTER_S)},
        )
    if outcome == "rate_limited":
        return JSONResponse(
            {"error": "rate_limited"},
            status_code=429,
            headers={"Retry-After": str(RATE_LIMITED_RETRY_AFTER_S)},
        )
    return JSONResponse({"error": "internal"}, status_code=500)


def install_faults(app: FastAPI, faults: Faults) -> Callable[[], Awaitable[None]]:
    """Add ``GET/PUT /admin/faults`` to ``app`` and return the dependency that applies faults.

    Routes opt in with ``dependencies=[Depends(returned)]``, so admin, probe and test-reading
    endpoints stay exempt: a test must be able to undo an outage it staged.
    """
    admin = APIRouter(prefix="/admin", tags=["admin"])

    @admin.get("/faults")
    async def get_faults() -> FaultConfig:
        return faults.config

    @admin.put("/faults")
    async def put_faults(patch: FaultPatch) -> FaultConfig:
        config = faults.update(patch)
        # Logged so that a staged outage explains the errors other services log meanwhile.
        log.warning("faults_updated", **config.model_dump())
        return config

    app.include_router(admin)
    app.add_exception_handler(InjectedFault, _fault_response)

    async def apply_faults() -> None:
        verdict = faults.verdict()
        if verdict.delay_s > 0:
            await asyncio.sleep(verdict.delay_s)
        if verdict.outcome != "pass":
            FAULTS_INJECTED.labels(verdict.outcome).inc()
            raise InjectedFault(verdict.outcome)

    return apply_faults


def add_fault_arguments(
    parser: argparse.ArgumentParser, env_prefix: str, defaults: FaultConfig
) -> None:
    """``--latency-ms --jitter-ms --error-rate --rate-limit --down``; env ``<prefix>LATENCY_MS``
    etc. override the built-in defaults, flags override the environment."""

    def env(name: str, default: float) -> float:
        return float(os.environ.get(f"{env_prefix}{name}", default))

    parser.add_argument("--latency-ms", type=float, default=env("LATENCY_MS", defaults.latency_ms))
    parser.add_argument("--jitter-ms", type=float, default=env("JITTER_MS", defaults.jitter_ms))
    parser.add_argument("--error-rate", type=float, default=env("ERROR_RATE", defaults.error_rate))
    parser.add_argument(
        "--rate-limit",
        dest="rate_limit_per_s",
        metavar="RATE_LIMIT",
        type=float,
        default=env("RATE_LIMIT", defaults.rate_limit_per_s),
        help="requests per second before 429 (0 = unlimited)",
    )
    parser.add_argument("--down", action="store_true", help="start in an outage (all 503)")


def fault_config_from_args(args: argparse.Namespace) -> FaultConfig:
    # Each flag's destination is the config field it sets (``add_fault_arguments``).
    fields = {name: getattr(args, name) for name in FaultConfig.model_fields}
    return FaultConfig.model_validate(fields)
