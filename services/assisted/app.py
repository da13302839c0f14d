"""Assisted-registration API (posko officers): ``python -m services.assisted.app --port 8010``.

A process of its own so that officer traffic is a separate lane: the public admission cap on
the registration API never sheds it, and the gateway gives it its own rate limits.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gelombang.coalesce import PipelinedRedis
from gelombang.logs import configure_logging, get_logger
from gelombang.metrics import RequestMetricsMiddleware
from gelombang.pii import PiiCipher
from gelombang.postgres import create_pool
from gelombang.rdkafka import RdKafkaPublisher
from gelombang.serving import serve
from services.assisted import repository
from services.assisted.api import (
    BatchRunner,
    Refused,
    Runtime,
    State,
    ops,
    refused_handler,
    router,
)
from services.assisted.service import AssistedCollaborators, BatchPolicy
from services.assisted.settings import AssistedSettings
from services.registration.api import unreadable_body_handler, validation_error_handler
from services.registration.schemas import ErrorResponse
from services.registration.wiring import sign_up_collaborators

log = get_logger(__name__)


def create_app(settings: AssistedSettings | None = None) -> FastAPI:
    settings = settings or AssistedSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        publisher = RdKafkaPublisher(
            settings.kafka_bootstrap,
            client_id=settings.service_name,
            auth=settings.kafka_auth,
            timeout_s=settings.produce_timeout_s,
        )
        await publisher.start()
        redis = aioredis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
        )
        pipelined = PipelinedRedis(redis)  # the hot path's commands share round trips
        pool = await create_pool(settings.database_url, min_size=1, max_size=settings.db_pool_max)
        cipher = PiiCipher(settings.nik_hmac_key_bytes, settings.pii_key_bytes)
        # The very collaborators of the public sign-up: dedupe, idempotency and durability are
        # the same code, not a copy.
        registration = sign_up_collaborators(
            cipher=cipher,
            redis=pipelined,
            pool=pool,
            publisher=publisher,
            idempotency_ttl_s=settings.idempotency_ttl_s,
            standing_lookup_timeout_s=settings.standing_lookup_timeout_s,
        )
        deps = AssistedCollaborators(
            registration=registration,
            submissions=repository.PostgresSubmissionLedger(pool),
            audit=repository.PostgresAuditLog(pool),
        )
        batches = BatchRunner(
            deps,
            repository.PostgresBatchStore(pool, cipher),
            BatchPolicy(
                concurrency=settings.batch_concurrency, attempts=settings.batch_publish_attempts
            ),
        )
        for batch_id, officer in await repository.unfinished_batches(pool):
            log.info("batch_resumed", batch_id=str(batch_id))
            batches.start(batch_id, officer)
        log.info("started")
        try:
            yield {"runtime": Runtime(settings, deps, batches, publisher, redis, pool)}
        finally:
            await batches.stop()
            await publisher.stop()
            await redis.aclose()
            await pool.close()

    app = FastAPI(
        title="Gelombang assisted registration API (posko)",
        version="1",
        lifespan=lifespan,
        description="Officers register walk-ins after seeing their ID card. 202 means durable.",
    )
    # Every 422 has our field-level shape, not FastAPI's default: say so in the OpenAPI that
    # clients and the schemathesis suite read.
    app.include_router(
        router, responses={422: {"model": ErrorResponse, "description": "Field-level errors"}}
    )
    app.include_router(ops)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, unreadable_body_handler)
    app.add_exception_handler(Refused, refused_handler)
    app.add_middleware(RequestMetricsMiddleware, service=settings.service_name)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Gelombang assisted registration API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    args = parser.parse_args()
    settings = AssistedSettings()
    configure_logging(settings.service_name, settings.log_level)
    serve(create_app(settings), host=args.host, port=args.port, settings=settings)


if __name__ == "__main__":
    main()
