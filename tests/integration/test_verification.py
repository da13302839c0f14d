"""The verification pipeline against the running workers, simulators and SMTP sink."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from gelombang.events import REGISTRATIONS_ACCEPTED, REGISTRATIONS_SUBMITTED, dead_letter_topic
from gelombang.kafka import EVENT_TYPE_HEADER, EventPublisher, make_consumer, make_producer
from gelombang.settings import REPO_ROOT, CommonSettings
from testkit.simulators.mail_sink import find_messages
from tests.citizens import registry_person
from tests.integration.conftest import eventually, status_of

pytestmark = pytest.mark.integration

REGISTRY = "http://127.0.0.1:8091"
SMS = "http://127.0.0.1:8092"
MAILDIR = REPO_ROOT / ".run" / "mail"
_LINK = re.compile(r"https?://\S+/api/v1/contact/verify\?token=[A-Za-z0-9_\-]+")


person = registry_person


async def submit(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, str]:
    response = await api.post("/api/v1/registrations", json=body)
    assert response.status_code == 202, response.text
    accepted: dict[str, str] = response.json()
    return accepted


async def reaches(
    api: httpx.AsyncClient, accepted: dict[str, str], wanted: str, timeout_s: float = 90
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        status = await status_of(api, accepted)
        if status is None:
            return None
        # Steps can overtake each other (the NIK check often ends before the email is
        # sent), so a step counts as reached once it is in the history.
        seen = {h["status"] for h in status["history"]}
        return status if status["status"] == wanted or wanted in seen else None

    return await eventually(probe, timeout_s=timeout_s, every_s=0.25)


async def email_link(address: str, timeout_s: float = 90) -> str:
    async def probe() -> str | None:
        for message in await asyncio.to_thread(find_messages, MAILDIR, address):
            body = message.get_body(preferencelist=("plain",))
            found = _LINK.findall(str(body.get_content())) if body is not None else []
            if found:
                return str(found[-1])
        return None

    return await eventually(probe, timeout_s=timeout_s, every_s=0.25)


async def sms_codes(phone: str, at_least: int = 1) -> list[str]:
    async with httpx.AsyncClient(base_url=SMS, timeout=5) as sms:

        async def probe() -> list[str] | None:
            found = (await sms.get("/v1/messages", params={"to": phone})).json()["messages"]
            codes = [c for m in found for c in re.findall(r"\b(\d{6})\b", m["text"])]
            return codes if len(codes) >= at_least else None

        return await eventually(probe, timeout_s=90, every_s=0.25)


@pytest.fixture
async def registry_faults() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=REGISTRY, timeout=5) as client:
        before = (await client.get("/admin/faults")).json()
        try:
            yield client
        finally:
            await client.put("/admin/faults", json=before)


async def test_email_path_from_signup_to_verified(api: httpx.AsyncClient) -> None:
    body = person(email=True)
    accepted = await submit(api, body)
    await reaches(api, accepted, "contact_pending")
    link = await email_link(body["email"])
    path = "/" + link.split("/", 3)[3]
    clicked = await api.get(path, headers={"Accept": "text/html"})
    assert clicked.status_code == 200
    assert "text/html" in clicked.headers["content-type"]
    again = await api.get(path)
    assert again.status_code == 200
    assert again.json()["status"] == "contact_already_confirmed"
    status = await reaches(api, accepted, "verified")
    steps = [h["status"] for h in status["history"]]
    assert steps[0] == "submitted" and steps[-1] == "verified"
    assert {"contact_pending", "contact_confirmed", "nik_verified"} <= set(steps)


async def test_tampered_link_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/contact/verify", params={"token": "AAAA" * 10})
    assert response.status_code == 400
    assert response.json()["errors"] == [] or response.json()["detail"]


async def test_phone_otp_locks_after_five_wrong_codes_and_a_new_code_works(
    api: httpx.AsyncClient,
) -> None:
    body = person(email=False, phone=True)
    accepted = await submit(api, body)
    [code] = await sms_codes(body["phone"])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    headers = {"X-Status-Token": accepted["status_token"]}
    attempt = {"registration_id": accepted["registration_id"], "code": wrong}
    answers = [
        (await api.post("/api/v1/contact/otp/verify", json=attempt, headers=headers)).status_code
        for _ in range(5)
    ]
    assert answers == [422, 422, 422, 422, 429]
    # Locked: even the right code is refused now.
    right = {**attempt, "code": code}
    locked = await api.post("/api/v1/contact/otp/verify", json=right, headers=headers)
    assert locked.status_code == 429
    # Someone without the status token cannot guess at all.
    stranger = await api.post("/api/v1/contact/otp/verify", json=right)
    assert stranger.status_code == 404

    resend = await api.post(
        "/api/v1/contact/otp/resend",
        json={"registration_id": accepted["registration_id"]},
        headers=headers,
    )
    assert resend.status_code == 202
    too_soon = await api.post(
        "/api/v1/contact/otp/resend",
        json={"registration_id": accepted["registration_id"]},
        headers=headers,
    )
    assert too_soon.status_code == 429 and "retry-after" in too_soon.headers
    codes = await sms_codes(body["phone"], at_least=2)
    confirmed = await api.post(
        "/api/v1/contact/otp/verify", json={**attempt, "code": codes[-1]}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    await reaches(api, accepted, "verified")


async def test_nik_data_mismatch_is_rejected_with_a_reason_people_understand(
    api: httpx.AsyncClient,
) -> None:
    body = person(email=True)
    body["full_name"] = body["full_name"] + " Wijaya"
    accepted = await submit(api, body)
    status = await reaches(api, accepted, "rejected")
    [rejected] = [h for h in status["history"] if h["status"] == "rejected"]
    assert rejected["reason"] == "nik_data_mismatch"
    assert "civil registry" in rejected["message"]


async def test_registry_outage_delays_people_but_rejects_nobody(
    api: httpx.AsyncClient, registry_faults: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await registry_faults.put("/admin/faults", json={"down": True})
    crowd = [person(email=True) for _ in range(5)]
    accepted = [await submit(api, body) for body in crowd]
    for body in crowd:
        link = await email_link(body["email"])
        assert (await api.get("/" + link.split("/", 3)[3])).status_code == 200
    ids = [uuid.UUID(a["registration_id"]) for a in accepted]

    async def all_tried() -> list[asyncpg.Record] | None:
        rows = await pool.fetch(
            "SELECT outcome, nik_attempts FROM verification_cases"
            " WHERE registration_id = ANY($1)",
            ids,
        )
        return rows if len(rows) == 5 and all(r["nik_attempts"] >= 1 for r in rows) else None

    # Every check is attempted, fails and is rescheduled (polled: a loaded machine is slow).
    rows = await eventually(all_tried, timeout_s=90)
    assert [r["outcome"] for r in rows] == [None] * 5, "someone was settled during the outage"
    await registry_faults.put("/admin/faults", json={"down": False})
    for answer in accepted:
        await reaches(api, answer, "verified", timeout_s=90)


async def test_poison_message_goes_to_the_dead_letter_topic_and_work_continues(
    api: httpx.AsyncClient,
) -> None:
    settings = CommonSettings()
    marker = f"poison-{uuid.uuid4()}".encode()
    producer = make_producer(
        settings.kafka_bootstrap, client_id="it-poison", auth=settings.kafka_auth
    )
    await producer.start()
    try:
        # The decider reads the attempts, the verification workers its accepted registrations.
        for topic, event_type in (
            (REGISTRATIONS_SUBMITTED, b"RegistrationSubmitted"),
            (REGISTRATIONS_ACCEPTED, b"RegistrationAccepted"),
        ):
            await EventPublisher(producer).publish_raw(
                topic, marker, b"{not json" + marker, [(EVENT_TYPE_HEADER, event_type)]
            )
    finally:
        await producer.stop()

    consumer = make_consumer(
        settings.kafka_bootstrap,
        f"it-dlq-{uuid.uuid4().hex[:8]}",
        [dead_letter_topic(REGISTRATIONS_SUBMITTED), dead_letter_topic(REGISTRATIONS_ACCEPTED)],
        auth=settings.kafka_auth,
    )
    await consumer.start()
    groups: set[str] = set()
    # Generous for a loaded machine: the loop ends as soon as both groups have dead-lettered it.
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.key == marker:
                        groups.add(dict(record.headers)["dlq_group"].decode())
            if {"verification", "registration-projector"} <= groups:
                break
    finally:
        await consumer.stop()
    assert {"verification", "registration-projector"} <= groups
    body = person(email=True)
    accepted = await submit(api, body)
    await reaches(api, accepted, "contact_pending")


async def test_a_worker_killed_mid_stream_loses_and_duplicates_nothing(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    pidfile = REPO_ROOT / ".run" / "pids" / "verification-0.pid"
    pid = int(pidfile.read_text().split()[0])
    crowd = [person(email=True) for _ in range(30)]
    accepted: list[dict[str, str]] = []
    for i, body in enumerate(crowd):
        accepted.append(await submit(api, body))
        if i == 10:
            os.kill(pid, signal.SIGKILL)
    # Bring the worker back the way an operator would.
    await asyncio.to_thread(
        subprocess.run,
        ["python3", str(REPO_ROOT / "deploy" / "local" / "stack.py"), "up"],
        check=True,
        capture_output=True,
        timeout=180,
    )
    for body in crowd:
        # Work the dead worker had claimed waits for its lease (20 s) to run out.
        link = await email_link(body["email"], timeout_s=90)
        assert (await api.get("/" + link.split("/", 3)[3])).status_code == 200
    for answer in accepted:
        await reaches(api, answer, "verified", timeout_s=90)
    ids = [uuid.UUID(a["registration_id"]) for a in accepted]
    counts = await pool.fetchrow(
        """SELECT count(*) AS cases, count(DISTINCT registration_id) AS distinct_cases
             FROM verification_cases WHERE registration_id = ANY($1)""",
        ids,
    )
    assert counts is not None and counts["cases"] == counts["distinct_cases"] == 30
    outcomes = await pool.fetchval(
        """SELECT count(*) FROM verification_outbox
            WHERE event_type = 'RegistrationVerified'
              AND message_key = ANY($1::bytea[])""",
        [str(i).encode() for i in ids],
    )
    assert outcomes == 30, "each registration's outcome must be recorded exactly once"
