"""How the fault report works out recovery: from the fault to the first 202 after the last
refusal or failure, so a fault that keeps refusing for 20 s does not report 0.1 s."""

from __future__ import annotations

from loadtests.chaos import FaultResult, recovery_s


def result(accepted_at: list[float], troubled_at: list[float]) -> FaultResult:
    r = FaultResult("test")
    r.accepted_at, r.troubled_at = accepted_at, troubled_at
    return r


def test_without_trouble_it_is_the_first_202_after_the_fault() -> None:
    assert recovery_s(result([100.5, 101.0], []), fault_at=100.0) == 0.5


def test_202s_in_between_refusals_do_not_count_as_recovered() -> None:
    # Early answers still got through, then the store went away for a while.
    r = result([100.2, 104.0, 121.5, 122.0], [101.0, 110.0, 121.0])
    assert recovery_s(r, fault_at=100.0) == 21.5


def test_no_202_after_the_last_refusal_means_not_recovered() -> None:
    assert recovery_s(result([100.2], [101.0]), fault_at=100.0) is None
