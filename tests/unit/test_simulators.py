"""Fault logic and the simulators' HTTP contracts, in process (ASGI transport, no sockets)."""

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from testkit.population import random_citizen
from testkit.simulators import civil_registry, sms_gateway
from testkit.simulators.faults import FaultConfig, FaultPatch, Faults, TokenBucket
from tests.unit.fakes import FakeClock

CALM = FaultConfig()  # no latency, no errors, no limit


def test_token_bucket_allows_a_second_of_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5, clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.2  # one token's worth
    assert [bucket.take() for _ in range(2)] == [True, False]
    clock.now += 100  # refill is capped at the capacity
    assert sum(bucket.take() for _ in range(20)) == 5


def test_token_bucket_below_one_per_second_still_allows_one() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0.5, clock)
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now += 2
    assert bucket.take()


def test_zero_rate_is_unlimited() -> None:
    bucket = TokenBucket(0, FakeClock())
    assert all(bucket.take() for _ in range(10_000))


def test_partial_update_changes_only_given_fields() -> None:
    faults = Faults(FaultConfig(latency_ms=40, jitter_ms=30, error_rate=0.01))
    new = faults.update(FaultPatch(down=True))
    assert new == FaultConfig(latency_ms=40, jitter_ms=30, error_rate=0.01, down=True)
    assert faults.config == new
    assert faults.update(FaultPatch(down=False, error_rate=0.5)).error_rate == 0.5


def test_patch_rejects_out_of_range_and_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        FaultPatch.model_validate({"error_rate": 1.5})
    with pytest.raises(ValidationError):
        FaultPatch.model_validate({"latency_ms": -1})
    with pytest.raises(ValidationError):
        FaultPatch.model_validate({"explode": True})


def test_down_wins_over_everything_and_costs_no_latency() -> None:
    faults = Faults(FaultConfig(latency_ms=500, error_rate=1, down=True, rate_limit_per_s=1))
    verdicts = [faults.verdict() for _ in range(5)]
    assert {(v.outcome, v.delay_s) for v in verdicts} == {("down", 0.0)}


def test_rate_limit_then_errors_at_the_configured_rate() -> None:
    clock = FakeClock()
    faults = Faults(FaultConfig(error_rate=0.25, rate_limit_per_s=1000), random.Random(1), clock)
    outcomes = [faults.verdict().outcome for _ in range(1000)]
    assert 200 < outcomes.count("error") < 300
    assert faults.verdict().outcome == "rate_limited"
    faults.update(FaultPatch(rate_limit_per_s=0))
    assert "rate_limited" not in {faults.verdict().outcome for _ in range(2000)}


def test_latency_is_around_the_mean_and_never_negative() -> None:
    faults = Faults(FaultConfig(latency_ms=40, jitter_ms=30), random.Random(2))
    delays = [faults.verdict().delay_s for _ in range(5000)]
    assert min(delays) >= 0
    assert 0.038 < sum(delays) / len(delays) < 0.046  # clipping at 0 lifts the mean a little


@pytest.fixture
async def registry() -> AsyncIterator[httpx.AsyncClient]:
    app = civil_registry.create_app(Faults(CALM), api_key="sekret")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
        yield client


