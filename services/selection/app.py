"""Selection admin API: ``python -m services.selection.app --port 8020``.

Waves (create, close, draw, announce, show), official list imports and training starts, behind
the gateway at /api/v1/admin/ with the admin bearer token. The CLI (``python -m
services.selection``) does the same actions through the same ``Waves`` service.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gelombang.pii import PiiCipher
from gelombang.postgres import create_pool
from gelombang.serving import api_app, run_api
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


def create_app(settings: SelectionSettings | None = None) -> FastAPI:
    settings = settings or SelectionSettings()

    async def start(app: FastAPI, stack: AsyncExitStack) -> State:
        pool = await create_pool(
            settings.database_url, min_size=1, max_size=settings.db_pool_max
        )
        stack.push_async_callback(pool.close)
        waves = Waves(PostgresWaveStore(pool), settings.default_total_quota, load_weights())
        cipher = PiiCipher(settings.nik_hmac_key_bytes, settings.pii_key_bytes)
        return {"runtime": Runtime(settings, pool, waves, cipher)}

    return api_app(
        start,
        router,
        ops,
        settings=settings,
        title="Gelombang selection admin API",
        description="Weekly waves with province quotas and a draw anyone can re-run.",
        handlers={
            WaveError: wave_error_handler,
            RequestValidationError: admin_validation_error_handler,
            StarletteHTTPException: admin_unreadable_body_handler,
        },
    )


def main() -> None:
    run_api(create_app, SelectionSettings, description="Gelombang selection admin API", port=8020)


if __name__ == "__main__":
    main()
