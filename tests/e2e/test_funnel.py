"""The verification funnel end to end, through the gateway, with the real SMTP path and both
simulators: every sign-up ends verified or rejected with the reason its data predicts."""

from __future__ import annotations

import pytest

from loadtests.funnel import run_funnel

pytestmark = pytest.mark.e2e


async def test_sign_ups_reach_the_outcome_their_data_predicts() -> None:
    report, crowd = await run_funnel(count=60, seed=20200411, timeout_s=180)
    assert report.accepted == report.sent == 60, report.refused
    assert report.unfinished == 0
    assert report.unexpected == []
    # The population mixes in typos and unknown NIKs; both kinds of outcome must occur.
    assert report.outcomes["verified"] > 0
    assert sum(report.outcomes.values()) == 60
    assert report.postgres["registrations"] == report.postgres["cases"] == 60
    assert report.postgres["mismatched"] == 0
    assert any(p.phone and not p.email for p in crowd), "no phone-only person in the sample"
