"""How an API process serves HTTP: one app shape and one uvicorn configuration for every API.

Written once so that what every API must get right (whom to believe about the client's
address, how long an idle gateway connection stays open, no access log with registration ids
in its paths) cannot differ between services.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Generic, TypedDict, TypeVar

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.requests import Request
from starlette.responses import Response

from gelombang.command_line import command_line
from gelombang.heap import settle_after_startup
from gelombang.logs import get_logger
from gelombang.metrics import ASGIApp, RequestMetricsMiddleware
from gelombang.settings import GATEWAY_KEEP_ALIVE_S, CommonSettings

T = TypeVar("T")
S = TypeVar("S", bound=CommonSettings)

log = get_logger(__name__)


class LifespanState(TypedDict, Generic[T]):
    """What an app's lifespan yields; Starlette hands a copy to every request as
    ``request.state``."""

    runtime: T


def lifespan_runtime(request: Request) -> Any:
    """A dependency, typed where it is used (``Annotated[Runtime, Depends(lifespan_runtime)]``):
    the ``runtime`` the lifespan yielded."""
    return request.state.runtime


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def api_app(
    start: Callable[[FastAPI, AsyncExitStack], Awaitable[Any]],
    *routers: APIRouter,
    settings: CommonSettings,
    title: str,
    description: str,
    handlers: Mapping[type[Exception], ErrorHandler] | None = None,
    inside_metrics: Callable[[FastAPI], None] | None = None,
) -> FastAPI:
    """Every API's app, built one way. Its lifespan runs ``start``, which opens what the
    process needs on one exit stack (closed in reverse order at shutdown, and at once if a
    later step fails) and returns the lifespan state (``LifespanState``; None for none).
    ``inside_metrics`` adds the app's own middleware: the request metrics wrap it, so a
    request it refuses is still counted."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with AsyncExitStack() as stack:
            state = await start(app, stack)
            log.info("started")
            yield state

    app = FastAPI(
        title=title,
        version="1",
        lifespan=lifespan,
        description=description,
        # FastAPI's own OpenTelemetry looks for configured providers on every request (1.6 % of
        # an API process at 1,300 sign-ups/s, py-spy); our metrics are Prometheus's.
        telemetry=NO_TELEMETRY,
    )
    for router in routers:
        app.include_router(router)
    for error, handler in (handlers or {}).items():
        app.add_exception_handler(error, handler)
    if inside_metrics is not None:
        inside_metrics(app)
    app.add_middleware(RequestMetricsMiddleware, service=settings.service_name)
    return app


def server_config(
    app: ASGIApp, *, host: str, port: int, settings: CommonSettings
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,  # paths carry registration ids; RED metrics replace access logs
        log_level="warning",
        # X-Forwarded-For is believed only from these addresses (the gateway): anyone else
        # who sends it gets their own address counted, so a spoofed header changes nothing.
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxy_list,
        timeout_keep_alive=GATEWAY_KEEP_ALIVE_S,
    )


def serve(app: ASGIApp, *, host: str, port: int, settings: CommonSettings) -> None:
    """Run an API process until SIGTERM/SIGINT."""
    server = uvicorn.Server(server_config(app, host=host, port=port, settings=settings))
    # Here, not in a lifespan: only a serving process should freeze its heap, not a test that
    # builds apps over and over. uvicorn imports and starts nothing before run(), so freezing
    # now covers everything the app built.
    settle_after_startup()
    server.run()


def run_api(
    create_app: Callable[[S], ASGIApp],
    settings: Callable[[], S],
    *,
    description: str,
    port: int,
) -> None:
    """An API process's ``main``: its command line, then ``serve`` until a signal stops it."""
    chosen, host, chosen_port = command_line(settings, description=description, port=port)
    serve(create_app(chosen), host=host, port=chosen_port, settings=chosen)
