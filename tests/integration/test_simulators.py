"""The simulators as `make up` runs them: registry on 8091, SMS gateway on 8092, SMTP on 1025.

Tests that change a simulator's faults restore the previous config in a ``finally``: the
processes are shared with everyone else using the stack.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import pytest

from gelombang.settings import REPO_ROOT
from testkit.population import citizen_for, random_citizen
from testkit.simulators.mail_sink import find_messages
from tests.integration.conftest import eventually

pytestmark = pytest.mark.integration

REGISTRY = "http://127.0.0.1:8091"
SMS = "http://127.0.0.1:8092"
MAILDIR = REPO_ROOT / ".run" / "mail"


@pytest.fixture
async def registry() -> AsyncIterator[httpx.AsyncClient]:
    headers = {"X-Api-Key": "dev"}
    async with httpx.AsyncClient(base_url=REGISTRY, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
async def sms() -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": "Bearer dev"}
    async with httpx.AsyncClient(base_url=SMS, headers=headers, timeout=10) as client:
        yield client


async def post_through_faults(
    client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> httpx.Response:
    """POST as a client should: the default config fails ~1% of calls, so retry those."""
    for _ in range(10):
        response = await client.post(path, json=body)
        if response.status_code not in (429, 500, 503):
            return response
        await asyncio.sleep(0.2)
    return response


async def verify(client: httpx.AsyncClient, nik: str, name: str, born: date) -> dict[str, Any]:
    body = {"nik": nik, "full_name": name, "birth_date": born.isoformat()}
    response = await post_through_faults(client, "/v1/nik/verify", body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_registry_knows_the_population(registry: httpx.AsyncClient) -> None:
    rng = random.Random()
    citizen = random_citizen(rng)
    match = await verify(registry, citizen.nik, citizen.full_name.lower(), citizen.birth_date)
    assert match == {"result": "match", "mismatched_fields": []}

    renamed = await verify(registry, citizen.nik, "Orang Lain", citizen.birth_date)
    assert renamed == {"result": "mismatch", "mismatched_fields": ["full_name"]}

    stranger = next(
        nik
        for nik in (f"{citizen.nik[:12]}{s:04d}" for s in range(1, 10_000))
        if citizen_for(nik) is None
    )
    unknown = await verify(registry, stranger, citizen.full_name, citizen.birth_date)
    assert unknown == {"result": "not_found", "mismatched_fields": []}


async def test_registry_without_key_is_refused() -> None:
    async with httpx.AsyncClient(base_url=REGISTRY, timeout=10) as client:
        body = {"nik": "3275011708900001", "full_name": "A", "birth_date": "1990-08-17"}
        assert (await client.post("/v1/nik/verify", json=body)).status_code == 401


async def test_registry_outage_answers_503_with_retry_after(registry: httpx.AsyncClient) -> None:
    before = (await registry.get("/admin/faults")).json()
    body = {"nik": "3275011708900001", "full_name": "A", "birth_date": "1990-08-17"}
    try:
        put = await registry.put("/admin/faults", json={"down": True})
        assert put.json()["down"] is True
        response = await registry.post("/v1/nik/verify", json=body)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert (await registry.get("/readyz")).status_code == 200  # probes are exempt
    finally:
        await registry.put("/admin/faults", json=before)
    assert (await registry.get("/admin/faults")).json() == before
    assert (await post_through_faults(registry, "/v1/nik/verify", body)).status_code == 200


async def test_registry_rate_limit_answers_429(registry: httpx.AsyncClient) -> None:
    before = (await registry.get("/admin/faults")).json()
    body = {"nik": "3275011708900001", "full_name": "A", "birth_date": "1990-08-17"}
    try:
        started = time.monotonic()  # the PUT starts a fresh, full bucket
        await registry.put("/admin/faults", json={"rate_limit_per_s": 2, "error_rate": 0})
        responses = await asyncio.gather(
            *(registry.post("/v1/nik/verify", json=body) for _ in range(12))
        )
        elapsed = time.monotonic() - started
        codes = [r.status_code for r in responses]
        # At most the two tokens in the bucket plus any refilled while the requests arrive
        # (slow on a loaded machine). Not exactly that many: the verification workers share
        # the bucket and may take some of them.
        assert codes.count(200) <= 2 + math.ceil(2 * elapsed), (codes, elapsed)
        limited = [r for r in responses if r.status_code == 429]
        assert limited and len(limited) == 12 - codes.count(200), codes
        assert all(r.headers["Retry-After"] == "1" for r in limited)
    finally:
        await registry.put("/admin/faults", json=before)
    assert (await registry.get("/admin/faults")).json() == before


async def test_sms_is_kept_and_readable_by_recipient(sms: httpx.AsyncClient) -> None:
    # A fresh number per run, so messages from other tests and earlier runs do not interfere.
    to = f"+62812{random.randint(0, 99_999_999):08d}"
    ref = f"test-{uuid.uuid4()}"
    body = {"to": to, "text": "Kode verifikasi Gelombang: 123456", "client_ref": ref}
    first = await post_through_faults(sms, "/v1/messages", body)
    again = await post_through_faults(sms, "/v1/messages", body)
    assert first.status_code == again.status_code == 202
    assert first.json()["message_id"] == again.json()["message_id"]

    stored = (await sms.get("/v1/messages", params={"to": to})).json()["messages"]
    assert len(stored) == 1
    assert stored[0]["text"] == body["text"] and stored[0]["client_ref"] == ref
    by_ref = (await sms.get("/v1/messages", params={"client_ref": ref})).json()["messages"]
    assert [m["message_id"] for m in by_ref] == [first.json()["message_id"]]

    second = {**body, "text": "Kode verifikasi Gelombang: 654321", "client_ref": f"{ref}-2"}
    assert (await post_through_faults(sms, "/v1/messages", second)).status_code == 202
    listed = (await sms.get("/v1/messages", params={"to": to})).json()["messages"]
    texts = [m["text"] for m in listed]
    assert texts == [body["text"], second["text"]]  # newest last
    since = listed[1]["received_at"]
    newer = (await sms.get("/v1/messages", params={"to": to, "since": since})).json()
    assert [m["text"] for m in newer["messages"]] == [second["text"]]

    outbox = REPO_ROOT / ".run" / "sms" / "outbox.jsonl"
    assert ref in outbox.read_text()


async def test_sms_refuses_numbers_that_are_not_indonesian_e164(sms: httpx.AsyncClient) -> None:
    body = {"to": "0812345678901", "text": "x", "client_ref": f"test-{uuid.uuid4()}"}
    assert (await post_through_faults(sms, "/v1/messages", body)).status_code == 422


async def test_sms_outage_is_only_on_sending(sms: httpx.AsyncClient) -> None:
    before = (await sms.get("/admin/faults")).json()
    body = {"to": "+6281234567890", "text": "x", "client_ref": f"test-{uuid.uuid4()}"}
    try:
        await sms.put("/admin/faults", json={"down": True})
        response = await sms.post("/v1/messages", json=body)
        assert (response.status_code, response.headers["Retry-After"]) == (503, "5")
        reading = await sms.get("/v1/messages", params={"client_ref": body["client_ref"]})
        assert reading.status_code == 200 and reading.json()["messages"] == []
    finally:
        await sms.put("/admin/faults", json=before)


async def test_mail_sent_over_smtp_lands_in_the_maildir() -> None:
    to = f"warga.{uuid.uuid4().hex[:12]}@example.id"
    message = EmailMessage()
    message["From"] = "Gelombang <noreply@gelombang.example.id>"
    message["To"] = to
    message["Subject"] = "Konfirmasi email pendaftaran"
    message.set_content("Buka tautan ini: http://127.0.0.1:8080/api/v1/contact/verify?token=abc")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=1025, timeout=10)

    async def delivered() -> list[EmailMessage] | None:
        return find_messages(MAILDIR, to) or None

    found = await eventually(delivered, timeout_s=5)
    assert len(found) == 1
    assert found[0]["Subject"] == "Konfirmasi email pendaftaran"
    body = found[0].get_body(("plain",))
    assert body is not None and "token=abc" in body.get_content()
    # Nothing left half-written (other mail may be being written right now by the workers, so
    # only a temporary file that has been lying around is a problem).
    stale = [p for p in MAILDIR.glob(".*.tmp") if time.time() - p.stat().st_mtime > 5]
    assert not stale


async def test_mail_sink_is_ready_and_counts_messages() -> None:
    async with httpx.AsyncClient(base_url="http://127.0.0.1:8093", timeout=5) as ops:
        ready = await ops.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["smtp"] is True
        assert "mail_sink_messages_total" in (await ops.get("/metrics")).text
