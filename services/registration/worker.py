"""Status projector: builds the applicant read model in Postgres from Kafka.

``python -m services.registration.worker --port 9101``. A consumer group owned by the
registration service; it batches writes (one transaction per poll) and commits offsets only
after the transaction, so a crash replays a batch and the idempotent SQL absorbs it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time

import asyncpg

from gelombang.events import (
    REGISTRATIONS_PROGRESS,
    REGISTRATIONS_REJECTED,
    REGISTRATIONS_SUBMITTED,
    REGISTRATIONS_VERIFIED,
    SELECTION_DECIDED,
    RegistrationProgressed,
    RegistrationRejected,
    RegistrationSubmitted,
    RegistrationVerified,
    SelectionDecided,
)
from gelombang.kafka import ConsumerLoop, Delivered, EventPublisher, make_consumer, make_producer
from gelombang.logs import configure_logging, get_logger
from gelombang.metrics import PROJECTOR_APPLIED, PROJECTOR_BATCH_SECONDS, REGISTRATIONS_BY_STATUS
from gelombang.postgres import create_pool
from gelombang.probes import database_reachable, probes_server
from gelombang.rounds import run_until_stopped
from services.registration import repository
from services.registration.settings import ProjectorSettings

log = get_logger(__name__)

TOPICS = (
    REGISTRATIONS_SUBMITTED,
    REGISTRATIONS_PROGRESS,
    REGISTRATIONS_VERIFIED,
    REGISTRATIONS_REJECTED,
    SELECTION_DECIDED,
)


class Projector:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def handle(self, batch: list[Delivered]) -> None:
        submitted = [d.event for d in batch if isinstance(d.event, RegistrationSubmitted)]
        changes = [c for d in batch if (c := status_change(d)) is not None]
        started = time.perf_counter()
        # Submissions first: a status step in the same batch then finds its registration.
        await repository.apply_submitted(self._pool, submitted)
        await repository.apply_status_changes(self._pool, changes)
        PROJECTOR_BATCH_SECONDS.observe(time.perf_counter() - started)
        for delivered in batch:
            PROJECTOR_APPLIED.labels(delivered.topic).inc()


def status_change(delivered: Delivered) -> repository.StatusChange | None:
    event = delivered.event
    status: str
    reason: str | None
    if isinstance(event, RegistrationProgressed):
        status, reason = event.status, None
    elif isinstance(event, RegistrationVerified):
        status, reason = "verified", None
    elif isinstance(event, RegistrationRejected):
        status, reason = "rejected", event.reason
    elif isinstance(event, SelectionDecided):
        return repository.StatusChange(
            event.event_id,
            event.registration_id,
            event.outcome,
            None,
            event.occurred_at,
            event.wave,
        )
    else:
        return None
    return repository.StatusChange(
        event.event_id, event.registration_id, status, reason, event.occurred_at
    )


# The funnel query reads the whole status index: often enough for a dashboard, rare enough to
# cost nothing next to the projection itself.
FUNNEL_REFRESH_S = 15.0


async def report_funnel(pool: asyncpg.Pool, stop: asyncio.Event) -> None:
    """Export the read model's counts by status and province until stop is set."""
    seen: set[tuple[str, str]] = set()
    while not stop.is_set():
        try:
            counts = await repository.funnel_counts(pool)
        except (asyncpg.PostgresError, OSError) as exc:
            # Stale numbers beat a dead projector: the next round tries again.
            log.warning("funnel_refresh_failed", error=type(exc).__name__)
        else:
            fresh = {(status, province): n for status, province, n in counts}
            # A pair everyone has moved on from must read 0, not its last count.
            for status, province in seen - fresh.keys():
                REGISTRATIONS_BY_STATUS.labels(status, province).set(0)
            for (status, province), n in fresh.items():
                REGISTRATIONS_BY_STATUS.labels(status, province).set(n)
            seen |= fresh.keys()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=FUNNEL_REFRESH_S)


async def run(settings: ProjectorSettings, host: str, port: int) -> None:
    pool = await create_pool(
        settings.database_url, min_size=1, max_size=settings.db_pool_max
    )
    producer = make_producer(settings.kafka_bootstrap, client_id=f"{settings.group_id}-dlq")
    consumer = make_consumer(settings.kafka_bootstrap, settings.group_id, TOPICS)
    await producer.start()
    await consumer.start()
    projector = Projector(pool)
    loop = ConsumerLoop(consumer, settings.group_id, projector.handle, EventPublisher(producer))

    async def ready() -> dict[str, bool]:
        polling = time.monotonic() - loop.last_poll_monotonic < 30
        return {"kafka": polling, "postgres": await database_reachable(pool)}

    server = probes_server(ready, host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)

    consumer_task = asyncio.create_task(loop.run(), name="projector")
    server_task = asyncio.create_task(server.serve(), name="probes")
    funnel_task = asyncio.create_task(report_funnel(pool, stop), name="funnel")
    log.info("projector_started", group=settings.group_id)
    await run_until_stopped((consumer_task, server_task), stop)
    loop.stop()
    server.should_exit = True
    await asyncio.gather(consumer_task, server_task, funnel_task, return_exceptions=True)
    await consumer.stop()
    await producer.stop()
    await pool.close()
    log.info("projector_stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description="Gelombang status projector")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9101)
    args = parser.parse_args()
    settings = ProjectorSettings()
    configure_logging(settings.service_name, settings.log_level)
    asyncio.run(run(settings, args.host, args.port))


if __name__ == "__main__":
    main()
