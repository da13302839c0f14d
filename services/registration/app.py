"""Registration API process: ``python -m services.registration.app --port 8000``."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import redis.asyncio as aioredis
import uvicorn
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from tenacity import AsyncRetrying, stop_after_delay, wait_random_exponential

from gelombang.contact import ContactSecrets, OtpStore
from gelombang.kafka import EventPublisher, make_producer
from gelombang.logs import configure_logging, get_logger
from gelombang.metrics import RequestMetricsMiddleware
from gelombang.pii import PiiCipher
from services.registration.api import Runtime, router, validation_error_handler
from services.registration.repository import (
    PostgresClaimLedger,
    RedisIdempotencyStore,
    RedisNikReservations,
    RedisOnceGuard,
    RedisOtpChecker,
)
from services.registration.service import Collaborators, ContactCollaborators
from services.registration.settings import RegistrationSettings

log = get_logger(__name__)


def create_app(settings: RegistrationSettings | None = None) -> FastAPI:
    settings = settings or RegistrationSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = make_producer(settings.kafka_bootstrap, client_id=settings.service_name)
        # Kafka may still be electing a controller when the API starts: retry with jitter
        # instead of crash-looping.
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(60), wait=wait_random_exponential(max=3), reraise=True
        ):
            with attempt:
                await producer.start()
        redis = aioredis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
        )
        # min_size=0: no connection is needed to start; Postgres down degrades the claim
        # lookup and status reads, not intake.
        pool = await asyncpg.create_pool(
            settings.database_url, min_size=0, max_size=settings.db_pool_max
        )
        cipher = PiiCipher(settings.nik_hmac_key_bytes, settings.pii_key_bytes)
        deps = Collaborators(
            cipher=cipher,
            reservations=RedisNikReservations(redis),
            ledger=PostgresClaimLedger(pool, settings.claim_lookup_timeout_s),
            idempotency=RedisIdempotencyStore(redis, settings.idempotency_ttl_s),
            publisher=EventPublisher(producer, timeout_s=settings.produce_timeout_s),
        )
        contact = ContactCollaborators(
            secrets=ContactSecrets(settings.nik_hmac_key_bytes),
            once=RedisOnceGuard(redis),
            otps=RedisOtpChecker(OtpStore(redis)),
            publisher=deps.publisher,
        )
        app.state.runtime = Runtime(settings, deps, contact, producer, redis, pool)
        log.info("started")
        try:
            yield
        finally:
            await producer.stop()
            await redis.aclose()
            await pool.close()

    app = FastAPI(
        title="Gelombang registration API",
        version="1",
        lifespan=lifespan,
        description="Sign-ups for the national program. 202 means durable.",
    )
    app.include_router(router)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_middleware(RequestMetricsMiddleware, service=settings.service_name)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Gelombang registration API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    settings = RegistrationSettings()
    configure_logging(settings.service_name, settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,  # paths carry registration ids; RED metrics replace access logs
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )


if __name__ == "__main__":
    main()
