"""Admission control: refuse work early and honestly instead of letting latency collapse.

Two limits guard a process. The rate limit (token bucket) keeps arrivals at or below what the
process was measured to sustain; the in-flight cap notices when requests already take too long
(a slow dependency, a GC pause) and stops queueing more behind them. A refused request costs
microseconds and gets ``Retry-After``; an admitted one keeps its latency target.

The logic is pure (a clock is passed in) so it can be tested without sleeping; the ASGI
middleware at the bottom is the only part that touches requests.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from altcha import v1 as altcha_v1
from redis.exceptions import RedisError

from gelombang.coalesce import PipelinedRedis, command, reply
from gelombang.messages import message, pick_language
from gelombang.metrics import DEPENDENCY_ERRORS, REQUESTS_SHED, ASGIApp, Receive, Scope, Send

ShedReason = Literal["rate", "in_flight", "late"]


@dataclass(frozen=True)
class Shed:
    reason: ShedReason
    retry_after_s: int

    @property
    def status(self) -> int:
        # 429: arrivals exceed the agreed rate. 503: the process itself is saturated right now
        # (too much in progress, or this request already waited past the latency target).
        return 429 if self.reason == "rate" else 503


class QueueDelay:
    """How long requests waited between the gateway's stamp and this process.

    The gateway stamps each request with its own clock, which may be offset from this
    machine's by more than the whole latency target. So the delay is measured against the
    smallest offset seen over the last one or two windows: a request that arrived as fast as
    any recent one waited ~0, whatever the clocks say. A lasting overload raises that floor
    too, but only after a full window of nothing but queued requests; by then the limit below
    has long since cut the queue down.
    """

    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self._window_start: float | None = None
        self._floor = math.inf
        self._previous_floor = math.inf

    def observe(self, offset_s: float, now: float) -> float:
        if self._window_start is None or now - self._window_start >= self.window_s:
            self._previous_floor = self._floor
            self._floor = math.inf
            self._window_start = now
        self._floor = min(self._floor, offset_s)
        return max(0.0, offset_s - min(self._floor, self._previous_floor))


@dataclass(slots=True, kw_only=True, eq=False)
class AdmissionController:
    """Token bucket for the rate, an adaptive in-flight limit, and a wait estimate.

    The in-flight limit adapts to measured latency (AIMD, as TCP and Netflix's
    concurrency-limits do). Only requests that finish while the limit is in use (at least half
    of it in flight) count: one within ``target_latency_s`` raises the limit by 1/limit (about
    +1 per limit's worth of requests); one that took longer cuts it by ``backoff``, at most
    once per generation of requests (a request admitted before the last cut says nothing about
    the new limit). A slow answer at light load (a GC pause, a slow dependency) says nothing
    about concurrency and moves nothing. A fixed cap has to be chosen for one machine and one
    load mix; on a shared 2-core machine under 3x overload the right number falls to a fraction
    of it, and every request above it only queues.

    Requests that waited in front of the process past the target are refused at once, but only
    once such waits have lasted ``late_interval_s`` (CoDel's rule): a queue that stands, not
    one late arrival.
    """

    max_in_flight: int
    rate_per_s: float
    burst: int
    max_retry_after_s: int = 120
    min_in_flight: int = 8
    # None: a fixed cap at max_in_flight (tests and processes that do not measure latency).
    target_latency_s: float | None = None
    backoff: float = 0.9
    late_interval_s: float = 0.1
    clock: Callable[[], float] = time.monotonic
    _late_since: float | None = field(default=None, init=False)
    _tokens: float = field(init=False)
    _in_flight: int = field(default=0, init=False)
    _limit: float = field(init=False)
    _last_cut: float = field(default=-math.inf, init=False)
    # People refused recently and presumably coming back. It drains at the admitted rate,
    # so backlog / rate is how long the newest of them should expect to wait.
    _backlog: float = field(default=0.0, init=False)
    _last: float = field(init=False)

    def __post_init__(self) -> None:
        if min(self.max_in_flight, self.rate_per_s, self.burst, self.min_in_flight) <= 0:
            raise ValueError("admission limits must be positive")
        if self.target_latency_s is not None and self.target_latency_s <= 0:
            raise ValueError("the latency target must be positive")
        if not 0 < self.backoff < 1:
            raise ValueError("backoff must be between 0 and 1")
        self.min_in_flight = min(self.min_in_flight, self.max_in_flight)
        self._tokens = float(self.burst)
        self._limit = float(self.max_in_flight)
        self._last = self.clock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def now(self) -> float:
        return self.clock()

    @property
    def limit(self) -> int:
        """The in-flight limit in force now."""
        return int(self._limit)

    @property
    def under_pressure(self) -> bool:
        """True while requests are being refused or the process is close to a limit."""
        self._refill()
        return (
            self._backlog >= 1
            or self._in_flight >= 0.8 * self._limit
            or self._limit < 0.5 * self.max_in_flight
            or self._tokens < 0.2 * self.burst
        )

    def try_admit(self, queued_s: float = 0.0) -> Shed | None:
        """``None`` means admitted: the caller must call :meth:`release` when done.

        ``queued_s`` is how long the request already waited before reaching this process.
        """
        self._refill()
        reason: ShedReason | None = None
        # A request that already waited past the whole target cannot be answered in time;
        # serving it would spend the capacity that keeps the next ones on time.
        if self._standing_queue(queued_s):
            reason = "late"
        # The in-flight cap next: when requests are already piling up, a spare token does not
        # make the process any faster.
        elif self._in_flight >= self.limit:
            reason = "in_flight"
        elif self._tokens < 1:
            reason = "rate"
        if reason is not None:
            self._backlog += 1
            if reason == "late":
                # Too late is a sign of a queue in front of us as much as a slow answer is.
                self._cut(self.clock())
            return Shed(reason, self._estimated_wait_s())
        self._tokens -= 1
        self._in_flight += 1
        return None

    def release(self, admitted_at: float | None = None, latency_s: float | None = None) -> None:
        """A request admitted at ``admitted_at`` (this clock) finished after ``latency_s``
        in all, its wait before this process included."""
        in_use = self._in_flight >= 0.5 * self._limit
        self._in_flight = max(0, self._in_flight - 1)
        if self.target_latency_s is None or admitted_at is None or latency_s is None:
            return
        if not in_use:
            return
        if latency_s > self.target_latency_s:
            if admitted_at >= self._last_cut:
                self._cut(self.clock())
        else:
            self._limit = min(float(self.max_in_flight), self._limit + 1 / self._limit)

    def _standing_queue(self, queued_s: float) -> bool:
        if self.target_latency_s is None or queued_s <= self.target_latency_s:
            self._late_since = None
            return False
        now = self.clock()
        if self._late_since is None:
            self._late_since = now
        return now - self._late_since >= self.late_interval_s

    def _cut(self, now: float) -> None:
        self._limit = max(float(self.min_in_flight), self._limit * self.backoff)
        self._last_cut = now

    @property
    def retry_after_s(self) -> int:
        """What a request refused now would be told to wait (read-only: nothing is counted)."""
        self._refill()
        return self._estimated_wait_s()

    def _estimated_wait_s(self) -> int:
        wait = math.ceil(self._backlog / self.rate_per_s)
        return max(1, min(self.max_retry_after_s, wait))

    def _refill(self) -> None:
        now = self.clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
        self._backlog = max(0.0, self._backlog - elapsed * self.rate_per_s)


# -- The waiting room's figures (GET /api/v1/intake) -------------------------------------------

# Past this the estimate says "a long time" rather than a number nobody should plan on.
MAX_ESTIMATED_WAIT_S = 900


def expected_wait_s(refused_share: float, retry_s: float, cap_s: int = MAX_ESTIMATED_WAIT_S) -> int:
    """How long a person just refused should expect to wait until a try gets in.

    Every try is a fresh chance, not a place in line: admitted with probability 1 - share,
    independently. The number of tries until one gets in is then geometric with mean
    1 / (1 - share), one every ``retry_s``: a wait of retry_s / (1 - share) on average.
    """
    share = min(max(refused_share, 0.0), 1.0)
    if share >= 1.0 or retry_s / (1.0 - share) >= cap_s:
        return cap_s
    # Rounded first: 3 / 0.1 is 30.000000000000004 in floating point, not 31 seconds.
    return max(1, math.ceil(round(retry_s / (1.0 - share), 6)))


@dataclass(frozen=True)
class Pace:
    """Intake over the last window: what share of sign-ups was refused for capacity (by the
    gateway's ceiling and by this process's admission control), and the wait that implies."""

    admitted_per_s: float
    refused_share: float
    retry_after_s: int
    estimated_wait_s: int
    window_s: float


class IntakePace:
    """The sign-ups admitted and refused over the last ``window_s``, from cumulative counts.

    Read at most about once a second (the gateway caches the answer for a second), so it keeps
    a few samples and costs the sign-up path nothing: the counts are the ones metrics keep
    anyway, plus the gateway's refusals as it reports a sample of them.
    """

    def __init__(self, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._gateway_refused = 0.0
        self._gateway_retry_after_s = 1
        # (when, admitted, refused here, refused at the gateway), all cumulative.
        self._samples: list[tuple[float, float, float, float]] = [(clock(), 0.0, 0.0, 0.0)]

    def refused_at_gateway(self, weight: float, retry_after_s: int) -> None:
        """The gateway refused a sign-up at its ceiling, told it to come back after
        ``retry_after_s``, and reported it as a sample of ``weight`` such refusals."""
        self._gateway_refused += weight
        self._gateway_retry_after_s = max(1, retry_after_s)

    def pace(self, admitted: float, refused: float, retry_after_s: int) -> Pace:
        """``admitted`` and ``refused`` are this process's counts since it started;
        ``retry_after_s`` is what its own admission control tells a refused request now."""
        now = self._clock()
        self._samples.append((now, admitted, refused, self._gateway_refused))
        # Keep the window and the last sample before it (the window's starting point).
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window_s:
            del self._samples[0]
        since, admitted_then, refused_then, gateway_then = self._samples[0]
        elapsed = now - since
        got_in = max(0.0, admitted - admitted_then)
        at_gateway = self._gateway_refused - gateway_then
        turned_away = max(0.0, refused - refused_then) + at_gateway
        tried = got_in + turned_away
        share = turned_away / tried if tried else 0.0
        # Refused people come back when they were told to: the gateway's figure while it is
        # the one refusing.
        if at_gateway > 0:
            retry_after_s = max(retry_after_s, self._gateway_retry_after_s)
        return Pace(
            admitted_per_s=got_in / elapsed if elapsed > 0 else 0.0,
            refused_share=share,
            retry_after_s=retry_after_s,
            estimated_wait_s=expected_wait_s(share, retry_after_s) if turned_away else 0,
            window_s=elapsed,
        )


# The gateway's stamp of when it received the request: "t=<seconds since the epoch>" as
# nginx's $msec writes it. The gateway overwrites whatever a client sent.
REQUEST_START_HEADER = b"x-request-start"


def gateway_offset_s(headers: Sequence[tuple[bytes, bytes]], now: float) -> float | None:
    """``now`` minus the gateway's stamp, or None when there is no readable stamp."""
    for name, value in headers:
        if name == REQUEST_START_HEADER:
            try:
                return now - float(value.removeprefix(b"t="))
            except ValueError:
                return None
    return None


class AdmissionMiddleware:
    """Plain ASGI so a refusal never reaches routing, validation or a dependency."""

    def __init__(
        self,
        app: ASGIApp,
        controller: AdmissionController,
        service: str,
        exempt_paths: Collection[str] = ("/healthz", "/readyz", "/metrics"),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.controller = controller
        self.service = service
        self.exempt_paths = frozenset(exempt_paths)
        self.queue = QueueDelay()
        self._wall_clock = wall_clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Probes and scrapes are never shed: an orchestrator that cannot see a busy process
        # would restart it, and ops would go blind exactly when they need to look.
        if scope["type"] != "http" or scope.get("path") in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        controller = self.controller
        admitted_at = controller.now()
        queued_s = 0.0
        if controller.target_latency_s is not None:
            offset = gateway_offset_s(scope.get("headers", ()), self._wall_clock())
            if offset is not None:
                queued_s = self.queue.observe(offset, admitted_at)
        shed = controller.try_admit(queued_s)
        if shed is not None:
            REQUESTS_SHED.labels(self.service, shed.reason).inc()
            await _refuse(scope, send, shed)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            controller.release(admitted_at, queued_s + controller.now() - admitted_at)


async def _refuse(scope: Scope, send: Send, shed: Shed) -> None:
    accept_language = None
    for name, value in scope.get("headers", ()):
        if name == b"accept-language":
            accept_language = value.decode("latin-1")
            break
    lang = pick_language(accept_language)
    text = message("server_busy", lang, seconds=shed.retry_after_s)
    body = json.dumps(
        {
            "detail": text,
            "errors": [],
            "code": "server_busy",
            "reason": shed.reason,
            "retry_after_s": shed.retry_after_s,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": shed.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(shed.retry_after_s).encode()),
                # The page reads Retry-After from JavaScript; cross-origin callers need this.
                (b"access-control-expose-headers", b"Retry-After"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- Bots: per-IP and per-NIK limits, and proof of work under pressure --------------------------

# The fields of an ALTCHA v1 solution that are text; the library calls str methods on them.
_ALTCHA_TEXT_FIELDS = ("algorithm", "challenge", "salt", "signature")


def _altcha_solution(proof: str) -> dict[str, object] | None:
    """The decoded X-Altcha header, or None unless it has the shape of a solution.

    The ALTCHA library trusts that shape: a number where the salt goes raises AttributeError
    and deeply nested JSON raises RecursionError, each a 500 for a header anyone can send.
    """
    try:
        decoded = json.loads(base64.b64decode(proof))
    except (ValueError, RecursionError, binascii.Error):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(decoded, dict) or "number" not in decoded:
        return None
    if not all(isinstance(decoded.get(name), str) for name in _ALTCHA_TEXT_FIELDS):
        return None
    return decoded


class FirstTimes(Protocol):
    async def first_time(self, key: str, ttl_s: int) -> bool:
        """True the first time ``key`` is seen within ``ttl_s``."""


# Where the guard's keys live in Redis (``RedisFirstTimes``, the sign-up edge's limit counters).
LIMIT_KEY_PREFIX = "abuse"


@dataclass(frozen=True, slots=True)
class WindowLimit:
    """One sliding-window limit of a sign-up, to be checked and counted in one atomic step
    together with the sign-up's other lookups (``services.registration`` does it in one Redis
    script): count one more under ``key`` only if this window's count + 1 + the previous
    window's count x ``carried`` stays within ``limit``."""

    reason: Literal["ip_limit", "nik_limit"]
    key: str
    previous_key: str
    carried: float
    limit: int
    ttl_s: int
    window_s: int
    now: float

    def refusal(self, current: int, previous: int) -> Refusal:
        """The answer when the limit was reached, with how long until one more fits."""
        wait = sliding_window_wait(
            now=self.now,
            window_s=self.window_s,
            limit=self.limit,
            current=current,
            previous=previous,
        )
        code = "too_many_from_network" if self.reason == "ip_limit" else "too_many_for_nik"
        return Refusal(429, code, self.reason, wait)


class RedisFirstTimes:
    """Keys seen before, shared by every API process (one proof-of-work solution, one sign-up,
    across replicas)."""

    def __init__(self, redis: PipelinedRedis, prefix: str = LIMIT_KEY_PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix

    async def first_time(self, key: str, ttl_s: int) -> bool:
        (first,) = await self._redis.run(
            command("SET", f"{self._prefix}:{key}", b"1", "NX", "EX", ttl_s)
        )
        return bool(reply(first))


def sliding_window_wait(
    *, now: float, window_s: int, limit: int, current: int, previous: int
) -> int:
    """Seconds until one more event fits a sliding window of ``limit`` per ``window_s``.

    The window is estimated, as Cloudflare does, from two fixed windows: this one's count
    plus the previous one's weighted by how much of it still overlaps. A fixed window alone lets
    an address send twice the limit across a boundary (and made the limit depend on the clock).
    """
    start = (now // window_s) * window_s
    if limit < 1:
        return window_s
    if previous > 0 and current + 1 <= limit:
        # Still this window: wait until enough of the previous window has slid out.
        fraction = 1 - (limit - current - 1) / previous
        return max(1, math.ceil(start + fraction * window_s - now))
    # Next window: then this window's count is the one sliding out.
    fraction = max(0.0, 1 - (limit - 1) / current) if current > 0 else 0.0
    return max(1, math.ceil(start + window_s + fraction * window_s - now))


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    reason: Literal["ip_limit", "nik_limit", "challenge"]
    retry_after_s: int | None = None


class WindowLimits:
    """Limits per client address and per NIK (as its keyed hash) as sliding windows, in the
    order they are checked; the caller checks and counts them with its own lookups (the
    registration edge does it in its one Redis script), so a refused attempt does not count.
    0 switches one off; trusted addresses (load generators and tests on the machine itself)
    have no address limit. ``ip`` and ``nik`` are each (limit, window in seconds);
    ``key_prefix`` keeps the counts of different requests apart."""

    def __init__(
        self,
        *,
        ip: tuple[int, int],
        nik: tuple[int, int],
        ip_exempt: Sequence[str] = (),
        key_prefix: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ip_limit, self._ip_window_s = ip
        self._nik_limit, self._nik_window_s = nik
        self._ip_exempt = [ipaddress.ip_network(n.strip()) for n in ip_exempt if n.strip()]
        self._exempt_known: dict[str, bool] = {}
        self._key_prefix = key_prefix
        self._clock = clock

    def limits(self, client_ip: str, nik_hash: str) -> tuple[WindowLimit, ...]:
        now = self._clock()
        prefix = self._key_prefix
        windows: list[WindowLimit] = []
        if self._ip_limit > 0 and not self.exempt(client_ip):
            ip_key = f"{prefix}ip:{client_ip}"
            windows.append(_window("ip_limit", ip_key, self._ip_limit, self._ip_window_s, now))
        if self._nik_limit > 0:
            nik_key = f"{prefix}nik:{nik_hash}"
            windows.append(_window("nik_limit", nik_key, self._nik_limit, self._nik_window_s, now))
        return tuple(windows)

    def exempt(self, client_ip: str) -> bool:
        # Parsing the address was ~3% of an API process's CPU at load: the answer per address
        # never changes, so remember it (bounded: a flood of distinct addresses only resets it).
        known = self._exempt_known.get(client_ip)
        if known is not None:
            return known
        try:
            address = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        exempt = any(address in network for network in self._ip_exempt)
        if len(self._exempt_known) >= 65_536:
            self._exempt_known.clear()
        self._exempt_known[client_ip] = exempt
        return exempt


def _window(
    reason: Literal["ip_limit", "nik_limit"], key: str, limit: int, window_s: int, now: float
) -> WindowLimit:
    window = int(now // window_s)
    return WindowLimit(
        reason=reason,
        key=f"{key}:{window}",
        previous_key=f"{key}:{window - 1}",
        carried=1 - (now - window * window_s) / window_s,
        limit=limit,
        # The count must outlive its own window and the next, where it still weighs.
        ttl_s=2 * window_s + 1,
        window_s=window_s,
        now=now,
    )


class SignUpGuard:
    """What a sign-up must pass besides validation: ``windows``, the limits per client IP and
    per NIK, and, while the admission controller is under pressure, an ALTCHA proof of work.

    Selection is random, so a bot gains no place by speed; what a flood costs is capacity and
    SMS money. The proof of work makes each junk sign-up cost a second of CPU only when capacity
    is scarce, so people on slow phones pay nothing on a calm day. Redis trouble switches the
    limits off rather than blocking intake (the gateway's per-IP limit still holds).
    """

    def __init__(
        self,
        *,
        seen: FirstTimes,
        service: str,
        pow_hmac_key: bytes,
        pow_max_number: int,
        pow_ttl_s: int,
        windows: WindowLimits,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._seen = seen
        self._service = service
        self._pow_key = pow_hmac_key.hex()
        self._pow_max_number = pow_max_number
        self._pow_ttl_s = pow_ttl_s
        # The windows' own bound methods: a sign-up looks them up on the guard, as before.
        self.limits = windows.limits
        self._exempt = windows.exempt
        self._clock = clock

    def challenge(self) -> dict[str, object]:
        expires = datetime.fromtimestamp(self._clock() + self._pow_ttl_s, UTC)
        options = altcha_v1.ChallengeOptions(
            hmac_key=self._pow_key, max_number=self._pow_max_number, expires=expires
        )
        issued = altcha_v1.create_challenge(options)
        challenge: dict[str, object] = issued.to_dict()
        return challenge

    async def proof_refusal(self, client_ip: str, proof: str | None) -> Refusal | None:
        """The proof-of-work check alone (no limits): a refusal, or None to go on."""
        if self._exempt(client_ip) or await self._proof_ok(proof):
            return None
        return self._refuse(Refusal(428, "challenge_required", "challenge"))

    def shed(self, refusal: Refusal) -> Refusal:
        """Count a refusal decided elsewhere (a limit checked with the sign-up's lookups)."""
        return self._refuse(refusal)

    def _refuse(self, refusal: Refusal) -> Refusal:
        REQUESTS_SHED.labels(self._service, refusal.reason).inc()
        return refusal

    async def _proof_ok(self, proof: str | None) -> bool:
        if not proof:
            return False
        solution = _altcha_solution(proof)
        if solution is None:
            return False
        try:
            ok, _ = altcha_v1.verify_solution(proof, self._pow_key, check_expires=True)
        except (ValueError, TypeError):  # e.g. a salt that cannot be encoded (lone surrogate)
            return False
        if not ok:
            return False
        signature = solution["signature"]
        # One solution, one sign-up: otherwise a bot solves once and replays it all day.
        try:
            return await self._seen.first_time(f"pow:{signature}", self._pow_ttl_s)
        except (TimeoutError, RedisError, OSError):
            DEPENDENCY_ERRORS.labels("redis", "pow_replay_guard").inc()
            return True
