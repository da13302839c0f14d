"""A mistyped number changed before it is confirmed, and a resend past its limit refused out
loud (issue 20), against the running API, projector, verification workers and SMS simulator."""

from __future__ import annotations

import random
import re
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.integration.conftest import eventually, status_of
from tests.integration.test_verification import (
    email_link,
    person,
    reaches,
    sms_codes,
    submit,
)

pytestmark = pytest.mark.integration

SMS = "http://127.0.0.1:8092"


def another_number() -> str:
    return f"+62813{random.SystemRandom().randrange(10**7, 10**8)}"


async def phone_sign_up(
    api: httpx.AsyncClient,
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """A sign-up with a phone number and no email: what was sent, the API's answer, and the
    headers of its owner's later requests (the status token; answers in English)."""
    body = person(email=False, phone=True)
    accepted = await submit(api, body)
    return body, accepted, {"X-Status-Token": accepted["status_token"], "Accept-Language": "en"}


async def change_applied(api: httpx.AsyncClient, accepted: dict[str, str]) -> dict[str, Any]:
    """The status answer once the worker has applied the (first) change of contact."""

    async def probe() -> dict[str, Any] | None:
        status = await status_of(api, accepted)
        return status if status and status["contact"]["changes"] == 1 else None

    return await eventually(probe, timeout_s=60, every_s=0.25)


async def sms_texts(phone: str) -> list[str]:
    async with httpx.AsyncClient(base_url=SMS, timeout=5) as sms:
        found = (await sms.get("/v1/messages", params={"to": phone})).json()["messages"]
    return [str(m["text"]) for m in found]


async def test_a_changed_number_gets_a_new_code_and_the_old_code_stops_working(
    api: httpx.AsyncClient, redis_client: aioredis.Redis
) -> None:
    body, accepted, headers = await phone_sign_up(api)
    registration_id = accepted["registration_id"]
    [old_code] = await sms_codes(body["phone"])
    await reaches(api, accepted, "contact_pending")

    # Typed the way people do; stored the way sign-up stores it.
    new_phone = another_number()
    local = "0" + new_phone.removeprefix("+62")
    typed = f"{local[:4]} {local[4:8]} {local[8:]}"
    change = {"registration_id": registration_id, "phone": typed}
    # Without the status token nobody can change anything.
    assert (await api.post("/api/v1/contact/change", json=change)).status_code == 404
    changed = await api.post("/api/v1/contact/change", json=change, headers=headers)
    assert changed.status_code == 202, changed.text
    assert changed.json()["status"] == "contact_change_queued"
    again = await api.post("/api/v1/contact/change", json=change, headers=headers)
    assert again.status_code == 429 and again.headers["retry-after"] == "60"
    assert again.json()["code"] == "contact_change_too_soon"

    [new_code] = await sms_codes(new_phone)
    [text] = await sms_texts(new_phone)
    assert f"id={registration_id}" in text, "the new number's SMS does not carry the status link"

    # The status answer shows the new number, masked, and that it was changed.
    async def shows_new_number() -> dict[str, Any] | None:
        status = await status_of(api, accepted)
        contact = status and status["contact"]
        return contact if contact and contact["hint"] == f"****{new_phone[-4:]}" else None

    contact = await eventually(shows_new_number, timeout_s=60, every_s=0.25)
    assert contact["changes"] == 1 and contact["kinds"] == ["phone"]
    assert contact["method"] == "sms" and contact["state"] in ("pending", "sent")
    # The old number got nothing more.
    assert len(await sms_texts(body["phone"])) == 1

    if old_code != new_code:
        stale = {"registration_id": registration_id, "code": old_code}
        refused = await api.post("/api/v1/contact/otp/verify", json=stale, headers=headers)
        assert refused.status_code in (410, 422), refused.text
    right = {"registration_id": registration_id, "code": new_code}
    confirmed = await api.post("/api/v1/contact/otp/verify", json=right, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    status = await reaches(api, accepted, "verified")
    assert status["contact"]["state"] == "confirmed"

    # Confirmed: the contact can no longer be changed.
    await redis_client.delete(f"contact-change:{registration_id}")
    late = await api.post(
        "/api/v1/contact/change", json={**change, "phone": another_number()}, headers=headers
    )
    assert late.status_code == 409 and late.json()["code"] == "contact_change_closed"
    assert "can no longer be changed" in late.json()["detail"]


async def test_a_resend_past_the_limit_is_refused_with_a_reason(
    api: httpx.AsyncClient, redis_client: aioredis.Redis
) -> None:
    _, accepted, headers = await phone_sign_up(api)
    registration_id = accepted["registration_id"]
    resend = {"registration_id": registration_id}
    answers = []
    for _ in range(5):
        # The one-a-minute cooldown is not what this test is about.
        await redis_client.delete(f"otp-resend:{registration_id}")
        answers.append(await api.post("/api/v1/contact/otp/resend", json=resend, headers=headers))
    assert [a.status_code for a in answers] == [202, 202, 202, 202, 429]
    refused = answers[-1].json()
    assert refused["code"] == "otp_resend_limit" and refused["times"] == 4
    assert re.search(r"asked for the confirmation message 4 times", refused["detail"])
    assert "retry-after" not in answers[-1].headers
    # The count lives as long as the case may wait for its contact (48 hours).
    ttl = await redis_client.ttl(f"otp-resends:{registration_id}")
    assert 47 * 3600 < ttl <= 48 * 3600

    # A new number starts its own count, as the worker's sends do.
    await reaches(api, accepted, "contact_pending")
    change = {"registration_id": registration_id, "phone": another_number()}
    changed = await api.post("/api/v1/contact/change", json=change, headers=headers)
    assert changed.status_code == 202, changed.text
    await redis_client.delete(f"otp-resend:{registration_id}")
    again = await api.post("/api/v1/contact/otp/resend", json=resend, headers=headers)
    assert again.status_code == 202


async def test_a_changed_email_gets_a_new_link_and_the_old_link_confirms_nothing(
    api: httpx.AsyncClient,
) -> None:
    body = person(email=True)
    accepted = await submit(api, body)
    headers = {"X-Status-Token": accepted["status_token"], "Accept-Language": "en"}
    old_link = await email_link(body["email"])
    await reaches(api, accepted, "contact_pending")
    new_email = body["email"].replace("it.", "it.right.")
    change = {"registration_id": accepted["registration_id"], "email": new_email}
    changed = await api.post("/api/v1/contact/change", json=change, headers=headers)
    assert changed.status_code == 202, changed.text
    new_link = await email_link(new_email)
    assert new_link != old_link

    await change_applied(api, accepted)
    stale = await api.get("/" + old_link.split("/", 3)[3], headers={"Accept-Language": "en"})
    assert stale.status_code == 410 and "replaced" in stale.json()["detail"]
    fresh = await api.get("/" + new_link.split("/", 3)[3])
    assert fresh.status_code == 200, fresh.text
    status = await reaches(api, accepted, "verified")
    assert status["contact"]["hint"] == f"i***@{new_email.split('@')[1]}"
