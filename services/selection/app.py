"""Selection admin API: ``python -m services.selection.app --port 8020``.

Waves (create, close, draw, announce, show), official list imports and training starts, behind
the gateway at /api/v1/admin/ with the admin bearer token. The CLI (``python -m
services.selection``) does the same actions through the same ``Waves`` service.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gelombang.logs import configure_logging, get_logger
from gelombang.metrics import RequestMetricsMiddleware
from gelombang.pii import PiiCipher
from gelombang.postgres import create_pool
from gelombang.serving import serve
from services.selection.api import (
    Runtime,
    State,
    admin_unreadable_body_handler,
    admin_validation_error_handler,
    ops,
    router,
    wave_error_handler,
)
from services.selection.quotas import load_weights
from services.selection.repository import PostgresWaveStore
from services.selection.service import WaveError, Waves
from services.selection.settings import SelectionSettings

log = get_logger(__name__)


def create_app(settings: SelectionSettings | None = None) -> FastAPI:
    settings = settings or SelectionSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        pool = await create_pool(
            settings.database_url, min_size=1, max_size=settings.db_pool_max
        )
        waves = Waves(PostgresWaveStore(pool), settings.default_total_quota, load_weights())
        cipher = PiiCipher(settings.nik_hmac_key_bytes, settings.pii_key_bytes)
        log.info("started")
        try:
            yield {"runtime": Runtime(settings, pool, waves, cipher)}
        finally:
            await pool.close()

    app = FastAPI(
        title="Gelombang selection admin API",
        version="1",
        lifespan=lifespan,
        description="Weekly waves with province quotas and a draw anyone can re-run.",
    )
    app.include_router(router)
    app.include_router(ops)
    app.add_exception_handler(WaveError, wave_error_handler)
    app.add_exception_handler(RequestValidationError, admin_validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, admin_unreadable_body_handler)
    app.add_middleware(RequestMetricsMiddleware, service=settings.service_name)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Gelombang selection admin API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8020)
    args = parser.parse_args()
    settings = SelectionSettings()
    configure_logging(settings.service_name, settings.log_level)
    serve(create_app(settings), host=args.host, port=args.port, settings=settings)


if __name__ == "__main__":
    main()
