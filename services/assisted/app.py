"""Assisted-registration API (posko officers): ``python -m services.assisted.app --port 8010``.

A process of its own so that officer traffic is a separate lane: the public admission cap on
the registration API never sheds it, and the gateway gives it its own rate limits.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI

from gelombang.logs import get_logger
from gelombang.serving import api_app, run_api
from services.assisted import repository
from services.assisted.api import (
    BatchRunner,
    Runtime,
    State,
    ops,
    router,
)
from services.assisted.service import AssistedCollaborators, BatchPolicy
from services.assisted.settings import AssistedSettings
from services.registration.contract import ERROR_CONTRACT
from services.registration.wiring import open_sign_up_clients, sign_up_collaborators

log = get_logger(__name__)


def create_app(settings: AssistedSettings | None = None) -> FastAPI:
    settings = settings or AssistedSettings()

    async def start(app: FastAPI, stack: AsyncExitStack) -> State:
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
        return {"runtime": Runtime(settings, deps, batches, clients.publisher, clients.redis, pool)}

    return api_app(
        start,
        router,
        ops,
        settings=settings,
        title="Gelombang assisted registration API (posko)",
        description="Officers register walk-ins after seeing their ID card. 202 means durable.",
        handlers=ERROR_CONTRACT,
    )


def main() -> None:
    run_api(
        create_app, AssistedSettings, description="Gelombang assisted registration API", port=8010
    )


if __name__ == "__main__":
    main()
