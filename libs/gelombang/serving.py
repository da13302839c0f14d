"""How an API process serves HTTP: one uvicorn configuration for every API.

Written once so that what every API must get right (whom to believe about the client's
address, how long an idle gateway connection stays open, no access log with registration ids
in its paths) cannot differ between services.
"""

from __future__ import annotations

import uvicorn

from gelombang.heap import settle_after_startup
from gelombang.metrics import ASGIApp
from gelombang.settings import GATEWAY_KEEP_ALIVE_S, CommonSettings


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
