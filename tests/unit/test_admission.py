"""Admission control: what a person sees when the site is full, driven by a fake clock."""

from __future__ import annotations

import json

import pytest

from gelombang.admission import (
    AdmissionController,
    AdmissionMiddleware,
    QueueDelay,
    gateway_offset_s,
)
from gelombang.metrics import REQUESTS_SHED, Message, Receive, Scope, Send
from tests.unit.fakes import FakeClock


def controller(clock: FakeClock, **limits: float) -> AdmissionController:
    return AdmissionController(
        max_in_flight=int(limits.get("max_in_flight", 100)),
        rate_per_s=limits.get("rate_per_s", 10.0),
        burst=int(limits.get("burst", 5)),
        max_retry_after_s=int(limits.get("max_retry_after_s", 60)),
        clock=clock,
    )


def test_a_burst_is_admitted_then_the_excess_is_told_to_come_back() -> None:
    clock = FakeClock()
    gate = controller(clock, rate_per_s=10, burst=5)
    results = [gate.try_admit() for _ in range(5)]
    assert results == [None] * 5
    for _ in range(5):
        gate.release()
    refused = gate.try_admit()
    assert refused is not None
    assert (refused.status, refused.reason, refused.retry_after_s) == (429, "rate", 1)


def test_capacity_comes_back_at_the_configured_rate() -> None:
    clock = FakeClock()
    gate = controller(clock, rate_per_s=10, burst=1)
    assert gate.try_admit() is None
    gate.release()
    assert gate.try_admit() is not None
    clock.now += 0.1  # one token at 10/s
    assert gate.try_admit() is None


def test_the_estimated_wait_grows_with_the_crowd_and_is_capped() -> None:
    clock = FakeClock()
    gate = controller(clock, rate_per_s=10, burst=1, max_retry_after_s=60)
    assert gate.try_admit() is None
    waits = []
    for _ in range(100):
        shed = gate.try_admit()
        assert shed is not None
        waits.append(shed.retry_after_s)
    # 100 people ahead at 10 admitted per second: the last one waits about 10 s.
    assert waits[0] == 1
    assert waits[-1] == 10
    assert waits == sorted(waits)
    for _ in range(10_000):
        shed = gate.try_admit()
    assert shed is not None and shed.retry_after_s == 60


def test_the_estimate_shrinks_as_time_passes() -> None:
    clock = FakeClock()
    gate = controller(clock, rate_per_s=10, burst=1)
    gate.try_admit()
    for _ in range(50):
        gate.try_admit()
    first = gate.try_admit()
    assert first is not None and first.retry_after_s == 6
    clock.now += 4.0  # 40 of the 51 ahead were served
    assert gate.try_admit() is None
    later = gate.try_admit()
    assert later is not None and later.retry_after_s == 2


def test_in_flight_cap_refuses_with_503_until_a_request_finishes() -> None:
    clock = FakeClock()
    gate = controller(clock, max_in_flight=2, rate_per_s=1000, burst=1000)
    assert gate.try_admit() is None
    assert gate.try_admit() is None
    refused = gate.try_admit()
    assert refused is not None and (refused.status, refused.reason) == (503, "in_flight")
    gate.release()
    assert gate.try_admit() is None


def test_pressure_is_reported_while_refusing_and_clears_when_calm() -> None:
    clock = FakeClock()
    gate = controller(clock, rate_per_s=10, burst=5)
    assert not gate.under_pressure
    for _ in range(6):
        if gate.try_admit() is None:
            gate.release()
    assert gate.under_pressure
    clock.now += 10
    assert not gate.under_pressure


