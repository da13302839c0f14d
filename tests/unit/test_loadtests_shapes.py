"""Load-test arrival curves and the generator's pure parts (no sockets, no clocks)."""

from __future__ import annotations

import json
import random

import pytest

from loadtests.citizens import invalid_payload, signup_payload, unique_bodies
from loadtests.curves import LAUNCH_DAY, curve_per_s, spike_per_s, users_for
from loadtests.generator import Target, percentile, request_bytes
from services.registration.schemas import RegistrationRequest


def test_spike_ramps_linearly_then_holds_then_stops() -> None:
    assert spike_per_s(30, 60, 180, 80_000) == pytest.approx(666.67, 0.01)
    assert spike_per_s(60, 60, 180, 80_000) == pytest.approx(1333.33, 0.01)
    assert spike_per_s(239, 60, 180, 80_000) == pytest.approx(1333.33, 0.01)
    assert spike_per_s(240, 60, 180, 80_000) == 0.0


def test_launch_day_peaks_at_the_opening_and_ends() -> None:
    rates = [curve_per_s(t, 600, 80_000) for t in range(600)]
    assert max(rates) == pytest.approx(80_000 / 60)
    assert rates.index(max(rates)) == int(LAUNCH_DAY[1][0] * 600)
    assert min(rates) >= 1.0
    assert curve_per_s(600, 600, 80_000) == 0.0


def test_users_cover_the_rate() -> None:
    assert users_for(1333.4, 1.0) == 1334
    assert users_for(100, 2.0) == 50


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 99) == 0.0


def test_request_bytes_is_a_complete_http_request() -> None:
    raw = request_bytes(Target("127.0.0.1", 8080, "/api/v1/registrations"), b'{"a":1}', True)
    head, body = raw.split(b"\r\n\r\n")
    assert head.startswith(b"POST /api/v1/registrations HTTP/1.1\r\n")
    assert b"Content-Length: 7" in head and b"Idempotency-Key: " in head
    assert body == b'{"a":1}'


def test_generated_bodies_pass_the_api_validation_and_have_distinct_niks() -> None:
    bodies = [json.loads(b) for b in unique_bodies(random.Random(7), 200)]
    assert len({b["nik"] for b in bodies}) == 200
    for body in bodies[:50]:
        RegistrationRequest.model_validate(body)


def test_invalid_payloads_are_refused_by_the_api_model() -> None:
    rng = random.Random(3)
    for _ in range(40):
        with pytest.raises(ValueError):
            RegistrationRequest.model_validate(invalid_payload(rng))
    RegistrationRequest.model_validate(signup_payload(rng))