@asynccontextmanager
async def started(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` with its lifespan run: httpx's transport runs none, so each request
    gets a copy of the lifespan's state here, as uvicorn hands it over."""
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            scope["state"] = dict(state or {})
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@pytest.fixture
async def sms() -> AsyncIterator[httpx.AsyncClient]:
    async with started(sms_gateway.create_app(Faults(CALM), capacity=3), "http://sms") as client:
        yield client


async def test_registry_answers_from_the_population(registry: httpx.AsyncClient) -> None:
    citizen = random_citizen(random.Random(3))
    body = {
        "nik": citizen.nik,
        "full_name": citizen.full_name,
        "birth_date": citizen.birth_date.isoformat(),
    }
    headers = {"X-Api-Key": "sekret"}
    response = await registry.post("/v1/nik/verify", json=body, headers=headers)
    assert response.json() == {"result": "match", "mismatched_fields": []}
    body["full_name"] = "Zzz"
    response = await registry.post("/v1/nik/verify", json=body, headers=headers)
    assert response.json() == {"result": "mismatch", "mismatched_fields": ["full_name"]}


async def test_registry_requires_the_api_key(registry: httpx.AsyncClient) -> None:
    body = {"nik": "3275011708900001", "full_name": "A", "birth_date": "1990-08-17"}
    assert (await registry.post("/v1/nik/verify", json=body)).status_code == 401
    wrong = {"X-Api-Key": "guess"}
    assert (await registry.post("/v1/nik/verify", json=body, headers=wrong)).status_code == 401


async def test_the_simulators_refuse_a_key_of_any_bytes_with_401() -> None:
    """Bytes 0x80-0xFF reach the app as non-ASCII text, which compare_digest cannot take."""
    registry_app = civil_registry.create_app(Faults(CALM), api_key="sekret")
    sms_app = sms_gateway.create_app(Faults(CALM), capacity=3, api_key="sekret")
    body = {"nik": "3275011708900001", "full_name": "A", "birth_date": "1990-08-17"}
    message = {"to": "+6281234567890", "text": "x", "client_ref": "r"}
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=registry_app), base_url="http://r"
        ) as r,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=sms_app), base_url="http://s") as s,
    ):
        for key in (b"\xff\xfe\xe9abc", b"\xe9" * 6, b"\xe9" * 10_000):
            checked = await r.post("/v1/nik/verify", json=body, headers={b"X-Api-Key": key})
            assert checked.status_code == 401
            sent = await s.post(
                "/v1/messages", json=message, headers={b"Authorization": b"Bearer " + key}
            )
            assert sent.status_code == 401


async def test_faults_apply_to_verify_but_not_to_admin_or_probes(
    registry: httpx.AsyncClient,
) -> None:
    put = await registry.put("/admin/faults", json={"down": True})
    assert put.json()["down"] is True
    body = {"nik": "3275011708900001", "full_name": "A", "birth_date": "1990-08-17"}
    response = await registry.post("/v1/nik/verify", json=body, headers={"X-Api-Key": "sekret"})
    assert (response.status_code, response.headers["Retry-After"]) == (503, "5")
    assert (await registry.get("/healthz")).status_code == 200
    assert (await registry.get("/readyz")).status_code == 200
    assert (await registry.get("/admin/faults")).json()["down"] is True
    await registry.put("/admin/faults", json={"down": False, "error_rate": 1})
    response = await registry.post("/v1/nik/verify", json=body, headers={"X-Api-Key": "sekret"})
    assert (response.status_code, response.json()) == (500, {"error": "internal"})
    await registry.put("/admin/faults", json={"error_rate": 0, "rate_limit_per_s": 1})
    wrong_key = await registry.post("/v1/nik/verify", json=body, headers={"X-Api-Key": "k"})
    assert wrong_key.status_code == 401  # authentication comes first and spends no token
    statuses = [
        (await registry.post("/v1/nik/verify", json=body, headers={"X-Api-Key": "sekret"}))
        for _ in range(3)
    ]
    assert [r.status_code for r in statuses] == [200, 429, 429]
    assert statuses[1].headers["Retry-After"] == "1"


async def test_sms_is_idempotent_by_client_ref_and_readable(sms: httpx.AsyncClient) -> None:
    auth = {"Authorization": "Bearer dev"}
    message = {"to": "+6281234567890", "text": "Kode 123456", "client_ref": "otp-1"}
    first = await sms.post("/v1/messages", json=message, headers=auth)
    again = await sms.post("/v1/messages", json=message, headers=auth)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() and first.json()["status"] == "queued"
    stored = (await sms.get("/v1/messages", params={"to": "+6281234567890"})).json()["messages"]
    assert [(m["client_ref"], m["text"]) for m in stored] == [("otp-1", "Kode 123456")]
    conflict = {**message, "text": "Kode 999999"}
    assert (await sms.post("/v1/messages", json=conflict, headers=auth)).status_code == 409


async def test_sms_refuses_bad_numbers_long_texts_and_missing_keys(
    sms: httpx.AsyncClient,
) -> None:
    auth = {"Authorization": "Bearer dev"}
    ok = {"to": "+6281234567890", "text": "x", "client_ref": "r"}
    for bad in ({"to": "081234567890"}, {"to": "+14155550100"}, {"text": "x" * 481}):
        response = await sms.post("/v1/messages", json={**ok, **bad}, headers=auth)
        assert response.status_code == 422
    assert (await sms.post("/v1/messages", json=ok)).status_code == 401
    basic = {"Authorization": "Basic abc"}
    assert (await sms.post("/v1/messages", json=ok, headers=basic)).status_code == 401


async def test_sms_keeps_only_the_newest_messages(sms: httpx.AsyncClient) -> None:
    auth = {"Authorization": "Bearer dev"}
    for i in range(5):
        to = "+6281234567890" if i % 2 else "+6285712345678"
        body = {"to": to, "text": f"m{i}", "client_ref": f"r{i}"}
        await sms.post("/v1/messages", json=body, headers=auth)
    everything = (await sms.get("/v1/messages")).json()["messages"]
    assert [m["text"] for m in everything] == ["m2", "m3", "m4"]
    by_ref = (await sms.get("/v1/messages", params={"client_ref": "r3"})).json()["messages"]
    assert [m["text"] for m in by_ref] == ["m3"]
    gone = (await sms.get("/v1/messages", params={"client_ref": "r0"})).json()["messages"]
    assert gone == []
    assert (await sms.delete("/v1/messages")).status_code == 204
    assert (await sms.get("/v1/messages")).json()["messages"] == []


def test_an_inbox_among_100k_messages_holds_only_its_recipients_newest_first_limited() -> None:
    outbox = sms_gateway.Outbox()  # the default capacity, 100,000
    mine = "+6281234567890"
    for i in range(sms_gateway.DEFAULT_CAPACITY + 10):  # the oldest ten go
        to = mine if i % 25_000 == 7 else f"+62857{i:08d}"
        outbox.add(sms_gateway.SendRequest(to=to, text=f"Kode {i:06d}", client_ref=f"r{i}"))
    assert len(outbox) == sms_gateway.DEFAULT_CAPACITY
    theirs = outbox.find(mine, None, 1000)
    # r7 was among the ten evicted; the rest are in the order they arrived.
    assert [m.client_ref for m in theirs] == ["r25007", "r50007", "r75007", "r100007"]
    assert {m.to for m in theirs} == {mine}
    assert [m.client_ref for m in outbox.find(mine, None, 2)] == ["r75007", "r100007"]
    since = outbox.find(mine, None, 1000)[1].received_at
    assert [m.client_ref for m in outbox.find(mine, None, 1000, since)] == [
        "r50007",
        "r75007",
        "r100007",
    ]
    assert outbox.find("+6281111111111", None, 1000) == []
    assert [m.client_ref for m in outbox.find(None, None, 2)] == ["r100008", "r100009"]


async def test_sms_inbox_since_leaves_out_older_texts(sms: httpx.AsyncClient) -> None:
    auth = {"Authorization": "Bearer dev"}
    to = "+6281234567890"
    for i in range(3):
        body = {"to": to, "text": f"Kode 00000{i}", "client_ref": f"s{i}"}
        assert (await sms.post("/v1/messages", json=body, headers=auth)).status_code == 202
    everything = (await sms.get("/v1/messages", params={"to": to})).json()["messages"]
    since = everything[1]["received_at"]  # ISO 8601 with its offset, as the API gives it
    newer = (await sms.get("/v1/messages", params={"to": to, "since": since})).json()
    assert [m["client_ref"] for m in newer["messages"]] == ["s1", "s2"]
    naive = since.replace("Z", "").split("+")[0]  # no offset: read as UTC
    newer = (await sms.get("/v1/messages", params={"to": to, "since": naive})).json()
    assert [m["client_ref"] for m in newer["messages"]] == ["s1", "s2"]
    later = "2999-01-01T00:00:00Z"
    assert (await sms.get("/v1/messages", params={"since": later})).json()["messages"] == []
    by_ref = await sms.get("/v1/messages", params={"client_ref": "s0", "since": since})
    assert by_ref.json()["messages"] == []
    bad = await sms.get("/v1/messages", params={"since": "yesterday"})
    assert bad.status_code == 422
