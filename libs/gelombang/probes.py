"""The ops endpoints of every process: /healthz, /readyz and /metrics, written once.

``ops_router`` is included by every API and simulator; a worker has no HTTP app, so it serves
the same router on a small port of its own (``probes_server``) beside its loops, for Prometheus,
the orchestrator's probes and the stack's status check. Every /readyz answers
``{"status": "ready"|"not_ready", "checks": {name: bool}}`` with 200 or 503.
"""

# No ``from __future__ import annotations`` here: FastAPI evaluates a string annotation in the
# module's globals, where ops_router's ``ready`` (a local) is not.
import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import Annotated

import asyncpg
import redis.asyncio as aioredis
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

#: Each dependency's name and whether it answered.
Checks = dict[str, bool]
#: A worker's checks: what it holds is in its closure.
ReadinessCheck = Callable[[], Awaitable[Checks]]
#: The paths ``ops_router`` serves (admission control and the like must never shed them).
OPS_PATHS = ("/healthz", "/readyz", "/metrics")

#: What "Postgres is not answering" looks like to asyncpg. Besides server errors, timeouts and
#: socket errors: a connection whose server was killed can still look open for a moment (it got
#: the server's FATAL but not yet the close) and then fails with InternalClientError ("another
#: operation is in progress") or InterfaceError; found by `make chaos` killing Postgres, where
#: they were 500s.
POSTGRES_UNAVAILABLE: tuple[type[Exception], ...] = (
    TimeoutError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


async def database_reachable(pool: asyncpg.Pool, timeout_s: float = 1.0) -> bool:
    try:
        await asyncio.wait_for(pool.fetchval("SELECT 1"), timeout=timeout_s)
    except POSTGRES_UNAVAILABLE:
        return False
    return True


async def kafka_reachable(producer: AIOKafkaProducer, timeout_s: float = 2.0) -> bool:
    try:
        return bool(await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout_s))
    except Exception:  # any failure to read metadata means "not reachable"
        return False


async def redis_reachable(client: aioredis.Redis, timeout_s: float = 1.0) -> bool:
    try:
        return bool(await asyncio.wait_for(client.ping(), timeout=timeout_s))
    except (TimeoutError, RedisError, OSError):
        return False


def ops_router(
    ready: Callable[..., Awaitable[Checks]], advisory: Collection[str] = ()
) -> APIRouter:
    """/healthz, /readyz and /metrics, left out of the OpenAPI document.

    ``ready`` is a FastAPI dependency, so an API's check takes what its lifespan opened as
    ``Annotated`` dependencies of its own (and a test overrides those); a worker's takes nothing.
    Checks named in ``advisory`` are reported but do not decide readiness: a dependency the
    process degrades around must not make an orchestrator pull every replica at once.
    """
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @router.get("/readyz")
    async def readyz(checks: Annotated[Checks, Depends(ready)]) -> JSONResponse:
        ok = all(up for name, up in checks.items() if name not in advisory)
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def probes_app(ready: ReadinessCheck) -> FastAPI:
    """A worker's ops port: the ops router and nothing else (no OpenAPI, no docs)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(ops_router(ready))
    return app


def probes_server(ready: ReadinessCheck, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        probes_app(ready), host=host, port=port, log_level="warning", access_log=False
    )
    return uvicorn.Server(config)
