"""Registration API process: ``python -m services.registration.app --port 8000``."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from gelombang.admission import AdmissionController, AdmissionMiddleware, IntakePace
from gelombang.logs import configure_logging, get_logger
from gelombang.metrics import ADMISSION_LIMIT, RequestMetricsMiddleware
from gelombang.probes import OPS_PATHS
from gelombang.serving import serve
from services.registration.api import Runtime, ops, router, sign_up
from services.registration.contract import FIELD_ERRORS, use_error_contract
from services.registration.intake import GATEWAY_REFUSED_PATH, INTAKE_PATH
from services.registration.intake import router as intake_router
from services.registration.lane import SignUpLane, sign_up_route
from services.registration.settings import RegistrationSettings
from services.registration.wiring import (
    contact_collaborators,
    open_sign_up_clients,
    sign_up_collaborators,
    sign_up_guard,
    status_link_collaborators,
)

log = get_logger(__name__)


def create_app(settings: RegistrationSettings | None = None) -> FastAPI:
    settings = settings or RegistrationSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # Pool min_size=0: no connection is needed to start; Postgres down degrades status
            # reads and the reservation-conflict check, not intake.
            clients = await open_sign_up_clients(stack, settings, pool_min_size=0)
            deps = sign_up_collaborators(settings, clients)
            contact = contact_collaborators(settings, clients)
            status_link = status_link_collaborators(
                settings=settings,
                cipher=deps.cipher,
                redis=clients.pipelined,
                publisher=deps.publisher,
            )
            app.state.runtime = Runtime(
                settings, deps, contact, clients.publisher, clients.redis, clients.pool, status_link
            )
            app.state.sign_up_guard = sign_up_guard(settings, deps.cipher, clients)
            log.info("started")
            yield

    app = FastAPI(
        title="Gelombang registration API",
        version="1",
        lifespan=lifespan,
        description="Sign-ups for the national program. 202 means durable.",
    )
    app.include_router(router, responses=FIELD_ERRORS)
    app.include_router(ops)
    app.include_router(intake_router)
    use_error_contract(app)
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
