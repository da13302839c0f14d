"""The verification funnel end to end, through the gateway, with the real SMTP path and both
simulators: every sign-up ends verified or rejected with the reason its data predicts."""

from __future__ import annotations

import asyncio
import random
import uuid

import httpx
import pytest

from loadtests.funnel import run_funnel
from tests.waves import GATEWAY, draw_the_next_wave

pytestmark = pytest.mark.e2e


async def test_sign_ups_reach_the_outcome_their_data_predicts() -> None:
    # A fresh crowd each run (a warm stack already has earlier runs' people); the seed is in the
    # failure message so a failing crowd can be replayed with loadtests.funnel --seed.
    seed = random.SystemRandom().randrange(1, 2**31)
    report, crowd = await run_funnel(count=60, seed=seed, timeout_s=180)
    assert report.accepted == report.sent == 60, (seed, report.refused)
    assert report.unfinished == 0
    assert report.unexpected == []
    # The population mixes in typos and unknown NIKs; both kinds of outcome must occur.
    assert report.outcomes["verified"] > 0
    assert sum(report.outcomes.values()) == 60
    assert report.postgres["registrations"] == report.postgres["cases"] == 60
    assert report.postgres["mismatched"] == 0
    assert any(p.phone and not p.email for p in crowd), "no phone-only person in the sample"

    # The next wave: every verified person ends selected or waitlisted, and sees which wave.
    verified = [p for p in crowd if p.final_status == "verified"]
    # "verified" is the projector's view; a wave closed before they are in the selection pool
    # would leave them out of it, so the draw waits for that first.
    ids = [uuid.UUID(p.registration_id) for p in verified]
    number, wave = await draw_the_next_wave(ids, max(1, len(verified) // 2), patience_s=60)
    assert wave["selected"] >= 1
    shown: dict[str, tuple[str, int | None]] = {}
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10) as client:
        for _ in range(60):
            for person in verified:
                if person.registration_id in shown:
                    continue
                status = await client.get(
                    f"/api/v1/registrations/{person.registration_id}",
                    headers={"X-Status-Token": person.token},
                )
                if status.status_code == 200 and status.json()["wave"] == number:
                    body = status.json()
                    shown[person.registration_id] = (body["status"], body["wave"])
                await asyncio.sleep(0.06)  # under the gateway's per-IP rate
            if len(shown) == len(verified):
                break
            await asyncio.sleep(1.0)
    assert len(shown) == len(verified), "some verified people never saw the wave's decision"
    assert {status for status, _ in shown.values()} <= {"selected", "waitlisted"}
