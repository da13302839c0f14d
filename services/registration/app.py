"""Registration API process: ``python -m services.registration.app --port 8000``."""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI

from gelombang.admission import AdmissionController, AdmissionMiddleware, IntakePace
from gelombang.metrics import ADMISSION_LIMIT
from gelombang.probes import OPS_PATHS
from gelombang.serving import api_app, run_api
from services.registration.api import Runtime, ops, router, sign_up
from services.registration.contract import ERROR_CONTRACT
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


def create_app(settings: RegistrationSettings | None = None) -> FastAPI:
    settings = settings or RegistrationSettings()

    async def start(app: FastAPI, stack: AsyncExitStack) -> None:
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

    def lane_and_admission(app: FastAPI) -> None:
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
        # Inside the metrics middleware: refusals still show up in http_requests_total next
        # to the requests that were served.
        app.add_middleware(
            AdmissionMiddleware,
            controller=admission,
            service=settings.service_name,
            # The challenge is one HMAC to hand out, and a person in the waiting room needs it.
            # So are the waiting room's figures (cached by the gateway: one request a second).
            exempt_paths=(*OPS_PATHS, "/api/v1/challenge", INTAKE_PATH, GATEWAY_REFUSED_PATH),
        )

    return api_app(
        start,
        router,
        ops,
        intake_router,
        settings=settings,
        title="Gelombang registration API",
        description="Sign-ups for the national program. 202 means durable.",
        handlers=ERROR_CONTRACT,
        inside_metrics=lane_and_admission,
    )


def main() -> None:
    run_api(create_app, RegistrationSettings, description="Gelombang registration API", port=8000)


if __name__ == "__main__":
    main()
