"""Assisted-registration API (posko officers): ``python -m services.assisted.app --port 8010``.

A process of its own so that officer traffic is a separate lane: the public admission cap on
the registration API never sheds it, and the gateway gives it its own rate limits.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from gelombang.logs import configure_logging, get_logger
from gelombang.metrics import RequestMetricsMiddleware
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
from services.registration.contract import FIELD_ERRORS, use_error_contract
from services.registration.wiring import open_sign_up_clients, sign_up_collaborators

log = get_logger(__name__)


def create_app(settings: AssistedSettings | None = None) -> FastAPI:
    settings = settings or AssistedSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        async with AsyncExitStack() as stack:
            # Pool min_size=1: officers' keys are in Postgres, nothing here works without it.
            clients = await open_sign_up_clients(stack, settings, pool_min_size=1)
            pool = clients.pool
            deps = AssistedCollaborators(
                # The very collaborators of the public sign-up: dedupe, idempotency and
                # durability are the same code, not a copy.
                registration=sign_up_collaborators(settings, clients),
                submissions=repository.PostgresSubmissionLedger(pool),
                audit=repository.PostgresAuditLog(pool),
            )
            batches = BatchRunner(
                deps,
                repository.PostgresBatchStore(pool, deps.registration.cipher),
                BatchPolicy(
                    concurrency=settings.batch_concurrency,
                    attempts=settings.batch_publish_attempts,
                ),
            )
            # Pushed after the clients, so it runs first: batches stop before what they use.
            stack.push_async_callback(batches.stop)
            for batch_id, officer in await repository.unfinished_batches(pool):
                log.info("batch_resumed", batch_id=str(batch_id))
                batches.start(batch_id, officer)
            log.info("started")
            yield {
                "runtime": Runtime(settings, deps, batches, clients.publisher, clients.redis, pool)
            }

    app = FastAPI(
        title="Gelombang assisted registration API (posko)",
        version="1",
        lifespan=lifespan,
        description="Officers register walk-ins after seeing their ID card. 202 means durable.",
    )
    app.include_router(router, responses=FIELD_ERRORS)
    app.include_router(ops)
    use_error_contract(app)
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
