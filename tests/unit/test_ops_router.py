"""The ops router (gelombang.probes): /healthz, /readyz and /metrics answer alike on every API
and on a worker's probes port, and /readyz names the dependency that keeps a process unready."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import ConnectionError as RedisConnectionError

from gelombang.probes import OPS_PATHS, Checks, probes_app
from gelombang.serving import lifespan_runtime
from services.assisted import api as assisted_api
from services.assisted.app import create_app as assisted_app
from services.registration import api as registration_api
from services.registration.app import create_app as registration_app
from services.selection import api as selection_api
from services.selection.app import create_app as selection_app
from testkit.simulators import civil_registry, sms_gateway
from testkit.simulators.faults import FaultConfig, Faults
from tests.unit.fakes import FakePool

UNUSED: Any = None  # a part of the runtime that readiness does not touch


class Publisher:
    def __init__(self, up: bool) -> None:
        self.up = up

    async def reachable(self) -> bool:
        return self.up


class Redis:
    def __init__(self, up: bool) -> None:
        self.up = up

    async def ping(self) -> bool:
        if not self.up:
            raise RedisConnectionError("Connection refused")
        return True


def dependencies(down: frozenset[str]) -> dict[str, object]:
    """A fake of each dependency a readiness check may ask, by the runtime field that holds it."""
    return {
        "publisher": Publisher("kafka" not in down),
        "redis": Redis("redis" not in down),
        "pool": FakePool("postgres" not in down),
    }


def api(
    create_app: Callable[[], FastAPI], runtime_type: type[Any], runtime: Callable[..., Any]
) -> Callable[[frozenset[str]], FastAPI]:
    """An API whose runtime holds the dependency fakes, with ``down`` refusing, and nothing else."""

    def build(down: frozenset[str]) -> FastAPI:
        app = create_app()
        fakes = dependencies(down)
        rt = runtime_type(**{f.name: fakes.get(f.name, UNUSED) for f in fields(runtime_type)})
        app.dependency_overrides[runtime] = lambda: rt
        return app

    return build


APIS: dict[str, Callable[[frozenset[str]], FastAPI]] = {
    "registration": api(registration_app, registration_api.Runtime, registration_api.runtime),
    "assisted": api(assisted_app, assisted_api.Runtime, lifespan_runtime),
    "selection": api(selection_app, selection_api.Runtime, lifespan_runtime),
}


def worker(checks: Checks) -> FastAPI:
    async def ready() -> Checks:
        return checks

    return probes_app(ready)


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ops")


@pytest.mark.parametrize("name", APIS)
async def test_an_api_answers_its_probes_as_a_worker_does(name: str) -> None:
    async with client(APIS[name](frozenset())) as api:
        ready = await api.get("/readyz")
        assert ready.status_code == 200
        checks = ready.json()["checks"]
        assert checks and all(checks.values())
        async with client(worker(checks)) as probes:
            for path in ("/healthz", "/readyz"):
                mine, theirs = await api.get(path), await probes.get(path)
                assert (mine.status_code, mine.json()) == (theirs.status_code, theirs.json())
            assert (await api.get("/healthz")).json() == {"status": "ok"}
            assert ready.json() == {"status": "ready", "checks": checks}
            for answer in (await api.get("/metrics"), await probes.get("/metrics")):
                assert answer.status_code == 200
                assert answer.headers["content-type"] == CONTENT_TYPE_LATEST
                assert "# TYPE http_requests_total counter" in answer.text


@pytest.mark.parametrize(
    ("name", "down"),
    [
        ("registration", "kafka"),
        ("assisted", "kafka"),
        ("assisted", "postgres"),
        ("selection", "postgres"),
    ],
)
async def test_a_failing_check_makes_an_api_unready_and_is_named(name: str, down: str) -> None:
    async with client(APIS[name](frozenset({down}))) as api:
        ready = await api.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not_ready"
    assert {check for check, up in body["checks"].items() if not up} == {down}


async def test_a_failing_check_makes_a_worker_unready_and_is_named() -> None:
    async with client(worker({"kafka": True, "postgres": False})) as probes:
        ready = await probes.get("/readyz")
        assert (await probes.get("/healthz")).status_code == 200  # alive, only not ready
    assert ready.status_code == 503
    assert ready.json() == {"status": "not_ready", "checks": {"kafka": True, "postgres": False}}


@pytest.mark.parametrize("name", ["registration", "assisted"])
async def test_redis_down_is_reported_but_keeps_intake_ready(name: str) -> None:
    async with client(APIS[name](frozenset({"redis"}))) as api:
        ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["checks"]["redis"] is False


@pytest.mark.parametrize(
    "app",
    [
        *(pytest.param(partial(build, frozenset()), id=name) for name, build in APIS.items()),
        pytest.param(lambda: civil_registry.create_app(Faults(FaultConfig())), id="registry"),
        pytest.param(lambda: sms_gateway.create_app(Faults(FaultConfig())), id="sms"),
    ],
)
async def test_the_probes_are_served_but_not_documented(app: Callable[[], FastAPI]) -> None:
    served = app()
    assert not set(OPS_PATHS) & set(served.openapi()["paths"])
    async with client(served) as ops:
        for path in OPS_PATHS:
            assert (await ops.get(path)).status_code == 200, path