# -- The middleware, as the ASGI server drives it ---------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])

    @property
    def body(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads(self.messages[1]["body"])
        return loaded


async def no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class App:
    """Stands in for FastAPI: answers 200 and counts what reached it."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def http(path: str, language: str = "") -> Scope:
    headers = [(b"accept-language", language.encode())] if language else []
    return {"type": "http", "method": "POST", "path": path, "headers": headers}


def shed_count(reason: str) -> float:
    value = REQUESTS_SHED.labels("test-admission", reason)._value.get()
    return float(value)


async def test_refusal_is_localized_json_with_retry_after_and_counted() -> None:
    clock = FakeClock()
    app = App()
    gate = controller(clock, rate_per_s=1, burst=1)
    middleware = AdmissionMiddleware(app, gate, service="test-admission")
    before = shed_count("rate")

    await middleware(http("/api/v1/registrations"), no_body, Recorder())
    indonesian, english = Recorder(), Recorder()
    await middleware(http("/api/v1/registrations"), no_body, indonesian)
    await middleware(http("/api/v1/registrations", "en-US,en;q=0.9"), no_body, english)

    assert app.calls == 1
    assert indonesian.status == english.status == 429
    assert indonesian.headers[b"retry-after"] == b"1"
    assert english.headers[b"retry-after"] == b"2"
    assert indonesian.body["code"] == "server_busy"
    assert "banyak sekali orang mendaftar" in str(indonesian.body["detail"])
    assert "about 2 seconds" in str(english.body["detail"])
    assert shed_count("rate") == before + 2


async def test_health_and_metrics_are_never_shed() -> None:
    clock = FakeClock()
    app = App()
    gate = controller(clock, rate_per_s=1, burst=1, max_in_flight=1)
    middleware = AdmissionMiddleware(app, gate, service="test-admission")
    await middleware(http("/api/v1/registrations"), no_body, Recorder())
    for path in ("/healthz", "/readyz", "/metrics"):
        answer = Recorder()
        await middleware(http(path), no_body, answer)
        assert answer.status == 200
    assert app.calls == 4


async def test_a_failing_request_still_frees_its_place() -> None:
    class Broken:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            raise RuntimeError("boom")

    gate = controller(FakeClock(), max_in_flight=1, rate_per_s=100, burst=100)
    middleware = AdmissionMiddleware(Broken(), gate, service="test-admission")
    for _ in range(2):
        try:
            await middleware(http("/api/v1/registrations"), no_body, Recorder())
        except RuntimeError:
            pass
    assert gate.in_flight == 0


# -- The adaptive in-flight limit (issue 15, item 6) -------------------------------------------


def adaptive(clock: FakeClock, max_in_flight: int = 64) -> AdmissionController:
    return AdmissionController(
        max_in_flight=max_in_flight,
        rate_per_s=10_000,
        burst=10_000,
        min_in_flight=8,
        target_latency_s=0.15,
        clock=clock,
    )


def serve(gate: AdmissionController, clock: FakeClock, n: int, latency_s: float) -> int:
    """Admit up to n requests at once, then finish them all after latency_s; how many got in."""
    admitted = [clock.now for _ in range(n) if gate.try_admit() is None]
    clock.now += latency_s
    for at in admitted:
        gate.release(at, latency_s)
    return len(admitted)


def serve_rounds(
    gate: AdmissionController, clock: FakeClock, rounds: int, n: int, latency_s: float
) -> None:
    """:func:`serve` ``rounds`` times over."""
    for _ in range(rounds):
        serve(gate, clock, n, latency_s)


def slowed_to_the_floor(clock: FakeClock) -> AdmissionController:
    """An adaptive gate after 40 generations of 64 answers, each 0.6 s: over the target."""
    gate = adaptive(clock)
    serve_rounds(gate, clock, rounds=40, n=64, latency_s=0.6)
    return gate


def test_slow_answers_shrink_the_limit_so_fewer_are_admitted_to_wait() -> None:
    clock = FakeClock()
    gate = slowed_to_the_floor(clock)
    # Every generation over target cut the limit once (not once per slow request), down to
    # the floor, which still lets work through.
    assert gate.limit == 8
    assert serve(gate, clock, 64, latency_s=0.6) == 8
    for _ in range(8):
        assert gate.try_admit() is None
    refused = gate.try_admit()
    assert refused is not None and (refused.status, refused.reason) == (503, "in_flight")


def test_one_slow_generation_cuts_the_limit_once() -> None:
    clock = FakeClock()
    gate = adaptive(clock)
    serve(gate, clock, 64, latency_s=0.6)
    assert gate.limit == int(64 * 0.9)


def test_fast_answers_grow_the_limit_back_to_its_ceiling() -> None:
    clock = FakeClock()
    gate = slowed_to_the_floor(clock)
    assert gate.limit == 8
    serve_rounds(gate, clock, rounds=400, n=64, latency_s=0.02)
    assert gate.limit == 64


def test_at_light_load_the_limit_neither_grows_nor_falls() -> None:
    clock = FakeClock()
    gate = slowed_to_the_floor(clock)
    serve_rounds(gate, clock, rounds=200, n=1, latency_s=0.02)
    # One request at a time says nothing about whether 9 at a time would be on time...
    assert gate.limit == 8
    fresh = adaptive(clock)
    serve_rounds(fresh, clock, rounds=50, n=1, latency_s=2.0)
    # ...nor does a slow one at light load (a GC pause) say that fewer would be faster.
    assert fresh.limit == 64


def test_requests_that_keep_arriving_late_are_refused_with_503() -> None:
    clock = FakeClock()
    gate = adaptive(clock)
    # One late arrival is a hiccup, not a queue: served.
    assert gate.try_admit(queued_s=0.2) is None
    clock.now += 0.05
    assert gate.try_admit(queued_s=0.2) is None
    # Late for longer than the interval: the queue stands, and what waited too long is refused.
    clock.now += 0.06
    refused = gate.try_admit(queued_s=0.2)
    assert refused is not None and (refused.status, refused.reason) == (503, "late")
    assert refused.retry_after_s >= 1
    assert gate.in_flight == 2
    # An on-time arrival ends the episode.
    assert gate.try_admit(queued_s=0.05) is None
    assert gate.try_admit(queued_s=0.2) is None


def test_without_a_target_the_cap_is_fixed() -> None:
    clock = FakeClock()
    gate = controller(clock, max_in_flight=8, rate_per_s=10_000, burst=10_000)
    serve_rounds(gate, clock, rounds=10, n=8, latency_s=5.0)
    assert gate.limit == 8
    assert gate.try_admit(queued_s=30.0) is None


def test_queue_delay_ignores_a_constant_clock_offset() -> None:
    queue = QueueDelay(window_s=10)
    # The gateway's clock is 3 s behind ours: every offset is ~3 s, but nothing waited.
    assert queue.observe(3.001, now=0.0) == 0.0
    assert queue.observe(3.004, now=1.0) == pytest.approx(0.003)
    # A request that sat 0.4 s in front of the process shows as 0.4 s.
    assert queue.observe(3.401, now=2.0) == pytest.approx(0.4)
    # Across windows the floor is kept, so a backlog does not become the new normal at once.
    assert queue.observe(3.5, now=12.0) == pytest.approx(0.499)


def test_gateway_stamp_is_read_from_the_header_and_garbage_is_ignored() -> None:
    assert gateway_offset_s([(b"x-request-start", b"t=100.250")], now=100.5) == 0.25
    assert gateway_offset_s([(b"x-request-start", b"soon")], now=100.5) is None
    assert gateway_offset_s([], now=100.5) is None


async def test_middleware_refuses_a_request_that_queued_too_long_in_front_of_it() -> None:
    clock = FakeClock()
    wall = FakeClock()
    app = App()
    gate = adaptive(clock)
    middleware = AdmissionMiddleware(app, gate, service="test-admission", wall_clock=wall)

    def stamped(at: float) -> Scope:
        scope = http("/api/v1/registrations")
        scope["headers"] = [(b"x-request-start", f"t={at:.3f}".encode())]
        return scope

    fresh, late, still_late = Recorder(), Recorder(), Recorder()
    await middleware(stamped(wall.now - 0.002), no_body, fresh)
    await middleware(stamped(wall.now - 0.5), no_body, late)
    clock.now += 0.2
    await middleware(stamped(wall.now - 0.5), no_body, still_late)
    assert fresh.status == late.status == 200
    assert still_late.status == 503 and still_late.headers[b"retry-after"]
    assert app.calls == 2
