"""Through the nginx gateway on 8080, as a registrant's browser or client would."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.citizens import valid_payload

pytestmark = pytest.mark.e2e

GATEWAY = "http://127.0.0.1:8080"


async def test_signup_through_gateway_shows_its_status() -> None:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10) as client:
        accepted = await client.post("/api/v1/registrations", json=valid_payload())
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        started = time.monotonic()
        status = None
        # The status goes through Kafka, the projector and Postgres: on a loaded machine that
        # can take seconds, so wait generously (the loop ends as soon as it shows).
        while time.monotonic() - started < 30.0:
            status = await client.get(
                f"/api/v1/registrations/{body['registration_id']}",
                headers={"X-Status-Token": body["status_token"]},
            )
            if status.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert status is not None and status.status_code == 200, "status not visible within 30 s"
        # The verification workers run concurrently, so a fast pipeline may already have moved
        # the registration on (the registry simulator never matches a test citizen).
        shown = status.json()
        assert shown["registration_id"] == body["registration_id"]
        assert shown["status"] in {"submitted", "contact_pending", "rejected"}, shown


async def test_gateway_serves_the_public_page() -> None:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10) as client:
        page = await client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]


async def test_gateway_refuses_oversized_bodies_before_the_api() -> None:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10) as client:
        huge = b'{"full_name": "' + b"a" * 64_000 + b'"}'
        response = await client.post(
            "/api/v1/registrations", content=huge, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
