"""The ops endpoints of a worker process: /healthz, /readyz and /metrics on one small port.

API processes expose these on their own FastAPI app; consumers have no HTTP app, so they run
this one beside their loop so Prometheus and the stack supervisor can see them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import redis.asyncio as aioredis
import uvicorn
from aiokafka import AIOKafkaProducer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]

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


def probes_app(ready: ReadinessCheck) -> Starlette:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        checks = await ready()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
    )


def probes_server(ready: ReadinessCheck, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        probes_app(ready), host=host, port=port, log_level="warning", access_log=False
    )
    return uvicorn.Server(config)
