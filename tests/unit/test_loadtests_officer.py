"""The officer lane's verdict: the promise is to every person at the desk, not to a percentile."""

from __future__ import annotations

import random

from loadtests.officer import OfficerLane, walk_in_payload


def lane(*answers: tuple[str, float]) -> OfficerLane:
    result = OfficerLane()
    for status, ms in answers:
        result.statuses[status] = result.statuses.get(status, 0) + 1
        result.latencies_ms.append(ms)
    return result


def test_every_answer_under_a_second_keeps_the_promise() -> None:
    summary = lane(("202", 80.0), ("202", 120.0), ("202", 999.0)).summary()
    assert summary["officer_under_1s"] is True
    assert (summary["officer_requests"], summary["officer_errors"]) == (3, 0)
    assert summary["officer_max_ms"] == 999.0


def test_one_slow_or_refused_answer_breaks_it() -> None:
    assert lane(*[("202", 50.0)] * 200, ("202", 1000.0)).summary()["officer_under_1s"] is False
    refused = lane(("202", 50.0), ("503", 20.0)).summary()
    assert refused["officer_under_1s"] is False and refused["officer_errors"] == 1
    assert lane().summary()["officer_under_1s"] is False  # nothing measured proves nothing


def test_a_walk_in_has_no_contact_and_an_attestation() -> None:
    payload = walk_in_payload(random.Random(7))
    assert "email" not in payload and "phone" not in payload
    assert payload["attested_id_card_seen"] is True
