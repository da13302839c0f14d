"""The waiting room's estimate (issue 20): from the share of sign-ups refused over the last
seconds, at the gateway's ceiling (a reported sample) and by admission control."""

from __future__ import annotations

from gelombang.admission import MAX_ESTIMATED_WAIT_S, IntakePace, expected_wait_s
from tests.unit.fakes import FakeClock


def ten_second_window(after_s: float) -> tuple[FakeClock, IntakePace]:
    """A pace over a 10-second window, ``after_s`` seconds after it started counting."""
    clock = FakeClock()
    pace = IntakePace(window_s=10, clock=clock)
    clock.now += after_s
    return clock, pace


def test_the_wait_grows_with_the_share_refused() -> None:
    # Each try a fresh chance: with 3 in 4 refused, four tries on average, one a second.
    assert expected_wait_s(0.75, retry_s=1) == 4
    assert expected_wait_s(0.0, retry_s=2) == 2
    assert expected_wait_s(0.9, retry_s=3) == 30
    # Nobody gets in, or not within the horizon: the cap, never a division by zero.
    assert expected_wait_s(1.0, retry_s=1) == MAX_ESTIMATED_WAIT_S
    assert expected_wait_s(0.9999, retry_s=1) == MAX_ESTIMATED_WAIT_S


def test_refusals_at_the_gateway_count_by_their_sample_weight() -> None:
    _, pace = ten_second_window(after_s=5)
    # 100 got in here; the gateway refused 3 samples of 100 each and asked for 2 s.
    for _ in range(3):
        pace.refused_at_gateway(100, retry_after_s=2)
    now = pace.pace(admitted=100, refused=0, retry_after_s=1)
    assert now.refused_share == 0.75
    assert now.retry_after_s == 2
    assert now.estimated_wait_s == 8
    assert now.admitted_per_s == 20


def test_only_the_last_window_counts() -> None:
    clock, pace = ten_second_window(after_s=5)
    assert pace.pace(admitted=10, refused=90, retry_after_s=1).refused_share == 0.9
    clock.now += 6
    pace.pace(admitted=10, refused=90, retry_after_s=1)
    # A calm spell: nothing refused since, so the busy minute no longer weighs.
    clock.now += 11
    calm = pace.pace(admitted=60, refused=90, retry_after_s=1)
    assert calm.refused_share == 0.0
    assert calm.estimated_wait_s == 0
    assert calm.window_s == 11


def test_the_api_s_own_refusals_count_and_set_the_spacing() -> None:
    _, pace = ten_second_window(after_s=2)
    now = pace.pace(admitted=50, refused=50, retry_after_s=3)
    assert (now.refused_share, now.retry_after_s, now.estimated_wait_s) == (0.5, 3, 6)
