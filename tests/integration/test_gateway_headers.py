"""The running gateway's security headers (issue 16 item 5) on the page, on an API answer and on
its own 429, and the waiting room's figures (issue 20) cached by it. Passes once `make up` has
loaded deploy/gateway/nginx.conf.template into the gateway.

The 429 is tripped from a loopback address of this test alone, so the per-address limit it hits
never throttles other tests on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import httpx
import pytest

pytestmark = pytest.mark.integration

GATEWAY = "http://127.0.0.1:8080"
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def assert_hardened(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("referrer-policy") == "no-referrer", where
    assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", ""), where
    # Plain HTTP here: HSTS belongs where TLS ends (the Kubernetes ingress), never on this.
    assert "strict-transport-security" not in response.headers, where


@pytest.fixture
async def stranger() -> AsyncIterator[httpx.AsyncClient]:
    address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(3, 254)}"
    transport = httpx.AsyncHTTPTransport(local_address=address)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(
        base_url=GATEWAY, transport=transport, limits=limits, timeout=20
    ) as client:
        yield client


async def test_the_page_and_its_files_carry_the_page_policy() -> None:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10) as client:
        for path in ("/", "/status", "/favicon.svg"):
            response = await client.get(path)
            assert response.status_code == 200, path
            assert_hardened(response)
            assert response.headers["content-security-policy"] == PAGE_POLICY, path
        # Scripts, styles and data run under the policy of the document that loads them; they
        # are never sniffed into something else and leak no referrer.
        for path in ("/app.js", "/style.css", "/data/regions.json"):
            response = await client.get(path)
            assert response.status_code == 200, path
            assert response.headers.get("x-content-type-options") == "nosniff", path
            assert response.headers.get("referrer-policy") == "no-referrer", path
            assert response.headers.get("cache-control") == "no-cache", path
        # The email link opened in a browser is the page too (the mail-scanner guard).
        link = await client.get(
            "/api/v1/contact/verify", params={"token": "x"}, headers={"Accept": "text/html"}
        )
        assert link.status_code == 200 and "text/html" in link.headers["content-type"]
        assert link.headers["content-security-policy"] == PAGE_POLICY


async def test_api_answers_may_not_run_load_or_be_framed() -> None:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10) as client:
        answers = [
            await client.get("/api/v1/challenge"),
            await client.post("/api/v1/registrations", json={}),
            await client.get("/api/v1/intake/refused"),
        ]
    assert [a.status_code for a in answers] == [200, 422, 404]
    for answer in answers:
        assert_hardened(answer)
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")


async def test_the_gateway_s_own_429_is_hardened_and_says_when(
    stranger: httpx.AsyncClient,
) -> None:
    # Well past the address's burst (40) at once: the gateway refuses the rest itself.
    answers = await asyncio.gather(*(stranger.get("/api/v1/intake") for _ in range(120)))
    refused = [a for a in answers if a.status_code == 429]
    assert refused, sorted({a.status_code for a in answers})
    for answer in refused[:5]:
        assert_hardened(answer)
        assert int(answer.headers["retry-after"]) >= 1
        assert answer.headers["access-control-expose-headers"] == "Retry-After"
        assert answer.json() == {"detail": "too many requests, retry later"}


async def test_the_waiting_room_s_figures_come_through_the_gateway() -> None:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10) as client:
        answer = await client.get("/api/v1/intake")
    assert answer.status_code == 200
    assert_hardened(answer)
    figures = answer.json()
    assert set(figures) == {"refused_share", "retry_after_s", "estimated_wait_s", "window_s"}
    assert 0 <= figures["refused_share"] <= 1
    assert figures["retry_after_s"] >= 1
