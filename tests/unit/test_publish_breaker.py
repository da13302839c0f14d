"""The sign-up publisher's breaker: while the log cannot take writes, people are told at once."""

from __future__ import annotations

from gelombang.breaker import Breaker
from tests.unit.fakes import FakeClock


def opened() -> tuple[FakeClock, Breaker]:
    """A breaker, of one second, that a publish has just failed."""
    clock = FakeClock(50.0)
    breaker = Breaker(open_s=1.0, clock=clock)
    breaker.failed()
    return clock, breaker


def test_a_closed_breaker_lets_every_publish_through() -> None:
    breaker = Breaker(open_s=1.0, clock=FakeClock(50.0))
    assert all(breaker.allow() for _ in range(100))
    assert breaker.closed


def test_after_a_failure_publishes_are_refused_until_the_probe_time() -> None:
    clock, breaker = opened()
    assert not breaker.closed
    assert not breaker.allow()
    clock.now += 0.99
    assert not breaker.allow()
    clock.now += 0.02
    # One probe, and only one, while its answer is awaited.
    assert breaker.allow()
    assert not breaker.allow()
    assert not breaker.allow()


def test_a_probe_that_succeeds_closes_the_breaker() -> None:
    clock, breaker = opened()
    clock.now += 1.0
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.closed
    assert all(breaker.allow() for _ in range(10))


def test_a_probe_that_fails_opens_it_again_for_another_period() -> None:
    clock, breaker = opened()
    clock.now += 1.0
    assert breaker.allow()
    clock.now += 8.0  # the probe waited its whole publish timeout
    breaker.failed()
    assert not breaker.allow()
    clock.now += 1.0
    assert breaker.allow()


def test_a_probe_that_never_reports_back_is_replaced_after_its_time() -> None:
    """Its caller was cancelled before the answer: the breaker must not stay open for good."""
    clock = FakeClock(50.0)
    breaker = Breaker(open_s=1.0, clock=clock, probe_s=8.0)
    breaker.failed()
    clock.now += 1.0
    assert breaker.allow()  # the probe, never heard of again
    clock.now += 7.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow()  # another probe
    breaker.succeeded()
    assert breaker.closed
