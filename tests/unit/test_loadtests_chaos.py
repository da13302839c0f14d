"""How the fault report works out recovery: from the fault to the first 202 after the last
refusal or failure, so a fault that keeps refusing for 20 s does not report 0.1 s."""

from __future__ import annotations

from pathlib import Path

from loadtests.chaos import FaultResult, gateway_sign_up_times_ms, recovery_s


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


def test_gateway_times_are_read_from_the_access_log_past_the_offset(tmp_path: Path) -> None:
    old = (
        '127.0.0.1 [2026-12-03T17:27:10+00:00] "POST /api/v1/registrations HTTP/1.1" 202 203 '
        "0.900 upstream=127.0.0.1:8000 status=202 upstream_time=0.900 req_id=a\n"
    )
    new = (
        '127.0.0.1 [2026-12-03T17:27:11+00:00] "POST /api/v1/registrations HTTP/1.1" 202 203 '
        "0.016 upstream=127.0.0.1:8000 status=202 upstream_time=0.015 req_id=b\n"
        '127.0.0.1 [2026-12-03T17:27:11+00:00] "POST /api/v1/registrations HTTP/1.1" 429 98 '
        "0.000 upstream=- status=- upstream_time=- req_id=c\n"
        '127.0.0.1 [2026-12-03T17:27:11+00:00] "GET /api/v1/registrations/x HTTP/1.1" 200 9 '
        "0.300 upstream=127.0.0.1:8000 status=200 upstream_time=0.300 req_id=d\n"
    )
    log = tmp_path / "nginx-access.log"
    log.write_text(old + new)
    assert gateway_sign_up_times_ms(log, len(old), status=202) == [16.0]
    assert gateway_sign_up_times_ms(log, 0, status=202) == [900.0, 16.0]
    assert gateway_sign_up_times_ms(tmp_path / "missing.log", 0, status=202) == []
