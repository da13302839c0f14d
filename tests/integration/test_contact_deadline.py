"""What is left after a change of contact (issue 20), against the running API, projector and
verification workers: the resends left in the status answer, and the time a late change
leaves to confirm the new contact."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from tests.integration.conftest import status_of
from tests.integration.test_contact_change import another_number, change_applied, phone_sign_up
from tests.integration.test_verification import reaches

pytestmark = pytest.mark.integration


async def test_the_status_answer_tells_the_resends_left(
    api: httpx.AsyncClient, redis_client: aioredis.Redis
) -> None:
    _, accepted, headers = await phone_sign_up(api)
    registration_id = accepted["registration_id"]
    status = await reaches(api, accepted, "contact_pending")
    assert (status["contact"]["resends_left"], status["contact"]["resend_limit"]) == (4, 4)

    resend = {"registration_id": registration_id}
    for _ in range(2):
        # The one-a-minute cooldown is not what this test is about.
        await redis_client.delete(f"otp-resend:{registration_id}")
        answer = await api.post("/api/v1/contact/otp/resend", json=resend, headers=headers)
        assert answer.status_code == 202, answer.text
    counted = await status_of(api, accepted)
    assert counted is not None and counted["contact"]["resends_left"] == 2

    # A new number starts a new count, told at once.
    change = {"registration_id": registration_id, "phone": another_number()}
    changed = await api.post("/api/v1/contact/change", json=change, headers=headers)
    assert changed.status_code == 202, changed.text
    renewed = await status_of(api, accepted)
    assert renewed is not None and renewed["contact"]["resends_left"] == 4


async def test_a_change_near_the_deadline_leaves_a_day_to_confirm(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    _, accepted, headers = await phone_sign_up(api)
    registration_id = accepted["registration_id"]
    await reaches(api, accepted, "contact_pending")
    # Hour 47 of 48: one hour left on the case's clock.
    await pool.execute(
        """UPDATE verification_cases SET contact_expires_at = now() + interval '1 hour'
            WHERE registration_id = $1""",
        uuid.UUID(registration_id),
    )
    asked_at = datetime.now(UTC)
    change = {"registration_id": registration_id, "phone": another_number()}
    changed = await api.post("/api/v1/contact/change", json=change, headers=headers)
    assert changed.status_code == 202, changed.text
    await change_applied(api, accepted)
    deadline = await pool.fetchval(
        "SELECT contact_expires_at FROM verification_cases WHERE registration_id = $1",
        uuid.UUID(registration_id),
    )
    # A day from when the worker applied the change (within the minute this test waited).
    assert asked_at + timedelta(hours=24) <= deadline <= datetime.now(UTC) + timedelta(hours=24)
