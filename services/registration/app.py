"""Registration API process: ``python -m services.registration.app --port 8000``."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gelombang.admission import (
    AdmissionController,
    AdmissionMiddleware,
    IntakePace,
    RedisFirstTimes,
    SignUpGuard,
)
from gelombang.coalesce import PipelinedRedis
from gelombang.contact import ContactSecrets, OtpStore
from gelombang.logs import configure_logging, get_logger
from gelombang.metrics import ADMISSION_LIMIT, RequestMetricsMiddleware
from gelombang.pii import PiiCipher
from gelombang.postgres import create_pool
from gelombang.probes import OPS_PATHS
from gelombang.rdkafka import RdKafkaPublisher
from gelombang.serving import serve
from services.registration.api import (
    Runtime,
    ops,
    router,
    sign_up,
    unreadable_body_handler,
    validation_error_handler,
)
from services.registration.intake import GATEWAY_REFUSED_PATH, INTAKE_PATH
from services.registration.intake import router as intake_router
from services.registration.lane import SignUpLane, sign_up_route
from services.registration.repository import (
    RedisOnceGuard,
    RedisOtpChecker,
)
from services.registration.schemas import ErrorResponse
from services.registration.service import ContactCollaborators
from services.registration.settings import RegistrationSettings
from services.registration.wiring import sign_up_collaborators, status_link_collaborators

log = get_logger(__name__)


def create_app(settings: RegistrationSettings | None = None) -> FastAPI:
    settings = settings or RegistrationSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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
        # min_size=0: no connection is needed to start; Postgres down degrades status reads
        # and the reservation-conflict check, not intake.
        pool = await create_pool(settings.database_url, min_size=0, max_size=settings.db_pool_max)
        cipher = PiiCipher(settings.nik_hmac_key_bytes, settings.pii_key_bytes)
        deps = sign_up_collaborators(
            cipher=cipher,
            redis=pipelined,
            pool=pool,
            publisher=publisher,
            idempotency_ttl_s=settings.idempotency_ttl_s,
            standing_lookup_timeout_s=settings.standing_lookup_timeout_s,
        )
        contact = ContactCollaborators(
            secrets=ContactSecrets(settings.nik_hmac_key_bytes),
            once=RedisOnceGuard(redis),
            otps=RedisOtpChecker(OtpStore(redis)),
            publisher=deps.publisher,
        )
        status_link = status_link_collaborators(
            settings=settings, cipher=cipher, redis=pipelined, publisher=deps.publisher
        )
        app.state.runtime = Runtime(settings, deps, contact, publisher, redis, pool, status_link)
        app.state.sign_up_guard = SignUpGuard(
            seen=RedisFirstTimes(pipelined),
            service=settings.service_name,
            pow_hmac_key=cipher.keyed_digest("gelombang/altcha/v1"),
            pow_max_number=settings.pow_max_number,
            pow_ttl_s=settings.pow_ttl_s,
            ip_limit=settings.signup_ip_limit,
            ip_window_s=settings.signup_ip_window_s,
            nik_limit=settings.signup_nik_limit,
            nik_window_s=settings.signup_nik_window_s,
            ip_exempt=settings.signup_ip_exempt_cidrs.split(","),
        )
        log.info("started")
        try:
            yield
        finally:
            await publisher.stop()
            await redis.aclose()
            await pool.close()

    app = FastAPI(
        title="Gelombang registration API",
        version="1",
        lifespan=lifespan,
        description="Sign-ups for the national program. 202 means durable.",
    )
    # Every 422 has our field-level shape, not FastAPI's default: say so in the OpenAPI that
    # clients and the schemathesis suite read.
    app.include_router(
        router, responses={422: {"model": ErrorResponse, "description": "Field-level errors"}}
    )
    app.include_router(ops)
    app.include_router(intake_router)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, unreadable_body_handler)
    # Added first, so it runs innermost: admission and metrics see both of its paths.
    app.add_middleware(
        SignUpLane,
        handle=lambda payload, call: sign_up(app.state, payload, call),
        route=sign_up_route(app),
    )
    admission = AdmissionController(
        max_in_flight=settings.admission_max_in_flight,
        rate_per_s=settings.admission_rate_per_s,
        burst=settings.admission_burst,
        max_retry_after_s=settings.admission_max_retry_after_s,
        min_in_flight=settings.admission_min_in_flight,
        target_latency_s=settings.admission_target_latency_ms / 1000 or None,
    )
    ADMISSION_LIMIT.labels(settings.service_name).set_function(lambda: admission.limit)
    app.state.admission = admission
    app.state.intake_pace = IntakePace()
    app.state.intake_service = settings.service_name
    # Added before the metrics middleware so it runs inside it: refusals still show up in
    # http_requests_total next to the requests that were served.
    app.add_middleware(
        AdmissionMiddleware,
        controller=admission,
        service=settings.service_name,
        # The challenge is one HMAC to hand out, and a person in the waiting room needs it.
        # So are the waiting room's figures (cached by the gateway: one request a second).
        exempt_paths=(*OPS_PATHS, "/api/v1/challenge", INTAKE_PATH, GATEWAY_REFUSED_PATH),
    )
    app.add_middleware(RequestMetricsMiddleware, service=settings.service_name)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Gelombang registration API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    settings = RegistrationSettings()
    configure_logging(settings.service_name, settings.log_level)
    serve(create_app(settings), host=args.host, port=args.port, settings=settings)


if __name__ == "__main__":
    main()
