"""The ops endpoints of a worker process: /healthz, /readyz and /metrics on one small port.

API processes expose these on their own FastAPI app; consumers have no HTTP app, so they run
this one beside their loop so Prometheus and the stack supervisor can see them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


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
