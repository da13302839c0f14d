"""Status projector and decider: builds the applicant read model in Postgres from Kafka.

``python -m services.registration.worker --port 9101``. A consumer group owned by the
registration service. It is also the one place that decides "one NIK, one registration": it
owns the NIK claims, reads every attempt of a NIK in its partition's order, and stores each
verdict with its read-model row and its ``registrations.accepted`` event (outbox) in one
transaction (``services.registration.decisions``). Offsets are committed only after that, so a
crash replays a batch and the stored verdicts absorb it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gelombang.events import (
    REGISTRATIONS_PROGRESS,
    REGISTRATIONS_REJECTED,
    REGISTRATIONS_SUBMITTED,
    REGISTRATIONS_VERIFIED,
    SELECTION_DECIDED,
    NikReleased,
    RegistrationProgressed,
    RegistrationRejected,
    RegistrationSubmitted,
    RegistrationVerified,
    SelectionDecided,
)
from gelombang.kafka import Delivered, EventPublisher
from gelombang.logs import get_logger
from gelombang.metrics import (
    DECIDER_HINT_ERRORS,
    DECIDER_RELEASES,
    DECIDER_VERDICTS,
    PROJECTOR_APPLIED,
    PROJECTOR_BATCH_SECONDS,
    REGISTRATION_OUTBOX_PENDING,
    REGISTRATIONS_BY_STATUS,
)
from gelombang.process import WorkerShell, consumer_ready, run_worker
from services.registration import fast_path, repository
from services.registration.decisions import Decisions
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
    """``hints`` is None when rebuilding from the log (``replay``): Redis is the live edge's."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        hints: fast_path.RedisNikHints | None = None,
        wake_outbox: asyncio.Event | None = None,
    ) -> None:
        self._pool = pool
        self._hints = hints
        self._wake_outbox = wake_outbox

    async def handle(self, batch: list[Delivered]) -> None:
        attempts = [
            d.event for d in batch if isinstance(d.event, (RegistrationSubmitted, NikReleased))
        ]
        changes = [c for d in batch if (c := status_change(d)) is not None]
        started = time.perf_counter()
        # Decisions first: a status step in the same batch then finds its registration.
        decided = await repository.decide_submissions(self._pool, attempts)
        releases = await repository.apply_status_changes(self._pool, changes)
        PROJECTOR_BATCH_SECONDS.observe(time.perf_counter() - started)
        await self._write_hints(decided, releases)
        DECIDER_VERDICTS.labels("accepted").inc(len(decided.accepted))
        DECIDER_VERDICTS.labels("duplicate").inc(len(decided.duplicates))
        DECIDER_RELEASES.inc(len(decided.released))
        if (decided.accepted or releases) and self._wake_outbox is not None:
            self._wake_outbox.set()
        for delivered in batch:
            PROJECTOR_APPLIED.labels(delivered.topic).inc()

    async def _write_hints(self, decided: Decisions, releasing: list[NikReleased]) -> None:
        if self._hints is None or not (decided.claims or releasing):
            return
        try:
            await self._hints.write(decided, releasing)
        except (TimeoutError, RedisError, OSError) as exc:
            # The verdicts are stored; a cold hint only means a repeat reaches the log and is
            # refused there instead of at the edge.
            DECIDER_HINT_ERRORS.inc()
            log.warning("hint_write_failed", error=type(exc).__name__)

    async def outbox_round(self, publisher: EventPublisher, limit: int) -> int:
        return await repository.OUTBOX.relay(self._pool, publisher, limit)

    async def gauges_round(self) -> int:
        REGISTRATION_OUTBOX_PENDING.set(await repository.OUTBOX.backlog(self._pool))
        return 0


def status_change(delivered: Delivered) -> repository.StatusChange | None:
    event = delivered.event
    status: str
    reason: str | None
    contact_pii: str | None = None
    if isinstance(event, RegistrationProgressed):
        status, reason, contact_pii = event.status, None, event.contact
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
        event.event_id, event.registration_id, status, reason, event.occurred_at, None, contact_pii
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
    async with WorkerShell("projector") as shell:
        pool = await shell.pool(settings.database_url, max_size=settings.db_pool_max)
        redis = aioredis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
        )
        shell.on_close(redis.aclose)
        publisher = await shell.publisher(settings, client_id=settings.group_id)
        wake_outbox = asyncio.Event()
        projector = Projector(pool, fast_path.RedisNikHints(redis), wake_outbox)
        loop = await shell.consume_topics(settings, TOPICS, projector.handle, publisher)

        async def relay() -> int:
            return await projector.outbox_round(publisher, settings.outbox_batch)

        shell.task("funnel", report_funnel(pool, shell.stop))
        shell.every("outbox", relay, 0.5, wake_outbox)
        shell.every("gauges", projector.gauges_round, 15.0)
        await shell.serve(consumer_ready(loop, pool), host, port)


def main() -> None:
    run_worker(run, ProjectorSettings, description="Gelombang status projector", port=9101)


if __name__ == "__main__":
    main()
